"""How well do the three inversion methods find the z of images G never saw? (issue 21, item 4)

For each model (the shipped `rooms` and `faces` by default) the script renders held-out
procedural images, with their ground truth, from a data set seed no part of the project trains,
validates or tests on (HELD_OUT_SEED; the seeds in use are listed in the output), inverts them
with every method of `dcgan_core.inversion` (optimise, encode, hybrid) and prints per method:

    RMSE       pixel RMSE of G(z) against the image, mean over images, in [-1, 1] units
               (0-255 units beside it: x 127.5)
    SWD        multi-scale sliced Wasserstein distance (x 1e3) of the reconstructions to the originals;
               the floor row is another set of held-out renders against the same originals
    attributes the share of reconstructions whose attributes, read by the shipped instruments,
               match the ORIGINAL'S GROUND TRUTH: faces glasses, masculine, smiling, turn sign
               (on faces turned by more than TURN_SIGN_MARGIN); rooms window present
    s / image  wall-clock seconds of `invert` per image on the CPU at batch 16

beside two reference rows: the instrument reading the originals themselves (its own ceiling), and
the nearest (pixel RMSE) of `--samples` random samples of G, the baseline every inversion must
beat. Then the edit: held-out faces without glasses (ground truth) are inverted (hybrid, or
optimise when there is no encoder), moved along the learned glasses direction (fitted on G's
samples labelled by the face instrument, masculine and turn projected out, as the app's "hold
fixed") by EDIT_AMOUNT, and the script counts how often the instrument then sees glasses while
masculine and the turn sign stay those of the original.

Targets (issue 21) are printed beside the figures with met / NOT met:
hybrid RMSE >= 25% below the nearest-sample baseline; masculine and turn sign >= 90%,
glasses >= 80%, window present >= 85%; hybrid <= 1 s per 64-px image at batch 16;
encode alone <= 10 ms per image; the edit >= 75%.

    python benchmarks/inversion.py                                   # rooms and faces, 100 images each
    python benchmarks/inversion.py --model faces --n 64 --threads 2
    python benchmarks/inversion.py --encoder-dir runs/encoders       # encoders not yet beside the models
    python benchmarks/inversion.py --encoder faces=runs/encoders/faces/encoder.safetensors --json
    python benchmarks/inversion.py --quick                           # a smoke run: its figures are not the benchmark's

Everything runs on the CPU; other work on the machine slows the timings (the load average is printed).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from dcgan_core.analysis import evaluate, feature_probe, instruments, units
from dcgan_core.analysis.directions import fit_directions, move_along, project_out
from dcgan_core.analysis.instruments import TURN_SIGN_MARGIN, default_instrument_path, load_instrument, read_faces, read_rooms
from dcgan_core.analysis.labelling import label_samples
from dcgan_core.analysis.swd import sliced_wasserstein_distance
from dcgan_core.checkpoints import load_model
from dcgan_core.data.faces import FacesDataset
from dcgan_core.data.rooms import RoomsDataset
from dcgan_core.device import cpu_has_fast_bf16, cpu_name
from dcgan_core.encoder import (
    VALIDATION_RENDER_SEED,
    default_encoder_path,
    encode_seconds_per_image,
    find_encoder,
    load_encoder,
    model_name_of,
)
from dcgan_core.images import pixels_to_unit
from dcgan_core.inversion import DEFAULT_BATCH_SIZE, DEFAULT_LR, DEFAULT_RESTARTS, DEFAULT_STEPS, METHODS, invert
from dcgan_core.latent import sample_z

HELD_OUT_SEED = 60_006  # data set seed of the images inverted
FLOOR_SEED = 60_007  # data set seed of the other held-out renders: the SWD floor
SEEDS_IN_USE = {  # data set seeds other parts of the project render from; the held-out ones must be none of these
    0: "the GANs' training renders (and the encoders' real share)",
    instruments.TRAIN_SEED: "instrument training",
    instruments.EVAL_SEED: "the instruments' held-out report",
    300: "instrument tests",
    301: "instrument CLI test",
    evaluate.HELD_OUT_SEED: "`dcgan eval` SWD and encoder validation",
    evaluate.FLOOR_SEED: "`dcgan eval` SWD floor",
    feature_probe.PROBE_SEED: "feature probe",
    units.MEASURE_SEED: "unit measurement",
    units.SELECT_SEED: "unit selection",
    40_004: "units robustness check (docs/discriminator_units.md)",
    50_005: "units robustness check (docs/discriminator_units.md)",
}
assert VALIDATION_RENDER_SEED in SEEDS_IN_USE and not {HELD_OUT_SEED, FLOOR_SEED} & set(SEEDS_IN_USE)

SAMPLES = 10_000  # random samples of G the nearest-sample baseline searches
SAMPLES_Z_SEED = 0  # their codes: sample_z(SAMPLES, config, seed=SAMPLES_Z_SEED)
SAMPLE_BATCH = 500  # samples generated and compared at once
DIRECTION_SAMPLES = 2000  # G's samples labelled by the face instrument to fit the directions on (the app's default)
DIRECTION_Z_SEED = 0  # their codes' seed (the app's default)
EDIT_AMOUNT = 1.5  # z units along the glasses direction; chosen on G's samples (z seed 7), never on held-out faces
BATCH = DEFAULT_BATCH_SIZE  # images inverted together: the target speaks of batch 16

TARGETS = {  # what issue 21 asks of the hybrid method (of optimise where a model has no encoder)
    "rmse_below_baseline": 0.25,
    "masculine": 0.90,
    "turn sign": 0.90,
    "glasses": 0.80,
    "window": 0.85,
    "hybrid_s_per_image": 1.0,
    "encode_ms_per_image": 10.0,
    "edit": 0.75,
}
ATTRIBUTES = {"faces": ("glasses", "masculine", "smiling", "turn sign"), "rooms": ("window",)}
QUICK = {"n": 16, "samples": 1000, "steps": 30, "direction_samples": 1000}


# ----------------------------------------------------------------------------- held-out images and their truth


@dataclass
class HeldOut:
    """Renders of one data set seed: images (N, 3, S, S) in [-1, 1] and their ground truth."""

    images: torch.Tensor
    truth: dict[str, np.ndarray]  # faces: glasses, masculine, smiling (bool), turn (float); rooms: window (bool)
    source: str


def render_held_out(kind: str, image_size: int, n: int, seed: int) -> HeldOut:
    """n renders of data set `seed` at the model's size, with the attributes they were drawn with."""
    if kind == "faces":
        ds = FacesDataset(image_size=image_size, length=n, seed=seed)
        faces = [ds.face(i) for i in range(n)]
        pixels = np.stack([f.image for f in faces])
        truth = {k: np.array([getattr(f.attributes, k) for f in faces]) for k in ("glasses", "masculine", "smiling", "turn")}
        source = f"FacesDataset(image_size={image_size}, length={n}, seed={seed}): render seeds {seed} * 2**32 + i"
    else:
        ds = RoomsDataset(image_size=image_size, length=n, seed=seed)
        rooms = [ds.room(i) for i in range(n)]
        pixels = np.stack([r.image for r in rooms])
        truth = {"window": np.array([bool(r.boxes["window"]) for r in rooms])}
        source = f"RoomsDataset(image_size={image_size}, length={n}, seed={seed}): render seeds {seed} * 1,000,003 + i"
    return HeldOut(pixels_to_unit(torch.from_numpy(pixels).permute(0, 3, 1, 2).contiguous()), truth, source)


def read_attributes(kind: str, instrument, images: torch.Tensor) -> dict[str, np.ndarray]:
    """What the instrument reads on images in [-1, 1]: bool per attribute (P >= 0.5), and the float turn."""
    if kind == "faces":
        reading = read_faces(instrument, images)
        return {**{k: v >= 0.5 for k, v in reading.probabilities.items()}, "turn": reading.turn}
    return {"window": read_rooms(instrument, images).has("window")}


def turned(turn: np.ndarray) -> np.ndarray:
    """Faces whose turn sign is scored: |turn| > TURN_SIGN_MARGIN (frontal faces have no side to keep)."""
    return np.abs(turn) > TURN_SIGN_MARGIN


def attribute_matches(kind: str, read: dict[str, np.ndarray], truth: dict[str, np.ndarray]) -> dict[str, float]:
    """Share of images whose read attribute equals the ground truth; turn sign on turned faces only (None without any)."""
    out = {}
    for name in ATTRIBUTES[kind]:
        if name == "turn sign":
            scored = turned(truth["turn"])
            out[name] = float((np.sign(read["turn"][scored]) == np.sign(truth["turn"][scored])).mean()) if scored.any() else None
        else:
            out[name] = float((read[name] == truth[name]).mean())
    return out


# ----------------------------------------------------------------------------- the baseline


@torch.no_grad()
def nearest_samples(generator, targets: torch.Tensor, samples: int, progress: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """For each target, the nearest (pixel L2) of `samples` samples of G (z seed SAMPLES_Z_SEED): (images, RMSE (N,)).

    Samples are generated and compared SAMPLE_BATCH at a time (||x||^2 - 2 x.y + ||y||^2 as one matrix
    product), so memory stays flat; the winners' RMSE is then recomputed exactly.
    """
    z = sample_z(samples, generator.config, seed=SAMPLES_Z_SEED)
    flat_targets = targets.flatten(1)
    target_norms = flat_targets.pow(2).sum(1, keepdim=True)
    best = torch.full((len(targets),), math.inf)
    best_images = torch.zeros_like(targets)
    for lo in tqdm(range(0, samples, SAMPLE_BATCH), desc="nearest samples", unit="batch", disable=not progress,
                   file=sys.stderr, leave=False):
        images = generator(z[lo : lo + SAMPLE_BATCH]).float()
        flat = images.flatten(1)
        distances = target_norms - 2 * flat_targets @ flat.T + flat.pow(2).sum(1)[None]
        value, index = distances.min(1)
        better = value < best
        best[better] = value[better]
        best_images[better] = images[index[better]]
    rmse = (best_images - targets).pow(2).flatten(1).mean(1).sqrt()
    return best_images, rmse


# ----------------------------------------------------------------------------- one model


@dataclass
class Row:
    """One line of the table: an image set compared with the held-out originals."""

    name: str
    rmse: float | None = None  # mean over images of the per-image pixel RMSE, [-1, 1] units
    swd: float | None = None  # x 1e3, to the originals
    attributes: dict[str, float] = field(default_factory=dict)  # share matching the ground truth
    seconds_per_image: float | None = None
    missing: str | None = None  # why the row has no figures ("no encoder")


def model_kind(model) -> str:
    tc = model.checkpoint.train_config or {}
    dataset = tc.get("dataset") or model.checkpoint.meta.get("dataset")
    if dataset not in ATTRIBUTES or model.config.channels != 3:
        raise ValueError(f"{model.path} is a model of {dataset or 'an unknown data set'} with {model.config.channels} "
                         "channel(s); this benchmark renders held-out rooms or faces, so give an RGB rooms or faces model")
    return dataset


def encoder_path_for(name: str, model_path: Path, explicit: dict[str, Path], encoder_dir: Path | None) -> tuple[Path | None, str]:
    """Which encoder to use for a model, and where it was looked for when there is none."""
    if name in explicit:
        if not explicit[name].is_file():
            raise FileNotFoundError(f"--encoder {name}={explicit[name]}: no such file")
        return explicit[name], ""
    looked = []
    if encoder_dir is not None:
        candidate = encoder_dir / name / "encoder.safetensors"
        if candidate.is_file():
            return candidate, ""
        looked.append(str(candidate))
    beside = find_encoder(model_path)
    if beside is not None:
        return beside, ""
    looked.append(str(default_encoder_path(model_path)))
    return None, " or ".join(looked)


def benchmark_model(name_or_path: str, args, explicit_encoders: dict[str, Path]) -> dict:
    model = load_model(name_or_path)
    kind = model_kind(model)
    name = model_name_of(model.path)
    train_seed = int((model.checkpoint.train_config or {}).get("seed", 0))
    if train_seed in (HELD_OUT_SEED, FLOOR_SEED):
        raise ValueError(f"{model.path} was trained on data set seed {train_seed}, which this benchmark holds out; "
                         "its figures would not be on unseen images")
    g, d, size = model.generator, model.discriminator, model.config.image_size
    say = (lambda text: print(f"[{name}] {text}", file=sys.stderr)) if args.progress else (lambda text: None)

    say(f"rendering {args.n} held-out {kind} (seed {HELD_OUT_SEED}) and {args.n} more for the SWD floor (seed {FLOOR_SEED})")
    held = render_held_out(kind, size, args.n, HELD_OUT_SEED)
    floor = render_held_out(kind, size, args.n, FLOOR_SEED)
    instrument = load_instrument(default_instrument_path(kind), kind=kind)

    encoder_path, looked = encoder_path_for(name, model.path, explicit_encoders, args.encoder_dir)
    loaded_encoder = load_encoder(encoder_path, generator=g) if encoder_path is not None else None
    encoder = loaded_encoder.encoder if loaded_encoder is not None else None

    def row_for(row_name: str, images: torch.Tensor, rmse: torch.Tensor | None, seconds: float | None) -> Row:
        return Row(row_name, None if rmse is None else float(rmse.mean()),
                   sliced_wasserstein_distance(held.images, images, seed=0).mean,
                   attribute_matches(kind, read_attributes(kind, instrument, images), held.truth),
                   None if seconds is None else seconds / args.n)

    rows = [Row("originals (instrument's ceiling)",
                attributes=attribute_matches(kind, read_attributes(kind, instrument, held.images), held.truth))]
    inversions = {}
    invert(g, d, held.images[:2], method="optimise", steps=1, restarts=1)  # warm-up: the first pass pays one-off costs
    for method in METHODS:
        if method != "optimise" and encoder is None:
            rows.append(Row(method, missing="no encoder"))
            continue
        steps = None if method == "encode" else args.steps
        bar = tqdm(desc=f"[{name}] {method}", unit="step", disable=not args.progress, file=sys.stderr, leave=False)

        def progress(done: int, total: int, bar=bar) -> None:
            bar.total, bar.n = total, done
            bar.refresh()

        start = time.perf_counter()
        result = invert(g, d, held.images, method=method, encoder=encoder, steps=steps, batch_size=BATCH, progress=progress)
        seconds = time.perf_counter() - start
        bar.close()
        inversions[method] = result
        rows.append(row_for(f"{method} ({result.steps} steps, {result.restarts} restart{'s' * (result.restarts > 1)})"
                            if method != "encode" else method,
                            result.reconstructions, result.errors, seconds))

    say(f"searching {args.samples:,} samples of G for each image's nearest")
    nearest_images, nearest_rmse = nearest_samples(g, held.images, args.samples, args.progress)
    rows.append(row_for(f"nearest of {args.samples:,} samples", nearest_images, nearest_rmse, None))
    rows.append(Row("floor: other held-out renders", swd=sliced_wasserstein_distance(held.images, floor.images, seed=0).mean))

    encode_ms = encode_seconds_per_image(encoder, batch_size=BATCH, repeats=20) * 1e3 if encoder is not None else None
    main_method = "hybrid" if "hybrid" in inversions else "optimise"
    report = {
        "model": name, "path": str(model.path), "step": int(model.checkpoint.step), "kind": kind, "image_size": size,
        "encoder": str(encoder_path) if encoder_path else None, "encoder_step": loaded_encoder.step if loaded_encoder else None,
        "encoder_looked_for": looked or None,
        "held_out": held.source, "floor": floor.source, "n": args.n,
        "ground_truth": truth_summary(kind, held.truth),
        "rows": [row.__dict__ for row in rows],
        "encode_ms_per_image": encode_ms,
        "targets_method": main_method,
    }
    report["targets"] = check_targets(kind, rows, main_method, encode_ms, size)
    if kind == "faces":
        say(f"fitting the learned directions on {args.direction_samples:,} labelled samples, then the glasses edit")
        report["edit"] = glasses_edit(g, instrument, held, inversions[main_method].z, main_method, args.direction_samples)
    return report


def truth_summary(kind: str, truth: dict[str, np.ndarray]) -> dict[str, int]:
    if kind == "faces":
        return {"glasses": int(truth["glasses"].sum()), "masculine": int(truth["masculine"].sum()),
                "smiling": int(truth["smiling"].sum()), f"turned (|turn| > {TURN_SIGN_MARGIN:g})": int(turned(truth["turn"]).sum())}
    return {"window": int(truth["window"].sum())}


def check_targets(kind: str, rows: list[Row], method: str, encode_ms: float | None, image_size: int) -> list[dict]:
    """The issue's targets on `method`'s row: [{"what", "value", "target", "met"}]."""
    mine = next(r for r in rows if r.name.split(" ")[0] == method)
    nearest = next(r for r in rows if r.name.startswith("nearest"))
    out = []
    below = 1 - mine.rmse / nearest.rmse
    out.append({"what": f"{method} RMSE {mine.rmse:.3f} vs nearest sample {nearest.rmse:.3f}: {below:.0%} below"
                        if below >= 0 else f"{method} RMSE {mine.rmse:.3f} vs nearest sample {nearest.rmse:.3f}: {-below:.0%} above",
                "target": f">= {TARGETS['rmse_below_baseline']:.0%} below", "met": below >= TARGETS["rmse_below_baseline"]})
    for name in ATTRIBUTES[kind]:
        key = "window" if name == "window" else name
        if key in TARGETS and mine.attributes[name] is not None:
            out.append({"what": f"{name} kept by {method}: {mine.attributes[name]:.0%}", "target": f">= {TARGETS[key]:.0%}",
                        "met": mine.attributes[name] >= TARGETS[key]})
    per_64 = "" if image_size == 64 else f" (a {image_size}-px model; the target is for 64 px)"
    if method == "hybrid":
        out.append({"what": f"{method}: {mine.seconds_per_image:.2f} s per image at batch {BATCH}{per_64}",
                    "target": f"<= {TARGETS['hybrid_s_per_image']:g} s", "met": mine.seconds_per_image <= TARGETS["hybrid_s_per_image"]})
    if encode_ms is not None:
        out.append({"what": f"encode alone: {encode_ms:.1f} ms per image (E's forward pass at batch {BATCH})",
                    "target": f"<= {TARGETS['encode_ms_per_image']:g} ms", "met": encode_ms <= TARGETS["encode_ms_per_image"]})
    return out


def glasses_edit(generator, instrument, held: HeldOut, z: torch.Tensor, method: str, n_labelled: int) -> dict:
    """Put glasses on the held-out faces without them: their inverted codes + EDIT_AMOUNT x the glasses direction.

    The direction is fitted on `n_labelled` samples of G (z seed DIRECTION_Z_SEED) read by the face
    instrument, with the masculine and turn directions projected out (the app's "hold fixed").
    A face succeeds when the instrument reads glasses on the edited image, masculine as the
    original's ground truth, and (for turned faces) the original's turn sign.
    """
    samples = label_samples(generator, instrument, n=n_labelled, seed=DIRECTION_Z_SEED)
    fitted = fit_directions(samples.z, samples.labels(), seed=DIRECTION_Z_SEED)
    if "glasses" not in fitted.directions:
        return {"skipped": f"no glasses direction: {fitted.skipped.get('glasses', 'not fitted')}"}
    held_fixed = [a for a in ("masculine", "turn") if a in fitted.directions]
    direction = project_out(fitted.directions["glasses"].normal, [fitted.directions[a].normal for a in held_fixed])
    chosen = np.flatnonzero(~held.truth["glasses"])
    if len(chosen) == 0:
        return {"skipped": "no held-out face is without glasses (raise --n)"}
    codes = z[torch.from_numpy(chosen)]
    with torch.no_grad():
        before = read_attributes("faces", instrument, generator(codes).float())
        read = read_attributes("faces", instrument, generator(move_along(codes, direction, EDIT_AMOUNT)).float())
    truth_turn = held.truth["turn"][chosen]
    scored = turned(truth_turn)
    glasses = read["glasses"]
    masculine = read["masculine"] == held.truth["masculine"][chosen]
    turn_kept = ~scored | (np.sign(read["turn"]) == np.sign(truth_turn))
    success = glasses & masculine & turn_kept
    return {
        "faces": int(len(chosen)), "method": method, "amount": EDIT_AMOUNT, "held_fixed": held_fixed,
        "direction": f"glasses normal of a logistic regression on {n_labelled:,} samples of G (z seed {DIRECTION_Z_SEED}) "
                     f"read by the face instrument (held-out accuracy {fitted.directions['glasses'].accuracy:.0%})"
                     + (f", {' and '.join(held_fixed)} projected out" if held_fixed else ""),
        "glasses_before": int(before["glasses"].sum()), "glasses_seen": int(glasses.sum()), "masculine_kept": int(masculine.sum()),
        "turn_kept": int((turn_kept & scored).sum()), "turned": int(scored.sum()),
        "success": int(success.sum()), "share": float(success.mean()),
        "target": f">= {TARGETS['edit']:.0%}", "met": bool(success.mean() >= TARGETS["edit"]),
    }


# ----------------------------------------------------------------------------- output


def machine_description() -> str:
    name = cpu_name()
    load = os.getloadavg()
    return (f"CPU {name}, {os.cpu_count()} cores{', AVX512-BF16' if cpu_has_fast_bf16() else ''}; torch "
            f"{torch.__version__} on {torch.get_num_threads()} thread(s) (inversion in fp32), python "
            f"{platform.python_version()}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}; "
            f"load average {load[0]:.2f} at the start")


def seeds_note() -> str:
    used = ", ".join(f"{seed} ({why})" for seed, why in sorted(SEEDS_IN_USE.items()))
    return (f"held-out images: data set seed {HELD_OUT_SEED} (SWD floor: seed {FLOOR_SEED}). Held out because no part of "
            f"the project renders from them; the data set seeds in use are {used}. A data set seed s renders items "
            "from seeds that no other data set seed shares (faces s * 2**32 + i, rooms s * 1,000,003 + i).")


def format_table(report: dict) -> list[str]:
    kind = report["kind"]
    attrs = ATTRIBUTES[kind]
    head = f"{'image set':<34}{'RMSE [-1,1]':>12}{'(0-255)':>9}{'SWD x1e3':>10}" + "".join(f"{a:>11}" for a in attrs) + f"{'s / image':>11}"
    lines = [head]
    for row in report["rows"]:
        if row["missing"]:
            lines.append(f"{row['name']:<34}{row['missing']:>12}")
            continue
        rmse = f"{row['rmse']:>12.3f}{row['rmse'] * 127.5:>9.1f}" if row["rmse"] is not None else f"{'-':>12}{'-':>9}"
        swd = f"{row['swd']:>10.1f}" if row["swd"] is not None else f"{'-':>10}"
        shares = "".join(f"{row['attributes'][a]:>11.0%}" if row["attributes"].get(a) is not None
                         else f"{'-':>11}" for a in attrs)
        speed = f"{row['seconds_per_image']:>11.3f}" if row["seconds_per_image"] is not None else f"{'-':>11}"
        lines.append(f"{row['name']:<34}{rmse}{swd}{shares}{speed}")
    return lines


def format_report(result: dict) -> str:
    lines = [f"command: {result['command']}", f"machine: {result['machine']}", result["seeds"], result["settings"]]
    if result.get("quick"):
        lines.append("QUICK RUN: fewer images, samples and steps than the benchmark; do not quote these figures")
    for report in result["models"]:
        lines += ["", f"== {report['model']}: {report['path']} (step {report['step']}), {report['image_size']} px =="]
        if report["encoder"]:
            lines.append(f"encoder: {report['encoder']} (step {report['encoder_step']})")
        else:
            lines.append(f"encoder: none (looked for {report['encoder_looked_for']}): encode and hybrid not run")
        truth = ", ".join(f"{v} {k}" for k, v in report["ground_truth"].items())
        lines.append(f"{report['n']} held-out images, {report['held_out']}; ground truth: {truth}")
        lines.append("attributes: share of images whose instrument reading matches the original's ground truth"
                     + (f" (turn sign: on turned faces, |turn| > {TURN_SIGN_MARGIN:g})" if report["kind"] == "faces" else ""))
        lines += format_table(report)
        lines.append(f"targets ({report['targets_method']}):")
        for t in report["targets"]:
            lines.append(f"  {t['what']}  target {t['target']}: {'met' if t['met'] else 'NOT met'}")
        edit = report.get("edit")
        if edit is not None:
            if "skipped" in edit:
                lines.append(f"edit: not measured: {edit['skipped']}")
            else:
                lines.append(f"edit: {edit['faces']} held-out faces without glasses, inverted with {edit['method']}, "
                             f"z + {edit['amount']:g} x the glasses direction ({edit['direction']})")
                lines.append(f"  instrument sees glasses on {edit['glasses_seen']}/{edit['faces']} (on {edit['glasses_before']} "
                             f"before the edit), masculine as the original "
                             f"on {edit['masculine_kept']}/{edit['faces']}, turn sign kept on {edit['turn_kept']}/"
                             f"{edit['turned']} turned faces")
                lines.append(f"  all three: {edit['success']}/{edit['faces']} = {edit['share']:.0%}  target {edit['target']}: "
                             f"{'met' if edit['met'] else 'NOT met'}")
    return "\n".join(lines)


def parse_encoders(values: list[str]) -> dict[str, Path]:
    out = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or not name or not path:
            raise argparse.ArgumentTypeError(f"--encoder {value!r}: give MODEL=PATH, e.g. faces=runs/encoders/faces/encoder.safetensors")
        out[name] = Path(path)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", action="append", help="model name, run folder or checkpoint of a rooms or faces model; "
                   "repeat for several (default: rooms and faces)")
    p.add_argument("--encoder", action="append", default=[], metavar="MODEL=PATH",
                   help="the encoder of a model (MODEL as the model's name, e.g. faces=runs/encoders/faces/encoder.safetensors)")
    p.add_argument("--encoder-dir", type=Path, help="look for DIR/MODEL/encoder.safetensors first (e.g. runs/encoders)")
    p.add_argument("--n", type=int, help="held-out images per model (default 100; --quick 16)")
    p.add_argument("--steps", type=int, help="Adam steps of optimise and hybrid (default: the library's, "
                   + ", ".join(f"{m} {s}" for m, s in DEFAULT_STEPS.items() if s) + "; --quick 30)")
    p.add_argument("--samples", type=int, help=f"random samples of G the nearest-sample baseline searches (default {SAMPLES:,})")
    p.add_argument("--direction-samples", type=int,
                   help=f"G's samples labelled to fit the glasses direction (default {DIRECTION_SAMPLES:,})")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default, one per core)")
    p.add_argument("--quick", action="store_true", help="a smoke run: " + ", ".join(f"{k} {v}" for k, v in QUICK.items()))
    p.add_argument("--json", action="store_true", help="print the figures as JSON instead of the table")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress on stderr")
    args = p.parse_args(argv)
    defaults = QUICK if args.quick else {"n": 100, "samples": SAMPLES, "steps": None, "direction_samples": DIRECTION_SAMPLES}
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.n < 2:
        p.error("--n must be at least 2 (SWD compares sets)")
    if args.samples < 1 or (args.steps is not None and args.steps < 0) or args.direction_samples < 2:
        p.error("--samples must be >= 1, --steps >= 0 and --direction-samples >= 2")
    try:
        explicit = parse_encoders(args.encoder)
    except argparse.ArgumentTypeError as e:
        p.error(str(e))
    if args.threads:
        torch.set_num_threads(args.threads)

    command = "python " + " ".join(shlex.quote(a) for a in [sys.argv[0], *(argv if argv is not None else sys.argv[1:])])
    steps = {m: (args.steps if args.steps is not None else DEFAULT_STEPS[m]) for m in ("optimise", "hybrid")}
    result = {
        "command": command,
        "machine": machine_description(),
        "seeds": seeds_note(),
        "settings": (f"settings: optimise {steps['optimise']} steps x {DEFAULT_RESTARTS['optimise']} restarts from random "
                     f"codes, hybrid {steps['hybrid']} steps from E's code, encode one pass of E; Adam lr {DEFAULT_LR:g}, loss "
                     f"pixel MSE + D's features; batch {BATCH}; the baseline searches {args.samples:,} samples of G "
                     f"(z seed {SAMPLES_Z_SEED})"),
        "quick": args.quick,
        "models": [],
    }
    try:
        for model in args.model or ["rooms", "faces"]:
            result["models"].append(benchmark_model(model, args, explicit))
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2) if args.json else format_report(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
