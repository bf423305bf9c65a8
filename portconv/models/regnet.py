"""AnyNet and RegNetX (8.8)."""

from __future__ import annotations

from typing import Any

from .. import nn
from ..errors import ArgumentError
from ._base import Classifier, positive_int, positive_number
from .resnet import ResNeXtBlock


def anynet_stages(arch: Any) -> tuple:
    """AnyNet's ``arch`` checked and normalised: a non-empty sequence of ``(depth,
    num_channels, groups, bot_mul)`` (every edition's AnyNet takes it)."""
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
    return tuple(stages)


class AnyNet(Classifier):
    """The AnyNet design space (8.8.1): ``net`` is a Sequential of a stem (a 3 x 3
    convolution of ``stem_channels`` and stride 2, batch norm, ReLU), one stage
    ``stage{i}`` per ``(depth, num_channels, groups, bot_mul)`` of ``arch`` (``depth``
    :class:`ResNeXtBlock` s, the first with a 1 x 1 shortcut of stride 2, halving height and
    width) and a ``head`` (global average pooling, flatten, a dense layer of ``num_classes``
    units)."""

    def __init__(
        self,
        arch: Any,
        stem_channels: int,
        num_classes: int = 10,
        *,
        lr: float = 0.1,
        init: Any = None,
        layout: str = "channels_first",
    ) -> None:
        super().__init__(lr=lr, layout=layout)
        layout = self.layout
        self.arch = anynet_stages(arch)
        self.stem_channels = positive_int("stem_channels", stem_channels)
        self.num_classes = positive_int("num_classes", num_classes)
        self.net = nn.Sequential(self.stem(self.stem_channels))
        for i, s in enumerate(self.arch):
            self.net.add_module(f"stage{i + 1}", self.stage(*s))
        self.net.add_module(
            "head",
            nn.Sequential(
                nn.AdaptiveAvgPool2d((1, 1), layout=layout),
                nn.Flatten(layout=layout),
                nn.LazyLinear(self.num_classes),
            ),
        )
        self._finish(init)

    def stem(self, num_channels: int) -> nn.Sequential:
        layout = self.layout
        return nn.Sequential(
            nn.LazyConv2d(num_channels, kernel_size=3, stride=2, padding=1, layout=layout),
            nn.LazyBatchNorm2d(layout=layout),
            nn.ReLU(),
        )

    def stage(self, depth: int, num_channels: int, groups: int, bot_mul: float) -> nn.Sequential:
        blk = []
        for i in range(depth):
            if i == 0:
                blk.append(ResNeXtBlock(num_channels, groups, bot_mul, True, 2, layout=self.layout))
            else:
                blk.append(ResNeXtBlock(num_channels, groups, bot_mul, layout=self.layout))
        return nn.Sequential(*blk)


class RegNetX32(AnyNet):
    """RegNetX-32MF as the book builds it (8.8.3): stem of 32 channels, two stages of depth
    4 and 6 with 32 and 80 channels, group width 16, bottleneck multiplier 1. On 96 x 96
    inputs: 32 x 48 x 48, 32 x 24 x 24, 80 x 12 x 12, then ``num_classes``."""

    def __init__(
        self,
        num_classes: int = 10,
        *,
        lr: float = 0.1,
        init: Any = None,
        layout: str = "channels_first",
    ) -> None:
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
            init=init,
            layout=layout,
        )
