"""Winograd's minimal filtering for 3 x 3 stride-1 convolutions, written once against the array
API standard (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks", 2016).

F(m x m, 3 x 3) computes an ``m x m`` tile of outputs from an ``a x a`` tile of inputs
(``a = m + 2``) with ``a**2`` multiplications per input/output channel pair instead of the
``9 m**2`` of a direct convolution: 3.24x fewer for F(3x3, 3x3), 4x for F(4x4, 3x3)::

    Y = A^T [ (G g G^T) * (B^T d B) ] A        per tile d, kernel g

All tiles at once, in matrix products at the BLAS's rate. The transforms are separable, so
each is applied one axis at a time, as a product with the small constant matrix along the
leading axis: the input's ``a`` columns of every tile (strided slices) times ``B^T``, then
their ``a`` rows times ``B^T``, give ``(a*a, C, P)`` for ``P`` tiles (three times fewer
operations than one product with ``kron(B^T, B^T)``, and the row slices copy runs of whole
tile rows). The channel products, ``a*a`` of ``(C_out, C_in) @ (C_in, P)``, are the bulk of
the work; the output transform takes ``A^T`` along the tile rows and, with the BLAS reading
the operand transposed, along the columns, which leaves each tile's ``m`` columns innermost,
so that the final permutation copies whole output rows. A large weight is transformed in
blocks of output channels, each used by its products while still in the caches
(:func:`weight_blocks`).

Transform matrices from the interpolation points 0, +-1, +-2 (F(4x4)) and 0, +-1, 2 (F(3x3))
and infinity; which convolutions use which is decided in :func:`choose` (operation counts,
measured speed and accuracy); F(2x2, 3x3) would take more multiplications than either.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from .. import _windows
from .._config import memory_budget
from ._args import itemsize
from ._call import ConvCall

# F(3x3, 3x3), points 0, 1, -1, 2 and infinity
_BT3 = [
    [2, -1, -2, 1, 0],
    [0, -2, -1, 1, 0],
    [0, 2, -3, 1, 0],
    [0, -1, 0, 1, 0],
    [0, 2, -1, -2, 1],
]
_G3 = [
    [1 / 2, 0, 0],
    [-1 / 2, -1 / 2, -1 / 2],
    [-1 / 6, 1 / 6, -1 / 6],
    [1 / 6, 1 / 3, 2 / 3],
    [0, 0, 1],
]
_AT3 = [[1, 1, 1, 1, 0], [0, 1, -1, 2, 0], [0, 1, 1, 4, 1]]

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

#: (B^T, G, A^T) of F(m x m, 3 x 3) by m
TRANSFORMS = {3: (_BT3, _G3, _AT3), 4: (_BT4, _G4, _AT4)}


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


def as_convolution(call: ConvCall) -> ConvCall | None:
    """The convolution that computes the stride-1 3 x 3 transposed convolution ``call`` (the
    input gradient of such a convolution), or None: the transposed convolution of ``x`` with
    ``w``, cropping ``(before, after)``, is the convolution of ``x`` with ``w`` flipped and its
    channel axes exchanged (:func:`flipped`), padded ``(2 - before, 2 - after)``; only where
    no output padding is added and no crop reaches past the kernel (padding at most 2)."""
    if call.op != "conv_transpose" or call.d != 2 or call.kernel != (3, 3):
        return None
    if call.stride != (1, 1) or call.dilation != (1, 1) or any(call.output_padding):
        return None
    if any(p > 2 for pair in call.padding for p in pair):
        return None
    pads = tuple((2 - b, 2 - a) for b, a in call.padding)
    return ConvCall(
        "conv", call.n, call.c_in, call.c_out, call.groups, call.size, call.kernel,
        call.stride, pads, call.dilation, call.out, False, (), call.dtype, call.device,
    )  # fmt: skip


def flipped(xp: Any, w: Any, groups: int) -> Any:
    """A transposed convolution's weight ``(C_in, C_out/g, kh, kw)`` as the weight of the
    convolution :func:`as_convolution` gives, ``(C_out, C_in/g, kh, kw)``: each group's
    channel axes exchanged and the kernel turned by 180 degrees."""
    c_in, c_out_g, kh, kw = w.shape
    w = xp.reshape(w, (groups, c_in // groups, c_out_g, kh, kw))
    w = xp.reshape(xp.permute_dims(w, (0, 2, 1, 3, 4)), (groups * c_out_g, c_in // groups, kh, kw))
    return xp.flip(w, axis=(2, 3))


def weight_transform(xp: Any, w: Any, m: int, device: Any) -> Any:
    """``G g G^T`` of every ``(C_out, C_in/g)`` kernel: ``(a*a, C_out, C_in/g)``. Separable: the
    kernels' rows, then their columns, times ``G`` (products of three-term contractions on the
    kernels laid out as nine rows; half the time of one product with ``kron(G, G)``)."""
    g = xp.asarray(TRANSFORMS[m][1], dtype=w.dtype, device=device)  # (a, 3)
    a = m + 2
    c_out, c_in = w.shape[0], w.shape[1]
    rows = xp.reshape(xp.matrix_transpose(xp.reshape(w, (c_out * c_in, 9))), (3, 3 * c_out * c_in))
    u = xp.reshape(xp.matmul(g, rows), (a, 3, c_out * c_in))  # (a_i, j, pairs)
    return xp.reshape(xp.matmul(g, u), (a * a, c_out, c_in))  # (a_i, a_j, pairs)


def weight_blocks(xp: Any, call: ConvCall, m: int) -> int:
    """The output channels per group whose transformed weight is computed and used at once:
    all of them, or blocks of equal size that fill at most half the adapter's cache-sized tile
    (NumPy: 2 MiB), so that each block's channel products read what its transform has just
    left in the caches (ResNet-18's 512-channel layer on 3 x 3 maps at one thread: 16-18 ms per
    call -> 9-11 ms with blocks of 40 channels, 1.6 MiB; blocks of 3-4 MiB were as slow as
    none). Namespaces without a cache-sized tile (CuPy, PyTorch) transform the weight whole."""
    c_out_g, c_in_g = call.c_out // call.groups, call.c_in // call.groups
    per_channel = (m + 2) ** 2 * call.groups * c_in_g * itemsize(xp, call.dtype)
    cap = max(1, _windows.matmul_budget(xp, memory_budget()) // 2 // per_channel)
    return -(-c_out_g // -(-c_out_g // cap))  # blocks of equal size


@dataclasses.dataclass(frozen=True)
class _Tiling:
    """F(m x m, 3 x 3) on one call: the tiles per axis of its output, the input padding that
    makes the last tiles' inputs exist (``(th*m + 2) x (tw*m + 2)``), the transforms in the
    arrays' dtype, and the bytes of each tile of examples (:func:`tile_examples`)."""

    m: int
    a: int
    th: int
    tw: int
    pads: list
    bt: Any  # (a, a)
    at: Any  # (m, a)
    per_example: int
    step: int


def _tiling(xp: Any, call: ConvCall, dtype: Any, m: int) -> _Tiling:
    bt, _, at = TRANSFORMS[m]
    a = m + 2
    th, tw = -(-call.out[0] // m), -(-call.out[1] // m)
    (pt, _), (pl, _) = call.padding
    pads = [(pt, th * m + 2 - call.size[0] - pt), (pl, tw * m + 2 - call.size[1] - pl)]
    item = itemsize(xp, dtype)
    per_example = a * a * (call.c_in + call.c_out) * th * tw * item
    weight = a * a * call.c_out * (call.c_in // call.groups) * item
    return _Tiling(
        m, a, th, tw, pads,
        xp.asarray(bt, dtype=dtype, device=call.device),
        xp.asarray(at, dtype=dtype, device=call.device),
        per_example, tile_examples(xp, per_example, weight),
    )  # fmt: skip


def _input_transform(xp: Any, t: _Tiling, xt: Any) -> Any:
    """``B^T d B`` of every input tile of the padded examples ``xt`` ``(k, C, Hp, Wp)``:
    ``(a*a, C, P)`` with ``P = k * th * tw`` tiles, the tiles' columns first, then their
    rows."""
    m, a, th, tw = t.m, t.a, t.th, t.tw
    k, c = xt.shape[0], xt.shape[1]
    hp = th * m + 2
    xcm = xp.permute_dims(xt, (1, 0, 2, 3))  # (C, k, Hp, Wp)
    cols = xp.stack([xcm[..., j : j + m * (tw - 1) + 1 : m] for j in range(a)], axis=0)
    s = xp.reshape(xp.matmul(t.bt, xp.reshape(cols, (a, c * k * hp * tw))), (a, c, k, hp, tw))
    rows = xp.stack([s[:, :, :, i : i + m * (th - 1) + 1 : m, :] for i in range(a)], axis=0)
    v = xp.matmul(t.bt, xp.reshape(rows, (a, a * c * k * th * tw)))  # (a_i, a_j, C, P)
    return xp.reshape(v, (a * a, c, k * th * tw))


def conv(xp: Any, call: ConvCall, x: Any, w: Any, m: int = 4) -> Any:
    """The convolution (no bias) of batched, channels-first ``x`` with a 3 x 3 ``w`` by
    F(m x m, 3 x 3), in tiles of examples (:func:`tile_examples`), the weight transformed in
    blocks of output channels where it is large (:func:`weight_blocks`): ``(N, C_out, *out)``."""
    t = _tiling(xp, call, x.dtype, m)
    a, th, tw = t.a, t.th, t.tw
    c, groups, c_out = call.c_in, call.groups, call.c_out
    oh, ow = call.out
    c_out_g, block = c_out // groups, weight_blocks(xp, call, m)
    wg = xp.reshape(w, (groups, c_out_g, c // groups, 3, 3))

    def transformed(o0: int, o1: int) -> Any:  # (a*a, g, o1 - o0, C_in/g)
        part = xp.reshape(wg[:, o0:o1, ...], (groups * (o1 - o0), c // groups, 3, 3))
        u = weight_transform(xp, part, m, call.device)
        return xp.reshape(u, (a * a, groups, o1 - o0, c // groups))

    starts = range(0, c_out_g, block)
    whole = transformed(0, c_out_g) if block == c_out_g else None

    def tile(e0: int, e1: int) -> Any:
        k = e1 - e0
        p = k * th * tw
        v = _input_transform(xp, t, _windows.pad(xp, x[e0:e1, ...], t.pads, 0.0, call.device))
        v = xp.reshape(v, (a * a, groups, c // groups, p))
        if whole is not None:
            mm = xp.matmul(whole, v)  # (a*a, g, Co/g, P)
        else:  # each block's transform still in the caches when its product reads it
            parts = [xp.matmul(transformed(o, min(o + block, c_out_g)), v) for o in starts]
            mm = xp.concat(parts, axis=2)
        y = xp.matmul(t.at, xp.reshape(mm, (a, a * c_out * p)))  # A^T on rows: (m, a_j, Co*P)
        y = xp.reshape(y, (m, a, c_out * p))
        y = xp.matmul(xp.matrix_transpose(y), xp.matrix_transpose(t.at))  # (m, Co*P, m)
        y = xp.reshape(y, (m, c_out, k, th, tw * m))
        y = xp.reshape(xp.permute_dims(y, (2, 1, 3, 0, 4)), (k, c_out, th * m, tw * m))
        return y if (th * m, tw * m) == (oh, ow) else y[:, :, :oh, :ow]

    return _windows.by_tiles(xp, call.n, t.per_example, t.step, tile)


def weight_grad(xp: Any, call: ConvCall, x: Any, dy: Any, m: int = 4) -> Any:
    """The gradient of :func:`conv` with respect to its 3 x 3 weight, ``(C_out, C_in/g, 3,
    3)``, in Winograd's domain: the output gradient's tiles transformed by ``A`` (the adjoint
    of the output transform; the outputs past the edge padded with zero gradient), times the
    input tiles' ``B^T d B``, summed over the tiles (one product per transform point), and
    taken back by ``G^T (.) G``. The same tiles of examples as the forward's."""
    t = _tiling(xp, call, x.dtype, m)
    a, th, tw = t.a, t.th, t.tw
    c, groups, c_out = call.c_in, call.groups, call.c_out
    aa = xp.matrix_transpose(t.at)  # (a, m)
    extra = [(0, th * m - call.out[0]), (0, tw * m - call.out[1])]

    def tile(e0: int, e1: int) -> Any:
        k = e1 - e0
        p = k * th * tw
        v = _input_transform(xp, t, _windows.pad(xp, x[e0:e1, ...], t.pads, 0.0, call.device))
        d = dy[e0:e1, ...]
        if any(e for _, e in extra):
            d = _windows.pad(xp, d, extra, 0.0, call.device)
        d = xp.reshape(d, (k, c_out, th, m, tw, m))
        d = xp.reshape(xp.permute_dims(d, (3, 5, 1, 0, 2, 4)), (m, m * c_out * p))  # (y, x, Co, P)
        d = xp.reshape(xp.matmul(aa, d), (a, m, c_out * p))  # A along rows: (a_i, x, Co*P)
        d = xp.reshape(xp.matmul(aa, d), (a * a, groups, c_out // groups, p))  # (a_i, a_j, ...)
        v = xp.reshape(v, (a * a, groups, c // groups, p))
        return xp.matmul(d, xp.matrix_transpose(v))  # (a*a, g, Co/g, Ci/g)

    du = None
    for e0, e1 in _windows.tiles(call.n, t.per_example, t.step):
        part = tile(e0, e1)
        du = part if du is None else du + part
    gg = xp.asarray(_kron(TRANSFORMS[m][1], TRANSFORMS[m][1]), dtype=x.dtype, device=call.device)
    dw = xp.matmul(xp.matrix_transpose(gg), xp.reshape(du, (a * a, c_out * (c // groups))))
    return xp.reshape(xp.matrix_transpose(dw), (c_out, c // groups, 3, 3))


def tile_examples(xp: Any, per_example: int, weight_bytes: int) -> int:
    """The bytes of a tile of examples' transformed inputs and products: the adapter's
    cache-sized tile (:func:`portconv._windows.matmul_budget`), or more, up to the memory
    budget, while the transformed weight is larger: the channel products read it once per
    tile, and a tile whose own buffers are at least as large keeps that reading at most half
    the traffic (ResNet-18's 512-channel layer on 3 x 3 maps: one tile of 32 examples, 2.2x
    faster than tiles of 4)."""
    budget = memory_budget()
    return min(budget, max(_windows.matmul_budget(xp, budget), weight_bytes, per_example))


#: the channel counts (per group) from which Winograd beats im2col on NumPy, on any map, and on
#: maps of at least :data:`WIDE_MAP` outputs per axis (one thread, 3 x 3 stride 1, Winograd /
#: im2col time: 64 channels 0.51x on 56 x 56, 0.62x on 28, 0.89-0.95x on 14, 1.1-1.25x on 7,
#: 0.78x on 4; 32 channels 0.75x on 56, 0.82x on 28, 1.36x on 14; 16 channels 1.0-2.3x)
WINOGRAD_CHANNELS = 64
WIDE_MAP_CHANNELS = 32
WIDE_MAP = 28


def tile_size(out: tuple[int, ...]) -> int:
    """The ``m`` of F(m x m, 3 x 3) with the fewest multiplications for an output of size
    ``out``: ``ceil(oh/m) * ceil(ow/m) * (m+2)**2`` for m in 4 and 3 (the same count measures
    the transforms' work), F(4x4) on ties. F(3x3) wins where F(4x4)'s last tiles would be
    mostly past the edge: ResNet-18's 3 x 3 and 6 x 6 maps (25 and 100 against 36 and 144)."""

    def cost(m: int) -> int:
        return math.prod(-(-o // m) for o in out) * (m + 2) ** 2

    return min((4, 3), key=cost)


def choose(xp: Any, call: ConvCall) -> int | None:
    """The tile size ``m`` of the Winograd algorithm to compute ``call`` with, or None for
    im2col: 3 x 3 stride-1 convolutions with at least :data:`WINOGRAD_CHANNELS` input and
    output channels per group (:data:`WIDE_MAP_CHANNELS` on maps of :data:`WIDE_MAP` or more),
    by F(4x4, 3x3) or F(3x3, 3x3) (:func:`tile_size`). Below that the transforms, whose work
    grows with the channels where the products' grows with their square, cost more than the
    saved multiplications. Their error against a float64 reference measures about 1e-5 of the
    result's largest value in float32 (the goal is 1e-4; see tests/test_conv.py and the
    Performance page); half precision keeps im2col (float16 on 64 channels: F(4x4) 1.6e-2,
    im2col 5e-4), and so does a call that must be exact (``call.exact``: ONNX's integer
    convolutions, whose float64 result is read as integers)."""
    if not applies(call) or call.exact or itemsize(xp, call.dtype) < 4:
        return None
    channels = min(call.c_in, call.c_out) // call.groups
    wide = min(call.out) >= WIDE_MAP
    if channels < (WIDE_MAP_CHANNELS if wide else WINOGRAD_CHANNELS):
        return None
    return tile_size(call.out)
