"""The "Forgetting to draw windows" pages on 32- and 128-px models (tracker issue 24, item 5) under AppTest: boxes in
the model's own pixels are shown and given back to the canvas at its scale, the instrument auto-annotates, and the fit
page maps the boxes onto the penultimate layer (S/2 px), drops the maps found and measures.

Models are tiny (ngf 8, nz 16, 2 training steps), one models folder per size; annotations go to a temporary folder.
As in tests/test_app_forget.py, boxes are written through the library, as a drawing on the canvas would be.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from app_support import assert_clean, run_page, show_only, train_tiny_runs

from dcgan_core.analysis.annotations import AnnotationStore, make_annotation, pool_z
from dcgan_core.analysis.user_data import ModelIdentity
from dcgan_core.checkpoints import load_model

ROOT = Path(__file__).resolve().parent.parent
PAGE = str(ROOT / "pages" / "6_forget_to_draw.py")  # annotate
FIT_PAGE = str(ROOT / "pages" / "9_forget_fit_and_drop.py")  # fit, drop, measure
SIZES = (32, 128)
CANVAS_SCALE = {32: 12, 128: 3}  # both shown on a 384-px canvas, crisp (whole-number scale)


@pytest.fixture(scope="module")
def models_by_size(tmp_path_factory) -> dict[int, Path]:
    return {size: train_tiny_runs(tmp_path_factory, {"rooms_a": dict(image_size=size, dataset_size=32)}) for size in SIZES}


@pytest.fixture(params=SIZES, ids=lambda s: f"{s}px")
def size(request, models_by_size, tmp_path, monkeypatch) -> int:
    """The one model in the sidebar is rooms_a at this size, shipped ones hidden; annotations in tmp_path/annotations."""
    show_only(models_by_size[request.param], monkeypatch, tmp_path)
    monkeypatch.setenv("DCGAN_ANNOTATIONS_DIR", str(tmp_path / "annotations"))
    return request.param


def model_a(models_by_size, size: int):
    loaded = load_model(models_by_size[size] / "rooms_a")
    return loaded, ModelIdentity.of("rooms_a", loaded.generator, loaded.checkpoint.step)


def draw(models_by_size, size: int, boxes_by_index: dict[int, list], no_object=()) -> ModelIdentity:
    """Save window annotations of rooms_a at `size` as the page does after a drawing (pool seed 0, boxes in its pixels)."""
    loaded, identity = model_a(models_by_size, size)
    z = pool_z(loaded.config, 0)
    notes = [make_annotation(0, i, z[i], boxes, image_size=size) for i, boxes in boxes_by_index.items()]
    notes += [make_annotation(0, i, z[i], (), no_object=True, image_size=size) for i in no_object]
    AnnotationStore().put(identity, "window", notes)
    return identity


def saved(tmp_path: Path) -> dict:
    (path,) = (tmp_path / "annotations").glob("rooms_a-*-window.json")
    return json.loads(path.read_text())


def metric(at, label: str) -> str:
    return next(m.value for m in at.metric if m.label.startswith(label))


def button(at, label: str):
    return next(b for b in at.button if b.label.startswith(label))


def text(at) -> str:
    return "\n".join([m.value for m in at.markdown] + [c.value for c in at.caption] + [i.value for i in at.info])


def a_box(size: int, i: int) -> tuple[float, float, float, float]:
    """A window-sized box of pool image i, in pixels of a `size` image (the same place at every size)."""
    u = size / 64
    return (u * 4 * (i % 8), u * 8, u * (4 * (i % 8) + 24), u * 40)


# ---------------------------------------------------------------------------- annotate


def test_boxes_in_the_models_own_pixels_are_shown_and_given_back_to_the_canvas(size, models_by_size, tmp_path):
    box = (size / 2, size / 4, size, size * 3 / 4)  # reaches the far edge: past 64 px on a 128-px model
    identity = draw(models_by_size, size, {0: [box]}, no_object=[1])
    at = run_page(PAGE)
    assert_clean(at)
    assert metric(at, "Images annotated") == "2 / 150" and metric(at, "Boxes drawn") == "1"
    assert f"boxes in {size}-px image pixels" in text(at)
    assert "({:.0f}, {:.0f}, {:.0f}, {:.0f})".format(*box) in text(at)
    drawing = at.session_state[f"forget_drawing_forget_canvas_{identity.fingerprint[:10]}_window_0_0_r0"]
    k = CANVAS_SCALE[size]
    assert [(o["left"], o["top"], o["width"], o["height"]) for o in drawing["objects"]] == [
        (box[0] * k, box[1] * k, (box[2] - box[0]) * k, (box[3] - box[1]) * k)]
    assert saved(tmp_path)["images"][0]["boxes"] == [list(box)] and saved(tmp_path)["model"]["image_size"] == size


def test_the_no_window_toggle_saves_through_the_page(size, tmp_path):
    at = run_page(PAGE)
    at.toggle[0].set_value(True).run()
    assert_clean(at)
    (image,) = saved(tmp_path)["images"]
    assert image["no_object"] and saved(tmp_path)["model"]["image_size"] == size


def test_auto_annotate_boxes_in_the_models_own_pixels(size, tmp_path):
    at = run_page(PAGE, forget_pool_size=20)
    button(at, "Auto-annotate with the instrument").click().run()
    assert_clean(at)
    assert any("room instrument annotated" in s.value for s in at.success)
    assert "resized to its 64 px" in text(at)
    images = saved(tmp_path)["images"]
    assert images and all(i["source"] == "instrument" for i in images)
    assert all(0 <= x0 < x1 <= size and 0 <= y0 < y1 <= size for i in images for x0, y0, x1, y1 in i["boxes"])


# ---------------------------------------------------------------------------- fit, drop, measure


@pytest.fixture
def annotated(size, models_by_size) -> int:
    draw(models_by_size, size, {i: [a_box(size, i)] for i in range(12)}, no_object=[12, 13])
    return size


def test_the_fit_maps_the_boxes_onto_the_penultimate_layer_and_drops_maps(annotated, models_by_size):
    size = annotated
    g = model_a(models_by_size, size)[0].generator
    layer, half = g.penultimate_layer, size // 2
    at = run_page(FIT_PAGE)
    assert f"at {half}x{half})" in text(at)  # the layer the boxes are mapped onto: S/2 px
    button(at, "Fit logistic regression").click().run()
    assert_clean(at)
    assert metric(at, "Images") == "14" and int(metric(at, "Positives").replace(",", "")) > 0
    assert metric(at, "Maps dropped").endswith(f"of {g.feature_channels[layer]}")
    at.segmented_control(key="forget_select").set_value("count").run()
    at.slider(key="forget_count").set_value(3).run()
    assert_clean(at)
    assert metric(at, "Maps dropped") == f"3 of {g.feature_channels[layer]}"
    assert any(f"3 fitted maps of layer {layer} dropped" in c for img in at.image for c in img.captions)


def test_measuring_works_at_other_sizes(annotated):
    at = run_page(FIT_PAGE)
    button(at, "Fit logistic regression").click().run()
    at.number_input(key="forget_measure_n").set_value(50).run()
    button(at, "Measure").click().run()
    assert_clean(at)
    assert list(at.dataframe[0].value["condition"])[:2] == ["no drop", "fitted maps dropped"]
