"""Forgetting to draw an object (paper section 6.3.1, Fig. 6): annotate, fit, drop, measure.

The paper drew 52 window bounding boxes on 150 generated bedrooms, fitted a logistic
regression on the generator's second-highest convolution layer (here
`Generator.penultimate_layer`) that predicts whether a feature activation lies on a
window, and zeroed every feature map with a positive weight at every spatial position.
The generator then draws rooms without windows, putting other objects in their place.

The object is a parameter ("window" by default), so the same works for beds or lamps.

    from dcgan_core.analysis.instruments import default_instrument_path, load_instrument
    from dcgan_core.checkpoints import load_model

    model = load_model("rooms")
    g, layer = model.generator, model.generator.penultimate_layer
    rooms = load_instrument(default_instrument_path("rooms"), kind="rooms")
    pool = sample_z(150, model.config, seed=0)
    notes = auto_annotate(g, rooms, pool, "window", seed=0)      # or boxes drawn by hand in the app
    fit = fit_object_maps(collect_training_data(g, notes, layer))
    maps = fit.maps_above(0.0)                                   # the paper's rule: weight > 0
    before, after = generate_with_and_without(g, sample_z(8, model.config, seed=1), layer, maps)
    report = measure_removal(g, rooms, sample_z(300, model.config, seed=1), layer, maps, "window")

Command line (re-runs the measurement anyone can check):

    dcgan forget measure --model rooms --n-annotate 150 --n 300

On the shipped rooms model (ngf 32, step 7000; 150 pool images annotated by the room instrument;
300 fresh z's): the paper's rule dropped 19 of 32 maps and removed the window from 72% of the
images that had one; 19 random maps removed it from 4% (mean of 5 draws, 0-17% each); the bed
stayed in 100%. The ngf-64 model before it (37 of 64 maps): 93% against 7%.

Annotations
-----------
One JSON file per (model weights, object), written atomically (see `AnnotationStore`):

    {"format": "dcgan-explorer-annotations/1", "object": "window",
     "model": {"name": "rooms", "fingerprint": "<sha256>", "step": 3000, "image_size": 64, "nz": 100},
     "images": [{"seed": 0, "index": 12, "z": [... nz floats ...], "boxes": [[x0, y0, x1, y1], ...],
                 "no_object": false, "source": "hand"}, ...]}

Boxes are in pixels of the 64-px image, x to the right, y down, x1/y1 exclusive (a box
[0, 0, 64, 64] is the whole image). `no_object` marks an image looked at and found to
have none (it adds only negatives); `source` is "hand" or "instrument" (auto-annotated).
The image is sample `index` of `sample_z(POOL_MAX, config, seed)`; its z is stored as
well, so a file stands on its own.

Model identity: annotations only mean something for the weights they were drawn on (the
same z gives another picture after more training), so a file carries the model's name
and a fingerprint of its generator: SHA-256 over the model config and the generator's
state dict with float tensors rounded to fp16 (`user_data.ModelIdentity`). The rounding
makes a shipped fp16 copy (`dcgan export`) and the fp32 checkpoint it came from the same
model. Imports whose fingerprint differs are refused. Files live in `user_data.annotations_dir()`.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from ..data.rooms import OBJECT_NAMES
from ..features import check_layer, layer_maps
from ..files import write_json_atomic
from ..generate import generate
from ..latent import sample_z
from ..models import Generator
from .user_data import ModelIdentity, annotations_dir, safe_name

FORMAT = "dcgan-explorer-annotations/1"
IMAGE_SIZE = 64  # annotations are drawn on 64-px images (the instruments' size)
POOL_MAX = 1000  # pool image i of seed s is sample_z(POOL_MAX, config, seed=s)[i]
SOURCES = ("hand", "instrument")
IDENTITY_KEYS = ("name", "fingerprint", "step", "image_size", "nz")  # what an annotations file records of its model
PAPER_IMAGES, PAPER_BOXES = 150, 52  # what the paper annotated (section 6.3.1)
MIN_BOX_PX = 2.0  # boxes thinner than this (image pixels) are clicks, not boxes
MAX_IMPORT_BYTES = 20_000_000
CONTEXT_OBJECT = "bed"  # "the rest of the scene stays a room": the bed should survive the drop
# Inverse L2 strength of the logistic regression (scikit-learn's C, on standardised activations). Strong:
# neighbouring maps of one layer are highly correlated, and a weakly regularised fit gives near-duplicates
# weights of opposite signs that cancel, so "the maps with the largest weights" stop being the ones that
# draw the object. On runs/rooms64 (step 1750, 150 instrument-annotated images) dropping the top 16 maps
# removed windows from 95% of images at C = 1e-3 and 1e-4, but from 79-82% at C = 0.01-0.1.
DEFAULT_C = 1e-3
RANDOM_DRAWS = 5  # random control: mean over this many draws of random maps (one draw can hit a vital map)

Box = tuple[float, float, float, float]  # (x0, y0, x1, y1) in image pixels, x1/y1 exclusive


class AnnotationError(ValueError):
    """Annotations that cannot be used (malformed, for another model or object); the message says why and what to do."""


# --------------------------------------------------------------------------- annotations


@dataclass(frozen=True)
class Annotation:
    """One pool image and what was marked on it."""

    seed: int  # pool seed
    index: int  # sample index in the pool
    z: tuple[float, ...]  # the code (float32 values), nz numbers
    boxes: tuple[Box, ...] = ()
    no_object: bool = False  # looked at, and the object is not there
    source: str = "hand"  # "hand" or "instrument" (auto-annotated)

    @property
    def key(self) -> tuple[int, int]:
        return (self.seed, self.index)

    @property
    def annotated(self) -> bool:
        """True when the image says something: it has boxes or is marked as having no object."""
        return bool(self.boxes) or self.no_object

    def to_dict(self) -> dict:
        return {
            "seed": self.seed, "index": self.index, "z": list(self.z), "boxes": [list(b) for b in self.boxes],
            "no_object": self.no_object, "source": self.source,
        }


@dataclass(frozen=True)
class AnnotationSet:
    """Every annotated image of one model and one object, in (seed, index) order."""

    model: ModelIdentity
    object_name: str
    images: tuple[Annotation, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "images", tuple(sorted((a for a in self.images if a.annotated), key=lambda a: a.key)))

    def get(self, seed: int, index: int) -> Annotation | None:
        return next((a for a in self.images if a.key == (seed, index)), None)

    @property
    def n_images(self) -> int:
        return len(self.images)

    @property
    def n_boxes(self) -> int:
        return sum(len(a.boxes) for a in self.images)

    @property
    def n_instrument(self) -> int:
        return sum(a.source == "instrument" for a in self.images)

    def merged(self, annotations: Iterable[Annotation]) -> AnnotationSet:
        """These annotations with `annotations` replacing the same (seed, index); an empty one removes the image."""
        by_key = {a.key: a for a in self.images}
        for a in annotations:
            by_key[a.key] = a
        return replace(self, images=tuple(by_key.values()))

    def without_source(self, source: str) -> AnnotationSet:
        return replace(self, images=tuple(a for a in self.images if a.source != source))

    def z(self) -> torch.Tensor:
        """(n_images, nz) float32 codes of the annotated images."""
        return torch.tensor([a.z for a in self.images], dtype=torch.float32).reshape(len(self.images), self.model.nz)

    def to_dict(self) -> dict:
        return {"format": FORMAT, "object": self.object_name, "model": self.model.to_dict(IDENTITY_KEYS),
                "images": [a.to_dict() for a in self.images]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, sort_keys=True) + "\n"

    @classmethod
    def from_dict(
        cls, data, expect_model: ModelIdentity | None = None, expect_object: str | None = None, where: str = "the file"
    ) -> AnnotationSet:
        """Validate and build. Raises AnnotationError naming the problem (and the image and box, where there is one).

        Any structure at all comes in here from an upload, so whatever else goes wrong while reading it
        (a structure nested past Python's recursion limit, a number too large for a float) is an
        AnnotationError naming `where` as well, never a traceback.
        """
        try:
            return cls._from_dict(data, expect_model, expect_object)
        except AnnotationError:
            raise
        except RecursionError:
            raise AnnotationError(f"{where} is nested too deeply to be an annotations file") from None
        except (TypeError, ValueError, KeyError, AttributeError, IndexError, OverflowError) as e:
            raise AnnotationError(f"{where} is not a valid annotations file ({type(e).__name__}: {str(e)[:200]})") from None

    @classmethod
    def _from_dict(cls, data, expect_model: ModelIdentity | None, expect_object: str | None) -> AnnotationSet:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise AnnotationError(f"not a dcgan-explorer annotations file (no '{FORMAT}' format tag)")
        model = _read_model(data.get("model"))
        object_name = data.get("object")
        if not isinstance(object_name, str) or not valid_object_name(object_name):
            raise AnnotationError(f"bad object name {object_name!r}: use letters, digits, - and _ (e.g. window)")
        if expect_model is not None and model.fingerprint != expect_model.fingerprint:
            raise AnnotationError(
                f"these annotations were drawn on {model.describe()}, but the model in use is {expect_model.describe()}. "
                "Annotations only apply to the weights they were drawn on: pick that model, or annotate this one."
            )
        if expect_object is not None and object_name != expect_object:
            raise AnnotationError(
                f"these are {object_name} annotations, but the object in use is {expect_object}: set the object to "
                f"{object_name} first"
            )
        images = data.get("images")
        if not isinstance(images, list):
            raise AnnotationError("'images' must be a list")
        seen: set[tuple[int, int]] = set()
        parsed = []
        for i, item in enumerate(images):
            a = _read_annotation(item, i, model)
            if a.key in seen:
                raise AnnotationError(f"image {i}: seed {a.seed} #{a.index} appears twice")
            seen.add(a.key)
            parsed.append(a)
        return cls(model=model, object_name=object_name, images=tuple(parsed))

    @classmethod
    def from_json(
        cls, text: str | bytes, expect_model: ModelIdentity | None = None, expect_object: str | None = None,
        where: str = "the file",
    ) -> AnnotationSet:
        """Parse and validate an exported file; AnnotationError (one line, naming `where`) for anything unusable."""
        if len(text) > MAX_IMPORT_BYTES:
            raise AnnotationError(f"{where} is too large ({len(text):,} bytes; at most {MAX_IMPORT_BYTES:,})")
        try:
            data = json.loads(text)
        except (ValueError, UnicodeDecodeError) as e:  # JSONDecodeError, or a number of more than 4,300 digits
            raise AnnotationError(f"{where} is not valid JSON: {e}") from None
        except RecursionError:  # e.g. "[[[[..." past Python's recursion limit
            raise AnnotationError(f"{where} is nested too deeply to be an annotations file") from None
        return cls.from_dict(data, expect_model=expect_model, expect_object=expect_object, where=where)


def valid_object_name(name: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}", name))


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _read_model(m) -> ModelIdentity:
    if not isinstance(m, dict):
        raise AnnotationError("'model' must be an object with name, fingerprint, step, image_size and nz")
    ok = (
        isinstance(m.get("name"), str) and isinstance(m.get("fingerprint"), str)
        and re.fullmatch(r"[0-9a-f]{64}", m["fingerprint"]) is not None
        and _is_int(m.get("step")) and _is_int(m.get("image_size")) and _is_int(m.get("nz")) and m["nz"] > 0
    )
    if not ok:
        raise AnnotationError(f"bad 'model' entry {json.dumps(m)[:200]}: needs name, a 64-hex-digit fingerprint, step, image_size and nz")
    if m["image_size"] != IMAGE_SIZE:
        raise AnnotationError(f"annotations are drawn on {IMAGE_SIZE}-px images; this file says {m['image_size']} px")
    return ModelIdentity.from_dict(m, required=IDENTITY_KEYS)


def _read_annotation(item, i: int, model: ModelIdentity) -> Annotation:
    if not isinstance(item, dict):
        raise AnnotationError(f"image {i}: must be an object with seed, index, z, boxes, no_object, source")
    seed, index = item.get("seed"), item.get("index")
    if not (_is_int(seed) and _is_int(index) and seed >= 0 and 0 <= index < POOL_MAX):
        raise AnnotationError(f"image {i}: seed and index must be whole numbers (seed >= 0, 0 <= index < {POOL_MAX})")
    where = f"image {i} (seed {seed} #{index})"
    z = item.get("z")
    if not isinstance(z, list) or len(z) != model.nz or not all(_is_number(v) for v in z):
        raise AnnotationError(f"{where}: z must be a list of {model.nz} finite numbers")
    boxes = item.get("boxes", [])
    if not isinstance(boxes, list):
        raise AnnotationError(f"{where}: boxes must be a list of [x0, y0, x1, y1]")
    parsed = []
    for j, b in enumerate(boxes):
        if not (isinstance(b, list) and len(b) == 4 and all(_is_number(v) for v in b)):
            raise AnnotationError(f"{where}, box {j}: {json.dumps(b)[:80]} is not four numbers [x0, y0, x1, y1]")
        x0, y0, x1, y1 = (float(v) for v in b)
        if not (0 <= x0 < x1 <= model.image_size and 0 <= y0 < y1 <= model.image_size):
            raise AnnotationError(
                f"{where}, box {j}: {b} is not a box inside the {model.image_size}-px image "
                f"(need 0 <= x0 < x1 <= {model.image_size} and 0 <= y0 < y1 <= {model.image_size})"
            )
        parsed.append((x0, y0, x1, y1))
    no_object = item.get("no_object", False)
    if not isinstance(no_object, bool):
        raise AnnotationError(f"{where}: no_object must be true or false")
    if no_object and parsed:
        raise AnnotationError(f"{where}: marked as having no object but has {len(parsed)} boxes")
    source = item.get("source", "hand")
    if source not in SOURCES:
        raise AnnotationError(f"{where}: source must be one of {', '.join(SOURCES)}, got {source!r}")
    return Annotation(
        seed=seed, index=index, z=tuple(float(v) for v in z), boxes=tuple(parsed), no_object=no_object, source=source
    )


def pool_z(config, seed: int, indices: Sequence[int] | None = None) -> torch.Tensor:
    """Codes of the annotation pool: sample i of seed s is sample_z(POOL_MAX, config, seed=s)[i] (any pool size)."""
    z = sample_z(POOL_MAX, config, seed=seed)
    return z if indices is None else z[list(indices)]


def make_annotation(
    seed: int, index: int, z: torch.Tensor | Sequence[float], boxes: Iterable[Sequence[float]] = (), no_object: bool = False,
    source: str = "hand", image_size: int = IMAGE_SIZE, min_box_px: float = MIN_BOX_PX,
) -> Annotation:
    """An annotation from raw boxes (e.g. drawn with the mouse): each clipped to the image, rounded to 0.01 px;
    boxes thinner than `min_box_px` (clicks) dropped. Boxes win over `no_object`."""
    clean = []
    for b in boxes:
        x0, y0, x1, y1 = (float(v) for v in b)
        x0, x1 = sorted((x0, x1))
        y0, y1 = sorted((y0, y1))
        x0, y0 = max(0.0, x0), max(0.0, y0)
        x1, y1 = min(float(image_size), x1), min(float(image_size), y1)
        if x1 - x0 >= min_box_px and y1 - y0 >= min_box_px:
            clean.append((round(x0, 2), round(y0, 2), round(x1, 2), round(y1, 2)))
    zz = z.detach().cpu().float().flatten().tolist() if torch.is_tensor(z) else [float(v) for v in z]
    return Annotation(
        seed=int(seed), index=int(index), z=tuple(zz), boxes=tuple(clean), no_object=bool(no_object) and not clean, source=source
    )


# --------------------------------------------------------------------------- storage


_write_lock = threading.Lock()  # sessions of one app process are threads


class AnnotationStore:
    """Annotations on disk, one JSON file per (model weights, object) in a folder.

    File names come from the model's name and fingerprint and the object, sanitised, never
    from a path a user typed. Every change re-reads the file and rewrites it atomically
    under a lock (threads and, on POSIX, processes), changing only the images it is given:
    two browser tabs editing different images never undo each other's work.
    """

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else annotations_dir()

    def path(self, model: ModelIdentity, object_name: str) -> Path:
        if not valid_object_name(object_name):
            raise AnnotationError(f"bad object name {object_name!r}: use letters, digits, - and _")
        return self.root / f"{safe_name(model.name, 'model')}-{model.fingerprint[:16]}-{safe_name(object_name)}.json"

    def load(self, model: ModelIdentity, object_name: str) -> AnnotationSet:
        """The saved annotations (none yet: an empty set). A damaged file raises AnnotationError naming it."""
        path = self.path(model, object_name)
        try:
            text = path.read_text()
        except FileNotFoundError:
            return AnnotationSet(model=model, object_name=object_name)
        try:
            return AnnotationSet.from_json(text, expect_model=model, expect_object=object_name)
        except AnnotationError as e:
            raise AnnotationError(f"{path}: {e} (move the file away to start afresh)") from None

    def put(self, model: ModelIdentity, object_name: str, annotations: Iterable[Annotation]) -> AnnotationSet:
        """Save these images' annotations (replacing the same seed and index; an empty one removes it); the new set."""
        annotations = list(annotations)
        with self._locked(model, object_name):
            current = self.load(model, object_name)
            updated = current.merged(annotations)
            if updated != current:
                write_json_atomic(self.path(model, object_name), updated.to_dict())
            return updated

    def remove_source(self, model: ModelIdentity, object_name: str, source: str) -> AnnotationSet:
        """Forget every annotation made by `source` (e.g. "instrument")."""
        with self._locked(model, object_name):
            current = self.load(model, object_name)
            updated = current.without_source(source)
            if updated != current:
                write_json_atomic(self.path(model, object_name), updated.to_dict())
            return updated

    def import_json(
        self, model: ModelIdentity, object_name: str, text: str | bytes, where: str = "the file"
    ) -> tuple[AnnotationSet, int]:
        """Validate an exported file (named `where` in messages) for this model and object, then merge it in; (new set, images imported)."""
        imported = AnnotationSet.from_json(text, expect_model=model, expect_object=object_name, where=where)
        return self.put(model, object_name, imported.images), imported.n_images

    def others(self, model: ModelIdentity, object_name: str) -> list[Path]:
        """Annotation files of the same model name and object for other weights (e.g. an earlier training step)."""
        if not self.root.is_dir():
            return []
        mine = self.path(model, object_name)
        pattern = f"{safe_name(model.name, 'model')}-*-{safe_name(object_name)}.json"
        return sorted(p for p in self.root.glob(pattern) if p != mine)

    @contextlib.contextmanager
    def _locked(self, model: ModelIdentity, object_name: str) -> Iterator[None]:
        path = self.path(model, object_name)
        path.parent.mkdir(parents=True, exist_ok=True)
        with _write_lock, open(path.parent / f".{path.name}.lock", "a") as lock:
            try:
                import fcntl

                fcntl.flock(lock, fcntl.LOCK_EX)
            except (ImportError, OSError):  # no POSIX locks here: the thread lock still holds
                pass
            yield


# --------------------------------------------------------------------------- boxes -> feature positions


def _cell_edges(image_size: int, feature_size: int) -> np.ndarray:
    return np.arange(feature_size + 1) * (image_size / feature_size)


def boxes_to_feature_mask(boxes: Iterable[Sequence[float]], image_size: int, feature_size: int) -> np.ndarray:
    """Bool (feature_size, feature_size) [row = y, column = x]: the feature positions *on* the boxes.

    Feature position (r, c) of an S x S map stands for the image cell of S/image_size
    scale around it: columns [c, c + 1) * image_size / S in x, likewise rows in y. The
    position is inside a box when its cell's centre is: x0 <= cx < x1 and y0 <= cy < y1
    (x1/y1 exclusive, like the boxes). A box too small to hold any cell centre marks the
    one cell that holds the box's own centre, so no drawn box is lost.
    """
    edges = _cell_edges(image_size, feature_size)
    centres = (edges[:-1] + edges[1:]) / 2
    mask = np.zeros((feature_size, feature_size), dtype=bool)
    for b in boxes:
        x0, y0, x1, y1 = (float(v) for v in b)
        cols = (centres >= x0) & (centres < x1)
        rows = (centres >= y0) & (centres < y1)
        if cols.any() and rows.any():
            mask[np.ix_(rows, cols)] = True
        else:
            cell = image_size / feature_size
            r = min(int(((y0 + y1) / 2) // cell), feature_size - 1)
            c = min(int(((x0 + x1) / 2) // cell), feature_size - 1)
            mask[max(r, 0), max(c, 0)] = True
    return mask


def boxes_touch_mask(boxes: Iterable[Sequence[float]], image_size: int, feature_size: int) -> np.ndarray:
    """Bool (S, S): positions whose cell overlaps any box at all. Negatives are taken only where this is False."""
    edges = _cell_edges(image_size, feature_size)
    mask = np.zeros((feature_size, feature_size), dtype=bool)
    for b in boxes:
        x0, y0, x1, y1 = (float(v) for v in b)
        cols = (edges[:-1] < x1) & (edges[1:] > x0)
        rows = (edges[:-1] < y1) & (edges[1:] > y0)
        mask[np.ix_(rows, cols)] = True
    return mask


# --------------------------------------------------------------------------- training data and the fit


@dataclass(frozen=True)
class TrainingData:
    """Feature vectors at annotated positions: one row per (image, position)."""

    X: np.ndarray  # (M, C) float32: the layer's activations (after ReLU) at each position
    y: np.ndarray  # (M,) int: 1 inside a box, 0 outside every box
    image: np.ndarray  # (M,) int: row of the annotated image it came from (for splitting by image)
    layer: int
    feature_size: int  # the layer's spatial size S (positions are S x S)

    @property
    def n_positive(self) -> int:
        return int(self.y.sum())

    @property
    def n_negative(self) -> int:
        return int(len(self.y) - self.y.sum())


@torch.inference_mode()
def layer_features(generator: Generator, z: torch.Tensor, layer: int, batch_size: int = 128) -> np.ndarray:
    """float32 (N, C, S, S) activations of hidden `layer` for codes z (the model is not changed)."""
    if generator.training:
        raise ValueError("needs the generator in eval mode (load_model returns it so)")
    layer = check_layer(generator, layer)
    device = next(generator.parameters()).device
    out = []
    for start in range(0, z.shape[0], batch_size):
        out.append(layer_maps(generator, z[start : start + batch_size].to(device=device, dtype=torch.float32), layer)
                   .float().cpu().numpy())
    c, s = generator.feature_channels[layer], generator.feature_sizes[layer]
    return np.concatenate(out) if out else np.zeros((0, c, s, s), np.float32)


def collect_training_data(
    generator: Generator, annotations: AnnotationSet | Sequence[Annotation], layer: int | None = None,
    negatives_per_image: int = 64, seed: int = 0,
) -> TrainingData:
    """Positives and negatives for the logistic regression, from annotated images.

    Positives: every position of `layer` (default: the penultimate one) inside a box
    (`boxes_to_feature_mask`). Negatives, as in the paper, are random samples from the
    same images: up to `negatives_per_image` positions per image whose cells touch no box
    (`boxes_touch_mask`; cells a box edge cuts through are left out of both). Images
    marked "no object" add only negatives. Sampling is seeded.
    """
    images = list(annotations.images if isinstance(annotations, AnnotationSet) else annotations)
    images = [a for a in images if a.annotated]
    layer = generator.penultimate_layer if layer is None else layer
    c, s = generator.feature_channels[layer], generator.feature_sizes[layer]
    if not images:
        return TrainingData(np.zeros((0, c), np.float32), np.zeros(0, np.int64), np.zeros(0, np.int64), layer, s)
    z = torch.tensor([a.z for a in images], dtype=torch.float32)
    rng = np.random.default_rng(seed)
    xs, ys, ids = [], [], []
    batch = 64  # features of a batch at a time: 150 images of a 64-ngf model would hold 40 MB at once
    for i, a in enumerate(images):
        if i % batch == 0:
            feats = layer_features(generator, z[i : i + batch], layer)  # (B, C, S, S)
        pos = boxes_to_feature_mask(a.boxes, generator.config.image_size, s)
        free = np.flatnonzero(~boxes_touch_mask(a.boxes, generator.config.image_size, s).ravel())
        neg = rng.choice(free, size=min(negatives_per_image, free.size), replace=False) if free.size else free
        flat = feats[i % batch].reshape(c, s * s).T  # (S*S, C)
        p = np.flatnonzero(pos.ravel())
        xs += [flat[p], flat[np.sort(neg)]]
        ys += [np.ones(p.size, np.int64), np.zeros(neg.size, np.int64)]
        ids.append(np.full(p.size + neg.size, i, np.int64))
    return TrainingData(np.concatenate(xs).astype(np.float32), np.concatenate(ys), np.concatenate(ids), layer, s)


@dataclass(frozen=True)
class FitResult:
    """A logistic regression "is this feature activation on the object?" over one layer's feature maps.

    `weights` are per feature map, on standardised activations (each map divided by its
    standard deviation over the training positions), so they compare across maps; their
    signs are those of the weights on raw activations. Positive = the map fires on the object.
    Their scale depends on the regularisation, so thresholds apply to `relative_weights`
    (weights / the largest |weight|, in [-1, 1]); threshold 0 is the paper's rule either way.
    """

    weights: np.ndarray  # (C,)
    intercept: float
    layer: int
    accuracy: float | None  # held out: a model fitted on other images, scored on these images' positions
    balanced_accuracy: float | None  # mean of the accuracy on positives and on negatives
    train_accuracy: float
    n_positive: int
    n_negative: int
    n_images: int
    n_test_images: int  # images held out for `accuracy` (0: too few images to hold any out)

    @property
    def relative_weights(self) -> np.ndarray:
        """(C,) weights divided by the largest |weight|: in [-1, 1], same signs and order."""
        top = float(np.abs(self.weights).max()) if self.weights.size else 0.0
        return self.weights / top if top > 0 else np.zeros_like(self.weights)

    def maps_above(self, threshold: float = 0.0) -> np.ndarray:
        """Feature maps whose relative weight exceeds `threshold` (the paper drops weight > 0), largest first."""
        w = self.relative_weights
        idx = np.flatnonzero(w > threshold)
        return idx[np.argsort(-w[idx], kind="stable")]

    def top_maps(self, k: int) -> np.ndarray:
        """The k maps with the largest weights, largest first."""
        return np.argsort(-self.weights, kind="stable")[: max(0, int(k))]


def _logistic(c: float, seed: int):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    # balanced: positives are far fewer than negatives in most images, and the boundary
    # should not just follow the class ratio the annotator happened to draw.
    return make_pipeline(StandardScaler(), LogisticRegression(C=c, class_weight="balanced", max_iter=2000, random_state=seed))


def _held_out_split(data: TrainingData, test_share: float, seed: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Train/test masks over rows, split by image, each side with both classes; None when impossible."""
    ids = np.unique(data.image)
    if ids.size < 4:
        return None
    n_test = max(1, int(round(test_share * ids.size)))
    rng = np.random.default_rng(seed)
    for _ in range(50):
        test_ids = rng.permutation(ids)[:n_test]
        test = np.isin(data.image, test_ids)
        if np.unique(data.y[test]).size == 2 and np.unique(data.y[~test]).size == 2:
            return ~test, test
    return None


def fit_object_maps(data: TrainingData, seed: int = 0, c: float = DEFAULT_C, test_share: float = 0.2) -> FitResult:
    """Fit the logistic regression on all rows; score a second fit held out by image.

    scikit-learn's LogisticRegression on standardised activations, L2 penalty of inverse
    strength `c` (see DEFAULT_C for why it is strong), classes weighted to balance.

    Held out by image, not by position: neighbouring positions of one image are nearly the
    same vector, so a split by position would score memory, not generalisation. The
    reported weights come from the fit on every image. Raises ValueError without both classes.
    """
    if data.n_positive == 0:
        raise ValueError("no feature positions inside a box: draw at least one box (or auto-annotate) before fitting")
    if data.n_negative == 0:
        raise ValueError("no feature positions outside the boxes: annotate more images (or mark some as having none)")
    model = _logistic(c, seed).fit(data.X, data.y)
    lr = model[-1]
    train_accuracy = float(model.score(data.X, data.y))
    accuracy = balanced = None
    n_test = 0
    split = _held_out_split(data, test_share, seed)
    if split is not None:
        train, test = split
        held = _logistic(c, seed).fit(data.X[train], data.y[train])
        pred = held.predict(data.X[test])
        truth = data.y[test]
        accuracy = float((pred == truth).mean())
        balanced = float(np.mean([(pred[truth == k] == k).mean() for k in (0, 1)]))
        n_test = int(np.unique(data.image[test]).size)
    return FitResult(
        weights=lr.coef_[0].astype(np.float64), intercept=float(lr.intercept_[0]), layer=data.layer, accuracy=accuracy,
        balanced_accuracy=balanced, train_accuracy=train_accuracy, n_positive=data.n_positive, n_negative=data.n_negative,
        n_images=int(np.unique(data.image).size), n_test_images=n_test,
    )


# --------------------------------------------------------------------------- dropping and measuring


def random_maps(n_maps: int, k: int, seed: int = 0) -> np.ndarray:
    """k feature maps of 0..n_maps-1 drawn uniformly without replacement (seeded): the control for a drop of k maps."""
    if not 0 <= k <= n_maps:
        raise ValueError(f"cannot draw {k} of {n_maps} feature maps")
    return np.sort(np.random.default_rng(seed).choice(n_maps, size=k, replace=False))


def generate_with_and_without(
    generator: Generator, z: torch.Tensor, layer: int, maps: Sequence[int] | np.ndarray, batch_size: int = 256
) -> tuple[np.ndarray, np.ndarray]:
    """uint8 (N, H, W, C) twice: the images of z, and the same z with `maps` of `layer` zeroed everywhere.

    Dropping is an argument of the forward pass (`Generator.forward(drop=...)`, built on
    `features.set_maps`, as `features.run_with_maps` is), so a model shared by many users
    is never modified.
    """
    before = generate(generator, z, batch_size=batch_size)
    maps = [int(m) for m in maps]
    if not maps:
        return before, before.copy()
    return before, generate(generator, z, batch_size=batch_size, drop={layer: maps})


@dataclass(frozen=True)
class DropOutcome:
    """What the instrument sees after dropping one set of maps, compared with the same z undropped."""

    name: str  # "fitted" or "random"
    maps: tuple[int, ...]
    presence: dict[str, float]  # share of images with each object after the drop
    removed: float | None  # of the images that had the object before, the share that lost it (None: none had it)
    kept: dict[str, float | None]  # per other object: of the images that had it before, the share that still has it
    pixel_change: float  # mean absolute pixel change, 0..255
    removed_per_draw: tuple[float | None, ...] = ()  # random control: `removed` of each draw (the fields above: means)


@dataclass(frozen=True)
class RemovalMeasurement:
    """The share of generated images with the object before and after dropping maps (fitted, and a random control)."""

    object_name: str
    n: int
    presence_before: dict[str, float]  # share of images with each object, no drop
    n_with_object: int  # images that had the object before
    fitted: DropOutcome
    random: DropOutcome
    context_object: str = CONTEXT_OBJECT

    def rows(self) -> list[dict]:
        """One row per condition for a table: none / fitted maps dropped / random maps dropped."""
        o, ctx = self.object_name, self.context_object
        rows = [{"condition": "no drop", "maps dropped": 0, f"with {o}": self.presence_before[o], f"{o} removed": None,
                 f"with {ctx}": self.presence_before.get(ctx), f"{ctx} kept": None, "pixel change": 0.0}]
        draws = len(self.random.removed_per_draw)
        control = "random maps dropped (control" + (f", mean of {draws} draws)" if draws > 1 else ")")
        for name, out in (("fitted maps dropped", self.fitted), (control, self.random)):
            rows.append({
                "condition": name, "maps dropped": len(out.maps), f"with {o}": out.presence[o], f"{o} removed": out.removed,
                f"with {ctx}": out.presence.get(ctx), f"{ctx} kept": out.kept.get(ctx), "pixel change": out.pixel_change,
            })
        return rows

    def to_dict(self) -> dict:
        def outcome(d: DropOutcome) -> dict:
            return {"maps": list(d.maps), "presence": d.presence, "removed": d.removed, "kept": d.kept,
                    "pixel_change": d.pixel_change, "removed_per_draw": list(d.removed_per_draw)}

        return {
            "object": self.object_name, "n": self.n, "presence_before": self.presence_before, "n_with_object": self.n_with_object,
            "fitted": outcome(self.fitted), "random": outcome(self.random), "context_object": self.context_object,
        }


def _presence(instrument, images: np.ndarray) -> dict[str, np.ndarray]:
    from .instruments import read_rooms

    reading = read_rooms(instrument, images.transpose(0, 3, 1, 2))
    return {name: reading.has(name) for name in OBJECT_NAMES}


def _outcome(name: str, maps, before: np.ndarray, after: np.ndarray, had: dict, has: dict, object_name: str) -> DropOutcome:
    def share_lost_or_kept(obj: str, keep: bool) -> float | None:
        base = had[obj]
        if not base.any():
            return None
        return float((has[obj][base] == keep).mean())

    return DropOutcome(
        name=name, maps=tuple(int(m) for m in maps), presence={k: float(v.mean()) for k, v in has.items()},
        removed=share_lost_or_kept(object_name, keep=False),
        kept={k: share_lost_or_kept(k, keep=True) for k in OBJECT_NAMES if k != object_name},
        pixel_change=float(np.abs(after.astype(np.int16) - before.astype(np.int16)).mean()),
    )


def _mean(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return float(np.mean(known)) if known else None


def _average(outcomes: Sequence[DropOutcome]) -> DropOutcome:
    """Several random draws as one outcome: every share the mean over draws; `maps` of the first draw."""
    first = outcomes[0]
    return DropOutcome(
        name=first.name, maps=first.maps,
        presence={k: float(np.mean([o.presence[k] for o in outcomes])) for k in first.presence},
        removed=_mean([o.removed for o in outcomes]),
        kept={k: _mean([o.kept[k] for o in outcomes]) for k in first.kept},
        pixel_change=float(np.mean([o.pixel_change for o in outcomes])),
        removed_per_draw=tuple(o.removed for o in outcomes),
    )


def measure_removal(
    generator: Generator, instrument, z: torch.Tensor, layer: int, maps: Sequence[int] | np.ndarray,
    object_name: str = "window", random_control_seed: int = 0, random_control: Sequence[int] | np.ndarray | None = None,
    context_object: str = CONTEXT_OBJECT, random_draws: int = RANDOM_DRAWS,
) -> RemovalMeasurement:
    """Generate z normally, with `maps` of `layer` dropped, and with as many random maps dropped; read all with the
    room instrument.

    The random control is the mean over `random_draws` draws, `random_maps(C, len(maps), s)` for
    s = random_control_seed, +1, ... (a single draw of many maps sometimes hits a map the whole
    picture needs, and one draw would then decide the result). `random_control` gives the first
    draw's maps instead (the pairs a page shows); the others are still drawn.
    """
    if object_name not in OBJECT_NAMES:
        raise ValueError(f"the room instrument measures {', '.join(OBJECT_NAMES)}; not {object_name!r}")
    if random_draws < 1:
        raise ValueError(f"random_draws must be at least 1, got {random_draws}")
    maps = np.asarray(maps, dtype=np.int64)
    n_maps = generator.feature_channels[layer]
    controls = [random_maps(n_maps, len(maps), random_control_seed + i) for i in range(random_draws)]
    if random_control is not None:
        controls[0] = np.asarray(random_control, dtype=np.int64)
    before, fitted = generate_with_and_without(generator, z, layer, maps)
    had = _presence(instrument, before)
    randoms = []
    for control in controls:
        _, randomised = generate_with_and_without(generator, z, layer, control)
        randoms.append(_outcome("random", control, before, randomised, had, _presence(instrument, randomised), object_name))
    return RemovalMeasurement(
        object_name=object_name, n=int(z.shape[0]), presence_before={k: float(v.mean()) for k, v in had.items()},
        n_with_object=int(had[object_name].sum()),
        fitted=_outcome("fitted", maps, before, fitted, had, _presence(instrument, fitted), object_name),
        random=_average(randoms), context_object=context_object,
    )


def auto_annotate(
    generator: Generator, instrument, z: torch.Tensor, object_name: str = "window", seed: int = 0,
    indices: Sequence[int] | None = None,
) -> list[Annotation]:
    """Annotations made by the room instrument, marked source="instrument": boxes from its coverage map
    (4-px resolution) where it sees the object, "no object" where it does not. An image it calls present
    but cannot box is left unannotated. `seed`/`indices` say which pool images z are (default 0..N-1)."""
    from .instruments import read_rooms

    if object_name not in OBJECT_NAMES:
        raise ValueError(f"the room instrument knows {', '.join(OBJECT_NAMES)}; it cannot annotate {object_name!r}")
    indices = list(range(z.shape[0])) if indices is None else list(indices)
    images = generate(generator, z)
    reading = read_rooms(instrument, images.transpose(0, 3, 1, 2))
    has = reading.has(object_name)
    boxes = reading.boxes(object_name, image_size=generator.config.image_size)
    out = []
    for i, idx in enumerate(indices):
        if has[i] and not boxes[i]:
            continue
        out.append(
            make_annotation(seed, idx, z[i], boxes[i] if has[i] else (), no_object=not has[i], source="instrument",
                            image_size=generator.config.image_size, min_box_px=0)
        )
    return out


# --------------------------------------------------------------------------- the whole experiment


@dataclass
class Experiment:
    """The whole of section 6.3.1 on one model, as `dcgan forget measure` runs it."""

    annotations: AnnotationSet
    fit: FitResult
    maps: np.ndarray
    measurement: RemovalMeasurement
    seconds: dict[str, float] = field(default_factory=dict)


def run_experiment(
    name: str, loaded, instrument, object_name: str = "window", n_annotate: int = 150, n: int = 300,
    pool_seed: int = 0, measure_seed: int = 1, threshold: float = 0.0, top_k: int | None = None,
    random_control_seed: int = 0, annotations: AnnotationSet | None = None, random_draws: int = RANDOM_DRAWS,
) -> Experiment:
    """Annotate (instrument, unless `annotations` are given), fit, pick maps (weight > threshold, or the top_k), measure."""
    if not 1 <= n_annotate <= POOL_MAX:
        raise ValueError(f"--n-annotate must be 1..{POOL_MAX}, got {n_annotate}")
    if n < 1:
        raise ValueError(f"--n must be at least 1, got {n}")
    g = loaded.generator
    layer = g.penultimate_layer
    seconds = {}
    t = time.perf_counter()
    if annotations is None:
        identity = ModelIdentity.of(name, g, loaded.checkpoint.step)
        notes = auto_annotate(g, instrument, pool_z(loaded.config, pool_seed, range(n_annotate)), object_name, seed=pool_seed)
        annotations = AnnotationSet(model=identity, object_name=object_name, images=tuple(notes))
    seconds["annotate"] = time.perf_counter() - t
    t = time.perf_counter()
    fit = fit_object_maps(collect_training_data(g, annotations, layer))
    seconds["fit"] = time.perf_counter() - t
    maps = fit.top_maps(top_k) if top_k is not None else fit.maps_above(threshold)
    t = time.perf_counter()
    measurement = measure_removal(
        g, instrument, sample_z(n, loaded.config, seed=measure_seed), layer, maps, object_name, random_control_seed,
        random_draws=random_draws,
    )
    seconds["measure"] = time.perf_counter() - t
    return Experiment(annotations=annotations, fit=fit, maps=maps, measurement=measurement, seconds=seconds)


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def annotation_model_name(path: Path) -> str:
    """The model name annotations are filed under for a checkpoint path: its run folder (RUN/checkpoints/x), its model
    folder (NAME/model.safetensors) or the file's stem."""
    if path.parent.name == "checkpoints":
        return path.parent.parent.name
    return path.parent.name if path.stem == "model" else path.stem


def experiment_as_dict(exp: Experiment, model_path: str | Path, step: int) -> dict:
    """What `dcgan forget measure --json` prints: the annotations, the fit and the measurement."""
    fit = exp.fit
    return {
        "model": str(model_path), "step": step, "annotated_images": exp.annotations.n_images,
        "boxes": exp.annotations.n_boxes, "instrument_made": exp.annotations.n_instrument,
        "fit": {"layer": fit.layer, "accuracy": fit.accuracy, "balanced_accuracy": fit.balanced_accuracy,
                "n_positive": fit.n_positive, "n_negative": fit.n_negative, "maps_dropped": len(exp.maps),
                "n_maps": len(fit.weights)},
        "measurement": exp.measurement.to_dict(), "seconds": exp.seconds,
    }


def format_experiment(exp: Experiment, model_path: str | Path, step: int, measure_seed: int,
                      top_k: int | None = None, threshold: float = 0.0) -> str:
    """The report `dcgan forget measure` prints: annotations, fit, maps dropped, and the table of conditions
    (with the object, object removed, context object kept, mean pixel change), for the settings it ran with."""
    r, fit = exp.measurement, exp.fit
    o, ctx = r.object_name, r.context_object
    lines = [
        f"model {model_path} (step {step:,}), object {o}",
        f"annotations: {exp.annotations.n_images} images, {exp.annotations.n_boxes} boxes "
        f"({exp.annotations.n_instrument} images by the instrument)",
        f"fit on layer {fit.layer}: {fit.n_positive} positives, {fit.n_negative} negatives; held-out accuracy "
        f"{_pct(fit.accuracy)} (balanced {_pct(fit.balanced_accuracy)}) on {fit.n_test_images} images",
        f"maps dropped: {len(exp.maps)} of {len(fit.weights)} "
        + (f"(top {top_k})" if top_k is not None else f"(relative weight > {threshold:g})")
        + f": {', '.join(map(str, sorted(exp.maps.tolist())))}",
        f"{r.n} z's (seed {measure_seed}); {r.n_with_object} with a {o} before any drop ({_pct(r.presence_before[o])})",
        f"{'condition':48s} {'with ' + o:>12s} {o + ' removed':>14s} {'with ' + ctx:>10s} {ctx + ' kept':>9s} {'px change':>9s}",
    ]
    for row in r.rows():
        lines.append(f"{row['condition']:48s} {_pct(row[f'with {o}']):>12s} {_pct(row[f'{o} removed']):>14s} "
                     f"{_pct(row[f'with {ctx}']):>10s} {_pct(row[f'{ctx} kept']):>9s} {row['pixel change']:9.1f}")
    lines.append(f"{o} removed by each random draw: " + ", ".join(_pct(v) for v in r.random.removed_per_draw)
                 + "; other objects kept with the fitted drop: "
                 + ", ".join(f"{k} {_pct(v)}" for k, v in r.fitted.kept.items()))
    return "\n".join(lines)


def write_removal_grid(path: str | Path, generator: Generator, exp: Experiment, seed: int) -> None:
    """A PNG of z's 0-15 of `seed`, three rows: normal, the fitted maps dropped, the random control's maps dropped."""
    from ..images import image_grid, save_png

    z = sample_z(16, generator.config, seed=seed)
    layer = generator.penultimate_layer
    before, fitted = generate_with_and_without(generator, z, layer, exp.maps)
    _, randomised = generate_with_and_without(generator, z, layer, exp.measurement.random.maps)
    save_png(path, image_grid(np.concatenate([before, fitted, randomised]), nrow=16))
