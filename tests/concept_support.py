"""Stand-ins for a faces generator and the face instrument whose answers are known (shared by the concept tests)."""

from __future__ import annotations

import torch
from torch import nn

from dcgan_core.models import ModelConfig


class StripesGenerator(nn.Module):
    """A stand-in generator whose pictures spell out z: the top half's R, G, B are z0, z1, z2; the bottom half is z3."""

    def __init__(self):
        super().__init__()
        self.config = ModelConfig(image_size=32, nz=6, ngf=8, ndf=8)
        self.unused = nn.Parameter(torch.zeros(1))

    def forward(self, z, drop=None):
        x = torch.empty(z.shape[0], 3, 32, 32)
        x[:, :, :16] = z[:, :3, None, None]
        x[:, :, 16:] = z[:, 3, None, None, None]
        return x


class StripesInstrument(nn.Module):
    """Reads StripesGenerator's pictures exactly: glasses = R > 0, masculine = G > 0, smiling = B > 0, turn = tanh(3 z3)."""

    def __init__(self):
        super().__init__()
        self.unused = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        top, bottom = x[:, :, 8:24].mean((2, 3)), x[:, :, 40:56].mean((1, 2, 3))
        return torch.cat([50 * top[:, [0]], 50 * top[:, [2]], 50 * top[:, [1]], torch.tanh(3 * bottom)[:, None]], 1)


class GlassesAtEitherEnd(StripesInstrument):
    """Glasses where |z0| > 0.5: two separate regions of z, whose codes average to no glasses."""

    def forward(self, x):
        out = super().forward(x)
        out[:, 0] = 50 * (x[:, 0, 8:24].mean((1, 2)).abs() - 0.5)
        return out


class GlassesInStripes(StripesInstrument):
    """Glasses where sin(8 pi z0) > 0: eight thin slabs of z, so a small step in z0 often takes them off."""

    def forward(self, x):
        out = super().forward(x)
        out[:, 0] = 50 * torch.sin(8 * torch.pi * x[:, 0, 8:24].mean((1, 2)))
        return out
