"""portconv's Keras layers and TensorFlow-edition models against Keras itself, and Keras's
weight files (:func:`portconv.porting.load_keras_weights` / ``save_keras_weights``).

Keras 3 runs on PyTorch (or on JAX where PyTorch is missing; KERAS_BACKEND chooses): the
torch nox session installs it (pinned in noxfile.py); elsewhere the tests that need Keras
skip, saying so. Every layer of
:mod:`portconv.nn.keras` gives Keras's output with the same weights (float32); the book's
TensorFlow-edition models, written here with Keras as the book writes them, print the same
per-layer shapes as :mod:`portconv.models.keras`, and a weights file written by either side
loads into the other and gives its logits. The file tests that need only h5py (round trips,
refusals, the legacy layout read by order) run wherever h5py is installed.
"""

from __future__ import annotations

import importlib.util
import os
import sys

import numpy as np
import pytest

from portconv import nn, porting
from portconv.autograd import Variable
from portconv.errors import ArgumentError, FileFormatError, MissingFileError
from portconv.models import keras as km
from portconv.nn import keras as K

h5py = pytest.importorskip("h5py", reason='Keras weight files need h5py (the "keras" extra)')


def _keras_backend() -> str | None:
    """The Keras backend these tests use: KERAS_BACKEND if set, else PyTorch (eager, no
    compiling per op: the models build in seconds), else JAX."""
    chosen = os.environ.get("KERAS_BACKEND")
    if chosen:
        return chosen
    for name in ("torch", "jax"):
        if importlib.util.find_spec(name) is not None:
            return name
    return None


@pytest.fixture(scope="module")
def keras():
    if importlib.util.find_spec("keras") is None:
        pytest.skip("checks against Keras itself; pip install keras (the torch session has it)")
    if "keras" not in sys.modules:
        backend = _keras_backend()
        if backend is None:
            pytest.skip("Keras needs a backend: neither jax nor torch is installed")
        os.environ.setdefault("KERAS_BACKEND", backend)
    import keras

    if keras.backend.backend() not in ("jax", "torch", "tensorflow", "numpy"):
        pytest.skip(f"Keras backend {keras.backend.backend()!r} is not one checked here")
    return keras


def _np(y) -> np.ndarray:
    """A Keras output (any backend's tensor) or a portconv result as NumPy."""
    if isinstance(y, Variable):
        y = y.data
    if hasattr(y, "detach"):
        return y.detach().cpu().numpy()
    try:
        return np.asarray(y)
    except TypeError:
        from portconv._dispatch import backend_of

        return np.asarray(backend_of(y).adapter.to_numpy(y))


def _ours(be, layer, x: np.ndarray) -> np.ndarray:
    with be.run_context():
        return be.to_numpy(_data(layer(be.asarray(x))))


def _data(y):
    return y.data if isinstance(y, Variable) else y


def _x(shape, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _copy_weights(keras_layer, ours) -> None:
    """The Keras layer's variables (in Keras's order) into portconv's layer, by name."""
    names = porting._keras_vars(ours)
    values = keras_layer.get_weights()
    assert len(names) == len(values), (names, [v.shape for v in values])
    ours.load_state_dict(dict(zip(names, values)))


def _randomise(keras, model, seed=0) -> None:
    """Random biases and batch-norm parameters and statistics (Keras's initial ones are zeros
    and ones, which would hide a mix-up); kernels keep Keras's random initialisation."""
    rng = np.random.default_rng(seed)
    for v in model.weights:
        shape = tuple(v.shape)
        if v.path.endswith("moving_variance"):
            value = rng.uniform(0.5, 1.5, shape)
        elif v.path.endswith(("bias", "beta", "moving_mean")):
            value = rng.standard_normal(shape) * 0.1
        elif v.path.endswith("gamma"):
            value = rng.uniform(0.5, 1.5, shape)
        else:
            continue
        v.assign(value.astype("float32"))


def _close(ours, theirs, tol=1e-5) -> None:
    ours, theirs = np.asarray(ours, np.float64), np.asarray(theirs, np.float64)
    assert ours.shape == theirs.shape, f"shape {ours.shape}, Keras {theirs.shape}"
    scale = max(1.0, float(np.abs(theirs).max()))
    np.testing.assert_allclose(ours, theirs, rtol=tol, atol=tol * scale)


# -- every layer against Keras's, with the same weights --------------------------------------------

CONV = [
    dict(filters=3, kernel_size=3),
    dict(filters=4, kernel_size=3, padding="same"),
    dict(filters=2, kernel_size=3, strides=2, padding="same"),  # even size: extra pad at the end
    dict(filters=2, kernel_size=(2, 3), strides=(2, 1), padding="same", activation="relu"),
    dict(filters=3, kernel_size=3, dilation_rate=2, padding="same", activation="sigmoid"),
    dict(filters=2, kernel_size=(3, 2), dilation_rate=(1, 2), activation="tanh"),
    dict(filters=4, kernel_size=1, strides=3, use_bias=False),
    dict(filters=4, kernel_size=3, groups=2, padding="same", activation="relu"),
]


@pytest.mark.parametrize("size", [(8, 8), (7, 9)], ids=["8x8", "7x9"])
@pytest.mark.parametrize("kwargs", CONV, ids=[str(i) for i in range(len(CONV))])
def test_conv2d_as_keras(be, keras, kwargs, size):
    x = _x((2, *size, 4))
    theirs = keras.layers.Conv2D(**kwargs)
    theirs(x)  # builds it
    _randomise(keras, theirs)
    expected = _np(theirs(x))
    ours = K.Conv2D(**kwargs)
    _copy_weights(theirs, ours)
    _close(_ours(be, ours, x), expected)


POOL = [
    dict(pool_size=2),
    dict(pool_size=3, strides=2),
    dict(pool_size=3, strides=2, padding="same"),
    dict(pool_size=(2, 3), strides=(1, 2), padding="same"),
    dict(pool_size=3, strides=1, padding="same"),
]


@pytest.mark.parametrize("kind", ["MaxPooling2D", "AveragePooling2D"])
@pytest.mark.parametrize("size", [(8, 8), (7, 9)], ids=["8x8", "7x9"])
@pytest.mark.parametrize("kwargs", POOL, ids=[str(i) for i in range(len(POOL))])
def test_pooling_as_keras(be, keras, kind, kwargs, size):
    if kind == "AveragePooling2D" and keras.backend.backend() == "torch" and _uneven(kwargs, size):
        pytest.skip(
            "Keras's torch backend pads an uneven 'same' average pooling by repeating the edge "
            "(TensorFlow, Keras's JAX backend and portconv leave the padding out of the "
            "average): test_average_pooling_same_as_tensorflow checks this case here, "
            "KERAS_BACKEND=jax against Keras"
        )
    x = _x((2, *size, 3))
    expected = _np(getattr(keras.layers, kind)(**kwargs)(x))
    _close(_ours(be, getattr(K, kind)(**kwargs), x), expected)


def _same_pads(kwargs, size):
    """TensorFlow's SAME padding per axis: (before, after), the odd one at the end."""
    k = np.broadcast_to(kwargs["pool_size"], 2)
    s = np.broadcast_to(kwargs.get("strides") or kwargs["pool_size"], 2)
    pads = []
    for n, kk, ss in zip(size, k, s):
        total = max((-(-n // ss) - 1) * ss + kk - n, 0)
        pads.append((total // 2, total - total // 2))
    return pads, k, s


def _uneven(kwargs, size):
    return kwargs.get("padding") == "same" and any(a != b for a, b in _same_pads(kwargs, size)[0])


@pytest.mark.parametrize("size", [(8, 8), (7, 9)], ids=["8x8", "7x9"])
@pytest.mark.parametrize(
    "kwargs", [p for p in POOL if p.get("padding") == "same"], ids=["2", "3", "4"]
)
def test_average_pooling_same_as_tensorflow(be, kwargs, size):
    """TensorFlow's rule, in float64 NumPy: each window of the SAME-padded input averages the
    input it covers (the padding counts for nothing)."""
    x = _x((2, *size, 3))
    (pt, pb), (pl, pr) = _same_pads(kwargs, size)[0]
    _, k, s = _same_pads(kwargs, size)
    padded = np.pad(x.astype(np.float64), ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    ones = np.pad(np.ones(size), ((pt, pb), (pl, pr)))
    out_h, out_w = -(-size[0] // s[0]), -(-size[1] // s[1])
    expected = np.empty((2, out_h, out_w, 3))
    for i in range(out_h):
        for j in range(out_w):
            rows, cols = slice(i * s[0], i * s[0] + k[0]), slice(j * s[1], j * s[1] + k[1])
            total = padded[:, rows, cols, :].sum(axis=(1, 2))
            expected[:, i, j, :] = total / ones[rows, cols].sum()
    _close(_ours(be, K.AveragePooling2D(**kwargs), x), expected)


@pytest.mark.parametrize("kind", ["GlobalAveragePooling2D", "GlobalMaxPooling2D"])
@pytest.mark.parametrize("keepdims", [False, True])
def test_global_pooling_as_keras(be, keras, kind, keepdims):
    x = _x((2, 5, 6, 3))
    expected = _np(getattr(keras.layers, kind)(keepdims=keepdims)(x))
    _close(_ours(be, getattr(K, kind)(keepdims=keepdims), x), expected)


@pytest.mark.parametrize("shape", [(3, 7), (2, 4, 7)], ids=["2-D", "3-D"])
@pytest.mark.parametrize("activation", [None, "relu", "softmax"])
def test_dense_as_keras(be, keras, shape, activation):
    x = _x(shape)
    theirs = keras.layers.Dense(5, activation=activation)
    theirs(x)
    _randomise(keras, theirs)
    ours = K.Dense(5, activation=activation)
    _copy_weights(theirs, ours)
    _close(_ours(be, ours, x), _np(theirs(x)))


@pytest.mark.parametrize(
    "make",
    [
        lambda L: L.Flatten(),
        lambda L: L.Flatten(data_format="channels_first"),
        lambda L: L.Activation("relu"),
        lambda L: L.Activation("sigmoid"),
        lambda L: L.ReLU(),
        lambda L: L.Reshape((6, 20)),
        lambda L: L.Dropout(0.5),  # inference: the input as it is
    ],
    ids=["Flatten", "Flatten channels_first", "relu", "sigmoid", "ReLU", "Reshape", "Dropout"],
)
def test_shape_and_activation_layers_as_keras(be, keras, make):
    x = _x((2, 4, 5, 6))
    ours = make(K)
    if isinstance(ours, K.Dropout):
        ours.eval()
    _close(_ours(be, ours, x), _np(make(keras.layers)(x)))


def test_batch_normalization_as_keras(be, keras):
    """Inference with random moving statistics; a training call's output and its update of
    the moving statistics (momentum 0.99, the batch's biased variance)."""
    x = _x((4, 3, 5, 6)) * 2 + 1
    theirs = keras.layers.BatchNormalization()
    theirs(x)
    _randomise(keras, theirs)
    ours = K.BatchNormalization()
    _copy_weights(theirs, ours)
    ours.eval()
    _close(_ours(be, ours, x), _np(theirs(x, training=False)))
    ours.train()
    _close(_ours(be, ours, x), _np(theirs(x, training=True)))
    for name, v in zip(("gamma", "beta", "moving_mean", "moving_variance"), theirs.weights):
        _close(be.to_numpy(_data(getattr(ours, name))), _np(v.value))


# -- the book's TensorFlow-edition models, written with Keras -------------------------------------


def _keras_models(keras):
    """The book's TensorFlow-edition definitions (chapter 8) in Keras 3 (``tf.keras`` ->
    ``keras``; a list attribute iterates as a list)."""
    L = keras.layers

    class Classifier(keras.Model):  # d2l.Classifier: the layers are self.net
        def call(self, X, training=False):
            return self.net(X, training=training)

    class AlexNet(Classifier):
        def __init__(self, num_classes=10):
            super().__init__()
            self.net = keras.Sequential(
                [
                    L.Conv2D(filters=96, kernel_size=11, strides=4, activation="relu"),
                    L.MaxPool2D(pool_size=3, strides=2),
                    L.Conv2D(filters=256, kernel_size=5, padding="same", activation="relu"),
                    L.MaxPool2D(pool_size=3, strides=2),
                    L.Conv2D(filters=384, kernel_size=3, padding="same", activation="relu"),
                    L.Conv2D(filters=384, kernel_size=3, padding="same", activation="relu"),
                    L.Conv2D(filters=256, kernel_size=3, padding="same", activation="relu"),
                    L.MaxPool2D(pool_size=3, strides=2),
                    L.Flatten(),
                    L.Dense(4096, activation="relu"),
                    L.Dropout(0.5),
                    L.Dense(4096, activation="relu"),
                    L.Dropout(0.5),
                    L.Dense(num_classes),
                ]
            )

    def vgg_block(num_convs, num_channels):
        blk = keras.Sequential()
        for _ in range(num_convs):
            blk.add(L.Conv2D(num_channels, kernel_size=3, padding="same", activation="relu"))
        blk.add(L.MaxPool2D(pool_size=2, strides=2))
        return blk

    class VGG(Classifier):
        def __init__(self, arch, num_classes=10):
            super().__init__()
            self.net = keras.Sequential([vgg_block(*b) for b in arch])
            self.net.add(
                keras.Sequential(
                    [
                        L.Flatten(),
                        L.Dense(4096, activation="relu"),
                        L.Dropout(0.5),
                        L.Dense(4096, activation="relu"),
                        L.Dropout(0.5),
                        L.Dense(num_classes),
                    ]
                )
            )

    def nin_block(out_channels, kernel_size, strides, padding):
        return keras.Sequential(
            [
                L.Conv2D(out_channels, kernel_size, strides=strides, padding=padding),
                L.Activation("relu"),
                L.Conv2D(out_channels, 1),
                L.Activation("relu"),
                L.Conv2D(out_channels, 1),
                L.Activation("relu"),
            ]
        )

    class NiN(Classifier):
        def __init__(self, num_classes=10):
            super().__init__()
            self.net = keras.Sequential(
                [
                    nin_block(96, kernel_size=11, strides=4, padding="valid"),
                    L.MaxPool2D(pool_size=3, strides=2),
                    nin_block(256, kernel_size=5, strides=1, padding="same"),
                    L.MaxPool2D(pool_size=3, strides=2),
                    nin_block(384, kernel_size=3, strides=1, padding="same"),
                    L.MaxPool2D(pool_size=3, strides=2),
                    L.Dropout(0.5),
                    nin_block(num_classes, kernel_size=3, strides=1, padding="same"),
                    L.GlobalAvgPool2D(),
                    L.Flatten(),
                ]
            )

    class Inception(keras.Model):
        def __init__(self, c1, c2, c3, c4):
            super().__init__()
            self.b1_1 = L.Conv2D(c1, 1, activation="relu")
            self.b2_1 = L.Conv2D(c2[0], 1, activation="relu")
            self.b2_2 = L.Conv2D(c2[1], 3, padding="same", activation="relu")
            self.b3_1 = L.Conv2D(c3[0], 1, activation="relu")
            self.b3_2 = L.Conv2D(c3[1], 5, padding="same", activation="relu")
            self.b4_1 = L.MaxPool2D(3, 1, padding="same")
            self.b4_2 = L.Conv2D(c4, 1, activation="relu")

        def call(self, x):
            b1 = self.b1_1(x)
            b2 = self.b2_2(self.b2_1(x))
            b3 = self.b3_2(self.b3_1(x))
            b4 = self.b4_2(self.b4_1(x))
            return L.Concatenate()([b1, b2, b3, b4])

    class GoogleNet(Classifier):
        def __init__(self, num_classes=10):
            super().__init__()
            self.net = keras.Sequential(
                [self.b1(), self.b2(), self.b3(), self.b4(), self.b5(), L.Dense(num_classes)]
            )

        def b1(self):
            return keras.Sequential(
                [
                    L.Conv2D(64, 7, strides=2, padding="same", activation="relu"),
                    L.MaxPool2D(pool_size=3, strides=2, padding="same"),
                ]
            )

        def b2(self):
            return keras.Sequential(
                [
                    L.Conv2D(64, 1, activation="relu"),
                    L.Conv2D(192, 3, padding="same", activation="relu"),
                    L.MaxPool2D(pool_size=3, strides=2, padding="same"),
                ]
            )

        def b3(self):
            return keras.Sequential(
                [
                    Inception(64, (96, 128), (16, 32), 32),
                    Inception(128, (128, 192), (32, 96), 64),
                    L.MaxPool2D(pool_size=3, strides=2, padding="same"),
                ]
            )

        def b4(self):
            return keras.Sequential(
                [
                    Inception(192, (96, 208), (16, 48), 64),
                    Inception(160, (112, 224), (24, 64), 64),
                    Inception(128, (128, 256), (24, 64), 64),
                    Inception(112, (144, 288), (32, 64), 64),
                    Inception(256, (160, 320), (32, 128), 128),
                    L.MaxPool2D(pool_size=3, strides=2, padding="same"),
                ]
            )

        def b5(self):
            return keras.Sequential(
                [
                    Inception(256, (160, 320), (32, 128), 128),
                    Inception(384, (192, 384), (48, 128), 128),
                    L.GlobalAvgPool2D(),
                    L.Flatten(),
                ]
            )

    class Residual(keras.Model):
        def __init__(self, num_channels, use_1x1conv=False, strides=1):
            super().__init__()
            self.conv1 = L.Conv2D(num_channels, padding="same", kernel_size=3, strides=strides)
            self.conv2 = L.Conv2D(num_channels, kernel_size=3, padding="same")
            self.conv3 = None
            if use_1x1conv:
                self.conv3 = L.Conv2D(num_channels, kernel_size=1, strides=strides)
            self.bn1 = L.BatchNormalization()
            self.bn2 = L.BatchNormalization()

        def call(self, X, training=False):
            Y = keras.activations.relu(self.bn1(self.conv1(X), training=training))
            Y = self.bn2(self.conv2(Y), training=training)
            if self.conv3 is not None:
                X = self.conv3(X)
            return keras.activations.relu(Y + X)

    class ResNet(Classifier):
        def b1(self):
            return keras.Sequential(
                [
                    L.Conv2D(64, kernel_size=7, strides=2, padding="same"),
                    L.BatchNormalization(),
                    L.Activation("relu"),
                    L.MaxPool2D(pool_size=3, strides=2, padding="same"),
                ]
            )

        def block(self, num_residuals, num_channels, first_block=False):
            blk = keras.Sequential()
            for i in range(num_residuals):
                if i == 0 and not first_block:
                    blk.add(Residual(num_channels, use_1x1conv=True, strides=2))
                else:
                    blk.add(Residual(num_channels))
            return blk

        def __init__(self, arch, num_classes=10):
            super().__init__()
            self.net = keras.Sequential([self.b1()])
            for i, b in enumerate(arch):
                self.net.add(self.block(*b, first_block=(i == 0)))
            self.net.add(keras.Sequential([L.GlobalAvgPool2D(), L.Dense(units=num_classes)]))

    class ConvBlock(L.Layer):
        def __init__(self, num_channels):
            super().__init__()
            self.bn = L.BatchNormalization()
            self.relu = L.ReLU()
            self.conv = L.Conv2D(filters=num_channels, kernel_size=(3, 3), padding="same")
            self.listLayers = [self.bn, self.relu, self.conv]

        def call(self, x, training=False):
            y = x
            for layer in self.listLayers:
                y = layer(y, training=training) if layer is self.bn else layer(y)
            return L.concatenate([x, y], axis=-1)

    class DenseBlock(L.Layer):
        def __init__(self, num_convs, num_channels):
            super().__init__()
            self.listLayers = []
            for _ in range(num_convs):
                self.listLayers.append(ConvBlock(num_channels))

        def call(self, x, training=False):
            for layer in self.listLayers:
                x = layer(x, training=training)
            return x

    class TransitionBlock(L.Layer):
        def __init__(self, num_channels, **kwargs):
            super().__init__(**kwargs)
            self.batch_norm = L.BatchNormalization()
            self.relu = L.ReLU()
            self.conv = L.Conv2D(num_channels, kernel_size=1)
            self.avg_pool = L.AvgPool2D(pool_size=2, strides=2)

        def call(self, x, training=False):
            x = self.batch_norm(x, training=training)
            x = self.relu(x)
            x = self.conv(x)
            return self.avg_pool(x)

    class DenseNet(Classifier):
        def b1(self):
            return keras.Sequential(
                [
                    L.Conv2D(64, kernel_size=7, strides=2, padding="same"),
                    L.BatchNormalization(),
                    L.ReLU(),
                    L.MaxPool2D(pool_size=3, strides=2, padding="same"),
                ]
            )

        def __init__(self, num_channels=64, growth_rate=32, arch=(4, 4, 4, 4), num_classes=10):
            super().__init__()
            self.net = keras.Sequential([self.b1()])
            for i, num_convs in enumerate(arch):
                self.net.add(DenseBlock(num_convs, growth_rate))
                num_channels += num_convs * growth_rate
                if i != len(arch) - 1:
                    num_channels //= 2
                    self.net.add(TransitionBlock(num_channels))
            self.net.add(
                keras.Sequential(
                    [
                        L.BatchNormalization(),
                        L.ReLU(),
                        L.GlobalAvgPool2D(),
                        L.Flatten(),
                        L.Dense(num_classes),
                    ]
                )
            )

    small_vgg = ((1, 8), (1, 16), (2, 16))
    return {
        # name -> (Keras model, portconv model, smallest-ish input (N, H, W, C))
        "AlexNet": (AlexNet, km.AlexNet, (), (2, 67, 67, 1)),
        "VGG": (VGG, km.VGG, (small_vgg,), (2, 32, 32, 1)),
        "NiN": (NiN, km.NiN, (), (2, 67, 67, 1)),
        "GoogLeNet": (GoogleNet, km.GoogLeNet, (), (2, 32, 32, 1)),
        "ResNet18": (
            lambda: ResNet(((2, 64), (2, 128), (2, 256), (2, 512))),
            km.ResNet18,
            (),
            (2, 32, 32, 1),
        ),
        "DenseNet": (DenseNet, km.DenseNet, (), (2, 32, 32, 1)),
    }


MODELS = ["AlexNet", "VGG", "NiN", "GoogLeNet", "ResNet18", "DenseNet"]


@pytest.fixture(scope="module")
def book(keras):
    return _keras_models(keras)


def _build(book, name):
    make_keras, make_ours, args, shape = book[name]
    theirs = make_keras(*args) if args else make_keras()
    ours = make_ours(*args)
    return theirs, ours, shape


@pytest.mark.parametrize("name", MODELS)
def test_model_shapes_per_layer_as_keras(keras, book, name):
    """``for layer in net.layers: X = layer(X); print(X.shape)``, as the book prints them."""
    theirs, ours, shape = _build(book, name)
    X = _x(shape)
    expected = []
    for layer in theirs.net.layers:
        X = layer(X)
        expected.append((type(layer).__name__, tuple(X.shape)))
    rows = ours.layer_summary(shape, file=open(os.devnull, "w"))  # noqa: SIM115
    assert [tuple(s) for _, s in rows] == [s for _, s in expected]


@pytest.mark.parametrize("name", MODELS)
def test_keras_file_loads_into_portconv(be, keras, book, name, tmp_path):
    """Keras writes ``save_weights``; portconv loads the file and gives Keras's logits; then
    portconv writes it back and Keras, loading that into a fresh model, gives them too."""
    theirs, ours, shape = _build(book, name)
    x = _x(shape, seed=1)
    theirs(x)
    _randomise(keras, theirs, seed=2)
    expected = _np(theirs(x, training=False))
    path = tmp_path / "model.weights.h5"
    theirs.save_weights(path)
    porting.load_keras_weights(ours, path)
    ours.eval()
    _close(_ours(be, ours, x), expected, tol=1e-4)

    back = tmp_path / "back.weights.h5"
    porting.save_keras_weights(ours, back)
    fresh, _, _ = _build(book, name)
    fresh(x)
    fresh.load_weights(back)
    _close(_np(fresh(x, training=False)), expected, tol=1e-5)


# -- the file itself: round trips and refusals (h5py alone) ---------------------------------------


def _small(seed=0):
    nn.init.manual_seed(seed)
    return nn.Sequential(
        K.Conv2D(4, 3, padding="same", activation="relu"),
        K.BatchNormalization(),
        K.MaxPool2D(2),
        K.Flatten(),
        K.Dense(3),
    )


def test_round_trip_on_every_backend(be, tmp_path):
    x = _x((2, 6, 6, 2))
    with be.run_context():
        model = _small(0)
        model.train()
        model(be.asarray(x))  # moving statistics away from 0 and 1
        model.eval()
        expected = be.to_numpy(_data(model(be.asarray(x))))
        path = tmp_path / "small.weights.h5"
        porting.save_keras_weights(model, path)
        fresh = porting.load_keras_weights(_small(1), path)  # lazy: built from the file
        _close(be.to_numpy(_data(fresh.eval()(be.asarray(x)))), expected, tol=1e-6)
    with h5py.File(path) as f:
        assert f["layers/conv2d/vars/0"].shape == (3, 3, 2, 4)
        assert f["layers/batch_normalization/vars/3"].shape == (4,)
        assert f["layers/flatten/vars"].attrs["name"] == "flatten"


def test_names_follow_the_structure_keras_saves():
    names = porting.keras_names(_built(km.DenseNet(arch=(1, 1)), (1, 16, 16, 1)))
    assert names["net.0.0.kernel"] == "layers/sequential/layers/sequential/layers/conv2d/vars/0"
    assert (
        names["net.dense_blk1.net.0.bn.moving_variance"]
        == "layers/sequential/layers/dense_block/listLayers/conv_block/bn/vars/3"
    )
    assert names["net.tran_blk1.conv.bias"] == (
        "layers/sequential/layers/transition_block/conv/vars/1"
    )
    assert names["net.dense_blk2.net.0.conv.kernel"] == (
        "layers/sequential/layers/dense_block_1/listLayers/conv_block/conv/vars/0"
    )
    res = porting.keras_names(_built(km.ResNet18(), (1, 16, 16, 1)))
    assert res["net.b3.0.conv3.kernel"] == (
        "layers/sequential/layers/sequential_2/layers/residual/conv3/vars/0"
    )
    assert res["net.last.1.bias"] == "layers/sequential/layers/sequential_5/layers/dense/vars/1"


def _built(model, shape):
    model(np.zeros(shape, np.float32))
    return model


def test_a_wrong_shape_names_the_layer_and_loads_nothing(tmp_path):
    x = _x((1, 6, 6, 2))
    path = tmp_path / "m.weights.h5"
    porting.save_keras_weights(_built(_small(0), x.shape), path)
    with h5py.File(path, "r+") as f:
        del f["layers/dense/vars/0"]
        f["layers/dense/vars/0"] = np.zeros((36, 5), np.float32)
    target = _built(_small(1), x.shape)
    before = {n: np.array(_data(v)) for n, v in target.state_dict().items()}
    with pytest.raises(
        ArgumentError, match=r"layers/dense/vars/0 of shape \(36, 5\).*4\.kernel.*\(36, 3\)"
    ):
        porting.load_keras_weights(target, path)
    after = {n: np.asarray(_data(v)) for n, v in target.state_dict().items()}
    for n, v in before.items():
        np.testing.assert_array_equal(after[n], v)  # the conv and batch norm untouched too


def test_missing_and_extra_layers_are_refused(tmp_path):
    path = tmp_path / "m.weights.h5"
    porting.save_keras_weights(_built(_small(0), (1, 6, 6, 2)), path)
    fewer = nn.Sequential(K.Conv2D(4, 3, padding="same", activation="relu"))
    with pytest.raises(
        ArgumentError, match="no layer for: layers/batch_normalization, layers/dense"
    ):
        porting.load_keras_weights(fewer, path)
    more = nn.Sequential(K.Conv2D(4, 3), K.Conv2D(4, 3))
    with pytest.raises(ArgumentError, match=r"no weights for 1 \(Conv2D\) at layers/conv2d_1/vars"):
        porting.load_keras_weights(more, path)


def test_bad_paths_and_models_are_refused(tmp_path):
    model = _built(_small(0), (1, 6, 6, 2))
    with pytest.raises(ArgumentError, match=r"named '\*\.weights\.h5'"):
        porting.save_keras_weights(model, tmp_path / "m.h5")
    with pytest.raises(ArgumentError, match="no parameters yet"):
        porting.save_keras_weights(_small(0), tmp_path / "m.weights.h5")
    with pytest.raises(MissingFileError):
        porting.load_keras_weights(model, tmp_path / "absent.weights.h5")
    junk = tmp_path / "junk.weights.h5"
    junk.write_bytes(b"not an HDF5 file")
    with pytest.raises(FileFormatError, match="not a readable HDF5 file"):
        porting.load_keras_weights(model, junk)
    torch_style = nn.Sequential(nn.LazyConv2d(2, 3))
    torch_style(np.zeros((1, 1, 4, 4), np.float32))
    with pytest.raises(ArgumentError, match="not one of portconv.nn.keras's"):
        porting.save_keras_weights(torch_style, tmp_path / "t.weights.h5")
    assert not any(p.name.endswith(".tmp") for p in tmp_path.iterdir())


def test_without_h5py_the_error_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ImportError, match=r'pip install "portconv\[keras\]"'):
        porting.save_keras_weights(_built(_small(0), (1, 6, 6, 2)), tmp_path / "m.weights.h5")


def _legacy_file(path, model) -> None:
    """The Keras 2 / tf.keras ``save_weights("x.h5")`` layout, written by hand: the top-level
    layers' names, and per layer its weights' names, trainable ones first."""
    with h5py.File(path, "w") as f:
        names = []
        for i, (_, top) in enumerate(model.children()):
            lname = f"layer{i}"
            names.append(lname)
            g = f.create_group(lname)
            trainable, stats = [], []
            for prefix, _, m, locals_ in porting._keras_layers(top):
                for local in locals_:
                    value = np.asarray(_data(getattr(m, local)))
                    entry = (f"{lname}/{prefix}{local}:0".replace(".", "_"), value)
                    (trainable if local in m._params else stats).append(entry)
            for wname, value in trainable + stats:
                g[wname] = value
            g.attrs["weight_names"] = [w.encode() for w, _ in trainable + stats]
        f.attrs["layer_names"] = [n.encode() for n in names]


def test_legacy_layout_is_read_by_order(be, tmp_path):
    x = _x((2, 6, 6, 2))
    model = nn.Sequential(
        nn.Sequential(K.Conv2D(4, 3, padding="same"), K.BatchNormalization()),
        K.Flatten(),
        K.Dense(3),
    )
    model.train()
    model(x)
    model.eval()
    expected = _np(model(x))
    path = tmp_path / "legacy.h5"
    _legacy_file(path, model)
    fresh = nn.Sequential(
        nn.Sequential(K.Conv2D(4, 3, padding="same"), K.BatchNormalization()),
        K.Flatten(),
        K.Dense(3),
    )
    porting.load_keras_weights(fresh, path)
    _close(_ours(be, fresh.eval(), x), expected, tol=1e-6)
    with pytest.raises(ArgumentError, match="holds 2 top-level layers with weights"):
        porting.load_keras_weights(nn.Sequential(K.Dense(3)), path)


def test_legacy_layout_written_by_keras(keras, tmp_path):
    """Keras's own writer of the legacy layout (``model.save("x.h5")``: ``model_weights``)."""
    L = keras.layers
    theirs = keras.Sequential(
        [keras.Input((6, 6, 2)), L.Conv2D(4, 3), L.BatchNormalization(), L.Flatten(), L.Dense(3)]
    )
    _randomise(keras, theirs)
    x = _x((2, 6, 6, 2))
    path = tmp_path / "whole.h5"
    theirs.save(path)
    ours = nn.Sequential(K.Conv2D(4, 3), K.BatchNormalization(), K.Flatten(), K.Dense(3))
    porting.load_keras_weights(ours, path)
    _close(_np(ours.eval()(x)), _np(theirs(x, training=False)))
