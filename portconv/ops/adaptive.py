"""Adaptive and global pooling, forward and backward, written once against the array API
standard.

Public ops (names and argument orders of ``torch.nn.functional``; global pooling as Gluon's
``GlobalMaxPool2D``/``GlobalAvgPool2D``)::

    adaptive_max_pool1d/2d/3d(input, output_size), adaptive_avg_pool1d/2d/3d(...)
    global_max_pool(input), global_avg_pool(input)     # spatial dimensions kept, as size 1

Windows are PyTorch's: output ``i`` of ``o`` along an axis of size ``n`` covers
``[floor(i*n/o), ceil((i+1)*n/o))``. Global pooling is adaptive pooling to size 1 on every
axis.

**Forward**: one spatial axis at a time, last axis first (the max and the mean over a box are
the max and the mean of per-axis maxima and means). An axis whose size the output divides is
one reshape and one reduction; any other is, for the mean, one product with the averaging
matrix and, for the maximum, a few ``take`` calls (one per position of the longest window).
Where a framework's autograd records the call, the maximum is taken so that its gradient goes
to the first maximum on ties, as max pooling's.

**Backward**: along each axis the average is the input times an averaging matrix, so its
gradient is the output gradient times that matrix; the maximum routes each output's gradient
to the first maximum of its box in row-major order (per axis, last axis first, gathered with
``take`` and put back through the adjoint of ``take``: a matmul with the selection matrix).
"""

from __future__ import annotations

import itertools
import math
from typing import Any

from ._args import SPATIAL_NAMES, channels_last, itemsize, refuse_huge, whole_array_limit
from ._call import AdaptiveCall, adaptive_call
from ._common import Op, Plan, bound, prepare, require_float, require_ndim, run
from ._indices import run_pair
from .pool import _iota, batched_cf_shape

__all__ = [
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_avg_pool3d",
    "adaptive_max_pool1d",
    "adaptive_max_pool2d",
    "adaptive_max_pool3d",
    "global_avg_pool",
    "global_max_pool",
]


# -- the generic forward ---------------------------------------------------------------------------


def first_max(xp: Any, y: Any, axis: int, keepdims: bool = False) -> Any:
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


def _pool(xp: Any, call: AdaptiveCall, x: Any, exact: bool) -> Any:
    """Adaptive pooling one spatial axis at a time, the last axis first (with the first
    maximum kept per axis, that is the box's first maximum in row-major order). An axis
    whose size the output divides is one reshape and one reduction; any other takes, for
    each position ``t`` of the longest window, the ``t``-th element of every window (``take``;
    a shorter window repeats its last element, with weight 0 in an average) and combines
    them. ``exact``: only operations whose framework gradient is portconv's rule (the first
    maximum; see ``Op.recorded``)."""
    device = call.device
    if call.kind == "max":
        if exact:

            def reduce(a, axis):
                return first_max(xp, a, axis)

            def combine(acc, w):
                return xp.where((w > acc) | xp.isnan(w), w, acc)
        else:

            def reduce(a, axis):
                return xp.max(a, axis=axis)

            combine = xp.maximum
    else:

        def reduce(a, axis):
            return xp.mean(a, axis=axis)

    y = x
    for i in reversed(range(call.d)):
        axis, o = 2 + i, call.out[i]
        n = y.shape[axis]
        if n == o:
            continue
        if n % o == 0:  # equal, disjoint windows: one reshape and one reduction
            # the other axes merged, so the array stays 4-D whatever the dimensionality
            # (MXNet broadcasts at most 5-D)
            lead, trail = tuple(y.shape[:axis]), tuple(y.shape[axis + 1 :])
            boxes = xp.reshape(y, (math.prod(lead), o, n // o, math.prod(trail)))
            y = xp.reshape(reduce(boxes, 2), lead + (o,) + trail)
            continue
        windows = call.windows(i)
        if call.kind == "avg":  # the axis times the averaging matrix
            rows = _averaging_rows(windows, n)
            matrix = xp.asarray(rows, dtype=y.dtype, device=device)  # (o, n)
            y = _along(xp, y, axis, xp.matrix_transpose(matrix))
            continue
        longest = max(stop - start for start, stop in windows)
        acc = None
        for t in range(longest):
            index = [min(start + t, stop - 1) for start, stop in windows]
            w = xp.take(y, xp.asarray(index, device=device), axis=axis)
            acc = w if acc is None else combine(acc, w)
        y = acc
    if y is x:  # every axis kept its size: a copy, never the input itself
        y = xp.asarray(x, copy=True)
    return y


def _forward(xp: Any, call: AdaptiveCall, x: Any) -> Any:
    return _pool(xp, call, x, exact=False)


def _forward_recorded(xp: Any, call: AdaptiveCall, x: Any) -> Any:
    return _pool(xp, call, x, exact=True)


# -- the generic backward --------------------------------------------------------------------------


def _along(xp: Any, t: Any, axis: int, matrix: Any) -> Any:
    """``t`` contracted along ``axis`` with ``matrix`` (rows: ``t``'s axis): the axis's size
    becomes the matrix's column count."""
    last = t.ndim - 1
    order = tuple(i for i in range(t.ndim) if i != axis) + (axis,)
    moved = xp.matmul(xp.permute_dims(t, order), matrix)
    back = list(range(last))
    back.insert(axis, last)
    return xp.permute_dims(moved, tuple(back))


def _averaging_rows(windows: list[tuple[int, int]], n: int) -> list[list[float]]:
    """The averaging matrix ``A`` (``o x n``): ``1/len`` on each window, 0 elsewhere."""
    return [[1.0 / (b - a) if a <= p < b else 0.0 for p in range(n)] for a, b in windows]


def _avg_backward(xp: Any, call: AdaptiveCall, dy: Any) -> Any:
    """Along each axis the output is the input times an averaging matrix ``A`` (``o x n``,
    ``1/len`` on each window), so the gradient is the output gradient times ``A``."""
    g = dy
    for i, n in enumerate(call.size):
        rows = _averaging_rows(call.windows(i), n)
        g = _along(xp, g, 2 + i, xp.asarray(rows, dtype=dy.dtype, device=call.device))
    return g


def _max_backward(xp: Any, call: AdaptiveCall, x: Any, dy: Any) -> Any:
    """Each output's gradient to the first maximum of its box in row-major order.

    The box maximum is taken one axis at a time, from the last axis to the first: the first
    maximum along the last axis, then the first row holding the largest of those, and so on,
    which picks the lexicographically first, i.e. row-major first, maximum. Along one axis
    the windows are gathered with ``take`` into ``(o, L)`` (a window shorter than the
    longest repeats its last element, which never wins over the original)."""
    d, device = call.d, call.device
    current = xp.reshape(x, (call.n * call.c,) + call.size)  # at most 5-D below, for MXNet
    stages = []
    for i in reversed(range(d)):
        axis, n, o = 1 + i, call.size[i], call.out[i]
        wins = call.windows(i)
        length = max(stop - start for start, stop in wins)
        index = [start + min(j, stop - start - 1) for start, stop in wins for j in range(length)]
        valid = [j < stop - start for start, stop in wins for j in range(length)]
        boxes = xp.take(current, xp.asarray(index, device=device), axis=axis)
        shape = tuple(boxes.shape[:axis]) + (o, length) + tuple(boxes.shape[axis + 1 :])
        boxes = xp.reshape(boxes, shape)
        first = xp.argmax(boxes, axis=axis + 1, keepdims=True)
        hit = _iota(xp, length, device, (length,) + (1,) * (boxes.ndim - axis - 2)) == first
        selection = [
            [1.0 if ok and p == q else 0.0 for q in range(n)] for p, ok in zip(index, valid)
        ]
        stages.append((axis, o, length, hit, selection))
        current = xp.max(boxes, axis=axis + 1)
    g = xp.reshape(dy, (call.n * call.c,) + call.out)
    for axis, o, length, hit, selection in reversed(stages):
        g = xp.expand_dims(g, axis=axis + 1)
        routed = xp.where(hit, g, xp.zeros_like(g))  # (..., o, L, ...)
        shape = tuple(routed.shape[:axis]) + (o * length,) + tuple(routed.shape[axis + 2 :])
        matrix = xp.asarray(selection, dtype=x.dtype, device=device)
        g = _along(xp, xp.reshape(routed, shape), axis, matrix)
    return xp.reshape(g, tuple(x.shape))


def _backward(xp: Any, call: AdaptiveCall, arrays, y, g, needs) -> tuple:
    if not needs[0]:
        return (None,)
    if call.kind == "max":
        return (_max_backward(xp, call, arrays[0], g),)
    return (_avg_backward(xp, call, g),)


def _forward_with_indices(xp: Any, call: AdaptiveCall, x: Any) -> tuple[Any, Any]:
    """Adaptive max pooling and, for every output, the flat index of its maximum within the
    input plane (PyTorch's ``return_indices``): every tap of the longest box along each axis
    read with ``take`` (taps past a shorter box never win), combined with a running maximum
    that keeps the first maximum in row-major order and lets NaN through, as PyTorch's
    kernel."""
    from ._indices import gather_planes

    d, dev = call.d, call.device
    starts, lengths = [], []
    for a in range(d):
        wins = call.windows(a)
        shape = (1, 1) + tuple(call.out[a] if b == a else 1 for b in range(d))
        start = xp.asarray([s for s, _ in wins], dtype=xp.int64, device=dev)
        size = xp.asarray([e - s for s, e in wins], dtype=xp.int64, device=dev)
        starts.append(xp.reshape(start, shape))
        lengths.append((xp.reshape(size, shape), max(e - s for s, e in wins)))
    acc = xp.full(call.out_shape, float("-inf"), dtype=x.dtype, device=dev)
    zero = xp.zeros(call.out_shape, dtype=xp.int64, device=dev)
    idx = None
    for tap in itertools.product(*(range(m) for _, m in lengths)):
        flat, inside = None, None
        for a in range(d):
            term = (starts[a] + tap[a]) * math.prod(call.size[a + 1 :])
            ok = lengths[a][0] > tap[a]
            flat = term if flat is None else flat + term
            inside = ok if inside is None else xp.logical_and(inside, ok)
        inside = xp.broadcast_to(inside, call.out_shape)
        flat = xp.where(inside, xp.broadcast_to(flat, call.out_shape), zero)  # a valid index
        v = gather_planes(xp, x, flat, dev)
        if idx is None:
            idx = flat
        take = xp.logical_and(inside, xp.logical_or(v > acc, xp.isnan(v)))
        acc = xp.where(take, v, acc)
        idx = xp.where(take, flat, idx)
    return acc, idx


def _backward_with_indices(xp: Any, call: AdaptiveCall, arrays, y, g, needs) -> tuple:
    return _backward(xp, call, arrays, y[0], g, needs)  # the values' gradient


#: adaptive max and average pooling: the generic forward and its gradient
ADAPTIVE_MAX_POOL = Op("adaptive_max_pool", _forward, _backward, recorded=_forward_recorded)
ADAPTIVE_AVG_POOL = Op("adaptive_avg_pool", _forward, _backward)
#: adaptive max pooling that also returns the flat index of every maximum
ADAPTIVE_MAX_POOL_WITH_INDICES = Op(
    "adaptive_max_pool_with_indices", _forward_with_indices, _backward_with_indices
)


# -- the front end ---------------------------------------------------------------------------------


def _check(
    kind: str, input: Any, output_size: Any, layout: Any, d: int | None, return_indices=False
) -> Plan:
    be, xp, (x,) = prepare(input, names=("input",))
    if d is None:  # global pooling: batched input, 1 to 3 spatial axes
        nd = getattr(x, "ndim", 0)
        last = channels_last(layout, nd - 2 if nd in (3, 4, 5) else None, "pooling")
        text = "(N, *spatial, C)" if last else "(N, C, *spatial)"
        require_ndim("input", x, (3, 4, 5), f"{text} with 1 to 3 spatial axes")
        d = nd - 2
        output_size = (1,) * d
    else:
        last = channels_last(layout, d, "pooling")
        sp = ", ".join(SPATIAL_NAMES[d])
        text = f"(N, {sp}, C) or unbatched ({sp}, C)" if last else f"(N, C, {sp}) or (C, {sp})"
        require_ndim("input", x, (d + 1, d + 2), text)
    require_float(xp, "input", x)
    shape, batched = batched_cf_shape(tuple(x.shape), d, last)
    call = adaptive_call(
        kind, shape, output_size, dtype=x.dtype, device=be.device, channels_last=last,
        return_indices=return_indices,
    )  # fmt: skip
    refuse_huge(
        "output_size",
        f"the result {call.out} (input shape {tuple(x.shape)})",
        math.prod(call.out) * max(call.n * call.c, 1) * itemsize(xp, x.dtype),
        whole_array_limit(be),
    )
    op = ADAPTIVE_MAX_POOL if kind == "max" else ADAPTIVE_AVG_POOL
    if call.indices:
        op = ADAPTIVE_MAX_POOL_WITH_INDICES
    return Plan(op, be, call, batched, last)


def bind(
    kind: str, input: Any, output_size: Any, layout: Any, d: int | None, return_indices=False
) -> Plan:
    """The checked :class:`Plan` of an adaptive (``d`` given) or global (``d`` None) pooling."""
    args = ("adaptive", kind, output_size, layout, d, return_indices)
    return bound(
        (input,), args, lambda: _check(kind, input, output_size, layout, d, return_indices)
    )


# -- public ops ------------------------------------------------------------------------------------


def _fixed_adaptive(kind: str, d: int):
    if kind == "max":

        def op(
            input: Any,
            output_size: Any,
            return_indices: bool = False,
            *,
            layout: str = "channels_first",
            path: str | None = None,
        ) -> Any:
            plan = bind(kind, input, output_size, layout, d, return_indices)
            if plan.call.indices:
                return run_pair(plan, (input,), path)
            return run(plan, (input,), path)
    else:

        def op(
            input: Any,
            output_size: Any,
            *,
            layout: str = "channels_first",
            path: str | None = None,
        ) -> Any:
            return run(bind(kind, input, output_size, layout, d), (input,), path)

    names = ", ".join(SPATIAL_NAMES[d])
    what = "maximum" if kind == "max" else "average"
    shape = ", ".join(["1", "1"] + ["6"] * d)
    out = ", ".join(["1", "1"] + ["4"] * d)
    op.__name__ = op.__qualname__ = f"adaptive_{kind}_pool{d}d"
    op.__module__ = __name__
    op.__doc__ = f"""{d}-D adaptive {what} pooling (``torch.nn.functional.{op.__name__}``).

    Output ``i`` of ``o`` along an axis of size ``n`` covers ``[floor(i*n/o),
    ceil((i+1)*n/o))``{", the first maximum kept on ties" if kind == "max" else ""}.

    Parameters
    ----------
    input : array
        ``(N, C, {names})`` or unbatched ``(C, {names})`` (channels last with
        ``layout="channels_last"``), real floating, every spatial size at least 1.
    output_size : int or tuple
        An int, or {d} entries, each an int of at least 1 or None (keep the input's size).{
        ""
        if kind == "avg"
        else '''
    return_indices : bool
        Also return the flat index of each maximum within its ``(n, c)`` plane (int64), as
        PyTorch's ``return_indices``.'''
    }
    layout : str
        ``"channels_first"`` (default) or ``"channels_last"``.
    path : str, optional
        None, "auto", "generic" or "native" (see :func:`portconv.conv`).

    Returns
    -------
    array
        ``(N, C, *output_size)``, of the input's library, dtype and device.

    Examples
    --------
    >>> import numpy as np, portconv as pc
    >>> pc.adaptive_{kind}_pool{d}d(np.ones(({shape})), 4).shape
    ({out})
    """
    return op


adaptive_max_pool1d = _fixed_adaptive("max", 1)
adaptive_max_pool2d = _fixed_adaptive("max", 2)
adaptive_max_pool3d = _fixed_adaptive("max", 3)
adaptive_avg_pool1d = _fixed_adaptive("avg", 1)
adaptive_avg_pool2d = _fixed_adaptive("avg", 2)
adaptive_avg_pool3d = _fixed_adaptive("avg", 3)


def global_max_pool(input: Any, *, layout: str = "channels_first", path: str | None = None) -> Any:
    """The maximum over all spatial positions of each channel, the spatial axes kept as size 1.

    Gluon's ``GlobalMaxPool2D``: ``(N, C, H, W) -> (N, C, 1, 1)``; adaptive max pooling to
    size 1. NaN propagates; on ties the first maximum in row-major order is the one whose
    gradient flows.

    Parameters
    ----------
    input : array
        ``(N, C, *spatial)`` with 1 to 3 spatial axes (``(N, *spatial, C)`` with
        ``layout="channels_last"``), real floating.
    layout : str
    path : str, optional
        None, "auto", "generic" or "native".

    Returns
    -------
    array

    Examples
    --------
    >>> import numpy as np, portconv as pc
    >>> pc.global_max_pool(np.arange(8.0).reshape(1, 2, 2, 2))
    array([[[[3.]],
    <BLANKLINE>
            [[7.]]]])
    """
    return run(bind("max", input, None, layout, None), (input,), path)


def global_avg_pool(input: Any, *, layout: str = "channels_first", path: str | None = None) -> Any:
    """The mean over all spatial positions of each channel, the spatial axes kept as size 1.

    Gluon's ``GlobalAvgPool2D``: ``(N, C, H, W) -> (N, C, 1, 1)``; adaptive average pooling to
    size 1.

    Parameters
    ----------
    input : array
        ``(N, C, *spatial)`` with 1 to 3 spatial axes (``(N, *spatial, C)`` with
        ``layout="channels_last"``), real floating.
    layout : str
    path : str, optional
        None, "auto", "generic" or "native".

    Returns
    -------
    array

    Examples
    --------
    >>> import numpy as np, portconv as pc
    >>> pc.global_avg_pool(np.arange(8.0).reshape(1, 2, 2, 2)).ravel()
    array([1.5, 5.5])
    """
    return run(bind("avg", input, None, layout, None), (input,), path)
