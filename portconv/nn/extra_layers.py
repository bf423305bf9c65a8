"""More of ``torch.nn``'s layers, on the functional family of :mod:`portconv.autograd`:
adaptive max and average pooling in one to three dimensions, channel dropout
(``Dropout1d/2d/3d``), power-average pooling (``LPPool1d/2d/3d``), max unpooling
(``MaxUnpool1d/2d/3d``), the padding layers (``ZeroPad``, ``ConstantPad``, ``ReflectionPad``,
``ReplicationPad``, each in one to three dimensions) and nearest-neighbour ``Upsample``.

Each takes PyTorch's arguments in PyTorch's order, prints as PyTorch prints it, and takes
channels-first arrays of any backend, batched ``(N, C, *spatial)`` or unbatched ``(C,
*spatial)``; results are :class:`portconv.autograd.Variable` objects, so gradients flow
through them as through the layers of :mod:`portconv.nn.layers`.
"""

from __future__ import annotations

import numbers
from typing import Any

from .. import autograd as ag
from ..autograd import Variable
from ..errors import ArgumentError, ArrayTypeError
from ..ops._args import int_tuple
from ..ops._call import pad_call, positive_sizes
from ..ops._common import Plan, prepare
from ..ops.pad import PAD
from ..ops.upsample import MODES as NEAREST_MODES
from . import init as _init
from ._checks import flag, real_number
from .layers import _SPATIAL, _channels_last, _data, _float_input, _layout_name
from .module import Module, _host_to, require_array

# -- adaptive pooling ----------------------------------------------------------------------------


def _layout_repr(last: bool) -> str:
    """The printout's layout: nothing for channels first, as PyTorch prints its layers."""
    return ", layout='channels_last'" if last else ""  # portconv's extension


def _check_rank(layer: Module, data: Any, d: int) -> None:
    """Refuse an input that is neither ``(N, C, *spatial)`` nor ``(C, *spatial)``."""
    if data.ndim not in (d + 1, d + 2):
        raise ArgumentError(
            f"input: {type(layer).__name__} expects (N, C, {_SPATIAL[d]}) or (C, "
            f"{_SPATIAL[d]}) arrays, got shape {tuple(data.shape)}"
        )


def _output_size(value: Any, d: int) -> Any:
    """PyTorch's ``output_size`` of adaptive pooling: an int, or ``d`` ints or Nones (kept as
    given, for the printout; the op checks the values)."""
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 1
    if isinstance(value, list | tuple):
        ok = len(value) == d and all(
            v is None or (isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 1)
            for v in value
        )
    if not ok:
        raise ArgumentError(
            f"output_size: expected a positive int or {d} positive ints or Nones (None keeps "
            f"the input's size on that axis), got {value!r}"
        )
    return tuple(value) if isinstance(value, list) else value


class _AdaptivePool(Module):
    d = 2
    kind = "avg"
    takes_array = True

    def __init__(
        self, output_size: Any, return_indices: bool = False, *, layout: str = "channels_first"
    ) -> None:
        super().__init__()
        self.output_size = _output_size(output_size, self.d)
        self.return_indices = flag("return_indices", return_indices)
        self.channels_last = _channels_last(layout, self.d)

    def forward(self, x: Any) -> Any:
        op = getattr(ag, f"adaptive_{self.kind}_pool{self.d}d")
        layout = _layout_name(self.channels_last)
        if self.kind == "max":
            return op(x, self.output_size, self.return_indices, layout=layout)
        return op(x, self.output_size, layout=layout)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}" + _layout_repr(self.channels_last)


class AdaptiveMaxPool1d(_AdaptivePool):
    """PyTorch's ``AdaptiveMaxPool1d(output_size, return_indices=False)``: max pooling whose
    windows PyTorch's rule derives from the input and output lengths.

    Parameters
    ----------
    output_size : int or (int or None,)
        The output length (None keeps the input's).
    return_indices : bool, default False
        Also return the flat position of each maximum within its ``(n, c)`` row, as
        PyTorch does (an int64 array, for :class:`MaxUnpool1d`).
    layout : {'channels_first', 'channels_last'}, keyword-only
        The input's layout (a portconv extension: PyTorch has ``memory_format``, not a
        layout); channels last takes ``(N, *spatial, C)``.

    Shape
    -----
    ``(N, C, L)`` or ``(C, L)`` -> ``(N, C, output_size)``.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> pool = nn.AdaptiveMaxPool1d(2)
    >>> pool
    AdaptiveMaxPool1d(output_size=2)
    >>> pool(np.array([[[1.0, 5.0, 2.0, 4.0, 3.0]]])).data
    array([[[5., 4.]]])
    """

    d = 1
    kind = "max"
    summary_name = "AdaptiveMaxPool1d"


class AdaptiveMaxPool2d(_AdaptivePool):
    """PyTorch's ``AdaptiveMaxPool2d(output_size, return_indices=False)``.

    Parameters
    ----------
    output_size : int or (int or None, int or None)
        The output's height and width (None keeps the input's size on that axis).
    return_indices : bool, default False
        Also return the flat position of each maximum within its ``(n, c)`` plane.
    layout : {'channels_first', 'channels_last'}, keyword-only
        The input's layout (a portconv extension: PyTorch has ``memory_format``, not a
        layout); channels last takes ``(N, *spatial, C)``.

    Shape
    -----
    ``(N, C, H, W)`` or ``(C, H, W)`` -> ``(N, C, *output_size)``.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> pool = nn.AdaptiveMaxPool2d((1, 1), return_indices=True)
    >>> y, idx = pool(np.arange(8.0).reshape(1, 2, 2, 2))
    >>> y.data.ravel(), idx.ravel()
    (array([3., 7.]), array([3, 3]))
    """

    d = 2
    kind = "max"
    summary_name = "AdaptiveMaxPool2d"


class AdaptiveMaxPool3d(_AdaptivePool):
    """PyTorch's ``AdaptiveMaxPool3d(output_size, return_indices=False)``.

    Parameters
    ----------
    output_size : int or 3 ints or Nones
        The output's depth, height and width (None keeps the input's size on that axis).
    return_indices : bool, default False
        Also return the flat position of each maximum within its ``(n, c)`` volume.
    layout : {'channels_first', 'channels_last'}, keyword-only
        The input's layout (a portconv extension: PyTorch has ``memory_format``, not a
        layout); channels last takes ``(N, *spatial, C)``.

    Shape
    -----
    ``(N, C, D, H, W)`` or ``(C, D, H, W)`` -> ``(N, C, *output_size)``.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> tuple(nn.AdaptiveMaxPool3d(2)(np.zeros((1, 3, 5, 5, 5))).shape)
    (1, 3, 2, 2, 2)
    """

    d = 3
    kind = "max"
    summary_name = "AdaptiveMaxPool3d"


class AdaptiveAvgPool1d(_AdaptivePool):
    """PyTorch's ``AdaptiveAvgPool1d(output_size)``.

    Parameters
    ----------
    output_size : int or (int or None,)
        The output length (None keeps the input's).
    layout : {'channels_first', 'channels_last'}, keyword-only
        The input's layout (a portconv extension: PyTorch has ``memory_format``, not a
        layout); channels last takes ``(N, *spatial, C)``.

    Shape
    -----
    ``(N, C, L)`` or ``(C, L)`` -> ``(N, C, output_size)``.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> nn.AdaptiveAvgPool1d(2)(np.array([[[1.0, 2.0, 3.0, 4.0]]])).data
    array([[[1.5, 3.5]]])
    """

    d = 1
    summary_name = "AdaptiveAvgPool1d"

    def __init__(self, output_size: Any, *, layout: str = "channels_first") -> None:
        super().__init__(output_size, layout=layout)


class AdaptiveAvgPool3d(_AdaptivePool):
    """PyTorch's ``AdaptiveAvgPool3d(output_size)``.

    Parameters
    ----------
    output_size : int or 3 ints or Nones
        The output's depth, height and width (None keeps the input's size on that axis).
    layout : {'channels_first', 'channels_last'}, keyword-only
        The input's layout (a portconv extension: PyTorch has ``memory_format``, not a
        layout); channels last takes ``(N, *spatial, C)``.

    Shape
    -----
    ``(N, C, D, H, W)`` or ``(C, D, H, W)`` -> ``(N, C, *output_size)``.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> pool = nn.AdaptiveAvgPool3d(1)
    >>> pool
    AdaptiveAvgPool3d(output_size=1)
    >>> tuple(pool(np.ones((2, 4, 3, 3, 3))).shape)
    (2, 4, 1, 1, 1)
    """

    d = 3
    summary_name = "AdaptiveAvgPool3d"

    def __init__(self, output_size: Any, *, layout: str = "channels_first") -> None:
        super().__init__(output_size, layout=layout)


# -- channel dropout -----------------------------------------------------------------------------


class _DropoutNd(Module):
    """Channel dropout: in training, each ``(n, c)`` channel is zeroed whole with probability
    ``p`` and the others are scaled by ``1 / (1 - p)``; the masks come from
    :mod:`portconv.nn.init`'s seeded generator (the same on every backend), one value per
    channel, drawn in ``(N, C)`` order. In evaluation (and with ``p = 0``) the layer returns
    its input itself, as PyTorch's does."""

    d = 2
    takes_array = True

    def __init__(
        self, p: float = 0.5, inplace: bool = False, *, layout: str = "channels_first"
    ) -> None:
        super().__init__()
        self.p = real_number("p", p, low=0.0, high=1.0, high_open=True)
        if flag("inplace", inplace):
            raise ArgumentError(
                "inplace: portconv's arrays are not changed in place (some libraries' arrays "
                "cannot be), give inplace=False"
            )
        self.channels_last = _channels_last(layout, self.d)

    def _check(self, data: Any) -> None:
        d = self.d
        if d == 2 and data.ndim == 3:
            raise ArgumentError(
                f"input: Dropout2d of a 3-D input (shape {tuple(data.shape)}) is ambiguous "
                f"(PyTorch reads it as (N, C, L) with a warning that this will change to (C, "
                f"H, W)); use Dropout1d for (N, C, L), or add the batch axis for (C, H, W)"
            )
        _check_rank(self, data, d)

    def forward(self, x: Any) -> Any:
        require_array(x)
        self._check(_data(x))
        if not self.training or self.p == 0.0:
            return x
        data = _float_input(x)  # an integer array cannot hold the scaled survivors
        batched = data.ndim == self.d + 2
        n = int(data.shape[0]) if batched else 1
        c = int(data.shape[-1 if self.channels_last else -self.d - 1])
        keep = _init.generator().random((n, c)) >= self.p
        per = (n,) + (1,) * self.d + (c,) if self.channels_last else (n, c) + (1,) * self.d
        mask = (keep / (1.0 - self.p)).reshape(per)
        if not batched:
            mask = mask[0]
        return ag.multiply(x, _host_to(mask, data))

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace=False" + _layout_repr(self.channels_last)


class Dropout1d(_DropoutNd):
    """PyTorch's ``Dropout1d(p=0.5)``: whole channels of ``(N, C, L)`` input zeroed.

    In training each channel is zeroed with probability ``p`` (masks from the seeded
    generator of :mod:`portconv.nn.init`, the same on every backend) and the rest scaled by
    ``1 / (1 - p)``; in evaluation the layer returns its input itself.

    Parameters
    ----------
    p : float, default 0.5
        The probability of zeroing a channel, in [0, 1).
    inplace : bool, default False
        Only False (arrays are never changed in place).
    layout : {'channels_first', 'channels_last'}, keyword-only
        The input's layout (a portconv extension: PyTorch has ``memory_format``, not a
        layout); channels last takes ``(N, *spatial, C)``.

    Shape
    -----
    ``(N, C, L)`` or ``(C, L)`` -> the same.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> nn.manual_seed(0)
    >>> y = nn.Dropout1d(0.5)(np.ones((1, 4, 3)))
    >>> y.data[0, :, 0]  # each channel is kept (and doubled) or zeroed whole
    array([2., 0., 0., 0.])
    """

    d = 1
    summary_name = "Dropout1d"


class Dropout2d(_DropoutNd):
    """PyTorch's ``Dropout2d(p=0.5)``: whole channels of ``(N, C, H, W)`` input zeroed.

    Parameters
    ----------
    p : float, default 0.5
        The probability of zeroing a channel, in [0, 1).
    inplace : bool, default False
        Only False (arrays are never changed in place).
    layout : {'channels_first', 'channels_last'}, keyword-only
        The input's layout (a portconv extension: PyTorch has ``memory_format``, not a
        layout); channels last takes ``(N, *spatial, C)``.

    Shape
    -----
    ``(N, C, H, W)`` -> the same. A 3-D input is refused: PyTorch reads it as ``(N, C, L)``
    with a warning that this will change; use :class:`Dropout1d` for that.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> drop = nn.Dropout2d(0.2)
    >>> drop
    Dropout2d(p=0.2, inplace=False)
    >>> x = np.ones((2, 3, 4, 4), np.float32)
    >>> drop.eval()(x) is x
    True
    """

    d = 2
    summary_name = "Dropout2d"


class Dropout3d(_DropoutNd):
    """PyTorch's ``Dropout3d(p=0.5)``: whole channels of ``(N, C, D, H, W)`` input zeroed.

    Parameters
    ----------
    p : float, default 0.5
        The probability of zeroing a channel, in [0, 1).
    inplace : bool, default False
        Only False (arrays are never changed in place).
    layout : {'channels_first', 'channels_last'}, keyword-only
        The input's layout (a portconv extension: PyTorch has ``memory_format``, not a
        layout); channels last takes ``(N, *spatial, C)``.

    Shape
    -----
    ``(N, C, D, H, W)`` or ``(C, D, H, W)`` -> the same.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> tuple(nn.Dropout3d()(np.ones((2, 3, 2, 2, 2))).shape)
    (2, 3, 2, 2, 2)
    """

    d = 3
    summary_name = "Dropout3d"


# -- power-average pooling -----------------------------------------------------------------------


class _LPPool(Module):
    d = 2
    takes_array = True

    def __init__(
        self,
        norm_type: float,
        kernel_size: Any,
        stride: Any = None,
        ceil_mode: bool = False,
        *,
        layout: str = "channels_first",
    ) -> None:
        super().__init__()
        real_number("norm_type", norm_type, low=0.0, low_open=True)
        int_tuple("kernel_size", kernel_size, self.d)
        if stride is not None:
            int_tuple("stride", stride, self.d)
        self.norm_type, self.kernel_size, self.stride = norm_type, kernel_size, stride
        self.ceil_mode = flag("ceil_mode", ceil_mode)
        self.channels_last = _channels_last(layout, self.d)

    def forward(self, x: Any) -> Variable:
        op = getattr(ag, f"lp_pool{self.d}d")
        layout = _layout_name(self.channels_last)
        return op(x, self.norm_type, self.kernel_size, self.stride, self.ceil_mode, layout=layout)

    def extra_repr(self) -> str:
        return (
            f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, ceil_mode={self.ceil_mode}"
        ) + _layout_repr(self.channels_last)


class LPPool1d(_LPPool):
    """PyTorch's ``LPPool1d(norm_type, kernel_size, stride=None, ceil_mode=False)``: the
    ``p``-norm of each window, ``(sum x**p) ** (1/p)``.

    Parameters
    ----------
    norm_type : float
        The power ``p`` (> 0; 1 is sum pooling, large values approach max pooling).
    kernel_size : int or (int,)
        The window.
    stride : int or (int,), optional
        Step of the window; default the window.
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
    >>> pool = nn.LPPool1d(2, 2)
    >>> pool
    LPPool1d(norm_type=2, kernel_size=2, stride=None, ceil_mode=False)
    >>> pool(np.array([[[3.0, 4.0, 6.0, 8.0]]])).data
    array([[[ 5., 10.]]])
    """

    d = 1
    summary_name = "LPPool1d"


class LPPool2d(_LPPool):
    """PyTorch's ``LPPool2d(norm_type, kernel_size, stride=None, ceil_mode=False)``.

    Parameters
    ----------
    norm_type : float
        The power ``p`` (> 0).
    kernel_size : int or (int, int)
        The window.
    stride : int or (int, int), optional
        Step of the window; default the window.
    ceil_mode : bool, default False
        Round the output size up (PyTorch's rule).
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
    >>> nn.LPPool2d(1, 2)(np.ones((1, 1, 4, 4))).data
    array([[[[4., 4.],
             [4., 4.]]]])
    """

    d = 2
    summary_name = "LPPool2d"


class LPPool3d(_LPPool):
    """PyTorch's ``LPPool3d(norm_type, kernel_size, stride=None, ceil_mode=False)``.

    Parameters
    ----------
    norm_type : float
        The power ``p`` (> 0).
    kernel_size : int or (int, int, int)
        The window.
    stride : int or (int, int, int), optional
        Step of the window; default the window.
    ceil_mode : bool, default False
        Round the output size up (PyTorch's rule).
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
    >>> tuple(nn.LPPool3d(2, 2)(np.ones((1, 2, 4, 4, 4))).shape)
    (1, 2, 2, 2, 2)
    """

    d = 3
    summary_name = "LPPool3d"


# -- max unpooling -------------------------------------------------------------------------------


class _MaxUnpool(Module):
    d = 2
    takes_array = True

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0) -> None:
        super().__init__()
        d = self.d
        self.kernel_size = int_tuple("kernel_size", kernel_size, d)
        self.stride = self.kernel_size if stride is None else int_tuple("stride", stride, d)
        self.padding = int_tuple("padding", padding, d, minimum=0)

    def forward(self, input: Any, indices: Any, output_size: Any = None) -> Variable:
        require_array(indices, "indices")
        if output_size is not None and isinstance(output_size, list | tuple):
            output_size = tuple(output_size)[-self.d :]  # PyTorch also takes (N, C, *size)
        op = getattr(ag, f"max_unpool{self.d}d")
        return op(input, indices, self.kernel_size, self.stride, self.padding, output_size)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(_MaxUnpool):
    """PyTorch's ``MaxUnpool1d(kernel_size, stride=None, padding=0)``: the partial inverse of
    :class:`MaxPool1d`; each value goes to the position its index names, the rest is 0.

    Parameters
    ----------
    kernel_size : int or (int,)
        The window of the max pooling being undone.
    stride : int or (int,), optional
        Its step; default the window.
    padding : int or (int,), default 0
        Its padding.

    Shape
    -----
    ``forward(input, indices, output_size=None)``: ``(N, C, L)`` or ``(C, L)`` and int
    indices of the same shape -> ``(N, C, L_out)`` with ``L_out = (L - 1) * stride - 2 *
    padding + kernel_size``, or ``output_size`` (its last entry; PyTorch's ``(N, C, L)`` is
    accepted too).

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> y, idx = nn.MaxPool1d(2, return_indices=True)(np.array([[[1.0, 3.0, 4.0, 2.0]]]))
    >>> unpool = nn.MaxUnpool1d(2)
    >>> unpool
    MaxUnpool1d(kernel_size=(2,), stride=(2,), padding=(0,))
    >>> unpool(y, idx).data
    array([[[0., 3., 4., 0.]]])
    """

    d = 1
    summary_name = "MaxUnpool1d"


class MaxUnpool2d(_MaxUnpool):
    """PyTorch's ``MaxUnpool2d(kernel_size, stride=None, padding=0)``: the partial inverse of
    :class:`MaxPool2d`.

    Parameters
    ----------
    kernel_size : int or (int, int)
        The window of the max pooling being undone.
    stride : int or (int, int), optional
        Its step; default the window.
    padding : int or (int, int), default 0
        Its padding.

    Shape
    -----
    ``forward(input, indices, output_size=None)``: ``(N, C, H, W)`` or ``(C, H, W)`` and int
    indices of the same shape (flat positions within each ``(n, c)`` plane) -> ``(N, C,
    H_out, W_out)``, or ``output_size`` (its last two entries).

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> y, idx = nn.MaxPool2d(2, return_indices=True)(x)
    >>> nn.MaxUnpool2d(2)(y, idx).data[0, 0]
    array([[ 0.,  0.,  0.,  0.],
           [ 0.,  5.,  0.,  7.],
           [ 0.,  0.,  0.,  0.],
           [ 0., 13.,  0., 15.]])
    """

    d = 2
    summary_name = "MaxUnpool2d"


class MaxUnpool3d(_MaxUnpool):
    """PyTorch's ``MaxUnpool3d(kernel_size, stride=None, padding=0)``: the partial inverse of
    :class:`MaxPool3d`.

    Parameters
    ----------
    kernel_size : int or (int, int, int)
        The window of the max pooling being undone.
    stride : int or (int, int, int), optional
        Its step; default the window.
    padding : int or (int, int, int), default 0
        Its padding.

    Shape
    -----
    ``forward(input, indices, output_size=None)``: ``(N, C, D, H, W)`` or ``(C, D, H, W)``
    -> ``(N, C, D_out, H_out, W_out)``, or ``output_size`` (its last three entries).

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> x = np.arange(8.0).reshape(1, 1, 2, 2, 2)
    >>> y, idx = nn.MaxPool3d(2, return_indices=True)(x)
    >>> tuple(nn.MaxUnpool3d(2)(y, idx).shape), float(y.data.ravel()[0]), int(idx.ravel()[0])
    ((1, 1, 2, 2, 2), 7.0, 7)
    """

    d = 3
    summary_name = "MaxUnpool3d"


# -- padding -------------------------------------------------------------------------------------


def _torch_padding(value: Any, d: int) -> tuple[int, ...]:
    """PyTorch's padding of a padding layer: an int (every side) or ``2 * d`` ints, last axis
    first (``(left, right, top, bottom, front, back)``)."""
    n = 2 * d
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        values: tuple = (int(value),) * n
    elif isinstance(value, list | tuple) and len(value) == n:
        values = tuple(value)
    else:
        raise ArgumentError(
            f"padding: expected an int or {n} ints (last axis first: "
            f"{', '.join(('(left, right)', '(top, bottom)', '(front, back)')[:d])}), "
            f"got {value!r}"
        )
    for v in values:
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise ArrayTypeError(f"padding: expected ints, got {value!r}")
        if v < 0:
            raise ArgumentError(
                f"padding: every pad must be >= 0 (portconv's padding layers do not crop), "
                f"got {value!r}"
            )
    return tuple(int(v) for v in values)


class _Pad(Module):
    d = 2
    mode = "constant"
    takes_array = True

    def __init__(self, padding: Any) -> None:
        super().__init__()
        self._setup(padding, 0.0)

    def _setup(self, padding: Any, value: Any) -> None:
        self.padding = _torch_padding(padding, self.d)
        real_number("value", value)
        self.value = value
        p = self.padding
        # (before, after) per spatial axis, first axis first
        self._pairs = tuple((p[2 * i], p[2 * i + 1]) for i in reversed(range(self.d)))

    def forward(self, x: Any) -> Variable:
        require_array(x)
        data = _data(x)
        _check_rank(self, data, self.d)
        be, _, _ = prepare(data, names=("input",))
        batched = data.ndim == self.d + 2
        shape = tuple(int(s) for s in data.shape)
        if not batched:
            shape = (1,) + shape
        call = pad_call(
            shape,
            self._pairs,
            self.mode,
            float(self.value),
            name="mode",
            dtype=data.dtype,
            device=be.adapter.device(data),
        )
        return ag._record(Plan(PAD, be, call, batched), (x,), None)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _ConstantPad(_Pad):
    def __init__(self, padding: Any, value: float) -> None:
        Module.__init__(self)
        self._setup(padding, value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class ZeroPad1d(_ConstantPad):
    """PyTorch's ``ZeroPad1d(padding)``: zeros around the one spatial axis.

    Parameters
    ----------
    padding : int or (int, int)
        ``(left, right)``; an int pads both ends.

    Shape
    -----
    ``(N, C, L)`` or ``(C, L)`` -> ``(N, C, left + L + right)``.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> pad = nn.ZeroPad1d((1, 2))
    >>> pad
    ZeroPad1d((1, 2))
    >>> pad(np.array([[[1.0, 2.0, 3.0]]])).data
    array([[[0., 1., 2., 3., 0., 0.]]])
    """

    d = 1
    summary_name = "ZeroPad1d"

    def __init__(self, padding: Any) -> None:
        _Pad.__init__(self, padding)

    extra_repr = _Pad.extra_repr


class ZeroPad2d(_ConstantPad):
    """PyTorch's ``ZeroPad2d(padding)``: zeros around height and width.

    Parameters
    ----------
    padding : int or (int, int, int, int)
        ``(left, right, top, bottom)`` (last axis first, as in PyTorch); an int pads every
        side.

    Shape
    -----
    ``(N, C, H, W)`` or ``(C, H, W)`` -> ``(N, C, top + H + bottom, left + W + right)``.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> pad = nn.ZeroPad2d((1, 0, 0, 1))
    >>> pad
    ZeroPad2d((1, 0, 0, 1))
    >>> pad(np.ones((1, 1, 2, 2))).data[0, 0]
    array([[0., 1., 1.],
           [0., 1., 1.],
           [0., 0., 0.]])
    """

    d = 2
    summary_name = "ZeroPad2d"

    def __init__(self, padding: Any) -> None:
        _Pad.__init__(self, padding)

    extra_repr = _Pad.extra_repr


class ZeroPad3d(_ConstantPad):
    """PyTorch's ``ZeroPad3d(padding)``: zeros around depth, height and width.

    Parameters
    ----------
    padding : int or 6 ints
        ``(left, right, top, bottom, front, back)``; an int pads every side.

    Shape
    -----
    ``(N, C, D, H, W)`` or ``(C, D, H, W)`` -> each spatial axis longer by its two pads.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> tuple(nn.ZeroPad3d(1)(np.ones((1, 1, 2, 2, 2))).shape)
    (1, 1, 4, 4, 4)
    """

    d = 3
    summary_name = "ZeroPad3d"

    def __init__(self, padding: Any) -> None:
        _Pad.__init__(self, padding)

    extra_repr = _Pad.extra_repr


class ConstantPad1d(_ConstantPad):
    """PyTorch's ``ConstantPad1d(padding, value)``: ``value`` around the one spatial axis.

    Parameters
    ----------
    padding : int or (int, int)
        ``(left, right)``; an int pads both ends.
    value : float
        What the padding holds.

    Shape
    -----
    ``(N, C, L)`` or ``(C, L)`` -> ``(N, C, left + L + right)``.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> pad = nn.ConstantPad1d((2, 1), 3.5)
    >>> pad
    ConstantPad1d(padding=(2, 1), value=3.5)
    >>> pad(np.array([[[1.0, 2.0]]])).data
    array([[[3.5, 3.5, 1. , 2. , 3.5]]])
    """

    d = 1
    summary_name = "ConstantPad1d"


class ConstantPad2d(_ConstantPad):
    """PyTorch's ``ConstantPad2d(padding, value)``: ``value`` around height and width.

    Parameters
    ----------
    padding : int or (int, int, int, int)
        ``(left, right, top, bottom)``; an int pads every side.
    value : float
        What the padding holds.

    Shape
    -----
    ``(N, C, H, W)`` or ``(C, H, W)`` -> ``(N, C, top + H + bottom, left + W + right)``.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> nn.ConstantPad2d(1, -1.0)(np.zeros((1, 1, 1, 1))).data[0, 0]
    array([[-1., -1., -1.],
           [-1.,  0., -1.],
           [-1., -1., -1.]])
    """

    d = 2
    summary_name = "ConstantPad2d"


class ConstantPad3d(_ConstantPad):
    """PyTorch's ``ConstantPad3d(padding, value)``: ``value`` around depth, height and width.

    Parameters
    ----------
    padding : int or 6 ints
        ``(left, right, top, bottom, front, back)``; an int pads every side.
    value : float
        What the padding holds.

    Shape
    -----
    ``(N, C, D, H, W)`` or ``(C, D, H, W)`` -> each spatial axis longer by its two pads.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> tuple(nn.ConstantPad3d((1, 1, 0, 0, 2, 0), 1.0)(np.ones((1, 2, 2, 2))).shape)
    (1, 4, 2, 4)
    """

    d = 3
    summary_name = "ConstantPad3d"


class ReflectionPad1d(_Pad):
    """PyTorch's ``ReflectionPad1d(padding)``: the input mirrored about its ends, the edge
    not repeated (``[a b c]`` padded by 2 on the left gives ``c b a b c``).

    Parameters
    ----------
    padding : int or (int, int)
        ``(left, right)``; each smaller than the input's length.

    Shape
    -----
    ``(N, C, L)`` or ``(C, L)`` -> ``(N, C, left + L + right)``.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> pad = nn.ReflectionPad1d(2)
    >>> pad
    ReflectionPad1d((2, 2))
    >>> pad(np.array([[[1.0, 2.0, 3.0]]])).data
    array([[[3., 2., 1., 2., 3., 2., 1.]]])
    """

    d = 1
    mode = "reflect"
    summary_name = "ReflectionPad1d"


class ReflectionPad2d(_Pad):
    """PyTorch's ``ReflectionPad2d(padding)``: height and width mirrored about their edges.

    Parameters
    ----------
    padding : int or (int, int, int, int)
        ``(left, right, top, bottom)``; each smaller than its axis.

    Shape
    -----
    ``(N, C, H, W)`` or ``(C, H, W)`` -> ``(N, C, top + H + bottom, left + W + right)``.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> nn.ReflectionPad2d((1, 0, 0, 0))(np.arange(4.0).reshape(1, 1, 2, 2)).data[0, 0]
    array([[1., 0., 1.],
           [3., 2., 3.]])
    """

    d = 2
    mode = "reflect"
    summary_name = "ReflectionPad2d"


class ReflectionPad3d(_Pad):
    """PyTorch's ``ReflectionPad3d(padding)``: depth, height and width mirrored.

    Parameters
    ----------
    padding : int or 6 ints
        ``(left, right, top, bottom, front, back)``; each smaller than its axis.

    Shape
    -----
    ``(N, C, D, H, W)`` or ``(C, D, H, W)`` -> each spatial axis longer by its two pads.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> tuple(nn.ReflectionPad3d(1)(np.ones((1, 1, 2, 3, 4))).shape)
    (1, 1, 4, 5, 6)
    """

    d = 3
    mode = "reflect"
    summary_name = "ReflectionPad3d"


class ReplicationPad1d(_Pad):
    """PyTorch's ``ReplicationPad1d(padding)``: the edge values repeated.

    Parameters
    ----------
    padding : int or (int, int)
        ``(left, right)``; an int pads both ends.

    Shape
    -----
    ``(N, C, L)`` or ``(C, L)`` -> ``(N, C, left + L + right)``.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> pad = nn.ReplicationPad1d((2, 1))
    >>> pad
    ReplicationPad1d((2, 1))
    >>> pad(np.array([[[1.0, 2.0, 3.0]]])).data
    array([[[1., 1., 1., 2., 3., 3.]]])
    """

    d = 1
    mode = "replicate"
    summary_name = "ReplicationPad1d"


class ReplicationPad2d(_Pad):
    """PyTorch's ``ReplicationPad2d(padding)``: the edges of height and width repeated.

    Parameters
    ----------
    padding : int or (int, int, int, int)
        ``(left, right, top, bottom)``; an int pads every side.

    Shape
    -----
    ``(N, C, H, W)`` or ``(C, H, W)`` -> ``(N, C, top + H + bottom, left + W + right)``.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> nn.ReplicationPad2d((0, 1, 1, 0))(np.arange(4.0).reshape(1, 1, 2, 2)).data[0, 0]
    array([[0., 1., 1.],
           [0., 1., 1.],
           [2., 3., 3.]])
    """

    d = 2
    mode = "replicate"
    summary_name = "ReplicationPad2d"


class ReplicationPad3d(_Pad):
    """PyTorch's ``ReplicationPad3d(padding)``: the edges of depth, height and width
    repeated.

    Parameters
    ----------
    padding : int or 6 ints
        ``(left, right, top, bottom, front, back)``; an int pads every side.

    Shape
    -----
    ``(N, C, D, H, W)`` or ``(C, D, H, W)`` -> each spatial axis longer by its two pads.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> tuple(nn.ReplicationPad3d((1, 0, 0, 0, 0, 2))(np.ones((1, 1, 2, 2, 2))).shape)
    (1, 1, 4, 2, 3)
    """

    d = 3
    mode = "replicate"
    summary_name = "ReplicationPad3d"


# -- nearest-neighbour upsampling ----------------------------------------------------------------


class Upsample(Module):
    """PyTorch's ``Upsample(size=None, scale_factor=None, mode="nearest")``: each output
    element copies the nearest input element (PyTorch's index rule), for 1 to 3 spatial
    axes; gradients add back onto the elements copied.

    Parameters
    ----------
    size : int or tuple of int, optional
        The output's spatial size (one int for every axis).
    scale_factor : float or tuple of float, optional
        Multiplier of the spatial size (the output has ``floor(size * scale_factor)``); give
        exactly one of ``size`` and ``scale_factor``.
    mode : {'nearest'}
        Only nearest-neighbour upsampling.
    align_corners : None
        Only None (PyTorch refuses it for "nearest" too).
    recompute_scale_factor : bool, optional
        True: index by ``input / output`` sizes rather than by ``1 / scale_factor`` (the
        two differ only where the scale factor is not a whole number).

    Shape
    -----
    ``(N, C, L)``, ``(N, C, H, W)`` or ``(N, C, D, H, W)`` -> ``(N, C, *out)``; batched
    input only, as in PyTorch.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> up = nn.Upsample(scale_factor=2)
    >>> up
    Upsample(scale_factor=2.0, mode='nearest')
    >>> up(np.array([[[[1.0, 2.0], [3.0, 4.0]]]])).data[0, 0]
    array([[1., 1., 2., 2.],
           [1., 1., 2., 2.],
           [3., 3., 4., 4.],
           [3., 3., 4., 4.]])
    >>> nn.Upsample(size=5)(np.array([[[1.0, 2.0, 3.0]]])).data
    array([[[1., 1., 2., 2., 3.]]])
    """

    summary_name = "Upsample"
    takes_array = True

    def __init__(
        self,
        size: Any = None,
        scale_factor: Any = None,
        mode: str = "nearest",
        align_corners: bool | None = None,
        recompute_scale_factor: bool | None = None,
    ) -> None:
        super().__init__()
        if mode not in NEAREST_MODES:
            raise ArgumentError(
                f"mode: portconv resizes by {' or '.join(map(repr, NEAREST_MODES))} only, "
                f"got {mode!r}"
            )
        if align_corners is not None:
            raise ArgumentError(
                f"align_corners: only None with the nearest modes (as PyTorch), got "
                f"{align_corners!r}"
            )
        if (size is None) == (scale_factor is None):
            raise ArgumentError(
                f"size, scale_factor: give exactly one of them, got size={size!r} and "
                f"scale_factor={scale_factor!r}"
            )
        if size is not None:
            positive_sizes("size", size, len(size) if isinstance(size, list | tuple) else 1, int)
            self.size = tuple(size) if isinstance(size, list) else size
            self.scale_factor = None
        else:
            one = not isinstance(scale_factor, list | tuple)
            d = 1 if one else len(scale_factor)
            factors = positive_sizes("scale_factor", scale_factor, d, float)
            self.size = None
            self.scale_factor = factors[0] if one else factors
        self.mode = mode
        self.recompute = (
            False
            if recompute_scale_factor is None
            else flag("recompute_scale_factor", recompute_scale_factor)
        )

    def forward(self, x: Any) -> Variable:
        data = _float_input(x)
        if data.ndim not in (3, 4, 5):
            raise ArgumentError(
                f"input: Upsample expects a batched (N, C, L), (N, C, H, W) or (N, C, D, H, "
                f"W) array, got shape {tuple(data.shape)}"
            )
        return ag.interpolate(
            x, self.size, self.scale_factor, self.mode, None, self.recompute or None
        )

    def extra_repr(self) -> str:
        if self.scale_factor is not None:
            return f"scale_factor={self.scale_factor!r}, mode={self.mode!r}"
        return f"size={self.size!r}, mode={self.mode!r}"
