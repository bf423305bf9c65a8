"""What every model of the package shares: the book's ``d2l.Classifier`` (a model whose layers
are one ``net`` Sequential), argument checks, and ``predict``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .. import _dispatch
from .. import autograd as ag
from ..autograd import Variable, no_grad
from ..errors import ArgumentError
from ..nn import Module
from ..nn._checks import positive_int, positive_number
from ..nn.layers import _channels_last, _layout_name

__all__ = [
    "Classifier",
    "check_layout",
    "int_pairs",
    "positive_int",
    "positive_number",
    "predict_classes",
]


def check_layout(layout: Any) -> str:
    """A model's keyword-only ``layout``, checked: 'channels_first' or 'channels_last'."""
    return _layout_name(_channels_last(layout, 2))


def int_pairs(name: str, arch: Any, width: int = 2) -> tuple[tuple[int, ...], ...]:
    """A non-empty sequence of ``width``-tuples of positive ints (the book's ``arch``)."""
    if isinstance(arch, str | bytes) or not isinstance(arch, Sequence) or not arch:
        raise ArgumentError(
            f"{name}: expected a non-empty sequence of {width}-tuples of positive ints, "
            f"got {arch!r}"
        )
    out = []
    for i, entry in enumerate(arch):
        if (
            isinstance(entry, str | bytes)
            or not isinstance(entry, Sequence)
            or len(entry) != width
            or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in entry)
        ):
            raise ArgumentError(
                f"{name}[{i}]: expected a {width}-tuple of positive ints, got {entry!r}"
            )
        out.append(tuple(int(v) for v in entry))
    return tuple(out)


def argmax_classes(logits: Any) -> Any:
    """The index of the largest entry of each row, as an array of the logits' library (the
    softmax is monotone, so this is also the argmax of the probabilities)."""
    data = logits.data if isinstance(logits, Variable) else logits
    be = _dispatch.backend_of(data)
    xp = be.adapter.namespace()
    return be.adapter.from_standard(xp.argmax(be.adapter.to_standard(data), axis=1), data)


def predict_classes(model: Module, X: Any) -> Any:
    """The book's ``argmax(softmax(net(X)), dim=1)``, without recording a graph."""
    with no_grad():
        return argmax_classes(ag.softmax(model(X), axis=1))


class Classifier(Module):
    """The book's ``d2l.Classifier``: the layers are ``self.net`` (a Sequential) and
    ``forward(X)`` is ``self.net(X)``, so :meth:`layer_summary` prints one line per top-level
    layer of ``net``.

    Every model takes, keyword-only, ``lr`` (kept as ``self.lr`` for a training loop, as the
    book's constructors take it) and ``init``: ``None`` keeps :mod:`portconv.nn`'s default
    (PyTorch's), ``"xavier"`` is the book's ``init_cnn`` (Xavier-uniform weights of every
    convolution and linear layer, default biases; batch-norm scales stay 1), or any preset or
    (weight, bias) pair :meth:`Module.initialize` takes.

    And ``layout``: ``"channels_first"`` (the default; ``(N, C, H, W)`` input, as the book's
    MXNet and PyTorch editions) or ``"channels_last"`` (``(N, H, W, C)``, as its TensorFlow
    and JAX editions), passed to every convolution, pooling, batch-norm and flatten layer:
    convolution weights are then HWIO, channels are concatenated on the last axis, and the
    features reach the first dense layer in ``(H, W, C)`` order.
    """

    takes_array = True

    def __init__(self, *, lr: float = 0.1, layout: str = "channels_first") -> None:
        super().__init__()
        self.lr = positive_number("lr", lr)
        self.layout = check_layout(layout)

    def _finish(self, init: Any) -> None:
        """Apply ``init`` to every layer (call at the end of ``__init__``)."""
        if init is not None:
            self.initialize(init)

    def predict(self, X: Any) -> Any:
        """The predicted class of each example (an integer array of ``X``'s library)."""
        return predict_classes(self, X)

    def infer_shape(self, shape: tuple, walk) -> tuple[tuple, int]:
        return walk(self.net, shape)
