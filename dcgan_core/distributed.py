"""Several processes training one DCGAN: PyTorch's own DistributedDataParallel, launched by torchrun.

    torchrun --nproc_per_node 4 -m dcgan_core.cli train --dataset rooms --out runs/rooms64

torchrun starts one process per GPU and tells each who it is through RANK, WORLD_SIZE and
LOCAL_RANK (and where to meet through MASTER_ADDR/MASTER_PORT); `init_from_env` joins that
process group (NCCL on CUDA, one GPU per process; gloo on CPU). Each process trains on its own
share of every step's data, DDP averages the gradients so all copies stay identical, and rank 0
alone writes metrics, samples and checkpoints. Without torchrun every helper here is a no-op
(rank 0 of 1), so the single-process code path stays exactly as it was.

The `dcgan train` command joins and leaves the group itself; a script of your own does the same:

    distributed.init_from_env(torch.device("cuda"))
    try:
        Trainer(config).run()
    finally:
        distributed.shutdown()
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

TORCHRUN_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
# Rank 0 may render a procedural data set (a few minutes for 50k images) while the others wait
# at a barrier; NCCL's default of 10 minutes is too short for the large ones.
TIMEOUT = timedelta(minutes=30)


def launched_by_torchrun() -> bool:
    """True when torchrun (or torch.distributed.run) started this process: it sets these variables."""
    return all(v in os.environ for v in TORCHRUN_VARS)


def check_joined() -> None:
    """Refuse to train alone in a process that torchrun started as one of several: each would write the same run."""
    if launched_by_torchrun() and int(os.environ["WORLD_SIZE"]) > 1 and not is_active():
        raise RuntimeError(
            f"torchrun started {os.environ['WORLD_SIZE']} processes but this one joined no process group; "
            "call dcgan_core.distributed.init_from_env(device) before building the Trainer (`dcgan train` does)"
        )


def init_from_env(device: torch.device) -> None:
    """Join the process group torchrun described: NCCL with one GPU per process on CUDA, gloo on CPU.

    `device` is the device the run asked for; on CUDA this process takes cuda:LOCAL_RANK.
    """
    if is_active():
        return
    if device.type == "mps":
        raise ValueError("distributed training runs on CUDA (NCCL) or on CPU (gloo), not on MPS; use --device cpu")
    if device.type == "cuda":
        local = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
        torch.cuda.set_device(local)
        # device_id binds the group to this GPU: barriers and NCCL communicators then never touch another GPU
        dist.init_process_group("nccl", timeout=TIMEOUT, device_id=local)
    else:
        dist.init_process_group("gloo", timeout=TIMEOUT)


def shutdown() -> None:
    """Leave the process group (also after an error), so no process exits with it half open."""
    if is_active():
        dist.destroy_process_group()


def is_active() -> bool:
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    return dist.get_rank() if is_active() else 0


def world_size() -> int:
    return dist.get_world_size() if is_active() else 1


def is_main() -> bool:
    """Rank 0: the one process that writes files and shows progress."""
    return rank() == 0


def local_device(device: torch.device) -> torch.device:
    """The device this process trains on: cuda:LOCAL_RANK under torchrun (one GPU per process)."""
    if is_active() and device.type == "cuda":
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return device


def barrier() -> None:
    """Wait until every process gets here (e.g. until rank 0 has written a file the others read)."""
    if is_active():
        dist.barrier()


@contextlib.contextmanager
def main_first() -> Iterator[None]:
    """Rank 0 runs the block first (e.g. renders and caches a data set), then the others (who read the cache)."""
    if not is_main():
        barrier()
    try:
        yield
    finally:
        if is_main():
            barrier()  # also on error: the others then fail on their own instead of waiting for the timeout


def mean_over_ranks(t: torch.Tensor) -> torch.Tensor:
    """The mean of `t` over all processes (a copy): logged losses cover every rank's data, and a NaN on
    any rank stops every rank at the same step instead of leaving the others waiting in a collective."""
    t = t.clone()
    if is_active() and world_size() > 1:
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        t /= world_size()
    return t


def wrap(module: nn.Module, device: torch.device, sync_bn: bool = False) -> nn.Module:
    """`module` inside DistributedDataParallel when several processes train; `module` itself otherwise.

    The module keeps its identity (DDP holds it as `.module`), so checkpoints are written from the
    plain module and load in a single process. DDP broadcasts rank 0's weights and buffers at
    construction and averages gradients in backward. D runs twice (real, then fake) before one
    backward: fine without find_unused_parameters, since autograd sums both uses and each
    parameter's hook fires once. Buffers are not re-broadcast at every forward
    (`broadcast_buffers=False`): on CUDA, BatchNorm saves its running statistics for backward, and
    the broadcast before D's second forward overwrites them in place, which autograd refuses ("modified
    by an inplace operation"; seen with NCCL on an H200). Running statistics only matter at eval time,
    and rank 0, which writes the checkpoints, keeps its own. `sync_bn` swaps BatchNorm for
    SyncBatchNorm (statistics of the global batch instead of each process's share); same parameters
    and state-dict keys, so checkpoints do not change.
    """
    if not is_active():
        return module
    if sync_bn:
        if device.type != "cuda":
            raise ValueError("--sync-bn needs CUDA: torch's SyncBatchNorm does not run on CPU")
        converted = nn.SyncBatchNorm.convert_sync_batchnorm(module)  # swaps children in place, same tensors
        assert converted is module
    with warnings.catch_warnings():
        # torch 2.13 deprecates broadcast_buffers for forward_sync_buffers, but forward_sync_buffers=False still syncs
        # at init, and its own warning says to keep broadcast_buffers=False until init_sync_buffers exists
        warnings.filterwarnings("ignore", message="`broadcast_buffers` is deprecated", category=FutureWarning)
        return DistributedDataParallel(module, device_ids=[device.index] if device.type == "cuda" else None, broadcast_buffers=False)


def no_sync(module: nn.Module):
    """A context in which DDP does not average `module`'s gradients (a no-op for a plain module).

    The G step backpropagates through D to reach G; D's gradients from it are thrown away (D's optimizer
    zeroes them before its next step), so averaging them over the processes would be wasted traffic.
    """
    return module.no_sync() if isinstance(module, DistributedDataParallel) else contextlib.nullcontext()
