"""The discriminator features page (paper Fig. 5) and the feature probe page (paper Table 1) under AppTest.

A tiny model (32 px, ndf 8, 2 training steps on 64 rooms) is trained once into a temporary
models folder. AppTest asserts on exceptions, captions, text and session state, not on pixels.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from app_support import assert_clean as assert_no_errors
from app_support import run_page, show_generator_only, show_only, tiny_models  # noqa: F401 (fixture)
from PIL import Image
from streamlit.testing.v1 import AppTest


ROOT = Path(__file__).resolve().parent.parent
HOME = str(ROOT / "explorer" / "Home.py")
FEATURES = str(ROOT / "pages" / "4_discriminator_features.py")
PROBE = str(ROOT / "pages" / "5_feature_probe.py")


@pytest.fixture
def models_dir(tiny_models, tmp_path, monkeypatch) -> Path:
    return show_only(tiny_models, monkeypatch, tmp_path)


run = run_page


def assert_clean(at: AppTest) -> None:
    """No exception, error or warning: these pages warn only when something is off."""
    assert_no_errors(at)
    assert not at.warning, [w.value for w in at.warning]


def captions(at: AppTest) -> str:
    return "\n".join([c.value for c in at.caption] + [c for img in at.image for c in img.captions])


# ---------------------------------------------------------------------------- discriminator features


def test_features_page_shows_top_images_of_trained_and_random_d(models_dir):
    at = run(FEATURES)
    assert_clean(at)
    assert at.title[0].value == "Discriminator features"
    text = captions(at)
    assert "Pool: 64 training images" in text and "256 samples of seed 0" in text  # the tiny run has 64 training images
    assert "trained D, layer 2, unit" in text and "random D, layer 2, unit" in text
    assert "top 6 of 320 pool images" in text
    assert len(at.get("plotly_chart")) == 2  # units ranked by selectivity, units firing for one image
    ranked = at.selectbox(key="dfeat_unit").options
    assert len(ranked) == 32 and "rank 1" in ranked[0]


def test_picking_a_unit_layer_and_k_changes_what_is_shown(models_dir):
    at = run(FEATURES)
    at.selectbox(key="dfeat_layer").set_value(0).run()
    assert_clean(at)
    unit = at.selectbox(key="dfeat_unit").options[3]
    at.selectbox(key="dfeat_unit").set_value(int(unit.split()[1]))
    at.slider(key="dfeat_k").set_value(3).run()
    assert_clean(at)
    text = captions(at)
    assert f"trained D, layer 0, {unit.split(' ·')[0]}" in text and "top 3 of 320" in text
    assert "(its rank-4 unit)" in "\n".join(s.value for s in at.subheader)


def test_units_can_be_ranked_by_overlap_with_an_object(models_dir):
    at = run(FEATURES)
    assert at.segmented_control(key="dfeat_rank_by").value == "selectivity"  # a rooms model: object rankings offered
    at.segmented_control(key="dfeat_rank_by").set_value("window").run()
    assert_clean(at)
    assert any(h.value == "Units ranked by overlap with window" for h in at.header)
    options = at.selectbox(key="dfeat_unit").options
    assert "IoU with window" in options[0] and "rank 1" in options[0]
    assert at.selectbox(key="dfeat_unit").value == int(options[0].split()[1])  # a new ranking opens on its top unit
    scores = [float(o.split("IoU with window ")[1].split(" ·")[0]) for o in options]
    assert scores == sorted(scores, reverse=True) and 0 <= scores[-1] <= scores[0] <= 1
    assert "Network Dissection" in captions(at) and "same rank by IoU with window" in captions(at)


def test_other_backward_rules_run(models_dir):
    at = run(FEATURES)
    at.selectbox(key="dfeat_rule").set_value("guided_leaky")
    at.segmented_control(key="dfeat_target").set_value("sum").run()
    assert_clean(at)
    assert "guided_leaky backprop" in captions(at)


def png_bytes(size=(80, 60)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (30, 120, 200)).save(buf, format="PNG")
    return buf.getvalue()


def test_an_uploaded_picture_shows_the_units_that_fire_most(models_dir):
    at = run(FEATURES)
    at.segmented_control(key="dfeat_source").set_value("Upload").run()
    assert any("Upload a picture" in i.value for i in at.info)
    at.file_uploader(key="dfeat_upload").set_value(("window.png", png_bytes(), "image/png")).run()
    assert_clean(at)
    text = captions(at)
    assert "upload window.png at 32 px" in text and "4 units that fire most for upload window.png" in text


def test_a_file_that_is_not_a_picture_gets_a_message(models_dir):
    at = run(FEATURES)
    at.segmented_control(key="dfeat_source").set_value("Upload").run()
    at.file_uploader(key="dfeat_upload").set_value(("notes.png", b"not a picture at all", "image/png")).run()
    assert not at.exception
    assert any("Could not read notes.png" in e.value and "not a picture" in e.value for e in at.error)


def test_a_pool_image_can_be_analysed(models_dir):
    at = run(FEATURES)
    at.selectbox(key="dfeat_pool_index").set_value(70).run()
    assert_clean(at)
    assert "sample #6 of seed 0 at 32 px" in captions(at)


def test_a_generator_only_model_gets_a_message_on_both_pages(models_dir, tmp_path, monkeypatch):
    show_generator_only(models_dir, "g_only", monkeypatch, tmp_path)
    for page in (FEATURES, PROBE):
        at = run(page)
        assert not at.exception
        assert any("holds only a generator" in e.value for e in at.error)


# ---------------------------------------------------------------------------- feature probe


def test_probe_waits_for_the_button_then_shows_the_table_and_a_confusion_matrix(models_dir):
    at = run(PROBE)
    assert_clean(at)
    assert at.title[0].value == "Feature probe"
    assert at.selectbox(key="probe_dataset").value == "rooms"  # the model's own data set
    assert any("Press **Run the probe**" in i.value for i in at.info)
    at.selectbox(key="probe_dataset").set_value("faces").run()
    at.selectbox(key="probe_task").set_value("glasses")
    at.number_input(key="probe_n_train").set_value(60)
    at.number_input(key="probe_n_test").set_value(30)
    at.selectbox(key="probe_c").set_value(1e-3).run()
    at.button[0].click().run()
    assert_clean(at)
    assert [m.label for m in at.metric] == ["trained D", "random D", "raw pixels", "chance"]
    table = "\n".join(m.value for m in at.markdown)
    assert "| trained D | 896 |" in table and "| raw pixels | 3,072 |" in table
    assert "faces glasses (2 classes)" in captions(at) and "60 training and 30 test images" in captions(at)
    assert len(at.get("plotly_chart")) == 2
    at.segmented_control(key="probe_shown").set_value("raw pixels").run()
    assert_clean(at)
    assert "raw pixels: rows are the true classes of the 30 test images" in captions(at)


def test_probe_on_a_local_data_set_asks_for_its_location(models_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("DCGAN_DATA_ROOTS", str(tmp_path))  # typed data paths must lie inside these folders
    at = run(PROBE)
    at.selectbox(key="probe_dataset").set_value("folder").run()
    assert_clean(at)
    assert any("Give the folder" in i.value for i in at.info)
    at.text_input(key="probe_root").set_value(str(tmp_path / "missing")).run()
    at.number_input(key="probe_n_train").set_value(20)
    at.number_input(key="probe_n_test").set_value(10).run()
    at.button[0].click().run()
    assert not at.exception
    assert any("Could not run the probe" in e.value and "does not exist" in e.value for e in at.error)


def test_both_pages_run_from_the_navigation(models_dir):
    for page, title in ((FEATURES, "Discriminator features"), (PROBE, "Feature probe")):
        at = run(HOME)
        at.switch_page(str(Path("..") / Path(page).relative_to(ROOT))).run()
        assert_clean(at)
        assert at.title[0].value == title
