"""Checkpoints: one safetensors file that carries its own config, never a pickle.

Layout of a checkpoint file (safetensors, so loading runs no code):
    tensors   generator.<param>, discriminator.<param>,
              optim.generator.state.<i>.<key>, optim.discriminator.state.<i>.<key>  (training state only)
              rng.torch_cpu, rng.torch_cuda.<k>                                       (training state only)
    metadata  {"format": "dcgan-explorer/1", "model_config": JSON, "step": int,
               "train_config": JSON, "meta": JSON, "optim.<name>.param_groups": JSON,
               "rng.python": JSON, "rng.numpy": JSON, "tensors_sha256": hex}
A model-only file (for shipping, optionally fp16) is the same without optimizer and RNG.
Files are written atomically, so a crash while saving keeps the previous checkpoint.

A safetensors file is: header length (u64, little endian), the JSON header (tensor
dtypes, shapes and byte offsets, and the metadata), then the tensor bytes. Before any
tensor is read, loading checks the header against itself and the file: the config is in
range, every weight has the shape and kind of dtype the config implies, and the tensor
bytes are all there. `tensors_sha256` is the SHA-256 of the tensor bytes (everything after
the header), so flipped bits are caught by hashing one region of the file; it sits in the
header, which the hash does not cover, so adding it changes none of the hashed bytes.
Files written before checksums load without that check (`Checkpoint.checksum` is None).
Reading and checking safetensors headers and checksums is `safetensors_files.py`; this module
adds what makes such a file a checkpoint (its config, the weights that config implies).
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from .files import write_bytes_atomic
from .models import Discriminator, Generator, ModelConfig
from .registry import resolve_checkpoint
from .safetensors_files import (
    CHECKPOINT_FORMAT,
    CHECKSUM_KEY,
    CheckpointError,
    SafetensorsHeader,
    check_weights_fit,
    read_checked_safetensors,
    read_safetensors_header,
    safetensors_with_checksum,
    verify_safetensors,
)


@dataclass
class Checkpoint:
    model_config: ModelConfig
    generator: dict[str, torch.Tensor]
    discriminator: dict[str, torch.Tensor] | None = None
    step: int = 0
    train_config: dict | None = None
    meta: dict = field(default_factory=dict)  # free-form: dataset, images seen, hardware, metrics...
    optimizers: dict[str, dict] = field(default_factory=dict)  # name -> torch optimizer state_dict
    rng: dict | None = None  # from capture_rng_state()
    checksum: str | None = None  # SHA-256 of the tensor bytes, verified when loaded; None: an older file without one
    generator_ema: dict[str, torch.Tensor] | None = None  # a run's average of G's weights (--g-ema), a complete G

    def sampling_generator(self) -> dict[str, torch.Tensor]:
        """The G that draws: the weight average when the run kept one (it draws cleaner images), else G itself."""
        return self.generator_ema or self.generator

    @property
    def is_training_state(self) -> bool:
        return bool(self.optimizers)


def capture_rng_state() -> dict:
    """Every global RNG a run could touch: Python, NumPy, torch CPU and CUDA."""
    state = {
        "python": random.getstate(),
        "numpy": np.random.get_state(legacy=False),
        "torch_cpu": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["torch_cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch_cpu"])
    if "torch_cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["torch_cuda"])


def _json_default(o):
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, tuple):
        return list(o)
    raise TypeError(f"cannot store {type(o).__name__} in checkpoint metadata")


def _python_rng_from_json(v) -> tuple:
    version, internal, gauss = v
    return (version, tuple(internal), gauss)


def _numpy_rng_from_json(v: dict) -> dict:
    v = dict(v)
    v["state"] = dict(v["state"], key=np.asarray(v["state"]["key"], dtype=np.uint32))  # MT19937 key
    return v


def save_checkpoint(path: str | Path, ckpt: Checkpoint, dtype: torch.dtype | None = None) -> None:
    """Write `ckpt` atomically. `dtype` (e.g. torch.float16) shrinks float weights for shipping."""

    def cast(t: torch.Tensor) -> torch.Tensor:
        t = t.detach().cpu().contiguous()
        return t.to(dtype) if dtype is not None and t.is_floating_point() else t

    tensors: dict[str, torch.Tensor] = {}
    for prefix, sd in (("generator", ckpt.generator), ("discriminator", ckpt.discriminator or {}),
                       ("generator_ema", ckpt.generator_ema or {})):
        for k, v in sd.items():
            tensors[f"{prefix}.{k}"] = cast(v)
    metadata = {
        "format": CHECKPOINT_FORMAT,
        "model_config": json.dumps(ckpt.model_config.to_dict()),
        "step": str(int(ckpt.step)),
        "train_config": json.dumps(ckpt.train_config),
        "meta": json.dumps(ckpt.meta, default=_json_default),
    }
    for name, osd in ckpt.optimizers.items():
        for pid, pstate in osd["state"].items():
            for key, value in pstate.items():
                if not torch.is_tensor(value):
                    value = torch.tensor(value)
                tensors[f"optim.{name}.state.{pid}.{key}"] = value.detach().cpu().contiguous()
        metadata[f"optim.{name}.param_groups"] = json.dumps(osd["param_groups"], default=_json_default)
    if ckpt.rng is not None:
        tensors["rng.torch_cpu"] = ckpt.rng["torch_cpu"].contiguous()
        for k, s in enumerate(ckpt.rng.get("torch_cuda", [])):
            tensors[f"rng.torch_cuda.{k}"] = s.contiguous()
        metadata["rng.python"] = json.dumps(ckpt.rng["python"], default=_json_default)
        metadata["rng.numpy"] = json.dumps(ckpt.rng["numpy"], default=_json_default)
    write_bytes_atomic(path, safetensors_with_checksum(tensors, metadata))




def _stored_model_config(header: SafetensorsHeader) -> ModelConfig:
    try:
        return ModelConfig.from_dict(json.loads(header.metadata["model_config"]))
    except KeyError:
        raise CheckpointError(f"{header.path} is damaged: its header has no model_config") from None
    except (ValueError, TypeError) as e:  # JSONDecodeError is a ValueError
        raise CheckpointError(f"{header.path} has an impossible model config ({e}); the file is damaged "
                              "or was not written by dcgan-explorer") from None


@lru_cache(maxsize=32)
def expected_weights(config: ModelConfig) -> dict[str, tuple[tuple[int, ...], bool]]:
    """{"generator.<name>" and "discriminator.<name>": (shape, is float)} of the networks `config` builds.

    The networks are built on the meta device: shapes without allocating a byte.
    """
    with torch.device("meta"):
        nets = {"generator": Generator(config), "discriminator": Discriminator(config)}
    return {f"{prefix}.{k}": (tuple(v.shape), v.is_floating_point())
            for prefix, net in nets.items() for k, v in net.state_dict().items()}



def check_checkpoint_header(header: SafetensorsHeader) -> ModelConfig:
    """Everything that can be known wrong before reading a tensor: format, config ranges, weight shapes and dtypes.

    Returns the stored ModelConfig; raises CheckpointError naming the file and the problem.
    """
    if header.metadata.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{header.path} is a safetensors file but not a dcgan-explorer checkpoint "
                              f"(no '{CHECKPOINT_FORMAT}' format tag)")
    config = _stored_model_config(header)
    expected = expected_weights(config)
    average = {"generator_ema." + k[len("generator."):]: v for k, v in expected.items() if k.startswith("generator.")}
    check_weights_fit(header, {**expected, **average}, f"model config ({_describe(config)})",
                      prefixes=("generator.", "discriminator.", "generator_ema."))
    return config


def _describe(config: ModelConfig) -> str:
    return f"{config.image_size} px, nz {config.nz}, ngf {config.ngf}, ndf {config.ndf}, {config.channels} channels"


def verify_checkpoint(path: str | Path) -> str | None:
    """Every check `load_checkpoint` makes, without building a tensor: for `dcgan info`.

    Returns the verified checksum (None: an older file without one). Raises CheckpointError saying what is wrong.
    """
    check_checkpoint_header(read_safetensors_header(path))
    return verify_safetensors(path)



def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read a checkpoint onto the CPU; float weights come back as float32.

    The header is checked (config ranges, weight shapes, file size) before any tensor is built,
    and the tensor bytes against the stored checksum. Raises CheckpointError naming what is wrong.
    """
    path = Path(path)
    header, tensors = read_checked_safetensors(path, check_checkpoint_header)
    try:
        return _checkpoint_from(header, tensors)
    except (KeyError, ValueError, TypeError, IndexError) as e:  # JSONDecodeError is a ValueError
        raise CheckpointError(f"{path} is damaged: its training state cannot be read ({type(e).__name__}: {e})") from None


def _checkpoint_from(header: SafetensorsHeader, tensors: dict[str, torch.Tensor]) -> Checkpoint:
    meta = header.metadata
    train_config = json.loads(meta.get("train_config", "null"))
    free_meta = json.loads(meta.get("meta", "{}"))
    if not isinstance(free_meta, dict) or not (train_config is None or isinstance(train_config, dict)):
        raise ValueError("meta must be a JSON object and train_config an object or null")

    def section(prefix: str) -> dict[str, torch.Tensor]:
        p = prefix + "."
        return {k[len(p):]: (v.float() if v.is_floating_point() else v) for k, v in tensors.items() if k.startswith(p)}

    optimizers = {}
    for key in meta:
        if key.startswith("optim.") and key.endswith(".param_groups"):
            name = key[len("optim.") : -len(".param_groups")]
            state: dict[int, dict] = {}
            p = f"optim.{name}.state."
            for k, v in tensors.items():
                if k.startswith(p):
                    pid, sub = k[len(p):].split(".", 1)
                    state.setdefault(int(pid), {})[sub] = v
            optimizers[name] = {"state": state, "param_groups": json.loads(meta[key])}
    rng = None
    if "rng.torch_cpu" in tensors:
        cuda = [tensors[f"rng.torch_cuda.{k}"] for k in range(sum(k.startswith("rng.torch_cuda.") for k in tensors))]
        rng = {
            "torch_cpu": tensors["rng.torch_cpu"],
            "python": _python_rng_from_json(json.loads(meta["rng.python"])),
            "numpy": _numpy_rng_from_json(json.loads(meta["rng.numpy"])),
        }
        if cuda:
            rng["torch_cuda"] = cuda
    disc = section("discriminator")
    return Checkpoint(
        generator_ema=section("generator_ema") or None,
        model_config=_stored_model_config(header),
        generator=section("generator"),
        discriminator=disc or None,
        step=int(meta.get("step", 0)),
        train_config=train_config,
        meta=free_meta,
        optimizers=optimizers,
        rng=rng,
        checksum=meta.get(CHECKSUM_KEY),
    )


@dataclass
class LoadedModel:
    """A checkpoint's networks, rebuilt from its own config, in eval mode."""

    generator: Generator
    discriminator: Discriminator | None
    config: ModelConfig
    checkpoint: Checkpoint
    path: Path


def load_model(path: str | Path, device: torch.device | str = "cpu") -> LoadedModel:
    """Rebuild G (and D when stored) from a checkpoint with no guessing, ready to generate.

    G is the run's average of G's weights when it kept one (`--g-ema`), as `dcgan export` ships it.
    `path` is a checkpoint file, a run folder or a model name (see registry.resolve_checkpoint).
    """
    path = resolve_checkpoint(path)
    ckpt = load_checkpoint(path)
    g = Generator(ckpt.model_config)
    try:
        g.load_state_dict(ckpt.sampling_generator())
        d = None
        if ckpt.discriminator:
            d = Discriminator(ckpt.model_config)
            d.load_state_dict(ckpt.discriminator)
    except RuntimeError as e:
        raise CheckpointError(f"{path}: weights do not fit the stored config: {e}") from None
    g.to(device).eval().requires_grad_(False)
    if d is not None:
        d.to(device).eval().requires_grad_(False)
    return LoadedModel(generator=g, discriminator=d, config=ckpt.model_config, checkpoint=ckpt, path=path)


def export_model(src: str | Path, dst: str | Path, dtype: torch.dtype | None = torch.float16, extra_meta: dict | None = None) -> Checkpoint:
    """Write a shipping copy of a checkpoint: G and D (fp16 by default), config, train config and meta; no optimizer or RNG.

    A run that kept an average of G's weights ships the average as G (the meta says so).
    """
    ckpt = load_checkpoint(resolve_checkpoint(src))
    if ckpt.generator_ema:
        decay = (ckpt.train_config or {}).get("g_ema")
        extra_meta = {"generator": f"average of G's weights (decay {decay}, {ckpt.meta.get('g_ema_updates', '?')} updates), "
                                   "BatchNorm statistics measured for it", **(extra_meta or {})}
    slim = Checkpoint(
        model_config=ckpt.model_config,
        generator=ckpt.sampling_generator(),
        discriminator=ckpt.discriminator,
        step=ckpt.step,
        train_config=ckpt.train_config,
        meta={**ckpt.meta, **(extra_meta or {})},
    )
    save_checkpoint(dst, slim, dtype=dtype)
    return slim


def generator_fingerprint(generator: Generator) -> str:
    """SHA-256 (hex) of the generator's config and weights, floats rounded to fp16 (fp16 exports match their source).

    Names which weights saved annotations and concept sets belong to.
    """
    h = hashlib.sha256(json.dumps(generator.config.to_dict(), sort_keys=True).encode())
    for name, tensor in sorted(generator.state_dict().items()):
        t = tensor.detach().cpu()
        t = t.to(torch.float16) if t.is_floating_point() else t
        h.update(name.encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.contiguous().numpy().tobytes())
    return h.hexdigest()
