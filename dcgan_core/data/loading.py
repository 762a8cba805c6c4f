"""Feeding batches to the trainer in an order that depends only on (seed, step).

Because batch k of a run is a pure function of the run's seed and k, an interrupted
run resumes on exactly the batches it would have seen: no sampler state to save.
With several processes (torchrun) each rank gets a disjoint share of every step's data,
still a pure function of (seed, step, rank, number of processes).

Small data sets (the procedural ones, CIFAR-10, MNIST) are held in memory as uint8
(on the GPU when training there); procedural renders are cached on disk, keyed by
the renderer's source, so a second run starts at once. Large ones (image folders,
LSUN) stream through a DataLoader.
"""

from __future__ import annotations

import hashlib
import inspect
import math
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler
from tqdm.auto import tqdm

from ..files import atomic_write
from ..images import pixels_to_unit, unit_to_pixels


def epoch_permutation(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The order of a data set of size n in a given epoch of a run."""
    g = torch.Generator().manual_seed((seed * 1_000_003 + epoch * 7_919 + 12_345) % (2**63))
    return torch.randperm(n, generator=g)


def batch_indices(n: int, batch_size: int, seed: int, step: int) -> torch.Tensor:
    """Indices of batch `step` (0-based) of a run: epochs of full batches, a fresh shuffle each epoch."""
    per_epoch = n // batch_size
    if per_epoch == 0:
        raise ValueError(f"the data set has {n} images, fewer than one batch of {batch_size}; use a smaller --batch-size")
    epoch, k = divmod(step, per_epoch)
    return epoch_permutation(n, seed, epoch)[k * batch_size : (k + 1) * batch_size]


def shard_indices(n: int, batch_size: int, seed: int, step: int, rank: int = 0, world_size: int = 1) -> torch.Tensor:
    """Rank `rank`'s `batch_size` images of step `step` when `world_size` processes train together.

    The step's global batch is `batch_indices` with batch_size x world_size images, cut into
    world_size disjoint slices, so the ranks never see the same image in a step. With one
    process it is `batch_indices` itself (single-process runs are unchanged).
    """
    return batch_indices(n, batch_size * world_size, seed, step)[rank * batch_size : (rank + 1) * batch_size]


def cache_dir() -> Path:
    """Where rendered data sets are cached: $DCGAN_CACHE_DIR or ~/.cache/dcgan-explorer."""
    return Path(os.environ.get("DCGAN_CACHE_DIR", Path.home() / ".cache" / "dcgan-explorer"))


def _renderer_fingerprint(dataset: Dataset) -> str:
    """Hash of the module that renders the data set, so editing the renderer invalidates the cache."""
    try:
        src = inspect.getsource(inspect.getmodule(type(dataset)))
    except (OSError, TypeError):
        src = type(dataset).__qualname__
    return hashlib.sha1(src.encode()).hexdigest()[:10]


RENDER_CHUNK = 1024
"""Images per task when rendering in worker processes: big enough that a task outweighs its overhead."""


def render_workers() -> int:
    """Processes `materialize` renders with by default: $DCGAN_RENDER_WORKERS, else the usable cores (at most 16)."""
    env = os.environ.get("DCGAN_RENDER_WORKERS")
    if env:
        try:
            n = int(env)
        except ValueError:
            raise ValueError(f"DCGAN_RENDER_WORKERS must be a whole number, got {env!r}") from None
        return max(1, n)
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        cores = os.cpu_count() or 1
    return max(1, min(cores, 16))


def _render_range(dataset: Dataset, start: int, stop: int) -> tuple[int, np.ndarray]:
    """Items start..stop-1 as uint8: the unit of work of one render task (runs in a worker process)."""
    torch.set_num_threads(1)  # one process per core already: no nested thread pools
    block = torch.stack([dataset[i] for i in range(start, stop)])
    return start, unit_to_pixels(block).numpy()


def _render_parallel(dataset: Dataset, out: torch.Tensor, workers: int, chunk: int, bar) -> None:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # fork starts at once and shares the imported modules; the workers touch no CUDA state, so
    # forking after the parent has initialised CUDA is safe. Elsewhere (macOS, Windows) spawn.
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    n = len(dataset)
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method)) as pool:
        tasks = [pool.submit(_render_range, dataset, s, min(s + chunk, n)) for s in range(0, n, chunk)]
        for done in as_completed(tasks):
            start, block = done.result()
            out[start : start + len(block)] = torch.from_numpy(block)
            bar.update(len(block))


def materialize(
    dataset: Dataset,
    cache_key: str | None = None,
    progress: bool = True,
    workers: int | None = None,
    chunk: int = RENDER_CHUNK,
) -> torch.Tensor:
    """Every item of `dataset` as one uint8 (N, C, H, W) tensor, cached on disk under `cache_key`.

    Rendering 50,000 procedural images takes about a minute on one core, so data sets of more
    than two chunks are rendered by `workers` processes (default `render_workers()`); items
    are pure functions of their index, so the result is the same whatever the worker count.
    """
    path = None
    if cache_key is not None:
        path = cache_dir() / f"{cache_key}-{_renderer_fingerprint(dataset)}.npy"
        if path.exists():
            try:
                return torch.from_numpy(np.load(path, mmap_mode=None))
            except (OSError, ValueError):
                path.unlink(missing_ok=True)  # damaged cache: render again
    if chunk < 1:
        raise ValueError(f"chunk must be at least 1, got {chunk}")
    workers = render_workers() if workers is None else max(1, int(workers))
    first = dataset[0]
    n = len(dataset)
    out = torch.empty((n, *first.shape), dtype=torch.uint8)
    with tqdm(total=n, desc=f"preparing {cache_key or 'data'}", disable=not progress, unit="img", mininterval=1.0) as bar:
        if workers > 1 and n > 2 * chunk:
            _render_parallel(dataset, out, min(workers, math.ceil(n / chunk)), chunk, bar)
        else:
            for i in range(n):
                out[i] = unit_to_pixels(dataset[i])
                bar.update(1)
    if path is not None:
        try:
            with atomic_write(path) as f:
                np.save(f, out.numpy())
        except OSError as e:  # a full or read-only cache disk costs a re-render next time, not this run
            warnings.warn(f"could not cache the rendered data set at {path} ({e.strerror or e}); "
                          "it will be rendered again next time (set DCGAN_CACHE_DIR to a writable folder)", stacklevel=2)
    return out


class InMemoryBatches:
    """Batches from a uint8 (N, C, H, W) tensor kept on the training device (this rank's share, see `shard_indices`)."""

    def __init__(self, images: torch.Tensor, batch_size: int, seed: int, device: torch.device,
                 rank: int = 0, world_size: int = 1):
        self.images = images.to(device)
        self.batch_size, self.seed, self.device = batch_size, seed, device
        self.rank, self.world_size = rank, world_size

    def __len__(self) -> int:
        return len(self.images)

    def iterate(self, start_step: int) -> Iterator[torch.Tensor]:
        """Float batches in [-1, 1] for steps start_step, start_step + 1, ..."""
        step = start_step
        while True:
            idx = shard_indices(len(self.images), self.batch_size, self.seed, step, self.rank, self.world_size)
            idx = idx.to(self.device)
            yield pixels_to_unit(self.images.index_select(0, idx))
            step += 1


class _StepBatchSampler(Sampler[list[int]]):
    def __init__(self, n: int, batch_size: int, seed: int, start_step: int):
        self.n, self.batch_size, self.seed, self.start_step = n, batch_size, seed, start_step

    def __iter__(self):
        step = self.start_step
        while True:
            yield batch_indices(self.n, self.batch_size, self.seed, step).tolist()
            step += 1

    def __len__(self) -> int:  # endless; DataLoader only needs it for len()
        return 2**62


class _DistributedStepBatchSampler(Sampler[list[int]]):
    """This rank's batches for steps start_step, start_step + 1, ... when several processes train.

    torch's DistributedSampler shuffles each epoch (seeded by the run's seed and the epoch) and
    deals it into disjoint per-rank shares; the share is cut into batches, so batch k is still a
    pure function of (seed, k, rank, number of processes) and a resumed run needs no sampler state.
    """

    def __init__(self, dataset: Dataset, batch_size: int, seed: int, start_step: int, rank: int, world_size: int):
        self.sampler = DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=seed,
                                          drop_last=True)
        self.batch_size, self.start_step = batch_size, start_step
        self.per_epoch = len(self.sampler) // batch_size
        if self.per_epoch == 0:
            raise ValueError(
                f"the data set has {len(dataset)} images, fewer than one batch of {batch_size} for each of "
                f"{world_size} processes; use a smaller --batch-size"
            )

    def __iter__(self):
        epoch, k = divmod(self.start_step, self.per_epoch)
        while True:
            self.sampler.set_epoch(epoch)
            share = list(self.sampler)
            for j in range(k, self.per_epoch):
                yield share[j * self.batch_size : (j + 1) * self.batch_size]
            epoch, k = epoch + 1, 0

    def __len__(self) -> int:  # endless
        return 2**62


class StreamingBatches:
    """Batches decoded on the fly by DataLoader workers, for data sets too big for memory."""

    def __init__(self, dataset: Dataset, batch_size: int, seed: int, device: torch.device, num_workers: int = 2,
                 rank: int = 0, world_size: int = 1):
        self.dataset, self.batch_size, self.seed, self.device = dataset, batch_size, seed, device
        self.num_workers = num_workers
        self.rank, self.world_size = rank, world_size

    def __len__(self) -> int:
        return len(self.dataset)

    def iterate(self, start_step: int) -> Iterator[torch.Tensor]:
        if self.world_size > 1:
            sampler = _DistributedStepBatchSampler(self.dataset, self.batch_size, self.seed, start_step,
                                                   self.rank, self.world_size)
        else:
            sampler = _StepBatchSampler(len(self.dataset), self.batch_size, self.seed, start_step)
        loader = DataLoader(
            self.dataset,
            batch_sampler=sampler,
            num_workers=self.num_workers,
            pin_memory=self.device.type == "cuda",
            persistent_workers=False,
            prefetch_factor=4 if self.num_workers else None,
        )
        for batch in loader:
            yield batch.to(self.device, non_blocking=True)
