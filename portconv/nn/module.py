"""Module, Parameter and Sequential: the containers of ``portconv.nn``.

A :class:`Module` owns named :class:`Parameter` objects (Variables that require a gradient)
and child modules, in the order they were assigned, and names them as PyTorch does
(``"0.weight"``, ``"conv1.bias"``), so state dicts map one to one onto ``torch.nn`` models.

When parameters are created. A layer declares each parameter's shape, with ``None`` where it
depends on the input. A parameter whose shape is known at construction (``Conv2d(1, 6, 5)``,
``Linear(400, 120)``) is created then, as a NumPy float32 array (PyTorch's CPU default), so
``optim.SGD(net.parameters())`` works before the first call; the others are created by the
first call (shape inference, like PyTorch's ``LazyConv2d`` and Gluon's deferred
initialisation).

Where values come from. Every value is drawn in float64 on the host from
:mod:`portconv.nn.init`'s seeded generator, by the layer's first call (in the order the call
meets the layers, dropout masks included), and cast to the input's floating-point dtype, so
the same seed gives the same model on every backend, whether the sizes were given or
inferred, and a seed set after construction (``train.fit(seed=...)``) still decides them. A
parameter created at construction shows until then the values that call will draw when
nothing else is drawn in between (:func:`portconv.nn.init.preview`); one loaded, assigned or
written in place before is kept. The :class:`Parameter` objects stay the same, so an
optimiser made before the first call keeps working.

Where they live. The first call moves every parameter and buffer to the input's library and
device; after it, a call with another library's arrays is an error that names the fix
(:meth:`Module.to`). Parameter creation and the first placement happen under a lock, so
threads that make the first call of a model at once all get the seeded parameters.
"""

from __future__ import annotations

import os
import threading
import zlib
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import _dispatch
from .._files import read_npz, write_npz
from ..autograd import Variable, no_grad
from ..errors import ArgumentError, ArrayTypeError, PortconvError, describe_type
from . import init as _init

#: how deep inside Module calls this thread is (0: not inside a model's call)
_calls = threading.local()

#: held while parameters are drawn and while a model is placed by its first call: threads
#: that make the first call of one model at once create its parameters once, in layer order
_creation_lock = threading.RLock()


class Parameter(Variable):
    """A Variable that a Module owns and an optimiser updates (``requires_grad=True``)."""

    __slots__ = ()

    def __init__(self, data: Any) -> None:
        super().__init__(data, requires_grad=True)

    def __repr__(self) -> str:
        return f"Parameter(shape={self.shape}, dtype={self.dtype})"


@dataclass
class _Draft:
    """A parameter created at construction whose values are drawn by its layer's first call:
    the array it shows until then (``obj``) and a checksum of its values, to tell whether it
    was replaced or written into since (then it is kept, not drawn)."""

    obj: Any
    crc: int


@dataclass
class _Pending:
    """A buffer created at construction that nothing has touched yet: its float64 host
    values and the array it holds (``obj``, to tell whether it was replaced since)."""

    host: np.ndarray
    obj: Any


def _checksum(array: Any) -> int:
    host = np.ascontiguousarray(np.asarray(_backend(array).adapter.to_numpy(array)))
    return zlib.crc32(host.view(np.uint8).reshape(-1)) ^ hash((host.dtype.str, host.shape))


class _Parameters(list):
    """The list :meth:`Module.parameters` returns; ``missing`` names the declared parameters
    that do not exist yet (their layers take their input size from the first call)."""

    missing: tuple[str, ...] = ()


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


def _is_floating(like: Any) -> bool:
    """Whether ``like`` is an array with a real floating-point dtype."""
    try:
        be = _backend(like)
        std = be.adapter.to_standard(like)
        return bool(be.adapter.namespace().isdtype(std.dtype, "real floating"))
    except (TypeError, ValueError):
        return False


def _libraries() -> str:
    return ", ".join(sorted(_dispatch.adapters()))


def require_array(x: Any, name: str = "input") -> None:
    """Refuse anything but an array of a registered library or a Variable, naming ``name``."""
    if isinstance(x, Variable):
        return
    if x is not None and not _dispatch._is_scalar(x) and _dispatch._owner(x) is not None:
        return
    if x is None:
        what = "None"
    elif _dispatch._is_scalar(x):
        what = f"a {describe_type(x)} scalar ({x!r})"
    else:
        what = f"an object of type {describe_type(x)}"
    hint = ""
    if isinstance(x, list | tuple):
        hint = "; convert it first, for example with np.asarray(x, dtype=np.float32)"
    raise ArrayTypeError(
        f"{name}: expected an array (of one of {_libraries()}) or a "
        f"portconv.autograd.Variable, got {what}{hint}"
    )


def _blame(exc: PortconvError, module: Module) -> None:
    """Remember the innermost module an error came out of (the layer that refused)."""
    if getattr(exc, "_portconv_layer", None) is None:
        exc._portconv_layer = module  # type: ignore[attr-defined]


class Module:
    """The base class of every layer and model.

    Subclasses implement :meth:`forward` and declare parameters in ``__init__`` with
    :meth:`declare`; assigning a Module to an attribute registers it as a child.
    """

    #: the name :meth:`layer_summary` prints (the class name of the framework the layer
    #: imitates: Gluon's ``Conv2D``/``Dense`` or PyTorch's ``Conv2d``/``Linear``)
    summary_name: str | None = None

    #: whether a call refuses a first argument that is not an array (portconv's own layers and
    #: models do; a user's module may take anything)
    takes_array: bool = False

    def __init__(self) -> None:
        object.__setattr__(self, "_params", OrderedDict())  # name -> Parameter or None
        object.__setattr__(self, "_shapes", {})  # name -> declared shape (None = from input)
        object.__setattr__(self, "_kinds", {})  # name -> "weight" | "bias" | "ones" | "zeros"
        object.__setattr__(self, "_buffers", OrderedDict())  # name -> array or None
        object.__setattr__(self, "_children", OrderedDict())
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_init", None)  # preset name, or None: the parent's
        object.__setattr__(self, "_placed", False)  # parameters follow the first input
        object.__setattr__(self, "_drafts", {})  # name -> _Draft (drawn by the first call)
        object.__setattr__(self, "_pending", {})  # buffer name -> _Pending (untouched)

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
        """Declare parameter ``name`` of ``shape`` drawn by the weight or bias initialiser, or
        set to ones or zeros. A shape with ``None`` entries is completed by the first input,
        which creates the parameter. A complete one is created now, as a NumPy float32 array
        showing the values the first call will draw (the seeded generator is not moved until
        then, so that a layer draws where a lazy one would)."""
        if kind not in ("weight", "bias", "ones", "zeros"):
            raise ValueError(f"kind: {kind!r}")
        self._params[name] = None
        self._shapes[name] = tuple(shape)
        self._kinds[name] = kind
        object.__setattr__(self, name, None)
        # a bias draws from its weight's fan_in: it waits when the weight waits for the input
        waits = kind == "bias" and "weight" in self._shapes and self._params["weight"] is None
        if None not in self._shapes[name] and not waits:
            with _creation_lock:
                self._create_draft(name)

    def register_buffer(self, name: str, value: Any) -> None:
        self._buffers[name] = value
        object.__setattr__(self, name, value)

    def declare_buffer(self, name: str, host: np.ndarray) -> None:
        """Create buffer ``name`` now from float64 host values (a NumPy float32 array that the
        first call moves to the input's library, device and dtype)."""
        host = np.asarray(host, dtype=np.float64)
        obj = host.astype(np.float32)
        self.register_buffer(name, obj)
        self._pending[name] = _Pending(host, obj)

    def add_module(self, name: str, module: Module) -> None:
        setattr(self, name, module)

    # -- parameters ----------------------------------------------------------------------------
    def initialize(
        self, init: Any = "torch", *, seed: int | None = None, force_reinit: bool = False
    ) -> Module:
        """Choose how parameters are drawn, like Gluon's ``net.initialize(init=...)``.

        Parameters
        ----------
        init : str or (callable, callable)
            A preset of :mod:`portconv.nn.init` ("torch", "gluon", "xavier") or a
            ``(weight, bias)`` pair of initialisers, for this module and its children.
        seed : int, optional
            Reseed the generator first (:func:`portconv.nn.manual_seed`).
        force_reinit : bool
            Draw the parameters that calls have drawn already anew, now, where they live
            (those whose shape comes from the input: on the next call). Parameters created at
            construction and not yet drawn by a call take ``init`` in any case.

        Returns
        -------
        Module
            ``self``.
        """
        _init.preset(init)  # validate
        if seed is not None:
            _init.manual_seed(seed)
        with _creation_lock:
            for m in self.modules():
                object.__setattr__(m, "_init", init)
            drafts = [(m, n) for m in self.modules() for n in list(m._drafts) if m._is_draft(n)]
            _init.preview(restart=True)  # what the first call will draw, with the new preset
            for m, name in drafts:
                m._create_draft(name)
            if force_reinit:
                for m in self.modules():
                    for name, p in list(m._params.items()):
                        if p is None or (m, name) in drafts or not m._kinds.get(name):
                            continue
                        if None in m._shapes[name]:  # shaped by the input: drawn on the next call
                            m._params[name] = None
                            object.__setattr__(m, name, None)
                        else:  # in place, where it lives: an optimiser keeps its reference
                            host = m._draw_host(name, tuple(p.shape), _init.generator())
                            p.data = _host_to(host, p.data)
                            m._drafts.pop(name, None)
        return self

    def _incomplete(self) -> bool:
        """Whether a declared parameter or buffer of this module (not its children) is still
        waiting for the first input."""
        return any(p is None for p in self._params.values()) or any(
            b is None for b in self._buffers.values()
        )

    def _is_pending(self, name: str) -> bool:
        """Whether buffer ``name`` was created at construction and not replaced since."""
        pend = self._pending.get(name)
        return pend is not None and self._buffers.get(name) is pend.obj

    def _is_draft(self, name: str) -> bool:
        """Whether parameter ``name`` was created at construction and nothing has replaced
        or written into it since (its values are then drawn by the first call)."""
        draft = self._drafts.get(name)
        p = self._params.get(name)
        if draft is None or p is None or p.data is not draft.obj:
            return False
        return _checksum(p.data) == draft.crc

    def _create_draft(self, name: str) -> None:
        """Show in parameter ``name`` (its shape complete) the values its first call will
        draw, as a NumPy float32 array, keeping the Parameter object when there is one."""
        host = self._draw_host(name, self._shapes[name], _init.preview())
        obj = host.astype(np.float32)
        p = self._params.get(name)
        if p is None:
            p = Parameter(obj)
            self._params[name] = p
            object.__setattr__(self, name, p)
        else:
            p.data = obj
            p.zero_grad()
        self._drafts[name] = _Draft(obj, _checksum(obj))

    def _draw_drafts(self, x: Any) -> None:
        """At this module's first call: draw the parameters created at construction from the
        seeded generator (where a lazy layer draws its own), on ``x``'s library, device and
        floating-point dtype. One replaced or written into since construction is kept."""
        like = x.data if isinstance(x, Variable) else x
        if not _is_floating(like):
            return  # a call the layer refuses: nothing is drawn
        self.check_input(x)
        with _creation_lock:
            for name in list(self._drafts):
                p = self._params[name]
                if self._is_draft(name):
                    host = self._draw_host(name, tuple(p.shape), _init.generator())
                    p.data = _host_to(host, like)
                    p.zero_grad()
                elif p is not None and type(p.data) is not type(like):
                    p.data = _move(p.data, like)
            self._drafts.clear()

    def _draw_host(self, name: str, shape: tuple, gen: np.random.Generator) -> np.ndarray:
        """Float64 host values for parameter ``name`` of ``shape``, drawn from ``gen``."""
        kind = self._kinds[name]
        if kind in ("ones", "zeros"):
            return np.full(shape, 1.0 if kind == "ones" else 0.0)
        weight_init, bias_init = _init.preset(self._effective_init())
        weight_shape = self._shapes.get("weight")
        ref = self._params.get("weight")
        wshape = ref.shape if ref is not None else (shape if kind == "weight" else None)
        if wshape is None and weight_shape is not None:
            wshape = tuple(weight_shape)
        fan_in, fan_out = self.fans(wshape if wshape is not None else shape)
        fn = weight_init if kind == "weight" else bias_init
        return np.asarray(fn(shape, fan_in, fan_out, gen), dtype=np.float64)

    def materialise(self, name: str, shape: tuple, like: Any) -> Parameter:
        """Create declared parameter ``name`` with its full ``shape`` on ``like``'s library,
        device and dtype (called by layers on their first input, under the creation lock)."""
        declared = self._shapes[name]
        for d, s in zip(declared, shape, strict=True):
            if d is not None and d != s:
                raise ArgumentError(f"{name}: declared shape {declared}, inferred {shape}")
        with _creation_lock:
            host = self._draw_host(name, tuple(shape), _init.generator())
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
        """The parameters, in order (a list; its ``missing`` attribute names the declared
        parameters that the first call has yet to create, which an optimiser refuses)."""
        out = _Parameters(p for _, p in self.named_parameters())
        out.missing = tuple(self._missing())
        return out

    def _missing(self, prefix: str = "") -> Iterator[str]:
        for name, p in self._params.items():
            if p is None:
                yield prefix + name
        for cname, child in self._children.items():
            if child is not None:
                yield from child._missing(f"{prefix}{cname}.")

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

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """(name, module) of this module (named ``prefix``) and every descendant, PyTorch's
        dotted names."""
        yield prefix, self
        for cname, child in self._children.items():
            if child is not None:
                yield from child.named_modules(f"{prefix}.{cname}" if prefix else cname)

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

    def _then(self, after: Module, x: Any) -> Any:
        """``after(self(x))`` computed as one step where this module has a joint form with
        ``after`` (:func:`fused`), else None: the caller runs the two."""
        return None

    def check_input(self, x: Any) -> None:
        """Refuse an input that the first layer would refuse (layers check dtype, number of
        dimensions and channels), before a first call moves or creates anything. A model
        whose forward is its ``net`` asks ``net``; a Sequential asks its first layer."""
        first = self._first_layer()
        if first is not None:
            first.check_input(x)

    def _first_layer(self) -> Module | None:
        if type(self).forward is Module.forward:
            return self._children.get("net")
        return None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.takes_array and args:
            require_array(args[0])
        if not self._placed and args:
            with _creation_lock:
                if not self._placed:
                    self.check_input(args[0])
                    self._place(args[0])
        if getattr(_calls, "depth", 0):
            try:
                if self._drafts and args:
                    self._draw_drafts(args[0])
                return self.forward(*args, **kwargs)
            except PortconvError as exc:
                _blame(exc, self)
                raise
        _calls.depth = 1  # the outermost call of a model
        try:
            if self._drafts and args:
                self._draw_drafts(args[0])
            out = self.forward(*args, **kwargs)
        except PortconvError as exc:
            _blame(exc, self)
            self._name_the_layer(exc)
            raise
        finally:
            _calls.depth = 0
        if self.training:
            self._settle_buffers()
        return out

    def _name_the_layer(self, exc: PortconvError) -> None:
        """Prefix the message of an error that a layer inside this model raised with the
        layer's name in the model (``net.7 (Linear): ...``)."""
        layer = getattr(exc, "_portconv_layer", None)
        if layer is None or layer is self or getattr(exc, "_portconv_named", False):
            return
        path = next((n for n, m in self.named_modules() if m is layer), None)
        if path and exc.args and isinstance(exc.args[0], str):
            exc.args = (f"{path} ({layer._repr_name()}): {exc.args[0]}",) + exc.args[1:]
            exc._portconv_named = True  # type: ignore[attr-defined]

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

    def _place(self, x: Any, *, first_call: bool = True) -> None:
        """Move parameters and buffers created or loaded before the first call to the library
        and device of ``x``; buffers untouched since construction also take its
        floating-point dtype. Parameters whose values the first call draws stay for it
        (:meth:`to` moves the values they show). A first call whose input is not a
        floating-point array moves nothing (the layers refuse it, and the model stays as it
        was)."""
        like = x.data if isinstance(x, Variable) else x
        try:
            _backend(like)
        except TypeError:
            return
        floating = _is_floating(like)
        if first_call and not floating:
            return
        for m in self.modules():
            for name, p in list(m._params.items()):
                if p is None:
                    continue
                if m._is_draft(name):
                    if not first_call:  # to(): the values shown move; the call still draws
                        host = np.asarray(_backend(p.data).adapter.to_numpy(p.data))
                        p.data = _host_to(host, like) if floating else _move(p.data, like)
                        m._drafts[name] = _Draft(p.data, _checksum(p.data))
                    continue
                m._drafts.pop(name, None)
                moved = _move(p.data, like)
                if moved is not p.data:
                    p.data = moved
            for name, b in list(m._buffers.items()):
                if b is None:
                    continue
                if floating and m._is_pending(name):
                    m.register_buffer(name, _host_to(m._pending[name].host, like))
                else:
                    m.register_buffer(name, _move(b, like))
            m._pending.clear()
        for m in self.modules():  # only now: a thread that sees it placed sees it all moved
            object.__setattr__(m, "_placed", True)

    def to(self, like: Any) -> Module:
        """Move every parameter and buffer to the library and device of the array ``like``
        (porting a model between frameworks). Each keeps its dtype, except those untouched
        since construction, which take ``like``'s floating-point dtype as a first call would
        (and whose values the first call still draws)."""
        require_array(like, "like")
        with _creation_lock:
            for m in self.modules():
                object.__setattr__(m, "_placed", False)
            self._place(like, first_call=False)
        return self

    def _same_library_as(self, data: Any, param: Any) -> None:
        """Refuse an input of another library than this layer's parameters, naming the fix
        (layers call this when the types differ, before computing)."""
        try:
            bx, bp = _backend(data), _backend(param)
        except TypeError:
            return
        a, b = bx.adapter, bp.adapter
        if a is b or a.absorbs(b) or b.absorbs(a):  # one call of one library (Dask takes NumPy)
            return
        raise ArrayTypeError(
            f"input: arrays of two libraries: the input is a {bx.name} array "
            f"({describe_type(data)}), but the parameters of this {self._repr_name()} are "
            f"{bp.name} arrays ({describe_type(param)}); move the model to the input's library "
            f"and device with model.to(x), or pass {bp.name} arrays"
        )

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

        Parameters
        ----------
        state : mapping of str to array
            PyTorch's names (``"net.0.weight"``). The names of a model whose layers sit in
            one child (the book's ``self.net``) are also accepted without that child's
            prefix (``"0.weight"``: the state dict of the book's plain ``nn.Sequential``),
            and names that all carry one extra leading prefix (``"module."``) without it.
        strict : bool
            Require every name of the model and nothing else.

        Raises
        ------
        ArgumentError
            A name, shape or dtype does not match; nothing has changed then.

        Notes
        -----
        Every name, shape and dtype is checked before anything changes, and the error names
        the wrong entry. Values move to the library, device and dtype of the model's
        parameters; before the first call (and for parameters untouched since
        construction), they keep their own library and dtype, and follow the first input's
        library and device.
        """
        slots = self._slots()
        state, renamed = _align_names(slots, state)
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
                + (f" (read {renamed})" if renamed else "")
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
            pending = m._is_draft(local) if kind == "param" else m._is_pending(local)
            if current is not None and not pending:
                cur = current.data if isinstance(current, Variable) else current
                if tuple(cur.shape) != host.shape:
                    raise ArgumentError(
                        f"state[{name!r}]: shape {host.shape} does not match the model's "
                        f"{tuple(cur.shape)}"
                    )
            elif kind == "param":  # not created yet, or untouched: the declared shape
                declared = m._shapes[local]
                if len(declared) != host.ndim or any(
                    d is not None and d != s for d, s in zip(declared, host.shape)
                ):
                    raise ArgumentError(
                        f"state[{name!r}]: shape {host.shape} does not match the declared "
                        f"{tuple('?' if d is None else d for d in declared)}"
                    )
            elif current is not None and tuple(current.shape) != host.shape:
                raise ArgumentError(
                    f"state[{name!r}]: shape {host.shape} does not match the model's "
                    f"{tuple(current.shape)}"
                )
            staged.append((m, local, kind, current, pending, value, host))
        for m, local, kind, current, pending, value, host in staged:
            if current is not None and not pending:
                cur = current.data if isinstance(current, Variable) else current
                new = _host_to(host.astype(np.dtype(_dtype_name(cur.dtype))), cur)
            else:  # a copy in the value's own library: never an alias of the caller's array
                new = _host_to(host, value)
                object.__setattr__(m, "_placed", False)
            (m._drafts if kind == "param" else m._pending).pop(local, None)
            if kind == "param":
                if current is not None:
                    current.data = new
                    current.zero_grad()
                else:
                    p = Parameter(new)
                    m._params[local] = p
                    object.__setattr__(m, local, p)
            else:
                m.register_buffer(local, new)
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
        print ``"<Layer> output shape:\\t <shape>"`` per layer, as the book does.

        Each layer is named as the framework it imitates names its class (Gluon's
        ``Conv2D``, ``Dense``, ``MaxPool2D``; PyTorch's ``Conv2d``, ``Linear``,
        ``MaxPool2d``; a lazy layer by the class it becomes, ``Conv2d``). ``like``: an array
        whose library and device to use (default NumPy float32). Returns the list of
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
        """``torch.nn``'s module tree: ``Name(extra)`` for a leaf, and for a module with
        children one ``(name): child`` line each, indented by two spaces."""
        extra = self.extra_repr()
        lines = extra.split("\n") if extra else []
        kids = [f"({n}): " + repr(c).replace("\n", "\n  ") for n, c in self.children()]
        name = self._repr_name()
        if not kids and len(lines) <= 1:
            return f"{name}({extra})"
        return name + "(\n  " + "\n  ".join(lines + kids) + "\n)"

    def _repr_name(self) -> str:
        return type(self).__name__

    def extra_repr(self) -> str:
        """The arguments :meth:`__repr__` shows inside the parentheses (as ``torch.nn``'s
        ``extra_repr``)."""
        return ""


def _align_names(slots: dict, state: Any) -> tuple[dict, str]:
    """``state`` under the model's names, and how they were read ("" when as given): the
    model's names all start with one child's name (``net.``) that the state's lack, or the
    state's names all start with one prefix (``module.``) that the model's lack, or both."""
    state = dict(state)
    names = set(slots)
    given = list(state)
    best_hits = sum(n in names for n in given)
    if best_hits == len(given):
        return state, ""

    def first(keys: Any) -> str:
        heads = {k.partition(".")[0] for k in keys}
        ok = len(heads) == 1 and all("." in k for k in keys)
        return heads.pop() + "." if ok else ""

    add, strip = first(names), first(given)
    if strip and any(n.startswith(strip) for n in names):
        strip = ""
    if add and any(n.startswith(add) for n in given):
        add = ""
    options = []
    if strip:
        options.append((lambda n: n[len(strip) :], f"with the prefix {strip!r} removed"))
    if add:
        options.append((lambda n: add + n, f"with the prefix {add!r} added"))
    if add and strip:
        options.append(
            (lambda n: add + n[len(strip) :], f"with the prefix {strip!r} replaced by {add!r}")
        )
    best, how = state, ""
    for rename, text in options:
        mapped = {rename(n): v for n, v in state.items()}
        hits = sum(n in names for n in mapped)
        if hits > best_hits:
            best, how, best_hits = mapped, text, hits
    return best, how


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
    """``np.savez`` written atomically (see :mod:`portconv._files`, the one home of writes)."""
    write_npz(path, arrays)


def load_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The arrays of a ``.npz`` file, checked before reading (see :mod:`portconv._files`);
    object arrays (which would need unpickling) are refused."""
    return read_npz(path)


def _joint(first: Module, second: Module, x: Any) -> Any:
    try:
        return first._then(second, x)
    except PortconvError as exc:
        _blame(exc, first)
        raise


def fused(first: Module, second: Module, x: Any) -> Any:
    """``second(first(x))``, computed as one step where the pair has a joint form: in
    evaluation mode without gradients, a convolution followed by a batch norm runs as one
    convolution with the normalisation folded into its weight and bias (where the weight is
    smaller than the output; see ``_Conv._then``). For blocks that call their layers from
    their own ``forward`` (the book's ``Residual``); :class:`Sequential` does it for each
    adjacent pair of its layers. The result is the two layers' within float rounding.

    Examples
    --------
    >>> import numpy as np
    >>> import portconv as pc
    >>> from portconv import nn
    >>> conv, bn = nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8)
    >>> x = np.ones((2, 3, 16, 16), np.float32)
    >>> y = bn(conv(x))  # settles both layers (placed, no lazy shapes left)
    >>> _ = conv.eval(), bn.eval()
    >>> with pc.autograd.no_grad():
    ...     y, z = nn.fused(conv, bn, x), bn(conv(x))
    >>> bool(np.allclose(y.data, z.data, atol=1e-6)), y.shape
    (True, (2, 8, 16, 16))
    """
    y = _joint(first, second, x)
    return second(first(x)) if y is None else y


class Sequential(Module):
    """Layers applied in order; children are named "0", "1", ... as in PyTorch.

    Parameters
    ----------
    *layers : Module
        The layers, in the order they run (Gluon's ``net.add(...)`` appends more).

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> net = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.Sigmoid())
    >>> net
    Sequential(
      (0): Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2))
      (1): Sigmoid()
    )
    >>> tuple(net(np.zeros((2, 1, 28, 28), np.float32)).shape)
    (2, 6, 28, 28)
    """

    summary_name = "Sequential"

    def __init__(self, *layers: Module) -> None:
        super().__init__()
        self.add(*layers)

    def add(self, *layers: Module) -> None:
        """Append layers (Gluon's ``net.add``)."""
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise ArrayTypeError(
                    f"layers[{i}]: expected a portconv.nn.Module, got {describe_type(layer)}"
                )
        for layer in layers:
            self.add_module(str(len(self._children)), layer)

    def forward(self, x: Any) -> Any:
        layers = list(self._children.values())
        i = 0
        while i < len(layers):  # each pair of layers with a joint form runs as one (fused)
            y = _joint(layers[i], layers[i + 1], x) if i + 1 < len(layers) else None
            x, i = (layers[i](x), i + 1) if y is None else (y, i + 2)
        return x

    def _first_layer(self) -> Module | None:
        return next((c for _, c in self.children()), None)

    @property
    def takes_array(self) -> bool:  # type: ignore[override]
        """As its first layer: a Sequential of portconv's layers refuses a non-array."""
        first = self._first_layer()
        return first is not None and first.takes_array

    def __getitem__(self, i: int) -> Module:
        return list(self._children.values())[i]

    def __len__(self) -> int:
        return len(self._children)
