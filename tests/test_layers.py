"""The layer classes themselves, on every backend: declared classes with docstrings whose
examples run; parameters created at construction where the input size is given (and moved by
the first call without breaking an optimiser's references, with the seeded values of a lazy
layer); a refused first call that leaves a layer as it was; thread-safe first calls; argument
checks at construction and input checks at the call, naming the argument and, inside a model,
the layer; state dicts with or without the ``net.`` prefix; and printouts (``repr`` and
``layer_summary``) as each framework prints them, against ``torch.nn`` in the torch session and
``mxnet.gluon.nn`` in the MXNet sessions.
"""

from __future__ import annotations

import doctest
import inspect
import io
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import portconv as pc
import portconv.autograd as ag
from portconv import models, nn
from portconv.nn import layers as L
from portconv.optim import SGD


def _data(y):
    return y.data if isinstance(y, ag.Variable) else y


def _rand(shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _host(be, model) -> dict[str, np.ndarray]:
    return {k: be.to_numpy(v) for k, v in model.state_dict().items()}


# -- declared classes ------------------------------------------------------------------------------

LAYER_NAMES = sorted(
    n
    for n in nn.__all__
    if isinstance(getattr(nn, n), type)
    and issubclass(getattr(nn, n), nn.Module)
    and n not in ("Module", "Sequential")
)
ALIASES = {"ConvTranspose2D": "Conv2DTranspose"}  # an older portconv name kept for its users


@pytest.mark.parametrize("name", LAYER_NAMES)
def test_every_layer_is_a_declared_class_with_a_numpydoc_docstring(name):
    cls = getattr(nn, name)
    assert cls.__name__ == ALIASES.get(name, name) and cls.__qualname__ == cls.__name__
    assert cls.__module__ in ("portconv.nn.layers", "portconv.nn.extra_layers")
    source = inspect.getsource(cls)
    assert source.startswith(f"class {cls.__name__}("), source[:80]  # grep finds it
    doc = inspect.getdoc(cls) or ""
    assert "Shape\n-----" in doc and "Examples\n--------\n>>> " in doc, name
    if inspect.signature(cls).parameters:
        assert "Parameters\n----------" in doc, name


@pytest.mark.parametrize("module", [L, nn.module, pc.optim, nn._checks], ids=lambda m: m.__name__)
def test_docstring_examples_run(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and (result.attempted > 0 or module is nn._checks)


# -- parameters created at construction ------------------------------------------------------------


def _eager_net():
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2),
        nn.Sigmoid(),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(6 * 14 * 14, 10),
    )


def _lazy_net():
    return nn.Sequential(
        nn.LazyConv2d(6, 5, padding=2),
        nn.Sigmoid(),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.LazyLinear(10),
    )


def test_given_input_sizes_create_numpy_float32_parameters_at_construction():
    conv, fc = nn.Conv2d(1, 6, 5), nn.Linear(400, 120)
    assert [n for n, _ in conv.named_parameters()] == ["weight", "bias"]
    for p in conv.parameters() + fc.parameters():
        assert isinstance(p.data, np.ndarray) and p.data.dtype == np.float32
    assert conv.weight.shape == (6, 1, 5, 5) and fc.weight.shape == (120, 400)
    assert nn.BatchNorm2d(3).running_var.dtype == np.float32
    assert nn.Conv2D(4, 3, in_channels=2).weight.shape == (4, 2, 3, 3)  # Gluon's, size given
    assert nn.LazyConv2d(6, 5).parameters() == [] and nn.Conv2D(4, 3).parameters() == []


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_first_call_moves_eager_parameters_with_the_lazy_draws_values(be, dtype):
    """Conv2d(1, 6, 5) and LazyConv2d(6, 5) from one seed hold the same values after the first
    call, in the input's library, device and dtype (a float64 model gets the float64 draw)."""
    x = be.asarray(_rand((2, 1, 28, 28), dtype=dtype))
    nn.manual_seed(3)
    eager = _eager_net()
    params = eager.parameters()
    opt = SGD(params, lr=0.1)  # before the first call, as in PyTorch
    y_eager = eager(x)
    nn.manual_seed(3)
    lazy = _lazy_net()
    y_lazy = lazy(x)
    assert (
        [id(p) for p in eager.parameters()]
        == [id(p) for p in params]
        == [id(p) for p in opt.params]
    )
    got, want = _host(be, eager), _host(be, lazy)
    assert list(got) == list(want)
    for name in got:
        be.check_array(eager.state_dict()[name], dtype=dtype)
        assert got[name].dtype == np.dtype(dtype)
        assert np.array_equal(got[name], want[name]), name
    be.check(_data(y_eager), be.to_numpy(_data(y_lazy)), rtol=0, atol=0, dtype=dtype)


def test_initialize_redraws_untouched_parameters_as_a_lazy_layer_would(be):
    """LeNet5 has its input sizes; choosing Xavier after construction (its init= argument)
    gives the values a lazy LeNet5 would draw on its first call."""

    class LazyLeNet5(models.LeNet5):
        def __init__(self):
            nn.Module.__init__(self)
            self.conv1 = nn.LazyConv2d(20, 5, 1)
            self.conv2 = nn.LazyConv2d(20, 5, 1)
            self.fc1 = nn.LazyLinear(500)
            self.fc2 = nn.LazyLinear(10)

    x = be.asarray(_rand((1, 1, 32, 32)))
    states = []
    for make in (lambda: models.LeNet5(init="xavier"), lambda: LazyLeNet5().initialize("xavier")):
        nn.manual_seed(0)
        model = make()
        model(x)
        states.append(_host(be, model))
    assert list(states[0]) == list(states[1])
    for name in states[0]:
        assert np.array_equal(states[0][name], states[1][name]), name
    # force_reinit redraws in place: an optimiser keeps its references
    model = models.LeNet5()
    model(x)
    opt = SGD(model.parameters(), lr=0.1)
    before = be.to_numpy(model.conv1.weight.data).copy()
    model.initialize("xavier", force_reinit=True)
    assert opt.params[0] is model.conv1.weight
    be.check_array(model.conv1.weight.data, dtype="float32")
    assert not np.array_equal(be.to_numpy(model.conv1.weight.data), before)


def test_seeding_after_construction_decides_the_values_as_for_lazy_layers(be):
    """train.fit's order: the model first, then nn.manual_seed(seed), then the first call.
    The first call draws the values, as a lazy layer does, so the seed decides them."""
    x = be.asarray(_rand((2, 1, 28, 28)))
    states = []
    for make in (_eager_net, _lazy_net):
        model = make()
        nn.manual_seed(11)
        model(x)
        states.append(_host(be, model))
    for name in states[1]:
        assert np.array_equal(states[0][name], states[1][name]), name


def test_eager_and_lazy_layers_draw_in_the_order_they_run(be):
    """Parameters and dropout masks come off one stream in the order the first call meets
    them, whichever layers had their sizes given."""

    def make(lazy):
        return nn.Sequential(
            nn.LazyConv2d(4, 3),
            nn.Dropout(0.5),
            nn.Flatten(),
            nn.LazyLinear(5) if lazy else nn.Linear(4 * 6 * 6, 5),
            nn.Dropout(0.2),
            nn.LazyLinear(3),
        )

    x = be.asarray(_rand((2, 3, 8, 8)))
    runs = []
    for lazy in (True, False):
        nn.manual_seed(2)
        model = make(lazy)
        y = be.to_numpy(_data(model(x)))
        runs.append((y, _host(be, model)))
    assert np.array_equal(runs[0][0], runs[1][0])
    for name in runs[0][1]:
        assert np.array_equal(runs[0][1][name], runs[1][1][name]), name


def test_values_shown_before_the_first_call_are_the_ones_it_draws(be):
    nn.manual_seed(3)
    model = _eager_net()
    shown = {k: np.array(v) for k, v in model.state_dict().items()}
    model(be.asarray(_rand((2, 1, 28, 28))))
    got = _host(be, model)
    assert list(got) == list(shown)
    for name in got:
        assert np.array_equal(got[name], shown[name]), name


def test_values_written_before_the_first_call_are_kept(be):
    conv = nn.Conv2d(1, 2, 3)
    conv.weight.data[...] = 0.25  # in place, as the book's own initialisation code does
    conv.bias.data = np.array([1.0, -1.0], np.float32)  # replaced
    x = _rand((1, 1, 5, 5))
    y = conv(be.asarray(x))
    be.check(conv.weight.data, np.full((2, 1, 3, 3), 0.25), dtype="float32")
    be.check(conv.bias.data, [1.0, -1.0], dtype="float32")
    window_sums = np.lib.stride_tricks.sliding_window_view(x[0, 0], (3, 3)).sum(axis=(2, 3))
    expected = np.stack([0.25 * window_sums + 1, 0.25 * window_sums - 1])[None]
    be.check(_data(y), expected, rtol=1e-5, atol=1e-6, dtype="float32")


def test_fit_seed_decides_parameters_given_their_sizes():
    """train.fit(seed=...) seeds after the model exists: equal for eager and lazy layers."""
    rng = np.random.default_rng(0)
    data = (rng.standard_normal((8, 1, 28, 28)).astype(np.float32), rng.integers(0, 10, 8))
    finals = []
    for make in (_eager_net, _lazy_net):
        model = make()
        pc.train.fit(model, data, epochs=1, lr=0.1, batch_size=4, seed=5)
        finals.append({k: np.asarray(v) for k, v in model.state_dict().items()})
    for name in finals[1]:
        assert np.array_equal(finals[0][name], finals[1][name]), name


def test_loading_before_the_first_call_keeps_the_parameter_objects(be):
    nn.manual_seed(1)
    src = _eager_net()
    src(_rand((1, 1, 28, 28)))
    state = {k: np.asarray(v) for k, v in src.state_dict().items()}
    dst = _eager_net()
    ids = [id(p) for p in dst.parameters()]
    dst.load_state_dict(state)
    assert [id(p) for p in dst.parameters()] == ids
    x = _rand((2, 1, 28, 28))
    y = dst(be.asarray(x))
    be.check(_data(y), np.asarray(_data(src(x))), rtol=1e-5, atol=1e-6, dtype="float32")


# -- a refused first call leaves the layer as it was ----------------------------------------------


@pytest.mark.parametrize(
    "make, shape, wrong",
    [
        (lambda: nn.Conv2d(3, 4, 3), (1, 3, 8, 8), (1, 2, 8, 8)),
        (lambda: nn.LazyConv2d(4, 3), (1, 3, 8, 8), (3, 8)),
        (lambda: nn.LazyLinear(4), (2, 3), None),
        (lambda: nn.Linear(3, 4), (2, 3), (2, 5)),
        (lambda: nn.LazyBatchNorm2d(), (2, 3, 4, 4), (2, 3, 4)),
        (lambda: nn.Dense(4), (2, 3, 2, 2), None),
        (lambda: models.LeNet(), (2, 1, 28, 28), (28, 28)),
        (lambda: models.LeNet5(), (2, 1, 32, 32), (2, 3, 32, 32)),
    ],
)
def test_refused_first_call_does_not_break_a_layer(be, make, shape, wrong):
    layer = make()
    before = [(n, id(p), np.array(p.data)) for n, p in layer.named_parameters()]
    bad = [
        (
            be.asarray(np.zeros(shape, np.int64)),
            pc.ArrayTypeError,
            "input: expected a real floating",
        ),
        (None, pc.ArrayTypeError, "input: expected an array"),
        ([[1.0, 2.0]], pc.ArrayTypeError, r"input: .*got an object of type list"),
    ]
    if wrong is not None:
        bad.append((be.asarray(np.zeros(wrong, np.float32)), pc.ArgumentError, "input"))
    for x, error, message in bad:
        with pytest.raises(error, match=message):
            layer(x)
        after = [(n, id(p), np.array(p.data)) for n, p in layer.named_parameters()]
        assert [(n, i) for n, i, _ in after] == [(n, i) for n, i, _ in before]
        assert all(np.array_equal(a[2], b[2]) for a, b in zip(after, before))
        assert all(isinstance(p.data, np.ndarray) for p in layer.parameters())  # not moved
    y = layer(be.asarray(_rand(shape)))
    be.check_array(_data(y), dtype="float32")
    for p in layer.parameters():
        be.check_array(p.data, dtype="float32")


# -- threads ---------------------------------------------------------------------------------------


def _mlp():
    return nn.Sequential(nn.LazyLinear(16), nn.LazyBatchNorm1d(), nn.ReLU(), nn.LazyLinear(4))


THREADED = {  # model, input shape (BNLeNet and the MLP: lazy batch norms, parameters and buffers)
    "LeNet": (models.LeNet, (2, 1, 28, 28)),
    "LeNet5": (models.LeNet5, (2, 1, 32, 32)),
    "BNLeNet": (models.BNLeNet, (2, 1, 28, 28)),
    "MLP": (_mlp, (8, 12)),
    "EagerMLP": (
        lambda: nn.Sequential(nn.Linear(12, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 4)),
        (8, 12),
    ),
}
CONVOLUTIONAL = ("LeNet", "LeNet5", "BNLeNet")
MXNET_THREADS = (
    "MXNet 1.x does not take convolutions from several threads at once: its native "
    "convolution corrupts a weight the threads share (oneDNN reorders it in place) and the "
    "generic path stalls in concurrent matmuls; the MLP cases check creation on MXNet"
)


@pytest.mark.parametrize("name", list(THREADED))
def test_eight_threads_making_the_first_call_get_the_seeded_parameters(be, name):
    make, shape = THREADED[name]
    if be.adapter.name == "mxnet" and name in CONVOLUTIONAL:
        pytest.skip(MXNET_THREADS)
    x = be.asarray(_rand(shape, seed=4))
    nn.manual_seed(0)
    ref = make().eval()
    expected = be.to_numpy(_data(ref(x)))
    ref_state = _host(be, ref)
    for trial in range(3):
        nn.manual_seed(0)
        model = make().eval()
        outputs, errors = _first_calls(be, model, x, 8)
        assert not errors, errors
        state = _host(be, model)
        assert list(state) == list(ref_state)
        for key in state:
            assert np.array_equal(state[key], ref_state[key]), (trial, key)
        for out in outputs:
            assert np.array_equal(out, expected), trial


def _first_calls(be, model, x, n):
    """``n`` threads calling ``model(x)`` at once: their outputs (host arrays) and errors."""
    barrier = threading.Barrier(n)
    outputs: list = [None] * n
    errors: list = []

    def call(i):
        try:
            barrier.wait()
            with be.run_context():
                outputs[i] = be.to_numpy(_data(model(x)))
        except BaseException as exc:  # reported by the caller
            errors.append(exc)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outputs, errors


# -- arguments at construction ---------------------------------------------------------------------

REFUSED = [
    (
        lambda: nn.Conv2d("3", 6, 5),
        pc.ArrayTypeError,
        "in_channels: expected a positive int, got '3'",
    ),
    (lambda: nn.Conv2d(None, 6, 5), pc.ArrayTypeError, "in_channels: .*None.*use LazyConv2d"),
    (
        lambda: nn.Conv2d(0, 6, 5),
        pc.ArgumentError,
        "in_channels: expected a positive int, got 0; .*LazyConv2d",
    ),
    (lambda: nn.Conv2d(-1, 6, 5), pc.ArgumentError, "in_channels"),
    (lambda: nn.Conv2d(3.0, 6, 5), pc.ArrayTypeError, "in_channels"),
    (lambda: nn.Conv2d(True, 6, 5), pc.ArrayTypeError, "in_channels"),
    (lambda: nn.Conv2d(3, 0, 5), pc.ArgumentError, "out_channels"),
    (lambda: nn.Conv2d(3, 6, 0), pc.ArgumentError, "kernel_size"),
    (
        lambda: nn.Conv2d(3, 6, 5, groups=2),
        pc.ArgumentError,
        "groups: in_channels=3 is not divisible",
    ),
    (lambda: nn.Conv2d(4, 6, 5, groups=4), pc.ArgumentError, "groups: out_channels=6"),
    (lambda: nn.Conv2d(3, 6, 5, padding=-1), pc.ArgumentError, "padding"),
    (lambda: nn.Conv2d(3, 6, 5, padding="full"), pc.ArgumentError, "padding"),
    (lambda: nn.Conv2d(3, 6, 5, bias="no"), pc.ArrayTypeError, "bias"),
    (lambda: nn.ConvTranspose2d(0, 6, 5), pc.ArgumentError, "in_channels"),
    (lambda: nn.ConvTranspose2d(3, 6, 5, padding="same"), pc.ArgumentError, "padding"),
    (lambda: nn.Conv2D(6, 5, in_channels="3"), pc.ArrayTypeError, "in_channels"),
    (lambda: nn.Conv2D(6, 5, in_channels=-2), pc.ArgumentError, "in_channels"),
    (lambda: nn.Conv2D(6, 5, activation="gelu"), pc.ArgumentError, "activation"),
    (lambda: nn.Conv2D(6, 5, layout="NCW"), pc.ArgumentError, "layout"),
    (lambda: nn.Linear(0, 5), pc.ArgumentError, "in_features"),
    (lambda: nn.Linear(None, 5), pc.ArrayTypeError, "in_features"),
    (lambda: nn.Linear(3, 0), pc.ArgumentError, "out_features"),
    (lambda: nn.Dense(10, in_units="4"), pc.ArrayTypeError, "in_units"),
    (lambda: nn.BatchNorm2d(3, eps="1e-5"), pc.ArrayTypeError, "eps: expected a real number"),
    (lambda: nn.BatchNorm2d(3, eps=-1e-5), pc.ArgumentError, r"eps: expected a number >= 0"),
    (lambda: nn.BatchNorm2d(3, eps=float("nan")), pc.ArgumentError, "eps: expected a finite"),
    (lambda: nn.BatchNorm2d(3, eps=float("inf")), pc.ArgumentError, "eps"),
    (lambda: nn.BatchNorm(epsilon="small"), pc.ArrayTypeError, "epsilon|eps"),
    (lambda: nn.BatchNorm2d(3, momentum=1.5), pc.ArgumentError, "momentum"),
    (lambda: nn.BatchNorm2d(3, momentum="0.1"), pc.ArrayTypeError, "momentum"),
    (lambda: nn.BatchNorm2d("3"), pc.ArrayTypeError, "num_features"),
    (lambda: nn.BatchNorm2d(3, in_channels=4), pc.ArgumentError, "num_features"),
    (lambda: nn.Dropout("0.5"), pc.ArrayTypeError, "p"),
    (lambda: nn.Dropout(float("nan")), pc.ArgumentError, "p"),
    (lambda: nn.Flatten(1.5), pc.ArgumentError, "start_dim"),
    (lambda: nn.MaxPool2d(2, 2, 0, 1, "yes"), pc.ArrayTypeError, "return_indices"),
    (lambda: nn.MaxPool2d(0), pc.ArgumentError, "kernel_size"),
    (lambda: nn.MaxPool2d(), pc.ArgumentError, "kernel_size: required"),
    (lambda: nn.MaxPool2d(2, ceil_mode="yes"), pc.ArrayTypeError, "ceil_mode"),
    (lambda: nn.AvgPool2d(2, divisor_override=0), pc.ArgumentError, "divisor_override"),
    (lambda: nn.AvgPool2d(2, dilation=2), pc.ArgumentError, "dilation"),
    (lambda: nn.MaxPool2D(2, 2, 0, "NWC"), pc.ArgumentError, "layout"),
    (lambda: nn.MaxPool2d(2, pool_size=3), pc.ArgumentError, "pool_size"),
    (lambda: nn.Activation("swish"), pc.ArgumentError, "activation"),
]


@pytest.mark.parametrize("make, error, message", REFUSED, ids=range(len(REFUSED)))
def test_bad_constructor_arguments_are_refused_by_name(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_gluon_in_channels_zero_means_infer(be):
    for conv in (
        nn.Conv2D(4, 3),
        nn.Conv2D(4, 3, in_channels=0),
        nn.Conv2D(4, 3, in_channels=None),
    ):
        assert conv.parameters() == []
        y = conv(be.asarray(_rand((1, 2, 5, 5))))
        assert tuple(y.shape) == (1, 4, 3, 3) and conv.weight.shape == (4, 2, 3, 3)
    bn = nn.BatchNorm(in_channels=0)
    bn(be.asarray(_rand((2, 3, 2, 2))))
    assert bn.weight.shape == (3,)


# -- inputs at the call ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: nn.Conv2d(1, 2, 3),
        lambda: nn.LazyConv2d(2, 3),
        lambda: nn.LazyLinear(2),
        lambda: nn.BatchNorm2d(1),
        lambda: nn.MaxPool2d(2),
        lambda: nn.AvgPool2D(),
        lambda: nn.ReLU(),
        lambda: nn.Flatten(),
        lambda: nn.Dropout(),
        lambda: nn.AdaptiveAvgPool2d(1),
        lambda: nn.GlobalAvgPool2D(),
        lambda: nn.Sequential(nn.Conv2d(1, 2, 3)),
        models.LeNet,
        models.LeNet5,
        models.ResNet18,
    ],
)
@pytest.mark.parametrize(
    "bad", [None, [[1.0]], 3.0, "x", {"x": 1}], ids=["None", "list", "float", "str", "dict"]
)
def test_layer_or_model_called_with_a_non_array_names_input(make, bad):
    with pytest.raises(pc.ArrayTypeError, match=r"^input: expected an array"):
        make()(bad)


def test_lenet_called_at_another_size_names_the_layer_and_the_shapes(be):
    model = models.LeNet()
    model(be.asarray(_rand((1, 1, 32, 32))))
    with pytest.raises(pc.ArgumentError) as info:
        model(be.asarray(_rand((1, 1, 28, 28))))
    message = str(info.value)
    assert message.startswith("net.7 (Linear): input: Linear expects 576 input features"), message
    assert "(120, 576)" in message and "(1, 400)" in message
    # errors of the ops inside a model name the layer too
    with pytest.raises(pc.ArgumentError, match=r"^net\.0 \(Conv2d\): .*channels"):
        model(be.asarray(_rand((1, 3, 32, 32))))


def test_mixed_library_error_names_the_fix(be):
    if be.name == "numpy":
        pytest.skip("needs a second library: the backend under test is NumPy")
    model = models.LeNet5()
    model(be.asarray(_rand((1, 1, 32, 32))))
    if be.adapter.absorbs(pc.get_adapter("numpy")):  # Dask: NumPy inputs join its calls
        be.check_array(_data(model(_rand((1, 1, 32, 32)))), dtype="float32")
    else:
        with pytest.raises(pc.ArrayTypeError, match=r"two libraries.*model\.to\(x\)"):
            model(_rand((1, 1, 32, 32)))
    model.to(_rand((1,)))
    assert isinstance(_data(model(_rand((1, 1, 32, 32)))), np.ndarray)
    with pytest.raises(pc.ArrayTypeError, match="like: expected an array"):
        model.to(None)


def test_unbatched_input_pools_as_pytorch_does(be):
    x = _rand((2, 6, 6))
    y = nn.MaxPool2d(2)(be.asarray(x))
    assert tuple(y.shape) == (2, 3, 3)
    be.check(_data(y), x.reshape(2, 3, 2, 3, 2).max(axis=(2, 4)), dtype="float32")
    assert tuple(nn.AvgPool1d(2)(be.asarray(_rand((3, 8)))).shape) == (3, 4)


def test_positional_arguments_follow_each_frameworks_order(be):
    x = be.asarray(_rand((1, 1, 6, 6)))
    # PyTorch: AvgPool2d(kernel_size, stride, padding, ceil_mode, count_include_pad)
    assert tuple(nn.AvgPool2d(3, 2, 0, True)(x).shape) == (1, 1, 3, 3)
    assert tuple(nn.AvgPool2d(3, 2, 0, False)(x).shape) == (1, 1, 2, 2)
    # PyTorch: MaxPool2d(kernel_size, stride, padding, dilation, return_indices, ceil_mode)
    assert tuple(nn.MaxPool2d(3, 2, 0, 1, False, True)(x).shape) == (1, 1, 3, 3)
    # Gluon: MaxPool2D(pool_size, strides, padding, layout, ceil_mode);
    # AvgPool2D(pool_size, strides, padding, ceil_mode, layout, count_include_pad)
    assert tuple(nn.MaxPool2D(3, 2, 0, "NCHW", True)(x).shape) == (1, 1, 3, 3)
    assert tuple(nn.AvgPool2D(3, 2, 0, True)(x).shape) == (1, 1, 3, 3)
    # Gluon: Conv2DTranspose(channels, kernel_size, strides, padding, output_padding, ...)
    up = nn.Conv2DTranspose(2, 3, 2, 1, 1)
    assert tuple(up(x).shape) == (1, 2, 12, 12)


def test_gluon_batchnorm_takes_dense_output(be):
    """The book's MXNet BN-LeNet puts BatchNorm() after Dense layers: (N, C) input."""
    x = _rand((8, 5)) * 3 + 1
    y = nn.BatchNorm()(be.asarray(x))
    be.check(_data(y), (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5), rtol=1e-4, atol=1e-5)
    with pytest.raises(pc.ArgumentError, match=r"BatchNorm2D expects \(N, C, H, W\)"):
        nn.BatchNorm2D()(be.asarray(x))


def test_dropout_refuses_integer_input_in_training(be):
    x = be.asarray(np.ones((4, 5), np.int32))
    with pytest.raises(pc.ArrayTypeError, match="input: expected a real floating"):
        nn.Dropout(0.3)(x)
    assert nn.Dropout(0.3).eval()(x) is x  # evaluation: the input itself, as PyTorch's


def test_activation_layer(be):
    x = _rand((2, 3))
    be.check(_data(nn.Activation("tanh")(be.asarray(x))), np.tanh(x), rtol=1e-6, atol=1e-6)


# -- state dicts: the book's plain Sequential into a model with a net ------------------------------


def test_state_dict_without_or_with_the_net_prefix(be):
    nn.manual_seed(5)
    book = nn.Sequential(  # the book's own `net = nn.Sequential(...)`, keys "0.weight", ...
        nn.LazyConv2d(6, kernel_size=5, padding=2),
        nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.LazyConv2d(16, kernel_size=5),
        nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.LazyLinear(120),
        nn.Sigmoid(),
        nn.LazyLinear(84),
        nn.Sigmoid(),
        nn.LazyLinear(10),
    )
    x = be.asarray(_rand((2, 1, 28, 28)))
    want = be.to_numpy(_data(book(x)))
    state = book.state_dict()
    assert next(iter(state)) == "0.weight"
    model = models.LeNet()
    model.load_state_dict(state)
    assert next(iter(model.state_dict())) == "net.0.weight"
    be.check(_data(model(x)), want, rtol=1e-6, atol=1e-6)
    again = _lazy_copy(book)
    again.load_state_dict(model.state_dict())  # "net.0.weight" into the plain Sequential
    be.check(_data(again(x)), want, rtol=1e-6, atol=1e-6)
    wrapped = {f"module.{k}": v for k, v in state.items()}  # DataParallel's prefix
    third = models.LeNet()
    third.load_state_dict(wrapped)
    be.check(_data(third(x)), want, rtol=1e-6, atol=1e-6)
    partial = dict(state)
    del partial["11.bias"]
    with pytest.raises(
        pc.ArgumentError, match=r"read with the prefix 'net\.' added.*missing: net\.11\.bias"
    ):
        models.LeNet().load_state_dict(partial)


def _lazy_copy(seq):
    """A fresh Sequential of the same lazy layers."""
    return nn.Sequential(
        *[
            nn.LazyConv2d(m.channels, m.kernel_size, padding=m.padding)
            if isinstance(m, nn.LazyConv2d)
            else nn.LazyLinear(m.units)
            if isinstance(m, nn.LazyLinear)
            else m
            for _, m in seq.children()
        ]
    )


def test_books_torch_sequential_state_dict_loads_into_lenet(be):
    if be.name != "torch":
        pytest.skip("compares with torch.nn; runs in the torch session")
    import torch

    tnn = torch.nn
    torch.manual_seed(0)
    book = tnn.Sequential(
        tnn.Conv2d(1, 6, kernel_size=5, padding=2),
        tnn.Sigmoid(),
        tnn.AvgPool2d(kernel_size=2, stride=2),
        tnn.Conv2d(6, 16, kernel_size=5),
        tnn.Sigmoid(),
        tnn.AvgPool2d(kernel_size=2, stride=2),
        tnn.Flatten(),
        tnn.Linear(16 * 5 * 5, 120),
        tnn.Sigmoid(),
        tnn.Linear(120, 84),
        tnn.Sigmoid(),
        tnn.Linear(84, 10),
    )
    model = pc.porting.load_torch_state_dict(models.LeNet(), book.state_dict())
    x = _rand((3, 1, 28, 28))
    with torch.no_grad():
        want = book(torch.from_numpy(x)).numpy()
    be.check(_data(model(torch.from_numpy(x))), want, rtol=1e-5, atol=1e-6, dtype="float32")


# -- printouts -------------------------------------------------------------------------------------

REPRS = [
    (
        lambda: nn.Conv2d(1, 6, 5, padding=2),
        "Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2))",
    ),
    (
        lambda: nn.Conv2d(4, 6, (5, 3), 2, "same", 2, 2, False),
        "Conv2d(4, 6, kernel_size=(5, 3), stride=(2, 2), padding=same, dilation=(2, 2),"
        " groups=2, bias=False)",
    ),
    (lambda: nn.LazyConv2d(6, 5), "LazyConv2d(0, 6, kernel_size=(5, 5), stride=(1, 1))"),
    (lambda: nn.Conv1d(2, 3, 4), "Conv1d(2, 3, kernel_size=(4,), stride=(1,))"),
    (
        lambda: nn.ConvTranspose2d(3, 4, 3, stride=2, output_padding=1),
        "ConvTranspose2d(3, 4, kernel_size=(3, 3), stride=(2, 2), output_padding=(1, 1))",
    ),
    (lambda: nn.Linear(400, 120), "Linear(in_features=400, out_features=120, bias=True)"),
    (
        lambda: nn.LazyLinear(10, bias=False),
        "LazyLinear(in_features=0, out_features=10, bias=False)",
    ),
    (
        lambda: nn.MaxPool2d(2),
        "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)",
    ),
    (
        lambda: nn.MaxPool1d(3, 2, 1),
        "MaxPool1d(kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=False)",
    ),
    (lambda: nn.AvgPool2d(2, 2), "AvgPool2d(kernel_size=2, stride=2, padding=0)"),
    (lambda: nn.AvgPool1d(2), "AvgPool1d(kernel_size=(2,), stride=(2,), padding=(0,))"),
    (lambda: nn.AvgPool3d(2), "AvgPool3d(kernel_size=2, stride=2, padding=0)"),
    (
        lambda: nn.BatchNorm2d(6),
        "BatchNorm2d(6, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)",
    ),
    (
        lambda: nn.LazyBatchNorm2d(),
        "LazyBatchNorm2d(0, eps=1e-05, momentum=0.1, affine=True, bias=True,"
        " track_running_stats=True)",
    ),
    (lambda: nn.Dropout(0.5), "Dropout(p=0.5, inplace=False)"),
    (lambda: nn.Flatten(), "Flatten(start_dim=1, end_dim=-1)"),
    (lambda: nn.AdaptiveAvgPool2d((1, 1)), "AdaptiveAvgPool2d(output_size=(1, 1))"),
    (lambda: nn.ReLU(), "ReLU()"),
    (lambda: nn.Sequential(), "Sequential()"),
    (
        lambda: nn.Sequential(nn.Sequential(nn.ReLU()), nn.Sigmoid()),
        "Sequential(\n  (0): Sequential(\n    (0): ReLU()\n  )\n  (1): Sigmoid()\n)",
    ),
    # Gluon's own printouts for the Gluon-named layers
    (
        lambda: nn.Conv2D(6, 5, padding=2, activation="sigmoid"),
        "Conv2D(None -> 6, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2), Activation(sigmoid))",
    ),
    (
        lambda: nn.Conv2D(
            6, (5, 3), strides=2, dilation=2, groups=2, use_bias=False, in_channels=4
        ),
        "Conv2D(2 -> 6, kernel_size=(5, 3), stride=(2, 2), dilation=(2, 2), groups=2, bias=False)",
    ),
    (
        lambda: nn.Conv2DTranspose(4, 3, strides=2, output_padding=1, in_channels=2),
        "Conv2DTranspose(4 -> 2, kernel_size=(3, 3), stride=(2, 2))",
    ),
    (lambda: nn.Dense(120, activation="sigmoid"), "Dense(None -> 120, Activation(sigmoid))"),
    (lambda: nn.Dense(10, in_units=84), "Dense(84 -> 10, linear)"),
    (
        lambda: nn.MaxPool2D(3, 2, 1, ceil_mode=True),
        "MaxPool2D(size=(3, 3), stride=(2, 2), padding=(1, 1), ceil_mode=True,"
        " global_pool=False, pool_type=max, layout=NCHW)",
    ),
    (
        lambda: nn.AvgPool1D(2),
        "AvgPool1D(size=(2,), stride=(2,), padding=(0,), ceil_mode=False, global_pool=False,"
        " pool_type=avg, layout=NCW)",
    ),
    (
        lambda: nn.BatchNorm(momentum=0.8, in_channels=6),
        "BatchNorm(axis=1, eps=1e-05, momentum=0.8, fix_gamma=False, use_global_stats=False,"
        " in_channels=6)",
    ),
    (
        lambda: nn.GlobalAvgPool2D(),
        "GlobalAvgPool2D(size=(1, 1), stride=(1, 1), padding=(0, 0), ceil_mode=True,"
        " global_pool=True, pool_type=avg, layout=NCHW)",
    ),
    (lambda: nn.Activation("relu"), "Activation(relu)"),
]


@pytest.mark.parametrize("make, text", REPRS, ids=range(len(REPRS)))
def test_repr_as_each_framework_prints(make, text):
    assert repr(make()) == text


def test_repr_of_a_lazy_layer_after_its_first_call(be):
    conv, fc, bn = nn.LazyConv2d(6, 5, padding=2), nn.LazyLinear(10), nn.LazyBatchNorm2d()
    bn(conv(be.asarray(_rand((1, 3, 8, 8)))))
    fc(be.asarray(_rand((2, 84))))
    assert repr(conv) == "Conv2d(3, 6, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2))"
    assert repr(fc) == "Linear(in_features=84, out_features=10, bias=True)"
    assert repr(bn).startswith("BatchNorm2d(6, eps=1e-05")


TORCH_PAIRS = [
    ("Conv2d(1, 6, 5, padding=2)", "Conv2d(1, 6, 5, padding=2)"),
    (
        "Conv2d(4, 6, (5, 3), 1, 'same', 2, 2, False)",
        None,
    ),
    ("Conv3d(2, 3, 2, stride=2, padding=1)", "Conv3d(2, 3, 2, stride=2, padding=1)"),
    ("LazyConv2d(6, 5)", "LazyConv2d(6, 5)"),
    (
        "ConvTranspose1d(3, 4, 3, stride=2, output_padding=1, groups=1, bias=False, dilation=2)",
        None,
    ),
    ("ConvTranspose2d(3, 4, 3, stride=2, output_padding=1)", None),
    ("LazyConvTranspose2d(4, 3)", None),
    ("Linear(400, 120)", None),
    ("LazyLinear(10, bias=False)", None),
    ("MaxPool2d(2)", None),
    ("MaxPool3d(3, 2, 1, 2)", None),
    ("MaxPool1d(3, 2, 1, ceil_mode=True)", None),
    ("AvgPool1d(2)", None),
    ("AvgPool2d(3, 2, 1, True)", None),
    ("AvgPool3d(2)", None),
    ("BatchNorm1d(6)", None),
    ("BatchNorm2d(6, eps=1e-3, momentum=0.2)", None),
    ("LazyBatchNorm2d()", None),
    ("Dropout(0.25)", None),
    ("Flatten()", None),
    ("Flatten(0, 2)", None),
    ("AdaptiveAvgPool2d((1, 1))", None),
    ("AdaptiveAvgPool2d(3)", None),
    ("ReLU()", None),
    ("Sigmoid()", None),
    ("Tanh()", None),
]


@pytest.mark.parametrize("ours, theirs", TORCH_PAIRS, ids=[p[0] for p in TORCH_PAIRS])
def test_repr_equals_torch_nn(be, ours, theirs):
    if be.name != "torch":
        pytest.skip("compares with torch.nn; runs in the torch session")
    import torch  # noqa: F401 (eval)

    assert repr(eval(f"nn.{ours}")) == repr(eval(f"torch.nn.{theirs or ours}"))


def test_print_of_the_books_lenet_equals_torch_nn(be):
    if be.name != "torch":
        pytest.skip("compares with torch.nn; runs in the torch session")
    import torch

    tnn = torch.nn
    theirs = tnn.Sequential(
        tnn.Conv2d(1, 6, kernel_size=5, padding=2),
        tnn.Sigmoid(),
        tnn.AvgPool2d(kernel_size=2, stride=2),
        tnn.Conv2d(6, 16, kernel_size=5),
        tnn.Sigmoid(),
        tnn.AvgPool2d(kernel_size=2, stride=2),
        tnn.Flatten(),
        tnn.Linear(16 * 5 * 5, 120),
        tnn.Sigmoid(),
        tnn.Linear(120, 84),
        tnn.Sigmoid(),
        tnn.Linear(84, 10),
    )
    model = models.LeNet()
    model(torch.zeros(1, 1, 28, 28))  # the lazy layers become Conv2d and Linear, as torch's do
    assert repr(model.net) == repr(theirs)
    assert repr(model) == "LeNet(\n  (net): " + repr(theirs).replace("\n", "\n  ") + "\n)"


GLUON_PAIRS = [
    "Conv2D(6, 5, padding=2, activation='sigmoid')",
    "Conv2D(6, 5, in_channels=3)",
    "Conv2D(6, (5, 3), strides=2, dilation=2, groups=2, use_bias=False, in_channels=4)",
    "Conv1D(3, 2)",
    "Conv2DTranspose(4, 3, strides=2, output_padding=1, in_channels=2)",
    "Dense(120, activation='sigmoid')",
    "Dense(10, in_units=84)",
    "MaxPool2D()",
    "MaxPool2D(3, 2, 1, ceil_mode=True)",
    "AvgPool2D(2)",
    "MaxPool1D(2)",
    "AvgPool3D(2)",
    "BatchNorm()",
    "BatchNorm(in_channels=6, momentum=0.8)",
    "GlobalAvgPool2D()",
    "GlobalMaxPool2D()",
    "Activation('relu')",
]


@pytest.mark.parametrize("layer", GLUON_PAIRS)
def test_repr_equals_gluon(be, layer):
    if be.adapter.name != "mxnet":
        pytest.skip("compares with mxnet.gluon.nn; runs in the mxnet sessions")
    import mxnet as mx  # noqa: F401 (eval)

    assert repr(eval(f"nn.{layer}")) == repr(eval(f"mx.gluon.nn.{layer}"))


def test_layer_summary_names_layers_as_the_edition_it_imitates(be):
    """The MXNet edition's LeNet (Gluon's classes) prints Gluon's names; the PyTorch edition's
    prints PyTorch's (tests/test_nn.py and the conformance suite check that one)."""
    net = nn.Sequential(
        nn.Conv2D(channels=6, kernel_size=5, padding=2, activation="sigmoid"),
        nn.AvgPool2D(pool_size=2, strides=2),
        nn.Conv2D(channels=16, kernel_size=5, activation="sigmoid"),
        nn.AvgPool2D(pool_size=2, strides=2),
        nn.Dense(120, activation="sigmoid"),
        nn.Dense(84, activation="sigmoid"),
        nn.Dense(10),
    )
    out = io.StringIO()
    rows = net.layer_summary((1, 1, 28, 28), like=be.asarray(np.zeros(1, np.float32)), file=out)
    assert [name for name, _ in rows] == [
        "Conv2D",
        "AvgPool2D",
        "Conv2D",
        "AvgPool2D",
        "Dense",
        "Dense",
        "Dense",
    ]
    assert [s for _, s in rows][-3:] == [(1, 120), (1, 84), (1, 10)]
    assert models.shape_summary(net, (1, 1, 28, 28), file=io.StringIO()) == rows
    bn = nn.Sequential(
        nn.Conv2D(6, 5), nn.BatchNorm(), nn.Activation("sigmoid"), nn.MaxPool2D(), nn.Flatten()
    )
    names = [n for n, _ in bn.layer_summary((1, 1, 12, 12), file=io.StringIO())]
    assert names == ["Conv2D", "BatchNorm", "Activation", "MaxPool2D", "Flatten"]


# -- ConvTranspose in one and three dimensions against torch.nn ------------------------------------


@pytest.mark.parametrize("d", [1, 3])
def test_conv_transpose_1d_3d_against_torch(be, d):
    if be.name != "torch":
        pytest.skip("compares with torch.nn; runs in the torch session")
    import torch

    torch.manual_seed(0)
    theirs = getattr(torch.nn, f"ConvTranspose{d}d")(
        4, 6, 3, stride=2, padding=1, output_padding=1, groups=2
    )
    ours = getattr(nn, f"ConvTranspose{d}d")(
        4, 6, 3, stride=2, padding=1, output_padding=1, groups=2
    )
    ours.load_state_dict(theirs.state_dict())
    x = _rand((2, 4) + (4,) * d)
    with torch.no_grad():
        want = theirs(torch.from_numpy(x)).numpy()
    be.check(_data(ours(torch.from_numpy(x))), want, rtol=1e-5, atol=1e-5, dtype="float32")
    lazy = getattr(nn, f"LazyConvTranspose{d}d")(
        6, 3, stride=2, padding=1, output_padding=1, groups=2
    )
    lazy.load_state_dict(theirs.state_dict())
    be.check(_data(lazy(torch.from_numpy(x))), want, rtol=1e-5, atol=1e-5, dtype="float32")


# -- fuzzing the layers and optimisers -------------------------------------------------------------

HOSTILE_VALUES = [
    None, 0, -1, 1, 2, 3, 2.5, True, False, "3", "same", (2,), (2, 2), (1, 1, 1),
    ((1, 1), (0, 2)), [], float("nan"), float("inf"), -1e-5, 1e-5, 0.5, np.int64(2),
]  # fmt: skip
FUZZED_LAYERS = [
    nn.Conv2d, nn.LazyConv2d, nn.Conv2D, nn.ConvTranspose2d, nn.Conv2DTranspose, nn.Linear,
    nn.LazyLinear, nn.Dense, nn.MaxPool2d, nn.AvgPool2d, nn.MaxPool2D, nn.AvgPool2D,
    nn.BatchNorm2d, nn.BatchNorm1d, nn.BatchNorm, nn.Dropout, nn.Flatten, nn.AdaptiveAvgPool2d,
    nn.Activation,
]  # fmt: skip


def _arity(cls):
    params = [
        p for p in inspect.signature(cls).parameters.values() if p.kind == p.POSITIONAL_OR_KEYWORD
    ]
    required = sum(p.default is p.empty for p in params)
    return required, len(params)


@settings(deadline=None)
@given(data=st.data())
def test_fuzzed_layers_build_and_run_or_refuse_with_a_portconv_error(be, data):
    cls = data.draw(st.sampled_from(FUZZED_LAYERS))
    low, high = _arity(cls)
    n = data.draw(st.integers(low, min(high, low + 3)))
    args = [data.draw(st.sampled_from(HOSTILE_VALUES)) for _ in range(n)]
    try:
        layer = cls(*args)
    except pc.PortconvError:
        return
    shape = data.draw(st.sampled_from([(2, 3, 8, 8), (3, 8, 8), (2, 3), (3,), (2, 3, 1, 1)]))
    dtype = data.draw(st.sampled_from([np.float32, np.int32]))
    x = be.asarray(np.ones(shape, dtype))
    try:
        with be.run_context():
            y = layer(x)
    except pc.PortconvError:
        return
    # layers that compute refuse integer input; Flatten and Dropout (p=0) keep any dtype, and
    # max pooling keeps an integer one (Keras's integer max pooling)
    keeps = (nn.Flatten, nn.Dropout, nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)
    keeps += (nn.MaxPool1D, nn.MaxPool2D, nn.MaxPool3D)
    kept = dtype is np.int32 and isinstance(layer, keeps)
    assert not (kept and isinstance(layer, nn.Dropout) and layer.p > 0), "Dropout scaled ints"
    be.check_array(_data(y), dtype="int32" if kept else "float32")


@settings(deadline=None)
@given(
    make=st.sampled_from([SGD, pc.optim.Adam]),
    values=st.lists(st.sampled_from(HOSTILE_VALUES), min_size=1, max_size=4),
)
def test_fuzzed_optimisers_are_made_or_refused_with_a_portconv_error(be, make, values):
    p = nn.Parameter(be.asarray(_rand((2, 2))))
    try:
        opt = make([p], *values)
    except pc.PortconvError:
        return
    p.grad = be.asarray(np.ones((2, 2), np.float32))
    opt.step()
    assert np.isfinite(be.to_numpy(p.data)).all()
