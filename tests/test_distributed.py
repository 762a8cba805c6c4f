"""Multi-process training (torchrun + DistributedDataParallel, gloo on CPU loopback).

Two processes train a tiny model: they end with identical weights, rank 0 alone writes the
run folder, its checkpoint loads and generates in a single process, and a single process
resumes it. A one-process torchrun run matches a plain run bit for bit, and the data each
rank sees is a disjoint share of the step's data.
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from torch.utils.data import TensorDataset

from dcgan_core.checkpoints import load_checkpoint, load_model
from dcgan_core.cli import EXIT_USAGE, main
from dcgan_core.data.loading import (
    InMemoryBatches,
    _DistributedStepBatchSampler,
    _StepBatchSampler,
    batch_indices,
    shard_indices,
)
from dcgan_core.latent import sample_z
from dcgan_core.models import Generator
from dcgan_core.train import TrainConfig, Trainer, _noise_generator

WORKER = Path(__file__).with_name("ddp_worker.py")
TINY = ["--dataset", "rooms", "--image-size", "32", "--nz", "16", "--ngf", "8", "--ndf", "8", "--batch-size", "16",
        "--dataset-size", "64", "--log-every", "2", "--sample-every", "2", "--checkpoint-every", "2",
        "--device", "cpu", "--precision", "fp32", "--no-progress"]
BN_STATS = ("running_mean", "running_var", "num_batches_tracked")


def _torchrun(nproc: int, *args) -> subprocess.CompletedProcess:
    """What a user types, as a subprocess: torchrun picks a free port itself (--standalone)."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc), *map(str, args)]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)


def _as_torchrun_rank0_of_1(monkeypatch) -> None:
    """The environment torchrun gives a single worker, so the CLI joins a one-process gloo group in this process."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for k, v in dict(RANK="0", WORLD_SIZE="1", LOCAL_RANK="0", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port)).items():
        monkeypatch.setenv(k, v)


def test_two_processes_stay_identical_and_rank0_writes_a_checkpoint_a_single_process_loads_and_resumes(tmp_path):
    run, dumps = tmp_path / "run", tmp_path / "dumps"
    out = _torchrun(2, WORKER, dumps, "train", *TINY, "--steps", "4", "--out", run, "--distributed")
    assert out.returncode == 0, out.stdout + out.stderr

    # (a) DDP kept the two copies identical: every parameter, bit for bit
    r0, r1 = load_file(dumps / "rank0.safetensors"), load_file(dumps / "rank1.safetensors")
    params = [k for k in r0 if not k.endswith(BN_STATS)]
    assert r0.keys() == r1.keys() and len(params) > 10
    assert all(torch.equal(r0[k], r1[k]) for k in params)
    # ...although the ranks trained on different images and noise: BatchNorm running statistics
    # are updated by each rank's own last forward pass, so they differ
    running = [k for k in r0 if k.endswith("running_mean")]
    assert all(not torch.equal(r0[k], r1[k]) for k in running)

    # rank 0 alone wrote the run folder: one record per log step, one grid per sample step, one message
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [2, 4]
    assert records[-1]["images_seen"] == 4 * 16 * 2  # --batch-size is per process
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["step_000002.png", "step_000004.png"]
    assert out.stderr.count("training rooms") == 1 and "x 2 processes" in out.stderr

    # (b) the checkpoint holds rank 0's trained weights and loads and generates in a single process
    model = load_model(run / "checkpoints" / "last.safetensors")
    assert model.checkpoint.step == 4 and model.checkpoint.meta["processes"] == 2
    assert all(torch.equal(v, r0[f"generator.{k}"]) for k, v in model.generator.state_dict().items())
    torch.manual_seed(0)
    untrained = Generator(model.config).state_dict()
    assert not torch.equal(untrained["blocks.0.0.weight"], model.generator.state_dict()["blocks.0.0.weight"])
    with torch.no_grad():
        images = model.generator(sample_z(4, model.config, seed=0))
    assert images.shape == (4, 3, 32, 32) and torch.isfinite(images).all()

    # (c) a single process resumes the two-process run from its step
    assert main(["train", "--resume", str(run), "--steps", "6", "--no-progress"]) == 0
    resumed = load_checkpoint(run / "checkpoints" / "last.safetensors")
    assert resumed.step == 6 and resumed.meta["processes"] == 1
    assert resumed.meta["images_seen"] == 4 * 16 * 2 + 2 * 16
    assert [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()] == [2, 4, 6]
    assert not torch.equal(resumed.generator["blocks.0.0.weight"], model.checkpoint.generator["blocks.0.0.weight"])


def test_one_process_under_torchrun_trains_exactly_like_a_plain_run(tmp_path, monkeypatch):
    assert main(["train", *TINY, "--steps", "4", "--out", str(tmp_path / "plain")]) == 0
    _as_torchrun_rank0_of_1(monkeypatch)
    assert main(["train", *TINY, "--steps", "4", "--out", str(tmp_path / "ddp"), "--distributed"]) == 0
    assert not torch.distributed.is_initialized()  # the CLI left the process group
    a = load_checkpoint(tmp_path / "plain" / "checkpoints" / "last.safetensors")
    b = load_checkpoint(tmp_path / "ddp" / "checkpoints" / "last.safetensors")
    for name in ("generator", "discriminator"):
        sa, sb = getattr(a, name), getattr(b, name)
        assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
        oa, ob = a.optimizers[name]["state"], b.optimizers[name]["state"]
        assert all(torch.equal(oa[i]["exp_avg_sq"], ob[i]["exp_avg_sq"]) for i in oa)


def test_distributed_flags_fail_with_one_line_reasons(tmp_path, monkeypatch, capsys):
    assert main(["train", *TINY, "--steps", "2", "--out", str(tmp_path / "a"), "--distributed"]) == EXIT_USAGE
    assert "--distributed needs a torchrun launch" in capsys.readouterr().err
    _as_torchrun_rank0_of_1(monkeypatch)
    assert main(["train", *TINY, "--steps", "2", "--out", str(tmp_path / "b"), "--sync-bn"]) == EXIT_USAGE
    assert "--sync-bn needs CUDA" in capsys.readouterr().err
    assert not torch.distributed.is_initialized()  # left on error too
    # a script under torchrun that forgot to join the group would have N processes write one run folder
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(RuntimeError, match="joined no process group"):
        Trainer(TrainConfig(out_dir=str(tmp_path / "c"), device="cpu"))


def test_each_rank_gets_a_disjoint_share_of_the_steps_global_batch():
    n, bs = 100, 8
    for step in (0, 3, 7):  # 100 // 24 = 4 global batches per epoch: step 7 is in the second epoch
        assert torch.equal(shard_indices(n, bs, 5, step), batch_indices(n, bs, 5, step))  # one process: unchanged
        shares = [shard_indices(n, bs, 5, step, rank=r, world_size=3) for r in range(3)]
        assert all(len(s) == bs for s in shares)
        assert torch.equal(torch.cat(shares), batch_indices(n, 3 * bs, 5, step))
        assert len(set(torch.cat(shares).tolist())) == 3 * bs
    images = torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1)
    first = next(InMemoryBatches(images, bs, 5, torch.device("cpu"), rank=1, world_size=3).iterate(3))
    assert torch.equal(((first + 1) * 127.5).round().flatten().long(), shard_indices(n, bs, 5, 3, 1, 3))


def test_streamed_data_is_dealt_by_distributed_sampler_and_resumes_at_any_step():
    dataset, bs = TensorDataset(torch.zeros(50)), 4

    def batches(rank, start, count, world=2):
        it = iter(_DistributedStepBatchSampler(dataset, bs, 9, start, rank, world))
        return [next(it) for _ in range(count)]

    per_epoch = (50 // 2) // bs  # 6 batches of each rank's 25 images
    epoch0 = [i for b in batches(0, 0, per_epoch) + batches(1, 0, per_epoch) for i in b]
    assert len(epoch0) == len(set(epoch0)) == 2 * per_epoch * bs  # no image twice in an epoch, across ranks
    assert batches(1, 0, 10)[4:] == batches(1, 4, 6)  # starting at step 4 (a resume), across the epoch boundary
    assert batches(0, 0, 8)[per_epoch:] != batches(0, 0, per_epoch)[:2]  # each epoch is shuffled afresh
    # a single process keeps the seed-and-step sampler of before
    one = iter(_StepBatchSampler(50, bs, 9, 0))
    assert next(one) == batch_indices(50, bs, 9, 0).tolist()


def test_every_rank_draws_its_own_noise_and_rank0_keeps_the_single_process_noise():
    def draw(step, rank):
        return torch.rand(4, generator=_noise_generator(3, step, torch.device("cpu"), rank))

    g = torch.Generator().manual_seed((3 * 2_000_003 + 5 * 104_729 + 77) % (2**63))
    assert torch.equal(draw(5, 0), torch.rand(4, generator=g))
    assert torch.equal(draw(5, 1), draw(5, 1))
    drawn = [draw(step, rank) for step in range(20) for rank in range(4)]
    assert len({tuple(x.tolist()) for x in drawn}) == len(drawn)
