"""The GPU path: bf16 autocast and channels_last on CUDA, exact resume there, NCCL under torchrun, SyncBatchNorm.

These need a CUDA GPU and are skipped without one (CI has none). Run them where there is one:

    python -m pytest -q tests/test_cuda.py
"""

import json

import pytest
import torch

from dcgan_core.checkpoints import load_checkpoint, load_model
from dcgan_core.cli import main
from dcgan_core.generate import generate
from dcgan_core.latent import sample_z
from dcgan_core.train import TrainConfig, Trainer
from train_support import straight_and_resumed, tiny_run

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

TINY = ["--dataset", "rooms", "--image-size", "32", "--nz", "16", "--ngf", "8", "--ndf", "8", "--batch-size", "16",
        "--dataset-size", "64", "--log-every", "2", "--sample-every", "4", "--checkpoint-every", "2",
        "--device", "cuda", "--no-progress"]


def cuda_run(out_dir, **overrides) -> TrainConfig:
    """The CPU tests' tiny run, on CUDA with the precision it picks there."""
    return tiny_run(out_dir, **{"device": "cuda", "precision": "auto", **overrides})


def _states_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_cuda_training_picks_bf16_and_channels_last_and_d_learns(tmp_path):
    trainer = Trainer(cuda_run(tmp_path / "run", steps=40, log_every=40, sample_every=40, checkpoint_every=40))
    assert trainer.precision == "bf16"  # every CUDA GPU since Ampere has it
    first_conv = trainer.discriminator.blocks[0][0].weight
    assert first_conv.is_cuda and first_conv.is_contiguous(memory_format=torch.channels_last)
    result = trainer.run()
    assert result.last_record["d_real"] > result.last_record["d_fake"]
    # the checkpoint is plain float32 weights: it serves on a machine without a GPU
    ckpt = load_checkpoint(result.checkpoint)
    assert all(v.device.type == "cpu" and v.dtype in (torch.float32, torch.int64) for v in ckpt.generator.values())


def test_a_cuda_checkpoint_generates_the_same_images_on_cpu(tmp_path):
    result = Trainer(cuda_run(tmp_path / "run")).run()
    on_gpu, on_cpu = load_model(result.checkpoint, device="cuda"), load_model(result.checkpoint, device="cpu")
    z = sample_z(16, on_cpu.config, seed=0)
    a = generate(on_gpu.generator, z).astype(int)
    b = generate(on_cpu.generator, z).astype(int)
    assert abs(a - b).max() <= 2  # uint8 images: float32 on both, different kernels


def test_a_run_killed_on_cuda_resumes_to_the_same_weights(tmp_path):
    a, b = straight_and_resumed(cuda_run, tmp_path)
    assert b.step == 6
    assert _states_equal(a.generator, b.generator) and _states_equal(a.discriminator, b.discriminator)


def test_one_process_under_torchrun_with_nccl_and_sync_bn_trains_and_a_plain_process_loads_it(tmp_path, monkeypatch):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for k, v in dict(RANK="0", WORLD_SIZE="1", LOCAL_RANK="0", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port)).items():
        monkeypatch.setenv(k, v)
    assert main(["train", *TINY, "--steps", "4", "--out", str(tmp_path / "ddp"), "--distributed", "--sync-bn"]) == 0
    assert not torch.distributed.is_initialized()
    run = tmp_path / "ddp"
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [2, 4]
    model = load_model(run / "checkpoints" / "last.safetensors")  # SyncBatchNorm saved under BatchNorm's names
    assert type(model.generator.blocks[0][1]).__name__ == "BatchNorm2d"
    assert model.checkpoint.train_config["sync_bn"] is True


def test_one_process_under_torchrun_with_nccl_trains_exactly_like_a_plain_cuda_run(tmp_path, monkeypatch):
    import socket

    assert main(["train", *TINY, "--steps", "4", "--out", str(tmp_path / "plain")]) == 0
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for k, v in dict(RANK="0", WORLD_SIZE="1", LOCAL_RANK="0", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port)).items():
        monkeypatch.setenv(k, v)
    assert main(["train", *TINY, "--steps", "4", "--out", str(tmp_path / "ddp"), "--distributed"]) == 0
    a = load_checkpoint(tmp_path / "plain" / "checkpoints" / "last.safetensors")
    b = load_checkpoint(tmp_path / "ddp" / "checkpoints" / "last.safetensors")
    assert _states_equal(a.generator, b.generator) and _states_equal(a.discriminator, b.discriminator)
