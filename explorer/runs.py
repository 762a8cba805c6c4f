"""Reading training run folders (as `dcgan_core.train` writes them) for the training monitor.

    RUN/metrics.jsonl              one JSON record per log interval
    RUN/samples/step_NNNNNN.png    a sample grid from a fixed z
    RUN/checkpoints/last.safetensors
    RUN/collapse.json              `dcgan collapse RUN --save RUN/collapse.json`: G's units per checkpoint

A model's training log, MODELS/NAME/training/ (written by scripts/ship_training_log.py), is
laid out the same without the checkpoints: metrics.jsonl, config.json and a handful of the
run's sample grids. The shipped models carry theirs, so the monitor has something to show on
a fresh checkout.

Everything here tolerates a run that is being written: a half-written last line of
metrics.jsonl is skipped, files that vanish between listing and reading are ignored.
No Streamlit in this module.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from dcgan_core import registry
from dcgan_core.registry import models_dirs

from . import REPO_ROOT

SAMPLE_NAME = re.compile(r"step_(\d+)\.png$")
ACTIVE_WITHIN_S = 180  # a run whose metrics changed this recently counts as training
TRAINING_LOG = "training"  # MODELS/NAME/training/: a model's training log


def is_run_dir(path: Path) -> bool:
    return path.is_dir() and ((path / "metrics.jsonl").is_file() or (path / "samples").is_dir())


def find_runs() -> list[Path]:
    """Run folders in $DCGAN_MODELS_DIR, the repo's models/ and runs/ (or those folders themselves), then models' training logs.

    Runs in that order of folders, newest first within each; then MODELS/NAME/training/ of
    each models folder, by name. With no runs at all, a shipped model's log comes first.
    """
    found: list[Path] = []
    for root in [*models_dirs(), REPO_ROOT / "runs"]:
        if not root.is_dir():
            continue
        here = [p.resolve() for p in [root, *root.iterdir()] if is_run_dir(p)]
        found += [p for p in sorted(here, key=last_modified, reverse=True) if p not in found]
    for root in models_dirs():
        if root.is_dir():
            logs = sorted(p.resolve() for p in root.glob(f"*/{TRAINING_LOG}") if is_run_dir(p))
            found += [p for p in logs if p not in found]
    return found


def is_training_log(run: Path) -> bool:
    """Whether `run` is a model's training log (MODELS/NAME/training/) rather than a run folder."""
    if run.name != TRAINING_LOG:
        return False
    parent = run.resolve().parent.parent
    return any(parent == d.resolve() for d in models_dirs())


def run_label(run: Path) -> str:
    """How the monitor lists a run: "rooms64 (runs)" or "rooms (shipped model's training log)"."""
    if is_training_log(run):
        shipped = run.resolve().parent.parent == registry.REPO_MODELS_DIR.resolve()
        return f"{run.parent.name} ({'shipped ' if shipped else ''}model's training log)"
    return f"{run.name} ({run.parent})"


def last_modified(run: Path) -> float:
    """Newest modification time of the run's log and samples folder (seconds since the epoch)."""
    times = [0.0]
    for p in (run / "metrics.jsonl", run / "samples", run / "checkpoints" / "last.safetensors"):
        try:
            times.append(p.stat().st_mtime)
        except OSError:
            pass
    return max(times)


def is_active(run: Path, within_s: float = ACTIVE_WITHIN_S) -> bool:
    """Whether the run wrote something in the last `within_s` seconds (so it is probably still training).

    A model's training log never is: its files are as new as the checkout.
    """
    return not is_training_log(run) and time.time() - last_modified(run) < within_s


@dataclass(frozen=True)
class RunInfo:
    path: Path
    records: list[dict]  # metrics.jsonl, in order; half-written lines skipped
    samples: list[tuple[int, Path]]  # (step, grid png), by step
    config: dict | None  # config.json


def read_metrics(run: Path) -> list[dict]:
    path = run / "metrics.jsonl"
    try:
        text = path.read_text()
    except OSError:
        return []
    records = []
    for line in text.splitlines():
        try:
            r = json.loads(line)
        except json.JSONDecodeError:
            continue  # the line being written
        if isinstance(r, dict) and "step" in r:
            records.append(r)
    return records


def sample_grids(run: Path) -> list[tuple[int, Path]]:
    folder = run / "samples"
    if not folder.is_dir():
        return []
    found = []
    for name in os.listdir(folder):
        m = SAMPLE_NAME.match(name)
        if m:
            found.append((int(m.group(1)), folder / name))
    return sorted(found)


def read_run(run: Path) -> RunInfo:
    config = None
    try:
        config = json.loads((run / "config.json").read_text())
    except (OSError, json.JSONDecodeError):
        pass
    return RunInfo(path=run, records=read_metrics(run), samples=sample_grids(run), config=config)


COLLAPSE_FILE = "collapse.json"


def read_collapse(run: Path) -> list[dict] | None:
    """The run's filter-collapse report (per checkpoint: step and each layer's dead / collapsed / oscillating
    shares), or None when there is none or it is not readable as one."""
    try:
        data = json.loads((run / COLLAPSE_FILE).read_text())
        rows = [
            {"step": int(c["step"]), "layers": [
                {"layer": int(x["layer"]), "dead": float(x["dead"]), "collapsed": float(x["collapsed"]),
                 "oscillating": None if x["oscillating"] is None else float(x["oscillating"])} for x in c["layers"]]}
            for c in data["checkpoints"]
        ]
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError):
        return None
    return sorted(rows, key=lambda r: r["step"]) or None


def read_grid(path: Path) -> np.ndarray:
    """A sample grid PNG as uint8 (H, W, 3). Raises OSError or ValueError for a grid being written right now."""
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"))
