"""Keras-named layers on channels-last arrays, for the book's TensorFlow edition.

``from portconv.nn import keras``, then ``keras.Conv2D(filters, kernel_size, strides=1,
padding="valid"|"same", activation=...)``, ``keras.MaxPool2D``/``keras.AveragePooling2D``
(with Keras's ``padding="same"`` pooling), ``keras.GlobalAveragePooling2D`` (which flattens),
``keras.Dense``, ``keras.Flatten``, ``keras.Reshape``, ``keras.BatchNormalization`` and
``keras.Dropout``, in a :class:`portconv.nn.Sequential`. Inputs are ``(N, H, W, C)`` by
default (Keras's ``data_format="channels_last"``); the convolution's kernel is stored as
Keras stores it, ``(kh, kw, C_in, filters)`` (HWIO) and named ``kernel``, the batch norm's
parameters ``gamma``/``beta`` and its statistics ``moving_mean``/``moving_variance``.
Parameters are drawn as Keras draws them (Glorot-uniform kernels, zero biases) from
:mod:`portconv.nn.init`'s seeded generator, and created by the first call, which fixes the
input's channel count, as Keras's ``build``.

The convolution and pooling ops compute channels-last input in its layout (no transposing
here); results are :class:`portconv.autograd.Variable` objects of the input's library.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from .. import autograd as ag
from ..autograd import Variable
from ..errors import ArgumentError, ArrayTypeError, describe_type
from ..ops._args import int_tuple
from ..ops._common import prepare
from . import init as _init
from ._checks import flag, positive_int, real_number
from .layers import Dropout as _TorchDropout
from .layers import _data, _float_input, batch_norm, running_update
from .module import Module, _creation_lock, _host_to, require_array

__all__ = [
    "Activation",
    "Add",
    "AveragePooling2D",
    "AvgPool2D",
    "BatchNormalization",
    "Concatenate",
    "Conv2D",
    "Dense",
    "Dropout",
    "Flatten",
    "GlobalAveragePooling2D",
    "GlobalAvgPool2D",
    "GlobalMaxPool2D",
    "GlobalMaxPooling2D",
    "MaxPool2D",
    "MaxPooling2D",
    "ReLU",
    "Reshape",
    "add",
    "concatenate",
]

_KERAS_INIT = (_init.xavier_uniform(), _init.constant(0.0))  # glorot_uniform, zeros


def _keras_activation(name: Any):
    """Keras's activation names: None or 'linear' (none), 'relu', 'sigmoid', 'tanh',
    'softmax' (over the last axis)."""
    table = {
        None: None,
        "linear": None,
        "relu": ag.relu,
        "sigmoid": ag.sigmoid,
        "tanh": ag.tanh,
        "softmax": lambda y: ag.softmax(y, axis=-1),
    }
    if not (name is None or isinstance(name, str)) or name not in table:
        raise ArgumentError(
            f"activation: expected None, 'linear', 'relu', 'sigmoid', 'tanh' or 'softmax', "
            f"got {name!r}"
        )
    return table[name]


def _data_format(value: Any) -> bool:
    """Keras's ``data_format``; True for channels last (the default, None)."""
    if value is None or value == "channels_last":
        return True
    if value == "channels_first":
        return False
    raise ArgumentError(
        f"data_format: expected 'channels_last' (the default) or 'channels_first', got {value!r}"
    )


def _padding(value: Any) -> str:
    """Keras's ``padding``: 'valid' or 'same' (any case)."""
    mode = value.lower() if isinstance(value, str) else None
    if mode not in ("valid", "same"):
        raise ArgumentError(f"padding: expected 'valid' or 'same', got {value!r}")
    return mode


def _layout(last: bool) -> str:
    return "channels_last" if last else "channels_first"


def _shape(x: Any) -> tuple[int, ...]:
    return tuple(int(s) for s in _data(x).shape)


def _require_rank(layer: Module, shape: tuple, ndim: int) -> None:
    """Refuse an input shape of another rank than ``ndim`` (4: an image batch in the
    layer's layout)."""
    if len(shape) != ndim:
        meaning = "(N, H, W, C)" if getattr(layer, "channels_last", True) else "(N, C, H, W)"
        raise ArgumentError(
            f"input: {type(layer).__name__} expects {ndim}-D input {meaning}, got shape "
            f"{tuple(shape)}"
        )


class _KerasLayer(Module):
    """Keras's defaults for parameters: Glorot-uniform kernels and zero biases (until
    :meth:`~portconv.nn.Module.initialize` chooses otherwise), with Keras's fans."""

    takes_array = True

    def _effective_init(self) -> Any:
        return self._init if self._init is not None else _KERAS_INIT

    def fans(self, weight_shape: tuple) -> tuple[int, int]:
        # Keras: a kernel (*window, in, out) has fan_in = prod(window) * in
        if len(weight_shape) < 2:
            return _init.fans(weight_shape)
        receptive = math.prod(weight_shape[:-2])
        return int(weight_shape[-2]) * receptive, int(weight_shape[-1]) * receptive

    def _create(self, name: str, shape: tuple, like: Any) -> None:
        if self._params.get(name) is None:
            self.materialise(name, shape, like)


# -- convolution ---------------------------------------------------------------------------------


class Conv2D(_KerasLayer):
    """Keras's ``Conv2D(filters, kernel_size, strides=1, padding="valid", data_format=None,
    dilation_rate=1, groups=1, activation=None, use_bias=True)``: 2-D cross-correlation of
    channels-last input, as the book's TensorFlow edition uses it.

    Parameters
    ----------
    filters : int
        Output channels.
    kernel_size : int or (int, int)
        The window.
    strides : int or (int, int), default 1
        Step of the window.
    padding : {'valid', 'same'}
        'valid': none; 'same': TensorFlow's SAME, ``out = ceil(in / stride)`` with the odd
        extra row or column at the end.
    data_format : {None, 'channels_last', 'channels_first'}
        The input's layout (None: channels last). The kernel is HWIO either way, as in Keras.
    dilation_rate : int or (int, int), default 1
        Spacing of the window's taps.
    groups : int, default 1
        Split input and output channels into this many independent groups.
    activation : {None, 'linear', 'relu', 'sigmoid', 'tanh', 'softmax'}
        Applied to the output.
    use_bias : bool, default True
        Add a learned bias per filter.

    Shape
    -----
    ``(N, H, W, C_in)`` -> ``(N, H_out, W_out, filters)`` (channels first: ``(N, C, H, W)``
    -> ``(N, filters, H_out, W_out)``). ``kernel`` ``(kh, kw, C_in / groups, filters)`` and
    ``bias`` ``(filters,)``, created by the first call from its channel count.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv.nn import keras
    >>> conv = keras.Conv2D(6, 5, padding="same", activation="sigmoid")
    >>> conv
    Conv2D(filters=6, kernel_size=(5, 5), strides=(1, 1), padding='same', activation='sigmoid')
    >>> tuple(conv(np.zeros((1, 28, 28, 1), np.float32)).shape)
    (1, 28, 28, 6)
    >>> tuple(conv.kernel.shape), tuple(conv.bias.shape)
    ((5, 5, 1, 6), (6,))
    """

    summary_name = "Conv2D"

    def __init__(
        self,
        filters: int,
        kernel_size: Any,
        strides: Any = 1,
        padding: str = "valid",
        data_format: str | None = None,
        dilation_rate: Any = 1,
        groups: int = 1,
        activation: str | None = None,
        use_bias: bool = True,
    ) -> None:
        super().__init__()
        self.filters = positive_int("filters", filters)
        self.kernel_size = int_tuple("kernel_size", kernel_size, 2)
        self.strides = int_tuple("strides", strides, 2)
        self.padding = _padding(padding)
        self.channels_last = _data_format(data_format)
        self.dilation_rate = int_tuple("dilation_rate", dilation_rate, 2)
        self.groups = positive_int("groups", groups)
        if self.filters % self.groups:
            raise ArgumentError(
                f"groups: filters={self.filters} is not divisible by groups={self.groups}"
            )
        self.activation = activation
        self.act = _keras_activation(activation)
        self.use_bias = flag("use_bias", use_bias)
        self.declare("kernel", self.kernel_size + (None, self.filters), "weight")
        if self.use_bias:
            self.declare("bias", (self.filters,), "bias")

    def in_channels(self, shape: tuple) -> int:
        """The input channels of an input of ``shape``, checked against the layer (rank,
        the channel count it was built for, ``groups``); the dry run of
        :mod:`portconv.models.shapes` uses it too."""
        _require_rank(self, shape, 4)
        cin = int(shape[-1] if self.channels_last else shape[1])
        k = self._params.get("kernel")
        if k is not None and cin != int(k.shape[2]) * self.groups:
            raise ArgumentError(
                f"input: Conv2D was built for {int(k.shape[2]) * self.groups} input channels "
                f"(kernel {tuple(k.shape)}), got an input of shape {tuple(shape)}"
            )
        if cin % self.groups:
            raise ArgumentError(
                f"input: {cin} input channels (shape {tuple(shape)}) are not divisible "
                f"by groups={self.groups}"
            )
        return cin

    def check_input(self, x: Any) -> None:
        self.in_channels(_shape(_float_input(x)))

    def forward(self, x: Any) -> Variable:
        self.check_input(x)
        data = _data(x)
        if self._incomplete():
            with _creation_lock:
                cin = self.in_channels(_shape(data))
                shape = self.kernel_size + (cin // self.groups, self.filters)
                self._create("kernel", shape, data)
                if self.use_bias:
                    self._create("bias", (self.filters,), data)
        kernel = self._params["kernel"]
        if type(kernel.data) is not type(data):
            self._same_library_as(data, kernel.data)
        w = kernel if self.channels_last else ag.permute_dims(kernel, (3, 2, 0, 1))
        y = ag.conv2d(
            x,
            w,
            self._params.get("bias"),
            self.strides,
            self.padding,
            self.dilation_rate,
            self.groups,
            layout=_layout(self.channels_last),
        )
        return self.act(y) if self.act is not None else y

    def extra_repr(self) -> str:
        s = (
            f"filters={self.filters}, kernel_size={self.kernel_size}, strides={self.strides}, "
            f"padding={self.padding!r}"
        )
        if not self.channels_last:
            s += ", data_format='channels_first'"
        if self.dilation_rate != (1, 1):
            s += f", dilation_rate={self.dilation_rate}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.activation not in (None, "linear"):
            s += f", activation={self.activation!r}"
        if not self.use_bias:
            s += ", use_bias=False"
        return s


# -- pooling -------------------------------------------------------------------------------------


class _Pooling2D(Module):
    kind = "max"
    takes_array = True

    def __init__(
        self,
        pool_size: Any = 2,
        strides: Any = None,
        padding: str = "valid",
        data_format: str | None = None,
    ) -> None:
        super().__init__()
        self.pool_size = int_tuple("pool_size", pool_size, 2)
        self.strides = self.pool_size if strides is None else int_tuple("strides", strides, 2)
        self.padding = _padding(padding)
        self.channels_last = _data_format(data_format)

    def forward(self, x: Any) -> Variable:
        data = _data(x)
        _require_rank(self, _shape(data), 4)
        layout = _layout(self.channels_last)
        if self.kind == "max":
            return ag.max_pool2d(x, self.pool_size, self.strides, self.padding, layout=layout)
        _float_input(x)  # an average of integers is not an integer
        return ag.avg_pool2d(
            x, self.pool_size, self.strides, self.padding, count_include_pad=False, layout=layout
        )

    def extra_repr(self) -> str:
        s = f"pool_size={self.pool_size}, strides={self.strides}, padding={self.padding!r}"
        if not self.channels_last:
            s += ", data_format='channels_first'"
        return s


class MaxPooling2D(_Pooling2D):
    """Keras's ``MaxPool2D(pool_size=2, strides=None, padding="valid", data_format=None)``
    (``MaxPooling2D`` is the same class).

    Parameters
    ----------
    pool_size : int or (int, int), default 2
        The window.
    strides : int or (int, int), optional
        Step of the window; default the window.
    padding : {'valid', 'same'}
        'same': TensorFlow's SAME, ``out = ceil(in / stride)``, the padding never chosen as a
        maximum.
    data_format : {None, 'channels_last', 'channels_first'}
        The input's layout (None: channels last).

    Shape
    -----
    ``(N, H, W, C)`` -> ``(N, H_out, W_out, C)``; an integer input keeps its dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv.nn import keras
    >>> pool = keras.MaxPool2D(2, padding="same")
    >>> pool
    MaxPooling2D(pool_size=(2, 2), strides=(2, 2), padding='same')
    >>> pool(np.arange(9).reshape(1, 3, 3, 1)).data[0, :, :, 0]
    array([[4, 5],
           [7, 8]])
    """

    kind = "max"
    summary_name = "MaxPooling2D"


class AveragePooling2D(_Pooling2D):
    """Keras's ``AveragePooling2D(pool_size=2, strides=None, padding="valid",
    data_format=None)`` (``AvgPool2D`` is the same class).

    Parameters
    ----------
    pool_size : int or (int, int), default 2
        The window.
    strides : int or (int, int), optional
        Step of the window; default the window.
    padding : {'valid', 'same'}
        'same': TensorFlow's SAME, ``out = ceil(in / stride)``; each window averages only the
        input it covers (the padding is never counted).
    data_format : {None, 'channels_last', 'channels_first'}
        The input's layout (None: channels last).

    Shape
    -----
    ``(N, H, W, C)`` -> ``(N, H_out, W_out, C)``.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv.nn import keras
    >>> pool = keras.AveragePooling2D(2, padding="same")
    >>> pool(np.arange(9.0).reshape(1, 3, 3, 1)).data[0, :, :, 0]
    array([[2. , 3.5],
           [6.5, 8. ]])
    """

    kind = "avg"
    summary_name = "AveragePooling2D"


#: Keras's other names of the same classes
MaxPool2D = MaxPooling2D
AvgPool2D = AveragePooling2D


class _GlobalPooling2D(Module):
    kind = "avg"
    takes_array = True

    def __init__(self, data_format: str | None = None, keepdims: bool = False) -> None:
        super().__init__()
        self.channels_last = _data_format(data_format)
        self.keepdims = flag("keepdims", keepdims)

    def forward(self, x: Any) -> Variable:
        data = _data(x)
        _require_rank(self, _shape(data), 4)
        if self.kind == "avg":
            _float_input(x)
        op = ag.global_avg_pool if self.kind == "avg" else ag.global_max_pool
        y = op(x, layout=_layout(self.channels_last))
        if self.keepdims:
            return y
        return ag.flatten(y, 1)

    def extra_repr(self) -> str:
        s = "" if self.channels_last else "data_format='channels_first'"
        if self.keepdims:
            s += (", " if s else "") + "keepdims=True"
        return s


class GlobalAveragePooling2D(_GlobalPooling2D):
    """Keras's ``GlobalAveragePooling2D(data_format=None, keepdims=False)``: the mean of each
    channel, flattened to ``(N, C)`` (unlike Gluon's ``GlobalAvgPool2D``).

    Parameters
    ----------
    data_format : {None, 'channels_last', 'channels_first'}
        The input's layout (None: channels last).
    keepdims : bool, default False
        Keep the spatial axes (as length 1).

    Shape
    -----
    ``(N, H, W, C)`` -> ``(N, C)``.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv.nn import keras
    >>> keras.GlobalAveragePooling2D()(np.ones((2, 5, 5, 3), np.float32)).shape
    (2, 3)
    """

    kind = "avg"
    summary_name = "GlobalAveragePooling2D"


class GlobalMaxPooling2D(_GlobalPooling2D):
    """Keras's ``GlobalMaxPooling2D(data_format=None, keepdims=False)``: the maximum of each
    channel, flattened to ``(N, C)``.

    Parameters
    ----------
    data_format : {None, 'channels_last', 'channels_first'}
        The input's layout (None: channels last).
    keepdims : bool, default False
        Keep the spatial axes (as length 1).

    Shape
    -----
    ``(N, H, W, C)`` -> ``(N, C)``.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv.nn import keras
    >>> keras.GlobalMaxPooling2D()(np.arange(8.0).reshape(1, 2, 2, 2)).data
    array([[6., 7.]])
    """

    kind = "max"
    summary_name = "GlobalMaxPooling2D"


#: Keras's other names of the same classes
GlobalAvgPool2D = GlobalAveragePooling2D
GlobalMaxPool2D = GlobalMaxPooling2D


# -- activations ----------------------------------------------------------------------------------


class Activation(Module):
    """Keras's ``Activation(activation)``: an activation function as a layer, as the book's
    TensorFlow edition writes ``tf.keras.layers.Activation('relu')``.

    Parameters
    ----------
    activation : {None, 'linear', 'relu', 'sigmoid', 'tanh', 'softmax'}
        The function (None and 'linear' return the input; 'softmax' is over the last axis).

    Shape
    -----
    Any shape -> the same.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv.nn import keras
    >>> act = keras.Activation("relu")
    >>> act
    Activation(activation='relu')
    >>> act(np.array([[-1.0, 2.0]])).data
    array([[0., 2.]])
    """

    summary_name = "Activation"
    takes_array = True

    def __init__(self, activation: str | None) -> None:
        super().__init__()
        self.act = _keras_activation(activation)
        self.activation = activation

    def forward(self, x: Any) -> Any:
        require_array(x)
        if self.act is None:
            return x
        _float_input(x)  # Keras's activations compute in floating point
        return self.act(x)

    def extra_repr(self) -> str:
        return f"activation={self.activation!r}"


class ReLU(Module):
    """Keras's ``ReLU()`` layer: ``max(x, 0)`` elementwise, as the book's TensorFlow
    DenseNet writes ``tf.keras.layers.ReLU()``.

    Shape
    -----
    Any shape -> the same.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv.nn import keras
    >>> keras.ReLU()(np.array([[-1.0, 2.0]])).data
    array([[0., 2.]])
    """

    summary_name = "ReLU"
    takes_array = True

    def forward(self, x: Any) -> Variable:
        require_array(x)
        _float_input(x)
        return ag.relu(x)


# -- merging --------------------------------------------------------------------------------------


class _Merge(Module):
    """Keras's merge layers: called with a list or tuple of arrays (``layer([a, b])``), of one
    library and one dtype (TensorFlow refuses to mix dtypes here); no parameters."""

    def _arrays(self, inputs: Any) -> list:
        """The inputs' arrays, checked as a list of arrays of one library and dtype."""
        name = type(self).__name__
        if not isinstance(inputs, list | tuple):
            raise ArrayTypeError(
                f"inputs: {name} is called with a list or tuple of arrays, as Keras's "
                f"{name}()([a, b]), got an object of type {describe_type(inputs)}"
            )
        if not inputs:
            raise ArgumentError(f"inputs: {name} needs at least one array, got an empty list")
        for i, x in enumerate(inputs):
            require_array(x, f"inputs[{i}]")
        data = [_data(x) for x in inputs]
        _, _, std = prepare(*data, names=tuple(f"inputs[{i}]" for i in range(len(data))))
        dtypes = [s.dtype for s in std]
        if any(d != dtypes[0] for d in dtypes[1:]):
            raise ArrayTypeError(
                f"inputs: {name} needs arrays of one dtype (TensorFlow does not promote "
                f"here), got {[str(d) for d in dtypes]}; cast them first"
            )
        self.compute_output_shape([tuple(int(s) for s in d.shape) for d in data])
        return data

    def _input_shapes(self, input_shape: Any) -> list[tuple[int, ...]]:
        """``input_shape`` as a list of shapes of one rank (at least 1)."""
        name = type(self).__name__
        shapes = [tuple(int(v) for v in s) for s in input_shape]
        if not shapes:
            raise ArgumentError(f"inputs: {name} needs at least one array, got none")
        if any(len(s) != len(shapes[0]) for s in shapes) or not shapes[0]:
            raise ArgumentError(
                f"inputs: {name} needs arrays of one rank with a batch axis, got shapes {shapes}"
            )
        return shapes


class Concatenate(_Merge):
    """Keras's ``Concatenate(axis=-1)``: called with a list of arrays, joins them along
    ``axis`` (the channels of channels-last input by default), as the book's TensorFlow
    GoogLeNet joins its Inception branches.

    Parameters
    ----------
    axis : int, default -1
        The axis to join along; the arrays' other sizes must agree.

    Shape
    -----
    ``[(N, ..., c_1), ..., (N, ..., c_k)]`` -> ``(N, ..., c_1 + ... + c_k)`` (for
    ``axis=-1``).

    Raises
    ------
    ArrayTypeError
        If called with something other than a list or tuple of arrays, or with arrays of two
        dtypes.
    ArgumentError
        If the list is empty, or the arrays' ranks or sizes off ``axis`` differ, or ``axis``
        is not an axis of theirs.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv.nn import keras
    >>> a, b = np.zeros((2, 4, 4, 3)), np.ones((2, 4, 4, 5))
    >>> keras.Concatenate()([a, b]).shape
    (2, 4, 4, 8)
    >>> keras.Concatenate(axis=1).compute_output_shape([(2, 3, 5), (2, 4, 5)])
    (2, 7, 5)
    """

    summary_name = "Concatenate"

    def __init__(self, axis: int = -1) -> None:
        super().__init__()
        if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
            raise ArrayTypeError(f"axis: expected an int, got {axis!r}")
        self.axis = int(axis)

    def compute_output_shape(self, input_shape: Any) -> tuple[int, ...]:
        """The output's shape for inputs of the shapes in the list ``input_shape`` (Keras's
        method; the dry run of :mod:`portconv.models.shapes` uses it)."""
        shapes = self._input_shapes(input_shape)
        ndim = len(shapes[0])
        if not -ndim <= self.axis < ndim:
            raise ArgumentError(
                f"axis: {self.axis} is not an axis of the inputs, which have {ndim} "
                f"(shapes {shapes})"
            )
        ax = self.axis % ndim
        rest = [s[:ax] + s[ax + 1 :] for s in shapes]
        if any(r != rest[0] for r in rest[1:]):
            raise ArgumentError(
                f"inputs: Concatenate(axis={self.axis}) needs shapes that agree on every axis "
                f"but axis {self.axis}, got {shapes}"
            )
        return shapes[0][:ax] + (sum(s[ax] for s in shapes),) + shapes[0][ax + 1 :]

    def forward(self, inputs: Any) -> Variable:
        self._arrays(inputs)
        return ag.concat(list(inputs), axis=self.axis)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"


class Add(_Merge):
    """Keras's ``Add()``: called with a list of arrays, their elementwise sum, as the book's
    TensorFlow ResNet adds a residual branch to its shortcut.

    The arrays have one rank and one batch size; along every other axis their sizes agree or
    are 1 (broadcast, as Keras does).

    Shape
    -----
    ``[(N, *s), ..., (N, *s)]`` -> ``(N, *s)``.

    Raises
    ------
    ArrayTypeError
        If called with something other than a list or tuple of arrays, or with arrays of two
        dtypes.
    ArgumentError
        If the list is empty, or the shapes do not broadcast together.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv.nn import keras
    >>> keras.Add()([np.ones((1, 2, 2, 3)), np.full((1, 2, 2, 3), 2.0)]).data[0, 0, 0]
    array([3., 3., 3.])
    >>> keras.Add().compute_output_shape([(4, 5, 5, 8), (4, 1, 1, 8)])
    (4, 5, 5, 8)
    """

    summary_name = "Add"

    def compute_output_shape(self, input_shape: Any) -> tuple[int, ...]:
        """The output's shape for inputs of the shapes in the list ``input_shape`` (Keras's
        method; the dry run of :mod:`portconv.models.shapes` uses it)."""
        shapes = self._input_shapes(input_shape)
        out = list(shapes[0])
        for s in shapes[1:]:
            for i, (a, b) in enumerate(zip(out, s)):
                if a != b and (i == 0 or 1 not in (a, b)):
                    raise ArgumentError(
                        f"inputs: Add needs shapes that agree (or are 1, outside the batch "
                        f"axis) on every axis, got {shapes}"
                    )
                out[i] = max(a, b) if 1 in (a, b) else a
        return tuple(out)

    def forward(self, inputs: Any) -> Any:
        self._arrays(inputs)
        y = inputs[0]
        if len(inputs) == 1:  # Keras returns a lone input as it is
            return y if isinstance(y, Variable) else Variable(y)
        for x in inputs[1:]:
            y = ag.add(y, x)
        return y


def concatenate(inputs: Any, axis: int = -1) -> Variable:
    """Keras's functional ``concatenate(inputs, axis=-1)``: ``Concatenate(axis)(inputs)``, as
    the book's TensorFlow DenseNet writes ``tf.keras.layers.concatenate([x, y], axis=-1)``.

    Parameters
    ----------
    inputs : list or tuple of arrays or Variables
        The arrays to join; their sizes agree off ``axis``.
    axis : int, default -1
        The axis to join along.

    Returns
    -------
    Variable
        The joined array, differentiable through :mod:`portconv.autograd`.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv.nn import keras
    >>> keras.concatenate([np.zeros((1, 2)), np.ones((1, 3))]).data
    array([[0., 0., 1., 1., 1.]])
    """
    return Concatenate(axis)(inputs)


def add(inputs: Any) -> Variable:
    """Keras's functional ``add(inputs)``: ``Add()(inputs)``, the elementwise sum.

    Parameters
    ----------
    inputs : list or tuple of arrays or Variables
        The arrays to add; one rank, one batch size, other sizes equal or 1.

    Returns
    -------
    Variable
        The sum, differentiable through :mod:`portconv.autograd`.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv.nn import keras
    >>> keras.add([np.ones((1, 2)), np.ones((1, 2))]).data
    array([[2., 2.]])
    """
    return Add()(inputs)


# -- dense, reshaping, normalisation, dropout -----------------------------------------------------


class Dense(_KerasLayer):
    """Keras's ``Dense(units, activation=None, use_bias=True)``: ``x @ kernel + bias`` on the
    last axis (an input of more than two axes is not flattened, as in Keras).

    Parameters
    ----------
    units : int
        Output features.
    activation : {None, 'linear', 'relu', 'sigmoid', 'tanh', 'softmax'}
        Applied to the output.
    use_bias : bool, default True
        Add a learned bias.

    Shape
    -----
    ``(*, in)`` -> ``(*, units)``; ``kernel`` ``(in, units)`` (Keras's orientation, the
    transpose of PyTorch's weight) and ``bias`` ``(units,)``, created by the first call.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv.nn import keras
    >>> dense = keras.Dense(120, activation="sigmoid")
    >>> tuple(dense(np.zeros((2, 400), np.float32)).shape), tuple(dense.kernel.shape)
    ((2, 120), (400, 120))
    >>> dense
    Dense(units=120, activation='sigmoid')
    """

    summary_name = "Dense"

    def __init__(self, units: int, activation: str | None = None, use_bias: bool = True) -> None:
        super().__init__()
        self.units = positive_int("units", units)
        self.activation = activation
        self.act = _keras_activation(activation)
        self.use_bias = flag("use_bias", use_bias)
        self.declare("kernel", (None, self.units), "weight")
        if self.use_bias:
            self.declare("bias", (self.units,), "bias")

    def in_features(self, shape: tuple) -> int:
        """The input features (last axis) of an input of ``shape``, checked against the
        layer (at least 2-D, the feature count it was built for); the dry run of
        :mod:`portconv.models.shapes` uses it too."""
        if len(shape) < 2:
            raise ArgumentError(
                f"input: Dense expects at least 2-D input (N, ..., features), got shape "
                f"{tuple(shape)}"
            )
        k = self._params.get("kernel")
        if k is not None and int(shape[-1]) != int(k.shape[0]):
            raise ArgumentError(
                f"input: Dense was built for {int(k.shape[0])} input features (kernel "
                f"{tuple(k.shape)}), got an input of shape {tuple(shape)}"
            )
        return int(shape[-1])

    def check_input(self, x: Any) -> None:
        self.in_features(_shape(_float_input(x)))

    def forward(self, x: Any) -> Variable:
        self.check_input(x)
        data = _data(x)
        if self._incomplete():
            with _creation_lock:
                self._create("kernel", (int(data.shape[-1]), self.units), data)
                if self.use_bias:
                    self._create("bias", (self.units,), data)
        kernel = self._params["kernel"]
        if type(kernel.data) is not type(data):
            self._same_library_as(data, kernel.data)
        y = ag.linear(x, ag.permute_dims(kernel, (1, 0)), self._params.get("bias"))
        return self.act(y) if self.act is not None else y

    def extra_repr(self) -> str:
        s = f"units={self.units}"
        if self.activation not in (None, "linear"):
            s += f", activation={self.activation!r}"
        if not self.use_bias:
            s += ", use_bias=False"
        return s


class Flatten(Module):
    """Keras's ``Flatten(data_format=None)``: every axis but the batch merged into one.

    Parameters
    ----------
    data_format : {None, 'channels_last', 'channels_first'}
        With 'channels_first', the input is read as ``(N, C, ...)`` and flattened in
        channels-last order, as Keras does so that a model's weights fit either layout.

    Shape
    -----
    ``(N, *)`` -> ``(N, prod(*))``.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv.nn import keras
    >>> keras.Flatten()(np.zeros((2, 5, 5, 16), np.float32)).shape
    (2, 400)
    """

    summary_name = "Flatten"
    takes_array = True

    def __init__(self, data_format: str | None = None) -> None:
        super().__init__()
        self.channels_last = _data_format(data_format)

    def forward(self, x: Any) -> Variable:
        shape = _shape(x)
        out = self.compute_output_shape(shape)
        if len(shape) == 1:
            return ag.reshape(x, out)  # Keras: (N,) -> (N, 1)
        if not self.channels_last and len(shape) > 2:
            x = ag.permute_dims(x, (0,) + tuple(range(2, len(shape))) + (1,))
        return ag.flatten(x, 1)

    def compute_output_shape(self, input_shape: tuple) -> tuple[int, int]:
        """``(N, prod(rest))`` for an input of ``input_shape`` (Keras's method; the dry run
        of :mod:`portconv.models.shapes` uses it)."""
        if len(input_shape) < 1:
            raise ArgumentError(
                f"input: Flatten expects a batch axis, got shape {tuple(input_shape)}"
            )
        return (int(input_shape[0]), math.prod(int(s) for s in input_shape[1:]))

    def extra_repr(self) -> str:
        return "" if self.channels_last else "data_format='channels_first'"


class Reshape(Module):
    """Keras's ``Reshape(target_shape)``: each sample reshaped to ``target_shape`` (the batch
    axis kept; one entry may be -1).

    Parameters
    ----------
    target_shape : tuple of int
        The shape of one sample.

    Shape
    -----
    ``(N, *)`` -> ``(N, *target_shape)``.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv.nn import keras
    >>> keras.Reshape((28, 28, 1))(np.zeros((2, 784), np.float32)).shape
    (2, 28, 28, 1)
    """

    summary_name = "Reshape"
    takes_array = True

    def __init__(self, target_shape: Any) -> None:
        super().__init__()
        if not isinstance(target_shape, list | tuple) or not all(
            isinstance(v, numbers.Integral) and not isinstance(v, bool) and (v >= 1 or v == -1)
            for v in target_shape
        ):
            raise ArgumentError(
                f"target_shape: expected a tuple of positive ints (one may be -1), got "
                f"{target_shape!r}"
            )
        if sum(v == -1 for v in target_shape) > 1:
            raise ArgumentError(f"target_shape: at most one -1, got {tuple(target_shape)!r}")
        self.target_shape = tuple(int(v) for v in target_shape)

    def forward(self, x: Any) -> Variable:
        return ag.reshape(x, self.compute_output_shape(_shape(x)))

    def compute_output_shape(self, input_shape: tuple) -> tuple[int, ...]:
        """``(N, *target_shape)`` with its -1 resolved, for an input of ``input_shape``
        (Keras's method; the dry run of :mod:`portconv.models.shapes` uses it)."""
        if len(input_shape) < 1:
            raise ArgumentError(
                f"input: Reshape expects a batch axis, got shape {tuple(input_shape)}"
            )
        n, size = int(input_shape[0]), math.prod(int(s) for s in input_shape[1:])
        known = math.prod(v for v in self.target_shape if v != -1)
        target = self.target_shape
        if -1 in target and known and size % known == 0:
            target = tuple(size // known if v == -1 else v for v in target)
        if math.prod(target) != size:
            raise ArgumentError(
                f"input: Reshape cannot make {size} elements per sample (input shape "
                f"{tuple(input_shape)}) into target_shape {self.target_shape}"
            )
        return (n,) + target

    def extra_repr(self) -> str:
        return f"target_shape={self.target_shape}"


class BatchNormalization(_KerasLayer):
    """Keras's ``BatchNormalization(axis=-1, momentum=0.99, epsilon=0.001, center=True,
    scale=True)``.

    In training, the input is normalised with the batch's mean and (biased) variance over
    every axis but ``axis``, and the moving statistics follow Keras's rule ``moving =
    moving * momentum + batch * (1 - momentum)`` (the batch's biased variance); in
    evaluation the moving statistics are used.

    Parameters
    ----------
    axis : int, default -1
        The feature (channel) axis: -1 for channels last.
    momentum : float, default 0.99
        The weight of the old value in the moving statistics, in [0, 1].
    epsilon : float, default 0.001
        Added to the variance (> 0).
    center : bool, default True
        Add the learned ``beta``.
    scale : bool, default True
        Multiply by the learned ``gamma``.

    Shape
    -----
    Any shape with at least two axes -> the same; ``gamma``, ``beta``, ``moving_mean`` and
    ``moving_variance`` ``(C,)``, created by the first call.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv.nn import keras
    >>> bn = keras.BatchNormalization()
    >>> bn
    BatchNormalization(axis=-1, momentum=0.99, epsilon=0.001)
    >>> y = bn(np.arange(8.0).reshape(4, 2))
    >>> y.data.mean(axis=0).round(6) + 0.0, bn.moving_mean
    (array([0., 0.]), array([0.03, 0.04]))
    """

    summary_name = "BatchNormalization"

    def __init__(
        self,
        axis: int = -1,
        momentum: float = 0.99,
        epsilon: float = 0.001,
        center: bool = True,
        scale: bool = True,
    ) -> None:
        super().__init__()
        if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
            raise ArrayTypeError(f"axis: expected an int, got {axis!r}")
        self.axis = int(axis)
        self.momentum = real_number("momentum", momentum, low=0.0, high=1.0)
        self.epsilon = real_number("epsilon", epsilon, low=0.0, low_open=True)
        self.center = flag("center", center)
        self.scale = flag("scale", scale)
        if self.scale:
            self.declare("gamma", (None,), "ones")
        if self.center:
            self.declare("beta", (None,), "zeros")
        self.register_buffer("moving_mean", None)
        self.register_buffer("moving_variance", None)

    def _axis(self, ndim: int) -> int:
        return self.axis % ndim

    def features(self, shape: tuple) -> int:
        """The size of ``axis`` of an input of ``shape``, checked against the layer (a batch
        axis and ``axis``, the feature count it was built for); the dry run of
        :mod:`portconv.models.shapes` uses it too."""
        ndim = len(shape)
        if ndim < 2 or not -ndim <= self.axis < ndim:
            raise ArgumentError(
                f"input: BatchNormalization(axis={self.axis}) expects an input with a batch "
                f"axis and axis {self.axis}, got shape {tuple(shape)}"
            )
        c = int(shape[self.axis])
        mm = self.moving_mean
        if mm is not None and int(mm.shape[0]) != c:
            raise ArgumentError(
                f"input: BatchNormalization was built for {int(mm.shape[0])} features on axis "
                f"{self.axis}, got an input of shape {tuple(shape)}"
            )
        return c

    def check_input(self, x: Any) -> None:
        self.features(_shape(_float_input(x)))

    def forward(self, x: Any) -> Variable:
        self.check_input(x)
        data = _data(x)
        ndim = data.ndim
        ax = self._axis(ndim)
        c = int(data.shape[ax])
        if self._incomplete():
            with _creation_lock:
                for name in ("gamma", "beta"):
                    if name in self._params:
                        self._create(name, (c,), data)
                if self.moving_mean is None:
                    self.register_buffer("moving_mean", _host_to(np.zeros(c), data))
                    self.register_buffer("moving_variance", _host_to(np.ones(c), data))
        stats = None if self.training else (self.moving_mean, self.moving_variance)
        y, batch = batch_norm(
            x, ax, self.epsilon, self._params.get("gamma"), self._params.get("beta"), stats
        )
        if batch is not None:
            moving = {"moving_mean": batch[0], "moving_variance": batch[1]}
            running_update(self, moving, self.momentum, 1.0 - self.momentum)
        return y

    def extra_repr(self) -> str:
        s = f"axis={self.axis}, momentum={self.momentum}, epsilon={self.epsilon}"
        if not self.center:
            s += ", center=False"
        if not self.scale:
            s += ", scale=False"
        return s


class Dropout(_TorchDropout):
    """Keras's ``Dropout(rate)``: in training each element is zeroed with probability
    ``rate`` and the rest scaled by ``1 / (1 - rate)`` (masks from
    :mod:`portconv.nn.init`'s seeded generator); in evaluation the input is returned.

    Parameters
    ----------
    rate : float
        The probability of zeroing, in [0, 1).

    Shape
    -----
    Any shape -> the same.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv.nn import keras
    >>> drop = keras.Dropout(0.5)
    >>> drop
    Dropout(rate=0.5)
    >>> x = np.ones((2, 3), np.float32)
    >>> drop.eval()(x) is x
    True
    """

    summary_name = "Dropout"

    def __init__(self, rate: float) -> None:
        Module.__init__(self)
        self.p = real_number("rate", rate, low=0.0, high=1.0, high_open=True)

    def forward(self, x: Any) -> Any:
        require_array(x)
        return super().forward(x)

    def extra_repr(self) -> str:
        return f"rate={self.p}"
