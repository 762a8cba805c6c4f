"""Attribute directions in z learned from thousands of automatically labelled samples (InterFaceGAN, beyond the paper).

`labelling.label_samples` reads many generated faces with the face instrument; `fit_directions`
fits a linear classifier in z per attribute (scikit-learn) and keeps its unit normal;
`project_out` removes other attributes' directions (conditional manipulation: move along
"smiling" while holding "masculine" fixed), `move_along` applies one.

    samples = label_samples(model.generator, instrument, n=5000, seed=0)
    fitted = fit_directions(samples.z, samples.labels())
    smile = project_out(fitted.directions["smiling"].normal, fitted.directions["masculine"].normal)
    moved = move_along(sample_z(8, model.config, seed=1), smile, [-2, 0, 2])   # (8, 3, nz)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from .arithmetic import along_axis, as_codes
from .instruments import FACE_ATTRIBUTES, TURN_SIGN_MARGIN

DIRECTION_ATTRIBUTES = (*FACE_ATTRIBUTES, "turn")  # "turn" points towards looking right


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
    z = as_codes(z)
    d = torch.as_tensor(np.asarray(direction), dtype=torch.float32).ravel()
    if np.ndim(amount) == 0:
        return z + float(amount) * d
    return along_axis(z, d, amount)
