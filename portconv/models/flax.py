"""The book's JAX-edition CNNs (chapters 7 and 8), written with the channels-last Flax layers
of :mod:`portconv.nn.flax`: LeNet (7.6), AlexNet (8.1), VGG (8.2), NiN (8.3), GoogLeNet (8.4),
ResNet (8.6), DenseNet (8.7) and AnyNet/RegNetX32 (8.8).

Each model follows the JAX edition's code: inputs are ``(N, H, W, C)``, kernels are HWIO and
dense kernels ``(in, out)`` as Flax stores them, padding is Flax's (``'SAME'`` by default,
TensorFlow's rule: an odd extra row or column at the end), batch norms are Flax's
(``epsilon=1e-5``, ``momentum=0.99``), and parameters are created by the first call. Every
module holds its layers under the names Flax gives them (an ``nn.Sequential``'s entry ``i`` is
``layers_i``, a ``setup`` attribute keeps its name, a compact module's layers are
``Conv_0``, ``BatchNorm_0``), so :func:`portconv.nn.flax.variables` gives the tree that
Flax's ``model.apply`` of the book's definition takes, and
:func:`portconv.nn.flax.load_variables` loads what its ``model.init`` returns. The functions
the JAX edition lists in its Sequentials (``nn.relu``, pooling and flattening lambdas) are
layers here, so ``model.layer_summary((1, 224, 224, 1))`` prints the rows the JAX edition
prints (``custom_jvp``, ``function`` included).

Batch norms and dropout follow portconv's mode (``model.train()``/``model.eval()``), where
the JAX edition passes ``training`` to the constructor.
"""

from __future__ import annotations

from typing import Any

from .. import autograd as ag
from .. import nn
from ..autograd import Variable
from ..errors import ArgumentError
from ..nn import Module
from ..nn import flax as F
from ..nn import init as _init
from ._base import Classifier, int_pairs, positive_int, positive_number
from .classic import vgg_arch
from .googlenet import _pair

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
    "LeNet",
    "NiN",
    "RegNetX32",
    "ResNeXtBlock",
    "ResNet",
    "ResNet18",
    "Residual",
    "nin_block",
    "transition_block",
    "vgg_block",
]


def _relu() -> F.Activation:
    return F.Activation("relu")


class LeNet(Classifier):
    """The JAX edition's LeNet (7.6): ``Conv(6, (5, 5), padding='SAME')``, sigmoid, 2 x 2
    average pooling of stride 2, ``Conv(16, (5, 5), padding='VALID')``, sigmoid, pooling,
    flatten, ``Dense`` 120, 84 (sigmoid after each) and ``num_classes``; kernels drawn
    Xavier-uniform as the edition's ``kernel_init`` (zero biases).

    Parameters
    ----------
    num_classes : int, default 10
        Features of the last dense layer.
    lr : float, default 0.1
        Kept as ``self.lr`` (keyword-only).

    Examples
    --------
    >>> from portconv.models import flax as fm
    >>> rows = fm.LeNet().layer_summary((1, 28, 28, 1))
    Conv output shape:	 (1, 28, 28, 6)
    PjitFunction output shape:	 (1, 28, 28, 6)
    function output shape:	 (1, 14, 14, 6)
    Conv output shape:	 (1, 10, 10, 16)
    PjitFunction output shape:	 (1, 10, 10, 16)
    function output shape:	 (1, 5, 5, 16)
    function output shape:	 (1, 400)
    Dense output shape:	 (1, 120)
    PjitFunction output shape:	 (1, 120)
    Dense output shape:	 (1, 84)
    PjitFunction output shape:	 (1, 84)
    Dense output shape:	 (1, 10)
    """

    def __init__(self, num_classes: int = 10, *, lr: float = 0.1) -> None:
        super().__init__(lr=lr)
        self.num_classes = positive_int("num_classes", num_classes)
        self.net = nn.Sequential(
            F.Conv(6, (5, 5), padding="SAME"),
            F.Activation("sigmoid"),
            F.AvgPool((2, 2), strides=(2, 2)),
            F.Conv(16, (5, 5), padding="VALID"),
            F.Activation("sigmoid"),
            F.AvgPool((2, 2), strides=(2, 2)),
            F.Flatten(),
            F.Dense(120),
            F.Activation("sigmoid"),
            F.Dense(84),
            F.Activation("sigmoid"),
            F.Dense(self.num_classes),
        )
        self.initialize((_init.xavier_uniform(), _init.constant(0.0)))


class AlexNet(Classifier):
    """The JAX edition's AlexNet (8.1.2): an 11 x 11 ``Conv`` of 96 features, stride 4 and
    padding 1, a 5 x 5 (256) and three 3 x 3 (384, 384, 256) with Flax's default 'SAME', each
    followed by ReLU; 3 x 3 max pooling of stride 2 after the first, second and fifth; flatten,
    ``Dense`` 4096, ReLU, ``Dropout`` 0.5, ``Dense`` 4096, ReLU, ``Dropout`` 0.5,
    ``Dense`` ``num_classes``.

    Parameters
    ----------
    num_classes : int, default 10
        Features of the last dense layer.
    lr : float, default 0.1
        Kept as ``self.lr`` (keyword-only).

    Examples
    --------
    >>> from portconv.models import flax as fm
    >>> rows = fm.AlexNet().layer_summary((1, 224, 224, 1))  # doctest: +ELLIPSIS
    Conv output shape:	 (1, 54, 54, 96)
    custom_jvp output shape:	 (1, 54, 54, 96)
    function output shape:	 (1, 26, 26, 96)
    ...
    function output shape:	 (1, 6400)
    Dense output shape:	 (1, 4096)
    ...
    Dense output shape:	 (1, 10)
    """

    def __init__(self, num_classes: int = 10, *, lr: float = 0.1) -> None:
        super().__init__(lr=lr)
        self.num_classes = positive_int("num_classes", num_classes)
        self.net = nn.Sequential(
            F.Conv(96, (11, 11), strides=4, padding=1),
            _relu(),
            F.MaxPool((3, 3), strides=(2, 2)),
            F.Conv(256, (5, 5)),
            _relu(),
            F.MaxPool((3, 3), strides=(2, 2)),
            F.Conv(384, (3, 3)),
            _relu(),
            F.Conv(384, (3, 3)),
            _relu(),
            F.Conv(256, (3, 3)),
            _relu(),
            F.MaxPool((3, 3), strides=(2, 2)),
            F.Flatten(),
            F.Dense(4096),
            _relu(),
            F.Dropout(0.5),
            F.Dense(4096),
            _relu(),
            F.Dropout(0.5),
            F.Dense(self.num_classes),
        )


def vgg_block(num_convs: int, out_channels: int) -> nn.Sequential:
    """The JAX edition's VGG block (8.2.1).

    Parameters
    ----------
    num_convs : int
        How many 3 x 3 convolutions (padding ``(1, 1)``, each followed by ReLU).
    out_channels : int
        Features of each convolution.

    Returns
    -------
    portconv.nn.Sequential
        The convolutions and ReLUs, then 2 x 2 max pooling of stride 2.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv.models import flax as fm
    >>> fm.vgg_block(2, 8)(np.zeros((1, 6, 6, 3), np.float32)).shape
    (1, 3, 3, 8)
    """
    num_convs = positive_int("num_convs", num_convs)
    out_channels = positive_int("out_channels", out_channels)
    layers: list[Module] = []
    for _ in range(num_convs):
        layers += [F.Conv(out_channels, (3, 3), padding=(1, 1)), _relu()]
    layers.append(F.MaxPool((2, 2), strides=(2, 2)))
    return nn.Sequential(*layers)


class VGG(Classifier):
    """The JAX edition's VGG (8.2.2): one :func:`vgg_block` per ``(num_convs,
    out_channels)`` of ``arch``, then (in the same Sequential) flatten, ``Dense`` 4096, ReLU,
    ``Dropout`` 0.5, ``Dense`` 4096, ReLU, ``Dropout`` 0.5 and ``Dense`` ``num_classes``.

    Parameters
    ----------
    arch : sequence of (int, int)
        The blocks (the book trains ``((1, 16), (1, 32), (2, 64), (2, 128), (2, 128))``).
    num_classes : int, default 10
        Features of the last dense layer.
    lr : float, default 0.1
        Kept as ``self.lr`` (keyword-only).

    Examples
    --------
    >>> from portconv.models import flax as fm
    >>> arch = ((1, 16), (1, 32), (2, 64), (2, 128), (2, 128))
    >>> rows = fm.VGG(arch).layer_summary((1, 64, 64, 1))  # doctest: +ELLIPSIS
    Sequential output shape:	 (1, 32, 32, 16)
    ...
    Sequential output shape:	 (1, 2, 2, 128)
    function output shape:	 (1, 512)
    Dense output shape:	 (1, 4096)
    custom_jvp output shape:	 (1, 4096)
    Dropout output shape:	 (1, 4096)
    Dense output shape:	 (1, 4096)
    custom_jvp output shape:	 (1, 4096)
    Dropout output shape:	 (1, 4096)
    Dense output shape:	 (1, 10)
    """

    def __init__(self, arch: Any, num_classes: int = 10, *, lr: float = 0.1) -> None:
        super().__init__(lr=lr)
        self.arch = int_pairs("arch", arch)
        self.num_classes = positive_int("num_classes", num_classes)
        self.net = nn.Sequential(
            *(vgg_block(n, c) for n, c in self.arch),
            F.Flatten(),
            F.Dense(4096),
            _relu(),
            F.Dropout(0.5),
            F.Dense(4096),
            _relu(),
            F.Dropout(0.5),
            F.Dense(self.num_classes),
        )


class VGG11(VGG):
    """VGG-11, ``VGG(((1, 64), (1, 128), (2, 256), (2, 512), (2, 512)))``, or with ``ratio``
    every block's channels divided by ``ratio`` (the book trains ``ratio=4``).

    Parameters
    ----------
    num_classes : int, default 10
        Features of the last dense layer.
    ratio : int, default 1
        Divides every block's channels (which it must divide).
    lr : float, default 0.1
        Kept as ``self.lr`` (keyword-only).

    Examples
    --------
    >>> from portconv.models import flax as fm
    >>> fm.VGG11(ratio=4).arch
    ((1, 16), (1, 32), (2, 64), (2, 128), (2, 128))
    """

    def __init__(self, num_classes: int = 10, ratio: int = 1, *, lr: float = 0.1) -> None:
        super().__init__(vgg_arch("VGG11", ratio), num_classes, lr=lr)


def nin_block(out_channels: int, kernel_size: Any, strides: Any, padding: Any) -> nn.Sequential:
    """The JAX edition's NiN block (8.3.1).

    Parameters
    ----------
    out_channels : int
        Features of each of the three convolutions.
    kernel_size : (int, int)
        The first convolution's window.
    strides : int or (int, int)
        The first convolution's step.
    padding : str, int or sequence
        The first convolution's padding (as :class:`portconv.nn.flax.Conv`).

    Returns
    -------
    portconv.nn.Sequential
        ``Conv``, ReLU, then twice a 1 x 1 ``Conv`` and ReLU.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv.models import flax as fm
    >>> fm.nin_block(4, (3, 3), 1, (1, 1))(np.zeros((1, 5, 5, 2), np.float32)).shape
    (1, 5, 5, 4)
    """
    out_channels = positive_int("out_channels", out_channels)
    return nn.Sequential(
        F.Conv(out_channels, kernel_size, strides, padding),
        _relu(),
        F.Conv(out_channels, (1, 1)),
        _relu(),
        F.Conv(out_channels, (1, 1)),
        _relu(),
    )


class NiN(Classifier):
    """The JAX edition's Network in Network (8.3.2): NiN blocks of 96 (11 x 11, stride 4,
    padding 0), 256 (5 x 5, padding 2) and 384 (3 x 3, padding 1) features, each followed by
    3 x 3 max pooling of stride 2; ``Dropout`` 0.5; a NiN block of ``num_classes`` features;
    5 x 5 average pooling (``nn.avg_pool(x, (5, 5))``: the global pooling of a 224 x 224
    input, whose map is 5 x 5 there) and flatten.

    Parameters
    ----------
    num_classes : int, default 10
        Features of the last NiN block (the logits).
    lr : float, default 0.1
        Kept as ``self.lr`` (keyword-only).

    Examples
    --------
    >>> from portconv.models import flax as fm
    >>> rows = fm.NiN().layer_summary((1, 224, 224, 1))
    Sequential output shape:	 (1, 54, 54, 96)
    function output shape:	 (1, 26, 26, 96)
    Sequential output shape:	 (1, 26, 26, 256)
    function output shape:	 (1, 12, 12, 256)
    Sequential output shape:	 (1, 12, 12, 384)
    function output shape:	 (1, 5, 5, 384)
    Dropout output shape:	 (1, 5, 5, 384)
    Sequential output shape:	 (1, 5, 5, 10)
    function output shape:	 (1, 1, 1, 10)
    function output shape:	 (1, 10)
    """

    def __init__(self, num_classes: int = 10, *, lr: float = 0.1) -> None:
        super().__init__(lr=lr)
        self.num_classes = positive_int("num_classes", num_classes)
        self.net = nn.Sequential(
            nin_block(96, kernel_size=(11, 11), strides=(4, 4), padding=(0, 0)),
            F.MaxPool((3, 3), strides=(2, 2)),
            nin_block(256, kernel_size=(5, 5), strides=(1, 1), padding=(2, 2)),
            F.MaxPool((3, 3), strides=(2, 2)),
            nin_block(384, kernel_size=(3, 3), strides=1, padding=(1, 1)),
            F.MaxPool((3, 3), strides=(2, 2)),
            F.Dropout(0.5),
            nin_block(self.num_classes, kernel_size=(3, 3), strides=1, padding=(1, 1)),
            F.AvgPool((5, 5)),
            F.Flatten(),
        )


class Inception(Module):
    """The JAX edition's Inception block (8.4.1): four branches on channels-last input,
    concatenated on the last axis: a 1 x 1 ``Conv`` ``b1_1`` of ``c1``; ``b2_1`` 1 x 1 of
    ``c2[0]`` then ``b2_2`` 3 x 3 ('same') of ``c2[1]``; ``b3_1`` 1 x 1 of ``c3[0]`` then
    ``b3_2`` 5 x 5 ('same') of ``c3[1]``; ``b4_1`` 3 x 3 max pooling (stride 1, 'same') then
    ``b4_2`` 1 x 1 of ``c4``. Every convolution is followed by ReLU.

    Parameters
    ----------
    c1, c4 : int
        Features of branches 1 and 4.
    c2, c3 : (int, int)
        Features of the two convolutions of branches 2 and 3.

    Shape
    -----
    ``(N, H, W, C)`` -> ``(N, H, W, c1 + c2[1] + c3[1] + c4)``.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv.models import flax as fm
    >>> fm.Inception(2, (2, 3), (1, 2), 1)(np.zeros((1, 5, 5, 4), np.float32)).shape
    (1, 5, 5, 8)
    """

    takes_array = True

    def __init__(self, c1: int, c2: Any, c3: Any, c4: int) -> None:
        super().__init__()
        c1, c4 = positive_int("c1", c1), positive_int("c4", c4)
        c2, c3 = _pair("c2", c2), _pair("c3", c3)
        self.b1_1 = F.Conv(c1, (1, 1))
        self.b2_1 = F.Conv(c2[0], (1, 1))
        self.b2_2 = F.Conv(c2[1], (3, 3), padding="same")
        self.b3_1 = F.Conv(c3[0], (1, 1))
        self.b3_2 = F.Conv(c3[1], (5, 5), padding="same")
        self.b4_1 = F.MaxPool((3, 3), strides=(1, 1), padding="same")
        self.b4_2 = F.Conv(c4, (1, 1))

    def forward(self, x: Any) -> Variable:
        b1 = ag.relu(self.b1_1(x))
        b2 = ag.relu(self.b2_2(ag.relu(self.b2_1(x))))
        b3 = ag.relu(self.b3_2(ag.relu(self.b3_1(x))))
        b4 = ag.relu(self.b4_2(self.b4_1(x)))
        return ag.concat([b1, b2, b3, b4], axis=-1)

    def infer_shape(self, shape: tuple, walk: Any) -> tuple[tuple, int]:
        """The dry run's rule (:mod:`portconv.models.shapes`): the branches' shapes
        concatenated on the features axis."""
        branches = ((self.b1_1,), (self.b2_1, self.b2_2), (self.b3_1, self.b3_2))
        branches += ((self.b4_1, self.b4_2),)
        outs = [_walk_all(b, shape, walk) for b in branches]
        return _concat_shape([o for o, _ in outs]), sum(n for _, n in outs)


class GoogLeNet(Classifier):
    """The JAX edition's GoogLeNet (8.4.2, the book's ``GoogleNet``): ``b1`` ... ``b5`` (a
    7 x 7 ``Conv`` of stride 2; a 1 x 1 and a 3 x 3; 2, 5 and 2 :class:`Inception` blocks;
    3 x 3 max pooling of stride 2, 'same', closing the first four; global average pooling
    and flatten closing the fifth), then ``Dense`` ``num_classes``.

    Parameters
    ----------
    num_classes : int, default 10
        Features of the last dense layer.
    lr : float, default 0.1
        Kept as ``self.lr`` (keyword-only).

    Examples
    --------
    >>> from portconv.models import flax as fm
    >>> rows = fm.GoogLeNet().layer_summary((1, 96, 96, 1))
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
            self.b1(), self.b2(), self.b3(), self.b4(), self.b5(), F.Dense(self.num_classes)
        )

    def b1(self) -> nn.Sequential:
        return nn.Sequential(
            F.Conv(64, (7, 7), strides=(2, 2), padding="same"),
            _relu(),
            F.MaxPool((3, 3), strides=(2, 2), padding="same"),
        )

    def b2(self) -> nn.Sequential:
        return nn.Sequential(
            F.Conv(64, (1, 1)),
            _relu(),
            F.Conv(192, (3, 3), padding="same"),
            _relu(),
            F.MaxPool((3, 3), strides=(2, 2), padding="same"),
        )

    def b3(self) -> nn.Sequential:
        return nn.Sequential(
            Inception(64, (96, 128), (16, 32), 32),
            Inception(128, (128, 192), (32, 96), 64),
            F.MaxPool((3, 3), strides=(2, 2), padding="same"),
        )

    def b4(self) -> nn.Sequential:
        return nn.Sequential(
            Inception(192, (96, 208), (16, 48), 64),
            Inception(160, (112, 224), (24, 64), 64),
            Inception(128, (128, 256), (24, 64), 64),
            Inception(112, (144, 288), (32, 64), 64),
            Inception(256, (160, 320), (32, 128), 128),
            F.MaxPool((3, 3), strides=(2, 2), padding="same"),
        )

    def b5(self) -> nn.Sequential:
        return nn.Sequential(
            Inception(256, (160, 320), (32, 128), 128),
            Inception(384, (192, 384), (48, 128), 128),
            F.GlobalAvgPool(),
            F.Flatten(),
        )


GoogleNet = GoogLeNet


def _shortcut_check(Y: Any, X: Any) -> None:
    """Refuse a residual whose branch and shortcut differ (arrays, or shapes in a dry run)."""
    y, x = (tuple(getattr(a, "shape", a)) for a in (Y, X))
    if y != x:
        raise ArgumentError(
            f"input: the residual branch gives shape {y} but the shortcut {x}; use "
            f"use_1x1conv=True where the channels or the stride change"
        )


def _walk_all(layers: Any, shape: tuple, walk: Any) -> tuple[tuple, int]:
    """A chain of layers' dry run: the last shape and the parameters of all."""
    total = 0
    for layer in layers:
        shape, n = walk(layer, shape)
        total += n
    return shape, total


def _concat_shape(shapes: list) -> tuple:
    """The shape of concatenating ``shapes`` on the last (features) axis."""
    first = shapes[0]
    if any(tuple(s[:-1]) != tuple(first[:-1]) for s in shapes):
        raise ArgumentError(
            f"input: the branches give shapes {shapes}, which differ outside the features axis"
        )
    return tuple(first[:-1]) + (sum(s[-1] for s in shapes),)


class Residual(Module):
    """The JAX edition's residual block (8.6.2): ``relu(bn2(conv2(relu(bn1(conv1(X))))) +
    shortcut(X))``, with 3 x 3 ``Conv`` ``conv1`` (stride ``strides``) and ``conv2`` of
    ``num_channels`` ('same'), Flax ``BatchNorm`` ``bn1``/``bn2``, and as shortcut ``X`` or
    with ``use_1x1conv`` a 1 x 1 ``Conv`` ``conv3`` of stride ``strides``.

    Parameters
    ----------
    num_channels : int
        Features of every convolution.
    use_1x1conv : bool, default False
        Give the shortcut a 1 x 1 convolution.
    strides : int or (int, int), default 1
        Step of ``conv1`` and ``conv3``.

    Raises
    ------
    ArgumentError
        On a call whose branch and shortcut shapes differ.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv.models import flax as fm
    >>> fm.Residual(6, use_1x1conv=True, strides=(2, 2))(np.zeros((4, 6, 6, 3))).shape
    (4, 3, 3, 6)
    """

    takes_array = True

    def __init__(self, num_channels: int, use_1x1conv: bool = False, strides: Any = 1) -> None:
        super().__init__()
        num_channels = positive_int("num_channels", num_channels)
        self.conv1 = F.Conv(num_channels, (3, 3), padding="same", strides=strides)
        self.conv2 = F.Conv(num_channels, (3, 3), padding="same")
        self.conv3 = F.Conv(num_channels, (1, 1), strides=strides) if use_1x1conv else None
        self.bn1 = F.BatchNorm()
        self.bn2 = F.BatchNorm()

    def forward(self, X: Any) -> Variable:
        Y = ag.relu(self.bn1(self.conv1(X)))
        Y = self.bn2(self.conv2(Y))
        if self.conv3 is not None:
            X = self.conv3(X)
        _shortcut_check(Y, X)
        return ag.relu(ag.add(Y, X))

    def infer_shape(self, shape: tuple, walk: Any) -> tuple[tuple, int]:
        """The dry run's rule: the branch's shape, which the shortcut's must equal."""
        y, total = _walk_all((self.conv1, self.bn1, self.conv2, self.bn2), shape, walk)
        x, n = (shape, 0) if self.conv3 is None else walk(self.conv3, shape)
        _shortcut_check(y, x)
        return y, total + n


class ResNet(Classifier):
    """The JAX edition's ResNet (8.6.3): ``net`` is a Sequential of ``b1`` (a 7 x 7 ``Conv``
    of 64, stride 2, 'same'; ``BatchNorm``; ReLU; 3 x 3 max pooling of stride 2, 'same'),
    one Sequential of :class:`Residual` blocks per ``(num_residuals, num_channels)`` of
    ``arch`` (the first block of every module but the first halves height and width through
    a 1 x 1 shortcut), and a last Sequential of global average pooling, flatten and
    ``Dense`` ``num_classes``.

    Parameters
    ----------
    arch : sequence of (int, int)
        The modules; ``arch[0]`` keeps ``b1``'s 64 channels, so it is ``(n, 64)``.
    num_classes : int, default 10
        Features of the last dense layer.
    lr : float, default 0.1
        Kept as ``self.lr`` (keyword-only).

    Examples
    --------
    >>> from portconv.models import flax as fm
    >>> rows = fm.ResNet18().layer_summary((1, 96, 96, 1))
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
            self.net.add(self.block(*b, first_block=(i == 0)))
        self.net.add(nn.Sequential(F.GlobalAvgPool(), F.Flatten(), F.Dense(self.num_classes)))

    def b1(self) -> nn.Sequential:
        return nn.Sequential(
            F.Conv(64, (7, 7), strides=(2, 2), padding="same"),
            F.BatchNorm(),
            _relu(),
            F.MaxPool((3, 3), strides=(2, 2), padding="same"),
        )

    def block(
        self, num_residuals: int, num_channels: int, first_block: bool = False
    ) -> nn.Sequential:
        blk = []
        for i in range(num_residuals):
            if i == 0 and not first_block:
                blk.append(Residual(num_channels, use_1x1conv=True, strides=(2, 2)))
            else:
                blk.append(Residual(num_channels))
        return nn.Sequential(*blk)


class ResNet18(ResNet):
    """ResNet-18: ``ResNet(((2, 64), (2, 128), (2, 256), (2, 512)))``, as the JAX edition's
    ``ResNet18``.

    Parameters
    ----------
    num_classes : int, default 10
        Features of the last dense layer.
    lr : float, default 0.1
        Kept as ``self.lr`` (keyword-only).

    Examples
    --------
    >>> from portconv.models import flax as fm
    >>> fm.ResNet18().arch
    ((2, 64), (2, 128), (2, 256), (2, 512))
    """

    def __init__(self, num_classes: int = 10, *, lr: float = 0.1) -> None:
        super().__init__(((2, 64), (2, 128), (2, 256), (2, 512)), num_classes, lr=lr)


class ConvBlock(Module):
    """The JAX edition's DenseNet convolution block (8.7.2), a compact Flax module:
    ``BatchNorm_0``, ReLU and a 3 x 3 ``Conv_0`` of ``num_channels`` (padding ``(1, 1)``),
    whose output is concatenated to the input on the last axis.

    Parameters
    ----------
    num_channels : int
        Features of the convolution (the growth rate).

    Shape
    -----
    ``(N, H, W, C)`` -> ``(N, H, W, C + num_channels)``.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv.models import flax as fm
    >>> fm.ConvBlock(5)(np.zeros((2, 4, 4, 3))).shape
    (2, 4, 4, 8)
    """

    takes_array = True

    def __init__(self, num_channels: int) -> None:
        super().__init__()
        num_channels = positive_int("num_channels", num_channels)
        self.BatchNorm_0 = F.BatchNorm()  # Flax's auto-names inside an @nn.compact __call__
        self.Conv_0 = F.Conv(num_channels, (3, 3), padding=(1, 1))

    def forward(self, X: Any) -> Variable:
        Y = self.Conv_0(ag.relu(self.BatchNorm_0(X)))
        return ag.concat([X, Y], axis=-1)

    def infer_shape(self, shape: tuple, walk: Any) -> tuple[tuple, int]:
        """The dry run's rule: the input and the convolution's output concatenated."""
        y, total = _walk_all((self.BatchNorm_0, self.Conv_0), shape, walk)
        return _concat_shape([shape, y]), total


class DenseBlock(Module):
    """The JAX edition's dense block (8.7.2): ``net``, a Sequential of ``num_convs``
    :class:`ConvBlock` s of ``num_channels`` features, each fed the previous one's output.

    Parameters
    ----------
    num_convs : int
        How many convolution blocks.
    num_channels : int
        The growth rate.

    Shape
    -----
    ``(N, H, W, C)`` -> ``(N, H, W, C + num_convs * num_channels)``.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv.models import flax as fm
    >>> fm.DenseBlock(2, 10)(np.zeros((4, 8, 8, 3))).shape
    (4, 8, 8, 23)
    """

    takes_array = True

    def __init__(self, num_convs: int, num_channels: int) -> None:
        super().__init__()
        num_convs = positive_int("num_convs", num_convs)
        self.net = nn.Sequential(*(ConvBlock(num_channels) for _ in range(num_convs)))

    def forward(self, X: Any) -> Variable:
        return self.net(X)

    def infer_shape(self, shape: tuple, walk: Any) -> tuple[tuple, int]:
        """The dry run's rule: the convolution blocks in turn, as the forward runs them."""
        return walk(self.net, shape)


def transition_block(num_channels: int) -> nn.Sequential:
    """The JAX edition's transition layer (8.7.3): ``BatchNorm``, ReLU, a 1 x 1 ``Conv`` of
    ``num_channels`` and 2 x 2 average pooling of stride 2.

    Parameters
    ----------
    num_channels : int
        Features of the 1 x 1 convolution.

    Returns
    -------
    portconv.nn.Sequential
        ``(N, H, W, C)`` -> ``(N, H // 2, W // 2, num_channels)``.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv.models import flax as fm
    >>> fm.transition_block(10)(np.zeros((4, 8, 8, 23))).shape
    (4, 4, 4, 10)
    """
    num_channels = positive_int("num_channels", num_channels)
    return nn.Sequential(
        F.BatchNorm(), _relu(), F.Conv(num_channels, (1, 1)), F.AvgPool((2, 2), strides=(2, 2))
    )


class DenseNet(Classifier):
    """The JAX edition's DenseNet (8.7.4): one flat Sequential, as the edition extends
    ``b1``'s layer list: a 7 x 7 ``Conv`` of ``num_channels`` (stride 2, 'same'),
    ``BatchNorm``, ReLU, 3 x 3 max pooling (stride 2, 'same'); per entry of ``arch`` a
    :class:`DenseBlock` of ``growth_rate`` features and, between dense blocks, a
    :func:`transition_block` halving the channels; then ``BatchNorm``, ReLU, global average
    pooling, flatten and ``Dense`` ``num_classes``.

    Parameters
    ----------
    num_channels : int, default 64
        Features of the first convolution.
    growth_rate : int, default 32
        Features of every convolution block.
    arch : sequence of int, default (4, 4, 4, 4)
        Convolution blocks per dense block.
    num_classes : int, default 10
        Features of the last dense layer.
    lr : float, default 0.1
        Kept as ``self.lr`` (keyword-only).

    Examples
    --------
    >>> from portconv.models import flax as fm
    >>> rows = fm.DenseNet().layer_summary((1, 96, 96, 1))  # doctest: +ELLIPSIS
    Conv output shape:	 (1, 48, 48, 64)
    BatchNorm output shape:	 (1, 48, 48, 64)
    custom_jvp output shape:	 (1, 48, 48, 64)
    function output shape:	 (1, 24, 24, 64)
    DenseBlock output shape:	 (1, 24, 24, 192)
    Sequential output shape:	 (1, 12, 12, 96)
    ...
    DenseBlock output shape:	 (1, 3, 3, 248)
    BatchNorm output shape:	 (1, 3, 3, 248)
    custom_jvp output shape:	 (1, 3, 3, 248)
    function output shape:	 (1, 1, 1, 248)
    function output shape:	 (1, 248)
    Dense output shape:	 (1, 10)
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
        self.net = self.b1(num_channels)
        for i, num_convs in enumerate(self.arch):
            self.net.add(DenseBlock(num_convs, self.growth_rate))
            num_channels += num_convs * self.growth_rate
            if i != len(self.arch) - 1:  # a transition halves the channels between blocks
                num_channels //= 2
                self.net.add(transition_block(num_channels))
        self.net.add(
            F.BatchNorm(), _relu(), F.GlobalAvgPool(), F.Flatten(), F.Dense(self.num_classes)
        )

    def b1(self, num_channels: int = 64) -> nn.Sequential:
        return nn.Sequential(
            F.Conv(num_channels, (7, 7), strides=(2, 2), padding="same"),
            F.BatchNorm(),
            _relu(),
            F.MaxPool((3, 3), strides=(2, 2), padding="same"),
        )


class ResNeXtBlock(Module):
    """The JAX edition's ResNeXt block (8.6.5): ``conv1`` 1 x 1 to ``round(num_channels *
    bot_mul)`` bottleneck features, ``conv2`` 3 x 3 ('same', stride ``strides``) with
    ``bottleneck // groups`` feature groups (``groups`` is the group width, as in the book),
    ``conv3`` 1 x 1 back to ``num_channels``, each with ``BatchNorm`` (``bn1``..``bn3``; ReLU
    after the first two), added to the shortcut (``X``, or with ``use_1x1conv`` ``conv4`` 1 x 1
    of stride ``strides`` and ``bn4``) before a last ReLU.

    Parameters
    ----------
    num_channels : int
        Output features.
    groups : int
        The group width.
    bot_mul : float
        The bottleneck multiplier.
    use_1x1conv : bool, default False
        Give the shortcut a 1 x 1 convolution and batch norm.
    strides : int or (int, int), default 1
        Step of ``conv2`` and ``conv4``.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv.models import flax as fm
    >>> blk = fm.ResNeXtBlock(32, 16, 1, use_1x1conv=True, strides=(2, 2))
    >>> blk(np.zeros((1, 8, 8, 16))).shape, tuple(blk.conv2.kernel.shape)
    ((1, 4, 4, 32), (3, 3, 16, 32))
    """

    takes_array = True

    def __init__(
        self,
        num_channels: int,
        groups: int,
        bot_mul: float,
        use_1x1conv: bool = False,
        strides: Any = 1,
    ) -> None:
        super().__init__()
        num_channels = positive_int("num_channels", num_channels)
        groups = positive_int("groups", groups)
        bot = int(round(num_channels * positive_number("bot_mul", bot_mul)))
        if bot < groups or bot % groups:
            raise ArgumentError(
                f"groups: the {bot} bottleneck channels (num_channels * bot_mul) must be a "
                f"multiple of the group width groups={groups}"
            )
        self.conv1 = F.Conv(bot, (1, 1), strides=(1, 1))
        self.conv2 = F.Conv(
            bot, (3, 3), strides=strides, padding="same", feature_group_count=bot // groups
        )
        self.conv3 = F.Conv(num_channels, (1, 1), strides=(1, 1))
        self.bn1 = F.BatchNorm()
        self.bn2 = F.BatchNorm()
        self.bn3 = F.BatchNorm()
        if use_1x1conv:
            self.conv4 = F.Conv(num_channels, (1, 1), strides=strides)
            self.bn4 = F.BatchNorm()
        else:
            self.conv4 = None
            self.bn4 = None

    def forward(self, X: Any) -> Variable:
        Y = ag.relu(self.bn1(self.conv1(X)))
        Y = ag.relu(self.bn2(self.conv2(Y)))
        Y = self.bn3(self.conv3(Y))
        if self.conv4 is not None:
            X = self.bn4(self.conv4(X))
        _shortcut_check(Y, X)
        return ag.relu(ag.add(Y, X))

    def infer_shape(self, shape: tuple, walk: Any) -> tuple[tuple, int]:
        """The dry run's rule: the branch's shape, which the shortcut's must equal."""
        branch = (self.conv1, self.bn1, self.conv2, self.bn2, self.conv3, self.bn3)
        y, total = _walk_all(branch, shape, walk)
        x, n = (shape, 0) if self.conv4 is None else _walk_all((self.conv4, self.bn4), shape, walk)
        _shortcut_check(y, x)
        return y, total + n


class AnyNet(Classifier):
    """The JAX edition's AnyNet (8.8.1): ``net`` is a Sequential of the stem (a 3 x 3
    ``Conv`` of ``stem_channels``, stride 2, padding ``(1, 1)``; ``BatchNorm``; ReLU), one
    Sequential stage per ``(depth, num_channels, groups, bot_mul)`` of ``arch`` (``depth``
    :class:`ResNeXtBlock` s, the first with a 1 x 1 shortcut of stride 2), and a head
    Sequential (global average pooling, flatten, ``Dense`` ``num_classes``).

    Parameters
    ----------
    arch : sequence of (int, int, int, float)
        The stages.
    stem_channels : int
        Features of the stem.
    num_classes : int, default 10
        Features of the last dense layer.
    lr : float, default 0.1
        Kept as ``self.lr`` (keyword-only).

    Examples
    --------
    >>> from portconv.models import flax as fm
    >>> rows = fm.AnyNet(((1, 16, 8, 1),), 8).layer_summary((1, 16, 16, 1))
    Sequential output shape:	 (1, 8, 8, 8)
    Sequential output shape:	 (1, 4, 4, 16)
    Sequential output shape:	 (1, 10)
    """

    def __init__(
        self, arch: Any, stem_channels: int, num_classes: int = 10, *, lr: float = 0.1
    ) -> None:
        super().__init__(lr=lr)
        if isinstance(arch, str | bytes) or not hasattr(arch, "__len__") or not len(arch):
            raise ArgumentError(
                f"arch: expected a non-empty sequence of (depth, num_channels, groups, "
                f"bot_mul), got {arch!r}"
            )
        stages = []
        for i, s in enumerate(arch):
            if isinstance(s, str | bytes) or not hasattr(s, "__len__") or len(s) != 4:
                raise ArgumentError(
                    f"arch[{i}]: expected (depth, num_channels, groups, bot_mul), got {s!r}"
                )
            stages.append(
                (
                    positive_int(f"arch[{i}] depth", s[0]),
                    positive_int(f"arch[{i}] num_channels", s[1]),
                    positive_int(f"arch[{i}] groups", s[2]),
                    positive_number(f"arch[{i}] bot_mul", s[3]),
                )
            )
        self.arch = tuple(stages)
        self.stem_channels = positive_int("stem_channels", stem_channels)
        self.num_classes = positive_int("num_classes", num_classes)
        self.net = nn.Sequential(self.stem(self.stem_channels))
        for s in self.arch:
            self.net.add(self.stage(*s))
        self.net.add(nn.Sequential(F.GlobalAvgPool(), F.Flatten(), F.Dense(self.num_classes)))

    def stem(self, num_channels: int) -> nn.Sequential:
        return nn.Sequential(
            F.Conv(num_channels, (3, 3), strides=(2, 2), padding=(1, 1)), F.BatchNorm(), _relu()
        )

    def stage(self, depth: int, num_channels: int, groups: int, bot_mul: float) -> nn.Sequential:
        blk = []
        for i in range(depth):
            if i == 0:
                blk.append(
                    ResNeXtBlock(num_channels, groups, bot_mul, use_1x1conv=True, strides=(2, 2))
                )
            else:
                blk.append(ResNeXtBlock(num_channels, groups, bot_mul))
        return nn.Sequential(*blk)


class RegNetX32(AnyNet):
    """RegNetX-32MF as the JAX edition builds it (8.8.3): stem of 32 features, stages
    ``(4, 32, 16, 1)`` and ``(6, 80, 16, 1)``.

    Parameters
    ----------
    num_classes : int, default 10
        Features of the last dense layer.
    lr : float, default 0.1
        Kept as ``self.lr`` (keyword-only).

    Examples
    --------
    >>> from portconv.models import flax as fm
    >>> rows = fm.RegNetX32().layer_summary((1, 96, 96, 1))
    Sequential output shape:	 (1, 48, 48, 32)
    Sequential output shape:	 (1, 24, 24, 32)
    Sequential output shape:	 (1, 12, 12, 80)
    Sequential output shape:	 (1, 10)
    """

    def __init__(self, num_classes: int = 10, *, lr: float = 0.1) -> None:
        super().__init__(((4, 32, 16, 1), (6, 80, 16, 1)), 32, num_classes, lr=lr)
