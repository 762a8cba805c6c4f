"""How fast the app turns codes into pictures: one frame at batch 1, and a whole latent walk.

Targets (the app-shell issue): one 64-px frame at batch 1 on CPU in at most 15 ms; a
9-point x 8-step walk (65 frames: path, generation, grid) in at most 1 s on CPU.

What is timed is what the app runs: `dcgan_core.generate.generate` on a model in eval
mode (fp32, no grad), `latent.walk_path` for the codes and `generate.walk_grid` for the
picture. Speed does not depend on training, so without --checkpoint an untrained model of
the given size is built (default: the paper's 64 px layout at ngf 64, as we ship).
Figures are medians over repeats after a warm-up. Run:

    python benchmarks/serving_speed.py                                   # untrained 64 px, ngf 64, CPU
    python benchmarks/serving_speed.py --checkpoint models/rooms/model.safetensors
    python benchmarks/serving_speed.py --threads 1                      # one core
"""

from __future__ import annotations

import argparse
import platform
import shlex
import statistics
import sys
import time

import torch

from dcgan_core.checkpoints import load_model
from dcgan_core.device import describe_device, resolve_device
from dcgan_core.generate import animation_gif, generate, walk_grid
from dcgan_core.latent import sample_z, walk_path
from dcgan_core.models import Generator, ModelConfig

FRAME_TARGET_MS = 15.0
WALK_TARGET_S = 1.0


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, repeats: int, warmup: int, device: torch.device) -> list[float]:
    """Seconds per call of fn(), `repeats` times after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    _sync(device)
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        _sync(device)
        out.append(time.perf_counter() - start)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", help="a checkpoint, run folder or model name (default: an untrained model)")
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--ngf", type=int, default=64)
    p.add_argument("--nz", type=int, default=100)
    p.add_argument("--device", default="cpu", help="cpu (the targets' device), cuda, auto ...")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--points", type=int, default=9)
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--repeats", type=int, default=100, help="timed single frames (walks: a fifth of it, at least 3)")
    p.add_argument("--warmup", type=int, default=10)
    args = p.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    if args.checkpoint:
        model = load_model(args.checkpoint, device=device)
        generator, config, what = model.generator, model.config, f"checkpoint {model.path} (step {model.checkpoint.step})"
    else:
        config = ModelConfig(image_size=args.image_size, nz=args.nz, ngf=args.ngf, ndf=args.ngf)
        torch.manual_seed(0)
        generator = Generator(config).to(device).eval().requires_grad_(False)
        what = "untrained model (speed does not depend on training)"
    n_params = sum(t.numel() for t in generator.parameters())

    print("command: python " + " ".join(shlex.quote(a) for a in [sys.argv[0], *(argv if argv is not None else sys.argv[1:])]))
    print(f"torch: {torch.__version__}, python {platform.python_version()}, device: {describe_device(device)}")
    print(f"model: {what}; {config.image_size} px, nz {config.nz}, ngf {config.ngf}, G {n_params / 1e6:.2f} M parameters, fp32")

    z1 = sample_z(1, config, seed=0)
    frame = timed(lambda: generate(generator, z1), args.repeats, args.warmup, device)
    frame_ms = statistics.median(frame) * 1000
    print(
        f"one frame, batch 1:      median {frame_ms:6.2f} ms  (p90 {statistics.quantiles(frame, n=10)[-1] * 1000:.2f} ms, "
        f"{len(frame)} runs)  target <= {FRAME_TARGET_MS:g} ms: {'met' if frame_ms <= FRAME_TARGET_MS else 'NOT met'}"
    )

    waypoints = sample_z(args.points, config, seed=0)

    def render_walk():
        path = walk_path(waypoints, steps=args.steps, method="slerp")
        frames = generate(generator, path.z)
        return frames, walk_grid(frames, args.steps, "rows")

    n_walks = max(3, args.repeats // 5)
    walk = timed(render_walk, n_walks, max(1, args.warmup // 5), device)
    frames, _ = render_walk()
    walk_s = statistics.median(walk)
    print(
        f"{args.points}-point x {args.steps}-step walk: median {walk_s * 1000:6.1f} ms for {len(frames)} frames "
        f"({len(frames) / walk_s:.0f} frames/s, {walk_s / len(frames) * 1000:.2f} ms/frame, {n_walks} runs; "
        f"path + generation + grid, one batched forward pass)  "
        f"target <= {WALK_TARGET_S:g} s: {'met' if walk_s <= WALK_TARGET_S else 'NOT met'}"
    )
    gif = timed(lambda: animation_gif(frames, fps=12, scale=max(1, 256 // config.image_size), bounce=True), 3, 1, device)
    print(f"GIF export of that walk (x{max(1, 256 // config.image_size)}, back and forth): median {statistics.median(gif) * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
