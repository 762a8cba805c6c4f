"""Converting between model tensors and pictures: [-1, 1] NCHW floats <-> uint8 NHWC arrays."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .files import write_bytes_atomic


def pixels_to_unit(pixels: torch.Tensor) -> torch.Tensor:
    """Pixel values in [0, 255] (uint8 or float) -> float32 in [-1, 1], G's tanh range; the layout is kept."""
    return pixels.to(torch.float32, copy=True).div_(127.5).sub_(1.0)


def unit_to_pixels(x: torch.Tensor) -> torch.Tensor:
    """Floats in [-1, 1] -> uint8 pixel values (rounded, out-of-range values clipped); the layout is kept."""
    return ((x.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) or (C, H, W) floats in [-1, 1] -> uint8 (N, H, W, C) / (H, W, C), C in {1, 3}."""
    x = unit_to_pixels(images.cpu())
    perm = (0, 2, 3, 1) if x.dim() == 4 else (1, 2, 0)
    return x.permute(*perm).contiguous().numpy()


def from_uint8(array: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W, C) / (H, W, C) -> float32 (N, C, H, W) / (C, H, W) in [-1, 1]."""
    x = pixels_to_unit(torch.from_numpy(np.ascontiguousarray(array)))
    return x.permute(0, 3, 1, 2) if x.dim() == 4 else x.permute(2, 0, 1)


def image_grid(images: np.ndarray, nrow: int | None = None, padding: int = 2, pad_value: int = 255) -> np.ndarray:
    """Tile uint8 (N, H, W, C) images into one (H', W', C) array, `nrow` images per row."""
    if images.ndim != 4:
        raise ValueError(f"expected (N, H, W, C) images, got shape {images.shape}")
    n, h, w, c = images.shape
    nrow = nrow or max(1, int(math.ceil(math.sqrt(n))))
    rows = int(math.ceil(n / nrow))
    grid = np.full((rows * (h + padding) + padding, nrow * (w + padding) + padding, c), pad_value, dtype=np.uint8)
    for k in range(n):
        r, col = divmod(k, nrow)
        y, x = padding + r * (h + padding), padding + col * (w + padding)
        grid[y : y + h, x : x + w] = images[k]
    return grid


def to_pil(array: np.ndarray) -> Image.Image:
    """uint8 (H, W, 1|3) -> PIL image (L or RGB)."""
    return Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array)


def png_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    to_pil(array).save(buf, format="PNG")
    return buf.getvalue()


def save_png(path: str | Path, array: np.ndarray) -> None:
    """Write a uint8 (H, W, C) array as PNG, atomically."""
    write_bytes_atomic(path, png_bytes(array))


def upscale_nearest(array: np.ndarray, factor: int) -> np.ndarray:
    """Blow up small images (H, W, C) or (N, H, W, C) by an integer factor so pixels stay crisp."""
    if factor <= 1:
        return array
    return array.repeat(factor, axis=-3).repeat(factor, axis=-2)
