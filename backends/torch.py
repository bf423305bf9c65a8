"""PyTorch adapter (CPU and CUDA tensors; the namespace through array-api-compat)."""

from __future__ import annotations

import sys
from typing import Any

from ..errors import ArgumentError, ArrayTypeError, describe_type
from ._adapter import Adapter, split_device


class TorchAdapter(Adapter):
    name = "torch"
    module = "torch"
    distribution = "torch"

    def __init__(self) -> None:
        super().__init__()
        self.native.update(native_conv_paths())
        self.native.update(native_pool_paths())
        self.native.update(native_activation_paths())
        self.native.update(native_unpool_paths())
        self.native.update(native_pad_paths())
        self.native.update(native_fractional_paths())

    targets = ("torch",)

    def dlpack_source(self, x: Any) -> Any:
        # a lazily conjugated or negated view holds other values than its memory: copied
        if x.is_conj() or x.is_neg():
            return None
        # a tensor that requires grad is shared through a detached view of the same memory
        return x.detach()

    def import_dlpack(self, obj: Any, target: str) -> Any:
        import torch

        return torch.from_dlpack(obj)

    def records(self, arrays: Any) -> bool:
        torch = sys.modules["torch"]
        return torch.is_grad_enabled() and any(a is not None and a.requires_grad for a in arrays)

    def owns(self, x: Any) -> bool:
        torch = sys.modules.get("torch")
        return torch is not None and isinstance(x, torch.Tensor)

    def namespace(self, x: Any = None) -> Any:
        import array_api_compat.torch as xp

        return xp

    def device(self, x: Any) -> Any:
        return x.device

    def default_device(self) -> Any:
        import torch

        return torch.device("cpu")

    def devices(self) -> list[Any]:
        import torch

        devs = [torch.device("cpu")]
        if torch.cuda.is_available():
            devs += [torch.device("cuda", i) for i in range(torch.cuda.device_count())]
        return devs

    def parse_device(self, device: Any) -> Any:
        """A ``torch.device`` for ``"cpu"``, ``"cuda"``, ``"cuda:N"`` (``"gpu:N"`` is read as
        ``"cuda:N"``), ``"mps"``, ... or a ``torch.device``, checked to exist in this build on
        this machine (see :meth:`Adapter.parse_device`)."""
        import torch

        if device is None:
            return None
        if isinstance(device, str):
            kind, index = split_device(device)
            kind = "cuda" if kind == "gpu" else kind
            try:
                dev = torch.device(kind if index is None else f"{kind}:{index}")
            except (RuntimeError, ValueError):
                raise ArgumentError(
                    f"device: {device!r} is not a PyTorch device (expected cpu, cuda, cuda:N, "
                    f"mps, ...)"
                ) from None
        elif isinstance(device, torch.device):
            dev = device
        else:
            raise ArgumentError(
                f"device: expected a device string such as 'cuda:0' or a torch.device, got "
                f"{describe_type(device)}: {device!r}"
            )
        if dev.type == "cpu":
            return dev
        if dev.type == "meta":
            raise ArgumentError(f"device: {device!r}: a meta device holds no values")
        if dev.type == "cuda":
            if not torch.cuda.is_available():
                if torch.version.cuda is None and getattr(torch.version, "hip", None) is None:
                    why = (
                        f"this PyTorch build ({torch.__version__}) has no CUDA support; install "
                        f"a CUDA build of PyTorch, or use 'cpu'"
                    )
                else:
                    why = (
                        "no CUDA device is visible (no GPU, no driver, or CUDA_VISIBLE_DEVICES "
                        "hides them); use 'cpu'"
                    )
                raise ArgumentError(f"device: {device!r} asked for, but {why}")
            count = torch.cuda.device_count()
            if dev.index is not None and dev.index >= count:
                raise ArgumentError(
                    f"device: {device!r} asked for, but PyTorch sees {count} CUDA device(s) "
                    f"(cuda:0 to cuda:{count - 1})"
                )
            return dev
        backend = getattr(torch.backends, dev.type, None) or getattr(torch, dev.type, None)
        available = getattr(backend, "is_available", None)
        if available is None or not available():
            raise ArgumentError(
                f"device: {device!r} asked for, but this PyTorch build or machine has no "
                f"{dev.type} device; use 'cpu'"
            )
        return dev

    def to_numpy(self, x: Any):
        import torch

        if x.is_meta:
            raise ArrayTypeError("a tensor on the meta device holds no values")
        if x.is_nested:
            raise ArrayTypeError(
                "a nested tensor has no single shape; convert its components (x.unbind())"
            )
        if x.layout != torch.strided:
            raise ArrayTypeError(f"a {x.layout} tensor is not dense; call x.to_dense() first")
        if x.is_quantized:
            raise ArrayTypeError("a quantized tensor; call x.dequantize() first")
        if x.dtype == torch.bfloat16:
            raise ArrayTypeError("NumPy has no bfloat16; cast first (x.float())")
        return x.detach().resolve_conj().resolve_neg().cpu().numpy()

    def from_numpy(self, a: Any, device: Any = None, like: Any = None) -> Any:
        import numpy as np
        import torch

        if device is None and like is not None:
            device = like.device
        # a copy (torch.as_tensor would share the memory, even of a read-only array)
        return torch.tensor(np.ascontiguousarray(a), device=device)


# -- native kernels: torch.nn.functional, and torch's autograd for their backward ------------------


def native_vjp(run):
    """The native backward of a native forward ``run``: the forward runs on detached leaves
    with torch's autograd recording, and the pullback asks ``torch.autograd.grad`` for the
    gradients, so torch's own backward kernels (``convolution_backward``,
    ``max_pool2d_with_indices_backward`` with the indices the forward saved, ...) compute them.
    Calling those aten kernels directly measured the same on LeNet's layers; this form serves
    every op at once."""

    def vjp(call, arrays, needs):
        torch = sys.modules["torch"]
        leaves = [
            None if a is None else a.detach().requires_grad_(bool(n)) for a, n in zip(arrays, needs)
        ]
        with torch.enable_grad():
            y = run(call, *leaves)
        wanted = [leaf for leaf, n in zip(leaves, needs) if n and leaf is not None]

        def pullback(g):
            grads = iter(torch.autograd.grad(y, wanted, g, retain_graph=True))
            return tuple(
                next(grads) if n and leaf is not None else None for leaf, n in zip(leaves, needs)
            )

        return y.detach(), pullback

    return vjp


def native_vjp_first(run):
    """:func:`native_vjp` for a native forward ``run`` whose result is a tuple of which only
    the first array is differentiable (values and indices): the pullback maps the first
    array's gradient to one gradient per input."""

    def vjp(call, arrays, needs):
        torch = sys.modules["torch"]
        leaves = [
            None if a is None else a.detach().requires_grad_(bool(n)) for a, n in zip(arrays, needs)
        ]
        with torch.enable_grad():
            ys = run(call, *leaves)
        wanted = [leaf for leaf, n in zip(leaves, needs) if n and leaf is not None]

        def pullback(g):
            grads = iter(torch.autograd.grad(ys[0], wanted, g, retain_graph=True))
            return tuple(
                next(grads) if n and leaf is not None else None for leaf, n in zip(leaves, needs)
            )

        return tuple(y.detach() for y in ys), pullback

    return vjp


def native_conv_paths() -> dict:
    """Native convolution kernels of this library, by op name.

    "conv": ``torch.nn.functional.conv1d/2d/3d`` for every call (any dtype and device torch
    supports). Symmetric padding goes to the kernel directly; asymmetric padding (``"same"``
    with an even kernel span, explicit (before, after) pairs) is applied first with ``F.pad``
    (zeros), which is exactly the same computation.
    "conv_transpose": ``F.conv_transpose1d/2d/3d`` where the padding is symmetric (torch's
    ``padding`` crops both sides alike).
    Both with torch's own backward (:func:`native_vjp`).
    """
    from ._adapter import NativePath

    fns: list = []  # conv1d/2d/3d, F.pad, conv_transpose1d/2d/3d: looked up on the first call

    def F(i: int):
        if not fns:
            import torch.nn.functional as functional

            fns.extend((functional.conv1d, functional.conv2d, functional.conv3d, functional.pad))
            fns.extend(getattr(functional, f"conv_transpose{d}d") for d in (1, 2, 3))
        return fns[i]

    def run(call, x: Any, w: Any, b: Any) -> Any:
        padding = call.padding
        pad = []
        for before, after in padding:
            if before != after:  # asymmetric: zeros first (F.pad counts from the last axis)
                flat = []
                for before, after in reversed(padding):
                    flat += (before, after)
                x, pad = F(3)(x, flat), 0
                break
            pad.append(before)
        return F(call.d - 1)(x, w, b, call.stride, pad, call.dilation, call.groups)

    def transpose_can_run(call) -> bool | str:
        return True if call.symmetric else "pads (crops) asymmetrically, which torch cannot"

    def transpose_run(call, x: Any, w: Any, b: Any) -> Any:
        pad = tuple(before for before, _ in call.padding)
        fn = F(3 + call.d)
        return fn(x, w, b, call.stride, pad, call.output_padding, call.groups, call.dilation)

    return {
        "conv": NativePath(lambda call: True, run, native_vjp(run)),
        "conv_transpose": NativePath(transpose_can_run, transpose_run, native_vjp(transpose_run)),
    }


def native_pool_paths() -> dict:
    """Native pooling kernels of this library, by op name, each with torch's own backward.

    "max_pool" / "avg_pool": ``torch.nn.functional.max_pool{1,2,3}d`` / ``avg_pool{1,2,3}d``
    where they compute exactly the call: the padding is symmetric and at most half the kernel
    on every axis (torch's limit; more runs the generic path), and the output size is
    torch's: ``ceil_mode=False`` for "floor", ``ceil_mode=True`` for "ceil", and for MXNet's
    "full" only where torch's rule (drop a last window that starts in the right padding)
    removes nothing. torch's max pooling propagates NaN and pads with -inf, as portconv's.
    "avg_pool" passes count_include_pad, and runs the generic path for dilation (torch has
    none), for float16/bfloat16 3-D on the CPU (no kernel), and for 3-D inputs smaller than
    the kernel along an axis (``avg_pool3d`` refuses them even when the padding makes room).
    "adaptive_max_pool" / "adaptive_avg_pool": ``F.adaptive_*_pool{1,2,3}d``, always.
    "max_pool_with_indices" / "adaptive_max_pool_with_indices": the same kernels with
    ``return_indices=True`` (values and indices; integer inputs on the CPU only).
    "max_pool_integer": ``F.max_pool*d`` on integer tensors (CPU; no backward).
    "avg_pool" passes ``divisor_override`` too (2-D and 3-D: ``avg_pool1d`` has none).
    "lp_pool": ``F.lp_pool{1,2,3}d`` for PyTorch's formula without padding or dilation.
    """
    from ._adapter import NativePath

    fns: dict = {}  # torch.nn.functional's pooling functions, looked up on the first call

    def F(name: str):
        if not fns:
            import torch.nn.functional as functional

            for kind in ("max", "avg", "adaptive_max", "adaptive_avg"):
                for d in (1, 2, 3):
                    fns[f"{kind}{d}"] = getattr(functional, f"{kind}_pool{d}d")
        return fns[name]

    def torch_args(call) -> tuple | str:
        """(padding ints, ceil_mode) for torch, or the reason torch computes something else."""
        pads = []
        for (before, after), k in zip(call.padding, call.kernel):
            if before != after:
                return "pads asymmetrically, which torch's pooling cannot"
            if 2 * before > k:
                return "pads more than half the kernel, which torch's pooling refuses"
            pads.append(before)
        if call.mode == "floor":
            return tuple(pads), False
        if call.mode == "full":
            for n, s, (before, _), o in zip(call.size, call.stride, call.padding, call.out):
                if (o - 1) * s >= n + before:
                    return "rounds up as MXNet's 'full' does, one window more than torch's"
        return tuple(pads), True

    def max_can_run(call) -> bool | str:
        args = torch_args(call)
        return args if isinstance(args, str) else True

    def max_run(call, x) -> Any:
        pads, ceil = torch_args(call)
        return F(f"max{call.d}")(x, call.kernel, call.stride, pads, call.dilation, ceil)

    def avg_can_run(call) -> bool | str:
        if any(dl != 1 for dl in call.dilation):
            return "dilates average pooling, which torch has not"
        if call.divisor is not None and call.d == 1:
            return "overrides the divisor of 1-D average pooling, which avg_pool1d cannot"
        if call.d == 3:
            if any(n < k for n, k in zip(call.size, call.kernel)):
                return "pools a 3-D input smaller than the kernel, which avg_pool3d refuses"
            torch = sys.modules["torch"]
            cpu = getattr(call.device, "type", "cpu") == "cpu"
            if cpu and call.dtype in (torch.float16, torch.bfloat16):
                return "has no 3-D average pooling in half precision on the CPU"
        args = torch_args(call)
        return args if isinstance(args, str) else True

    def avg_run(call, x) -> Any:
        pads, ceil = torch_args(call)
        fn = F(f"avg{call.d}")
        if call.divisor is not None:
            return fn(x, call.kernel, call.stride, pads, ceil, call.count == "padded", call.divisor)
        return fn(x, call.kernel, call.stride, pads, ceil, call.count == "padded")

    def cpu_integers(call) -> bool | str:
        if call.dtype.is_floating_point or getattr(call.device, "type", "cpu") == "cpu":
            return True
        return "has integer max pooling on the CPU only"

    def indices_can_run(call) -> bool | str:
        ok = max_can_run(call)
        return cpu_integers(call) if ok is True else ok

    def indices_run(call, x) -> Any:
        pads, ceil = torch_args(call)
        fn = F(f"max{call.d}")
        return fn(x, call.kernel, call.stride, pads, call.dilation, ceil, return_indices=True)

    def integer_run(call, x) -> Any:
        # max_pool1d's kernel without indices has no integer dtypes; the one with them has
        return indices_run(call, x)[0] if call.d == 1 else max_run(call, x)

    def lp_can_run(call) -> bool | str:
        if call.convention != "torch":
            return "takes |x| as ONNX's LpPool does, which torch's lp_pool does not"
        pool = call.pool
        if any(p != (0, 0) for p in pool.padding) or any(dl != 1 for dl in pool.dilation):
            return "pads or dilates Lp pooling, which torch's lp_pool cannot"
        return True

    def lp_run(call, x) -> Any:
        fn = getattr(sys.modules["torch"].nn.functional, f"lp_pool{call.d}d")
        pool = call.pool
        if call.d == 1:  # lp_pool1d multiplies by kernel_size: an int there
            return fn(x, call.p, pool.kernel[0], pool.stride[0], pool.mode == "ceil")
        return fn(x, call.p, pool.kernel, pool.stride, pool.mode == "ceil")

    def adaptive_indices_run(call, x) -> Any:
        return F(f"adaptive_max{call.d}")(x, call.out, True)

    def adaptive(kind: str):
        def run(call, x) -> Any:
            return F(f"adaptive_{kind}{call.d}")(x, call.out)

        return NativePath(lambda call: True, run, native_vjp(run))

    return {
        "max_pool": NativePath(max_can_run, max_run, native_vjp(max_run)),
        "max_pool_with_indices": NativePath(
            indices_can_run, indices_run, native_vjp_first(indices_run)
        ),
        "max_pool_integer": NativePath(indices_can_run, integer_run),
        "avg_pool": NativePath(avg_can_run, avg_run, native_vjp(avg_run)),
        "lp_pool": NativePath(lp_can_run, lp_run, native_vjp(lp_run)),
        "adaptive_max_pool": adaptive("max"),
        "adaptive_max_pool_with_indices": NativePath(
            lambda call: True, adaptive_indices_run, native_vjp_first(adaptive_indices_run)
        ),
        "adaptive_avg_pool": adaptive("avg"),
    }


def native_unpool_paths() -> dict:
    """ "max_unpool": ``torch.nn.functional``'s max unpooling kernels (``max_unpool2d`` for
    1-D and 2-D, ``max_unpool3d``) for every call, with the indices as int64; where indices
    repeat with different values (max pooling never gives that), torch keeps one of them of
    its choosing. The backward is portconv's generic rule (torch's gives every repeated
    input the gradient, which is not the derivative of a forward that keeps one)."""
    from ._adapter import NativePath

    def run(call, x: Any, indices: Any) -> Any:
        torch = sys.modules["torch"]
        nn = torch._C._nn
        idx = indices.to(torch.int64)
        if call.d == 1:  # as F.max_unpool1d: a 2-D unpooling of height 1
            y = nn.max_unpool2d(x.unsqueeze(-1), idx.unsqueeze(-1), call.out + (1,))
            return y.squeeze(-1)
        if call.d == 2:
            return nn.max_unpool2d(x, idx, call.out)
        # stride and padding only enter max_unpool3d's checks; the output size is explicit
        return nn.max_unpool3d(x, idx, call.out, call.stride, (0, 0, 0))

    return {"max_unpool": NativePath(lambda call: True, run)}


def native_fractional_paths() -> dict:
    """ "fractional_max_pool": ``torch.nn.functional.fractional_max_pool2d/3d`` with the
    call's random samples, for every call (values and indices), with torch's own backward."""
    from ._adapter import NativePath

    def run(call, x: Any, samples: Any) -> Any:
        fn = getattr(sys.modules["torch"].nn.functional, f"fractional_max_pool{call.d}d")
        return fn(x, call.kernel, call.out, None, True, samples)

    def can_run(call) -> bool | str:
        if call.d == 3 and any(o + k - 1 >= n for n, k, o in zip(call.size, call.kernel, call.out)):
            return "has windows that end at the input's edge, which fractional_max_pool3d refuses"
        return True

    return {"fractional_max_pool": NativePath(can_run, run, native_vjp_first(run))}


def native_pad_paths() -> dict:
    """ "pad": ``torch.nn.functional.pad`` for every call (its "constant", "reflect",
    "replicate" and "circular" modes are portconv's), with torch's own backward."""
    from ._adapter import NativePath

    def run(call, x: Any) -> Any:
        flat = []
        for before, after in reversed(call.padding):  # F.pad counts from the last axis
            flat += (before, after)
        fn = sys.modules["torch"].nn.functional.pad
        if call.mode == "constant":
            return fn(x, flat, "constant", call.value)
        return fn(x, flat, call.mode)

    return {"pad": NativePath(lambda call: True, run, native_vjp(run))}


def native_activation_paths() -> dict:
    """``torch.relu``, ``torch.sigmoid``, ``torch.tanh`` for every call, with torch's own
    backward (one fused pass each way instead of the generic rule's several)."""
    from ._adapter import NativePath

    def path(name: str) -> NativePath:
        def run(call, x) -> Any:
            return getattr(sys.modules["torch"], name)(x)

        return NativePath(lambda call: True, run, native_vjp(run))

    return {name: path(name) for name in ("relu", "sigmoid", "tanh")}
