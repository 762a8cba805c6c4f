"""Several annotators (issue 24, items 3 and 6): agreement figures on known boxes, two people's records of one image
stored side by side, files from before annotators still loading, COCO keeping who drew each box, fits on one
annotator's boxes, and `dcgan forget agree`.

Boxes are built so the answers are known: a 20-px box shifted 5 px overlaps its original at IoU 15/25 = 0.6, shifted
11 px at 9/31 = 0.29.
"""

from __future__ import annotations

import json

import pytest
import torch

from dcgan_core.analysis.agreement import (
    annotator_agreement, box_iou, compare, format_agreement, instrument_agreement, match_boxes,
)
from dcgan_core.analysis.annotations import (
    DEFAULT_ANNOTATOR, INSTRUMENT, Annotation, AnnotationError, AnnotationSet, AnnotationStore, make_annotation, pool_z,
)
from dcgan_core.analysis.coco import from_coco, to_coco
from dcgan_core.analysis.object_removal import collect_training_data
from dcgan_core.analysis.user_data import ModelIdentity
from dcgan_core.checkpoints import Checkpoint, save_checkpoint
from dcgan_core.cli import main
from dcgan_core.models import Generator, ModelConfig

CONFIG = ModelConfig(image_size=64, nz=16, ngf=8, ndf=8)
MODEL = ModelIdentity(name="rooms", fingerprint="a" * 64, nz=16, step=7000, image_size=64)
Z = pool_z(CONFIG, 0, range(8))
BOX = (10.0, 10.0, 30.0, 30.0)


def shifted(box, dx: float):
    return (box[0] + dx, box[1], box[2] + dx, box[3])


def rec(index: int, boxes=(), annotator: str = "alice", no_object: bool | None = None) -> Annotation:
    """Pool image `index` of seed 0 as `annotator` marked it (no boxes: "no object here")."""
    return make_annotation(0, index, Z[index], boxes, no_object=not boxes if no_object is None else no_object,
                           annotator=annotator)


def people(alice: dict, bob: dict) -> AnnotationSet:
    """{index: boxes} per person as one annotation set."""
    notes = [rec(i, b, "alice") for i, b in alice.items()] + [rec(i, b, "bob") for i, b in bob.items()]
    return AnnotationSet(MODEL, "window", tuple(notes))


# ---------------------------------------------------------------------------- agreement on known boxes


def test_box_iou_of_known_boxes():
    assert box_iou(BOX, BOX) == 1.0
    assert box_iou(BOX, shifted(BOX, 5)) == pytest.approx(0.6)
    assert box_iou(BOX, shifted(BOX, 11)) == pytest.approx(9 / 31)
    assert box_iou(BOX, shifted(BOX, 40)) == 0.0


def test_identical_annotations_agree_completely():
    same = {0: [BOX], 1: [], 2: [BOX, (40, 40, 60, 60)]}
    g = annotator_agreement(people(same, same), "alice", "bob")
    assert g.n_images == 3 and g.percent_agreement == 1.0 and g.kappa == 1.0
    assert g.f1 == g.precision == g.recall == 1.0 and g.mean_iou == 1.0 and g.n_matched == 3
    assert [i.f1 for i in g.images] == [1.0, None, 1.0]  # no box on either side: F1 undefined for that image


def test_disjoint_boxes_share_the_image_but_no_box():
    g = annotator_agreement(people({0: [BOX]}, {0: [shifted(BOX, 40)]}), "alice", "bob")
    assert g.percent_agreement == 1.0 and g.table["both"] == 1  # both say a window is there...
    assert g.f1 == 0.0 and g.n_matched == 0 and g.mean_iou is None  # ...but not the same one
    assert g.kappa is None  # both said "has it" of every image: chance agreement is complete, kappa undefined


@pytest.mark.parametrize("dx, iou, matched", [(5, 0.6, True), (11, 9 / 31, False)])
def test_a_shifted_box_matches_at_iou_06_but_not_at_03(dx, iou, matched):
    g = annotator_agreement(people({0: [BOX]}, {0: [shifted(BOX, dx)]}), "alice", "bob")
    assert g.n_matched == int(matched) and g.f1 == float(matched)
    assert g.mean_iou == (pytest.approx(iou) if matched else None)
    assert annotator_agreement(people({0: [BOX]}, {0: [shifted(BOX, dx)]}), "alice", "bob", iou_threshold=0.25).n_matched == 1


def test_image_level_disagreement_is_counted_and_kappa_follows():
    # alice: window on 0 and 2, none on 1; bob: window on 0 only. Agree on 2 of 3.
    g = annotator_agreement(people({0: [BOX], 1: [], 2: [BOX]}, {0: [shifted(BOX, 1)], 1: [], 2: []}), "alice", "bob")
    assert g.table == {"both": 1, "neither": 1, "only_a": 1, "only_b": 0}
    assert g.n_agree == 2 and g.percent_agreement == pytest.approx(2 / 3)
    # p_o = 2/3; p_e = (2/3)(1/3) + (1/3)(2/3) = 4/9; kappa = (2/3 - 4/9) / (5/9) = 0.4
    assert g.kappa == pytest.approx(0.4)
    assert [i.agree for i in g.images] == [True, True, False]
    assert g.recall == 0.5 and g.precision == 1.0 and g.f1 == pytest.approx(2 / 3)


def test_only_images_both_annotated_are_compared():
    g = annotator_agreement(people({0: [BOX], 1: [BOX], 5: []}, {0: [BOX], 7: []}), "alice", "bob")
    assert [i.index for i in g.images] == [0] and (g.only_a, g.only_b) == (2, 1)


def test_the_matching_finds_the_most_pairs_not_the_best_pair_first():
    a1, a2 = (0, 0, 10, 10), (4, 0, 14, 10)
    b1, b2 = (1, 0, 11, 10), (0, 0, 8, 10)  # a1-b1 is the best pair (0.82), but taking it leaves a2 alone
    assert [(i, j) for i, j, _ in match_boxes([a1, a2], [b1, b2])] == [(0, 1), (1, 0)]


def test_the_report_names_both_annotators_and_the_figures():
    g = annotator_agreement(people({0: [BOX], 1: [], 2: [BOX]}, {0: [shifted(BOX, 1)], 1: [], 2: []}), "alice", "bob")
    text = format_agreement([g], per_image=True)
    assert "bob against alice (window): 3 images annotated by both" in text
    assert "agree on 2 of 3 (66.7%), Cohen's kappa 0.400" in text and "F1 0.667" in text
    assert text.splitlines()[-1].endswith("NO")
    assert json.loads(json.dumps(g.to_dict()))["kappa"] == pytest.approx(0.4)


def test_unknown_annotators_and_thresholds_are_refused_naming_who_is_there():
    with pytest.raises(AnnotationError, match=r"by 'carol' \(annotators: alice, bob\)"):
        annotator_agreement(people({0: [BOX]}, {0: [BOX]}), "alice", "carol")
    with pytest.raises(ValueError, match="IoU threshold"):
        compare([rec(0, [BOX])], [rec(0, [BOX], "bob")], iou_threshold=0)


def test_against_the_instrument_its_boxes_are_made_now_from_the_saved_z(monkeypatch):
    seen = {}

    def fake_auto_annotate(generator, instrument, z, object_name, seed=0, indices=None):
        seen["z"], seen["indices"] = z, list(indices)
        return [make_annotation(seed, i, z[k], [BOX], source="instrument") for k, i in enumerate(indices)]

    monkeypatch.setattr("dcgan_core.analysis.object_removal.auto_annotate", fake_auto_annotate)
    notes = people({0: [BOX], 3: []}, {0: [BOX]})
    g = instrument_agreement(None, "the instrument", notes, "alice")  # auto_annotate, patched, boxes BOX everywhere
    assert (g.a, g.b) == ("alice", INSTRUMENT) and seen["indices"] == [0, 3]
    assert torch.equal(seen["z"], torch.stack([Z[0], Z[3]]))
    assert g.table == {"both": 1, "neither": 0, "only_a": 0, "only_b": 1} and g.f1 == pytest.approx(2 / 3)


# ---------------------------------------------------------------------------- records of several annotators


def test_two_annotators_of_one_image_are_stored_and_read_back_apart(tmp_path):
    store = AnnotationStore(tmp_path)
    store.put(MODEL, "window", [rec(4, [BOX], "alice")])
    store.put(MODEL, "window", [rec(4, [shifted(BOX, 5)], "bob")])  # another tab, another person
    again = AnnotationStore(tmp_path).load(MODEL, "window")
    assert again.annotators == ("alice", "bob") and again.n_images == 1 and again.n_records == 2
    assert again.get(0, 4, "alice").boxes == (BOX,) and again.get(0, 4, "bob").boxes == (shifted(BOX, 5),)
    assert [a.annotator for a in again.records(0, 4)] == ["alice", "bob"]
    data = json.loads(store.path(MODEL, "window").read_text())
    assert [(i["index"], i["annotator"]) for i in data["images"]] == [(4, "alice"), (4, "bob")]
    # bob clears his boxes: only his record goes
    assert store.put(MODEL, "window", [rec(4, [], "bob", no_object=False)]).annotators == ("alice",)


def test_without_a_name_boxes_are_anonymous_and_the_instrument_is_instrument():
    assert make_annotation(0, 1, Z[1], [BOX]).annotator == DEFAULT_ANNOTATOR == "anonymous"
    assert make_annotation(0, 1, Z[1], [BOX], source="instrument").annotator == INSTRUMENT
    with pytest.raises(AnnotationError, match="the room instrument"):
        make_annotation(0, 1, Z[1], [BOX], annotator="instrument")  # a person may not take its name
    with pytest.raises(AnnotationError, match="bad annotator name"):
        make_annotation(0, 1, Z[1], [BOX], annotator=" alice")


def test_a_persons_record_replaces_the_instruments_record_of_that_image():
    notes = AnnotationSet(MODEL, "window", (make_annotation(0, 2, Z[2], [BOX], source="instrument"),
                                            make_annotation(0, 3, Z[3], [BOX], source="instrument")))
    after = notes.merged([rec(2, [shifted(BOX, 5)], "alice")])
    assert [(a.index, a.annotator) for a in after.images] == [(2, "alice"), (3, INSTRUMENT)]
    assert after.get(0, 2).boxes == (shifted(BOX, 5),)


OLD_FILE = {  # written before annotators existed (the format of annotations.py's docstring then): no "annotator"
    "format": "dcgan-explorer-annotations/1", "object": "window",
    "model": {"name": "rooms", "fingerprint": "a" * 64, "step": 7000, "image_size": 64, "nz": 16},
    "images": [{"seed": 0, "index": 12, "z": [0.5] * 16, "boxes": [[4, 6, 20, 30]], "no_object": False, "source": "hand"},
               {"seed": 0, "index": 13, "z": [0.25] * 16, "boxes": [], "no_object": True, "source": "hand"},
               {"seed": 0, "index": 14, "z": [0.0] * 16, "boxes": [[0, 0, 8, 8]], "no_object": False, "source": "instrument"}],
}


def test_a_file_from_before_annotators_loads_unchanged(tmp_path):
    notes = AnnotationSet.from_json(json.dumps(OLD_FILE), expect_model=MODEL, expect_object="window")
    assert [(a.index, a.boxes, a.no_object, a.source, a.annotator) for a in notes.images] == [
        (12, ((4.0, 6.0, 20.0, 30.0),), False, "hand", "anonymous"),
        (13, (), True, "hand", "anonymous"),
        (14, ((0.0, 0.0, 8.0, 8.0),), False, "instrument", "instrument"),
    ]
    assert notes.get(0, 12).boxes == ((4.0, 6.0, 20.0, 30.0),) and notes.n_images == 3 and notes.n_instrument == 1
    assert notes.for_fit() == notes  # one annotator per image: a fit on "all" sees the file as it was
    store = AnnotationStore(tmp_path)  # and in the store the app reads
    store.path(MODEL, "window").write_text(json.dumps(OLD_FILE))
    assert store.load(MODEL, "window") == notes


def test_a_file_naming_the_instrument_as_a_person_is_refused():
    bad = json.loads(json.dumps(OLD_FILE))
    bad["images"][0]["annotator"] = "instrument"
    with pytest.raises(AnnotationError, match=r"image 0 \(seed 0 #12\).*room instrument"):
        AnnotationSet.from_json(json.dumps(bad))


def test_coco_export_and_import_keep_who_drew_each_box():
    notes = people({0: [BOX, (40, 40, 60, 60)], 1: []}, {0: [shifted(BOX, 5)], 1: [BOX]})
    notes = notes.merged([make_annotation(0, 6, Z[6], [BOX], source="instrument")])
    coco = json.loads(json.dumps(to_coco(notes)))
    assert len(coco["images"]) == 3  # one COCO image per pool image, whoever annotated it
    assert [b["attributes"]["annotator"] for b in coco["annotations"]] == ["alice", "alice", "bob", "bob", "instrument"]
    assert coco["images"][1]["extra"]["annotators"] == [
        {"annotator": "alice", "source": "hand", "no_object": True}, {"annotator": "bob", "source": "hand", "no_object": False}]
    back = from_coco(coco, MODEL, "window", CONFIG)
    assert back == notes and back.get(0, 1, "alice").no_object


def test_a_coco_box_without_an_annotator_belongs_to_its_image_or_to_anonymous():
    coco = to_coco(people({0: [BOX]}, {}))
    del coco["annotations"][0]["attributes"]
    assert from_coco(coco, MODEL, "window", CONFIG).get(0, 0).annotator == "alice"  # extra.annotator
    del coco["images"][0]["extra"]["annotator"], coco["images"][0]["extra"]["annotators"]
    assert from_coco(coco, MODEL, "window", CONFIG).get(0, 0).annotator == "anonymous"


# ---------------------------------------------------------------------------- fitting on one annotator, or all


def test_a_fit_on_one_annotator_uses_only_their_boxes():
    torch.manual_seed(0)
    g = Generator(CONFIG).eval()
    notes = people({0: [BOX], 1: []}, {0: [(40, 40, 60, 60)], 1: [(0, 0, 12, 12)], 2: [BOX]})
    alice = notes.for_fit("alice")
    assert [(a.index, a.boxes) for a in alice.images] == [(0, (BOX,)), (1, ())]
    data = collect_training_data(g, alice)
    assert data.n_positive == collect_training_data(g, [rec(0, [BOX]), rec(1, [])]).n_positive
    merged = notes.for_fit()  # all: one record per image, the union of the boxes
    assert [(a.index, a.boxes, a.annotator) for a in merged.images] == [
        (0, (BOX, (40, 40, 60, 60)), "alice+bob"), (1, ((0, 0, 12, 12),), "alice+bob"), (2, (BOX,), "bob")]
    assert collect_training_data(g, merged).n_positive > data.n_positive
    with pytest.raises(AnnotationError, match="no window annotations by 'carol'"):
        notes.for_fit("carol")


# ---------------------------------------------------------------------------- command line


@pytest.fixture
def tiny_checkpoint(tmp_path):
    torch.manual_seed(0)
    g = Generator(CONFIG).eval()
    path = tmp_path / "tiny.safetensors"
    save_checkpoint(path, Checkpoint(g.config, g.state_dict(), step=2))
    return path, ModelIdentity.of("tiny", g, 2)


def write_notes(tmp_path, identity, alice: dict, bob: dict):
    z = pool_z(CONFIG, 0, range(8))
    notes = [make_annotation(0, i, z[i], b, no_object=not b, annotator="alice") for i, b in alice.items()]
    notes += [make_annotation(0, i, z[i], b, no_object=not b, annotator="bob") for i, b in bob.items()]
    file = tmp_path / "notes.json"
    file.write_text(AnnotationSet(identity, "window", tuple(notes)).to_json())
    return file


def test_forget_agree_prints_the_agreement_of_two_annotators(tmp_path, tiny_checkpoint, capsys):
    ckpt, identity = tiny_checkpoint
    file = write_notes(tmp_path, identity, {0: [BOX], 1: [], 2: [BOX]}, {0: [shifted(BOX, 1)], 1: [], 2: []})
    assert main(["forget", "agree", "--model", str(ckpt), "--annotations", str(file)]) == 0
    out = capsys.readouterr().out
    assert "annotators: alice, bob" in out and "bob against alice (window): 3 images annotated by both" in out
    assert "agree on 2 of 3 (66.7%), Cohen's kappa 0.400" in out and "1 matched of 2 (alice) and 1 (bob); F1 0.667" in out
    assert main(["forget", "agree", "--model", str(ckpt), "--annotations", str(file), "--a", "bob", "--b", "alice",
                 "--json"]) == 0
    (pair,) = json.loads(capsys.readouterr().out)
    assert (pair["a"], pair["b"], pair["images_compared"]) == ("bob", "alice", 3) and pair["kappa"] == pytest.approx(0.4)
    coco = tmp_path / "notes.coco.json"  # the same boxes exported to COCO read the same
    coco.write_text(json.dumps(to_coco(AnnotationSet.from_json(file.read_text()))))
    assert main(["forget", "agree", "--model", str(ckpt), "--annotations", str(coco)]) == 0
    assert "agree on 2 of 3 (66.7%), Cohen's kappa 0.400" in capsys.readouterr().out


def test_forget_agree_against_the_room_instrument(tmp_path, tiny_checkpoint, capsys):
    ckpt, identity = tiny_checkpoint
    file = write_notes(tmp_path, identity, {0: [BOX], 1: []}, {})
    assert main(["forget", "agree", "--model", str(ckpt), "--annotations", str(file), "--instrument", "--json"]) == 0
    (pair,) = json.loads(capsys.readouterr().out)
    assert (pair["a"], pair["b"]) == ("alice", "instrument") and pair["images_compared"] + pair["only_a"] == 2


def test_forget_agree_with_one_annotator_says_what_to_do(tmp_path, tiny_checkpoint, capsys):
    ckpt, identity = tiny_checkpoint
    file = write_notes(tmp_path, identity, {0: [BOX]}, {})
    assert main(["forget", "agree", "--model", str(ckpt), "--annotations", str(file)]) == 2
    assert "agreement needs two annotators (or pass --instrument" in capsys.readouterr().err


def test_forget_measure_fits_on_one_annotators_boxes(tmp_path, tiny_checkpoint, capsys):
    ckpt, identity = tiny_checkpoint
    boxes = {i: [(8 * (i % 4), 8, 8 * (i % 4) + 20, 40)] for i in range(6)}
    file = write_notes(tmp_path, identity, boxes, {6: [BOX], 7: []})
    args = ["forget", "measure", "--model", str(ckpt), "--annotations", str(file), "--n", "12", "--top-k", "2",
            "--random-draws", "1"]
    assert main([*args, "--annotator", "bob"]) == 0
    assert "annotations: 2 images, 1 boxes" in capsys.readouterr().out
    assert main(args) == 0  # all annotators
    assert "annotations: 8 images, 7 boxes" in capsys.readouterr().out
    assert main([*args, "--annotator", "carol"]) == 2
    assert "no window annotations by 'carol'" in capsys.readouterr().err


def test_kappa_is_zero_when_one_annotator_says_none_everywhere():
    g = annotator_agreement(people({0: [BOX], 1: [], 2: [BOX]}, {0: [], 1: [], 2: []}), "alice", "bob")
    assert g.kappa == 0.0 and g.percent_agreement == pytest.approx(1 / 3)  # p_e = p_o = 1/3: no better than chance
