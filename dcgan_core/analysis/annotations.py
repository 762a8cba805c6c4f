"""Window-box annotations (paper section 6.3.1): what was marked on which pool image, the JSON
format and its validation, and the locked file store. Used by `object_removal` (fit, drop, measure).

One JSON file per (model weights, object), written atomically (see `AnnotationStore`):

    {"format": "dcgan-explorer-annotations/1", "object": "window",
     "model": {"name": "rooms", "fingerprint": "<sha256>", "step": 3000, "image_size": 64, "nz": 100},
     "images": [{"seed": 0, "index": 12, "z": [... nz floats ...], "boxes": [[x0, y0, x1, y1], ...],
                 "no_object": false, "source": "hand", "annotator": "alice"}, ...]}

Boxes are in pixels of the model's own image (`model.image_size`: 32, 64 or 128 px), x to the
right, y down, x1/y1 exclusive (a box [0, 0, 64, 64] is the whole of a 64-px image). `no_object` marks an image looked at and found to
have none (it adds only negatives); `source` is "hand" or "instrument" (auto-annotated).
The image is sample `index` of `sample_z(POOL_MAX, config, seed)`; its z is stored as
well, so a file stands on its own.

Annotators: every record (one pool image as one annotator saw it) names who made it, so several
people can annotate the same image independently; a file holds one record per (seed, index,
annotator). The name is free text (1-64 printable characters, e.g. "alice"). Records without one
(files written before annotators were recorded: the field is optional, the format tag unchanged)
are "anonymous" (`DEFAULT_ANNOTATOR`), or "instrument" (`INSTRUMENT`) when their source is the
instrument: instrument-made records are always the annotator "instrument", and no person may use
that name. The instrument only suggests: where a person has a record of an image, the instrument's
record of it is dropped (a person who looked at the image supersedes it, as drawing over the
instrument's boxes always did). `AnnotationSet.of_annotator` picks one annotator's records;
`AnnotationSet.for_fit` gives one record per image for a fit (one annotator's, or all merged:
see there). Agreement between annotators: `agreement.py`.

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
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from ..files import write_json_atomic
from ..latent import sample_z
from ..models import IMAGE_SIZES
from .user_data import ModelIdentity, annotations_dir, parse_json, safe_name

FORMAT = "dcgan-explorer-annotations/1"
IMAGE_SIZE = 64  # the default image size of `make_annotation` (the instruments' size); files carry their model's own
POOL_MAX = 1000  # pool image i of seed s is sample_z(POOL_MAX, config, seed=s)[i]
SOURCES = ("hand", "instrument")
IDENTITY_KEYS = ("name", "fingerprint", "step", "image_size", "nz")  # what an annotations file records of its model
MIN_BOX_PX = 2.0  # boxes thinner than this (image pixels) are clicks, not boxes
MAX_IMPORT_BYTES = 20_000_000
DEFAULT_ANNOTATOR = "anonymous"  # who made a person's record that names nobody (every file before annotators existed)
INSTRUMENT = "instrument"  # the annotator of every instrument-made record; no person may take the name
MAX_ANNOTATOR_CHARS = 64

Box = tuple[float, float, float, float]  # (x0, y0, x1, y1) in image pixels, x1/y1 exclusive


class AnnotationError(ValueError):
    """Annotations that cannot be used (malformed, for another model or object); the message says why and what to do."""


# --------------------------------------------------------------------------- annotations


def valid_annotator_name(name) -> bool:
    """1-64 printable characters without leading or trailing spaces (any script: "Zoë", "李")."""
    return (isinstance(name, str) and 0 < len(name) <= MAX_ANNOTATOR_CHARS and name.isprintable()
            and name == name.strip())


@dataclass(frozen=True)
class Annotation:
    """One pool image and what one annotator marked on it."""

    seed: int  # pool seed
    index: int  # sample index in the pool
    z: tuple[float, ...]  # the code (float32 values), nz numbers
    boxes: tuple[Box, ...] = ()
    no_object: bool = False  # looked at, and the object is not there
    source: str = "hand"  # "hand" or "instrument" (auto-annotated)
    annotator: str = ""  # who made it; "" becomes INSTRUMENT for instrument-made records, else DEFAULT_ANNOTATOR

    def __post_init__(self) -> None:
        if not self.annotator:
            object.__setattr__(self, "annotator", INSTRUMENT if self.source == "instrument" else DEFAULT_ANNOTATOR)
        if not valid_annotator_name(self.annotator):
            raise AnnotationError(f"bad annotator name {self.annotator!r}: use 1-{MAX_ANNOTATOR_CHARS} printable "
                                  "characters without leading or trailing spaces (e.g. alice)")
        if (self.source == "instrument") != (self.annotator == INSTRUMENT):
            raise AnnotationError(
                f"the annotator {INSTRUMENT!r} is the room instrument: its records have source 'instrument', and a "
                f"person's records need another name (got annotator {self.annotator!r} with source {self.source!r})")

    @property
    def key(self) -> tuple[int, int]:
        """The pool image: (seed, index)."""
        return (self.seed, self.index)

    @property
    def record_key(self) -> tuple[int, int, str]:
        """The record: (seed, index, annotator). A set holds at most one record per record key."""
        return (self.seed, self.index, self.annotator)

    @property
    def annotated(self) -> bool:
        """True when the image says something: it has boxes or is marked as having no object."""
        return bool(self.boxes) or self.no_object

    def to_dict(self) -> dict:
        return {
            "seed": self.seed, "index": self.index, "z": list(self.z), "boxes": [list(b) for b in self.boxes],
            "no_object": self.no_object, "source": self.source, "annotator": self.annotator,
        }


@dataclass(frozen=True)
class AnnotationSet:
    """Every annotation record of one model and one object, in (seed, index, annotator) order.

    `images` holds records: one per pool image and annotator (with a single annotator, one per
    image, as before annotators existed). The instrument's record of an image is dropped where a
    person has one.
    """

    model: ModelIdentity
    object_name: str
    images: tuple[Annotation, ...] = ()

    def __post_init__(self) -> None:
        kept = [a for a in self.images if a.annotated]
        by_people = {a.key for a in kept if a.annotator != INSTRUMENT}
        kept = [a for a in kept if a.annotator != INSTRUMENT or a.key not in by_people]
        object.__setattr__(self, "images", tuple(sorted(kept, key=lambda a: a.record_key)))

    def get(self, seed: int, index: int, annotator: str | None = None) -> Annotation | None:
        """`annotator`'s record of pool image (seed, index); annotator None: the image's first record (its only
        one while a single person annotates; with several, the first by name)."""
        return next((a for a in self.images if a.key == (seed, index) and annotator in (None, a.annotator)), None)

    def records(self, seed: int, index: int) -> tuple[Annotation, ...]:
        """Every annotator's record of pool image (seed, index), by annotator name."""
        return tuple(a for a in self.images if a.key == (seed, index))

    @property
    def annotators(self) -> tuple[str, ...]:
        """Who made the records: people by name, then INSTRUMENT if it has any."""
        names = {a.annotator for a in self.images}
        return tuple(sorted(names - {INSTRUMENT})) + ((INSTRUMENT,) if INSTRUMENT in names else ())

    @property
    def people(self) -> tuple[str, ...]:
        """The annotators who are not the instrument, by name."""
        return tuple(n for n in self.annotators if n != INSTRUMENT)

    def of_annotator(self, annotator: str) -> AnnotationSet:
        """Only `annotator`'s records (empty when there are none)."""
        return replace(self, images=tuple(a for a in self.images if a.annotator == annotator))

    def for_fit(self, annotator: str | None = None) -> AnnotationSet:
        """One record per pool image, to fit on: `annotator`'s records, or (None) every annotator's merged.

        Merging, per image: a single record stays as it is (a one-annotator set comes back
        unchanged). Several people's records become one: the union of their boxes (a feature
        position is a positive where anyone boxed the object, and a negative only where nobody drew
        a box near it), "no object" only when all of them said so; its annotator is their names
        joined with "+". (The instrument's record never meets a person's: see `__post_init__`.)
        AnnotationError when `annotator` has no records.
        """
        if annotator is not None:
            if annotator not in self.annotators:
                known = ", ".join(self.annotators) or "nobody yet"
                raise AnnotationError(f"no {self.object_name} annotations by {annotator!r} (annotators: {known})")
            return self.of_annotator(annotator)
        by_image: dict[tuple[int, int], list[Annotation]] = {}
        for a in self.images:
            by_image.setdefault(a.key, []).append(a)
        merged = []
        for group in by_image.values():
            if len(group) == 1:
                merged.append(group[0])
                continue
            boxes = tuple(dict.fromkeys(b for a in group for b in a.boxes))  # union, duplicates once, in order
            name = "+".join(a.annotator for a in group)[:MAX_ANNOTATOR_CHARS].strip("+ ")
            merged.append(replace(group[0], boxes=boxes, no_object=not boxes, annotator=name))
        return replace(self, images=tuple(merged))

    @property
    def n_images(self) -> int:
        """Pool images with at least one record (an image two people annotated counts once)."""
        return len({a.key for a in self.images})

    @property
    def n_records(self) -> int:
        return len(self.images)

    @property
    def n_boxes(self) -> int:
        return sum(len(a.boxes) for a in self.images)

    @property
    def n_instrument(self) -> int:
        return sum(a.source == "instrument" for a in self.images)

    def merged(self, annotations: Iterable[Annotation]) -> AnnotationSet:
        """These annotations with `annotations` replacing the same annotator's record of the same (seed, index); an
        empty one removes that record. A person's record, even an empty one, also removes the instrument's record of
        its image (with one annotator this is what it always did: a record replaces whatever the image had)."""
        by_key = {a.record_key: a for a in self.images}
        for a in annotations:
            if a.annotator != INSTRUMENT:
                by_key.pop((a.seed, a.index, INSTRUMENT), None)
            by_key[a.record_key] = a
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
        if expect_model is not None and expect_model.image_size and model.image_size != expect_model.image_size:
            raise AnnotationError(
                f"these annotations say they were drawn on {model.image_size}-px images, but {expect_model.describe()} "
                f"draws {expect_model.image_size}-px images: boxes only apply at the size they were drawn at"
            )
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
        seen: set[tuple[int, int, str]] = set()
        parsed = []
        for i, item in enumerate(images):
            a = _read_annotation(item, i, model)
            if a.record_key in seen:
                raise AnnotationError(f"image {i}: seed {a.seed} #{a.index} by {a.annotator} appears twice")
            seen.add(a.record_key)
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
        data = parse_json(text, where, "an annotations file", AnnotationError, not_json="is not valid JSON")
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
    if m["image_size"] not in IMAGE_SIZES:
        sizes = ", ".join(map(str, IMAGE_SIZES[:-1])) + f" or {IMAGE_SIZES[-1]}"
        raise AnnotationError(f"annotations are drawn on the model's {sizes}-px images; this file says {m['image_size']} px")
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
    annotator = item.get("annotator", "")  # absent in files written before annotators were recorded
    if annotator != "" and not valid_annotator_name(annotator):
        raise AnnotationError(f"{where}: bad annotator {json.dumps(annotator)[:80]}: use 1-{MAX_ANNOTATOR_CHARS} "
                              "printable characters without leading or trailing spaces")
    try:
        return Annotation(seed=seed, index=index, z=tuple(float(v) for v in z), boxes=tuple(parsed), no_object=no_object,
                          source=source, annotator=annotator)
    except AnnotationError as e:
        raise AnnotationError(f"{where}: {e}") from None


def pool_z(config, seed: int, indices: Sequence[int] | None = None) -> torch.Tensor:
    """Codes of the annotation pool: sample i of seed s is sample_z(POOL_MAX, config, seed=s)[i] (any pool size)."""
    z = sample_z(POOL_MAX, config, seed=seed)
    return z if indices is None else z[list(indices)]


def make_annotation(
    seed: int, index: int, z: torch.Tensor | Sequence[float], boxes: Iterable[Sequence[float]] = (), no_object: bool = False,
    source: str = "hand", image_size: int = IMAGE_SIZE, min_box_px: float = MIN_BOX_PX, annotator: str = "",
) -> Annotation:
    """An annotation from raw boxes (e.g. drawn with the mouse) in pixels of an `image_size` image (pass the
    model's `config.image_size`): each clipped to the image, rounded to 0.01 px; boxes thinner than `min_box_px`
    (clicks) dropped. Boxes win over `no_object`. `annotator`: who drew them ("": DEFAULT_ANNOTATOR, or INSTRUMENT
    for source "instrument")."""
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
        seed=int(seed), index=int(index), z=tuple(zz), boxes=tuple(clean), no_object=bool(no_object) and not clean, source=source,
        annotator=annotator,
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
        """Save these records (replacing the same annotator's record of the same seed and index; an empty one removes
        it; see `AnnotationSet.merged`); the new set."""
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
