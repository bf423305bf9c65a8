"""Pooling: every op against plain-loop float64 NumPy references written here, on random
configurations (hypothesis), the native paths against the generic one, and both against
``torch.nn.functional`` and ``mx.npx.pooling`` themselves in the sessions that have them."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import portconv as pc

# -- the reference: plain loops, float64, written independently of portconv ---------------------


def ref_out_size(n, k, s, dil, before, after, mode):
    """Window positions along one axis: "floor" (valid), "ceil" (PyTorch) or "full" (MXNet)."""
    length = n + before + after
    extent = dil * (k - 1) + 1
    if length < extent:
        return 0
    if mode == "floor":
        return int(math.floor((length - extent) / s)) + 1
    o = int(math.ceil((length - extent) / s)) + 1
    if mode == "ceil":
        # PyTorch keeps a window only if it starts inside the input or the left padding
        while o > 0 and (o - 1) * s - before >= n:
            o -= 1
    return o


def ref_same_pads(n, k, s, dil):
    out = -(-n // s)
    total = max((out - 1) * s + dil * (k - 1) + 1 - n, 0)
    return (total // 2, total - total // 2)


def ref_pool(x, kind, kernel, stride, pads, dilation, mode, count="padded"):
    """Pooling of a (N, C, *spatial) float64 array by visiting every window element."""
    d = len(kernel)
    size = x.shape[2:]
    out = [
        ref_out_size(size[a], kernel[a], stride[a], dilation[a], pads[a][0], pads[a][1], mode)
        for a in range(d)
    ]
    y = np.zeros(x.shape[:2] + tuple(out))
    for o in itertools.product(*(range(v) for v in out)):
        values, counted = [], 0
        for j in itertools.product(*(range(k) for k in kernel)):
            pos = [o[a] * stride[a] - pads[a][0] + j[a] * dilation[a] for a in range(d)]
            in_input = all(0 <= pos[a] < size[a] for a in range(d))
            in_padded = all(-pads[a][0] <= pos[a] < size[a] + pads[a][1] for a in range(d))
            if in_input:
                values.append(x[(slice(None), slice(None)) + tuple(pos)])
            if (count == "padded" and in_padded) or (count == "input" and in_input):
                counted += 1
        if kind == "max":
            if values:
                y[(...,) + o] = np.max(np.stack(values), axis=0)  # NaN wins, as np.max does
            else:
                y[(...,) + o] = -np.inf
        else:
            total = np.sum(np.stack(values), axis=0) if values else 0.0
            y[(...,) + o] = total / counted if counted else 0.0
    return y


def ref_adaptive(x, kind, out):
    d = len(out)
    size = x.shape[2:]
    y = np.zeros(x.shape[:2] + tuple(out))
    for o in itertools.product(*(range(v) for v in out)):
        box = tuple(
            slice(math.floor(o[a] * size[a] / out[a]), math.ceil((o[a] + 1) * size[a] / out[a]))
            for a in range(d)
        )
        win = x[(slice(None), slice(None)) + box].reshape(x.shape[0], x.shape[1], -1)
        y[(...,) + o] = win.max(axis=-1) if kind == "max" else win.mean(axis=-1)
    return y


# -- helpers ------------------------------------------------------------------------------------

TOL = {"float16": 2e-2, "bfloat16": 5e-2, "float32": 1e-5, "float64": 1e-12}


def dtypes_of(be):
    """The floating dtypes the backend under test has."""
    if be.name == "array_api_strict":
        return ["float32", "float64"]
    return ["float16", "float32", "float64"]


def has_native(be, op):
    return op in be.adapter.native


def to_layout(a, last, batched):
    """A (N, C, *spatial) NumPy array in the layout and batching of a call."""
    if last:
        a = np.moveaxis(a, 1, -1)
    return a if batched else a[0]


@st.composite
def pool_configs(draw, kind, max_dims=3):
    """A random pooling call: dims, window, stride, dilation, padding form, rounding, counts,
    layout, batching, shapes; small enough to run in milliseconds."""
    d = draw(st.integers(1, max_dims))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(d))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(d))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(d)) if kind == "max" else (1,) * d
    spans = [dl * (k - 1) + 1 for k, dl in zip(kernel, dilation)]
    size = tuple(draw(st.integers(1, 6 if d < 3 else 4)) for _ in range(d))
    form = draw(st.sampled_from(["int", "axes", "pairs", "valid", "same"]))
    if form == "int":
        p = draw(st.integers(0, min(spans) - 1))
        padding, pads = p, [(p, p)] * d
    elif form == "axes":
        padding = tuple(draw(st.integers(0, sp - 1)) for sp in spans)
        pads = [(p, p) for p in padding]
    elif form == "pairs":
        padding = tuple(
            (draw(st.integers(0, sp - 1)), draw(st.integers(0, sp - 1))) for sp in spans
        )
        pads = list(padding)
    elif form == "valid":
        padding, pads = "valid", [(0, 0)] * d
    else:
        padding = "same"
        pads = [ref_same_pads(n, k, s, dl) for n, k, s, dl in zip(size, kernel, stride, dilation)]
    mode = draw(st.sampled_from(["floor", "ceil", "full"]))
    out = [
        ref_out_size(n, k, s, dl, b, a, mode)
        for n, k, s, dl, (b, a) in zip(size, kernel, stride, dilation, pads)
    ]
    assume(min(out) >= 1)
    count_include_pad = draw(st.booleans())
    count = "padded" if count_include_pad and form != "same" else "input"
    return dict(
        d=d,
        kernel=kernel,
        stride=stride,
        dilation=dilation,
        size=size,
        padding=padding,
        pads=pads,
        mode=mode,
        count_include_pad=count_include_pad,
        count=count,
        n=draw(st.integers(1, 2)),
        c=draw(st.integers(1, 2)),
        last=draw(st.booleans()),
        batched=draw(st.booleans()),
        pass_stride=draw(st.booleans()) or stride != kernel,
    )


def call(kind, cfg, x, **extra):
    """portconv's <kind>_pool<d>d for a drawn configuration."""
    d = cfg["d"]
    kwargs = dict(
        padding=cfg["padding"],
        ceil_mode=cfg["mode"] == "ceil",
        pooling_convention="full" if cfg["mode"] == "full" else "valid",
        layout="channels_last" if cfg["last"] else "channels_first",
    )
    if cfg["pass_stride"]:
        kwargs["stride"] = cfg["stride"]
    if kind == "max":
        kwargs["dilation"] = cfg["dilation"]
    else:
        kwargs["count_include_pad"] = cfg["count_include_pad"]
    kwargs.update(extra)
    return getattr(pc, f"{kind}_pool{d}d")(x, cfg["kernel"], **kwargs)


def expected(kind, cfg, x64):
    stride = cfg["stride"] if cfg["pass_stride"] else cfg["kernel"]
    y = ref_pool(
        x64, kind, cfg["kernel"], stride, cfg["pads"], cfg["dilation"], cfg["mode"], cfg["count"]
    )
    return to_layout(y, cfg["last"], cfg["batched"])


def random_input(cfg, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((cfg["n"], cfg["c"]) + cfg["size"]).astype(dtype)
    return x, to_layout(x, cfg["last"], cfg["batched"])


# -- max and average pooling against the loops ---------------------------------------------------


@pytest.mark.parametrize("kind", ["max", "avg"])
@given(data=st.data())
def test_pool_matches_loops(be, kind, data):
    cfg = data.draw(pool_configs(kind))
    dtype = data.draw(st.sampled_from(dtypes_of(be)))
    x64, xin = random_input(cfg, dtype)
    ref = expected(kind, cfg, x64.astype(np.float64))
    tol = TOL[dtype]
    paths = ["auto", "generic"] if has_native(be, f"{kind}_pool") else ["auto"]
    for path in paths:
        y = call(kind, cfg, be.asarray(np.ascontiguousarray(xin)), path=path)
        be.check(y, ref, rtol=tol, atol=tol, dtype=dtype)


@pytest.mark.parametrize("kind", ["max", "avg"])
@given(data=st.data())
def test_native_matches_generic(be, kind, data):
    op = f"{kind}_pool"
    if not has_native(be, op):
        pytest.skip(f"the {be.name} backend has no native {op}; the generic path is its only one")
    cfg = data.draw(pool_configs(kind))
    x64, xin = random_input(cfg, "float64", seed=1)
    x = be.asarray(np.ascontiguousarray(xin))
    try:
        native = call(kind, cfg, x, path="native")
    except pc.ArgumentError as exc:  # the native kernel cannot compute this: generic only
        assert f"path: 'native' was asked for, but the {be.adapter.name} backend" in str(exc)
        return
    generic = call(kind, cfg, x, path="generic")
    be.check(native, be.to_numpy(generic), rtol=1e-12, atol=1e-12, dtype="float64")


def test_bfloat16_on_torch(be):
    if be.name != "torch":
        pytest.skip("bfloat16 arrays are PyTorch's; runs in the torch session")
    import torch

    x64 = np.random.default_rng(2).standard_normal((1, 2, 5, 6))
    x = torch.as_tensor(x64).to(torch.bfloat16)
    xr = x.to(torch.float64).numpy()
    for path in ("native", "generic"):
        y = pc.max_pool2d(x, 3, 2, 1, path=path)
        assert y.dtype == torch.bfloat16  # NumPy has no bfloat16: compare in float32
        be.check(y.float(), ref_pool(xr, "max", (3, 3), (2, 2), [(1, 1)] * 2, (1, 1), "floor"))
    y = pc.avg_pool3d(x[None], 2, path="auto")  # torch has no CPU kernel for bf16 3-D
    assert y.dtype == torch.bfloat16
    ref = ref_pool(xr[None], "avg", (2, 2, 2), (2, 2, 2), [(0, 0)] * 3, (1,) * 3, "floor")
    be.check(y.float(), ref, rtol=2e-2, atol=2e-2)


# -- the book's examples (seeds 000, 001, 002) ---------------------------------------------------

X16 = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)


def test_book_pool2d(be):
    X = be.asarray(np.array([[0.0, 1, 2], [3, 4, 5], [6, 7, 8]], dtype=np.float32))
    be.check(pc.pool2d(X, (2, 2)), [[4, 5], [7, 8]], dtype="float32")
    be.check(pc.pool2d(X, (2, 2), "avg"), [[2, 3], [5, 6]], dtype="float32")
    # 002 In[130]: average pooling through the book's function on a 4x4 input
    Y = pc.pool2d(be.asarray(np.arange(16, dtype=np.float32).reshape(4, 4)), (2, 2), "avg")
    be.check(Y, [[2.5, 3.5, 4.5], [6.5, 7.5, 8.5], [10.5, 11.5, 12.5]], dtype="float32")


def test_book_pool2d_needs_pool_size(be):
    # 001 In[9] calls pool2d(X) without a pool size (an erratum); it is not guessed
    with pytest.raises(TypeError, match="pool_size"):
        pc.pool2d(be.asarray(X16))


def test_book_pool2d_pools_leading_axes_separately(be):
    X = np.concatenate([X16, X16 + 1], axis=1)
    ref = ref_pool(X.astype(np.float64), "max", (2, 2), (1, 1), [(0, 0)] * 2, (1, 1), "floor")
    be.check(pc.pool2d(be.asarray(X), (2, 2)), ref, dtype="float32")


def test_book_max_pool2d(be):
    X = be.asarray(X16)
    be.check(pc.max_pool2d(X, 3), [[[[10]]]], dtype="float32")  # 000 Out[40], 002 Out[31]
    be.check(pc.max_pool2d(X, 3, padding=1, stride=2), [[[[5, 7], [13, 15]]]])  # Out[41]/[32]
    be.check(  # 002 Out[33]
        pc.max_pool2d(X, 3, padding=1, stride=1),
        [[[[5, 6, 7, 7], [9, 10, 11, 11], [13, 14, 15, 15], [13, 14, 15, 15]]]],
    )
    be.check(  # 002 Out[34]
        pc.max_pool2d(X, (2, 3), stride=(2, 3), padding=(0, 1)), [[[[5, 7], [13, 15]]]]
    )
    # 000 Out[42] (MXNet's Gluon): padding beyond half the window, which PyTorch refuses
    y = pc.max_pool2d(X, pool_size=(2, 3), padding=(1, 2), strides=(2, 3))
    be.check(y, [[[[0, 3], [8, 11], [12, 15]]]], dtype="float32")


def test_book_multiple_channels(be):
    X = be.asarray(np.concatenate([X16, X16 + 1], axis=1))  # 000 In[44], 002 In[35]
    y = pc.max_pool2d(X, 3, padding=1, stride=2)
    be.check(y, [[[[5, 7], [13, 15]], [[6, 8], [14, 16]]]], dtype="float32")


def test_book_output_shape():
    # the book's floor((n - k + p + s) / s)
    assert pc.pool_output_shape((4, 4), 3) == (1, 1)
    assert pc.pool_output_shape((4, 4), 3, stride=2, padding=1) == (2, 2)
    assert pc.pool_output_shape((4, 4), (2, 3), stride=(2, 3), padding=(1, 2)) == (3, 2)
    assert pc.pool_output_shape((28, 28), 2) == (14, 14)  # LeNet, 002
    assert pc.pool_output_shape(5, 2, 2, 1, ceil_mode=True) == (3,)
    assert pc.pool_output_shape(5, 2, 2, 1, pooling_convention="full") == (4,)
    assert pc.pool_output_shape((5, 7), 3, 2, "same") == (3, 4)
    assert pc.pool_output_shape(6, 2, 1, 0, dilation=3) == (3,)


def test_pytorch_refused_padding_native_path(be):
    if not has_native(be, "max_pool"):
        pytest.skip(f"the {be.name} backend has no native max_pool")
    X = be.asarray(X16)
    kwargs = dict(pool_size=(2, 3), padding=(1, 2), strides=(2, 3))
    if be.name == "torch":  # more than half the kernel: torch's kernel refuses, generic runs
        with pytest.raises(pc.ArgumentError, match="more than half the kernel"):
            pc.max_pool2d(X, **kwargs, path="native")
    else:  # MXNet pads up to kernel - 1 itself
        be.check(pc.max_pool2d(X, **kwargs, path="native"), [[[[0, 3], [8, 11], [12, 15]]]])


# -- where PyTorch's ceil_mode and MXNet's "full" differ ------------------------------------------

X5 = np.arange(5, dtype=np.float32).reshape(1, 1, 5)


def test_ceil_mode_and_full_differ(be):
    x = be.asarray(X5)
    # n=5, k=2, s=2, p=1: windows start at -1, 1, 3, 5; PyTorch drops the one at 5 (right
    # padding), MXNet keeps it
    be.check(pc.max_pool1d(x, 2, 2, 1, ceil_mode=True), [[[0, 2, 4]]])
    be.check(pc.max_pool1d(x, 2, 2, 1, pooling_convention="full"), [[[0, 2, 4, -np.inf]]])
    be.check(pc.avg_pool1d(x, 2, 2, 1, ceil_mode=True), [[[0, 1.5, 3.5]]])
    be.check(pc.avg_pool1d(x, 2, 2, 1, pooling_convention="full"), [[[0, 1.5, 3.5, 0]]])
    # k=3, s=2, p=1: the last window reaches past the padded input, which is not counted
    be.check(pc.avg_pool1d(x, 3, 2, 1, ceil_mode=True), [[[1 / 3, 2, 7 / 3]]])
    be.check(pc.avg_pool1d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False), [[[0.5, 2, 3.5]]])


def test_ceil_vs_full_against_frameworks(be):
    x64 = np.random.default_rng(3).standard_normal((2, 3, 5, 7))
    x = be.asarray(x64.astype(np.float32))
    cases = [((2, 2), (2, 2), (1, 1)), ((3, 2), (2, 3), (1, 1)), ((3, 3), (3, 2), (1, 0))]
    if be.name == "torch":
        import torch
        import torch.nn.functional as F

        xt = torch.as_tensor(x64.astype(np.float32))
        for k, s, p in cases:
            for cip in (True, False):
                ref = F.avg_pool2d(xt, k, s, p, ceil_mode=True, count_include_pad=cip)
                got = pc.avg_pool2d(x, k, s, p, ceil_mode=True, count_include_pad=cip)
                be.check(got, ref.numpy(), rtol=1e-5, atol=1e-6)
                got = pc.avg_pool2d(
                    x, k, s, p, ceil_mode=True, count_include_pad=cip, path="generic"
                )
                be.check(got, ref.numpy(), rtol=1e-5, atol=1e-6)
            ref = F.max_pool2d(xt, k, s, p, ceil_mode=True)
            be.check(pc.max_pool2d(x, k, s, p, ceil_mode=True, path="generic"), ref.numpy())
    elif be.name in ("mxnet", "mxnet.nd"):
        import mxnet as mx

        xm = mx.np.array(x64.astype(np.float32))
        for k, s, p in cases:
            for cip in (True, False):
                ref = mx.npx.pooling(
                    xm,
                    kernel=k,
                    stride=s,
                    pad=p,
                    pool_type="avg",
                    pooling_convention="full",
                    count_include_pad=cip,
                ).asnumpy()
                for path in ("auto", "generic"):
                    got = pc.avg_pool2d(
                        x, k, s, p, pooling_convention="full", count_include_pad=cip, path=path
                    )
                    be.check(got, ref, rtol=1e-5, atol=1e-6)
            ref = mx.npx.pooling(
                xm, kernel=k, stride=s, pad=p, pool_type="max", pooling_convention="full"
            ).asnumpy()
            ref = np.where(ref == np.finfo(np.float32).min, -np.inf, ref)  # see test below
            got = pc.max_pool2d(x, k, s, p, pooling_convention="full", path="generic")
            be.check(got, ref)
    else:
        pytest.skip("compares with torch.nn.functional and mx.npx.pooling; runs in their sessions")


def test_full_window_without_input_is_minus_inf(be):
    # a "full" window that holds no input element: -inf (MXNet's own kernel gives the
    # dtype's lowest finite value, -3.4e38 for float32; portconv gives -inf on every backend)
    x = be.asarray(np.arange(4, dtype=np.float32).reshape(1, 1, 4))
    for path in ("auto", "generic"):
        y = pc.max_pool1d(x, 2, 3, 1, pooling_convention="full", path=path)
        be.check(y, [[[0, 3, -np.inf]]])
        y = pc.avg_pool1d(x, 2, 3, 1, pooling_convention="full", path=path)
        be.check(y, [[[0, 2.5, 0]]])  # nothing counted: 0, as MXNet gives


# -- against the frameworks' own kernels on random configurations --------------------------------


@given(data=st.data())
def test_against_torch_functional(be, data):
    if be.name != "torch":
        pytest.skip("compares with torch.nn.functional; runs in the torch session")
    import torch
    import torch.nn.functional as F

    d = data.draw(st.integers(1, 3))
    kernel = tuple(data.draw(st.integers(1, 3)) for _ in range(d))
    stride = tuple(data.draw(st.integers(1, 3)) for _ in range(d))
    dilation = tuple(data.draw(st.integers(1, 2)) for _ in range(d))
    pad = tuple(data.draw(st.integers(0, k // 2)) for k in kernel)
    size = tuple(data.draw(st.integers(1, 5)) for _ in range(d))
    ceil = data.draw(st.booleans())
    cip = data.draw(st.booleans())
    mode = "ceil" if ceil else "floor"
    assume(
        all(
            ref_out_size(n, k, s, dl, p, p, mode) >= 1
            for n, k, s, dl, p in zip(size, kernel, stride, dilation, pad)
        )
    )
    x64 = np.random.default_rng(4).standard_normal((2, 2) + size)
    xt = torch.as_tensor(x64)
    fmax = getattr(F, f"max_pool{d}d")
    ref = fmax(xt, kernel, stride, pad, dilation, ceil_mode=ceil).numpy()
    for path in ("auto", "generic"):
        got = getattr(pc, f"max_pool{d}d")(xt, kernel, stride, pad, dilation, ceil, path=path)
        be.check(got, ref, rtol=1e-12, atol=1e-12)
    # torch's avg_pool3d also wants every input size at least the kernel's, padding or not
    if all(n + 2 * p >= k and (d < 3 or n >= k) for n, k, p in zip(size, kernel, pad)):
        favg = getattr(F, f"avg_pool{d}d")
        ref = favg(xt, kernel, stride, pad, ceil_mode=ceil, count_include_pad=cip).numpy()
        for path in ("auto", "generic"):
            got = getattr(pc, f"avg_pool{d}d")(
                xt, kernel, stride, pad, ceil, count_include_pad=cip, path=path
            )
            be.check(got, ref, rtol=1e-12, atol=1e-12)


@given(data=st.data())
def test_against_mx_npx_pooling(be, data):
    if be.name not in ("mxnet", "mxnet.nd"):
        pytest.skip("compares with mx.npx.pooling; runs in the mxnet sessions")
    import mxnet as mx

    d = data.draw(st.integers(1, 3))
    kernel = tuple(data.draw(st.integers(1, 3)) for _ in range(d))
    stride = tuple(data.draw(st.integers(1, 3)) for _ in range(d))
    pad = tuple(data.draw(st.integers(0, k - 1)) for k in kernel)
    size = tuple(data.draw(st.integers(1, 5)) for _ in range(d))
    full = data.draw(st.booleans())
    cip = data.draw(st.booleans())
    mode = "full" if full else "floor"
    assume(
        all(
            ref_out_size(n, k, s, 1, p, p, mode) >= 1
            for n, k, s, p in zip(size, kernel, stride, pad)
        )
    )
    x64 = np.random.default_rng(5).standard_normal((2, 2) + size)
    xm = mx.np.array(x64, dtype=np.float64)
    conv = "full" if full else "valid"
    x = be.asarray(x64)
    for pool_type in ("max", "avg"):
        ref = mx.npx.pooling(
            xm,
            kernel=kernel,
            stride=stride,
            pad=pad,
            pool_type=pool_type,
            pooling_convention=conv,
            count_include_pad=cip,
        ).asnumpy()
        ref = np.where(ref == np.finfo(np.float64).min, -np.inf, ref)  # portconv: -inf
        if d == 3:  # MXNet's 3-D kernel divides 0 by 0 where a window counts nothing; 0 here
            ref = np.nan_to_num(ref, nan=0.0, posinf=np.inf, neginf=-np.inf)
        for path in ("auto", "generic"):
            if pool_type == "max":
                got = getattr(pc, f"max_pool{d}d")(
                    x, kernel, stride, pad, pooling_convention=conv, path=path
                )
            else:
                got = getattr(pc, f"avg_pool{d}d")(
                    x,
                    kernel,
                    stride,
                    pad,
                    count_include_pad=cip,
                    pooling_convention=conv,
                    path=path,
                )
            be.check(got, ref, rtol=1e-12, atol=1e-12)


# -- NaN and infinities ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_nan_propagates_in_max_pooling(be, dtype):
    if dtype not in dtypes_of(be):
        pytest.skip(f"the {be.name} backend has no {dtype}")
    x = np.arange(12, dtype=dtype).reshape(1, 1, 3, 4)
    x[0, 0, 0, 1] = np.nan
    x[0, 0, 2, 0] = -np.inf
    x[0, 0, 2, 1] = -np.inf
    ref = ref_pool(x.astype(np.float64), "max", (2, 2), (1, 1), [(1, 1)] * 2, (1, 1), "floor")
    assert np.isnan(ref).sum() == 4 and np.isneginf(ref).sum() == 2
    for path in ("auto", "generic") + (("native",) if has_native(be, "max_pool") else ()):
        be.check(pc.max_pool2d(be.asarray(x), 2, 1, 1, path=path), ref)
        y = pc.avg_pool2d(be.asarray(x), 2, 1, 1, path=path)
        ref_avg = ref_pool(
            x.astype(np.float64), "avg", (2, 2), (1, 1), [(1, 1)] * 2, (1, 1), "floor"
        )
        be.check(y, ref_avg)
    y = pc.adaptive_max_pool2d(be.asarray(x), (2, 2))
    be.check(y, ref_adaptive(x.astype(np.float64), "max", (2, 2)))
    be.check(pc.global_max_pool(be.asarray(x)), [[[[np.nan]]]])


# -- adaptive and global pooling ------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["max", "avg"])
@given(data=st.data())
def test_adaptive_matches_loops(be, kind, data):
    d = data.draw(st.integers(1, 3))
    size = tuple(data.draw(st.integers(1, 7 if d < 3 else 4)) for _ in range(d))
    out = tuple(data.draw(st.integers(1, 7 if d < 3 else 4)) for _ in range(d))
    keep = tuple(data.draw(st.booleans()) for _ in range(d))
    output_size = tuple(None if k else o for k, o in zip(keep, out))
    out = tuple(n if k else o for n, k, o in zip(size, keep, out))
    last, batched = data.draw(st.booleans()), data.draw(st.booleans())
    x64 = np.random.default_rng(6).standard_normal((2, 3) + size)
    ref = to_layout(ref_adaptive(x64, kind, out), last, batched)
    op = getattr(pc, f"adaptive_{kind}_pool{d}d")
    x = be.asarray(np.ascontiguousarray(to_layout(x64, last, batched)))
    layout = "channels_last" if last else "channels_first"
    paths = ["auto", "generic"] if has_native(be, f"adaptive_{kind}_pool") else ["auto"]
    for path in paths:
        be.check(op(x, output_size, layout=layout, path=path), ref, rtol=1e-12, atol=1e-12)
    if len(set(output_size)) == 1 and output_size[0] is not None:
        be.check(op(x, output_size[0], layout=layout), ref, rtol=1e-12, atol=1e-12)


def test_adaptive_against_torch(be):
    if be.name != "torch":
        pytest.skip("compares with torch.nn.functional; runs in the torch session")
    import torch
    import torch.nn.functional as F

    x = torch.as_tensor(np.random.default_rng(7).standard_normal((2, 3, 7, 5, 6)))
    for d, out in ((1, (4,)), (2, (3, 4)), (3, (4, 2, 5))):
        xd = x[(0,) * (3 - d)] if d < 3 else x
        for kind in ("max", "avg"):
            ref = getattr(F, f"adaptive_{kind}_pool{d}d")(xd, out).numpy()
            got = getattr(pc, f"adaptive_{kind}_pool{d}d")(xd, out, path="generic")
            be.check(got, ref, rtol=1e-12, atol=1e-12)


def test_global_pooling(be):
    x64 = np.random.default_rng(8).standard_normal((2, 3, 4, 5))
    x = be.asarray(x64.astype(np.float32))
    be.check(pc.global_avg_pool(x), x64.mean(axis=(2, 3), keepdims=True), rtol=1e-5, atol=1e-6)
    be.check(pc.global_max_pool(x), x64.max(axis=(2, 3), keepdims=True), rtol=1e-6)
    xl = be.asarray(np.ascontiguousarray(np.moveaxis(x64, 1, -1)))
    y = pc.global_avg_pool(xl, layout="channels_last")
    be.check(y, np.moveaxis(x64.mean(axis=(2, 3), keepdims=True), 1, -1), rtol=1e-12)
    x3 = be.asarray(x64[:, :, 0])
    be.check(pc.global_max_pool(x3), x64[:, :, 0].max(axis=2, keepdims=True), rtol=1e-12)


# -- arguments: aliases, errors ---------------------------------------------------------------


def test_gluon_aliases(be):
    X = be.asarray(X16)
    be.check(pc.max_pool2d(X, pool_size=3, strides=2, padding=1), [[[[5, 7], [13, 15]]]])
    be.check(pc.avg_pool2d(X, pool_size=2), [[[[2.5, 4.5], [10.5, 12.5]]]])
    be.check(pc.max_pool(X, (3, 3), 2, 1), [[[[5, 7], [13, 15]]]])
    be.check(pc.avg_pool(X, 2), [[[[2.5, 4.5], [10.5, 12.5]]]])
    be.check(pc.max_pool2d(be.asarray(X16[0]), 2), [[[5, 7], [13, 15]]])  # unbatched
    xl = be.asarray(np.ascontiguousarray(np.moveaxis(X16, 1, -1)))
    be.check(
        pc.max_pool2d(xl, 2, layout="NHWC"), np.moveaxis(np.array([[[[5, 7], [13, 15]]]]), 1, -1)
    )


def _errors():
    """(call on X = (1, 1, 4, 4) float32, exception type, fragments of the message)."""
    return [
        (lambda X: pc.max_pool2d(X, 2, pool_size=2), pc.ArgumentError, ["pool_size", "both"]),
        (lambda X: pc.max_pool2d(X, 2, 2, strides=2), pc.ArgumentError, ["strides", "both"]),
        (lambda X: pc.max_pool2d(X), TypeError, ["kernel_size", "pool_size"]),
        (lambda X: pc.max_pool2d(X, 0), pc.ArgumentError, ["kernel_size", "at least 1", "0"]),
        (lambda X: pc.max_pool2d(X, 2, 0), pc.ArgumentError, ["stride", "at least 1"]),
        (lambda X: pc.max_pool2d(X, 2, dilation=0), pc.ArgumentError, ["dilation", "0"]),
        (lambda X: pc.max_pool2d(X, 2, padding=-1), pc.ArgumentError, ["padding", "-1"]),
        (lambda X: pc.max_pool2d(X, 2, padding=2), pc.ArgumentError, ["padding", "smaller", "2"]),
        (lambda X: pc.avg_pool2d(X, 3, padding=(0, 3)), pc.ArgumentError, ["padding", "span"]),
        (lambda X: pc.max_pool2d(X, 5), pc.ArgumentError, ["kernel_size", "empty", "(5, 5)"]),
        (lambda X: pc.max_pool2d(X, (2, 2, 2)), pc.ArgumentError, ["kernel_size", "2 ints"]),
        (lambda X: pc.max_pool2d(X, 2.0), TypeError, ["kernel_size", "float"]),
        (lambda X: pc.max_pool2d(X, 2, padding="full"), pc.ArgumentError, ["padding", "'full'"]),
        (
            lambda X: pc.max_pool2d(X, 2, pooling_convention="same"),
            pc.ArgumentError,
            ["pooling_convention", "'valid' or 'full'", "'same'"],
        ),
        (
            lambda X: pc.max_pool2d(X, 2, ceil_mode=True, pooling_convention="full"),
            pc.ArgumentError,
            ["ceil_mode", "full"],
        ),
        (lambda X: pc.max_pool2d(X, 2, ceil_mode=1), TypeError, ["ceil_mode", "True or False"]),
        (lambda X: pc.avg_pool2d(X, 2, count_include_pad=None), TypeError, ["count_include_pad"]),
        (lambda X: pc.max_pool1d(X, 2), pc.ArgumentError, ["input", "2 or 3-dimensional", "4"]),
        (lambda X: pc.max_pool3d(X[0, 0, ...], 2), pc.ArgumentError, ["input", "(N, C, D, H, W)"]),
        (lambda X: pc.max_pool2d(X, 2, layout="NCW"), pc.ArgumentError, ["layout", "'NCW'"]),
        (lambda X: pc.max_pool2d(X, 2, layout="rows"), pc.ArgumentError, ["layout", "'rows'"]),
        (lambda X: pc.max_pool2d(X, 2, path="fast"), pc.ArgumentError, ["path", "'fast'"]),
        (lambda X: pc.max_pool(X, (2, 2, 2, 2)), pc.ArgumentError, ["kernel_size", "1 to 3"]),
        (lambda X: pc.adaptive_avg_pool2d(X, 0), pc.ArgumentError, ["output_size", "at least 1"]),
        (lambda X: pc.adaptive_max_pool2d(X, (2, 2, 2)), pc.ArgumentError, ["output_size", "2"]),
        (lambda X: pc.adaptive_max_pool2d(X, "2"), TypeError, ["output_size", "'2'"]),
        (lambda X: pc.global_avg_pool(X[0, 0, ...]), pc.ArgumentError, ["input", "(4, 4)"]),
        (lambda X: pc.pool2d(X[0, 0, ...], (2, 2), "min"), pc.ArgumentError, ["mode", "'min'"]),
        (lambda X: pc.pool2d(X[0, 0, ...], (5, 2)), pc.ArgumentError, ["pool_size", "(5, 2)"]),
        (lambda X: pc.pool2d(X[0, 0, 0, ...], (1, 1)), pc.ArgumentError, ["X", "2 dimensions"]),
    ]


@pytest.mark.parametrize("i", range(len(_errors())))
def test_errors_name_argument_and_value(be, i):
    fn, exc, fragments = _errors()[i]
    with pytest.raises(exc) as info:
        fn(be.asarray(X16))
    assert isinstance(info.value, (pc.PortconvError, TypeError))
    for fragment in fragments:
        assert fragment in str(info.value), (fragment, str(info.value))


def test_integer_input_is_refused_where_no_framework_averages_integers(be):
    # max pooling keeps integers (Keras) and the book's pool2d returns floats: see
    # tests/test_integer_ops.py; averaging integers is refused, as PyTorch refuses it
    with pytest.raises(pc.ArrayTypeError, match="input: expected a real floating"):
        pc.avg_pool2d(be.asarray(np.arange(16).reshape(1, 1, 4, 4)), 2)
    with pytest.raises(pc.ArrayTypeError, match="X: expected a real floating or integer"):
        pc.pool2d(be.asarray(np.ones((3, 3), dtype=bool)), (2, 2))


def test_output_shape_errors():
    with pytest.raises(pc.ArgumentError, match="empty"):
        pc.pool_output_shape(2, 3)
    with pytest.raises(pc.ArgumentError, match="padding"):
        pc.pool_output_shape(4, 2, padding=2)
    with pytest.raises(pc.ArgumentError, match="pooling_convention"):
        pc.pool_output_shape(4, 2, pooling_convention="ceil")


# -- inputs untouched, views, memory budget, gradients ------------------------------------------


def test_read_only_numpy_input(be):
    if be.name != "numpy":
        pytest.skip("read-only arrays are NumPy's; runs in the numpy session")
    x = np.arange(32, dtype=np.float64).reshape(1, 2, 4, 4)
    x.setflags(write=False)
    before = x.copy()
    for y in (
        pc.max_pool2d(x, 1),
        pc.max_pool2d(x, 2, 1, 1),
        pc.avg_pool2d(x, 3, 1, 1),
        pc.adaptive_max_pool2d(x, 4),
        pc.global_avg_pool(x),
        pc.pool2d(x, (1, 1)),
    ):
        assert not np.shares_memory(y, x)
    np.testing.assert_array_equal(x, before)


def test_non_contiguous_views_not_mutated(be):
    base64 = np.random.default_rng(9).standard_normal((2, 3, 6, 8))
    base = be.asarray(base64)
    view = base[:, :, :, ::2]  # a strided view (a copy in libraries without views)
    ref_in = base64[:, :, :, ::2]
    ref = ref_pool(ref_in, "max", (2, 2), (1, 1), [(1, 1)] * 2, (1, 1), "floor")
    for path in ("auto", "generic"):
        be.check(pc.max_pool2d(view, 2, 1, 1, path=path), ref, rtol=1e-12)
        y = pc.max_pool2d(view, 1, path=path)
        be.check(y, ref_in, rtol=0, atol=0)
        ref_avg = ref_pool(ref_in, "avg", (3, 2), (2, 1), [(1, 1)] * 2, (1, 1), "ceil")
        be.check(pc.avg_pool2d(view, (3, 2), (2, 1), 1, True, path=path), ref_avg, rtol=1e-12)
    if be.name == "torch":  # a transposed, non-contiguous tensor
        t = base.transpose(2, 3)
        ref = ref_pool(
            np.swapaxes(base64, 2, 3), "max", (3, 3), (2, 2), [(1, 1)] * 2, (1, 1), "floor"
        )
        be.check(pc.max_pool2d(t, 3, 2, 1), ref, rtol=1e-12)
    np.testing.assert_array_equal(be.to_numpy(base), base64)


@pytest.mark.parametrize("budget", [300, 1500])
def test_memory_budget_tiles_give_the_same_result(be, budget):
    # a padded 6x6 float64 plane is 288 bytes, one example (3 channels) 864 bytes:
    # 300 bytes tiles channels, 1500 bytes tiles whole examples
    x64 = np.random.default_rng(10).standard_normal((3, 3, 4, 4))
    x = be.asarray(x64)
    ref_max = ref_pool(x64, "max", (3, 3), (1, 1), [(1, 1)] * 2, (1, 1), "floor")
    ref_avg = ref_pool(x64, "avg", (3, 3), (2, 2), [(1, 1)] * 2, (1, 1), "full", "input")
    with pc.config(memory_budget=budget, path="generic"):
        be.check(pc.max_pool2d(x, 3, 1, 1), ref_max, rtol=1e-12)
        be.check(
            pc.avg_pool2d(x, 3, 2, 1, count_include_pad=False, pooling_convention="full"),
            ref_avg,
            rtol=1e-12,
        )


def test_generic_path_is_differentiable(be):
    x64 = np.random.default_rng(11).standard_normal((1, 2, 5, 5))  # no ties
    if be.name == "torch":
        import torch

        grads = {}
        for path in ("native", "generic"):
            for kind in ("max", "avg"):
                x = torch.tensor(x64, requires_grad=True)
                fn = getattr(pc, f"{kind}_pool2d")
                y = fn(x, 3, 2, 1, path=path)
                weights = torch.arange(y.numel(), dtype=y.dtype).reshape(y.shape)
                (y * weights).sum().backward()
                grads[path, kind] = x.grad.numpy()
        for kind in ("max", "avg"):
            np.testing.assert_allclose(grads["generic", kind], grads["native", kind], atol=1e-12)
    elif be.name in ("mxnet", "mxnet.nd"):
        import mxnet as mx

        grads = {}
        for path in ("native", "generic"):
            for kind in ("max", "avg"):
                x = mx.np.array(x64, dtype=np.float64)
                x.attach_grad()
                with mx.autograd.record():
                    y = getattr(pc, f"{kind}_pool2d")(x, 3, 2, 1, path=path)
                    weights = mx.np.arange(y.size, dtype=np.float64).reshape(y.shape)
                    loss = (y * weights).sum()
                loss.backward()
                grads[path, kind] = x.grad.asnumpy()
        for kind in ("max", "avg"):
            np.testing.assert_allclose(grads["generic", kind], grads["native", kind], atol=1e-12)
    else:
        pytest.skip(
            "compares autograd gradients of the native and generic paths; runs in the "
            "torch and mxnet sessions"
        )
