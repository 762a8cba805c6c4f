"""Every page of the Streamlit app runs under AppTest without an exception, and its main widgets change what it shows.

Two tiny models (32 px, ngf 8, 2 training steps) are trained once into a temporary
models folder, which is also a folder of run directories for the training monitor.
AppTest asserts on exceptions, captions, text and session state, not on pixels.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from app_support import TIMEOUT, assert_clean, run_page, show_generator_only, show_only, train_tiny_runs
from streamlit.testing.v1 import AppTest


ROOT = Path(__file__).resolve().parent.parent
HOME = str(ROOT / "explorer" / "Home.py")
WALK = str(ROOT / "pages" / "1_latent_walk.py")
SAMPLES = str(ROOT / "pages" / "2_samples.py")
MONITOR = str(ROOT / "pages" / "3_training_monitor.py")
PAGE_FILES = [WALK, SAMPLES, MONITOR]
HOME_CONTENT = str(ROOT / "explorer" / "home_page.py")
TITLES = {HOME_CONTENT: "DCGAN explorer", WALK: "Walking in the latent space", SAMPLES: "Samples", MONITOR: "Training monitor"}


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory) -> Path:
    """models/rooms_a and models/rooms_b: run folders with a checkpoint, metrics.jsonl and sample grids."""
    return train_tiny_runs(tmp_path_factory, {"rooms_a": dict(seed=0, sample_every=1), "rooms_b": dict(seed=1, sample_every=1)})


@pytest.fixture
def models_dir(tiny_models, tmp_path, monkeypatch) -> Path:
    """The tiny models as the user's models folder; the repo's shipped models hidden."""
    return show_only(tiny_models, monkeypatch, tmp_path)


run = run_page


def image_captions(at: AppTest) -> list[str]:
    return [c for img in at.image for c in img.captions]


def captions(at: AppTest) -> str:
    return "\n".join([c.value for c in at.caption] + image_captions(at))


# ---------------------------------------------------------------------------- shell


def test_home_lists_every_page_with_its_figure_and_shows_live_samples(models_dir):
    at = run(HOME)
    assert_clean(at)
    text = "\n".join(m.value for m in at.markdown)
    assert "Fig. 4" in text and "Figs. 2-3" in text
    assert any("samples 0-15 of seed 0" in c and "rooms_a" in c for c in image_captions(at))


def test_home_seed_changes_the_samples(models_dir):
    at = run(HOME)
    before = at.image[0].value
    at.number_input(key="home_seed").set_value(5).run()
    assert_clean(at)
    assert any("of seed 5" in c for c in image_captions(at))
    assert at.image[0].value != before


def test_picking_another_model_changes_the_card_and_the_samples(models_dir):
    at = run(HOME)
    card = "\n".join(m.value for m in at.sidebar.markdown)
    assert "rooms_a" in card and "**Data set** rooms" in card and "**Trained** 2 steps" in card and "loss_d" in card
    at.sidebar.selectbox(key="model_widget").set_value("rooms_b").run()
    assert_clean(at)
    assert "rooms_b" in "\n".join(m.value for m in at.sidebar.markdown)
    assert any("model rooms_b" in c for c in image_captions(at))


@pytest.mark.parametrize("page", PAGE_FILES, ids=lambda p: Path(p).stem)
def test_every_page_runs_from_the_navigation(models_dir, page):
    at = run(HOME)
    at.switch_page(str(Path("..") / Path(page).relative_to(ROOT))).run()
    assert_clean(at)
    assert at.title[0].value == TITLES[page]
    assert at.image, "the page showed no image"


@pytest.mark.parametrize("page", [HOME_CONTENT, *PAGE_FILES], ids=lambda p: Path(p).stem)
def test_every_page_runs_on_its_own(models_dir, page):
    at = run(page)
    assert_clean(at)
    assert at.title[0].value == TITLES[page]
    assert at.sidebar.selectbox(key="model_widget").value == "rooms_a"


def test_without_models_every_page_says_how_to_get_one(tmp_path, monkeypatch):
    show_only(tmp_path / "empty", monkeypatch, tmp_path)
    for page in (HOME, WALK, SAMPLES):
        at = run(page)
        assert not at.exception
        assert any("dcgan train" in i.value and "DCGAN_MODELS_DIR" in i.value for i in at.sidebar.info)


def test_a_file_that_is_not_a_checkpoint_is_reported_and_skipped(models_dir, tmp_path, monkeypatch):
    broken = tmp_path / "models"
    broken.mkdir()
    (broken / "junk.safetensors").write_bytes(b"this is not a checkpoint")
    for name in ("rooms_a",):
        (broken / name).symlink_to(models_dir / name)
    monkeypatch.setenv("DCGAN_MODELS_DIR", str(broken))
    at = run(HOME)
    assert_clean(at)
    assert any("junk.safetensors" in w.value for w in at.sidebar.warning)
    assert at.image


def test_a_damaged_checkpoint_shows_a_message_not_a_traceback(models_dir, tmp_path, monkeypatch):
    folder = tmp_path / "models"
    folder.mkdir()
    good = (models_dir / "rooms_a" / "checkpoints" / "last.safetensors").read_bytes()
    (folder / "cut.safetensors").write_bytes(good[: len(good) // 2])  # header intact, tensors cut off
    monkeypatch.setenv("DCGAN_MODELS_DIR", str(folder))
    for page in (HOME, WALK, SAMPLES):
        at = run(page)
        assert not at.exception
        assert any("Could not load model **cut**" in e.value and "cut.safetensors" in e.value for e in at.error)


def test_a_page_that_needs_64_px_names_the_model_and_the_size(models_dir):
    def page_needing_64_px():
        from explorer.model_picker import require_model

        require_model(image_size=64, what="window removal")

    at = AppTest.from_function(page_needing_64_px, default_timeout=TIMEOUT)
    at.run()
    assert not at.exception
    assert any("trained at 32 px; window removal needs a 64-px model" in e.value for e in at.error)


# ---------------------------------------------------------------------------- latent walk


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label.startswith(label))


def test_walk_defaults_to_9_points_and_8_steps_and_reports_smoothness(models_dir):
    at = run(WALK)
    assert_clean(at)
    assert metric(at, "Frames") == "65" and metric(at, "Waypoints") == "9"
    assert float(metric(at, "Smoothness")) >= 1.0
    assert "9 waypoints (0 pinned" in captions(at) and "spherical interpolation" in captions(at)


def test_walk_steps_and_points_change_the_frames(models_dir):
    at = run(WALK)
    at.slider(key="walk_steps").set_value(4).run()
    assert metric(at, "Frames") == "33"
    at.slider(key="walk_points").set_value(3).run()
    assert_clean(at)
    assert metric(at, "Frames") == "9" and "4 steps between each pair" in captions(at)


def walk_grid_image(at: AppTest):
    return next(img for img in at.image if "interpolation" in img.captions[0] and "fps" not in img.captions[0])


def test_walk_linear_interpolation_changes_the_walk(models_dir):
    at = run(WALK)
    spherical = walk_grid_image(at).value
    at.segmented_control(key="walk_method").set_value("lerp").run()
    assert_clean(at)
    assert "linear interpolation" in walk_grid_image(at).captions[0]
    assert walk_grid_image(at).value != spherical


def test_walk_strip_layout_shows_one_scrolling_strip(models_dir):
    at = run(WALK)
    assert not at.html
    at.segmented_control(key="walk_layout").set_value("strip").run()
    assert_clean(at)
    assert len(at.html) == 1 and "data:image/png;base64" in at.html[0].value


def test_pinning_a_sample_makes_it_the_first_waypoint(models_dir):
    at = run(WALK)
    at.pills(key="walk_pins_0").set_value([3]).run()
    assert_clean(at)
    assert "9 waypoints (1 pinned from seed 0)" in captions(at)
    waypoints_help = next(m for m in at.metric if m.label == "Waypoints").help
    assert waypoints_help.startswith("P1: sample #3 of seed 0 (pinned)")


def test_frame_slider_shows_that_frame(models_dir):
    at = run(WALK)
    at.slider(key="walk_frame").set_value(12).run()
    assert_clean(at)
    assert any(c.startswith("frame 12: segment 2, t = 0.50") for c in image_captions(at))


def test_walk_offers_gif_and_png_downloads_and_the_path_plot(models_dir):
    at = run(WALK)
    labels = [b.label for b in at.get("download_button")]
    assert "Animation as GIF" in labels and "Frames as a PNG grid" in labels
    assert len(at.get("plotly_chart")) == 2  # path in z, frame changes


# ---------------------------------------------------------------------------- samples


def test_samples_seed_and_count_change_the_grid(models_dir):
    at = run(SAMPLES)
    assert_clean(at)
    assert any(c.startswith("samples 0-31 of seed 0") for c in image_captions(at))
    at.number_input(key="samples_seed").set_value(3)
    at.segmented_control(key="samples_count").set_value(16).run()
    assert_clean(at)
    assert any(c.startswith("samples 0-15 of seed 3") for c in image_captions(at))


def test_same_z_under_every_model_shows_the_other_model(models_dir):
    at = run(SAMPLES)
    assert at.multiselect(key="samples_compare").value == ["rooms_b"]
    assert any("model rooms_b" in c for c in image_captions(at))
    at.multiselect(key="samples_compare").set_value([]).run()
    assert not any("model rooms_b" in c for c in image_captions(at))


def test_nearest_training_images_of_a_chosen_sample(models_dir):
    at = run(SAMPLES)
    at.selectbox(key="samples_query").set_value(2)
    at.slider(key="samples_k").set_value(3).run()
    assert_clean(at)
    assert "sample #2 (seed 0)" in image_captions(at)
    assert sum(c.startswith("training #") for c in image_captions(at)) == 3
    summary = at.main.markdown[-1].value
    assert "Searched all 64 training images (rooms, data set seed 0)" in summary and "sample #2" in summary


def test_a_model_without_training_data_says_so(models_dir, tmp_path, monkeypatch):
    show_generator_only(models_dir, "imported", monkeypatch, tmp_path)
    at = run(SAMPLES)
    assert not at.exception
    assert any("No training data to compare with" in w.value for w in at.warning)


# ---------------------------------------------------------------------------- training monitor


def test_monitor_shows_losses_and_the_newest_sample_grid(models_dir):
    at = run(MONITOR)
    assert_clean(at)
    assert at.selectbox(key="monitor_run").value.parent == models_dir.resolve()  # $DCGAN_MODELS_DIR's runs come first
    assert len(at.get("plotly_chart")) == 2  # losses, D outputs
    assert any("fixed-z samples at step 2" in c for c in image_captions(at))


def test_monitor_step_slider_shows_an_earlier_grid(models_dir):
    at = run(MONITOR)
    at.select_slider(key="monitor_step").set_value(1).run()
    assert_clean(at)
    assert any("fixed-z samples at step 1 " in c for c in image_captions(at))


def test_monitor_reads_a_typed_run_folder_and_rejects_a_wrong_one(models_dir, tmp_path):
    at = run(MONITOR)
    at.text_input(key="monitor_path").input(str(models_dir / "rooms_b")).run()
    assert_clean(at)
    assert any(c.startswith("rooms_b: fixed-z samples") for c in image_captions(at))
    at.text_input(key="monitor_path").input(str(models_dir)).run()  # inside the allowed folders, but not a run
    assert not at.exception
    assert any("is not a run folder" in e.value for e in at.error)


def test_monitor_draws_filter_collapse_when_the_run_has_a_report(models_dir):
    from dcgan_core.analysis.collapse import CheckpointHealth, LayerHealth
    from dcgan_core.files import write_json_atomic

    rows = [CheckpointHealth(step, "x", [LayerHealth(0, 8, 0.0, share, None, [], [])]).as_dict()
            for step, share in ((1, 0.0), (2, 0.25))]
    write_json_atomic(models_dir / "rooms_b" / "collapse.json", {"checkpoints": rows})
    at = run(MONITOR)
    at.text_input(key="monitor_path").input(str(models_dir / "rooms_b")).run()
    assert_clean(at)
    assert len(at.get("plotly_chart")) == 3  # losses, D outputs, collapse
    assert any("draw the same for every z" in c.value for c in at.caption)
    at.text_input(key="monitor_path").input(str(models_dir / "rooms_a")).run()  # no report: the command to make one
    assert any("dcgan collapse" in c.value for c in at.caption)
