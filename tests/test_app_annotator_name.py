"""Two people annotate the same pool image on "Forgetting to draw windows", each under their own name (issue 24,
item 3): both records are kept, each sees and edits only their own, and the instrument's boxes are a suggestion."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from app_support import assert_clean, run_page, show_only, train_tiny_runs

from dcgan_core.analysis.annotations import AnnotationStore, make_annotation, pool_z
from dcgan_core.analysis.user_data import ModelIdentity
from dcgan_core.checkpoints import load_model

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


def records(folder: Path) -> list[dict]:
    (path,) = folder.glob("rooms_a-*-window.json")
    return json.loads(path.read_text())["images"]


def none_here_next(at):
    next(b for b in at.button if b.label.startswith("No window here, next")).click().run()


def test_two_annotators_keep_two_records_of_one_image(env):
    at = run_page(PAGE)
    at.text_input(key="annotator").input("alice").run()
    none_here_next(at)  # alice: image 0 has no window
    assert_clean(at)
    at.text_input(key="annotator").input("bob").run()
    at.number_input(key="forget_index").set_value(0).run()
    assert any("Not annotated yet" in m.value for m in at.markdown)  # alice's record is not bob's
    none_here_next(at)
    assert_clean(at)
    mine = sorted((r["index"], r.get("annotator"), r["no_object"]) for r in records(env))
    assert mine == [(0, "alice", True), (0, "bob", True)]


def test_a_name_that_cannot_be_one_is_refused_in_one_line_and_nothing_is_saved_under_it(env):
    at = run_page(PAGE)
    at.text_input(key="annotator").input("instrument").run()
    assert any("cannot be an annotator's name" in e.value for e in at.error)
    none_here_next(at)
    assert [r.get("annotator") for r in records(env)] == ["anonymous"]


def test_the_instruments_boxes_are_shown_until_the_person_saves_their_own(env, tiny_models):
    loaded = load_model(tiny_models / "rooms_a")
    identity = ModelIdentity.of("rooms_a", loaded.generator, loaded.checkpoint.step)
    z = pool_z(loaded.config, 0)
    AnnotationStore().put(identity, "window", [make_annotation(0, 0, z[0], [(4, 4, 20, 20)], source="instrument",
                                                               annotator="instrument")])
    at = run_page(PAGE)
    at.text_input(key="annotator").input("alice").run()
    assert_clean(at)
    assert any("made by the instrument" in m.value for m in at.markdown)


def test_boxes_of_earlier_weights_of_the_run_are_suggested_and_accepted_with_one_key(env, tiny_models):
    loaded = load_model(tiny_models / "rooms_a")
    identity = ModelIdentity.of("rooms_a", loaded.generator, loaded.checkpoint.step)
    earlier = ModelIdentity("rooms_a", "0" * 64, identity.nz, step=1, image_size=64)  # another checkpoint of the run
    z = pool_z(loaded.config, 0)
    AnnotationStore().put(earlier, "window", [make_annotation(0, 0, z[0], [(4, 4, 20, 20)], annotator="alice")])

    at = run_page(PAGE)
    assert_clean(at)
    assert any("Suggested from step 1" in m.value for m in at.markdown)
    accept = next(b for b in at.button if b.label == "Accept the suggestion")
    assert accept.proto.shortcut == "a"
    assert not list(env.glob(f"rooms_a-{identity.fingerprint[:16]}-window.json"))  # shown, not saved
    accept.click().run()
    assert_clean(at)
    (path,) = env.glob(f"rooms_a-{identity.fingerprint[:16]}-window.json")
    (record,) = json.loads(path.read_text())["images"]
    assert record["boxes"] == [[4, 4, 20, 20]] and record["index"] == 0 and record["annotator"] == "anonymous"
    assert at.number_input(key="forget_index").value == 1  # and on to the next image
