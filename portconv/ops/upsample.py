"""Nearest-neighbour resizing, forward and backward, written once against the array API
standard.

Public op (name, argument order and semantics of ``torch.nn.functional``)::

    interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None)

``mode`` is ``"nearest"`` (PyTorch's legacy rule: output position ``j`` reads input position
``floor(j * scale)``) or ``"nearest-exact"`` (``floor((j + 0.5) * scale)``, the pixel-centre
rule of ONNX Resize and scikit-image); the rule itself lives in
:class:`portconv.ops._call.NearestCall`. Other modes are refused (for images on the host,
:func:`portconv.data.resize` resizes bilinearly).

**Forward** (:func:`_forward`): one ``take`` per spatial axis with the rule's indices.

**Backward** (:func:`_backward`): each input position's gradient is the sum of the output
gradients that read it, added in output order (as PyTorch adds them).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ArgumentError
from ._call import NearestCall, nearest_call
from ._common import Op, Plan, bound, prepare, require_float, run

__all__ = ["interpolate"]

MODES = ("nearest", "nearest-exact")


def _forward(xp: Any, call: NearestCall, x: Any) -> Any:
    for axis in range(call.d):
        idx = xp.asarray(call.index(axis), device=call.device)
        x = xp.take(x, idx, axis=2 + axis)
    return x


def _backward(xp: Any, call: NearestCall, arrays, y, g, needs) -> tuple:
    """``where`` rather than a 0/1 product, so an infinite gradient stays where it belongs."""
    if not needs[0]:
        return (None,)
    for axis in reversed(range(call.d)):
        idx = call.index(axis)
        n, m = call.size[axis], call.out[axis]
        count = np.bincount(idx, minlength=n)  # outputs reading each input position
        start = np.searchsorted(idx, np.arange(n))  # the first of them (idx is sorted)
        shape = [1] * g.ndim
        shape[2 + axis] = n
        total = None
        for k in range(int(count.max())):
            pos = xp.asarray(np.minimum(start + k, m - 1), device=call.device)
            mask = xp.reshape(xp.asarray(k < count, device=call.device), tuple(shape))
            taken = xp.take(g, pos, axis=2 + axis)
            term = xp.where(mask, taken, xp.zeros_like(taken))
            total = term if total is None else total + term
        g = total
    return (g,)


#: nearest-neighbour resizing: forward and gradient (no native kernel)
NEAREST = Op("interpolate", _forward, _backward)


def _check(input, size, scale_factor, mode, align_corners, recompute_scale_factor) -> Plan:
    if mode not in MODES:
        raise ArgumentError(
            f"mode: portconv resizes by {' or '.join(map(repr, MODES))} only, got {mode!r} "
            f"(portconv.data.resize resizes images bilinearly)"
        )
    if align_corners is not None:
        raise ArgumentError(
            f"align_corners: only None with the nearest modes (as PyTorch), got {align_corners!r}"
        )
    if recompute_scale_factor not in (None, True, False):
        raise ArgumentError(
            f"recompute_scale_factor: expected None, True or False, got {recompute_scale_factor!r}"
        )
    be, xp, (x,) = prepare(input, names=("input",))
    if x.ndim not in (3, 4, 5):
        raise ArgumentError(
            f"input: interpolate expects a batched (N, C, L), (N, C, H, W) or (N, C, D, H, W) "
            f"array, got shape {tuple(x.shape)}"
        )
    require_float(xp, "input", x)
    call = nearest_call(
        x.shape,
        size,
        scale_factor,
        bool(recompute_scale_factor),
        mode == "nearest-exact",
        dtype=x.dtype,
        device=be.device,
    )
    return Plan(NEAREST, be, call)


def bind(input, size, scale_factor, mode, align_corners, recompute_scale_factor) -> Plan:
    """The checked :class:`Plan` of an interpolate call."""
    size = tuple(size) if isinstance(size, list) else size
    factor = tuple(scale_factor) if isinstance(scale_factor, list) else scale_factor
    args = ("interpolate", size, factor, mode, align_corners, recompute_scale_factor)
    return bound(
        (input,),
        args,
        lambda: _check(input, size, factor, mode, align_corners, recompute_scale_factor),
    )


def interpolate(
    input: Any,
    size: Any = None,
    scale_factor: Any = None,
    mode: str = "nearest",
    align_corners: bool | None = None,
    recompute_scale_factor: bool | None = None,
    *,
    path: str | None = None,
) -> Any:
    """Resize the spatial axes of a batched array by nearest neighbours, as
    ``torch.nn.functional.interpolate`` does for ``mode="nearest"`` and ``"nearest-exact"``.

    Parameters
    ----------
    input : array
        ``(N, C, L)``, ``(N, C, H, W)`` or ``(N, C, D, H, W)``, real floating.
    size : int or tuple of int, optional
        The output's spatial size (one int for every axis).
    scale_factor : float or tuple of float, optional
        Multiplier of each spatial size: the output has ``floor(size * scale_factor)``.
        Give exactly one of ``size`` and ``scale_factor``.
    mode : {'nearest', 'nearest-exact'}
        Output position ``j`` reads input position ``floor(j * scale)`` ("nearest", PyTorch's
        default) or ``floor((j + 0.5) * scale)`` ("nearest-exact"), ``scale`` being ``1 /
        scale_factor`` or ``input size / output size``.
    align_corners : None
        Only None (PyTorch refuses it for these modes too).
    recompute_scale_factor : bool, optional
        True: index by ``input / output`` sizes rather than ``1 / scale_factor`` (the two
        differ only where the scale factor is not a whole number).
    path : str, optional
        None, "auto" or "generic" (there is no native kernel).

    Returns
    -------
    array
        ``(N, C, *out)``, of the input's library, dtype and device.

    Raises
    ------
    ArgumentError
        Another mode, both or neither of ``size`` and ``scale_factor``, sizes or factors that
        are not positive, an empty input or output, unbatched input.

    Examples
    --------
    >>> import numpy as np
    >>> import portconv as pc
    >>> x = np.array([[[1.0, 2.0, 3.0]]])
    >>> pc.interpolate(x, scale_factor=2)
    array([[[1., 1., 2., 2., 3., 3.]]])
    >>> pc.interpolate(x, size=2), pc.interpolate(x, size=2, mode="nearest-exact")
    (array([[[1., 2.]]]), array([[[1., 3.]]]))
    """
    plan = bind(input, size, scale_factor, mode, align_corners, recompute_scale_factor)
    return run(plan, (input,), path)
