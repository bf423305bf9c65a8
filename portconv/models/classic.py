"""AlexNet (8.1), VGG (8.2) and NiN (8.3)."""

from __future__ import annotations

from typing import Any

from .. import nn
from ..errors import ArgumentError
from ._base import Classifier, int_pairs, positive_int


class AlexNet(Classifier):
    """The book's AlexNet (8.1.2): an 11 x 11 convolution of stride 4 (96 channels), a 5 x 5
    (256) and three 3 x 3 convolutions (384, 384, 256), each with a ReLU, 3 x 3 max pooling
    of stride 2 after the first, second and fifth; then dense layers of 4096, 4096 (ReLU and
    dropout 0.5 each) and ``num_classes`` units. On 224 x 224 single-channel inputs (Fashion
    MNIST resized) with 10 classes: 46,764,746 parameters (the book's "about 46.8 million";
    a torch.nn re-implementation counts the same). The smallest input it accepts is 65 x 65.
    """

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
            nn.LazyConv2d(96, kernel_size=11, stride=4, padding=1, layout=layout),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2, layout=layout),
            nn.LazyConv2d(256, kernel_size=5, padding=2, layout=layout),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2, layout=layout),
            nn.LazyConv2d(384, kernel_size=3, padding=1, layout=layout),
            nn.ReLU(),
            nn.LazyConv2d(384, kernel_size=3, padding=1, layout=layout),
            nn.ReLU(),
            nn.LazyConv2d(256, kernel_size=3, padding=1, layout=layout),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2, layout=layout),
            nn.Flatten(layout=layout),
            nn.LazyLinear(4096),
            nn.ReLU(),
            nn.Dropout(p=0.5),
            nn.LazyLinear(4096),
            nn.ReLU(),
            nn.Dropout(p=0.5),
            nn.LazyLinear(self.num_classes),
        )
        self._finish(init)


def vgg_block(
    num_convs: int, out_channels: int, *, layout: str = "channels_first"
) -> nn.Sequential:
    """A VGG block (8.2.1): ``num_convs`` 3 x 3 convolutions padded by 1 (``out_channels``
    each, ReLU after each), then 2 x 2 max pooling of stride 2 (halving height and width);
    ``layout`` as the models take it."""
    num_convs = positive_int("num_convs", num_convs)
    out_channels = positive_int("out_channels", out_channels)
    layers: list[nn.Module] = []
    for _ in range(num_convs):
        layers.append(nn.LazyConv2d(out_channels, kernel_size=3, padding=1, layout=layout))
        layers.append(nn.ReLU())
    layers.append(nn.MaxPool2d(kernel_size=2, stride=2, layout=layout))
    return nn.Sequential(*layers)


#: the convolutional parts of Simonyan & Zisserman's Table 1, as (convolutions, channels)
VGG_ARCHS = {
    "VGG11": ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512)),
    "VGG13": ((2, 64), (2, 128), (2, 256), (2, 512), (2, 512)),
    "VGG16": ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512)),
    "VGG19": ((2, 64), (2, 128), (4, 256), (4, 512), (4, 512)),
}


def vgg_arch(name: str, ratio: int = 1) -> tuple[tuple[int, int], ...]:
    """The architecture ``name`` of :data:`VGG_ARCHS` with every block's channels divided by
    ``ratio`` (the book trains VGG-11 with ``ratio=4``), which must divide each of them.

    >>> vgg_arch("VGG11", 4)
    ((1, 16), (1, 32), (2, 64), (2, 128), (2, 128))
    """
    ratio = positive_int("ratio", ratio)
    arch = VGG_ARCHS[name]
    if any(c % ratio for _, c in arch):
        raise ArgumentError(
            f"ratio: must divide every block's channels {[c for _, c in arch]}, got {ratio}"
        )
    return tuple((n, c // ratio) for n, c in arch)


class VGG(Classifier):
    """VGG (8.2.2): one :func:`vgg_block` per ``(num_convs, out_channels)`` of ``arch``,
    then AlexNet's dense part (4096, 4096 with ReLU and dropout 0.5, ``num_classes``).
    Each block halves height and width, so five blocks need inputs of at least 32 x 32.

    VGG-16 on 224 x 224 x 3 inputs with 1000 classes has 138,357,544 parameters, the
    paper's 138 million (and torchvision's count)."""

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
        conv_blks = [vgg_block(n, c, layout=layout) for n, c in self.arch]
        self.net = nn.Sequential(
            *conv_blks,
            nn.Flatten(layout=layout),
            nn.LazyLinear(4096),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.LazyLinear(4096),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.LazyLinear(self.num_classes),
        )
        self._finish(init)


def _vgg_preset(name: str):
    arch = VGG_ARCHS[name]

    class Preset(VGG):
        def __init__(
            self,
            num_classes: int = 10,
            *,
            lr: float = 0.1,
            init: Any = None,
            layout: str = "channels_first",
        ) -> None:
            super().__init__(arch, num_classes, lr=lr, init=init, layout=layout)

    Preset.__name__ = Preset.__qualname__ = name
    Preset.__doc__ = f"{name[:3]}-{name[3:]}: ``VGG({arch})`` (Simonyan & Zisserman, Table 1)."
    return Preset


VGG11 = _vgg_preset("VGG11")
VGG13 = _vgg_preset("VGG13")
VGG16 = _vgg_preset("VGG16")
VGG19 = _vgg_preset("VGG19")


def nin_block(
    out_channels: int,
    kernel_size: Any,
    strides: Any,
    padding: Any,
    *,
    layout: str = "channels_first",
) -> nn.Sequential:
    """A NiN block (8.3.1): a convolution of ``kernel_size``, ``strides`` and ``padding``,
    then two 1 x 1 convolutions (the per-pixel MLP), each of ``out_channels`` with a ReLU;
    ``layout`` as the models take it."""
    out_channels = positive_int("out_channels", out_channels)
    return nn.Sequential(
        nn.LazyConv2d(out_channels, kernel_size, strides, padding, layout=layout),
        nn.ReLU(),
        nn.LazyConv2d(out_channels, kernel_size=1, layout=layout),
        nn.ReLU(),
        nn.LazyConv2d(out_channels, kernel_size=1, layout=layout),
        nn.ReLU(),
    )


class NiN(Classifier):
    """Network in Network (8.3.2): NiN blocks of 96 (11 x 11, stride 4), 256 (5 x 5) and 384
    (3 x 3) channels with 3 x 3 max pooling of stride 2 after each, dropout 0.5, a last NiN
    block of ``num_classes`` channels and global average pooling: no dense layer. The
    smallest input it accepts is 67 x 67."""

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
            nin_block(96, kernel_size=11, strides=4, padding=0, layout=layout),
            nn.MaxPool2d(3, stride=2, layout=layout),
            nin_block(256, kernel_size=5, strides=1, padding=2, layout=layout),
            nn.MaxPool2d(3, stride=2, layout=layout),
            nin_block(384, kernel_size=3, strides=1, padding=1, layout=layout),
            nn.MaxPool2d(3, stride=2, layout=layout),
            nn.Dropout(0.5),
            nin_block(self.num_classes, kernel_size=3, strides=1, padding=1, layout=layout),
            nn.AdaptiveAvgPool2d((1, 1), layout=layout),
            nn.Flatten(layout=layout),
        )
        self._finish(init)
