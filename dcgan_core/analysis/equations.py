"""The paper's face equations and the protocol that draws their exemplars (paper section 6.3.2, Fig. 7).

A `Concept` is defined by the face instrument's labels ({"smiling": True, "masculine": False});
an `Equation` says a - b + c should show its target. `draw_equation` picks `per_concept`
exemplars of A, B and C at random among pool codes whose labels show each concept, and gives Y
with its 8 noisy neighbours per draw. The benchmark (`arithmetic_benchmark`) reads those codes
with G and the instrument; the ceilings (`linear_ceiling`) read the same draws with exact
half-spaces of z, so both share this one protocol.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .arithmetic import arithmetic_codes, concept_arithmetic
from .instruments import TURN_SIGN_MARGIN
from .labelling import TURN_SELECT


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


def majority_shows(concept: Concept, labels: Mapping[str, np.ndarray]) -> np.ndarray:
    """Bool (draws,): labels of 9 codes per draw (as `EquationDraws.codes`) show `concept` on at least 5 of them."""
    return concept.shown_by(labels).reshape(-1, 9).sum(1) >= 5
