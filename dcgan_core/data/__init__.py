"""Data sets: procedural stand-ins (rooms, faces) and readers for real data on local paths.

Every data set yields float32 (C, H, W) tensors in [-1, 1] (the range of G's tanh).
Nothing is downloaded: real data sets are read from where the user keeps them.

    build_dataset("rooms", image_size=64)                      # bedrooms, with object boxes and label maps
    build_dataset("faces", image_size=64)                      # faces, with attribute labels and label maps
    build_dataset("folder", root="~/pics", image_size=64)      # any folder of jpg/png/webp
    build_dataset("lsun", root="bedroom_train_lmdb")           # LSUN lmdb (needs `pip install lmdb`)
    build_dataset("cifar10", root="cifar-10-batches-py", image_size=32)
    build_dataset("mnist", root="mnist/", image_size=32)       # grayscale by default
    build_dataset("svhn", root="svhn/", train=False)           # SVHN's cropped digits, train_32x32.mat / test_32x32.mat
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from torch.utils.data import Dataset

PROCEDURAL_DATASETS = ("rooms", "faces")
REAL_DATASETS = ("folder", "lsun", "cifar10", "mnist", "svhn")
DATASETS = PROCEDURAL_DATASETS + REAL_DATASETS


def natural_channels(name: str) -> int:
    """Channels a data set comes in: MNIST is grayscale, everything else RGB."""
    return 1 if name == "mnist" else 3


def build_dataset(
    name: str,
    *,
    root: str | Path | None = None,
    image_size: int = 64,
    channels: int | None = None,
    train: bool = True,
    length: int = 50_000,
    seed: int = 0,
    exclude: Sequence[str] | None = None,
) -> Dataset:
    """Make a data set by name. `length` and `seed` apply to procedural ones, `root` and `train` to real ones,
    `exclude` (paths relative to `root`, e.g. near duplicates from `dcgan dedup`) to a folder."""
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; choose one of {', '.join(DATASETS)}")
    if exclude is not None and name != "folder":
        raise ValueError(f"an exclusion list applies to a folder of images (--dataset folder), not to {name}")
    channels = channels or natural_channels(name)
    if name in PROCEDURAL_DATASETS:
        if channels != 3:
            raise ValueError(f"the procedural {name} data set is RGB; use channels 3")
        if name == "rooms":
            from .rooms import RoomsDataset

            return RoomsDataset(image_size=image_size, length=length, seed=seed)
        from .faces import FacesDataset

        return FacesDataset(image_size=image_size, length=length, seed=seed)
    if root is None:
        raise ValueError(f"the {name} data set is read from a local path: give its location (--data-root PATH)")
    root = Path(root).expanduser()
    from . import readers

    if name == "folder":
        return readers.ImageFolderDataset(root, image_size=image_size, channels=channels, exclude=exclude)
    if name == "lsun":
        return readers.LSUNDataset(root, image_size=image_size, channels=channels)
    if name == "cifar10":
        return readers.CIFAR10Dataset(root, train=train, image_size=image_size, channels=channels)
    if name == "svhn":
        return readers.SVHNDataset(root, train=train, image_size=image_size, channels=channels)
    return readers.MNISTDataset(root, train=train, image_size=image_size, channels=channels)
