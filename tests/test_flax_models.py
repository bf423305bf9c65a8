"""The book's JAX-edition models (:mod:`portconv.models.flax`) and Flax-named layers
(:mod:`portconv.nn.flax`): the per-layer NHWC shapes the JAX edition prints, logits equal to
the channels-first editions of :mod:`portconv.models` after copying the weights (HWIO -> OIHW,
dense (in, out) -> (out, in)), float64, on every backend; the layers against independent
references; and, where Flax is installed (the jax session), the book's Flax definitions
written here: Flax's ``init`` loaded into portconv gives Flax's logits, portconv's parameters
exported run in Flax's ``apply``, and the book's layer_summary loop prints what portconv's
prints."""

from __future__ import annotations

import doctest
import io
import math

import numpy as np
import pytest

import portconv as pc
import portconv.autograd as ag
from portconv import models, nn
from portconv.models import flax as fm
from portconv.nn import flax


def _rand(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


@pytest.mark.parametrize("module", [flax, fm], ids=["nn.flax", "models.flax"])
def test_docstring_examples_run(module):
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(module, optionflags=flags)
    assert result.failed == 0 and result.attempted > 10


# -- the shapes the JAX edition prints ------------------------------------------------------------

# X = jnp.zeros(shape); for layer in bound_model.net.layers: X = layer(X);
# print(layer.__class__.__name__, 'output shape:\t', X.shape)  (nn.relu is a custom_jvp,
# nn.sigmoid a PjitFunction, a lambda a function)
R, S, FN = "custom_jvp", "PjitFunction", "function"
LENET_28 = [
    ("Conv", (1, 28, 28, 6)),
    (S, (1, 28, 28, 6)),
    (FN, (1, 14, 14, 6)),
    ("Conv", (1, 10, 10, 16)),
    (S, (1, 10, 10, 16)),
    (FN, (1, 5, 5, 16)),
    (FN, (1, 400)),
    ("Dense", (1, 120)),
    (S, (1, 120)),
    ("Dense", (1, 84)),
    (S, (1, 84)),
    ("Dense", (1, 10)),
]
ALEXNET_224 = [
    ("Conv", (1, 54, 54, 96)),
    (R, (1, 54, 54, 96)),
    (FN, (1, 26, 26, 96)),
    ("Conv", (1, 26, 26, 256)),
    (R, (1, 26, 26, 256)),
    (FN, (1, 12, 12, 256)),
    ("Conv", (1, 12, 12, 384)),
    (R, (1, 12, 12, 384)),
    ("Conv", (1, 12, 12, 384)),
    (R, (1, 12, 12, 384)),
    ("Conv", (1, 12, 12, 256)),
    (R, (1, 12, 12, 256)),
    (FN, (1, 5, 5, 256)),
    (FN, (1, 6400)),
    ("Dense", (1, 4096)),
    (R, (1, 4096)),
    ("Dropout", (1, 4096)),
    ("Dense", (1, 4096)),
    (R, (1, 4096)),
    ("Dropout", (1, 4096)),
    ("Dense", (1, 10)),
]
VGG11_4_224 = [
    ("Sequential", (1, 112, 112, 16)),
    ("Sequential", (1, 56, 56, 32)),
    ("Sequential", (1, 28, 28, 64)),
    ("Sequential", (1, 14, 14, 128)),
    ("Sequential", (1, 7, 7, 128)),
    (FN, (1, 6272)),
    ("Dense", (1, 4096)),
    (R, (1, 4096)),
    ("Dropout", (1, 4096)),
    ("Dense", (1, 4096)),
    (R, (1, 4096)),
    ("Dropout", (1, 4096)),
    ("Dense", (1, 10)),
]
NIN_224 = [
    ("Sequential", (1, 54, 54, 96)),
    (FN, (1, 26, 26, 96)),
    ("Sequential", (1, 26, 26, 256)),
    (FN, (1, 12, 12, 256)),
    ("Sequential", (1, 12, 12, 384)),
    (FN, (1, 5, 5, 384)),
    ("Dropout", (1, 5, 5, 384)),
    ("Sequential", (1, 5, 5, 10)),
    (FN, (1, 1, 1, 10)),
    (FN, (1, 10)),
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
    ("Conv", (1, 48, 48, 64)),
    ("BatchNorm", (1, 48, 48, 64)),
    (R, (1, 48, 48, 64)),
    (FN, (1, 24, 24, 64)),
    ("DenseBlock", (1, 24, 24, 192)),
    ("Sequential", (1, 12, 12, 96)),
    ("DenseBlock", (1, 12, 12, 224)),
    ("Sequential", (1, 6, 6, 112)),
    ("DenseBlock", (1, 6, 6, 240)),
    ("Sequential", (1, 3, 3, 120)),
    ("DenseBlock", (1, 3, 3, 248)),
    ("BatchNorm", (1, 3, 3, 248)),
    (R, (1, 3, 3, 248)),
    (FN, (1, 1, 1, 248)),
    (FN, (1, 248)),
    ("Dense", (1, 10)),
]
REGNET_96 = [
    ("Sequential", (1, 48, 48, 32)),
    ("Sequential", (1, 24, 24, 32)),
    ("Sequential", (1, 12, 12, 80)),
    ("Sequential", (1, 10)),
]

SHAPES = [
    ("LeNet", fm.LeNet, 28, LENET_28),
    ("AlexNet", fm.AlexNet, 224, ALEXNET_224),
    ("VGG11/4", lambda: fm.VGG11(ratio=4), 224, VGG11_4_224),
    ("NiN", fm.NiN, 224, NIN_224),
    ("GoogLeNet", fm.GoogLeNet, 96, GOOGLENET_96),
    ("ResNet18", fm.ResNet18, 96, RESNET18_96),
    ("DenseNet", fm.DenseNet, 96, DENSENET_96),
    ("RegNetX32", fm.RegNetX32, 96, REGNET_96),
]


@pytest.mark.parametrize("name, make, size, rows", SHAPES, ids=[s[0] for s in SHAPES])
def test_jax_edition_prints_the_jax_editions_nhwc_shapes(be, name, make, size, rows):
    if be.name != "numpy":
        pytest.skip(
            "book-sized forward passes (224 x 224 / 96 x 96) run on NumPy only, for time; "
            "every backend runs the same layers in the logits tests below"
        )
    model = make()
    assert model.layer_summary((1, size, size, 1), like=be.asarray(np.zeros(1))) == rows
    built = sum(math.prod(p.shape) for p in model.parameters())
    assert models.count_parameters(make(), (1, size, size, 1)) == built  # the dry run's count


@pytest.mark.parametrize("name, make, size, rows", SHAPES, ids=[s[0] for s in SHAPES])
def test_dry_run_prints_the_same_rows_without_computing(name, make, size, rows):
    assert models.shape_summary(make(), (1, size, size, 1), file=io.StringIO()) == rows


def test_dry_run_refuses_what_the_forward_refuses():
    with pytest.raises(pc.ArgumentError, match="residual branch gives shape"):
        models.output_shape(fm.Residual(8), (1, 6, 6, 4))  # 4 channels in, 8 out, no 1x1
    with pytest.raises(pc.ArgumentError, match="window_shape"):
        models.output_shape(flax.MaxPool((5, 5)), (1, 3, 3, 2))
    with pytest.raises(pc.ArgumentError, match="GlobalAvgPool expects 4-D input"):
        models.output_shape(flax.GlobalAvgPool(), (3, 3, 2))


# -- logits equal to the channels-first editions --------------------------------------------------


def test_lenet_equals_the_channels_first_edition(be):
    got = be.compare_editions(
        fm.LeNet(), models.LeNet(), _rand((2, 1, 28, 28)), flat_hwc=(5, 5, 16)
    )
    assert got.shape == (2, 10) and np.abs(got).max() > 0


def test_alexnet_equals_the_channels_first_edition(be):
    # both editions pad the first convolution by 1; the others are odd and of stride 1
    x = _rand((1, 1, 67, 67)) * 0.1
    got = be.compare_editions(fm.AlexNet(), models.AlexNet(), x, flat_hwc=(1, 1, 256))
    assert got.shape == (1, 10)


def test_vgg_equals_the_channels_first_edition(be):
    arch = ((1, 4), (2, 8))
    got = be.compare_editions(
        fm.VGG(arch, 5), models.VGG(arch, 5), _rand((2, 3, 12, 12)), flat_hwc=(3, 3, 8)
    )
    assert got.shape == (2, 5)


def test_nin_equals_the_channels_first_edition(be):
    if be.name == "dask":
        pytest.skip("NiN's fixed 5 x 5 pooling needs a 195 x 195 input: minutes as task graphs")
    # 195 is the smallest input whose map is 5 x 5 where the JAX edition pools 5 x 5
    got = be.compare_editions(fm.NiN(3), models.NiN(3), _rand((1, 1, 195, 195)) * 0.1)
    assert got.shape == (1, 3)


def test_googlenet_equals_the_channels_first_edition_on_odd_sizes(be):
    # 33 -> 17 -> 9 -> 5 -> 3: every stride-2 'same' layer sees an odd size, where Flax's SAME
    # pads both sides as the PyTorch edition does
    got = be.compare_editions(fm.GoogLeNet(), models.GoogLeNet(), _rand((1, 1, 33, 33)))
    assert got.shape == (1, 10)


def test_resnet_equals_the_channels_first_edition_on_odd_sizes(be):
    arch = ((1, 64), (1, 16), (1, 8))
    got = be.compare_editions(
        fm.ResNet(arch, 3), models.ResNet(arch, 3), _rand((2, 1, 17, 17)), train=True
    )
    assert got.shape == (2, 3)


def test_densenet_equals_the_channels_first_edition_on_odd_sizes(be):
    got = be.compare_editions(
        fm.DenseNet(8, 4, (2, 2), 3),
        models.DenseNet(8, 4, (2, 2), 3),
        _rand((2, 1, 17, 17)),
        train=True,
    )
    assert got.shape == (2, 3)


def test_regnet_equals_the_channels_first_edition_on_odd_sizes(be):
    arch = ((1, 16, 8, 1), (2, 32, 16, 1))
    got = be.compare_editions(
        fm.AnyNet(arch, 8, 3), models.AnyNet(arch, 8, 3), _rand((2, 1, 17, 17)), train=True
    )
    assert got.shape == (2, 3)


def test_eval_mode_uses_the_running_statistics(be):
    # after a training call, eval mode normalises with the statistics it updated (Flax's rule)
    got = be.compare_editions(
        fm.ResNet(((1, 64),), 3), models.ResNet(((1, 64),), 3), _rand((2, 1, 9, 9))
    )
    assert got.shape == (2, 3)


# -- the layers against references ----------------------------------------------------------------


def _ref_avg_pool_same(x, k, s):
    """Flax's avg_pool(padding='SAME'): zero padding by TensorFlow's rule, every window
    divided by its full size."""
    n, h, w, c = x.shape
    oh, ow = -(-h // s), -(-w // s)
    th, tw = max((oh - 1) * s + k - h, 0), max((ow - 1) * s + k - w, 0)
    xp = np.pad(x, ((0, 0), (th // 2, th - th // 2), (tw // 2, tw - tw // 2), (0, 0)))
    out = np.empty((n, oh, ow, c))
    for i in range(oh):
        for j in range(ow):
            out[:, i, j] = xp[:, i * s : i * s + k, j * s : j * s + k].sum(axis=(1, 2)) / k**2
    return out


@pytest.mark.parametrize("size, k, s", [(4, 3, 1), (5, 2, 2), (6, 3, 2)])
def test_avg_pool_same_counts_the_padding(be, size, k, s):
    x = _rand((2, size, size, 3))
    with be.run_context():
        y = flax.avg_pool(be.asarray(x), (k, k), strides=(s, s), padding="SAME")
    be.check(be.data(y), _ref_avg_pool_same(x, k, s), rtol=1e-12, atol=1e-12, dtype="float64")


def test_pooling_defaults_strides_one_and_takes_pairs(be):
    x = _rand((1, 4, 5, 2))
    with be.run_context():
        y = flax.max_pool(be.asarray(x), (2, 2))  # Flax's strides default 1, not the window
        z = flax.max_pool(be.asarray(x), (2, 2), padding=((1, 0), (0, 1)))
        u = flax.avg_pool(be.asarray(x[0]), (2, 2), padding="VALID")  # no batch axis
    want = np.max(np.stack([x[:, a : a + 3, b : b + 4] for a in (0, 1) for b in (0, 1)]), axis=0)
    be.check(be.data(y), want, dtype="float64")
    xp = np.pad(x, ((0, 0), (1, 0), (0, 1), (0, 0)), constant_values=-np.inf)
    want = np.max(np.stack([xp[:, a : a + 4, b : b + 5] for a in (0, 1) for b in (0, 1)]), axis=0)
    be.check(be.data(z), want, dtype="float64")
    want = np.mean(np.stack([x[0, a : a + 3, b : b + 4] for a in (0, 1) for b in (0, 1)]), axis=0)
    be.check(be.data(u), want, rtol=1e-12, atol=1e-12, dtype="float64")


def test_conv_padding_forms(be):
    x = _rand((1, 6, 6, 2))
    for padding, shape in [
        ("SAME", (1, 3, 3, 4)),
        ("VALID", (1, 2, 2, 4)),
        (1, (1, 3, 3, 4)),
        ((1, 0), (1, 3, 2, 4)),
        (((0, 1), (2, 0)), (1, 3, 3, 4)),
    ]:
        conv = flax.Conv(4, (3, 3), strides=2, padding=padding)
        with be.run_context():
            y = conv(be.asarray(x))
        assert tuple(y.shape) == shape, padding
    # 'SAME' with an even input and stride 2 pads (0, 1): the same as explicit ((0, 1), (0, 1))
    a, b = flax.Conv(4, (3, 3), strides=2), flax.Conv(4, (3, 3), strides=2, padding=((0, 1),) * 2)
    with be.run_context():
        ya = a(be.asarray(x))
        b(be.asarray(x))
        b.kernel.data, b.bias.data = a.kernel.data, a.bias.data
        yb = b(be.asarray(x))
    be.check(be.data(ya), be.to_numpy(be.data(yb)), dtype="float64")


def test_batchnorm_training_and_running_statistics(be):
    x = _rand((4, 3, 3, 2))
    bn = flax.BatchNorm(momentum=0.9)
    with be.run_context():
        y = bn(be.asarray(x))
    mean, var = x.mean(axis=(0, 1, 2)), x.var(axis=(0, 1, 2))
    be.check(be.data(y), (x - mean) / np.sqrt(var + 1e-5), rtol=1e-10, atol=1e-10, dtype="float64")
    be.check(bn.mean, 0.1 * mean, rtol=1e-12, atol=1e-12, dtype="float64")
    be.check(bn.var, 0.9 + 0.1 * var, rtol=1e-12, atol=1e-12, dtype="float64")
    with be.run_context():
        z = bn(be.asarray(x), use_running_average=True)
    want = (x - 0.1 * mean) / np.sqrt(0.9 + 0.1 * var + 1e-5)
    be.check(be.data(z), want, rtol=1e-10, atol=1e-10, dtype="float64")
    assert sorted(n for n, _ in bn.named_parameters()) == ["bias", "scale"]


def test_dropout_deterministic_and_modes(be):
    x = be.asarray(np.ones((50, 40)))
    with be.run_context():
        assert flax.Dropout(0.5, deterministic=True)(x) is x
        assert flax.Dropout(0.5).eval()(x) is x
        y = be.to_numpy(be.data(flax.Dropout(0.5).eval()(x, deterministic=False)))
    assert set(np.unique(y)) == {0.0, 2.0} and 0.35 < (y == 0).mean() < 0.65
    with pytest.raises(pc.ArgumentError, match="deterministic: given both"):
        flax.Dropout(0.5, deterministic=True)(x, deterministic=False)


def test_one_sgd_step_lowers_the_loss(be):
    if be.name != "numpy":
        pytest.skip("training runs on NumPy only; every backend runs the same layers above")
    nn.manual_seed(0)
    net = fm.ResNet(((1, 64), (1, 8)), 3).train()
    x = be.asarray(_rand((4, 9, 9, 1)))
    y = be.asarray(np.array([0, 1, 2, 1]))
    net(x)
    opt = pc.optim.SGD(net.parameters(), 0.01)
    loss = ag.cross_entropy(net(x), y)
    loss.backward()
    opt.step()
    after = ag.cross_entropy(net(x), y)
    assert float(be.to_numpy(be.data(after))) < float(be.to_numpy(be.data(loss)))


def test_flax_default_initialisers():
    nn.manual_seed(0)
    conv = flax.Conv(64, (3, 3))
    conv(np.zeros((1, 5, 5, 32)))
    k = np.asarray(conv.kernel.data, dtype=np.float64)
    std = np.sqrt(1 / (3 * 3 * 32))  # LeCun normal: fan_in = kh * kw * C_in
    assert np.abs(k).max() <= 2 * std / 0.8796256610342398 + 1e-7
    assert abs(k.std() / std - 1) < 0.05 and not np.any(conv.bias.data)


# -- variable trees -------------------------------------------------------------------------------


def test_variables_round_trip_and_names(be):
    model = fm.ResNet(((1, 64), (1, 8)), 3)
    x = be.asarray(_rand((2, 9, 9, 1)))
    with be.run_context():
        model(x)
    tree = flax.variables(model)
    assert set(tree) == {"params", "batch_stats"}
    assert set(tree["params"]["net"]["layers_0"]) == {"layers_0", "layers_1"}  # Conv, BatchNorm
    assert set(tree["params"]["net"]["layers_2"]["layers_0"]) == {
        "conv1",
        "conv2",
        "conv3",
        "bn1",
        "bn2",
    }
    assert tree["params"]["net"]["layers_0"]["layers_0"]["kernel"].shape == (7, 7, 1, 64)
    assert set(tree["batch_stats"]["net"]["layers_0"]["layers_1"]) == {"mean", "var"}
    fresh = flax.load_variables(fm.ResNet(((1, 64), (1, 8)), 3), tree).eval()
    model.eval()
    with be.run_context():
        want = be.to_numpy(be.data(model(x)))
        got = fresh(be.asarray(be.to_numpy(x)))
    be.check(be.data(got), want, rtol=1e-12, atol=1e-12, dtype="float64")


def test_densenet_tree_has_the_compact_names():
    model = fm.DenseNet(8, 4, (2, 2), 3)
    model(np.zeros((1, 9, 9, 1), np.float32))
    tree = flax.variables(model)
    block = tree["params"]["net"]["layers_4"]["net"]["layers_1"]
    assert set(block) == {"BatchNorm_0", "Conv_0"}


BAD_TREES = [
    (lambda t: t["params"]["net"]["layers_0"].pop("bias"), "layers_0/bias is missing"),
    (lambda t: t["params"]["net"].update(layers_99={"kernel": 0}), "layers_99/kernel has no"),
    (lambda t: t.update(cache={}), "collections 'cache'"),
]


@pytest.mark.parametrize("spoil, message", BAD_TREES, ids=range(len(BAD_TREES)))
def test_load_variables_refuses_a_mismatched_tree_and_changes_nothing(spoil, message):
    model = fm.LeNet()
    model(np.zeros((1, 28, 28, 1), np.float32))
    before = {n: np.array(p.data) for n, p in model.named_parameters()}
    tree = flax.variables(model)
    tree["params"]["net"]["layers_0"]["kernel"] = tree["params"]["net"]["layers_0"]["kernel"] + 1
    spoil(tree)
    with pytest.raises(pc.ArgumentError, match=message):
        flax.load_variables(model, tree)
    for n, p in model.named_parameters():
        np.testing.assert_array_equal(np.asarray(p.data), before[n])


def test_porting_converters_take_the_jax_edition_s_models():
    from portconv import porting

    x = np.random.default_rng(2).standard_normal((2, 28, 28, 1))
    model = fm.LeNet()
    y = model(x).data
    tree = porting.export_flax_params(model)
    assert _paths(tree) == _paths(flax.variables(model))
    fresh = porting.load_flax_params(fm.LeNet(), tree)
    np.testing.assert_allclose(fresh(x).data, y, rtol=1e-12)
    assert _paths(porting.export_flax_params(model, like=tree)) == _paths(tree)
    with pytest.raises(pc.ArgumentError, match="like: the Flax variables differ"):
        porting.export_flax_params(model, like={"params": {}})
    with pytest.raises(pc.ArgumentError, match="flatten_shape: a model of portconv.nn.flax"):
        porting.load_flax_params(fm.LeNet(), tree, flatten_shape=(16, 5, 5))


def _paths(tree, prefix=()):
    if isinstance(tree, dict):
        return sorted(p for k, v in tree.items() for p in _paths(v, prefix + (k,)))
    return [(prefix, tuple(np.shape(tree)))]


def test_load_variables_refuses_a_wrong_shape():
    model = fm.LeNet()
    model(np.zeros((1, 28, 28, 1), np.float32))
    tree = flax.variables(model)
    tree["params"]["net"]["layers_0"]["kernel"] = np.zeros((5, 5, 2, 6), np.float32)
    with pytest.raises(pc.ArgumentError, match="net.0.kernel"):
        flax.load_variables(model, tree)


def test_variables_refuses_channels_first_layers_and_unbuilt_models():
    with pytest.raises(pc.ArgumentError, match="not a Flax-named parameter"):
        flax.variables(nn.Sequential(nn.Conv2d(1, 2, 3)))
    with pytest.raises(pc.ArgumentError, match="no parameters yet"):
        flax.variables(fm.LeNet())


# -- arguments ------------------------------------------------------------------------------------

BAD = [
    (lambda: flax.Conv(4, 3), pc.ArgumentError, r"kernel_size: flax.linen.Conv reads an int"),
    (lambda: flax.Conv(4, (3, 3, 3)), pc.ArgumentError, "kernel_size: expected a pair"),
    (lambda: flax.Conv(4, (3, 3), padding="CIRCULAR"), pc.ArgumentError, "padding"),
    (lambda: flax.Conv(4, (3, 3), padding=(1, 2, 3)), pc.ArgumentError, "padding"),
    (lambda: flax.Conv(6, (3, 3), feature_group_count=4), pc.ArgumentError, "feature_group"),
    (lambda: flax.Conv(0, (3, 3)), pc.ArgumentError, "features"),
    (lambda: flax.Dense(0), pc.ArgumentError, "features"),
    (lambda: flax.BatchNorm(momentum=2), pc.ArgumentError, "momentum"),
    (lambda: flax.Dropout(1.5), pc.ArgumentError, "rate"),
    (lambda: flax.MaxPool(3), pc.ArgumentError, "window_shape"),
    (lambda: flax.MaxPool((3, 3), padding=1), pc.ArgumentError, "padding"),
    (lambda: flax.AvgPool((3, 3), padding="full"), pc.ArgumentError, "padding"),
    (lambda: flax.Activation("gelu"), pc.ArgumentError, "name"),
    (lambda: fm.VGG11(ratio=3), pc.ArgumentError, "ratio: must divide"),
    (lambda: fm.ResNet(((2, 32),)), pc.ArgumentError, "arch.0.: the first module keeps"),
    (lambda: fm.ResNeXtBlock(32, 12, 1), pc.ArgumentError, "groups"),
    (lambda: fm.AnyNet(((1, 2, 3),), 8), pc.ArgumentError, r"arch\[0\]"),
    (lambda: fm.DenseNet(arch=()), pc.ArgumentError, "arch: expected a non-empty"),
]


@pytest.mark.parametrize("make, error, message", BAD, ids=range(len(BAD)))
def test_bad_arguments_are_refused_by_name(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_bad_calls_are_refused_by_name(be):
    with pytest.raises(pc.ArgumentError, match="window_shape"):
        flax.max_pool(be.asarray(np.zeros((1, 4, 4, 1))), (2, 2, 2, 2))
    with pytest.raises(pc.ArgumentError, match="inputs: a window of 2 axes"):
        flax.max_pool(be.asarray(np.zeros((4, 1))), (2, 2))
    with pytest.raises(pc.ArgumentError, match="use_1x1conv=True"):
        fm.Residual(6)(be.asarray(np.zeros((1, 4, 4, 3))))


# -- against Flax itself --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def linen():
    """flax.linen, where installed (the jax nox session)."""
    return pytest.importorskip(
        "flax.linen", reason="checks against Flax itself; pip install 'jax[cpu]' flax"
    )


def _book(linen):
    """The book's JAX-edition definitions (d2l's JAX tab, chapters 7 and 8), ``training``
    an attribute as there."""
    import jax.numpy as jnp

    nn_ = linen

    class LeNet(nn_.Module):
        num_classes: int = 10

        def setup(self):
            self.net = nn_.Sequential(
                [
                    nn_.Conv(features=6, kernel_size=(5, 5), padding="SAME"),
                    nn_.sigmoid,
                    lambda x: nn_.avg_pool(x, window_shape=(2, 2), strides=(2, 2)),
                    nn_.Conv(features=16, kernel_size=(5, 5), padding="VALID"),
                    nn_.sigmoid,
                    lambda x: nn_.avg_pool(x, window_shape=(2, 2), strides=(2, 2)),
                    lambda x: x.reshape((x.shape[0], -1)),
                    nn_.Dense(features=120),
                    nn_.sigmoid,
                    nn_.Dense(features=84),
                    nn_.sigmoid,
                    nn_.Dense(features=self.num_classes),
                ]
            )

        def __call__(self, x):
            return self.net(x)

    class AlexNet(nn_.Module):
        num_classes: int = 10
        training: bool = False

        def setup(self):
            self.net = nn_.Sequential(
                [
                    nn_.Conv(features=96, kernel_size=(11, 11), strides=4, padding=1),
                    nn_.relu,
                    lambda x: nn_.max_pool(x, window_shape=(3, 3), strides=(2, 2)),
                    nn_.Conv(features=256, kernel_size=(5, 5)),
                    nn_.relu,
                    lambda x: nn_.max_pool(x, window_shape=(3, 3), strides=(2, 2)),
                    nn_.Conv(features=384, kernel_size=(3, 3)),
                    nn_.relu,
                    nn_.Conv(features=384, kernel_size=(3, 3)),
                    nn_.relu,
                    nn_.Conv(features=256, kernel_size=(3, 3)),
                    nn_.relu,
                    lambda x: nn_.max_pool(x, window_shape=(3, 3), strides=(2, 2)),
                    lambda x: x.reshape((x.shape[0], -1)),
                    nn_.Dense(features=4096),
                    nn_.relu,
                    nn_.Dropout(0.5, deterministic=not self.training),
                    nn_.Dense(features=4096),
                    nn_.relu,
                    nn_.Dropout(0.5, deterministic=not self.training),
                    nn_.Dense(features=self.num_classes),
                ]
            )

        def __call__(self, x):
            return self.net(x)

    def vgg_block(num_convs, out_channels):
        layers = []
        for _ in range(num_convs):
            layers.append(nn_.Conv(out_channels, kernel_size=(3, 3), padding=(1, 1)))
            layers.append(nn_.relu)
        layers.append(lambda x: nn_.max_pool(x, window_shape=(2, 2), strides=(2, 2)))
        return nn_.Sequential(layers)

    class VGG(nn_.Module):
        arch: tuple
        num_classes: int = 10
        training: bool = False

        def setup(self):
            conv_blks = [vgg_block(n, c) for n, c in self.arch]
            self.net = nn_.Sequential(
                [
                    *conv_blks,
                    lambda x: x.reshape((x.shape[0], -1)),
                    nn_.Dense(4096),
                    nn_.relu,
                    nn_.Dropout(0.5, deterministic=not self.training),
                    nn_.Dense(4096),
                    nn_.relu,
                    nn_.Dropout(0.5, deterministic=not self.training),
                    nn_.Dense(self.num_classes),
                ]
            )

        def __call__(self, x):
            return self.net(x)

    class Inception(nn_.Module):
        c1: int
        c2: tuple
        c3: tuple
        c4: int

        def setup(self):
            self.b1_1 = nn_.Conv(self.c1, kernel_size=(1, 1))
            self.b2_1 = nn_.Conv(self.c2[0], kernel_size=(1, 1))
            self.b2_2 = nn_.Conv(self.c2[1], kernel_size=(3, 3), padding="same")
            self.b3_1 = nn_.Conv(self.c3[0], kernel_size=(1, 1))
            self.b3_2 = nn_.Conv(self.c3[1], kernel_size=(5, 5), padding="same")
            self.b4_1 = lambda x: nn_.max_pool(
                x, window_shape=(3, 3), strides=(1, 1), padding="same"
            )
            self.b4_2 = nn_.Conv(self.c4, kernel_size=(1, 1))

        def __call__(self, x):
            b1 = nn_.relu(self.b1_1(x))
            b2 = nn_.relu(self.b2_2(nn_.relu(self.b2_1(x))))
            b3 = nn_.relu(self.b3_2(nn_.relu(self.b3_1(x))))
            b4 = nn_.relu(self.b4_2(self.b4_1(x)))
            return jnp.concatenate((b1, b2, b3, b4), axis=-1)

    def gpool(x):
        return nn_.avg_pool(x, window_shape=x.shape[1:3], strides=x.shape[1:3], padding="valid")

    def mpool(x):
        return nn_.max_pool(x, window_shape=(3, 3), strides=(2, 2), padding="same")

    class GoogleNet(nn_.Module):
        num_classes: int = 10

        def setup(self):
            self.net = nn_.Sequential(
                [
                    nn_.Sequential(
                        [
                            nn_.Conv(64, kernel_size=(7, 7), strides=(2, 2), padding="same"),
                            nn_.relu,
                            mpool,
                        ]
                    ),
                    nn_.Sequential(
                        [
                            nn_.Conv(64, kernel_size=(1, 1)),
                            nn_.relu,
                            nn_.Conv(192, kernel_size=(3, 3), padding="same"),
                            nn_.relu,
                            mpool,
                        ]
                    ),
                    nn_.Sequential(
                        [
                            Inception(64, (96, 128), (16, 32), 32),
                            Inception(128, (128, 192), (32, 96), 64),
                            mpool,
                        ]
                    ),
                    nn_.Sequential(
                        [
                            Inception(192, (96, 208), (16, 48), 64),
                            Inception(160, (112, 224), (24, 64), 64),
                            Inception(128, (128, 256), (24, 64), 64),
                            Inception(112, (144, 288), (32, 64), 64),
                            Inception(256, (160, 320), (32, 128), 128),
                            mpool,
                        ]
                    ),
                    nn_.Sequential(
                        [
                            Inception(256, (160, 320), (32, 128), 128),
                            Inception(384, (192, 384), (48, 128), 128),
                            gpool,
                            lambda x: x.reshape((x.shape[0], -1)),
                        ]
                    ),
                    nn_.Dense(self.num_classes),
                ]
            )

        def __call__(self, x):
            return self.net(x)

    class Residual(nn_.Module):
        num_channels: int
        use_1x1conv: bool = False
        strides: tuple = (1, 1)
        training: bool = False

        def setup(self):
            self.conv1 = nn_.Conv(
                self.num_channels, kernel_size=(3, 3), padding="same", strides=self.strides
            )
            self.conv2 = nn_.Conv(self.num_channels, kernel_size=(3, 3), padding="same")
            if self.use_1x1conv:
                self.conv3 = nn_.Conv(self.num_channels, kernel_size=(1, 1), strides=self.strides)
            else:
                self.conv3 = None
            self.bn1 = nn_.BatchNorm(not self.training)
            self.bn2 = nn_.BatchNorm(not self.training)

        def __call__(self, X):
            Y = nn_.relu(self.bn1(self.conv1(X)))
            Y = self.bn2(self.conv2(Y))
            if self.conv3:
                X = self.conv3(X)
            Y += X
            return nn_.relu(Y)

    class ResNet(nn_.Module):
        arch: tuple
        num_classes: int = 10
        training: bool = False

        def setup(self):
            net = [
                nn_.Sequential(
                    [
                        nn_.Conv(64, kernel_size=(7, 7), strides=(2, 2), padding="same"),
                        nn_.BatchNorm(not self.training),
                        nn_.relu,
                        mpool,
                    ]
                )
            ]
            for i, (num_residuals, num_channels) in enumerate(self.arch):
                blk = []
                for j in range(num_residuals):
                    if j == 0 and i != 0:
                        blk.append(
                            Residual(
                                num_channels,
                                use_1x1conv=True,
                                strides=(2, 2),
                                training=self.training,
                            )
                        )
                    else:
                        blk.append(Residual(num_channels, training=self.training))
                net.append(nn_.Sequential(blk))
            net.append(
                nn_.Sequential(
                    [gpool, lambda x: x.reshape((x.shape[0], -1)), nn_.Dense(self.num_classes)]
                )
            )
            self.net = nn_.Sequential(net)

        def __call__(self, x):
            return self.net(x)

    class ConvBlock(nn_.Module):
        num_channels: int
        training: bool = False

        @nn_.compact
        def __call__(self, X):
            Y = nn_.relu(nn_.BatchNorm(not self.training)(X))
            Y = nn_.Conv(self.num_channels, kernel_size=(3, 3), padding=(1, 1))(Y)
            return jnp.concatenate((X, Y), axis=-1)

    class DenseBlock(nn_.Module):
        num_convs: int
        num_channels: int
        training: bool = False

        def setup(self):
            self.net = nn_.Sequential(
                [ConvBlock(self.num_channels, self.training) for _ in range(self.num_convs)]
            )

        def __call__(self, X):
            return self.net(X)

    def transition_block(num_channels, training=False):
        return nn_.Sequential(
            [
                nn_.BatchNorm(not training),
                nn_.relu,
                nn_.Conv(num_channels, kernel_size=(1, 1)),
                lambda x: nn_.avg_pool(x, window_shape=(2, 2), strides=(2, 2)),
            ]
        )

    class DenseNet(nn_.Module):
        num_channels: int = 64
        growth_rate: int = 32
        arch: tuple = (4, 4, 4, 4)
        num_classes: int = 10
        training: bool = False

        def setup(self):
            layers = [
                nn_.Conv(self.num_channels, kernel_size=(7, 7), strides=(2, 2), padding="same"),
                nn_.BatchNorm(not self.training),
                nn_.relu,
                mpool,
            ]
            num_channels = self.num_channels
            for i, num_convs in enumerate(self.arch):
                layers.append(DenseBlock(num_convs, self.growth_rate, training=self.training))
                num_channels += num_convs * self.growth_rate
                if i != len(self.arch) - 1:
                    num_channels //= 2
                    layers.append(transition_block(num_channels, training=self.training))
            layers += [
                nn_.BatchNorm(not self.training),
                nn_.relu,
                gpool,
                lambda x: x.reshape((x.shape[0], -1)),
                nn_.Dense(self.num_classes),
            ]
            self.net = nn_.Sequential(layers)

        def __call__(self, x):
            return self.net(x)

    class ResNeXtBlock(nn_.Module):
        num_channels: int
        groups: int
        bot_mul: int
        use_1x1conv: bool = False
        strides: tuple = (1, 1)
        training: bool = False

        def setup(self):
            bot_channels = int(round(self.num_channels * self.bot_mul))
            self.conv1 = nn_.Conv(bot_channels, kernel_size=(1, 1), strides=(1, 1))
            self.conv2 = nn_.Conv(
                bot_channels,
                kernel_size=(3, 3),
                strides=self.strides,
                padding="same",
                feature_group_count=bot_channels // self.groups,
            )
            self.conv3 = nn_.Conv(self.num_channels, kernel_size=(1, 1), strides=(1, 1))
            self.bn1 = nn_.BatchNorm(not self.training)
            self.bn2 = nn_.BatchNorm(not self.training)
            self.bn3 = nn_.BatchNorm(not self.training)
            if self.use_1x1conv:
                self.conv4 = nn_.Conv(self.num_channels, kernel_size=(1, 1), strides=self.strides)
                self.bn4 = nn_.BatchNorm(not self.training)
            else:
                self.conv4 = None

        def __call__(self, X):
            Y = nn_.relu(self.bn1(self.conv1(X)))
            Y = nn_.relu(self.bn2(self.conv2(Y)))
            Y = self.bn3(self.conv3(Y))
            if self.conv4:
                X = self.bn4(self.conv4(X))
            return nn_.relu(Y + X)

    class AnyNet(nn_.Module):
        arch: tuple
        stem_channels: int
        num_classes: int = 10
        training: bool = False

        def setup(self):
            net = [
                nn_.Sequential(
                    [
                        nn_.Conv(
                            self.stem_channels, kernel_size=(3, 3), strides=(2, 2), padding=(1, 1)
                        ),
                        nn_.BatchNorm(not self.training),
                        nn_.relu,
                    ]
                )
            ]
            for depth, num_channels, groups, bot_mul in self.arch:
                blk = []
                for i in range(depth):
                    if i == 0:
                        blk.append(
                            ResNeXtBlock(
                                num_channels,
                                groups,
                                bot_mul,
                                use_1x1conv=True,
                                strides=(2, 2),
                                training=self.training,
                            )
                        )
                    else:
                        blk.append(
                            ResNeXtBlock(num_channels, groups, bot_mul, training=self.training)
                        )
                net.append(nn_.Sequential(blk))
            net.append(
                nn_.Sequential(
                    [gpool, lambda x: x.reshape((x.shape[0], -1)), nn_.Dense(self.num_classes)]
                )
            )
            self.net = nn_.Sequential(net)

        def __call__(self, x):
            return self.net(x)

    return {
        "LeNet": LeNet,
        "AlexNet": AlexNet,
        "VGG": VGG,
        "GoogleNet": GoogleNet,
        "ResNet": ResNet,
        "DenseNet": DenseNet,
        "AnyNet": AnyNet,
    }


# (name, the book's class and arguments, portconv's model, input size); small inputs and a few
# models: Flax runs eagerly here, every new shape an XLA compilation (the book's AlexNet and
# GoogLeNet, written in _book too, pass but take a minute or more each on 2 cores)
FLAX_CASES = [
    ("LeNet", "LeNet", {}, lambda: fm.LeNet(), 28),
    ("VGG", "VGG", {"arch": ((1, 4), (2, 8))}, lambda: fm.VGG(((1, 4), (2, 8))), 16),
    ("ResNet", "ResNet", {"arch": ((1, 64), (1, 16))}, lambda: fm.ResNet(((1, 64), (1, 16))), 16),
    (
        "DenseNet",
        "DenseNet",
        {"num_channels": 8, "growth_rate": 4, "arch": (2, 2)},
        lambda: fm.DenseNet(8, 4, (2, 2)),
        16,
    ),
    (
        "AnyNet",
        "AnyNet",
        {"arch": ((1, 16, 8, 1), (1, 32, 16, 1)), "stem_channels": 8},
        lambda: fm.AnyNet(((1, 16, 8, 1), (1, 32, 16, 1)), 8),
        16,
    ),
]


@pytest.mark.parametrize(
    "name, cls, kwargs, make, size", FLAX_CASES, ids=[c[0] for c in FLAX_CASES]
)
def test_flax_init_loads_and_portconv_exports_to_flax(linen, name, cls, kwargs, make, size):
    import jax

    book = _book(linen)[cls](**kwargs)
    x = np.random.default_rng(0).random((2, size, size, 1), dtype=np.float32)
    variables = book.init(jax.random.PRNGKey(0), x)
    if "batch_stats" in variables:  # statistics away from (0, 1), so that they count
        stats = jax.tree_util.tree_map(lambda a: a * 0.5 + 0.25, variables["batch_stats"])
        variables = {"params": variables["params"], "batch_stats": stats}
    theirs = np.asarray(book.apply(variables, x))
    # Flax's init -> portconv: Flax's logits
    model = flax.load_variables(make(), variables).eval()
    ours = np.asarray(model(x).data)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)
    # portconv's own parameters -> Flax: the same tree, and Flax computes portconv's logits
    nn.manual_seed(1)
    mine = make().eval()
    want = np.asarray(mine(x).data)
    exported = flax.variables(mine, backend="jax")
    treedef = jax.tree_util.tree_structure
    assert treedef(exported) == treedef(jax.tree_util.tree_map(np.asarray, dict(variables)))
    np.testing.assert_allclose(np.asarray(book.apply(exported, x)), want, rtol=1e-5, atol=1e-5)


def test_flax_training_mode_batch_statistics(linen):
    import jax

    book = _book(linen)["ResNet"](arch=((1, 64), (1, 16)), training=True)
    x = np.random.default_rng(0).random((4, 16, 16, 1), dtype=np.float32)
    variables = book.init(jax.random.PRNGKey(0), x)
    theirs, updated = book.apply(variables, x, mutable=["batch_stats"])
    model = flax.load_variables(fm.ResNet(((1, 64), (1, 16))), variables).train()
    ours = model(x)
    np.testing.assert_allclose(np.asarray(ours.data), np.asarray(theirs), rtol=1e-4, atol=1e-5)
    stats = flax.variables(model)["batch_stats"]
    flat_ours = jax.tree_util.tree_leaves(stats)
    flat_theirs = jax.tree_util.tree_leaves(jax.tree_util.tree_map(np.asarray, dict(updated)))
    for a, b in zip(flat_ours, flat_theirs, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


LAYER_SUMMARIES = [
    ("LeNet", "LeNet", {}, fm.LeNet, 28),
    ("ResNet", "ResNet", {"arch": ((1, 64), (1, 16))}, lambda: fm.ResNet(((1, 64), (1, 16))), 16),
    (
        "DenseNet",
        "DenseNet",
        {"num_channels": 8, "growth_rate": 4, "arch": (2, 2)},
        lambda: fm.DenseNet(8, 4, (2, 2)),
        32,
    ),
]


@pytest.mark.parametrize(
    "name, cls, kwargs, make, size", LAYER_SUMMARIES, ids=[c[0] for c in LAYER_SUMMARIES]
)
def test_layer_summary_prints_what_the_jax_edition_prints(linen, name, cls, kwargs, make, size):
    import jax
    import jax.numpy as jnp

    book = _book(linen)[cls](**kwargs)
    X = jnp.zeros((1, size, size, 1))
    params = book.init(jax.random.PRNGKey(0), X)
    bound = book.clone().bind(params, mutable=["batch_stats"])
    _ = bound(X)
    rows = []
    for layer in bound.net.layers:  # the book's layer_summary
        X = layer(X)
        rows.append((layer.__class__.__name__, tuple(X.shape)))
    assert make().layer_summary((1, size, size, 1), file=io.StringIO()) == rows
