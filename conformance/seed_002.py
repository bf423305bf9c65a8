"""Seed 002_2b99741476205a97.txt: study notes on D2L chapters 7 and 8 with PyTorch (the book's
second edition), with exercise answers. Its own framework here is the ``torch`` backend.

Left for the model layer (``portconv.nn``): the learning-a-kernel loss log (In[14]) and its
learned kernel (Out[15] of 7.2.4), the LeNet, VGG and ResNet ``layer_summary`` printouts and the
Residual block shapes (Out[24], Out[26] of 8.6)."""

from __future__ import annotations

import io

import numpy as np

import portconv as pc

from . import _parse, _replay
from ._registry import Noted, case

SEED = "002_2b99741476205a97.txt"

X3 = [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
K2 = [[0, 1], [2, 3]]
EDGES = np.ones((6, 8))
EDGES[:, 2:6] = 0
X_MULTI = [[[0, 1, 2], [3, 4, 5], [6, 7, 8]], [[1, 2, 3], [4, 5, 6], [7, 8, 9]]]
K_MULTI = np.array([[[0, 1], [2, 3]], [[1, 2], [3, 4]]])
K_MULTI_OUT = np.stack([K_MULTI, K_MULTI + 1, K_MULTI + 2])
ARANGE16 = np.arange(16).reshape((1, 1, 4, 4))
TWO_CHANNELS = np.concatenate([ARANGE16, ARANGE16 + 1], axis=1)
# exercise 7.2: the seed's "diagonal" image, ones on and above the diagonal
UPPER = np.triu(np.ones((5, 5)))

OUT_12 = """
tensor([[ 0.,  1.,  0.,  0.,  0., -1.,  0.],
[ 0.,  1.,  0.,  0.,  0., -1.,  0.],
[ 0.,  1.,  0.,  0.,  0., -1.,  0.],
[ 0.,  1.,  0.,  0.,  0., -1.,  0.],
[ 0.,  1.,  0.,  0.,  0., -1.,  0.],
[ 0.,  1.,  0.,  0.,  0., -1.,  0.]])"""

OUT_24 = """
tensor([[[[ 56.,  72.],
[104., 120.]],

[[ 76., 100.],
[148., 172.]],

[[ 96., 128.],
[192., 224.]]]])"""

OUT_130 = """
tensor([[ 2.5000,  3.5000,  4.5000],
[ 6.5000,  7.5000,  8.5000],
[10.5000, 11.5000, 12.5000]])"""


def _comp_conv2d_shape(bk, kernel_size, padding=0, stride=1):
    """The seed's comp_conv2d(nn.LazyConv2d(1, ...), X).shape for X = torch.rand(8, 8)."""
    x = bk.array(np.random.default_rng(2).uniform(size=(1, 1, 8, 8)))
    k = (kernel_size,) * 2 if isinstance(kernel_size, int) else kernel_size
    w = bk.array(np.random.default_rng(3).uniform(-0.3, 0.3, size=(1, 1) + tuple(k)))
    return pc.conv2d(x, w, padding=padding, stride=stride).shape[2:]


def _relu(x):
    """ReLU(x) = max(0, x), written with the array's own ``+`` and ``abs``: (x + |x|) / 2."""
    return (x + abs(x)) / 2


@case(
    SEED,
    "Out[14]",
    "corr2d(X, K)",
    """
tensor([[19., 25.],
[37., 43.]])""",
    parse=_parse.tensor,
    printed=True,
)
def corr2d_book(bk):
    return pc.corr2d(bk.array(X3), bk.array(K2))


@case(
    SEED,
    "Out[10]",
    "X = ones((6, 8)); X[:, 2:6] = 0",
    """
tensor([[1., 1., 0., 0., 0., 0., 1., 1.],
[1., 1., 0., 0., 0., 0., 1., 1.],
[1., 1., 0., 0., 0., 0., 1., 1.],
[1., 1., 0., 0., 0., 0., 1., 1.],
[1., 1., 0., 0., 0., 0., 1., 1.],
[1., 1., 0., 0., 0., 0., 1., 1.]])""",
    parse=_parse.tensor,
    printed=True,
)
def edges_input(bk):
    return bk.array(EDGES)


@case(
    SEED,
    "Out[12]",
    "edge detection Y = corr2d(X, K)",
    OUT_12,
    parse=_parse.tensor,
    printed=True,
)
def edge_detection(bk):
    return pc.corr2d(bk.array(EDGES), bk.array([[1, -1]]))


@case(
    SEED,
    "Out[13]",
    "corr2d(X.t(), K) vanishes",
    """
tensor([[0., 0., 0., 0., 0.],
[0., 0., 0., 0., 0.],
[0., 0., 0., 0., 0.],
[0., 0., 0., 0., 0.],
[0., 0., 0., 0., 0.],
[0., 0., 0., 0., 0.],
[0., 0., 0., 0., 0.],
[0., 0., 0., 0., 0.]])""",
    parse=_parse.tensor,
    printed=True,
)
def edge_detection_transposed(bk):
    return pc.corr2d(bk.array(EDGES.T), bk.array([[1, -1]]))


@case(
    SEED,
    "7.2.5 text",
    "true convolution with the flipped kernel K' gives corr2d(X, K)",
    "learned kernel K' -> after flipped horizontally & vertically, same as K",
    expected=_parse.tensor(OUT_12),
)
def flipped_kernel(bk):
    # convolve flips its kernel: with K' = K flipped both ways it cross-correlates with K
    return pc.convolve(bk.array(EDGES), bk.array([[-1, 1]]))


@case(
    SEED,
    "In[16] comment",
    "8 - 3 + 2 + 1 = 8 for a 3x3 kernel with padding 1",
    "## output: 8*8 (8-3+2+1=8)",
    expected=(8, 8),
)
def padding_formula(bk):
    return pc.conv_output_shape((8, 8), 3, padding=1)


@case(
    SEED,
    "Out[16]",
    "LazyConv2d(1, kernel_size=3, padding=1) keeps 8x8",
    "torch.Size([8, 8])",
    parse=_parse.shape,
    printed=True,
)
def padding_same(bk):
    return _comp_conv2d_shape(bk, 3, padding=1)


@case(
    SEED,
    "In[17] comment",
    "8 - 5 + 4 + 1 = 8, 8 - 3 + 2 + 1 = 8 for a (5, 3) kernel with padding (2, 1)",
    "## output: 8-5+4+1=8, 8-3+2+1=8",
    expected=(8, 8),
)
def padding_rect_formula(bk):
    return pc.conv_output_shape((8, 8), (5, 3), padding=(2, 1))


@case(
    SEED,
    "Out[17]",
    "LazyConv2d(1, kernel_size=(5, 3), padding=(2, 1)) keeps 8x8",
    "torch.Size([8, 8])",
    parse=_parse.shape,
    printed=True,
)
def padding_rect(bk):
    return _comp_conv2d_shape(bk, (5, 3), padding=(2, 1))


@case(
    SEED,
    "In[18] comment",
    "(8 - 3 + 2 + 2) / 2 = 4 for stride 2",
    "## output: 8*8 ((8-3+2+2)/2=4, (8-3+2+2)/2=4)",
    expected=(4, 4),
    erratum="the comment's own terms give floor((8-3+2+2)/2) = 4 per axis, an output of 4*4 "
    "(what Out[18] prints), not the 8*8 it states",
)
def stride_formula(bk):
    return pc.conv_output_shape((8, 8), 3, padding=1, stride=2)


@case(
    SEED,
    "Out[18]",
    "LazyConv2d(1, kernel_size=3, padding=1, stride=2) gives 4x4",
    "torch.Size([4, 4])",
    parse=_parse.shape,
    printed=True,
)
def stride_two(bk):
    return _comp_conv2d_shape(bk, 3, padding=1, stride=2)


@case(
    SEED,
    "In[19] comment",
    "floor((8 - 3 + 0 + 3) / 3) = 2, floor((8 - 5 + 2 + 4) / 4) = 2",
    "## output: (8-3+0+3)/3 = 2, (8-5+2+4)/4=2",
    expected=(2, 2),
)
def stride_rect_formula(bk):
    # the floor is the one of the seed's stride formula in 7.3.2
    return pc.conv_output_shape((8, 8), (3, 5), padding=(0, 1), stride=(3, 4))


@case(
    SEED,
    "Out[19]",
    "LazyConv2d(1, kernel_size=(3, 5), padding=(0, 1), stride=(3, 4)) gives 2x2",
    "torch.Size([2, 2])",
    parse=_parse.shape,
    printed=True,
)
def stride_rect(bk):
    return _comp_conv2d_shape(bk, (3, 5), padding=(0, 1), stride=(3, 4))


@case(
    SEED,
    "7.4.1 text",
    "multi-input cross-correlation worked sum 56",
    "$(1 \\times 1 + 2 \\times 2 + 4 \\times 3 + 5 \\times 4) + (0 \\times 0 + 1 \\times 1 + "
    "3 \\times 2 + 4 \\times 3) = 56$",
    expected=56.0,
)
def multi_in_worked(bk):
    y = pc.conv2d(bk.array([X_MULTI]), bk.array(K_MULTI[None]))
    return float(bk.to_numpy(y)[0, 0, 0, 0])


@case(
    SEED,
    "Out[21]",
    "corr2d_multi_in(X, K)",
    """
tensor([[ 56.,  72.],
[104., 120.]])""",
    parse=_parse.tensor,
    printed=True,
)
def multi_in(bk):
    # In[21]'s source lost its brackets (it does not parse); Out[21] and Out[23] show that the
    # notebook ran the book's 3-D X (2, 3, 3) and K (2, 2, 2), as here
    return pc.conv2d(bk.array(X_MULTI), bk.array(K_MULTI[None]))[0, ...]


@case(
    SEED,
    "Out[23]",
    "K = stack((K, K + 1, K + 2), 0); K.shape",
    "torch.Size([3, 2, 2, 2])",
    parse=_parse.shape,
    printed=True,
)
def multi_out_kernel_shape(bk):
    return bk.array(K_MULTI_OUT).shape


@case(
    SEED,
    "Out[24]",
    "corr2d_multi_in_out(X, K)",
    OUT_24,
    expected=_parse.tensor(OUT_24)[0],
    erratum="the printout opens four brackets, a (1, 3, 2, 2) tensor, but corr2d_multi_in_out "
    "stacks three 2x2 results of the 3-D X into a (3, 2, 2) tensor (three brackets); the "
    "values are right",
)
def multi_in_out(bk):
    return pc.conv2d(bk.array(X_MULTI), bk.array(K_MULTI_OUT))


@case(
    SEED,
    "In[26]",
    "1x1 convolution equals a matrix product per pixel",
    "assert float(torch.abs(Y1 - Y2).sum()) < 1e-6",
    expected=True,
)
def one_by_one(bk):
    # in float64: in float32 the book's 1e-6 bound on a sum of 18 rounding errors depends on
    # the order in which a backend's kernel adds (MXNet's conv and matmul differ by 1.3e-6)
    rng = np.random.default_rng(26)
    x = rng.standard_normal((3, 3, 3))
    k = rng.standard_normal((2, 3, 1, 1))
    y1 = (k.reshape(2, 3) @ x.reshape(3, 9)).reshape(2, 3, 3)  # corr2d_multi_in_out_1x1
    y2 = bk.to_numpy(pc.conv2d(bk.array(x, "float64"), bk.array(k, "float64")))
    return bool(float(np.abs(y1 - y2).sum()) < 1e-6)


@case(
    SEED,
    "Out[28]",
    "pool2d(X, (2, 2))",
    """
tensor([[4., 5.],
[7., 8.]])""",
    parse=_parse.tensor,
    printed=True,
)
def pool_max(bk):
    return pc.pool2d(bk.array(X3), (2, 2))


@case(
    SEED,
    "Out[29]",
    "pool2d(X, (2, 2), 'avg')",
    """
tensor([[2., 3.],
[5., 6.]])""",
    parse=_parse.tensor,
    printed=True,
)
def pool_avg(bk):
    return pc.pool2d(bk.array(X3), (2, 2), "avg")


# 7.5.2's printouts close one bracket more than they open: their values, read after dropping
# the surplus bracket, are what the case checks
OUT_30 = """
tensor([[[[ 0.,  1.,  2.,  3.],
[ 4.,  5.,  6.,  7.],
[ 8.,  9., 10., 11.],
[12., 13., 14., 15.]]]]])"""
OUT_31 = "tensor([[[[10.]]]]])"
OUT_32 = """
tensor([[[[ 5.,  7.],
[13., 15.]]]]])"""
OUT_33 = """
tensor([[[[ 5.,  6.,  7.,  7.],
[ 9., 10., 11., 11.],
[13., 14., 15., 15.],
[13., 14., 15., 15.]]]]])"""
OUT_34 = """
tensor([[[[ 5.,  7.],
[13., 15.]]]]])"""
OUT_35 = """
tensor([[[[ 0.,  1.,  2.,  3.],
[ 4.,  5.,  6.,  7.],
[ 8.,  9., 10., 11.],
[12., 13., 14., 15.]],
[[ 1.,  2.,  3.,  4.],
[ 5.,  6.,  7.,  8.],
[ 9., 10., 11., 12.],
[13., 14., 15., 16.]]]]])"""


def _balanced(text: str) -> str:
    """The printout without its surplus closing bracket."""
    assert text.endswith("]]]]])"), text
    return text[: -len("]]]]])")] + "]]]])"


_FIVE_CLOSE = (
    "the printout closes five brackets after opening four (unbalanced); the code gives a "
    "(1, {}) tensor with these values"
)


@case(
    SEED,
    "Out[30]",
    "X = arange(16).reshape((1, 1, 4, 4))",
    OUT_30,
    expected=_parse.tensor(_balanced(OUT_30)),
    erratum=_FIVE_CLOSE.format("1, 4, 4"),
)
def arange_input(bk):
    return bk.array(ARANGE16)


@case(
    SEED,
    "Out[31]",
    "MaxPool2d(3)",
    OUT_31,
    expected=_parse.tensor(_balanced(OUT_31)),
    erratum=_FIVE_CLOSE.format("1, 1, 1"),
)
def maxpool_default_stride(bk):
    return pc.max_pool2d(bk.array(ARANGE16), 3)


@case(
    SEED,
    "Out[32]",
    "MaxPool2d(3, padding=1, stride=2)",
    OUT_32,
    expected=_parse.tensor(_balanced(OUT_32)),
    erratum=_FIVE_CLOSE.format("1, 2, 2"),
)
def maxpool_pad_stride(bk):
    return pc.max_pool2d(bk.array(ARANGE16), 3, padding=1, stride=2)


@case(
    SEED,
    "Out[33]",
    "MaxPool2d(3, padding=1, stride=1)",
    OUT_33,
    expected=_parse.tensor(_balanced(OUT_33)),
    erratum=_FIVE_CLOSE.format("1, 4, 4"),
)
def maxpool_pad_stride_one(bk):
    return pc.max_pool2d(bk.array(ARANGE16), 3, padding=1, stride=1)


@case(
    SEED,
    "Out[34]",
    "MaxPool2d((2, 3), stride=(2, 3), padding=(0, 1))",
    OUT_34,
    expected=_parse.tensor(_balanced(OUT_34)),
    erratum=_FIVE_CLOSE.format("1, 2, 2"),
)
def maxpool_rect(bk):
    return pc.max_pool2d(bk.array(ARANGE16), (2, 3), stride=(2, 3), padding=(0, 1))


@case(
    SEED,
    "Out[35]",
    "cat((X, X + 1), 1)",
    OUT_35,
    expected=_parse.tensor(_balanced(OUT_35)),
    erratum=_FIVE_CLOSE.format("2, 4, 4"),
)
def two_channels(bk):
    return bk.array(TWO_CHANNELS)


@case(
    SEED,
    "Out[36]",
    "MaxPool2d(3, padding=1, stride=2) on two channels",
    """
tensor([[[[ 5.,  7.],
[13., 15.]],

[[ 6.,  8.],
[14., 16.]]]])""",
    parse=_parse.tensor,
    printed=True,
)
def maxpool_two_channels(bk):
    return pc.max_pool2d(bk.array(TWO_CHANNELS), 3, padding=1, stride=2)


# -- exercises ------------------------------------------------------------------------------------


_RNG71 = np.random.default_rng(71)
X71 = _RNG71.standard_normal((4, 5, 3)).astype(np.float32)  # (i, j, c): channels last
V71 = _RNG71.standard_normal((3, 2)).astype(np.float32)  # (c, d)


@case(
    SEED,
    "ex 7.1.1",
    "a kernel with Delta = 0 is a per-pixel MLP over the channels",
    "= \\sum_c V_{c,d} X_{i,j,c}$$",
    expected=np.einsum("cd,ijc->ijd", V71.astype(np.float64), X71.astype(np.float64)).tolist(),
    rule="close",
    atol=1e-5,
)
def delta_zero(bk):
    # H[i, j, d] = sum_c V[c, d] X[i, j, c]: a 1x1 kernel (HWIO) on a channels-last image
    return pc.conv2d(bk.array(X71), bk.array(V71[None, None]), layout="channels_last")


@case(
    SEED,
    "ex 7.2 Out[15]",
    "corr2d of the seed's diagonal-edge image with K = [[1, -1]]",
    """
tensor([[ 0.,  0.,  0.,  0.],
[-1.,  0.,  0.,  0.],
[ 0., -1.,  0.,  0.],
[ 0.,  0., -1.,  0.],
[ 0.,  0.,  0., -1.]])""",
    parse=_parse.tensor,
    printed=True,
)
def diagonal_edges(bk):
    return pc.corr2d(bk.array(UPPER), bk.array([[1, -1]]))


@case(
    SEED,
    "ex 7.2 Out[35]",
    "corr2d(X.T, K) on the diagonal-edge image",
    """
tensor([[1., 0., 0., 0.],
[0., 1., 0., 0.],
[0., 0., 1., 0.],
[0., 0., 0., 1.],
[0., 0., 0., 0.]])""",
    parse=_parse.tensor,
    printed=True,
)
def diagonal_edges_x_transposed(bk):
    return pc.corr2d(bk.array(UPPER.T), bk.array([[1, -1]]))


@case(
    SEED,
    "ex 7.2 Out[36]",
    "corr2d(X, K.T) on the diagonal-edge image",
    """
tensor([[1., 0., 0., 0., 0.],
[0., 1., 0., 0., 0.],
[0., 0., 1., 0., 0.],
[0., 0., 0., 1., 0.]])""",
    parse=_parse.tensor,
    printed=True,
)
def diagonal_edges_k_transposed(bk):
    return pc.corr2d(bk.array(UPPER), bk.array([[1], [-1]]))


@case(
    SEED,
    "ex 7.2.2",
    "the size-3 kernel (1, -2, 1) is the second derivative: 2 on samples of t^2",
    "(1, -2, 1). Minimum size 3",
    expected=[[2.0] * 5] * 2,
)
def second_derivative(bk):
    t = np.arange(7.0)
    return pc.corr2d(bk.array([t**2, (t - 3) ** 2]), bk.array([[1, -2, 1]]))


@case(
    SEED,
    "ex 7.3",
    "(8 - 3 + 0 + 3) / 3 = 2, (8 - 5 + 1 + 4) / 4 = 2",
    "output: $(2, 2)$ $((8 - 3 + 0 + 3) / 3 = 2, (8 - 5 + 1 + 4) / 4 = 2)$",
    expected=(2, 2),
    erratum="padding=(0, 1) pads one column on each side, so p_w = 2: the true width term is "
    "floor((8-5+2+4)/4) = 2 (the printed (8-5+1+4)/4 = 2 only by luck of the floor)",
)
def ex_stride_rect_formula(bk):
    return pc.conv_output_shape((8, 8), (3, 5), padding=(0, 1), stride=(3, 4))


@case(
    SEED,
    "ex 7.4",
    "two stacked kernels k1, k2 are one kernel of size k1 + k2 - 1",
    "$k_1 + k_2 - 1$",
    expected=((4, 4), True),
)
def stacked_kernels(bk):
    rng = np.random.default_rng(74)
    x, k1, k2 = (rng.standard_normal(s).astype(np.float32) for s in ((9, 9), (3, 3), (2, 2)))
    twice = pc.corr2d(pc.corr2d(bk.array(x), bk.array(k1)), bk.array(k2))
    # cross-correlating with k1 then k2 is cross-correlating with the full convolution k1 * k2
    k = pc.convolve(bk.array(k1), bk.array(k2), padding=1)
    once = pc.corr2d(bk.array(x), k)
    same = np.allclose(bk.to_numpy(once), bk.to_numpy(twice), rtol=1e-5, atol=1e-5)
    return (tuple(k.shape), bool(same))


@case(
    SEED,
    "ex 7.5 Out[128]",
    "X = arange(16).reshape(4, 4)",
    """
tensor([[ 0.,  1.,  2.,  3.],
[ 4.,  5.,  6.,  7.],
[ 8.,  9., 10., 11.],
[12., 13., 14., 15.]])""",
    parse=_parse.tensor,
    printed=True,
)
def ex_arange(bk):
    return bk.array(ARANGE16[0, 0])


@case(
    SEED,
    "ex 7.5 Out[130]",
    "pool2d(X, (2, 2), 'avg')",
    OUT_130,
    parse=_parse.tensor,
    printed=True,
)
def ex_pool_avg(bk):
    return pc.pool2d(bk.array(ARANGE16[0, 0]), (2, 2), "avg")


@case(
    SEED,
    "ex 7.5.1",
    "average pooling as a convolution with a constant 2x2 kernel of 1/4",
    "Implement average pooling through a convolution",
    expected=_parse.tensor(OUT_130),
)
def avg_pool_as_conv(bk):
    return pc.corr2d(bk.array(ARANGE16[0, 0]), bk.array(np.full((2, 2), 0.25)))


_A = np.random.default_rng(75).integers(-9, 10, size=(3, 4)).astype(np.float32)
_B = np.random.default_rng(76).integers(-9, 10, size=(3, 4)).astype(np.float32)


@case(
    SEED,
    "ex 7.5.3 A",
    "max(a, b) = ReLU(a - b) + b",
    "$\\max(a, b) = \\max(0, a - b) + b = \\text{ReLU}(a - b) + b$",
    expected=np.maximum(_A, _B).tolist(),
)
def max_by_relu(bk):
    a, b = bk.array(_A), bk.array(_B)
    return _relu(a - b) + b


_IMG = np.random.default_rng(77).integers(-9, 10, size=(5, 6)).astype(np.float32)


@case(
    SEED,
    "ex 7.5.3",
    "2x2 max pooling from ReLU operations equals pool2d(X, (2, 2))",
    "Max-pooling can be accomplished using ReLU operations",
    expected=np.max([_IMG[:-1, :-1], _IMG[:-1, 1:], _IMG[1:, :-1], _IMG[1:, 1:]], axis=0).tolist(),
)
def max_pool_by_relu(bk):
    x = bk.array(_IMG)
    top = _relu(x[:-1, :-1] - x[:-1, 1:]) + x[:-1, 1:]  # max of the window's upper pair
    bottom = _relu(x[1:, :-1] - x[1:, 1:]) + x[1:, 1:]
    by_relu = _relu(top - bottom) + bottom
    if not np.array_equal(bk.to_numpy(by_relu), bk.to_numpy(pc.pool2d(x, (2, 2)))):
        raise AssertionError("max pooling from ReLU differs from pool2d(X, (2, 2))")
    return by_relu


# 7.2.4 Learning a kernel: LazyConv2d(1, kernel_size=(1, 2), bias=False), whose weight starts
# from PyTorch's default kaiming_uniform(a=sqrt(5)): U(-1/sqrt(2), 1/sqrt(2)) for fan_in 2.
_replay.register(
    SEED,
    log_cell="In[14]",
    log_text="""
epoch 2, loss 2.793
epoch 4, loss 0.576
epoch 6, loss 0.141
epoch 8, loss 0.042
epoch 10, loss 0.014""",
    kernel_cell="Out[15]",
    kernel_text="tensor([[ 0.9805, -1.0036]])",
    steps=10,
    lr=3e-2,
    init=(-(0.5**0.5), 0.5**0.5),
    init_name="PyTorch's default initialiser",
    gluon=False,
    kernel_shape=(1, 2),
    printed_kernel="repr",
)


# -- the models (7.6, 8.2, 8.6) ----------------------------------------------------------------


def _summary(bk, model, shape):
    """The book's ``model.layer_summary(shape)``: its rows, and what it printed."""
    out = io.StringIO()
    rows = model.layer_summary(shape, like=bk.array([0.0]), file=out)
    return Noted(rows, shown=out.getvalue())


@case(
    SEED,
    "In[38]",
    "LeNet().layer_summary((1, 1, 28, 28))",
    """
Conv2d output shape:      torch.Size([1, 6, 28, 28])
Sigmoid output shape:     torch.Size([1, 6, 28, 28])
AvgPool2d output shape:   torch.Size([1, 6, 14, 14])
Conv2d output shape:      torch.Size([1, 16, 10, 10])
Sigmoid output shape:     torch.Size([1, 16, 10, 10])
AvgPool2d output shape:   torch.Size([1, 16, 5, 5])
Flatten output shape:     torch.Size([1, 400])
Linear output shape:      torch.Size([1, 120])
Sigmoid output shape:     torch.Size([1, 120])
Linear output shape:      torch.Size([1, 84])
Sigmoid output shape:     torch.Size([1, 84])
Linear output shape:      torch.Size([1, 10])""",
    parse=_parse.summary,
    printed="str",
)
def lenet_summary(bk):
    return _summary(bk, pc.models.LeNet(), (1, 1, 28, 28))


_VGG11_SUMMARY = """
Sequential output shape:      torch.Size([1, 64, 112, 112])
Sequential output shape:      torch.Size([1, 128, 56, 56])
Sequential output shape:      torch.Size([1, 256, 28, 28])
Sequential output shape:      torch.Size([1, 512, 14, 14])
Sequential output shape:      torch.Size([1, 512, 7, 7])
Flatten output shape:         torch.Size([1, 25088])
Linear output shape:           torch.Size([1, 4096])
ReLU output shape:            torch.Size([1, 4096])
Dropout output shape:         torch.Size([1, 4096])
Linear output shape:           torch.Size([1, 4096])
ReLU output shape:            torch.Size([1, 4096])
Dropout output shape:         torch.Size([1, 4096])
Linear output shape:           torch.Size([1, 10])"""


@case(
    SEED,
    "In[6]",
    "VGG-11 layer_summary((1, 1, 224, 224))",
    _VGG11_SUMMARY,
    parse=_parse.summary,
    printed="str",
)
def vgg11_summary(bk):
    arch = ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512))
    return _summary(bk, pc.models.VGG(arch), (1, 1, 224, 224))


@case(
    SEED,
    "In[8]",
    "VGG-16 layer_summary((1, 1, 224, 224)) (exercise 8.2.3)",
    """
Sequential output shape:      torch.Size([1, 64, 112, 112])
Sequential output shape:      torch.Size([1, 128, 56, 56])
Sequential output shape:      torch.Size([1, 256, 28, 28])
Sequential output shape:      torch.Size([1, 512, 14, 14])
Sequential output shape:      torch.Size([1, 512, 7, 7])
Flatten output shape:         torch.Size([1, 25088])
Linear output shape:          torch.Size([1, 4096])
ReLU output shape:            torch.Size([1, 4096])
Dropout output shape:         torch.Size([1, 4096])
Linear output shape:          torch.Size([1, 4096])
ReLU output shape:            torch.Size([1, 4096])
Dropout output shape:         torch.Size([1, 4096])
Linear output shape:          torch.Size([1, 10])""",
    parse=_parse.summary,
    printed="str",
)
def vgg16_summary(bk):
    arch = ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512))
    return _summary(bk, pc.models.VGG(arch), (1, 1, 224, 224))


@case(
    SEED,
    "exercise 8.2.1",
    "VGG: 138~144 million parameters (VGG-16 and VGG-19, ImageNet input and classes)",
    "AlexNet: 60 million / VGG: 138~144 million",
    expected=(True, True),
)
def vgg_parameters(bk):
    counts = [
        pc.models.count_parameters(pc.models.VGG(arch, num_classes=1000), (1, 3, 224, 224))
        for arch in (pc.models.VGG_ARCHS["VGG16"], pc.models.VGG_ARCHS["VGG19"])
    ]
    note = f"VGG-16 {counts[0]:,}, VGG-19 {counts[1]:,} parameters"
    return Noted(tuple(138e6 <= c < 145e6 for c in counts), note)


@case(
    SEED,
    "exercise 8.2.1 AlexNet",
    "AlexNet: 60 million parameters",
    "AlexNet: 60 million / VGG: 138~144 million",
    expected=50_844_008,
    erratum="60 million is the original AlexNet of Krizhevsky et al. (its 6x6 final feature "
    "map and 227x227 input); the AlexNet this book builds (8.1) has 50,844,008 "
    "parameters on the same 3x224x224 input with 1000 classes, which is checked",
)
def alexnet_parameters(bk):
    return pc.models.count_parameters(pc.models.AlexNet(num_classes=1000), (1, 3, 224, 224))


@case(
    SEED,
    "Out[24]",
    "Residual(3) keeps (4, 3, 6, 6)",
    "torch.Size([4, 3, 6, 6])",
    parse=_parse.shape,
    printed="repr",
)
def residual_same(bk):
    x = bk.array(np.random.default_rng(24).standard_normal((4, 3, 6, 6)))
    return pc.models.Residual(3)(x).data.shape


@case(
    SEED,
    "Out[26]",
    "Residual(6, use_1x1conv=True, strides=2) gives (4, 6, 3, 3)",
    "torch.Size([4, 6, 3, 3])",
    parse=_parse.shape,
    printed="repr",
)
def residual_down(bk):
    x = bk.array(np.random.default_rng(24).standard_normal((4, 3, 6, 6)))
    return pc.models.Residual(6, use_1x1conv=True, strides=2)(x).data.shape


@case(
    SEED,
    "In[35]",
    "ResNet18().layer_summary((1, 1, 96, 96))",
    """
Sequential output shape:      torch.Size([1, 64, 24, 24])
Sequential output shape:      torch.Size([1, 64, 24, 24])
Sequential output shape:      torch.Size([1, 128, 12, 12])
Sequential output shape:      torch.Size([1, 256, 6, 6])
Sequential output shape:      torch.Size([1, 512, 3, 3])
Sequential output shape:      torch.Size([1, 10])""",
    parse=_parse.summary,
    printed="str",
)
def resnet18_summary(bk):
    return _summary(bk, pc.models.ResNet18(), (1, 1, 96, 96))
