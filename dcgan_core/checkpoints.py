"""Checkpoints: one safetensors file that carries its own config, never a pickle.

Layout of a checkpoint file (safetensors, so loading runs no code):
    tensors   generator.<param>, discriminator.<param>,
              optim.generator.state.<i>.<key>, optim.discriminator.state.<i>.<key>  (training state only)
              rng.torch_cpu, rng.torch_cuda.<k>                                       (training state only)
    metadata  {"format": "dcgan-explorer/1", "model_config": JSON, "step": int,
               "train_config": JSON, "meta": JSON, "optim.<name>.param_groups": JSON,
               "rng.python": JSON, "rng.numpy": JSON}
A model-only file (for shipping, optionally fp16) is the same without optimizer and RNG.
Files are written atomically, so a crash while saving keeps the previous checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import random
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from .files import write_bytes_atomic
from .models import Discriminator, Generator, ModelConfig

FORMAT = "dcgan-explorer/1"


class CheckpointError(ValueError):
    """A file that is not a readable dcgan-explorer checkpoint; the message says why."""


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
    for prefix, sd in (("generator", ckpt.generator), ("discriminator", ckpt.discriminator or {})):
        for k, v in sd.items():
            tensors[f"{prefix}.{k}"] = cast(v)
    metadata = {
        "format": FORMAT,
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
    write_bytes_atomic(path, st_save(tensors, metadata=metadata))


def read_safetensors_metadata(path: str | Path, what: str = "checkpoint") -> dict[str, str]:
    """The string metadata of any safetensors file, read from its header alone (no tensors).

    Raises FileNotFoundError, or CheckpointError when the file is not safetensors.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            if n > 100_000_000:
                raise CheckpointError(f"{path} is not a safetensors file (header size {n})")
            header = json.loads(f.read(n))
    except FileNotFoundError:
        raise FileNotFoundError(f"{what} {path} does not exist") from None
    except (struct.error, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path} is not a safetensors {what} ({e})") from None
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    return meta or {}


def read_metadata(path: str | Path) -> dict:
    """The JSON header of a checkpoint, without reading its tensors (fast, for listings)."""
    path = Path(path)
    meta = read_safetensors_metadata(path)
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} is a safetensors file but not a dcgan-explorer checkpoint (no '{FORMAT}' format tag)")
    return meta


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read a checkpoint onto the CPU; float weights come back as float32."""
    path = Path(path)
    meta = read_metadata(path)
    try:
        tensors = st_load(path.read_bytes())
        model_config = ModelConfig.from_dict(json.loads(meta["model_config"]))
    except (KeyError, ValueError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path} is damaged: {e}") from None
    except Exception as e:  # safetensors raises its own error types for truncated files
        raise CheckpointError(f"{path} is damaged or truncated: {e}") from None

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
        model_config=model_config,
        generator=section("generator"),
        discriminator=disc or None,
        step=int(meta.get("step", 0)),
        train_config=json.loads(meta.get("train_config", "null")),
        meta=json.loads(meta.get("meta", "{}")),
        optimizers=optimizers,
        rng=rng,
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

    `path` is a checkpoint file, a run folder or a model name (see registry.resolve_checkpoint).
    """
    from .registry import resolve_checkpoint

    path = resolve_checkpoint(path)
    ckpt = load_checkpoint(path)
    g = Generator(ckpt.model_config)
    try:
        g.load_state_dict(ckpt.generator)
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
    """Write a shipping copy of a checkpoint: G and D (fp16 by default), config, train config and meta; no optimizer or RNG."""
    from .registry import resolve_checkpoint

    ckpt = load_checkpoint(resolve_checkpoint(src))
    slim = Checkpoint(
        model_config=ckpt.model_config,
        generator=ckpt.generator,
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
