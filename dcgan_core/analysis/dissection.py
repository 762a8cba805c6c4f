"""Dissect G against exact class masks: which units draw which objects (GAN Dissection, Bau et al. 2019).

For every unit (channel) of every hidden G layer, its activation map is upsampled to the
image size (bilinear, as GAN Dissection does) and thresholded at its top quantile over all
positions of many samples (on: at or above it, and above 0); the score of a unit for a class is the IoU, summed over the
samples, of where the unit is on with where the segmenter finds the class in G's own picture:

    IoU(u, c) = sum(on_u & mask_c) / sum(on_u | mask_c)

GAN Dissection picks each (unit, class) threshold to fit the class; we search a fixed grid of
top fractions (`TOP_FRACTIONS`) and keep the best, so a unit that draws small lamps and one
that draws whole walls are both scored at a region size that suits them (the top fraction used
is reported beside each IoU). Our masks are not a segmentation network trained on other data:
the segmenter was trained on renders whose every pixel's class is known
(`instruments train --kind rooms-segmenter`, held-out IoU in models/instruments/README.md).

The baseline is a randomly initialised G of the same architecture (the paper's init), dissected
against the *same* masks for the same z: a random G draws noise, so segmenting its own pictures
would measure the segmenter's guesses on noise, not the units. What it gives is the IoU that
chance alignment between a unit and the trained G's objects reaches.

    from dcgan_core.analysis.dissection import dissect, random_generator

    d = dissect(g, segmenter, n=2000)                     # every hidden layer
    d.top_units("window", layer=2, k=10)                  # int64 unit indices, best IoU first
    d.best_layer("window")                                # the layer whose best window unit scores highest
    base = dissect(random_generator(g), segmenter, n=2000, masks_from=g)
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from ..features import check_layer
from ..latent import sample_z
from ..models import Generator, init_dcgan_weights
from .instruments import Segmenter, segment

TOP_FRACTIONS = (0.005, 0.01, 0.02, 0.04, 0.08, 0.16)  # the grid of "on" region sizes searched per (unit, class)
DETECTOR_IOU = 0.08  # a unit "detects" its best class above this IoU (counted in the per-layer summary)
DISSECT_SEED = 7  # z seed of the samples dissected (the app's grids use 0; the benchmark's tries use others)
RANDOM_G_SEED = 0
POSITIONS_PER_IMAGE = 64  # sampled positions per image that set each unit's thresholds (128k at n=2000)
INSERT_QUANTILE = 0.99  # an inserted unit is set to this quantile of its values (its typical "on" level)

Progress = Callable[[str, float], None]  # (what, done share 0..1)
_SMALLEST = torch.finfo(torch.float32).tiny


@dataclass
class LayerDissection:
    """One G layer's units scored against every class."""

    layer: int
    size: int  # the layer's maps are size x size
    iou: np.ndarray  # float64 (units, classes): the best IoU over TOP_FRACTIONS
    top_fraction: np.ndarray  # float64 (units, classes): the top fraction that gave it
    on_level: np.ndarray  # float32 (units,): INSERT_QUANTILE of the unit's upsampled values
    class_mean: np.ndarray  # float32 (units, classes): the unit's mean value over the class's pixels (what painting sets)

    @property
    def n_units(self) -> int:
        return int(self.iou.shape[0])

    def best_class(self) -> np.ndarray:
        """int64 (units,): each unit's best class index."""
        return self.iou.argmax(1)


@dataclass
class Dissection:
    """Every hidden layer of one G, its units scored against the segmenter's classes."""

    classes: tuple[str, ...]
    layers: list[LayerDissection]
    n: int
    seed: int
    class_share: np.ndarray  # float64 (classes,): share of pixels of each class in the dissected pictures
    class_presence: np.ndarray  # float64 (classes,): share of pictures with the class at all
    seconds: float = 0.0
    detector_iou: float = DETECTOR_IOU
    meta: dict = field(default_factory=dict)

    def class_index(self, name: str) -> int:
        if name not in self.classes:
            raise ValueError(f"unknown class {name!r}; the segmenter knows {', '.join(self.classes)}")
        return self.classes.index(name)

    def layer(self, layer: int) -> LayerDissection:
        for d in self.layers:
            if d.layer == layer or d.layer == len(self.layers) + layer:
                return d
        raise ValueError(f"layer {layer} was not dissected; layers: {', '.join(str(d.layer) for d in self.layers)}")

    def top_units(self, name: str, layer: int, k: int | None = None) -> np.ndarray:
        """int64 unit indices of `layer`, best IoU with class `name` first (all units, or the top k)."""
        c = self.class_index(name)
        order = np.argsort(-self.layer(layer).iou[:, c], kind="stable")
        return order if k is None else order[:k]

    def best_layer(self, name: str, k: int = 1) -> int:
        """The layer whose top-k units' mean IoU with `name` is highest."""
        c = self.class_index(name)
        scores = [np.sort(d.iou[:, c])[::-1][:k].mean() for d in self.layers]
        return self.layers[int(np.argmax(scores))].layer

    def best_iou(self, name: str, layer: int | None = None) -> float:
        c = self.class_index(name)
        layers = self.layers if layer is None else [self.layer(layer)]
        return float(max(d.iou[:, c].max() for d in layers))

    def detectors(self) -> np.ndarray:
        """int64 (layers, classes): units per layer whose best class is that class with IoU >= detector_iou
        (GAN Dissection's summary of what each layer has learned to draw)."""
        out = np.zeros((len(self.layers), len(self.classes)), dtype=np.int64)
        for i, d in enumerate(self.layers):
            best = d.best_class()
            hit = d.iou[np.arange(d.n_units), best] >= self.detector_iou
            np.add.at(out[i], best[hit], 1)
        return out

    def as_dict(self) -> dict:
        return {
            "classes": list(self.classes), "n": self.n, "seed": self.seed, "seconds": round(self.seconds, 2),
            "detector_iou": self.detector_iou, "top_fractions": list(TOP_FRACTIONS),
            "class_share": [round(float(v), 5) for v in self.class_share],
            "class_presence": [round(float(v), 4) for v in self.class_presence],
            "layers": [
                {"layer": d.layer, "size": d.size, "units": d.n_units,
                 "iou": np.round(d.iou, 4).tolist(), "top_fraction": d.top_fraction.tolist(),
                 "on_level": np.round(d.on_level.astype(np.float64), 4).tolist(),
                 "class_mean": np.round(d.class_mean.astype(np.float64), 4).tolist()}
                for d in self.layers
            ],
            "detectors": self.detectors().tolist(),
            **({"meta": self.meta} if self.meta else {}),
        }

    @classmethod
    def from_dict(cls, data: dict) -> Dissection:
        """The inverse of `as_dict`, checked (a file from an older or other tool gets one clear error)."""
        try:
            classes = tuple(str(c) for c in data["classes"])
            layers = []
            for d in data["layers"]:
                iou = np.asarray(d["iou"], dtype=np.float64)
                frac = np.asarray(d["top_fraction"], dtype=np.float64)
                level = np.asarray(d["on_level"], dtype=np.float32)
                mean = np.asarray(d["class_mean"], dtype=np.float32)
                if (iou.ndim != 2 or iou.shape[1] != len(classes) or frac.shape != iou.shape or mean.shape != iou.shape
                        or level.shape != (iou.shape[0],)):
                    raise ValueError(f"layer {d.get('layer')}: shapes do not match {len(classes)} classes")
                layers.append(LayerDissection(int(d["layer"]), int(d["size"]), iou, frac, level, mean))
            return cls(
                classes=classes, layers=layers, n=int(data["n"]), seed=int(data["seed"]),
                class_share=np.asarray(data["class_share"], dtype=np.float64),
                class_presence=np.asarray(data["class_presence"], dtype=np.float64),
                seconds=float(data.get("seconds", 0.0)), detector_iou=float(data.get("detector_iou", DETECTOR_IOU)),
                meta=dict(data.get("meta", {})),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"not a dissection file (from `dcgan dissect --save`): {e}") from None


def random_generator(like: Generator, seed: int = RANDOM_G_SEED) -> Generator:
    """A G of the same architecture with the paper's initial weights (N(0, 0.02)), in eval mode."""
    with torch.random.fork_rng(devices=[]):  # init_dcgan_weights draws from the global generator: leave it as it was
        torch.manual_seed(seed)
        g = Generator(like.config)
        init_dcgan_weights(g)
    return g.eval().to(next(like.parameters()).device)


def _interpolation_matrix(low: int, size: int) -> torch.Tensor:
    """(size, low) float32 weights that upsample one axis bilinearly, as F.interpolate(align_corners=False) does
    (edges clamped): upsampling a map is then two small matmuls, 4x faster on the CPU than F.interpolate."""
    src = ((torch.arange(size, dtype=torch.float64) + 0.5) * low / size - 0.5).clamp_min(0)
    i0 = src.floor().long().clamp_max(low - 1)
    i1 = (i0 + 1).clamp_max(low - 1)
    w1 = src - i0
    m = torch.zeros(size, low, dtype=torch.float64)
    rows = torch.arange(size)
    m.index_put_((rows, i0), 1 - w1, accumulate=True)
    m.index_put_((rows, i1), w1, accumulate=True)
    return m.float()


def upsample_units(maps: torch.Tensor, size: int) -> torch.Tensor:
    """(C, B, size, size): the maps (B, C, h, h) upsampled bilinearly to the image size, units first."""
    w = _interpolation_matrix(maps.shape[-1], size).to(maps.device)
    return torch.matmul(torch.matmul(w, maps.transpose(0, 1)), w.T)


def _sample_positions(maps: torch.Tensor, size: int, positions: torch.Tensor) -> torch.Tensor:
    """(C, B * P) values of the bilinearly upsampled maps (B, C, h, w) at `positions` (B, P, 2) pixel (row, col) of a
    size x size image: the same numbers `_upsample` gives there, without upsampling every position."""
    centres = (positions.to(maps.dtype) + 0.5) * 2 / size - 1  # pixel centres in grid_sample's [-1, 1]
    grid = centres.flip(-1)[:, None]  # (B, 1, P, 2) as (x, y)
    values = F.grid_sample(maps, grid, mode="bilinear", padding_mode="border", align_corners=False)  # (B, C, 1, P)
    return values[:, :, 0].permute(1, 0, 2).reshape(maps.shape[1], -1)


class _Scratch:
    """Named buffers that grow as needed and are handed out as contiguous views of the asked shape."""

    def __init__(self) -> None:
        self._buffers: dict[str, torch.Tensor] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
        n = math.prod(shape)
        buf = self._buffers.get(name)
        if buf is None or buf.numel() < n or buf.dtype != dtype:
            buf = self._buffers[name] = torch.empty(n, dtype=dtype)
        return buf[:n].view(shape)


@torch.no_grad()
def dissect(
    generator: Generator,
    segmenter: Segmenter,
    n: int = 2000,
    seed: int = DISSECT_SEED,
    layers: Sequence[int] | None = None,
    batch_size: int = 32,
    masks_from: Generator | None = None,
    progress: Progress | None = None,
) -> Dissection:
    """Score every unit of `layers` (default: all hidden layers) of G against the segmenter's classes.

    Args:
        generator: G in eval mode (not modified).
        segmenter: the data set's segmentation instrument (`load_instrument(..., kind="rooms-segmenter")`).
        n: samples, z drawn from the prior with `seed`.
        masks_from: segment this G's pictures for the masks instead of `generator`'s (the random baseline
            uses the trained G's, for the same z).
        progress: called with (stage, share done).
    """
    if n < 10:
        raise ValueError(f"dissect needs at least 10 samples, got {n}")
    if generator.training:
        raise ValueError("dissect needs G in eval mode (call .eval())")
    start = time.perf_counter()
    report = progress or (lambda what, share: None)
    size = generator.config.image_size
    n_layers = len(generator.feature_channels)
    chosen = sorted({check_layer(generator, layer) for layer in (range(n_layers) if layers is None else layers)})
    classes = tuple(segmenter.classes)
    k = len(classes)
    z = sample_z(n, generator.config, seed=seed)
    device = next(generator.parameters()).device
    batches = [slice(s, min(s + batch_size, n)) for s in range(0, n, batch_size)]
    gen = torch.Generator().manual_seed(seed)

    # pass 1: the pictures' label maps, and sampled values of every unit's upsampled map (its thresholds)
    labels = np.empty((n, size, size), dtype=np.uint8)
    samples: dict[int, list[torch.Tensor]] = {layer: [] for layer in chosen}
    for i, b in enumerate(batches):
        zb = z[b].to(device)
        pictures, maps = generator(zb, return_features=True)
        if masks_from is not None:
            pictures = masks_from(zb)
        labels[b] = segment(segmenter, pictures.float().cpu())
        positions = torch.randint(0, size, (zb.shape[0], POSITIONS_PER_IMAGE, 2), generator=gen)
        for layer in chosen:
            samples[layer].append(_sample_positions(maps[layer].float().cpu(), size, positions))
        report("reading pictures and thresholds", (i + 1) / len(batches) / 2)
    thresholds, on_level = {}, {}
    for layer in chosen:
        values = torch.cat(samples.pop(layer), dim=1)  # (C, n * P)
        m = values.shape[1]
        ranks = [max(1, min(m, math.ceil((1 - f) * m))) for f in TOP_FRACTIONS]
        # "on" is >= the threshold and never at 0: G's maps are rectified, and a unit silent on most pixels
        # would otherwise be on everywhere its top fraction reaches into the zeros
        thresholds[layer] = torch.stack([values.kthvalue(r, dim=1).values for r in ranks]).clamp_min(_SMALLEST)  # (Q, C)
        on_level[layer] = values.kthvalue(max(1, min(m, math.ceil(INSERT_QUANTILE * m))), dim=1).values.numpy()

    # pass 2: at each threshold, how many pixels of each class every unit is on at (per-class column ranges)
    q_count = len(TOP_FRACTIONS)
    inter = {layer: torch.zeros(q_count, generator.feature_channels[layer], k, dtype=torch.int64) for layer in chosen}
    value_sum = {layer: torch.zeros(generator.feature_channels[layer], k, dtype=torch.float64) for layer in chosen}
    class_area = torch.zeros(k, dtype=torch.int64)
    present = np.zeros(k, dtype=np.int64)
    scratch = _Scratch()  # reused buffers: fresh 100-MB tensors per batch cost more in page faults than in compute
    for i, b in enumerate(batches):
        _, maps = generator(z[b].to(device), return_features=True)
        lab = torch.from_numpy(labels[b]).reshape(-1).long()
        counts = torch.bincount(lab, minlength=k)
        class_area += counts
        present += (labels[b].reshape(labels[b].shape[0], -1)[:, :, None] == np.arange(k)).any(1).sum(0)
        order = torch.argsort(lab, stable=True)  # pixels grouped by class: each class is one column range
        for layer in chosen:
            up = upsample_units(maps[layer].float().cpu(), size).reshape(generator.feature_channels[layer], -1)
            grouped = torch.index_select(up, 1, order, out=scratch.get("grouped", up.shape, up.dtype))
            split = counts.tolist()
            value_sum[layer] += torch.stack([part.sum(1) for part in torch.split(grouped, split, dim=1)], 1).double()
            on = scratch.get("on", up.shape, torch.bool)
            for q in range(q_count):
                torch.ge(grouped, thresholds[layer][q][:, None], out=on)
                parts = torch.split(on.view(torch.uint8), split, dim=1)
                inter[layer][q] += torch.stack([part.sum(1, dtype=torch.int32) for part in parts], 1)
        report("scoring units", 0.5 + (i + 1) / len(batches) / 2)

    results = []
    for layer in chosen:
        hits = inter[layer].double()
        union = hits.sum(2, keepdim=True) + class_area.double()[None, None, :] - hits  # |on| + |class| - |both|
        iou = torch.where(union > 0, hits / union.clamp_min(1), torch.zeros_like(union))  # (Q, C, K)
        best, which = iou.max(0)
        results.append(LayerDissection(
            layer=layer, size=int(generator.feature_sizes[layer]),
            iou=best.numpy(), top_fraction=np.asarray(TOP_FRACTIONS)[which.numpy()], on_level=on_level[layer].astype(np.float32),
            class_mean=(value_sum[layer] / class_area.double().clamp_min(1)[None]).float().numpy(),
        ))
    return Dissection(
        classes=classes, layers=results, n=n, seed=seed, class_share=(class_area.double() / class_area.sum()).numpy(),
        class_presence=present / n, seconds=time.perf_counter() - start,
    )


# ----------------------------------------------------------------------------- reports


@dataclass
class ClassContrast:
    """One class: the trained G's best units against the random G's best."""

    class_name: str
    best_layer: int
    best_iou: float
    random_best_iou: float  # over every layer of the random G
    top_units: list[int]
    top_ious: list[float]

    @property
    def ratio(self) -> float:
        return self.best_iou / self.random_best_iou if self.random_best_iou > 0 else float("inf")


def contrast(trained: Dissection, random: Dissection | None, class_name: str, k: int = 10) -> ClassContrast:
    layer = trained.best_layer(class_name)
    units = trained.top_units(class_name, layer, k)
    c = trained.class_index(class_name)
    return ClassContrast(
        class_name, layer, trained.best_iou(class_name, layer), random.best_iou(class_name) if random else float("nan"),
        [int(u) for u in units], [round(float(trained.layer(layer).iou[u, c]), 4) for u in units],
    )


def dissection_report(trained: Dissection, random: Dissection | None, k: int = 10) -> dict:
    """What `dcgan dissect --json` prints and `--save` writes: both dissections and the per-class contrast."""
    present = [c for c, p in zip(trained.classes, trained.class_presence) if p > 0]
    return {
        "trained": trained.as_dict(),
        "random": random.as_dict() if random else None,
        "contrast": {c: {**asdict(x), "ratio": x.ratio} for c in present for x in [contrast(trained, random, c, k)]},
    }


def format_dissection(trained: Dissection, random: Dissection | None, classes: Sequence[str] | None = None, k: int = 10) -> str:
    """The GAN Dissection summary as text: detectors per layer and class (trained / random), then per class its best
    layer, top units and the contrast with the random G."""
    present = [c for c, p in zip(trained.classes, trained.class_presence) if p > 0]
    shown = list(classes) if classes else present
    cols = [trained.class_index(c) for c in present]
    det, rdet = trained.detectors(), random.detectors() if random else None
    width = max(7, *(len(c) for c in present))
    lines = [f"units per layer whose best class is ... with IoU >= {trained.detector_iou}"
             + (" (trained / random G)" if random else ""),
             "layer  size  units " + " ".join(f"{c:>{width}}" for c in present)]
    for i, d in enumerate(trained.layers):
        cells = [f"{det[i, c]}/{rdet[i, c]}" if rdet is not None else f"{det[i, c]}" for c in cols]
        lines.append(f"{d.layer:>5} {d.size:>2}x{d.size:<2} {d.n_units:>6} " + " ".join(f"{x:>{width}}" for x in cells))
    lines.append("")
    for name in shown:
        x = contrast(trained, random, name, k)
        units = ", ".join(f"{u} ({v:.2f})" for u, v in zip(x.top_units, x.top_ious))
        vs = (f"; a random G's best {x.random_best_iou:.3f} ({x.ratio:.1f}x)" if random else "")
        lines.append(f"{name}: best layer {x.best_layer}, IoU {x.best_iou:.3f}{vs}\n  top units: {units}")
    return "\n".join(lines)
