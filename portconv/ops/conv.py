"""Convolution, forward and backward, written once against the array API standard.

Public ops (names and argument orders of ``torch.nn.functional``)::

    conv(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1)  # 1-D to 3-D
    conv1d / conv2d / conv3d           # the same, with the number of dimensions checked
    convolve(input, weight, ...)       # true convolution: the kernel flipped on its spatial axes
    corr2d(X, K)                       # the book's 2-D cross-correlation (5.2.1)
    conv_output_shape(input_size, kernel_size, stride=1, padding=0, dilation=1)

How a call runs: :func:`_check` reads the arrays' backend, shapes and dtypes and builds the
call description (:func:`portconv.ops._call.conv_call`); :mod:`portconv.ops._common` runs the
backend's native kernel where the adapter's ``can_run(call)`` says it computes exactly this,
else the generic one below.

**Forward** (:func:`conv_cf`) is im2col: pad the input explicitly, stack the strided windows
of every kernel offset into a column buffer (:func:`portconv._windows.flat_gather` for stride
1, :func:`portconv._windows.gather` otherwise) and contract it with the weight, reshaped to
``(groups, C_out/groups, C_in/groups * prod(kernel))``: one product per example where the
weight is small (:func:`_by_example`), else one matmul per group over the tile's
channels-major buffer. The column
buffer is built a tile of examples (or of output rows) at a time so that it stays within
``portconv.config(memory_budget=...)``, and, on NumPy, within a few MiB that stay in the CPU's
caches until the matmul reads them. A 1 x 1 kernel is a matmul on a reshape, and 3 x 3
stride-1 convolutions with enough channels run Winograd's minimal filtering
(:mod:`portconv.ops.winograd`); :func:`algorithm` names the choice.

**Backward** (:func:`_backward`): the input gradient is the adjoint of every step, i.e. the
transposed convolution of the output gradient (:func:`portconv.ops.conv_transpose.transpose_cf`
on :meth:`ConvCall.adjoint`, itself Winograd's convolution with the flipped kernel where that
applies); the weight gradient is the output gradient times the transposed column buffer,
summed over the batch (:func:`weight_grad`; in Winograd's domain where the forward runs
there); the bias gradient is the output gradient summed over everything but the channels.
Nothing is written into an existing array, so native autograd (torch, MXNet) also
differentiates through the generic forward.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

from .. import _windows
from .._config import memory_budget
from ..errors import ArgumentError
from . import winograd
from ._args import (
    SPATIAL_NAMES,
    channels_last,
    gluon_alias,
    int_tuple,
    itemsize,
    refuse_huge,
    whole_array_limit,
)
from ._call import ConvCall, conv_call
from ._common import (
    Op,
    Plan,
    bound,
    forward,
    prepare,
    require_float,
    require_ndim,
    run,
    same_dtype,
)
from ._dtypes import book_float
from .pad import conv_pad_mode, pad_plan

__all__ = [
    "conv",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_output_shape",
    "convolve",
    "corr2d",
]


# -- the generic forward ---------------------------------------------------------------------------


def _plan(
    n: int,
    channels: int,
    kernel: Sequence[int],
    grid: Sequence[int],
    itemsize: int,
    budget: int,
    xp: Any,
) -> list[tuple[tuple[int, int], tuple[int, int] | None]]:
    """Tiles of the column buffer: ``[((example start, stop), (row start, stop) or None)]``.

    Whole examples are batched while ``channels * prod(kernel) * prod(grid)`` elements of
    each (``grid``: the positions :func:`_grid` computes, output rows first) fit the budget,
    and the cache-sized tile of the namespace's adapter where it names one
    (:func:`portconv._windows.matmul_budget`); an example that does not fit the budget alone
    is split along its first output axis;
    when a single output row does not fit either, the convolution is refused here, before
    anything is allocated."""
    per_example = channels * math.prod(kernel) * math.prod(grid) * itemsize
    if per_example <= budget:
        step = _windows.matmul_budget(xp, budget)
        return [((a, z), None) for a, z in _windows.tiles(n, per_example, step)]
    per_row = per_example // grid[0]
    if per_row > budget:
        raise ArgumentError(
            f"input: the generic convolution needs a column buffer of {per_row} bytes for a "
            f"single output row (C_in {channels} x kernel {tuple(kernel)} x positions "
            f"{tuple(grid[1:])} x {itemsize} bytes; {per_example * n} bytes for the whole "
            f"batch), more than the memory budget of {budget} bytes; raise it with "
            f"portconv.config(memory_budget=...) or use a backend with a native kernel"
        )
    rows = list(_windows.tiles(grid[0], per_row, budget))
    return [((i, i + 1), r) for i in range(n) for r in rows]


def _grid(call: ConvCall, rows: int) -> tuple[int, ...]:
    """The positions :func:`_columns` computes for each example of a padded tile of ``rows``
    output rows: stride 1 uses the flattened shifts of :func:`portconv._windows.flat_gather`
    (the rows of the whole padded width, and so on), other strides the output positions."""
    if all(s == 1 for s in call.stride):
        return (rows,) + tuple(call.canvas[1:])
    return (rows,) + tuple(call.out[1:])


def _by_example(call: ConvCall, columns: int, for_backward: bool) -> bool:
    """Whether a tile's column buffer is laid out one example after another, ``(m, C*K,
    L)``, each example's product with the weight giving its ``(C_out, L)`` outputs in place,
    rather than channels-major, ``(C*K, m*L)``, one product for the tile whose input and
    result are permuted copies.

    By example where there are no groups and the weight has no more rows than an example
    has columns (``columns``, ``L``): each product packs the weight anew, worth it while the
    weight is no larger than the example's columns. One thread, ms per call, channels-major
    -> by example (PyTorch): LeNet's W2 3.96 -> 2.82 (2.68), W3 3.72 -> 3.21 (1.34), 1-D 64
    channels, 5 taps 6.61 -> 5.09 (3.74), ResNet-18's 64 -> 128 stride 2 51.3 -> 49.4
    (38.4); its 256 -> 512 on 7 x 7 outputs, channels-major by this rule, 47.7 -> 53.9, and
    a depthwise 3 x 3 22.5 -> 32.8.

    Never ``for_backward`` (a result that autograd keeps for a backward, or a gradient): the
    channels-major products' result, joined by NumPy's ``concat``, stays channels-major in
    memory, and so do the elementwise results and gradients computed from it, so that the
    backward's channels-major products read them without a copy (a LeNet training step: 0.9
    ms faster forward by example, 1.5-2.2 ms slower backward)."""
    return not for_backward and call.groups == 1 and call.c_out <= columns


def _columns(xp, call: ConvCall, xpad, out, grid, by_example: bool):
    """The column buffer of a padded tile, its positions ``grid`` (:func:`_grid`) per
    example: ``(m, C*K, prod(grid))`` by example (:func:`_by_example`), else
    ``(groups, C/g*K, m*prod(grid))``, channels-major (the tile is first made ``(C, m,
    *spatial)``, a copy ``prod(kernel)`` times smaller than the buffer, so that the buffer
    reshapes without a copy into one large matrix per group). Stride 1 gathers the
    flattened shifts of :func:`portconv._windows.flat_gather`, other strides the strided
    windows of ``gather``."""
    m, c, d, groups = xpad.shape[0], xpad.shape[1], call.d, call.groups
    k, length = math.prod(call.kernel), math.prod(grid)
    if by_example:
        src, axis = xpad, 2  # (m, C, K, ...)
    else:
        src, axis = xp.permute_dims(xpad, (1, 0) + tuple(range(2, d + 2))), 1  # (C, K, m, ...)
    if all(s == 1 for s in call.stride):
        cols = _windows.flat_gather(xp, src, call.kernel, call.dilation, out, axis, call.device)
    else:
        cols = _windows.gather(xp, src, call.kernel, call.stride, call.dilation, out, axis=axis)
    if by_example:
        return xp.reshape(cols, (m, c * k, length))
    return xp.reshape(cols, (groups, (c // groups) * k, m * length))


def _crop_grid(y: Any, grid, out) -> Any:
    """Outputs ``(..., *grid)`` without the columns past ``out`` (flattened shifts' extra
    columns, which read across rows)."""
    if tuple(grid) == tuple(out):
        return y
    return y[(...,) + tuple(slice(0, o) for o in out)]


def _columns_times_weight(xp, call: ConvCall, xpad, wm, out, for_backward: bool):
    """im2col on a padded tile and its product with the reshaped weight ``wm``, ``(g,
    Cout/g, Cin/g*K)``: a batch of ``(Cout, Cin*K) @ (Cin*K, L)``, one per example, or one
    matmul per group, ``(g, Cout/g, Cin/g*K) @ (g, Cin/g*K, m*L)`` (:func:`_by_example`);
    ``(m, C_out, *out)``."""
    m, grid = xpad.shape[0], _grid(call, out[0])
    by_example = _by_example(call, math.prod(grid), for_backward)
    cols = _columns(xp, call, xpad, out, grid, by_example)
    c_out = wm.shape[0] * wm.shape[1]
    if by_example:
        y = xp.matmul(wm[0, ...], cols)  # (m, C_out, L): each example's outputs in place
        return _crop_grid(xp.reshape(y, (m, c_out) + tuple(grid)), grid, out)
    y = xp.reshape(xp.matmul(wm, cols), (c_out, m) + tuple(grid))
    return xp.permute_dims(_crop_grid(y, grid, out), (1, 0) + tuple(range(2, y.ndim)))


def _pointwise(xp: Any, call: ConvCall, x: Any, w: Any) -> Any:
    """A 1 x 1 convolution without padding: a matmul on a reshape (strided first when the
    stride is above 1), no column buffer and no permutation."""
    n, c, g = call.n, call.c_in, call.groups
    if tuple(x.shape[2:]) != call.out:  # strided, or an adjoint's call with fewer outputs
        x = x[(...,) + tuple(slice(0, (o - 1) * s + 1, s) for o, s in zip(call.out, call.stride))]
    p = math.prod(call.out)
    xm = xp.reshape(x, (n, g, c // g, p))
    wm = xp.reshape(w, (g, call.c_out // g, c // g))
    return xp.reshape(xp.matmul(wm, xm), call.out_shape)  # (n, g, Cout/g, P)


def _is_pointwise(call: ConvCall) -> bool:
    return math.prod(call.kernel) == 1 and all(p == (0, 0) for p in call.padding)


def algorithm(xp: Any, call: ConvCall) -> str:
    """The name of the algorithm the generic forward computes the convolution ``call`` with on
    arrays of namespace ``xp`` (for reports: ``benchmarks/accuracy.py``): ``"1x1 matmul"``,
    ``"Winograd F(4x4,3x3)"`` or ``"Winograd F(3x3,3x3)"``
    (:func:`portconv.ops.winograd.choose`; ``"Winograd F(4,3)"`` in 1-D, ``"Winograd
    F(3x3x3,3x3x3)"`` in 3-D), or ``"im2col"``."""
    if _is_pointwise(call):
        return "1x1 matmul"
    m = winograd.choose(xp, call)
    if m is None:
        return "im2col"
    return f"Winograd F({'x'.join([str(m)] * call.d)},{'x'.join(['3'] * call.d)})"


def conv_cf(xp: Any, call: ConvCall, x: Any, w: Any, for_backward: bool = False) -> Any:
    """The convolution (no bias) of batched, channels-first ``x`` with ``w``: a matmul for
    1 x 1 kernels, Winograd's algorithm where :func:`portconv.ops.winograd.choose` takes it,
    else im2col in tiles that keep the column buffer within the memory budget
    (``for_backward``: the result is kept for a backward or is a gradient, see
    :func:`_by_example`)."""
    n, c, out, kernel = call.n, call.c_in, call.out, call.kernel
    c_out, groups = w.shape[0], call.groups
    if _is_pointwise(call):
        return _pointwise(xp, call, x, w)
    tile = winograd.choose(xp, call)
    if tile is not None:
        return winograd.conv(xp, call, x, w, tile)
    plan = _plan(n, c, kernel, _grid(call, out[0]), itemsize(xp, x.dtype), memory_budget(), xp)
    wm = xp.reshape(w, (groups, c_out // groups, w.shape[1] * math.prod(kernel)))
    pieces = []
    for (a, z), rows in plan:
        xt = x if (a, z) == (0, n) else x[a:z, ...]
        if rows is None:
            xpad = _windows.pad(xp, xt, call.padding, 0.0, call.device)
            pieces.append(_columns_times_weight(xp, call, xpad, wm, out, for_backward))
            continue
        r0, r1 = rows
        part = _row_slab(xp, call, xt, r0, r1)
        rows_out = (r1 - r0,) + tuple(out[1:])
        pieces.append(_columns_times_weight(xp, call, part, wm, rows_out, for_backward))
    if plan and plan[0][1] is not None:  # join rows into examples, then examples
        per = len(plan) // n
        pieces = [xp.concat(pieces[i * per : (i + 1) * per], axis=2) for i in range(n)]
    return pieces[0] if len(pieces) == 1 else xp.concat(pieces, axis=0)


def _row_slab(xp: Any, call: ConvCall, xt: Any, r0: int, r1: int) -> Any:
    """The padded rows that output rows ``[r0, r1)`` read, built from the input rows they
    cover (an example too large for the budget is never padded whole)."""
    (top, _), rest = call.padding[0], list(call.padding[1:])
    start = r0 * call.stride[0]  # in padded coordinates
    stop = (r1 - 1) * call.stride[0] + (call.kernel[0] - 1) * call.dilation[0] + 1
    h = xt.shape[2]
    lo, hi = min(max(start - top, 0), h), min(max(stop - top, 0), h)
    before = min(max(top - start, 0), stop - start)
    after = (stop - start) - before - (hi - lo)
    if hi == lo:  # only padding: zeros of the slab's shape
        widths = tuple(n + b + e for n, (b, e) in zip(xt.shape[3:], rest))
        shape = tuple(xt.shape[:2]) + (stop - start,) + widths
        return xp.zeros(shape, dtype=xt.dtype, device=call.device)
    slab = xt[:, :, lo:hi, ...]
    return _windows.pad(xp, slab, [(before, after)] + rest, 0.0, call.device)


def _add_bias(xp: Any, y: Any, b: Any) -> Any:
    return y + xp.reshape(b, (b.shape[0],) + (1,) * (y.ndim - 2))


def _forward(
    xp: Any, call: ConvCall, x: Any, w: Any, b: Any = None, for_backward: bool = False
) -> Any:
    y = conv_cf(xp, call, x, w, for_backward)
    return y if b is None else _add_bias(xp, y, b)


def _forward_for_backward(xp: Any, call: ConvCall, x: Any, w: Any, b: Any = None) -> Any:
    return _forward(xp, call, x, w, b, for_backward=True)


# -- the generic backward --------------------------------------------------------------------------


def weight_grad(xp: Any, call: ConvCall, x: Any, dy: Any) -> Any:
    """The gradient of ``conv(x, w)`` with respect to ``w`` (``(C_out, C_in/groups,
    *kernel)``): the output gradient ``dy`` times the transposed column buffer of ``x``,
    summed over the batch, in tiles of examples within the memory budget (and the adapter's
    cache-sized tile, as the forward's); where Winograd computes the forward, in its domain
    (:func:`portconv.ops.winograd.weight_grad`)."""
    m = winograd.choose(xp, call)
    if m is not None:
        return winograd.weight_grad(xp, call, x, dy, m)
    n, c, c_out = x.shape[0], x.shape[1], dy.shape[1]
    out, kernel, groups, d = tuple(dy.shape[2:]), call.kernel, call.groups, call.d
    k, p = math.prod(kernel), math.prod(out)
    per_example = c * k * p * itemsize(xp, x.dtype)
    channels_major = (1, 0) + tuple(range(2, d + 2))
    acc = None
    for a, z in _windows.tiles(n, per_example, _windows.matmul_budget(xp, memory_budget())):
        m = z - a
        # channels-major tiles, as the forward's: the batch joins the contraction, one
        # large matmul per group instead of one per example
        xpad = _windows.pad(xp, x[a:z, ...], call.padding, 0.0, call.device)
        xcm = xp.permute_dims(xpad, channels_major)  # (C, m, *spatial)
        cols = _windows.gather(xp, xcm, kernel, call.stride, call.dilation, out, axis=1)
        cols = xp.reshape(cols, (groups, (c // groups) * k, m * p))
        g = xp.reshape(
            xp.permute_dims(dy[a:z, ...], channels_major), (groups, c_out // groups, m * p)
        )
        # (g, Cin/g*K, Cout/g): the column buffer as the left, untransposed operand (OpenBLAS
        # 1.1-1.7x faster on this product than g @ cols^T)
        part = xp.matmul(cols, xp.matrix_transpose(g))
        acc = part if acc is None else acc + part
    acc = xp.permute_dims(acc, (0, 2, 1))  # (g, Cout/g, Cin/g*K)
    return xp.reshape(acc, (c_out, c // groups) + tuple(kernel))


def bias_grad(xp: Any, g: Any) -> Any:
    """The gradient of adding a per-channel bias: ``g`` summed over all but the channels."""
    return xp.sum(g, axis=(0,) + tuple(range(2, g.ndim)))


def _backward(xp: Any, call: ConvCall, arrays, y, g, needs) -> tuple:
    from .conv_transpose import transpose_cf  # the adjoint's kernel lives with its op

    x, w, b = arrays
    gx = transpose_cf(xp, call.adjoint(), g, w) if needs[0] else None
    gw = weight_grad(xp, call, x, g) if needs[1] else None
    gb = bias_grad(xp, g) if len(needs) > 2 and needs[2] and b is not None else None
    return gx, gw, gb


#: convolution: the generic forward and its gradient
CONV = Op("conv", _forward, _backward, differentiated=_forward_for_backward)


# -- the front end ---------------------------------------------------------------------------------


def _shapes_text(d: int, last: bool) -> tuple[str, str]:
    """How input and weight shapes read for ``d`` spatial dimensions, for error messages."""
    sp = ", ".join(SPATIAL_NAMES[d])
    ks = ", ".join("k" + n for n in SPATIAL_NAMES[d])
    if last:
        return f"(N, {sp}, C) or unbatched ({sp}, C)", f"({ks}, C_in/groups, C_out)"
    return f"(N, C, {sp}) or unbatched (C, {sp})", f"(C_out, C_in/groups, {ks})"


def _check(input, weight, bias, stride, padding, dilation, groups, layout, d, flip) -> Plan:
    """Every check of a convolution call, and its :class:`Plan`."""
    last = channels_last(layout, d, "convolution")
    be, xp, (x, w, b) = prepare(input, weight, bias, names=("input", "weight", "bias"))
    if d is None:
        if getattr(w, "ndim", None) not in (3, 4, 5):
            require_ndim(
                "weight",
                w,
                (3, 4, 5),
                "(*kernel, C_in/groups, C_out)" if last else "(C_out, C_in/groups, *kernel)",
            )
        d = w.ndim - 2
        channels_last(layout, d, "convolution")
    if w.ndim != d + 2 or x.ndim not in (d + 1, d + 2):
        in_text, w_text = _shapes_text(d, last)
        require_ndim("weight", w, (d + 2,), w_text)
        require_ndim("input", x, (d + 1, d + 2), in_text)
    require_float(xp, "input", x)
    if w.dtype != x.dtype:
        require_float(xp, "weight", w)
        same_dtype("weight", w, x)
    if b is not None and b.dtype != x.dtype:
        require_float(xp, "bias", b)
        same_dtype("bias", b, x)
    batched = x.ndim == d + 2
    xs, ws = tuple(x.shape), tuple(w.shape)
    if not batched:
        xs = (1,) + xs
    if last:  # (N, *spatial, C) -> (N, C, *spatial); (*kernel, Cin/g, Cout) -> (Cout, Cin/g, *k)
        xs = (xs[0], xs[-1]) + xs[1:-1]
        ws = (ws[-1], ws[-2]) + ws[:-2]
    call = conv_call(
        xs,
        ws,
        None if b is None else tuple(b.shape),
        stride,
        padding,
        dilation,
        groups,
        dtype=x.dtype,
        device=be.device,
        channels_last=last,
    )
    item, budget = itemsize(xp, x.dtype), whole_array_limit(be)
    n, c = call.n, call.c_in
    refuse_huge(
        "padding",
        f"the padded input {call.canvas} (input shape {tuple(x.shape)})",
        math.prod(call.canvas) * c * max(n, 1) * item,
        budget,
    )
    refuse_huge(
        "stride",
        f"the result {call.out_shape}",
        math.prod(call.out) * max(call.c_out, 1) * max(n, 1) * item,
        budget,
    )
    return Plan(CONV, be, call, batched, last, flip)


def bind(
    input, weight, bias, stride, padding, dilation, groups, layout, d, flip,
    padding_mode="zeros",
) -> Plan | tuple[Plan, Plan]:  # fmt: skip
    """The checked :class:`Plan` of a convolution call (from the cache of repeated calls when
    an equal call was checked before); for a ``padding_mode`` other than "zeros", the plans
    of the padding and of the convolution that follows it without padding."""
    args = ("conv", stride, padding, dilation, groups, layout, d, flip, padding_mode)

    def check() -> Plan | tuple[Plan, Plan]:
        mode = conv_pad_mode(padding_mode)
        plan = _check(input, weight, bias, stride, padding, dilation, groups, layout, d, flip)
        if mode == "constant" or all(p == (0, 0) for p in plan.call.padding):
            return plan
        return padded(plan, mode)

    return bound((input, weight, bias), args, check)


def exact_conv(input, weight, bias, stride, padding, dilation, groups) -> Any:
    """:func:`conv` (channels first) of float64 arrays that hold integers, computed exactly:
    its call is marked ``exact``, so no algorithm that rounds (Winograd's) computes it. For
    the adapters that run ONNX's integer convolutions chunk by chunk (Dask); those ops
    (:mod:`portconv.ops.qconv`) build their own call, marked by ``conv_call(exact=True)``."""
    plan = _check(
        input, weight, bias, stride, padding, dilation, groups, "channels_first", None, False
    )
    plan = dataclasses.replace(plan, call=dataclasses.replace(plan.call, exact=True))
    return run(plan, (input, weight, bias), None)


def padded(plan: Plan, mode: str) -> tuple[Plan, Plan]:
    """A convolution ``plan`` as two: padding its input with ``mode``, then the convolution
    of the padded input without padding (as PyTorch runs ``padding_mode``)."""
    pre = pad_plan(plan, mode)
    zero = ((0, 0),) * plan.call.d
    call = dataclasses.replace(plan.call, size=pre.call.out, padding=zero)
    return pre, dataclasses.replace(plan, call=call)


def run_conv(plans: Plan | tuple[Plan, Plan], arrays: tuple, path: str | None) -> Any:
    """Run what :func:`bind` returned on the caller's arrays."""
    if isinstance(plans, Plan):
        return run(plans, arrays, path)
    pre, plan = plans
    return run(plan, (run(pre, arrays[:1], path),) + tuple(arrays[1:]), path)


# -- public ops ------------------------------------------------------------------------------------


def conv(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
    *,
    layout: str = "channels_first",
    path: str | None = None,
    strides: Any = None,
    padding_mode: str = "zeros",
) -> Any:
    """Cross-correlation of ``input`` with ``weight`` over 1 to 3 spatial dimensions.

    The convolution of deep learning, as ``torch.nn.functional.conv2d`` and Gluon's
    ``Conv2D`` compute it (the kernel is not flipped; see :func:`convolve`). The number of
    spatial dimensions comes from the weight.

    Parameters
    ----------
    input : array
        ``(N, C_in, *spatial)`` or unbatched ``(C_in, *spatial)``; with
        ``layout="channels_last"``, ``(N, *spatial, C_in)`` or ``(*spatial, C_in)``. A real
        floating dtype.
    weight : array
        ``(C_out, C_in/groups, *kernel)``; channels last: ``(*kernel, C_in/groups, C_out)``
        (TensorFlow/Keras's HWIO). The input's library and dtype.
    bias : array, optional
        ``(C_out,)``.
    stride, dilation : int or tuple of int
        One int for every axis, or one per axis. ``strides=`` is Gluon's spelling of
        ``stride``.
    padding : int, tuple, or str
        An int (both sides of every axis), one int per axis, one ``(before, after)`` pair per
        axis, ``"valid"``, ``"same"`` (output ``ceil(n / stride)``, the odd extra at the end,
        as TensorFlow and ONNX's SAME_UPPER) or ``"same_lower"`` (the extra at the
        beginning).
    groups : int
        Splits the channels into independent groups (``groups == C_in``: depthwise).
    padding_mode : str
        What the padding holds, as PyTorch's ``nn.Conv2d(padding_mode=...)``: ``"zeros"``
        (default), ``"reflect"`` (mirrored without repeating the edge; each pad smaller than
        its axis), ``"replicate"`` (the edge repeated) or ``"circular"`` (wrapped around;
        each pad at most its axis). The input is padded so, then convolved without padding.
    layout : str
        ``"channels_first"`` (default; also "NCW", "NCHW", "NCDHW") or ``"channels_last"``
        ("NWC", "NHWC", "NDHWC").
    path : str, optional
        None (the ``portconv.config(path=...)`` in force, "auto" by default), "auto" (the
        backend's native kernel where it computes exactly this, else the generic one),
        "generic" or "native" (an error giving the reason where the backend cannot).

    Returns
    -------
    array
        ``(N, C_out, *out)`` (unbatched or channels last as the input), of the input's
        library, dtype and device, where along each axis ``out = floor((n + p -
        dilation*(k-1) - 1) / stride) + 1``, the book's ``floor((n - k + p + s) / s)`` for
        dilation 1, with ``p`` the axis's total padding.

    Raises
    ------
    ArrayTypeError
        Arrays of two libraries, a non-floating input, a weight or bias of another dtype.
    ArgumentError
        Shapes that do not fit (channels, groups, a kernel larger than the padded input), a
        bad stride, padding, dilation or layout.

    Examples
    --------
    >>> import numpy as np, portconv as pc
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> pc.conv(x, np.ones((1, 1, 2, 2)), stride=2)
    array([[[[10., 18.],
             [42., 50.]]]])
    >>> pc.conv(x, np.ones((2, 1, 3, 3)), padding="same").shape
    (1, 2, 4, 4)
    """
    stride = gluon_alias("stride", stride, "strides", strides, 1)
    plans = bind(
        input, weight, bias, stride, padding, dilation, groups, layout, None, False, padding_mode
    )
    return run_conv(plans, (input, weight, bias), path)


def _fixed(d: int):
    def op(
        input: Any,
        weight: Any,
        bias: Any = None,
        stride: Any = 1,
        padding: Any = 0,
        dilation: Any = 1,
        groups: int = 1,
        *,
        layout: str = "channels_first",
        path: str | None = None,
        strides: Any = None,
        padding_mode: str = "zeros",
    ) -> Any:
        stride = gluon_alias("stride", stride, "strides", strides, 1)
        plans = bind(
            input, weight, bias, stride, padding, dilation, groups, layout, d, False, padding_mode
        )
        return run_conv(plans, (input, weight, bias), path)

    names = ", ".join(SPATIAL_NAMES[d])
    ks = ", ".join("k" + n for n in SPATIAL_NAMES[d])
    shape = ", ".join(["1", "1"] + ["5"] * d)
    kshape = ", ".join(["2", "1"] + ["3"] * d)
    out = ", ".join(["1", "2"] + ["3"] * d)
    op.__name__ = op.__qualname__ = f"conv{d}d"
    op.__module__ = __name__
    op.__doc__ = f"""{d}-D cross-correlation, as ``torch.nn.functional.conv{d}d``.

    :func:`conv` for an input ``(N, C_in, {names})`` or unbatched ``(C_in, {names})`` and a
    weight ``(C_out, C_in/groups, {ks})``: the same arguments, with the number of spatial
    dimensions checked.

    Parameters
    ----------
    input, weight, bias, stride, padding, dilation, groups, layout, path, strides
        As :func:`conv`.
    padding_mode
        As :func:`conv`.

    Returns
    -------
    array
        ``(N, C_out, {", ".join("out_" + n for n in SPATIAL_NAMES[d])})``, of the input's
        library, dtype and device.

    Examples
    --------
    >>> import numpy as np, portconv as pc
    >>> x = np.ones(({shape}))
    >>> pc.conv{d}d(x, np.ones(({kshape})), padding=0).shape
    ({out})
    """
    return op


conv1d = _fixed(1)
conv2d = _fixed(2)
conv3d = _fixed(3)


def _single(
    X: Any, K: Any, names: tuple[str, str], stride, padding, dilation, groups, path, flip,
    padding_mode="zeros",
):  # fmt: skip
    """A 2-D input ``X`` and a 2-D kernel ``K``: one image, one kernel, one result image."""
    be, xp, (x, k) = prepare(X, K, names=names)
    require_ndim(names[0], x, (2,), "height, width")
    require_ndim(names[1], k, (2,), "kernel height, kernel width")
    if flip:  # convolve: floating arrays of one dtype, as conv
        require_float(xp, names[0], x)
        require_float(xp, names[1], k)
        same_dtype(names[1], k, x)
    else:  # the book's corr2d: integers compute in floats, as its zeros(...) does
        dtype = book_float(xp, names, [x, k], be.device)
        x = x if x.dtype == dtype else xp.astype(x, dtype)
        k = k if k.dtype == dtype else xp.astype(k, dtype)
    call = conv_call(
        (1, 1) + tuple(x.shape),
        (1, 1) + tuple(k.shape),
        None,
        stride,
        padding,
        dilation,
        groups,
        dtype=x.dtype,
        device=be.device,
    )
    k4 = k[None, None, ...]
    if flip:
        k4 = xp.flip(k4, axis=(2, 3))
    plan, x4 = Plan(CONV, be, call), x[None, None, ...]
    mode = conv_pad_mode(padding_mode)
    if mode != "constant":
        pre, plan = padded(plan, mode)
        x4 = forward(pre, [x4], path)
    y = forward(plan, [x4, k4, None], path)
    return be.adapter.from_standard(y[0, 0, ...], X)


def convolve(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
    *,
    layout: str = "channels_first",
    path: str | None = None,
    strides: Any = None,
    padding_mode: str = "zeros",
) -> Any:
    """True convolution (5.2.5): :func:`conv` with the kernel flipped along every spatial axis.

    ``Y[i, j] = sum_ab X[i + a, j + b] * K[h - 1 - a, w - 1 - b]``. Given a 2-D ``input`` and a
    2-D ``weight``, both are one image and one kernel, as in :func:`corr2d`, and so is the
    result.

    Parameters
    ----------
    input, weight, bias, stride, padding, dilation, groups, layout, path, strides
        As :func:`conv` (or a 2-D image and a 2-D kernel, without ``bias`` and ``groups``).
    padding_mode
        As :func:`conv`.

    Returns
    -------
    array
        As :func:`conv` (a 2-D image for a 2-D input and kernel).

    Examples
    --------
    >>> import numpy as np, portconv as pc
    >>> X = np.array([[1.0, 2.0, 3.0]])
    >>> pc.convolve(X, np.array([[1.0, 0.0]])), pc.corr2d(X, np.array([[1.0, 0.0]]))
    (array([[2., 3.]]), array([[1., 2.]]))
    """
    stride = gluon_alias("stride", stride, "strides", strides, 1)
    if getattr(input, "ndim", None) == 2 and getattr(weight, "ndim", None) == 2:
        if bias is not None:
            raise ArgumentError(
                f"bias: a 2-D input and 2-D kernel take no bias (one image, one kernel), got "
                f"{type(bias).__name__}"
            )
        names = ("input", "weight")
        return _single(
            input, weight, names, stride, padding, dilation, groups, path, True, padding_mode
        )
    plans = bind(
        input, weight, bias, stride, padding, dilation, groups, layout, None, True, padding_mode
    )
    return run_conv(plans, (input, weight, bias), path)


def corr2d(X: Any, K: Any) -> Any:
    """The book's two-dimensional cross-correlation (5.2.1), no padding, stride 1.

    ``Y[i, j] = sum(X[i:i+h, j:j+w] * K)``, computed by the same machinery as :func:`conv2d`
    (one image, one channel).

    Parameters
    ----------
    X : array
        A 2-D image ``(height, width)``, real floating or integer.
    K : array
        A 2-D kernel ``(h, w)`` of ``X``'s library, no larger than ``X``; real floating (of
        ``X``'s dtype if that is floating too) or integer.

    Returns
    -------
    array
        ``(height - h + 1, width - w + 1)``, of ``X``'s library and device, in the floating
        dtype of the inputs, or, for two integer inputs, the library's default floating
        dtype (float32 on PyTorch and MXNet, float64 on NumPy), as the book's helper, which
        fills ``zeros(...)``, returns.

    Examples
    --------
    >>> import numpy as np, portconv as pc
    >>> X = np.array([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]])
    >>> pc.corr2d(X, np.array([[0.0, 1.0], [2.0, 3.0]]))
    array([[19., 25.],
           [37., 43.]])
    """
    be, xp, (x, k) = prepare(X, K, names=("X", "K"))
    if getattr(x, "ndim", 0) == 2 and getattr(k, "ndim", 0) == 2:
        h, w = k.shape
        if x.shape[0] - h + 1 < 1 or x.shape[1] - w + 1 < 1:
            raise ArgumentError(
                f"K: kernel shape {(h, w)} is larger than the input shape {tuple(x.shape)}; "
                f"the kernel must fit inside X"
            )
    return _single(X, K, ("X", "K"), 1, 0, 1, 1, None, False)


def conv_output_shape(
    input_size: Any,
    kernel_size: Any,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
) -> tuple[int, ...]:
    """The spatial output shape of a convolution, without running one.

    Per axis the book's ``floor((n - k + p + s) / s)`` (5.3.2), ``p`` the axis's total
    padding, generalised to dilation as ``floor((n + p - dilation*(k-1) - 1) / s) + 1``.

    Parameters
    ----------
    input_size, kernel_size : int or tuple of int
        One int per spatial axis (an int is repeated to match the other; two ints alone mean
        one axis).
    stride, padding, dilation
        As :func:`conv` (every padding form).

    Returns
    -------
    tuple of int

    Examples
    --------
    >>> import portconv as pc
    >>> pc.conv_output_shape((8, 8), 3, padding=1, stride=2)
    (4, 4)
    """
    d = 1
    for v in (input_size, kernel_size):
        if isinstance(v, Sequence) and not isinstance(v, str):
            d = len(v)
            break
    if d < 1:
        raise ArgumentError(f"input_size: expected at least one spatial size, got {input_size!r}")
    n = int_tuple("input_size", input_size, d, minimum=1)
    k = int_tuple("kernel_size", kernel_size, d, minimum=1)
    call = conv_call(
        (1, 1) + n, (1, 1) + k, None, stride, padding, dilation, kernel_name="kernel_size"
    )
    return call.out
