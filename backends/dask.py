"""Dask adapter: portconv on ``dask.array`` arrays, lazily, chunk by chunk.

A Dask array is a grid of chunks, each a NumPy (or CuPy) array. portconv's ops take Dask
arrays chunked along the batch axis and along the spatial axes and return lazy Dask arrays:
every output chunk is computed by portconv itself on the chunk's library (the NumPy or CuPy
path), so results equal the in-memory computation; nothing is computed until the caller asks
(``.compute()``, ``.persist()``, ``dask.array.store``), on whichever scheduler is in force
(threads by default, or a ``dask.distributed`` cluster).

How an op is cut into chunks (the "native" paths of this adapter, below):

* Batch chunks: each one is an independent call. Weights and biases enter the graph as one
  single-chunk array each (one key), which every chunk's task depends on: a distributed
  scheduler ships them to a worker once, not once per chunk. NumPy weights given with Dask
  inputs are wrapped so (this adapter *absorbs* NumPy and CuPy arrays, the libraries of its
  chunks); a model's parameters become such arrays when the model is placed on a Dask input.
* Spatial chunks (windowed ops: convolution, max and average pooling): output position ``j``
  of an axis reads the input window ``[j*stride - pad_before, ... + dilation*(kernel-1)]``.
  The input's chunk boundaries are moved (a rechunk) to where an output window starts, the
  nearest at or after the caller's boundaries, so every chunk owns the outputs whose windows
  start in it; Dask's overlap mechanism (``dask.array.overlap.overlap`` with a right-only
  depth) then appends to each chunk the ``dilation*(kernel-1) + 1 - stride`` elements its
  last windows read from the next chunk (the halo). Each chunk runs the in-memory op with
  the padding that falls into it: the first chunk the left padding, the last chunk the right
  padding and the rounding rule (PyTorch's ``ceil_mode``, MXNet's ``"full"``), and a chunk
  whose last windows reach past the input the part of the right padding they cover. Counts
  of average pooling (with or without the padding) come out exactly as in one call.
* Axes an op cannot cut: the input channels of a convolution (every output channel reads
  all of its group's channels) and the spatial axes of adaptive pooling and transposed
  convolution are merged into one chunk first (batch chunks stay).

Chunk sizes must be known (``dask.array.Array.compute_chunk_sizes()`` after a boolean
mask). ``path="generic"`` runs portconv's array API code on the Dask arrays themselves
(:func:`namespace`). Autograd works on Dask arrays: :meth:`DaskAdapter.settle` persists what
training keeps from step to step (loss and gradients, new parameters, running statistics),
so a step never recomputes the ones before it; but every step is scheduled task by task, so
training is faster on the chunks' library, and inference over large data is what Dask is for.
"""

from __future__ import annotations

import functools
import math
import sys
import types
from typing import Any

from ._adapter import Adapter, NativePath


class DaskAdapter(Adapter):
    name = "dask"
    module = "dask"
    distribution = "dask"

    targets = ("dask",)

    def __init__(self) -> None:
        super().__init__()
        self.native.update(native_paths())

    #: arrays are lazy grids of chunks: a call never holds a whole array in memory, so
    #: whole arrays are held only to a cluster-sized limit (each chunk's call checks its own)
    chunked = True

    def owns(self, x: Any) -> bool:
        da = sys.modules.get("dask.array")
        return da is not None and isinstance(x, da.Array)

    def absorbs(self, other: Adapter) -> bool:
        # NumPy and CuPy arrays are what Dask's chunks are made of: a weight of either joins
        # a Dask input in one call as a single-chunk Dask array
        return other.name in ("numpy", "cupy")

    def available(self) -> bool:
        return not self.unavailable_reason()

    def unavailable_reason(self) -> str:
        try:
            import dask.array  # noqa: F401
        except Exception as exc:
            return f"dask.array cannot be imported: {type(exc).__name__}: {exc}"
        return ""

    def namespace(self, x: Any = None) -> Any:
        return namespace()

    def to_standard(self, x: Any) -> Any:
        if self.owns(x):
            return x
        return single_chunk(x)

    def settle(self, arrays: list[Any]) -> list[Any]:
        # Training state (losses, gradients, parameters, running statistics): persisted
        # together, each as one chunk, the layout of parameters placed on a Dask input or
        # loaded from a checkpoint; so a resumed run computes with the same chunks, and the
        # same rounding, as an uninterrupted one.
        import dask

        lazy = [i for i, a in enumerate(arrays) if self.owns(a)]
        whole = [
            arrays[i].rechunk(-1) if arrays[i].ndim and arrays[i].npartitions > 1 else arrays[i]
            for i in lazy
        ]
        done = dask.persist(*whole)
        out = list(arrays)
        for i, a in zip(lazy, done):
            out[i] = a
        return out

    def device(self, x: Any) -> Any:
        return "cpu"

    def default_device(self) -> Any:
        return "cpu"

    def dlpack_source(self, x: Any) -> Any:
        return None  # lazy: there is no memory to share until it is computed

    def to_numpy(self, x: Any):
        import numpy as np

        if not self.owns(x):
            return np.asarray(x)
        y = x.compute()
        get = getattr(y, "get", None)  # CuPy chunks: to the host
        return np.asarray(get() if callable(get) and not isinstance(y, np.ndarray) else y)

    def from_numpy(self, a: Any, device: Any = None, like: Any = None) -> Any:
        import numpy as np

        if device not in (None, "cpu"):
            raise ValueError(f"device: Dask arrays here live on 'cpu' chunks, got {device!r}")
        meta = getattr(like, "_meta", None)
        if meta is not None and not isinstance(meta, np.ndarray):
            # chunks of another library (CuPy): the new array's one chunk is of it too
            from portconv._dispatch import backend_of

            return single_chunk(backend_of(meta).adapter.from_numpy(a))
        return single_chunk(np.array(a, copy=True))


_namespace: Any = None


def namespace() -> Any:
    """array-api-compat's namespace for Dask, with a ``reshape`` that also merges or splits
    dimensions across uneven chunks (Dask's refuses those; here the dimensions involved
    are merged into one chunk first, keeping the first axis's chunks where it can) and
    reshapes empty arrays, and creation functions that make empty arrays (Dask's automatic
    chunking fails on them), so portconv's generic array API code runs on Dask arrays too
    (``path="generic"``)."""
    global _namespace
    if _namespace is None:
        import array_api_compat.dask.array as base

        ns = types.ModuleType("portconv.backends.dask.namespace", namespace.__doc__)
        ns.__dict__.update({k: getattr(base, k) for k in dir(base) if not k.startswith("__")})

        def reshape(x: Any, shape: Any, copy: Any = None) -> Any:
            if math.prod(x.shape) == 0:  # Dask cannot reshape empty arrays: a new one
                import numpy as np

                new = np.empty(x.shape, dtype=bool).reshape(shape).shape  # checks the shape
                return base.zeros(new, dtype=x.dtype)
            try:
                return base.reshape(x, shape, copy=copy)
            except NotImplementedError:
                pass
            try:
                keep_batch = x.rechunk({a: -1 for a in range(1, x.ndim)})
                return base.reshape(keep_batch, shape, copy=copy)
            except NotImplementedError:
                return base.reshape(x.rechunk(-1), shape, copy=copy)

        def creation(fn):
            def make(shape: Any, *args: Any, **kwargs: Any) -> Any:
                size = math.prod(shape) if isinstance(shape, tuple) else shape
                if size == 0:  # Dask's automatic chunking divides by the size
                    kwargs.setdefault("chunks", shape)
                return fn(shape, *args, **kwargs)

            return make

        ns.reshape = reshape
        for name in ("zeros", "ones", "empty", "full"):
            setattr(ns, name, creation(getattr(base, name)))
        _namespace = ns
    return _namespace


def single_chunk(a: Any) -> Any:
    """``a`` (a NumPy or CuPy array) as a Dask array of one chunk: one key in a graph, which
    every task that needs it shares (a weight is shipped once, not once per chunk)."""
    import dask.array as da

    return da.from_array(a, chunks=tuple(a.shape) or (), asarray=False)


# -- planning the chunks of one windowed axis ------------------------------------------------------


def axis_plan(
    size: int,
    chunks: tuple[int, ...],
    kernel: int,
    stride: int,
    dilation: int,
    before: int,
    after: int,
    out: int,
) -> tuple[tuple[int, ...], tuple[int, ...], int, tuple[tuple[int, int, int], ...]]:
    """How to cut one spatial axis of a windowed op into chunks.

    Returns ``(input chunks, output chunks, halo, blocks)``: the input's chunk sizes after
    moving each boundary to the start of an output window (at or after the caller's
    boundary), the outputs each chunk owns, the right-only overlap depth, and per chunk
    ``(pad before, pad after, elements to use)`` for the in-memory call (``-1``: all); the
    last chunk keeps the op's right padding (and, in the caller, its rounding rule).
    """
    span = dilation * (kernel - 1) + 1
    halo = max(0, span - stride)
    starts = []  # output positions where a new chunk begins
    edge = 0
    for c in chunks[:-1]:
        edge += c
        o = -(-(edge + before) // stride)  # first window starting at or after the edge
        a = o * stride - before
        if 0 < o < out and 0 < a < size and (not starts or o > starts[-1]):
            starts.append(o)
    # every chunk must hold at least the halo (the chunk before reads that much of it) and
    # one element: drop boundaries that would make a smaller chunk
    least, kept = max(halo, 1), []
    for o in starts:
        edge = o * stride - before
        previous = kept[-1] * stride - before if kept else 0
        # ... and the last chunk a whole window (with the right padding): a window that
        # PyTorch's ceil_mode or MXNet's "full" adds past the input cannot stand alone
        if edge - previous >= least and size - edge >= max(least, span - after):
            kept.append(o)
    starts = kept
    edges = [0] + [o * stride - before for o in starts] + [size]
    outs = [0] + starts + [out]
    in_chunks = tuple(b - a for a, b in zip(edges, edges[1:]))
    out_chunks = tuple(b - a for a, b in zip(outs, outs[1:]))
    blocks = []
    last = len(in_chunks) - 1
    for i in range(len(in_chunks)):
        first_in = edges[i]
        need_from = outs[i] * stride - before  # where the chunk's first window starts
        need_to = (outs[i + 1] - 1) * stride - before + span  # where its last window ends
        have_to = min(edges[i + 1] + halo, size) if i < last else size
        lo = max(0, first_in - need_from) if i == 0 else 0
        if i == last:
            blocks.append((lo, after, -1))
        elif need_to <= have_to:
            blocks.append((lo, 0, need_to - first_in))
        else:
            blocks.append((lo, need_to - have_to, -1))
    return in_chunks, out_chunks, halo, tuple(blocks)


# -- running an op chunk by chunk ------------------------------------------------------------------

_SPATIAL = "xyz"
_PARAM_INDICES = ("opqrs", "t")  # dummy indices of a weight (up to 5-D) and of a bias


def _known_chunks(x: Any) -> None:
    from portconv.errors import ArgumentError

    if any(math.isnan(c) for axis in x.chunks for c in axis):
        raise ArgumentError(
            f"input: the Dask array's chunk sizes are unknown ({x.chunks}); portconv needs "
            f"them to cut the work: call x.compute_chunk_sizes() first"
        )


def _run_block(block_op, plans, n_params, budget, xblock, *rest):
    """One output chunk: slice the haloed input chunk, pad what falls into it, call the op
    (under the memory budget in force where the graph was built: a worker's thread does not
    see the caller's ``portconv.config``)."""
    from portconv import config

    params, positions = rest[:n_params], rest[n_params:]
    pads = []
    index = [slice(None), slice(None)]
    for plan, pos in zip(plans, positions):
        lo, hi, take = plan[int(pos[0])]
        pads.append((lo, hi))
        index.append(slice(None) if take < 0 else slice(0, take))
    with config(memory_budget=budget):
        return block_op(xblock[tuple(index)], *params, pads=tuple(pads))


def windowed(
    x: Any,
    params: tuple,
    block_op,
    *,
    kernel: tuple[int, ...] | None,
    stride: tuple[int, ...] = (),
    dilation: tuple[int, ...] = (),
    padding: tuple[tuple[int, int], ...] = (),
    out: tuple[int, ...],
    channels_out: int | None,
    dtype: Any,
) -> Any:
    """A batched, channels-first op over a Dask array, chunk by chunk (see the module
    docstring). ``block_op(block, *params, pads=)`` computes one output chunk in
    memory; ``kernel=None`` means the spatial axes cannot be cut (one chunk each).
    ``channels_out``: the output's channel count when the op mixes channels (the input's
    channel axis is merged into one chunk), None when it keeps them."""
    import dask.array as da

    from portconv._config import memory_budget

    _known_chunks(x)
    d = x.ndim - 2
    whole = {} if channels_out is None else {1: -1}
    if kernel is None:
        whole.update({2 + j: -1 for j in range(d)})
    if whole:
        x = x.rechunk(whole)
    plans, depth, in_chunks, out_chunks = [], {}, list(x.chunks[:2]), list(x.chunks[:2])
    for j in range(d):
        n = x.shape[2 + j]
        if kernel is None:
            in_c, out_c, halo, blocks = (n,), (out[j],), 0, ((0, 0, -1),)
        else:
            (before, after) = padding[j]
            in_c, out_c, halo, blocks = axis_plan(
                n, x.chunks[2 + j], kernel[j], stride[j], dilation[j], before, after, out[j]
            )
        plans.append(blocks)
        depth[2 + j] = (0, halo if len(in_c) > 1 else 0)  # one chunk: nothing to borrow
        in_chunks.append(in_c)
        out_chunks.append(out_c)
    if tuple(x.chunks) != tuple(in_chunks):  # boundaries moved to where windows start
        x = x.rechunk(tuple(in_chunks))
    if any(h for _, h in depth.values()):
        x = da.overlap.overlap(
            x, depth={0: 0, 1: 0, **depth}, boundary={a: "none" for a in range(x.ndim)}
        )
    if channels_out is not None:
        out_chunks[1] = (channels_out,)

    x_ind = "ab" + _SPATIAL[:d]
    args: list[Any] = [x, x_ind]
    present = []
    for p, ind in zip(params, _PARAM_INDICES):
        if p is not None:
            args += [p, ind[: p.ndim]]
            present.append(p)
    for j in range(d):
        args += [da.arange(len(plans[j]), chunks=1), _SPATIAL[j]]
    budget = memory_budget()
    fn = functools.partial(_run_block, block_op, tuple(plans), len(present), budget)
    return da.blockwise(
        fn,
        x_ind,
        *args,
        align_arrays=False,
        concatenate=True,
        adjust_chunks={ind: c for ind, c in zip(x_ind, out_chunks)},
        dtype=dtype,
        meta=x._meta,
    )


def _conv_block(call, xb, w, b=None, *, pads):
    import portconv

    if call.exact:  # ONNX's integer convolutions: every chunk exact too
        from portconv.ops.conv import exact_conv

        return exact_conv(xb, w, b, call.stride, pads, call.dilation, call.groups)
    return portconv.conv(xb, w, b, call.stride, pads, call.dilation, call.groups)


def _pool_block(call, xb, *, pads):
    # The rounding rule (PyTorch's ceil_mode, MXNet's "full") can be passed to every chunk:
    # a chunk that does not end an axis gets exactly its windows' extent along it, which
    # every rule rounds the same way.
    import portconv

    rule = {
        "ceil_mode": call.mode == "ceil",
        "pooling_convention": "full" if call.mode == "full" else "valid",
    }
    if call.kind == "max":
        return portconv.max_pool(xb, call.kernel, call.stride, pads, call.dilation, **rule)
    count = call.count == "padded"
    return portconv.avg_pool(
        xb, call.kernel, call.stride, pads, count_include_pad=count,
        divisor_override=call.divisor, dilation=call.dilation, **rule,
    )  # fmt: skip


def _adaptive_block(call, xb, *, pads):
    import portconv

    return getattr(portconv, f"adaptive_{call.kind}_pool{call.d}d")(xb, call.out)


def _transpose_block(call, xb, w, b=None, **_):
    import portconv

    return portconv.conv_transpose(
        xb, w, b, call.stride, call.padding, call.output_padding, call.groups, call.dilation
    )


def native_paths() -> dict:
    """The ops this adapter runs chunk by chunk (every call: ``can_run`` is always true)."""

    def conv(call, x, w, b) -> Any:
        block = functools.partial(_conv_block, call)
        return windowed(
            x,
            (w, b),
            block,
            kernel=call.kernel,
            stride=call.stride,
            dilation=call.dilation,
            padding=call.padding,
            out=call.out,
            channels_out=call.c_out,
            dtype=call.dtype,
        )

    def pool(call, x) -> Any:
        return windowed(
            x,
            (),
            functools.partial(_pool_block, call),
            kernel=call.kernel,
            stride=call.stride,
            dilation=call.dilation,
            padding=call.padding,
            out=call.out,
            channels_out=None,
            dtype=call.dtype,
        )

    def adaptive(call, x) -> Any:
        block = functools.partial(_adaptive_block, call)
        return windowed(
            x, (), block, kernel=None, out=call.out, channels_out=None, dtype=call.dtype
        )

    def transpose(call, x, w, b) -> Any:
        block = functools.partial(_transpose_block, call)
        return windowed(
            x, (w, b), block, kernel=None, out=call.out, channels_out=call.c_out, dtype=call.dtype
        )

    def always(call) -> bool:
        return True

    return {
        "conv": NativePath(always, conv),
        "max_pool": NativePath(always, pool),
        "avg_pool": NativePath(always, pool),
        "adaptive_max_pool": NativePath(always, adaptive),
        "adaptive_avg_pool": NativePath(always, adaptive),
        "conv_transpose": NativePath(always, transpose),
    }
