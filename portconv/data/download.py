"""Downloading and caching data files: checksums, sizes, mirrors, deadlines, atomic writes.

A file is fetched from a list of mirrors (URL bases, or local directories, tried in order)
into a cache directory: streamed into a temporary file beside its final name (through
:func:`portconv._files.atomic_write`) while its checksum is computed, and renamed into place
only when it is complete, of its known size and its checksum matches. So an interrupted or
corrupt download never leaves a file under the final name; the temporary file is removed on
every failure, ``KeyboardInterrupt`` included, and the ``.part`` files of killed runs are
removed by the next download of the same file.

Each download is bounded: a file of known size is refused as soon as a mirror sends (or
announces) more than that size, a file of unknown size is capped at :data:`MAX_BYTES`; a
single read may stay silent for ``timeout`` seconds, and the whole download of one file from
one mirror must end within ``deadline`` seconds (by default :data:`DEADLINE`, or longer for a
large file, at :data:`MIN_RATE` bytes per second), so a mirror that trickles a byte at a time
is given up on and the next one is tried.

The cache directory is the ``root`` argument, else the environment variable ``PORTCONV_DATA``,
else ``~/.cache/portconv``.
"""

from __future__ import annotations

import hashlib
import math
import os
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Sequence
from typing import Any

from .._files import atomic_write, check_readable, remove_stale_temporaries
from ..errors import ArgumentError, ArrayTypeError, FileFormatError, MissingFileError

__all__ = [
    "ChecksumError",
    "DataNotFoundError",
    "DownloadError",
    "data_home",
    "fetch",
    "file_checksum",
    "verify_checksum",
]

#: seconds a mirror may stay silent (one read) before the next one is tried
TIMEOUT = 60.0
#: seconds the whole download of one file from one mirror may take, at least
DEADLINE = 300.0
#: bytes per second a large file's download must average (it gets size / MIN_RATE seconds)
MIN_RATE = 32 * 1024
#: the most bytes a file of unknown size may have
MAX_BYTES = 2**31
_CHUNK = 1 << 16


class DataNotFoundError(MissingFileError):
    """Data files are missing and cannot (or may not) be downloaded."""


class DownloadError(DataNotFoundError):
    """Every mirror failed; the message lists each URL with its error."""


class ChecksumError(FileFormatError):
    """A file's checksum (or size) is not the expected one (a corrupt or different file)."""


class _TooLarge(OSError):
    """A mirror sent or announced more than the file's size."""


def data_home(root: str | os.PathLike | None = None) -> str:
    """The cache directory: ``root``, else ``$PORTCONV_DATA``, else ``~/.cache/portconv``."""
    if root is not None:
        if not isinstance(root, (str, os.PathLike)):
            raise ArrayTypeError(f"root: expected a directory path, got {type(root).__name__}")
        return os.path.abspath(os.path.expanduser(os.fspath(root)))
    env = os.environ.get("PORTCONV_DATA")
    if env:
        return os.path.abspath(os.path.expanduser(env))
    return os.path.join(os.path.expanduser("~"), ".cache", "portconv")


def _hasher(checksum: str):
    if not isinstance(checksum, str):
        raise ArgumentError(f"checksum: expected 'md5:<hex>' or 'sha256:<hex>', got {checksum!r}")
    algorithm, sep, digest = checksum.partition(":")
    if not sep or not digest:
        raise ArgumentError(f"checksum: expected 'md5:<hex>' or 'sha256:<hex>', got {checksum!r}")
    algorithm = algorithm.lower()
    if algorithm not in ("md5", "sha1", "sha256", "sha512"):
        raise ArgumentError(f"checksum: unsupported algorithm {algorithm!r} in {checksum!r}")
    # the digest identifies a published file; it is not used for security
    return hashlib.new(algorithm, usedforsecurity=False), digest.lower()


def file_checksum(path: str | os.PathLike, algorithm: str = "sha256") -> str:
    """``"<algorithm>:<hex digest>"`` of the file at ``path``."""
    h, _ = _hasher(f"{algorithm}:x")
    path = check_readable(path, "path")
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return f"{algorithm.lower()}:{h.hexdigest()}"


def verify_checksum(path: str | os.PathLike, checksum: str, size: int | None = None) -> None:
    """Raise :class:`ChecksumError` unless the file at ``path`` has ``checksum``
    (``"md5:<hex>"`` or ``"sha256:<hex>"``) and, when given, ``size`` bytes (checked first:
    it costs nothing)."""
    algorithm = checksum.partition(":")[0] if isinstance(checksum, str) else ""
    _, expected = _hasher(checksum)
    path = check_readable(path, "path")
    if size is not None and os.path.getsize(path) != size:
        raise ChecksumError(
            f"{os.fspath(path)}: {os.path.getsize(path)} bytes, expected {size}; the file is "
            f"corrupt or not the expected one (delete it to download it again)"
        )
    got = file_checksum(path, algorithm)
    if got.partition(":")[2] != expected:
        raise ChecksumError(
            f"{os.fspath(path)}: checksum {got}, expected {checksum}; the file is corrupt or "
            f"not the expected one (delete it to download it again)"
        )


def _local_source(base: str, filename: str) -> str | None:
    """The path of ``filename`` in a local mirror (a directory or a ``file://`` URL), or
    None for a network mirror."""
    if base.startswith("file:"):
        parsed = urllib.parse.urlparse(base)
        directory = urllib.request.url2pathname(parsed.path)
    elif "://" in base:
        return None
    else:
        directory = os.path.expanduser(base)
    if os.path.basename(directory.rstrip("/\\")) == filename and not os.path.isdir(directory):
        return directory
    return os.path.join(directory, filename)


def _copy(
    source: Any, length: int | None, out: Any, h: Any, size: int | None, deadline: float
) -> int:
    """Copy ``source`` (a binary stream) into ``out`` and ``h`` within ``size`` (or
    MAX_BYTES) bytes and ``deadline`` seconds; return the bytes copied."""
    limit = size if size is not None else MAX_BYTES
    if length is not None and length > limit:
        raise _TooLarge(f"the mirror announces {length} bytes, more than the {limit} expected")
    read = getattr(source, "read1", None) or source.read  # read1: one recv, never a whole chunk
    start, received = time.monotonic(), 0
    while True:
        if time.monotonic() - start > deadline:
            expected = size if size is not None else length
            raise TimeoutError(
                f"the deadline of {deadline:g} s passed after {received} of "
                f"{expected if expected is not None else 'unknown'} bytes"
            )
        chunk = read(_CHUNK)
        if not chunk:
            break
        received += len(chunk)
        if received > limit:
            raise _TooLarge(f"more than the {limit} bytes expected; the rest was refused")
        out.write(chunk)
        h.update(chunk)
    if length is not None and received != length:
        raise OSError(f"incomplete download: {received} of {length} bytes")
    if size is not None and received != size:
        raise OSError(f"incomplete download: {received} of {size} bytes")
    return received


def _stream_to(
    url: str,
    target: str,
    checksum: str,
    timeout: float,
    *,
    size: int | None = None,
    deadline: float | None = None,
) -> None:
    """Download ``url`` (or copy a local mirror's file) to ``target`` through a temporary
    ``.part`` file, renamed into place once complete, of ``size`` bytes and matching
    ``checksum``. On any failure no file is left and the error propagates."""
    h, expected = _hasher(checksum)
    local = _local_source(url, os.path.basename(target))
    with atomic_write(target, what="download", suffix=".part") as out:
        if local is not None:
            path = check_readable(local, "mirror")
            length = os.path.getsize(path)
            budget = deadline or max(DEADLINE, length / MIN_RATE)
            with open(path, "rb") as source:
                _copy(source, length, out, h, size, budget)
        else:
            budget = deadline or max(DEADLINE, (size or 0) / MIN_RATE)
            with urllib.request.urlopen(url, timeout=min(timeout, budget)) as response:
                headers = getattr(response, "headers", None) or {}
                length = headers.get("Content-Length")
                length = int(length) if length is not None and str(length).isdigit() else None
                if deadline is None and length is not None:
                    budget = max(budget, length / MIN_RATE)
                _copy(response, length, out, h, size, budget)
        if h.hexdigest() != expected:
            raise ChecksumError(
                f"checksum {checksum.partition(':')[0]}:{h.hexdigest()}, expected {checksum}"
            )
        out.flush()


def _positive(value: Any, name: str, *, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0 < value < math.inf):
        raise ArgumentError(f"{name}: expected a positive number of seconds, got {value!r}")
    return float(value)


def check_mirrors(mirrors: Any) -> tuple[str, ...]:
    """``mirrors`` (URL bases or local directories) as a tuple of strings, or an error."""
    if isinstance(mirrors, (str, bytes)) or not isinstance(mirrors, Sequence):
        raise ArgumentError(
            f"mirrors: expected a sequence of URL bases or directories, got {mirrors!r}"
        )
    for i, m in enumerate(mirrors):
        if not isinstance(m, str) or not m:
            raise ArgumentError(f"mirrors[{i}]: expected a URL base or a directory, got {m!r}")
    return tuple(mirrors)


def fetch(
    filename: str,
    directory: str | os.PathLike,
    mirrors: Sequence[str],
    checksum: str,
    *,
    size: int | None = None,
    download: bool = True,
    timeout: float = TIMEOUT,
    deadline: float | None = None,
    missing_help: str = "",
) -> str:
    """The path of ``directory/filename``, verified against ``checksum`` (and ``size``),
    downloaded from the first mirror that delivers it intact if it is not there (or is
    corrupt).

    Parameters
    ----------
    filename : str
        A plain file name (no directory part).
    directory : str or os.PathLike
        Where the file is cached (created if needed).
    mirrors : sequence of str
        Tried in order: URL bases (the file's URL is ``base + filename``), or local
        directories (or ``file://`` URLs) holding the file, copied with the same checks.
    checksum : str
        ``"md5:<hex>"``, ``"sha256:<hex>"``, ...
    size : int, optional
        The file's size in bytes: a mirror that announces or sends more is refused at once
        (without it, :data:`MAX_BYTES` caps the download).
    download : bool
        False never touches the network: a missing file is a :class:`DataNotFoundError`, a
        corrupt one a :class:`ChecksumError`.
    timeout : float
        Seconds one read may wait.
    deadline : float, optional
        Seconds the whole download from one mirror may take (default: :data:`DEADLINE`, or
        ``size / MIN_RATE`` when longer).
    missing_help : str
        Added to the errors (what to put where).

    Returns
    -------
    str
        The verified file's path.

    Raises
    ------
    DataNotFoundError
        The file is missing and ``download`` is False.
    DownloadError
        Every mirror failed (the message lists each one with its error).
    ChecksumError
        With ``download=False``, the cached file is corrupt.
    ArgumentError
        A bad argument (named).
    """
    if not isinstance(filename, str) or not filename or os.path.basename(filename) != filename:
        raise ArgumentError(f"filename: expected a plain file name, got {filename!r}")
    if filename in (".", ".."):
        raise ArgumentError(f"filename: expected a plain file name, got {filename!r}")
    mirrors = check_mirrors(mirrors)
    _hasher(checksum)
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
        raise ArgumentError(f"size: expected a number of bytes (an int >= 0), got {size!r}")
    if not isinstance(download, bool):
        raise ArgumentError(f"download: expected True or False, got {download!r}")
    timeout = _positive(timeout, "timeout")
    deadline = _positive(deadline, "deadline", optional=True)
    directory = os.fspath(directory)
    target = os.path.join(directory, filename)
    failures = []
    if os.path.exists(target):
        try:
            verify_checksum(target, checksum, size)
            return target
        except FileFormatError as exc:
            if not download:
                raise
            failures.append(f"  {exc}")
    elif not download:
        raise DataNotFoundError(
            f"{target} does not exist and downloading is off (download=False). {missing_help}"
        )
    os.makedirs(directory, exist_ok=True)
    remove_stale_temporaries(target, ".part")
    for base in mirrors:
        local = _local_source(base, filename) is not None
        url = base if base.endswith(filename) else base.rstrip("/") + "/" + filename
        if local and not base.startswith("file:"):
            url = os.path.join(os.path.expanduser(base), filename)
        verb = "copying" if local else "downloading"
        print(f"portconv: {verb} {url} to {directory}", file=sys.stderr, flush=True)
        try:
            _stream_to(url, target, checksum, timeout, size=size, deadline=deadline)
        except Exception as exc:  # try the next mirror; KeyboardInterrupt propagates
            failures.append(f"  {url}: {type(exc).__name__}: {exc}")
            continue
        return target
    raise DownloadError(
        f"could not download {filename} from any mirror:\n"
        + "\n".join(failures + ([] if mirrors else ["  (no mirrors given)"]))
        + (f"\n{missing_help}" if missing_help else "")
    )
