"""Max unpooling, forward and backward, written once against the array API standard.

Public ops (names, argument orders and semantics of ``torch.nn.functional``)::

    max_unpool1d/2d/3d(input, indices, kernel_size, stride=None, padding=0, output_size=None)

The partial inverse of max pooling: ``input`` holds pooled values and ``indices`` (integers
of the same shape) the flat position, within each ``(n, c)`` plane of the output, that each
value goes back to (what ``max_pool*(..., return_indices=True)`` returns: PyTorch's
convention; ONNX's MaxUnpool counts over the whole tensor instead, from which a caller
subtracts ``(n*C + c)*plane``). Every other position is 0. ``kernel_size``, ``stride`` and
``padding`` are the pooling's and set the default output size ``(size - 1)*stride - before -
after + kernel``; ``output_size`` picks another within one stride of it, as in PyTorch.

Where several inputs of one plane name the same position, the position gets one of them: the
last in row-major order on the generic path (as ONNX's reference implementation and
PyTorch's single-threaded CPU kernel), PyTorch's own choice on torch tensors (its
multi-threaded and CUDA kernels keep an unspecified one). Max pooling repeats an index only
for one input element, i.e. with one value, so unpooling its result is the same everywhere.
Indices outside the plane are refused with an error naming the bad value.

**Forward** (:func:`_forward`): a scatter of every value to its index, keeping the last
(:func:`portconv.ops._indices.scatter_planes`: a sort, no loop over elements).

**Backward** (:func:`_backward`): each input's gradient is the output gradient at its index
(a ``take``), for the input that the forward kept there, and 0 for the others it
overwrote: the exact derivative of the forward. (PyTorch's backward gives every one of them
the gradient; the two agree wherever indices do not repeat.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..errors import ArgumentError, ArrayTypeError
from ._args import SPATIAL_NAMES, itemsize, refuse_huge, whole_array_limit
from ._call import UnpoolCall, unpool_call
from ._common import Op, Plan, bound, prepare, require_float, require_ndim, run
from ._dtypes import is_integer
from ._indices import gather_planes, scatter_planes

__all__ = ["max_unpool1d", "max_unpool2d", "max_unpool3d"]


# -- the generic forward and backward --------------------------------------------------------------


def _forward(xp: Any, call: UnpoolCall, x: Any, indices: Any) -> Any:
    return scatter_planes(xp, x, indices, call.out_shape, reduce="last", device=call.device)


def _kept(xp: Any, call: UnpoolCall, indices: Any) -> Any:
    """Whether each input is the one its position keeps (the last of those naming it)."""
    plane = math.prod(call.size)
    position = xp.arange(plane, dtype=xp.int64, device=call.device)
    positions = xp.broadcast_to(xp.reshape(position, (1, 1) + call.size), tuple(indices.shape))
    winner = scatter_planes(
        xp, positions, indices, call.out_shape, reduce="last", device=call.device
    )
    return gather_planes(xp, winner, indices, call.device) == positions


def _backward(xp: Any, call: UnpoolCall, arrays, y, g, needs) -> tuple:
    if not needs[0]:
        return None, None
    x, indices = arrays
    gx = gather_planes(xp, g, indices, call.device)
    return xp.where(_kept(xp, call, indices), gx, xp.zeros_like(gx)), None


#: max unpooling: the generic forward and its gradient (for the values; indices have none)
MAX_UNPOOL = Op("max_unpool", _forward, _backward)


# -- the front end ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class UnpoolPlan(Plan):
    """A :class:`Plan` whose second array (the indices) is unbatched like the first."""

    def inputs(self, xp: Any, arrays: list[Any]) -> list[Any]:
        if self.batched:
            return arrays
        return [None if a is None else xp.expand_dims(a, axis=0) for a in arrays]


def _check(input, indices, kernel_size, stride, padding, output_size, d) -> UnpoolPlan:
    be, xp, (x, idx) = prepare(input, indices, names=("input", "indices"))
    sp = ", ".join(SPATIAL_NAMES[d])
    require_ndim("input", x, (d + 1, d + 2), f"(N, C, {sp}) or unbatched (C, {sp})")
    require_float(xp, "input", x)
    if not is_integer(xp, idx):
        raise ArrayTypeError(
            f"indices: expected an integer array (the flat positions max pooling returns), "
            f"got dtype {idx.dtype}"
        )
    if tuple(idx.shape) != tuple(x.shape):
        raise ArgumentError(
            f"indices: expected the input's shape {tuple(x.shape)}, one index per value, got "
            f"{tuple(idx.shape)}"
        )
    batched = x.ndim == d + 2
    shape = tuple(x.shape) if batched else (1,) + tuple(x.shape)
    if shape[1] < 1 or min(shape[2:]) < 1:
        raise ArgumentError(
            f"input: max unpooling needs at least one channel and one element along every "
            f"spatial axis (only the batch may be empty), got shape {tuple(x.shape)}"
        )
    call = unpool_call(
        shape, kernel_size, stride, padding, output_size, dtype=x.dtype, device=be.device
    )
    refuse_huge(
        "output_size",
        f"the result {call.out_shape}",
        max(call.n * call.c, 1) * math.prod(call.out) * itemsize(xp, x.dtype),
        whole_array_limit(be),
    )
    return UnpoolPlan(MAX_UNPOOL, be, call, batched)


def bind(input, indices, kernel_size, stride, padding, output_size, d) -> UnpoolPlan:
    """The checked :class:`UnpoolPlan` of a max unpooling call."""
    args = ("max_unpool", kernel_size, stride, padding, output_size, d)
    return bound(
        (input, indices),
        args,
        lambda: _check(input, indices, kernel_size, stride, padding, output_size, d),
    )


def check_indices(plan: UnpoolPlan, indices: Any) -> None:
    """Refuse indices outside the output's plane (the check reads the indices' values)."""
    ad = plan.be.adapter
    xp = ad.namespace()
    idx = ad.to_standard(indices)
    if math.prod(idx.shape) == 0:
        return
    plane = math.prod(plan.call.out)
    low, high = int(xp.min(idx)), int(xp.max(idx))
    if low < 0 or high >= plane:
        bad = low if low < 0 else high
        raise ArgumentError(
            f"indices: {bad} is not a flat position in an output plane of {plan.call.out} "
            f"({plane} positions, 0 to {plane - 1}); indices count within each (n, c) plane"
        )


# -- public ops ------------------------------------------------------------------------------------


def _fixed(d: int):
    def op(
        input: Any,
        indices: Any,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        output_size: Any = None,
        *,
        path: str | None = None,
    ) -> Any:
        plan = bind(input, indices, kernel_size, stride, padding, output_size, d)
        check_indices(plan, indices)
        return run(plan, (input, indices), path)

    names = ", ".join(SPATIAL_NAMES[d])
    shape = ", ".join(["1", "1"] + ["4"] * d)
    op.__name__ = op.__qualname__ = f"max_unpool{d}d"
    op.__module__ = __name__
    op.__doc__ = f"""{d}-D max unpooling, as ``torch.nn.functional.max_unpool{d}d``.

    Puts every value of ``input`` at the flat position ``indices`` names within its
    ``(n, c)`` plane of the output, zeros elsewhere (see the module docstring for repeated
    indices).

    Parameters
    ----------
    input : array
        ``(N, C, {names})`` or unbatched ``(C, {names})``, real floating.
    indices : array
        Integers of ``input``'s shape and library, each in ``[0, prod(output spatial
        size))``: what ``max_pool{d}d(..., return_indices=True)`` returns.
    kernel_size, stride, padding
        The max pooling's (``stride`` defaults to ``kernel_size``): they set the default
        output size ``(size - 1)*stride - before - after + kernel`` per axis.
    output_size : tuple of int, optional
        {d} ints (or a whole shape, as ``x.shape``), each strictly within one stride of the
        default size.
    path : str, optional
        None, "auto", "generic" or "native" (see :func:`portconv.conv`).

    Returns
    -------
    array
        ``(N, C, *output_size)``, of the input's library, dtype and device.

    Raises
    ------
    ArgumentError
        Indices of another shape or outside the plane, an unreachable ``output_size``.
    ArrayTypeError
        Non-integer indices, a non-floating input.

    Examples
    --------
    >>> import numpy as np, portconv as pc
    >>> x = np.arange({4**d}.0).reshape({shape})
    >>> y, i = pc.max_pool{d}d(x, 2, return_indices=True)
    >>> pc.max_unpool{d}d(y, i, 2).shape == x.shape
    True
    """
    return op


max_unpool1d = _fixed(1)
max_unpool2d = _fixed(2)
max_unpool3d = _fixed(3)
