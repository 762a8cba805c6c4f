"""What the vector-arithmetic protocol can score at best: the equations run on ideal latent spaces.

The benchmark (`arithmetic_benchmark.arithmetic_benchmark`) asks a generator to get "A - B + C" right with 3
exemplars per concept. Even a generator whose attributes are exact half-spaces of z (present where
z . n > t, nothing curved) fails some draws: the 3 exemplars of "man with glasses" may sit just
inside the glasses side, the 3 of "woman without glasses" deep on the other side, and Y lands
short. This module runs the same draws with the same code (`equations.draw_equation`) on z
labelled by half-spaces instead of by G and the instrument, so a measured rate can be read against
what the protocol allows:

- `ideal`: one random direction per attribute, orthogonal, cut at the model's own share of
  each attribute. With uniform z in 100 dimensions each projection z . n is nearly Gaussian, and
  the glasses equation gets about 82% at 3 exemplars: the ceiling of any linear latent space.
- `axes`: each attribute on its own z coordinate (a disentangled G). z . n is then uniform,
  whose halves sit further from the cut for their spread, and the equation gets about 91%.
- `fitted`: this model's own best half-spaces (a logistic regression per attribute on the
  labelled pool): what the model would score if its attributes were exactly their linear part.
  The gap from `fitted` down to the measured rate is what the curved part of the model costs.

    from dcgan_core.analysis.linear_ceiling import HalfSpaces, equation_ceiling
    spaces = HalfSpaces.ideal(pool_z, {"glasses": 0.47, "masculine": 0.51, "smiling": 0.52}, seed=0)
    equation_ceiling(EQUATIONS["glasses"], spaces, pool_z)    # about 0.82
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch

from .arithmetic import MIN_PER_CONCEPT, NOISE_SCALE
from .equations import Equation, draw_equation, majority_shows

CEILING_DRAWS = 4000  # draws per ceiling: cheap (no generator), and tight (binomial std under 0.7 points)
KINDS = ("ideal", "axes", "fitted")


def _matrix(z: torch.Tensor | np.ndarray) -> np.ndarray:
    x = z.detach().cpu().numpy() if torch.is_tensor(z) else np.asarray(z)
    return x.reshape(len(x), -1).astype(np.float64)


def _nz_for(pool_z, shares: Mapping[str, float]) -> int:
    """z's size, checked to hold one direction per attribute."""
    nz = _matrix(pool_z).shape[1]
    if len(shares) > nz:
        raise ValueError(f"{len(shares)} attributes need at least as many z dimensions, z has {nz}")
    return nz


@dataclass(frozen=True)
class HalfSpaces:
    """Attributes as half-spaces of z: `attribute` is present where z . normals[attribute] > offsets[attribute]."""

    normals: Mapping[str, np.ndarray]  # attribute -> unit (nz,)
    offsets: Mapping[str, float]

    def labels(self, z: torch.Tensor | np.ndarray) -> dict[str, np.ndarray]:
        """Bool (N,) per attribute for (N, nz) codes (or (N, nz, 1, 1)), as `LabelledSamples.labels()` gives them."""
        x = _matrix(z)
        return {k: x @ n > self.offsets[k] for k, n in self.normals.items()}

    @classmethod
    def _cut(cls, pool_z, normals: dict[str, np.ndarray], shares: Mapping[str, float]) -> HalfSpaces:
        x = _matrix(pool_z)
        offsets = {k: float(np.quantile(x @ n, 1 - shares[k])) for k, n in normals.items()}
        return cls(normals, offsets)

    @classmethod
    def ideal(cls, pool_z, shares: Mapping[str, float], seed: int = 0) -> HalfSpaces:
        """Orthogonal random directions, each cut so that `shares[attribute]` of the pool is on its "yes" side."""
        nz = _nz_for(pool_z, shares)
        basis, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((nz, len(shares))))
        return cls._cut(pool_z, {k: basis[:, i] for i, k in enumerate(shares)}, shares)

    @classmethod
    def axes(cls, pool_z, shares: Mapping[str, float]) -> HalfSpaces:
        """Attribute i on z coordinate i: a G whose factors are disentangled along the axes of z."""
        nz = _nz_for(pool_z, shares)
        return cls._cut(pool_z, {k: np.eye(nz)[i] for i, k in enumerate(shares)}, shares)

    @classmethod
    def fitted(cls, pool_z, labels: Mapping[str, np.ndarray]) -> HalfSpaces:
        """A logistic regression in z per attribute of `labels` (bool (N,) each) on the whole pool: its boundary."""
        from sklearn.linear_model import LogisticRegression

        x = _matrix(pool_z)
        normals, offsets = {}, {}
        for k, y in labels.items():
            y = np.asarray(y, bool)
            if y.all() or not y.any():
                raise ValueError(f"every pool sample reads the same for {k!r}: no boundary to fit")
            clf = LogisticRegression(C=1.0, max_iter=2000).fit(x, y)
            w, b = clf.coef_.ravel(), float(clf.intercept_[0])
            norm = float(np.linalg.norm(w))
            normals[k], offsets[k] = w / norm, -b / norm
        return cls(normals, offsets)


def equation_ceiling(
    eq: Equation,
    spaces: HalfSpaces,
    pool_z: torch.Tensor,
    draws: int = CEILING_DRAWS,
    per_concept: int = MIN_PER_CONCEPT,
    scale: float = NOISE_SCALE,
    seed: int = 0,
    clip: float | None = None,
) -> float:
    """Share of `draws` where Y and its 8 neighbours show the target on a majority, all read by `spaces`.

    The same protocol as the benchmark (`equations.draw_equation`): exemplars drawn among the pool
    codes `spaces` reads as each concept, Y = mean(A) - mean(B) + mean(C), 8 neighbours with
    uniform noise of `scale`. NaN when the pool holds fewer than `per_concept` exemplars of a concept.
    """
    pool_z = torch.as_tensor(pool_z, dtype=torch.float32)
    rng = np.random.default_rng(seed)
    drawn, _, why = draw_equation(eq, pool_z, spaces.labels(pool_z), rng, draws, per_concept, scale, clip)
    if why:
        return float("nan")
    return float(majority_shows(eq.target, spaces.labels(drawn.codes)).mean())


def equation_ceilings(
    eq: Equation,
    pool_z: torch.Tensor,
    pool_labels: Mapping[str, np.ndarray],
    draws: int = CEILING_DRAWS,
    per_concept: int = MIN_PER_CONCEPT,
    scale: float = NOISE_SCALE,
    seed: int = 0,
    clip: float | None = None,
) -> dict[str, float]:
    """{"ideal", "axes", "fitted"} -> ceiling for the attributes `eq` uses, at the pool's own shares of them."""
    used = list(dict.fromkeys(k for c in (eq.a, eq.b, eq.c, eq.target) for k in c.wants))
    labels = {k: np.asarray(pool_labels[k], bool) for k in used}
    shares = {k: float(v.mean()) for k, v in labels.items()}
    if any(s in (0.0, 1.0) for s in shares.values()):
        return {k: float("nan") for k in KINDS}
    spaces = {"ideal": HalfSpaces.ideal(pool_z, shares, seed), "axes": HalfSpaces.axes(pool_z, shares),
              "fitted": HalfSpaces.fitted(pool_z, labels)}
    return {k: equation_ceiling(eq, s, pool_z, draws, per_concept, scale, seed, clip) for k, s in spaces.items()}
