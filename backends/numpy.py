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
