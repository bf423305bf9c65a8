"""Shapes and parameter counts without computing anything (a dry run).

:meth:`Module.layer_summary` runs a zero input through the layers, which for VGG-16 at
224 x 224 is some 15 GFLOP. :func:`shape_summary` prints the same lines from the layers'
hyperparameters alone, and :func:`count_parameters` gives the number of parameters a model
would have for an input shape, without creating them: both are instant at any size.

Each layer of :mod:`portconv.nn` (those of ``torch.nn`` in :mod:`portconv.nn.extra_layers`
too; max unpooling for its default output size) and of :mod:`portconv.nn.keras`
(channels-last shapes, as those layers take them) has a rule here; a block with its own
``forward`` (Inception, Residual, DenseBlock, ...) gives its rule as a method
``infer_shape(shape, walk) -> (shape, count)``, where ``walk(module, shape)`` applies the
rule of a child. A Keras merge layer (``Concatenate``, ``Add``) takes the list of its inputs'
shapes: ``walk(K.Add(), [y, x])``.
The tests check every rule against a real forward pass.
"""

from __future__ import annotations

import math
from typing import Any

from ..errors import ArgumentError
from ..nn import Module, Sequential
from ..nn import keras as K
from ..nn.extra_layers import (
    Upsample,
    _AdaptivePool,
    _DropoutNd,
    _LPPool,
    _MaxUnpool,
    _Pad,
)
from ..nn.layers import (
    AdaptiveAvgPool2D,
    Dense,
    Dropout,
    Flatten,
    GlobalAvgPool2D,
    GlobalMaxPool2D,
    _BatchNorm,
    _Conv,
    _Elementwise,
    _Pool,
)
from ..ops._call import (
    adaptive_call,
    conv_call,
    conv_transpose_call,
    nearest_call,
    pad_call,
    pool_call,
    pool_mode,
    unpool_call,
)

Shape = tuple[int, ...]


def _spatial(m: Any, shape: Shape, d: int) -> Shape:
    if len(shape) not in (d + 1, d + 2):
        raise ArgumentError(
            f"{type(m).__name__}: expected an input of {d + 1} or {d + 2} dimensions, "
            f"got shape {shape}"
        )
    return shape[-d:]


def _batched(shape: Shape, d: int, last: bool = False) -> Shape:
    """The ``(N, C, *spatial)`` shape the call descriptions take (from ``(N, *spatial, C)``
    for a channels-last layer)."""
    shape = shape if len(shape) == d + 2 else (1,) + shape
    return (shape[0], shape[-1]) + shape[1:-1] if last else shape


def _laid_out(shape: Shape, channels: int, spatial: Shape, last: bool) -> Shape:
    """An output shape in the layer's layout, batched as its input ``shape`` was."""
    d = len(spatial)
    return shape[: -d - 1] + ((*spatial, channels) if last else (channels, *spatial))


def _conv(m: _Conv, shape: Shape) -> tuple[Shape, int]:
    d, last = m.d, m.channels_last
    _spatial(m, shape, d)
    cin = shape[-1] if last else shape[-d - 1]
    if m.in_channels is not None and m.in_channels != cin:
        raise ArgumentError(
            f"{type(m).__name__}: built for {m.in_channels} input channels, got {cin}"
        )
    if cin % m.groups or m.channels % m.groups:
        raise ArgumentError(
            f"{type(m).__name__}: groups={m.groups} must divide the {cin} input and "
            f"{m.channels} output channels"
        )
    k, bias = tuple(m.kernel_size), (m.channels,) if m.use_bias else None
    if m.transposed:
        weight = (cin, m.channels // m.groups) + k
        call = conv_transpose_call(
            _batched(shape, d, last), weight, bias, m.stride, m.padding, m.output_padding,
            m.groups, m.dilation,
        )  # fmt: skip
    else:
        weight = (m.channels, cin // m.groups) + k
        call = conv_call(
            _batched(shape, d, last), weight, bias, m.stride, m.padding, m.dilation, m.groups
        )
    count = math.prod(weight) + (m.channels if m.use_bias else 0)
    return _laid_out(shape, m.channels, call.out, last), count


def _dense(m: Dense, shape: Shape) -> tuple[Shape, int]:
    if m.flatten and len(shape) > 2:
        shape = (shape[0], math.prod(shape[1:]))
    n_in = shape[-1]
    if m.in_units is not None and m.in_units != n_in:
        raise ArgumentError(f"{type(m).__name__}: built for {m.in_units} inputs, got {n_in}")
    return shape[:-1] + (m.units,), m.units * n_in + (m.units if m.use_bias else 0)


def _pool(m: _Pool, shape: Shape) -> tuple[Shape, int]:
    d, last = m.d, m.channels_last
    _spatial(m, shape, d)
    mode = pool_mode(m.ceil_mode, m.convention)
    batched = _batched(shape, d, last)
    call = pool_call(
        m.kind, batched, m.kernel_size, m.stride, m.padding, m.dilation, mode,
        m.count_include_pad,
    )  # fmt: skip
    return _laid_out(shape, batched[1], call.out, last), 0


def _adaptive(m: AdaptiveAvgPool2D | _AdaptivePool, shape: Shape) -> tuple[Shape, int]:
    d, kind = m.d, m.kind
    if m.return_indices:
        raise ArgumentError(
            f"{type(m).__name__}(return_indices=True): gives two outputs, the values and "
            f"their indices; a dry run follows one"
        )
    _spatial(m, shape, d)
    batched = _batched(shape, d, m.channels_last)
    call = adaptive_call(kind, batched, m.output_size)
    return _laid_out(shape, batched[1], call.out, m.channels_last), 0


def _lp_pool(m: _LPPool, shape: Shape) -> tuple[Shape, int]:
    d, last = m.d, m.channels_last
    _spatial(m, shape, d)
    batched = _batched(shape, d, last)
    mode = pool_mode(m.ceil_mode, "valid")
    call = pool_call("avg", batched, m.kernel_size, m.stride, 0, 1, mode, True)
    return _laid_out(shape, batched[1], call.out, last), 0


def _unpool(m: _MaxUnpool, shape: Shape) -> tuple[Shape, int]:
    """The output for the default ``output_size`` (the indices' input is not a shape)."""
    _spatial(m, shape, m.d)
    call = unpool_call(_batched(shape, m.d), m.kernel_size, m.stride, m.padding)
    return _laid_out(shape, shape[-m.d - 1], call.out, False), 0


def _pad(m: _Pad, shape: Shape) -> tuple[Shape, int]:
    _spatial(m, shape, m.d)
    call = pad_call(_batched(shape, m.d), m._pairs, m.mode, float(m.value), name="mode")
    return _laid_out(shape, shape[-m.d - 1], call.out, False), 0


def _upsample(m: Upsample, shape: Shape) -> tuple[Shape, int]:
    if len(shape) not in (3, 4, 5):
        raise ArgumentError(
            f"Upsample: expected a batched input of 3 to 5 dimensions, got shape {shape}"
        )
    exact = m.mode == "nearest-exact"
    call = nearest_call(shape, m.size, m.scale_factor, m.recompute, exact)
    return shape[:2] + tuple(call.out), 0


def _global(m: Module, shape: Shape) -> tuple[Shape, int]:
    _spatial(m, shape, 2)
    return _laid_out(shape, _batched(shape, 2, m.channels_last)[1], (1, 1), m.channels_last), 0


def _flatten(m: Flatten, shape: Shape) -> tuple[Shape, int]:
    nd = len(shape)
    start, end = m.start_dim % nd, m.end_dim % nd
    return shape[:start] + (math.prod(shape[start : end + 1]),) + shape[end + 1 :], 0


def _batchnorm(m: _BatchNorm, shape: Shape) -> tuple[Shape, int]:
    c = shape[m.channel_axis(len(shape))]
    if m.num_features is not None and m.num_features != c:
        raise ArgumentError(f"{type(m).__name__}: built for {m.num_features} channels, got {c}")
    return shape, 2 * c


# -- Keras's layers (portconv.nn.keras): the layer's own checks, then the call descriptions ------


def _nchw(m: Any, shape: Shape) -> Shape:
    """The ``(N, C, H, W)`` shape the call descriptions take, of a 4-D input in ``m``'s
    layout (checked)."""
    K._require_rank(m, shape, 4)
    return (shape[0], shape[3], shape[1], shape[2]) if m.channels_last else shape


def _in_layout(m: Any, nchw: Shape) -> Shape:
    n, c, h, w = nchw
    return (n, h, w, c) if m.channels_last else nchw


def _keras_conv(m: K.Conv2D, shape: Shape) -> tuple[Shape, int]:
    cin = m.in_channels(shape)
    weight = (m.filters, cin // m.groups) + m.kernel_size  # OIHW: what conv_call reads
    bias = (m.filters,) if m.use_bias else None
    call = conv_call(_nchw(m, shape), weight, bias, m.strides, m.padding, m.dilation_rate, m.groups)
    count = math.prod(weight) + (m.filters if m.use_bias else 0)
    return _in_layout(m, (shape[0], m.filters) + call.out), count


def _keras_pool(m: Any, shape: Shape) -> tuple[Shape, int]:
    nchw = _nchw(m, shape)
    call = pool_call(m.kind, nchw, m.pool_size, m.strides, m.padding, 1, "floor", False)
    return _in_layout(m, nchw[:2] + call.out), 0


def _keras_global(m: Any, shape: Shape) -> tuple[Shape, int]:
    nchw = _nchw(m, shape)
    call = adaptive_call(m.kind, nchw, 1)
    return (_in_layout(m, nchw[:2] + call.out) if m.keepdims else nchw[:2]), 0


def _keras_dense(m: K.Dense, shape: Shape) -> tuple[Shape, int]:
    n_in = m.in_features(shape)
    return shape[:-1] + (m.units,), m.units * n_in + (m.units if m.use_bias else 0)


def _keras_batchnorm(m: K.BatchNormalization, shape: Shape) -> tuple[Shape, int]:
    # parameters only: Keras's summary also counts moving_mean/moving_variance (buffers here)
    return shape, m.features(shape) * (int(m.scale) + int(m.center))


_RULES = (
    (_Conv, _conv),
    (Dense, _dense),
    (_Pool, _pool),
    ((AdaptiveAvgPool2D, _AdaptivePool), _adaptive),
    (_LPPool, _lp_pool),
    (_MaxUnpool, _unpool),
    (_Pad, _pad),
    (Upsample, _upsample),
    ((GlobalAvgPool2D, GlobalMaxPool2D), _global),
    (Flatten, _flatten),
    (_BatchNorm, _batchnorm),
    ((_Elementwise, Dropout, _DropoutNd), lambda m, s: (s, 0)),
    (K.Conv2D, _keras_conv),
    (K._Pooling2D, _keras_pool),
    (K._GlobalPooling2D, _keras_global),
    (K.Dense, _keras_dense),
    ((K.Flatten, K.Reshape), lambda m, s: (m.compute_output_shape(s), 0)),
    (K.BatchNormalization, _keras_batchnorm),
    ((K.Activation, K.ReLU), lambda m, s: (s, 0)),
)


def _shape_list(shape: Any) -> list[Shape] | None:
    """``shape`` as a list of shapes when it is one (a merge layer's inputs), else None."""
    many = isinstance(shape, list | tuple) and len(shape) > 0
    if many and all(isinstance(s, list | tuple) for s in shape):
        return [tuple(int(v) for v in s) for s in shape]
    return None


def walk(module: Module, shape: Shape) -> tuple[Shape, int]:
    """(output shape, number of parameters) of ``module`` for an input of ``shape`` (for a
    Keras merge layer, the list of its inputs' shapes)."""
    shapes = _shape_list(shape)
    if isinstance(module, K._Merge):
        if shapes is None:
            raise ArgumentError(
                f"{type(module).__name__}: takes the list of its inputs' shapes, got {shape!r}"
            )
        return module.compute_output_shape(shapes), 0
    if shapes is not None:
        raise ArgumentError(
            f"{type(module).__name__}: takes one input shape, got the list {shapes} (only a "
            f"merge layer such as Concatenate or Add takes several)"
        )
    shape = tuple(int(s) for s in shape)
    hook = getattr(module, "infer_shape", None)
    if hook is not None:
        return hook(shape, walk)
    if isinstance(module, Sequential):
        total = 0
        for _, child in module.children():
            shape, n = walk(child, shape)
            total += n
        return shape, total
    for cls, rule in _RULES:
        if isinstance(module, cls):
            return rule(module, shape)
    raise ArgumentError(
        f"{type(module).__name__}: no shape rule (give the class a method infer_shape(shape, walk))"
    )


def shape_summary(model: Module, input_shape: tuple, *, file: Any = None) -> list:
    """The lines :meth:`Module.layer_summary` prints (``"<Layer> output shape:\\t <shape>"``
    per top-level layer), from the hyperparameters alone. Returns the list of (layer name,
    shape)."""
    shape = tuple(int(s) for s in input_shape)
    rows = []
    for _, layer in model.top_level_layers():
        shape, _ = walk(layer, shape)
        label = layer.summary_name or type(layer).__name__
        print(f"{label} output shape:\t {shape}", file=file)
        rows.append((label, shape))
    return rows


def count_parameters(model: Module, input_shape: tuple) -> int:
    """The number of scalar parameters ``model`` has (or will have, once called) for inputs
    of ``input_shape``; nothing is computed or created."""
    return walk(model, tuple(input_shape))[1]


def output_shape(model: Module, input_shape: tuple) -> tuple[int, ...]:
    """The shape of ``model``'s output for an input of ``input_shape``, computing nothing."""
    return walk(model, tuple(input_shape))[0]
