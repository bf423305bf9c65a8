"""Gradients on every backend: portconv.autograd against central finite differences (float64),
against torch.autograd (torch session), the transposed convolution against a loop reference
(everywhere) and torch.nn.functional (torch session), native autograd through plain portconv
ops (torch and MXNet sessions), and the book's "learning a kernel" (5.2.4)."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import portconv as pc
import portconv.autograd as ag


@pytest.fixture(autouse=True)
def _numpy_shape_semantics(request):
    """Losses are 0-d arrays, which MXNet handles only with NumPy shape semantics (what the
    book's ``npx.set_np()`` turns on); the MXNet sessions run these tests with them."""
    callspec = getattr(request.node, "callspec", None)
    if callspec is None or not str(callspec.params.get("be", "")).startswith("mxnet"):
        yield
        return
    import mxnet as mx

    with mx.util.np_shape(True):
        yield


# finite differences evaluate the op twice per input element: keep these runs short
# (8 examples; a fifth of the profile's for the nightly profile)
fd_settings = settings(max_examples=max(8, settings.default.max_examples // 5))

EPS = 1e-6


def _skip_unless(be, name: str, why: str) -> None:
    if be.adapter.name != name or (name == "mxnet" and be.legacy_nd and "mx.np" in why):
        pytest.skip(why)


def _numeric(be, fn, inputs, weights):
    """Central finite differences of ``sum(fn(*inputs) * weights)`` with respect to every
    element of every input (float64 NumPy arrays), evaluated on the backend under test."""

    def value(arrays):
        with ag.no_grad():
            out = fn(*[ag.Variable(be.asarray(a)) for a in arrays])
            data = out.data if isinstance(out, ag.Variable) else out
            return float(np.sum(be.to_numpy(data) * weights))

    grads = []
    for i, a in enumerate(inputs):
        g = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            shifted = []
            for sign in (1.0, -1.0):
                b = a.copy()
                b[idx] += sign * EPS
                shifted.append(value(inputs[:i] + [b] + inputs[i + 1 :]))
            g[idx] = (shifted[0] - shifted[1]) / (2 * EPS)
        grads.append(g)
    return grads


def _check(be, y, expected, *, dtype=None, **tol):
    """``be.check`` plus a dtype check that also reads legacy ``mx.nd`` dtypes."""
    be.check(y, expected, **tol)
    if dtype is not None:
        assert be.to_numpy(y).dtype == np.dtype(dtype), f"dtype {y.dtype}, expected {dtype}"


def check_gradients(be, fn, inputs, *, seed=0, atol=1e-6, rtol=1e-5):
    """portconv.autograd's gradients of ``sum(fn(*inputs) * R)`` (random ``R``) against
    finite differences; the gradients must be the backend's own arrays on its device."""
    variables = [ag.Variable(be.asarray(a), requires_grad=True) for a in inputs]
    out = fn(*variables)
    _check(be, out.data, be.to_numpy(out.data), dtype="float64")
    weights = np.random.default_rng(seed).standard_normal(out.shape)
    (out * be.asarray(weights)).sum().backward()
    expected = _numeric(be, fn, list(inputs), weights)
    for v, e in zip(variables, expected):
        _check(be, v.grad, e, atol=atol, rtol=rtol, dtype="float64")
    return [be.to_numpy(v.grad) for v in variables]


def _torch_grads(fn, inputs, weights):
    import torch

    ts = [torch.tensor(a, requires_grad=True) for a in inputs]
    out = fn(*ts)
    (out * torch.tensor(weights)).sum().backward()
    return out.detach().numpy(), [t.grad.numpy() for t in ts]


def _distinct(rng, shape):
    """Values with gaps far above the finite-difference step (max pooling has no ties)."""
    n = int(np.prod(shape))
    return (rng.permutation(n).astype(np.float64) / n + 0.01 * rng.random(n) / n).reshape(shape)


# -- random small configurations ------------------------------------------------------------------


@st.composite
def conv_cases(draw, dims=(1, 2, 3)):
    d = draw(st.sampled_from(dims))
    groups = draw(st.sampled_from([1, 2]))
    c_in = groups * draw(st.integers(1, 2 if d < 3 else 1))
    c_out = groups * draw(st.integers(1, 2))
    kmax, nmax = (3, 5) if d < 3 else (2, 3)
    kernel = tuple(draw(st.integers(1, kmax)) for _ in range(d))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(d))
    stride = tuple(draw(st.integers(1, 2)) for _ in range(d))
    spans = [(k - 1) * dl + 1 for k, dl in zip(kernel, dilation)]
    spatial = tuple(draw(st.integers(max(s, 1), max(s, 1) + nmax - 2)) for s in spans)
    form = draw(st.sampled_from(["int", "pairs", "same"]))
    if form == "int":
        padding = draw(st.integers(0, 1))
    elif form == "pairs":
        padding = tuple((draw(st.integers(0, 2)), draw(st.integers(0, 1))) for _ in range(d))
    else:
        padding = "same"
    bias = draw(st.booleans())
    batch = draw(st.sampled_from([1, 2, None]))  # None: unbatched
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
        bias=bias,
        batch=batch,
    )


def _conv_inputs(case, seed=0):
    rng = np.random.default_rng(seed)
    lead = () if case["batch"] is None else (case["batch"],)
    x = rng.standard_normal(lead + (case["c_in"],) + case["spatial"])
    w = rng.standard_normal((case["c_out"], case["c_in"] // case["groups"]) + case["kernel"])
    inputs = [x, w]
    if case["bias"]:
        inputs.append(rng.standard_normal(case["c_out"]))
    return inputs


def _conv_fn(case, module):
    def fn(x, w, b=None):
        return module.conv(
            x, w, b, case["stride"], case["padding"], case["dilation"], case["groups"]
        )

    return fn


@fd_settings
@given(case=conv_cases())
def test_conv_gradients_against_finite_differences(be, case):
    check_gradients(be, _conv_fn(case, ag), _conv_inputs(case))


@given(case=conv_cases())
def test_conv_gradients_against_torch_autograd(be, case):
    _skip_unless(be, "torch", "compares with torch.autograd; runs in the torch session")
    import torch.nn.functional as F

    inputs = _conv_inputs(case)
    d = case["d"]
    pairs = pc.ops._call.padding_pairs(
        "padding",
        case["padding"],
        d,
        spatial=inputs[0].shape[-d:],
        kernel=case["kernel"],
        stride=case["stride"],
        dilation=case["dilation"],
    )
    flat = [v for pair in reversed(pairs) for v in pair]  # F.pad counts from the last axis

    def torch_fn(x, w, b=None):  # torch pads symmetrically only: pad first, then convolve
        f = getattr(F, f"conv{d}d")
        return f(F.pad(x, flat), w, b, case["stride"], 0, case["dilation"], case["groups"])

    weights = _weights_like(torch_fn, inputs)
    out, expected = _torch_grads(torch_fn, inputs, weights)
    variables = [ag.Variable(be.asarray(a), requires_grad=True) for a in inputs]
    y = _conv_fn(case, ag)(*variables)
    be.check(y.data, out, atol=1e-10)
    (y * be.asarray(weights)).sum().backward()
    for v, e in zip(variables, expected):
        be.check(v.grad, e, atol=1e-10)


def _weights_like(torch_fn, inputs, seed=3):
    import torch

    with torch.no_grad():
        shape = torch_fn(*[torch.tensor(a) for a in inputs]).shape
    return np.random.default_rng(seed).standard_normal(tuple(shape))


# -- transposed convolution ------------------------------------------------------------------------


def conv_transpose_reference(x, w, b, stride, padding, output_padding, groups, dilation):
    """Loops: every input element scatters ``x * w`` to the positions the kernel reaches."""
    d = w.ndim - 2
    n, c_in = x.shape[:2]
    cout_g = w.shape[1]
    kernel = w.shape[2:]
    full = tuple(
        (x.shape[2 + i] - 1) * stride[i] + dilation[i] * (kernel[i] - 1) + 1 + output_padding[i]
        for i in range(d)
    )
    y = np.zeros((n, cout_g * groups) + full)
    for e, ci in itertools.product(range(n), range(c_in)):
        grp = ci // (c_in // groups)
        for pos in np.ndindex(*x.shape[2:]):
            for off in np.ndindex(*kernel):
                at = tuple(p * s + o * dl for p, s, o, dl in zip(pos, stride, off, dilation))
                for co in range(cout_g):
                    y[(e, grp * cout_g + co) + at] += x[(e, ci) + pos] * w[(ci, co) + off]
    y = y[(slice(None), slice(None)) + tuple(slice(p, f - p) for p, f in zip(padding, full))]
    if b is not None:
        y = y + b.reshape((-1,) + (1,) * d)
    return y


@st.composite
def transpose_cases(draw, dims=(1, 2, 3)):
    d = draw(st.sampled_from(dims))
    groups = draw(st.sampled_from([1, 2]))
    c_in = groups * draw(st.integers(1, 2))
    cout_g = draw(st.integers(1, 2))
    kernel = tuple(draw(st.integers(1, 3 if d < 3 else 2)) for _ in range(d))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(d))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(d))
    output_padding = tuple(draw(st.integers(0, max(s, dl) - 1)) for s, dl in zip(stride, dilation))
    spatial = tuple(draw(st.integers(1, 4 if d < 3 else 2)) for _ in range(d))
    padding = tuple(
        draw(st.integers(0, ((n - 1) * s + dl * (k - 1) + op) // 2))
        for n, s, dl, k, op in zip(spatial, stride, dilation, kernel, output_padding)
    )
    bias = draw(st.booleans())
    return dict(
        d=d,
        groups=groups,
        c_in=c_in,
        c_out=cout_g * groups,
        kernel=kernel,
        stride=stride,
        dilation=dilation,
        output_padding=output_padding,
        spatial=spatial,
        padding=padding,
        bias=bias,
    )


def _transpose_inputs(case, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, case["c_in"]) + case["spatial"])
    w = rng.standard_normal((case["c_in"], case["c_out"] // case["groups"]) + case["kernel"])
    inputs = [x, w]
    if case["bias"]:
        inputs.append(rng.standard_normal(case["c_out"]))
    return inputs


def _transpose_args(case):
    return (
        case["stride"],
        case["padding"],
        case["output_padding"],
        case["groups"],
        case["dilation"],
    )


@given(case=transpose_cases())
def test_conv_transpose_against_loop_reference(be, case):
    x, w, *rest = _transpose_inputs(case)
    b = rest[0] if rest else None
    expected = conv_transpose_reference(x, w, b, *_transpose_args(case))
    fn = getattr(pc, f"conv_transpose{case['d']}d")
    y = fn(
        be.asarray(x), be.asarray(w), None if b is None else be.asarray(b), *_transpose_args(case)
    )
    _check(be, y, expected, atol=1e-10, dtype="float64")
    y32 = pc.conv_transpose(
        be.asarray(x.astype(np.float32)),
        be.asarray(w.astype(np.float32)),
        None,
        *_transpose_args(case),
    )
    expected32 = conv_transpose_reference(x, w, None, *_transpose_args(case))
    _check(be, y32, expected32, atol=1e-4, rtol=1e-4, dtype="float32")


@given(case=transpose_cases())
def test_conv_transpose_against_torch(be, case):
    _skip_unless(be, "torch", "compares with torch.nn.functional.conv_transpose; torch session")
    import torch
    import torch.nn.functional as F

    inputs = _transpose_inputs(case)
    fn = getattr(F, f"conv_transpose{case['d']}d")
    tx, tw, *tb = (torch.tensor(a) for a in inputs)
    expected = fn(tx, tw, tb[0] if tb else None, *_transpose_args(case)).numpy()
    y = pc.conv_transpose(
        *(be.asarray(a) for a in inputs[:2]),
        be.asarray(inputs[2]) if case["bias"] else None,
        *_transpose_args(case),
    )
    be.check(y, expected, atol=1e-10)

    def torch_fn(x, w, b=None):
        return fn(x, w, b, *_transpose_args(case))

    weights = _weights_like(torch_fn, inputs)
    _, grads = _torch_grads(torch_fn, inputs, weights)
    variables = [ag.Variable(be.asarray(a), requires_grad=True) for a in inputs]
    out = ag.conv_transpose(
        *variables[:2], variables[2] if case["bias"] else None, *_transpose_args(case)
    )
    (out * be.asarray(weights)).sum().backward()
    for v, e in zip(variables, grads):
        be.check(v.grad, e, atol=1e-10)


@fd_settings
@given(case=transpose_cases(dims=(1, 2)))
def test_conv_transpose_gradients_against_finite_differences(be, case):
    def fn(x, w, b=None):
        return ag.conv_transpose(x, w, b, *_transpose_args(case))

    check_gradients(be, fn, _transpose_inputs(case))


def test_conv_transpose_is_the_input_gradient_of_conv(be):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 4, 8, 6))
    w = rng.standard_normal((6, 2, 3, 2))
    g = rng.standard_normal((2, 6, 4, 6))
    xv = ag.Variable(be.asarray(x), requires_grad=True)
    y = ag.conv2d(xv, be.asarray(w), None, (2, 1), (1, 1), (1, 2), 2)
    assert y.shape == g.shape
    y.backward(be.asarray(g))
    # the last row is read by no window: output_padding=1 gives it back (as zeros)
    expected = pc.conv_transpose2d(be.asarray(g), be.asarray(w), None, (2, 1), 1, (1, 0), 2, (1, 2))
    be.check(xv.grad, be.to_numpy(expected), atol=1e-12)


def test_fixed_dimension_ops_check_the_dimensions(be):
    x = ag.Variable(be.asarray(np.zeros((1, 2, 3, 3))), requires_grad=True)
    w2 = be.asarray(np.zeros((2, 2, 2, 2)))
    with pytest.raises(ValueError):
        ag.conv1d(x, w2)
    with pytest.raises(ValueError):
        ag.conv_transpose3d(x, w2)
    y = ag.conv_transpose2d(x, w2, stride=2)
    assert y.shape == (1, 2, 6, 6)
    y = ag.conv_transpose(ag.reshape(x, (2, 3, 3)), w2)  # unbatched
    assert y.shape == (2, 4, 4)
    y.sum().backward()
    be.check(x.grad, np.zeros((1, 2, 3, 3)))


def test_conv_transpose_refuses_bad_arguments(be):
    x = be.asarray(np.zeros((1, 2, 3, 3)))
    w = be.asarray(np.zeros((2, 1, 2, 2)))
    with pytest.raises(ValueError, match="output_padding"):
        pc.conv_transpose2d(x, w, stride=2, output_padding=2)
    with pytest.raises(ValueError, match="padding"):  # "same" is ONNX's auto_pad since #16
        pc.conv_transpose2d(x, w, padding="full")
    with pytest.raises(ValueError, match="input channels"):
        pc.conv_transpose2d(be.asarray(np.zeros((1, 3, 3, 3))), w)
    with pytest.raises(ValueError, match="empty"):
        pc.conv_transpose2d(x, w, padding=3)
    if "conv_transpose" in be.adapter.native:  # Dask's: chunk by chunk
        be.check(pc.conv_transpose2d(x, w, path="native"), np.zeros((1, 1, 4, 4)))
    else:  # no library's own kernel is wired in yet
        with pytest.raises(ValueError, match="native"):
            pc.conv_transpose2d(x, w, path="native")


# -- pooling --------------------------------------------------------------------------------------


@st.composite
def pool_cases(draw, dims=(1, 2, 3), dilation=True, portconv_only=False):
    """``portconv_only``: also forms PyTorch lacks (``"same"``, MXNet-style padding up to the
    window span, unbatched inputs)."""
    d = draw(st.sampled_from(dims))
    kernel = tuple(draw(st.integers(1, 3 if d < 3 else 2)) for _ in range(d))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(d))
    dil = tuple(draw(st.integers(1, 2)) if dilation else 1 for _ in range(d))
    spans = [(k - 1) * dl + 1 for k, dl in zip(kernel, dil)]
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    if portconv_only:
        padding = draw(st.sampled_from(["same", padding, tuple((s - 1, 0) for s in spans)]))
    spatial = tuple(draw(st.integers(s, s + (3 if d < 3 else 1))) for s in spans)
    ceil = draw(st.booleans())
    # MXNet's "full" convention (Caffe's rounding up), a form PyTorch lacks
    convention = "full" if portconv_only and not ceil and draw(st.booleans()) else "valid"
    return dict(
        unbatched=portconv_only and draw(st.booleans()),
        convention=convention,
        d=d,
        kernel=kernel,
        stride=stride,
        dilation=dil,
        padding=padding,
        spatial=spatial,
        ceil=ceil,
        count_include_pad=draw(st.booleans()),
    )


def _max_fn(case, module):
    def fn(x):
        return getattr(module, f"max_pool{case['d']}d")(
            x,
            case["kernel"],
            case["stride"],
            case["padding"],
            case["dilation"],
            case["ceil"],
            pooling_convention=case["convention"],
        )

    return fn


def _avg_fn(case, module):
    def fn(x):
        return getattr(module, f"avg_pool{case['d']}d")(
            x,
            case["kernel"],
            case["stride"],
            case["padding"],
            case["ceil"],
            case["count_include_pad"],
            pooling_convention=case["convention"],
        )

    return fn


@fd_settings
@given(case=pool_cases(portconv_only=True))
def test_max_pool_gradient_against_finite_differences(be, case):
    lead = (2,) if case["unbatched"] else (1, 2)
    x = _distinct(np.random.default_rng(1), lead + case["spatial"])
    # a "full" window past the input holds no element: its -inf has no finite difference
    assume(np.isfinite(be.to_numpy(_max_fn(case, pc)(be.asarray(x)))).all())
    check_gradients(be, _max_fn(case, ag), [x])


@fd_settings
@given(case=pool_cases(dilation=False, portconv_only=True))
def test_avg_pool_gradient_against_finite_differences(be, case):
    lead = (1,) if case["unbatched"] else (2, 1)
    x = np.random.default_rng(2).standard_normal(lead + case["spatial"])
    check_gradients(be, _avg_fn(case, ag), [x])


@fd_settings
@given(d=st.sampled_from([1, 2, 3]), unbatched=st.booleans(), data=st.data())
def test_adaptive_pool_gradients_against_finite_differences(be, d, unbatched, data):
    spatial = tuple(data.draw(st.integers(1, 5 if d < 3 else 3)) for _ in range(d))
    out = tuple(data.draw(st.integers(1, n + 1)) for n in spatial)
    x = _distinct(np.random.default_rng(3), ((2,) if unbatched else (1, 2)) + spatial)
    for kind in ("max", "avg"):
        op = getattr(ag, f"adaptive_{kind}_pool{d}d")
        check_gradients(be, lambda v, op=op: op(v, out), [x])


def test_global_pool_gradients_against_finite_differences(be):
    x = _distinct(np.random.default_rng(5), (2, 2, 3, 2))
    check_gradients(be, ag.global_max_pool, [x])
    check_gradients(be, ag.global_avg_pool, [x])


def _first_max_reference(x, kernel):
    """Non-overlapping 2-D max pooling's gradient of ones: 1 at the first maximum of each
    window in row-major order."""
    g = np.zeros_like(x)
    for e, c in np.ndindex(*x.shape[:2]):
        for i, j in np.ndindex(x.shape[2] // kernel, x.shape[3] // kernel):
            win = x[e, c, i * kernel : (i + 1) * kernel, j * kernel : (j + 1) * kernel]
            a, b = np.unravel_index(np.argmax(win), win.shape)
            g[e, c, i * kernel + a, j * kernel + b] = 1.0
    return g


def test_max_pool_ties_go_to_the_first_maximum_in_row_major_order(be):
    x = np.array(
        [[[[1.0, 3.0, 0.0, 0.0], [3.0, 3.0, 0.0, 0.0], [2.0, 1.0, 5.0, 5.0], [2.0, 2.0, 5.0, 5.0]]]]
    )
    v = ag.Variable(be.asarray(x), requires_grad=True)
    ag.max_pool2d(v, 2).sum().backward()
    expected = _first_max_reference(x, 2)
    assert expected[0, 0, 0, 1] == 1 and expected[0, 0, 2, 2] == 1
    be.check(v.grad, expected)
    # adaptive and global pooling: the first maximum of the box, row-major
    box = np.array([[[[0.0, 5.0], [5.0, 0.0]]]])
    for op in (lambda t: ag.adaptive_max_pool2d(t, 1), ag.global_max_pool):
        v = ag.Variable(be.asarray(box), requires_grad=True)
        op(v).sum().backward()
        be.check(v.grad, [[[[0.0, 1.0], [0.0, 0.0]]]])


@given(case=pool_cases(), data=st.data())
def test_pool_gradients_against_torch_autograd_with_ties(be, case, data):
    _skip_unless(be, "torch", "compares with torch.autograd; runs in the torch session")
    import torch.nn.functional as F

    x = (
        np.random.default_rng(data.draw(st.integers(0, 99)))
        .integers(0, 3, (2, 2) + case["spatial"])
        .astype(np.float64)
    )  # many ties
    d = case["d"]
    fns = [
        (
            _max_fn(case, ag),
            lambda t: getattr(F, f"max_pool{d}d")(
                t, case["kernel"], case["stride"], case["padding"], case["dilation"], case["ceil"]
            ),
        ),
    ]
    if case["dilation"] == (1,) * d:
        fns.append(
            (
                _avg_fn(case, ag),
                lambda t: getattr(F, f"avg_pool{d}d")(
                    t,
                    case["kernel"],
                    case["stride"],
                    case["padding"],
                    case["ceil"],
                    case["count_include_pad"],
                ),
            )
        )
    out = tuple(data.draw(st.integers(1, n + 1)) for n in case["spatial"])
    for kind in ("max", "avg"):
        fns.append(
            (
                lambda v, kind=kind: getattr(ag, f"adaptive_{kind}_pool{d}d")(v, out),
                lambda t, kind=kind: getattr(F, f"adaptive_{kind}_pool{d}d")(t, out),
            )
        )
    for ours, theirs in fns:
        weights = _weights_like(theirs, [x])
        value, (expected,) = _torch_grads(theirs, [x], weights)
        v = ag.Variable(be.asarray(x), requires_grad=True)
        y = ours(v)
        be.check(y.data, value)
        (y * be.asarray(weights)).sum().backward()
        be.check(v.grad, expected, atol=1e-12)


# -- dense layers, activations, shapes and losses -------------------------------------------------

_RNG = np.random.default_rng(11)
_A = _RNG.standard_normal((3, 4))
_B = _RNG.standard_normal((3, 4))
_ROW = _RNG.standard_normal((1, 4))
_W = _RNG.standard_normal((2, 4))
_BIAS = _RNG.standard_normal(2)
_POS = _RNG.random((3, 4)) + 0.5
_LABELS = np.array([1, 0, 3])

# name -> (portconv.autograd function, its inputs, torch function or None)
ELEMENTARY = {
    "add_broadcast": (lambda a, b: a + b, [_A, _ROW], lambda a, b: a + b),
    "subtract_scalar": (lambda a, b: 2.0 - a - b, [_A, _B], lambda a, b: 2.0 - a - b),
    "multiply": (lambda a, b: a * b * 3.0, [_A, _ROW], lambda a, b: a * b * 3.0),
    "divide": (lambda a, b: a / b, [_A, _POS], lambda a, b: a / b),
    "pow": (lambda a: a**3, [_A], lambda a: a**3),
    "square_reused": (lambda a: a * a + a, [_A], lambda a: a * a + a),
    "sum_axis": (
        lambda a: ag.sum(a, axis=1, keepdims=True),
        [_A],
        lambda a: a.sum(dim=1, keepdim=True),
    ),
    "mean_axis": (lambda a: ag.mean(a, axis=0), [_A], lambda a: a.mean(dim=0)),
    "reshape": (lambda a: a.reshape((2, 6)) * 1.0, [_A], lambda a: a.reshape(2, 6) * 1.0),
    "flatten": (
        lambda a: ag.flatten(ag.reshape(a, (3, 2, 2))),
        [_A],
        lambda a: a.reshape(3, 2, 2).flatten(1),
    ),
    "permute": (lambda a: ag.permute_dims(a, (1, 0)), [_A], lambda a: a.T),
    "concat": (
        lambda a, b: ag.concat([a, b, a], axis=0),
        [_A, _ROW],
        lambda a, b: __import__("torch").cat([a, b, a], 0),
    ),
    "matmul": (lambda a, w: a @ ag.permute_dims(w, (1, 0)), [_A, _W], lambda a, w: a @ w.T),
    "linear": (ag.linear, [_A, _W, _BIAS], None),
    "relu": (ag.relu, [_A], None),
    "sigmoid": (ag.sigmoid, [_A], None),
    "tanh": (ag.tanh, [_A], None),
    "softmax": (lambda a: ag.softmax(a, axis=1), [_A], lambda a: a.softmax(1)),
    "log_softmax": (lambda a: ag.log_softmax(a, axis=0), [_A], lambda a: a.log_softmax(0)),
    "mse_loss": (ag.mse_loss, [_A, _B], None),
    "sum_squared_error": (ag.sum_squared_error, [_A, _B], lambda a, b: ((a - b) ** 2).sum()),
    "squared_loss": (ag.squared_loss, [_A, _B], lambda a, b: (a - b) ** 2 / 2),
}


@pytest.mark.parametrize("name", sorted(ELEMENTARY))
def test_elementary_gradients_against_finite_differences(be, name):
    fn, inputs, _ = ELEMENTARY[name]
    check_gradients(be, fn, inputs)


def test_cross_entropy_gradient_against_finite_differences(be):
    labels = be.asarray(_LABELS.astype(np.int64))
    for reduction in ("mean", "sum", "none"):
        check_gradients(be, lambda z, r=reduction: ag.cross_entropy(z, labels, r), [_A])


@pytest.mark.parametrize("name", sorted(ELEMENTARY) + ["cross_entropy"])
def test_elementary_gradients_against_torch_autograd(be, name):
    _skip_unless(be, "torch", "compares with torch.autograd; runs in the torch session")
    import torch
    import torch.nn.functional as F

    if name == "cross_entropy":
        labels = torch.tensor(_LABELS)
        ours, inputs = (lambda z: ag.cross_entropy(z, be.asarray(_LABELS))), [_A]
        theirs = lambda z: F.cross_entropy(z, labels)  # noqa: E731
    else:
        ours, inputs, theirs = ELEMENTARY[name]
        theirs = theirs or getattr(F, name, None) or getattr(torch, name)
    weights = _weights_like(theirs, inputs)
    value, expected = _torch_grads(theirs, inputs, weights)
    variables = [ag.Variable(be.asarray(a), requires_grad=True) for a in inputs]
    y = ours(*variables)
    be.check(y.data, value, atol=1e-12)
    (y * be.asarray(weights)).sum().backward()
    for v, e in zip(variables, expected):
        be.check(v.grad, e, atol=1e-12)


# -- the Variable's mechanics ---------------------------------------------------------------------


def test_gradients_accumulate_and_stay_backend_arrays(be):
    x = ag.Variable(be.asarray(np.array([1.0, -2.0, 3.0])), requires_grad=True)
    c = be.asarray(np.array([2.0, 2.0, 2.0]))  # a plain array: a constant
    (x * c).sum().backward()
    be.check(x.grad, [2.0, 2.0, 2.0])
    (x * x).sum().backward()  # accumulates, as torch does
    be.check(x.grad, [4.0, -2.0, 8.0])
    x.zero_grad()
    assert x.grad is None
    y = x * 3.0
    be.check_array(y.data)
    assert y.requires_grad and not y.is_leaf and y.op == "multiply"
    with ag.no_grad():
        z = x * 3.0
    assert not z.requires_grad and z.is_leaf
    with pytest.raises(ValueError, match="single element"):
        y.backward()
    with pytest.raises(ValueError, match="requires_grad"):
        ag.Variable(be.asarray(np.ones(1))).backward()
    y.backward(be.asarray(np.array([1.0, 0.0, -1.0])))
    be.check(x.grad, [3.0, 0.0, -3.0])
    assert x.detach().is_leaf and not x.detach().requires_grad


def test_only_leaves_that_require_grad_get_one(be):
    x = ag.Variable(be.asarray(np.ones((2, 2))), requires_grad=True)
    k = ag.Variable(be.asarray(np.ones((1, 1, 1, 1))))  # no gradient wanted
    y = ag.conv2d(ag.reshape(x, (1, 1, 2, 2)), k)
    ag.relu(y).sum().backward()
    be.check(x.grad, np.ones((2, 2)))
    assert k.grad is None


# -- native autograd through plain portconv ops ---------------------------------------------------


def _native_case():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, 4, 6, 5))
    w = rng.standard_normal((6, 2, 3, 2))
    b = rng.standard_normal(6)
    xi = _distinct(rng, (2, 3, 6, 5))
    return x, w, b, xi


CONV_ARGS = dict(stride=(2, 1), padding=1, dilation=(1, 2), groups=2)
POOL_OPS = {  # name -> (portconv call, torch.nn.functional call, mxnet.npx.pooling arguments)
    "max": (
        lambda x, path: pc.max_pool2d(x, 3, 2, 1, path=path),
        lambda F, x: F.max_pool2d(x, 3, 2, 1),
        dict(kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type="max"),
    ),
    "avg": (
        lambda x, path: pc.avg_pool2d(x, 2, 1, 1, path=path),
        lambda F, x: F.avg_pool2d(x, 2, 1, 1),
        dict(kernel=(2, 2), stride=(1, 1), pad=(1, 1), pool_type="avg", count_include_pad=True),
    ),
}


@pytest.mark.parametrize("path", ["generic", "native"])
def test_torch_native_autograd_through_portconv_ops(be, path):
    _skip_unless(be, "torch", "uses torch.autograd on torch tensors; runs in the torch session")
    import torch
    import torch.nn.functional as F

    x, w, b, xi = _native_case()

    def run(conv, pool):
        ts = [torch.tensor(a, requires_grad=True) for a in (x, w, b, xi)]
        y = conv(*ts[:3])
        outs = [pool[name](ts[3]) for name in sorted(POOL_OPS)]
        loss = sum(
            (o * torch.linspace(-1, 1, o.numel(), dtype=o.dtype).reshape(o.shape)).sum()
            for o in [y] + outs
        )
        loss.backward()
        return [t.grad.numpy() for t in ts]

    ours = run(
        lambda a, b_, c: pc.conv2d(a, b_, c, **CONV_ARGS, path=path),
        {n: (lambda t, n=n: POOL_OPS[n][0](t, path)) for n in POOL_OPS},
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        theirs = run(
            lambda a, b_, c: F.conv2d(a, b_, c, (2, 1), 1, (1, 2), 2),
            {n: (lambda t, n=n: POOL_OPS[n][1](F, t)) for n in POOL_OPS},
        )
    for g, e in zip(ours, theirs):
        np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("op", ["max_pool2d", "adaptive_max_pool2d", "global_max_pool"])
def test_torch_native_autograd_through_generic_max_pooling_with_ties(be, op):
    _skip_unless(be, "torch", "uses torch.autograd on torch tensors; runs in the torch session")
    import torch

    x = torch.tensor([[[[1.0, 3.0], [3.0, 3.0]]]], dtype=torch.float64, requires_grad=True)
    if op == "global_max_pool":
        y = pc.global_max_pool(x)
    else:
        y = getattr(pc, op)(x, 2 if op == "max_pool2d" else 1, path="generic")
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy().ravel(), [0.0, 1.0, 0.0, 0.0])


@pytest.mark.parametrize("path", ["generic", "native"])
def test_mxnet_native_autograd_through_portconv_ops(be, path):
    _skip_unless(be, "mxnet", "uses mxnet.autograd; runs in the MXNet sessions")
    import mxnet as mx

    x, w, b, xi = _native_case()
    nd = be.legacy_nd

    def arrays():
        out = [be.asarray(a) for a in (x, w, b, xi)]
        for a in out:
            a.attach_grad()
        return out

    def run(conv, pool):
        ts = arrays()
        with mx.autograd.record():
            outs = [conv(*ts[:3])] + [pool[name](ts[3]) for name in sorted(POOL_OPS)]
            loss = None
            for o in outs:
                r = be.asarray(np.linspace(-1, 1, int(np.prod(o.shape))).reshape(o.shape))
                term = (o * r).sum()
                loss = term if loss is None else loss + term
        loss.backward()
        return [be.to_numpy(t.grad) for t in ts]

    ours = run(
        lambda a, b_, c: pc.conv2d(a, b_, c, **CONV_ARGS, path=path),
        {n: (lambda t, n=n: POOL_OPS[n][0](t, path)) for n in POOL_OPS},
    )

    def mx_conv(a, b_, c):
        if nd:
            return mx.nd.Convolution(
                a,
                b_,
                c,
                kernel=(3, 2),
                stride=(2, 1),
                dilate=(1, 2),
                pad=(1, 1),
                num_filter=6,
                num_group=2,
            )
        return mx.npx.convolution(
            a,
            b_,
            c,
            kernel=(3, 2),
            stride=(2, 1),
            dilate=(1, 2),
            pad=(1, 1),
            num_filter=6,
            num_group=2,
        )

    pool = mx.nd.Pooling if nd else mx.npx.pooling
    theirs = run(mx_conv, {n: (lambda t, n=n: pool(t, **POOL_OPS[n][2])) for n in POOL_OPS})
    for g, e in zip(ours, theirs):
        np.testing.assert_allclose(g, e, rtol=1e-8, atol=1e-8)


# -- the book's 5.2.4: learning a kernel ----------------------------------------------------------


def _kernel_problem():
    X = np.ones((6, 8))
    X[:, 2:6] = 0
    K = np.array([[1.0, -1.0]])
    Y = np.zeros((6, 7))
    for i, j in np.ndindex(*Y.shape):
        Y[i, j] = (X[i : i + 1, j : j + 2] * K).sum()
    return X.reshape(1, 1, 6, 8), Y.reshape(1, 1, 6, 7)


START = np.array([[[[0.3, 0.8]]]])


def _learn_reference(X, Y, W, steps, lr):
    """The same training by hand in NumPy (the gradient of a 1x2 kernel in loops)."""
    losses = []
    for _ in range(steps):
        Yh = W[0, 0, 0, 0] * X[..., :-1] + W[0, 0, 0, 1] * X[..., 1:]
        r = Yh - Y
        losses.append(float((r**2).sum()))
        grad = np.array([[[[(2 * r * X[..., :-1]).sum(), (2 * r * X[..., 1:]).sum()]]]])
        W = W - lr * grad
    return np.array(losses), W


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_learning_a_kernel(be, dtype):
    X, Y = _kernel_problem()
    x, y = be.asarray(X.astype(dtype)), be.asarray(Y.astype(dtype))
    W = ag.Variable(be.asarray(START.astype(dtype)), requires_grad=True)
    losses = []
    for _ in range(20):
        loss = ((ag.conv2d(x, W) - y) ** 2).sum()
        loss.backward()
        losses.append(float(be.to_numpy(loss.data)))
        with ag.no_grad():
            W.data = W.data - 3e-2 * W.grad
        _check(be, W.data, be.to_numpy(W.data), dtype=dtype)
        W.zero_grad()
    expected, w_end = _learn_reference(X, Y, START, 20, 3e-2)
    tol = 1e-4 if dtype == "float32" else 1e-10
    np.testing.assert_allclose(losses, expected, rtol=tol, atol=tol)
    assert all(b < a for a, b in zip(losses, losses[1:]))
    assert losses[-1] < 1e-2 * losses[0]
    be.check(W.data, w_end, rtol=tol, atol=tol)
    np.testing.assert_allclose(be.to_numpy(W.data).ravel(), [1.0, -1.0], atol=0.1)


def test_learning_a_kernel_from_a_random_start(be):
    X, Y = _kernel_problem()
    x, y = be.asarray(X.astype(np.float32)), be.asarray(Y.astype(np.float32))
    start = np.random.default_rng(0).standard_normal((1, 1, 1, 2)).astype(np.float32)
    W = ag.Variable(be.asarray(start), requires_grad=True)
    losses = []
    for _ in range(10):
        loss = ag.sum_squared_error(ag.conv2d(x, W), y)
        loss.backward()
        losses.append(float(be.to_numpy(loss.data)))
        W.data = W.data - 3e-2 * W.grad
        W.grad = None
    assert losses[-1] < 0.05 * losses[0]


def test_learning_a_kernel_matches_torch_autograd(be):
    _skip_unless(be, "torch", "compares with a torch.autograd training; runs in torch session")
    import torch
    import torch.nn.functional as F

    X, Y = _kernel_problem()
    tx, ty = torch.tensor(X, dtype=torch.float32), torch.tensor(Y, dtype=torch.float32)
    tw = torch.tensor(START, dtype=torch.float32, requires_grad=True)
    expected = []
    for _ in range(10):
        loss = ((F.conv2d(tx, tw) - ty) ** 2).sum()
        loss.backward()
        expected.append(loss.item())
        with torch.no_grad():
            tw -= 3e-2 * tw.grad
        tw.grad.zero_()
    x, y = be.asarray(X.astype(np.float32)), be.asarray(Y.astype(np.float32))
    W = ag.Variable(be.asarray(START.astype(np.float32)), requires_grad=True)
    losses = []
    for _ in range(10):
        loss = ((ag.conv2d(x, W, path="generic") - y) ** 2).sum()
        loss.backward()
        losses.append(float(be.to_numpy(loss.data)))
        W.data = W.data - 3e-2 * W.grad
        W.zero_grad()
    np.testing.assert_allclose(losses, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(be.to_numpy(W.data), tw.detach().numpy(), rtol=1e-5, atol=1e-6)
