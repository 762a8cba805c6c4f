"""A small reader for MATLAB v5 MAT-files, limited to what SVHN's cropped-digit files hold.

SVHN ships `train_32x32.mat` and `test_32x32.mat`: MAT v5 files holding X (32, 32, 3, N)
uint8 and y (N, 1) double. scipy.io.loadmat reads them, but scipy is not a dependency of
the library, and a reader of downloaded files should check what each file claims before
it allocates anything. So this reads only the subset these files use:

    a 128-byte header ("MATLAB 5.0 MAT-file", version 0x0100, "IM" or "MI" byte order)
    then data elements, each miMATRIX (14) or miCOMPRESSED (15: zlib around one miMATRIX)
    a matrix: array flags, dimensions (int32), a name, a real part; numeric classes only,
              not complex, not sparse, cells, structs or objects

The real part may be stored in a smaller type than its class (MATLAB writes a double array
of small integers as uint8 bytes); it is converted to the class's type. Arrays are
column-major in the file and are returned as numpy arrays with the file's dimensions.
Sizes are checked before allocation: a claim larger than the bytes that follow, than
deflate could expand the compressed bytes to (about 1032:1), or than `max_bytes` is an
error naming the file, never a huge allocation. Nothing is unpickled or evaluated.

    arrays = read_mat_v5("train_32x32.mat", names=("X", "y"))
    arrays["X"].shape    # (32, 32, 3, 73257), uint8
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

import numpy as np

HEADER_BYTES = 128
MAX_ARRAY_BYTES = 4 << 30  # 4 GiB: SVHN's largest file (extra_32x32.mat) holds 1.6 GB of pixels
DEFLATE_MAX_RATIO = 1032  # zlib's deflate cannot expand data more than about 1032:1

MI_MATRIX, MI_COMPRESSED = 14, 15
MI_INT8, MI_UINT32, MI_INT32 = 1, 6, 5
# storage types of numeric data: MAT type number -> numpy dtype (byte order added per file)
STORAGE_TYPES = {1: "i1", 2: "u1", 3: "i2", 4: "u2", 5: "i4", 6: "u4", 7: "f4", 9: "f8", 12: "i8", 13: "u8"}
# array classes: mx class number -> numpy dtype of the returned array
NUMERIC_CLASSES = {6: "f8", 7: "f4", 8: "i1", 9: "u1", 10: "i2", 11: "u2", 12: "i4", 13: "u4", 14: "i8", 15: "u8"}
FLAG_COMPLEX = 0x0800


class MatFileError(ValueError):
    """A file that is not a MAT v5 file this reader can read, with what is wrong and where."""


def _pad8(n: int) -> int:
    return (n + 7) & ~7


class _Source:
    """Bytes of one data element with bounds checks: every read names the file and says what was short."""

    def __init__(self, data: bytes | memoryview, path: Path, order: str) -> None:
        self.data, self.path, self.order, self.pos = memoryview(data), path, order, 0

    def take(self, n: int, what: str) -> memoryview:
        if n < 0 or self.pos + n > len(self.data):
            raise MatFileError(f"{self.path}: truncated {what} (needs {n} bytes, {len(self.data) - self.pos} left)")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def tag(self, what: str) -> tuple[int, int, memoryview | None]:
        """(type, byte count, small-element payload or None): MAT v5 packs elements of <= 4 bytes into the tag."""
        first, second = struct.unpack(self.order + "II", self.take(8, f"{what} tag"))
        if first >> 16:  # small data element: type in the low half, byte count in the high half
            nbytes = first >> 16
            if nbytes > 4:
                raise MatFileError(f"{self.path}: {what} is a small element claiming {nbytes} bytes (at most 4)")
            return first & 0xFFFF, nbytes, self.data[self.pos - 4 : self.pos - 4 + nbytes]
        return first, second, None

    def element(self, what: str) -> tuple[int, memoryview]:
        """One sub-element of a matrix: (type, payload), skipping the padding to 8 bytes."""
        kind, nbytes, small = self.tag(what)
        if small is not None:
            return kind, small
        payload = self.take(nbytes, what)
        self.pos = min(self.pos + _pad8(nbytes) - nbytes, len(self.data))  # padding to 8 bytes (the last may lack it)
        return kind, payload


def _matrix_header(src: _Source) -> tuple[str, tuple[int, ...], int]:
    """Array flags, dimensions and name of a miMATRIX's payload: (name, dims, mx class)."""
    kind, flags = src.element("array flags")
    if kind != MI_UINT32 or len(flags) != 8:
        raise MatFileError(f"{src.path}: array flags are not 8 bytes of uint32 (type {kind}, {len(flags)} bytes)")
    word = struct.unpack(src.order + "I", flags[:4])[0]
    mx_class = word & 0xFF
    kind, raw_dims = src.element("dimensions")
    if kind != MI_INT32 or len(raw_dims) % 4 or not 2 <= len(raw_dims) // 4 <= 8:
        raise MatFileError(f"{src.path}: dimensions are not 2 to 8 int32 values (type {kind}, {len(raw_dims)} bytes)")
    dims = struct.unpack(src.order + f"{len(raw_dims) // 4}i", raw_dims)
    if min(dims) < 0:
        raise MatFileError(f"{src.path}: negative dimension in {dims}")
    kind, raw_name = src.element("array name")
    if kind != MI_INT8:
        raise MatFileError(f"{src.path}: array name is not int8 text (type {kind})")
    name = bytes(raw_name).decode("ascii", errors="replace")
    if mx_class not in NUMERIC_CLASSES:
        return name, dims, mx_class  # a cell, struct, sparse or char array: the caller skips or refuses it
    if word & FLAG_COMPLEX:
        raise MatFileError(f"{src.path}: {name} is complex; this reader reads real arrays only")
    return name, dims, mx_class


def _real_part(src: _Source, name: str, dims: tuple[int, ...], mx_class: int, max_bytes: int) -> np.ndarray:
    """The real part of a numeric matrix, checked against its dimensions, as the class's dtype in the file's shape."""
    count = int(np.prod(dims, dtype=np.int64))
    out_dtype = np.dtype(NUMERIC_CLASSES[mx_class])
    if count * out_dtype.itemsize > max_bytes:
        raise MatFileError(f"{src.path}: {name} claims shape {dims} ({count * out_dtype.itemsize:,} bytes), "
                           f"more than the {max_bytes:,} this reader allows")
    kind, payload = src.element(f"{name}'s data")
    if kind not in STORAGE_TYPES:
        raise MatFileError(f"{src.path}: {name}'s data has storage type {kind}, not a numeric type")
    stored = np.dtype(src.order + STORAGE_TYPES[kind])
    if len(payload) != count * stored.itemsize:
        raise MatFileError(f"{src.path}: {name} claims shape {dims} ({count} values) but holds "
                           f"{len(payload) // stored.itemsize} values of {stored.name}")
    values = np.frombuffer(payload, dtype=stored, count=count)
    # column-major in the file: read with the dimensions reversed, then transpose back
    return values.reshape(dims[::-1]).transpose().astype(out_dtype, copy=False)


def _matrix(src: _Source, wanted: set[str] | None, max_bytes: int) -> tuple[str, np.ndarray | None]:
    name, dims, mx_class = _matrix_header(src)
    if wanted is None and mx_class not in NUMERIC_CLASSES or wanted is not None and name not in wanted:
        return name, None  # not asked for, or (reading every array) text, cells, structs: skipped
    if mx_class not in NUMERIC_CLASSES:
        raise MatFileError(f"{src.path}: {name} is of MATLAB class {mx_class}, not a numeric array")
    return name, _real_part(src, name, dims, mx_class, max_bytes)


def _read_header(file: BinaryIO, path: Path) -> str:
    """Check the 128-byte header; return the struct byte-order prefix ("<" or ">")."""
    header = file.read(HEADER_BYTES)
    if len(header) < HEADER_BYTES:
        raise MatFileError(f"{path}: {len(header)} bytes, too short for a MAT-file header ({HEADER_BYTES})")
    if header[:4] == b"\x89HDF" or header[:6] == b"MATLAB" and b"7.3" in header[:20]:
        raise MatFileError(f"{path} is a MAT v7.3 (HDF5) file; this reader reads MAT v5 files (save with -v7 or -v6)")
    if not header.startswith(b"MATLAB 5.0 MAT-file"):
        raise MatFileError(f"{path} is not a MATLAB 5.0 MAT-file (its header starts {header[:20]!r})")
    order = {b"IM": "<", b"MI": ">"}.get(header[126:128])
    if order is None:
        raise MatFileError(f"{path}: unknown byte-order mark {header[126:128]!r} (expected 'IM' or 'MI')")
    if struct.unpack(order + "H", header[124:126])[0] != 0x0100:
        raise MatFileError(f"{path}: MAT-file version {header[124:126].hex()} is not 0x0100 (MAT v5)")
    return order


def _inflate(compressed: bytes, path: Path, order: str, max_bytes: int) -> bytes:
    """One miCOMPRESSED element's content: its miMATRIX tag says how much to inflate, checked first."""
    stream = zlib.decompressobj()
    try:
        head = stream.decompress(compressed, 8)
        if len(head) < 8:
            raise MatFileError(f"{path}: a compressed element is too short to hold a data element")
        _, nbytes = struct.unpack(order + "II", head)
        limit = min(max_bytes + 4096, DEFLATE_MAX_RATIO * len(compressed) + 64)
        if nbytes > limit:
            raise MatFileError(f"{path}: a compressed element claims {nbytes:,} bytes, more than its "
                               f"{len(compressed):,} compressed bytes can hold (or than this reader allows)")
        body = stream.decompress(stream.unconsumed_tail, nbytes)
    except zlib.error as e:
        raise MatFileError(f"{path}: a compressed element is not valid zlib data ({e})") from None
    if len(body) < nbytes:
        raise MatFileError(f"{path}: a compressed element holds {len(body):,} of the {nbytes:,} bytes it claims")
    return head + body


def read_mat_v5(
    path: str | Path, names: Iterable[str] | None = None, *, max_bytes: int = MAX_ARRAY_BYTES
) -> dict[str, np.ndarray]:
    """The numeric arrays of a MAT v5 file, by name (only `names` when given), in the file's shape and class.

    Raises FileNotFoundError when there is no file and MatFileError (a ValueError) when it is
    not a MAT v5 file of real numeric arrays, is truncated, or claims more than it can hold.
    """
    path = Path(path)
    wanted = None if names is None else set(names)
    arrays: dict[str, np.ndarray] = {}
    size = path.stat().st_size
    with path.open("rb") as file:
        order = _read_header(file, path)
        offset = HEADER_BYTES
        while offset + 8 <= size and (wanted is None or not wanted <= arrays.keys()):
            kind, nbytes = struct.unpack(order + "II", file.read(8))
            offset += 8
            if nbytes > size - offset:
                raise MatFileError(f"{path}: a data element claims {nbytes:,} bytes but {size - offset:,} follow (truncated?)")
            payload = file.read(nbytes)
            offset += nbytes
            if kind == MI_COMPRESSED:
                inner = _Source(_inflate(payload, path, order, max_bytes), path, order)
                kind, inner_bytes, _ = inner.tag("compressed element")
                if kind != MI_MATRIX:
                    continue  # compressed text or other data: not an array
                src = _Source(inner.take(inner_bytes, "compressed matrix"), path, order)
            elif kind == MI_MATRIX:
                src = _Source(payload, path, order)
                skip = _pad8(nbytes) - nbytes
                file.seek(skip, 1)
                offset += skip
            else:
                continue  # other top-level elements (none in SVHN's files) carry no arrays
            name, array = _matrix(src, wanted, max_bytes)
            if array is not None:
                arrays[name] = array
    if wanted is not None and not wanted <= arrays.keys():
        missing = ", ".join(sorted(wanted - arrays.keys()))
        raise MatFileError(f"{path} holds no array named {missing} (found: {', '.join(arrays) or 'none of those'})")
    return arrays
