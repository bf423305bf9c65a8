"""Power-average (Lp) pooling, forward and backward, written once against the array API
standard.

Public ops (``torch.nn.functional``'s names and argument order; ONNX's LpPool through the
keyword arguments)::

    lp_pool1d/2d/3d(input, norm_type, kernel_size, stride=None, ceil_mode=False, *,
                    padding=0, dilation=1, convention="torch")

Each output is ``(sum over the window of x**p)**(1/p)``, ``p = norm_type``. PyTorch and ONNX
differ in two details, so ``convention`` names the one to follow:

* ``"torch"`` (the default): ``F.lp_pool*d``'s formula, ``(avg_pool(x**p) *
  prod(kernel))**(1/p)``: ``x`` itself is raised to ``p`` (so an odd ``p`` keeps signs and a
  negative window sum gives NaN for ``p > 1``, as in PyTorch), and a window that ``ceil_mode``
  lets reach past the input is scaled by ``prod(kernel) / (positions it holds)``, because the
  average counts only those. Padding (not in PyTorch) is counted like average pooling's
  ``count_include_pad=True``.
* ``"onnx"``: LpPool's ``(sum of |x|**p)**(1/p)`` over the positions the window holds (zeros
  for padding), nothing scaled.

``p = inf`` gives the maximum of ``|x|`` and ``p = -inf`` its minimum (PyTorch's special
cases; padding is not part of the window there). The windows, padding forms and output
sizes are those of :func:`portconv.avg_pool`.

**Forward**: raise to ``p``, pool with the average-pooling kernel (ONNX's sum is that
kernel with divisor 1), rescale, take the ``1/p``-th power.

**Backward**: the chain rule through the same steps, with average pooling's own gradient in
the middle; where a window's sum is 0 the gradient is 0, as PyTorch defines it (its formula
runs the sum through ``sign(s) * relu(|s|)``, whose derivative at 0 is 0).
"""

from __future__ import annotations

import math
from typing import Any

from ..errors import ArgumentError
from ._args import SPATIAL_NAMES, channels_last, itemsize, refuse_huge, whole_array_limit
from ._call import LP_CONVENTIONS, LpPoolCall, lp_norm, pool_call, pool_mode
from ._common import Op, Plan, bound, prepare, require_float, require_ndim, run
from .pool import (
    _avg_backward,
    _forward,
    _max_backward,
    _max_forward_recorded,
    batched_cf_shape,
)

__all__ = ["lp_pool1d", "lp_pool2d", "lp_pool3d"]


# -- the generic forward and backward --------------------------------------------------------------


def _scale(call: LpPoolCall) -> float:
    """What the pooled average is multiplied by: ``prod(kernel)`` for PyTorch's formula, 1
    for ONNX's sum (its divisor is already 1)."""
    return float(math.prod(call.pool.kernel)) if call.convention == "torch" else 1.0


def _power(xp: Any, call: LpPoolCall, x: Any) -> Any:
    return xp.pow(x if call.convention == "torch" else xp.abs(x), call.p)


def _forward_lp(xp: Any, call: LpPoolCall, x: Any, maximum: Any = _forward) -> Any:
    if math.isinf(call.p):  # the maximum (or minimum) of |x|
        a = xp.abs(x)
        return maximum(xp, call.pool, a) if call.p > 0 else -maximum(xp, call.pool, -a)
    s = _forward(xp, call.pool, _power(xp, call, x)) * _scale(call)
    return xp.pow(s, 1.0 / call.p)


def _forward_lp_recorded(xp: Any, call: LpPoolCall, x: Any) -> Any:
    # p = +-inf under a framework's autograd: the maximum that routes ties to one element
    return _forward_lp(xp, call, x, _max_forward_recorded)


def _backward_lp(xp: Any, call: LpPoolCall, arrays, y, g, needs) -> tuple:
    if not needs[0]:
        return (None,)
    x = arrays[0]
    if math.isinf(call.p):
        a = xp.abs(x) if call.p > 0 else -xp.abs(x)
        m = _forward(xp, call.pool, a)
        return (_max_backward(xp, call.pool, a, m, g) * xp.sign(x),)
    p, scale = call.p, _scale(call)
    s = _forward(xp, call.pool, _power(xp, call, x)) * scale
    nonzero = s != 0
    safe = xp.where(nonzero, s, xp.ones_like(s))  # no 0**negative in the branch not taken
    gs = xp.where(nonzero, g * (1.0 / p) * xp.pow(safe, 1.0 / p - 1.0) * scale, xp.zeros_like(s))
    gt = _avg_backward(xp, call.pool, gs)
    if call.convention == "torch":
        return (gt * p * xp.pow(x, p - 1.0),)
    return (gt * p * xp.pow(xp.abs(x), p - 1.0) * xp.sign(x),)


#: power-average pooling: the generic forward and its gradient
LP_POOL = Op("lp_pool", _forward_lp, _backward_lp, recorded=_forward_lp_recorded)


# -- the front end ---------------------------------------------------------------------------------


def _check(input, norm_type, kernel_size, stride, ceil_mode, padding, dilation, convention,
           layout, d) -> Plan:  # fmt: skip
    be, xp, (x,) = prepare(input, names=("input",))
    last = channels_last(layout, d, "pooling")
    sp = ", ".join(SPATIAL_NAMES[d])
    text = f"(N, {sp}, C) or unbatched ({sp}, C)" if last else f"(N, C, {sp}) or (C, {sp})"
    require_ndim("input", x, (d + 1, d + 2), text)
    require_float(xp, "input", x)
    p = lp_norm(norm_type)
    if convention not in LP_CONVENTIONS:
        raise ArgumentError(
            f"convention: expected one of {LP_CONVENTIONS} (PyTorch's formula or ONNX's "
            f"LpPool), got {convention!r}"
        )
    shape, batched = batched_cf_shape(tuple(x.shape), d, last)
    mode = pool_mode(ceil_mode, "valid")
    kind = "max" if math.isinf(p) else "avg"
    pool = pool_call(
        kind, shape, kernel_size, stride, padding, dilation, mode, True, dtype=x.dtype,
        device=be.device, channels_last=last,
        divisor_override=1 if kind == "avg" and convention == "onnx" else None,
    )  # fmt: skip
    refuse_huge(
        "padding",
        f"the padded input {pool.canvas} (shape {tuple(x.shape)})",
        math.prod(pool.canvas) * max(pool.n * pool.c, 1) * itemsize(xp, x.dtype),
        whole_array_limit(be),
    )
    return Plan(LP_POOL, be, LpPoolCall(pool, p, convention), batched, last)


def bind(input, norm_type, kernel_size, stride, ceil_mode, padding, dilation, convention,
         layout, d) -> Plan:  # fmt: skip
    """The checked :class:`Plan` of an Lp pooling call."""
    args = ("lp_pool", norm_type, kernel_size, stride, ceil_mode, padding, dilation,
            convention, layout, d)  # fmt: skip
    return bound(
        (input,),
        args,
        lambda: _check(
            input,
            norm_type,
            kernel_size,
            stride,
            ceil_mode,
            padding,
            dilation,
            convention,
            layout,
            d,
        ),  # fmt: skip
    )


# -- public ops ------------------------------------------------------------------------------------


def _fixed(d: int):
    def op(
        input: Any,
        norm_type: float,
        kernel_size: Any,
        stride: Any = None,
        ceil_mode: bool = False,
        *,
        padding: Any = 0,
        dilation: Any = 1,
        convention: str = "torch",
        layout: str = "channels_first",
        path: str | None = None,
    ) -> Any:
        plan = bind(input, norm_type, kernel_size, stride, ceil_mode, padding, dilation,
                    convention, layout, d)  # fmt: skip
        return run(plan, (input,), path)

    names = ", ".join(SPATIAL_NAMES[d])
    shape = ", ".join(["1", "1"] + ["4"] * d)
    out = ", ".join(["1", "1"] + ["2"] * d)
    op.__name__ = op.__qualname__ = f"lp_pool{d}d"
    op.__module__ = __name__
    op.__doc__ = f"""{d}-D power-average pooling, as ``torch.nn.functional.lp_pool{d}d`` (and,
    with ``convention="onnx"``, ONNX's LpPool).

    Each output is ``(sum over the window of x**p)**(1/p)``; see the module docstring for
    where PyTorch's and ONNX's formulas differ.

    Parameters
    ----------
    input : array
        ``(N, C, {names})`` or unbatched ``(C, {names})`` (channels last with
        ``layout="channels_last"``), real floating.
    norm_type : float
        ``p``: a positive number, ``inf`` (the window's largest ``|x|``) or ``-inf`` (its
        smallest).
    kernel_size, stride, ceil_mode
        As :func:`portconv.avg_pool{d}d` (``stride`` defaults to the kernel).
    padding, dilation
        ONNX's ``pads`` and ``dilations`` (PyTorch has neither): any form
        :func:`portconv.avg_pool` takes; padding adds zeros.
    convention : str
        ``"torch"`` (``F.lp_pool{d}d``'s formula) or ``"onnx"`` (LpPool's).
    layout, path
        As :func:`portconv.avg_pool`.

    Returns
    -------
    array
        ``(N, C, *out)``, of the input's library, dtype and device.

    Examples
    --------
    >>> import numpy as np, portconv as pc
    >>> pc.lp_pool{d}d(np.ones(({shape})), 2, 2).shape
    ({out})
    >>> float(pc.lp_pool1d(np.array([[[3.0, -4.0]]]), 2, 2)[0, 0, 0])
    5.0
    """
    return op


lp_pool1d = _fixed(1)
lp_pool2d = _fixed(2)
lp_pool3d = _fixed(3)
