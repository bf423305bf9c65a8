"""Ops with an indices output, and scattering values to indices, with the array API standard.

The standard can gather (``take``) but has no scatter. Max unpooling puts values at given
indices; the gradients of fractional max pooling and of deformable convolution add values
into given positions. Both are built here from sorting (the standard's stable ``argsort``):

* :func:`scatter` sorts the keys, so equal keys become neighbours; a segmented prefix sum
  (Hillis and Steele's doubling scan, restricted to runs of equal keys) sums each run within
  itself (no cancellation against other runs, unlike a difference of one global cumulative
  sum), or the run's last element is kept; a binary search then finds, for every target,
  where its run ends. ``O((L + Q) log L)`` for ``L`` values and ``Q`` targets, all in
  standard functions (NumPy, PyTorch, CuPy, Dask, array-api-strict, MXNet).
* :func:`run_pair` and :func:`empty_pair` run an op whose result is ``(values, indices)``
  (max pooling with ``return_indices``, fractional max pooling) through the ordinary
  dispatch of :mod:`portconv.ops._common`: the op's native kernel or its generic one, the
  values in the caller's layout and array type, the indices (int64) beside them.

Indices follow PyTorch's convention: the flat (row-major) position within the ``(n, c)``
plane of the array they index, i.e. ``i*W + j`` in 2-D.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from . import _common


def searchsorted_right(xp: Any, a: Any, q: Any, device: Any = None) -> Any:
    """For a sorted 1-D integer array ``a``, the number of its elements ``<= q`` for every
    element of ``q`` (``searchsorted(a, q, side="right")``): the standard's ``searchsorted``
    where the namespace has it, else a binary search of ``take``s."""
    fn = getattr(xp, "searchsorted", None)
    if fn is not None:
        return fn(a, q, side="right")
    n = a.shape[0]
    lo = xp.zeros(q.shape, dtype=xp.int64, device=device)
    hi = xp.full(q.shape, n, dtype=xp.int64, device=device)
    if n == 0:
        return lo
    for _ in range(n.bit_length()):  # the interval [lo, hi) halves every step
        active = lo < hi
        mid = xp.floor_divide(lo + hi, 2)
        right = xp.take(a, xp.clip(mid, 0, n - 1)) <= q
        lo = xp.where(xp.logical_and(active, right), mid + 1, lo)
        hi = xp.where(xp.logical_and(active, xp.logical_not(right)), mid, hi)
    return lo


def scatter(xp: Any, keys: Any, values: Any, size: int, *, reduce: str, device: Any) -> Any:
    """An array of ``(size, *values.shape[1:])`` whose row ``q`` is the sum (``reduce="sum"``)
    or the last in order (``reduce="last"``) of the rows of ``values`` whose ``keys`` equal
    ``q``, and 0 where no key does. ``keys``: 1-D int64 in ``[0, size)``, one per row of
    ``values`` (which has the result's dtype)."""
    n = keys.shape[0]
    rest = tuple(values.shape[1:])
    zeros = xp.zeros((size,) + rest, dtype=values.dtype, device=device)
    if n == 0 or size == 0:
        return zeros
    lead = (1,) * len(rest)  # a per-row flag broadcast over the rest of a row
    order = xp.argsort(keys, stable=True)  # equal keys keep their order: "last" is last
    sk, sv = xp.take(keys, order), xp.take(values, order, axis=0)
    if reduce == "sum":
        shift = 1
        while shift < n:  # after it, each row holds the sum of its run up to itself
            same = xp.reshape(sk[shift:] == sk[:-shift], (n - shift,) + lead)
            earlier = xp.where(same, sv[:-shift, ...], xp.zeros_like(sv[:-shift, ...]))
            sv = xp.concat([sv[:shift, ...], sv[shift:, ...] + earlier], axis=0)
            shift *= 2
    targets = xp.arange(size, dtype=xp.int64, device=device)
    end = searchsorted_right(xp, sk, targets, device) - 1  # the last row of each run
    safe = xp.clip(end, 0, n - 1)
    hit = xp.logical_and(end >= 0, xp.take(sk, safe) == targets)
    hit = xp.reshape(hit, (size,) + lead)
    return xp.where(hit, xp.take(sv, safe, axis=0), zeros)


def plane_keys(xp: Any, indices: Any, plane: int, device: Any) -> Any:
    """``(N, C, ...)`` per-plane indices as 1-D keys into the flattened ``(N, C, plane)``
    array: ``(n*C + c)*plane + index``."""
    planes = indices.shape[0] * indices.shape[1]
    per = math.prod(indices.shape[2:])
    base = xp.reshape(xp.arange(planes, dtype=xp.int64, device=device) * plane, (planes, 1))
    flat = xp.reshape(xp.astype(indices, xp.int64), (planes, per))
    return xp.reshape(flat + base, (planes * per,))


def gather_planes(xp: Any, x: Any, indices: Any, device: Any) -> Any:
    """``x[n, c].flat[indices[n, c, ...]]`` for every plane: the shape of ``indices``."""
    plane = math.prod(x.shape[2:])
    flat = xp.reshape(x, (math.prod(x.shape),))
    keys = plane_keys(xp, indices, plane, device)
    return xp.reshape(xp.take(flat, keys), tuple(indices.shape))


def scatter_planes(
    xp: Any, values: Any, indices: Any, shape: Sequence[int], *, reduce: str, device: Any
) -> Any:
    """The ``(N, C, *spatial)`` array ``shape`` whose plane ``(n, c)`` receives
    ``values[n, c, ...]`` at the flat positions ``indices[n, c, ...]`` (summed, or the last
    in row-major order kept; see :func:`scatter`)."""
    plane = math.prod(shape[2:])
    keys = plane_keys(xp, indices, plane, device)
    flat = xp.reshape(values, (math.prod(values.shape),))
    return xp.reshape(
        scatter(xp, keys, flat, math.prod(shape), reduce=reduce, device=device), tuple(shape)
    )


# -- ops whose result is (values, indices) ---------------------------------------------------------


def forward_pair(plan: _common.Plan, arrays: list[Any], path: str | None) -> tuple[Any, Any]:
    """``(values, indices)`` of a call on batched, channels-first standard arrays (for an
    empty output, a batch of 0: empty values, as :func:`portconv.ops._common.forward` makes
    them, and empty indices)."""
    call = plan.call
    if 0 in call.out_shape:
        xp = plan.be.adapter.namespace()
        idx = xp.zeros(call.out_shape, dtype=xp.int64, device=call.device)
        return _common.forward(plan, arrays, path), idx
    return _common.forward(plan, arrays, path)


def run_pair(plan: _common.Plan, arrays: tuple, path: str | None) -> tuple[Any, Any]:
    """Run a bound call with an indices output on the caller's arrays: values and int64
    indices, both in the caller's layout and array type."""
    ad = plan.be.adapter
    xp = ad.namespace()
    std = [None if a is None else ad.to_standard(a) for a in arrays]
    y, idx = forward_pair(plan, plan.inputs(xp, std), path)
    return (
        ad.from_standard(plan.output(xp, y), arrays[0]),
        ad.from_standard(plan.output(xp, idx), arrays[0]),
    )
