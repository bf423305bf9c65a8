"""PyTorch adapter (CPU and CUDA tensors; the namespace through array-api-compat)."""

from __future__ import annotations

import sys
from typing import Any

from ._adapter import Adapter


class TorchAdapter(Adapter):
    name = "torch"
    module = "torch"
    distribution = "torch"

    def __init__(self) -> None:
        super().__init__()
        self.native.update(native_conv_paths())
        self.native.update(native_pool_paths())

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

    def to_numpy(self, x: Any):
        return x.detach().cpu().numpy()

    def from_numpy(self, a: Any, device: Any = None, like: Any = None) -> Any:
        import numpy as np
        import torch

        if device is None and like is not None:
            device = like.device
        return torch.as_tensor(np.asarray(a), device=device)


# -- native convolution (torch.nn.functional / npx): see portconv/ops/conv.py ---------------


def native_conv_paths() -> dict:
    """Native convolution paths of this library, by op name."""
    return {}


# -- native pooling: see portconv/ops/pool.py ------------------------------------------------


def native_pool_paths() -> dict:
    """Native pooling paths of this library, by op name."""
    return {}
