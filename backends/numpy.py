"""NumPy adapter (NumPy 1.22 and later; the array API namespace through array-api-compat)."""

from __future__ import annotations

import itertools
import types
from typing import Any

import numpy as np

from ._adapter import Adapter


class NumPyAdapter(Adapter):
    name = "numpy"
    module = "numpy"
    distribution = "numpy"

    targets = ("numpy",)

    #: NumPy 2.1 and later import read-only DLPack memory as read-only arrays
    dlpack_views_read_only = np.lib.NumpyVersion(np.__version__) >= "2.1.0"

    def dlpack_source(self, x: Any) -> Any:
        return x if shareable(x) else None

    def import_dlpack(self, obj: Any, target: str) -> Any:
        return np.from_dlpack(obj)

    def owns(self, x: Any) -> bool:
        return isinstance(x, np.ndarray)

    def to_standard(self, x: Any) -> Any:
        """Subclasses of ``ndarray`` are computed on as plain arrays (a view of their data:
        ``np.matrix``, ``np.memmap``, record arrays), except masked arrays, which are refused:
        convolution and pooling have no rule for masked elements, and computing on the data
        underneath would silently use values the mask hides."""
        if type(x) is np.ndarray:
            return x
        if isinstance(x, np.ma.MaskedArray):
            from portconv.errors import ArrayTypeError

            raise ArrayTypeError(
                "expected a NumPy array, got a masked array (numpy.ma.MaskedArray): portconv "
                "has no rule for masked elements; fill them first (x.filled(value)) or pass "
                "the data itself (x.data) if the mask does not matter"
            )
        return x.view(np.ndarray)

    def namespace(self, x: Any = None) -> Any:
        return _namespace()

    def device(self, x: Any) -> Any:
        return "cpu"

    def default_device(self) -> Any:
        return "cpu"

    def to_numpy(self, x: Any) -> np.ndarray:
        return np.asarray(x)

    def from_numpy(self, a: Any, device: Any = None, like: Any = None) -> np.ndarray:
        if device not in (None, "cpu"):
            raise ValueError(f"device: NumPy arrays live on 'cpu' only, got {device!r}")
        return np.array(a, copy=True)  # a new array, as every adapter gives


#: the bytes of both operands' blocks that a long-contraction product keeps in cache (about
#: half the L2 of the project's machine: see :func:`matmul`)
_BLOCK_BYTES = 256 * 1024


def matmul(x1: Any, x2: Any, /) -> Any:
    """``x1 @ x2``, with products whose result is tiny and whose contraction is long (a
    convolution's weight gradient with few channels: LeNet's first layer contracts 200,704
    terms into 6 x 25 numbers) summed over blocks of the contraction instead of one call.

    OpenBLAS runs such a product at a third of its rate, at one thread and two alike:
    ``(6, 200704) @ (200704, 25)`` took 5.0 ms, in blocks of 2,048 terms 2.0 ms; results
    of more than about 1,000 elements (16 x 150: 29 ms either way) or with one row or column
    (a matrix-vector product) gain nothing (measured on the project's 2-core AMD EPYC,
    NumPy 2.4 with OpenBLAS; PyTorch's BLAS gains nothing from blocks, so only this
    adapter blocks). Each block's operands take about :data:`_BLOCK_BYTES`; the partial
    products are summed in the blocks' order, so the result is deterministic.

    >>> a = np.ones((6, 100_000), dtype=np.float32)
    >>> float(matmul(a, a.T)[0, 0])
    100000.0
    """
    from array_api_compat.numpy import matmul as whole

    if x1.ndim < 2 or x2.ndim < 2:
        return whole(x1, x2)
    m, k, n = x1.shape[-2], x1.shape[-1], x2.shape[-1]
    block = max(1024, _BLOCK_BYTES // ((m + n) * x1.itemsize))
    if m * n > 1024 or min(m, n) < 2 or k < 4 * block:
        return whole(x1, x2)
    acc = None
    for s in range(0, k, block):
        part = whole(x1[..., s : s + block], x2[..., s : s + block, :])
        acc = part if acc is None else acc + part
    return acc


def pad(x: np.ndarray, pads: Any, value: float) -> np.ndarray:
    """``x`` with ``pads[i] = (before, after)`` elements of ``value`` around the i-th of its
    last ``len(pads)`` axes, in one allocation and one copy (``portconv._windows.pad``, which
    concatenates once per axis, calls it where the namespace has it: 2-7x faster on the
    padded inputs of ResNet's 3x3 convolutions, measured on the project's machine).

    >>> pad(np.ones((1, 2, 2), np.float32), [(1, 0), (0, 1)], 0.0)[0]
    array([[0., 0., 0.],
           [1., 1., 0.],
           [1., 1., 0.]], dtype=float32)
    """
    d = len(pads)
    spatial = x.shape[x.ndim - d :]
    shape = x.shape[: x.ndim - d] + tuple(n + b + a for n, (b, a) in zip(spatial, pads))
    out = np.zeros(shape, x.dtype) if value == 0 else np.full(shape, value, x.dtype)
    out[(...,) + tuple(slice(b, b + n) for n, (b, _) in zip(spatial, pads))] = x
    return out


def interleave(parts: list, stride: tuple) -> np.ndarray:
    """``portconv._windows.interleave``: each residue's part written into its strided
    positions of one new array, laid out in memory as the first part is (a channels-major
    gradient stays channels-major).

    >>> interleave([np.zeros((1, 2)), np.ones((1, 2))], (1, 2))
    array([[0., 1., 0., 1.]])
    """
    d, first = len(stride), parts[0]
    lattice = first.shape[first.ndim - d :]
    shape = first.shape[: first.ndim - d] + tuple(n * s for n, s in zip(lattice, stride))
    out = np.empty_like(first, dtype=np.result_type(*parts), shape=shape)
    for residue, part in zip(itertools.product(*(range(s) for s in stride)), parts):
        out[(...,) + tuple(slice(r, None, s) for r, s in zip(residue, stride))] = part
    return out


#: the bytes of one tile of a column buffer (a convolution's, its transpose's, its weight
#: gradient's), so that the buffer is still in cache when OpenBLAS reads it: on the project's
#: machine (1 MiB of L2 per core, 32 MiB of L3) LeNet's convolutions with tiles of 2-6 MiB
#: ran 15-25% faster than in one 15-23 MB buffer at one thread, and ResNet's stride-2 3x3 8%
#: (1 MiB: slower again, Python's share per tile grows); see portconv._windows.matmul_budget
MATMUL_TILE = 4 << 20


#: bytes of the block :func:`settle_allocator` maps and frees: just under glibc's largest
#: adaptive mmap threshold (32 MiB on 64-bit systems), so the threshold rises as far as it can
SETTLE_BLOCK = 31 << 20


def settle_allocator() -> None:
    """Map and free one block of :data:`SETTLE_BLOCK` bytes, once per process.

    glibc raises its mmap threshold to the size of the largest mapped block a program frees
    (up to 32 MiB) and its trim threshold to twice that. Until it has, the generic path's
    buffers of a few MiB (a convolution's column tiles, a layer's activations) are mapped and
    unmapped, or taken from and given back to the system, at every call: LeNet's first
    convolution paid about 1,700 page faults per call and a LeNet training step about 7,000,
    25-50% of its time on this project's VM. After this call they are reused from the heap
    (one fault per call). The price is memory kept for reuse after a peak (up to 62 MiB of
    freed blocks). Nothing is touched, so nothing is resident; on other allocators than
    glibc's the block is allocated and freed and nothing else happens.

    Examples
    --------
    >>> settle_allocator()  # what the NumPy namespace does when portconv first builds it
    """
    global _SETTLED
    if not _SETTLED:
        block = np.empty(SETTLE_BLOCK, np.uint8)  # never written: no page is faulted in
        del block
        _SETTLED = True


_SETTLED = False
_NAMESPACE: types.ModuleType | None = None


def _namespace() -> types.ModuleType:
    """array-api-compat's NumPy namespace (a module of the same functions, so the generic
    kernels' lookups stay as fast) with :func:`matmul` in place of its own, and four portconv
    extensions that the generic code looks for by name: ``portconv_pad`` (:func:`pad`),
    ``portconv_interleave`` (:func:`interleave`), ``portconv_tiles_in_threads`` (see
    ``portconv._windows.by_tiles``) and ``portconv_matmul_tile`` (:data:`MATMUL_TILE`).
    Building it settles the allocator (:func:`settle_allocator`)."""
    global _NAMESPACE
    if _NAMESPACE is None:
        import array_api_compat.numpy as compat

        ns = types.ModuleType("portconv.backends.numpy.namespace", compat.__doc__)
        module_own = {"__name__", "__doc__", "__spec__", "__loader__", "__package__", "__file__"}
        ns.__dict__.update({k: v for k, v in vars(compat).items() if k not in module_own})
        ns.matmul = matmul
        ns.portconv_pad = pad  # see portconv._windows.pad
        ns.portconv_interleave = interleave  # see portconv._windows.interleave
        ns.portconv_matmul_tile = MATMUL_TILE  # see portconv._windows.matmul_budget
        # NumPy's functions release the GIL on large arrays: pooling's tiles may run in threads
        ns.portconv_tiles_in_threads = True
        settle_allocator()  # the generic path's buffers are reused, not faulted in anew
        _NAMESPACE = ns
    return _NAMESPACE


def shareable(a: np.ndarray) -> bool:
    """Whether another library may view ``a`` through DLPack: never a read-only array (the
    importer, torch say, would write into it), nor negative or element-misaligned strides
    (which DLPack importers do not all support: torch aborts the process on them)."""
    return bool(a.flags.writeable) and all(s >= 0 and s % a.itemsize == 0 for s in a.strides)
