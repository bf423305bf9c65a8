"""An array API namespace over ``mxnet.numpy`` 1.9.1.

``mxnet.numpy`` resembles NumPy but departs from the array API standard in ways that fail
silently (dtype inference, missing functions, no type promotion between mixed dtypes, a
``pad`` that ignores ``constant_values``). Everything portconv's generic code calls goes
through this namespace, which fixes those departures with MXNet operations only (no detour
through host NumPy), so results stay MXNet arrays on their context and remain differentiable
under ``mxnet.autograd.record()``. Every function here is functional: none writes into its
inputs (MXNet's autograd cannot record ``__setitem__``).
"""

from __future__ import annotations

import builtins
import types
import warnings


def _mx():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        import mxnet

    return mxnet


def namespace() -> types.SimpleNamespace:
    """Build the namespace (called once per process by the MXNet adapter)."""
    mx = _mx()
    mnp = mx.np
    onp = __import__("numpy")

    ns = types.SimpleNamespace()
    ns.__name__ = "portconv.backends._mxnet_namespace"

    # dtypes (NumPy dtype objects, which is what mx.np uses)
    for name in (
        "bool",
        "int8",
        "int16",
        "int32",
        "int64",
        "uint8",
        "float16",
        "float32",
        "float64",
    ):
        setattr(ns, name, onp.dtype(name))
    ns.e, ns.pi, ns.inf, ns.nan = onp.e, onp.pi, onp.inf, onp.nan
    ns.newaxis = None

    def _ctx(device):
        return device if device is not None else mx.context.current_context()

    def _infer_dtype(obj):
        """The standard's inference from Python data: bool -> bool, int -> int64,
        float -> the default float (float32 in MXNet)."""
        flat = obj
        while isinstance(flat, (list, tuple)) and flat:
            flat = flat[0]
        if isinstance(flat, builtins.bool):
            return onp.dtype("bool")
        if isinstance(flat, int):
            return onp.dtype("int64")
        return onp.dtype("float32")

    def asarray(obj, /, *, dtype=None, device=None, copy=None):
        if isinstance(obj, mnp.ndarray):
            out = obj
            if device is not None and out.ctx != device:
                out = out.as_in_context(device)
            if dtype is not None and out.dtype != onp.dtype(dtype):
                return out.astype(dtype)
            return out.copy() if copy else out
        if isinstance(obj, mx.nd.NDArray):
            return asarray(obj.as_np_ndarray(), dtype=dtype, device=device, copy=copy)
        if isinstance(obj, onp.ndarray):
            if dtype is None:
                dtype = obj.dtype
            return mnp.array(obj, dtype=dtype, ctx=_ctx(device))
        if dtype is None:
            dtype = _infer_dtype(obj)
        return mnp.array(onp.asarray(obj, dtype=dtype), dtype=dtype, ctx=_ctx(device))

    ns.asarray = asarray

    def zeros(shape, *, dtype=None, device=None):
        return mnp.zeros(shape, dtype=dtype or onp.float32, ctx=_ctx(device))

    def ones(shape, *, dtype=None, device=None):
        return mnp.ones(shape, dtype=dtype or onp.float32, ctx=_ctx(device))

    ns.zeros, ns.ones = zeros, ones

    def _promote(*arrays):
        """Cast arrays of mixed dtypes to their common type (MXNet raises or truncates)."""
        dtypes = {a.dtype for a in arrays if isinstance(a, mnp.ndarray)}
        if len(dtypes) <= 1:
            return arrays
        common = onp.result_type(*dtypes)
        return tuple(
            a.astype(common) if isinstance(a, mnp.ndarray) and a.dtype != common else a
            for a in arrays
        )

    ns._promote = _promote

    def stack(arrays, /, *, axis=0):
        return mnp.stack(_promote(*arrays), axis=axis)

    def concat(arrays, /, *, axis=0):
        return mnp.concatenate(_promote(*arrays), axis=axis)

    ns.stack, ns.concat = stack, concat

    def multiply(x1, x2, /):
        x1, x2 = _promote(x1, x2)
        return mnp.multiply(x1, x2)

    def add(x1, x2, /):
        x1, x2 = _promote(x1, x2)
        return mnp.add(x1, x2)

    def matmul(x1, x2, /):
        x1, x2 = _promote(x1, x2)
        return mnp.matmul(x1, x2)

    ns.multiply, ns.add, ns.matmul = multiply, add, matmul

    def sum(x, /, *, axis=None, dtype=None, keepdims=False):
        return mnp.sum(x, axis=axis, dtype=dtype, keepdims=keepdims)

    ns.sum = sum

    def reshape(x, /, shape, *, copy=None):
        return mnp.reshape(x, shape)

    def permute_dims(x, /, axes):
        return mnp.transpose(x, axes)

    ns.reshape, ns.permute_dims = reshape, permute_dims

    # Functions whose mx.np version already follows the standard for the arguments
    # portconv passes.
    for name in (
        "abs",
        "exp",
        "log",
        "sqrt",
        "tanh",
        "broadcast_to",
        "expand_dims",
        "flip",
        "squeeze",
    ):
        if not hasattr(ns, name):
            setattr(ns, name, getattr(mnp, name))
    return ns
