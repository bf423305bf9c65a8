"""Argument checking shared by every op: ints and int tuples, layouts, Gluon's aliases, and
memory limits (the padding and output-size rules live in :mod:`portconv.ops._call`).

Each function names the argument it checks, the value given and what is allowed, and raises
portconv's own errors (subclasses of ``ValueError``/``TypeError``) before any backend kernel
runs.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

from ..errors import ArgumentError, ArrayTypeError


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def int_tuple(name: str, value: Any, d: int, *, minimum: int = 1) -> tuple[int, ...]:
    """An int or a sequence of ``d`` ints, each at least ``minimum``, as a ``d``-tuple (a
    sequence of one int stands for every axis, as in PyTorch: ``stride=(2,)``)."""
    if type(value) is int and value >= minimum:  # the common case, without ABC checks
        return (value,) * d
    if _is_int(value):
        values = (int(value),) * d
    elif isinstance(value, Sequence) and not isinstance(value, str):
        items = tuple(value) * d if len(value) == 1 else tuple(value)
        if len(items) != d or not all(_is_int(v) for v in items):
            raise ArgumentError(
                f"{name}: expected an int or a sequence of {d} ints (one per spatial "
                f"dimension), got {value!r}"
            )
        values = tuple(int(v) for v in items)
    else:
        kind = "a bool" if isinstance(value, bool) else f"a {type(value).__name__}"
        raise ArrayTypeError(
            f"{name}: expected an int or a sequence of {d} ints, got {kind}: {value!r}"
        )
    for v in values:
        if v < minimum:
            raise ArgumentError(f"{name}: every value must be at least {minimum}, got {value!r}")
    return values


#: the names of the spatial axes, for error messages
SPATIAL_NAMES = {1: ("W",), 2: ("H", "W"), 3: ("D", "H", "W")}

# layout string (lower case) -> (channels_last, number of spatial dimensions or None for any)
_LAYOUTS: dict[str, tuple[bool, int | None]] = {
    "channels_first": (False, None),
    "channels_last": (True, None),
    "ncw": (False, 1),
    "nchw": (False, 2),
    "ncdhw": (False, 3),
    "nwc": (True, 1),
    "nhwc": (True, 2),
    "ndhwc": (True, 3),
}


def channels_last(layout: Any, d: int | None, what: str) -> bool:
    """True for a channels-last ``layout``; checks that an explicit layout such as "NHWC"
    fits the ``d`` spatial dimensions of the ``what`` ("convolution", "pooling")."""
    entry = _LAYOUTS.get(layout.lower()) if isinstance(layout, str) else None
    if entry is None:
        raise ArgumentError(
            f"layout: expected 'channels_first' or 'channels_last' (or one of 'NCW', 'NCHW', "
            f"'NCDHW', 'NWC', 'NHWC', 'NDHWC'), got {layout!r}"
        )
    last, dims = entry
    if dims is not None and d is not None and dims != d:
        raise ArgumentError(
            f"layout: {layout!r} is a layout for {dims} spatial dimension(s), but this "
            f"{what} has {d}"
        )
    return last


def gluon_alias(name: str, value: Any, alias: str, alias_value: Any, default: Any = None) -> Any:
    """The value of an argument that may also be given under its Gluon name (``strides=``
    for ``stride=``, ``pool_size=`` for ``kernel_size=``). An explicit value equal to the
    default cannot be told from the default, so the alias wins there."""
    if alias_value is None:
        return value
    if value is not default and value != default:
        raise ArgumentError(
            f"{alias}: give the argument once, as {name}= (PyTorch) or {alias}= (Gluon), not "
            f"both; got {name}={value!r} and {alias}={alias_value!r}"
        )
    return alias_value


def itemsize(xp: Any, dtype: Any) -> int:
    """Bytes per element of ``dtype`` (for memory budgets)."""
    size = getattr(dtype, "itemsize", None)  # NumPy, MXNet and PyTorch dtypes know it
    if isinstance(size, int) and size > 0:
        return size
    if xp.isdtype(dtype, "integral"):  # integer max pooling and ONNX's integer convolutions
        return xp.iinfo(dtype).bits // 8
    return xp.finfo(dtype).bits // 8


#: an op refuses, before allocating, any whole array it would build (the padded input, the
#: result) larger than this many times ``portconv.config(memory_budget=...)``, and never below
#: MIN_WHOLE_ARRAY_LIMIT: such sizes come from a mistyped padding, stride or output size, not
#: from a real model
HUGE_FACTOR = 64

#: the smallest limit on whole arrays, whatever the budget for temporary buffers: 16 GiB
MIN_WHOLE_ARRAY_LIMIT = 16 * 2**30

#: the limit on whole arrays of chunked libraries (Dask): their calls compute chunk by chunk
#: (each chunk's call checks its own sizes), so only sizes beyond any cluster's memory (1 PiB)
#: are taken for a mistyped argument
CHUNKED_LIMIT = 2**50


def whole_array_limit(be: Any = None) -> int:
    """The bytes a whole array built by one call may hold on backend ``be``: HUGE_FACTOR x
    ``portconv.config(memory_budget=...)``, at least MIN_WHOLE_ARRAY_LIMIT; CHUNKED_LIMIT
    for chunked libraries."""
    from .._config import memory_budget

    if be is not None and getattr(be.adapter, "chunked", False):
        return CHUNKED_LIMIT
    return max(HUGE_FACTOR * memory_budget(), MIN_WHOLE_ARRAY_LIMIT)


def refuse_huge(name: str, what: str, nbytes: int, limit: int) -> None:
    """Raise an ``ArgumentError`` naming ``name`` when ``nbytes`` exceeds ``limit`` (see
    :func:`whole_array_limit`)."""
    if nbytes > limit:
        raise ArgumentError(
            f"{name}: {what} would need {nbytes} bytes, more than the {limit} bytes one call "
            f"may build ({HUGE_FACTOR} times the memory budget, at least "
            f"{MIN_WHOLE_ARRAY_LIMIT // 2**30} GiB); check the argument, or raise the budget "
            f"with portconv.config(memory_budget=...)"
        )
