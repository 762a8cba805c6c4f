"""Do the results of vector arithmetic look like faces? z-space against pixel-space, by SWD.

The instrument reads attributes, not whether an image is a plausible face: it finds glasses in
the ghosted overlay that pixel-space arithmetic makes. This measures what the eye sees. For
`--draws` random draws of an equation's exemplars (as `dcgan arithmetic` draws them), it takes
Y = G(mean(A) - mean(B) + mean(C)) and the pixel-space result mean(images A) - mean(images B) +
mean(images C), and reports the multi-scale sliced Wasserstein distance (x 1e3, lower is closer)
of each set to held-out real renders, beside the model's own random samples and a real-vs-real
floor, all with the same number of images.

    python benchmarks/arithmetic_realism.py --model faces --equation glasses --draws 300
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import torch

from dcgan_core.analysis.arithmetic import CENTRE, MIN_PER_CONCEPT
from dcgan_core.analysis.arithmetic_benchmark import exemplar_labels, pixel_results
from dcgan_core.analysis.equations import EQUATIONS, draw_equation
from dcgan_core.analysis.labelling import read_codes
from dcgan_core.analysis.evaluate import held_out_real
from dcgan_core.analysis.instruments import default_instrument_path, load_instrument
from dcgan_core.analysis.swd import SWDResult, sliced_wasserstein_distance
from dcgan_core.checkpoints import load_model
from dcgan_core.generate import generate
from dcgan_core.latent import sample_z
from dcgan_core.registry import resolve_checkpoint


def realism(model, instrument, equation: str = "glasses", draws: int = 300, pool: int = 2000, seed: int = 0) -> dict[str, SWDResult]:
    """SWD to `draws` real renders of: Y images, pixel-space results, random samples, and other real renders (the floor)."""
    eq = EQUATIONS[equation]
    pool_z = sample_z(pool, model.config, seed=seed)
    pool_read = read_codes(model.generator, instrument, pool_z)[1]
    rng = np.random.default_rng(seed)
    drawn, _, why = draw_equation(eq, pool_z, exemplar_labels(pool_read), rng, draws, MIN_PER_CONCEPT, scale=0.0)
    if drawn is None:
        raise ValueError(why)
    y_images = generate(model.generator, drawn.codes[CENTRE::9])  # Y of each draw, without its neighbours
    pixel_images = pixel_results(model.generator, pool_z, drawn)
    random_images = generate(model.generator, sample_z(draws, model.config, seed=seed + 1))
    real, floor, _ = held_out_real(model, draws)
    chw = lambda x: torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))  # noqa: E731
    return {
        "Y = G(mean(A) - mean(B) + mean(C))": sliced_wasserstein_distance(real, chw(y_images), seed=seed),
        "pixel space: mean images A - B + C": sliced_wasserstein_distance(real, chw(pixel_images), seed=seed),
        "random samples of the model": sliced_wasserstein_distance(real, chw(random_images), seed=seed),
        "floor: other real renders": sliced_wasserstein_distance(real, floor, seed=seed),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="faces", help="a 64-px faces model: name, run folder or checkpoint")
    p.add_argument("--equation", default="glasses", choices=sorted(EQUATIONS))
    p.add_argument("--draws", type=int, default=300, help="draws of exemplars (and images per set)")
    p.add_argument("--pool", type=int, default=2000, help="labelled samples the exemplars are drawn from")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = p.parse_args(argv)
    if args.draws < 2:
        p.error("--draws must be at least 2 (SWD compares sets)")
    if args.threads:
        torch.set_num_threads(args.threads)
    model = load_model(resolve_checkpoint(args.model))
    instrument = load_instrument(default_instrument_path("faces"), kind="faces")
    try:
        rows = realism(model, instrument, args.equation, args.draws, args.pool, args.seed)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{EQUATIONS[args.equation].describe()}: {args.draws} draws, 3 exemplars per concept, pool {args.pool} (seed {args.seed}); "
          f"model {model.path} (step {model.checkpoint.step})")
    levels = list(next(iter(rows.values())).per_level)
    print("SWD x1e3 to real renders (lower: closer to real faces)")
    print(f"{'image set':<40}{'mean':>8}" + "".join(f"{str(k) + ' px':>9}" for k in levels))
    for name, r in rows.items():
        print(f"{name:<40}{r.mean:>8.1f}" + "".join(f"{r.per_level[k]:>9.1f}" for k in levels))
    return 0


if __name__ == "__main__":
    sys.exit(main())
