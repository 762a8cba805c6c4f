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
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from .files import write_bytes_atomic
from .models import Discriminator, Generator, ModelConfig

FORMAT = "dcgan-explorer/1"
CHECKSUM_KEY = "tensors_sha256"  # metadata key: SHA-256 (hex) of the tensor bytes after the header
MAX_HEADER_BYTES = 100_000_000
_HASH_CHUNK = 1 << 20

# safetensors dtype -> bytes per element
DTYPE_SIZES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "F8_E4M3": 1, "F8_E5M2": 1,
               "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U64": 8, "U32": 4, "U16": 2, "U8": 1, "BOOL": 1}
FLOAT_DTYPES = ("F64", "F32", "F16", "BF16")  # how a float weight may be stored (fp16 for shipping)


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
    write_bytes_atomic(path, safetensors_with_checksum(tensors, metadata))


def safetensors_with_checksum(tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> bytes:
    """safetensors bytes whose metadata also holds the SHA-256 of the tensor bytes (CHECKSUM_KEY).

    The tensors are serialised once; the hash covers the bytes after the header, and only the
    header is rebuilt to carry it (the layout safetensors writes: JSON padded with spaces to 8 bytes).
    """
    raw = st_save(tensors, metadata=metadata)
    (n,) = struct.unpack("<Q", raw[:8])
    data = memoryview(raw)[8 + n :]
    header = json.loads(raw[8 : 8 + n])
    header["__metadata__"] = {**(header.get("__metadata__") or {}), CHECKSUM_KEY: hashlib.sha256(data).hexdigest()}
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)
    return b"".join((struct.pack("<Q", len(encoded)), encoded, data))


@dataclass(frozen=True)
class TensorEntry:
    """One tensor as a safetensors header describes it; offsets are bytes into the data region."""

    dtype: str
    shape: tuple[int, ...]
    start: int
    end: int


@dataclass(frozen=True)
class SafetensorsHeader:
    """What a safetensors file says about itself, read without touching its tensors."""

    path: Path
    metadata: dict[str, str]
    tensors: dict[str, TensorEntry]
    data_start: int  # 8 + header length: where the tensor bytes begin
    file_size: int

    @property
    def data_size(self) -> int:
        """Bytes of tensor data the header promises."""
        return max((t.end for t in self.tensors.values()), default=0)

    def check_complete(self, what: str = "checkpoint") -> None:
        """Raise CheckpointError when the file holds fewer (or more) tensor bytes than its header promises."""
        present = self.file_size - self.data_start
        if present < self.data_size:
            raise CheckpointError(
                f"{self.path} is damaged or truncated: its header promises {self.data_size:,} bytes of tensor data "
                f"but the file holds {present:,}; re-export it or use an earlier {what}"
            )
        if present > self.data_size:
            raise CheckpointError(
                f"{self.path} is damaged: {present - self.data_size:,} unexpected bytes after its tensor data; "
                f"re-export it or use an earlier {what}"
            )


def _parse_tensor_entry(name: str, entry, path: Path, what: str) -> TensorEntry:
    def bad(why: str) -> CheckpointError:
        return CheckpointError(f"{path} is not a readable {what}: tensor {name!r} {why}")

    if not isinstance(entry, dict):
        raise bad("has no description")
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if dtype not in DTYPE_SIZES:
        raise bad(f"has unknown dtype {dtype!r}")
    if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
        raise bad(f"has an invalid shape {shape!r}")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(type(o) is int for o in offsets)
            and 0 <= offsets[0] <= offsets[1]):
        raise bad(f"has invalid data offsets {offsets!r}")
    if offsets[1] - offsets[0] != math.prod(shape) * DTYPE_SIZES[dtype]:
        raise bad(f"of shape {tuple(shape)} ({dtype}) does not match its {offsets[1] - offsets[0]:,} bytes")
    return TensorEntry(dtype, tuple(shape), offsets[0], offsets[1])


def _read_header(f, path: Path, what: str) -> SafetensorsHeader:
    size = os.fstat(f.fileno()).st_size
    try:
        (n,) = struct.unpack("<Q", f.read(8))
    except struct.error:
        raise CheckpointError(f"{path} is not a safetensors {what} (only {size} bytes)") from None
    if n > min(MAX_HEADER_BYTES, size - 8):
        raise CheckpointError(f"{path} is not a safetensors {what} (header size {n} in a {size}-byte file)")
    try:
        header = json.loads(f.read(n))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
        raise CheckpointError(f"{path} is not a safetensors {what} ({e})") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{path} is not a safetensors {what} (its header is not a JSON object)")
    meta = header.pop("__metadata__", None) or {}
    if not (isinstance(meta, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items())):
        raise CheckpointError(f"{path} is not a readable {what}: its metadata is not a map of strings")
    tensors = {name: _parse_tensor_entry(name, entry, path, what) for name, entry in header.items()}
    expected_start = 0
    for name, t in sorted(tensors.items(), key=lambda kv: (kv[1].start, kv[1].end)):
        if t.start != expected_start:
            raise CheckpointError(f"{path} is not a readable {what}: tensor {name!r} overlaps another or leaves a gap")
        expected_start = t.end
    return SafetensorsHeader(path, meta, tensors, 8 + n, size)


def read_safetensors_header(path: str | Path, what: str = "checkpoint") -> SafetensorsHeader:
    """The header of any safetensors file (metadata, tensor dtypes, shapes, offsets), checked for consistency.

    Raises FileNotFoundError, or CheckpointError when the file is not safetensors. Reads no tensors.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            return _read_header(f, path, what)
    except FileNotFoundError:
        raise FileNotFoundError(f"{what} {path} does not exist") from None
    except IsADirectoryError:
        raise CheckpointError(f"{path} is a folder, not a safetensors {what}") from None


def read_safetensors_metadata(path: str | Path, what: str = "checkpoint") -> dict[str, str]:
    """The string metadata of any safetensors file, read from its header alone (no tensors).

    Raises FileNotFoundError, or CheckpointError when the file is not safetensors.
    """
    return read_safetensors_header(path, what).metadata


def read_metadata(path: str | Path) -> dict:
    """The JSON header of a checkpoint, without reading its tensors (fast, for listings)."""
    path = Path(path)
    meta = read_safetensors_metadata(path)
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} is a safetensors file but not a dcgan-explorer checkpoint (no '{FORMAT}' format tag)")
    return meta


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


def check_weights_fit(header: SafetensorsHeader, expected: dict[str, tuple[tuple[int, ...], bool]],
                      what: str, prefixes: tuple[str, ...] = ("",)) -> None:
    """Raise CheckpointError unless the header's tensors under each prefix are exactly `expected`'s.

    A prefix whose tensors are all absent is allowed when it is not the first (a generator-only file).
    `expected` maps full names to (shape, is float); float weights may be stored as any float dtype.
    """
    for i, prefix in enumerate(prefixes):
        want = {k: v for k, v in expected.items() if k.startswith(prefix)}
        have = {k: v for k, v in header.tensors.items() if k.startswith(prefix)}
        if i > 0 and not have:
            continue
        missing, unexpected = sorted(set(want) - set(have)), sorted(set(have) - set(want))
        if missing or unexpected:
            names = ", ".join((missing or unexpected)[:3]) + (", ..." if len(missing or unexpected) > 3 else "")
            why = f"lacks {len(missing)} weights ({names})" if missing else f"has unexpected weights ({names})"
            raise CheckpointError(f"{header.path} {why} for its stored {what}; the file is damaged or not a dcgan-explorer file")
        for name, (shape, is_float) in want.items():
            t = have[name]
            if t.shape != shape:
                raise CheckpointError(f"{header.path}: weight {name} has shape {t.shape} but its stored {what} needs "
                                      f"{shape}; the file is damaged or not a dcgan-explorer file")
            if (t.dtype in FLOAT_DTYPES) != is_float:
                raise CheckpointError(f"{header.path}: weight {name} is stored as {t.dtype}, which its stored {what} "
                                      "cannot use; the file is damaged or not a dcgan-explorer file")


def check_checkpoint_header(header: SafetensorsHeader) -> ModelConfig:
    """Everything that can be known wrong before reading a tensor: format, config ranges, weight shapes and dtypes.

    Returns the stored ModelConfig; raises CheckpointError naming the file and the problem.
    """
    if header.metadata.get("format") != FORMAT:
        raise CheckpointError(f"{header.path} is a safetensors file but not a dcgan-explorer checkpoint "
                              f"(no '{FORMAT}' format tag)")
    config = _stored_model_config(header)
    expected = expected_weights(config)
    average = {"generator_ema." + k[len("generator."):]: v for k, v in expected.items() if k.startswith("generator.")}
    check_weights_fit(header, {**expected, **average}, f"model config ({_describe(config)})",
                      prefixes=("generator.", "discriminator.", "generator_ema."))
    return config


def _describe(config: ModelConfig) -> str:
    return f"{config.image_size} px, nz {config.nz}, ngf {config.ngf}, ndf {config.ndf}, {config.channels} channels"


def _check_digest(header: SafetensorsHeader, digest: str, what: str) -> None:
    if digest != header.metadata[CHECKSUM_KEY]:
        raise CheckpointError(f"{header.path}: tensor data does not match its checksum: the file is corrupt; "
                              f"re-export it or use an earlier {what}")


def verify_safetensors(path: str | Path, what: str = "checkpoint") -> str | None:
    """Check that a safetensors file's tensor bytes are complete and match its checksum, hashing them in chunks.

    Returns the verified checksum, or None for a file written before checksums. Raises CheckpointError.
    """
    path = Path(path)
    with open(path, "rb") as f:
        header = _read_header(f, path, what)
        header.check_complete(what)
        if CHECKSUM_KEY not in header.metadata:
            return None
        h = hashlib.sha256()
        f.seek(header.data_start)
        while chunk := f.read(_HASH_CHUNK):
            h.update(chunk)
    _check_digest(header, h.hexdigest(), what)
    return header.metadata[CHECKSUM_KEY]


def verify_checkpoint(path: str | Path) -> str | None:
    """Every check `load_checkpoint` makes, without building a tensor: for `dcgan info`.

    Returns the verified checksum (None: an older file without one). Raises CheckpointError saying what is wrong.
    """
    check_checkpoint_header(read_safetensors_header(path))
    return verify_safetensors(path)


def read_checked_safetensors(
    path: str | Path, check: Callable[[SafetensorsHeader], object] | None = None, what: str = "checkpoint"
) -> tuple[SafetensorsHeader, dict[str, torch.Tensor]]:
    """Read a safetensors file once, refusing it before any tensor exists when its header is wrong.

    `check(header)` vets the header (raise CheckpointError); then the file must hold exactly the
    tensor bytes its header promises, and they must match the stored checksum when there is one.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            header = _read_header(f, path, what)
            if check is not None:
                check(header)
            header.check_complete(what)
            f.seek(0)
            raw = f.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"{what} {path} does not exist") from None
    except IsADirectoryError:
        raise CheckpointError(f"{path} is a folder, not a safetensors {what}") from None
    if len(raw) != header.file_size:
        raise CheckpointError(f"{path} changed while it was being read; try again")
    if CHECKSUM_KEY in header.metadata:
        _check_digest(header, hashlib.sha256(memoryview(raw)[header.data_start :]).hexdigest(), what)
    try:
        tensors = st_load(raw)
    except Exception as e:  # safetensors raises its own error types; the header checks make this rare
        raise CheckpointError(f"{path} is damaged or truncated: {' '.join(str(e).split())}") from None
    return header, tensors


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
    from .registry import resolve_checkpoint

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
    from .registry import resolve_checkpoint

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
