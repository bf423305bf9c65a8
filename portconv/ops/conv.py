"""Convolution, written once against the array API standard."""

from __future__ import annotations

from typing import Any

from ..errors import ArgumentError
from ._common import prepare, require_float, require_ndim


def corr2d(X: Any, K: Any) -> Any:
    """The textbook's two-dimensional cross-correlation of a 2-D input ``X`` with a 2-D
    kernel ``K`` (no padding, stride 1): ``Y[i, j] = sum(X[i:i+h, j:j+w] * K)``.

    The result has shape ``(X.shape[0] - h + 1, X.shape[1] - w + 1)`` and is an array of the
    caller's library, on the caller's device.
    """
    be, xp, (x, k) = prepare(X, K)
    require_ndim("X", x, (2,), "height, width")
    require_ndim("K", k, (2,), "kernel height, kernel width")
    require_float(xp, "X", x)
    require_float(xp, "K", k)
    h, w = k.shape
    oh, ow = x.shape[0] - h + 1, x.shape[1] - w + 1
    if oh < 1 or ow < 1:
        raise ArgumentError(
            f"K: kernel shape {(h, w)} is larger than the input shape {tuple(x.shape)}; "
            f"the kernel must fit inside X"
        )
    # Shift and accumulate: one multiply-add of a shifted view per kernel element.
    y = None
    for i in range(h):
        for j in range(w):
            term = x[i : i + oh, j : j + ow] * k[i, j]
            y = term if y is None else y + term
    return be.adapter.from_standard(y, X)
