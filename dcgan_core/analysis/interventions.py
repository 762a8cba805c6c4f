"""Switch G's units off or on, everywhere or in a region, and measure what changes (GANPaint, Bau et al. 2019).

Two edits of one hidden layer's units, both `features.run_with_maps` underneath:
  * remove: the units set to 0 (everywhere: ablation, as the paper drops its window maps; in a
    region: erase there);
  * insert: the units set to a high value inside a region only, painting an object where there was
    none: `strength` x the unit's mean value over the class's pixels (`insert_levels`; GANPaint
    also sets units to a class-conditional level). On the rooms model, the top 20 window units of
    layer 1 at strength 3 paint a window into 75% of wall patches, 20 random units into 2%
    (docs/dissection.md has the grid of k and strength tried).

Which units: the top units of a class from `dissection.dissect`. Every figure is set against
the same edit with as many randomly chosen units of the same layer, so an effect that any k
units would have is not credited to the dissection. Measured with the segmenter, which sees
generated rooms per pixel; an object "is there" when it covers at least MIN_PIXELS pixels.

    from dcgan_core.analysis.interventions import paint, measure_insertion

    images = paint(g, z, layer=1, units=d.top_units("window", 1, k=20), region=box, mode="insert",
                   on_level=insert_levels(d, "window", 1), strength=3)
    result = measure_insertion(g, segmenter, d, "window", layer=1, k=20, n=300)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..features import check_layer, check_maps, run_with_maps
from ..images import to_uint8
from ..latent import sample_z
from ..models import Generator
from .dissection import Dissection
from .instruments import Segmenter, segment

MODES = ("insert", "remove")
MIN_PIXELS = 8  # an object is present when the segmenter gives it at least this many pixels (0.2% of 64 x 64)
FOUND_SHARE = 0.1  # an insertion succeeded when the class covers at least this share of the region
REGION_PX = 16  # side of the square regions the insertion benchmark paints, at 64 px
SURFACE_SHARE = 0.75  # ... placed where at least this share is the surface class (a wall) and none the target
MEASURE_SEED = 11
RANDOM_DRAWS = 5
DEFAULT_UNITS = 20
DEFAULT_STRENGTH = 3.0


def layer_mask(region: np.ndarray | torch.Tensor, layer_size: int) -> torch.Tensor:
    """bool (h, h) or (N, h, h): the layer's cells at least half covered by the image-size region (S, S) or (N, S, S).

    A region smaller than half a cell still marks the cell it covers most, so a small stroke is never a no-op.
    """
    r = torch.as_tensor(np.asarray(region, dtype=np.float32))
    single = r.dim() == 2
    r = r[None] if single else r
    if r.dim() != 3 or r.shape[-1] != r.shape[-2] or r.shape[-1] % layer_size:
        raise ValueError(f"a region must be a square (S, S) or (N, S, S) mask with S a multiple of {layer_size}; "
                         f"got {tuple(r.shape)}")
    cover = F.adaptive_avg_pool2d(r[:, None], layer_size)[:, 0]  # (N, h, h) share of each cell covered
    mask = cover >= 0.5
    for i in range(mask.shape[0]):
        if not mask[i].any() and cover[i].max() > 0:
            mask[i] = cover[i] == cover[i].max()
    return mask[0] if single else mask


@torch.no_grad()
def paint(
    generator: Generator,
    z: torch.Tensor,
    layer: int,
    units: Sequence[int] | np.ndarray | torch.Tensor,
    region: np.ndarray | torch.Tensor | None = None,
    mode: str = "insert",
    on_level: np.ndarray | None = None,
    strength: float = DEFAULT_STRENGTH,
) -> torch.Tensor:
    """G's pictures (N, C, S, S) in [-1, 1] with `units` of `layer` removed or inserted inside `region`.

    region: bool (S, S) or (N, S, S) at the image size; None is everywhere (insertion everywhere is allowed
        but rarely meant). mode "remove" sets the units to 0; "insert" to strength x their `on_level`,
        one value per unit of the layer (`insert_levels(dissection, class_name, layer)`).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")
    layer = check_layer(generator, layer)
    idx = check_maps(generator, layer, units)
    mask = None if region is None else layer_mask(region, generator.feature_sizes[layer])
    if mode == "remove":
        value: float | torch.Tensor = 0.0
    else:
        if on_level is None or len(on_level) != generator.feature_channels[layer]:
            raise ValueError(f"insert needs on_level, one value per unit of layer {layer} "
                             f"({generator.feature_channels[layer]}), from the layer's dissection")
        value = torch.as_tensor(np.asarray(on_level, dtype=np.float32))[idx] * float(strength)
    return run_with_maps(generator, z.to(next(generator.parameters()).device), layer, idx, mask=mask, value=value)


def insert_levels(dissection: Dissection, class_name: str, layer: int) -> np.ndarray:
    """float32 (units,): each unit's mean value over the pixels of `class_name`, what insertion scales by strength."""
    return dissection.layer(layer).class_mean[:, dissection.class_index(class_name)]


def random_units(n_units: int, k: int, seed: int) -> np.ndarray:
    """k distinct units of a layer of n_units, drawn with `seed` (the control of every figure here)."""
    return np.sort(np.random.default_rng(seed).choice(n_units, size=min(k, n_units), replace=False))


# ----------------------------------------------------------------------------- removal


@dataclass
class RemovalOutcome:
    units: list[int]
    removed: float | None  # share of pictures that had the class and lost it
    pixels_left: float | None  # class pixels after / before, over those pictures
    pixel_change: float  # mean |after - before| over all pixels, 0-255


@dataclass
class RemovalResult:
    class_name: str
    layer: int
    n: int
    n_with_class: int
    top: RemovalOutcome
    random: RemovalOutcome  # mean over RANDOM_DRAWS draws
    random_each: list[float | None]


def _pixels(labels: np.ndarray, c: int) -> np.ndarray:
    return (labels == c).reshape(labels.shape[0], -1).sum(1)


def _removal(generator, segmenter, z, layer, units, c, before_px, before_img) -> RemovalOutcome:
    after = paint(generator, z, layer, units, mode="remove")
    px = _pixels(segment(segmenter, after.float().cpu()), c)
    had = before_px >= MIN_PIXELS
    change = float(np.abs(to_uint8(after).astype(np.int16) - before_img).mean())
    if not had.any():
        return RemovalOutcome([int(u) for u in units], None, None, change)
    return RemovalOutcome(
        [int(u) for u in units], float((px[had] < MIN_PIXELS).mean()), float(px[had].sum() / before_px[had].sum()), change
    )


@torch.no_grad()
def measure_removal(
    generator: Generator, segmenter: Segmenter, units: Sequence[int] | np.ndarray, class_name: str, layer: int,
    n: int = 300, seed: int = MEASURE_SEED, random_draws: int = RANDOM_DRAWS,
) -> RemovalResult:
    """Drop `units` of `layer` everywhere on n samples: how often does the class disappear, against random units."""
    c = _class_index(segmenter, class_name)
    layer = check_layer(generator, layer)
    z = sample_z(n, generator.config, seed=seed)
    before = generator(z.to(next(generator.parameters()).device))
    before_img = to_uint8(before).astype(np.int16)
    before_px = _pixels(segment(segmenter, before.float().cpu()), c)
    units = np.asarray(units, dtype=np.int64)
    top = _removal(generator, segmenter, z, layer, units, c, before_px, before_img)
    randoms = [
        _removal(generator, segmenter, z, layer, random_units(generator.feature_channels[layer], len(units), seed + 1 + d),
                 c, before_px, before_img)
        for d in range(random_draws)
    ]
    return RemovalResult(
        class_name, layer, n, int((before_px >= MIN_PIXELS).sum()), top,
        RemovalOutcome([], _mean([r.removed for r in randoms]), _mean([r.pixels_left for r in randoms]),
                       float(np.mean([r.pixel_change for r in randoms]))),
        [r.removed for r in randoms],
    )


# ----------------------------------------------------------------------------- insertion


@dataclass
class InsertionOutcome:
    success: float  # share of tries where the class covers >= FOUND_SHARE of the region
    class_share_inside: float  # mean share of the region the class covers after
    change_inside: float  # mean |after - before| per pixel inside the region, 0-255
    change_outside: float  # ... outside it

    @property
    def locality(self) -> float:
        """Change outside / change inside: 0 is a perfectly local edit, 1 changes everything alike."""
        return self.change_outside / self.change_inside if self.change_inside > 0 else float("nan")


@dataclass
class InsertionResult:
    class_name: str
    layer: int
    units: list[int]
    strength: float
    tries: int  # pictures with a free patch of surface
    n: int
    top: InsertionOutcome
    random: InsertionOutcome  # pooled over RANDOM_DRAWS draws
    random_each: list[float]

    def as_dict(self) -> dict:
        out = asdict(self)
        out["top"]["locality"] = self.top.locality
        out["random"]["locality"] = self.random.locality
        return out


def surface_regions(
    labels: np.ndarray, surface: int, avoid: int, layer_size: int, region_px: int = REGION_PX,
    min_share: float = SURFACE_SHARE,
) -> tuple[np.ndarray, np.ndarray]:
    """For each picture the square of `region_px` aligned to the layer's cells that holds the most of `surface` and
    none of `avoid`. Returns (indices of pictures that have one with >= min_share surface, bool (M, S, S) regions)."""
    n, size, _ = labels.shape
    cell = size // layer_size
    step = max(cell, 1)
    if region_px % step or region_px > size:
        raise ValueError(f"region_px must be a multiple of the layer's cell ({step} px) and at most {size}")
    surf = torch.from_numpy((labels == surface).astype(np.float32))[:, None]
    bad = torch.from_numpy((labels == avoid).astype(np.float32))[:, None]
    share = F.avg_pool2d(surf, region_px, stride=step)[:, 0]  # (N, P, P) surface share of each placement
    blocked = F.avg_pool2d(bad, region_px, stride=step)[:, 0] > 0
    share = share.masked_fill(blocked, -1).reshape(n, -1)
    best, where = share.max(1)
    per_row = (size - region_px) // step + 1
    keep = np.nonzero(best.numpy() >= min_share)[0]
    regions = np.zeros((len(keep), size, size), dtype=bool)
    for j, i in enumerate(keep):
        r, c = divmod(int(where[i]), per_row)
        regions[j, r * step : r * step + region_px, c * step : c * step + region_px] = True
    return keep, regions


def _insertion(generator, segmenter, z, layer, units, regions, on_level, strength, c, before_img) -> tuple[InsertionOutcome, np.ndarray]:
    after = paint(generator, z, layer, units, region=regions, mode="insert", on_level=on_level, strength=strength)
    labels = segment(segmenter, after.float().cpu())
    area = regions.reshape(len(regions), -1).sum(1)
    inside_class = ((labels == c) & regions).reshape(len(regions), -1).sum(1) / area
    diff = np.abs(to_uint8(after).astype(np.int16) - before_img).mean(-1)  # (M, S, S) over channels
    inside = float(diff[regions].mean())
    outside = float(diff[~regions].mean())
    found = inside_class >= FOUND_SHARE
    return InsertionOutcome(float(found.mean()), float(inside_class.mean()), inside, outside), found


@torch.no_grad()
def measure_insertion(
    generator: Generator, segmenter: Segmenter, dissection: Dissection, class_name: str, layer: int,
    k: int = DEFAULT_UNITS, n: int = 300, seed: int = MEASURE_SEED, surface: str = "wall", region_px: int = REGION_PX,
    strength: float = DEFAULT_STRENGTH, random_draws: int = RANDOM_DRAWS, units: Sequence[int] | None = None,
) -> InsertionResult:
    """Paint class `class_name` with the top-k units of `layer` into a patch of `surface` in each of n samples.

    Tries are the samples that have a region_px square of at least SURFACE_SHARE surface and no pixel of the
    class already (so a success is a new object, not one that was there).
    """
    c = _class_index(segmenter, class_name)
    s = _class_index(segmenter, surface)
    layer = check_layer(generator, layer)
    on_level = insert_levels(dissection, class_name, layer)
    chosen = np.asarray(dissection.top_units(class_name, layer, k) if units is None else units, dtype=np.int64)
    z = sample_z(n, generator.config, seed=seed)
    before = generator(z.to(next(generator.parameters()).device))
    keep, regions = surface_regions(segment(segmenter, before.float().cpu()), s, c, generator.feature_sizes[layer], region_px)
    if not len(keep):
        raise ValueError(f"none of the {n} samples has a {region_px}-px patch of {surface} free of {class_name}")
    z, before_img = z[keep], to_uint8(before[keep]).astype(np.int16)
    top, _ = _insertion(generator, segmenter, z, layer, chosen, regions, on_level, strength, c, before_img)
    randoms = [
        _insertion(generator, segmenter, z, layer, random_units(generator.feature_channels[layer], len(chosen), seed + 1 + d),
                   regions, on_level, strength, c, before_img)[0]
        for d in range(random_draws)
    ]
    pooled = InsertionOutcome(*(float(np.mean([getattr(r, f) for r in randoms]))
                                for f in ("success", "class_share_inside", "change_inside", "change_outside")))
    return InsertionResult(class_name, layer, [int(u) for u in chosen], strength, len(keep), n, top, pooled,
                           [r.success for r in randoms])


def _class_index(segmenter: Segmenter, name: str) -> int:
    if name not in segmenter.classes:
        raise ValueError(f"unknown class {name!r}; the segmenter knows {', '.join(segmenter.classes)}")
    return segmenter.classes.index(name)


def _mean(values: Sequence[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None
