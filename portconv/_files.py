"""Files: one home for writing them atomically and for reading them warily.

Every file portconv writes (checkpoints, model weights, Gluon ``.params`` exports, IDX files,
downloads) goes through :func:`atomic_write` or :func:`atomic_path`: the bytes go to a
temporary file in the target's own directory (so the rename cannot cross file systems), the
file is flushed and ``fsync``-ed, renamed over the target with ``os.replace`` and the
directory is ``fsync``-ed, so that after a crash or a kill a reader finds the old file or the
new one, never a part of one. The temporary file is created with mode ``0o666`` filtered by
the umask (what ``open(path, "w")`` gives), so the final file has the same mode a plain write
would give. Its name records the host and process that wrote it
(``.<name>.<host>-<pid>.<random>.tmp``): a write first removes the temporary files that
earlier, killed runs left beside the same target (their process no longer exists, or they are
older than :data:`STALE_SECONDS`). An exception, ``KeyboardInterrupt`` included, removes the
temporary file before it propagates.

Every file portconv reads goes through :func:`check_readable` first (a missing path, a
directory, a FIFO or an unreadable file is an error naming it) and ``.npz`` archives through
:class:`NpzReader`, which checks each member's declared shape and dtype against the zip
headers before reading a byte of data, so a truncated, corrupt or hostile archive (a "zip
bomb" whose headers promise gigabytes) is refused before anything large is allocated.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import re
import secrets
import socket
import stat
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator
from typing import IO, Any

import numpy as np

from .errors import (
    ArgumentError,
    ArrayTypeError,
    FileAccessError,
    FileFormatError,
    MissingFileError,
    describe_type,
)

__all__ = [
    "NpzReader",
    "STALE_SECONDS",
    "atomic_path",
    "atomic_write",
    "check_readable",
    "check_writable",
    "path_argument",
    "read_npz",
    "remove_stale_temporaries",
    "write_npz",
]

#: a temporary file whose writer cannot be asked (another host, or no process id in its name)
#: counts as abandoned once it has not been modified for this many seconds
STALE_SECONDS = 3600.0

#: deflate cannot expand data by more than about 1032:1; a zip member that declares more is lying
_DEFLATE_MAX_RATIO = 1032
#: an archive whose arrays declare more than this many bytes and more than _BOMB_RATIO times the
#: file's size is refused as a zip bomb (portconv's own archives are stored, ratio 1; weights
#: that np.savez_compressed wrote compress by a few percent)
_BOMB_BYTES = 64 * 2**20
_BOMB_RATIO = 100
#: the largest ``.npy`` header portconv reads (NumPy writes at most a few hundred bytes)
_MAX_NPY_HEADER = 1 << 16
_NPY_MAGIC = b"\x93NUMPY"
#: what zipfile raises for a damaged archive (NotImplementedError: an unknown zip version or
#: method; RuntimeError: an encrypted member)
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    EOFError,
    OSError,
    ValueError,
    NotImplementedError,
    RuntimeError,
)
_CHUNK = 1 << 20


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname())[:40] or "host"


_TEMP = re.compile(
    r"^\.(?P<name>.+)\.(?P<host>[A-Za-z0-9_-]+)-(?P<pid>\d+)\.[0-9a-f]{8}(?P<suffix>\.\w+)$"
)


# -- arguments -------------------------------------------------------------------------------


def path_argument(path: Any, what: str) -> str:
    """``path`` (a ``str`` or ``os.PathLike``) as a ``str``, or an error naming ``what``."""
    if isinstance(path, bool) or not isinstance(path, (str, os.PathLike)):
        raise ArrayTypeError(
            f"{what}: expected a file path (str or os.PathLike), got "
            f"{describe_type(path)}: {path!r}"
        )
    text = os.fspath(path)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    if not text or "\x00" in text:
        raise ArgumentError(f"{what}: expected a file path, got {text!r}")
    return text


def check_readable(path: Any, what: str = "path") -> str:
    """``path`` as a ``str`` after checking that it names a regular file this process may
    read; otherwise a :class:`MissingFileError`, :class:`FileFormatError` (a directory, a
    FIFO, a device) or :class:`FileAccessError` naming ``what`` and the path."""
    text = path_argument(path, what)
    try:
        st = os.stat(text)
    except FileNotFoundError:
        raise MissingFileError(f"{what}: {text}: no such file") from None
    except NotADirectoryError:
        raise MissingFileError(
            f"{what}: {text}: no such file (a part of the path is a file)"
        ) from None
    except OSError as exc:
        raise FileAccessError(f"{what}: {text}: cannot be read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(st.st_mode):
        raise FileFormatError(f"{what}: {text} is a directory, not a file")
    if not stat.S_ISREG(st.st_mode):
        raise FileFormatError(f"{what}: {text} is not a regular file (a FIFO, socket or device)")
    if not os.access(text, os.R_OK):
        raise FileAccessError(f"{what}: {text}: permission denied")
    return text


def _write_target(path: Any, what: str) -> str:
    """``path`` as an absolute ``str`` whose directory exists and which is not a directory."""
    text = os.path.abspath(os.path.expanduser(path_argument(path, what)))
    if os.path.isdir(text):
        raise FileFormatError(f"{what}: {text} is a directory; give the path of a file in it")
    directory = os.path.dirname(text)
    if not os.path.isdir(directory):
        why = "is not a directory" if os.path.exists(directory) else "does not exist"
        raise FileAccessError(f"{what}: cannot write {text}: the directory {directory} {why}")
    return text


def check_writable(path: Any, what: str = "path") -> str:
    """``path`` as an absolute ``str`` after checking that a file can be written there
    atomically: the path is not a directory, its directory exists, and a temporary file can
    be created in it (tried, then removed: permission bits alone do not tell, for root or
    with ACLs). Otherwise a :class:`FileAccessError` or :class:`FileFormatError` naming
    ``what`` and the path."""
    text = _write_target(path, what)
    try:
        tmp = _create_temporary(text, ".tmp")
    except OSError as exc:
        raise FileAccessError(
            f"{what}: cannot write in {os.path.dirname(text)} ({exc.strerror or exc})"
        ) from None
    _unlink_quietly(tmp)
    return text


# -- writing ---------------------------------------------------------------------------------


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists (another user's) or cannot be asked: keep its file
    return True


def _stale(directory: str, entry: str, name: str, suffix: str, now: float) -> bool:
    m = _TEMP.match(entry)
    if m is not None:
        if m.group("name") != name or m.group("suffix") != suffix:
            return False
        if m.group("host") == _host() and not _alive(int(m.group("pid"))):
            return True
    elif not (
        # names of earlier portconv versions (tempfile.mkstemp, no process id)
        (entry.startswith(f".{name}.") and entry.endswith(suffix))
        or (suffix == ".tmp" and entry.startswith(".portconv-") and entry.endswith(".npz"))
    ):
        return False
    try:
        age = now - os.lstat(os.path.join(directory, entry)).st_mtime
    except OSError:
        return False
    return age > STALE_SECONDS


def remove_stale_temporaries(path: str | os.PathLike, suffix: str = ".tmp") -> list[str]:
    """Remove the temporary files that earlier, killed writes of ``path`` left in its
    directory (see the module docstring); return their names."""
    target = os.path.abspath(os.fspath(path))
    directory, name = os.path.split(target)
    try:
        entries = os.listdir(directory)
    except OSError:
        return []
    now = time.time()
    removed = []
    for entry in entries:
        stale = entry.startswith(".") and _stale(directory, entry, name, suffix, now)
        if stale and _unlink_quietly(os.path.join(directory, entry)):
            removed.append(entry)
    return removed


def _create_temporary(target: str, suffix: str) -> str:
    directory, name = os.path.split(target)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = os.path.join(
            directory, f".{name}.{_host()}-{os.getpid()}.{secrets.token_hex(4)}{suffix}"
        )
        try:
            fd = os.open(tmp, flags, 0o666)  # the umask decides the final mode
        except FileExistsError:
            continue
        os.close(fd)
        return tmp
    raise FileExistsError(f"could not create a temporary file beside {target}")


def _unlink_quietly(path: str) -> bool:
    try:
        os.unlink(path)
    except OSError:
        return False
    return True


def _fsync_directory(directory: str) -> None:
    if os.name == "nt":  # directories cannot be opened for fsync there
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems do not support it; the rename still happened
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(
    path: str | os.PathLike, *, what: str = "path", suffix: str = ".tmp"
) -> Iterator[str]:
    """A context in which the caller writes the file at the temporary path it yields (for
    writers that take a file name, such as ``mxnet.nd.save``); on a clean exit the file is
    ``fsync``-ed and renamed over ``path`` atomically. See the module docstring.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write.
    what : str
        The argument's name, for error messages.
    suffix : str
        The temporary file's suffix (``".tmp"``; downloads use ``".part"``).

    Yields
    ------
    str
        The temporary file's path (it exists, empty, with the umask's mode).

    Raises
    ------
    FileAccessError, FileFormatError
        The path cannot be written (see :func:`check_writable`).

    Examples
    --------
    >>> import os, tempfile
    >>> from portconv._files import atomic_path
    >>> target = os.path.join(tempfile.mkdtemp(), "out.bin")
    >>> with atomic_path(target) as tmp:
    ...     with open(tmp, "wb") as f:
    ...         _ = f.write(b"data")
    >>> open(target, "rb").read()
    b'data'
    """
    target = _write_target(path, what)
    directory = os.path.dirname(target)
    remove_stale_temporaries(target, suffix)
    try:
        tmp = _create_temporary(target, suffix)
    except OSError as exc:
        raise FileAccessError(f"{what}: cannot write {target} ({exc.strerror or exc})") from None
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        _unlink_quietly(tmp)
        raise
    _fsync_directory(directory)


@contextlib.contextmanager
def atomic_write(
    path: str | os.PathLike, *, what: str = "path", suffix: str = ".tmp"
) -> Iterator[IO[bytes]]:
    """A binary file object to write ``path`` through: a temporary file in the same
    directory, ``fsync``-ed and renamed over ``path`` on a clean exit, removed on any
    exception. See the module docstring and :func:`atomic_path`.

    Examples
    --------
    >>> import os, tempfile
    >>> from portconv._files import atomic_write
    >>> target = os.path.join(tempfile.mkdtemp(), "out.bin")
    >>> with atomic_write(target) as f:
    ...     _ = f.write(b"data")
    >>> open(target, "rb").read()
    b'data'
    """
    with atomic_path(path, what=what, suffix=suffix) as tmp, open(tmp, "wb") as f:
        yield f
        f.flush()


def write_npz(
    path: str | os.PathLike, arrays: dict[str, np.ndarray], *, what: str = "path"
) -> None:
    """``numpy.savez`` (uncompressed, no pickle) through :func:`atomic_write`."""
    for name, a in arrays.items():
        if np.asarray(a).dtype.hasobject:
            raise ArrayTypeError(f"{what}: {name!r} is an object array; portconv never pickles")
    with atomic_write(path, what=what) as f:
        np.savez(f, **arrays)


# -- reading .npz ----------------------------------------------------------------------------


class NpzReader:
    """The arrays of a ``.npz`` archive (what ``numpy.savez`` writes), read warily.

    Opening checks the archive and every member's ``.npy`` header: each member's shape and
    dtype must account exactly for the size its zip header declares, the declared sizes must
    fit the file (and what deflate can expand), object arrays (which need unpickling) are
    refused, and the whole must be below ``max_bytes``. :attr:`members` then tells the shape
    and dtype of every array before any is read, and :meth:`read` reads one, checking its
    CRC. Every problem is a :class:`FileFormatError` naming the file (and the member).

    Parameters
    ----------
    path : str or os.PathLike
        The archive.
    what : str
        The argument's name, for error messages.
    max_bytes : int, optional
        The most bytes all arrays together may declare (default: the limit
        the ops hold whole arrays to, ``portconv.ops._args.whole_array_limit``).

    Examples
    --------
    >>> import os, tempfile, numpy as np
    >>> from portconv._files import NpzReader, write_npz
    >>> path = os.path.join(tempfile.mkdtemp(), "a.npz")
    >>> write_npz(path, {"w": np.zeros((2, 3), np.float32)})
    >>> with NpzReader(path) as r:
    ...     print(r.members["w"][0], r.read("w").dtype)
    (2, 3) float32
    """

    def __init__(self, path: Any, *, what: str = "path", max_bytes: int | None = None) -> None:
        self.path = check_readable(path, what)
        self.what = what
        size = os.path.getsize(self.path)
        if size == 0:
            raise self._error("is empty (0 bytes); a .npz archive was expected")
        with open(self.path, "rb") as f:
            head = f.read(8)
        if head.startswith(_NPY_MAGIC):
            raise self._error(
                "is a .npy file (one array), not a .npz archive of named arrays (np.savez "
                "writes those)"
            )
        if not head.startswith(b"PK"):
            raise self._error(
                f"is not a .npz archive (a zip file of .npy arrays): it starts with bytes "
                f"{head[:4].hex()}, not a zip signature"
            )
        try:
            self._zip = zipfile.ZipFile(self.path)
        except _ZIP_ERRORS as exc:
            raise self._error(
                f"is truncated or corrupt: not a readable zip archive ({type(exc).__name__}: {exc})"
            ) from None
        try:
            self.members = self._scan(size, max_bytes)
        except BaseException:
            self._zip.close()
            raise

    def _error(self, message: str, member: str | None = None) -> FileFormatError:
        where = f" (member {member!r})" if member is not None else ""
        return FileFormatError(f"{self.what}: {self.path}{where} {message}")

    def _scan(self, size: int, max_bytes: int | None) -> dict[str, tuple[tuple, np.dtype]]:
        self._info: dict[str, tuple[zipfile.ZipInfo, int, bool]] = {}
        members: dict[str, tuple[tuple, np.dtype]] = {}
        total = 0
        for info in self._zip.infolist():
            if info.is_dir():
                continue
            if not info.filename.endswith(".npy"):
                raise self._error(
                    "is not an array (.npy); this is not a NumPy .npz archive", info.filename
                )
            name = info.filename[: -len(".npy")]
            if name in members:
                raise self._error("appears twice in the archive", info.filename)
            if info.compress_type == zipfile.ZIP_STORED:
                if info.file_size != info.compress_size:
                    raise self._error(
                        f"declares {info.file_size} bytes stored in {info.compress_size}; the "
                        f"archive is corrupt",
                        info.filename,
                    )
            elif info.compress_type == zipfile.ZIP_DEFLATED:
                if info.file_size > _DEFLATE_MAX_RATIO * info.compress_size + 1024:
                    raise self._error(
                        f"declares {info.file_size} bytes compressed into {info.compress_size}, "
                        f"more than deflate can expand; the archive is corrupt or hostile",
                        info.filename,
                    )
            else:
                raise self._error(
                    f"uses zip compression method {info.compress_type}, which NumPy never writes",
                    info.filename,
                )
            if info.header_offset + info.compress_size > size:
                raise self._error(
                    f"ends beyond the end of the file ({size} bytes): the file is truncated",
                    info.filename,
                )
            shape, dtype, fortran, header = self._header(info)
            nbytes = math.prod(shape) * dtype.itemsize
            if header + nbytes != info.file_size:
                raise self._error(
                    f"holds shape {shape} of {dtype.name} ({nbytes} bytes of data after a "
                    f"{header}-byte header), but its zip entry declares {info.file_size} bytes: "
                    f"the file is truncated or corrupt",
                    info.filename,
                )
            total += nbytes
            members[name] = (shape, dtype)
            self._info[name] = (info, header, fortran)
        if total > _BOMB_BYTES and total > _BOMB_RATIO * size:
            raise self._error(
                f"declares {total} bytes of arrays in a file of {size} bytes (more than "
                f"{_BOMB_RATIO} times its size): a zip bomb, or a file that np.savez_compressed "
                f"wrote from mostly constant arrays; portconv writes uncompressed archives, read "
                f"this one with numpy.load if you trust it"
            )
        limit = _default_limit() if max_bytes is None else max_bytes
        if total > limit:
            raise self._error(
                f"declares {total} bytes of arrays, more than the {limit} bytes allowed (the "
                f"whole-array limit, set by portconv.config(memory_budget=...)); raise the "
                f"budget if the file is genuine"
            )
        return members

    def _header(self, info: zipfile.ZipInfo) -> tuple[tuple, np.dtype, bool, int]:
        try:
            with self._zip.open(info) as f:
                magic = f.read(8)
                if len(magic) < 8 or not magic.startswith(_NPY_MAGIC):
                    raise self._error("is not a .npy array (bad magic bytes)", info.filename)
                major = magic[6]
                width = 2 if major == 1 else 4
                raw_len = f.read(width)
                if len(raw_len) < width or major not in (1, 2, 3):
                    raise self._error(f"has an unknown .npy version {major}", info.filename)
                length = int.from_bytes(raw_len, "little")
                if length > _MAX_NPY_HEADER:
                    raise self._error(f"has a {length}-byte .npy header", info.filename)
                text = f.read(length)
        except FileFormatError:
            raise
        except _ZIP_ERRORS as exc:
            raise self._error(f"is corrupt ({type(exc).__name__}: {exc})", info.filename) from None
        if len(text) < length:
            raise self._error("has a truncated .npy header", info.filename)
        try:
            reader = (
                np.lib.format.read_array_header_1_0
                if major == 1
                else np.lib.format.read_array_header_2_0
            )
            prefix = raw_len + (text if major != 3 else text.decode("utf8").encode("latin1"))
            shape, fortran, dtype = reader(io.BytesIO(prefix))
        except (ValueError, SyntaxError, TypeError, UnicodeError) as exc:
            raise self._error(f"has an unreadable .npy header ({exc})", info.filename) from None
        if dtype.hasobject:
            raise self._error(
                "holds an array of Python objects (object arrays need unpickling, which "
                "portconv never does)",
                info.filename,
            )
        if dtype.kind not in "biufcUS":
            raise self._error(f"holds dtype {dtype}, not numbers or text", info.filename)
        return tuple(int(s) for s in shape), dtype, bool(fortran), 8 + width + length

    def read(self, name: str) -> np.ndarray:
        """The array ``name`` (a writable NumPy array)."""
        info, header, fortran = self._info[name]
        shape, dtype = self.members[name]
        nbytes = info.file_size - header
        buf = bytearray(nbytes)
        view = memoryview(buf)
        try:
            with self._zip.open(info) as f:
                f.read(header)
                done = 0
                while done < nbytes:
                    chunk = f.read(min(_CHUNK, nbytes - done))
                    if not chunk:
                        raise self._error(
                            f"ends after {done} of {nbytes} bytes of data: the file is truncated",
                            info.filename,
                        )
                    view[done : done + len(chunk)] = chunk
                    done += len(chunk)
                if f.read(1):  # also where zipfile checks the CRC
                    raise self._error("holds more data than it declares", info.filename)
        except FileFormatError:
            raise
        except _ZIP_ERRORS as exc:
            raise self._error(f"is corrupt ({type(exc).__name__}: {exc})", info.filename) from None
        array = np.frombuffer(buf, dtype=dtype) if nbytes else np.empty(0, dtype=dtype)
        return array.reshape(shape, order="F" if fortran else "C")

    def read_all(self) -> dict[str, np.ndarray]:
        """Every array, by name."""
        return {name: self.read(name) for name in self.members}

    def close(self) -> None:
        self._zip.close()

    def __enter__(self) -> NpzReader:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _default_limit() -> int:
    from .ops._args import whole_array_limit

    return whole_array_limit()


def read_npz(
    path: Any,
    *,
    what: str = "path",
    max_bytes: int | None = None,
    check: Callable[[dict[str, tuple[tuple, np.dtype]]], None] | None = None,
) -> dict[str, np.ndarray]:
    """The arrays of a ``.npz`` archive, read by :class:`NpzReader`; ``check(members)`` (name
    -> (shape, dtype)) runs before any array is read and may raise."""
    with NpzReader(path, what=what, max_bytes=max_bytes) as reader:
        if check is not None:
            check(reader.members)
        return reader.read_all()
