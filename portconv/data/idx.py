"""The IDX file format of MNIST and Fashion-MNIST: a reader and a writer.

An IDX file is a 4-byte magic number, one big-endian ``uint32`` per dimension, then the values
in row-major order, big-endian. The magic number is two zero bytes, a type code and the number
of dimensions::

    0x08 unsigned byte   0x09 signed byte   0x0B int16   0x0C int32   0x0D float32   0x0E float64

Files may be gzip-compressed (``*.gz``, recognised by their content, not their name). Every
inconsistency (a bad magic number, an unknown type, a header or body shorter or longer than its
dimensions say, a broken gzip stream) is an :class:`IDXError` naming the file.
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib

import numpy as np

from ..errors import PortconvError

__all__ = ["IDXError", "parse_idx", "read_idx", "idx_bytes", "write_idx"]

#: IDX type code -> NumPy dtype (big-endian where it matters)
TYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {dt.newbyteorder("=").name: code for code, dt in TYPES.items()}

_GZIP_MAGIC = b"\x1f\x8b"


class IDXError(PortconvError, ValueError):
    """A file is not a valid IDX file (or not a valid gzip stream of one)."""


def _decompress(raw: bytes, what: str) -> bytes:
    if raw[:2] != _GZIP_MAGIC:
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise IDXError(f"{what}: not a valid gzip file ({type(exc).__name__}: {exc})") from None


def parse_idx(raw: bytes, what: str = "IDX data") -> np.ndarray:
    """The array held by the bytes of an IDX file (gzip-compressed or not), in native byte
    order. ``what`` names the source in error messages."""
    data = _decompress(bytes(raw), what)
    if len(data) < 4:
        raise IDXError(f"{what}: {len(data)} bytes, too short for an IDX header (4 bytes)")
    zero, code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0:
        raise IDXError(
            f"{what}: magic number {data[:4].hex()} does not start with two zero bytes; "
            f"not an IDX file"
        )
    if code not in TYPES:
        raise IDXError(
            f"{what}: unknown IDX type code 0x{code:02X} (known: "
            f"{', '.join(f'0x{c:02X}' for c in TYPES)})"
        )
    if ndim == 0:
        raise IDXError(f"{what}: the header says 0 dimensions")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise IDXError(
            f"{what}: truncated header: {ndim} dimensions need {header} bytes, "
            f"the file has {len(data)}"
        )
    shape = struct.unpack(f">{ndim}I", data[4:header])
    dtype = TYPES[code]
    expected = math.prod(shape) * dtype.itemsize
    body = len(data) - header
    if body != expected:
        kind = "truncated" if body < expected else "too long"
        raise IDXError(
            f"{what}: {kind}: dimensions {shape} of type {dtype.newbyteorder('=').name} need "
            f"{expected} bytes of data, the file has {body}"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="))


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """The array held by the IDX file at ``path`` (gzip-compressed or not)."""
    path = os.fspath(path)
    with open(path, "rb") as f:
        raw = f.read()
    return parse_idx(raw, what=path)


def idx_bytes(array: np.ndarray, compress: bool = False) -> bytes:
    """The bytes of an IDX file holding ``array`` (uint8, int8, int16, int32, float32 or
    float64), gzip-compressed if ``compress`` (deterministically: no timestamp)."""
    array = np.asarray(array)
    name = array.dtype.newbyteorder("=").name
    if name not in _CODES:
        raise IDXError(
            f"array: IDX holds uint8, int8, int16, int32, float32 or float64, got {array.dtype}"
        )
    if array.ndim == 0 or array.ndim > 255:
        raise IDXError(f"array: IDX holds 1 to 255 dimensions, got {array.ndim}")
    code = _CODES[name]
    header = struct.pack(">HBB", 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + np.ascontiguousarray(array, dtype=TYPES[code]).tobytes()
    return gzip.compress(data, mtime=0) if compress else data


def write_idx(path: str | os.PathLike, array: np.ndarray, compress: bool | None = None) -> None:
    """Write ``array`` as an IDX file (gzip-compressed when ``compress``, by default when the
    name ends in ``.gz``)."""
    path = os.fspath(path)
    if compress is None:
        compress = path.endswith(".gz")
    with open(path, "wb") as f:
        f.write(idx_bytes(array, compress=compress))
