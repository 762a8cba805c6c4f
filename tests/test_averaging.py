"""The average of G's weights (--g-ema): what it averages, that it resumes exactly, and that it is what ships."""

import pytest
import torch

from dcgan_core.averaging import GeneratorAverage, recalibrate_batchnorm, warmed_up_decay
from dcgan_core.checkpoints import export_model, load_checkpoint, load_model
from dcgan_core.latent import sample_z
from dcgan_core.models import Generator, ModelConfig
from dcgan_core.train import TrainConfig, Trainer
from train_support import straight_and_resumed, tiny_run

TINY = ModelConfig(image_size=32, nz=16, ngf=8, ndf=8, channels=3)


def _params(g):
    return torch.cat([p.detach().flatten() for p in g.parameters()])


def test_the_average_moves_towards_g_by_one_minus_the_decay():
    torch.manual_seed(0)
    g = Generator(TINY)
    average = GeneratorAverage(g, decay=0.5, updates=100)  # past the warm-up: decay 0.5 exactly
    start = _params(average.average).clone()
    with torch.no_grad():
        for p in g.parameters():
            p.add_(1.0)
    average.update(g)
    assert torch.allclose(_params(average.average), start + 0.5, atol=1e-6)
    assert average.updates == 101


def test_the_first_updates_follow_g_closely_then_the_decay_takes_over():
    assert warmed_up_decay(0.999, 0) == pytest.approx(0.1)
    assert warmed_up_decay(0.999, 90) == pytest.approx(0.91)
    assert warmed_up_decay(0.999, 100_000) == 0.999


def test_recalibrated_batchnorm_holds_the_exact_statistics_of_the_codes():
    torch.manual_seed(0)
    g = Generator(TINY)
    calibrated = recalibrate_batchnorm(g, batches=2, batch_size=8, seed=3)
    first_norm = next(m for m in calibrated.modules() if isinstance(m, torch.nn.BatchNorm2d))
    # the first BatchNorm sees the first block's conv output: its mean over both batches, exactly
    conv = calibrated.blocks[0][0]
    z = torch.cat([sample_z(8, TINY, seed=3), sample_z(8, TINY, seed=4)])
    with torch.no_grad():
        h = conv(z.view(16, TINY.nz, 1, 1))
    assert torch.allclose(first_norm.running_mean, h.mean(dim=(0, 2, 3)), atol=1e-5)
    assert not calibrated.training and g.training  # a copy in eval mode; g is left as it was


def test_a_run_with_the_average_resumes_to_the_same_average(tmp_path):
    a, b = straight_and_resumed(lambda out: tiny_run(out, g_ema=0.9), tmp_path)
    assert a.generator_ema is not None and b.step == 6
    assert all(torch.equal(a.generator_ema[k], b.generator_ema[k]) for k in a.generator_ema)
    assert a.meta["g_ema_updates"] == b.meta["g_ema_updates"] == 6


def test_the_average_can_be_turned_on_when_resuming_and_says_since_when(tmp_path):
    Trainer(tiny_run(tmp_path / "run")).run()
    assert load_checkpoint(tmp_path / "run" / "checkpoints" / "last.safetensors").generator_ema is None
    Trainer.resume(tmp_path / "run", steps=9, g_ema=0.99).run()
    ckpt = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.safetensors")
    assert ckpt.meta["g_ema_since"] == 6 and ckpt.meta["g_ema_updates"] == 3
    # started from a trained G, the average needs no warm-up: it keeps 0.99**3 of the step-6 weights
    resumed = Trainer.resume(tmp_path / "run")
    assert resumed.average.warm_up is False and resumed.average.since == 6


def test_the_average_is_what_loads_and_what_export_ships(tmp_path):
    Trainer(tiny_run(tmp_path / "run", g_ema=0.9)).run()
    ckpt = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.safetensors")
    loaded = load_model(tmp_path / "run").generator.state_dict()
    assert all(torch.equal(loaded[k], ckpt.generator_ema[k]) for k in loaded)
    assert not all(torch.equal(ckpt.generator[k], ckpt.generator_ema[k]) for k in ckpt.generator)  # not G itself
    exported = export_model(tmp_path / "run", tmp_path / "model.safetensors", dtype=None)
    shipped = load_checkpoint(tmp_path / "model.safetensors")
    assert shipped.generator_ema is None and exported.meta["generator"].startswith("average of G's weights (decay 0.9")
    assert all(torch.equal(shipped.generator[k], ckpt.generator_ema[k]) for k in shipped.generator)


def test_an_average_of_the_wrong_shape_is_refused_before_loading(tmp_path):
    from dcgan_core.checkpoints import Checkpoint, save_checkpoint
    from dcgan_core.safetensors_files import CheckpointError

    g = Generator(TINY).state_dict()
    wrong = {k: (v[:1] if v.dim() > 1 else v).clone() for k, v in g.items()}
    save_checkpoint(tmp_path / "bad.safetensors", Checkpoint(model_config=TINY, generator=g, generator_ema=wrong))
    with pytest.raises(CheckpointError, match="generator_ema"):
        load_checkpoint(tmp_path / "bad.safetensors")


def test_a_decay_out_of_range_is_refused_with_the_reason():
    with pytest.raises(ValueError, match="g_ema must be a decay in"):
        TrainConfig(g_ema=1.0)
