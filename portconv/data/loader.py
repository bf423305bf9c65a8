"""Mini-batches of host data as arrays of any backend (the book's ``DataLoader``)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from .._dispatch import get_adapter
from ..errors import ArgumentError
from .image import resize as _resize

__all__ = ["DTYPES", "DataLoader", "batches", "float_dtype", "to_backend"]

#: the floating-point dtypes a loader (and :func:`portconv.train.fit`) can deliver batches in
DTYPES: tuple[str, ...] = ("float32", "float64")


def float_dtype(dtype: Any, name: str = "dtype", *, optional: bool = True) -> np.dtype | None:
    """``dtype`` ("float32", "float64", the NumPy dtypes, or None where ``optional``) as a
    NumPy dtype or None; anything else is an error naming the argument ``name``."""
    if dtype is None and optional:
        return None
    try:
        dt = np.dtype(dtype) if isinstance(dtype, (str, type, np.dtype)) else None
    except TypeError:
        dt = None
    if dt is None or dt.name not in DTYPES:
        allowed = " or ".join(map(repr, DTYPES)) + (" (or None)" if optional else "")
        raise ArgumentError(f"{name}: expected {allowed}, got {dtype!r}")
    return dt


def to_backend(a: Any, backend: str = "numpy", device: Any = None) -> Any:
    """A host array as a new array of ``backend`` ("numpy", "torch", "mxnet", "cupy",
    "array_api_strict", or "mxnet.nd" for legacy ``mx.nd`` NDArrays) on ``device`` (the
    backend's default device when None)."""
    a = np.asarray(a)
    if backend == "mxnet.nd":
        return get_adapter("mxnet").from_numpy(a, device=device).as_nd_ndarray()
    return get_adapter(backend).from_numpy(a, device=device)


class DataLoader:
    """Mini-batches ``(X, y)`` of host arrays, delivered as arrays of ``backend`` on ``device``.

    Each pass over the loader is one epoch. With ``shuffle`` the order of epoch ``e`` is the
    permutation drawn by ``numpy.random.default_rng([seed, e])``: the same on every backend and
    in every run, and independent of how many epochs ran before (so training resumed from a
    checkpoint sees the batches an uninterrupted run would). Passes count epochs from 0;
    :meth:`set_epoch` chooses the next one. ``resize``: an int or ``(h, w)``; images are
    resized bilinearly batch by batch (so 224x224 inputs never exist all at once). ``dtype``:
    "float32" or "float64", the dtype the images ``X`` are delivered in (cast on the host,
    after resizing in float64; labels keep theirs); None delivers ``X``'s own (float32 for
    integer images that are resized).
    """

    def __init__(
        self,
        X: Any,
        y: Any = None,
        batch_size: int = 256,
        shuffle: bool = True,
        seed: int = 0,
        backend: str = "numpy",
        device: Any = None,
        drop_last: bool = False,
        *,
        resize: Any = None,
        dtype: Any = None,
    ) -> None:
        X = np.asarray(X)
        if X.ndim == 0:
            raise ArgumentError("X: expected an array of examples, got a scalar")
        if y is not None:
            y = np.asarray(y)
            if y.shape[:1] != X.shape[:1]:
                raise ArgumentError(
                    f"y: expected {X.shape[0]} labels (one per example of X), got shape {y.shape}"
                )
        if isinstance(batch_size, bool) or int(batch_size) != batch_size or batch_size < 1:
            raise ArgumentError(f"batch_size: expected a positive int, got {batch_size!r}")
        if backend != "mxnet.nd":
            get_adapter(backend)  # a clear error for an unknown name, now
        self.X, self.y = X, y
        self.batch_size = int(batch_size)
        self.shuffle, self.seed = bool(shuffle), int(seed)
        self.backend, self.device = backend, device
        self.drop_last = bool(drop_last)
        self.resize = resize
        self.dtype = float_dtype(dtype)
        if self.dtype is not None and X.dtype.kind not in "biuf":
            raise ArgumentError(f"X: expected real-valued images to cast, got dtype {X.dtype}")
        self.epoch = 0

    @property
    def batch_dtype(self) -> np.dtype:
        """The dtype of the ``X`` batches this loader delivers."""
        if self.dtype is not None:
            return self.dtype
        if self.resize is not None and self.X.dtype.kind != "f":
            return np.dtype(np.float32)
        return self.X.dtype

    @property
    def num_examples(self) -> int:
        return int(self.X.shape[0])

    def __len__(self) -> int:
        n, b = self.num_examples, self.batch_size
        return n // b if self.drop_last else math.ceil(n / b)

    def set_epoch(self, epoch: int) -> None:
        """The epoch whose order the next pass delivers."""
        self.epoch = int(epoch)

    def order(self, epoch: int | None = None) -> np.ndarray:
        """The example indices of ``epoch`` (default: the next pass's), in delivery order."""
        e = self.epoch if epoch is None else int(epoch)
        n = self.num_examples
        if not self.shuffle:
            return np.arange(n)
        return np.random.default_rng([self.seed, e]).permutation(n)

    def host_batch(self, indices: Any) -> tuple[np.ndarray, np.ndarray | None]:
        """Examples ``indices`` as host arrays ``(X, y)`` (resized if asked; ``y`` None
        without labels)."""
        idx = np.asarray(indices, dtype=np.int64)
        xb = self.X[idx]
        if self.resize is not None:
            # resized in float64 (as resize computes), rounded once to the dtype delivered
            xb = _resize(xb if self.dtype is None else xb.astype(np.float64), self.resize)
        if self.dtype is not None:
            xb = xb.astype(self.dtype, copy=False)
        yb = None if self.y is None else self.y[idx]
        return xb, yb

    def batch(self, indices: Any) -> Any:
        """Examples ``indices`` as one batch of the loader's backend (``X`` or ``(X, y)``)."""
        xb, yb = self.host_batch(indices)
        X = to_backend(xb, self.backend, self.device)
        return X if yb is None else (X, to_backend(yb, self.backend, self.device))

    def __iter__(self) -> Iterator[Any]:
        order = self.order()
        self.epoch += 1
        stop = len(self) * self.batch_size if self.drop_last else len(order)
        for start in range(0, stop, self.batch_size):
            yield self.batch(order[start : start + self.batch_size])

    def __repr__(self) -> str:
        return (
            f"DataLoader({self.num_examples} examples, batch_size={self.batch_size}, "
            f"shuffle={self.shuffle}, backend={self.backend!r}"
            + (f", dtype={self.dtype.name!r})" if self.dtype is not None else ")")
        )


def batches(
    X: Any,
    y: Any = None,
    batch_size: int = 256,
    shuffle: bool = True,
    seed: int = 0,
    backend: str = "numpy",
    device: Any = None,
    drop_last: bool = False,
    *,
    resize: Any = None,
    dtype: Any = None,
) -> DataLoader:
    """A :class:`DataLoader` over host arrays ``X`` (and labels ``y``): iterate it for one
    epoch of ``(X_batch, y_batch)`` pairs of ``backend``'s arrays on ``device`` (``X`` in
    ``dtype``: "float32", "float64", or None for ``X``'s own)."""
    return DataLoader(
        X, y, batch_size, shuffle, seed, backend, device, drop_last, resize=resize, dtype=dtype
    )
