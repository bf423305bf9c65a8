"""Keras-named channels-last layers (:mod:`portconv.nn.keras`), on every backend: values
against the channels-first layers of :mod:`portconv.nn` with transposed weights (float64),
gradients, Keras's "same" pooling against a float64 loop reference, batch normalisation's
moving statistics against Keras's rule, argument errors naming the argument, and the book's
TensorFlow-edition LeNet printing the TF edition's NHWC shapes."""

from __future__ import annotations

import doctest
import inspect
import io
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import portconv as pc
import portconv.autograd as ag
from portconv import models, nn
from portconv.nn import keras


def _data(y):
    return y.data if isinstance(y, ag.Variable) else y


def _rand(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _set(param, be, host):
    param.data = be.asarray(np.ascontiguousarray(host))


def test_docstring_examples_run():
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(keras, optionflags=flags)
    assert result.failed == 0 and result.attempted > 20


# -- convolution and dense against the channels-first layers --------------------------------------

CONVS = [
    dict(filters=4, kernel_size=3),
    dict(filters=4, kernel_size=(3, 2), strides=2, padding="same"),
    dict(filters=6, kernel_size=5, padding="same", activation="sigmoid"),
    dict(filters=4, kernel_size=3, strides=(2, 1), padding="valid", dilation_rate=2),
    dict(filters=4, kernel_size=3, groups=2, use_bias=False, activation="relu"),
    dict(filters=2, kernel_size=4, strides=3, padding="SAME"),
]


@pytest.mark.parametrize("kw", CONVS, ids=[str(k) for k in CONVS])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_conv2d_equals_channels_first_conv_with_transposed_kernel(be, kw, data_format):
    x = _rand((1, 7, 6, 4))  # NHWC (small: every backend computes gradients too)
    layer = keras.Conv2D(**kw, data_format=data_format)
    xin = x if data_format == "channels_last" else x.transpose(0, 3, 1, 2)
    xv = ag.Variable(be.asarray(xin), requires_grad=True)
    with be.run_context():
        y = layer(xv)
    kernel = be.to_numpy(layer.kernel.data)
    groups = kw.get("groups", 1)
    assert kernel.shape == layer.kernel_size + (4 // groups, kw["filters"])  # HWIO
    ref = nn.Conv2d(
        4,
        kw["filters"],
        layer.kernel_size,
        layer.strides,
        layer.padding,
        layer.dilation_rate,
        groups,
        bias=kw.get("use_bias", True),
    )
    _set(ref.weight, be, kernel.transpose(3, 2, 0, 1))
    if layer.use_bias:
        bias = _rand((kw["filters"],), seed=3)
        _set(layer.bias, be, bias)
        _set(ref.bias, be, bias)
        with be.run_context():
            y = layer(xv)
    xr = ag.Variable(be.asarray(x.transpose(0, 3, 1, 2)), requires_grad=True)
    with be.run_context():
        want = ref(xr)
        if layer.act is not None:
            want = layer.act(want)
    want_host = be.to_numpy(_data(want))
    if data_format == "channels_last":
        want_host = want_host.transpose(0, 2, 3, 1)
    be.check(_data(y), want_host, rtol=1e-10, atol=1e-12, dtype="float64")
    # gradients: the kernel's is the channels-first weight's, transposed
    g = _rand(tuple(y.shape), seed=5)
    gr = g if data_format == "channels_first" else g.transpose(0, 3, 1, 2)
    with be.run_context():
        ag.sum(ag.multiply(y, be.asarray(g))).backward()
        ag.sum(ag.multiply(want, be.asarray(gr))).backward()
    want_gk = be.to_numpy(ref.weight.grad).transpose(2, 3, 1, 0)
    be.check(layer.kernel.grad, want_gk, rtol=1e-9, atol=1e-10, dtype="float64")
    gx = be.to_numpy(xr.grad)
    gx = gx if data_format == "channels_first" else gx.transpose(0, 2, 3, 1)
    be.check(xv.grad, gx, rtol=1e-9, atol=1e-10, dtype="float64")


def test_conv2d_same_padding_gives_ceil_of_input_over_stride(be):
    for size, stride, k in [(7, 2, 3), (8, 3, 4), (5, 1, 5), (1, 2, 3)]:
        layer = keras.Conv2D(3, k, strides=stride, padding="same")
        with be.run_context():
            y = layer(be.asarray(np.ones((1, size, size + 1, 2), np.float32)))
        assert tuple(y.shape) == (1, -(-size // stride), -(-(size + 1) // stride), 3)


def test_dense_equals_linear_with_transposed_kernel(be):
    x = _rand((3, 7))
    layer = keras.Dense(5, activation="tanh")
    with be.run_context():
        layer(be.asarray(x))
    kernel = be.to_numpy(layer.kernel.data)
    assert kernel.shape == (7, 5)
    bias = _rand((5,), seed=2)
    _set(layer.bias, be, bias)
    with be.run_context():
        y = layer(be.asarray(x))
    be.check(_data(y), np.tanh(x @ kernel + bias), rtol=1e-10, atol=1e-12, dtype="float64")
    x3 = _rand((2, 4, 7))  # Keras applies Dense to the last axis, without flattening
    with be.run_context():
        y3 = layer(be.asarray(x3))
    be.check(_data(y3), np.tanh(x3 @ kernel + bias), rtol=1e-10, atol=1e-12, dtype="float64")


def test_keras_initialisers_glorot_uniform_kernel_and_zero_bias(be):
    nn.manual_seed(0)
    conv = keras.Conv2D(8, 3)
    with be.run_context():
        conv(be.asarray(np.zeros((1, 6, 6, 4), np.float32)))
    k = be.to_numpy(conv.kernel.data)
    limit = math.sqrt(6 / (3 * 3 * 4 + 3 * 3 * 8))  # Keras's fans of an HWIO kernel
    assert np.abs(k).max() <= limit and np.abs(k).max() > 0.8 * limit
    assert not be.to_numpy(conv.bias.data).any()
    be.check_array(conv.kernel.data, dtype="float32")
    assert [n for n, _ in conv.named_parameters()] == ["kernel", "bias"]


# -- pooling ---------------------------------------------------------------------------------------


def _pool_reference(x, k, s, padding, kind):
    """TensorFlow's pooling of NHWC float64 ``x``, one window at a time."""
    n, h, w, c = x.shape
    if padding == "same":
        oh, ow = -(-h // s[0]), -(-w // s[1])
        ph = max((oh - 1) * s[0] + k[0] - h, 0)
        pw = max((ow - 1) * s[1] + k[1] - w, 0)
        top, left = ph // 2, pw // 2
    else:
        oh, ow = (h - k[0]) // s[0] + 1, (w - k[1]) // s[1] + 1
        top = left = 0
    out = np.empty((n, oh, ow, c))
    for i in range(oh):
        for j in range(ow):
            r0, c0 = i * s[0] - top, j * s[1] - left
            win = x[:, max(r0, 0) : min(r0 + k[0], h), max(c0, 0) : min(c0 + k[1], w), :]
            out[:, i, j, :] = win.max(axis=(1, 2)) if kind == "max" else win.mean(axis=(1, 2))
    return out


POOLS = [
    (2, None, "valid"),
    (2, None, "same"),
    (3, 2, "same"),
    (3, 1, "same"),
    ((2, 3), (1, 2), "same"),
    (3, 3, "valid"),
    (4, 3, "same"),
]


@pytest.mark.parametrize("pool_size, strides, padding", POOLS, ids=[str(p) for p in POOLS])
@pytest.mark.parametrize("cls", [keras.MaxPool2D, keras.AveragePooling2D])
def test_pooling_against_a_loop_reference(be, cls, pool_size, strides, padding):
    x = _rand((2, 7, 6, 3))
    layer = cls(pool_size, strides, padding)
    with be.run_context():
        y = layer(be.asarray(x))
    kind = "max" if cls is keras.MaxPool2D else "avg"
    want = _pool_reference(x, layer.pool_size, layer.strides, padding, kind)
    be.check(_data(y), want, rtol=1e-12, atol=1e-12, dtype="float64")
    cf = cls(pool_size, strides, padding, data_format="channels_first")
    with be.run_context():
        y = cf(be.asarray(x.transpose(0, 3, 1, 2)))
    be.check(_data(y), want.transpose(0, 3, 1, 2), rtol=1e-12, atol=1e-12, dtype="float64")


def test_max_pooling_keeps_an_integer_dtype(be):
    x = np.arange(2 * 5 * 5 * 2).reshape(2, 5, 5, 2).astype(np.int32)
    with be.run_context():
        y = keras.MaxPool2D(2, padding="same")(be.asarray(x))
    want = _pool_reference(x.astype(np.float64), (2, 2), (2, 2), "same", "max")
    be.check(_data(y), want, dtype="int32")


def test_global_pooling_flattens(be):
    x = _rand((2, 4, 5, 3))
    with be.run_context():
        avg = keras.GlobalAveragePooling2D()(be.asarray(x))
        mx = keras.GlobalMaxPooling2D()(be.asarray(x))
        kept = keras.GlobalAveragePooling2D(keepdims=True)(be.asarray(x))
        cf = keras.GlobalMaxPooling2D("channels_first")(be.asarray(x.transpose(0, 3, 1, 2)))
    be.check(_data(avg), x.mean(axis=(1, 2)), dtype="float64")
    be.check(_data(mx), x.max(axis=(1, 2)), dtype="float64")
    be.check(_data(kept), x.mean(axis=(1, 2), keepdims=True), dtype="float64")
    be.check(_data(cf), x.max(axis=(1, 2)), dtype="float64")


# -- merging (Concatenate, Add) -------------------------------------------------------------------


@pytest.mark.parametrize("axis", [-1, 1, 3, 0])
def test_concatenate_joins_along_axis_with_gradients(be, axis):
    shapes = [(2, 3, 4, 2), (2, 3, 4, 2), (2, 3, 4, 2)]
    ax = axis % 4
    shapes = [s[:ax] + (n,) + s[ax + 1 :] for s, n in zip(shapes, (1, 3, 2))]
    xs = [_rand(s, seed=i) for i, s in enumerate(shapes)]
    vs = [ag.Variable(be.asarray(x), requires_grad=True) for x in xs]
    w = _rand(np.concatenate(xs, axis=ax).shape, seed=9)
    with be.run_context():
        y = keras.Concatenate(axis=axis)(vs)
        ag.sum(ag.multiply(y, be.asarray(w))).backward()
        f = keras.concatenate([vs[0], be.asarray(xs[1])], axis=axis)
    be.check(_data(y), np.concatenate(xs, axis=ax), rtol=0, atol=0, dtype="float64")
    be.check(_data(f), np.concatenate(xs[:2], axis=ax), rtol=0, atol=0, dtype="float64")
    # the gradient of sum(w * concat) is w's slice of each input
    parts = np.split(w, np.cumsum([x.shape[ax] for x in xs])[:-1], axis=ax)
    for v, part in zip(vs, parts):
        be.check(v.grad, part, rtol=0, atol=0, dtype="float64")


def test_add_sums_broadcasts_and_has_gradients(be):
    a, b, c = _rand((2, 3, 3, 4)), _rand((2, 1, 1, 4), seed=1), _rand((2, 3, 3, 4), seed=2)
    vs = [ag.Variable(be.asarray(x), requires_grad=True) for x in (a, b, c)]
    with be.run_context():
        y = keras.Add()(vs)
        ag.sum(y).backward()
        f = keras.add((vs[0], be.asarray(c)))
    be.check(_data(y), a + b + c, dtype="float64")
    be.check(_data(f), a + c, dtype="float64")
    be.check(vs[0].grad, np.ones_like(a), dtype="float64")
    be.check(vs[1].grad, np.full(b.shape, 9.0), dtype="float64")  # summed over the broadcast
    lone = vs[0]
    assert keras.Add()([lone]) is lone  # Keras returns a lone input as it is


def test_merge_layers_keep_an_integer_dtype(be):
    a = be.asarray(np.arange(8, dtype=np.int32).reshape(1, 2, 2, 2))
    with be.run_context():
        y = keras.Concatenate()([a, a])
        s = keras.Add()([a, a])
    be.check_array(_data(y), dtype="int32")
    np.testing.assert_array_equal(be.to_numpy(_data(s)), 2 * np.arange(8).reshape(1, 2, 2, 2))


def test_merge_layers_refuse_bad_inputs_by_name(be):
    a = be.asarray(np.zeros((2, 3, 3, 2)))
    with pytest.raises(pc.ArrayTypeError, match=r"inputs: Concatenate is called with a list"):
        keras.Concatenate()(a)
    with pytest.raises(pc.ArgumentError, match="inputs: Add needs at least one array"):
        keras.Add()([])
    with pytest.raises(pc.ArrayTypeError, match=r"inputs\[1\]: expected an array"):
        keras.Concatenate()([a, [1.0, 2.0]])
    with pytest.raises(pc.ArgumentError, match="agree on every axis but axis -1"):
        keras.Concatenate()([a, be.asarray(np.zeros((2, 4, 3, 2)))])
    with pytest.raises(pc.ArgumentError, match="one rank"):
        keras.Concatenate()([a, be.asarray(np.zeros((2, 3, 3)))])
    with pytest.raises(pc.ArgumentError, match="axis: 4 is not an axis"):
        keras.Concatenate(axis=4)([a, a])
    with pytest.raises(pc.ArgumentError, match=r"inputs: Add needs shapes that agree"):
        keras.Add()([a, be.asarray(np.zeros((2, 3, 3, 5)))])
    with pytest.raises(pc.ArgumentError, match=r"inputs: Add needs shapes that agree"):
        keras.Add()([a, be.asarray(np.zeros((1, 3, 3, 2)))])  # the batch never broadcasts
    with pytest.raises(pc.ArrayTypeError, match="inputs: Add needs arrays of one dtype"):
        keras.Add()([a, be.asarray(np.zeros((2, 3, 3, 2), np.float32))])
    with pytest.raises(pc.ArrayTypeError, match="axis: expected an int"):
        keras.Concatenate(axis="channels")
    assert repr(keras.Concatenate(axis=1)) == "Concatenate(axis=1)"
    assert repr(keras.Add()) == "Add()"


# -- the dry run (portconv.models.shapes) against a real forward ---------------------------------

# (id, layer factory, input shape: a list of shapes for a merge layer)
DRY = [
    ("conv_valid", lambda: keras.Conv2D(4, 3), (2, 7, 6, 3)),
    ("conv_same_s2", lambda: keras.Conv2D(4, (3, 2), strides=2, padding="same"), (2, 7, 6, 3)),
    ("conv_same_s3", lambda: keras.Conv2D(2, 4, strides=3, padding="same"), (1, 8, 5, 2)),
    ("conv_dilated", lambda: keras.Conv2D(4, 3, (2, 1), dilation_rate=2), (1, 9, 7, 2)),
    ("conv_groups", lambda: keras.Conv2D(6, 3, groups=3, use_bias=False), (1, 5, 5, 6)),
    ("conv_nchw", lambda: keras.Conv2D(5, 3, padding="same", data_format="channels_first"),
     (2, 3, 7, 6)),
    ("maxpool", lambda: keras.MaxPool2D(), (2, 7, 6, 3)),
    ("maxpool_same", lambda: keras.MaxPool2D(3, 2, padding="same"), (2, 8, 7, 3)),
    ("avgpool_same", lambda: keras.AveragePooling2D(2, padding="same"), (1, 5, 5, 2)),
    ("avgpool_nchw", lambda: keras.AvgPool2D(2, 1, data_format="channels_first"), (1, 2, 5, 4)),
    ("gap", lambda: keras.GlobalAveragePooling2D(), (2, 5, 4, 3)),
    ("gap_keep", lambda: keras.GlobalAveragePooling2D(keepdims=True), (2, 5, 4, 3)),
    ("gmp_nchw_keep", lambda: keras.GlobalMaxPooling2D("channels_first", True), (2, 3, 5, 4)),
    ("gmp_nchw", lambda: keras.GlobalMaxPool2D("channels_first"), (2, 3, 5, 4)),
    ("dense", lambda: keras.Dense(5), (3, 7)),
    ("dense_3d", lambda: keras.Dense(5, use_bias=False), (3, 4, 7)),
    ("flatten", lambda: keras.Flatten(), (2, 3, 4, 5)),
    ("flatten_1d", lambda: keras.Flatten(), (4,)),
    ("flatten_nchw", lambda: keras.Flatten("channels_first"), (2, 3, 4, 5)),
    ("reshape", lambda: keras.Reshape((-1, 4)), (2, 3, 8)),
    ("batchnorm", lambda: keras.BatchNormalization(), (4, 3, 3, 5)),
    ("batchnorm_axis1", lambda: keras.BatchNormalization(axis=1, center=False), (4, 5, 3)),
    ("dropout", lambda: keras.Dropout(0.5), (2, 3, 3, 2)),
    ("activation", lambda: keras.Activation("tanh"), (2, 3)),
    ("relu", lambda: keras.ReLU(), (2, 3, 3, 2)),
    ("concatenate", lambda: keras.Concatenate(), [(2, 3, 3, 2), (2, 3, 3, 5)]),
    ("concatenate_1", lambda: keras.Concatenate(axis=1), [(2, 3, 4), (2, 1, 4), (2, 2, 4)]),
    ("add", lambda: keras.Add(), [(2, 3, 3, 4), (2, 1, 3, 4), (2, 3, 3, 1)]),
]  # fmt: skip


@pytest.mark.parametrize("make, shape", [d[1:] for d in DRY], ids=[d[0] for d in DRY])
def test_dry_run_rule_equals_a_real_forward(be, make, shape):
    layer = make()
    dry_shape, dry_count = models.output_shape(layer, shape), models.count_parameters(layer, shape)
    if isinstance(shape, list):
        x = [be.asarray(_rand(s, seed=i)) for i, s in enumerate(shape)]
    else:
        x = be.asarray(_rand(shape))
    with be.run_context():
        y = layer(x)
    assert dry_shape == tuple(int(s) for s in _data(y).shape)
    assert dry_count == layer.num_parameters()
    # built: the rule still agrees, and now checks the built sizes
    assert models.output_shape(layer, shape) == dry_shape
    assert models.count_parameters(layer, shape) == dry_count


def test_dry_run_refuses_what_the_forward_refuses():
    conv = keras.Conv2D(4, 3)
    conv(np.zeros((1, 5, 5, 3), np.float32))
    bad = [
        (conv, (1, 5, 5, 2), "built for 3 input channels"),
        (keras.Conv2D(4, 3), (5, 5, 3), "expects 4-D input"),
        (keras.Conv2D(4, 3, groups=2), (1, 5, 5, 3), "not divisible by groups=2"),
        (keras.Conv2D(4, 7), (1, 5, 5, 3), "kernel"),
        (keras.MaxPool2D(3), (1, 2, 2, 3), "kernel_size"),
        (keras.GlobalAveragePooling2D(), (2, 3), "expects 4-D input"),
        (keras.Dense(4), (3,), "at least 2-D"),
        (keras.Reshape((5, -1)), (2, 12), "cannot make 12 elements"),
        (keras.BatchNormalization(axis=3), (2, 3), "axis 3"),
        (keras.Concatenate(), [(1, 2, 2), (1, 3, 3)], "agree on every axis"),
        (keras.Add(), [(1, 2), (1, 3)], "Add needs shapes that agree"),
        (keras.Add(), (1, 2), "takes the list of its inputs' shapes"),
        (keras.Dense(4), [(1, 2), (1, 2)], "takes one input shape"),
    ]
    for layer, shape, message in bad:
        with pytest.raises(pc.ArgumentError, match=message):
            models.output_shape(layer, shape)
        if not isinstance(shape, list) and not isinstance(layer, keras.Add):
            with pytest.raises(pc.ArgumentError, match=message):
                layer(np.zeros(shape, np.float32))


# -- reshaping, normalisation, dropout ------------------------------------------------------------


def test_flatten_and_reshape(be):
    x = _rand((2, 3, 4, 5))
    with be.run_context():
        flat = keras.Flatten()(be.asarray(x))
        cf = keras.Flatten("channels_first")(be.asarray(x.transpose(0, 3, 1, 2)))
        back = keras.Reshape((3, -1, 5))(flat)
    be.check(_data(flat), x.reshape(2, -1), dtype="float64")
    be.check(_data(cf), x.reshape(2, -1), dtype="float64")  # Keras flattens channels last
    be.check(_data(back), x, dtype="float64")
    with pytest.raises(pc.ArgumentError, match=r"input: Reshape cannot make 60 elements"):
        keras.Reshape((7, 9))(be.asarray(x))


def test_batch_normalization_follows_keras(be):
    x = _rand((4, 3, 3, 2)) * 3 + 1
    bn = keras.BatchNormalization()
    xv = ag.Variable(be.asarray(x), requires_grad=True)
    with be.run_context():
        y = bn(xv)
    mean, var = x.mean(axis=(0, 1, 2)), x.var(axis=(0, 1, 2))  # biased, as Keras
    be.check(_data(y), (x - mean) / np.sqrt(var + 1e-3), rtol=1e-10, atol=1e-12, dtype="float64")
    be.check(bn.moving_mean, 0.01 * mean, rtol=1e-12, atol=1e-12, dtype="float64")
    be.check(bn.moving_variance, 0.99 + 0.01 * var, rtol=1e-12, atol=1e-12, dtype="float64")
    with be.run_context():
        ag.sum(y).backward()
    assert np.abs(be.to_numpy(xv.grad)).max() < 1e-9  # the sum of normalised values is 0
    assert sorted(bn.state_dict()) == ["beta", "gamma", "moving_mean", "moving_variance"]
    bn.eval()
    with be.run_context():
        ye = bn(be.asarray(x))
    want = (x - 0.01 * mean) / np.sqrt(0.99 + 0.01 * var + 1e-3)
    be.check(_data(ye), want, rtol=1e-10, atol=1e-12, dtype="float64")
    cf = keras.BatchNormalization(axis=1)
    with be.run_context():
        yc = cf(be.asarray(x.transpose(0, 3, 1, 2)))
    be.check(_data(yc), be.to_numpy(_data(y)).transpose(0, 3, 1, 2), dtype="float64")


def test_dropout_is_seeded_and_identity_in_evaluation(be):
    x = np.ones((3, 8), np.float32)
    drop = keras.Dropout(0.25)
    nn.manual_seed(3)
    with be.run_context():
        y = be.to_numpy(_data(drop(be.asarray(x))))
    keep = np.random.default_rng(3).random((3, 8)) >= 0.25
    np.testing.assert_allclose(y, keep / 0.75, rtol=1e-6)
    xe = be.asarray(x)
    assert drop.eval()(xe) is xe


# -- the book's TensorFlow edition -----------------------------------------------------------------


def tf_lenet():
    """The TensorFlow edition's LeNet (7.6), written with portconv.nn.keras."""
    return nn.Sequential(
        keras.Conv2D(filters=6, kernel_size=5, activation="sigmoid", padding="same"),
        keras.AvgPool2D(pool_size=2, strides=2),
        keras.Conv2D(filters=16, kernel_size=5, activation="sigmoid"),
        keras.AvgPool2D(pool_size=2, strides=2),
        keras.Flatten(),
        keras.Dense(120, activation="sigmoid"),
        keras.Dense(84, activation="sigmoid"),
        keras.Dense(10),
    )


def test_tf_edition_lenet_prints_the_tf_editions_nhwc_shapes(be):
    out = io.StringIO()
    rows = tf_lenet().layer_summary(
        (1, 28, 28, 1), like=be.asarray(np.zeros(1, np.float32)), file=out
    )
    # the TF edition: X = tf.random.uniform((1, 28, 28, 1)); for layer in net().layers: ...
    assert rows == [
        ("Conv2D", (1, 28, 28, 6)),
        ("AveragePooling2D", (1, 14, 14, 6)),
        ("Conv2D", (1, 10, 10, 16)),
        ("AveragePooling2D", (1, 5, 5, 16)),
        ("Flatten", (1, 400)),
        ("Dense", (1, 120)),
        ("Dense", (1, 84)),
        ("Dense", (1, 10)),
    ]
    first = out.getvalue().splitlines()[0]  # the shape as the library prints it, as the book
    assert first.startswith("Conv2D output shape:\t ") and "1, 28, 28, 6" in first


def test_tf_edition_lenet_trains_a_step(be):
    net = tf_lenet()
    x = be.asarray(_rand((2, 28, 28, 1)).astype(np.float32))
    y = be.asarray(np.array([3, 7]))
    with be.run_context():
        net(x)  # builds every layer from the input's sizes, as Keras's build
    opt = pc.optim.SGD(net.parameters(), 0.9)
    with be.run_context():
        loss = ag.cross_entropy(net(x), y)
        loss.backward()
        before = be.to_numpy(net[0].kernel.data).copy()
        opt.step()
    assert [n for n, _ in net.named_parameters()][:2] == ["0.kernel", "0.bias"]
    assert not np.allclose(before, be.to_numpy(net[0].kernel.data))


# -- arguments ------------------------------------------------------------------------------------

BAD = [
    (lambda: keras.Conv2D(0, 3), pc.ArgumentError, "filters"),
    (lambda: keras.Conv2D(4, 3, padding="full"), pc.ArgumentError, "padding: expected 'valid'"),
    (lambda: keras.Conv2D(4, 3, data_format="NHWC"), pc.ArgumentError, "data_format"),
    (lambda: keras.Conv2D(4, 3, activation="gelu"), pc.ArgumentError, "activation"),
    (lambda: keras.Conv2D(4, 3, strides=0), pc.ArgumentError, "strides"),
    (lambda: keras.Conv2D(4, 3, dilation_rate=(1, 2, 3)), pc.ArgumentError, "dilation_rate"),
    (lambda: keras.Conv2D(5, 3, groups=2), pc.ArgumentError, "groups"),
    (lambda: keras.Conv2D(4, 3, use_bias="no"), pc.ArrayTypeError, "use_bias"),
    (lambda: keras.MaxPool2D(0), pc.ArgumentError, "pool_size"),
    (lambda: keras.AveragePooling2D(2, padding=1), pc.ArgumentError, "padding"),
    (lambda: keras.GlobalAveragePooling2D(keepdims=2), pc.ArrayTypeError, "keepdims"),
    (lambda: keras.Dense(0), pc.ArgumentError, "units"),
    (lambda: keras.Reshape(5), pc.ArgumentError, "target_shape"),
    (lambda: keras.Reshape((-1, -1)), pc.ArgumentError, "target_shape: at most one -1"),
    (lambda: keras.BatchNormalization(momentum=1.5), pc.ArgumentError, "momentum"),
    (lambda: keras.BatchNormalization(epsilon=0), pc.ArgumentError, "epsilon"),
    (lambda: keras.BatchNormalization(axis=1.0), pc.ArrayTypeError, "axis"),
    (lambda: keras.Dropout(1.0), pc.ArgumentError, "rate"),
]


@pytest.mark.parametrize("make, error, message", BAD, ids=range(len(BAD)))
def test_bad_arguments_are_refused_by_name(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_bad_inputs_are_refused_by_name(be):
    conv = keras.Conv2D(4, 3)
    with pytest.raises(pc.ArgumentError, match=r"input: Conv2D expects 4-D input \(N, H, W, C\)"):
        conv(be.asarray(np.ones((5, 5, 3), np.float32)))
    with be.run_context():
        conv(be.asarray(np.ones((1, 5, 5, 3), np.float32)))
    with pytest.raises(pc.ArgumentError, match="built for 3 input channels"):
        conv(be.asarray(np.ones((1, 5, 5, 2), np.float32)))
    with pytest.raises(pc.ArrayTypeError, match="input: expected a real floating"):
        keras.Dense(3)(be.asarray(np.ones((2, 3), np.int32)))
    with pytest.raises(pc.ArgumentError, match="input: MaxPooling2D expects 4-D"):
        keras.MaxPool2D()(be.asarray(np.ones((2, 3), np.float32)))
    with pytest.raises(pc.ArrayTypeError, match="input"):
        keras.Flatten()([1.0, 2.0])


def test_repr():
    assert repr(keras.Conv2D(16, 5)) == (
        "Conv2D(filters=16, kernel_size=(5, 5), strides=(1, 1), padding='valid')"
    )
    assert repr(keras.AvgPool2D(pool_size=2, strides=2)) == (
        "AveragePooling2D(pool_size=(2, 2), strides=(2, 2), padding='valid')"
    )
    assert repr(keras.Dense(10)) == "Dense(units=10)"
    assert repr(keras.Flatten()) == "Flatten()"
    assert repr(keras.Reshape((7, 7, 1))) == "Reshape(target_shape=(7, 7, 1))"
    assert repr(keras.GlobalAveragePooling2D()) == "GlobalAveragePooling2D()"


HOSTILE = [
    None, 0, -1, 1, 2, 3, 2.5, True, False, "3", "same", "valid", "relu", (2,), (2, 2),
    (1, 1, 1), [], float("nan"), float("inf"), 0.5, np.int64(2), "channels_first",
]  # fmt: skip
FUZZED = [
    keras.Conv2D, keras.MaxPool2D, keras.AveragePooling2D, keras.GlobalAveragePooling2D,
    keras.GlobalMaxPooling2D, keras.Dense, keras.Flatten, keras.Reshape,
    keras.BatchNormalization, keras.Dropout, keras.Activation, keras.ReLU,
]  # fmt: skip


@settings(deadline=None)
@given(data=st.data())
def test_fuzzed_keras_layers_build_and_run_or_refuse_with_a_portconv_error(be, data):
    cls = data.draw(st.sampled_from(FUZZED))
    params = [
        p for p in inspect.signature(cls).parameters.values() if p.kind == p.POSITIONAL_OR_KEYWORD
    ]
    low = sum(p.default is p.empty for p in params)
    n = data.draw(st.integers(low, min(len(params), low + 3)))
    args = [data.draw(st.sampled_from(HOSTILE)) for _ in range(n)]
    try:
        layer = cls(*args)
    except pc.PortconvError:
        return
    shape = data.draw(st.sampled_from([(2, 6, 6, 3), (2, 3, 6, 6), (2, 12), (6, 6, 3), (2,)]))
    x = be.asarray(np.ones(shape, np.float32))
    try:  # the dry run first: it must agree with the forward, refusal included
        dry = models.output_shape(layer, shape), models.count_parameters(layer, shape)
    except pc.PortconvError:
        dry = None
    try:
        with be.run_context():
            y = layer(x)
    except pc.PortconvError as exc:
        assert dry is None, (layer, shape, dry, exc)
        return
    be.check_array(_data(y), dtype="float32")
    assert dry == (tuple(int(s) for s in _data(y).shape), layer.num_parameters()), (layer, shape)
