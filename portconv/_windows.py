"""The one sliding-window mechanism shared by convolution and pooling, and its adjoint.

Both ops pad the input explicitly (:func:`pad`) and then look at it through strided slices:
the slice for kernel offset ``(a, b, ...)`` holds, for every output position, the input
element that the kernel's element ``(a, b, ...)`` meets there (:func:`window`). Convolution
stacks those slices into a column buffer and contracts it with the weight in one matmul
(:func:`gather`, im2col); pooling combines them one at a time with a running max or sum
(:func:`reduce`).

Gradients run the same steps backwards, each replaced by its adjoint::

    forward                                     backward (adjoint)
    pad: concatenate a border around x          crop: slice the border off
    window: the strided slice at one offset     unwindow: zero-stuff by the stride (dilate),
                                                pad to the offset
    gather: stack every offset's window (im2col) col2im: the sum of every offset's unwindow

Only functions of the array API standard are used, and nothing is written into an existing
array, so native autograd (torch, MXNet) can follow every step. Spatial axes are the last
``len(kernel)`` axes of the array.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

Pads = Sequence[tuple[int, int]]


# -- forward: pad, window, gather, reduce ----------------------------------------------------------


def pad(xp: Any, x: Any, pads: Pads, value: float, device: Any = None) -> Any:
    """``x`` with ``pads[i] = (before, after)`` elements of ``value`` around the i-th
    spatial axis (the last ``len(pads)`` axes), built by concatenation."""
    d = len(pads)
    for i, (before, after) in enumerate(pads):
        if before == 0 and after == 0:
            continue
        axis = x.ndim - d + i
        parts = []
        for width in (before, after):
            shape = list(x.shape)
            shape[axis] = width
            parts.append(
                xp.full(tuple(shape), value, dtype=x.dtype, device=device) if width else None
            )
        x = xp.concat([p for p in (parts[0], x, parts[1]) if p is not None], axis=axis)
    return x


def window(x: Any, offset: Sequence[int], stride: Sequence[int], out: Sequence[int]) -> Any:
    """The strided slice of ``x`` that kernel offset ``offset`` (already multiplied by the
    dilation) sees at every one of the ``out`` output positions."""
    spatial = tuple(slice(o, o + s * (n - 1) + 1, s) for o, s, n in zip(offset, stride, out))
    return x[(...,) + spatial]


def offsets(kernel: Sequence[int], dilation: Sequence[int]) -> Iterator[tuple[int, ...]]:
    """Kernel offsets in row-major order (the order of a flattened kernel)."""
    for idx in itertools.product(*(range(k) for k in kernel)):
        yield tuple(i * d for i, d in zip(idx, dilation))


def gather(
    xp: Any,
    x: Any,
    kernel: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int],
    out: Sequence[int],
    axis: int | None = None,
) -> Any:
    """The column buffer: shape ``x.shape[:-d] + (prod(kernel),) + out``, its axis ``-d-1``
    running over kernel offsets in row-major order (im2col); ``axis`` puts the kernel-offset
    axis elsewhere (``axis=1`` on ``(C, m, *spatial)`` gives ``(C, K, m, *out)``)."""
    d = len(kernel)
    slices = [window(x, o, stride, out) for o in offsets(kernel, dilation)]
    return xp.stack(slices, axis=x.ndim - d if axis is None else axis)


def flat_gather(xp: Any, x: Any, kernel: Sequence[int], dilation: Sequence[int], axis: int) -> Any:
    """im2col for stride 1 by shifts of the flattened spatial axes: ``x`` ``(*lead, *spatial)``
    (padded already) gives ``(*lead[:axis], K, *lead[axis:], L)`` with ``L = out[0] *
    prod(spatial[1:])``.

    Kernel offset ``(i, j, ...)`` is one shift of the flattened image, so each offset's
    window is one contiguous slice of each image instead of ``out[0]`` short rows (a copy
    several times faster for LeNet's 10 x 10 outputs). The columns are computed for every
    position of the inner axes, ``spatial[1:]``, not only the ``out[1:]`` valid ones (their
    extra columns read across rows; :func:`flat_crop` drops them): a factor
    ``prod(spatial[1:]) / prod(out[1:])`` more work, 1.04 for a 3 x 3 kernel on 56 x 56."""
    d = len(kernel)
    spatial = tuple(x.shape[x.ndim - d :])
    lead = tuple(x.shape[: x.ndim - d])
    steps = [math.prod(spatial[a + 1 :]) for a in range(d)]
    inner = steps[0]
    out0 = spatial[0] - dilation[0] * (kernel[0] - 1)
    tail = sum((k - 1) * dl * st for k, dl, st in zip(kernel[1:], dilation[1:], steps[1:]))
    flat = xp.reshape(x, lead + (math.prod(spatial),))
    if tail:  # the last windows' extra columns read this far past the image
        flat = pad(xp, flat, [(0, tail)], 0.0, None)
    length = out0 * inner
    slices = []
    for off in offsets(kernel, dilation):
        shift = sum(o * st for o, st in zip(off, steps))
        slices.append(flat[..., shift : shift + length])
    return xp.stack(slices, axis=axis)


def flat_crop(xp: Any, y: Any, spatial: Sequence[int], out: Sequence[int]) -> Any:
    """``y`` ``(..., out[0] * prod(spatial[1:]))`` from :func:`flat_gather`'s columns, as
    ``(..., *out)``: the valid positions of the inner axes kept."""
    lead = tuple(y.shape[:-1])
    y = xp.reshape(y, lead + (out[0],) + tuple(spatial[1:]))
    if tuple(spatial[1:]) != tuple(out[1:]):
        y = y[(...,) + tuple(slice(0, o) for o in out[1:])]
    return y


def reduce(
    x: Any,
    kernel: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int],
    out: Sequence[int],
    combine: Callable[[Any, Any], Any],
) -> Any:
    """Combine the windows of every kernel offset pairwise (``combine`` is a max or an add):
    shift-and-accumulate, whose working memory is one output-sized array."""
    acc = None
    for o in offsets(kernel, dilation):
        w = window(x, o, stride, out)
        acc = w if acc is None else combine(acc, w)
    return acc


# -- backward: crop, dilate, col2im ----------------------------------------------------------------


def crop(x: Any, pads: Pads) -> Any:
    """The adjoint of :func:`pad`: ``x`` without its border."""
    d = len(pads)
    spatial = tuple(
        slice(before, n - after) for (before, after), n in zip(pads, x.shape[x.ndim - d :])
    )
    return x[(...,) + spatial]


def dilate(xp: Any, t: Any, stride: Sequence[int], device: Any = None) -> Any:
    """Zero-stuffing: ``stride - 1`` zeros between neighbours along each spatial axis, so that
    an axis of ``m`` elements becomes ``(m - 1) * stride + 1`` long (the adjoint of taking
    every ``stride``-th element)."""
    d = len(stride)
    for i, s in enumerate(stride):
        if s == 1:
            continue
        axis = t.ndim - d + i
        m = t.shape[axis]
        zeros = xp.zeros(tuple(t.shape), dtype=t.dtype, device=device)
        t = xp.stack([t] + [zeros] * (s - 1), axis=axis + 1)  # (..., m, s, ...)
        t = xp.reshape(t, tuple(t.shape[:axis]) + (m * s,) + tuple(t.shape[axis + 2 :]))
        t = t[(slice(None),) * axis + (slice(0, (m - 1) * s + 1), ...)]
    return t


def col2im(
    xp: Any,
    cols: Any,
    kernel: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int],
    canvas: Sequence[int],
    device: Any = None,
) -> Any:
    """The adjoint of :func:`gather`: ``cols`` of shape ``(L, prod(kernel), *out)`` back onto
    an array of shape ``(L, *canvas)``, each offset's values put where its window took them
    from, overlaps summed. (One leading axis keeps every intermediate within 5 dimensions for
    3-D kernels, which MXNet needs.)"""
    lead, k = cols.shape[0], cols.shape[1]
    out = tuple(cols.shape[2:])
    if (
        len(kernel) <= 2  # (L, *kernel, *out) stays within MXNet's 5 dimensions
        and tuple(stride) == tuple(kernel)
        and all(dl == 1 for dl in dilation)
        and all(c >= o * kk for c, o, kk in zip(canvas, out, kernel))
    ):
        return _col2im_tiled(xp, cols, kernel, canvas, device)
    stuffed = dilate(xp, xp.reshape(cols, (lead * k,) + out), stride, device)  # every offset
    span = tuple(stuffed.shape[1:])
    stuffed = xp.reshape(stuffed, (lead, k) + span)
    acc = None
    for i, offset in enumerate(offsets(kernel, dilation)):
        pads = [(o, c - o - n) for o, c, n in zip(offset, canvas, span)]
        part = pad(xp, stuffed[:, i, ...], pads, 0.0, device)
        acc = part if acc is None else acc + part
    return acc


def _col2im_tiled(xp: Any, cols: Any, kernel: Sequence[int], canvas: Sequence[int], device):
    """:func:`col2im` where the windows tile the canvas without overlap or gaps (stride equal
    to the kernel, no dilation: LeNet's 2 x 2 stride-2 pooling). Every canvas element belongs
    to at most one window, so nothing is summed: the offsets interleave back into the output
    axes, ``(L, *kernel, *out) -> (L, o1, k1, o2, k2, ...)``, in one copy instead of one
    zero-stuffed canvas per offset, and what lies past the last window is padded with
    zeros."""
    lead = cols.shape[0]
    out = tuple(cols.shape[2:])
    d = len(kernel)
    t = xp.reshape(cols, (lead,) + tuple(kernel) + out)
    order = (0,) + tuple(a for i in range(d) for a in (1 + d + i, 1 + i))  # (L, o1, k1, ...)
    t = xp.permute_dims(t, order)
    t = xp.reshape(t, (lead,) + tuple(o * k for o, k in zip(out, kernel)))
    rest = [(0, c - o * k) for c, o, k in zip(canvas, out, kernel)]
    if any(after for _, after in rest):
        t = pad(xp, t, rest, 0.0, device)
    return t


# -- working in tiles ------------------------------------------------------------------------------


def tiles(n: int, bytes_per_item: int, budget: int) -> Iterator[tuple[int, int]]:
    """Split ``range(n)`` into consecutive ``(start, stop)`` tiles whose buffers of
    ``bytes_per_item`` each stay within ``budget`` bytes (at least one item per tile)."""
    step = max(1, min(n, budget // max(bytes_per_item, 1))) if n else 1
    for start in range(0, n, step):
        yield start, min(n, start + step)


def by_tiles(xp: Any, n: int, bytes_per_item: int, budget: int, fn) -> Any:
    """``fn(start, stop)`` over the :func:`tiles` of ``range(n)``, joined along axis 0."""
    parts = [fn(a, z) for a, z in tiles(n, bytes_per_item, budget)]
    return parts[0] if len(parts) == 1 else xp.concat(parts, axis=0)


def merge(xp: Any, x: Any) -> Any:
    """``(N, C, *spatial) -> (N*C, *spatial)``."""
    return xp.reshape(x, (x.shape[0] * x.shape[1],) + tuple(x.shape[2:]))


def split(xp: Any, x: Any, n: int) -> Any:
    """``(N*C, *spatial) -> (N, C, *spatial)``, the inverse of :func:`merge`."""
    return xp.reshape(x, (n, x.shape[0] // n) + tuple(x.shape[1:]))
