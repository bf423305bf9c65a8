"""Initialisers, all drawing from one seeded NumPy generator.

Parameters are drawn in float64 on the host by NumPy, cast to the model's dtype there, and only
then moved to the backend: the same seed gives the same model, bit for bit, on every backend.

Each initialiser is a function ``(shape, fan_in, fan_out, rng) -> numpy array`` (fans as PyTorch
computes them). Presets name a pair (weight, bias) of initialisers:

``"torch"``  PyTorch's defaults: weights ``kaiming_uniform(a=sqrt(5))``, that is
             ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``, and biases ``U(-1/sqrt(fan_in), ...)``.
``"gluon"``  Gluon's defaults: weights ``U(-0.07, 0.07)``, biases zero.
``"xavier"`` the book's ``init_cnn``: weights Xavier (Glorot) uniform, biases PyTorch's default.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence

import numpy as np

from ..errors import ArgumentError

Initialiser = Callable[[Sequence[int], int, int, np.random.Generator], np.ndarray]

_lock = threading.Lock()
_rng = np.random.default_rng(0)
_preview: np.random.Generator | None = None  # see preview()
_preview_from: dict | None = None


def manual_seed(seed: int) -> None:
    """Reseed the generator every parameter and dropout mask is drawn from."""
    global _rng, _preview
    with _lock:
        _rng = np.random.default_rng(seed)
        _preview = None


def generator() -> np.random.Generator:
    return _rng


def preview(restart: bool = False) -> np.random.Generator:
    """A generator for the values a layer shows before its first call: it starts from the
    state of :func:`generator` and goes on from draw to draw while that state stays as it was,
    without ever moving it. So the parameters a model previews at construction are those its
    first call draws when nothing else is drawn in between. ``restart``: start again from the
    generator's state."""
    global _preview, _preview_from
    with _lock:
        state = _rng.bit_generator.state
        if restart or _preview is None or _preview_from != state:
            _preview = np.random.Generator(type(_rng.bit_generator)())
            _preview.bit_generator.state = state
            _preview_from = state
        return _preview


def fans(shape: Sequence[int], transposed: bool = False) -> tuple[int, int]:
    """(fan_in, fan_out) as PyTorch computes them: for a weight ``(out, in, *k)``,
    ``fan_in = in * prod(k)`` and ``fan_out = out * prod(k)``. A transposed convolution's
    weight is ``(in, out/groups, *k)``, and PyTorch still reads its dimension 1 as fan_in."""
    if len(shape) < 2:
        n = int(shape[0]) if shape else 1
        return n, n
    receptive = math.prod(shape[2:])
    return int(shape[1]) * receptive, int(shape[0]) * receptive


def constant(value: float) -> Initialiser:
    def init(shape, fan_in, fan_out, rng):
        return np.full(tuple(shape), float(value))

    return init


zeros = constant(0.0)
ones = constant(1.0)


def uniform(low: float = -0.07, high: float = 0.07) -> Initialiser:
    def init(shape, fan_in, fan_out, rng):
        return rng.uniform(low, high, size=tuple(shape))

    return init


def normal(mean: float = 0.0, std: float = 0.01) -> Initialiser:
    def init(shape, fan_in, fan_out, rng):
        return rng.normal(mean, std, size=tuple(shape))

    return init


def xavier_uniform(gain: float = 1.0) -> Initialiser:
    """Glorot & Bengio: ``U(-a, a)`` with ``a = gain * sqrt(6 / (fan_in + fan_out))``."""

    def init(shape, fan_in, fan_out, rng):
        a = gain * math.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-a, a, size=tuple(shape))

    return init


def xavier_normal(gain: float = 1.0) -> Initialiser:
    """Glorot & Bengio: ``N(0, std)`` with ``std = gain * sqrt(2 / (fan_in + fan_out))``."""

    def init(shape, fan_in, fan_out, rng):
        return rng.normal(0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), size=tuple(shape))

    return init


def _kaiming_gain(a: float, nonlinearity: str) -> float:
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        return math.sqrt(2.0 / (1 + a * a))
    if nonlinearity in ("linear", "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    raise ArgumentError(
        f"nonlinearity: expected 'relu', 'leaky_relu', 'linear', 'sigmoid' or 'tanh', "
        f"got {nonlinearity!r}"
    )


def _fan(mode: str, fan_in: int, fan_out: int) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ArgumentError(f"mode: expected 'fan_in' or 'fan_out', got {mode!r}")
    return fan_in if mode == "fan_in" else fan_out


def kaiming_uniform(
    a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"
) -> Initialiser:
    """He et al.: ``U(-b, b)`` with ``b = gain * sqrt(3 / fan)``."""
    gain = _kaiming_gain(a, nonlinearity)

    def init(shape, fan_in, fan_out, rng):
        bound = gain * math.sqrt(3.0 / _fan(mode, fan_in, fan_out))
        return rng.uniform(-bound, bound, size=tuple(shape))

    return init


def kaiming_normal(
    a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"
) -> Initialiser:
    """He et al.: ``N(0, gain / sqrt(fan))``."""
    gain = _kaiming_gain(a, nonlinearity)

    def init(shape, fan_in, fan_out, rng):
        return rng.normal(0.0, gain / math.sqrt(_fan(mode, fan_in, fan_out)), size=tuple(shape))

    return init


def torch_bias() -> Initialiser:
    """PyTorch's default bias: ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` of the weight's fan_in."""

    def init(shape, fan_in, fan_out, rng):
        bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        return rng.uniform(-bound, bound, size=tuple(shape))

    return init


PRESETS: dict[str, tuple[Initialiser, Initialiser]] = {
    "torch": (kaiming_uniform(a=math.sqrt(5)), torch_bias()),
    "gluon": (uniform(-0.07, 0.07), zeros),
    "xavier": (xavier_uniform(), torch_bias()),
}


def preset(name: str | tuple[Initialiser, Initialiser]) -> tuple[Initialiser, Initialiser]:
    """The (weight, bias) initialisers of a preset name, or the pair itself."""
    if isinstance(name, tuple) and len(name) == 2 and all(callable(f) for f in name):
        return name
    if name not in PRESETS:
        raise ArgumentError(
            f"init: expected one of {', '.join(map(repr, PRESETS))} or a (weight, bias) pair "
            f"of initialisers, got {name!r}"
        )
    return PRESETS[name]
