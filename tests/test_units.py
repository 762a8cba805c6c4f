"""D's units: responses, selectivity, top images, uploads, and the object-energy measurement (trained vs random D)."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from dcgan_core.analysis.units import (
    box_mask,
    compare_object_energy,
    energy_fraction_inside,
    load_uploaded_image,
    max_responses,
    measure_object_energy,
    object_iou,
    rank_units,
    relative_responses,
    render_rooms,
    selectivity,
    top_images,
)
from dcgan_core.analysis import units
from dcgan_core.checkpoints import Checkpoint, load_model, save_checkpoint
from dcgan_core.cli import main
from dcgan_core.features import every_layer_maps
from dcgan_core.models import Discriminator, Generator

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_max_responses_are_each_maps_maximum(tiny_config):
    d = Discriminator(tiny_config).eval()
    images = torch.rand(5, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        feats = every_layer_maps(d, images)
    resp = max_responses(d, images, layer=1, batch_size=2)
    assert resp.shape == (5, 16)
    assert np.allclose(resp, feats[1].amax((2, 3)).numpy(), atol=1e-6)


def test_a_unit_that_fires_for_few_images_is_the_most_selective():
    rng = np.random.default_rng(0)
    resp = rng.normal(size=(200, 3))
    resp[:, 1] *= 10  # scale alone changes nothing
    resp[:, 2] = 0.0
    resp[7, 2] = 5.0  # unit 2 fires for one image only
    resp[:, 0] = 1.0  # unit 0 is dead: the same for every image
    sel = selectivity(resp)
    assert sel[0] == 0.0
    assert sel[2] > sel[1] > 0
    assert rank_units(resp).tolist() == [2, 1, 0]
    assert top_images(resp, 2, 3)[0] == 7


def test_top_images_are_strongest_first_with_ties_by_index():
    resp = np.array([[0.0], [3.0], [1.0], [3.0]])
    assert top_images(resp, 0, 3).tolist() == [1, 3, 2]


def test_relative_responses_are_in_pool_standard_deviations():
    pool = np.array([[0.0, 10.0], [2.0, 10.0]])  # unit 0: mean 1, std 1; unit 1: constant
    assert relative_responses(np.array([3.0, 10.0]), pool).tolist() == [2.0, 0.0]


def test_energy_fraction_inside_a_box_by_hand():
    maps = torch.zeros(1, 3, 4, 4)
    maps[0, 0, 0, 0] = 3.0  # energy 9, inside
    maps[0, 1, 3, 3] = 1.0  # energy 1, outside
    mask = box_mask({"bed": [(0, 0, 2, 2)], "window": [(3, 0, 4, 1)]}, ["bed"], 4)
    assert mask.sum() == 4 and mask[0, 0] and not mask[3, 3]
    assert energy_fraction_inside(maps, mask[None]).tolist() == pytest.approx([0.9])
    assert box_mask({"bed": [(0, 0, 2, 2)], "window": [(3, 0, 4, 1)]}, ["bed", "window"], 4).sum() == 5


def png(size=(50, 30), colour=(200, 100, 50)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="PNG")
    return buf.getvalue()


def test_an_uploaded_picture_is_centre_cropped_and_resized():
    image = load_uploaded_image(png(), image_size=32)
    assert image.shape == (32, 32, 3) and image.dtype == np.uint8
    assert image[16, 16].tolist() == [200, 100, 50]
    assert load_uploaded_image(png(), image_size=32, channels=1).shape == (32, 32, 1)


@pytest.mark.parametrize(
    "data, message",
    [(b"", "empty"), (b"this is not an image", "not a picture"), (png(), "pictures up to")],
    ids=["empty", "not a picture", "too big"],
)
def test_a_bad_upload_gets_a_message(data, message):
    with pytest.raises(ValueError, match=message):
        load_uploaded_image(data, image_size=32, max_bytes=100 if message == "pictures up to" else 2**20)


@pytest.fixture(scope="module")
def rooms32():
    return render_rooms(24, seed=5, image_size=32)


def test_rendered_rooms_come_with_their_boxes(rooms32):
    images, boxes = rooms32
    assert images.shape == (24, 3, 32, 32) and images.dtype == np.uint8 and len(boxes) == 24
    assert all(b["bed"] for b in boxes)  # every room has a bed


def test_object_iou_scores_a_unit_that_fires_on_the_bed_highest(monkeypatch, tiny_config):
    # Two 8x8 rooms with a bed in the top-left quarter; D's maps are 2x2 here (faked):
    # unit 0 fires on the bed's cell, unit 1 on the opposite cell, unit 2 everywhere alike.
    boxes = [{"bed": [(0, 0, 4, 4)], "window": []}, {"bed": [(0, 0, 4, 4)], "window": [(4, 4, 8, 8)]}]
    images = np.zeros((2, 3, 8, 8), np.uint8)
    maps = np.zeros((2, 3, 2, 2), np.float32)
    maps[:, 0, 0, 0] = 5.0
    maps[:, 1, 1, 1] = 5.0
    maps[:, 2] = 1.0
    monkeypatch.setattr(units, "feature_maps", lambda d, imgs, layer: maps)
    d = Discriminator(tiny_config).eval()
    iou = object_iou(d, images, boxes, ["bed"], quantile=0.5)
    assert iou[0] == pytest.approx(1.0)  # on exactly where the bed is
    assert iou[1] == 0.0  # never on the bed
    assert iou[2] == 0.0  # a flat map is never above its own quantile
    window = object_iou(d, images, boxes, ["window"], quantile=0.5)
    assert window[1] == pytest.approx(0.5)  # on in both rooms, the window is in one: IoU 1/2
    with pytest.raises(ValueError, match="unknown object"):
        object_iou(d, images, boxes, ["sofa"])


def test_object_energy_of_a_tiny_d_is_a_share_of_the_map(tiny_config, rooms32):
    images, boxes = rooms32
    report = measure_object_energy(Discriminator(tiny_config).eval(), images, boxes, label="tiny D", units=3, k=4,
                                   select="selectivity")
    assert len(report.units) == 3 and all(len(u.images) == 4 for u in report.units)
    assert set(report.inside) == {"bed+window", "window", "bed", "door", "lamp", "picture", "rug", "any object"}
    assert all(0.0 <= v <= 1.0 for v in (*report.inside.values(), *report.area.values()))
    assert report.inside["any object"] >= report.inside["bed+window"] - 1e-9  # a larger region holds more energy
    assert report.select == "selectivity" and all(u.object_iou is None for u in report.units)
    with pytest.raises(ValueError, match="unknown object"):
        measure_object_energy(Discriminator(tiny_config).eval(), images, boxes, label="x", objects=["sofa"])


def test_units_picked_by_object_overlap_on_other_rooms(tiny_config, rooms32):
    images, boxes = rooms32
    d = Discriminator(tiny_config).eval()
    other = render_rooms(24, seed=6, image_size=32)
    report = measure_object_energy(d, images, boxes, label="tiny D", units=3, k=4, select="objects", selection_pool=other)
    iou = object_iou(d, *other, ["bed", "window"])
    assert [u.unit for u in report.units] == list(np.argsort(-iou, kind="stable")[:3])  # the best-overlapping units
    assert [u.object_iou for u in report.units] == pytest.approx(sorted(iou, reverse=True)[:3])
    with pytest.raises(ValueError, match="needs a selection_pool"):
        measure_object_energy(d, images, boxes, label="x", select="objects")


@pytest.fixture
def tiny_checkpoint(tmp_path, tiny_config):
    torch.manual_seed(0)
    path = tmp_path / "tiny.safetensors"
    save_checkpoint(path, Checkpoint(model_config=tiny_config, generator=Generator(tiny_config).state_dict(),
                                     discriminator=Discriminator(tiny_config).state_dict(), step=7))
    return path


def test_compare_trained_and_random_d_on_the_same_rooms(tiny_checkpoint):
    result = compare_object_energy(load_model(tiny_checkpoint), n=16, seed=5, units=2, k=3, random_seeds=(0, 1))
    assert result.trained.label == "trained D (step 7)"
    assert [r.label for r in result.randoms] == ["random D (seed 0)", "random D (seed 1)"]
    mean = result.random_mean.inside["bed+window"]
    assert mean == pytest.approx((result.randoms[0].inside["bed+window"] + result.randoms[1].inside["bed+window"]) / 2)
    table = result.table()
    assert "the 2 units of layer 2 overlapping bed+window most (IoU on 16 other rooms, seed 30003) x their top 3 of 16 rooms" in table
    assert "box area, same images" in table and "random D, mean of seeds 0, 1" in table
    assert result.trained.units[0].object_iou is not None
    assert result.as_dict()["settings"]["objects"] == ["bed", "window"]
    by_selectivity = compare_object_energy(load_model(tiny_checkpoint), n=16, seed=5, units=2, k=3, random_seeds=(0,), select="selectivity")
    assert "the 2 most selective units of layer 2 x their top 3 of 16 rooms" in by_selectivity.table()
    with pytest.raises(ValueError, match="must differ"):
        compare_object_energy(load_model(tiny_checkpoint), n=16, seed=5, select_seed=5)


def test_units_measure_command_prints_the_table(tiny_checkpoint, capsys):
    assert main(["units", "measure", "--model", str(tiny_checkpoint), "--n", "12", "--units", "2", "--k", "2",
                 "--random-seeds", "4"]) == 0
    out = capsys.readouterr().out
    assert "trained D (step 7)" in out and "random D (seed 4)" in out and "bed+window" in out
    assert "units picked by objects" in out
    assert main(["units", "measure", "--model", str(tiny_checkpoint), "--n", "12", "--units", "2", "--k", "2",
                 "--random-seeds", "4", "--select", "selectivity"]) == 0
    assert "most selective units" in capsys.readouterr().out
    assert main(["units", "measure", "--model", str(tiny_checkpoint), "--n", "1"]) == 2
    assert main(["units", "measure", "--model", str(tiny_checkpoint), "--quantile", "1.5"]) == 2
    assert "--quantile must be between 0 and 1" in capsys.readouterr().err


def test_object_units_figure_script_shows_the_best_unit_of_each_d(tiny_checkpoint, tmp_path):
    """scripts/object_units_figure.py (the README's Fig. 5 figure): one block per D, with its energy share."""
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "scripts" / "object_units_figure.py"
    out = tmp_path / "units.png"
    done = subprocess.run([sys.executable, str(script), "--model", str(tiny_checkpoint), "--object", "bed", "--n", "12", "--k", "3",
                           "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("trained D: unit ") and lines[1].startswith("random D (seed 0): unit ")
    inside = [float(line.split("energy inside ")[1].split(",")[0]) for line in lines[:2]]
    assert all(0.0 <= v <= 1.0 for v in inside)
    picture = Image.open(out)
    assert picture.width == 3 * 32 * 2 + 2 * 4  # k images of 32 px, scaled 2x, 4 px apart
    assert picture.height > 2 * 3 * 32 * 2  # two blocks of three rows
