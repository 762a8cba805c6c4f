"""Importing pytorch/examples' dcgan checkpoints: same layer layout, same images."""

import pytest
import torch
from torch import nn

from dcgan_core.checkpoints import load_model
from dcgan_core.safetensors_files import CheckpointError
from dcgan_core.cli import main
from dcgan_core.convert import import_pytorch_examples
from dcgan_core.reference import ExamplesDiscriminator, ExamplesGenerator


def _randomise_batchnorm(net):
    """Fresh BatchNorm stats are 0/1, which would hide a mix-up between layers."""
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.1)
            m.running_var.uniform_(0.5, 2)
            m.weight.data.normal_(1, 0.1)
            m.bias.data.normal_(0, 0.1)


@pytest.fixture
def examples_files(tmp_path):
    torch.manual_seed(1)
    g, d = ExamplesGenerator(ngf=16), ExamplesDiscriminator(ndf=8)
    _randomise_batchnorm(g)
    _randomise_batchnorm(d)
    torch.save(g.state_dict(), tmp_path / "netG_epoch_24.pth")
    torch.save(d.state_dict(), tmp_path / "netD_epoch_24.pth")
    return g.eval(), d.eval(), tmp_path


def test_imported_generator_makes_the_same_images(examples_files):
    g, _, path = examples_files
    ckpt = import_pytorch_examples(path / "netG_epoch_24.pth", out_path=path / "imported.safetensors")
    assert (ckpt.model_config.image_size, ckpt.model_config.nz, ckpt.model_config.ngf) == (64, 100, 16)
    assert ckpt.model_config.z_prior == "normal"  # pytorch/examples draws z from N(0, 1)
    ours = load_model(path / "imported.safetensors").generator
    z = torch.randn(3, 100, 1, 1)
    with torch.no_grad():
        assert torch.allclose(ours(z), g(z), atol=1e-6)


def test_imported_discriminator_gives_the_logit_of_their_probability(examples_files):
    _, d, path = examples_files
    import_pytorch_examples(path / "netG_epoch_24.pth", path / "netD_epoch_24.pth", out_path=path / "i.safetensors")
    ours = load_model(path / "i.safetensors").discriminator
    assert ours.config.ndf == 8
    x = torch.rand(4, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(torch.sigmoid(ours(x)), d(x).flatten(), atol=1e-6)


def test_data_parallel_prefixes_are_accepted(examples_files, tmp_path):
    g, _, path = examples_files
    torch.save({f"module.{k}": v for k, v in g.state_dict().items()}, tmp_path / "dp.pth")
    assert import_pytorch_examples(tmp_path / "dp.pth").model_config.ngf == 16


def test_a_pickle_with_code_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"main.0.weight": Evil()}, tmp_path / "evil.pth")
    with pytest.raises(CheckpointError, match="plain state dict"):
        import_pytorch_examples(tmp_path / "evil.pth")


def test_an_unrelated_state_dict_is_refused(tmp_path):
    torch.save({"fc.weight": torch.zeros(3, 3)}, tmp_path / "other.pth")
    with pytest.raises(CheckpointError, match="not a pytorch/examples dcgan"):
        import_pytorch_examples(tmp_path / "other.pth")


def test_cli_import_then_sample(examples_files, tmp_path):
    _, _, path = examples_files
    out = tmp_path / "imported.safetensors"
    assert main(["import", "--generator", str(path / "netG_epoch_24.pth"), "--discriminator",
                 str(path / "netD_epoch_24.pth"), "--out", str(out)]) == 0
    assert main(["sample", "--model", str(out), "--n", "4", "--out", str(tmp_path / "s.png")]) == 0
