"""Layers, written once over :mod:`portconv.autograd`.

Each layer exists under the names users of both frameworks know: Gluon's (``Conv2D(channels,
kernel_size, strides=..., activation=...)``, ``Dense(units)``, ``MaxPool2D(pool_size=2)``,
``BatchNorm()``) and PyTorch's (``Conv2d(in_channels, out_channels, kernel_size)``,
``LazyConv2d(out_channels, kernel_size)``, ``Linear(in, out)``, ``LazyLinear(out)``,
``MaxPool2d(kernel_size)``, ``BatchNorm2d(num_features)``), so the book's model code of either
framework ports line by line. Input sizes that are not given are inferred from the first input.
Every layer takes and returns channels-first arrays; outputs are
:class:`portconv.autograd.Variable` objects whose ``.data`` is an array of the input's library.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import autograd as ag
from ..autograd import Variable
from ..errors import ArgumentError
from ..ops._args import int_tuple
from . import init as _init
from .module import Module, _host_to

_ACTIVATIONS = {"relu": ag.relu, "sigmoid": ag.sigmoid, "tanh": ag.tanh}


def _activation(name: str | None):
    if name is None:
        return None
    if name not in _ACTIVATIONS:
        raise ArgumentError(
            f"activation: expected None or one of {', '.join(map(repr, _ACTIVATIONS))}, "
            f"got {name!r}"
        )
    return _ACTIVATIONS[name]


def _data(x: Any) -> Any:
    return x.data if isinstance(x, Variable) else x


def _alias(name: str, value: Any, alias: str, alias_value: Any, default: Any) -> Any:
    """``value`` under either spelling (PyTorch's ``name`` or Gluon's ``alias``)."""
    if alias_value is not None:
        if value is not None and value != alias_value:
            raise ArgumentError(f"{name}: given as {name}={value!r} and {alias}={alias_value!r}")
        return alias_value
    return default if value is None else value


# -- convolution ---------------------------------------------------------------------------------


class _Conv(Module):
    d = 2
    transposed = False

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
    ) -> None:
        super().__init__()
        d = self.d
        self.channels = int_tuple("channels", channels, 1)[0]
        self.kernel_size = int_tuple("kernel_size", kernel_size, d)
        self.stride = _alias("stride", stride, "strides", strides, 1)
        int_tuple("stride", self.stride, d)
        self.padding = padding
        self.dilation = dilation
        self.groups = int_tuple("groups", groups, 1)[0]
        self.output_padding = output_padding
        self.use_bias = bool(_alias("bias", bias, "use_bias", use_bias, True))
        self.in_channels = None if in_channels in (None, 0) else int(in_channels)
        self.act = _activation(activation)
        cin = None if self.in_channels is None else self.in_channels
        if self.transposed:
            shape = (cin, self.channels // self.groups) + self.kernel_size
        else:
            shape = (self.channels, None if cin is None else cin // self.groups)
            shape += self.kernel_size
        self.declare("weight", shape, "weight")
        if self.use_bias:
            self.declare("bias", (self.channels,), "bias")

    def forward(self, x: Any) -> Variable:
        data = _data(x)
        if self._params["weight"] is None:
            cin = int(data.shape[-self.d - 1])
            if self.transposed:
                shape = (cin, self.channels // self.groups) + self.kernel_size
            else:
                shape = (self.channels, cin // self.groups) + self.kernel_size
            self.materialise("weight", shape, data)
        if self.use_bias and self._params["bias"] is None:
            self.materialise("bias", (self.channels,), data)
        b = self._params.get("bias")
        if self.transposed:
            y = ag.conv_transpose(
                x,
                self.weight,
                b,
                self.stride,
                self.padding,
                self.output_padding,
                self.groups,
                self.dilation,
            )
        else:
            y = ag.conv(x, self.weight, b, self.stride, self.padding, self.dilation, self.groups)
        return self.act(y) if self.act is not None else y

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels or '?'}, {self.channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding}"
        )


def _conv_classes(d: int):
    """Gluon's ConvND, PyTorch's ConvNd and LazyConvNd for ``d`` spatial dimensions."""

    class Gluon(_Conv):
        """Gluon's ``Conv{d}D(channels, kernel_size, strides=1, padding=0, dilation=1,
        groups=1, activation=None, use_bias=True, in_channels=0)``; PyTorch's ``stride=`` and
        ``bias=`` spellings are accepted too."""

        summary_name = f"Conv{d}d"

    Gluon.d = d

    class Torch(_Conv):
        """PyTorch's ``Conv{d}d(in_channels, out_channels, kernel_size, stride=1, padding=0,
        dilation=1, groups=1, bias=True)``."""

        summary_name = f"Conv{d}d"

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
        ) -> None:
            super().__init__(
                out_channels,
                kernel_size,
                stride,
                padding,
                dilation,
                groups,
                bias,
                in_channels=in_channels,
            )

    Torch.d = d

    class Lazy(_Conv):
        """PyTorch's ``LazyConv{d}d(out_channels, kernel_size, stride=1, padding=0,
        dilation=1, groups=1, bias=True)``: in_channels from the first input."""

        summary_name = f"Conv{d}d"

        def __init__(
            self,
            out_channels: int,
            kernel_size: Any,
            stride: Any = 1,
            padding: Any = 0,
            dilation: Any = 1,
            groups: int = 1,
            bias: bool = True,
        ) -> None:
            super().__init__(out_channels, kernel_size, stride, padding, dilation, groups, bias)

    Lazy.d = d
    return Gluon, Torch, Lazy


Conv1D, Conv1d, LazyConv1d = _conv_classes(1)
Conv2D, Conv2d, LazyConv2d = _conv_classes(2)
Conv3D, Conv3d, LazyConv3d = _conv_classes(3)
for _cls, _name in (
    (Conv1D, "Conv1D"),
    (Conv1d, "Conv1d"),
    (LazyConv1d, "LazyConv1d"),
    (Conv2D, "Conv2D"),
    (Conv2d, "Conv2d"),
    (LazyConv2d, "LazyConv2d"),
    (Conv3D, "Conv3D"),
    (Conv3d, "Conv3d"),
    (LazyConv3d, "LazyConv3d"),
):
    _cls.__name__ = _cls.__qualname__ = _name


class ConvTranspose2D(_Conv):
    """A transposed convolution (Gluon's ``Conv2DTranspose(channels, kernel_size, strides,
    padding, output_padding, ...)``; weight ``(in_channels, channels/groups, kh, kw)`` as in
    PyTorch's ``ConvTranspose2d``)."""

    d = 2
    transposed = True
    summary_name = "ConvTranspose2d"


class ConvTranspose2d(ConvTranspose2D):
    """PyTorch's ``ConvTranspose2d(in_channels, out_channels, kernel_size, stride=1,
    padding=0, output_padding=0, groups=1, bias=True, dilation=1)``."""

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
    ) -> None:
        super().__init__(
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias,
            in_channels=in_channels,
            output_padding=output_padding,
        )


Conv2DTranspose = ConvTranspose2D


# -- dense ---------------------------------------------------------------------------------------


class Dense(Module):
    """Gluon's ``Dense(units, activation=None, use_bias=True, flatten=True, in_units=0)``:
    ``y = x @ W.T + b`` with ``W`` of shape ``(units, in_units)``; with ``flatten`` an input of
    more than two dimensions is flattened to ``(N, -1)`` first."""

    summary_name = "Linear"

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
        self.units = int_tuple("units", units, 1)[0]
        self.act = _activation(activation)
        self.use_bias = bool(_alias("use_bias", None, "bias", bias, use_bias))
        self.flatten = flatten
        self.in_units = None if in_units in (None, 0) else int(in_units)
        self.declare("weight", (self.units, self.in_units), "weight")
        if self.use_bias:
            self.declare("bias", (self.units,), "bias")

    def forward(self, x: Any) -> Variable:
        if self.flatten and _data(x).ndim > 2:
            x = ag.flatten(x, 1)
        data = _data(x)
        if self._params["weight"] is None:
            self.materialise("weight", (self.units, int(data.shape[-1])), data)
        if self.use_bias and self._params["bias"] is None:
            self.materialise("bias", (self.units,), data)
        y = ag.linear(x, self.weight, self._params.get("bias"))
        return self.act(y) if self.act is not None else y

    def extra_repr(self) -> str:
        return f"{self.in_units or '?'} -> {self.units}"


class Linear(Dense):
    """PyTorch's ``Linear(in_features, out_features, bias=True)`` (applies to the last
    axis; no flattening)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__(out_features, use_bias=bias, flatten=False, in_units=in_features)


class LazyLinear(Dense):
    """PyTorch's ``LazyLinear(out_features, bias=True)``."""

    def __init__(self, out_features: int, bias: bool = True) -> None:
        super().__init__(out_features, use_bias=bias, flatten=False)


# -- pooling -------------------------------------------------------------------------------------


class _Pool(Module):
    d = 2
    kind = "max"
    gluon = False

    def __init__(
        self,
        kernel_size: Any = None,
        stride: Any = None,
        padding: Any = 0,
        dilation: Any = 1,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        *,
        pool_size: Any = None,
        strides: Any = None,
        pooling_convention: str = "valid",
    ) -> None:
        super().__init__()
        self.kernel_size = _alias(
            "kernel_size", kernel_size, "pool_size", pool_size, 2 if self.gluon else None
        )
        if self.kernel_size is None:
            raise ArgumentError("kernel_size: required (the pooling window)")
        self.stride = _alias("stride", stride, "strides", strides, None)
        self.padding, self.dilation = padding, dilation
        self.count_include_pad = count_include_pad
        if self.gluon and ceil_mode:
            # Gluon's ceil_mode=True is MXNet's pooling_convention="full"
            self.ceil_mode, self.convention = False, "full"
        else:
            self.ceil_mode, self.convention = bool(ceil_mode), pooling_convention

    def forward(self, x: Any) -> Variable:
        if self.kind == "max":
            return ag.max_pool(
                x,
                self.kernel_size,
                self.stride,
                self.padding,
                self.dilation,
                self.ceil_mode,
                pooling_convention=self.convention,
            )
        return ag.avg_pool(
            x,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
            pooling_convention=self.convention,
        )

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


def _pool_class(kind: str, d: int, gluon: bool):
    base_doc = (
        f"Gluon's ``{'Max' if kind == 'max' else 'Avg'}Pool{d}D(pool_size=2, strides=None, "
        f"padding=0, ceil_mode=False)`` (``ceil_mode=True`` is MXNet's 'full' convention)"
        if gluon
        else f"PyTorch's ``{'Max' if kind == 'max' else 'Avg'}Pool{d}d(kernel_size, "
        f"stride=None, padding=0, ...)`` (``ceil_mode`` with PyTorch's semantics)"
    )
    name = f"{'Max' if kind == 'max' else 'Avg'}Pool{d}{'D' if gluon else 'd'}"
    cls = type(
        name,
        (_Pool,),
        {
            "d": d,
            "kind": kind,
            "gluon": gluon,
            "__doc__": base_doc,
            "summary_name": name[:-1] + "d",
        },
    )
    return cls


MaxPool1D, MaxPool2D, MaxPool3D = (_pool_class("max", d, True) for d in (1, 2, 3))
AvgPool1D, AvgPool2D, AvgPool3D = (_pool_class("avg", d, True) for d in (1, 2, 3))
MaxPool1d, MaxPool2d, MaxPool3d = (_pool_class("max", d, False) for d in (1, 2, 3))
AvgPool1d, AvgPool2d, AvgPool3d = (_pool_class("avg", d, False) for d in (1, 2, 3))


class AdaptiveAvgPool2D(Module):
    """PyTorch's ``AdaptiveAvgPool2d(output_size)``."""

    summary_name = "AdaptiveAvgPool2d"

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, x: Any) -> Variable:
        return ag.adaptive_avg_pool2d(x, self.output_size)


AdaptiveAvgPool2d = AdaptiveAvgPool2D


class GlobalAvgPool2D(Module):
    """Gluon's ``GlobalAvgPool2D()``: ``(N, C, H, W) -> (N, C, 1, 1)``."""

    summary_name = "GlobalAvgPool2D"

    def forward(self, x: Any) -> Variable:
        return ag.global_avg_pool(x)


class GlobalMaxPool2D(Module):
    """Gluon's ``GlobalMaxPool2D()``: ``(N, C, H, W) -> (N, C, 1, 1)``."""

    summary_name = "GlobalMaxPool2D"

    def forward(self, x: Any) -> Variable:
        return ag.global_max_pool(x)


# -- normalisation and regularisation ------------------------------------------------------------


class _BatchNorm(Module):
    """Batch normalisation over the channel axis 1.

    Training normalises with the batch's mean and (biased) variance and updates the running
    statistics; evaluation uses the running statistics. ``convention`` chooses how the running
    statistics move, as the two frameworks differ:

    * ``"torch"`` (``momentum=0.1``): ``running = (1 - momentum) * running + momentum * batch``,
      the batch variance taken unbiased (n / (n - 1)), as ``torch.nn.BatchNorm2d``;
    * ``"gluon"`` (``momentum=0.9``): ``running = momentum * running + (1 - momentum) *
      batch``, the batch variance biased, as ``mxnet.gluon.nn.BatchNorm``.
    """

    dims = 4

    def __init__(
        self,
        num_features: int | None = None,
        eps: float = 1e-5,
        momentum: float | None = None,
        *,
        convention: str = "torch",
        in_channels: int | None = None,
        epsilon: float | None = None,
    ) -> None:
        super().__init__()
        if convention not in ("torch", "gluon"):
            raise ArgumentError(f"convention: expected 'torch' or 'gluon', got {convention!r}")
        self.convention = convention
        self.momentum = (0.1 if convention == "torch" else 0.9) if momentum is None else momentum
        if not 0.0 <= float(self.momentum) <= 1.0:
            raise ArgumentError(f"momentum: expected a number in [0, 1], got {momentum!r}")
        self.eps = float(epsilon if epsilon is not None else eps)
        n = num_features if num_features not in (None, 0) else in_channels
        self.num_features = None if n in (None, 0) else int(n)
        self.declare("weight", (self.num_features,), "ones")
        self.declare("bias", (self.num_features,), "zeros")
        self.register_buffer("running_mean", None)
        self.register_buffer("running_var", None)

    def _axes(self, ndim: int) -> tuple[int, ...]:
        return (0,) + tuple(range(2, ndim))

    def forward(self, x: Any) -> Variable:
        data = _data(x)
        if data.ndim not in ((2, 3) if self.dims == 3 else (4,)):
            raise ArgumentError(
                f"input: {type(self).__name__} expects "
                f"{'(N, C) or (N, C, L)' if self.dims == 3 else '(N, C, H, W)'} arrays, "
                f"got shape {tuple(data.shape)}"
            )
        c = int(data.shape[1])
        if self._params["weight"] is None:
            self.materialise("weight", (c,), data)
            self.materialise("bias", (c,), data)
        if self.running_mean is None:
            self.register_buffer("running_mean", _host_to(np.zeros(c), data))
            self.register_buffer("running_var", _host_to(np.ones(c), data))
        axes = self._axes(data.ndim)
        shape = (1, c) + (1,) * (data.ndim - 2)
        if self.training:
            mean = ag.mean(x, axis=axes, keepdims=True)
            centred = ag.subtract(x, mean)
            var = ag.mean(centred * centred, axis=axes, keepdims=True)
            self._update_running(mean.data, var.data, math.prod(data.shape) // c)
            y = ag.multiply(centred, ag.pow(ag.add(var, self.eps), -0.5))
        else:
            mean = ag.reshape(Variable(self.running_mean), shape)
            inv = ag.pow(ag.add(ag.reshape(Variable(self.running_var), shape), self.eps), -0.5)
            y = ag.multiply(ag.subtract(x, mean), inv)
        return ag.add(ag.multiply(y, ag.reshape(self.weight, shape)), ag.reshape(self.bias, shape))

    def _update_running(self, mean: Any, var: Any, n: int) -> None:
        from .._dispatch import backend_of

        be = backend_of(mean)
        xp, ad = be.adapter.namespace(), be.adapter
        c = int(mean.shape[1])
        m = ad.to_standard(mean)
        v = ad.to_standard(var)
        m, v = xp.reshape(m, (c,)), xp.reshape(v, (c,))
        rm, rv = ad.to_standard(self.running_mean), ad.to_standard(self.running_var)
        if self.convention == "torch":
            v = v * (n / max(n - 1, 1))
            keep, take = 1.0 - self.momentum, self.momentum
        else:
            keep, take = self.momentum, 1.0 - self.momentum
        self.register_buffer(
            "running_mean", ad.from_standard(rm * keep + m * take, self.running_mean)
        )
        self.register_buffer(
            "running_var", ad.from_standard(rv * keep + v * take, self.running_var)
        )


class BatchNorm2d(_BatchNorm):
    """PyTorch's ``BatchNorm2d(num_features, eps=1e-5, momentum=0.1)``."""

    summary_name = "BatchNorm2d"


class LazyBatchNorm2d(BatchNorm2d):
    """PyTorch's ``LazyBatchNorm2d(eps=1e-5, momentum=0.1)``."""

    def __init__(self, eps: float = 1e-5, momentum: float = 0.1) -> None:
        super().__init__(None, eps, momentum)


class BatchNorm1d(_BatchNorm):
    """PyTorch's ``BatchNorm1d(num_features)``: ``(N, C)`` or ``(N, C, L)`` input."""

    dims = 3
    summary_name = "BatchNorm1d"


class LazyBatchNorm1d(BatchNorm1d):
    def __init__(self, eps: float = 1e-5, momentum: float = 0.1) -> None:
        super().__init__(None, eps, momentum)


class BatchNorm2D(_BatchNorm):
    """Gluon's ``BatchNorm(momentum=0.9, epsilon=1e-5, in_channels=0)`` for ``(N, C, H, W)``
    input (``convention="gluon"`` by default; the default momentum is the convention's: 0.9
    for "gluon", 0.1 for "torch")."""

    summary_name = "BatchNorm2d"

    def __init__(
        self,
        momentum: float | None = None,
        epsilon: float = 1e-5,
        in_channels: int = 0,
        *,
        convention: str = "gluon",
    ) -> None:
        super().__init__(in_channels or None, epsilon, momentum, convention=convention)


class BatchNorm1D(BatchNorm2D):
    """Gluon's ``BatchNorm`` for ``(N, C)`` or ``(N, C, L)`` input."""

    dims = 3
    summary_name = "BatchNorm1d"


BatchNorm = BatchNorm2D


class Dropout(Module):
    """``Dropout(p=0.5)``: in training, zero each element with probability ``p`` (masks drawn
    from :mod:`portconv.nn.init`'s seeded generator, so they are the same on every backend)
    and scale the rest by ``1 / (1 - p)``; in evaluation, the identity. Gluon's ``rate=`` is
    accepted."""

    summary_name = "Dropout"

    def __init__(self, p: float = 0.5, *, rate: float | None = None) -> None:
        super().__init__()
        p = _alias("p", p if rate is None else None, "rate", rate, 0.5)
        if not 0.0 <= float(p) < 1.0:
            raise ArgumentError(f"p: expected a probability in [0, 1), got {p!r}")
        self.p = float(p)

    def forward(self, x: Any) -> Any:
        if not self.training or self.p == 0.0:
            return x
        data = _data(x)
        keep = _init.generator().random(tuple(data.shape)) >= self.p
        mask = _host_to(keep / (1.0 - self.p), data)
        return ag.multiply(x, mask)


class _Elementwise(Module):
    fn = staticmethod(ag.relu)

    def forward(self, x: Any) -> Variable:
        return self.fn(x)


class ReLU(_Elementwise):
    summary_name = "ReLU"
    fn = staticmethod(ag.relu)


class Sigmoid(_Elementwise):
    summary_name = "Sigmoid"
    fn = staticmethod(ag.sigmoid)


class Tanh(_Elementwise):
    summary_name = "Tanh"
    fn = staticmethod(ag.tanh)


class Flatten(Module):
    """``Flatten(start_dim=1, end_dim=-1)`` (PyTorch; Gluon's ``Flatten()`` is the default)."""

    summary_name = "Flatten"

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: Any) -> Variable:
        return ag.flatten(x, self.start_dim, self.end_dim)
