"""From codes to pictures, fast: batched generation, walk grids and GIF animations.

`generate` is what the app calls for every image it shows. It never changes the model
(eval mode is required, gradients are off, feature maps are dropped by argument), so
one generator can serve many users at once.

    from dcgan_core.checkpoints import load_model
    from dcgan_core.generate import generate
    from dcgan_core.latent import sample_z, walk_path

    model = load_model("rooms")
    images = generate(model.generator, sample_z(16, model.config, seed=0))   # uint8 (16, 64, 64, 3)
    path = walk_path(sample_z(9, model.config, seed=0), steps=8)
    frames = generate(model.generator, path.z)                              # 65 frames
    gif = animation_gif(frames, fps=12, scale=4)
"""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image

from .device import autocast, resolve_precision
from .images import image_grid, to_uint8
from .models import FeatureDrop, Generator

WALK_LAYOUTS = ("rows", "strip")


def generator_device(generator: torch.nn.Module) -> torch.device:
    """The device a model's weights live on."""
    return next(generator.parameters()).device


@torch.inference_mode()
def generate(
    generator: Generator,
    z: torch.Tensor,
    batch_size: int = 256,
    drop: FeatureDrop | None = None,
    precision: str = "fp32",
) -> np.ndarray:
    """Images for codes z, as uint8 (N, H, W, C).

    Args:
        generator: a Generator in eval mode (as `load_model` returns it), on any device.
        z: (N, nz) codes, on any device (moved to the generator's).
        batch_size: codes per forward pass; bounds memory, not results.
        drop: {hidden layer: feature map indices} to zero (see `Generator.forward`).
        precision: "fp32" (exact, the default), "bf16" or "auto" (bf16 where the device runs it
            natively: a CUDA GPU, or a CPU with AVX512-BF16/AMX, where a 65-frame walk draws 2.2x
            faster; pixels move by a level or two of 255). For previews that must answer at
            once; measurements and files stay fp32.

    Returns:
        uint8 (N, H, W, C) array on the CPU, C = 1 or 3.

    Raises ValueError for a generator in training mode: BatchNorm would use batch
    statistics (so a picture would depend on its batch-mates) and update the shared
    model's running statistics.
    """
    if generator.training:
        raise ValueError("generate() needs the generator in eval mode (call .eval(); load_model returns it so)")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    cfg = generator.config
    n = z.shape[0]
    out = np.empty((n, cfg.image_size, cfg.image_size, cfg.channels), dtype=np.uint8)
    device = generator_device(generator)
    precision = resolve_precision(precision, device)
    for start in range(0, n, batch_size):
        batch = z[start : start + batch_size].to(device=device, dtype=torch.float32)
        with autocast(device, precision):
            images = generator(batch, drop=drop)
        out[start : start + batch.shape[0]] = to_uint8(images.float())
    return out


def walk_grid(frames: np.ndarray, steps: int, layout: str = "rows", padding: int = 2) -> np.ndarray:
    """Lay out a walk's frames (from `latent.walk_path`) as one uint8 (H', W', C) picture.

    "rows": one row per segment, from one waypoint to the next (steps + 1 frames, so each
    waypoint ends one row and starts the next), as in the paper's Fig. 4.
    "strip": every frame once, left to right.
    """
    if layout not in WALK_LAYOUTS:
        raise ValueError(f"layout must be one of {WALK_LAYOUTS}, got {layout!r}")
    n = frames.shape[0]
    if layout == "strip":
        return image_grid(frames, nrow=n, padding=padding)
    if (n - 1) % steps:
        raise ValueError(f"{n} frames do not make segments of {steps} steps")
    segments = (n - 1) // steps
    index = np.concatenate([np.arange(s * steps, (s + 1) * steps + 1) for s in range(segments)])
    return image_grid(frames[index], nrow=steps + 1, padding=padding)


def animation_gif(frames: np.ndarray, fps: float = 12.0, scale: int = 1, bounce: bool = False) -> bytes:
    """An endlessly looping GIF of uint8 (F, H, W, C) frames, each blown up `scale` times (nearest).

    `bounce` plays forwards then backwards, so the loop has no jump back to the start.
    Frames are quantised at their own size and enlarged afterwards, which keeps encoding
    fast and pixels crisp.
    """
    if frames.ndim != 4 or frames.shape[0] < 1:
        raise ValueError(f"expected (F, H, W, C) frames, got shape {frames.shape}")
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    order = list(range(frames.shape[0]))
    if bounce and len(order) > 2:
        order += order[-2:0:-1]
    h, w = frames.shape[1:3]
    pictures = []
    for i in order:
        f = frames[i]
        img = Image.fromarray(f[..., 0]) if f.shape[-1] == 1 else Image.fromarray(f).quantize(256, dither=Image.Dither.NONE)
        pictures.append(img.resize((w * scale, h * scale), Image.Resampling.NEAREST) if scale > 1 else img)
    buf = io.BytesIO()
    pictures[0].save(
        buf, format="GIF", save_all=True, append_images=pictures[1:], duration=round(1000 / fps), loop=0, disposal=1
    )
    return buf.getvalue()
