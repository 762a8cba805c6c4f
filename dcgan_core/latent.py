"""Latent codes: sampling z reproducibly from a seed, paths between codes, and walks through them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch

from .models import ModelConfig


def sample_z(
    n: int,
    config: ModelConfig,
    seed: int | None = None,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """(n, nz) codes from the model's prior: uniform on [-1, 1] (paper) or N(0, 1).

    With `seed` the codes depend only on (seed, n, nz, prior), never on the device or
    global RNG state, so every image the app shows can be regenerated. Codes are drawn
    on the CPU and moved, which keeps them identical across CPU and GPU.
    """
    if generator is None:
        generator = torch.Generator().manual_seed(0 if seed is None else int(seed))
    if config.z_prior == "uniform":
        z = torch.rand(n, config.nz, generator=generator) * 2 - 1
    else:
        z = torch.randn(n, config.nz, generator=generator)
    return z.to(device)


def lerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
    """Straight line from a (t=0) to b (t=1)."""
    return a + (b - a) * t


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor | float, eps: float = 1e-7) -> torch.Tensor:
    """Great-circle path from a to b (norm interpolated linearly), last dim is z.

    For a normal prior this keeps codes at a typical norm, unlike lerp whose midpoint
    shrinks towards the origin. Falls back to lerp for (anti-)parallel codes.
    """
    t = torch.as_tensor(t, dtype=a.dtype, device=a.device)
    if t.dim() == 1 and a.dim() == 1:
        t = t[:, None]
    na, nb = a.norm(dim=-1, keepdim=True), b.norm(dim=-1, keepdim=True)
    ua, ub = a / na.clamp_min(eps), b / nb.clamp_min(eps)
    cos = (ua * ub).sum(-1, keepdim=True).clamp(-1 + eps, 1 - eps)
    omega = torch.arccos(cos)
    so = torch.sin(omega)
    direction = (torch.sin((1 - t) * omega) * ua + torch.sin(t * omega) * ub) / so
    radius = na + (nb - na) * t
    out = direction * radius
    return torch.where(so.abs() < 1e-4, lerp(a, b, t), out)


# --------------------------------------------------------------------------- latent walks (paper section 6.1, Fig. 4)

INTERPOLATIONS = ("slerp", "lerp")


class WalkPath(NamedTuple):
    """The codes of every frame of a walk through a series of waypoints.

    z        (F, nz) codes, F = (k - 1) * steps + 1 for k waypoints
    segment  (F,) long: which pair of waypoints frame f lies between (0 .. k - 2; the last
             frame, which is the last waypoint, belongs to the last segment)
    t        (F,) position along that segment, 0 at its first waypoint, 1 at its second
    """

    z: torch.Tensor
    segment: torch.Tensor
    t: torch.Tensor


def walk_path(waypoints: torch.Tensor, steps: int, method: str = "slerp") -> WalkPath:
    """Interpolate through (k, nz) waypoints in order, `steps` frames per segment.

    Frame s * steps is waypoint s exactly, so segment s spans frames s * steps ..
    (s + 1) * steps inclusive (shared endpoints: the paper's Fig. 4 rows). `method` is
    "slerp" (great circle; keeps codes at a typical norm) or "lerp" (straight line).

    Example: 9 points, 8 steps -> 65 frames.
        path = walk_path(sample_z(9, config, seed=0), steps=8)
    """
    if method not in INTERPOLATIONS:
        raise ValueError(f"interpolation must be one of {INTERPOLATIONS}, got {method!r}")
    if waypoints.dim() != 2 or waypoints.shape[0] < 2:
        raise ValueError(f"a walk needs at least 2 waypoints as a (k, nz) tensor, got shape {tuple(waypoints.shape)}")
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    k = waypoints.shape[0]
    t = torch.arange(steps, dtype=waypoints.dtype, device=waypoints.device) / steps  # 0 .. (steps-1)/steps
    a = waypoints[:-1].repeat_interleave(steps, dim=0)  # ((k-1)*steps, nz)
    b = waypoints[1:].repeat_interleave(steps, dim=0)
    tt = t.repeat(k - 1)[:, None]
    interpolate = slerp if method == "slerp" else lerp
    z = torch.cat([interpolate(a, b, tt), waypoints[-1:]], dim=0)
    segment = torch.cat([torch.arange(k - 1).repeat_interleave(steps), torch.tensor([k - 2])]).to(waypoints.device)
    t_out = torch.cat([tt[:, 0], torch.ones(1, dtype=waypoints.dtype, device=waypoints.device)])
    z[::steps] = waypoints  # exact waypoints (slerp's arithmetic would be off by rounding)
    return WalkPath(z=z, segment=segment, t=t_out)


@dataclass(frozen=True)
class WalkSmoothness:
    """How evenly the pictures change along a walk.

    changes[i] is the mean absolute pixel change from frame i to frame i + 1, in uint8
    units (0-255, averaged over pixels and channels). `ratio` = largest / median change:
    about 1-3 on a smooth walk; a single step that changes far more than the others is a
    jump, what memorisation would look like (paper section 6.1).
    """

    ratio: float
    largest: float
    median: float
    largest_at: int  # the largest change is from frame largest_at to largest_at + 1
    changes: np.ndarray


def walk_smoothness(frames: np.ndarray | torch.Tensor) -> WalkSmoothness:
    """Smoothness figure of a walk's frames, uint8 (F, H, W, C) (or any layout with frames first)."""
    x = torch.as_tensor(np.asarray(frames) if not torch.is_tensor(frames) else frames).float()
    if x.shape[0] < 2:
        raise ValueError(f"need at least 2 frames to measure a walk, got {x.shape[0]}")
    changes = (x[1:] - x[:-1]).abs().flatten(1).mean(1).numpy().astype(np.float64)
    largest_at = int(changes.argmax())
    largest, median = float(changes[largest_at]), float(np.median(changes))
    if median > 0:
        ratio = largest / median
    else:
        ratio = math.inf if largest > 0 else 1.0
    return WalkSmoothness(ratio=ratio, largest=largest, median=median, largest_at=largest_at, changes=changes)


def pca_2d(z: torch.Tensor | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project (N, nz) codes on their first two principal components (numpy SVD).

    Returns (coords (N, 2), explained (2,)): coordinates in z units and the share of the
    variance each axis explains. Signs are fixed (largest loading positive), so the same
    codes always give the same picture. Fewer than 2 distinct codes give zeros.
    """
    x = np.asarray(z.detach().cpu().numpy() if torch.is_tensor(z) else z, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"expected (N, nz) codes, got shape {x.shape}")
    x = x - x.mean(axis=0, keepdims=True)
    coords = np.zeros((x.shape[0], 2))
    explained = np.zeros(2)
    if x.shape[0] < 2 or not np.any(x):
        return coords, explained
    _, s, vt = np.linalg.svd(x, full_matrices=False)
    m = min(2, vt.shape[0])
    axes = vt[:m]
    signs = np.sign(axes[np.arange(m), np.abs(axes).argmax(axis=1)])
    axes = axes * signs[:, None]
    coords[:, :m] = x @ axes.T
    var = s**2
    explained[:m] = var[:m] / var.sum()
    return coords, explained
