"""Guided backprop (paper Fig. 5): the rule by hand through a LeakyReLU, the same on a real D, and D left untouched."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

from dcgan_core.analysis.guided_backprop import (
    colorize,
    gradient_image,
    guided_backprop,
    random_discriminator,
    saliency,
)
from dcgan_core.features import GuidedLeakyReLU, every_layer_maps, layer_maps, rectified_forward
from dcgan_core.models import Discriminator, ModelConfig

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny_net() -> nn.Sequential:
    """x (2) -> Linear -> LeakyReLU(0.2) -> Linear -> y, with weights easy to follow by hand."""
    first = nn.Linear(2, 3, bias=False)
    first.weight.data = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    second = nn.Linear(3, 1, bias=False)
    second.weight.data = torch.tensor([[1.0, 1.0, -1.0]])
    return nn.Sequential(first, nn.LeakyReLU(0.2), second)


# x = (2, -1): hidden pre-activations h = (2, -1, 1), so unit 2 is off (forward input negative).
# The gradient arriving at the rectifier's output is (1, 1, -1): unit 3 gets a negative gradient.
#   plain:        (1, 0.2, -1) * ... through W1^T -> (1 - 1, 0.2 - 1)   = (0, -0.8)
#   guided:       max(g, 0) * (h > 0) = (1, 0, 0)  -> (1, 0)
#   guided_leaky: max(g, 0) * (1 | 0.2) = (1, 0.2, 0) -> (1, 0.2)
#   deconvnet:    max(g, 0) = (1, 1, 0)             -> (1, 1)
HAND = {"gradient": [0.0, -0.8], "guided": [1.0, 0.0], "guided_leaky": [1.0, 0.2], "deconvnet": [1.0, 1.0]}


@pytest.mark.parametrize("rule", list(HAND))
def test_each_rule_matches_the_hand_computed_gradient_through_a_leaky_relu(rule):
    x = torch.tensor([[2.0, -1.0]], requires_grad=True)
    y = rectified_forward(tiny_net(), x, rule)
    assert y.item() == pytest.approx(2 - 0.2 - 1)  # forward values never change
    (grad,) = torch.autograd.grad(y.sum(), x)
    assert grad[0].tolist() == pytest.approx(HAND[rule])


def test_guided_leaky_relu_zeroes_negative_inputs_and_negative_gradients():
    x = torch.tensor([-2.0, -0.5, 0.0, 0.5, 2.0], requires_grad=True)
    y = GuidedLeakyReLU.apply(x, 0.2)
    assert y.tolist() == pytest.approx([-0.4, -0.1, 0.0, 0.5, 2.0])
    (grad,) = torch.autograd.grad(y, x, torch.tensor([1.0, 1.0, 1.0, -3.0, 3.0]))
    assert grad.tolist() == [0.0, 0.0, 0.0, 0.0, 3.0]


@pytest.fixture
def d(calibrated_discriminator) -> Discriminator:
    return calibrated_discriminator


def hooked_guided_copy(d: Discriminator) -> Discriminator:
    """An independent reference: a deep copy whose LeakyReLUs get the guided rule through backward hooks."""
    ref = copy.deepcopy(d).requires_grad_(False)
    for m in ref.modules():
        if isinstance(m, nn.LeakyReLU):
            m.register_forward_hook(lambda mod, inp, out: setattr(mod, "saved_input", inp[0]))
            m.register_full_backward_hook(
                lambda mod, g_in, g_out: (g_out[0].clamp(min=0) * (mod.saved_input > 0),)
            )
    return ref


def test_guided_backprop_on_a_discriminator_matches_a_hooked_copy(d):
    images = torch.rand(3, 3, 32, 32) * 2 - 1
    layer, unit = 2, 5
    ours = guided_backprop(d, images, layer, unit)

    ref = hooked_guided_copy(d)
    x = images.clone().requires_grad_(True)
    feats = every_layer_maps(ref, x)
    feats[layer][:, unit].flatten(1).amax(1).sum().backward()
    assert torch.allclose(ours, x.grad, atol=1e-6)
    assert ours.abs().sum() > 0
    assert not torch.allclose(ours, guided_backprop(d, images, layer, unit, rule="gradient"), atol=1e-4)  # the rule matters


def test_plain_gradient_rule_equals_autograd_through_d_itself(d):
    images = torch.rand(2, 3, 32, 32) * 2 - 1
    ours = guided_backprop(d, images, layer=-1, unit=3, rule="gradient", target="sum")
    x = images.clone().requires_grad_(True)
    feats = every_layer_maps(d, x)
    (expected,) = torch.autograd.grad(feats[-1][:, 3].sum(), x)
    assert torch.allclose(ours, expected, atol=1e-6)


def test_max_target_only_looks_at_the_receptive_field_of_the_strongest_position(d):
    images = torch.rand(1, 3, 32, 32) * 2 - 1
    maps = layer_maps(d, images, 0)[0, 7]  # layer 0: 4x4 convolution, stride 2, padding 1
    i, j = divmod(int(maps.argmax()), maps.shape[1])
    grad = guided_backprop(d, images, layer=0, unit=7)[0].abs().sum(0)
    rows, cols = np.nonzero(grad.numpy())
    assert rows.min() >= 2 * i - 1 and rows.max() <= 2 * i + 2
    assert cols.min() >= 2 * j - 1 and cols.max() <= 2 * j + 2


def test_one_unit_per_image_equals_separate_calls(d):
    images = torch.rand(2, 3, 32, 32) * 2 - 1
    both = guided_backprop(d, images, layer=1, unit=[0, 9])
    assert torch.allclose(both[0], guided_backprop(d, images[:1], 1, 0)[0])
    assert torch.allclose(both[1], guided_backprop(d, images[1:], 1, 9)[0])


def test_the_shared_model_is_left_exactly_as_it_was(d):
    before = {k: v.clone() for k, v in d.state_dict().items()}
    with torch.no_grad():  # also works when called inside no_grad (as pages may)
        guided_backprop(d, torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8), layer=-1, unit=0)
    assert all(torch.equal(before[k], v) for k, v in d.state_dict().items())
    assert not d.training and not any(p.requires_grad or p.grad is not None for p in d.parameters())
    assert all(not m._forward_hooks and not m._backward_hooks and not m._forward_pre_hooks for m in d.modules())
    assert all(type(m) is nn.LeakyReLU for m in d.modules() if "ReLU" in type(m).__name__)


def test_a_discriminator_in_training_mode_or_a_bad_unit_is_refused(d, tiny_config):
    images = torch.zeros(1, 3, 32, 32)
    with pytest.raises(ValueError, match="eval mode"):
        guided_backprop(Discriminator(tiny_config).train(), images, 0, 0)
    with pytest.raises(ValueError, match="units .* 0..7"):
        guided_backprop(d, images, 0, 8)
    with pytest.raises(ValueError, match="hidden layers 0..2"):
        guided_backprop(d, images, 3, 0)


def test_random_discriminator_is_seeded_and_takes_batchnorm_statistics_from_the_images(tiny_config):
    images = torch.rand(32, 3, 32, 32) * 2 - 1
    a = random_discriminator(tiny_config, seed=3, calibration_images=images)
    b = random_discriminator(tiny_config, seed=3)
    state_a, state_b = a.state_dict(), b.state_dict()
    assert all(torch.equal(state_a[k], state_b[k]) for k in state_a if "running" not in k and "num_batches" not in k)
    assert not torch.equal(state_a["blocks.0.0.weight"], random_discriminator(tiny_config, seed=4).state_dict()["blocks.0.0.weight"])
    # block 1's BatchNorm holds the mean of its conv's outputs over the calibration images
    with torch.no_grad():
        conv_out = b.blocks[1][0](b.blocks[0](images))
    assert torch.allclose(a.blocks[1][1].running_mean, conv_out.mean((0, 2, 3)), atol=1e-5)
    assert torch.allclose(b.blocks[1][1].running_mean, torch.zeros(16))  # uncalibrated: a fresh BatchNorm
    assert not a.training and not any(p.requires_grad for p in a.parameters())


def test_display_helpers_keep_zero_grey_and_scale_each_image_to_its_peak():
    maps = torch.zeros(2, 3, 4, 4)
    maps[0, 0, 1, 1] = -2.0
    maps[1, 2, 3, 3] = 0.5
    pictures = gradient_image(maps)
    assert pictures.shape == (2, 4, 4, 3) and pictures.dtype == np.uint8
    assert pictures[0, 0, 0].tolist() == [128, 128, 128] and pictures[0, 1, 1, 0] == 0 and pictures[1, 3, 3, 2] == 255
    heat = saliency(maps)
    assert heat.max(axis=(1, 2)).tolist() == [1.0, 1.0] and heat[0, 0, 0] == 0
    assert colorize(np.array([0.0, 1.0])).tolist() == [[0, 0, 4], [252, 255, 164]]


def test_works_for_every_image_size():
    for size in (32, 64, 128):
        cfg = ModelConfig(image_size=size, ndf=2, ngf=2, nz=4)
        d = Discriminator(cfg).eval()
        assert guided_backprop(d, torch.zeros(1, 3, size, size), -1, 0).shape == (1, 3, size, size)
