"""Deformable convolution, forward and backward, written once against the array API standard.

Public op (torchvision's ``torchvision.ops.deform_conv2d``; ONNX's DeformConv)::

    deform_conv2d(input, offset, weight, bias=None, stride=1, padding=0, dilation=1,
                  mask=None)

A convolution whose kernel taps move: tap ``(i, j)`` of output ``(oy, ox)`` reads the input
at ``(oy*stride - pad_top + i*dilation + dy, ox*stride - pad_left + j*dilation + dx)``,
where ``(dy, dx)`` is the offset of that tap and output, interpolated bilinearly between the
four neighbouring input elements (those outside the input count as 0), and multiplied by the
tap's ``mask`` value when a mask is given (Deformable ConvNets v2). The channels are split
into ``offset_groups`` consecutive blocks, each with its own offsets (``offset`` has ``2 *
offset_groups * kh * kw`` channels: for each group and each tap in row-major order, ``dy``
then ``dx``; ``mask`` has ``offset_groups * kh * kw``). ``groups`` (the convolution's) is
read from the weight, as torchvision does: ``C_in / weight.shape[1]``. Padding takes every
form :func:`portconv.conv` takes (ONNX's ``pads`` are (begin, end) pairs).

**Forward**: the four corners of every sample are gathered with one ``take`` over the input
viewed as rows of channels (each offset group's channels share their positions), weighted,
masked, and contracted with the weight in one matmul per group (the column buffer of im2col,
built from samples instead of strided windows).

**Backward**: the column buffer's gradient is the weight's transpose times the output's;
from it, the mask's gradient (the samples), the offsets' (the derivative of the bilinear
weights times the corners' values) and the input's (each corner's share of the gradient
added back where it was read: a scatter by sorting, as samples may coincide); the weight's
and the bias's as a convolution's. Everything a tile of examples at a time, within the
memory budget.
"""

from __future__ import annotations

import math
from typing import Any

from .. import _windows
from .._config import memory_budget
from ..errors import ArgumentError
from ._args import itemsize, refuse_huge, whole_array_limit
from ._call import DeformCall, deform_call
from ._common import Op, Plan, bound, prepare, require_float, require_ndim, run, same_dtype
from ._indices import scatter

__all__ = ["deform_conv2d"]


# -- sampling --------------------------------------------------------------------------------------


def _corners(xp: Any, call: DeformCall, offset: Any) -> list[tuple[Any, Any, Any, Any]]:
    """The four bilinear corners of every sample: per corner ``(flat index into the input
    plane, weight, d weight/d dy, d weight/d dx)``, each ``(m, G, K, P)``, the weights 0 where
    the corner lies outside the input (its index is then 0)."""
    m, g = offset.shape[0], call.offset_groups
    (kh, kw), (ho, wo), (h, w) = call.kernel, call.out, call.size
    k, dtype, dev = kh * kw, offset.dtype, call.device
    off = xp.reshape(offset, (m * g, k, 2, ho * wo))  # at most 5-D throughout (MXNet)
    (pt, _), (pl, _) = call.padding
    (sh, sw), (dh, dw) = call.stride, call.dilation
    # every tap's regular position at every output, (1, K, P)
    taps_y = xp.asarray([i * dh for i in range(kh) for _ in range(kw)], dtype=dtype, device=dev)
    taps_x = xp.asarray([j * dw for _ in range(kh) for j in range(kw)], dtype=dtype, device=dev)
    rows = xp.reshape(xp.arange(ho, dtype=dtype, device=dev) * sh - pt, (1, ho, 1))
    cols = xp.reshape(xp.arange(wo, dtype=dtype, device=dev) * sw - pl, (1, 1, wo))
    base_y = xp.broadcast_to(xp.reshape(taps_y, (k, 1, 1)) + rows, (k, ho, wo))
    base_x = xp.broadcast_to(xp.reshape(taps_x, (k, 1, 1)) + cols, (k, ho, wo))
    y = xp.reshape(base_y, (1, k, ho * wo)) + off[:, :, 0, :]
    x = xp.reshape(base_x, (1, k, ho * wo)) + off[:, :, 1, :]
    y0, x0 = xp.floor(y), xp.floor(x)
    ly, lx = y - y0, x - x0
    hy, hx = 1.0 - ly, 1.0 - lx
    iy, ix = xp.astype(y0, xp.int64), xp.astype(x0, xp.int64)
    zero = xp.zeros_like(ly)
    out = []
    for cy, cx, wt, wy, wx in (
        (iy, ix, hy * hx, -hx, -hy),
        (iy, ix + 1, hy * lx, -lx, hy),
        (iy + 1, ix, ly * hx, hx, -ly),
        (iy + 1, ix + 1, ly * lx, lx, ly),
    ):
        inside = xp.logical_and(xp.logical_and(cy >= 0, cy < h), xp.logical_and(cx >= 0, cx < w))
        flat = xp.where(inside, cy * w + cx, xp.zeros_like(cy))
        parts = [xp.where(inside, v, zero) for v in (wt, wy, wx)]
        out.append(tuple(xp.reshape(a, (m, g, k, ho * wo)) for a in [flat] + parts))
    return out


def _rows(xp: Any, call: DeformCall, x: Any) -> Any:
    """The input as rows of one offset group's channels: ``(m*G*H*W, C/G)``."""
    m, g = x.shape[0], call.offset_groups
    plane = math.prod(call.size)
    t = xp.reshape(x, (m, g, call.c_in // g, plane))
    return xp.reshape(xp.permute_dims(t, (0, 1, 3, 2)), (m * g * plane, call.c_in // g))


def _keys(xp: Any, call: DeformCall, flat: Any) -> Any:
    """Flat indices into the planes ``(m, G, K, P)`` as row numbers of :func:`_rows`."""
    m, g = flat.shape[0], flat.shape[1]
    plane = math.prod(call.size)
    base = xp.reshape(xp.arange(m * g, dtype=xp.int64, device=call.device) * plane, (m, g, 1, 1))
    return xp.reshape(flat + base, (math.prod(flat.shape),))


def _gather(xp: Any, call: DeformCall, rows: Any, flat: Any) -> Any:
    """The input at every corner: ``(m, G, K, P, C/G)``."""
    taken = xp.take(rows, _keys(xp, call, flat), axis=0)
    return xp.reshape(taken, tuple(flat.shape) + (rows.shape[1],))


def _samples(xp: Any, call: DeformCall, x: Any, offset: Any):
    """The bilinear samples ``(m, G, K, P, C/G)``, the corners and their values."""
    rows = _rows(xp, call, x)
    corners = _corners(xp, call, offset)
    values = [_gather(xp, call, rows, c[0]) for c in corners]
    s = None
    for (_, wt, _, _), v in zip(corners, values):
        part = xp.expand_dims(wt, axis=-1) * v
        s = part if s is None else s + part
    return s, corners, values


def _columns(xp: Any, call: DeformCall, v: Any) -> Any:
    """Masked samples ``(m, G, K, P, C/G)`` as the column buffer ``(m, groups,
    C_in/groups*K, P)``."""
    m, k, p = v.shape[0], v.shape[2], v.shape[3]
    t = xp.permute_dims(v, (0, 1, 4, 2, 3))  # (m, G, C/G, K, P): channel-major
    return xp.reshape(t, (m, call.groups, (call.c_in // call.groups) * k, p))


def _weight_matrix(xp: Any, call: DeformCall, w: Any) -> Any:
    return xp.reshape(
        w, (call.groups, call.c_out // call.groups, w.shape[1] * w.shape[2] * w.shape[3])
    )


def _mask(xp: Any, call: DeformCall, mask: Any) -> Any:
    m, g = mask.shape[0], call.offset_groups
    return xp.reshape(mask, (m, g, math.prod(call.kernel), math.prod(call.out), 1))


# -- the generic forward and backward --------------------------------------------------------------


def _per_example(xp: Any, call: DeformCall) -> int:
    k, p = math.prod(call.kernel), math.prod(call.out)
    return (call.c_in * k * p * 7 + call.offset_groups * k * p * 24) * itemsize(xp, call.dtype)


def _forward(xp: Any, call: DeformCall, x, offset, w, b=None, mask=None) -> Any:
    wm = _weight_matrix(xp, call, w)

    def tile(a: int, z: int) -> Any:
        s, _, _ = _samples(xp, call, x[a:z, ...], offset[a:z, ...])
        if mask is not None:
            s = s * _mask(xp, call, mask[a:z, ...])
        y = xp.matmul(wm, _columns(xp, call, s))  # (m, groups, C_out/groups, P)
        return xp.reshape(y, (z - a, call.c_out) + call.out)

    y = _windows.by_tiles(xp, call.n, _per_example(xp, call), memory_budget(), tile)
    return y if b is None else y + xp.reshape(b, (call.c_out, 1, 1))


def _backward(xp: Any, call: DeformCall, arrays, y, g, needs) -> tuple:
    x, offset, w, b, mask = arrays
    wm = _weight_matrix(xp, call, w)
    wt = xp.matrix_transpose(wm)
    gk, k, p = call.offset_groups, math.prod(call.kernel), math.prod(call.out)
    cg = call.c_in // gk
    parts: dict[str, list] = {"x": [], "offset": [], "mask": []}
    gw = None
    for a, z in _windows.tiles(call.n, _per_example(xp, call), memory_budget()):
        m = z - a
        gm = xp.reshape(g[a:z, ...], (m, call.groups, call.c_out // call.groups, p))
        s, corners, values = _samples(xp, call, x[a:z, ...], offset[a:z, ...])
        msk = None if mask is None else _mask(xp, call, mask[a:z, ...])
        if needs[2]:
            v = s if msk is None else s * msk
            part = xp.sum(xp.matmul(gm, xp.matrix_transpose(_columns(xp, call, v))), axis=0)
            gw = part if gw is None else gw + part
        if not (needs[0] or needs[1] or (len(needs) > 4 and needs[4])):
            continue
        gcols = xp.reshape(xp.matmul(wt, gm), (m, gk, cg, k, p))
        gv = xp.permute_dims(gcols, (0, 1, 3, 4, 2))  # (m, G, K, P, C/G), as the samples
        if mask is not None and needs[4]:
            gmask = xp.sum(gv * s, axis=-1)
            parts["mask"].append(xp.reshape(gmask, (m, gk * k) + call.out))
        gs = gv if msk is None else gv * msk
        if needs[1]:
            goy, gox = None, None
            for (_, _, wy, wx), val in zip(corners, values):
                dy = xp.sum(gs * val, axis=-1)
                goy = wy * dy if goy is None else goy + wy * dy
                gox = wx * dy if gox is None else gox + wx * dy
            go = xp.stack([goy, gox], axis=3)  # (m, G, K, 2, P)
            parts["offset"].append(xp.reshape(go, (m, 2 * gk * k) + call.out))
        if needs[0]:
            keys = xp.concat([_keys(xp, call, c[0]) for c in corners])
            vals = xp.concat(
                [
                    xp.reshape(xp.expand_dims(c[1], axis=-1) * gs, (m * gk * k * p, cg))
                    for c in corners
                ],
                axis=0,
            )
            plane = math.prod(call.size)
            rows = scatter(xp, keys, vals, m * gk * plane, reduce="sum", device=call.device)
            t = xp.permute_dims(xp.reshape(rows, (m, gk, plane, cg)), (0, 1, 3, 2))
            parts["x"].append(xp.reshape(t, (m, call.c_in) + call.size))

    def joined(name: str) -> Any:
        got = parts[name]
        return got[0] if len(got) == 1 else xp.concat(got, axis=0)

    gx = joined("x") if needs[0] else None
    goff = joined("offset") if needs[1] else None
    gwt = xp.reshape(gw, tuple(w.shape)) if needs[2] else None
    gb = xp.sum(g, axis=(0, 2, 3)) if len(needs) > 3 and needs[3] and b is not None else None
    gmask = joined("mask") if len(needs) > 4 and needs[4] and mask is not None else None
    return gx, goff, gwt, gb, gmask


#: deformable convolution: the generic forward and its gradient
DEFORM_CONV = Op("deform_conv", _forward, _backward)


# -- the front end ---------------------------------------------------------------------------------


def _check(input, offset, weight, bias, stride, padding, dilation, mask) -> Plan:
    names = ("input", "offset", "weight", "bias")
    arrays = (input, offset, weight, bias) + (() if mask is None else (mask,))
    be, xp, std = prepare(*arrays, names=names + (() if mask is None else ("mask",)))
    x, off, w, b = std[:4]
    msk = std[4] if mask is not None else None
    require_ndim("input", x, (4,), "(N, C_in, H, W)")
    require_ndim("offset", off, (4,), "(N, 2*offset_groups*kh*kw, H_out, W_out)")
    require_ndim("weight", w, (4,), "(C_out, C_in/groups, kh, kw)")
    if msk is not None:
        require_ndim("mask", msk, (4,), "(N, offset_groups*kh*kw, H_out, W_out)")
    require_float(xp, "input", x)
    for name, a in (("offset", off), ("weight", w), ("bias", b), ("mask", msk)):
        if a is not None and a.dtype != x.dtype:
            require_float(xp, name, a)
            same_dtype(name, a, x)
    c_in, per_group = x.shape[1], w.shape[1]
    if per_group < 1 or c_in % per_group:
        raise ArgumentError(
            f"weight: its {per_group} input channels per group must divide the input's "
            f"{c_in} channels (groups = C_in / weight.shape[1], as torchvision reads them); "
            f"weight shape {tuple(w.shape)}, input shape {tuple(x.shape)}"
        )
    call = deform_call(
        tuple(x.shape), tuple(off.shape), tuple(w.shape),
        None if b is None else tuple(b.shape), stride, padding, dilation,
        None if msk is None else tuple(msk.shape), c_in // per_group,
        dtype=x.dtype, device=be.device,
    )  # fmt: skip
    refuse_huge(
        "offset",
        f"the samples of {call.n} example(s)",
        _per_example(xp, call) * max(call.n, 1),
        whole_array_limit(be),
    )
    return Plan(DEFORM_CONV, be, call)


def bind(input, offset, weight, bias, stride, padding, dilation, mask) -> Plan:
    """The checked :class:`Plan` of a deformable convolution call."""
    args = ("deform_conv", stride, padding, dilation)
    return bound(
        (input, offset, weight, bias, mask),
        args,
        lambda: _check(input, offset, weight, bias, stride, padding, dilation, mask),
    )


def deform_conv2d(
    input: Any,
    offset: Any,
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    mask: Any = None,
    *,
    path: str | None = None,
) -> Any:
    """Deformable 2-D convolution, as ``torchvision.ops.deform_conv2d`` and ONNX's DeformConv.

    Each kernel tap of each output samples the input bilinearly at its regular position plus
    its offset (zeros outside the input), times its mask value when a mask is given; see the
    module docstring for the layout of ``offset`` and ``mask``.

    Parameters
    ----------
    input : array
        ``(N, C_in, H, W)``, real floating.
    offset : array
        ``(N, 2*offset_groups*kh*kw, H_out, W_out)``: ``(dy, dx)`` for every offset group
        and tap (row-major), at every output position. ``offset_groups`` divides ``C_in``.
    weight : array
        ``(C_out, C_in/groups, kh, kw)``; ``groups = C_in / weight.shape[1]``.
    bias : array, optional
        ``(C_out,)``.
    stride, padding, dilation
        As :func:`portconv.conv2d` (every padding form; ``"same"`` resolved on the regular
        grid).
    mask : array, optional
        ``(N, offset_groups*kh*kw, H_out, W_out)``: a factor per tap and output (v2).
    path : str, optional
        None, "auto", "generic" or "native" (see :func:`portconv.conv`; no library here has
        a native kernel of its own).

    Returns
    -------
    array
        ``(N, C_out, H_out, W_out)``, of the input's library, dtype and device.

    Examples
    --------
    >>> import numpy as np, portconv as pc
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> w = np.ones((1, 1, 2, 2))
    >>> shift = np.zeros((1, 8, 3, 3)); shift[:, 1::2] = 0.5  # every tap half a column right
    >>> pc.deform_conv2d(x, np.zeros((1, 8, 3, 3)), w)[0, 0, 0]  # no offset: a convolution
    array([10., 14., 18.])
    >>> pc.deform_conv2d(x, shift, w)[0, 0, 0]  # the last window half outside: zeros there
    array([12., 16., 14.])
    """
    plan = bind(input, offset, weight, bias, stride, padding, dilation, mask)
    return run(plan, (input, offset, weight, bias, mask), path)
