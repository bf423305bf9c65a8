"""Convolution on every backend: conv, conv1d/2d/3d, convolve, corr2d, conv_output_shape.

Every result is checked against an independent float64 NumPy reference written below as plain
loops (no padding of arrays, no im2col: an index either falls inside the input or counts as a
zero), on configurations drawn by hypothesis. Native kernels are checked against the generic
path, and both against the frameworks' own ops in their sessions.
"""

from __future__ import annotations

import importlib
import itertools
import math
import re
import warnings

import numpy as np
import pytest
from hypothesis import assume as hypothesis_assume
from hypothesis import given
from hypothesis import strategies as st

import portconv as pc
from portconv import _windows
from portconv.ops.conv import bind as conv_bind

# -- the reference ------------------------------------------------------------------------------


def ref_same_pads(spatial, kernel, stride, dilation, *, lower):
    """SAME padding as TensorFlow defines it: output ceil(n / s), the total padding split in
    half, the odd element at the end (upper) or at the beginning (lower)."""
    pads = []
    for n, k, s, d in zip(spatial, kernel, stride, dilation):
        out = math.ceil(n / s)
        total = max(0, (out - 1) * s + d * (k - 1) + 1 - n)
        half = total // 2
        pads.append((total - half, half) if lower else (half, total - half))
    return pads


def ref_pads(padding, spatial, kernel, stride, dilation):
    """Explicit (before, after) pairs for every padding form the ops accept."""
    d = len(spatial)
    if padding == "valid":
        return [(0, 0)] * d
    if padding in ("same", "same_lower"):
        return ref_same_pads(spatial, kernel, stride, dilation, lower=padding == "same_lower")
    if isinstance(padding, int):
        return [(padding, padding)] * d
    if all(isinstance(p, int) for p in padding):
        return [(p, p) for p in padding]
    return [tuple(p) for p in padding]


def ref_conv(x, w, b, stride, pads, dilation, groups):
    """Cross-correlation by definition: x (N, C, *spatial), w (C_out, C/groups, *kernel),
    b (C_out,) or None; float64 loops over every output element, channel and kernel tap."""
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    n_batch, c = x.shape[:2]
    c_out, c_in_g = w.shape[:2]
    spatial, kernel = x.shape[2:], w.shape[2:]
    d = len(spatial)
    out = [
        (spatial[i] + pads[i][0] + pads[i][1] - dilation[i] * (kernel[i] - 1) - 1) // stride[i] + 1
        for i in range(d)
    ]
    y = np.zeros((n_batch, c_out, *out))
    c_out_g = c_out // groups
    for n in range(n_batch):
        for co in range(c_out):
            g = co // c_out_g
            for pos in itertools.product(*(range(o) for o in out)):
                acc = 0.0 if b is None else float(b[co])
                for ci in range(c_in_g):
                    for tap in itertools.product(*(range(k) for k in kernel)):
                        idx = tuple(
                            pos[i] * stride[i] + tap[i] * dilation[i] - pads[i][0] for i in range(d)
                        )
                        if all(0 <= idx[i] < spatial[i] for i in range(d)):
                            acc += x[(n, g * c_in_g + ci) + idx] * w[(co, ci) + tap]
                y[(n, co) + pos] = acc
    return y


def as_tuple(v, d):
    return (v,) * d if isinstance(v, int) else tuple(v)


# -- configurations ------------------------------------------------------------------------------

PADDING_FORMS = ["int", "ints", "pairs", "valid", "same", "same_lower"]


@st.composite
def conv_configs(draw, dims=(1, 2, 3), forms=PADDING_FORMS, layouts=True):
    d = draw(st.sampled_from(dims))
    depthwise = draw(st.booleans())
    if depthwise:
        groups, c_in_g = draw(st.integers(1, 3)), 1
    else:
        groups, c_in_g = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    c_out_g = draw(st.integers(1, 2))
    n = draw(st.integers(1, 2))
    kmax, nmax = (3, 6) if d < 3 else (2, 4)
    kernel = tuple(draw(st.integers(1, kmax)) for _ in range(d))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(d))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(d))
    form = draw(st.sampled_from(forms))
    if form == "int":
        padding = draw(st.integers(0, 2))
    elif form == "ints":
        padding = tuple(draw(st.integers(0, 2)) for _ in range(d))
    elif form == "pairs":
        padding = tuple((draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in range(d))
    else:
        padding = form
    spatial = []
    for i in range(d):
        if form in ("same", "same_lower"):
            lo = 1
        else:
            before, after = ref_pads(padding, [1] * d, kernel, stride, dilation)[i]
            lo = max(1, (kernel[i] - 1) * dilation[i] + 1 - before - after)
        spatial.append(draw(st.integers(lo, max(lo, nmax))))
    spatial = tuple(spatial)
    # stride/dilation as an int when all equal, sometimes, to exercise both forms
    if len(set(stride)) == 1 and draw(st.booleans()):
        stride = stride[0]
    if len(set(dilation)) == 1 and draw(st.booleans()):
        dilation = dilation[0]
    return {
        "d": d,
        "n": n,
        "groups": groups,
        "c_in": c_in_g * groups,
        "c_out": c_out_g * groups,
        "spatial": spatial,
        "kernel": kernel,
        "stride": stride,
        "padding": padding,
        "dilation": dilation,
        "bias": draw(st.booleans()),
        "dtype": draw(st.sampled_from(["float32", "float64"])),
        "layout": draw(st.sampled_from(["channels_first", "channels_last"]))
        if layouts
        else "channels_first",
        "unbatched": draw(st.booleans()),
        "named_op": draw(st.booleans()),  # conv{d}d instead of conv
        "seed": draw(st.integers(0, 2**31 - 1)),
    }


def make_case(cfg):
    """Random arrays of a configuration (channels first, batched) and their reference."""
    rng = np.random.default_rng(cfg["seed"])
    d, dtype = cfg["d"], cfg["dtype"]
    x = rng.standard_normal((cfg["n"], cfg["c_in"], *cfg["spatial"])).astype(dtype)
    w = rng.standard_normal((cfg["c_out"], cfg["c_in"] // cfg["groups"], *cfg["kernel"])).astype(
        dtype
    )
    b = rng.standard_normal(cfg["c_out"]).astype(dtype) if cfg["bias"] else None
    stride, dilation = as_tuple(cfg["stride"], d), as_tuple(cfg["dilation"], d)
    pads = ref_pads(cfg["padding"], cfg["spatial"], cfg["kernel"], stride, dilation)
    ref = ref_conv(x, w, b, stride, pads, dilation, cfg["groups"])
    return x, w, b, ref


def to_layout(cfg, x, w, ref):
    """Arrays of the call's layout and batching from channels-first batched ones."""
    d = cfg["d"]
    if cfg["layout"] == "channels_last":
        x = np.moveaxis(x, 1, -1)
        w = np.transpose(w, tuple(range(2, d + 2)) + (1, 0))
        ref = np.moveaxis(ref, 1, -1)
    if cfg["unbatched"]:
        x, ref = x[:1][0], ref[:1][0]
    return np.ascontiguousarray(x), np.ascontiguousarray(w), ref


def tolerance(dtype):
    return {"float32": 2e-4, "float64": 1e-10}[dtype]


def call(be, cfg, x, w, b, path=None, op=None):
    fn = op or (getattr(pc, f"conv{cfg['d']}d") if cfg["named_op"] else pc.conv)
    return fn(
        be.asarray(x),
        be.asarray(w),
        None if b is None else be.asarray(b),
        cfg["stride"],
        cfg["padding"],
        cfg["dilation"],
        cfg["groups"],
        layout=cfg["layout"],
        path=path,
    )


# -- every op against the reference --------------------------------------------------------------


@given(cfg=conv_configs())
def test_conv_matches_loop_reference(be, cfg):
    x, w, b, ref = make_case(cfg)
    x, w, ref = to_layout(cfg, x, w, ref)
    tol = tolerance(cfg["dtype"])
    for path in ("generic", None):
        y = call(be, cfg, x, w, b, path=path)
        be.check(y, ref, rtol=tol, atol=tol, dtype=cfg["dtype"])


@given(cfg=conv_configs(dims=(1, 2)))
def test_convolve_flips_the_kernel(be, cfg):
    x, w, b, _ = make_case(cfg)
    d = cfg["d"]
    flipped = np.flip(w, axis=tuple(range(2, d + 2)))
    stride, dilation = as_tuple(cfg["stride"], d), as_tuple(cfg["dilation"], d)
    pads = ref_pads(cfg["padding"], cfg["spatial"], cfg["kernel"], stride, dilation)
    ref = ref_conv(x, flipped, b, stride, pads, dilation, cfg["groups"])
    x, w, ref = to_layout(cfg, x, w, ref)
    tol = tolerance(cfg["dtype"])
    be.check(call(be, cfg, x, w, b, op=pc.convolve), ref, rtol=tol, atol=tol, dtype=cfg["dtype"])


def test_convolve_two_dimensional_arrays_by_definition(be):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 6))
    k = rng.standard_normal((2, 3))
    ref = np.zeros((4, 4))
    for i in range(4):
        for j in range(4):
            ref[i, j] = sum(x[i + a, j + c] * k[1 - a, 2 - c] for a in range(2) for c in range(3))
    be.check(pc.convolve(be.asarray(x), be.asarray(k)), ref, rtol=1e-12, atol=1e-12)
    # with padding and stride, as conv takes them
    y = pc.convolve(be.asarray(x), be.asarray(k), stride=2, padding=1)
    ref_p = ref_conv(
        x[None, None], k[::-1, ::-1][None, None], None, (2, 2), [(1, 1)] * 2, (1, 1), 1
    )
    be.check(y, ref_p[0, 0], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_corr2d_matches_reference(be, dtype):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6, 7)).astype(dtype)
    k = rng.standard_normal((3, 2)).astype(dtype)
    ref = ref_conv(x[None, None], k[None, None], None, (1, 1), [(0, 0)] * 2, (1, 1), 1)[0, 0]
    tol = tolerance(dtype)
    be.check(pc.corr2d(be.asarray(x), be.asarray(k)), ref, rtol=tol, atol=tol, dtype=dtype)


# -- the book's examples -------------------------------------------------------------------------

X3 = np.array([[0.0, 1, 2], [3, 4, 5], [6, 7, 8]], dtype=np.float32)
K2 = np.array([[0.0, 1], [2, 3]], dtype=np.float32)


def test_book_corr2d(be):
    be.check(pc.corr2d(be.asarray(X3), be.asarray(K2)), [[19, 25], [37, 43]], dtype="float32")


def test_book_edge_detection(be):
    x = np.ones((6, 8), dtype=np.float32)
    x[:, 2:6] = 0
    k = np.array([[1.0, -1.0]], dtype=np.float32)
    row = [0, 1, 0, 0, 0, -1, 0]
    be.check(pc.corr2d(be.asarray(x), be.asarray(k)), [row] * 6, dtype="float32")
    be.check(pc.corr2d(be.asarray(np.ascontiguousarray(x.T)), be.asarray(k)), np.zeros((8, 5)))
    # the same through conv2d with batch and channel axes (5.2.4)
    y = pc.conv2d(be.asarray(x.reshape(1, 1, 6, 8)), be.asarray(k.reshape(1, 1, 1, 2)))
    be.check(y, np.array([row] * 6).reshape(1, 1, 6, 7), dtype="float32")


@pytest.mark.parametrize(
    "kernel, padding, stride, expected",
    [
        (3, 1, 1, (8, 8)),
        ((5, 3), (2, 1), 1, (8, 8)),
        (3, 1, 2, (4, 4)),
        ((3, 5), (0, 1), (3, 4), (2, 2)),
    ],
)
def test_book_padding_and_stride_shapes(be, kernel, padding, stride, expected):
    assert pc.conv_output_shape((8, 8), kernel, stride=stride, padding=padding) == expected
    k = (kernel, kernel) if isinstance(kernel, int) else kernel
    x = be.asarray(np.random.default_rng(0).uniform(size=(1, 1, 8, 8)).astype(np.float32))
    w = be.asarray(np.ones((1, 1, *k), dtype=np.float32))
    y = pc.conv2d(x, w, None, stride, padding)
    assert tuple(y.shape) == (1, 1, *expected)
    # Gluon's spelling of the stride, as the book writes nn.Conv2D(..., strides=2)
    assert tuple(pc.conv2d(x, w, padding=padding, strides=stride).shape) == (1, 1, *expected)


def test_book_padded_example(be):
    x, k = be.asarray(X3[None, None]), be.asarray(K2[None, None])
    padded = [[0, 3, 8, 4], [9, 19, 25, 10], [21, 37, 43, 16], [6, 7, 8, 0]]
    be.check(pc.conv2d(x, k, padding=1)[0, 0, ...], padded, dtype="float32")
    y = pc.conv2d(x, k, padding=1, stride=(3, 2))
    be.check(y[0, 0, ...], [[0, 8], [6, 8]], dtype="float32")


MULTI_X = np.array([[[0.0, 1, 2], [3, 4, 5], [6, 7, 8]], [[1, 2, 3], [4, 5, 6], [7, 8, 9]]])
MULTI_K = np.array([[[0.0, 1], [2, 3]], [[1, 2], [3, 4]]])


def test_book_multiple_input_channels(be):
    x = be.asarray(MULTI_X.astype(np.float32))
    k = be.asarray(MULTI_K[None].astype(np.float32))
    be.check(pc.conv2d(x, k), [[[56, 72], [104, 120]]], dtype="float32")


def test_book_multiple_output_channels(be):
    k = np.stack([MULTI_K, MULTI_K + 1, MULTI_K + 2])
    assert k.shape == (3, 2, 2, 2)
    expected = [[[56, 72], [104, 120]], [[76, 100], [148, 172]], [[96, 128], [192, 224]]]
    y = pc.conv2d(be.asarray(MULTI_X), be.asarray(k))
    be.check(y, expected, dtype="float64")


def test_book_1x1_convolution_is_a_matmul(be):
    rng = np.random.default_rng(2)
    x = rng.uniform(size=(3, 3, 3))
    k = rng.uniform(size=(2, 3, 1, 1))
    expected = (k.reshape(2, 3) @ x.reshape(3, 9)).reshape(2, 3, 3)
    be.check(pc.conv2d(be.asarray(x), be.asarray(k)), expected, rtol=1e-12, atol=1e-12)


# -- conv_output_shape ---------------------------------------------------------------------------


def test_conv_output_shape_forms():
    assert pc.conv_output_shape(8, 3) == (6,)
    assert pc.conv_output_shape((8, 8), 3, padding="same", stride=2) == (4, 4)
    assert pc.conv_output_shape((7,), (2,), padding="same") == (7,)
    assert pc.conv_output_shape((8, 8), 3, padding=((0, 2), (1, 1))) == (8, 8)
    assert pc.conv_output_shape((9, 9, 9), 3, dilation=2, padding="valid") == (5, 5, 5)
    # the book's formula floor((n - k + p + s) / s), p the total padding of the axis
    for n, k, p, s in itertools.product(range(3, 9), range(1, 4), range(0, 3), range(1, 4)):
        assert pc.conv_output_shape(n, k, s, p) == ((n - k + 2 * p + s) // s,)


@pytest.mark.parametrize(
    "args, kwargs, exc, match",
    [
        ((8.0, 3), {}, TypeError, r"input_size: .*float"),
        ((8, 2.5), {}, TypeError, r"kernel_size: .*float"),
        (((8, 8), (3, 3, 3)), {}, ValueError, r"kernel_size: expected .* 2 ints"),
        ((8, 3), {"stride": 0}, ValueError, r"stride: every value must be at least 1, got 0"),
        ((8, 3), {"padding": -1}, ValueError, r"padding: .*negative.*-1"),
        ((8, 3), {"padding": "full"}, ValueError, r"padding: .*'full'"),
        ((2, 5), {}, ValueError, r"kernel_size: the kernel \(5,\)"),
    ],
)
def test_conv_output_shape_errors(args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        pc.conv_output_shape(*args, **kwargs)


# -- dtypes, devices, layouts, paths ------------------------------------------------------------


def _dtypes(be):
    names = ["float32", "float64"]
    if hasattr(be.xp, "float16"):
        names.append("float16")
    if be.name == "torch":
        names.append("bfloat16")
    return names


def _dtype_name(y):
    if isinstance(y.dtype, type):  # legacy mx.nd arrays report a NumPy scalar type
        return np.dtype(y.dtype).name
    return str(y.dtype).split(".")[-1]


def test_result_keeps_dtype(be):
    rng = np.random.default_rng(4)
    x64 = rng.standard_normal((2, 2, 5, 5))
    w64 = rng.standard_normal((2, 1, 3, 3))
    b64 = rng.standard_normal(2)
    ref = ref_conv(x64, w64, b64, (1, 1), [(1, 1)] * 2, (1, 1), 2)
    for name in _dtypes(be):
        if name == "bfloat16":
            import torch

            mk = lambda a: torch.as_tensor(a).to(torch.bfloat16)  # noqa: E731
            check = lambda y: be.check_array(y)  # noqa: E731
        else:
            mk = lambda a: be.asarray(a.astype(name))  # noqa: E731, B023
            check = lambda y: be.check_array(y, dtype=name)  # noqa: E731, B023
        for path in ("generic", None):
            y = pc.conv2d(mk(x64), mk(w64), mk(b64), 1, 1, 1, 2, path=path)
            check(y)
            assert _dtype_name(y) == name, (path, y.dtype, name)
            got = be.to_numpy(y.float() if name == "bfloat16" else y).astype(np.float64)
            tol = 1e-10 if name == "float64" else 1e-4 if name == "float32" else 0.1
            np.testing.assert_allclose(got, ref, rtol=tol, atol=tol)


def test_layout_aliases(be):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((1, 4, 5, 3))  # N, H, W, C
    w = rng.standard_normal((2, 2, 3, 4))  # kH, kW, C_in, C_out (HWIO)
    ref = ref_conv(
        np.moveaxis(x, -1, 1), np.transpose(w, (3, 2, 0, 1)), None, (1, 1), [(0, 0)] * 2, (1, 1), 1
    )
    for layout in ("channels_last", "NHWC", "nhwc"):
        y = pc.conv2d(be.asarray(x), be.asarray(w), layout=layout)
        be.check(y, np.moveaxis(ref, 1, -1), rtol=1e-12, atol=1e-12)
    x_cf, w_oihw = np.moveaxis(x, -1, 1), np.transpose(w, (3, 2, 0, 1))
    for layout in ("channels_first", "NCHW"):
        y = pc.conv(be.asarray(np.ascontiguousarray(x_cf)), be.asarray(w_oihw), layout=layout)
        be.check(y, ref, rtol=1e-12, atol=1e-12)


def test_path_native_and_config(be, monkeypatch):
    x = be.asarray(np.ones((1, 1, 4, 4)))
    w = be.asarray(np.ones((1, 1, 2, 2)))
    native = be.adapter.native.get("conv")
    if native is None:
        with pytest.raises(ValueError, match=r"path: 'native' .* has no native kernel for conv"):
            pc.conv2d(x, w, path="native")
        be.check(pc.conv2d(x, w, path="auto"), np.full((1, 1, 3, 3), 4.0))
        return
    calls = []

    def counting_run(*args, **kwargs):
        calls.append(kwargs)
        return native.run(*args, **kwargs)

    from portconv.backends import NativePath

    monkeypatch.setitem(be.adapter.native, "conv", NativePath(native.can_run, counting_run))
    be.check(pc.conv2d(x, w), np.full((1, 1, 3, 3), 4.0))
    assert len(calls) == 1
    with pc.config(path="generic"):
        be.check(pc.conv2d(x, w), np.full((1, 1, 3, 3), 4.0))
        be.check(pc.corr2d(x[0, 0], w[0, 0]), np.full((3, 3), 4.0))
    assert len(calls) == 1
    be.check(pc.conv2d(x, w, path="native"), np.full((1, 1, 3, 3), 4.0))
    assert len(calls) == 2
    with pytest.raises(ValueError, match="path: expected one of"):
        pc.conv2d(x, w, path="fast")


@given(cfg=conv_configs(layouts=False))
def test_native_matches_generic(be, cfg):
    native = be.adapter.native.get("conv")
    if native is None:
        pytest.skip(f"the {be.name} backend has no native convolution kernel")
    x, w, b, ref = make_case(cfg)
    x, w, ref = to_layout(cfg, x, w, ref)
    tol = tolerance(cfg["dtype"])
    generic = call(be, cfg, x, w, b, path="generic")
    be.check(generic, ref, rtol=tol, atol=tol)
    plan = conv_bind(
        be.asarray(x),
        be.asarray(w),
        None if b is None else be.asarray(b),
        cfg["stride"],
        cfg["padding"],
        cfg["dilation"],
        cfg["groups"],
        cfg["layout"],
        None,
        False,
    )
    able = native.can_run(plan.call)
    if able is not True:  # refused with the adapter's reason
        with pytest.raises(ValueError, match=f"path: 'native' .* {re.escape(able)}"):
            call(be, cfg, x, w, b, path="native")
        return
    y = call(be, cfg, x, w, b, path="native")
    be.check(y, be.to_numpy(generic), rtol=tol, atol=tol, dtype=cfg["dtype"])


# -- against the frameworks themselves -----------------------------------------------------------


@given(cfg=conv_configs(forms=["int", "ints", "same"], layouts=False))
def test_against_torch_functional(be, cfg):
    if be.adapter.name != "torch":
        pytest.skip("compares with torch.nn.functional; runs in the torch session")
    import torch
    import torch.nn.functional as F

    x, w, b, _ = make_case(cfg)
    d = cfg["d"]
    fn = getattr(F, f"conv{d}d")
    padding, stride = cfg["padding"], cfg["stride"]
    if padding == "same":
        stride = 1  # torch's padding="same" takes stride 1 only
    tx, tw = torch.as_tensor(x), torch.as_tensor(w)
    tb = None if b is None else torch.as_tensor(b)
    with warnings.catch_warnings():  # torch warns that even kernels make it copy the input
        warnings.simplefilter("ignore", UserWarning)
        expected = fn(tx, tw, tb, stride, padding, cfg["dilation"], cfg["groups"])
    tol = tolerance(cfg["dtype"])
    for path in ("generic", "native"):
        y = pc.conv(tx, tw, tb, stride, padding, cfg["dilation"], cfg["groups"], path=path)
        be.check(y, expected.numpy(), rtol=tol, atol=tol, dtype=cfg["dtype"])


@given(cfg=conv_configs(dims=(1, 2), forms=["int", "pairs", "same"], layouts=False))
def test_torch_autograd_through_generic_path(be, cfg):
    if be.adapter.name != "torch":
        pytest.skip("differentiates with torch.autograd; runs in the torch session")
    import torch

    x, w, b, _ = make_case({**cfg, "dtype": "float64"})
    grads = {}
    for path in ("generic", "native"):
        tx = torch.tensor(x, requires_grad=True)
        tw = torch.tensor(w, requires_grad=True)
        tb = None if b is None else torch.tensor(b, requires_grad=True)
        y = pc.conv(
            tx, tw, tb, cfg["stride"], cfg["padding"], cfg["dilation"], cfg["groups"], path=path
        )
        (y * torch.linspace(-1, 1, y.numel(), dtype=y.dtype).reshape(y.shape)).sum().backward()
        grads[path] = [t.grad.numpy() for t in (tx, tw, tb) if t is not None]
    for g, n in zip(grads["generic"], grads["native"]):
        np.testing.assert_allclose(g, n, rtol=1e-10, atol=1e-10)


def _mx():
    import mxnet as mx

    return mx


@given(cfg=conv_configs(forms=["int", "ints", "valid"], layouts=False))
def test_against_mxnet_npx_convolution(be, cfg):
    if be.adapter.name != "mxnet":
        pytest.skip("compares with mxnet.npx.convolution; runs in the MXNet sessions")
    mx = _mx()
    x, w, b, ref = make_case(cfg)
    d = cfg["d"]
    stride, dilation = as_tuple(cfg["stride"], d), as_tuple(cfg["dilation"], d)
    pads = ref_pads(cfg["padding"], cfg["spatial"], cfg["kernel"], stride, dilation)
    expected = mx.npx.convolution(
        mx.np.array(x, dtype=x.dtype),
        mx.np.array(w, dtype=w.dtype),
        None if b is None else mx.np.array(b, dtype=b.dtype),
        kernel=cfg["kernel"],
        stride=stride,
        dilate=dilation,
        pad=tuple(p for p, _ in pads),
        num_filter=cfg["c_out"],
        num_group=cfg["groups"],
        no_bias=b is None,
    ).asnumpy()
    tol = tolerance(cfg["dtype"])
    np.testing.assert_allclose(expected, ref, rtol=tol, atol=tol)  # the same semantics
    for path in ("generic", "native"):
        y = call(be, {**cfg, "unbatched": False, "named_op": False}, x, w, b, path=path)
        be.check(y, expected, rtol=tol, atol=tol, dtype=cfg["dtype"])


def test_against_gluon_conv2d(be):
    if be.adapter.name != "mxnet":
        pytest.skip("compares with mxnet.gluon.nn.Conv2D; runs in the MXNet sessions")
    mx = _mx()
    if mx.util.is_np_array():
        pytest.skip("Gluon runs in NumPy mode here (npx.set_np() was called); legacy nd needed")
    from mxnet.gluon import nn

    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 4, 7, 6)).astype(np.float32)
    w = rng.standard_normal((6, 2, 3, 2)).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32)
    layer = nn.Conv2D(
        6, (3, 2), strides=(2, 1), padding=(1, 2), dilation=(1, 2), groups=2, in_channels=4
    )
    layer.initialize()
    layer.weight.set_data(mx.nd.array(w))
    layer.bias.set_data(mx.nd.array(b))
    expected = layer(mx.nd.array(x)).asnumpy()
    for path in ("generic", "native"):
        y = pc.conv2d(
            be.asarray(x),
            be.asarray(w),
            be.asarray(b),
            padding=(1, 2),
            dilation=(1, 2),
            groups=2,
            strides=(2, 1),
            path=path,
        )
        be.check(y, expected, rtol=1e-4, atol=1e-4, dtype="float32")


@given(cfg=conv_configs(dims=(1, 2), forms=["int", "pairs", "same_lower"], layouts=False))
def test_mxnet_autograd_through_generic_path(be, cfg):
    if be.adapter.name != "mxnet" or be.legacy_nd:
        pytest.skip("differentiates with mxnet.autograd on mx.np arrays; runs in the mxnet session")
    mx = _mx()
    x, w, b, _ = make_case({**cfg, "dtype": "float64"})
    d = cfg["d"]
    stride, dilation = as_tuple(cfg["stride"], d), as_tuple(cfg["dilation"], d)
    pads = ref_pads(cfg["padding"], cfg["spatial"], cfg["kernel"], stride, dilation)
    # the native kernel pads symmetrically only: give it the input padded beforehand
    x_padded = np.pad(x, [(0, 0), (0, 0)] + [tuple(p) for p in pads])
    inner = (slice(None), slice(None)) + tuple(
        slice(p, p + n) for (p, _), n in zip(pads, cfg["spatial"])
    )
    grads = {}
    for path, xin, padding in (("generic", x, cfg["padding"]), ("native", x_padded, 0)):
        arrays = [mx.np.array(a, dtype=a.dtype) for a in (xin, w, b) if a is not None]
        for a in arrays:
            a.attach_grad()
        with mx.autograd.record():
            y = pc.conv(
                arrays[0],
                arrays[1],
                arrays[2] if b is not None else None,
                cfg["stride"],
                padding,
                cfg["dilation"],
                cfg["groups"],
                path=path,
            )
            weights = mx.np.array(np.linspace(-1, 1, y.size).reshape(y.shape), dtype=y.dtype)
            loss = (y * weights).sum()
        loss.backward()
        grads[path] = [a.grad.asnumpy() for a in arrays]
    grads["native"][0] = grads["native"][0][inner]
    for g, n in zip(grads["generic"], grads["native"]):
        np.testing.assert_allclose(g, n, rtol=1e-9, atol=1e-9)


def test_empty_batch(be):
    try:
        be.xp.zeros((0, 3))
    except Exception as exc:  # MXNet 1.9.1 makes zero-size arrays only in np_shape mode
        pytest.skip(f"the {be.name} namespace cannot create zero-size arrays: {type(exc).__name__}")
    x = be.asarray(np.zeros((0, 2, 5, 5)))
    w = be.asarray(np.ones((3, 2, 2, 2)))
    for path in ("generic", None):
        be.check(pc.conv2d(x, w, padding=1, path=path), np.zeros((0, 3, 6, 6)), dtype="float64")


# -- argument errors -----------------------------------------------------------------------------


def _err_cases():
    x = np.zeros((1, 4, 5, 5), np.float32)
    w = np.zeros((6, 2, 3, 3), np.float32)
    return [
        # (fn, args, kwargs, exception, message pattern)
        (pc.conv2d, (x[0, 0], w), {}, ValueError, r"input: expected a 3 or 4-dimensional"),
        (pc.conv2d, (x, w[0]), {}, ValueError, r"weight: expected a 4-dimensional .*C_out"),
        (pc.conv1d, (x, w), {}, ValueError, r"weight: expected a 3-dimensional"),
        (pc.conv3d, (x[0], w[..., None]), {}, ValueError, r"input: expected a 4 or 5-dimensional"),
        (pc.conv, (x, w[0, 0]), {}, ValueError, r"weight: expected a 3 or 4 or 5-dimensional"),
        (pc.conv2d, (x.astype(np.int32), w), {}, TypeError, r"input: expected a real float"),
        (pc.conv2d, (x, w.astype(np.int32)), {}, TypeError, r"weight: expected a real float"),
        (
            pc.conv2d,
            (x, w.astype(np.float64)),
            {},
            TypeError,
            r"weight: dtype .*float64 differs from the input's dtype .*float32",
        ),
        (pc.conv2d, (x, w), {"groups": 3}, ValueError, r"groups: 3 does not divide .*4 chan"),
        (pc.conv2d, (x, w[:5]), {"groups": 2}, ValueError, r"groups: 2 does not divide .*5 out"),
        (pc.conv2d, (x, w), {}, ValueError, r"weight: expects 2 input channel.*input has 4"),
        (pc.conv2d, (x, w), {"groups": 0}, ValueError, r"groups: expected a positive int, got 0"),
        (pc.conv2d, (x, w), {"groups": 2.0}, TypeError, r"groups: expected a positive int"),
        (
            pc.conv2d,
            (x, w, np.zeros(5, np.float32)),
            {"groups": 2},
            ValueError,
            r"bias: expected shape \(6,\).*got shape \(5,\)",
        ),
        (
            pc.conv2d,
            (x, w, np.zeros((6, 1), np.float32)),
            {"groups": 2},
            ValueError,
            r"bias: expected shape \(6,\)",
        ),
        (
            pc.conv2d,
            (x, np.zeros((6, 2, 7, 3), np.float32)),
            {"groups": 2},
            ValueError,
            r"weight: the kernel \(7, 3\) .* spans \(7, 3\) .* padded input \(5, 5\)",
        ),
        (
            pc.conv2d,
            (x, w),
            {"groups": 2, "dilation": 3},
            ValueError,
            r"weight: the kernel \(3, 3\) with dilation \(3, 3\) spans \(7, 7\)",
        ),
        (
            pc.conv2d,
            (x, w),
            {"groups": 2, "stride": 0},
            ValueError,
            r"stride: every value must be at least 1, got 0",
        ),
        (
            pc.conv2d,
            (x, w),
            {"groups": 2, "stride": (1, 2, 3)},
            ValueError,
            r"stride: expected an int or a sequence of 2 ints",
        ),
        (pc.conv2d, (x, w), {"groups": 2, "stride": 1.5}, TypeError, r"stride: .*float: 1.5"),
        (
            pc.conv2d,
            (x, w),
            {"groups": 2, "dilation": (1, 0)},
            ValueError,
            r"dilation: every value must be at least 1, got \(1, 0\)",
        ),
        (
            pc.conv2d,
            (x, w),
            {"groups": 2, "padding": -1},
            ValueError,
            r"padding: padding must not be negative, got -1",
        ),
        (pc.conv2d, (x, w), {"groups": 2, "padding": 1.5}, ValueError, r"padding: .*got 1.5"),
        (
            pc.conv2d,
            (x, w),
            {"groups": 2, "padding": "full"},
            ValueError,
            r"padding: expected .*'same_lower', got 'full'",
        ),
        (pc.conv2d, (x, w), {"groups": 2, "layout": "NCWH"}, ValueError, r"layout: .*got 'NCWH'"),
        (
            pc.conv1d,
            (x[..., 0], w[..., 0]),
            {"groups": 2, "layout": "NHWC"},
            ValueError,
            r"layout: 'NHWC' is a layout for 2 spatial",
        ),
        (
            pc.conv2d,
            (x, w),
            {"groups": 2, "stride": 2, "strides": 2},
            ValueError,
            r"strides: give the argument once",
        ),
        (
            pc.convolve,
            (x[0, 0], w[0, 0], np.zeros(1, np.float32)),
            {},
            ValueError,
            r"bias: a 2-D input and 2-D kernel take no bias",
        ),
    ]


@pytest.mark.parametrize("case", range(len(_err_cases())))
def test_argument_errors(be, case):
    fn, args, kwargs, exc, match = _err_cases()[case]
    arrays = [be.asarray(a) for a in args]
    with pytest.raises(exc, match=match):
        fn(*arrays, **kwargs)
    # the errors are portconv's own, and subclass what users already catch
    with pytest.raises(pc.PortconvError):
        fn(*arrays, **kwargs)


def test_error_names_the_call_before_any_kernel_runs(be, monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("a kernel ran before the arguments were checked")

    monkeypatch.setattr(_windows, "gather", boom)
    from portconv.backends import NativePath

    if "conv" in be.adapter.native:
        monkeypatch.setitem(be.adapter.native, "conv", NativePath(lambda **k: True, boom))
    x = be.asarray(np.zeros((1, 3, 4, 4), np.float32))
    with pytest.raises(ValueError, match="groups"):
        pc.conv2d(x, be.asarray(np.zeros((2, 3, 2, 2), np.float32)), groups=2)


# -- inputs are left alone -----------------------------------------------------------------------


def test_inputs_not_mutated(be):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 4, 5, 6))
    w = rng.standard_normal((4, 2, 3, 2))
    b = rng.standard_normal(4)
    arrays = [be.asarray(a) for a in (x, w, b)]
    for path in ("generic", None):
        for padding in (1, "same", ((0, 2), (1, 0))):
            pc.conv2d(*arrays, 2, padding, 1, 2, path=path)
            pc.conv2d(*arrays[:2], None, 1, padding, (2, 1), 2, path=path)
            pc.convolve(*arrays, 1, padding, 1, 2, path=path)
    for a, original in zip(arrays, (x, w, b)):
        np.testing.assert_array_equal(be.to_numpy(a), original)


def test_read_only_numpy_inputs(be):
    if be.name != "numpy":
        pytest.skip("read-only arrays are a NumPy feature; runs in the numpy session")
    rng = np.random.default_rng(8)
    x = rng.standard_normal((1, 2, 5, 5))
    w = rng.standard_normal((3, 2, 2, 2))
    keep = x.copy(), w.copy()
    x.flags.writeable = w.flags.writeable = False
    ref = ref_conv(keep[0], keep[1], None, (1, 1), [(1, 0), (0, 1)], (1, 1), 1)
    be.check(pc.conv2d(x, w, padding=((1, 0), (0, 1))), ref, rtol=1e-12, atol=1e-12)
    be.check(
        pc.corr2d(x[0, 0], w[0, 0]),
        ref_conv(keep[0][:, :1], keep[1][:1, :1], None, (1, 1), [(0, 0)] * 2, (1, 1), 1)[0, 0],
        rtol=1e-12,
        atol=1e-12,
    )
    np.testing.assert_array_equal(x, keep[0])
    np.testing.assert_array_equal(w, keep[1])


def test_non_contiguous_views(be):
    rng = np.random.default_rng(9)
    big_x = rng.standard_normal((2, 3, 7, 12))
    big_w = rng.standard_normal((2, 3, 4, 3))
    xb, wb = be.asarray(big_x), be.asarray(big_w)
    xp, ad = be.xp, be.adapter
    # a strided view of the input, and a weight whose axes are permuted twice
    xv = xb[:, :, 1:, ::2]
    wt = xp.permute_dims(ad.to_standard(wb), (0, 1, 3, 2))[:, :, :, ::2]
    wv = ad.from_standard(xp.permute_dims(wt, (0, 1, 3, 2)), wb)
    ref = ref_conv(big_x[:, :, 1:, ::2], big_w[:, :, ::2, :], None, (1, 1), [(1, 1)] * 2, (1, 1), 1)
    for path in ("generic", None):
        be.check(pc.conv2d(xv, wv, padding=1, path=path), ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(be.to_numpy(xb), big_x)
    np.testing.assert_array_equal(be.to_numpy(wb), big_w)


# -- the memory budget ---------------------------------------------------------------------------


@pytest.fixture
def column_buffers(monkeypatch):
    """Records the byte size of every column buffer the generic path builds."""
    sizes = []

    def spy_on(name):
        gather = getattr(_windows, name)

        def spy(xp, x, *args, **kwargs):
            cols = gather(xp, x, *args, **kwargs)
            sizes.append(math.prod(cols.shape) * 8)  # float64 arrays below
            return cols

        monkeypatch.setattr(_windows, name, spy)

    spy_on("gather")  # strided windows
    spy_on("flat_gather")  # stride 1: flattened shifts
    return sizes


@pytest.mark.parametrize("budget", [10**9, 6000, 1500, 700])
@pytest.mark.parametrize("stride, dilation", [((1, 2), (1, 1)), ((2, 1), (2, 1)), ((1, 1), (1, 1))])
def test_generic_path_tiles_within_memory_budget(be, column_buffers, budget, stride, dilation):
    rng = np.random.default_rng(10)
    x = rng.standard_normal((3, 2, 9, 5))
    w = rng.standard_normal((3, 2, 3, 2))
    b = rng.standard_normal(3)
    pads = [(1, 1), (0, 1)]
    ref = ref_conv(x, w, b, stride, pads, dilation, 1)
    # N * C * prod(kernel) * positions * 8: the output positions, or for stride 1 the output
    # rows of the whole padded width (flattened shifts)
    positions = ref.shape[2] * (5 + 1) if stride == (1, 1) else math.prod(ref.shape[2:])
    naive = 3 * 2 * 6 * positions * 8
    with pc.config(memory_budget=budget):
        y = pc.conv2d(
            be.asarray(x), be.asarray(w), be.asarray(b), stride, pads, dilation, path="generic"
        )
    be.check(y, ref, rtol=1e-12, atol=1e-12)
    assert sum(column_buffers) == naive
    assert max(column_buffers) <= budget
    if budget < naive:
        assert len(column_buffers) > 1  # tiled by examples, or by output rows when smaller


def test_buffer_beyond_budget_is_refused_before_allocating(be, column_buffers):
    # one output row would need 16384 taps x ~1e6 positions x 4 bytes, 63 GiB; the whole
    # naive column buffer too: refused before any buffer (or padding) is built.
    x = be.asarray(np.zeros((1, 1, 2, 2**20), np.float32))
    w = be.asarray(np.zeros((1, 1, 2, 8192), np.float32))
    with pytest.raises(ValueError, match=r"input: .*column buffer of \d+ bytes .*memory budget"):
        pc.conv2d(x, w, path="generic")
    assert column_buffers == []


def test_plan_for_tens_of_gib_stays_within_budget():
    from portconv.ops.conv import _plan

    # a VGG-like layer on a big batch: the naive column buffer needs 27.6 GiB
    n, c, kernel, out, item = 128, 128, (3, 3), (224, 224), 4
    naive = n * c * math.prod(kernel) * math.prod(out) * item
    assert naive > 27 * 2**30
    budget = 256 * 2**20
    plan = _plan(n, c, kernel, out, item, budget, None)
    assert [t[0] for t in plan] == [(i, i + 1) for i in range(n)]  # whole examples fit alone
    # an example larger than the budget is split by output rows
    plan = _plan(2, 512, kernel, out, item, budget, None)
    per_row = 512 * 9 * 224 * item
    assert all((r1 - r0) * per_row <= budget for _, (r0, r1) in plan)
    assert sum(r1 - r0 for _, (r0, r1) in plan) == 2 * 224


def test_column_tiles_stay_in_cache_where_the_adapter_names_a_tile():
    import types

    from portconv.ops.conv import _plan

    numpy_ns = pc.get_adapter("numpy").namespace()
    cap = numpy_ns.portconv_matmul_tile
    budget = 32 * 2**20
    # LeNet's conv2 on a batch of 256: 60 kB of columns per example, 15 MB in all
    n, c, kernel, out, item = 256, 6, (5, 5), (10, 10), 4
    per_example = c * 25 * 100 * item
    tiled = _plan(n, c, kernel, out, item, budget, numpy_ns)
    assert len(tiled) > 1 and all(rows is None for _, rows in tiled)
    assert all((z - a) * per_example <= cap for (a, z), _ in tiled)
    assert [span for span, _ in tiled] == [
        (a, min(a + cap // per_example, n)) for a in range(0, n, cap // per_example)
    ]
    # a namespace that names no tile (lazy and GPU libraries): only the budget counts
    assert _plan(n, c, kernel, out, item, budget, types.SimpleNamespace()) == [((0, n), None)]
    # an example beyond the cache tile but within the budget stays whole, one per tile
    big = _plan(3, 128, (3, 3), (56, 56), item, budget, numpy_ns)
    assert big == [((i, i + 1), None) for i in range(3)]
    # and a smaller budget still wins over the tile
    small = _plan(n, c, kernel, out, item, cap // 4, numpy_ns)
    assert all((z - a) * per_example <= cap // 4 for (a, z), _ in small)


@pytest.mark.parametrize("layout", ["by example", "channels-major"])
@given(cfg=conv_configs(layouts=False), by_rows=st.booleans())
def test_im2col_column_layouts_match_the_reference(be, layout, cfg, by_rows):
    """Both layouts of im2col's column buffer (one product per example, or one channels-major
    product per group; forced here, :func:`_by_example` chooses by the weight's size), on
    random configurations, also when a memory budget of one output row's columns splits
    every example into rows, against the float64 reference; the rule never lays out by
    example with groups."""
    from unittest import mock

    from portconv.ops._call import conv_call

    conv_module = importlib.import_module("portconv.ops.conv")
    x, w, b, ref = make_case(cfg)
    c = conv_call(x.shape, w.shape, None, cfg["stride"], cfg["padding"], cfg["dilation"],
                  cfg["groups"])  # fmt: skip
    positions = math.prod(conv_module._grid(c, 1))  # of one output row
    budget = cfg["c_in"] * math.prod(cfg["kernel"]) * positions * x.itemsize if by_rows else None
    x, w, ref = to_layout(cfg, x, w, ref)

    def forced(call, columns, for_backward):
        return layout == "by example" and call.groups == 1

    settings = {} if budget is None else {"memory_budget": budget}
    with mock.patch.object(conv_module, "_by_example", forced), pc.config(**settings):
        y = call(be, cfg, x, w, b, path="generic")
    tol = tolerance(cfg["dtype"])
    be.check(y, ref, rtol=tol, atol=tol)


def test_im2col_lays_out_by_example_only_small_weights_and_never_for_a_backward():
    from portconv.ops._call import conv_call
    from portconv.ops.conv import _by_example, _grid

    def rule(x_shape, w_shape, stride=1, padding=0, groups=1, for_backward=False):
        c = conv_call(x_shape, w_shape, None, stride, padding, 1, groups)
        return _by_example(c, math.prod(_grid(c, c.out[0])), for_backward)

    assert rule((256, 1, 28, 28), (6, 1, 5, 5), padding=2)  # LeNet: 6 rows, 896 columns
    assert rule((256, 6, 14, 14), (16, 6, 5, 5))  # 16 rows, 140 columns
    # ResNet-18's 256 -> 512 stride 2: 512 rows, 49 columns per example
    assert not rule((32, 256, 14, 14), (512, 256, 3, 3), stride=2, padding=1)
    assert not rule((8, 4, 14, 14), (4, 2, 3, 3), groups=2)
    assert not rule((256, 1, 28, 28), (6, 1, 5, 5), padding=2, for_backward=True)


def test_a_recorded_convolution_keeps_its_result_channels_major(be):
    """Where portconv's autograd records a convolution for its backward, im2col multiplies
    channels-major (NumPy's ``concat`` keeps the tiles' permuted products channels-major in
    memory, so the backward's products read the gradient without a copy); a forward alone
    multiplies by example, its result in place."""
    if be.name != "numpy":
        pytest.skip("memory layout (strides) of NumPy's results; runs in the numpy session")
    x = np.random.default_rng(0).standard_normal((64, 6, 14, 14)).astype(np.float32)
    w = np.random.default_rng(1).standard_normal((16, 6, 5, 5)).astype(np.float32)
    wv = pc.autograd.Variable(w, requires_grad=True)
    recorded = pc.autograd.conv2d(x, wv, path="generic").data
    plain = pc.conv2d(x, w, path="generic")
    np.testing.assert_allclose(recorded, plain, rtol=1e-5, atol=1e-4)
    outermost = [int(np.argmax(a.strides)) for a in (recorded, plain)]
    assert outermost == [1, 0]  # in memory: channels, then examples; examples first


# -- exports -------------------------------------------------------------------------------------


def test_public_api_exported():
    import portconv.ops as ops

    for name in ("conv", "conv1d", "conv2d", "conv3d", "convolve", "corr2d", "conv_output_shape"):
        assert getattr(pc, name) is getattr(ops, name)
        assert name in pc.__all__ and name in ops.__all__
    assert pc.conv2d.__name__ == "conv2d" and "torch.nn.functional.conv2d" in pc.conv2d.__doc__


# -- the fast lane of repeated calls ----------------------------------------------------------


def test_a_repeated_call_skips_its_checks_and_gives_the_same_result(be, monkeypatch):
    conv_module = importlib.import_module("portconv.ops.conv")
    rng = np.random.default_rng(7)
    x = be.asarray(rng.standard_normal((2, 3, 7, 6)))
    w = be.asarray(rng.standard_normal((4, 3, 3, 2)))
    b = be.asarray(rng.standard_normal(4))
    first = be.to_numpy(pc.conv2d(x, w, b, 2, 1))

    def checked_again(*args, **kwargs):
        raise AssertionError("checked again")

    monkeypatch.setattr(conv_module, "_check", checked_again)
    be.check(pc.conv2d(x, w, b, 2, 1), first, rtol=1e-12, atol=1e-12, dtype="float64")
    other = be.asarray(rng.standard_normal((2, 3, 7, 6)))  # new values, same kind: the lane
    be.check(
        pc.conv2d(other, w, b, 2, 1),
        ref_conv(
            be.to_numpy(other), be.to_numpy(w), be.to_numpy(b), (2, 2), [(1, 1), (1, 1)], (1, 1), 1
        ),
        rtol=1e-10,
        atol=1e-10,
    )
    different = [
        lambda: pc.conv2d(x, w, None, 2, 1),  # no bias
        lambda: pc.conv2d(x, w, b, 1, 1),  # another stride
        lambda: pc.conv2d(x[:1, ...], w, b, 2, 1),  # another shape
        lambda: pc.conv2d(x, w, b, (2, 2), 1),  # an equal stride of another type
    ]
    for call in different:
        with pytest.raises(AssertionError, match="checked again"):
            call()
    with pc.config(memory_budget=2**20), pytest.raises(AssertionError, match="checked again"):
        pc.conv2d(x, w, b, 2, 1)
    # the path is chosen on every call, from the same checked call description
    be.check(pc.conv2d(x, w, b, 2, 1, path="generic"), first, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("bad", [True, 1.0, np.float64(1.0), (True, 1), [1.0, 1]])
def test_a_cached_call_does_not_admit_equal_arguments_of_another_type(be, bad):
    """``True == 1 == 1.0``: a call cached with ``stride=1`` must not let ``stride=True`` or
    ``stride=1.0`` through; each is checked, and refused, like a new call."""
    x = be.asarray(np.zeros((1, 2, 5, 5)))
    w = be.asarray(np.zeros((3, 2, 3, 3)))
    for _ in range(2):
        pc.conv2d(x, w, stride=1)
        pc.max_pool2d(x, 2, stride=1)
        with pytest.raises((TypeError, ValueError), match="stride"):
            pc.conv2d(x, w, stride=bad)
        with pytest.raises((TypeError, ValueError), match="stride"):
            pc.max_pool2d(x, 2, stride=bad)


def test_a_repeated_bad_call_is_refused_every_time(be):
    x = be.asarray(np.zeros((1, 3, 5, 5)))
    w = be.asarray(np.zeros((2, 4, 3, 3)))  # 4 input channels for a 3-channel input
    for _ in range(3):
        with pytest.raises(ValueError, match="input channels"):
            pc.conv2d(x, w)


def test_the_accuracy_table_names_each_algorithm_and_meets_the_goal():
    """benchmarks/accuracy.py, which the README's accuracy table comes from: each workload
    runs the algorithm the table names, and every float32 error is within the 1e-4 goal."""
    import importlib.util
    import pathlib

    pytest.importorskip("torch", reason="the accuracy table's float64 reference is PyTorch's")
    path = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "accuracy.py"
    spec = importlib.util.spec_from_file_location("portconv_accuracy", path)
    accuracy = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(accuracy)
    rows = accuracy.measure(dtypes=("float32",), batch=1)
    ran = {(r["workload"], r["part"]): r["algorithm"] for r in rows}
    assert ran[("W3", "forward")] == "im2col"
    assert ran[("W4", "forward")] == ran[("W4", "input gradient")] == "Winograd F(4x4,3x3)"
    assert ran[("W4", "weight gradient")] == "Winograd F(4x4,3x3)"
    assert ran[("W5", "forward")] == "im2col"  # stride 2
    assert ran[("W7", "forward")] == "1x1 matmul"
    assert ran[("E2 512ch 3x3", "forward")] == "Winograd F(3x3,3x3)"
    assert ran[("1-D 256ch 256", "weight gradient")] == "Winograd F(4,3)"
    assert ran[("3-D 64ch 16^3", "input gradient")] == "Winograd F(3x3x3,3x3x3)"
    worst = max(rows, key=lambda r: r["error"])
    assert worst["error"] < 1e-4, worst


def _transposed_reference(g, w, padding, groups=1):
    """float64 transposed convolution (stride 1) in any dimensions: every kernel offset's
    product with the input added where the convolution took it from, then the padding
    cropped."""
    n, c_in = g.shape[:2]
    size, kernel = g.shape[2:], w.shape[2:]
    c_in_g, c_out_g = c_in // groups, w.shape[1]
    full = np.zeros((n, c_out_g * groups) + tuple(s + k - 1 for s, k in zip(size, kernel)))
    for k in range(groups):
        gk = g[:, k * c_in_g : (k + 1) * c_in_g]
        wk = w[k * c_in_g : (k + 1) * c_in_g]
        for tap in itertools.product(*(range(t) for t in kernel)):
            part = np.moveaxis(np.tensordot(gk, wk[(...,) + tap], axes=([1], [0])), -1, 1)
            spots = tuple(slice(t, t + s) for t, s in zip(tap, size))
            full[(slice(None), slice(k * c_out_g, (k + 1) * c_out_g)) + spots] += part
    crop = tuple(slice(b, full.shape[2 + i] - e) for i, (b, e) in enumerate(padding))
    return full[(slice(None), slice(None)) + crop]


@st.composite
def winograd_shapes(draw):
    """A 1-, 2- or 3-D input size and (before, after) padding pairs that leave room for a
    3-tap kernel along every axis (3-D sizes kept small: the references loop)."""
    d = draw(st.integers(1, 3))
    top = 10 if d < 3 else 6
    size = tuple(draw(st.integers(1, top)) for _ in range(d))
    pads = tuple((draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in range(d))
    hypothesis_assume(all(s + b + e >= 3 for s, (b, e) in zip(size, pads)))
    return size, pads


@given(
    m=st.sampled_from([3, 4]),
    n=st.integers(1, 2),
    groups=st.integers(1, 2),
    c_in=st.integers(1, 3),
    c_out=st.integers(1, 3),
    shape=winograd_shapes(),
    block=st.integers(1, 3),
)
def test_winograd_kernels_match_the_reference_on_any_shape(
    be, m, n, groups, c_in, c_out, shape, block
):
    """Winograd's F(3) and F(4) kernels in 1, 2 and 3 dimensions (forced here: the choice
    rule sends so few channels to im2col) on random shapes, paddings and groups, the weight
    transformed in blocks of ``block`` output channels per group (forced too: the rule blocks
    only large weights), against the float64 references: the convolution, its weight
    gradient, and the stride-1 3-tap transposed convolution (its input gradient), which runs
    as Winograd's convolution with the flipped kernel."""
    from unittest import mock

    from portconv.ops import winograd

    size, padding = shape
    d = len(size)
    rng = np.random.default_rng(abs(hash((m, n, groups, c_in, c_out, shape))) % 2**32)
    x = rng.standard_normal((n, c_in * groups) + size)
    w = rng.standard_normal((c_out * groups, c_in) + (3,) * d)
    ref = ref_conv(x, w, None, (1,) * d, padding, (1,) * d, groups)
    g = rng.standard_normal(ref.shape)
    ref_t = _transposed_reference(g, w, padding, groups)

    def forced(xp, call):
        return m if winograd.applies(call) else None

    def blocks(xp, call, m):
        return min(block, call.c_out // call.groups)

    # the weight gradient of sum(g * conv(x, w)): every output's gradient times its window
    spatial = tuple(range(2, d + 2))
    windows = np.lib.stride_tricks.sliding_window_view(
        np.pad(x, ((0, 0), (0, 0)) + padding), (3,) * d, axis=spatial
    )  # (N, C, *out, *kernel)
    ci, co = c_in, c_out
    ref_w = np.concatenate(
        [
            np.tensordot(
                g[:, k * co : (k + 1) * co],
                windows[:, k * ci : (k + 1) * ci],
                axes=([0, *spatial], [0, *spatial]),
            )
            for k in range(groups)
        ]
    )  # (C_out/g, C_in/g, *kernel) per group
    with (
        mock.patch.object(winograd, "choose", forced),
        mock.patch.object(winograd, "weight_blocks", blocks),
    ):
        y = pc.conv(be.asarray(x), be.asarray(w), None, 1, padding, groups=groups, path="generic")
        y_t = pc.conv_transpose(
            be.asarray(g), be.asarray(w), None, 1, padding, groups=groups, path="generic"
        )
        wv = pc.autograd.Variable(be.asarray(w), requires_grad=True)
        op = getattr(pc.autograd, f"conv{d}d")
        out = op(be.asarray(x), wv, None, 1, padding, 1, groups, path="generic")
        out.backward(be.asarray(g))
    be.check(y, ref, rtol=1e-9, atol=1e-9)
    be.check(y_t, ref_t, rtol=1e-9, atol=1e-9)
    be.check(wv.grad, ref_w, rtol=1e-9, atol=1e-9)


def test_winograd_as_convolution_takes_only_what_it_computes():
    """The transposed convolutions that run as Winograd convolutions: stride 1, 3 x 3, no
    dilation or output padding, crops of at most 2 (the flipped convolution's padding is
    2 minus the crop); anything else keeps col2im."""
    from portconv.ops import winograd
    from portconv.ops._call import conv_transpose_call

    def transposed(kernel=(3, 3), **kw):
        args = dict(stride=1, padding=1, output_padding=0, groups=1, dilation=1)
        args.update(kw)
        return conv_transpose_call((2, 4, 6, 6), (4, 4) + kernel, **args)

    conv = winograd.as_convolution(transposed(padding=((0, 2), (1, 2))))
    assert conv.op == "conv" and conv.padding == ((2, 0), (1, 0)) and conv.out == (6, 5)
    for kw in (
        dict(stride=2),
        dict(dilation=2),
        dict(padding=3),
        dict(stride=2, output_padding=1),
    ):
        assert winograd.as_convolution(transposed(**kw)) is None, kw
    assert winograd.as_convolution(transposed(kernel=(5, 5))) is None


def test_winograd_blocks_large_weights_alike():
    """The transformed weight is computed in blocks of output channels where it exceeds half
    of NumPy's cache-sized tile: the fewest blocks within that, sized alike (ResNet-18's
    512-channel layer on 3 x 3 maps: 12 of 40 and one of 32, not 12 of 42 and one of 8; its
    128-channel layer on 12 x 12 maps: two of 64); small weights whole, and whole on a
    namespace with no cache-sized tile (array-api-compat's NumPy, without the adapter's)."""
    import array_api_compat.numpy as plain

    from portconv.ops import winograd

    def call(c, size, groups=1):
        x = np.zeros((32, c, size, size), np.float32)
        w = np.zeros((c, c // groups, 3, 3), np.float32)
        return conv_bind(x, w, None, 1, 1, 1, groups, "channels_first", 2, False).call

    xp = pc.backend_of(np.zeros(1)).adapter.namespace()
    assert xp.portconv_matmul_tile == 4 << 20
    assert winograd.weight_blocks(xp, call(512, 3), 3) == 40  # 25 * 512 * 4 bytes each
    assert winograd.weight_blocks(xp, call(128, 12), 4) == 64
    assert winograd.weight_blocks(xp, call(64, 24), 4) == 64
    assert winograd.weight_blocks(xp, call(128, 12, groups=4), 4) == 32
    with pc.config(memory_budget=1 << 30):
        assert winograd.weight_blocks(plain, call(512, 3), 3) == 512


def test_winograd_leaves_half_precision_to_im2col():
    """F(4x4)'s lost digits are too many for float16 (1.6e-2 of the result on 64 channels,
    against im2col's 5e-4): the rule takes Winograd for single and double precision only."""
    from portconv.ops import winograd

    for dtype, tile in (("float16", None), ("float32", 4), ("float64", 4)):
        x = np.zeros((1, 64, 24, 24), dtype=dtype)
        w = np.zeros((64, 64, 3, 3), dtype=dtype)
        call = conv_bind(x, w, None, 1, 1, 1, 1, "channels_first", 2, False).call
        assert winograd.choose(np, call) == tile, dtype


def test_winograd_tile_size_takes_the_fewest_multiplications():
    """F(3x3) where F(4x4)'s last tiles would be mostly past the edge, F(4x4) elsewhere."""
    from portconv.ops import winograd

    assert winograd.tile_size((3, 3)) == 3  # 25 products against 36
    assert winograd.tile_size((6, 6)) == 3  # 100 against 144
    assert winograd.tile_size((56, 56)) == 4
    assert winograd.tile_size((7, 7)) == 4  # 144 against 225
    assert winograd.tile_size((12, 12)) == 4
    assert winograd.tile_size((6,)) == 3  # 1-D: 10 against 12
    assert winograd.tile_size((64,)) == 4
    assert winograd.tile_size((16, 16, 16)) == 3  # 3-D: F(3) only (F(4)'s error, 1.3e-4)


def test_winograd_thresholds_by_dimension():
    """Winograd from 256 channels in 1-D (64 on lengths of 64 and more), 64 in 2-D (32 on
    maps of 28 and more), 16 in 3-D (8 on volumes of 16 and more): the measured crossovers."""
    from portconv.ops import winograd

    def chosen(c, size):
        x = np.zeros((2, c) + size, np.float32)
        w = np.zeros((c, c) + (3,) * len(size), np.float32)
        call = conv_bind(x, w, None, 1, 1, 1, 1, "channels_first", len(size), False).call
        return winograd.choose(np, call)

    assert chosen(64, (64,)) == 4 and chosen(63, (64,)) is None
    assert chosen(64, (32,)) is None and chosen(256, (32,)) == 4
    assert chosen(64, (14, 14)) == 4 and chosen(32, (14, 14)) is None
    assert chosen(32, (28, 28)) == 4
    assert chosen(16, (8, 8, 8)) == 3 and chosen(8, (8, 8, 8)) is None
    assert chosen(8, (16, 16, 16)) == 3


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    "size, channels, padding, tile",
    [
        ((9, 11), 64, ((1, 0), (1, 1)), 4),  # F(4x4, 3x3), an odd edge
        ((6, 6), 64, ((1, 1), (1, 1)), 3),  # F(3x3, 3x3): ResNet-18's 6 x 6 and 3 x 3 maps
        ((3, 3), 64, ((1, 1), (1, 1)), 3),
        ((28, 30), 32, ((1, 1), (0, 2)), 4),  # wide maps: from 32 channels
        ((70,), 64, ((1, 1),), 4),  # 1-D F(4, 3)
        ((9, 8, 7), 32, ((1, 1), (0, 1), (1, 0)), 3),  # 3-D F(3x3x3, 3x3x3)
    ],
)
def test_winograd_convolutions_meet_the_accuracy_goal(be, dtype, size, channels, padding, tile):
    """Stride-1 convolutions with kernels of 3 and many channels (1-D, 3 x 3, 3 x 3 x 3), and
    the transposed convolutions that are their input gradients, run Winograd's F(4) or F(3) on
    the generic path; against a float64 reference their error stays below 1e-4 of the
    result's largest value in float32 (the accuracy goal) and at rounding level in float64."""
    from portconv.ops import winograd

    rng = np.random.default_rng(11)
    c, d = channels, len(size)
    x = rng.standard_normal((2, c) + size)
    w = rng.standard_normal((c, c) + (3,) * d) / np.sqrt(3**d * c)
    b = rng.standard_normal(c)
    call = conv_bind(x, w, None, 1, padding, 1, 1, "channels_first", d, False).call
    assert winograd.choose(np, call) == tile
    assert winograd.choose(np, winograd.as_convolution(call.adjoint())) is not None
    # float64 reference: every window by sliding_window_view, one tensordot (the loop
    # reference of this file would take minutes at 64 channels)
    spatial = tuple(range(2, d + 2))
    xpad = np.pad(x, ((0, 0), (0, 0)) + padding)
    windows = np.lib.stride_tricks.sliding_window_view(xpad, (3,) * d, axis=spatial)
    taps = tuple(range(d + 2, 2 * d + 2))
    ref = np.tensordot(windows, w, axes=((1,) + taps, (1,) + spatial))
    ref = np.moveaxis(ref, -1, 1) + b.reshape((c,) + (1,) * d)
    y = pc.conv(
        be.asarray(x.astype(dtype)),
        be.asarray(w.astype(dtype)),
        be.asarray(b.astype(dtype)),
        padding=padding,
        path="generic",
    )
    tol = 1e-4 if dtype == "float32" else 1e-12
    be.check(y, ref, rtol=0, atol=tol * np.abs(ref).max(), dtype=dtype)
    g = rng.standard_normal(ref.shape)
    ref_t = _transposed_reference(g, w, padding)
    y_t = pc.conv_transpose(
        be.asarray(g.astype(dtype)), be.asarray(w.astype(dtype)), padding=padding, path="generic"
    )
    be.check(y_t, ref_t, rtol=0, atol=tol * np.abs(ref_t).max(), dtype=dtype)
