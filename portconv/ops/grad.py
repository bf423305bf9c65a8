"""Gradient rules of convolution and pooling, written once against the array API standard.

A forward op of portconv is a few array API steps; its gradient is the adjoint of each step,
taken in reverse order (all on channels-first, batched arrays; spatial axes last)::

    forward                                     backward (adjoint)
    pad: concatenate a border around x          crop: slice the border off
    window: the strided slice at one offset     unwindow: zero-stuff by the stride, pad to
                                                the offset (the slice's values put back)
    gather: stack every offset's window         col2im: the sum of every offset's unwindow
    (im2col)
    matmul with the weight                      matmul with the weight transposed

So the input gradient of a convolution is ``col2im(W^T @ dY)``, which is also the transposed
convolution (:func:`conv_transpose_cf`); its weight gradient is ``dY @ im2col(X)^T``, a
correlation of the input with the output gradient (:func:`conv_weight_grad`). Max pooling sends
each output's gradient to the first maximum of its window in row-major order (PyTorch's and
MXNet's choice on ties); average pooling spreads it evenly over what the average divided by.

Everything here is functional (nothing is written into an existing array) and uses the
standard's functions only, so it runs on every backend, array-api-strict included, and the
gradients are arrays of the caller's library on the caller's device.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from .. import _windows
from .._config import memory_budget
from ._args import itemsize

Pads = Sequence[tuple[int, int]]


def _by_examples(xp: Any, n: int, bytes_per_example: int, fn) -> Any:
    """``fn(start, stop)`` over tiles of examples that keep a buffer of ``bytes_per_example``
    each within the memory budget, joined along the batch axis."""
    parts = [fn(a, z) for a, z in _windows.tiles(n, bytes_per_example, memory_budget())]
    return parts[0] if len(parts) == 1 else xp.concat(parts, axis=0)


# -- adjoints of the window mechanism ------------------------------------------------------------


def crop(x: Any, pads: Pads) -> Any:
    """The adjoint of :func:`portconv._windows.pad`: ``x`` without its border."""
    d = len(pads)
    spatial = tuple(
        slice(before, n - after) for (before, after), n in zip(pads, x.shape[x.ndim - d :])
    )
    return x[(...,) + spatial]


def dilate(xp: Any, t: Any, stride: Sequence[int], device: Any = None) -> Any:
    """Zero-stuffing: ``stride - 1`` zeros between neighbours along each spatial axis, so that
    an axis of ``m`` elements becomes ``(m - 1) * stride + 1`` long."""
    d = len(stride)
    for i, s in enumerate(stride):
        if s == 1:
            continue
        axis = t.ndim - d + i
        m = t.shape[axis]
        zeros = xp.zeros(tuple(t.shape), dtype=t.dtype, device=device)
        t = xp.stack([t] + [zeros] * (s - 1), axis=axis + 1)  # (..., m, s, ...)
        t = xp.reshape(t, tuple(t.shape[:axis]) + (m * s,) + tuple(t.shape[axis + 2 :]))
        t = t[(slice(None),) * axis + (slice(0, (m - 1) * s + 1), ...)]
    return t


def col2im(
    xp: Any,
    cols: Any,
    kernel: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int],
    canvas: Sequence[int],
    device: Any = None,
) -> Any:
    """The adjoint of :func:`portconv._windows.gather`: ``cols`` of shape
    ``(L, prod(kernel), *out)`` back onto an array of shape ``(L, *canvas)``, each offset's
    values put where its window took them from, overlaps summed. (One leading axis keeps
    every intermediate within 5 dimensions for 3-D kernels, which MXNet needs.)"""
    lead, k = cols.shape[0], cols.shape[1]
    out = tuple(cols.shape[2:])
    if (
        len(kernel) <= 2  # (L, *kernel, *out) stays within MXNet's 5 dimensions
        and tuple(stride) == tuple(kernel)
        and all(dl == 1 for dl in dilation)
        and all(c >= o * kk for c, o, kk in zip(canvas, out, kernel))
    ):
        return _col2im_tiled(xp, cols, kernel, canvas, device)
    stuffed = dilate(xp, xp.reshape(cols, (lead * k,) + out), stride, device)  # every offset
    span = tuple(stuffed.shape[1:])
    stuffed = xp.reshape(stuffed, (lead, k) + span)
    acc = None
    for i, offset in enumerate(_windows.offsets(kernel, dilation)):
        pads = [(o, c - o - n) for o, c, n in zip(offset, canvas, span)]
        part = _windows.pad(xp, stuffed[:, i, ...], pads, 0.0, device)
        acc = part if acc is None else acc + part
    return acc


def _col2im_tiled(xp: Any, cols: Any, kernel: Sequence[int], canvas: Sequence[int], device):
    """:func:`col2im` where the windows tile the canvas without overlap or gaps (stride equal
    to the kernel, no dilation: the 2 x 2 stride-2 pooling of LeNet, and any
    ``kernel_size=stride`` pooling or convolution). Every canvas element then belongs to at
    most one window, so nothing is summed: the offsets interleave back into the output axes,
    ``(L, *kernel, *out) -> (L, o1, k1, o2, k2, ...)``, one copy, and the rows and columns
    past the last window are padded with zeros.

    The general path zero-stuffs each offset by the stride and pads it to the whole canvas
    before adding: for 2 x 2 stride 2 that is 4 canvases built by concatenation and 3 added.
    Measured on the E1 LeNet training step (``portconv bench``; NumPy, one BLAS thread,
    batch 256, median of 3 interleaved runs of 10 steps on 2 shared cores): before this path
    the two max-pooling gradients took 64 ms of a 176 ms step; the step went 118 -> 98 ms
    (and 184 -> 149 ms in a busier moment)."""
    lead = cols.shape[0]
    out = tuple(cols.shape[2:])
    d = len(kernel)
    t = xp.reshape(cols, (lead,) + tuple(kernel) + out)
    order = (0,) + tuple(a for i in range(d) for a in (1 + d + i, 1 + i))  # (L, o1, k1, ...)
    t = xp.permute_dims(t, order)
    t = xp.reshape(t, (lead,) + tuple(o * k for o, k in zip(out, kernel)))
    rest = [(0, c - o * k) for c, o, k in zip(canvas, out, kernel)]
    if any(after for _, after in rest):
        t = _windows.pad(xp, t, rest, 0.0, device)
    return t


def _merge(xp: Any, x: Any) -> Any:
    """(N, C, *spatial) -> (N*C, *spatial)."""
    return xp.reshape(x, (x.shape[0] * x.shape[1],) + tuple(x.shape[2:]))


def _split(xp: Any, x: Any, n: int) -> Any:
    """(N*C, *spatial) -> (N, C, *spatial)."""
    return xp.reshape(x, (n, x.shape[0] // n) + tuple(x.shape[1:]))


# -- convolution -----------------------------------------------------------------------------------


def conv_transpose_cf(
    xp: Any,
    device: Any,
    x: Any,
    w: Any,
    stride: Sequence[int],
    pads: Pads,
    dilation: Sequence[int],
    groups: int,
    canvas: Sequence[int],
) -> Any:
    """The transposed convolution of channels-first ``x`` ``(N, C_in, *n)`` with ``w``
    ``(C_in, C_out/groups, *kernel)``: the adjoint, with respect to its input, of the
    convolution whose weight is ``w`` (so ``C_in`` here is that convolution's output).

    ``canvas`` is the padded size of that convolution's input; the result is the canvas
    without ``pads``: ``(N, C_out, *(canvas - before - after))``."""
    n, c_in = x.shape[0], x.shape[1]
    kernel = tuple(w.shape[2:])
    k = math.prod(kernel)
    c_out = w.shape[1] * groups
    p = math.prod(x.shape[2:])
    # (g, C_in/g, C_out/g * K) -> (g, C_out/g * K, C_in/g): the weight transposed
    wt = xp.permute_dims(xp.reshape(w, (groups, c_in // groups, w.shape[1] * k)), (0, 2, 1))

    def tile(a: int, z: int) -> Any:
        xt = xp.reshape(x[a:z, ...], (z - a, groups, c_in // groups, p))
        cols = xp.matmul(wt, xt)  # (m, g, C_out/g * K, P)
        cols = xp.reshape(cols, ((z - a) * c_out, k) + tuple(x.shape[2:]))
        full = col2im(xp, cols, kernel, stride, dilation, canvas, device)
        return crop(_split(xp, full, z - a), pads)

    per_example = (c_out * k * p + c_out * math.prod(canvas)) * itemsize(xp, x.dtype)
    return _by_examples(xp, n, per_example, tile)


def conv_input_grad(
    xp: Any,
    device: Any,
    dy: Any,
    w: Any,
    size: Sequence[int],
    stride: Sequence[int],
    pads: Pads,
    dilation: Sequence[int],
    groups: int,
) -> Any:
    """The gradient of ``conv(x, w)`` with respect to ``x`` (spatial size ``size``), given
    the output gradient ``dy``: the transposed convolution of ``dy``.

    Tried and rejected (2026-11-23): with stride 1, computing it as a plain convolution of
    ``dy`` padded by ``(k - 1) * dilation - pad`` with the flipped, channel-swapped weight
    (the forward's im2col and one matmul per group, no col2im). Measured side by side
    (NumPy, one BLAS thread, median of 3 on 2 shared cores): W4 forward+backward 627 ->
    625 ms (no gain), the E1 LeNet training step 89 -> 127 ms (worse: for LeNet's second
    convolution, 6 input channels and a 5 x 5 kernel, the padded ``dy`` has 16 channels, so
    its column buffer is 5x the col2im's)."""
    canvas = tuple(s + b + a for s, (b, a) in zip(size, pads))
    return conv_transpose_cf(xp, device, dy, w, stride, pads, dilation, groups, canvas)


def conv_weight_grad(
    xp: Any,
    device: Any,
    x: Any,
    dy: Any,
    kernel: Sequence[int],
    stride: Sequence[int],
    pads: Pads,
    dilation: Sequence[int],
    groups: int,
) -> Any:
    """The gradient of ``conv(x, w)`` with respect to ``w`` (``(C_out, C_in/groups,
    *kernel)``): the correlation of the padded input with the output gradient, i.e. the
    output gradient times the transposed column buffer, summed over the batch."""
    n, c = x.shape[0], x.shape[1]
    c_out = dy.shape[1]
    out = tuple(dy.shape[2:])
    d = len(kernel)
    k, p = math.prod(kernel), math.prod(out)
    budget = memory_budget()
    per_example = c * k * p * itemsize(xp, x.dtype)
    channels_major = (1, 0) + tuple(range(2, d + 2))
    acc = None
    for a, z in _windows.tiles(n, per_example, budget):
        m = z - a
        # channels-major tiles, as the forward's im2col (portconv/ops/conv.py): the batch
        # joins the contraction, one large matmul per group instead of one per example
        # (W4 forward+backward on NumPy: the per-example products were 2.9 s of 4.1 s)
        xpad = _windows.pad(xp, x[a:z, ...], pads, 0.0, device)
        xcm = xp.permute_dims(xpad, channels_major)  # (C, m, *spatial)
        cols = _windows.gather(xp, xcm, kernel, stride, dilation, out, axis=1)  # (C, K, m, *out)
        cols = xp.reshape(cols, (groups, (c // groups) * k, m * p))
        g = xp.reshape(
            xp.permute_dims(dy[a:z, ...], channels_major), (groups, c_out // groups, m * p)
        )
        part = xp.matmul(g, xp.matrix_transpose(cols))  # (g, Cout/g, Cin/g*K)
        acc = part if acc is None else acc + part
    return xp.reshape(acc, (c_out, c // groups) + tuple(kernel))


def conv_forward_cf(
    xp: Any,
    device: Any,
    x: Any,
    w: Any,
    stride: Sequence[int],
    pads: Pads,
    dilation: Sequence[int],
    groups: int,
    out: Sequence[int],
) -> Any:
    """A convolution with a given output size ``out`` (at most what fits; the adjoint of the
    transposed convolution, whose output padding may leave positions no window of it needs)."""
    n, c = x.shape[0], x.shape[1]
    c_out = w.shape[0]
    kernel = tuple(w.shape[2:])
    k, p = math.prod(kernel), math.prod(out)
    wm = xp.reshape(w, (groups, c_out // groups, w.shape[1] * k))

    def tile(a: int, z: int) -> Any:
        xpad = _windows.pad(xp, _merge(xp, x[a:z, ...]), pads, 0.0, device)
        cols = _windows.gather(xp, xpad, kernel, stride, dilation, out)  # (m*C, K, *out)
        cols = xp.reshape(cols, (z - a, groups, (c // groups) * k, p))
        return xp.reshape(xp.matmul(wm, cols), (z - a, c_out) + tuple(out))

    return _by_examples(xp, n, c * k * p * itemsize(xp, x.dtype), tile)


# -- pooling ---------------------------------------------------------------------------------------


def pool_pads(
    size: Sequence[int],
    kernel: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int],
    pads: Pads,
    out: Sequence[int],
) -> list[tuple[int, int]]:
    """The padding pooling actually applies: ``pads`` plus, at the end, whatever the last
    window of a ceil/full output reaches past the padded input."""
    result = []
    for n, k, s, dil, (b, a), o in zip(size, kernel, stride, dilation, pads, out):
        need = (o - 1) * s + dil * (k - 1) + 1 - (n + b + a)
        result.append((b, a + max(need, 0)))
    return result


def _iota(xp: Any, n: int, device: Any, shape: Sequence[int]) -> Any:
    return xp.reshape(xp.arange(n, device=device), tuple(shape))


def max_pool_grad(
    xp: Any,
    device: Any,
    x: Any,
    dy: Any,
    kernel: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int],
    pads: Pads,
) -> Any:
    """The gradient of max pooling with respect to ``x``: each output's gradient goes to the
    first maximum of its window in row-major order (``argmax`` returns the first occurrence),
    as PyTorch and MXNet choose on ties. ``pads`` is :func:`pool_pads`'s padding."""
    d = len(kernel)
    out = tuple(dy.shape[2:])
    k = math.prod(kernel)
    canvas = tuple(n + b + a for n, (b, a) in zip(x.shape[2:], pads))
    hit_shape = (1, k) + (1,) * d

    def tile(a: int, z: int) -> Any:
        xpad = _windows.pad(xp, _merge(xp, x[a:z, ...]), pads, float("-inf"), device)
        cols = _windows.gather(xp, xpad, kernel, stride, dilation, out)  # (m*C, K, *out)
        hit = _iota(xp, k, device, hit_shape) == xp.argmax(cols, axis=1, keepdims=True)
        g = xp.expand_dims(_merge(xp, dy[a:z, ...]), axis=1)
        routed = xp.where(hit, g, xp.zeros_like(g))
        full = col2im(xp, routed, kernel, stride, dilation, canvas, device)
        return crop(_split(xp, full, z - a), pads)

    per_example = x.shape[1] * k * math.prod(out) * 2 * itemsize(xp, x.dtype)
    return _by_examples(xp, x.shape[0], per_example, tile)


def avg_pool_grad(
    xp: Any,
    device: Any,
    dy: Any,
    size: Sequence[int],
    kernel: Sequence[int],
    stride: Sequence[int],
    pads: Pads,
    applied: Pads,
    count: str,
) -> Any:
    """The gradient of average pooling with respect to its input of spatial size ``size``:
    each output's gradient divided by the window's count and spread over the window.

    ``pads``: the requested padding; ``applied``: :func:`pool_pads`'s; ``count``: "padded"
    (positions inside the padded input count) or "input" (only the input's elements)."""
    d = len(kernel)
    dilation = (1,) * d
    out = tuple(dy.shape[2:])
    # the divisor: how many counted positions every window holds (at least 1)
    ones = xp.ones((1, 1) + tuple(size), dtype=dy.dtype, device=device)
    if count == "padded":
        ones = _windows.pad(xp, ones, pads, 1.0, device)
        rest = [(0, a2 - a1) for (_, a1), (_, a2) in zip(pads, applied)]
    else:
        rest = applied
    counted = _windows.pad(xp, ones, rest, 0.0, device)
    divisor = _windows.reduce(counted, kernel, stride, dilation, out, lambda s, t: s + t)
    divisor = xp.where(divisor < 1, xp.ones_like(divisor), divisor)
    c = dy.shape[1]
    g = xp.expand_dims(_merge(xp, dy / divisor), axis=1)  # (N*C, 1, *out)
    k = math.prod(kernel)
    canvas = tuple(n + b + a for n, (b, a) in zip(size, applied))

    def tile(a: int, z: int) -> Any:
        spread = xp.broadcast_to(g[a * c : z * c, ...], ((z - a) * c, k) + out)
        full = col2im(xp, spread, kernel, stride, dilation, canvas, device)
        return crop(_split(xp, full, z - a), applied)

    per_example = c * k * math.prod(out) * itemsize(xp, dy.dtype)
    return _by_examples(xp, dy.shape[0], per_example, tile)


# -- adaptive and global pooling -------------------------------------------------------------------


def adaptive_windows(n: int, o: int) -> list[tuple[int, int]]:
    """PyTorch's adaptive windows: output ``i`` of ``o`` covers ``[floor(i*n/o),
    ceil((i+1)*n/o))`` of an axis of size ``n``."""
    return [((i * n) // o, -(-((i + 1) * n) // o)) for i in range(o)]


def _along(xp: Any, t: Any, axis: int, matrix: Any) -> Any:
    """``t`` contracted along ``axis`` with ``matrix`` (rows: ``t``'s axis): the axis's size
    becomes the matrix's column count."""
    last = t.ndim - 1
    order = tuple(i for i in range(t.ndim) if i != axis) + (axis,)
    moved = xp.matmul(xp.permute_dims(t, order), matrix)
    back = list(range(last))
    back.insert(axis, last)
    return xp.permute_dims(moved, tuple(back))


def adaptive_avg_pool_grad(xp: Any, device: Any, dy: Any, size: Sequence[int]) -> Any:
    """The gradient of adaptive average pooling: along each axis, the output is the input
    times an averaging matrix ``A`` (``o x n``, ``1/len`` on each window), so the gradient is
    the output gradient times ``A``."""
    g = dy
    for i, n in enumerate(size):
        o = dy.shape[2 + i]
        rows = []
        for start, stop in adaptive_windows(n, o):
            rows.append([1.0 / (stop - start) if start <= p < stop else 0.0 for p in range(n)])
        g = _along(xp, g, 2 + i, xp.asarray(rows, dtype=dy.dtype, device=device))
    return g


def adaptive_max_pool_grad(xp: Any, device: Any, x: Any, dy: Any) -> Any:
    """The gradient of adaptive max pooling: each output's gradient goes to the first maximum
    of its box in row-major order (PyTorch's choice on ties).

    The box maximum is taken one axis at a time, from the last axis to the first: the first
    maximum along the last axis, then the first row holding the largest of those, and so on,
    which picks the lexicographically first, i.e. row-major first, maximum. Along one axis
    the windows are gathered with ``take`` into ``(o, L)`` (a window shorter than the
    longest repeats its last element, which never wins over the original); the routed
    gradient goes back through the adjoint of ``take``: a matmul with the selection matrix."""
    d = x.ndim - 2
    size, out = tuple(x.shape[2:]), tuple(dy.shape[2:])
    current = _merge(xp, x)  # (N*C, *spatial): at most 5 dimensions below, for MXNet
    stages = []
    for i in reversed(range(d)):
        axis = 1 + i
        n, o = size[i], out[i]
        wins = adaptive_windows(n, o)
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
    g = _merge(xp, dy)
    for axis, o, length, hit, selection in reversed(stages):
        g = xp.expand_dims(g, axis=axis + 1)
        routed = xp.where(hit, g, xp.zeros_like(g))  # (..., o, L, ...)
        shape = tuple(routed.shape[:axis]) + (o * length,) + tuple(routed.shape[axis + 2 :])
        matrix = xp.asarray(selection, dtype=x.dtype, device=device)
        g = _along(xp, xp.reshape(routed, shape), axis, matrix)
    return xp.reshape(g, tuple(x.shape))  # (N*C, *spatial) -> x's shape, also for N = 0


def global_max_pool_grad(xp: Any, device: Any, x: Any, dy: Any) -> Any:
    """The gradient of the maximum over every spatial axis (kept as size 1): to the first
    maximum of each channel in row-major order."""
    flat = xp.reshape(x, (x.shape[0] * x.shape[1], -1))
    k = flat.shape[1]
    hit = _iota(xp, k, device, (1, k)) == xp.argmax(flat, axis=1, keepdims=True)
    g = xp.reshape(dy, (flat.shape[0], 1))
    return xp.reshape(xp.where(hit, g, xp.zeros_like(g)), tuple(x.shape))
