"""Transposed convolution, forward and backward, written once against the array API standard.

Public ops (names, argument orders and semantics of ``torch.nn.functional``)::

    conv_transpose1d/2d/3d(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                           groups=1, dilation=1)
    conv_transpose(...)            # the same for 1 to 3 spatial dimensions (from the weight)

The transposed convolution is the gradient of convolution with respect to its input: for the
convolution ``conv(z, weight, stride=s, padding=p, dilation=d, groups=g)``,
``conv_transpose(x, weight, ...)`` with the same arguments is its adjoint, so ``weight`` has
the convolution's shape ``(C_in, C_out/groups, *kernel)`` seen from the transposed side (its
first axis is the transposed convolution's input channels). Along each spatial axis the output
size is ``(n - 1)*s - before - after + d*(k - 1) + output_padding + 1``.

**Forward** (:func:`transpose_cf`): multiply the input with the transposed weight into a
column buffer and put every kernel offset's column back where the convolution would have taken
it from (:func:`portconv._windows.col2im`), then crop the padding.

**Backward**: the input gradient is the convolution this op is the adjoint of
(:func:`portconv.ops.conv.conv_cf` on :meth:`ConvCall.adjoint`); the weight gradient is that
convolution's weight gradient with input and output exchanged; the bias gradient is the output
gradient summed over everything but the channels.
"""

from __future__ import annotations

import math
from typing import Any

from .. import _windows
from .._config import memory_budget
from . import winograd
from ._args import SPATIAL_NAMES, channels_last, itemsize, refuse_huge, whole_array_limit
from ._call import ConvCall, conv_transpose_call
from ._common import Op, Plan, bound, prepare, require_float, require_ndim, run, same_dtype
from .conv import _add_bias, bias_grad, conv_cf, weight_grad

__all__ = ["conv_transpose", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"]


# -- the generic forward and backward --------------------------------------------------------------


def transpose_cf(xp: Any, call: ConvCall, x: Any, w: Any) -> Any:
    """The transposed convolution (no bias) of batched, channels-first ``x`` ``(N, C_in,
    *size)`` with ``w`` ``(C_in, C_out/groups, *kernel)``, in tiles of examples within the
    memory budget (and the adapter's cache-sized tile, as the convolution's column buffer):
    ``(N, C_out, *out)``.

    One matmul per group over the whole tile, channels-major: ``(g, C_out/g * K, C_in/g) @
    (g, C_in/g, m * P)``, whose columns ``(C_out, K, m, *size)`` col2im takes with the
    channels and examples as its leading axes (1-D and 2-D; 3-D, whose columns would have
    six axes where MXNet allows five, takes one matmul per example).

    A stride-1 3-tap transposed convolution that Winograd's algorithm computes faster (as a
    convolution with the flipped kernel: :func:`portconv.ops.winograd.as_convolution`) runs
    there instead: ResNet's input gradients."""
    as_conv = winograd.as_convolution(call)
    if as_conv is not None and winograd.choose(xp, as_conv) is not None:
        return conv_cf(xp, as_conv, x, winograd.flipped(xp, w, call.groups))
    n, c_in, groups = x.shape[0], x.shape[1], call.groups
    kernel, canvas, d = call.kernel, call.canvas, call.d
    k = math.prod(kernel)
    c_out = w.shape[1] * groups
    size = tuple(x.shape[2:])
    p = math.prod(size)
    # (g, C_in/g, C_out/g * K) -> (g, C_out/g * K, C_in/g): the weight transposed
    wt = xp.permute_dims(xp.reshape(w, (groups, c_in // groups, w.shape[1] * k)), (0, 2, 1))

    def tile(a: int, z: int) -> Any:
        m = z - a
        if d <= 2:
            xcm = xp.permute_dims(x[a:z, ...], (1, 0) + tuple(range(2, d + 2)))  # (C_in, m, *)
            cols = xp.matmul(wt, xp.reshape(xcm, (groups, c_in // groups, m * p)))
            cols = xp.reshape(cols, (c_out, k, m) + size)
            full = _windows.col2im(
                xp, cols, kernel, call.stride, call.dilation, canvas, call.device, lead=2
            )  # (C_out, m, *canvas)
            full = xp.permute_dims(full, (1, 0) + tuple(range(2, d + 2)))
            return _windows.crop(full, call.padding)
        xt = xp.reshape(x[a:z, ...], (m, groups, c_in // groups, p))
        cols = xp.matmul(wt, xt)  # (m, g, C_out/g * K, P)
        cols = xp.reshape(cols, (m * c_out, k) + size)
        full = _windows.col2im(xp, cols, kernel, call.stride, call.dilation, canvas, call.device)
        return _windows.crop(_windows.split(xp, full, m), call.padding)

    per_example = (c_out * k * p + c_out * math.prod(canvas)) * itemsize(xp, x.dtype)
    budget = _windows.matmul_budget(xp, memory_budget())
    return _windows.by_tiles(xp, n, per_example, budget, tile)


def _forward(xp: Any, call: ConvCall, x: Any, w: Any, b: Any = None) -> Any:
    y = transpose_cf(xp, call, x, w)
    return y if b is None else _add_bias(xp, y, b)


def _backward(xp: Any, call: ConvCall, arrays, y, g, needs) -> tuple:
    x, w, b = arrays
    adjoint = call.adjoint()  # the convolution of g with w
    gx = conv_cf(xp, adjoint, g, w, for_backward=True) if needs[0] else None
    gw = weight_grad(xp, adjoint, g, x) if needs[1] else None
    gb = bias_grad(xp, g) if len(needs) > 2 and needs[2] and b is not None else None
    return gx, gw, gb


#: transposed convolution: the generic forward and its gradient
CONV_TRANSPOSE = Op("conv_transpose", _forward, _backward)


# -- the front end ---------------------------------------------------------------------------------


def _check(
    input,
    weight,
    bias,
    stride,
    padding,
    output_padding,
    groups,
    dilation,
    d,
    output_size=None,
    layout="channels_first",
) -> Plan:
    last = channels_last(layout, d, "transposed convolution")
    be, xp, (x, w, b) = prepare(input, weight, bias, names=("input", "weight", "bias"))
    w_text = "(*kernel, C_out/groups, C_in)" if last else "(C_in, C_out/groups, *kernel)"
    if d is None:
        require_ndim("weight", w, (3, 4, 5), w_text)
        d = w.ndim - 2
        channels_last(layout, d, "transposed convolution")
    names = ", ".join(SPATIAL_NAMES[d])
    kernel_names = ", ".join("k" + s for s in SPATIAL_NAMES[d])
    if last:
        w_text = f"({kernel_names}, C_out/groups, C_in)"
        x_text = f"(N, {names}, C_in) or unbatched ({names}, C_in)"
    else:
        w_text = f"(C_in, C_out/groups, {kernel_names})"
        x_text = f"(N, C_in, {names}) or unbatched (C_in, {names})"
    require_ndim("weight", w, (d + 2,), w_text)
    require_ndim("input", x, (d + 1, d + 2), x_text)
    require_float(xp, "input", x)
    for name, a in (("weight", w), ("bias", b)):
        if a is not None and a.dtype != x.dtype:
            require_float(xp, name, a)
            same_dtype(name, a, x)
    batched = x.ndim == d + 2
    xs = tuple(x.shape) if batched else (1,) + tuple(x.shape)
    ws = tuple(w.shape)
    if last:  # (N, *spatial, C) -> (N, C, *spatial); (*kernel, Co/g, Ci) -> (Ci, Co/g, *kernel)
        xs = (xs[0], xs[-1]) + xs[1:-1]
        ws = (ws[-1], ws[-2]) + ws[:-2]
        if output_size is not None and len(tuple(output_size)) == d + 2:  # a whole NHWC shape
            output_size = tuple(output_size)[1:-1]
    call = conv_transpose_call(
        xs,
        ws,
        None if b is None else tuple(b.shape),
        stride,
        padding,
        output_padding,
        groups,
        dilation,
        dtype=x.dtype,
        device=be.device,
        output_size=output_size,
    )
    refuse_huge(
        "stride",
        f"the result before cropping the padding {(call.n, call.c_out) + call.canvas} (stride "
        f"{call.stride}, dilation {call.dilation}, output_padding {call.output_padding})",
        max(call.n, 1) * max(call.c_out, 1) * math.prod(call.canvas) * itemsize(xp, x.dtype),
        whole_array_limit(be),
    )
    return Plan(CONV_TRANSPOSE, be, call, batched, last)


def bind(
    input,
    weight,
    bias,
    stride,
    padding,
    output_padding,
    groups,
    dilation,
    d,
    output_size=None,
    layout="channels_first",
) -> Plan:
    """The checked :class:`Plan` of a transposed convolution call."""
    args = (
        "conv_transpose", stride, padding, output_padding, groups, dilation, d, output_size,
        layout,
    )  # fmt: skip
    return bound(
        (input, weight, bias),
        args,
        lambda: _check(
            input,
            weight,
            bias,
            stride,
            padding,
            output_padding,
            groups,
            dilation,
            d,
            output_size,
            layout,
        ),  # fmt: skip
    )


# -- public ops ------------------------------------------------------------------------------------


def conv_transpose(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
    *,
    output_size: Any = None,
    layout: str = "channels_first",
    path: str | None = None,
) -> Any:
    """Transposed convolution ("deconvolution") over 1 to 3 spatial dimensions.

    As ``torch.nn.functional.conv_transpose1d/2d/3d``: the adjoint of :func:`portconv.conv`
    with the same weight and arguments (so its input gradient).

    Parameters
    ----------
    input : array
        ``(N, C_in, *n)`` or unbatched ``(C_in, *n)``, real floating.
    weight : array
        ``(C_in, C_out/groups, *kernel)``.
    bias : array, optional
        ``(C_out,)``.
    stride, dilation : int or tuple of int
    padding : int, tuple or str
        An int, one int per axis or one (before, after) pair per axis: how much is removed
        from the border of the full result (the padding of the convolution this is the
        adjoint of). Or ONNX's ``auto_pad``: ``"same"`` (SAME_UPPER) or ``"same_lower"``:
        the output is ``output_size`` (default ``n * stride``) and the rest of the full
        result is removed half from each end, the odd one from the end (``"same"``) or the
        beginning (``"same_lower"``); ``"valid"``: nothing removed.
    output_padding : int or tuple of int
        Positions added at the end of each axis (smaller than the stride or the dilation).
    groups : int
    output_size : tuple of int, optional
        ``d`` ints (or a whole shape). With numeric padding, PyTorch's
        ``ConvTranspose2d(...)(x, output_size)``: it sets ``output_padding`` (the output is
        between the smallest size and that plus ``stride - 1``); with ``"same"`` or
        ``"same_lower"``, ONNX's ``output_shape``.
    layout : {'channels_first', 'channels_last'} or 'NCHW'-style name
        Channels last: input ``(N, *n, C_in)`` and weight ``(*kernel, C_out/groups, C_in)``
        (Keras's ``Conv2DTranspose`` kernel), result ``(N, *out, C_out)``.
    path : str, optional
        None, "auto", "generic" or "native" (see :func:`portconv.conv`).

    Returns
    -------
    array
        ``(N, C_out, *out)`` with ``out = (n - 1)*stride - before - after +
        dilation*(kernel - 1) + output_padding + 1``.

    Examples
    --------
    >>> import numpy as np, portconv as pc
    >>> pc.conv_transpose(np.ones((1, 1, 2, 2)), np.ones((1, 1, 2, 2)), stride=2)[0, 0]
    array([[1., 1., 1., 1.],
           [1., 1., 1., 1.],
           [1., 1., 1., 1.],
           [1., 1., 1., 1.]])
    >>> x, w = np.ones((1, 1, 3, 3)), np.ones((1, 1, 3, 3))
    >>> pc.conv_transpose(x, w, stride=2, padding=1, output_size=(6, 6)).shape
    (1, 1, 6, 6)
    >>> pc.conv_transpose(x, w, stride=2, padding="same").shape
    (1, 1, 6, 6)
    """
    plan = bind(
        input, weight, bias, stride, padding, output_padding, groups, dilation, None,
        output_size, layout,
    )  # fmt: skip
    return run(plan, (input, weight, bias), path)


def _fixed(d: int):
    def op(
        input: Any,
        weight: Any,
        bias: Any = None,
        stride: Any = 1,
        padding: Any = 0,
        output_padding: Any = 0,
        groups: int = 1,
        dilation: Any = 1,
        *,
        output_size: Any = None,
        layout: str = "channels_first",
        path: str | None = None,
    ) -> Any:
        plan = bind(
            input, weight, bias, stride, padding, output_padding, groups, dilation, d,
            output_size, layout,
        )  # fmt: skip
        return run(plan, (input, weight, bias), path)

    names = ", ".join(SPATIAL_NAMES[d])
    shape = ", ".join(["1", "1"] + ["2"] * d)
    out = ", ".join(["1", "1"] + ["4"] * d)
    op.__name__ = op.__qualname__ = f"conv_transpose{d}d"
    op.__module__ = __name__
    op.__doc__ = f"""{d}-D transposed convolution, as ``torch.nn.functional.conv_transpose{d}d``.

    :func:`conv_transpose` for an input ``(N, C_in, {names})`` or unbatched ``(C_in,
    {names})``, with the number of spatial dimensions checked.

    Parameters
    ----------
    input, weight, bias, stride, padding, output_padding, groups, dilation, layout, path
        As :func:`conv_transpose`.
    output_size
        As :func:`conv_transpose`.

    Returns
    -------
    array

    Examples
    --------
    >>> import numpy as np, portconv as pc
    >>> pc.conv_transpose{d}d(np.ones(({shape})), np.ones(({shape})), stride=2).shape
    ({out})
    """
    return op


conv_transpose1d = _fixed(1)
conv_transpose2d = _fixed(2)
conv_transpose3d = _fixed(3)
