"""Feeding batches to the trainer in an order that depends only on (seed, step).

Because batch k of a run is a pure function of the run's seed and k, an interrupted
run resumes on exactly the batches it would have seen: no sampler state to save.

Small data sets (the procedural ones, CIFAR-10, MNIST) are held in memory as uint8
(on the GPU when training there); procedural renders are cached on disk, keyed by
the renderer's source, so a second run starts at once. Large ones (image folders,
LSUN) stream through a DataLoader.
"""

from __future__ import annotations

import hashlib
import inspect
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler
from tqdm.auto import tqdm

from ..files import atomic_write


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


def materialize(dataset: Dataset, cache_key: str | None = None, progress: bool = True) -> torch.Tensor:
    """Every item of `dataset` as one uint8 (N, C, H, W) tensor, cached on disk under `cache_key`."""
    path = None
    if cache_key is not None:
        path = cache_dir() / f"{cache_key}-{_renderer_fingerprint(dataset)}.npy"
        if path.exists():
            try:
                return torch.from_numpy(np.load(path, mmap_mode=None))
            except (OSError, ValueError):
                path.unlink(missing_ok=True)  # damaged cache: render again
    first = dataset[0]
    out = torch.empty((len(dataset), *first.shape), dtype=torch.uint8)
    for i in tqdm(range(len(dataset)), desc=f"preparing {cache_key or 'data'}", disable=not progress, unit="img", mininterval=1.0):
        out[i] = ((dataset[i].clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    if path is not None:
        with atomic_write(path) as f:
            np.save(f, out.numpy())
    return out


class InMemoryBatches:
    """Batches from a uint8 (N, C, H, W) tensor kept on the training device."""

    def __init__(self, images: torch.Tensor, batch_size: int, seed: int, device: torch.device):
        self.images = images.to(device)
        self.batch_size, self.seed, self.device = batch_size, seed, device

    def __len__(self) -> int:
        return len(self.images)

    def iterate(self, start_step: int) -> Iterator[torch.Tensor]:
        """Float batches in [-1, 1] for steps start_step, start_step + 1, ..."""
        step = start_step
        while True:
            idx = batch_indices(len(self.images), self.batch_size, self.seed, step).to(self.device)
            yield self.images.index_select(0, idx).float().div_(127.5).sub_(1)
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


class StreamingBatches:
    """Batches decoded on the fly by DataLoader workers, for data sets too big for memory."""

    def __init__(self, dataset: Dataset, batch_size: int, seed: int, device: torch.device, num_workers: int = 2):
        self.dataset, self.batch_size, self.seed, self.device = dataset, batch_size, seed, device
        self.num_workers = num_workers

    def __len__(self) -> int:
        return len(self.dataset)

    def iterate(self, start_step: int) -> Iterator[torch.Tensor]:
        loader = DataLoader(
            self.dataset,
            batch_sampler=_StepBatchSampler(len(self.dataset), self.batch_size, self.seed, start_step),
            num_workers=self.num_workers,
            pin_memory=self.device.type == "cuda",
            persistent_workers=False,
            prefetch_factor=4 if self.num_workers else None,
        )
        for batch in loader:
            yield batch.to(self.device, non_blocking=True)
