"""The one sliding-window mechanism shared by convolution and pooling.

Both ops pad the input explicitly (:func:`pad`) and then look at it through strided slices:
the slice for kernel offset ``(a, b, ...)`` holds, for every output position, the input
element that the kernel's element ``(a, b, ...)`` meets there (:func:`window`). Convolution
stacks those slices into a column buffer and contracts it with the weight in one matmul
(:func:`gather`); pooling combines them one at a time with a running max or sum
(:func:`reduce`). Only functions of the array API standard are used, and nothing is written
into an existing array, so native autograd (torch, MXNet) can follow every step.

Spatial axes are the last ``len(kernel)`` axes of the array.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

Pads = Sequence[tuple[int, int]]


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


def tiles(n: int, bytes_per_item: int, budget: int) -> Iterator[tuple[int, int]]:
    """Split ``range(n)`` into consecutive ``(start, stop)`` tiles whose buffers of
    ``bytes_per_item`` each stay within ``budget`` bytes (at least one item per tile)."""
    step = max(1, min(n, budget // max(bytes_per_item, 1))) if n else 1
    for start in range(0, n, step):
        yield start, min(n, start + step)


def numel(shape: Sequence[int]) -> int:
    return math.prod(shape)
