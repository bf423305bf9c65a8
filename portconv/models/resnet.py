"""ResNet and ResNeXt (8.6)."""

from __future__ import annotations

from typing import Any

from .. import autograd as ag
from .. import nn
from ..autograd import Variable
from ..errors import ArgumentError
from ..nn import Module
from ._base import Classifier, check_layout, int_pairs, positive_int, positive_number


def _same(block: str, y: tuple, x: tuple) -> None:
    if tuple(y) != tuple(x):
        raise ArgumentError(
            f"{block}: the residual branch gives shape {tuple(y)} but the shortcut {tuple(x)}; "
            f"use use_1x1conv=True where the channels or the stride change"
        )


class Residual(Module):
    """The residual block (8.6.2): ``relu(bn2(conv2(relu(bn1(conv1(X))))) + shortcut(X))``.

    ``conv1`` and ``conv2`` are 3 x 3 convolutions of ``num_channels`` (padding 1; ``conv1``
    of stride ``strides``). The shortcut is ``X`` itself, or with ``use_1x1conv`` a 1 x 1
    convolution ``conv3`` of ``num_channels`` and stride ``strides`` (no batch norm on it, as
    in the book). ``Residual(3)`` keeps a (4, 3, 6, 6) input's shape;
    ``Residual(6, use_1x1conv=True, strides=2)`` makes it (4, 6, 3, 3). ``layout`` as the
    models take it."""

    def __init__(
        self,
        num_channels: int,
        use_1x1conv: bool = False,
        strides: int = 1,
        *,
        layout: str = "channels_first",
    ) -> None:
        super().__init__()
        layout = check_layout(layout)
        num_channels = positive_int("num_channels", num_channels)
        strides = positive_int("strides", strides)
        self.conv1 = nn.LazyConv2d(
            num_channels, kernel_size=3, padding=1, stride=strides, layout=layout
        )
        self.conv2 = nn.LazyConv2d(num_channels, kernel_size=3, padding=1, layout=layout)
        if use_1x1conv:
            self.conv3 = nn.LazyConv2d(num_channels, kernel_size=1, stride=strides, layout=layout)
        else:
            self.conv3 = None
        self.bn1 = nn.LazyBatchNorm2d(layout=layout)
        self.bn2 = nn.LazyBatchNorm2d(layout=layout)

    def forward(self, X: Any) -> Variable:
        Y = ag.relu(nn.fused(self.conv1, self.bn1, X))
        Y = nn.fused(self.conv2, self.bn2, Y)
        if self.conv3 is not None:
            X = self.conv3(X)
        return ag.relu(ag.add(Y, X))

    def infer_shape(self, shape: tuple, walk) -> tuple[tuple, int]:
        total = 0
        y = shape
        for layer in (self.conv1, self.bn1, self.conv2, self.bn2):
            y, n = walk(layer, y)
            total += n
        x = shape
        if self.conv3 is not None:
            x, n = walk(self.conv3, x)
            total += n
        _same("Residual", y, x)
        return y, total


class ResNet(Classifier):
    """ResNet (8.6.3): ``net`` is a Sequential of ``b1`` (a 7 x 7 convolution of 64 channels
    and stride 2, batch norm, ReLU, 3 x 3 max pooling of stride 2), one module ``b2``, ``b3``,
    ... per ``(num_residuals, num_channels)`` of ``arch`` (the first residual block of every
    module but the first halves height and width through a 1 x 1 convolution shortcut), and
    ``last`` (global average pooling, flatten, a dense layer of ``num_classes`` units).
    The first module's blocks keep ``b1``'s 64 channels, so ``arch[0]`` is ``(n, 64)``.

    Parameter count. The book's convolutions keep PyTorch's default bias and its 1 x 1
    shortcut has no batch norm, where torchvision's ``resnet18`` has convolutions without bias
    and a batch norm on each downsampling shortcut. So ResNet-18 on 224 x 224 x 3 inputs with
    1000 classes has 11,692,520 parameters here (and in a ``torch.nn`` re-implementation of the
    book's structure): torchvision's 11,689,512, plus 4,800 convolution biases, minus the
    1,792 parameters of the three shortcut batch norms.
    """

    def __init__(
        self,
        arch: Any,
        num_classes: int = 10,
        *,
        lr: float = 0.1,
        init: Any = None,
        layout: str = "channels_first",
    ) -> None:
        super().__init__(lr=lr, layout=layout)
        layout = self.layout
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
            "last",
            nn.Sequential(
                nn.AdaptiveAvgPool2d((1, 1), layout=layout),
                nn.Flatten(layout=layout),
                nn.LazyLinear(self.num_classes),
            ),
        )
        self._finish(init)

    def b1(self) -> nn.Sequential:
        layout = self.layout
        return nn.Sequential(
            nn.LazyConv2d(64, kernel_size=7, stride=2, padding=3, layout=layout),
            nn.LazyBatchNorm2d(layout=layout),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1, layout=layout),
        )

    def block(
        self, num_residuals: int, num_channels: int, first_block: bool = False
    ) -> nn.Sequential:
        blk = []
        for i in range(num_residuals):
            if i == 0 and not first_block:
                blk.append(Residual(num_channels, use_1x1conv=True, strides=2, layout=self.layout))
            else:
                blk.append(Residual(num_channels, layout=self.layout))
        return nn.Sequential(*blk)


class ResNet18(ResNet):
    """ResNet-18: ``ResNet(((2, 64), (2, 128), (2, 256), (2, 512)))``."""

    def __init__(
        self,
        num_classes: int = 10,
        *,
        lr: float = 0.1,
        init: Any = None,
        layout: str = "channels_first",
    ) -> None:
        arch = ((2, 64), (2, 128), (2, 256), (2, 512))
        super().__init__(arch, num_classes, lr=lr, init=init, layout=layout)


class ResNet34(ResNet):
    """ResNet-34: ``ResNet(((3, 64), (4, 128), (6, 256), (3, 512)))`` (He et al., Table 1)."""

    def __init__(
        self,
        num_classes: int = 10,
        *,
        lr: float = 0.1,
        init: Any = None,
        layout: str = "channels_first",
    ) -> None:
        arch = ((3, 64), (4, 128), (6, 256), (3, 512))
        super().__init__(arch, num_classes, lr=lr, init=init, layout=layout)


def bottleneck_channels(num_channels: int, groups: int, bot_mul: float) -> int:
    """A ResNeXt block's bottleneck width ``round(num_channels * bot_mul)``, checked to be a
    multiple of the group width ``groups`` (every edition's block uses this rule)."""
    groups = positive_int("groups", groups)
    bot_mul = positive_number("bot_mul", bot_mul)
    bot_channels = int(round(num_channels * bot_mul))
    if bot_channels < groups or bot_channels % groups:
        raise ArgumentError(
            f"groups: the {bot_channels} bottleneck channels (num_channels * bot_mul) must "
            f"be a multiple of the group width groups={groups}"
        )
    return bot_channels


class ResNeXtBlock(Module):
    """The ResNeXt block (8.6.5): a 1 x 1 convolution to ``round(num_channels * bot_mul)``
    bottleneck channels, a grouped 3 x 3 convolution (stride ``strides``), a 1 x 1
    convolution back to ``num_channels``, each with batch norm (ReLU after the first two),
    added to the shortcut (``X``, or with ``use_1x1conv`` a 1 x 1 convolution of stride
    ``strides`` with batch norm) before a last ReLU.

    As in the book's code, ``groups`` is the width of each group: the 3 x 3 convolution has
    ``bottleneck_channels // groups`` groups (so ``ResNeXtBlock(32, 16, 1)`` has 2 groups of
    16 channels, and RegNetX's "group width 16" is ``groups=16``). ``layout`` as the models
    take it."""

    def __init__(
        self,
        num_channels: int,
        groups: int,
        bot_mul: float,
        use_1x1conv: bool = False,
        strides: int = 1,
        *,
        layout: str = "channels_first",
    ) -> None:
        super().__init__()
        layout = check_layout(layout)
        num_channels = positive_int("num_channels", num_channels)
        groups = positive_int("groups", groups)
        bot_channels = bottleneck_channels(num_channels, groups, bot_mul)
        strides = positive_int("strides", strides)
        self.conv1 = nn.LazyConv2d(bot_channels, kernel_size=1, stride=1, layout=layout)
        self.conv2 = nn.LazyConv2d(
            bot_channels,
            kernel_size=3,
            stride=strides,
            padding=1,
            groups=bot_channels // groups,
            layout=layout,
        )
        self.conv3 = nn.LazyConv2d(num_channels, kernel_size=1, stride=1, layout=layout)
        self.bn1 = nn.LazyBatchNorm2d(layout=layout)
        self.bn2 = nn.LazyBatchNorm2d(layout=layout)
        self.bn3 = nn.LazyBatchNorm2d(layout=layout)
        if use_1x1conv:
            self.conv4 = nn.LazyConv2d(num_channels, kernel_size=1, stride=strides, layout=layout)
            self.bn4 = nn.LazyBatchNorm2d(layout=layout)
        else:
            self.conv4 = None
            self.bn4 = None

    def forward(self, X: Any) -> Variable:
        Y = ag.relu(nn.fused(self.conv1, self.bn1, X))
        Y = ag.relu(nn.fused(self.conv2, self.bn2, Y))
        Y = nn.fused(self.conv3, self.bn3, Y)
        if self.conv4 is not None:
            X = nn.fused(self.conv4, self.bn4, X)
        return ag.relu(ag.add(Y, X))

    def infer_shape(self, shape: tuple, walk) -> tuple[tuple, int]:
        total = 0
        y = shape
        for layer in (self.conv1, self.bn1, self.conv2, self.bn2, self.conv3, self.bn3):
            y, n = walk(layer, y)
            total += n
        x = shape
        if self.conv4 is not None:
            for layer in (self.conv4, self.bn4):
                x, n = walk(layer, x)
                total += n
        _same("ResNeXtBlock", y, x)
        return y, total
