"""DenseNet (8.7)."""

from __future__ import annotations

from typing import Any

from .. import autograd as ag
from .. import nn
from ..autograd import Variable
from ..errors import ArgumentError
from ..nn import Module
from ._base import Classifier, positive_int


def conv_block(num_channels: int) -> nn.Sequential:
    """DenseNet's convolution block (8.7.2): batch norm, ReLU, then a 3 x 3 convolution of
    ``num_channels`` (padding 1), the pre-activation order of ResNet's later version."""
    num_channels = positive_int("num_channels", num_channels)
    return nn.Sequential(
        nn.LazyBatchNorm2d(), nn.ReLU(), nn.LazyConv2d(num_channels, kernel_size=3, padding=1)
    )


class DenseBlock(Module):
    """A dense block (8.7.2): ``num_convs`` :func:`conv_block` s of ``num_channels`` (the
    growth rate), each fed the concatenation of the block's input and every earlier block's
    output, so the output has ``in_channels + num_convs * num_channels`` channels:
    ``DenseBlock(2, 10)`` maps (4, 3, 8, 8) to (4, 23, 8, 8)."""

    def __init__(self, num_convs: int, num_channels: int) -> None:
        super().__init__()
        num_convs = positive_int("num_convs", num_convs)
        self.net = nn.Sequential(*(conv_block(num_channels) for _ in range(num_convs)))

    def forward(self, X: Any) -> Variable:
        for _, blk in self.net.children():
            Y = blk(X)
            X = ag.concat([X, Y], axis=1)
        return X

    def infer_shape(self, shape: tuple, walk) -> tuple[tuple, int]:
        total = 0
        for _, blk in self.net.children():
            y, n = walk(blk, shape)
            total += n
            shape = (shape[0], shape[1] + y[1]) + shape[2:]
        return shape, total


def transition_block(num_channels: int) -> nn.Sequential:
    """A transition layer (8.7.3): batch norm, ReLU, a 1 x 1 convolution to ``num_channels``
    and 2 x 2 average pooling of stride 2, to shrink the channels and halve height and
    width between dense blocks."""
    num_channels = positive_int("num_channels", num_channels)
    return nn.Sequential(
        nn.LazyBatchNorm2d(),
        nn.ReLU(),
        nn.LazyConv2d(num_channels, kernel_size=1),
        nn.AvgPool2d(kernel_size=2, stride=2),
    )


class DenseNet(Classifier):
    """DenseNet (8.7.4): ``net`` is a Sequential of ``b1`` (ResNet's first module), for each
    entry of ``arch`` a dense block ``dense_blk{i}`` of that many convolution blocks of
    ``growth_rate`` channels, a transition layer ``tran_blk{i}`` halving the channels
    between consecutive dense blocks, and ``last`` (batch norm, ReLU, global average pooling,
    flatten, a dense layer of ``num_classes`` units). ``num_channels`` is the width of
    ``b1``."""

    def __init__(
        self,
        num_channels: int = 64,
        growth_rate: int = 32,
        arch: Any = (4, 4, 4, 4),
        num_classes: int = 10,
        *,
        lr: float = 0.1,
        init: Any = None,
    ) -> None:
        super().__init__(lr=lr)
        num_channels = positive_int("num_channels", num_channels)
        self.growth_rate = positive_int("growth_rate", growth_rate)
        if isinstance(arch, int) or not hasattr(arch, "__iter__") or not len(arch):
            raise ArgumentError(
                f"arch: expected a non-empty sequence of positive ints, got {arch!r}"
            )
        self.arch = tuple(positive_int(f"arch[{i}]", n) for i, n in enumerate(arch))
        self.num_classes = positive_int("num_classes", num_classes)
        self.num_channels = num_channels
        self.net = nn.Sequential(self.b1(num_channels))
        for i, num_convs in enumerate(self.arch):
            self.net.add_module(f"dense_blk{i + 1}", DenseBlock(num_convs, self.growth_rate))
            # the channels the dense block gives ...
            num_channels += num_convs * self.growth_rate
            # ... halved by a transition layer between dense blocks
            if i != len(self.arch) - 1:
                num_channels //= 2
                self.net.add_module(f"tran_blk{i + 1}", transition_block(num_channels))
        self.net.add_module(
            "last",
            nn.Sequential(
                nn.LazyBatchNorm2d(),
                nn.ReLU(),
                nn.AdaptiveAvgPool2d((1, 1)),
                nn.Flatten(),
                nn.LazyLinear(self.num_classes),
            ),
        )
        self._finish(init)

    def b1(self, num_channels: int = 64) -> nn.Sequential:
        return nn.Sequential(
            nn.LazyConv2d(num_channels, kernel_size=7, stride=2, padding=3),
            nn.LazyBatchNorm2d(),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
        )
