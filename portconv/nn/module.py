"""Module, Parameter and Sequential: the containers of ``portconv.nn``.

A :class:`Module` owns named :class:`Parameter` objects (Variables that require a gradient)
and child modules, in the order they were assigned, and names them as PyTorch does
(``"0.weight"``, ``"conv1.bias"``), so state dicts map one to one onto ``torch.nn`` models.

Parameters are created on the first call (shape inference, like PyTorch's ``LazyConv2d`` and
Gluon's deferred initialisation): a layer declares each parameter's shape, with ``None`` where
it depends on the input, and the first input fills the gaps. Values are drawn on the host from
:mod:`portconv.nn.init`'s seeded generator and moved to the input's library and device, so the
same seed gives the same model on every backend. Parameters loaded with
:meth:`Module.load_state_dict` before the first call move to the first input's library too;
after that, a call with another library's arrays is an error (move the model with
:meth:`Module.to`).
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import numpy as np

from .. import _dispatch
from ..autograd import Variable, no_grad
from ..errors import ArgumentError, ArrayTypeError, describe_type
from . import init as _init

#: how deep inside Module calls this thread is (0: not inside a model's call)
_calls = threading.local()


class Parameter(Variable):
    """A Variable that a Module owns and an optimiser updates (``requires_grad=True``)."""

    __slots__ = ()

    def __init__(self, data: Any) -> None:
        super().__init__(data, requires_grad=True)

    def __repr__(self) -> str:
        return f"Parameter(shape={self.shape}, dtype={self.dtype})"


def _backend(array: Any):
    return _dispatch.backend_of(array)


def _move(array: Any, like: Any) -> Any:
    """``array`` (any library) as an array of ``like``'s library, on ``like``'s device,
    with its own dtype."""
    src, dst = _backend(array), _backend(like)
    if src.adapter is dst.adapter and str(src.device) == str(dst.device):
        same_type = type(array) is type(like)
        if same_type:
            return array
    host = np.asarray(src.adapter.to_numpy(array))
    return dst.adapter.from_numpy(host, like=like)


class Module:
    """The base class of every layer and model.

    Subclasses implement :meth:`forward` and declare parameters in ``__init__`` with
    :meth:`declare`; assigning a Module to an attribute registers it as a child.
    """

    #: the name :meth:`layer_summary` prints (PyTorch's class name for the same layer)
    summary_name: str | None = None

    def __init__(self) -> None:
        object.__setattr__(self, "_params", OrderedDict())  # name -> Parameter or None
        object.__setattr__(self, "_shapes", {})  # name -> declared shape (None = from input)
        object.__setattr__(self, "_kinds", {})  # name -> "weight" | "bias" | "ones" | "zeros"
        object.__setattr__(self, "_buffers", OrderedDict())  # name -> array or None
        object.__setattr__(self, "_children", OrderedDict())
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_init", None)  # preset name, or None: the parent's
        object.__setattr__(self, "_placed", False)  # parameters follow the first input

    # -- registration --------------------------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, Module):
            self._children[name] = value
        elif isinstance(value, Parameter):
            self._params[name] = value
        elif value is None and name in self._children:
            self._children[name] = None
        object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:  # only called when normal lookup fails
        params = self.__dict__.get("_params", {})
        if name in params:
            return params[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def declare(self, name: str, shape: tuple, kind: str) -> None:
        """Declare parameter ``name`` of ``shape`` (``None`` entries are inferred from the
        first input) drawn by the weight or bias initialiser, or set to ones or zeros."""
        if kind not in ("weight", "bias", "ones", "zeros"):
            raise ValueError(f"kind: {kind!r}")
        self._params[name] = None
        self._shapes[name] = tuple(shape)
        self._kinds[name] = kind
        object.__setattr__(self, name, None)

    def register_buffer(self, name: str, value: Any) -> None:
        self._buffers[name] = value
        object.__setattr__(self, name, value)

    def add_module(self, name: str, module: Module) -> None:
        setattr(self, name, module)

    # -- parameters ----------------------------------------------------------------------------
    def initialize(
        self, init: Any = "torch", *, seed: int | None = None, force_reinit: bool = False
    ) -> Module:
        """Choose how parameters are drawn (a preset of :mod:`portconv.nn.init`: "torch",
        "gluon", "xavier", or a (weight, bias) pair of initialisers) for this module and its
        children, like Gluon's ``net.initialize(init=...)``. ``seed`` reseeds the generator.
        Parameters already created stay unless ``force_reinit``; then they are drawn anew on
        the next call."""
        _init.preset(init)  # validate
        if seed is not None:
            _init.manual_seed(seed)
        for m in self.modules():
            object.__setattr__(m, "_init", init)
            if force_reinit:
                for name in m._params:
                    if m._kinds.get(name):
                        m._params[name] = None
                        object.__setattr__(m, name, None)
        return self

    def materialise(self, name: str, shape: tuple, like: Any) -> Parameter:
        """Create declared parameter ``name`` with its full ``shape`` on ``like``'s library,
        device and dtype (called by layers on their first input)."""
        kind = self._kinds[name]
        declared = self._shapes[name]
        for d, s in zip(declared, shape, strict=True):
            if d is not None and d != s:
                raise ArgumentError(f"{name}: declared shape {declared}, inferred {shape}")
        if kind in ("ones", "zeros"):
            host = np.full(shape, 1.0 if kind == "ones" else 0.0)
        else:
            weight_init, bias_init = _init.preset(self._effective_init())
            weight_shape = self._shapes.get("weight")
            ref = self._params.get("weight")
            wshape = ref.shape if ref is not None else (shape if kind == "weight" else None)
            if wshape is None and weight_shape is not None:
                wshape = tuple(weight_shape)
            fan_in, fan_out = self.fans(wshape if wshape is not None else shape)
            fn = weight_init if kind == "weight" else bias_init
            host = fn(shape, fan_in, fan_out, _init.generator())
        p = Parameter(_host_to(host, like))
        self._params[name] = p
        object.__setattr__(self, name, p)
        return p

    def fans(self, weight_shape: tuple) -> tuple[int, int]:
        """(fan_in, fan_out) of this layer's weight (PyTorch's rule; layers may override)."""
        return _init.fans(weight_shape)

    def _effective_init(self) -> Any:
        return self._init if self._init is not None else "torch"

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """(name, Parameter) of this module and its children, PyTorch's names, in order;
        parameters not yet created (waiting for the first input) are left out."""
        for name, p in self._params.items():
            if p is not None:
                yield prefix + name, p
        for cname, child in self._children.items():
            if child is not None:
                yield from child.named_parameters(f"{prefix}{cname}.")

    def parameters(self) -> list[Parameter]:
        return [p for _, p in self.named_parameters()]

    def functional(self, *, state: bool = False, example: Any = None) -> tuple:
        """This model as a pure function and its parameters as a dict (a pytree that
        ``jax.jit`` and ``jax.grad`` transform).

        Parameters
        ----------
        state, example
            As :func:`portconv.nn.to_functional`.

        Returns
        -------
        tuple
            ``(apply, params)``, or ``(apply, params, state)`` with ``state=True``: see
            :func:`portconv.nn.to_functional`.
        """
        from .functional import to_functional

        return to_functional(self, state=state, example=example)

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, Any]]:
        for name, b in self._buffers.items():
            if b is not None:
                yield prefix + name, b
        for cname, child in self._children.items():
            if child is not None:
                yield from child.named_buffers(f"{prefix}{cname}.")

    def modules(self) -> Iterator[Module]:
        yield self
        for child in self._children.values():
            if child is not None:
                yield from child.modules()

    def children(self) -> Iterator[tuple[str, Module]]:
        return ((n, c) for n, c in self._children.items() if c is not None)

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.zero_grad()

    # -- modes ---------------------------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> Module:
        return self.train(False)

    # -- calling -------------------------------------------------------------------------------
    def forward(self, *args: Any) -> Any:
        """By default a model is its ``net`` child (the book's ``self.net = nn.Sequential(...)``
        pattern); every other module defines its own forward."""
        net = self._children.get("net")
        if net is None:
            raise NotImplementedError(
                f"{type(self).__name__} defines no forward() and has no 'net' child to run"
            )
        return net(*args)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not self._placed and args:
            self._place(args[0])
        if getattr(_calls, "depth", 0):
            return self.forward(*args, **kwargs)
        _calls.depth = 1  # the outermost call of a model
        try:
            out = self.forward(*args, **kwargs)
        finally:
            _calls.depth = 0
        if self.training:
            self._settle_buffers()
        return out

    def _settle_buffers(self) -> None:
        """After a training-mode call: buffers the call updated (running statistics) are
        computed now where the library is lazy (Dask), all together, so they do not carry
        every earlier step's graph (identity elsewhere)."""
        owners = [(m, name, b) for m in self.modules() for name, b in m._buffers.items()]
        arrays = [b for _, _, b in owners if b is not None]
        if not arrays:
            return
        settled = iter(_backend(arrays[0]).adapter.settle(arrays))
        for m, name, b in owners:
            if b is not None:
                new = next(settled)
                if new is not b:
                    m.register_buffer(name, new)

    def _place(self, x: Any) -> None:
        """Move parameters and buffers created or loaded before the first call to the first
        input's library and device."""
        like = x.data if isinstance(x, Variable) else x
        try:
            _backend(like)
        except TypeError:
            return
        for m in self.modules():
            for p in list(m._params.values()):
                if p is not None:
                    moved = _move(p.data, like)
                    if moved is not p.data:
                        p.data = moved
            for name, b in list(m._buffers.items()):
                if b is not None:
                    m.register_buffer(name, _move(b, like))
            object.__setattr__(m, "_placed", True)

    def to(self, like: Any) -> Module:
        """Move every parameter and buffer to the library and device of the array ``like``
        (porting a model between frameworks)."""
        object.__setattr__(self, "_placed", False)
        for m in self.modules():
            object.__setattr__(m, "_placed", False)
        self._place(like)
        return self

    # -- state ---------------------------------------------------------------------------------
    def state_dict(self) -> OrderedDict:
        """Parameters and buffers by PyTorch's names, as arrays of the model's library."""
        out: OrderedDict = OrderedDict()
        for name, p in self.named_parameters():
            out[name] = p.data
        for name, b in self.named_buffers():
            out[name] = b
        return out

    def _slots(self) -> dict[str, tuple[Module, str, str]]:
        """name -> (owning module, local name, "param" | "buffer"), declared ones included."""
        slots: dict[str, tuple[Module, str, str]] = {}

        def walk(m: Module, prefix: str) -> None:
            for n in m._params:
                slots[prefix + n] = (m, n, "param")
            for n in m._buffers:
                slots[prefix + n] = (m, n, "buffer")
            for cn, c in m._children.items():
                if c is not None:
                    walk(c, f"{prefix}{cn}.")

        walk(self, "")
        return slots

    def load_state_dict(self, state: dict[str, Any], strict: bool = True) -> None:
        """Load parameters and buffers (arrays of any library, NumPy included) by name.

        Checks every name, shape and dtype before changing anything, and says which entry is
        wrong. Values move to the library and device of the model's parameters (or, before the
        first call, to those of the first input)."""
        slots = self._slots()
        # PyTorch's BatchNorm counts its batches in an integer buffer that only its
        # momentum=None mode reads; portconv's BatchNorm has no such mode, so it is skipped
        state = {
            n: v
            for n, v in state.items()
            if not (n.endswith("num_batches_tracked") and _is_batchnorm_slot(slots, n))
        }
        missing = [n for n in slots if n not in state]
        unexpected = [n for n in state if n not in slots]
        if strict and (missing or unexpected):
            raise ArgumentError(
                "state: names do not match the model"
                + (f"; missing: {', '.join(missing)}" if missing else "")
                + (f"; unexpected: {', '.join(unexpected)}" if unexpected else "")
            )
        staged = []
        for name, value in state.items():
            if name not in slots:
                continue
            m, local, kind = slots[name]
            try:
                be = _backend(value)
            except TypeError:
                raise ArrayTypeError(
                    f"state[{name!r}]: expected an array, got {describe_type(value)}"
                ) from None
            host = np.asarray(be.adapter.to_numpy(value))
            if host.dtype.kind != "f":
                raise ArrayTypeError(
                    f"state[{name!r}]: expected a floating-point array, got dtype {host.dtype}"
                )
            current = m._params.get(local) if kind == "param" else m._buffers.get(local)
            if current is not None:
                cur = current.data if isinstance(current, Variable) else current
                if tuple(cur.shape) != host.shape:
                    raise ArgumentError(
                        f"state[{name!r}]: shape {host.shape} does not match the model's "
                        f"{tuple(cur.shape)}"
                    )
            elif kind == "param":
                declared = m._shapes[local]
                if len(declared) != host.ndim or any(
                    d is not None and d != s for d, s in zip(declared, host.shape)
                ):
                    raise ArgumentError(
                        f"state[{name!r}]: shape {host.shape} does not match the declared "
                        f"{tuple('?' if d is None else d for d in declared)}"
                    )
            staged.append((m, local, kind, current, value, host))
        for m, local, kind, current, value, host in staged:
            if current is not None:
                cur = current.data if isinstance(current, Variable) else current
                new = _host_to(host.astype(np.dtype(_dtype_name(cur.dtype))), cur)
            else:  # a copy in the value's own library: never an alias of the caller's array
                new = _host_to(host, value)
            if kind == "param":
                if current is not None:
                    current.data = new
                    current.zero_grad()
                else:
                    p = Parameter(new)
                    m._params[local] = p
                    object.__setattr__(m, local, p)
                    object.__setattr__(m, "_placed", False)
            else:
                m.register_buffer(local, new)
                if current is None:
                    object.__setattr__(m, "_placed", False)
        if any(not m._placed for m in self.modules()):
            object.__setattr__(self, "_placed", False)

    def save(self, path: str | os.PathLike) -> None:
        """Write the state dict to a ``.npz`` file (no pickle), atomically: a reader sees
        the old file or the new one, never a partial one."""
        arrays = {}
        for name, value in self.state_dict().items():
            arrays[name] = np.asarray(_backend(value).adapter.to_numpy(value))
        save_npz(path, arrays)

    def load(self, path: str | os.PathLike, strict: bool = True) -> None:
        """Load a ``.npz`` written by :meth:`save` (from any backend) without unpickling."""
        self.load_state_dict(load_npz(path), strict=strict)

    # -- shapes --------------------------------------------------------------------------------
    def layer_summary(self, input_shape: tuple, like: Any = None, *, file: Any = None) -> list:
        """Run a zero input of ``input_shape`` through the top-level layers one by one and
        print ``"<Layer> output shape:\\t <shape>"`` per layer, as the book does. ``like``: an
        array whose library and device to use (default NumPy float32). Returns the list of
        (layer name, shape)."""
        if like is None:
            x: Any = np.zeros(input_shape, dtype=np.float32)
        else:
            be = _backend(like)
            x = be.adapter.from_numpy(np.zeros(input_shape, dtype=np.float32), like=like)
        rows = []
        with no_grad():
            for _, layer in self.top_level_layers():
                x = layer(x)
                data = x.data if isinstance(x, Variable) else x
                label = layer.summary_name or type(layer).__name__
                print(f"{label} output shape:\t {data.shape}", file=file)
                rows.append((label, tuple(int(s) for s in data.shape)))
        return rows

    def top_level_layers(self) -> list[tuple[str, Module]]:
        """The layers :meth:`layer_summary` walks, each fed the previous one's output: a
        Sequential's children; for a model whose forward is its ``net`` Sequential (the
        default forward, as the book's ``d2l.Classifier`` has), that Sequential's children;
        any other module is one layer, since walking the children of a block with a forward
        of its own would compute something the block does not."""
        if isinstance(self, Sequential):
            return list(self.children())
        net = self._children.get("net")
        if isinstance(net, Sequential) and type(self).forward is Module.forward:
            return list(net.children())
        return [(type(self).__name__, self)]

    def num_parameters(self) -> int:
        """The number of scalar parameters (create them first with a call or a summary)."""
        return sum(int(np.prod(p.shape)) for p in self.parameters())

    def __repr__(self) -> str:
        kids = "".join(f"\n  ({n}): " + repr(c).replace("\n", "\n  ") for n, c in self.children())
        return f"{type(self).__name__}({self.extra_repr()}{kids}{chr(10) if kids else ''})"

    def extra_repr(self) -> str:
        return ""


def _is_batchnorm_slot(slots: dict, name: str) -> bool:
    """True when ``name`` sits in a batch-normalisation layer of the model."""
    prefix = name.rpartition(".")[0]
    owner = next((m for n, (m, _, _) in slots.items() if n.rpartition(".")[0] == prefix), None)
    return owner is not None and hasattr(owner, "running_mean")


def _dtype_name(dtype: Any) -> str:
    try:
        return np.dtype(dtype).name
    except TypeError:
        return str(dtype).split(".")[-1]


def _host_to(host: np.ndarray, like: Any) -> Any:
    """A host array as an array of ``like``'s library, device and dtype."""
    like_data = like.data if isinstance(like, Variable) else like
    be = _backend(like_data)
    dtype = _dtype_name(like_data.dtype)
    if dtype == "bfloat16":  # NumPy has no bfloat16: draw in float32, cast on the backend
        out = be.adapter.from_numpy(host.astype(np.float32), like=like_data)
        xp = be.adapter.namespace()
        std = be.adapter.to_standard(out)
        return be.adapter.from_standard(xp.astype(std, like_data.dtype), like_data)
    return be.adapter.from_numpy(host.astype(dtype), like=like_data)


def save_npz(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> None:
    """``np.savez`` to a temporary file beside ``path``, then an atomic rename."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".portconv-", suffix=".npz", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The arrays of a ``.npz`` file; object arrays (which would need unpickling) are
    refused."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    except ValueError as exc:
        raise ArgumentError(
            f"path: {os.fspath(path)!r} holds object arrays, which portconv never unpickles ({exc})"
        ) from None


class Sequential(Module):
    """Layers applied in order; children are named "0", "1", ... as in PyTorch."""

    summary_name = "Sequential"

    def __init__(self, *layers: Module) -> None:
        super().__init__()
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise ArrayTypeError(
                    f"layers[{i}]: expected a portconv.nn.Module, got {describe_type(layer)}"
                )
            self.add_module(str(i), layer)

    def add(self, *layers: Module) -> None:
        """Append layers (Gluon's ``net.add``)."""
        for layer in layers:
            self.add_module(str(len(self._children)), layer)

    def forward(self, x: Any) -> Any:
        for _, layer in self.children():
            x = layer(x)
        return x

    def __getitem__(self, i: int) -> Module:
        return list(self._children.values())[i]

    def __len__(self) -> int:
        return len(self._children)
