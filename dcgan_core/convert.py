"""Import the most common DCGAN checkpoint in the wild: pytorch/examples' dcgan.

Its `main.py` saves `netG_epoch_N.pth` / `netD_epoch_N.pth` as plain state dicts of an
`nn.Sequential` called `main` (64 px, nz 100, ngf/ndf 64 by default, bias-free convs,
D ending in a Sigmoid). The layer order is the same as ours, so import is a renaming:

    G  main.{0,3,6,9,12}   ConvTranspose2d   -> blocks.{0..4}.0
       main.{1,4,7,10}     BatchNorm2d       -> blocks.{0..3}.1
    D  main.{0,2,5,8,11}   Conv2d            -> blocks.{0..3}.0, blocks.4
       main.{3,6,9}        BatchNorm2d       -> blocks.{1..3}.1
Our D returns the logit; theirs applied a Sigmoid after the same last conv.
Files are read with `torch.load(weights_only=True)`: tensors only, no code runs.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import torch

from .checkpoints import Checkpoint, CheckpointError, save_checkpoint
from .models import Discriminator, Generator, ModelConfig


def _read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError) as e:
        raise CheckpointError(
            f"{path} could not be read as a plain state dict ({str(e).splitlines()[0]}); "
            "only files saved with torch.save(net.state_dict()) can be imported safely"
        ) from None
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    if not isinstance(sd, dict) or not all(torch.is_tensor(v) for v in sd.values()):
        raise CheckpointError(f"{path} does not hold a state dict of tensors")
    # nn.DataParallel saves "module.main.0.weight"
    return {k.removeprefix("module."): v for k, v in sd.items()}


def _sequential_layers(sd: dict[str, torch.Tensor], path) -> list[int]:
    idx = sorted({int(k.split(".")[1]) for k in sd if k.startswith("main.") and k.split(".")[1].isdigit()})
    if not idx:
        raise CheckpointError(f"{path} has no 'main.N.*' keys: not a pytorch/examples dcgan state dict")
    return idx


def _rename(sd: dict[str, torch.Tensor], path, kind: str) -> dict[str, torch.Tensor]:
    """Map main.N.* to blocks.B.S.* by walking the Sequential: convs start blocks, BatchNorms follow them."""
    out: dict[str, torch.Tensor] = {}
    block = -1
    for n in _sequential_layers(sd, path):
        keys = {k.split(".", 2)[2]: v for k, v in sd.items() if k.startswith(f"main.{n}.")}
        if "running_mean" in keys:  # BatchNorm: second module of the current block
            for k, v in keys.items():
                out[f"blocks.{block}.1.{k}"] = v
        elif "weight" in keys and keys["weight"].dim() == 4:  # a conv starts a block
            block += 1
            for k, v in keys.items():
                out[f"blocks.{block}.0.{k}" if not _is_last_d_conv(kind, keys) else f"blocks.{block}.{k}"] = v
        else:
            raise CheckpointError(f"{path}: layer main.{n} ({sorted(keys)}) is not a conv or BatchNorm")
    return out


def _is_last_d_conv(kind: str, keys: dict[str, torch.Tensor]) -> bool:
    return kind == "D" and keys["weight"].shape[0] == 1  # our D's logit conv is blocks.N, not blocks.N.0


def infer_config(generator_sd: dict[str, torch.Tensor], discriminator_sd: dict[str, torch.Tensor] | None) -> ModelConfig:
    """Read nz, ngf, ndf, channels and image size off the weight shapes."""
    def conv_weights(sd):
        keys = [k for k in sd if k.startswith("main.") and k.endswith(".weight") and sd[k].dim() == 4]
        return [sd[k] for k in sorted(keys, key=lambda k: int(k.split(".")[1]))]

    convs = conv_weights(generator_sd)
    nz, width0 = convs[0].shape[0], convs[0].shape[1]
    channels = convs[-1].shape[1]
    n_hidden = len(convs) - 1
    image_size = 4 * 2**n_hidden
    ngf = width0 // 2 ** (n_hidden - 1)
    ndf = ngf
    if discriminator_sd is not None:
        ndf = conv_weights(discriminator_sd)[0].shape[0]
    if image_size not in (32, 64, 128):
        raise CheckpointError(f"unsupported layout: {len(convs)} transposed convs (image size {image_size})")
    return ModelConfig(image_size=image_size, nz=nz, ngf=ngf, ndf=ndf, channels=channels, z_prior="normal")


def import_pytorch_examples(
    generator_path: str | Path,
    discriminator_path: str | Path | None = None,
    out_path: str | Path | None = None,
    dtype: torch.dtype | None = None,
) -> Checkpoint:
    """Convert netG (and optionally netD) .pth files into one of our checkpoints.

    pytorch/examples samples z from N(0, 1), so the imported config uses the normal prior.
    Writes `out_path` when given; returns the checkpoint either way.
    """
    g_raw = _read_state_dict(generator_path)
    d_raw = _read_state_dict(discriminator_path) if discriminator_path else None
    _sequential_layers(g_raw, generator_path)
    if d_raw is not None:
        _sequential_layers(d_raw, discriminator_path)
    config = infer_config(g_raw, d_raw)
    g_sd = _rename(g_raw, generator_path, "G")
    d_sd = _rename(d_raw, discriminator_path, "D") if d_raw is not None else None
    for net, sd, path in ((Generator(config), g_sd, generator_path), (Discriminator(config), d_sd, discriminator_path)):
        if sd is None:
            continue
        try:
            net.load_state_dict(sd)
        except RuntimeError as e:
            raise CheckpointError(f"{path} does not match a DCGAN of {config}: {e}") from None
    ckpt = Checkpoint(
        model_config=config,
        generator=g_sd,
        discriminator=d_sd,
        step=0,
        meta={"imported_from": "pytorch/examples dcgan", "generator_file": Path(generator_path).name,
              "discriminator_file": Path(discriminator_path).name if discriminator_path else None},
    )
    if out_path is not None:
        save_checkpoint(out_path, ckpt, dtype=dtype)
    return ckpt
