"""Guided backpropagation on discriminator features (paper section 6.2, Fig. 5).

For one feature map ("unit") of one hidden layer of D, the gradient of that map's
activation with respect to the input image, computed with a modified backward pass
through every rectifier. The paper shows it for units of D's last conv layer: trained
on bedrooms they respond to beds and windows, while a randomly initialised D with the
same architecture shows no semantic response.

    from dcgan_core.checkpoints import load_model
    from dcgan_core.analysis.guided_backprop import guided_backprop, gradient_image, saliency

    model = load_model("rooms")
    d = model.discriminator                                   # eval mode, shared: never modified here
    layer = len(d.feature_channels) - 1                       # the last conv layer, as in Fig. 5
    maps = guided_backprop(d, images, layer=layer, unit=17)   # (N, C, H, W) gradients, on the CPU
    pictures = gradient_image(maps)                           # uint8 (N, H, W, C), grey = 0
    heat = saliency(maps)                                     # (N, H, W) in [0, 1]

The rule (Springenberg, Dosovitskiy, Brox & Riedmiller 2014, "Striving for simplicity:
the all convolutional net", section 3.4; the rule behind the paper's Fig. 5)
----------------------------------------------------------------------------------
Write f for a rectifier's forward input and R for the gradient arriving at its output
from above. Plain backprop passes R * f'(f); the "deconvnet" of Zeiler & Fergus passes
max(R, 0) (it rectifies the signal going down, whatever the forward input was); guided
backprop does both:

    R_below = (f > 0) * max(R, 0) * R          (written with indicator functions:  (f > 0) * (R > 0) * R)

so only positive gradients flow, and only through units that were on in the forward
pass. Springenberg et al. used ReLU nets, where "input > 0" and "output > 0" coincide.

LeakyReLU: what we do on the negative side, and why
---------------------------------------------------
D uses LeakyReLU(0.2) (paper section 3), whose true gradient on the negative side is
0.2, not 0. The common libraries patch `nn.ReLU` only, so on a DCGAN discriminator they
silently fall back to plain gradients. We treat every LeakyReLU explicitly with
`features.GuidedLeakyReLU`; the default rule ("guided") is the classic one: the gradient is
zeroed where the forward input was negative (or zero), exactly as for a ReLU.

Why zero rather than keep the 0.2 slope: guided backprop asks "which input pixels made
this unit *more* active through units that were *on*". A unit on the negative side of a
LeakyReLU is saying "my feature is absent"; passing 0.2 of the gradient back through it
mixes the evidence of absent features into the map (every one of the thousands of off
units leaks a little), which smears the map over the whole image. The 0.2 slope exists
to keep D's *training* gradients alive, not to make off units part of an explanation.
The leaky variant stays available as rule "guided_leaky" (positive gradients only, 0.2 of
them through off units), with "gradient" (plain backprop, Simonyan et al. 2013) and
"deconvnet" (Zeiler & Fergus 2014) for comparison.

No model is changed: the forward pass is re-done functionally over `D.blocks`
(`features.layer_maps(d, x, layer, rule=...)`, where the rules' autograd functions live),
calling each module as it is and replacing every rectifier by the chosen rule's autograd
function. No hooks, no module swaps, no gradients stored on parameters, so the model
cached for every user of the app is used as is (in eval mode: BatchNorm uses its
running statistics, and a D in training mode is refused because BatchNorm would update
them).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from ..features import RULE_NAMES as RULE_NAMES  # the rules live in features.py; pages and the CLI read them here
from ..features import RULES as RULES
from ..features import check_layer, check_rule, layer_maps
from ..images import pixels_to_unit
from ..models import Discriminator, ModelConfig

TARGETS = ("max", "sum")  # the unit's strongest position (Fig. 5's "maximal axis-aligned responses") or the whole map


def as_model_input(images: np.ndarray | torch.Tensor, device: torch.device | str = "cpu") -> torch.Tensor:
    """uint8 (N, C, H, W) pixels, or float (N, C, H, W) already in [-1, 1], as a float32 batch on `device`."""
    if not torch.is_tensor(images):
        images = np.asarray(images)
        if not images.flags.writeable:  # e.g. a memory-mapped training set: torch wants memory it may write
            images = images.copy()
    x = torch.as_tensor(images)
    if x.dim() != 4:
        raise ValueError(f"expected images of shape (N, C, H, W), got {tuple(x.shape)}")
    if x.dtype == torch.uint8:
        return pixels_to_unit(x.to(device))
    return x.to(device=device, dtype=torch.float32)


def model_device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def guided_backprop(
    discriminator: Discriminator,
    images: np.ndarray | torch.Tensor,
    layer: int,
    unit: int | Sequence[int] | torch.Tensor,
    *,
    rule: str = "guided",
    target: str = "max",
    batch_size: int = 64,
) -> torch.Tensor:
    """The gradient of one feature map's activation with respect to each input image.

    Args:
        discriminator: a Discriminator in eval mode (as `load_model` returns it); not modified.
        images: uint8 (N, C, H, W) or float (N, C, H, W) in [-1, 1]: generated, uploaded or real.
        layer: hidden layer index, 0..n-1 (negative counts from the end; -1 is the last
            conv layer, the one of the paper's Fig. 5).
        unit: feature map (channel) of that layer; one for all images or one per image.
        rule: how rectifiers pass gradients back (see RULES and the module docstring);
            "guided" is Springenberg et al.'s, zero through off units.
        target: "max" differentiates the unit's value at its strongest position in each
            image (Fig. 5's "maximal axis-aligned responses"); "sum" the whole map.
        batch_size: images per backward pass (bounds memory, not results).

    Returns:
        float32 (N, C, H, W) gradients on the CPU, in units of activation per unit of
        input (pixels in [-1, 1]).
    """
    if discriminator.training:
        raise ValueError("guided_backprop needs D in eval mode (BatchNorm would use and update batch statistics); call .eval()")
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}; choose one of {', '.join(TARGETS)}")
    check_rule(rule)
    layer = check_layer(discriminator, layer)
    device = model_device(discriminator)
    x_all = as_model_input(images, "cpu")
    n = x_all.shape[0]
    units = torch.as_tensor(unit, dtype=torch.long).flatten()
    if units.numel() == 1:
        units = units.expand(n)
    if units.numel() != n:
        raise ValueError(f"give one unit for all images or one per image; got {units.numel()} units for {n} images")
    c = discriminator.feature_channels[layer]
    if n and (units.min() < 0 or units.max() >= c):
        raise ValueError(f"layer {layer} has units (feature maps) 0..{c - 1}; got {units.tolist()}")
    out = torch.empty_like(x_all)
    with torch.enable_grad():
        for start in range(0, n, batch_size):
            x = x_all[start : start + batch_size].to(device).requires_grad_(True)
            idx = units[start : start + batch_size].to(device)
            maps = layer_maps(discriminator, x, layer, rule=rule)  # (B, C_layer, S, S)
            chosen = maps[torch.arange(x.shape[0], device=device), idx].flatten(1)  # (B, S*S)
            value = chosen.amax(1) if target == "max" else chosen.sum(1)
            # images are independent in eval mode, so the gradient of the sum is each image's own
            (grad,) = torch.autograd.grad(value.sum(), x)
            out[start : start + x.shape[0]] = grad.detach().float().cpu()
    return out


def random_discriminator(
    config: ModelConfig,
    seed: int = 0,
    calibration_images: np.ndarray | torch.Tensor | None = None,
    device: torch.device | str = "cpu",
    batch_size: int = 256,
) -> Discriminator:
    """A randomly initialised D with `config`'s architecture: the paper's untrained baseline.

    Weights come from the paper's init (`init_dcgan_weights`: N(0, 0.02), BatchNorm gamma
    N(1, 0.02)) under `torch.manual_seed(seed)`, without touching the global RNG.

    BatchNorm statistics: a fresh D has running mean 0 and variance 1, so in eval mode its
    BatchNorms are (almost) identities and its activations shrink layer by layer, while a
    trained D normalises with statistics of the images it saw. To be fair to the baseline
    we give it the same: with `calibration_images` (uint8 or [-1, 1] NCHW, e.g. the real
    images of the analysis), the running statistics are set to their exact mean and
    variance over those images (one pass in training mode, cumulative average), and no
    weight changes. Returned in eval mode with gradients off, like `load_model`'s.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        d = Discriminator(config)
    d.to(device)
    if calibration_images is not None:
        calibrate_batchnorm(d, calibration_images, batch_size=batch_size)
    return d.eval().requires_grad_(False)


@torch.no_grad()
def calibrate_batchnorm(discriminator: Discriminator, images: np.ndarray | torch.Tensor, batch_size: int = 256) -> None:
    """Set every BatchNorm's running statistics to the average over `images` (changes `discriminator`: use on your own copy)."""
    norms = [m for m in discriminator.modules() if isinstance(m, nn.BatchNorm2d)]
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average: the plain mean over batches
    was_training = discriminator.training
    discriminator.train()
    device = model_device(discriminator)
    try:
        n = len(images)
        if n < 2:
            raise ValueError("calibrating BatchNorm needs at least 2 images")
        for start in range(0, n, batch_size):
            batch = as_model_input(images[start : start + batch_size], device)
            if batch.shape[0] > 1:  # training-mode BatchNorm needs more than one value per channel
                discriminator(batch)
    finally:
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
        discriminator.train(was_training)


# ----------------------------------------------------------------------------- display


def gradient_image(maps: torch.Tensor | np.ndarray) -> np.ndarray:
    """Gradients as pictures, the way guided-backprop figures show them: uint8 (N, H, W, C).

    Per image, zero is mid grey and the largest |gradient| over all pixels and channels
    reaches black or white (abs-max normalisation, so the sign is kept: colour shows
    which channel the unit wants more of).
    """
    g = torch.as_tensor(maps).float()
    scale = g.flatten(1).abs().amax(1).clamp(min=1e-12).view(-1, 1, 1, 1)
    x = (0.5 + 0.5 * g / scale).clamp(0, 1)
    return (x * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def energy(maps: torch.Tensor | np.ndarray) -> np.ndarray:
    """Per-pixel energy of gradient maps: the sum over channels of the squared gradient, float64 (N, H, W)."""
    g = torch.as_tensor(maps).double()
    return (g * g).sum(1).numpy()


def saliency(maps: torch.Tensor | np.ndarray) -> np.ndarray:
    """Per-pixel gradient magnitude (L2 over channels) scaled so each image's maximum is 1: float32 (N, H, W) in [0, 1]."""
    m = np.sqrt(energy(maps))
    peak = m.reshape(m.shape[0], -1).max(1) if m.size else np.zeros(0)
    return (m / np.maximum(peak, 1e-12)[:, None, None]).astype(np.float32)


# "inferno"-like colour map (black -> purple -> orange -> yellow), sampled at 9 points;
# matplotlib is not a dependency.
_INFERNO = np.array(
    [
        (0, 0, 4), (31, 12, 72), (85, 15, 109), (136, 34, 106), (186, 54, 85),
        (227, 89, 51), (249, 140, 10), (249, 201, 50), (252, 255, 164),
    ],
    dtype=np.float64,
)


def colorize(values: np.ndarray) -> np.ndarray:
    """Values in [0, 1], any shape (...,) -> uint8 (..., 3) through an inferno-like colour map."""
    v = np.clip(np.asarray(values, dtype=np.float64), 0, 1) * (len(_INFERNO) - 1)
    lo = np.floor(v).astype(int).clip(0, len(_INFERNO) - 2)
    t = (v - lo)[..., None]
    return np.round(_INFERNO[lo] * (1 - t) + _INFERNO[lo + 1] * t).astype(np.uint8)


def heat_overlay(images_nhwc: np.ndarray, heat: np.ndarray, alpha: float = 0.75, gamma: float = 0.5) -> np.ndarray:
    """The colour-mapped heat (N, H, W) in [0, 1] over a grey copy of the images uint8 (N, H, W, C): uint8 (N, H, W, 3).

    The heat is raised to `gamma` first (0.5: square root), so weaker gradients stay visible
    next to the peak; 1 shows it linearly.
    """
    rgb = images_nhwc if images_nhwc.shape[-1] == 3 else np.repeat(images_nhwc, 3, axis=-1)
    grey = rgb.astype(np.float64).mean(-1, keepdims=True).repeat(3, -1)
    heat = np.clip(heat, 0, 1) ** gamma
    h = heat[..., None]
    out = grey * (1 - alpha * h) + colorize(heat).astype(np.float64) * alpha * h
    return np.round(out).clip(0, 255).astype(np.uint8)
