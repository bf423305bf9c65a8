"""Winograd's minimal filtering for 3 x 3 stride-1 convolutions, written once against the array
API standard (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks", 2016).

F(m x m, 3 x 3) computes an ``m x m`` tile of outputs from an ``a x a`` tile of inputs
(``a = m + 2``) with ``a**2`` multiplications per input/output channel pair instead of the
``9 m**2`` of a direct convolution: 2.25x fewer for F(2x2, 3x3), 4x fewer for F(4x4, 3x3)::

    Y = A^T [ (G g G^T) * (B^T d B) ] A        per tile d, kernel g

All tiles at once, that is four matrix products: the input tiles are gathered into ``(a*a,
C, P)`` (``P`` tiles), transformed by ``kron(B^T, B^T)`` (one product with an ``a*a x a*a``
constant matrix), multiplied channel-wise with the transformed kernels (``a*a`` products of
``(C_out, C_in) @ (C_in, P)``: the bulk of the work, at the BLAS's rate), and transformed back
by ``kron(A^T, A^T)``. The transforms are small constant matrices, so everything is slicing,
``stack``, ``reshape`` and ``matmul``.

F(4x4, 3x3) uses the interpolation points 0, +-1, +-2 and loses a few bits in float32; which
convolutions use it is decided in :func:`choose` (measured speed and accuracy).
"""

from __future__ import annotations

from typing import Any

from .. import _windows
from .._config import memory_budget
from ._args import itemsize
from ._call import ConvCall

# F(2x2, 3x3)
_BT2 = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]
_G2 = [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]]
_AT2 = [[1, 1, 1, 0], [0, 1, -1, -1]]

# F(4x4, 3x3), points 0, 1, -1, 2, -2 and infinity
_BT4 = [
    [4, 0, -5, 0, 1, 0],
    [0, -4, -4, 1, 1, 0],
    [0, 4, -4, -1, 1, 0],
    [0, -2, -1, 2, 1, 0],
    [0, 2, -1, -2, 1, 0],
    [0, 4, 0, -5, 0, 1],
]
_G4 = [
    [1 / 4, 0, 0],
    [-1 / 6, -1 / 6, -1 / 6],
    [-1 / 6, 1 / 6, -1 / 6],
    [1 / 24, 1 / 12, 1 / 6],
    [1 / 24, -1 / 12, 1 / 6],
    [0, 0, 1],
]
_AT4 = [
    [1, 1, 1, 1, 1, 0],
    [0, 1, -1, 2, -2, 0],
    [0, 1, 1, 4, 4, 0],
    [0, 1, -1, 8, -8, 1],
]

TRANSFORMS = {2: (_BT2, _G2, _AT2), 4: (_BT4, _G4, _AT4)}


def _kron(a: list, b: list) -> list:
    return [[x * y for x in ra for y in rb] for ra in a for rb in b]


def applies(call: ConvCall) -> bool:
    """Whether Winograd's F(m x m, 3 x 3) computes ``call``: 2-D, a 3 x 3 kernel, stride 1,
    no dilation."""
    return (
        call.op == "conv"
        and call.d == 2
        and call.kernel == (3, 3)
        and call.stride == (1, 1)
        and call.dilation == (1, 1)
    )


def weight_transform(xp: Any, w: Any, m: int, device: Any) -> Any:
    """``G g G^T`` of every ``(C_out, C_in/g)`` kernel: ``(a*a, C_out, C_in/g)``."""
    _, g, _ = TRANSFORMS[m]
    a = m + 2
    gg = xp.asarray(_kron(g, g), dtype=w.dtype, device=device)  # (a*a, 9)
    c_out, c_in = w.shape[0], w.shape[1]
    u = xp.matmul(gg, xp.matrix_transpose(xp.reshape(w, (c_out * c_in, 9))))
    return xp.reshape(u, (a * a, c_out, c_in))


def conv(xp: Any, call: ConvCall, x: Any, w: Any, m: int = 2) -> Any:
    """The convolution (no bias) of batched, channels-first ``x`` with a 3 x 3 ``w`` by
    F(m x m, 3 x 3), in tiles of examples within the memory budget: ``(N, C_out, *out)``."""
    bt, _, at = TRANSFORMS[m]
    a = m + 2
    n, c, groups, c_out = call.n, call.c_in, call.groups, call.c_out
    oh, ow = call.out
    th, tw = -(-oh // m), -(-ow // m)  # tiles per axis
    (pt, pb), (pl, pr) = call.padding
    # pad so that the last tiles' inputs exist: (th*m + 2) x (tw*m + 2)
    pads = [(pt, th * m + 2 - call.size[0] - pt), (pl, tw * m + 2 - call.size[1] - pl)]
    device = call.device
    bb = xp.asarray(_kron(bt, bt), dtype=x.dtype, device=device)  # (a*a, a*a)
    aa = xp.asarray(_kron(at, at), dtype=x.dtype, device=device)  # (m*m, a*a)
    u = weight_transform(xp, w, m, device)  # (a*a, C_out, C_in/g)
    u = xp.reshape(u, (a * a, groups, c_out // groups, c // groups))

    def tile(e0: int, e1: int) -> Any:
        k = e1 - e0
        xt = _windows.pad(xp, x[e0:e1, ...], pads, 0.0, device)
        xcm = xp.permute_dims(xt, (1, 0, 2, 3))  # (C, k, Hp, Wp)
        d = xp.stack(
            [
                xcm[:, :, i : i + m * (th - 1) + 1 : m, j : j + m * (tw - 1) + 1 : m]
                for i in range(a)
                for j in range(a)
            ],
            axis=0,
        )  # (a*a, C, k, th, tw): the input tiles
        p = k * th * tw
        v = xp.matmul(bb, xp.reshape(d, (a * a, c * p)))  # B^T d B, every tile at once
        v = xp.reshape(v, (a * a, groups, c // groups, p))
        mm = xp.matmul(u, v)  # (a*a, g, C_out/g, P): the channel products
        y = xp.matmul(aa, xp.reshape(mm, (a * a, c_out * p)))  # A^T M A: (m*m, C_out*P)
        y = xp.reshape(y, (m, m, c_out, k, th, tw))
        y = xp.permute_dims(y, (3, 2, 4, 0, 5, 1))  # (k, C_out, th, m, tw, m)
        y = xp.reshape(y, (k, c_out, th * m, tw * m))
        if (th * m, tw * m) != (oh, ow):
            y = y[:, :, :oh, :ow]
        return y

    per_example = 2 * a * a * max(c, c_out) * th * tw * itemsize(xp, x.dtype)
    return _windows.by_tiles(xp, n, per_example, memory_budget(), tile)


#: the channel counts (per group) from which F(4x4, 3x3) beats im2col on NumPy (measured with
#: ``portconv bench`` on W4, 64 channels: slower; W6, 128 channels: 1.6x faster), where the
#: channel products dominate the tile transforms
WINOGRAD_CHANNELS = 128


def choose(call: ConvCall) -> int | None:
    """The tile size ``m`` of the Winograd algorithm to compute ``call`` with, or None for
    im2col: F(4x4, 3x3) for 3 x 3 stride-1 convolutions with at least
    :data:`WINOGRAD_CHANNELS` input and output channels per group. Its error against a float64
    reference measures about 1e-5 of the result's largest value in float32 (the goal is
    1e-4; see tests/test_conv.py); F(2x2, 3x3) was measured slower than im2col everywhere
    (its 16 strided tile slices cost more than the multiplications it saves)."""
    if not applies(call):
        return None
    if min(call.c_in, call.c_out) // call.groups < WINOGRAD_CHANNELS:
        return None
    return 4
