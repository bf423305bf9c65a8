"""The networks of chapters 7 and 8 (portconv.models) on every backend.

* each model's forward on a small batch gives the right shape, an array of the backend under
  test, and as many parameters as the shape-only dry run (``count_parameters``) predicts;
  its ``layer_summary`` equals the dry run's ``shape_summary`` line by line;
* the ``layer_summary`` printouts of seeds 002 and 003 (quoted, and checked to be in the
  seeds) come out of the dry run everywhere and out of real forward passes (the one at
  224 x 224 in the NumPy session only);
* parameter counts against the papers and the book (VGG-16 138,357,544, AlexNet ~46.8M,
  LeNet 61,706) and against ``torch.nn`` re-implementations of the same structures;
* outputs, running statistics and gradients equal those of ``torch.nn`` re-implementations
  given the same weights (LeNet, LeNet-5, a small ResNet, a small DenseNet, an Inception
  and a ResNeXt block), on every backend where PyTorch is installed;
* the same seed gives bit-identical parameters on every backend; ``init="xavier"``.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import numpy as np
import pytest

import portconv.autograd as ag
import portconv.models as M
from portconv import nn
from portconv.errors import ArgumentError, PortconvError

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"


@pytest.fixture(autouse=True)
def _numpy_shape_semantics(request):
    """Losses are 0-d arrays, which MXNet handles only with NumPy shape semantics."""
    callspec = getattr(request.node, "callspec", None)
    if callspec is None or not str(callspec.params.get("be", "")).startswith("mxnet"):
        yield
        return
    import mxnet as mx

    with mx.util.np_shape(True):
        yield


def _data(y):
    return y.data if isinstance(y, ag.Variable) else y


# -- every model, forward on a small batch ---------------------------------------------------------

# (id, factory, the smallest or a small valid input, the output shape)
MODELS = [
    ("LeNet", lambda: M.LeNet(), (2, 1, 28, 28), (2, 10)),
    ("LeNetModern", lambda: M.LeNetModern(num_classes=7), (2, 1, 28, 28), (2, 7)),
    ("BNLeNet", lambda: M.BNLeNet(), (2, 1, 28, 28), (2, 10)),
    ("LeNet5", lambda: M.LeNet5(), (2, 1, 32, 32), (2, 10)),
    ("AlexNet", lambda: M.AlexNet(), (2, 1, 65, 65), (2, 10)),
    ("VGG", lambda: M.VGG(((1, 4), (1, 8), (2, 8), (2, 16), (2, 16))), (2, 1, 32, 32), (2, 10)),
    ("NiN", lambda: M.NiN(), (2, 1, 67, 67), (2, 10)),
    ("GoogLeNet", lambda: M.GoogLeNet(), (2, 1, 32, 32), (2, 10)),
    ("ResNet18", lambda: M.ResNet18(), (2, 1, 32, 32), (2, 10)),
    ("ResNet", lambda: M.ResNet(((1, 64), (1, 8)), 5), (2, 3, 16, 16), (2, 5)),
    ("DenseNet", lambda: M.DenseNet(), (2, 1, 32, 32), (2, 10)),
    ("RegNetX32", lambda: M.RegNetX32(), (2, 1, 32, 32), (2, 10)),
    ("Residual", lambda: M.Residual(3), (4, 3, 6, 6), (4, 3, 6, 6)),
    (
        "Residual_1x1",
        lambda: M.Residual(6, use_1x1conv=True, strides=2),
        (4, 3, 6, 6),
        (4, 6, 3, 3),
    ),
    ("Inception", lambda: M.Inception(4, (2, 5), (2, 3), 2), (2, 3, 5, 5), (2, 14, 5, 5)),
    ("ResNeXtBlock", lambda: M.ResNeXtBlock(32, 16, 1), (2, 32, 6, 6), (2, 32, 6, 6)),
    (
        "ResNeXtBlock_1x1",
        lambda: M.ResNeXtBlock(16, 4, 0.5, use_1x1conv=True, strides=2),
        (2, 8, 6, 6),
        (2, 16, 3, 3),
    ),
    ("DenseBlock", lambda: M.DenseBlock(2, 10), (4, 3, 8, 8), (4, 23, 8, 8)),
    ("transition_block", lambda: M.transition_block(10), (4, 23, 8, 8), (4, 10, 4, 4)),
    ("vgg_block", lambda: M.vgg_block(2, 4), (1, 3, 6, 6), (1, 4, 3, 3)),
    ("nin_block", lambda: M.nin_block(4, 3, 2, 1), (1, 3, 7, 7), (1, 4, 4, 4)),
    ("AnyNet", lambda: M.AnyNet(((1, 8, 4, 0.5), (2, 12, 6, 1)), 6, 3), (2, 1, 16, 16), (2, 3)),
]


@pytest.mark.parametrize(
    "factory, in_shape, out_shape", [m[1:] for m in MODELS], ids=[m[0] for m in MODELS]
)
def test_forward_shape_and_dry_run(be, factory, in_shape, out_shape):
    nn.manual_seed(0)
    model = factory()
    x = be.asarray(np.random.default_rng(0).standard_normal(in_shape).astype(np.float32))
    y = model(x)
    be.check_array(_data(y), dtype="float32")
    assert tuple(_data(y).shape) == out_shape
    # the dry run predicts the shape and the parameters that the forward created
    assert M.output_shape(model, in_shape) == out_shape
    assert model.num_parameters() == M.count_parameters(model, in_shape)
    if not isinstance(model, M.LeNet5):  # (its summary is the seed's printout: below)
        # layer_summary (a real forward, layer by layer) = shape_summary (the dry run);
        # a block with its own forward is one line
        printed, dry = io.StringIO(), io.StringIO()
        rows = model.layer_summary(in_shape, like=x, file=printed)
        assert rows == M.shape_summary(model, in_shape, file=dry)
        if type(model).forward is not nn.Module.forward and not isinstance(model, nn.Sequential):
            assert rows == [(type(model).__name__, out_shape)]
        if be.name == "numpy":  # shapes print as tuples; torch prints torch.Size(...)
            assert printed.getvalue() == dry.getvalue()
        lines = printed.getvalue().splitlines()
        assert [line.split(" output shape:\t ")[0] for line in lines] == [r[0] for r in rows]


def test_predict_is_argmax_of_softmax(be):
    nn.manual_seed(1)
    model = M.LeNet5()
    x = be.asarray(np.random.default_rng(1).standard_normal((3, 1, 32, 32)).astype(np.float32))
    logits = be.to_numpy(_data(model(x)))
    classes = model.predict(x)
    be.check_array(classes)
    np.testing.assert_array_equal(be.to_numpy(classes), logits.argmax(axis=1))
    lenet = M.LeNet()
    x = be.asarray(np.random.default_rng(2).standard_normal((3, 1, 28, 28)).astype(np.float32))
    np.testing.assert_array_equal(
        be.to_numpy(lenet.predict(x)), be.to_numpy(_data(lenet(x))).argmax(axis=1)
    )


def test_backward_reaches_every_parameter(be):
    """Gradients flow through the multi-branch blocks (ag.add, ag.concat) to every parameter."""
    nn.manual_seed(2)
    for model, shape in (
        (M.ResNet(((1, 64), (1, 8)), 3), (2, 1, 16, 16)),
        (M.DenseNet(8, 4, (2, 2), 3), (2, 1, 16, 16)),
        (M.GoogLeNet(3), (1, 1, 32, 32)),
    ):
        x = be.asarray(np.random.default_rng(3).standard_normal(shape).astype(np.float32))
        ag.sum(model(x)).backward()
        for name, p in model.named_parameters():
            assert p.grad is not None, name
            be.check_array(p.grad)


# -- the seeds' printouts --------------------------------------------------------------------------

# quoted from the seeds (whitespace aside); test_quotes_are_in_the_seeds checks each
SEED_002_LENET = """
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
Linear output shape:      torch.Size([1, 10])
"""
SEED_002_VGG11 = """
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
Linear output shape:           torch.Size([1, 10])
"""
SEED_002_RESNET18 = """
Sequential output shape:      torch.Size([1, 64, 24, 24])
Sequential output shape:      torch.Size([1, 64, 24, 24])
Sequential output shape:      torch.Size([1, 128, 12, 12])
Sequential output shape:      torch.Size([1, 256, 6, 6])
Sequential output shape:      torch.Size([1, 512, 3, 3])
Sequential output shape:      torch.Size([1, 10])
"""
SEED_002_RESIDUAL = "Out[24]: torch.Size([4, 3, 6, 6])"
SEED_002_RESIDUAL_1X1 = "Out[26]: torch.Size([4, 6, 3, 3])"
SEED_003_LENET5 = """
Input shape: torch.Size([1, 1, 32, 32])
Conv2d: torch.Size([1, 20, 28, 28])
MaxPool2d: torch.Size([1, 20, 14, 14])
Conv2d: torch.Size([1, 20, 10, 10])
MaxPool2d: torch.Size([1, 20, 5, 5])
Flatten: torch.Size([1, 500])
torch.Size([1, 10])
"""
QUOTES = {
    "002_2b99741476205a97.txt": [
        SEED_002_LENET,
        SEED_002_VGG11,
        SEED_002_RESNET18,
        SEED_002_RESIDUAL,
        SEED_002_RESIDUAL_1X1,
    ],
    "003_55d8c69464c26305.txt": [SEED_003_LENET5],
}


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _summary_rows(text: str) -> list:
    """``Name output shape: torch.Size([...])`` lines -> [(name, shape tuple)]."""
    rows = re.findall(r"(\w+) output shape:\s+torch\.Size\(\[([\d, ]+)\]\)", text)
    return [(name, tuple(int(v) for v in dims.split(","))) for name, dims in rows]


def _size(text: str) -> tuple:
    (dims,) = re.findall(r"torch\.Size\(\[([\d, ]+)\]\)", text)
    return tuple(int(v) for v in dims.split(","))


def test_quotes_are_in_the_seeds():
    if not SEEDS.is_dir():
        pytest.skip("the seed files are not beside this checkout")
    for seed, quotes in QUOTES.items():
        text = _normalise((SEEDS / seed).read_text())
        for quote in quotes:
            assert _normalise(quote) in text, (seed, quote)


def test_seed_summaries_by_dry_run():
    """Every printout of the seeds, from the shape-only dry run (instant, even VGG-11 at 224)."""
    assert M.shape_summary(M.LeNet(), (1, 1, 28, 28)) == _summary_rows(SEED_002_LENET)
    vgg = M.VGG(arch=((1, 64), (1, 128), (2, 256), (2, 512), (2, 512)))
    assert M.shape_summary(vgg, (1, 1, 224, 224)) == _summary_rows(SEED_002_VGG11)
    assert M.shape_summary(M.VGG11(), (1, 1, 224, 224)) == _summary_rows(SEED_002_VGG11)
    assert M.shape_summary(M.ResNet18(), (1, 1, 96, 96)) == _summary_rows(SEED_002_RESNET18)
    assert M.output_shape(M.Residual(3), (4, 3, 6, 6)) == _size(SEED_002_RESIDUAL)
    blk = M.Residual(6, use_1x1conv=True, strides=2)
    assert M.output_shape(blk, (4, 3, 6, 6)) == _size(SEED_002_RESIDUAL_1X1)


def test_seed_summaries_by_forward(be):
    """The same printouts from real forward passes on the backend under test (those that
    are cheap: LeNet at 28, ResNet-18 at 96, the residual blocks)."""
    like = be.asarray(np.zeros(1, dtype=np.float32))
    rows = M.LeNet().layer_summary((1, 1, 28, 28), like=like, file=io.StringIO())
    assert rows == _summary_rows(SEED_002_LENET)
    rows = M.ResNet18().layer_summary((1, 1, 96, 96), like=like, file=io.StringIO())
    assert rows == _summary_rows(SEED_002_RESNET18)
    x = be.asarray(np.random.default_rng(0).standard_normal((4, 3, 6, 6)).astype(np.float32))
    assert tuple(_data(M.Residual(3)(x)).shape) == _size(SEED_002_RESIDUAL)
    y = M.Residual(6, use_1x1conv=True, strides=2)(x)
    assert tuple(_data(y).shape) == _size(SEED_002_RESIDUAL_1X1)


def test_seed_vgg11_summary_by_forward(be):
    if be.name != "numpy":
        pytest.skip(
            "VGG-11 at 224 x 224 draws 129M parameters and computes 7.6 GFLOP: once, in the "
            "NumPy session, is enough (every backend checks the same printout by dry run and "
            "the dry run against forwards on small inputs)"
        )
    vgg = M.VGG(arch=((1, 64), (1, 128), (2, 256), (2, 512), (2, 512)))
    rows = vgg.layer_summary((1, 1, 224, 224), file=io.StringIO())
    assert rows == _summary_rows(SEED_002_VGG11)


def test_seed_lenet5_verbose_forward(be):
    """Seed 003's In[76]: LeNet5's forward prints the shapes (exactly the seed's text on
    PyTorch, whose shapes print as torch.Size) and returns the logits."""
    nn.manual_seed(3)
    model = M.LeNet5()
    x = be.asarray(np.random.default_rng(0).standard_normal((1, 1, 32, 32)).astype(np.float32))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        y = model(x, verbose=True)
    assert tuple(_data(y).shape) == (1, 10)
    printed = out.getvalue()
    if be.name == "torch":
        assert printed.strip() == SEED_003_LENET5.strip()
    want = _verbose_rows(SEED_003_LENET5)
    assert _verbose_rows(printed) == want
    with contextlib.redirect_stdout(io.StringIO()) as quiet:
        model(x)
    assert quiet.getvalue() == ""
    assert model.layer_summary((1, 1, 32, 32), like=x, file=io.StringIO()) == want


def _verbose_rows(text: str) -> list:
    """``Conv2d: torch.Size([1, 20, 28, 28])`` or ``Conv2d: (1, 20, 28, 28)`` lines ->
    [(label, shape)], label None for a line with a shape alone."""
    rows = []
    for line in text.strip().splitlines():
        label, _, shape = line.rpartition(": ")
        rows.append((label or None, tuple(int(v) for v in re.findall(r"\d+", shape))))
    return rows


def test_book_summaries_by_dry_run():
    """The shapes the book prints for the other networks of chapter 8 (8.1, 8.3, 8.4, 8.7,
    8.8), from the dry run."""

    def shapes(model, shape):
        return [s for _, s in M.shape_summary(model, shape, file=io.StringIO())]

    assert shapes(M.AlexNet(), (1, 1, 224, 224))[:3] == [
        (1, 96, 54, 54),
        (1, 96, 54, 54),
        (1, 96, 26, 26),
    ]
    assert shapes(M.AlexNet(), (1, 1, 224, 224))[12:14] == [(1, 256, 5, 5), (1, 6400)]
    assert shapes(M.NiN(), (1, 1, 224, 224)) == [
        (1, 96, 54, 54),
        (1, 96, 26, 26),
        (1, 256, 26, 26),
        (1, 256, 12, 12),
        (1, 384, 12, 12),
        (1, 384, 5, 5),
        (1, 384, 5, 5),
        (1, 10, 5, 5),
        (1, 10, 1, 1),
        (1, 10),
    ]
    assert shapes(M.GoogLeNet(), (1, 1, 96, 96)) == [
        (1, 64, 24, 24),
        (1, 192, 12, 12),
        (1, 480, 6, 6),
        (1, 832, 3, 3),
        (1, 1024),
        (1, 10),
    ]
    rows = M.shape_summary(M.DenseNet(), (1, 1, 96, 96), file=io.StringIO())
    assert rows == [
        ("Sequential", (1, 64, 24, 24)),
        ("DenseBlock", (1, 192, 24, 24)),
        ("Sequential", (1, 96, 12, 12)),
        ("DenseBlock", (1, 224, 12, 12)),
        ("Sequential", (1, 112, 6, 6)),
        ("DenseBlock", (1, 240, 6, 6)),
        ("Sequential", (1, 120, 3, 3)),
        ("DenseBlock", (1, 248, 3, 3)),
        ("Sequential", (1, 10)),
    ]
    assert shapes(M.RegNetX32(), (1, 1, 96, 96)) == [
        (1, 32, 48, 48),
        (1, 32, 24, 24),
        (1, 80, 12, 12),
        (1, 10),
    ]


# -- parameter counts ------------------------------------------------------------------------------


def test_parameter_counts_against_the_papers_and_the_book():
    # Simonyan & Zisserman's VGG-16 (configuration D), ImageNet: 138,357,544 (= torchvision's)
    assert M.count_parameters(M.VGG16(num_classes=1000), (1, 3, 224, 224)) == 138_357_544
    # the book's AlexNet on Fashion-MNIST resized to 224: "about 46.8 million"
    assert M.count_parameters(M.AlexNet(), (1, 1, 224, 224)) == 46_764_746
    assert M.count_parameters(M.LeNet(), (1, 1, 28, 28)) == 61_706
    assert M.count_parameters(M.LeNetModern(), (1, 1, 28, 28)) == 61_706
    assert M.count_parameters(M.LeNet5(), (1, 1, 32, 32)) == 266_050
    # the book's ResNet-18 (biased convolutions, no batch norm on the 1x1 shortcut):
    # torchvision's 11,689,512 + 4,800 biases - 1,792 shortcut batch-norm parameters
    assert M.count_parameters(M.ResNet18(num_classes=1000), (1, 3, 224, 224)) == 11_692_520
    assert 11_692_520 == 11_689_512 + 4_800 - 1_792


def test_lenet_parameter_count_by_forward(be):
    model = M.LeNet()
    model(be.asarray(np.zeros((1, 1, 28, 28), dtype=np.float32)))
    assert model.num_parameters() == 61_706


# -- torch.nn re-implementations of the same structures --------------------------------------------


def _torch():
    return pytest.importorskip("torch")


def _torch_models():
    """torch.nn modules with the book's structures, input channels explicit, names as ours."""
    torch = _torch()
    tnn = torch.nn

    class Wrap(tnn.Module):
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, x):
            return self.net(x)

    def lenet(cin=1, classes=10):
        return Wrap(
            tnn.Sequential(
                tnn.Conv2d(cin, 6, 5, padding=2),
                tnn.Sigmoid(),
                tnn.AvgPool2d(2, 2),
                tnn.Conv2d(6, 16, 5),
                tnn.Sigmoid(),
                tnn.AvgPool2d(2, 2),
                tnn.Flatten(),
                tnn.Linear(400, 120),
                tnn.Sigmoid(),
                tnn.Linear(120, 84),
                tnn.Sigmoid(),
                tnn.Linear(84, classes),
            )
        )

    class LeNet5(tnn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = tnn.Conv2d(1, 20, 5, 1)
            self.conv2 = tnn.Conv2d(20, 20, 5, 1)
            self.fc1 = tnn.Linear(500, 500)
            self.fc2 = tnn.Linear(500, 10)

        def forward(self, x):
            f = tnn.functional
            x = f.max_pool2d(f.relu(self.conv1(x)), 2, 2)
            x = f.max_pool2d(f.relu(self.conv2(x)), 2, 2)
            return self.fc2(f.relu(self.fc1(x.reshape(-1, 500))))

    class Residual(tnn.Module):
        def __init__(self, cin, c, use_1x1conv=False, strides=1):
            super().__init__()
            self.conv1 = tnn.Conv2d(cin, c, 3, padding=1, stride=strides)
            self.conv2 = tnn.Conv2d(c, c, 3, padding=1)
            self.conv3 = tnn.Conv2d(cin, c, 1, stride=strides) if use_1x1conv else None
            self.bn1, self.bn2 = tnn.BatchNorm2d(c), tnn.BatchNorm2d(c)

        def forward(self, x):
            y = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
            return torch.relu(y + (self.conv3(x) if self.conv3 is not None else x))

    def stem(cin, c):
        return tnn.Sequential(
            tnn.Conv2d(cin, c, 7, stride=2, padding=3),
            tnn.BatchNorm2d(c),
            tnn.ReLU(),
            tnn.MaxPool2d(3, stride=2, padding=1),
        )

    def resnet(arch, classes, cin):
        net = tnn.Sequential(stem(cin, 64))
        c = 64
        for i, (n, width) in enumerate(arch):
            blocks = []
            for j in range(n):
                down = j == 0 and i > 0
                blocks.append(Residual(c, width, use_1x1conv=down, strides=2 if down else 1))
                c = width
            net.add_module(f"b{i + 2}", tnn.Sequential(*blocks))
        net.add_module(
            "last",
            tnn.Sequential(tnn.AdaptiveAvgPool2d((1, 1)), tnn.Flatten(), tnn.Linear(c, classes)),
        )
        return Wrap(net)

    class DenseBlock(tnn.Module):
        def __init__(self, cin, num_convs, growth):
            super().__init__()
            self.net = tnn.Sequential(
                *(
                    tnn.Sequential(
                        tnn.BatchNorm2d(cin + i * growth),
                        tnn.ReLU(),
                        tnn.Conv2d(cin + i * growth, growth, 3, padding=1),
                    )
                    for i in range(num_convs)
                )
            )

        def forward(self, x):
            for blk in self.net:
                x = torch.cat((x, blk(x)), dim=1)
            return x

    def densenet(c, growth, arch, classes, cin):
        net = tnn.Sequential(stem(cin, c))
        for i, n in enumerate(arch):
            net.add_module(f"dense_blk{i + 1}", DenseBlock(c, n, growth))
            c += n * growth
            if i != len(arch) - 1:
                net.add_module(
                    f"tran_blk{i + 1}",
                    tnn.Sequential(
                        tnn.BatchNorm2d(c),
                        tnn.ReLU(),
                        tnn.Conv2d(c, c // 2, 1),
                        tnn.AvgPool2d(2, 2),
                    ),
                )
                c //= 2
        net.add_module(
            "last",
            tnn.Sequential(
                tnn.BatchNorm2d(c),
                tnn.ReLU(),
                tnn.AdaptiveAvgPool2d((1, 1)),
                tnn.Flatten(),
                tnn.Linear(c, classes),
            ),
        )
        return Wrap(net)

    class Inception(tnn.Module):
        def __init__(self, cin, c1, c2, c3, c4):
            super().__init__()
            self.b1_1 = tnn.Conv2d(cin, c1, 1)
            self.b2_1, self.b2_2 = tnn.Conv2d(cin, c2[0], 1), tnn.Conv2d(c2[0], c2[1], 3, padding=1)
            self.b3_1, self.b3_2 = tnn.Conv2d(cin, c3[0], 1), tnn.Conv2d(c3[0], c3[1], 5, padding=2)
            self.b4_1, self.b4_2 = tnn.MaxPool2d(3, 1, 1), tnn.Conv2d(cin, c4, 1)

        def forward(self, x):
            r = torch.relu
            return torch.cat(
                (
                    r(self.b1_1(x)),
                    r(self.b2_2(r(self.b2_1(x)))),
                    r(self.b3_2(r(self.b3_1(x)))),
                    r(self.b4_2(self.b4_1(x))),
                ),
                dim=1,
            )

    class ResNeXtBlock(tnn.Module):
        def __init__(self, cin, c, group_width, bot_mul, use_1x1conv=False, strides=1):
            super().__init__()
            b = int(round(c * bot_mul))
            self.conv1 = tnn.Conv2d(cin, b, 1)
            self.conv2 = tnn.Conv2d(b, b, 3, stride=strides, padding=1, groups=b // group_width)
            self.conv3 = tnn.Conv2d(b, c, 1)
            self.bn1, self.bn2, self.bn3 = (tnn.BatchNorm2d(n) for n in (b, b, c))
            self.conv4 = tnn.Conv2d(cin, c, 1, stride=strides) if use_1x1conv else None
            self.bn4 = tnn.BatchNorm2d(c) if use_1x1conv else None

        def forward(self, x):
            y = torch.relu(self.bn1(self.conv1(x)))
            y = torch.relu(self.bn2(self.conv2(y)))
            y = self.bn3(self.conv3(y))
            if self.conv4 is not None:
                x = self.bn4(self.conv4(x))
            return torch.relu(y + x)

    def alexnet(cin, classes):
        c = tnn.Conv2d
        return Wrap(
            tnn.Sequential(
                c(cin, 96, 11, stride=4, padding=1),
                tnn.ReLU(),
                tnn.MaxPool2d(3, 2),
                c(96, 256, 5, padding=2),
                tnn.ReLU(),
                tnn.MaxPool2d(3, 2),
                c(256, 384, 3, padding=1),
                tnn.ReLU(),
                c(384, 384, 3, padding=1),
                tnn.ReLU(),
                c(384, 256, 3, padding=1),
                tnn.ReLU(),
                tnn.MaxPool2d(3, 2),
                tnn.Flatten(),
                tnn.Linear(6400, 4096),
                tnn.ReLU(),
                tnn.Dropout(0.5),
                tnn.Linear(4096, 4096),
                tnn.ReLU(),
                tnn.Dropout(0.5),
                tnn.Linear(4096, classes),
            )
        )

    def vgg(arch, cin, classes, size=224):
        layers, c = [], cin
        for n, width in arch:
            for _ in range(n):
                layers += [tnn.Conv2d(c, width, 3, padding=1), tnn.ReLU()]
                c = width
            layers.append(tnn.MaxPool2d(2, 2))
            size //= 2
        head = [tnn.Flatten(), tnn.Linear(c * size * size, 4096), tnn.ReLU(), tnn.Dropout(0.5)]
        head += [tnn.Linear(4096, 4096), tnn.ReLU(), tnn.Dropout(0.5), tnn.Linear(4096, classes)]
        return tnn.Sequential(*layers, *head)

    return {
        "lenet": lenet,
        "lenet5": LeNet5,
        "resnet": resnet,
        "densenet": densenet,
        "inception": Inception,
        "resnext": ResNeXtBlock,
        "alexnet": alexnet,
        "vgg": vgg,
    }


def _torch_count(module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_parameter_counts_against_torch_nn():
    """The same structures in torch.nn (non-lazy, so counted without a forward) have as many
    parameters as the dry run says ours have."""
    t = _torch_models()
    assert _torch_count(t["resnet"](((2, 64), (2, 128), (2, 256), (2, 512)), 1000, 3)) == (
        M.count_parameters(M.ResNet18(1000), (1, 3, 224, 224))
    )
    resnet34 = t["resnet"](((3, 64), (4, 128), (6, 256), (3, 512)), 1000, 3)
    assert _torch_count(resnet34) == M.count_parameters(M.ResNet34(1000), (1, 3, 224, 224))
    assert _torch_count(t["alexnet"](1, 10)) == 46_764_746
    assert _torch_count(t["vgg"](M.VGG_ARCHS["VGG16"], 3, 1000)) == 138_357_544
    assert _torch_count(t["vgg"](M.VGG_ARCHS["VGG19"], 3, 1000)) == (
        M.count_parameters(M.VGG19(1000), (1, 3, 224, 224))
    )
    assert _torch_count(t["lenet"]()) == 61_706
    assert _torch_count(t["densenet"](64, 32, (4, 4, 4, 4), 10, 1)) == (
        M.count_parameters(M.DenseNet(), (1, 1, 96, 96))
    )


def _equivalence_cases():
    return [
        ("LeNet", lambda t: t["lenet"](), lambda: M.LeNet(), (3, 1, 28, 28)),
        ("LeNet5", lambda t: t["lenet5"](), lambda: M.LeNet5(), (2, 1, 32, 32)),
        (
            "ResNet",
            lambda t: t["resnet"](((1, 64), (2, 8)), 5, 3),
            lambda: M.ResNet(((1, 64), (2, 8)), 5),
            (3, 3, 16, 16),
        ),
        (
            "DenseNet",
            lambda t: t["densenet"](8, 4, (2, 3), 5, 3),
            lambda: M.DenseNet(8, 4, (2, 3), 5),
            (3, 3, 16, 16),
        ),
        (
            "Inception",
            lambda t: t["inception"](3, 4, (2, 5), (2, 3), 2),
            lambda: M.Inception(4, (2, 5), (2, 3), 2),
            (2, 3, 5, 5),
        ),
        (
            "ResNeXtBlock",
            lambda t: t["resnext"](6, 8, 2, 0.5, use_1x1conv=True, strides=2),
            lambda: M.ResNeXtBlock(8, 2, 0.5, use_1x1conv=True, strides=2),
            (3, 6, 6, 6),
        ),
    ]


@pytest.mark.parametrize(
    "make_torch, make_ours, shape",
    [c[1:] for c in _equivalence_cases()],
    ids=[c[0] for c in _equivalence_cases()],
)
def test_same_outputs_as_torch_nn(be, make_torch, make_ours, shape):
    """torch's state dict loaded into ours: the same outputs in training and evaluation
    mode, the same running statistics, the same gradients (float64)."""
    torch = _torch()
    torch.manual_seed(0)
    theirs = make_torch(_torch_models()).double()
    rng = np.random.default_rng(0)
    with torch.no_grad():  # move the running statistics off their initial values
        theirs.train()(torch.from_numpy(rng.standard_normal(shape) + 0.5))
    state = {k: v for k, v in theirs.state_dict().items() if not k.endswith("num_batches_tracked")}
    ours = make_ours()
    ours.load_state_dict(state)

    x = rng.standard_normal(shape)
    r = rng.standard_normal(M.output_shape(ours, shape))
    # training mode: batch statistics, gradients, running statistics updated once
    theirs.train()
    ours.train()
    yt = theirs(torch.from_numpy(x))
    (yt * torch.from_numpy(r)).sum().backward()
    y = ours(be.asarray(x))
    ag.sum(ag.multiply(y, be.asarray(r))).backward()
    be.check(_data(y), yt.detach().numpy(), rtol=1e-9, atol=1e-10, dtype="float64")
    theirs_params = dict(theirs.named_parameters())
    ours_params = dict(ours.named_parameters())
    assert list(ours_params) == list(theirs_params) or set(ours_params) == set(theirs_params)
    for name, p in ours_params.items():
        want = theirs_params[name].grad.numpy()
        be.check(p.grad, want, rtol=1e-9, atol=1e-10, dtype="float64")
    theirs_state = theirs.state_dict()
    for name, value in ours.state_dict().items():
        be.check(_data(value), theirs_state[name].numpy(), rtol=1e-9, atol=1e-12)
    # evaluation mode: the running statistics
    theirs.eval()
    ours.eval()
    with torch.no_grad():
        want = theirs(torch.from_numpy(x)).numpy()
    be.check(_data(ours(be.asarray(x))), want, rtol=1e-9, atol=1e-10, dtype="float64")


# -- seeds and initialisation ----------------------------------------------------------------------


def _params(model_factory, shape, asarray, to_numpy, seed=7):
    nn.manual_seed(seed)
    model = model_factory()
    model(asarray(np.ones(shape, dtype=np.float32)))
    # parameters only: running statistics are computed (float rounding differs by library)
    return {name: to_numpy(_data(v)) for name, v in model.named_parameters()}


@pytest.mark.parametrize(
    "factory, shape",
    [
        (lambda: M.LeNet(), (1, 1, 28, 28)),
        (lambda: M.ResNet(((1, 64), (1, 8)), 3), (1, 1, 16, 16)),
        (lambda: M.RegNetX32(init="xavier"), (1, 1, 16, 16)),
    ],
    ids=["LeNet", "ResNet", "RegNetX32-xavier"],
)
def test_same_seed_same_parameters_on_every_backend(be, factory, shape):
    ours = _params(factory, shape, be.asarray, be.to_numpy)
    reference = _params(factory, shape, np.asarray, np.asarray)
    assert list(ours) == list(reference)
    for name in reference:
        np.testing.assert_array_equal(ours[name], reference[name], err_msg=name)


def test_xavier_init_is_the_books_init_cnn(be):
    """init="xavier": every convolution and linear weight U(-a, a) with a = sqrt(6 / (fan_in
    + fan_out)); biases PyTorch's default; batch-norm scales 1."""
    nn.manual_seed(4)
    model = M.BNLeNet(init="xavier")
    model(be.asarray(np.ones((4, 1, 28, 28), dtype=np.float32)))
    checked = 0
    for name, p in model.named_parameters():
        w = be.to_numpy(_data(p)).astype(np.float64)
        if name.endswith("weight") and w.ndim >= 2:
            fan_in = w.shape[1] * int(np.prod(w.shape[2:]))
            fan_out = w.shape[0] * int(np.prod(w.shape[2:]))
            a = np.sqrt(6.0 / (fan_in + fan_out))
            assert np.abs(w).max() <= a
            assert np.abs(w).max() > 0.8 * a  # spread over the whole range
            checked += 1
        elif w.ndim == 1 and name.endswith("weight"):  # batch norm
            np.testing.assert_array_equal(w, 1.0)
    assert checked == 5
    # different from the default
    nn.manual_seed(4)
    default = M.BNLeNet()
    default(be.asarray(np.ones((4, 1, 28, 28), dtype=np.float32)))
    w_default = be.to_numpy(_data(default.net[0].weight))
    assert not np.allclose(w_default, be.to_numpy(_data(model.net[0].weight)))


# -- arguments -------------------------------------------------------------------------------------


def test_argument_errors():
    with pytest.raises(PortconvError, match="num_classes"):
        M.VGG(M.VGG_ARCHS["VGG11"], 0.01)  # the book's VGG(arch, lr) order
    with pytest.raises(ArgumentError, match=r"arch\[1\]"):
        M.VGG(((1, 64), (1, "128")))
    with pytest.raises(ArgumentError, match="arch"):
        M.ResNet(())
    with pytest.raises(ArgumentError, match=r"arch\[0\].*64"):
        M.ResNet(((1, 8), (1, 16)))
    with pytest.raises(ArgumentError, match="group width"):
        M.ResNeXtBlock(30, 16, 1)
    with pytest.raises(ArgumentError, match="c2"):
        M.Inception(1, 2, (1, 1), 1)
    with pytest.raises(ArgumentError, match="lr"):
        M.LeNet(lr=-1)
    with pytest.raises(ArgumentError, match="use_1x1conv"):
        M.output_shape(M.Residual(6), (1, 3, 8, 8))
    with pytest.raises(ArgumentError, match="LeNet5"):
        M.count_parameters(M.LeNet5(), (1, 1, 28, 28))
    assert M.ResNet18(lr=0.01).lr == 0.01
    assert M.GoogleNet is M.GoogLeNet and M.LeNet_modern is M.LeNetModern
