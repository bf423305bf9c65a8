"""Elementwise activations, forward and backward, written once against the array API standard.

They are ops like convolution and pooling (one call description, native kernels where the
adapter has them, with the framework's own backward), because on activation-sized arrays the
framework's fused kernel (``torch.relu`` and its ``threshold_backward``) is several times
faster than any composition of the standard's functions. :mod:`portconv.autograd`'s
``relu``, ``sigmoid`` and ``tanh`` run them.
"""

from __future__ import annotations

from typing import Any

from ._call import ElementwiseCall
from ._common import Op, Plan, bound, prepare


def _relu(xp: Any, call: ElementwiseCall, x: Any) -> Any:
    # maximum, not where: NaN stays NaN (as torch.relu), and where is far slower
    return xp.maximum(x, xp.zeros((), dtype=x.dtype, device=call.device))


def _relu_backward(xp: Any, call: ElementwiseCall, arrays, y, g, needs) -> tuple:
    # the gradient at 0 is 0, as in PyTorch and MXNet
    return (g * xp.astype(arrays[0] > 0, g.dtype),)


def _sigmoid(xp: Any, call: ElementwiseCall, x: Any) -> Any:
    return 1.0 / (1.0 + xp.exp(-x))


def _sigmoid_backward(xp: Any, call: ElementwiseCall, arrays, y, g, needs) -> tuple:
    return (g * y * (1.0 - y),)


def _tanh(xp: Any, call: ElementwiseCall, x: Any) -> Any:
    return xp.tanh(x)


def _tanh_backward(xp: Any, call: ElementwiseCall, arrays, y, g, needs) -> tuple:
    return (g * (1.0 - y * y),)


RELU = Op("relu", _relu, _relu_backward)
SIGMOID = Op("sigmoid", _sigmoid, _sigmoid_backward)
TANH = Op("tanh", _tanh, _tanh_backward)


def bind(op: Op, x: Any) -> Plan:
    """The :class:`Plan` of activation ``op`` on the array ``x``."""

    def check() -> Plan:
        be, _, (xs,) = prepare(x, names=("input",))
        call = ElementwiseCall(op.name, tuple(xs.shape), xs.dtype, be.device)
        return Plan(op, be, call)

    return bound((x,), (op.name,), check)
