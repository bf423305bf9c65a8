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

from .._files import atomic_write, check_readable
from ..errors import FileFormatError

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
#: the longest IDX header: 4 bytes and 255 dimensions of 4 bytes
_MAX_HEADER = 4 + 4 * 255
#: deflate cannot expand data by more than about 1032:1
_DEFLATE_MAX_RATIO = 1032


class IDXError(FileFormatError):
    """A file is not a valid IDX file (or not a valid gzip stream of one); a ``ValueError``."""


def _limit() -> int:
    from ..ops._args import whole_array_limit

    return whole_array_limit()


def _header(data: bytes, what: str) -> tuple[tuple[int, ...], np.dtype, int]:
    """(shape, dtype, header length) of the IDX header at the start of ``data``."""
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
    return shape, TYPES[code], header


def _declared(shape: tuple[int, ...], dtype: np.dtype, header: int, what: str) -> int:
    """The bytes the header declares (header included), refused beyond the memory limit."""
    expected = header + math.prod(shape) * dtype.itemsize
    if expected > _limit():
        raise IDXError(
            f"{what}: the header declares dimensions {shape} of {dtype.newbyteorder('=').name} "
            f"({expected} bytes), more than the {_limit()} bytes one call may build "
            f"(portconv.config(memory_budget=...) sets it); a corrupt header, or raise the budget"
        )
    return expected


def _body_error(shape, dtype, header, total, what) -> IDXError:
    expected = math.prod(shape) * dtype.itemsize
    body = total - header
    kind = "truncated" if body < expected else "too long"
    return IDXError(
        f"{what}: {kind}: dimensions {shape} of type {dtype.newbyteorder('=').name} need "
        f"{expected} bytes of data, the file has {body}"
    )


class _Inflater:
    """Gzip decompression that produces only as many bytes as asked for (several gzip
    members in a row, as ``gzip.decompress`` reads them)."""

    def __init__(self, raw: bytes, what: str) -> None:
        self.what = what
        self.out = bytearray()
        self._d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._input = raw

    def pull(self, n: int) -> None:
        """Decompress until ``n`` more bytes are out or the stream ends."""
        goal = len(self.out) + n
        try:
            while len(self.out) < goal:
                if self._d.eof:
                    rest = self._d.unused_data
                    if not rest.startswith(_GZIP_MAGIC):
                        break
                    self._d, self._input = zlib.decompressobj(16 + zlib.MAX_WBITS), rest
                chunk = self._d.decompress(self._input, min(goal - len(self.out), 1 << 20))
                self._input = self._d.unconsumed_tail
                if not chunk and not self._input and not self._d.eof:
                    break  # the input is used up: a truncated stream (reported by finish)
                self.out += chunk
        except zlib.error as exc:
            raise IDXError(f"{self.what}: not a valid gzip file (zlib.error: {exc})") from None

    def finish(self) -> None:
        """Raise unless the stream ended cleanly (no truncation, no trailing garbage)."""
        if not self._d.eof:
            raise IDXError(
                f"{self.what}: not a valid gzip file (EOFError: the compressed stream ends early)"
            )
        rest = self._d.unused_data.rstrip(b"\x00")  # gzip allows zero padding
        if rest:
            raise IDXError(
                f"{self.what}: not a valid gzip file ({len(rest)} bytes of trailing garbage)"
            )


def _gunzip(raw: bytes, what: str) -> bytes:
    """The decompressed bytes of a gzipped IDX file, produced no further than its header
    declares (plus one byte, to tell a file that is too long): a gzip bomb whose header
    claims a few bytes is refused after those bytes, not after gigabytes."""
    z = _Inflater(raw, what)
    z.pull(4)
    if len(z.out) >= 4:
        z.pull(4 + 4 * z.out[3] - len(z.out))
    if len(z.out) < 4 or len(z.out) < 4 + 4 * z.out[3]:
        z.finish()  # a truncated stream says so first
    shape, dtype, header = _header(bytes(z.out), what)
    expected = _declared(shape, dtype, header, what)
    if expected > _DEFLATE_MAX_RATIO * len(raw) + _MAX_HEADER:
        raise IDXError(
            f"{what}: truncated: dimensions {shape} need {expected} bytes, more than a "
            f"{len(raw)}-byte gzip stream can hold"
        )
    z.pull(expected + 1 - len(z.out))
    if len(z.out) > expected:
        raise IDXError(
            f"{what}: too long: dimensions {shape} of type {dtype.newbyteorder('=').name} need "
            f"{expected - header} bytes of data, the gzip stream holds more (decompression "
            f"stopped there)"
        )
    if len(z.out) < expected:
        z.finish()
        raise _body_error(shape, dtype, header, len(z.out), what)
    z.finish()
    return bytes(z.out)


def parse_idx(raw: bytes, what: str = "IDX data") -> np.ndarray:
    """The array held by the bytes of an IDX file (gzip-compressed or not), in native byte
    order. ``what`` names the source in error messages."""
    raw = bytes(raw)
    data = _gunzip(raw, what) if raw[:2] == _GZIP_MAGIC else raw
    shape, dtype, header = _header(data, what)
    expected = _declared(shape, dtype, header, what)
    if len(data) != expected:
        raise _body_error(shape, dtype, header, len(data), what)
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="))


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """The array held by the IDX file at ``path`` (gzip-compressed or not). An uncompressed
    file's size is checked against its header before the body is read; a compressed one is
    decompressed no further than its header declares."""
    path = check_readable(path, "path")
    what = f"path: {path}"
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(_MAX_HEADER)
        if head[:2] != _GZIP_MAGIC:
            shape, dtype, header = _header(head, what)
            if size != _declared(shape, dtype, header, what):
                raise _body_error(shape, dtype, header, size, what)
        elif size > _limit():
            raise IDXError(f"{what}: a {size}-byte gzip file is beyond the memory limit")
        f.seek(0)
        raw = f.read()
    return parse_idx(raw, what=what)


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
    if any(s >= 2**32 for s in array.shape):
        raise IDXError(f"array: IDX sizes are 32-bit, got shape {array.shape}")
    code = _CODES[name]
    header = struct.pack(">HBB", 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + np.ascontiguousarray(array, dtype=TYPES[code]).tobytes()
    return gzip.compress(data, mtime=0) if compress else data


def write_idx(path: str | os.PathLike, array: np.ndarray, compress: bool | None = None) -> None:
    """Write ``array`` as an IDX file (gzip-compressed when ``compress``, by default when the
    name ends in ``.gz``), atomically (see :mod:`portconv._files`)."""
    if compress is not None and not isinstance(compress, bool):
        raise IDXError(f"compress: expected True, False or None, got {compress!r}")
    raw = idx_bytes(array, compress=False)
    target = os.fspath(path) if isinstance(path, (str, os.PathLike)) else path
    if compress is None:
        compress = isinstance(target, str) and target.endswith(".gz")
    if compress:
        raw = gzip.compress(raw, mtime=0)
    with atomic_write(path, what="path") as f:
        f.write(raw)
