"""Checkpoints: bit-exact round trips, their own config inside, clear errors, no pickles."""

import json

import pytest
import torch

from dcgan_core.checkpoints import (
    Checkpoint,
    capture_rng_state,
    load_checkpoint,
    load_model,
    restore_rng_state,
    save_checkpoint,
)
from dcgan_core.models import build_models
from dcgan_core.safetensors_files import CheckpointError, read_metadata


def _trained_a_little(config):
    g, d = build_models(config)
    opt = torch.optim.Adam(g.parameters(), lr=1e-3, betas=(0.5, 0.999))
    for _ in range(2):
        opt.zero_grad()
        d(g(torch.rand(4, config.nz))).mean().backward()
        opt.step()
    return g, d, opt


def test_weights_round_trip_bit_exactly(tmp_path, tiny_config):
    g, d, _ = _trained_a_little(tiny_config)
    save_checkpoint(tmp_path / "m.safetensors", Checkpoint(tiny_config, g.state_dict(), d.state_dict(), step=7))
    back = load_checkpoint(tmp_path / "m.safetensors")
    assert back.model_config == tiny_config and back.step == 7
    for ours, theirs in ((g.state_dict(), back.generator), (d.state_dict(), back.discriminator)):
        assert ours.keys() == theirs.keys()
        assert all(torch.equal(ours[k], theirs[k]) for k in ours)


def test_optimizer_and_rng_state_round_trip(tmp_path, tiny_config):
    g, d, opt = _trained_a_little(tiny_config)
    rng = capture_rng_state()
    expected_next = torch.rand(3)
    save_checkpoint(tmp_path / "s.safetensors", Checkpoint(tiny_config, g.state_dict(), d.state_dict(),
                                                           optimizers={"generator": opt.state_dict()}, rng=rng))
    back = load_checkpoint(tmp_path / "s.safetensors")
    assert back.is_training_state
    fresh = torch.optim.Adam(g.parameters())
    fresh.load_state_dict(back.optimizers["generator"])
    assert fresh.param_groups[0]["lr"] == 1e-3 and tuple(fresh.param_groups[0]["betas"]) == (0.5, 0.999)
    for p in g.parameters():
        assert torch.equal(fresh.state[p]["exp_avg"], opt.state[p]["exp_avg"])
    torch.rand(100)  # move the global RNG on
    restore_rng_state(back.rng)
    assert torch.equal(torch.rand(3), expected_next)


def test_load_model_rebuilds_the_networks_from_the_stored_config(tmp_path, tiny_config):
    g, d, _ = _trained_a_little(tiny_config)
    save_checkpoint(tmp_path / "m.safetensors", Checkpoint(tiny_config, g.state_dict(), d.state_dict()))
    model = load_model(tmp_path / "m.safetensors")
    z = torch.rand(2, tiny_config.nz)
    assert torch.equal(model.generator(z), g.eval()(z))
    assert not model.generator.training
    assert model.discriminator is not None


def test_fp16_shipping_copy_is_half_the_size_and_loads_as_float32(tmp_path, tiny_config):
    g, d, _ = _trained_a_little(tiny_config)
    ck = Checkpoint(tiny_config, g.state_dict(), d.state_dict())
    save_checkpoint(tmp_path / "full.safetensors", ck)
    save_checkpoint(tmp_path / "half.safetensors", ck, dtype=torch.float16)
    assert (tmp_path / "half.safetensors").stat().st_size < 0.6 * (tmp_path / "full.safetensors").stat().st_size
    model = load_model(tmp_path / "half.safetensors")
    w = model.generator.blocks[0][0].weight
    assert w.dtype == torch.float32
    assert torch.allclose(w, g.blocks[0][0].weight, atol=1e-3)


def test_metadata_is_readable_without_loading_tensors(tmp_path, tiny_config):
    g, _, _ = _trained_a_little(tiny_config)
    save_checkpoint(tmp_path / "m.safetensors", Checkpoint(tiny_config, g.state_dict(), meta={"dataset": "rooms"}))
    meta = read_metadata(tmp_path / "m.safetensors")
    assert json.loads(meta["model_config"])["ngf"] == 8
    assert json.loads(meta["meta"]) == {"dataset": "rooms"}


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.safetensors does not exist"):
        load_checkpoint(tmp_path / "nope.safetensors")


def test_a_pickle_or_garbage_file_is_refused_not_executed(tmp_path):
    (tmp_path / "evil.pth").write_bytes(b"\x80\x04\x95" + b"cos\nsystem\n" + b"\x00" * 40)
    with pytest.raises(CheckpointError, match="not a safetensors"):
        load_checkpoint(tmp_path / "evil.pth")


def test_a_truncated_checkpoint_is_reported_as_damaged(tmp_path, tiny_config):
    g, _, _ = _trained_a_little(tiny_config)
    path = tmp_path / "m.safetensors"
    save_checkpoint(path, Checkpoint(tiny_config, g.state_dict()))
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(CheckpointError, match="damaged"):
        load_checkpoint(path)


def test_saving_is_atomic_a_failed_write_keeps_the_old_file(tmp_path, tiny_config, monkeypatch):
    g, _, _ = _trained_a_little(tiny_config)
    path = tmp_path / "m.safetensors"
    save_checkpoint(path, Checkpoint(tiny_config, g.state_dict(), step=1))
    import dcgan_core.safetensors_files as ck

    def broken_save(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(ck, "st_save", broken_save)
    with pytest.raises(OSError):
        save_checkpoint(path, Checkpoint(tiny_config, g.state_dict(), step=2))
    assert load_checkpoint(path).step == 1
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]  # no temp files left behind


def test_atomically_written_files_get_ordinary_permissions(tmp_path, tiny_config):
    import os

    g, _, _ = _trained_a_little(tiny_config)
    save_checkpoint(tmp_path / "m.safetensors", Checkpoint(tiny_config, g.state_dict()))
    (tmp_path / "plain").write_bytes(b"")
    assert os.stat(tmp_path / "m.safetensors").st_mode & 0o777 == os.stat(tmp_path / "plain").st_mode & 0o777
