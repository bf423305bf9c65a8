"""Layers, written once over :mod:`portconv.autograd`.

Each layer exists under the names users of both frameworks know: Gluon's (``Conv2D(channels,
kernel_size, strides=..., activation=...)``, ``Dense(units)``, ``MaxPool2D(pool_size=2)``,
``BatchNorm()``) and PyTorch's (``Conv2d(in_channels, out_channels, kernel_size)``,
``LazyConv2d(out_channels, kernel_size)``, ``Linear(in, out)``, ``LazyLinear(out)``,
``MaxPool2d(kernel_size)``, ``BatchNorm2d(num_features)``), so the book's model code of either
framework ports line by line. Each is a class of its own (one base per family holds the
shared work), prints as its framework prints it (``repr``), and is named as its framework names
it by :meth:`~portconv.nn.Module.layer_summary`.

Input sizes that are given create the parameters at construction; those that are not are
inferred from the first input (see :mod:`portconv.nn.module`). Every layer takes
channels-first arrays, batched ``(N, C, *spatial)`` or unbatched ``(C, *spatial)``, of any
backend; the convolution (not transposed), pooling, batch-norm and flatten layers take
channels-last ones, ``(N, *spatial, C)``, with ``layout="channels_last"`` (Gluon's
``layout="NHWC"``, its BatchNorm's ``axis=-1``), computed in that layout by the functional
ops, convolution weights kept HWIO. Each returns a :class:`portconv.autograd.Variable` whose
``.data`` is an array of the input's library (``Dropout`` in evaluation mode returns its input
itself, as PyTorch's does).
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

import numpy as np

from .. import autograd as ag
from ..autograd import Variable
from ..errors import ArgumentError
from ..ops._args import channels_last, gluon_alias, int_tuple
from ..ops._call import divisor_arg, padding_pairs
from ..ops._common import prepare, require_float
from . import init as _init
from ._checks import flag, in_size, positive_int, real_number
from .module import Module, _creation_lock, _host_to, require_array

_ACTIVATIONS = {"relu": ag.relu, "sigmoid": ag.sigmoid, "tanh": ag.tanh}
_SPATIAL = {1: "L", 2: "H, W", 3: "D, H, W"}
_GLUON_LAYOUT = {1: "NCW", 2: "NCHW", 3: "NCDHW"}
_GLUON_LAST = {1: "NWC", 2: "NHWC", 3: "NDHWC"}
_LAYOUT_WORDS = ("channels_first", "channels_last")


def _activation(name: str | None):
    if name is None:
        return None
    if not isinstance(name, str) or name not in _ACTIVATIONS:
        raise ArgumentError(
            f"activation: expected None or one of {', '.join(map(repr, _ACTIVATIONS))}, "
            f"got {name!r}"
        )
    return _ACTIVATIONS[name]


def _data(x: Any) -> Any:
    return x.data if isinstance(x, Variable) else x


#: (array type, dtype) pairs already accepted as real floating input (asking costs a dispatch)
_floating_inputs: set = set()


def _float_input(x: Any) -> Any:
    """The array of ``x``, refused unless real floating (named ``input``)."""
    data = _data(x)
    try:
        key = (type(data), data.dtype)
        if key in _floating_inputs:
            return data
    except (AttributeError, TypeError):  # not an array, or an unhashable dtype: ask below
        key = None
    require_array(x)
    _, xp, (std,) = prepare(data, names=("input",))
    require_float(xp, "input", std)
    if key is not None:
        with contextlib.suppress(TypeError):
            _floating_inputs.add(key)
    return data


def _channels_last(layout: Any, d: int, *, gluon: bool = False) -> bool:
    """True for a channels-last ``layout``. Every layer takes ``'channels_first'`` and
    ``'channels_last'``; the Gluon-named ones also take Gluon's own strings for ``d`` spatial
    dimensions (``'NCHW'``/``'NHWC'`` ...) and None (channels first, Gluon's default)."""
    allowed = [_GLUON_LAYOUT[d], _GLUON_LAST[d], *_LAYOUT_WORDS] if gluon else list(_LAYOUT_WORDS)
    if gluon and layout is None:
        return False
    if not isinstance(layout, str) or layout not in allowed:
        words = [repr(a) for a in allowed] + (["None"] if gluon else [])
        raise ArgumentError(
            f"layout: expected {', '.join(words[:-1])} or {words[-1]}, got {layout!r}"
        )
    return channels_last(layout, d, "layer")


def _layout_name(last: bool) -> str:
    """The functional ops' name of a layout."""
    return "channels_last" if last else "channels_first"


def _as_tuple(value: Any, d: int) -> Any:
    """A size as PyTorch shows it: an int repeated per axis, a sequence as a tuple, a string
    as it is."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        return (int(value),) * d
    try:
        return tuple(tuple(v) if isinstance(v, list | tuple) else v for v in value)
    except TypeError:
        return value


# -- convolution ---------------------------------------------------------------------------------


class _Conv(Module):
    """What every convolution layer shares: argument checks, parameters (weight
    ``(C_out, C_in / groups, *kernel)``, or ``(C_in, C_out / groups, *kernel)`` transposed;
    channels last ``(*kernel, C_in / groups, C_out)``, HWIO as Keras and Flax store it),
    shape inference, the call, and both frameworks' printouts. The public classes below fix
    the number of spatial dimensions ``d`` and their framework's signature."""

    d = 2
    transposed = False
    gluon = False  # print as Gluon does
    lazy = False  # named LazyConv... until the first call creates the weight
    takes_array = True

    def __init__(
        self,
        channels: int,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        dilation: Any = 1,
        groups: int = 1,
        bias: bool | None = None,
        in_channels: int | None = None,
        activation: str | None = None,
        *,
        output_padding: Any = 0,
        strides: Any = None,
        use_bias: bool | None = None,
        names: tuple[str, str] = ("channels", "in_channels"),
        layout: Any = "channels_first",
    ) -> None:
        super().__init__()
        d = self.d
        self.channels_last = _channels_last(layout, d, gluon=self.gluon)
        out_name, in_name = names
        self.channels = positive_int(out_name, channels)
        self.kernel_size = int_tuple("kernel_size", kernel_size, d)
        self.stride = gluon_alias("stride", stride, "strides", strides, None)
        self.stride = 1 if self.stride is None else self.stride
        stride_t = int_tuple("stride", self.stride, d)
        self.dilation = dilation
        dilation_t = int_tuple("dilation", dilation, d)
        self.padding = padding
        if self.transposed:
            padding_pairs("padding", padding, d, strings=False)
            self.output_padding = output_padding
            int_tuple("output_padding", output_padding, d, minimum=0)
        else:
            self.output_padding = 0
            padding_pairs(
                "padding",
                padding,
                d,
                spatial=self.kernel_size,
                kernel=self.kernel_size,
                stride=stride_t,
                dilation=dilation_t,
            )
        self.groups = positive_int("groups", groups)
        # in_channels is validated by the public classes (None: from the first input)
        self.in_channels = in_channels
        if self.channels % self.groups:
            raise ArgumentError(
                f"groups: {out_name}={self.channels} is not divisible by groups={self.groups}"
            )
        if in_channels is not None and in_channels % self.groups:
            raise ArgumentError(
                f"groups: {in_name}={in_channels} is not divisible by groups={self.groups}"
            )
        b = gluon_alias("bias", bias, "use_bias", use_bias, None)
        self.use_bias = flag("bias", True if b is None else b)
        self.activation = activation
        self.act = _activation(activation)
        self.declare("weight", self._weight_shape(in_channels), "weight")
        if self.use_bias:
            self.declare("bias", (self.channels,), "bias")

    def _weight_shape(self, cin: int | None) -> tuple:
        g = self.groups
        if self.transposed and self.channels_last:  # (*kernel, C_out/groups, C_in), Keras's
            return self.kernel_size + (self.channels // g, cin)
        if self.transposed:
            return (cin, self.channels // g) + self.kernel_size
        if self.channels_last:
            return self.kernel_size + (None if cin is None else cin // g, self.channels)
        return (self.channels, None if cin is None else cin // g) + self.kernel_size

    def fans(self, weight_shape: tuple) -> tuple[int, int]:
        if not self.channels_last:
            return super().fans(weight_shape)
        # (*kernel, C_in/groups, C_out), or transposed (*kernel, C_out/groups, C_in): PyTorch's
        # fans of the channels-first weight, read from the same axes
        receptive = math.prod(weight_shape[:-2])
        return int(weight_shape[-2]) * receptive, int(weight_shape[-1]) * receptive

    def _known_in_channels(self) -> int | None:
        w = self._params.get("weight")
        if w is None:
            return self.in_channels
        if self.channels_last:
            return int(w.shape[-1] if self.transposed else w.shape[-2] * self.groups)
        return int(w.shape[0] if self.transposed else w.shape[1] * self.groups)

    def _channel_axis(self, ndim: int) -> int:
        return ndim - 1 if self.channels_last else ndim - self.d - 1

    def check_input(self, x: Any) -> None:
        data = _float_input(x)
        d = self.d
        if data.ndim not in (d + 1, d + 2):
            expects = (
                f"(N, {_SPATIAL[d]}, C) or ({_SPATIAL[d]}, C)"
                if self.channels_last
                else f"(N, C, {_SPATIAL[d]}) or (C, {_SPATIAL[d]})"
            )
            raise ArgumentError(
                f"input: {self._repr_name()} expects {expects} arrays, got shape "
                f"{tuple(data.shape)}"
            )
        axis = self._channel_axis(data.ndim)
        cin = int(data.shape[axis])
        known = self._known_in_channels()
        if known is not None and cin != known:
            raise ArgumentError(
                f"input: {self._repr_name()} expects {known} input channels (axis "
                f"{axis}), got an input of shape {tuple(data.shape)}"
            )
        if known is None and cin % self.groups:
            raise ArgumentError(
                f"input: {cin} input channels (shape {tuple(data.shape)}) are not divisible by "
                f"groups={self.groups}"
            )

    def forward(self, x: Any) -> Variable:
        data = _data(x)
        params = self._params
        if self._incomplete():  # the first call of a lazy layer: validate, then create
            self.check_input(x)
            with _creation_lock:
                if params["weight"] is None:
                    cin = int(data.shape[self._channel_axis(data.ndim)])
                    self.materialise("weight", self._weight_shape(cin), data)
                if self.use_bias and params["bias"] is None:
                    self.materialise("bias", (self.channels,), data)
        w = params["weight"]
        if type(w.data) is not type(data):
            self._same_library_as(data, w.data)
        return self._apply(x, w, params.get("bias"))

    def _apply(self, x: Any, w: Any, b: Any) -> Variable:
        """This layer's operation on ``x`` with weight ``w`` and bias ``b`` (or None), then
        its activation."""
        d = self.d
        if self.transposed:
            op = getattr(ag, f"conv_transpose{d}d")
            y = op(
                x, w, b, self.stride, self.padding, self.output_padding, self.groups, self.dilation,
                layout=_layout_name(self.channels_last),
            )  # fmt: skip
        else:
            op = getattr(ag, f"conv{d}d")
            y = op(
                x, w, b, self.stride, self.padding, self.dilation, self.groups,
                layout=_layout_name(self.channels_last),
            )  # fmt: skip
        return self.act(y) if self.act is not None else y

    def _then(self, after: Module, x: Any) -> Variable | None:
        """``after(self(x))`` as one convolution where ``after`` is a batch norm in evaluation
        mode and no gradient is recorded: the normalisation's per-channel factor folded into
        the weight and its offset into the bias (``conv(x, w * f) + (b * f + offset)``, the
        same arithmetic), so that its two passes over the output are saved. Only where the
        weight is smaller than the output (ResNet-18's stem and its 64- and 128-channel
        layers; its deeper weights are larger than their maps, and scaling them would cost
        more than the passes it saves), both layers are settled (a lazy layer's first call
        runs unfused) and neither's ``forward`` is overridden; else None: the caller runs the
        two layers."""
        if not isinstance(after, _BatchNorm) or after.training or ag.is_grad_enabled():
            return None
        if self.transposed or self.act is not None:
            return None
        if type(self).forward is not _Conv.forward or type(after).forward is not _BatchNorm.forward:
            return None
        if not (self._placed and after._placed) or self._drafts or after._drafts:
            return None
        if self._incomplete() or after._incomplete():
            return None
        data = _data(x)
        w, b = self._params["weight"], self._params.get("bias")
        if type(w.data) is not type(data) or type(after.weight.data) is not type(data):
            return None
        ndim = getattr(data, "ndim", None)
        if ndim != self.d + 2 or ndim not in after.ndims:
            return None
        axis = self._channel_axis(ndim)
        if after.axis not in (axis, axis - ndim) or int(after.weight.shape[0]) != self.channels:
            return None
        cin = int(data.shape[axis])
        out = math.prod(data.shape) // max(cin, 1) * self.channels
        out //= math.prod(_as_tuple(self.stride, self.d))
        if math.prod(w.shape) >= out:
            return None
        factor, offset = eval_affine(after.running_mean, after.running_var, after.eps,
                                     after.weight, after.bias)  # fmt: skip
        scale = factor if self.channels_last else ag.reshape(factor, (-1,) + (1,) * (self.d + 1))
        bias = offset if b is None else ag.add(ag.multiply(b, factor), offset)
        return self._apply(x, ag.multiply(w, scale), bias)

    # -- printing
    def _repr_name(self) -> str:
        name = type(self).__name__
        if self.lazy and self._params.get("weight") is not None:
            return name[len("Lazy") :]
        return name

    def extra_repr(self) -> str:
        if self.gluon:
            return self._gluon_repr()
        d = self.d
        cin = self._known_in_channels() or 0
        s = f"{cin}, {self.channels}, kernel_size={self.kernel_size}"
        s += f", stride={_as_tuple(self.stride, d)}"
        padding = _as_tuple(self.padding, d)
        if isinstance(padding, str) or padding != (0,) * d:
            s += f", padding={padding}"
        dilation = _as_tuple(self.dilation, d)
        if dilation != (1,) * d:
            s += f", dilation={dilation}"
        output_padding = _as_tuple(self.output_padding, d)
        if self.transposed and output_padding != (0,) * d:
            s += f", output_padding={output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if not self.use_bias:
            s += ", bias=False"
        if self.channels_last:  # portconv's extension: PyTorch's layers have no layout
            s += ", layout='channels_last'"
        return s

    def _gluon_repr(self) -> str:
        d = self.d
        w = self._params.get("weight")
        shape = tuple(w.shape) if w is not None else self._weight_shape(self.in_channels)
        if self.channels_last:  # Gluon reads its axes 1 and 0 of the channels-first weight
            shape = (shape[-1], shape[-2])
        s = f"{shape[1] or None} -> {shape[0]}, kernel_size={self.kernel_size}"
        s += f", stride={_as_tuple(self.stride, d)}"
        padding = _as_tuple(self.padding, d)
        if isinstance(padding, str) or padding != (0,) * d:
            s += f", padding={padding}"
        dilation = _as_tuple(self.dilation, d)
        if dilation != (1,) * d:
            s += f", dilation={dilation}"
        if self.groups != 1:  # (Gluon 1.9 shows no output_padding)
            s += f", groups={self.groups}"
        if not self.use_bias:
            s += ", bias=False"
        if self.activation is not None:
            s += f", Activation({self.activation})"
        return s


class _GluonConv(_Conv):
    """Gluon's signature: ``(channels, kernel_size, strides=1, padding=0, dilation=1,
    groups=1, ...)``; ``in_channels`` None or 0 means "from the first input"."""

    gluon = True

    def __init__(
        self,
        channels: int,
        kernel_size: Any,
        strides: Any = None,
        padding: Any = 0,
        dilation: Any = 1,
        groups: int = 1,
        bias: bool | None = None,
        in_channels: int | None = None,
        activation: str | None = None,
        *,
        stride: Any = None,
        use_bias: bool | None = None,
        layout: str | None = None,
    ) -> None:
        super().__init__(
            channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias,
            in_size("in_channels", in_channels, infer=True),
            activation,
            strides=strides,
            use_bias=use_bias,
            layout=layout,
        )


class _TorchConv(_Conv):
    """PyTorch's signature: ``(in_channels, out_channels, kernel_size, stride=1, padding=0,
    dilation=1, groups=1, bias=True)``."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        dilation: Any = 1,
        groups: int = 1,
        bias: bool = True,
        *,
        layout: str = "channels_first",
    ) -> None:
        if in_channels is None or (isinstance(in_channels, int) and in_channels == 0):
            hint = f"; for in_channels taken from the first input use Lazy{type(self).__name__}"
        else:
            hint = ""
        try:
            cin = in_size("in_channels", in_channels, infer=False)
        except (ArgumentError, TypeError) as exc:
            raise type(exc)(f"{exc}{hint}") from None
        super().__init__(
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias,
            cin,
            names=("out_channels", "in_channels"),
            layout=layout,
        )


class _LazyConv(_Conv):
    """PyTorch's ``LazyConvNd(out_channels, kernel_size, stride=1, padding=0, dilation=1,
    groups=1, bias=True)``: ``in_channels`` from the first input."""

    lazy = True

    def __init__(
        self,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        dilation: Any = 1,
        groups: int = 1,
        bias: bool = True,
        *,
        layout: str = "channels_first",
    ) -> None:
        super().__init__(
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias,
            names=("out_channels", "in_channels"),
            layout=layout,
        )


class Conv1D(_GluonConv):
    """Gluon's 1-D convolution (cross-correlation).

    Parameters
    ----------
    channels : int
        Output channels.
    kernel_size : int or (int,)
        The window.
    strides : int or (int,), default 1
        Step of the window (PyTorch's ``stride=`` is accepted too).
    padding : int, (int,), ((int, int),), 'valid', 'same' or 'same_lower', default 0
        Zeros added at both ends (or before and after).
    dilation : int or (int,), default 1
        Spacing of the window's taps.
    groups : int, default 1
        Split input and output channels into this many independent groups.
    bias : bool, optional
        PyTorch's spelling of ``use_bias`` (default True).
    in_channels : int, optional
        Input channels; None or 0 (Gluon's default) infers them from the first input.
    activation : {None, 'relu', 'sigmoid', 'tanh'}
        Applied to the output.
    stride, use_bias : optional
        The other framework's spellings of ``strides`` and ``bias``.
    layout : {None, 'NCW', 'NWC', 'channels_first', 'channels_last'}
        Gluon's layout of the input (None: channels first). Channels last keeps the
        weight as ``(k, C_in / groups, channels)``, as Keras and Flax do (MXNet 1.9's
        Conv1D takes NCW only).

    Shape
    -----
    ``(N, C_in, L)`` or ``(C_in, L)`` -> ``(N, channels, L_out)``; weight
    ``(channels, C_in / groups, k)``.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> conv = nn.Conv1D(4, kernel_size=3, padding=1, activation="relu")
    >>> tuple(conv(np.ones((2, 3, 10), np.float32)).shape)
    (2, 4, 10)
    >>> conv
    Conv1D(3 -> 4, kernel_size=(3,), stride=(1,), padding=(1,), Activation(relu))
    """

    d = 1
    summary_name = "Conv1D"


class Conv2D(_GluonConv):
    """Gluon's 2-D convolution (cross-correlation), as the book's MXNet edition uses it.

    Parameters
    ----------
    channels : int
        Output channels.
    kernel_size : int or (int, int)
        The window.
    strides : int or (int, int), default 1
        Step of the window (PyTorch's ``stride=`` is accepted too).
    padding : int, (int, int), ((int, int), (int, int)), 'valid', 'same' or 'same_lower'
        Zeros added on both sides of each axis (or before and after); default 0.
    dilation : int or (int, int), default 1
        Spacing of the window's taps.
    groups : int, default 1
        Split input and output channels into this many independent groups.
    bias : bool, optional
        PyTorch's spelling of ``use_bias`` (default True).
    in_channels : int, optional
        Input channels; None or 0 (Gluon's default) infers them from the first input.
    activation : {None, 'relu', 'sigmoid', 'tanh'}
        Applied to the output.
    stride, use_bias : optional
        The other framework's spellings of ``strides`` and ``bias``.
    layout : {None, 'NCHW', 'NHWC', 'channels_first', 'channels_last'}
        Gluon's layout of the input (None: channels first). Channels last keeps the
        weight as ``(*kernel, C_in / groups, channels)`` (HWIO, as Keras and Flax; MXNet
        1.9 declares OHWI for it but its CPU kernels do not compute it).

    Shape
    -----
    ``(N, C_in, H, W)`` or ``(C_in, H, W)`` -> ``(N, channels, H_out, W_out)``; weight
    ``(channels, C_in / groups, kh, kw)``.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> conv = nn.Conv2D(6, kernel_size=5, padding=2, activation="sigmoid")
    >>> conv
    Conv2D(None -> 6, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2), Activation(sigmoid))
    >>> tuple(conv(np.zeros((1, 1, 28, 28), np.float32)).shape)
    (1, 6, 28, 28)
    >>> tuple(conv.weight.shape)
    (6, 1, 5, 5)
    """

    d = 2
    summary_name = "Conv2D"


class Conv3D(_GluonConv):
    """Gluon's 3-D convolution (cross-correlation).

    Parameters
    ----------
    channels : int
        Output channels.
    kernel_size : int or (int, int, int)
        The window.
    strides : int or (int, int, int), default 1
        Step of the window (PyTorch's ``stride=`` is accepted too).
    padding : int, 3 ints, 3 (before, after) pairs, 'valid', 'same' or 'same_lower'
        Zeros added; default 0.
    dilation : int or (int, int, int), default 1
        Spacing of the window's taps.
    groups : int, default 1
        Split input and output channels into this many independent groups.
    bias : bool, optional
        PyTorch's spelling of ``use_bias`` (default True).
    in_channels : int, optional
        Input channels; None or 0 (Gluon's default) infers them from the first input.
    activation : {None, 'relu', 'sigmoid', 'tanh'}
        Applied to the output.
    stride, use_bias : optional
        The other framework's spellings of ``strides`` and ``bias``.
    layout : {None, 'NCDHW', 'NDHWC', 'channels_first', 'channels_last'}
        Gluon's layout of the input (None: channels first). Channels last keeps the
        weight as ``(*kernel, C_in / groups, channels)`` (HWIO, as Keras and Flax; MXNet
        1.9 declares OHWI for it but its CPU kernels do not compute it).

    Shape
    -----
    ``(N, C_in, D, H, W)`` or ``(C_in, D, H, W)`` -> ``(N, channels, D_out, H_out, W_out)``.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> tuple(nn.Conv3D(2, 3)(np.zeros((1, 1, 5, 5, 5), np.float32)).shape)
    (1, 2, 3, 3, 3)
    """

    d = 3
    summary_name = "Conv3D"


class Conv1d(_TorchConv):
    """PyTorch's 1-D convolution (cross-correlation).

    Parameters
    ----------
    in_channels : int
        Input channels (a positive int; for inference from the input use :class:`LazyConv1d`).
    out_channels : int
        Output channels.
    kernel_size : int or (int,)
        The window.
    stride : int or (int,), default 1
        Step of the window.
    padding : int, (int,), ((int, int),), 'valid', 'same' or 'same_lower', default 0
        Zeros added at both ends (or before and after).
    dilation : int or (int,), default 1
        Spacing of the window's taps.
    groups : int, default 1
        Split input and output channels into this many independent groups.
    bias : bool, default True
        Add a learned bias per output channel.
    layout : {'channels_first', 'channels_last'}, keyword-only
        The input's layout (a portconv extension: PyTorch has ``memory_format``, not a
        layout); channels last takes ``(N, *spatial, C)``, and keeps the weight as
        ``(*kernel, in_channels / groups, out_channels)`` (HWIO, as Keras and Flax).

    Shape
    -----
    ``(N, in_channels, L)`` or ``(in_channels, L)`` -> ``(N, out_channels, L_out)``; weight
    ``(out_channels, in_channels / groups, k)``, created at construction.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> conv = nn.Conv1d(3, 4, 3)
    >>> conv
    Conv1d(3, 4, kernel_size=(3,), stride=(1,))
    >>> tuple(conv(np.zeros((2, 3, 10), np.float32)).shape)
    (2, 4, 8)
    """

    d = 1
    summary_name = "Conv1d"


class Conv2d(_TorchConv):
    """PyTorch's 2-D convolution (cross-correlation), as the book's PyTorch edition uses it.

    Parameters
    ----------
    in_channels : int
        Input channels (a positive int; for inference from the input use :class:`LazyConv2d`).
    out_channels : int
        Output channels.
    kernel_size : int or (int, int)
        The window.
    stride : int or (int, int), default 1
        Step of the window.
    padding : int, (int, int), ((int, int), (int, int)), 'valid', 'same' or 'same_lower'
        Zeros added on both sides of each axis (or before and after); default 0.
    dilation : int or (int, int), default 1
        Spacing of the window's taps.
    groups : int, default 1
        Split input and output channels into this many independent groups.
    bias : bool, default True
        Add a learned bias per output channel.
    layout : {'channels_first', 'channels_last'}, keyword-only
        The input's layout (a portconv extension: PyTorch has ``memory_format``, not a
        layout); channels last takes ``(N, *spatial, C)``, and keeps the weight as
        ``(*kernel, in_channels / groups, out_channels)`` (HWIO, as Keras and Flax).

    Shape
    -----
    ``(N, in_channels, H, W)`` or ``(in_channels, H, W)`` -> ``(N, out_channels, H_out,
    W_out)``; weight ``(out_channels, in_channels / groups, kh, kw)``, created at
    construction (NumPy float32); the first call draws its values from the seeded
    generator, as :class:`LazyConv2d`'s, on the input's library, device and dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> conv = nn.Conv2d(1, 6, kernel_size=5, padding=2)
    >>> conv
    Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2))
    >>> tuple(conv.weight.shape)
    (6, 1, 5, 5)
    >>> tuple(conv(np.zeros((1, 1, 28, 28), np.float32)).shape)
    (1, 6, 28, 28)
    """

    d = 2
    summary_name = "Conv2d"


class Conv3d(_TorchConv):
    """PyTorch's 3-D convolution (cross-correlation).

    Parameters
    ----------
    in_channels : int
        Input channels (a positive int; for inference from the input use :class:`LazyConv3d`).
    out_channels : int
        Output channels.
    kernel_size : int or (int, int, int)
        The window.
    stride : int or (int, int, int), default 1
        Step of the window.
    padding : int, 3 ints, 3 (before, after) pairs, 'valid', 'same' or 'same_lower'
        Zeros added; default 0.
    dilation : int or (int, int, int), default 1
        Spacing of the window's taps.
    groups : int, default 1
        Split input and output channels into this many independent groups.
    bias : bool, default True
        Add a learned bias per output channel.
    layout : {'channels_first', 'channels_last'}, keyword-only
        The input's layout (a portconv extension: PyTorch has ``memory_format``, not a
        layout); channels last takes ``(N, *spatial, C)``, and keeps the weight as
        ``(*kernel, in_channels / groups, out_channels)`` (HWIO, as Keras and Flax).

    Shape
    -----
    ``(N, in_channels, D, H, W)`` or ``(in_channels, D, H, W)`` -> ``(N, out_channels, D_out,
    H_out, W_out)``.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> tuple(nn.Conv3d(1, 2, 3)(np.zeros((1, 1, 5, 5, 5), np.float32)).shape)
    (1, 2, 3, 3, 3)
    """

    d = 3
    summary_name = "Conv3d"


class LazyConv1d(_LazyConv):
    """PyTorch's :class:`Conv1d` whose ``in_channels`` come from the first input.

    Parameters
    ----------
    out_channels : int
        Output channels.
    kernel_size, stride, padding, dilation, groups, bias
        As :class:`Conv1d`.
    layout : {'channels_first', 'channels_last'}, keyword-only
        The input's layout (a portconv extension: PyTorch has ``memory_format``, not a
        layout); channels last takes ``(N, *spatial, C)``, and keeps the weight as
        ``(*kernel, in_channels / groups, out_channels)`` (HWIO, as Keras and Flax).

    Shape
    -----
    ``(N, C_in, L)`` or ``(C_in, L)`` -> ``(N, out_channels, L_out)``; the weight is created
    by the first call, on the input's library, device and dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> conv = nn.LazyConv1d(4, 3)
    >>> conv
    LazyConv1d(0, 4, kernel_size=(3,), stride=(1,))
    >>> tuple(conv(np.zeros((2, 3, 10), np.float32)).shape)
    (2, 4, 8)
    >>> conv
    Conv1d(3, 4, kernel_size=(3,), stride=(1,))
    """

    d = 1
    summary_name = "Conv1d"


class LazyConv2d(_LazyConv):
    """PyTorch's :class:`Conv2d` whose ``in_channels`` come from the first input (the book's
    PyTorch edition builds its models with it).

    Parameters
    ----------
    out_channels : int
        Output channels.
    kernel_size, stride, padding, dilation, groups, bias
        As :class:`Conv2d`.
    layout : {'channels_first', 'channels_last'}, keyword-only
        The input's layout (a portconv extension: PyTorch has ``memory_format``, not a
        layout); channels last takes ``(N, *spatial, C)``, and keeps the weight as
        ``(*kernel, in_channels / groups, out_channels)`` (HWIO, as Keras and Flax).

    Shape
    -----
    ``(N, C_in, H, W)`` or ``(C_in, H, W)`` -> ``(N, out_channels, H_out, W_out)``; the
    weight is created by the first call, on the input's library, device and dtype, after the
    input has been checked (so a refused first call leaves the layer as it was).

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> conv = nn.LazyConv2d(6, kernel_size=5, padding=2)
    >>> conv
    LazyConv2d(0, 6, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2))
    >>> tuple(conv(np.zeros((1, 1, 28, 28), np.float32)).shape)
    (1, 6, 28, 28)
    >>> conv
    Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2))
    """

    d = 2
    summary_name = "Conv2d"


class LazyConv3d(_LazyConv):
    """PyTorch's :class:`Conv3d` whose ``in_channels`` come from the first input.

    Parameters
    ----------
    out_channels : int
        Output channels.
    kernel_size, stride, padding, dilation, groups, bias
        As :class:`Conv3d`.
    layout : {'channels_first', 'channels_last'}, keyword-only
        The input's layout (a portconv extension: PyTorch has ``memory_format``, not a
        layout); channels last takes ``(N, *spatial, C)``, and keeps the weight as
        ``(*kernel, in_channels / groups, out_channels)`` (HWIO, as Keras and Flax).

    Shape
    -----
    ``(N, C_in, D, H, W)`` or ``(C_in, D, H, W)`` -> ``(N, out_channels, D_out, H_out,
    W_out)``.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> tuple(nn.LazyConv3d(2, 3)(np.zeros((1, 4, 5, 5, 5), np.float32)).shape)
    (1, 2, 3, 3, 3)
    """

    d = 3
    summary_name = "Conv3d"


# -- transposed convolution ----------------------------------------------------------------------


class _GluonConvTranspose(_Conv):
    """Gluon's signature: ``(channels, kernel_size, strides=1, padding=0, output_padding=0,
    dilation=1, groups=1, layout=None, activation=None, use_bias=True, *, in_channels=0)``."""

    transposed = True
    gluon = True

    def __init__(
        self,
        channels: int,
        kernel_size: Any,
        strides: Any = None,
        padding: Any = 0,
        output_padding: Any = 0,
        dilation: Any = 1,
        groups: int = 1,
        layout: str | None = None,
        activation: str | None = None,
        use_bias: bool | None = None,
        *,
        in_channels: int | None = None,
        stride: Any = None,
        bias: bool | None = None,
    ) -> None:
        super().__init__(
            channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias,
            in_size("in_channels", in_channels, infer=True),
            activation,
            output_padding=output_padding,
            strides=strides,
            use_bias=use_bias,
            layout=layout,
        )


class _TorchConvTranspose(_Conv):
    """PyTorch's signature: ``(in_channels, out_channels, kernel_size, stride=1, padding=0,
    output_padding=0, groups=1, bias=True, dilation=1)``."""

    transposed = True

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        output_padding: Any = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: Any = 1,
        *,
        layout: str = "channels_first",
    ) -> None:
        super().__init__(
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias,
            in_size("in_channels", in_channels, infer=False),
            output_padding=output_padding,
            names=("out_channels", "in_channels"),
            layout=layout,
        )


class _LazyConvTranspose(_Conv):
    """PyTorch's ``LazyConvTransposeNd(out_channels, kernel_size, stride=1, padding=0,
    output_padding=0, groups=1, bias=True, dilation=1)``."""

    transposed = True
    lazy = True

    def __init__(
        self,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        output_padding: Any = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: Any = 1,
        *,
        layout: str = "channels_first",
    ) -> None:
        super().__init__(
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias,
            output_padding=output_padding,
            names=("out_channels", "in_channels"),
            layout=layout,
        )


class Conv1DTranspose(_GluonConvTranspose):
    """Gluon's 1-D transposed convolution (the gradient of :class:`Conv1D` with respect to its
    input).

    Parameters
    ----------
    channels : int
        Output channels.
    kernel_size, strides, padding, dilation, groups, in_channels, activation, layout
        As :class:`Conv1D` (``padding``: ints or (before, after) pairs only).
    output_padding : int or (int,), default 0
        Extra size added at the end of the output.

    Shape
    -----
    ``(N, C_in, L)`` -> ``(N, channels, (L - 1) * stride - pad + dilation * (k - 1) +
    output_padding + 1)``; weight ``(C_in, channels / groups, k)``.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> tuple(nn.Conv1DTranspose(2, 3, strides=2)(np.zeros((1, 4, 5), np.float32)).shape)
    (1, 2, 11)
    """

    d = 1
    summary_name = "Conv1DTranspose"


class Conv2DTranspose(_GluonConvTranspose):
    """Gluon's 2-D transposed convolution (the gradient of :class:`Conv2D` with respect to its
    input), with Gluon's argument order (``output_padding`` fifth).

    Parameters
    ----------
    channels : int
        Output channels.
    kernel_size, strides, padding, dilation, groups, in_channels, activation, layout
        As :class:`Conv2D` (``padding``: ints or (before, after) pairs only).
    output_padding : int or (int, int), default 0
        Extra size added at the end of each output axis.

    Shape
    -----
    ``(N, C_in, H, W)`` -> ``(N, channels, H_out, W_out)``; weight
    ``(C_in, channels / groups, kh, kw)`` as in PyTorch's ``ConvTranspose2d``. Channels last
    (``layout="NHWC"``): ``(N, H, W, C_in)`` -> ``(N, H_out, W_out, channels)``, weight
    ``(kh, kw, channels / groups, C_in)`` as Keras's ``Conv2DTranspose`` kernel.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> up = nn.Conv2DTranspose(4, 3, strides=2, output_padding=1, in_channels=2)
    >>> tuple(up(np.zeros((1, 2, 5, 5), np.float32)).shape)
    (1, 4, 12, 12)
    >>> up
    Conv2DTranspose(4 -> 2, kernel_size=(3, 3), stride=(2, 2))
    """

    d = 2
    summary_name = "Conv2DTranspose"


class Conv3DTranspose(_GluonConvTranspose):
    """Gluon's 3-D transposed convolution.

    Parameters
    ----------
    channels : int
        Output channels.
    kernel_size, strides, padding, output_padding, dilation, groups, in_channels, activation
        As :class:`Conv2DTranspose`, one value per spatial axis.
    layout : {None, 'NCDHW', 'NDHWC', 'channels_first', 'channels_last'}
        Gluon's layout (channels last: weight ``(kd, kh, kw, channels / groups, C_in)``).

    Shape
    -----
    ``(N, C_in, D, H, W)`` -> ``(N, channels, D_out, H_out, W_out)``.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> tuple(nn.Conv3DTranspose(2, 2, strides=2)(np.zeros((1, 3, 2, 2, 2), np.float32)).shape)
    (1, 2, 4, 4, 4)
    """

    d = 3
    summary_name = "Conv3DTranspose"


class ConvTranspose1d(_TorchConvTranspose):
    """PyTorch's 1-D transposed convolution.

    Parameters
    ----------
    in_channels : int
        Input channels (for inference from the input use :class:`LazyConvTranspose1d`).
    out_channels : int
        Output channels.
    kernel_size : int or (int,)
        The window.
    stride : int or (int,), default 1
        Step (the upsampling factor).
    padding : int, (int,) or ((int, int),), default 0
        Removed from both ends of the full output.
    output_padding : int or (int,), default 0
        Extra size added at the end of the output.
    groups : int, default 1
        Independent channel groups.
    bias : bool, default True
        Add a learned bias per output channel.
    dilation : int or (int,), default 1
        Spacing of the window's taps.
    layout : {'channels_first', 'channels_last'}, keyword-only
        The input's layout (a portconv extension: PyTorch has ``memory_format``, not a
        layout); channels last takes ``(N, *spatial, C_in)`` and holds the weight as
        ``(*kernel, out_channels / groups, in_channels)`` (Keras's ``Conv2DTranspose``).

    Shape
    -----
    ``(N, in_channels, L)`` -> ``(N, out_channels, (L - 1) * stride - 2 * padding + dilation
    * (k - 1) + output_padding + 1)``; weight ``(in_channels, out_channels / groups, k)``.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> up = nn.ConvTranspose1d(4, 2, 3, stride=2)
    >>> up
    ConvTranspose1d(4, 2, kernel_size=(3,), stride=(2,))
    >>> tuple(up(np.zeros((1, 4, 5), np.float32)).shape)
    (1, 2, 11)
    """

    d = 1
    summary_name = "ConvTranspose1d"


class ConvTranspose2d(_TorchConvTranspose):
    """PyTorch's 2-D transposed convolution.

    Parameters
    ----------
    in_channels : int
        Input channels (for inference from the input use :class:`LazyConvTranspose2d`).
    out_channels : int
        Output channels.
    kernel_size : int or (int, int)
        The window.
    stride : int or (int, int), default 1
        Step (the upsampling factor).
    padding : int, (int, int) or ((int, int), (int, int)), default 0
        Removed from both sides of each axis of the full output.
    output_padding : int or (int, int), default 0
        Extra size added at the end of each output axis.
    groups : int, default 1
        Independent channel groups.
    bias : bool, default True
        Add a learned bias per output channel.
    dilation : int or (int, int), default 1
        Spacing of the window's taps.
    layout : {'channels_first', 'channels_last'}, keyword-only
        The input's layout (a portconv extension: PyTorch has ``memory_format``, not a
        layout); channels last takes ``(N, *spatial, C_in)`` and holds the weight as
        ``(*kernel, out_channels / groups, in_channels)`` (Keras's ``Conv2DTranspose``).

    Shape
    -----
    ``(N, in_channels, H, W)`` -> ``(N, out_channels, H_out, W_out)`` with ``H_out = (H - 1)
    * stride - 2 * padding + dilation * (kh - 1) + output_padding + 1``; weight
    ``(in_channels, out_channels / groups, kh, kw)``.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> up = nn.ConvTranspose2d(3, 4, 3, stride=2, output_padding=1)
    >>> up
    ConvTranspose2d(3, 4, kernel_size=(3, 3), stride=(2, 2), output_padding=(1, 1))
    >>> tuple(up(np.zeros((1, 3, 5, 5), np.float32)).shape)
    (1, 4, 12, 12)
    """

    d = 2
    summary_name = "ConvTranspose2d"


class ConvTranspose3d(_TorchConvTranspose):
    """PyTorch's 3-D transposed convolution.

    Parameters
    ----------
    in_channels, out_channels, kernel_size, stride, padding, output_padding, groups, bias,
    dilation, layout
        As :class:`ConvTranspose2d`, one value per spatial axis.

    Shape
    -----
    ``(N, in_channels, D, H, W)`` -> ``(N, out_channels, D_out, H_out, W_out)``.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> tuple(nn.ConvTranspose3d(3, 2, 2, stride=2)(np.zeros((1, 3, 2, 2, 2), np.float32)).shape)
    (1, 2, 4, 4, 4)
    """

    d = 3
    summary_name = "ConvTranspose3d"


class LazyConvTranspose1d(_LazyConvTranspose):
    """PyTorch's :class:`ConvTranspose1d` whose ``in_channels`` come from the first input.

    Parameters
    ----------
    out_channels, kernel_size, stride, padding, output_padding, groups, bias, dilation, layout
        As :class:`ConvTranspose1d`.

    Shape
    -----
    As :class:`ConvTranspose1d`; the weight is created by the first call.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> tuple(nn.LazyConvTranspose1d(2, 3)(np.zeros((1, 4, 5), np.float32)).shape)
    (1, 2, 7)
    """

    d = 1
    summary_name = "ConvTranspose1d"


class LazyConvTranspose2d(_LazyConvTranspose):
    """PyTorch's :class:`ConvTranspose2d` whose ``in_channels`` come from the first input.

    Parameters
    ----------
    out_channels, kernel_size, stride, padding, output_padding, groups, bias, dilation, layout
        As :class:`ConvTranspose2d`.

    Shape
    -----
    As :class:`ConvTranspose2d`; the weight is created by the first call.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> up = nn.LazyConvTranspose2d(4, 3)
    >>> up
    LazyConvTranspose2d(0, 4, kernel_size=(3, 3), stride=(1, 1))
    >>> tuple(up(np.zeros((1, 2, 5, 5), np.float32)).shape)
    (1, 4, 7, 7)
    """

    d = 2
    summary_name = "ConvTranspose2d"


class LazyConvTranspose3d(_LazyConvTranspose):
    """PyTorch's :class:`ConvTranspose3d` whose ``in_channels`` come from the first input.

    Parameters
    ----------
    out_channels, kernel_size, stride, padding, output_padding, groups, bias, dilation, layout
        As :class:`ConvTranspose3d`.

    Shape
    -----
    As :class:`ConvTranspose3d`; the weight is created by the first call.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> tuple(nn.LazyConvTranspose3d(2, 2)(np.zeros((1, 3, 2, 2, 2), np.float32)).shape)
    (1, 2, 3, 3, 3)
    """

    d = 3
    summary_name = "ConvTranspose3d"


#: the name portconv used for Gluon's :class:`Conv2DTranspose` before it had its own class
ConvTranspose2D = Conv2DTranspose


# -- dense ---------------------------------------------------------------------------------------


class Dense(Module):
    """Gluon's fully connected layer: ``y = x @ W.T + b``.

    Parameters
    ----------
    units : int
        Output features.
    activation : {None, 'relu', 'sigmoid', 'tanh'}
        Applied to the output.
    use_bias : bool, default True
        Add a learned bias (PyTorch's ``bias=`` is accepted too).
    flatten : bool, default True
        Flatten an input of more than two dimensions to ``(N, -1)`` first, as Gluon does.
    in_units : int, optional
        Input features; None or 0 (Gluon's default) infers them from the first input.

    Shape
    -----
    ``(N, *)`` -> ``(N, units)`` with ``flatten``; ``(*, in_units)`` -> ``(*, units)``
    without. Weight ``(units, in_units)``.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> dense = nn.Dense(120, activation="sigmoid")
    >>> dense
    Dense(None -> 120, Activation(sigmoid))
    >>> tuple(dense(np.zeros((2, 16, 5, 5), np.float32)).shape)
    (2, 120)
    >>> dense
    Dense(400 -> 120, Activation(sigmoid))
    """

    summary_name = "Dense"
    gluon = True
    lazy = False
    takes_array = True

    def __init__(
        self,
        units: int,
        activation: str | None = None,
        use_bias: bool = True,
        flatten: bool = True,
        in_units: int | None = None,
        *,
        bias: bool | None = None,
    ) -> None:
        super().__init__()
        self._setup(
            units,
            activation,
            gluon_alias("use_bias", use_bias, "bias", bias, True),
            flatten,
            in_size("in_units", in_units, infer=True),
            "units",
        )

    def _setup(
        self,
        units: Any,
        activation: Any,
        use_bias: Any,
        flatten: Any,
        in_units: int | None,
        out_name: str,
    ) -> None:
        """Check and keep the arguments (``in_units`` already checked; None: from the first
        input), and declare weight and bias."""
        self.units = positive_int(out_name, units)
        self.activation = activation
        self.act = _activation(activation)
        self.use_bias = flag("bias", use_bias)
        self.flatten = flag("flatten", flatten)
        self.in_units = in_units
        self.declare("weight", (self.units, self.in_units), "weight")
        if self.use_bias:
            self.declare("bias", (self.units,), "bias")

    def check_input(self, x: Any) -> None:
        data = _float_input(x)
        if data.ndim < 1:
            raise ArgumentError(
                f"input: {self._repr_name()} expects an array of at least one dimension "
                f"(*, in_features), got shape {tuple(data.shape)}"
            )
        w = self._params.get("weight")
        known = int(w.shape[1]) if w is not None else self.in_units
        n = math.prod(data.shape[1:]) if self.flatten and data.ndim > 2 else data.shape[-1]
        if known is not None and int(n) != known:
            flat = " after flattening to (N, -1)" if self.flatten and data.ndim > 2 else ""
            origin = (
                f"its weight {tuple(w.shape)} was created for its first input"
                if w is not None and self.in_units is None
                else f"its weight is {(self.units, known)}"
            )
            raise ArgumentError(
                f"input: {self._repr_name()} expects {known} input features in the last "
                f"axis{flat} ({origin}), got an input of shape {tuple(data.shape)}; a model "
                f"whose layers took their sizes from a first input needs inputs of that size"
            )

    def forward(self, x: Any) -> Variable:
        params = self._params
        if self._incomplete():  # the first call of a lazy layer: validate, then create
            self.check_input(x)
            if self.flatten and _data(x).ndim > 2:
                x = ag.flatten(x, 1)
            data = _data(x)
            with _creation_lock:
                if params["weight"] is None:
                    self.materialise("weight", (self.units, int(data.shape[-1])), data)
                if self.use_bias and params["bias"] is None:
                    self.materialise("bias", (self.units,), data)
        else:
            self.check_input(x)
            if self.flatten and _data(x).ndim > 2:
                x = ag.flatten(x, 1)
        w = params["weight"]
        if type(w.data) is not type(_data(x)):
            self._same_library_as(_data(x), w.data)
        y = ag.linear(x, w, params.get("bias"))
        return self.act(y) if self.act is not None else y

    def _repr_name(self) -> str:
        name = type(self).__name__
        if self.lazy and self._params.get("weight") is not None:
            return name[len("Lazy") :]
        return name

    def extra_repr(self) -> str:
        w = self._params.get("weight")
        cin = int(w.shape[1]) if w is not None else self.in_units
        if self.gluon:
            act = f"Activation({self.activation})" if self.activation else "linear"
            return f"{cin or None} -> {self.units}, {act}"
        return f"in_features={cin or 0}, out_features={self.units}, bias={self.use_bias}"


class Linear(Dense):
    """PyTorch's fully connected layer, ``y = x @ W.T + b`` on the last axis (no
    flattening).

    Parameters
    ----------
    in_features : int
        Input features (a positive int; for inference from the input use
        :class:`LazyLinear`).
    out_features : int
        Output features.
    bias : bool, default True
        Add a learned bias.

    Shape
    -----
    ``(*, in_features)`` -> ``(*, out_features)``; weight ``(out_features, in_features)``,
    created at construction (NumPy float32); the first call draws its values, as
    :class:`LazyLinear`'s, on the input's library, device and dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> fc = nn.Linear(400, 120)
    >>> fc
    Linear(in_features=400, out_features=120, bias=True)
    >>> tuple(fc(np.zeros((2, 400), np.float32)).shape)
    (2, 120)
    """

    summary_name = "Linear"
    gluon = False

    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        Module.__init__(self)
        cin = in_size("in_features", in_features, infer=False)
        self._setup(out_features, None, bias, False, cin, "out_features")


class LazyLinear(Dense):
    """PyTorch's :class:`Linear` whose ``in_features`` come from the first input (the book's
    PyTorch edition builds its models with it).

    Parameters
    ----------
    out_features : int
        Output features.
    bias : bool, default True
        Add a learned bias.

    Shape
    -----
    ``(*, in_features)`` -> ``(*, out_features)``; the weight is created by the first call.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> fc = nn.LazyLinear(10)
    >>> fc
    LazyLinear(in_features=0, out_features=10, bias=True)
    >>> tuple(fc(np.zeros((2, 84), np.float32)).shape)
    (2, 10)
    >>> fc
    Linear(in_features=84, out_features=10, bias=True)
    """

    summary_name = "Linear"
    gluon = False
    lazy = True

    def __init__(self, out_features: int, bias: bool = True) -> None:
        Module.__init__(self)
        self._setup(out_features, None, bias, False, None, "out_features")


# -- pooling -------------------------------------------------------------------------------------


class _Pool(Module):
    """What every max and average pooling layer shares: arguments (checked at construction),
    the call through :mod:`portconv.autograd` for ``d`` spatial dimensions, and both
    frameworks' printouts. ``ceil_mode`` of the Gluon-named classes is MXNet's "full"
    convention; of the PyTorch-named ones, PyTorch's (a last window that would start in the
    right padding is dropped)."""

    d = 2
    kind = "max"
    gluon = False
    takes_array = True
    return_indices = False  # PyTorch's max pooling layers may set it
    divisor_override = None  # PyTorch's 2-D and 3-D average pooling layers may set it

    def __init__(
        self,
        *,
        kernel_size: Any,
        stride: Any,
        padding: Any,
        dilation: Any,
        ceil_mode: Any,
        count_include_pad: Any,
        pooling_convention: str,
        pool_size: Any,
        strides: Any,
        layout: Any = "channels_first",
    ) -> None:
        super().__init__()
        d = self.d
        self.channels_last = _channels_last(layout, d, gluon=self.gluon)
        kernel = gluon_alias("kernel_size", kernel_size, "pool_size", pool_size, None)
        if kernel is None and self.gluon:
            kernel = 2  # Gluon's default window
        if kernel is None:
            raise ArgumentError("kernel_size: required (the pooling window)")
        self.kernel_size = kernel
        k = int_tuple("kernel_size", kernel, d)
        self.stride = gluon_alias("stride", stride, "strides", strides, None)
        s = k if self.stride is None else int_tuple("stride", self.stride, d)
        self.padding, self.dilation = padding, dilation
        dil = int_tuple("dilation", dilation, d)
        padding_pairs("padding", padding, d, spatial=k, kernel=k, stride=s, dilation=dil)
        self.count_include_pad = flag("count_include_pad", count_include_pad)
        ceil = flag("ceil_mode", ceil_mode)
        if pooling_convention not in ("valid", "full", "same"):
            raise ArgumentError(
                f"pooling_convention: expected 'valid', 'full' or 'same', "
                f"got {pooling_convention!r}"
            )
        if self.gluon and ceil:
            # Gluon's ceil_mode=True is MXNet's pooling_convention="full"
            self.ceil_mode, self.convention = False, "full"
        else:
            self.ceil_mode, self.convention = ceil, pooling_convention

    def forward(self, x: Any) -> Variable:
        if self.kind == "max":
            return getattr(ag, f"max_pool{self.d}d")(
                x,
                self.kernel_size,
                self.stride,
                self.padding,
                self.dilation,
                self.ceil_mode,
                self.return_indices,
                pooling_convention=self.convention,
                layout=_layout_name(self.channels_last),
            )
        return getattr(ag, f"avg_pool{self.d}d")(
            x,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
            self.divisor_override,
            pooling_convention=self.convention,
            layout=_layout_name(self.channels_last),
        )

    def extra_repr(self) -> str:
        d = self.d
        if self.gluon:
            k = _as_tuple(self.kernel_size, d)
            s = k if self.stride is None else _as_tuple(self.stride, d)
            return (
                f"size={k}, stride={s}, padding={_as_tuple(self.padding, d)}, "
                f"ceil_mode={self.convention == 'full'}, global_pool=False, "
                f"pool_type={self.kind}, "
                f"layout={(_GLUON_LAST if self.channels_last else _GLUON_LAYOUT)[d]}"
            )
        k, s, p = self.kernel_size, self.stride, self.padding
        s = k if s is None else s
        if self.kind == "avg" and d == 1:  # PyTorch keeps AvgPool1d's sizes as tuples
            k, s, p = _as_tuple(k, 1), _as_tuple(s, 1), _as_tuple(p, 1)
        # portconv's extension: PyTorch's layers have no layout
        last = ", layout='channels_last'" if self.channels_last else ""
        if self.kind == "avg":
            return f"kernel_size={k}, stride={s}, padding={p}{last}"
        return (
            f"kernel_size={k}, stride={s}, padding={p}, dilation={self.dilation}, "
            f"ceil_mode={self.ceil_mode}{last}"
        )


class _TorchMaxPool(_Pool):
    """PyTorch's signature: ``(kernel_size, stride=None, padding=0, dilation=1,
    return_indices=False, ceil_mode=False)``."""

    kind = "max"

    def __init__(
        self,
        kernel_size: Any = None,
        stride: Any = None,
        padding: Any = 0,
        dilation: Any = 1,
        return_indices: bool = False,
        ceil_mode: bool = False,
        *,
        pool_size: Any = None,
        strides: Any = None,
        pooling_convention: str = "valid",
        count_include_pad: bool = True,
        layout: str = "channels_first",
    ) -> None:
        super().__init__(
            kernel_size=kernel_size,
            stride=stride,
            padding=padding,
            dilation=dilation,
            ceil_mode=ceil_mode,
            count_include_pad=count_include_pad,
            pooling_convention=pooling_convention,
            pool_size=pool_size,
            strides=strides,
            layout=layout,
        )
        self.return_indices = flag("return_indices", return_indices)


class _TorchAvgPool(_Pool):
    """PyTorch's signature: ``(kernel_size, stride=None, padding=0, ceil_mode=False,
    count_include_pad=True, divisor_override=None)``."""

    kind = "avg"

    def __init__(
        self,
        kernel_size: Any = None,
        stride: Any = None,
        padding: Any = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: int | None = None,
        *,
        pool_size: Any = None,
        strides: Any = None,
        pooling_convention: str = "valid",
        dilation: Any = 1,
        layout: str = "channels_first",
    ) -> None:
        if divisor_override is not None and self.d == 1:  # as torch.nn.AvgPool1d
            raise ArgumentError(
                f"divisor_override: AvgPool1d has none (AvgPool2d and AvgPool3d do), got "
                f"{divisor_override!r}"
            )
        divisor = divisor_arg(divisor_override)
        if int_tuple("dilation", dilation, self.d) != (1,) * self.d:
            raise ArgumentError(
                f"dilation: average pooling has no dilation in portconv.nn, got {dilation!r}"
            )
        super().__init__(
            kernel_size=kernel_size,
            stride=stride,
            padding=padding,
            dilation=1,
            ceil_mode=ceil_mode,
            count_include_pad=count_include_pad,
            pooling_convention=pooling_convention,
            pool_size=pool_size,
            strides=strides,
            layout=layout,
        )
        self.divisor_override = divisor


class _GluonMaxPool(_Pool):
    """Gluon's signature: ``(pool_size=2, strides=None, padding=0, layout='NCHW',
    ceil_mode=False)``."""

    kind = "max"
    gluon = True

    def __init__(
        self,
        pool_size: Any = None,
        strides: Any = None,
        padding: Any = 0,
        layout: str | None = None,
        ceil_mode: bool = False,
        *,
        kernel_size: Any = None,
        stride: Any = None,
        dilation: Any = 1,
        count_include_pad: bool = True,
        pooling_convention: str = "valid",
    ) -> None:
        super().__init__(
            kernel_size=kernel_size,
            stride=stride,
            padding=padding,
            dilation=dilation,
            ceil_mode=ceil_mode,
            count_include_pad=count_include_pad,
            pooling_convention=pooling_convention,
            pool_size=pool_size,
            strides=strides,
            layout=layout,
        )


class _GluonAvgPool(_Pool):
    """Gluon's signature: ``(pool_size=2, strides=None, padding=0, ceil_mode=False,
    layout='NCHW', count_include_pad=True)``."""

    kind = "avg"
    gluon = True

    def __init__(
        self,
        pool_size: Any = None,
        strides: Any = None,
        padding: Any = 0,
        ceil_mode: bool = False,
        layout: str | None = None,
        count_include_pad: bool = True,
        *,
        kernel_size: Any = None,
        stride: Any = None,
        pooling_convention: str = "valid",
        dilation: Any = 1,
    ) -> None:
        if int_tuple("dilation", dilation, self.d) != (1,) * self.d:
            raise ArgumentError(
                f"dilation: average pooling has no dilation in portconv.nn, got {dilation!r}"
            )
        super().__init__(
            kernel_size=kernel_size,
            stride=stride,
            padding=padding,
            dilation=1,
            ceil_mode=ceil_mode,
            count_include_pad=count_include_pad,
            pooling_convention=pooling_convention,
            pool_size=pool_size,
            strides=strides,
            layout=layout,
        )


class MaxPool1d(_TorchMaxPool):
    """PyTorch's 1-D max pooling.

    Parameters
    ----------
    kernel_size : int or (int,)
        The window (Gluon's ``pool_size=`` is accepted too).
    stride : int or (int,), optional
        Step of the window; default the window.
    padding : int, (int,) or ((int, int),), default 0
        -inf added at both ends.
    dilation : int or (int,), default 1
        Spacing of the window's taps.
    return_indices : bool, default False
        Also return the flat position of each maximum within its ``(n, c)`` plane, as
        PyTorch does (an int64 array, for :class:`MaxUnpool1d`).
    ceil_mode : bool, default False
        Round the output size up (PyTorch's rule).
    layout : {'channels_first', 'channels_last'}, keyword-only
        The input's layout (a portconv extension: PyTorch has ``memory_format``, not a
        layout); channels last takes ``(N, *spatial, C)``.

    Shape
    -----
    ``(N, C, L)`` or ``(C, L)`` -> ``(N, C, L_out)``.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> pool = nn.MaxPool1d(2)
    >>> pool
    MaxPool1d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)
    >>> pool(np.arange(6, dtype=np.float32).reshape(1, 1, 6)).data
    array([[[1., 3., 5.]]], dtype=float32)
    """

    d = 1
    summary_name = "MaxPool1d"


class MaxPool2d(_TorchMaxPool):
    """PyTorch's 2-D max pooling.

    Parameters
    ----------
    kernel_size : int or (int, int)
        The window (Gluon's ``pool_size=`` is accepted too).
    stride : int or (int, int), optional
        Step of the window; default the window (``strides=`` is accepted too).
    padding : int, (int, int), ((int, int), (int, int)), 'valid', 'same' or 'same_lower'
        -inf added; any amount, as MXNet allows; default 0.
    dilation : int or (int, int), default 1
        Spacing of the window's taps.
    return_indices : bool, default False
        Also return the flat position of each maximum within its ``(n, c)`` plane, as
        PyTorch does (an int64 array, for :class:`MaxUnpool2d`).
    ceil_mode : bool, default False
        Round the output size up (PyTorch's rule: a last window that would start in the
        right padding is dropped).
    layout : {'channels_first', 'channels_last'}, keyword-only
        The input's layout (a portconv extension: PyTorch has ``memory_format``, not a
        layout); channels last takes ``(N, *spatial, C)``.

    Shape
    -----
    ``(N, C, H, W)`` or ``(C, H, W)`` -> ``(N, C, H_out, W_out)``.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> pool = nn.MaxPool2d(2, stride=2)
    >>> pool
    MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)
    >>> tuple(pool(np.zeros((1, 6, 28, 28), np.float32)).shape)
    (1, 6, 14, 14)
    """

    d = 2
    summary_name = "MaxPool2d"


class MaxPool3d(_TorchMaxPool):
    """PyTorch's 3-D max pooling.

    Parameters
    ----------
    kernel_size, stride, padding, dilation, return_indices, ceil_mode
        As :class:`MaxPool2d`, one value per spatial axis.
    layout : {'channels_first', 'channels_last'}, keyword-only
        The input's layout (a portconv extension: PyTorch has ``memory_format``, not a
        layout); channels last takes ``(N, *spatial, C)``.

    Shape
    -----
    ``(N, C, D, H, W)`` or ``(C, D, H, W)`` -> ``(N, C, D_out, H_out, W_out)``.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> tuple(nn.MaxPool3d(2)(np.zeros((1, 1, 4, 4, 4), np.float32)).shape)
    (1, 1, 2, 2, 2)
    """

    d = 3
    summary_name = "MaxPool3d"


class AvgPool1d(_TorchAvgPool):
    """PyTorch's 1-D average pooling.

    Parameters
    ----------
    kernel_size : int or (int,)
        The window (Gluon's ``pool_size=`` is accepted too).
    stride : int or (int,), optional
        Step of the window; default the window.
    padding : int, (int,) or ((int, int),), default 0
        Zeros added at both ends.
    ceil_mode : bool, default False
        Round the output size up (PyTorch's rule).
    count_include_pad : bool, default True
        Divide by the whole window, padding included (else by the elements inside the input).
    divisor_override : int, optional
        Divide every window's sum by this (non-zero) instead of its count.
    layout : {'channels_first', 'channels_last'}, keyword-only
        The input's layout (a portconv extension: PyTorch has ``memory_format``, not a
        layout); channels last takes ``(N, *spatial, C)``.

    Shape
    -----
    ``(N, C, L)`` or ``(C, L)`` -> ``(N, C, L_out)``.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> pool = nn.AvgPool1d(2)
    >>> pool
    AvgPool1d(kernel_size=(2,), stride=(2,), padding=(0,))
    >>> pool(np.arange(6, dtype=np.float32).reshape(1, 1, 6)).data
    array([[[0.5, 2.5, 4.5]]], dtype=float32)
    """

    d = 1
    summary_name = "AvgPool1d"


class AvgPool2d(_TorchAvgPool):
    """PyTorch's 2-D average pooling, as the book's LeNet uses it.

    Parameters
    ----------
    kernel_size : int or (int, int)
        The window (Gluon's ``pool_size=`` is accepted too).
    stride : int or (int, int), optional
        Step of the window; default the window (``strides=`` is accepted too).
    padding : int, (int, int), ((int, int), (int, int)), 'valid', 'same' or 'same_lower'
        Zeros added; any amount, as MXNet allows; default 0.
    ceil_mode : bool, default False
        Round the output size up (PyTorch's rule).
    count_include_pad : bool, default True
        Divide by the whole window, padding included (else by the elements inside the input).
    divisor_override : int, optional
        Divide every window's sum by this (non-zero) instead of its count.
    layout : {'channels_first', 'channels_last'}, keyword-only
        The input's layout (a portconv extension: PyTorch has ``memory_format``, not a
        layout); channels last takes ``(N, *spatial, C)``.

    Shape
    -----
    ``(N, C, H, W)`` or ``(C, H, W)`` -> ``(N, C, H_out, W_out)``.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> pool = nn.AvgPool2d(kernel_size=2, stride=2)
    >>> pool
    AvgPool2d(kernel_size=2, stride=2, padding=0)
    >>> tuple(pool(np.zeros((1, 6, 28, 28), np.float32)).shape)
    (1, 6, 14, 14)
    """

    d = 2
    summary_name = "AvgPool2d"


class AvgPool3d(_TorchAvgPool):
    """PyTorch's 3-D average pooling.

    Parameters
    ----------
    kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
        As :class:`AvgPool2d`, one value per spatial axis.
    layout : {'channels_first', 'channels_last'}, keyword-only
        The input's layout (a portconv extension: PyTorch has ``memory_format``, not a
        layout); channels last takes ``(N, *spatial, C)``.

    Shape
    -----
    ``(N, C, D, H, W)`` or ``(C, D, H, W)`` -> ``(N, C, D_out, H_out, W_out)``.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> tuple(nn.AvgPool3d(2)(np.zeros((1, 1, 4, 4, 4), np.float32)).shape)
    (1, 1, 2, 2, 2)
    """

    d = 3
    summary_name = "AvgPool3d"


class MaxPool1D(_GluonMaxPool):
    """Gluon's 1-D max pooling.

    Parameters
    ----------
    pool_size : int or (int,), default 2
        The window (PyTorch's ``kernel_size=`` is accepted too).
    strides : int or (int,), optional
        Step of the window; default the window (``stride=`` is accepted too).
    padding : int, (int,) or ((int, int),), default 0
        -inf added at both ends.
    layout : {None, 'NCW', 'NWC', 'channels_first', 'channels_last'}
        Gluon's layout of the input (None: channels first).
    ceil_mode : bool, default False
        MXNet's "full" convention: round the output size up.

    Shape
    -----
    ``(N, C, L)`` or ``(C, L)`` -> ``(N, C, L_out)``.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> tuple(nn.MaxPool1D()(np.zeros((1, 2, 7), np.float32)).shape)
    (1, 2, 3)
    """

    d = 1
    summary_name = "MaxPool1D"


class MaxPool2D(_GluonMaxPool):
    """Gluon's 2-D max pooling, as the book's MXNet edition uses it.

    Parameters
    ----------
    pool_size : int or (int, int), default 2
        The window (PyTorch's ``kernel_size=`` is accepted too).
    strides : int or (int, int), optional
        Step of the window; default the window (``stride=`` is accepted too).
    padding : int, (int, int), ((int, int), (int, int)), 'valid', 'same' or 'same_lower'
        -inf added; any amount; default 0.
    layout : {None, 'NCHW', 'NHWC', 'channels_first', 'channels_last'}
        Gluon's layout of the input (None: channels first).
    ceil_mode : bool, default False
        MXNet's "full" convention: round the output size up (every window that starts
        inside the padded input counts, unlike PyTorch's ceil_mode).

    Shape
    -----
    ``(N, C, H, W)`` or ``(C, H, W)`` -> ``(N, C, H_out, W_out)``.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> pool = nn.MaxPool2D(pool_size=3, strides=2, padding=1)
    >>> pool
    MaxPool2D(size=(3, 3), stride=(2, 2), padding=(1, 1), ceil_mode=False, global_pool=False, pool_type=max, layout=NCHW)
    >>> tuple(pool(np.zeros((1, 1, 4, 4), np.float32)).shape)
    (1, 1, 2, 2)
    """  # noqa: E501 (Gluon's printout is one line)

    d = 2
    summary_name = "MaxPool2D"


class MaxPool3D(_GluonMaxPool):
    """Gluon's 3-D max pooling.

    Parameters
    ----------
    pool_size, strides, padding, ceil_mode
        As :class:`MaxPool2D`, one value per spatial axis.
    layout : {None, 'NCDHW', 'NDHWC', 'channels_first', 'channels_last'}
        Gluon's layout of the input (None: channels first).

    Shape
    -----
    ``(N, C, D, H, W)`` or ``(C, D, H, W)`` -> ``(N, C, D_out, H_out, W_out)``.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> tuple(nn.MaxPool3D()(np.zeros((1, 1, 4, 4, 4), np.float32)).shape)
    (1, 1, 2, 2, 2)
    """

    d = 3
    summary_name = "MaxPool3D"


class AvgPool1D(_GluonAvgPool):
    """Gluon's 1-D average pooling.

    Parameters
    ----------
    pool_size : int or (int,), default 2
        The window (PyTorch's ``kernel_size=`` is accepted too).
    strides : int or (int,), optional
        Step of the window; default the window (``stride=`` is accepted too).
    padding : int, (int,) or ((int, int),), default 0
        Zeros added at both ends.
    ceil_mode : bool, default False
        MXNet's "full" convention: round the output size up.
    layout : {None, 'NCW', 'NWC', 'channels_first', 'channels_last'}
        Gluon's layout of the input (None: channels first).
    count_include_pad : bool, default True
        Divide by the whole window, padding included.

    Shape
    -----
    ``(N, C, L)`` or ``(C, L)`` -> ``(N, C, L_out)``.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> tuple(nn.AvgPool1D()(np.zeros((1, 2, 7), np.float32)).shape)
    (1, 2, 3)
    """

    d = 1
    summary_name = "AvgPool1D"


class AvgPool2D(_GluonAvgPool):
    """Gluon's 2-D average pooling, as the book's MXNet edition uses it.

    Parameters
    ----------
    pool_size : int or (int, int), default 2
        The window (PyTorch's ``kernel_size=`` is accepted too).
    strides : int or (int, int), optional
        Step of the window; default the window (``stride=`` is accepted too).
    padding : int, (int, int), ((int, int), (int, int)), 'valid', 'same' or 'same_lower'
        Zeros added; default 0.
    ceil_mode : bool, default False
        MXNet's "full" convention: round the output size up.
    layout : {None, 'NCHW', 'NHWC', 'channels_first', 'channels_last'}
        Gluon's layout of the input (None: channels first).
    count_include_pad : bool, default True
        Divide by the whole window, padding included (else by the elements inside the input).

    Shape
    -----
    ``(N, C, H, W)`` or ``(C, H, W)`` -> ``(N, C, H_out, W_out)``.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> pool = nn.AvgPool2D(pool_size=2, strides=2)
    >>> pool
    AvgPool2D(size=(2, 2), stride=(2, 2), padding=(0, 0), ceil_mode=False, global_pool=False, pool_type=avg, layout=NCHW)
    >>> tuple(pool(np.zeros((1, 6, 28, 28), np.float32)).shape)
    (1, 6, 14, 14)
    """  # noqa: E501 (Gluon's printout is one line)

    d = 2
    summary_name = "AvgPool2D"


class AvgPool3D(_GluonAvgPool):
    """Gluon's 3-D average pooling.

    Parameters
    ----------
    pool_size, strides, padding, ceil_mode, count_include_pad
        As :class:`AvgPool2D`, one value per spatial axis.
    layout : {None, 'NCDHW', 'NDHWC', 'channels_first', 'channels_last'}
        Gluon's layout of the input (None: channels first).

    Shape
    -----
    ``(N, C, D, H, W)`` or ``(C, D, H, W)`` -> ``(N, C, D_out, H_out, W_out)``.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> tuple(nn.AvgPool3D()(np.zeros((1, 1, 4, 4, 4), np.float32)).shape)
    (1, 1, 2, 2, 2)
    """

    d = 3
    summary_name = "AvgPool3D"


class AdaptiveAvgPool2D(Module):
    """Adaptive average pooling to a fixed output size (the base of PyTorch's
    :class:`AdaptiveAvgPool2d`, under the capitalised spelling of the Gluon-named layers).

    Parameters
    ----------
    output_size : int, (int, int) or (int or None, int or None)
        The output's height and width (None keeps the input's size on that axis).
    layout : {'channels_first', 'channels_last', 'NCHW', 'NHWC'}, keyword-only
        The input's layout.

    Shape
    -----
    ``(N, C, H, W)`` or ``(C, H, W)`` -> ``(N, C, *output_size)``; channels last
    ``(N, H, W, C)`` -> ``(N, *output_size, C)``.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> tuple(nn.AdaptiveAvgPool2D((1, 1))(np.zeros((2, 8, 7, 7), np.float32)).shape)
    (2, 8, 1, 1)
    """

    summary_name = "AdaptiveAvgPool2d"
    takes_array = True
    gluon = True  # Gluon's layout strings too
    # what models.shapes reads of every adaptive pooling layer (as nn.AdaptiveMaxPool2d has)
    d = 2
    kind = "avg"
    return_indices = False

    def __init__(self, output_size: Any, *, layout: str = "channels_first") -> None:
        super().__init__()
        self.output_size = output_size
        self.channels_last = _channels_last(layout, 2, gluon=self.gluon)

    def forward(self, x: Any) -> Variable:
        return ag.adaptive_avg_pool2d(x, self.output_size, layout=_layout_name(self.channels_last))

    def extra_repr(self) -> str:
        # portconv's extension: PyTorch's layers have no layout
        last = ", layout='channels_last'" if self.channels_last else ""
        return f"output_size={self.output_size}{last}"


class AdaptiveAvgPool2d(AdaptiveAvgPool2D):
    """PyTorch's ``AdaptiveAvgPool2d(output_size)`` (the book's ResNet and NiN heads).

    Parameters
    ----------
    output_size : int, (int, int) or (int or None, int or None)
        The output's height and width (None keeps the input's size on that axis).
    layout : {'channels_first', 'channels_last'}, keyword-only
        The input's layout (a portconv extension: PyTorch has ``memory_format``, not a
        layout).

    Shape
    -----
    ``(N, C, H, W)`` or ``(C, H, W)`` -> ``(N, C, *output_size)``; channels last
    ``(N, H, W, C)`` -> ``(N, *output_size, C)``.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> pool = nn.AdaptiveAvgPool2d((1, 1))
    >>> pool
    AdaptiveAvgPool2d(output_size=(1, 1))
    >>> tuple(pool(np.zeros((2, 8, 7, 7), np.float32)).shape)
    (2, 8, 1, 1)
    """

    gluon = False


class GlobalAvgPool2D(Module):
    """Gluon's global average pooling: the mean of each channel.

    Parameters
    ----------
    layout : {'NCHW', 'NHWC', 'channels_first', 'channels_last', None}
        Gluon's layout of the input (None: channels first).

    Shape
    -----
    ``(N, C, H, W)`` -> ``(N, C, 1, 1)`` (Gluon keeps the spatial axes; flatten after it);
    NHWC ``(N, H, W, C)`` -> ``(N, 1, 1, C)``.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> tuple(nn.GlobalAvgPool2D()(np.ones((2, 3, 5, 5), np.float32)).shape)
    (2, 3, 1, 1)
    """

    summary_name = "GlobalAvgPool2D"
    takes_array = True
    _pool_type = "avg"

    def __init__(self, layout: str | None = "NCHW") -> None:
        super().__init__()
        self.channels_last = _channels_last(layout, 2, gluon=True)

    def forward(self, x: Any) -> Variable:
        return ag.global_avg_pool(x, layout=_layout_name(self.channels_last))

    def extra_repr(self) -> str:
        return (
            "size=(1, 1), stride=(1, 1), padding=(0, 0), ceil_mode=True, global_pool=True, "
            f"pool_type={self._pool_type}, layout={'NHWC' if self.channels_last else 'NCHW'}"
        )


class GlobalMaxPool2D(Module):
    """Gluon's global max pooling: the maximum of each channel.

    Parameters
    ----------
    layout : {'NCHW', 'NHWC', 'channels_first', 'channels_last', None}
        Gluon's layout of the input (None: channels first).

    Shape
    -----
    ``(N, C, H, W)`` -> ``(N, C, 1, 1)``; NHWC ``(N, H, W, C)`` -> ``(N, 1, 1, C)``.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> nn.GlobalMaxPool2D()(np.arange(8, dtype=np.float32).reshape(1, 2, 2, 2)).data
    array([[[[3.]],
    <BLANKLINE>
            [[7.]]]], dtype=float32)
    """

    summary_name = "GlobalMaxPool2D"
    takes_array = True
    _pool_type = "max"

    def __init__(self, layout: str | None = "NCHW") -> None:
        super().__init__()
        self.channels_last = _channels_last(layout, 2, gluon=True)

    def forward(self, x: Any) -> Variable:
        return ag.global_max_pool(x, layout=_layout_name(self.channels_last))

    extra_repr = GlobalAvgPool2D.extra_repr


# -- normalisation and regularisation ------------------------------------------------------------


def batch_norm(x: Any, channel: int, eps: float, scale: Any, shift: Any, stats: Any) -> tuple:
    """Batch normalisation of ``x`` (a Variable or an array) over every axis but ``channel``,
    as the three editions' layers compute it (:class:`BatchNorm2d`, Keras's
    ``BatchNormalization``, Flax's ``BatchNorm``): ``(x - mean) / sqrt(var + eps) * scale +
    shift``, ``scale`` and ``shift`` one per channel (either may be None: left out).

    ``stats``: the running ``(mean, var)`` arrays to normalise with (evaluation), or None to
    use the batch's own mean and biased variance (training). Returns ``(y, batch)``: the
    batch's ``(mean, var, count)`` (arrays of one value per channel, and the elements per
    channel) for the running update (:func:`running_update`), None with ``stats``. The
    per-channel factors are folded before they meet the (large) input: two elementwise passes
    over it in evaluation, as frameworks' inference kernels do.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(8, dtype=np.float32).reshape(4, 2)  # 4 examples, 2 channels
    >>> y, (mean, var, count) = batch_norm(x, 1, 0.0, None, None, None)
    >>> y.data[:, 0].round(3), mean.ravel(), count
    (array([-1.342, -0.447,  0.447,  1.342], dtype=float32), array([3., 4.], dtype=float32), 4)
    """
    data = _data(x)
    c = int(data.shape[channel])
    shape = tuple(c if a == channel else 1 for a in range(data.ndim))
    if stats is None:
        axes = tuple(a for a in range(data.ndim) if a != channel)
        mean = ag.mean(x, axis=axes, keepdims=True)
        centred = ag.subtract(x, mean)
        var = ag.mean(ag.multiply(centred, centred), axis=axes, keepdims=True)
        factor = ag.pow(ag.add(var, eps), -0.5)
        if scale is not None:
            factor = ag.multiply(factor, ag.reshape(scale, shape))
        y = ag.multiply(centred, factor)
        y = y if shift is None else ag.add(y, ag.reshape(shift, shape))
        return y, (mean.data, var.data, math.prod(data.shape) // c)
    factor, offset = eval_affine(stats[0], stats[1], eps, scale, shift)
    return ag.add(ag.multiply(x, ag.reshape(factor, shape)), ag.reshape(offset, shape)), None


def eval_affine(mean: Any, var: Any, eps: float, scale: Any, shift: Any) -> tuple:
    """Evaluation-mode batch normalisation as ``x * factor + offset``: ``factor = scale /
    sqrt(var + eps)`` and ``offset = shift - mean * factor``, one value per channel (1-D
    Variables; ``scale``, ``shift`` None: left out). :func:`batch_norm` applies them to its
    input, a convolution followed by a batch norm folds them into its weight and bias."""
    mean, var = (ag.reshape(Variable(a), (math.prod(a.shape),)) for a in (mean, var))
    factor = ag.pow(ag.add(var, eps), -0.5)
    if scale is not None:
        factor = ag.multiply(factor, ag.reshape(scale, (math.prod(scale.shape),)))
    offset = ag.negative(ag.multiply(mean, factor))
    if shift is not None:
        offset = ag.add(offset, ag.reshape(shift, (math.prod(shift.shape),)))
    return factor, offset


def running_update(module: Any, stats: dict, keep: float, take: float) -> None:
    """``buffer * keep + batch * take`` into each of ``module``'s running statistics (``stats``:
    buffer name -> the batch's value, an array of any shape holding one per channel), as an
    array of the buffer's kind: the update of the three editions' batch normalisations, each
    with its own momentum convention."""
    from .._dispatch import backend_of

    for name, batch in stats.items():
        old = getattr(module, name)
        ad = backend_of(batch).adapter
        new = ad.namespace().reshape(ad.to_standard(batch), (math.prod(old.shape),))
        module.register_buffer(name, ad.from_standard(ad.to_standard(old) * keep + new * take, old))


class _BatchNorm(Module):
    """Batch normalisation over the channel axis, 1 or the last (the base of every batch-norm
    layer).

    Training normalises with the batch's mean and (biased) variance and updates the running
    statistics; evaluation uses the running statistics. ``convention`` chooses how the running
    statistics move, as the two frameworks differ:

    * ``"torch"`` (``momentum=0.1``): ``running = (1 - momentum) * running + momentum * batch``,
      the batch variance taken unbiased (n / (n - 1)), as ``torch.nn.BatchNorm2d``;
    * ``"gluon"`` (``momentum=0.9``): ``running = momentum * running + (1 - momentum) *
      batch``, the batch variance biased, as ``mxnet.gluon.nn.BatchNorm``.

    ``num_features`` (or ``in_channels``) None or 0: the channels come from the first input.
    """

    ndims: tuple[int, ...] = (4,)
    gluon = False
    lazy = False
    takes_array = True

    def __init__(
        self,
        num_features: int | None = None,
        eps: float = 1e-5,
        momentum: float | None = None,
        *,
        convention: str = "torch",
        in_channels: int | None = None,
        epsilon: float | None = None,
        layout: str = "channels_first",
        axis: Any = None,
    ) -> None:
        super().__init__()
        if axis is None:
            axis = -1 if _channels_last(layout, 2) else 1
        elif isinstance(axis, bool) or not isinstance(axis, int | np.integer) or axis in (0, -2):
            raise ArgumentError(
                f"axis: expected the channel axis, 1 (channels first) or -1 or the last axis "
                f"(channels last), got {axis!r}"
            )
        self.axis = int(axis)
        if convention not in ("torch", "gluon"):
            raise ArgumentError(f"convention: expected 'torch' or 'gluon', got {convention!r}")
        self.convention = convention
        if momentum is None:
            momentum = 0.1 if convention == "torch" else 0.9
        self.momentum = real_number("momentum", momentum, low=0.0, high=1.0)
        eps = gluon_alias("eps", eps, "epsilon", epsilon, 1e-5)
        self.eps = real_number("eps", eps, low=0.0)
        n = in_size("num_features", num_features, infer=True)
        c = in_size("in_channels", in_channels, infer=True)
        if n is not None and c is not None and n != c:
            raise ArgumentError(
                f"num_features: given as num_features={n} and in_channels={c}; give it once"
            )
        self.num_features = n if n is not None else c
        self.declare("weight", (self.num_features,), "ones")
        self.declare("bias", (self.num_features,), "zeros")
        if self.num_features is None:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
        else:
            self.declare_buffer("running_mean", np.zeros(self.num_features))
            self.declare_buffer("running_var", np.ones(self.num_features))

    def channel_axis(self, ndim: int) -> int:
        """The channel axis of an input of ``ndim`` dimensions (1 or the last)."""
        if self.axis in (1, -1, ndim - 1):
            return 1 if self.axis == 1 else ndim - 1
        raise ArgumentError(
            f"axis: {self._repr_name()} normalises over the channel axis, 1 or the last; "
            f"axis={self.axis} of a {ndim}-D input is neither"
        )

    def check_input(self, x: Any) -> None:
        data = _float_input(x)
        if data.ndim not in self.ndims:
            if self.axis == 1:
                shapes = {2: "(N, C)", 3: "(N, C, L)", 4: "(N, C, H, W)", 5: "(N, C, D, H, W)"}
            else:
                shapes = {2: "(N, C)", 3: "(N, L, C)", 4: "(N, H, W, C)", 5: "(N, D, H, W, C)"}
            expects = " or ".join(shapes[n] for n in self.ndims)
            raise ArgumentError(
                f"input: {self._repr_name()} expects {expects} arrays, "
                f"got shape {tuple(data.shape)}"
            )
        axis = self.channel_axis(data.ndim)
        w = self._params.get("weight")
        known = int(w.shape[0]) if w is not None else self.num_features
        if known is not None and int(data.shape[axis]) != known:
            raise ArgumentError(
                f"input: {self._repr_name()} expects {known} channels (axis {axis}), got an "
                f"input of shape {tuple(data.shape)}"
            )

    def forward(self, x: Any) -> Variable:
        self.check_input(x)
        data = _data(x)
        channel = self.channel_axis(data.ndim)
        c = int(data.shape[channel])
        if self._incomplete():
            with _creation_lock:
                if self._params["weight"] is None:
                    self.materialise("weight", (c,), data)
                    self.materialise("bias", (c,), data)
                if self.running_mean is None:
                    self.register_buffer("running_mean", _host_to(np.zeros(c), data))
                    self.register_buffer("running_var", _host_to(np.ones(c), data))
        w = self._params["weight"]
        if type(w.data) is not type(data):
            self._same_library_as(data, w.data)
        stats = None if self.training else (self.running_mean, self.running_var)
        y, batch = batch_norm(x, channel, self.eps, self.weight, self.bias, stats)
        if batch is not None:
            mean, var, n = batch
            if self.convention == "torch":  # PyTorch keeps the unbiased variance
                var = var * (n / max(n - 1, 1))
                keep, take = 1.0 - self.momentum, self.momentum
            else:
                keep, take = self.momentum, 1.0 - self.momentum
            running_update(self, {"running_mean": mean, "running_var": var}, keep, take)
        return y

    def _repr_name(self) -> str:
        name = type(self).__name__
        if self.lazy and self._params.get("weight") is not None:
            return name[len("Lazy") :]
        return name

    def extra_repr(self) -> str:
        w = self._params.get("weight")
        c = int(w.shape[0]) if w is not None else self.num_features
        if self.gluon:
            return (
                f"axis={self.axis}, eps={self.eps!r}, momentum={self.momentum!r}, "
                f"fix_gamma=False, use_global_stats=False, in_channels={c or None}"
            )
        # portconv's extension: PyTorch's layers have no layout
        last = ", layout='channels_last'" if self.axis != 1 else ""
        return (
            f"{c or 0}, eps={self.eps}, momentum={self.momentum}, affine=True, bias=True, "
            f"track_running_stats=True{last}"
        )


class BatchNorm1d(_BatchNorm):
    """PyTorch's batch normalisation of ``(N, C)`` or ``(N, C, L)`` input.

    Parameters
    ----------
    num_features : int, optional
        Channels ``C``; None or 0 takes them from the first input.
    eps : float, default 1e-5
        Added to the variance (a finite number >= 0; Gluon's ``epsilon=`` is accepted too).
    momentum : float, optional
        Weight of the batch in the running statistics, in [0, 1]; default 0.1
        (``convention="torch"``) or 0.9 (``"gluon"``: the weight of the old value).
    convention : {'torch', 'gluon'}
        How the running statistics move (see :class:`BatchNorm`).
    in_channels : int, optional
        Gluon's name for ``num_features``.
    layout : {'channels_first', 'channels_last'}, keyword-only
        The input's layout (a portconv extension: PyTorch has ``memory_format``, not a
        layout); channels last takes ``(N, *spatial, C)``.

    Shape
    -----
    ``(N, C)`` or ``(N, C, L)`` -> the same.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> bn = nn.BatchNorm1d(120)
    >>> bn
    BatchNorm1d(120, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)
    >>> tuple(bn(np.ones((4, 120), np.float32)).shape)
    (4, 120)
    """

    ndims = (2, 3)
    summary_name = "BatchNorm1d"


class BatchNorm2d(_BatchNorm):
    """PyTorch's batch normalisation of ``(N, C, H, W)`` input.

    Parameters
    ----------
    num_features : int, optional
        Channels ``C``; None or 0 takes them from the first input.
    eps : float, default 1e-5
        Added to the variance (a finite number >= 0; Gluon's ``epsilon=`` is accepted too).
    momentum : float, optional
        Weight of the batch in the running statistics, in [0, 1]; default 0.1.
    convention : {'torch', 'gluon'}
        How the running statistics move: PyTorch's (default; unbiased batch variance) or
        Gluon's (``momentum`` weighs the old value, biased variance).
    in_channels : int, optional
        Gluon's name for ``num_features``.
    layout : {'channels_first', 'channels_last'}, keyword-only
        The input's layout (a portconv extension: PyTorch has ``memory_format``, not a
        layout); channels last takes ``(N, *spatial, C)``.

    Shape
    -----
    ``(N, C, H, W)`` -> the same; weight, bias, running mean and variance ``(C,)``.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> bn = nn.BatchNorm2d(6)
    >>> bn
    BatchNorm2d(6, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)
    >>> tuple(bn(np.ones((2, 6, 4, 4), np.float32)).shape)
    (2, 6, 4, 4)
    """

    ndims = (4,)
    summary_name = "BatchNorm2d"


class LazyBatchNorm1d(BatchNorm1d):
    """PyTorch's :class:`BatchNorm1d` whose channels come from the first input.

    Parameters
    ----------
    eps : float, default 1e-5
        Added to the variance.
    momentum : float, default 0.1
        Weight of the batch in the running statistics.
    layout : {'channels_first', 'channels_last'}, keyword-only
        The input's layout (a portconv extension: PyTorch has ``memory_format``, not a
        layout); channels last takes ``(N, *spatial, C)``.

    Shape
    -----
    ``(N, C)`` or ``(N, C, L)`` -> the same.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> bn = nn.LazyBatchNorm1d()
    >>> tuple(bn(np.ones((4, 84), np.float32)).shape)
    (4, 84)
    >>> bn
    BatchNorm1d(84, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)
    """

    lazy = True

    def __init__(
        self, eps: float = 1e-5, momentum: float = 0.1, *, layout: str = "channels_first"
    ) -> None:
        super().__init__(None, eps, momentum, layout=layout)


class LazyBatchNorm2d(BatchNorm2d):
    """PyTorch's :class:`BatchNorm2d` whose channels come from the first input (the book's
    BN-LeNet and ResNet use it).

    Parameters
    ----------
    eps : float, default 1e-5
        Added to the variance.
    momentum : float, default 0.1
        Weight of the batch in the running statistics.
    layout : {'channels_first', 'channels_last'}, keyword-only
        The input's layout (a portconv extension: PyTorch has ``memory_format``, not a
        layout); channels last takes ``(N, *spatial, C)``.

    Shape
    -----
    ``(N, C, H, W)`` -> the same.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> bn = nn.LazyBatchNorm2d()
    >>> bn
    LazyBatchNorm2d(0, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)
    >>> tuple(bn(np.ones((2, 6, 4, 4), np.float32)).shape)
    (2, 6, 4, 4)
    """

    lazy = True

    def __init__(
        self, eps: float = 1e-5, momentum: float = 0.1, *, layout: str = "channels_first"
    ) -> None:
        super().__init__(None, eps, momentum, layout=layout)


class BatchNorm(_BatchNorm):
    """Gluon's batch normalisation over axis 1 of input of any rank from 2 to 5.

    Parameters
    ----------
    momentum : float, optional
        Weight of the old value in the running statistics, in [0, 1]; default 0.9
        (``convention="gluon"``) or 0.1 (``"torch"``: the weight of the batch).
    epsilon : float, default 1e-5
        Added to the variance (a finite number >= 0; ``eps=`` is accepted too).
    in_channels : int, default 0
        Channels; 0 takes them from the first input.
    convention : {'gluon', 'torch'}
        How the running statistics move: Gluon's (default; biased batch variance) or
        PyTorch's.
    eps : float, optional
        PyTorch's name for ``epsilon``.
    axis : int, keyword-only, default 1
        Gluon's channel axis: 1 (channels first), or -1 or the last axis (channels last,
        ``(N, *, C)``).

    Shape
    -----
    ``(N, C, *)`` -> the same.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> bn = nn.BatchNorm()
    >>> bn
    BatchNorm(axis=1, eps=1e-05, momentum=0.9, fix_gamma=False, use_global_stats=False, in_channels=None)
    >>> tuple(bn(np.ones((4, 120), np.float32)).shape)
    (4, 120)
    """  # noqa: E501 (Gluon's printout is one line)

    ndims = (2, 3, 4, 5)
    gluon = True
    summary_name = "BatchNorm"

    def __init__(
        self,
        momentum: float | None = None,
        epsilon: float = 1e-5,
        in_channels: int = 0,
        *,
        axis: int = 1,
        convention: str = "gluon",
        eps: float | None = None,
    ) -> None:
        super().__init__(
            None,
            gluon_alias("epsilon", epsilon, "eps", eps, 1e-5),
            momentum,
            convention=convention,
            in_channels=in_channels,
            axis=axis,
        )


class BatchNorm2D(BatchNorm):
    """Gluon's :class:`BatchNorm` restricted to ``(N, C, H, W)`` input.

    Parameters
    ----------
    momentum, epsilon, in_channels, convention, eps
        As :class:`BatchNorm`.

    Shape
    -----
    ``(N, C, H, W)`` -> the same.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> tuple(nn.BatchNorm2D(in_channels=3)(np.ones((2, 3, 4, 4), np.float32)).shape)
    (2, 3, 4, 4)
    """

    ndims = (4,)


class BatchNorm1D(BatchNorm):
    """Gluon's :class:`BatchNorm` restricted to ``(N, C)`` or ``(N, C, L)`` input.

    Parameters
    ----------
    momentum, epsilon, in_channels, convention, eps
        As :class:`BatchNorm`.

    Shape
    -----
    ``(N, C)`` or ``(N, C, L)`` -> the same.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> tuple(nn.BatchNorm1D()(np.ones((4, 10), np.float32)).shape)
    (4, 10)
    """

    ndims = (2, 3)


class Dropout(Module):
    """Dropout, as PyTorch and Gluon define it.

    In training, each element is zeroed with probability ``p`` (masks drawn from
    :mod:`portconv.nn.init`'s seeded generator, so they are the same on every backend) and
    the rest are scaled by ``1 / (1 - p)``; in evaluation (and with ``p = 0``) the layer
    returns its input itself, as PyTorch's does.

    Parameters
    ----------
    p : float, default 0.5
        The probability of zeroing, in [0, 1).
    rate : float, optional
        Gluon's name for ``p``.

    Shape
    -----
    Any shape -> the same.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> drop = nn.Dropout(0.5)
    >>> drop
    Dropout(p=0.5, inplace=False)
    >>> x = np.ones((2, 3), np.float32)
    >>> drop.eval()(x) is x
    True
    """

    summary_name = "Dropout"
    takes_array = True

    def __init__(self, p: float = 0.5, *, rate: float | None = None) -> None:
        super().__init__()
        p = gluon_alias("p", p, "rate", rate, 0.5)
        self.p = real_number("p", p, low=0.0, high=1.0, high_open=True)

    def forward(self, x: Any) -> Any:
        if not self.training or self.p == 0.0:
            return x
        data = _float_input(x)  # an integer array cannot hold the scaled survivors
        keep = _init.generator().random(tuple(data.shape)) >= self.p
        mask = _host_to(keep / (1.0 - self.p), data)
        return ag.multiply(x, mask)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace=False"


class _Elementwise(Module):
    """An activation applied element by element (the base of ReLU, Sigmoid, Tanh and
    Gluon's Activation)."""

    fn = staticmethod(ag.relu)
    takes_array = True

    def forward(self, x: Any) -> Variable:
        return self.fn(x)


class ReLU(_Elementwise):
    """PyTorch's ``ReLU()``: ``max(x, 0)``.

    Shape
    -----
    Any shape -> the same.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> nn.ReLU()(np.array([-1.0, 2.0], np.float32)).data
    array([0., 2.], dtype=float32)
    """

    summary_name = "ReLU"
    fn = staticmethod(ag.relu)


class Sigmoid(_Elementwise):
    """PyTorch's ``Sigmoid()``: ``1 / (1 + exp(-x))``.

    Shape
    -----
    Any shape -> the same.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> nn.Sigmoid()(np.zeros(2, np.float32)).data
    array([0.5, 0.5], dtype=float32)
    """

    summary_name = "Sigmoid"
    fn = staticmethod(ag.sigmoid)


class Tanh(_Elementwise):
    """PyTorch's ``Tanh()``.

    Shape
    -----
    Any shape -> the same.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> nn.Tanh()(np.zeros(2, np.float32)).data
    array([0., 0.], dtype=float32)
    """

    summary_name = "Tanh"
    fn = staticmethod(ag.tanh)


class Activation(_Elementwise):
    """Gluon's ``Activation(activation)``: a named activation as a layer.

    Parameters
    ----------
    activation : {'relu', 'sigmoid', 'tanh'}
        The function.

    Shape
    -----
    Any shape -> the same.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> act = nn.Activation("relu")
    >>> act
    Activation(relu)
    >>> act(np.array([-1.0, 2.0], np.float32)).data
    array([0., 2.], dtype=float32)
    """

    summary_name = "Activation"

    def __init__(self, activation: str) -> None:
        super().__init__()
        if activation is None:
            raise ArgumentError("activation: expected 'relu', 'sigmoid' or 'tanh', got None")
        self.fn = _activation(activation)
        self.activation = activation

    def extra_repr(self) -> str:
        return str(self.activation)


class Flatten(Module):
    """``Flatten(start_dim=1, end_dim=-1)``: axes ``start_dim`` to ``end_dim`` merged into one
    (PyTorch's; Gluon's ``Flatten()`` is the default).

    Parameters
    ----------
    start_dim : int, default 1
        The first axis merged.
    end_dim : int, default -1
        The last axis merged.
    layout : {'channels_first', 'channels_last'}, keyword-only
        The input's layout (a portconv extension; PyTorch has none). The axes are merged in
        the order they are laid out, so a channels-last ``(N, H, W, C)`` map gives its
        features in ``(H, W, C)`` order, as Keras's and Flax's models flatten, where a
        channels-first one gives ``(C, H, W)``; a dense layer after it therefore holds its
        weight columns in that order. Nothing is transposed.

    Shape
    -----
    ``(N, *)`` -> ``(N, prod(*))`` with the defaults.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> nn.Flatten()
    Flatten(start_dim=1, end_dim=-1)
    >>> tuple(nn.Flatten()(np.zeros((2, 16, 5, 5), np.float32)).shape)
    (2, 400)
    """

    summary_name = "Flatten"
    takes_array = True

    def __init__(
        self, start_dim: int = 1, end_dim: int = -1, *, layout: str = "channels_first"
    ) -> None:
        super().__init__()
        for name, v in (("start_dim", start_dim), ("end_dim", end_dim)):
            if isinstance(v, bool) or not isinstance(v, int | np.integer):
                raise ArgumentError(f"{name}: expected an int, got {v!r}")
        self.start_dim, self.end_dim = int(start_dim), int(end_dim)
        self.channels_last = _channels_last(layout, 2)

    def forward(self, x: Any) -> Variable:
        return ag.flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        # portconv's extension: PyTorch's layers have no layout
        last = ", layout='channels_last'" if self.channels_last else ""
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}{last}"


def channels_last_layers(model: Module) -> list[tuple[str, Module]]:
    """The layers of ``model`` (itself included) that take channels-last input.

    Parameters
    ----------
    model : Module
        Any module.

    Returns
    -------
    list of (str, Module)
        ``(name, layer)`` in module order (``""`` names ``model`` itself): the convolution,
        pooling and flatten layers built with a channels-last layout and the batch norms
        over the last axis.

    Examples
    --------
    >>> from portconv import nn
    >>> net = nn.Sequential(nn.LazyConv2d(4, 3, layout="channels_last"), nn.ReLU())
    >>> [name for name, _ in nn.layers.channels_last_layers(net)]
    ['0']
    """
    kinds = (_Conv, _Pool, AdaptiveAvgPool2D, GlobalAvgPool2D, GlobalMaxPool2D, Flatten)
    return [
        (name, m)
        for name, m in model.named_modules()
        if (isinstance(m, kinds) and m.channels_last) or (isinstance(m, _BatchNorm) and m.axis != 1)
    ]
