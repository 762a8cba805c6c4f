"""Readers for real image data sets that already sit on a local disk.

Nothing here downloads anything: the project has to run offline (air-gapped
machines, CI without network, reproducible runs), so every reader takes a local
path in the data set's own standard format and says exactly which files it
expected when they are missing.

Images are prepared the way the DCGAN paper prepared LSUN, faces and ImageNet:
center-crop to a square on the short side, resize to ``image_size`` and scale to
[-1, 1] to match the generator's tanh output. The crop keeps the middle of the
picture, where the subject usually is, and never squashes the aspect ratio (a
squashed training set teaches the generator squashed faces). No augmentation:
the paper used none, and flips or jitter would change what the generator learns.

Files that cannot be decoded (folder and LSUN readers) are skipped, counted and
reported once instead of crashing a run hours in; ``find_unreadable()`` scans a
whole data set up front for a ``dcgan data check`` command.
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
import struct
import threading
import warnings
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torch.utils.data import Dataset

from ..images import pixels_to_unit

__all__ = [
    "IMAGE_EXTENSIONS",
    "MAX_IMAGE_PIXELS",
    "CIFAR10_CLASSES",
    "DECODE_ERRORS",
    "CIFAR10Dataset",
    "ImageFolderDataset",
    "LSUNDataset",
    "MNISTDataset",
    "SVHNDataset",
    "Unreadable",
    "UnreadableImageWarning",
    "center_crop_resize",
    "read_exclusion_list",
    "to_tensor",
]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp")  # matched case-insensitively

# The most pixels one image may have when decoded (after a JPEG's draft reduction), checked from
# its header before decoding: 40 MP decodes in about 120 MB (RGB), a 169-MP PNG took about 1 GB.
# Training images above it are skipped and counted; the app refuses uploads above it.
MAX_IMAGE_PIXELS = 40_000_000

CIFAR10_CLASSES = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
]

# What PIL (and its plugins) raise for corrupt, truncated or hostile files. Kept
# explicit rather than `Exception` so that a bug in this module still surfaces.
# UnidentifiedImageError is an OSError; DecompressionBombError is not.
DECODE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    UnidentifiedImageError,
    ValueError,
    SyntaxError,
    EOFError,
    struct.error,
    zlib.error,
    Image.DecompressionBombError,
)

# Lanczos downsampling after an integer pre-reduction: close to exact area
# averaging for big downscales (a 1024 px photo to 64 px) at a fraction of the cost.
_RESAMPLE = Image.Resampling.LANCZOS
_REDUCING_GAP = 3.0

_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
_HIGH_BIT_DEPTH_MODES = frozenset({"I", "I;16", "I;16L", "I;16B", "I;16N", "F"})


class UnreadableImageWarning(UserWarning):
    """A file in a data set could not be decoded and was skipped."""


class ImageTooLarge(ValueError):
    """An image whose header declares more than MAX_IMAGE_PIXELS pixels (refused before decoding)."""


class Unreadable(NamedTuple):
    """One file (or lmdb key) that failed to decode, and why."""

    item: str
    error: str


def _check_size_and_channels(image_size: int, channels: int) -> None:
    if not isinstance(image_size, int) or isinstance(image_size, bool) or image_size < 1:
        raise ValueError(f"image_size must be a positive int, got {image_size!r}")
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 (grayscale) or 3 (RGB), got {channels!r}")


def _rescale_to_uint8(values: np.ndarray, mode: str) -> np.ndarray:
    """Map 16-bit / 32-bit / float pixels to 0..255 (PIL's own convert just clips them)."""
    values = values.astype(np.float64)
    if values.size == 0:
        return values.astype(np.uint8)
    if mode.startswith("I;16"):
        low, high = 0.0, 65535.0  # the format's range, not the content's: keeps dark images dark
    else:
        low, high = float(values.min()), float(values.max())
        if low >= 0.0 and mode == "F" and high <= 1.0:
            low, high = 0.0, 1.0
        elif low >= 0.0 and high <= 255.0:
            low, high = 0.0, 255.0
        elif low >= 0.0 and high <= 65535.0:
            low, high = 0.0, 65535.0
        if high <= low:
            high = low + 1.0
    scaled = (values - low) * (255.0 / (high - low))
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def _convert_mode(image: Image.Image, target_mode: str) -> Image.Image:
    """Convert any PIL mode to "L" or "RGB"; transparent pixels become white.

    Transparent pixels carry arbitrary hidden colours (often black), so dropping
    alpha would paint random dark blobs; compositing on white shows what a viewer sees.
    """
    if image.mode in _HIGH_BIT_DEPTH_MODES:
        image = Image.fromarray(_rescale_to_uint8(np.asarray(image), image.mode))
    if image.mode in _ALPHA_MODES or "transparency" in image.info:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    if image.mode != target_mode:
        image = image.convert(target_mode)
    return image


def center_crop_resize(image: Image.Image, image_size: int, channels: int = 3) -> np.ndarray:
    """Center-crop ``image`` to a square on its short side and resize it.

    Returns uint8 (H, W, C) with H == W == image_size and C == channels (1: "L",
    3: "RGB"); any PIL mode (RGBA, P, L, I;16, CMYK, ...) is converted first.
    """
    _check_size_and_channels(image_size, channels)
    image = _convert_mode(image, "L" if channels == 1 else "RGB")
    width, height = image.size
    if width < 1 or height < 1:
        raise ValueError(f"image has no pixels (size {width}x{height})")
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    if (width, height) != (image_size, image_size):
        image = image.resize(
            (image_size, image_size),
            resample=_RESAMPLE,
            box=(left, top, left + side, top + side),
            reducing_gap=_REDUCING_GAP,
        )
    pixels = np.array(image, dtype=np.uint8)  # a writable copy, owned by us
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    return pixels


def to_tensor(array: np.ndarray) -> torch.Tensor:
    """uint8 (H, W, C) -> float32 (C, H, W) in [-1, 1] (x / 127.5 - 1), the tanh range."""
    if array.dtype != np.uint8:
        raise TypeError(f"to_tensor expects uint8 pixels, got {array.dtype}")
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3:
        raise ValueError(f"to_tensor expects an (H, W, C) array, got shape {array.shape}")
    if not array.flags.writeable:  # torch warns on read-only numpy memory
        array = array.copy()
    return pixels_to_unit(torch.from_numpy(array).permute(2, 0, 1).contiguous())


def _decode_image(source: Path | io.BytesIO, image_size: int, channels: int) -> np.ndarray:
    """Open, fully decode and prepare one encoded image (file path or bytes)."""
    with Image.open(source) as image:  # reads the header only
        # JPEG only: let the decoder downscale by 2/4/8 in the DCT while keeping at
        # least 2x the target on the short side, so Lanczos still does the final step.
        image.draft(None, (2 * image_size, 2 * image_size))
        width, height = image.size
        if width * height > MAX_IMAGE_PIXELS:
            raise ImageTooLarge(
                f"{width}x{height} pixels, more than the {MAX_IMAGE_PIXELS / 1e6:.0f} megapixels one training "
                "image may have; downscale it or remove it from the folder"
            )
        ImageOps.exif_transpose(image, in_place=True)  # phone photos: crop the upright image
        return center_crop_resize(image, image_size, channels)


def _format_error(error: BaseException) -> str:
    message = str(error).strip()
    return message if message else type(error).__name__


class _SkipsUnreadable(Dataset):
    """Shared skip-and-count behaviour for data sets of individually encoded images.

    A corrupt JPEG among a million must not kill a training run, but it must not
    vanish silently either: it is recorded, one warning per process names the
    first, and ``skipped_report()`` summarises them all.
    """

    image_size: int
    channels: int

    def _init_skip_record(self) -> None:
        self._unreadable: dict[int, Unreadable] = {}
        self._warned_about_skip = False

    # --- to implement in subclasses -------------------------------------------------
    def __len__(self) -> int:
        raise NotImplementedError

    def _item_name(self, index: int) -> str:
        raise NotImplementedError

    def _read_array(self, index: int) -> np.ndarray:
        raise NotImplementedError

    def _describe(self) -> str:
        raise NotImplementedError

    # --- shared -----------------------------------------------------------------------
    def _record_unreadable(self, index: int, error: BaseException) -> Unreadable:
        record = Unreadable(self._item_name(index), _format_error(error))
        self._unreadable[index] = record
        return record

    def __getitem__(self, index: int) -> torch.Tensor:
        count = len(self)
        if not -count <= index < count:
            raise IndexError(f"index {index} out of range for {count} images")
        index %= count
        for offset in range(count):
            candidate = (index + offset) % count
            if candidate in self._unreadable:
                continue
            try:
                return to_tensor(self._read_array(candidate))
            except DECODE_ERRORS as error:
                record = self._record_unreadable(candidate, error)
                if not self._warned_about_skip:
                    self._warned_about_skip = True
                    warnings.warn(
                        f"skipping unreadable image {record.item} ({record.error}); further "
                        "unreadable files are skipped without a warning and counted in "
                        "skipped_count / skipped_report()",
                        UnreadableImageWarning,
                        stacklevel=2,
                    )
        raise RuntimeError(
            f"none of the {count} images in {self._describe()} could be read: "
            f"{self.skipped_report()}"
        )

    @property
    def skipped_count(self) -> int:
        """Number of distinct unreadable items found so far in this process.

        With DataLoader workers each worker holds its own copy of the data set, so
        this counts only what the current process saw; ``find_unreadable()`` gives
        the full list.
        """
        return len(self._unreadable)

    def skipped_report(self) -> str:
        """One line for logs: 'skipped 3 unreadable files, e.g. a/b.jpg: <error>'."""
        count = len(self._unreadable)
        if count == 0:
            return "no unreadable files skipped"
        first = self._unreadable[min(self._unreadable)]
        noun = "file" if count == 1 else "files"
        return f"skipped {count} unreadable {noun}, e.g. {first.item}: {first.error}"

    def find_unreadable(self, progress: Callable[[int, int], None] | None = None) -> list[Unreadable]:
        """Decode every item now and return the ones that fail (also recorded for skipping).

        ``progress(done, total)`` is called after each item, for a progress bar.
        """
        total = len(self)
        for index in range(total):
            if index not in self._unreadable:
                try:
                    self._read_array(index)
                except DECODE_ERRORS as error:
                    self._record_unreadable(index, error)
            if progress is not None:
                progress(index + 1, total)
        return [self._unreadable[index] for index in sorted(self._unreadable)]

    check = find_unreadable


class _InMemoryImages(Dataset):
    """Shared indexing for data sets decoded whole at load time (CIFAR-10, MNIST).

    They have no per-file decoding, so nothing is ever skipped; the skip API exists
    so that code can treat every reader alike.
    """

    images: np.ndarray  # uint8 (N, H, W, C) as stored in the source
    labels: np.ndarray  # int64 (N,)
    image_size: int
    channels: int

    def _open(self, root: str | Path, train: bool, image_size: int, channels: int, what: str) -> None:
        """Check and keep the settings every in-memory reader takes; `root` must be a folder (`what` names it)."""
        _check_size_and_channels(image_size, channels)
        self.root = Path(root).expanduser()
        self.train = train
        self.image_size = image_size
        self.channels = channels
        _require_directory(self.root, what)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> torch.Tensor:
        pixels = self.images[index]
        height, width, stored_channels = pixels.shape
        if (height, width, stored_channels) != (self.image_size, self.image_size, self.channels):
            source = Image.fromarray(pixels[:, :, 0] if stored_channels == 1 else pixels)
            pixels = center_crop_resize(source, self.image_size, self.channels)
        return to_tensor(pixels)

    @property
    def skipped_count(self) -> int:
        return 0

    def skipped_report(self) -> str:
        return "no unreadable files skipped"

    def find_unreadable(self, progress: Callable[[int, int], None] | None = None) -> list[Unreadable]:
        if progress is not None:
            progress(len(self), len(self))
        return []

    check = find_unreadable


def _require_directory(path: Path, what: str) -> None:
    if not path.exists():
        raise FileNotFoundError(f"{what} {path} does not exist")
    if not path.is_dir():
        raise NotADirectoryError(f"{what} {path} is not a directory")


def _is_hidden(name: str) -> bool:
    # ".DS_Store", ".ipynb_checkpoints", and macOS "._photo.jpg" resource forks
    # (named like images, never decodable) are never part of a data set.
    return name.startswith(".")


def _walk_files(root: Path) -> Iterator[Path]:
    """Every non-hidden file under root, following symlinked folders once each."""
    visited: set[tuple[int, int]] = set()
    for directory, subdirectories, files in os.walk(root, followlinks=True):
        status = os.stat(directory)
        identity = (status.st_dev, status.st_ino)
        if identity in visited:  # a symlink loop or a second link to the same folder
            subdirectories[:] = []
            continue
        visited.add(identity)
        subdirectories[:] = sorted(name for name in subdirectories if not _is_hidden(name))
        for name in files:
            if not _is_hidden(name):
                yield Path(directory, name)


def read_exclusion_list(path: str | Path) -> list[str]:
    """The paths of an exclusion list: one path relative to the data folder per line; blank lines and lines
    starting with '#' are skipped (the format `dcgan dedup --exclude-out` writes)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"exclusion list {path} does not exist; write one with `dcgan dedup --exclude-out {path}`")
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


class ImageFolderDataset(_SkipsUnreadable):
    """Every .jpg/.jpeg/.png/.webp under ``root``, recursively, sorted by relative path.

    Images in first-level subfolders are labelled by that subfolder (sorted names ->
    0..k-1), which the feature probe uses as classes; images directly in ``root``
    get label -1. Hidden files and folders (leading ".") are ignored.

    ``exclude``: paths relative to ``root`` (posix, as ``dcgan dedup --exclude-out`` writes them)
    to leave out, e.g. near duplicates; a path that is not an image of the folder is an error.
    """

    def __init__(self, root: str | Path, image_size: int = 64, channels: int = 3,
                 exclude: Iterable[str] | None = None) -> None:
        _check_size_and_channels(image_size, channels)
        self.root = Path(root).expanduser()
        self.image_size = image_size
        self.channels = channels
        _require_directory(self.root, "image folder")

        image_paths: list[Path] = []
        other_suffixes: Counter[str] = Counter()
        for path in _walk_files(self.root):
            if path.suffix.lower() in IMAGE_EXTENSIONS:
                image_paths.append(path)
            else:
                other_suffixes[path.suffix.lower() or "(no extension)"] += 1
        if not image_paths:
            message = f"no {'/'.join(IMAGE_EXTENSIONS)} files under {self.root}"
            if other_suffixes:
                found = ", ".join(f"{count} {suffix}" for suffix, count in other_suffixes.most_common(5))
                message += f" (found {found}; convert them to PNG or JPEG)"
            raise FileNotFoundError(message)

        image_paths.sort(key=lambda path: path.relative_to(self.root).parts)
        self.excluded = 0
        if exclude is not None:
            image_paths = self._without(image_paths, exclude)
        self.paths: list[Path] = image_paths
        first_level = [path.relative_to(self.root).parts for path in image_paths]
        self.classes: list[str] = sorted({parts[0] for parts in first_level if len(parts) > 1})
        class_index = {name: label for label, name in enumerate(self.classes)}
        self.labels: np.ndarray = np.array(
            [class_index[parts[0]] if len(parts) > 1 else -1 for parts in first_level],
            dtype=np.int64,
        )
        self._init_skip_record()

    def _without(self, image_paths: list[Path], exclude: Iterable[str]) -> list[Path]:
        """image_paths less the excluded ones; refuses names that are not images of this folder."""
        names = {path.relative_to(self.root).as_posix(): path for path in image_paths}
        excluded = {name.strip().removeprefix("./") for name in exclude if name.strip()}
        unknown = sorted(excluded - names.keys())
        if unknown:
            shown = ", ".join(unknown[:3]) + (f" and {len(unknown) - 3} more" if len(unknown) > 3 else "")
            raise ValueError(
                f"the exclusion list names {len(unknown)} file(s) that are not images under {self.root}: {shown}; "
                "it was made for another folder (paths are relative to the folder); make one for this folder "
                f"with `dcgan dedup --data-root {self.root} --exclude-out FILE`"
            )
        kept = [path for name, path in names.items() if name not in excluded]
        if not kept:
            raise ValueError(f"the exclusion list leaves out every image under {self.root}")
        self.excluded = len(image_paths) - len(kept)
        return kept

    def __len__(self) -> int:
        return len(self.paths)

    def _item_name(self, index: int) -> str:
        return self.paths[index].relative_to(self.root).as_posix()

    def _read_array(self, index: int) -> np.ndarray:
        return _decode_image(self.paths[index], self.image_size, self.channels)

    def _describe(self) -> str:
        return f"image folder {self.root}"

    def __repr__(self) -> str:
        return (
            f"ImageFolderDataset({str(self.root)!r}, {len(self)} images, "
            f"{len(self.classes)} classes, image_size={self.image_size}, channels={self.channels})"
        )


def _import_lmdb() -> Any:
    try:
        import lmdb
    except ImportError as error:
        raise ImportError(
            "reading LSUN needs the optional 'lmdb' package: pip install lmdb"
        ) from error
    return lmdb


# Read-only with no lock file: works on read-only mounts and with any number of readers.
_LMDB_OPEN_OPTIONS: dict[str, Any] = {"readonly": True, "lock": False, "readahead": False, "meminit": False}

# One environment per database per process, shared by every LSUNDataset on it: lmdb
# refuses to open the same files twice in one process, and a handle inherited
# through fork must not be used (it is closed in the child and reopened instead).
_OPEN_ENVIRONMENTS: dict[str, tuple[int, Any]] = {}
_OPEN_ENVIRONMENTS_LOCK = threading.Lock()


def _lmdb_environment(path: Path) -> Any:
    key = os.path.realpath(path)
    pid = os.getpid()
    with _OPEN_ENVIRONMENTS_LOCK:
        entry = _OPEN_ENVIRONMENTS.get(key)
        if entry is not None:
            owner_pid, environment = entry
            if owner_pid == pid:
                return environment
            del _OPEN_ENVIRONMENTS[key]
            environment.close()  # this process's inherited copy of the parent's mapping
        lmdb = _import_lmdb()
        try:
            environment = lmdb.open(key, **_LMDB_OPEN_OPTIONS)
        except lmdb.Error as error:
            raise ValueError(f"{path} is not a readable lmdb database: {error}") from error
        _OPEN_ENVIRONMENTS[key] = (pid, environment)
        return environment


class LSUNDataset(_SkipsUnreadable):
    """One LSUN category in its lmdb format (e.g. ``bedroom_train_lmdb/`` with data.mdb).

    Keys map to encoded images (webp or jpeg). The key list is read once at init
    and kept as one flat byte buffer plus offsets: millions of small Python bytes
    objects would be copied into every forked DataLoader worker as their reference
    counts change, a flat numpy buffer stays shared. The lmdb environment is not
    part of the data set's state: each process (DataLoader worker) opens its own on
    first read, because an lmdb handle must not cross a fork.
    """

    labels = None

    def __init__(
        self,
        path: str | Path,
        image_size: int = 64,
        channels: int = 3,
        max_images: int | None = None,
    ) -> None:
        _check_size_and_channels(image_size, channels)
        if max_images is not None and max_images < 1:
            raise ValueError(f"max_images must be a positive int or None, got {max_images!r}")
        _import_lmdb()  # fail early, with the fix, before touching the path
        self.path = self._locate(Path(path).expanduser())
        self.image_size = image_size
        self.channels = channels

        key_blob = bytearray()
        offsets = [0]
        with _lmdb_environment(self.path).begin(write=False) as transaction:
            for key in transaction.cursor().iternext(keys=True, values=False):
                key_blob += key
                offsets.append(len(key_blob))
                if max_images is not None and len(offsets) - 1 >= max_images:
                    break
        if len(offsets) == 1:
            raise ValueError(f"lmdb database {self.path} holds no images (it has no keys)")
        self._key_bytes = np.frombuffer(bytes(key_blob), dtype=np.uint8)
        self._key_offsets = np.asarray(offsets, dtype=np.int64)
        self._init_skip_record()

    @staticmethod
    def _locate(path: Path) -> Path:
        if path.is_file() and path.name == "data.mdb":
            return path.parent
        if not path.exists():
            hint = ""
            if path.with_suffix(".zip").exists():
                hint = f"; found {path.with_suffix('.zip').name}: unzip it first"
            raise FileNotFoundError(f"LSUN lmdb folder {path} does not exist{hint}")
        if not path.is_dir():
            raise NotADirectoryError(
                f"{path} is not an LSUN lmdb folder (expected a folder such as "
                "bedroom_train_lmdb/ holding data.mdb)"
            )
        if not (path / "data.mdb").is_file():
            inner = sorted(child.name for child in path.iterdir() if (child / "data.mdb").is_file())
            hint = f"; did you mean one of: {', '.join(inner)}" if inner else ""
            raise FileNotFoundError(
                f"no data.mdb in {path}: expected an LSUN lmdb folder such as "
                f"bedroom_train_lmdb/ holding data.mdb and lock.mdb{hint}"
            )
        return path

    def __len__(self) -> int:
        return len(self._key_offsets) - 1

    def key(self, index: int) -> bytes:
        """The lmdb key of item ``index``."""
        start, end = self._key_offsets[index], self._key_offsets[index + 1]
        return self._key_bytes[start:end].tobytes()

    def _item_name(self, index: int) -> str:
        return self.key(index).decode("ascii", errors="backslashreplace")

    def _read_array(self, index: int) -> np.ndarray:
        with _lmdb_environment(self.path).begin(write=False) as transaction:
            value = transaction.get(self.key(index))
        if value is None:  # the database changed since the key list was read
            raise ValueError("key no longer in the database")
        return _decode_image(io.BytesIO(value), self.image_size, self.channels)

    def _describe(self) -> str:
        return f"LSUN lmdb {self.path}"

    def __repr__(self) -> str:
        return (
            f"LSUNDataset({str(self.path)!r}, {len(self)} images, "
            f"image_size={self.image_size}, channels={self.channels})"
        )


# --- CIFAR-10 ---------------------------------------------------------------------------


def _allowed_cifar_globals() -> dict[tuple[str, str], Any]:
    """The only globals a CIFAR batch pickle may name: numpy array reconstruction.

    numpy 1.x pickles say ``numpy.core``, numpy 2.x ``numpy._core``; both map to
    the same functions without importing the deprecated ``numpy.core`` alias.
    """
    try:
        from numpy._core import multiarray, numeric
    except ImportError:  # numpy < 2
        from numpy.core import multiarray, numeric  # type: ignore[no-redef]

    allowed: dict[tuple[str, str], Any] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): _latin1_encode,  # how Python 3 writes bytes at protocol 2
    }
    for package in ("numpy.core", "numpy._core"):
        allowed[(f"{package}.multiarray", "_reconstruct")] = multiarray._reconstruct
        allowed[(f"{package}.multiarray", "scalar")] = multiarray.scalar
        allowed[(f"{package}.numeric", "_frombuffer")] = numeric._frombuffer  # protocol 5
    return allowed


def _latin1_encode(text: str, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    """``_codecs.encode`` limited to the one codec pickle uses for bytes."""
    if encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(f"refusing _codecs.encode with codec {encoding!r}")
    return text.encode("latin-1", errors)


CIFAR_PYTHON_FIX = (
    "download cifar-10-python.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html "
    "and extract it with `tar xzf cifar-10-python.tar.gz`"
)


class CifarBatchError(pickle.UnpicklingError, ValueError):
    """A CIFAR-10 python batch file that cannot be read (garbage, or a pickle naming forbidden globals).

    An UnpicklingError, and a ValueError so that callers reporting bad input report it too.
    """


class _CifarUnpickler(pickle.Unpickler):
    """Unpickler that can build numpy arrays, lists and dicts, and nothing else.

    A pickle can call any importable function while loading (os.system, eval, ...),
    and these files come from the internet; refusing every other global makes a
    tampered batch file fail instead of running code.
    """

    def __init__(self, file: io.BufferedIOBase, source: Path) -> None:
        super().__init__(file, encoding="bytes")
        self._source = source
        self._allowed = _allowed_cifar_globals()

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise CifarBatchError(
                f"refusing to load global '{module}.{name}' from {self._source}: "
                f"CIFAR batches only contain numpy arrays, lists and strings; {CIFAR_PYTHON_FIX}"
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        raise CifarBatchError(f"refusing persistent id in {self._source}; {CIFAR_PYTHON_FIX}")


def _load_cifar_pickle(path: Path) -> dict[bytes, Any]:
    with path.open("rb") as file:
        try:
            content = _CifarUnpickler(file, path).load()
        except CifarBatchError:
            raise
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError,
                OverflowError, MemoryError, RecursionError, struct.error) as error:
            raise CifarBatchError(
                f"{path} is not a CIFAR-10 python batch file ({_format_error(error)}); {CIFAR_PYTHON_FIX}"
            ) from None
    if not isinstance(content, dict):
        raise CifarBatchError(
            f"{path} is not a CIFAR-10 python batch file (it holds a {type(content).__name__}, not a dict); "
            f"{CIFAR_PYTHON_FIX}"
        )
    return {key.encode() if isinstance(key, str) else key: value for key, value in content.items()}


def _cifar_planes_to_hwc(rows: np.ndarray) -> np.ndarray:
    """(N, 3072) rows of 1024 R, 1024 G, 1024 B (each 32x32 row-major) -> (N, 32, 32, 3)."""
    return np.ascontiguousarray(rows.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))


def _check_cifar_labels(labels: np.ndarray, count: int, path: Path) -> np.ndarray:
    if labels.shape != (count,):
        raise ValueError(f"{path}: {labels.size} labels for {count} images")
    if count and (labels.min() < 0 or labels.max() > 9):
        raise ValueError(f"{path}: labels outside 0..9 (found {labels.min()}..{labels.max()})")
    return labels.astype(np.int64)


def _read_cifar_python_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    batch = _load_cifar_pickle(path)
    if b"data" not in batch or b"labels" not in batch:
        raise ValueError(f"{path} is not a CIFAR-10 batch: it has no b'data' and b'labels' entries")
    rows = batch[b"data"]
    if not isinstance(rows, np.ndarray) or rows.dtype != np.uint8 or rows.ndim != 2 or rows.shape[1] != 3072:
        found = f"{rows.dtype} {rows.shape}" if isinstance(rows, np.ndarray) else type(rows).__name__
        raise ValueError(f"{path}: b'data' must be a uint8 array of shape (N, 3072), got {found}")
    labels = _check_cifar_labels(np.asarray(batch[b"labels"]), len(rows), path)
    return _cifar_planes_to_hwc(rows), labels


def _read_cifar_binary_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    record = 1 + 3072  # one label byte, then the 3072 pixel bytes
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size == 0 or raw.size % record:
        raise ValueError(f"{path}: size {raw.size} bytes is not a whole number of {record}-byte CIFAR records")
    records = raw.reshape(-1, record)
    labels = _check_cifar_labels(records[:, 0], len(records), path)
    return _cifar_planes_to_hwc(records[:, 1:]), labels


def _read_cifar_class_names_python(folder: Path) -> list[str]:
    meta_path = folder / "batches.meta"
    if not meta_path.is_file():
        return list(CIFAR10_CLASSES)
    names = _load_cifar_pickle(meta_path).get(b"label_names")
    if not isinstance(names, list) or len(names) != 10:
        raise ValueError(f"{meta_path}: expected b'label_names' with 10 names")
    return [name.decode() if isinstance(name, bytes) else str(name) for name in names]


def _read_cifar_class_names_binary(folder: Path) -> list[str]:
    meta_path = folder / "batches.meta.txt"
    if not meta_path.is_file():
        return list(CIFAR10_CLASSES)
    names = [line.strip() for line in meta_path.read_text().splitlines() if line.strip()]
    if len(names) != 10:
        raise ValueError(f"{meta_path}: expected 10 class names, found {len(names)}")
    return names


_CIFAR_TRAIN_BATCHES = [f"data_batch_{number}" for number in range(1, 6)]
_CIFAR_TEST_BATCHES = ["test_batch"]


class CIFAR10Dataset(_InMemoryImages):
    """CIFAR-10 from the 'python version' (cifar-10-batches-py/) or the 'binary version'
    (cifar-10-batches-bin/) of https://www.cs.toronto.edu/~kriz/cifar.html.

    ``root`` may be the batches folder or its parent. The python batches are pickles
    and are read with an unpickler that only builds numpy arrays (see
    ``_CifarUnpickler``): a pickle from the internet must not be able to run code.
    """

    def __init__(
        self, root: str | Path, train: bool = True, image_size: int = 32, channels: int = 3
    ) -> None:
        self._open(root, train, image_size, channels, "CIFAR-10 folder")

        folder, binary = self._locate(self.root)
        stems = _CIFAR_TRAIN_BATCHES if train else _CIFAR_TEST_BATCHES
        names = [stem + ".bin" if binary else stem for stem in stems]
        missing = [name for name in names if not (folder / name).is_file()]
        if missing:
            raise FileNotFoundError(
                f"CIFAR-10 folder {folder} is missing {', '.join(missing)} "
                f"(the {'train' if train else 'test'} split needs {', '.join(names)})"
            )
        read_batch = _read_cifar_binary_batch if binary else _read_cifar_python_batch
        batches = [read_batch(folder / name) for name in names]
        self.folder = folder
        self.images: np.ndarray = np.concatenate([images for images, _ in batches])
        self.labels: np.ndarray = np.concatenate([labels for _, labels in batches])
        self.classes: list[str] = (
            _read_cifar_class_names_binary(folder) if binary else _read_cifar_class_names_python(folder)
        )

    @staticmethod
    def _locate(root: Path) -> tuple[Path, bool]:
        """The batches folder and whether it is the binary version."""
        for folder in (root, root / "cifar-10-batches-py", root / "cifar-10-batches-bin"):
            if (folder / "data_batch_1").is_file() or (folder / "test_batch").is_file():
                return folder, False
            if (folder / "data_batch_1.bin").is_file() or (folder / "test_batch.bin").is_file():
                return folder, True
        archives = [name for name in ("cifar-10-python.tar.gz", "cifar-10-binary.tar.gz") if (root / name).is_file()]
        hint = f"; found {archives[0]}: extract it with `tar xzf {archives[0]}`" if archives else ""
        raise FileNotFoundError(
            f"no CIFAR-10 batches under {root}: expected cifar-10-batches-py/ (data_batch_1 ... "
            "data_batch_5, test_batch, batches.meta) or cifar-10-batches-bin/ "
            f"(data_batch_1.bin ... data_batch_5.bin, test_batch.bin){hint}"
        )

    def __repr__(self) -> str:
        return (
            f"CIFAR10Dataset({str(self.folder)!r}, {'train' if self.train else 'test'}, "
            f"{len(self)} images, image_size={self.image_size}, channels={self.channels})"
        )


# --- MNIST -------------------------------------------------------------------------------

_IDX_UNSIGNED_BYTE = 0x08


def _read_idx(path: Path, expected_ndim: int) -> np.ndarray:
    """Read an idx file (plain or .gz) of unsigned bytes, validating header and size."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as file:
                raw = file.read()
        else:
            raw = path.read_bytes()
    except (OSError, EOFError, zlib.error) as error:
        raise ValueError(f"{path}: cannot read it as {'gzip' if path.suffix == '.gz' else 'a file'}: {error}") from error

    expected_magic = (_IDX_UNSIGNED_BYTE << 8) | expected_ndim
    header_size = 4 + 4 * expected_ndim
    if len(raw) < 4:
        raise ValueError(f"{path}: file is only {len(raw)} bytes, too short for an idx header")
    magic = struct.unpack(">I", raw[:4])[0]
    if magic != expected_magic:
        raise ValueError(
            f"{path}: bad magic number 0x{magic:08X}, expected 0x{expected_magic:08X} "
            f"(an idx{expected_ndim} file of unsigned bytes); is this the right file, fully downloaded?"
        )
    if len(raw) < header_size:
        raise ValueError(f"{path}: truncated header ({len(raw)} of {header_size} bytes)")
    dims = struct.unpack(f">{expected_ndim}I", raw[4:header_size])
    expected_bytes = int(np.prod(dims, dtype=np.int64))
    actual_bytes = len(raw) - header_size
    if actual_bytes != expected_bytes:
        problem = "truncated" if actual_bytes < expected_bytes else "too long"
        raise ValueError(
            f"{path}: file is {problem}: header says shape {dims} ({expected_bytes} bytes) "
            f"but {actual_bytes} bytes follow"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header_size).reshape(dims)


def _idx_file_names(stem: str, kind: str) -> list[str]:
    """'train-images', 'idx3' -> train-images-idx3-ubyte, train-images.idx3-ubyte, + .gz."""
    plain = [f"{stem}-{kind}-ubyte", f"{stem}.{kind}-ubyte"]
    return plain + [name + ".gz" for name in plain]


class MNISTDataset(_InMemoryImages):
    """MNIST from its idx files (train-images-idx3-ubyte, train-labels-idx1-ubyte,
    t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte), plain or .gz.

    ``root`` may be the folder holding them or a parent with MNIST/raw/ or raw/
    (the layout other tools leave behind). Headers and sizes are validated, since a
    half-finished download otherwise turns into silently garbled digits.
    """

    classes = [str(digit) for digit in range(10)]

    def __init__(
        self, root: str | Path, train: bool = True, image_size: int = 32, channels: int = 1
    ) -> None:
        self._open(root, train, image_size, channels, "MNIST folder")

        split = "train" if train else "t10k"
        images_path = self._find(f"{split}-images", "idx3")
        labels_path = self._find(f"{split}-labels", "idx1")
        images = _read_idx(images_path, expected_ndim=3)
        labels = _read_idx(labels_path, expected_ndim=1)
        if len(labels) != len(images):
            raise ValueError(
                f"{labels_path} has {len(labels)} labels but {images_path} has {len(images)} images"
            )
        if len(labels) and labels.max() > 9:
            raise ValueError(f"{labels_path}: labels outside 0..9 (max {labels.max()})")
        self.images_path = images_path
        self.labels_path = labels_path
        self.images: np.ndarray = images[:, :, :, None].copy()
        self.labels: np.ndarray = labels.astype(np.int64)

    def _find(self, stem: str, kind: str) -> Path:
        folders = [self.root, self.root / "raw", self.root / "MNIST" / "raw", self.root / "MNIST"]
        names = _idx_file_names(stem, kind)
        for folder in folders:
            for name in names:
                if (folder / name).is_file():
                    return folder / name
        raise FileNotFoundError(
            f"no {names[0]} (or {names[0]}.gz, {names[1]}) under {self.root} "
            "or its raw/ and MNIST/raw/ subfolders; MNIST needs train-images-idx3-ubyte, "
            "train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte"
        )

    def __repr__(self) -> str:
        return (
            f"MNISTDataset({str(self.images_path.parent)!r}, {'train' if self.train else 'test'}, "
            f"{len(self)} images, image_size={self.image_size}, channels={self.channels})"
        )


# --- SVHN --------------------------------------------------------------------------------

SVHN_FILES = {True: "train_32x32.mat", False: "test_32x32.mat"}
SVHN_FIX = "download train_32x32.mat and test_32x32.mat (format 2, cropped digits) from http://ufldl.stanford.edu/housenumbers/"


class SVHNDataset(_InMemoryImages):
    """SVHN's cropped digits (format 2): train_32x32.mat or test_32x32.mat, MAT v5 files of
    X (32, 32, 3, N) uint8 and y (N, 1) with labels 1..10, where 10 means the digit 0.

    ``root`` may be the folder holding them or a parent with svhn/ or SVHN/. The files are
    read by ``matfile.read_mat_v5`` (no scipy, nothing unpickled), which checks every size the
    file claims before allocating; labels are checked to be whole digits.
    """

    classes = [str(digit) for digit in range(10)]

    def __init__(self, root: str | Path, train: bool = True, image_size: int = 32, channels: int = 3) -> None:
        from .matfile import read_mat_v5

        self._open(root, train, image_size, channels, "SVHN folder")
        name = SVHN_FILES[train]
        candidates = [self.root / name, self.root / "svhn" / name, self.root / "SVHN" / name]
        path = next((p for p in candidates if p.is_file()), None)
        if path is None:
            raise FileNotFoundError(f"no {name} under {self.root} (or its svhn/ subfolder); {SVHN_FIX}")
        arrays = read_mat_v5(path, names=("X", "y"))
        images, labels = arrays["X"], arrays["y"]
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[:3] != (32, 32, 3):
            raise ValueError(f"{path}: X must be uint8 of shape (32, 32, 3, N), got {images.dtype} {images.shape}; {SVHN_FIX}")
        count = images.shape[3]
        labels = labels.reshape(-1) if labels.size == count else labels
        if labels.shape != (count,):
            raise ValueError(f"{path}: y holds {labels.size} labels for {count} images")
        if count and (labels.min() < 0 or labels.max() > 10 or np.any(labels != np.round(labels))):
            raise ValueError(f"{path}: labels must be whole digits 1..10 (10 is the digit 0), found {labels.min()}..{labels.max()}")
        self.path = path
        self.images: np.ndarray = np.ascontiguousarray(images.transpose(3, 0, 1, 2))  # (N, 32, 32, 3)
        self.labels: np.ndarray = labels.astype(np.int64) % 10  # SVHN writes the digit 0 as 10

    def __repr__(self) -> str:
        return (
            f"SVHNDataset({str(self.path)!r}, {'train' if self.train else 'test'}, "
            f"{len(self)} images, image_size={self.image_size}, channels={self.channels})"
        )
