"""Forgetting to draw an object on 32- and 128-px models (tracker issue 24, item 5): boxes are kept in pixels of the
model's own images, validated against its size, shown on the canvas at a whole-number scale, read by the 64-px room
instrument after resizing, and mapped onto the penultimate layer (S/2 px for an S-px model).

Generators are tiny and untrained (ngf 8, nz 16): the tests check the mechanics, not what a GAN learned.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from dcgan_core.analysis import object_removal as removal
from dcgan_core.analysis.annotations import AnnotationError, AnnotationSet, AnnotationStore, make_annotation, pool_z
from dcgan_core.analysis.coco import from_coco, to_coco
from dcgan_core.analysis.object_removal import boxes_to_feature_mask, boxes_touch_mask, collect_training_data
from dcgan_core.analysis.user_data import ModelIdentity
from dcgan_core.models import Generator, ModelConfig
from explorer import forget


def tiny_generator(image_size: int) -> Generator:
    torch.manual_seed(0)
    return Generator(ModelConfig(image_size=image_size, nz=16, ngf=8, ndf=8)).eval()


@pytest.fixture(scope="module")
def g128() -> Generator:
    return tiny_generator(128)


@pytest.fixture(scope="module")
def g32() -> Generator:
    return tiny_generator(32)


def note(g: Generator, index: int, boxes=(), no_object: bool = False):
    return make_annotation(0, index, pool_z(g.config, 0, [index])[0], boxes, no_object=no_object,
                           image_size=g.config.image_size)


# ---------------------------------------------------------------------------- boxes -> the penultimate layer


def test_the_penultimate_layer_is_half_the_image_size(g32, g128):
    assert g128.feature_sizes[g128.penultimate_layer] == 64 and g32.feature_sizes[g32.penultimate_layer] == 16


def test_a_box_in_128_px_coordinates_covers_the_right_cells_of_the_64_px_penultimate_layer():
    # 128-px image, 64x64 map: cell c spans [2c, 2c + 2) px, centre 2c + 1
    mask = boxes_to_feature_mask([(32, 16, 64, 48)], image_size=128, feature_size=64)
    expected = np.zeros((64, 64), bool)
    expected[8:24, 16:32] = True  # rows = y 16..48 px, columns = x 32..64 px
    assert (mask == expected).all()


def test_a_box_reaching_the_far_edge_of_a_128_px_image_covers_the_last_cells():
    mask = boxes_to_feature_mask([(120, 124, 128, 128)], image_size=128, feature_size=64)
    assert mask.sum() == 4 * 2 and mask[62:, 60:].all()


def test_a_box_that_clips_cells_of_a_128_px_image_leaves_them_out_of_the_negatives():
    # x1 = 33 cuts cell 16 ([32, 34), centre 33): not a positive (x1 exclusive) and not a negative either
    pos = boxes_to_feature_mask([(30, 30, 33, 33)], image_size=128, feature_size=64)
    touched = boxes_touch_mask([(30, 30, 33, 33)], image_size=128, feature_size=64)
    assert pos.sum() == 1 and pos[15, 15]
    assert touched[15:17, 15:17].all() and touched.sum() == 4


def test_training_data_of_a_128_px_model_takes_its_positives_from_the_64_px_layer(g128):
    data = collect_training_data(g128, [note(g128, 0, [(32, 16, 64, 48)])], negatives_per_image=10)
    assert data.feature_size == 64 and data.layer == g128.penultimate_layer
    assert data.n_positive == 16 * 16 and data.n_negative == 10
    assert data.X.shape == (266, g128.feature_channels[g128.penultimate_layer])


def test_training_data_of_a_32_px_model_takes_its_positives_from_the_16_px_layer(g32):
    data = collect_training_data(g32, [note(g32, 0, [(0, 0, 8, 8)]), note(g32, 1, no_object=True)], negatives_per_image=5)
    assert data.feature_size == 16 and data.n_positive == 4 * 4 and data.n_negative == 10


# ---------------------------------------------------------------------------- boxes stored in the model's own pixels


def test_a_box_drawn_on_a_128_px_image_is_kept_in_128_px_pixels(g128):
    assert note(g128, 0, [(100, 90, 140, 128)]).boxes == ((100.0, 90.0, 128.0, 128.0),)  # clipped at 128, not 64


def test_a_128_px_annotations_file_round_trips_with_boxes_beyond_64_px(tmp_path, g128):
    identity = ModelIdentity.of("big", g128, step=2)
    store = AnnotationStore(tmp_path)
    saved = store.put(identity, "window", [note(g128, 3, [(70, 80, 120, 128)])])
    data = json.loads(saved.to_json())
    assert data["model"]["image_size"] == 128
    assert store.load(identity, "window") == saved
    data["images"][0]["boxes"] = [[70, 80, 130, 128]]
    with pytest.raises(AnnotationError, match="not a box inside the 128-px image"):
        AnnotationSet.from_dict(data, expect_model=identity)


def test_annotations_of_a_size_no_model_has_are_refused(g128):
    data = json.loads(AnnotationSet(ModelIdentity.of("big", g128), "window", (note(g128, 0, [(1, 1, 9, 9)]),)).to_json())
    data["model"]["image_size"] = 48
    with pytest.raises(AnnotationError, match="32, 64 or 128-px images; this file says 48 px"):
        AnnotationSet.from_dict(data)


def test_coco_export_of_a_128_px_model_says_128_and_imports_back(g128):
    identity = ModelIdentity.of("big", g128, step=2)
    notes = AnnotationSet(identity, "window", (note(g128, 5, [(70, 80, 120, 128)]),))
    coco = to_coco(notes)
    assert (coco["images"][0]["width"], coco["images"][0]["height"]) == (128, 128)
    assert from_coco(coco, identity, "window", g128.config) == notes
    coco["images"][0]["width"] = coco["images"][0]["height"] = 64
    with pytest.raises(AnnotationError, match="pool images are 128x128"):
        from_coco(coco, identity, "window", g128.config)


# ---------------------------------------------------------------------------- the canvas and the instrument


@pytest.mark.parametrize("size, scale", [(32, 12), (64, 6), (128, 3)])
def test_the_canvas_shows_every_size_at_a_whole_scale_near_384_px(size, scale):
    assert forget.canvas_scale(size) == scale and forget.canvas_px(size) == 384
    picture = forget.canvas_picture(np.zeros((size, size, 3), np.uint8))
    assert picture.shape == (384, 384, 3)
    drawn = [{"left": 3 * scale, "top": 5 * scale, "width": 10 * scale, "height": 20 * scale}]
    assert forget.canvas_to_image_boxes(drawn, size) == [(3, 5, 13, 25)]
    assert forget.image_to_canvas_boxes([(3, 5, 13, 25)], size) == drawn


@pytest.mark.parametrize("size", [32, 128])
def test_the_room_instrument_annotates_other_sizes_in_their_own_pixels(size):
    from dcgan_core.analysis.instruments import default_instrument_path, load_instrument

    g = tiny_generator(size)
    rooms = load_instrument(default_instrument_path("rooms"), kind="rooms")
    made = removal.auto_annotate(g, rooms, pool_z(g.config, 0, range(6)), "window", seed=0)
    assert made and all(a.source == "instrument" for a in made)
    for a in made:
        for x0, y0, x1, y1 in a.boxes:
            assert 0 <= x0 < x1 <= size and 0 <= y0 < y1 <= size
            assert all(v % (size / 16) == 0 for v in (x0, y0, x1, y1))  # the instrument's 16x16 grid, in these pixels


def test_the_measure_command_runs_on_a_128_px_model(tmp_path, g128, capsys):
    from dcgan_core.checkpoints import Checkpoint, save_checkpoint
    from dcgan_core.cli import main

    ckpt = tmp_path / "big.safetensors"
    save_checkpoint(ckpt, Checkpoint(g128.config, g128.state_dict(), step=2))
    notes = [note(g128, i, [(16 * (i % 4), 16, 16 * (i % 4) + 40, 80)]) for i in range(8)] + [note(g128, 8, no_object=True)]
    file = tmp_path / "notes.json"
    file.write_text(AnnotationSet(ModelIdentity.of("big", g128, 2), "window", tuple(notes)).to_json())
    code = main(["forget", "measure", "--model", str(ckpt), "--annotations", str(file), "--n", "10", "--top-k", "3"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "9 images, 8 boxes" in out and "maps dropped: 3 of 8" in out
