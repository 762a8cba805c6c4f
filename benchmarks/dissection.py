"""Dissect and paint with G's units on a shipped model (issue 22, item 5): the figures and their targets.

Prints, for one model (the shipped `rooms` by default) and one class (window):

  dissection  seconds to dissect every G layer over --n samples (trained G; the random G beside it),
              the best layer for the class, its top unit's IoU against a random G's best
              (target: >= 3x);
  insertion   --tries samples with a REGION_PX square of wall and no window: the top-k units of
              the layer set to their "on" level inside the square; success is the segmenter
              finding the class over >= FOUND_SHARE of the square (target >= 60%), against as
              many random units (target < 10%); locality is the mean pixel change outside the
              square over the change inside (target <= 1/3); the value set is --strength x each unit's
              mean over the class's pixels;
  removal     the top-k units dropped everywhere: share of samples that had the class and lost it,
              beside the paper's logistic-regression maps (fitted on 150 instrument-annotated
              samples, as `dcgan forget measure` does) and random units, on the same z;
  paint edit  milliseconds of one edit of one picture (the app's paint button, without the browser)
              (target <= 500 ms).

    python benchmarks/dissection.py                       # rooms, window, 2,000 samples, 300 tries
    python benchmarks/dissection.py --n 500 --tries 100   # quicker
    python benchmarks/dissection.py --dissection models/rooms/dissection.json   # reuse a stored dissection
    python benchmarks/dissection.py --json
    python benchmarks/dissection.py --dissection models/rooms/dissection.json --figure docs/paint_windows_rooms.png
    python benchmarks/dissection.py --dissection models/rooms/dissection.json --grid   # insertion for several k, strength

Everything runs on the CPU with --threads torch threads; other work on the machine slows the timings
(the load average is printed).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

from dcgan_core.analysis.dissection import Dissection, dissect, random_generator
from dcgan_core.analysis.instruments import default_instrument_path, load_instrument, segmenter_for
from dcgan_core.analysis.interventions import (
    DEFAULT_STRENGTH,
    DEFAULT_UNITS,
    REGION_PX,
    insert_levels,
    FOUND_SHARE,
    measure_insertion,
    measure_removal,
    paint,
)
from dcgan_core.analysis.interventions import MEASURE_SEED, surface_regions
from dcgan_core.analysis.instruments import segment
from dcgan_core.analysis.object_removal import run_experiment
from dcgan_core.images import image_grid, save_png, to_uint8, upscale_nearest
from dcgan_core.checkpoints import load_model
from dcgan_core.latent import sample_z

TARGETS = {"contrast": 3.0, "insert": 0.60, "insert_random": 0.10, "locality": 1 / 3, "paint_ms": 500.0, "dissect_s": 120.0}


def met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="rooms")
    p.add_argument("--class-name", default="window")
    p.add_argument("--n", type=int, default=2000, help="samples dissected")
    p.add_argument("--tries", type=int, default=300, help="samples drawn for insertion and removal")
    p.add_argument("--k", type=int, default=DEFAULT_UNITS, help="units inserted")
    p.add_argument("--k-remove", type=int, default=16, help="units dropped for removal (at the penultimate layer)")
    p.add_argument("--layer", type=int, default=None, help="insertion layer (default: the class's best layer)")
    p.add_argument("--strength", type=float, default=DEFAULT_STRENGTH, help="x the units' mean value over the class")
    p.add_argument("--random-draws", type=int, default=5)
    p.add_argument("--dissection", default=None, help="a stored `dcgan dissect --save` report to reuse (skips dissecting)")
    p.add_argument("--figure", default=None, help="also write a PNG: 8 tries, before (square outlined) / after / change")
    p.add_argument("--grid", action="store_true", help="only insertion, for k in 10, 20, 40 x strength 1, 2, 3 (a table)")
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    load = os.getloadavg()[0]
    model = load_model(args.model)
    g = model.generator
    seg = segmenter_for((model.checkpoint.train_config or {}).get("dataset"))
    out: dict = {"command": "python benchmarks/dissection.py " + shlex.join(argv if argv is not None else sys.argv[1:]),
                 "model": str(model.path), "step": model.checkpoint.step, "threads": args.threads,
                 "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, load {load:.2f}"}

    if args.dissection:
        report = json.loads(Path(args.dissection).read_text())
        trained, random = Dissection.from_dict(report["trained"]), Dissection.from_dict(report["random"])
        out["dissect_seconds"] = {"trained": trained.seconds, "random": random.seconds, "stored": args.dissection}
    else:
        trained = dissect(g, seg, n=args.n)
        random = dissect(random_generator(g), seg, n=args.n, masks_from=g)
        out["dissect_seconds"] = {"trained": trained.seconds, "random": random.seconds}
    c = args.class_name
    best = trained.best_layer(c)
    out["contrast"] = {"best_layer": best, "iou": trained.best_iou(c, best), "random_best_iou": random.best_iou(c)}
    out["contrast"]["ratio"] = out["contrast"]["iou"] / max(out["contrast"]["random_best_iou"], 1e-12)

    layer = best if args.layer is None else args.layer
    if args.grid:
        print(f"insertion of {c} at layer {layer}, {args.tries} samples, {args.random_draws} random draws; {out['machine']}")
        print("| units | strength | success | random units | locality | class share of the square |\n|---|---|---|---|---|---|")
        for k in (10, 20, 40):
            for strength in (1.0, 2.0, 3.0):
                r = measure_insertion(g, seg, trained, c, layer, k=k, n=args.tries, strength=strength,
                                      random_draws=args.random_draws)
                print(f"| {k} | {strength:g} | {r.top.success:.1%} | {r.random.success:.1%} | {r.top.locality:.3f} | "
                      f"{r.top.class_share_inside:.1%} |", flush=True)
        return 0
    ins = measure_insertion(g, seg, trained, c, layer, k=args.k, n=args.tries, strength=args.strength,
                            random_draws=args.random_draws)
    out["insertion"] = ins.as_dict()

    last = g.penultimate_layer
    top_removal = measure_removal(g, seg, trained.top_units(c, last, args.k_remove), c, last, n=args.tries,
                                  random_draws=args.random_draws)
    instrument = load_instrument(default_instrument_path("rooms"), kind="rooms")
    exp = run_experiment(Path(args.model).stem, model, instrument, object_name=c, n=50)  # the paper's maps (only the fit is used)
    lr_removal = measure_removal(g, seg, exp.maps, c, last, n=args.tries, random_draws=1)
    out["removal"] = {"layer": last, "dissection_units": top_removal.top.__dict__, "random_units": top_removal.random.__dict__,
                      "logistic_regression_maps": lr_removal.top.__dict__, "n_with_class": top_removal.n_with_class}

    z = sample_z(1, model.config, seed=0)
    region = np.zeros((model.config.image_size,) * 2, bool)
    region[8:24, 8:24] = True
    units = trained.top_units(c, layer, args.k)
    levels = insert_levels(trained, c, layer)
    paint(g, z, layer, units, region, "insert", levels, args.strength)  # warm
    times = []
    for _ in range(10):
        t = time.perf_counter()
        paint(g, z, layer, units, region, "insert", levels, args.strength)
        times.append((time.perf_counter() - t) * 1000)
    out["paint_ms"] = float(np.median(times))

    if args.figure:
        write_figure(args.figure, g, seg, trained, c, layer, args.k, args.strength, n=8)
        out["figure"] = args.figure
    if args.json:
        print(json.dumps(out, indent=2, default=float))
        return 0
    ct, ir = out["contrast"], ins
    ds = out["dissect_seconds"]
    print(f"command: {out['command']}\nmodel: {out['model']} (step {out['step']}); {out['machine']}; {args.threads} torch threads")
    print(f"dissection: trained G {ds['trained']:.1f} s, random G {ds['random']:.1f} s over {trained.n} samples "
          f"(target <= {TARGETS['dissect_s']:.0f} s for the trained G: {met(ds['trained'] <= TARGETS['dissect_s'])})")
    print(f"  {c}: best layer {ct['best_layer']}, top unit IoU {ct['iou']:.3f}; random G's best {ct['random_best_iou']:.3f} "
          f"-> {ct['ratio']:.1f}x (target >= {TARGETS['contrast']:.0f}x: {met(ct['ratio'] >= TARGETS['contrast'])})")
    print(f"insertion at layer {ir.layer}, top {len(ir.units)} units, strength {ir.strength}, {REGION_PX}-px wall squares, "
          f"{ir.tries} of {ir.n} samples had one (found: the class over >= {FOUND_SHARE:.0%} of the square):")
    print(f"  success {ir.top.success:.1%} (target >= {TARGETS['insert']:.0%}: {met(ir.top.success >= TARGETS['insert'])}); "
          f"random units {ir.random.success:.1%} (target < {TARGETS['insert_random']:.0%}: "
          f"{met(ir.random.success < TARGETS['insert_random'])}; each draw {', '.join(f'{x:.0%}' for x in ir.random_each)})")
    print(f"  locality: change outside / inside {ir.top.locality:.3f} ({ir.top.change_outside:.2f} / {ir.top.change_inside:.2f} "
          f"of 255; target <= 0.333: {met(ir.top.locality <= TARGETS['locality'])}); class share of the square "
          f"{ir.top.class_share_inside:.1%} (random units {ir.random.class_share_inside:.1%})")
    rm = out["removal"]
    print(f"removal at layer {rm['layer']} (the penultimate), {rm['n_with_class']} of {args.tries} samples had a {c}:")
    print(f"  top {args.k_remove} dissection units {rm['dissection_units']['removed']:.1%}, the paper's logistic-regression maps "
          f"({len(exp.maps)}) {rm['logistic_regression_maps']['removed']:.1%}, random units {rm['random_units']['removed']:.1%}")
    print(f"paint edit (one picture, {args.k} units, layer {layer}): median {out['paint_ms']:.1f} ms "
          f"(target <= {TARGETS['paint_ms']:.0f} ms without the browser: {met(out['paint_ms'] <= TARGETS['paint_ms'])})")
    return 0


def write_figure(path: str, g, seg, dissection, c: str, layer: int, k: int, strength: float, n: int) -> None:
    """The first n insertion tries of the benchmark: before (the square outlined in red), after, |change| x 3."""
    z = sample_z(4 * n, g.config, seed=MEASURE_SEED)
    with torch.no_grad():
        before = g(z)
    keep, regions = surface_regions(segment(seg, before), seg.classes.index("wall"), seg.classes.index(c), g.feature_sizes[layer])
    keep, regions = keep[:n], regions[:n]
    after = paint(g, z[keep], layer, dissection.top_units(c, layer, k), regions, "insert", insert_levels(dissection, c, layer), strength)
    b, a = to_uint8(before[keep]), to_uint8(after)
    change = np.clip(np.abs(a.astype(np.int16) - b).astype(np.float32) * 3, 0, 255).astype(np.uint8)
    outlined = b.copy()
    padded = np.pad(regions, ((0, 0), (1, 1), (1, 1)))
    interior = padded[:, :-2, 1:-1] & padded[:, 2:, 1:-1] & padded[:, 1:-1, :-2] & padded[:, 1:-1, 2:]
    edge = regions & ~interior
    outlined[edge] = (255, 0, 0)
    save_png(path, upscale_nearest(image_grid(np.concatenate([outlined, a, change]), nrow=n), 3))


if __name__ == "__main__":
    sys.exit(main())
