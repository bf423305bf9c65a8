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

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar


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

    def named_device(self, kind: str, index: int) -> Any:
        """The device the command line's ``--device`` names (``kind`` "cpu" or "gpu", and its
        number), or None: the library's default (raise where there is no such device)."""
        return None

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
