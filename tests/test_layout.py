"""Channels-last layers and models (issue 16): ``layout=`` on portconv.nn's convolution,
pooling, batch-norm and flatten layers and on every model of portconv.models.

The reference is the channels-first layer or model itself: given its weights transposed
(convolution OIHW -> HWIO; the first dense layer after a flatten with its inputs permuted
from (C, H, W) to (H, W, C) order), the channels-last one must give the same output on the
transposed input, float64, on every backend. Shapes, summaries, errors and the porting
converters' refusal are checked too."""

from __future__ import annotations

import io

import numpy as np
import pytest

import portconv as pc
import portconv.autograd as ag
from portconv import models, nn, porting
from portconv.models import shapes

CF, CL = "channels_first", "channels_last"


def _data(y):
    return y.data if isinstance(y, ag.Variable) else y


def _rand(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _last(x):
    """(N, C, *spatial) -> (N, *spatial, C)."""
    return np.moveaxis(x, 1, -1)


def _to_last(state, flat=None):
    """A channels-first state dict (NumPy) in the channels-last convention: convolution
    weights OIHW -> HWIO, and the first dense weight's inputs from (C, *spatial) to
    (*spatial, C) order when ``flat`` gives the (C, *spatial) it flattens."""
    out, first_dense = {}, True
    for name, v in state.items():
        if v.ndim > 2:
            v = np.transpose(v, tuple(range(2, v.ndim)) + (1, 0))
        elif v.ndim == 2 and first_dense:
            first_dense = False
            if flat is not None:
                d = len(flat) - 1
                v = v.reshape((v.shape[0],) + tuple(flat))
                v = np.transpose(v, (0,) + tuple(range(2, d + 2)) + (1,)).reshape(v.shape[0], -1)
        out[name] = np.ascontiguousarray(v)
    return out


def _randomise_vectors(be, model, seed=1):
    """Biases, batch-norm scales and running statistics drawn at random (so that they are
    compared too); returns the model's state as NumPy arrays."""
    rng = np.random.default_rng(seed)
    state = {k: be.to_numpy(v) for k, v in model.state_dict().items()}
    for k, v in state.items():
        if v.ndim == 1:
            state[k] = (
                rng.uniform(0.5, 1.5, v.shape)
                if k.endswith("var")
                else rng.normal(0.0, 0.3, v.shape)
            )
    model.load_state_dict(state)
    return state


def _compare(be, make, x, flat=None, *, train=False):
    """The channels-last model of ``make(layout)`` given the channels-first one's weights
    transposed gives the same output; with ``train``, a training-mode call (batch
    statistics) first, then the running statistics and an evaluation call compared too."""
    cf, cl = make(CF), make(CL)
    xf, xl = be.asarray(x), be.asarray(_last(x))
    with be.run_context():
        cf(xf)  # creates the lazy layers' parameters from the input
        cl(xl)
    state = _randomise_vectors(be, cf)
    cl.load_state_dict(_to_last(state, flat))
    for mode in (True, False) if train else (False,):
        cf.train(mode)
        cl.train(mode)
        with be.run_context():
            want, got = cf(xf), cl(xl)
        be.check(_data(got), be.to_numpy(_data(want)), rtol=1e-9, atol=1e-10, dtype="float64")
    if train:  # the running statistics moved alike (they are per channel in both)
        after = {k: be.to_numpy(v) for k, v in cl.state_dict().items()}
        for k, v in cf.state_dict().items():
            if k.endswith(("running_mean", "running_var")):
                np.testing.assert_allclose(after[k], be.to_numpy(v), rtol=1e-9, atol=1e-12)
    return be.to_numpy(_data(got))


# -- every model: the same logits -----------------------------------------------------------------

# (id, make(layout), channels-first input shape, the (C, H, W) flattened before the first
# dense layer, training mode checked too); each at about the smallest input it accepts
MODELS = [
    ("LeNet", lambda lay: models.LeNet(layout=lay), (2, 1, 28, 28), (16, 5, 5), False),
    (
        "LeNetModern",
        lambda lay: models.LeNetModern(4, layout=lay),
        (2, 1, 28, 28),
        (16, 5, 5),
        False,
    ),
    ("BNLeNet", lambda lay: models.BNLeNet(4, layout=lay), (3, 1, 28, 28), (16, 4, 4), True),
    ("LeNet5", lambda lay: models.LeNet5(layout=lay), (2, 1, 32, 32), (20, 5, 5), False),
    ("AlexNet", lambda lay: models.AlexNet(3, layout=lay), (1, 1, 99, 99), (256, 2, 2), False),
    (
        "VGG",
        lambda lay: models.VGG(((1, 4), (2, 8)), 5, layout=lay),
        (2, 3, 12, 12),
        (8, 3, 3),
        False,
    ),
    ("NiN", lambda lay: models.NiN(7, layout=lay), (1, 2, 67, 67), None, False),
    ("GoogLeNet", lambda lay: models.GoogLeNet(layout=lay), (1, 1, 33, 33), None, False),
    (
        "ResNet",
        lambda lay: models.ResNet(((1, 64), (1, 16)), 3, layout=lay),
        (2, 1, 17, 17),
        None,
        True,
    ),
    (
        "DenseNet",
        lambda lay: models.DenseNet(8, 4, (2, 2), 3, layout=lay),
        (2, 1, 17, 17),
        None,
        True,
    ),
    (
        "AnyNet",
        lambda lay: models.AnyNet(((1, 16, 8, 1.0), (2, 32, 16, 1.0)), 8, 3, layout=lay),
        (2, 3, 16, 16),
        None,
        True,
    ),
]


@pytest.mark.parametrize(
    "make, shape, flat, train", [m[1:] for m in MODELS], ids=[m[0] for m in MODELS]
)
def test_channels_last_model_equals_the_channels_first_one(be, make, shape, flat, train):
    got = _compare(be, make, _rand(shape) * 0.5, flat, train=train)
    assert got.shape[0] == shape[0] and np.abs(got).max() > 0


# -- shapes: layer_summary and the dry run print the layout ---------------------------------------

SUMMARIES = [
    ("LeNet", lambda lay: models.LeNet(layout=lay), 28),
    ("BNLeNet", lambda lay: models.BNLeNet(layout=lay), 28),
    ("AlexNet", lambda lay: models.AlexNet(layout=lay), 65),
    ("VGG", lambda lay: models.VGG(((1, 4), (1, 8)), layout=lay), 8),
    ("NiN", lambda lay: models.NiN(layout=lay), 67),
    ("GoogLeNet", lambda lay: models.GoogLeNet(layout=lay), 32),
    ("ResNet18", lambda lay: models.ResNet18(layout=lay), 16),
    ("DenseNet", lambda lay: models.DenseNet(8, 4, (2, 2), layout=lay), 16),
    ("RegNetX32", lambda lay: models.RegNetX32(layout=lay), 16),
]


@pytest.mark.parametrize("make, hw", [s[1:] for s in SUMMARIES], ids=[s[0] for s in SUMMARIES])
def test_summaries_print_shapes_in_the_layout(make, hw):
    first = make(CF).layer_summary((1, 1, hw, hw), file=io.StringIO())
    model = make(CL)
    out = io.StringIO()
    rows = model.layer_summary((1, hw, hw, 1), file=out)
    # the same layers, every 4-D shape (N, C, H, W) printed as (N, H, W, C)
    assert rows == [(name, (s[0], s[2], s[3], s[1]) if len(s) == 4 else s) for name, s in first]
    assert out.getvalue().splitlines()[0] == f"{rows[0][0]} output shape:\t {rows[0][1]}"
    dry = shapes.shape_summary(make(CL), (1, hw, hw, 1), file=io.StringIO())
    assert dry == rows
    assert shapes.count_parameters(make(CL), (1, hw, hw, 1)) == model.num_parameters()
    assert model.num_parameters() == shapes.count_parameters(make(CF), (1, 1, hw, hw))


def test_lenet5_prints_its_shapes_channels_last():
    rows = models.LeNet5(layout=CL).layer_summary((1, 32, 32, 1), file=io.StringIO())
    assert rows[1:] == [
        ("Conv2d", (1, 28, 28, 20)),
        ("MaxPool2d", (1, 14, 14, 20)),
        ("Conv2d", (1, 10, 10, 20)),
        ("MaxPool2d", (1, 5, 5, 20)),
        ("Flatten", (1, 500)),
        (None, (1, 10)),
    ]
    assert shapes.output_shape(models.LeNet5(layout=CL), (1, 32, 32, 1)) == (1, 10)


def test_blocks_concatenate_on_the_channel_axis_of_the_layout():
    x = np.zeros((2, 7, 7, 3), np.float32)
    inc = models.Inception(4, (2, 5), (1, 3), 2, layout=CL)
    assert tuple(inc(x).shape) == (2, 7, 7, 14)
    assert shapes.output_shape(models.Inception(4, (2, 5), (1, 3), 2, layout=CL), x.shape) == (
        2, 7, 7, 14,
    )  # fmt: skip
    blk = models.DenseBlock(2, 10, layout=CL)
    assert tuple(blk(x).shape) == (2, 7, 7, 23)
    assert shapes.output_shape(models.DenseBlock(2, 10, layout=CL), x.shape) == (2, 7, 7, 23)
    res = models.Residual(6, use_1x1conv=True, strides=2, layout=CL)
    assert tuple(res(x).shape) == (2, 4, 4, 6)
    nxt = models.ResNeXtBlock(32, 16, 1, True, 2, layout=CL)
    assert tuple(nxt(x).shape) == (2, 4, 4, 32)


# -- layers ---------------------------------------------------------------------------------------


def _lay(last):
    return CL if last else CF


# (id, make(channels_last: bool), channels-first input shape)
LAYERS = [
    ("Conv1d", lambda last: nn.Conv1d(4, 6, 3, 2, 1, groups=2, layout=_lay(last)), (2, 4, 9)),
    (
        "Conv2d",
        lambda last: nn.Conv2d(3, 4, (3, 2), padding="same", dilation=2, layout=_lay(last)),
        (2, 3, 7, 8),
    ),
    (
        "LazyConv3d",
        lambda last: nn.LazyConv3d(2, 2, stride=(1, 2, 1), layout=_lay(last)),
        (1, 3, 4, 5, 4),
    ),
    (
        "Conv1D",
        lambda last: nn.Conv1D(3, 3, layout="NWC" if last else "NCW", activation="relu"),
        (2, 2, 6),
    ),
    (
        "Conv2D",
        lambda last: nn.Conv2D(4, 3, 2, 1, groups=2, layout="NHWC" if last else None),
        (2, 4, 7, 7),
    ),
    ("Conv3D", lambda last: nn.Conv3D(2, 2, layout="NDHWC" if last else "NCDHW"), (1, 2, 3, 4, 3)),
    (
        "MaxPool2d",
        lambda last: nn.MaxPool2d(3, 2, 1, ceil_mode=True, layout=_lay(last)),
        (2, 3, 8, 7),
    ),
    (
        "AvgPool1d",
        lambda last: nn.AvgPool1d(3, 2, 1, count_include_pad=False, layout=_lay(last)),
        (2, 3, 8),
    ),
    ("MaxPool3D", lambda last: nn.MaxPool3D(2, layout="NDHWC" if last else None), (1, 2, 4, 4, 5)),
    (
        "AvgPool2D",
        lambda last: nn.AvgPool2D(3, 2, 1, True, layout="NHWC" if last else "NCHW"),
        (2, 3, 8, 7),
    ),
    (
        "AdaptiveAvgPool2d",
        lambda last: nn.AdaptiveAvgPool2d((2, 3), layout=_lay(last)),
        (2, 3, 7, 8),
    ),
    ("GlobalAvgPool2D", lambda last: nn.GlobalAvgPool2D("NHWC" if last else "NCHW"), (2, 3, 5, 4)),
    ("GlobalMaxPool2D", lambda last: nn.GlobalMaxPool2D(layout=_lay(last)), (2, 3, 5, 4)),
    ("BatchNorm1d", lambda last: nn.BatchNorm1d(3, layout=_lay(last)), (4, 3, 5)),
    ("LazyBatchNorm2d", lambda last: nn.LazyBatchNorm2d(layout=_lay(last)), (2, 3, 4, 5)),
    ("BatchNorm", lambda last: nn.BatchNorm(axis=-1 if last else 1), (2, 3, 2, 3, 2)),
    (
        "BatchNorm2D",
        lambda last: nn.BatchNorm2D(axis=3 if last else 1, in_channels=3),
        (2, 3, 4, 5),
    ),
    (
        "ConvTranspose2d",
        lambda last: nn.ConvTranspose2d(4, 6, 3, 2, 1, 1, groups=2, layout=_lay(last)),
        (2, 4, 5, 6),
    ),
    (
        "LazyConvTranspose1d",
        lambda last: nn.LazyConvTranspose1d(3, 3, 2, dilation=2, layout=_lay(last)),
        (2, 2, 6),
    ),
    (
        "Conv2DTranspose",
        lambda last: nn.Conv2DTranspose(4, 3, 2, 1, 1, layout="NHWC" if last else None),
        (1, 3, 4, 5),
    ),
    (
        "Conv3DTranspose",
        lambda last: nn.Conv3DTranspose(2, 2, 2, layout="NDHWC" if last else "NCDHW"),
        (1, 3, 2, 3, 2),
    ),
    (
        "AdaptiveMaxPool2d",
        lambda last: nn.AdaptiveMaxPool2d((2, 3), layout=_lay(last)),
        (2, 3, 7, 8),
    ),
    ("AdaptiveAvgPool3d", lambda last: nn.AdaptiveAvgPool3d(2, layout=_lay(last)), (1, 2, 5, 4, 3)),
    ("AdaptiveMaxPool1d", lambda last: nn.AdaptiveMaxPool1d(3, layout=_lay(last)), (2, 3, 7)),
    (
        "LPPool2d",
        lambda last: nn.LPPool2d(2, 3, 2, ceil_mode=True, layout=_lay(last)),
        (2, 3, 8, 7),
    ),
    ("LPPool1d", lambda last: nn.LPPool1d(3.0, 2, layout=_lay(last)), (2, 3, 8)),
    ("Dropout2d", lambda last: nn.Dropout2d(0.5, layout=_lay(last)), (4, 6, 3, 2)),
    ("Dropout1d", lambda last: nn.Dropout1d(0.3, layout=_lay(last)), (4, 5, 3)),
]


@pytest.mark.parametrize("make, shape", [c[1:] for c in LAYERS], ids=[c[0] for c in LAYERS])
def test_channels_last_layer_equals_the_channels_first_one(be, make, shape):
    x = _rand(shape)
    cf, cl = make(False), make(True)
    xf, xl = be.asarray(x), be.asarray(_last(x))
    with be.run_context():
        cf(xf)
        cl(xl)
    if cf.state_dict():
        cl.load_state_dict(_to_last(_randomise_vectors(be, cf)))
    cf.train(True)
    cl.train(True)
    with be.run_context():
        nn.init.manual_seed(7)  # channel dropout: the same channels drawn for both layouts
        want = cf(xf)
        nn.init.manual_seed(7)
        got = cl(xl)
    be.check(_data(got), _last(be.to_numpy(_data(want))), rtol=1e-9, atol=1e-10, dtype="float64")


@pytest.mark.parametrize("d", [1, 2, 3])
def test_functional_transposed_convolution_takes_a_layout(be, d):
    rng = np.random.default_rng(d)
    x = rng.standard_normal((2, 4) + (3,) * d)
    w = rng.standard_normal((4, 3) + (2,) * d)  # (C_in, C_out/groups, *kernel), groups=2
    b = rng.standard_normal(6)
    want = pc.conv_transpose(be.asarray(x), be.asarray(w), be.asarray(b), 2, 1, 1, 2)
    w_last = np.transpose(w, tuple(range(2, d + 2)) + (1, 0))  # (*kernel, C_out/groups, C_in)
    name = {1: "NWC", 2: "NHWC", 3: "NDHWC"}[d]
    for layout in ("channels_last", name):
        got = pc.conv_transpose(
            be.asarray(_last(x)), be.asarray(w_last), be.asarray(b), 2, 1, 1, 2, layout=layout
        )
        be.check(got, _last(be.to_numpy(want)), rtol=1e-9, atol=1e-10, dtype="float64")
    whole = (2,) + tuple(int(s) for s in want.shape[2:]) + (6,)  # a whole NHWC shape
    sized = pc.conv_transpose(
        be.asarray(_last(x)), be.asarray(w_last), None, 2, 1, 0, 2,
        output_size=whole, layout="channels_last",
    )  # fmt: skip
    assert tuple(sized.shape) == whole
    with pytest.raises(pc.ArgumentError, match="weight: expected a .*C_out/groups, C_in"):
        fixed = getattr(pc, f"conv_transpose{d}d")
        fixed(be.asarray(_last(x)), be.asarray(w_last[..., 0]), layout="channels_last")


def test_channels_last_convolution_gradients_are_the_transposed_ones(be):
    x = _rand((2, 3, 6, 5))
    cf, cl = nn.Conv2d(3, 4, 3, padding=1, layout=CF), nn.Conv2d(3, 4, 3, padding=1, layout=CL)
    xf, xl = (
        ag.Variable(be.asarray(x), requires_grad=True),
        ag.Variable(be.asarray(_last(x)), requires_grad=True),
    )
    with be.run_context():
        cf(xf)
        cl(xl)
    cl.load_state_dict(_to_last({k: be.to_numpy(v) for k, v in cf.state_dict().items()}))
    with be.run_context():
        (cf(xf) * cf(xf)).sum().backward()
        (cl(xl) * cl(xl)).sum().backward()
    be.check(
        cl.weight.grad, be.to_numpy(cf.weight.grad).transpose(2, 3, 1, 0), rtol=1e-9, atol=1e-10
    )
    be.check(cl.bias.grad, be.to_numpy(cf.bias.grad), rtol=1e-9, atol=1e-10)
    be.check(xl.grad, _last(be.to_numpy(xf.grad)), rtol=1e-9, atol=1e-10)  # fmt: skip


def test_channels_last_weights_are_hwio_with_pytorch_fans():
    conv = nn.LazyConv2d(64, (3, 5), groups=2, layout=CL)
    conv(np.zeros((1, 9, 9, 8), np.float32))
    assert tuple(conv.weight.shape) == (3, 5, 4, 64)
    # PyTorch's default bound 1 / sqrt(fan_in), fan_in = C_in/groups * kh * kw = 60
    w = np.abs(conv.weight.data)
    assert w.max() <= 1 / np.sqrt(60) and w.max() > 0.9 / np.sqrt(60)
    assert tuple(nn.Conv2D(6, 5, layout="NHWC", in_channels=2).weight.shape) == (5, 5, 2, 6)
    # transposed: (*kernel, C_out/groups, C_in), Keras's Conv2DTranspose kernel
    up = nn.ConvTranspose2d(4, 6, (3, 5), groups=2, layout=CL)
    assert tuple(up.weight.shape) == (3, 5, 3, 4)
    assert repr(up) == (
        "ConvTranspose2d(4, 6, kernel_size=(3, 5), stride=(1, 1), groups=2, layout='channels_last')"
    )


def test_printouts_show_the_layout():
    assert repr(nn.Conv2d(1, 6, 5, layout=CL)) == (
        "Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1), layout='channels_last')"
    )
    assert repr(nn.MaxPool2d(2, layout=CL)).endswith("ceil_mode=False, layout='channels_last')")
    assert repr(nn.Conv2D(6, 5, layout="NHWC", in_channels=2)) == (
        "Conv2D(2 -> 6, kernel_size=(5, 5), stride=(1, 1))"
    )
    # as MXNet 1.9.1 prints them
    assert repr(nn.MaxPool2D(layout="NHWC")).endswith("pool_type=max, layout=NHWC)")
    assert repr(nn.GlobalAvgPool2D(layout="NHWC")).endswith("pool_type=avg, layout=NHWC)")
    assert repr(nn.BatchNorm(axis=-1)).startswith("BatchNorm(axis=-1, eps=1e-05")
    assert repr(nn.Flatten(layout=CL)) == "Flatten(start_dim=1, end_dim=-1, layout='channels_last')"
    assert repr(nn.LazyConv2d(6, 5)) == "LazyConv2d(0, 6, kernel_size=(5, 5), stride=(1, 1))"


# -- errors ---------------------------------------------------------------------------------------

BOTH = "layout: expected 'channels_first' or 'channels_last', "
REFUSED = [
    (lambda: nn.Conv2d(1, 2, 3, layout="NHWC"), BOTH + "got 'NHWC'"),
    (lambda: nn.LazyConv1d(2, 3, layout=None), "layout: expected .* got None"),
    (
        lambda: nn.Conv2D(2, 3, layout="NWC"),
        "layout: expected 'NCHW', 'NHWC', .* or None, got 'NWC'",
    ),
    (lambda: nn.Conv1D(2, 3, layout="nwc"), "layout: .*got 'nwc'"),
    (lambda: nn.MaxPool2d(2, layout="last"), "layout: .*got 'last'"),
    (lambda: nn.AvgPool3D(layout="NHWC"), "layout: .*'NDHWC'.*got 'NHWC'"),
    (lambda: nn.AdaptiveAvgPool2d(1, layout=2), "layout: .*got 2"),
    (lambda: nn.GlobalMaxPool2D("NCW"), "layout: .*got 'NCW'"),
    (lambda: nn.BatchNorm2d(3, layout="NHWC"), "layout: .*got 'NHWC'"),
    (lambda: nn.BatchNorm(axis=0), "axis: expected the channel axis, 1 .* got 0"),
    (lambda: nn.BatchNorm(axis=True), "axis: .* got True"),
    (lambda: nn.Flatten(layout="NHWC"), "layout: .*got 'NHWC'"),
    (lambda: nn.Conv2DTranspose(2, 3, layout="NWC"), "layout: .*got 'NWC'"),
    (lambda: nn.ConvTranspose1d(2, 3, 3, layout="NWC"), BOTH + "got 'NWC'"),
    (lambda: models.ResNet18(layout="NHWC"), BOTH + "got 'NHWC'"),
    (lambda: models.LeNet5(layout="last"), "layout: .*got 'last'"),
    (lambda: models.vgg_block(1, 4, layout="bad"), "layout: .*got 'bad'"),
    (lambda: models.Inception(1, (1, 1), (1, 1), 1, layout="bad"), "layout: .*got 'bad'"),
    (lambda: models.DenseBlock(1, 1, layout="bad"), "layout: .*got 'bad'"),
]


@pytest.mark.parametrize("make, message", REFUSED)
def test_bad_layouts_are_refused_by_name(make, message):
    with pytest.raises(pc.ArgumentError, match=message):
        make()


def test_channels_last_inputs_are_checked_on_their_channel_axis():
    conv = nn.Conv2d(3, 2, 3, layout=CL)
    with pytest.raises(pc.ArgumentError, match=r"expects 3 input channels \(axis 3\)"):
        conv(np.zeros((1, 3, 8, 8), np.float32))  # channels first by mistake
    with pytest.raises(pc.ArgumentError, match=r"expects \(N, H, W, C\) or \(H, W, C\) arrays"):
        conv(np.zeros((8, 8), np.float32))
    bn = nn.BatchNorm2d(3, layout=CL)
    with pytest.raises(pc.ArgumentError, match=r"expects 3 channels \(axis 3\)"):
        bn(np.zeros((1, 3, 8, 8), np.float32))
    with pytest.raises(pc.ArgumentError, match="axis=2 of a 4-D input is neither"):
        nn.BatchNorm(axis=2)(np.zeros((1, 3, 8, 8), np.float32))
    with pytest.raises(pc.ArgumentError, match=r"expects 1 input channels \(axis 3\)"):
        models.LeNet5(layout=CL)(np.zeros((1, 1, 32, 32), np.float32))


# -- weights: the model's own convention; the frameworks' converters refuse -----------------------


def test_state_dict_round_trip_keeps_the_channels_last_convention(tmp_path):
    x = _rand((2, 28, 28, 1)).astype(np.float32)
    model = models.LeNet(layout=CL)
    y = model(x).data
    assert tuple(model.state_dict()["net.0.weight"].shape) == (5, 5, 1, 6)
    model.save(tmp_path / "lenet.npz")
    fresh = models.LeNet(layout=CL)
    fresh.load(tmp_path / "lenet.npz")
    np.testing.assert_array_equal(fresh(x).data, y)


CONVERTERS = [
    ("load_torch_state_dict", lambda m, s: porting.load_torch_state_dict(m, s), "PyTorch"),
    ("export_torch_state_dict", lambda m, s: porting.export_torch_state_dict(m), "PyTorch"),
    ("load_gluon_params", lambda m, s: porting.load_gluon_params(m, s), "Gluon"),
    ("gluon_to_state_dict", lambda m, s: porting.gluon_to_state_dict(m, s), "Gluon"),
    ("load_flax_params", lambda m, s: porting.load_flax_params(m, s), "Flax"),
    ("export_flax_params", lambda m, s: porting.export_flax_params(m), "Flax"),
]


@pytest.mark.parametrize(
    "call, source", [c[1:] for c in CONVERTERS], ids=[c[0] for c in CONVERTERS]
)
def test_framework_converters_refuse_channels_last_models(call, source):
    # the frameworks' files hold OIHW kernels and (C, H, W)-flattened features: no silent
    # misreading of them into HWIO weights, even where the shapes happen to agree
    model = models.LeNet(layout=CL)
    model(np.zeros((1, 28, 28, 1), np.float32))
    state = {k: np.asarray(v) for k, v in model.state_dict().items()}
    before = {k: np.array(v) for k, v in state.items()}
    with pytest.raises(pc.ArgumentError) as info:
        call(model, state)
    message = str(info.value)
    assert "net.0 (LazyConv2d) takes channels-last input" in message
    assert f"portconv's {source} converters map channels-first models only" in message
    assert "layout='channels_first'" in message
    for k, v in model.state_dict().items():  # nothing changed
        np.testing.assert_array_equal(np.asarray(v), before[k])


def test_channels_last_pooling_alone_is_refused_by_the_converters():
    # a channels-last flatten order reaches the dense layer even without a convolution
    model = nn.Sequential(nn.MaxPool2d(2, layout=CL), nn.Flatten(layout=CL), nn.Linear(12, 2))
    with pytest.raises(pc.ArgumentError, match=r"0 \(MaxPool2d\) takes channels-last input"):
        porting.gluon_to_state_dict(model, {"0.weight": np.zeros((2, 12)), "0.bias": np.zeros(2)})
    assert nn.layers.channels_last_layers(model)[1][0] == "1"
