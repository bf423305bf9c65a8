"""Seed 001_311510ee5bf2f193.txt: convolutions and pooling with MXNet's ``np`` interface and
Gluon. Its own framework here is the ``mxnet`` backend (``mx.np`` arrays)."""

from __future__ import annotations

import numpy as np

import portconv as pc

from . import _parse
from ._registry import case

SEED = "001_311510ee5bf2f193.txt"

X3 = [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
K2 = [[0, 1], [2, 3]]
ARANGE16 = np.arange(16).reshape((1, 1, 4, 4))


def _comp_conv2d_shape(bk, kernel_size, padding, stride):
    """The seed's comp_conv2d(conv2d, X).shape for an 8x8 input and one output channel."""
    x = bk.array(np.random.default_rng(6).uniform(size=(1, 1, 8, 8)))
    k = (kernel_size,) * 2 if isinstance(kernel_size, int) else kernel_size
    w = bk.array(np.random.default_rng(7).uniform(-0.07, 0.07, size=(1, 1) + tuple(k)))
    return pc.conv2d(x, w, padding=padding, stride=stride).shape[2:]


@case(
    SEED,
    "text",
    "cross-correlation worked sums 19, 25, 37, 43",
    "0\\times0+1\\times1+3\\times2+4\\times3=19,\\\\ 1\\times0+2\\times1+4\\times2+5\\times3=25,"
    "\\\\ 3\\times0+4\\times1+6\\times2+7\\times3=37,\\\\ 4\\times0+5\\times1+7\\times2+8\\times"
    "3=43,\\\\",
    expected=[[19.0, 25.0], [37.0, 43.0]],
)
def worked_sums(bk):
    return pc.corr2d(bk.array(X3), bk.array(K2))


@case(
    SEED,
    "Out[3]",
    "corr2d(X, K)",
    """
array([[19., 25.],
[37., 43.]])""",
    parse=_parse.np_array,
    printed=True,
)
def corr2d_book(bk):
    return pc.corr2d(bk.array(X3), bk.array(K2))


@case(
    SEED,
    "Out[6]",
    "Conv2D(channels=1, kernel_size=3, padding=1, strides=2) on 8x8",
    "(4, 4)",
    parse=_parse.shape,
    printed=True,
)
def stride_two(bk):
    return _comp_conv2d_shape(bk, 3, padding=1, stride=2)


@case(
    SEED,
    "Out[6] formula",
    "floor((8 - 3 + 1 + 2) / 2) x floor((8 - 3 + 1 + 2) / 2)",
    "\\lfloor(8 - 3 + 1 + 2) / 2\\rfloor \\times \\lfloor(8 - 3 + 1 + 2) / 2\\rfloor \\\\ & = "
    "(4, 4)",
    expected=(4, 4),
    erratum="p_h in the book's formula is the total padding (2 for padding=1), not 1: "
    "floor((8-3+1+2)/2) = 4 only by luck of the floor; the true terms are "
    "floor((8-3+2+2)/2) = 4",
)
def stride_two_formula(bk):
    return pc.conv_output_shape((8, 8), 3, padding=1, stride=2)


@case(
    SEED,
    "Out[7]",
    "Conv2D(1, kernel_size=(3, 5), padding=(0, 1), strides=(3, 4)) on 8x8",
    "(2, 2)",
    parse=_parse.shape,
    printed=True,
)
def stride_rect(bk):
    return _comp_conv2d_shape(bk, (3, 5), padding=(0, 1), stride=(3, 4))


@case(
    SEED,
    "Out[7] formula",
    "floor((8 - 3 + 0 + 3)/3) x floor((8 - 5 + 1 + 4)/4) = (2, 2)",
    "\\lfloor(8 - 3 + 0 + 3)/3\\rfloor \\times \\lfloor(8 - 5 + 1 + 4)/4\\rfloor \\\\ & = (2, 2)",
    expected=(2, 2),
    erratum="padding=(0, 1) pads 1 column on each side, so p_w = 2: the true width term is "
    "floor((8-5+2+4)/4) = 2 (the printed floor((8-5+1+4)/4) = 2 only by luck)",
)
def stride_rect_formula(bk):
    return pc.conv_output_shape((8, 8), (3, 5), padding=(0, 1), stride=(3, 4))


@case(
    SEED,
    "Out[8]",
    "pool2d(X, (2, 2))",
    """
array([[4., 5.],
[7., 8.]])""",
    parse=_parse.np_array,
    printed=True,
)
def pool_max(bk):
    return pc.pool2d(bk.array(X3), (2, 2))


@case(
    SEED,
    "In[9] print",
    "print(X) for X = arange(16).reshape((1, 1, 4, 4))",
    """
[[[[ 0.  1.  2.  3.]
[ 4.  5.  6.  7.]
[ 8.  9. 10. 11.]
[12. 13. 14. 15.]]]]""",
    parse=_parse.plain,
    printed="str",
)
def arange_input(bk):
    return bk.array(ARANGE16)


@case(
    SEED,
    "Out[9]",
    "pool2d(X) on a (1, 1, 4, 4) input",
    """
array([[[[ 5.,  7.],
[13., 15.]]]])""",
    expected=[[[[5.0, 7.0], [13.0, 15.0]]]],
    erratum="the documented call pool2d(X) is missing pool_size, and the seed's pool2d is "
    "2-D only, so the cell cannot print this; the values are those of max pooling "
    "with a 3x3 window, padding 1, stride 2 (D2L's MaxPool2D(3, padding=1, "
    "strides=2)), which is what the case checks",
)
def pool_missing_argument(bk):
    return pc.max_pool2d(bk.array(ARANGE16), 3, padding=1, stride=2)


TWO_CHANNELS = np.concatenate([ARANGE16, ARANGE16 + 1], axis=1)


@case(
    SEED,
    "In[10] print",
    "print(X) for concatenate((X, X + 1), axis=1)",
    """
[[[[ 0.  1.  2.  3.]
[ 4.  5.  6.  7.]
[ 8.  9. 10. 11.]
[12. 13. 14. 15.]]

[[ 1.  2.  3.  4.]
[ 5.  6.  7.  8.]
[ 9. 10. 11. 12.]
[13. 14. 15. 16.]]]]""",
    parse=_parse.plain,
    printed="str",
)
def two_channels(bk):
    return bk.array(TWO_CHANNELS)


@case(
    SEED,
    "In[10] print 2",
    'print("Input shape :", X.shape)',
    "shape : (1, 2, 4, 4)",
    expected=(1, 2, 4, 4),
    erratum='the code prints "Input shape : (1, 2, 4, 4)"; the documented line lost "Input "',
)
def two_channels_shape(bk):
    return bk.array(TWO_CHANNELS).shape


@case(
    SEED,
    "Out[10]",
    "pool2d(X) on two channels",
    """
array([[[[ 5.,  7.],
[13., 15.]],

[[ 6.,  8.],
[14., 16.]]]])""",
    expected=[[[[5.0, 7.0], [13.0, 15.0]], [[6.0, 8.0], [14.0, 16.0]]]],
    erratum="the call pool2d(X) is missing pool_size (as in Out[9]); the values are "
    "those of MaxPool2D(3, padding=1, strides=2) applied per channel",
)
def pool_two_channels(bk):
    return pc.max_pool2d(bk.array(TWO_CHANNELS), 3, padding=1, stride=2)
