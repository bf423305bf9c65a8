"""Flax-named layers on channels-last arrays, for the book's JAX edition.

``from portconv.nn import flax``, then ``flax.Conv(features, kernel_size, strides=1,
padding="SAME")``, ``flax.Dense(features)``, ``flax.BatchNorm(use_running_average=None)`` and
``flax.Dropout(rate)``, with the functions ``flax.max_pool`` and ``flax.avg_pool`` as
``flax.linen`` has them. Inputs are ``(N, H, W, C)`` (Flax's default); parameters are named
and laid out as Flax names them (``kernel`` HWIO and ``bias`` for a convolution, ``kernel``
``(in, out)`` for a dense layer, ``scale``/``bias`` and the statistics ``mean``/``var`` for a
batch norm), drawn as Flax draws them (LeCun-normal kernels, zero biases) from
:mod:`portconv.nn.init`'s seeded generator, and created by the first call, which fixes the
input's channel count, as Flax's ``init``.

The book's JAX edition writes functions into its ``nn.Sequential`` lists (``nn.relu``,
``lambda x: nn.max_pool(...)``, ``lambda x: x.reshape((x.shape[0], -1))``); here they are the
layers :class:`Activation`, :class:`MaxPool`, :class:`AvgPool`, :class:`GlobalAvgPool` and
:class:`Flatten`, which :meth:`~portconv.nn.Module.layer_summary` names as the JAX edition
prints those entries (``custom_jvp`` for ``nn.relu``, ``PjitFunction`` for ``nn.sigmoid``,
``function`` for a lambda).

:func:`variables` gives a model built from these layers as Flax's ``{"params": ...,
"batch_stats": ...}`` tree (a ``Sequential``'s child ``i`` is Flax's ``layers_i``, any other
child keeps its attribute name), and :func:`load_variables` loads such a tree, name for name.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .. import autograd as ag
from ..autograd import Variable
from ..errors import ArgumentError, ArrayTypeError, describe_type
from ..ops._args import int_tuple
from ..ops._call import output_size, padding_pairs
from . import init as _init
from . import keras as _keras
from ._checks import flag, positive_int, real_number
from .layers import _data, _float_input, batch_norm, running_update
from .module import Module, Sequential, _creation_lock, _host_to, require_array

__all__ = [
    "Activation",
    "AvgPool",
    "BatchNorm",
    "Conv",
    "Dense",
    "Dropout",
    "Flatten",
    "GlobalAvgPool",
    "MaxPool",
    "avg_pool",
    "lecun_normal",
    "load_variables",
    "max_pool",
    "variables",
]

# jax.nn.initializers.truncated_normal's stddev correction: the standard deviation of a
# standard normal truncated to [-2, 2]
_TRUNCATED_STD = 0.87962566103423978


def lecun_normal() -> Any:
    """Flax's default kernel initialiser, ``nn.initializers.lecun_normal()``: a normal of
    standard deviation ``sqrt(1 / fan_in)`` truncated to two standard deviations (and rescaled
    so that the truncated draw keeps that deviation), drawn from portconv's seeded generator.

    Returns
    -------
    callable
        An initialiser ``(shape, fan_in, fan_out, rng) -> array`` for
        :meth:`~portconv.nn.Module.initialize`.

    Examples
    --------
    >>> import numpy as np
    >>> w = lecun_normal()((3, 3, 4, 8), 36, 72, np.random.default_rng(0))
    >>> w.shape, bool(np.abs(w).max() <= 2 / np.sqrt(36) / 0.8796256610342398)
    ((3, 3, 4, 8), True)
    """

    def init(shape, fan_in, fan_out, rng):
        std = math.sqrt(1.0 / max(fan_in, 1)) / _TRUNCATED_STD
        out = rng.standard_normal(math.prod(shape))
        bad = np.flatnonzero(np.abs(out) > 2.0)
        while bad.size:  # rejection: redraw what falls outside [-2, 2]
            out[bad] = rng.standard_normal(bad.size)
            bad = bad[np.abs(out[bad]) > 2.0]
        return out.reshape(shape) * std

    return init


_FLAX_INIT = (lecun_normal(), _init.constant(0.0))  # lecun_normal kernels, zero biases


def _merge(name: str, ours: Any, call: Any) -> bool | None:
    """Flax's ``nn.merge_param``: a flag given at construction or at the call, not both."""
    if ours is not None and call is not None:
        raise ArgumentError(
            f"{name}: given both to the constructor ({ours!r}) and to the call ({call!r}); "
            f"Flax takes it in one place only"
        )
    value = call if call is not None else ours
    return None if value is None else flag(name, value)


# -- convolution and dense ------------------------------------------------------------------------


def _kernel_size(value: Any) -> tuple[int, int]:
    if _is_int(value):
        raise ArgumentError(
            f"kernel_size: flax.linen.Conv reads an int as a 1-D window ({value!r},), which "
            f"convolves the last spatial axis only; give a pair such as ({value}, {value})"
        )
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2:
        raise ArgumentError(
            f"kernel_size: expected a pair of ints (kh, kw) (portconv's Flax Conv is 2-D), got "
            f"{value!r}"
        )
    return int_tuple("kernel_size", value, 2)


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _conv_padding(value: Any) -> Any:
    """Flax's ``padding``: 'SAME', 'VALID' (any case; 'SAME_LOWER' too, as lax has it), an int
    (both sides of both axes), one int or (low, high) pair per axis."""
    if isinstance(value, str):
        mode = value.lower()
        if mode not in ("same", "valid", "same_lower"):
            raise ArgumentError(
                f"padding: expected 'SAME', 'VALID', 'SAME_LOWER', an int, 2 ints or 2 (low, "
                f"high) pairs, got {value!r} (Flax's 'CIRCULAR' and 'CAUSAL' are not supported)"
            )
        return mode
    return padding_pairs("padding", value, 2, strings=False)


class Conv(_keras.Conv2D):
    """Flax's ``nn.Conv(features, kernel_size, strides=1, padding="SAME", kernel_dilation=1,
    feature_group_count=1, use_bias=True)``: 2-D cross-correlation of channels-last input.

    Parameters
    ----------
    features : int
        Output channels.
    kernel_size : (int, int)
        The window (Flax reads a bare int as a 1-D window, so it is refused here).
    strides : int or (int, int), default 1
        Step of the window.
    padding : str, int or sequence, default 'SAME'
        'SAME' (TensorFlow's rule, ``out = ceil(in / stride)``, the odd extra row or column at
        the end), 'VALID' (none), 'SAME_LOWER', an int (every side), one int per axis (both
        sides) or one ``(low, high)`` pair per axis.
    kernel_dilation : int or (int, int), default 1
        Spacing of the window's taps.
    feature_group_count : int, default 1
        Split input and output channels into this many independent groups.
    use_bias : bool, default True
        Add a learned bias per feature.

    Shape
    -----
    ``(N, H, W, C_in)`` -> ``(N, H_out, W_out, features)``. ``kernel``
    ``(kh, kw, C_in / feature_group_count, features)`` and ``bias`` ``(features,)``, created by
    the first call from its channel count.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv.nn import flax
    >>> conv = flax.Conv(6, (5, 5))
    >>> conv
    Conv(features=6, kernel_size=(5, 5), padding='SAME')
    >>> tuple(conv(np.zeros((1, 28, 28, 1), np.float32)).shape)
    (1, 28, 28, 6)
    >>> tuple(conv.kernel.shape), tuple(conv.bias.shape)
    ((5, 5, 1, 6), (6,))
    """

    summary_name = "Conv"

    def __init__(
        self,
        features: int,
        kernel_size: Any,
        strides: Any = 1,
        padding: Any = "SAME",
        kernel_dilation: Any = 1,
        feature_group_count: int = 1,
        use_bias: bool = True,
    ) -> None:
        features = positive_int("features", features)
        kernel = _kernel_size(kernel_size)
        strides = int_tuple("strides", strides, 2)
        dilation = int_tuple("kernel_dilation", kernel_dilation, 2)
        groups = positive_int("feature_group_count", feature_group_count)
        if features % groups:
            raise ArgumentError(
                f"feature_group_count: features={features} is not divisible by "
                f"feature_group_count={groups}"
            )
        pads = _conv_padding(padding)
        use_bias = flag("use_bias", use_bias)
        super().__init__(features, kernel, strides, "valid", None, dilation, groups, None, use_bias)
        self.padding = pads
        self._padding_arg = padding
        self.features = features

    def _effective_init(self) -> Any:
        return self._init if self._init is not None else _FLAX_INIT

    def extra_repr(self) -> str:
        s = f"features={self.features}, kernel_size={self.kernel_size}"
        if self.strides != (1, 1):
            s += f", strides={self.strides}"
        s += f", padding={self._padding_arg!r}"
        if self.dilation_rate != (1, 1):
            s += f", kernel_dilation={self.dilation_rate}"
        if self.groups != 1:
            s += f", feature_group_count={self.groups}"
        if not self.use_bias:
            s += ", use_bias=False"
        return s


class Dense(_keras.Dense):
    """Flax's ``nn.Dense(features, use_bias=True)``: ``x @ kernel + bias`` on the last axis.

    Parameters
    ----------
    features : int
        Output features.
    use_bias : bool, default True
        Add a learned bias.

    Shape
    -----
    ``(*, in)`` -> ``(*, features)``; ``kernel`` ``(in, features)`` and ``bias``
    ``(features,)``, created by the first call.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv.nn import flax
    >>> dense = flax.Dense(120)
    >>> tuple(dense(np.zeros((2, 400), np.float32)).shape), tuple(dense.kernel.shape)
    ((2, 120), (400, 120))
    >>> dense
    Dense(features=120)
    """

    summary_name = "Dense"

    def __init__(self, features: int, use_bias: bool = True) -> None:
        features = positive_int("features", features)
        super().__init__(features, None, flag("use_bias", use_bias))
        self.features = features

    def _effective_init(self) -> Any:
        return self._init if self._init is not None else _FLAX_INIT

    def extra_repr(self) -> str:
        return f"features={self.features}" + ("" if self.use_bias else ", use_bias=False")


# -- normalisation and dropout --------------------------------------------------------------------


class BatchNorm(Module):
    """Flax's ``nn.BatchNorm(use_running_average=None, axis=-1, momentum=0.99, epsilon=1e-5,
    use_bias=True, use_scale=True)``.

    With ``use_running_average`` False, the input is normalised with the batch's mean and
    (biased) variance over every axis but ``axis`` and the statistics follow Flax's rule
    ``ra = momentum * ra + (1 - momentum) * batch``; with True, the running statistics are
    used. ``use_running_average`` may be given to the constructor or to the call (not both,
    as in Flax); given to neither, portconv's mode decides (``model.train()``: the batch's,
    ``model.eval()``: the running ones), which is how portconv's JAX-edition models use it.

    Parameters
    ----------
    use_running_average : bool, optional
        Normalise with the running statistics rather than the batch's.
    axis : int, default -1
        The feature (channel) axis.
    momentum : float, default 0.99
        The weight of the old value in the running statistics, in [0, 1].
    epsilon : float, default 1e-5
        Added to the variance (> 0).
    use_bias : bool, default True
        Add the learned ``bias``.
    use_scale : bool, default True
        Multiply by the learned ``scale``.

    Shape
    -----
    Any shape with at least two axes -> the same; ``scale``, ``bias`` and the statistics
    ``mean``, ``var`` ``(C,)``, created by the first call (Flax's ``batch_stats``).

    Examples
    --------
    >>> import numpy as np
    >>> from portconv.nn import flax
    >>> bn = flax.BatchNorm()
    >>> bn
    BatchNorm(momentum=0.99, epsilon=1e-05)
    >>> y = bn(np.arange(8.0).reshape(4, 2))
    >>> y.data.mean(axis=0).round(6) + 0.0, bn.mean
    (array([0., 0.]), array([0.03, 0.04]))
    >>> bn(np.arange(8.0).reshape(4, 2), use_running_average=True).data[0].round(3)
    array([-0.029,  0.941])
    """

    summary_name = "BatchNorm"
    takes_array = True

    def __init__(
        self,
        use_running_average: bool | None = None,
        axis: int = -1,
        momentum: float = 0.99,
        epsilon: float = 1e-5,
        use_bias: bool = True,
        use_scale: bool = True,
    ) -> None:
        super().__init__()
        self.use_running_average = _merge("use_running_average", use_running_average, None)
        if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
            raise ArrayTypeError(f"axis: expected an int, got {axis!r}")
        self.axis = int(axis)
        self.momentum = real_number("momentum", momentum, low=0.0, high=1.0)
        self.epsilon = real_number("epsilon", epsilon, low=0.0, low_open=True)
        self.use_bias = flag("use_bias", use_bias)
        self.use_scale = flag("use_scale", use_scale)
        if self.use_scale:
            self.declare("scale", (None,), "ones")
        if self.use_bias:
            self.declare("bias", (None,), "zeros")
        self.register_buffer("mean", None)
        self.register_buffer("var", None)

    def check_input(self, x: Any) -> None:
        data = _float_input(x)
        if data.ndim < 2 or not -data.ndim <= self.axis < data.ndim:
            raise ArgumentError(
                f"input: BatchNorm(axis={self.axis}) expects an input with a batch axis and "
                f"axis {self.axis}, got shape {tuple(data.shape)}"
            )
        mean = self.mean
        if mean is not None and int(mean.shape[0]) != int(data.shape[self.axis]):
            raise ArgumentError(
                f"input: BatchNorm was built for {int(mean.shape[0])} features on axis "
                f"{self.axis}, got an input of shape {tuple(data.shape)}"
            )

    def infer_shape(self, shape: tuple, walk: Any) -> tuple[tuple, int]:
        """The dry run's rule (:mod:`portconv.models.shapes`): the shape unchanged, a scale
        and a bias per feature."""
        if len(shape) < 2 or not -len(shape) <= self.axis < len(shape):
            raise ArgumentError(
                f"input: BatchNorm(axis={self.axis}) expects an input with a batch axis and "
                f"axis {self.axis}, got shape {shape}"
            )
        c = shape[self.axis]
        if self.mean is not None and int(self.mean.shape[0]) != c:
            raise ArgumentError(
                f"input: BatchNorm was built for {int(self.mean.shape[0])} features on axis "
                f"{self.axis}, got an input of shape {shape}"
            )
        return shape, c * (int(self.use_scale) + int(self.use_bias))

    def forward(self, x: Any, use_running_average: bool | None = None) -> Variable:
        running = _merge("use_running_average", self.use_running_average, use_running_average)
        self.check_input(x)
        data = _data(x)
        ndim = data.ndim
        ax = self.axis % ndim
        c = int(data.shape[ax])
        if self._incomplete():
            with _creation_lock:
                for name in ("scale", "bias"):
                    if self._params.get(name, 0) is None:
                        self.materialise(name, (c,), data)
                if self.mean is None:
                    self.register_buffer("mean", _host_to(np.zeros(c), data))
                    self.register_buffer("var", _host_to(np.ones(c), data))
        if running is None:
            running = not self.training
        stats = (self.mean, self.var) if running else None
        y, batch = batch_norm(
            x, ax, self.epsilon, self._params.get("scale"), self._params.get("bias"), stats
        )
        if batch is not None:
            running = {"mean": batch[0], "var": batch[1]}
            running_update(self, running, self.momentum, 1.0 - self.momentum)
        return y

    def extra_repr(self) -> str:
        s = ""
        if self.use_running_average is not None:
            s += f"use_running_average={self.use_running_average}, "
        if self.axis != -1:
            s += f"axis={self.axis}, "
        s += f"momentum={self.momentum}, epsilon={self.epsilon}"
        if not self.use_bias:
            s += ", use_bias=False"
        if not self.use_scale:
            s += ", use_scale=False"
        return s


class Dropout(Module):
    """Flax's ``nn.Dropout(rate, deterministic=None)``: unless deterministic, each element is
    zeroed with probability ``rate`` and the rest scaled by ``1 / (1 - rate)`` (masks from
    :mod:`portconv.nn.init`'s seeded generator, where Flax draws from its ``dropout`` rng).

    ``deterministic`` may be given to the constructor or to the call (not both, as in Flax);
    given to neither, portconv's mode decides (``model.train()``: dropping,
    ``model.eval()``: the input returned).

    Parameters
    ----------
    rate : float
        The probability of zeroing, in [0, 1].
    deterministic : bool, optional
        Return the input unchanged.

    Shape
    -----
    Any shape -> the same.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv.nn import flax
    >>> drop = flax.Dropout(0.5)
    >>> drop
    Dropout(rate=0.5)
    >>> x = np.ones((2, 3), np.float32)
    >>> drop(x, deterministic=True) is x
    True
    """

    summary_name = "Dropout"
    takes_array = True

    def __init__(self, rate: float, deterministic: bool | None = None) -> None:
        super().__init__()
        self.rate = real_number("rate", rate, low=0.0, high=1.0)
        self.deterministic = _merge("deterministic", deterministic, None)

    def infer_shape(self, shape: tuple, walk: Any) -> tuple[tuple, int]:
        """The dry run's rule: the shape unchanged, no parameters."""
        return shape, 0

    def forward(self, x: Any, deterministic: bool | None = None) -> Any:
        det = _merge("deterministic", self.deterministic, deterministic)
        if det is None:
            det = not self.training
        if det or self.rate == 0.0:
            return x
        data = _float_input(x)  # an integer array cannot hold the scaled survivors
        if self.rate == 1.0:  # Flax: everything dropped
            return ag.multiply(x, _host_to(np.zeros(tuple(data.shape)), data))
        keep = _init.generator().random(tuple(data.shape)) >= self.rate
        return ag.multiply(x, _host_to(keep / (1.0 - self.rate), data))

    def extra_repr(self) -> str:
        s = f"rate={self.rate}"
        if self.deterministic is not None:
            s += f", deterministic={self.deterministic}"
        return s


# -- pooling functions ----------------------------------------------------------------------------


def _window(value: Any) -> tuple[int, ...]:
    if (
        not isinstance(value, Sequence)
        or isinstance(value, str)
        or not 1 <= len(value) <= 3
        or not all(_is_int(v) for v in value)
    ):
        raise ArgumentError(
            f"window_shape: expected a tuple of 1 to 3 ints (one per spatial axis), got {value!r}"
        )
    return int_tuple("window_shape", value, len(value))


def _pool_padding(value: Any, d: int, spatial: tuple, window: tuple, strides: tuple) -> tuple:
    """Flax's pooling ``padding`` as (low, high) pairs: 'SAME'/'VALID' (any case, resolved by
    the one SAME rule of :mod:`portconv.ops._call`) or one pair per spatial axis."""
    if isinstance(value, str):
        if value.lower() not in ("same", "valid", "same_lower"):
            raise ArgumentError(
                f"padding: expected 'SAME', 'VALID' or {d} (low, high) pairs, got {value!r}"
            )
    elif not (
        isinstance(value, Sequence)
        and len(value) == d
        and all(isinstance(p, Sequence) and not isinstance(p, str) and len(p) == 2 for p in value)
    ):
        raise ArgumentError(
            f"padding: expected 'SAME', 'VALID' or {d} (low, high) pairs (one per axis of "
            f"window_shape), got {value!r}"
        )
    return padding_pairs(
        "padding",
        value,
        d,
        spatial=spatial,
        kernel=window,
        stride=strides,
        dilation=(1,) * d,
    )


def _pool(
    kind: str, inputs: Any, window_shape: Any, strides: Any, padding: Any, count: bool = True
) -> Variable:
    require_array(inputs)
    window = _window(window_shape)
    d = len(window)
    stride = (1,) * d if strides is None else int_tuple("strides", strides, d)
    data = _data(inputs)
    if data.ndim < d + 1:
        raise ArgumentError(
            f"inputs: a window of {d} axes needs (batch..., {d} spatial axes, features), got "
            f"shape {tuple(data.shape)}"
        )
    shape = tuple(int(s) for s in data.shape)
    batch, spatial = shape[: -d - 1], shape[-d - 1 : -1]
    pads = _pool_padding(padding, d, spatial, window, stride)
    x = ag.reshape(inputs, (math.prod(batch),) + shape[-d - 1 :])  # Flax: any batch axes
    if kind == "max":
        y = ag.max_pool(x, window, stride, pads, layout="channels_last")
    else:
        _float_input(inputs)  # an average of integers is not an integer
        y = ag.avg_pool(x, window, stride, pads, count_include_pad=count, layout="channels_last")
    return ag.reshape(y, batch + tuple(int(s) for s in y.shape[1:]))


def max_pool(inputs: Any, window_shape: Any, strides: Any = None, padding: Any = "VALID") -> Any:
    """Flax's ``nn.max_pool(inputs, window_shape, strides=None, padding="VALID")`` on
    channels-last input.

    Parameters
    ----------
    inputs : array or Variable
        ``(batch..., *spatial, features)``: any number of batch axes (none included), then
        ``len(window_shape)`` spatial axes and the features.
    window_shape : tuple of int
        The window, one int per spatial axis (1 to 3).
    strides : tuple of int, optional
        Step of the window; default 1 on every axis (Flax's default, not the window).
    padding : 'SAME', 'VALID' or sequence of (int, int)
        'SAME': TensorFlow's rule, ``out = ceil(in / stride)``; or one ``(low, high)`` pair per
        spatial axis. The padding is never chosen as a maximum.

    Returns
    -------
    Variable
        ``(batch..., *out, features)``; an integer input keeps its dtype.

    Raises
    ------
    ArgumentError
        A window, stride or padding that does not fit the input, named.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv.nn import flax
    >>> x = np.arange(16.0).reshape(1, 4, 4, 1)
    >>> flax.max_pool(x, (2, 2), strides=(2, 2)).data[0, :, :, 0]
    array([[ 5.,  7.],
           [13., 15.]])
    >>> flax.max_pool(x, (3, 3), padding="SAME").shape
    (1, 4, 4, 1)
    """
    return _pool("max", inputs, window_shape, strides, padding)


def avg_pool(
    inputs: Any,
    window_shape: Any,
    strides: Any = None,
    padding: Any = "VALID",
    count_include_pad: bool = True,
) -> Any:
    """Flax's ``nn.avg_pool(inputs, window_shape, strides=None, padding="VALID",
    count_include_pad=True)`` on channels-last input.

    Parameters
    ----------
    inputs : array or Variable
        ``(batch..., *spatial, features)`` of a floating-point dtype.
    window_shape : tuple of int
        The window, one int per spatial axis (1 to 3).
    strides : tuple of int, optional
        Step of the window; default 1 on every axis (Flax's default).
    padding : 'SAME', 'VALID' or sequence of (int, int)
        As :func:`max_pool`.
    count_include_pad : bool, default True
        Divide every window by its full size, padding included (Flax's default, also with
        'SAME', where Keras and TensorFlow count only the input); False: by the number of
        input elements it covers.

    Returns
    -------
    Variable
        ``(batch..., *out, features)``.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv.nn import flax
    >>> x = np.ones((1, 3, 3, 1))
    >>> flax.avg_pool(x, (3, 3), padding="SAME").data[0, :, :, 0].round(4)
    array([[0.4444, 0.6667, 0.4444],
           [0.6667, 1.    , 0.6667],
           [0.4444, 0.6667, 0.4444]])
    >>> float(flax.avg_pool(x, (3, 3), padding="SAME", count_include_pad=False).data[0, 0, 0, 0])
    1.0
    """
    return _pool(
        "avg", inputs, window_shape, strides, padding, flag("count_include_pad", count_include_pad)
    )


# -- the JAX edition's function entries, as layers ------------------------------------------------

#: the class name the JAX edition's layer_summary prints for each activation function
_ACTIVATIONS = {
    "relu": (ag.relu, "custom_jvp"),
    "sigmoid": (ag.sigmoid, "PjitFunction"),
    "tanh": (ag.tanh, "PjitFunction"),
}


class Activation(Module):
    """An activation function as an entry of a Sequential, as the JAX edition lists
    ``nn.relu`` or ``nn.sigmoid`` in its ``nn.Sequential``.

    Parameters
    ----------
    name : {'relu', 'sigmoid', 'tanh'}
        The function. :meth:`~portconv.nn.Module.layer_summary` prints the class of the
        JAX function (``custom_jvp`` for ``nn.relu``, ``PjitFunction`` for the others).

    Shape
    -----
    Any shape -> the same.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv.nn import flax
    >>> flax.Activation("relu")(np.array([[-1.0, 2.0]])).data
    array([[0., 2.]])
    """

    takes_array = True

    def __init__(self, name: str) -> None:
        super().__init__()
        if not isinstance(name, str) or name not in _ACTIVATIONS:
            raise ArgumentError(f"name: expected 'relu', 'sigmoid' or 'tanh', got {name!r}")
        self.name = name
        self.fn, self.summary_name = _ACTIVATIONS[name]

    def infer_shape(self, shape: tuple, walk: Any) -> tuple[tuple, int]:
        """The dry run's rule: the shape unchanged, no parameters."""
        return shape, 0

    def forward(self, x: Any) -> Variable:
        _float_input(x)
        return self.fn(x)

    def extra_repr(self) -> str:
        return repr(self.name)


class _FunctionEntry(Module):
    """A lambda of the JAX edition's Sequential lists: layer_summary prints ``function``."""

    summary_name = "function"
    takes_array = True


class MaxPool(_FunctionEntry):
    """``lambda x: nn.max_pool(x, window_shape, strides, padding)`` as a Sequential entry
    (:func:`max_pool`, Flax's defaults: strides 1, 'VALID').

    Parameters
    ----------
    window_shape : tuple of int
        The window.
    strides : tuple of int, optional
        Step of the window (default 1).
    padding : 'SAME', 'VALID' or sequence of (int, int)
        As :func:`max_pool`.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv.nn import flax
    >>> pool = flax.MaxPool((3, 3), strides=(2, 2))
    >>> pool
    MaxPool(window_shape=(3, 3), strides=(2, 2), padding='VALID')
    >>> pool(np.zeros((1, 54, 54, 96), np.float32)).shape
    (1, 26, 26, 96)
    """

    kind = "max"

    def __init__(self, window_shape: Any, strides: Any = None, padding: Any = "VALID") -> None:
        super().__init__()
        self.window_shape = _window(window_shape)
        d = len(self.window_shape)
        self.strides = (1,) * d if strides is None else int_tuple("strides", strides, d)
        if not isinstance(padding, str):
            _pool_padding(padding, d, (), (), ())  # checks the form now; sizes at the call
        elif padding.lower() not in ("same", "valid", "same_lower"):
            raise ArgumentError(
                f"padding: expected 'SAME', 'VALID' or {d} (low, high) pairs, got {padding!r}"
            )
        self.padding = padding

    def infer_shape(self, shape: tuple, walk: Any) -> tuple[tuple, int]:
        """The dry run's rule: the pooling's output shape (the padding resolved by the one
        SAME rule, the sizes by the ops' output-size rule), no parameters."""
        d = len(self.window_shape)
        if len(shape) < d + 1:
            raise ArgumentError(
                f"inputs: a window of {d} axes needs (batch..., {d} spatial axes, features), "
                f"got shape {shape}"
            )
        spatial = shape[-d - 1 : -1]
        pads = _pool_padding(self.padding, d, spatial, self.window_shape, self.strides)
        out = tuple(
            output_size(n, k, s, 1, lo, hi)
            for n, k, s, (lo, hi) in zip(spatial, self.window_shape, self.strides, pads)
        )
        if min(out, default=1) < 1:
            raise ArgumentError(
                f"window_shape: {self.window_shape} does not fit the padded input {spatial} "
                f"(padding {pads})"
            )
        return shape[: -d - 1] + out + shape[-1:], 0

    def forward(self, x: Any) -> Variable:
        if self.kind == "max":
            return max_pool(x, self.window_shape, self.strides, self.padding)
        return avg_pool(x, self.window_shape, self.strides, self.padding)

    def extra_repr(self) -> str:
        return f"window_shape={self.window_shape}, strides={self.strides}, padding={self.padding!r}"


class AvgPool(MaxPool):
    """``lambda x: nn.avg_pool(x, window_shape, strides, padding)`` as a Sequential entry
    (:func:`avg_pool`, Flax's defaults: strides 1, 'VALID', padding counted).

    Parameters
    ----------
    window_shape : tuple of int
        The window.
    strides : tuple of int, optional
        Step of the window (default 1).
    padding : 'SAME', 'VALID' or sequence of (int, int)
        As :func:`avg_pool`.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv.nn import flax
    >>> flax.AvgPool((2, 2), strides=(2, 2))(np.zeros((1, 28, 28, 6), np.float32)).shape
    (1, 14, 14, 6)
    """

    kind = "avg"


class GlobalAvgPool(_FunctionEntry):
    """The JAX edition's global average pooling, ``lambda x: nn.avg_pool(x,
    window_shape=x.shape[1:3], strides=x.shape[1:3], padding='valid')``: ``(N, H, W, C)`` ->
    ``(N, 1, 1, C)`` (Flax has no global pooling layer).

    Examples
    --------
    >>> import numpy as np
    >>> from portconv.nn import flax
    >>> flax.GlobalAvgPool()(np.ones((2, 3, 3, 4))).shape
    (2, 1, 1, 4)
    """

    def infer_shape(self, shape: tuple, walk: Any) -> tuple[tuple, int]:
        """The dry run's rule: ``(N, H, W, C)`` -> ``(N, 1, 1, C)``."""
        if len(shape) != 4:
            raise ArgumentError(
                f"input: GlobalAvgPool expects 4-D input (N, H, W, C), got shape {shape}"
            )
        return (shape[0], 1, 1, shape[3]), 0

    def forward(self, x: Any) -> Variable:
        data = _data(x)
        if data.ndim != 4:
            raise ArgumentError(
                f"input: GlobalAvgPool expects 4-D input (N, H, W, C), got shape "
                f"{tuple(data.shape)}"
            )
        window = tuple(int(s) for s in data.shape[1:3])
        return avg_pool(x, window, window, "VALID")


class Flatten(_FunctionEntry):
    """The JAX edition's ``lambda x: x.reshape((x.shape[0], -1))``: every axis but the batch
    merged, in channels-last order.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv.nn import flax
    >>> flax.Flatten()(np.zeros((2, 5, 5, 16), np.float32)).shape
    (2, 400)
    """

    def infer_shape(self, shape: tuple, walk: Any) -> tuple[tuple, int]:
        """The dry run's rule: every axis but the batch merged."""
        if len(shape) < 1:
            raise ArgumentError(f"input: Flatten expects a batch axis, got shape {shape}")
        return (shape[0], math.prod(shape[1:])), 0

    def forward(self, x: Any) -> Variable:
        data = _data(x)
        if data.ndim < 1:
            raise ArgumentError(f"input: Flatten expects a batch axis, got shape {data.shape}")
        return ag.reshape(x, (int(data.shape[0]), math.prod(int(s) for s in data.shape[1:])))


# -- Flax's variable trees ------------------------------------------------------------------------

#: Flax's leaf names: parameters (collection "params") and batch statistics ("batch_stats")
_PARAM_LEAVES = ("kernel", "bias", "scale")
_STAT_LEAVES = ("mean", "var")


def _flax_paths(model: Module) -> dict[str, tuple[str, tuple, str]]:
    """portconv name -> (collection, path, leaf) in the tree Flax gives the same model: a
    ``Sequential``'s child ``i`` is ``layers_i``, other children keep their names."""
    if not isinstance(model, Module):
        raise ArrayTypeError(f"model: expected a portconv.nn.Module, got {describe_type(model)}")
    out: dict = {}

    def walk(m: Module, ours: str, path: tuple) -> None:
        for leaf in list(m._params) + list(m._buffers):
            if leaf in _PARAM_LEAVES and leaf in m._params:
                out[ours + leaf] = ("params", path, leaf)
            elif leaf in _STAT_LEAVES and leaf in m._buffers:
                out[ours + leaf] = ("batch_stats", path, leaf)
            else:
                raise ArgumentError(
                    f"{ours}{leaf} ({type(m).__name__}): not a Flax-named parameter (kernel, "
                    f"bias, scale) or batch statistic (mean, var); for portconv's channels-first "
                    f"layers use portconv.porting.export_flax_params/load_flax_params"
                )
        for cname, child in m._children.items():
            if child is not None:
                key = f"layers_{cname}" if isinstance(m, Sequential) else cname
                walk(child, f"{ours}{cname}.", path + (key,))

    walk(model, "", ())
    return out


def variables(model: Module, *, backend: str = "numpy") -> dict:
    """``model``'s parameters as the Flax variables of the same model, ``{"params": ...,
    "batch_stats": ...}``, for ``flax_model.apply(variables, x)``.

    Parameters
    ----------
    model : Module
        A model built from this module's layers (e.g. :mod:`portconv.models.flax`), whose
        parameters exist (call it once, or use ``layer_summary``).
    backend : str
        The library of the arrays returned: ``"numpy"`` (default) or ``"jax"`` (any name of
        :func:`portconv.backend_names`).

    Returns
    -------
    dict
        Nested dicts of arrays in Flax's layouts (they are portconv's here: nothing is
        transposed); ``"batch_stats"`` only where the model has batch norms.

    Raises
    ------
    ArgumentError
        Parameters not created yet, or a layer whose parameters are not Flax-named.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> from portconv.nn import flax
    >>> net = nn.Sequential(flax.Conv(4, (3, 3)), flax.Activation("relu"), flax.BatchNorm())
    >>> _ = net(np.zeros((1, 5, 5, 2), np.float32))
    >>> tree = flax.variables(net)
    >>> tree["params"]["layers_0"]["kernel"].shape, sorted(tree["batch_stats"]["layers_2"])
    ((3, 3, 2, 4), ['mean', 'var'])
    """
    from .._dispatch import asarray, backend_of

    where = _flax_paths(model)
    state = model.state_dict()
    waiting = [n for n in where if n not in state]
    if not state or waiting:
        raise ArgumentError(
            f"{type(model).__name__} has no parameters yet ({(waiting or ['all'])[0]}): call "
            f"it once on an input (or use layer_summary) so that its layers create them"
        )
    out: dict = {}
    for name, value in state.items():
        collection, path, leaf = where[name]
        node = out.setdefault(collection, {})
        for key in path:
            node = node.setdefault(key, {})
        host = np.asarray(backend_of(value).adapter.to_numpy(value))
        node[leaf] = asarray(host, backend)
    return out


def load_variables(model: Module, variables: Any) -> Module:
    """Load Flax variables (what ``flax_model.init`` returns for the same model) into
    ``model``, name for name; nothing changes unless every name and shape fits.

    Parameters
    ----------
    model : Module
        A model built from this module's layers; parameters it has not created yet (before a
        first call) are created from the values.
    variables : dict
        ``{"params": ..., "batch_stats": ...}`` or the params tree alone; leaves are arrays of
        any library (JAX's included).

    Returns
    -------
    Module
        ``model``, holding the values.

    Raises
    ------
    ArgumentError
        A leaf the model lacks or a parameter the tree lacks (both named by their Flax path),
        a shape that does not match, or a collection other than params and batch_stats.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> from portconv.nn import flax
    >>> tree = {"params": {"layers_0": {"kernel": np.ones((3, 3, 1, 2)), "bias": np.zeros(2)}}}
    >>> net = flax.load_variables(nn.Sequential(flax.Conv(2, (3, 3))), tree)
    >>> net(np.ones((1, 3, 3, 1))).data[0, 1, 1]
    array([9., 9.])
    """
    from .._dispatch import backend_of

    if not isinstance(variables, Mapping):
        raise ArrayTypeError(
            f"variables: expected Flax variables ({{'params': ..., 'batch_stats': ...}}) or a "
            f"params dict, got {describe_type(variables)}"
        )
    if not isinstance(variables.get("params"), Mapping):
        variables = {"params": variables}
    unknown = [c for c in variables if c not in ("params", "batch_stats")]
    if unknown:
        raise ArgumentError(
            f"variables: collections {', '.join(map(repr, unknown))} have no portconv "
            f"counterpart (only 'params' and 'batch_stats' are loaded)"
        )
    leaves: dict = {}

    def walk(tree: Any, path: tuple) -> None:
        for key, value in tree.items():
            if isinstance(value, Mapping):
                walk(value, path + (str(key),))
            else:
                leaves[path + (str(key),)] = value

    for collection, tree in variables.items():
        if tree is not None:
            walk(tree, (collection,))
    where = _flax_paths(model)
    theirs = {(c,) + path + (leaf,): name for name, (c, path, leaf) in where.items()}
    extra = [p for p in leaves if p not in theirs]
    if extra:
        raise ArgumentError(
            f"variables: {'/'.join(extra[0])} has no counterpart in {type(model).__name__} "
            f"(its Flax tree holds {', '.join('/'.join(p) for p in list(theirs)[:6])}, ...)"
        )
    missing = [p for p in theirs if p not in leaves]
    if missing:
        raise ArgumentError(
            f"variables: {'/'.join(missing[0])} is missing ({type(model).__name__} needs it)"
        )
    state = {}
    for path, value in leaves.items():
        host = value
        if not isinstance(value, np.ndarray):
            try:
                host = np.asarray(backend_of(value).adapter.to_numpy(value))
            except TypeError:  # not an array of a known library: a list, a scalar
                host = np.asarray(value)
        state[theirs[path]] = host
    model.load_state_dict(state, strict=True)
    return model
