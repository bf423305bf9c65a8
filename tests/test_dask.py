"""portconv on Dask arrays: chunk planning, halos, weights shipped once, laziness, models, and
a ``dask.distributed`` cluster of worker processes on this machine.

The whole suite also runs on Dask through the ``be`` fixture (the dask nox session), with
every array cut into up to three chunks per axis; this module checks what is particular to
Dask against the in-memory NumPy computation, on random chunkings.
"""

from __future__ import annotations

import itertools
import threading

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import portconv as pc

da = pytest.importorskip(
    "dask.array", reason="dask is not installed here; these tests run in the dask session"
)
from portconv.backends.dask import axis_plan  # noqa: E402

from portconv.ops._call import output_size as _output_size  # noqa: E402

# -- the plan of one axis ----------------------------------------------------------------------


@st.composite
def axis_cases(draw):
    k = draw(st.integers(1, 5))
    dil = draw(st.integers(1, 3))
    s = draw(st.integers(1, 4))
    span = dil * (k - 1) + 1
    n = draw(st.integers(max(1, span - 4), 40))
    before = draw(st.integers(0, span - 1))
    after = draw(st.integers(0, span - 1))
    mode = draw(st.sampled_from(["floor", "ceil", "full"]))
    cuts = sorted(set(draw(st.lists(st.integers(1, max(1, n - 1)), max_size=6))) - {n})
    edges = [0] + [c for c in cuts if 0 < c < n] + [n]
    chunks = tuple(b - a for a, b in zip(edges, edges[1:]))
    return n, chunks, k, s, dil, before, after, mode


@given(case=axis_cases())
def test_axis_plan_gives_each_chunk_exactly_its_outputs(case):
    n, chunks, k, s, dil, before, after, mode = case
    out = _output_size(n, k, s, dil, before, after, mode)
    if out < 1:
        return
    in_chunks, out_chunks, halo, blocks = axis_plan(n, chunks, k, s, dil, before, after, out)
    assert sum(in_chunks) == n and sum(out_chunks) == out
    assert halo == max(0, dil * (k - 1) + 1 - s)
    if len(in_chunks) > 1:
        assert min(in_chunks) >= max(halo, 1)
    for i, ((lo, hi, take), size) in enumerate(zip(blocks, in_chunks)):
        last = i == len(blocks) - 1
        have = size + (0 if last else min(halo, sum(in_chunks[i + 1 :])))
        used = have if take < 0 else take
        assert 0 < used <= have
        assert hi < dil * (k - 1) + 1 and lo < dil * (k - 1) + 1
        rule = mode if last else "floor"
        assert _output_size(used, k, s, dil, lo, hi, rule) == out_chunks[i]


# -- ops on random chunkings against the in-memory result --------------------------------------


def chunked(a, chunks):
    return da.from_array(a, chunks=chunks)


@st.composite
def conv_cases(draw):
    d = draw(st.integers(1, 3))
    groups = draw(st.sampled_from([1, 2]))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(d))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(d))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(d))
    padding = tuple((draw(st.integers(0, 3)), draw(st.integers(0, 3))) for _ in range(d))
    spatial = tuple(
        draw(st.integers(max(1, dl * (k - 1) + 1 - lo - hi), 13 if d < 3 else 7))
        for k, dl, (lo, hi) in zip(kernel, dilation, padding)
    )
    n = draw(st.integers(1, 4))
    shape = (n, c_in) + spatial
    chunks = tuple(draw(st.integers(1, s)) for s in shape)
    return shape, (c_out, c_in // groups) + kernel, stride, padding, dilation, groups, chunks


@given(case=conv_cases(), seed=st.integers(0, 2**16))
def test_conv_on_random_chunks_equals_one_call(case, seed):
    shape, wshape, stride, padding, dilation, groups, chunks = case
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal(shape), rng.standard_normal(wshape)
    b = rng.standard_normal(wshape[0])
    ref = pc.conv(x, w, b, stride, padding, dilation, groups)
    y = pc.conv(chunked(x, chunks), w, b, stride, padding, dilation, groups)
    assert isinstance(y, da.Array)
    assert y.chunks[0] == chunked(x, chunks).chunks[0]  # batch chunks are kept
    np.testing.assert_allclose(y.compute(), ref, rtol=1e-12, atol=1e-12)


@st.composite
def pool_cases(draw):
    d = draw(st.integers(1, 3))
    kind = draw(st.sampled_from(["max", "avg"]))
    kernel = tuple(draw(st.integers(1, 4)) for _ in range(d))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(d)) if kind == "max" else (1,) * d
    stride = tuple(draw(st.integers(1, 4)) for _ in range(d))
    padding = tuple(
        (draw(st.integers(0, dl * (k - 1))), draw(st.integers(0, dl * (k - 1))))
        for k, dl in zip(kernel, dilation)
    )
    spatial = tuple(
        draw(st.integers(max(1, dl * (k - 1) + 1 - lo - hi), 14 if d < 3 else 7))
        for k, dl, (lo, hi) in zip(kernel, dilation, padding)
    )
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 3))) + spatial
    chunks = tuple(draw(st.integers(1, s)) for s in shape)
    rule = draw(st.sampled_from([{}, {"ceil_mode": True}, {"pooling_convention": "full"}]))
    if kind == "avg":
        rule["count_include_pad"] = draw(st.booleans())
    else:
        rule["dilation"] = dilation
    return kind, shape, kernel, stride, padding, rule, chunks


@given(case=pool_cases(), seed=st.integers(0, 2**16))
def test_pooling_on_random_chunks_equals_one_call(case, seed):
    kind, shape, kernel, stride, padding, rule, chunks = case
    x = np.random.default_rng(seed).standard_normal(shape)
    op = pc.max_pool if kind == "max" else pc.avg_pool
    ref = op(x, kernel, stride, padding, **rule)
    y = op(chunked(x, chunks), kernel, stride, padding, **rule)
    assert isinstance(y, da.Array)
    np.testing.assert_allclose(y.compute(), ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_adaptive_and_global_pooling_keep_batch_chunks(kind):
    x = np.random.default_rng(1).standard_normal((5, 3, 11, 9))
    xd = chunked(x, (2, 2, 4, 4))
    adaptive = getattr(pc, f"adaptive_{kind}_pool2d")
    y = adaptive(xd, (3, 4))
    assert y.chunks[0] == (2, 2, 1)
    np.testing.assert_allclose(y.compute(), adaptive(x, (3, 4)), rtol=1e-12)
    glob = getattr(pc, f"global_{kind}_pool")
    np.testing.assert_allclose(glob(xd).compute(), glob(x), rtol=1e-12)


def test_conv_transpose_and_channels_last_and_unbatched():
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((4, 4, 7, 6)), rng.standard_normal((4, 3, 3, 3))
    xd = chunked(x, (3, 2, 4, 3))
    ref = pc.conv_transpose(x, w, None, 2, 1, 1, 1)
    y = pc.conv_transpose(xd, w, None, 2, 1, 1, 1)
    assert y.chunks[0] == (3, 1)
    np.testing.assert_allclose(y.compute(), ref, rtol=1e-12)
    wl = rng.standard_normal((3, 3, 4, 5))  # (*kernel, C_in, C_out)
    xl = np.moveaxis(x, 1, -1)
    ref = pc.conv2d(xl, wl, padding=1, layout="channels_last")
    got = pc.conv2d(chunked(xl, (2, 3, 3, 4)), wl, padding=1, layout="channels_last")
    np.testing.assert_allclose(got.compute(), ref, rtol=1e-12)
    np.testing.assert_allclose(
        pc.max_pool2d(chunked(x[0], (2, 3, 3)), 3, 2, 1).compute(),
        pc.max_pool2d(x[0], 3, 2, 1),
    )


# -- the graph: weights once, nothing computed early ----------------------------------------------


def _tasks_holding(graph, array) -> int:
    """How many tasks of ``graph`` embed a copy of ``array``'s data."""
    hits = 0
    for task in graph.values():
        stack = [task]
        while stack:
            item = stack.pop()
            if isinstance(item, np.ndarray) and item.shape == array.shape:
                hits += 1
                break
            for attr in ("args", "kwargs", "value"):  # dask's Task objects
                inner = getattr(item, attr, None)
                if isinstance(inner, dict):
                    stack.extend(inner.values())
                elif isinstance(inner, (tuple, list)):
                    stack.extend(inner)
                elif inner is not None and not callable(inner):
                    stack.append(inner)
            if isinstance(item, (tuple, list)):
                stack.extend(item)
    return hits


def test_weights_enter_the_graph_once_not_once_per_chunk():
    rng = np.random.default_rng(3)
    x = chunked(rng.standard_normal((16, 3, 12, 12)), (2, 3, 6, 6))  # 32 chunks
    w = rng.standard_normal((7, 3, 3, 3))
    y = pc.conv2d(x, w, None, 1, 1)
    graph = dict(y.__dask_graph__())
    assert _tasks_holding(graph, w) == 1
    assert y.numblocks == (8, 1, 2, 2)


def test_ops_are_lazy_until_computed():
    calls = []
    lock = threading.Lock()

    def load(block):
        with lock:
            calls.append(block.shape)
        return block

    x = chunked(np.ones((4, 2, 8, 8)), (1, 2, 4, 8)).map_blocks(load, meta=np.ones((0,) * 4))
    y = pc.max_pool2d(pc.conv2d(x, np.ones((2, 2, 3, 3)), padding=1), 2)
    assert calls == []
    assert y.shape == (4, 2, 4, 4) and y.chunks[0] == (1, 1, 1, 1)
    np.testing.assert_allclose(
        y.compute(),
        pc.max_pool2d(pc.conv2d(np.ones((4, 2, 8, 8)), np.ones((2, 2, 3, 3)), padding=1), 2),
    )
    assert len(calls) >= 8


def test_chunks_run_under_the_memory_budget_of_the_caller(monkeypatch):
    import importlib

    conv_module = importlib.import_module("portconv.ops.conv")
    seen = []
    plan = conv_module._plan

    def spy(n, c, kernel, out, item, budget, xp):
        seen.append(budget)
        return plan(n, c, kernel, out, item, budget, xp)

    monkeypatch.setattr(conv_module, "_plan", spy)
    x = chunked(np.ones((4, 1, 8, 8)), (2, 1, 8, 8))
    with pc.config(memory_budget=4096):
        y = pc.conv2d(x, np.ones((1, 1, 3, 3)))
    y.compute(scheduler="threads")  # outside the config, on worker threads
    assert seen and set(seen) == {4096}


def test_training_state_is_persisted_as_one_chunk_per_array():
    adapter = pc.get_adapter("dask")
    grad = da.ones((6, 4), chunks=(2, 2)) * 2  # lazy, six chunks
    loss = da.ones((), dtype=np.float64).sum()
    host = np.ones(3)
    settled = adapter.settle([grad, host, loss])
    assert settled[0].npartitions == 1 and settled[1] is host
    assert len(settled[0].__dask_graph__()) == 1  # computed: no history left in its graph
    np.testing.assert_array_equal(settled[0].compute(), np.full((6, 4), 2.0))
    assert float(settled[2].compute()) == 1.0


# -- mixing libraries, errors ---------------------------------------------------------------------


def test_numpy_weights_join_a_dask_call_other_libraries_do_not():
    x = chunked(np.ones((2, 1, 5, 5)), (1, 1, 5, 5))
    assert pc.backend_of(x, np.ones(3)).name == "dask"
    assert pc.backend_of(np.ones(3), x).name == "dask"
    strict = pytest.importorskip("array_api_strict", reason="array-api-strict not installed")
    with pytest.raises(TypeError, match="arrays of two libraries in one call"):
        pc.conv2d(x, strict.ones((1, 1, 3, 3)))


def test_unknown_chunk_sizes_are_refused_with_the_fix():
    x = da.from_array(np.arange(50.0).reshape(2, 1, 5, 5), chunks=(1, 1, 5, 5))
    masked = x[x[:, 0, 0, 0] >= 0]  # chunk sizes unknown until computed
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        pc.conv2d(masked, np.ones((1, 1, 3, 3)))
    y = pc.conv2d(masked.compute_chunk_sizes(), np.ones((1, 1, 3, 3)))
    assert y.shape == (2, 1, 3, 3)


def test_convert_to_and_from_dask():
    a = np.arange(12.0).reshape(3, 4)
    d = pc.convert(a, to="dask")
    assert isinstance(d, da.Array)
    a[0, 0] = 99.0  # a copy: the Dask array does not see later writes
    np.testing.assert_array_equal(pc.convert(d, to="numpy"), np.arange(12.0).reshape(3, 4))


# -- models ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["LeNetModern", "BNLeNet", "ResNet18"])
def test_model_inference_on_batch_and_spatial_chunks(name):
    from portconv import models
    from portconv.autograd import no_grad

    shape = (6, 1, 64, 64) if name == "ResNet18" else (10, 1, 28, 28)
    pc.nn.init.manual_seed(0)
    model = getattr(models, name)(**({"num_classes": 10} if name == "ResNet18" else {}))
    x = np.random.default_rng(4).standard_normal(shape).astype(np.float32)
    with no_grad():
        model(x[:2])  # parameters drawn on NumPy (a training-mode call: running statistics move)
        model.eval()
        ref = model(x).data
        xd = chunked(x, (2, 1, shape[2] // 2, shape[3] // 3))
        model.to(xd)
        y = model(xd).data
    assert isinstance(y, da.Array) and y.chunks == (
        (2, 2, 2) if name == "ResNet18" else (2,) * 5,
        (10,),
    )
    weight = next(iter(model.parameters())).data
    assert isinstance(weight, da.Array) and weight.npartitions == 1  # one key per weight
    np.testing.assert_allclose(y.compute(), ref, rtol=2e-5, atol=2e-5)


# -- a cluster of worker processes ---------------------------------------------------------


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip(
        "distributed", reason="dask.distributed is not installed; runs in the dask session"
    )
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        memory_limit="1GiB",
        dashboard_address=None,
    )
    # not the default scheduler: only client.compute() below runs on the cluster
    with cluster, distributed.Client(cluster, set_as_default=False) as c:
        yield c


def test_ops_run_on_a_local_cluster(client):
    rng = np.random.default_rng(5)
    x, w = rng.standard_normal((8, 3, 20, 20)), rng.standard_normal((4, 3, 5, 5))
    y = pc.max_pool2d(pc.conv2d(chunked(x, (2, 3, 10, 10)), w, None, 2, 2), 3, 2, 1, ceil_mode=True)
    ref = pc.max_pool2d(pc.conv2d(x, w, None, 2, 2), 3, 2, 1, ceil_mode=True)
    got = client.compute(y).result()
    np.testing.assert_allclose(got, ref, rtol=1e-12)
    who = client.run(lambda: __import__("os").getpid())
    assert len(set(who.values())) == 2  # two worker processes


def test_model_inference_on_a_local_cluster(client):
    from portconv import models
    from portconv.autograd import no_grad

    pc.nn.init.manual_seed(1)
    model = models.LeNetModern()
    x = np.random.default_rng(6).standard_normal((64, 1, 28, 28)).astype(np.float32)
    with no_grad():
        model.eval()
        ref = model(x).data
        y = model.to(chunked(x, (16, 1, 28, 28)))(chunked(x, (16, 1, 28, 28))).data
    got = client.compute(y).result()
    np.testing.assert_allclose(got, ref, rtol=2e-5, atol=2e-5)


def test_the_plans_cover_every_combination_of_small_axes():
    # exhaustive over small sizes: every chunking of a 1-D axis of length up to 9
    for n, k, s, pad in itertools.product(range(1, 10), (1, 2, 3), (1, 2, 3), (0, 1)):
        if 2 * pad >= k + (k == 1):
            continue
        x = np.arange(n, dtype=np.float64)[None, None] ** 2
        ref = pc.max_pool1d(x, k, s, pad, ceil_mode=True) if n + 2 * pad >= k else None
        if ref is None:
            continue
        for cut in range(1, n + 1):
            y = pc.max_pool1d(chunked(x, (1, 1, cut)), k, s, pad, ceil_mode=True).compute()
            np.testing.assert_array_equal(y, ref)
