"""Seed 003_55d8c69464c26305.txt: notes on D2L's convolutions with PyTorch: cross-correlation,
padding and stride worked in LaTeX figures, and a LeNet-5. Its own framework here is the
``torch`` backend.

Left for the model layer (``portconv.nn``): the learning-a-kernel loss log (In[28]) and the
learned kernel (In[29]), and LeNet5's shape printouts and predicted class (In[76])."""

from __future__ import annotations

import contextlib
import io

import numpy as np

import portconv as pc

from . import _parse, _replay
from ._registry import Noted, case

SEED = "003_55d8c69464c26305.txt"

X3 = [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
K2 = [[0, 1], [2, 3]]
EDGES = np.ones((6, 8))
EDGES[:, 2:6] = 0


@case(
    SEED,
    "a. figure",
    "X * K = [[19, 25], [37, 43]]",
    """
\\begin{bmatrix}
19 & 25\\\\
37 & 43
\\end{bmatrix}""",
    parse=_parse.bmatrix,
)
def figure(bk):
    return pc.corr2d(bk.array(X3), bk.array(K2))


@case(
    SEED,
    "a. text",
    "cross-correlation worked sums 19, 25, 37, 43",
    """
0\\times0+1\\times1+3\\times2+4\\times3=19,\\\\
1\\times0+2\\times1+4\\times2+5\\times3=25,\\\\
3\\times0+4\\times1+6\\times2+7\\times3=37,\\\\
4\\times0+5\\times1+7\\times2+8\\times3=43.""",
    expected=[[19.0, 25.0], [37.0, 43.0]],
)
def worked_sums(bk):
    return pc.corr2d(bk.array(X3), bk.array(K2))


@case(
    SEED,
    "In[11]",
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
    "In[28] print",
    "print(X.shape) for the 6x8 edge image",
    "torch.Size([6, 8])",
    parse=_parse.shape,
    printed="str",
)
def edges_shape(bk):
    return bk.array(EDGES).shape


@case(
    SEED,
    "In[28] print 2",
    "print(Y.shape) for Y = corr2d(X, [[1, -1]])",
    "torch.Size([6, 7])",
    parse=_parse.shape,
    printed="str",
)
def edge_detection_shape(bk):
    return pc.corr2d(bk.array(EDGES), bk.array([[1, -1]])).shape


@case(
    SEED,
    "c. text",
    "240x240 through ten 5x5 convolutions gives 200x200",
    "If we start with a $240 \\times 240$ pixel image, 10 layers of $5 \\times 5$ convolutions "
    "reduce the image to $200 \\times  200$ pixels",
    expected=(200, 200),
)
def ten_layers(bk):
    size = (240, 240)
    for _ in range(10):
        size = pc.conv_output_shape(size, 5)
    return size


@case(
    SEED,
    "c. text 2",
    "ten 5x5 convolutions slice off about 30% of a 240x240 image",
    "slicing off $30\\%$ of the image",
    expected=0.30,
    rule="close",
    atol=0.01,
)
def ten_layers_fraction(bk):
    size = (240, 240)
    for _ in range(10):
        size = pc.conv_output_shape(size, 5)
    return 1 - (size[0] * size[1]) / (240 * 240)


@case(
    SEED,
    "c.i figure",
    "padding 1 surrounds X with a border of zeros",
    """
\\begin{bmatrix}
0 & 0 & 0 & 0 & 0\\\\
0 & 0 & 1 & 2 & 0\\\\
0 & 3 & 4 & 5 & 0\\\\
0 & 6 & 7 & 8 & 0 \\\\
0 & 0 & 0 & 0 & 0
\\end{bmatrix}""",
    parse=_parse.bmatrix,
)
def padded_input(bk):
    # a 1x1 identity kernel shows what the convolution sees: the zero-padded input
    return pc.conv2d(bk.array([X3]), bk.array(np.ones((1, 1, 1, 1))), padding=1)[0, ...]


@case(
    SEED,
    "c.i figure 2",
    "padded X * K = [[0, 3, 8, 4], [9, 19, 25, 10], [21, 37, 43, 16], [6, 7, 8, 0]]",
    """
\\begin{bmatrix}
0 & 3 & 8 & 4\\\\
9 & 19 & 25 & 10\\\\
21 & 37 & 43 & 16\\\\
6 & 7 & 8 & 0
\\end{bmatrix}""",
    parse=_parse.bmatrix,
)
def padded(bk):
    return pc.conv2d(bk.array([X3]), bk.array([[K2]]), padding=1)[0, ...]


@case(
    SEED,
    "c.ii figure",
    "padded X * K with stride 3 vertically and 2 horizontally = [[0, 8], [6, 8]]",
    """
\\begin{bmatrix}
0 & 8\\\\
6 & 8
\\end{bmatrix}""",
    parse=_parse.bmatrix,
)
def padded_strided(bk):
    return pc.conv2d(bk.array([X3]), bk.array([[K2]]), padding=1, stride=(3, 2))[0, ...]


# Learning a kernel: nn.Conv2d(1, 1, kernel_size=(1, 2), bias=False), 20 iterations, whose
# weight starts from PyTorch's default kaiming_uniform(a=sqrt(5)): U(-1/sqrt(2), 1/sqrt(2)).
_replay.register(
    SEED,
    log_cell="In[28]",
    log_text="""
Epoch 5, loss 0.743
Epoch 10, loss 0.025
Epoch 15, loss 0.002
Epoch 20, loss 0.000""",
    kernel_cell="In[29]",
    kernel_text="tensor([[[[ 1.0013, -0.9983]]]])",
    steps=20,
    lr=3e-2,
    init=(-(0.5**0.5), 0.5**0.5),
    init_name="PyTorch's default initialiser",
    gluon=False,
    kernel_shape=(1, 1, 1, 2),
    printed_kernel="repr",
)


# -- d. LeNet5 -----------------------------------------------------------------------------------


@case(
    SEED,
    "In[76] print",
    "lenet(input) prints the shapes",
    """
Input shape: torch.Size([1, 1, 32, 32])
Conv2d: torch.Size([1, 20, 28, 28])
MaxPool2d: torch.Size([1, 20, 14, 14])
Conv2d: torch.Size([1, 20, 10, 10])
MaxPool2d: torch.Size([1, 20, 5, 5])
Flatten: torch.Size([1, 500])
torch.Size([1, 10])""",
    expected=[
        ("Input shape", (1, 1, 32, 32)),
        ("Conv2d", (1, 20, 28, 28)),
        ("MaxPool2d", (1, 20, 14, 14)),
        ("Conv2d", (1, 20, 10, 10)),
        ("MaxPool2d", (1, 20, 5, 5)),
        ("Flatten", (1, 500)),
        (None, (1, 10)),
    ],
    printed="str",
)
def lenet5_prints(bk):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        lenet = pc.models.LeNet5()
        x = bk.array(np.random.default_rng(74).standard_normal((1, 1, 32, 32)))
        rows = lenet.layer_summary((1, 1, 32, 32), like=x)
    return Noted(rows, shown=out.getvalue())


@case(
    SEED,
    "In[76] Out",
    "an untrained LeNet5 predicts a class",
    "tensor([4])",
    expected=((1,), True, True),
)
def lenet5_class(bk):
    """The class comes from random weights (torch's global generator, unseeded) applied to a
    random input (torch.randn): neither is printed, and 266,050 weights cannot be recovered
    from one class index. The case checks what is documented about it: one prediction, an
    integer class index, in range(10)."""
    lenet = pc.models.LeNet5()
    x = bk.array(np.random.default_rng(74).standard_normal((1, 1, 32, 32)))
    y = bk.to_numpy(lenet.predict(x))
    note = (
        "not reproducible: random weights and input, neither printed; checked: shape (1,), "
        f"an integer dtype, a class in range(10) (here {int(y[0])})"
    )
    return Noted((tuple(y.shape), y.dtype.kind in "iu", bool(0 <= y[0] < 10)), note)
