"""Near-duplicate removal as the DCGAN paper did it for LSUN bedrooms (section 4.1.1).

The paper: "we fit a 3072-128-3072 de-noising dropout regularized RELU autoencoder on 32x32 downsampled
center-crops of training examples. The resulting code layer activations are then binarized via
thresholding the ReLU activation [...] and provides a convenient form of semantic-hashing, allowing for
linear time de-duplication. Visual inspection of hash collisions showed high precision with an estimated
false positive rate of less than 1 in 100." About 275,000 of 3 M bedrooms were removed.

Here, on one folder of images:

  1. read      every image as a 32x32 centre crop (uint8, 3,072 values), as training crops and resizes it;
  2. fit       the 3072-128-3072 denoising autoencoder (input dropout is the noise, ReLU code, linear
               decoder) on the folder's crops, 3x3-blurred, for 2 epochs under a step and time cap;
  3. hash      each image's 128-d code into 128 bits (each unit's pre-activation cut at its median over the
               folder), and the same for the image moved by 1 px in each of 8 directions (probes);
  4. collide   an image and another whose hash collides with its own or a probe's - sharing one of 8 bands
               of 16 bits and differing in at most 8 bits - are a candidate pair (multi-index hashing:
               N log N, no N x N comparison);
  5. confirm   each candidate pair on the crops: the RMS difference of the two blurred crops at their best
               alignment (shifts up to 1 px at 32 px in half-pixel steps) must be at most 0.03 (pixel
               range [0, 1]); this is what keeps false positives out;
  6. group     confirmed pairs into connected components (union-find).

An exact-hash baseline (sha256 of each file's bytes) finds exact copies only, for comparison.

    from dcgan_core.analysis.dedup import DedupConfig, find_duplicates, exclusions

    result = find_duplicates("~/pics", DedupConfig(seed=0))
    result.group_paths()        # [["a.jpg", "copies/a.jpg"], ...], paths relative to the folder
    exclusions(result)          # every member of each group but the one kept (the first by path)
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..data.readers import DECODE_ERRORS, IMAGE_EXTENSIONS, _decode_image, _require_directory, _walk_files
from ..files import atomic_write

Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass
class DedupConfig:
    """How near duplicates are found. The paper gives the architecture; the rest is ours (noted)."""

    crop: int = 32  # paper: 32x32 downsampled centre crops (3 x 32 x 32 = 3,072 inputs)
    code: int = 128  # paper: 3072-128-3072; the 128 code units give the 128-bit hash
    dropout: float = 0.2  # input dropout, the autoencoder's "denoising" corruption (paper: dropout, rate not given)
    epochs: int = 2  # passes over the folder (ours), capped by max_steps and max_train_seconds
    max_steps: int = 1_500  # cap on optimiser steps (ours): 100,000 images fit the 10-minute budget on 2 CPU cores
    max_train_seconds: float = 120.0  # cap on fitting time (ours)
    batch_size: int = 256  # (ours)
    lr: float = 1e-3  # Adam (ours)
    bands: int = 8  # the 128-bit hash is cut into 8 bands of 16 bits; hashes sharing a band are compared
    hamming_radius: int = 8  # ... and their images are a candidate pair when the hashes differ in <= 8 bits
    probe_shifts: bool = True  # hash every image also moved by 1 px in x and y (8 more probes): finds shifted copies
    max_bucket: int = 128  # in a crowded band bucket, compare a hash with the 128 images closest by the next band only
    threshold: float = 0.03  # confirm: RMS difference of the blurred crops at best alignment, pixel range [0, 1]
    max_shift: int = 1  # confirm: alignments tried, up to 1 px at 32 px (2 px at 64 px) in half-pixel steps
    seed: int = 0  # weights, batch order, dropout
    threads: int | None = None  # torch threads and reading processes (None: all cores)

    def __post_init__(self) -> None:
        if self.code % self.bands or self.code // self.bands > 32:
            raise ValueError(f"code {self.code} must split into {self.bands} equal bands of at most 32 bits")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.threshold <= 0:
            raise ValueError(f"threshold must be a positive RMS difference (pixel range [0, 1]), got {self.threshold}")
        for name in ("crop", "code", "batch_size", "bands"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")


@dataclass
class Crops:
    """A folder's images as centre crops."""

    root: Path
    paths: list[str]  # relative to root, posix, sorted; only the readable ones
    pixels: np.ndarray  # uint8 (N, crop, crop, 3)
    unreadable: list[tuple[str, str]]  # (relative path, error)
    seconds: float


@dataclass
class DedupResult:
    root: str
    paths: list[str]  # every readable image, relative to root
    groups: list[list[int]]  # indices into paths; each group sorted, groups by their first member
    pairs: np.ndarray  # int64 (P, 2): the confirmed pairs i < j
    distances: np.ndarray  # float32 (P,): their confirm distance
    candidates: int  # pairs that collided in the hash (before confirmation)
    unreadable: list[tuple[str, str]]
    train_steps: int
    seconds: dict[str, float]  # per stage: read, fit, hash, confirm, total
    config: DedupConfig = field(default_factory=DedupConfig)

    def group_paths(self) -> list[list[str]]:
        return [[self.paths[i] for i in g] for g in self.groups]

    @property
    def duplicates(self) -> int:
        """Images that would be removed: all of each group but one."""
        return sum(len(g) - 1 for g in self.groups)

    def as_dict(self) -> dict:
        return {
            "groups": self.group_paths(),
            "images": len(self.paths),
            "duplicates": self.duplicates,
            "candidates": self.candidates,
            "confirmed_pairs": int(len(self.pairs)),
            "unreadable": [list(u) for u in self.unreadable],
            "train_steps": self.train_steps,
            "seconds": {k: round(v, 2) for k, v in self.seconds.items()},
            "config": asdict(self.config),
        }


# ---- 1. reading ------------------------------------------------------------------------------------------
def image_files(root: str | Path) -> list[str]:
    """Every .jpg/.jpeg/.png/.webp under root (recursively, hidden files skipped), relative posix paths, sorted."""
    root = Path(root).expanduser()
    try:
        _require_directory(root, "image folder")
    except NotADirectoryError as e:
        raise ValueError(str(e)) from None
    names = sorted(p.relative_to(root).as_posix() for p in _walk_files(root) if p.suffix.lower() in IMAGE_EXTENSIONS)
    if not names:
        raise ValueError(f"no {'/'.join(IMAGE_EXTENSIONS)} files under {root}; give a folder of images")
    return names


def _read_chunk(job: tuple[str, list[str], int]) -> tuple[np.ndarray, list[int], list[tuple[int, str]]]:
    """Worker: decode one chunk of files to crops; returns (pixels of the readable ones, their offsets, failures)."""
    root, names, crop = job
    out, ok, bad = [], [], []
    for k, name in enumerate(names):
        try:
            out.append(_decode_image(Path(root, name), crop, 3))
            ok.append(k)
        except DECODE_ERRORS as e:
            bad.append((k, str(e).strip() or type(e).__name__))
    pixels = np.stack(out) if out else np.zeros((0, crop, crop, 3), np.uint8)
    return pixels, ok, bad


def read_crops(root: str | Path, crop: int = 32, processes: int | None = None, progress: Progress | None = None,
               chunk: int = 512) -> Crops:
    """Every image of a folder as a crop x crop centre crop, as training reads it (JPEGs decoded at reduced size).

    Files that cannot be decoded are left out and listed in `unreadable`. `processes` > 1 decodes in that many
    forked processes (about 1.8x faster on 2 cores than one); None: one per core.
    """
    start = time.perf_counter()
    root = Path(root).expanduser()
    names = image_files(root)
    processes = processes or os.cpu_count() or 1
    jobs = [(str(root), names[i:i + chunk], crop) for i in range(0, len(names), chunk)]
    parts: list[np.ndarray] = []
    paths: list[str] = []
    unreadable: list[tuple[str, str]] = []
    done = 0

    def take(j: int, result) -> None:
        nonlocal done
        pixels, ok, bad = result
        parts.append(pixels)
        base = jobs[j][1]
        paths.extend(base[k] for k in ok)
        unreadable.extend((base[k], err) for k, err in bad)
        done += len(base)
        if progress:
            progress("read", done, len(names))

    if processes > 1 and len(jobs) > 1:
        with multiprocessing.get_context("fork").Pool(min(processes, len(jobs))) as pool:
            for j, result in enumerate(pool.imap(_read_chunk, jobs)):
                take(j, result)
    else:
        for j, job in enumerate(jobs):
            take(j, _read_chunk(job))
    pixels = np.concatenate(parts) if parts else np.zeros((0, crop, crop, 3), np.uint8)
    return Crops(root=root, paths=paths, pixels=pixels, unreadable=unreadable, seconds=time.perf_counter() - start)


# ---- 2. the denoising autoencoder --------------------------------------------------------------------------
class DenoisingAutoencoder(nn.Module):
    """3072-128-3072 (paper): dropout on the input (the corruption), a ReLU code, a linear decoder.

    Input: float (N, 3072), pixels in [0, 1] minus the folder's mean image.
    """

    def __init__(self, inputs: int = 3072, code: int = 128, dropout: float = 0.2) -> None:
        super().__init__()
        self.corrupt = nn.Dropout(dropout)
        self.encoder = nn.Linear(inputs, code)
        self.decoder = nn.Linear(code, inputs)

    def pre_activation(self, x: torch.Tensor) -> torch.Tensor:
        """(N, code): the code layer before its ReLU, on clean input."""
        return self.encoder(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(torch.relu(self.encoder(self.corrupt(x))))


def _as_inputs(pixels: np.ndarray, mean: torch.Tensor) -> torch.Tensor:
    return torch.from_numpy(pixels.reshape(len(pixels), -1)).float().div_(255).sub_(mean)


def fit_autoencoder(pixels: np.ndarray, config: DedupConfig, progress: Progress | None = None
                    ) -> tuple[DenoisingAutoencoder, torch.Tensor, int]:
    """Fit the autoencoder on uint8 crops (N, s, s, 3) to reconstruct clean from dropped-out input (MSE, Adam).

    Returns (model in eval mode, the mean image it subtracts (3072,), steps taken). The same seed gives the
    same model; the caller's torch random state is left as it was.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)  # weights, batch order and dropout masks
        return _fit(pixels, config, progress)


def _fit(pixels: np.ndarray, config: DedupConfig, progress: Progress | None) -> tuple[DenoisingAutoencoder, torch.Tensor, int]:
    n = len(pixels)
    flat = pixels.reshape(n, -1)
    mean = torch.from_numpy(flat.mean(0, dtype=np.float64).astype(np.float32) / 255)
    model = DenoisingAutoencoder(flat.shape[1], config.code, config.dropout)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    batch = min(config.batch_size, n)
    per_epoch = max(1, n // batch)
    total = min(config.max_steps, config.epochs * per_epoch)
    start, step = time.perf_counter(), 0
    model.train()
    while step < total:
        order = torch.randperm(n)
        for b in range(per_epoch):
            x = _as_inputs(flat[order[b * batch:(b + 1) * batch].numpy()], mean)
            loss = torch.nn.functional.mse_loss(model(x), x)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            if progress and (step % 20 == 0 or step == total):
                progress("fit", step, total)
            if step >= total or time.perf_counter() - start > config.max_train_seconds:
                total = step
                break
    if progress:
        progress("fit", step, step)
    return model.eval(), mean, step


@torch.no_grad()
def codes(model: DenoisingAutoencoder, mean: torch.Tensor, pixels: np.ndarray, batch: int = 4096) -> np.ndarray:
    """float32 (N, code): the code layer's pre-activations of uint8 crops."""
    flat = pixels.reshape(len(pixels), -1)
    out = [model.pre_activation(_as_inputs(flat[i:i + batch], mean)).numpy() for i in range(0, len(flat), batch)]
    return np.concatenate(out) if out else np.zeros((0, model.encoder.out_features), np.float32)


# ---- 3. the semantic hash ----------------------------------------------------------------------------------
def binarise(code: np.ndarray, median: np.ndarray | None = None) -> np.ndarray:
    """bool (N, code): each unit on or off, thresholded at its median over the folder (or the `median` given).

    The paper thresholds the ReLU (on where the unit is > 0). Thresholding the ReLU of the unit centred on its
    median is the same cut moved to where it carries the most information: every bit splits the folder in
    half, so no bit is wasted on a unit that is almost always off or always on, and a 16-bit band spreads the
    images over as many buckets as it can. Measured on 100,000 blurred crops (the autoencoder after 780 steps):
    cut at > 0, 57 of the 128 units were on for fewer than 5% or more than 95% of the images, and pairs of
    images sharing a band numbered 3.2 billion over the 8 bands; cut at the median, no such unit and 51 million.
    """
    return code > (np.median(code, axis=0, keepdims=True) if median is None else median)


def pack_bands(bits: np.ndarray, bands: int) -> np.ndarray:
    """uint64 (N, bands): each band's bits as one integer (a band is at most 32 bits)."""
    per = bits.shape[1] // bands
    weights = (np.uint64(1) << np.arange(per, dtype=np.uint64))
    return np.stack([(bits[:, b * per:(b + 1) * per].astype(np.uint64) * weights).sum(1, dtype=np.uint64)
                     for b in range(bands)], axis=1)


PROBE_SHIFTS = tuple((dy, dx) for dy in (0, -1, 1) for dx in (0, -1, 1))  # (0, 0) first: the image itself


def shift_crops(pixels: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """uint8 (N, s, s, 3): crops moved by (dy, dx) px (|d| <= 1), the uncovered edge replicated."""
    s = pixels.shape[1]
    padded = np.pad(pixels, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
    return np.ascontiguousarray(padded[:, 1 - dy:1 - dy + s, 1 - dx:1 - dx + s])


def probe_hashes(model: DenoisingAutoencoder, mean: torch.Tensor, pixels: np.ndarray, bands: int,
                 shifts: Sequence[tuple[int, int]] = PROBE_SHIFTS, chunk: int = 8192) -> np.ndarray:
    """uint64 (len(shifts) * N, bands): the packed hash of every crop moved by each probe shift (shift-major).

    A pixel autoencoder's code moves with a 1 px shift: on our planted shifts the hashes of an image and its
    shifted copy differed in a median 8 and up to 25 of 128 bits, as many as unrelated images' sometimes do.
    Hashing each image also at the eight 1 px shifts (at 32 px) puts one of its probes within half a pixel of
    any copy moved by up to 2 px at 64 px, where the hashes agree as closely as a JPEG re-encode's do.
    The threshold of every unit is its median over the unshifted images.
    """
    n = len(pixels)
    unshifted = codes(model, mean, pixels)
    median = np.median(unshifted, axis=0, keepdims=True)
    out = np.zeros((len(shifts) * n, bands), np.uint64)
    for k, (dy, dx) in enumerate(shifts):
        for start in range(0, n, chunk):
            part = pixels[start:start + chunk]
            code = unshifted[start:start + chunk] if (dy, dx) == (0, 0) else codes(model, mean, shift_crops(part, dy, dx))
            out[k * n + start:k * n + start + len(part)] = pack_bands(binarise(code, median), bands)
    return out


def _popcount(x: np.ndarray) -> np.ndarray:
    return np.bitwise_count(x) if hasattr(np, "bitwise_count") else np.unpackbits(x.view(np.uint8), axis=-1).sum(-1)


def _words(packed: np.ndarray, band_bits: int) -> np.ndarray:
    """uint64 (N, ceil(bands * band_bits / 64)): the bands' bits side by side in as few words as they fit."""
    per_word = 64 // band_bits
    words = np.zeros((len(packed), -(-packed.shape[1] // per_word)), np.uint64)
    for b in range(packed.shape[1]):
        words[:, b // per_word] |= packed[:, b] << np.uint64((b % per_word) * band_bits)
    return words


def hamming(packed: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """int (P,): bits in which hashes i and j differ, from their packed bands."""
    return _popcount(packed[i] ^ packed[j]).sum(1)


def colliding_pairs(table: np.ndarray, radius: int, probes: np.ndarray | None = None,
                    probe_owner: np.ndarray | None = None, max_bucket: int = 128, band_bits: int = 16,
                    chunk: int = 65_536) -> np.ndarray:
    """int64 (P, 2), i < j, unique: images whose hashes share at least one band and differ in at most `radius` bits.

    `table` (N, bands) holds each image's own hash; `probes` (M, bands) more hashes (of moved copies), probe k
    belonging to image `probe_owner[k]`; a probe's image pairs with the images whose own hash it collides with.
    Per band the table is sorted by (this band, the next band), and each hash is looked up by binary search
    (multi-index hashing: N log N, no N x N comparison). In a bucket of more than `max_bucket` images (a
    folder of look-alikes) only the `max_bucket` whose next band is closest to the hash's are compared, so
    the work stays bounded. With radius < bands every pair within the radius shares a band (pigeonhole).
    """
    n, bands = table.shape
    queries = table if probes is None else np.concatenate([table, probes])
    owner = np.arange(n) if probes is None else np.concatenate([np.arange(n), probe_owner])
    table_words, query_words = _words(table, band_bits), _words(queries, band_bits)  # Hamming on 2 words, not 8
    found = []
    for b in range(bands):
        nxt = (b + 1) % bands
        key = (table[:, b] << np.uint64(32)) | table[:, nxt]  # bands are <= 32 bits
        order = np.argsort(key, kind="stable")
        sorted_key = key[order]
        for start in range(0, len(queries), chunk):
            q = queries[start:start + chunk]
            lo = np.searchsorted(sorted_key, q[:, b] << np.uint64(32), "left")
            hi = np.searchsorted(sorted_key, (q[:, b] + np.uint64(1)) << np.uint64(32), "left")
            big = hi - lo > max_bucket
            if big.any():  # the max_bucket neighbours by the next band, around where this hash would sit
                at = np.searchsorted(sorted_key, (q[big, b] << np.uint64(32)) | q[big, nxt])
                lo[big] = np.clip(at - max_bucket // 2, lo[big], hi[big] - max_bucket)
                hi[big] = lo[big] + max_bucket
            count = hi - lo
            row = np.repeat(np.arange(len(q)), count)
            first = np.repeat(lo - np.cumsum(count) + count, count)  # index into sorted order, per pair
            other = order[first + np.arange(len(row))]
            i = owner[start + row]
            keep = i != other
            row, i, other = row[keep], i[keep], other[keep]
            near = _popcount(query_words[start + row] ^ table_words[other]).sum(1) <= radius
            i, other = i[near], other[near]
            found.append(np.stack([np.minimum(i, other), np.maximum(i, other)], 1))
    pairs = np.concatenate(found).astype(np.int64) if found else np.zeros((0, 2), np.int64)
    return np.unique(pairs, axis=0) if len(pairs) else pairs


# ---- 5. confirmation on pixels -----------------------------------------------------------------------------
def blur(pixels: np.ndarray) -> np.ndarray:
    """float32 (N, s, s, 3) in [0, 1]: a 3x3 box blur of uint8 crops (edges replicated).

    Blurring takes the ringing of a resize and the blocks of a JPEG re-encode out of the comparison, and
    makes a half-pixel shift (a 1 px shift at 64 px) close to linear, while two different scenes stay different.
    """
    x = pixels.astype(np.float32) / 255
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
    s = x.shape[1]
    rows = padded[:, 0:s] + padded[:, 1:s + 1] + padded[:, 2:s + 2]
    return (rows[:, :, 0:s] + rows[:, :, 1:s + 1] + rows[:, :, 2:s + 2]) / 9


def blurred(pixels: np.ndarray, chunk: int = 8192) -> np.ndarray:
    """uint8 (N, s, s, 3): the 3x3 box blur of crops, rounded back to uint8 (a chunk at a time: 100,000 crops
    as float32 would take 1.2 GB).

    The autoencoder is fitted on, and hashes, blurred crops. Unblurred, 18% of our 5,000 copies moved by 1-2 px
    (at 64 px) in a folder of 100,000 were not candidates of their original even with the nine probe shifts
    (no probe's hash within 8 bits); blurred, 0.4% (blur takes out the sub-pixel detail a shift changes).
    Still 32 x 32 x 3 = 3,072 inputs.
    """
    out = np.empty_like(pixels)
    for start in range(0, len(pixels), chunk):
        out[start:start + chunk] = np.rint(blur(pixels[start:start + chunk]) * 255)
    return out


def _moved(b: np.ndarray, m: int, dy: float, dx: float) -> np.ndarray:
    """The interior [m:s-m] of b moved by (dy, dx) px, |d| <= m, half pixels by linear interpolation."""
    s = b.shape[1]
    y0, x0 = int(np.floor(dy)), int(np.floor(dx))
    fy, fx = dy - y0, dx - x0
    out = None
    for yy, xx, w in ((y0, x0, (1 - fy) * (1 - fx)), (y0 + 1, x0, fy * (1 - fx)), (y0, x0 + 1, (1 - fy) * fx),
                      (y0 + 1, x0 + 1, fy * fx)):
        if w:
            part = w * b[:, m + yy:s - m + yy, m + xx:s - m + xx]
            out = part if out is None else out + part
    return out


def aligned_distance(a: np.ndarray, b: np.ndarray, max_shift: int = 1) -> np.ndarray:
    """float32 (P,): RMS difference of crops a[p] and b[p] (float (P, s, s, 3), pixel range [0, 1]) at the best
    alignment: b moved by every shift in half-pixel steps up to max_shift px in x and y ((4 max_shift + 1)^2
    alignments), compared over the interior that every shift covers.

    Half-pixel steps matter: a 1 px shift at 64 px is half a pixel at 32 px. On planted shifts the best whole-pixel
    alignment left up to 0.06 RMS, as much as the closest distinct renders (0.05); half-pixel steps bring the
    shifted copies to <= 0.02.
    """
    m = max_shift
    s = a.shape[1]
    inner = a[:, m:s - m, m:s - m]
    steps = np.arange(-2 * m, 2 * m + 1) / 2
    best = None
    for dy in steps:
        for dx in steps:
            d = ((inner - _moved(b, m, dy, dx)) ** 2).mean((1, 2, 3))
            best = d if best is None else np.minimum(best, d)
    return np.sqrt(best).astype(np.float32)


def confirm(pixels: np.ndarray, pairs: np.ndarray, max_shift: int = 1, chunk: int = 2048,
            progress: Progress | None = None) -> np.ndarray:
    """float32 (P,): the confirm distance of each candidate pair of uint8 crops (see aligned_distance)."""
    out = np.zeros(len(pairs), np.float32)
    for start in range(0, len(pairs), chunk):
        p = pairs[start:start + chunk]
        out[start:start + len(p)] = aligned_distance(blur(pixels[p[:, 0]]), blur(pixels[p[:, 1]]), max_shift)
        if progress:
            progress("confirm", start + len(p), len(pairs))
    return out


# ---- 6. groups -------------------------------------------------------------------------------------------
def union_groups(n: int, pairs: np.ndarray) -> list[list[int]]:
    """Connected components of the pairs with more than one member: sorted lists, ordered by first member."""
    if not len(pairs):
        return []
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(pairs), np.int8), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    members: dict[int, list[int]] = {}
    for i in np.unique(pairs):
        members.setdefault(int(label[i]), []).append(int(i))
    return sorted((sorted(g) for g in members.values() if len(g) > 1), key=lambda g: g[0])


def find_duplicates_in_crops(crops: Crops, config: DedupConfig | None = None,
                             progress: Progress | None = None) -> DedupResult:
    """Steps 2-6 on crops already read."""
    config = config or DedupConfig()
    seconds = {"read": crops.seconds}
    previous = torch.get_num_threads()
    if config.threads:
        torch.set_num_threads(config.threads)
    try:
        t = time.perf_counter()
        smooth = blurred(crops.pixels)  # what the autoencoder sees (see blur)
        if len(crops.paths) < 2:
            model, mean, steps = None, None, 0
        else:
            model, mean, steps = fit_autoencoder(smooth, config, progress)
        seconds["fit"] = time.perf_counter() - t
        t = time.perf_counter()
        if progress:
            progress("hash", 0, 1)
        if model is None:
            pairs = np.zeros((0, 2), np.int64)
        else:
            n = len(crops.paths)
            shifts = PROBE_SHIFTS if config.probe_shifts else PROBE_SHIFTS[:1]
            packed = probe_hashes(model, mean, smooth, config.bands, shifts)
            pairs = colliding_pairs(packed[:n], config.hamming_radius, packed[n:], np.tile(np.arange(n), len(shifts) - 1),
                                    config.max_bucket, config.code // config.bands)
        seconds["hash"] = time.perf_counter() - t
        if progress:
            progress("hash", 1, 1)
        t = time.perf_counter()
        distance = confirm(crops.pixels, pairs, config.max_shift, progress=progress)
        keep = distance <= config.threshold
        seconds["confirm"] = time.perf_counter() - t
    finally:
        torch.set_num_threads(previous)
    seconds["total"] = sum(seconds.values())
    return DedupResult(
        root=str(crops.root), paths=crops.paths, groups=union_groups(len(crops.paths), pairs[keep]), pairs=pairs[keep],
        distances=distance[keep], candidates=int(len(pairs)), unreadable=crops.unreadable, train_steps=steps,
        seconds=seconds, config=config,
    )


def find_duplicates(root: str | Path, config: DedupConfig | None = None, progress: Progress | None = None) -> DedupResult:
    """Groups of near-duplicate images in a folder (paper 4.1.1): read, fit, hash, collide, confirm, group."""
    config = config or DedupConfig()
    crops = read_crops(root, config.crop, processes=config.threads, progress=progress)
    return find_duplicates_in_crops(crops, config, progress)


# ---- the exact-hash baseline and the exclusion list ------------------------------------------------------
def exact_duplicates(root: str | Path, paths: Sequence[str] | None = None) -> list[list[str]]:
    """Groups of files with identical bytes (sha256): the baseline, which finds exact copies only."""
    root = Path(root).expanduser()
    paths = image_files(root) if paths is None else paths
    by_digest: dict[str, list[str]] = {}
    for name in paths:
        by_digest.setdefault(hashlib.sha256(Path(root, name).read_bytes()).hexdigest(), []).append(name)
    return sorted((sorted(g) for g in by_digest.values() if len(g) > 1), key=lambda g: g[0])


def exclusions(groups: DedupResult | Sequence[Sequence[str]]) -> list[str]:
    """Every member of each group but the first by path (the one kept), sorted."""
    groups = groups.group_paths() if isinstance(groups, DedupResult) else groups
    return sorted(name for g in groups for name in sorted(g)[1:])


def write_exclusion_list(path: str | Path, names: Sequence[str], header: str = "") -> None:
    """A text file, one path relative to the data root per line; lines starting with '#' are comments.

    `dcgan train --dataset folder --data-root ROOT --exclude FILE` skips these files.
    """
    with atomic_write(path, "w") as f:
        for line in header.splitlines():
            f.write(f"# {line}\n")
        for name in names:
            f.write(f"{name}\n")
