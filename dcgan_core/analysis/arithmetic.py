"""Vector arithmetic in z and in pixels (paper section 6.3.2, Fig. 7) and axes between two concepts (Fig. 8).

Y = mean(A) - mean(B) + mean(C), e.g. "smiling woman - neutral woman + neutral man", each mean
over a few exemplars (3 in the paper). Y is shown in the centre of a 3x3 grid, surrounded by 8
samples of Y plus uniform noise in [-0.25, 0.25] per dimension, to show the result is a region of
z, not a lucky point. The same arithmetic on the three mean *images* gives ghostly overlaps
(`pixel_arithmetic`). An axis is mean(b) - mean(a) (looking left -> looking right); adding it to
random faces turns them.

    a, b, c = (ConceptSet(name, z[list(i)], me) for name, i in
               (("smiling woman", (1, 4, 9)), ("neutral woman", (2, 5, 7)), ("neutral man", (0, 3, 8))))
    y = concept_arithmetic(a, b, c)                           # (nz,)
    images = generate(model.generator, arithmetic_codes(y))   # 9 images, Y at index CENTRE (4)

Every function takes a concept as a `ConceptSet` or as its (k, nz) codes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from .concept_sets import ConceptSet

MIN_PER_CONCEPT = 3  # exemplars averaged per concept (paper: 3; single samples were unstable)
NOISE_SCALE = 0.25  # uniform noise around Y in the paper's Fig. 7: [-0.25, 0.25] per dimension
NEIGHBOURS = 8  # noisy samples around Y (3x3 grid with Y in the middle)
CENTRE = 4  # index of Y among the 9 codes of `arithmetic_codes` (row-major 3x3)


def as_codes(x: ConceptSet | torch.Tensor | np.ndarray) -> torch.Tensor:
    """(k, nz) float32 CPU codes of a concept: a ConceptSet, (k, nz) codes, or one (nz,) code."""
    z = x.z if isinstance(x, ConceptSet) else torch.as_tensor(np.asarray(x) if not torch.is_tensor(x) else x)
    z = z.detach().to("cpu", torch.float32)
    if z.dim() == 1:
        z = z[None]
    if z.dim() != 2 or z.shape[0] < 1:
        raise ValueError(f"a concept needs at least one code as a (k, nz) array, got shape {tuple(z.shape)}")
    return z


def concept_mean(x: ConceptSet | torch.Tensor | np.ndarray) -> torch.Tensor:
    """(nz,) average code of a concept's (k, nz) exemplars."""
    return as_codes(x).mean(0)


def concept_arithmetic(a, b, c) -> torch.Tensor:
    """Y = mean(a) - mean(b) + mean(c), (nz,): e.g. smiling woman - neutral woman + neutral man.

    Each of a, b, c is a ConceptSet or (k, nz) codes (k may differ); codes must have the same nz.
    """
    za, zb, zc = as_codes(a), as_codes(b), as_codes(c)
    if not za.shape[1] == zb.shape[1] == zc.shape[1]:
        raise ValueError(f"concepts have codes of different sizes: {za.shape[1]}, {zb.shape[1]}, {zc.shape[1]}")
    return za.mean(0) - zb.mean(0) + zc.mean(0)


def noisy_neighbours(
    y: torch.Tensor, n: int = NEIGHBOURS, scale: float = NOISE_SCALE, seed: int = 0, clip: float | None = None
) -> torch.Tensor:
    """(n, nz) codes y + u, u uniform in [-scale, scale] per dimension (paper Fig. 7), from `seed` alone.

    The paper does not clip. Y itself often leaves the uniform prior's box [-1, 1] a little (it is a
    sum of three means: per dimension its spread matches the prior's, but it is not bounded), and the
    generator copes; `clip=1.0` keeps the neighbours inside [-1, 1] for those who want only codes the
    model was trained on.
    """
    y = as_codes(y)[0]
    if n < 0 or scale < 0:
        raise ValueError(f"n and scale must not be negative, got n={n}, scale={scale}")
    g = torch.Generator().manual_seed(int(seed))
    out = y + (torch.rand(n, y.shape[0], generator=g) * 2 - 1) * scale
    return out.clamp(-clip, clip) if clip is not None else out


def arithmetic_codes(y: torch.Tensor, scale: float = NOISE_SCALE, seed: int = 0, clip: float | None = None) -> torch.Tensor:
    """(9, nz): the paper's Fig. 7 grid, row-major 3x3, Y at index CENTRE and its 8 noisy neighbours around it."""
    y = as_codes(y)[0]
    around = noisy_neighbours(y, NEIGHBOURS, scale, seed, clip)
    return torch.cat([around[:CENTRE], y[None], around[CENTRE:]])


def _float_images(images) -> np.ndarray:
    x = np.asarray(images)
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4 or len(x) < 1:
        raise ValueError(f"expected (N, H, W, C) images, got shape {x.shape}")
    return x.astype(np.float64)


def mean_image(images: np.ndarray) -> np.ndarray:
    """uint8 (H, W, C): the pixel-wise average of uint8 (N, H, W, C) images."""
    return np.clip(np.rint(_float_images(images).mean(0)), 0, 255).astype(np.uint8)


def pixel_arithmetic(images_a: np.ndarray, images_b: np.ndarray, images_c: np.ndarray) -> np.ndarray:
    """uint8 (H, W, C): mean(A) - mean(B) + mean(C) on the images themselves, clipped to 0..255.

    The same equation as `concept_arithmetic`, in pixel space (the paper's comparison): it
    overlays the three averages instead of combining what they show.
    """
    a, b, c = (_float_images(x) for x in (images_a, images_b, images_c))
    if not a.shape[1:] == b.shape[1:] == c.shape[1:]:
        raise ValueError(f"images differ in size: {a.shape[1:]}, {b.shape[1:]}, {c.shape[1:]}")
    return np.clip(np.rint(a.mean(0) - b.mean(0) + c.mean(0)), 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------- axes between two concepts (Fig. 8)


def concept_axis(a, b) -> torch.Tensor:
    """(nz,) mean(b) - mean(a): the direction from concept a to concept b (e.g. looking left -> looking right)."""
    za, zb = as_codes(a), as_codes(b)
    if za.shape[1] != zb.shape[1]:
        raise ValueError(f"concepts have codes of different sizes: {za.shape[1]}, {zb.shape[1]}")
    return zb.mean(0) - za.mean(0)


def axis_strip(a, b, steps: int = 9, extend: float = 0.0) -> torch.Tensor:
    """(steps, nz) codes from mean(a) to mean(b) in a straight line; `extend` > 0 goes that fraction of the axis beyond both ends."""
    if steps < 2:
        raise ValueError(f"a strip needs at least 2 steps, got {steps}")
    start = concept_mean(a)
    t = torch.linspace(-extend, 1 + extend, steps)[:, None]
    return start + t * concept_axis(a, b)


def along_axis(z: torch.Tensor, axis: torch.Tensor, amounts: Sequence[float] | torch.Tensor) -> torch.Tensor:
    """(N, len(amounts), nz): each code of z (N, nz) plus amount * axis (paper Fig. 8: a turn vector added to random faces)."""
    z = as_codes(z)
    amounts = torch.as_tensor(amounts, dtype=torch.float32)
    return z[:, None, :] + amounts[None, :, None] * as_codes(axis)[0][None, None, :]
