"""MXNet adapter: ``mxnet.numpy`` arrays and legacy ``mxnet.nd`` NDArrays.

array-api-compat does not know MXNet, so this adapter brings its own namespace
(:mod:`portconv.backends._mxnet_namespace`) that fixes where ``mxnet.numpy`` 1.9.1 departs
from the standard. Legacy ``nd.NDArray`` inputs are viewed as ``mx.np`` arrays without a
copy (``as_np_ndarray``) and results are viewed back (``as_nd_ndarray``), so a user who
passes ``nd`` arrays gets ``nd`` arrays.
"""

from __future__ import annotations

import sys
from typing import Any

from ..errors import ArgumentError, ArrayTypeError, describe_type
from ._adapter import Adapter, split_device


def _mx():
    import warnings

    with warnings.catch_warnings():
        # MXNet 1.9.1 imports deprecated NumPy aliases; that is not the user's problem.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        import mxnet

    return mxnet


class MXNetAdapter(Adapter):
    name = "mxnet"
    module = "mxnet"
    distribution = "mxnet"

    def __init__(self) -> None:
        super().__init__()
        self._xp = None
        self.native.update(native_conv_paths())
        self.native.update(native_pool_paths())

    targets = ("mxnet", "mxnet.nd")

    def dlpack_source(self, x: Any) -> Any:
        """MXNet 1.9.1's arrays have no ``__dlpack__``: wrap its own capsule function."""
        return _Capsule(_mx().nd.to_dlpack_for_read(x.as_nd_ndarray()), x.ctx)

    def import_dlpack(self, obj: Any, target: str) -> Any:
        out = _mx().nd.from_dlpack(obj.__dlpack__())
        return out if target == "mxnet.nd" else out.as_np_ndarray()

    def import_numpy(self, a: Any, device: Any, target: str) -> Any:
        out = self.from_numpy(a, device=device)
        return out.as_nd_ndarray() if target == "mxnet.nd" else out

    def owns(self, x: Any) -> bool:
        if not self.imported():
            return False
        mx = sys.modules["mxnet"]
        return isinstance(x, (mx.numpy.ndarray, mx.nd.NDArray))

    def is_legacy(self, x: Any) -> bool:
        """True for a legacy ``mx.nd.NDArray`` (``mx.np.ndarray`` subclasses it)."""
        mx = sys.modules["mxnet"]
        return isinstance(x, mx.nd.NDArray) and not isinstance(x, mx.numpy.ndarray)

    def namespace(self, x: Any = None) -> Any:
        if self._xp is None:
            from ._mxnet_namespace import namespace

            self._xp = namespace()
        return self._xp

    @property
    def version(self) -> str:
        return str(_mx().__version__)

    def available(self) -> bool:
        try:
            _mx()
        except Exception:
            return False
        return True

    def unavailable_reason(self) -> str:
        try:
            _mx()
        except Exception as exc:
            return f"mxnet cannot be imported: {type(exc).__name__}: {exc}"
        return ""

    def to_standard(self, x: Any) -> Any:
        if x.ndim == 0 and not _mx().util.is_np_shape():
            raise ArrayTypeError(
                "MXNet operates on 0-d arrays (a summed loss, for example) only with NumPy "
                "shape semantics: call mx.npx.set_np() (as the book's MXNet np edition does) or "
                "mx.util.set_np_shape(True) first"
            )
        return x.as_np_ndarray() if self.is_legacy(x) else x

    def from_standard(self, y: Any, like: Any) -> Any:
        return y.as_nd_ndarray() if like is not None and self.is_legacy(like) else y

    def device(self, x: Any) -> Any:
        return x.ctx

    def default_device(self) -> Any:
        return _mx().context.current_context()

    def devices(self) -> list[Any]:
        mx = _mx()
        return [mx.cpu()] + [mx.gpu(i) for i in range(mx.context.num_gpus())]

    def parse_device(self, device: Any) -> Any:
        """An MXNet context for ``"cpu"``, ``"gpu:N"`` / ``"gpu(N)"`` (``"cuda:N"`` is read as
        ``"gpu:N"``) or a ``mx.Context``, checked to exist here (see
        :meth:`Adapter.parse_device`)."""
        mx = _mx()
        if device is None:
            return None
        if isinstance(device, mx.Context):
            kind, index, text = device.device_type, device.device_id, device
        elif isinstance(device, str):
            (kind, index), text = split_device(device), device
        else:
            raise ArgumentError(
                f"device: expected a device string such as 'gpu:0' or an mx.Context, got "
                f"{describe_type(device)}: {device!r}"
            )
        if kind.startswith("cpu"):
            return device if isinstance(device, mx.Context) else mx.cpu()
        if kind not in ("gpu", "cuda"):
            raise ArgumentError(f"device: {text!r} is not an MXNet device (expected cpu or gpu:N)")
        try:
            count = mx.context.num_gpus()
        except Exception:  # a build without CUDA may raise instead of answering 0
            count = 0
        if count == 0:
            raise ArgumentError(
                f"device: {text!r} asked for, but MXNet sees no GPU (a CPU build of mxnet, or "
                f"no device or driver); use 'cpu'"
            )
        if (index or 0) >= count:
            raise ArgumentError(
                f"device: {text!r} asked for, but MXNet sees {count} GPU(s) (gpu:0 to "
                f"gpu:{count - 1})"
            )
        return mx.gpu(index or 0)

    def run_context(self) -> Any:
        """NumPy shape semantics (what the book's ``npx.set_np()`` turns on): without them
        MXNet cannot hold a 0-d array such as a loss."""
        return _mx().util.np_shape(True)

    def to_numpy(self, x: Any):
        return x.asnumpy()

    def from_numpy(self, a: Any, device: Any = None, like: Any = None) -> Any:
        import numpy as np

        mx = _mx()
        if device is None and like is not None:
            device = like.ctx
        a = np.asarray(a)
        out = mx.np.array(a, dtype=a.dtype, ctx=device)
        return self.from_standard(out, like)


# -- native convolution (torch.nn.functional / npx): see portconv/ops/conv.py ---------------


def native_conv_paths() -> dict:
    """Native convolution paths of this library, by op name.

    "conv": ``mx.npx.convolution`` (1-D to 3-D, groups, stride, dilation) where the padding is
    symmetric on every axis (MXNet pads both sides alike) and the dtype is not float16 (its
    CPU kernel has none); anything else runs the generic path.
    """
    from ._adapter import NativePath

    def can_run(*, padding, dtype=None, **_: Any) -> bool:
        if dtype is not None and str(dtype) == "float16":
            return False
        return all(before == after for before, after in padding)

    def run(x: Any, w: Any, b: Any, *, stride, padding, dilation, groups, **_: Any) -> Any:
        mx = sys.modules["mxnet"]
        return mx.npx.convolution(
            x,
            w,
            b,
            kernel=tuple(w.shape[2:]),
            stride=tuple(stride),
            dilate=tuple(dilation),
            pad=tuple(before for before, _ in padding),
            num_filter=w.shape[0],
            num_group=groups,
            no_bias=b is None,
        )

    return {"conv": NativePath(can_run, run)}


# -- native pooling: see portconv/ops/pool.py ------------------------------------------------


def native_pool_paths() -> dict:
    """Native pooling paths of this library, by op name (see portconv/ops/pool.py for the
    normalised arguments).

    "max_pool" / "avg_pool": ``mx.npx.pooling`` where it computes exactly the request: no
    dilation (MXNet's pooling has none), symmetric padding on every axis (portconv has
    already checked that it is smaller than the kernel, MXNet's limit), and an output size
    that one of MXNet's conventions gives: "valid" for portconv's "valid", "full" for
    "full", and "full" for PyTorch's ceil_mode where the two agree. Average pooling passes
    ``count_include_pad`` (False for "same" padding); MXNet's kernel counts exactly as
    portconv does, windows past the padded input included (a count of zero gives 0; MXNet's
    3-D kernel gives 0/0 = NaN there, so such 3-D requests run the generic path).

    Max pooling differs from portconv's in MXNet's kernel in two ways, both fixed here: it
    skips NaN, and it starts from the dtype's lowest finite value, so a window of only -inf
    and padding gives that value instead of -inf. Where the input holds a NaN or a -inf
    (checked with one ``min`` reduction per call, about a fifth of the pooling's time), a
    second pooling of a flag
    array marks those windows and they are set to NaN or -inf. A "full" window that holds no
    input element at all (which would also give the lowest value) runs the generic path.
    """
    from ._adapter import NativePath

    def convention(kernel, stride, padding, dilation, mode, out, size):
        """(pad ints, pooling_convention) for MXNet, or None where it computes otherwise."""
        if any(dl != 1 for dl in dilation):
            return None
        if any(before != after for before, after in padding):
            return None
        pads = tuple(before for before, _ in padding)
        if mode == "floor":
            return pads, "valid"
        for n, k, s, (before, after), o in zip(size, kernel, stride, padding, out):
            span = n + before + after - k
            if -(-span // s) + 1 != o:  # MXNet's "full" has one window more than ceil_mode
                return None
        return pads, "full"

    def pooling(x, kernel, stride, pads, conv, pool_type, **extra):
        npx = sys.modules["mxnet"].npx
        return npx.pooling(
            x,
            kernel=tuple(kernel),
            stride=tuple(stride),
            pad=pads,
            pool_type=pool_type,
            pooling_convention=conv,
            **extra,
        )

    def max_can_run(*, kernel, stride, padding, dilation, mode, out, size, **_: Any) -> bool:
        args = convention(kernel, stride, padding, dilation, mode, out, size)
        if args is None:
            return False
        # every window must hold an input element (MXNet gives the lowest value otherwise)
        return all(
            (o - 1) * s - before < n for n, s, (before, _), o in zip(size, stride, padding, out)
        )

    def max_run(x, *, kernel, stride, padding, dilation, mode, out, size, **_: Any) -> Any:
        mnp = sys.modules["mxnet"].numpy
        pads, conv = convention(kernel, stride, padding, dilation, mode, out, size)
        y = pooling(x, kernel, stride, pads, conv, "max")
        # no NaN and no -inf (mx.np.min propagates NaN): MXNet's answer is exact
        if float(mnp.min(x)) > float("-inf"):
            return y
        # flags: 2 for NaN, 1 for a value above -inf, 0 for -inf; their window maximum says
        # which windows hold a NaN (2) or nothing above -inf (0, or the lowest value)
        flag = mnp.where(mnp.isnan(x), 2.0, mnp.where(x > float("-inf"), 1.0, 0.0))
        f = pooling(flag.astype(x.dtype), kernel, stride, pads, conv, "max")
        y = mnp.where(f < 0.5, mnp.full_like(y, float("-inf")), y)
        return mnp.where(f > 1.5, mnp.full_like(y, float("nan")), y)

    def avg_can_run(*, kernel, stride, padding, dilation, mode, out, size, count, **_: Any) -> bool:
        if convention(kernel, stride, padding, dilation, mode, out, size) is None:
            return False
        if len(kernel) == 3:  # the 3-D kernel divides 0 by 0 where a window counts nothing
            return all(
                (o - 1) * s - before < (n + after if count == "padded" else n)
                for n, s, (before, after), o in zip(size, stride, padding, out)
            )
        return True

    def avg_run(x, *, kernel, stride, padding, dilation, mode, out, size, count, **_: Any) -> Any:
        pads, conv = convention(kernel, stride, padding, dilation, mode, out, size)
        return pooling(x, kernel, stride, pads, conv, "avg", count_include_pad=count == "padded")

    return {
        "max_pool": NativePath(max_can_run, max_run),
        "avg_pool": NativePath(avg_can_run, avg_run),
    }


class _Capsule:
    """A DLPack producer around a capsule that MXNet made (``to_dlpack_for_read``)."""

    def __init__(self, capsule: Any, ctx: Any) -> None:
        self.capsule, self.ctx = capsule, ctx

    def __dlpack__(self, stream: Any = None, **kwargs: Any) -> Any:
        return self.capsule

    def __dlpack_device__(self) -> tuple[int, int]:
        # DLPack device types: 1 = CPU, 2 = CUDA
        return (1, 0) if self.ctx.device_type == "cpu" else (2, self.ctx.device_id)
