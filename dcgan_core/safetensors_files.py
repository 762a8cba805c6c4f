"""safetensors files read without trusting them: the header parsed and checked against itself and the file
before any tensor is built, and the SHA-256 of the tensor bytes written into the header and verified.

Checkpoints (`checkpoints.py`) and instruments (`analysis/instruments.py`) are both such files; the
model listing (`registry.py`) reads checkpoint headers from here without loading a tensor.

A safetensors file is: header length (u64, little endian), the JSON header (tensor dtypes, shapes
and byte offsets, and the metadata), then the tensor bytes. `tensors_sha256` (CHECKSUM_KEY) is the
SHA-256 of the tensor bytes (everything after the header); it sits in the header, which the hash
does not cover, so adding it changes none of the hashed bytes. Files written before checksums read
without that check.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

CHECKPOINT_FORMAT = "dcgan-explorer/1"  # metadata "format" of a dcgan-explorer checkpoint (see checkpoints.py)
CHECKSUM_KEY = "tensors_sha256"  # metadata key: SHA-256 (hex) of the tensor bytes after the header
MAX_HEADER_BYTES = 100_000_000
_HASH_CHUNK = 1 << 20

# safetensors dtype -> bytes per element
DTYPE_SIZES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "F8_E4M3": 1, "F8_E5M2": 1,
               "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U64": 8, "U32": 4, "U16": 2, "U8": 1, "BOOL": 1}
FLOAT_DTYPES = ("F64", "F32", "F16", "BF16")  # how a float weight may be stored (fp16 for shipping)


class CheckpointError(ValueError):
    """A safetensors file (a checkpoint, an instrument) that cannot be read or used; the message says why."""


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
    if meta.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{path} is a safetensors file but not a dcgan-explorer checkpoint (no '{CHECKPOINT_FORMAT}' format tag)"
        )
    return meta


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
