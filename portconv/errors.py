"""portconv's errors: each subclasses the built-in exception users already catch."""

from __future__ import annotations


class PortconvError(Exception):
    """Base class of every error portconv raises on purpose."""


class ArgumentError(PortconvError, ValueError):
    """An argument has a value that is not allowed (a ``ValueError``)."""


class ArrayTypeError(PortconvError, TypeError):
    """An argument is of a type that is not allowed (a ``TypeError``)."""


class BackendUnavailableError(PortconvError, RuntimeError):
    """A backend was asked for by name but cannot run here."""


class FileFormatError(ArgumentError):
    """A file is not what it should be: empty, truncated, corrupt, of another format, or
    holding values its reader refuses (a ``ValueError``). The message names the file."""


class FileAccessError(PortconvError, OSError):
    """A file or directory cannot be read or written: missing, a directory where a file is
    expected, no permission (an ``OSError``). The message names the path."""


class MissingFileError(FileAccessError, FileNotFoundError):
    """A file that should be read does not exist (a ``FileNotFoundError``)."""


def describe_type(obj: object) -> str:
    t = type(obj)
    return t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"
