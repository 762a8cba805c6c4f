"""Paths typed into the app stay inside the configured folders ($DCGAN_RUNS_ROOTS, $DCGAN_DATA_ROOTS).

The training monitor's run folder box and the feature probe's data location box refuse an
absolute path elsewhere, a `../` path out of the roots and a symlink inside a root that points
out of it, with one line naming the allowed folders and the variable to set; paths inside work.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from app_support import assert_clean, run_page, show_only, train_tiny_runs
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent

from explorer import roots

MONITOR = str(ROOT / "pages" / "3_training_monitor.py")
PROBE = str(ROOT / "pages" / "5_feature_probe.py")


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory) -> Path:
    return train_tiny_runs(tmp_path_factory, {"rooms_a": dict(sample_every=1)})


@pytest.fixture
def places(tiny_models, tmp_path, monkeypatch) -> dict[str, Path]:
    """An allowed folder holding a run, a run-shaped folder outside it, and a link from inside to outside."""
    show_only(tiny_models, monkeypatch, tmp_path)
    allowed, outside = tmp_path / "allowed", tmp_path / "outside"
    shutil.copytree(tiny_models / "rooms_a", allowed / "run", ignore=shutil.ignore_patterns("checkpoints"))
    shutil.copytree(tiny_models / "rooms_a", outside / "run", ignore=shutil.ignore_patterns("checkpoints"))
    (allowed / "link").symlink_to(outside / "run", target_is_directory=True)
    monkeypatch.setenv("DCGAN_RUNS_ROOTS", str(allowed))
    monkeypatch.setenv("DCGAN_DATA_ROOTS", str(allowed))
    return {"allowed": allowed, "outside": outside}


def up_and_out(target: Path) -> str:
    """`target` as a path relative to the current folder: it starts with ../ (out of the repo and the roots)."""
    rel = os.path.relpath(target, Path.cwd())
    assert rel.startswith("..")
    return rel


# ---------------------------------------------------------------------------- the rule


def test_the_roots_come_from_the_environment_separated_by_pathsep(tmp_path, monkeypatch):
    monkeypatch.setenv("DCGAN_RUNS_ROOTS", f"{tmp_path / 'a'}{os.pathsep}{tmp_path / 'b'}")
    assert roots.runs_roots() == [(tmp_path / "a").resolve(), (tmp_path / "b").resolve()]
    monkeypatch.delenv("DCGAN_DATA_ROOTS", raising=False)
    assert roots.data_roots() == [ROOT / "data", (Path.home() / "data").resolve()]


def test_by_default_the_monitor_may_read_the_repo_runs_and_models(monkeypatch):
    monkeypatch.delenv("DCGAN_RUNS_ROOTS", raising=False)
    monkeypatch.delenv("DCGAN_MODELS_DIR", raising=False)
    assert roots.confine_run(ROOT / "runs" / "x") == ROOT / "runs" / "x"
    assert roots.confine_run(ROOT / "models" / "rooms" / "training") == ROOT / "models" / "rooms" / "training"
    with pytest.raises(roots.OutsideRoots, match="DCGAN_RUNS_ROOTS"):
        roots.confine_run(ROOT / "runs" / ".." / "dcgan_core")


def test_a_symlink_inside_a_root_that_leads_out_is_refused(places):
    with pytest.raises(roots.OutsideRoots, match=r"link is outside the folders this app may read \(.*allowed\)"):
        roots.confine_run(places["allowed"] / "link")
    assert roots.confine_run(places["allowed"] / "run") == (places["allowed"] / "run").resolve()


# ---------------------------------------------------------------------------- training monitor


def assert_refused_on_monitor(at) -> None:
    assert not at.exception
    (error,) = at.error
    assert "is outside the folders this app may read" in error.value and "DCGAN_RUNS_ROOTS" in error.value
    assert "\n" not in error.value
    assert not at.get("plotly_chart") and not at.image and not at.metric and not at.get("json")


@pytest.mark.parametrize("typed", ["/etc", "/"])
def test_the_monitor_refuses_an_absolute_path_elsewhere(places, typed):
    at = run_page(MONITOR)
    at.text_input(key="monitor_path").input(typed).run()
    assert_refused_on_monitor(at)


def test_the_monitor_refuses_a_path_that_climbs_out_of_the_roots(places):
    at = run_page(MONITOR)
    at.text_input(key="monitor_path").input(up_and_out(places["outside"] / "run")).run()
    assert_refused_on_monitor(at)
    at.text_input(key="monitor_path").input(str(places["allowed"] / ".." / "outside" / "run")).run()
    assert_refused_on_monitor(at)


def test_the_monitor_refuses_a_symlink_that_leads_out(places):
    at = run_page(MONITOR)
    at.text_input(key="monitor_path").input(str(places["allowed"] / "link")).run()
    assert_refused_on_monitor(at)


def test_the_monitor_reads_a_run_inside_the_roots(places):
    at = run_page(MONITOR)
    at.text_input(key="monitor_path").input(str(places["allowed"] / "run")).run()
    assert_clean(at)
    assert len(at.get("plotly_chart")) == 2
    assert any(c.startswith("run: fixed-z samples at step 2") for img in at.image for c in img.captions)


# ---------------------------------------------------------------------------- feature probe


def probe_on_folder(typed: str):
    at = run_page(PROBE)
    at.selectbox(key="probe_dataset").set_value("folder").run()
    at.text_input(key="probe_root").set_value(typed)
    at.number_input(key="probe_n_train").set_value(12)
    at.number_input(key="probe_n_test").set_value(4).run()
    return at


def assert_refused_on_probe(at) -> None:
    assert not at.exception
    (error,) = at.error
    assert "is outside the folders this app may read" in error.value and "DCGAN_DATA_ROOTS" in error.value
    assert not at.button and not at.metric and not at.get("plotly_chart")  # nothing read, nothing to run


@pytest.mark.parametrize("typed", ["/", "/etc"])
def test_the_probe_refuses_an_absolute_path_elsewhere(places, typed):
    assert_refused_on_probe(probe_on_folder(typed))


def test_the_probe_refuses_a_path_that_climbs_out_and_a_symlink_that_leads_out(places):
    pictures(places["outside"] / "pics")
    assert_refused_on_probe(probe_on_folder(up_and_out(places["outside"] / "pics")))
    (places["allowed"] / "pics_link").symlink_to(places["outside"] / "pics", target_is_directory=True)
    assert_refused_on_probe(probe_on_folder(str(places["allowed"] / "pics_link")))


def pictures(folder: Path) -> None:
    """An image folder with two classes (dark and light squares), 8 pictures each."""
    rng = np.random.default_rng(0)
    for name, level in (("dark", 40), ("light", 210)):
        (folder / name).mkdir(parents=True)
        for i in range(8):
            pixels = np.clip(level + rng.normal(0, 20, (32, 32, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(folder / name / f"{i}.png")


def test_the_probe_reads_a_data_set_inside_the_roots(places):
    pictures(places["allowed"] / "pics")
    at = probe_on_folder(str(places["allowed"] / "pics"))
    assert not at.error
    at.button[0].click().run()
    assert_clean(at)
    assert [m.label for m in at.metric] == ["trained D", "random D", "raw pixels", "chance"]
    assert any(f"image folder {(places['allowed'] / 'pics').resolve()}" in c.value for c in at.caption)


@pytest.mark.parametrize("typed", ["runs/a\x00b", "~no_such_user_here/runs"])
def test_a_path_that_cannot_be_resolved_is_refused_not_a_traceback(typed):
    with pytest.raises(roots.OutsideRoots, match="is not a usable path"):
        roots.confine_run(typed)


def test_a_symlink_loop_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("DCGAN_RUNS_ROOTS", str(tmp_path))
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    with pytest.raises(roots.OutsideRoots, match="is not a usable path"):
        roots.confine_run(tmp_path / "a")
