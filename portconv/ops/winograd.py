"""Winograd's minimal filtering for stride-1 convolutions with kernels of 3 (1-D, 3 x 3 and
3 x 3 x 3), written once against the array API standard (Lavin and Gray, "Fast Algorithms for
Convolutional Neural Networks", 2016).

F(m x m, 3 x 3) computes an ``m x m`` tile of outputs from an ``a x a`` tile of inputs
(``a = m + 2``) with ``a**2`` multiplications per input/output channel pair instead of the
``9 m**2`` of a direct convolution: 3.24x fewer for F(3x3, 3x3), 4x for F(4x4, 3x3)::

    Y = A^T [ (G g G^T) * (B^T d B) ] A        per tile d, kernel g

and in ``d`` dimensions the same transforms along every axis (1-D F(4, 3): 2x fewer; 3-D
F(3x3x3, 3x3x3): 5.8x). All tiles at once, in matrix products at the BLAS's rate. The
transforms are separable, so each is applied one axis at a time, as a product with the small
constant matrix along the leading axis: the input's ``a`` columns of every tile (strided
slices) times ``B^T``, then their ``a`` rows times ``B^T``, give ``(a*a, C, P)`` for ``P``
tiles (three times fewer operations than one product with ``kron(B^T, B^T)``, and the row
slices copy runs of whole tile rows). The channel products, ``a*a`` of ``(C_out, C_in) @
(C_in, P)``, are the bulk of the work; the output transform takes ``A^T`` along the tile rows
and, with the BLAS reading the operand transposed, along the columns, which leaves each
tile's ``m`` columns innermost, so that the final permutation copies whole output rows. A
large weight is transformed in blocks of output channels, each used by its products while
still in the caches (:func:`weight_blocks`).

Transform matrices from the interpolation points 0, +-1, +-2 (F(4)) and 0, +-1, 2 (F(3)) and
infinity; which convolutions use which is decided in :func:`choose` (operation counts,
measured speed and accuracy); F(2, 3) would take more multiplications than either.
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


def applies(call: ConvCall) -> bool:
    """Whether Winograd's F(m, 3) computes ``call``: 1-D, 2-D or 3-D, a kernel of 3 along
    every axis, stride 1, no dilation."""
    d = call.d
    return (
        call.op == "conv"
        and d in (1, 2, 3)
        and call.kernel == (3,) * d
        and call.stride == (1,) * d
        and call.dilation == (1,) * d
    )


def as_convolution(call: ConvCall) -> ConvCall | None:
    """The convolution that computes the stride-1 3-tap transposed convolution ``call`` (the
    input gradient of such a convolution), or None: the transposed convolution of ``x`` with
    ``w``, cropping ``(before, after)``, is the convolution of ``x`` with ``w`` flipped and its
    channel axes exchanged (:func:`flipped`), padded ``(2 - before, 2 - after)``; only where
    no output padding is added and no crop reaches past the kernel (padding at most 2)."""
    d = call.d
    if call.op != "conv_transpose" or d not in (1, 2, 3) or call.kernel != (3,) * d:
        return None
    if call.stride != (1,) * d or call.dilation != (1,) * d or any(call.output_padding):
        return None
    if any(p > 2 for pair in call.padding for p in pair):
        return None
    pads = tuple((2 - b, 2 - a) for b, a in call.padding)
    return ConvCall(
        "conv", call.n, call.c_in, call.c_out, call.groups, call.size, call.kernel,
        call.stride, pads, call.dilation, call.out, False, (), call.dtype, call.device,
    )  # fmt: skip


def flipped(xp: Any, w: Any, groups: int) -> Any:
    """A transposed convolution's weight ``(C_in, C_out/g, *kernel)`` as the weight of the
    convolution :func:`as_convolution` gives, ``(C_out, C_in/g, *kernel)``: each group's
    channel axes exchanged and the kernel turned by 180 degrees."""
    c_in, c_out_g, kernel = w.shape[0], w.shape[1], tuple(w.shape[2:])
    w = xp.reshape(w, (groups, c_in // groups, c_out_g, math.prod(kernel)))
    w = xp.reshape(xp.permute_dims(w, (0, 2, 1, 3)), (groups * c_out_g, c_in // groups) + kernel)
    return xp.flip(w, axis=tuple(range(2, 2 + len(kernel))))


def weight_transform(xp: Any, w: Any, g: Any) -> Any:
    """``G g G^T`` (in 2-D; ``G`` along every axis in any) of every ``(C_out, C_in/g)`` kernel:
    ``(a**d, C_out, C_in/g)``. Separable: the kernels, laid out as ``3**d`` rows, times ``G``
    along their first axis, then their second, ... (three-term contractions; in 2-D half the
    time of one product with ``kron(G, G)``). ``g``: ``G``, ``(a, 3)``, in ``w``'s dtype."""
    a, d = g.shape[0], w.ndim - 2
    c_out, c_in = w.shape[0], w.shape[1]
    u = xp.matrix_transpose(xp.reshape(w, (c_out * c_in, 3**d)))  # (3**d, pairs)
    for i in range(d):  # (a**i, 3, rest) -> (a**i, a, rest)
        u = xp.matmul(g, xp.reshape(u, (a**i, 3, 3 ** (d - 1 - i) * c_out * c_in)))
    return xp.reshape(u, (a**d, c_out, c_in))


def weight_blocks(xp: Any, call: ConvCall, m: int) -> int:
    """The output channels per group whose transformed weight is computed and used at once:
    all of them, or blocks of equal size that fill at most half the adapter's cache-sized tile
    (NumPy: 2 MiB), so that each block's channel products read what its transform has just
    left in the caches (ResNet-18's 512-channel layer on 3 x 3 maps at one thread: 16-18 ms per
    call -> 9-11 ms with blocks of 40 channels, 1.6 MiB; blocks of 3-4 MiB were as slow as
    none). Namespaces without a cache-sized tile (CuPy, PyTorch) transform the weight whole."""
    c_out_g, c_in_g = call.c_out // call.groups, call.c_in // call.groups
    per_channel = (m + 2) ** call.d * call.groups * c_in_g * itemsize(xp, call.dtype)
    cap = max(1, _windows.matmul_budget(xp, memory_budget()) // 2 // per_channel)
    return -(-c_out_g // -(-c_out_g // cap))  # blocks of equal size


@dataclasses.dataclass(frozen=True)
class _Tiling:
    """F(m, 3) along each axis of one call: the tiles per axis of its output, the input
    padding that makes the last tiles' inputs exist (``tiles * m + 2`` per axis), the
    transforms in the arrays' dtype, and the bytes of each tile of examples
    (:func:`tile_examples`)."""

    m: int
    a: int
    tiles: tuple  # per axis
    pads: list
    bt: Any  # (a, a)
    g: Any  # (a, 3)
    at: Any  # (m, a)
    per_example: int
    step: int


def _tiling(xp: Any, call: ConvCall, dtype: Any, m: int) -> _Tiling:
    bt, g, at = TRANSFORMS[m]
    a, d = m + 2, call.d
    tiles = tuple(-(-o // m) for o in call.out)
    pads = [(p, t * m + 2 - n - p) for (p, _), t, n in zip(call.padding, tiles, call.size)]
    item = itemsize(xp, dtype)
    per_example = a**d * (call.c_in + call.c_out) * math.prod(tiles) * item
    weight = a**d * call.c_out * (call.c_in // call.groups) * item
    return _Tiling(
        m, a, tiles, pads,
        xp.asarray(bt, dtype=dtype, device=call.device),
        xp.asarray(g, dtype=dtype, device=call.device),
        xp.asarray(at, dtype=dtype, device=call.device),
        per_example, tile_examples(xp, per_example, weight),
    )  # fmt: skip


def _tile_transform(xp: Any, v: Any, mat: Any, size: int, hop: int, tiles: tuple) -> Any:
    """``mat`` ``(r, size)`` along every spatial axis of every tile of ``v`` ``(*lead,
    *spatial)``: the tiles of ``size`` elements start every ``hop`` (``tiles[i]`` of them
    along axis ``i``). Each axis, the last first, becomes ``r`` rows merged into the leading
    axis: ``(r**d * prod(lead), *tiles)``, the transform points of the first axis outermost.
    The ``size`` strided slices along the axis stack into a new leading axis, and ``mat``
    multiplies it: one product per axis. Arrays stay within 5 axes (MXNet's limit): 3-D
    tiles' leading axes are merged first (a copy of ``v``)."""
    d = len(tiles)
    if v.ndim > 4:
        v = xp.reshape(v, (math.prod(v.shape[: v.ndim - d]),) + tuple(v.shape[v.ndim - d :]))
    for axis in reversed(range(d)):
        ax, n = v.ndim - d + axis, tiles[axis]
        parts = []
        for j in range(size):
            window = slice(j, j + hop * (n - 1) + 1, hop)
            parts.append(v[(slice(None),) * ax + (window, ...)])
        cols = xp.stack(parts, axis=0)  # (size, *v with n along ax)
        rest = tuple(cols.shape[1:])
        y = xp.matmul(mat, xp.reshape(cols, (size, math.prod(rest))))
        v = xp.reshape(y, (mat.shape[0] * rest[0],) + rest[1:])
    return v


def _input_transform(xp: Any, t: _Tiling, xt: Any) -> Any:
    """``B^T d B`` (``B^T`` along every axis) of every input tile of the padded examples
    ``xt`` ``(k, C, *padded)``: ``(a**d, C, P)`` with ``P = k * prod(tiles)`` tiles. The
    tiles' columns first, then their rows (in 2-D: slices that copy runs of whole tile rows)."""
    k, c, d = xt.shape[0], xt.shape[1], len(t.tiles)
    xcm = xp.permute_dims(xt, (1, 0) + tuple(range(2, d + 2)))  # (C, k, *padded)
    v = _tile_transform(xp, xcm, t.bt, t.a, t.m, t.tiles)
    return xp.reshape(v, (t.a**d, c, k * math.prod(t.tiles)))


def _untile(xp: Any, y: Any, m: int, c_out: int, k: int, tiles: tuple) -> Any:
    """The output transform's result ``(m**(d-1), C_out * P, m)`` (points of the first axes
    outermost, of the last axis innermost) as ``(k, C_out, *tiles * m)``: one permutation
    that places each axis's ``m`` outputs after its tile index (two for 3-D, so that no
    array has more than 5 axes, MXNet's limit)."""
    d, last = len(tiles), tiles[-1] * m
    if d == 1:
        y = xp.reshape(y, (c_out, k, last))
        return xp.permute_dims(y, (1, 0, 2))
    if d == 2:
        y = xp.reshape(y, (m, c_out, k, tiles[0], last))
        y = xp.permute_dims(y, (2, 1, 3, 0, 4))  # (k, C_out, t0, m0, t1*m1)
        return xp.reshape(y, (k, c_out, tiles[0] * m, last))
    t0, t1 = tiles[0], tiles[1]
    y = xp.reshape(y, (m, m, c_out * k * t0, t1, last))  # (m0, m1, Co*k*t0, t1, t2*m2)
    y = xp.permute_dims(y, (0, 2, 3, 1, 4))  # (m0, Co*k*t0, t1, m1, t2*m2)
    y = xp.reshape(y, (m, c_out, k, t0, t1 * m * last))
    y = xp.permute_dims(y, (2, 1, 3, 0, 4))  # (k, C_out, t0, m0, t1*m1*t2*m2)
    return xp.reshape(y, (k, c_out, t0 * m, t1 * m, last))


def conv(xp: Any, call: ConvCall, x: Any, w: Any, m: int = 4) -> Any:
    """The convolution (no bias) of batched, channels-first ``x`` with a 3-tap ``w`` (3, 3 x 3
    or 3 x 3 x 3) by F(m, 3) along every axis, in tiles of examples (:func:`tile_examples`),
    the weight transformed in blocks of output channels where it is large
    (:func:`weight_blocks`): ``(N, C_out, *out)``."""
    t = _tiling(xp, call, x.dtype, m)
    a, d, tiles = t.a, call.d, t.tiles
    c, groups, c_out = call.c_in, call.groups, call.c_out
    c_out_g, block = c_out // groups, weight_blocks(xp, call, m)
    kernel = (3,) * d
    wg = xp.reshape(w, (groups, c_out_g, c // groups * 3**d))

    def transformed(o0: int, o1: int) -> Any:  # (a**d, g, o1 - o0, C_in/g)
        part = xp.reshape(wg[:, o0:o1, :], (groups * (o1 - o0), c // groups) + kernel)
        u = weight_transform(xp, part, t.g)
        return xp.reshape(u, (a**d, groups, o1 - o0, c // groups))

    starts = range(0, c_out_g, block)
    whole = transformed(0, c_out_g) if block == c_out_g else None
    at_t = xp.matrix_transpose(t.at)

    def tile(e0: int, e1: int) -> Any:
        k = e1 - e0
        p = k * math.prod(tiles)
        v = _input_transform(xp, t, _windows.pad(xp, x[e0:e1, ...], t.pads, 0.0, call.device))
        v = xp.reshape(v, (a**d, groups, c // groups, p))
        if whole is not None:
            y = xp.matmul(whole, v)  # (a**d, g, Co/g, P)
        else:  # each block's transform still in the caches when its product reads it
            parts = [xp.matmul(transformed(o, min(o + block, c_out_g)), v) for o in starts]
            y = xp.concat(parts, axis=2)
        for i in range(d - 1):  # A^T along the leading axes: (m**i, a, rest) -> (m**i, m, rest)
            y = xp.matmul(t.at, xp.reshape(y, (m**i, a, a ** (d - 1 - i) * c_out * p)))
        # the last axis with the BLAS reading the operand transposed: its m outputs innermost
        y = xp.reshape(y, (m ** (d - 1), a, c_out * p))
        y = _untile(xp, xp.matmul(xp.matrix_transpose(y), at_t), m, c_out, k, tiles)
        if tuple(y.shape[2:]) == call.out:
            return y
        return y[(slice(None), slice(None)) + tuple(slice(0, o) for o in call.out)]

    return _windows.by_tiles(xp, call.n, t.per_example, t.step, tile)


def weight_grad(xp: Any, call: ConvCall, x: Any, dy: Any, m: int = 4) -> Any:
    """The gradient of :func:`conv` with respect to its 3-tap weight, ``(C_out, C_in/g,
    *kernel)``, in Winograd's domain: the output gradient's tiles transformed by ``A`` along
    every axis (the adjoint of the output transform; the outputs past the edge padded with
    zero gradient), times the input tiles' ``B^T d B``, summed over the tiles (one product per
    transform point), and taken back by ``G^T`` along every axis. The same tiles of examples
    as the forward's."""
    t = _tiling(xp, call, x.dtype, m)
    a, d, tiles = t.a, call.d, t.tiles
    c, groups, c_out = call.c_in, call.groups, call.c_out
    aa = xp.matrix_transpose(t.at)  # (a, m)
    extra = [(0, n * m - o) for n, o in zip(tiles, call.out)]

    def tile(e0: int, e1: int) -> Any:
        k = e1 - e0
        p = k * math.prod(tiles)
        v = _input_transform(xp, t, _windows.pad(xp, x[e0:e1, ...], t.pads, 0.0, call.device))
        g = dy[e0:e1, ...]
        if any(e for _, e in extra):
            g = _windows.pad(xp, g, extra, 0.0, call.device)
        g = xp.permute_dims(g, (1, 0) + tuple(range(2, d + 2)))  # (Co, k, *tiles * m)
        g = xp.reshape(_tile_transform(xp, g, aa, m, m, tiles), (a**d, groups, c_out // groups, p))
        v = xp.reshape(v, (a**d, groups, c // groups, p))
        return xp.matmul(g, xp.matrix_transpose(v))  # (a**d, g, Co/g, Ci/g)

    du = None
    for e0, e1 in _windows.tiles(call.n, t.per_example, t.step):
        part = tile(e0, e1)
        du = part if du is None else du + part
    gt = xp.matrix_transpose(t.g)
    pairs = c_out * (c // groups)
    for i in range(d):  # G^T along each axis: (3**i, a, rest) -> (3**i, 3, rest)
        du = xp.matmul(gt, xp.reshape(du, (3**i, a, a ** (d - 1 - i) * pairs)))
    return xp.reshape(
        xp.matrix_transpose(xp.reshape(du, (3**d, pairs))), (c_out, c // groups) + (3,) * d
    )


def tile_examples(xp: Any, per_example: int, weight_bytes: int) -> int:
    """The bytes of a tile of examples' transformed inputs and products: the adapter's
    cache-sized tile (:func:`portconv._windows.matmul_budget`), or more, up to the memory
    budget, while the transformed weight is larger: the channel products read it once per
    tile, and a tile whose own buffers are at least as large keeps that reading at most half
    the traffic (ResNet-18's 512-channel layer on 3 x 3 maps: one tile of 32 examples, 2.2x
    faster than tiles of 4)."""
    budget = memory_budget()
    return min(budget, max(_windows.matmul_budget(xp, budget), weight_bytes, per_example))


#: by spatial dimensions: the channel counts (per group) from which Winograd beats im2col on
#: NumPy on any output, and on outputs of at least ``wide_map`` per axis. One thread, stride 1,
#: Winograd / im2col time. 2-D: 64 channels 0.51x on 56 x 56, 0.62x on 28, 0.89-0.95x on 14,
#: 1.1-1.25x on 7, 0.78x on 4; 32 channels 0.75x on 56, 0.82x on 28, 1.36x on 14; 16 channels
#: 1.0-2.3x. 1-D (F(4, 3): 2x fewer multiplications, against 4x in 2-D): 64 channels
#: 0.71-0.97x on lengths 64-1024, 1.05x on 16; 256 channels 0.66-0.83x on any. 3-D
#: (F(3x3x3): 5.8x fewer): 16 channels 0.31-0.71x on 4-28 per axis, 8 channels 0.40-0.83x from
#: 16 and 0.97-1.06x below.
THRESHOLDS = {
    1: {"channels": 256, "wide_channels": 64, "wide_map": 64},
    2: {"channels": 64, "wide_channels": 32, "wide_map": 28},
    3: {"channels": 16, "wide_channels": 8, "wide_map": 16},
}


def tile_size(out: tuple[int, ...]) -> int:
    """The ``m`` of F(m, 3) with the fewest multiplications for an output of size ``out``:
    ``prod(ceil(o/m)) * (m+2)**d`` for m in 4 and 3 (the same count measures the transforms'
    work), F(4) on ties. In 2-D, F(3x3) wins where F(4x4)'s last tiles would be mostly past
    the edge: ResNet-18's 3 x 3 and 6 x 6 maps (25 and 100 against 36 and 144). 3-D takes
    F(3) always: F(4x4x4) lost up to 1.3e-4 of the result in float32 on 512 channels (the
    goal is 1e-4), F(3x3x3) 2.7e-5."""

    def cost(m: int) -> int:
        return math.prod(-(-o // m) for o in out) * (m + 2) ** len(out)

    return 3 if len(out) == 3 else min((4, 3), key=cost)


def choose(xp: Any, call: ConvCall) -> int | None:
    """The tile size ``m`` of the Winograd algorithm to compute ``call`` with, or None for
    im2col: stride-1 convolutions with kernels of 3 in 1-3 dimensions, at least
    ``THRESHOLDS[d]["channels"]`` input and output channels per group (``"wide_channels"``
    on outputs of ``"wide_map"`` or more per axis), by F(4) or F(3) (:func:`tile_size`).
    Below that the transforms, whose work grows with the channels where the products' grows
    with their square, cost more than the saved multiplications. Their error against a
    float64 reference measures 1e-6 to 4e-5 of the result's largest value in float32 (the
    goal is 1e-4; see tests/test_conv.py and the Performance page); half precision keeps
    im2col (float16 on 64 channels: F(4x4) 1.6e-2, im2col 5e-4), and so does a call that
    must be exact (``call.exact``: ONNX's integer convolutions, whose float64 result is read
    as integers)."""
    if not applies(call) or call.exact or itemsize(xp, call.dtype) < 4:
        return None
    rule = THRESHOLDS[call.d]
    channels = min(call.c_in, call.c_out) // call.groups
    wide = min(call.out) >= rule["wide_map"]
    if channels < rule["wide_channels" if wide else "channels"]:
        return None
    return tile_size(call.out)
