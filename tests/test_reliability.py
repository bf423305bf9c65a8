"""Edge cases every op must survive: empty batches, NaN and inf, read-only and non-contiguous
inputs (never mutated), arrays on two devices, and several threads at once.

(Loading state with wrong names, shapes or dtypes is tested in tests/test_nn.py:
``test_load_state_dict_names_missing_and_unexpected_entries`` and
``test_load_state_dict_names_the_wrong_entry``.)
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

import portconv as pc
import portconv.autograd as ag

# -- every op, on one channels-first batch -------------------------------------------------------

# name -> (forward on (x, w2, wt) with x (N, 2, 6, 6), autograd version or None)
# w2: a (3, 2, 3, 3) conv weight; wt: a (2, 3, 3, 3) transposed-conv weight
OPS = {
    "conv1d": (lambda x, w, wt: pc.conv1d(x[:, :, 0, ...], w[:, :, 0, ...], padding=1), "conv1d"),
    "conv2d": (lambda x, w, wt: pc.conv2d(x, w, padding=1, stride=2), "conv2d"),
    "conv3d": (
        lambda x, w, wt: pc.conv3d(x[:, :, None, ...], w[:, :, None, ...], padding=1),
        "conv3d",
    ),
    "convolve": (lambda x, w, wt: pc.convolve(x, w, dilation=2), None),
    "conv_transpose2d": (lambda x, w, wt: pc.conv_transpose2d(x, wt, stride=2), "ct2d"),
    "max_pool2d": (lambda x, w, wt: pc.max_pool2d(x, 3, 2, 1), "max_pool2d"),
    "avg_pool2d": (lambda x, w, wt: pc.avg_pool2d(x, 3, 2, 1, ceil_mode=True), "avg_pool2d"),
    "max_pool1d": (lambda x, w, wt: pc.max_pool1d(x[:, :, 0, ...], 2), "max_pool1d"),
    "avg_pool3d": (lambda x, w, wt: pc.avg_pool3d(x[:, :, None, ...], (1, 2, 2)), None),
    "adaptive_max_pool2d": (lambda x, w, wt: pc.adaptive_max_pool2d(x, (4, 5)), "amax2d"),
    "adaptive_avg_pool2d": (lambda x, w, wt: pc.adaptive_avg_pool2d(x, 4), "aavg2d"),
    "global_max_pool": (lambda x, w, wt: pc.global_max_pool(x), "gmax"),
    "global_avg_pool": (lambda x, w, wt: pc.global_avg_pool(x), "gavg"),
    "pool2d": (lambda x, w, wt: pc.pool2d(x, (2, 3), "avg"), None),
}

# the autograd versions, taking Variables
AG = {
    "conv1d": lambda x, w, wt: ag.conv1d(x[:, :, 0, ...], w[:, :, 0, ...], padding=1),
    "conv2d": lambda x, w, wt: ag.conv2d(x, w, padding=1, stride=2),
    "conv3d": lambda x, w, wt: ag.conv3d(x[:, :, None, ...], w[:, :, None, ...], padding=1),
    "ct2d": lambda x, w, wt: ag.conv_transpose(x, wt, stride=2),
    "max_pool2d": lambda x, w, wt: ag.max_pool2d(x, 3, 2, 1),
    "avg_pool2d": lambda x, w, wt: ag.avg_pool2d(x, 3, 2, 1, ceil_mode=True),
    "max_pool1d": lambda x, w, wt: ag.max_pool1d(x[:, :, 0, ...], 2),
    "amax2d": lambda x, w, wt: ag.adaptive_max_pool2d(x, (4, 5)),
    "aavg2d": lambda x, w, wt: ag.adaptive_avg_pool2d(x, 4),
    "gmax": lambda x, w, wt: ag.global_max_pool(x),
    "gavg": lambda x, w, wt: ag.global_avg_pool(x),
}

RNG = np.random.default_rng(2024)
X = RNG.standard_normal((2, 2, 6, 6))
W = RNG.standard_normal((3, 2, 3, 3))
WT = RNG.standard_normal((2, 3, 3, 3))


def _shape_of(name, n):
    """The result shape of ``OPS[name]`` for a batch of ``n``, from NumPy arrays of n=1."""
    y = OPS[name][0](X[:1], W, WT)
    return (n, *np.asarray(y).shape[1:])


@pytest.mark.parametrize("name", sorted(OPS))
def test_empty_batch_forward(be, name):
    fn = OPS[name][0]
    with be.run_context():
        x = be.asarray(np.zeros((0, 2, 6, 6)))
        y = fn(x, be.asarray(W), be.asarray(WT))
        be.check_array(y, dtype="float64")
        assert tuple(y.shape) == _shape_of(name, 0)


@pytest.mark.parametrize("name", sorted(AG))
def test_empty_batch_backward(be, name):
    with be.run_context():
        x0 = be.asarray(np.zeros((0, 2, 6, 6)))
        w, wt = be.asarray(W), be.asarray(WT)
        squeeze = name in ("conv1d", "max_pool1d")
        unsqueeze = name == "conv3d"
        if squeeze:
            x0 = be.asarray(np.zeros((0, 2, 6)))
            w = be.asarray(W[:, :, 0])
        if unsqueeze:
            x0 = be.asarray(np.zeros((0, 2, 1, 6, 6)))
            w = be.asarray(W[:, :, None])
        x = ag.Variable(x0, requires_grad=True)
        wv = ag.Variable(w, requires_grad=True)
        wtv = ag.Variable(wt, requires_grad=True)
        fn = {
            "conv1d": lambda: ag.conv1d(x, wv, padding=1),
            "conv3d": lambda: ag.conv3d(x, wv, padding=1),
            "max_pool1d": lambda: ag.max_pool1d(x, 2),
        }.get(name) or (lambda: AG[name](x, wv, wtv))
        y = fn()
        assert y.shape[0] == 0
        y.sum().backward()
        assert tuple(x.grad.shape) == tuple(x0.shape)
        be.check_array(x.grad, dtype="float64")
        if name in ("conv1d", "conv2d", "conv3d"):
            be.check(wv.grad, np.zeros(wv.shape))  # no examples: a zero gradient
        if name == "ct2d":
            be.check(wtv.grad, np.zeros(WT.shape))


# -- NaN and inf ---------------------------------------------------------------------------------


def _touched(mask, kernel, stride, pad):
    """Which windows of a 2-D pooling/convolution contain a True of ``mask`` (N, C, H, W)."""
    m = np.pad(mask, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    win = sliding_window_view(m, kernel, axis=(2, 3))[:, :, ::stride, ::stride]
    return win.any(axis=(-2, -1))


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_conv_spreads_nan_and_inf_to_the_windows_that_touch_them(be, value):
    x = np.abs(X[:, :1]) + 0.5
    x[0, 0, 2, 3] = value
    x[1, 0, 5, 0] = value
    w = np.abs(W[:1, :1]) + 0.5  # positive: inf stays +inf, never inf - inf
    y = be.to_numpy(pc.conv2d(be.asarray(x), be.asarray(w), padding=1, stride=2))
    touched = _touched(np.isinf(x) | np.isnan(x), (3, 3), 2, 1)
    bad = np.isnan(y) if np.isnan(value) else np.isposinf(y)
    np.testing.assert_array_equal(bad, touched)
    assert np.isfinite(y[~touched]).all()


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pooling_nan_and_inf_as_pytorch(be, kind, value):
    x = X[:, :1].copy()
    x[0, 0, 2, 3] = value
    x[1, 0, 0, 0] = value
    op = pc.max_pool2d if kind == "max" else pc.avg_pool2d
    y = be.to_numpy(op(be.asarray(x), 3, 2, 1))
    touched = _touched(~np.isfinite(x), (3, 3), 2, 1)
    if np.isnan(value) or value > 0 or kind == "avg":
        # NaN wins a max (as in PyTorch) and spreads through a sum; +inf wins a max;
        # +-inf dominates an average
        want = np.isnan if np.isnan(value) else (np.isposinf if value > 0 else np.isneginf)
        np.testing.assert_array_equal(want(y), touched)
        assert np.isfinite(y[~touched]).all()
    else:  # -inf never wins a max with a finite element in the window
        assert np.isfinite(y).all()


# -- read-only and non-contiguous inputs ----------------------------------------------------------


def _variants(be):
    """(label, x, w, wt) with x (N, C, H, W) built as views where the library has them."""
    out = []
    if be.name == "numpy":
        ro = [a.copy() for a in (X, W, WT)]
        for a in ro:
            a.setflags(write=False)
        out.append(("read-only", *ro))
    xp = be.xp
    big = be.asarray(np.repeat(X, 2, axis=3))  # every column twice
    out.append(("strided view", big[:, :, :, ::2], be.asarray(W), be.asarray(WT)))

    def swap(a):  # legacy mx.nd arrays transpose with their own method
        a = be.asarray(np.swapaxes(a, 2, 3))
        return a.transpose((0, 1, 3, 2)) if be.legacy_nd else xp.permute_dims(a, (0, 1, 3, 2))

    tr, wtr = swap(X), swap(W)
    out.append(("transposed", tr, wtr, be.asarray(WT)))
    return out


def test_read_only_and_non_contiguous_inputs_are_accepted_and_never_mutated(be):
    with be.run_context():
        want = {
            name: be.to_numpy(fn(be.asarray(X), be.asarray(W), be.asarray(WT)))
            for name, (fn, _) in OPS.items()
        }
        for label, x, w, wt in _variants(be):
            before = [be.to_numpy(a).copy() for a in (x, w, wt)]
            for name, (fn, agname) in OPS.items():
                y = fn(x, w, wt)
                np.testing.assert_allclose(be.to_numpy(y), want[name], rtol=1e-12, atol=1e-12)
                if agname is None or name in ("conv1d", "conv3d", "max_pool1d"):
                    continue
                xv = ag.Variable(x, requires_grad=True)
                wv, wtv = ag.Variable(w, requires_grad=True), ag.Variable(wt, requires_grad=True)
                AG[agname](xv, wv, wtv).sum().backward()
                assert tuple(xv.grad.shape) == X.shape, (label, name)
            after = [be.to_numpy(a) for a in (x, w, wt)]
            for b, a in zip(before, after):
                np.testing.assert_array_equal(a, b, err_msg=f"{label} input mutated")


# -- two devices ----------------------------------------------------------------------------------


def _two_devices(be):
    if be.name == "array_api_strict":
        import array_api_strict as xs

        devs = list(xs.__array_namespace_info__().devices())
        return devs[0], devs[1]
    if be.name == "torch":
        import torch

        if not torch.cuda.is_available():
            pytest.skip("torch: a second device needs CUDA, which this machine lacks")
        return torch.device("cpu"), torch.device("cuda:0")
    if be.name in ("mxnet", "mxnet.nd"):
        import mxnet as mx

        return mx.cpu(0), mx.cpu(1)
    pytest.skip(f"{be.name}: the library has one device here")


def test_arrays_on_two_devices_are_refused_naming_both(be):
    d0, d1 = _two_devices(be)
    ad = be.adapter
    x = ad.from_numpy(X.astype(np.float32), device=d0)
    w = ad.from_numpy(W.astype(np.float32), device=d1)
    b = ad.from_numpy(np.zeros(3, np.float32), device=d1)
    with pytest.raises(pc.ArgumentError, match=r"arrays on two devices in one call: .* and "):
        pc.conv2d(x, w)
    with pytest.raises(ValueError, match="two devices"):
        pc.conv2d(x, ad.from_numpy(W.astype(np.float32), device=d0), b)
    with pytest.raises(ValueError, match="two devices"):
        pc.conv_transpose2d(x, ad.from_numpy(WT.astype(np.float32), device=d1))
    # one device, whichever: fine
    y = pc.conv2d(ad.from_numpy(X.astype(np.float32), device=d1), w, b)
    assert str(ad.device(y)) == str(ad.device(w))


# -- threads --------------------------------------------------------------------------------------


def test_ops_from_several_threads_match_sequential_runs(be):
    import portconv._dispatch as dispatch
    from portconv.ops import _common

    numpy_be = pc.get_adapter("numpy")
    libs = {"numpy": (numpy_be.from_numpy, np.asarray), be.name: (be.asarray, be.to_numpy)}
    names = ["conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d", "adaptive_max_pool2d"]

    def run(lib, name, seed):
        make, back = libs[lib]
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((2, 2, 6, 6))
        with be.run_context():
            return back(OPS[name][0](make(x), make(W), make(WT)))

    jobs = [(lib, name, seed) for lib in libs for name in names for seed in range(3)]
    sequential = [run(*job) for job in jobs]

    dispatch._owner_by_type.clear()
    _common._float_dtypes.clear()
    results: dict[int, np.ndarray] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def worker(k):
        start.wait()
        try:
            for i in range(k, len(jobs), 4):
                results[i] = run(*jobs[i])
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert sorted(results) == list(range(len(jobs)))
    for i, want in enumerate(sequential):
        np.testing.assert_array_equal(results[i], want, err_msg=str(jobs[i]))


# -- subclasses of numpy.ndarray ------------------------------------------------------------------


def test_masked_arrays_are_refused_and_other_ndarray_subclasses_computed_as_arrays(be, tmp_path):
    """Masked arrays are refused naming the argument (there is no rule for masked elements,
    and the data underneath would be used silently); np.matrix and np.memmap are computed on
    as plain arrays, giving plain ndarrays."""
    if be.name != "numpy":
        pytest.skip("ndarray subclasses are NumPy's; runs in the numpy session")
    x = np.arange(100.0).reshape(1, 1, 10, 10)
    masked = np.ma.array(x, mask=x > 10)
    for call in (
        lambda: pc.adaptive_avg_pool2d(masked, 1),
        lambda: pc.global_avg_pool(masked),
        lambda: pc.conv2d(masked, np.ones((1, 1, 3, 3))),
        lambda: pc.max_pool2d(masked, 2),
    ):
        with pytest.raises(TypeError, match=r"^input: .*masked array.*filled"):
            call()
    with pytest.raises(TypeError, match=r"^weight: .*masked array"):
        pc.conv2d(x, np.ma.array(np.ones((1, 1, 3, 3))))
    m = np.matrix(np.arange(9.0).reshape(3, 3))
    y = pc.corr2d(m, np.ones((2, 2)))
    assert type(y) is np.ndarray
    np.testing.assert_array_equal(y, [[8.0, 12.0], [20.0, 24.0]])
    mm = np.memmap(tmp_path / "x.dat", dtype=np.float64, mode="w+", shape=(1, 1, 4, 4))
    mm[:] = np.arange(16.0).reshape(1, 1, 4, 4)
    y = pc.max_pool2d(mm, 2)
    assert type(y) is np.ndarray
    np.testing.assert_array_equal(y, [[[[5.0, 7.0], [13.0, 15.0]]]])
