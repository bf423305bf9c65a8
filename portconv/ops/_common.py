"""How every op runs: find the backend of its arrays, check them, bind them to a call
description, run the native or the generic kernel, and hand the result back in the caller's
array type (and, for :mod:`portconv.autograd`, a pullback for the gradient).

The pieces, in the order a call meets them::

    prepare(*arrays)          backend, namespace, the arrays as the standard's arrays
    Plan                      the call description (ops/_call.py) and how the caller's arrays
                              (unbatched, channels last, a flipped kernel) map onto the
                              kernels' batched, channels-first arrays
    FastLane                  a call that repeats an earlier one reuses its Plan
    forward(plan, ...)        native kernel where NativePath.can_run(call) is True, else generic
                              (as the adapter runs generic kernels: Adapter.compiled)
    vjp(plan, ...)            the same, plus a pullback: the native backward where the adapter
                              offers one (NativePath.vjp), else the op's generic rule

Each op (convolution, transposed convolution, pooling, adaptive pooling) is one :class:`Op`:
its generic forward and its generic backward, side by side in the op's module.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .._config import check_path, current_path, memory_budget
from .._dispatch import Backend, _is_scalar, _owner, _owner_by_type, backend_of
from ..errors import ArgumentError, ArrayTypeError, describe_type

_FLOAT_KINDS = "real floating"


def prepare(*arrays: Any, names: tuple[str, ...] = ()) -> tuple[Backend, Any, list[Any]]:
    """``(backend, xp, arrays as standard arrays)`` for the arrays of one call.

    ``names`` (one per array, when given) lets a missing or scalar argument be named: None is
    allowed only for ``"bias"``, and no argument may be a Python or NumPy scalar."""
    for name, a in zip(names, arrays):
        if (a is None and name != "bias") or (a is not None and _is_scalar(a)):
            what = "None" if a is None else f"a {describe_type(a)} scalar ({a!r})"
            optional = " or None" if name == "bias" else ""
            raise ArrayTypeError(f"{name}: expected an array{optional}, got {what}")
    be = backend_of(*arrays)
    ad = be.adapter
    std = []
    for i, a in enumerate(arrays):
        try:
            std.append(None if a is None else ad.to_standard(a))
        except ArrayTypeError as exc:  # an array the adapter refuses: say which argument
            if i < len(names):
                raise ArrayTypeError(f"{names[i]}: {exc}") from None
            raise
    return be, ad.namespace(), std


#: (type, dtype) pairs known to be real floating (``xp.isdtype`` costs about a microsecond)
_float_dtypes: set = set()


def require_float(xp: Any, name: str, x: Any) -> None:
    """Raise a clear error unless ``x`` has a real floating dtype."""
    dtype = x.dtype
    key = (type(dtype), dtype)  # the type first: dtypes of two libraries never compare
    try:
        if key in _float_dtypes:
            return
    except TypeError:  # an unhashable dtype: ask every time
        pass
    if xp.isdtype(dtype, _FLOAT_KINDS):
        with contextlib.suppress(TypeError):  # unhashable: not remembered
            _float_dtypes.add(key)
        return
    raise ArrayTypeError(
        f"{name}: expected a real floating-point array (float16, bfloat16, float32 or "
        f"float64), got dtype {x.dtype}; cast it first, for example with "
        f"x.astype('float32') (NumPy, CuPy, MXNet) or x.float() (PyTorch)"
    )


def require_ndim(name: str, x: Any, allowed: tuple[int, ...], meaning: str) -> None:
    if x.ndim not in allowed:
        allowed_txt = " or ".join(str(n) for n in allowed)
        raise ArgumentError(
            f"{name}: expected a {allowed_txt}-dimensional array ({meaning}), "
            f"got shape {tuple(x.shape)} ({x.ndim} dimensions)"
        )


def same_dtype(name: str, a: Any, x: Any) -> None:
    """Raise a clear error unless ``a`` (a weight or bias) has the input ``x``'s dtype."""
    if a.dtype != x.dtype:
        raise ArrayTypeError(
            f"{name}: dtype {a.dtype} differs from the input's dtype {x.dtype}; cast one of "
            f"them so that input, weight and bias share one floating dtype"
        )


# -- ops and their dispatch ------------------------------------------------------------------------


@dataclass(frozen=True)
class Op:
    """One op written once: ``forward(xp, call, *arrays) -> y`` and ``backward(xp, call,
    arrays, y, g, needs) -> grads`` (one gradient per array, None where ``needs`` is False),
    on batched, channels-first standard arrays described by ``call``.

    ``recorded`` (optional): the forward to use where the library's own autograd records the
    call (``Adapter.records``), when ``forward`` uses operations whose framework gradient
    differs from portconv's rule (``maximum`` splits a tie's gradient; max pooling routes it
    to the first maximum). ``differentiated`` (optional): the forward to use where portconv's
    autograd keeps the result for ``backward`` (:func:`vjp`), when a result laid out for the
    backward is computed differently (convolution: channels-major, see
    ``portconv.ops.conv._by_example``)."""

    name: str
    forward: Callable[..., Any]
    backward: Callable[..., tuple]
    recorded: Callable[..., Any] | None = None
    differentiated: Callable[..., Any] | None = None

    def generic(
        self, adapter: Any, arrays: Any, differentiated: bool = False
    ) -> Callable[..., Any]:
        """The generic forward for these arrays (``differentiated``: for :func:`vjp`)."""
        if self.recorded is not None and adapter.records(arrays):
            return self.recorded
        if differentiated and self.differentiated is not None:
            return self.differentiated
        return self.forward


def _verdict(native: Any, call: Any) -> Any:
    """True when ``native`` can run ``call``, else the reason why not (a string)."""
    if native is None:
        return "has no native kernel"
    ok = native.can_run(call)
    if ok is True:
        return True
    return ok if isinstance(ok, str) and ok else "cannot compute this call exactly"


def choose(be: Backend, call: Any, path: str | None) -> Any:
    """The adapter's :class:`~portconv.backends.NativePath` that runs ``call``, or None for
    the generic kernel.

    ``path`` (or, when None, the ``portconv.config(path=...)`` in force) is "auto": native
    where the adapter has a path whose ``can_run(call)`` is True; "generic": never native;
    "native": the native path, or an error giving the adapter's reason why not."""
    mode = current_path() if path is None else check_path(path)
    if mode == "generic":
        return None
    native = be.adapter.native.get(call.op)
    verdict = _verdict(native, call)
    if verdict is True:
        return native
    if mode == "native":
        raise ArgumentError(
            f"path: 'native' was asked for, but the {be.name} backend {verdict} for "
            f"{call.op} ({_describe(call)}); use path='auto' or 'generic'"
        )
    return None


def _describe(call: Any) -> str:
    fields = ("size", "kernel", "stride", "padding", "dilation", "groups", "mode", "out")
    parts = [f"{f}={getattr(call, f)}" for f in fields if hasattr(call, f)]
    return ", ".join(parts + [f"dtype={call.dtype}"])


def forward(plan: Plan, arrays: list[Any], path: str | None) -> Any:
    """The op's result for batched, channels-first standard ``arrays``."""
    be, call = plan.be, plan.call
    if 0 in call.out_shape:  # nothing to compute (native kernels refuse some empty shapes)
        xp = be.adapter.namespace()
        y = xp.zeros(call.out_shape, dtype=call.dtype, device=be.device)
        # the sum of none of its elements (0) links the result to every floating array, so
        # that a framework's own autograd finds each (with a zero gradient)
        for a in arrays:
            if (
                a is not None
                and a.ndim
                and xp.isdtype(a.dtype, _FLOAT_KINDS)
                and a.dtype == y.dtype
            ):
                y = y + xp.sum(a[..., :0])
        return y
    native = choose(be, call, path)
    if native is not None:
        return native.run(call, *arrays)
    generic = be.adapter.compiled(plan.op.generic(be.adapter, arrays), (0, 1))
    return generic(be.adapter.namespace(), call, *arrays)


def vjp(plan: Plan, arrays: list[Any], needs: tuple[bool, ...], path: str | None):
    """``(y, pullback)``: the op's result and ``pullback(g)``, which maps the gradient of the
    result to one gradient per array (None where ``needs`` is False).

    The native backward runs where the chosen native path offers one (``NativePath.vjp``);
    otherwise the value comes from :func:`forward` and the gradient from the op's generic
    rule, which is the reference every native backward is tested against."""
    be, call = plan.be, plan.call
    xp = be.adapter.namespace()
    if 0 in call.out_shape:
        y = xp.zeros(call.out_shape, dtype=call.dtype, device=be.device)
        return y, lambda g: tuple(
            xp.zeros_like(a) if n and a is not None else None for a, n in zip(arrays, needs)
        )
    native = choose(be, call, path)
    if native is not None and native.vjp is not None:
        return native.vjp(call, arrays, needs)
    ad = be.adapter
    if native is not None:
        y = native.run(call, *arrays)
    else:
        y = ad.compiled(plan.op.generic(ad, arrays, differentiated=True), (0, 1))(xp, call, *arrays)
    backward = ad.compiled(plan.op.backward, (0, 1, 5))
    return y, lambda g: backward(xp, call, arrays, y, g, needs)


# -- binding the caller's arrays -------------------------------------------------------------------


def _inverse(perm: tuple[int, ...]) -> tuple[int, ...]:
    inv = [0] * len(perm)
    for i, p in enumerate(perm):
        inv[p] = i
    return tuple(inv)


@dataclass(frozen=True)
class Plan:
    """A checked call: the op, the backend, the call description, and how the caller's arrays
    map onto the kernels' (array 0 is the input, batched and channels first in the kernels;
    array 1, where there is one, the weight, ``(C_out, C_in/groups, *kernel)``).

    ``batched``: the caller's input has a batch axis; ``last``: the caller's input and weight
    are channels last (input ``(N, *spatial, C)``, weight ``(*kernel, C_in/groups, C_out)``);
    ``flip``: the caller's kernel is flipped along its spatial axes (true convolution)."""

    op: Op
    be: Backend
    call: Any
    batched: bool = True
    last: bool = False
    flip: bool = False

    @property
    def plain(self) -> bool:
        return self.batched and not self.last and not self.flip

    def _perms(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        d = self.call.d
        x_perm = (0, d + 1) + tuple(range(1, d + 1))  # (N, *sp, C) -> (N, C, *sp)
        w_perm = (d + 1, d) + tuple(range(d))  # (*k, Ci, Co) -> (Co, Ci, *k)
        return x_perm, w_perm

    def inputs(self, xp: Any, arrays: list[Any]) -> list[Any]:
        """The caller's standard arrays as the kernels take them."""
        if self.plain:
            return arrays
        out = list(arrays)
        x_perm, w_perm = self._perms()
        x = out[0]
        if not self.batched:
            x = xp.expand_dims(x, axis=0)
        if self.last:
            x = xp.permute_dims(x, x_perm)
        out[0] = x
        if len(out) > 1 and out[1] is not None:
            w = out[1]
            if self.last:
                w = xp.permute_dims(w, w_perm)
            if self.flip:
                w = xp.flip(w, axis=tuple(range(2, self.call.d + 2)))
            out[1] = w
        return out

    def output(self, xp: Any, y: Any) -> Any:
        """A kernel's result (or the gradient of array 0) in the caller's layout."""
        if self.plain:
            return y
        if self.last:
            y = xp.permute_dims(y, _inverse(self._perms()[0]))
        if not self.batched:
            y = y[0, ...]
        return y

    def output_grad(self, xp: Any, g: Any) -> Any:
        """The gradient of the caller's result, as the kernels' result is laid out."""
        if self.plain:
            return g
        if not self.batched:
            g = xp.expand_dims(g, axis=0)
        if self.last:
            g = xp.permute_dims(g, self._perms()[0])
        return g

    def input_grads(self, xp: Any, grads: tuple) -> tuple:
        """The kernels' gradients of their arrays, for the caller's arrays."""
        if self.plain:
            return grads
        out = list(grads)
        if out[0] is not None:
            out[0] = self.output(xp, out[0])
        if len(out) > 1 and out[1] is not None:
            gw = out[1]
            if self.flip:
                gw = xp.flip(gw, axis=tuple(range(2, self.call.d + 2)))
            if self.last:
                gw = xp.permute_dims(gw, _inverse(self._perms()[1]))
            out[1] = gw
        return tuple(out)


def run(plan: Plan, arrays: tuple, path: str | None) -> Any:
    """Run a bound call on the caller's arrays; the result in the caller's array type."""
    ad = plan.be.adapter
    xp = ad.namespace()
    std = [None if a is None else ad.to_standard(a) for a in arrays]
    y = forward(plan, plan.inputs(xp, std), path)
    return ad.from_standard(plan.output(xp, y), arrays[0])


# -- repeated calls --------------------------------------------------------------------------------


def _typed(value: Any) -> Any:
    """``value`` as a key that tells ``True``, ``1`` and ``1.0`` apart (they compare equal,
    but only one of them may be a valid argument), sequences included."""
    if isinstance(value, (tuple, list)):
        return (type(value), tuple(_typed(v) for v in value))
    return (type(value), value)


class FastLane:
    """Calls that repeat an earlier call's argument values and types, array types, shapes,
    dtypes and devices (under the same memory budget) reuse its :class:`Plan` instead of
    checking and normalising everything again: on the book's 6x8 image that Python is most of
    a native call's time.

    Arguments are compared with their exact types, so ``stride=True`` or ``stride=1.0`` after
    a valid ``stride=1`` is checked, and refused, like any new call. Only plans that passed
    every check are stored. The table is bounded (cleared when full) and safe to use from
    several threads."""

    def __init__(self, size: int = 512) -> None:
        self._entries: dict = {}
        self._size = size

    def key(self, arrays: tuple, args: tuple) -> Any:
        """The key of a call, or None where one cannot be made (an argument that is no array
        of a registered library, an unhashable argument)."""
        parts = []
        for a in arrays:
            if a is None:
                parts.append(None)
                continue
            ad = _owner_by_type.get(type(a)) or _owner(a)
            if ad is None:  # no array: the checks will say so
                return None
            parts.append((type(a), a.shape, a.dtype, ad.device(a)))
        key = (tuple(parts), _typed(args), memory_budget())
        try:
            hash(key)
        except TypeError:
            return None
        return key

    def get(self, key: Any) -> Plan | None:
        return None if key is None else self._entries.get(key)

    def put(self, key: Any, plan: Plan) -> None:
        if key is None:
            return
        if len(self._entries) >= self._size:
            self._entries.clear()
        self._entries[key] = plan


#: every op's repeated calls
LANE = FastLane()


def bound(arrays: tuple, args: tuple, check: Callable[[], Plan]) -> Plan:
    """The :class:`Plan` of a call: from :data:`LANE` when an equal call was checked before,
    else ``check()`` (which checks everything and raises on a bad argument), remembered."""
    key = LANE.key(arrays, args)
    plan = LANE.get(key)
    if plan is None:
        plan = check()
        LANE.put(key, plan)
    return plan
