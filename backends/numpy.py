"""NumPy adapter (NumPy 1.22 and later; the array API namespace through array-api-compat)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._adapter import Adapter


class NumPyAdapter(Adapter):
    name = "numpy"
    module = "numpy"
    distribution = "numpy"

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
        return np.asarray(a)
