"""The "Forgetting to draw windows" page under AppTest: annotations saved and restored, imports checked,
auto-annotation marked, the fit, the drop and the measurement shown, and clear messages instead of tracebacks.

Models are tiny (64 px, ngf 8, nz 16, 2 training steps) in a temporary models folder, and
annotations go to a temporary folder ($DCGAN_ANNOTATIONS_DIR). Drawing with the mouse is
tested in a real browser (tests/test_browser_canvas.py); here boxes are written through
the library, as a drawing would be, and the page is checked to read them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from app_support import TIMEOUT, assert_clean, run_page, show_only, train_tiny_run, train_tiny_runs
from streamlit.testing.v1 import AppTest

from dcgan_core.analysis.coco import to_coco_json
from dcgan_core.analysis.concept_sets import ConceptSet, concept_set_path, save_concept_set
from dcgan_core.latent import sample_z
from dcgan_core.analysis.annotations import AnnotationSet, AnnotationStore, make_annotation, pool_z
from dcgan_core.analysis.user_data import ModelIdentity
from dcgan_core.checkpoints import load_model

ROOT = Path(__file__).resolve().parent.parent
PAGE = str(ROOT / "pages" / "6_forget_to_draw.py")  # annotate
FIT_PAGE = str(ROOT / "pages" / "9_forget_fit_and_drop.py")  # fit, drop, measure
HOME = str(ROOT / "explorer" / "Home.py")


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory) -> Path:
    return train_tiny_runs(tmp_path_factory, {name: dict(image_size=64, seed=seed, dataset_size=32)
                                              for name, seed in (("rooms_a", 0), ("rooms_b", 1))})


@pytest.fixture
def env(tiny_models, tmp_path, monkeypatch) -> Path:
    """The tiny models as the user's models, shipped ones hidden; annotations in tmp_path/annotations."""
    show_only(tiny_models, monkeypatch, tmp_path)
    monkeypatch.setenv("DCGAN_ANNOTATIONS_DIR", str(tmp_path / "annotations"))
    return tmp_path / "annotations"


def model_a(tiny_models: Path):
    loaded = load_model(tiny_models / "rooms_a")
    return loaded, ModelIdentity.of("rooms_a", loaded.generator, loaded.checkpoint.step)


def draw(tiny_models: Path, boxes_by_index: dict[int, list], object_name: str = "window", no_object=()) -> ModelIdentity:
    """Save annotations of model rooms_a as the page does after a drawing (pool seed 0)."""
    loaded, identity = model_a(tiny_models)
    z = pool_z(loaded.config, 0)
    notes = [make_annotation(0, i, z[i], boxes) for i, boxes in boxes_by_index.items()]
    notes += [make_annotation(0, i, z[i], (), no_object=True) for i in no_object]
    AnnotationStore().put(identity, object_name, notes)
    return identity


def run(**state) -> AppTest:
    return run_page(PAGE, **state)


def run_fit(**state) -> AppTest:
    return run_page(FIT_PAGE, **state)


def metric(at: AppTest, label: str) -> str:
    exact = [m.value for m in at.metric if m.label == label]
    return exact[0] if exact else next(m.value for m in at.metric if m.label.startswith(label))


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label.startswith(label))


def text(at: AppTest) -> str:
    return "\n".join([m.value for m in at.markdown] + [c.value for c in at.caption] + [i.value for i in at.info])


def saved(folder: Path, object_name: str = "window") -> dict:
    (path,) = folder.glob(f"rooms_a-*-{object_name}.json")
    return json.loads(path.read_text())


def fit_and_open(at: AppTest) -> AppTest:
    button(at, "Fit logistic regression").click().run()
    assert_clean(at)
    return at


# ---------------------------------------------------------------------------- the page and its model


def test_the_page_starts_on_an_empty_pool_of_150_with_the_paper_figures(env):
    at = run()
    assert_clean(at)
    assert at.title[0].value == "Forgetting to draw windows"
    assert metric(at, "Images annotated") == "0 / 150" and metric(at, "Boxes drawn") == "0"
    assert "Not annotated yet" in text(at) and str(env) in text(at)
    at = run_fit()  # fitting is the next page
    assert button(at, "Fit logistic regression").disabled


def test_the_page_runs_from_the_navigation(env):
    at = AppTest.from_file(HOME, default_timeout=TIMEOUT).run()
    at.switch_page("../pages/6_forget_to_draw.py").run()
    assert_clean(at)
    assert at.title[0].value == "Forgetting to draw windows"


def test_a_32_px_model_opens_the_page_with_boxes_in_its_own_pixels(tiny_models, tmp_path, monkeypatch):
    # any model size works (tracker issue 24, item 5); tests/test_app_forget_sizes.py annotates and fits at 32 and 128 px
    models = tmp_path / "models32"
    train_tiny_run(models / "small", image_size=32, dataset_size=32)
    show_only(models, monkeypatch, tmp_path)
    monkeypatch.setenv("DCGAN_ANNOTATIONS_DIR", str(tmp_path / "annotations"))
    at = run()
    assert_clean(at)
    assert "boxes in 32-px image pixels" in text(at)


# ---------------------------------------------------------------------------- annotations: saved, restored, counted


def test_saved_boxes_are_shown_and_given_back_to_the_canvas(env, tiny_models):
    draw(tiny_models, {0: [(10, 15, 40, 50)], 3: [(0, 0, 20, 20), (30, 30, 60, 60)]}, no_object=[5])
    at = run()  # a new session: a browser reload or a second tab
    assert_clean(at)
    assert metric(at, "Images annotated") == "3 / 150" and metric(at, "Boxes drawn") == "3"
    assert metric(at, "Marked: no window") == "1"
    assert "1 box saved" in text(at) and "(10, 15, 40, 50)" in text(at)
    identity = model_a(tiny_models)[1]
    objects = at.session_state[f"forget_drawing_forget_canvas_{identity.fingerprint[:10]}_window_0_0_r0"]["objects"]
    assert [(o["left"], o["top"], o["width"], o["height"]) for o in objects] == [(60, 90, 180, 210)]  # 6x on the canvas


def test_an_idle_tab_never_overwrites_boxes_drawn_in_another_tab(env, tiny_models):
    at = run()  # tab A shows image 0, no boxes
    draw(tiny_models, {0: [(10, 15, 40, 50)]})  # tab B draws on image 0
    at.run()  # tab A reruns (a button, a slider) without touching its canvas
    assert not at.exception
    assert saved(env)["images"][0]["boxes"] == [[10, 15, 40, 50]]
    assert any("changed in another tab" in w.value for w in at.warning)


def test_the_no_window_toggle_is_saved_and_read_back(env):
    at = run()
    (toggle,) = at.toggle
    assert toggle.label == "No window in this image" and not toggle.value
    toggle.set_value(True).run()
    assert_clean(at)
    assert metric(at, "Marked: no window") == "1" and "Marked: no window" in text(at)
    (image,) = saved(env)["images"]
    assert image["index"] == 0 and image["no_object"] and image["boxes"] == [] and image["source"] == "hand"
    assert run().toggle[0].value  # a new session sees it


def test_the_no_window_toggle_is_off_limits_while_boxes_exist(env, tiny_models):
    draw(tiny_models, {0: [(10, 15, 40, 50)]})
    assert run().toggle[0].disabled


def test_next_previous_and_next_not_annotated(env, tiny_models):
    draw(tiny_models, {0: [(1, 1, 9, 9)], 1: [(1, 1, 9, 9)]}, no_object=[2])
    at = run()
    button(at, "Next not annotated").click().run()
    assert at.number_input(key="forget_index").value == 3
    button(at, "Previous").click().run()
    assert at.number_input(key="forget_index").value == 2 and "Marked: no window" in text(at)
    button(at, "Next").click().run()
    assert_clean(at)
    assert at.number_input(key="forget_index").value == 3 and "pool image #3 of seed 0" in text(at)


def test_auto_annotate_is_marked_as_made_by_the_instrument_and_leaves_hand_work_alone(env, tiny_models):
    draw(tiny_models, {0: [(10, 15, 40, 50)]})
    at = run(forget_pool_size=20)
    button(at, "Auto-annotate with the instrument").click().run()
    assert_clean(at)
    assert any("room instrument annotated" in s.value and "marked as instrument-made" in s.value for s in at.success)
    images = saved(env)["images"]
    assert images[0]["source"] == "hand" and images[0]["boxes"] == [[10, 15, 40, 50]]
    assert all(i["source"] == "instrument" for i in images[1:]) and len(images) > 1
    assert metric(at, "Made by the instrument") == str(len(images) - 1)
    button(at, "Remove instrument-made annotations").click().run()
    assert [i["source"] for i in saved(env)["images"]] == ["hand"]


def test_an_export_imports_into_the_same_model(env, tiny_models, tmp_path):
    identity = draw(tiny_models, {4: [(5, 5, 25, 25)]})
    exported = AnnotationStore().load(identity, "window").to_json()
    for p in env.glob("*.json"):
        p.unlink()
    at = run()
    at.file_uploader(key="forget_import").set_value(("mine.json", exported.encode(), "application/json")).run()
    assert_clean(at)
    assert any("Imported 1 annotated images from mine.json" in s.value for s in at.success)
    assert saved(env)["images"][0]["boxes"] == [[5, 5, 25, 25]]


def test_an_import_for_another_model_is_refused_with_a_message(env, tiny_models):
    loaded = load_model(tiny_models / "rooms_b")
    other = ModelIdentity.of("rooms_b", loaded.generator, loaded.checkpoint.step)
    note = make_annotation(0, 0, pool_z(loaded.config, 0, [0])[0], [(1, 1, 20, 20)])
    text_b = AnnotationSet(model=other, object_name="window", images=(note,)).to_json()
    at = run()
    at.file_uploader(key="forget_import").set_value(("theirs.json", text_b.encode(), "application/json")).run()
    assert not at.exception
    assert any("Import of theirs.json refused" in e.value and "drawn on model rooms_b" in e.value for e in at.error)
    assert not list(env.glob("*.json"))


def test_an_import_with_malformed_boxes_is_refused_with_a_message(env, tiny_models):
    identity = draw(tiny_models, {4: [(5, 5, 25, 25)]})
    data = json.loads(AnnotationStore().load(identity, "window").to_json())
    data["images"][0]["boxes"] = [[50, 5, 20, 25]]
    at = run()
    at.file_uploader(key="forget_import").set_value(("bad.json", json.dumps(data).encode(), "application/json")).run()
    assert any("refused" in e.value and "box 0" in e.value for e in at.error)
    assert saved(env)["images"][0]["boxes"] == [[5, 5, 25, 25]]  # what was saved is untouched


def test_a_damaged_annotations_file_is_named_in_a_message(env, tiny_models):
    identity = draw(tiny_models, {4: [(5, 5, 25, 25)]})
    path = AnnotationStore().path(identity, "window")
    path.write_text(path.read_text()[:100])
    at = run()
    assert not at.exception
    assert any("Could not read the saved annotations" in e.value and path.name in e.value for e in at.error)


# ---------------------------------------------------------------------------- fit, drop, measure


@pytest.fixture
def annotated(env, tiny_models):
    boxes = {i: [(4 * (i % 8), 8, 4 * (i % 8) + 24, 40)] for i in range(12)}
    return draw(tiny_models, boxes, no_object=[12, 13])


def test_fitting_shows_the_weights_and_the_held_out_accuracy(annotated):
    at = fit_and_open(run_fit())
    assert metric(at, "Held-out accuracy").endswith("%") and metric(at, "Images") == "14"
    assert at.get("plotly_chart"), "no weights chart"
    assert "held out" in text(at).lower() or "Held-out accuracy" in text(at)


def test_dropping_shows_pairs_and_the_threshold_sets_the_maps(annotated):
    at = fit_and_open(run_fit())
    n_default = int(metric(at, "Maps dropped").split(" of ")[0])
    assert metric(at, "Maps dropped").endswith("of 8")
    assert any("fitted maps of layer 3 dropped" in c for img in at.image for c in img.captions)
    at.slider(key="forget_threshold").set_value(1.0).run()
    assert metric(at, "Maps dropped") == "0 of 8"
    at.segmented_control(key="forget_select").set_value("count").run()
    at.slider(key="forget_count").set_value(5).run()
    assert_clean(at)
    assert metric(at, "Maps dropped") == "5 of 8" and n_default <= 8


def test_measuring_reports_removal_for_fitted_and_random_maps(annotated):
    at = fit_and_open(run_fit())
    at.number_input(key="forget_measure_n").set_value(50).run()
    button(at, "Measure").click().run()
    assert_clean(at)
    rows = at.dataframe[0].value
    assert list(rows["condition"]) == ["no drop", "fitted maps dropped", "random maps dropped (control, mean of 5 draws)"]
    assert metric(at, "Windows removed, fitted maps") and metric(at, "Windows removed, random maps")
    assert metric(at, "Beds kept, fitted maps")


def test_changed_annotations_ask_for_a_new_fit(annotated, tiny_models):
    at = fit_and_open(run_fit())
    draw(tiny_models, {40: [(0, 0, 30, 30)]})
    at.run()
    assert "changed since this fit" in text(at)


def test_without_a_fit_the_drop_tab_says_what_to_do(env):
    at = run_fit()
    assert "Fit the logistic regression first" in text(at)
    assert "Draw at least one window box" in text(at)


# ---------------------------------------------------------------------------- the object is a field


def test_another_object_has_its_own_annotations(env, tiny_models):
    draw(tiny_models, {0: [(10, 15, 40, 50)]})
    draw(tiny_models, {1: [(0, 30, 50, 64)]}, object_name="bed")
    at = run(forget_object="bed")
    assert_clean(at)
    assert at.toggle[0].label == "No bed in this image"
    assert metric(at, "Images annotated") == "1 / 150" and "-bed.json" in text(at)


def test_an_object_the_instrument_does_not_know_can_be_annotated_but_not_measured(env):
    at = run(forget_object="curtain")  # typed into the object field
    assert_clean(at)
    assert button(at, "Auto-annotate").disabled and "does not know curtains" in text(at)


def test_your_saved_rooms_are_shown_with_and_without_the_maps(annotated, tiny_models, tmp_path, monkeypatch):
    monkeypatch.setenv("DCGAN_CONCEPTS_DIR", str(tmp_path / "concepts"))
    loaded, identity = model_a(tiny_models)
    codes = sample_z(3, loaded.config, seed=42)
    save_concept_set(concept_set_path("rooms_a", "my rooms"), ConceptSet("my rooms", codes, identity))
    at = fit_and_open(run_fit(forget_saved="my_rooms"))
    assert_clean(at)
    grid = next(img for img in at.image if any("fitted maps of layer 3 dropped" in c for c in img.captions))
    assert grid.captions[0].startswith("your saved codes 'my rooms': as generated (top)")


def test_a_coco_export_imports_into_a_fresh_annotations_folder_with_identical_boxes(env, tiny_models):
    identity = draw(tiny_models, {4: [(5, 5, 25, 25)], 9: [(30, 2, 60, 20), (1, 40, 9, 60)]}, no_object=[11])
    before = AnnotationStore().load(identity, "window")
    coco = to_coco_json(before, "rooms_a")  # what the page's "Export as COCO JSON" button gives
    for p in env.glob("*.json"):
        p.unlink()
    at = run()
    at.file_uploader(key="forget_import").set_value(("mine.coco.json", coco.encode(), "application/json")).run()
    assert_clean(at)
    assert any("Imported 3 annotated images from mine.coco.json" in s.value for s in at.success)
    assert AnnotationStore().load(identity, "window") == before


def test_the_how_many_are_enough_curve_refits_on_subsets_of_the_boxes(annotated):
    at = fit_and_open(run_fit())
    charts_before = len(at.get("plotly_chart"))
    button(at, "Draw the curve").click().run()
    assert_clean(at)
    assert len(at.get("plotly_chart")) == charts_before + 1
    assert "dcgan forget curve" in text(at)
