"""What every op does first: find the backend of its arrays, view them as the standard's
arrays, and check dtypes; and last: hand the result back in the caller's array type."""

from __future__ import annotations

import contextlib
from typing import Any

from .._config import check_path, current_path, memory_budget
from .._dispatch import Backend, _is_scalar, _owner, _owner_by_type, backend_of
from ..errors import ArgumentError, ArrayTypeError, describe_type

_FLOAT_KINDS = "real floating"


def prepare(*arrays: Any, names: tuple[str, ...] = ()) -> tuple[Backend, Any, list[Any]]:
    """``(backend, xp, arrays as standard arrays)`` for the arrays of one call.

    ``names`` (one per array, when given) lets a missing or scalar argument be named: None is
    allowed only for ``"bias"``, and no argument may be a Python or NumPy scalar."""
    for name, a in zip(names, arrays):
        if (a is None and name != "bias") or (a is not None and _is_scalar(a)):
            what = "None" if a is None else f"a {describe_type(a)} scalar ({a!r})"
            optional = " or None" if name == "bias" else ""
            raise ArrayTypeError(f"{name}: expected an array{optional}, got {what}")
    be = backend_of(*arrays)
    ad = be.adapter
    return be, ad.namespace(), [None if a is None else ad.to_standard(a) for a in arrays]


#: (type, dtype) pairs known to be real floating (``xp.isdtype`` costs about a microsecond)
_float_dtypes: set = set()


def require_float(xp: Any, name: str, x: Any) -> None:
    """Raise a clear error unless ``x`` has a real floating dtype."""
    dtype = x.dtype
    key = (type(dtype), dtype)  # the type first: dtypes of two libraries never compare
    try:
        if key in _float_dtypes:
            return
    except TypeError:  # an unhashable dtype: ask every time
        pass
    if xp.isdtype(dtype, _FLOAT_KINDS):
        with contextlib.suppress(TypeError):  # unhashable: not remembered
            _float_dtypes.add(key)
        return
    raise ArrayTypeError(
        f"{name}: expected a real floating-point array (float16, bfloat16, float32 or "
        f"float64), got dtype {x.dtype}; cast it first, for example with "
        f"x.astype('float32') (NumPy, CuPy, MXNet) or x.float() (PyTorch)"
    )


def require_ndim(name: str, x: Any, allowed: tuple[int, ...], meaning: str) -> None:
    if x.ndim not in allowed:
        allowed_txt = " or ".join(str(n) for n in allowed)
        raise ArgumentError(
            f"{name}: expected a {allowed_txt}-dimensional array ({meaning}), "
            f"got shape {tuple(x.shape)} ({x.ndim} dimensions)"
        )


def run_path(
    be: Backend, op: str, path: str | None, native_args: tuple, generic, **kwargs: Any
) -> Any:
    """Run ``op`` on the backend's native kernel where allowed and able, else ``generic``.

    ``path`` (or, when None, the ``portconv.config(path=...)`` in force) is "auto": native
    when the adapter has a native path whose ``can_run(**kwargs)`` is true; "generic": always
    ``generic(*native_args, **kwargs)``; "native": the native path or an error saying why not.
    """
    mode = current_path() if path is None else check_path(path)
    if mode != "generic":
        native = be.adapter.native.get(op)
        if native is not None and native.can_run(**kwargs):
            return native.run(*native_args, **kwargs)
        if mode == "native":
            why = "has no native kernel" if native is None else "cannot compute exactly"
            raise ArgumentError(
                f"path: 'native' was asked for, but the {be.name} backend {why} for {op} "
                f"with {kwargs}; use path='auto' or 'generic'"
            )
    return generic(*native_args, **kwargs)


class FastLane:
    """Calls that repeat an earlier successful call's argument types, shapes, dtypes, devices
    and other arguments (under the same ``portconv.config``) skip checking and normalising
    them again: the first call stores what it would run (:func:`runner`), keyed on all of
    that, and the next ones run it directly. On the book's 6x8 image (W1) this is most of a
    native call's time: about 36 us of Python around a 4.5 us ``F.conv2d`` (one thread).

    Only calls that succeeded are stored, so a bad call is checked, and refused, every time.
    The table is bounded (cleared when full) and safe to use from several threads."""

    def __init__(self, size: int = 512) -> None:
        self._entries: dict = {}
        self._size = size

    def key(self, arrays: tuple, args: tuple) -> Any:
        """The key of a call, or None where one cannot be made (an argument that is no array
        of a registered library, an unhashable argument such as a list)."""
        parts = []
        for a in arrays:
            if a is None:
                parts.append(None)
                continue
            ad = _owner_by_type.get(type(a)) or _owner(a)
            if ad is None:  # no array: the checks will say so
                return None
            parts.append((type(a), a.shape, a.dtype, ad.device(a)))
        key = (tuple(parts), args, current_path(), memory_budget())
        try:
            hash(key)
        except TypeError:
            return None
        return key

    def get(self, key: Any) -> Any:
        return self._entries.get(key)

    def put(self, key: Any, run: Any) -> None:
        if len(self._entries) >= self._size:
            self._entries.clear()
        self._entries[key] = run


def runner(be: Backend, op: str, path: str | None, generic, kwargs: dict):
    """``run(*arrays)``: what :func:`run_path` computes for these normalised arguments, on
    new arrays of the same types (the caller's array type in, and out)."""
    ad = be.adapter

    def run(*arrays: Any) -> Any:
        std = tuple(None if a is None else ad.to_standard(a) for a in arrays)
        return ad.from_standard(run_path(be, op, path, std, generic, **kwargs), arrays[0])

    return run
