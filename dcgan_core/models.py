"""DCGAN generator and discriminator, built from a config (no globals).

Architecture guidelines of Radford, Metz & Chintala (2015), section 3:
- no pooling: strided convolutions in D, fractionally-strided (transposed) ones in G;
- BatchNorm in both nets except G's output layer and D's input layer;
- no fully connected hidden layers: z is projected to a 4x4 map by a transposed
  convolution from 1x1 (a linear projection and reshape, as in the paper's Fig. 1),
  and D's last conv maps the 4x4 map to one logit;
- ReLU in G (Tanh at the output), LeakyReLU(0.2) in every D layer;
- weights from N(0, 0.02), BatchNorm gamma from N(1, 0.02), beta 0.

The layer layout matches pytorch/examples' dcgan at 64 px (ngf, ndf 64, bias-free
convs), so its checkpoints can be imported.

Layers are numbered 0..n-1 for the hidden blocks; index n is the output block.
Both forwards run through `features.forward_blocks`, the one walk over the blocks:
`Generator.forward` can zero chosen feature maps of chosen blocks (the paper's section
6.3.1 "forgetting to draw windows") and both take `edits` of a layer's maps *as
arguments*, so a model shared by many users is never modified. Reading a layer's maps
is `features.layer_maps(net, x, layer)`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import ClassVar

import torch
from torch import nn

from .features import MapEdit, forward_blocks, map_edits

IMAGE_SIZES = (32, 64, 128)
Z_PRIORS = ("uniform", "normal")
# Upper bounds on a config's sizes. Far above any DCGAN (the paper: nz 100, width 128); they
# exist so a damaged or hostile checkpoint header cannot ask for terabytes before anything is checked.
MAX_NZ = 4096
MAX_WIDTH = 1024  # ngf and ndf; the widest block is width x 2^(blocks - 1)


def blocks_to_4px(image_size: int) -> int:
    """Strided blocks between a picture and 4x4: 3 at 32 px, 4 at 64 px, 5 at 128 px."""
    return int(math.log2(image_size)) - 2


class JsonConfig:
    """to_dict / from_dict for the dataclass configs that files store.

    Shape configs (STRICT) refuse unknown keys: a network built from a misread header would be wrong.
    Training configs ignore them, so a run written by an older or newer version still resumes.
    """

    KIND: ClassVar[str] = "config"
    STRICT: ClassVar[bool] = True

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping):
        if not isinstance(d, Mapping):
            raise ValueError(f"a {cls.KIND} config must be a JSON object, got {type(d).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown and cls.STRICT:
            raise ValueError(f"unknown {cls.KIND} config keys {sorted(unknown)}")
        return cls(**{k: v for k, v in d.items() if k in known})


def check_pictures_and_prior(image_size, channels, z_prior) -> None:
    """ValueError unless the pictures' size and channels and z's prior are ones the nets support (any config of G,
    D or an encoder states them; a file may hold anything)."""
    if not _is_whole(image_size) or image_size not in IMAGE_SIZES:
        raise ValueError(f"image_size must be one of {IMAGE_SIZES}, got {image_size}")
    if not _is_whole(channels) or channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels}")
    if not isinstance(z_prior, str) or z_prior not in Z_PRIORS:
        raise ValueError(f"z_prior must be one of {Z_PRIORS}, got {z_prior!r}")


def _is_whole(value) -> bool:
    """An int (or NumPy integer), not a bool or a float: JSON from a file can hold anything."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


@dataclass(frozen=True)
class ModelConfig(JsonConfig):
    """Everything needed to rebuild G and D; stored in every checkpoint."""

    KIND: ClassVar[str] = "model"

    image_size: int = 64  # 32, 64 or 128 px: one up/down-sampling block per doubling above 4x4
    nz: int = 100  # size of z (paper: 100)
    ngf: int = 64  # G width: channels of G's last hidden block (doubling towards z)
    ndf: int = 64  # D width: channels of D's first block (doubling towards the logit)
    channels: int = 3  # image channels: 1 (grayscale) or 3 (RGB)
    z_prior: str = "uniform"  # "uniform" on [-1, 1] (paper) or "normal" N(0, 1)

    def __post_init__(self) -> None:
        check_pictures_and_prior(self.image_size, self.channels, self.z_prior)
        for name, top in (("nz", MAX_NZ), ("ngf", MAX_WIDTH), ("ndf", MAX_WIDTH)):
            value = getattr(self, name)
            if not _is_whole(value):
                raise ValueError(f"{name} must be a whole number, got {value!r}")
            if not 1 <= value <= top:
                raise ValueError(f"{name} must be between 1 and {top}, got {value}")

    @property
    def num_hidden_blocks(self) -> int:
        """Hidden blocks in each net: 3 at 32 px, 4 at 64 px, 5 at 128 px."""
        return blocks_to_4px(self.image_size)


def init_dcgan_weights(module: nn.Module) -> None:
    """Paper's init: conv weights N(0, 0.02); BatchNorm gamma N(1, 0.02), beta 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


FeatureDrop = Mapping[int, "Sequence[int] | torch.Tensor"]


class Generator(nn.Module):
    """z (N, nz) or (N, nz, 1, 1) -> images (N, channels, S, S) in [-1, 1].

    At 64 px (the paper's Fig. 1, with ngf=128 there):
        z -> (ngf*8) x 4 x 4 -> (ngf*4) x 8 x 8 -> (ngf*2) x 16 x 16 -> ngf x 32 x 32 -> channels x 64 x 64
    Hidden block i's output is feature layer i; `penultimate_layer` is the last one,
    the paper's "second highest convolution layer".
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        n = config.num_hidden_blocks
        widths = [config.ngf * 2 ** (n - 1 - i) for i in range(n)]
        blocks: list[nn.Module] = [
            # project and reshape: nz x 1 x 1 -> widths[0] x 4 x 4
            nn.Sequential(
                nn.ConvTranspose2d(config.nz, widths[0], 4, 1, 0, bias=False),
                nn.BatchNorm2d(widths[0]),
                nn.ReLU(True),
            )
        ]
        for c_in, c_out in zip(widths[:-1], widths[1:]):
            # fractionally-strided conv doubles the resolution
            blocks.append(
                nn.Sequential(
                    nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False),
                    nn.BatchNorm2d(c_out),
                    nn.ReLU(True),
                )
            )
        # output block: no BatchNorm, Tanh
        blocks.append(nn.Sequential(nn.ConvTranspose2d(widths[-1], config.channels, 4, 2, 1, bias=False), nn.Tanh()))
        self.blocks = nn.ModuleList(blocks)
        self.feature_channels: tuple[int, ...] = tuple(widths)
        self.feature_sizes: tuple[int, ...] = tuple(4 * 2**i for i in range(n))
        init_dcgan_weights(self)

    @property
    def penultimate_layer(self) -> int:
        """Index of the last hidden block (the paper's 'second highest convolution layer')."""
        return len(self.feature_channels) - 1

    def check_input(self, z: torch.Tensor) -> torch.Tensor:
        """z (N, nz) or (N, nz, 1, 1) as (N, nz, 1, 1), the first block's input; ValueError for any other shape."""
        if z.dim() == 2:
            z = z[:, :, None, None]
        if z.dim() != 4 or z.shape[1] != self.config.nz or z.shape[2:] != (1, 1):
            raise ValueError(f"z must have shape (N, {self.config.nz}) or (N, {self.config.nz}, 1, 1), got {tuple(z.shape)}")
        return z

    def forward(
        self,
        z: torch.Tensor,
        drop: FeatureDrop | None = None,
        return_features: bool = False,
        *,
        edits: Mapping[int, MapEdit] | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        """Generate images; optionally zero feature maps and return hidden features.

        Args:
            z: (N, nz) or (N, nz, 1, 1) latent codes.
            drop: {hidden layer index: feature map indices} to zero at every spatial
                position right after that block's ReLU (the model itself is untouched).
            return_features: also return each hidden block's output (after any drop),
                a list of (N, C_i, S_i, S_i) tensors.
            edits: {hidden layer index: function of its maps}, the general form of `drop`
                (`features.run_with_maps` builds them); give one or the other.
        """
        if drop and edits:
            raise ValueError("give drop or edits, not both")
        features: list[torch.Tensor] | None = [] if return_features else None
        if drop:
            edits = map_edits(self, drop)
        x = forward_blocks(self, self.check_input(z), edits=edits, collect=features)
        return (x, features) if return_features else x


class Discriminator(nn.Module):
    """Images (N, channels, S, S) in [-1, 1] -> logits (N,) (sigmoid gives P(real)).

    At 64 px: channels x 64 x 64 -> ndf x 32 x 32 (no BatchNorm) -> (ndf*2) x 16 x 16
        -> (ndf*4) x 8 x 8 -> (ndf*8) x 4 x 4 -> 1 logit
    Every block ends in an explicit `nn.LeakyReLU(0.2)` module so analyses (guided
    backprop) can find and treat the rectifiers.
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        n = config.num_hidden_blocks
        widths = [config.ndf * 2**i for i in range(n)]
        blocks: list[nn.Module] = [
            # input block: no BatchNorm
            nn.Sequential(nn.Conv2d(config.channels, widths[0], 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=False))
        ]
        for c_in, c_out in zip(widths[:-1], widths[1:]):
            blocks.append(
                nn.Sequential(
                    nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False),
                    nn.BatchNorm2d(c_out),
                    nn.LeakyReLU(0.2, inplace=False),
                )
            )
        # 4x4 map -> one logit (the paper's "flattened and fed into a single sigmoid output")
        blocks.append(nn.Conv2d(widths[-1], 1, 4, 1, 0, bias=False))
        self.blocks = nn.ModuleList(blocks)
        self.feature_channels: tuple[int, ...] = tuple(widths)
        self.feature_sizes: tuple[int, ...] = tuple(config.image_size // 2 ** (i + 1) for i in range(n))
        init_dcgan_weights(self)

    def check_input(self, x: torch.Tensor) -> torch.Tensor:
        """Images (N, channels, S, S), as they are; ValueError for any other shape."""
        expected = (self.config.channels, self.config.image_size, self.config.image_size)
        if x.dim() != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(f"images must have shape (N, {', '.join(map(str, expected))}), got {tuple(x.shape)}")
        return x

    def forward(self, x: torch.Tensor, *, edits: Mapping[int, MapEdit] | None = None) -> torch.Tensor:
        """Logits (N,). Hidden layers' maps: `features.layer_maps` / `every_layer_maps`; edits as in Generator.forward."""
        return forward_blocks(self, self.check_input(x), edits=edits).flatten(1).squeeze(1)


def build_models(config: ModelConfig) -> tuple[Generator, Discriminator]:
    return Generator(config), Discriminator(config)
