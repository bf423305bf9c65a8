"""NumPy adapter (NumPy 1.22 and later; the array API namespace through array-api-compat)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._adapter import Adapter


class NumPyAdapter(Adapter):
    name = "numpy"
    module = "numpy"
    distribution = "numpy"

    targets = ("numpy",)

    def dlpack_source(self, x: Any) -> Any:
        # a read-only array is never shared: the importer (torch, say) would write into it
        return x if x.flags.writeable else None

    def import_dlpack(self, obj: Any, target: str) -> Any:
        return np.from_dlpack(obj)

    def owns(self, x: Any) -> bool:
        return isinstance(x, np.ndarray)

    def namespace(self, x: Any = None) -> Any:
        import array_api_compat.numpy as xp

        return xp

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
