"""The rest of torch.nn.functional's and ONNX's convolution and pooling family (issue 16), on
every backend, against independent float64 NumPy references written here as loops over the
definition (no vectorised tricks shared with portconv's kernels):

max pooling with indices and on integers, max unpooling, Lp pooling (PyTorch's and ONNX's
formulas), average pooling with ``divisor_override`` and dilation, fractional max pooling,
convolution ``padding_mode``, transposed convolution ``padding="same"``/``output_size``,
deformable convolution, ONNX's integer convolutions, nearest-neighbour ``interpolate``, the
book's helpers on integers, and the edge cases issue 16 fixed. Gradients of the new
differentiable ops are checked against central finite differences (float64) through
``portconv.autograd``.
"""

from __future__ import annotations

import itertools
import math
import os

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import portconv as pc
import portconv.autograd as ag

# A chunked library (Dask) builds and runs a task graph per call, seconds for these ops'
# windows and scatters: a session on it alone draws 5 random configurations per test,
# which the other sessions check in full (CI's time limit; the values are the same rules).
CHUNKED_SESSION = set(os.environ.get("PORTCONV_BACKENDS", "numpy").split(",")) <= {"dask"}
_SHARE = 8 if CHUNKED_SESSION else 1
many = settings(
    max_examples=max(5 if CHUNKED_SESSION else 10, settings.default.max_examples // _SHARE)
)

# finite differences evaluate an op twice per checked element (a whole graph each on Dask):
# few examples here; the forwards above them are checked on many
fd_settings = settings(
    max_examples=2 if CHUNKED_SESSION else max(3, settings.default.max_examples // 10)
)


@pytest.fixture(autouse=True)
def _run_context(be):
    """Losses are 0-d arrays, which MXNet handles only with NumPy shape semantics."""
    with be.run_context():
        yield


def _distinct(rng, shape, low=-3.0, high=3.0):
    """Values far apart (no ties whose routing could differ)."""
    n = int(np.prod(shape))
    return (rng.permutation(n) / max(n, 1) * (high - low) + low).reshape(shape)


def _fd_check(be, fn, arrays, *, eps=1e-6, rtol=1e-5, atol=1e-6, seed=0, most=6):
    """``fn(*Variables)`` differentiated by portconv.autograd against central differences of
    ``sum(fn(*arrays) * weights)`` (float64), at up to ``most`` elements of every array
    chosen at random (two evaluations each: a chunked library pays a graph per call)."""

    def value(values):
        with ag.no_grad():
            out = fn(*[be.asarray(v) for v in values])
        return be.to_numpy(out.data)

    weights = np.random.default_rng(seed).standard_normal(value(arrays).shape)
    variables = [ag.Variable(be.asarray(a), requires_grad=True) for a in arrays]
    (fn(*variables) * be.asarray(weights)).sum().backward()
    pick = np.random.default_rng(seed + 1)
    for v, a, i in zip(variables, arrays, itertools.count()):
        be.check_array(v.grad, dtype="float64")
        grad = be.to_numpy(v.grad)
        assert grad.shape == a.shape
        flat = pick.permutation(a.size)[:most]
        for k in flat:
            idx = np.unravel_index(k, a.shape)
            total = []
            for sign in (1.0, -1.0):
                moved = [c.copy() for c in arrays]
                moved[i][idx] += sign * eps
                total.append(float(np.sum(value(moved) * weights)))
            numeric = (total[0] - total[1]) / (2 * eps)
            np.testing.assert_allclose(grad[idx], numeric, rtol=rtol, atol=atol, err_msg=str(idx))


# -- pooling geometry shared by the references -----------------------------------------------------


def _out_size(n, k, s, dl, b, a, mode):
    return pc.pool_output_shape(
        n, k, s, ((b, a),), dl, ceil_mode=mode == "ceil",
        pooling_convention="full" if mode == "full" else "valid",
    )[0]  # fmt: skip


def _window_positions(size, kernel, stride, dilation, pads, out):
    """For every output index, the list of input coordinate tuples its window covers (those
    in the padding or past it included, as coordinates outside ``[0, n)``)."""
    axes = []
    for k, s, dl, (b, _), o in zip(kernel, stride, dilation, pads, out):
        axes.append([[i * s - b + j * dl for j in range(k)] for i in range(o)])
    return axes


@st.composite
def pool_geometry(draw, dims=(1, 2, 3), modes=("floor", "ceil", "full")):
    d = draw(st.sampled_from(dims))
    kernel = tuple(draw(st.integers(1, 3 if d < 3 else 2)) for _ in range(d))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(d))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(d))
    spans = [(k - 1) * dl + 1 for k, dl in zip(kernel, dilation)]
    pads = tuple((draw(st.integers(0, s - 1)), draw(st.integers(0, s - 1))) for s in spans)
    size = tuple(draw(st.integers(s, s + (3 if d < 3 else 1))) for s in spans)
    mode = draw(st.sampled_from(modes))
    out = tuple(
        _out_size(n, k, s, dl, b, a, mode)
        for n, k, s, dl, (b, a) in zip(size, kernel, stride, dilation, pads)
    )
    return dict(d=d, kernel=kernel, stride=stride, dilation=dilation, pads=pads, size=size,
                mode=mode, out=out, unbatched=draw(st.booleans()))  # fmt: skip


def _rule(g):
    return dict(ceil_mode=g["mode"] == "ceil",
                pooling_convention="full" if g["mode"] == "full" else "valid")  # fmt: skip


# -- max pooling with indices, and on integers -----------------------------------------------------


def max_pool_reference(x, g):
    """Values and PyTorch's per-plane indices: the first maximum of each window in row-major
    order, windows of no input element giving -inf (the integer dtype's minimum) and the
    index of the window's first input position."""
    size, out = g["size"], g["out"]
    axes = _window_positions(size, g["kernel"], g["stride"], g["dilation"], g["pads"], out)
    integer = np.issubdtype(x.dtype, np.integer)
    low = np.iinfo(x.dtype).min if integer else -np.inf
    y = np.zeros(x.shape[:2] + out, dtype=x.dtype)
    idx = np.zeros(x.shape[:2] + out, dtype=np.int64)
    for o in np.ndindex(*out):
        lists = [axes[a][o[a]] for a in range(len(out))]
        inside = [[p for p in lst if 0 <= p < n] for lst, n in zip(lists, size)]
        first = tuple(ins[0] if ins else lst[0] for ins, lst in zip(inside, lists))
        for plane in np.ndindex(*x.shape[:2]):
            best, at = low, first
            for pos in itertools.product(*lists):
                if all(0 <= p < n for p, n in zip(pos, size)) and x[plane + pos] > best:
                    best, at = x[plane + pos], pos
            y[plane + o] = best
            idx[plane + o] = (
                np.ravel_multi_index(at, size)
                if all(0 <= p < n for p, n in zip(at, size))
                else sum(p * math.prod(size[i + 1 :]) for i, p in enumerate(at))
            )
    return y, idx


@many
@given(g=pool_geometry(), integer=st.booleans())
def test_max_pool_with_indices_against_a_loop_reference(be, g, integer):
    rng = np.random.default_rng(0)
    lead = (2,) if g["unbatched"] else (2, 2)
    x = _distinct(rng, (2, 2) + g["size"])
    if integer:
        x = np.round(x * 10).astype(np.int32)
    ref_y, ref_i = max_pool_reference(x, g)
    xb = x[0] if g["unbatched"] else x
    y, i = pc.max_pool(
        be.asarray(xb), g["kernel"], g["stride"], g["pads"], g["dilation"],
        return_indices=True, **_rule(g),
    )  # fmt: skip
    want_y, want_i = (ref_y[0], ref_i[0]) if g["unbatched"] else (ref_y, ref_i)
    be.check(y, want_y, dtype=x.dtype.name)
    be.check_array(i, dtype="int64")
    got_i = be.to_numpy(i)
    finite = np.isfinite(want_y.astype(np.float64)) & (want_y != np.iinfo(np.int32).min)
    assert np.array_equal(got_i[finite], want_i[finite])
    assert got_i.shape == lead + g["out"]
    plain = pc.max_pool(be.asarray(xb), g["kernel"], g["stride"], g["pads"], g["dilation"],
                        **_rule(g))  # fmt: skip
    be.check(plain, want_y, dtype=x.dtype.name)


def test_max_pool_indices_follow_pytorch_on_nan_and_ties(be):
    x = np.array([[[1.0, 3.0, 3.0, np.nan, 2.0, np.nan, 0.0]]])
    y, i = pc.max_pool1d(be.asarray(x), 3, 2, return_indices=True)
    got = be.to_numpy(y)
    assert got[0, 0, 0] == 3.0 and np.isnan(got[0, 0, 1]) and np.isnan(got[0, 0, 2])
    # the first of tied maxima; the last NaN of a window
    assert be.to_numpy(i).tolist() == [[[1, 3, 5]]]


def test_integer_max_pooling_keeps_the_dtype(be):
    for dtype in (np.uint8, np.int8, np.int32, np.int64):
        x = np.arange(16).reshape(1, 1, 4, 4).astype(dtype)
        y = pc.max_pool2d(be.asarray(x), 3, 1, 1)
        expected = np.array([[5, 6, 7, 7], [9, 10, 11, 11], [13, 14, 15, 15], [13, 14, 15, 15]])
        be.check(y, expected[None, None].astype(dtype), dtype=np.dtype(dtype).name)
    with pytest.raises(pc.ArrayTypeError, match="input: expected a real floating"):
        pc.avg_pool2d(be.asarray(np.ones((1, 1, 2, 2), np.int32)), 2)
    with pytest.raises(pc.ArrayTypeError, match="input: expected a real floating"):
        pc.lp_pool2d(be.asarray(np.ones((1, 1, 2, 2), np.int32)), 2, 2)


@fd_settings
@given(g=pool_geometry(dims=(1, 2), modes=("floor", "ceil")))
def test_max_pool_with_indices_gradient(be, g):
    x = _distinct(np.random.default_rng(1), (1, 2) + g["size"])
    assume(np.isfinite(max_pool_reference(x, g)[0]).all())

    def fn(v):
        y, _ = ag.max_pool(v, g["kernel"], g["stride"], g["pads"], g["dilation"],
                           return_indices=True, **_rule(g))  # fmt: skip
        return y

    _fd_check(be, fn, [x])


# -- max unpooling ---------------------------------------------------------------------------------


def unpool_reference(x, idx, out):
    """Every value at its index in its plane, the last in row-major order kept."""
    y = np.zeros(x.shape[:2] + out, dtype=x.dtype)
    for plane in np.ndindex(*x.shape[:2]):
        flat = y[plane].reshape(-1)
        for pos in np.ndindex(*x.shape[2:]):
            flat[idx[plane + pos]] = x[plane + pos]
        y[plane] = flat.reshape(out)
    return y


@many
@given(d=st.sampled_from([1, 2, 3]), data=st.data())
def test_max_unpool_against_a_loop_reference(be, d, data):
    kernel = tuple(data.draw(st.integers(1, 3)) for _ in range(d))
    stride = tuple(data.draw(st.integers(1, 3)) for _ in range(d))
    size = tuple(data.draw(st.integers(1, 3)) for _ in range(d))
    default = tuple((n - 1) * s + k for n, s, k in zip(size, stride, kernel))
    out = tuple(
        data.draw(st.integers(max(1, o - s + 1), o + s - 1)) for o, s in zip(default, stride)
    )
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3) + size)
    idx = rng.integers(0, math.prod(out), size=x.shape)  # any positions, repeats included
    y = getattr(pc, f"max_unpool{d}d")(be.asarray(x), be.asarray(idx), kernel, stride,
                                         output_size=out)  # fmt: skip
    be.check(y, unpool_reference(x, idx, out), dtype="float64")
    # the gradient: each value's is the output gradient at its index, if its value was kept
    v = ag.Variable(be.asarray(x), requires_grad=True)
    g = rng.standard_normal((2, 3) + out)
    (getattr(ag, f"max_unpool{d}d")(v, be.asarray(idx), kernel, stride, output_size=out)
     * be.asarray(g)).sum().backward()  # fmt: skip
    expected = np.zeros_like(x)
    for plane in np.ndindex(2, 3):
        flat_idx = idx[plane].reshape(-1)
        last = {int(q): j for j, q in enumerate(flat_idx)}
        gp = g[plane].reshape(-1)
        exp = expected[plane].reshape(-1)
        for j, q in enumerate(flat_idx):
            exp[j] = gp[q] if last[int(q)] == j else 0.0
        expected[plane] = exp.reshape(size)
    be.check(v.grad, expected, dtype="float64")


def test_max_unpool_inverts_max_pool_and_refuses_bad_indices(be):
    x = be.asarray(np.arange(16.0).reshape(1, 1, 4, 4))
    y, i = pc.max_pool2d(x, 2, return_indices=True)
    z = pc.max_unpool2d(y, i, 2)
    expected = np.zeros((4, 4))
    expected[1::2, 1::2] = [[5, 7], [13, 15]]
    be.check(z, expected[None, None], dtype="float64")
    with pytest.raises(pc.ArgumentError, match="indices: 16 is not a flat position"):
        pc.max_unpool2d(y, be.asarray(np.full((1, 1, 2, 2), 16)), 2)
    with pytest.raises(pc.ArgumentError, match="output_size"):
        pc.max_unpool2d(y, i, 2, output_size=(6, 6))
    with pytest.raises(pc.ArrayTypeError, match="indices: expected an integer"):
        pc.max_unpool2d(y, y, 2)
    with pytest.raises(pc.ArgumentError, match="indices: expected the input's shape"):
        pc.max_unpool2d(y, be.asarray(np.zeros((1, 1, 2, 1), np.int64)), 2)


# -- Lp pooling ------------------------------------------------------------------------------------


def lp_reference(x, p, g, convention):
    """``(sum x**p)**(1/p)`` by its definition: PyTorch's scales a window past the input by
    ``prod(kernel)/count`` (count including the padding); ONNX's sums ``|x|**p``."""
    size, out = g["size"], g["out"]
    axes = _window_positions(size, g["kernel"], g["stride"], g["dilation"], g["pads"], out)
    y = np.zeros(x.shape[:2] + out)
    for o in np.ndindex(*out):
        lists = [axes[a][o[a]] for a in range(len(out))]
        for plane in np.ndindex(*x.shape[:2]):
            vals = [x[plane + pos] for pos in itertools.product(*lists)
                    if all(0 <= q < n for q, n in zip(pos, size))]  # fmt: skip
            if math.isinf(p):
                a = [abs(v) for v in vals]
                y[plane + o] = (max(a) if p > 0 else min(a)) if a else 0.0
                continue
            counted = sum(
                1 for pos in itertools.product(*lists)
                if all(-b <= q < n + aa for q, n, (b, aa) in zip(pos, size, g["pads"]))
            )  # fmt: skip
            if convention == "torch":
                s = sum(v**p for v in vals) * math.prod(g["kernel"]) / counted
            else:
                s = sum(abs(v) ** p for v in vals)
            with np.errstate(invalid="ignore"):  # NaN for a negative sum, as PyTorch gives
                y[plane + o] = np.power(np.float64(s), 1.0 / p)
    return y


@many
@given(
    g=pool_geometry(modes=("floor", "ceil")),
    p=st.sampled_from([1.0, 2.0, 3.0, 1.5, math.inf, -math.inf]),
    convention=st.sampled_from(["torch", "onnx"]),
)
def test_lp_pool_against_a_loop_reference(be, g, p, convention):
    x = _distinct(np.random.default_rng(3), (2, 2) + g["size"], 0.1, 3.0)
    if p != 1.5:  # signs matter for odd powers (PyTorch keeps them, ONNX takes |x|)
        x = x * np.where(np.random.default_rng(4).random(x.shape) < 0.3, -1, 1)
    fn = getattr(pc, f"lp_pool{g['d']}d")
    y = fn(be.asarray(x), p, g["kernel"], g["stride"], g["mode"] == "ceil", padding=g["pads"],
           dilation=g["dilation"], convention=convention)  # fmt: skip
    be.check(y, lp_reference(x, p, g, convention), rtol=1e-9, atol=1e-12, dtype="float64")


@fd_settings
@given(g=pool_geometry(dims=(1, 2), modes=("floor", "ceil")), p=st.sampled_from([1.0, 2.0, 3.0]))
def test_lp_pool_gradient(be, g, p):
    x = _distinct(np.random.default_rng(5), (1, 2) + g["size"], 0.2, 2.0)
    fn = getattr(ag, f"lp_pool{g['d']}d")
    _fd_check(be, lambda v: fn(v, p, g["kernel"], g["stride"], g["mode"] == "ceil",
                               padding=g["pads"], dilation=g["dilation"]), [x])  # fmt: skip


def test_lp_pool_gradient_is_zero_where_a_window_sums_to_zero(be):
    x = np.zeros((1, 1, 4))
    x[0, 0, 2:] = [1.0, 2.0]
    v = ag.Variable(be.asarray(x), requires_grad=True)
    ag.lp_pool1d(v, 2, 2).sum().backward()
    be.check(v.grad, [[[0.0, 0.0, 1 / math.sqrt(5), 2 / math.sqrt(5)]]], dtype="float64")


# -- average pooling: divisor_override and dilation ------------------------------------------------


def avg_reference(x, g, count_include_pad, divisor):
    size, out = g["size"], g["out"]
    axes = _window_positions(size, g["kernel"], g["stride"], g["dilation"], g["pads"], out)
    y = np.zeros(x.shape[:2] + out)
    for o in np.ndindex(*out):
        lists = [axes[a][o[a]] for a in range(len(out))]
        positions = list(itertools.product(*lists))
        inside = [pos for pos in positions if all(0 <= q < n for q, n in zip(pos, size))]
        if divisor is not None:
            count = divisor
        elif count_include_pad:
            count = sum(1 for pos in positions if all(
                -b <= q < n + a for q, n, (b, a) in zip(pos, size, g["pads"])))  # fmt: skip
        else:
            count = len(inside)
        for plane in np.ndindex(*x.shape[:2]):
            total = sum(x[plane + pos] for pos in inside)
            y[plane + o] = total / count if count else 0.0
    return y


@many
@given(g=pool_geometry(), count=st.booleans(), divisor=st.sampled_from([None, 1, 3, -2]))
def test_avg_pool_divisor_override_and_dilation_against_a_loop_reference(be, g, count, divisor):
    x = np.random.default_rng(6).standard_normal((2, 2) + g["size"])
    y = pc.avg_pool(be.asarray(x), g["kernel"], g["stride"], g["pads"], count_include_pad=count,
                    divisor_override=divisor, dilation=g["dilation"], **_rule(g))  # fmt: skip
    be.check(y, avg_reference(x, g, count, divisor), rtol=1e-9, atol=1e-12, dtype="float64")


@fd_settings
@given(g=pool_geometry(dims=(1, 2), modes=("floor", "ceil")), divisor=st.sampled_from([None, 2]))
def test_avg_pool_dilation_gradient(be, g, divisor):
    x = np.random.default_rng(7).standard_normal((1, 2) + g["size"])
    _fd_check(be, lambda v: ag.avg_pool(v, g["kernel"], g["stride"], g["pads"],
                                        divisor_override=divisor, dilation=g["dilation"],
                                        **_rule(g)), [x])  # fmt: skip


def test_divisor_override_must_be_a_nonzero_int(be):
    x = be.asarray(np.ones((1, 1, 4, 4)))
    with pytest.raises(pc.ArgumentError, match="divisor_override: must not be zero"):
        pc.avg_pool2d(x, 2, divisor_override=0)
    with pytest.raises(pc.ArrayTypeError, match="divisor_override"):
        pc.avg_pool2d(x, 2, divisor_override=2.0)


# -- fractional max pooling ------------------------------------------------------------------------


def fractional_reference(x, kernel, out, samples):
    """PyTorch's intervals, computed in float64, and the first maximum of each window."""
    d = len(kernel)
    size = x.shape[2:]
    y = np.zeros(x.shape[:2] + tuple(out))
    idx = np.zeros(x.shape[:2] + tuple(out), dtype=np.int64)
    for plane in np.ndindex(*x.shape[:2]):
        starts = []
        for a in range(d):
            j = d - 1 - a if d == 2 else a  # PyTorch: 2-D samples are (width, height)
            u, n, k, o = samples[plane + (j,)], size[a], kernel[a], out[a]
            if o == 1:
                starts.append([n - k])
                continue
            alpha = (n - k) / (o - 1)
            seq = [int((i + u) * alpha) - int(u * alpha) for i in range(o - 1)]
            starts.append(seq + [n - k])
        for o_ in np.ndindex(*out):
            best, at = -np.inf, None
            for tap in np.ndindex(*kernel):
                pos = tuple(starts[a][o_[a]] + tap[a] for a in range(d))
                if at is None or x[plane + pos] > best:
                    best, at = x[plane + pos], pos
            y[plane + o_] = best
            idx[plane + o_] = np.ravel_multi_index(at, size)
    return y, idx


@many
@given(d=st.sampled_from([2, 3]), data=st.data())
def test_fractional_max_pool_against_a_loop_reference(be, d, data):
    kernel = tuple(data.draw(st.integers(1, 3)) for _ in range(d))
    out = tuple(data.draw(st.integers(1, 4)) for _ in range(d))
    size = tuple(o + k - 1 + data.draw(st.integers(0, 3)) for o, k in zip(out, kernel))
    rng = np.random.default_rng(8)
    x = _distinct(rng, (2, 2) + size)
    samples = rng.random((2, 2, d))
    fn = getattr(pc, f"fractional_max_pool{d}d")
    y, i = fn(be.asarray(x), kernel, out, return_indices=True, _random_samples=be.asarray(samples))
    ref_y, ref_i = fractional_reference(x, kernel, out, samples)
    be.check(y, ref_y, dtype="float64")
    assert np.array_equal(be.to_numpy(i), ref_i)
    # a seed gives the same samples on every backend: those of NumPy's generator
    drawn = np.random.default_rng(7).random((2, 2, d))
    be.check(fn(be.asarray(x), kernel, out, generator=7), fractional_reference(x, kernel, out,
             drawn)[0], dtype="float64")  # fmt: skip


@fd_settings
@given(data=st.data())
def test_fractional_max_pool_gradient(be, data):
    kernel = (data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3)))
    out = (data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3)))
    size = tuple(o + k - 1 + data.draw(st.integers(0, 2)) for o, k in zip(out, kernel))
    x = _distinct(np.random.default_rng(9), (1, 2) + size)
    samples = be.asarray(np.random.default_rng(10).random((1, 2, 2)))
    _fd_check(be, lambda v: ag.fractional_max_pool2d(v, kernel, out, _random_samples=samples),
              [x])  # fmt: skip


def test_fractional_max_pool_refuses_bad_arguments(be):
    x = be.asarray(np.ones((1, 1, 5, 5)))
    with pytest.raises(pc.ArgumentError, match="output_size: give exactly one"):
        pc.fractional_max_pool2d(x, 2)
    with pytest.raises(pc.ArgumentError, match="do not fit"):
        pc.fractional_max_pool2d(x, 3, output_size=4)
    with pytest.raises(pc.ArgumentError, match="_random_samples: expected shape"):
        pc.fractional_max_pool2d(x, 2, output_size=2, _random_samples=be.asarray(np.zeros((1, 2))))
    with pytest.raises(pc.ArrayTypeError, match="generator"):
        pc.fractional_max_pool2d(x, 2, output_size=2, generator="seed")


# -- convolution padding_mode ----------------------------------------------------------------------

NUMPY_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap", "zeros": "constant"}


def conv_reference(x, w, b, stride, dilation, groups):
    """An unpadded cross-correlation by its definition."""
    n, c = x.shape[:2]
    co, cg = w.shape[:2]
    kernel = w.shape[2:]
    size = x.shape[2:]
    out = tuple((s - dl * (k - 1) - 1) // st_ + 1
                for s, k, st_, dl in zip(size, kernel, stride, dilation))  # fmt: skip
    y = np.zeros((n, co) + out)
    for o in np.ndindex(*out):
        for tap in np.ndindex(*kernel):
            pos = tuple(oo * s + t * dl for oo, s, t, dl in zip(o, stride, tap, dilation))
            for oc in range(co):
                g0 = (oc // (co // groups)) * cg
                y[(slice(None), oc) + o] += (
                    x[(slice(None), slice(g0, g0 + cg)) + pos] @ w[(oc, slice(None)) + tap]
                )
    return y if b is None else y + b.reshape((co,) + (1,) * len(out))


@many
@given(d=st.sampled_from([1, 2, 3]), mode=st.sampled_from(list(NUMPY_MODES)), data=st.data())
def test_conv_padding_mode_against_numpy_pad(be, d, mode, data):
    size = tuple(data.draw(st.integers(2, 4)) for _ in range(d))
    kernel = tuple(data.draw(st.integers(1, 3)) for _ in range(d))
    pads = tuple((data.draw(st.integers(0, n - 1)), data.draw(st.integers(0, n - 1)))
                 for n in size)  # fmt: skip
    stride = tuple(data.draw(st.integers(1, 2)) for _ in range(d))
    assume(all(n + b + a >= k for n, (b, a), k in zip(size, pads, kernel)))
    rng = np.random.default_rng(11)
    x, w, b = (rng.standard_normal((2, 2) + size), rng.standard_normal((3, 2) + kernel),
               rng.standard_normal(3))  # fmt: skip
    padded = np.pad(x, ((0, 0), (0, 0)) + pads, mode=NUMPY_MODES[mode])
    ref = conv_reference(padded, w, b, stride, (1,) * d, 1)
    y = pc.conv(be.asarray(x), be.asarray(w), be.asarray(b), stride, pads, padding_mode=mode)
    be.check(y, ref, rtol=1e-9, atol=1e-12, dtype="float64")


@fd_settings
@given(mode=st.sampled_from(["reflect", "replicate", "circular"]), data=st.data())
def test_conv_padding_mode_gradient(be, mode, data):
    size = (data.draw(st.integers(2, 4)), data.draw(st.integers(2, 4)))
    pads = tuple((data.draw(st.integers(0, n - 1)), data.draw(st.integers(0, n - 1)))
                 for n in size)  # fmt: skip
    rng = np.random.default_rng(12)
    x, w = rng.standard_normal((1, 2) + size), rng.standard_normal((2, 2, 2, 2))
    assume(all(n + b + a >= 2 for n, (b, a) in zip(size, pads)))
    _fd_check(be, lambda v, k: ag.conv2d(v, k, None, 1, pads, padding_mode=mode), [x, w])


def test_padding_mode_errors_name_the_argument(be):
    x, w = be.asarray(np.ones((1, 1, 3, 3))), be.asarray(np.ones((1, 1, 2, 2)))
    with pytest.raises(pc.ArgumentError, match="padding_mode: expected 'zeros'"):
        pc.conv2d(x, w, padding=1, padding_mode="mirror")
    with pytest.raises(pc.ArgumentError, match="padding_mode: 'reflect' needs every pad"):
        pc.conv2d(x, w, padding=3, padding_mode="reflect")
    with pytest.raises(pc.ArgumentError, match="padding_mode: 'circular' needs"):
        pc.conv2d(x, w, padding=4, padding_mode="circular")
    y = pc.conv2d(x, w, padding="same", padding_mode="replicate")  # SAME resolved first
    be.check(y, np.full((1, 1, 3, 3), 4.0), dtype="float64")


# -- transposed convolution: "same" and output_size ------------------------------------------------


def transpose_reference(x, w, stride, dilation, crop, extra):
    """The full transposed convolution by its definition, grown by ``extra`` zeros at the end
    and cropped by ``crop`` (before, after) pairs."""
    n, ci = x.shape[:2]
    co = w.shape[1]
    kernel, size = w.shape[2:], x.shape[2:]
    full = tuple((s - 1) * st_ + dl * (k - 1) + 1 + e
                 for s, st_, dl, k, e in zip(size, stride, dilation, kernel, extra))  # fmt: skip
    y = np.zeros((n, co) + full)
    for pos in np.ndindex(*size):
        for tap in np.ndindex(*kernel):
            o = tuple(p * s + t * dl for p, s, t, dl in zip(pos, stride, tap, dilation))
            y[(slice(None), slice(None)) + o] += (
                x[(slice(None), slice(None)) + pos] @ w[(slice(None), slice(None)) + tap]
            )
    return y[(slice(None), slice(None)) + tuple(slice(b, f - a) for (b, a), f in zip(crop, full))]


@many
@given(d=st.sampled_from([1, 2]), lower=st.booleans(), data=st.data())
def test_conv_transpose_same_padding_is_onnx_auto_pad(be, d, lower, data):
    size = tuple(data.draw(st.integers(1, 4)) for _ in range(d))
    kernel = tuple(data.draw(st.integers(1, 4)) for _ in range(d))
    stride = tuple(data.draw(st.integers(1, 3)) for _ in range(d))
    rng = np.random.default_rng(13)
    x, w = rng.standard_normal((1, 2) + size), rng.standard_normal((2, 3) + kernel)
    target = tuple(n * s for n, s in zip(size, stride))
    full = tuple((n - 1) * s + k for n, s, k in zip(size, stride, kernel))
    assume(all(f >= t for f, t in zip(full, target)))
    crop = []
    for f, t in zip(full, target):
        total = f - t
        small, large = total // 2, total - total // 2
        crop.append((large, small) if lower else (small, large))
    y = pc.conv_transpose(be.asarray(x), be.asarray(w), None, stride,
                          "same_lower" if lower else "same")  # fmt: skip
    be.check(y, transpose_reference(x, w, stride, (1,) * d, crop, (0,) * d), rtol=1e-9,
             atol=1e-12, dtype="float64")  # fmt: skip


def test_conv_transpose_output_size_is_pytorch_s(be):
    rng = np.random.default_rng(14)
    x, w = rng.standard_normal((1, 2, 3, 3)), rng.standard_normal((2, 1, 3, 3))
    for out in ((5, 5), (6, 6), (5, 6), (1, 1, 6, 5)):
        size = out[-2:]
        extra = tuple(o - 5 for o in size)
        y = pc.conv_transpose2d(be.asarray(x), be.asarray(w), None, 2, 1, output_size=out)
        ref = transpose_reference(x, w, (2, 2), (1, 1), ((1, 1), (1, 1)), extra)
        be.check(y, ref, rtol=1e-9, atol=1e-12, dtype="float64")
    with pytest.raises(pc.ArgumentError, match="output_size: .* is not reachable"):
        pc.conv_transpose2d(be.asarray(x), be.asarray(w), None, 2, 1, output_size=(7, 7))
    with pytest.raises(pc.ArgumentError, match="output_padding: give output_size or"):
        pc.conv_transpose2d(be.asarray(x), be.asarray(w), None, 2, 1, 1, output_size=(6, 6))
    v = ag.Variable(be.asarray(x), requires_grad=True)
    ag.conv_transpose2d(v, be.asarray(w), None, 2, "same", output_size=(7, 7)).sum().backward()
    assert tuple(v.grad.shape) == (1, 2, 3, 3)


# -- deformable convolution ------------------------------------------------------------------------


def _bilinear(img, y, x):
    h, w = img.shape
    y0, x0 = math.floor(y), math.floor(x)
    total = 0.0
    for cy, cx, weight in ((y0, x0, (1 - (y - y0)) * (1 - (x - x0))),
                           (y0, x0 + 1, (1 - (y - y0)) * (x - x0)),
                           (y0 + 1, x0, (y - y0) * (1 - (x - x0))),
                           (y0 + 1, x0 + 1, (y - y0) * (x - x0))):  # fmt: skip
        if 0 <= cy < h and 0 <= cx < w:
            total += weight * img[cy, cx]
    return total


def deform_reference(x, off, w, b, stride, pads, dil, mask):
    n, c = x.shape[:2]
    co, cg_conv, kh, kw = w.shape
    groups = c // cg_conv
    ho, wo = off.shape[2:]
    og = off.shape[1] // (2 * kh * kw)
    y = np.zeros((n, co, ho, wo))
    for b_, o, oy, ox in np.ndindex(n, co, ho, wo):
        g0 = (o // (co // groups)) * cg_conv
        total = 0.0
        for ci, i, j in np.ndindex(cg_conv, kh, kw):
            ch = g0 + ci
            grp, k = ch // (c // og), i * kw + j
            py = oy * stride[0] - pads[0] + i * dil[0] + off[b_, 2 * (grp * kh * kw + k), oy, ox]
            px = (
                ox * stride[1] - pads[1] + j * dil[1] + off[b_, 2 * (grp * kh * kw + k) + 1, oy, ox]
            )
            v = _bilinear(x[b_, ch], py, px)
            if mask is not None:
                v *= mask[b_, grp * kh * kw + k, oy, ox]
            total += w[o, ci, i, j] * v
        y[b_, o, oy, ox] = total + (0.0 if b is None else b[o])
    return y


@st.composite
def deform_cases(draw):
    groups, og = draw(st.sampled_from([1, 2])), draw(st.sampled_from([1, 2]))
    c = 2 * max(groups, og) // math.gcd(groups, og) * draw(st.integers(1, 1))
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    dil = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    pads = (draw(st.integers(0, 1)), draw(st.integers(0, 1)))
    size = tuple(
        draw(st.integers((k - 1) * dl + 1, (k - 1) * dl + 3)) for k, dl in zip(kernel, dil)
    )
    out = tuple((n + 2 * p - dl * (k - 1) - 1) // s + 1
                for n, p, dl, k, s in zip(size, pads, dil, kernel, stride))  # fmt: skip
    return dict(c=c, groups=groups, og=og, kernel=kernel, stride=stride, dil=dil, pads=pads,
                size=size, out=out, mask=draw(st.booleans()), bias=draw(st.booleans()))  # fmt: skip


def _deform_arrays(case, seed):
    rng = np.random.default_rng(seed)
    k = math.prod(case["kernel"])
    x = rng.standard_normal((2, case["c"]) + case["size"])
    off = rng.standard_normal((2, 2 * case["og"] * k) + case["out"]) * 1.5
    w = rng.standard_normal((2 * case["groups"], case["c"] // case["groups"]) + case["kernel"])
    b = rng.standard_normal(2 * case["groups"]) if case["bias"] else None
    mask = rng.random((2, case["og"] * k) + case["out"]) if case["mask"] else None
    return x, off, w, b, mask


@many
@given(case=deform_cases())
def test_deform_conv2d_against_a_loop_reference(be, case):
    x, off, w, b, mask = _deform_arrays(case, 15)
    ref = deform_reference(x, off, w, b, case["stride"], case["pads"], case["dil"], mask)
    y = pc.deform_conv2d(be.asarray(x), be.asarray(off), be.asarray(w),
                         None if b is None else be.asarray(b), case["stride"], case["pads"],
                         case["dil"], None if mask is None else be.asarray(mask))  # fmt: skip
    be.check(y, ref, rtol=1e-9, atol=1e-12, dtype="float64")


@fd_settings
@given(case=deform_cases())
def test_deform_conv2d_gradient(be, case):
    x, off, w, b, mask = _deform_arrays(case, 16)
    x, off = x[:1], off[:1]
    arrays = [x, off, w] + ([mask[:1]] if mask is not None else [])

    def fn(xv, ov, wv, mv=None):
        return ag.deform_conv2d(xv, ov, wv, None, case["stride"], case["pads"], case["dil"], mv)

    # offsets on an integer (a bilinear kink) have one-sided derivatives: keep clear of them
    assume(np.abs(off - np.round(off)).min() > 1e-3)
    _fd_check(be, fn, arrays, rtol=1e-4, atol=1e-5, most=4)


def test_deform_conv2d_without_offsets_is_a_convolution(be):
    rng = np.random.default_rng(17)
    x, w, b = rng.standard_normal((2, 4, 5, 6)), rng.standard_normal((6, 2, 3, 3)), None
    off = np.zeros((2, 2 * 9, 5, 6))
    y = pc.deform_conv2d(be.asarray(x), be.asarray(off), be.asarray(w), b, 1, 1)
    conv = pc.conv2d(be.asarray(x), be.asarray(w), None, 1, 1, groups=2)
    be.check(y, be.to_numpy(conv), rtol=1e-9, atol=1e-12, dtype="float64")
    with pytest.raises(pc.ArgumentError, match="offset: expected shape"):
        pc.deform_conv2d(be.asarray(x), be.asarray(off[:, :5]), be.asarray(w), b, 1, 1)
    with pytest.raises(pc.ArgumentError, match="mask: expected shape"):
        pc.deform_conv2d(be.asarray(x), be.asarray(off), be.asarray(w), b, 1, 1,
                         mask=be.asarray(np.ones((2, 3, 5, 6))))  # fmt: skip


# -- integer convolution ---------------------------------------------------------------------------


@many
@given(signed=st.booleans(), per_channel=st.booleans(), data=st.data())
def test_integer_convolutions_against_an_int64_reference(be, signed, per_channel, data):
    dtype = np.int8 if signed else np.uint8
    info = np.iinfo(dtype)
    rng = np.random.default_rng(data.draw(st.integers(0, 1000)))
    x = rng.integers(info.min, info.max + 1, size=(2, 2, 5, 4)).astype(dtype)
    w = rng.integers(info.min, info.max + 1, size=(3, 2, 2, 3)).astype(dtype)
    xz = dtype(rng.integers(info.min, info.max + 1))
    wz = (rng.integers(info.min, info.max + 1, size=3) if per_channel
          else rng.integers(info.min, info.max + 1, size=())).astype(dtype)  # fmt: skip
    pads = ((1, 0), (0, 2))
    xs = np.pad(x.astype(np.int64) - int(xz), ((0, 0), (0, 0)) + pads)
    ws = w.astype(np.int64) - wz.astype(np.int64).reshape((-1, 1, 1, 1) if per_channel else ())
    acc = np.rint(conv_reference(xs.astype(np.float64), ws.astype(np.float64), None, (1, 2),
                                 (1, 1), 1)).astype(np.int64)  # fmt: skip
    wzb = be.asarray(wz) if per_channel else wz[()]
    got = pc.conv_integer(be.asarray(x), be.asarray(w), xz, wzb, (1, 2), pads)
    be.check_array(got, dtype="int32")
    assert np.array_equal(be.to_numpy(got), acc.astype(np.int32))
    # QLinearConv: bias, per-channel scales, ONNX's float32 multiplier, ties to even
    bias = rng.integers(-1000, 1000, size=3).astype(np.int32)
    xsc, ysc = np.float32(0.02), np.float32(0.3)
    wsc = (rng.random(3).astype(np.float32) * 0.1 + 0.01) if per_channel else np.float32(0.05)
    yz = dtype(rng.integers(info.min, info.max + 1))
    mult = (xsc * wsc / ysc).astype(np.float32).astype(np.float64)
    r = (acc + bias.reshape(-1, 1, 1)) * (mult.reshape(-1, 1, 1) if per_channel else mult)
    expected = np.rint(np.clip(r + int(yz), info.min, info.max)).astype(dtype)
    wscb = be.asarray(wsc) if per_channel else wsc
    got = pc.qlinear_conv(be.asarray(x), xsc, xz, be.asarray(w), wscb, wzb, ysc, yz,
                          be.asarray(bias), (1, 2), pads)  # fmt: skip
    be.check_array(got, dtype=np.dtype(dtype).name)
    assert np.array_equal(be.to_numpy(got), expected)


@pytest.mark.parametrize("path", ["generic", None])
def test_integer_convolutions_stay_exact_where_floats_would_take_winograd(be, path):
    """A 3 x 3 convolution of 64 channels is one the generic path computes by Winograd's
    algorithm for floats (fractional transforms: exact to about 1e-14, not to the unit);
    ONNX's integer convolutions must still give every int32 exactly."""
    rng = np.random.default_rng(5)
    x = rng.integers(0, 256, size=(2, 64, 8, 8)).astype(np.uint8)
    w = rng.integers(-128, 128, size=(64, 64, 3, 3)).astype(np.int8)
    xs = np.pad(x.astype(np.int64), ((0, 0), (0, 0), (1, 1), (1, 1)))
    windows = np.lib.stride_tricks.sliding_window_view(xs, (3, 3), axis=(2, 3))
    expected = np.einsum("nchwrs,ocrs->nohw", windows, w.astype(np.int64))
    got = pc.conv_integer(be.asarray(x), be.asarray(w), padding=1, path=path)
    be.check_array(got, dtype="int32")
    assert np.array_equal(be.to_numpy(got), expected.astype(np.int32))


def test_integer_convolution_refusals(be):
    x, w = be.asarray(np.ones((1, 1, 3, 3), np.uint8)), be.asarray(np.ones((1, 1, 2, 2), np.uint8))
    with pytest.raises(pc.ArrayTypeError, match="x: expected an integer array"):
        pc.conv_integer(be.asarray(np.ones((1, 1, 3, 3))), w)
    with pytest.raises(pc.ArgumentError, match="w_zero_point: expected one value or 1"):
        pc.conv_integer(x, w, None, be.asarray(np.zeros(3, np.uint8)))
    with pytest.raises(pc.ArrayTypeError, match="input: expected a real floating"):
        pc.conv2d(x, w)  # conv2d itself keeps refusing integers, as PyTorch does


# -- nearest-neighbour resizing --------------------------------------------------------------------


def nearest_reference(x, out, factors, exact):
    """Each output element copies the input element at ``floor((j + offset) * scale)``,
    computed in float32 as PyTorch does (offset 0.5 for "nearest-exact")."""
    y = np.empty(x.shape[:2] + tuple(out))
    spatial = x.shape[2:]
    for pos in np.ndindex(*out):
        src = []
        for j, n, m, f in zip(pos, spatial, out, factors):
            scale = np.float32(1.0 / f) if f is not None else np.float32(n) / np.float32(m)
            at = np.float32(j) + np.float32(0.5 if exact else 0.0)
            src.append(min(int(np.floor(at * scale)), n - 1))
        y[(slice(None), slice(None)) + pos] = x[(slice(None), slice(None)) + tuple(src)]
    return y


@st.composite
def resize_cases(draw):
    d = draw(st.integers(1, 3))
    spatial = tuple(draw(st.integers(1, 6 if d < 3 else 4)) for _ in range(d))
    exact = draw(st.booleans())
    if draw(st.booleans()):
        size = tuple(draw(st.integers(1, 9 if d < 3 else 5)) for _ in range(d))
        return spatial, dict(size=size), size, (None,) * d, exact
    factors = tuple(draw(st.sampled_from([0.5, 1.0, 1.5, 2.0, 2.5, 3.0])) for _ in range(d))
    out = tuple(int(math.floor(n * f)) for n, f in zip(spatial, factors))
    assume(min(out) >= 1)
    recompute = draw(st.booleans())
    kw = dict(scale_factor=factors, recompute_scale_factor=recompute or None)
    return spatial, kw, out, (None,) * d if recompute else factors, exact


@many
@given(case=resize_cases(), seed=st.integers(0, 2**16))
def test_interpolate_nearest_against_a_loop_reference(be, case, seed):
    spatial, kw, out, factors, exact = case
    x = np.random.default_rng(seed).standard_normal((2, 2) + spatial)
    mode = "nearest-exact" if exact else "nearest"
    y = pc.interpolate(be.asarray(x), mode=mode, **kw)
    be.check(y, nearest_reference(x, out, factors, exact), dtype="float64")


@fd_settings
@given(case=resize_cases())
def test_interpolate_nearest_gradient(be, case):
    spatial, kw, _, _, exact = case
    mode = "nearest-exact" if exact else "nearest"
    x = np.random.default_rng(3).standard_normal((1, 2) + spatial)
    _fd_check(be, lambda v: ag.interpolate(v, mode=mode, **kw), [x])


def test_interpolate_equals_torch_s(be):
    torch = pytest.importorskip("torch", reason="compares with torch.nn.functional.interpolate")
    x = np.random.default_rng(4).standard_normal((2, 3, 5, 7))
    for mode in ("nearest", "nearest-exact"):
        for kw in (dict(size=(3, 11)), dict(scale_factor=(1.7, 0.6)), dict(scale_factor=2)):
            ref = torch.nn.functional.interpolate(torch.from_numpy(x), mode=mode, **kw)
            be.check(pc.interpolate(be.asarray(x), mode=mode, **kw), ref.numpy(), dtype="float64")


def test_interpolate_refuses_bad_arguments_by_name(be):
    x = be.asarray(np.ones((1, 1, 4, 4)))
    with pytest.raises(pc.ArgumentError, match=r"mode: portconv resizes by 'nearest' or"):
        pc.interpolate(x, scale_factor=2, mode="bilinear")
    with pytest.raises(pc.ArgumentError, match="size, scale_factor: give exactly one"):
        pc.interpolate(x)
    with pytest.raises(pc.ArgumentError, match="align_corners"):
        pc.interpolate(x, scale_factor=2, align_corners=False)
    with pytest.raises(pc.ArgumentError, match="size: expected a positive int or 2"):
        pc.interpolate(x, size=(2, 3, 4))
    with pytest.raises(pc.ArgumentError, match=r"input: interpolate expects a batched"):
        pc.interpolate(be.asarray(np.ones((4, 4))), scale_factor=2)
    with pytest.raises(pc.ArgumentError, match="recompute_scale_factor"):
        pc.interpolate(x, scale_factor=2, recompute_scale_factor="yes")


# -- the book's helpers on integers ----------------------------------------------------------------


def test_book_helpers_on_integers_return_the_library_s_default_float(be):
    X = np.array([[0, 1, 2], [3, 4, 5], [6, 7, 8]])
    K = np.array([[0, 1], [2, 3]])
    default = be.adapter.namespace().asarray(0.0).dtype  # the library's default float
    name = str(default).split(".")[-1]  # float64, torch.float32, array_api_strict.float64
    be.check(pc.corr2d(be.asarray(X), be.asarray(K)), [[19, 25], [37, 43]], dtype=name)
    be.check(pc.pool2d(be.asarray(X), (2, 2)), [[4, 5], [7, 8]], dtype=name)
    be.check(pc.pool2d(be.asarray(X), (2, 2), "avg"), [[2, 3], [5, 6]], dtype=name)
    # an integer image with a floating kernel: the kernel's dtype, as X * K promotes
    be.check(pc.corr2d(be.asarray(X), be.asarray(K.astype(np.float32))), [[19, 25], [37, 43]],
             dtype="float32")  # fmt: skip


# -- edge cases issue 16 fixed ---------------------------------------------------------------------


def test_ceil_mode_window_starting_in_the_input_is_kept(be):
    # PyTorch gives one output here; the rule: a window starting inside the input counts
    y = pc.max_pool1d(be.asarray(np.array([[[1.5]]])), 2, 2, ceil_mode=True)
    be.check(y, [[[1.5]]], dtype="float64")
    y, i = pc.max_pool1d(be.asarray(np.array([[[1.5]]])), 2, 2, ceil_mode=True,
                         return_indices=True)  # fmt: skip
    assert be.to_numpy(i).tolist() == [[[0]]]


@pytest.mark.parametrize(
    "call",
    [
        lambda x: pc.max_pool2d(x, 2),
        lambda x: pc.avg_pool2d(x, 2),
        lambda x: pc.lp_pool2d(x, 2, 2),
        lambda x: pc.adaptive_max_pool2d(x, 2),
        lambda x: pc.adaptive_avg_pool2d(x, 2),
        lambda x: pc.fractional_max_pool2d(x, 2, output_size=2, generator=0),
        lambda x: pc.max_unpool2d(x, x, 2),
        lambda x: pc.conv2d(x, pc.asarray(np.ones((1, 1, 2, 2)), pc.backend_of(x).name)),
    ],
)
def test_unbatched_input_with_zero_channels_is_refused(be, call):
    x = be.asarray(np.zeros((0, 4, 4)))
    with pytest.raises(pc.PortconvError, match=r"^(input|weight|indices): "):
        call(x)


def test_a_one_element_tuple_stands_for_every_axis(be):
    x = be.asarray(np.random.default_rng(18).standard_normal((1, 2, 6, 6)))
    w = be.asarray(np.ones((2, 2, 3, 3)))
    pairs = [
        (pc.conv2d(x, w, None, (2,), (1,), (1,)), pc.conv2d(x, w, None, 2, 1, 1)),
        (pc.max_pool2d(x, (3,), (2,), (1,), (1,)), pc.max_pool2d(x, 3, 2, 1, 1)),
        (pc.avg_pool2d(x, (3,), (2,), (1,)), pc.avg_pool2d(x, 3, 2, 1)),
        (pc.lp_pool2d(x, 2, (2,), (2,)), pc.lp_pool2d(x, 2, 2, 2)),
        (pc.conv_transpose2d(x, w, None, (2,), (1,), (1,)),
         pc.conv_transpose2d(x, w, None, 2, 1, 1)),
        (pc.fractional_max_pool2d(x, (2,), (3,), generator=1),
         pc.fractional_max_pool2d(x, 2, 3, generator=1)),
    ]  # fmt: skip
    y, i = pc.max_pool2d(x, 2, return_indices=True)
    pairs.append((pc.max_unpool2d(y, i, (2,), (2,), output_size=(6,)), pc.max_unpool2d(y, i, 2)))
    pairs.append((pc.conv_transpose2d(x, w, None, 2, 1, output_size=(12,)),
                  pc.conv_transpose2d(x, w, None, 2, 1, output_size=(12, 12))))  # fmt: skip
    for a, b in pairs:
        be.check(a, be.to_numpy(b), dtype="float64")
    # an output size is not a window: like torch, adaptive pooling wants one per axis
    with pytest.raises(pc.ArgumentError, match="output_size"):
        pc.adaptive_avg_pool2d(x, (3,))


# -- docstring examples ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["portconv.ops.unpool", "portconv.ops.lp_pool", "portconv.ops.fractional",
     "portconv.ops.deform", "portconv.ops.qconv", "portconv.ops.pool",
     "portconv.ops.conv_transpose", "portconv.ops.adaptive"],
)  # fmt: skip
def test_docstring_examples_of_the_new_and_changed_ops_run(name):
    import doctest
    import importlib

    if int(np.__version__.split(".")[0]) < 2:
        pytest.skip(f"the examples print NumPy 2's scalar reprs; NumPy here is {np.__version__}")
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"


@many
@given(case=deform_cases())
def test_deform_conv2d_gradient_against_torch_autograd(be, case):
    if be.adapter.name != "torch":
        pytest.skip("compares with torch's autograd over the generic forward: torch session")
    import torch

    x, off, w, b, mask = _deform_arrays(case, 19)
    arrays = [a for a in (x, off, w, b, mask) if a is not None]
    leaves = [torch.tensor(a, requires_grad=True) for a in arrays]
    it = iter(leaves)
    full = [None if a is None else next(it) for a in (x, off, w, b, mask)]
    args = (case["stride"], case["pads"], case["dil"])
    y = pc.deform_conv2d(full[0], full[1], full[2], full[3], *args, full[4], path="generic")
    g = torch.tensor(np.random.default_rng(20).standard_normal(tuple(y.shape)))
    expected = torch.autograd.grad((y * g).sum(), leaves)
    variables = [ag.Variable(be.asarray(a), requires_grad=True) for a in arrays]
    it = iter(variables)
    full = [None if a is None else next(it) for a in (x, off, w, b, mask)]
    (ag.deform_conv2d(full[0], full[1], full[2], full[3], *args, full[4]) * g).sum().backward()
    for v, e in zip(variables, expected):
        be.check(v.grad, e.numpy(), rtol=1e-9, atol=1e-10, dtype="float64")
