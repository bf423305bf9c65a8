"""Native kernels and native backward kernels against the generic reference, on the backend
under test (torch, MXNet; Dask's chunked paths have no backward of their own).

For random convolution, transposed convolution, pooling and adaptive pooling calls (every
stride, padding form, dilation, groups, rounding mode and count the forward accepts), the
call description of the op decides through the adapter's ``can_run(call)``:

* where it is True, the native forward equals the generic one, and ``portconv.autograd``'s
  gradients through the native backward (``NativePath.vjp``, ``path="native"``) equal those of
  the generic rule (``path="generic"``) for every input, weight and bias;
* where it is not, ``path="native"`` is refused with the adapter's reason in the message.

The generic rules are checked against finite differences in tests/test_grad.py; here a few
small float64 cases also check the native backward against finite differences directly.
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
from portconv.ops import pool as pool_ops
from portconv.ops.conv import bind as conv_bind
from portconv.ops.conv_transpose import bind as transpose_bind


@pytest.fixture(autouse=True)
def _numpy_shape_semantics(be):
    """Losses are 0-d arrays, which MXNet handles only with NumPy shape semantics."""
    with be.run_context():
        yield


def _native(be, op):
    native = be.adapter.native.get(op)
    if native is None:
        pytest.skip(f"the {be.name} backend has no native {op} kernel (generic only)")
    return native


def _distinct(rng, shape):
    """Values far apart (max pooling has no ties whose routing could differ)."""
    n = int(np.prod(shape))
    return (rng.permutation(n).astype(np.float64) / max(n, 1) + 0.25).reshape(shape) * 3.0


def _compare(be, fn, plan_of, arrays, op, *, seed=0, tol=1e-9):
    """``fn(*variables, path=...)`` natively and generically: equal values and gradients, or
    a refusal naming the adapter's reason when the native kernel cannot run the call."""
    native = _native(be, op)
    backend_arrays = [None if a is None else be.asarray(a) for a in arrays]
    verdict = native.can_run(plan_of(*backend_arrays).call)
    if verdict is not True:
        reason = verdict if isinstance(verdict, str) else "cannot compute this call exactly"
        with pytest.raises(pc.ArgumentError, match=f"path: 'native' .*{re.escape(reason)}"):
            fn(*backend_arrays, path="native")
        return False
    upstream = None
    results = {}
    for path in ("native", "generic"):
        variables = [
            None if a is None else ag.Variable(be.asarray(a), requires_grad=True) for a in arrays
        ]
        out = fn(*variables, path=path)
        if upstream is None:
            upstream = np.random.default_rng(seed).standard_normal(out.shape)
        (out * be.asarray(upstream)).sum().backward()
        results[path] = (out.data, [None if v is None else v.grad for v in variables])
    (y_nat, g_nat), (y_gen, g_gen) = results["native"], results["generic"]
    be.check(y_nat, be.to_numpy(y_gen), rtol=tol, atol=tol, dtype="float64")
    for a, b in zip(g_nat, g_gen):
        if a is not None:
            be.check(a, be.to_numpy(b), rtol=tol, atol=tol, dtype="float64")
    return True


# -- convolution -----------------------------------------------------------------------------------


@st.composite
def conv_cases(draw):
    d = draw(st.sampled_from([1, 2, 3]))
    groups = draw(st.sampled_from([1, 2]))
    c_in = groups * draw(st.integers(1, 2))
    c_out = groups * draw(st.integers(1, 2))
    kernel = tuple(draw(st.integers(1, 3 if d < 3 else 2)) for _ in range(d))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(d))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(d))
    spans = [(k - 1) * dl + 1 for k, dl in zip(kernel, dilation)]
    spatial = tuple(draw(st.integers(s, s + (4 if d < 3 else 2))) for s in spans)
    padding = draw(
        st.one_of(
            st.integers(0, 2),
            st.just("same"),
            st.just("valid"),
            st.tuples(*[st.tuples(st.integers(0, 2), st.integers(0, 2)) for _ in range(d)]),
        )
    )
    return dict(
        d=d,
        groups=groups,
        c_in=c_in,
        c_out=c_out,
        kernel=kernel,
        dilation=dilation,
        stride=stride,
        spatial=spatial,
        padding=padding,
        bias=draw(st.booleans()),
        batch=draw(st.sampled_from([1, 3, None])),
    )


@settings(max_examples=max(10, settings.default.max_examples))
@given(case=conv_cases())
def test_conv_native_forward_and_backward_equal_the_generic_rule(be, case):
    rng = np.random.default_rng(0)
    lead = () if case["batch"] is None else (case["batch"],)
    x = rng.standard_normal(lead + (case["c_in"],) + case["spatial"])
    w = rng.standard_normal((case["c_out"], case["c_in"] // case["groups"]) + case["kernel"])
    b = rng.standard_normal(case["c_out"]) if case["bias"] else None
    args = (case["stride"], case["padding"], case["dilation"], case["groups"])

    def fn(x, w, b, *, path):
        return ag.conv(x, w, b, *args, path=path)

    def plan_of(x, w, b):
        return conv_bind(x, w, b, *args, "channels_first", None, False)

    _compare(be, fn, plan_of, [x, w, b], "conv")


@settings(max_examples=max(10, settings.default.max_examples))
@given(case=conv_cases())
def test_conv_transpose_native_forward_and_backward_equal_the_generic_rule(be, case):
    assume(not isinstance(case["padding"], str))
    rng = np.random.default_rng(1)
    lead = () if case["batch"] is None else (case["batch"],)
    x = rng.standard_normal(lead + (case["c_in"],) + case["spatial"])
    w = rng.standard_normal((case["c_in"], case["c_out"] // case["groups"]) + case["kernel"])
    b = rng.standard_normal(case["c_out"]) if case["bias"] else None
    stride, dilation = case["stride"], case["dilation"]
    output_padding = tuple(min(s, dl) - 1 for s, dl in zip(stride, dilation))
    args = (stride, case["padding"], output_padding, case["groups"], dilation)
    try:
        pc.conv_transpose(x, w, b, *args)
    except pc.ArgumentError:  # an empty output: not a call to compare
        assume(False)

    def fn(x, w, b, *, path):
        return ag.conv_transpose(x, w, b, *args, path=path)

    def plan_of(x, w, b):
        return transpose_bind(x, w, b, *args, None)

    _compare(be, fn, plan_of, [x, w, b], "conv_transpose")


# -- pooling ---------------------------------------------------------------------------------------


@st.composite
def pool_cases(draw, kind):
    d = draw(st.sampled_from([1, 2, 3]))
    kernel = tuple(draw(st.integers(1, 3 if d < 3 else 2)) for _ in range(d))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(d))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(d)) if kind == "max" else (1,) * d
    spans = [(k - 1) * dl + 1 for k, dl in zip(kernel, dilation)]
    padding = draw(
        st.one_of(
            st.just(tuple(k // 2 for k in kernel)),  # torch's limit
            st.just(tuple(s - 1 for s in spans)),  # MXNet's limit
            st.just("same"),
            st.tuples(*[st.tuples(st.integers(0, s - 1), st.integers(0, s - 1)) for s in spans]),
        )
    )
    spatial = tuple(draw(st.integers(s, s + (4 if d < 3 else 2))) for s in spans)
    rule = draw(st.sampled_from(["floor", "ceil", "full"]))
    return dict(
        d=d,
        kernel=kernel,
        stride=stride,
        dilation=dilation,
        padding=padding,
        spatial=spatial,
        ceil_mode=rule == "ceil",
        pooling_convention="full" if rule == "full" else "valid",
        count_include_pad=draw(st.booleans()),
        unbatched=draw(st.booleans()),
    )


@pytest.mark.parametrize("kind", ["max", "avg"])
@settings(max_examples=max(10, settings.default.max_examples))
@given(data=st.data())
def test_pool_native_forward_and_backward_equal_the_generic_rule(be, kind, data):
    case = data.draw(pool_cases(kind))
    lead = (2,) if case["unbatched"] else (2, 2)
    x = _distinct(np.random.default_rng(2), lead + case["spatial"])
    count = case["count_include_pad"] if kind == "avg" else True
    conv = case["pooling_convention"]
    args = (case["kernel"], case["stride"], case["padding"], case["dilation"], case["ceil_mode"])
    # a "full" window past the input holds no element: its -inf has no gradient to compare
    y = pc.max_pool(x, *args, pooling_convention=conv) if kind == "max" else None
    assume(y is None or np.isfinite(y).all())

    def fn(x, *, path):
        if kind == "max":
            return ag.max_pool(x, *args, pooling_convention=conv, path=path)
        k, s, p, _, c = args
        return ag.avg_pool(x, k, s, p, c, count, pooling_convention=conv, path=path)

    def plan_of(x):
        return pool_ops.bind(
            kind, x, case["kernel"], case["stride"], case["padding"], case["dilation"],
            case["ceil_mode"], count, conv, "channels_first", None,
        )  # fmt: skip

    _compare(be, fn, plan_of, [x], f"{kind}_pool")


@pytest.mark.parametrize("kind", ["max", "avg"])
@settings(max_examples=max(10, settings.default.max_examples))
@given(data=st.data())
def test_adaptive_native_forward_and_backward_equal_the_generic_rule(be, kind, data):
    d = data.draw(st.sampled_from([1, 2, 3]))
    size = tuple(data.draw(st.integers(1, 7 if d < 3 else 4)) for _ in range(d))
    out = tuple(data.draw(st.one_of(st.integers(1, 5), st.none())) for _ in range(d))
    x = _distinct(np.random.default_rng(3), (2, 3) + size)

    def fn(x, *, path):
        return getattr(ag, f"adaptive_{kind}_pool{d}d")(x, out, path=path)

    def plan_of(x):
        return adaptive_ops.bind(kind, x, out, "channels_first", d)

    _compare(be, fn, plan_of, [x], f"adaptive_{kind}_pool")


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_global_pooling_takes_a_path_and_runs_natively(be, kind):
    x = _distinct(np.random.default_rng(4), (2, 3, 4, 5))

    def fn(x, *, path):
        return getattr(ag, f"global_{kind}_pool")(x, path=path)

    def plan_of(x):
        return adaptive_ops.bind(kind, x, None, "channels_first", None)

    _compare(be, fn, plan_of, [x], f"adaptive_{kind}_pool")


# -- the native backward against finite differences ------------------------------------------------

FD_CASES = {
    "conv": lambda x, w, b, path: ag.conv2d(x, w, b, 2, 1, 2, 1, path=path),
    "conv_transpose": lambda x, w, b, path: ag.conv_transpose2d(x, w, b, 2, 1, 1, path=path),
    "max_pool": lambda x, w, b, path: ag.max_pool2d(x, 3, 2, 1, ceil_mode=True, path=path),
    "avg_pool": lambda x, w, b, path: ag.avg_pool2d(x, 3, 2, 1, True, False, path=path),
    "adaptive_max_pool": lambda x, w, b, path: ag.adaptive_max_pool2d(x, (2, 3), path=path),
    "adaptive_avg_pool": lambda x, w, b, path: ag.adaptive_avg_pool2d(x, (2, 3), path=path),
}


@pytest.mark.parametrize("op", sorted(FD_CASES))
def test_native_backward_against_finite_differences(be, op):
    native = _native(be, op)
    if native.vjp is None:
        pytest.skip(f"the {be.name} backend's native {op} has no backward of its own")
    rng = np.random.default_rng(5)
    x = _distinct(rng, (1, 2, 5, 5))
    w = rng.standard_normal((2, 2, 3, 3))
    b = rng.standard_normal(2)
    windowed = op in ("conv", "conv_transpose")
    arrays = [x, w, b] if windowed else [x]
    fn = FD_CASES[op]

    def value(arrays, path="native"):
        full = list(arrays) + [None] * (3 - len(arrays))
        with ag.no_grad():
            out = fn(*[None if a is None else be.asarray(a) for a in full], path)
        return be.to_numpy(out.data)

    weights = np.random.default_rng(6).standard_normal(value(arrays).shape)
    variables = [ag.Variable(be.asarray(a), requires_grad=True) for a in arrays]
    full = variables + [None] * (3 - len(variables))
    (fn(*full, "native") * be.asarray(weights)).sum().backward()
    eps = 1e-6
    for i, (v, a) in enumerate(zip(variables, arrays)):
        numeric = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            shifted = []
            for sign in (1.0, -1.0):
                moved = [c.copy() for c in arrays]
                moved[i][idx] += sign * eps
                shifted.append(float(np.sum(value(moved) * weights)))
            numeric[idx] = (shifted[0] - shifted[1]) / (2 * eps)
        be.check(v.grad, numeric, rtol=1e-5, atol=1e-6, dtype="float64")


@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh"])
def test_activation_native_forward_and_backward_equal_the_generic_rule(be, name):
    from portconv.ops import activation

    op = getattr(activation, name.upper())
    x = np.random.default_rng(7).standard_normal((3, 4, 5))
    x[0, 0, :3] = [0.0, -0.0, 1e-300]  # relu's gradient at 0 is 0, as in the frameworks

    def fn(x, *, path):
        with pc.config(path=path):
            return getattr(ag, name)(x)

    def plan_of(x):
        return activation.bind(op, x)

    _compare(be, fn, plan_of, [x], name)


def test_relu_keeps_nan_on_every_path(be):
    x = be.asarray(np.array([np.nan, -1.0, 2.0]))
    for path in ("generic", "auto"):
        with pc.config(path=path):
            y = ag.relu(x).data
        got = be.to_numpy(y)
        assert np.isnan(got[0]) and got[1] == 0.0 and got[2] == 2.0, (path, got)
