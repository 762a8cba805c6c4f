"""How each face attribute is laid out in z: the assumptions of vector arithmetic, measured.

The paper's arithmetic (section 6.3.2) averages 3 codes per concept and adds and subtracts the
means. That works where a concept is a convex region of z on one side of a roughly flat boundary.
For each attribute the face instrument reads on generated faces, this measures:

- share:      samples that show it ("turn": looking right, among those clearly turned);
- linear:     held-out accuracy of a logistic regression in z (InterFaceGAN's separability);
- quadratic:  the same on [z, z^2]; far above "linear" would mean a curved boundary;
- smooth:     the same for a small neural network (MLP) on z: a curved boundary it can learn
              from these samples; near "linear" as well means no smooth boundary that this many
              samples reveal (a fragmented region, or one too finely curved to learn);
- noise flips: share of samples whose label changes under the paper's neighbour noise (uniform
              +-0.25 per coordinate, as Y's 8 neighbours get), against what an exact half-space
              of z along the fitted normal at the same share would give: a rough attribute
              flips far more often than its flat counterpart;
- flips:      label changes along a straight line between two random codes (33 points):
              about 1 means one boundary crossed, many would mean a fragmented region;
- kept (yes / no): share of means of 3 random codes of that side that still show it, which is
              what averaging exemplars needs.

`--by skin` asks whether an attribute is one direction of z for every face: it fits the normal
separately on the darkest, middle and lightest third of skin tones and compares them (cosine)
with the normals of random groups of the same sizes. On the data before 2026-11-30, which
lightened the glasses frames of dark skin, the glasses normals of dark and light skin were
orthogonal. `--by sex` does the same for the faces the instrument reads as men and as women.

    dcgan latent-geometry --model faces [--by skin|sex]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .arithmetic import NOISE_SCALE
from .directions import binary_targets, fit_directions, held_out
from .labelling import TURN_SELECT, read_codes

LINE_POINTS = 33  # points per straight line between two random codes
NOISE_SAMPLES = 2000  # samples read again with the neighbour noise (at most n)


@dataclass
class AttributeGeometry:
    name: str  # glasses / smiling / masculine / turn (yes = looking right)
    share: float  # share of the used samples on the "yes" side
    linear: float  # held-out accuracy of a logistic regression on z
    quadratic: float  # the same on [z, z^2]
    flips_per_line: float  # mean label changes along a line of LINE_POINTS codes
    kept_yes: float  # share of means of 3 "yes" codes that read "yes"
    kept_no: float  # the same for "no"
    smooth: float = float("nan")  # held-out accuracy of an MLP on z
    noise_flips: float = float("nan")  # share of samples whose label changes under uniform noise of NOISE_SCALE
    noise_flips_linear: float = float("nan")  # the same for a half-space of z along the fitted normal, at the same share


def _sides(labels: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per attribute an int8 (N,) side: 1 yes, 0 no, -1 not used (turn: frontal, |turn| <= TURN_SELECT)."""
    out = {}
    for k, v in labels.items():
        if k == "turn":
            t = np.asarray(v, dtype=np.float64)
            out[k] = np.where(t > TURN_SELECT, 1, np.where(t < -TURN_SELECT, 0, -1)).astype(np.int8)
        else:
            out[k] = np.asarray(v, dtype=bool).astype(np.int8)
    return out


def smooth_accuracy(x: np.ndarray, y: np.ndarray, seed: int = 0, test_fraction: float = 0.25) -> float:
    """Held-out accuracy of a two-layer MLP predicting bool y from x (the split as `fit_directions` makes it)."""
    from sklearn.neural_network import MLPClassifier

    is_test = held_out(len(x), test_fraction, seed)
    if len(np.unique(y[~is_test])) < 2 or not is_test.any():
        return float("nan")
    mlp = MLPClassifier((256, 256), max_iter=300, early_stopping=True, random_state=seed)
    return float(mlp.fit(x[~is_test], y[~is_test]).score(x[is_test], y[is_test]))


def half_space_flips(x: np.ndarray, x_noisy: np.ndarray, normal: np.ndarray, share: float) -> float:
    """Share of codes that change side of the half-space {x . normal > t} (t cut at `share`) when x becomes x_noisy."""
    p, q = x @ normal, x_noisy @ normal
    t = np.quantile(p, 1 - share)
    return float(((p > t) != (q > t)).mean())


def attribute_geometry(
    generator, instrument, n: int = 8000, lines: int = 50, means: int = 300, seed: int = 0, smooth: bool = True
) -> list[AttributeGeometry]:
    """The table above for one generator, on n samples of z seed `seed` (G in eval mode, not modified).

    `smooth=False` skips the MLP (the slowest part: some seconds per attribute at n=8000).
    """
    from ..latent import sample_z

    if n < 100 or lines < 1 or means < 1:
        raise ValueError("n must be at least 100, lines and means at least 1")
    z = sample_z(n, generator.config, seed=seed)
    _, reading = read_codes(generator, instrument, z)
    labels = reading.labels()
    x = z.flatten(1).numpy().astype(np.float64)
    linear = fit_directions(x, labels, seed=seed).directions
    quadratic = fit_directions(np.hstack([x, x**2]), labels, seed=seed).directions

    rng = np.random.default_rng(seed)
    ends = sample_z(2 * lines, generator.config, seed=seed + 1)
    t = torch.linspace(0, 1, LINE_POINTS).view(1, -1, *([1] * (ends.dim() - 1)))
    path = (ends[:lines, None] * (1 - t) + ends[lines:, None] * t).reshape(lines * LINE_POINTS, *ends.shape[1:])
    on_lines = _sides(read_codes(generator, instrument, path)[1].labels())

    sides = _sides(labels)
    picks, owners = [], []
    for attr, side in sides.items():
        for value in (1, 0):
            pool = np.flatnonzero(side == value)
            if len(pool) >= 3:
                picks.append(torch.stack([z[rng.choice(pool, 3, replace=False)].mean(0) for _ in range(means)]))
                owners.append((attr, value))
    read_means = _sides(read_codes(generator, instrument, torch.cat(picks))[1].labels()) if picks else {}

    k = min(n, NOISE_SAMPLES)
    noise = (torch.rand(z[:k].shape, generator=torch.Generator().manual_seed(seed + 2)) * 2 - 1) * NOISE_SCALE
    noisy = read_codes(generator, instrument, z[:k] + noise)[1].labels()
    noisy_sides = {**_sides(noisy), "turn": (np.asarray(noisy["turn"]) > 0).astype(np.int8)}  # turn: which way, however little
    x_noisy = (z[:k] + noise).flatten(1).numpy().astype(np.float64)

    out = []
    for attr, (use, y) in binary_targets(labels).items():
        if attr not in linear:
            continue
        kept = {}
        for i, owner in enumerate(owners):
            if owner[0] == attr:
                kept[owner[1]] = float((read_means[attr][i * means : (i + 1) * means] == owner[1]).mean())
        steps = on_lines[attr].reshape(lines, LINE_POINTS).astype(np.int16)
        if attr == "turn":  # frontal points are neither side: count changes between the sides only
            flips = [int(np.sum(np.diff(r[r >= 0]) != 0)) for r in steps]
        else:
            flips = list(np.sum(np.diff(steps, axis=1) != 0, axis=1))
        before = sides[attr][:k]  # 1 / 0, or -1 where unused (turn: frontal)
        used = before >= 0
        after = noisy_sides[attr][used]
        changed = after != before[used]
        out.append(AttributeGeometry(
            attr, float(y.mean()), linear[attr].accuracy,
            quadratic[attr].accuracy if attr in quadratic else float("nan"),
            float(np.mean(flips)), kept.get(1, float("nan")), kept.get(0, float("nan")),
            smooth=smooth_accuracy(x[use], y, seed) if smooth else float("nan"),
            noise_flips=float(changed.mean()) if used.any() else float("nan"),
            noise_flips_linear=half_space_flips(x[:k][used], x_noisy[used], linear[attr].normal, float(before[used].mean()))
            if used.any() else float("nan"),
        ))
    return out


SKIN_PATCH = (32 / 64, 38 / 64, 27 / 64, 37 / 64)  # rows, cols (share of the size): the cheeks and nose, below the glasses


def skin_tone(images: np.ndarray) -> np.ndarray:
    """(N,) mean luminance (0-255) of the cheek patch of uint8 (N, H, W, 3) face images: a proxy for the skin tone."""
    images = np.asarray(images)
    h, w = images.shape[1:3]
    r0, r1, c0, c1 = SKIN_PATCH
    patch = images[:, round(r0 * h) : round(r1 * h), round(c0 * w) : round(c1 * w)].astype(np.float64)
    return (patch @ np.array([0.299, 0.587, 0.114])).mean((1, 2))


@dataclass
class GroupNormals:
    """One attribute's logistic-regression normal in z, fitted within each group of samples."""

    name: str
    groups: list[str]
    accuracy: list[float]  # held-out accuracy within each group
    share: list[float]  # share of "yes" within each group
    cosines: dict[str, float]  # "a-b" -> cosine between the normals of groups a and b
    random_cosines: list[float]  # the same between random groups of the same sizes (how close fits of one direction come)


def normals_by_group(x: np.ndarray, labels: dict[str, np.ndarray], groups: dict[str, np.ndarray], seed: int = 0) -> list[GroupNormals]:
    """Per binary attribute, the normal fitted in each group (bool masks over the rows of x) and their cosines.

    The control: the same fits on random groups of the same sizes; one direction shared by all groups
    gives cosines as high as the control's, an attribute that G draws differently per group does not.
    """
    rng = np.random.default_rng(seed)
    sizes = [int(m.sum()) for m in groups.values()]
    order = rng.permutation(len(x))
    random_groups = np.split(order, np.cumsum(sizes)[:-1])
    out = []
    for attr in (k for k in labels if k != "turn"):
        fit = lambda rows: fit_directions(x[rows], {attr: labels[attr][rows]}, seed=seed).directions.get(attr)  # noqa: E731
        fitted = {name: fit(np.flatnonzero(mask)) for name, mask in groups.items()}
        if any(d is None for d in fitted.values()):
            continue
        names = list(fitted)
        cos = {f"{a}-{b}": float(fitted[a].normal @ fitted[b].normal) for i, a in enumerate(names) for b in names[i + 1 :]}
        rand = [fit(r) for r in random_groups]
        rand_cos = [float(a.normal @ b.normal) for i, a in enumerate(rand) for b in rand[i + 1 :] if a is not None and b is not None]
        out.append(GroupNormals(attr, names, [fitted[k].accuracy for k in names],
                                [float(np.asarray(labels[attr])[groups[k]].mean()) for k in names], cos, rand_cos))
    return out


GROUPINGS = {
    "skin": "thirds of the samples by the luminance of the cheeks (skin_tone)",
    "sex": "the samples the instrument reads as men and as women",
}


def normals_by(generator, instrument, by: str = "skin", n: int = 8000, seed: int = 0) -> list[GroupNormals]:
    """`normals_by_group` on n samples split by skin tone (dark, mid, light thirds of `skin_tone`) or by sex (men, women)."""
    from ..latent import sample_z

    if by not in GROUPINGS:
        raise ValueError(f"group by one of {', '.join(GROUPINGS)}, not {by!r}")
    if n < 300:
        raise ValueError("n must be at least 300 (three groups of 100)")
    z = sample_z(n, generator.config, seed=seed)
    images, reading = read_codes(generator, instrument, z)
    labels = reading.labels()
    if by == "skin":
        tone = skin_tone(images)
        lo, hi = np.quantile(tone, [1 / 3, 2 / 3])
        groups = {"dark": tone < lo, "mid": (tone >= lo) & (tone < hi), "light": tone >= hi}
    else:
        groups = {"men": labels["masculine"], "women": ~labels["masculine"]}
    return normals_by_group(z.flatten(1).numpy().astype(np.float64), labels, groups, seed=seed)


def format_normals(rows: list[GroupNormals], about: str = "", by: str = "skin") -> str:
    lines = [f"one direction per attribute for every group ({GROUPINGS.get(by, by)})?{' ' + about if about else ''}"]
    for r in rows:
        per = ", ".join(f"{g} {a:.1%} ({s:.0%} yes)" for g, a, s in zip(r.groups, r.accuracy, r.share))
        cos = ", ".join(f"{k} {v:+.2f}" for k, v in r.cosines.items())
        lines.append(f"{r.name:<10} linear within each group: {per}")
        lines.append(f"{'':<10} cosine between their normals: {cos}; random groups: "
                     + ", ".join(f"{v:+.2f}" for v in r.random_cosines))
    lines.append("linear: held-out accuracy of a logistic regression on z within the group; random groups: the same fits on "
                 "random groups of the same sizes, what one direction shared by all gives")
    return "\n".join(lines)


def format_geometry(rows: list[AttributeGeometry], about: str = "") -> str:
    lines = [
        f"how face attributes lie in z{': ' + about if about else ''}",
        f"{'attribute':<11}{'share':>7}{'linear':>8}{'quadratic':>11}{'smooth':>8}{'flips':>7}{'kept yes':>10}{'kept no':>9}"
        f"{'noise flips':>13}{'half-space':>12}",
    ]
    for r in rows:
        lines.append(f"{r.name:<11}{r.share:>7.0%}{r.linear:>8.1%}{r.quadratic:>11.1%}{_pct(r.smooth):>8}{r.flips_per_line:>7.2f}"
                     f"{r.kept_yes:>10.0%}{r.kept_no:>9.0%}{_pct(r.noise_flips):>13}{_pct(r.noise_flips_linear):>12}")
    lines.append(
        "linear / quadratic / smooth: held-out accuracy of a logistic regression on z / on [z, z^2] / of an MLP on z; "
        f"flips: label changes along a straight line between two random codes ({LINE_POINTS} points); kept: means of 3 codes "
        f"of that side that still show it; noise flips: samples whose label changes under uniform noise +-{NOISE_SCALE} "
        "(as Y's 8 neighbours get), against a half-space of z along the fitted normal at the same share (turn: yes = looking right)"
    )
    return "\n".join(lines)


def _pct(v: float) -> str:
    return "-" if v != v else f"{v:.1%}"
