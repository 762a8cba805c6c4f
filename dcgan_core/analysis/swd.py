"""Multi-scale sliced Wasserstein distance (SWD): an image-quality metric that needs no downloaded network.

Karras et al. 2018 (Progressive GAN, section 5 and appendix D; their `metrics/sliced_wasserstein.py`):
1. build a Laplacian pyramid of every image, from full resolution down to 16 px (64 px -> levels
   64, 32, 16); each level is the detail lost by blurring with the 5x5 binomial filter and
   halving, except the last, which is the blurred (low-pass) image itself;
2. take 128 random 7x7 neighbourhoods per image per level; each is a 7*7*3 = 147-d descriptor;
3. normalise each level's descriptors *per set*: subtract the mean and divide by the standard
   deviation of each colour channel over that set's own patches (as they do, so a global shift
   of brightness or contrast between the sets is ignored and only structure counts);
4. per level, the sliced Wasserstein distance between the real and the fake descriptors: project
   both onto random unit directions, sort, and average the absolute differences of the sorted
   projections (the 1-D Wasserstein-1 distance along each direction), averaged over directions.
Distances are reported x 1e3, per level and averaged over levels. Small is good; what counts as
small depends on the data, so compare models on the same real set, or against the noise floor of
real vs real (two independent real samples).

`num_projections` is the total number of directions per level (512, the paper's "512
projections"), drawn in `repeats` batches: their code uses 4 repeats of 128 directions.

Differences from their code, neither of which changes the metric:
- every random draw comes from `seed` (never the global RNG); image i of both sets gets the same
  patch positions, so a set compared with itself scores exactly 0;
- the two sets may differ in size: the 1-D distance is then the exact Wasserstein-1 distance
  between the two empirical distributions (for equal sizes it is their mean |sorted difference|).
Everything runs on the CPU; sorting uses numpy, whose vectorised sort is many times faster than
torch's there.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from ..generate import generate
from ..latent import sample_z
from ..models import Generator

if TYPE_CHECKING:
    from ..checkpoints import LoadedModel

# 5x5 binomial filter of cv2.pyrDown / their code, as its separable 1-D factor.
_BINOMIAL = (1 / 16, 4 / 16, 6 / 16, 4 / 16, 1 / 16)

_CHUNK_IMAGES = 256  # images per pyramid batch: bounds the memory for float copies of the images
_CHUNK_VALUES = 2**26  # projected values held per set at once (256 MiB of float32)


@dataclass(frozen=True)
class SWDResult:
    """SWD x 1e3 per pyramid level (keyed by the level's resolution in px) and their mean."""

    per_level: dict[int, float]
    mean: float
    n_real: int
    n_fake: int


def as_image_tensor(images, name: str = "images") -> torch.Tensor:
    """uint8 (N, C, H, W) tensor or array -> uint8 tensor; float ones in [-1, 1] are kept as float32.

    Raises ValueError for other shapes, dtypes or float values outside [-1, 1].
    """
    x = torch.from_numpy(np.ascontiguousarray(images)) if isinstance(images, np.ndarray) else images
    if not torch.is_tensor(x):
        raise ValueError(f"{name} must be a tensor or numpy array, got {type(images).__name__}")
    if x.dim() != 4:
        raise ValueError(f"{name} must have shape (N, C, H, W), got {tuple(x.shape)}")
    if x.dtype == torch.uint8:
        return x
    if not x.is_floating_point():
        raise ValueError(f"{name} must be uint8 in [0, 255] or float in [-1, 1], got dtype {x.dtype}")
    x = x.detach().float()
    if x.numel() and (x.min() < -1.001 or x.max() > 1.001):
        raise ValueError(
            f"float {name} must lie in [-1, 1] (the range of G's tanh), got [{x.min():.3g}, {x.max():.3g}]; "
            "pass uint8 for 0..255 images"
        )
    return x


def _to_pixel_scale(chunk: torch.Tensor) -> torch.Tensor:
    """uint8 or [-1, 1] float images -> float32 on the 0..255 scale (their code works on uint8 values)."""
    if chunk.dtype == torch.uint8:
        return chunk.float()
    return (chunk.float() + 1.0) * 127.5


def _blur(x: torch.Tensor, gain: float = 1.0, stride: int = 1) -> torch.Tensor:
    """Separable 5x5 binomial filter with mirror borders (d c b | a b c d | c b a, as cv2 and scipy's
    'mirror'), evaluated at every `stride`-th row and column. Shifted sums: far faster than a
    one-channel conv2d on the CPU."""
    h, w = x.shape[-2:]
    p = F.pad(x, (2, 2, 2, 2), mode="reflect")
    rows = p[..., 0:w:stride] * (gain * _BINOMIAL[0])
    for i in range(1, 5):
        rows.add_(p[..., i : i + w : stride], alpha=gain * _BINOMIAL[i])
    out = rows[..., 0:h:stride, :] * (gain * _BINOMIAL[0])
    for i in range(1, 5):
        out.add_(rows[..., i : i + h : stride, :], alpha=gain * _BINOMIAL[i])
    return out


def _pyr_down(x: torch.Tensor) -> torch.Tensor:
    return _blur(x, stride=2)


def _pyr_up(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Zero-stuff to double size and blur with 4x the filter (cv2.pyrUp), cropped to `size`."""
    n, c, h, w = x.shape
    up = x.new_zeros(n, c, 2 * h, 2 * w)
    up[:, :, ::2, ::2] = x
    return _blur(up, gain=2.0)[:, :, : size[0], : size[1]]  # 2 per axis: 4 for the 2-D filter


def laplacian_level(images: torch.Tensor, level: int, num_levels: int) -> torch.Tensor:
    """Level `level` (0 = full resolution) of a `num_levels`-level Laplacian pyramid of float images."""
    x = images
    for _ in range(level):
        x = _pyr_down(x)
    if level == num_levels - 1:
        return x  # the low-pass residual
    return x - _pyr_up(_pyr_down(x), x.shape[-2:])


def pyramid_resolutions(size: int, min_resolution: int = 16) -> list[int]:
    """Resolutions of the pyramid levels of `size`-px images: 64 -> [64, 32, 16]."""
    out = []
    while size >= min_resolution:
        out.append(size)
        size = (size + 1) // 2
    return out


def _stream_seed(seed: int, *stream: int) -> int:
    """An independent seed per (seed, purpose, level), so no draw depends on another's count."""
    return int(np.random.SeedSequence([int(seed), *stream]).generate_state(1, np.uint64)[0] >> 1)


def _descriptors(
    images: torch.Tensor, level: int, num_levels: int, positions: torch.Tensor, patch_size: int
) -> torch.Tensor:
    """(N * patches, C, k, k) neighbourhoods of pyramid level `level`, centred at `positions` (N, patches, 2)."""
    n, c = images.shape[:2]
    per_image = positions.shape[1]
    k = patch_size
    out = torch.empty(n * per_image, c, k, k)
    for start in range(0, n, _CHUNK_IMAGES):
        stop = min(start + _CHUNK_IMAGES, n)
        lev = laplacian_level(_to_pixel_scale(images[start:stop].cpu()), level, num_levels)
        # every k x k window as a strided view (b, H', W', C, k, k), then pick the chosen windows
        windows = lev.unfold(2, k, 1).unfold(3, k, 1).permute(0, 2, 3, 1, 4, 5)
        corner = positions[start:stop] - k // 2  # (b, patches, 2) top-left corners
        picked = windows[torch.arange(stop - start).view(-1, 1), corner[..., 0], corner[..., 1]]
        out[start * per_image : stop * per_image] = picked.reshape(-1, c, k, k)
    return out


def _normalise(desc: torch.Tensor) -> torch.Tensor:
    """Per-channel zero mean, unit std over this set's patches (their finalize_descriptors); -> (M, C*k*k)."""
    desc -= desc.mean(dim=(0, 2, 3), keepdim=True)  # torch's cascade sums keep float32 accurate here
    std = torch.linalg.vector_norm(desc, dim=(0, 2, 3), keepdim=True) / (desc.numel() // desc.shape[1]) ** 0.5
    desc /= torch.where(std > 0, std, torch.ones_like(std))  # a flat channel stays 0 instead of NaN
    return desc.reshape(desc.shape[0], -1)


def _w1_plan(n: int, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices into sorted samples of sizes n and m and weights so that W1 = sum w * |a[ia] - b[ib]|.

    The quantile functions of the two empirical distributions are step functions with steps at
    i/n and j/m; between consecutive steps both are constant. Exact integers over n * m avoid
    rounding at coinciding steps.
    """
    steps = np.union1d(np.arange(1, n + 1, dtype=np.int64) * m, np.arange(1, m + 1, dtype=np.int64) * n)
    ia = (steps + m - 1) // m - 1
    ib = (steps + n - 1) // n - 1
    w = (np.diff(steps, prepend=0) / float(n * m)).astype(np.float32)
    return ia, ib, w


def _sliced_w1(a: torch.Tensor, b: torch.Tensor, directions: torch.Tensor) -> float:
    """Mean over directions (D, P) of the 1-D Wasserstein-1 distance between projections of a and b."""
    n, m = a.shape[0], b.shape[0]
    plan = None if n == m else _w1_plan(n, m)
    chunk = max(1, _CHUNK_VALUES // max(n, m))
    total = 0.0
    for start in range(0, directions.shape[1], chunk):
        d = directions[:, start : start + chunk].T.contiguous()  # (p, D)
        pa = (d @ a.T).numpy()  # (p, n): one row per direction
        pb = (d @ b.T).numpy()
        pa.sort(axis=1)
        pb.sort(axis=1)
        if plan is None:
            pa -= pb
            total += float(np.abs(pa, out=pa).sum(dtype=np.float64)) / n
        else:
            ia, ib, w = plan
            diff = np.take(pa, ia, axis=1)
            diff -= np.take(pb, ib, axis=1)
            total += float((np.abs(diff, out=diff) @ w).sum(dtype=np.float64))
    return total / directions.shape[1]


def sliced_wasserstein_distance(
    real,
    fake,
    *,
    patches_per_image: int = 128,
    patch_size: int = 7,
    num_projections: int = 512,
    repeats: int = 4,
    min_resolution: int = 16,
    seed: int = 0,
) -> SWDResult:
    """SWD x 1e3 between two image sets, per Laplacian pyramid level and averaged.

    real, fake: uint8 (N, C, H, W) tensors or arrays (0..255), or float tensors in [-1, 1]; same
    C, H, W; the counts may differ (at least 2 images each). `num_projections` random directions per
    level in total, drawn in `repeats` equal batches (Karras et al.: 4 x 128). Deterministic by `seed`.
    Cost grows as N * patches_per_image * num_projections per level (projections and sorts): on one
    CPU core about 5 s for 1k vs 1k 64-px RGB images, and 1 minute and 3 GB of memory for 10k vs 10k.
    More threads speed up the projections.
    """
    real = as_image_tensor(real, "real")
    fake = as_image_tensor(fake, "fake")
    if real.shape[1:] != fake.shape[1:]:
        raise ValueError(
            "real and fake images must have the same (C, H, W), "
            f"got {tuple(real.shape[1:])} and {tuple(fake.shape[1:])}"
        )
    for name, x in (("real", real), ("fake", fake)):
        if x.shape[0] < 2:
            raise ValueError(f"SWD compares distributions: need at least 2 {name} images, got {x.shape[0]}")
    if patch_size < 1 or patch_size % 2 == 0:
        raise ValueError(f"patch_size must be odd and positive, got {patch_size}")
    if min_resolution < max(patch_size, 3):
        raise ValueError(f"min_resolution must be at least the patch size ({patch_size}) and 3, got {min_resolution}")
    if patches_per_image < 1:
        raise ValueError(f"patches_per_image must be positive, got {patches_per_image}")
    if repeats < 1 or num_projections < repeats or num_projections % repeats:
        raise ValueError(f"num_projections ({num_projections}) must be a positive multiple of repeats ({repeats})")
    c, h, w = real.shape[1:]
    if min(h, w) < min_resolution:
        raise ValueError(f"images of {h}x{w} px are smaller than min_resolution={min_resolution} px")
    resolutions = pyramid_resolutions(min(h, w), min_resolution)
    num_levels = len(resolutions)
    n_max = max(real.shape[0], fake.shape[0])
    r = patch_size // 2
    per_level: dict[int, float] = {}
    for level in range(num_levels):
        lh, lw = -(-h // 2**level), -(-w // 2**level)  # size after `level` halvings (ceil)
        g = torch.Generator().manual_seed(_stream_seed(seed, 0, level))
        ys = torch.randint(r, lh - r, (n_max, patches_per_image), generator=g)
        xs = torch.randint(r, lw - r, (n_max, patches_per_image), generator=g)
        positions = torch.stack([ys, xs], dim=-1)
        a = _normalise(_descriptors(real, level, num_levels, positions[: real.shape[0]], patch_size))
        b = _normalise(_descriptors(fake, level, num_levels, positions[: fake.shape[0]], patch_size))
        g = torch.Generator().manual_seed(_stream_seed(seed, 1, level))
        dists = []
        for _ in range(repeats):
            dirs = torch.randn(a.shape[1], num_projections // repeats, generator=g)
            dirs /= dirs.norm(dim=0, keepdim=True)
            dists.append(_sliced_w1(a, b, dirs))
        del a, b
        per_level[lh] = float(np.mean(dists)) * 1e3
    return SWDResult(
        per_level=per_level,
        mean=float(np.mean(list(per_level.values()))),
        n_real=int(real.shape[0]),
        n_fake=int(fake.shape[0]),
    )


def generate_images(
    generator: Generator,
    n: int,
    *,
    seed: int = 0,
    batch_size: int = 256,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """uint8 (n, C, H, W) images from z = sample_z(n, config, seed): the same images on every call.

    G runs in eval mode (BatchNorm running statistics, so an image does not depend on its batch);
    a generator in training mode, or on another device than `device` (default: its own), is copied
    first, so a shared model is never modified.
    """
    if n < 1:
        raise ValueError(f"n must be positive, got {n}")
    own = next(generator.parameters()).device
    device = own if device is None else torch.device(device)
    g = generator
    if g.training or own != device:
        g = copy.deepcopy(generator).to(device).eval()
    images = generate(g, sample_z(n, generator.config, seed=seed), batch_size=batch_size)  # uint8 NHWC
    return torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()


def evaluate_swd(
    model: LoadedModel,
    real_uint8,
    n_fake: int | None = None,
    seed: int = 0,
    **swd_options,
) -> SWDResult:
    """SWD between a checkpoint's samples (as many as real images by default) and real images.

    Fake images come from `generate_images(model.generator, n_fake, seed=seed)`; `swd_options` go
    to `sliced_wasserstein_distance` (its seed is `seed` too).
    """
    real = as_image_tensor(real_uint8, "real")
    cfg = model.config
    expected = (cfg.channels, cfg.image_size, cfg.image_size)
    if tuple(real.shape[1:]) != expected:
        raise ValueError(f"the model makes {expected} images but the real images are {tuple(real.shape[1:])}")
    fake = generate_images(model.generator, n_fake or real.shape[0], seed=seed)
    return sliced_wasserstein_distance(real, fake, seed=seed, **swd_options)
