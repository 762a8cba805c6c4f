"""The annotation flow of "Forgetting to draw windows" under AppTest (tracker issue 24, item 1): the "no window here,
next" action, the keys each move carries, the pool grid's geometry and marks.

Keys pressed in a browser click these same buttons (Streamlit's button shortcuts); drawing and
keys together are tested in a real browser (tests/test_browser_annotate_keys.py). Models are tiny
(64 px, ngf 8, nz 16, 2 training steps); annotations go to a temporary folder.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from app_support import assert_clean, run_page, show_only, train_tiny_runs

from dcgan_core.analysis.annotations import AnnotationSet, AnnotationStore, make_annotation, pool_z
from dcgan_core.analysis.user_data import ModelIdentity
from dcgan_core.checkpoints import load_model
from explorer import forget

ROOT = Path(__file__).resolve().parent.parent
PAGE = str(ROOT / "pages" / "6_forget_to_draw.py")


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory) -> Path:
    return train_tiny_runs(tmp_path_factory, {"rooms_a": dict(image_size=64, dataset_size=32)})


@pytest.fixture
def env(tiny_models, tmp_path, monkeypatch) -> Path:
    show_only(tiny_models, monkeypatch, tmp_path)
    monkeypatch.setenv("DCGAN_ANNOTATIONS_DIR", str(tmp_path / "annotations"))
    return tmp_path / "annotations"


def identity_of(tiny_models: Path):
    loaded = load_model(tiny_models / "rooms_a")
    return loaded, ModelIdentity.of("rooms_a", loaded.generator, loaded.checkpoint.step)


def draw(tiny_models: Path, boxes_by_index: dict[int, list], no_object=()) -> None:
    loaded, identity = identity_of(tiny_models)
    z = pool_z(loaded.config, 0)
    notes = [make_annotation(0, i, z[i], boxes) for i, boxes in boxes_by_index.items()]
    notes += [make_annotation(0, i, z[i], (), no_object=True) for i in no_object]
    AnnotationStore().put(identity, "window", notes)


def saved(folder: Path) -> dict[int, dict]:
    (path,) = folder.glob("rooms_a-*-window.json")
    return {a["index"]: a for a in json.loads(path.read_text())["images"]}


def button(at, label: str):
    return next(b for b in at.button if b.label.startswith(label))


def shown_index(at) -> int:
    return at.number_input(key="forget_index").value


def test_none_here_next_marks_the_image_and_moves_to_the_next_one_not_annotated(env, tiny_models):
    draw(tiny_models, {1: [(1, 1, 9, 9)]})
    at = run_page(PAGE)
    button(at, "No window here, next").click().run()
    assert_clean(at)
    image = saved(env)[0]
    assert image["no_object"] and image["boxes"] == [] and image["source"] == "hand"
    assert shown_index(at) == 2  # image 1 was annotated already: skipped
    assert any("pool image #2 of seed 0" in c.value for c in at.caption)


def test_none_here_next_refuses_an_image_with_boxes_and_stays(env, tiny_models):
    draw(tiny_models, {0: [(10, 15, 40, 50)]})
    at = run_page(PAGE)
    button(at, "No window here, next").click().run()
    assert not at.exception
    assert shown_index(at) == 0
    assert any("Image #0 has boxes" in e.value for e in at.error)
    assert saved(env)[0]["boxes"] == [[10, 15, 40, 50]] and not saved(env)[0]["no_object"]


def test_none_here_next_on_the_last_image_not_annotated_says_the_pool_is_done(env, tiny_models):
    draw(tiny_models, {i: [(1, 1, 9, 9)] for i in range(1, 10)})
    at = run_page(PAGE, forget_pool_size=10)
    button(at, "No window here, next").click().run()
    assert_clean(at)
    assert saved(env)[0]["no_object"]
    assert any("Every image of the pool (10) is annotated" in i.value for i in at.info)


def test_every_move_has_a_key_and_the_page_names_them(env):
    at = run_page(PAGE)
    assert_clean(at)
    shortcuts = {b.label: b.proto.shortcut for b in at.button if b.proto.shortcut}
    assert shortcuts == {"Previous": "left", "Next": "right", "Next not annotated": "n", "No window here, next": "x"}
    legend = next(c.value for c in at.caption if c.value.startswith("Keys"))
    assert all(k in legend for k in ("**N**", "**X**", "**Z** undo", "**Delete**"))


def test_next_and_previous_move_one_image(env):
    at = run_page(PAGE)
    button(at, "Next").click().run()
    assert shown_index(at) == 1
    button(at, "Previous").click().run()
    assert_clean(at)
    assert shown_index(at) == 0


def test_the_exports_are_offered_before_anything_is_annotated(env):
    # step 1 reruns on its own, so the page outside it may not know yet that annotations were drawn: the exports
    # read the store when clicked instead of being disabled by the page's last full run
    at = run_page(PAGE)
    exports = [b for b in at.get("download_button") if "Export" in b.proto.label]
    assert len(exports) == 2 and not any(b.proto.disabled for b in exports)


# ---------------------------------------------------------------------------- the pool grid


def test_the_grid_geometry_places_image_i_at_row_i_div_15_and_column_i_mod_15():
    g = forget.pool_grid_geometry(150, 64)
    assert g == {"n": 150, "cols": 15, "tile": 64, "pad": 2, "width": 15 * 66 + 2, "height": 10 * 66 + 2}
    assert forget.pool_grid_geometry(16, 32)["height"] == 2 * 34 + 2  # a second, partial row


def test_the_grid_marks_are_the_pool_annotations_of_this_seed(tiny_models):
    loaded, identity = identity_of(tiny_models)
    z = pool_z(loaded.config, 0)
    notes = AnnotationSet(identity, "window", (
        make_annotation(0, 3, z[3], [(1, 2, 30, 40)]), make_annotation(0, 5, z[5], (), no_object=True),
        make_annotation(0, 200, z[200], [(1, 2, 30, 40)]), make_annotation(7, 4, z[4], [(1, 2, 30, 40)]),
    ))
    assert forget.grid_marks(notes, 0, 150) == [[3, "hand", [[1, 2, 30, 40]]], [5, "none", []]]
