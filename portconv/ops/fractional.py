"""Fractional max pooling, forward and backward, written once against the array API standard.

Public ops (``torch.nn.functional``'s names, argument order and semantics)::

    fractional_max_pool2d/3d(input, kernel_size, output_size=None, output_ratio=None,
                             return_indices=False, _random_samples=None, *, generator=None)

Graham's fractional max pooling (2014): windows of ``kernel_size`` whose starts advance by a
random, non-integer stride, so that the output is ``output_size`` (or ``int(size *
output_ratio)``) whatever the input. Along an axis of ``n`` inputs and ``o`` outputs, with
``alpha = (n - k) / (o - 1)`` and the plane's random sample ``u`` in ``[0, 1)`` for that
axis, output ``i < o - 1`` starts at ``int((i + u)*alpha) - int(u*alpha)`` and the last at
``n - k`` (PyTorch's intervals, computed in the input's dtype as its kernels compute them).

The random samples, one per ``(n, c)`` plane and axis, are ``_random_samples`` when given
(PyTorch's argument: shape ``(N, C, d)``, ``N = 1`` for an unbatched input, of the input's
dtype), else drawn from a NumPy generator: ``generator`` an int seed (or a
``numpy.random.Generator``) gives the same samples, hence the same result, on every backend;
None draws fresh ones. As in PyTorch, ``samples[..., 0]`` is the width's and ``[..., 1]``
the height's for 2-D pooling, and ``[..., 0, 1, 2]`` the depth's, height's and width's for
3-D.

**Forward**: for every tap of the window, the input at that tap of each output's window (a
``take`` on the flat plane), combined with a running maximum that keeps the first maximum
in row-major window order and lets NaN through (the last NaN), with its flat index, as
PyTorch's kernel.

**Backward**: each output's gradient added to the input at its maximum's index (a scatter by
sorting; windows may overlap).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import ArgumentError, ArrayTypeError
from ._args import SPATIAL_NAMES
from ._call import FractionalCall, fractional_call
from ._common import Op, Plan, bound, prepare, require_float, require_ndim
from ._indices import gather_planes, run_pair, scatter_planes

__all__ = ["fractional_max_pool2d", "fractional_max_pool3d"]


def sample_axis(d: int, j: int) -> int:
    """The spatial axis that sample ``j`` draws the intervals of (PyTorch's order)."""
    return d - 1 - j if d == 2 else j


# -- the generic forward and backward --------------------------------------------------------------


def _starts(xp: Any, call: FractionalCall, samples: Any, axis: int) -> Any:
    """The window starts along spatial ``axis`` for every plane: ``(N, C, out)`` int64."""
    n, k, o = call.size[axis], call.kernel[axis], call.out[axis]
    j = [i for i in range(call.d) if sample_axis(call.d, i) == axis][0]
    u = samples[:, :, j : j + 1]  # (N, C, 1), the input's dtype
    last = xp.full(u.shape, n - k, dtype=xp.int64, device=call.device)
    if o == 1:
        return last
    dtype = samples.dtype
    alpha = xp.asarray(float(n - k), dtype=dtype, device=call.device) / xp.asarray(
        float(o - 1), dtype=dtype, device=call.device
    )
    i = xp.reshape(xp.arange(o - 1, dtype=dtype, device=call.device), (1, 1, o - 1))
    seq = xp.astype((i + u) * alpha, xp.int64) - xp.astype(u * alpha, xp.int64)
    return xp.concat([seq, last], axis=2)


def _forward(xp: Any, call: FractionalCall, x: Any, samples: Any) -> tuple[Any, Any]:
    d = call.d
    starts = []  # per axis, broadcastable to (N, C, *out)
    for a in range(d):
        s = _starts(xp, call, samples, a)
        shape = (call.n, call.c) + tuple(call.out[a] if b == a else 1 for b in range(d))
        starts.append(xp.reshape(s, shape) * math.prod(call.size[a + 1 :]))
    acc = xp.full(call.out_shape, float("-inf"), dtype=x.dtype, device=call.device)
    idx = None
    for tap in np.ndindex(*call.kernel):
        flat = None
        for a in range(d):
            term = starts[a] + tap[a] * math.prod(call.size[a + 1 :])
            flat = term if flat is None else flat + term
        flat = xp.broadcast_to(flat, call.out_shape)
        v = gather_planes(xp, x, flat, call.device)
        if idx is None:
            idx = flat
        take = xp.logical_or(v > acc, xp.isnan(v))
        acc = xp.where(take, v, acc)
        idx = xp.where(take, flat, idx)
    return acc, idx


def _backward(xp: Any, call: FractionalCall, arrays, y, g, needs) -> tuple:
    if not needs[0]:
        return None, None
    shape = (call.n, call.c) + call.size
    return scatter_planes(xp, g, y[1], shape, reduce="sum", device=call.device), None


#: fractional max pooling: the generic forward (values and indices) and its gradient
FRACTIONAL_MAX_POOL = Op("fractional_max_pool", _forward, _backward)


# -- the front end ---------------------------------------------------------------------------------


def _check(input, kernel_size, output_size, output_ratio, return_indices, d) -> Plan:
    be, xp, (x,) = prepare(input, names=("input",))
    sp = ", ".join(SPATIAL_NAMES[d])
    require_ndim("input", x, (d + 1, d + 2), f"(N, C, {sp}) or unbatched (C, {sp})")
    require_float(xp, "input", x)
    batched = x.ndim == d + 2
    shape = tuple(x.shape) if batched else (1,) + tuple(x.shape)
    call = fractional_call(
        shape, kernel_size, output_size, output_ratio, return_indices,
        dtype=x.dtype, device=be.device,
    )  # fmt: skip
    return Plan(FRACTIONAL_MAX_POOL, be, call, batched)


def bind(input, kernel_size, output_size, output_ratio, return_indices, d) -> Plan:
    """The checked :class:`Plan` of a fractional max pooling call."""
    args = ("fractional", kernel_size, output_size, output_ratio, return_indices, d)
    return bound(
        (input,),
        args,
        lambda: _check(input, kernel_size, output_size, output_ratio, return_indices, d),
    )


def samples_for(plan: Plan, input: Any, samples: Any, generator: Any) -> Any:
    """The random samples of a bound call, as an array of the input's library (standard):
    the caller's ``_random_samples`` (checked), or drawn from ``generator``."""
    call, ad = plan.call, plan.be.adapter
    xp = ad.namespace()
    if samples is not None:
        if generator is not None:
            raise ArgumentError(
                "generator: give _random_samples or generator, not both (the samples are "
                "either given or drawn)"
            )
        _, _, (u, x) = prepare(samples, input, names=("_random_samples", "input"))
        if tuple(u.shape) != call.samples_shape:
            raise ArgumentError(
                f"_random_samples: expected shape {call.samples_shape} (N, C, {call.d}): one "
                f"sample per plane and spatial axis, N = 1 for an unbatched input), got "
                f"{tuple(u.shape)}"
            )
        if u.dtype != x.dtype:
            raise ArrayTypeError(
                f"_random_samples: expected the input's dtype {x.dtype}, got {u.dtype}"
            )
        if math.prod(u.shape):  # any value PyTorch takes, as long as the windows fit
            for a in range(call.d):
                s = _starts(xp, call, u, a)
                low, high = int(xp.min(s)), int(xp.max(s))
                if low < 0 or high > call.size[a] - call.kernel[a]:
                    raise ArgumentError(
                        f"_random_samples: these samples put windows outside the input along "
                        f"spatial axis {a} (starts from {low} to {high}, the input allows 0 "
                        f"to {call.size[a] - call.kernel[a]}); samples in [0, 1) never do"
                    )
        return u
    if generator is None or isinstance(generator, (int, np.integer)):
        rng = np.random.default_rng(generator)
    elif isinstance(generator, np.random.Generator):
        rng = generator
    else:
        raise ArrayTypeError(
            f"generator: expected None, an int seed or a numpy.random.Generator, got {generator!r}"
        )
    drawn = ad.from_numpy(rng.random(call.samples_shape), device=plan.be.device)
    return xp.astype(drawn, call.dtype)


# -- public ops ------------------------------------------------------------------------------------


def _fixed(d: int):
    def op(
        input: Any,
        kernel_size: Any,
        output_size: Any = None,
        output_ratio: Any = None,
        return_indices: bool = False,
        _random_samples: Any = None,
        *,
        generator: Any = None,
        path: str | None = None,
    ) -> Any:
        plan = bind(input, kernel_size, output_size, output_ratio, return_indices, d)
        samples = samples_for(plan, input, _random_samples, generator)
        y, idx = run_pair(plan, (input, samples), path)
        return (y, idx) if plan.call.indices else y

    names = ", ".join(SPATIAL_NAMES[d])
    shape = ", ".join(["1", "1"] + ["9"] * d)
    out = ", ".join(["1", "1"] + ["4"] * d)
    order = "width, height" if d == 2 else "depth, height, width"
    op.__name__ = op.__qualname__ = f"fractional_max_pool{d}d"
    op.__module__ = __name__
    op.__doc__ = f"""{d}-D fractional max pooling, as
    ``torch.nn.functional.fractional_max_pool{d}d``.

    Windows of ``kernel_size`` at pseudo-random starts (see the module docstring), so that
    the output has ``output_size``.

    Parameters
    ----------
    input : array
        ``(N, C, {names})`` or unbatched ``(C, {names})``, real floating.
    kernel_size : int or tuple of int
        The window.
    output_size : int or tuple of int, optional
        The output's spatial size (``output + kernel - 1 <= input`` on every axis).
    output_ratio : float or tuple of float, optional
        Instead of ``output_size``: ``int(size * ratio)``, ratios in (0, 1].
    return_indices : bool
        Also return the flat index of each maximum within its plane (int64).
    _random_samples : array, optional
        PyTorch's: ``(N, C, {d})`` samples in ``[0, 1)`` of the input's library and dtype,
        in the order {order}; ``N = 1`` for an unbatched input.
    generator : int or numpy.random.Generator, optional
        Where the samples come from when not given: a seed gives the same samples (and
        result) on every backend; None draws fresh ones.
    path : str, optional
        None, "auto", "generic" or "native" (see :func:`portconv.conv`).

    Returns
    -------
    array or (array, array)
        ``(N, C, *output_size)``, of the input's library, dtype and device; with
        ``return_indices``, the indices too.

    Examples
    --------
    >>> import numpy as np, portconv as pc
    >>> x = np.arange({9**d}.0).reshape({shape})
    >>> pc.fractional_max_pool{d}d(x, 2, output_size=4, generator=0).shape
    ({out})
    """
    return op


fractional_max_pool2d = _fixed(2)
fractional_max_pool3d = _fixed(3)
