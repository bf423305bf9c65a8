"""Mini-batches of host data as arrays of any backend (the book's ``DataLoader``).

Every argument is checked when a loader is made, before any batch is built: sizes and seeds
are ints of the right sign (never bools or floats), the backend and device exist here (read by
the backend's adapter), a resized batch fits the memory limit, and labels that are class
indices are whole numbers in range, checked once on the host for the whole data set.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..errors import ArgumentError, ArrayTypeError, PortconvError, describe_type
from .image import _size as _image_size
from .image import resize as _resize

__all__ = [
    "DTYPES",
    "DataLoader",
    "batches",
    "check_labels",
    "check_resize",
    "check_seed",
    "float_dtype",
    "positive_int",
    "to_backend",
]


def check_seed(seed: Any, name: str = "seed") -> int:
    """``seed`` as a non-negative int (what NumPy's generators take), or an error naming
    ``name``: :class:`~portconv.ArrayTypeError` for a bool, float, str, ...,
    :class:`~portconv.ArgumentError` for a negative int.

    Examples
    --------
    >>> from portconv.data import check_seed
    >>> check_seed(7)
    7
    """
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise ArrayTypeError(
            f"{name}: expected a non-negative int, got {describe_type(seed)}: {seed!r}"
        )
    if seed < 0:
        raise ArgumentError(
            f"{name}: expected a non-negative int (NumPy's generators take no negative seeds), "
            f"got {seed}"
        )
    return int(seed)


def positive_int(value: Any, name: str, minimum: int = 1) -> int:
    """``value`` as an int of at least ``minimum`` (never a bool or a float), or an error
    naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ArrayTypeError(
            f"{name}: expected an int of at least {minimum}, got {describe_type(value)}: {value!r}"
        )
    if value < minimum:
        raise ArgumentError(f"{name}: expected an int of at least {minimum}, got {value}")
    return int(value)


def _flag(value: Any, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ArrayTypeError(
            f"{name}: expected True or False, got {describe_type(value)}: {value!r}"
        )
    return bool(value)


def check_labels(y: Any, num_classes: int | None = None, name: str = "y") -> None:
    """Check that ``y`` (host) holds class indices: shape ``(N,)``, integers (or floats that
    are whole numbers), each in ``[0, num_classes)`` (``[0, inf)`` when None). Raises an
    error naming ``name``, the first offending position and its value.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv.data import check_labels
    >>> check_labels(np.array([0, 3, 9]), 10)
    >>> check_labels(np.array([0, 12]), 10)
    Traceback (most recent call last):
    ...
    portconv.errors.ArgumentError: y: class indices must be in [0, 10) (10 classes); y[1] is 12
    """
    y = np.asarray(y)
    if y.dtype.kind not in "iuf":
        raise ArrayTypeError(
            f"{name}: expected integer class indices, got dtype {y.dtype} (shape {y.shape})"
        )
    if y.ndim != 1:
        raise ArgumentError(f"{name}: expected class indices of shape (N,), got shape {y.shape}")
    if y.size == 0:
        return
    if y.dtype.kind == "f":
        bad = ~np.isfinite(y) | (y != np.floor(y))
        if bad.any():
            i = int(np.argmax(bad))
            raise ArgumentError(
                f"{name}: class indices must be whole numbers; {name}[{i}] is {y[i].item()!r}"
            )
    span = "[0, inf)" if num_classes is None else f"[0, {num_classes}) ({num_classes} classes)"
    bad = y < 0 if num_classes is None else (y < 0) | (y >= num_classes)
    if bad.any():
        i = int(np.argmax(bad))  # the first one
        raise ArgumentError(
            f"{name}: class indices must be in {span}; {name}[{i}] is {y[i].item()!r}"
        )


def check_resize(
    resize: Any, name: str = "resize", *, batch_size: int, example: tuple[int, ...]
) -> tuple[int, int]:
    """``resize`` (an int or an (h, w) pair of positive ints) as ``(h, w)``, refused (naming
    ``name``) when a batch of ``batch_size`` examples of shape ``example`` (..., H, W),
    resized in float64, would exceed the bytes one call may build
    (:func:`portconv.ops._args.whole_array_limit`): such sizes are typos, refused before
    anything is allocated."""
    from ..ops._args import refuse_huge, whole_array_limit

    h, w = _image_size(resize, name)
    nbytes = batch_size * math.prod(example[:-2]) * h * w * 8
    what = f"a batch of {batch_size} examples resized to {h}x{w}"
    refuse_huge(name, what, nbytes, whole_array_limit())
    return h, w


def _host_array(a: Any, name: str) -> np.ndarray:
    """A host (NumPy) view of ``a``: a NumPy array, a list, or any backend's array."""
    if isinstance(a, np.ndarray):
        return a
    if isinstance(a, np.ma.MaskedArray):  # pragma: no cover - subclass of ndarray, above
        return a
    from .._dispatch import backend_of

    try:
        backend = backend_of(a)
    except (PortconvError, TypeError):
        backend = None
    try:
        if backend is not None and backend.adapter.name != "numpy":
            return np.asarray(backend.adapter.to_numpy(a))
        out = np.asarray(a)
    except PortconvError as exc:
        raise type(exc)(f"{name}: {exc}") from None
    except Exception as exc:
        raise ArrayTypeError(
            f"{name}: expected an array of examples, got {describe_type(a)} "
            f"({type(exc).__name__}: {exc})"
        ) from None
    if out.dtype.kind == "O":
        raise ArrayTypeError(
            f"{name}: expected an array of numbers, got {describe_type(a)} that NumPy reads "
            f"as an object array"
        )
    return out


#: the floating-point dtypes a loader (and :func:`portconv.train.fit`) can deliver batches in
DTYPES: tuple[str, ...] = ("float32", "float64")


def float_dtype(dtype: Any, name: str = "dtype", *, optional: bool = True) -> np.dtype | None:
    """``dtype`` ("float32", "float64", the NumPy dtypes, or None where ``optional``) as a
    NumPy dtype or None; anything else is an error naming the argument ``name``."""
    if dtype is None and optional:
        return None
    try:
        dt = np.dtype(dtype) if isinstance(dtype, (str, type, np.dtype)) else None
    except Exception:  # NumPy raises TypeError, ValueError or SyntaxError for odd strings
        dt = None
    if dt is None or dt.name not in DTYPES:
        allowed = " or ".join(map(repr, DTYPES)) + (" (or None)" if optional else "")
        raise ArgumentError(f"{name}: expected {allowed}, got {dtype!r}")
    return dt


def _target(backend: Any, device: Any) -> tuple[Any, Any]:
    """The adapter for the backend name ``backend`` and its device object for ``device``."""
    from ..convert import target_adapter

    adapter = target_adapter(backend, "backend")
    return adapter, adapter.parse_device(device)


def to_backend(a: Any, backend: str = "numpy", device: Any = None) -> Any:
    """A host array as a new array of ``backend`` ("numpy", "torch", "mxnet", "cupy",
    "array_api_strict", "dask", or "mxnet.nd" for legacy ``mx.nd`` NDArrays) on ``device``
    (a device string such as ``"cuda:0"`` or the library's device object; the backend's
    default device when None)."""
    adapter, dev = _target(backend, device)
    return adapter.import_numpy(np.asarray(a), dev, backend)


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
    integer images that are resized). ``num_classes``: the labels are class indices in
    ``[0, num_classes)``; they are checked now, once, on the host (1-D integer labels are
    always checked to be non-negative; :func:`portconv.train.fit` checks them against the
    model's number of outputs before training).

    Every argument is checked here, before any batch is built: ``batch_size`` a positive
    int, ``seed`` a non-negative int, ``shuffle`` and ``drop_last`` bools, ``backend`` a
    library installed here and ``device`` one of its devices (a string such as ``"cuda:0"``
    is read by the backend's adapter), ``resize`` a positive size whose batches fit the whole-array
    limit in float64 (see ``portconv.config(memory_budget=...)``). Errors name the argument.
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
        num_classes: int | None = None,
    ) -> None:
        X = _host_array(X, "X")
        if X.ndim == 0:
            raise ArgumentError("X: expected an array of examples, got a scalar")
        if X.dtype.kind not in "biuf":
            raise ArrayTypeError(f"X: expected real-valued examples, got dtype {X.dtype}")
        self.num_classes = None if num_classes is None else positive_int(num_classes, "num_classes")
        if y is not None:
            y = _host_array(y, "y")
            if y.shape[:1] != X.shape[:1]:
                raise ArgumentError(
                    f"y: expected {X.shape[0]} labels (one per example of X), got shape {y.shape}"
                )
            if y.dtype.kind not in "biuf":
                raise ArrayTypeError(f"y: expected numeric labels, got dtype {y.dtype}")
            if self.num_classes is not None or (y.ndim == 1 and y.dtype.kind in "iu"):
                check_labels(y, self.num_classes, "y")  # once, on the host
        elif self.num_classes is not None:
            raise ArgumentError("num_classes: given, but there are no labels (y is None)")
        self.batch_size = positive_int(batch_size, "batch_size")
        self.shuffle = _flag(shuffle, "shuffle")
        self.seed = check_seed(seed)
        self.drop_last = _flag(drop_last, "drop_last")
        self._adapter, self.device = _target(backend, device)
        self.backend = backend
        self.X, self.y = X, y
        self.dtype = float_dtype(dtype)
        self.resize = None if resize is None else self._check_resize(resize)
        self.epoch = 0
        self._labels_checked: set = set()

    def _check_resize(self, resize: Any) -> Any:
        if self.X.ndim < 3:
            raise ArgumentError(
                f"resize: needs images (N, ..., H, W), but X has shape {self.X.shape}"
            )
        check_resize(
            resize,
            "resize",
            batch_size=min(self.batch_size, self.num_examples) or 1,
            example=self.X.shape[1:],
        )
        return resize

    def check_labels(self, num_classes: int) -> None:
        """Check, once per number of classes, that the labels are class indices in
        ``[0, num_classes)`` (:func:`portconv.train.fit` calls it before training)."""
        if num_classes in self._labels_checked:
            return
        if self.y is None:
            raise ArgumentError("y: the loader has no labels; training needs class indices")
        check_labels(self.y, num_classes, "y")
        self._labels_checked.add(num_classes)

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
        self.epoch = positive_int(epoch, "epoch", minimum=0)

    def order(self, epoch: int | None = None) -> np.ndarray:
        """The example indices of ``epoch`` (default: the next pass's), in delivery order."""
        e = self.epoch if epoch is None else positive_int(epoch, "epoch", minimum=0)
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
        X = self._adapter.import_numpy(np.asarray(xb), self.device, self.backend)
        if yb is None:
            return X
        return X, self._adapter.import_numpy(np.asarray(yb), self.device, self.backend)

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
    num_classes: int | None = None,
) -> DataLoader:
    """A :class:`DataLoader` over host arrays ``X`` (and labels ``y``): iterate it for one
    epoch of ``(X_batch, y_batch)`` pairs of ``backend``'s arrays on ``device`` (``X`` in
    ``dtype``: "float32", "float64", or None for ``X``'s own). ``num_classes``: the labels
    are class indices in ``[0, num_classes)``, checked now (1-D integer labels are always
    checked to be non-negative). Every argument is checked here (see the module docstring)."""
    return DataLoader(
        X,
        y,
        batch_size,
        shuffle,
        seed,
        backend,
        device,
        drop_last,
        resize=resize,
        dtype=dtype,
        num_classes=num_classes,
    )
