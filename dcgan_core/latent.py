"""Latent codes: sampling z reproducibly from a seed, and paths between codes."""

from __future__ import annotations

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
