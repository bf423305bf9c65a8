"""The adapter interface that every array library's module implements.

An adapter answers, for one array library, what the array API standard cannot: which arrays
are its own (:meth:`Adapter.owns`), its namespace (:meth:`Adapter.namespace`), moving data
(NumPy, DLPack, devices), and, optionally, **native kernels**: ``adapter.native`` maps an op
name to a :class:`NativePath`.

Native kernels
--------------
Every op call is first checked and described by one immutable *call description* (see
``portconv/ops/_call.py``): a ``ConvCall`` for ``"conv"`` and ``"conv_transpose"``, a
``PoolCall`` for ``"max_pool"`` and ``"avg_pool"``, an ``AdaptiveCall`` for
``"adaptive_max_pool"`` and ``"adaptive_avg_pool"`` (global pooling is adaptive pooling to
size 1). The arrays a kernel receives are the library's standard arrays (``to_standard``),
batched and channels first, and the description says everything else: ``call.stride``,
``call.padding`` (the (before, after) pairs to apply, SAME resolved), ``call.dilation``,
``call.groups``, ``call.out`` (the output's spatial size), ``call.mode`` (pooling's rounding:
"floor", "ceil" = PyTorch's ``ceil_mode``, "full" = MXNet's convention), ``call.count``
(average pooling's divisor: "padded" or "input"), ``call.applied`` (pooling's padding plus what
rounded-up windows reach past it), ``call.dtype``, ``call.device``.

The newer families have call descriptions of their own (same file): ``"pad"`` (``PadCall``:
``call.mode``, ``call.padding``, ``call.value``; array ``(x,)``), ``"max_unpool"``
(``UnpoolCall``; arrays ``(x, indices)``, ``call.out`` the output size),
``"lp_pool"`` (``LpPoolCall``: ``call.p``, ``call.convention`` and ``call.pool``, the window's
``PoolCall``), ``"fractional_max_pool"`` (``FractionalCall``; arrays ``(x, samples)``),
``"deform_conv"`` (``DeformCall``; arrays ``(x, offset, w, b, mask)``). A ``PoolCall`` with
``call.indices`` is the op ``"max_pool_with_indices"``, one with ``call.integer`` the op
``"max_pool_integer"``, an ``AdaptiveCall`` with ``call.indices``
``"adaptive_max_pool_with_indices"``; average pooling's ``call.divisor`` (PyTorch's
``divisor_override``) is None or the number every window divides by. The ops with indices
return ``(values, indices)`` (int64, flat per ``(n, c)`` plane) from ``run`` and ``vjp``.

An entry ``NativePath(can_run, run, vjp=None)``:

* ``can_run(call)`` returns True when ``run`` computes exactly what portconv's generic kernel
  computes for ``call``, else a short reason (a string, shown to the user when
  ``path="native"`` cannot be honoured: "pads asymmetrically", "has no float16 kernel").
* ``run(call, *arrays)`` returns the result: ``(x,)`` for pooling, ``(x, w, b)`` for
  convolutions (``b`` may be None).
* ``vjp(call, arrays, needs)`` (optional) is the **native backward**: it runs the forward so
  that the library's own backward kernels can follow and returns ``(y, pullback)``;
  ``pullback(g)`` maps the result's gradient to one gradient per array (None where
  ``needs[i]`` is False). ``portconv.autograd`` uses it where ``can_run(call)`` is True;
  without it, the value comes from ``run`` and the gradient from portconv's generic rule. A
  library with autograd writes it once for every op, by recording ``run`` (see
  ``native_vjp`` in ``backends/torch.py`` and ``backends/mxnet.py``).

The generic kernels are the reference: every native path and native backward is tested
against them (``tests/test_native.py``), on every argument combination the forward accepts.

A library that compiles whole programs may run the generic kernels compiled:
:meth:`Adapter.compiled` receives each op's generic forward or backward and returns it as the
library runs it (``jax.jit`` of it on JAX, the kernel itself elsewhere).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from ..errors import ArgumentError

_DEVICE_TEXT = re.compile(r"^([a-z][a-z0-9_]*?)(?::(\d+)|\((\d+)\))?$")


def split_device(text: str) -> tuple[str, int | None]:
    """A device string's kind and index: ``"cuda:1"`` -> ``("cuda", 1)``, ``"cpu"`` ->
    ``("cpu", None)``; MXNet's spelling ``"gpu(0)"`` is read too. Anything else is an
    :class:`~portconv.ArgumentError` naming the argument ``device``.

    Examples
    --------
    >>> from portconv.backends._adapter import split_device
    >>> split_device("cuda:1"), split_device(" CPU "), split_device("gpu(0)")
    (('cuda', 1), ('cpu', None), ('gpu', 0))
    """
    m = _DEVICE_TEXT.match(text.strip().lower())
    if m is None:
        raise ArgumentError(
            f"device: expected a device such as 'cpu', 'cuda', 'cuda:1' or 'gpu:0', got {text!r}"
        )
    index = m.group(2) or m.group(3)
    return m.group(1), None if index is None else int(index)


@dataclass(frozen=True)
class NativePath:
    """A native kernel for one op: ``can_run(call)`` (True, or the reason it cannot),
    ``run(call, *arrays)`` (the result), and optionally ``vjp(call, arrays, needs)`` (the
    result and a pullback computing the gradient with the library's own backward kernels).
    See the module docstring for the call descriptions and the arrays' layout."""

    can_run: Callable[[Any], bool | str]
    run: Callable[..., Any]
    vjp: Callable[..., tuple[Any, Callable[[Any], tuple]]] | None = None


class Adapter:
    """Base class of the adapters.

    Subclasses set ``name`` (the backend name users type), ``module`` (the top-level module
    of the library, used to recognise its arrays without importing it) and implement the
    methods below. An instance is shared by every call: keep it stateless apart from caches
    guarded for threads.
    """

    #: the name users type: ``--backend numpy``, ``PORTCONV_BACKENDS=torch``
    name: ClassVar[str] = ""
    #: the top-level import name of the library
    module: ClassVar[str] = ""
    #: the distribution name used to report the version
    distribution: ClassVar[str] = ""

    def __init__(self) -> None:
        #: op name -> NativePath (see the module docstring); empty: generic kernels only
        self.native: dict[str, NativePath] = {}

    # -- recognising arrays -------------------------------------------------------------
    def imported(self) -> bool:
        """True when the library has been imported by somebody (we never import it just
        to ask whether an object belongs to it)."""
        return self.module in sys.modules

    def owns(self, x: Any) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError

    def absorbs(self, other: Adapter) -> bool:
        """Whether arrays of ``other`` may join this library's arrays in one call, taken in
        by :meth:`to_standard` (Dask absorbs NumPy and CuPy, the libraries of its chunks).
        No other mixing is allowed."""
        return False

    #: True for libraries of lazy, chunked arrays (Dask): a call never holds a whole array,
    #: so the ops hold whole arrays only to a cluster-sized limit (each chunk's call checks
    #: its own sizes against the memory budget)
    chunked: ClassVar[bool] = False

    # -- what it is -----------------------------------------------------------------------
    @property
    def version(self) -> str:
        mod = sys.modules.get(self.module) or __import__(self.module)
        return str(getattr(mod, "__version__", "unknown"))

    def available(self) -> bool:
        """True when the library can be imported here (and, for GPU libraries, has a
        device to run on)."""
        try:
            __import__(self.module)
        except Exception:
            return False
        return True

    def unavailable_reason(self) -> str:
        try:
            __import__(self.module)
        except Exception as exc:  # report the real reason
            return f"{self.module} cannot be imported: {type(exc).__name__}: {exc}"
        return ""

    # -- the standard's view of an array ----------------------------------------------------
    def namespace(self, x: Any = None) -> Any:  # pragma: no cover - abstract
        """The array API namespace for this library's arrays."""
        raise NotImplementedError

    def to_standard(self, x: Any) -> Any:
        """The array as the namespace's functions expect it (MXNet's legacy ``nd`` arrays
        become ``mx.np`` arrays here, without a copy). Identity for most libraries."""
        return x

    def from_standard(self, y: Any, like: Any) -> Any:
        """The result in the caller's array type (the inverse of :meth:`to_standard`)."""
        return y

    def device(self, x: Any) -> Any:
        from array_api_compat import device

        return device(x)

    def devices(self) -> list[Any]:
        """The devices this library can put arrays on here."""
        return [self.default_device()]

    def default_device(self) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def parse_device(self, device: Any) -> Any:
        """This library's device for ``device``, checked to exist here.

        The one place a device string is read (the command line's ``--device``,
        :func:`portconv.convert`, the data loaders): adapters of libraries with accelerators
        override it. This base version serves libraries that run on the CPU: ``"cpu"`` (or
        ``"cpu:0"``) is the default device, and a device's own name (``"device1"`` for
        array-api-strict's ``Device('device1')``) is that device.

        Parameters
        ----------
        device : None, str or a device object of this library
            None means the library's default device and is returned as None.

        Returns
        -------
        object or None
            The library's device object.

        Raises
        ------
        ArgumentError
            Naming ``device``: a string that names no device, an accelerator this build or
            machine does not have, or an object that is not one of this library's devices.

        Examples
        --------
        >>> import portconv as pc
        >>> pc.get_adapter("numpy").parse_device("cpu")
        'cpu'
        """
        if device is None:
            return None
        known = self.devices()
        if not isinstance(device, str):
            for d in known:
                if d is device or _same_device(d, device):
                    return d
            raise ArgumentError(
                f"device: {device!r} is not one of {self.name}'s devices here "
                f"({self._device_list(known)})"
            )
        wanted = device.strip().lower()
        for d in known:
            if wanted in (str(d).lower(), *(q.lower() for q in re.findall(r"'([^']*)'", str(d)))):
                return d
        kind, index = split_device(device)
        if kind == "cpu" and not index:
            return self.default_device()
        if kind in ("cuda", "gpu"):
            raise ArgumentError(
                f"device: {device!r} asked for, but the {self.name} backend runs on the CPU "
                f"only ({self._device_list(known)})"
            )
        raise ArgumentError(
            f"device: {device!r} is not a device of {self.name} here ({self._device_list(known)})"
        )

    def _device_list(self, known: list[Any]) -> str:
        return "its devices: " + ", ".join(map(str, known))

    # -- moving data -----------------------------------------------------------------------
    def to_numpy(self, x: Any):
        import numpy as np

        return np.asarray(x)

    def from_numpy(self, a: Any, device: Any = None, like: Any = None) -> Any:
        """A new array of this library holding a NumPy array's values, on ``device``, or on
        the device of ``like``, or on the default device."""
        xp = self.namespace()
        if device is None and like is not None:
            device = self.device(like)
        out = xp.asarray(a, device=device) if device is not None else xp.asarray(a)
        return self.from_standard(out, like) if like is not None else out

    # -- sharing memory through DLPack -----------------------------------------------------
    #: the names ``portconv.convert(x, to=...)`` accepts for this library
    targets: ClassVar[tuple[str, ...]] = ()

    #: False for libraries whose arrays are immutable (JAX): their memory is shared only with
    #: importers whose views are read-only (``dlpack_views_read_only``), else copied
    dlpack_writable: ClassVar[bool] = True
    #: True where the views :meth:`import_dlpack` makes of read-only memory are read-only
    #: (NumPy from 2.1, which honours DLPack's read-only flag)
    dlpack_views_read_only: ClassVar[bool] = False

    def dlpack_source(self, x: Any) -> Any:
        """``x`` as an object with ``__dlpack__``/``__dlpack_device__`` that another library
        can import without a copy, or None when this library cannot share it."""
        return x if hasattr(x, "__dlpack__") else None

    def import_dlpack(self, obj: Any, target: str) -> Any:
        """An array of this library viewing the memory of ``obj`` (a DLPack producer); raises
        (``BufferError``, ``TypeError``, ...) when it cannot, and the caller copies."""
        return self.namespace().from_dlpack(obj)

    def import_numpy(self, a: Any, device: Any, target: str) -> Any:
        """A new array of this library (variant ``target``) holding a NumPy array's values."""
        return self.from_numpy(a, device=device)

    def records(self, arrays: Any) -> bool:
        """Whether the library's own autograd records operations on ``arrays`` now (torch:
        one requires grad under grad mode; MXNet: ``autograd.record()``): the generic
        kernels then use only operations whose framework gradient is portconv's rule (max
        pooling's ties to the first maximum), not merely the fastest. False for libraries
        without autograd."""
        return False

    # -- whole programs ----------------------------------------------------------------------
    def compiled(self, fn: Callable[..., Any], static: tuple[int, ...]) -> Callable[..., Any]:
        """A generic kernel ``fn`` (an op's forward or backward) as this library runs it:
        ``fn`` itself, op by op, for most libraries. A library that compiles whole programs
        (JAX) returns it compiled, once per value of the arguments at positions ``static``
        (the namespace, the call description, which gradients are needed) and of the memory
        budget in force; the arrays are its arguments."""
        return fn

    def settle(self, arrays: list[Any]) -> list[Any]:
        """The arrays, computed where the library is lazy: training calls this on what it
        keeps from one step to the next (a loss and the gradients after ``backward``, the
        parameters after an optimiser step, running statistics), so the next step does not
        recompute the whole history. Identity for eager libraries; Dask persists them
        together (shared work is computed once)."""
        return arrays

    def run_context(self) -> Any:
        """A context manager in which whole programs (training, evaluation) run on this
        library: one that makes scalars (0-d arrays, a loss) work where the library needs a
        mode for them. Nothing for most libraries."""
        import contextlib

        return contextlib.nullcontext()

    def __repr__(self) -> str:
        return f"<portconv adapter {self.name!r}>"


def _same_device(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:  # a device type whose == refuses strangers
        return False
