"""A shipped model's training log (models/NAME/training/): made from a real run by scripts/ship_training_log.py, shown by the monitor.

The run is a tiny real one (32 px, 8 channels, a sample grid every step); the "checkout" is a
temporary folder with no runs, so the monitor has only the shipped log to show.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
from app_support import assert_clean, run_page
from train_support import tiny_run

from dcgan_core import registry
from dcgan_core.train import Trainer

ROOT = Path(__file__).resolve().parent.parent

from explorer import runs

MONITOR = str(ROOT / "pages" / "3_training_monitor.py")
SCRIPT = ROOT / "scripts" / "ship_training_log.py"

spec = importlib.util.spec_from_file_location("ship_training_log", SCRIPT)
ship = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ship)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    """A finished 8-step run with a sample grid at every step, metrics.jsonl and config.json."""
    out = tmp_path_factory.mktemp("runs") / "rooms32"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DCGAN_CACHE_DIR", str(tmp_path_factory.mktemp("train_cache")))
        Trainer(tiny_run(out, steps=8, sample_every=1, log_every=1, checkpoint_every=8)).run()
    return out


@pytest.fixture
def checkout(tmp_path, monkeypatch) -> Path:
    """A fresh checkout: models/ without run folders, no runs/, no $DCGAN_MODELS_DIR."""
    monkeypatch.delenv("DCGAN_MODELS_DIR", raising=False)
    monkeypatch.delenv("DCGAN_RUNS_ROOTS", raising=False)
    monkeypatch.setattr(registry, "REPO_MODELS_DIR", tmp_path / "models")
    monkeypatch.setattr(runs, "REPO_ROOT", tmp_path)
    (tmp_path / "models").mkdir()
    return tmp_path


def test_evenly_spaced_keeps_the_first_and_the_last():
    assert ship.evenly_spaced(list(range(10)), 4) == [0, 3, 6, 9]
    assert ship.evenly_spaced([1, 2], 6) == [1, 2]
    assert ship.evenly_spaced(list(range(5)), 1) == [4]


def test_shipping_copies_the_metrics_and_a_handful_of_grids_but_no_checkpoint(finished_run, tmp_path):
    dest = tmp_path / "models" / "rooms" / "training"
    kept = ship.ship_training_log(finished_run, dest, grids=3)
    all_steps = [s for s, _ in runs.sample_grids(finished_run)]
    assert len(all_steps) == 8 and kept == [all_steps[0], all_steps[4], all_steps[-1]]
    assert [s for s, _ in runs.sample_grids(dest)] == kept
    assert (dest / "metrics.jsonl").read_bytes() == (finished_run / "metrics.jsonl").read_bytes()
    assert json.loads((dest / "config.json").read_text())["image_size"] == 32
    assert not (dest / "checkpoints").exists()
    assert sorted(p.name for p in dest.parent.iterdir()) == ["training"]  # no temp folder left behind


def test_a_log_shipped_until_a_step_ends_at_that_step(finished_run, tmp_path):
    dest = tmp_path / "training"
    kept = ship.ship_training_log(finished_run, dest, grids=3, until=5)
    assert kept[-1] == 5 and all(step <= 5 for step in kept)
    steps = [json.loads(line)["step"] for line in (dest / "metrics.jsonl").read_text().splitlines()]
    assert steps and max(steps) == 5


def test_shipping_again_replaces_the_whole_log(finished_run, tmp_path):
    dest = tmp_path / "training"
    ship.ship_training_log(finished_run, dest, grids=6)
    ship.ship_training_log(finished_run, dest, grids=2)
    assert len(runs.sample_grids(dest)) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["training"]


def test_the_script_names_a_folder_that_is_not_a_run(tmp_path):
    done = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path), "--out", str(tmp_path / "training")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and f"{tmp_path} is not a run folder" in done.stderr
    assert not (tmp_path / "training").exists()


def test_a_fresh_checkout_lists_the_shipped_log_first(finished_run, checkout):
    ship.ship_training_log(finished_run, checkout / "models" / "rooms" / "training")
    (found,) = runs.find_runs()
    assert found == (checkout / "models" / "rooms" / "training").resolve()
    assert runs.run_label(found) == "rooms (shipped model's training log)"
    assert not runs.is_active(found)  # its files are as new as the checkout, but it is not training


def test_runs_come_before_shipped_logs(finished_run, checkout):
    ship.ship_training_log(finished_run, checkout / "models" / "rooms" / "training")
    (checkout / "runs").mkdir()
    ship.ship_training_log(finished_run, checkout / "runs" / "mine")  # any run-shaped folder
    assert [runs.run_label(p).split(" ")[0] for p in runs.find_runs()] == ["mine", "rooms"]


def test_the_monitor_shows_the_shipped_log_on_a_fresh_checkout(finished_run, checkout):
    ship.ship_training_log(finished_run, checkout / "models" / "rooms" / "training", grids=3)
    at = run_page(MONITOR)
    assert_clean(at)
    assert at.selectbox(key="monitor_run").options == ["rooms (shipped model's training log)"]
    assert at.toggle(key="monitor_live").value is False
    assert len(at.get("plotly_chart")) == 2  # losses, D outputs
    assert at.metric[0].value == "8"  # the last step logged
    assert any(c.startswith("rooms (shipped model's training log): fixed-z samples at step 8") for img in at.image
               for c in img.captions)
    assert any("training log shipped with model **rooms**" in c.value for c in at.caption)
