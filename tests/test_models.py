"""The paper's architecture guidelines, checked on the modules themselves."""

import pytest
import torch
from torch import nn

from dcgan_core.features import every_layer_maps
from dcgan_core.models import Discriminator, Generator, ModelConfig, build_models


@pytest.mark.parametrize("size,blocks", [(32, 3), (64, 4), (128, 5)])
def test_generator_makes_images_in_tanh_range_at_every_size(size, blocks):
    g = Generator(ModelConfig(image_size=size, nz=10, ngf=4))
    z = torch.rand(3, 10) * 2 - 1
    x = g(z)
    assert x.shape == (3, 3, size, size)
    assert x.min() >= -1 and x.max() <= 1
    assert len(g.feature_channels) == blocks
    # one upsampling block per doubling from 4x4
    assert g.feature_sizes == tuple(4 * 2**i for i in range(blocks))


def test_generator_accepts_z_as_vectors_or_1x1_maps(tiny_config):
    g = Generator(tiny_config).eval()
    z = torch.rand(2, tiny_config.nz)
    assert torch.equal(g(z), g(z[:, :, None, None]))


def test_generator_rejects_z_of_the_wrong_size(tiny_config):
    with pytest.raises(ValueError, match=r"z must have shape \(N, 16\)"):
        Generator(tiny_config)(torch.rand(2, 15))


@pytest.mark.parametrize("size", [32, 64, 128])
@pytest.mark.parametrize("channels", [1, 3])
def test_discriminator_gives_one_logit_per_image(size, channels):
    d = Discriminator(ModelConfig(image_size=size, ndf=4, channels=channels))
    out = d(torch.rand(5, channels, size, size) * 2 - 1)
    assert out.shape == (5,)


def test_grayscale_generator_has_one_channel():
    assert Generator(ModelConfig(image_size=32, ngf=4, channels=1))(torch.rand(2, 100)).shape == (2, 1, 32, 32)


def test_no_pooling_and_no_linear_layers(tiny_config):
    for net in build_models(tiny_config):
        for m in net.modules():
            assert not isinstance(m, (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.Linear))


def test_batchnorm_everywhere_except_generator_output_and_discriminator_input(tiny_config):
    g, d = build_models(tiny_config)
    has_bn = lambda block: any(isinstance(m, nn.BatchNorm2d) for m in block.modules())  # noqa: E731
    assert [has_bn(b) for b in g.blocks] == [True, True, True, False]
    assert [has_bn(b) for b in d.blocks] == [False, True, True, False]  # last is the logit conv


def test_activations_are_relu_tanh_in_g_and_leaky_relu_in_d(tiny_config):
    g, d = build_models(tiny_config)
    assert all(isinstance(b[-1], nn.ReLU) for b in g.blocks[:-1])
    assert isinstance(g.blocks[-1][-1], nn.Tanh)
    leaky = [m for m in d.modules() if isinstance(m, nn.LeakyReLU)]
    assert len(leaky) == len(d.feature_channels)
    assert all(m.negative_slope == 0.2 for m in leaky)
    assert not any(isinstance(m, nn.ReLU) for m in d.modules())


def test_generator_upsamples_with_transposed_convs_and_discriminator_downsamples_with_strided_convs(tiny_config):
    g, d = build_models(tiny_config)
    g_convs = [m for m in g.modules() if isinstance(m, nn.ConvTranspose2d)]
    d_convs = [m for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert [c.stride for c in g_convs] == [(1, 1)] + [(2, 2)] * 3
    assert [c.stride for c in d_convs] == [(2, 2)] * 3 + [(1, 1)]


def test_weights_follow_the_papers_init():
    g = Generator(ModelConfig(image_size=64, ngf=64))
    conv_w = torch.cat([m.weight.flatten() for m in g.modules() if isinstance(m, nn.ConvTranspose2d)])
    bn_w = torch.cat([m.weight for m in g.modules() if isinstance(m, nn.BatchNorm2d)])
    bn_b = torch.cat([m.bias for m in g.modules() if isinstance(m, nn.BatchNorm2d)])
    assert conv_w.mean().abs() < 1e-3 and abs(conv_w.std() - 0.02) < 1e-3
    assert abs(bn_w.mean() - 1) < 0.01 and abs(bn_w.std() - 0.02) < 0.01
    assert torch.all(bn_b == 0)


def test_generator_returns_every_hidden_layers_features(tiny_config):
    g = Generator(tiny_config).eval()
    z = torch.rand(2, tiny_config.nz)
    images, feats = g(z, return_features=True)
    assert [f.shape[1:] for f in feats] == [(32, 4, 4), (16, 8, 8), (8, 16, 16)]
    assert torch.equal(images, g(z))
    assert g.penultimate_layer == 2


def test_dropping_feature_maps_zeroes_them_and_changes_the_image(tiny_config):
    g = Generator(tiny_config).eval()
    z = torch.rand(4, tiny_config.nz)
    layer = g.penultimate_layer
    images, feats = g(z, drop={layer: [0, 3, 5]}, return_features=True)
    assert torch.all(feats[layer][:, [0, 3, 5]] == 0)
    assert feats[layer][:, [1, 2, 4]].abs().sum() > 0
    assert not torch.allclose(images, g(z))


def test_dropping_nothing_changes_nothing(tiny_config):
    g = Generator(tiny_config).eval()
    z = torch.rand(4, tiny_config.nz)
    assert torch.equal(g(z, drop={1: []}), g(z))
    assert torch.equal(g(z, drop={}), g(z))


def test_dropping_leaves_the_shared_model_untouched(tiny_config):
    g = Generator(tiny_config).eval()
    z = torch.rand(2, tiny_config.nz)
    before = g(z)
    g(z, drop={2: list(range(8))})
    assert torch.equal(g(z), before)


def test_dropping_in_an_unknown_layer_or_map_is_refused(tiny_config):
    g = Generator(tiny_config)
    z = torch.rand(2, tiny_config.nz)
    with pytest.raises(ValueError, match="hidden layers 0..2"):
        g(z, drop={3: [0]})
    with pytest.raises(ValueError, match="feature maps 0..7"):
        g(z, drop={2: [8]})


def test_discriminator_returns_every_layers_features(tiny_config):
    d = Discriminator(tiny_config).eval()
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    logits, feats = d(x), every_layer_maps(d, x)
    assert [f.shape[1:] for f in feats] == [(8, 16, 16), (16, 8, 8), (32, 4, 4)]
    assert torch.equal(logits, d(x))


def test_config_rejects_unsupported_values():
    with pytest.raises(ValueError, match="image_size must be one of"):
        ModelConfig(image_size=48)
    with pytest.raises(ValueError, match="channels must be 1 or 3"):
        ModelConfig(channels=2)
    with pytest.raises(ValueError, match="z_prior"):
        ModelConfig(z_prior="cauchy")


def test_config_round_trips_through_a_dict():
    cfg = ModelConfig(image_size=128, nz=64, ngf=32, ndf=16, channels=1, z_prior="normal")
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
