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


def _groups(groups: Any) -> int:
    if type(groups) is int and groups >= 1:
        return groups
    if not _is_int(groups):
        raise ArrayTypeError(f"groups: expected a positive int, got {groups!r}")
    if groups < 1:
        raise ArgumentError(f"groups: expected a positive int, got {groups!r}")
    return int(groups)


# -- convolution -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConvCall:
    """One convolution (``op="conv"``) or transposed convolution (``op="conv_transpose"``).

    Arrays reach the kernels channels-first and batched: input ``(n, c_in, *size)``, weight
    ``(c_out, c_in/groups, *kernel)`` for a convolution and ``(c_in, c_out/groups, *kernel)``
    for a transposed one (the weight of the convolution it is the adjoint of), bias
    ``(c_out,)`` when ``bias``; the result is ``(n, c_out, *out)``. ``padding`` holds the
    (before, after) pairs applied (SAME already resolved); for a transposed convolution it is
    what is cropped from its full result. ``channels_last`` records the caller's layout (the
    front end permutes; kernels see channels first)."""

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

    @property
    def d(self) -> int:
        """The number of spatial dimensions."""
        return len(self.size)

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
        out, bias_shape is not None, (), dtype, device, channels_last,
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
) -> ConvCall:
    """Check a transposed convolution of an ``(N, C_in, *size)`` input with a ``(C_in,
    C_out/groups, *kernel)`` weight (and a ``(C_out,)`` bias) and describe it."""
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
    for op, s, dil in zip(output_padding, stride, dilation):
        if op >= s and op >= dil:
            raise ArgumentError(
                f"output_padding: must be smaller than the stride or the dilation on each "
                f"axis, got output_padding={output_padding}, stride={stride}, "
                f"dilation={dilation}"
            )
    pads = padding_pairs("padding", padding, d, strings=False)
    spatial = tuple(xs[2:])
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


# -- pooling ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PoolCall:
    """One max (``kind="max"``) or average (``kind="avg"``) pooling of an ``(n, c, *size)``
    input to ``(n, c, *out)``.

    ``padding``: the (before, after) pairs asked for (SAME resolved); ``applied``: those plus,
    at the end, what the last window of a rounded-up output (``mode`` "ceil" or "full")
    reaches past the padded input: the border the kernels actually build. ``count`` (average
    pooling): "padded" divides by the window's positions inside the padded input, "input" by
    its positions inside the input."""

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

    @property
    def op(self) -> str:
        return f"{self.kind}_pool"

    @property
    def d(self) -> int:
        return len(self.size)

    @property
    def out_shape(self) -> tuple[int, ...]:
        return (self.n, self.c) + self.out

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
) -> PoolCall:
    """Check a pooling of an ``(N, C, *size)`` input and describe it (``mode``: see
    :func:`pool_mode`; ``count_include_pad`` is read for average pooling only)."""
    shape = tuple(input_shape)
    d = len(shape) - 2
    spatial = shape[2:]
    kernel = int_tuple("kernel_size", kernel_size, d)
    stride = kernel if stride is None else int_tuple("stride", stride, d)
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
    count = None
    if kind == "avg":
        count = "padded" if flag("count_include_pad", count_include_pad) else "input"
        if is_same(padding):  # TensorFlow never counts SAME padding
            count = "input"
    return PoolCall(
        kind, shape[0], shape[1], tuple(spatial), kernel, stride, pads, dilation, mode, out,
        applied, count, dtype, device, channels_last,
    )  # fmt: skip


# -- adaptive (and global) pooling -----------------------------------------------------------------


@dataclass(frozen=True)
class AdaptiveCall:
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

    @property
    def op(self) -> str:
        return f"adaptive_{self.kind}_pool"

    @property
    def d(self) -> int:
        return len(self.size)

    @property
    def out_shape(self) -> tuple[int, ...]:
        return (self.n, self.c) + self.out

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
) -> AdaptiveCall:
    """Check an adaptive pooling of an ``(N, C, *size)`` input to ``output_size`` (an int or
    one entry per axis, each an int >= 1 or None: keep the input's size) and describe it."""
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
    return AdaptiveCall(
        kind, shape[0], shape[1], tuple(spatial), tuple(out), dtype, device, channels_last
    )


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
