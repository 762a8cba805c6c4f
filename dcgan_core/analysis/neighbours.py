"""Nearest training images of generated samples: does the model copy its training set?

A GAN that memorised its data would produce near-copies of training images. The check
the paper's section 6.1 argues for (and the usual one since): for a generated sample,
find the closest training images by pixel L2 distance and look at them side by side.

    refs = reference_images(model.checkpoint.train_config)        # training images, uint8 NCHW
    idx, dist = nearest_neighbours(samples_nchw, refs.images, k=5)

Distances are L2 over all pixels and channels in uint8 units; `rms_pixel_distance`
turns them into a per-pixel figure (0 = identical, 255 = opposite) that does not grow
with the image size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..data import PROCEDURAL_DATASETS, build_dataset, natural_channels
from ..data.loading import _renderer_fingerprint, cache_dir, materialize

DEFAULT_REFERENCE_LIMIT = 2_000  # training images rendered when the full training set is not cached


class NoTrainingData(ValueError):
    """The training images of a model are not available here; the message says why and what to do."""


@dataclass
class ReferenceImages:
    """Training images to compare samples with: uint8 (N, C, H, W), possibly memory-mapped."""

    images: np.ndarray
    description: str  # for people: which images these are, e.g. "all 50,000 training images (rooms, seed 0)"
    training_set_size: int | None  # images in the whole training set, when known

    def __len__(self) -> int:
        return self.images.shape[0]

    def image(self, i: int) -> np.ndarray:
        """Training image i as uint8 (H, W, C), ready to show."""
        return np.ascontiguousarray(np.asarray(self.images[i]).transpose(1, 2, 0))


def _as_flat_float(x: np.ndarray | torch.Tensor) -> torch.Tensor:
    if torch.is_tensor(x):
        return x.reshape(x.shape[0], -1).to(torch.float32)
    return torch.from_numpy(np.asarray(x, dtype=np.float32).reshape(x.shape[0], -1))  # a fresh copy: memmaps are read-only


def nearest_neighbours(
    queries: np.ndarray | torch.Tensor,
    references: np.ndarray | torch.Tensor,
    k: int = 5,
    batch_size: int = 2048,
) -> tuple[np.ndarray, np.ndarray]:
    """The k references closest to each query by pixel L2 distance.

    Args:
        queries: uint8 (Q, ...) images.
        references: uint8 (N, ...) images with the same per-image shape and layout
            (e.g. both NCHW); a numpy memmap is read `batch_size` images at a time.
        k: neighbours per query (at most N).

    Returns:
        (indices (Q, k) int64, distances (Q, k) float64), nearest first; distances are
        L2 norms in uint8 units, recomputed exactly for the winners.
    """
    n = references.shape[0]
    if n == 0:
        raise ValueError("no reference images to search")
    if tuple(queries.shape[1:]) != tuple(references.shape[1:]):
        raise ValueError(f"queries have shape {tuple(queries.shape[1:])} per image but references {tuple(references.shape[1:])}")
    k = min(k, n)
    q = _as_flat_float(queries)
    q_sq = (q * q).sum(1, keepdim=True)
    best_d = torch.full((q.shape[0], 0), math.inf)
    best_i = torch.zeros((q.shape[0], 0), dtype=torch.long)
    for start in range(0, n, batch_size):
        r = _as_flat_float(references[start : start + batch_size])
        d2 = q_sq - 2 * q @ r.T + (r * r).sum(1)[None, :]  # (Q, B): fast, approximate in float32
        idx = torch.arange(start, start + r.shape[0]).expand(q.shape[0], -1)
        all_d, all_i = torch.cat([best_d, d2], 1), torch.cat([best_i, idx], 1)
        keep = min(k, all_d.shape[1])
        best_d, order = all_d.topk(keep, dim=1, largest=False)
        best_i = all_i.gather(1, order)
    # exact distances for the winners (float32's |a|^2 - 2ab + |b|^2 loses the small ones)
    indices = best_i.numpy()
    q64 = q.double()
    exact = np.empty(indices.shape)
    for row in range(indices.shape[0]):
        r = _as_flat_float(np.stack([np.asarray(references[j]) for j in indices[row]])).double()
        exact[row] = (r - q64[row]).norm(dim=1).numpy()
    order = np.argsort(exact, axis=1, kind="stable")
    return np.take_along_axis(indices, order, 1), np.take_along_axis(exact, order, 1)


def rms_pixel_distance(distance: float | np.ndarray, image_shape: tuple[int, ...]) -> float | np.ndarray:
    """An L2 distance in uint8 units as a root-mean-square difference per pixel value (0-255)."""
    return distance / math.sqrt(math.prod(image_shape))


def _full_training_cache(dataset, key: str) -> Path | None:
    """The trainer's on-disk cache of a procedural training set, if this machine has it."""
    path = cache_dir() / f"{key}-{_renderer_fingerprint(dataset)}.npy"
    return path if path.is_file() else None


def reference_images(train_config: dict | None, limit: int = DEFAULT_REFERENCE_LIMIT, progress: bool = False) -> ReferenceImages:
    """Training images of the model trained with `train_config` (a checkpoint's), for neighbour search.

    The first `limit` images of the training set. Procedural data sets (rooms, faces) are
    read from the trainer's cache of the whole training set when this machine has it
    (memory-mapped, nothing rendered), else rendered from the same data set seed and
    cached on disk: they *are* training images. Real data sets are read from the run's
    data_root, when it exists here.

    Raises NoTrainingData when there is no way to get them (e.g. an imported model).
    """
    if not train_config or "dataset" not in train_config:
        raise NoTrainingData(
            "this checkpoint does not say what it was trained on (no train_config), so there is no training set to search"
        )
    name = train_config["dataset"]
    size = int(train_config.get("image_size", 64))
    channels = train_config.get("channels") or natural_channels(name)
    if name in PROCEDURAL_DATASETS:
        seed = int(train_config.get("seed", 0))
        total = int(train_config.get("dataset_size", 50_000))
        n = min(limit, total)
        what = f"all {total:,}" if n == total else f"the first {n:,} of {total:,}"
        description = f"{what} training images ({name}, data set seed {seed})"
        full_key = f"{name}-{size}px-seed{seed}-n{total}"  # the key Trainer caches the training set under
        cached = _full_training_cache(build_dataset(name, image_size=size, length=total, seed=seed), full_key)
        if cached is not None:
            try:
                return ReferenceImages(np.load(cached, mmap_mode="r")[:n], description, total)
            except (OSError, ValueError):
                pass  # damaged cache: render below
        ds = build_dataset(name, image_size=size, length=n, seed=seed)  # item i depends on (seed, i) only
        images = materialize(ds, cache_key=f"{name}-{size}px-seed{seed}-n{n}", progress=progress).numpy()
        return ReferenceImages(images, description, total)
    root = train_config.get("data_root")
    if not root or not Path(root).expanduser().exists():
        raise NoTrainingData(
            f"this model was trained on the {name} data set at {root!r}, which is not on this machine; "
            "copy the data there to search it for neighbours"
        )
    try:
        ds = build_dataset(name, root=root, image_size=size, channels=channels)
        n = min(limit, len(ds))
        subset = torch.utils.data.Subset(ds, range(n))
        images = materialize(subset, cache_key=None, progress=progress).numpy()
    except (OSError, ValueError, RuntimeError, ImportError) as e:
        raise NoTrainingData(f"could not read the {name} training data at {root}: {e}") from None
    what = f"all {n:,}" if n == len(ds) else f"the first {n:,} of {len(ds):,}"
    return ReferenceImages(images, f"{what} training images ({name} at {root})", len(ds))


@dataclass(frozen=True)
class MemorisationCheck:
    """How far samples and unseen real images lie from their nearest training image (RMS per pixel value, 0-255).

    A model that copies its training set puts samples much nearer to training images than new real
    images of the same distribution are; samples at about the held-out distance, or further, are new.
    """

    samples: np.ndarray  # (n,) nearest-training-image distance of each generated sample
    held_out: np.ndarray  # (n,) the same for real images the model never saw
    searched: str  # which training images were searched

    @property
    def near_copies(self) -> float:
        """Share of samples nearer to a training image than the nearest 1% of held-out images are."""
        return float((self.samples < np.quantile(self.held_out, 0.01)).mean())

    def summary(self) -> str:
        s, h = self.samples, self.held_out
        return (f"nearest training image (RMS per pixel value): samples median {np.median(s):.1f} (min {s.min():.1f}), "
                f"held-out real images median {np.median(h):.1f} (min {h.min():.1f}); "
                f"{self.near_copies:.1%} of samples nearer than the nearest 1% of held-out images")


def memorisation_check(samples: np.ndarray, held_out: np.ndarray, train_config: dict, limit: int = 50_000) -> MemorisationCheck:
    """Nearest-training-image distances of uint8 NCHW `samples` and of `held_out` real images of the same shape."""
    refs = reference_images(train_config, limit=limit)
    shape = tuple(samples.shape[1:])
    _, d_samples = nearest_neighbours(samples, refs.images, k=1)
    _, d_held = nearest_neighbours(held_out, refs.images, k=1)
    return MemorisationCheck(rms_pixel_distance(d_samples[:, 0], shape), rms_pixel_distance(d_held[:, 0], shape), refs.description)
