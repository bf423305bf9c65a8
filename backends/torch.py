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


# -- native convolution (torch.nn.functional / npx): see portconv/ops/conv.py ---------------


def native_conv_paths() -> dict:
    """Native convolution paths of this library, by op name.

    "conv": ``torch.nn.functional.conv1d/2d/3d`` for every normalised request (any dtype and
    device torch supports). Symmetric padding goes to the kernel directly; asymmetric padding
    (``"same"`` with an even kernel span, explicit (before, after) pairs) is applied first with
    ``F.pad`` (zeros), which is exactly the same computation.
    """
    from ._adapter import NativePath

    fns: list = []  # conv1d, conv2d, conv3d, and F.pad: looked up once, on the first call

    def can_run(**kwargs: Any) -> bool:
        return True

    def run(x: Any, w: Any, b: Any, *, stride, padding, dilation, groups, **_: Any) -> Any:
        if not fns:
            import torch.nn.functional as F

            fns.extend((F.conv1d, F.conv2d, F.conv3d, F.pad))
        pad = []
        for before, after in padding:
            if before != after:  # asymmetric: zeros first (F.pad counts from the last axis)
                flat = []
                for before, after in reversed(padding):
                    flat += (before, after)
                x, pad = fns[3](x, flat), 0
                break
            pad.append(before)
        return fns[len(padding) - 1](x, w, b, stride, pad, dilation, groups)

    return {"conv": NativePath(can_run, run)}


# -- native pooling: see portconv/ops/pool.py ------------------------------------------------


def native_pool_paths() -> dict:
    """Native pooling paths of this library, by op name (see portconv/ops/pool.py for the
    normalised arguments).

    "max_pool" / "avg_pool": ``torch.nn.functional.max_pool{1,2,3}d`` / ``avg_pool{1,2,3}d``
    where they compute exactly the request: the padding is symmetric and at most half the
    kernel on every axis (torch's limit; more runs the generic path), and the output size is
    torch's: ``ceil_mode=False`` for "valid", ``ceil_mode=True`` for PyTorch's rounding up,
    and for MXNet's "full" only where torch's rule (drop a last window that starts in the
    right padding) removes nothing. torch's max pooling propagates NaN and pads with -inf, as
    portconv's. "avg_pool" passes count_include_pad (False for "same" padding) and runs the
    generic path for float16/bfloat16 3-D on the CPU, which torch has no kernel for, and for
    3-D inputs smaller than the kernel along an axis, which ``avg_pool3d`` refuses even when
    the padding makes room.
    "adaptive_max_pool" / "adaptive_avg_pool": ``F.adaptive_*_pool{1,2,3}d``, always.
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

    def torch_args(kernel, stride, padding, mode, out, size):
        """(padding ints, ceil_mode) for torch, or None where torch computes something else."""
        pads = []
        for (before, after), k in zip(padding, kernel):
            if before != after or 2 * before > k:
                return None
            pads.append(before)
        if mode == "floor":
            return tuple(pads), False
        if mode == "full":
            for n, s, (before, _), o in zip(size, stride, padding, out):
                if (o - 1) * s >= n + before:  # torch would drop this last window
                    return None
        return tuple(pads), True

    def max_can_run(*, kernel, stride, padding, mode, out, size, **_: Any) -> bool:
        return torch_args(kernel, stride, padding, mode, out, size) is not None

    def max_run(x, *, kernel, stride, padding, dilation, mode, out, size, **_: Any) -> Any:
        pads, ceil = torch_args(kernel, stride, padding, mode, out, size)
        return F(f"max{len(kernel)}")(x, kernel, stride, pads, dilation, ceil)

    def avg_can_run(
        *, kernel, stride, padding, dilation, mode, out, size, dtype, device, **_: Any
    ) -> bool:
        if any(dl != 1 for dl in dilation):
            return False
        if len(kernel) == 3:
            if any(n < k for n, k in zip(size, kernel)):  # avg_pool3d refuses these
                return False
            torch = sys.modules["torch"]
            if getattr(device, "type", "cpu") == "cpu" and dtype in (
                torch.float16,
                torch.bfloat16,
            ):
                return False
        return torch_args(kernel, stride, padding, mode, out, size) is not None

    def avg_run(x, *, kernel, stride, padding, mode, out, size, count, **_: Any) -> Any:
        pads, ceil = torch_args(kernel, stride, padding, mode, out, size)
        return F(f"avg{len(kernel)}")(x, kernel, stride, pads, ceil, count == "padded")

    def adaptive(kind: str):
        def run(x, *, out, **_: Any) -> Any:
            return F(f"adaptive_{kind}{len(out)}")(x, out)

        return NativePath(lambda **_: True, run)

    return {
        "max_pool": NativePath(max_can_run, max_run),
        "avg_pool": NativePath(avg_can_run, avg_run),
        "adaptive_max_pool": adaptive("max"),
        "adaptive_avg_pool": adaptive("avg"),
    }
