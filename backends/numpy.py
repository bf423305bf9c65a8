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

    #: NumPy 2.1 and later import read-only DLPack memory as read-only arrays
    dlpack_views_read_only = np.lib.NumpyVersion(np.__version__) >= "2.1.0"

    def dlpack_source(self, x: Any) -> Any:
        return x if shareable(x) else None

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


def shareable(a: np.ndarray) -> bool:
    """Whether another library may view ``a`` through DLPack: never a read-only array (the
    importer, torch say, would write into it), nor negative or element-misaligned strides
    (which DLPack importers do not all support: torch aborts the process on them)."""
    return bool(a.flags.writeable) and all(s >= 0 and s % a.itemsize == 0 for s in a.strides)
