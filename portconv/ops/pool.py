"""Max and average pooling, forward and backward, written once against the array API standard.

Public ops (names and argument orders of ``torch.nn.functional``; Gluon's ``pool_size=`` and
``strides=`` are accepted as aliases)::

    max_pool1d/2d/3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False)
    avg_pool1d/2d/3d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
                     count_include_pad=True)
    max_pool / avg_pool                 # the same for 1 to 3 spatial dimensions
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

Layouts: channels first ``(N, C, *spatial)`` or unbatched ``(C, *spatial)`` by default;
``layout="channels_last"`` (or ``"NWC"``, ``"NHWC"``, ``"NDHWC"``) for ``(N, *spatial, C)``.
The result has the input's library, array type (legacy ``mx.nd`` in, ``mx.nd`` out), dtype
and device.

**Forward.** The generic path pads explicitly with the call's ``applied`` padding
(:func:`portconv._windows.pad`; -inf for max, zeros for average) and combines the strided
windows of every kernel offset with a running maximum or sum
(:func:`portconv._windows.reduce`), a tile of examples (or channels) at a time so that the padded
copy stays within ``portconv.config(memory_budget=...)``; average pooling then divides by the
count. It writes into no existing array, so torch autograd and ``mxnet.autograd.record()``
differentiate through it too.

**Backward.** Max pooling sends each output's gradient to the first maximum of its window in
row-major order (PyTorch's and MXNet's choice on ties): the windows are gathered, ``argmax``
picks the offset, and :func:`portconv._windows.col2im` puts the routed gradient back. Average
pooling spreads each output's gradient, divided by the window's count, evenly over the window
(col2im of a broadcast).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from .. import _windows
from .._config import memory_budget
from ..errors import ArgumentError, ArrayTypeError
from ._args import (
    SPATIAL_NAMES,
    channels_last,
    gluon_alias,
    int_tuple,
    itemsize,
    refuse_huge,
    whole_array_limit,
)
from ._call import PoolCall, pool_call, pool_mode
from ._common import Op, Plan, bound, forward, prepare, require_float, require_ndim, run
from ._dtypes import book_float, is_integer
from ._indices import run_pair

__all__ = [
    "avg_pool",
    "avg_pool1d",
    "avg_pool2d",
    "avg_pool3d",
    "max_pool",
    "max_pool1d",
    "max_pool2d",
    "max_pool3d",
    "pool2d",
    "pool_output_shape",
]


# -- the generic forward ---------------------------------------------------------------------------


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


def divisor(xp: Any, call: PoolCall) -> Any:
    """Average pooling's divisor: a Python number, or an array of shape ``call.out`` (a window
    that counts nothing holds only zeros and divides by 1: 0, as MXNet gives); PyTorch's
    ``divisor_override`` where the call has one."""
    if call.divisor is not None:
        return float(call.divisor)
    per_axis = [
        _axis_counts(n, k, s, dil, b, a, o, call.count)
        for n, k, s, dil, (b, a), o in zip(
            call.size, call.kernel, call.stride, call.dilation, call.padding, call.out
        )
    ]
    if all(c is None for c in per_axis):
        return float(math.prod(call.kernel))
    d = call.d
    div: Any = 1.0
    for i, (c, k) in enumerate(zip(per_axis, call.kernel)):
        if c is None:
            div = div * float(k)
            continue
        arr = xp.asarray([float(max(v, 1)) for v in c], dtype=call.dtype, device=call.device)
        arr = xp.reshape(arr, (len(c),) + (1,) * (d - 1 - i))
        div = arr * div
    return div


def _tie_exact_max(xp):
    """``combine(acc, w)`` for a running maximum over kernel offsets (row-major order) that
    keeps the first maximum on ties and lets NaN through: a ``where``, not ``maximum``, so that
    a framework's autograd (torch's splits ties evenly in ``maximum``) routes the gradient to
    that one element, as ``F.max_pool2d`` and MXNet's pooling do. Several times slower than
    ``maximum``: used only where a framework's autograd records the call."""

    def combine(acc, w):
        return xp.where((w > acc) | xp.isnan(w), w, acc)

    return combine


def _pool(xp: Any, call: PoolCall, x: Any, combine) -> Any:
    """Pooling of a batched, channels-first array with the standard's functions only: pad
    with the call's ``applied`` padding, combine every offset's window with ``combine``."""
    kind, pads = call.kind, call.applied
    fill = float("-inf") if kind == "max" else 0.0

    def pool(xt):
        xt = _windows.pad(xp, xt, pads, fill, call.device)
        return _windows.reduce(xt, call.kernel, call.stride, call.dilation, call.out, combine)

    n_ex, chans = x.shape[0], x.shape[1]
    per_channel = math.prod(call.canvas) * itemsize(xp, x.dtype)
    per_example = chans * per_channel
    # tiles of examples keep the padded copy within the budget; an unpadded input is copied
    # nowhere, so its only tiles are those that run in threads (by_tiles, on NumPy)
    padded = any(p != (0, 0) for p in pads)
    budget = memory_budget() if padded else max(memory_budget(), n_ex * per_example)
    if per_example <= budget:
        y = _windows.by_tiles(
            xp, n_ex, per_example, budget, lambda a, z: pool(x[a:z, ...]), concurrent=True
        )
    else:  # one padded example exceeds the budget: tiles of its channels
        pieces = []
        for e in range(n_ex):
            row = [
                pool(x[e : e + 1, a:z, ...]) for a, z in _windows.tiles(chans, per_channel, budget)
            ]
            pieces.append(row[0] if len(row) == 1 else xp.concat(row, axis=1))
        y = pieces[0] if len(pieces) == 1 else xp.concat(pieces, axis=0)
    if kind == "max":
        if math.prod(call.kernel) == 1:
            y = xp.asarray(y, copy=True)  # a strided view of the input: never hand that out
        return y
    return y / divisor(xp, call)


def _max_forward(xp: Any, call: PoolCall, x: Any) -> Any:
    # maximum propagates NaN; its ties are equal values, so only a framework's gradient
    # could tell them apart (see _tie_exact_max)
    return _pool(xp, call, x, xp.maximum)


def _max_forward_recorded(xp: Any, call: PoolCall, x: Any) -> Any:
    return _pool(xp, call, x, _tie_exact_max(xp))


def _avg_forward(xp: Any, call: PoolCall, x: Any) -> Any:
    return _pool(xp, call, x, lambda acc, w: acc + w)


def _forward(xp: Any, call: PoolCall, x: Any) -> Any:
    """The generic forward of ``call``'s kind (used by the ops built on pooling)."""
    return (_max_forward if call.kind == "max" else _avg_forward)(xp, call, x)


def _plane_positions(xp: Any, call: PoolCall, offset: Sequence[int]) -> Any:
    """For kernel offset ``offset`` (dilated), the flat index within the input plane of the
    position each output's window reads there (shape ``call.out``; outside the input where
    the window reads padding, which never wins)."""
    d = call.d
    flat = None
    for a in range(d):
        (before, _), s = call.applied[a], call.stride[a]
        coord = xp.arange(call.out[a], dtype=xp.int64, device=call.device) * s + (
            offset[a] - before
        )
        coord = xp.reshape(coord, (call.out[a],) + (1,) * (d - 1 - a))
        term = coord * math.prod(call.size[a + 1 :])
        flat = term if flat is None else flat + term
    return flat


def _first_inside(xp: Any, call: PoolCall) -> Any:
    """For every output, the flat index of the first input position its window holds along
    every axis (PyTorch's starting index: where a window of only -inf reports its maximum)."""
    d = call.d
    flat = None
    for a in range(d):
        (before, _), s, dl = call.applied[a], call.stride[a], call.dilation[a]
        start = xp.arange(call.out[a], dtype=xp.int64, device=call.device) * s - before
        skip = xp.floor_divide(-start + (dl - 1), dl)  # taps before the input (start < 0)
        coord = xp.where(start < 0, start + skip * dl, start)
        coord = xp.reshape(coord, (call.out[a],) + (1,) * (d - 1 - a))
        term = coord * math.prod(call.size[a + 1 :])
        flat = term if flat is None else flat + term
    return flat


def _forward_with_indices(xp: Any, call: PoolCall, x: Any) -> tuple[Any, Any]:
    """Max pooling and, for every output, the flat index of its maximum within the input
    plane (PyTorch's ``return_indices``): the first maximum in row-major window order, and
    the last NaN where the window holds NaN, as PyTorch's kernels choose. Integer inputs pad
    with the dtype's minimum."""
    integer = not xp.isdtype(x.dtype, "real floating")
    low = xp.iinfo(x.dtype).min if integer else float("-inf")
    offsets = list(_windows.offsets(call.kernel, call.dilation))
    positions = [_plane_positions(xp, call, o) for o in offsets]
    start = _first_inside(xp, call)

    def tile(a: int, z: int) -> tuple[Any, Any]:
        xpad = _windows.pad(xp, x[a:z, ...], call.applied, low, call.device)
        acc = xp.full((z - a, call.c) + call.out, low, dtype=x.dtype, device=call.device)
        idx = xp.broadcast_to(start, acc.shape)
        for o, flat in zip(offsets, positions):
            w = _windows.window(xpad, o, call.stride, call.out)
            take = w > acc if integer else xp.logical_or(w > acc, xp.isnan(w))
            acc = xp.where(take, w, acc)
            idx = xp.where(take, xp.broadcast_to(flat, acc.shape), idx)
        return acc, idx

    per_example = call.c * math.prod(call.canvas) * itemsize(xp, x.dtype) * 3
    parts = [tile(a, z) for a, z in _windows.tiles(call.n, per_example, memory_budget())]
    if len(parts) == 1:
        return parts[0]
    return xp.concat([p[0] for p in parts], axis=0), xp.concat([p[1] for p in parts], axis=0)


def _integer_forward(xp: Any, call: PoolCall, x: Any) -> Any:
    """Max pooling of an integer array: padded with the dtype's minimum (there is no -inf),
    its dtype kept, as Keras's and TensorFlow's integer max pooling keep it."""

    def tile(a: int, z: int) -> Any:
        xpad = _windows.pad(xp, x[a:z, ...], call.applied, xp.iinfo(x.dtype).min, call.device)
        return _windows.reduce(xpad, call.kernel, call.stride, call.dilation, call.out, xp.maximum)

    per_example = call.c * math.prod(call.canvas) * itemsize(xp, x.dtype)
    y = _windows.by_tiles(xp, call.n, per_example, memory_budget(), tile, concurrent=True)
    return xp.asarray(y, copy=True) if math.prod(call.kernel) == 1 else y


# -- the generic backward --------------------------------------------------------------------------


def _iota(xp: Any, n: int, device: Any, shape: Sequence[int]) -> Any:
    return xp.reshape(xp.arange(n, device=device), tuple(shape))


def _max_backward(xp: Any, call: PoolCall, x: Any, y: Any, dy: Any) -> Any:
    """Each output's gradient to the first maximum of its window in row-major order, as
    PyTorch and MXNet choose on ties (and, where the maximum is NaN, to the first NaN).

    The kernel offsets are visited in row-major order; at each, the window elements equal to
    their window's maximum ``y`` (or NaN) that no earlier offset has claimed take the output's
    gradient, and ``col2im`` puts them back: no window is gathered and no ``argmax`` taken.
    The gradient is masked by multiplication, so a NaN or infinite output gradient also
    reaches its window's other elements (as NaN), where PyTorch's kernel would leave zeros."""
    kernel, stride, dilation, pads, out = (
        call.kernel,
        call.stride,
        call.dilation,
        call.applied,
        call.out,
    )

    def tile(a: int, z: int) -> Any:
        # (m, C, ...) throughout: merging the examples and channels would copy arrays that
        # are channels-major in memory (a convolution's output and what is computed from it)
        xpad = _windows.pad(xp, x[a:z, ...], pads, float("-inf"), call.device)
        yt, g = y[a:z, ...], dy[a:z, ...]
        taken, parts = None, []
        for offset in _windows.offsets(kernel, dilation):
            w = _windows.window(xpad, offset, stride, out)
            hit = (w == yt) | (w != w)  # w != w: NaN, the maximum wherever one is present
            if taken is None:
                taken = hit
            else:
                hit = hit & ~taken
                taken = taken | hit
            parts.append(g * xp.astype(hit, g.dtype))
        full = _windows.col2im(xp, parts, kernel, stride, dilation, call.canvas, call.device, 2)
        return _windows.crop(full, pads)

    per_example = call.c * math.prod(kernel) * math.prod(out) * 2 * itemsize(xp, x.dtype)
    return _windows.by_tiles(xp, call.n, per_example, memory_budget(), tile, concurrent=True)


def _avg_backward(xp: Any, call: PoolCall, dy: Any) -> Any:
    """Each output's gradient divided by its window's count and spread over the window."""
    kernel, stride, dilation, pads = call.kernel, call.stride, call.dilation, call.applied
    out, c, k = call.out, call.c, math.prod(call.kernel)
    g = xp.expand_dims(_windows.merge(xp, dy / divisor(xp, call)), axis=1)  # (N*C, 1, *out)

    def tile(a: int, z: int) -> Any:
        spread = xp.broadcast_to(g[a * c : z * c, ...], ((z - a) * c, k) + out)
        full = _windows.col2im(xp, spread, kernel, stride, dilation, call.canvas, call.device)
        return _windows.crop(_windows.split(xp, full, z - a), pads)

    per_example = c * k * math.prod(out) * itemsize(xp, dy.dtype)
    return _windows.by_tiles(xp, call.n, per_example, memory_budget(), tile, concurrent=True)


def _backward(xp: Any, call: PoolCall, arrays, y, g, needs) -> tuple:
    if not needs[0]:
        return (None,)
    if call.kind == "max":
        return (_max_backward(xp, call, arrays[0], y, g),)
    return (_avg_backward(xp, call, g),)


def _backward_with_indices(xp: Any, call: PoolCall, arrays, y, g, needs) -> tuple:
    # the indices carry no gradient; the values' is max pooling's
    return _backward(xp, call, arrays, y[0], g, needs)


def _no_gradient(xp: Any, call: PoolCall, arrays, y, g, needs) -> tuple:
    return (None,)  # integer arrays have no gradient


#: max and average pooling: the generic forward and its gradient
MAX_POOL = Op("max_pool", _max_forward, _backward, recorded=_max_forward_recorded)
AVG_POOL = Op("avg_pool", _avg_forward, _backward)
#: max pooling that also returns the flat index of every maximum (``return_indices=True``)
MAX_POOL_WITH_INDICES = Op("max_pool_with_indices", _forward_with_indices, _backward_with_indices)
#: max pooling of integer arrays (Keras's: the dtype is kept), which has no gradient
MAX_POOL_INTEGER = Op("max_pool_integer", _integer_forward, _no_gradient)


# -- the front end ---------------------------------------------------------------------------------


def _shape_text(d: int, last: bool) -> str:
    sp = ", ".join(SPATIAL_NAMES[d])
    if last:
        return f"(N, {sp}, C) or unbatched ({sp}, C)"
    return f"(N, C, {sp}) or unbatched (C, {sp})"


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


def batched_cf_shape(shape: tuple, d: int, last: bool) -> tuple[tuple, bool]:
    """The kernels' ``(N, C, *spatial)`` view of a caller's pooling input shape, and whether
    the caller's input is batched."""
    caller = shape
    batched = len(shape) == d + 2
    if not batched:
        shape = (1,) + shape
    if last:
        shape = (shape[0], shape[-1]) + shape[1:-1]
    if not batched and shape[1] == 0:
        raise ArgumentError(
            f"input: an unbatched input needs at least one channel, got shape {caller}; a "
            f"batch of inputs is (N, C, *spatial) (PyTorch refuses this too)"
        )
    return shape, batched


def _check(
    kind, input, kernel_size, stride, padding, dilation, mode, count_include_pad, layout, d,
    divisor_override=None, return_indices=False,
) -> Plan:  # fmt: skip
    be, xp, (x,) = prepare(input, names=("input",))
    if d is None:
        d = _spatial_dims(kernel_size, x)
    last = channels_last(layout, d, "pooling")
    require_ndim("input", x, (d + 1, d + 2), _shape_text(d, last))
    integer = kind == "max" and is_integer(xp, x)
    if not integer:
        require_float(xp, "input", x)
    shape, batched = batched_cf_shape(tuple(x.shape), d, last)
    call = pool_call(
        kind,
        shape,
        kernel_size,
        stride,
        padding,
        dilation,
        mode,
        count_include_pad,
        dtype=x.dtype,
        device=be.device,
        channels_last=last,
        divisor_override=divisor_override,
        return_indices=return_indices,
        integer=integer,
    )
    per_plane = max(call.n * call.c, 1) * itemsize(xp, x.dtype)
    refuse_huge(
        "padding",
        f"the padded input {tuple(n + b + a for n, (b, a) in zip(call.size, call.padding))} "
        f"(shape {tuple(x.shape)})",
        math.prod(n + b + a + s * k for n, (b, a), s, k in zip(
            call.size, call.padding, call.stride, call.kernel
        )) * per_plane,
        whole_array_limit(be),
    )  # fmt: skip
    op = {"max_pool": MAX_POOL, "avg_pool": AVG_POOL, "max_pool_integer": MAX_POOL_INTEGER,
          "max_pool_with_indices": MAX_POOL_WITH_INDICES}[call.op]  # fmt: skip
    return Plan(op, be, call, batched, last)


def bind(
    kind, input, kernel_size, stride, padding, dilation, ceil_mode, count_include_pad,
    pooling_convention, layout, d, divisor_override=None, return_indices=False,
) -> Plan:  # fmt: skip
    """The checked :class:`Plan` of a max (``kind="max"``) or average pooling call."""
    args = (kind, kernel_size, stride, padding, dilation, ceil_mode, count_include_pad,
            pooling_convention, layout, d, divisor_override, return_indices)  # fmt: skip

    def check() -> Plan:
        mode = pool_mode(ceil_mode, pooling_convention)
        return _check(
            kind, input, kernel_size, stride, padding, dilation, mode, count_include_pad,
            layout, d, divisor_override, return_indices,
        )  # fmt: skip

    return bound((input,), args, check)


def run_max(plan: Plan, input: Any, path: str | None) -> Any:
    """The result of a bound max pooling: values, or ``(values, indices)``."""
    if plan.call.indices:
        return run_pair(plan, (input,), path)
    return run(plan, (input,), path)


def _kernel_arg(op: str, kernel_size: Any, pool_size: Any) -> Any:
    kernel_size = gluon_alias("kernel_size", kernel_size, "pool_size", pool_size)
    if kernel_size is None:
        raise ArrayTypeError(
            f"{op}() missing required argument 'kernel_size' (or its Gluon spelling "
            f"'pool_size'): the pooling window, an int or one int per spatial axis"
        )
    return kernel_size


# -- public ops ------------------------------------------------------------------------------------


def max_pool(
    input: Any,
    kernel_size: Any = None,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
    *,
    pooling_convention: str = "valid",
    layout: str = "channels_first",
    path: str | None = None,
    pool_size: Any = None,
    strides: Any = None,
) -> Any:
    """Max pooling over 1 to 3 spatial dimensions.

    As many spatial dimensions as ``kernel_size`` has ints (an int alone means
    ``input.ndim - 2``: a batched input). See the module docstring for the exact window,
    padding and output-size rules and where PyTorch and MXNet differ.

    Parameters
    ----------
    input : array
        ``(N, C, *spatial)`` or unbatched ``(C, *spatial)`` (``(N, *spatial, C)`` with
        ``layout="channels_last"``), real floating.
    kernel_size : int or tuple of int
        The window (Gluon: ``pool_size``).
    stride : int or tuple of int, optional
        Default: the kernel size (Gluon: ``strides``).
    padding : int, tuple or str
        An int, one int per axis, ``(before, after)`` pairs, ``"valid"`` or ``"same"``; any
        amount smaller than the window span on each side (MXNet's limit; PyTorch allows half
        the kernel), padded with ``-inf``.
    dilation : int or tuple of int
    ceil_mode : bool
        PyTorch's rounding up of the output size.
    return_indices : bool
        Also return, for every output, the flat index of its maximum within its ``(n, c)``
        plane of the input (PyTorch's convention, what :func:`max_unpool2d` takes): the first
        maximum in row-major window order, the last NaN where the window holds NaN.
    pooling_convention : str
        ``"valid"`` or ``"full"``: MXNet's rounding up (it can have one window more than
        ``ceil_mode=True``).
    layout : str
        ``"channels_first"`` (default) or ``"channels_last"`` (or "NCHW", "NHWC", ...).
    path : str, optional
        None (the ``portconv.config`` in force), "auto", "generic" or "native".

    Returns
    -------
    array or (array, array)
        ``(N, C, *out)``, of the input's library, dtype and device. A window containing NaN
        gives NaN; a window with no input element gives ``-inf``. An integer input gives
        its own integer dtype (as Keras's max pooling; the padding is the dtype's minimum).
        With ``return_indices``, the int64 indices too, of the same shape.

    Examples
    --------
    >>> import numpy as np, portconv as pc
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> pc.max_pool(x, 2)
    array([[[[ 5.,  7.],
             [13., 15.]]]])
    >>> pc.max_pool(x, 3, stride=2, padding=1, ceil_mode=True).shape
    (1, 1, 3, 3)
    >>> pc.max_pool(x, 2, return_indices=True)[1]
    array([[[[ 5,  7],
             [13, 15]]]])
    """
    kernel_size = _kernel_arg("max_pool", kernel_size, pool_size)
    stride = gluon_alias("stride", stride, "strides", strides)
    plan = bind(
        "max", input, kernel_size, stride, padding, dilation, ceil_mode, True,
        pooling_convention, layout, None, None, return_indices,
    )  # fmt: skip
    return run_max(plan, input, path)


def avg_pool(
    input: Any,
    kernel_size: Any = None,
    stride: Any = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
    *,
    dilation: Any = 1,
    pooling_convention: str = "valid",
    layout: str = "channels_first",
    path: str | None = None,
    pool_size: Any = None,
    strides: Any = None,
) -> Any:
    """Average pooling over 1 to 3 spatial dimensions.

    The sum of the window's input elements (padding adds zeros) divided by a count. Arguments
    as :func:`max_pool`; ``dilation`` is keyword-only, as ONNX's AveragePool has it and
    PyTorch and MXNet have not (PyTorch's kernel then does not run: the generic path does).

    Parameters
    ----------
    input, kernel_size, stride, padding, dilation, ceil_mode, pooling_convention, layout, path
        As :func:`max_pool`.
    count_include_pad : bool
        True (default, both frameworks): divide by the window's positions inside the padded
        input (positions past it, which rounded-up windows reach, are not counted, exactly as
        PyTorch's ``ceil_mode`` and MXNet's ``"full"`` kernels divide); False: by its
        positions inside the input. ``padding="same"`` never counts the padding
        (TensorFlow's rule). A window whose count is zero (only with ``"full"``) gives 0.
        With dilation, only the window's taps count.
    divisor_override : int, optional
        PyTorch's: divide every window's sum by this non-zero int instead of a count.

    Returns
    -------
    array
        ``(N, C, *out)``, of the input's library, dtype and device.

    Examples
    --------
    >>> import numpy as np, portconv as pc
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> pc.avg_pool(x, 2)
    array([[[[ 2.5,  4.5],
             [10.5, 12.5]]]])
    >>> pc.avg_pool(x, 3, stride=1, padding=1, count_include_pad=False)[0, 0, 0, 0]
    np.float64(2.5)
    >>> pc.avg_pool(x, 2, divisor_override=1)[0, 0, 0]  # window sums
    array([10., 18.])
    """
    kernel_size = _kernel_arg("avg_pool", kernel_size, pool_size)
    stride = gluon_alias("stride", stride, "strides", strides)
    plan = bind(
        "avg", input, kernel_size, stride, padding, dilation, ceil_mode, count_include_pad,
        pooling_convention, layout, None, divisor_override,
    )  # fmt: skip
    return run(plan, (input,), path)


def _fixed_max(d: int):
    def op(
        input: Any,
        kernel_size: Any = None,
        stride: Any = None,
        padding: Any = 0,
        dilation: Any = 1,
        ceil_mode: bool = False,
        return_indices: bool = False,
        *,
        pooling_convention: str = "valid",
        layout: str = "channels_first",
        path: str | None = None,
        pool_size: Any = None,
        strides: Any = None,
    ) -> Any:
        kernel_size = _kernel_arg(f"max_pool{d}d", kernel_size, pool_size)
        stride = gluon_alias("stride", stride, "strides", strides)
        plan = bind(
            "max", input, kernel_size, stride, padding, dilation, ceil_mode, True,
            pooling_convention, layout, d, None, return_indices,
        )  # fmt: skip
        return run_max(plan, input, path)

    names = ", ".join(SPATIAL_NAMES[d])
    shape = ", ".join(["1", "1"] + ["4"] * d)
    out = ", ".join(["1", "1"] + ["2"] * d)
    op.__name__ = op.__qualname__ = f"max_pool{d}d"
    op.__module__ = __name__
    op.__doc__ = f"""{d}-D max pooling, as ``torch.nn.functional.max_pool{d}d``.

    :func:`max_pool` for an input ``(N, C, {names})`` or unbatched ``(C, {names})``, with the
    number of spatial dimensions checked (plus ``pooling_convention``, ``layout``, ``path``
    and Gluon's ``pool_size``/``strides``).

    Parameters
    ----------
    input, kernel_size, stride, padding, dilation, ceil_mode, return_indices
        As :func:`max_pool`.
    pooling_convention, layout, path
        As :func:`max_pool`.

    Returns
    -------
    array or (array, array)
        The result, and with ``return_indices`` the indices of the maxima.

    Examples
    --------
    >>> import numpy as np, portconv as pc
    >>> pc.max_pool{d}d(np.ones(({shape})), 2).shape
    ({out})
    """
    return op


def _fixed_avg(d: int):
    def op(
        input: Any,
        kernel_size: Any = None,
        stride: Any = None,
        padding: Any = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: int | None = None,
        *,
        dilation: Any = 1,
        pooling_convention: str = "valid",
        layout: str = "channels_first",
        path: str | None = None,
        pool_size: Any = None,
        strides: Any = None,
    ) -> Any:
        kernel_size = _kernel_arg(f"avg_pool{d}d", kernel_size, pool_size)
        stride = gluon_alias("stride", stride, "strides", strides)
        plan = bind(
            "avg", input, kernel_size, stride, padding, dilation, ceil_mode,
            count_include_pad, pooling_convention, layout, d, divisor_override,
        )  # fmt: skip
        return run(plan, (input,), path)

    names = ", ".join(SPATIAL_NAMES[d])
    shape = ", ".join(["1", "1"] + ["4"] * d)
    out = ", ".join(["1", "1"] + ["2"] * d)
    op.__name__ = op.__qualname__ = f"avg_pool{d}d"
    op.__module__ = __name__
    op.__doc__ = f"""{d}-D average pooling, as ``torch.nn.functional.avg_pool{d}d``.

    :func:`avg_pool` for an input ``(N, C, {names})`` or unbatched ``(C, {names})``, with the
    number of spatial dimensions checked (plus ``pooling_convention``, ``layout``, ``path``
    and Gluon's ``pool_size``/``strides``).

    Parameters
    ----------
    input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
        As :func:`avg_pool`.
    dilation, pooling_convention, layout, path
        As :func:`avg_pool`.

    Returns
    -------
    array

    Examples
    --------
    >>> import numpy as np, portconv as pc
    >>> pc.avg_pool{d}d(np.ones(({shape})), 2).shape
    ({out})
    """
    return op


max_pool1d, max_pool2d, max_pool3d = _fixed_max(1), _fixed_max(2), _fixed_max(3)
avg_pool1d, avg_pool2d, avg_pool3d = _fixed_avg(1), _fixed_avg(2), _fixed_avg(3)


# -- the book's pool2d and the output shape --------------------------------------------------------


def pool2d(X: Any, pool_size: Any, mode: str = "max") -> Any:
    """The book's 2-D pooling (5.5.1 / 7.5.1), no padding, stride 1.

    ``Y[i, j] = max`` (``mode="max"``) or ``mean`` (``mode="avg"``) of ``X[i:i+p_h,
    j:j+p_w]``.

    Parameters
    ----------
    X : array
        A 2-D array, or any array whose last two axes are the image (each leading index is
        pooled on its own, as the book's pooling layers treat channels). Real floating, or
        integer: then, as the book's helper (which fills ``zeros(...)``), the result has the
        library's default floating dtype (float32 on PyTorch and MXNet, float64 on NumPy).
    pool_size : int or tuple of int
        ``(p_h, p_w)``, or one int for both.
    mode : str
        ``"max"`` or ``"avg"``.

    Returns
    -------
    array
        ``X.shape[:-2] + (h - p_h + 1, w - p_w + 1)``.

    Examples
    --------
    >>> import numpy as np, portconv as pc
    >>> X = np.array([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]])
    >>> pc.pool2d(X, (2, 2)), pc.pool2d(X, (2, 2), "avg")
    (array([[4., 5.],
           [7., 8.]]), array([[2., 3.],
           [5., 6.]]))
    """
    if mode not in ("max", "avg"):
        raise ArgumentError(f"mode: expected 'max' or 'avg', got {mode!r}")
    be, xp, (x,) = prepare(X, names=("X",))
    if getattr(x, "ndim", 0) < 2:
        raise ArgumentError(
            f"X: expected an array of at least 2 dimensions (..., height, width), got shape "
            f"{tuple(x.shape)}"
        )
    dtype = book_float(xp, ("X",), [x], be.device)
    if x.dtype != dtype:  # integers: the book's helper writes them into zeros(...) of floats
        x = xp.astype(x, dtype)
    kernel = int_tuple("pool_size", pool_size, 2)
    h, w = x.shape[-2], x.shape[-1]
    if h - kernel[0] + 1 < 1 or w - kernel[1] + 1 < 1:
        raise ArgumentError(
            f"pool_size: the window {kernel} is larger than the input's last two axes "
            f"{(h, w)}; it must fit inside X"
        )
    lead = tuple(x.shape[:-2])
    x4 = xp.reshape(x, (math.prod(lead), 1, h, w))  # leading indices as a batch (may be 0)
    call = pool_call(mode, tuple(x4.shape), kernel, 1, dtype=x.dtype, device=be.device)
    y = forward(Plan(MAX_POOL if mode == "max" else AVG_POOL, be, call), [x4], None)
    return be.adapter.from_standard(xp.reshape(y, lead + call.out), X)


def pool_output_shape(
    input_size: Any,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    pooling_convention: str = "valid",
) -> tuple[int, ...]:
    """The spatial output shape of a pooling, without running one.

    Per axis the book's ``floor((n - k + p + s) / s)``, ``p`` the axis's total padding
    (``stride`` defaults to the kernel), generalised to dilation, ``ceil_mode`` (PyTorch) and
    ``pooling_convention="full"`` (MXNet) as the module docstring says.

    Parameters
    ----------
    input_size, kernel_size : int or tuple of int
        One int per spatial axis.
    stride, padding, dilation, ceil_mode, pooling_convention
        As :func:`max_pool`.

    Returns
    -------
    tuple of int

    Examples
    --------
    >>> import portconv as pc
    >>> pc.pool_output_shape((4, 4), 3, stride=2, padding=1)
    (2, 2)
    """
    mode = pool_mode(ceil_mode, pooling_convention)
    d = 1
    for v in (input_size, kernel_size):
        if isinstance(v, Sequence) and not isinstance(v, str):
            d = len(v)
            break
    if d not in (1, 2, 3):
        raise ArgumentError(f"input_size: expected 1 to 3 spatial sizes, got {input_size!r}")
    n = int_tuple("input_size", input_size, d)
    return pool_call("max", (1, 1) + n, kernel_size, stride, padding, dilation, mode).out
