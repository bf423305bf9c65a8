"""An array API namespace over ``mxnet.numpy`` 1.9.1.

``mxnet.numpy`` resembles NumPy but departs from the array API standard in ways that fail
silently (dtype inference, missing functions, no type promotion between mixed dtypes, a
``pad`` that ignores ``constant_values``). Everything portconv's generic code calls goes
through this namespace, which fixes those departures with MXNet operations only (no detour
through host NumPy), so results stay MXNet arrays on their context and remain differentiable
under ``mxnet.autograd.record()``. Every function here is functional: none writes into its
inputs (MXNet's autograd cannot record ``__setitem__``).

Host NumPy is used only for dtype logic and to build arrays from Python data. Departures
that cannot be fixed here:

- MXNet has no int16, uint16, uint32, uint64 or complex arrays; the namespace exposes the
  eight dtypes it has.
- Without NumPy shape semantics (``mx.npx.set_np()`` or ``mx.util.np_shape(True)``), MXNet
  cannot operate on 0-d or zero-size arrays. The functions here avoid creating such
  intermediates, so they work in both modes, but a 0-d *input* needs NumPy shape semantics.
- Array methods and operators (``x + y``, ``x < 1.5``) are MXNet's own; only calls through
  this namespace follow the standard.
"""

from __future__ import annotations

import builtins
import math
import types
import warnings
from collections.abc import Callable

import numpy as onp

from ..errors import ArgumentError

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
        x, copy = x.as_in_context(device), False  # moving made a new array already
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
        x = x.as_in_context(device)
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
    return mnp.where(mask, x, _full((1,) * x.ndim, 0, x.dtype, x.ctx))


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
    safe = mnp.where(by_zero, _full((1,) * a.ndim, 1, a.dtype, a.ctx), b)
    trunc = mx.nd.broadcast_div(a.as_nd_ndarray(), safe.as_nd_ndarray()).as_np_ndarray()
    rest = mnp.subtract(a, mnp.multiply(trunc, safe))
    signs_differ = mnp.not_equal(mnp.less(rest, zero), mnp.less(safe, zero))
    down = mnp.multiply(mnp.not_equal(rest, zero), signs_differ).astype(a.dtype)
    return mnp.where(by_zero, zero, mnp.subtract(trunc, down))


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
    return mnp.where(mnp.equal(b, zero), zero, rest)


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


for _name, _mx_name in (("atan2", "arctan2"), ("hypot", "hypot"), ("copysign", "copysign")):
    _export(_float_binary(_name, _mx_name))


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


@_export
def where(condition, x1, x2, /):
    """Select by ``condition`` after type promotion; scalars become one-element arrays
    (mx.np.where raises on mixed dtypes and its scalar form inverts the gradient)."""
    cond = _truth(condition, condition)
    d = result_type(x1, x2) if _is_array(x1) or _is_array(x2) else _scalars_dtype(x1, x2)
    return mnp.where(cond, _operand(x1, d, cond), _operand(x2, d, cond))


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
    return mnp.where(mnp.isnan(x), x, mnp.sign(x))


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
        key = mnp.where(nan, _full((1,) * key.ndim, math.inf, key.dtype, key.ctx), key)
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


def _matmul_by_sum(a, b):
    """Matrix product as a broadcast product summed over the inner axis: exact for integers
    and bool like NumPy's (MXNet's matmul kernels are floating point only)."""
    a2 = mnp.expand_dims(a, 0) if a.ndim == 1 else a
    b2 = mnp.expand_dims(b, 1) if b.ndim == 1 else b
    products = mnp.multiply(mnp.expand_dims(a2, -1), mnp.expand_dims(b2, -3))
    inner = products.ndim - 2
    total = _accumulate(mnp.sum, products, _INT64 if a.dtype == _BOOL else a.dtype, axis=inner)
    shape = total.shape
    if b.ndim == 1:
        shape = shape[:-1]
    if a.ndim == 1:
        shape = shape[:-2] + shape[-1:] if b.ndim != 1 else shape[:-1]
    return mnp.reshape(total, shape).astype(a.dtype, copy=False)


@_export
def matmul(x1, x2, /):
    """Matrix product after type promotion, for every dtype (MXNet's kernel takes float32 and
    float64 only, and float16 on GPU)."""
    a, b = _operands(x1, x2)
    if _float_kernel(a.dtype, a.ctx):
        return mnp.matmul(a, b)
    if a.dtype == _FLOAT16:
        return mnp.matmul(a.astype(_FLOAT32), b.astype(_FLOAT32)).astype(_FLOAT16)
    return _matmul_by_sum(a, b)


def _tensordot_axes(axes, ndim1):
    if isinstance(axes, int):
        return list(range(ndim1 - axes, ndim1)), list(range(axes))
    return [[a] if isinstance(a, int) else list(a) for a in axes]


def _tensordot_by_matmul(a, b, axes):
    """Tensordot as one matmul of reshaped operands (for dtypes MXNet's kernel lacks)."""
    ax_a, ax_b = _tensordot_axes(axes, a.ndim)
    ax_a, ax_b = [_axis(i, a.ndim) for i in ax_a], [_axis(i, b.ndim) for i in ax_b]
    free_a = [i for i in range(a.ndim) if i not in ax_a]
    free_b = [i for i in range(b.ndim) if i not in ax_b]
    inner = math.prod(a.shape[i] for i in ax_a)
    a2 = mnp.reshape(permute_dims(a, free_a + ax_a), (-1, inner))
    b2 = mnp.reshape(permute_dims(b, ax_b + free_b), (inner, -1))
    shape = tuple(a.shape[i] for i in free_a) + tuple(b.shape[i] for i in free_b)
    return mnp.reshape(matmul(a2, b2), shape)


@_export
def tensordot(x1, x2, /, *, axes=2):
    """Tensor contraction after type promotion, for every dtype."""
    a, b = _operands(x1, x2)
    if _float_kernel(a.dtype, a.ctx):
        return mnp.tensordot(a, b, axes)
    return _tensordot_by_matmul(a, b, axes)


@_export
def vecdot(x1, x2, /, *, axis=-1):
    """Dot product along ``axis`` of the broadcast operands (missing in mx.np)."""
    a, b = _operands(x1, x2)
    products = mnp.multiply(a, b)
    d = a.dtype if a.dtype != _BOOL else _INT64
    out = _accumulate(mnp.sum, products, d, axis=_axis(axis, products.ndim))
    return out.astype(a.dtype, copy=False)


@_export
def einsum(subscripts, /, *operands):
    """Einstein summation after type promotion (mx.np.einsum rejects mixed dtypes)."""
    d = result_type(*operands)
    return mnp.einsum(subscripts, *[astype(a, d, copy=False) for a in operands])


# ==========================================================================================
# the namespace object
# ==========================================================================================
def namespace() -> types.SimpleNamespace:
    """Build the namespace (called once per process by the MXNet adapter)."""
    global mx, mnp
    mx = _mx()
    mnp = mx.np

    ns = types.SimpleNamespace(**_API)
    ns.__name__ = "portconv.backends._mxnet_namespace"
    ns.__array_api_version__ = "2023.12"
    ns.__array_namespace_info__ = _Info
    for name, dtype in _DTYPES.items():
        setattr(ns, name, dtype)
    ns.e, ns.pi, ns.inf, ns.nan = math.e, math.pi, math.inf, math.nan
    ns.newaxis = None
    return ns
