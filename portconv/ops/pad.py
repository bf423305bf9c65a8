"""Padding with a mode, forward and backward, written once against the array API standard.

What a convolution's ``padding_mode`` (PyTorch's ``nn.Conv2d(..., padding_mode=...)``) does
before the convolution runs: the input is padded explicitly, then convolved without padding
(as PyTorch computes it). The modes are PyTorch's ``F.pad`` modes:

* ``"constant"``: a value (``padding_mode="zeros"``: 0);
* ``"reflect"``: mirrored about the edge, the edge not repeated (``[a b c]`` padded by 2 on
  the left gives ``c b | a b c``); each pad smaller than its axis;
* ``"replicate"``: the edge repeated (``a a | a b c``);
* ``"circular"``: wrapped around (``b c | a b c``); each pad at most its axis.

**Forward**: one spatial axis at a time, the pieces (slices, flipped for "reflect", the edge
broadcast for "replicate") concatenated around the input.

**Backward**: the adjoint of each piece, last axis first: the border's gradient is added
back onto the input positions it was copied from (flipped, summed onto the edge, or wrapped
around), and the middle is the input's own.
"""

from __future__ import annotations

from typing import Any

from .. import _windows
from ._call import PadCall, pad_call
from ._common import Op, Plan

PAD_MODES_OF_CONV = {
    "zeros": "constant",
    "reflect": "reflect",
    "replicate": "replicate",
    "circular": "circular",
}


def _take(x: Any, axis: int, start: int, stop: int) -> Any:
    return x[(slice(None),) * axis + (slice(start, stop), ...)]


def _pad_axis(xp: Any, x: Any, axis: int, before: int, after: int, mode: str) -> Any:
    n = x.shape[axis]
    if mode == "reflect":
        left = xp.flip(_take(x, axis, 1, before + 1), axis=axis) if before else None
        right = xp.flip(_take(x, axis, n - 1 - after, n - 1), axis=axis) if after else None
    elif mode == "replicate":
        shape = list(x.shape)
        shape[axis] = before
        left = xp.broadcast_to(_take(x, axis, 0, 1), tuple(shape)) if before else None
        shape[axis] = after
        right = xp.broadcast_to(_take(x, axis, n - 1, n), tuple(shape)) if after else None
    else:  # circular
        left = _take(x, axis, n - before, n) if before else None
        right = _take(x, axis, 0, after) if after else None
    return xp.concat([p for p in (left, x, right) if p is not None], axis=axis)


def _forward(xp: Any, call: PadCall, x: Any) -> Any:
    if call.mode == "constant":
        return _windows.pad(xp, x, call.padding, call.value, call.device)
    for i, (before, after) in enumerate(call.padding):
        if before or after:
            x = _pad_axis(xp, x, 2 + i, before, after, call.mode)
    return x


def _zeros_around(xp: Any, t: Any, axis: int, before: int, after: int, device: Any) -> Any:
    """``t`` with ``before`` and ``after`` zeros along ``axis`` (the last ``d`` axes are
    spatial; :func:`portconv._windows.pad` pads those)."""
    d = t.ndim - 2
    pads = [(0, 0)] * d
    pads[axis - 2] = (before, after)
    return _windows.pad(xp, t, pads, 0.0, device)


def _unpad_axis(xp: Any, g: Any, axis: int, n: int, before: int, after: int, mode: str, device):
    """The adjoint of :func:`_pad_axis`: ``g`` (``before + n + after`` long along ``axis``)
    summed back onto the ``n`` input positions."""
    gx = _take(g, axis, before, before + n)
    left = _take(g, axis, 0, before) if before else None
    right = _take(g, axis, before + n, before + n + after) if after else None
    if mode == "reflect":
        if left is not None:
            gx = gx + _zeros_around(xp, xp.flip(left, axis=axis), axis, 1, n - 1 - before, device)
        if right is not None:
            flipped = xp.flip(right, axis=axis)
            gx = gx + _zeros_around(xp, flipped, axis, n - 1 - after, 1, device)
    elif mode == "replicate":
        if left is not None:
            edge = xp.sum(left, axis=axis, keepdims=True)
            gx = gx + _zeros_around(xp, edge, axis, 0, n - 1, device)
        if right is not None:
            edge = xp.sum(right, axis=axis, keepdims=True)
            gx = gx + _zeros_around(xp, edge, axis, n - 1, 0, device)
    else:  # circular
        if left is not None:
            gx = gx + _zeros_around(xp, left, axis, n - before, 0, device)
        if right is not None:
            gx = gx + _zeros_around(xp, right, axis, 0, n - after, device)
    return gx


def _backward(xp: Any, call: PadCall, arrays, y, g, needs) -> tuple:
    if not needs[0]:
        return (None,)
    if call.mode == "constant":
        return (_windows.crop(g, call.padding),)
    for i in reversed(range(call.d)):
        before, after = call.padding[i]
        if before or after:
            g = _unpad_axis(xp, g, 2 + i, call.size[i], before, after, call.mode, call.device)
    return (g,)


#: padding with a mode: the generic forward and its gradient
PAD = Op("pad", _forward, _backward)


def conv_pad_mode(padding_mode: Any) -> str:
    """The ``F.pad`` mode of a convolution's ``padding_mode`` ("zeros" is "constant")."""
    mode = PAD_MODES_OF_CONV.get(padding_mode) if isinstance(padding_mode, str) else None
    if mode is None:
        from ..errors import ArgumentError

        raise ArgumentError(
            f"padding_mode: expected 'zeros', 'reflect', 'replicate' or 'circular' (PyTorch's "
            f"nn.Conv2d modes), got {padding_mode!r}"
        )
    return mode


def pad_plan(plan: Plan, mode: str) -> Plan:
    """The :class:`Plan` that pads a bound convolution's input (in the caller's layout) by
    the convolution's padding with ``mode``; the convolution then runs without padding."""
    call = plan.call
    shape = (call.n, call.c_in) + call.size
    padded = pad_call(shape, call.padding, mode, dtype=call.dtype, device=call.device)
    return Plan(PAD, plan.be, padded, plan.batched, plan.last)
