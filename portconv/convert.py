"""Move arrays between libraries: ``portconv.convert(x, to="torch")``.

The memory is shared through DLPack wherever both libraries allow it (then the result is a
view: writing into one changes the other); otherwise the values are copied through NumPy. A
copy is made when

* the target is on another device than the source (``device=`` differs, or GPU <-> CPU);
* the source cannot be shared: a read-only NumPy array (DLPack would make it writable), a
  JAX array with a target whose views would be writable (PyTorch, CuPy, MXNet), a
  library or dtype that one side's DLPack does not support (bool before NumPy 1.25 / in MXNet
  1.9.1, bfloat16 into NumPy is impossible: an error);
* ``copy=True`` asks for one.

``copy=False`` asks for a view and raises when only a copy is possible. dtype and device (unless
``device=`` says otherwise) are kept.
"""

from __future__ import annotations

from typing import Any

from ._dispatch import adapters, backend_of
from .errors import ArgumentError


def _target(to: str):
    for adapter in adapters().values():
        if to in adapter.targets:
            return adapter
    names = sorted(t for a in adapters().values() for t in a.targets)
    raise ArgumentError(f"to: expected one of {', '.join(map(repr, names))}, got {to!r}")


def convert(x: Any, to: str, device: Any = None, *, copy: bool | None = None) -> Any:
    """``x`` as an array of library ``to`` ("numpy", "torch", "mxnet", "mxnet.nd", "cupy",
    "array_api_strict", "dask", "jax"), on ``device`` (default: where ``x`` is, if the target
    library has that device), sharing memory where possible (see the module docstring)."""
    if copy not in (None, True, False):
        raise ArgumentError(f"copy: expected None, True or False, got {copy!r}")
    src = backend_of(x)
    dst = _target(to)
    if not copy:
        try:
            source = src.adapter.dlpack_source(x)
            if not (src.adapter.dlpack_writable or dst.dlpack_views_read_only):
                source = None  # an immutable array (JAX) must not get a writable view
            if source is not None:
                out = dst.import_dlpack(source, to)
                if device is None or str(dst.device(out)) == str(device):
                    return out
        except (BufferError, TypeError, ValueError, RuntimeError, AttributeError) as exc:
            if copy is False:
                raise ArgumentError(
                    f"copy: False asks for a view, but {src.name} cannot share this array with "
                    f"{to} ({type(exc).__name__}: {exc})"
                ) from None
        if copy is False:
            raise ArgumentError(
                f"copy: False asks for a view, but {src.name} -> {to} on device {device!r} "
                f"needs a copy"
            )
    import numpy as np

    host = np.asarray(src.adapter.to_numpy(x))
    return dst.import_numpy(host, device, to)
