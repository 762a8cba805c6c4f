"""Turn a finished training run into a shipped model: fp16 weights, sample grid, measured model card.

    python scripts/ship_model.py --run runs/rooms64 --name rooms    # export, then measure
    python scripts/ship_model.py --name rooms                      # re-measure the shipped file

writes models/NAME/model.safetensors (G and D, fp16), models/NAME/samples.png (seed 0) and
models/NAME/README.md, whose every number comes from the shipped file and is re-measured by the
commands the card states.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

from dcgan_core.analysis.evaluate import evaluate_model, held_out_real
from dcgan_core.analysis.instruments import default_instrument_path, load_instrument, read_faces, read_rooms
from dcgan_core.analysis.neighbours import NoTrainingData, memorisation_check
from dcgan_core.analysis.swd import generate_images
from dcgan_core.checkpoints import export_model, load_model
from dcgan_core.files import atomic_write
from dcgan_core.images import image_grid, save_png, to_uint8, upscale_nearest
from dcgan_core.latent import sample_z
from dcgan_core.train import TrainConfig

ROOT = Path(__file__).resolve().parent.parent


def train_command(train_config: dict, steps: int, g_ema_since: int = 0) -> str:
    """The `dcgan train` command(s) that reproduce the run up to `steps` (flags only where not default).

    A run whose average of G's weights was turned on when resuming at step `g_ema_since` > 0 takes two
    commands: the run without it to that step, then `--resume` with `--g-ema` (resume is exact).
    """
    from dcgan_core.cli import TRAIN_FLAGS

    defaults = TrainConfig().to_dict()
    late_average = train_config.get("g_ema", 0.0) > 0 and g_ema_since > 0
    parts = ["dcgan", "train"]
    for name, (flag, _) in TRAIN_FLAGS.items():
        value = (g_ema_since if late_average else steps) if name == "steps" else train_config.get(name)
        if name in ("device", "num_workers", "log_every") or value is None or (late_average and name == "g_ema"):
            continue
        if value != defaults.get(name) or name in ("dataset", "image_size", "steps", "out_dir"):
            parts += [flag, str(value)]
    command = " ".join(shlex.quote(p) for p in parts)
    if late_average:
        resume = ["dcgan", "train", "--resume", str(train_config["out_dir"]), "--g-ema", str(train_config["g_ema"]),
                  "--steps", str(steps)]
        command += "\n" + " ".join(shlex.quote(p) for p in resume)
    return command


def stabilisers(train_config: dict, g_ema_since: int = 0) -> str:
    """The opt-in departures from the paper's training, in words (README "When D wins at once")."""
    said = []
    if train_config.get("instance_noise", 0.0) > 0:
        anneal = train_config.get("instance_noise_anneal", 0)
        said.append(f"instance noise N(0, {train_config['instance_noise']}) on every image D sees"
                    + (f", its std falling linearly to 0 at step {anneal:,}" if anneal else ""))
    if train_config.get("real_label", 1.0) < 1.0:
        said.append(f"one-sided label smoothing (real target {train_config['real_label']})")
    if train_config.get("g_ema", 0.0) > 0:
        since = f" from step {g_ema_since:,}" if g_ema_since else ""
        said.append(f"G is the average of G's weights (decay {train_config['g_ema']}){since}, "
                    "BatchNorm statistics measured for it")
    return "; ".join(said) if said else "none (the paper's loss as is)"


def instrument_table(model, dataset: str, real: torch.Tensor, n: int) -> list[tuple[str, float, float]]:
    """(quantity, share in real held-out images, share in generated images) as the shipped instrument reads them."""
    fake = generate_images(model.generator, n, seed=0)
    if dataset == "rooms":
        inst = load_instrument(default_instrument_path("rooms"), kind="rooms")
        r, f = read_rooms(inst, real[:n]), read_rooms(inst, fake)
        return [(f"has a {name}", float(r.has(name).mean()), float(f.has(name).mean()))
                for name in ("window", "bed", "door", "lamp", "picture", "rug")]
    inst = load_instrument(default_instrument_path("faces"), kind="faces")
    r, f = read_faces(inst, real[:n]), read_faces(inst, fake)
    rows = [(name, float(r.labels()[name].mean()), float(f.labels()[name].mean())) for name in ("glasses", "smiling", "masculine")]
    rows.append(("turn: standard deviation", float(np.std(r.turn)), float(np.std(f.turn))))
    rows.append(("turn < -0.5 (looking left)", float((r.turn < -0.5).mean()), float((f.turn < -0.5).mean())))
    rows.append(("turn > +0.5 (looking right)", float((r.turn > 0.5).mean()), float((f.turn > 0.5).mean())))
    return rows


def memorisation_section(model, real: torch.Tensor, train_config: dict, n: int) -> str:
    """The card's memorisation check: samples' and held-out renders' distance to their nearest training image."""
    try:
        check = memorisation_check(generate_images(model.generator, n, seed=0).numpy(), real[:n].numpy(), train_config)
    except NoTrainingData as e:
        return f"## Memorisation\nNot measured: {e}.\n"
    return f"""## Memorisation: nearest training images
Searched {check.searched} for the nearest (pixel L2) of {n} samples (z seed 0) and of {n} held-out renders.
A model that copies its data would put samples far nearer to training images than new renders are.

| | median | min |
|---|---|---|
| samples | {float(np.median(check.samples)):.1f} | {float(check.samples.min()):.1f} |
| held-out renders | {float(np.median(check.held_out)):.1f} | {float(check.held_out.min()):.1f} |

(RMS difference per pixel value, 0-255.) {check.near_copies:.1%} of samples are nearer to a training image than
the nearest 1% of held-out renders are. The Samples page shows any sample beside its nearest training images.
"""

def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", help="training run folder to export from; without it, re-measure the shipped file")
    p.add_argument("--name", required=True, help="model name, e.g. rooms")
    p.add_argument("--n-eval", type=int, default=2000, help="images per set for SWD and the instruments")
    p.add_argument("--n-memorisation", type=int, default=500, help="samples searched for near-copies of training images")
    p.add_argument("--hardware-note", default="", help="extra words on where it trained (e.g. shared with another run)")
    args = p.parse_args(argv)

    out_dir = ROOT / "models" / args.name
    weights = out_dir / "model.safetensors"
    t0 = time.time()
    if args.run:
        export_model(args.run, weights, dtype=torch.float16)
    model = load_model(weights)
    ckpt = model.checkpoint
    tc, meta, cfg = ckpt.train_config, ckpt.meta, model.config

    z = sample_z(64, cfg, seed=0)
    with torch.no_grad():
        save_png(out_dir / "samples.png", image_grid(upscale_nearest(to_uint8(model.generator(z)), 2), nrow=8))

    report = evaluate_model(model, n=args.n_eval, seed=0)
    real, _, _ = held_out_real(model, args.n_eval)
    rows = instrument_table(model, tc["dataset"], real, args.n_eval)
    memorisation = memorisation_section(model, real, tc, args.n_memorisation)
    history = ROOT / "docs" / f"{args.name}_model.md"
    history_line = (f"\nHow this model was trained and chosen, the runs beside it and the model it replaced: "
                    f"[docs/{history.name}](../../docs/{history.name}).\n" if history.is_file() else "")
    size_mib = weights.stat().st_size / 2**20
    hours = meta.get("train_seconds", 0) / 3600
    levels = list(report.model.per_level)
    swd_rows = "\n".join(
        f"| {label} | {r.mean:.2f} | " + " | ".join(f"{r.per_level[k]:.2f}" for k in levels) + " |"
        for label, r in (("this model", report.model), ("floor: real vs real", report.floor),
                         ("untrained generator", report.untrained))
    )
    inst_rows = "\n".join(f"| {q} | {a:.1%} | {b:.1%} |" if "deviation" not in q else f"| {q} | {a:.2f} | {b:.2f} |"
                          for q, a, b in rows)
    card = f"""# `{args.name}`: DCGAN on the procedural `{tc['dataset']}` data set, {cfg.image_size} px

Trained by this project with its own command; nothing here was downloaded.

![samples, seed 0](samples.png)

`dcgan sample --model {args.name} --seed 0 --scale 2 --out samples.png` (64 samples, z from seed 0).

## Model
| | |
|---|---|
| architecture | DCGAN (paper section 3): G {cfg.nz} -> {'x'.join(str(c) for c in model.generator.feature_channels)} channels -> {cfg.channels}x{cfg.image_size}x{cfg.image_size}; D mirrors it (ndf {cfg.ndf}) |
| z | {cfg.nz}-d, {cfg.z_prior} prior{' on [-1, 1]' if cfg.z_prior == 'uniform' else ''} |
| file | `model.safetensors`, G and D in float16, {size_mib:.1f} MiB |
| training data | `{tc['dataset']}` renders {cfg.image_size} px, data set seed {tc['seed']}, {tc['dataset_size']:,} images |
| steps | {ckpt.step:,} (batch {tc['batch_size']}: {meta.get('images_seen', ckpt.step * tc['batch_size']):,} images seen) |
| optimiser | Adam lr {tc['lr']}, betas ({tc['beta1']}, {tc['beta2']}) (paper settings) |
| stabilisers | {stabilisers(tc, meta.get('g_ema_since', 0))} |
| precision | {meta.get('precision')} autocast, channels_last {tc.get('channels_last')} |
| training time | {hours:.2f} h of training loop (checkpointing and sampling included; data rendering not) |
| hardware | {meta.get('device')}{(' ' + args.hardware_note) if args.hardware_note else ''}; torch {meta.get('torch')} |

Command (reproduces these weights bit for bit on the same hardware, thread count and precision):

```bash
{train_command(tc, ckpt.step, meta.get('g_ema_since', 0))}
dcgan export {shlex.quote(str(tc['out_dir']))} --out models/{args.name}/model.safetensors
```

## Quality: sliced Wasserstein distance (x 1e3, lower is better)
Multi-scale SWD (Karras et al. 2018) on {report.n} images per set; real images: {report.real_source}.

| | mean | {' | '.join(f'{r} px' for r in levels)} |
|---|---|{'---|' * len(levels)}
{swd_rows}

Reproduce: `dcgan eval --model {args.name} --n {report.n}`

## What the shipped instrument sees ({args.n_eval} images each)
The `{tc['dataset']}` instrument (`models/instruments/{tc['dataset']}.safetensors`, trained on procedural ground
truth, held-out accuracy in `models/instruments/README.md`) read on held-out real renders and on generated samples
(z seed 0). On generated images it is a measuring instrument, not ground truth.

| quantity | real renders | generated |
|---|---|---|
{inst_rows}

{memorisation}
Measured by `python scripts/ship_model.py --name {args.name}` (re-measures the shipped file) in {time.time() - t0:.0f} s.
{history_line}"""
    with atomic_write(out_dir / "README.md", "w") as f:
        f.write(card)
    print(card)
    print(json.dumps(report.as_dict()), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
