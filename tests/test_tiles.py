"""Tiles in threads and blocked products: the generic kernels' speed devices must not change a
result.

``portconv.config(threads=N)`` lets pooling run its tiles of examples on up to N threads where
the adapter's namespace says its functions release the GIL (NumPy); every other backend runs
them one after another. NumPy's namespace also sums long-contraction products with a tiny
result over blocks (``portconv.backends.numpy.matmul``). Each is checked against the plain
computation on every backend through the ``be`` fixture, and against float64.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from portconv.backends import numpy as numpy_backend

import portconv as pc
from portconv import _windows
from portconv import autograd as ag
from portconv._config import memory_budget, threads
from portconv.errors import ArgumentError


@pytest.fixture
def small_tiles(monkeypatch):
    """Threads for tiles of any size, so that test-sized arrays use them."""
    monkeypatch.setattr(_windows, "MIN_THREAD_TILE", 1)


@pytest.mark.parametrize("bad", [0, -2, 1.5, True, "2"])
def test_threads_must_be_a_positive_int(bad):
    match = r"threads: expected a positive int, got"
    with pytest.raises(ArgumentError, match=match), pc.config(threads=bad):
        pass


def test_threads_default_to_the_usable_cpus_and_follow_config():
    default = threads()
    assert default >= 1
    with pc.config(threads=3):
        assert threads() == 3
        with pc.config(threads=1):
            assert threads() == 1
        assert threads() == 3
    assert threads() == default


def _pool_and_grads(be, kind, x, kernel, stride, padding):
    op = ag.max_pool2d if kind == "max" else ag.avg_pool2d
    with be.run_context(), pc.config(path="generic"):
        v = ag.Variable(be.asarray(x), requires_grad=True)
        y = op(v, kernel, stride, padding)
        g = np.linspace(-1.0, 1.0, num=int(np.prod(y.shape)), dtype=np.float32)
        y.backward(be.asarray(g.reshape(y.shape)))
        return be.to_numpy(y.data), be.to_numpy(v.grad)


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("padding", [0, 1])
def test_pooling_in_threads_equals_pooling_in_order(be, kind, padding, small_tiles):
    """Forward and gradient, bit for bit, with one thread and with three under a budget
    that makes several waves of tiles (ties included: integers as floats)."""
    rng = np.random.default_rng(7)
    x = rng.integers(-3, 4, size=(11, 3, 9, 8)).astype(np.float32)
    with pc.config(threads=1):
        y1, g1 = _pool_and_grads(be, kind, x, 3, 2, padding)
    with pc.config(threads=3, memory_budget=3 * 9 * 8 * 4 * 2):
        y3, g3 = _pool_and_grads(be, kind, x, 3, 2, padding)
    np.testing.assert_array_equal(y3, y1)
    np.testing.assert_array_equal(g3, g1)
    # and the plain pooling agrees with the recorded one
    with pc.config(threads=1, path="generic"), be.run_context():
        op = pc.max_pool2d if kind == "max" else pc.avg_pool2d
        plain = be.to_numpy(op(be.asarray(x), 3, 2, padding))
    np.testing.assert_array_equal(plain, y1)


def _numpy_namespace():
    return numpy_backend.NumPyAdapter().namespace()


def test_only_namespaces_that_allow_it_run_tiles_in_threads(be, small_tiles):
    seen = set()

    def fn(a, z):
        seen.add(threading.get_ident())
        return np.zeros((z - a,))

    with pc.config(threads=2):
        _windows.by_tiles(be.xp, 8, 1, 1 << 30, fn, concurrent=True)
    here = {threading.get_ident()}
    if getattr(be.xp, "portconv_tiles_in_threads", False):
        assert seen and seen.isdisjoint(here)
    else:
        assert seen == here


def test_tile_threads_see_the_callers_settings_and_stay_within_the_threads(small_tiles):
    xp = _numpy_namespace()
    lock, running, most = threading.Lock(), [0], [0]

    def fn(a, z):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.01)
        with lock:
            running[0] -= 1
        return np.full((z - a,), memory_budget(), dtype=np.int64)

    with pc.config(threads=2, memory_budget=12345):
        got = _windows.by_tiles(xp, 10, 1000, 1000, fn, concurrent=True)
    assert got.tolist() == [12345] * 10
    assert most[0] == 2  # two threads at once, never more (ten tiles, five waves)


def test_a_failing_tile_raises_in_the_caller(small_tiles):
    xp = _numpy_namespace()

    def fn(a, z):
        if a >= 2:
            raise ValueError(f"tile {a}")
        return np.zeros((z - a,))

    with pc.config(threads=2), pytest.raises(ValueError, match="tile"):
        _windows.by_tiles(xp, 4, 1, 1, fn, concurrent=True)


def test_tiles_run_in_order_without_the_flag(small_tiles):
    xp = _numpy_namespace()
    seen = []
    with pc.config(threads=4):
        _windows.by_tiles(xp, 4, 1, 1, lambda a, z: seen.append(a) or np.zeros(z - a))
    assert seen == [0, 1, 2, 3]


@given(
    m=st.integers(2, 40),
    n=st.integers(2, 40),
    k=st.integers(1, 30_000),
    batch=st.sampled_from([(), (1,), (3,)]),
    dtype=st.sampled_from([np.float32, np.float64]),
    transposed=st.booleans(),
)
def test_numpy_blocked_matmul_equals_the_whole_product(m, n, k, batch, dtype, transposed):
    """Blocked or not (the rule decides), the product equals float64's within the dtype's
    rounding of a k-term sum; operands may be transposed views."""
    rng = np.random.default_rng(m * 1000 + n)
    a = rng.standard_normal(batch + (m, k)).astype(dtype)
    b = rng.standard_normal(batch + (k, n)).astype(dtype)
    if transposed:  # the weight gradient's operand: a transposed view of (n, k) columns
        b = np.swapaxes(np.ascontiguousarray(np.swapaxes(b, -1, -2)), -1, -2)
    got = numpy_backend.matmul(a, b)
    want = np.matmul(a.astype(np.float64), b.astype(np.float64))
    assert got.shape == want.shape and got.dtype == np.dtype(dtype)
    eps = np.finfo(dtype).eps
    scale = np.matmul(np.abs(a).astype(np.float64), np.abs(b).astype(np.float64))
    assert np.all(np.abs(got - want) <= 4 * eps * np.sqrt(k) * scale + 1e-30)


def test_numpy_blocked_matmul_blocks_where_the_rule_says():
    calls = []
    real = np.matmul

    def counting(x1, x2):
        calls.append(x1.shape[-1])
        return real(x1, x2)

    import array_api_compat.numpy as compat

    original = compat.matmul
    compat.matmul = counting
    try:
        numpy_backend.matmul(np.ones((6, 200_704), np.float32), np.ones((200_704, 25), np.float32))
        blocked = list(calls)
        calls.clear()
        numpy_backend.matmul(np.ones((16, 20_000), np.float32), np.ones((20_000, 150), np.float32))
        whole = list(calls)
    finally:
        compat.matmul = original
    assert len(blocked) > 1 and sum(blocked) == 200_704
    assert whole == [20_000]  # a result of 2,400 elements: one call
    assert _numpy_namespace().matmul is numpy_backend.matmul


@given(
    shape=st.lists(st.integers(0, 5), min_size=1, max_size=4),
    data=st.data(),
    value=st.sampled_from([0.0, 1.5, float("-inf")]),
    integer=st.booleans(),
)
def test_numpy_pad_equals_the_generic_concatenation(shape, data, value, integer):
    """The NumPy namespace's one-copy pad against the standard's concatenations (the
    compat namespace has no ``portconv_pad``), on floats and integers, any axes, any
    widths including none."""
    import array_api_compat.numpy as compat

    d = data.draw(st.integers(1, len(shape)))
    pads = [data.draw(st.tuples(st.integers(0, 3), st.integers(0, 3))) for _ in range(d)]
    dtype = np.int16 if integer else np.float32
    fill = np.iinfo(np.int16).min if integer and value == float("-inf") else value
    fill = int(fill) if integer else fill
    x = np.arange(int(np.prod(shape)), dtype=dtype).reshape(shape)
    want = _windows.pad(compat, x, pads, fill)
    got = _windows.pad(_numpy_namespace(), x, pads, fill)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


@given(
    lead=st.lists(st.integers(0, 3), min_size=1, max_size=2),
    data=st.data(),
    integer=st.booleans(),
    channels_major=st.booleans(),
)
def test_numpy_interleave_equals_the_generic_stacking(lead, data, integer, channels_major):
    """The NumPy namespace's interleave (strided writes into one array) against the
    standard's stacks (the compat namespace has no ``portconv_interleave``), for 1-3 strided
    axes, any lattice and stride, and the first part's memory layout kept: a part laid out
    channels-major (axes 1 and 0 swapped in memory) gives a channels-major result."""
    import array_api_compat.numpy as compat

    d = data.draw(st.integers(1, 3))
    lattice = data.draw(st.lists(st.integers(0, 3), min_size=d, max_size=d))
    stride = tuple(data.draw(st.lists(st.integers(1, 3), min_size=d, max_size=d)))
    shape = tuple(lead) + (2,) + tuple(lattice)
    dtype = np.int16 if integer else np.float32
    parts = []
    for i in range(int(np.prod(stride))):
        part = np.arange(int(np.prod(shape)), dtype=dtype).reshape(shape) * 10 + i
        if channels_major and len(shape) > 2:
            part = np.ascontiguousarray(np.swapaxes(part, 0, 1)).swapaxes(0, 1)
        parts.append(part)
    want = _windows.interleave(compat, parts, stride)
    got = _windows.interleave(_numpy_namespace(), parts, stride)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)
    for residue in np.ndindex(*stride):
        at = (...,) + tuple(slice(r, None, s) for r, s in zip(residue, stride))
        np.testing.assert_array_equal(got[at], parts[np.ravel_multi_index(residue, stride)])
    if channels_major and len(shape) > 2 and got.size and min(shape[:2]) > 1:
        assert got.strides[1] > got.strides[0]


def test_col2im_takes_the_offsets_values_as_a_list_or_stacked(be):
    """``col2im`` of the kernel offsets' values given one by one (max pooling's gradient)
    equals col2im of their stack, with one leading axis and with two."""
    xp = be.xp

    def standard(a):  # the kernels' arrays (MXNet's numpy arrays for legacy NDArrays)
        return be.adapter.to_standard(be.asarray(a))

    rng = np.random.default_rng(0)
    kernel, stride, dilation, canvas = (2, 3), (2, 2), (1, 1), (7, 8)
    out = (3, 3)
    values = rng.standard_normal((4, 6) + out).astype(np.float32)
    listed = [standard(values[:, i, ...]) for i in range(6)]
    want = _windows.col2im(xp, standard(values), kernel, stride, dilation, canvas)
    got = _windows.col2im(xp, listed, kernel, stride, dilation, canvas)
    np.testing.assert_allclose(be.to_numpy(got), be.to_numpy(want), rtol=0, atol=1e-6)
    two = [standard(values[:, i, ...].reshape((2, 2) + out)) for i in range(6)]
    got2 = _windows.col2im(xp, two, kernel, stride, dilation, canvas, lead=2)
    np.testing.assert_allclose(
        be.to_numpy(got2).reshape((4,) + canvas), be.to_numpy(want), rtol=0, atol=1e-6
    )


def test_tile_threads_from_several_callers_with_different_thread_counts(small_tiles):
    """Callers in threads of their own, asking for 2, 3 and 4 threads at once (the shared
    pool grows under them): every result is whole and in order."""
    import concurrent.futures

    x = np.arange(24 * 3 * 6 * 6, dtype=np.float32).reshape(24, 3, 6, 6) % 7
    want = pc.max_pool2d(x, 2)

    def call(n):
        with pc.config(threads=n, memory_budget=3 * 36 * 4):
            return [pc.max_pool2d(x, 2) for _ in range(5)]

    with concurrent.futures.ThreadPoolExecutor(3) as callers:
        results = list(callers.map(call, [2, 3, 4] * 2))
    for got in results:
        for y in got:
            np.testing.assert_array_equal(y, want)


@pytest.mark.parametrize("stride", [1, 2])
def test_cache_sized_column_tiles_do_not_change_a_result(be, monkeypatch, stride):
    """A convolution and both its gradients with column buffers in tiles of one or two
    examples (a tiny ``portconv_matmul_tile`` on the backend's namespace) against one tile for
    the whole batch (no tile named: only the memory budget counts)."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((7, 3, 9, 8)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 2)).astype(np.float32)
    budgets = []
    real = _windows.matmul_budget

    def spy(xp, budget):
        budgets.append(real(xp, budget))
        return budgets[-1]

    monkeypatch.setattr(_windows, "matmul_budget", spy)

    def run(budget):  # a budget of its own per run: JAX's compiled kernels are traced again
        with be.run_context(), pc.config(path="generic", memory_budget=budget):
            xv = ag.Variable(be.asarray(x), requires_grad=True)
            wv = ag.Variable(be.asarray(w), requires_grad=True)
            y = ag.conv2d(xv, wv, stride=stride, padding=1)
            g = np.linspace(-1.0, 1.0, num=int(np.prod(y.shape)), dtype=np.float32)
            y.backward(be.asarray(g.reshape(y.shape)))
            return [be.to_numpy(a) for a in (y.data, xv.grad, wv.grad)]

    monkeypatch.delattr(be.xp, "portconv_matmul_tile", raising=False)
    whole = run(memory_budget())
    assert budgets and set(budgets) == {memory_budget()}
    tile = 2 * 3 * 6 * 9 * 8 * 4  # two examples' columns, about
    monkeypatch.setattr(be.xp, "portconv_matmul_tile", tile, raising=False)
    budgets.clear()
    tiled = run(memory_budget() - 1)
    assert budgets and set(budgets) == {tile}  # each kernel (forward, both gradients) tiled
    for got, want in zip(tiled, whole):
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5)
