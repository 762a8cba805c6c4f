"""Reading training run folders (as `dcgan_core.train` writes them) for the training monitor.

    RUN/metrics.jsonl              one JSON record per log interval
    RUN/samples/step_NNNNNN.png    a sample grid from a fixed z
    RUN/checkpoints/last.safetensors

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

from dcgan_core.registry import models_dirs

from . import REPO_ROOT

SAMPLE_NAME = re.compile(r"step_(\d+)\.png$")
ACTIVE_WITHIN_S = 180  # a run whose metrics changed this recently counts as training


def is_run_dir(path: Path) -> bool:
    return path.is_dir() and ((path / "metrics.jsonl").is_file() or (path / "samples").is_dir())


def find_runs() -> list[Path]:
    """Run folders in $DCGAN_MODELS_DIR, the repo's models/ and runs/ (or those folders themselves).

    In that order of folders, and newest first within each.
    """
    found: list[Path] = []
    for root in [*models_dirs(), REPO_ROOT / "runs"]:
        if not root.is_dir():
            continue
        here = [p.resolve() for p in [root, *root.iterdir()] if is_run_dir(p)]
        found += [p for p in sorted(here, key=last_modified, reverse=True) if p not in found]
    return found


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
    """Whether the run wrote something in the last `within_s` seconds (so it is probably still training)."""
    return time.time() - last_modified(run) < within_s


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
