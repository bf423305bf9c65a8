"""MXNet adapter: ``mxnet.numpy`` arrays and legacy ``mxnet.nd`` NDArrays.

array-api-compat does not know MXNet, so this adapter brings its own namespace
(:mod:`portconv.backends._mxnet_namespace`) that fixes where ``mxnet.numpy`` 1.9.1 departs
from the standard. Legacy ``nd.NDArray`` inputs are viewed as ``mx.np`` arrays without a
copy (``as_np_ndarray``) and results are viewed back (``as_nd_ndarray``), so a user who
passes ``nd`` arrays gets ``nd`` arrays.
"""

from __future__ import annotations

import sys
from typing import Any

from ._adapter import Adapter


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


# -- native convolution (torch.nn.functional / npx): see portconv/ops/conv.py ---------------


def native_conv_paths() -> dict:
    """Native convolution paths of this library, by op name."""
    return {}


# -- native pooling: see portconv/ops/pool.py ------------------------------------------------


def native_pool_paths() -> dict:
    """Native pooling paths of this library, by op name."""
    return {}
