"""CuPy adapter (CUDA GPUs; the namespace through array-api-compat)."""

from __future__ import annotations

import sys
from typing import Any

from ..errors import ArgumentError, describe_type
from ._adapter import Adapter, split_device


class CuPyAdapter(Adapter):
    name = "cupy"
    module = "cupy"
    distribution = "cupy"

    targets = ("cupy",)

    def import_dlpack(self, obj: Any, target: str) -> Any:
        import cupy

        return cupy.from_dlpack(obj)

    def owns(self, x: Any) -> bool:
        cupy = sys.modules.get("cupy")
        return cupy is not None and isinstance(x, cupy.ndarray)

    def namespace(self, x: Any = None) -> Any:
        import array_api_compat.cupy as xp

        return xp

    def unavailable_reason(self) -> str:
        reason = super().unavailable_reason()
        if reason:
            return reason
        import cupy

        try:
            count = cupy.cuda.runtime.getDeviceCount()
        except Exception as exc:  # no driver, no runtime
            return f"no CUDA device: {type(exc).__name__}: {exc}"
        return "" if count > 0 else "no CUDA device: the CUDA runtime reports 0 devices"

    def available(self) -> bool:
        return not self.unavailable_reason()

    def device(self, x: Any) -> Any:
        return x.device

    def default_device(self) -> Any:
        import cupy

        return cupy.cuda.Device()

    def devices(self) -> list[Any]:
        import cupy

        return [cupy.cuda.Device(i) for i in range(cupy.cuda.runtime.getDeviceCount())]

    def parse_device(self, device: Any) -> Any:
        """A ``cupy.cuda.Device`` for ``"cuda"``, ``"cuda:N"``/``"gpu:N"`` or a Device,
        checked to exist (CuPy arrays live on CUDA devices only)."""
        import cupy

        if device is None:
            return None
        if isinstance(device, cupy.cuda.Device):
            index = device.id
        elif isinstance(device, str):
            kind, index = split_device(device)
            if kind not in ("cuda", "gpu"):
                raise ArgumentError(f"device: {device!r}: CuPy arrays live on CUDA devices only")
        else:
            raise ArgumentError(
                f"device: expected a device string such as 'cuda:0' or a cupy.cuda.Device, got "
                f"{describe_type(device)}: {device!r}"
            )
        try:
            count = cupy.cuda.runtime.getDeviceCount()
        except Exception:
            count = 0
        if (index or 0) >= count:
            raise ArgumentError(f"device: {device!r} asked for, but CuPy sees {count} device(s)")
        return cupy.cuda.Device(index or 0)

    def to_numpy(self, x: Any):
        return x.get()

    def from_numpy(self, a: Any, device: Any = None, like: Any = None) -> Any:
        import cupy

        if device is None and like is not None:
            device = like.device
        if device is None:
            return cupy.asarray(a)
        with cupy.cuda.Device(device):
            return cupy.asarray(a)
