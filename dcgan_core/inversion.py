"""Inverting images into z: which code makes G draw this picture?

Three methods (`METHODS`), all kept inside the uniform prior's support [-1, 1] so that every
page (walks, arithmetic, directions, window removal) accepts the result like any sample:

    optimise  Adam on z through the frozen G, from `restarts` random codes per image, the best kept.
              The loss sees more than pixels: pixel MSE plus the distance between D's hidden features
              of the reconstruction and of the image (D is in every checkpoint; nothing is downloaded).
    encode    one pass of an encoder E trained on G's samples (`encoder.py`, `dcgan train-encoder`):
              milliseconds, rough.
    hybrid    E's code as the start of the optimisation (the in-domain inversion recipe of
              Zhu et al. 2020, "In-Domain GAN Inversion for Real Image Editing"), optionally pulled
              towards E's code by `encoder_weight`.

    from dcgan_core.checkpoints import load_model
    from dcgan_core.encoder import load_encoder, find_encoder
    from dcgan_core.inversion import invert, prepare_images

    model = load_model("faces")
    prepared = prepare_images(["me.jpg", "photos/"], model.config)          # centre-cropped, resized, [-1, 1]
    encoder = load_encoder(find_encoder(model.path), generator=model.generator).encoder
    result = invert(model.generator, model.discriminator, prepared.images, method="hybrid", encoder=encoder)
    result.z            # (N, nz) float32 in [-1, 1], rows in the order of prepared.names
    result.errors       # (N,) pixel RMSE of each reconstruction, in [-1, 1] image units (2.0 = black vs white)

Images are prepared like training images (`data.readers.center_crop_resize`: centre crop to a
square, Lanczos resize, alpha composited on white, grayscale models take grayscale), after the file
is checked from its header alone: size on disk, pixel dimensions (`MAX_FILE_BYTES`, `MAX_SIDE`,
`data.readers.MAX_IMAGE_PIXELS`).

G and D must be in eval mode (as `load_model` returns them): with BatchNorm in train mode the
images of a batch would change each other's codes. Neither is modified, so a model cached for
every user of the app can be used from any thread.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from .data.readers import DECODE_ERRORS, IMAGE_EXTENSIONS, MAX_IMAGE_PIXELS, center_crop_resize, to_tensor
from .features import every_layer_maps
from .models import Discriminator, Generator, ModelConfig

METHODS = ("optimise", "encode", "hybrid")
DEFAULT_STEPS = {"optimise": 200, "encode": 0, "hybrid": 100}  # Adam steps on z per image
DEFAULT_RESTARTS = {"optimise": 4, "encode": 1, "hybrid": 1}  # codes optimised per image, the best kept
DEFAULT_LR = 0.05  # Adam's step on z (z lives in [-1, 1]); decays to a tenth along a cosine
DEFAULT_FEATURE_WEIGHT = 1.0  # weight of D's feature distance beside the pixel MSE (0: pixels only)
DEFAULT_ENCODER_WEIGHT = 0.0  # hybrid: weight of ||z - E(x)||^2 (mean over z's coordinates); 0: E only starts
HYBRID_RESTART_NOISE = 0.25  # hybrid restarts after the first start at E's code plus uniform noise of this scale
DEFAULT_BATCH_SIZE = 16  # images optimised together (times the restarts)

MAX_FILE_BYTES = 50 * 2**20  # larger files are refused before decoding
MAX_SIDE = 8192  # and so are pictures with a longer side (and over MAX_IMAGE_PIXELS pixels)


class InvalidImage(ValueError):
    """An input that cannot be inverted (not an image, empty, too big, a folder without images); the message names it."""


# ----------------------------------------------------------------------------- preparing images


@dataclass
class PreparedImages:
    """Images ready for G's inverse: float32 (N, C, S, S) in [-1, 1], with a name per row."""

    images: torch.Tensor
    names: list[str]  # the file each row came from (a folder's files one by one), or "image K" for in-memory inputs
    notes: list[str] = field(default_factory=list)  # what was done that a person may want to know (transparency...)

    def __len__(self) -> int:
        return len(self.names)


ImageSource = str | Path | Image.Image | bytes | tuple[str, bytes | Image.Image]  # one input of prepare_images


def _describe_size(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n:,} bytes"


def _open_checked(data: bytes | Path, name: str, max_bytes: int, max_side: int) -> Image.Image:
    """Open an encoded image after checking its size on disk and, from its header alone, its pixel dimensions."""
    size = len(data) if isinstance(data, bytes) else data.stat().st_size
    if size == 0:
        raise InvalidImage(f"{name} is empty (0 bytes); give a PNG, JPEG or WebP image")
    if size > max_bytes:
        raise InvalidImage(f"{name} is {_describe_size(size)}; images up to {max_bytes // 2**20} MB are accepted: "
                           "downscale or recompress it")
    try:
        image = Image.open(io.BytesIO(data) if isinstance(data, bytes) else data)  # reads the header only
    except Image.DecompressionBombError as e:
        raise InvalidImage(f"{name} is too large to decode ({_one_line(e)}); downscale it") from None
    except Image.UnidentifiedImageError:  # its message names a Python object, not the file
        raise InvalidImage(f"{name} is not an image that can be read; give a PNG, JPEG or WebP image") from None
    except DECODE_ERRORS as e:
        raise InvalidImage(f"{name} is not an image that can be read ({_one_line(e)}); give a PNG, JPEG or WebP image") from None
    try:
        _check_dimensions(image, name, max_side)
    except InvalidImage:
        image.close()
        raise
    return image


def _check_dimensions(image: Image.Image, name: str, max_side: int) -> None:
    w, h = image.size
    if w < 1 or h < 1:
        raise InvalidImage(f"{name} has no pixels ({w}x{h})")
    if max(w, h) > max_side or w * h > MAX_IMAGE_PIXELS:
        raise InvalidImage(f"{name} is {w}x{h} pixels; at most {max_side} px a side and {MAX_IMAGE_PIXELS // 1_000_000} "
                           "megapixels are accepted: downscale it")


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__


def _decode(image: Image.Image, name: str, config: ModelConfig, notes: list[str]) -> torch.Tensor:
    """A checked, opened image as (C, S, S) in [-1, 1], prepared like a training image."""
    try:
        with image:
            image.draft(None, (2 * config.image_size, 2 * config.image_size))  # JPEG: decode at a reduced size
            ImageOps.exif_transpose(image, in_place=True)  # phone photos: crop the upright picture
            if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
                notes.append(f"{name} has transparency: transparent pixels were composited on white")
            pixels = center_crop_resize(image, config.image_size, config.channels)
    except InvalidImage:
        raise
    except DECODE_ERRORS as e:
        raise InvalidImage(f"{name} could not be decoded ({_one_line(e)}); the file is damaged or not an image") from None
    return to_tensor(pixels)


def _folder_images(folder: Path) -> list[Path]:
    """Every .jpg/.jpeg/.png/.webp under `folder`, recursively, sorted by relative path (hidden files skipped)."""
    from .data.readers import _walk_files  # the one folder walk of the data readers (symlink loops, hidden files)

    found = [p for p in _walk_files(folder) if p.suffix.lower() in IMAGE_EXTENSIONS]
    if not found:
        raise InvalidImage(f"folder {folder} holds no {'/'.join(IMAGE_EXTENSIONS)} images")
    return sorted(found, key=lambda p: p.relative_to(folder).parts)


def prepare_images(
    sources: ImageSource | Sequence,
    config: ModelConfig,
    *,
    max_bytes: int = MAX_FILE_BYTES,
    max_side: int = MAX_SIDE,
) -> PreparedImages:
    """Files, folders (every image inside, sorted), PIL images or encoded bytes as G-sized images in [-1, 1].

    Args:
        sources: one source or a sequence of them: a path to an image file, a path to a folder, a PIL
            image, encoded bytes (an upload), or a (name, bytes or PIL image) pair naming an in-memory input.
        config: the model's config: image size and channels (grayscale models take grayscale).
        max_bytes, max_side: refuse bigger files and pictures before decoding them.

    Returns:
        PreparedImages: `images` (N, C, S, S) float32 in [-1, 1], `names` (one per row) and `notes`.

    Raises:
        InvalidImage (a ValueError) with a one-line message naming the bad input; nothing is half-prepared.
    """
    if isinstance(sources, (str, Path, Image.Image, bytes, bytearray)) or (
        isinstance(sources, tuple) and len(sources) == 2 and isinstance(sources[0], str)
        and isinstance(sources[1], (bytes, bytearray, Image.Image))
    ):
        sources = [sources]
    sources = list(sources)
    if not sources:
        raise InvalidImage("no images given; name image files or folders")
    images: list[torch.Tensor] = []
    names: list[str] = []
    notes: list[str] = []
    for k, source in enumerate(sources):
        if isinstance(source, tuple):
            name, source = source
        else:
            name = f"image {k}"
        if isinstance(source, (bytes, bytearray)):
            opened = _open_checked(bytes(source), name, max_bytes, max_side)
            images.append(_decode(opened, name, config, notes))
            names.append(name)
        elif isinstance(source, Image.Image):
            _check_dimensions(source, name, max_side)
            images.append(_decode(source.copy(), name, config, notes))
            names.append(name)
        elif isinstance(source, (str, Path)):
            path = Path(source).expanduser()
            if path.is_dir():
                files = _folder_images(path)
            elif path.exists():
                files = [path]
            else:
                raise InvalidImage(f"{source} does not exist")
            for file in files:
                images.append(_decode(_open_checked(file, str(file), max_bytes, max_side), str(file), config, notes))
                names.append(str(file))
        else:
            raise InvalidImage(f"input {k} is a {type(source).__name__}; give a file path, a folder, a PIL image or bytes")
    return PreparedImages(torch.stack(images), names, notes)


# ----------------------------------------------------------------------------- the loss


def reconstruction_loss(
    reconstructions: torch.Tensor,
    targets: torch.Tensor,
    discriminator: Discriminator | None = None,
    feature_weight: float = DEFAULT_FEATURE_WEIGHT,
    target_features: list[torch.Tensor] | None = None,
) -> torch.Tensor:
    """Per-image distance (N,): pixel MSE + feature_weight x the mean over D's hidden layers of
    ||D_l(reconstruction) - D_l(target)||^2 / ||D_l(target)||^2.

    Each layer's distance is relative to the target's own feature energy, so every layer counts
    alike whatever its scale. Both images are (N, C, S, S) in [-1, 1]. `target_features`
    (`features.every_layer_maps(discriminator, targets)`) can be given when the targets repeat.
    Differentiable with respect to `reconstructions`; D is only read.
    """
    pixel = (reconstructions.float() - targets.float()).pow(2).flatten(1).mean(1)
    if discriminator is None or feature_weight == 0:
        return pixel
    if target_features is None:
        with torch.no_grad():
            target_features = every_layer_maps(discriminator, targets)
    distances = []
    for made, wanted in zip(every_layer_maps(discriminator, reconstructions), target_features):
        wanted = wanted.float()
        energy = wanted.pow(2).flatten(1).mean(1).clamp_min(1e-8)
        distances.append((made.float() - wanted).pow(2).flatten(1).mean(1) / energy)
    return pixel + feature_weight * torch.stack(distances).mean(0)


# ----------------------------------------------------------------------------- inverting


@dataclass
class Inversion:
    """Codes found for N images, and how well G redraws them from these codes."""

    z: torch.Tensor  # (N, nz) float32, inside [-1, 1] for a uniform prior; on the CPU
    reconstructions: torch.Tensor  # (N, C, S, S) G(z) in [-1, 1], on the CPU
    errors: torch.Tensor  # (N,) pixel RMSE of each reconstruction, in [-1, 1] image units
    losses: torch.Tensor  # (N,) the optimised loss (reconstruction_loss, plus the encoder term if any)
    method: str
    steps: int
    restarts: int
    settings: dict = field(default_factory=dict)  # everything else that decided the result (lr, weights, seed)


def check_method(method: str) -> str:
    if method not in METHODS:
        raise ValueError(f"unknown inversion method {method!r}; choose one of {', '.join(METHODS)}")
    return method


def _clamp_to_prior(z: torch.Tensor, config: ModelConfig) -> torch.Tensor:
    """Inside the prior's support: [-1, 1] for the uniform prior (a normal prior has no bound to keep)."""
    return z.clamp_(-1.0, 1.0) if config.z_prior == "uniform" else z


def _start_codes(n: int, restarts: int, config: ModelConfig, seed: int, encoded: torch.Tensor | None) -> torch.Tensor:
    """(restarts, n, nz) starting codes: E's code (then E's code + noise) for hybrid, prior draws otherwise.

    Drawn for all n images at once from `seed`, so an image's starts do not depend on the batch it falls in.
    """
    g = torch.Generator().manual_seed(int(seed))
    if encoded is None:
        if config.z_prior == "uniform":
            return torch.rand(restarts, n, config.nz, generator=g) * 2 - 1
        return torch.randn(restarts, n, config.nz, generator=g)
    noise = (torch.rand(restarts, n, config.nz, generator=g) * 2 - 1) * HYBRID_RESTART_NOISE
    noise[0] = 0
    return _clamp_to_prior(encoded.cpu()[None] + noise, config)


def encode(encoder: torch.nn.Module, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """E's codes (N, nz) for images (N, C, S, S) in [-1, 1], in batches, without gradients; E must be in eval mode."""
    if encoder.training:
        raise ValueError("the encoder is in train mode; call .eval() on it (BatchNorm would mix the images of a batch)")
    device = next(encoder.parameters()).device
    with torch.no_grad():
        return torch.cat([encoder(images[i : i + batch_size].to(device)).float() for i in range(0, len(images), batch_size)])


def invert(
    generator: Generator,
    discriminator: Discriminator | None,
    images: torch.Tensor,
    method: str = "hybrid",
    encoder: torch.nn.Module | None = None,
    *,
    steps: int | None = None,
    restarts: int | None = None,
    lr: float = DEFAULT_LR,
    feature_weight: float = DEFAULT_FEATURE_WEIGHT,
    encoder_weight: float = DEFAULT_ENCODER_WEIGHT,
    seed: int = 0,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Callable[[int, int], None] | None = None,
) -> Inversion:
    """Find z with G(z) close to each image.

    Args:
        generator, discriminator: the model's nets, in eval mode (not modified). Without D the loss is pixels only.
        images: (N, C, S, S) in [-1, 1] at the model's size (`prepare_images` makes them).
        method: "optimise", "encode" or "hybrid" (see the module's docstring).
        encoder: an Encoder for G in eval mode (`encoder.load_encoder`); needed by "encode" and "hybrid".
        steps: Adam steps on z (default DEFAULT_STEPS[method]; "encode" takes none).
        restarts: codes optimised per image, the one with the lowest loss kept (default DEFAULT_RESTARTS[method]).
        lr: Adam's initial step on z; it decays to a tenth along a cosine.
        feature_weight: weight of D's feature distance (see `reconstruction_loss`).
        encoder_weight: hybrid only: weight of the mean squared distance of z from E's code.
        seed: seed of the random starts (and of the hybrid restarts' noise): same inputs, same codes.
        batch_size: images optimised together; each step runs G on batch_size x restarts codes.
        progress: called as progress(steps done, steps in all) after each step ("encode": once, as progress(0, 0)).

    Returns:
        Inversion with z (N, nz), reconstructions, per-image pixel RMSE and loss, on the CPU.

    Example:
        result = invert(model.generator, model.discriminator, prepare_images("me.png", model.config).images,
                        method="optimise", steps=100)
    """
    check_method(method)
    config = generator.config
    for net, what in ((generator, "G"), (discriminator, "D"), (encoder, "the encoder")):
        if net is not None and net.training:
            raise ValueError(f"{what} is in train mode; invert with the nets in eval mode (BatchNorm would mix the images)")
    expected = (config.channels, config.image_size, config.image_size)
    if images.dim() != 4 or tuple(images.shape[1:]) != expected or len(images) == 0:
        raise ValueError(f"images must have shape (N, {', '.join(map(str, expected))}) with N >= 1, got {tuple(images.shape)}")
    if method in ("encode", "hybrid"):
        if encoder is None:
            raise ValueError(f"method {method!r} needs an encoder for this model (train one with `dcgan train-encoder`), "
                             "or use method 'optimise'")
        enc_cfg = getattr(encoder, "config", None)
        if enc_cfg is not None and (enc_cfg.nz, enc_cfg.image_size, enc_cfg.channels) != (config.nz, config.image_size, config.channels):
            raise ValueError(f"the encoder makes {enc_cfg.nz}-d codes from {enc_cfg.image_size}-px images with "
                             f"{enc_cfg.channels} channels; this model needs nz {config.nz}, {config.image_size} px, "
                             f"{config.channels} channels")
    steps = DEFAULT_STEPS[method] if steps is None else int(steps)
    restarts = DEFAULT_RESTARTS[method] if restarts is None else int(restarts)
    if method == "encode":
        steps, restarts = 0, 1
    if steps < 0 or restarts < 1 or batch_size < 1:
        raise ValueError(f"steps must be >= 0, restarts and batch_size >= 1; got {steps}, {restarts}, {batch_size}")
    if not (lr > 0 and math.isfinite(lr)) or feature_weight < 0 or encoder_weight < 0:
        raise ValueError("lr must be positive, feature_weight and encoder_weight >= 0")
    device = next(generator.parameters()).device
    images = images.float()
    encoded = encode(encoder, images) if method in ("encode", "hybrid") else None
    starts = _start_codes(len(images), restarts, config, seed, encoded if method != "optimise" else None)
    total = steps * math.ceil(len(images) / batch_size)
    done = 0
    z_out, losses_out = [], []

    def tick() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    for lo in range(0, len(images), batch_size):
        target = images[lo : lo + batch_size].to(device)
        anchor = encoded[lo : lo + batch_size].to(device) if encoded is not None and encoder_weight > 0 else None
        z, loss = _optimise_batch(generator, discriminator, target, starts[:, lo : lo + batch_size].to(device), steps, lr,
                                  feature_weight, encoder_weight if method == "hybrid" else 0.0, anchor, tick)
        z_out.append(z)
        losses_out.append(loss)
    z = torch.cat(z_out)
    with torch.no_grad():
        reconstructions = torch.cat([generator(z[i : i + 256].to(device)).float().cpu() for i in range(0, len(z), 256)])
    errors = (reconstructions - images.cpu()).pow(2).flatten(1).mean(1).sqrt()
    if progress is not None and total == 0:
        progress(0, 0)
    return Inversion(
        z=z, reconstructions=reconstructions, errors=errors, losses=torch.cat(losses_out), method=method, steps=steps,
        restarts=restarts,
        settings={"lr": lr, "feature_weight": feature_weight if discriminator is not None else 0.0,
                  "encoder_weight": encoder_weight if method == "hybrid" else 0.0, "seed": seed},
    )


def _optimise_batch(
    generator: Generator,
    discriminator: Discriminator | None,
    target: torch.Tensor,
    starts: torch.Tensor,
    steps: int,
    lr: float,
    feature_weight: float,
    encoder_weight: float,
    anchor: torch.Tensor | None,
    tick: Callable[[], None],
) -> tuple[torch.Tensor, torch.Tensor]:
    """Adam on (R, b, nz) codes for b images at once; the lowest-loss code seen for each image, and its loss (b,)."""
    config = generator.config
    r, b, nz = starts.shape
    targets = target.repeat(r, 1, 1, 1)  # restart-major: row k * b + i is restart k of image i
    with torch.no_grad():
        target_features = (every_layer_maps(discriminator, target) if discriminator is not None and feature_weight > 0
                           else None)
        target_features = [f.repeat(r, 1, 1, 1) for f in target_features] if target_features is not None else None
    anchors = anchor.repeat(r, 1) if anchor is not None else None

    def loss_of(z: torch.Tensor) -> torch.Tensor:
        loss = reconstruction_loss(generator(z), targets, discriminator, feature_weight, target_features)
        if anchors is not None:
            loss = loss + encoder_weight * (z - anchors).pow(2).mean(1)
        return loss

    z = starts.reshape(r * b, nz).clone().requires_grad_(True)
    best_z = z.detach().clone()
    best_loss = torch.full((r * b,), math.inf, device=z.device)
    opt = torch.optim.Adam([z], lr=lr)
    for step in range(steps + 1):  # the last pass only scores the final codes
        with torch.enable_grad():
            loss = loss_of(z)
        with torch.no_grad():
            better = loss.detach() < best_loss
            best_loss = torch.where(better, loss.detach(), best_loss)
            best_z[better] = z.detach()[better]
        if step == steps:
            break
        (grad,) = torch.autograd.grad(loss.sum(), z)  # only z's gradient: G's and D's weights are untouched
        z.grad = grad
        for group in opt.param_groups:  # cosine from lr down to lr / 10
            group["lr"] = lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / max(steps, 1))))
        opt.step()
        with torch.no_grad():
            _clamp_to_prior(z, config)
        tick()
    per_restart = best_loss.view(r, b)
    pick = per_restart.argmin(0)  # (b,) the best restart of each image
    rows = pick * b + torch.arange(b, device=pick.device)
    return best_z[rows].float().cpu(), per_restart.min(0).values.float().cpu()


# ----------------------------------------------------------------------------- files

INVERSION_FORMAT = "dcgan-explorer-inversion/1"
SHOWN_PER_ROW = 8


def comparison_grid(originals: torch.Tensor, reconstructions: torch.Tensor, per_row: int = SHOWN_PER_ROW) -> np.ndarray:
    """uint8 (H, W, C): rows of up to `per_row` originals, each above a row of their reconstructions."""
    from .images import image_grid, to_uint8

    rows = []
    for lo in range(0, len(originals), per_row):
        a, b = originals[lo : lo + per_row], reconstructions[lo : lo + per_row]
        pad = per_row - len(a)
        if pad and len(originals) > per_row:  # blank (white) tiles keep the columns aligned
            blank = torch.ones(pad, *a.shape[1:])
            a, b = torch.cat([a, blank]), torch.cat([b, blank])
        rows += [a, b]
    return image_grid(to_uint8(torch.cat(rows)), nrow=min(per_row, len(originals)))


def write_inversion(
    out_dir: str | Path,
    prepared: PreparedImages,
    result: Inversion,
    *,
    model: dict,
    encoder: str | None = None,
    command: str | None = None,
    max_shown: int = 64,
) -> list[Path]:
    """Write OUT/z.npy, OUT/index.json, OUT/errors.csv and OUT/reconstructions.png; returns their paths.

    z.npy is float32 (N, nz), row k the code of `prepared.names[k]`; index.json maps each input to its
    row with its pixel RMSE and loss, and records the model (name, step, fingerprint of G's weights),
    the method and its settings. Every file is complete before it replaces an older one of the same
    name (all are built in memory first, then each is written atomically).
    """
    import csv

    from .files import write_bytes_atomic
    from .images import png_bytes

    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"--out {out_dir} is a file; give a folder")
    z = result.z.detach().cpu().numpy().astype(np.float32)
    buf = io.BytesIO()
    np.save(buf, z)
    rows = [{"row": k, "input": name, "rmse": round(float(e), 6), "loss": round(float(l), 6)}
            for k, (name, e, l) in enumerate(zip(prepared.names, result.errors, result.losses))]
    index = {
        "format": INVERSION_FORMAT,
        "model": model,
        "method": result.method,
        "steps": result.steps,
        "restarts": result.restarts,
        "settings": result.settings,
        "encoder": encoder,
        "command": command,
        "z": "z.npy",
        "shape": list(z.shape),
        "rmse": "pixel RMSE of G(z) against the prepared (cropped, resized) image, in [-1, 1] units",
        "images": rows,
        "notes": prepared.notes,
    }
    table = io.StringIO()
    writer = csv.writer(table, lineterminator="\n")
    writer.writerow(["row", "input", "rmse", "loss"])
    writer.writerows([r["row"], r["input"], r["rmse"], r["loss"]] for r in rows)
    shown = min(len(prepared), max(1, max_shown))
    grid = comparison_grid(prepared.images[:shown].cpu(), result.reconstructions[:shown])
    files = {
        "z.npy": buf.getvalue(),
        "errors.csv": table.getvalue().encode(),
        "reconstructions.png": png_bytes(grid),
        "index.json": (json.dumps(index, indent=2) + "\n").encode(),  # last: it names the rest
    }
    written = []
    for name, data in files.items():
        write_bytes_atomic(out_dir / name, data)
        written.append(out_dir / name)
    return written
