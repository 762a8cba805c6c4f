"""The one way to read a layer's feature maps, edit them, and apply the guided-backprop rule, for G and D.

A net's hidden block i outputs "layer" i, 0..n-1 (negative indices count from the end, as
in Python); block n is the output block. G's layer i is (N, ngf * 2^(n-1-i), 4 * 2^i, 4 * 2^i),
D's layer i is (N, ndf * 2^i, S / 2^(i+1), S / 2^(i+1)). Feature map ("unit") c of a layer is
channel c. Nothing here modifies a net: no hooks, no module swaps. Edits and rules are
arguments of one forward walk over `net.blocks` (`forward_blocks`), so a model cached for
every user of the app is used as is, from any number of threads.

    from dcgan_core.features import layer_maps, every_layer_maps, run_with_maps

    maps = layer_maps(d, images, layer=-1)                # D's last conv layer, (N, C, 4, 4) at 64 px
    maps = layer_maps(g, z, g.penultimate_layer)          # G's "second highest convolution layer"
    feats = every_layer_maps(d, images)                   # [layer 0, ..., layer n-1]
    images = run_with_maps(g, z, layer, drop=[3, 7])      # maps 3 and 7 zeroed everywhere (paper 6.3.1)
    images = run_with_maps(g, z, layer, drop=units, mask=region, value=4.0)  # set inside a region (painting)
    maps = layer_maps(d, x, layer, rule="guided")         # same values; backward under the guided rule

Inputs are what the net's `forward` takes: z (N, nz) or (N, nz, 1, 1) for G, images
(N, C, S, S) in [-1, 1] for D, on the net's device. Results stay on that device and follow
the caller's autograd mode (wrap in `torch.no_grad()` to only read).

The rules through the rectifiers (`RULES`; the why is in analysis/guided_backprop.py)
------------------------------------------------------------------------------------
Write f for a rectifier's forward input and R for the gradient arriving at its output.
    "gradient"      plain backprop: R * f'(f)                      (Simonyan et al. 2013)
    "deconvnet"     max(R, 0), whatever f was                      (Zeiler & Fergus 2014)
    "guided"        (f > 0) * max(R, 0): zero through off units    (Springenberg et al. 2014)
    "guided_leaky"  max(R, 0), times the negative slope where f <= 0
Forward values are those of the net for every rule; only the backward pass differs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# A Generator or a Discriminator of models.py: anything with `.blocks` whose last block is the output block.
# (models.py builds its forward passes on this module, so the classes are not imported here.)
Net = nn.Module

RULES = ("guided", "guided_leaky", "deconvnet", "gradient")
RULE_NAMES = {
    "guided": "guided backprop (Springenberg et al.; zero through off units)",
    "guided_leaky": "guided backprop, leaky (0.2 of the positive gradient through off units)",
    "deconvnet": "deconvnet (Zeiler & Fergus; positive gradients through every unit)",
    "gradient": "plain gradient (Simonyan et al.)",
}

MapEdit = Callable[[torch.Tensor], torch.Tensor]  # one layer's maps (N, C, S, S) -> the maps the next block sees


# ----------------------------------------------------------------------------- checks


def _net_name(net: Net) -> str:
    return {"Generator": "G", "Discriminator": "D"}.get(type(net).__name__, type(net).__name__)


def check_layer(net: Net, layer: int) -> int:
    """A hidden layer index of `net`, negatives counted from the end, as 0..n-1; ValueError naming the valid range."""
    n = len(net.feature_channels)
    if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)) or not -n <= layer < n:
        raise ValueError(f"{_net_name(net)} has hidden layers 0..{n - 1} (or -{n}..-1 from the end); got layer {layer}")
    return int(layer) % n


def check_maps(net: Net, layer: int, maps: Sequence[int] | np.ndarray | torch.Tensor) -> torch.Tensor:
    """Feature map indices of a (checked) layer as int64 (K,); ValueError naming the layer's range."""
    idx = torch.as_tensor(maps, dtype=torch.long).flatten()
    c = net.feature_channels[layer]
    if idx.numel() and (idx.min() < 0 or idx.max() >= c):
        raise ValueError(f"layer {layer} of {_net_name(net)} has feature maps 0..{c - 1}; got {idx.tolist()}")
    return idx


# ----------------------------------------------------------------------------- the guided-backprop rule


class GuidedLeakyReLU(torch.autograd.Function):
    """LeakyReLU forward; backward passes only positive gradients, only where the forward input was positive.

    `GuidedLeakyReLU.apply(x, negative_slope)`; with `leaky=True` the negative side passes
    `negative_slope` times the positive gradient instead of zero. With slope 0 this is the
    guided ReLU of Springenberg et al. 2014.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, negative_slope: float, leaky: bool = False) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.negative_slope, ctx.leaky = negative_slope, leaky
        return F.leaky_relu(x, negative_slope)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        (x,) = ctx.saved_tensors
        positive = grad_output.clamp(min=0)
        if ctx.leaky:
            gate = torch.where(x > 0, 1.0, ctx.negative_slope).to(grad_output.dtype)
        else:
            gate = (x > 0).to(grad_output.dtype)
        return positive * gate, None, None


class DeconvnetLeakyReLU(torch.autograd.Function):
    """LeakyReLU forward; backward rectifies the gradient itself, ignoring the forward input (Zeiler & Fergus)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, negative_slope: float) -> torch.Tensor:
        return F.leaky_relu(x, negative_slope)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        return grad_output.clamp(min=0), None


def check_rule(rule: str | None) -> None:
    if rule is not None and rule not in RULES:
        raise ValueError(f"unknown rule {rule!r}; choose one of {', '.join(RULES)}")


def rectified_forward(module: nn.Module, x: torch.Tensor, rule: str = "guided") -> torch.Tensor:
    """Run `module` on x, with every ReLU / LeakyReLU inside it applied under `rule` (see RULES).

    Containers (nn.Sequential, nn.ModuleList run in order) are walked; every other module
    is called as it is. The module is not modified. Forward values equal `module(x)`
    for every rule; only the backward pass differs.
    """
    check_rule(rule)
    if isinstance(module, (nn.Sequential, nn.ModuleList)):
        for child in module:
            x = rectified_forward(child, x, rule)
        return x
    if isinstance(module, (nn.ReLU, nn.LeakyReLU)):
        slope = float(module.negative_slope) if isinstance(module, nn.LeakyReLU) else 0.0
        if rule == "guided":
            return GuidedLeakyReLU.apply(x, slope, False)
        if rule == "guided_leaky":
            return GuidedLeakyReLU.apply(x, slope, True)
        if rule == "deconvnet":
            return DeconvnetLeakyReLU.apply(x, slope)
        return F.leaky_relu(x, slope)  # plain gradient; never in place, x is needed by autograd
    return module(x)


# ----------------------------------------------------------------------------- the walk


def forward_blocks(
    net: Net,
    x: torch.Tensor,
    *,
    stop: int | None = None,
    edits: Mapping[int, MapEdit] | None = None,
    rule: str | None = None,
    collect: list[torch.Tensor] | None = None,
) -> torch.Tensor:
    """Run `net.blocks` on x: the one loop every forward pass of G and D goes through.

    Args:
        net: a Generator or Discriminator (not modified).
        x: input already in the first block's shape (`net.check_input` gives it).
        stop: last block to run (a checked hidden layer); None runs every block.
        edits: {hidden layer: function of that layer's maps} applied right after the block.
        rule: None calls each block as it is; a RULES name runs its rectifiers under that rule.
        collect: a list that receives each hidden layer's maps (after its edit), in order.

    Returns:
        block `stop`'s output, or the output block's: images (N, C, S, S) for G, logits (N, 1, 1, 1) for D.
    """
    check_rule(rule)
    n = len(net.feature_channels)
    if edits:
        checked = {check_layer(net, layer): edit for layer, edit in edits.items()}
        if len(checked) != len(edits):
            raise ValueError(f"edits name one layer twice (counting negative indices): {sorted(edits)}")
        edits = checked
    for i, block in enumerate(net.blocks if stop is None else net.blocks[: stop + 1]):
        x = block(x) if rule is None else rectified_forward(block, x, rule)
        if edits and i in edits:
            x = edits[i](x)
        if collect is not None and i < n:
            collect.append(x)
    return x


# ----------------------------------------------------------------------------- reading


def layer_maps(net: Net, x: torch.Tensor, layer: int, *, rule: str | None = None) -> torch.Tensor:
    """Layer `layer`'s feature maps (N, C_layer, S_layer, S_layer) for input x; only the blocks up to it run.

    rule: None reads the maps; a RULES name gives the same values with that rule's backward
    pass through every rectifier (what guided backprop differentiates).
    """
    layer = check_layer(net, layer)
    return forward_blocks(net, net.check_input(x), stop=layer, rule=rule)


def every_layer_maps(net: Net, x: torch.Tensor, *, rule: str | None = None) -> list[torch.Tensor]:
    """Every hidden layer's maps, layer 0 first, from one pass (the output block does not run)."""
    maps: list[torch.Tensor] = []
    forward_blocks(net, net.check_input(x), stop=len(net.feature_channels) - 1, rule=rule, collect=maps)
    return maps


# ----------------------------------------------------------------------------- editing


def set_maps(
    maps: torch.Tensor,
    units: torch.Tensor,
    mask: torch.Tensor | np.ndarray | None = None,
    value: float | Sequence[float] | torch.Tensor = 0.0,
) -> torch.Tensor:
    """A copy of one layer's maps (N, C, S, S) with channels `units` set to `value` inside `mask`.

    units: int64 (K,) checked channel indices (`check_maps`).
    mask: bool (S, S) for every image or (N, S, S) per image, at the layer's resolution;
        None sets the whole map (the paper's "dropped from all spatial locations").
    value: one number for every chosen map, or K numbers, one per map in `units`. 0 drops.
    Outside the chosen maps and the mask the values are the input's, bit for bit.
    """
    n, c, h, w = maps.shape
    chosen = torch.zeros(c, dtype=torch.bool, device=maps.device)
    chosen[units.to(maps.device)] = True
    where = chosen.view(1, c, 1, 1)
    if mask is not None:
        m = torch.as_tensor(mask, device=maps.device).bool()
        if m.dim() not in (2, 3) or tuple(m.shape[-2:]) != (h, w) or (m.dim() == 3 and m.shape[0] not in (1, n)):
            raise ValueError(f"the mask must be ({h}, {w}) or ({n}, {h}, {w}) at this layer's resolution; "
                             f"got {tuple(m.shape)}")
        where = where & (m[None, None] if m.dim() == 2 else m[:, None])
    fill = torch.zeros(c, dtype=maps.dtype, device=maps.device)
    value = torch.as_tensor(value, dtype=maps.dtype).to(maps.device)
    if value.dim() > 1 or (value.dim() == 1 and value.numel() != units.numel()):
        raise ValueError(f"give one value, or one per chosen map ({units.numel()}); got shape {tuple(value.shape)}")
    fill[units.to(maps.device)] = value
    return torch.where(where, fill.view(1, c, 1, 1), maps)


def map_edits(net: Net, drop: Mapping[int, Sequence[int] | np.ndarray | torch.Tensor]) -> dict[int, MapEdit]:
    """{layer: maps to zero everywhere}, checked, as `forward_blocks` edits (layers with no maps are left out)."""
    units: dict[int, list[torch.Tensor]] = {}
    for layer, maps in drop.items():
        layer = check_layer(net, layer)  # -1 and n-1 are the same layer: their maps are joined
        units.setdefault(layer, []).append(check_maps(net, layer, maps))
    joined = {layer: torch.cat(parts) for layer, parts in units.items()}
    return {layer: partial(set_maps, units=idx) for layer, idx in joined.items() if idx.numel()}


def run_with_maps(
    net: Net,
    x: torch.Tensor,
    layer: int,
    drop: Sequence[int] | np.ndarray | torch.Tensor,
    *,
    mask: torch.Tensor | np.ndarray | None = None,
    value: float | Sequence[float] | torch.Tensor = 0.0,
) -> torch.Tensor:
    """The net's output with maps `drop` of `layer` set to `value` (0: dropped) inside `mask` (None: everywhere).

    G returns images (N, C, S, S) in [-1, 1], D logits (N,): their `forward` with this edit.
    With a mask and a non-zero value this is insertion ("painting with units"); see `set_maps`.
    """
    layer = check_layer(net, layer)
    units = check_maps(net, layer, drop)
    return net(x, edits={layer: lambda m: set_maps(m, units, mask, value)} if units.numel() else None)
