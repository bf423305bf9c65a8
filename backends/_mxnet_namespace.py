"""An array API namespace over ``mxnet.numpy`` 1.9.1.

``mxnet.numpy`` resembles NumPy but departs from the array API standard in ways that fail
silently (dtype inference, missing functions, no type promotion between mixed dtypes, a
``pad`` that ignores ``constant_values``). Everything portconv's generic code calls goes
through this namespace, which fixes those departures with MXNet operations only (no detour
through host NumPy), so results stay MXNet arrays on their context and remain differentiable
under ``mxnet.autograd.record()``. Every function here is functional: none writes into its
inputs (MXNet's autograd cannot record ``__setitem__``).

Host NumPy is used only for dtype logic, to build arrays from Python data and for the
shapes of data-dependent results. Calls that crash MXNet 1.9.1 (``where`` broadcasting a
zero-size operand, a zero-size boolean mask, contractions of zero-size or mismatched
operands) are answered without reaching it.

Building the namespace completes ``mx.np.ndarray`` itself, once per process: it gains what
the standard's array object has and MXNet's lacks (``device``, ``mT``, ``to_device``,
``__array_namespace__``, ``__dlpack__``, ``__dlpack_device__``, ``__index__``,
``__complex__``, ``//``, ``<<``, ``>>``, unary ``+`` and their in-place forms), and
``__getitem__``, ``__setitem__``, the comparisons, ``&``, ``|``, ``^``, ``@`` and the
in-place ``-=``, ``/=``, ``%=``, ``**=``, ``&=``, ``|=``, ``^=`` are wrapped where MXNet
raises or crashes (operands of two dtypes are promoted first, and an in-place result must
keep the array's dtype; ``...`` and ``None`` index 0-d arrays; zero-size arrays and masks
select nothing). Whatever MXNet answers itself keeps MXNet's answer. Legacy
``mx.nd.NDArray`` is left alone. Departures that cannot be fixed here:

- MXNet has no int16, uint16, uint32, uint64 or complex arrays; the namespace exposes the
  eight dtypes it has (``__array_namespace_info__().dtypes()`` lists the seven the standard
  names: it has no float16).
- Without NumPy shape semantics (``mx.npx.set_np()`` or ``mx.util.np_shape(True)``), MXNet
  cannot operate on 0-d or zero-size arrays. The functions here avoid creating such
  intermediates, so they work in both modes, but a 0-d *input* needs NumPy shape semantics.
- Operators with a Python scalar and same-dtype arithmetic operators are MXNet's own
  (``int_array < 1.5`` truncates the scalar, ``int_array + 1.5`` stays integer); calls
  through this namespace follow the standard.
- No ``linalg`` or ``fft`` extension.
"""

from __future__ import annotations

import builtins
import collections
import math
import threading
import types
import warnings
from collections.abc import Callable

import numpy as onp

from ..errors import ArgumentError, ArrayTypeError

#: ``mxnet`` and ``mxnet.numpy``, bound by :func:`namespace` (MXNet is imported lazily).
mx = None
mnp = None


def _mx():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        import mxnet

    return mxnet


# ==========================================================================================
# dtypes
# ==========================================================================================
_NAMES = ("bool", "int8", "int32", "int64", "uint8", "float16", "float32", "float64")
_DTYPES = {name: onp.dtype(name) for name in _NAMES}
#: the names the standard gives (it has no float16)
_STANDARD_NAMES = tuple(n for n in _NAMES if n != "float16")
_BOOL, _INT64, _UINT8 = onp.dtype("bool"), onp.dtype("int64"), onp.dtype("uint8")
_FLOAT16, _FLOAT32, _FLOAT64 = onp.dtype("float16"), onp.dtype("float32"), onp.dtype("float64")
_DEFAULT_FLOAT, _DEFAULT_INT = _FLOAT32, _INT64
#: dtypes MXNet lacks -> the smallest supported dtype holding all their values
_WIDER = {
    onp.dtype("int16"): onp.dtype("int32"),
    onp.dtype("uint16"): onp.dtype("int32"),
    onp.dtype("uint32"): _INT64,
}
_KINDS = {
    "bool": "b",
    "signed integer": "i",
    "unsigned integer": "u",
    "integral": "iu",
    "real floating": "f",
    "complex floating": "c",
    "numeric": "iufc",
}

_API: dict[str, Callable] = {}


def _export(func: Callable) -> Callable:
    """Put ``func`` in the namespace under its name (a trailing underscore, which keeps a
    builtin such as ``sum`` unshadowed here, is dropped)."""
    name = func.__name__.rstrip("_")
    func.__name__ = func.__qualname__ = name
    _API[name] = func
    return func


def _dtype(dtype) -> onp.dtype:
    """``dtype`` as one of the NumPy dtypes MXNet has arrays for; TypeError otherwise."""
    d = onp.dtype(dtype)
    if d not in _DTYPES.values():
        raise TypeError(f"mxnet.numpy 1.9.1 has no {d} arrays; it has {', '.join(_NAMES)}")
    return d


def _is_array(v) -> bool:
    return isinstance(v, mnp.ndarray)


def _is_scalar(v) -> bool:
    return isinstance(v, (bool, int, float, complex, onp.generic))


def _py(v):
    """A NumPy scalar as the Python scalar of its kind."""
    return v.item() if isinstance(v, onp.generic) else v


def _dtype_of(v) -> onp.dtype:
    return v.dtype if _is_array(v) or isinstance(v, onp.ndarray) else _dtype(v)


def _python_dtype(value) -> onp.dtype:
    """The standard's dtype for a Python scalar: bool, the default int or the default float."""
    value = _py(value)
    if isinstance(value, bool):
        return _BOOL
    if isinstance(value, int):
        return _DEFAULT_INT
    if isinstance(value, float):
        return _DEFAULT_FLOAT
    raise TypeError(f"mxnet.numpy has no dtype for {type(value).__name__} scalars")


def _scalars_dtype(*values) -> onp.dtype:
    """The dtype of Python scalars together: float if any is a float, else int if any is an
    int, else bool (by Python's own rules, with the default float and int)."""
    kinds = [_python_dtype(v) for v in values]
    for d in (_DEFAULT_FLOAT, _DEFAULT_INT):
        if d in kinds:
            return d
    return _BOOL


def _promote(*dtypes) -> onp.dtype:
    """NumPy's promotion of array dtypes (int8 with uint8 gives int32, MXNet has no int16)."""
    d = onp.result_type(*dtypes)
    return _WIDER.get(d, d)


def _with_scalar(dtype: onp.dtype, value) -> onp.dtype:
    """The dtype of ``array op scalar`` by the standard: the array's dtype within a kind; an
    int with a bool array gives the default int, a float with a bool or integer array the
    default float (MXNet keeps the array's dtype and truncates the scalar)."""
    value = _py(value)
    if isinstance(value, bool):
        return dtype
    if isinstance(value, int):
        return _DEFAULT_INT if dtype == _BOOL else dtype
    if isinstance(value, float):
        return dtype if dtype.kind == "f" else _DEFAULT_FLOAT
    raise TypeError(f"mxnet.numpy has no dtype for {type(value).__name__} scalars")


@_export
def result_type(*arrays_and_dtypes) -> onp.dtype:
    """Type promotion of arrays, dtypes and Python scalars (mx.np.result_type rejects dtypes)."""
    dtypes = [_dtype_of(a) for a in arrays_and_dtypes if not _is_scalar(a)]
    scalars = [a for a in arrays_and_dtypes if _is_scalar(a)]
    if not dtypes:
        raise TypeError("result_type needs at least one array or dtype")
    d = _promote(*dtypes)
    for s in scalars:
        d = _with_scalar(d, s)
    return d


@_export
def can_cast(from_, to, /) -> bool:
    """Whether a cast is safe by the standard's promotion rules (missing in mx.np)."""
    return bool(onp.can_cast(_dtype_of(from_), _dtype(to), casting="safe"))


@_export
def isdtype(dtype, kind) -> bool:
    """The standard's dtype-kind test (missing in mx.np)."""
    if isinstance(kind, tuple):
        return builtins.any(isdtype(dtype, k) for k in kind)
    dtype = onp.dtype(dtype)
    if isinstance(kind, str):
        if kind not in _KINDS:
            raise ValueError(f"unknown dtype kind {kind!r}; expected one of {sorted(_KINDS)}")
        return dtype.kind in _KINDS[kind]
    return dtype == onp.dtype(kind)


class _FInfo:
    """Machine limits of a floating dtype as the standard asks: ``bits`` an int, ``eps``,
    ``max``, ``min`` and ``smallest_normal`` Python floats (NumPy's finfo holds NumPy
    scalars), ``dtype`` the dtype."""

    __slots__ = ("bits", "eps", "max", "min", "smallest_normal", "dtype")

    def __init__(self, dtype: onp.dtype) -> None:
        info = onp.finfo(dtype)
        self.bits, self.dtype = int(info.bits), dtype
        self.eps, self.max, self.min = float(info.eps), float(info.max), float(info.min)
        self.smallest_normal = float(info.smallest_normal)

    def __repr__(self) -> str:
        return (
            f"finfo(bits={self.bits}, eps={self.eps!r}, max={self.max!r}, min={self.min!r}, "
            f"smallest_normal={self.smallest_normal!r}, dtype={self.dtype})"
        )


@_export
def finfo(type, /):
    """Machine limits of a floating dtype (or of an array's dtype), as Python numbers.

    Parameters
    ----------
    type : dtype or array
        A floating dtype of the namespace, or an array of one.

    Returns
    -------
    object
        With ``bits`` (int), ``eps``, ``max``, ``min``, ``smallest_normal`` (Python floats)
        and ``dtype``.

    Raises
    ------
    ArgumentError
        ``type`` is not a floating dtype.

    Examples
    --------
    >>> xp.finfo(xp.float32).eps
    1.1920928955078125e-07
    """
    d = _dtype_of(type)
    if d.kind != "f":
        raise ArgumentError(f"finfo: expected a floating dtype or array, got {d}")
    return _FInfo(d)


@_export
def iinfo(type, /):
    """Machine limits of an integer dtype (or of an array's dtype)."""
    return onp.iinfo(_dtype_of(type))


@_export
def astype(x, dtype, /, *, copy=True, device=None):
    """``x`` cast to ``dtype``; a new array unless ``copy=False`` and nothing changes."""
    d = _dtype(dtype)
    if device is not None and device != x.ctx:
        x, copy = x.as_in_ctx(device), False  # moving made a new array already
    if x.dtype == d and not copy:
        return x
    return x.astype(d, copy=True)


class _Info:
    """What ``__array_namespace_info__()`` returns. MXNet has no complex dtypes, so
    ``default_dtypes`` has no ``"complex floating"`` entry."""

    def capabilities(self) -> dict:
        return {"boolean indexing": True, "data-dependent shapes": True}

    def default_device(self):
        return mx.context.current_context()

    def devices(self) -> list:
        return [mx.cpu()] + [mx.gpu(i) for i in range(mx.context.num_gpus())]

    def default_dtypes(self, *, device=None) -> dict:
        return {"real floating": _DEFAULT_FLOAT, "integral": _DEFAULT_INT, "indexing": _INT64}

    def dtypes(self, *, device=None, kind=None) -> dict:
        """The standard's dtypes MXNet has, by name: float16 is left out, as the standard
        has no float16 (it stays usable as ``float16``)."""
        return {
            n: d
            for n, d in _DTYPES.items()
            if n in _STANDARD_NAMES and (kind is None or isdtype(d, kind))
        }


# ==========================================================================================
# creation
# ==========================================================================================
def _ctx(device):
    return mx.context.current_context() if device is None else device


def _shape(shape) -> tuple:
    return (int(shape),) if isinstance(shape, int) else tuple(int(n) for n in shape)


def _full(shape, value, dtype, ctx):
    """mx.np.full, also for shape () outside NumPy shape semantics and exact for integers
    beyond 2**53 (mx.np.full passes the value as a double): those are built from a
    one-element host array (Python data) and broadcast on the device."""
    shape, value = _shape(shape), _py(value)
    if not shape or (dtype.kind in "iu" and builtins.abs(int(value)) > 2**53):
        one = mnp.array(onp.full((1,) * len(shape), value, dtype=dtype), dtype=dtype, ctx=ctx)
        return one if one.shape == shape else mnp.broadcast_to(one, shape)
    return mnp.full(shape, value, dtype=dtype, ctx=ctx)


def _from_numpy(a: onp.ndarray, ctx):
    d = _WIDER.get(a.dtype, a.dtype)
    return mnp.array(a.astype(_dtype(d), copy=False), dtype=d, ctx=ctx)


def _is_python_data(obj) -> bool:
    return isinstance(obj, (bool, int, float, complex, list, tuple))


def _infer_python(obj) -> onp.ndarray:
    """Python data as a host array of the standard's dtype: bools -> bool, ints -> int64,
    floats -> the default float32 (mx.np.array makes ints and bools float32)."""
    a = onp.asarray(obj)
    if a.dtype.kind == "b":
        return a
    if a.dtype.kind in "iu":
        if a.dtype == onp.uint64:
            raise OverflowError("Python int too large for int64")
        return a.astype(_INT64)
    if a.dtype.kind == "f":
        return a.astype(_DEFAULT_FLOAT)
    raise TypeError(f"mxnet.numpy has no arrays for {a.dtype} data")


@_export
def asarray(obj, /, *, dtype=None, device=None, copy=None):
    """An MXNet array from an MXNet array (legacy ``nd`` arrays are viewed without a copy),
    a NumPy array (its dtype kept) or Python data (dtype inferred by the standard's rules);
    ``device=`` replaces MXNet's ``ctx=``."""
    if isinstance(obj, mx.nd.NDArray) and not _is_array(obj):
        obj = obj.as_np_ndarray()
    if _is_array(obj):
        return _asarray_mx(obj, dtype, device, copy)
    if isinstance(obj, (list, tuple)) and builtins.any(isinstance(e, mx.nd.NDArray) for e in obj):
        out = stack([asarray(e, device=device) for e in obj])
        return out if dtype is None else astype(out, dtype, copy=False)
    if copy is False:
        raise ValueError("asarray(copy=False): host data must be copied to an MXNet array")
    if dtype is not None:
        d = _dtype(dtype)
        return mnp.array(onp.asarray(obj, dtype=d), dtype=d, ctx=_ctx(device))
    a = _infer_python(obj) if _is_python_data(obj) else onp.asarray(obj)
    return _from_numpy(a, _ctx(device))


def _asarray_mx(x, dtype, device, copy):
    moves = device is not None and device != x.ctx
    casts = dtype is not None and x.dtype != _dtype(dtype)
    if copy is False and (moves or casts):
        raise ValueError("asarray(copy=False): a device or dtype change needs a copy")
    if moves:
        x = x.as_in_ctx(device)
    if casts:
        return x.astype(_dtype(dtype))
    return x.copy() if copy and not moves else x


@_export
def arange(start, /, stop=None, step=1, *, dtype=None, device=None):
    """Evenly spaced values; int64 for integer arguments and float32 if any is a float
    (mx.np.arange is float32 unless told, and gives zeros for float16: computed in float32)."""
    if dtype is None:
        floats = builtins.any(isinstance(v, (float, onp.floating)) for v in (start, stop, step))
        d = _DEFAULT_FLOAT if floats else _DEFAULT_INT
    else:
        d = _dtype(dtype)
    if d == _FLOAT16:
        return mnp.arange(start, stop, step, dtype=_FLOAT32, ctx=_ctx(device)).astype(d)
    return mnp.arange(start, stop, step, dtype=d, ctx=_ctx(device))


def _default_float(dtype):
    return _DEFAULT_FLOAT if dtype is None else _dtype(dtype)


@_export
def zeros(shape, *, dtype=None, device=None):
    return _full(shape, 0, _default_float(dtype), _ctx(device))


@_export
def ones(shape, *, dtype=None, device=None):
    return _full(shape, 1, _default_float(dtype), _ctx(device))


@_export
def empty(shape, *, dtype=None, device=None):
    shape, d, ctx = _shape(shape), _default_float(dtype), _ctx(device)
    return mnp.empty(shape, dtype=d, ctx=ctx) if shape else _full(shape, 0, d, ctx)


@_export
def full(shape, fill_value, *, dtype=None, device=None):
    """A filled array; the dtype is inferred from ``fill_value`` by the standard's rules
    (mx.np.full makes an int fill float32)."""
    d = _python_dtype(fill_value) if dtype is None else _dtype(dtype)
    return _full(shape, fill_value, d, _ctx(device))


def _like(x, dtype, device):
    """dtype and context of a ``*_like`` result: those of ``x`` unless given."""
    return (x.dtype if dtype is None else _dtype(dtype)), (x.ctx if device is None else device)


@_export
def zeros_like(x, /, *, dtype=None, device=None):
    d, ctx = _like(x, dtype, device)
    return _full(x.shape, 0, d, ctx)


@_export
def ones_like(x, /, *, dtype=None, device=None):
    d, ctx = _like(x, dtype, device)
    return _full(x.shape, 1, d, ctx)


@_export
def empty_like(x, /, *, dtype=None, device=None):
    d, ctx = _like(x, dtype, device)
    return empty(x.shape, dtype=d, device=ctx)


@_export
def full_like(x, /, fill_value, *, dtype=None, device=None):
    d, ctx = _like(x, dtype, device)
    return _full(x.shape, fill_value, d, ctx)


@_export
def eye(n_rows, n_cols=None, /, *, k=0, dtype=None, device=None):
    return mnp.eye(n_rows, n_cols, k=k, dtype=_default_float(dtype), ctx=_ctx(device))


def _dlpack_device(ctx) -> tuple:
    """The DLPack device of an MXNet context: (1, 0) CPU, (2, id) CUDA, (3, 0) pinned host."""
    if ctx.device_type == "gpu":
        return (2, ctx.device_id)
    return (3, 0) if ctx.device_type == "cpu_pinned" else (1, 0)


@_export
def from_dlpack(x, /, *, device=None, copy=None):
    """An MXNet array sharing the memory of ``x``, an object with ``__dlpack__`` (a NumPy
    array, a torch tensor, an MXNet array), through MXNet's own DLPack import.

    Parameters
    ----------
    x : object
        Anything with ``__dlpack__``; MXNet arrays (``mx.np`` or legacy ``nd``) are taken
        as they are.
    device : mxnet.Context, optional
        Where the result lives; another device than ``x``'s means a copy.
    copy : bool, optional
        True: always a copy; False: never (refused when ``device`` asks for a move);
        None: shared memory where possible.

    Returns
    -------
    mxnet.numpy.ndarray

    Raises
    ------
    ArgumentError
        ``copy=False`` with a ``device`` that needs a copy, or a bad ``copy``.
    BufferError, TypeError
        From ``x.__dlpack__`` when ``x`` cannot be exported (NumPy refuses bool arrays,
        for example), or from MXNet's import.
    AttributeError
        ``x`` has no ``__dlpack__``.

    Examples
    --------
    >>> xp.from_dlpack(numpy.arange(3.0))  # shares the NumPy array's memory
    """
    if copy not in (None, True, False):
        raise ArgumentError(f"from_dlpack: copy must be None, True or False, got {copy!r}")
    if isinstance(x, mx.nd.NDArray):
        out = x if _is_array(x) else x.as_np_ndarray()
    else:
        capsule = x.__dlpack__()
        try:
            out = mx.nd.from_dlpack(capsule).as_np_ndarray()
        except mx.base.MXNetError as exc:
            dtype = getattr(x, "dtype", "this dtype")
            raise ArrayTypeError(
                f"from_dlpack: MXNet 1.9.1 cannot import a {type(x).__name__} of {dtype}; it "
                f"has {', '.join(_NAMES)}"
            ) from exc
    if device is not None and device != out.ctx:
        if copy is False:
            raise ArgumentError(
                f"from_dlpack: copy=False, but moving the array from {out.ctx} to {device} "
                f"needs a copy"
            )
        return out.as_in_ctx(device)
    return out.copy() if copy else out


@_export
def linspace(start, stop, /, num, *, dtype=None, device=None, endpoint=True):
    d = _default_float(dtype)
    return mnp.linspace(start, stop, num, endpoint=endpoint, dtype=d, ctx=_ctx(device))


@_export
def meshgrid(*arrays, indexing="xy"):
    """Coordinate grids of arrays promoted to one dtype (MXNet raises on mixed dtypes)."""
    d = result_type(*arrays)
    return list(mnp.meshgrid(*[astype(a, d, copy=False) for a in arrays], indexing=indexing))


def _band(x, k, lower):
    """``x`` with the elements outside a band of its last two axes set to zero: a ``where``
    with a mask built from index differences (mx.np has no triu and its tril rejects bool)."""
    m, n = x.shape[-2:]
    rows = mnp.reshape(mnp.arange(m, dtype=_INT64, ctx=x.ctx), (m, 1))
    cols = mnp.reshape(mnp.arange(n, dtype=_INT64, ctx=x.ctx), (1, n))
    diagonal = mnp.subtract(cols, rows)
    mask = less_equal(diagonal, k) if lower else greater_equal(diagonal, k)
    return _select(mask, x, _full((1,) * x.ndim, 0, x.dtype, x.ctx))


@_export
def tril(x, /, *, k=0):
    return _band(x, k, lower=True)


@_export
def triu(x, /, *, k=0):
    return _band(x, k, lower=False)


# ==========================================================================================
# operands: promotion before multi-input ops
# ==========================================================================================
def _operand(v, dtype, like):
    """An array operand of ``dtype``: arrays are cast, Python scalars become one-element
    arrays on ``like``'s context. MXNet's scalar ops keep the array's dtype (so
    ``int_array + 1.5`` truncates the scalar) and ``mx.np.where``'s scalar form has inverted
    gradients; one-element arrays broadcast and avoid both."""
    if _is_array(v):
        return v if v.dtype == dtype else v.astype(dtype)
    if not _is_scalar(v):
        raise TypeError(f"expected an mxnet.numpy array or a Python scalar, got {type(v)!r}")
    return _full((1,) * like.ndim, v, dtype, like.ctx)


def _operands(x1, x2, dtype=None):
    """Both operands as arrays of one dtype: their promoted dtype unless ``dtype`` is given
    (MXNet raises on most mixed-dtype pairs and truncates float scalars)."""
    if not (_is_array(x1) or _is_array(x2)):
        raise TypeError("at least one operand must be an mxnet.numpy array")
    like = x1 if _is_array(x1) else x2
    d = result_type(x1, x2) if dtype is None else dtype
    return _operand(x1, d, like), _operand(x2, d, like)


def _select(condition, x1, x2):
    """mx.np.where of arrays of one dtype, except where the result has no elements: MXNet
    1.9.1 crashes the process (a segmentation fault) when where broadcasts a zero-size
    operand with others, so such a result is built without calling it."""
    shape = onp.broadcast_shapes(condition.shape, x1.shape, x2.shape)
    if math.prod(shape) == 0:
        return _full(shape, 0, x1.dtype, x1.ctx)
    return mnp.where(condition, x1, x2)


def _via(carriers: dict, fn, *arrays):
    """``fn`` on arrays of a dtype an MXNet kernel lacks: computed in the carrier dtype
    (``carriers`` maps dtype -> carrier) and cast back."""
    d = arrays[0].dtype
    if d not in carriers:
        return fn(*arrays)
    return fn(*[a.astype(carriers[d]) for a in arrays]).astype(d)


_BOOL_AS_UINT8 = {_BOOL: _UINT8}
_BOOL_UINT8_FLOAT16 = {_BOOL: _UINT8, _FLOAT16: _FLOAT32}


def _floating(x):
    """``x`` cast to the default float unless it is floating already (for functions whose
    result is a float: MXNet returns ``exp(int_array)`` as integers)."""
    return x if x.dtype.kind == "f" else x.astype(_DEFAULT_FLOAT)


def _arithmetic(name, mx_name):
    def op(x1, x2, /):
        return getattr(mnp, mx_name)(*_operands(x1, x2))

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Element-wise {name} after type promotion (MXNet raises on mixed dtypes)."
    return op


for _name, _mx_name in (("add", "add"), ("subtract", "subtract"), ("multiply", "multiply")):
    _export(_arithmetic(_name, _mx_name))
_export(_arithmetic("pow", "power"))


@_export
def divide(x1, x2, /):
    """True division; integer operands give the default float (float32), as MXNet does."""
    d = result_type(x1, x2)
    return mnp.divide(*_operands(x1, x2, d if d.kind == "f" else _DEFAULT_FLOAT))


def _int_floor_divide(a, b):
    """Exact integer floor division. mx.np has no floor_divide and its divide and mod go
    through doubles; the legacy integer division truncates toward zero exactly, and is then
    moved down by one where the remainder is nonzero with the divisor's opposite sign.
    Division by zero gives 0, as in NumPy."""
    zero = _full((1,) * a.ndim, 0, a.dtype, a.ctx)
    by_zero = mnp.equal(b, zero)
    safe = _select(by_zero, _full((1,) * a.ndim, 1, a.dtype, a.ctx), b)
    trunc = mx.nd.broadcast_div(a.as_nd_ndarray(), safe.as_nd_ndarray()).as_np_ndarray()
    rest = mnp.subtract(a, mnp.multiply(trunc, safe))
    signs_differ = mnp.not_equal(mnp.less(rest, zero), mnp.less(safe, zero))
    down = mnp.multiply(mnp.not_equal(rest, zero), signs_differ).astype(a.dtype)
    return _select(by_zero, zero, mnp.subtract(trunc, down))


@_export
def floor_divide(x1, x2, /):
    """Floor division (missing in mx.np), exact for integers."""
    a, b = _operands(x1, x2)
    if a.dtype.kind == "f":
        return mnp.floor(mnp.divide(a, b))
    return _via({_BOOL: onp.dtype("int8")}, _int_floor_divide, a, b)


@_export
def remainder(x1, x2, /):
    """Remainder with the divisor's sign; exact for integers (mx.np.mod goes through doubles),
    0 for an integer division by zero as in NumPy."""
    a, b = _operands(x1, x2)
    if a.dtype.kind == "f":
        return mnp.mod(a, b)
    zero = _full((1,) * a.ndim, 0, a.dtype, a.ctx)
    rest = mnp.subtract(a, mnp.multiply(floor_divide(a, b), b))
    return _select(mnp.equal(b, zero), zero, rest)


def _extremum(name, mx_name):
    def op(x1, x2, /):
        return _via(_BOOL_AS_UINT8, getattr(mnp, mx_name), *_operands(x1, x2))

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Element-wise {name} after type promotion (MXNet rejects mixed and bool)."
    return op


_export(_extremum("maximum", "maximum"))
_export(_extremum("minimum", "minimum"))


def _float_binary(name, mx_name):
    def op(x1, x2, /):
        d = result_type(x1, x2)
        return getattr(mnp, mx_name)(*_operands(x1, x2, d if d.kind == "f" else _DEFAULT_FLOAT))

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Element-wise {name} of operands promoted to a floating dtype."
    return op


for _name, _mx_name in (("atan2", "arctan2"), ("hypot", "hypot")):
    _export(_float_binary(_name, _mx_name))


@_export
def copysign(x1, x2, /):
    """``|x1|`` with the sign bit of ``x2``, floating point after promotion. mx.np.copysign
    reads the sign arithmetically (``x2 < 0``), so ``-0.0`` counted as positive and NaN's
    sign went wrong; the sign bit comes from mx.np.signbit, which reads the bit."""
    d = result_type(x1, x2)
    a, b = _operands(x1, x2, d if d.kind == "f" else _DEFAULT_FLOAT)
    magnitude = mnp.abs(a)
    return _select(signbit(b), mnp.negative(magnitude), magnitude)


@_export
def logaddexp(x1, x2, /):
    """``log(exp(x1) + exp(x2))`` without overflow, floating point after promotion (missing in
    mx.np): the larger operand plus ``log1p(exp(-|x1 - x2|))``; equal operands (infinities
    of one sign included) give ``x1 + log(2)``."""
    d = result_type(x1, x2)
    a, b = _operands(x1, x2, d if d.kind == "f" else _DEFAULT_FLOAT)
    larger = mnp.maximum(a, b)
    spread = mnp.log1p(mnp.exp(mnp.negative(mnp.abs(mnp.subtract(a, b)))))
    return _select(mnp.equal(a, b), mnp.add(a, math.log(2.0)), mnp.add(larger, spread))


def _comparison_dtype(x1, x2) -> onp.dtype:
    """The dtype to compare in: the promoted one, but float64 when an integer or bool array
    meets a float scalar and int64 when an int scalar lies outside the array's range, so that
    the comparison is exact (MXNet truncates the scalar: ``int_array < 1.5`` is all False)."""
    d = result_type(x1, x2)
    for s, other in ((x1, x2), (x2, x1)):
        s = _py(s)
        if not _is_scalar(s) or not _is_array(other) or isinstance(s, bool):
            continue
        if isinstance(s, float) and other.dtype.kind != "f":
            return _FLOAT64
        if isinstance(s, int) and d.kind in "iu":
            info = onp.iinfo(d)
            if not info.min <= s <= info.max:
                return _INT64 if -(2**63) <= s < 2**63 else _FLOAT64
    return d


def _comparison(name):
    def op(x1, x2, /):
        return getattr(mnp, name)(*_operands(x1, x2, _comparison_dtype(x1, x2)))

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Element-wise {name}, exact for mixed dtypes and Python scalars."
    return op


for _name in ("less", "less_equal", "greater", "greater_equal", "equal", "not_equal"):
    _export(_comparison(_name))
# the exported functions this module calls itself
add, less = _API["add"], _API["less"]
less_equal, greater_equal = _API["less_equal"], _API["greater_equal"]


def _truth(v, like):
    """An operand of a logical function as a bool array (nonzero is True)."""
    if _is_array(v):
        return v if v.dtype == _BOOL else v.astype(_BOOL)
    return _full((1,) * like.ndim, builtins.bool(_py(v)), _BOOL, like.ctx)


def _truths(x1, x2):
    like = x1 if _is_array(x1) else x2
    return _truth(x1, like), _truth(x2, like)


@_export
def logical_and(x1, x2, /):
    """Logical and (missing in mx.np; its bitwise ops reject bool): a product of bools."""
    return mnp.multiply(*_truths(x1, x2))


@_export
def logical_or(x1, x2, /):
    """Logical or (missing in mx.np): a sum of bools, which MXNet keeps bool."""
    return mnp.add(*_truths(x1, x2))


@_export
def logical_xor(x1, x2, /):
    """Logical xor (missing in mx.np): inequality of bools."""
    return mnp.not_equal(*_truths(x1, x2))


@_export
def logical_not(x, /):
    return mnp.logical_not(x)


def _integer_operands(name, x1, x2, *, bool_ok):
    """Both operands promoted, refused unless integer (or bool where ``bool_ok``)."""
    a, b = _operands(x1, x2)
    if a.dtype.kind not in ("biu" if bool_ok else "iu"):
        kinds = "an integer or bool" if bool_ok else "an integer"
        raise ArrayTypeError(f"{name}: expected operands of {kinds} dtype, got {a.dtype}")
    return a, b


def _bitwise(name, logical, mx_name):
    def op(x1, x2, /):
        a, b = _integer_operands(name, x1, x2, bool_ok=True)
        return logical(a, b) if a.dtype == _BOOL else getattr(mnp, mx_name)(a, b)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = (
        f"Element-wise {name} of integer or bool operands after type promotion (missing "
        "in mx.np under this name; MXNet raises on mixed dtypes). Bool operands give bool."
    )
    return op


_export(_bitwise("bitwise_and", logical_and, "bitwise_and"))
_export(_bitwise("bitwise_or", logical_or, "bitwise_or"))
_export(_bitwise("bitwise_xor", logical_xor, "bitwise_xor"))


@_export
def bitwise_invert(x, /):
    """Bitwise not of an integer or bool array (logical not for bool)."""
    if x.dtype.kind not in "biu":
        raise ArrayTypeError(f"bitwise_invert: expected an integer or bool array, got {x.dtype}")
    return mnp.invert(x)


def _powers_of_two(exponent, dtype, ctx):
    """``2 ** exponent`` for integer exponents in ``[0, bits / 2]``, exact in ``dtype``: taken
    from a table (MXNet's power goes through doubles)."""
    table = onp.asarray([2**i for i in range(onp.iinfo(dtype).bits // 2 + 1)], dtype=dtype)
    return mnp.take(mnp.array(table, dtype=dtype, ctx=ctx), exponent.astype(_INT64))


def _shift_counts(a, b, most):
    """Shift counts limited to ``[0, most]`` and split in two halves, each at most half the
    bit width, so that ``2 ** half`` fits the dtype. Negative counts, which the standard
    leaves undefined, shift by 0."""
    counts = mnp.clip(b, 0, most)
    first = _int_floor_divide(counts, _full((1,) * counts.ndim, 2, a.dtype, a.ctx))
    second = mnp.subtract(counts, first)
    return _powers_of_two(first, a.dtype, a.ctx), _powers_of_two(second, a.dtype, a.ctx)


@_export
def bitwise_left_shift(x1, x2, /):
    """``x1 << x2`` for integers after type promotion (missing in mx.np): a product with
    ``2 ** x2`` in the dtype, wrapping as a shift does; counts of the bit width or more give 0.
    """
    a, b = _integer_operands("bitwise_left_shift", x1, x2, bool_ok=False)
    low, high = _shift_counts(a, b, onp.iinfo(a.dtype).bits)
    return mnp.multiply(mnp.multiply(a, low), high)


@_export
def bitwise_right_shift(x1, x2, /):
    """``x1 >> x2`` for integers after type promotion (missing in mx.np): an exact floor
    division by ``2 ** x2`` (arithmetic shift: negative values stay negative); counts of the
    bit width or more give 0, or -1 for negative values."""
    a, b = _integer_operands("bitwise_right_shift", x1, x2, bool_ok=False)
    info = onp.iinfo(a.dtype)
    low, high = _shift_counts(a, b, info.bits - 1 if info.min < 0 else info.bits)
    return _int_floor_divide(_int_floor_divide(a, low), high)


@_export
def where(condition, x1, x2, /):
    """Select by ``condition`` after type promotion; scalars become one-element arrays
    (mx.np.where raises on mixed dtypes and its scalar form inverts the gradient). A result
    with no elements never reaches mx.np.where, which crashes on it (see :func:`_select`)."""
    cond = _truth(condition, condition)
    d = result_type(x1, x2) if _is_array(x1) or _is_array(x2) else _scalars_dtype(x1, x2)
    return _select(cond, _operand(x1, d, cond), _operand(x2, d, cond))


# ==========================================================================================
# element-wise functions of one array
# ==========================================================================================
def _float_unary(name, mx_name):
    def op(x, /):
        return getattr(mnp, mx_name)(_floating(x))

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Element-wise {name}; integer input gives the default float (MXNet keeps ints)."
    return op


for _name, _mx_name in {
    "exp": "exp",
    "expm1": "expm1",
    "log": "log",
    "log1p": "log1p",
    "log2": "log2",
    "log10": "log10",
    "sqrt": "sqrt",
    "sin": "sin",
    "cos": "cos",
    "tan": "tan",
    "sinh": "sinh",
    "cosh": "cosh",
    "tanh": "tanh",
    "asin": "arcsin",
    "acos": "arccos",
    "atan": "arctan",
    "asinh": "arcsinh",
    "acosh": "arccosh",
    "atanh": "arctanh",
}.items():
    _export(_float_unary(_name, _mx_name))


def _integer_exact(name, mx_name, carriers):
    def op(x, /):
        if x.dtype.kind != "f":
            return x.copy()
        return _via(carriers, getattr(mnp, mx_name), x)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Element-wise {name}; integers are returned unchanged in their own dtype."
    return op


_export(_integer_exact("floor", "floor", {}))
_export(_integer_exact("ceil", "ceil", {}))
_export(_integer_exact("trunc", "trunc", {}))
_export(_integer_exact("round", "round", {_FLOAT16: _FLOAT32}))


@_export
def abs_(x, /):
    return x.copy() if x.dtype == _BOOL else mnp.abs(x)


@_export
def negative(x, /):
    return mnp.negative(x)


@_export
def positive(x, /):
    """A copy of ``x`` (mx.np.positive fails under autograd and for int8)."""
    return x.copy()


@_export
def square(x, /):
    return mnp.square(x)


@_export
def sign(x, /):
    """Sign, NaN for NaN (mx.np.sign gives 0 for NaN)."""
    if x.dtype.kind != "f":
        return mnp.sign(x)
    return _select(mnp.isnan(x), x, mnp.sign(x))


@_export
def signbit(x, /):
    """Whether the sign bit is set: True for ``-0.0`` and negative NaN as well, which no
    comparison sees; ``x < 0`` for integers, False for bool."""
    if x.dtype.kind == "f":
        return mnp.signbit(x)
    if x.dtype == _BOOL:
        return _full(x.shape, False, _BOOL, x.ctx)
    return mnp.less(x, _full((1,) * x.ndim, 0, x.dtype, x.ctx))


@_export
def real(x, /):
    """The real part: a copy, as MXNet has no complex dtypes."""
    return x.copy()


@_export
def imag(x, /):
    """The imaginary part: zeros of ``x``'s dtype, as MXNet has no complex dtypes."""
    return _full(x.shape, 0, x.dtype, x.ctx)


@_export
def conj(x, /):
    """The complex conjugate: a copy, as MXNet has no complex dtypes."""
    return x.copy()


@_export
def isnan(x, /):
    return mnp.isnan(x)


@_export
def isinf(x, /):
    return mnp.isinf(x)


@_export
def isfinite(x, /):
    return mnp.isfinite(x)


@_export
def clip(x, /, min=None, max=None):
    """``x`` limited to [min, max]; bounds may be scalars or arrays, the result keeps ``x``'s
    dtype (mx.np.clip takes scalars only)."""
    if _is_array(min) or _is_array(max):
        out = x
        if min is not None:
            out = maximum(out, min)
        if max is not None:
            out = minimum(out, max)
        return astype(out, x.dtype, copy=False)
    if min is None and max is None:
        return x.copy()
    return mnp.clip(x, _py(min), _py(max))


maximum, minimum = _API["maximum"], _API["minimum"]


# ==========================================================================================
# shapes
# ==========================================================================================
def _axis(axis: int, ndim: int) -> int:
    """A non-negative axis (several MXNet kernels reject negative ones)."""
    if not -ndim <= axis < ndim:
        raise IndexError(f"axis {axis} is out of range for an array of {ndim} dimensions")
    return axis % ndim


def _axes(axis, ndim: int) -> tuple:
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, int):
        return (_axis(axis, ndim),)
    return tuple(_axis(a, ndim) for a in axis)


@_export
def reshape(x, /, shape, *, copy=None):
    out = mnp.reshape(x, _shape(shape))
    return out.copy() if copy else out


@_export
def permute_dims(x, /, axes):
    """Permute axes (missing in mx.np; its transpose rejects bool)."""
    axes = tuple(axes)
    return _via(_BOOL_AS_UINT8, lambda a: mnp.transpose(a, axes), x)


@_export
def matrix_transpose(x, /):
    """Swap the last two axes (missing in mx.np)."""
    if x.ndim < 2:
        raise ValueError("matrix_transpose needs an array of at least two dimensions")
    return permute_dims(x, tuple(range(x.ndim - 2)) + (x.ndim - 1, x.ndim - 2))


@_export
def moveaxis(x, source, destination, /):
    return _via(_BOOL_AS_UINT8, lambda a: mnp.moveaxis(a, source, destination), x)


@_export
def expand_dims(x, /, axis=0):
    """``x`` with a new axis of size one at ``axis`` (positional or keyword, as the standard's
    signature ``expand_dims(x, /, axis)``)."""
    if not -x.ndim - 1 <= axis <= x.ndim:
        raise IndexError(f"axis {axis} is out of range for expand_dims of a {x.ndim}-d array")
    return mnp.expand_dims(x, axis % (x.ndim + 1))


@_export
def squeeze(x, /, axis):
    axes = _axes(axis, x.ndim)
    if builtins.any(x.shape[a] != 1 for a in axes):
        raise ValueError(f"cannot squeeze axes {axis} of shape {x.shape}: size is not 1")
    return mnp.reshape(x, tuple(n for i, n in enumerate(x.shape) if i not in axes))


@_export
def flip(x, /, *, axis=None):
    """Reverse along axes (mx.np.flip rejects bool)."""
    axis = None if axis is None else _axes(axis, x.ndim)
    return _via(_BOOL_AS_UINT8, lambda a: mnp.flip(a, axis=axis), x)


@_export
def roll(x, /, shift, *, axis=None):
    """Roll along axes (mx.np.roll rejects bool)."""
    return _via(_BOOL_AS_UINT8, lambda a: mnp.roll(a, shift, axis=axis), x)


@_export
def broadcast_to(x, /, shape):
    return mnp.broadcast_to(x, _shape(shape))


@_export
def broadcast_arrays(*arrays):
    return list(mnp.broadcast_arrays(*arrays))


@_export
def concat(arrays, /, *, axis=0):
    """Join arrays after type promotion (missing in mx.np; its concatenate rejects mixed
    dtypes); ``axis=None`` joins them flattened."""
    d = result_type(*arrays)
    arrays = [astype(a, d, copy=False) for a in arrays]
    if axis is None:
        return mnp.concatenate([mnp.reshape(a, (-1,)) for a in arrays], axis=0)
    return mnp.concatenate(arrays, axis=_axis(axis, arrays[0].ndim))


@_export
def stack(arrays, /, *, axis=0):
    """Stack arrays after type promotion (mx.np.stack rejects mixed dtypes)."""
    d = result_type(*arrays)
    return mnp.stack([astype(a, d, copy=False) for a in arrays], axis=axis)


@_export
def take(x, indices, /, *, axis=None):
    """Elements at ``indices`` along ``axis``; negative indices count from the end
    (mx.np.take rejects them)."""
    if axis is None:
        if x.ndim != 1:
            raise ValueError("take needs axis= for arrays of more than one dimension")
        axis = 0
    axis = _axis(axis, x.ndim)
    idx = indices if _is_array(indices) else asarray(indices, dtype=_INT64, device=x.ctx)
    idx = where(less(idx, 0), add(idx, x.shape[axis]), idx)
    return mnp.take(x, idx, axis=axis)


def _count(name, value) -> int:
    """A non-negative Python int (bools and floats refused)."""
    value = _py(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ArgumentError(f"{name}: expected a non-negative int, got {value!r}")
    return value


@_export
def repeat(x, repeats, /, *, axis=None):
    """Each element repeated ``repeats`` times along ``axis`` (None: of the flattened array).

    Parameters
    ----------
    x : array
    repeats : int or array
        A non-negative int, or a 1-D integer array of one count or a count per element.
        mx.np.repeat takes an int only; a count per element is read from the device (the
        result's shape depends on it) and gathered with ``take``, so autograd reaches ``x``.
    axis : int, optional

    Returns
    -------
    array
        Of ``x``'s dtype; 1-D when ``axis`` is None.

    Raises
    ------
    ArgumentError
        A negative count, or a ``repeats`` array of the wrong shape.
    ArrayTypeError
        A ``repeats`` array that is not of an integer dtype.

    Examples
    --------
    >>> xp.repeat(xp.asarray([1, 2]), xp.asarray([2, 0]))  # array([1, 1])
    """
    if axis is None:
        x, axis = mnp.reshape(x, (-1,)), 0
    else:
        axis = _axis(axis, x.ndim)
    if _is_array(repeats):
        if repeats.dtype.kind not in "iu":
            raise ArrayTypeError(
                f"repeat: repeats must be of an integer dtype, got {repeats.dtype}"
            )
        if repeats.ndim != 1 or repeats.shape[0] not in (1, x.shape[axis]):
            raise ArgumentError(
                f"repeat: repeats must have shape (1,) or ({x.shape[axis]},), got {repeats.shape}"
            )
        counts = repeats.asnumpy()
        if (counts < 0).any():
            raise ArgumentError(f"repeat: repeats must be non-negative, got {counts.min()}")
        if counts.shape[0] != 1:
            index = onp.repeat(onp.arange(x.shape[axis]), counts)
            return mnp.take(x, mnp.array(index, dtype=_INT64, ctx=x.ctx), axis=axis)
        repeats = int(counts[0])
    return mnp.repeat(x, _count("repeat: repeats", repeats), axis=axis)


@_export
def tile(x, repetitions, /):
    """``x`` repeated ``repetitions[i]`` times along each axis, as NumPy's tile (a shorter
    ``repetitions`` is padded with ones in front, a longer one adds leading axes)."""
    reps = tuple(_count("tile: repetitions", r) for r in repetitions)
    if not reps:
        return x.copy()
    return mnp.tile(x, reps)


@_export
def unstack(x, /, *, axis=0):
    """The arrays along ``axis`` as a tuple (missing in mx.np)."""
    if x.ndim == 0:
        raise ArgumentError("unstack: a 0-d array has no axis to unstack along")
    moved = moveaxis(x, _axis(axis, x.ndim), 0)
    return tuple(moved[i] for i in range(moved.shape[0]))


def _pad_widths(pad_width, ndim: int) -> list:
    """``(before, after)`` per axis from an int, a pair, or a pair per axis (NumPy's forms)."""
    widths = onp.asarray(pad_width)
    if widths.dtype.kind not in "iu":
        raise TypeError(f"pad widths must be integers, got {pad_width!r}")
    widths = onp.broadcast_to(widths, (ndim, 2))
    if (widths < 0).any():
        raise ValueError(f"pad widths must be non-negative, got {pad_width!r}")
    return [(int(b), int(a)) for b, a in widths]


@_export
def pad(x, /, pad_width, mode="constant", *, constant_values=0):
    """Pad ``x``; mx.np.pad ignores ``constant_values`` (it pads zeros), so constant padding
    is a concatenation with ``full`` blocks: any value (-inf included), any axes, and
    autograd reaches ``x``. Other modes go to mx.np.pad."""
    widths = _pad_widths(pad_width, x.ndim)
    if mode != "constant":
        return mnp.pad(x, tuple(widths), mode=mode)
    value = _py(constant_values)
    if x.dtype.kind in "iu" and isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"cannot pad an integer array with {value}")
    out = x
    for axis, (before, after) in enumerate(widths):
        if before or after:
            out = mnp.concatenate(_padded_blocks(out, axis, before, after, value), axis=axis)
    return x.copy() if out is x else out


def _padded_blocks(x, axis, before, after, value) -> list:
    """``[block before, x, block after]`` along ``axis``, leaving out empty blocks (MXNet's
    legacy shape mode has no zero-size arrays)."""
    blocks = []
    for width in (before, after):
        shape = list(x.shape)
        shape[axis] = width
        blocks.append(_full(shape, value, x.dtype, x.ctx) if width else None)
    return [b for b in (blocks[0], x, blocks[1]) if b is not None]


# ==========================================================================================
# reductions and statistics
# ==========================================================================================
def _sum_dtype(x, dtype) -> onp.dtype:
    """The standard's accumulator: the default int for bool and integers (int64 for uint8,
    MXNet has no uint64; MXNet keeps int8 and int32)."""
    if dtype is not None:
        return _dtype(dtype)
    return _DEFAULT_INT if x.dtype.kind in "biu" else x.dtype


def _accumulate(fn, x, dtype, **kwargs):
    """``fn`` (sum, prod or cumsum) accumulating in ``dtype``; MXNet's kernels have no uint8
    accumulator, so uint8 accumulates in int64 and wraps when cast back, as in NumPy."""
    if dtype == _UINT8:
        return fn(x, dtype=_INT64, **kwargs).astype(_UINT8)
    return fn(x, dtype=dtype, **kwargs)


def _reduce_axis(axis, ndim):
    return None if axis is None else _axes(axis, ndim)


def _kept_shape(x, axes) -> tuple:
    return tuple(1 if i in axes else n for i, n in enumerate(x.shape))


def _empty_reduction(name, x, axis, keepdims, identity, dtype):
    """The reduction of a zero-size ``x``, built without MXNet: its reductions of zero-size
    arrays give 0 for prod and mean, fail for all and max, and its broadcasts of them can
    crash. Every element is ``identity`` (None: the reduction has none, and reducing no
    elements is an error, as in NumPy; a result with no elements needs none)."""
    axes = _axes(axis, x.ndim)
    shape = _kept_shape(x, axes)
    if not keepdims:
        shape = tuple(n for i, n in enumerate(x.shape) if i not in axes)
    if identity is None:
        if math.prod(x.shape[a] for a in axes) == 0:
            raise ArgumentError(
                f"{name}: axis={axis!r} of an array of shape {x.shape} holds no elements, "
                f"and the {name} of no elements is undefined"
            )
        identity = 0
    return _full(shape, identity, dtype, x.ctx)


@_export
def sum_(x, /, *, axis=None, dtype=None, keepdims=False):
    """Sum; bool and integers accumulate in the default int (see :func:`_sum_dtype`); 0 for
    no elements."""
    d = _sum_dtype(x, dtype)
    if axis == ():
        return astype(x, d)
    if x.size == 0:
        return _empty_reduction("sum", x, axis, keepdims, 0, d)
    return _accumulate(mnp.sum, x, d, axis=_reduce_axis(axis, x.ndim), keepdims=keepdims)


@_export
def prod(x, /, *, axis=None, dtype=None, keepdims=False):
    """Product; bool and integers accumulate in the default int (see :func:`_sum_dtype`); 1
    for no elements (mx.np.prod gives 0)."""
    d = _sum_dtype(x, dtype)
    if axis == ():
        return astype(x, d)
    if x.size == 0:
        return _empty_reduction("prod", x, axis, keepdims, 1, d)
    return _accumulate(mnp.prod, x, d, axis=_reduce_axis(axis, x.ndim), keepdims=keepdims)


@_export
def mean(x, /, *, axis=None, keepdims=False):
    """Mean; integer input gives the default float; NaN for no elements (mx.np.mean gives 0)."""
    x = _floating(x)
    if axis == ():
        return x.copy()
    if x.size == 0:
        return _empty_reduction("mean", x, axis, keepdims, math.nan, x.dtype)
    return mnp.mean(x, axis=_reduce_axis(axis, x.ndim), keepdims=keepdims)


@_export
def max_(x, /, *, axis=None, keepdims=False):
    """Maximum; reducing no elements raises ``ArgumentError`` (a ValueError), as in NumPy."""
    if x.size == 0:
        return _empty_reduction("max", x, axis, keepdims, None, x.dtype)
    return mnp.max(x, axis=_reduce_axis(axis, x.ndim), keepdims=keepdims)


@_export
def min_(x, /, *, axis=None, keepdims=False):
    """Minimum; reducing no elements raises ``ArgumentError`` (a ValueError), as in NumPy."""
    if x.size == 0:
        return _empty_reduction("min", x, axis, keepdims, None, x.dtype)
    return mnp.min(x, axis=_reduce_axis(axis, x.ndim), keepdims=keepdims)


@_export
def any_(x, /, *, axis=None, keepdims=False):
    """Whether any element is true; False for no elements."""
    if x.size == 0:
        return _empty_reduction("any", x, axis, keepdims, False, _BOOL)
    return mnp.any(x, axis=_reduce_axis(axis, x.ndim), keepdims=keepdims)


@_export
def all_(x, /, *, axis=None, keepdims=False):
    """Whether every element is true; True for no elements (mx.np.all fails on them)."""
    if x.size == 0:
        return _empty_reduction("all", x, axis, keepdims, True, _BOOL)
    return mnp.all(x, axis=_reduce_axis(axis, x.ndim), keepdims=keepdims)


def _drop_axes(y, x, axis, keepdims):
    """A result computed with ``keepdims=True`` reshaped to the requested shape (computing
    with kept dimensions avoids 0-d intermediates, which legacy shape mode lacks)."""
    if keepdims:
        return y
    axes = _axes(axis, x.ndim)
    return mnp.reshape(y, tuple(n for i, n in enumerate(x.shape) if i not in axes))


def _variance_kept(x, axis, correction):
    """Variance with kept dimensions as the mean of squared deviations: mx.np.var and
    mx.np.std have zero gradients under autograd. NaN where ``N - correction <= 0``, as the
    standard says (a division by zero would give inf for nonzero squares)."""
    x = _floating(x)
    axes = _axes(axis, x.ndim)
    count = math.prod(x.shape[a] for a in axes)
    if x.size == 0:
        return _full(_kept_shape(x, axes), math.nan, x.dtype, x.ctx)
    deviation = mnp.subtract(x, mnp.mean(x, axis=axes, keepdims=True))
    squares = mnp.sum(mnp.square(deviation), axis=axes, keepdims=True)
    divisor = count - correction
    return mnp.divide(squares, float(divisor) if divisor > 0 else math.nan)


@_export
def var(x, /, *, axis=None, correction=0.0, keepdims=False):
    """Variance, differentiable (see :func:`_variance_kept`)."""
    return _drop_axes(_variance_kept(x, axis, correction), x, axis, keepdims)


@_export
def std(x, /, *, axis=None, correction=0.0, keepdims=False):
    """Standard deviation, differentiable (see :func:`_variance_kept`)."""
    return _drop_axes(mnp.sqrt(_variance_kept(x, axis, correction)), x, axis, keepdims)


@_export
def cumulative_sum(x, /, *, axis=None, dtype=None, include_initial=False):
    """Cumulative sum (mx.np.cumsum rejects negative axes and keeps int8/int32)."""
    if axis is None:
        if x.ndim != 1:
            raise ValueError("cumulative_sum needs axis= for arrays of more than one dimension")
        axis = 0
    axis, d = _axis(axis, x.ndim), _sum_dtype(x, dtype)
    out = _accumulate(mnp.cumsum, x, d, axis=axis)
    if not include_initial:
        return out
    shape = list(x.shape)
    shape[axis] = 1
    return mnp.concatenate([_full(shape, 0, d, x.ctx), out], axis=axis)


def _arg_extremum(fn, x, axis, keepdims):
    """Index of the first extremum; ``keepdims`` supported (mx.np's argmax/argmin lack it
    and reject bool). Searching no elements raises ``ArgumentError``, as in NumPy."""
    if x.size == 0:
        return _empty_reduction(fn.__name__, x, axis, keepdims, None, _INT64)
    x = x.astype(_UINT8) if x.dtype == _BOOL else x
    if axis is None:
        flat = fn(mnp.reshape(x, (1, -1)), axis=1)
        return mnp.reshape(flat, (1,) * x.ndim if keepdims else ())
    axis = _axis(axis, x.ndim)
    out = fn(x, axis=axis)
    return mnp.expand_dims(out, axis) if keepdims else out


@_export
def argmax(x, /, *, axis=None, keepdims=False):
    return _arg_extremum(mnp.argmax, x, axis, keepdims)


@_export
def argmin(x, /, *, axis=None, keepdims=False):
    return _arg_extremum(mnp.argmin, x, axis, keepdims)


# ==========================================================================================
# sorting and searching
# ==========================================================================================
def _gather_last(a, idx):
    """``a`` indexed along its last axis by ``idx`` row by row, through ``take`` on the
    flattened array (take has a gradient; take_along_axis fails under autograd)."""
    n = a.shape[-1]
    rows = math.prod(idx.shape[:-1])
    offsets = mnp.arange(rows, dtype=_INT64, ctx=a.ctx) * n
    flat_idx = mnp.add(idx, mnp.reshape(offsets, idx.shape[:-1] + (1,)))
    picked = mnp.take(mnp.reshape(a, (-1,)), mnp.reshape(flat_idx, (-1,)))
    return mnp.reshape(picked, idx.shape)


def _dense_rank_last(key):
    """Rank of each element among the distinct values along the last axis (equal values
    share a rank), from MXNet's unstable argsort: which of several equal values comes
    first does not change the ranks."""
    order = mnp.argsort(key, axis=-1)
    ranked = _gather_last(key, order)
    new_value = mnp.not_equal(ranked[..., 1:], ranked[..., :-1])
    first = _full(key.shape[:-1] + (1,), 0, _INT64, key.ctx)
    steps = mnp.cumsum(new_value, axis=key.ndim - 1, dtype=_INT64)
    dense = mnp.concatenate([first, steps], axis=key.ndim - 1)
    return _gather_last(dense, mnp.argsort(order, axis=-1))


def _stable_argsort_last(x, descending):
    """Stable argsort along the last axis: mx.np.argsort is unstable (and misorders NaN),
    so sort on the unique key ``rank * n + index``. NaNs sort last, as in NumPy."""
    n = x.shape[-1]
    if n <= 1:
        return mnp.zeros(x.shape, dtype=_INT64, ctx=x.ctx)
    key = x.astype(_BOOL_UINT8_FLOAT16[x.dtype]) if x.dtype in _BOOL_UINT8_FLOAT16 else x
    nan = None
    if key.dtype.kind == "f":
        nan = mnp.isnan(key)
        key = _select(nan, _full((1,) * key.ndim, math.inf, key.dtype, key.ctx), key)
    rank = _dense_rank_last(key)
    if nan is not None:
        rank = mnp.add(rank, nan.astype(_INT64))
    if descending:
        rank = mnp.negative(rank)
    index = mnp.arange(n, dtype=_INT64, ctx=x.ctx)
    return mnp.argsort(mnp.add(rank * n, index), axis=-1)


@_export
def argsort(x, /, *, axis=-1, descending=False, stable=True):
    """Indices that sort ``x`` along ``axis``, always stable (see
    :func:`_stable_argsort_last`)."""
    axis = _axis(axis, x.ndim)
    with mx.autograd.pause():
        last = moveaxis(x, axis, -1)
        return mnp.moveaxis(_stable_argsort_last(last, descending), -1, axis)


@_export
def sort(x, /, *, axis=-1, descending=False, stable=True):
    """Sorted values, gathered by the stable argsort (differentiable; mx.np.sort rejects
    bool and float16 and misorders NaN)."""
    axis = _axis(axis, x.ndim)
    last = moveaxis(x, axis, -1)
    with mx.autograd.pause():
        order = _stable_argsort_last(last, descending)
    return moveaxis(_gather_last(last, order), -1, axis)


@_export
def unique_values(x, /):
    """Sorted distinct values; NaNs are each distinct (mx.np.unique drops them and rejects
    bool). Reads one flag (are there NaNs?) from the device, as any data-dependent shape."""
    flat = mnp.reshape(x, (-1,))
    if x.dtype.kind != "f":
        return _via(_BOOL_AS_UINT8, mnp.unique, flat)
    nan = mnp.isnan(flat)
    if not builtins.bool(mnp.any(nan)):
        return mnp.unique(flat)
    if builtins.bool(mnp.all(nan)):
        return flat.copy()
    return mnp.concatenate([mnp.unique(flat[mnp.logical_not(nan)]), flat[nan]])


@_export
def searchsorted(x1, x2, /, *, side="left", sorter=None):
    """Indices where the elements of ``x2`` would be inserted into the sorted 1-D ``x1`` to
    keep it sorted (``side="left"``: before equal elements, ``"right"``: after them), in
    the default index dtype; NaNs sort last, as in :func:`sort`. The operands are compared
    in their promoted dtype (mx.np.searchsorted needs one dtype)."""
    if side not in ("left", "right"):
        raise ArgumentError(f"searchsorted: side must be 'left' or 'right', got {side!r}")
    if not _is_array(x1) or x1.ndim != 1:
        raise ArgumentError(
            f"searchsorted: x1 must be a 1-D array, got {getattr(x1, 'shape', type(x1))}"
        )
    if sorter is not None:
        x1 = take(x1, sorter)
    values = x2 if _is_array(x2) else asarray(x2, device=x1.ctx)
    d = result_type(x1, values)
    return mnp.searchsorted(astype(x1, d, copy=False), astype(values, d, copy=False), side=side)


UniqueAllResult = collections.namedtuple(
    "UniqueAllResult", ["values", "indices", "inverse_indices", "counts"]
)
UniqueCountsResult = collections.namedtuple("UniqueCountsResult", ["values", "counts"])
UniqueInverseResult = collections.namedtuple("UniqueInverseResult", ["values", "inverse_indices"])


def _unique_groups(x) -> UniqueAllResult:
    """The distinct values of ``x`` with the index of each one's first occurrence, the group
    of every element (shaped as ``x``) and the group sizes, from the stable sort of the
    flattened array: a group starts where a sorted value differs from the one before, so
    each NaN is a group of its own (mx.np.unique drops NaNs). Values are sorted, NaNs last."""
    flat = mnp.reshape(x, (-1,))
    n = flat.shape[0]
    if n == 0:
        none = _full((0,), 0, _INT64, x.ctx)
        return UniqueAllResult(flat.copy(), none, _full(x.shape, 0, _INT64, x.ctx), none)
    with mx.autograd.pause():
        order = _stable_argsort_last(flat, descending=False)
        key = mnp.take(flat, order)
        if key.dtype in _BOOL_UINT8_FLOAT16:
            key = key.astype(_BOOL_UINT8_FLOAT16[key.dtype])
        new = _full((1,), True, _BOOL, x.ctx)
        if n > 1:
            new = mnp.concatenate([new, mnp.not_equal(key[1:], key[:-1])])
        starts = mnp.nonzero(new)[0]
        ends = _full((1,), n, _INT64, x.ctx)
        if starts.shape[0] > 1:
            ends = mnp.concatenate([starts[1:], ends])
        groups = mnp.subtract(mnp.cumsum(new, dtype=_INT64), 1)
        inverse = mnp.reshape(mnp.take(groups, mnp.argsort(order)), x.shape)
        first = mnp.take(order, starts)
    return UniqueAllResult(mnp.take(flat, first), first, inverse, mnp.subtract(ends, starts))


@_export
def unique_all(x, /):
    """Distinct values, the index of each one's first occurrence, the inverse indices (shaped
    as ``x``) and the counts, as ``UniqueAllResult``; NaNs are each distinct."""
    return _unique_groups(x)


@_export
def unique_counts(x, /):
    """Distinct values and their counts, as ``UniqueCountsResult``; NaNs are each distinct."""
    out = _unique_groups(x)
    return UniqueCountsResult(out.values, out.counts)


@_export
def unique_inverse(x, /):
    """Distinct values and the inverse indices (shaped as ``x``), as ``UniqueInverseResult``;
    NaNs are each distinct."""
    out = _unique_groups(x)
    return UniqueInverseResult(out.values, out.inverse_indices)


@_export
def nonzero(x, /):
    if x.ndim == 0:
        raise ValueError("nonzero is not defined for 0-d arrays")
    return tuple(mnp.nonzero(x))


# ==========================================================================================
# linear algebra
# ==========================================================================================
def _float_kernel(dtype, ctx) -> bool:
    """Whether MXNet's matmul/tensordot kernels take this dtype here (float16 on GPU only)."""
    return dtype in (_FLOAT32, _FLOAT64) or (dtype == _FLOAT16 and ctx.device_type == "gpu")


def _matmul_shape(a, b) -> tuple:
    """The shape of ``a @ b`` by the standard's rules (a 1-D operand is a row or a column
    that the result drops; batch axes broadcast); ArgumentError naming the shapes else."""
    if a.ndim == 0 or b.ndim == 0:
        raise ArgumentError(f"matmul: operands must have a dimension, got {a.shape} and {b.shape}")
    inner_a, inner_b = a.shape[-1], b.shape[-2] if b.ndim > 1 else b.shape[0]
    if inner_a != inner_b:
        raise ArgumentError(
            f"matmul: the last axis of x1 (shape {a.shape}) and the "
            f"{'second-to-last' if b.ndim > 1 else 'only'} axis of x2 (shape {b.shape}) differ"
        )
    try:
        batch = onp.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        raise ArgumentError(
            f"matmul: the batch axes of shapes {a.shape} and {b.shape} do not broadcast"
        ) from None
    return batch + a.shape[-2:-1] + (b.shape[-1:] if b.ndim > 1 else ())


def _matmul_by_sum(a, b, shape):
    """Matrix product as a broadcast product summed over the inner axis: exact for integers
    and bool like NumPy's (MXNet's matmul kernels are floating point only)."""
    a2 = mnp.expand_dims(a, 0) if a.ndim == 1 else a
    b2 = mnp.expand_dims(b, 1) if b.ndim == 1 else b
    products = mnp.multiply(mnp.expand_dims(a2, -1), mnp.expand_dims(b2, -3))
    total = sum_(products, axis=products.ndim - 2, dtype=_INT64 if a.dtype == _BOOL else a.dtype)
    return mnp.reshape(total, shape).astype(a.dtype, copy=False)


@_export
def matmul(x1, x2, /):
    """Matrix product after type promotion, for every dtype (MXNet's kernel takes float32 and
    float64 only, and float16 on GPU). Shapes are checked first (ArgumentError), and a
    product with a zero-size operand is built without MXNet, which fails on some."""
    a, b = _operands(x1, x2)
    shape = _matmul_shape(a, b)
    if a.size == 0 or b.size == 0:
        return _full(shape, 0, a.dtype, a.ctx)
    if _float_kernel(a.dtype, a.ctx):
        return mnp.matmul(a, b)
    if a.dtype == _FLOAT16:
        return mnp.matmul(a.astype(_FLOAT32), b.astype(_FLOAT32)).astype(_FLOAT16)
    return _matmul_by_sum(a, b, shape)


def _tensordot_axes(axes, a, b) -> tuple:
    """The contracted axes of ``a`` and ``b`` as two lists of non-negative axes, checked as
    the standard asks (an ``N`` within both ranks, two sequences of one length, no axis
    twice, equal sizes: contracted axes do not broadcast); ArgumentError else."""
    if isinstance(axes, bool) or not isinstance(axes, (int, tuple, list)):
        raise ArgumentError(f"tensordot: axes must be an int or two sequences, got {axes!r}")
    if isinstance(axes, int):
        if not 0 <= axes <= builtins.min(a.ndim, b.ndim):
            raise ArgumentError(
                f"tensordot: axes={axes} must be in [0, {builtins.min(a.ndim, b.ndim)}] for "
                f"shapes {a.shape} and {b.shape}"
            )
        ax_a, ax_b = list(range(a.ndim - axes, a.ndim)), list(range(axes))
    else:
        if len(axes) != 2:
            raise ArgumentError(f"tensordot: axes must be two sequences, got {axes!r}")
        ax_a, ax_b = [[v] if isinstance(v, int) else list(v) for v in axes]
        if len(ax_a) != len(ax_b):
            raise ArgumentError(f"tensordot: the two sequences of axes differ in length: {axes!r}")
        ax_a, ax_b = [_axis(i, a.ndim) for i in ax_a], [_axis(i, b.ndim) for i in ax_b]
        if len(set(ax_a)) != len(ax_a) or len(set(ax_b)) != len(ax_b):
            raise ArgumentError(f"tensordot: an axis is contracted twice: {axes!r}")
    for i, j in zip(ax_a, ax_b):
        if a.shape[i] != b.shape[j]:
            raise ArgumentError(
                f"tensordot: axis {i} of x1 (shape {a.shape}) and axis {j} of x2 (shape "
                f"{b.shape}) differ in size"
            )
    return ax_a, ax_b


def _tensordot_by_matmul(a, b, ax_a, ax_b, shape):
    """Tensordot as one matmul of reshaped operands (for dtypes MXNet's kernel lacks)."""
    free_a = [i for i in range(a.ndim) if i not in ax_a]
    free_b = [i for i in range(b.ndim) if i not in ax_b]
    inner = math.prod(a.shape[i] for i in ax_a)
    a2 = mnp.reshape(permute_dims(a, free_a + ax_a), (-1, inner))
    b2 = mnp.reshape(permute_dims(b, ax_b + free_b), (inner, -1))
    return mnp.reshape(matmul(a2, b2), shape)


@_export
def tensordot(x1, x2, /, *, axes=2):
    """Tensor contraction after type promotion, for every dtype. The axes are checked first
    (ArgumentError: MXNet crashes the process on some bad ones), and a contraction with a
    zero-size operand is built without MXNet."""
    a, b = _operands(x1, x2)
    ax_a, ax_b = _tensordot_axes(axes, a, b)
    shape = tuple(n for i, n in enumerate(a.shape) if i not in ax_a)
    shape += tuple(n for i, n in enumerate(b.shape) if i not in ax_b)
    if a.size == 0 or b.size == 0:
        return _full(shape, 0, a.dtype, a.ctx)
    if _float_kernel(a.dtype, a.ctx):
        return mnp.tensordot(a, b, (ax_a, ax_b))
    return _tensordot_by_matmul(a, b, ax_a, ax_b, shape)


@_export
def vecdot(x1, x2, /, *, axis=-1):
    """Dot product along ``axis`` of the broadcast operands (missing in mx.np); the axis
    must have one size in both (it does not broadcast), else ArgumentError."""
    a, b = _operands(x1, x2)
    try:
        ndim = len(onp.broadcast_shapes(a.shape, b.shape))
    except ValueError:
        raise ArgumentError(f"vecdot: shapes {a.shape} and {b.shape} do not broadcast") from None
    k = _axis(axis, ndim) - ndim  # counted from the end, as broadcasting aligns
    if -k > builtins.min(a.ndim, b.ndim) or a.shape[k] != b.shape[k]:
        raise ArgumentError(
            f"vecdot: axis {axis} must have one size in x1 (shape {a.shape}) and x2 (shape "
            f"{b.shape})"
        )
    products = mnp.multiply(a, b)
    d = a.dtype if a.dtype != _BOOL else _INT64
    return sum_(products, axis=k, dtype=d).astype(a.dtype, copy=False)


@_export
def einsum(subscripts, /, *operands):
    """Einstein summation after type promotion (mx.np.einsum rejects mixed dtypes)."""
    d = result_type(*operands)
    return mnp.einsum(subscripts, *[astype(a, d, copy=False) for a in operands])


# ==========================================================================================
# the array class: what mx.np.ndarray lacks
# ==========================================================================================
#: mx.np.ndarray's own methods that the wrappers below fall back to, by name
_MX_METHODS: dict[str, Callable] = {}


def _is_empty_mask(k) -> bool:
    return (_is_array(k) or isinstance(k, onp.ndarray)) and k.dtype == _BOOL and k.size == 0


def _empty_result(x, items: tuple):
    """``x[items]`` for a zero-size ``x`` or a key holding a zero-size boolean mask, which
    crash MXNet (a segmentation fault) or fail in it: such a result has no elements, and its
    shape (or the IndexError) comes from NumPy indexing a stand-in of ``x``'s shape that
    holds no memory."""
    if len(items) == 1 and _is_empty_mask(items[0]):  # the standard's case: x's leading axes
        mask = items[0]
        if mask.ndim > x.ndim or builtins.any(m not in (n, 0) for m, n in zip(mask.shape, x.shape)):
            raise IndexError(
                f"a boolean index of shape {mask.shape} does not match the leading axes of "
                f"an array of shape {x.shape}"
            )
        return _full((0,) + x.shape[mask.ndim :], 0, x.dtype, x.ctx)
    stand_in = onp.lib.stride_tricks.as_strided(onp.zeros(1, _BOOL), x.shape, (0,) * x.ndim)
    host = tuple(k.asnumpy() if _is_array(k) else k for k in items)
    return _full(stand_in[host].shape, 0, x.dtype, x.ctx)


def _getitem(self, key):
    """``self[key]`` by MXNet, except for a zero-size array or a zero-size boolean mask
    (which crash MXNet or fail in it, see :func:`_empty_result`) and ``...``/``None`` on a
    0-d array (MXNet takes only ``()`` there): ``x[...]`` is ``x``, each ``None`` adds an
    axis."""
    items = key if isinstance(key, tuple) else (key,)
    # the shape is asked for only where it matters: plain indexing stays as fast as MXNet's
    if builtins.any(isinstance(k, (mnp.ndarray, onp.ndarray, list)) for k in items):
        if 0 in self.shape or builtins.any(_is_empty_mask(k) for k in items):
            return _empty_result(self, items)
    elif items and builtins.all(k is Ellipsis or k is None for k in items) and self.ndim == 0:
        if builtins.sum(k is Ellipsis for k in items) > 1:
            raise IndexError("an index can only have a single ellipsis ('...')")
        return mnp.reshape(self, (1,) * builtins.sum(k is None for k in items))
    return _MX_METHODS["__getitem__"](self, key)


def _setitem(self, key, value):
    """``self[key] = value`` by MXNet, except where its ``__getitem__`` needs help (see
    :func:`_getitem`): a zero-size array or boolean mask selects no elements, so nothing is
    written (once the key and the value's shape are checked; MXNet fails on these), and
    ``x[...] = value`` on a 0-d array writes ``x[()]``."""
    items = key if isinstance(key, tuple) else (key,)
    if builtins.any(isinstance(k, (mnp.ndarray, onp.ndarray, list)) for k in items):
        if 0 in self.shape or builtins.any(_is_empty_mask(k) for k in items):
            shape = _empty_result(self, items).shape
            try:
                fits = onp.broadcast_shapes(onp.shape(value), shape) == shape
            except ValueError:
                fits = False
            if not fits:
                raise ValueError(f"cannot assign a value of shape {onp.shape(value)} to {shape}")
            return
    elif items and builtins.all(k is Ellipsis for k in items) and self.ndim == 0:
        if len(items) > 1:
            raise IndexError("an index can only have a single ellipsis ('...')")
        key = ()
    _MX_METHODS["__setitem__"](self, key, value)


def _promoting(name: str, function: Callable) -> Callable:
    """An operator that hands array operands of two dtypes to the namespace's ``function``,
    which promotes them by the standard's table (MXNet raises), and leaves every other call
    to MXNet's own operator."""

    def method(self, other):
        if _is_array(other) and other.dtype != self.dtype:
            return function(self, other)
        return _MX_METHODS[name](self, other)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"MXNet's {name}, after type promotion for operands of two dtypes."
    return method


def _store(name: str, self, result):
    """``result`` written into ``self``, as an in-place operator does: the standard allows
    it only where the result has ``self``'s dtype and shape."""
    if result.dtype != self.dtype or result.shape != self.shape:
        raise ArrayTypeError(
            f"{name}: the result ({result.dtype}, shape {result.shape}) cannot be stored in "
            f"the array ({self.dtype}, shape {self.shape})"
        )
    result.copyto(self)
    return self


def _in_place(name: str, function: Callable) -> Callable:
    """An in-place operator: MXNet's own where it has one and the operand is no array of
    another dtype (MXNet raises on those), else ``function``'s promoted result stored into
    ``self`` (see :func:`_store`)."""

    def method(self, other):
        own = _MX_METHODS.get(name)
        if own is not None and not (_is_array(other) and other.dtype != self.dtype):
            return own(self, other)
        return _store(name, self, function(self, other))

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"In-place {function.__name__}; operands of two dtypes are promoted first."
    return method


def _matmul_method(self, other):
    """``self @ other`` by the namespace's matmul where MXNet's kernel refuses the operands
    (two dtypes, or a dtype other than float32/float64), else MXNet's own."""
    if _is_array(other) and not (other.dtype == self.dtype and _float_kernel(self.dtype, self.ctx)):
        return matmul(self, other)
    return _MX_METHODS["__matmul__"](self, other)


def _forward(function: Callable, name: str) -> Callable:
    def method(self, other):
        return function(self, other)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"``{function.__name__}(self, other)`` (MXNet has no {name})."
    return method


def _reflected(function: Callable, name: str) -> Callable:
    def method(self, other):
        return function(other, self)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"``{function.__name__}(other, self)`` (MXNet has no {name})."
    return method


def _index(self) -> int:
    """``operator.index`` of a 0-d integer array (MXNet has no ``__index__``)."""
    if self.ndim != 0 or self.dtype.kind not in "iu":
        raise ArrayTypeError(
            f"only 0-d integer arrays can be used as an index, got a {self.ndim}-d {self.dtype} "
            "array"
        )
    return int(self.item())


def _complex(self) -> complex:
    return complex(float(self))


def _to_device(self, device, /, *, stream=None):
    """The array on ``device`` (an MXNet context): itself if it is there already, else a
    copy. ``stream`` is accepted and unused: MXNet orders the copy itself."""
    if not isinstance(device, mx.Context):
        raise ArrayTypeError(f"to_device: expected an mxnet Context, got {device!r}")
    return self if device == self.ctx else self.as_in_ctx(device)


_API_VERSIONS = ("2021.12", "2022.12", "2023.12")


def _array_namespace(self, /, *, api_version=None):
    """This namespace (it implements the standard's 2023.12 version and the earlier ones)."""
    if api_version is not None and api_version not in _API_VERSIONS:
        raise ArgumentError(
            f"api_version: expected None or one of {', '.join(_API_VERSIONS)}, got {api_version!r}"
        )
    return namespace()


def _dlpack(self, /, *, stream=None, max_version=None, dl_device=None, copy=None):
    """A DLPack capsule of the array's memory (unversioned, which the standard allows a
    producer without versioned support), from MXNet's ``to_dlpack_for_write``: it waits
    for the array's pending reads and writes, so a consumer may write into it. ``dl_device``
    elsewhere means a copy there (refused with ``copy=False``); ``copy=True`` exports a
    copy; ``stream`` is unused, as MXNet has finished the array when the capsule exists."""
    if self.dtype == _BOOL:  # MXNet exports them, but the importer fails
        raise BufferError("__dlpack__: MXNet 1.9.1 cannot export bool arrays through DLPack")
    x = self
    if dl_device is not None and tuple(dl_device) != _dlpack_device(self.ctx):
        if copy is False:
            raise BufferError(f"__dlpack__: copy=False, but the array is on {self.ctx}")
        kind, device_id = dl_device
        x = self.as_in_ctx(mx.gpu(device_id) if kind == 2 else mx.cpu())
    elif copy:
        x = self.copy()
    return mx.nd.to_dlpack_for_write(x.as_nd_ndarray())


def _dlpack_device_method(self) -> tuple:
    return _dlpack_device(self.ctx)


#: operators MXNet has and raises in for operands of two dtypes, by the namespace function
_PROMOTED = {
    "__lt__": "less",
    "__le__": "less_equal",
    "__gt__": "greater",
    "__ge__": "greater_equal",
    "__eq__": "equal",
    "__ne__": "not_equal",
    "__and__": "bitwise_and",
    "__or__": "bitwise_or",
    "__xor__": "bitwise_xor",
}


#: in-place operators, by the namespace function (MXNet raises on operands of two dtypes
#: or, for //=, <<= and >>=, has none)
_IN_PLACE = {
    "__isub__": "subtract",
    "__itruediv__": "divide",
    "__imod__": "remainder",
    "__ipow__": "pow",
    "__iand__": "bitwise_and",
    "__ior__": "bitwise_or",
    "__ixor__": "bitwise_xor",
    "__ifloordiv__": "floor_divide",
    "__ilshift__": "bitwise_left_shift",
    "__irshift__": "bitwise_right_shift",
}


def _additions() -> dict:
    """What the standard's array object has and mx.np.ndarray lacks, by name."""
    api = _API
    return {
        "device": property(lambda self: self.ctx, doc="The array's MXNet context."),
        "mT": property(lambda self: matrix_transpose(self), doc="The last two axes swapped."),
        "to_device": _to_device,
        "__array_namespace__": _array_namespace,
        "__dlpack__": _dlpack,
        "__dlpack_device__": _dlpack_device_method,
        "__index__": _index,
        "__complex__": _complex,
        "__pos__": lambda self: positive(self),
        "__floordiv__": _forward(api["floor_divide"], "__floordiv__"),
        "__rfloordiv__": _reflected(api["floor_divide"], "__rfloordiv__"),
        "__lshift__": _forward(api["bitwise_left_shift"], "__lshift__"),
        "__rlshift__": _reflected(api["bitwise_left_shift"], "__rlshift__"),
        "__rshift__": _forward(api["bitwise_right_shift"], "__rshift__"),
        "__rrshift__": _reflected(api["bitwise_right_shift"], "__rrshift__"),
    }


def _install_array_methods(cls) -> None:
    """Complete MXNet's array class as far as the standard's array object goes: add what it
    lacks (:func:`_additions`, never replacing a method MXNet has), and wrap ``__getitem__``,
    ``__setitem__``, the comparisons, ``&``, ``|``, ``^``, ``@`` and the in-place operators
    only where MXNet raises or crashes. Every call MXNet answers itself keeps MXNet's answer,
    so code written for MXNet is unaffected. Done once per process."""
    if "_portconv_standard" in vars(cls):
        return
    additions = {name: v for name, v in _additions().items() if not hasattr(cls, name)}
    for name in (*_PROMOTED, *_IN_PLACE, "__getitem__", "__setitem__", "__matmul__"):
        if hasattr(cls, name):
            _MX_METHODS[name] = getattr(cls, name)
    for name, function in _PROMOTED.items():
        setattr(cls, name, _promoting(name, _API[function]))
    for name, function in _IN_PLACE.items():
        setattr(cls, name, _in_place(name, _API[function]))
    cls.__getitem__, cls.__setitem__ = _getitem, _setitem
    cls.__matmul__ = _matmul_method
    for name, value in additions.items():
        setattr(cls, name, value)
    cls._portconv_standard = True


# ==========================================================================================
# the namespace object
# ==========================================================================================
_NAMESPACE: types.SimpleNamespace | None = None


_BUILDING = threading.Lock()


def namespace() -> types.SimpleNamespace:
    """The namespace, built on the first call (by the MXNet adapter), which also completes
    MXNet's array class (see :func:`_install_array_methods`). Threads making the first call
    at once build it once: a second installation racing the first would take the first's
    wrappers for MXNet's own methods."""
    with _BUILDING:
        return _NAMESPACE if _NAMESPACE is not None else _build()


def _build() -> types.SimpleNamespace:
    global mx, mnp, _NAMESPACE
    mx = _mx()
    mnp = mx.np
    _install_array_methods(mnp.ndarray)

    ns = types.SimpleNamespace(**_API)
    ns.__name__ = "portconv.backends._mxnet_namespace"
    ns.__array_api_version__ = "2023.12"
    ns.__array_namespace_info__ = _Info
    for name, dtype in _DTYPES.items():
        setattr(ns, name, dtype)
    ns.e, ns.pi, ns.inf, ns.nan = math.e, math.pi, math.inf, math.nan
    ns.newaxis = None
    _NAMESPACE = ns
    return ns
