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

Annotations (their file format, model identity and the store) live in `annotations.py`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..data.rooms import OBJECT_NAMES
from ..features import check_layer, layer_maps
from ..generate import generate
from ..latent import sample_z
from ..models import Generator
from .annotations import POOL_MAX, Annotation, AnnotationSet, make_annotation, pool_z
from .user_data import ModelIdentity

PAPER_IMAGES, PAPER_BOXES = 150, 52  # what the paper annotated (section 6.3.1)
CONTEXT_OBJECT = "bed"  # "the rest of the scene stays a room": the bed should survive the drop
# Inverse L2 strength of the logistic regression (scikit-learn's C, on standardised activations). Strong:
# neighbouring maps of one layer are highly correlated, and a weakly regularised fit gives near-duplicates
# weights of opposite signs that cancel, so "the maps with the largest weights" stop being the ones that
# draw the object. On runs/rooms64 (step 1750, 150 instrument-annotated images) dropping the top 16 maps
# removed windows from 95% of images at C = 1e-3 and 1e-4, but from 79-82% at C = 0.01-0.1.
DEFAULT_C = 1e-3
RANDOM_DRAWS = 5  # random control: mean over this many draws of random maps (one draw can hit a vital map)


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
    (16 x 16 cells: 4 px at 64 px) where it sees the object, "no object" where it does not. An image it
    calls present but cannot box is left unannotated. `seed`/`indices` say which pool images z are (default
    0..N-1). Images of 32- or 128-px models are read resized to the instrument's 64 px; boxes come back in
    pixels of the model's own size."""
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
