"""Reading generated faces with the face instrument: what it says of samples, in labels and in words.

`label_samples` generates samples 0..n-1 of a seed and reads them; `read_codes` / `read_images`
read given codes or images. Labels are bool per attribute of FACE_ATTRIBUTES (P >= 0.5) plus the
float head "turn" in [-1, 1] (-1 looking towards the image's left edge).

    samples = label_samples(model.generator, load_instrument(default_instrument_path("faces")), n=2000, seed=0)
    samples.labels()["smiling"].mean()                         # share the instrument reads as smiling
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from ..generate import generate
from ..models import Generator
from .arithmetic import as_codes
from .instruments import FACE_ATTRIBUTES, TURN_SIGN_MARGIN, FaceReading, read_faces

TURN_SELECT = 0.5  # exemplars "looking left / right" have turn below -0.5 / above 0.5
FACE_WORDS = {"glasses": ("with glasses", "without glasses"), "smiling": ("smiling", "neutral"), "masculine": ("masculine", "feminine")}


def face_instrument_problem(model) -> str | None:
    """Why the face instrument's readings of a `LoadedModel`'s images would mean little, or None when it is a 64-px RGB faces model."""
    cfg = model.config
    train = model.checkpoint.train_config or {}
    dataset = train.get("dataset") or model.checkpoint.meta.get("dataset")
    if cfg.channels != 3:
        return f"it draws {cfg.channels}-channel images and the face instrument reads RGB faces"
    if dataset != "faces" or cfg.image_size != 64:
        return (f"it is a {cfg.image_size}-px model of {dataset or 'an unknown data set'}; the face instrument was trained "
                "on 64-px faces of the `faces` data set, so what it reads here means little")
    return None


@dataclass
class LabelledSamples(FaceReading):
    """Generated faces and what the face instrument read on them: a FaceReading with the codes that drew them."""

    z: np.ndarray = field(kw_only=True)  # (n, nz) float32

    def __len__(self) -> int:
        return len(self.z)


def read_codes(generator: Generator, instrument, z: torch.Tensor, batch_size: int = 256) -> tuple[np.ndarray, LabelledSamples]:
    """Generate the faces of codes z and read them: (uint8 (N, H, W, C) images, LabelledSamples)."""
    z = as_codes(z)
    images = generate(generator, z, batch_size=batch_size)
    return images, read_images(instrument, images, z)


def read_images(instrument, images: np.ndarray, z: torch.Tensor | np.ndarray | None = None) -> LabelledSamples:
    """Read uint8 (N, H, W, C) images (any size; 3 channels) with the face instrument."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[None]
    if images.shape[-1] != 3:
        raise ValueError(f"the face instrument reads RGB images; these have {images.shape[-1]} channel(s)")
    reading = read_faces(instrument, images.transpose(0, 3, 1, 2))
    zz = np.zeros((len(images), 0), np.float32) if z is None else as_codes(z).numpy()
    return LabelledSamples(z=zz, probabilities=reading.probabilities, turn=reading.turn)


def label_samples(
    generator: Generator, instrument, n: int, seed: int = 0, batch_size: int = 256,
    progress: Callable[[int, int], None] | None = None,
) -> LabelledSamples:
    """Samples 0..n-1 of `sample_z(n, config, seed)` with the face instrument's readings; progress(done, n) per batch."""
    from ..latent import sample_z

    if n < 1:
        raise ValueError(f"label at least one sample, got n={n}")
    z = sample_z(n, generator.config, seed=seed)
    parts = []
    for start in range(0, n, batch_size):
        parts.append(read_codes(generator, instrument, z[start : start + batch_size], batch_size)[1])
        if progress is not None:
            progress(min(start + batch_size, n), n)
    return concat_labelled(parts)


def concat_labelled(parts: Sequence[LabelledSamples]) -> LabelledSamples:
    """One LabelledSamples from several, in order."""
    return LabelledSamples(
        z=np.concatenate([p.z for p in parts]),
        probabilities={k: np.concatenate([p.probabilities[k] for p in parts]) for k in parts[0].probabilities},
        turn=np.concatenate([p.turn for p in parts]),
    )


def turn_side(turn: np.ndarray, margin: float = TURN_SIGN_MARGIN) -> np.ndarray:
    """(N,) -1 looking left, 0 frontal, +1 looking right (|turn| below `margin` is frontal)."""
    turn = np.asarray(turn)
    return np.where(turn < -margin, -1, np.where(turn > margin, 1, 0))



def reading_summary(labels: Mapping[str, np.ndarray]) -> str:
    """What the instrument says of a few images, for people.

    E.g. "9/9 smiling · 9/9 masculine · 8/9 without glasses · turn: 2 left, 7 frontal, 0 right". Each attribute is told by its majority side, so "9/9 feminine" rather than "0/9 masculine".
    """
    parts = []
    for k in FACE_ATTRIBUTES:
        if k not in labels:
            continue
        v = np.asarray(labels[k], dtype=bool)
        n = len(v)
        yes, no = FACE_WORDS[k]
        hits = int(v.sum())
        parts.append(f"{hits}/{n} {yes}" if 2 * hits >= n else f"{n - hits}/{n} {no}")
    if "turn" in labels:
        side = turn_side(labels["turn"])
        parts.append(f"turn: {int((side < 0).sum())} left, {int((side == 0).sum())} frontal, {int((side > 0).sum())} right")
    return " · ".join(parts)
