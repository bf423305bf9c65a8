"""JAX adapter: ``jax.Array`` (CPU, GPU, TPU), concrete or traced.

The namespace is ``jax.numpy`` itself, which implements the array API standard. Every op
works on concrete arrays and on tracers alike (under ``jax.jit``, ``jax.grad``,
``jax.vmap``): the generic path only slices, concatenates and reduces, and the native kernels
below are ``jax.lax`` primitives that JAX differentiates, batches and compiles. A tracer has
no device (the transformation places the computation): :meth:`JaxAdapter.device` gives None
for it, which matches the device of any concrete array in the same call.

64-bit floats need JAX's 64-bit mode (``jax.config.update("jax_enable_x64", True)`` at the
start of the program, or ``JAX_ENABLE_X64=1`` in the environment). Without it JAX would store
float64 data as float32 without a word, so :meth:`JaxAdapter.from_numpy` refuses float64 data
then, saying how to turn the mode on; portconv never changes that global setting itself.

Memory is shared through DLPack: JAX views NumPy and PyTorch memory (writes there show
through), and NumPy views JAX memory read-only. A PyTorch tensor would be a writable view of
an array that JAX takes to be immutable (torch ignores DLPack's read-only flag), so JAX ->
PyTorch copies (see :attr:`JaxAdapter.dlpack_writable`).
"""

from __future__ import annotations

import sys
from typing import Any

from ..errors import ArgumentError, ArrayTypeError
from ._adapter import Adapter, split_device


def _jax():
    import jax

    return jax


def x64_enabled() -> bool:
    """Whether JAX's 64-bit mode is on (it decides whether float64 arrays exist)."""
    return bool(_jax().config.jax_enable_x64)


#: 64-bit dtypes that JAX stores in 32 bits unless its 64-bit mode is on
_WIDE = {"float64": "float32", "complex128": "complex64", "int64": "int32", "uint64": "uint32"}


def _require_representable(a: Any) -> None:
    """Refuse host data that JAX would narrow silently (64-bit mode off): float64 always
    (it would lose precision), 64-bit integers only when a value does not fit 32 bits."""
    import numpy as np

    narrow = _WIDE.get(a.dtype.name)
    if narrow is None or x64_enabled():
        return
    if a.dtype.kind in "iu" and (
        a.size == 0 or (np.iinfo(narrow).min <= a.min() and a.max() <= np.iinfo(narrow).max)
    ):
        return  # every value fits: JAX's int32 holds exactly the same numbers
    raise ArrayTypeError(
        f"dtype: {a.dtype.name} data needs JAX's 64-bit mode, which is off (JAX would store it "
        f"as {narrow} without a word); turn it on at the start of the program with "
        f"jax.config.update('jax_enable_x64', True) or JAX_ENABLE_X64=1, or cast the data to "
        f"{narrow} first"
    )


class JaxAdapter(Adapter):
    name = "jax"
    module = "jax"
    distribution = "jax"

    targets = ("jax",)

    #: JAX arrays are immutable: another library may view their memory only where its views
    #: honour DLPack's read-only flag (NumPy's and array-api-strict's do, PyTorch's do not)
    dlpack_writable = False
    #: nothing writes through a JAX array
    dlpack_views_read_only = True

    def __init__(self) -> None:
        super().__init__()
        self._compiled: dict = {}  # generic kernel -> its jax.jit (see compiled())
        self.native.update(native_conv_paths())
        self.native.update(native_pool_paths())
        self.native.update(native_activation_paths())

    # -- recognising arrays
    def owns(self, x: Any) -> bool:
        jax = sys.modules.get("jax")
        # jax.Array is the type of concrete arrays and the ABC that every tracer registers with
        return jax is not None and isinstance(x, jax.Array)

    def records(self, arrays: Any) -> bool:
        # a tracer may be differentiated (jax.grad, jax.vjp): the generic kernels then use
        # the tie-exact maximum, since the derivative of jnp.maximum splits ties evenly
        import jax

        return any(isinstance(a, jax.core.Tracer) for a in arrays)

    def namespace(self, x: Any = None) -> Any:
        import jax.numpy as jnp

        return jnp

    # -- devices
    def device(self, x: Any) -> Any:
        try:
            return x.device
        except AttributeError:  # a tracer: the transformation decides where it runs
            return None

    def default_device(self) -> Any:
        jax = _jax()
        chosen = jax.config.jax_default_device
        if chosen is None:
            return jax.devices()[0]
        return jax.devices(chosen)[0] if isinstance(chosen, str) else chosen

    def parse_device(self, device: Any) -> Any:
        """A JAX device for ``"cpu"``, ``"cpu:N"``, ``"gpu:N"``/``"cuda:N"`` or a device
        object, checked to exist here (``jax.devices(platform)``)."""
        if not isinstance(device, str):
            return super().parse_device(device)
        kind, index = split_device(device)
        platform = "gpu" if kind in ("gpu", "cuda") else kind
        try:
            found = _jax().devices(platform)
        except RuntimeError:  # no backend of that platform here
            found = []
        if (index or 0) >= len(found):
            have = ", ".join(str(d) for d in self.devices())
            raise ArgumentError(
                f"device: {device!r} asked for, but JAX has no {platform} device {index or 0} "
                f"here (it has {have})"
            )
        return found[index or 0]

    def devices(self) -> list[Any]:
        jax = _jax()
        devs = list(jax.devices())
        if devs[0].platform != "cpu":
            devs += list(jax.devices("cpu"))
        return devs

    # -- moving data
    def to_numpy(self, x: Any):
        import numpy as np

        return np.asarray(x)

    def from_numpy(self, a: Any, device: Any = None, like: Any = None) -> Any:
        import jax.numpy as jnp
        import numpy as np

        if device is None and like is not None:
            device = self.device(like)
        a = np.asarray(a)
        _require_representable(a)
        return jnp.array(a, copy=True, device=device)  # a new buffer, never the host's memory

    def import_dlpack(self, obj: Any, target: str) -> Any:
        return _jax().dlpack.from_dlpack(obj)

    # -- whole programs
    def compiled(self, fn: Any, static: tuple[int, ...]) -> Any:
        """The generic kernel ``fn`` compiled by ``jax.jit`` as one XLA program (op by op,
        JAX would compile and dispatch each of the dozens of slices, concatenations and
        products on its own): compiled once per value of the ``static`` arguments and of the
        memory budget in force (which decides the kernel's tiles), inlined into the
        caller's program under an outer ``jax.jit``."""
        key = (fn, static)
        jitted = self._compiled.get(key)
        if jitted is None:
            from portconv._config import config

            def within(budget: int, *args: Any) -> Any:
                with config(memory_budget=budget):
                    return fn(*args)

            jitted = _jax().jit(within, static_argnums=(0,) + tuple(i + 1 for i in static))
            self._compiled[key] = jitted
        from portconv._config import memory_budget

        return lambda *args: jitted(memory_budget(), *args)


# -- native kernels: jax.lax, and jax.vjp for their backward ---------------------------------------


def _compiled(fn):
    """``fn(call, *arrays)`` compiled once per call description (a static argument: the
    descriptions are frozen dataclasses, so equal calls share one executable). Under an
    outer ``jax.jit`` it is inlined into the caller's program."""
    compiled: list = []

    def run(call, *arrays):
        if not compiled:
            compiled.append(_jax().jit(fn, static_argnums=0))
        return compiled[0](call, *arrays)

    run.__name__ = run.__qualname__ = getattr(fn, "__name__", "run")
    run.__doc__ = fn.__doc__
    return run


def native_vjp(fn):
    """The native backward of a native forward ``fn(call, *arrays)``: ``jax.vjp`` of it, so
    JAX's own transpose rules (``conv_general_dilated``'s, ``reduce_window``'s
    select-and-scatter) compute the gradients. The forward runs compiled; the pullback is one
    compiled program per call description and set of arrays differentiated, in which XLA
    keeps of the forward only what the gradients read (nothing, for a convolution)."""
    forward = _compiled(fn)
    compiled: list = []

    def backward(call, needs, arrays, g):
        wanted = [i for i, n in enumerate(needs) if n]

        def f(*diff):
            full = list(arrays)
            for i, a in zip(wanted, diff):
                full[i] = a
            return fn(call, *full)

        _, pull = _jax().vjp(f, *[arrays[i] for i in wanted])
        return pull(g)

    def vjp(call, arrays, needs):
        needs = tuple(bool(n) and a is not None for a, n in zip(arrays, needs))
        y = forward(call, *arrays)

        def pullback(g):
            if not compiled:
                compiled.append(_jax().jit(backward, static_argnums=(0, 1)))
            if g.dtype != y.dtype:  # jax.vjp takes a cotangent of the result's dtype only
                g = g.astype(y.dtype)
            grads = iter(compiled[0](call, needs, list(arrays), g))
            return tuple(next(grads) if n else None for n in needs)

        return y, pullback

    return vjp


def native_conv_paths() -> dict:
    """Native convolution kernels of this library, by op name, for every call.

    "conv": ``jax.lax.conv_general_dilated`` with the call's stride, (before, after) padding
    pairs (asymmetric ones included), rhs dilation and ``feature_group_count``, any dtype.
    "conv_transpose": the same primitive on the input dilated by the stride (lhs dilation)
    with the kernel flipped and its in/out channels exchanged per group, padded by
    ``dilation*(k-1) - before`` and ``dilation*(k-1) - after + output_padding`` on each axis
    (negative where the transposed call crops more than the kernel's span: lax crops).
    Both with JAX's own backward (:func:`native_vjp`).
    """
    from ._adapter import NativePath

    def conv(call, x: Any, w: Any, b: Any) -> Any:
        lax = _jax().lax
        y = lax.conv_general_dilated(
            x,
            w,
            window_strides=call.stride,
            padding=call.padding,
            rhs_dilation=call.dilation,
            feature_group_count=call.groups,
        )
        return y if b is None else y + b.reshape((b.shape[0],) + (1,) * call.d)

    def conv_transpose(call, x: Any, w: Any, b: Any) -> Any:
        jax = _jax()
        g, d = call.groups, call.d
        c_in, c_out_g = w.shape[0], w.shape[1]
        # (C_in, C_out/g, *k) -> (C_out, C_in/g, *k), the convolution's weight, flipped
        w = w.reshape((g, c_in // g, c_out_g) + call.kernel)
        w = jax.numpy.swapaxes(w, 1, 2).reshape((g * c_out_g, c_in // g) + call.kernel)
        w = jax.numpy.flip(w, axis=tuple(range(2, d + 2)))
        pads = [
            (dl * (k - 1) - before, dl * (k - 1) - after + op)
            for k, dl, (before, after), op in zip(
                call.kernel, call.dilation, call.padding, call.output_padding
            )
        ]
        y = jax.lax.conv_general_dilated(
            x,
            w,
            window_strides=(1,) * d,
            padding=pads,
            lhs_dilation=call.stride,
            rhs_dilation=call.dilation,
            feature_group_count=g,
        )
        return y if b is None else y + b.reshape((b.shape[0],) + (1,) * d)

    def always(call) -> bool:
        return True

    return {
        "conv": NativePath(always, _compiled(conv), native_vjp(conv)),
        "conv_transpose": NativePath(always, _compiled(conv_transpose), native_vjp(conv_transpose)),
    }


def native_pool_paths() -> dict:
    """Native pooling kernels of this library, by op name, for every call.

    "max_pool" / "avg_pool": ``jax.lax.reduce_window`` (a max from -inf, a sum from 0) over
    the input padded by the call's ``applied`` pairs, which hold the padding asked for (any
    amount up to the window span, beyond half the kernel too) and what the last window of a
    ceil or "full" output reaches past it, with the call's window dilation; so the output
    size is the call's for every rounding mode. JAX's max propagates NaN and its gradient goes
    to the first maximum of a window, as portconv's does; JAX has no gradient for a dilated
    max, so dilated max pooling runs the generic path (which JAX differentiates). Average
    pooling (dilated too) divides by the call's counts (:func:`portconv.ops.pool.divisor`,
    the generic path's own). Both with JAX's own backward (:func:`native_vjp`)."""
    from ._adapter import NativePath

    def dilation(call) -> tuple[int, ...]:
        # a one-tap axis has no dilation to speak of
        return tuple(1 if k == 1 else dl for k, dl in zip(call.kernel, call.dilation))

    def window(call) -> dict:
        return dict(
            window_dimensions=(1, 1) + call.kernel,
            window_strides=(1, 1) + call.stride,
            padding=((0, 0), (0, 0)) + call.applied,
            window_dilation=(1, 1) + dilation(call),
        )

    def max_can_run(call) -> bool | str:
        if any(dl != 1 for dl in dilation(call)):
            return "dilates max pooling, which JAX cannot differentiate (select_and_gather)"
        return True

    def max_pool(call, x: Any) -> Any:
        import numpy as np

        jax = _jax()
        lowest = np.array(-np.inf, dtype=x.dtype)  # concrete: JAX knows max's identity
        return jax.lax.reduce_window(x, lowest, jax.lax.max, **window(call))

    def avg_pool(call, x: Any) -> Any:
        import numpy as np

        from portconv.ops.pool import divisor

        jax = _jax()
        zero = np.array(0, dtype=x.dtype)
        total = jax.lax.reduce_window(x, zero, jax.lax.add, **window(call))
        return total / divisor(jax.numpy, call)

    def always(call) -> bool:
        return True

    return {
        "max_pool": NativePath(max_can_run, _compiled(max_pool), native_vjp(max_pool)),
        "avg_pool": NativePath(always, _compiled(avg_pool), native_vjp(avg_pool)),
    }


def native_activation_paths() -> dict:
    """``jax.nn.relu`` (its gradient at 0 is 0, as portconv's), ``jax.nn.sigmoid`` and
    ``jax.numpy.tanh`` for every call, with JAX's own backward."""
    from ._adapter import NativePath

    def path(get) -> NativePath:
        def run(call, x) -> Any:
            return get(_jax())(x)

        return NativePath(lambda call: True, _compiled(run), native_vjp(run))

    return {
        "relu": path(lambda jax: jax.nn.relu),
        "sigmoid": path(lambda jax: jax.nn.sigmoid),
        "tanh": path(lambda jax: jax.numpy.tanh),
    }
