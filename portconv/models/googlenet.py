"""GoogLeNet and its Inception block (8.4)."""

from __future__ import annotations

from typing import Any

from .. import autograd as ag
from .. import nn
from ..autograd import Variable
from ..errors import ArgumentError
from ..nn import Module
from ._base import Classifier, check_layout, positive_int


def _pair(name: str, value: Any) -> tuple[int, int]:
    if (
        isinstance(value, str | bytes)
        or not hasattr(value, "__len__")
        or len(value) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)
    ):
        raise ArgumentError(f"{name}: expected a pair of positive ints, got {value!r}")
    return int(value[0]), int(value[1])


class Inception(Module):
    """The Inception block (8.4.1): four parallel branches whose outputs are concatenated
    along the channels, so height and width are kept and the output has ``c1 + c2[1] + c3[1]
    + c4`` channels:

    1. a 1 x 1 convolution of ``c1`` channels;
    2. a 1 x 1 convolution of ``c2[0]``, then a 3 x 3 (padding 1) of ``c2[1]``;
    3. a 1 x 1 convolution of ``c3[0]``, then a 5 x 5 (padding 2) of ``c3[1]``;
    4. 3 x 3 max pooling (stride 1, padding 1), then a 1 x 1 convolution of ``c4``.

    Every convolution is followed by a ReLU. ``layout`` as the models take it (channels last:
    concatenated on the last axis)."""

    def __init__(
        self, c1: int, c2: Any, c3: Any, c4: int, *, layout: str = "channels_first"
    ) -> None:
        super().__init__()
        self.layout = layout = check_layout(layout)
        c1, c4 = positive_int("c1", c1), positive_int("c4", c4)
        c2, c3 = _pair("c2", c2), _pair("c3", c3)
        self.b1_1 = nn.LazyConv2d(c1, kernel_size=1, layout=layout)
        self.b2_1 = nn.LazyConv2d(c2[0], kernel_size=1, layout=layout)
        self.b2_2 = nn.LazyConv2d(c2[1], kernel_size=3, padding=1, layout=layout)
        self.b3_1 = nn.LazyConv2d(c3[0], kernel_size=1, layout=layout)
        self.b3_2 = nn.LazyConv2d(c3[1], kernel_size=5, padding=2, layout=layout)
        self.b4_1 = nn.MaxPool2d(kernel_size=3, stride=1, padding=1, layout=layout)
        self.b4_2 = nn.LazyConv2d(c4, kernel_size=1, layout=layout)

    def _branches(self):
        return (
            (self.b1_1,),
            (self.b2_1, self.b2_2),
            (self.b3_1, self.b3_2),
            (self.b4_1, self.b4_2),
        )

    def forward(self, x: Any) -> Variable:
        b1 = ag.relu(self.b1_1(x))
        b2 = ag.relu(self.b2_2(ag.relu(self.b2_1(x))))
        b3 = ag.relu(self.b3_2(ag.relu(self.b3_1(x))))
        b4 = ag.relu(self.b4_2(self.b4_1(x)))
        return ag.concat([b1, b2, b3, b4], axis=self._axis)

    @property
    def _axis(self) -> int:
        return -1 if self.layout == "channels_last" else 1

    def infer_shape(self, shape: tuple, walk) -> tuple[tuple, int]:
        total, channels = 0, 0
        for branch in self._branches():
            y = shape
            for layer in branch:
                y, n = walk(layer, y)
                total += n
            channels += y[self._axis]
        if self._axis == 1:
            return (shape[0], channels) + y[2:], total
        return y[:-1] + (channels,), total


class GoogLeNet(Classifier):
    """GoogLeNet (8.4.2), as the book's ``GoogleNet``: five modules ``b1`` ... ``b5`` (a 7 x 7
    convolution; a 1 x 1 and a 3 x 3 convolution; 2, 5 and 2 Inception blocks; 3 x 3 max
    pooling of stride 2 closing the first four; global average pooling closing the fifth),
    then a dense layer of ``num_classes`` units. On 96 x 96 inputs the modules give 64 x 24 x
    24, 192 x 12 x 12, 480 x 6 x 6, 832 x 3 x 3 and 1024 features."""

    def __init__(
        self,
        num_classes: int = 10,
        *,
        lr: float = 0.1,
        init: Any = None,
        layout: str = "channels_first",
    ) -> None:
        super().__init__(lr=lr, layout=layout)
        layout = self.layout
        self.num_classes = positive_int("num_classes", num_classes)
        self.net = nn.Sequential(
            self.b1(), self.b2(), self.b3(), self.b4(), self.b5(), nn.LazyLinear(self.num_classes)
        )
        self._finish(init)

    def b1(self) -> nn.Sequential:
        layout = self.layout
        return nn.Sequential(
            nn.LazyConv2d(64, kernel_size=7, stride=2, padding=3, layout=layout),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1, layout=layout),
        )

    def b2(self) -> nn.Sequential:
        layout = self.layout
        return nn.Sequential(
            nn.LazyConv2d(64, kernel_size=1, layout=layout),
            nn.ReLU(),
            nn.LazyConv2d(192, kernel_size=3, padding=1, layout=layout),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1, layout=layout),
        )

    def b3(self) -> nn.Sequential:
        layout = self.layout
        return nn.Sequential(
            Inception(64, (96, 128), (16, 32), 32, layout=layout),
            Inception(128, (128, 192), (32, 96), 64, layout=layout),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1, layout=layout),
        )

    def b4(self) -> nn.Sequential:
        layout = self.layout
        return nn.Sequential(
            Inception(192, (96, 208), (16, 48), 64, layout=layout),
            Inception(160, (112, 224), (24, 64), 64, layout=layout),
            Inception(128, (128, 256), (24, 64), 64, layout=layout),
            Inception(112, (144, 288), (32, 64), 64, layout=layout),
            Inception(256, (160, 320), (32, 128), 128, layout=layout),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1, layout=layout),
        )

    def b5(self) -> nn.Sequential:
        layout = self.layout
        return nn.Sequential(
            Inception(256, (160, 320), (32, 128), 128, layout=layout),
            Inception(384, (192, 384), (48, 128), 128, layout=layout),
            nn.AdaptiveAvgPool2d((1, 1), layout=layout),
            nn.Flatten(layout=layout),
        )


GoogleNet = GoogLeNet
