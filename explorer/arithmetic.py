"""Compute for the vector arithmetic pages (paper section 6.3.2, Figs. 7 and 8; learned directions), cached per model weights.

The face instrument and its readings, the images of exemplars, of Y = mean(A) - mean(B) + mean(C)
and of its pixel-space twin, concept axes, learned directions and the benchmark; plus the small
array and text helpers the pages show them with. Codes are float32 (N, nz) arrays, images uint8
(N, H, W, C). Nothing here reads or writes `st.session_state` (that is `explorer.arithmetic_widgets`).
Library: `dcgan_core.analysis`: `concept_sets`, `arithmetic`, `labelling`, `directions`, `arithmetic_benchmark`
(from the command line: `dcgan arithmetic --model faces`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st
import torch

from dcgan_core.analysis import (arithmetic, arithmetic_benchmark, concept_sets, directions, equations, labelling, latent_geometry,
                                 user_data)
from dcgan_core.analysis.instruments import InstrumentError, default_instrument_path, load_instrument
from dcgan_core.analysis.linear_ceiling import CEILING_DRAWS
from dcgan_core.generate import generate
from dcgan_core.latent import sample_z

GRID_SIZE = 32  # samples offered for picking
GRID_COLUMNS = 8
SLOTS = (0, 1, 2)
LETTERS = "ABC"
DEMO_EQUATION = "glasses"  # the one-click demo: the equation that works on the shipped faces model
DEMO_RATES = {  # measured on the shipped faces model by `dcgan arithmetic --model faces` (README, "Vector arithmetic")
    "glasses": "about 8 draws in 10 (83% over 100 draws, 80% over 2,100)",
    "smile": "about half the draws (54% over 100 draws: smiles are rough in z)",
}
FACE_NAMES = tuple(c.name for c in (equations.EQUATIONS[DEMO_EQUATION].a, equations.EQUATIONS[DEMO_EQUATION].b,
                                    equations.EQUATIONS[DEMO_EQUATION].c))
NEUTRAL_NAMES = ("concept A", "concept B", "concept C")  # a model that does not draw faces
CHUNK = 256  # samples generated and read per cached call (one progress step)
AUTO_POOL = 256  # samples of the grid seed among which the instrument picks exemplars
DIRECTION_SAMPLES = (500, 1000, 2000, 5000)
BENCH_POOL = 1000  # samples labelled once by the benchmark, among which each draw picks its exemplars
LAYOUT_SAMPLES = 2000  # at most this many samples for the "how attributes lie in z" chart (it also reads lines and means)
ATTRIBUTE_WORDS = {"glasses": "glasses", "smiling": "smiling", "masculine": "masculine", "turn": "turn (towards the right)"}
BADGE_LEGEND = "Labels: M man, W woman, S smiling, G glasses, ← looking left, → looking right (what the face instrument reads)."


# ---------------------------------------------------------------------------- compute, cached per model weights


@st.cache_resource(show_spinner="Loading the face instrument...")
def face_instrument():
    """The shipped face instrument, shared read-only by every session."""
    return load_instrument(default_instrument_path("faces"), kind="faces")


def instrument_error() -> str | None:
    """Why the face instrument could not be loaded, or None when it loads."""
    try:
        face_instrument()
    except (InstrumentError, OSError) as e:
        return str(e)
    return None


@st.cache_data(max_entries=8, show_spinner=False)
def identity_of(_model, model_key: tuple, name: str) -> user_data.ModelIdentity:
    return user_data.model_identity(name, _model)


@st.cache_data(max_entries=64, show_spinner=False)
def images_of(_model, model_key: tuple, z: np.ndarray) -> np.ndarray:
    """uint8 (N, H, W, C) of codes z (N, nz)."""
    return generate(_model.generator, torch.from_numpy(np.asarray(z, dtype=np.float32)))


@st.cache_data(max_entries=64, show_spinner=False)
def read(images: np.ndarray) -> dict:
    """The face instrument's labels of uint8 (N, H, W, 3) images."""
    return labelling.read_images(face_instrument(), images).labels()


@st.cache_data(max_entries=128, show_spinner=False)
def labelled_chunk(_model, model_key: tuple, seed: int, start: int, stop: int) -> labelling.LabelledSamples:
    """Samples start..stop-1 of `seed` with the instrument's readings."""
    z = sample_z(stop, _model.config, seed=seed)[start:stop]
    return labelling.read_codes(_model.generator, face_instrument(), z)[1]


def labelled(model, seed: int, n: int, progress: Callable[[float], None] | None = None) -> labelling.LabelledSamples:
    """Samples 0..n-1 of `seed` with the instrument's readings, in cached chunks (progress(fraction) after each).

    `model` is the ActiveModel (its `loaded` model and `key`)."""
    parts = []
    for start in range(0, n, CHUNK):
        parts.append(labelled_chunk(model.loaded, model.key, seed, start, min(start + CHUNK, n)))
        if progress is not None:
            progress(min(start + CHUNK, n) / n)
    return labelling.concat_labelled(parts)


@st.cache_data(max_entries=8, show_spinner=False)
def fitted_directions(_active, model_key: tuple, seed: int, n: int) -> directions.FittedDirections:
    """Directions fitted on samples 0..n-1 of `seed` (`_active`: the ActiveModel, named by model_key)."""
    samples = labelled(_active, seed, n)
    return directions.fit_directions(samples.z, samples.labels(), seed=seed)


@st.cache_data(max_entries=8, show_spinner=False)
def attribute_layout(_model, model_key: tuple, seed: int, n: int) -> list[latent_geometry.AttributeGeometry]:
    """How linear and convex each attribute is in z (latent_geometry), on samples 0..n-1 of `seed`."""
    return latent_geometry.attribute_geometry(_model.generator, face_instrument(), n=n, lines=30, means=100, seed=seed,
                                              smooth=False)


@st.cache_data(max_entries=8, show_spinner=False)
def benchmark(_model, model_key: tuple, name: str, draws: int, per_concept: int, seed: int) -> arithmetic_benchmark.ArithmeticBenchmark:
    """`dcgan arithmetic` on this model (`model_key` names its weights for the cache)."""
    return arithmetic_benchmark.arithmetic_benchmark(_model.generator, face_instrument(), draws=draws, pool=BENCH_POOL, seed=seed,
                                         per_concept=per_concept, model_name=name)


# ---------------------------------------------------------------------------- exemplars and the arithmetic


def grid_codes(config, seed: int) -> np.ndarray:
    """float32 (GRID_SIZE, nz): the codes of the grid of samples to pick from."""
    return sample_z(GRID_SIZE, config, seed=seed).numpy()


def slot_codes(picks: list[dict]) -> np.ndarray:
    """float32 (k, nz): the codes of a slot's picked exemplars ({"z", "seed", "index"})."""
    return np.stack([p["z"] for p in picks]).astype(np.float32)


def slot_images(model, picks: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images of a slot's exemplars (k, H, W, C) and of G(mean z) (1, H, W, C)."""
    codes = slot_codes(picks)
    return images_of(model.loaded, model.key, codes), images_of(model.loaded, model.key, codes.mean(0, keepdims=True))


def instrument_picks(pool: labelling.LabelledSamples, wanted: Sequence[equations.Concept]) -> list[np.ndarray]:
    """Per concept, the indices of the first MIN_PER_CONCEPT samples of `pool` the instrument reads as it (maybe fewer)."""
    labels = pool.labels()
    return [np.flatnonzero(c.select(labels))[: arithmetic.MIN_PER_CONCEPT] for c in wanted]


@dataclass
class ArithmeticImages:
    """Y = mean(A) - mean(B) + mean(C) in z (with its 8 noisy neighbours) and the same sum on images."""

    result: np.ndarray  # uint8 (9, H, W, C): Y in the centre of its noisy neighbours (paper Fig. 7)
    means: np.ndarray  # uint8 (3, H, W, C): G(mean z) of A, B and C
    pixel_means: np.ndarray  # uint8 (3, H, W, C): the mean image of each slot's exemplars
    pixel_result: np.ndarray  # uint8 (H, W, C): mean image A - B + C, clipped to 0..255


def arithmetic_images(model, codes: Sequence[np.ndarray], scale: float, noise_seed: int, clip: bool) -> ArithmeticImages:
    """The arithmetic of three slots' codes (k_i, nz), in z and in pixel space; ValueError when their sizes differ."""
    y = arithmetic.concept_arithmetic(*codes)
    grid_z = arithmetic.arithmetic_codes(y, float(scale), noise_seed, clip=1.0 if clip else None)
    exemplars = [images_of(model.loaded, model.key, z) for z in codes]
    return ArithmeticImages(
        result=images_of(model.loaded, model.key, grid_z.numpy()),
        means=images_of(model.loaded, model.key, np.stack([z.mean(0) for z in codes])),
        pixel_means=np.stack([arithmetic.mean_image(x) for x in exemplars]),
        pixel_result=arithmetic.pixel_arithmetic(*exemplars),
    )


def badge(labels: dict, i: int) -> str:
    """A sample's labels in a few letters (see BADGE_LEGEND), so the grid's captions stay on one line."""
    side = labelling.turn_side(labels["turn"][i : i + 1])[0]
    letters = ["M" if labels["masculine"][i] else "W"]
    letters += ["S"] if labels["smiling"][i] else []
    letters += ["G"] if labels["glasses"][i] else []
    letters += ["←"] if side < 0 else ["→"] if side > 0 else []
    return "".join(letters)


def verdict(images: np.ndarray) -> str:
    """What the instrument reads on uint8 (N, H, W, 3) images, for people ("9/9 smiling · ...")."""
    return labelling.reading_summary(read(images))


def saved_path(model, file_name: str) -> Path:
    """A saved set's file: only names listed in this model's folder (never a path people typed)."""
    for path in concept_sets.list_concept_sets(model.name):
        if path.name == file_name:
            return path
    raise FileNotFoundError(f"no saved concept set {file_name!r} for model {model.name} in {user_data.concepts_dir()}")


# ---------------------------------------------------------------------------- axes (Fig. 8)


def axis_sources(model, slots: list[list[dict]], names: Sequence[str], readable: bool) -> dict[str, str]:
    """What an axis can start or end at, {option: label}: filled slots, faces the instrument picks (when it can read
    this model), and this model's saved concept sets. Options as `axis_end_codes` takes them."""
    sources = {f"slot:{i}": f"{LETTERS[i]}: {names[i]} ({len(slots[i])})" for i in SLOTS if slots[i]}
    if readable:
        sources["auto:left"] = "looking left (3 picked by the instrument)"
        sources["auto:right"] = "looking right (3 picked by the instrument)"
    for path in concept_sets.list_concept_sets(model.name):
        sources[f"file:{path.name}"] = f"saved: {path.stem}"
    return sources


def axis_end_codes(model, identity, slots: list[list[dict]], seed: int, option: str) -> np.ndarray:
    """(k, nz) exemplar codes of an axis end: "slot:I", "file:NAME.json", or "auto:left" / "auto:right" (faces the
    instrument reads as looking left / right among samples 0..AUTO_POOL-1 of `seed`)."""
    kind, _, what = option.partition(":")
    if kind == "slot":
        return slot_codes(slots[int(what)])
    if kind == "file":
        return concept_sets.load_concept_set(saved_path(model, what), expect=identity).z.numpy()
    concept = equations.TURN_LEFT if what == "left" else equations.TURN_RIGHT
    pool = labelled(model, seed, AUTO_POOL)
    found = instrument_picks(pool, [concept])[0]
    if len(found) < arithmetic.MIN_PER_CONCEPT:
        raise ValueError(
            f"the instrument found {len(found)} faces {concept.name} among samples 0-{AUTO_POOL - 1} of seed {seed}; need "
            f"{arithmetic.MIN_PER_CONCEPT}: try another seed of the samples on the Vector arithmetic page, or pick them by hand"
        )
    return pool.z[found]


def axis_strip_images(model, za: np.ndarray, zb: np.ndarray, steps: int, extend: float) -> np.ndarray:
    """uint8 (steps, H, W, C): from mean(za) to mean(zb), `extend` of the axis beyond both ends."""
    return images_of(model.loaded, model.key, arithmetic.axis_strip(za, zb, steps, extend).numpy())


def along_axis_images(model, za: np.ndarray, zb: np.ndarray, seed: int, steps: int, amount: float) -> np.ndarray:
    """uint8 (4 * steps, H, W, C): 4 random samples of `seed` (rows) plus t x axis, t from -amount to amount."""
    faces = sample_z(4, model.config, seed=seed)
    rows = arithmetic.along_axis(faces, arithmetic.concept_axis(za, zb), np.linspace(-amount, amount, steps))
    return images_of(model.loaded, model.key, rows.reshape(-1, model.config.nz).numpy())


def mean_turn_per_column(images: np.ndarray, steps: int) -> np.ndarray:
    """(steps,) the instrument's mean turn per column of a (rows x steps) grid of images."""
    return read(images)["turn"].reshape(-1, steps).mean(0)


# ---------------------------------------------------------------------------- learned directions (InterFaceGAN)


def direction_edit(normals: Mapping[str, np.ndarray], amounts: Mapping[str, float], held: Sequence[str], nz: int) -> np.ndarray:
    """(nz,) the sum of amount x unit normal per attribute, with the held attributes' normals projected out of the others.

    ValueError when the held directions cannot be projected out (e.g. parallel)."""
    edit = np.zeros(nz)
    for k, a in amounts.items():
        others = [normals[h] for h in held if h != k]
        if a:
            edit += a * (directions.project_out(normals[k], others) if others else normals[k])
    return edit


def before_after_images(model, seed: int, edit: np.ndarray, saved: concept_sets.ConceptSet | None = None) -> tuple[np.ndarray, str]:
    """(uint8 (2k, H, W, C), what they are): k faces, then the same codes plus `edit`.

    The faces are samples 0-7 of `seed`, or the first 8 codes of a saved set (e.g. your inverted photos).
    """
    if saved is not None:
        before, what = saved.z[:8].float(), f"your saved codes {saved.name!r} ({min(len(saved), 8)} of {len(saved)})"
    else:
        before, what = sample_z(8, model.config, seed=seed), f"samples 0-7 of seed {seed}"
    pair = images_of(model.loaded, model.key, torch.cat([before, directions.move_along(before, edit, 1.0)]).numpy())
    return pair, what


def fitted_caption(fitted: directions.FittedDirections, seed: int) -> str:
    return (
        f"Fitted on {fitted.n:,} labelled samples of seed {seed}; held-out accuracy in z: "
        + (", ".join(f"{ATTRIBUTE_WORDS[k]} {d.accuracy:.0%} ({d.positives} yes / {d.negatives} no)"
                     for k, d in fitted.directions.items()) or "none")
    )


def layout_caption(rows: list[latent_geometry.AttributeGeometry], seed: int, n: int) -> str:
    return (
        f"How each attribute lies in z ({n:,} samples of seed {seed}). Vector arithmetic and these sliders assume an attribute "
        "is one side of a flat boundary: accuracy near 100% and means that keep it. Where a mean of 3 codes loses the attribute, "
        "concept averages (section 2) lose it too. Flips along a straight line between two codes: "
        + ", ".join(f"{ATTRIBUTE_WORDS[r.name]} {r.flips_per_line:.2f}" for r in rows)
        + ". Labels changed by the 8 neighbours' noise (+-0.25), against a flat boundary at the same share: "
        + ", ".join(f"{ATTRIBUTE_WORDS[r.name]} {r.noise_flips:.0%} ({r.noise_flips_linear:.0%})" for r in rows)
        + " (`dcgan latent-geometry` prints the full table)."
    )


# ---------------------------------------------------------------------------- the benchmark


def standard_error(rate: float, draws: int) -> float:
    """One standard error of a success rate over `draws` independent draws (binomial)."""
    return (rate * (1 - rate) / max(draws, 1)) ** 0.5


def benchmark_lines(report: arithmetic_benchmark.ArithmeticBenchmark) -> str:
    """Markdown: per equation run, its success rate and whether averaging kept each concept."""
    lines = []
    for r in report.results:
        if r.skipped:
            continue
        if r.name == "turn":
            lines.append(f"**{r.equation}**: {r.rates()['majority']:.0%} of {r.draws} draws")
            continue
        kept = ", ".join(f"mean({k}) {v:.0%}" for k, v in r.kept_by_mean.items())
        lines.append(f"**{r.equation}**: {r.rates()['majority']:.0%} of {r.draws} draws (all 9: {r.rates()['all_nine']:.0%}); "
                     f"averaging keeps the concept: {kept}")
    return "  \n".join(lines)


def benchmark_caption(report: arithmetic_benchmark.ArithmeticBenchmark) -> str:
    return (
        f"{report.draws} draws per equation, {report.per_concept} exemplars per concept from a pool of {report.pool} samples "
        f"(seed {report.seed}), noise ±{report.scale:g}; ceilings over {CEILING_DRAWS:,} draws on half-spaces cut at the pool's own shares. "
        "Whiskers: one standard error of a measured rate over the draws (about 5 points at 100 draws). "
        "Even a perfectly linear z fails the draws whose 3 'with' exemplars sit near the boundary and whose 'without' ones "
        "sit far from it; more exemplars per concept raise every ceiling."
    )
