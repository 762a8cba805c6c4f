"""How many annotated images are enough to forget windows? The removal rate against the size of the annotation set.

The paper fits its window regression on 52 boxes (section 6.3.1); nobody knows whether that
is enough, or whether 150 images buy anything. For sizes 10, 20, 40, ... this draws that many
images from an annotation set (seeded, without replacement), fits the logistic regression on
them (`object_removal.fit_object_maps`, the paper's rule: drop every map with a positive weight),
and measures on the same fresh z's how often the object is gone, beside as many random maps.
Several draws per size give the spread; the whole set is fitted once.

    from dcgan_core.analysis.annotation_curve import removal_curve

    curve = removal_curve(g, instrument, annotations, sizes=(10, 20, 40, 80, 150), refits=5)
    curve.points[0].removed_mean, curve.points[0].boxes_mean
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from ..latent import sample_z
from ..models import Generator
from .annotations import AnnotationSet
from .object_removal import RANDOM_DRAWS, collect_training_data, fit_object_maps, measure_removal

PAPER_BOXES = 52  # the paper's window boxes (section 6.3.1)
DEFAULT_SIZES = (10, 20, 40, 80, 150)
DEFAULT_REFITS = 5
MEASURE_SEED = 1  # the z's measured: the same as `dcgan forget measure`'s


@dataclass
class CurvePoint:
    images: int  # annotated images the fit saw
    boxes: list[int]  # per draw: boxes among them
    maps: list[int]  # per draw: maps dropped
    removed: list[float | None]  # per draw: share of samples with the object that lost it (fitted maps)
    random: list[float | None]  # per draw: the same with as many random maps (mean of RANDOM_DRAWS draws of maps)

    @staticmethod
    def _stats(values: Sequence[float | None]) -> tuple[float | None, float | None]:
        known = [v for v in values if v is not None]
        if not known:
            return None, None
        return float(np.mean(known)), float(np.std(known, ddof=1)) if len(known) > 1 else 0.0

    @property
    def removed_mean(self) -> float | None:
        return self._stats(self.removed)[0]

    @property
    def removed_std(self) -> float | None:
        return self._stats(self.removed)[1]

    @property
    def random_mean(self) -> float | None:
        return self._stats(self.random)[0]

    @property
    def random_std(self) -> float | None:
        return self._stats(self.random)[1]

    @property
    def boxes_mean(self) -> float:
        return float(np.mean(self.boxes))


@dataclass
class AnnotationCurve:
    object_name: str
    n: int  # fresh samples measured
    pool_images: int  # annotated images available
    pool_boxes: int
    points: list[CurvePoint]

    @classmethod
    def from_dict(cls, d: dict) -> AnnotationCurve:
        """The curve back from `as_dict` (or `dcgan forget curve --save`); derived figures are recomputed."""
        fields = ("images", "boxes", "maps", "removed", "random")
        return cls(d["object_name"], int(d["n"]), int(d["pool_images"]), int(d["pool_boxes"]),
                   [CurvePoint(**{k: p[k] for k in fields}) for p in d["points"]])

    def as_dict(self) -> dict:
        out = asdict(self)
        for p, d in zip(self.points, out["points"]):
            d.update(removed_mean=p.removed_mean, removed_std=p.removed_std, random_mean=p.random_mean,
                     random_std=p.random_std, boxes_mean=p.boxes_mean)
        return out


def removal_curve(
    generator: Generator, instrument, annotations: AnnotationSet, sizes: Sequence[int] = DEFAULT_SIZES,
    refits: int = DEFAULT_REFITS, n: int = 300, measure_seed: int = MEASURE_SEED, seed: int = 0,
    threshold: float = 0.0, progress: Callable[[int, int], None] | None = None,
) -> AnnotationCurve:
    """The removal rate (and its random control) for fits on `sizes` annotated images, `refits` draws each.

    Sizes above the number of annotated images are left out; the whole set is one draw.
    """
    if refits < 1:
        raise ValueError(f"refits must be at least 1, got {refits}")
    images = [a for a in annotations.images if a.annotated]
    if len(images) < 2:
        raise ValueError(f"the annotation set has {len(images)} annotated images; the curve needs at least 2")
    wanted = sorted({int(s) for s in sizes if 1 <= int(s) <= len(images)})
    if not wanted:
        raise ValueError(f"no size in {list(sizes)} fits the {len(images)} annotated images")
    z = sample_z(n, generator.config, seed=measure_seed)
    layer = generator.penultimate_layer
    jobs = [(size, r) for size in wanted for r in range(refits if size < len(images) else 1)]
    points: dict[int, CurvePoint] = {s: CurvePoint(s, [], [], [], []) for s in wanted}
    for done, (size, r) in enumerate(jobs, 1):
        pick = np.random.default_rng((seed, size, r)).choice(len(images), size=size, replace=False)
        subset = [images[i] for i in sorted(pick)]
        point = points[size]
        point.boxes.append(sum(len(a.boxes) for a in subset))
        data = collect_training_data(generator, subset, layer, seed=r)
        if data.n_positive == 0 or data.n_negative == 0:  # only "no object" images drawn: nothing to fit
            point.maps.append(0)
            point.removed.append(None)
            point.random.append(None)
        else:
            maps = fit_object_maps(data, seed=r).maps_above(threshold)
            m = measure_removal(generator, instrument, z, layer, maps, annotations.object_name,
                                random_control_seed=1000 * size + 10 * r, random_draws=RANDOM_DRAWS)
            point.maps.append(len(maps))
            point.removed.append(m.fitted.removed)
            point.random.append(m.random.removed)
        if progress:
            progress(done, len(jobs))
    return AnnotationCurve(annotations.object_name, n, len(images), sum(len(a.boxes) for a in images),
                           [points[s] for s in wanted])


def format_curve(curve: AnnotationCurve) -> str:
    def pct(mean, std):
        return "-" if mean is None else f"{mean:6.1%} ± {std:4.1%}"

    lines = [f"{curve.object_name} removed (fitted maps dropped) against random maps, on {curve.n} fresh samples; "
             f"pool: {curve.pool_images} annotated images, {curve.pool_boxes} boxes; the paper fitted {PAPER_BOXES} boxes",
             "images  boxes (mean)  draws  maps (mean)  removed           random maps"]
    for p in curve.points:
        lines.append(f"{p.images:>6} {p.boxes_mean:>13.1f} {len(p.removed):>6} {np.mean(p.maps):>12.1f}  "
                     f"{pct(p.removed_mean, p.removed_std):<17} {pct(p.random_mean, p.random_std)}")
    return "\n".join(lines)
