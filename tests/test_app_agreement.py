"""The "Do annotators agree?" page under AppTest (issue 24, item 3): the figures it shows match known boxes, the room
instrument can be the second annotator, and the fit page fits on one annotator's boxes.

Models are tiny (64 px, ngf 8, nz 16, 2 training steps); annotations go to a temporary folder
($DCGAN_ANNOTATIONS_DIR), written through the library as the annotation page would save them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from app_support import TIMEOUT, assert_clean, run_page, show_only, train_tiny_runs
from streamlit.testing.v1 import AppTest

from dcgan_core.analysis.annotations import AnnotationStore, make_annotation, pool_z
from dcgan_core.analysis.user_data import ModelIdentity
from dcgan_core.checkpoints import load_model

ROOT = Path(__file__).resolve().parent.parent
PAGE = str(ROOT / "pages" / "14_annotation_agreement.py")
FIT_PAGE = str(ROOT / "pages" / "9_forget_fit_and_drop.py")
HOME = str(ROOT / "explorer" / "Home.py")
BOX = (10.0, 10.0, 30.0, 30.0)


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory) -> Path:
    return train_tiny_runs(tmp_path_factory, {"rooms_a": dict(image_size=64, dataset_size=32)})


@pytest.fixture
def env(tiny_models, tmp_path, monkeypatch) -> Path:
    show_only(tiny_models, monkeypatch, tmp_path)
    monkeypatch.setenv("DCGAN_ANNOTATIONS_DIR", str(tmp_path / "annotations"))
    return tiny_models


def annotate(models: Path, by: dict[str, dict[int, list]]) -> None:
    """Save {annotator: {pool index: boxes}} for rooms_a's windows (no boxes: "no window here")."""
    loaded = load_model(models / "rooms_a")
    identity = ModelIdentity.of("rooms_a", loaded.generator, loaded.checkpoint.step)
    z = pool_z(loaded.config, 0)
    AnnotationStore().put(identity, "window", [make_annotation(0, i, z[i], boxes, no_object=not boxes, annotator=name)
                                               for name, images in by.items() for i, boxes in images.items()])


# alice: a window on 0 and 2, none on 1; bob: the window of 0 moved 1 px (IoU 19/21), none on 1 and 2. Agree on 2 of 3.
KNOWN = {"alice": {0: [BOX], 1: [], 2: [BOX]}, "bob": {0: [(11.0, 10.0, 31.0, 30.0)], 1: [], 2: []}}


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_without_two_annotators_the_page_says_what_to_do(env):
    at = run_page(PAGE)
    assert_clean(at)
    assert at.title[0].value == "Do annotators agree?"
    assert "Agreement needs two annotators" in at.info[0].value


def test_the_figures_shown_match_known_boxes(env):
    annotate(env, KNOWN)
    at = run_page(PAGE)
    assert_clean(at)
    assert at.selectbox(key="agree_a").value == "alice" and at.selectbox(key="agree_b").value == "bob"
    assert metric(at, "Images compared") == "3"
    assert metric(at, "Image-level agreement") == "67%"
    assert metric(at, "Cohen's kappa") == "0.40"  # (2/3 - 4/9) / (5/9)
    assert metric(at, "Box F1") == "0.67"  # 1 matched of 2 + 1 boxes
    assert metric(at, "Mean IoU, matched boxes") == "0.90"  # 19/21
    rows = at.dataframe[0].value
    assert list(rows["agree"]) == ["yes", "yes", "no"] and list(rows["alice boxes"]) == [1, 0, 1]
    assert any("alice's boxes in red, bob's in blue" in c for img in at.image for c in img.captions)
    pairs = at.dataframe[1].value
    assert list(pairs["b"]) == ["bob", "the room instrument (run now)", "the room instrument (run now)"]


def test_swapping_the_annotators_keeps_f1_and_kappa(env):
    annotate(env, KNOWN)
    at = run_page(PAGE)
    at.selectbox(key="agree_a").set_value("bob").run()
    assert_clean(at)
    assert at.selectbox(key="agree_b").value == "alice"  # B follows: bob is A now
    assert metric(at, "Cohen's kappa") == "0.40" and metric(at, "Box F1") == "0.67"


def test_the_room_instrument_can_be_the_second_annotator(env):
    annotate(env, KNOWN)
    at = run_page(PAGE)
    at.selectbox(key="agree_b").set_value("").run()  # "": the instrument
    assert_clean(at)
    assert at.selectbox(key="agree_b").value == ""
    compared = int(metric(at, "Images compared")) if at.metric else 0  # none in common: an info says so
    assert compared <= 3  # images the instrument saw but could not box are left out
    assert "the room instrument (run now)" in "\n".join([i.value for i in at.info] + [c.value for c in at.caption])


def test_the_page_runs_from_the_navigation(env):
    annotate(env, KNOWN)
    at = AppTest.from_file(HOME, default_timeout=TIMEOUT).run()
    at.switch_page("../pages/14_annotation_agreement.py").run()
    assert_clean(at)
    assert at.title[0].value == "Do annotators agree?"


def test_the_fit_page_fits_on_one_annotators_boxes(env):
    annotate(env, {"alice": {i: [(8.0 * (i % 4), 8.0, 8.0 * (i % 4) + 20, 40.0)] for i in range(6)}, "bob": {6: [BOX], 7: []}})
    at = run_page(FIT_PAGE)
    fit_on = next(s for s in at.selectbox if s.label == "Fit on")
    assert fit_on.options == ["all annotators", "alice", "bob"]
    fit_on.set_value("bob").run()
    next(b for b in at.button if b.label.startswith("Fit logistic regression")).click().run()
    assert_clean(at)
    assert metric(at, "Images") == "2"  # bob's two images only
    next(s for s in at.selectbox if s.label == "Fit on").set_value("").run()  # all
    next(b for b in at.button if b.label.startswith("Fit logistic regression")).click().run()
    assert_clean(at)
    assert metric(at, "Images") == "8"


def annotator_field_script():
    import streamlit as st

    from explorer.annotator_name import annotator_name

    st.write(f"saving as {annotator_name()}")


def test_the_annotator_field_gives_the_name_boxes_are_saved_under():
    at = AppTest.from_function(annotator_field_script, default_timeout=TIMEOUT).run()
    assert_clean(at)
    assert at.markdown[0].value == "saving as anonymous"  # the name files from before annotators are read with
    at.text_input(key="annotator").input("  alice ").run()
    assert at.markdown[0].value == "saving as alice" and at.session_state["annotator"] == "  alice "
    at.text_input(key="annotator").input("instrument").run()  # the room instrument's name
    assert at.markdown[0].value == "saving as anonymous" and "cannot be an annotator's name" in at.error[0].value
