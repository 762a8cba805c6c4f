"""The feature probe of the paper's section 5.1 (Table 1): how useful are D's features for classification?

The paper's recipe: take the discriminator's features from all conv layers, max-pool each
to a 4x4 spatial grid, flatten and concatenate them (28,672 numbers for its D), and train
a regularised linear L2-SVM on a labelled set; report test accuracy. Here the L2-SVM is
scikit-learn's `LinearSVC` (squared hinge loss = L2-SVM, one-vs-rest for several classes)
on standardised features, with C picked per feature set on a held-out quarter of the
training set (`fit_probe`), solved in the span of the training vectors (exact, and
several times faster: `span_coordinates`). Every D is compared with two baselines run
through the same pipeline:

    random D    the same architecture, randomly initialised (the paper's init, fixed
                seed), BatchNorm statistics from the probe's training images
                (`random_discriminator`: fair to the baseline, which would otherwise
                normalise with mean 0 / variance 1)
    raw pixels  the image itself, flattened (C x H x W numbers in [-1, 1])

    from dcgan_core.checkpoints import load_model
    from dcgan_core.analysis.feature_probe import load_probe_data, run_probe

    model = load_model("faces")
    data = load_probe_data("faces", task="attributes", image_size=64, n_train=2000, n_test=1000)
    report = run_probe(model.discriminator, data)
    print(report.table())             # accuracy of trained D, random D, raw pixels, chance

The paper's few-label rows (73.8% on CIFAR-10 with 400 labels per class; 22.48% error on SVHN
with 1,000 labels) train on a class-balanced labelled subset and repeat over random draws of
it. `LabelDraws` does that: each of `repeats` seeded draws takes `per_class` images of every
class (or `total` labels split evenly) from the training pool; the SVM is fitted per draw and
tested on the same test set, and each score gives the mean and standard deviation over draws.
Features are extracted once for the pool, so ten draws cost ten SVM fits, not ten passes of D.

    draws = LabelDraws(per_class=50, repeats=10, seed=0)
    report = run_probe(model.discriminator, data, draws=draws)
    report.scores[0].accuracy, report.scores[0].accuracy_std    # mean and std over the 10 draws

Feature size: sum of D's hidden widths x 16, e.g. (64 + 128 + 256 + 512) x 16 = 15,360 at
64 px with ndf 64 (`probe_feature_size`).

Labelled sets (all local, nothing downloaded):
    faces    procedural, labels from the attributes each face was drawn with; tasks:
             "attributes" (8 classes: glasses x smiling x masculine), "glasses", "smiling",
             "masculine" (2 classes each), "turn" (3 classes: left < -1/3 <= frontal <= 1/3 < right)
    rooms    procedural; task "windows": how many windows the room has (0, 1 or 2)
    cifar10  CIFAR-10 batches: the train split for the SVM's training set, the test split for testing
    mnist    MNIST idx files (also Fashion-MNIST, same format): train / t10k splits
    svhn     SVHN's cropped digits, train_32x32.mat / test_32x32.mat (digits 0..9)
    folder   an image folder with one subfolder per class, split at random
Procedural sets are rendered from data set seed PROBE_SEED (the GANs train on seed 0);
the first n_train images train the SVM and the next n_test test it. Real sets take a
seeded random subset of each split. Images are centre-cropped and resized to D's size and
channel count.

Command line: `dcgan probe --model faces --dataset faces` (see cli.py). With `--save
models/faces/probe.json` the result is kept beside the model (`save_stored_probe`), so the
app's probe page shows it at once instead of after a minute of compute.
"""

from __future__ import annotations

import hashlib
import json
import shlex
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..features import every_layer_maps
from ..files import write_json_atomic
from ..images import pixels_to_unit, unit_to_pixels
from ..models import Discriminator, ModelConfig
from .guided_backprop import as_model_input, model_device, random_discriminator

POOL_GRID = 4  # each layer's maps are max-pooled to 4x4 (paper section 5.1)
PROBE_SEED = 20_001  # data set seed of the procedural probe sets (GANs train on seed 0)
C_GRID = (1e-6, 1e-5, 1e-4, 1e-3)  # SVM regularisation tried per feature set (standardised features); see `fit_probe`
VALIDATION_FRACTION = 0.25  # of the training set, held out to pick C
DEFAULT_MAX_ITER = 2000
RANDOM_D_SEED = 0
PROBE_DATASETS = ("faces", "rooms", "cifar10", "mnist", "svhn", "folder")
TASKS = {
    "faces": ("attributes", "glasses", "smiling", "masculine", "turn"),
    "rooms": ("windows",),
    "cifar10": ("classes",),
    "mnist": ("classes",),
    "svhn": ("classes",),
    "folder": ("classes",),
}
FEATURE_SETS = ("trained D", "random D", "raw pixels")

Progress = Callable[[int, int], None]


# ----------------------------------------------------------------------------- features


def probe_feature_size(config: ModelConfig, grid: int = POOL_GRID) -> int:
    """Length of the probe's feature vector for a D built from `config`: sum of hidden widths x grid^2."""
    return sum(config.ndf * 2**i for i in range(config.num_hidden_blocks)) * grid * grid


@torch.no_grad()
def probe_features(
    discriminator: Discriminator,
    images: np.ndarray | torch.Tensor,
    grid: int = POOL_GRID,
    batch_size: int = 128,
    progress: Progress | None = None,
) -> np.ndarray:
    """D's features for the probe: every hidden layer max-pooled to grid x grid, flattened, concatenated.

    Args:
        discriminator: D in eval mode (not modified).
        images: uint8 (N, C, H, W) or float (N, C, H, W) in [-1, 1].

    Returns:
        float32 (N, probe_feature_size(config, grid)), layer 0's features first.
    """
    if discriminator.training:
        raise ValueError("probe_features needs D in eval mode (call .eval())")
    device = model_device(discriminator)
    size = sum(discriminator.feature_channels) * grid * grid
    n = len(images)
    out = np.empty((n, size), dtype=np.float32)
    for start in range(0, n, batch_size):
        x = as_model_input(images[start : start + batch_size], device)
        parts = [F.adaptive_max_pool2d(maps, grid).flatten(1) for maps in every_layer_maps(discriminator, x)]
        out[start : start + x.shape[0]] = torch.cat(parts, 1).float().cpu().numpy()
        if progress is not None:
            progress(min(start + batch_size, n), n)
    return out


def pixel_features(images: np.ndarray) -> np.ndarray:
    """The raw-pixel baseline: uint8 (N, C, H, W) -> float32 (N, C*H*W) in [-1, 1]."""
    x = np.asarray(images)
    return pixels_to_unit(torch.from_numpy(np.ascontiguousarray(x.reshape(x.shape[0], -1)))).numpy()


# ----------------------------------------------------------------------------- labelled data


@dataclass
class LabelledImages:
    images: np.ndarray  # uint8 (N, C, H, W)
    labels: np.ndarray  # int64 (N,), 0..len(classes)-1

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class ProbeData:
    """A labelled set split for the probe, at one model's image size and channel count."""

    train: LabelledImages
    test: LabelledImages
    classes: list[str]
    description: str  # for people, e.g. "faces attributes (8 classes), data set seed 20001"

    @property
    def chance(self) -> float:
        """Test accuracy of always answering the training set's most common class."""
        if not len(self.test):
            return 0.0
        majority = np.bincount(self.train.labels, minlength=len(self.classes)).argmax()
        return float(np.mean(self.test.labels == majority))


def _channels(images: np.ndarray, channels: int) -> np.ndarray:
    """uint8 RGB (N, 3, H, W) as 1 channel (ITU-R 601 luma) when the model is grayscale."""
    if channels == 3 or images.shape[1] == channels:
        return images
    luma = np.tensordot(np.array([0.299, 0.587, 0.114]), images.astype(np.float64), axes=([0], [1]))
    return np.round(luma)[:, None].astype(np.uint8)


def _face_labels(attrs: np.ndarray, task: str) -> tuple[np.ndarray, list[str]]:
    glasses, smiling, masculine, turn = (attrs[:, i] for i in range(4))
    if task == "attributes":
        labels = 4 * (glasses > 0.5) + 2 * (smiling > 0.5) + (masculine > 0.5)
        classes = [
            f"{'glasses' if g else 'no glasses'}, {'smiling' if s else 'neutral'}, {'masculine' if m else 'feminine'}"
            for g in (0, 1) for s in (0, 1) for m in (0, 1)
        ]
        return labels.astype(np.int64), classes
    if task in ("glasses", "smiling", "masculine"):
        values = {"glasses": glasses, "smiling": smiling, "masculine": masculine}[task]
        names = {"glasses": ["no glasses", "glasses"], "smiling": ["neutral", "smiling"], "masculine": ["feminine", "masculine"]}
        return (values > 0.5).astype(np.int64), names[task]
    # turn: three bins of equal width
    return np.digitize(turn, [-1 / 3, 1 / 3]).astype(np.int64), ["looking left", "frontal", "looking right"]


def _procedural(dataset: str, task: str, image_size: int, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    if dataset == "faces":
        from ..data.faces import FacesDataset
        from ..data.loading import materialize

        ds = FacesDataset(image_size=image_size, length=n, seed=seed)
        images = materialize(ds, cache_key=f"faces-{image_size}px-seed{seed}-n{n}", progress=False).numpy()
        labels, classes = _face_labels(ds.attribute_array(), task)
        return images, labels, classes
    from .units import render_rooms

    images, boxes = render_rooms(n, seed, image_size)
    labels = np.array([min(len(b.get("window", [])), 2) for b in boxes], dtype=np.int64)
    return images, labels, ["no window", "1 window", "2 windows"]


def _subset(ds, n: int, seed: int) -> LabelledImages:
    """A seeded random subset of n readable, labelled items of a reader data set, as uint8 NCHW."""
    labels_all = np.asarray(ds.labels)
    candidates = np.flatnonzero(labels_all >= 0)  # image folders label loose files -1: not part of any class
    order = np.random.default_rng(seed).permutation(candidates)
    images, labels = [], []
    for i in order:
        if len(labels) == n:
            break
        x = ds[int(i)]
        if int(i) in getattr(ds, "_unreadable", {}):  # an unreadable file: the reader handed us another image
            continue
        images.append(unit_to_pixels(x).numpy())
        labels.append(labels_all[i])
    if not images:
        raise ValueError(f"no labelled images in {ds!r}")
    return LabelledImages(np.stack(images), np.asarray(labels, dtype=np.int64))


def load_probe_data(
    dataset: str,
    *,
    image_size: int,
    channels: int = 3,
    root: str | Path | None = None,
    task: str | None = None,
    n_train: int = 2000,
    n_test: int = 1000,
    seed: int = PROBE_SEED,
) -> ProbeData:
    """A labelled train / test set for the probe (see the module docstring for the data sets and tasks).

    `seed` is the data set seed of procedural sets and the subset seed of real ones.
    Raises ValueError / FileNotFoundError with a message for people.
    """
    if dataset not in PROBE_DATASETS:
        raise ValueError(f"the probe needs a labelled data set: one of {', '.join(PROBE_DATASETS)}; got {dataset!r}")
    task = task or TASKS[dataset][0]
    if task not in TASKS[dataset]:
        raise ValueError(f"{dataset} has the tasks {', '.join(TASKS[dataset])}; got {task!r}")
    if n_train < 2 or n_test < 1:
        raise ValueError(f"the probe needs at least 2 training images and 1 test image; got {n_train} and {n_test}")
    if dataset in ("faces", "rooms"):
        images, labels, classes = _procedural(dataset, task, image_size, n_train + n_test, seed)
        images = _channels(images, channels)
        train = LabelledImages(images[:n_train], labels[:n_train])
        test = LabelledImages(images[n_train:], labels[n_train:])
        description = f"{dataset} {task} ({len(classes)} classes), procedural, data set seed {seed}"
        return ProbeData(train, test, classes, description)
    if root is None:
        raise ValueError(f"the {dataset} data set is read from a local path: give its location (--data-root PATH)")
    from ..data import build_dataset

    root = Path(root).expanduser()
    if dataset == "folder":
        ds = build_dataset("folder", root=root, image_size=image_size, channels=channels)
        classes = list(ds.classes)
        if len(classes) < 2:
            raise ValueError(f"image folder {root} needs one subfolder per class, at least 2; found {len(classes)}")
        both = _subset(ds, n_train + n_test, seed)
        if len(both) < n_train + 1:
            raise ValueError(f"image folder {root} has {len(both)} labelled images; the probe asked for {n_train} + {n_test}")
        train = LabelledImages(both.images[:n_train], both.labels[:n_train])
        test = LabelledImages(both.images[n_train:], both.labels[n_train:])
        where = f"image folder {root}, random split (seed {seed})"
    else:
        train_ds = build_dataset(dataset, root=root, image_size=image_size, channels=channels, train=True)
        test_ds = build_dataset(dataset, root=root, image_size=image_size, channels=channels, train=False)
        classes = list(train_ds.classes)
        train, test = _subset(train_ds, n_train, seed), _subset(test_ds, n_test, seed + 1)
        where = (
            f"{dataset} at {root}: {len(train):,} of {len(train_ds):,} train and {len(test):,} of {len(test_ds):,} "
            f"test images (seed {seed})"
        )
    return ProbeData(train, test, classes, f"{dataset} ({len(classes)} classes), {where}")


# ----------------------------------------------------------------------------- few labels, repeated draws


@dataclass(frozen=True)
class LabelDraws:
    """The paper's few-label protocol: `repeats` seeded draws of a class-balanced labelled subset of the training pool.

    Give `per_class` (paper, CIFAR-10: 400) or `total` (paper, SVHN: 1000 = 100 per class;
    a remainder goes one each to classes picked at random per draw), not both; with neither,
    the SVM trains on the whole pool once. Draw r is drawn from the generator seeded with
    (seed, r): the same settings draw the same subsets on every machine.
    """

    per_class: int | None = None  # labelled images of each class in a draw
    total: int | None = None  # or labelled images in all, split as evenly as the classes allow
    repeats: int = 1  # independent draws; scores report mean and std over them (paper: 10)
    seed: int = 0  # draw r uses numpy's default_rng((seed, r))

    def __post_init__(self) -> None:
        if self.per_class is not None and self.total is not None:
            raise ValueError("give labels per class (--per-class) or labels in all (--labels), not both")
        for name, flag, value in (("per_class", "--per-class", self.per_class), ("total", "--labels", self.total)):
            if value is not None and value < 1:
                raise ValueError(f"{flag} must be at least 1; got {value}")
        if self.repeats < 1:
            raise ValueError(f"--repeats must be at least 1; got {self.repeats}")
        if self.repeats > 1 and self.whole_pool:
            raise ValueError("--repeats needs --per-class or --labels: each repeat draws a new labelled subset of the pool")

    @property
    def whole_pool(self) -> bool:
        """True when every training image is used once (no label budget)."""
        return self.per_class is None and self.total is None

    def quota(self, n_classes: int) -> tuple[int, int]:
        """(labels of every class, classes that get one more) in each draw."""
        if self.per_class is not None:
            return self.per_class, 0
        if self.total < n_classes:
            raise ValueError(f"--labels {self.total} is fewer than the {n_classes} classes; a draw needs one of each at least")
        return divmod(self.total, n_classes)

    def check_pool(self, labels: np.ndarray, classes: Sequence[str]) -> None:
        """One-line ValueError when a class of the pool has fewer images than a draw takes of it."""
        if self.whole_pool:
            return
        base, extra = self.quota(len(classes))
        need = base + (extra > 0)
        counts = np.bincount(np.asarray(labels), minlength=len(classes))
        short = int(np.argmin(counts))
        if counts[short] < need:
            asked = f"{self.per_class} labels per class" if self.per_class is not None else f"{self.total} labels in all"
            raise ValueError(
                f"class {classes[short]!r} has {counts[short]:,} images in the training pool of {len(labels):,}; "
                f"{asked} needs {need:,} of each (raise --n-train or ask for fewer labels)"
            )

    def indices(self, labels: np.ndarray, classes: Sequence[str], repeat: int) -> np.ndarray:
        """Sorted pool indices of draw `repeat`: a class-balanced subset (see `quota`)."""
        self.check_pool(labels, classes)
        labels = np.asarray(labels)
        if self.whole_pool:
            return np.arange(len(labels))
        rng = np.random.default_rng((self.seed, repeat))
        base, extra = self.quota(len(classes))
        bonus = set(rng.choice(len(classes), size=extra, replace=False).tolist()) if extra else set()
        picked = [rng.choice(np.flatnonzero(labels == k), size=base + (k in bonus), replace=False) for k in range(len(classes))]
        return np.sort(np.concatenate(picked))

    def describe(self, n_classes: int, pool: int) -> str:
        """For people, e.g. "10 draws of 50 labels per class (400 in all) from a pool of 2,000 training images"."""
        if self.whole_pool:
            return f"{pool:,} training images"
        base, extra = self.quota(n_classes)
        each = f"{base} labels per class" if not extra else f"{base}-{base + 1} labels per class"
        draws = "1 draw" if self.repeats == 1 else f"{self.repeats} draws"
        return f"{draws} of {each} ({base * n_classes + extra:,} in all) from a pool of {pool:,} training images"

    def to_dict(self) -> dict:
        return dict(self.__dict__)


# ----------------------------------------------------------------------------- the SVM


@dataclass
class ProbeScore:
    """One row of the table: a feature set's test accuracy and confusion matrix."""

    features: str  # "trained D", "random D", "raw pixels"
    dims: int
    accuracy: float
    confusion: np.ndarray  # int64 (K, K): rows are true classes, columns predicted ones
    C: float  # the SVM's C (picked on a validation split unless given)
    validation: dict[float, float]  # C -> validation accuracy, when C was picked
    converged: bool  # False when LinearSVC stopped at max_iter (accuracy is still what it is)
    seconds: float  # feature extraction + fit + test
    draw_accuracies: list[float] = field(default_factory=list)  # one per labelled draw (LabelDraws); accuracy is their mean
    draw_C: list[float] = field(default_factory=list)  # the C of each draw; C is their median

    @property
    def accuracy_std(self) -> float:
        """Sample standard deviation of the test accuracy over the draws (0 with fewer than 2)."""
        return float(np.std(self.draw_accuracies, ddof=1)) if len(self.draw_accuracies) > 1 else 0.0

    @property
    def error(self) -> float:
        """Test error, 1 - accuracy (the paper's SVHN row reports error); its std is accuracy_std."""
        return 1.0 - self.accuracy


def span_coordinates(train_x: np.ndarray, test_x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact change of coordinates for a linear model with an L2 penalty when features outnumber training images.

    With a constant column appended (LinearSVC's regularised intercept), the weights of an
    L2-regularised linear model lie in the span of the n training vectors (representer
    theorem), so it is enough to express every vector in an orthonormal basis of that
    span: n (or fewer) numbers instead of thousands, the same decision values, the same
    solution, and a solver several times faster. Computed from the Gram matrix K = X X^T
    (eigendecomposition K = V L V^T): train coordinates V L^1/2, test coordinates
    X_test X^T V L^-1/2. Returns float64 (n, r), (m, r).
    """
    a = np.hstack([train_x, np.ones((len(train_x), 1), dtype=train_x.dtype)])
    b = np.hstack([test_x, np.ones((len(test_x), 1), dtype=test_x.dtype)])
    if a.shape[1] <= a.shape[0]:  # already no more features than images
        return a.astype(np.float64), b.astype(np.float64)
    gram = (a @ a.T).astype(np.float64)
    lam, vec = np.linalg.eigh(gram)
    keep = lam > max(lam.max(), 1e-300) * 1e-10
    lam, vec = lam[keep], vec[:, keep]
    return vec * np.sqrt(lam), ((b @ a.T).astype(np.float64) @ vec) / np.sqrt(lam)


def _fit_predict(train_x, train_y, test_x, C: float, max_iter: int) -> tuple[np.ndarray, bool]:
    """Standardise on the training set, fit the L2-SVM, predict the test set; (predictions, converged)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    if len(np.unique(train_y)) < 2:
        raise ValueError("the probe's training set has a single class; use more images")
    scaler = StandardScaler().fit(train_x)
    p, q = span_coordinates(scaler.transform(train_x).astype(np.float32), scaler.transform(test_x).astype(np.float32))
    # squared hinge + L2 penalty = the L2-SVM; the intercept is the appended constant column (regularised, as
    # LinearSVC's own intercept_scaling=1 would be); the dual solver is the fast one for these shapes
    svm = LinearSVC(C=C, loss="squared_hinge", penalty="l2", dual=True, fit_intercept=False, max_iter=max_iter, random_state=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        svm.fit(p, train_y)
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    return svm.predict(q), converged


def fit_probe(
    train_x: np.ndarray,
    train_y: np.ndarray,
    test_x: np.ndarray,
    test_y: np.ndarray,
    n_classes: int,
    *,
    C: float | None = None,
    grid: Sequence[float] = C_GRID,
    max_iter: int = DEFAULT_MAX_ITER,
    features: str = "features",
    seed: int = 0,
    progress: Progress | None = None,
) -> ProbeScore:
    """Standardise (training-set statistics), fit a linear L2-SVM, report test accuracy.

    C: the SVM's regularisation. None picks it per feature set from `grid` by accuracy on a
    held-out quarter of the training set (ties go to the smaller C), then refits on the
    whole training set: every feature set gets its best C, so no baseline is handicapped
    by a C that suits another's scale. The test set is never used to choose.
    `progress(fits done, fits in all)` is called before each SVM fit and once at the end.
    """
    start = time.perf_counter()
    n_fits = 1 if C is not None else len(grid) + 1

    def report(done: int) -> None:
        if progress is not None:
            progress(done, n_fits)

    train_x, test_x = np.asarray(train_x, dtype=np.float32), np.asarray(test_x, dtype=np.float32)
    train_y, test_y = np.asarray(train_y), np.asarray(test_y)
    validation: dict[float, float] = {}
    if C is None:
        order = np.random.default_rng(seed).permutation(len(train_y))
        n_val = max(1, int(round(VALIDATION_FRACTION * len(train_y))))
        val, fit = order[:n_val], order[n_val:]
        if len(np.unique(train_y[fit])) < 2:  # too few images to hold some out: use the middle of the grid
            C = float(sorted(grid)[len(grid) // 2])
        else:
            for i, c in enumerate(sorted(grid)):
                report(i)
                predicted, _ = _fit_predict(train_x[fit], train_y[fit], train_x[val], c, max_iter)
                validation[float(c)] = float(np.mean(predicted == train_y[val]))
            C = max(validation, key=lambda c: (validation[c], -c))
    report(n_fits - 1)
    predicted, converged = _fit_predict(train_x, train_y, test_x, C, max_iter)
    report(n_fits)
    confusion = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(confusion, (test_y, predicted), 1)
    return ProbeScore(
        features=features,
        dims=int(train_x.shape[1]),
        accuracy=float(np.mean(predicted == test_y)),
        confusion=confusion,
        C=float(C),
        validation=validation,
        converged=converged,
        seconds=time.perf_counter() - start,
    )


def fit_draws(
    train_x: np.ndarray,
    train_y: np.ndarray,
    test_x: np.ndarray,
    test_y: np.ndarray,
    classes: Sequence[str],
    draws: LabelDraws,
    *,
    C: float | None = None,
    max_iter: int = DEFAULT_MAX_ITER,
    features: str = "features",
    progress: Progress | None = None,
) -> ProbeScore:
    """`fit_probe` on each draw's labelled subset of the pool, tested on the whole test set: mean and spread.

    The score's accuracy is the mean over draws (draw_accuracies holds each, accuracy_std their
    sample std), its confusion matrix the sum over draws, its C the median of the draws' C.
    `progress(fits done, fits in all)` runs across all draws.
    """
    start = time.perf_counter()
    draws.check_pool(train_y, classes)
    per_draw = 1 if C is not None else len(C_GRID) + 1
    scores = []
    for r in range(draws.repeats):
        picked = draws.indices(train_y, classes, r)
        step = None if progress is None else (lambda done, _n, r=r: progress(r * per_draw + min(done, per_draw), draws.repeats * per_draw))
        scores.append(fit_probe(train_x[picked], train_y[picked], test_x, test_y, len(classes), C=C, max_iter=max_iter,
                                features=features, seed=r, progress=step))
    return ProbeScore(
        features=features,
        dims=scores[0].dims,
        accuracy=float(np.mean([s.accuracy for s in scores])),
        confusion=np.sum([s.confusion for s in scores], axis=0),
        C=float(np.median([s.C for s in scores])),
        validation=scores[0].validation if len(scores) == 1 else {},
        converged=all(s.converged for s in scores),
        seconds=time.perf_counter() - start,
        draw_accuracies=[s.accuracy for s in scores],
        draw_C=[s.C for s in scores],
    )


def probe_score(
    features: str,
    discriminator: Discriminator,
    data: ProbeData,
    *,
    C: float | None = None,
    random_seed: int = RANDOM_D_SEED,
    max_iter: int = DEFAULT_MAX_ITER,
    draws: LabelDraws | None = None,
    progress: Progress | None = None,
    fit_progress: Progress | None = None,
) -> ProbeScore:
    """One row of the table: `features` is "trained D" (this D), "random D" (same architecture) or "raw pixels".

    With `draws` (LabelDraws) the SVM is fitted on each draw's labelled subset of the training
    images (`fit_draws`); the random D still calibrates BatchNorm on the whole (unlabelled) pool.
    `progress(images done, images in all)` follows the feature extraction, `fit_progress(fits done,
    fits in all)` the SVM fits after it (see `fit_probe`): callbacks, so a caller can draw a progress bar.
    """
    if features not in FEATURE_SETS:
        raise ValueError(f"unknown feature set {features!r}; choose one of {', '.join(FEATURE_SETS)}")
    draws = draws or LabelDraws()
    draws.check_pool(data.train.labels, data.classes)  # before minutes of feature extraction
    start = time.perf_counter()
    if features == "raw pixels":
        train_x, test_x = pixel_features(data.train.images), pixel_features(data.test.images)
        if progress is not None:
            progress(len(data.train) + len(data.test), len(data.train) + len(data.test))
    else:
        d = discriminator
        if features == "random D":
            d = random_discriminator(
                discriminator.config, seed=random_seed, calibration_images=data.train.images, device=model_device(discriminator)
            )
        total = len(data.train) + len(data.test)

        def part(offset: int) -> Progress | None:
            return None if progress is None else (lambda done, _n: progress(offset + done, total))

        train_x = probe_features(d, data.train.images, progress=part(0))
        test_x = probe_features(d, data.test.images, progress=part(len(data.train)))
    if draws.whole_pool:
        score = fit_probe(
            train_x, data.train.labels, test_x, data.test.labels, len(data.classes), C=C, max_iter=max_iter, features=features,
            progress=fit_progress,
        )
    else:
        score = fit_draws(train_x, data.train.labels, test_x, data.test.labels, data.classes, draws, C=C, max_iter=max_iter,
                          features=features, progress=fit_progress)
    score.seconds = time.perf_counter() - start
    return score


@dataclass
class ProbeReport:
    data: str  # ProbeData.description
    classes: list[str]
    n_train: int
    n_test: int
    chance: float
    scores: list[ProbeScore] = field(default_factory=list)
    draws: LabelDraws = field(default_factory=LabelDraws)  # the labelled subsets the SVM trained on (default: the whole pool)

    @classmethod
    def for_data(cls, data: ProbeData, draws: LabelDraws | None = None) -> ProbeReport:
        """An empty report for `data`, to which each feature set's score is appended."""
        return cls(data.description, data.classes, len(data.train), len(data.test), data.chance, draws=draws or LabelDraws())

    @property
    def labels(self) -> str:
        """The training labels for people: "2,000 training images" or the draws (LabelDraws.describe)."""
        return self.draws.describe(len(self.classes), self.n_train)

    def table(self) -> str:
        if not self.draws.whole_pool:
            return self._spread_table()
        lines = [
            f"feature probe (L2-SVM on standardised features): {self.data}",
            f"{self.n_train:,} training / {self.n_test:,} test images",
            f"{'features':<16}{'dims':>9}{'accuracy':>10}{'C':>9}",
        ]
        for s in self.scores:
            note = "" if s.converged else "  (SVM stopped at max_iter)"
            lines.append(f"{s.features:<16}{s.dims:>9,}{100 * s.accuracy:>9.1f}%{s.C:>9.0e}{note}")
        lines.append(f"{'chance (majority class)':<25}{100 * self.chance:>9.1f}%")
        return "\n".join(lines)

    def _spread_table(self) -> str:
        """The paper's few-label rows: accuracy and error as mean ± std over the draws."""
        lines = [
            f"feature probe (L2-SVM on standardised features): {self.data}",
            f"{self.labels}; {self.n_test:,} test images",
            f"{'features':<16}{'dims':>9}{'accuracy (mean ± std)':>24}{'error (mean ± std)':>22}{'C (median)':>12}",
        ]
        for s in self.scores:
            note = "" if s.converged else "  (SVM stopped at max_iter)"
            shown = round(100 * s.accuracy, 1)  # error from the rounded accuracy, so the two columns add up to 100
            accuracy = f"{shown:.1f} ± {100 * s.accuracy_std:.1f}%"
            error = f"{100 - shown:.1f} ± {100 * s.accuracy_std:.1f}%"
            lines.append(f"{s.features:<16}{s.dims:>9,}{accuracy:>24}{error:>22}{s.C:>12.0e}{note}")
        lines.append(f"{'chance (majority class)':<25}{100 * self.chance:>9.1f}%")
        return "\n".join(lines)

    def as_dict(self) -> dict:
        return {
            "data": self.data, "classes": self.classes, "n_train": self.n_train, "n_test": self.n_test, "chance": self.chance,
            "draws": self.draws.to_dict(),
            "scores": [
                {"features": s.features, "dims": s.dims, "accuracy": s.accuracy, "accuracy_std": s.accuracy_std,
                 "confusion": s.confusion.tolist(), "C": s.C, "validation": {str(c): a for c, a in s.validation.items()},
                 "converged": s.converged, "seconds": s.seconds, "draw_accuracies": s.draw_accuracies, "draw_C": s.draw_C}
                for s in self.scores
            ],
        }

    @classmethod
    def from_dict(cls, d: dict) -> ProbeReport:
        """The inverse of `as_dict` (KeyError / TypeError / ValueError on a malformed dict)."""
        scores = [
            ProbeScore(
                features=str(s["features"]), dims=int(s["dims"]), accuracy=float(s["accuracy"]),
                confusion=np.asarray(s["confusion"], dtype=np.int64), C=float(s["C"]),
                validation={float(c): float(a) for c, a in s.get("validation", {}).items()},
                converged=bool(s["converged"]), seconds=float(s.get("seconds", 0.0)),
                draw_accuracies=[float(a) for a in s.get("draw_accuracies", [])], draw_C=[float(c) for c in s.get("draw_C", [])],
            )
            for s in d["scores"]
        ]
        draws = LabelDraws(**{k: v for k, v in d.get("draws", {}).items() if k in LabelDraws.__dataclass_fields__})
        k = len(d["classes"])
        if any(s.confusion.shape != (k, k) for s in scores):
            raise ValueError(f"a confusion matrix is not {k} x {k}")
        return cls(str(d["data"]), [str(c) for c in d["classes"]], int(d["n_train"]), int(d["n_test"]), float(d["chance"]), scores,
                   draws)


def run_probe(
    discriminator: Discriminator,
    data: ProbeData,
    *,
    feature_sets: Sequence[str] = FEATURE_SETS,
    C: float | None = None,
    random_seed: int = RANDOM_D_SEED,
    max_iter: int = DEFAULT_MAX_ITER,
    draws: LabelDraws | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> ProbeReport:
    """The probe's table for one D: each feature set through the same standardise + L2-SVM pipeline.

    `draws` (LabelDraws): train on class-balanced labelled subsets, repeated; default the whole training set once.
    `progress(feature_set, done, total)` is called while features are extracted.
    """
    report = ProbeReport.for_data(data, draws)
    report.draws.check_pool(data.train.labels, data.classes)
    for name in feature_sets:
        step = None if progress is None else (lambda done, total, name=name: progress(name, done, total))
        report.scores.append(probe_score(name, discriminator, data, C=C, random_seed=random_seed, max_iter=max_iter,
                                         draws=report.draws, progress=step))
    return report


# ----------------------------------------------------------------------------- stored results


@dataclass(frozen=True)
class ProbeSettings:
    """Everything a probe's result depends on besides the model: the CLI's flags, the app page's widgets."""

    dataset: str = "faces"
    task: str = "attributes"  # one of TASKS[dataset]
    data_root: str | None = None  # real data sets only
    n_train: int = 2000
    n_test: int = 1000
    C: float | None = None  # None: picked per feature set on a validation split
    seed: int = PROBE_SEED  # data set seed (procedural) or subset seed (real)
    random_seed: int = RANDOM_D_SEED
    feature_sets: tuple[str, ...] = FEATURE_SETS
    per_class: int | None = None  # LabelDraws: labels per class in each draw (None: the whole training set)
    labels: int | None = None  # or labels in all per draw
    repeats: int = 1  # draws, each seeded from `seed`

    @property
    def draws(self) -> LabelDraws:
        """The labelled subsets these settings train on; draws are seeded from `seed`."""
        return LabelDraws(self.per_class, self.labels, self.repeats, self.seed)

    def to_dict(self) -> dict:
        return {**self.__dict__, "feature_sets": list(self.feature_sets)}

    @classmethod
    def from_dict(cls, d: dict) -> ProbeSettings:
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        if "feature_sets" in known:
            known["feature_sets"] = tuple(known["feature_sets"])
        if known.get("C") is not None:
            known["C"] = float(known["C"])
        return cls(**known)

    def command(self, model: str, save: str | None = None) -> str:
        """The `dcgan probe` command that gives these settings (flags only where not default)."""
        parts = ["dcgan", "probe", "--model", model]
        default = ProbeSettings(dataset=self.dataset, task=TASKS.get(self.dataset, ("classes",))[0])
        flags = [("dataset", "--dataset"), ("task", "--task"), ("data_root", "--data-root"), ("n_train", "--n-train"),
                 ("n_test", "--n-test"), ("C", "--C"), ("seed", "--seed"), ("random_seed", "--random-seed"),
                 ("per_class", "--per-class"), ("labels", "--labels"), ("repeats", "--repeats")]
        for name, flag in flags:
            value = getattr(self, name)
            if value is not None and (name == "dataset" or value != getattr(default, name)):
                parts += [flag, f"{value:g}" if isinstance(value, float) else str(value)]
        if tuple(self.feature_sets) == FEATURE_SETS[:1]:
            parts.append("--no-baselines")
        if save:
            parts += ["--save", save]
        return shlex.join(parts)


@dataclass
class StoredProbe:
    """A probe result kept beside a model (models/NAME/probe.json), with what it was run on and how."""

    settings: ProbeSettings
    report: ProbeReport
    command: str  # the command that wrote it
    checkpoint: str  # file name of the checkpoint probed
    step: int
    checkpoint_sha256: str  # the result belongs to these weights only

    def matches(self, settings: ProbeSettings, checkpoint_sha256: str) -> bool:
        return self.settings == settings and self.checkpoint_sha256 == checkpoint_sha256


def stored_probe_path(checkpoint: str | Path) -> Path:
    """Where a model's stored probe lives: models/NAME/probe.json beside NAME/model.safetensors, else CKPT.probe.json."""
    checkpoint = Path(checkpoint)
    if checkpoint.name == "model.safetensors":
        return checkpoint.with_name("probe.json")
    return checkpoint.with_suffix(".probe.json")


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_stored_probe(
    path: str | Path, report: ProbeReport, settings: ProbeSettings, *, checkpoint: str | Path, step: int, command: str
) -> None:
    """Write a probe's result and its provenance as JSON, atomically (a reader never sees half a file)."""
    record = {
        "command": command, "checkpoint": Path(checkpoint).name, "step": int(step),
        "checkpoint_sha256": file_sha256(checkpoint), "settings": settings.to_dict(), "report": report.as_dict(),
    }
    write_json_atomic(path, record)


def load_stored_probe(path: str | Path) -> StoredProbe:
    """Read what `save_stored_probe` wrote; ValueError naming the file when it is not such a file."""
    try:
        d = json.loads(Path(path).read_text())
        return StoredProbe(
            settings=ProbeSettings.from_dict(d["settings"]), report=ProbeReport.from_dict(d["report"]),
            command=str(d["command"]), checkpoint=str(d["checkpoint"]), step=int(d["step"]),
            checkpoint_sha256=str(d["checkpoint_sha256"]),
        )
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError, KeyError, TypeError, ValueError, AttributeError) as e:
        raise ValueError(f"{path} is not a stored probe result ({type(e).__name__}: {str(e)[:120]}); "
                         "write it again with `dcgan probe ... --save PATH`") from None
