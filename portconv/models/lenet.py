"""LeNet (7.6), its modernised variant (exercise 7.6.1), LeNet with batch normalisation (8.5)
and the LeNet-5 variant of seed 003."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import _dispatch, nn
from .. import autograd as ag
from ..autograd import Variable
from ..errors import ArgumentError
from ..nn import Module
from ._base import Classifier, check_layout, positive_int, predict_classes


class LeNet(Classifier):
    """The book's LeNet-5 (7.6): two 5 x 5 convolutions (6 and 16 channels, the first padded
    by 2) each followed by a sigmoid and 2 x 2 average pooling, then dense layers of 120, 84
    and ``num_classes`` units with sigmoids between them. On 28 x 28 inputs and 10 classes
    it has 61,706 parameters, as the book's."""

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
            nn.LazyConv2d(6, kernel_size=5, padding=2, layout=layout),
            nn.Sigmoid(),
            nn.AvgPool2d(kernel_size=2, stride=2, layout=layout),
            nn.LazyConv2d(16, kernel_size=5, layout=layout),
            nn.Sigmoid(),
            nn.AvgPool2d(kernel_size=2, stride=2, layout=layout),
            nn.Flatten(layout=layout),
            nn.LazyLinear(120),
            nn.Sigmoid(),
            nn.LazyLinear(84),
            nn.Sigmoid(),
            nn.LazyLinear(self.num_classes),
        )
        self._finish(init)


class LeNetModern(Classifier):
    """LeNet with ReLU activations and max pooling (exercise 1 of 7.6, seed 002's
    ``LeNet_modern``): the same layer sizes as :class:`LeNet`, so the same 61,706
    parameters."""

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
            nn.LazyConv2d(6, kernel_size=5, padding=2, layout=layout),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=2, stride=2, layout=layout),
            nn.LazyConv2d(16, kernel_size=5, layout=layout),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=2, stride=2, layout=layout),
            nn.Flatten(layout=layout),
            nn.LazyLinear(120),
            nn.ReLU(),
            nn.LazyLinear(84),
            nn.ReLU(),
            nn.LazyLinear(self.num_classes),
        )
        self._finish(init)


LeNet_modern = LeNetModern


class BNLeNet(Classifier):
    """LeNet with batch normalisation (8.5.4): a batch-norm layer after each convolution and
    each hidden dense layer, before the sigmoid. As in the book, the first convolution is not
    padded (28 x 28 inputs give 16 x 4 x 4 features before the dense layers)."""

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
            nn.LazyConv2d(6, kernel_size=5, layout=layout),
            nn.LazyBatchNorm2d(layout=layout),
            nn.Sigmoid(),
            nn.AvgPool2d(kernel_size=2, stride=2, layout=layout),
            nn.LazyConv2d(16, kernel_size=5, layout=layout),
            nn.LazyBatchNorm2d(layout=layout),
            nn.Sigmoid(),
            nn.AvgPool2d(kernel_size=2, stride=2, layout=layout),
            nn.Flatten(layout=layout),
            nn.LazyLinear(120),
            nn.LazyBatchNorm1d(),
            nn.Sigmoid(),
            nn.LazyLinear(84),
            nn.LazyBatchNorm1d(),
            nn.Sigmoid(),
            nn.LazyLinear(self.num_classes),
        )
        self._finish(init)


class LeNet5(Module):
    """The LeNet-5 variant of seed 003 (d, In[73]): ``conv1`` 1 -> 20 channels (5 x 5),
    ReLU, 2 x 2 max pooling, ``conv2`` 20 -> 20 (5 x 5), ReLU, 2 x 2 max pooling, flatten
    to 500, ``fc1`` 500 -> 500 with ReLU, ``fc2`` 500 -> 10. It expects (N, 1, 32, 32)
    inputs and has 266,050 parameters.

    ``forward(x, verbose=False)`` returns the logits; with ``verbose=True`` it prints the
    shapes as the seed's forward does (``Input shape: ...``, ``Conv2d: ...``, ...). The
    seed's forward ends with a softmax and an argmax: that is :meth:`predict`.
    """

    takes_array = True
    layout = "channels_first"  # for subclasses that build their own layers

    def __init__(self, *, init: Any = None, layout: str = "channels_first") -> None:
        super().__init__()
        self.layout = layout = check_layout(layout)
        self.conv1 = nn.Conv2d(1, 20, 5, 1, layout=layout)
        self.conv2 = nn.Conv2d(20, 20, 5, 1, layout=layout)
        self.fc1 = nn.Linear(20 * 5 * 5, 500)
        self.fc2 = nn.Linear(500, 10)
        if init is not None:
            self.initialize(init)

    def check_input(self, x: Any) -> None:
        self.conv1.check_input(x)

    def forward(self, x: Any, verbose: bool = False) -> Variable:
        rows = self._run(x, verbose)
        return rows[-1][2]

    def _run(self, x: Any, verbose: bool, file: Any = None) -> list:
        rows: list = []

        def show(label: str | None, v: Any) -> None:
            data = v.data if isinstance(v, Variable) else v
            rows.append((label, tuple(int(s) for s in data.shape), v))
            if verbose:
                print(data.shape if label is None else f"{label}: {data.shape}", file=file)

        show("Input shape", x)
        x = self.conv1(x)
        show("Conv2d", x)
        x = ag.max_pool2d(ag.relu(x), 2, 2, layout=self.layout)
        show("MaxPool2d", x)
        x = self.conv2(x)
        show("Conv2d", x)
        x = ag.max_pool2d(ag.relu(x), 2, 2, layout=self.layout)
        show("MaxPool2d", x)
        x = ag.reshape(x, (-1, 20 * 5 * 5))
        show("Flatten", x)
        x = self.fc2(ag.relu(self.fc1(x)))
        show(None, x)
        return rows

    def predict(self, x: Any) -> Any:
        """The seed's ``argmax(softmax(logits), dim=1)``: the predicted class of each
        example, an integer array of ``x``'s library."""
        return predict_classes(self, x)

    def layer_summary(self, input_shape: tuple, like: Any = None, *, file: Any = None) -> list:
        """The seed's printout (its forward's prints) for a zero input of ``input_shape``;
        returns the list of (label, shape), the last label None (the seed prints the logits'
        shape alone)."""
        x: Any = np.zeros(input_shape, dtype=np.float32)
        if like is not None:
            x = _dispatch.backend_of(like).adapter.from_numpy(x, like=like)
        with ag.no_grad():
            rows = self._run(x, True, file=file)
        return [(label, shape) for label, shape, _ in rows]

    def infer_shape(self, shape: tuple, walk) -> tuple[tuple, int]:
        total = 0
        pool = nn.MaxPool2d(2, 2, layout=self.layout)
        for layer in (self.conv1, pool, self.conv2, pool):
            shape, n = walk(layer, shape)
            total += n
        size = math.prod(shape)
        if size % 500:
            raise ArgumentError(
                f"LeNet5: the features of shape {shape} do not reshape to (-1, 500); "
                f"it expects (N, 1, 32, 32) inputs"
            )
        shape = (size // 500, 500)
        for layer in (self.fc1, self.fc2):
            shape, n = walk(layer, shape)
            total += n
        return shape, total
