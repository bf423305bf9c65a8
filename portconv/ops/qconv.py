"""Integer (quantized) convolution: ONNX's ConvInteger and QLinearConv.

Public ops (ONNX's operators, inputs in ONNX's order)::

    conv_integer(x, w, x_zero_point=None, w_zero_point=None, stride=1, padding=0,
                 dilation=1, groups=1)
    qlinear_conv(x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale,
                 y_zero_point=None, bias=None, stride=1, padding=0, dilation=1, groups=1)

``x`` and ``w`` are integer arrays (int8 or uint8 in ONNX; wider integers work the same).
Both ops convolve ``x - x_zero_point`` with ``w - w_zero_point`` (``w_zero_point`` one
value, or one per output channel) and accumulate in int32: padding therefore holds the zero
point, i.e. a real 0. ``conv_integer`` returns that int32 accumulator. ``qlinear_conv`` adds
``bias`` (int32, one per output channel) and requantizes, as ONNX's reference does: the
accumulator times ``x_scale * w_scale / y_scale`` (that multiplier computed in float32, the
product in float64), plus ``y_zero_point``, clipped to the output dtype's range and rounded
half to even; the output has ``y_zero_point``'s dtype (else ``x``'s).

**How**: every product of 8-bit (or 16-bit) integers, and every sum of up to 2**37 of them,
is exact in float64, so the accumulator is a float64 convolution of the shifted arrays (the
library's own float64 kernel where it has one: exactly the integer result, in any summation
order; on the generic path never Winograd's algorithm, whose fractional transforms round),
then wrapped to int32 as int32 arithmetic would wrap. ONNX's stride, padding (every
form :func:`portconv.conv` takes: ``"same"``, ``"same_lower"``, (begin, end) pairs),
dilation and group are :func:`portconv.conv`'s. There is no gradient (the inputs are
integers); :func:`portconv.conv2d` itself keeps refusing integer input.
"""

from __future__ import annotations

import math
from typing import Any

from .._dispatch import _is_scalar
from ..errors import ArgumentError, ArrayTypeError
from ._call import conv_call
from ._common import Plan, forward, prepare, require_ndim
from ._dtypes import is_integer
from .conv import CONV

__all__ = ["conv_integer", "qlinear_conv"]


def _operand(be: Any, xp: Any, value: Any, name: str, like: Any) -> Any:
    """An argument that may be an array or a Python number, as a standard array."""
    if value is None:
        return None
    if _is_scalar(value):
        return xp.asarray(value, device=be.device)
    _, _, (a, _) = prepare(value, like, names=(name, "x"))
    return a


def _zero_point(xp: Any, zp: Any, name: str, channels: int | None, ndim: int) -> Any:
    """A zero point as float64, shaped to broadcast over the array it shifts (a per-channel
    one over a weight's output channels)."""
    if not is_integer(xp, zp):
        raise ArrayTypeError(f"{name}: expected an integer zero point, got dtype {zp.dtype}")
    shape = tuple(zp.shape)
    if math.prod(shape) == 1:
        return xp.reshape(xp.astype(zp, xp.float64), ())
    if channels is not None and shape == (channels,):
        return xp.reshape(xp.astype(zp, xp.float64), (channels,) + (1,) * (ndim - 1))
    allowed = "one value" + ("" if channels is None else f" or {channels} (one per output channel)")
    raise ArgumentError(f"{name}: expected {allowed}, got shape {shape}")


def _wrap_int32(xp: Any, v: Any) -> Any:
    """An integer-valued float64 array as int32, wrapping around as int32 arithmetic does."""
    two32 = 4294967296.0
    return xp.astype(v - xp.floor((v + 2147483648.0) / two32) * two32, xp.int32)


def _round_half_even(xp: Any, v: Any) -> Any:
    """Rounding to the nearest integer, ties to even (ONNX's and NumPy's rule)."""
    r = xp.floor(v + 0.5)
    tie = (r - v) == 0.5
    odd = (r - 2.0 * xp.floor(r / 2.0)) == 1.0
    return xp.where(tie & odd, r - 1.0, r)


def _accumulate(
    x: Any, w: Any, x_zero_point: Any, w_zero_point: Any, stride, padding, dilation, groups,
    path: str | None,
) -> tuple[Any, Any, Any, Any, Any]:  # fmt: skip
    """``(backend, xp, int32-exact float64 accumulator, standard x, standard w)``."""
    be, xp, (xs, ws) = prepare(x, w, names=("x", "w"))
    for name, a in (("x", xs), ("w", ws)):
        if not is_integer(xp, a):
            raise ArrayTypeError(
                f"{name}: expected an integer array (int8 or uint8, as ONNX's integer "
                f"convolutions take), got dtype {a.dtype}; for floating arrays use "
                f"portconv.conv"
            )
    require_ndim("w", ws, (3, 4, 5), "(C_out, C_in/groups, *kernel)")
    d = ws.ndim - 2
    require_ndim("x", xs, (d + 2,), f"(N, C_in, *spatial) with {d} spatial axes")
    c_out = ws.shape[0]
    x64, w64 = xp.astype(xs, xp.float64), xp.astype(ws, xp.float64)
    if x_zero_point is not None:
        zp = _operand(be, xp, x_zero_point, "x_zero_point", x)
        x64 = x64 - _zero_point(xp, zp, "x_zero_point", None, xs.ndim)
    if w_zero_point is not None:
        zp = _operand(be, xp, w_zero_point, "w_zero_point", x)
        w64 = w64 - _zero_point(xp, zp, "w_zero_point", c_out, ws.ndim)
    call = conv_call(
        tuple(xs.shape), tuple(ws.shape), None, stride, padding, dilation, groups,
        dtype=x64.dtype, device=be.device, exact=True,
    )  # fmt: skip
    return be, xp, forward(Plan(CONV, be, call), [x64, w64, None], path), xs, ws


def conv_integer(
    x: Any,
    w: Any,
    x_zero_point: Any = None,
    w_zero_point: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
    *,
    path: str | None = None,
) -> Any:
    """ONNX's ConvInteger: the int32 convolution of ``x - x_zero_point`` with ``w -
    w_zero_point``.

    Parameters
    ----------
    x : array
        ``(N, C_in, *spatial)``, integers (int8 or uint8).
    w : array
        ``(C_out, C_in/groups, *kernel)``, integers.
    x_zero_point : array or int, optional
        One integer.
    w_zero_point : array or int, optional
        One integer, or one per output channel.
    stride, padding, dilation, groups
        As :func:`portconv.conv` (ONNX's ``strides``, ``pads``/``auto_pad``,
        ``dilations``, ``group``).
    path : str, optional
        How the exact float64 convolution inside runs (see :func:`portconv.conv`).

    Returns
    -------
    array
        ``(N, C_out, *out)``, int32, of ``x``'s library and device.

    Examples
    --------
    >>> import numpy as np, portconv as pc
    >>> x = np.arange(9, dtype=np.uint8).reshape(1, 1, 3, 3)
    >>> pc.conv_integer(x, np.ones((1, 1, 2, 2), np.uint8), x_zero_point=np.uint8(1))
    array([[[[ 4,  8],
             [16, 20]]]], dtype=int32)
    """
    be, xp, acc, _, _ = _accumulate(
        x, w, x_zero_point, w_zero_point, stride, padding, dilation, groups, path
    )
    return be.adapter.from_standard(_wrap_int32(xp, acc), x)


def qlinear_conv(
    x: Any,
    x_scale: Any,
    x_zero_point: Any,
    w: Any,
    w_scale: Any,
    w_zero_point: Any,
    y_scale: Any,
    y_zero_point: Any = None,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
    *,
    path: str | None = None,
) -> Any:
    """ONNX's QLinearConv: a quantized convolution, requantized to ``y_scale`` and
    ``y_zero_point``.

    Parameters
    ----------
    x, x_zero_point, w, w_zero_point, stride, padding, dilation, groups, path
        As :func:`conv_integer` (the zero points may be None: 0).
    x_scale, y_scale : array or float
        One float32 each.
    w_scale : array or float
        One float32, or one per output channel.
    y_zero_point : array or int, optional
        One integer; its dtype is the output's (else ``x``'s).
    bias : array, optional
        ``(C_out,)`` int32, added to the accumulator before requantizing.

    Returns
    -------
    array
        ``(N, C_out, *out)``: ``round(clip(acc * x_scale * w_scale / y_scale +
        y_zero_point))`` in the output dtype (ties to even), of ``x``'s library and device.

    Examples
    --------
    >>> import numpy as np, portconv as pc
    >>> x = np.array([[[[10, 20], [30, 40]]]], np.uint8)
    >>> w = np.ones((1, 1, 2, 2), np.uint8)
    >>> pc.qlinear_conv(x, np.float32(0.5), np.uint8(0), w, np.float32(1.0), np.uint8(0),
    ...                 np.float32(4.0), np.uint8(3))
    array([[[[16]]]], dtype=uint8)
    """
    be, xp, acc, xs, ws = _accumulate(
        x, w, x_zero_point, w_zero_point, stride, padding, dilation, groups, path
    )
    c_out = ws.shape[0]
    if bias is not None:
        b = _operand(be, xp, bias, "bias", x)
        if not is_integer(xp, b) or tuple(b.shape) != (c_out,):
            raise ArgumentError(
                f"bias: expected {c_out} integers (int32, one per output channel), got shape "
                f"{tuple(b.shape)} and dtype {b.dtype}"
            )
        acc = acc + xp.reshape(xp.astype(b, xp.float64), (c_out,) + (1,) * (acc.ndim - 2))
    acc = xp.astype(_wrap_int32(xp, acc), xp.float64)
    scales = []
    for name, s, channels in (("x_scale", x_scale, None), ("w_scale", w_scale, c_out),
                              ("y_scale", y_scale, None)):  # fmt: skip
        a = _operand(be, xp, s, name, x)
        if not xp.isdtype(a.dtype, "real floating"):
            raise ArrayTypeError(f"{name}: expected a floating scale, got dtype {a.dtype}")
        a = xp.astype(a, xp.float32)
        if math.prod(a.shape) == 1:
            a = xp.reshape(a, ())
        elif channels is not None and tuple(a.shape) == (channels,):
            a = xp.reshape(a, (channels,) + (1,) * (acc.ndim - 2))
        else:
            raise ArgumentError(
                f"{name}: expected one value"
                f"{'' if channels is None else f' or {channels}, one per output channel'}, "
                f"got shape {tuple(a.shape)}"
            )
        scales.append(a)
    multiplier = xp.astype(scales[0] * scales[1] / scales[2], xp.float64)  # float32 first
    out_dtype = xs.dtype
    r = acc * multiplier
    if y_zero_point is not None:
        yz = _operand(be, xp, y_zero_point, "y_zero_point", x)
        if not is_integer(xp, yz) or math.prod(yz.shape) != 1:
            raise ArgumentError(
                f"y_zero_point: expected one integer, got shape {tuple(yz.shape)} and dtype "
                f"{yz.dtype}"
            )
        out_dtype = yz.dtype
        r = r + xp.astype(xp.reshape(yz, ()), xp.float64)
    info = xp.iinfo(out_dtype)
    r = _round_half_even(xp, xp.clip(r, float(info.min), float(info.max)))
    return be.adapter.from_standard(xp.astype(r, out_dtype), x)
