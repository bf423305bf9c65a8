"""Image resizing on host NumPy arrays (the book's ``transforms.Resize`` for 224x224 AlexNet,
VGG and NiN, 96x96 GoogLeNet and ResNet inputs)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._config import memory_budget
from ..errors import ArgumentError, ArrayTypeError, describe_type
from ..ops._args import refuse_huge, whole_array_limit

__all__ = ["resize"]


def _size(size: Any, name: str = "size") -> tuple[int, int]:
    """``size`` (a positive int, or a pair of them) as ``(height, width)``, or an error
    naming ``name``: never a bool or a float (``2.5`` would be cut to 2 silently)."""

    def whole(v: Any) -> bool:
        return isinstance(v, numbers.Integral) and not isinstance(v, bool)

    if whole(size):
        size = (int(size), int(size))
    elif isinstance(size, (str, bytes)) or not isinstance(size, Sequence) or len(size) != 2:
        raise ArrayTypeError(
            f"{name}: expected an int or a (height, width) pair of ints, got "
            f"{describe_type(size)}: {size!r}"
        )
    if not all(whole(v) for v in size):
        raise ArrayTypeError(f"{name}: expected ints, got {size!r}")
    h, w = (int(v) for v in size)
    if h < 1 or w < 1:
        raise ArgumentError(f"{name}: expected positive sizes, got {size!r}")
    return h, w


def _axis_weights(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each output index: the two input indices it reads and the weight of the second,
    with half-pixel centres (``align_corners=False``)."""
    scale = n_in / n_out
    src = (np.arange(n_out, dtype=np.float64) + 0.5) * scale - 0.5
    src = np.maximum(src, 0.0)  # before the first centre: the first pixel
    lo = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    hi = np.minimum(lo + 1, n_in - 1)
    frac = src - lo
    return lo, hi, frac


def resize(images: Any, size: Any) -> np.ndarray:
    """Bilinear resizing of the last two axes of ``images`` (``(..., H, W)``: one image, a
    batch ``(N, H, W)`` or ``(N, C, H, W)``) to ``size`` (an int for a square, or ``(h, w)``).

    The rule is PyTorch's ``F.interpolate(mode="bilinear", align_corners=False)`` (and
    torchvision's ``Resize`` on tensors without antialiasing): output pixel ``i`` samples the
    input at ``(i + 0.5) * in / out - 0.5``, clamped to the edge pixels, interpolating linearly
    between the two neighbours on each axis. Downscaling does not antialias. Integer inputs
    give float32; floating inputs keep their dtype. Computed in float64, a few images at a
    time within ``portconv.config(memory_budget=...)``; a result beyond the whole-array limit
    is refused (naming ``size``) before anything is allocated.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import data
    >>> data.resize(np.array([[0.0, 1.0], [2.0, 3.0]]), 4)[0]
    array([0.  , 0.25, 0.75, 1.  ])
    """
    a = np.asarray(images)
    if a.ndim < 2:
        raise ArgumentError(f"images: expected at least 2 dimensions (..., H, W), got {a.shape}")
    if a.dtype.kind not in "biuf":
        raise ArgumentError(f"images: expected a real-valued array, got dtype {a.dtype}")
    out_dtype = a.dtype if a.dtype.kind == "f" else np.dtype(np.float32)
    h, w = _size(size)
    lead = a.shape[:-2]
    count = math.prod(lead)
    refuse_huge(
        "size", f"{count} image(s) resized to {h}x{w}", count * h * w * out_dtype.itemsize,
        whole_array_limit(),
    )  # fmt: skip
    rows = _axis_weights(a.shape[-2], h)
    cols = _axis_weights(a.shape[-1], w)
    flat = a.reshape((count,) + a.shape[-2:])
    out = np.empty((count, h, w), out_dtype)
    # float64 intermediates a few images at a time, within the memory budget
    per_image = 8 * (a.shape[-2] * a.shape[-1] + 2 * h * (a.shape[-1] + w))
    step = max(1, memory_budget() // max(per_image, 1))
    for i in range(0, count, step):
        x = flat[i : i + step].astype(np.float64)
        lo, hi, frac = rows
        frac = frac[:, None]
        x = x[..., lo, :] * (1.0 - frac) + x[..., hi, :] * frac
        lo, hi, frac = cols
        out[i : i + step] = x[..., lo] * (1.0 - frac) + x[..., hi] * frac
    return out.reshape(lead + (h, w))
