"""While you annotate, the removal curve grows in the background (issue 24: how many annotations are enough).

Each time the number of annotated images reaches 10, 20, 40, 80 or 150, the annotations of that moment
are copied and `dcgan forget curve` refits on that many of them in a separate process at the lowest
priority with one torch thread, so drawing boxes stays as quick as before. Each size's result is a JSON
file beside the annotations (`curves/<model>-<fingerprint>-<object>/size_N.json`, written atomically);
the annotation page reads whatever has finished and draws the curve as it grows. One job per curve runs
at a time (the smallest size due first), shared by every browser session of the app. Only images
annotated by hand count (an auto-annotated pool has the fit page's own curve); DCGAN_BACKGROUND_REFITS=0
turns the jobs off (the test suite does).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from dcgan_core.analysis.annotation_curve import DEFAULT_SIZES, AnnotationCurve, CurvePoint
from dcgan_core.analysis.annotations import AnnotationSet
from dcgan_core.analysis.user_data import ModelIdentity, annotations_dir, safe_name
from dcgan_core.files import write_bytes_atomic

SIZES = DEFAULT_SIZES  # annotated images at which a point is fitted
REFITS = 3  # draws per size (the command line's default is 5; fewer keep the background light)
N_MEASURED = 200  # fresh samples each fit is measured on

ENABLE_ENV = "DCGAN_BACKGROUND_REFITS"
_jobs: dict[Path, tuple[int, subprocess.Popen]] = {}  # curve folder -> (size, its running process), process-wide
_lock = threading.Lock()


@dataclass(frozen=True)
class CurveProgress:
    """What the background curve of one (model, object) has: finished points, the size being fitted, failures."""

    points: list[CurvePoint]
    running: int | None  # the size being fitted now
    failed: dict[int, str]  # size -> the last line its job printed
    next_size: int | None  # the next size that will be fitted, once enough images are annotated


def curve_folder(identity: ModelIdentity, object_name: str, root: Path | None = None) -> Path:
    """Where the background curve of these weights and this object lives (names sanitised, never typed by a user)."""
    root = root or annotations_dir()
    return root / "curves" / f"{safe_name(identity.name, 'model')}-{identity.fingerprint[:16]}-{safe_name(object_name)}"


def _result(folder: Path, size: int) -> Path:
    return folder / f"size_{size}.json"


def _failure(folder: Path, size: int) -> Path:
    return folder / f"size_{size}.failed"


def _running(folder: Path) -> int | None:
    job = _jobs.get(folder)
    if job is None:
        return None
    size, process = job
    code = process.poll()
    if code is None:
        return size
    del _jobs[folder]
    if code != 0 or not _result(folder, size).is_file():  # say why once, and do not start it again
        log = folder / f"size_{size}.log"
        lines = log.read_text(errors="replace").strip().splitlines() if log.is_file() else []
        write_bytes_atomic(_failure(folder, size), (lines[-1] if lines else f"exit code {code}").encode())
    return None


def _command(model_path: Path, object_name: str, snapshot: Path, size: int, result: Path) -> list[str]:
    return [sys.executable, "-m", "dcgan_core.cli", "forget", "curve", "--model", str(model_path), "--object", object_name,
            "--annotations", str(snapshot), "--sizes", str(size), "--refits", str(REFITS), "--n", str(N_MEASURED),
            "--save", str(result)]


def _lowest_priority() -> None:  # in the child, before it starts: the app's own work comes first
    os.nice(19)


def by_hand(notes: AnnotationSet) -> AnnotationSet:
    """The images annotated by hand (what the background curve fits on)."""
    return AnnotationSet(notes.model, notes.object_name, tuple(a for a in notes.images if a.annotated and a.source == "hand"))


def start_due(model_path: Path, notes: AnnotationSet, folder: Path) -> int | None:
    """Start the smallest size that is due (hand-annotated images >= size, no result, not failed) unless a job of
    this curve runs already or jobs are off; returns the size started, or None."""
    notes = by_hand(notes)
    annotated = len(notes.images)
    if os.environ.get(ENABLE_ENV, "1") == "0":
        return None
    with _lock:
        if _running(folder) is not None:
            return None
        due = [s for s in SIZES if s <= annotated and not _result(folder, s).is_file() and not _failure(folder, s).is_file()]
        if not due:
            return None
        size = due[0]
        folder.mkdir(parents=True, exist_ok=True)
        snapshot = folder / f"size_{size}.annotations.json"
        write_bytes_atomic(snapshot, notes.to_json().encode())
        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        with (folder / f"size_{size}.log").open("wb") as log:
            process = subprocess.Popen(
                _command(model_path, notes.object_name, snapshot, size, _result(folder, size)), stdout=log,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, preexec_fn=_lowest_priority,
            )
        _jobs[folder] = (size, process)
        return size


def progress(folder: Path, annotated: int) -> CurveProgress:
    """The finished points (by size), the size running, failures, and the next size to come."""
    with _lock:
        running = _running(folder)
    points, failed = [], {}
    for size in SIZES:
        if _result(folder, size).is_file():
            try:
                points += AnnotationCurve.from_dict(json.loads(_result(folder, size).read_text())).points
            except (OSError, ValueError, KeyError, TypeError) as e:
                failed[size] = f"unreadable result ({type(e).__name__})"
        elif _failure(folder, size).is_file():
            failed[size] = _failure(folder, size).read_text(errors="replace")[:300]
    done = {p.images for p in points} | set(failed) | ({running} if running else set())
    upcoming = [s for s in SIZES if s not in done and s > annotated]
    return CurveProgress(points, running, failed, upcoming[0] if upcoming else None)


def wait(folder: Path, timeout_s: float | None = None) -> None:
    """Block until this curve's running job (if any) ends: for tests and scripts."""
    job = _jobs.get(folder)
    if job is not None:
        job[1].wait(timeout=timeout_s)
