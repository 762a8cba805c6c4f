"""Dissecting G (issue 22): which units draw which classes, and switching them off or on in a region."""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dcgan_core.analysis.dissection import Dissection, dissect, format_dissection, random_generator, upsample_units
from dcgan_core.analysis.instruments import RoomSegmenter, Segmenter, default_instrument_path, load_instrument
from dcgan_core.analysis.interventions import (
    layer_mask,
    measure_insertion,
    measure_removal,
    paint,
    surface_regions,
)
from dcgan_core.checkpoints import Checkpoint, load_model, save_checkpoint
from dcgan_core.cli import main
from dcgan_core.data.rooms import ROOM_CLASSES
from dcgan_core.features import run_with_maps
from dcgan_core.models import Generator, ModelConfig

pytestmark = pytest.mark.usefixtures("one_torch_thread")
WALL, WINDOW = ROOM_CLASSES.index("wall"), ROOM_CLASSES.index("window")
SIZE = 32
SQUARE_VALUE = 10.0


def square_pattern(n_units: int) -> torch.Tensor:
    """Layer 0 (4 x 4) maps of the wired G: unit 0 is SQUARE_VALUE on the top-left 2 x 2 cells and 0 elsewhere."""
    maps = torch.zeros(n_units, 4, 4)
    maps[0, :2, :2] = SQUARE_VALUE
    return maps


def drawn_square() -> torch.Tensor:
    """bool (SIZE, SIZE): where unit 0's upsampled map is at its full value (the top-left 12 x 12 pixels)."""
    up = F.interpolate(square_pattern(1)[None], size=(SIZE, SIZE), mode="bilinear", align_corners=False)[0, 0]
    return up == SQUARE_VALUE


class SquareUnitLayer(nn.Module):
    """Layer 0 of a wired G: unit 0 draws the square in every picture; the other units follow z (rectified)."""

    def __init__(self, nz: int, n_units: int):
        super().__init__()
        self.register_buffer("pattern", square_pattern(n_units))
        self.project = nn.Linear(nz, (n_units - 1) * 16)
        self.n_units = n_units

    def forward(self, z):
        rest = torch.relu(self.project(z.flatten(1))).view(len(z), self.n_units - 1, 4, 4)
        return torch.cat([self.pattern[None, :1].expand(len(z), -1, -1, -1), rest], 1)


class SquareIsWindow(RoomSegmenter):
    """Calls the wired square "window" and everything else "wall", whatever the picture shows."""

    def forward(self, x):
        logits = torch.full((len(x), len(self.classes), *x.shape[-2:]), -10.0)
        # segment() reads 32-px pictures at 64 px: the square doubled, which maps back onto it exactly
        square = F.interpolate(drawn_square()[None, None].float(), size=x.shape[-2:], mode="nearest")[0, 0] > 0.5
        logits[:, WINDOW, square] = 10
        logits[:, WALL, ~square] = 10
        return logits


def wired_generator() -> Generator:
    torch.manual_seed(3)
    g = Generator(ModelConfig(image_size=SIZE, nz=16, ngf=8, ndf=8))
    g.blocks[0] = SquareUnitLayer(16, g.feature_channels[0])
    return g.eval()


def tiny_g(seed: int = 0) -> Generator:
    torch.manual_seed(seed)
    return Generator(ModelConfig(image_size=SIZE, nz=16, ngf=8, ndf=8)).eval()


# --------------------------------------------------------------------------- dissection


def test_a_unit_wired_to_draw_a_square_is_found_with_iou_exactly_one():
    d = dissect(wired_generator(), SquareIsWindow(), n=40, layers=[0])
    assert d.top_units("window", layer=0)[0] == 0
    assert d.layer(0).iou[0, WINDOW] == 1.0
    assert d.best_iou("window") == 1.0 and d.best_layer("window") == 0
    others = np.delete(d.layer(0).iou[:, WINDOW], 0)
    assert others.max() < 0.9  # units that follow z do not sit on the square
    # the square is 144 of 1,024 pixels: every top fraction up to 8% puts unit 0 inside it, 16% spills over
    assert d.layer(0).top_fraction[0, WINDOW] <= 0.08
    assert d.class_share[WINDOW] == pytest.approx(drawn_square().float().mean().item())
    assert d.class_presence[WINDOW] == 1.0
    assert d.layer(0).class_mean[0, WINDOW] == pytest.approx(SQUARE_VALUE)  # what painting a window sets it to


def test_the_square_unit_detects_window_and_the_summary_counts_it():
    d = dissect(wired_generator(), SquareIsWindow(), n=20, layers=[0])
    detectors = d.detectors()
    assert detectors.shape == (1, len(ROOM_CLASSES))
    assert detectors[0, WINDOW] >= 1
    assert d.layer(0).best_class()[0] == WINDOW


def test_upsampling_by_matmul_equals_bilinear_interpolation():
    maps = torch.rand(3, 5, 8, 8)
    expected = F.interpolate(maps, size=(32, 32), mode="bilinear", align_corners=False)
    assert torch.allclose(upsample_units(maps, 32).transpose(0, 1), expected, atol=1e-6)


def test_dissection_is_reproducible_and_survives_json():
    g, seg = wired_generator(), SquareIsWindow()
    a = dissect(g, seg, n=20, seed=5)
    b = dissect(g, seg, n=20, seed=5)
    for la, lb in zip(a.layers, b.layers):
        assert np.array_equal(la.iou, lb.iou)
    back = Dissection.from_dict(json.loads(json.dumps(a.as_dict())))
    assert back.classes == a.classes and [x.layer for x in back.layers] == [0, 1, 2]
    assert np.allclose(back.layer(1).iou, a.layer(1).iou, atol=1e-4)
    with pytest.raises(ValueError, match="not a dissection file"):
        Dissection.from_dict({"classes": ["wall"]})


def test_the_random_baseline_is_a_fresh_g_read_against_the_trained_gs_masks():
    g = wired_generator()
    r = random_generator(g)
    assert type(r) is Generator and not r.training
    d = dissect(r, SquareIsWindow(), n=20, layers=[0], masks_from=g)
    assert d.best_iou("window") < 0.9  # no random unit is wired to the square


def test_bad_arguments_get_one_clear_message():
    g = wired_generator()
    with pytest.raises(ValueError, match="at least 10 samples"):
        dissect(g, SquareIsWindow(), n=3)
    with pytest.raises(ValueError, match="hidden layers 0..2"):
        dissect(g, SquareIsWindow(), n=10, layers=[5])
    d = dissect(g, SquareIsWindow(), n=10, layers=[0])
    with pytest.raises(ValueError, match="unknown class 'sofa'"):
        d.top_units("sofa", 0)
    with pytest.raises(ValueError, match="layer 2 was not dissected"):
        d.layer(2)


def test_the_text_report_names_the_best_layer_and_the_contrast():
    g, seg = wired_generator(), SquareIsWindow()
    d = dissect(g, seg, n=20)
    r = dissect(random_generator(g), seg, n=20, masks_from=g)
    text = format_dissection(d, r, ["window"], k=3)
    assert "window: best layer 0, IoU 1.000; a random G's best" in text
    assert "top units: 0 (1.00)" in text


# --------------------------------------------------------------------------- interventions


def test_layer_mask_marks_the_cells_a_region_covers_at_least_half():
    region = np.zeros((32, 32), bool)
    region[0:8, 0:12] = True  # at 8 x 8 (4-px cells): rows 0-1, columns 0-2 fully covered
    mask = layer_mask(region, 8)
    assert mask.shape == (8, 8) and mask[:2, :3].all() and mask.sum() == 6
    speck = np.zeros((32, 32), bool)
    speck[5, 5] = True  # a one-pixel stroke still marks its cell
    assert layer_mask(speck, 8).nonzero().tolist() == [[1, 1]]
    with pytest.raises(ValueError, match="square"):
        layer_mask(np.zeros((32, 30), bool), 8)


def test_removing_units_everywhere_is_the_papers_drop():
    g, z = tiny_g(), torch.rand(4, 16) * 2 - 1
    units = [1, 5]
    assert torch.equal(paint(g, z, 1, units, mode="remove"), run_with_maps(g, z, 1, units))


def test_inserting_in_a_corner_leaves_far_pixels_untouched():
    g, z = tiny_g(), torch.rand(4, 16) * 2 - 1
    region = np.zeros((32, 32), bool)
    region[:8, :8] = True
    level = np.full(g.feature_channels[2], 5.0, np.float32)
    with torch.no_grad():
        before = g(z)
    after = paint(g, z, 2, [0, 1, 2], region=region, mode="insert", on_level=level)
    change = (after - before).abs()[:, :, :, :].sum(1)
    assert change[:, :8, :8].mean() > 0
    assert torch.equal(change[:, 16:, 16:], torch.zeros_like(change[:, 16:, 16:]))  # beyond the convolutions' reach
    with pytest.raises(ValueError, match="on_level"):
        paint(g, z, 2, [0], region=region, mode="insert")
    with pytest.raises(ValueError, match="mode must be"):
        paint(g, z, 2, [0], mode="erase")


def test_surface_regions_pick_a_patch_of_wall_with_no_window():
    labels = np.full((3, 64, 64), WALL, np.uint8)
    labels[0, :, :40] = WINDOW  # only the right 24 columns are free
    labels[1, :, :] = ROOM_CLASSES.index("floor")  # no wall at all
    keep, regions = surface_regions(labels, WALL, WINDOW, layer_size=16, region_px=16)
    assert keep.tolist() == [0, 2]
    assert regions.shape == (2, 64, 64) and regions.sum(axis=(1, 2)).tolist() == [256, 256]
    assert not (regions[0] & (labels[0] == WINDOW)).any()


@pytest.fixture(scope="module")
def shipped_rooms():
    return load_model("rooms").generator, load_instrument(default_instrument_path("rooms-segmenter"), kind="rooms-segmenter")


def test_on_the_shipped_rooms_model_window_units_paint_windows_and_random_units_do_not(shipped_rooms):
    g, seg = shipped_rooms
    d = dissect(g, seg, n=100, layers=[1])
    result = measure_insertion(g, seg, d, "window", layer=1, n=40, random_draws=1)
    assert result.tries >= 20
    assert result.top.success > result.random.success + 0.3
    assert result.top.locality < 1 / 3


def test_on_the_shipped_rooms_model_dropping_window_units_removes_more_windows_than_random_units(shipped_rooms):
    g, seg = shipped_rooms
    d = dissect(g, seg, n=100, layers=[3])
    result = measure_removal(g, seg, d.top_units("window", 3, 16), "window", layer=3, n=60, random_draws=2)
    assert result.n_with_class > 20
    assert result.top.removed > result.random.removed + 0.1


# --------------------------------------------------------------------------- command line


def test_dissect_command_prints_json_and_saves_it(tmp_path, capsys):
    g = tiny_g()
    path = tmp_path / "tiny.safetensors"
    save_checkpoint(path, Checkpoint(model_config=g.config, generator=g.state_dict(), step=3,
                                     train_config={"dataset": "rooms"}))
    out = tmp_path / "dissection.json"
    assert main(["dissect", "--model", str(path), "--n", "12", "--top", "3", "--save", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["step"] == 3 and report["random"] is not None
    assert set(report["contrast"]["wall"]) >= {"best_layer", "best_iou", "random_best_iou", "ratio", "top_units"}
    assert json.loads(out.read_text()) == report
    assert Dissection.from_dict(report["trained"]).n == 12


def test_dissect_without_a_segmenter_for_the_data_says_what_to_do(tmp_path, capsys):
    g = tiny_g()
    path = tmp_path / "mnist.safetensors"
    save_checkpoint(path, Checkpoint(model_config=g.config, generator=g.state_dict(), step=1,
                                     train_config={"dataset": "mnist"}))
    assert main(["dissect", "--model", str(path), "--n", "12"]) != 0
    err = capsys.readouterr().err
    assert "no segmenter exists for mnist data" in err and "Traceback" not in err


def test_the_random_baseline_does_not_touch_the_global_random_state():
    g = tiny_g()
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    a = random_generator(g, seed=4)
    assert torch.equal(torch.rand(3), expected)
    b = random_generator(g, seed=4)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
