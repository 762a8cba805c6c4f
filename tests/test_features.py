"""features.py, the one way to read and edit a layer's maps of G and D: examples of each use."""

from __future__ import annotations

import pytest
import torch

from dcgan_core.features import check_layer, every_layer_maps, layer_maps, run_with_maps, set_maps
from dcgan_core.models import Discriminator, Generator

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def g(tiny_config) -> Generator:
    torch.manual_seed(0)
    return Generator(tiny_config).eval().requires_grad_(False)


@pytest.fixture
def d(calibrated_discriminator) -> Discriminator:
    return calibrated_discriminator


def images(n: int = 3) -> torch.Tensor:
    return torch.rand(n, 3, 32, 32, generator=torch.Generator().manual_seed(5)) * 2 - 1


def test_a_d_layers_maps_are_what_its_blocks_compute(d):
    x = images()
    by_hand = d.blocks[1](d.blocks[0](x))
    assert torch.equal(layer_maps(d, x, 1), by_hand)


def test_a_g_layers_maps_are_what_its_blocks_compute_from_flat_z(g, tiny_config):
    z = torch.rand(2, tiny_config.nz)
    by_hand = g.blocks[2](g.blocks[1](g.blocks[0](z[:, :, None, None])))
    assert torch.equal(layer_maps(g, z, g.penultimate_layer), by_hand)


def test_negative_layers_count_from_the_end_and_every_layer_comes_in_order(d):
    x = images()
    feats = every_layer_maps(d, x)
    assert [f.shape[1:] for f in feats] == [(8, 16, 16), (16, 8, 8), (32, 4, 4)]
    assert torch.equal(layer_maps(d, x, -1), feats[2])


def test_a_rule_keeps_the_forward_values(d):
    x = images()
    assert torch.equal(layer_maps(d, x, -1, rule="guided"), layer_maps(d, x, -1))


def test_dropping_every_map_of_a_layer_equals_zeroing_them_by_hand(g, tiny_config):
    z = torch.rand(2, tiny_config.nz)
    layer = g.penultimate_layer
    zeroed = torch.zeros_like(layer_maps(g, z, layer))
    by_hand = g.blocks[layer + 1](zeroed)
    assert torch.equal(run_with_maps(g, z, layer, drop=range(g.feature_channels[layer])), by_hand)


def test_dropping_maps_equals_generators_drop_argument(g, tiny_config):
    z = torch.rand(3, tiny_config.nz)
    assert torch.equal(run_with_maps(g, z, 1, drop=[0, 4, 9]), g(z, drop={1: [0, 4, 9]}))
    assert torch.equal(run_with_maps(g, z, 1, drop=[]), g(z))


def test_a_mask_limits_the_change_to_its_region(d):
    maps = layer_maps(d, images(), 1)  # (3, 16, 8, 8)
    region = torch.zeros(8, 8, dtype=torch.bool)
    region[2:5, 3:7] = True
    painted = set_maps(maps, torch.tensor([2, 5]), mask=region, value=3.0)
    changed = painted != maps
    assert torch.all(painted[:, [2, 5]][..., region] == 3.0)
    assert not changed[:, [2, 5]][..., ~region].any()
    assert not changed[:, [c for c in range(16) if c not in (2, 5)]].any()


def test_inserting_units_inside_a_region_changes_the_image_near_it(g, tiny_config):
    z = torch.rand(2, tiny_config.nz)
    layer = 0  # 4 x 4 maps; each cell reaches at most a few cells around it in the next layers
    region = torch.zeros(4, 4, dtype=torch.bool)
    region[0, 0] = True
    painted = run_with_maps(g, z, layer, drop=[1, 2], mask=region, value=[5.0, 8.0])
    change = (painted - g(z)).abs().sum((0, 1))  # (32, 32)
    assert change[:8, :8].sum() > 0 and change[24:, 24:].sum() == 0


def test_d_runs_with_maps_too_and_returns_logits(d):
    x = images()
    logits = run_with_maps(d, x, 0, drop=[0, 1])
    assert logits.shape == (3,) and not torch.equal(logits, d(x))


def test_a_bad_layer_index_names_the_valid_range(g, d, tiny_config):
    with pytest.raises(ValueError, match=r"D has hidden layers 0..2 .*got layer 3"):
        layer_maps(d, images(), 3)
    with pytest.raises(ValueError, match=r"G has hidden layers 0..2 .*got layer -4"):
        check_layer(g, -4)
    with pytest.raises(ValueError, match="layer 1 of G has feature maps 0..15"):
        run_with_maps(g, torch.rand(1, tiny_config.nz), 1, drop=[16])


def test_a_mask_at_the_wrong_resolution_is_refused(g, tiny_config):
    with pytest.raises(ValueError, match=r"mask must be \(8, 8\)"):
        run_with_maps(g, torch.rand(1, tiny_config.nz), 1, drop=[0], mask=torch.ones(4, 4, dtype=torch.bool))


def test_the_shared_model_is_never_modified(g, tiny_config):
    z = torch.rand(2, tiny_config.nz)
    before = {k: v.clone() for k, v in g.state_dict().items()}
    plain = g(z)
    run_with_maps(g, z, 2, drop=[0, 1], mask=torch.ones(16, 16, dtype=torch.bool), value=1.0)
    assert torch.equal(g(z), plain)
    assert all(torch.equal(before[k], v) for k, v in g.state_dict().items())
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in g.modules())
