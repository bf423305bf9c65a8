"""Downloading and caching data files: checksums, mirrors, atomic writes.

A file is fetched from a list of mirrors (URL bases, tried in order) into a cache directory,
streamed into a temporary file beside its final name while its checksum is computed, and
renamed into place (``os.replace``) only when it is complete and its checksum matches. An
interrupted or corrupt download therefore never leaves a file under the final name, and the
temporary file is removed on every failure, ``KeyboardInterrupt`` included.

The cache directory is the ``root`` argument, else the environment variable ``PORTCONV_DATA``,
else ``~/.cache/portconv``.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import urllib.request
from collections.abc import Sequence

from ..errors import PortconvError

__all__ = [
    "ChecksumError",
    "DataNotFoundError",
    "DownloadError",
    "data_home",
    "fetch",
    "file_checksum",
    "verify_checksum",
]

#: seconds a mirror may stay silent before the next one is tried
TIMEOUT = 60.0
_CHUNK = 1 << 16


class DataNotFoundError(PortconvError, FileNotFoundError):
    """Data files are missing and cannot (or may not) be downloaded."""


class DownloadError(DataNotFoundError):
    """Every mirror failed; the message lists each URL with its error."""


class ChecksumError(PortconvError, ValueError):
    """A file's checksum is not the expected one (a corrupt or different file)."""


def data_home(root: str | os.PathLike | None = None) -> str:
    """The cache directory: ``root``, else ``$PORTCONV_DATA``, else ``~/.cache/portconv``."""
    if root is not None:
        return os.path.abspath(os.path.expanduser(os.fspath(root)))
    env = os.environ.get("PORTCONV_DATA")
    if env:
        return os.path.abspath(os.path.expanduser(env))
    return os.path.join(os.path.expanduser("~"), ".cache", "portconv")


def _hasher(checksum: str):
    algorithm, sep, digest = checksum.partition(":")
    if not sep or not digest:
        raise ValueError(f"checksum: expected 'md5:<hex>' or 'sha256:<hex>', got {checksum!r}")
    algorithm = algorithm.lower()
    if algorithm not in ("md5", "sha1", "sha256", "sha512"):
        raise ValueError(f"checksum: unsupported algorithm {algorithm!r} in {checksum!r}")
    # the digest identifies a published file; it is not used for security
    return hashlib.new(algorithm, usedforsecurity=False), digest.lower()


def file_checksum(path: str | os.PathLike, algorithm: str = "sha256") -> str:
    """``"<algorithm>:<hex digest>"`` of the file at ``path``."""
    h, _ = _hasher(f"{algorithm}:x")
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return f"{algorithm.lower()}:{h.hexdigest()}"


def verify_checksum(path: str | os.PathLike, checksum: str) -> None:
    """Raise :class:`ChecksumError` unless the file at ``path`` has ``checksum``
    (``"md5:<hex>"`` or ``"sha256:<hex>"``)."""
    algorithm = checksum.partition(":")[0]
    _, expected = _hasher(checksum)
    got = file_checksum(path, algorithm)
    if got.partition(":")[2] != expected:
        raise ChecksumError(
            f"{os.fspath(path)}: checksum {got}, expected {checksum}; the file is corrupt or "
            f"not the expected one (delete it to download it again)"
        )


def _stream_to(url: str, directory: str, filename: str, checksum: str, timeout: float) -> str:
    """Download ``url`` into a temporary file in ``directory``; return its path once complete
    and verified. On any failure the temporary file is gone and the error propagates."""
    h, expected = _hasher(checksum)
    fd, tmp = tempfile.mkstemp(prefix=f".{filename}.", suffix=".part", dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                length = response.headers.get("Content-Length") if response.headers else None
                received = 0
                while True:
                    chunk = response.read(_CHUNK)
                    if not chunk:
                        break
                    out.write(chunk)
                    h.update(chunk)
                    received += len(chunk)
            if length is not None and str(length).isdigit() and received != int(length):
                raise OSError(f"incomplete download: {received} of {length} bytes")
            out.flush()
            os.fsync(out.fileno())
        if h.hexdigest() != expected:
            raise ChecksumError(
                f"checksum {checksum.partition(':')[0]}:{h.hexdigest()}, expected {checksum}"
            )
        return tmp
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def fetch(
    filename: str,
    directory: str | os.PathLike,
    mirrors: Sequence[str],
    checksum: str,
    *,
    download: bool = True,
    timeout: float = TIMEOUT,
    missing_help: str = "",
) -> str:
    """The path of ``directory/filename``, verified against ``checksum``, downloaded from the
    first mirror that delivers it intact if it is not there (or is corrupt).

    ``mirrors``: URL bases; the file's URL is ``base + filename``. ``download=False`` never
    touches the network: a missing file is a :class:`DataNotFoundError`, a corrupt one a
    :class:`ChecksumError`. ``missing_help`` is added to those errors (what to put where).
    """
    directory = os.fspath(directory)
    target = os.path.join(directory, filename)
    failures = []
    if os.path.exists(target):
        try:
            verify_checksum(target, checksum)
            return target
        except ChecksumError as exc:
            if not download:
                raise
            failures.append(f"  {exc}")
    elif not download:
        raise DataNotFoundError(
            f"{target} does not exist and downloading is off (download=False). {missing_help}"
        )
    os.makedirs(directory, exist_ok=True)
    for base in mirrors:
        url = base if base.endswith(filename) else base.rstrip("/") + "/" + filename
        print(f"portconv: downloading {url} to {directory}", file=sys.stderr, flush=True)
        try:
            tmp = _stream_to(url, directory, filename, checksum, timeout)
        except Exception as exc:  # try the next mirror; KeyboardInterrupt propagates
            failures.append(f"  {url}: {type(exc).__name__}: {exc}")
            continue
        os.replace(tmp, target)
        return target
    raise DownloadError(
        f"could not download {filename} from any mirror:\n"
        + "\n".join(failures + ([] if mirrors else ["  (no mirrors given)"]))
        + (f"\n{missing_help}" if missing_help else "")
    )
