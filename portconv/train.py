"""Training: the book's ``train_ch6`` on every backend, with checkpoints that resume exactly.

    from portconv import data, nn, train
    splits = data.load_digits()
    history = train.fit(model, splits, epochs=10, lr=0.9, backend="torch", init="xavier")
    print(train.format_epoch(history[-1]))

:func:`fit` runs mini-batch training with portconv's autograd on any backend, records per
epoch the mean training loss, the training and test accuracy and the throughput, and (with
``checkpoint=``) saves after every epoch the model's parameters and buffers, the optimiser's
state, the random generator's state and the history to one ``.npz`` file (no pickle, written
atomically). ``resume=True`` continues from that file; because the parameters' initial values,
the dropout masks and each epoch's batch order all come from seeded generators, a resumed run
computes exactly what an uninterrupted one would.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from . import autograd as ag
from . import optim as _optim
from ._files import NpzReader, check_writable, path_argument, remove_stale_temporaries
from .autograd import Variable, no_grad
from .data.loader import DataLoader, check_seed, float_dtype, positive_int
from .errors import ArgumentError, ArrayTypeError, FileFormatError, describe_type
from .nn import init as _init
from .nn.module import Module, _host_to, save_npz
from .ops._common import prepare

__all__ = [
    "History",
    "accuracy",
    "checkpoint_info",
    "correct",
    "evaluate_accuracy",
    "fit",
    "format_epoch",
    "load_checkpoint",
    "plot_history",
    "save_checkpoint",
]

_FORMAT = "portconv-checkpoint"
_VERSION = 1
#: how many points per epoch the running curves keep (the book's animator draws 5)
_POINTS_PER_EPOCH = 5


class History(list):
    """One dict per epoch: ``epoch`` (1-based), ``loss`` (mean training loss), ``train_acc``,
    ``test_acc`` (None without test data), ``examples_per_sec`` (training throughput),
    ``seconds`` (the epoch's training time) and ``points`` (running ``[epoch, loss, acc]``
    during the epoch, for the book's curves)."""

    def series(self, key: str) -> list:
        """One value per epoch (``history.series("loss")``)."""
        return [row.get(key) for row in self]


# -- metrics ---------------------------------------------------------------------------------------


def _data(x: Any) -> Any:
    return x.data if isinstance(x, Variable) else x


def _scalar(x: Any) -> float:
    """A one-element array or Variable of any backend as a Python float."""
    data = _data(x)
    be, _, _ = prepare(data)
    return float(np.asarray(be.adapter.to_numpy(data)).reshape(()))


def correct(y_hat: Any, y: Any) -> int:
    """The number of rows of the scores ``y_hat`` (N, C) whose largest entry is at the class
    ``y`` (N,) (the book's ``accuracy``, which counts). Computed on the arrays' device."""
    be, xp, (scores, labels) = prepare(_data(y_hat), _data(y))
    with be.adapter.run_context():
        return _correct(be, xp, scores, labels)


def _correct(be: Any, xp: Any, scores: Any, labels: Any) -> int:
    if scores.ndim != 2 or tuple(labels.shape) != (scores.shape[0],):
        raise ArgumentError(
            f"y_hat, y: expected scores (N, C) and labels (N,), got shapes "
            f"{tuple(scores.shape)} and {tuple(labels.shape)}"
        )
    predicted = xp.argmax(scores, axis=1)
    hits = xp.astype(predicted == xp.astype(labels, predicted.dtype), xp.int32)
    value = xp.sum(hits)
    return int(np.asarray(be.adapter.to_numpy(value)).reshape(()))


def accuracy(y_hat: Any, y: Any) -> float:
    """The fraction of rows of ``y_hat`` whose prediction is ``y``."""
    n = int(_data(y_hat).shape[0])
    return correct(y_hat, y) / n if n else float("nan")


def evaluate_accuracy(model: Module, data: Iterable) -> float:
    """The model's accuracy over ``data`` (batches ``(X, y)``), in evaluation mode, without
    recording gradients (the book's ``evaluate_accuracy_gpu``)."""
    was_training = model.training
    model.eval()
    hits = total = 0
    try:
        with no_grad():
            for X, y in data:
                hits += correct(model(X), y)
                total += int(_data(X).shape[0])
    finally:
        model.train(was_training)
    return hits / total if total else float("nan")


def format_epoch(stats: dict) -> str:
    """``epoch 1: loss 0.512, train acc 0.812, test acc 0.835, 1234.5 examples/s``."""
    parts = [f"loss {stats['loss']:.3f}", f"train acc {stats['train_acc']:.3f}"]
    if stats.get("test_acc") is not None:
        parts.append(f"test acc {stats['test_acc']:.3f}")
    parts.append(f"{stats['examples_per_sec']:.1f} examples/s")
    return f"epoch {stats['epoch']}: " + ", ".join(parts)


# -- checkpoints -----------------------------------------------------------------------------------


def _host(array: Any) -> np.ndarray:
    be, _, _ = prepare(array)
    return np.asarray(be.adapter.to_numpy(array))


def save_checkpoint(
    path: str | os.PathLike,
    model: Module,
    optimizer: _optim.Optimizer | None = None,
    *,
    epoch: int,
    history: list | None = None,
    extra: dict | None = None,
) -> None:
    """Save the model's state dict, the optimiser's state, the random generator's state, the
    number of finished epochs and the history to one ``.npz`` file, atomically, without
    pickle (metadata is JSON in a string array).

    Parameters
    ----------
    path : str or os.PathLike
        The file; written through a temporary file beside it, ``fsync``-ed and renamed
        (see :mod:`portconv._files`), so a reader never sees half a checkpoint.
    model : Module
        Its parameters and buffers, and its class name (checked on resume).
    optimizer : Optimizer, optional
        Its kind, learning rate, the shape of every parameter it steps, and its state.
    epoch : int
        The number of finished epochs.
    history : list of dict, optional
        :class:`History` rows (JSON-serialisable).
    extra : dict, optional
        Anything else JSON-serialisable.

    Raises
    ------
    ArgumentError, ArrayTypeError
        A bad argument (named), or history/extra that JSON cannot hold.
    FileAccessError
        The file cannot be written.

    Examples
    --------
    >>> import os, tempfile, numpy as np
    >>> from portconv import nn, train
    >>> model = nn.Linear(3, 2)
    >>> _ = model(np.zeros((1, 3), np.float32))
    >>> path = os.path.join(tempfile.mkdtemp(), "ck.npz")
    >>> train.save_checkpoint(path, model, epoch=1)
    >>> train.checkpoint_info(path)["epoch"]
    1
    """
    path = path_argument(path, "path")
    if not isinstance(model, Module):
        raise ArrayTypeError(f"model: expected a portconv.nn.Module, got {describe_type(model)}")
    epoch = positive_int(epoch, "epoch", minimum=0)
    arrays: dict[str, np.ndarray] = {}
    for name, value in model.state_dict().items():
        arrays[f"model.{name}"] = _host(value)
    scalars: dict[str, Any] = {}
    opt_meta = None
    if optimizer is not None:
        ad = None
        for i, st in optimizer.state.items():
            for key, value in st.items():
                name = f"{i}.{key}"
                if isinstance(value, (bool, int, float)):
                    scalars[name] = value
                elif value is None:
                    scalars[name] = None
                else:
                    if ad is None:
                        ad = prepare(optimizer.params[i].data)[0].adapter
                    arrays[f"optimizer.{name}"] = np.asarray(ad.to_numpy(value))
        opt_meta = {
            "kind": type(optimizer).__name__,
            "lr": optimizer.lr,
            "params": [list(p.data.shape) for p in optimizer.params],
            "scalars": scalars,
        }
    meta = {
        "format": _FORMAT,
        "version": _VERSION,
        "epoch": epoch,
        "model": type(model).__name__,
        "optimizer": opt_meta,
        "rng": _init.generator().bit_generator.state,
        "history": list(history or []),
        "extra": extra or {},
    }
    try:
        text = json.dumps(meta)
    except (TypeError, ValueError) as exc:
        raise ArgumentError(f"history, extra: must be JSON-serialisable ({exc})") from None
    arrays["__meta__"] = np.array(text)
    save_npz(path, arrays)


# -- reading a checkpoint: everything checked before anything is loaded ----------------------


def _number(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _whole(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


#: what each History row holds (the points are checked apart)
_ROW_NUMBERS = ("loss", "train_acc", "examples_per_sec")


def _check_meta(meta: Any, bad: Callable[[str], FileFormatError]) -> dict:
    if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
        raise bad("is not a portconv checkpoint (its metadata names no portconv format)")
    version = meta.get("version")
    if not _whole(version) or version < 1:
        raise bad(f"has a format version of {version!r}, not a positive int")
    if version > _VERSION:
        raise bad(
            f"was written by a newer portconv (format version {version}; this one reads {_VERSION})"
        )
    epoch = meta.get("epoch")
    if not _whole(epoch) or epoch < 0:
        raise bad(f"records epoch {epoch!r}, not a non-negative int")
    if not isinstance(meta.get("model"), str):
        raise bad(f"records the model {meta.get('model')!r}, not a class name")
    history = meta.get("history", [])
    if not isinstance(history, list):
        raise bad(f"holds a history of type {type(history).__name__}, not a list")
    for i, row in enumerate(history):
        if not isinstance(row, dict) or not _whole(row.get("epoch")):
            raise bad(f"holds history[{i}] = {row!r}, not an epoch's record")
        for key in _ROW_NUMBERS:
            if not _number(row.get(key)):
                raise bad(f"holds history[{i}][{key!r}] = {row.get(key)!r}, not a number")
        if row.get("test_acc") is not None and not _number(row["test_acc"]):
            raise bad(f"holds history[{i}]['test_acc'] = {row['test_acc']!r}, not a number")
        points = row.get("points", [])
        if not isinstance(points, list) or not all(
            isinstance(p, list) and len(p) == 3 and all(_number(v) for v in p) for p in points
        ):
            raise bad(f"holds history[{i}]['points'] that are not [epoch, loss, acc] triples")
    opt = meta.get("optimizer")
    if opt is not None:
        if not isinstance(opt, dict) or not isinstance(opt.get("kind"), str):
            raise bad("holds optimiser metadata without the optimiser's kind")
        scalars = opt.get("scalars", {})
        if not isinstance(scalars, dict):
            raise bad("holds optimiser scalars that are not a mapping")
        for name, value in scalars.items():
            i, _, key = name.partition(".")
            if not (i.isdigit() and key) or not (value is None or isinstance(value, (int, float))):
                raise bad(f"holds an optimiser scalar {name!r} = {value!r} it cannot use")
        shapes = opt.get("params")
        if shapes is not None and not (
            isinstance(shapes, list)
            and all(isinstance(sh, list) and all(_whole(d) and d >= 0 for d in sh) for sh in shapes)
        ):
            raise bad("holds optimiser parameter shapes that are not lists of sizes")
    rng = meta.get("rng")
    if rng is not None:
        try:
            probe = np.random.default_rng()
            probe.bit_generator.state = rng
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            raise bad(
                f"holds a random generator state NumPy refuses ({type(exc).__name__}: {exc})"
            ) from None
    if not isinstance(meta.get("extra", {}), dict):
        raise bad("holds extra metadata that is not a mapping")
    return meta


def _open_checkpoint(path: Any) -> tuple[NpzReader, dict]:
    """The reader of a checkpoint and its checked metadata (no array read yet)."""
    reader = NpzReader(path, what="checkpoint")
    try:

        def bad(message: str) -> FileFormatError:
            return FileFormatError(f"checkpoint: {reader.path} {message}")

        if "__meta__" not in reader.members:
            raise bad("is not a portconv checkpoint (it has no __meta__ entry)")
        shape, dtype = reader.members["__meta__"]
        if shape != () or dtype.kind != "U":
            raise bad(f"has a __meta__ entry of {dtype} {shape}, not one JSON string")
        try:
            meta = json.loads(str(reader.read("__meta__")[()]))
        except json.JSONDecodeError as exc:
            raise bad(f"has metadata that is not JSON ({exc})") from None
        meta = _check_meta(meta, bad)
        for name in reader.members:
            if name != "__meta__" and not name.startswith(("model.", "optimizer.")):
                raise bad(f"holds an entry {name!r} that no checkpoint has")
    except BaseException:
        reader.close()
        raise
    return reader, meta


def checkpoint_info(path: str | os.PathLike) -> dict:
    """The metadata of a checkpoint (``epoch``, ``model``, ``optimizer``, ``history``, ...),
    after checking the file and the metadata; no array is read.

    Raises
    ------
    MissingFileError, FileAccessError
        The file does not exist or cannot be read.
    FileFormatError
        The file is no portconv checkpoint, or a damaged one (the message says how).

    Examples
    --------
    See :func:`save_checkpoint`.
    """
    reader, meta = _open_checkpoint(path)
    reader.close()
    return meta


def _kind(dtype: Any) -> str:
    """ "floating", "complex", "bool" or "integer": what a checkpoint's dtype must share with
    the model's (any library's dtype object, bfloat16 included)."""
    name = _dtype_name(dtype)
    for kind in ("float", "complex", "bool"):
        if kind in name:
            return {"float": "floating"}.get(kind, kind)
    return "integer"


def _check_model(reader: NpzReader, meta: dict, model: Module) -> None:
    where = f"checkpoint: {reader.path}"
    if meta["model"] != type(model).__name__:
        raise ArgumentError(
            f"{where} was written by a {meta['model']} model, not a {type(model).__name__}; "
            f"resume with the model that wrote it"
        )
    stored = {k[len("model.") :]: v for k, v in reader.members.items() if k.startswith("model.")}
    state = model.state_dict()
    for name, value in state.items():
        if name not in stored:
            raise ArgumentError(f"{where} has no entry for the model's {name!r}")
        shape, dtype = stored[name]
        if tuple(value.shape) != shape:
            raise ArgumentError(
                f"{where}: {name!r} has shape {shape} there, {tuple(value.shape)} in the model"
            )
        mine = _kind(value.dtype)
        if _kind(dtype) != mine:
            raise ArgumentError(f"{where}: {name!r} is {dtype} there, {mine} in the model")
    # parameters a lazy layer has declared but not created yet: their shapes are checked by
    # load_state_dict against the declared ones
    declared = model._slots() if hasattr(model, "_slots") else {}
    for name in declared:
        if name not in state and name not in stored:
            raise ArgumentError(f"{where} has no entry for the model's {name!r}")
    for name in stored:
        if name not in state and name not in declared:
            raise ArgumentError(f"{where} holds {name!r}, which the model does not have")


def _check_optimizer(reader: NpzReader, meta: dict, optimizer: Any) -> None:
    where = f"checkpoint: {reader.path}"
    saved = meta.get("optimizer") or {}
    kind = type(optimizer).__name__
    if saved.get("kind") != kind:
        raise ArgumentError(
            f"{where} holds the state of a {saved.get('kind')} optimiser, not of {kind}; resume "
            f"with the same optimiser"
        )
    params = optimizer.params
    shapes = saved.get("params")
    if shapes is not None:
        if len(shapes) != len(params):
            raise ArgumentError(
                f"{where}: its optimiser stepped {len(shapes)} parameters, this one steps "
                f"{len(params)}"
            )
        for i, (sh, p) in enumerate(zip(shapes, params)):
            if tuple(sh) != tuple(p.data.shape):
                raise ArgumentError(
                    f"{where}: optimiser parameter {i} has shape {tuple(sh)} there, "
                    f"{tuple(p.data.shape)} here"
                )
    for name in saved.get("scalars") or {}:
        i = int(name.partition(".")[0])
        if i >= len(params):
            raise ArgumentError(
                f"{where}: optimiser state for parameter {i}, the optimiser has {len(params)}"
            )
    for name, (shape, dtype) in reader.members.items():
        if not name.startswith("optimizer."):
            continue
        i, _, key = name[len("optimizer.") :].partition(".")
        if not (i.isdigit() and key):
            raise FileFormatError(f"{where} holds an entry {name!r} that no checkpoint has")
        if int(i) >= len(params):
            raise ArgumentError(
                f"{where}: optimiser state for parameter {i}, the optimiser has {len(params)}"
            )
        want = tuple(params[int(i)].data.shape)
        if shape != want:
            raise ArgumentError(
                f"{where}: optimiser state {i}.{key} has shape {shape}, its parameter {want}"
            )
        if dtype.kind != "f":
            raise ArgumentError(f"{where}: optimiser state {i}.{key} is {dtype}, not floating")


def load_checkpoint(
    path: str | os.PathLike,
    model: Module | None = None,
    optimizer: _optim.Optimizer | None = None,
    *,
    restore_rng: bool = True,
) -> dict:
    """Read a checkpoint written by :func:`save_checkpoint` into ``model`` and ``optimizer``,
    restore the random generator, and return the metadata (``epoch``, ``history``, ...).

    Everything is checked before anything is loaded, and from the archive's headers before
    an array is read: the file (see :class:`portconv._files.NpzReader`), the metadata (JSON,
    an int epoch, a history of numbers, a generator state NumPy accepts), the model (its
    class is the one that wrote the checkpoint; every parameter and buffer name, shape and
    kind of dtype matches; floating-point precision may differ and is cast, as PyTorch's
    ``load_state_dict`` does) and the optimiser (the same kind, the same number and shapes of
    parameters, state of each parameter's shape). The first mismatch is an error naming it.
    The model's parameters must exist: call it once first.

    Raises
    ------
    MissingFileError, FileAccessError
        The file does not exist or cannot be read.
    FileFormatError
        The file is no portconv checkpoint, or a damaged one.
    ArgumentError
        The checkpoint does not fit ``model`` or ``optimizer`` (the message names the first
        mismatch).
    """
    reader, meta = _open_checkpoint(path)
    with reader:
        if model is not None:
            if not isinstance(model, Module):
                raise ArrayTypeError(
                    f"model: expected a portconv.nn.Module, got {describe_type(model)}"
                )
            _check_model(reader, meta, model)
        if optimizer is not None:
            _check_optimizer(reader, meta, optimizer)
        stored = reader.read_all()
    if model is not None:
        state = {k[6:]: v for k, v in stored.items() if k.startswith("model.")}
        model.load_state_dict(state)
    if optimizer is not None:
        saved = meta.get("optimizer") or {}
        new_state: dict[int, dict[str, Any]] = {}
        for name, value in (saved.get("scalars") or {}).items():
            i, key = name.split(".", 1)
            new_state.setdefault(int(i), {})[key] = value
        for name, host in stored.items():
            if not name.startswith("optimizer."):
                continue
            i, key = name[len("optimizer.") :].split(".", 1)
            like = optimizer.params[int(i)].data
            be, _, _ = prepare(like)
            # in the parameter's dtype (a float32 checkpoint resumed in float64 trains in it)
            value = be.adapter.to_standard(_host_to(host, like))
            new_state.setdefault(int(i), {})[key] = value
        optimizer.state = new_state
    if restore_rng and meta.get("rng"):
        _init.generator().bit_generator.state = meta["rng"]
    return meta


# -- training --------------------------------------------------------------------------------------


def _loader(
    what: str,
    data: Any,
    batch_size: int,
    shuffle: bool,
    seed: int,
    backend: str,
    device: Any,
    dtype: np.dtype | None,
):
    if data is None:
        return data
    if isinstance(data, DataLoader):
        if dtype is not None and data.batch_dtype != dtype:
            raise ArgumentError(
                f"dtype: {dtype.name!r} asked for, but {what}, a DataLoader, delivers "
                f"{data.batch_dtype.name} batches; make the loader with dtype={dtype.name!r} "
                f"(portconv.data.batches(..., dtype={dtype.name!r})) or leave dtype=None"
            )
        return data
    if isinstance(data, (tuple, list)) and len(data) == 2:
        X, y = data
        return DataLoader(X, y, batch_size, shuffle, seed, backend, device, dtype=dtype)
    raise ArgumentError(
        f"data: expected (X, y) host arrays, a portconv.data.DataLoader or Splits, got "
        f"{type(data).__name__}"
    )


def _learning_rate(lr: Any) -> float:
    if not _number(lr) or not math.isfinite(lr) or lr <= 0:
        raise ArgumentError(f"lr: expected a positive finite number, got {lr!r}")
    return float(lr)


def _make_optimizer(optimizer: Any, params: list, lr: float) -> _optim.Optimizer:
    if isinstance(optimizer, str):
        name = optimizer.lower()
        if name == "sgd":
            return _optim.SGD(params, lr=lr)
        if name == "adam":
            return _optim.Adam(params, lr=lr)
        raise ArgumentError(f"optimizer: expected 'sgd', 'adam' or a callable, got {optimizer!r}")
    if callable(optimizer):
        return optimizer(params, lr)
    raise ArgumentError(f"optimizer: expected 'sgd', 'adam' or a callable, got {optimizer!r}")


def _loss_fn(loss: Any) -> Callable:
    if loss == "cross_entropy":
        return ag.cross_entropy
    if callable(loss):
        return loss
    raise ArgumentError(f"loss: expected 'cross_entropy' or a callable, got {loss!r}")


class _Bar:
    """A progress bar over one epoch's batches: tqdm where installed, else one line that
    rewrites itself on stderr."""

    def __init__(self, total: int, desc: str, enabled: bool) -> None:
        self.total, self.desc, self.enabled, self.n = total, desc, enabled, 0
        self.tqdm = None
        self._last = 0.0
        if enabled:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                self.tqdm = tqdm(total=total, desc=desc, leave=False, unit="batch")

    def update(self, **postfix: Any) -> None:
        self.n += 1
        if not self.enabled:
            return
        if self.tqdm is not None:
            self.tqdm.set_postfix(postfix, refresh=False)
            self.tqdm.update(1)
            return
        now = time.perf_counter()
        if now - self._last > 0.2 or self.n == self.total:
            self._last = now
            info = ", ".join(f"{k} {v:.3f}" for k, v in postfix.items())
            sys.stderr.write(f"\r{self.desc}: {self.n}/{self.total} batches, {info}   ")
            sys.stderr.flush()

    def close(self) -> None:
        if not self.enabled:
            return
        if self.tqdm is not None:
            self.tqdm.close()
        else:
            sys.stderr.write("\r" + " " * 78 + "\r")
            sys.stderr.flush()


def fit(
    model: Module,
    train_data: Any,
    test_data: Any = None,
    *,
    epochs: int,
    lr: float,
    optimizer: Any = "sgd",
    loss: Any = "cross_entropy",
    backend: str = "numpy",
    device: Any = None,
    batch_size: int = 256,
    init: Any = None,
    seed: int = 0,
    checkpoint: str | os.PathLike | None = None,
    resume: bool = False,
    callback: Callable[[dict], Any] | None = None,
    progress: bool = False,
    dtype: Any = None,
) -> History:
    """Train ``model`` (the book's ``train_ch6``) and return its :class:`History`.

    ``train_data``/``test_data``: ``(X, y)`` host NumPy arrays (batched here with
    ``batch_size``, shuffled by ``seed``, moved to ``backend`` on ``device``), a
    :class:`portconv.data.DataLoader` (used as it is), or :class:`portconv.data.Splits` as
    ``train_data`` (its test split becomes ``test_data`` unless one is given).
    ``optimizer``: ``"sgd"`` (the book's), ``"adam"``, or ``f(params, lr) -> Optimizer``.
    ``loss``: ``"cross_entropy"`` or ``f(y_hat, y) -> scalar Variable``. ``init``: None keeps
    the model's initialiser (PyTorch's defaults unless the model chose another), ``"xavier"``
    is the book's ``init_cnn``; parameters are drawn from :func:`portconv.nn.manual_seed`
    ``(seed)``, so equal seeds give equal models on every backend. ``checkpoint``: a ``.npz``
    path written after every epoch; with ``resume`` training continues from it (if it exists)
    and the result equals an uninterrupted run. ``callback(stats)`` runs after every epoch with
    that epoch's dict; ``progress`` shows a bar over each epoch's batches.

    ``dtype``: "float32" or "float64", the floating-point dtype training runs in: the batches
    are delivered in it, parameters are created in it (they take the first batch's dtype),
    parameters and buffers that already exist in another are cast to it, and so the loss,
    the gradients and the optimiser's state are in it too. None (the default) uses the
    data's own dtype. In float64 the same seed gives the same curve on every backend to
    ~1e-14 (kernels differ only in the order of their float64 roundings); in float32 the
    curves drift apart within some dozens or hundreds of steps, as rounding differences
    flip near-ties of max pooling (see ``benchmarks/train_digits.py``).

    Everything is checked before the first step: the arguments (``epochs`` a non-negative
    int, ``lr`` positive and finite, ``batch_size`` a positive int, ``seed`` a non-negative
    int, ``resume`` and ``progress`` bools, ``device`` one the backend has here); the labels
    of both data sets, once, on the host, against the model's number of outputs (class
    indices in ``[0, C)``); that ``checkpoint`` can be written (a directory, a missing folder
    or no permission is found now, not after the first epoch); and with ``resume`` the
    checkpoint itself, against the model and the optimiser (see :func:`load_checkpoint`).
    ``resume=True`` without a checkpoint file yet starts from epoch 1, as Keras'
    ``BackupAndRestore`` does, so one call serves the first run and every restart.

    Raises
    ------
    ArgumentError, ArrayTypeError
        A refused argument or label, named in the message.
    FileFormatError, FileAccessError
        With ``resume``, a damaged checkpoint; a checkpoint path that cannot be written.

    Examples
    --------
    >>> from portconv import data, nn, train
    >>> splits = data.make_synthetic(16, 8, 12, seed=0)
    >>> model = nn.Sequential(nn.Conv2D(4, 3), nn.ReLU(), nn.Dense(10))
    >>> history = train.fit(model, splits, epochs=2, lr=0.05, batch_size=8, init="xavier")
    >>> [row["epoch"] for row in history]
    [1, 2]
    """
    if not isinstance(model, Module):
        raise ArrayTypeError(f"model: expected a portconv.nn.Module, got {describe_type(model)}")
    epochs = positive_int(epochs, "epochs", minimum=0)
    lr = _learning_rate(lr)
    batch_size = positive_int(batch_size, "batch_size")
    seed = check_seed(seed)
    if not isinstance(resume, bool):
        raise ArrayTypeError(f"resume: expected True or False, got {describe_type(resume)}")
    if not isinstance(progress, bool):
        raise ArrayTypeError(f"progress: expected True or False, got {describe_type(progress)}")
    if callback is not None and not callable(callback):
        raise ArrayTypeError(
            f"callback: expected a function or None, got {describe_type(callback)}"
        )
    if init is not None and not (
        isinstance(init, str)
        or (isinstance(init, tuple) and len(init) == 2 and all(map(callable, init)))
    ):
        raise ArrayTypeError(
            f"init: expected None, a preset name such as 'xavier', or a (weight, bias) pair of "
            f"initialisers, got {describe_type(init)}: {init!r}"
        )
    if resume and checkpoint is None:
        raise ArgumentError("resume: needs checkpoint= (the file to resume from)")
    if checkpoint is not None:
        # found now, not after the first epoch: a directory, a missing folder, no permission
        checkpoint = check_writable(checkpoint, "checkpoint")
        remove_stale_temporaries(checkpoint)  # of runs killed while they wrote it
    dt = float_dtype(dtype)
    if hasattr(train_data, "X_test") and hasattr(train_data, "X_train"):
        if test_data is None:
            test_data = (train_data.X_test, train_data.y_test)
        train_data = (train_data.X_train, train_data.y_train)
    train_iter = _loader("train_data", train_data, batch_size, True, seed, backend, device, dt)
    test_iter = _loader("test_data", test_data, batch_size, False, seed, backend, device, dt)
    loss_fn = _loss_fn(loss)
    if train_iter is None or train_iter.num_examples == 0:
        raise ArgumentError("train_data: expected at least one training example")
    if resume and os.path.exists(checkpoint):
        checkpoint_info(checkpoint)  # a damaged file is refused before any work

    _init.manual_seed(seed)
    if init is not None:
        model.initialize(init, seed=seed, force_reinit=True)
    sample = train_iter.batch(np.arange(min(2, train_iter.num_examples)))[0]
    with prepare(sample)[0].adapter.run_context():
        return _fit(
            model,
            sample,
            train_iter,
            test_iter,
            loss_fn,
            optimizer,
            lr,
            epochs,
            checkpoint,
            resume,
            callback,
            progress,
            dt is not None,
        )


def _cast_floating(model: Module, like: Any) -> None:
    """Cast the model's floating-point parameters and buffers to ``like``'s dtype."""
    want = _dtype_name(like.dtype)

    def cast(value: Any) -> Any:
        if _dtype_name(value.dtype) == want:
            return value
        host = _host(value)
        return _host_to(host, like) if host.dtype.kind == "f" else value

    for p in model.parameters():
        p.data = cast(p.data)
    for m in model.modules():
        for name, b in list(m._buffers.items()):
            if b is not None:
                m.register_buffer(name, cast(b))


def _dtype_name(dtype: Any) -> str:
    try:
        return np.dtype(dtype).name
    except TypeError:
        return str(dtype).split(".")[-1]


def _fit(
    model,
    sample,
    train_iter,
    test_iter,
    loss_fn,
    optimizer,
    lr,
    epochs,
    checkpoint,
    resume,
    callback,
    progress,
    cast,
) -> History:
    # parameters: drawn from the seeded generator on a first call (in evaluation mode, so
    # nothing but the parameters' creation happens), on the data's backend and device
    model.to(sample)
    if cast:  # parameters loaded or trained before, in another dtype
        _cast_floating(model, sample)
    was_training = model.training
    model.eval()
    with no_grad():
        out = _data(model(sample))
    model.train(was_training)
    if getattr(out, "ndim", None) == 2:  # scores (N, C): labels are classes 0..C-1
        for it in (train_iter, test_iter):
            if it is not None:
                it.check_labels(int(out.shape[1]))  # once per data set, on the host
    opt = _make_optimizer(optimizer, model.parameters(), lr)

    history = History()
    start = 0
    if resume and os.path.exists(os.fspath(checkpoint)):
        meta = load_checkpoint(checkpoint, model, opt)
        start = int(meta["epoch"])
        history.extend(meta.get("history", []))

    for epoch in range(start, epochs):
        stats = _train_epoch(model, train_iter, opt, loss_fn, epoch, epochs, progress)
        stats["test_acc"] = None if test_iter is None else evaluate_accuracy(model, test_iter)
        history.append(stats)
        if checkpoint is not None:
            save_checkpoint(checkpoint, model, opt, epoch=epoch + 1, history=history)
        if callback is not None:
            callback(stats)
    model.train()
    return history


def _train_epoch(model, loader, opt, loss_fn, epoch, epochs, progress) -> dict:
    model.train()
    loader.set_epoch(epoch)
    n_batches = len(loader)
    every = max(1, n_batches // _POINTS_PER_EPOCH)
    loss_sum = 0.0
    hits = seen = 0
    points = []
    bar = _Bar(n_batches, f"epoch {epoch + 1}/{epochs}", progress)
    elapsed = 0.0
    try:
        for i, (X, y) in enumerate(loader):
            t0 = time.perf_counter()
            y_hat = model(X)
            value = loss_fn(y_hat, y)
            if math.prod(value.shape) != 1:
                value = ag.mean(value)
            opt.zero_grad()
            value.backward()
            opt.step()
            n = int(_data(X).shape[0])
            batch_loss = _scalar(value)  # waits for the device: the time below is real
            batch_hits = correct(y_hat, y)
            elapsed += time.perf_counter() - t0
            loss_sum += batch_loss * n
            hits += batch_hits
            seen += n
            bar.update(loss=loss_sum / seen, acc=hits / seen)
            if (i + 1) % every == 0 or i + 1 == n_batches:
                points.append([epoch + (i + 1) / n_batches, loss_sum / seen, hits / seen])
    finally:
        bar.close()
    return {
        "epoch": epoch + 1,
        "loss": loss_sum / seen if seen else float("nan"),
        "train_acc": hits / seen if seen else float("nan"),
        "test_acc": None,
        "examples_per_sec": seen / elapsed if elapsed > 0 else float("inf"),
        "seconds": elapsed,
        "points": points,
    }


# -- plotting --------------------------------------------------------------------------------------


def plot_history(history: list, path: str | os.PathLike, title: str | None = None) -> None:
    """Draw the training curves as the book's animator does (training loss and accuracy during
    each epoch, test accuracy at its end, against epochs) and save them as a PNG. Needs
    matplotlib (``pip install "portconv[plot]"``)."""
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError(
            'plotting needs matplotlib: pip install "portconv[plot]" (or matplotlib)'
        ) from None
    xs, losses, accs = [], [], []
    for row in history:
        for x, loss_value, acc in row.get("points") or [[row["epoch"], row["loss"], 0.0]]:
            xs.append(x)
            losses.append(loss_value)
            accs.append(acc)
    test = [(row["epoch"], row["test_acc"]) for row in history if row.get("test_acc") is not None]
    fig, ax = plt.subplots(figsize=(4.5, 3.5))
    try:
        ax.plot(xs, losses, "-", label="train loss")
        ax.plot(xs, accs, "m--", label="train acc")
        if test:
            ax.plot([t[0] for t in test], [t[1] for t in test], "g-.", label="test acc")
        ax.set_xlabel("epoch")
        ax.set_xlim(0, max([row["epoch"] for row in history], default=1))
        ax.grid(True)
        ax.legend()
        if title:
            ax.set_title(title)
        fig.tight_layout()
        fig.savefig(os.fspath(path), format="png", dpi=100)
    finally:
        plt.close(fig)
