"""Convolution, written once against the array API standard.

Public ops (names and argument orders of ``torch.nn.functional``)::

    conv(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1)  # 1-D to 3-D
    conv1d / conv2d / conv3d           # the same, with the number of dimensions checked
    convolve(input, weight, ...)       # true convolution: the kernel flipped on its spatial axes
    corr2d(X, K)                       # the book's 2-D cross-correlation (5.2.1)
    conv_output_shape(input_size, kernel_size, stride=1, padding=0, dilation=1)

How a call runs: the arguments are checked and normalised here (channels-first arrays, a stride
tuple, (before, after) padding pairs, a dilation tuple, groups), then
:func:`~portconv.ops._common.run_path` hands them to the backend's native kernel where it
computes exactly this (``adapter.native["conv"]``) or to the generic path below.

The generic path is im2col: pad the input explicitly (:func:`portconv._windows.pad`), stack the
strided windows of every kernel offset into a column buffer (:func:`portconv._windows.gather`)
and contract it with the weight, reshaped to ``(groups, C_out/groups, C_in/groups * prod(kernel))``,
in one batched matmul. The column buffer is built a tile of examples (or of output rows) at a
time so that it stays within ``portconv.config(memory_budget=...)``. Nothing is written into an
existing array, so torch autograd and ``mxnet.autograd.record()`` differentiate through it.
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
    output_size,
    padding_pairs,
    refuse_huge,
    whole_array_budget,
)
from ._common import FastLane, prepare, require_float, require_ndim, run_path, runner

__all__ = [
    "conv",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_output_shape",
    "convolve",
    "corr2d",
]


#: repeated calls skip their checks (see FastLane): batched, channels-first, no kernel flip
_LANE = FastLane()


# -- argument checking --------------------------------------------------------------------------


def _shapes_text(d: int, last: bool) -> tuple[str, str]:
    """How input and weight shapes read for ``d`` spatial dimensions, for error messages."""
    sp = ", ".join(SPATIAL_NAMES[d])
    ks = ", ".join("k" + n for n in SPATIAL_NAMES[d])
    if last:
        return f"(N, {sp}, C) or unbatched ({sp}, C)", f"({ks}, C_in/groups, C_out)"
    return f"(N, C, {sp}) or unbatched (C, {sp})", f"(C_out, C_in/groups, {ks})"


def _same_dtype(name: str, a: Any, x: Any) -> None:
    if a.dtype != x.dtype:
        raise ArrayTypeError(
            f"{name}: dtype {a.dtype} differs from the input's dtype {x.dtype}; cast one of "
            f"them so that input, weight and bias share one floating dtype"
        )


def _out_shape(spatial, kernel, stride, dilation, pads) -> tuple[int, ...]:
    """:func:`~portconv.ops._args.output_size` per axis (a plain loop: this runs per call)."""
    out = []
    for i in range(len(spatial)):
        pb, pa = pads[i]
        out.append(output_size(spatial[i], kernel[i], stride[i], dilation[i], pb, pa))
    return tuple(out)


# -- the shared front end -----------------------------------------------------------------------


def _conv(
    input: Any,
    weight: Any,
    bias: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    groups: Any,
    layout: Any,
    path: Any,
    *,
    d: int | None,
    flip: bool,
) -> Any:
    """Check and normalise a conv call, dispatch it, and return the caller's array type.

    ``d`` is the number of spatial dimensions the public op requires (None: from the weight).
    ``flip`` flips the kernel along its spatial axes (true convolution)."""
    key = _LANE.key((input, weight, bias), (stride, padding, dilation, groups, layout, path, d))
    if key is not None and not flip:
        run = _LANE.get(key)
        if run is not None:  # this call's arguments were checked and normalised before
            return run(input, weight, bias)
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
        _same_dtype("weight", w, x)
    if b is not None and b.dtype != x.dtype:
        require_float(xp, "bias", b)
        _same_dtype("bias", b, x)

    batched = x.ndim == d + 2
    if not batched:
        x = xp.expand_dims(x, axis=0)
    if last:  # (N, *spatial, C) -> (N, C, *spatial); (*kernel, Cin/g, Cout) -> (Cout, Cin/g, *k)
        x = xp.permute_dims(x, (0, d + 1) + tuple(range(1, d + 1)))
        w = xp.permute_dims(w, (d + 1, d) + tuple(range(d)))
    if flip:
        w = xp.flip(w, axis=tuple(range(2, d + 2)))

    remember = [] if key is not None and batched and not last and not flip else None
    y = _conv_cf(be, xp, x, w, b, stride, padding, dilation, groups, path, d, remember)
    if remember:
        _LANE.put(key, remember[0])

    if last:
        y = xp.permute_dims(y, (0,) + tuple(range(2, d + 2)) + (1,))
    if not batched:
        y = y[0, ...]
    return be.adapter.from_standard(y, input)


def _conv_cf(be, xp, x, w, b, stride, padding, dilation, groups, path, d, remember=None):
    """Channels-first, batched arrays of one backend: validate the rest and dispatch (and,
    given a list ``remember``, append a runner of this normalised call for the fast lane)."""
    xs, ws = tuple(x.shape), tuple(w.shape)
    n, c, spatial = xs[0], xs[1], xs[2:]
    c_out, c_in_g, kernel = ws[0], ws[1], ws[2:]

    if type(groups) is not int:
        if not _is_int(groups):
            raise ArrayTypeError(f"groups: expected a positive int, got {groups!r}")
        groups = int(groups)
    if groups < 1:
        raise ArgumentError(f"groups: expected a positive int, got {groups!r}")
    if c % groups:
        raise ArgumentError(
            f"groups: {groups} does not divide the input's {c} channels (input channels must "
            f"split evenly into groups)"
        )
    if c_out % groups:
        raise ArgumentError(
            f"groups: {groups} does not divide the weight's {c_out} output channels (output "
            f"channels must split evenly into groups)"
        )
    if c_in_g * groups != c:
        raise ArgumentError(
            f"weight: expects {c_in_g} input channel(s) per group, i.e. {c_in_g * groups} "
            f"input channels with groups={groups}, but the input has {c} channels "
            f"(weight shape {ws} read as (C_out, C_in/groups, *kernel), input shape {xs} read "
            f"as (N, C, *spatial))"
        )
    if c_in_g < 1 or min(kernel) < 1:
        raise ArgumentError(
            f"weight: every dimension must be at least 1, got shape {ws} read as (C_out, "
            f"C_in/groups, *kernel)"
        )
    if b is not None and (b.ndim != 1 or b.shape[0] != c_out):
        raise ArgumentError(
            f"bias: expected shape ({c_out},), one value per output channel, got shape "
            f"{tuple(b.shape)}"
        )
    stride = int_tuple("stride", stride, d)
    dilation = int_tuple("dilation", dilation, d)
    pads = padding_pairs(
        "padding", padding, d, spatial=spatial, kernel=kernel, stride=stride, dilation=dilation
    )
    out = _out_shape(spatial, kernel, stride, dilation, pads)
    if min(out) < 1:
        padded = tuple(ni + pb + pa for ni, (pb, pa) in zip(spatial, pads))
        span = tuple((ki - 1) * di + 1 for ki, di in zip(kernel, dilation))
        raise ArgumentError(
            f"weight: the kernel {kernel} with dilation {dilation} spans {span} elements, more "
            f"than the padded input {padded} (input {spatial}, padding {pads}) along some axis, "
            f"so the output would be empty; pad the input more or use a smaller kernel"
        )
    item, budget = itemsize(xp, x.dtype), whole_array_budget(be)
    padded = [ni + pb + pa for ni, (pb, pa) in zip(spatial, pads)]
    refuse_huge(
        "padding",
        f"the padded input {tuple(padded)} (input shape {xs})",
        math.prod(padded) * c * max(n, 1) * item,
        budget,
    )
    refuse_huge(
        "stride",
        f"the result {(n, c_out) + out}",
        math.prod(out) * max(c_out, 1) * max(n, 1) * item,
        budget,
    )
    if n == 0 or c_out == 0:  # nothing to compute: an empty result of the right shape
        return xp.zeros((n, c_out) + out, dtype=x.dtype, device=be.device)

    generic = functools.partial(_generic, xp, be.device, out)
    kwargs = dict(stride=stride, padding=pads, dilation=dilation, groups=groups, dtype=x.dtype)
    if remember is not None:
        remember.append(runner(be, "conv", path, generic, kwargs))
    return run_path(be, "conv", path, (x, w, b), generic, **kwargs)


# -- the generic path ---------------------------------------------------------------------------


def _plan(
    n: int,
    channels: int,
    kernel: Sequence[int],
    out: Sequence[int],
    itemsize: int,
    budget: int,
) -> list[tuple[tuple[int, int], tuple[int, int] | None]]:
    """Tiles of the column buffer: ``[((example start, stop), (row start, stop) or None)]``.

    Whole examples are batched while ``channels * prod(kernel) * prod(out)`` elements of each
    fit the budget; an example that does not fit alone is split along its first output axis;
    when a single output row does not fit either, the convolution is refused here, before
    anything is allocated."""
    per_example = channels * math.prod(kernel) * math.prod(out) * itemsize
    if per_example <= budget:
        return [((a, z), None) for a, z in _windows.tiles(n, per_example, budget)]
    per_row = per_example // out[0]
    if per_row > budget:
        raise ArgumentError(
            f"input: the generic convolution needs a column buffer of {per_row} bytes for a "
            f"single output row (C_in {channels} x kernel {tuple(kernel)} x output "
            f"{tuple(out[1:])} x {itemsize} bytes; {per_example * n} bytes for the whole "
            f"batch), more than the memory budget of {budget} bytes; raise it with "
            f"portconv.config(memory_budget=...) or use a backend with a native kernel"
        )
    rows = list(_windows.tiles(out[0], per_row, budget))
    return [((i, i + 1), r) for i in range(n) for r in rows]


def _columns_times_weight(xp, xpad, wm, kernel, stride, dilation, out, groups, c_out):
    """im2col on a padded tile and one matmul per group with the reshaped weight.

    The tile is first made channels-major, ``(C, m, *spatial)`` (a copy of the padded input,
    ``prod(kernel)`` times smaller than the column buffer), so that the column buffer comes
    out as ``(C, K, m, *out)`` and reshapes without a copy to ``(groups, C/g*K, m*P)``: one
    large matrix product per group instead of one small one per example. Measured on the
    bench workloads (NumPy 2.4, OpenBLAS, float32, minimum of 3 runs on 2 shared cores), the
    batched ``(Cout, CK) @ (m, CK, P)`` matmul of the layout before against this one:
    W4 616 -> 260 ms, W6 384 -> 228 ms, W7 (1x1) 512 -> 32 ms; on torch tensors it costs a
    little (W4 441 -> 508 ms, W7 24 -> 33 ms), which the native path makes moot. Capping tiles
    at 8 MiB for cache reuse was tried as well and rejected: no steady gain on NumPy, 4-8x
    slower on torch. The result is permuted back to ``(m, C_out, *out)``."""
    m, c = xpad.shape[0], xpad.shape[1]
    d = len(kernel)
    xcm = xp.permute_dims(xpad, (1, 0) + tuple(range(2, d + 2)))  # (C, m, *spatial)
    cols = _windows.gather(xp, xcm, kernel, stride, dilation, out, axis=1)  # (C, K, m, *out)
    cols = xp.reshape(cols, (groups, (c // groups) * math.prod(kernel), m * math.prod(out)))
    y = xp.matmul(wm, cols)  # (g, Cout/g, Cin/g*K) @ (g, Cin/g*K, m*P) -> (g, Cout/g, m*P)
    y = xp.reshape(y, (c_out, m) + tuple(out))
    return xp.permute_dims(y, (1, 0) + tuple(range(2, d + 2)))


def _generic(xp, device, out, x, w, b, *, stride, padding, dilation, groups, **_):
    n, c = x.shape[0], x.shape[1]
    c_out, kernel = w.shape[0], tuple(w.shape[2:])
    d = len(kernel)
    plan = _plan(n, c, kernel, out, itemsize(xp, x.dtype), memory_budget())
    wm = xp.reshape(w, (groups, c_out // groups, w.shape[1] * math.prod(kernel)))
    pieces, padded_example = [], None
    for (a, z), rows in plan:
        xt = x if (a, z) == (0, n) else x[a:z, ...]
        if rows is None:
            xpad = _windows.pad(xp, xt, padding, 0.0, device)
            pieces.append(
                _columns_times_weight(xp, xpad, wm, kernel, stride, dilation, out, groups, c_out)
            )
            continue
        r0, r1 = rows
        if r0 == 0:  # a new example split by output rows
            padded_example = _windows.pad(xp, xt, padding, 0.0, device)
        start = r0 * stride[0]
        stop = (r1 - 1) * stride[0] + (kernel[0] - 1) * dilation[0] + 1
        part = padded_example[:, :, start:stop, ...]
        tile_out = (r1 - r0,) + tuple(out[1:])
        pieces.append(
            _columns_times_weight(xp, part, wm, kernel, stride, dilation, tile_out, groups, c_out)
        )
    if plan and plan[0][1] is not None:  # join rows into examples, then examples
        per = len(plan) // n
        examples = [xp.concat(pieces[i * per : (i + 1) * per], axis=2) for i in range(n)]
        pieces = examples
    y = pieces[0] if len(pieces) == 1 else xp.concat(pieces, axis=0)
    if b is not None:
        y = y + xp.reshape(b, (c_out,) + (1,) * d)
    return y


# -- public ops ---------------------------------------------------------------------------------


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
) -> Any:
    """Cross-correlation of ``input`` with ``weight`` over 1 to 3 spatial dimensions (the
    convolution of deep learning, as ``torch.nn.functional.conv2d`` and Gluon's ``Conv2D``).

    Shapes (channels first, the default): input ``(N, C_in, *spatial)`` or unbatched
    ``(C_in, *spatial)``; weight ``(C_out, C_in/groups, *kernel)``; bias ``(C_out,)``; result
    ``(N, C_out, *out)`` (unbatched when the input is), where along each axis
    ``out = floor((n + p - dilation*(k-1) - 1) / stride) + 1``, the book's
    ``floor((n - k + p + s) / s)`` for dilation 1, with ``p`` the axis's total padding.
    With ``layout="channels_last"`` (or "NWC", "NHWC", "NDHWC"): input ``(N, *spatial,
    C_in)``, weight ``(*kernel, C_in/groups, C_out)`` (TensorFlow/Keras's HWIO), result
    channels last.

    ``stride`` and ``dilation``: an int or one int per spatial axis (``strides=`` is Gluon's
    spelling of ``stride``). ``padding``: an int, one int per axis (both sides), one
    ``(before, after)`` pair per axis, ``"valid"``, ``"same"`` (output ``ceil(n / stride)``,
    the odd extra at the end, as TensorFlow and ONNX SAME_UPPER) or ``"same_lower"`` (the
    extra at the beginning). ``groups`` splits the channels into independent groups
    (``groups == C_in`` is a depthwise convolution).

    ``path``: None (the ``portconv.config(path=...)`` in force, "auto" by default), "auto"
    (the backend's native kernel where it computes exactly this, else the generic one),
    "generic" or "native". The result is an array of the input's library, dtype and device.
    """
    return _conv(
        input,
        weight,
        bias,
        gluon_alias("stride", stride, "strides", strides, 1),
        padding,
        dilation,
        groups,
        layout,
        path,
        d=None,
        flip=False,
    )


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
    ) -> Any:
        return _conv(
            input,
            weight,
            bias,
            gluon_alias("stride", stride, "strides", strides, 1),
            padding,
            dilation,
            groups,
            layout,
            path,
            d=d,
            flip=False,
        )

    names = ", ".join(SPATIAL_NAMES[d])
    op.__name__ = op.__qualname__ = f"conv{d}d"
    op.__module__ = __name__
    op.__doc__ = (
        f"{d}-D cross-correlation: :func:`conv` for input (N, C_in, {names}) or unbatched "
        f"(C_in, {names}) and a weight with {d} kernel axes (same arguments as "
        f"``torch.nn.functional.conv{d}d``, plus ``layout``, ``path`` and ``strides``)."
    )
    return op


conv1d = _fixed(1)
conv2d = _fixed(2)
conv3d = _fixed(3)


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
) -> Any:
    """True convolution (5.2.5): :func:`conv` with the kernel flipped along every spatial axis,
    ``Y[i, j] = sum_ab X[i + a, j + b] * K[h - 1 - a, w - 1 - b]``.

    Same arguments as :func:`conv`. Given a 2-D ``input`` and a 2-D ``weight``, both are one
    image and one kernel, as in :func:`corr2d`, and so is the result."""
    stride = gluon_alias("stride", stride, "strides", strides, 1)
    if getattr(input, "ndim", None) == 2 and getattr(weight, "ndim", None) == 2:
        be, xp, (x, k) = prepare(input, weight, names=("input", "weight"))
        require_float(xp, "input", x)
        require_float(xp, "weight", k)
        _same_dtype("weight", k, x)
        if bias is not None:
            raise ArgumentError(
                f"bias: a 2-D input and 2-D kernel take no bias (one image, one kernel), got "
                f"{type(bias).__name__}"
            )
        x4 = x[None, None, ...]
        k4 = xp.flip(k[None, None, ...], axis=(2, 3))
        y = _conv_cf(be, xp, x4, k4, None, stride, padding, dilation, groups, path, 2)
        return be.adapter.from_standard(y[0, 0, ...], input)
    return _conv(
        input, weight, bias, stride, padding, dilation, groups, layout, path, d=None, flip=True
    )


def corr2d(X: Any, K: Any) -> Any:
    """The textbook's two-dimensional cross-correlation of a 2-D input ``X`` with a 2-D
    kernel ``K`` (no padding, stride 1): ``Y[i, j] = sum(X[i:i+h, j:j+w] * K)``.

    The result has shape ``(X.shape[0] - h + 1, X.shape[1] - w + 1)`` and is an array of the
    caller's library, on the caller's device. It runs through the same machinery as
    :func:`conv2d` (one image, one channel).
    """
    be, xp, (x, k) = prepare(X, K, names=("X", "K"))
    require_ndim("X", x, (2,), "height, width")
    require_ndim("K", k, (2,), "kernel height, kernel width")
    require_float(xp, "X", x)
    require_float(xp, "K", k)
    _same_dtype("K", k, x)
    h, w = k.shape
    if x.shape[0] - h + 1 < 1 or x.shape[1] - w + 1 < 1:
        raise ArgumentError(
            f"K: kernel shape {(h, w)} is larger than the input shape {tuple(x.shape)}; "
            f"the kernel must fit inside X"
        )
    y = _conv_cf(be, xp, x[None, None, ...], k[None, None, ...], None, 1, 0, 1, 1, None, 2)
    return be.adapter.from_standard(y[0, 0, ...], X)


def conv_output_shape(
    input_size: Any,
    kernel_size: Any,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
) -> tuple[int, ...]:
    """The spatial output shape of a convolution, without running one: per axis the book's
    ``floor((n - k + p + s) / s)`` (5.3.2), ``p`` the axis's total padding, generalised to
    dilation as ``floor((n + p - dilation*(k-1) - 1) / s) + 1``.

    ``input_size`` and ``kernel_size``: an int or one int per spatial axis (an int is
    repeated to match the other; two ints mean one axis). ``padding`` takes every form
    :func:`conv` takes. Example: ``conv_output_shape((8, 8), 3, padding=1, stride=2) ==
    (4, 4)``."""
    d = 1
    for v in (input_size, kernel_size):
        if isinstance(v, Sequence) and not isinstance(v, str):
            d = len(v)
            break
    if d < 1:
        raise ArgumentError(f"input_size: expected at least one spatial size, got {input_size!r}")
    n = int_tuple("input_size", input_size, d, minimum=1)
    k = int_tuple("kernel_size", kernel_size, d, minimum=1)
    s = int_tuple("stride", stride, d)
    dil = int_tuple("dilation", dilation, d)
    pads = padding_pairs("padding", padding, d, spatial=n, kernel=k, stride=s, dilation=dil)
    out = _out_shape(n, k, s, dil, pads)
    if min(out) < 1:
        raise ArgumentError(
            f"kernel_size: the kernel {k} with dilation {dil} does not fit in the padded input "
            f"(input_size {n}, padding {pads}); the output would be empty"
        )
    return out
