"""JAX: every op under ``jax.jit``, ``jax.grad`` and ``jax.vmap``; models as pure functions
(``portconv.nn.to_functional``) jitted and differentiated; a jitted training step; the
adapter's devices, DLPack and 64-bit rules; Flax's weights.

The transformations are checked against references JAX did not compute: each op's value
against the same call run eagerly, its gradient against central finite differences of the
generic path on NumPy (float64), its vmapped result against a loop. They run in the jax
session (the suite runs with JAX's 64-bit mode on, as conftest sets it); the Flax layout tests
need no JAX and run on every backend.
"""

from __future__ import annotations

import numpy as np
import pytest

import portconv as pc
import portconv.autograd as ag
from portconv import nn, porting


@pytest.fixture
def jax(be):
    """The jax module, in the jax session only."""
    if be.adapter.name != "jax":
        pytest.skip("JAX transformations; runs in the jax session")
    import jax

    return jax


def _distinct(seed, shape, scale=1.0):
    """Values at least 1/size apart and away from 0 (no max-pooling ties, no ReLU kinks
    within a finite-difference step)."""
    n = int(np.prod(shape))
    v = np.random.default_rng(seed).permutation(n).astype(np.float64) / max(n, 1)
    return ((v + 0.05) * np.where(np.arange(n) % 2, 1.0, -1.0)).reshape(shape) * scale


def _weights(seed, shape):
    return np.random.default_rng(seed).standard_normal(shape) * 0.5


# name -> (fn(*arrays) -> array, the arrays' host values); fn runs under pc.config(path=...)
CASES = {
    "conv1d": (
        lambda x, w, b: pc.conv1d(x, w, b, 2, 1),
        [_distinct(0, (2, 2, 7)), _weights(1, (3, 2, 3)), _weights(2, (3,))],
    ),
    "conv2d same": (
        lambda x, w, b: pc.conv2d(x, w, b, padding="same"),
        [_distinct(0, (2, 2, 5, 6)), _weights(1, (3, 2, 2, 3)), _weights(2, (3,))],
    ),
    "conv2d groups, dilation, (before, after) pairs": (
        lambda x, w: pc.conv2d(x, w, None, 1, ((1, 0), (0, 2)), 2, 2),
        [_distinct(0, (2, 4, 6, 6)), _weights(1, (2, 2, 2, 2))],
    ),
    "conv3d": (
        lambda x, w: pc.conv3d(x, w, stride=(1, 2, 1), padding=1),
        [_distinct(0, (1, 1, 4, 4, 4)), _weights(1, (2, 1, 2, 2, 2))],
    ),
    "conv channels_last": (
        lambda x, w: pc.conv(x, w, padding=1, layout="channels_last"),
        [_distinct(0, (2, 5, 5, 3)), _weights(1, (3, 3, 3, 2))],
    ),
    "convolve": (
        lambda x, w: pc.convolve(x, w, padding="same_lower"),
        [_distinct(0, (1, 2, 5, 5)), _weights(1, (2, 2, 2, 2))],
    ),
    "corr2d": (lambda x, k: pc.corr2d(x, k), [_distinct(0, (5, 6)), _weights(1, (2, 2))]),
    "conv_transpose1d": (
        lambda x, w, b: pc.conv_transpose1d(x, w, b, 2, 1, 1),
        [_distinct(0, (2, 2, 4)), _weights(1, (2, 3, 3)), _weights(2, (3,))],
    ),
    "conv_transpose2d groups, cropping beyond the kernel": (
        lambda x, w: pc.conv_transpose2d(x, w, None, 3, ((2, 3), (1, 0)), 0, 2),
        [_distinct(0, (1, 4, 3, 3)), _weights(1, (4, 1, 2, 2))],
    ),
    "conv_transpose3d": (
        lambda x, w: pc.conv_transpose3d(x, w, None, 2),
        [_distinct(0, (1, 2, 2, 3, 2)), _weights(1, (2, 1, 2, 2, 2))],
    ),
    "max_pool1d": (lambda x: pc.max_pool1d(x, 3, 2, 1), [_distinct(0, (2, 3, 7))]),
    "max_pool2d ceil_mode": (
        lambda x: pc.max_pool2d(x, 3, 2, 1, ceil_mode=True),
        [_distinct(0, (2, 2, 6, 7))],
    ),
    "max_pool2d dilated": (
        lambda x: pc.max_pool2d(x, 2, 1, 0, dilation=2),
        [_distinct(0, (1, 2, 5, 5))],
    ),
    "max_pool3d full": (
        lambda x: pc.max_pool3d(x, 2, 2, pooling_convention="full"),
        [_distinct(0, (1, 2, 3, 4, 3))],
    ),
    "avg_pool1d": (lambda x: pc.avg_pool1d(x, 3, 2, 1), [_distinct(0, (2, 3, 7))]),
    "avg_pool2d padding beyond half, uncounted": (
        lambda x: pc.avg_pool2d(x, (2, 3), (2, 3), (1, 2), count_include_pad=False),
        [_distinct(0, (2, 2, 5, 7))],
    ),
    "avg_pool3d same": (
        lambda x: pc.avg_pool3d(x, 2, 2, "same"),
        [_distinct(0, (1, 2, 3, 3, 3))],
    ),
    "pool2d": (lambda x: pc.pool2d(x, (2, 2), mode="avg"), [_distinct(0, (4, 5))]),
    "adaptive_max_pool1d": (lambda x: pc.adaptive_max_pool1d(x, 3), [_distinct(0, (2, 2, 7))]),
    "adaptive_avg_pool2d": (
        lambda x: pc.adaptive_avg_pool2d(x, (2, 3)),
        [_distinct(0, (2, 2, 5, 7))],
    ),
    "adaptive_max_pool3d": (
        lambda x: pc.adaptive_max_pool3d(x, (2, None, 1)),
        [_distinct(0, (1, 2, 3, 3, 4))],
    ),
    "global_max_pool": (lambda x: pc.global_max_pool(x), [_distinct(0, (2, 3, 4, 5))]),
    "global_avg_pool": (lambda x: pc.global_avg_pool(x), [_distinct(0, (2, 3, 4, 5))]),
    "relu": (lambda x: ag.relu(x).data, [_distinct(0, (2, 3, 4))]),
    "sigmoid": (lambda x: ag.sigmoid(x).data, [_distinct(0, (2, 3, 4))]),
    "tanh": (lambda x: ag.tanh(x).data, [_distinct(0, (2, 3, 4))]),
    "linear": (
        lambda x, w, b: ag.linear(x, w, b).data,
        [_distinct(0, (3, 4)), _weights(1, (2, 4)), _weights(2, (2,))],
    ),
    "log_softmax": (lambda x: ag.log_softmax(x, axis=1).data, [_distinct(0, (3, 4))]),
    "cross_entropy": (
        lambda x: ag.cross_entropy(x, pc.asarray(np.array([0, 3, 1]), pc.backend_of(x).name)).data,
        [_distinct(0, (3, 4))],
    ),
}
PATHS = ["auto", "generic"]


def _run(fn, arrays, path):
    with pc.config(path=path):
        return fn(*arrays)


def _finite_differences(fn, host, weights, eps=1e-6):
    """d sum(fn(*host) * weights) / d host[i], centrally, on NumPy's generic path."""
    grads = []
    for i, a in enumerate(host):
        g = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            values = []
            for sign in (1.0, -1.0):
                moved = [c.copy() for c in host]
                moved[i][idx] += sign * eps
                values.append(float(np.sum(np.asarray(_run(fn, moved, "generic")) * weights)))
            g[idx] = (values[0] - values[1]) / (2 * eps)
        grads.append(g)
    return grads


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("name", sorted(CASES))
def test_every_op_under_jit(jax, be, name, path):
    fn, host = CASES[name]
    arrays = [be.asarray(a) for a in host]
    eager = _run(fn, arrays, path)
    with pc.config(path=path):
        jitted = jax.jit(fn)(*arrays)
    be.check(jitted, be.to_numpy(eager), rtol=1e-12, atol=1e-12, dtype="float64")
    be.check(eager, np.asarray(_run(fn, host, "generic")), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("name", sorted(CASES))
def test_every_op_under_grad(jax, be, name, path):
    """jax.grad of a loss built from the op (JAX differentiating the native lax kernel, or
    the generic path's array API steps) against finite differences."""
    fn, host = CASES[name]
    arrays = [be.asarray(a) for a in host]
    weights = np.random.default_rng(9).standard_normal(np.shape(_run(fn, host, "generic")))
    w = be.asarray(weights)

    def loss(*arrays):
        return (fn(*arrays) * w).sum()

    with pc.config(path=path):
        grads = jax.jit(jax.grad(loss, argnums=tuple(range(len(arrays)))))(*arrays)
    for got, want in zip(grads, _finite_differences(fn, host, weights)):
        be.check(got, want, rtol=1e-6, atol=1e-7, dtype="float64")


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("name", sorted(CASES))
def test_every_op_under_vmap(jax, be, name, path):
    """jax.vmap over a new leading axis of the first array (the others shared) equals a loop."""
    fn, host = CASES[name]
    stacked = np.stack([host[0], host[0][::-1] * 0.5 + 0.01, -host[0]])
    rest = [be.asarray(a) for a in host[1:]]
    in_axes = (0,) + (None,) * len(rest)
    with pc.config(path=path):
        got = jax.vmap(fn, in_axes=in_axes)(be.asarray(stacked), *rest)
    want = np.stack([be.to_numpy(_run(fn, [be.asarray(s)] + rest, path)) for s in stacked])
    be.check(got, want, rtol=1e-12, atol=1e-12, dtype="float64")


@pytest.mark.parametrize("op", ["conv2d", "max_pool2d", "avg_pool2d"])
def test_vmap_over_the_batch_axis_sees_unbatched_inputs(jax, be, op):
    """``jax.vmap`` over N hands portconv one ``(C, H, W)`` example at a time."""
    x = be.asarray(_distinct(3, (4, 2, 6, 6)))
    w = be.asarray(_weights(4, (3, 2, 3, 3)))
    fn = {
        "conv2d": lambda x: pc.conv2d(x, w, padding=1),
        "max_pool2d": lambda x: pc.max_pool2d(x, 2),
        "avg_pool2d": lambda x: pc.avg_pool2d(x, 3, 2, 1),
    }[op]
    be.check(jax.vmap(fn)(x), be.to_numpy(fn(x)), rtol=1e-12, atol=1e-12)


def test_the_generic_path_runs_compiled_under_each_memory_budget(jax, be):
    """Eagerly, the generic kernels run as one compiled program per call and budget: a budget
    small enough to tile the work gives the same result through its own program."""
    x = be.asarray(_distinct(1, (3, 2, 9, 9)))
    w = be.asarray(_weights(2, (4, 2, 3, 3)))
    whole = pc.conv2d(x, w, padding=1, path="generic")
    with pc.config(memory_budget=2048):  # a few output rows per tile
        tiled = pc.conv2d(x, w, padding=1, path="generic")
        pooled = pc.max_pool2d(x, 3, 1, 1, path="generic")
    be.check(tiled, be.to_numpy(whole), rtol=1e-12, atol=1e-12)
    be.check(pooled, np.asarray(pc.max_pool2d(be.to_numpy(x), 3, 1, 1)), rtol=0, atol=0)
    programs = [k for k in be.adapter._compiled if k[0].__module__ == "portconv.ops.conv"]
    assert programs, "the generic convolution ran op by op"


def test_a_traced_float_target_gives_nan_where_it_cannot_raise(jax, be):
    logits = be.asarray(_distinct(0, (3, 4)))
    whole = be.asarray(np.array([0.0, 3.0, 1.0]))
    split = be.asarray(np.array([0.0, 2.5, 1.0]))

    def loss(z, t):
        return ag.cross_entropy(z, t).data

    be.check(jax.jit(loss)(logits, whole), be.to_numpy(loss(logits, whole)))
    assert np.isnan(be.to_numpy(jax.jit(loss)(logits, split)))
    with pytest.raises(pc.ArgumentError, match="must be whole numbers"):
        loss(logits, split)  # concrete: the error, as on every backend


# -- the adapter ---------------------------------------------------------------------------------


def test_tracers_are_jax_arrays_without_a_device(jax, be):
    seen = []

    def probe(x):
        backend = pc.backend_of(x)
        seen.append((backend.name, backend.device, be.adapter.owns(x)))
        return x

    x = be.asarray(np.ones((2, 3)))
    jax.jit(probe)(x)
    jax.vmap(probe)(x)
    jax.grad(lambda x: probe(x).sum())(x)
    assert seen == [("jax", None, True)] * 3
    # a traced array with a concrete one (a closed-over weight) is one call on its device
    w = be.asarray(np.ones((1, 1, 2, 2)))
    jax.jit(lambda x: pc.conv2d(x, w))(be.asarray(np.ones((1, 1, 3, 3))))
    assert pc.backend_of(x, w).device == be.device


def test_devices_and_copies(jax, be):
    from portconv import cli

    assert be.adapter.default_device() in be.adapter.devices()
    assert cli.parse_device("jax", "cpu") == jax.devices("cpu")[0]
    if not [d for d in jax.devices() if d.platform == "gpu"]:
        msg = "--device: 'cuda' asked for, but JAX has no gpu device 0 here"
        with pytest.raises(pc.ArgumentError, match=msg):
            cli.parse_device("jax", "cuda")
    host = np.arange(6.0).reshape(2, 3)
    y = be.adapter.from_numpy(host)
    host[0, 0] = 99.0  # a copy: the JAX array keeps its value
    assert be.to_numpy(y)[0, 0] == 0.0
    be.check_array(be.adapter.from_numpy(host, like=y), dtype="float64")


def test_64_bit_data_is_refused_where_jax_would_narrow_it(jax, be):
    """JAX's default 32-bit mode would store float64 as float32 without a word."""
    with jax.enable_x64(False):
        with pytest.raises(pc.ArrayTypeError, match=r"jax_enable_x64.*JAX_ENABLE_X64=1"):
            pc.asarray(np.ones(3), "jax")
        with pytest.raises(pc.ArrayTypeError, match="float64 data needs JAX's 64-bit mode"):
            pc.train.fit(
                nn.Sequential(nn.Flatten(), nn.LazyLinear(2)),
                (np.ones((4, 1, 2, 2)), np.array([0, 1, 0, 1])),
                epochs=1,
                lr=0.1,
                backend="jax",
                dtype="float64",
            )
        with pytest.raises(pc.ArrayTypeError, match="int64 data needs"):
            pc.asarray(np.array([2**40]), "jax")
        labels = pc.asarray(np.array([0, 9, 3]), "jax")  # int64 that fits: exact in int32
        assert str(labels.dtype) == "int32" and labels.tolist() == [0, 9, 3]
        x = pc.asarray(np.ones((1, 1, 4, 4), np.float32), "jax")
        y = jax.jit(lambda x: pc.max_pool2d(pc.conv2d(x, x[:, :, :2, :2]), 2))(x)
        be.check(y, np.full((1, 1, 1, 1), 4.0), dtype="float32")


def test_dlpack_shares_read_only_and_copies_where_a_view_could_write(jax, be):
    x = be.asarray(np.arange(6.0).reshape(2, 3))
    n = pc.convert(x, "numpy")
    assert not n.flags.writeable  # a read-only view of JAX's immutable memory
    np.testing.assert_array_equal(n, be.to_numpy(x))
    a = np.arange(4.0)
    j = pc.convert(a, "jax")
    be.check(j, a)
    torch = pytest.importorskip("torch", reason="the torch leg needs torch installed")
    t = pc.convert(x, "torch")
    t[0, 0] = 100.0  # a copy: JAX's array keeps its value
    assert be.to_numpy(x)[0, 0] == 0.0
    with pytest.raises(pc.ArgumentError, match="copy: False asks for a view"):
        pc.convert(x, "torch", copy=False)
    back = pc.convert(torch.arange(3.0), "jax")
    be.check(back, np.arange(3.0), dtype="float32")


# -- models as pure functions, jitted and differentiated ------------------------------------------


def _lenet(be, seed=0):
    nn.manual_seed(seed)
    model = pc.models.LeNetModern()
    model.initialize("xavier", seed=seed)
    return model


def test_a_model_as_a_pure_function_jits_and_differentiates(jax, be):
    model = _lenet(be)
    x = be.asarray(_distinct(5, (4, 1, 28, 28)))
    y = be.asarray(np.array([1, 0, 7, 3]))
    apply, params = model.functional(example=x)
    before = {k: be.to_numpy(v).copy() for k, v in params.items()}
    be.check(jax.jit(apply)(params, x), be.to_numpy(model(x).data), rtol=1e-12, atol=1e-12)

    def loss(params, x, y):
        return ag.cross_entropy(apply(params, x), y).data

    grads = jax.jit(jax.grad(loss))(params, x, y)
    # against portconv.autograd's gradients of the same model (its generic rules)
    with pc.config(path="generic"):
        ag.cross_entropy(model(x), y).backward()
    for name, p in model.named_parameters():
        be.check(grads[name], be.to_numpy(p.grad), rtol=1e-9, atol=1e-12, dtype="float64")
    batched = jax.vmap(apply, in_axes=(None, 0))(params, x[:, None])
    be.check(batched[:, 0], be.to_numpy(apply(params, x)), rtol=1e-12, atol=1e-12)
    for name, p in model.named_parameters():  # the model is left as it was
        np.testing.assert_array_equal(be.to_numpy(p.data), before[name])


def test_running_statistics_are_state(jax, be):
    model = nn.Sequential(nn.LazyConv2d(3, 3), nn.BatchNorm2d(3), nn.ReLU())
    x = be.asarray(_distinct(6, (4, 2, 5, 5)))
    apply, params, state = model.functional(state=True, example=x)
    model.train()
    out, moved = jax.jit(apply)(params, state, x)
    assert set(moved) == {"1.running_mean", "1.running_var"}
    for name, value in state.items():  # the model keeps its own statistics
        np.testing.assert_array_equal(be.to_numpy(dict(model.named_buffers())[name]), value)
    expected = model(x)  # the eager training-mode call moves the model's statistics
    be.check(out, be.to_numpy(expected.data), rtol=1e-12, atol=1e-12)
    for name, value in model.named_buffers():
        be.check(moved[name], be.to_numpy(value), rtol=1e-12, atol=1e-14)
    apply2, params2 = model.functional()
    with pytest.raises(pc.ArgumentError, match=r"running statistics .*state=True"):
        apply2(params2, x)
    model.eval()
    be.check(jax.jit(apply2)(params2, x), be.to_numpy(model(x).data), rtol=1e-12, atol=1e-12)


def test_functional_refuses_what_it_cannot_do_purely(be):
    model = nn.Sequential(nn.Flatten(), nn.LazyLinear(3), nn.Dropout(0.5))
    with pytest.raises(pc.ArgumentError, match="has no parameters yet"):
        nn.to_functional(model)
    x = be.asarray(np.ones((2, 4), np.float32))
    apply, params = nn.to_functional(model, example=x)
    with pytest.raises(pc.ArgumentError, match="Dropout layers draw masks"):
        apply(params, x)
    model.eval()
    with pytest.raises(pc.ArgumentError, match=r"missing: 1\.bias"):
        apply({"1.weight": params["1.weight"]}, x)
    with pytest.raises(pc.ArgumentError, match=r"params\['1.bias'\]: shape \(2,\)"):
        apply({**params, "1.bias": be.asarray(np.zeros(2, np.float32))}, x)
    with pytest.raises(pc.ArrayTypeError, match="expected a dict"):
        apply([params], x)
    be.check(apply(params, x), be.to_numpy(model(x).data))


def test_a_jitted_training_step_follows_portconv_autograd(jax, be):
    """SGD on LeNet, the step jitted through to_functional and jax.grad, equals the same
    steps through portconv.autograd on the same arrays (float64)."""
    x = be.asarray(_distinct(7, (8, 1, 28, 28)))
    y = be.asarray(np.array([1, 0, 7, 3, 2, 9, 4, 4]))
    eager = _lenet(be)
    eager(x)
    opt = pc.optim.SGD(eager.parameters(), lr=0.1)
    traced = _lenet(be)
    apply, params = traced.functional(example=x)

    @jax.jit
    def step(params, x, y):
        def loss(params):
            return ag.cross_entropy(apply(params, x), y).data

        value, grads = jax.value_and_grad(loss)(params)
        return value, {k: params[k] - 0.1 * grads[k] for k in params}

    for _ in range(3):
        value, params = step(params, x, y)
        eager_loss = ag.cross_entropy(eager(x), y)
        opt.zero_grad()
        eager_loss.backward()
        opt.step()
        be.check(value, be.to_numpy(eager_loss.data), rtol=1e-10, atol=1e-12)
    for name, p in eager.named_parameters():
        be.check(params[name], be.to_numpy(p.data), rtol=1e-9, atol=1e-12)


def test_bench_plain_jax_lenet_trains_as_portconvs(jax, be):
    """E1's two jitted JAX steps (through portconv, and the network written in plain JAX) are
    the same network: equal losses and parameters after a few SGD steps (float64)."""
    from portconv import bench

    rng = np.random.default_rng(2)
    sample = rng.standard_normal((6, 1, 28, 28))
    labels = be.asarray(rng.integers(0, 10, 6))
    model = bench._portconv_model("lenet", sample)
    state = {k: np.asarray(v) for k, v in model.state_dict().items()}
    steps = bench.jax_lenet_steps(jax, state, sample)
    (ours, p_ours), (theirs, p_theirs) = steps["portconv"], steps["direct"]
    X = be.asarray(sample)
    for _ in range(3):
        loss_ours, p_ours = ours(p_ours, X, labels)
        loss_theirs, p_theirs = theirs(p_theirs, X, labels)
        be.check(loss_ours, be.to_numpy(loss_theirs), rtol=1e-10, atol=1e-12)
    flat = [a for pair in p_theirs for a in pair]
    for name, other in zip(state, flat):  # (jax.tree_util returns dicts sorted by key)
        be.check(p_ours[name], be.to_numpy(other), rtol=1e-9, atol=1e-12)


def test_float64_curve_equals_numpys_to_1e10(jax, be):
    """The same seed gives the same float64 training curve as NumPy's (tests/test_curves.py
    checks it within float32 tolerance on every backend; JAX meets 1e-10)."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "portconv_test_curves", Path(__file__).with_name("test_curves.py")
    )
    curves = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(curves)
    history, params, _ = curves.run(be.name, be.device, "float64", 2)
    want_history, want_params, _ = curves.numpy_run("float64", 2)
    got, want = curves.curve(history), curves.curve(want_history)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=0)
    assert curves.param_diff(params, want_params) <= 1e-10


# -- Flax's weights: layouts checked against a channels-last forward of Flax's kind ---------------


def _flax_forward(variables, x_nhwc):
    """The book's modern LeNet as Flax computes it: NHWC input, HWIO kernels, flattening
    (N, H, W, C), dense kernels (in, out); written with portconv's channels-last ops."""
    p = variables["params"]["net"]

    def conv(x, layer, padding):
        y = pc.conv2d(x, layer["kernel"], None, 1, padding, layout="channels_last")
        return np.maximum(y + layer["bias"], 0.0)

    def pool(x):
        return pc.max_pool2d(x, 2, 2, layout="channels_last")

    x = pool(conv(x_nhwc, p["layers_0"], 2))
    x = pool(conv(x, p["layers_3"], 0))
    x = x.reshape(x.shape[0], -1)
    for key in ("layers_7", "layers_9"):
        x = np.maximum(x @ p[key]["kernel"] + p[key]["bias"], 0.0)
    return x @ p["layers_11"]["kernel"] + p["layers_11"]["bias"]


def test_flax_lenet_weights_round_trip_with_flax_layouts(be):
    model = pc.models.LeNetModern()
    x = _distinct(8, (2, 1, 28, 28)).astype(np.float32)
    model(be.asarray(x))
    variables = porting.export_flax_params(model)
    p = variables["params"]["net"]
    assert p["layers_0"]["kernel"].shape == (5, 5, 1, 6)  # HWIO
    assert p["layers_7"]["kernel"].shape == (400, 120)  # (in, out)
    theirs = _flax_forward(variables, np.transpose(x, (0, 2, 3, 1)))
    ours = be.to_numpy(model(be.asarray(x)).data)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)
    fresh = pc.models.LeNetModern()
    fresh(be.asarray(x))
    porting.load_flax_params(fresh, variables)
    be.check(fresh(be.asarray(x)).data, ours, rtol=1e-6, atol=1e-6, dtype="float32")


def test_flax_trees_pair_by_order_within_kind(be):
    """Auto-named submodules pair in the order of their numbers even after jax.tree_util
    sorted them as strings (Conv_10 before Conv_2); batch statistics join their layer."""
    model = nn.Sequential(*[nn.LazyConv2d(2, 1) for _ in range(11)], nn.BatchNorm2d(2))
    x = be.asarray(_distinct(9, (1, 2, 3, 3)).astype(np.float32))
    model(x)
    ours = {k: be.to_numpy(v) for k, v in model.state_dict().items()}
    conv = {
        f"Conv_{i}": {
            "kernel": np.transpose(ours[f"{i}.weight"], (2, 3, 1, 0)),
            "bias": ours[f"{i}.bias"],
        }
        for i in range(11)
    }
    tree = {
        "params": dict(sorted(conv.items()))
        | {"BatchNorm_0": {"scale": ours["11.weight"] + 1, "bias": ours["11.bias"]}},
        "batch_stats": {
            "BatchNorm_0": {"mean": ours["11.running_mean"] + 2, "var": ours["11.running_var"]}
        },
    }
    state = porting.flax_to_state_dict(model, tree)
    for i in range(11):
        np.testing.assert_array_equal(state[f"{i}.weight"], ours[f"{i}.weight"])
    np.testing.assert_array_equal(state["11.weight"], ours["11.weight"] + 1)
    np.testing.assert_array_equal(state["11.running_mean"], ours["11.running_mean"] + 2)
    back = porting.export_flax_params(model, like=tree)
    assert set(back["params"]) == set(tree["params"])
    assert set(back["batch_stats"]) == {"BatchNorm_0"}
    np.testing.assert_array_equal(back["params"]["Conv_10"]["kernel"], conv["Conv_10"]["kernel"])


def test_flax_errors_name_both_sides(be):
    model = nn.Sequential(nn.LazyConv2d(2, 3), nn.Flatten(), nn.LazyLinear(4))
    model(be.asarray(np.ones((1, 1, 5, 5), np.float32)))
    good = porting.export_flax_params(model)
    bad = {"params": {"Conv_0": {"kernel": np.ones((3, 3, 1, 5)), "bias": np.ones(5)}}}
    with pytest.raises(pc.ArgumentError, match=r"conv: 1 vs 1, dense: 1 vs 0"):
        porting.load_flax_params(model, bad)
    bad["params"]["Dense_0"] = good["params"]["layers_2"]
    with pytest.raises(
        pc.ArgumentError, match=r"Conv_0/kernel of shape \(3, 3, 1, 5\) -> 0.weight"
    ):
        porting.load_flax_params(model, bad)
    with pytest.raises(pc.ArgumentError, match="'cache' have no portconv counterpart"):
        porting.load_flax_params(model, {**good, "cache": {}})
    with pytest.raises(pc.ArgumentError, match=r"give flatten_shape=\(C, \*spatial\)"):
        odd = nn.Sequential(nn.LazyConv2d(2, (1, 2)), nn.Flatten(), nn.LazyLinear(3))
        odd(be.asarray(np.ones((1, 1, 3, 3), np.float32)))
        porting.export_flax_params(odd)
    state = porting.flax_to_state_dict(
        odd, porting.export_flax_params(odd, flatten_shape=(2, 3, 2)), flatten_shape=(2, 3, 2)
    )
    for k, v in odd.state_dict().items():
        np.testing.assert_array_equal(state[k], be.to_numpy(v))


def test_real_flax_models_load_and_export(jax, be):
    """The JAX edition's BN-LeNet written with Flax (setup style: ``self.net =
    nn.Sequential([...])``, batch norms with statistics): loaded into portconv's BNLeNet it
    computes Flax's logits, and exported without a template it is Flax's own tree."""
    linen = pytest.importorskip("flax.linen", reason="checks against Flax itself; pip install flax")

    class FlaxBNLeNet(linen.Module):
        def setup(self):
            def bn():
                return linen.BatchNorm(use_running_average=True)

            def pool(x):
                return linen.avg_pool(x, (2, 2), strides=(2, 2))

            self.net = linen.Sequential(
                [
                    linen.Conv(6, kernel_size=(5, 5), padding="VALID"),
                    bn(),
                    linen.sigmoid,
                    pool,
                    linen.Conv(16, kernel_size=(5, 5), padding="VALID"),
                    bn(),
                    linen.sigmoid,
                    pool,
                    lambda x: x.reshape((x.shape[0], -1)),
                    linen.Dense(120),
                    bn(),
                    linen.sigmoid,
                    linen.Dense(84),
                    bn(),
                    linen.sigmoid,
                    linen.Dense(10),
                ]
            )

        def __call__(self, x):
            return self.net(x)

    flax_net = FlaxBNLeNet()
    x = np.random.default_rng(0).random((4, 28, 28, 1), dtype=np.float32)  # Flax's dtype
    variables = flax_net.init(jax.random.PRNGKey(0), x)
    moved = jax.tree_util.tree_map(lambda a: a + 0.25, variables["batch_stats"])
    variables = {"params": variables["params"], "batch_stats": moved}
    theirs = np.asarray(flax_net.apply(variables, x))
    model = pc.models.BNLeNet().eval()
    porting.load_flax_params(model, variables)
    ours = be.to_numpy(model(be.asarray(x.transpose(0, 3, 1, 2))).data)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    exported = porting.export_flax_params(model, backend="jax")
    assert jax.tree_util.tree_structure(exported) == jax.tree_util.tree_structure(variables)
    np.testing.assert_array_equal(np.asarray(flax_net.apply(exported, x)), theirs)
