"""Do two annotators agree? Image-level and box-level agreement between people, and between a person and
the room instrument (issue 24, item 3).

Two annotators are compared on the pool images both annotated (`AnnotationSet.of_annotator`
gives each one's records). Per image:

- image level: each says "has the object" (boxes) or "none here" (marked no object); they agree
  when both say the same;
- boxes: matched one to one at IoU >= 0.5 (the PASCAL VOC / COCO AP50 criterion): the most matches
  possible, and among those the largest total IoU (Hungarian assignment,
  `scipy.optimize.linear_sum_assignment`). Recall of B against A = matched / A's boxes, precision =
  matched / B's boxes, F1 = 2 matched / (A's boxes + B's boxes), which is the same whichever of
  the two is taken as the reference; mean IoU of the matched pairs.

In total: the share of images where they agree at image level and Cohen's kappa (that agreement
beyond what two annotators saying "has it" at their own rates would reach by chance; undefined,
None, when both say the same thing of every image, so chance alone would agree on all), and box
F1, precision, recall and mean matched IoU over every box of the compared images.

Against the instrument: `instrument_agreement` runs the room instrument (`object_removal.auto_annotate`)
on the annotator's images, from their stored z, so its answers are fresh, not what a file kept.
Images it calls present but cannot box are left out (`only_a`).

    notes = AnnotationStore().load(identity, "window")
    agreement = annotator_agreement(notes, "alice", "bob")
    agreement.kappa, agreement.f1, agreement.images[0].mean_iou
    print(format_agreement(agreement))

    dcgan forget agree --model rooms --a alice --b bob     # or --instrument: each annotator against it
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch

from .annotations import INSTRUMENT, Annotation, AnnotationError, AnnotationSet, Box

IOU_THRESHOLD = 0.5  # a box matches when IoU >= this (PASCAL VOC, COCO AP50)


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes (x1/y1 exclusive): 0 when apart, 1 when equal."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(0.0, w) * max(0.0, h)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def match_boxes(a: Sequence[Box], b: Sequence[Box], iou_threshold: float = IOU_THRESHOLD) -> list[tuple[int, int, float]]:
    """(i, j, IoU) pairs of a one-to-one matching of boxes a[i] and b[j] with IoU >= iou_threshold: as many pairs as
    possible, and among those the largest total IoU. Sorted by i."""
    if not len(a) or not len(b):
        return []
    from scipy.optimize import linear_sum_assignment

    iou = np.array([[box_iou(x, y) for y in b] for x in a])
    ok = iou >= iou_threshold
    # each match is worth more than any sum of IoUs, so the count comes first, total IoU second
    gain = np.where(ok, (len(a) + len(b) + 1) + iou, 0.0)
    rows, cols = linear_sum_assignment(gain, maximize=True)
    return sorted((int(i), int(j), float(iou[i, j])) for i, j in zip(rows, cols) if ok[i, j])


@dataclass(frozen=True)
class ImageAgreement:
    """Two annotators on one pool image."""

    seed: int
    index: int
    a_boxes: tuple[Box, ...]
    b_boxes: tuple[Box, ...]
    matches: tuple[tuple[int, int, float], ...]  # (box of a, box of b, IoU), IoU >= the threshold

    @property
    def a_has(self) -> bool:
        return bool(self.a_boxes)

    @property
    def b_has(self) -> bool:
        return bool(self.b_boxes)

    @property
    def agree(self) -> bool:
        """Image level: both say the object is there, or both say it is not."""
        return self.a_has == self.b_has

    @property
    def n_matched(self) -> int:
        return len(self.matches)

    @property
    def f1(self) -> float | None:
        """2 matched / (a's boxes + b's boxes); None when neither drew a box."""
        n = len(self.a_boxes) + len(self.b_boxes)
        return 2 * self.n_matched / n if n else None

    @property
    def mean_iou(self) -> float | None:
        """Mean IoU of the matched boxes; None without a match."""
        return float(np.mean([m[2] for m in self.matches])) if self.matches else None

    def row(self, a: str = "A", b: str = "B") -> dict:
        """A table row: the image, what each said, matched boxes, F1 and mean IoU."""
        said = {True: "has it", False: "none"}
        return {"seed": self.seed, "index": self.index, f"{a} boxes": len(self.a_boxes), f"{b} boxes": len(self.b_boxes),
                "matched": self.n_matched, f"{a} says": said[self.a_has], f"{b} says": said[self.b_has],
                "agree": self.agree, "box F1": self.f1, "mean IoU": self.mean_iou}


@dataclass(frozen=True)
class Agreement:
    """Annotator `b` against annotator `a` on the images both annotated, per image and in total."""

    a: str
    b: str
    object_name: str
    images: tuple[ImageAgreement, ...]  # in (seed, index) order
    only_a: int = 0  # images a annotated and b did not (not compared)
    only_b: int = 0
    iou_threshold: float = IOU_THRESHOLD

    @property
    def n_images(self) -> int:
        return len(self.images)

    @property
    def table(self) -> dict[str, int]:
        """Image-level counts: both say it is there, both say none, only a says it is there, only b does."""
        return {"both": sum(i.a_has and i.b_has for i in self.images),
                "neither": sum(not i.a_has and not i.b_has for i in self.images),
                "only_a": sum(i.a_has and not i.b_has for i in self.images),
                "only_b": sum(i.b_has and not i.a_has for i in self.images)}

    @property
    def n_agree(self) -> int:
        return sum(i.agree for i in self.images)

    @property
    def percent_agreement(self) -> float | None:
        """Share of compared images where both say the same at image level; None without any."""
        return self.n_agree / self.n_images if self.images else None

    @property
    def kappa(self) -> float | None:
        """Cohen's kappa at image level, (p_o - p_e) / (1 - p_e); None without images, or when p_e = 1 (both said
        the same thing of every image: agreement by chance alone would be complete)."""
        n = self.n_images
        if not n:
            return None
        pa, pb = sum(i.a_has for i in self.images) / n, sum(i.b_has for i in self.images) / n
        expected = pa * pb + (1 - pa) * (1 - pb)
        if expected >= 1.0:
            return None
        kappa = (self.n_agree / n - expected) / (1 - expected)
        return 0.0 if abs(kappa) < 1e-12 else float(kappa)  # no -0.000 from rounding

    @property
    def n_a_boxes(self) -> int:
        return sum(len(i.a_boxes) for i in self.images)

    @property
    def n_b_boxes(self) -> int:
        return sum(len(i.b_boxes) for i in self.images)

    @property
    def n_matched(self) -> int:
        return sum(i.n_matched for i in self.images)

    @property
    def precision(self) -> float | None:
        """Of b's boxes, the share matching one of a's."""
        return self.n_matched / self.n_b_boxes if self.n_b_boxes else None

    @property
    def recall(self) -> float | None:
        """Of a's boxes, the share b matched."""
        return self.n_matched / self.n_a_boxes if self.n_a_boxes else None

    @property
    def f1(self) -> float | None:
        """Box F1 over every compared image: 2 matched / all boxes (symmetric in a and b); None without boxes."""
        n = self.n_a_boxes + self.n_b_boxes
        return 2 * self.n_matched / n if n else None

    @property
    def mean_iou(self) -> float | None:
        """Mean IoU over every matched pair of boxes; None without a match."""
        ious = [m[2] for i in self.images for m in i.matches]
        return float(np.mean(ious)) if ious else None

    def rows(self) -> list[dict]:
        """One table row per compared image (`ImageAgreement.row`), named after the annotators."""
        return [i.row(self.a, self.b) for i in self.images]

    def summary(self) -> dict:
        """The totals, as one row of a table of pairs."""
        return {"a": self.a, "b": self.b, "images": self.n_images, "image agreement": self.percent_agreement,
                "kappa": self.kappa, "a boxes": self.n_a_boxes, "b boxes": self.n_b_boxes, "matched": self.n_matched,
                "box F1": self.f1, "mean IoU": self.mean_iou}

    def to_dict(self) -> dict:
        """What `dcgan forget agree --json` prints for one pair."""
        return {
            "a": self.a, "b": self.b, "object": self.object_name, "iou_threshold": self.iou_threshold,
            "images_compared": self.n_images, "only_a": self.only_a, "only_b": self.only_b, "image_table": self.table,
            "image_agreement": self.percent_agreement, "kappa": self.kappa, "a_boxes": self.n_a_boxes,
            "b_boxes": self.n_b_boxes, "matched": self.n_matched, "precision": self.precision, "recall": self.recall,
            "f1": self.f1, "mean_iou": self.mean_iou,
            "images": [{**asdict(i), "agree": i.agree, "f1": i.f1, "mean_iou": i.mean_iou} for i in self.images],
        }


def compare(a: Sequence[Annotation], b: Sequence[Annotation], a_name: str = "A", b_name: str = "B",
            object_name: str = "window", iou_threshold: float = IOU_THRESHOLD) -> Agreement:
    """Records `b` against records `a` (one per pool image each) on the images both annotated."""
    if not 0.0 < iou_threshold <= 1.0:
        raise ValueError(f"the IoU threshold must be in (0, 1], got {iou_threshold}")
    first = {x.key: x for x in a if x.annotated}
    second = {x.key: x for x in b if x.annotated}
    both = sorted(first.keys() & second.keys())
    images = tuple(
        ImageAgreement(seed, index, first[seed, index].boxes, second[seed, index].boxes,
                       tuple(match_boxes(first[seed, index].boxes, second[seed, index].boxes, iou_threshold)))
        for seed, index in both
    )
    return Agreement(a_name, b_name, object_name, images, only_a=len(first) - len(both), only_b=len(second) - len(both),
                     iou_threshold=iou_threshold)


def annotator_agreement(notes: AnnotationSet, a: str, b: str, iou_threshold: float = IOU_THRESHOLD) -> Agreement:
    """Annotator `b` against annotator `a` in one annotation set (AnnotationError naming who is there when either
    has no records)."""
    for name in (a, b):
        if name not in notes.annotators:
            known = ", ".join(notes.annotators) or "nobody yet"
            raise AnnotationError(f"no {notes.object_name} annotations by {name!r} (annotators: {known})")
    return compare(notes.of_annotator(a).images, notes.of_annotator(b).images, a, b, notes.object_name, iou_threshold)


def instrument_annotations(generator, instrument, records: Sequence[Annotation], object_name: str) -> list[Annotation]:
    """The room instrument's annotations of the pool images of `records`, read from their stored z."""
    from .object_removal import auto_annotate

    by_seed: dict[int, list[Annotation]] = {}
    for r in records:
        by_seed.setdefault(r.seed, []).append(r)
    out: list[Annotation] = []
    for seed, group in sorted(by_seed.items()):
        z = torch.tensor([r.z for r in group], dtype=torch.float32)
        out += auto_annotate(generator, instrument, z, object_name, seed=seed, indices=[r.index for r in group])
    return out


def instrument_agreement(generator, instrument, notes: AnnotationSet, annotator: str,
                         iou_threshold: float = IOU_THRESHOLD) -> Agreement:
    """The room instrument (b) against `annotator` (a) on that annotator's images, the instrument run now."""
    mine = notes.for_fit(annotator).images  # AnnotationError when `annotator` has no records
    theirs = instrument_annotations(generator, instrument, mine, notes.object_name)
    return compare(mine, theirs, annotator, INSTRUMENT, notes.object_name, iou_threshold)


def all_pairs(notes: AnnotationSet, iou_threshold: float = IOU_THRESHOLD) -> list[Agreement]:
    """Every pair of annotators of the set (people and stored instrument records), each pair once, by name."""
    names = notes.annotators
    return [annotator_agreement(notes, a, b, iou_threshold) for i, a in enumerate(names) for b in names[i + 1 :]]


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def _num(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f}"


def format_agreement(agreements: Sequence[Agreement], per_image: bool = False) -> str:
    """What `dcgan forget agree` prints: per pair the totals (and with `per_image`, a line per compared image)."""
    lines = []
    for g in agreements:
        t = g.table
        lines += [
            f"{g.b} against {g.a} ({g.object_name}): {g.n_images} images annotated by both "
            f"({g.only_a} by {g.a} only, {g.only_b} by {g.b} only)",
            f"  image level: agree on {g.n_agree} of {g.n_images} ({_pct(g.percent_agreement)}), Cohen's kappa "
            f"{_num(g.kappa)}; both see it {t['both']}, neither {t['neither']}, only {g.a} {t['only_a']}, "
            f"only {g.b} {t['only_b']}",
            f"  boxes (IoU >= {g.iou_threshold:g}): {g.n_matched} matched of {g.n_a_boxes} ({g.a}) and {g.n_b_boxes} "
            f"({g.b}); F1 {_num(g.f1)}, precision {_num(g.precision)}, recall {_num(g.recall)}, mean IoU "
            f"{_num(g.mean_iou)}",
        ]
        if per_image:
            lines.append(f"  {'seed':>6s} {'index':>5s} {g.a[:10]:>10s} {g.b[:10]:>10s} {'matched':>7s} {'F1':>6s} "
                         f"{'mean IoU':>8s}  agree")
            for i in g.images:
                lines.append(f"  {i.seed:6d} {i.index:5d} {len(i.a_boxes):10d} {len(i.b_boxes):10d} {i.n_matched:7d} "
                             f"{_num(i.f1):>6s} {_num(i.mean_iou):>8s}  {'yes' if i.agree else 'NO'}")
    return "\n".join(lines)
