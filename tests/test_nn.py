"""portconv.nn on every backend: seeded initialisers (bit for bit the same model everywhere,
PyTorch's and Gluon's default distributions), layers against torch.nn (torch session) and
mxnet.gluon.nn (MXNet sessions) with identical weights, shape inference, train/eval modes,
state dicts and ``.npz`` files, moving a model between libraries, and a small CNN trained on
the backend under test against the same CNN trained on NumPy. Optimisers: tests/test_optim.py.
"""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import portconv as pc
import portconv.autograd as ag
from portconv import nn
from portconv.optim import SGD

TORCH_ONLY = "compares with torch.nn; runs in the torch session"
MXNET_ONLY = "compares with mxnet.gluon.nn; runs in the mxnet sessions"


def _torch(be):
    if be.name != "torch":
        pytest.skip(TORCH_ONLY)
    import torch

    return torch


def _gluon(be):
    if be.adapter.name != "mxnet":
        pytest.skip(MXNET_ONLY)
    import mxnet as mx

    return mx


def _data(y):
    return y.data if isinstance(y, ag.Variable) else y


def _np(be, y) -> np.ndarray:
    return be.to_numpy(_data(y))


def _rand(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _host_state(model) -> dict[str, np.ndarray]:
    return {
        k: np.asarray(pc.backend_of(v).adapter.to_numpy(v)) for k, v in model.state_dict().items()
    }


def _small_cnn():
    """conv, batch norm, ReLU, max pooling, dense: the seeded model of the cross-backend tests."""
    return nn.Sequential(
        nn.LazyConv2d(4, 3, padding=1),
        nn.LazyBatchNorm2d(),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Dense(3),
    )


def _lenet():
    """D2L's LeNet (7.6), PyTorch edition."""
    return nn.Sequential(
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


X_CNN = _rand((4, 2, 6, 6), seed=1)
Y_CNN = np.array([0, 2, 1, 2], dtype=np.int64)


# -- initialisers ----------------------------------------------------------------------------------


@pytest.mark.parametrize("preset", ["torch", "gluon", "xavier"])
def test_same_seed_same_parameters_bit_for_bit_as_on_numpy(be, preset):
    models = []
    for x in (X_CNN, be.asarray(X_CNN)):
        nn.manual_seed(1234)
        m = _small_cnn().initialize(preset)
        m(x)
        models.append(m)
    ref, got = dict(models[0].named_parameters()), dict(models[1].named_parameters())
    names = ["0.weight", "0.bias", "1.weight", "1.bias", "4.weight", "4.bias"]
    assert list(ref) == list(got) == names
    for name in ref:
        be.check_array(got[name].data, dtype="float32")
        a, b = np.asarray(ref[name].data), be.to_numpy(got[name].data)
        assert a.dtype == b.dtype == np.float32
        assert np.array_equal(a.view(np.uint32), b.view(np.uint32)), name
    # the running statistics come from the data: equal up to the backends' arithmetic
    for name in ("1.running_mean", "1.running_var"):
        expected = models[0].state_dict()[name]
        be.check(models[1].state_dict()[name], expected, rtol=1e-5, atol=1e-7, dtype="float32")


def test_seed_changes_parameters_and_initialize_seed_reseeds(be):
    x = be.asarray(X_CNN)
    draws = []
    for seed in (1, 2, 1):
        m = _small_cnn().initialize("torch", seed=seed)
        m(x)
        draws.append(_host_state(m)["0.weight"])
    assert not np.array_equal(draws[0], draws[1])
    assert np.array_equal(draws[0], draws[2])


def _draw(be, layer, x_shape, preset):
    nn.manual_seed(0)
    layer.initialize(preset)
    layer(be.asarray(np.zeros(x_shape, np.float32)))
    for p in layer.parameters():
        be.check_array(p.data, dtype="float32")
    return _host_state(layer)


# (our layer, the same torch.nn layer, input shape, PyTorch's fan_in of the weight)
FAN_CASES = {
    "Conv2d": (
        lambda: nn.Conv2d(16, 32, 3),
        lambda tnn: tnn.Conv2d(16, 32, 3),
        (1, 16, 3, 3),
        16 * 9,
    ),
    "Conv2d-groups": (
        lambda: nn.LazyConv2d(32, 3, groups=4),
        lambda tnn: tnn.Conv2d(16, 32, 3, groups=4),
        (1, 16, 3, 3),
        4 * 9,
    ),
    # a transposed convolution's weight is (in, out, kh, kw): PyTorch reads fan_in off dim 1
    "ConvTranspose2d": (
        lambda: nn.ConvTranspose2d(24, 40, 3),
        lambda tnn: tnn.ConvTranspose2d(24, 40, 3),
        (1, 24, 2, 2),
        40 * 9,
    ),
    "Linear": (lambda: nn.Linear(300, 64), lambda tnn: tnn.Linear(300, 64), (1, 300), 300),
}


@pytest.mark.parametrize("case", list(FAN_CASES))
def test_torch_preset_is_pytorchs_default_distribution(be, case):
    make, _, x_shape, fan_in = FAN_CASES[case]
    state = _draw(be, make(), x_shape, "torch")
    bound = 1.0 / np.sqrt(fan_in)
    for name in ("weight", "bias"):
        v = state[name].astype(np.float64)
        assert np.abs(v).max() <= np.float32(bound), name
        assert np.abs(v).max() > 0.8 * bound, name  # filled, not squeezed
    w = state["weight"].astype(np.float64)
    assert abs(w.std() - bound / np.sqrt(3)) < 0.05 * bound  # U(-b, b)
    assert abs(w.mean()) < 0.05 * bound


@pytest.mark.parametrize("case", list(FAN_CASES))
def test_torch_preset_matches_torch_nn(be, case):
    """The bounds above are PyTorch's own: torch.nn's draws and ours span the same range."""
    torch = _torch(be)
    make, torch_layer, x_shape, fan_in = FAN_CASES[case]
    bound = 1.0 / np.sqrt(fan_in)
    ours = _draw(be, make(), x_shape, "torch")
    torch.manual_seed(0)
    theirs = torch_layer(torch.nn)
    for name, t in theirs.state_dict().items():
        t = t.numpy().astype(np.float64)
        o = ours[name].astype(np.float64)
        assert o.shape == t.shape, name
        hi_o, hi_t = np.abs(o).max(), np.abs(t).max()
        assert hi_o <= np.float32(bound) and hi_t <= np.float32(bound), name
        if t.size > 1000:  # enough draws to compare the spread
            assert abs(hi_o - hi_t) < 0.02 * hi_t, name
            assert abs(o.std() - t.std()) < 0.05 * t.std(), name


def test_gluon_preset(be):
    state = _draw(be, nn.Conv2D(32, 3, in_channels=16), (1, 16, 3, 3), "gluon")
    w = state["weight"].astype(np.float64)
    assert np.abs(w).max() <= np.float32(0.07)
    assert np.abs(w).max() > 0.069
    assert abs(w.std() - 0.07 / np.sqrt(3)) < 0.003
    assert np.array_equal(state["bias"], np.zeros(32, np.float32))
    dense = _draw(be, nn.Dense(10), (2, 3, 4, 5), "gluon")
    assert dense["weight"].shape == (10, 60) and not dense["bias"].any()


def test_xavier_preset(be):
    state = _draw(be, nn.Conv2d(16, 32, 3), (1, 16, 3, 3), "xavier")
    a = np.sqrt(6.0 / (16 * 9 + 32 * 9))
    w = state["weight"].astype(np.float64)
    assert np.abs(w).max() <= np.float32(a) and np.abs(w).max() > 0.98 * a
    assert abs(w.std() - a / np.sqrt(3)) < 0.03 * a
    assert np.abs(state["bias"]).max() <= np.float32(1 / np.sqrt(16 * 9))


# weight (64, 16, 5, 5): fan_in 16 * 25 = 400, fan_out 64 * 25 = 1600
@pytest.mark.parametrize(
    "weight_init, std",
    [
        (nn.init.kaiming_normal(nonlinearity="relu"), np.sqrt(2 / 400)),
        (nn.init.kaiming_normal(mode="fan_out", nonlinearity="linear"), np.sqrt(1 / 1600)),
        (nn.init.kaiming_normal(a=1.0, nonlinearity="leaky_relu"), np.sqrt(1 / 400)),
        (nn.init.xavier_normal(), np.sqrt(2 / (400 + 1600))),
        (nn.init.xavier_normal(gain=2.0), 2 * np.sqrt(2 / (400 + 1600))),
        (nn.init.kaiming_uniform(nonlinearity="relu"), np.sqrt(2 / 400)),
        (nn.init.normal(std=0.02), 0.02),
    ],
    ids=[
        "kaiming-relu",
        "kaiming-fan_out",
        "kaiming-leaky",
        "xavier",
        "xavier-gain",
        "he-unif",
        "normal",
    ],
)
def test_initialisers_have_the_right_spread(be, weight_init, std):
    state = _draw(be, nn.Conv2d(16, 64, 5), (1, 16, 5, 5), (weight_init, nn.init.zeros))
    w = state["weight"].astype(np.float64)  # 25600 draws: the std within a few percent
    assert abs(w.std() - std) < 0.03 * std, (w.std(), std)
    assert abs(w.mean()) < 0.03 * std
    assert not state["bias"].any()


def test_unknown_preset_is_refused(be):
    with pytest.raises(pc.ArgumentError, match="init"):
        nn.Conv2d(1, 1, 1).initialize("he")


# -- shape inference, summaries --------------------------------------------------------------------


def test_shapes_are_inferred_on_the_first_call(be):
    net = nn.Sequential(nn.LazyConv2d(5, 3), nn.BatchNorm(), nn.Dense(7), nn.LazyBatchNorm1d())
    assert net.parameters() == [] and net.state_dict() == {}
    y = net(be.asarray(_rand((2, 3, 6, 6))))
    be.check_array(y.data, dtype="float32")
    assert tuple(y.shape) == (2, 7)
    shapes = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    assert shapes == {
        "0.weight": (5, 3, 3, 3),
        "0.bias": (5,),
        "1.weight": (5,),
        "1.bias": (5,),
        "2.weight": (7, 5 * 4 * 4),
        "2.bias": (7,),
        "3.weight": (7,),
        "3.bias": (7,),
        "1.running_mean": (5,),
        "1.running_var": (5,),
        "3.running_mean": (7,),
        "3.running_var": (7,),
    }
    for v in net.state_dict().values():
        be.check_array(v, dtype="float32")


@pytest.mark.parametrize(
    "layer, shape, expects",
    [
        (lambda: nn.Conv2d(3, 4, 3), (1, 2, 5, 5), "3 input channels"),
        (lambda: nn.Linear(6, 2), (3, 5), "6 input features"),
        (lambda: nn.Dense(2, in_units=6), (3, 5), "6 input features"),
        (lambda: nn.BatchNorm2d(4), (2, 3, 2, 2), "4 channels"),
        (lambda: nn.Conv2D(4, 3, in_channels=3), (1, 2, 5, 5), "3 input channels"),
    ],
)
def test_declared_input_sizes_are_checked_before_anything_moves(be, layer, shape, expects):
    m = layer()
    before = {k: (p, np.array(p.data)) for k, p in m.named_parameters()}
    with pytest.raises(pc.ArgumentError, match=rf"input: \w+ expects {expects}"):
        m(be.asarray(np.zeros(shape, np.float32)))
    for k, p in m.named_parameters():  # still the NumPy arrays drawn at construction
        assert p is before[k][0] and isinstance(p.data, np.ndarray)
        assert np.array_equal(p.data, before[k][1])


class LeNet(nn.Module):
    """The book's class: a model that wraps one ``net`` Sequential, whose forward (as
    ``d2l.Classifier``'s) is that Sequential."""

    def __init__(self):
        super().__init__()
        self.net = _lenet()


class Custom(LeNet):
    """A forward of its own: layer_summary cannot walk the children."""

    def forward(self, x):
        return ag.relu(self.net(x))


def test_layer_summary_of_a_custom_forward_is_one_line(be):
    rows = Custom().layer_summary(
        (1, 1, 28, 28), like=be.asarray(np.zeros(1, np.float32)), file=io.StringIO()
    )
    assert rows == [("Custom", (1, 10))]


def test_layer_summary_of_the_books_lenet(be):
    model = LeNet()
    out = io.StringIO()
    like = be.asarray(np.zeros(1, np.float32))
    rows = model.layer_summary((1, 1, 28, 28), like=like, file=out)
    expected = [
        ("Conv2d", (1, 6, 28, 28)),
        ("Sigmoid", (1, 6, 28, 28)),
        ("AvgPool2d", (1, 6, 14, 14)),
        ("Conv2d", (1, 16, 10, 10)),
        ("Sigmoid", (1, 16, 10, 10)),
        ("AvgPool2d", (1, 16, 5, 5)),
        ("Flatten", (1, 400)),
        ("Linear", (1, 120)),
        ("Sigmoid", (1, 120)),
        ("Linear", (1, 84)),
        ("Sigmoid", (1, 84)),
        ("Linear", (1, 10)),
    ]
    assert rows == expected
    # the shape prints as the library prints it (a tuple; torch.Size on PyTorch)
    shown = [str(be.asarray(np.zeros(s, np.float32)).shape) for _, s in expected]
    assert out.getvalue().splitlines() == [
        f"{name} output shape:\t {s}" for (name, _), s in zip(expected, shown)
    ]
    if be.name == "numpy":
        assert out.getvalue().splitlines()[0] == "Conv2d output shape:\t (1, 6, 28, 28)"
    if be.name == "torch":
        assert out.getvalue().splitlines()[0] == (
            "Conv2d output shape:\t torch.Size([1, 6, 28, 28])"
        )
    assert model.num_parameters() == 61706
    for p in model.parameters():
        be.check_array(p.data, dtype="float32")


# -- modes -----------------------------------------------------------------------------------------


def test_dropout_train_and_eval(be):
    x = be.asarray(np.ones((200, 50), np.float32) * 2)
    drop = nn.Dropout(0.3)
    assert drop.training
    nn.manual_seed(5)
    y = drop(x)
    be.check_array(_data(y), dtype="float32")
    got = _np(be, y)
    zeros = got == 0
    assert abs(zeros.mean() - 0.3) < 0.02
    np.testing.assert_allclose(got[~zeros], 2 / 0.7, rtol=1e-6)
    # the mask comes from the seeded generator: the same on every backend
    nn.manual_seed(5)
    ref = np.asarray(_data(nn.Dropout(rate=0.3)(np.ones((200, 50), np.float32) * 2)))
    assert np.array_equal(got, ref)
    drop.eval()
    assert drop(x) is x
    assert nn.Dropout(0.0)(x) is x
    with pytest.raises(pc.ArgumentError, match="p"):
        nn.Dropout(1.0)


def test_dropout_gradient_is_the_mask(be):
    v = ag.Variable(be.asarray(np.ones((30, 30), np.float32)), requires_grad=True)
    nn.manual_seed(0)
    y = nn.Dropout(0.5)(v)
    y.backward(be.asarray(np.full((30, 30), 3.0, np.float32)))
    be.check(v.grad, 3 * _np(be, y), dtype="float32")


def test_train_and_eval_reach_every_submodule(be):
    net = nn.Sequential(nn.Sequential(nn.LazyConv2d(2, 1), nn.BatchNorm2d(2)), nn.Dropout())
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())


def test_batchnorm_modes(be):
    """Training: batch statistics, running statistics move; eval: running statistics, no move."""
    x = _rand((4, 3, 2, 2), seed=3) * 3 + 1
    bn = nn.BatchNorm2d(3)
    y = bn(be.asarray(x))
    mean = x.mean(axis=(0, 2, 3), keepdims=True)
    var = x.var(axis=(0, 2, 3), keepdims=True)
    be.check(y.data, (x - mean) / np.sqrt(var + 1e-5), rtol=1e-4, atol=1e-5, dtype="float32")
    n = 4 * 2 * 2
    rm, rv = 0.1 * mean.ravel(), 0.9 + 0.1 * var.ravel() * n / (n - 1)
    be.check(bn.running_mean, rm, rtol=1e-5, atol=1e-6, dtype="float32")
    be.check(bn.running_var, rv, rtol=1e-5, atol=1e-6, dtype="float32")
    bn.eval()
    y = bn(be.asarray(x))
    be.check(
        y.data,
        (x - rm.reshape(1, 3, 1, 1)) / np.sqrt(rv.reshape(1, 3, 1, 1) + 1e-5),
        rtol=1e-4,
        atol=1e-5,
    )
    be.check(bn.running_mean, rm, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("layout", ["channels_first", "channels_last"])
@pytest.mark.parametrize("bias", [True, False])
def test_convolution_and_batch_norm_fold_in_evaluation(be, layout, bias, monkeypatch):
    """In evaluation mode without gradients, a Sequential's convolution followed by a batch
    norm (and ``nn.fused``'s pair) runs as one convolution, the normalisation folded into its
    weight and bias: no batch-norm pass, the two layers' values (a float64 reference). With
    gradients recorded, in training mode, or where the weight is larger than the output, the
    two layers run as written."""
    from portconv.nn import layers

    last = layout == "channels_last"
    conv = nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=bias, layout=layout)
    bn = nn.BatchNorm2d(8, layout=layout)
    net = nn.Sequential(conv, bn, nn.ReLU())
    x = _rand((2, 3, 10, 10), seed=1)
    xs = x.transpose(0, 2, 3, 1) if last else x
    for seed in (2, 3):  # training: running statistics that are not the defaults
        net(be.asarray(_rand(xs.shape, seed=seed) * 2 + 1))
    bn.weight.data = be.asarray(_rand((8,), seed=4) + 1)
    bn.bias.data = be.asarray(_rand((8,), seed=5))
    net.eval()
    w = be.to_numpy(conv.weight.data).astype(np.float64)
    w = w.transpose(3, 2, 0, 1) if last else w  # (8, 3, 3, 3)
    windows = np.lib.stride_tricks.sliding_window_view(
        np.pad(x.astype(np.float64), ((0, 0), (0, 0), (1, 1), (1, 1))), (3, 3), axis=(2, 3)
    )[:, :, ::2, ::2]
    ref = np.einsum("nchwrs,ocrs->nohw", windows, w)
    if bias:
        ref += be.to_numpy(conv.bias.data).reshape(1, 8, 1, 1)
    mean, var, gamma, beta = (
        be.to_numpy(a).astype(np.float64).reshape(1, 8, 1, 1)
        for a in (bn.running_mean, bn.running_var, bn.weight.data, bn.bias.data)
    )
    ref = np.maximum((ref - mean) / np.sqrt(var + 1e-5) * gamma + beta, 0)
    ref = ref.transpose(0, 2, 3, 1) if last else ref

    passes = []
    real = layers.batch_norm
    monkeypatch.setattr(layers, "batch_norm", lambda *a: passes.append(1) or real(*a))
    with ag.no_grad():
        y = net(be.asarray(xs))
        z = nn.fused(conv, bn, be.asarray(xs))
    assert passes == []
    be.check(y.data, ref, rtol=1e-5, atol=1e-5, dtype="float32")
    be.check(ag.relu(z).data, ref, rtol=1e-5, atol=1e-5)
    y = net(be.asarray(xs))  # gradients recorded: the batch norm runs
    assert len(passes) == 1
    be.check(y.data, ref, rtol=1e-5, atol=1e-5)
    with ag.no_grad():
        y = net(be.asarray(xs[:, :, :2] if last else xs[..., :2]))  # 1 output column: 8 x 6
    assert len(passes) == 2  # weight (216) larger than the output (2 * 8 * 5 * 1 = 80)
    net.train()
    with ag.no_grad():
        net(be.asarray(xs))
    assert len(passes) == 3


def test_gluon_batchnorm_convention(be):
    x = _rand((4, 3, 2, 2), seed=3) * 3 + 1
    mean, var = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3))  # biased
    n = x.size // 3
    for bn, keep, unbiased in [
        (nn.BatchNorm(), 0.9, 1.0),  # running = 0.9 * running + 0.1 * batch
        (nn.BatchNorm2D(momentum=0.8), 0.8, 1.0),
        (nn.BatchNorm(convention="torch"), 0.9, n / (n - 1)),  # torch's momentum 0.1
        (nn.BatchNorm2d(3, momentum=0.3), 0.7, n / (n - 1)),
    ]:
        bn(be.asarray(x))
        be.check(bn.running_mean, (1 - keep) * mean, rtol=1e-5, atol=1e-6)
        be.check(bn.running_var, keep + (1 - keep) * var * unbiased, rtol=1e-5, atol=1e-6)


# -- layers against torch.nn (torch session) -------------------------------------------------------


def _load_from_torch(ours, theirs):
    ours.load_state_dict(theirs.state_dict())
    return ours


@given(
    groups=st.sampled_from([1, 2]),
    c_in=st.sampled_from([2, 4]),
    c_out=st.sampled_from([2, 4]),
    kernel=st.sampled_from([1, 2, 3, (3, 2)]),
    stride=st.sampled_from([1, 2, (2, 1)]),
    padding=st.sampled_from([0, 1, (2, 1)]),
    dilation=st.sampled_from([1, 2]),
    bias=st.booleans(),
)
def test_conv2d_against_torch(be, groups, c_in, c_out, kernel, stride, padding, dilation, bias):
    torch = _torch(be)
    torch.manual_seed(0)
    theirs = torch.nn.Conv2d(c_in, c_out, kernel, stride, padding, dilation, groups, bias)
    ours = _load_from_torch(
        nn.Conv2d(c_in, c_out, kernel, stride, padding, dilation, groups, bias), theirs
    )
    x = _rand((2, c_in, 7, 6))
    be.check(
        ours(be.asarray(x)).data,
        theirs(torch.tensor(x)).detach().numpy(),
        rtol=1e-5,
        atol=1e-6,
        dtype="float32",
    )


@pytest.mark.parametrize(
    "args", [dict(), dict(stride=2, padding=1), dict(stride=2, output_padding=1, groups=2)]
)
def test_conv_transpose2d_against_torch(be, args):
    torch = _torch(be)
    torch.manual_seed(0)
    theirs = torch.nn.ConvTranspose2d(4, 6, 3, **args)
    ours = _load_from_torch(nn.ConvTranspose2d(4, 6, 3, **args), theirs)
    x = _rand((2, 4, 5, 4))
    tx = torch.tensor(x, requires_grad=True)
    ty = theirs(tx)
    g = _rand(tuple(ty.shape), seed=9)
    ty.backward(torch.tensor(g))
    vx = ag.Variable(be.asarray(x), requires_grad=True)
    y = ours(vx)
    be.check(y.data, ty.detach().numpy(), rtol=1e-5, atol=1e-5, dtype="float32")
    y.backward(be.asarray(g))
    be.check(vx.grad, tx.grad.numpy(), rtol=1e-4, atol=1e-5)
    be.check(ours.weight.grad, theirs.weight.grad.numpy(), rtol=1e-4, atol=1e-4)
    be.check(ours.bias.grad, theirs.bias.grad.numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("shape", [(3, 5), (2, 3, 5)])
def test_linear_and_lazy_linear_against_torch(be, shape):
    torch = _torch(be)
    torch.manual_seed(0)
    theirs = torch.nn.Linear(5, 4)
    x = _rand(shape)
    expected = theirs(torch.tensor(x)).detach().numpy()
    for ours in (nn.Linear(5, 4), nn.LazyLinear(4)):
        _load_from_torch(ours, theirs)
        be.check(ours(be.asarray(x)).data, expected, rtol=1e-5, atol=1e-6, dtype="float32")
    lazy = nn.LazyLinear(4, bias=False)
    lazy(be.asarray(x))
    assert [n for n, _ in lazy.named_parameters()] == ["weight"]


@pytest.mark.parametrize(
    "kind, args, shape",
    [
        ("Max", dict(kernel_size=2), (1, 2, 6, 6)),
        ("Max", dict(kernel_size=3, stride=2, padding=1), (2, 2, 7, 6)),
        ("Max", dict(kernel_size=2, stride=2, ceil_mode=True), (1, 2, 5, 7)),
        ("Max", dict(kernel_size=2, stride=3, padding=1, ceil_mode=True), (1, 1, 5, 5)),
        ("Max", dict(kernel_size=3, stride=1, padding=1, dilation=2), (1, 1, 6, 6)),
        ("Avg", dict(kernel_size=2), (1, 2, 6, 6)),
        ("Avg", dict(kernel_size=3, stride=2, padding=1), (2, 2, 7, 6)),
        ("Avg", dict(kernel_size=3, stride=2, padding=1, count_include_pad=False), (1, 2, 7, 6)),
        ("Avg", dict(kernel_size=2, stride=2, ceil_mode=True), (1, 2, 5, 7)),
        ("Avg", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True), (1, 1, 6, 6)),
    ],
)
def test_pooling_against_torch(be, kind, args, shape):
    torch = _torch(be)
    theirs = getattr(torch.nn, f"{kind}Pool2d")(**args)
    ours = getattr(nn, f"{kind}Pool2d")(**args)
    x = _rand(shape)
    tx = torch.tensor(x, requires_grad=True)
    ty = theirs(tx)
    ty.backward(torch.tensor(_rand(tuple(ty.shape), seed=5)))
    vx = ag.Variable(be.asarray(x), requires_grad=True)
    y = ours(vx)
    be.check(y.data, ty.detach().numpy(), rtol=1e-6, atol=1e-6, dtype="float32")
    y.backward(be.asarray(_rand(tuple(ty.shape), seed=5)))
    be.check(vx.grad, tx.grad.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("size, out", [((7, 7), (3, 3)), ((5, 9), (2, 4)), ((4, 4), 1)])
def test_adaptive_avg_pool_against_torch(be, size, out):
    torch = _torch(be)
    x = _rand((2, 3) + size)
    expected = torch.nn.AdaptiveAvgPool2d(out)(torch.tensor(x)).numpy()
    be.check(nn.AdaptiveAvgPool2d(out)(be.asarray(x)).data, expected, rtol=1e-6, atol=1e-6)


def _batchnorm_against_torch(be, torch, ours, theirs, shape):
    for step in range(2):  # training: output, gradients, running statistics (torch's rule)
        x = _rand(shape, seed=step) * (step + 2) + step
        g = _rand(shape, seed=10 + step)
        tx = torch.tensor(x, requires_grad=True)
        ty = theirs(tx)
        ty.backward(torch.tensor(g))
        vx = ag.Variable(be.asarray(x), requires_grad=True)
        ours.zero_grad()
        y = ours(vx)
        be.check(y.data, ty.detach().numpy(), rtol=1e-4, atol=1e-5, dtype="float32")
        y.backward(be.asarray(g))
        be.check(vx.grad, tx.grad.numpy(), rtol=1e-3, atol=1e-4)
        be.check(ours.weight.grad, theirs.weight.grad.numpy(), rtol=1e-4, atol=1e-4)
        be.check(ours.bias.grad, theirs.bias.grad.numpy(), rtol=1e-4, atol=1e-4)
        theirs.zero_grad()
        for name in ("running_mean", "running_var"):
            be.check(
                getattr(ours, name),
                getattr(theirs, name).numpy(),
                rtol=1e-5,
                atol=1e-6,
                dtype="float32",
            )
    theirs.eval()
    ours.eval()
    x = _rand(shape, seed=7)
    be.check(
        ours(be.asarray(x)).data, theirs(torch.tensor(x)).detach().numpy(), rtol=1e-4, atol=1e-5
    )


def test_batchnorm2d_against_torch(be):
    torch = _torch(be)
    _batchnorm_against_torch(be, torch, nn.BatchNorm2d(3), torch.nn.BatchNorm2d(3), (4, 3, 3, 2))


def test_lazy_batchnorm2d_against_torch(be):
    torch = _torch(be)
    _batchnorm_against_torch(be, torch, nn.LazyBatchNorm2d(), torch.nn.BatchNorm2d(3), (4, 3, 3, 2))


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5)])
def test_batchnorm1d_against_torch(be, shape):
    torch = _torch(be)
    _batchnorm_against_torch(be, torch, nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3), shape)


def test_dropout_against_torch_statistics(be):
    """Not the same mask (two generators), the same law: zero fraction p, survivors / (1-p)."""
    torch = _torch(be)
    torch.manual_seed(0)
    x = np.ones((100, 100), np.float32)
    theirs = torch.nn.Dropout(0.25)(torch.tensor(x)).numpy()
    ours = _np(be, nn.Dropout(0.25)(be.asarray(x)))
    assert abs((theirs == 0).mean() - (ours == 0).mean()) < 0.03
    assert set(np.unique(theirs)) == set(np.unique(ours)) == {0.0, np.float32(1 / 0.75)}
    torch_eval = torch.nn.Dropout(0.25).eval()(torch.tensor(x)).numpy()
    be.check(nn.Dropout(0.25).eval()(be.asarray(x)), torch_eval)


@pytest.mark.parametrize("start, end", [(1, -1), (0, 1), (2, 3)])
def test_flatten(be, start, end):
    x = _rand((2, 3, 4, 5))
    shape = x.shape[:start] + (int(np.prod(x.shape[start : end % 4 + 1])),) + x.shape[end % 4 + 1 :]
    be.check(nn.Flatten(start, end)(be.asarray(x)).data, x.reshape(shape))
    if be.name == "torch":
        import torch

        ref = torch.nn.Flatten(start, end)(torch.tensor(x)).numpy()
        be.check(nn.Flatten(start, end)(be.asarray(x)).data, ref)


def _torch_lenet(torch):
    tnn = torch.nn
    return tnn.Sequential(
        tnn.Conv2d(1, 6, kernel_size=5, padding=2),
        tnn.Sigmoid(),
        tnn.AvgPool2d(kernel_size=2, stride=2),
        tnn.Conv2d(6, 16, kernel_size=5),
        tnn.Sigmoid(),
        tnn.AvgPool2d(kernel_size=2, stride=2),
        tnn.Flatten(),
        tnn.Linear(400, 120),
        tnn.Sigmoid(),
        tnn.Linear(120, 84),
        tnn.Sigmoid(),
        tnn.Linear(84, 10),
    )


def test_lenet_forward_and_backward_against_torch(be):
    torch = _torch(be)
    torch.manual_seed(0)
    theirs = _torch_lenet(torch)
    ours = _lenet()
    ours.load_state_dict(theirs.state_dict())
    x = _rand((3, 1, 28, 28))
    y = np.array([1, 7, 3])
    loss_t = torch.nn.functional.cross_entropy(theirs(torch.tensor(x)), torch.tensor(y))
    loss_t.backward()
    loss = ag.cross_entropy(ours(be.asarray(x)), be.asarray(y))
    be.check(loss.data, loss_t.item(), rtol=1e-5, atol=1e-6, dtype="float32")
    loss.backward()
    grads = dict(ours.named_parameters())
    assert list(grads) == [n for n, _ in theirs.named_parameters()]
    for name, p in theirs.named_parameters():
        be.check(grads[name].grad, p.grad.numpy(), rtol=1e-4, atol=1e-6, dtype="float32")


# -- layers against mxnet.gluon.nn (MXNet sessions) ------------------------------------------------


def _gluon_layer(mx, layer, x):
    """Initialise a Gluon layer with a first call on ``x`` (an mx.nd array)."""
    layer.initialize(mx.init.Uniform(0.5))
    layer(x)
    return layer


def test_conv2d_with_activation_against_gluon(be):
    mx = _gluon(be)
    x = _rand((2, 3, 7, 7))
    theirs = _gluon_layer(
        mx, mx.gluon.nn.Conv2D(4, 3, strides=2, padding=1, activation="relu"), mx.nd.array(x)
    )
    ours = nn.Conv2D(4, 3, strides=2, padding=1, activation="relu")
    ours.load_state_dict(
        {"weight": theirs.weight.data().asnumpy(), "bias": theirs.bias.data().asnumpy()}
    )
    expected = theirs(mx.nd.array(x)).asnumpy()
    assert (expected == 0).any() and (expected > 0).any()
    be.check(ours(be.asarray(x)).data, expected, rtol=1e-5, atol=1e-6, dtype="float32")


def test_dense_with_flatten_against_gluon(be):
    mx = _gluon(be)
    x = _rand((2, 3, 2, 2))
    theirs = _gluon_layer(mx, mx.gluon.nn.Dense(5, activation="tanh"), mx.nd.array(x))
    ours = nn.Dense(5, activation="tanh")
    ours.load_state_dict(
        {"weight": theirs.weight.data().asnumpy(), "bias": theirs.bias.data().asnumpy()}
    )
    be.check(ours(be.asarray(x)).data, theirs(mx.nd.array(x)).asnumpy(), rtol=1e-5, atol=1e-6)
    x3 = _rand((2, 3, 4))
    theirs = _gluon_layer(mx, mx.gluon.nn.Dense(5, flatten=False), mx.nd.array(x3))
    ours = nn.Dense(5, flatten=False)
    ours.load_state_dict(
        {"weight": theirs.weight.data().asnumpy(), "bias": theirs.bias.data().asnumpy()}
    )
    be.check(ours(be.asarray(x3)).data, theirs(mx.nd.array(x3)).asnumpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "args, shape",
    [
        (dict(pool_size=2, strides=3, padding=1, ceil_mode=True), (1, 2, 5, 5)),  # full != ceil
        (dict(pool_size=3, strides=2, ceil_mode=True), (1, 2, 6, 8)),
        (dict(pool_size=2), (1, 2, 5, 5)),
    ],
)
def test_pooling_against_gluon(be, args, shape):
    mx = _gluon(be)
    x = _rand(shape)
    expected = mx.gluon.nn.MaxPool2D(**args)(mx.nd.array(x)).asnumpy()
    # a 'full' window that holds only padding: MXNet's kernel starts from the lowest finite
    # value and returns it; portconv returns the maximum of nothing, -inf
    expected[expected == np.finfo(np.float32).min] = -np.inf
    be.check(nn.MaxPool2D(**args)(be.asarray(x)).data, expected, dtype="float32")
    expected = mx.gluon.nn.AvgPool2D(**args)(mx.nd.array(x)).asnumpy()
    be.check(nn.AvgPool2D(**args)(be.asarray(x)).data, expected, rtol=1e-6, dtype="float32")


def test_maxpool_ceil_mode_differs_between_gluon_and_torch_names(be):
    """Gluon's ceil_mode=True is MXNet's 'full' convention; PyTorch's drops a last window that
    would start in the right padding (5 + 2*1 padding, window 2, stride 3: 3 vs 2)."""
    x = be.asarray(_rand((1, 1, 5, 5)))
    gluon = nn.MaxPool2D(pool_size=2, strides=3, padding=1, ceil_mode=True)(x)
    torch_named = nn.MaxPool2d(2, stride=3, padding=1, ceil_mode=True)(x)
    assert tuple(gluon.shape) == (1, 1, 3, 3)
    assert tuple(torch_named.shape) == (1, 1, 2, 2)


def test_batchnorm_against_gluon(be):
    mx = _gluon(be)
    theirs = mx.gluon.nn.BatchNorm()
    theirs.initialize()
    ours = nn.BatchNorm()
    for step in range(2):
        x = _rand((4, 3, 3, 2), seed=step) * (step + 2) + step
        g = _rand((4, 3, 3, 2), seed=10 + step)
        mx_x = mx.nd.array(x)
        mx_x.attach_grad()
        with mx.autograd.record(train_mode=True):
            expected = theirs(mx_x)
        expected.backward(mx.nd.array(g))  # MXNet moves its running statistics here
        vx = ag.Variable(be.asarray(x), requires_grad=True)
        ours.zero_grad()
        y = ours(vx)
        be.check(y.data, expected.asnumpy(), rtol=1e-4, atol=1e-5, dtype="float32")
        y.backward(be.asarray(g))
        be.check(vx.grad, mx_x.grad.asnumpy(), rtol=1e-3, atol=1e-4)
        be.check(ours.weight.grad, theirs.gamma.grad().asnumpy(), rtol=1e-4, atol=1e-4)
        be.check(ours.bias.grad, theirs.beta.grad().asnumpy(), rtol=1e-4, atol=1e-4)
        be.check(ours.running_mean, theirs.running_mean.data().asnumpy(), rtol=1e-5, atol=1e-6)
        be.check(ours.running_var, theirs.running_var.data().asnumpy(), rtol=1e-5, atol=1e-6)
    x = _rand((4, 3, 3, 2), seed=7)
    be.check(
        ours.eval()(be.asarray(x)).data, theirs(mx.nd.array(x)).asnumpy(), rtol=1e-4, atol=1e-5
    )


# -- state dicts and files -------------------------------------------------------------------------


def _trained_cnn(be, seed=3):
    nn.manual_seed(seed)
    m = _small_cnn()
    m(be.asarray(X_CNN))  # moves the running statistics too
    return m.eval()


def test_state_dict_round_trip(be, tmp_path):
    a = _trained_cnn(be, seed=3)
    b = _trained_cnn(be, seed=4)
    x = be.asarray(X_CNN)
    assert not np.array_equal(_np(be, a(x)), _np(be, b(x)))
    state = a.state_dict()
    for v in state.values():
        be.check_array(v, dtype="float32")
    b.load_state_dict(state)
    assert np.array_equal(_np(be, a(x)), _np(be, b(x)))
    c = _trained_cnn(be, seed=5)
    a.save(tmp_path / "cnn.npz")
    c.load(tmp_path / "cnn.npz")
    assert np.array_equal(_np(be, a(x)), _np(be, c(x)))
    for v in c.state_dict().values():
        be.check_array(v, dtype="float32")


def test_file_saved_from_numpy_loads_on_the_backend(be, tmp_path):
    nn.manual_seed(11)
    src = _small_cnn()
    src(X_CNN)
    src.eval()
    src.save(os.fspath(tmp_path / "numpy.npz"))
    expected = np.asarray(_data(src(X_CNN)))
    fresh = _small_cnn().eval()  # not yet called: loaded parameters follow the first input
    fresh.load(tmp_path / "numpy.npz")
    y = fresh(be.asarray(X_CNN))
    be.check(y.data, expected, rtol=1e-5, atol=1e-6, dtype="float32")
    for v in fresh.state_dict().values():
        be.check_array(v, dtype="float32")


def test_loading_copies_the_arrays(be):
    """Like PyTorch's load_state_dict: an in-place update of the model never writes into the
    caller's arrays."""
    state = {k: be.asarray(v) for k, v in _host_state(_trained_cnn(be)).items()}
    before = {k: be.to_numpy(v).copy() for k, v in state.items()}
    for model in (_small_cnn(), _trained_cnn(be, seed=8)):
        model.load_state_dict(state)
        model(be.asarray(X_CNN))
        for p in model.parameters():
            try:
                p.data[...] = p.data * 0 + 1
            except TypeError:  # immutable arrays (JAX): nothing writes through them at all
                p.data = p.data * 0 + 1
        for k, v in state.items():
            assert np.array_equal(be.to_numpy(v), before[k]), k


def _state(be, model=None):
    return {k: be.asarray(v) for k, v in _host_state(model or _trained_cnn(be)).items()}


def test_load_state_dict_names_missing_and_unexpected_entries(be):
    model = _trained_cnn(be)
    state = _state(be, model)
    del state["1.running_var"]
    state["5.weight"] = be.asarray(np.zeros(3, np.float32))
    before = _host_state(model)
    with pytest.raises(pc.ArgumentError, match=r"missing: 1\.running_var.*unexpected: 5\.weight"):
        model.load_state_dict(state)
    after = _host_state(model)
    assert all(np.array_equal(before[k], after[k]) for k in before)
    model.load_state_dict(state, strict=False)  # the rest loads


def test_load_state_dict_names_the_wrong_entry(be):
    model = _trained_cnn(be)
    before = _host_state(model)
    bad_shape = _state(be, model)
    bad_shape["4.weight"] = be.asarray(np.zeros((3, 5), np.float32))
    with pytest.raises(pc.ArgumentError, match=r"state\['4\.weight'\]: shape \(3, 5\)"):
        model.load_state_dict(bad_shape)
    integer = _state(be, model)
    integer["0.bias"] = be.asarray(np.zeros(4, np.int32))
    with pytest.raises(pc.ArrayTypeError, match=r"state\['0\.bias'\].*int32"):
        model.load_state_dict(integer)
    for not_an_array in ([0.0] * 4, "weights", 1.5, None):
        wrong = _state(be, model)
        wrong["1.weight"] = not_an_array
        with pytest.raises(pc.ArrayTypeError, match=r"state\['1\.weight'\]: expected an array"):
            model.load_state_dict(wrong)
    after = _host_state(model)
    assert all(np.array_equal(before[k], after[k]) for k in before)  # nothing half-loaded
    # before the first call the declared shapes are checked
    with pytest.raises(pc.ArgumentError, match=r"state\['weight'\].*declared \(6, 3, 2, 2\)"):
        nn.Conv2d(3, 6, 2).load_state_dict(
            {"weight": np.zeros((6, 2, 2, 2), np.float32), "bias": np.zeros(6, np.float32)}
        )


def test_npz_with_object_arrays_is_refused(be, tmp_path):
    path = tmp_path / "pickled.npz"
    np.savez(path, **{"0.weight": np.array([object()], dtype=object)})
    with pytest.raises(pc.ArgumentError, match="object arrays"):
        _small_cnn().load(path)


def test_save_is_atomic(be, tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    model = _trained_cnn(be, seed=1)
    model.save(path)
    saved = dict(np.load(path))

    def broken_savez(file, **arrays):
        file.write(b"PK\x03\x04 half a zip file")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        _trained_cnn(be, seed=2).save(path)
    monkeypatch.undo()
    assert sorted(os.listdir(tmp_path)) == ["model.npz"]  # no temporary file left behind
    again = dict(np.load(path))
    assert saved.keys() == again.keys()
    assert all(np.array_equal(saved[k], again[k]) for k in saved)


# -- moving a model between libraries --------------------------------------------------------------


def test_numpy_model_moved_to_the_backend(be):
    nn.manual_seed(2)
    model = _small_cnn()
    expected = np.asarray(_data(model(X_CNN)))
    assert model.to(be.asarray(np.zeros(1, np.float32))) is model
    for v in model.state_dict().values():
        be.check_array(v, dtype="float32")
    be.check(model(be.asarray(X_CNN)).data, expected, rtol=1e-5, atol=1e-6, dtype="float32")
    if be.adapter.absorbs(pc.get_adapter("numpy")):  # Dask: NumPy inputs join its graph
        be.check(model(X_CNN).data, expected, rtol=1e-5, atol=1e-6, dtype="float32")
    elif be.name != "numpy":
        with pytest.raises(TypeError, match="two libraries"):
            model(X_CNN)
    model.to(X_CNN)  # and back
    assert all(isinstance(v, np.ndarray) for v in model.state_dict().values())
    assert isinstance(model(X_CNN).data, np.ndarray)


def test_torch_model_moved_to_numpy_and_back(be):
    """The torch session's own direction: parameters drawn on torch tensors move to NumPy."""
    torch = _torch(be)
    nn.manual_seed(2)
    model = _small_cnn().eval()
    expected = model(torch.tensor(X_CNN)).data.numpy()
    model.to(np.zeros(1, np.float32))
    np.testing.assert_allclose(np.asarray(model(X_CNN).data), expected, rtol=1e-5, atol=1e-6)
    model.to(torch.zeros(1))
    assert all(isinstance(v, torch.Tensor) for v in model.state_dict().values())


# -- training across backends, inputs untouched ----------------------------------------------------


def _train(x, y, steps=5):
    nn.manual_seed(42)
    model = _small_cnn()
    model(x)
    opt = SGD(model.parameters(), lr=0.1, momentum=0.9)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = ag.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss)
    return model, losses


def test_small_cnn_trains_like_on_numpy(be):
    _, ref = _train(X_CNN, Y_CNN)
    ref = np.array([float(np.asarray(r.data)) for r in ref])
    assert ref[-1] < ref[0]
    with be.run_context():
        model, losses = _train(be.asarray(X_CNN), be.asarray(Y_CNN))
    for loss, expected in zip(losses, ref):
        be.check(loss.data, expected, rtol=1e-4, atol=1e-6, dtype="float32")
    for p in model.parameters():
        be.check_array(p.data, dtype="float32")
        be.check_array(p.grad, dtype="float32")


def test_forward_and_backward_leave_inputs_untouched(be):
    x, y = be.asarray(X_CNN), be.asarray(Y_CNN)
    nn.manual_seed(0)
    model = nn.Sequential(_small_cnn(), nn.Dropout(0.5))
    vx = ag.Variable(x, requires_grad=True)
    losses = ag.cross_entropy(model(vx), y, reduction="none")
    losses.backward(be.asarray(np.ones(4, np.float32)))
    assert vx.grad is not None
    model.eval()
    model(x)
    np.testing.assert_array_equal(be.to_numpy(x), X_CNN)
    np.testing.assert_array_equal(be.to_numpy(y), Y_CNN)
    assert vx.data is x
