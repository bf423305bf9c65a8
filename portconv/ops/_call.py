"""The call description: one immutable record of an op call, built once by the op's front end.

Every convolution and pooling call is checked and normalised here, into a :class:`ConvCall`,
:class:`PoolCall` or :class:`AdaptiveCall`: strides, the padding pairs actually applied,
dilation, groups, rounding mode, counts and output size. This module is the only home of those
rules (padding forms, TensorFlow's SAME, output sizes with PyTorch's ``ceil_mode`` and MXNet's
``"full"`` convention, the extra padding a rounded-up window reaches). Everything downstream
reads the description: the generic kernels and their gradient rules, the adapters' native
kernels (``NativePath.can_run(call)``), the Dask adapter, the shape helpers of
:mod:`portconv.models.shapes`, and the cache of repeated calls.

The builders take shapes, not arrays, so a dry run (``conv_output_shape``, a model's shape
summary) and a real call go through the same checks. Kernels always receive batched,
channels-first arrays: ``(N, C, *size)``.

Example::

    >>> from portconv.ops._call import conv_call
    >>> call = conv_call((8, 3, 32, 32), (16, 3, 3, 3), stride=2, padding="same")
    >>> call.out, call.padding
    ((16, 16), ((0, 1), (0, 1)))
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import ArgumentError, ArrayTypeError
from ._args import _is_int, int_tuple

Pads = tuple[tuple[int, int], ...]

#: pooling's rounding modes: "floor" (the default), "ceil" (PyTorch's ``ceil_mode=True``),
#: "full" (MXNet's ``pooling_convention="full"``)
MODES = ("floor", "ceil", "full")


# -- the rules -------------------------------------------------------------------------------------


def output_size(
    n: int, k: int, s: int, d: int, before: int, after: int, mode: str = "floor"
) -> int:
    """The number of window positions along one axis of size ``n`` padded by ``(before,
    after)``, for a kernel of ``k`` taps with dilation ``d`` and stride ``s``.

    "floor": ``floor((n + before + after - d*(k-1) - 1) / s) + 1``, the book's ``floor((n - k +
    p + s) / s)``; "full" (MXNet): the same with ``ceil``; "ceil" (PyTorch's ``ceil_mode``):
    "full" minus a last window that would start at or beyond ``n + before`` (entirely in the
    right padding). Never negative."""
    span = n + before + after - d * (k - 1) - 1
    if mode == "floor":
        return span // s + 1 if span >= 0 else 0
    out = -(-span // s) + 1
    if mode == "ceil" and out > 0 and (out - 1) * s >= n + before:
        out -= 1  # PyTorch: the last window must start inside the input or the left padding
    return max(out, 0)


def same_padding(
    n: Sequence[int], k: Sequence[int], s: Sequence[int], d: Sequence[int], *, lower: bool
) -> Pads:
    """TensorFlow's SAME rule: output size ceil(n / s); the total padding is split in half
    with the odd extra at the end (``lower=False``, SAME_UPPER) or at the beginning
    (``lower=True``, SAME_LOWER, the book's "ceil(p/2) on top")."""
    pads = []
    for ni, ki, si, di in zip(n, k, s, d):
        out = -(-ni // si)
        total = max((out - 1) * si + (ki - 1) * di + 1 - ni, 0)
        small, large = total // 2, total - total // 2
        pads.append((large, small) if lower else (small, large))
    return tuple(pads)


def is_same(padding: Any) -> bool:
    """Whether ``padding`` is one of the SAME strings (whose padding pooling never counts)."""
    return isinstance(padding, str) and padding.lower() in ("same", "same_upper", "same_lower")


def padding_pairs(
    name: str,
    padding: Any,
    d: int,
    *,
    spatial: Sequence[int] = (),
    kernel: Sequence[int] = (),
    stride: Sequence[int] = (),
    dilation: Sequence[int] = (),
    strings: bool = True,
) -> Pads:
    """Normalise ``padding`` to ``d`` (before, after) pairs.

    Accepted: an int (both sides of every axis); ``d`` ints, or one int for every axis (both
    sides, per axis); ``d`` (before, after) pairs; and, where ``strings`` (not for transposed
    convolution, where they have no single meaning), ``"valid"`` (none), ``"same"`` and
    ``"same_lower"``."""
    if type(padding) is int and padding >= 0:  # the common case, without ABC checks
        return ((padding, padding),) * d
    allowed = f"an int, {d} ints or {d} (before, after) pairs"
    if strings:
        allowed = f"an int, {d} ints, {d} (before, after) pairs, 'valid', 'same' or 'same_lower'"
    if isinstance(padding, str) and strings:
        mode = padding.lower()
        if mode == "valid":
            return ((0, 0),) * d
        if mode in ("same", "same_upper", "same_lower"):
            return same_padding(spatial, kernel, stride, dilation, lower=mode == "same_lower")
        raise ArgumentError(f"{name}: expected {allowed}, got {padding!r}")
    pairs = None
    if _is_int(padding):
        pairs = ((int(padding), int(padding)),) * d
    elif isinstance(padding, Sequence) and not isinstance(padding, str):
        if len(padding) == 1 and d > 1 and _is_int(padding[0]):  # (p,): every axis, as torch
            pairs = ((int(padding[0]), int(padding[0])),) * d
        elif len(padding) == d and all(_is_int(p) for p in padding):
            pairs = tuple((int(p), int(p)) for p in padding)
        elif len(padding) == d and all(
            isinstance(p, Sequence)
            and not isinstance(p, str)
            and len(p) == 2
            and all(_is_int(v) for v in p)
            for p in padding
        ):
            pairs = tuple((int(p[0]), int(p[1])) for p in padding)
    if pairs is None:
        raise ArgumentError(f"{name}: expected {allowed}, got {padding!r}")
    for before, after in pairs:
        if before < 0 or after < 0:
            raise ArgumentError(f"{name}: padding must not be negative, got {padding!r}")
    return pairs


def transpose_output_size(
    n: Sequence[int],
    k: Sequence[int],
    s: Sequence[int],
    dil: Sequence[int],
    pads: Pads,
    output_padding: Sequence[int],
) -> tuple[int, ...]:
    """The output size of a transposed convolution along each axis:
    ``(n - 1)*s - before - after + dil*(k - 1) + output_padding + 1``."""
    return tuple(
        (ni - 1) * si - b - a + di * (ki - 1) + oi + 1
        for ni, ki, si, di, (b, a), oi in zip(n, k, s, dil, pads, output_padding)
    )


def _default_stride(stride: Any) -> bool:
    """A pooling stride that means "the kernel": None, or PyTorch's empty tuple."""
    return stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0)


def _groups(groups: Any) -> int:
    if type(groups) is int and groups >= 1:
        return groups
    if not _is_int(groups):
        raise ArrayTypeError(f"groups: expected a positive int, got {groups!r}")
    if groups < 1:
        raise ArgumentError(f"groups: expected a positive int, got {groups!r}")
    return int(groups)


# -- convolution -----------------------------------------------------------------------------------


class _Spatial:
    """What a call description on ``(n, c, *size)`` arrays derives from its fields: the
    number of spatial dimensions and the result's shape ``(n, c, *out)`` (``(n, c_out,
    *out)`` where the op mixes channels: its own ``out_shape``)."""

    @property
    def d(self) -> int:
        """The number of spatial dimensions."""
        return len(self.size)  # type: ignore[attr-defined]

    @property
    def out_shape(self) -> tuple[int, ...]:
        """The shape of the kernels' result."""
        return (self.n, self.c) + self.out  # type: ignore[attr-defined]


@dataclass(frozen=True)
class ConvCall(_Spatial):
    """One convolution (``op="conv"``) or transposed convolution (``op="conv_transpose"``).

    Arrays reach the kernels channels-first and batched: input ``(n, c_in, *size)``, weight
    ``(c_out, c_in/groups, *kernel)`` for a convolution and ``(c_in, c_out/groups, *kernel)``
    for a transposed one (the weight of the convolution it is the adjoint of), bias
    ``(c_out,)`` when ``bias``; the result is ``(n, c_out, *out)``. ``padding`` holds the
    (before, after) pairs applied (SAME already resolved); for a transposed convolution it is
    what is cropped from its full result. ``channels_last`` records the caller's layout (the
    front end permutes; kernels see channels first). ``exact``: the float64 arrays hold
    integers whose convolution must come out exact (ONNX's integer convolutions), so no
    algorithm that rounds (Winograd's) may compute it."""

    op: str
    n: int
    c_in: int
    c_out: int
    groups: int
    size: tuple[int, ...]
    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    padding: Pads
    dilation: tuple[int, ...]
    out: tuple[int, ...]
    bias: bool = False
    output_padding: tuple[int, ...] = ()
    dtype: Any = None
    device: Any = None
    channels_last: bool = False
    exact: bool = False

    @property
    def out_shape(self) -> tuple[int, ...]:
        """The shape of the kernels' result, ``(n, c_out, *out)``."""
        return (self.n, self.c_out) + self.out

    @property
    def symmetric(self) -> bool:
        """Whether every axis is padded alike on both sides (what most native kernels take)."""
        return all(b == a for b, a in self.padding)

    @property
    def canvas(self) -> tuple[int, ...]:
        """The padded extent the windows move over: the convolution's padded input, or the
        transposed convolution's full result before ``padding`` is cropped."""
        if self.op == "conv":
            return tuple(n + b + a for n, (b, a) in zip(self.size, self.padding))
        return tuple(o + b + a for o, (b, a) in zip(self.out, self.padding))

    def adjoint(self) -> ConvCall:
        """The call whose forward is this call's input gradient: the transposed convolution
        of a convolution (and the convolution of a transposed one), with the same weight."""
        if self.op == "conv":
            op_pad = tuple(
                c - ((o - 1) * s + di * (k - 1) + 1)
                for c, o, s, di, k in zip(
                    self.canvas, self.out, self.stride, self.dilation, self.kernel
                )
            )
            return ConvCall(
                "conv_transpose", self.n, self.c_out, self.c_in, self.groups, self.out,
                self.kernel, self.stride, self.padding, self.dilation, self.size, False,
                op_pad, self.dtype, self.device,
            )  # fmt: skip
        return ConvCall(
            "conv", self.n, self.c_out, self.c_in, self.groups, self.out, self.kernel,
            self.stride, self.padding, self.dilation, self.size, False, (), self.dtype,
            self.device,
        )  # fmt: skip


def conv_call(
    input_shape: Sequence[int],
    weight_shape: Sequence[int],
    bias_shape: Sequence[int] | None = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: Any = 1,
    *,
    dtype: Any = None,
    device: Any = None,
    channels_last: bool = False,
    kernel_name: str = "weight",
    exact: bool = False,
) -> ConvCall:
    """Check a convolution of an ``(N, C_in, *size)`` input with a ``(C_out, C_in/groups,
    *kernel)`` weight (and a ``(C_out,)`` bias) and describe it (``kernel_name``: what errors
    about the kernel's extent call it)."""
    xs, ws = tuple(input_shape), tuple(weight_shape)
    d = len(ws) - 2
    n, c, spatial = xs[0], xs[1], xs[2:]
    c_out, c_in_g, kernel = ws[0], ws[1], ws[2:]
    groups = _groups(groups)
    if c % groups:
        raise ArgumentError(
            f"groups: {groups} does not divide the input's {c} channels (input channels must "
            f"split evenly into groups)"
        )
    if c_out % groups:
        raise ArgumentError(
            f"groups: {groups} does not divide the weight's {c_out} output channels (output "
            f"channels must split evenly into groups)"
        )
    if c_in_g * groups != c:
        raise ArgumentError(
            f"weight: expects {c_in_g} input channel(s) per group, i.e. {c_in_g * groups} "
            f"input channels with groups={groups}, but the input has {c} channels "
            f"(weight shape {ws} read as (C_out, C_in/groups, *kernel), input shape {xs} read "
            f"as (N, C, *spatial))"
        )
    if c_in_g < 1 or min(kernel) < 1:
        raise ArgumentError(
            f"weight: every dimension must be at least 1, got shape {ws} read as (C_out, "
            f"C_in/groups, *kernel)"
        )
    if bias_shape is not None and tuple(bias_shape) != (c_out,):
        raise ArgumentError(
            f"bias: expected shape ({c_out},), one value per output channel, got shape "
            f"{tuple(bias_shape)}"
        )
    stride = int_tuple("stride", stride, d)
    dilation = int_tuple("dilation", dilation, d)
    pads = padding_pairs(
        "padding", padding, d, spatial=spatial, kernel=kernel, stride=stride, dilation=dilation
    )
    out = []
    for i in range(d):  # a plain loop: this runs on every call
        pb, pa = pads[i]
        out.append(output_size(spatial[i], kernel[i], stride[i], dilation[i], pb, pa))
    out = tuple(out)
    if min(out) < 1:
        padded = tuple(ni + pb + pa for ni, (pb, pa) in zip(spatial, pads))
        span = tuple((ki - 1) * di + 1 for ki, di in zip(kernel, dilation))
        raise ArgumentError(
            f"{kernel_name}: the kernel {kernel} with dilation {dilation} spans {span} elements, "
            f"more than the padded input {padded} (input {spatial}, padding {pads}) along some "
            f"axis, so the output would be empty; pad the input more or use a smaller kernel"
        )
    return ConvCall(
        "conv", n, c, c_out, groups, tuple(spatial), tuple(kernel), stride, pads, dilation,
        out, bias_shape is not None, (), dtype, device, channels_last, exact,
    )  # fmt: skip


def conv_transpose_call(
    input_shape: Sequence[int],
    weight_shape: Sequence[int],
    bias_shape: Sequence[int] | None = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: Any = 1,
    dilation: Any = 1,
    *,
    dtype: Any = None,
    device: Any = None,
    output_size: Any = None,
) -> ConvCall:
    """Check a transposed convolution of an ``(N, C_in, *size)`` input with a ``(C_in,
    C_out/groups, *kernel)`` weight (and a ``(C_out,)`` bias) and describe it.

    ``padding`` (what is cropped from the full result) is an int, ints or pairs, or one of
    ONNX's ``auto_pad`` rules: ``"valid"`` (nothing), ``"same"`` (SAME_UPPER) or
    ``"same_lower"``: the output is ``output_size`` (default ``size * stride``) and the
    difference from the full result is cropped half at each end, the odd one at the end
    (``"same"``) or at the beginning (``"same_lower"``). With numeric padding,
    ``output_size`` is PyTorch's: it sets ``output_padding`` (at most ``stride - 1``)."""
    xs, ws = tuple(input_shape), tuple(weight_shape)
    d = len(ws) - 2
    groups = _groups(groups)
    c_in = xs[1]
    if ws[0] != c_in:
        raise ArgumentError(
            f"weight: expected {c_in} input channels along its first axis (weight shape "
            f"(C_in, C_out/groups, *kernel)), got shape {ws} for input shape {xs}"
        )
    if c_in % groups:
        raise ArgumentError(f"groups: {groups} does not divide the input's {c_in} channels")
    c_out = ws[1] * groups
    if bias_shape is not None and tuple(bias_shape) != (c_out,):
        raise ArgumentError(
            f"bias: expected shape ({c_out},), one value per output channel, got shape "
            f"{tuple(bias_shape)}"
        )
    kernel = tuple(ws[2:])
    if min(kernel) < 1 or ws[1] < 1:
        raise ArgumentError(f"weight: every dimension must be at least 1, got {ws}")
    stride = int_tuple("stride", stride, d)
    dilation = int_tuple("dilation", dilation, d)
    output_padding = int_tuple("output_padding", output_padding, d, minimum=0)
    spatial = tuple(xs[2:])
    pads, output_padding = transpose_padding(
        spatial, kernel, stride, dilation, padding, output_padding, output_size
    )
    for op, s, dil in zip(output_padding, stride, dilation):
        if op >= s and op >= dil:
            what = "output_padding" if output_size is None else "output_size"
            raise ArgumentError(
                f"{what}: the output may extend the full result by less than the stride or "
                f"the dilation on each axis, got output_padding={output_padding}"
                f"{'' if output_size is None else f' (from output_size={output_size!r})'}, "
                f"stride={stride}, dilation={dilation}"
            )
    out = transpose_output_size(spatial, kernel, stride, dilation, pads, output_padding)
    if min(out) < 1:
        raise ArgumentError(
            f"padding: the output size {out} would be empty (input {spatial}, kernel {kernel}, "
            f"stride {stride}, dilation {dilation}, padding {pads}); pad less"
        )
    return ConvCall(
        "conv_transpose", xs[0], c_in, c_out, groups, spatial, kernel, stride, pads, dilation,
        out, bias_shape is not None, output_padding, dtype, device,
    )  # fmt: skip


def spatial_sizes(name: str, value: Any, d: int, *, minimum: int = 1) -> tuple[int, ...]:
    """An output size given as ``d`` ints, or as a whole shape of ``d + 2`` ints (PyTorch's
    ``output_size=x.size()``, whose first two entries are the batch and the channels)."""
    if isinstance(value, Sequence) and not isinstance(value, str) and len(value) == d + 2:
        value = tuple(value)[2:]
    if isinstance(value, Sequence) and not isinstance(value, str) and len(value) not in (1, d):
        raise ArgumentError(
            f"{name}: expected {d} ints (one per spatial axis) or {d + 2} (a whole shape), "
            f"got {value!r}"
        )
    return int_tuple(name, value, d, minimum=minimum)


def transpose_padding(
    n: Sequence[int],
    k: Sequence[int],
    s: Sequence[int],
    dil: Sequence[int],
    padding: Any,
    output_padding: tuple[int, ...],
    output_size: Any,
) -> tuple[Pads, tuple[int, ...]]:
    """The (before, after) crop and the output padding of a transposed convolution (see
    :func:`conv_transpose_call`)."""
    d = len(n)
    full = [(ni - 1) * si + di * (ki - 1) + 1 for ni, si, di, ki in zip(n, s, dil, k)]
    wanted = None if output_size is None else spatial_sizes("output_size", output_size, d)
    if isinstance(padding, str):
        mode = padding.lower()
        if mode == "valid":
            pads: Pads = ((0, 0),) * d
        elif mode in ("same", "same_upper", "same_lower"):
            target = wanted if wanted is not None else tuple(ni * si for ni, si in zip(n, s))
            pairs, extra = [], list(output_padding)
            for i in range(d):
                total = full[i] + extra[i] - target[i]
                small, large = total // 2, total - total // 2
                before, after = (large, small) if mode == "same_lower" else (small, large)
                if after < 0:  # the output reaches past the full result: zeros at the end
                    extra[i], after = extra[i] - after, 0
                if before < 0:
                    raise ArgumentError(
                        f"output_size: {tuple(target)} exceeds the full transposed "
                        f"convolution {tuple(full)} (plus output_padding) so that "
                        f"padding={padding!r} would extend the beginning; ask for a smaller "
                        f"output or use padding='same_lower'"
                    )
                pairs.append((before, after))
            return tuple(pairs), tuple(extra)
        else:
            raise ArgumentError(
                f"padding: expected an int, {d} ints, {d} (before, after) pairs, 'valid', "
                f"'same' or 'same_lower', got {padding!r}"
            )
    else:
        pads = padding_pairs("padding", padding, d, strings=False)
    if wanted is None:
        return pads, output_padding
    if any(output_padding):
        raise ArgumentError(
            f"output_padding: give output_size or output_padding, not both (output_size "
            f"sets the output padding), got output_padding={output_padding} and "
            f"output_size={output_size!r}"
        )
    extra = []
    for i in range(d):
        smallest = full[i] - pads[i][0] - pads[i][1]
        if not smallest <= wanted[i] <= smallest + s[i] - 1:
            raise ArgumentError(
                f"output_size: {tuple(wanted)} is not reachable; along axis {i} the "
                f"transposed convolution gives from {smallest} to {smallest + s[i] - 1} "
                f"elements (input {tuple(n)}, kernel {tuple(k)}, stride {tuple(s)}, "
                f"dilation {tuple(dil)}, padding {pads})"
            )
        extra.append(wanted[i] - smallest)
    return pads, tuple(extra)


# -- pooling ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PoolCall(_Spatial):
    """One max (``kind="max"``) or average (``kind="avg"``) pooling of an ``(n, c, *size)``
    input to ``(n, c, *out)``.

    ``padding``: the (before, after) pairs asked for (SAME resolved); ``applied``: those plus,
    at the end, what the last window of a rounded-up output (``mode`` "ceil" or "full")
    reaches past the padded input: the border the kernels actually build. ``count`` (average
    pooling): "padded" divides by the window's positions inside the padded input, "input" by
    its positions inside the input; ``divisor`` (average pooling, PyTorch's
    ``divisor_override``): when not None, every window divides by it instead. ``indices``
    (max pooling): the call also returns, for every output, the flat index of its maximum
    within its ``(n, c)`` plane of the input (PyTorch's ``return_indices``); such a call is
    the op ``"max_pool_with_indices"``. ``integer`` (max pooling): the input has an integer
    dtype, which the result keeps (the op ``"max_pool_integer"``, padded with the dtype's
    minimum; with ``indices`` it stays ``"max_pool_with_indices"``)."""

    kind: str
    n: int
    c: int
    size: tuple[int, ...]
    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    padding: Pads
    dilation: tuple[int, ...]
    mode: str
    out: tuple[int, ...]
    applied: Pads
    count: str | None = None
    dtype: Any = None
    device: Any = None
    channels_last: bool = False
    divisor: int | None = None
    indices: bool = False
    integer: bool = False

    @property
    def op(self) -> str:
        if self.indices:
            return "max_pool_with_indices"
        return "max_pool_integer" if self.integer else f"{self.kind}_pool"

    @property
    def symmetric(self) -> bool:
        return all(b == a for b, a in self.padding)

    @property
    def canvas(self) -> tuple[int, ...]:
        """The extent of the input padded by ``applied``."""
        return tuple(n + b + a for n, (b, a) in zip(self.size, self.applied))


def flag(name: str, value: Any) -> bool:
    """A strict bool argument (``ceil_mode``, ``count_include_pad``)."""
    if not isinstance(value, bool):
        raise ArrayTypeError(f"{name}: expected True or False, got {value!r}")
    return value


def pool_mode(ceil_mode: Any, pooling_convention: Any) -> str:
    """ "floor", "ceil" (PyTorch's ceil_mode) or "full" (MXNet's pooling_convention)."""
    ceil = flag("ceil_mode", ceil_mode)
    conv = pooling_convention.lower() if isinstance(pooling_convention, str) else None
    if conv not in ("valid", "full"):
        raise ArgumentError(
            f"pooling_convention: expected 'valid' or 'full' (MXNet's conventions; for "
            f"PyTorch's rounding up use ceil_mode=True, for TensorFlow's SAME use "
            f"padding='same'), got {pooling_convention!r}"
        )
    if conv == "full":
        if ceil:
            raise ArgumentError(
                "ceil_mode: ceil_mode=True (PyTorch's rounding up) and "
                "pooling_convention='full' (MXNet's) are two different rules; choose one"
            )
        return "full"
    return "ceil" if ceil else "floor"


def pool_call(
    kind: str,
    input_shape: Sequence[int],
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    mode: str = "floor",
    count_include_pad: Any = True,
    *,
    dtype: Any = None,
    device: Any = None,
    channels_last: bool = False,
    divisor_override: Any = None,
    return_indices: Any = False,
    integer: bool = False,
) -> PoolCall:
    """Check a pooling of an ``(N, C, *size)`` input and describe it (``mode``: see
    :func:`pool_mode`; ``count_include_pad`` and ``divisor_override`` are read for average
    pooling only, ``return_indices`` for max pooling only)."""
    shape = tuple(input_shape)
    d = len(shape) - 2
    spatial = shape[2:]
    if shape[1] < 1 or min(spatial) < 1:
        raise ArgumentError(
            f"input: pooling needs at least one channel and one element along every spatial "
            f"axis (only the batch may be empty, as in PyTorch), got shape {shape} read as "
            f"(N, C, *spatial)"
        )
    kernel = int_tuple("kernel_size", kernel_size, d)
    stride = kernel if _default_stride(stride) else int_tuple("stride", stride, d)
    dilation = int_tuple("dilation", dilation, d)
    pads = padding_pairs(
        "padding", padding, d, spatial=spatial, kernel=kernel, stride=stride, dilation=dilation
    )
    for (before, after), k, dil in zip(pads, kernel, dilation):
        span = dil * (k - 1) + 1
        if before >= span or after >= span:
            raise ArgumentError(
                f"padding: must be smaller than the pooling window on each side (window span "
                f"{span} = dilation*(kernel-1)+1 for kernel {tuple(kernel)}, dilation "
                f"{tuple(dilation)}), got {padding!r}"
            )
    out = tuple(
        output_size(n, k, s, dil, b, a, mode)
        for n, k, s, dil, (b, a) in zip(spatial, kernel, stride, dilation, pads)
    )
    if min(out) < 1:
        span = tuple(dil * (k - 1) + 1 for k, dil in zip(kernel, dilation))
        padded = tuple(n + b + a for n, (b, a) in zip(spatial, pads))
        raise ArgumentError(
            f"kernel_size: the pooling window {kernel} (span {span} with dilation {dilation}) "
            f"is larger than the padded input {padded} (input {tuple(spatial)}, padding "
            f"{pads}) along some axis, so the output would be empty; use a smaller window or "
            f"more padding"
        )
    applied = tuple(
        (b, a + max((o - 1) * s + dil * (k - 1) + 1 - (n + b + a), 0))
        for n, k, s, dil, (b, a), o in zip(spatial, kernel, stride, dilation, pads, out)
    )
    count, divisor, indices = None, None, False
    if kind == "avg":
        count = "padded" if flag("count_include_pad", count_include_pad) else "input"
        if is_same(padding):  # TensorFlow never counts SAME padding
            count = "input"
        divisor = divisor_arg(divisor_override)
    else:
        indices = flag("return_indices", return_indices)
    return PoolCall(
        kind, shape[0], shape[1], tuple(spatial), kernel, stride, pads, dilation, mode, out,
        applied, count, dtype, device, channels_last, divisor, indices, integer,
    )  # fmt: skip


def divisor_arg(divisor_override: Any) -> int | None:
    """PyTorch's ``divisor_override``: None, or a non-zero int every window divides by."""
    if divisor_override is None:
        return None
    if not _is_int(divisor_override):
        raise ArrayTypeError(
            f"divisor_override: expected None or a non-zero int, got {divisor_override!r}"
        )
    if divisor_override == 0:
        raise ArgumentError("divisor_override: must not be zero (every window divides by it)")
    return int(divisor_override)


# -- adaptive (and global) pooling -----------------------------------------------------------------


@dataclass(frozen=True)
class AdaptiveCall(_Spatial):
    """One adaptive max or average pooling of an ``(n, c, *size)`` input to ``(n, c, *out)``:
    output ``i`` of ``o`` along an axis of size ``n`` covers ``[floor(i*n/o),
    ceil((i+1)*n/o))`` (PyTorch's windows). Global pooling is the case ``out == (1, ...)``."""

    kind: str
    n: int
    c: int
    size: tuple[int, ...]
    out: tuple[int, ...]
    dtype: Any = None
    device: Any = None
    channels_last: bool = False
    indices: bool = False

    @property
    def op(self) -> str:
        return "adaptive_max_pool_with_indices" if self.indices else f"adaptive_{self.kind}_pool"

    def windows(self, axis: int) -> list[tuple[int, int]]:
        """The ``(start, stop)`` of every output's window along spatial axis ``axis``."""
        n, o = self.size[axis], self.out[axis]
        return [((i * n) // o, -(-((i + 1) * n) // o)) for i in range(o)]


def adaptive_call(
    kind: str,
    input_shape: Sequence[int],
    output_size: Any,
    *,
    dtype: Any = None,
    device: Any = None,
    channels_last: bool = False,
    return_indices: Any = False,
) -> AdaptiveCall:
    """Check an adaptive pooling of an ``(N, C, *size)`` input to ``output_size`` (an int or
    one entry per axis, each an int >= 1 or None: keep the input's size) and describe it
    (``return_indices``, max pooling only: the flat index of every maximum too)."""
    shape = tuple(input_shape)
    d = len(shape) - 2
    spatial = shape[2:]
    if min(spatial) < 1:
        raise ArgumentError(
            f"input: every spatial size must be at least 1 for adaptive pooling, got shape {shape}"
        )
    if _is_int(output_size):
        values: tuple = (output_size,) * d
    elif isinstance(output_size, Sequence) and not isinstance(output_size, str):
        values = tuple(output_size)
        if len(values) != d:  # torch refuses (o,) here too, unlike for kernel sizes
            raise ArgumentError(
                f"output_size: expected an int or {d} ints (one per spatial axis), got "
                f"{output_size!r}"
            )
    else:
        raise ArrayTypeError(
            f"output_size: expected an int or {d} ints (None keeps an axis), got {output_size!r}"
        )
    out = []
    for v, n in zip(values, spatial):
        if v is None:
            out.append(int(n))
        elif not _is_int(v) or v < 1:
            raise ArgumentError(
                f"output_size: every entry must be an int of at least 1 (or None), got "
                f"{output_size!r}"
            )
        else:
            out.append(int(v))
    indices = kind == "max" and flag("return_indices", return_indices)
    return AdaptiveCall(
        kind, shape[0], shape[1], tuple(spatial), tuple(out), dtype, device, channels_last,
        indices,
    )  # fmt: skip


# -- elementwise ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ElementwiseCall:
    """One elementwise op (``op``: "relu", "sigmoid", "tanh") on an array of ``shape``."""

    op: str
    shape: tuple[int, ...]
    dtype: Any = None
    device: Any = None

    @property
    def out_shape(self) -> tuple[int, ...]:
        return self.shape


# -- padding with a mode ---------------------------------------------------------------------------

#: padding modes: PyTorch's ``F.pad`` names (a convolution's ``padding_mode="zeros"`` is
#: "constant" with 0)
PAD_MODES = ("constant", "reflect", "replicate", "circular")


@dataclass(frozen=True)
class PadCall(_Spatial):
    """Padding the spatial axes of an ``(n, c, *size)`` array by ``padding`` (before, after)
    pairs: "constant" (``value``), "reflect" (mirrored without repeating the edge, as
    ``numpy.pad``'s "reflect"), "replicate" (the edge repeated, NumPy's "edge") or
    "circular" (wrapped around, NumPy's "wrap")."""

    mode: str
    n: int
    c: int
    size: tuple[int, ...]
    padding: Pads
    value: float = 0.0
    dtype: Any = None
    device: Any = None

    op = "pad"

    @property
    def out(self) -> tuple[int, ...]:
        return tuple(n + b + a for n, (b, a) in zip(self.size, self.padding))


def pad_call(
    input_shape: Sequence[int],
    padding: Pads,
    mode: str,
    value: float = 0.0,
    *,
    name: str = "padding_mode",
    dtype: Any = None,
    device: Any = None,
) -> PadCall:
    """Check a padding of an ``(N, C, *size)`` array by (before, after) ``padding`` pairs
    with ``mode`` (named ``name`` in errors) and describe it. "reflect" needs each pad
    smaller than the axis, "circular" at most the axis (PyTorch's limits; larger pads would
    reflect or wrap more than once), "replicate" a non-empty axis."""
    shape = tuple(input_shape)
    if mode not in PAD_MODES:
        raise ArgumentError(f"{name}: expected one of {PAD_MODES}, got {mode!r}")
    spatial = shape[2:]
    for n, (before, after) in zip(spatial, padding):
        if before < 0 or after < 0:
            raise ArgumentError(f"padding: must not be negative, got {padding}")
        if mode == "reflect" and max(before, after) >= n:
            raise ArgumentError(
                f"{name}: 'reflect' needs every pad smaller than its axis (the edge is not "
                f"repeated), got padding {tuple(padding)} for spatial size {tuple(spatial)}"
            )
        if mode == "circular" and max(before, after) > n:
            raise ArgumentError(
                f"{name}: 'circular' needs every pad at most its axis (it wraps around "
                f"once), got padding {tuple(padding)} for spatial size {tuple(spatial)}"
            )
        if mode == "replicate" and n < 1 and (before or after):
            raise ArgumentError(
                f"{name}: 'replicate' needs a non-empty axis to repeat, got spatial size "
                f"{tuple(spatial)}"
            )
    return PadCall(mode, shape[0], shape[1], tuple(spatial), tuple(padding), value, dtype, device)


# -- nearest-neighbour resizing --------------------------------------------------------------------


@dataclass(frozen=True)
class NearestCall(_Spatial):
    """One nearest-neighbour resizing of an ``(n, c, *size)`` array to ``(n, c, *out)``:
    output position ``j`` of an axis reads input position ``index(j)``, PyTorch's rules:
    ``mode="nearest"`` ``min(floor(j * scale), size - 1)`` in float32, ``"nearest-exact"``
    (``exact``) ``min(floor((j + 0.5) * scale), size - 1)``, with ``scale`` ``1 /
    scale_factor`` where a scale factor is given, else ``size / out``."""

    n: int
    c: int
    size: tuple[int, ...]
    out: tuple[int, ...]
    scales: tuple[float | None, ...]
    exact: bool = False
    dtype: Any = None
    device: Any = None

    op = "interpolate"

    def index(self, axis: int) -> Any:
        """The input position each output position of spatial axis ``axis`` reads (a NumPy
        int64 array: host-side, as the rule is float32 arithmetic on positions)."""
        import numpy as np

        n, m, s = self.size[axis], self.out[axis], self.scales[axis]
        j = np.arange(m, dtype=np.int64)
        if m == n:
            return j
        if m == 2 * n:  # both rules
            return j >> 1
        scale = np.float32(1.0 / s) if s is not None else np.float32(n) / np.float32(m)
        at = j.astype(np.float32) + (np.float32(0.5) if self.exact else np.float32(0.0))
        return np.minimum(np.floor(at * scale).astype(np.int64), n - 1)


def positive_sizes(name: str, value: Any, d: int, kind: type) -> tuple:
    """``value`` (one number, or one per spatial axis) as a ``d``-tuple of positive finite
    numbers of ``kind`` (int for ``size``, float for ``scale_factor``)."""
    items = tuple(value) if isinstance(value, list | tuple) else (value,) * d
    ok = len(items) == d and all(
        not isinstance(v, bool)
        and isinstance(v, numbers.Integral if kind is int else numbers.Real)
        and v > 0
        and math.isfinite(v)
        for v in items
    )
    if not ok:
        what = "int" if kind is int else "number"
        raise ArgumentError(
            f"{name}: expected a positive {what} or {d} of them (one per spatial axis of the "
            f"input), got {value!r}"
        )
    return tuple(kind(v) for v in items)


def nearest_call(
    input_shape: Sequence[int],
    size: Any = None,
    scale_factor: Any = None,
    recompute_scale_factor: bool = False,
    exact: bool = False,
    *,
    dtype: Any = None,
    device: Any = None,
) -> NearestCall:
    """Check a nearest-neighbour resizing of an ``(N, C, *spatial)`` array to ``size`` or by
    ``scale_factor`` (exactly one; PyTorch's rules: the output is ``floor(n *
    scale_factor)``, indexed by ``1 / scale_factor`` unless ``recompute_scale_factor``)."""
    shape = tuple(int(s) for s in input_shape)
    d = len(shape) - 2
    if (size is None) == (scale_factor is None):
        raise ArgumentError(
            f"size, scale_factor: give exactly one of them, got size={size!r} and "
            f"scale_factor={scale_factor!r}"
        )
    spatial = shape[2:]
    if size is not None:
        out = positive_sizes("size", size, d, int)
        scales: tuple = (None,) * d
    else:
        factors = positive_sizes("scale_factor", scale_factor, d, float)
        out = tuple(int(math.floor(n * f)) for n, f in zip(spatial, factors))
        scales = (None,) * d if recompute_scale_factor else factors
    if min(spatial) < 1 or min(out) < 1:
        raise ArgumentError(
            f"input: nearest-neighbour resizing needs a non-empty input and output along "
            f"every spatial axis, got input shape {shape} and output size {out}"
        )
    return NearestCall(shape[0], shape[1], spatial, out, scales, exact, dtype, device)


# -- max unpooling ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class UnpoolCall(_Spatial):
    """One max unpooling (PyTorch's ``max_unpool``, ONNX's MaxUnpool) of an ``(n, c, *size)``
    input with indices of the same shape to ``(n, c, *out)``: every input value goes to the
    flat position its index names within its ``(n, c)`` plane of the output (the rest is 0).
    ``kernel``, ``stride`` and ``padding`` are those of the max pooling being undone; they
    set the default output size ``(size - 1)*stride - before - after + kernel``."""

    n: int
    c: int
    size: tuple[int, ...]
    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    padding: Pads
    out: tuple[int, ...]
    dtype: Any = None
    device: Any = None

    op = "max_unpool"


def unpool_call(
    input_shape: Sequence[int],
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    output_size: Any = None,
    *,
    dtype: Any = None,
    device: Any = None,
) -> UnpoolCall:
    """Check a max unpooling of an ``(N, C, *size)`` input and describe it. ``output_size``
    (``d`` ints or a whole shape) must lie strictly within one stride of the default size,
    as PyTorch requires (the sizes a max pooling with that stride maps to ``size``)."""
    shape = tuple(input_shape)
    d = len(shape) - 2
    spatial = tuple(shape[2:])
    kernel = int_tuple("kernel_size", kernel_size, d)
    stride = kernel if _default_stride(stride) else int_tuple("stride", stride, d)
    pads = padding_pairs("padding", padding, d, strings=False)
    default = tuple(
        (n - 1) * s - b - a + k for n, s, (b, a), k in zip(spatial, stride, pads, kernel)
    )
    if output_size is None:
        out = default
    else:
        out = spatial_sizes("output_size", output_size, d, minimum=0)
        for o, dflt, s in zip(out, default, stride):
            if not dflt - s < o < dflt + s:
                raise ArgumentError(
                    f"output_size: {tuple(out)} is not a size that max pooling with kernel "
                    f"{kernel}, stride {stride} and padding {pads} maps to {spatial}; each "
                    f"entry must lie strictly between default - stride and default + stride "
                    f"(default {default})"
                )
    if min(out) < 1:
        raise ArgumentError(
            f"output_size: the output {tuple(out)} would be empty (input {spatial}, kernel "
            f"{kernel}, stride {stride}, padding {pads})"
        )
    return UnpoolCall(shape[0], shape[1], spatial, kernel, stride, pads, tuple(out), dtype, device)


# -- power-average (Lp) pooling --------------------------------------------------------------------

#: how Lp pooling treats signs and partial windows: "torch" (``F.lp_pool*d``:
#: ``(avg_pool(x**p) * prod(kernel))**(1/p)``) or "onnx" (LpPool: ``sum(|x|**p)**(1/p)``)
LP_CONVENTIONS = ("torch", "onnx")


@dataclass(frozen=True)
class LpPoolCall:
    """One power-average pooling: ``(sum over the window of x**p)**(1/p)`` for a window
    described by ``pool`` (an average pooling call: the window, padding, rounding and the
    count that PyTorch's formula divides by and multiplies back). ``convention``: "torch"
    raises ``x`` itself to ``p`` and scales partial windows (past the input, with
    ``ceil_mode``) by ``prod(kernel) / count`` as ``F.lp_pool*d`` does; "onnx" raises
    ``|x|`` and sums. ``p`` may be ``inf`` (the maximum of ``|x|``) or ``-inf`` (its
    minimum), as PyTorch allows."""

    pool: PoolCall
    p: float
    convention: str = "torch"

    op = "lp_pool"

    @property
    def d(self) -> int:
        return self.pool.d

    @property
    def out(self) -> tuple[int, ...]:
        return self.pool.out

    @property
    def out_shape(self) -> tuple[int, ...]:
        return self.pool.out_shape

    @property
    def dtype(self) -> Any:
        return self.pool.dtype

    @property
    def device(self) -> Any:
        return self.pool.device

    def __getattr__(self, name: str) -> Any:  # the window's fields, for messages and kernels
        if name in ("kernel", "stride", "padding", "dilation", "mode", "size", "n", "c"):
            return getattr(self.pool, name)
        raise AttributeError(name)


def lp_norm(norm_type: Any) -> float:
    """The ``p`` of Lp pooling: a positive real number, or ``inf``/``-inf``."""
    if isinstance(norm_type, bool) or not isinstance(norm_type, (int, float, numbers.Real)):
        raise ArrayTypeError(f"norm_type: expected a positive number or inf, got {norm_type!r}")
    p = float(norm_type)
    if math.isnan(p) or p == 0 or (p < 0 and not math.isinf(p)):
        raise ArgumentError(
            f"norm_type: expected a positive number, inf or -inf, got {norm_type!r}"
        )
    return p


# -- fractional max pooling ------------------------------------------------------------------------


@dataclass(frozen=True)
class FractionalCall(_Spatial):
    """One fractional max pooling (Graham, 2014; PyTorch's ``fractional_max_pool2d/3d``) of
    an ``(n, c, *size)`` input to ``(n, c, *out)`` with windows of ``kernel``: along an axis
    of size ``n``, output ``i < out - 1`` of plane ``(b, ch)`` starts at
    ``int((i + u)*alpha) - int(u*alpha)`` with ``alpha = (n - kernel)/(out - 1)`` and ``u``
    that plane's random sample for the axis; the last output starts at ``n - kernel``.
    ``indices``: the flat index of each maximum in its plane is returned too."""

    n: int
    c: int
    size: tuple[int, ...]
    kernel: tuple[int, ...]
    out: tuple[int, ...]
    indices: bool = False
    dtype: Any = None
    device: Any = None

    op = "fractional_max_pool"

    @property
    def samples_shape(self) -> tuple[int, ...]:
        """The random samples: one per plane and spatial axis, in ``[0, 1)``."""
        return (self.n, self.c, self.d)


def fractional_call(
    input_shape: Sequence[int],
    kernel_size: Any,
    output_size: Any = None,
    output_ratio: Any = None,
    return_indices: Any = False,
    *,
    dtype: Any = None,
    device: Any = None,
) -> FractionalCall:
    """Check a fractional max pooling of an ``(N, C, *size)`` input: ``output_size`` (ints)
    or ``output_ratio`` (numbers in (0, 1]: ``int(size * ratio)``, as PyTorch), exactly one
    of them; every window must fit, ``out + kernel - 1 <= size``."""
    shape = tuple(input_shape)
    d = len(shape) - 2
    spatial = tuple(shape[2:])
    if shape[1] < 1 or min(spatial) < 1:
        raise ArgumentError(
            f"input: pooling needs at least one channel and one element along every spatial "
            f"axis (only the batch may be empty), got shape {shape} read as (N, C, *spatial)"
        )
    kernel = int_tuple("kernel_size", kernel_size, d)
    if (output_size is None) == (output_ratio is None):
        raise ArgumentError(
            f"output_size: give exactly one of output_size and output_ratio, got "
            f"output_size={output_size!r}, output_ratio={output_ratio!r}"
        )
    if output_size is not None:
        out = spatial_sizes("output_size", output_size, d)
    else:
        ratios = output_ratio
        if not (isinstance(ratios, Sequence) and not isinstance(ratios, str)):
            ratios = (ratios,) * d
        ratios = tuple(ratios) * d if len(ratios) == 1 else tuple(ratios)
        if len(ratios) != d or not all(
            isinstance(r, numbers.Real) and not isinstance(r, bool) and 0 < r <= 1 for r in ratios
        ):
            raise ArgumentError(
                f"output_ratio: expected a number in (0, 1] or {d} of them, got {output_ratio!r}"
            )
        out = tuple(int(n * r) for n, r in zip(spatial, ratios))
        if min(out) < 1:
            raise ArgumentError(
                f"output_ratio: {output_ratio!r} of the input {spatial} gives an empty output {out}"
            )
    for n, k, o in zip(spatial, kernel, out):
        if o + k - 1 > n:
            raise ArgumentError(
                f"output_size: {out} windows of kernel {kernel} do not fit the input "
                f"{spatial}; each axis needs output + kernel - 1 <= input"
            )
    indices = flag("return_indices", return_indices)
    return FractionalCall(shape[0], shape[1], spatial, kernel, tuple(out), indices, dtype, device)


# -- deformable convolution ------------------------------------------------------------------------


@dataclass(frozen=True)
class DeformCall(_Spatial):
    """One deformable convolution (torchvision's ``deform_conv2d``, ONNX's DeformConv) of an
    ``(n, c_in, *size)`` input with a ``(c_out, c_in/groups, *kernel)`` weight: each kernel
    tap of each output samples the input bilinearly at its regular position plus a learned
    offset (``offset``: ``(n, 2*offset_groups*K, *out)``, ``(dy, dx)`` pairs for the K taps
    in row-major order, per offset group of channels), times ``mask`` (``(n,
    offset_groups*K, *out)``) when given; samples outside the input read 0."""

    n: int
    c_in: int
    c_out: int
    groups: int
    offset_groups: int
    size: tuple[int, ...]
    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    padding: Pads
    dilation: tuple[int, ...]
    out: tuple[int, ...]
    mask: bool = False
    bias: bool = False
    dtype: Any = None
    device: Any = None

    op = "deform_conv"

    @property
    def out_shape(self) -> tuple[int, ...]:
        return (self.n, self.c_out) + self.out


def deform_call(
    input_shape: Sequence[int],
    offset_shape: Sequence[int],
    weight_shape: Sequence[int],
    bias_shape: Sequence[int] | None = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    mask_shape: Sequence[int] | None = None,
    groups: Any = 1,
    *,
    dtype: Any = None,
    device: Any = None,
) -> DeformCall:
    """Check a 2-D deformable convolution and describe it; the offset groups are read from
    the offset's channels (``2 * offset_groups * kh * kw``)."""
    base = conv_call(
        input_shape, weight_shape, bias_shape, stride, padding, dilation, groups,
        dtype=dtype, device=device,
    )  # fmt: skip
    k = math.prod(base.kernel)
    os_ = tuple(offset_shape)
    expected_tail = base.out
    if len(os_) != 4 or os_[0] != base.n or os_[2:] != expected_tail or os_[1] % (2 * k):
        raise ArgumentError(
            f"offset: expected shape ({base.n}, 2*offset_groups*{k}, *{expected_tail}) (a "
            f"(dy, dx) pair per kernel tap and output position, per offset group), got "
            f"{os_}"
        )
    offset_groups = os_[1] // (2 * k)
    if offset_groups < 1 or base.c_in % offset_groups:
        raise ArgumentError(
            f"offset: {offset_groups} offset groups (from its {os_[1]} channels) must "
            f"divide the input's {base.c_in} channels"
        )
    if mask_shape is not None:
        ms = tuple(mask_shape)
        want = (base.n, offset_groups * k) + expected_tail
        if ms != want:
            raise ArgumentError(
                f"mask: expected shape {want} (one factor per kernel tap and output "
                f"position, per offset group), got {ms}"
            )
    return DeformCall(
        base.n, base.c_in, base.c_out, base.groups, offset_groups, base.size, base.kernel,
        base.stride, base.padding, base.dilation, base.out, mask_shape is not None,
        bias_shape is not None, dtype, device,
    )  # fmt: skip
