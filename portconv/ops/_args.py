"""Argument checking and normalisation, in one place for every op.

Each function names the argument it checks, the value given and what is allowed, and raises
portconv's own errors (subclasses of ``ValueError``/``TypeError``) before any backend kernel
runs.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

from ..errors import ArgumentError, ArrayTypeError

Pads = tuple[tuple[int, int], ...]


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def int_tuple(name: str, value: Any, d: int, *, minimum: int = 1) -> tuple[int, ...]:
    """An int or a sequence of ``d`` ints, each at least ``minimum``, as a ``d``-tuple."""
    if type(value) is int and value >= minimum:  # the common case, without ABC checks
        return (value,) * d
    if _is_int(value):
        values = (int(value),) * d
    elif isinstance(value, Sequence) and not isinstance(value, str):
        if len(value) != d or not all(_is_int(v) for v in value):
            raise ArgumentError(
                f"{name}: expected an int or a sequence of {d} ints (one per spatial "
                f"dimension), got {value!r}"
            )
        values = tuple(int(v) for v in value)
    else:
        kind = "a bool" if isinstance(value, bool) else f"a {type(value).__name__}"
        raise ArrayTypeError(
            f"{name}: expected an int or a sequence of {d} ints, got {kind}: {value!r}"
        )
    for v in values:
        if v < minimum:
            raise ArgumentError(f"{name}: every value must be at least {minimum}, got {value!r}")
    return values


def same_padding(
    n: Sequence[int], k: Sequence[int], s: Sequence[int], d: Sequence[int], *, lower: bool
) -> Pads:
    """TensorFlow's SAME rule: output size ceil(n / s); the total padding is split in half
    with the odd extra at the end (``lower=False``, SAME_UPPER) or at the beginning
    (``lower=True``, SAME_LOWER, the book's "ceil(p/2) on top")."""
    pads = []
    for ni, ki, si, di in zip(n, k, s, d):
        out = -(-ni // si)
        total = max((out - 1) * si + (ki - 1) * di + 1 - ni, 0)
        small, large = total // 2, total - total // 2
        pads.append((large, small) if lower else (small, large))
    return tuple(pads)


def padding_pairs(
    name: str,
    padding: Any,
    d: int,
    *,
    spatial: Sequence[int],
    kernel: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int],
) -> Pads:
    """Normalise ``padding`` to ``d`` (before, after) pairs.

    Accepted: an int (both sides of every axis); ``d`` ints (both sides, per axis); ``d``
    (before, after) pairs; ``"valid"`` (none); ``"same"``; ``"same_lower"``.
    """
    if type(padding) is int and padding >= 0:  # the common case, without ABC checks
        return ((padding, padding),) * d
    if isinstance(padding, str):
        mode = padding.lower()
        if mode == "valid":
            return ((0, 0),) * d
        if mode in ("same", "same_upper", "same_lower"):
            return same_padding(spatial, kernel, stride, dilation, lower=mode == "same_lower")
        raise ArgumentError(
            f"{name}: expected an int, a tuple, 'valid', 'same' or 'same_lower', got {padding!r}"
        )
    if _is_int(padding):
        pairs = ((int(padding), int(padding)),) * d
    elif isinstance(padding, Sequence) and len(padding) == d and all(_is_int(p) for p in padding):
        pairs = tuple((int(p), int(p)) for p in padding)
    elif (
        isinstance(padding, Sequence)
        and len(padding) == d
        and all(
            isinstance(p, Sequence) and len(p) == 2 and all(_is_int(v) for v in p) for p in padding
        )
    ):
        pairs = tuple((int(p[0]), int(p[1])) for p in padding)
    else:
        raise ArgumentError(
            f"{name}: expected an int, {d} ints, {d} (before, after) pairs, 'valid', 'same' "
            f"or 'same_lower', got {padding!r}"
        )
    for before, after in pairs:
        if before < 0 or after < 0:
            raise ArgumentError(f"{name}: padding must not be negative, got {padding!r}")
    return pairs


def output_size(
    n: int, k: int, s: int, d: int, before: int, after: int, *, ceil: bool = False
) -> int:
    """The number of window positions along one axis: floor((n + p - d*(k-1) - 1) / s) + 1,
    which is the book's floor((n - k + p + s) / s) for dilation 1."""
    span = n + before + after - d * (k - 1) - 1
    if span < 0:
        return 0
    return (-(-span // s) if ceil else span // s) + 1


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
    return xp.finfo(dtype).bits // 8


#: an op refuses, before allocating, any array it would build (the padded input, the result)
#: larger than this many times ``portconv.config(memory_budget=...)`` (16 GiB by default):
#: such sizes come from a mistyped padding, stride or output size, not from a real model
HUGE_FACTOR = 64


#: the budget whole arrays of chunked libraries (Dask) are held to: their calls compute chunk
#: by chunk (each chunk's call checks its own sizes), so only sizes beyond any cluster's
#: memory (HUGE_FACTOR x 16 TiB = 1 PiB) are taken for a mistyped argument
CHUNKED_BUDGET = 2**44


def whole_array_budget(be: Any) -> int:
    """The memory budget that whole-array sizes are held to on backend ``be``:
    ``portconv.config(memory_budget=...)``, or CHUNKED_BUDGET for chunked libraries."""
    from .._config import memory_budget

    return CHUNKED_BUDGET if getattr(be.adapter, "chunked", False) else memory_budget()


def refuse_huge(name: str, what: str, nbytes: int, budget: int) -> None:
    """Raise an ``ArgumentError`` naming ``name`` when ``nbytes`` exceeds HUGE_FACTOR x budget."""
    if nbytes > HUGE_FACTOR * budget:
        raise ArgumentError(
            f"{name}: {what} would need {nbytes} bytes, more than {HUGE_FACTOR} times the "
            f"memory budget of {budget} bytes; check the argument, or raise the budget with "
            f"portconv.config(memory_budget=...)"
        )
