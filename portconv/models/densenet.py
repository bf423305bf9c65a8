"""DenseNet (8.7)."""

from __future__ import annotations

from typing import Any

from .. import autograd as ag
from .. import nn
from ..autograd import Variable
from ..errors import ArgumentError
from ..nn import Module
from ._base import Classifier, check_layout, positive_int


def conv_block(num_channels: int, *, layout: str = "channels_first") -> nn.Sequential:
    """DenseNet's convolution block (8.7.2): batch norm, ReLU, then a 3 x 3 convolution of
    ``num_channels`` (padding 1), the pre-activation order of ResNet's later version;
    ``layout`` as the models take it."""
    num_channels = positive_int("num_channels", num_channels)
    return nn.Sequential(
        nn.LazyBatchNorm2d(layout=layout),
        nn.ReLU(),
        nn.LazyConv2d(num_channels, kernel_size=3, padding=1, layout=layout),
    )


class DenseBlock(Module):
    """A dense block (8.7.2): ``num_convs`` :func:`conv_block` s of ``num_channels`` (the
    growth rate), each fed the concatenation of the block's input and every earlier block's
    output, so the output has ``in_channels + num_convs * num_channels`` channels:
    ``DenseBlock(2, 10)`` maps (4, 3, 8, 8) to (4, 23, 8, 8). ``layout`` as the models take it
    (channels last: concatenated on the last axis)."""

    def __init__(
        self, num_convs: int, num_channels: int, *, layout: str = "channels_first"
    ) -> None:
        super().__init__()
        num_convs = positive_int("num_convs", num_convs)
        self.layout = layout = check_layout(layout)
        self.net = nn.Sequential(
            *(conv_block(num_channels, layout=layout) for _ in range(num_convs))
        )

    @property
    def _axis(self) -> int:
        return -1 if self.layout == "channels_last" else 1

    def forward(self, X: Any) -> Variable:
        for _, blk in self.net.children():
            Y = blk(X)
            X = ag.concat([X, Y], axis=self._axis)
        return X

    def infer_shape(self, shape: tuple, walk) -> tuple[tuple, int]:
        total = 0
        for _, blk in self.net.children():
            y, n = walk(blk, shape)
            total += n
            if self._axis == 1:
                shape = (shape[0], shape[1] + y[1]) + shape[2:]
            else:
                shape = shape[:-1] + (shape[-1] + y[-1],)
        return shape, total


def transition_block(num_channels: int, *, layout: str = "channels_first") -> nn.Sequential:
    """A transition layer (8.7.3): batch norm, ReLU, a 1 x 1 convolution to ``num_channels``
    and 2 x 2 average pooling of stride 2, to shrink the channels and halve height and
    width between dense blocks; ``layout`` as the models take it."""
    num_channels = positive_int("num_channels", num_channels)
    return nn.Sequential(
        nn.LazyBatchNorm2d(layout=layout),
        nn.ReLU(),
        nn.LazyConv2d(num_channels, kernel_size=1, layout=layout),
        nn.AvgPool2d(kernel_size=2, stride=2, layout=layout),
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
        layout: str = "channels_first",
    ) -> None:
        super().__init__(lr=lr, layout=layout)
        layout = self.layout
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
            self.net.add_module(
                f"dense_blk{i + 1}", DenseBlock(num_convs, self.growth_rate, layout=layout)
            )
            # the channels the dense block gives ...
            num_channels += num_convs * self.growth_rate
            # ... halved by a transition layer between dense blocks
            if i != len(self.arch) - 1:
                num_channels //= 2
                self.net.add_module(
                    f"tran_blk{i + 1}", transition_block(num_channels, layout=layout)
                )
        self.net.add_module(
            "last",
            nn.Sequential(
                nn.LazyBatchNorm2d(layout=layout),
                nn.ReLU(),
                nn.AdaptiveAvgPool2d((1, 1), layout=layout),
                nn.Flatten(layout=layout),
                nn.LazyLinear(self.num_classes),
            ),
        )
        self._finish(init)

    def b1(self, num_channels: int = 64) -> nn.Sequential:
        layout = self.layout
        return nn.Sequential(
            nn.LazyConv2d(num_channels, kernel_size=7, stride=2, padding=3, layout=layout),
            nn.LazyBatchNorm2d(layout=layout),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1, layout=layout),
        )
