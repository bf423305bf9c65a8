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
from .errors import (
    ArgumentError,
    ArrayTypeError,
    BackendUnavailableError,
    PortconvError,
    describe_type,
)

__all__ = ["convert", "target_adapter"]


def target_adapter(to: Any, name: str = "to") -> Any:
    """The adapter whose arrays the library name ``to`` means (``"mxnet.nd"``: the MXNet
    adapter, which delivers legacy NDArrays for it), checked to be importable here.

    Parameters
    ----------
    to : str
        A name in some adapter's ``targets`` ("numpy", "torch", "mxnet", "mxnet.nd", ...).
    name : str
        The argument's name, for error messages.

    Returns
    -------
    Adapter

    Raises
    ------
    ArgumentError
        ``to`` is no library portconv knows.
    BackendUnavailableError
        The library cannot be imported here (the message says why).

    Examples
    --------
    >>> from portconv.convert import target_adapter
    >>> target_adapter("numpy").name
    'numpy'
    """
    names = sorted(t for a in adapters().values() for t in a.targets)
    if not isinstance(to, str):
        raise ArgumentError(
            f"{name}: expected one of {', '.join(map(repr, names))}, got {describe_type(to)}: "
            f"{to!r}"
        )
    for adapter in adapters().values():
        if to in adapter.targets:
            reason = adapter.unavailable_reason()
            if reason:
                raise BackendUnavailableError(f"{name}: {to!r} cannot be used here: {reason}")
            return adapter
    raise ArgumentError(f"{name}: expected one of {', '.join(map(repr, names))}, got {to!r}")


def _host_values(src: Any, x: Any) -> Any:
    import numpy as np

    try:
        return np.asarray(src.adapter.to_numpy(x))
    except PortconvError as exc:
        raise type(exc)(f"x: {exc}") from None
    except Exception as exc:  # the library's own refusal, said as its words
        raise ArrayTypeError(
            f"x: {src.name} cannot give the values of this {describe_type(x)} "
            f"({type(exc).__name__}: {exc})"
        ) from None


def convert(x: Any, to: str, device: Any = None, *, copy: bool | None = None) -> Any:
    """``x`` as an array of library ``to``, on ``device``, sharing memory where possible.

    Parameters
    ----------
    x : array
        An array of any registered library (NumPy, PyTorch, MXNet, CuPy, array-api-strict,
        Dask, JAX).
    to : str
        A backend name (:func:`portconv.backend_names`): "numpy", "torch", "mxnet",
        "mxnet.nd", "cupy", "array_api_strict", "dask", "jax".
    device : str or device object, optional
        Where the result lives: a string such as "cpu", "cuda:1" or "gpu:0" (read by the
        target library's adapter, ``Adapter.parse_device``) or one of its device objects.
        Default: where ``x`` is, if the target library has that device.
    copy : bool, optional
        None: share where possible; True: always copy; False: a view or an error.

    Returns
    -------
    array
        An array of library ``to`` with ``x``'s shape, dtype and values.

    Raises
    ------
    ArgumentError
        ``to``, ``device`` or ``copy`` is not allowed (a device this build or machine lacks
        included), or ``copy=False`` cannot be honoured.
    ArrayTypeError
        ``x`` is no array, or one whose values its library cannot hand over (a meta, sparse or
        nested torch tensor, say: the message says what to do).
    BackendUnavailableError
        The target library cannot be imported here.

    Examples
    --------
    >>> import numpy as np, portconv as pc
    >>> pc.convert(np.arange(3.0), "numpy", copy=True)
    array([0., 1., 2.])
    """
    if copy not in (None, True, False):
        raise ArgumentError(f"copy: expected None, True or False, got {copy!r}")
    try:
        src = backend_of(x)
    except PortconvError as exc:
        raise type(exc)(f"x: {exc}") from None
    dst = target_adapter(to)
    dev = dst.parse_device(device)
    if not copy:
        try:
            source = src.adapter.dlpack_source(x)
            if not (src.adapter.dlpack_writable or dst.dlpack_views_read_only):
                source = None  # an immutable array (JAX) must not get a writable view
            if source is not None:
                out = dst.import_dlpack(source, to)
                if dev is None or str(dst.device(out)) == str(dev):
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
    host = _host_values(src, x)
    try:
        return dst.import_numpy(host, dev, to)
    except PortconvError:
        raise
    except Exception as exc:  # a dtype the target lacks, a device that failed
        raise ArrayTypeError(
            f"to: {to} cannot hold this array (dtype {host.dtype}, shape {host.shape}"
            f"{'' if dev is None else f', device {dev}'}): {type(exc).__name__}: {exc}"
        ) from None
