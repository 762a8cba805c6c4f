"""First contact with the app: the stored probe shown at once, labels that fit, no Deploy button, odd uploads refused.

Tiny models (ngf 8, 2 training steps) trained once per module; AppTest asserts on text,
session state and chart specs, not on pixels.
"""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path

import pytest
from app_support import assert_clean, run_page, show_only, tiny_models, train_tiny_runs  # noqa: F401 (fixture)

from dcgan_core.analysis import feature_probe as fp
from dcgan_core.checkpoints import load_model

ROOT = Path(__file__).resolve().parent.parent
WALK = str(ROOT / "pages" / "1_latent_walk.py")
PROBE = str(ROOT / "pages" / "5_feature_probe.py")
FORGET = str(ROOT / "pages" / "6_forget_to_draw.py")


@pytest.fixture
def model_dir(tiny_models, tmp_path, monkeypatch) -> Path:
    """A copy of the tiny run as the only model (so a stored probe written beside it stays in this test)."""
    shutil.copytree(tiny_models, tmp_path / "models")
    show_only(tmp_path / "models", monkeypatch, tmp_path)
    return tmp_path / "models" / "rooms_a"


def store_probe(model_dir: Path, settings: fp.ProbeSettings) -> fp.ProbeReport:
    """Run a small real probe on the tiny model and store it beside the checkpoint, labelled with `settings`."""
    checkpoint = model_dir / "checkpoints" / "last.safetensors"
    loaded = load_model(checkpoint)
    data = fp.load_probe_data("faces", task="glasses", image_size=32, n_train=40, n_test=20)
    report = fp.run_probe(loaded.discriminator, data, C=1e-3)
    fp.save_stored_probe(fp.stored_probe_path(checkpoint), report, settings, checkpoint=checkpoint, step=2,
                         command=settings.command("rooms_a", "probe.json"))
    return report


# ---------------------------------------------------------------------------- the stored probe


def test_the_stored_probe_shows_at_once_with_the_default_settings(model_dir):
    report = store_probe(model_dir, fp.ProbeSettings("rooms", "windows"))  # the page's defaults for a rooms model
    at = run_page(PROBE)
    assert_clean(at)
    assert not at.info  # no "Press Run the probe"
    (note,) = at.success
    assert "**Stored result**, not computed now" in note.value and "dcgan probe --model rooms_a --dataset rooms" in note.value
    assert "2,000 training and 1,000 test images, C auto" in note.value
    assert [m.label for m in at.metric] == ["trained D", "random D", "raw pixels", "chance"]
    assert at.metric[0].value == f"{100 * report.scores[0].accuracy:.1f}%"
    assert len(at.get("plotly_chart")) == 2


def test_other_settings_ask_for_a_run_and_say_what_the_stored_result_is(model_dir):
    store_probe(model_dir, fp.ProbeSettings("rooms", "windows"))
    at = run_page(PROBE)
    at.number_input(key="probe_n_train").set_value(500).run()
    assert_clean(at)
    assert not at.success and not at.metric
    assert any("Press **Run the probe**" in i.value for i in at.info)
    assert any("holds a result for other settings or other weights" in c.value for c in at.caption)


def test_a_stored_probe_of_other_weights_is_not_shown(model_dir):
    store_probe(model_dir, fp.ProbeSettings("rooms", "windows"))
    path = model_dir / "checkpoints" / "last.probe.json"
    record = json.loads(path.read_text())
    path.write_text(json.dumps({**record, "checkpoint_sha256": "0" * 64}))
    at = run_page(PROBE)
    assert not at.success and not at.metric
    assert any("Press **Run the probe**" in i.value for i in at.info)


def test_a_damaged_stored_probe_is_a_warning_not_a_traceback(model_dir):
    (model_dir / "checkpoints" / "last.probe.json").write_text("{ half a file")
    at = run_page(PROBE)
    assert not at.exception and not at.metric
    assert any("last.probe.json is not a stored probe result" in w.value for w in at.warning)


def test_a_new_run_replaces_the_stored_result_and_survives_a_rerun(model_dir):
    store_probe(model_dir, fp.ProbeSettings("rooms", "windows"))
    at = run_page(PROBE)
    at.selectbox(key="probe_dataset").set_value("faces").run()
    at.selectbox(key="probe_task").set_value("glasses")
    at.number_input(key="probe_n_train").set_value(40)
    at.number_input(key="probe_n_test").set_value(20)
    at.selectbox(key="probe_c").set_value(1e-3).run()
    at.button[0].click().run()
    assert_clean(at)
    assert not at.success  # computed here, not the stored result
    assert [m.label for m in at.metric] == ["trained D", "random D", "raw pixels", "chance"]
    at.segmented_control(key="probe_shown").set_value("raw pixels").run()  # a cache hit replays the progress bar
    assert_clean(at)
    assert len(at.get("plotly_chart")) == 2


# ---------------------------------------------------------------------------- cosmetics


def test_the_app_config_hides_the_deploy_button():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["client"]["toolbarMode"] in ("viewer", "minimal")  # both hide Deploy; "viewer" keeps print and theme
    from streamlit import config as st_config

    assert "client.toolbarMode" in st_config._config_options_template


def test_the_walk_smoothness_label_is_short_and_its_help_says_what_it_is(model_dir):
    at = run_page(WALK)
    assert_clean(at)
    (smooth,) = [m for m in at.metric if m.label.startswith("Smoothness")]
    assert smooth.label == "Smoothness"
    assert "Largest / median change" in smooth.proto.help


def test_the_frame_change_chart_gives_its_axis_titles_room(model_dir):
    at = run_page(WALK)
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    (layout,) = [s["layout"] for s in specs if s["layout"].get("yaxis", {}).get("title", {}).get("text") == "pixel change"]
    assert layout["margin"]["l"] >= 50 and layout["margin"]["b"] >= 40
    assert layout["yaxis"]["automargin"] and layout["xaxis"]["automargin"]
    assert len(layout["xaxis"]["title"]["text"]) <= 20  # fits under a narrow chart
    (median,) = [a for a in layout["annotations"] if a["text"] == "median"]
    assert median["x"] == 1 and median["xanchor"] == "left" and layout["margin"]["r"] >= 50  # beside the line, in the margin


# ---------------------------------------------------------------------------- uploads


@pytest.fixture(scope="module")
def tiny_64px(tmp_path_factory) -> Path:
    return train_tiny_runs(tmp_path_factory, {"rooms_64": dict(image_size=64, dataset_size=32)})


def test_a_deeply_nested_annotations_upload_is_refused_with_a_message(tiny_64px, tmp_path, monkeypatch):
    show_only(tiny_64px, monkeypatch, tmp_path)
    monkeypatch.setenv("DCGAN_ANNOTATIONS_DIR", str(tmp_path / "annotations"))
    at = run_page(FORGET)
    at.file_uploader(key="forget_import").set_value(("deep.json", b"[" * 100_000, "application/json")).run()
    assert not at.exception
    assert any("deep.json" in e.value and "nested too deeply to be an annotations file" in e.value for e in at.error)
    assert not list((tmp_path / "annotations").glob("*.json"))
