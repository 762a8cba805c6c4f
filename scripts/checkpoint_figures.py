"""Pick a training step by its figures, not by being the last: SWD and the instrument's object rates per checkpoint.

    python scripts/checkpoint_figures.py runs/rooms64_ngf32/snapshots/*.safetensors --n 2000
    python scripts/checkpoint_figures.py models/rooms/model.safetensors --json
    python scripts/checkpoint_figures.py runs/rooms64_ngf32_noise/full/*.safetensors --raw-generator

A checkpoint of a run trained with `--g-ema` draws with the average of G's weights, as everything
loads it; `--raw-generator` measures the G the optimiser stepped instead (the average's gain).

For each checkpoint (a file, a run folder, or a model name): multi-scale SWD (x 1e3) against held-out
renders, as `dcgan eval` measures it, and, for `rooms` and `faces` models, each quantity the shipped
instrument reads, on the generated images against the renders. The last column is the largest gap in
points between the two, which the `rooms` model's target bounds (within 8 points). Rows come out in the
order given; the real images and the instrument are read once.
"""

from __future__ import annotations

import argparse
import json
import sys
from functools import lru_cache

import torch

from dcgan_core.analysis.evaluate import held_out_real
from dcgan_core.analysis.instruments import default_instrument_path, load_instrument, read_faces, read_rooms
from dcgan_core.analysis.swd import generate_images, sliced_wasserstein_distance
from dcgan_core.checkpoints import load_model
from dcgan_core.models import Generator
from dcgan_core.registry import resolve_checkpoint

ROOM_OBJECTS = ("window", "bed", "door", "lamp", "picture", "rug")
FACE_LABELS = ("glasses", "smiling", "masculine")


@lru_cache(maxsize=2)
def shipped_instrument(kind: str):
    """The shipped instrument of `kind`, read from disk once for all the checkpoints."""
    return load_instrument(default_instrument_path(kind), kind=kind)


def instrument_rates(dataset: str, images: torch.Tensor) -> dict[str, float]:
    """Share of `images` (uint8 NCHW) in which the shipped instrument of `dataset` sees each object or label."""
    if dataset == "rooms":
        reading = read_rooms(shipped_instrument("rooms"), images)
        return {name: float(reading.has(name).mean()) for name in ROOM_OBJECTS}
    if dataset == "faces":
        labels = read_faces(shipped_instrument("faces"), images).labels()
        return {name: float(labels[name].mean()) for name in FACE_LABELS}
    return {}


def raw_generator(model) -> Generator:
    """The G the optimiser stepped, in eval mode, where `model` draws with its run's average of G's weights."""
    g = Generator(model.config)
    g.load_state_dict(model.checkpoint.generator)
    return g.eval().requires_grad_(False)


def checkpoint_figures(paths: list[str], n: int, seed: int = 0, raw: bool = False) -> list[dict]:
    """One record per checkpoint: step, SWD (mean and per level), the instrument's rates and the largest gap."""
    records, real, real_rates = [], None, None
    for name in paths:
        path = resolve_checkpoint(name)
        model = load_model(path)
        generator = raw_generator(model) if raw else model.generator
        dataset = (model.checkpoint.train_config or {}).get("dataset") or model.checkpoint.meta.get("dataset")
        if real is None:
            real, _, _ = held_out_real(model, n)
            real_rates = instrument_rates(dataset, real)
        fake = generate_images(generator, n, seed=seed)
        swd = sliced_wasserstein_distance(real, fake, seed=seed)
        rates = instrument_rates(dataset, fake)
        gaps = {k: rates[k] - real_rates[k] for k in rates}
        records.append({
            "checkpoint": str(path), "step": model.checkpoint.step, "generator": "raw" if raw else "as loaded", "swd": swd.mean, "swd_levels": dict(swd.per_level),
            "rates": rates, "real_rates": real_rates,
            "largest_gap": max(gaps.items(), key=lambda kv: abs(kv[1])) if gaps else None,
        })
        print(_row(records[-1]), file=sys.stderr, flush=True)
    return records


def _row(r: dict) -> str:
    levels = " / ".join(f"{v:.1f}" for v in r["swd_levels"].values())
    rates = " ".join(f"{k} {v:.0%}" for k, v in r["rates"].items())
    gap = f"{r['largest_gap'][0]} {r['largest_gap'][1] * 100:+.1f} pts" if r["largest_gap"] else ""
    return f"| {r['step']:,} | {r['swd']:.1f} | {levels} | {rates} | {gap} |"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoints", nargs="+", help="checkpoint files, run folders or model names")
    p.add_argument("--n", type=int, default=2000, help="images per set (SWD and instrument)")
    p.add_argument("--seed", type=int, default=0, help="seed of z and of the metric's random projections")
    p.add_argument("--json", action="store_true", help="print JSON instead of a Markdown table")
    p.add_argument("--raw-generator", action="store_true",
                   help="measure the G the optimiser stepped, not the run's average of G's weights (--g-ema)")
    args = p.parse_args(argv)
    torch.set_grad_enabled(False)
    records = checkpoint_figures(args.checkpoints, args.n, args.seed, raw=args.raw_generator)
    if args.json:
        print(json.dumps(records, indent=1))
        return 0
    real = " ".join(f"{k} {v:.0%}" for k, v in records[0]["real_rates"].items())
    levels = " / ".join(f"{k} px" for k in records[0]["swd_levels"])
    print(f"| step | SWD mean | SWD {levels} | instrument on samples (renders: {real}) | largest gap |")
    print("|---|---|---|---|---|")
    for r in records:
        print(_row(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
