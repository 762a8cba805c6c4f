"""The vector-arithmetic benchmark (`dcgan arithmetic`): the paper's face equations over many random draws.

The paper showed single hand-picked grids. Here exemplars are picked automatically by the face
instrument's labels, over many random draws, and the results are read by the instrument too; each
equation is scored against baselines (the same arithmetic on pixels; C alone; chance) and against
what a perfectly linear latent space would score with the same draws (`linear_ceiling`).

    report = arithmetic_benchmark(model.generator, load_instrument(default_instrument_path("faces")), draws=100)
    print(format_benchmark(report))
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from ..generate import generate
from ..latent import sample_z
from ..models import Generator
from .arithmetic import MIN_PER_CONCEPT, NOISE_SCALE, arithmetic_codes, concept_mean, mean_image, pixel_arithmetic
from .equations import EQUATIONS, TURN_LEFT, TURN_RIGHT, Equation, EquationDraws, _exemplar_pools, draw_equation, majority_shows
from .labelling import FACE_WORDS, LabelledSamples, read_codes, read_images, turn_side
from .linear_ceiling import equation_ceilings


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



def pixel_results(generator: Generator, pool_z: torch.Tensor, drawn: EquationDraws) -> np.ndarray:
    """uint8 (draws, H, W, C): per draw, the same equation done in pixel space on its exemplars' images."""
    images = generate(generator, pool_z[np.concatenate(drawn.picks)])
    images = images.reshape(len(drawn.picks), 3, -1, *images.shape[1:])  # (draws, a/b/c, per_concept, H, W, C)
    return np.stack([pixel_arithmetic(*draw) for draw in images])



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
        FACE_WORDS[k][0 if v else 1]: float((np.asarray(labels[k][: draws * 9], bool) == v).mean()) for k, v in eq.target.wants.items()
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
