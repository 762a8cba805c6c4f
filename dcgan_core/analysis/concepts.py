"""Concept vectors in z: vector arithmetic on faces (paper section 6.3.2, Fig. 7), the turn axis (Fig. 8),
and attribute directions learned from thousands of automatically labelled samples (InterFaceGAN, beyond the paper).

The paper found single samples unstable, so a *concept* is the average z of a few exemplars
(3 in the paper): Y = mean(A) - mean(B) + mean(C), e.g. "smiling woman - neutral woman + neutral
man". Y is shown in the centre of a 3x3 grid, surrounded by 8 samples of Y plus uniform noise
in [-0.25, 0.25] per dimension, to show the result is a region of z, not a lucky point. The
same arithmetic on the three mean *images* gives ghostly overlaps (`pixel_arithmetic`).

    from dcgan_core.analysis.concepts import ConceptSet, concept_arithmetic, arithmetic_codes, model_identity

    me = model_identity("faces", model)                       # model = load_model("faces")
    z = sample_z(32, model.config, seed=0)
    a, b, c = (ConceptSet(name, z[list(i)], me) for name, i in
               (("smiling woman", (1, 4, 9)), ("neutral woman", (2, 5, 7)), ("neutral man", (0, 3, 8))))
    y = concept_arithmetic(a, b, c)                           # (nz,)
    images = generate(model.generator, arithmetic_codes(y))   # 9 images, Y at index CENTRE (4)

Concept sets are saved as JSON (atomically) with their codes and the model they belong to.
**Model identity**: a set's codes only mean something for the weights they were picked with, so
a set records the model's name (for people) and a fingerprint: SHA-256 of the model config and
the generator's weights rounded to fp16 (so a shipped fp16 export matches the checkpoint it was
exported from, and any further training step does not). Loading checks z's size and prior
first, then the fingerprint; the name alone never decides (the same weights under another name
are the same model; another run under the same name is not). Every refusal names the set, the
model it was made for, the model in use and what to do.

Learned directions: `label_samples` reads many generated faces with the face instrument,
`fit_directions` fits a linear classifier in z per attribute (scikit-learn) and keeps its unit
normal; `project_out` removes other attributes' directions (conditional manipulation:
move along "smiling" while holding "masculine" fixed), `move_along` applies one.

The benchmark (`arithmetic_benchmark`, `dcgan arithmetic`) picks concept exemplars automatically
by the instrument's labels, over many random draws, and reads the results with the instrument.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..checkpoints import generator_fingerprint
from ..files import write_json_atomic
from ..generate import generate
from ..models import Generator
from .instruments import FACE_ATTRIBUTES, TURN_SIGN_MARGIN, read_faces

FORMAT = "dcgan-explorer-concepts/1"
MIN_PER_CONCEPT = 3  # exemplars averaged per concept (paper: 3; single samples were unstable)
NOISE_SCALE = 0.25  # uniform noise around Y in the paper's Fig. 7: [-0.25, 0.25] per dimension
NEIGHBOURS = 8  # noisy samples around Y (3x3 grid with Y in the middle)
CENTRE = 4  # index of Y among the 9 codes of `arithmetic_codes` (row-major 3x3)
TURN_SELECT = 0.5  # exemplars "looking left / right" have turn below -0.5 / above 0.5
DIRECTION_ATTRIBUTES = (*FACE_ATTRIBUTES, "turn")  # "turn" points towards looking right
CONCEPTS_DIR_ENV = "DCGAN_CONCEPTS_DIR"


class ConceptSetError(ValueError):
    """A concept set that cannot be used here (damaged file, other model, wrong z size); the message says why."""


# --------------------------------------------------------------------------- which model a set belongs to


@dataclass(frozen=True)
class ModelIdentity:
    """Which weights a concept set's codes belong to: a name for people, a fingerprint for the machine."""

    name: str
    fingerprint: str  # see generator_fingerprint
    nz: int
    z_prior: str
    step: int = 0

    @classmethod
    def of(cls, name: str, generator: Generator, step: int = 0) -> ModelIdentity:
        cfg = generator.config
        return cls(name=str(name), fingerprint=generator_fingerprint(generator), nz=cfg.nz, z_prior=cfg.z_prior, step=int(step))

    def describe(self) -> str:
        return f"model {self.name} (step {self.step:,}, weights {self.fingerprint[:12]})"

    def to_dict(self) -> dict:
        return {"name": self.name, "fingerprint": self.fingerprint, "nz": self.nz, "z_prior": self.z_prior, "step": self.step}

    @classmethod
    def from_dict(cls, d: Mapping) -> ModelIdentity:
        return cls(name=str(d["name"]), fingerprint=str(d["fingerprint"]), nz=int(d["nz"]), z_prior=str(d["z_prior"]),
                   step=int(d.get("step", 0)))


def model_identity(name: str, model) -> ModelIdentity:
    """Identity of a `LoadedModel` (its generator and checkpoint step) under the name people know it by."""
    return ModelIdentity.of(name, model.generator, model.checkpoint.step)


# --------------------------------------------------------------------------- concept sets


@dataclass(frozen=True, eq=False)
class ConceptSet:
    """k exemplar codes of one concept ("smiling woman"), for one model.

    `sources` says where each code came from as (seed, index): code `index` of `sample_z(n, config, seed)`
    for any n > index. Empty when unknown.
    """

    name: str
    z: torch.Tensor  # (k, nz) float32, CPU
    model: ModelIdentity
    sources: tuple[tuple[int, int], ...] = ()

    def __post_init__(self) -> None:
        z = torch.as_tensor(self.z, dtype=torch.float32).detach().cpu()
        if z.dim() == 1:
            z = z[None]
        object.__setattr__(self, "z", z)
        object.__setattr__(self, "sources", tuple((int(s), int(i)) for s, i in self.sources))
        if not str(self.name).strip():
            raise ConceptSetError("a concept set needs a name, e.g. 'smiling woman'")
        if z.dim() != 2 or z.shape[0] < 1:
            raise ConceptSetError(f"concept set {self.name!r} needs at least one code as a (k, nz) array, got shape {tuple(z.shape)}")
        if z.shape[1] != self.model.nz:
            raise ConceptSetError(
                f"concept set {self.name!r} holds {z.shape[1]}-d codes, but {self.model.describe()} takes {self.model.nz}-d codes"
            )
        if not torch.isfinite(z).all():
            raise ConceptSetError(f"concept set {self.name!r} holds codes that are not finite numbers")
        if self.sources and len(self.sources) != z.shape[0]:
            raise ConceptSetError(f"concept set {self.name!r} has {z.shape[0]} codes but {len(self.sources)} sources")

    def __len__(self) -> int:
        return self.z.shape[0]

    @property
    def mean(self) -> torch.Tensor:
        """(nz,) the concept's vector: the average of its exemplars."""
        return self.z.mean(0)

    def to_dict(self) -> dict:
        return {
            "format": FORMAT,
            "name": self.name,
            "model": self.model.to_dict(),
            "z": [[float(v) for v in row] for row in self.z.tolist()],  # float32 values round-trip exactly
            "sources": [{"seed": s, "index": i} for s, i in self.sources],
        }

    @classmethod
    def from_dict(cls, d: Mapping, where: str = "the file") -> ConceptSet:
        if not isinstance(d, Mapping) or d.get("format") != FORMAT:
            raise ConceptSetError(f"{where} is not a concept set (expected format {FORMAT!r})")
        try:
            return cls(
                name=str(d["name"]),
                z=torch.tensor(d["z"], dtype=torch.float32),
                model=ModelIdentity.from_dict(d["model"]),
                sources=tuple((int(s["seed"]), int(s["index"])) for s in d.get("sources", [])),
            )
        except ConceptSetError:
            raise
        except RecursionError:
            raise ConceptSetError(f"{where} is nested too deeply to be a concept set") from None
        except (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError, RuntimeError) as e:
            # RuntimeError: torch.tensor of a malformed list
            raise ConceptSetError(f"{where} is a damaged concept set: {type(e).__name__}: {str(e)[:200]}") from None


def check_model(concept: ConceptSet, identity: ModelIdentity) -> None:
    """Raise ConceptSetError, naming both models, unless `concept` was made with exactly these weights."""
    made = concept.model
    again = f"Pick {made.name} in the sidebar to use it, or pick the samples again with {identity.name}."
    if made.nz != identity.nz:
        raise ConceptSetError(
            f"concept set {concept.name!r} holds {made.nz}-d codes of {made.describe()}; {identity.describe()} takes "
            f"{identity.nz}-d codes. {again}"
        )
    if made.z_prior != identity.z_prior:
        raise ConceptSetError(
            f"concept set {concept.name!r} holds codes of a {made.z_prior} prior ({made.describe()}); "
            f"{identity.describe()} draws z from a {identity.z_prior} prior. {again}"
        )
    if made.fingerprint != identity.fingerprint:
        raise ConceptSetError(
            f"concept set {concept.name!r} was made for {made.describe()}, not for {identity.describe()}: other weights "
            f"draw other faces from the same z. {again}"
        )


def concept_set_to_json(concept: ConceptSet) -> str:
    return json.dumps(concept.to_dict(), indent=2, sort_keys=True) + "\n"


def concept_set_from_json(text: str | bytes, expect: ModelIdentity | None = None, where: str = "the file") -> ConceptSet:
    """Parse a concept set; with `expect`, refuse one made for other weights (ConceptSetError)."""
    try:
        d = json.loads(text)
    except (ValueError, UnicodeDecodeError) as e:  # JSONDecodeError, or a number of more than 4,300 digits
        raise ConceptSetError(f"{where} is not JSON: {e}") from None
    except RecursionError:  # e.g. "[[[[..." past Python's recursion limit
        raise ConceptSetError(f"{where} is nested too deeply to be a concept set") from None
    concept = ConceptSet.from_dict(d, where)
    if expect is not None:
        check_model(concept, expect)
    return concept


def save_concept_set(path: str | Path, concept: ConceptSet) -> None:
    """Write `concept` as JSON, atomically (temp file + rename)."""
    write_json_atomic(path, concept.to_dict())


def load_concept_set(path: str | Path, expect: ModelIdentity | None = None) -> ConceptSet:
    """Read a concept set saved by `save_concept_set`; with `expect`, refuse one made for other weights."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise FileNotFoundError(f"no concept set at {path}") from None
    return concept_set_from_json(text, expect, where=str(path))


def concepts_dir() -> Path:
    """$DCGAN_CONCEPTS_DIR, else $XDG_DATA_HOME/dcgan-explorer/concepts (default ~/.local/share/...)."""
    env = os.environ.get(CONCEPTS_DIR_ENV)
    if env:
        return Path(env).expanduser()
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home).expanduser() / "dcgan-explorer" / "concepts"


def safe_name(text: str) -> str:
    """A file-name part from a name people typed: letters, digits, '_' and '-' only, at most 64 characters."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", str(text)).strip("_")[:64]


def concept_set_path(model_name: str, set_name: str, root: str | Path | None = None) -> Path:
    """Where the set `set_name` of model `model_name` is saved: ROOT/MODEL/SET.json, both parts made file-safe."""
    folder, stem = safe_name(model_name) or "model", safe_name(set_name)
    if not stem:
        raise ConceptSetError(f"{set_name!r} cannot name a file: use letters or digits, e.g. 'smiling woman'")
    return Path(root if root is not None else concepts_dir()) / folder / f"{stem}.json"


def list_concept_sets(model_name: str, root: str | Path | None = None) -> list[Path]:
    """Saved concept set files of a model (by name; each is still checked against the weights when loaded)."""
    folder = Path(root if root is not None else concepts_dir()) / (safe_name(model_name) or "model")
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


# --------------------------------------------------------------------------- arithmetic (Fig. 7)


def _codes(x: ConceptSet | torch.Tensor | np.ndarray) -> torch.Tensor:
    z = x.z if isinstance(x, ConceptSet) else torch.as_tensor(np.asarray(x) if not torch.is_tensor(x) else x)
    z = z.detach().to("cpu", torch.float32)
    if z.dim() == 1:
        z = z[None]
    if z.dim() != 2 or z.shape[0] < 1:
        raise ValueError(f"a concept needs at least one code as a (k, nz) array, got shape {tuple(z.shape)}")
    return z


def concept_mean(x: ConceptSet | torch.Tensor | np.ndarray) -> torch.Tensor:
    """(nz,) average code of a concept's (k, nz) exemplars."""
    return _codes(x).mean(0)


def concept_arithmetic(a, b, c) -> torch.Tensor:
    """Y = mean(a) - mean(b) + mean(c), (nz,): e.g. smiling woman - neutral woman + neutral man.

    Each of a, b, c is a ConceptSet or (k, nz) codes (k may differ); codes must have the same nz.
    """
    za, zb, zc = _codes(a), _codes(b), _codes(c)
    if not za.shape[1] == zb.shape[1] == zc.shape[1]:
        raise ValueError(f"concepts have codes of different sizes: {za.shape[1]}, {zb.shape[1]}, {zc.shape[1]}")
    return za.mean(0) - zb.mean(0) + zc.mean(0)


def noisy_neighbours(
    y: torch.Tensor, n: int = NEIGHBOURS, scale: float = NOISE_SCALE, seed: int = 0, clip: float | None = None
) -> torch.Tensor:
    """(n, nz) codes y + u, u uniform in [-scale, scale] per dimension (paper Fig. 7), from `seed` alone.

    The paper does not clip. Y itself often leaves the uniform prior's box [-1, 1] a little (it is a
    sum of three means: per dimension its spread matches the prior's, but it is not bounded), and the
    generator copes; `clip=1.0` keeps the neighbours inside [-1, 1] for those who want only codes the
    model was trained on.
    """
    y = _codes(y)[0]
    if n < 0 or scale < 0:
        raise ValueError(f"n and scale must not be negative, got n={n}, scale={scale}")
    g = torch.Generator().manual_seed(int(seed))
    out = y + (torch.rand(n, y.shape[0], generator=g) * 2 - 1) * scale
    return out.clamp(-clip, clip) if clip is not None else out


def arithmetic_codes(y: torch.Tensor, scale: float = NOISE_SCALE, seed: int = 0, clip: float | None = None) -> torch.Tensor:
    """(9, nz): the paper's Fig. 7 grid, row-major 3x3, Y at index CENTRE and its 8 noisy neighbours around it."""
    y = _codes(y)[0]
    around = noisy_neighbours(y, NEIGHBOURS, scale, seed, clip)
    return torch.cat([around[:CENTRE], y[None], around[CENTRE:]])


def _float_images(images) -> np.ndarray:
    x = np.asarray(images)
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4 or len(x) < 1:
        raise ValueError(f"expected (N, H, W, C) images, got shape {x.shape}")
    return x.astype(np.float64)


def mean_image(images: np.ndarray) -> np.ndarray:
    """uint8 (H, W, C): the pixel-wise average of uint8 (N, H, W, C) images."""
    return np.clip(np.rint(_float_images(images).mean(0)), 0, 255).astype(np.uint8)


def pixel_arithmetic(images_a: np.ndarray, images_b: np.ndarray, images_c: np.ndarray) -> np.ndarray:
    """uint8 (H, W, C): mean(A) - mean(B) + mean(C) on the images themselves, clipped to 0..255.

    The same equation as `concept_arithmetic`, in pixel space (the paper's comparison): it
    overlays the three averages instead of combining what they show.
    """
    a, b, c = (_float_images(x) for x in (images_a, images_b, images_c))
    if not a.shape[1:] == b.shape[1:] == c.shape[1:]:
        raise ValueError(f"images differ in size: {a.shape[1:]}, {b.shape[1:]}, {c.shape[1:]}")
    return np.clip(np.rint(a.mean(0) - b.mean(0) + c.mean(0)), 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------- axes between two concepts (Fig. 8)


def concept_axis(a, b) -> torch.Tensor:
    """(nz,) mean(b) - mean(a): the direction from concept a to concept b (e.g. looking left -> looking right)."""
    za, zb = _codes(a), _codes(b)
    if za.shape[1] != zb.shape[1]:
        raise ValueError(f"concepts have codes of different sizes: {za.shape[1]}, {zb.shape[1]}")
    return zb.mean(0) - za.mean(0)


def axis_strip(a, b, steps: int = 9, extend: float = 0.0) -> torch.Tensor:
    """(steps, nz) codes from mean(a) to mean(b) in a straight line; `extend` > 0 goes that fraction of the axis beyond both ends."""
    if steps < 2:
        raise ValueError(f"a strip needs at least 2 steps, got {steps}")
    start = concept_mean(a)
    t = torch.linspace(-extend, 1 + extend, steps)[:, None]
    return start + t * concept_axis(a, b)


def along_axis(z: torch.Tensor, axis: torch.Tensor, amounts: Sequence[float] | torch.Tensor) -> torch.Tensor:
    """(N, len(amounts), nz): each code of z (N, nz) plus amount * axis (paper Fig. 8: a turn vector added to random faces)."""
    z = _codes(z)
    amounts = torch.as_tensor(amounts, dtype=torch.float32)
    return z[:, None, :] + amounts[None, :, None] * _codes(axis)[0][None, None, :]


# --------------------------------------------------------------------------- reading faces with the instrument


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
class LabelledSamples:
    """Generated faces and what the face instrument read on them."""

    z: np.ndarray  # (n, nz) float32
    probabilities: dict[str, np.ndarray]  # glasses / smiling / masculine -> (n,) P(yes)
    turn: np.ndarray  # (n,) in [-1, 1], -1 looking towards the image's left edge

    def __len__(self) -> int:
        return len(self.z)

    def labels(self, threshold: float = 0.5) -> dict[str, np.ndarray]:
        """Bool (n,) per attribute, plus the float "turn" (as FaceReading.labels)."""
        out: dict[str, np.ndarray] = {k: v >= threshold for k, v in self.probabilities.items()}
        out["turn"] = self.turn
        return out


def read_codes(generator: Generator, instrument, z: torch.Tensor, batch_size: int = 256) -> tuple[np.ndarray, LabelledSamples]:
    """Generate the faces of codes z and read them: (uint8 (N, H, W, C) images, LabelledSamples)."""
    z = _codes(z)
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
    zz = np.zeros((len(images), 0), np.float32) if z is None else _codes(z).numpy()
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


_WORDS = {"glasses": ("with glasses", "without glasses"), "smiling": ("smiling", "neutral"), "masculine": ("masculine", "feminine")}


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
        yes, no = _WORDS[k]
        hits = int(v.sum())
        parts.append(f"{hits}/{n} {yes}" if 2 * hits >= n else f"{n - hits}/{n} {no}")
    if "turn" in labels:
        side = turn_side(labels["turn"])
        parts.append(f"turn: {int((side < 0).sum())} left, {int((side == 0).sum())} frontal, {int((side > 0).sum())} right")
    return " · ".join(parts)


# --------------------------------------------------------------------------- learned directions (InterFaceGAN)


def binary_targets(labels: Mapping[str, np.ndarray], turn_margin: float = TURN_SIGN_MARGIN) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per attribute, (which samples to use (bool N), target (bool, of those)). "turn": |turn| >= margin, target looking right."""
    out = {}
    for k in FACE_ATTRIBUTES:
        if k in labels:
            v = np.asarray(labels[k], dtype=bool)
            out[k] = (np.ones(len(v), bool), v)
    if "turn" in labels:
        t = np.asarray(labels["turn"], dtype=np.float64)
        use = np.abs(t) >= turn_margin
        out["turn"] = (use, t[use] > 0)
    return out


@dataclass(frozen=True, eq=False)
class Direction:
    """A unit normal in z: moving along it makes the attribute more likely (turn: looking more to the right)."""

    attribute: str
    normal: np.ndarray  # (nz,) unit length, float64
    accuracy: float  # of the linear classifier on held-out samples
    n_train: int
    n_test: int
    positives: int  # samples with the attribute (turn: looking right), train and test
    negatives: int


@dataclass
class FittedDirections:
    directions: dict[str, Direction]  # attribute -> direction, in DIRECTION_ATTRIBUTES order
    skipped: dict[str, str] = field(default_factory=dict)  # attribute -> why it could not be fitted
    n: int = 0  # labelled samples used

    def normals(self) -> dict[str, np.ndarray]:
        return {k: d.normal for k, d in self.directions.items()}


def held_out(n: int, test_fraction: float, seed: int) -> np.ndarray:
    """Bool (n,): a random `test_fraction` of n samples (from `seed`) held out for testing."""
    is_test = np.zeros(n, bool)
    is_test[np.random.default_rng(seed).permutation(n)[: int(round(n * test_fraction))]] = True
    return is_test


def fit_directions(
    z: np.ndarray | torch.Tensor,
    labels: Mapping[str, np.ndarray],
    test_fraction: float = 0.25,
    seed: int = 0,
    method: str = "logistic",
    min_per_class: int = 10,
) -> FittedDirections:
    """Fit a linear classifier in z per attribute and keep its unit normal (InterFaceGAN, Shen et al. 2020).

    Args:
        z: (N, nz) codes.
        labels: bool (N,) per attribute of FACE_ATTRIBUTES and/or float "turn" (as `LabelledSamples.labels()`).
        test_fraction: share of samples held out to report accuracy (random split from `seed`).
        method: "logistic" (LogisticRegression) or "svm" (LinearSVC).
        min_per_class: attributes with fewer samples on either side are skipped (reason in `.skipped`).

    Returns:
        FittedDirections: direction per attribute (normal towards "yes"; turn towards "right") and held-out accuracy.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import LinearSVC

    if method not in ("logistic", "svm"):
        raise ValueError(f"method must be 'logistic' or 'svm', got {method!r}")
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be between 0 and 1, got {test_fraction}")
    x_all = np.asarray(z.detach().cpu().numpy() if torch.is_tensor(z) else z, dtype=np.float64)
    is_test = held_out(len(x_all), test_fraction, seed)
    fitted: dict[str, Direction] = {}
    skipped: dict[str, str] = {}
    for attr, (use, y) in binary_targets(labels).items():
        x, test = x_all[use], is_test[use]
        pos, neg = int(y.sum()), int((~y).sum())
        side = "looking right" if attr == "turn" else attr
        if min(pos, neg) < min_per_class or min(y[~test].sum(), (~y[~test]).sum()) < 1:
            skipped[attr] = (
                f"{pos} of {len(y)} samples read as {side} and {neg} not; need {min_per_class} on each side "
                "(label more samples, or the model does not draw this attribute)"
            )
            continue
        clf = LogisticRegression(C=1.0, max_iter=2000) if method == "logistic" else LinearSVC(C=1.0, max_iter=5000)
        clf.fit(x[~test], y[~test])
        w = clf.coef_.ravel().astype(np.float64)
        norm = np.linalg.norm(w)
        if not np.isfinite(norm) or norm == 0:
            skipped[attr] = "the classifier found no direction (all weights zero)"
            continue
        accuracy = float((clf.predict(x[test]) == y[test]).mean()) if test.any() else float("nan")
        fitted[attr] = Direction(attr, w / norm, accuracy, int((~test).sum()), int(test.sum()), pos, neg)
    return FittedDirections(directions=fitted, skipped=skipped, n=len(x_all))


def project_out(direction: np.ndarray, other: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
    """Unit `direction` with the component along `other` (one direction or several) removed.

    Conditional manipulation (InterFaceGAN): moving along the result changes the first attribute
    while the linear scores of the others stay put. Several others are removed together (their
    span), not one after the other. Raises ValueError if `direction` lies in their span.
    """
    d = np.asarray(direction, dtype=np.float64).ravel()
    others = [np.asarray(o, dtype=np.float64).ravel() for o in (other if isinstance(other, (list, tuple)) else [other])]
    others = [o for o in others if o.size]
    if not others:
        return d / np.linalg.norm(d)
    basis, _ = np.linalg.qr(np.stack(others, axis=1))  # (nz, k) orthonormal columns spanning the others
    rest = d - basis @ (basis.T @ d)
    norm = np.linalg.norm(rest)
    if norm < 1e-6 * max(np.linalg.norm(d), 1e-12):
        raise ValueError("the direction lies in the span of the held attributes: nothing is left to move along")
    return rest / norm


def move_along(z: torch.Tensor | np.ndarray, direction: np.ndarray | torch.Tensor, amount: float | Sequence[float]) -> torch.Tensor:
    """z + amount * direction (z units along a unit direction). z: (N, nz) or (nz,); a sequence of amounts gives (N, len, nz)."""
    z = _codes(z)
    d = torch.as_tensor(np.asarray(direction), dtype=torch.float32).ravel()
    if np.ndim(amount) == 0:
        return z + float(amount) * d
    return along_axis(z, d, amount)


# --------------------------------------------------------------------------- the benchmark: equations over many draws


@dataclass(frozen=True)
class Concept:
    """A concept defined by the instrument's labels: {attribute: True/False} and/or {"turn": "left"/"right"}."""

    name: str
    wants: Mapping[str, bool | str]

    def _mask(self, labels: Mapping[str, np.ndarray], turn_threshold: float) -> np.ndarray:
        n = len(next(iter(labels.values())))
        ok = np.ones(n, bool)
        for k, v in self.wants.items():
            if k == "turn":
                t = np.asarray(labels["turn"])
                ok &= (t < -turn_threshold) if v == "left" else (t > turn_threshold)
            else:
                ok &= np.asarray(labels[k]).astype(np.int8) == int(bool(v))  # bools, or 1 / 0 / -1 (unsure)
        return ok

    def select(self, labels: Mapping[str, np.ndarray]) -> np.ndarray:
        """Bool (N,): samples that are clear exemplars (turn beyond TURN_SELECT); labels as `exemplar_labels` gives them."""
        return self._mask(labels, TURN_SELECT)

    def shown_by(self, labels: Mapping[str, np.ndarray]) -> np.ndarray:
        """Bool (N,): images the instrument reads as this concept (turn beyond TURN_SIGN_MARGIN)."""
        return self._mask(labels, TURN_SIGN_MARGIN)


@dataclass(frozen=True)
class Equation:
    """a - b + c should show `target`."""

    name: str
    a: Concept
    b: Concept
    c: Concept
    target: Concept

    def describe(self) -> str:
        return f"{self.a.name} - {self.b.name} + {self.c.name} = {self.target.name}"


EQUATIONS = {
    "smile": Equation(
        "smile",
        Concept("smiling woman", {"smiling": True, "masculine": False}),
        Concept("neutral woman", {"smiling": False, "masculine": False}),
        Concept("neutral man", {"smiling": False, "masculine": True}),
        Concept("smiling man", {"smiling": True, "masculine": True}),
    ),
    "glasses": Equation(
        "glasses",
        Concept("man with glasses", {"glasses": True, "masculine": True}),
        Concept("man without glasses", {"glasses": False, "masculine": True}),
        Concept("woman without glasses", {"glasses": False, "masculine": False}),
        Concept("woman with glasses", {"glasses": True, "masculine": False}),
    ),
}
TURN_LEFT = Concept("looking left", {"turn": "left"})
TURN_RIGHT = Concept("looking right", {"turn": "right"})


@dataclass
class EquationResult:
    """How often an equation gave its target over random draws of exemplars, read by the instrument."""

    name: str  # "smile", "glasses" or "turn"
    equation: str  # in words
    draws: int  # 0 when the pool lacked exemplars (see `skipped`)
    majority: int = 0  # draws where at least 5 of the 9 images show the target (turn: at both ends)
    all_nine: int = 0  # draws where all 9 do (turn: all 18 images)
    pixel: int = 0  # draws where the pixel-space result shows the target (turn: both mean images)
    c_alone: int | None = None  # draws where mean(C) and its 8 neighbours already show the target on a majority (no turn)
    kept_by_mean: dict[str, float] = field(default_factory=dict)  # concept -> share of draws where mean(its exemplars) and
    # its 8 noisy neighbours still show that concept on a majority: averaging z only works where this is near 100%
    per_attribute: dict[str, float] = field(default_factory=dict)  # e.g. "feminine": share of all result images that are
    chance: float = 0.0  # share of random samples already showing the target (turn: P(left) x P(right))
    ceilings: dict[str, float] = field(default_factory=dict)  # majority rate of the same protocol on exact half-spaces of z:
    # "ideal" (any linear z), "axes" (one z axis per attribute), "fitted" (this model's linear part); see linear_ceiling
    exemplars: dict[str, int] = field(default_factory=dict)  # concept -> pool samples that qualified
    skipped: str = ""  # why the equation could not be run

    def rates(self) -> dict[str, float]:
        d = max(self.draws, 1)
        out = {"majority": self.majority / d, "all_nine": self.all_nine / d, "pixel": self.pixel / d}
        if self.c_alone is not None:
            out["c_alone"] = self.c_alone / d
        return out


@dataclass
class ArithmeticBenchmark:
    results: list[EquationResult]
    draws: int
    pool: int
    seed: int
    scale: float
    per_concept: int
    model: str
    confidence: float = 0.5

    def as_dict(self) -> dict:
        return {
            "model": self.model, "draws": self.draws, "pool": self.pool, "seed": self.seed, "scale": self.scale,
            "per_concept": self.per_concept, "confidence": self.confidence,
            "results": [{**r.__dict__, "rates": r.rates()} for r in self.results],
        }


def exemplar_labels(samples: LabelledSamples, confidence: float = 0.5) -> dict[str, np.ndarray]:
    """Labels for picking exemplars: per attribute 1 (P >= confidence), 0 (P <= 1 - confidence) or -1 (unsure: never picked).

    At confidence 0.5 these are the plain labels. "turn" is passed through (exemplars need |turn| > TURN_SELECT).
    """
    if not 0.5 <= confidence < 1:
        raise ValueError(f"confidence must be in [0.5, 1), got {confidence}")
    out: dict[str, np.ndarray] = {}
    for k, p in samples.probabilities.items():
        out[k] = np.where(p >= confidence, 1, np.where(p <= 1 - confidence, 0, -1)).astype(np.int8)
    out["turn"] = samples.turn
    return out


def _exemplar_pools(concepts: Sequence[Concept], labels: Mapping[str, np.ndarray], k: int) -> tuple[list[np.ndarray], str]:
    """Indices of the pool samples qualifying for each concept, and why some concept has fewer than k (or "")."""
    found = [np.flatnonzero(c.select(labels)) for c in concepts]
    short = [f"{c.name!r} ({len(f)})" for c, f in zip(concepts, found) if len(f) < k]
    why = f"too few exemplars in the pool for {', '.join(short)}; need {k} each: use a bigger pool, or the model does not draw them (yet)"
    return found, why if short else ""


@dataclass
class EquationDraws:
    """Random draws of an equation's exemplars and the 9 codes each gives (the protocol, apart from any reading)."""

    picks: list[np.ndarray]  # per draw: pool indices of the a, b, c exemplars, per_concept each, in that order
    seeds: list[int]  # per draw: the seed of the 8 neighbours' noise
    exemplars: list[tuple[torch.Tensor, ...]]  # per draw: (a, b, c) codes, (per_concept, nz) each
    codes: torch.Tensor  # (draws * 9, nz): per draw Y at CENTRE and its 8 noisy neighbours


def draw_equation(eq: Equation, pool_z: torch.Tensor, pick_labels, rng, draws: int, per_concept: int, scale: float,
                  clip: float | None = None) -> tuple[EquationDraws | None, list[np.ndarray], str]:
    """Draw `per_concept` exemplars of A, B and C among the pool codes `pick_labels` reads as each; Y and its neighbours.

    Returns (draws or None, the qualifying pool indices per concept, why not: "" when drawn).
    """
    found, why = _exemplar_pools((eq.a, eq.b, eq.c), pick_labels, per_concept)
    if why:
        return None, found, why
    picks = [np.concatenate([rng.choice(f, per_concept, replace=False) for f in found]) for _ in range(draws)]  # (draws, 3k)
    seeds = [int(s) for s in rng.integers(2**31, size=draws)]
    exemplars = [pool_z[p].split(per_concept) for p in picks]  # per draw: (a, b, c) codes
    codes = torch.cat([arithmetic_codes(concept_arithmetic(*e), scale, s, clip) for e, s in zip(exemplars, seeds)])
    return EquationDraws(picks, seeds, exemplars, codes), found, ""


def pixel_results(generator: Generator, pool_z: torch.Tensor, drawn: EquationDraws) -> np.ndarray:
    """uint8 (draws, H, W, C): per draw, the same equation done in pixel space on its exemplars' images."""
    images = generate(generator, pool_z[np.concatenate(drawn.picks)])
    images = images.reshape(len(drawn.picks), 3, -1, *images.shape[1:])  # (draws, a/b/c, per_concept, H, W, C)
    return np.stack([pixel_arithmetic(*draw) for draw in images])


def majority_shows(concept: Concept, labels: Mapping[str, np.ndarray]) -> np.ndarray:
    """Bool (draws,): labels of 9 codes per draw (as `EquationDraws.codes`) show `concept` on at least 5 of them."""
    return concept.shown_by(labels).reshape(-1, 9).sum(1) >= 5


def _run_equation(generator, instrument, eq: Equation, pool_z, pool_labels, pick_labels, rng, draws, per_concept, scale, clip):
    members = (eq.a, eq.b, eq.c)
    drawn, found, why = draw_equation(eq, pool_z, pick_labels, rng, draws, per_concept, scale, clip)
    result = EquationResult(eq.name, eq.describe(), draws=0, chance=float(eq.target.shown_by(pool_labels).mean()),
                            exemplars={c.name: len(f) for c, f in zip(members, found)}, skipped=why)
    if why:
        return result
    seeds, exemplars, codes = drawn.seeds, drawn.exemplars, drawn.codes
    alone = [torch.cat([arithmetic_codes(concept_mean(e[i]), scale, s, clip) for e, s in zip(exemplars, seeds)]) for i in range(3)]
    labels = read_codes(generator, instrument, torch.cat([codes, alone[2], alone[0], alone[1]]))[1].labels()
    part = lambda i: {k: v[i * draws * 9 : (i + 1) * draws * 9] for k, v in labels.items()}  # noqa: E731
    result.kept_by_mean = {c.name: float(majority_shows(c, part(i)).mean()) for c, i in ((eq.a, 2), (eq.b, 3), (eq.c, 1))}
    pixel = pixel_results(generator, pool_z, drawn)
    result.draws = draws
    result.majority = int(majority_shows(eq.target, part(0)).sum())
    result.all_nine = int(eq.target.shown_by(part(0)).reshape(draws, 9).all(1).sum())
    result.pixel = int(eq.target.shown_by(read_images(instrument, pixel).labels()).sum())
    result.c_alone = int(majority_shows(eq.target, part(1)).sum())
    result.per_attribute = {
        _WORDS[k][0 if v else 1]: float((np.asarray(labels[k][: draws * 9], bool) == v).mean()) for k, v in eq.target.wants.items()
    }
    return result


def _run_turn(generator, instrument, pool_z, pool_labels, rng, draws, per_concept, scale, clip) -> EquationResult:
    members = (TURN_LEFT, TURN_RIGHT)
    found, why = _exemplar_pools(members, pool_labels, per_concept)  # turn exemplars: |turn| > TURN_SELECT whatever the confidence
    pool_side = turn_side(pool_labels["turn"])
    result = EquationResult(
        "turn", f"mean({TURN_LEFT.name}) reads left and mean({TURN_RIGHT.name}) reads right", draws=0,
        chance=float((pool_side < 0).mean() * (pool_side > 0).mean()), exemplars={c.name: len(f) for c, f in zip(members, found)},
        skipped=why,
    )
    if why:
        return result
    picks = [np.concatenate([rng.choice(f, per_concept, replace=False) for f in found]) for _ in range(draws)]  # (draws, 2k)
    codes = torch.cat([  # per draw: 9 codes around the left mean, then 9 around the right mean
        torch.cat([arithmetic_codes(concept_mean(half), scale, int(rng.integers(2**31)), clip) for half in pool_z[p].split(per_concept)])
        for p in picks
    ])
    _, reading = read_codes(generator, instrument, codes)
    side = turn_side(reading.turn).reshape(draws, 2, 9)
    ok = np.stack([side[:, 0] < 0, side[:, 1] > 0], axis=1)  # (draws, 2 ends, 9)
    images = generate(generator, pool_z[np.concatenate(picks)])
    means = np.stack([mean_image(images[i : i + per_concept]) for i in range(0, len(images), per_concept)])
    pixel_side = turn_side(read_images(instrument, means).turn).reshape(draws, 2)
    result.draws = draws
    result.majority = int((ok.sum(2) >= 5).all(1).sum())
    result.all_nine = int(ok.all((1, 2)).sum())
    result.pixel = int(((pixel_side[:, 0] < 0) & (pixel_side[:, 1] > 0)).sum())
    result.per_attribute = {"left end reads left": float(ok[:, 0].mean()), "right end reads right": float(ok[:, 1].mean())}
    return result


def arithmetic_benchmark(
    generator: Generator,
    instrument,
    draws: int = 100,
    pool: int = 2000,
    seed: int = 0,
    scale: float = NOISE_SCALE,
    per_concept: int = MIN_PER_CONCEPT,
    clip: float | None = None,
    confidence: float = 0.5,
    model_name: str = "",
    progress: Callable[[str], None] | None = None,
) -> ArithmeticBenchmark:
    """The paper's face equations over `draws` random choices of exemplars, read by the face instrument.

    A pool of `pool` samples (`sample_z(pool, config, seed)`) is labelled once. For each draw and
    equation, `per_concept` exemplars per concept are picked at random among the pool samples the
    instrument reads as that concept (neutral = not smiling; with `confidence` > 0.5, only samples
    whose every wanted attribute has P >= confidence, or <= 1 - confidence for "without"), Y = mean(A) - mean(B) + mean(C) is
    generated with its 8 noisy neighbours, and the 9 images are read. Success: the target's
    attributes on a majority (>= 5/9), or on all 9. Baselines: the same arithmetic on the exemplars'
    images (one image), and C alone (mean(C) with the same 8 noisy neighbours, no A - B).
    `kept_by_mean` says how often each concept's mean code still shows the concept: the
    arithmetic assumes it does, so a low figure there explains a failing equation. Turn: exemplars looking left (turn < -0.5) and right (> 0.5); their mean
    codes, each with 8 noisy neighbours, should read left and right; the pixel baseline reads the
    mean images. An equation whose concepts have too few exemplars in the pool is skipped (`.skipped`).
    """
    from ..latent import sample_z
    from .linear_ceiling import equation_ceilings

    if draws < 1 or pool < 1 or per_concept < 1:
        raise ValueError("draws, pool and per_concept must be at least 1")
    say = progress or (lambda _msg: None)
    say(f"labelling a pool of {pool} samples")
    pool_z = sample_z(pool, generator.config, seed=seed)
    pool_read = read_codes(generator, instrument, pool_z)[1]
    pool_labels, pick_labels = pool_read.labels(), exemplar_labels(pool_read, confidence)
    rng = np.random.default_rng(seed)
    results = []
    for eq in EQUATIONS.values():
        say(f"{eq.describe()}: {draws} draws")
        result = _run_equation(generator, instrument, eq, pool_z, pool_labels, pick_labels, rng, draws, per_concept, scale, clip)
        if not result.skipped:
            result.ceilings = equation_ceilings(eq, pool_z, pool_labels, per_concept=per_concept, scale=scale, seed=seed, clip=clip)
        results.append(result)
    say(f"turn axis: {draws} draws")
    results.append(_run_turn(generator, instrument, pool_z, pool_labels, rng, draws, per_concept, scale, clip))
    return ArithmeticBenchmark(results, draws=draws, pool=pool, seed=seed, scale=scale, per_concept=per_concept, model=model_name,
                               confidence=confidence)


def format_benchmark(report: ArithmeticBenchmark) -> str:
    """The benchmark as a table for the terminal."""
    lines = [
        f"vector arithmetic on {report.model or 'the model'}: {report.draws} draws per equation, {report.per_concept} "
        f"exemplars per concept from a pool of {report.pool} (seed {report.seed}), noise +-{report.scale}"
        + (f", exemplars read with P >= {report.confidence}" if report.confidence > 0.5 else ""),
        f"{'equation':<10}{'majority':>10}{'all 9':>8}{'pixels':>8}{'C alone':>9}{'chance':>8}  per attribute / exemplars in the pool",
    ]
    for r in report.results:
        pool = ", ".join(f"{k} {v}" for k, v in r.exemplars.items())
        if r.skipped:
            lines.append(f"{r.name:<10}{'skipped':>10}{'':>33}  {pool}")
            lines.append(f"{'':<10}{r.equation}: {r.skipped}")
            continue
        rates = r.rates()
        attrs = ", ".join(f"{k} {v:.0%}" for k, v in r.per_attribute.items())
        c_alone = f"{rates['c_alone']:.0%}" if "c_alone" in rates else "-"
        lines.append(
            f"{r.name:<10}{rates['majority']:>10.0%}{rates['all_nine']:>8.0%}{rates['pixel']:>8.0%}{c_alone:>9}{r.chance:>8.0%}"
            f"  {attrs} / {pool}"
        )
        lines.append(f"{'':<10}{r.equation}")
        if r.kept_by_mean:
            lines.append(f"{'':<10}averaging keeps the concept: " + ", ".join(f"mean({k}) {v:.0%}" for k, v in r.kept_by_mean.items()))
        if r.ceilings:
            c = r.ceilings
            lines.append(f"{'':<10}ceiling, the same draws on exact half-spaces of z: any linear z {c['ideal']:.0%}, "
                         f"one axis per attribute {c['axes']:.0%}, this model's linear part {c['fitted']:.0%}")
    lines.append(
        "majority: >= 5 of the 9 images (Y and 8 noisy neighbours) show the target; all 9: every one does; "
        "pixels: the same arithmetic on the exemplars' images (one image); C alone: mean(C) and its 8 neighbours, without "
        "A - B; chance: share of random samples already showing the target; averaging keeps: mean(exemplars) and its 8 neighbours "
        "still show the concept (on a majority), which the arithmetic needs; ceiling: what the protocol scores when every attribute "
        "is exactly a half-space of z (at this pool's shares): the most a linear latent space can score"
    )
    return "\n".join(lines)


def format_seeds(reports: Sequence[ArithmeticBenchmark]) -> str:
    """One line per equation over benchmarks that differ only in their seed: each seed's rate, the mean and its spread.

    One run of 100 draws is uncertain by about 5 points; the seeds show how far a figure moves with
    other exemplars, which is what a comparison between two models has to beat.
    """
    if not reports:
        raise ValueError("no benchmarks to summarise")
    seeds = [r.seed for r in reports]
    lines = [f"vector arithmetic on {reports[0].model or 'the model'} over seeds {', '.join(map(str, seeds))}: "
             f"{reports[0].draws} draws each, {reports[0].per_concept} exemplars per concept (success: >= 5 of 9 images)"]
    for i, first in enumerate(reports[0].results):
        runs = [r.results[i] for r in reports]
        if any(x.skipped for x in runs):
            lines.append(f"{first.name:<9} skipped for some seed: {next(x.skipped for x in runs if x.skipped)}")
            continue
        rates = np.array([x.rates()["majority"] for x in runs])
        pixel = np.array([x.rates()["pixel"] for x in runs])
        spread = f" (s.e. {rates.std(ddof=1) / np.sqrt(len(rates)):.0%})" if len(rates) > 1 else ""
        ceiling = f", ceiling (any linear z) {np.mean([x.ceilings['ideal'] for x in runs]):.0%}" if first.ceilings else ""
        lines.append(f"{first.name:<9} {', '.join(f'{r:.0%}' for r in rates)}: mean {rates.mean():.0%}{spread}; "
                     f"pixel space {pixel.mean():.0%}{ceiling}")
    return "\n".join(lines)
