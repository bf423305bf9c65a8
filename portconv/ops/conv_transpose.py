"""Transposed convolution, written once against the array API standard.

Public ops (names, argument orders and semantics of ``torch.nn.functional``)::

    conv_transpose1d/2d/3d(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                           groups=1, dilation=1)
    conv_transpose(...)            # the same for 1 to 3 spatial dimensions (from the weight)

The transposed convolution is the gradient of convolution with respect to its input: for the
convolution ``conv(z, weight, stride=s, padding=p, dilation=d, groups=g)``,
``conv_transpose(x, weight, ...)`` with the same arguments is its adjoint, so ``weight`` has
the convolution's shape ``(C_in, C_out/groups, *kernel)`` seen from the transposed side (its
first axis is the transposed convolution's input channels). Along each spatial axis the output
size is ``(n - 1)*s - before - after + d*(k - 1) + output_padding + 1``.

The generic path (see :mod:`portconv.ops.grad`) multiplies the input with the transposed
weight into a column buffer and puts every kernel offset's column back where the convolution
would have taken it from (col2im), then crops the padding. An adapter may offer a native path
under the op name ``"conv_transpose"`` (arguments: ``stride``, ``padding`` as (before, after)
pairs, ``output_padding``, ``dilation``, ``groups``, ``dtype``); none does yet.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

from ..errors import ArgumentError, ArrayTypeError
from ._args import SPATIAL_NAMES, _is_int, int_tuple, itemsize, refuse_huge, whole_array_budget
from ._common import prepare, require_float, require_ndim, run_path
from .grad import conv_transpose_cf

__all__ = ["conv_transpose", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"]


def transpose_padding(padding: Any, d: int) -> tuple[tuple[int, int], ...]:
    """An int, ``d`` ints or ``d`` (before, after) pairs (strings such as "same" have no
    single meaning for a transposed convolution and are refused)."""
    if _is_int(padding):
        pairs = ((int(padding), int(padding)),) * d
    elif isinstance(padding, Sequence) and not isinstance(padding, str) and len(padding) == d:
        if all(_is_int(p) for p in padding):
            pairs = tuple((int(p), int(p)) for p in padding)
        elif all(
            isinstance(p, Sequence) and len(p) == 2 and all(_is_int(v) for v in p) for p in padding
        ):
            pairs = tuple((int(p[0]), int(p[1])) for p in padding)
        else:
            pairs = None
    else:
        pairs = None
    if pairs is None:
        raise ArgumentError(
            f"padding: expected an int, {d} ints or {d} (before, after) pairs for a transposed "
            f"convolution, got {padding!r}"
        )
    if any(v < 0 for pair in pairs for v in pair):
        raise ArgumentError(f"padding: must not be negative, got {padding!r}")
    return pairs


def transpose_output_size(n, k, s, dil, pads, output_padding) -> tuple[int, ...]:
    return tuple(
        (ni - 1) * si - b - a + di * (ki - 1) + oi + 1
        for ni, ki, si, di, (b, a), oi in zip(n, k, s, dil, pads, output_padding)
    )


def _conv_transpose(
    input, weight, bias, stride, padding, output_padding, groups, dilation, path, d
):
    be, xp, (x, w, b) = prepare(input, weight, bias, names=("input", "weight", "bias"))
    if d is None:
        require_ndim("weight", w, (3, 4, 5), "(C_in, C_out/groups, *kernel)")
        d = w.ndim - 2
    names = ", ".join(SPATIAL_NAMES[d])
    kernel_names = ", ".join("k" + s for s in SPATIAL_NAMES[d])
    require_ndim("weight", w, (d + 2,), f"(C_in, C_out/groups, {kernel_names})")
    require_ndim("input", x, (d + 1, d + 2), f"(N, C_in, {names}) or unbatched (C_in, {names})")
    require_float(xp, "input", x)
    for name, a in (("weight", w), ("bias", b)):
        if a is not None and a.dtype != x.dtype:
            require_float(xp, name, a)
            raise ArrayTypeError(
                f"{name}: dtype {a.dtype} differs from the input's dtype {x.dtype}; cast one "
                f"of them so that input, weight and bias share one floating dtype"
            )
    batched = x.ndim == d + 2
    if not batched:
        x = xp.expand_dims(x, axis=0)
    if not _is_int(groups) or groups < 1:
        raise ArgumentError(f"groups: expected a positive int, got {groups!r}")
    groups = int(groups)
    c_in = x.shape[1]
    if w.shape[0] != c_in:
        raise ArgumentError(
            f"weight: expected {c_in} input channels along its first axis (weight shape "
            f"(C_in, C_out/groups, *kernel)), got shape {tuple(w.shape)} for input shape "
            f"{tuple(x.shape)}"
        )
    if c_in % groups:
        raise ArgumentError(f"groups: {groups} does not divide the input's {c_in} channels")
    c_out = w.shape[1] * groups
    if b is not None and (b.ndim != 1 or b.shape[0] != c_out):
        raise ArgumentError(
            f"bias: expected shape ({c_out},), one value per output channel, got shape "
            f"{tuple(b.shape)}"
        )
    kernel = tuple(w.shape[2:])
    if min(kernel) < 1 or w.shape[1] < 1:
        raise ArgumentError(f"weight: every dimension must be at least 1, got {tuple(w.shape)}")
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
    pads = transpose_padding(padding, d)
    spatial = tuple(x.shape[2:])
    out = transpose_output_size(spatial, kernel, stride, dilation, pads, output_padding)
    if min(out) < 1:
        raise ArgumentError(
            f"padding: the output size {out} would be empty (input {spatial}, kernel {kernel}, "
            f"stride {stride}, dilation {dilation}, padding {pads}); pad less"
        )
    canvas = tuple(o + b + a for o, (b, a) in zip(out, pads))
    refuse_huge(
        "stride",
        f"the result before cropping the padding {(x.shape[0], c_out) + canvas} (stride "
        f"{stride}, dilation {dilation}, output_padding {output_padding})",
        max(x.shape[0], 1) * max(c_out, 1) * math.prod(canvas) * itemsize(xp, x.dtype),
        whole_array_budget(be),
    )
    if x.shape[0] == 0:
        y = xp.zeros((0, c_out) + out, dtype=x.dtype, device=be.device)
    else:
        y = run_path(
            be,
            "conv_transpose",
            path,
            (x, w, b),
            functools.partial(_generic, xp, be.device),
            stride=stride,
            padding=pads,
            output_padding=output_padding,
            dilation=dilation,
            groups=groups,
            dtype=x.dtype,
        )
    if not batched:
        y = y[0, ...]
    return be.adapter.from_standard(y, input)


def _generic(xp, device, x, w, b, *, stride, padding, output_padding, dilation, groups, **_):
    d = len(stride)
    canvas = tuple(
        (n - 1) * s + di * (k - 1) + 1 + op
        for n, s, di, k, op in zip(x.shape[2:], stride, dilation, w.shape[2:], output_padding)
    )
    y = conv_transpose_cf(xp, device, x, w, stride, padding, dilation, groups, canvas)
    if b is not None:
        y = y + xp.reshape(b, (b.shape[0],) + (1,) * d)
    return y


def conv_transpose(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
    *,
    path: str | None = None,
) -> Any:
    """Transposed convolution ("deconvolution") over 1 to 3 spatial dimensions, as
    ``torch.nn.functional.conv_transpose1d/2d/3d``.

    Shapes: input ``(N, C_in, *n)`` or unbatched ``(C_in, *n)``; weight ``(C_in,
    C_out/groups, *kernel)``; bias ``(C_out,)``; result ``(N, C_out, *out)`` with
    ``out = (n - 1)*stride - before - after + dilation*(kernel - 1) + output_padding + 1``.
    ``padding``: an int, one int per axis or one (before, after) pair per axis; it removes
    that much from the border of the full result (the padding of the convolution this one is
    the gradient of). ``output_padding`` adds positions at the end of each axis (smaller than
    the stride or the dilation). ``path``: None, "auto", "generic" or "native"."""
    return _conv_transpose(
        input, weight, bias, stride, padding, output_padding, groups, dilation, path, None
    )


def _fixed(d: int):
    def op(
        input: Any,
        weight: Any,
        bias: Any = None,
        stride: Any = 1,
        padding: Any = 0,
        output_padding: Any = 0,
        groups: int = 1,
        dilation: Any = 1,
        *,
        path: str | None = None,
    ) -> Any:
        return _conv_transpose(
            input, weight, bias, stride, padding, output_padding, groups, dilation, path, d
        )

    names = ", ".join(SPATIAL_NAMES[d])
    op.__name__ = op.__qualname__ = f"conv_transpose{d}d"
    op.__module__ = __name__
    op.__doc__ = (
        f"{d}-D transposed convolution: :func:`conv_transpose` for input (N, C_in, {names}) "
        f"or unbatched (C_in, {names}) (same arguments as "
        f"``torch.nn.functional.conv_transpose{d}d``, plus ``path``)."
    )
    return op


conv_transpose1d = _fixed(1)
conv_transpose2d = _fixed(2)
conv_transpose3d = _fixed(3)
