"""The array API namespace over ``mxnet.numpy`` (portconv.backends._mxnet_namespace), tested
against NumPy as the reference.

Every result must be an ``mx.np.ndarray`` on the input's context (inputs live on ``cpu(1)``,
not the default ``cpu(0)``, so a constant created on the wrong context shows), inputs must be
left unchanged, and differentiable functions must give the right gradients under
``mxnet.autograd.record()`` (checked against central finite differences in float64). The
whole module runs twice: without and with MXNet's NumPy shape semantics.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import math
import operator
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

mx = pytest.importorskip(
    "mxnet", reason="MXNet-specific namespace tests need mxnet (run in the nox mxnet session)"
)

import portconv as pc  # noqa: E402

CTX = mx.cpu(1)
DTYPES = ["bool", "int8", "int32", "int64", "uint8", "float16", "float32", "float64"]
NUMERIC = DTYPES[1:]
FLOATS = ["float16", "float32", "float64"]
TOL = {"float16": 2e-3, "float32": 2e-6, "float64": 1e-12}


@pytest.fixture(scope="module")
def xp():
    return pc.get_adapter("mxnet").namespace()


@pytest.fixture(scope="module", autouse=True, params=["legacy-shapes", "numpy-shapes"])
def shape_semantics(request):
    """Every test without and with NumPy shape semantics (``mx.npx.set_np()`` turns them on;
    only with them does MXNet have 0-d and zero-size arrays)."""
    with mx.util.np_shape(request.param == "numpy-shapes"):
        yield request.param


# -- helpers ---------------------------------------------------------------------------------
def arr(a, dtype=None, ctx=CTX):
    """An mx.np array on CTX from NumPy data, built without the namespace under test."""
    a = np.asarray(a, dtype=dtype)
    return mx.np.array(a, dtype=a.dtype, ctx=ctx)


def check(y, expected, dtype=None, *, rtol=None, atol=None, ctx=CTX):
    """``y`` is an mx.np array on ``ctx`` (of ``dtype``) holding NumPy's ``expected``."""
    assert type(y) is mx.np.ndarray, f"result is a {type(y)!r}, expected mx.np.ndarray"
    assert y.ctx == ctx, f"result is on {y.ctx}, expected {ctx}"
    if dtype is not None:
        assert y.dtype == np.dtype(dtype), f"result dtype {y.dtype}, expected {np.dtype(dtype)}"
    got, expected = y.asnumpy(), np.asarray(expected)
    assert got.shape == expected.shape, f"shape {got.shape}, expected {expected.shape}"
    tol = TOL.get(str(y.dtype), 0.0)
    np.testing.assert_allclose(
        got.astype(np.float64),
        expected.astype(np.float64),
        rtol=tol if rtol is None else rtol,
        atol=tol if atol is None else atol,
        equal_nan=True,
    )


@contextlib.contextmanager
def unchanged(*arrays):
    """Assert that the block leaves ``arrays`` as they were."""
    before = [a.asnumpy().copy() for a in arrays]
    yield
    for a, b in zip(arrays, before):
        np.testing.assert_array_equal(a.asnumpy(), b)


def promoted(d1, d2):
    """NumPy's promotion, with int32 for NumPy's int16 (MXNet has no int16)."""
    d = np.result_type(np.dtype(d1), np.dtype(d2))
    return np.dtype("int32") if d == np.int16 else d


def floated(d):
    d = np.dtype(d)
    return d if d.kind == "f" else np.dtype("float32")


def with_scalar(d, s):
    """The standard's dtype of ``array op scalar`` (default float float32, int int64)."""
    d = np.dtype(d)
    if isinstance(s, bool):
        return d
    if isinstance(s, int):
        return np.dtype("int64") if d == np.bool_ else d
    return d if d.kind == "f" else np.dtype("float32")


def sample(shape, dtype, seed=0, low=1, high=5):
    """Small positive values (no zero divisors, no overflow in int8); a pattern for bool."""
    rng = np.random.default_rng(seed)
    a = rng.integers(low, high + 1, size=shape)
    if dtype == "bool":
        return a % 2 == 1
    return a.astype(dtype)


# -- dtypes and the namespace's own objects ---------------------------------------------------
def test_dtype_objects_constants_and_info(xp):
    for name in DTYPES:
        assert getattr(xp, name) == np.dtype(name)
    for missing in ("int16", "uint16", "uint32", "uint64", "complex64"):
        assert not hasattr(xp, missing)
    assert (xp.e, xp.pi, xp.inf, xp.newaxis) == (math.e, math.pi, math.inf, None)
    assert math.isnan(xp.nan)
    info = xp.__array_namespace_info__()
    assert info.default_dtypes() == {
        "real floating": xp.float32,
        "integral": xp.int64,
        "indexing": xp.int64,
    }
    assert mx.cpu() in info.devices()
    assert info.default_device() == mx.context.current_context()
    # the standard's names only: it has no float16, which stays usable as xp.float16
    standard = {"bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32"}
    standard |= {"uint64", "float32", "float64", "complex64", "complex128"}
    assert set(info.dtypes()) == set(DTYPES) - {"float16"}
    assert set(info.dtypes()) <= standard
    assert all(info.dtypes()[name] == np.dtype(name) for name in info.dtypes())
    assert set(info.dtypes(kind="real floating")) == {"float32", "float64"}
    assert set(info.dtypes(kind=("bool", "unsigned integer"))) == {"bool", "uint8"}
    assert info.capabilities()["data-dependent shapes"] is True


@pytest.mark.parametrize("d1", DTYPES)
def test_result_type_and_can_cast_follow_numpy(xp, d1):
    for d2 in DTYPES:
        assert xp.result_type(getattr(xp, d1), d2) == promoted(d1, d2)
        assert xp.result_type(arr([1], d1), arr([1], d2)) == promoted(d1, d2)
        assert xp.can_cast(getattr(xp, d1), d2) == np.can_cast(d1, d2)
    for s in (True, 2, 2.5):
        assert xp.result_type(arr([1], d1), s) == with_scalar(d1, s)


@pytest.mark.parametrize("dtype", FLOATS)
def test_finfo_gives_python_numbers(xp, dtype):
    info, ref = xp.finfo(getattr(xp, dtype)), np.finfo(dtype)
    for name in ("eps", "max", "min", "smallest_normal"):
        assert type(getattr(info, name)) is float, name
        assert getattr(info, name) == float(getattr(ref, name)), name
    assert type(info.bits) is int and info.bits == ref.bits
    assert info.dtype == np.dtype(dtype)
    assert xp.finfo(arr([1.0], dtype)).eps == float(ref.eps)
    with pytest.raises(pc.ArgumentError, match="finfo: expected a floating dtype"):
        xp.finfo(xp.int32)


def test_isdtype_finfo_iinfo(xp):
    assert xp.isdtype(xp.float16, "real floating")
    assert not xp.isdtype(xp.int8, "real floating")
    assert xp.isdtype(xp.uint8, "unsigned integer") and xp.isdtype(xp.uint8, "integral")
    assert xp.isdtype(xp.int64, "signed integer") and xp.isdtype(xp.int64, "numeric")
    assert xp.isdtype(xp.bool, "bool") and not xp.isdtype(xp.bool, "numeric")
    assert xp.isdtype(xp.int32, ("bool", "integral"))
    assert xp.isdtype(xp.float32, xp.float32) and not xp.isdtype(xp.float32, xp.float64)
    with pytest.raises(ValueError):
        xp.isdtype(xp.float32, "floating")
    for d in FLOATS:
        assert xp.finfo(getattr(xp, d)).eps == np.finfo(d).eps
        assert xp.finfo(arr([1.0], d)).max == np.finfo(d).max
    for d in ("int8", "int32", "int64", "uint8"):
        assert (xp.iinfo(getattr(xp, d)).min, xp.iinfo(d).max) == (np.iinfo(d).min, np.iinfo(d).max)


def test_astype_copy_and_device(xp):
    x = arr([1.5, -2.5], "float32")
    with unchanged(x):
        check(xp.astype(x, xp.int64), [1, -2], "int64")
        same = xp.astype(x, xp.float32, copy=False)
        assert same is x
        copied = xp.astype(x, xp.float32)
        assert copied is not x
        check(copied, [1.5, -2.5], "float32")
        check(xp.astype(x, xp.float64, device=mx.cpu(0)), [1.5, -2.5], "float64", ctx=mx.cpu(0))
    with pytest.raises(TypeError):
        xp.astype(x, "int16")


# -- creation ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "dtype"),
    [
        ([1, 2, 3], "int64"),
        ([[True, False]], "bool"),
        ([1.5, 2.0], "float32"),
        ([[1, 2.5], [3, 4]], "float32"),
        ([True, 2], "int64"),
        (7, "int64"),
        (2.5, "float32"),
        (False, "bool"),
        ((1, 2), "int64"),
    ],
)
def test_asarray_infers_dtype_from_python_data(xp, data, dtype):
    y = xp.asarray(data, device=CTX)
    check(y, np.asarray(data), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_asarray_keeps_numpy_dtypes_and_honours_dtype(xp, dtype):
    a = sample((2, 3), dtype)
    check(xp.asarray(a, device=CTX), a, dtype)
    check(xp.asarray(a.tolist(), dtype=getattr(xp, dtype), device=CTX), a, dtype)
    check(xp.asarray(arr(a), dtype=xp.float64), a, "float64")


def test_asarray_conversions_and_copy_rules(xp):
    check(xp.asarray(np.arange(3, dtype=np.int16), device=CTX), [0, 1, 2], "int32")
    check(xp.asarray(np.arange(3, dtype=np.uint32), device=CTX), [0, 1, 2], "int64")
    with pytest.raises(TypeError):
        xp.asarray([1, 2], dtype="int16")
    with pytest.raises(TypeError):
        xp.asarray([1 + 2j])
    x = arr([1.0, 2.0], "float32")
    assert xp.asarray(x) is x
    assert xp.asarray(x, copy=False) is x
    copied = xp.asarray(x, copy=True)
    assert copied is not x
    check(copied, [1.0, 2.0], "float32")
    with pytest.raises(ValueError):
        xp.asarray(x, dtype=xp.float64, copy=False)
    with pytest.raises(ValueError):
        xp.asarray([1.0], copy=False)
    check(xp.asarray(x, device=mx.cpu(0)), [1.0, 2.0], ctx=mx.cpu(0))
    legacy = mx.nd.array([1, 2], dtype="int64", ctx=CTX)
    check(xp.asarray(legacy), [1, 2], "int64")
    check(xp.asarray([x, arr([3.0, 4.0], "float32")]), [[1.0, 2.0], [3.0, 4.0]], "float32")
    check(xp.asarray(3, device=None), 3, "int64", ctx=mx.context.current_context())


@pytest.mark.parametrize(
    ("args", "kwargs", "dtype"),
    [
        ((5,), {}, "int64"),
        ((1, 9, 3), {}, "int64"),
        ((5, 0, -2), {}, "int64"),
        ((0, 1, 0.25), {}, "float32"),
        ((0.5, 3), {}, "float32"),
        ((4,), {"dtype": "float64"}, "float64"),
        ((0, 2, 0.5), {"dtype": "float16"}, "float16"),
        ((2**40, 2**40 + 3), {}, "int64"),
    ],
)
def test_arange_dtypes(xp, args, kwargs, dtype):
    check(xp.arange(*args, device=CTX, **kwargs), np.arange(*args), dtype, rtol=0, atol=0)


def test_creation_functions_take_device_and_standard_dtypes(xp):
    check(xp.zeros((2, 3), device=CTX), np.zeros((2, 3)), "float32")
    check(xp.ones(4, dtype=xp.int8, device=CTX), np.ones(4), "int8")
    assert xp.empty((2, 2), device=CTX).ctx == CTX
    assert xp.empty((2,), dtype=xp.int64, device=CTX).dtype == np.int64
    check(xp.full((2,), 3, device=CTX), [3, 3], "int64")
    check(xp.full((2,), True, device=CTX), [True, True], "bool")
    check(xp.full((1, 2), -math.inf, device=CTX), [[-np.inf, -np.inf]], "float32")
    check(xp.full((2,), 1.5, dtype=xp.float16, device=CTX), [1.5, 1.5], "float16")
    big = xp.full((2,), 2**60 + 1, device=CTX)
    assert big.asnumpy().tolist() == [2**60 + 1] * 2
    check(xp.eye(2, 3, k=1, dtype=xp.int64, device=CTX), np.eye(2, 3, k=1), "int64")
    check(xp.eye(3, device=CTX), np.eye(3), "float32")
    check(xp.linspace(0, 1, 5, device=CTX), np.linspace(0, 1, 5), "float32")
    check(xp.linspace(0, 1, 4, endpoint=False, device=CTX), np.linspace(0, 1, 4, False))
    assert xp.zeros(2).ctx == mx.context.current_context()


@pytest.mark.parametrize("dtype", ["bool", "int8", "int64", "float16", "float64"])
def test_like_functions_keep_dtype_and_context(xp, dtype):
    x = arr(sample((2, 3), dtype), dtype)
    with unchanged(x):
        check(xp.zeros_like(x), np.zeros((2, 3)), dtype)
        check(xp.ones_like(x), np.ones((2, 3)), dtype)
        check(xp.full_like(x, 1), np.ones((2, 3)), dtype)
        check(xp.zeros_like(x, dtype=xp.float32), np.zeros((2, 3)), "float32")
        check(xp.ones_like(x, device=mx.cpu(0)), np.ones((2, 3)), dtype, ctx=mx.cpu(0))
        e = xp.empty_like(x)
        assert (e.shape, e.dtype, e.ctx) == (x.shape, x.dtype, CTX)
        e = xp.empty_like(x, dtype=xp.float32, device=mx.cpu(0))
        assert (e.shape, e.dtype, e.ctx) == (x.shape, np.float32, mx.cpu(0))


def test_meshgrid_tril_triu(xp):
    a, b = np.array([1.0, 2.0, 3.0]), np.array([4, 5], dtype=np.int64)
    for indexing in ("xy", "ij"):
        got = xp.meshgrid(arr(a), arr(b), indexing=indexing)
        for g, e in zip(got, np.meshgrid(a, b, indexing=indexing)):
            check(g, e, "float64")
    for dtype in ("float32", "int64", "bool"):
        m = sample((2, 3, 4), dtype)
        x = arr(m)
        with unchanged(x):
            for k in (-1, 0, 2):
                check(xp.tril(x, k=k), np.tril(m, k=k), dtype)
                check(xp.triu(x, k=k), np.triu(m, k=k), dtype)


# -- promotion before multi-input ops ---------------------------------------------------------
def _pair(xp_call, np_call, dtypes=DTYPES, result=promoted):
    return xp_call, np_call, dtypes, result


_BOOL_RESULT = lambda d1, d2: np.dtype("bool")  # noqa: E731
_FLOAT_RESULT = lambda d1, d2: floated(promoted(d1, d2))  # noqa: E731
_COND = np.array([[True, False, True], [False, True, True]])

PAIR_OPS = {
    "add": _pair(lambda xp, a, b: xp.add(a, b), np.add),
    "subtract": _pair(lambda xp, a, b: xp.subtract(a, b), np.subtract, NUMERIC),
    "multiply": _pair(lambda xp, a, b: xp.multiply(a, b), np.multiply),
    "divide": _pair(lambda xp, a, b: xp.divide(a, b), np.divide, NUMERIC, _FLOAT_RESULT),
    "floor_divide": _pair(lambda xp, a, b: xp.floor_divide(a, b), np.floor_divide, NUMERIC),
    "remainder": _pair(lambda xp, a, b: xp.remainder(a, b), np.remainder, NUMERIC),
    "pow": _pair(lambda xp, a, b: xp.pow(a, b), np.power, NUMERIC),
    "maximum": _pair(lambda xp, a, b: xp.maximum(a, b), np.maximum),
    "minimum": _pair(lambda xp, a, b: xp.minimum(a, b), np.minimum),
    "atan2": _pair(lambda xp, a, b: xp.atan2(a, b), np.arctan2, NUMERIC, _FLOAT_RESULT),
    "hypot": _pair(lambda xp, a, b: xp.hypot(a, b), np.hypot, NUMERIC, _FLOAT_RESULT),
    "copysign": _pair(lambda xp, a, b: xp.copysign(a, b), np.copysign, NUMERIC, _FLOAT_RESULT),
    "less": _pair(lambda xp, a, b: xp.less(a, b), np.less, DTYPES, _BOOL_RESULT),
    "less_equal": _pair(lambda xp, a, b: xp.less_equal(a, b), np.less_equal, DTYPES, _BOOL_RESULT),
    "greater": _pair(lambda xp, a, b: xp.greater(a, b), np.greater, DTYPES, _BOOL_RESULT),
    "greater_equal": _pair(
        lambda xp, a, b: xp.greater_equal(a, b), np.greater_equal, DTYPES, _BOOL_RESULT
    ),
    "equal": _pair(lambda xp, a, b: xp.equal(a, b), np.equal, DTYPES, _BOOL_RESULT),
    "not_equal": _pair(lambda xp, a, b: xp.not_equal(a, b), np.not_equal, DTYPES, _BOOL_RESULT),
    "logical_and": _pair(
        lambda xp, a, b: xp.logical_and(a, b), np.logical_and, DTYPES, _BOOL_RESULT
    ),
    "logical_or": _pair(lambda xp, a, b: xp.logical_or(a, b), np.logical_or, DTYPES, _BOOL_RESULT),
    "logical_xor": _pair(
        lambda xp, a, b: xp.logical_xor(a, b), np.logical_xor, DTYPES, _BOOL_RESULT
    ),
    "where": _pair(
        lambda xp, a, b: xp.where(xp.asarray(_COND, device=CTX), a, b),
        lambda a, b: np.where(_COND, a, b),
    ),
    "matmul": _pair(lambda xp, a, b: xp.matmul(a, xp.matrix_transpose(b)), lambda a, b: a @ b.T),
    "tensordot": _pair(
        lambda xp, a, b: xp.tensordot(a, b, axes=([1], [1])),
        lambda a, b: np.tensordot(a, b, axes=([1], [1])),
    ),
    "vecdot": _pair(lambda xp, a, b: xp.vecdot(a, b), lambda a, b: np.sum(a * b, axis=-1), NUMERIC),
    "einsum": _pair(
        lambda xp, a, b: xp.einsum("ij,kj->ik", a, b), lambda a, b: np.einsum("ij,kj->ik", a, b)
    ),
    "concat": _pair(
        lambda xp, a, b: xp.concat([a, b], axis=-1), lambda a, b: np.concatenate([a, b], -1)
    ),
    "concat_none": _pair(
        lambda xp, a, b: xp.concat([a, b], axis=None), lambda a, b: np.concatenate([a, b], None)
    ),
    "stack": _pair(lambda xp, a, b: xp.stack([a, b], axis=1), lambda a, b: np.stack([a, b], 1)),
    "meshgrid": _pair(
        lambda xp, a, b: xp.meshgrid(a[0], b[1])[1], lambda a, b: np.meshgrid(a[0], b[1])[1]
    ),
}


@pytest.mark.parametrize("op", sorted(PAIR_OPS))
def test_promotion_of_array_pairs(xp, op):
    """Every pair of dtypes: MXNet raises on most mixed pairs; the namespace promotes."""
    xp_call, np_call, dtypes, result = PAIR_OPS[op]
    for d1 in dtypes:
        for d2 in dtypes:
            a, b = sample((2, 3), d1, seed=1), sample((2, 3), d2, seed=2)
            x1, x2 = arr(a), arr(b)
            with unchanged(x1, x2):
                y = xp_call(xp, x1, x2)
            expected = np_call(a, b)
            tol = max(TOL.get(str(y.dtype), 0), TOL.get(str(expected.dtype), 0)) * 4
            check(y, expected, result(d1, d2), rtol=tol, atol=tol)


SCALAR_OPS = [
    op
    for op in PAIR_OPS
    if op not in {"matmul", "tensordot", "vecdot", "einsum", "concat", "concat_none", "stack"}
    and op != "meshgrid"
]


def _scalar_result(op, d, s):
    _, _, _, result = PAIR_OPS[op]
    if result is _BOOL_RESULT:
        return np.dtype("bool")
    if result is _FLOAT_RESULT:
        return floated(with_scalar(d, s))
    return with_scalar(d, s)


@pytest.mark.parametrize("op", SCALAR_OPS)
def test_python_scalars_follow_the_standard(xp, op):
    """Python scalars on either side: a float with an integer array gives float32 (MXNet
    keeps the integer dtype and truncates the scalar), values as NumPy's in float64."""
    xp_call, np_call, dtypes, result = PAIR_OPS[op]
    for d in dtypes:
        a = sample((2, 3), d, seed=3, high=3)
        x = arr(a)
        for s in (True, 3, 2.5):
            expected_dtype = _scalar_result(op, d, s)
            # NumPy computes in the expected dtype (float64 where the result is bool)
            ref_dtype = np.float64 if result is _BOOL_RESULT else expected_dtype
            ref, s_ref = a.astype(ref_dtype), np.asarray(s).astype(ref_dtype)
            for left in (False, True):
                with unchanged(x):
                    y = xp_call(xp, s, x) if left else xp_call(xp, x, s)
                expected = np_call(s_ref, ref) if left else np_call(ref, s_ref)
                check(y, expected, expected_dtype, rtol=2e-3, atol=2e-3)


def test_int_array_with_float_scalar_is_not_truncated(xp):
    i = arr([1, 2, 3], "int64")
    check(xp.less(i, 1.5), [True, False, False], "bool")
    check(xp.greater_equal(1.5, i), [True, False, False], "bool")
    check(xp.equal(i, 2.0), [False, True, False], "bool")
    check(xp.add(i, 1.5), [2.5, 3.5, 4.5], "float32")
    check(xp.multiply(i, 0.5), [0.5, 1.0, 1.5], "float32")
    big = arr([2**24 + 1], "int64")
    check(xp.greater(big, 2**24 + 0.5), [True], "bool")
    check(xp.less(arr([200, 255], "uint8"), 300), [True, True], "bool")
    check(xp.where(arr([True, False], "bool"), 1, 2.5), [1.0, 2.5], "float32")
    check(xp.where(arr([True, False], "bool"), True, False), [True, False], "bool")


def test_integer_floor_division_and_remainder_are_exact(xp):
    a = np.array([7, -7, 7, -7, 2**62 + 1, -(2**62) - 1, 5, 0], dtype=np.int64)
    b = np.array([2, 2, -2, -2, 3, 7, 0, 3], dtype=np.int64)
    with np.errstate(divide="ignore"):
        check(xp.floor_divide(arr(a), arr(b)), np.floor_divide(a, b), "int64")
        check(xp.remainder(arr(a), arr(b)), np.remainder(a, b), "int64")
    f = np.array([7.5, -7.5, 1.0])
    check(xp.floor_divide(arr(f), 2.0), np.floor_divide(f, 2.0), "float64")
    check(xp.remainder(arr(f), -2.0), np.remainder(f, -2.0), "float64")


def test_mixed_dtype_ops_stay_differentiable(xp):
    x, i = arr([[0.5, 1.5], [2.0, -1.0]], "float32"), arr([[1, 2], [3, 4]], "int64")
    x.attach_grad()
    with mx.autograd.record():
        y = xp.sum(xp.add(xp.multiply(x, i), xp.concat([x, i], axis=0)[:2]))
    y.backward()
    check(x.grad, np.array([[2.0, 3.0], [4.0, 5.0]]), "float32")


# -- bitwise functions, shifts and the other functions MXNet lacks ---------------------------
INTEGRAL = ["int8", "int32", "int64", "uint8"]

# name -> (namespace call, NumPy call, dtypes)
INTEGER_OPS = {
    "bitwise_and": (lambda xp, a, b: xp.bitwise_and(a, b), np.bitwise_and, ["bool", *INTEGRAL]),
    "bitwise_or": (lambda xp, a, b: xp.bitwise_or(a, b), np.bitwise_or, ["bool", *INTEGRAL]),
    "bitwise_xor": (lambda xp, a, b: xp.bitwise_xor(a, b), np.bitwise_xor, ["bool", *INTEGRAL]),
    "bitwise_left_shift": (
        lambda xp, a, b: xp.bitwise_left_shift(a, b),
        np.left_shift,
        INTEGRAL,
    ),
    "bitwise_right_shift": (
        lambda xp, a, b: xp.bitwise_right_shift(a, b),
        np.right_shift,
        INTEGRAL,
    ),
}


@pytest.mark.parametrize("op", sorted(INTEGER_OPS))
def test_bitwise_functions_promote_like_numpy(xp, op):
    """Every pair of integer (and bool) dtypes, promoted by the standard's table first."""
    xp_call, np_call, dtypes = INTEGER_OPS[op]
    for d1 in dtypes:
        for d2 in dtypes:
            a, b = sample((2, 3), d1, seed=1), sample((2, 3), d2, seed=2)
            x1, x2 = arr(a), arr(b)
            with unchanged(x1, x2):
                y = xp_call(xp, x1, x2)
            check(y, np_call(a, b), promoted(d1, d2), atol=0)
        a = sample((2, 3), d1, seed=3)
        for s in (1, 3) if d1 != "bool" else (True, False):
            check(xp_call(xp, arr(a), s), np_call(a, np.asarray(s, d1)), d1, atol=0)
            check(xp_call(xp, s, arr(a)), np_call(np.asarray(s, d1), a), d1, atol=0)


@pytest.mark.parametrize("dtype", INTEGRAL)
def test_shifts_are_exact_at_the_limits_of_each_dtype(xp, dtype):
    """Shift counts of 0 to beyond the bit width, on the extreme values: wrapping left
    shifts, arithmetic right shifts (counts past the width give 0, or -1 when negative)."""
    info = np.iinfo(dtype)
    values = np.array([info.min, info.min + 1, -5, -1, 0, 1, 7, info.max - 1, info.max])
    values = np.unique(values.clip(info.min, info.max)).astype(dtype)
    for count in (0, 1, 3, info.bits // 2, info.bits - 1, info.bits, info.bits + 5):
        counts = np.full(values.shape, count, dtype=dtype)
        with np.errstate(over="ignore"):
            check(xp.bitwise_left_shift(arr(values), arr(counts)), values << counts, dtype, atol=0)
        check(xp.bitwise_right_shift(arr(values), arr(counts)), values >> counts, dtype, atol=0)


def test_bitwise_invert_and_integer_only_refusals(xp):
    for dtype in ["bool", *INTEGRAL]:
        a = sample((2, 3), dtype, seed=4)
        check(xp.bitwise_invert(arr(a)), np.invert(a), dtype, atol=0)
    f = arr([1.0, 2.0])
    for call in (
        lambda: xp.bitwise_and(f, 1),
        lambda: xp.bitwise_or(arr([1], "int8"), f),
        lambda: xp.bitwise_invert(f),
        lambda: xp.bitwise_left_shift(arr([True]), arr([True])),
        lambda: xp.bitwise_right_shift(f, 1),
    ):
        with pytest.raises(pc.ArrayTypeError, match="expected (operands of )?an integer"):
            call()


def test_logaddexp_signbit_copysign_follow_the_standard(xp):
    nan, inf = np.nan, np.inf
    a = np.array([0.0, -inf, inf, inf, 1000.0, nan, -inf, -3.0, 30.0])
    b = np.array([0.0, -inf, inf, -inf, 1000.0, 1.0, 3.0, 2.5, -30.0])
    for dtype in FLOATS:
        with np.errstate(invalid="ignore", over="ignore"):
            expected = np.logaddexp(a.astype(dtype), b.astype(dtype))
        check(xp.logaddexp(arr(a, dtype), arr(b, dtype)), expected, dtype)
    check(xp.logaddexp(arr([1, 2], "int64"), 0), np.logaddexp([1, 2], 0), "float32")
    check(xp.logaddexp(arr([1.0], "float16"), arr([2.0])), np.logaddexp([1], 2), "float64")
    # the sign bit, also of -0.0 and -NaN, which no comparison sees
    signed = np.array([-0.0, 0.0, -nan, nan, -1.5, 2.0, -inf, inf])
    for dtype in FLOATS:
        v = signed.astype(dtype)
        check(xp.signbit(arr(v)), np.signbit(v), "bool")
        check(xp.copysign(arr(np.full(v.shape, 2.0, dtype)), arr(v)), np.copysign(2.0, v), dtype)
        got = xp.copysign(arr(np.array([nan, nan], dtype)), arr(np.array([-1.0, 1.0], dtype)))
        np.testing.assert_array_equal(np.signbit(got.asnumpy()), [True, False])
    check(xp.signbit(arr([-2, 0, 3], "int8")), [True, False, False], "bool")
    check(xp.signbit(arr([True, False])), [False, False], "bool")


@pytest.mark.parametrize("dtype", ["bool", "int8", "float16", "float64"])
def test_repeat_tile_unstack_match_numpy(xp, dtype):
    a = sample((2, 3), dtype, seed=5)
    x = arr(a)
    with unchanged(x):
        check(xp.repeat(x, 2), np.repeat(a, 2), dtype)
        check(xp.repeat(x, 3, axis=-1), np.repeat(a, 3, axis=-1), dtype)
        counts = np.array([2, 0, 1])
        check(xp.repeat(x, arr(counts, "int64"), axis=1), np.repeat(a, counts, axis=1), dtype)
        check(xp.repeat(x, arr([2], "uint8"), axis=0), np.repeat(a, 2, axis=0), dtype)
        flat = np.array([1, 0, 2, 1, 1, 3])
        check(xp.repeat(x, arr(flat, "int32")), np.repeat(a, flat), dtype)
        for reps in [(2,), (2, 1), (1, 2, 2), (3, 1, 1, 1)]:
            check(xp.tile(x, reps), np.tile(a, reps), dtype)
        for axis in (0, 1, -1):
            got = xp.unstack(x, axis=axis)
            assert isinstance(got, tuple) and len(got) == a.shape[axis]
            for g, e in zip(got, np.moveaxis(a, axis, 0)):
                check(g, e, dtype)


def test_repeat_tile_unstack_refuse_bad_arguments(xp):
    x = arr([[1.0, 2.0], [3.0, 4.0]])
    for bad, message in [
        (lambda: xp.repeat(x, -1), "non-negative"),
        (lambda: xp.repeat(x, 2.0), "non-negative int"),
        (lambda: xp.repeat(x, True), "non-negative int"),
        (lambda: xp.repeat(x, arr([1, -1], "int64"), axis=0), "non-negative"),
        (lambda: xp.repeat(x, arr([1, 2, 3], "int64"), axis=0), r"shape \(1,\) or \(2,\)"),
        (lambda: xp.tile(x, (2, -1)), "non-negative"),
    ]:
        with pytest.raises(pc.ArgumentError, match=message):
            bad()
    with pytest.raises(pc.ArrayTypeError, match="integer dtype"):
        xp.repeat(x, arr([1.0, 2.0]), axis=0)
    with pytest.raises(IndexError):
        xp.unstack(x, axis=2)


def test_repeat_is_differentiable(xp):
    x = arr([1.0, 2.0, 3.0])
    x.attach_grad()
    with mx.autograd.record():
        y = xp.sum(xp.multiply(xp.repeat(x, arr([2, 0, 3], "int64")), arr([1.0] * 5)))
    y.backward()
    check(x.grad, [2.0, 0.0, 3.0], "float64")


@given(
    data=st.data(),
    dtype=st.sampled_from(["float32", "float64", "float16", "int64", "int8", "uint8", "bool"]),
    side=st.sampled_from(["left", "right"]),
)
def test_searchsorted_matches_numpy(xp, data, dtype, side):
    n = data.draw(st.integers(1, 6), label="n")
    values = st.integers(0, 1) if dtype == "bool" else st.integers(0, 6)
    a = np.sort(np.array(data.draw(st.lists(values, min_size=n, max_size=n)), dtype=dtype))
    v = np.array(data.draw(st.lists(values, min_size=1, max_size=4), label="v"), dtype=dtype)
    if dtype.startswith("float") and data.draw(st.booleans(), label="nan"):
        a[-1], v[0] = np.nan, np.nan  # NaN sorts last, as in sort
    check(xp.searchsorted(arr(a), arr(v), side=side), np.searchsorted(a, v, side=side), "int64")


def test_searchsorted_sorter_promotion_and_refusals(xp):
    a = np.array([3.0, 1.0, 2.0])
    order = np.argsort(a)
    got = xp.searchsorted(arr(a), arr([2.5, 0.0]), sorter=arr(order, "int64"))
    check(got, np.searchsorted(a, [2.5, 0.0], sorter=order), "int64")
    check(xp.searchsorted(arr([1, 3, 5], "int8"), arr([3.0, 4.5])), [1, 2], "int64")
    check(xp.searchsorted(arr([[1, 3]][0], "int64"), arr([[3, 0], [9, 1]])), [[1, 0], [2, 0]])
    with pytest.raises(pc.ArgumentError, match="side must be"):
        xp.searchsorted(arr([1.0]), arr([1.0]), side="middle")
    with pytest.raises(pc.ArgumentError, match="x1 must be a 1-D array"):
        xp.searchsorted(arr([[1.0]]), arr([1.0]))


def _unique_reference(a):
    """NumPy's unique with NaNs each distinct (NumPy 1.21+ merges them), sorted, NaNs last."""
    flat = a.reshape(-1)
    nan = np.isnan(flat) if flat.dtype.kind == "f" else np.zeros(flat.shape, bool)
    values, index, inverse, counts = np.unique(
        flat[~nan], return_index=True, return_inverse=True, return_counts=True
    )
    positions = np.flatnonzero(~nan)
    full_inverse = np.empty(flat.shape, np.int64)
    full_inverse[~nan] = inverse
    full_inverse[nan] = len(values) + np.arange(nan.sum())
    return (
        np.concatenate([values, flat[nan]]),
        np.concatenate([positions[index], np.flatnonzero(nan)]),
        full_inverse.reshape(a.shape),
        np.concatenate([counts, np.ones(nan.sum(), np.int64)]),
    )


@pytest.mark.parametrize(
    "a",
    [
        np.array([[3.0, np.nan, 1.0], [3.0, np.nan, -0.0]]),
        np.array([0.0, -0.0, 2.5]),
        np.array([5, 5, 5], dtype="int8"),
        np.array([[True, False], [True, True]]),
        np.array([7], dtype="uint8"),
        np.array([2.0, 1.0, 2.0], dtype="float16"),
        np.array([np.nan, np.nan]),
    ],
    ids=["nan", "signed-zeros", "int8", "bool", "one", "float16", "all-nan"],
)
def test_unique_all_counts_inverse_match_numpy_with_each_nan_distinct(xp, a):
    values, index, inverse, counts = _unique_reference(a)
    x = arr(a)
    with unchanged(x):
        out = xp.unique_all(x)
    assert type(out).__name__ == "UniqueAllResult"
    check(out.values, values, a.dtype)
    check(out.indices, index, "int64", atol=0)
    check(out.inverse_indices, inverse, "int64", atol=0)
    check(out.counts, counts, "int64", atol=0)
    got = xp.unique_counts(x)
    check(got.values, values, a.dtype)
    check(got.counts, counts, "int64", atol=0)
    got = xp.unique_inverse(x)
    check(got.values, values, a.dtype)
    check(got.inverse_indices, inverse, "int64", atol=0)
    # the standard's identities: values[inverse] rebuilds x, values are x at indices
    flat = a.reshape(-1)
    np.testing.assert_array_equal(values[inverse], a)
    np.testing.assert_array_equal(flat[index], values)


def test_conj_real_imag_of_real_arrays(xp):
    a = np.array([[1.5, -2.0]])
    for dtype in ("float32", "int8", "bool"):
        x = arr(a, dtype)
        with unchanged(x):
            check(xp.real(x), a.astype(dtype), dtype)
            check(xp.conj(x), a.astype(dtype), dtype)
            check(xp.imag(x), np.zeros_like(a, dtype), dtype)


def test_from_dlpack_shares_memory_and_honours_device_and_copy(xp):
    a = np.arange(6.0).reshape(2, 3)
    y = xp.from_dlpack(a)
    check(y, a, "float64", ctx=mx.cpu(0))
    a[0, 0] = 42.0  # shared: the MXNet array sees the write
    assert y.asnumpy()[0, 0] == 42.0
    c = xp.from_dlpack(a, copy=True)
    a[0, 0] = -1.0
    assert c.asnumpy()[0, 0] == 42.0
    check(xp.from_dlpack(a, device=CTX), a, "float64")
    with pytest.raises(pc.ArgumentError, match="copy=False"):
        xp.from_dlpack(a, device=CTX, copy=False)
    x = arr([1, 2], "int8")
    assert xp.from_dlpack(x) is x
    check(xp.from_dlpack(x.as_nd_ndarray()), [1, 2], "int8")
    with pytest.raises(pc.ArrayTypeError, match="cannot import .* int16"):
        xp.from_dlpack(np.arange(3, dtype=np.int16))
    with pytest.raises(AttributeError):
        xp.from_dlpack([1, 2])


def test_new_functions_take_the_standards_positional_arguments(xp):
    """The standard's signatures: positional-only operands, ``expand_dims(x, /, axis)`` and
    ``squeeze(x, /, axis)`` with a positional-or-keyword axis, keyword-only options."""
    P, K = inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.KEYWORD_ONLY
    PK = inspect.Parameter.POSITIONAL_OR_KEYWORD
    expected = {
        "expand_dims": [("x", P), ("axis", PK)],
        "squeeze": [("x", P), ("axis", PK)],
        "repeat": [("x", P), ("repeats", P), ("axis", K)],
        "tile": [("x", P), ("repetitions", P)],
        "unstack": [("x", P), ("axis", K)],
        "searchsorted": [("x1", P), ("x2", P), ("side", K), ("sorter", K)],
        "from_dlpack": [("x", P), ("device", K), ("copy", K)],
        "logaddexp": [("x1", P), ("x2", P)],
        "bitwise_left_shift": [("x1", P), ("x2", P)],
        "bitwise_invert": [("x", P)],
        "signbit": [("x", P)],
        "unique_all": [("x", P)],
    }
    for name, params in expected.items():
        got = [(p.name, p.kind) for p in inspect.signature(getattr(xp, name)).parameters.values()]
        assert got == params, name
    x = arr([[1.0, 2.0]])
    check(xp.expand_dims(x, 0), [[[1.0, 2.0]]], "float64")
    check(xp.expand_dims(x, -1), [[[1.0], [2.0]]], "float64")
    check(xp.squeeze(xp.expand_dims(x, 1), 1), [[1.0, 2.0]], "float64")


# -- MXNet's array class, completed by the namespace ------------------------------------------
# operator -> (the operation, NumPy's, dtypes)
OPERATORS = {
    "<": (operator.lt, np.less, DTYPES),
    "<=": (operator.le, np.less_equal, DTYPES),
    ">": (operator.gt, np.greater, DTYPES),
    ">=": (operator.ge, np.greater_equal, DTYPES),
    "==": (operator.eq, np.equal, DTYPES),
    "!=": (operator.ne, np.not_equal, DTYPES),
    "&": (operator.and_, np.bitwise_and, ["bool", *INTEGRAL]),
    "|": (operator.or_, np.bitwise_or, ["bool", *INTEGRAL]),
    "^": (operator.xor, np.bitwise_xor, ["bool", *INTEGRAL]),
    "<<": (operator.lshift, np.left_shift, INTEGRAL),
    ">>": (operator.rshift, np.right_shift, INTEGRAL),
    "//": (operator.floordiv, np.floor_divide, NUMERIC),
    "@": (lambda a, b: a @ b.mT, lambda a, b: a @ b.T, DTYPES),
}


@pytest.mark.parametrize("op", sorted(OPERATORS))
def test_operators_promote_operands_of_two_dtypes(xp, op):
    """MXNet raised MXNetError for comparisons, ``&``, ``|``, ``^`` and ``@`` of two
    dtypes and had no ``<<``, ``>>``, ``//``: they follow the standard's promotion table."""
    call, np_call, dtypes = OPERATORS[op]
    for d1 in dtypes:
        for d2 in dtypes:
            a, b = sample((2, 3), d1, seed=1), sample((2, 3), d2, seed=2)
            x1, x2 = arr(a), arr(b)
            with unchanged(x1, x2):
                y = call(x1, x2)
            expected = np_call(a, b)
            result = expected.dtype if expected.dtype == np.bool_ else promoted(d1, d2)
            if op == "@" and d1 == d2 == "bool":
                result = np.dtype("bool")
            check(y, expected, result, rtol=4e-3, atol=4e-3)


IN_PLACE = {
    "-=": (operator.isub, np.subtract, NUMERIC),
    "/=": (operator.itruediv, np.divide, FLOATS),
    "%=": (operator.imod, np.remainder, NUMERIC),
    "**=": (operator.ipow, np.power, NUMERIC),
    "&=": (operator.iand, np.bitwise_and, ["bool", *INTEGRAL]),
    "|=": (operator.ior, np.bitwise_or, ["bool", *INTEGRAL]),
    "^=": (operator.ixor, np.bitwise_xor, ["bool", *INTEGRAL]),
    "//=": (operator.ifloordiv, np.floor_divide, NUMERIC),
    "<<=": (operator.ilshift, np.left_shift, INTEGRAL),
    ">>=": (operator.irshift, np.right_shift, INTEGRAL),
}


@pytest.mark.parametrize("op", sorted(IN_PLACE))
def test_in_place_operators_write_into_the_array(xp, op):
    """``x1 op= x2`` for every pair whose promoted dtype is x1's (MXNet raised on operands of
    two dtypes, and had no //=, <<=, >>=): the result lands in x1 itself, in x1's dtype."""
    call, np_call, dtypes = IN_PLACE[op]
    for d1 in dtypes:
        for d2 in dtypes:
            if promoted(d1, d2) != np.dtype(d1):
                continue
            a, b = sample((2, 3), d1, seed=1), sample((2, 3), d2, seed=2)
            x1, x2 = arr(a), arr(b)
            with unchanged(x2):
                y = call(x1, x2)
            assert y is x1, f"{d1} {op} {d2} made a new array"
            check(x1, np_call(a, b).astype(d1), d1, rtol=4e-3, atol=4e-3)
    x = arr([1, 2], "int8")
    with pytest.raises(pc.ArrayTypeError, match="cannot be stored"):
        call(x, arr([1.5, 2.5])) if op not in ("&=", "|=", "^=", "<<=", ">>=") else call(
            x, arr([1, 2], "int64")
        )


def test_operators_mxnet_answers_itself_stay_mxnets(xp):
    """Same-dtype operands and Python scalars still go to MXNet's own operators (code written
    for MXNet is unaffected), and the operators it lacked take scalars on either side."""
    i = arr([1, 2, 3], "int64")
    check(i < 1.5, [False, False, False], "bool")  # MXNet's own: the scalar is truncated
    check(arr([True, False]) & arr([True, True]), [True, False], "bool")
    check(i << 2, [4, 8, 12], "int64")
    check(2 << arr([1, 2], "int8"), [4, 8], "int8")
    check(i >> 1, [0, 1, 1], "int64")
    check(64 >> i, [32, 16, 8], "int64")
    check(i // 2, [0, 1, 1], "int64")
    check(7 // arr([2.0, -2.0]), [3.0, -4.0], "float64")
    check(+arr([1, -2], "int8"), [1, -2], "int8")


def test_scalar_conversions_index_and_complex(xp):
    with mx.util.np_shape(True):
        assert operator.index(xp.asarray(3, device=CTX)) == 3
        assert type(operator.index(xp.asarray(3, dtype=xp.uint8, device=CTX))) is int
        assert [10, 20, 30][xp.asarray(1, device=CTX)] == 20
        assert complex(xp.asarray(2.5, device=CTX)) == 2.5 + 0j
        for bad in (xp.asarray(3.0, device=CTX), xp.asarray([3], device=CTX)):
            with pytest.raises(TypeError, match="only 0-d integer arrays"):
                operator.index(bad)


def test_array_attributes_device_mT_to_device_namespace(xp):
    x = arr(np.arange(24.0).reshape(2, 3, 4))
    assert x.device == CTX
    check(x.mT, np.swapaxes(np.arange(24.0).reshape(2, 3, 4), -1, -2), "float64")
    assert x.to_device(CTX) is x
    moved = x.to_device(mx.cpu(2))
    check(moved, x.asnumpy(), "float64", ctx=mx.cpu(2))
    with pytest.raises(pc.ArrayTypeError, match="to_device: expected an mxnet Context"):
        x.to_device("cpu")
    assert x.__array_namespace__() is xp
    assert x.__array_namespace__(api_version="2023.12") is xp
    with pytest.raises(pc.ArgumentError, match="api_version"):
        x.__array_namespace__(api_version="2099.01")


def test_dlpack_export_round_trips_through_numpy(xp):
    x = arr(np.arange(6.0).reshape(2, 3), "float32")
    assert x.__dlpack_device__() == (1, 0)
    h = np.from_dlpack(x)
    np.testing.assert_array_equal(h, np.arange(6.0).reshape(2, 3))
    c = np.from_dlpack(_Producer(x, copy=True))
    x[0, 0] = 7.0  # shared memory: the consumer sees MXNet's write, the copy does not
    x.wait_to_read()
    assert (h[0, 0], c[0, 0]) == (7.0, 0.0)
    with pytest.raises(BufferError, match="bool"):
        arr([True]).__dlpack__()
    with pytest.raises(BufferError, match="copy=False"):
        x.__dlpack__(dl_device=(2, 0), copy=False)
    check(xp.from_dlpack(_Producer(arr([1, 2], "int32"))), [1, 2], "int32", ctx=mx.cpu(0))


class _Producer:
    """Hands ``__dlpack__`` keyword arguments to an array (NumPy's from_dlpack passes none)."""

    def __init__(self, x, **kwargs):
        self.x, self.kwargs = x, kwargs

    def __dlpack__(self, **kwargs):
        return self.x.__dlpack__(**{**kwargs, **self.kwargs})

    def __dlpack_device__(self):
        return self.x.__dlpack_device__()


def test_getitem_on_0d_arrays_takes_ellipsis_and_none(xp):
    with mx.util.np_shape(True):
        x = xp.asarray(1.5, device=CTX)
        for key, shape in [
            ((), ()),
            (..., ()),
            ((Ellipsis,), ()),
            (None, (1,)),
            ((None, ...), (1,)),
            ((..., None, None), (1, 1)),
        ]:
            check(x[key], np.full(shape, 1.5), "float32")
        with pytest.raises(IndexError, match="single ellipsis"):
            x[..., ...]
        check(x[xp.asarray(True, device=CTX)], [1.5], "float32")
        check(x[xp.asarray(False, device=CTX)], np.zeros(0), "float32")
    check(arr([[1, 2], [3, 4]])[..., None], [[[1], [2]], [[3], [4]]], "int64")


def test_setitem_on_0d_arrays_and_selections_of_nothing(xp):
    with mx.util.np_shape(True):
        x = xp.asarray(1.5, device=CTX)
        x[...] = 2.5
        check(x, 2.5, "float32")
        x[()] = 3.5
        check(x, 3.5, "float32")
        with pytest.raises(IndexError, match="single ellipsis"):
            x[..., ...] = 1.0
        # zero-size arrays and masks select nothing: nothing is written, MXNet is not asked
        e = xp.zeros((0, 3), device=CTX)
        e[:, [0, 1]] = 1.0
        e[:, xp.asarray([0, 1], device=CTX)] = xp.ones((2,), device=CTX)
        y = arr(np.ones((2, 3)))
        y[xp.zeros((0,), dtype=xp.bool, device=CTX)] = 5.0
        check(y, np.ones((2, 3)), "float64")
        with pytest.raises(ValueError, match="cannot assign a value of shape"):
            y[xp.zeros((0,), dtype=xp.bool, device=CTX)] = xp.ones((2,), device=CTX)
        with pytest.raises(IndexError, match="does not match"):
            y[xp.zeros((3, 0), dtype=xp.bool, device=CTX)] = 5.0
        check(e, np.zeros((0, 3)), "float32")


def test_getitem_differentiates_through_the_0d_path(xp):
    with mx.util.np_shape(True):
        x = xp.asarray(2.0, device=CTX)
        x.attach_grad()
        with mx.autograd.record():
            y = xp.multiply(x[None, ...], 3.0)
        y.backward()
        check(x.grad, 3.0, "float32")


def test_install_keeps_mxnet_methods_and_runs_once(xp):
    from portconv.backends import _mxnet_namespace as ns

    cls = mx.np.ndarray
    assert cls.__dict__["_portconv_standard"] is True
    assert ns.namespace() is xp  # built once, installed once
    assert ns._MX_METHODS["__lt__"].__module__.startswith("mxnet")
    assert ns._MX_METHODS["__getitem__"].__module__.startswith("mxnet")
    for name in ("device", "mT", "to_device", "__dlpack__", "__index__", "__floordiv__"):
        assert name not in vars(mx.nd.NDArray), name  # legacy arrays are left alone


_FIRST_CALLS = """
import sys, threading, time, warnings
warnings.simplefilter("ignore")
import mxnet as mx
from portconv.backends import _mxnet_namespace as ns

barrier, spaces, additions = threading.Barrier(8), [], ns._additions


def slow_additions():  # widens the window between the installer's check and its writes
    time.sleep(0.2)
    return additions()


ns._additions = slow_additions


def first_call():
    barrier.wait()
    spaces.append(ns.namespace())


threads = [threading.Thread(target=first_call) for _ in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
assert len({id(s) for s in spaces}) == 1, "built more than once"
assert ns._MX_METHODS["__getitem__"].__module__.startswith("mxnet"), "wrapped twice"
x = mx.np.array([[1.0, 2.0]])
assert x[0, 1] == 2.0 and (x < x.astype("int64")).shape == (1, 2)
print("ok")
"""


def test_threads_making_the_first_call_build_and_install_once():
    """In a fresh process (the installation is once per process), eight threads ask for the
    namespace at once, the installation slowed down so that they overlap: one namespace, and
    MXNet's own methods are what the wrappers call (not another thread's wrappers)."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_FIRST_CALLS)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "MXNET_ENGINE_TYPE": "NaiveEngine"},
    )
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-2000:]


def test_matmul_tensordot_vecdot_check_shapes(xp):
    x, y = arr(np.ones((2, 3))), arr(np.ones((2, 3)))
    for bad, message in [
        (lambda: xp.matmul(x, y), "last axis of x1"),
        (lambda: xp.matmul(x, arr(np.ones(()))), "must have a dimension"),
        (lambda: xp.matmul(arr(np.ones((2, 2, 3))), arr(np.ones((3, 3, 1)))), "batch axes"),
        (lambda: xp.tensordot(x, arr(np.ones((3, 2)))), "axis 0 of x1 .* differ in size"),
        (lambda: xp.tensordot(x, arr(np.ones(3)), axes=2), r"axes=2 must be in \[0, 1\]"),
        (lambda: xp.tensordot(x, y, axes=([0, 0], [0, 1])), "contracted twice"),
        (lambda: xp.tensordot(x, y, axes=([1], [0, 1])), "differ in length"),
        (lambda: xp.tensordot(x, y, axes=1.5), "int or two sequences"),
        (lambda: xp.vecdot(x, arr(np.ones(2))), "do not broadcast"),
        (lambda: xp.vecdot(x, arr(np.ones((2, 1))), axis=-1), "one size"),
        (lambda: xp.vecdot(x, arr(np.ones(3)), axis=0), "one size"),
    ]:
        with pytest.raises(pc.ArgumentError, match=message):
            bad()
    check(xp.vecdot(x, arr(np.ones((1, 3)))), [3.0, 3.0], "float64")


_CRASHERS = """
import json, sys, warnings
warnings.simplefilter("ignore")
import mxnet as mx
import numpy as np
import portconv as pc

mx.npx.set_np()
xp = pc.get_adapter("mxnet").namespace()
Z = lambda *shape, d=xp.float32: xp.zeros(shape, dtype=d)
I64, I32 = xp.ones((3, 2), dtype=xp.int64), xp.ones((3, 2), dtype=xp.int32)
cases = {
    "where(0 mask, 0-d, 0-d)": lambda: xp.where(Z(0, d=xp.bool), xp.asarray(1.0), 2.0),
    "where(0-d mask, (0,), 0-d)": lambda: xp.where(xp.asarray(True), Z(0), xp.asarray(1.0)),
    "where((2,0) mask, (2,1), (1,0))": lambda: xp.where(Z(2, 0, d=xp.bool), Z(2, 1), Z(1, 0)),
    "where((0,3) mask, (0,3), 1)": lambda: xp.where(Z(0, 3, d=xp.bool), Z(0, 3), 1),
    "tril((0,3))": lambda: xp.tril(Z(0, 3)),
    "sign((0,))": lambda: xp.sign(Z(0)),
    "take((3,), no indices)": lambda: xp.take(xp.ones(3), Z(0, d=xp.int64)),
    "floor_divide((0,) int, 3)": lambda: xp.floor_divide(Z(0, d=xp.int64), 3),
    "sort((0,3))": lambda: xp.sort(Z(0, 3), axis=0),
    "(0,)[(0,) mask]": lambda: Z(0)[Z(0, d=xp.bool)],
    "(0,3)[(0,) mask]": lambda: Z(0, 3)[Z(0, d=xp.bool)],
    "(0,3)[(0,3) mask]": lambda: Z(0, 3)[Z(0, 3, d=xp.bool)],
    "(0,3)[(0,) mask, 1]": lambda: Z(0, 3)[Z(0, d=xp.bool), 1],
    "(0,)[(0,) > 0]": lambda: Z(0)[Z(0) > 0],
    "(2,0)[(2,) mask]": lambda: Z(2, 0)[xp.asarray([True, False])],
    "(0,3)[:, [0, 1]]": lambda: Z(0, 3)[:, xp.asarray([0, 1])],
    "(0,3)[:, list]": lambda: Z(0, 3)[:, [0, 1]],
    "(0,3)[[]]": lambda: Z(0, 3)[[]],
    "(2,3)[(0,) mask]": lambda: xp.ones((2, 3))[Z(0, d=xp.bool)],
    "(2,3)[(2,0) mask]": lambda: xp.ones((2, 3))[Z(2, 0, d=xp.bool)],
    "(2,3)[(3,0) mask]": lambda: xp.ones((2, 3))[Z(3, 0, d=xp.bool)],
    "(2,)[(2,0) mask]": lambda: xp.ones(2)[Z(2, 0, d=xp.bool)],
    "matmul((0,3) int, (3,2) int)": lambda: xp.matmul(Z(0, 3, d=xp.int64), I64),
    "matmul((3,0), (0,2))": lambda: xp.matmul(Z(3, 0), Z(0, 2)),
    "(0,3) int @ (3,2) int8": lambda: Z(0, 3, d=xp.int64) @ xp.ones((3, 2), dtype=xp.int8),
    "tensordot((0,3) int, (3,2) int)": lambda: xp.tensordot(Z(0, 3, d=xp.int32), I32, axes=1),
    "tensordot((0,3), (3,))": lambda: xp.tensordot(Z(0, 3), xp.ones(3)),
    "tensordot((0,), (1,))": lambda: xp.tensordot(Z(0), xp.ones(1)),
    "vecdot((0,3), (3,))": lambda: xp.vecdot(Z(0, 3), xp.ones(3)),
    "unique_all((0,2))": lambda: xp.unique_all(Z(0, 2)),
    "repeat((2,), [0, 0])": lambda: xp.repeat(xp.ones(2), xp.asarray([0, 0])),
}
out = {}
for name, call in cases.items():
    try:
        result = call()
        result = list(result) if isinstance(result, tuple) else [result]
        out[name] = [[list(r.shape), str(r.dtype), r.asnumpy().tolist()] for r in result]
    except Exception as exc:
        out[name] = type(exc).__name__ + ": " + str(exc)
print(json.dumps(out))
"""


def test_zero_size_masks_and_operands_never_reach_mxnets_crashes(xp):
    """MXNet 1.9.1 ends the process (a segmentation fault or an abort) on ``where`` with a
    zero-size operand broadcast, on a zero-size boolean mask, and on some zero-size
    contractions: the namespace answers those without calling MXNet. Run in a subprocess, so
    a regression fails this test instead of killing the test run."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_CRASHERS)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "MXNET_ENGINE_TYPE": "NaiveEngine"},
    )
    assert done.returncode == 0, f"the process died ({done.returncode}): {done.stderr[-2000:]}"
    got = json.loads(done.stdout.strip().splitlines()[-1])
    f32, i64 = "float32", "int64"
    expected = {
        "where(0 mask, 0-d, 0-d)": [[[0], f32, []]],
        "where(0-d mask, (0,), 0-d)": [[[0], f32, []]],
        "where((2,0) mask, (2,1), (1,0))": [[[2, 0], f32, [[], []]]],
        "where((0,3) mask, (0,3), 1)": [[[0, 3], f32, []]],
        "tril((0,3))": [[[0, 3], f32, []]],
        "sign((0,))": [[[0], f32, []]],
        "take((3,), no indices)": [[[0], f32, []]],
        "floor_divide((0,) int, 3)": [[[0], i64, []]],
        "sort((0,3))": [[[0, 3], f32, []]],
        "(0,)[(0,) mask]": [[[0], f32, []]],
        "(0,3)[(0,) mask]": [[[0, 3], f32, []]],
        "(0,3)[(0,3) mask]": [[[0], f32, []]],
        "(0,3)[(0,) mask, 1]": [[[0], f32, []]],
        "(0,)[(0,) > 0]": [[[0], f32, []]],
        "(2,0)[(2,) mask]": [[[1, 0], f32, [[]]]],
        "(0,3)[:, [0, 1]]": [[[0, 2], f32, []]],
        "(0,3)[:, list]": [[[0, 2], f32, []]],
        "(0,3)[[]]": [[[0, 3], f32, []]],
        # a mask axis of size 0 selects nothing on any axis (as NumPy and the test suite)
        "(2,3)[(0,) mask]": [[[0, 3], f32, []]],
        "(2,3)[(2,0) mask]": [[[0], f32, []]],
        "(2,3)[(3,0) mask]": "IndexError: a boolean index of shape (3, 0) does not match the "
        "leading axes of an array of shape (2, 3)",
        "(2,)[(2,0) mask]": "IndexError: a boolean index of shape (2, 0) does not match the "
        "leading axes of an array of shape (2,)",
        "matmul((0,3) int, (3,2) int)": [[[0, 2], i64, []]],
        "matmul((3,0), (0,2))": [[[3, 2], f32, [[0.0, 0.0]] * 3]],
        "(0,3) int @ (3,2) int8": [[[0, 2], i64, []]],
        "tensordot((0,3) int, (3,2) int)": [[[0, 2], "int32", []]],
        "tensordot((0,3), (3,))": "ArgumentError: tensordot: axes=2 must be in [0, 1] for "
        "shapes (0, 3) and (3,)",
        "tensordot((0,), (1,))": "ArgumentError: tensordot: axes=2 must be in [0, 1] for "
        "shapes (0,) and (1,)",
        "vecdot((0,3), (3,))": [[[0], f32, []]],
        "unique_all((0,2))": [[[0], f32, []], [[0], i64, []], [[0, 2], i64, []], [[0], i64, []]],
        "repeat((2,), [0, 0])": [[[0], f32, []]],
    }
    assert got == expected


# -- pad -------------------------------------------------------------------------------------
@given(
    data=st.data(),
    ndim=st.integers(1, 4),
    dtype=st.sampled_from(["float32", "float64", "float16", "int64", "int8", "uint8", "bool"]),
)
def test_pad_constant_values_any_axes(xp, data, ndim, dtype):
    shape = data.draw(st.lists(st.integers(1, 3), min_size=ndim, max_size=ndim), label="shape")
    widths = data.draw(
        st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), min_size=ndim, max_size=ndim),
        label="widths",
    )
    floats = [0, 5, -math.inf, 2.5, math.inf]
    values = {"bool": [True, False], "uint8": [0, 7]}.get(dtype, [0, 5, -3])
    value = data.draw(st.sampled_from(floats if "float" in dtype else values), label="value")
    a = sample(shape, dtype)
    x = arr(a)
    with unchanged(x):
        y = xp.pad(x, widths, constant_values=value)
    check(y, np.pad(a, widths, constant_values=value), dtype, rtol=0, atol=0)


@pytest.mark.parametrize(
    "width", [2, (1, 2), ((1, 2),), [(0, 1), (2, 0), (1, 1)], ((0, 0), (0, 0), (0, 0))]
)
def test_pad_width_forms(xp, width):
    a = sample((2, 3, 2), "float32")
    check(xp.pad(arr(a), width, constant_values=-1.5), np.pad(a, width, constant_values=-1.5))


def test_pad_gradient_reaches_the_input_only(xp):
    a = sample((2, 3), "float64").astype(np.float64)
    w = np.arange(1.0, 1.0 + 5 * 4).reshape(5, 4)
    x = arr(a)
    x.attach_grad()
    with mx.autograd.record():
        y = xp.pad(x, ((2, 1), (0, 1)), constant_values=-math.inf)
        loss = xp.sum(xp.multiply(xp.where(xp.isinf(y), 0.0, y), arr(w)))
    loss.backward()
    check(x.grad, w[2:4, 0:3], "float64")


def test_pad_rejects_what_numpy_rejects_and_delegates_other_modes(xp):
    x = arr([[1, 2], [3, 4]], "int64")
    with pytest.raises(ValueError):
        xp.pad(x, -1)
    with pytest.raises(ValueError):
        xp.pad(x, 1, constant_values=-math.inf)
    a = sample((3, 4), "float32")
    for mode in ("edge", "reflect"):
        check(xp.pad(arr(a), ((1, 2), (2, 1)), mode=mode), np.pad(a, ((1, 2), (2, 1)), mode=mode))


# -- statistics ------------------------------------------------------------------------------
VAR_CASES = [
    (axis, correction, keepdims)
    for axis in (None, 0, -1, (0, 2))
    for correction in (0, 1)
    for keepdims in (False, True)
]


@pytest.mark.parametrize(("axis", "correction", "keepdims"), VAR_CASES)
def test_var_std_values_and_gradients(xp, axis, correction, keepdims):
    """MXNet's var/std give zero gradients; the namespace's match the analytic ones."""
    rng = np.random.default_rng(5)
    a = rng.normal(size=(2, 3, 4))
    np_axis = axis
    mean = a.mean(axis=np_axis, keepdims=True)
    n = a.size // mean.size
    var = a.var(axis=np_axis, ddof=correction, keepdims=keepdims)
    std = np.sqrt(var)
    w = rng.normal(size=np.shape(var)) if np.ndim(var) else np.float64(1.0)
    w_kept = np.reshape(w, mean.shape)
    grads = {
        "var": w_kept * 2 * (a - mean) / (n - correction),
        "std": w_kept * (a - mean) / ((n - correction) * np.reshape(std, mean.shape)),
    }
    for name, expected in (("var", var), ("std", std)):
        x = arr(a)
        x.attach_grad()
        with mx.autograd.record():
            y = getattr(xp, name)(x, axis=axis, correction=correction, keepdims=keepdims)
            # 0-d arrays take no operations outside NumPy shape semantics: weight 1
            loss = xp.sum(xp.multiply(y, arr(w))) if y.ndim else y
        loss.backward()
        check(y, expected, "float64", rtol=1e-10, atol=1e-10)
        check(x.grad, grads[name], "float64", rtol=1e-9, atol=1e-9)


def test_var_std_of_integers_and_float16(xp):
    a = np.array([[1, 2, 4], [3, 5, 9]])
    check(xp.var(arr(a, "int64"), axis=1), a.var(axis=1), "float32", rtol=1e-6)
    check(xp.std(arr(a, "float16"), axis=0, correction=1), a.std(axis=0, ddof=1), "float16")


# -- sorting and searching -------------------------------------------------------------------
SORT_DTYPES = ["float32", "float64", "float16", "int64", "int32", "int8", "uint8", "bool"]


@given(
    data=st.data(),
    ndim=st.integers(1, 3),
    dtype=st.sampled_from(SORT_DTYPES),
    descending=st.booleans(),
)
def test_argsort_is_stable_with_ties(xp, data, ndim, dtype, descending):
    shape = data.draw(st.lists(st.integers(1, 7), min_size=ndim, max_size=ndim), label="shape")
    axis = data.draw(st.integers(-ndim, ndim - 1), label="axis")
    a = sample(shape, dtype, seed=data.draw(st.integers(0, 99), label="seed"), low=0, high=2)
    key = -a.astype(np.float64) if descending else a
    expected_idx = np.argsort(key, axis=axis, kind="stable")
    x = arr(a)
    with unchanged(x):
        idx = xp.argsort(x, axis=axis, descending=descending)
        values = xp.sort(x, axis=axis, descending=descending)
    check(idx, expected_idx, "int64", rtol=0, atol=0)
    check(values, np.take_along_axis(a, expected_idx, axis=axis), dtype, rtol=0, atol=0)


def test_argsort_long_rows_of_ties_and_nan(xp):
    a = np.tile(np.array([3.0, 1.0, 2.0, 1.0]), 500)
    check(xp.argsort(arr(a)), np.argsort(a, kind="stable"), "int64", rtol=0, atol=0)
    b = np.array([[2.0, np.nan, 1.0, np.nan, 2.0, -np.inf, np.inf, -0.0, 0.0]])
    check(xp.argsort(arr(b), stable=False), np.argsort(b, kind="stable"), "int64", atol=0)
    check(xp.sort(arr(b)), np.sort(b), "float64")


def test_sort_is_differentiable(xp):
    a = np.array([[0.3, -1.2, 2.5, 0.1], [1.0, 4.0, -3.0, 2.0]])
    w = np.arange(1.0, 9.0).reshape(2, 4)
    x = arr(a)
    x.attach_grad()
    with mx.autograd.record():
        loss = xp.sum(xp.multiply(xp.sort(x, axis=1, descending=True), arr(w)))
    loss.backward()
    order = np.argsort(-a, axis=1, kind="stable")
    expected = np.zeros_like(a)
    np.put_along_axis(expected, order, w, axis=1)
    check(x.grad, expected, "float64")


@pytest.mark.parametrize("dtype", ["float32", "int64", "bool", "float16"])
@pytest.mark.parametrize("axis", [None, 0, 1, -1])
@pytest.mark.parametrize("keepdims", [False, True])
def test_argmax_argmin_keepdims_first_occurrence(xp, dtype, axis, keepdims):
    a = np.array([[1, 3, 3, 0], [2, 2, 0, 0], [0, 1, 3, 3]]).astype(dtype)
    x = arr(a)
    for name in ("argmax", "argmin"):
        expected = getattr(np, name)(a, axis=axis, keepdims=keepdims)
        check(getattr(xp, name)(x, axis=axis, keepdims=keepdims), expected, "int64", atol=0)


def test_unique_values_and_nonzero(xp):
    check(xp.unique_values(arr([3.0, 1.0, 3.0, 2.0], "float32")), [1.0, 2.0, 3.0], "float32")
    check(xp.unique_values(arr([[True, True]])), [True], "bool")
    check(xp.unique_values(arr([3.0, np.nan, 1.0, np.nan])), [1.0, 3.0, np.nan, np.nan])
    check(xp.unique_values(arr([np.nan, np.nan])), [np.nan, np.nan])
    a = np.array([[0, 2, 0], [1, 0, 3]])
    for dtype in ("int64", "float32", "bool"):
        got = xp.nonzero(arr(a, dtype))
        assert isinstance(got, tuple) and len(got) == 2
        for g, e in zip(got, np.nonzero(a)):
            check(g, e, "int64", atol=0)


# -- everything else, against NumPy ---------------------------------------------------------
_A = np.array([[0.5, 1.25, 2.0], [1.5, 0.75, 2.25]])
_I = np.array([[3, -1, 2], [0, 5, -4]])
_B = np.array([[True, False, True], [False, False, True]])

# name -> (namespace call on (xp, x, i, b), NumPy call on (a, i, b), expected dtype or None)
FUNCTIONS = {
    "abs": (lambda xp, x, i, b: xp.abs(i), lambda a, i, b: np.abs(i), "int64"),
    "abs_bool": (lambda xp, x, i, b: xp.abs(b), lambda a, i, b: b, "bool"),
    "exp": (lambda xp, x, i, b: xp.exp(x), lambda a, i, b: np.exp(a), "float32"),
    "exp_int": (lambda xp, x, i, b: xp.exp(i), lambda a, i, b: np.exp(i), "float32"),
    "log": (lambda xp, x, i, b: xp.log(x), lambda a, i, b: np.log(a), "float32"),
    "log1p": (lambda xp, x, i, b: xp.log1p(x), lambda a, i, b: np.log1p(a), "float32"),
    "expm1": (lambda xp, x, i, b: xp.expm1(x), lambda a, i, b: np.expm1(a), "float32"),
    "log2": (lambda xp, x, i, b: xp.log2(x), lambda a, i, b: np.log2(a), "float32"),
    "log10": (lambda xp, x, i, b: xp.log10(x), lambda a, i, b: np.log10(a), "float32"),
    "sqrt": (lambda xp, x, i, b: xp.sqrt(x), lambda a, i, b: np.sqrt(a), "float32"),
    "sqrt_bool": (lambda xp, x, i, b: xp.sqrt(b), lambda a, i, b: np.sqrt(b), "float32"),
    "square": (lambda xp, x, i, b: xp.square(i), lambda a, i, b: np.square(i), "int64"),
    "tanh": (lambda xp, x, i, b: xp.tanh(x), lambda a, i, b: np.tanh(a), "float32"),
    "sin": (lambda xp, x, i, b: xp.sin(i), lambda a, i, b: np.sin(i), "float32"),
    "cos": (lambda xp, x, i, b: xp.cos(x), lambda a, i, b: np.cos(a), "float32"),
    "tan": (lambda xp, x, i, b: xp.tan(x), lambda a, i, b: np.tan(a), "float32"),
    "sinh": (lambda xp, x, i, b: xp.sinh(x), lambda a, i, b: np.sinh(a), "float32"),
    "cosh": (lambda xp, x, i, b: xp.cosh(x), lambda a, i, b: np.cosh(a), "float32"),
    "asin": (lambda xp, x, i, b: xp.asin(x / 3), lambda a, i, b: np.arcsin(a / 3), "float32"),
    "acos": (lambda xp, x, i, b: xp.acos(x / 3), lambda a, i, b: np.arccos(a / 3), "float32"),
    "atan": (lambda xp, x, i, b: xp.atan(x), lambda a, i, b: np.arctan(a), "float32"),
    "asinh": (lambda xp, x, i, b: xp.asinh(x), lambda a, i, b: np.arcsinh(a), "float32"),
    "acosh": (lambda xp, x, i, b: xp.acosh(x + 1), lambda a, i, b: np.arccosh(a + 1), "float32"),
    "atanh": (lambda xp, x, i, b: xp.atanh(x / 3), lambda a, i, b: np.arctanh(a / 3), "float32"),
    "sign": (lambda xp, x, i, b: xp.sign(i), lambda a, i, b: np.sign(i), "int64"),
    "sign_nan": (
        lambda xp, x, i, b: xp.sign(xp.asarray([-2.0, 0.0, np.nan], device=CTX)),
        lambda a, i, b: np.sign([-2.0, 0.0, np.nan]),
        "float32",
    ),
    "negative": (lambda xp, x, i, b: xp.negative(i), lambda a, i, b: -i, "int64"),
    "positive": (lambda xp, x, i, b: xp.positive(xp.astype(i, xp.int8)), lambda a, i, b: i, "int8"),
    "round": (
        lambda xp, x, i, b: xp.round(xp.asarray([0.5, 1.5, 2.5, -0.5, -1.7], device=CTX)),
        lambda a, i, b: np.round([0.5, 1.5, 2.5, -0.5, -1.7]),
        "float32",
    ),
    "round_f16": (
        lambda xp, x, i, b: xp.round(xp.astype(x, xp.float16)),
        lambda a, i, b: np.round(a),
        "float16",
    ),
    "round_int": (lambda xp, x, i, b: xp.round(i), lambda a, i, b: i, "int64"),
    "floor": (lambda xp, x, i, b: xp.floor(-x), lambda a, i, b: np.floor(-a), "float32"),
    "floor_int": (lambda xp, x, i, b: xp.floor(i), lambda a, i, b: i, "int64"),
    "ceil": (lambda xp, x, i, b: xp.ceil(x), lambda a, i, b: np.ceil(a), "float32"),
    "trunc": (lambda xp, x, i, b: xp.trunc(-x), lambda a, i, b: np.trunc(-a), "float32"),
    "isnan": (
        lambda xp, x, i, b: xp.isnan(xp.divide(xp.subtract(x, x), xp.subtract(x, 1.25))),
        lambda a, i, b: np.isnan((a - a) / (a - 1.25)),
        "bool",
    ),
    "isinf": (
        lambda xp, x, i, b: xp.isinf(xp.divide(1.0, xp.subtract(x, 1.25))),
        lambda a, i, b: np.isinf(1 / (a - 1.25)),
        "bool",
    ),
    "isfinite": (lambda xp, x, i, b: xp.isfinite(i), lambda a, i, b: np.isfinite(i), "bool"),
    "logical_not": (lambda xp, x, i, b: xp.logical_not(i), lambda a, i, b: i == 0, "bool"),
    "clip": (lambda xp, x, i, b: xp.clip(x, 0.8, 2.0), lambda a, i, b: np.clip(a, 0.8, 2.0), None),
    "clip_int": (lambda xp, x, i, b: xp.clip(i, -1, 3), lambda a, i, b: np.clip(i, -1, 3), "int64"),
    "clip_arrays": (
        lambda xp, x, i, b: xp.clip(i, min=xp.asarray([0, 1, 2], device=CTX)),
        lambda a, i, b: np.maximum(i, [0, 1, 2]),
        "int64",
    ),
    "sum": (lambda xp, x, i, b: xp.sum(x, axis=(0, 1)), lambda a, i, b: a.sum(), "float32"),
    "sum_int8": (
        lambda xp, x, i, b: xp.sum(xp.astype(i, xp.int8), axis=1, keepdims=True),
        lambda a, i, b: i.sum(axis=1, keepdims=True),
        "int64",
    ),
    "sum_bool": (lambda xp, x, i, b: xp.sum(b, axis=0), lambda a, i, b: b.sum(axis=0), "int64"),
    "sum_uint8_dtype": (
        lambda xp, x, i, b: xp.sum(xp.astype(b, xp.uint8), dtype=xp.float64),
        lambda a, i, b: b.sum(),
        "float64",
    ),
    "sum_empty_axes": (lambda xp, x, i, b: xp.sum(x, axis=()), lambda a, i, b: a, "float32"),
    "prod": (lambda xp, x, i, b: xp.prod(i, axis=-1), lambda a, i, b: i.prod(axis=-1), "int64"),
    "mean": (
        lambda xp, x, i, b: xp.mean(x, axis=(0, 1), keepdims=True),
        lambda a, i, b: a.mean(keepdims=True),
        "float32",
    ),
    "mean_int": (lambda xp, x, i, b: xp.mean(i, axis=0), lambda a, i, b: i.mean(0), "float32"),
    "max": (lambda xp, x, i, b: xp.max(i, axis=(0, 1)), lambda a, i, b: i.max(), "int64"),
    "min": (
        lambda xp, x, i, b: xp.min(x, axis=-1, keepdims=True),
        lambda a, i, b: a.min(-1, keepdims=True),
        "float32",
    ),
    "any": (lambda xp, x, i, b: xp.any(b, axis=0), lambda a, i, b: b.any(0), "bool"),
    "all": (
        lambda xp, x, i, b: xp.all(i, axis=(0, 1), keepdims=True),
        lambda a, i, b: i.all(keepdims=True),
        "bool",
    ),
    "cumulative_sum": (
        lambda xp, x, i, b: xp.cumulative_sum(x, axis=-1),
        lambda a, i, b: np.cumsum(a, -1),
        "float32",
    ),
    "cumulative_sum_initial": (
        lambda xp, x, i, b: xp.cumulative_sum(xp.astype(i, xp.int8), axis=0, include_initial=True),
        lambda a, i, b: np.concatenate([np.zeros((1, 3)), np.cumsum(i, 0)]),
        "int64",
    ),
    "cumulative_sum_1d": (
        lambda xp, x, i, b: xp.cumulative_sum(b[0]),
        lambda a, i, b: np.cumsum(b[0]),
        "int64",
    ),
    "reshape": (lambda xp, x, i, b: xp.reshape(b, (3, 2)), lambda a, i, b: b.reshape(3, 2), "bool"),
    "permute_dims": (
        lambda xp, x, i, b: xp.permute_dims(b, (1, 0)),
        lambda a, i, b: b.T,
        "bool",
    ),
    "matrix_transpose": (
        lambda xp, x, i, b: xp.matrix_transpose(xp.stack([i, i])),
        lambda a, i, b: np.stack([i.T, i.T]),
        "int64",
    ),
    "moveaxis": (
        lambda xp, x, i, b: xp.moveaxis(xp.stack([b, b]), 0, -1),
        lambda a, i, b: np.moveaxis(np.stack([b, b]), 0, -1),
        "bool",
    ),
    "expand_dims": (
        lambda xp, x, i, b: xp.expand_dims(x, axis=-1),
        lambda a, i, b: a[..., None],
        "float32",
    ),
    "squeeze": (
        lambda xp, x, i, b: xp.squeeze(xp.expand_dims(i, axis=1), axis=1),
        lambda a, i, b: i,
        "int64",
    ),
    "flip": (lambda xp, x, i, b: xp.flip(b), lambda a, i, b: np.flip(b), "bool"),
    "flip_axes": (
        lambda xp, x, i, b: xp.flip(x, axis=(-1,)),
        lambda a, i, b: np.flip(a, -1),
        "float32",
    ),
    "roll": (
        lambda xp, x, i, b: xp.roll(b, 1, axis=1),
        lambda a, i, b: np.roll(b, 1, axis=1),
        "bool",
    ),
    "roll_flat": (lambda xp, x, i, b: xp.roll(i, -2), lambda a, i, b: np.roll(i, -2), "int64"),
    "broadcast_to": (
        lambda xp, x, i, b: xp.broadcast_to(x, (2, 2, 3)),
        lambda a, i, b: np.broadcast_to(a, (2, 2, 3)),
        "float32",
    ),
    "broadcast_arrays": (
        lambda xp, x, i, b: xp.broadcast_arrays(x, xp.expand_dims(i, axis=1))[1],
        lambda a, i, b: np.broadcast_arrays(a, i[:, None])[1],
        "int64",
    ),
    "take": (
        lambda xp, x, i, b: xp.take(x, xp.asarray([2, -1, 0], device=CTX), axis=1),
        lambda a, i, b: np.take(a, [2, -1, 0], axis=1),
        "float32",
    ),
    "take_1d": (
        lambda xp, x, i, b: xp.take(b[1], xp.asarray([-3, 2], device=CTX)),
        lambda a, i, b: np.take(b[1], [-3, 2]),
        "bool",
    ),
    "argsort": (
        lambda xp, x, i, b: xp.argsort(i, axis=0),
        lambda a, i, b: np.argsort(i, axis=0, kind="stable"),
        "int64",
    ),
    "matmul_f16": (
        lambda xp, x, i, b: xp.matmul(xp.astype(x, xp.float16), xp.astype(i, xp.float16).T),
        lambda a, i, b: a @ i.T,
        "float16",
    ),
    "matmul_1d": (lambda xp, x, i, b: xp.matmul(i[0], i[1]), lambda a, i, b: i[0] @ i[1], "int64"),
    "matmul_vec_mat": (
        lambda xp, x, i, b: xp.matmul(i[0], xp.matrix_transpose(i)),
        lambda a, i, b: i[0] @ i.T,
        "int64",
    ),
    "matmul_batched_int8": (
        lambda xp, x, i, b: xp.matmul(xp.stack([i, -i]), xp.astype(i.T, xp.int8)),
        lambda a, i, b: np.stack([i, -i]) @ i.T,
        "int64",
    ),
    "tensordot_f16": (
        lambda xp, x, i, b: xp.tensordot(xp.astype(x, xp.float16), xp.astype(x, xp.float16)),
        lambda a, i, b: np.tensordot(a, a),
        "float16",
    ),
    "tensordot_int": (
        lambda xp, x, i, b: xp.tensordot(i, i, axes=([0], [0])),
        lambda a, i, b: np.tensordot(i, i, axes=([0], [0])),
        "int64",
    ),
    "vecdot_axis0": (
        lambda xp, x, i, b: xp.vecdot(x, i, axis=0),
        lambda a, i, b: (a * i).sum(0),
        "float64",
    ),
    "einsum_trace": (
        lambda xp, x, i, b: xp.einsum("ij,kj->", x, x),
        lambda a, i, b: np.einsum("ij,kj->", a, a),
        "float32",
    ),
    "full_like": (
        lambda xp, x, i, b: xp.full_like(i, 2**60 + 3),
        lambda a, i, b: np.full_like(i, 2**60 + 3),
        "int64",
    ),
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_functions_match_numpy_on_the_input_context(xp, name):
    call, reference, dtype = FUNCTIONS[name]
    x, i, b = arr(_A, "float32"), arr(_I, "int64"), arr(_B)
    with unchanged(x, i, b):
        y = call(xp, x, i, b)
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = reference(_A, _I, _B)
    check(y, expected, dtype, rtol=2e-3 if dtype == "float16" else 1e-6)


def test_shape_functions_raise_like_the_standard(xp):
    x = arr(np.ones((2, 1, 3)))
    with pytest.raises(ValueError):
        xp.squeeze(x, axis=0)
    with pytest.raises(IndexError):
        xp.expand_dims(x, axis=4)
    with pytest.raises(ValueError):
        xp.take(x, arr([0], "int64"))
    with pytest.raises(ValueError):
        xp.cumulative_sum(x)
    with pytest.raises(ValueError):
        xp.matrix_transpose(arr([1.0]))
    check(xp.expand_dims(x, axis=-4), np.ones((1, 2, 1, 3)), "float64")


# -- gradients against central finite differences --------------------------------------------
_X0 = np.array([[0.6, 1.3, 2.1], [1.7, 0.9, 2.4]])
_W = np.array([[0.7, -1.1, 0.4], [1.9, 0.3, -0.8]])

DIFFERENTIABLE = {
    "exp": lambda xp, x: xp.exp(x),
    "log": lambda xp, x: xp.log(x),
    "log1p": lambda xp, x: xp.log1p(x),
    "expm1": lambda xp, x: xp.expm1(x),
    "sqrt": lambda xp, x: xp.sqrt(x),
    "square": lambda xp, x: xp.square(x),
    "tanh": lambda xp, x: xp.tanh(x),
    "sin": lambda xp, x: xp.sin(x),
    "cos": lambda xp, x: xp.cos(x),
    "abs": lambda xp, x: xp.abs(xp.subtract(x, 1.5)),
    "negative": lambda xp, x: xp.negative(x),
    "positive": lambda xp, x: xp.positive(x),
    "pow": lambda xp, x: xp.pow(x, x),
    "pow_scalar_base": lambda xp, x: xp.pow(2.0, x),
    "divide_scalar_left": lambda xp, x: xp.divide(3.0, x),
    "subtract_int_array": lambda xp, x: xp.subtract(xp.asarray([[1, 2, 3]], device=CTX), x),
    "maximum_scalar": lambda xp, x: xp.maximum(x, 1.5),
    "minimum_arrays": lambda xp, x: xp.minimum(x, xp.flip(x)),
    "clip": lambda xp, x: xp.clip(x, 0.8, 2.0),
    "clip_array": lambda xp, x: xp.clip(x, min=xp.full((3,), 1.0, device=CTX)),
    "where_scalar": lambda xp, x: xp.where(xp.greater(x, 1.5), x, 0.0),
    "where_scalar_first": lambda xp, x: xp.where(xp.greater(x, 1.5), -1, x),
    "sum": lambda xp, x: xp.sum(x, axis=0, keepdims=True),
    "prod": lambda xp, x: xp.prod(x, axis=1),
    "mean": lambda xp, x: xp.mean(x, axis=(0, 1)),
    "max": lambda xp, x: xp.max(x, axis=1),
    "min": lambda xp, x: xp.min(x, axis=0, keepdims=True),
    "var": lambda xp, x: xp.var(x, axis=1, correction=1),
    "std": lambda xp, x: xp.std(x),
    "cumulative_sum": lambda xp, x: xp.cumulative_sum(x, axis=1, include_initial=True),
    "reshape": lambda xp, x: xp.reshape(x, (3, 2)),
    "permute_dims": lambda xp, x: xp.permute_dims(x, (1, 0)),
    "matrix_transpose": lambda xp, x: xp.matrix_transpose(x),
    "moveaxis": lambda xp, x: xp.moveaxis(x, 1, 0),
    "expand_squeeze": lambda xp, x: xp.squeeze(xp.expand_dims(x, axis=0), axis=0),
    "flip": lambda xp, x: xp.flip(x, axis=1),
    "roll": lambda xp, x: xp.roll(x, 1, axis=1),
    "broadcast_to": lambda xp, x: xp.broadcast_to(x, (2, 2, 3)),
    "broadcast_arrays": lambda xp, x: xp.broadcast_arrays(x, xp.zeros((2, 1, 1), device=CTX))[0],
    "take": lambda xp, x: xp.take(x, xp.asarray([-1, 0, 0], device=CTX), axis=1),
    "sort": lambda xp, x: xp.sort(x, axis=0),
    "pad": lambda xp, x: xp.pad(x, ((1, 0), (0, 2)), constant_values=5.0),
    "concat_mixed": lambda xp, x: xp.concat([x, xp.asarray([[1, 2, 3]], device=CTX)], axis=0),
    "stack": lambda xp, x: xp.stack([x, xp.flip(x)], axis=-1),
    "tril": lambda xp, x: xp.tril(x),
    "triu": lambda xp, x: xp.triu(x, k=1),
    "matmul": lambda xp, x: xp.matmul(x, xp.matrix_transpose(x)),
    "tensordot": lambda xp, x: xp.tensordot(x, x, axes=([1], [1])),
    "vecdot": lambda xp, x: xp.vecdot(x, xp.flip(x)),
    "einsum": lambda xp, x: xp.einsum("ij,ij->i", x, x),
    "meshgrid": lambda xp, x: xp.meshgrid(x[0], x[1])[0],
    "astype": lambda xp, x: xp.astype(x, xp.float32),
    "sign_zero": lambda xp, x: xp.sign(x),
    "floor_zero": lambda xp, x: xp.floor(x),
}


def _weighted(xp, f, x):
    """sum(f(x) * weights): a 0-d f(x) (which takes no operations outside NumPy shape
    semantics) is its own loss."""
    y = f(xp, x)
    if y.ndim == 0:
        return y
    return xp.sum(xp.multiply(xp.astype(y, xp.float64), arr(np.resize(_W, y.shape))))


@pytest.mark.parametrize("name", sorted(DIFFERENTIABLE))
def test_gradients_match_finite_differences(xp, name):
    f = DIFFERENTIABLE[name]
    x = arr(_X0)
    x.attach_grad()
    with mx.autograd.record():
        loss = _weighted(xp, f, x)
    loss.backward()
    # float32 results (astype) need a step well above their rounding
    eps, expected = (1e-3 if name == "astype" else 1e-6), np.zeros_like(_X0)
    for idx in np.ndindex(_X0.shape):
        step = np.zeros_like(_X0)
        step[idx] = eps
        up = _weighted(xp, f, arr(_X0 + step)).asnumpy()
        down = _weighted(xp, f, arr(_X0 - step)).asnumpy()
        expected[idx] = (up - down) / (2 * eps)
    tol = 1e-3 if name == "astype" else 1e-6
    check(x.grad, expected, "float64", rtol=tol, atol=tol)


# -- reductions of no elements: the standard's empty sum, product and mean -------------------
EMPTY_CASES = [((0,), None), ((0, 3), 0), ((0, 3), 1), ((0, 3), None), ((3, 0), -1)]
EMPTY_CASES += [((2, 0, 3), (0, 2)), ((0, 0), 1), ((2, 0, 3), (1,))]
#: name -> the standard's value for no elements (None: an error, as NumPy raises)
EMPTY_VALUES = {"sum": 0, "prod": 1, "mean": math.nan, "any": False, "all": True}
EMPTY_VALUES.update({"var": math.nan, "std": math.nan, "max": None, "min": None})
EMPTY_VALUES.update({"argmax": None, "argmin": None})
EMPTY_DTYPES = {"any": "bool", "all": "bool", "argmax": "int64", "argmin": "int64"}


@pytest.mark.parametrize(
    ("name", "shape", "axis"),
    [
        (name, shape, axis)
        for name in sorted(EMPTY_VALUES)
        for shape, axis in EMPTY_CASES
        if not (name.startswith("arg") and isinstance(axis, tuple))  # they take one axis
    ],
)
@pytest.mark.parametrize("keepdims", [False, True])
def test_reductions_of_zero_size_arrays_follow_the_standard(xp, name, shape, axis, keepdims):
    """sum 0, prod 1, mean/var/std NaN, any False, all True of no elements (MXNet gave 0 for
    prod and mean and failed for all); max, min, argmax and argmin of no elements raise
    ArgumentError (a ValueError, as NumPy's); a result with no elements is empty."""
    a = np.zeros(shape, dtype="float32")
    count = a.size if axis is None else math.prod(shape[i] for i in np.atleast_1d(axis))
    kept = np.sum(a, axis=axis, keepdims=True).shape
    expected_shape = kept if keepdims else np.sum(a, axis=axis).shape
    with mx.util.np_shape(True):
        x = arr(a)
        call = getattr(xp, name)
        if EMPTY_VALUES[name] is None and count == 0:
            with pytest.raises(pc.ArgumentError, match=f"{name}: axis=.* holds no elements"):
                call(x, axis=axis, keepdims=keepdims)
            with pytest.raises(ValueError):  # NumPy refuses too
                getattr(np, name)(a, axis=axis, keepdims=keepdims)
            return
        y = call(x, axis=axis, keepdims=keepdims)
        value = 0 if EMPTY_VALUES[name] is None else EMPTY_VALUES[name]
        check(y, np.full(expected_shape, value), EMPTY_DTYPES.get(name, "float32"))


def test_empty_reductions_keep_integer_dtypes_and_var_needs_n_above_correction(xp):
    with mx.util.np_shape(True):
        e = arr(np.zeros((0,), "int8"))
        check(xp.sum(e), 0, "int64")
        check(xp.prod(e), 1, "int64")
        check(xp.prod(arr(np.zeros((0, 2), "uint8")), axis=0, dtype=xp.uint8), [1, 1], "uint8")
        check(xp.mean(e), np.nan, "float32")
        check(xp.mean(arr(np.zeros((0,), "float64"))), np.nan, "float64")
    # the standard: NaN where N - correction <= 0 (a division by zero gave inf)
    x = arr([[1.0, 2.0], [3.0, 5.0]])
    check(xp.var(x, axis=1, correction=2), [np.nan, np.nan], "float64")
    check(xp.std(x, axis=0, correction=3.5, keepdims=True), [[np.nan, np.nan]], "float64")
    check(xp.var(x, axis=1, correction=1), [0.5, 2.0], "float64")


# -- NumPy shape semantics: 0-d and zero-size arrays -----------------------------------------
def test_zero_d_and_zero_size_under_numpy_shape_semantics(xp):
    """With mx.util.np_shape(True) (what mx.npx.set_np() turns on) MXNet has 0-d and
    zero-size arrays; the namespace handles them."""
    with mx.util.np_shape(True):
        x = arr(_A)
        s = xp.sum(x)
        check(xp.add(s, 1.5), _A.sum() + 1.5, "float64")
        check(xp.less(xp.asarray(3, device=CTX), 3.5), True, "bool")
        check(xp.full((), 2, device=CTX), 2, "int64")
        check(xp.std(x), _A.std(), "float64")
        check(xp.argmax(x), 5, "int64")
        check(xp.matmul(x[0], x[1]), _A[0] @ _A[1], "float64")
        empty = xp.zeros((0, 3), device=CTX)
        check(
            xp.pad(empty, 1, constant_values=-math.inf),
            np.pad(np.zeros((0, 3)), 1, "constant", constant_values=-np.inf),
        )
        check(xp.concat([empty, x], axis=0), _A, "float64")
        check(xp.sum(empty, axis=0), np.zeros(3), "float32")
        check(xp.argsort(xp.zeros((2, 0), device=CTX)), np.zeros((2, 0)), "int64")
        check(xp.sort(xp.zeros((0,), device=CTX)), np.zeros(0), "float32")


def test_reductions_to_0d_need_no_0d_intermediates(xp):
    """Reductions to 0-d work in either mode: without NumPy shape semantics MXNet has no
    operations on 0-d arrays, so the namespace computes with kept dimensions."""
    x = arr(_A)
    check(xp.std(x), _A.std(), "float64")
    check(xp.var(x, correction=1), _A.var(ddof=1), "float64")
    check(xp.argmin(x), 0, "int64")
    check(xp.matmul(x[0], x[1]), _A[0] @ _A[1], "float64")
    check(xp.vecdot(x[0], x[1]), _A[0] @ _A[1], "float64")


def test_the_adapter_serves_this_namespace_for_legacy_arrays_too(xp, be):
    if be.adapter.name != "mxnet":
        pytest.skip("the be fixture is not an MXNet backend here")
    assert be.adapter.namespace() is xp
    x = be.asarray(np.array([[1, 2], [3, 4]], dtype=np.int64))
    y = xp.add(be.adapter.to_standard(x), 1.5)
    out = be.adapter.from_standard(y, x)
    assert type(out) is type(x)
    np.testing.assert_array_equal(be.to_numpy(out), [[2.5, 3.5], [4.5, 5.5]])
