"""What D's units respond to: strongest responses, top images, selectivity, and where guided backprop looks.

A "unit" is one feature map of one hidden layer of the discriminator. Its response to
an image is the map's maximum over positions (the paper's Fig. 5 shows "maximal
axis-aligned responses"). Over a pool of images that gives an (images x units) table:

    resp = max_responses(d, pool, layer=-1)       # float32 (N, C)
    order = rank_units(resp)                      # most selective unit first
    best = top_images(resp, unit=order[0], k=6)   # pool indices, strongest first

Selectivity (`selectivity`): how far the unit's top 1% of images lift it above its usual
response, in standard deviations over the pool: (mean of the top 1% - mean) / std. A unit
that answers every image alike scores low, one that fires for a few images (an object
detector) scores high; the score does not depend on the unit's scale, and works for the
negative responses LeakyReLU allows (a ratio of means would not). Dead units score 0.

Does a unit look at objects? (`compare_object_energy`; the check of issue 6)
---------------------------------------------------------------------------
On procedural rooms, whose object boxes we know, take the top units of D's last conv
layer, each unit's top-k images of a pool of rooms never trained on, and each image's
guided-backprop map for that unit. The measure is the share of the map's energy
(squared gradient, summed over channels) that falls inside the ground-truth boxes of
chosen objects (bed and window, as in the paper's Fig. 5). A map spread evenly would
score the boxes' area share, so that is reported beside it. The same procedure runs on
randomly initialised Ds with the same architecture (BatchNorm statistics from the same
pool, see `random_discriminator`), each picking its own top units and images; one random
D's figure swings with its seed, so three seeds are measured and averaged.

Which units are "top" (`SELECTIONS`):
- "objects" (the default): the units that overlap the chosen objects most, as Network
  Dissection (Bau et al. 2017) finds object detectors: a unit is "on" where its map exceeds
  its top 0.5% over a *selection* pool of other rooms, and its score is the IoU of that
  region with the objects' boxes (pooled to the map's grid) over the pool. Units are picked
  on one set of rooms and measured on another, so the pick cannot fit the measurement.
- "selectivity": the units whose top images stand out most (`selectivity`), whatever they show.

    dcgan units measure --model rooms --n 1000 --units 8 --k 8 [--select selectivity]
"""

from __future__ import annotations

import inspect
import io
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from ..checkpoints import LoadedModel
from ..data.readers import MAX_IMAGE_PIXELS, center_crop_resize
from ..data.rooms import OBJECT_NAMES, RoomsDataset
from ..features import check_layer, layer_maps
from ..models import Discriminator
from .guided_backprop import as_model_input, energy, guided_backprop, model_device, random_discriminator

TOP_FRACTION = 0.01  # selectivity compares the top 1% of images with the whole pool
MEASURE_SEED = 20_002  # data set seed of the rooms pool of the object-energy measurement (GANs train on seed 0)
SELECT_SEED = 30_003  # data set seed of the rooms that pick units by object overlap (neither trained nor measured on)
DISSECT_QUANTILE = 0.995  # a unit is "on" above its top 0.5% of map values (Network Dissection's threshold)
SELECTIONS = ("objects", "selectivity")  # how the measured units are picked (module docstring)
MEASURE_OBJECTS = ("bed", "window")  # the objects the paper's Fig. 5 finds in D's features
RANDOM_D_SEED = 0  # weights of the untrained baseline D (the pages show this one)
RANDOM_D_SEEDS = (0, 1, 2)  # the measurement averages random Ds of these seeds
MAX_UPLOAD_BYTES = 20 * 2**20  # larger files are refused before decoding
MAX_UPLOAD_PIXELS = MAX_IMAGE_PIXELS  # and so are pictures with more pixels (decompression bombs); the training bound too
UPLOAD_TYPES = ("png", "jpg", "jpeg", "webp", "bmp", "gif")

Progress = Callable[[int, int], None]


# ----------------------------------------------------------------------------- responses


@torch.no_grad()
def max_responses(
    discriminator: Discriminator,
    images: np.ndarray | torch.Tensor,
    layer: int,
    batch_size: int = 128,
    progress: Progress | None = None,
) -> np.ndarray:
    """Each unit's strongest response to each image: float32 (N, C_layer), max over positions.

    Images: uint8 (N, C, H, W) or float (N, C, H, W) in [-1, 1]; D in eval mode, not modified.
    """
    if discriminator.training:
        raise ValueError("max_responses needs D in eval mode (call .eval())")
    layer = check_layer(discriminator, layer)
    device = model_device(discriminator)
    n = len(images)
    out = np.empty((n, discriminator.feature_channels[layer]), dtype=np.float32)
    for start in range(0, n, batch_size):
        x = as_model_input(images[start : start + batch_size], device)
        out[start : start + x.shape[0]] = layer_maps(discriminator, x, layer).flatten(2).amax(2).float().cpu().numpy()
        if progress is not None:
            progress(min(start + batch_size, n), n)
    return out


def selectivity(responses: np.ndarray, top_fraction: float = TOP_FRACTION) -> np.ndarray:
    """Per unit, (mean of its top `top_fraction` responses - mean) / std over the pool: float64 (C,).

    At least one image counts as "top", so small pools compare the best image with the rest.
    """
    r = np.asarray(responses, dtype=np.float64)
    if r.ndim != 2 or r.shape[0] < 2:
        raise ValueError(f"selectivity needs responses of at least 2 images as (N, C), got shape {r.shape}")
    k = max(1, math.ceil(top_fraction * r.shape[0]))
    top = -np.sort(-r, axis=0)[:k].mean(0)
    mean, std = r.mean(0), r.std(0)
    return np.where(std > 1e-12, (top - mean) / np.maximum(std, 1e-12), 0.0)


def rank_units(responses: np.ndarray, top_fraction: float = TOP_FRACTION) -> np.ndarray:
    """Units ordered from the most to the least selective (ties by index): int64 (C,)."""
    return np.argsort(-selectivity(responses, top_fraction), kind="stable")


def top_images(responses: np.ndarray, unit: int, k: int) -> np.ndarray:
    """Indices of the k images with the strongest response of `unit`, strongest first (ties by index)."""
    return np.argsort(-np.asarray(responses)[:, unit], kind="stable")[:k]


def relative_responses(responses: np.ndarray, pool_responses: np.ndarray) -> np.ndarray:
    """Responses (..., C) in standard deviations above each unit's mean over a pool: how unusually strongly a unit fires."""
    pool = np.asarray(pool_responses, dtype=np.float64)
    std = pool.std(0)
    return (np.asarray(responses, dtype=np.float64) - pool.mean(0)) / np.maximum(std, 1e-12)


# ----------------------------------------------------------------------------- uploads


def load_uploaded_image(data: bytes, image_size: int, channels: int = 3, max_bytes: int = MAX_UPLOAD_BYTES) -> np.ndarray:
    """An uploaded picture, checked, centre-cropped to a square and resized: uint8 (H, W, C).

    Raises ValueError with a message for people when the file is empty, too big, or not a
    picture PIL can read.
    """
    if not data:
        raise ValueError("the file is empty")
    if len(data) > max_bytes:
        raise ValueError(f"the file is {len(data) / 2**20:.1f} MiB; pictures up to {max_bytes / 2**20:.0f} MiB are accepted")
    try:
        with Image.open(io.BytesIO(data)) as image:
            w, h = image.size
            if w * h > MAX_UPLOAD_PIXELS:
                raise ValueError(f"the picture is {w}x{h} pixels; at most {MAX_UPLOAD_PIXELS // 1_000_000} megapixels are accepted")
            image.load()
            return center_crop_resize(image, image_size, channels)
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as e:
        kinds = ", ".join(t.upper() for t in UPLOAD_TYPES)
        raise ValueError(f"this file is not a picture that can be read ({e}); upload a {kinds} image") from None


# ----------------------------------------------------------------------------- object energy


Boxes = dict[str, list[tuple[int, int, int, int]]]


def render_rooms(n: int, seed: int = MEASURE_SEED, image_size: int = 64) -> tuple[np.ndarray, list[Boxes]]:
    """n procedural rooms of data set seed `seed`: uint8 (n, 3, S, S) and each room's object boxes."""
    ds = RoomsDataset(image_size=image_size, length=n, seed=seed)
    images = np.empty((n, 3, image_size, image_size), dtype=np.uint8)
    boxes = []
    for i in range(n):
        room = ds.room(i)
        images[i] = room.image.transpose(2, 0, 1)
        boxes.append(room.boxes)
    return images, boxes


def box_mask(boxes: Boxes, objects: Sequence[str], size: int) -> np.ndarray:
    """bool (size, size): pixels inside any box of the named objects (boxes are x0, y0, x1, y1, exclusive ends)."""
    mask = np.zeros((size, size), dtype=bool)
    for name in objects:
        for x0, y0, x1, y1 in boxes.get(name, []):
            mask[max(y0, 0) : max(y1, 0), max(x0, 0) : max(x1, 0)] = True
    return mask


@torch.no_grad()
def feature_maps(discriminator: Discriminator, images: np.ndarray | torch.Tensor, layer: int, batch_size: int = 128) -> np.ndarray:
    """D's maps of one hidden layer for every image: float32 (N, C, h, w) on the CPU; D in eval mode, not modified."""
    if discriminator.training:
        raise ValueError("feature_maps needs D in eval mode (call .eval())")
    layer = check_layer(discriminator, layer)
    device = model_device(discriminator)
    parts = [layer_maps(discriminator, as_model_input(images[s : s + batch_size], device), layer).float().cpu().numpy()
             for s in range(0, len(images), batch_size)]
    return np.concatenate(parts)


def object_iou(
    discriminator: Discriminator,
    images: np.ndarray,
    boxes: Sequence[Boxes],
    objects: Sequence[str],
    layer: int = -1,
    quantile: float = DISSECT_QUANTILE,
) -> np.ndarray:
    """Each unit's overlap with the named objects' boxes over a pool, Network Dissection style: float64 (C,).

    A unit is "on" at the positions where its map exceeds its `quantile` over all positions of
    all images; the boxes are averaged onto the map's grid (the share of each cell they cover);
    the score is sum(on x cover) / (sum(on) + sum(cover) - sum(on x cover)) over the pool, the
    soft IoU of where the unit fires with where the objects are. 0 when the objects are absent.
    """
    unknown = sorted(set(objects) - set(OBJECT_NAMES))
    if unknown:
        raise ValueError(f"unknown object(s) {', '.join(unknown)}; rooms have {', '.join(OBJECT_NAMES)}")
    if len(boxes) != len(images):
        raise ValueError(f"{len(images)} images but {len(boxes)} box lists")
    if not 0 < quantile < 1:
        raise ValueError(f"quantile must be between 0 and 1, got {quantile}")
    maps = feature_maps(discriminator, images, layer)  # (N, C, h, w)
    n, c, h, w = maps.shape
    size = images.shape[-1]
    masks = np.stack([box_mask(b, objects, size) for b in boxes]).astype(np.float32)  # (N, S, S)
    cover = torch.nn.functional.adaptive_avg_pool2d(torch.from_numpy(masks)[:, None], (h, w))[:, 0].numpy()  # (N, h, w)
    per_unit = maps.transpose(1, 0, 2, 3).reshape(c, -1)
    on = (per_unit > np.quantile(per_unit, quantile, axis=1, keepdims=True)).astype(np.float64)  # (C, N*h*w)
    cover = cover.reshape(-1).astype(np.float64)
    inter = on @ cover
    union = on.sum(1) + cover.sum() - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-300), 0.0)


def energy_fraction_inside(maps: torch.Tensor | np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Per map, the share of its energy (sum over channels of squared gradient) inside the mask: float64 (N,).

    maps (N, C, H, W), masks bool (N, H, W). A map with no energy counts as 0.
    """
    e = energy(maps)
    total = e.reshape(e.shape[0], -1).sum(1)
    inside = (e * masks).reshape(e.shape[0], -1).sum(1)
    return np.where(total > 0, inside / np.maximum(total, 1e-300), 0.0)


@dataclass
class UnitEnergy:
    unit: int
    selectivity: float  # on the measurement pool
    images: list[int]  # pool indices of the unit's top images
    inside: dict[str, float]  # region -> mean energy share inside it over the top images
    area: dict[str, float]  # region -> mean area share of it over the same images
    object_iou: float | None = None  # overlap with the main objects on the selection pool (select="objects")


@dataclass
class ObjectEnergy:
    """Where one D's top units look, on images with known boxes."""

    label: str  # e.g. "trained D (step 3000)"
    layer: int
    regions: dict[str, list[str]]  # region name -> object names it covers
    inside: dict[str, float]  # region -> mean energy share over all (unit, image) pairs
    area: dict[str, float]  # region -> mean area share over the same pairs
    units: list[UnitEnergy] = field(default_factory=list)
    select: str = "objects"  # how the units were picked (SELECTIONS)


def _regions(objects: Sequence[str]) -> dict[str, list[str]]:
    regions = {"+".join(objects): list(objects)}
    for name in OBJECT_NAMES:
        regions.setdefault(name, [name])
    regions["any object"] = list(OBJECT_NAMES)
    return regions


def measure_object_energy(
    discriminator: Discriminator,
    images: np.ndarray,
    boxes: Sequence[Boxes],
    *,
    label: str,
    layer: int = -1,
    objects: Sequence[str] = MEASURE_OBJECTS,
    units: int = 8,
    k: int = 8,
    rule: str = "guided",
    target: str = "max",
    select: str = "objects",
    selection_pool: tuple[np.ndarray, Sequence[Boxes]] | None = None,
    quantile: float = DISSECT_QUANTILE,
    responses: np.ndarray | None = None,
) -> ObjectEnergy:
    """Energy share of guided-backprop maps inside object boxes, for D's `units` top units.

    Args:
        discriminator: D in eval mode (not modified).
        images: uint8 (N, C, S, S) pool; boxes: each image's object boxes (Room.boxes).
        label: what this D is, for reports.
        layer: hidden layer (-1: the last conv layer, as in the paper's Fig. 5).
        objects: object names whose boxes make the main region (other regions are reported too).
        units, k: how many top units, and top images per unit.
        select: "objects" (units overlapping `objects` most on `selection_pool`, see `object_iou`)
            or "selectivity" (the most selective units on this pool).
        selection_pool: (images, boxes) of other rooms, for select="objects".
        quantile: where a unit counts as "on" for the overlap (`object_iou`).
        responses: `max_responses` of this D on the pool, when already computed.
    """
    unknown = sorted(set(objects) - set(OBJECT_NAMES))
    if unknown:
        raise ValueError(f"unknown object(s) {', '.join(unknown)}; rooms have {', '.join(OBJECT_NAMES)}")
    if len(boxes) != len(images):
        raise ValueError(f"{len(images)} images but {len(boxes)} box lists")
    if select not in SELECTIONS:
        raise ValueError(f"unknown unit selection {select!r}; expected one of {', '.join(SELECTIONS)}")
    layer = check_layer(discriminator, layer)
    if responses is None:
        responses = max_responses(discriminator, images, layer)
    sel = selectivity(responses)
    iou = None
    if select == "objects":
        if selection_pool is None:
            raise ValueError('select="objects" needs a selection_pool: (images, boxes) of rooms other than the measured ones')
        iou = object_iou(discriminator, selection_pool[0], selection_pool[1], objects, layer, quantile)
        order = np.argsort(-iou, kind="stable")[:units]
    else:
        order = np.argsort(-sel, kind="stable")[:units]
    size = images.shape[-1]
    regions = _regions(objects)
    masks = {name: np.stack([box_mask(b, objs, size) for b in boxes]) for name, objs in regions.items()}
    per_unit = []
    for u in order:
        idx = top_images(responses, int(u), k)
        maps = guided_backprop(discriminator, images[idx], layer, int(u), rule=rule, target=target)
        inside = {name: float(energy_fraction_inside(maps, m[idx]).mean()) for name, m in masks.items()}
        area = {name: float(m[idx].mean()) for name, m in masks.items()}
        per_unit.append(UnitEnergy(int(u), float(sel[u]), [int(i) for i in idx], inside, area,
                                   None if iou is None else float(iou[u])))
    mean = lambda key, name: float(np.mean([getattr(p, key)[name] for p in per_unit])) if per_unit else 0.0  # noqa: E731
    return ObjectEnergy(
        label=label,
        layer=layer,
        regions=regions,
        inside={name: mean("inside", name) for name in regions},
        area={name: mean("area", name) for name in regions},
        units=per_unit,
        select=select,
    )


@dataclass
class ObjectEnergyComparison:
    trained: ObjectEnergy
    randoms: list[ObjectEnergy]  # one per random-D seed
    settings: dict
    seconds: float

    @property
    def random_mean(self) -> ObjectEnergy:
        """The random Ds' shares averaged over seeds (units left out)."""
        regions = self.trained.regions
        mean = lambda key: {n: float(np.mean([getattr(r, key)[n] for r in self.randoms])) for n in regions}  # noqa: E731
        seeds = ", ".join(str(s) for s in self.settings["random_seeds"])
        return ObjectEnergy(f"random D, mean of seeds {seeds}", self.trained.layer, regions, mean("inside"), mean("area"),
                            select=self.trained.select)

    def table(self) -> str:
        """Plain-text table: energy share inside each region, and the region's area share on the same images, per D."""
        names = list(self.trained.regions)
        width = max(12, *(len(n) + 2 for n in names))
        label_width = max(30, len(self.random_mean.label) + 2)
        st = self.settings
        if st["select"] == "objects":
            on = f", on above the top {100 * (1 - st['quantile']):.3g}%" if st["quantile"] != DISSECT_QUANTILE else ""
            picked = (f"the {st['units']} units of layer {self.trained.layer} overlapping {'+'.join(st['objects'])} most "
                      f"(IoU on {st['n']} other rooms, seed {st['select_seed']}{on})")
        else:
            picked = f"the {st['units']} most selective units of layer {self.trained.layer}"
        lines = [
            f"share of {st['rule']}-backprop energy inside ground-truth boxes: {picked} x their top {st['k']} of "
            f"{st['n']} rooms (data set seed {st['seed']})",
            f"{'':<{label_width}}" + "".join(f"{n:>{width}}" for n in names),
        ]
        rows = [self.trained, *self.randoms] + ([self.random_mean] if len(self.randoms) > 1 else [])
        for report in rows:
            lines.append(f"{report.label:<{label_width}}" + "".join(f"{report.inside[n]:>{width}.3f}" for n in names))
            if report is self.trained or report is rows[-1]:
                lines.append(f"{'  box area, same images':<{label_width}}" + "".join(f"{report.area[n]:>{width}.3f}" for n in names))
        lift = lambda r, n: r.inside[n] / r.area[n] if r.area[n] > 0 else float("nan")  # noqa: E731
        main = names[0]
        lines.append(
            f"{main}: trained D {self.trained.inside[main]:.3f} ({lift(self.trained, main):.2f}x its box area) vs random D "
            + ", ".join(f"{r.inside[main]:.3f}" for r in self.randoms)
            + f" (mean {self.random_mean.inside[main]:.3f}, {lift(self.random_mean, main):.2f}x)"
        )
        return "\n".join(lines)

    def as_dict(self) -> dict:
        return {
            "trained": asdict(self.trained), "randoms": [asdict(r) for r in self.randoms],
            "random_mean": {"inside": self.random_mean.inside, "area": self.random_mean.area},
            "settings": self.settings, "seconds": self.seconds,
        }


def compare_object_energy(
    model: LoadedModel,
    n: int = 1000,
    seed: int = MEASURE_SEED,
    *,
    select_seed: int = SELECT_SEED,
    random_seeds: Sequence[int] = RANDOM_D_SEEDS,
    progress: Progress | None = None,
    **settings,
) -> ObjectEnergyComparison:
    """The object-energy measurement for a model's trained D and random Ds of the same architecture.

    The pool is n procedural rooms of data set seed `seed` at the model's size (the GANs
    train on seed 0). Each random D (one per seed in `random_seeds`: a single random D's
    figure varies a lot with its seed) takes its BatchNorm statistics from the same pool.
    With select="objects", every D picks its units on n more rooms of seed `select_seed`.
    `settings` are `measure_object_energy`'s (layer, objects, units, k, rule, target, select,
    quantile), with its defaults; every D is measured with the same ones.
    """
    unknown = set(settings) - set(MEASURE_SETTINGS)
    if unknown:
        raise TypeError(f"compare_object_energy() got unexpected settings {sorted(unknown)}")
    common = {**MEASURE_SETTINGS, **settings}
    objects, select = common["objects"], common["select"]
    d = model.discriminator
    if d is None:
        raise ValueError(f"{model.path} has no discriminator (a generator-only file); this measurement needs D")
    cfg = model.config
    if cfg.channels != 3:
        raise ValueError(f"{model.path} takes {cfg.channels}-channel images; rooms are RGB")
    if not random_seeds:
        raise ValueError("give at least one random-D seed")
    if select not in SELECTIONS:
        raise ValueError(f"unknown unit selection {select!r}; expected one of {', '.join(SELECTIONS)}")
    if select == "objects" and select_seed == seed:
        raise ValueError(f"the selection rooms (seed {select_seed}) must differ from the measured ones (seed {seed})")
    start = time.perf_counter()
    total = 2 + len(random_seeds)
    images, boxes = render_rooms(n, seed, cfg.image_size)
    selection_pool = render_rooms(n, select_seed, cfg.image_size) if select == "objects" else None
    if progress:
        progress(1, total)
    trained = measure_object_energy(d, images, boxes, label=f"trained D (step {model.checkpoint.step})",
                                    selection_pool=selection_pool, **common)
    if progress:
        progress(2, total)
    randoms = []
    for i, rs in enumerate(random_seeds):
        rand = random_discriminator(cfg, seed=rs, calibration_images=images, device=model_device(d))
        randoms.append(measure_object_energy(rand, images, boxes, label=f"random D (seed {rs})",
                                             selection_pool=selection_pool, **common))
        if progress:
            progress(3 + i, total)
    recorded = {"model": str(model.path), "n": n, "seed": seed, "random_seeds": list(random_seeds), **common, "objects": list(objects),
                "select_seed": select_seed if select == "objects" else None}
    return ObjectEnergyComparison(trained, randoms, recorded, time.perf_counter() - start)


MEASURE_SETTINGS = {  # measure_object_energy's settings and their defaults, which compare_object_energy passes on
    name: p.default for name, p in inspect.signature(measure_object_energy).parameters.items()
    if name in ("layer", "objects", "units", "k", "rule", "target", "select", "quantile")
}


def format_object_energy(result: ObjectEnergyComparison) -> str:
    """The report `dcgan units measure` prints: the table, then how long it took and how the units were picked."""
    st = result.settings
    return (f"{result.table()}\n({result.seconds:.0f} s; {st['rule']} backprop, target {st['target']}, units picked by "
            f"{st['select']})")
