"""The book's TensorFlow-edition models (:mod:`portconv.models.keras`): the per-layer NHWC
shapes the TF edition prints, logits equal to the channels-first editions of
:mod:`portconv.models` after copying the weights (HWIO -> OIHW, dense (in, out) -> (out, in)),
float64, on every backend; the dry run (:func:`portconv.models.shape_summary`,
``count_parameters``) against the printed rows, the channels-first editions' counts and a real
forward; one SGD step lowers the loss; arguments refused by name; and the Keras layers added
for these models (``Activation``, ``ReLU``)."""

from __future__ import annotations

import doctest
import io

import numpy as np
import pytest

import portconv as pc
import portconv.autograd as ag
from portconv import models, nn
from portconv.models import keras as km
from portconv.nn import keras


def _rand(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def test_docstring_examples_run():
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(km, optionflags=flags)
    assert result.failed == 0 and result.attempted > 10


# -- the shapes the TensorFlow edition prints -----------------------------------------------------

# X = tf.random.uniform((1, 224, 224, 1)) (96 for GoogLeNet and ResNet); for layer in net.layers:
# X = layer(X); print(layer.__class__.__name__, 'output shape:\t', X.shape)
ALEXNET_224 = [
    ("Conv2D", (1, 54, 54, 96)),
    ("MaxPooling2D", (1, 26, 26, 96)),
    ("Conv2D", (1, 26, 26, 256)),
    ("MaxPooling2D", (1, 12, 12, 256)),
    ("Conv2D", (1, 12, 12, 384)),
    ("Conv2D", (1, 12, 12, 384)),
    ("Conv2D", (1, 12, 12, 256)),
    ("MaxPooling2D", (1, 5, 5, 256)),
    ("Flatten", (1, 6400)),
    ("Dense", (1, 4096)),
    ("Dropout", (1, 4096)),
    ("Dense", (1, 4096)),
    ("Dropout", (1, 4096)),
    ("Dense", (1, 10)),
]
VGG11_224 = [
    ("Sequential", (1, 112, 112, 64)),
    ("Sequential", (1, 56, 56, 128)),
    ("Sequential", (1, 28, 28, 256)),
    ("Sequential", (1, 14, 14, 512)),
    ("Sequential", (1, 7, 7, 512)),
    ("Sequential", (1, 10)),
]
NIN_224 = [
    ("Sequential", (1, 54, 54, 96)),
    ("MaxPooling2D", (1, 26, 26, 96)),
    ("Sequential", (1, 26, 26, 256)),
    ("MaxPooling2D", (1, 12, 12, 256)),
    ("Sequential", (1, 12, 12, 384)),
    ("MaxPooling2D", (1, 5, 5, 384)),
    ("Dropout", (1, 5, 5, 384)),
    ("Sequential", (1, 5, 5, 10)),
    ("GlobalAveragePooling2D", (1, 10)),
    ("Flatten", (1, 10)),
]
GOOGLENET_96 = [
    ("Sequential", (1, 24, 24, 64)),
    ("Sequential", (1, 12, 12, 192)),
    ("Sequential", (1, 6, 6, 480)),
    ("Sequential", (1, 3, 3, 832)),
    ("Sequential", (1, 1024)),
    ("Dense", (1, 10)),
]
RESNET18_96 = [
    ("Sequential", (1, 24, 24, 64)),
    ("Sequential", (1, 24, 24, 64)),
    ("Sequential", (1, 12, 12, 128)),
    ("Sequential", (1, 6, 6, 256)),
    ("Sequential", (1, 3, 3, 512)),
    ("Sequential", (1, 10)),
]
DENSENET_96 = [
    ("Sequential", (1, 24, 24, 64)),
    ("DenseBlock", (1, 24, 24, 192)),
    ("TransitionBlock", (1, 12, 12, 96)),
    ("DenseBlock", (1, 12, 12, 224)),
    ("TransitionBlock", (1, 6, 6, 112)),
    ("DenseBlock", (1, 6, 6, 240)),
    ("TransitionBlock", (1, 3, 3, 120)),
    ("DenseBlock", (1, 3, 3, 248)),
    ("Sequential", (1, 10)),
]

REGNETX32_96 = [
    ("Sequential", (1, 48, 48, 32)),
    ("Sequential", (1, 24, 24, 32)),
    ("Sequential", (1, 12, 12, 80)),
    ("Sequential", (1, 10)),
]


def _quarter(rows):
    """The VGG-11 rows with every convolution's channels divided by 4 (``VGG11(ratio=4)``)."""
    return [(n, s[:-1] + (s[-1] // 4,)) if len(s) == 4 else (n, s) for n, s in rows]


SHAPES = [
    ("AlexNet", lambda: km.AlexNet(), 224, ALEXNET_224),
    ("VGG11/4", lambda: km.VGG11(ratio=4), 224, _quarter(VGG11_224)),
    ("NiN", lambda: km.NiN(), 224, NIN_224),
    ("GoogLeNet", lambda: km.GoogLeNet(), 96, GOOGLENET_96),
    ("ResNet18", lambda: km.ResNet18(), 96, RESNET18_96),
    ("DenseNet", lambda: km.DenseNet(), 96, DENSENET_96),
    ("RegNetX32", lambda: km.RegNetX32(), 96, REGNETX32_96),
]
BOOK_SIZED = SHAPES + [("VGG11", lambda: km.VGG11(), 224, VGG11_224)]


@pytest.mark.parametrize("name, make, size, rows", SHAPES, ids=[s[0] for s in SHAPES])
def test_tf_edition_prints_the_tf_editions_nhwc_shapes(be, name, make, size, rows):
    if be.name != "numpy":
        pytest.skip(
            "book-sized forward passes (224 x 224 / 96 x 96) run on NumPy only, for time; "
            "every backend runs the same layers in the logits tests below"
        )
    assert make().layer_summary((1, size, size, 1), like=be.asarray(np.zeros(1))) == rows


def test_vgg11_full_width_has_the_books_channels():
    # the full-width VGG-11's rows differ from the tested ratio=4 ones only in channels
    assert km.VGG11().arch == models.VGG_ARCHS["VGG11"]
    assert [c for _, c in km.VGG11().arch] == [s[-1] for _, s in VGG11_224[:5]]


# -- the dry run: the same rows and parameters, computing nothing ----------------------------------


@pytest.mark.parametrize("name, make, size, rows", BOOK_SIZED, ids=[s[0] for s in BOOK_SIZED])
def test_dry_run_prints_the_tf_editions_rows_at_the_books_sizes(name, make, size, rows):
    out = io.StringIO()
    assert models.shape_summary(make(), (1, size, size, 1), file=out) == rows
    # the lines layer_summary prints on NumPy, whose shapes print as tuples
    assert out.getvalue().splitlines() == [f"{n} output shape:\t {s}" for n, s in rows]


# (TF-edition model, its channels-first edition, the input size): the same parameters
SAME_COUNT = [
    ("AlexNet", lambda: km.AlexNet(), lambda: models.AlexNet(), 224),
    ("VGG11", lambda: km.VGG11(), lambda: models.VGG11(), 224),
    ("NiN", lambda: km.NiN(), lambda: models.NiN(), 224),
    ("GoogLeNet", lambda: km.GoogLeNet(), lambda: models.GoogLeNet(), 96),
    ("ResNet18", lambda: km.ResNet18(1000), lambda: models.ResNet18(1000), 224),
    ("DenseNet", lambda: km.DenseNet(), lambda: models.DenseNet(), 96),
    ("RegNetX32", lambda: km.RegNetX32(), lambda: models.RegNetX32(), 96),
]


@pytest.mark.parametrize("name, make, make_cf, size", SAME_COUNT, ids=[s[0] for s in SAME_COUNT])
def test_dry_run_counts_the_channels_first_editions_parameters(name, make, make_cf, size):
    got = models.count_parameters(make(), (1, size, size, 3))
    assert got == models.count_parameters(make_cf(), (1, 3, size, size))
    if name == "ResNet18":  # the book's ResNet-18 (biases, no shortcut batch norm)
        assert got == 11_692_520


# (id, factory, a small valid NHWC input, the output shape)
FORWARD = [
    ("AlexNet", lambda: km.AlexNet(), (2, 67, 67, 1), (2, 10)),
    ("VGG", lambda: km.VGG(((1, 4), (1, 8), (2, 8), (2, 16), (2, 16))), (2, 32, 32, 1), (2, 10)),
    ("NiN", lambda: km.NiN(), (2, 67, 67, 1), (2, 10)),
    ("GoogLeNet", lambda: km.GoogLeNet(), (2, 32, 32, 1), (2, 10)),
    ("ResNet18", lambda: km.ResNet18(), (2, 32, 32, 1), (2, 10)),
    ("ResNet", lambda: km.ResNet(((1, 64), (1, 8)), 5), (2, 16, 16, 3), (2, 5)),
    ("DenseNet", lambda: km.DenseNet(), (2, 32, 32, 1), (2, 10)),
    ("RegNetX32", lambda: km.RegNetX32(), (2, 32, 32, 1), (2, 10)),
    ("AnyNet", lambda: km.AnyNet(((1, 8, 4, 0.5), (2, 12, 6, 1)), 6, 3), (2, 16, 16, 1), (2, 3)),
    ("Residual", lambda: km.Residual(3), (4, 6, 6, 3), (4, 6, 6, 3)),
    ("Residual_1x1", lambda: km.Residual(6, True, 2), (4, 7, 7, 3), (4, 4, 4, 6)),
    ("Inception", lambda: km.Inception(4, (2, 5), (2, 3), 2), (2, 5, 5, 3), (2, 5, 5, 14)),
    ("ConvBlock", lambda: km.ConvBlock(5), (2, 4, 4, 3), (2, 4, 4, 8)),
    ("DenseBlock", lambda: km.DenseBlock(2, 10), (4, 8, 8, 3), (4, 8, 8, 23)),
    ("TransitionBlock", lambda: km.TransitionBlock(10), (4, 9, 9, 23), (4, 4, 4, 10)),
    ("ResNeXtBlock", lambda: km.ResNeXtBlock(32, 16, 1), (2, 6, 6, 32), (2, 6, 6, 32)),
    ("ResNeXtBlock_1x1", lambda: km.ResNeXtBlock(16, 4, 0.5, True, 2), (2, 6, 6, 8),
     (2, 3, 3, 16)),
    ("vgg_block", lambda: km.vgg_block(2, 4), (1, 7, 7, 3), (1, 3, 3, 4)),
    ("nin_block", lambda: km.nin_block(4, 3, 2, "same"), (1, 7, 7, 3), (1, 4, 4, 4)),
]  # fmt: skip


@pytest.mark.parametrize(
    "make, in_shape, out_shape", [f[1:] for f in FORWARD], ids=[f[0] for f in FORWARD]
)
def test_dry_run_equals_a_real_forward(be, make, in_shape, out_shape):
    nn.manual_seed(0)
    model = make()
    assert models.output_shape(model, in_shape) == out_shape  # before any parameter exists
    dry_count = models.count_parameters(model, in_shape)
    x = be.asarray(_rand(in_shape).astype(np.float32))
    with be.run_context():
        y = model(x)
    be.check_array(be.data(y), dtype="float32")
    assert tuple(be.data(y).shape) == out_shape
    assert model.num_parameters() == dry_count
    # layer_summary (a real forward, layer by layer) = shape_summary (the dry run); a block
    # with a forward of its own is one row
    printed, dry = io.StringIO(), io.StringIO()
    with be.run_context():
        rows = model.layer_summary(in_shape, like=x, file=printed)
    assert rows == models.shape_summary(model, in_shape, file=dry)
    if be.name == "numpy":  # shapes print as tuples there (torch prints torch.Size(...))
        assert printed.getvalue() == dry.getvalue()


def test_dry_run_refuses_a_residual_shortcut_that_does_not_fit():
    with pytest.raises(pc.ArgumentError, match="use_1x1conv=True"):
        models.output_shape(km.Residual(6), (1, 4, 4, 3))
    with pytest.raises(pc.ArgumentError, match="use_1x1conv=True"):
        models.output_shape(km.ResNeXtBlock(8, 4, 1), (1, 4, 4, 3))
    with pytest.raises(pc.ArgumentError, match="expects 4-D input"):
        models.count_parameters(km.RegNetX32(), (1, 96, 96))


# -- logits equal to the channels-first editions --------------------------------------------------


def test_alexnet_equals_the_channels_first_edition(be):
    # the PyTorch edition pads its first convolution by 1, the TF edition not: pad the input
    x = _rand((1, 1, 99, 99)) * 0.1
    got = be.compare_editions(km.AlexNet(), models.AlexNet(), x, pad=1, flat_hwc=(2, 2, 256))
    assert got.shape == (1, 10) and np.abs(got).max() > 0


def test_vgg_equals_the_channels_first_edition(be):
    arch = ((1, 4), (2, 8))
    got = be.compare_editions(
        km.VGG(arch, 5), models.VGG(arch, 5), _rand((2, 3, 12, 12)), flat_hwc=(3, 3, 8)
    )
    assert got.shape == (2, 5)


def test_nin_equals_the_channels_first_edition(be):
    got = be.compare_editions(km.NiN(7), models.NiN(7), _rand((1, 2, 67, 67)))
    assert got.shape == (1, 7)


def test_googlenet_equals_the_channels_first_edition_on_odd_sizes(be):
    # 33 -> 17 -> 9 -> 5 -> 3: every stride-2 layer sees an odd size, where TensorFlow's SAME
    # pads both sides as the PyTorch edition does
    got = be.compare_editions(km.GoogLeNet(), models.GoogLeNet(), _rand((1, 1, 33, 33)))
    assert got.shape == (1, 10)


def test_resnet_equals_the_channels_first_edition_on_odd_sizes(be):
    arch = ((1, 64), (1, 16), (1, 8))
    tm = models.ResNet(arch, 3)
    for m in tm.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eps = 1e-3  # Keras's epsilon
    got = be.compare_editions(km.ResNet(arch, 3), tm, _rand((2, 1, 17, 17)), train=True)
    assert got.shape == (2, 3)


def test_densenet_equals_the_channels_first_edition_on_odd_sizes(be):
    # 17 -> 9 -> 5: b1's stride-2 layers see odd sizes; the transitions' 2 x 2 pooling floors
    tm = models.DenseNet(8, 4, (2, 2), 3)
    for m in tm.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eps = 1e-3  # Keras's epsilon
    got = be.compare_editions(km.DenseNet(8, 4, (2, 2), 3), tm, _rand((2, 1, 17, 17)), train=True)
    assert got.shape == (2, 3)


def _keras_eps(model):
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eps = 1e-3  # Keras's epsilon
    return model


def test_regnetx32_equals_the_channels_first_edition_on_odd_sizes(be):
    # 17 -> 9 -> 5 -> 3: every stride-2 convolution sees an odd size, where SAME pads both
    # sides as the PyTorch edition does; the grouped 3 x 3 kernels are HWIO (3, 3, 16, C)
    tm = _keras_eps(models.RegNetX32())
    got = be.compare_editions(km.RegNetX32(), tm, _rand((2, 1, 17, 17)), train=True)
    assert got.shape == (2, 10)


def test_anynet_equals_the_channels_first_edition_on_odd_sizes(be):
    arch = ((1, 8, 4, 0.5), (2, 12, 6, 1))
    tm = _keras_eps(models.AnyNet(arch, 6, 3))
    got = be.compare_editions(km.AnyNet(arch, 6, 3), tm, _rand((2, 2, 9, 9)), train=True)
    assert got.shape == (2, 3)


def test_backward_reaches_every_parameter_through_the_merge_layers(be):
    """Gradients flow through Concatenate, concatenate and Add to every parameter."""
    nn.manual_seed(2)
    for model, shape in (
        (km.ResNet(((1, 64), (1, 8)), 3), (2, 9, 9, 1)),
        (km.DenseNet(8, 4, (2, 2), 3), (2, 9, 9, 1)),
        (km.Inception(4, (2, 5), (2, 3), 2), (2, 5, 5, 3)),  # (GoogLeNet: minutes on Dask)
        (km.AnyNet(((1, 8, 4, 0.5), (1, 12, 6, 1)), 6, 3), (2, 9, 9, 1)),
    ):
        x = be.asarray(_rand(shape).astype(np.float32))
        with be.run_context():
            ag.sum(model(x)).backward()
        for name, p in model.named_parameters():
            assert p.grad is not None, name
            be.check_array(p.grad)


# -- training -------------------------------------------------------------------------------------

TRAINED = [
    ("VGG", lambda: km.VGG(((1, 4), (1, 8)), 3), (4, 8, 8, 2)),
    ("ResNet", lambda: km.ResNet(((1, 64), (1, 8)), 3), (4, 9, 9, 1)),
    ("DenseNet", lambda: km.DenseNet(8, 4, (2, 2), 3), (4, 9, 9, 1)),
    ("AnyNet", lambda: km.AnyNet(((1, 8, 4, 0.5), (1, 12, 6, 1)), 6, 3), (4, 9, 9, 1)),
]


@pytest.mark.parametrize("name, make, shape", TRAINED, ids=[t[0] for t in TRAINED])
def test_one_sgd_step_lowers_the_loss(be, name, make, shape):
    if be.name != "numpy":
        pytest.skip(
            "training runs on NumPy only (the brief's check); gradients per backend "
            "are tested with the layers in test_keras_layers.py"
        )
    nn.manual_seed(0)
    net = make()
    x = be.asarray(_rand(shape))
    y = be.asarray(np.array([0, 1, 2, 1]))
    net.train(name != "VGG")  # VGG: no dropout, so that both losses see the same net
    with be.run_context():
        net(x)
    opt = pc.optim.SGD(net.parameters(), 0.01)
    with be.run_context():
        loss = ag.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        after = ag.cross_entropy(net(x), y)
    assert float(be.to_numpy(be.data(after))) < float(be.to_numpy(be.data(loss)))


# -- arguments and the added layers ---------------------------------------------------------------

BAD = [
    (lambda: km.VGG11(ratio=3), pc.ArgumentError, "ratio: must divide"),
    (lambda: km.VGG(((1, 0),)), pc.ArgumentError, r"arch\[0\]"),
    (lambda: km.ResNet(((2, 32),)), pc.ArgumentError, "arch.0.: the first module keeps"),
    (lambda: km.AlexNet(0), pc.ArgumentError, "num_classes"),
    (lambda: km.Inception(4, (2,), (1, 2), 1), pc.ArgumentError, "c2"),
    (lambda: km.nin_block(4, 3, 1, "full"), pc.ArgumentError, "padding"),
    (lambda: km.Residual(0), pc.ArgumentError, "num_channels"),
    (lambda: km.DenseNet(arch=()), pc.ArgumentError, "arch: expected a non-empty"),
    (lambda: km.DenseNet(arch=(2, 0)), pc.ArgumentError, r"arch\[1\]"),
    (lambda: km.DenseNet(growth_rate=0), pc.ArgumentError, "growth_rate"),
    (lambda: keras.Activation("gelu"), pc.ArgumentError, "activation"),
    (lambda: km.AnyNet((), 8), pc.ArgumentError, "arch: expected a non-empty"),
    (lambda: km.AnyNet(((1, 8, 4),), 8), pc.ArgumentError, r"arch\[0\]: expected \(depth"),
    (lambda: km.AnyNet(((1, 8, 3, 1),), 8), pc.ArgumentError, "groups: the 8 bottleneck"),
    (lambda: km.AnyNet(((1, 8, 4, 1),), 0), pc.ArgumentError, "stem_channels"),
    (lambda: km.AnyNet(((1, 8, 4, 1),), 8, 0), pc.ArgumentError, "num_classes"),
    (lambda: km.ResNeXtBlock(8, 4, 0), pc.ArgumentError, "bot_mul"),
    (lambda: km.ResNeXtBlock(8, 4, 1, strides=0), pc.ArgumentError, "strides"),
    (lambda: km.RegNetX32(num_classes=-1), pc.ArgumentError, "num_classes"),
]


@pytest.mark.parametrize("make, error, message", BAD, ids=range(len(BAD)))
def test_bad_arguments_are_refused_by_name(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_residual_without_shortcut_conv_refuses_a_channel_change(be):
    with pytest.raises(pc.ArgumentError, match="use_1x1conv=True"):
        km.Residual(6)(be.asarray(np.zeros((1, 4, 4, 3))))


@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh", "softmax", "linear", None])
def test_activation_layer(be, name):
    x = _rand((2, 3, 4))
    want = {
        "relu": np.maximum(x, 0),
        "sigmoid": 1 / (1 + np.exp(-x)),
        "tanh": np.tanh(x),
        "softmax": np.exp(x) / np.exp(x).sum(axis=-1, keepdims=True),
        "linear": x,
        None: x,
    }[name]
    with be.run_context():
        y = keras.Activation(name)(be.asarray(x))
        r = keras.ReLU()(be.asarray(x))
    be.check(be.data(y), want, rtol=1e-12, atol=1e-12, dtype="float64")
    be.check(be.data(r), np.maximum(x, 0), dtype="float64")
    assert repr(keras.Activation(name)) == f"Activation(activation={name!r})"


def test_activation_layers_refuse_integer_and_non_array_input(be):
    with pytest.raises(pc.ArrayTypeError, match="input"):
        keras.Activation("relu")(be.asarray(np.ones((2, 3), np.int32)))
    with pytest.raises(pc.ArrayTypeError, match="input"):
        keras.ReLU()([1.0, -1.0])
