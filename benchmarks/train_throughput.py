"""Training images/s of our trainer vs the plain pytorch/examples DCGAN step, measured side by side.

One step = one D update and one G update on a batch (128 x 64 px by default, ngf = ndf = 64).
Reference: pytorch/examples' architecture and update as people run it: fp32, contiguous
memory, Sigmoid + BCELoss, default Adam. Ours: `Trainer._train_step` with the settings
`dcgan train` picks on this device (channels_last, bf16 autocast where the hardware has it,
fused Adam), fed from the same in-memory batches it trains from.

The two are timed in alternating rounds so machine noise hits both alike; the figure is the
median over rounds. Run:

    python benchmarks/train_throughput.py                      # defaults: batch 128, 64 px
    python benchmarks/train_throughput.py --batch-size 512 --device cuda
    python benchmarks/train_throughput.py --precision fp32     # our step without bf16
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time

import torch
from torch import nn

from dcgan_core.data.loading import InMemoryBatches
from dcgan_core.device import describe_device
from dcgan_core.models import init_dcgan_weights
from dcgan_core.reference import ExamplesDiscriminator, ExamplesGenerator
from dcgan_core.train import TrainConfig, Trainer


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class ReferenceStep:
    """pytorch/examples dcgan/main.py's inner loop body, minus logging."""

    def __init__(self, args, device: torch.device):
        self.device = device
        self.g = ExamplesGenerator(args.nz, args.ngf).to(device)
        self.d = ExamplesDiscriminator(args.ndf).to(device)
        init_dcgan_weights(self.g)
        init_dcgan_weights(self.d)
        self.criterion = nn.BCELoss()
        self.opt_d = torch.optim.Adam(self.d.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.opt_g = torch.optim.Adam(self.g.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.nz = args.nz
        self.real = torch.rand(args.batch_size, 3, args.image_size, args.image_size, device=device) * 2 - 1

    def __call__(self, step: int) -> None:
        b = self.real.size(0)
        # (1) Update D network: maximize log(D(x)) + log(1 - D(G(z)))
        self.d.zero_grad()
        label = torch.full((b,), 1.0, device=self.device)
        err_real = self.criterion(self.d(self.real), label)
        err_real.backward()
        noise = torch.randn(b, self.nz, 1, 1, device=self.device)
        fake = self.g(noise)
        label.fill_(0.0)
        err_fake = self.criterion(self.d(fake.detach()), label)
        err_fake.backward()
        self.opt_d.step()
        # (2) Update G network: maximize log(D(G(z)))
        self.g.zero_grad()
        label.fill_(1.0)
        err_g = self.criterion(self.d(fake), label)
        err_g.backward()
        self.opt_g.step()


class OurStep:
    def __init__(self, args, device: torch.device, out_dir: str, hessian_penalty: float = 0.0):
        cfg = TrainConfig(
            hessian_penalty=hessian_penalty,
            image_size=args.image_size, nz=args.nz, ngf=args.ngf, ndf=args.ndf, batch_size=args.batch_size,
            device=str(device), precision=args.precision, compile=args.compile,
            channels_last=not args.no_channels_last, out_dir=out_dir, progress=False,
        )
        self.trainer = Trainer(cfg)
        images = torch.randint(0, 256, (args.batch_size * 4, 3, args.image_size, args.image_size), dtype=torch.uint8)
        self.batches = InMemoryBatches(images, args.batch_size, seed=0, device=device).iterate(0)
        self.memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format

    def __call__(self, step: int) -> None:
        self.trainer._train_step(next(self.batches).contiguous(memory_format=self.memory_format), step)


def time_rounds(steppers: dict, device, warmup: int, rounds: int, steps_per_round: int) -> dict[str, list[float]]:
    for name, step in steppers.items():
        for i in range(warmup):
            step(i)
        _sync(device)
    seconds = {name: [] for name in steppers}
    for r in range(rounds):
        for name, step in steppers.items():
            _sync(device)
            t0 = time.perf_counter()
            for i in range(steps_per_round):
                step(r * steps_per_round + i)
            _sync(device)
            seconds[name].append((time.perf_counter() - t0) / steps_per_round)
    return seconds


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--nz", type=int, default=100)
    p.add_argument("--ngf", type=int, default=64)
    p.add_argument("--ndf", type=int, default=64)
    p.add_argument("--device", default="auto")
    p.add_argument("--precision", default="auto", help="our step's precision: auto, bf16 or fp32")
    p.add_argument("--no-channels-last", action="store_true", help="our step without channels_last")
    p.add_argument("--compile", action="store_true", help="our step with torch.compile")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps per variant")
    p.add_argument("--rounds", type=int, default=5, help="alternating timed rounds")
    p.add_argument("--steps-per-round", type=int, default=3)
    p.add_argument("--hessian-penalty", type=float, default=0.0,
                   help="also time our step with this Hessian Penalty weight (what --hessian-penalty costs)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice, one per core)")
    args = p.parse_args(argv)
    if args.image_size != 64:
        p.error("the reference architecture is pytorch/examples' 64-px one; use --image-size 64")

    from dcgan_core.device import resolve_device

    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        ours = OurStep(args, device, tmp)
        steppers = {"reference (pytorch/examples: fp32, NCHW, BCELoss, Adam)": ReferenceStep(args, device), "ours": ours}
        if args.hessian_penalty > 0:
            steppers[f"ours + Hessian Penalty {args.hessian_penalty:g}"] = OurStep(args, device, tmp + "/hp", args.hessian_penalty)
        seconds = time_rounds(steppers, device, args.warmup, args.rounds, args.steps_per_round)
    trainer = ours.trainer
    print(f"command:   {' '.join([sys.executable, *sys.argv])}")
    print(f"torch:     {torch.__version__}  python {platform.python_version()}")
    print(f"device:    {describe_device(device)}  threads {torch.get_num_threads()}")
    print(f"setup:     batch {args.batch_size}, {args.image_size} px, nz {args.nz}, ngf {args.ngf}, ndf {args.ndf}; "
          f"{args.rounds} rounds x {args.steps_per_round} steps after {args.warmup} warm-up steps, median per round")
    print(f"ours:      precision {trainer.precision}, channels_last {trainer.config.channels_last}, "
          f"fused Adam {trainer.opt_g.defaults.get('fused')}, compile {trainer.config.compile}")
    rates = {}
    for name, s in seconds.items():
        rates[name] = args.batch_size / statistics.median(s)
        spread = args.batch_size / max(s), args.batch_size / min(s)
        print(f"{name:<58} {rates[name]:8.1f} img/s  (rounds {spread[0]:.1f}-{spread[1]:.1f})")
    ref, our, *penalised = rates.values()
    print(f"speed-up ours / reference: {our / ref:.2f}x")
    if penalised:
        print(f"Hessian Penalty: ours with it / ours without: {penalised[0] / our:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
