"""Mini-batches of host data as arrays of any backend (the book's ``DataLoader``)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from .._dispatch import get_adapter
from ..errors import ArgumentError
from .image import resize as _resize

__all__ = ["DataLoader", "batches", "to_backend"]


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
    resized bilinearly batch by batch (so 224x224 inputs never exist all at once).
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
        self.epoch = 0

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
            xb = _resize(xb, self.resize)
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
            f"shuffle={self.shuffle}, backend={self.backend!r})"
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
) -> DataLoader:
    """A :class:`DataLoader` over host arrays ``X`` (and labels ``y``): iterate it for one
    epoch of ``(X_batch, y_batch)`` pairs of ``backend``'s arrays on ``device``."""
    return DataLoader(X, y, batch_size, shuffle, seed, backend, device, drop_last, resize=resize)
