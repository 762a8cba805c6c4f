"""Copy a finished run's training log into a shipped model's folder, so the training monitor shows it on a fresh checkout.

    python scripts/ship_training_log.py runs/rooms64_ngf32 --name rooms          # -> models/rooms/training/
    python scripts/ship_training_log.py runs/rooms64_ngf32 --out somewhere/training --grids 4
    python scripts/ship_training_log.py runs/rooms64_ngf32 --name rooms --until 6000   # the log up to the shipped step

writes DEST/metrics.jsonl and DEST/config.json as they are, and a handful of the run's sample
grids (DEST/samples/step_NNNNNN.png), evenly spaced, the first and the last always among them.
No checkpoints: the model itself is models/NAME/model.safetensors (scripts/ship_model.py).
DEST is built beside its final place and renamed into it, so a reader sees the old log or the
new one (or, for an instant while one replaces the other, none), never half of one.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

from explorer.runs import TRAINING_LOG, is_run_dir, sample_grids

GRIDS = 6  # sample grids kept: enough to see training progress, small enough to ship


def evenly_spaced(items: list, k: int) -> list:
    """k items spread evenly over `items`, the first and the last included (all of them if there are no more than k)."""
    if len(items) <= k:
        return list(items)
    if k == 1:
        return [items[-1]]
    return [items[round(i * (len(items) - 1) / (k - 1))] for i in range(k)]


def ship_training_log(run: str | Path, dest: str | Path, grids: int = GRIDS, until: int | None = None) -> list[int]:
    """Copy RUN's metrics.jsonl, config.json and `grids` of its sample grids into DEST (replaced whole); the steps kept.

    `until`: keep records and grids up to that step only (a model shipped from before the run's end).
    """
    run, dest = Path(run), Path(dest)
    if not is_run_dir(run) or not (run / "metrics.jsonl").is_file():
        raise ValueError(f"{run} is not a run folder with a metrics.jsonl; give the folder passed to `dcgan train --out`")
    if grids < 1:
        raise ValueError(f"--grids must be at least 1; got {grids}")
    kept = evenly_spaced([(step, grid) for step, grid in sample_grids(run) if until is None or step <= until], grids)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        (tmp / "samples").mkdir()
        if (run / "config.json").is_file():
            shutil.copy2(run / "config.json", tmp / "config.json")
        lines = (run / "metrics.jsonl").read_text().splitlines(keepends=True)
        if until is not None:
            lines = [line for line in lines if json.loads(line).get("step", 0) <= until]
        (tmp / "metrics.jsonl").write_text("".join(lines))
        for _, grid in kept:
            shutil.copy2(grid, tmp / "samples" / grid.name)
        os.chmod(tmp, 0o755)  # mkdtemp makes 0700
        old = None
        if dest.exists():
            old = dest.with_name(f".{dest.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            dest.rename(old)
        tmp.rename(dest)
        if old is not None:
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return [step for step, _ in kept]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", help="the finished run folder (as passed to `dcgan train --out`)")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--name", help=f"shipped model name: writes models/NAME/{TRAINING_LOG}/")
    where.add_argument("--out", help="write the log to this folder instead")
    parser.add_argument("--grids", type=int, default=GRIDS, help="sample grids to keep, evenly spaced")
    parser.add_argument("--until", type=int, help="keep the log up to this step (the step the model was shipped from)")
    args = parser.parse_args(argv)
    dest = Path(args.out) if args.out else ROOT / "models" / args.name / TRAINING_LOG
    try:
        steps = ship_training_log(args.run, dest, args.grids, args.until)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {dest}: metrics.jsonl and sample grids at steps {', '.join(f'{s:,}' for s in steps)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
