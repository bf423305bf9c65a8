"""Pooling, written once against the array API standard.

Public ops (names and argument orders of ``torch.nn.functional``; Gluon's ``pool_size=`` and
``strides=`` are accepted as aliases)::

    max_pool1d/2d/3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False)
    avg_pool1d/2d/3d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
                     count_include_pad=True)
    max_pool / avg_pool                 # the same for 1 to 3 spatial dimensions
    adaptive_max_pool1d/2d/3d(input, output_size), adaptive_avg_pool1d/2d/3d(...)
    global_max_pool(input), global_avg_pool(input)     # spatial dimensions kept, as size 1
    pool2d(X, pool_size, mode="max")    # the book's 2-D pooling (5.5.1 / 7.5.1)
    pool_output_shape(input_size, kernel_size, ...)

Semantics (the same on every backend; native kernels run only where they compute exactly this):

* **Windows.** Along each spatial axis of size ``n`` with padding ``(before, after)``, window
  ``i`` covers the input positions ``i*stride - before + j*dilation`` for ``j < kernel``.
  Positions in ``[0, n)`` are the input; positions in ``[-before, 0)`` and ``[n, n + after)``
  are the padding; positions at ``n + after`` or beyond (only ceil/full outputs reach them)
  lie past the padded input.
* **Padding** is an int, one int per axis, one ``(before, after)`` pair per axis, ``"valid"``
  or ``"same"``/``"same_lower"`` (TensorFlow's SAME: output ``ceil(n / stride)``). Any padding
  smaller than the window span ``dilation*(kernel-1) + 1`` is accepted on both sides, as in
  MXNet (PyTorch refuses more than half the kernel; such calls run the generic path there).
* **Output size.** ``"valid"`` (default): ``floor((n + before + after - span) / stride) + 1``,
  the book's ``floor((n - k + p + s) / s)``. ``ceil_mode=True`` is PyTorch's: the same with
  ``ceil``, minus the last window when it would start at or beyond ``n + before`` (entirely
  in the right padding). ``pooling_convention="full"`` is MXNet's (Caffe's): the same with
  ``ceil`` and no such rule, so it can have one window more than ``ceil_mode=True``.
* **Max pooling** pads with ``-inf``: positions in the padding or past the padded input never
  win; a window that holds no input element at all (possible only with dilation or with
  ``"full"``) gives ``-inf`` (MXNet's kernel returns the dtype's lowest finite value there;
  portconv does not). NaN propagates as in PyTorch: a window containing a NaN gives NaN.
* **Average pooling** divides the sum of the window's input elements by a count:
  ``count_include_pad=True`` (default, both frameworks) counts the window's positions inside
  the padded input (``[-before, n + after)``; positions past it, which only ceil/full windows
  reach, are not counted, as in PyTorch and MXNet); ``count_include_pad=False`` counts only
  positions inside the input. With ``padding="same"`` the padding is never counted (as
  TensorFlow), whatever ``count_include_pad`` says. A window whose count is zero (possible
  only with ``"full"``) averages to 0, as MXNet's 1-D and 2-D kernels give (its 3-D kernel
  gives 0/0 = NaN there).
* **Adaptive pooling** uses PyTorch's windows: output ``i`` of ``o`` along an axis of size
  ``n`` covers ``[floor(i*n/o), ceil((i+1)*n/o))``.

Layouts: channels first ``(N, C, *spatial)`` or unbatched ``(C, *spatial)`` by default;
``layout="channels_last"`` (or ``"NWC"``, ``"NHWC"``, ``"NDHWC"``) for ``(N, *spatial, C)``.
The result has the input's library, array type (legacy ``mx.nd`` in, ``mx.nd`` out), dtype
and device.

The generic path pads explicitly (:func:`portconv._windows.pad`) and combines the strided
windows of every kernel offset with a running maximum or sum (:func:`portconv._windows.reduce`),
a tile of examples (or channels) at a time so that the padded copy stays within
``portconv.config(memory_budget=...)``. It uses only functions of the array API standard and
writes into no existing array, so torch autograd and ``mxnet.autograd.record()`` differentiate
through it.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

from .. import _windows
from .._config import memory_budget
from ..errors import ArgumentError, ArrayTypeError
from ._args import (
    SPATIAL_NAMES,
    _is_int,
    channels_last,
    gluon_alias,
    int_tuple,
    itemsize,
    padding_pairs,
    refuse_huge,
    whole_array_budget,
)
from ._common import prepare, require_float, require_ndim, run_path

__all__ = [
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_avg_pool3d",
    "adaptive_max_pool1d",
    "adaptive_max_pool2d",
    "adaptive_max_pool3d",
    "avg_pool",
    "avg_pool1d",
    "avg_pool2d",
    "avg_pool3d",
    "global_avg_pool",
    "global_max_pool",
    "max_pool",
    "max_pool1d",
    "max_pool2d",
    "max_pool3d",
    "pool2d",
    "pool_output_shape",
]


_CONVENTIONS = ("valid", "full")


# -- argument checking ------------------------------------------------------------------------


def _shape_text(d: int, last: bool, batched_only: bool = False) -> str:
    sp = ", ".join(SPATIAL_NAMES[d])
    if last:
        return f"(N, {sp}, C)" + ("" if batched_only else f" or unbatched ({sp}, C)")
    return f"(N, C, {sp})" + ("" if batched_only else f" or unbatched (C, {sp})")


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ArrayTypeError(f"{name}: expected True or False, got {value!r}")
    return value


def _mode(ceil_mode: Any, pooling_convention: Any) -> str:
    """ "floor", "ceil" (PyTorch's ceil_mode) or "full" (MXNet's pooling_convention)."""
    ceil = _flag("ceil_mode", ceil_mode)
    conv = pooling_convention.lower() if isinstance(pooling_convention, str) else None
    if conv not in _CONVENTIONS:
        raise ArgumentError(
            f"pooling_convention: expected 'valid' or 'full' (MXNet's conventions; for "
            f"PyTorch's rounding up use ceil_mode=True, for TensorFlow's SAME use "
            f"padding='same'), got {pooling_convention!r}"
        )
    if conv == "full":
        if ceil:
            raise ArgumentError(
                "ceil_mode: ceil_mode=True (PyTorch's rounding up) and "
                "pooling_convention='full' (MXNet's) are two different rules; choose one"
            )
        return "full"
    return "ceil" if ceil else "floor"


def _output_size(n: int, k: int, s: int, dil: int, before: int, after: int, mode: str) -> int:
    """Window positions along one axis (see the module docstring)."""
    span = n + before + after - dil * (k - 1) - 1
    if span < 0:
        return 0
    if mode == "floor":
        return span // s + 1
    out = -(-span // s) + 1
    if mode == "ceil" and (out - 1) * s >= n + before:
        out -= 1  # PyTorch: the last window must start inside the input or the left padding
    return out


def _check_padding(pads, kernel, dilation, padding) -> None:
    for (before, after), k, dil in zip(pads, kernel, dilation):
        span = dil * (k - 1) + 1
        if before >= span or after >= span:
            raise ArgumentError(
                f"padding: must be smaller than the pooling window on each side (window span "
                f"{span} = dilation*(kernel-1)+1 for kernel {tuple(kernel)}, dilation "
                f"{tuple(dilation)}), got {padding!r}"
            )


def _normalise(
    d: int,
    spatial: Sequence[int],
    kernel_size: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    mode: str,
):
    """``(kernel, stride, pads, dilation, out)`` after every check."""
    kernel = int_tuple("kernel_size", kernel_size, d)
    stride = kernel if stride is None else int_tuple("stride", stride, d)
    dilation = int_tuple("dilation", dilation, d)
    pads = padding_pairs(
        "padding", padding, d, spatial=spatial, kernel=kernel, stride=stride, dilation=dilation
    )
    _check_padding(pads, kernel, dilation, padding)
    out = tuple(
        _output_size(n, k, s, dil, b, a, mode)
        for n, k, s, dil, (b, a) in zip(spatial, kernel, stride, dilation, pads)
    )
    if min(out) < 1:
        span = tuple(dil * (k - 1) + 1 for k, dil in zip(kernel, dilation))
        padded = tuple(n + b + a for n, (b, a) in zip(spatial, pads))
        raise ArgumentError(
            f"kernel_size: the pooling window {kernel} (span {span} with dilation {dilation}) "
            f"is larger than the padded input {padded} (input {tuple(spatial)}, padding "
            f"{pads}) along some axis, so the output would be empty; use a smaller window or "
            f"more padding"
        )
    return kernel, stride, pads, dilation, out


def _is_same(padding: Any) -> bool:
    return isinstance(padding, str) and padding.lower().startswith("same")


# -- the generic path -------------------------------------------------------------------------


def _axis_counts(n, k, s, dil, before, after, out, count) -> list[int] | None:
    """How many positions of each window along one axis the average divides by, or None when
    every window counts all ``k`` of its positions."""
    lo, hi = (-before, n + after) if count == "padded" else (0, n)
    first, last = -before, (out - 1) * s - before + dil * (k - 1)
    if first >= lo and last < hi:
        return None
    counts = []
    for i in range(out):
        start = i * s - before
        j_min = max(0, -((start - lo) // dil))  # smallest j with start + j*dil >= lo
        j_max = min(k - 1, (hi - 1 - start) // dil)  # largest j with start + j*dil < hi
        counts.append(max(0, j_max - j_min + 1))
    return counts


def _divisor(xp, device, dtype, size, kernel, stride, dilation, pads, out, count):
    """The average's divisor: a Python number, or an array of shape ``out``."""
    per_axis = [
        _axis_counts(n, k, s, dil, b, a, o, count)
        for n, k, s, dil, (b, a), o in zip(size, kernel, stride, dilation, pads, out)
    ]
    if all(c is None for c in per_axis):
        return float(math.prod(kernel))
    d = len(kernel)
    div: Any = 1.0
    for i, (c, k) in enumerate(zip(per_axis, kernel)):
        if c is None:
            div = div * float(k)
            continue
        # a window that counts nothing holds only zeros: 0 / 1 = 0, as MXNet gives
        arr = xp.asarray([float(max(v, 1)) for v in c], dtype=dtype, device=device)
        arr = xp.reshape(arr, (len(c),) + (1,) * (d - 1 - i))
        div = arr * div
    return div


def _running_max(xp):
    """``combine(acc, w)`` for a running maximum over kernel offsets (row-major order) that
    keeps the first maximum on ties and lets NaN through: a ``where``, not ``maximum``, so that
    a framework's autograd (torch's splits ties evenly in ``maximum``) routes the gradient to
    that one element, as ``F.max_pool2d`` and MXNet's pooling do."""

    def combine(acc, w):
        return xp.where((w > acc) | xp.isnan(w), w, acc)

    return combine


def _first_max(xp, y, axis: int, keepdims: bool = False):
    """The maximum along ``axis``, taken from the first element that attains it (NaN if any
    element is NaN): as differentiable by native autograd as max pooling is, the gradient going
    to that first element only."""
    m = xp.max(y, axis=axis, keepdims=True)
    hit = y == m
    first = hit & (xp.cumulative_sum(xp.astype(hit, xp.int32), axis=axis) == 1)
    # one element per slice survives; a max (not a sum: MXNet sums -inf + 0 to NaN) picks it
    r = xp.max(xp.where(first, y, xp.full_like(y, float("-inf"))), axis=axis, keepdims=True)
    r = xp.where(xp.isnan(m), m, r)
    return r if keepdims else xp.squeeze(r, axis=axis)


def _box_max(xp, y, axes, keepdims: bool):
    """The maximum over several axes, the first in row-major order on ties (so the last axis
    is reduced first)."""
    for a in sorted(axes, reverse=True):
        y = _first_max(xp, y, a, keepdims=True)
    return y if keepdims else xp.squeeze(y, axis=tuple(axes))


def _generic(
    xp, kind, x, *, kernel, stride, padding, dilation, mode, out, size, device, count=None, **_
):
    """Pooling of a channels-first, batched array with the standard's functions only."""
    # ceil/full windows may reach past the padded input: pad a little more at the end (the
    # filler never wins a max and adds nothing to a sum, and the count leaves it out)
    pads = []
    for n, k, s, dil, (b, a), o in zip(size, kernel, stride, dilation, padding, out):
        need = (o - 1) * s + dil * (k - 1) + 1 - (n + b + a)
        pads.append((b, a + max(need, 0)))
    fill = float("-inf") if kind == "max" else 0.0
    combine = _running_max(xp) if kind == "max" else (lambda acc, w: acc + w)

    def pool(xt):
        xt = _windows.pad(xp, xt, pads, fill, device)
        return _windows.reduce(xt, kernel, stride, dilation, out, combine)

    n_ex, chans = x.shape[0], x.shape[1]
    padded_plane = math.prod(n + b + a for n, (b, a) in zip(size, pads))
    per_channel = padded_plane * itemsize(xp, x.dtype)
    budget = memory_budget()
    if any(p != (0, 0) for p in pads) and n_ex * chans * per_channel > budget:
        # the padded copy would exceed the budget: pool a tile of examples (or channels)
        pieces = []
        if chans * per_channel <= budget:
            for a, z in _windows.tiles(n_ex, chans * per_channel, budget):
                pieces.append(pool(x[a:z, ...]))
            y = xp.concat(pieces, axis=0)
        else:
            for e in range(n_ex):
                row = [
                    pool(x[e : e + 1, a:z, ...])
                    for a, z in _windows.tiles(chans, per_channel, budget)
                ]
                pieces.append(row[0] if len(row) == 1 else xp.concat(row, axis=1))
            y = pieces[0] if len(pieces) == 1 else xp.concat(pieces, axis=0)
    else:
        y = pool(x)
    if kind == "max":
        if math.prod(kernel) == 1:
            y = xp.asarray(y, copy=True)  # a strided view of the input: never hand that out
        return y
    return y / _divisor(xp, device, x.dtype, size, kernel, stride, dilation, padding, out, count)


# -- the shared front end ---------------------------------------------------------------------


def _as_batched_cf(xp, x, d: int, last: bool):
    batched = x.ndim == d + 2
    if not batched:
        x = xp.expand_dims(x, axis=0)
    if last:  # (N, *spatial, C) -> (N, C, *spatial)
        x = xp.permute_dims(x, (0, d + 1) + tuple(range(1, d + 1)))
    return x, batched


def _back(xp, y, d: int, last: bool, batched: bool):
    if last:
        y = xp.permute_dims(y, (0,) + tuple(range(2, d + 2)) + (1,))
    if not batched:
        y = y[0, ...]
    return y


def _pool(
    kind: str,
    input: Any,
    kernel_size: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    ceil_mode: Any,
    count_include_pad: Any,
    pooling_convention: Any,
    layout: Any,
    path: Any,
    d: int | None,
) -> Any:
    mode = _mode(ceil_mode, pooling_convention)
    if kind == "avg":
        count_include_pad = _flag("count_include_pad", count_include_pad)
    be, xp, (x,) = prepare(input, names=("input",))
    if d is None:
        d = _spatial_dims(kernel_size, x)
    last = channels_last(layout, d, "pooling")
    require_ndim("input", x, (d + 1, d + 2), _shape_text(d, last))
    require_float(xp, "input", x)
    spatial = tuple(x.shape[-d - 1 : -1] if last else x.shape[-d:])
    kernel, stride, pads, dilation, out = _normalise(
        d, spatial, kernel_size, stride, padding, dilation, mode
    )
    per_plane = max(math.prod(x.shape) // max(math.prod(spatial), 1), 1) * itemsize(xp, x.dtype)
    refuse_huge(
        "padding",
        f"the padded input {tuple(n + b + a for n, (b, a) in zip(spatial, pads))} (shape "
        f"{tuple(x.shape)})",
        math.prod(n + b + a + s * k for n, (b, a), s, k in zip(spatial, pads, stride, kernel))
        * per_plane,
        whole_array_budget(be),
    )
    count = None
    if kind == "avg":
        count = "padded" if count_include_pad and not _is_same(padding) else "input"
    xb, batched = _as_batched_cf(xp, x, d, last)
    y = _dispatch(kind, be, xp, xb, kernel, stride, pads, dilation, mode, count, out, path)
    return be.adapter.from_standard(_back(xp, y, d, last, batched), input)


def _spatial_dims(kernel_size: Any, x: Any) -> int:
    """The number of spatial dimensions of a general max_pool/avg_pool call."""
    if isinstance(kernel_size, Sequence) and not isinstance(kernel_size, str):
        d = len(kernel_size)
    else:
        d = getattr(x, "ndim", 0) - 2
    if d not in (1, 2, 3):
        raise ArgumentError(
            f"kernel_size: pooling has 1 to 3 spatial dimensions; give kernel_size one int "
            f"per spatial axis (an int alone means input.ndim - 2 = {d} axes), got "
            f"{kernel_size!r} for an input of shape {tuple(getattr(x, 'shape', ()))}"
        )
    return d


def _dispatch(kind, be, xp, x, kernel, stride, pads, dilation, mode, count, out, path):
    """Run a checked, channels-first, batched pooling on the native or the generic path."""
    size = tuple(x.shape[2:])
    if x.shape[0] == 0 or x.shape[1] == 0:  # nothing to pool (torch's kernels refuse C = 0)
        return xp.zeros(tuple(x.shape[:2]) + tuple(out), dtype=x.dtype, device=be.device)
    generic = functools.partial(_generic, xp, kind)
    extra = {} if count is None else {"count": count}
    return run_path(
        be,
        f"{kind}_pool",
        path,
        (x,),
        generic,
        kernel=kernel,
        stride=stride,
        padding=pads,
        dilation=dilation,
        mode=mode,
        out=out,
        size=size,
        dtype=x.dtype,
        device=be.device,
        **extra,
    )


# -- public ops: max and average pooling --------------------------------------------------------


def _kernel_arg(op: str, kernel_size: Any, pool_size: Any) -> Any:
    kernel_size = gluon_alias("kernel_size", kernel_size, "pool_size", pool_size)
    if kernel_size is None:
        raise ArrayTypeError(
            f"{op}() missing required argument 'kernel_size' (or its Gluon spelling "
            f"'pool_size'): the pooling window, an int or one int per spatial axis"
        )
    return kernel_size


def max_pool(
    input: Any,
    kernel_size: Any = None,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    *,
    pooling_convention: str = "valid",
    layout: str = "channels_first",
    path: str | None = None,
    pool_size: Any = None,
    strides: Any = None,
) -> Any:
    """Max pooling over 1 to 3 spatial dimensions (as many as ``kernel_size`` has ints; an
    int alone means ``input.ndim - 2``, a batched input).

    ``input``: ``(N, C, *spatial)`` or unbatched ``(C, *spatial)``, a real floating dtype
    (``(N, *spatial, C)`` with ``layout="channels_last"``). ``kernel_size`` (Gluon:
    ``pool_size``), ``stride`` (Gluon: ``strides``; default: the kernel size) and
    ``dilation``: an int or one int per axis. ``padding``: an int, one int per axis,
    ``(before, after)`` pairs, ``"valid"`` or ``"same"``; any amount smaller than the window
    span on each side, padded with ``-inf``. ``ceil_mode=True``: PyTorch's rounding up of
    the output size; ``pooling_convention="full"``: MXNet's (see the module docstring for how
    the two differ). A window containing NaN gives NaN; a window with no input element gives
    ``-inf``. ``path``: None (the ``portconv.config`` in force), "auto", "generic" or
    "native".
    """
    kernel_size = _kernel_arg("max_pool", kernel_size, pool_size)
    stride = gluon_alias("stride", stride, "strides", strides)
    return _pool(
        "max",
        input,
        kernel_size,
        stride,
        padding,
        dilation,
        ceil_mode,
        None,
        pooling_convention,
        layout,
        path,
        None,
    )


def avg_pool(
    input: Any,
    kernel_size: Any = None,
    stride: Any = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    *,
    pooling_convention: str = "valid",
    layout: str = "channels_first",
    path: str | None = None,
    pool_size: Any = None,
    strides: Any = None,
) -> Any:
    """Average pooling over 1 to 3 spatial dimensions (arguments as :func:`max_pool`, without
    dilation, which neither PyTorch nor MXNet offers for it).

    The sum of the window's input elements (padding adds zeros) is divided by a count:
    ``count_include_pad=True`` counts the window's positions inside the padded input, so the
    padding is counted but positions past it (ceil/full windows) are not, exactly as
    PyTorch's ``ceil_mode`` and MXNet's ``"full"`` kernels divide; ``False`` counts only the
    input's elements. ``padding="same"`` never counts the padding (TensorFlow's rule). A
    window whose count is zero (only with ``"full"``) gives 0, as in MXNet.
    """
    kernel_size = _kernel_arg("avg_pool", kernel_size, pool_size)
    stride = gluon_alias("stride", stride, "strides", strides)
    return _pool(
        "avg",
        input,
        kernel_size,
        stride,
        padding,
        1,
        ceil_mode,
        count_include_pad,
        pooling_convention,
        layout,
        path,
        None,
    )


def _fixed_max(d: int):
    def op(
        input: Any,
        kernel_size: Any = None,
        stride: Any = None,
        padding: Any = 0,
        dilation: Any = 1,
        ceil_mode: bool = False,
        *,
        pooling_convention: str = "valid",
        layout: str = "channels_first",
        path: str | None = None,
        pool_size: Any = None,
        strides: Any = None,
    ) -> Any:
        kernel_size = _kernel_arg(f"max_pool{d}d", kernel_size, pool_size)
        stride = gluon_alias("stride", stride, "strides", strides)
        return _pool(
            "max",
            input,
            kernel_size,
            stride,
            padding,
            dilation,
            ceil_mode,
            None,
            pooling_convention,
            layout,
            path,
            d,
        )

    names = ", ".join(SPATIAL_NAMES[d])
    op.__name__ = op.__qualname__ = f"max_pool{d}d"
    op.__module__ = __name__
    op.__doc__ = (
        f"{d}-D max pooling: :func:`max_pool` for input (N, C, {names}) or unbatched "
        f"(C, {names}) (same arguments as ``torch.nn.functional.max_pool{d}d``, plus "
        f"``pooling_convention``, ``layout``, ``path`` and Gluon's ``pool_size``/``strides``)."
    )
    return op


def _fixed_avg(d: int):
    def op(
        input: Any,
        kernel_size: Any = None,
        stride: Any = None,
        padding: Any = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        *,
        pooling_convention: str = "valid",
        layout: str = "channels_first",
        path: str | None = None,
        pool_size: Any = None,
        strides: Any = None,
    ) -> Any:
        kernel_size = _kernel_arg(f"avg_pool{d}d", kernel_size, pool_size)
        stride = gluon_alias("stride", stride, "strides", strides)
        return _pool(
            "avg",
            input,
            kernel_size,
            stride,
            padding,
            1,
            ceil_mode,
            count_include_pad,
            pooling_convention,
            layout,
            path,
            d,
        )

    names = ", ".join(SPATIAL_NAMES[d])
    op.__name__ = op.__qualname__ = f"avg_pool{d}d"
    op.__module__ = __name__
    op.__doc__ = (
        f"{d}-D average pooling: :func:`avg_pool` for input (N, C, {names}) or unbatched "
        f"(C, {names}) (same arguments as ``torch.nn.functional.avg_pool{d}d``, plus "
        f"``pooling_convention``, ``layout``, ``path`` and Gluon's ``pool_size``/``strides``)."
    )
    return op


max_pool1d, max_pool2d, max_pool3d = _fixed_max(1), _fixed_max(2), _fixed_max(3)
avg_pool1d, avg_pool2d, avg_pool3d = _fixed_avg(1), _fixed_avg(2), _fixed_avg(3)


# -- adaptive and global pooling ----------------------------------------------------------------


def _output_size_arg(output_size: Any, d: int, spatial: Sequence[int]) -> tuple[int, ...]:
    """``output_size``: an int or ``d`` entries, each an int >= 1 or None (keep the input's
    size along that axis, as PyTorch)."""
    if _is_int(output_size):
        values: tuple = (output_size,) * d
    elif isinstance(output_size, Sequence) and not isinstance(output_size, str):
        values = tuple(output_size)
        if len(values) != d:
            raise ArgumentError(
                f"output_size: expected an int or {d} ints (one per spatial axis), got "
                f"{output_size!r}"
            )
    else:
        raise ArrayTypeError(
            f"output_size: expected an int or {d} ints (None keeps an axis), got {output_size!r}"
        )
    out = []
    for v, n in zip(values, spatial):
        if v is None:
            out.append(int(n))
        elif not _is_int(v) or v < 1:
            raise ArgumentError(
                f"output_size: every entry must be an int of at least 1 (or None), got "
                f"{output_size!r}"
            )
        else:
            out.append(int(v))
    return tuple(out)


def _adaptive_generic(xp, kind, x, *, out, **_):
    """Adaptive pooling of a channels-first batched array, one spatial axis at a time (max
    and mean over a box are the max and mean of per-axis maxima and means)."""
    if kind == "max":

        def reduce(a, axis, keepdims=False):
            return _first_max(xp, a, axis, keepdims)
    else:
        reduce = xp.mean
    y = x
    # the last axis first: with the first maximum kept per axis, that is the box's first
    # maximum in row-major order
    for i, o in reversed(list(enumerate(out))):
        axis = 2 + i
        n = y.shape[axis]
        if n == o:
            continue
        if n % o == 0:  # equal, disjoint windows: one reshape and one reduction
            # the other axes merged, so the array stays 4-D whatever the dimensionality
            # (MXNet broadcasts at most 5-D)
            lead, trail = tuple(y.shape[:axis]), tuple(y.shape[axis + 1 :])
            boxes = xp.reshape(y, (math.prod(lead), o, n // o, math.prod(trail)))
            y = xp.reshape(reduce(boxes, axis=2), lead + (o,) + trail)
            continue
        parts = []
        for j in range(o):
            start, stop = (j * n) // o, -(-((j + 1) * n) // o)
            sl = (slice(None),) * axis + (slice(start, stop), ...)
            parts.append(reduce(y[sl], axis=axis, keepdims=True))
        y = xp.concat(parts, axis=axis)
    if y is x:  # every axis kept its size: a copy, never the input itself
        y = xp.asarray(x, copy=True)
    return y


def _adaptive(kind: str, d: int, input: Any, output_size: Any, layout: Any, path: Any) -> Any:
    last = channels_last(layout, d, "pooling")
    be, xp, (x,) = prepare(input, names=("input",))
    require_ndim("input", x, (d + 1, d + 2), _shape_text(d, last))
    require_float(xp, "input", x)
    spatial = tuple(x.shape[-d - 1 : -1] if last else x.shape[-d:])
    if min(spatial) < 1:
        raise ArgumentError(
            f"input: every spatial size must be at least 1 for adaptive pooling, got shape "
            f"{tuple(x.shape)}"
        )
    out = _output_size_arg(output_size, d, spatial)
    per_plane = max(math.prod(x.shape) // max(math.prod(spatial), 1), 1) * itemsize(xp, x.dtype)
    refuse_huge(
        "output_size",
        f"the result {out} (input shape {tuple(x.shape)})",
        math.prod(out) * per_plane,
        whole_array_budget(be),
    )
    xb, batched = _as_batched_cf(xp, x, d, last)
    if xb.shape[0] == 0 or xb.shape[1] == 0:  # empty (MXNet cannot average zero-size arrays)
        y = xp.zeros(tuple(xb.shape[:2]) + out, dtype=x.dtype, device=be.device)
        return be.adapter.from_standard(_back(xp, y, d, last, batched), input)
    y = run_path(
        be,
        f"adaptive_{kind}_pool",
        path,
        (xb,),
        functools.partial(_adaptive_generic, xp, kind),
        out=out,
        size=spatial,
        dtype=x.dtype,
        device=be.device,
    )
    return be.adapter.from_standard(_back(xp, y, d, last, batched), input)


def _fixed_adaptive(kind: str, d: int):
    def op(
        input: Any,
        output_size: Any,
        *,
        layout: str = "channels_first",
        path: str | None = None,
    ) -> Any:
        return _adaptive(kind, d, input, output_size, layout, path)

    names = ", ".join(SPATIAL_NAMES[d])
    what = "maximum" if kind == "max" else "average"
    op.__name__ = op.__qualname__ = f"adaptive_{kind}_pool{d}d"
    op.__module__ = __name__
    op.__doc__ = (
        f"{d}-D adaptive {what} pooling of input (N, C, {names}) or unbatched (C, {names}) "
        f"to ``output_size`` (an int or {d} entries, None keeping an axis), as "
        f"``torch.nn.functional.adaptive_{kind}_pool{d}d``: output ``i`` of ``o`` along an "
        f"axis of size ``n`` covers ``[floor(i*n/o), ceil((i+1)*n/o))``."
    )
    return op


adaptive_max_pool1d = _fixed_adaptive("max", 1)
adaptive_max_pool2d = _fixed_adaptive("max", 2)
adaptive_max_pool3d = _fixed_adaptive("max", 3)
adaptive_avg_pool1d = _fixed_adaptive("avg", 1)
adaptive_avg_pool2d = _fixed_adaptive("avg", 2)
adaptive_avg_pool3d = _fixed_adaptive("avg", 3)


def _global(kind: str, input: Any, layout: Any) -> Any:
    be, xp, (x,) = prepare(input, names=("input",))
    nd = getattr(x, "ndim", 0)
    last = channels_last(layout, nd - 2 if nd in (3, 4, 5) else None, "pooling")
    text = "(N, *spatial, C)" if last else "(N, C, *spatial)"
    require_ndim("input", x, (3, 4, 5), f"{text} with 1 to 3 spatial axes")
    require_float(xp, "input", x)
    axes = tuple(range(1, nd - 1)) if last else tuple(range(2, nd))
    if min(x.shape[a] for a in axes) < 1:
        raise ArgumentError(
            f"input: global pooling needs every spatial size to be at least 1, got shape "
            f"{tuple(x.shape)}"
        )
    if math.prod(x.shape) == 0:  # an empty batch (MXNet cannot average zero-size arrays)
        shape = tuple(1 if a in axes else s for a, s in enumerate(x.shape))
        return be.adapter.from_standard(xp.zeros(shape, dtype=x.dtype, device=be.device), input)
    y = _box_max(xp, x, axes, True) if kind == "max" else xp.mean(x, axis=axes, keepdims=True)
    return be.adapter.from_standard(y, input)


def global_max_pool(input: Any, *, layout: str = "channels_first") -> Any:
    """The maximum over all spatial positions of each channel; the spatial axes stay, as size
    1 (Gluon's ``GlobalMaxPool2D``: (N, C, H, W) -> (N, C, 1, 1)). 1 to 3 spatial axes, batched
    input. NaN propagates."""
    return _global("max", input, layout)


def global_avg_pool(input: Any, *, layout: str = "channels_first") -> Any:
    """The mean over all spatial positions of each channel; the spatial axes stay, as size 1
    (Gluon's ``GlobalAvgPool2D``: (N, C, H, W) -> (N, C, 1, 1)). 1 to 3 spatial axes, batched
    input."""
    return _global("avg", input, layout)


# -- the book's pool2d and the output shape -------------------------------------------------------


def pool2d(X: Any, pool_size: Any, mode: str = "max") -> Any:
    """The book's 2-D pooling (5.5.1 / 7.5.1): ``Y[i, j] = max`` (``mode="max"``) or ``mean``
    (``mode="avg"``) of ``X[i:i+p_h, j:j+p_w]``, no padding, stride 1, so ``Y`` has shape
    ``(h - p_h + 1, w - p_w + 1)``.

    ``X``: a 2-D array, or any array whose last two axes are the image (each leading index is
    pooled on its own, as the book's pooling layers treat channels). ``pool_size``: ``(p_h,
    p_w)`` or one int for both.
    """
    if mode not in ("max", "avg"):
        raise ArgumentError(f"mode: expected 'max' or 'avg', got {mode!r}")
    be, xp, (x,) = prepare(X, names=("X",))
    if getattr(x, "ndim", 0) < 2:
        raise ArgumentError(
            f"X: expected an array of at least 2 dimensions (..., height, width), got shape "
            f"{tuple(x.shape)}"
        )
    require_float(xp, "X", x)
    kernel = int_tuple("pool_size", pool_size, 2)
    h, w = x.shape[-2], x.shape[-1]
    if h - kernel[0] + 1 < 1 or w - kernel[1] + 1 < 1:
        raise ArgumentError(
            f"pool_size: the window {kernel} is larger than the input's last two axes "
            f"{(h, w)}; it must fit inside X"
        )
    lead = tuple(x.shape[:-2])
    x4 = xp.reshape(x, (1, math.prod(lead), h, w))
    out = (h - kernel[0] + 1, w - kernel[1] + 1)
    count = "padded" if mode == "avg" else None
    kind = "max" if mode == "max" else "avg"
    y = _dispatch(
        kind, be, xp, x4, kernel, (1, 1), ((0, 0), (0, 0)), (1, 1), "floor", count, out, None
    )
    return be.adapter.from_standard(xp.reshape(y, lead + out), X)


def pool_output_shape(
    input_size: Any,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    pooling_convention: str = "valid",
) -> tuple[int, ...]:
    """The spatial output shape of a pooling, without running one: per axis the book's
    ``floor((n - k + p + s) / s)``, ``p`` the axis's total padding (``stride`` defaults to the
    kernel), generalised to dilation, ``ceil_mode`` (PyTorch) and ``pooling_convention="full"``
    (MXNet) as the module docstring says. ``input_size`` and ``kernel_size``: an int or one
    int per spatial axis. Example: ``pool_output_shape((4, 4), 3, stride=2, padding=1) ==
    (2, 2)``."""
    mode = _mode(ceil_mode, pooling_convention)
    d = 1
    for v in (input_size, kernel_size):
        if isinstance(v, Sequence) and not isinstance(v, str):
            d = len(v)
            break
    if d not in (1, 2, 3):
        raise ArgumentError(f"input_size: expected 1 to 3 spatial sizes, got {input_size!r}")
    n = int_tuple("input_size", input_size, d)
    *_, out = _normalise(d, n, kernel_size, stride, padding, dilation, mode)
    return out
