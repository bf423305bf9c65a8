"""array-api-strict adapter: the standard and nothing else, the proof that portconv's generic
code uses only what the array API standard defines."""

from __future__ import annotations

from typing import Any

from ._adapter import Adapter


class ArrayAPIStrictAdapter(Adapter):
    name = "array_api_strict"
    module = "array_api_strict"
    distribution = "array-api-strict"

    targets = ("array_api_strict",)

    @property
    def dlpack_views_read_only(self) -> bool:  # it imports through NumPy
        from .numpy import NumPyAdapter

        return NumPyAdapter.dlpack_views_read_only

    def dlpack_source(self, x: Any) -> Any:
        from .numpy import shareable

        return x if shareable(x._array) else None  # the NumPy array it wraps

    def owns(self, x: Any) -> bool:
        if not self.imported():
            return False
        import array_api_strict

        return isinstance(x, array_api_strict._array_object.Array)

    def namespace(self, x: Any = None) -> Any:
        import array_api_strict

        return array_api_strict

    def device(self, x: Any) -> Any:
        return x.device

    def default_device(self) -> Any:
        import array_api_strict

        return array_api_strict.Device()

    def devices(self) -> list[Any]:
        import array_api_strict

        return list(array_api_strict.__array_namespace_info__().devices())

    def to_numpy(self, x: Any):
        import numpy as np

        # array-api-strict wraps a NumPy array; its "devices" are labels over the CPU.
        return np.array(x._array, copy=True)

    def from_numpy(self, a: Any, device: Any = None, like: Any = None) -> Any:
        import array_api_strict

        if device is None and like is not None:
            device = like.device
        return array_api_strict.asarray(a, device=device) if device else array_api_strict.asarray(a)
