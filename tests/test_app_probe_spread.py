"""The feature probe page with the paper's few-label protocol: labels per class, repeated draws, mean ± std shown.

A tiny model (ngf 8, 2 training steps) and a few dozen faces: AppTest asserts on text and the chart's spec.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from app_support import assert_clean, run_page, show_only, tiny_models  # noqa: F401 (fixture)

from dcgan_core.analysis import feature_probe as fp
from dcgan_core.checkpoints import load_model

PROBE = str(Path(__file__).resolve().parent.parent / "pages" / "5_feature_probe.py")
FEW_LABELS = dict(probe_dataset="faces", probe_task="glasses", probe_n_train=40, probe_n_test=20, probe_c=1e-3,
                  probe_per_class=5, probe_repeats=3)


@pytest.fixture
def model_dir(tiny_models, tmp_path, monkeypatch) -> Path:
    """A copy of the tiny run as the only model, so a probe stored beside it stays in this test."""
    shutil.copytree(tiny_models, tmp_path / "models")
    show_only(tmp_path / "models", monkeypatch, tmp_path)
    return tmp_path / "models" / "rooms_a"


def error_bars(at) -> list[float]:
    """The accuracy chart's error bars (std over the draws, in points), [] when it has none."""
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    return spec["data"][0].get("error_y", {}).get("array", [])


def test_a_repeated_probe_shows_mean_and_std_with_error_bars(model_dir):
    at = run_page(PROBE, **FEW_LABELS)
    at.button[0].click().run()
    assert_clean(at)
    assert at.header[0].value == "Test accuracy (mean ± std over 3 draws)"
    assert [m.label for m in at.metric] == ["trained D", "random D", "raw pixels", "chance"]
    assert all(" ± " in m.value for m in at.metric[:3])
    table = "\n".join(m.value for m in at.markdown)
    assert "| features | dims | accuracy (mean ± std) | error (mean ± std) | C (median) |" in table
    assert len(error_bars(at)) == 3
    captions = "\n".join(c.value for c in at.caption)
    assert "3 draws of 5 labels per class (10 in all) from a pool of 40 training images and 20 test images" in captions


def test_without_labels_per_class_there_is_one_fit_and_no_spread(model_dir):
    at = run_page(PROBE, **{**FEW_LABELS, "probe_per_class": 0})
    assert at.number_input(key="probe_repeats").disabled
    at.button[0].click().run()
    assert_clean(at)
    assert at.header[0].value == "Test accuracy" and not any("±" in m.value for m in at.metric)
    assert error_bars(at) == []


def test_a_stored_repeated_probe_shows_its_spread_at_once(model_dir):
    checkpoint = model_dir / "checkpoints" / "last.safetensors"
    settings = fp.ProbeSettings("faces", "glasses", None, 40, 20, 1e-3, per_class=5, repeats=3)
    data = fp.load_probe_data("faces", task="glasses", image_size=32, n_train=40, n_test=20, seed=settings.seed)
    report = fp.run_probe(load_model(checkpoint).discriminator, data, C=1e-3, draws=settings.draws)
    fp.save_stored_probe(fp.stored_probe_path(checkpoint), report, settings, checkpoint=checkpoint, step=2,
                         command=settings.command("rooms_a"))
    at = run_page(PROBE, **FEW_LABELS)
    assert_clean(at)
    (note,) = at.success
    assert "**Stored result**" in note.value and "--per-class 5 --repeats 3" in note.value
    trained = report.scores[0]
    assert at.metric[0].value == f"{100 * trained.accuracy:.1f}% ± {100 * trained.accuracy_std:.1f}"
    assert error_bars(at) == pytest.approx([100 * s.accuracy_std for s in report.scores])
