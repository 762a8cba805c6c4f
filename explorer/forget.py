"""Compute for the "Forgetting to draw windows" pages (paper section 6.3.1, Fig. 6), cached per model weights.

The pool of images to annotate, the logistic regression on G's penultimate layer, the images
with the fitted (and random) maps dropped, and the room instrument's measurement; plus the small
array and text helpers the pages show them with. Library: `dcgan_core.analysis.object_removal`
(from the command line: `dcgan forget measure --model rooms --n-annotate 150 --n 300`) and
`dcgan_core.analysis.annotations`.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterable, Sequence

import numpy as np
import torch
import streamlit as st
from PIL import Image

from dcgan_core.analysis import object_removal as removal
from dcgan_core.analysis.annotations import IMAGE_SIZE, Annotation, AnnotationSet, AnnotationStore, pool_z
from dcgan_core.analysis.user_data import ModelIdentity
from dcgan_core.analysis.instruments import INPUT_SIZE, MASK_SIZE, default_instrument_path, load_instrument
from dcgan_core.generate import generate
from dcgan_core.images import image_grid, upscale_nearest
from dcgan_core.latent import sample_z

POOL_GRID_COLUMNS = 15  # pool images per row of the clickable pool grid
POOL_GRID_PADDING = 2  # pixels between its tiles
CANVAS_PX = 384  # display size of the canvas: a 32-px image is drawn on at 12x, 64 px at 6x, 128 px at 3x
BOX_RGB = (255, 43, 43)  # boxes drawn by hand
INSTRUMENT_RGB = (255, 160, 0)  # boxes made by the room instrument
NONE_RGB = (40, 200, 80)  # frame of an image marked "no object here"
SHOWN_COLOR = "#1e6eff"  # frame, in the pool grid, of the image on the canvas
BOX_COLOR = "#ff2b2b"
BOX_FILL = "rgba(255, 43, 43, 0.12)"


# ---------------------------------------------------------------------------- compute, cached per model weights


@st.cache_data(max_entries=8, show_spinner=False)
def model_identity(_model, model_key: tuple, name: str) -> ModelIdentity:
    return ModelIdentity.of(name, _model.generator, _model.checkpoint.step)


@st.cache_data(max_entries=8, show_spinner="Generating the pool...")
def pool_images(_model, model_key: tuple, seed: int, size: int) -> np.ndarray:
    """uint8 (size, S, S, 3), S the model's image size: pool images 0..size-1 of `seed`."""
    return generate(_model.generator, pool_z(_model.config, seed, range(size)))


@st.cache_resource(show_spinner="Loading the room instrument...")
def room_instrument():
    """The shipped room instrument, shared read-only by every session."""
    return load_instrument(default_instrument_path("rooms"), kind="rooms")


@st.cache_data(max_entries=8, show_spinner=False)
def fit_maps(_model, model_key: tuple, annotations_json: str, annotator: str | None = None) -> removal.FitResult:
    """The fit on `annotator`'s records of the annotations, or (None) on every annotator's merged per image
    (`AnnotationSet.for_fit`)."""
    notes = AnnotationSet.from_json(annotations_json).for_fit(annotator)
    return removal.fit_object_maps(removal.collect_training_data(_model.generator, notes))


@st.cache_data(max_entries=16, show_spinner=False)
def drop_pairs(
    _model, model_key: tuple, seed: int, n: int, layer: int, maps: tuple, control: tuple, saved: np.ndarray | None = None
) -> np.ndarray:
    """uint8 (3n, H, W, C): n samples of `seed` (or the codes `saved`, e.g. your inverted rooms), then with `maps`
    dropped, then with `control` dropped."""
    z = torch.from_numpy(saved).float() if saved is not None else sample_z(n, _model.config, seed=seed)
    before, fitted = removal.generate_with_and_without(_model.generator, z, layer, maps)
    _, randomised = removal.generate_with_and_without(_model.generator, z, layer, control)
    return np.concatenate([before, fitted, randomised])


@st.cache_data(max_entries=16, show_spinner=False)
def measure(
    _model, model_key: tuple, object_name: str, n: int, seed: int, layer: int, maps: tuple, control: tuple
) -> removal.RemovalMeasurement:
    z = sample_z(n, _model.config, seed=seed)
    return removal.measure_removal(_model.generator, room_instrument(), z, layer, maps, object_name, random_control=control)


def auto_annotate(_model, object_name: str, seed: int, indices: list[int]) -> list[Annotation]:
    """The room instrument's annotations of pool images `indices` of `seed` (marked instrument-made); not cached."""
    z = pool_z(_model.config, seed, indices)
    return removal.auto_annotate(_model.generator, room_instrument(), z, object_name, seed=seed, indices=indices)


# ---------------------------------------------------------------------------- arrays


def with_boxes(images: np.ndarray, notes: AnnotationSet, seed: int) -> np.ndarray:
    """The pool with its annotations drawn: red boxes (orange when instrument-made), a green frame for 'none here'."""
    out = images.copy()
    for a in notes.images:
        if a.seed != seed or a.index >= len(out):
            continue
        img = out[a.index]
        if a.no_object:
            img[[0, -1], :], img[:, [0, -1]] = NONE_RGB, NONE_RGB
        color = BOX_RGB if a.source == "hand" else INSTRUMENT_RGB
        for x0, y0, x1, y1 in a.boxes:
            c0, r0 = int(x0), int(y0)
            c1, r1 = max(c0, int(np.ceil(x1)) - 1), max(r0, int(np.ceil(y1)) - 1)
            img[r0 : r1 + 1, [c0, c1]] = color
            img[[r0, r1], c0 : c1 + 1] = color
    return out


@st.cache_data(max_entries=4, show_spinner=False)
def pool_grid_picture(_images: np.ndarray, model_key: tuple, seed: int, size: int) -> bytes:
    """The pool of `seed` (`_images`, uint8 (size, S, S, 3)) as one encoded picture, POOL_GRID_COLUMNS images a row,
    without annotations: the browser draws those over it (`grid_marks`), so it is encoded and fetched once."""
    grid = image_grid(_images, nrow=POOL_GRID_COLUMNS, padding=POOL_GRID_PADDING)
    buf = io.BytesIO()
    Image.fromarray(grid).save(buf, format="JPEG", quality=90, subsampling=0)  # 4:4:4, ~10 ms for 150 64-px images
    return buf.getvalue()


def pool_grid_geometry(n_images: int, image_size: int) -> dict:
    """Where pool image i lies in `pool_grid_picture` (native pixels), for the browser to draw the annotations over
    it and to turn a click at (x, y) into i: row (y - pad) // (tile + pad), column (x - pad) // (tile + pad)."""
    s, p, cols = int(image_size), POOL_GRID_PADDING, POOL_GRID_COLUMNS
    rows = -(-int(n_images) // cols)
    return {"n": int(n_images), "cols": cols, "tile": s, "pad": p, "width": cols * (s + p) + p, "height": rows * (s + p) + p}


def grid_marks(notes: AnnotationSet, seed: int, n_images: int) -> list[list]:
    """The annotations of pool images 0..n_images-1 of `seed` as [index, "hand" | "instrument" | "none", boxes]
    (boxes [x0, y0, x1, y1] in image pixels): what the browser draws over the pool grid."""
    return [[a.index, "none" if a.no_object else a.source, [list(b) for b in a.boxes]]
            for a in notes.images if a.seed == seed and a.index < n_images]


def saved_annotations(store: AnnotationStore, identity: ModelIdentity, object_name: str) -> AnnotationSet:
    """`store.load`, read again only when the file changed (another inode, size or time: every save is an atomic
    rename); a full pool's file takes ~25 ms to parse and validate, and a move to the next image reads it 3 times."""
    path = store.path(identity, object_name)
    try:
        s = path.stat()
    except FileNotFoundError:
        return store.load(identity, object_name)
    return _annotations_of_file(store, identity, object_name, (str(path), identity.fingerprint, s.st_ino, s.st_size,
                                                              s.st_mtime_ns, s.st_ctime_ns))


@st.cache_resource(max_entries=16, show_spinner=False)
def _annotations_of_file(
    _store: AnnotationStore, _identity: ModelIdentity, object_name: str, file_key: tuple
) -> AnnotationSet:
    return _store.load(_identity, object_name)  # immutable (frozen dataclasses): safe to share between sessions


@st.cache_data(max_entries=8, show_spinner=False)
def pool_codes(_model, model_key: tuple, seed: int) -> np.ndarray:
    """float32 (POOL_MAX, nz): the codes of the pool of `seed` (drawing them takes ~25 ms; each run needs one)."""
    return pool_z(_model.config, seed).numpy()


@st.cache_data(max_entries=400, show_spinner=False)
def canvas_background(_image: np.ndarray, model_key: tuple, seed: int, index: int) -> str:
    """Pool image `index` of `seed` (uint8 (S, S, 3), passed as `_image`) enlarged to the canvas, as a PNG data URI.

    Encoded once per image (PNG level 1: exact pixels, ~10 ms less than the canvas' own RGBA encoding on every
    run), so moving to the next image sends a ready picture."""
    buf = io.BytesIO()
    Image.fromarray(canvas_picture(_image)).save(buf, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def canvas_scale(image_size: int = IMAGE_SIZE) -> int:
    """Canvas pixels per image pixel for an `image_size` image: a whole number (crisp pixels), about CANVAS_PX wide."""
    return max(1, CANVAS_PX // int(image_size))


def canvas_px(image_size: int = IMAGE_SIZE) -> int:
    """Width (and height) of the canvas showing an `image_size` image: 384 for 32, 64 and 128 px."""
    return int(image_size) * canvas_scale(image_size)


def canvas_picture(image: np.ndarray) -> np.ndarray:
    """A uint8 (S, S, 3) pool image enlarged (nearest, a whole factor) to the canvas' `canvas_px(S)`."""
    return upscale_nearest(image, canvas_scale(image.shape[0]))


def canvas_to_image_boxes(boxes: Iterable[dict], image_size: int = IMAGE_SIZE) -> list[tuple[float, float, float, float]]:
    """Boxes of the canvas ({left, top, width, height} in canvas pixels) as (x0, y0, x1, y1) in pixels of the
    `image_size` image it shows."""
    k = canvas_scale(image_size)
    return [(b["left"] / k, b["top"] / k, (b["left"] + b["width"]) / k, (b["top"] + b["height"]) / k) for b in boxes]


def image_to_canvas_boxes(boxes: Iterable[Sequence[float]], image_size: int = IMAGE_SIZE) -> list[dict]:
    """(x0, y0, x1, y1) boxes in pixels of an `image_size` image as {left, top, width, height} in canvas pixels."""
    k = canvas_scale(image_size)
    return [{"left": x0 * k, "top": y0 * k, "width": (x1 - x0) * k, "height": (y1 - y0) * k} for x0, y0, x1, y1 in boxes]


def map_indices(maps: Iterable) -> tuple[int, ...]:
    """Feature map indices (a numpy array) as a tuple of ints: hashable, for the caches and session state."""
    return tuple(int(i) for i in maps)


# ---------------------------------------------------------------------------- text


def instrument_size_note(image_size: int) -> str:
    """What auto-annotation means for a model whose images are not the room instrument's 64 px ("" when they are)."""
    if image_size == INPUT_SIZE:
        return ""
    return (f" It reads these {image_size}-px pictures resized to its {INPUT_SIZE} px and gives its boxes back in "
            f"{image_size}-px pixels, on a grid of {image_size / MASK_SIZE:g} px.")


def pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.0f}%"


def table_row(row: dict) -> dict:
    """A row of `RemovalMeasurement.rows()` as text: shares in percent, pixel change in 0-255 units."""
    out = {}
    for k, v in row.items():
        if k == "pixel change":
            out[k] = f"{v:.1f}"
        elif k in ("condition", "maps dropped"):
            out[k] = v
        else:
            out[k] = pct(v)
    return out


@st.cache_data(max_entries=8, show_spinner=False)
def carried_suggestions(_store: AnnotationStore, identity: ModelIdentity, object_name: str, _config, files: tuple) -> tuple:
    """(step of the earlier weights, {(seed, index): their record}) from the latest other-weights annotation file of
    this model and object that can be carried over (`dcgan_core.analysis.carry_over`), or (None, {}).

    `files` ((path, mtime ns) of those files) is the cache key: a new or changed file is read again."""
    from dcgan_core.analysis.carry_over import earlier_annotations, suggestions

    older = earlier_annotations(_store, identity, object_name)
    return (older[0].model.step, suggestions(older[0], identity, _config)) if older else (None, {})


def suggestions_for(store: AnnotationStore, identity: ModelIdentity, object_name: str, config) -> tuple:
    """`carried_suggestions`, keyed by the other-weights files as they are now."""
    files = []
    for p in store.others(identity, object_name):
        try:
            files.append((str(p), p.stat().st_mtime_ns))
        except OSError:
            continue
    return carried_suggestions(store, identity, object_name, config, tuple(files)) if files else (None, {})
