"""Native kernels of issue 16's ops against their generic reference, on the backend under
test (the pattern of tests/test_native.py): max pooling with indices and on integers,
average pooling with ``divisor_override``, Lp pooling, fractional max pooling, max
unpooling, padding modes and adaptive max pooling with indices.

Where the adapter's ``can_run(call)`` is True, the native result (values and indices) equals
the generic one, and gradients through ``portconv.autograd`` with ``path="native"`` (the
library's own backward where the adapter offers one) equal those with ``path="generic"``;
where it is not, ``path="native"`` is refused with the adapter's reason. Backends without
such native kernels skip, saying so.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import portconv as pc
import portconv.autograd as ag
from portconv.ops import adaptive as adaptive_ops
from portconv.ops import fractional as fractional_ops
from portconv.ops import lp_pool as lp_ops
from portconv.ops import pool as pool_ops
from portconv.ops import unpool as unpool_ops
from portconv.ops.conv import bind as conv_bind


@pytest.fixture(autouse=True)
def _run_context(be):
    with be.run_context():
        yield


def _native(be, op):
    native = be.adapter.native.get(op)
    if native is None:
        pytest.skip(f"the {be.name} backend has no native {op} kernel (generic only)")
    return native


def _first(y):
    return y[0] if isinstance(y, tuple) else y


def _compare(be, fn, call, arrays, op, *, grads=True, tol=1e-9):
    """``fn(*inputs, path=...)`` natively and generically: equal results (indices exactly)
    and, for float inputs, equal gradients; or a refusal giving the adapter's reason."""
    native = _native(be, op)
    verdict = native.can_run(call)
    inputs = [be.asarray(a) for a in arrays]
    if verdict is not True:
        with pytest.raises(pc.ArgumentError, match=f"path: 'native' .*{re.escape(verdict)}"):
            fn(*inputs, path="native")
        return False
    results = {}
    upstream = None
    for path in ("native", "generic"):
        if not grads:
            results[path] = (fn(*inputs, path=path), None)
            continue
        v = ag.Variable(be.asarray(arrays[0]), requires_grad=True)
        out = fn(v, *inputs[1:], path=path)
        y = _first(out)
        if upstream is None:
            upstream = np.random.default_rng(0).standard_normal(y.shape)
        (y * be.asarray(upstream)).sum().backward()
        results[path] = (out, v.grad)
    (a, ga), (b, gb) = results["native"], results["generic"]
    pairs = zip(a, b) if isinstance(a, tuple) else [(a, b)]
    for x, y in pairs:
        x = x.data if isinstance(x, ag.Variable) else x
        y = y.data if isinstance(y, ag.Variable) else y
        be.check(x, be.to_numpy(y), rtol=tol, atol=tol)
    if ga is not None:
        be.check(ga, be.to_numpy(gb), rtol=tol, atol=tol, dtype="float64")
    return True


def _distinct(rng, shape):
    n = int(np.prod(shape))
    return (rng.permutation(n) / max(n, 1) * 6 - 3).reshape(shape)


@st.composite
def windows(draw, d_choices=(1, 2, 3)):
    d = draw(st.sampled_from(d_choices))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(d))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(d))
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    size = tuple(draw(st.integers(k, k + 3)) for k in kernel)
    return dict(d=d, kernel=kernel, stride=stride, padding=padding, size=size,
                ceil=draw(st.booleans()))  # fmt: skip


@settings(max_examples=max(10, settings.default.max_examples))
@given(w=windows(), integer=st.booleans())
def test_max_pool_with_indices_native_equals_generic(be, w, integer):
    x = _distinct(np.random.default_rng(1), (2, 2) + w["size"])
    if integer:
        x = np.round(x * 10).astype(np.int64)
    args = (w["kernel"], w["stride"], w["padding"], 1, w["ceil"])
    plan = pool_ops.bind("max", be.asarray(x), *args, True, "valid", "channels_first", None,
                         None, True)  # fmt: skip

    def fn(x, *, path):
        module = pc if integer else ag
        return module.max_pool(x, *args, return_indices=True, path=path)

    _compare(be, fn, plan.call, [x], "max_pool_with_indices", grads=not integer)
    if integer:
        plan = pool_ops.bind("max", be.asarray(x), *args, True, "valid", "channels_first", None)
        _compare(be, lambda x, *, path: pc.max_pool(x, *args, path=path), plan.call, [x],
                 "max_pool_integer", grads=False)  # fmt: skip


@settings(max_examples=max(10, settings.default.max_examples))
@given(w=windows(), divisor=st.sampled_from([1, 3]), count=st.booleans())
def test_avg_pool_divisor_override_native_equals_generic(be, w, divisor, count):
    x = np.random.default_rng(2).standard_normal((2, 2) + w["size"])
    args = (w["kernel"], w["stride"], w["padding"], w["ceil"], count, divisor)
    plan = pool_ops.bind("avg", be.asarray(x), w["kernel"], w["stride"], w["padding"], 1,
                         w["ceil"], count, "valid", "channels_first", None, divisor)  # fmt: skip
    _compare(be, lambda x, *, path: ag.avg_pool(x, *args, path=path), plan.call, [x], "avg_pool")


@settings(max_examples=max(10, settings.default.max_examples))
@given(w=windows(), p=st.sampled_from([1.0, 2.0, 3.0, float("inf")]),
       convention=st.sampled_from(["torch", "onnx"]), padded=st.booleans())  # fmt: skip
def test_lp_pool_native_equals_generic(be, w, p, convention, padded):
    x = _distinct(np.random.default_rng(3), (2, 2) + w["size"]) + 3.5  # positive sums
    padding = w["padding"] if padded else 0
    fn_ag = getattr(ag, f"lp_pool{w['d']}d")
    plan = lp_ops.bind(be.asarray(x), p, w["kernel"], w["stride"], w["ceil"], padding, 1,
                       convention, "channels_first", w["d"])  # fmt: skip

    def fn(x, *, path):
        return fn_ag(x, p, w["kernel"], w["stride"], w["ceil"], padding=padding,
                     convention=convention, path=path)  # fmt: skip

    _compare(be, fn, plan.call, [x], "lp_pool")


@settings(max_examples=max(10, settings.default.max_examples))
@given(d=st.sampled_from([2, 3]), data=st.data())
def test_fractional_max_pool_native_equals_generic(be, d, data):
    kernel = tuple(data.draw(st.integers(1, 3)) for _ in range(d))
    out = tuple(data.draw(st.integers(1, 3)) for _ in range(d))
    size = tuple(o + k - 1 + data.draw(st.integers(0, 2)) for o, k in zip(out, kernel))
    x = _distinct(np.random.default_rng(4), (2, 2) + size)
    samples = be.asarray(np.random.default_rng(5).random((2, 2, d)))
    plan = fractional_ops.bind(be.asarray(x), kernel, out, None, True, d)
    fn_ag = getattr(ag, f"fractional_max_pool{d}d")

    def fn(x, *, path):
        return fn_ag(x, kernel, out, return_indices=True, _random_samples=samples, path=path)

    _compare(be, fn, plan.call, [x], "fractional_max_pool")


@settings(max_examples=max(10, settings.default.max_examples))
@given(w=windows())
def test_max_unpool_native_equals_generic(be, w):
    x = _distinct(np.random.default_rng(6), (2, 2) + w["size"])
    y, idx = pc.max_pool(x, w["kernel"], w["stride"], w["padding"], return_indices=True)
    fn_pc = getattr(pc, f"max_unpool{w['d']}d")
    args = (w["kernel"], w["stride"], w["padding"])
    out = w["size"]
    plan = unpool_ops.bind(be.asarray(y), be.asarray(idx), *args, out, w["d"])
    # the forward natively; the gradient is portconv's rule on every path
    _compare(be, lambda y, i, *, path: fn_pc(y, i, *args, output_size=out, path=path),
             plan.call, [y, idx], "max_unpool", grads=False)  # fmt: skip


@settings(max_examples=max(10, settings.default.max_examples))
@given(d=st.sampled_from([1, 2, 3]), mode=st.sampled_from(["reflect", "replicate", "circular"]),
       data=st.data())  # fmt: skip
def test_pad_native_equals_generic(be, d, mode, data):
    size = tuple(data.draw(st.integers(2, 4)) for _ in range(d))
    pads = tuple((data.draw(st.integers(0, n - 1)), data.draw(st.integers(0, n - 1)))
                 for n in size)  # fmt: skip
    assume(any(b or a for b, a in pads))  # no padding: no pad op to compare
    rng = np.random.default_rng(7)
    x, w = rng.standard_normal((2, 2) + size), rng.standard_normal((1, 2) + (1,) * d)
    plans = conv_bind(be.asarray(x), be.asarray(w), None, 1, pads, 1, 1, "channels_first",
                          d, False, mode)  # fmt: skip
    pre = plans[0]

    def fn(x, *, path):
        return ag.conv(x, be.asarray(w), None, 1, pads, padding_mode=mode, path=path)

    _compare(be, fn, pre.call, [x], "pad")


@settings(max_examples=max(10, settings.default.max_examples))
@given(d=st.sampled_from([1, 2, 3]), data=st.data())
def test_adaptive_max_pool_with_indices_native_equals_generic(be, d, data):
    size = tuple(data.draw(st.integers(1, 6)) for _ in range(d))
    out = tuple(data.draw(st.integers(1, 4)) for _ in range(d))
    x = _distinct(np.random.default_rng(8), (2, 2) + size)
    plan = adaptive_ops.bind("max", be.asarray(x), out, "channels_first", d, True)
    fn_ag = getattr(ag, f"adaptive_max_pool{d}d")
    _compare(be, lambda x, *, path: fn_ag(x, out, True, path=path), plan.call, [x],
             "adaptive_max_pool_with_indices")  # fmt: skip
