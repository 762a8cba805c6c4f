"""How many annotated images are enough (issue 24, item 4): refits on growing subsets of an annotation set."""

import json

import pytest

from dcgan_core.analysis.annotation_curve import PAPER_BOXES, format_curve, removal_curve
from dcgan_core.analysis.annotations import AnnotationSet, pool_z
from dcgan_core.analysis.instruments import default_instrument_path, load_instrument
from dcgan_core.analysis.object_removal import ModelIdentity, auto_annotate
from dcgan_core.checkpoints import load_model
from dcgan_core.cli import main

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def rooms_pool():
    loaded = load_model("rooms")
    instrument = load_instrument(default_instrument_path("rooms"), kind="rooms")
    notes = auto_annotate(loaded.generator, instrument, pool_z(loaded.config, 0, range(24)), "window")
    identity = ModelIdentity.of("rooms", loaded.generator, loaded.checkpoint.step)
    return loaded, instrument, AnnotationSet(model=identity, object_name="window", images=tuple(notes))


def test_each_size_is_refitted_on_its_own_draws_and_the_whole_set_once(rooms_pool):
    loaded, instrument, annotations = rooms_pool
    usable = [a for a in annotations.images if a.annotated]
    curve = removal_curve(loaded.generator, instrument, annotations, sizes=(5, 10, 500, len(usable)), refits=2, n=40)
    assert [p.images for p in curve.points] == [5, 10, len(usable)]  # 500 is more than there are: left out
    assert [len(p.removed) for p in curve.points] == [2, 2, 1]
    assert curve.points[-1].boxes == [sum(len(a.boxes) for a in usable)] == [curve.pool_boxes]
    for p in curve.points:
        assert all(v is None or 0 <= v <= 1 for v in p.removed + p.random)
    again = removal_curve(loaded.generator, instrument, annotations, sizes=(5,), refits=2, n=40)
    assert again.points[0].removed == curve.points[0].removed  # seeded draws
    assert f"the paper fitted {PAPER_BOXES} boxes" in format_curve(curve)


def test_too_few_annotations_are_refused_in_one_line(rooms_pool):
    loaded, instrument, annotations = rooms_pool
    with pytest.raises(ValueError, match="at least 2"):
        removal_curve(loaded.generator, instrument, AnnotationSet(annotations.model, "window", annotations.images[:0]))
    with pytest.raises(ValueError, match="refits must be at least 1"):
        removal_curve(loaded.generator, instrument, annotations, refits=0)


def test_forget_curve_command_prints_the_table_and_saves_json(tmp_path, capsys):
    out = tmp_path / "curve.json"
    assert main(["forget", "curve", "--model", "rooms", "--n-annotate", "16", "--sizes", "4,16", "--refits", "2",
                 "--n", "30", "--save", str(out)]) == 0
    text = capsys.readouterr().out
    assert "images  boxes (mean)" in text and "random maps" in text
    report = json.loads(out.read_text())
    assert [p["images"] for p in report["points"]] == [4, 16] and "removed_mean" in report["points"][0]
