"""MXNet adapter: ``mxnet.numpy`` arrays and legacy ``mxnet.nd`` NDArrays.

array-api-compat does not know MXNet, so this adapter brings its own namespace
(:mod:`portconv.backends._mxnet_namespace`) that fixes where ``mxnet.numpy`` 1.9.1 departs
from the standard. Legacy ``nd.NDArray`` inputs are viewed as ``mx.np`` arrays without a
copy (``as_np_ndarray``) and results are viewed back (``as_nd_ndarray``), so a user who
passes ``nd`` arrays gets ``nd`` arrays.
"""

from __future__ import annotations

import math
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
        self.native.update(native_activation_paths())

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

    def records(self, arrays: Any) -> bool:
        return bool(_mx().autograd.is_recording())

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


# -- native kernels: npx.convolution / npx.pooling, and mxnet.autograd for their backward ----------


def native_vjp(run):
    """The native backward of a native forward ``run``: the forward runs under
    ``mxnet.autograd.record()`` on detached views of the arrays marked as variables, and the
    pullback asks ``mxnet.autograd.grad`` with the result's gradient as head gradient, so
    MXNet's own backward kernels compute them.

    MXNet's graph is freed by the first pullback (retaining it costs about a fifth of a
    convolution's backward); a second pullback (a second ``backward()`` through the same
    portconv graph, which portconv allows on every backend) records the forward again."""

    def record(call, arrays, needs):
        mx = sys.modules["mxnet"]
        leaves = [None if a is None else a.detach() for a in arrays]
        wanted = [leaf for leaf, n in zip(leaves, needs) if n and leaf is not None]
        # marked with uninitialised buffers (attach_grad would fill zeros): grad() returns
        # new arrays and never writes into them
        buffers = [mx.np.empty(leaf.shape, dtype=leaf.dtype, ctx=leaf.ctx) for leaf in wanted]
        mx.autograd.mark_variables(wanted, buffers)
        with mx.autograd.record():
            y = run(call, *leaves)
        return y, leaves, wanted

    def vjp(call, arrays, needs):
        recorded = [record(call, arrays, needs)]

        def pullback(g):
            mx = sys.modules["mxnet"]
            y, leaves, wanted = recorded.pop() if recorded else record(call, arrays, needs)
            with mx.autograd.pause():
                grads = mx.autograd.grad(y, wanted, head_grads=g, retain_graph=False)
            it = iter(gr.as_np_ndarray() for gr in grads)  # grad() gives legacy NDArrays
            return tuple(
                next(it) if n and leaf is not None else None for leaf, n in zip(leaves, needs)
            )

        return recorded[0][0].detach(), pullback

    return vjp


def native_conv_paths() -> dict:
    """Native convolution kernels of this library, by op name.

    "conv": ``mx.npx.convolution`` (1-D to 3-D, groups, stride, dilation) where the padding is
    symmetric on every axis (MXNet pads both sides alike) and the dtype is not float16 (its
    CPU kernel has none), with MXNet's own backward (:func:`native_vjp`); anything else runs
    the generic path.
    """
    from ._adapter import NativePath

    def can_run(call) -> bool | str:
        if str(call.dtype) == "float16":
            return "has no float16 convolution kernel on the CPU"
        return True if call.symmetric else "pads asymmetrically, which npx.convolution cannot"

    def run(call, x: Any, w: Any, b: Any) -> Any:
        mx = sys.modules["mxnet"]
        return mx.npx.convolution(
            x,
            w,
            b,
            kernel=call.kernel,
            stride=call.stride,
            dilate=call.dilation,
            pad=tuple(before for before, _ in call.padding),
            num_filter=call.c_out,
            num_group=call.groups,
            no_bias=b is None,
        )

    return {"conv": NativePath(can_run, run, native_vjp(run))}


def native_pool_paths() -> dict:
    """Native pooling kernels of this library, by op name, each with MXNet's own backward.

    "max_pool" / "avg_pool": ``mx.npx.pooling`` where it computes exactly the call: no
    dilation (MXNet's pooling has none), symmetric padding on every axis (portconv has
    already checked that it is smaller than the kernel, MXNet's limit), and an output size
    that one of MXNet's conventions gives: "valid" for "floor", "full" for "full", and "full"
    for PyTorch's "ceil" where the two agree. Average pooling passes ``count_include_pad``;
    MXNet's kernel counts exactly as portconv does, windows past the padded input included (a
    count of zero gives 0; MXNet's 3-D kernel gives 0/0 = NaN there, so such 3-D calls run
    the generic path).

    Max pooling differs from portconv's in MXNet's kernel in two ways, both fixed here: it
    skips NaN, and it starts from the dtype's lowest finite value, so a window of only -inf
    and padding gives that value instead of -inf. Where the input may hold a NaN or a -inf
    (see :func:`_finite`), a second pooling of a flag array marks those windows and they are
    set to NaN or -inf. A "full" window that holds no input
    element at all (which would also give the lowest value) runs the generic path.
    """
    from ._adapter import NativePath

    def convention(call) -> tuple | str:
        """(pad ints, pooling_convention) for MXNet, or the reason it computes otherwise."""
        if any(dl != 1 for dl in call.dilation):
            return "dilates pooling, which npx.pooling has not"
        if not call.symmetric:
            return "pads asymmetrically, which npx.pooling cannot"
        if any(k > n + b + a for k, n, (b, a) in zip(call.kernel, call.size, call.padding)):
            return "has a window larger than the padded input, which npx.pooling refuses"
        pads = tuple(before for before, _ in call.padding)
        if call.mode == "floor":
            return pads, "valid"
        for n, k, s, (before, after), o in zip(
            call.size, call.kernel, call.stride, call.padding, call.out
        ):
            if -(-(n + before + after - k) // s) + 1 != o:
                return "rounds up as PyTorch's ceil_mode does, one window fewer than 'full'"
        return pads, "full"

    def pooling(x, call, pads, conv, pool_type, **extra):
        npx = sys.modules["mxnet"].npx
        return npx.pooling(
            x,
            kernel=call.kernel,
            stride=call.stride,
            pad=pads,
            pool_type=pool_type,
            pooling_convention=conv,
            **extra,
        )

    def max_can_run(call) -> bool | str:
        args = convention(call)
        if isinstance(args, str):
            return args
        # every window must hold an input element (MXNet gives the lowest value otherwise)
        if all(
            (o - 1) * s - b < n
            for n, s, (b, _), o in zip(call.size, call.stride, call.padding, call.out)
        ):
            return True
        return "has a window of padding only, where npx.pooling gives the lowest finite value"

    def max_run(call, x) -> Any:
        mnp = sys.modules["mxnet"].numpy
        pads, conv = convention(call)
        y = pooling(x, call, pads, conv, "max")
        if _finite(mnp, x):  # no NaN and no -inf: MXNet's answer is exact
            return y
        # flags: 2 for NaN, 1 for a value above -inf, 0 for -inf; their window maximum says
        # which windows hold a NaN (2) or nothing above -inf (0, or the lowest value)
        flag = mnp.where(mnp.isnan(x), 2.0, mnp.where(x > float("-inf"), 1.0, 0.0))
        f = pooling(flag.astype(x.dtype), call, pads, conv, "max")
        y = mnp.where(f < 0.5, mnp.full_like(y, float("-inf")), y)
        return mnp.where(f > 1.5, mnp.full_like(y, float("nan")), y)

    def avg_can_run(call) -> bool | str:
        if call.divisor is not None:
            return "overrides the divisor, which npx.pooling cannot"
        args = convention(call)
        if isinstance(args, str):
            return args
        if call.d == 3:  # the 3-D kernel divides 0 by 0 where a window counts nothing
            hi = [
                n + a if call.count == "padded" else n for n, (_, a) in zip(call.size, call.padding)
            ]
            if not all(
                (o - 1) * s - b < h
                for h, s, (b, _), o in zip(hi, call.stride, call.padding, call.out)
            ):
                return "has a 3-D window that counts nothing, where npx.pooling gives NaN"
        return True

    def avg_run(call, x) -> Any:
        pads, conv = convention(call)
        return pooling(x, call, pads, conv, "avg", count_include_pad=call.count == "padded")

    return {
        "max_pool": NativePath(max_can_run, max_run, native_vjp(max_run)),
        "avg_pool": NativePath(avg_can_run, avg_run, native_vjp(avg_run)),
    }


def native_activation_paths() -> dict:
    """``npx.relu``, ``npx.sigmoid``, ``np.tanh`` for every call, with MXNet's own backward."""
    from ._adapter import NativePath

    def path(get) -> NativePath:
        def run(call, x) -> Any:
            return get(sys.modules["mxnet"])(x)

        return NativePath(lambda call: True, run, native_vjp(run))

    return {
        "relu": path(lambda mx: mx.npx.relu),
        "sigmoid": path(lambda mx: mx.npx.sigmoid),
        "tanh": path(lambda mx: mx.np.tanh),
    }


def _finite(mnp: Any, x: Any) -> bool:
    """True when ``x`` certainly holds no NaN and no -inf. ``x . x`` (one BLAS dot on a flat
    legacy view, which costs no copy, unlike ``mx.np``'s reshape; far faster than MXNet's
    ``min`` reduction) is NaN where ``x`` holds a NaN and infinite where it holds an
    infinity; only then (or on overflow) is ``min`` asked."""
    if str(x.dtype) in ("float32", "float64"):  # MXNet's CPU dot has no other dtype
        flat = x.as_nd_ndarray().reshape((-1,))
        if math.isfinite(float(sys.modules["mxnet"].nd.dot(flat, flat).asscalar())):
            return True
    return float(mnp.min(x)) > float("-inf")  # mx.np.min propagates NaN


class _Capsule:
    """A DLPack producer around a capsule that MXNet made (``to_dlpack_for_read``)."""

    def __init__(self, capsule: Any, ctx: Any) -> None:
        self.capsule, self.ctx = capsule, ctx

    def __dlpack__(self, stream: Any = None, **kwargs: Any) -> Any:
        return self.capsule

    def __dlpack_device__(self) -> tuple[int, int]:
        # DLPack device types: 1 = CPU, 2 = CUDA
        return (1, 0) if self.ctx.device_type == "cpu" else (2, self.ctx.device_id)
