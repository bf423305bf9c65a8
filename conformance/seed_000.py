"""Seed 000_199e6c1d1a4f81cd.txt: D2L 5.1-5.5 with MXNet ``nd`` and Gluon (the book's first
edition). Its own framework here is the ``mxnet.nd`` backend."""

from __future__ import annotations

import numpy as np

import portconv as pc

from . import _parse, _replay
from ._registry import case

SEED = "000_199e6c1d1a4f81cd.txt"

X3 = [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
K2 = [[0, 1], [2, 3]]
EDGES = np.ones((6, 8))
EDGES[:, 2:6] = 0
X_MULTI = [[[0, 1, 2], [3, 4, 5], [6, 7, 8]], [[1, 2, 3], [4, 5, 6], [7, 8, 9]]]
K_MULTI = np.array([[[0, 1], [2, 3]], [[1, 2], [3, 4]]])


def _comp_conv2d_shape(bk, kernel_size, padding=0, stride=1):
    """The book's comp_conv2d(...).shape: a one-channel 8x8 input through Conv2D(1, ...)."""
    x = bk.array(np.random.default_rng(0).uniform(size=(1, 1, 8, 8)))
    k = (kernel_size,) * 2 if isinstance(kernel_size, int) else kernel_size
    w = bk.array(np.random.default_rng(1).uniform(-0.07, 0.07, size=(1, 1) + tuple(k)))
    y = pc.conv2d(x, w, padding=padding, stride=stride)
    return y.shape[2:]


@case(
    SEED,
    "5.2.1 text",
    "cross-correlation worked sums 19, 25, 37, 43",
    "0\\times0+1\\times1+3\\times2+4\\times3=19,\\\\ 1\\times0+2\\times1+4\\times2+5\\times3=25,"
    "\\\\ 3\\times0+4\\times1+6\\times2+7\\times3=37,\\\\ 4\\times0+5\\times1+7\\times2+8\\times"
    "3=43.",
    expected=[[19.0, 25.0], [37.0, 43.0]],
)
def worked_sums(bk):
    return pc.corr2d(bk.array(X3), bk.array(K2))


@case(
    SEED,
    "Out[2]",
    "corr2d(X, K)",
    """
[[19. 25.]
[37. 43.]]
<NDArray 2x2 @cpu(0)>""",
    parse=_parse.ndarray,
    printed=True,
)
def corr2d_book(bk):
    return pc.corr2d(bk.array(X3), bk.array(K2))


@case(
    SEED,
    "Out[6]",
    "edge detection Y = corr2d(X, K)",
    """
[[ 0.  1.  0.  0.  0. -1.  0.]
[ 0.  1.  0.  0.  0. -1.  0.]
[ 0.  1.  0.  0.  0. -1.  0.]
[ 0.  1.  0.  0.  0. -1.  0.]
[ 0.  1.  0.  0.  0. -1.  0.]
[ 0.  1.  0.  0.  0. -1.  0.]]
<NDArray 6x7 @cpu(0)>""",
    parse=_parse.ndarray,
    printed=True,
)
def edge_detection(bk):
    return pc.corr2d(bk.array(EDGES), bk.array([[1, -1]]))


@case(
    SEED,
    "Out[7]",
    "corr2d(X.T, K) vanishes",
    """
[[0. 0. 0. 0. 0.]
[0. 0. 0. 0. 0.]
[0. 0. 0. 0. 0.]
[0. 0. 0. 0. 0.]
[0. 0. 0. 0. 0.]
[0. 0. 0. 0. 0.]
[0. 0. 0. 0. 0.]
[0. 0. 0. 0. 0.]]
<NDArray 8x5 @cpu(0)>""",
    parse=_parse.ndarray,
    printed=True,
)
def edge_detection_transposed(bk):
    return pc.corr2d(bk.array(EDGES.T), bk.array([[1, -1]]))


@case(
    SEED,
    "5.3 text",
    "240x240 through ten 5x5 convolutions gives 200x200",
    "If we start with a 240x240 pixel image, 10 layers of 5x5 convolutions reduce the image "
    "to 200x200 pixels",
    expected=(200, 200),
)
def ten_layers(bk):
    size = (240, 240)
    for _ in range(10):
        size = pc.conv_output_shape(size, 5)
    return size


@case(
    SEED,
    "Out[20]",
    "Conv2D(1, kernel_size=3, padding=1) keeps 8x8",
    "(8, 8)",
    parse=_parse.shape,
    printed=True,
)
def padding_same(bk):
    return _comp_conv2d_shape(bk, 3, padding=1)


@case(
    SEED,
    "5.3 formula",
    "(8 - 3 + 2 + 1) x (8 - 3 + 2 + 1) = (8, 8)",
    "(n_h-k_h+p_h+1)\\times(n_w-k_w+p_w+1) = (8 - 3 + 2 + 1) * (8 - 3 + 2 + 1) = (8, 8)",
    expected=(8, 8),
)
def padding_formula(bk):
    return pc.conv_output_shape((8, 8), 3, padding=1)


@case(
    SEED,
    "Out[23]",
    "Conv2D(1, kernel_size=(5, 3), padding=(2, 1)) keeps 8x8",
    "(8, 8)",
    parse=_parse.shape,
    printed=True,
)
def padding_rect(bk):
    return _comp_conv2d_shape(bk, (5, 3), padding=(2, 1))


@case(
    SEED,
    "Out[22]",
    "Conv2D(1, kernel_size=3, padding=1, strides=2) gives 4x4",
    "(4, 4)",
    parse=_parse.shape,
    printed=True,
)
def stride_two(bk):
    return _comp_conv2d_shape(bk, 3, padding=1, stride=2)


@case(
    SEED,
    "5.3.2 formula",
    "floor((8-3+2+2)/2) x floor((8-3+2+2)/2) = (4, 4)",
    "\\lfloor(8-3+2+2)/2\\rfloor \\times \\lfloor(8-3+2+2)/2\\rfloor$ = (4, 4)",
    expected=(4, 4),
)
def stride_formula(bk):
    return pc.conv_output_shape((8, 8), 3, stride=2, padding=1)


@case(
    SEED,
    "Out[25]",
    "Conv2D(1, kernel_size=(3, 5), padding=(0, 1), strides=(3, 4))",
    "(2, 2)",
    parse=_parse.shape,
    printed=True,
)
def stride_rect(bk):
    return _comp_conv2d_shape(bk, (3, 5), padding=(0, 1), stride=(3, 4))


@case(
    SEED,
    "5.3.2 formula 2",
    "floor((8-3+0+3)/3) x floor((8-5+2+4)/4)",
    "\\lfloor(8-3+0+3)/3\\rfloor \\times \\lfloor(8-5+2+4)/4\\rfloor$ = (4, 4)",
    expected=(2, 2),
    erratum="the text's own terms give floor(8/3) x floor(9/4) = (2, 2), which is also what "
    "Out[25] prints; the '= (4, 4)' was copied from the formula above it",
)
def stride_formula_rect(bk):
    return pc.conv_output_shape((8, 8), (3, 5), stride=(3, 4), padding=(0, 1))


@case(
    SEED,
    "5.4.1 text",
    "multi-input cross-correlation worked sum 56",
    "(1\\times1+2\\times2+4\\times3+5\\times4)+(0\\times0+1\\times1+3\\times2+4\\times3)=56",
    expected=56.0,
)
def multi_in_worked(bk):
    y = pc.conv2d(bk.array([X_MULTI]), bk.array(K_MULTI[None]))
    return float(bk.to_numpy(y)[0, 0, 0, 0])


@case(
    SEED,
    "Out[27]",
    "corr2d_multi_in(X, K)",
    """
[[ 56.  72.]
[104. 120.]]
<NDArray 2x2 @cpu(0)>""",
    parse=_parse.ndarray,
    printed=True,
)
def multi_in(bk):
    # one output channel, unbatched: (C_in, H, W) with a (1, C_in, kh, kw) kernel
    return pc.conv2d(bk.array(X_MULTI), bk.array(K_MULTI[None]))[0, ...]


@case(
    SEED,
    "Out[31]",
    "K = stack(K, K + 1, K + 2); K.shape",
    "(3, 2, 2, 2)",
    parse=_parse.shape,
    printed=True,
)
def multi_out_kernel_shape(bk):
    return bk.array(np.stack([K_MULTI, K_MULTI + 1, K_MULTI + 2])).shape


@case(
    SEED,
    "Out[32]",
    "corr2d_multi_in_out(X, K)",
    """
[[[ 56.  72.]
[104. 120.]]

[[ 76. 100.]
[148. 172.]]

[[ 96. 128.]
[192. 224.]]]
<NDArray 3x2x2 @cpu(0)>""",
    parse=_parse.ndarray,
    printed=True,
)
def multi_in_out(bk):
    return pc.conv2d(bk.array(X_MULTI), bk.array(np.stack([K_MULTI, K_MULTI + 1, K_MULTI + 2])))


@case(
    SEED,
    "Out[35]",
    "1x1 convolution equals a fully connected layer per pixel",
    "True",
    parse=_parse.boolean,
)
def one_by_one(bk):
    rng = np.random.default_rng(35)
    x = rng.uniform(size=(3, 3, 3)).astype(np.float32)
    k = rng.uniform(size=(2, 3, 1, 1)).astype(np.float32)
    y1 = k.reshape(2, 3) @ x.reshape(3, 9)  # the book's corr2d_multi_in_out_1x1 (a matmul)
    y2 = bk.to_numpy(pc.conv2d(bk.array(x), bk.array(k)))
    return bool(np.linalg.norm(y1.reshape(2, 3, 3) - y2) < 1e-6)


@case(
    SEED,
    "5.5.1 text",
    "max pooling worked maxima 4, 5, 7, 8",
    "\\max(0,1,3,4)=4,\\\\ \\max(1,2,4,5)=5,\\\\ \\max(3,4,6,7)=7,\\\\ \\max(4,5,7,8)=8.",
    expected=[[4.0, 5.0], [7.0, 8.0]],
)
def pool_worked(bk):
    return pc.pool2d(bk.array(X3), (2, 2))


@case(
    SEED,
    "Out[37]",
    "pool2d(X, (2, 2))",
    """
[[4. 5.]
[7. 8.]]
<NDArray 2x2 @cpu(0)>""",
    parse=_parse.ndarray,
    printed=True,
)
def pool_max(bk):
    return pc.pool2d(bk.array(X3), (2, 2))


@case(
    SEED,
    "Out[38]",
    "pool2d(X, (2, 2), 'avg')",
    """
[[2. 3.]
[5. 6.]]
<NDArray 2x2 @cpu(0)>""",
    parse=_parse.ndarray,
    printed=True,
)
def pool_avg(bk):
    return pc.pool2d(bk.array(X3), (2, 2), "avg")


ARANGE16 = np.arange(16).reshape((1, 1, 4, 4))


@case(
    SEED,
    "Out[39]",
    "X = arange(16).reshape((1, 1, 4, 4))",
    """
[[[[ 0.  1.  2.  3.]
[ 4.  5.  6.  7.]
[ 8.  9. 10. 11.]
[12. 13. 14. 15.]]]]
<NDArray 1x1x4x4 @cpu(0)>""",
    parse=_parse.ndarray,
    printed=True,
)
def arange_input(bk):
    return bk.array(ARANGE16)


@case(
    SEED,
    "Out[40]",
    "MaxPool2D(3)",
    """
[[[[10.]]]]
<NDArray 1x1x1x1 @cpu(0)>""",
    parse=_parse.ndarray,
    printed=True,
)
def maxpool_default_stride(bk):
    return pc.max_pool2d(bk.array(ARANGE16), 3)


@case(
    SEED,
    "Out[41]",
    "MaxPool2D(3, padding=1, strides=2)",
    """
[[[[ 5.  7.]
[13. 15.]]]]
<NDArray 1x1x2x2 @cpu(0)>""",
    parse=_parse.ndarray,
    printed=True,
)
def maxpool_pad_stride(bk):
    return pc.max_pool2d(bk.array(ARANGE16), 3, padding=1, strides=2)


@case(
    SEED,
    "Out[42]",
    "MaxPool2D((2, 3), padding=(1, 2), strides=(2, 3))",
    """
[[[[ 0.  3.]
[ 8. 11.]
[12. 15.]]]]
<NDArray 1x1x3x2 @cpu(0)>""",
    parse=_parse.ndarray,
    printed=True,
)
def maxpool_padding_beyond_half(bk):
    # padding 2 on a window of width 3: MXNet allows it, PyTorch refuses; portconv runs it
    return pc.max_pool2d(bk.array(ARANGE16), (2, 3), padding=(1, 2), strides=(2, 3))


TWO_CHANNELS = np.concatenate([ARANGE16, ARANGE16 + 1], axis=1)


@case(
    SEED,
    "Out[44]",
    "concat(X, X + 1, dim=1)",
    """
[[[[ 0.  1.  2.  3.]
[ 4.  5.  6.  7.]
[ 8.  9. 10. 11.]
[12. 13. 14. 15.]]

[[ 1.  2.  3.  4.]
[ 5.  6.  7.  8.]
[ 9. 10. 11. 12.]
[13. 14. 15. 16.]]]]
<NDArray 1x2x4x4 @cpu(0)>""",
    parse=_parse.ndarray,
    printed=True,
)
def two_channels(bk):
    return bk.array(TWO_CHANNELS)


@case(
    SEED,
    "Out[45]",
    "MaxPool2D(3, padding=1, strides=2) on two channels",
    """
[[[[ 5.  7.]
[13. 15.]]

[[ 6.  8.]
[14. 16.]]]]
<NDArray 1x2x2x2 @cpu(0)>""",
    parse=_parse.ndarray,
    printed=True,
)
def maxpool_two_channels(bk):
    return pc.max_pool2d(bk.array(TWO_CHANNELS), 3, padding=1, strides=2)


# 5.2.4 Learning a kernel: Gluon's Conv2D(channels=1, kernel_size=(1, 2)) has a bias,
# initialised to zero and never updated by the loop; its weight starts from Gluon's default
# Uniform(-0.07, 0.07).
_replay.register(
    SEED,
    log_cell="In[18]",
    log_text="""
batch 1, loss 12.495
batch 2, loss 5.132
batch 3, loss 2.111
batch 4, loss 0.871
batch 5, loss 0.360
batch 6, loss 0.150
batch 7, loss 0.063
batch 8, loss 0.027
batch 9, loss 0.012
batch 10, loss 0.005""",
    kernel_cell="Out[19]",
    kernel_text="""
[[ 0.9917276 -0.9848021]]
<NDArray 1x2 @cpu(0)>""",
    steps=10,
    lr=3e-2,
    init=(-0.07, 0.07),
    init_name="Gluon's default initialiser",
    gluon=True,
    kernel_shape=(1, 2),
    printed_kernel="repr",
)
