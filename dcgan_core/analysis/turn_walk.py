"""The turn vector (paper Fig. 8): walk one face along the learned turn axis and measure that only the head turns.

The paper averaged the z of faces looking left and of faces looking right; the difference is a
"turn" vector, and walking along it rotates a face. Here the face instrument labels a pool of
samples, the axis is mean(z of faces looking right) - mean(z of faces looking left)
(`turn_axis`), and one face z is walked from z - span/2 * axis to z + span/2 * axis
(`walk_codes`). Every frame is read by the instrument and two things are measured:

    turns     the head turns one way: the share of consecutive frames whose turn reading moves in
              the walk's direction (towards the right), and the Spearman rank correlation of the
              turn reading with the frame number (1: strictly monotonic)
    stays     the person stays: per attribute the instrument reads (glasses, smiling, masculine),
              the share of frames that read as the face itself does; an attribute is kept when
              that share is at least KEEP_SHARE (90%)

Both are measured again on the same walk done in pixel space: a linear blend of the walk's two
end images, which is what "moving between two pictures" gives without a model. The instrument
does not read skin or hair colour, so they are not scored. It also reads a blend of a face looking
left and the same face looking right (two ghosted noses) as a face half turned, so when the model's
discriminator is given, a third figure says which frames look like the model's faces: D's P(real)
on the inner frames (the two end frames are the same images in both walks).

    axis = turn_axis(model.generator, instrument, n=2000, seed=1)
    walk = turn_walk(model.generator, instrument, axis, sample_z(1, model.config, seed=0)[0])
    walk.latent.monotonic_share, walk.latent.spearman, walk.latent.kept     # in z
    walk.pixels.monotonic_share, walk.pixels.spearman, walk.pixels.kept     # the pixel blend

Command line: `dcgan turn --model faces --seed 0` (`--faces 100` for the figures over 100 faces).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from ..generate import generate
from ..latent import sample_z
from ..images import pixels_to_unit
from ..models import Discriminator, Generator
from .arithmetic import MIN_PER_CONCEPT, concept_axis
from .instruments import FACE_ATTRIBUTES
from .labelling import TURN_SELECT, label_samples, read_images

KEEP_SHARE = 0.9  # an attribute is kept when at least this share of the frames reads as the face does
AXIS_POOL = 2000  # samples labelled to find the turn axis
AXIS_SEED = 1  # their seed (the faces walked come from the walk's own seed)
FRAMES = 9
SPAN = 1.0  # the walk covers this many turn vectors, centred on the face
SPACES = ("z", "pixels")


@dataclass(frozen=True, eq=False)
class TurnAxis:
    """The paper's turn vector: mean z of faces read as looking right minus mean z of faces read as looking left."""

    vector: np.ndarray  # (nz,) float32, towards looking right
    n_left: int  # samples with turn < -TURN_SELECT
    n_right: int  # samples with turn > TURN_SELECT
    pool: int
    seed: int

    @property
    def length(self) -> float:
        return float(np.linalg.norm(self.vector))


def turn_axis(generator: Generator, instrument, n: int = AXIS_POOL, seed: int = AXIS_SEED,
              progress: Callable[[int, int], None] | None = None) -> TurnAxis:
    """Label samples 0..n-1 of `seed` with the face instrument and take mean(right) - mean(left) of their z."""
    samples = label_samples(generator, instrument, n, seed=seed, progress=progress)
    left, right = samples.turn < -TURN_SELECT, samples.turn > TURN_SELECT
    if min(left.sum(), right.sum()) < MIN_PER_CONCEPT:
        raise ValueError(
            f"the instrument read {int(left.sum())} of {n} samples as looking left and {int(right.sum())} as looking right; "
            f"the turn axis needs {MIN_PER_CONCEPT} of each (label more samples, or the model does not turn heads)"
        )
    vector = concept_axis(samples.z[left], samples.z[right]).numpy().astype(np.float32)
    return TurnAxis(vector, int(left.sum()), int(right.sum()), n, seed)


def walk_codes(z: torch.Tensor | np.ndarray, axis: np.ndarray, frames: int = FRAMES, span: float = SPAN) -> torch.Tensor:
    """(frames, nz): z - span/2 * axis to z + span/2 * axis in equal steps (frame frames // 2 is z itself when frames is odd)."""
    if frames < 3:
        raise ValueError(f"a walk needs at least 3 frames, got {frames}")
    if span <= 0:
        raise ValueError(f"the span must be positive, got {span}")
    z = torch.as_tensor(np.asarray(z), dtype=torch.float32).reshape(-1)
    t = torch.linspace(-span / 2, span / 2, frames)[:, None]
    return z[None] + t * torch.as_tensor(axis, dtype=torch.float32)[None]


def pixel_blend(first: np.ndarray, last: np.ndarray, frames: int = FRAMES) -> np.ndarray:
    """uint8 (frames, H, W, C): the linear blend of two uint8 (H, W, C) images, from `first` to `last`."""
    a, b = (np.asarray(x, dtype=np.float64) for x in (first, last))
    s = np.linspace(0.0, 1.0, frames)[:, None, None, None]
    return np.clip(np.rint((1 - s) * a[None] + s * b[None]), 0, 255).astype(np.uint8)


def spearman(values: Sequence[float]) -> float:
    """Spearman rank correlation of `values` with their order 0, 1, 2, ... (ties get average ranks); nan when constant."""
    x = np.asarray(values, dtype=np.float64)
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(len(x), dtype=np.float64)
    for v in np.unique(x):  # average ranks of ties
        tied = x == v
        ranks[tied] = ranks[tied].mean()
    position = np.arange(len(x), dtype=np.float64)
    if ranks.std() == 0:
        return float("nan")
    return float(np.corrcoef(position, ranks)[0, 1])


@dataclass
class WalkReading:
    """What the instrument read along one walk: the turn per frame and each attribute per frame, against the face's own."""

    space: str  # "z" (the model's walk) or "pixels" (the blend of its end images)
    turn: np.ndarray  # (frames,) -1 looks left ... +1 right
    attributes: dict[str, np.ndarray]  # attribute -> bool (frames,)
    reference: dict[str, bool]  # what the instrument reads on the face itself (the walk's centre, in z)
    d_real: np.ndarray | None = None  # (frames,) the model's D, P(real), when D was given

    @property
    def inner_d_real(self) -> float:
        """Mean P(real) of D on the frames between the two ends (nan without D)."""
        return float(np.mean(self.d_real[1:-1])) if self.d_real is not None else float("nan")

    @property
    def monotonic_share(self) -> float:
        """Share of consecutive frames whose turn reading moves towards the right (the walk's direction)."""
        return float(np.mean(np.diff(self.turn) > 0))

    @property
    def spearman(self) -> float:
        """Rank correlation of the turn reading with the frame number: 1 when the head only ever turns right."""
        return spearman(self.turn)

    @property
    def kept(self) -> dict[str, float]:
        """Attribute -> share of frames that read as the face does."""
        return {k: float(np.mean(v == self.reference[k])) for k, v in self.attributes.items()}

    @property
    def person_kept(self) -> bool:
        """Every attribute kept in at least KEEP_SHARE of the frames."""
        return all(share >= KEEP_SHARE for share in self.kept.values())

    def as_dict(self) -> dict:
        return {
            "space": self.space, "turn": [round(float(t), 4) for t in self.turn],
            "monotonic_share": self.monotonic_share, "spearman": self.spearman, "kept": self.kept,
            "person_kept": self.person_kept,
            "d_real": None if self.d_real is None else [round(float(p), 4) for p in self.d_real],
            "inner_d_real": None if self.d_real is None else self.inner_d_real,
        }


@dataclass
class TurnWalk:
    """One face walked along the turn axis in z, and the same walk as a pixel blend, with both frames and readings."""

    seed: int
    index: int  # the face is code `index` of sample_z(..., seed)
    latent: WalkReading
    pixels: WalkReading
    latent_images: np.ndarray  # uint8 (frames, H, W, C)
    pixel_images: np.ndarray  # uint8 (frames, H, W, C)

    def as_dict(self) -> dict:
        return {"seed": self.seed, "index": self.index, "reference": self.latent.reference,
                "z": self.latent.as_dict(), "pixels": self.pixels.as_dict()}


@torch.no_grad()
def d_real(discriminator: Discriminator, images: np.ndarray) -> np.ndarray:
    """(N,) the discriminator's P(real) of uint8 (N, H, W, C) images."""
    device = next(discriminator.parameters()).device
    x = pixels_to_unit(torch.from_numpy(np.ascontiguousarray(np.asarray(images).transpose(0, 3, 1, 2)))).to(device)
    return torch.sigmoid(discriminator(x).float()).cpu().numpy().astype(np.float64)


def _reading(instrument, images: np.ndarray, space: str, reference: dict[str, bool],
             discriminator: Discriminator | None) -> WalkReading:
    labels = read_images(instrument, images).labels()
    return WalkReading(space, np.asarray(labels["turn"], dtype=np.float64),
                       {k: np.asarray(labels[k], dtype=bool) for k in FACE_ATTRIBUTES}, reference,
                       None if discriminator is None else d_real(discriminator, images))


def turn_walk(generator: Generator, instrument, axis: TurnAxis, z: torch.Tensor | np.ndarray, *, frames: int = FRAMES,
              span: float = SPAN, discriminator: Discriminator | None = None, seed: int = 0, index: int = 0) -> TurnWalk:
    """Walk the face z along the turn axis (`walk_codes`) and as a pixel blend of the walk's end images; read both.

    With `discriminator` (the model's D, eval mode) each frame also gets D's P(real). `seed` and `index`
    only label the result (where z came from).
    """
    codes = walk_codes(z, axis.vector, frames, span)
    face = torch.as_tensor(np.asarray(z), dtype=torch.float32).reshape(1, -1)
    images = generate(generator, torch.cat([codes, face]))
    latent_images, face_image = images[:-1], images[-1:]
    own = read_images(instrument, face_image).labels()
    reference = {k: bool(own[k][0]) for k in FACE_ATTRIBUTES}
    pixel_images = pixel_blend(latent_images[0], latent_images[-1], frames)
    return TurnWalk(seed, index, _reading(instrument, latent_images, "z", reference, discriminator),
                    _reading(instrument, pixel_images, "pixels", reference, discriminator), latent_images, pixel_images)


@dataclass
class TurnSummary:
    """The walk's figures over several faces (faces 0..n-1 of a seed), per space."""

    walks: list[TurnWalk]
    axis: TurnAxis
    frames: int
    span: float
    model: str = ""
    per_space: dict[str, dict[str, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for space in SPACES:
            readings = [w.latent if space == "z" else w.pixels for w in self.walks]
            spearmans = [r.spearman for r in readings]
            row = {
                "monotonic_share": float(np.mean([r.monotonic_share for r in readings])),
                "spearman": float(np.nanmean(spearmans)) if not np.all(np.isnan(spearmans)) else float("nan"),
                "strictly_monotonic": float(np.mean([r.monotonic_share == 1.0 for r in readings])),
                "person_kept": float(np.mean([r.person_kept for r in readings])),
                "inner_d_real": float(np.mean([r.inner_d_real for r in readings])),
            }
            for k in FACE_ATTRIBUTES:
                row[f"kept_{k}"] = float(np.mean([r.kept[k] for r in readings]))
                row[f"kept90_{k}"] = float(np.mean([r.kept[k] >= KEEP_SHARE for r in readings]))
            self.per_space[space] = row

    def as_dict(self) -> dict:
        return {
            "model": self.model, "frames": self.frames, "span": self.span, "keep_share": KEEP_SHARE,
            "axis": {"length": self.axis.length, "n_left": self.axis.n_left, "n_right": self.axis.n_right,
                     "pool": self.axis.pool, "seed": self.axis.seed},
            "faces": len(self.walks), "summary": self.per_space, "walks": [w.as_dict() for w in self.walks],
        }


def turn_walks(generator: Generator, instrument, *, faces: int = 1, seed: int = 0, frames: int = FRAMES, span: float = SPAN,
               axis: TurnAxis | None = None, axis_pool: int = AXIS_POOL, axis_seed: int = AXIS_SEED,
               discriminator: Discriminator | None = None, model: str = "",
               progress: Callable[[int, int], None] | None = None) -> TurnSummary:
    """`turn_walk` for faces 0..faces-1 of `sample_z(faces, config, seed)`, along one turn axis (found here unless given)."""
    if faces < 1:
        raise ValueError(f"walk at least one face, got {faces}")
    axis = axis or turn_axis(generator, instrument, axis_pool, axis_seed)
    codes = sample_z(faces, generator.config, seed=seed)
    walks = []
    for i in range(faces):
        walks.append(turn_walk(generator, instrument, axis, codes[i], frames=frames, span=span, discriminator=discriminator,
                               seed=seed, index=i))
        if progress is not None:
            progress(i + 1, faces)
    return TurnSummary(walks, axis, frames, span, model)


def format_turn(summary: TurnSummary) -> str:
    """The figures for people: per space, the turn's monotonicity and each attribute kept."""
    a = summary.axis
    lines = [
        f"turn walk (paper Fig. 8): {summary.model}",
        f"axis: mean z of {a.n_right} faces looking right - mean z of {a.n_left} looking left (of {a.pool:,} samples of seed "
        f"{a.seed}), length {a.length:.2f}; walk of {summary.frames} frames over {summary.span:g} axis, centred on the face",
    ]
    if len(summary.walks) == 1:
        w = summary.walks[0]
        lines.append(f"face {w.index} of seed {w.seed}: " + ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in w.latent.reference.items()))
        for r in (w.latent, w.pixels):
            kept = ", ".join(f"{k} {100 * s:.0f}%" for k, s in r.kept.items())
            lines.append(f"  {r.space:<7} turn {' '.join(f'{t:+.2f}' for t in r.turn)}")
            lines.append(f"  {'':<7} moves right {100 * r.monotonic_share:.0f}% of steps, Spearman {r.spearman:+.2f}; "
                         f"kept: {kept}; person kept (all >= {100 * KEEP_SHARE:.0f}%): {'yes' if r.person_kept else 'no'}"
                         + (f"; D's P(real), inner frames {r.inner_d_real:.2f}" if r.d_real is not None else ""))
        return "\n".join(lines)
    lines.append(f"{len(summary.walks)} faces (0..{len(summary.walks) - 1} of seed {summary.walks[0].seed}), mean over faces:")
    header = f"{'':<8}{'moves right':>12}{'Spearman':>10}{'monotonic':>11}" + "".join(f"{k:>11}" for k in FACE_ATTRIBUTES)
    lines.append(header + f"{'person kept':>13}{'D P(real)':>11}")
    for space, row in summary.per_space.items():
        kept = "".join(f"{100 * row[f'kept90_{k}']:>10.0f}%" for k in FACE_ATTRIBUTES)
        lines.append(f"{space:<8}{100 * row['monotonic_share']:>11.0f}%{row['spearman']:>+10.2f}"
                     f"{100 * row['strictly_monotonic']:>10.0f}%{kept}{100 * row['person_kept']:>12.0f}%{row['inner_d_real']:>11.2f}")
    lines.append(f"(moves right: share of steps; monotonic: faces whose every step moves right; attribute columns: faces "
                 f"keeping it in >= {100 * KEEP_SHARE:.0f}% of frames; D P(real): the model's D on the inner frames)")
    return "\n".join(lines)
