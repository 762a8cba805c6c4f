"""Window boxes in COCO JSON: our export round-trips, a foreign tool's file with the pool's image names imports,
and files for other weights, other objects or with bad boxes are refused in one line."""

from __future__ import annotations

import json

import pytest

from dcgan_core.analysis.annotations import AnnotationError, AnnotationSet, make_annotation, pool_z
from dcgan_core.analysis.coco import coco_from_json, from_coco, image_file_name, to_coco
from dcgan_core.analysis.user_data import ModelIdentity
from dcgan_core.models import ModelConfig

CONFIG = ModelConfig(image_size=64, nz=16, ngf=8, ndf=8)
MODEL = ModelIdentity(name="rooms", fingerprint="a" * 64, nz=16, step=7000, image_size=64)
OTHER = ModelIdentity(name="rooms", fingerprint="b" * 64, nz=16, step=9000, image_size=64)


def notes() -> AnnotationSet:
    z = pool_z(CONFIG, 3, [5, 7, 9])
    return AnnotationSet(MODEL, "window", (
        make_annotation(3, 5, z[0], [(4, 6, 20, 30), (40, 8, 60, 28.5)]),
        make_annotation(3, 7, z[1], no_object=True),
        make_annotation(3, 9, z[2], [(10, 10, 30, 20)], source="instrument"),
    ))


def test_export_then_import_gives_identical_annotations():
    original = notes()
    coco = json.loads(json.dumps(to_coco(original)))  # through JSON text, as a file would go
    assert [c["name"] for c in coco["categories"]] == ["window"]
    assert coco["annotations"][1]["bbox"] == [40.0, 8.0, 20.0, 20.5]  # [x, y, width, height]
    assert coco["images"][0]["file_name"] == "rooms_seed3_00005.png"
    back = from_coco(coco, MODEL, "window", CONFIG)
    assert back == original


def test_a_foreign_coco_file_with_pool_image_names_imports_with_z_from_the_pool():
    foreign = {
        "images": [{"id": 10, "file_name": "export/images/" + image_file_name("rooms", 2, 41), "width": 64, "height": 64},
                   {"id": 11, "file_name": "rooms_seed2_00042.png", "width": 64, "height": 64}],
        "annotations": [{"id": 1, "image_id": 10, "category_id": 7, "bbox": [1, 2, 10, 12]},
                        {"id": 2, "image_id": 10, "category_id": 8, "bbox": [5, 5, 5, 5]}],  # a door: not ours
        "categories": [{"id": 7, "name": "window"}, {"id": 8, "name": "door"}],
    }
    got = from_coco(foreign, MODEL, "window", CONFIG)
    first, second = got.get(2, 41), got.get(2, 42)
    assert first.boxes == ((1.0, 2.0, 11.0, 14.0),) and first.source == "hand"
    assert list(first.z) == pytest.approx(pool_z(CONFIG, 2, [41])[0].tolist())
    assert second.no_object and not second.boxes  # listed without a window: looked at, none there


@pytest.mark.parametrize("change, message", [
    (lambda c: c["images"][0]["extra"].update(model_fingerprint="b" * 64), "exported from other weights"),
    (lambda c: c["categories"].__setitem__(0, {"id": 1, "name": "door"}), "no category named 'window'"),
    (lambda c: c["annotations"][0].update(bbox=[1, 2, -3, 4]), r"COCO boxes are \[x, y, width, height\]"),
    (lambda c: c["images"][0].update(file_name="holiday.png", extra={}), "is not a pool image"),
    (lambda c: c["annotations"][0].update(image_id=99), "which is not listed"),
    (lambda c: c["images"][1].update(width=128), "pool images are 64x64"),
])
def test_unusable_files_are_refused_in_one_line(change, message):
    coco = to_coco(notes())
    change(coco)
    with pytest.raises(AnnotationError, match=message) as e:
        coco_from_json(json.dumps(coco), MODEL, "window", CONFIG, where="upload.json")
    assert "\n" not in str(e.value)


def test_text_that_is_not_coco_is_refused_naming_the_file():
    with pytest.raises(AnnotationError, match="upload.json is not valid JSON"):
        coco_from_json("{", MODEL, "window", CONFIG, where="upload.json")
    with pytest.raises(AnnotationError, match="upload.json is not a COCO file"):
        coco_from_json('{"format": "something else"}', MODEL, "window", CONFIG, where="upload.json")
    with pytest.raises(AnnotationError, match="other weights"):
        from_coco(to_coco(notes()), OTHER, "window", CONFIG)
