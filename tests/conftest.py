"""Shared fixtures: tiny models and an isolated cache so tests never touch the user's files."""

import pytest
import torch

from dcgan_core.models import ModelConfig


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("DCGAN_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("DCGAN_BACKGROUND_REFITS", "0")  # no refits in the background unless a test turns them on
    torch.manual_seed(0)


@pytest.fixture
def tiny_config() -> ModelConfig:
    """An 8-channel, 32-px model: big enough to have every kind of layer, small enough to run in milliseconds."""
    return ModelConfig(image_size=32, nz=16, ngf=8, ndf=8)


@pytest.fixture(scope="module")
def one_torch_thread():
    """Run a module's tests on one torch thread, then restore the setting."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def calibrated_discriminator(tiny_config):
    """A tiny D in eval mode, frozen, with BatchNorm statistics measured on random images (not the trivial 0 / 1)."""
    from dcgan_core.analysis.guided_backprop import calibrate_batchnorm
    from dcgan_core.models import Discriminator

    torch.manual_seed(1)
    d = Discriminator(tiny_config)
    calibrate_batchnorm(d, torch.rand(16, 3, 32, 32) * 2 - 1)
    return d.eval().requires_grad_(False)
