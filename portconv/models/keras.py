"""The book's TensorFlow-edition CNNs (chapter 8), written with the channels-last Keras layers
of :mod:`portconv.nn.keras`: AlexNet (8.1), VGG (8.2), NiN (8.3), GoogLeNet (8.4),
ResNet and ResNeXt (8.6), DenseNet (8.7) and AnyNet/RegNetX (8.8).

Each model follows the TensorFlow edition's code: inputs are ``(N, H, W, C)``, kernels are
stored HWIO and dense kernels ``(in, out)`` as Keras stores them, padding is Keras's
``"valid"``/``"same"`` (TensorFlow's SAME puts an odd extra row or column at the end, where the
PyTorch edition pads symmetrically), batch norms are Keras's (``epsilon=0.001``,
``momentum=0.99``), and parameters are created by the first call. Every model is a
:class:`~portconv.models.Classifier` whose layers are one ``net`` Sequential, so
``model.layer_summary((1, 224, 224, 1))`` prints the rows the TensorFlow edition prints
(a nested ``tf.keras.Sequential`` is one ``Sequential`` row, as there), and
:func:`portconv.models.shape_summary` prints the same rows without computing anything (each
block with a forward of its own has an ``infer_shape`` method for that dry run).
"""

from __future__ import annotations

from typing import Any

from .. import autograd as ag
from .. import nn
from ..autograd import Variable
from ..errors import ArgumentError
from ..nn import Module
from ..nn import keras as K
from ._base import Classifier, int_pairs, positive_int
from .classic import vgg_arch
from .googlenet import _pair
from .regnet import anynet_stages
from .resnet import _same, bottleneck_channels

__all__ = [
    "VGG",
    "VGG11",
    "AlexNet",
    "AnyNet",
    "ConvBlock",
    "DenseBlock",
    "DenseNet",
    "GoogLeNet",
    "GoogleNet",
    "Inception",
    "NiN",
    "RegNetX32",
    "ResNeXtBlock",
    "ResNet",
    "ResNet18",
    "Residual",
    "TransitionBlock",
    "nin_block",
    "vgg_block",
]


class AlexNet(Classifier):
    """The TensorFlow edition's AlexNet (8.1.2).

    An 11 x 11 convolution of stride 4 and no padding (96 filters), a 5 x 5 (256) and three
    3 x 3 convolutions (384, 384, 256) with ``padding="same"``, each with a ReLU; 3 x 3 max
    pooling of stride 2 after the first, second and fifth; then Flatten, Dense 4096 (ReLU),
    Dropout 0.5, Dense 4096 (ReLU), Dropout 0.5 and Dense ``num_classes``.

    Parameters
    ----------
    num_classes : int, default 10
        Units of the last dense layer.
    lr : float, default 0.1
        Kept as ``self.lr`` for a training loop (keyword-only).

    Notes
    -----
    The PyTorch edition pads the first convolution by 1 where this one does not; both give
    54 x 54 on 224 x 224 inputs, and on an input padded by one pixel this model computes what
    :class:`portconv.models.AlexNet` computes on the unpadded one.

    Examples
    --------
    >>> from portconv.models import keras as km
    >>> rows = km.AlexNet().layer_summary((1, 224, 224, 1))  # doctest: +ELLIPSIS
    Conv2D output shape:	 (1, 54, 54, 96)
    MaxPooling2D output shape:	 (1, 26, 26, 96)
    ...
    Flatten output shape:	 (1, 6400)
    ...
    Dense output shape:	 (1, 10)
    """

    def __init__(self, num_classes: int = 10, *, lr: float = 0.1) -> None:
        super().__init__(lr=lr)
        self.num_classes = positive_int("num_classes", num_classes)
        self.net = nn.Sequential(
            K.Conv2D(filters=96, kernel_size=11, strides=4, activation="relu"),
            K.MaxPool2D(pool_size=3, strides=2),
            K.Conv2D(filters=256, kernel_size=5, padding="same", activation="relu"),
            K.MaxPool2D(pool_size=3, strides=2),
            K.Conv2D(filters=384, kernel_size=3, padding="same", activation="relu"),
            K.Conv2D(filters=384, kernel_size=3, padding="same", activation="relu"),
            K.Conv2D(filters=256, kernel_size=3, padding="same", activation="relu"),
            K.MaxPool2D(pool_size=3, strides=2),
            K.Flatten(),
            K.Dense(4096, activation="relu"),
            K.Dropout(0.5),
            K.Dense(4096, activation="relu"),
            K.Dropout(0.5),
            K.Dense(self.num_classes),
        )


def vgg_block(num_convs: int, num_channels: int) -> nn.Sequential:
    """The TensorFlow edition's VGG block (8.2.1).

    Parameters
    ----------
    num_convs : int
        How many 3 x 3 convolutions (``padding="same"``, ReLU).
    num_channels : int
        Filters of each convolution.

    Returns
    -------
    portconv.nn.Sequential
        The convolutions, then 2 x 2 max pooling of stride 2 (halving height and width).

    Examples
    --------
    >>> import numpy as np
    >>> from portconv.models import keras as km
    >>> km.vgg_block(2, 8)(np.zeros((1, 6, 6, 3), np.float32)).shape
    (1, 3, 3, 8)
    """
    num_convs = positive_int("num_convs", num_convs)
    num_channels = positive_int("num_channels", num_channels)
    layers: list[Module] = [
        K.Conv2D(num_channels, kernel_size=3, padding="same", activation="relu")
        for _ in range(num_convs)
    ]
    layers.append(K.MaxPool2D(pool_size=2, strides=2))
    return nn.Sequential(*layers)


class VGG(Classifier):
    """The TensorFlow edition's VGG (8.2.2): one :func:`vgg_block` per ``(num_convs,
    num_channels)`` of ``arch``, then one Sequential of Flatten, Dense 4096 (ReLU), Dropout
    0.5, Dense 4096 (ReLU), Dropout 0.5 and Dense ``num_classes``.

    Parameters
    ----------
    arch : sequence of (int, int)
        The blocks, e.g. ``((1, 64), (1, 128), (2, 256), (2, 512), (2, 512))`` (VGG-11;
        the book trains ``((1, 16), (1, 32), (2, 64), (2, 128), (2, 128))``).
    num_classes : int, default 10
        Units of the last dense layer.
    lr : float, default 0.1
        Kept as ``self.lr`` (keyword-only).

    Examples
    --------
    >>> from portconv.models import keras as km
    >>> arch = ((1, 16), (1, 32), (2, 64), (2, 128), (2, 128))
    >>> rows = km.VGG(arch).layer_summary((1, 64, 64, 1))
    Sequential output shape:	 (1, 32, 32, 16)
    Sequential output shape:	 (1, 16, 16, 32)
    Sequential output shape:	 (1, 8, 8, 64)
    Sequential output shape:	 (1, 4, 4, 128)
    Sequential output shape:	 (1, 2, 2, 128)
    Sequential output shape:	 (1, 10)
    """

    def __init__(self, arch: Any, num_classes: int = 10, *, lr: float = 0.1) -> None:
        super().__init__(lr=lr)
        self.arch = int_pairs("arch", arch)
        self.num_classes = positive_int("num_classes", num_classes)
        self.net = nn.Sequential(
            *(vgg_block(n, c) for n, c in self.arch),
            nn.Sequential(
                K.Flatten(),
                K.Dense(4096, activation="relu"),
                K.Dropout(0.5),
                K.Dense(4096, activation="relu"),
                K.Dropout(0.5),
                K.Dense(self.num_classes),
            ),
        )


class VGG11(VGG):
    """VGG-11: ``VGG(((1, 64), (1, 128), (2, 256), (2, 512), (2, 512)))``, the TensorFlow
    edition's ``VGG(arch=((1, 64), (1, 128), (2, 256), (2, 512), (2, 512)))``, or with
    ``ratio`` the book's narrower variant (every block's channels divided by ``ratio``; the
    book trains ``ratio=4``).

    Parameters
    ----------
    num_classes : int, default 10
        Units of the last dense layer.
    ratio : int, default 1
        Divides every block's channels (which it must divide).
    lr : float, default 0.1
        Kept as ``self.lr`` (keyword-only).

    Examples
    --------
    >>> from portconv.models import keras as km
    >>> km.VGG11(ratio=4).arch
    ((1, 16), (1, 32), (2, 64), (2, 128), (2, 128))
    """

    def __init__(self, num_classes: int = 10, ratio: int = 1, *, lr: float = 0.1) -> None:
        super().__init__(vgg_arch("VGG11", ratio), num_classes, lr=lr)


def nin_block(out_channels: int, kernel_size: Any, strides: Any, padding: str) -> nn.Sequential:
    """The TensorFlow edition's NiN block (8.3.1).

    Parameters
    ----------
    out_channels : int
        Filters of each of the three convolutions.
    kernel_size, strides : int or (int, int)
        The first convolution's window and step.
    padding : {'valid', 'same'}
        The first convolution's padding.

    Returns
    -------
    portconv.nn.Sequential
        ``Conv2D``, ``Activation('relu')``, then twice a 1 x 1 ``Conv2D`` and
        ``Activation('relu')`` (the per-pixel MLP).

    Examples
    --------
    >>> import numpy as np
    >>> from portconv.models import keras as km
    >>> km.nin_block(4, 3, 1, "same")(np.zeros((1, 5, 5, 2), np.float32)).shape
    (1, 5, 5, 4)
    """
    out_channels = positive_int("out_channels", out_channels)
    return nn.Sequential(
        K.Conv2D(out_channels, kernel_size, strides=strides, padding=padding),
        K.Activation("relu"),
        K.Conv2D(out_channels, 1),
        K.Activation("relu"),
        K.Conv2D(out_channels, 1),
        K.Activation("relu"),
    )


class NiN(Classifier):
    """The TensorFlow edition's Network in Network (8.3.2): NiN blocks of 96 (11 x 11,
    stride 4, 'valid'), 256 (5 x 5, 'same') and 384 (3 x 3, 'same') filters, each followed by
    3 x 3 max pooling of stride 2; Dropout 0.5; a NiN block of ``num_classes`` filters
    (3 x 3, 'same'); GlobalAvgPool2D and Flatten. No dense layer.

    Parameters
    ----------
    num_classes : int, default 10
        Filters of the last NiN block (the logits).
    lr : float, default 0.1
        Kept as ``self.lr`` (keyword-only).

    Examples
    --------
    >>> from portconv.models import keras as km
    >>> rows = km.NiN().layer_summary((1, 224, 224, 1))
    Sequential output shape:	 (1, 54, 54, 96)
    MaxPooling2D output shape:	 (1, 26, 26, 96)
    Sequential output shape:	 (1, 26, 26, 256)
    MaxPooling2D output shape:	 (1, 12, 12, 256)
    Sequential output shape:	 (1, 12, 12, 384)
    MaxPooling2D output shape:	 (1, 5, 5, 384)
    Dropout output shape:	 (1, 5, 5, 384)
    Sequential output shape:	 (1, 5, 5, 10)
    GlobalAveragePooling2D output shape:	 (1, 10)
    Flatten output shape:	 (1, 10)
    """

    def __init__(self, num_classes: int = 10, *, lr: float = 0.1) -> None:
        super().__init__(lr=lr)
        self.num_classes = positive_int("num_classes", num_classes)
        self.net = nn.Sequential(
            nin_block(96, kernel_size=11, strides=4, padding="valid"),
            K.MaxPool2D(pool_size=3, strides=2),
            nin_block(256, kernel_size=5, strides=1, padding="same"),
            K.MaxPool2D(pool_size=3, strides=2),
            nin_block(384, kernel_size=3, strides=1, padding="same"),
            K.MaxPool2D(pool_size=3, strides=2),
            K.Dropout(0.5),
            nin_block(self.num_classes, kernel_size=3, strides=1, padding="same"),
            K.GlobalAvgPool2D(),
            K.Flatten(),
        )


class Inception(Module):
    """The TensorFlow edition's Inception block (8.4.1): four branches on channels-last
    input, concatenated on the last (channels) axis.

    1. a 1 x 1 ``Conv2D`` of ``c1`` filters;
    2. a 1 x 1 ``Conv2D`` of ``c2[0]``, then a 3 x 3 (``padding="same"``) of ``c2[1]``;
    3. a 1 x 1 ``Conv2D`` of ``c3[0]``, then a 5 x 5 (``padding="same"``) of ``c3[1]``;
    4. 3 x 3 max pooling (stride 1, ``padding="same"``), then a 1 x 1 ``Conv2D`` of ``c4``.

    Every convolution has a ReLU.

    Parameters
    ----------
    c1, c4 : int
        Filters of branches 1 and 4.
    c2, c3 : (int, int)
        Filters of the two convolutions of branches 2 and 3.

    Shape
    -----
    ``(N, H, W, C)`` -> ``(N, H, W, c1 + c2[1] + c3[1] + c4)``.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv.models import keras as km
    >>> km.Inception(2, (2, 3), (1, 2), 1)(np.zeros((1, 5, 5, 4), np.float32)).shape
    (1, 5, 5, 8)
    """

    takes_array = True

    def __init__(self, c1: int, c2: Any, c3: Any, c4: int) -> None:
        super().__init__()
        c1, c4 = positive_int("c1", c1), positive_int("c4", c4)
        c2, c3 = _pair("c2", c2), _pair("c3", c3)
        self.b1_1 = K.Conv2D(c1, 1, activation="relu")
        self.b2_1 = K.Conv2D(c2[0], 1, activation="relu")
        self.b2_2 = K.Conv2D(c2[1], 3, padding="same", activation="relu")
        self.b3_1 = K.Conv2D(c3[0], 1, activation="relu")
        self.b3_2 = K.Conv2D(c3[1], 5, padding="same", activation="relu")
        self.b4_1 = K.MaxPool2D(3, 1, padding="same")
        self.b4_2 = K.Conv2D(c4, 1, activation="relu")

    def forward(self, x: Any) -> Variable:
        b1 = self.b1_1(x)
        b2 = self.b2_2(self.b2_1(x))
        b3 = self.b3_2(self.b3_1(x))
        b4 = self.b4_2(self.b4_1(x))
        return K.Concatenate()([b1, b2, b3, b4])  # NHWC: channels are the last axis

    def infer_shape(self, shape: tuple, walk) -> tuple[tuple, int]:
        total, outs = 0, []
        branches = (
            (self.b1_1,),
            (self.b2_1, self.b2_2),
            (self.b3_1, self.b3_2),
            (self.b4_1, self.b4_2),
        )
        for branch in branches:
            y = shape
            for layer in branch:
                y, n = walk(layer, y)
                total += n
            outs.append(y)
        return walk(K.Concatenate(), outs)[0], total


class GoogLeNet(Classifier):
    """The TensorFlow edition's GoogLeNet (8.4.2, the book's ``GoogleNet``): modules
    ``b1`` ... ``b5`` (a 7 x 7 convolution of stride 2; a 1 x 1 and a 3 x 3 convolution;
    2, 5 and 2 :class:`Inception` blocks; 3 x 3 max pooling of stride 2, ``padding="same"``,
    closing the first four; GlobalAvgPool2D and Flatten closing the fifth), then Dense
    ``num_classes``.

    Parameters
    ----------
    num_classes : int, default 10
        Units of the last dense layer.
    lr : float, default 0.1
        Kept as ``self.lr`` (keyword-only).

    Notes
    -----
    The stride-2 layers pad as TensorFlow's SAME: on an even size the extra row and column
    go at the end, where the PyTorch edition pads both sides. Where every stride-2 layer
    sees an odd size (e.g. 33 x 33 inputs) both editions compute the same values.

    Examples
    --------
    >>> from portconv.models import keras as km
    >>> rows = km.GoogLeNet().layer_summary((1, 96, 96, 1))
    Sequential output shape:	 (1, 24, 24, 64)
    Sequential output shape:	 (1, 12, 12, 192)
    Sequential output shape:	 (1, 6, 6, 480)
    Sequential output shape:	 (1, 3, 3, 832)
    Sequential output shape:	 (1, 1024)
    Dense output shape:	 (1, 10)
    """

    def __init__(self, num_classes: int = 10, *, lr: float = 0.1) -> None:
        super().__init__(lr=lr)
        self.num_classes = positive_int("num_classes", num_classes)
        self.net = nn.Sequential(
            self.b1(), self.b2(), self.b3(), self.b4(), self.b5(), K.Dense(self.num_classes)
        )

    def b1(self) -> nn.Sequential:
        return nn.Sequential(
            K.Conv2D(64, 7, strides=2, padding="same", activation="relu"),
            K.MaxPool2D(pool_size=3, strides=2, padding="same"),
        )

    def b2(self) -> nn.Sequential:
        return nn.Sequential(
            K.Conv2D(64, 1, activation="relu"),
            K.Conv2D(192, 3, padding="same", activation="relu"),
            K.MaxPool2D(pool_size=3, strides=2, padding="same"),
        )

    def b3(self) -> nn.Sequential:
        return nn.Sequential(
            Inception(64, (96, 128), (16, 32), 32),
            Inception(128, (128, 192), (32, 96), 64),
            K.MaxPool2D(pool_size=3, strides=2, padding="same"),
        )

    def b4(self) -> nn.Sequential:
        return nn.Sequential(
            Inception(192, (96, 208), (16, 48), 64),
            Inception(160, (112, 224), (24, 64), 64),
            Inception(128, (128, 256), (24, 64), 64),
            Inception(112, (144, 288), (32, 64), 64),
            Inception(256, (160, 320), (32, 128), 128),
            K.MaxPool2D(pool_size=3, strides=2, padding="same"),
        )

    def b5(self) -> nn.Sequential:
        return nn.Sequential(
            Inception(256, (160, 320), (32, 128), 128),
            Inception(384, (192, 384), (48, 128), 128),
            K.GlobalAvgPool2D(),
            K.Flatten(),
        )


GoogleNet = GoogLeNet


class Residual(Module):
    """The TensorFlow edition's residual block (8.6.2): ``relu(bn2(conv2(relu(bn1(conv1(X)))))
    + shortcut(X))`` on channels-last input.

    ``conv1`` and ``conv2`` are 3 x 3 ``Conv2D`` of ``num_channels`` (``padding="same"``;
    ``conv1`` of stride ``strides``), ``bn1`` and ``bn2`` Keras ``BatchNormalization``. The
    shortcut is ``X``, or with ``use_1x1conv`` a 1 x 1 ``Conv2D`` ``conv3`` of
    ``num_channels`` and stride ``strides``.

    Parameters
    ----------
    num_channels : int
        Filters of every convolution.
    use_1x1conv : bool, default False
        Give the shortcut a 1 x 1 convolution (needed where channels or stride change).
    strides : int, default 1
        Step of ``conv1`` and ``conv3``.

    Raises
    ------
    ArgumentError
        On a call whose branch and shortcut shapes differ (an identity shortcut where the
        channels or the stride change).

    Examples
    --------
    >>> import numpy as np
    >>> from portconv.models import keras as km
    >>> km.Residual(3)(np.zeros((4, 6, 6, 3), np.float32)).shape
    (4, 6, 6, 3)
    >>> km.Residual(6, use_1x1conv=True, strides=2)(np.zeros((4, 6, 6, 3), np.float32)).shape
    (4, 3, 3, 6)
    """

    takes_array = True

    def __init__(self, num_channels: int, use_1x1conv: bool = False, strides: int = 1) -> None:
        super().__init__()
        num_channels = positive_int("num_channels", num_channels)
        strides = positive_int("strides", strides)
        self.conv1 = K.Conv2D(num_channels, kernel_size=3, strides=strides, padding="same")
        self.conv2 = K.Conv2D(num_channels, kernel_size=3, padding="same")
        if use_1x1conv:
            self.conv3 = K.Conv2D(num_channels, kernel_size=1, strides=strides)
        else:
            self.conv3 = None
        self.bn1 = K.BatchNormalization()
        self.bn2 = K.BatchNormalization()

    def forward(self, X: Any) -> Variable:
        Y = ag.relu(self.bn1(self.conv1(X)))
        Y = self.bn2(self.conv2(Y))
        if self.conv3 is not None:
            X = self.conv3(X)
        _same("input", Y.shape, X.shape)  # Add would broadcast a 1-channel shortcut
        return ag.relu(K.Add()([Y, X]))

    def infer_shape(self, shape: tuple, walk) -> tuple[tuple, int]:
        y, total = shape, 0
        for layer in (self.conv1, self.bn1, self.conv2, self.bn2):
            y, n = walk(layer, y)
            total += n
        x = shape
        if self.conv3 is not None:
            x, n = walk(self.conv3, x)
            total += n
        _same("input", y, x)
        return walk(K.Add(), [y, x])[0], total


class ResNet(Classifier):
    """The TensorFlow edition's ResNet (8.6.3): ``net`` is a Sequential of ``b1`` (a 7 x 7
    ``Conv2D`` of 64 filters, stride 2, ``padding="same"``; BatchNormalization;
    Activation('relu'); 3 x 3 max pooling of stride 2, ``padding="same"``), one Sequential of
    :class:`Residual` blocks per ``(num_residuals, num_channels)`` of ``arch`` (the first
    block of every module but the first halves height and width through a 1 x 1 shortcut),
    and a last Sequential of GlobalAvgPool2D and Dense ``num_classes``.

    Parameters
    ----------
    arch : sequence of (int, int)
        The modules; ``arch[0]`` keeps ``b1``'s 64 channels, so it is ``(n, 64)``.
    num_classes : int, default 10
        Units of the last dense layer.
    lr : float, default 0.1
        Kept as ``self.lr`` (keyword-only).

    Notes
    -----
    As in :class:`GoogLeNet`, the stride-2 layers pad as TensorFlow's SAME; where each sees
    an odd size (e.g. 33 x 33 inputs) the values equal :class:`portconv.models.ResNet`'s
    with the same weights and batch-norm epsilon.

    Examples
    --------
    >>> from portconv.models import keras as km
    >>> rows = km.ResNet18().layer_summary((1, 96, 96, 1))
    Sequential output shape:	 (1, 24, 24, 64)
    Sequential output shape:	 (1, 24, 24, 64)
    Sequential output shape:	 (1, 12, 12, 128)
    Sequential output shape:	 (1, 6, 6, 256)
    Sequential output shape:	 (1, 3, 3, 512)
    Sequential output shape:	 (1, 10)
    """

    def __init__(self, arch: Any, num_classes: int = 10, *, lr: float = 0.1) -> None:
        super().__init__(lr=lr)
        self.arch = int_pairs("arch", arch)
        self.num_classes = positive_int("num_classes", num_classes)
        if self.arch[0][1] != 64:
            raise ArgumentError(
                f"arch[0]: the first module keeps b1's 64 channels (its first residual block "
                f"has an identity shortcut), got {self.arch[0][1]} channels"
            )
        self.net = nn.Sequential(self.b1())
        for i, b in enumerate(self.arch):
            self.net.add_module(f"b{i + 2}", self.block(*b, first_block=(i == 0)))
        self.net.add_module(
            "last", nn.Sequential(K.GlobalAvgPool2D(), K.Dense(units=self.num_classes))
        )

    def b1(self) -> nn.Sequential:
        return nn.Sequential(
            K.Conv2D(64, kernel_size=7, strides=2, padding="same"),
            K.BatchNormalization(),
            K.Activation("relu"),
            K.MaxPool2D(pool_size=3, strides=2, padding="same"),
        )

    def block(
        self, num_residuals: int, num_channels: int, first_block: bool = False
    ) -> nn.Sequential:
        blk = []
        for i in range(num_residuals):
            if i == 0 and not first_block:
                blk.append(Residual(num_channels, use_1x1conv=True, strides=2))
            else:
                blk.append(Residual(num_channels))
        return nn.Sequential(*blk)


class ResNet18(ResNet):
    """ResNet-18: ``ResNet(((2, 64), (2, 128), (2, 256), (2, 512)))``, as the TensorFlow
    edition's ``ResNet18``.

    Parameters
    ----------
    num_classes : int, default 10
        Units of the last dense layer.
    lr : float, default 0.1
        Kept as ``self.lr`` (keyword-only).

    Examples
    --------
    >>> from portconv.models import keras as km
    >>> km.ResNet18().arch
    ((2, 64), (2, 128), (2, 256), (2, 512))
    """

    def __init__(self, num_classes: int = 10, *, lr: float = 0.1) -> None:
        super().__init__(((2, 64), (2, 128), (2, 256), (2, 512)), num_classes, lr=lr)


class ConvBlock(Module):
    """The TensorFlow edition's DenseNet convolution block (8.7.2): BatchNormalization,
    ReLU and a 3 x 3 ``Conv2D`` of ``num_channels`` (``padding="same"``), whose output is
    concatenated to the input on the last (channels) axis.

    Parameters
    ----------
    num_channels : int
        Filters of the convolution (the growth rate).

    Shape
    -----
    ``(N, H, W, C)`` -> ``(N, H, W, C + num_channels)``.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv.models import keras as km
    >>> km.ConvBlock(5)(np.zeros((2, 4, 4, 3))).shape
    (2, 4, 4, 8)
    """

    takes_array = True

    def __init__(self, num_channels: int) -> None:
        super().__init__()
        num_channels = positive_int("num_channels", num_channels)
        self.bn = K.BatchNormalization()
        self.relu = K.ReLU()
        self.conv = K.Conv2D(filters=num_channels, kernel_size=(3, 3), padding="same")

    def forward(self, x: Any) -> Variable:
        y = self.conv(self.relu(self.bn(x)))
        return K.concatenate([x, y], axis=-1)

    def infer_shape(self, shape: tuple, walk) -> tuple[tuple, int]:
        y, total = shape, 0
        for layer in (self.bn, self.relu, self.conv):
            y, n = walk(layer, y)
            total += n
        return walk(K.Concatenate(axis=-1), [shape, y])[0], total


class DenseBlock(Module):
    """The TensorFlow edition's dense block (8.7.2): ``num_convs`` :class:`ConvBlock` s of
    ``num_channels`` filters, each fed the previous one's output (which already holds the
    block's input and every earlier output, concatenated on the channels axis).

    Parameters
    ----------
    num_convs : int
        How many convolution blocks.
    num_channels : int
        The growth rate: filters of each block's convolution.

    Shape
    -----
    ``(N, H, W, C)`` -> ``(N, H, W, C + num_convs * num_channels)``.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv.models import keras as km
    >>> km.DenseBlock(2, 10)(np.zeros((4, 8, 8, 3))).shape
    (4, 8, 8, 23)
    """

    takes_array = True

    def __init__(self, num_convs: int, num_channels: int) -> None:
        super().__init__()
        num_convs = positive_int("num_convs", num_convs)
        self.net = nn.Sequential(*(ConvBlock(num_channels) for _ in range(num_convs)))

    def forward(self, x: Any) -> Variable:
        for _, blk in self.net.children():
            x = blk(x)
        return x

    def infer_shape(self, shape: tuple, walk) -> tuple[tuple, int]:
        return walk(self.net, shape)  # each block's output feeds the next, as in forward


class TransitionBlock(Module):
    """The TensorFlow edition's transition layer (8.7.3): BatchNormalization, ReLU, a 1 x 1
    ``Conv2D`` of ``num_channels`` and 2 x 2 average pooling of stride 2.

    Parameters
    ----------
    num_channels : int
        Filters of the 1 x 1 convolution.

    Shape
    -----
    ``(N, H, W, C)`` -> ``(N, H // 2, W // 2, num_channels)``.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv.models import keras as km
    >>> km.TransitionBlock(10)(np.zeros((4, 8, 8, 23))).shape
    (4, 4, 4, 10)
    """

    takes_array = True

    def __init__(self, num_channels: int) -> None:
        super().__init__()
        num_channels = positive_int("num_channels", num_channels)
        self.batch_norm = K.BatchNormalization()
        self.relu = K.ReLU()
        self.conv = K.Conv2D(num_channels, kernel_size=1)
        self.avg_pool = K.AvgPool2D(pool_size=2, strides=2)

    def forward(self, x: Any) -> Variable:
        return self.avg_pool(self.conv(self.relu(self.batch_norm(x))))

    def infer_shape(self, shape: tuple, walk) -> tuple[tuple, int]:
        total = 0
        for layer in (self.batch_norm, self.relu, self.conv, self.avg_pool):
            shape, n = walk(layer, shape)
            total += n
        return shape, total


class DenseNet(Classifier):
    """The TensorFlow edition's DenseNet (8.7.4): ``net`` is a Sequential of ``b1`` (a 7 x 7
    ``Conv2D`` of ``num_channels`` filters, stride 2, ``padding="same"``;
    BatchNormalization; ReLU; 3 x 3 max pooling of stride 2, ``padding="same"``), for each
    entry of ``arch`` a :class:`DenseBlock` of that many convolution blocks of
    ``growth_rate`` filters, a :class:`TransitionBlock` halving the channels between
    consecutive dense blocks, and a last Sequential (BatchNormalization, ReLU,
    GlobalAvgPool2D, Flatten, Dense ``num_classes``).

    Parameters
    ----------
    num_channels : int, default 64
        Filters of ``b1``.
    growth_rate : int, default 32
        Filters of every convolution block.
    arch : sequence of int, default (4, 4, 4, 4)
        Convolution blocks per dense block.
    num_classes : int, default 10
        Units of the last dense layer.
    lr : float, default 0.1
        Kept as ``self.lr`` (keyword-only).

    Examples
    --------
    >>> from portconv.models import keras as km
    >>> rows = km.DenseNet().layer_summary((1, 96, 96, 1))
    Sequential output shape:	 (1, 24, 24, 64)
    DenseBlock output shape:	 (1, 24, 24, 192)
    TransitionBlock output shape:	 (1, 12, 12, 96)
    DenseBlock output shape:	 (1, 12, 12, 224)
    TransitionBlock output shape:	 (1, 6, 6, 112)
    DenseBlock output shape:	 (1, 6, 6, 240)
    TransitionBlock output shape:	 (1, 3, 3, 120)
    DenseBlock output shape:	 (1, 3, 3, 248)
    Sequential output shape:	 (1, 10)
    """

    def __init__(
        self,
        num_channels: int = 64,
        growth_rate: int = 32,
        arch: Any = (4, 4, 4, 4),
        num_classes: int = 10,
        *,
        lr: float = 0.1,
    ) -> None:
        super().__init__(lr=lr)
        num_channels = positive_int("num_channels", num_channels)
        self.growth_rate = positive_int("growth_rate", growth_rate)
        if isinstance(arch, int | str | bytes) or not hasattr(arch, "__iter__") or not len(arch):
            raise ArgumentError(
                f"arch: expected a non-empty sequence of positive ints, got {arch!r}"
            )
        self.arch = tuple(positive_int(f"arch[{i}]", n) for i, n in enumerate(arch))
        self.num_classes = positive_int("num_classes", num_classes)
        self.num_channels = num_channels
        self.net = nn.Sequential(self.b1(num_channels))
        for i, num_convs in enumerate(self.arch):
            self.net.add_module(f"dense_blk{i + 1}", DenseBlock(num_convs, self.growth_rate))
            num_channels += num_convs * self.growth_rate
            if i != len(self.arch) - 1:  # a transition halves the channels between blocks
                num_channels //= 2
                self.net.add_module(f"tran_blk{i + 1}", TransitionBlock(num_channels))
        self.net.add_module(
            "last",
            nn.Sequential(
                K.BatchNormalization(),
                K.ReLU(),
                K.GlobalAvgPool2D(),
                K.Flatten(),
                K.Dense(self.num_classes),
            ),
        )

    def b1(self, num_channels: int = 64) -> nn.Sequential:
        return nn.Sequential(
            K.Conv2D(num_channels, kernel_size=7, strides=2, padding="same"),
            K.BatchNormalization(),
            K.ReLU(),
            K.MaxPool2D(pool_size=3, strides=2, padding="same"),
        )


class ResNeXtBlock(Module):
    """The TensorFlow edition's ResNeXt block (8.6.5), as AnyNet's stages use it: a 1 x 1
    ``Conv2D`` to ``round(num_channels * bot_mul)`` bottleneck channels, a grouped 3 x 3
    ``Conv2D`` (``padding="same"``, stride ``strides``), a 1 x 1 ``Conv2D`` back to
    ``num_channels``, each with ``BatchNormalization`` (ReLU after the first two), added to
    the shortcut (``X``, or with ``use_1x1conv`` a 1 x 1 ``Conv2D`` of stride ``strides``
    with ``BatchNormalization``) before a last ReLU.

    As in the book's code, ``groups`` is the width of each group: the 3 x 3 convolution has
    ``bottleneck_channels // groups`` groups, its kernel HWIO ``(3, 3, groups,
    bottleneck_channels)``.

    Parameters
    ----------
    num_channels : int
        Filters of the last convolution (and of the shortcut's).
    groups : int
        Channels per group of the 3 x 3 convolution (the group width).
    bot_mul : float
        The bottleneck multiplier; ``round(num_channels * bot_mul)`` must be a multiple of
        ``groups``.
    use_1x1conv : bool, default False
        Give the shortcut a 1 x 1 convolution (needed where channels or stride change).
    strides : int, default 1
        Step of the 3 x 3 convolution and the shortcut's.

    Raises
    ------
    ArgumentError
        On bad arguments (named), or on a call whose branch and shortcut shapes differ.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv.models import keras as km
    >>> blk = km.ResNeXtBlock(32, 16, 1, use_1x1conv=True, strides=2)
    >>> blk(np.zeros((2, 9, 9, 8), np.float32)).shape
    (2, 5, 5, 32)
    >>> blk.conv2
    Conv2D(filters=32, kernel_size=(3, 3), strides=(2, 2), padding='same', groups=2)
    """

    takes_array = True

    def __init__(
        self,
        num_channels: int,
        groups: int,
        bot_mul: float,
        use_1x1conv: bool = False,
        strides: int = 1,
    ) -> None:
        super().__init__()
        num_channels = positive_int("num_channels", num_channels)
        groups = positive_int("groups", groups)
        bot_channels = bottleneck_channels(num_channels, groups, bot_mul)
        strides = positive_int("strides", strides)
        self.conv1 = K.Conv2D(bot_channels, 1, strides=1)
        self.conv2 = K.Conv2D(
            bot_channels, 3, strides=strides, padding="same", groups=bot_channels // groups
        )
        self.conv3 = K.Conv2D(num_channels, 1, strides=1)
        self.bn1 = K.BatchNormalization()
        self.bn2 = K.BatchNormalization()
        self.bn3 = K.BatchNormalization()
        if use_1x1conv:
            self.conv4 = K.Conv2D(num_channels, 1, strides=strides)
            self.bn4 = K.BatchNormalization()
        else:
            self.conv4 = None
            self.bn4 = None

    def forward(self, X: Any) -> Variable:
        Y = ag.relu(self.bn1(self.conv1(X)))
        Y = ag.relu(self.bn2(self.conv2(Y)))
        Y = self.bn3(self.conv3(Y))
        if self.conv4 is not None:
            X = self.bn4(self.conv4(X))
        _same("input", Y.shape, X.shape)  # Add would broadcast a 1-channel shortcut
        return ag.relu(K.Add()([Y, X]))

    def infer_shape(self, shape: tuple, walk) -> tuple[tuple, int]:
        y, total = shape, 0
        for layer in (self.conv1, self.bn1, self.conv2, self.bn2, self.conv3, self.bn3):
            y, n = walk(layer, y)
            total += n
        x = shape
        if self.conv4 is not None:
            for layer in (self.conv4, self.bn4):
                x, n = walk(layer, x)
                total += n
        _same("input", y, x)
        return walk(K.Add(), [y, x])[0], total


class AnyNet(Classifier):
    """The TensorFlow edition's AnyNet design space (8.8.1): ``net`` is a Sequential of a
    stem (a 3 x 3 ``Conv2D`` of ``stem_channels`` filters, stride 2, ``padding="same"``;
    BatchNormalization; Activation('relu')), one Sequential per ``(depth, num_channels,
    groups, bot_mul)`` of ``arch`` (``depth`` :class:`ResNeXtBlock` s, the first with a 1 x 1
    shortcut of stride 2, halving height and width) and a head Sequential
    (GlobalAvgPool2D, which flattens, and Dense ``num_classes``).

    Parameters
    ----------
    arch : sequence of (int, int, int, float)
        The stages: ``(depth, num_channels, groups, bot_mul)``, ``groups`` being the group
        width.
    stem_channels : int
        Filters of the stem's convolution.
    num_classes : int, default 10
        Units of the last dense layer.
    lr : float, default 0.1
        Kept as ``self.lr`` (keyword-only).

    Notes
    -----
    As in :class:`GoogLeNet`, the stride-2 convolutions pad as TensorFlow's SAME; where each
    sees an odd size (e.g. 17 x 17 inputs) the values equal
    :class:`portconv.models.AnyNet`'s with the same weights and batch-norm epsilon.

    Examples
    --------
    >>> from portconv.models import keras as km
    >>> rows = km.AnyNet(((1, 8, 4, 0.5), (2, 12, 6, 1)), 6, 3).layer_summary((1, 16, 16, 1))
    Sequential output shape:	 (1, 8, 8, 6)
    Sequential output shape:	 (1, 4, 4, 8)
    Sequential output shape:	 (1, 2, 2, 12)
    Sequential output shape:	 (1, 3)
    """

    def __init__(
        self, arch: Any, stem_channels: int, num_classes: int = 10, *, lr: float = 0.1
    ) -> None:
        super().__init__(lr=lr)
        self.arch = anynet_stages(arch)
        self.stem_channels = positive_int("stem_channels", stem_channels)
        self.num_classes = positive_int("num_classes", num_classes)
        self.net = nn.Sequential(self.stem(self.stem_channels))
        for i, s in enumerate(self.arch):
            self.net.add_module(f"stage{i + 1}", self.stage(*s))
        self.net.add_module(
            "head", nn.Sequential(K.GlobalAvgPool2D(), K.Dense(units=self.num_classes))
        )

    def stem(self, num_channels: int) -> nn.Sequential:
        return nn.Sequential(
            K.Conv2D(num_channels, kernel_size=3, strides=2, padding="same"),
            K.BatchNormalization(),
            K.Activation("relu"),
        )

    def stage(self, depth: int, num_channels: int, groups: int, bot_mul: float) -> nn.Sequential:
        blk = []
        for i in range(depth):
            if i == 0:
                blk.append(ResNeXtBlock(num_channels, groups, bot_mul, use_1x1conv=True, strides=2))
            else:
                blk.append(ResNeXtBlock(num_channels, groups, bot_mul))
        return nn.Sequential(*blk)


class RegNetX32(AnyNet):
    """RegNetX-32MF as the TensorFlow edition builds it (8.8.3): a stem of 32 filters, two
    stages of depth 4 and 6 with 32 and 80 channels, group width 16, bottleneck multiplier 1.

    Parameters
    ----------
    num_classes : int, default 10
        Units of the last dense layer.
    lr : float, default 0.1
        Kept as ``self.lr`` (keyword-only).

    Examples
    --------
    >>> from portconv.models import keras as km
    >>> rows = km.RegNetX32().layer_summary((1, 96, 96, 1))
    Sequential output shape:	 (1, 48, 48, 32)
    Sequential output shape:	 (1, 24, 24, 32)
    Sequential output shape:	 (1, 12, 12, 80)
    Sequential output shape:	 (1, 10)
    """

    def __init__(self, num_classes: int = 10, *, lr: float = 0.1) -> None:
        stem_channels, groups, bot_mul = 32, 16, 1
        depths, channels = (4, 6), (32, 80)
        super().__init__(
            (
                (depths[0], channels[0], groups, bot_mul),
                (depths[1], channels[1], groups, bot_mul),
            ),
            stem_channels,
            num_classes,
            lr=lr,
        )
