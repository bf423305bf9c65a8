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
    window: the strided slice at one offset     unwindow: pad to the offset, on the
                                                offset's residue lattice of the stride
    gather: stack every offset's window (im2col) col2im: the sum of every offset's unwindow,
                                                lattices interleaved

Only functions of the array API standard are used, and nothing is written into an existing
array, so native autograd (torch, MXNet) can follow every step. Spatial axes are the last
``len(kernel)`` axes of the array.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import itertools
import math
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

Pads = Sequence[tuple[int, int]]


# -- forward: pad, window, gather, reduce ----------------------------------------------------------


def pad(xp: Any, x: Any, pads: Pads, value: float, device: Any = None) -> Any:
    """``x`` with ``pads[i] = (before, after)`` elements of ``value`` around the i-th
    spatial axis (the last ``len(pads)`` axes), built by concatenation, or by the namespace's
    ``portconv_pad(x, pads, value)`` where its adapter provides one (NumPy: one allocation
    and one copy instead of one concatenation per axis)."""
    d = len(pads)
    fast = getattr(xp, "portconv_pad", None)
    if fast is not None and any(p != (0, 0) for p in pads) and min(min(p) for p in pads) >= 0:
        return fast(x, pads, value)
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


def flat_gather(
    xp: Any,
    x: Any,
    kernel: Sequence[int],
    dilation: Sequence[int],
    out: Sequence[int],
    axis: int,
    device: Any = None,
) -> Any:
    """im2col for stride 1 by shifts of the flattened spatial axes: ``x`` ``(*lead, *spatial)``
    (padded already) gives ``(*lead[:axis], K, *lead[axis:], L)`` with ``L = out[0] *
    prod(spatial[1:])`` (``out``: the output size, at most what fits).

    Kernel offset ``(i, j, ...)`` is one shift of the flattened image, so each offset's
    window is one contiguous slice of each image instead of ``out[0]`` short rows (a copy
    several times faster for LeNet's 10 x 10 outputs). The columns are computed for every
    position of the inner axes, ``spatial[1:]``, not only the ``out[1:]`` valid ones (their
    extra columns read across rows; the caller drops them from the product): a factor
    ``prod(spatial[1:]) / prod(out[1:])`` more work, 1.04 for a 3 x 3 kernel on 56 x 56."""
    d = len(kernel)
    spatial = tuple(x.shape[x.ndim - d :])
    lead = tuple(x.shape[: x.ndim - d])
    steps = [math.prod(spatial[a + 1 :]) for a in range(d)]
    inner = steps[0]
    tail = sum((k - 1) * dl * st for k, dl, st in zip(kernel[1:], dilation[1:], steps[1:]))
    flat = xp.reshape(x, lead + (math.prod(spatial),))
    if tail:  # the last windows' extra columns read this far past the image
        flat = pad(xp, flat, [(0, tail)], 0.0, device)
    length = out[0] * inner
    slices = []
    for off in offsets(kernel, dilation):
        shift = sum(o * st for o, st in zip(off, steps))
        slices.append(flat[..., shift : shift + length])
    return xp.stack(slices, axis=axis)


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


# -- backward: crop, col2im ----------------------------------------------------------------


def crop(x: Any, pads: Pads) -> Any:
    """The adjoint of :func:`pad`: ``x`` without its border."""
    d = len(pads)
    spatial = tuple(
        slice(before, n - after) for (before, after), n in zip(pads, x.shape[x.ndim - d :])
    )
    return x[(...,) + spatial]


def col2im(
    xp: Any,
    cols: Any,
    kernel: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int],
    canvas: Sequence[int],
    device: Any = None,
    lead: int = 1,
) -> Any:
    """The adjoint of :func:`gather`: ``cols`` of shape ``(L, prod(kernel), *out)`` back onto
    an array of shape ``(L, *canvas)``, each offset's values put where its window took them
    from, overlaps summed. With ``lead=2``, ``cols`` is ``(L1, prod(kernel), L2, *out)`` and
    the result ``(L1, L2, *canvas)`` (the kernel axis between two leading axes: a
    channels-major product's columns, without a permutation). ``cols`` may also be the list
    of every offset's ``(*lead, *out)`` values, in the order of :func:`offsets` (no stack).

    Strides are taken apart by residue: kernel offset ``o`` (dilation applied) writes the
    canvas positions ``o + stride * t``, i.e. position ``o // stride + t`` of the sub-lattice
    of positions ``= o % stride`` (mod stride). Each sub-lattice, ``canvas / stride`` per
    axis, is the sum of its offsets' values shifted by ``o // stride`` (a pad each); the
    sub-lattices are then interleaved into the canvas (:func:`interleave`, one axis at a
    time: each stack adds a single axis). Nothing is zero-stuffed: the padded
    copies are ``prod(stride)`` times smaller than the canvas, and windows that tile the
    canvas (stride = kernel, LeNet's pooling) cost one interleave and no sum."""
    if isinstance(cols, (list, tuple)):
        offset_values, lead_shape = list(cols), tuple(cols[0].shape[:lead])
    else:
        offset_values = [cols[:, i, ...] for i in range(cols.shape[1])]
        lead_shape = tuple(cols.shape[:1]) + tuple(cols.shape[2 : 2 + lead - 1])
    lattice = tuple(-(-c // s) for c, s in zip(canvas, stride))
    by_residue: dict[tuple[int, ...], list] = {}
    for i, off in enumerate(offsets(kernel, dilation)):
        residue = tuple(o % s for o, s in zip(off, stride))
        base = tuple(o // s for o, s in zip(off, stride))
        by_residue.setdefault(residue, []).append((i, base))
    parts: dict[tuple[int, ...], Any] = {}
    for residue in itertools.product(*(range(s) for s in stride)):
        blocks = [(offset_values[i], base) for i, base in by_residue.get(residue, ())]
        if blocks:
            parts[residue] = _shift_sum(xp, blocks, lattice, device)
        else:  # no offset writes these positions (a stride beyond the kernel)
            dtype = offset_values[0].dtype
            parts[residue] = xp.zeros(lead_shape + lattice, dtype=dtype, device=device)
    full = interleave(xp, list(parts.values()), stride)
    if tuple(full.shape[lead:]) != tuple(canvas):
        full = full[(...,) + tuple(slice(0, c) for c in canvas)]
    return full


def interleave(xp: Any, parts: Sequence[Any], stride: Sequence[int]) -> Any:
    """The ``prod(stride)`` arrays ``parts`` (``(..., *lattice)``, one per residue of the
    stride in row-major order) as one array ``(..., *(lattice * stride))`` whose positions
    equal to a residue (mod stride) hold that residue's part: by stacking, one axis at a time, or
    by the namespace's ``portconv_interleave(parts, stride)`` where its adapter provides one
    (NumPy: strided writes into one new array, 6-9x faster than stacking, whose innermost
    copies are a few elements long).

    >>> import numpy as np
    >>> interleave(np, [np.zeros((1, 2)), np.ones((1, 2))], (1, 2))
    array([[0., 1., 0., 1.]])
    """
    fast = getattr(xp, "portconv_interleave", None)
    if fast is not None and len(parts) > 1:
        return fast(list(parts), tuple(stride))
    d = len(stride)
    residues = itertools.product(*(range(s) for s in stride))
    by_residue = dict(zip(residues, parts))
    for a in reversed(range(d)):  # interleave the residues of axis a into it
        merged = {}
        for prefix in itertools.product(*(range(s) for s in stride[:a])):
            group = [by_residue[prefix + (r,)] for r in range(stride[a])]
            if len(group) == 1:
                merged[prefix] = group[0]
                continue
            axis = group[0].ndim - d + a  # of n_a, in (..., n_0, ..., n_a, ...)
            t = xp.stack(group, axis=axis + 1)  # (..., n_0, ..., n_a, s_a, n_a+1, ...)
            shape = tuple(t.shape)
            merged[prefix] = xp.reshape(
                t, shape[:axis] + (shape[axis] * shape[axis + 1],) + shape[axis + 2 :]
            )
        by_residue = merged
    return by_residue[()]


def _shift_sum(xp: Any, blocks: list, lattice: Sequence[int], device: Any) -> Any:
    """The sum of ``blocks`` (``(array, base)``: each array shifted by ``base`` on a canvas of
    ``lattice``), one axis at a time: the blocks that share their shifts along the later axes
    are padded along the first and summed, then those sums along the second, and so on, so
    most pads and sums are on arrays still narrow along the later axes (for a 5 x 5 kernel,
    about 40% less copying than padding every block to the whole canvas)."""
    d = len(lattice)
    for axis in range(d):
        groups: dict[tuple[int, ...], list] = {}
        for block, base in blocks:
            groups.setdefault(tuple(base[axis + 1 :]), []).append((block, base))
        summed = []
        for members in groups.values():
            acc = None
            for block, base in members:
                pads = [(0, 0)] * d
                n = block.shape[block.ndim - d + axis]
                pads[axis] = (base[axis], lattice[axis] - base[axis] - n)
                part = pad(xp, block, pads, 0.0, device)
                acc = part if acc is None else acc + part
            summed.append((acc, members[0][1]))
        blocks = summed
    return blocks[0][0]


# -- working in tiles ------------------------------------------------------------------------------


def matmul_budget(xp: Any, budget: int) -> int:
    """The bytes a tile of buffers that feed a matmul (a column buffer) may take: ``budget``,
    or less where the namespace's adapter names a tile that stays in the CPU's caches until
    the matmul reads it (``portconv_matmul_tile``; NumPy: see its adapter). Whole examples
    only: a caller splits an example when it exceeds ``budget``, never for this."""
    cap = getattr(xp, "portconv_matmul_tile", None)
    return budget if cap is None else min(budget, cap)


def tiles(n: int, bytes_per_item: int, budget: int) -> Iterator[tuple[int, int]]:
    """Split ``range(n)`` into consecutive ``(start, stop)`` tiles whose buffers of
    ``bytes_per_item`` each stay within ``budget`` bytes (at least one item per tile)."""
    step = max(1, min(n, budget // max(bytes_per_item, 1))) if n else 1
    for start in range(0, n, step):
        yield start, min(n, start + step)


#: the least work (bytes of a tile's buffers) worth handing to another thread
MIN_THREAD_TILE = 1 << 20

_pool: concurrent.futures.ThreadPoolExecutor | None = None
_pool_size = 0
_pool_lock = threading.Lock()
_in_worker = threading.local()


def _workers(xp: Any, n: int, bytes_per_item: int, concurrent: bool) -> int:
    """How many threads :func:`by_tiles` runs on: 1 unless the tiles are independent
    elementwise work (``concurrent``), the namespace's functions release the GIL (its adapter
    sets ``portconv_tiles_in_threads``), this is not already a worker, and there is at least
    :data:`MIN_THREAD_TILE` of work per thread."""
    if not concurrent or not getattr(xp, "portconv_tiles_in_threads", False):
        return 1
    if getattr(_in_worker, "active", False):
        return 1
    from ._config import threads

    return max(1, min(threads(), n, (n * bytes_per_item) // MIN_THREAD_TILE))


def _run_in_worker(ctx: contextvars.Context, fn, a: int, z: int) -> Any:
    _in_worker.active = True
    try:
        return ctx.run(fn, a, z)  # the caller's portconv.config settings
    finally:
        _in_worker.active = False


def _executor(workers: int) -> concurrent.futures.ThreadPoolExecutor:
    """The shared pool of tile threads, replaced by a larger one when it has fewer than
    ``workers`` (never shut down here: a call in another thread may still be submitting to
    it; its threads end once the last call holding it lets it go)."""
    global _pool, _pool_size
    with _pool_lock:
        if _pool is None or _pool_size < workers:
            _pool = concurrent.futures.ThreadPoolExecutor(workers, "portconv-tiles")
            _pool_size = workers
        return _pool


def by_tiles(
    xp: Any, n: int, bytes_per_item: int, budget: int, fn, concurrent: bool = False
) -> Any:
    """``fn(start, stop)`` over the :func:`tiles` of ``range(n)``, joined along axis 0.

    With ``concurrent=True`` (``fn`` is elementwise work without a BLAS call of its own, so
    that threads do not contend with the BLAS's: pooling), the tiles run on up to
    ``portconv.config(threads=...)`` threads where :func:`_workers` allows it, each tile
    within ``budget / threads`` so that the tiles in flight stay within the budget, and at
    least one tile per thread; the result is the same, joined in order."""
    workers = _workers(xp, n, bytes_per_item, concurrent)
    if workers == 1:
        parts = [fn(a, z) for a, z in tiles(n, bytes_per_item, budget)]
    else:
        per_thread = -(-n // workers) * bytes_per_item
        spans = list(tiles(n, bytes_per_item, min(budget // workers, per_thread)))
        pool, parts = _executor(workers), []
        for i in range(0, len(spans), workers):  # at most `workers` tiles in flight
            wave = [
                pool.submit(_run_in_worker, contextvars.copy_context(), fn, a, z)
                for a, z in spans[i : i + workers]
            ]
            parts.extend(f.result() for f in wave)
    return parts[0] if len(parts) == 1 else xp.concat(parts, axis=0)


def merge(xp: Any, x: Any) -> Any:
    """``(N, C, *spatial) -> (N*C, *spatial)``."""
    return xp.reshape(x, (x.shape[0] * x.shape[1],) + tuple(x.shape[2:]))


def split(xp: Any, x: Any, n: int) -> Any:
    """``(N*C, *spatial) -> (N, C, *spatial)``, the inverse of :func:`merge`."""
    return xp.reshape(x, (n, x.shape[0] // n) + tuple(x.shape[1:]))
