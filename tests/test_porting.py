"""Weights between portconv and PyTorch / MXNet Gluon (portconv.porting), both directions.

The PyTorch tests need torch and the Gluon tests MXNet; each is skipped, saying so, where its
framework is not installed (the nox sessions install one framework each). Every test computes
with portconv on the backend under test and on NumPy, and compares with the framework's own
output.
"""

from __future__ import annotations

import numpy as np
import pytest

import portconv as pc
from portconv import models, porting


def _out(model, x):
    y = model(x)
    return y.data if isinstance(y, pc.autograd.Variable) else y


# -- PyTorch -----------------------------------------------------------------------------------


def _torch():
    return pytest.importorskip("torch", reason="torch is not installed in this environment")


def _torch_lenet(torch):
    """The book's PyTorch LeNet (7.6): a d2l.Classifier whose ``net`` is the Sequential."""
    tnn = torch.nn

    class LeNet(tnn.Module):
        def __init__(self):
            super().__init__()
            self.net = tnn.Sequential(
                tnn.Conv2d(1, 6, kernel_size=5, padding=2),
                tnn.Sigmoid(),
                tnn.AvgPool2d(kernel_size=2, stride=2),
                tnn.Conv2d(6, 16, kernel_size=5),
                tnn.Sigmoid(),
                tnn.AvgPool2d(kernel_size=2, stride=2),
                tnn.Flatten(),
                tnn.Linear(400, 120),
                tnn.Sigmoid(),
                tnn.Linear(120, 84),
                tnn.Sigmoid(),
                tnn.Linear(84, 10),
            )

        def forward(self, x):
            return self.net(x)

    return LeNet()


def _torch_resnet(torch, arch, in_channels=1, num_classes=10):
    """The book's PyTorch ResNet (8.6) with explicit input sizes."""
    tnn, F = torch.nn, torch.nn.functional

    class Residual(tnn.Module):
        def __init__(self, cin, cout, use_1x1conv=False, strides=1):
            super().__init__()
            self.conv1 = tnn.Conv2d(cin, cout, 3, padding=1, stride=strides)
            self.conv2 = tnn.Conv2d(cout, cout, 3, padding=1)
            self.conv3 = tnn.Conv2d(cin, cout, 1, stride=strides) if use_1x1conv else None
            self.bn1 = tnn.BatchNorm2d(cout)
            self.bn2 = tnn.BatchNorm2d(cout)

        def forward(self, X):
            Y = F.relu(self.bn1(self.conv1(X)))
            Y = self.bn2(self.conv2(Y))
            if self.conv3:
                X = self.conv3(X)
            return F.relu(Y + X)

    class ResNet(tnn.Module):
        def __init__(self):
            super().__init__()
            self.net = tnn.Sequential(
                tnn.Sequential(
                    tnn.Conv2d(in_channels, 64, 7, stride=2, padding=3),
                    tnn.BatchNorm2d(64),
                    tnn.ReLU(),
                    tnn.MaxPool2d(3, stride=2, padding=1),
                )
            )
            cin = 64
            for i, (n, c) in enumerate(arch):
                blk = []
                for j in range(n):
                    down = j == 0 and i != 0
                    blk.append(Residual(cin, c, use_1x1conv=down, strides=2 if down else 1))
                    cin = c
                self.net.add_module(f"b{i + 2}", tnn.Sequential(*blk))
            self.net.add_module(
                "last",
                tnn.Sequential(
                    tnn.AdaptiveAvgPool2d((1, 1)), tnn.Flatten(), tnn.Linear(cin, num_classes)
                ),
            )

        def forward(self, x):
            return self.net(x)

    return ResNet()


def _randomise_torch(torch, net, seed):
    """Random values everywhere (biases and batch-norm statistics included), so that a name
    mapped to the wrong place shows."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in net.state_dict().items():
            if t.dtype.is_floating_point:
                r = torch.rand(t.shape, generator=g)
                t.copy_(r + 0.5 if name.endswith("running_var") else (r - 0.5) * 0.6)
    return net


def _round_trip_torch(be, torch, tnet, make, x_np, atol):
    tnet.eval()
    with torch.no_grad():
        want = tnet(torch.from_numpy(x_np)).numpy()
    sd = tnet.state_dict()
    on_numpy = porting.load_torch_state_dict(make().eval(), sd)
    on_be = porting.load_torch_state_dict(make().eval(), sd)
    np.testing.assert_allclose(_out(on_numpy, x_np), want, rtol=1e-4, atol=atol)
    y = _out(on_be, be.asarray(x_np))
    be.check(y, want, rtol=1e-4, atol=atol, dtype="float32")

    exported = porting.export_torch_state_dict(on_be)
    assert all(isinstance(t, torch.Tensor) for t in exported.values())
    back = type(tnet)() if not hasattr(tnet, "_rebuild") else tnet._rebuild()
    back.load_state_dict(exported, strict=True)
    back.eval()
    with torch.no_grad():
        np.testing.assert_allclose(back(torch.from_numpy(x_np)).numpy(), want, atol=1e-6)


def test_torch_lenet_round_trip(be):
    torch = _torch()
    tnet = _randomise_torch(torch, _torch_lenet(torch), 0)
    x = np.random.default_rng(0).standard_normal((2, 1, 28, 28)).astype(np.float32)
    _round_trip_torch(be, torch, tnet, models.LeNet, x, atol=1e-5)


def test_torch_resnet18_round_trip(be):
    """The book's ResNet-18, at 32 x 32 to stay fast."""
    torch = _torch()
    arch = ((2, 64), (2, 128), (2, 256), (2, 512))
    tnet = _randomise_torch(torch, _torch_resnet(torch, arch), 1)
    tnet._rebuild = lambda: _torch_resnet(torch, arch)
    x = np.random.default_rng(1).standard_normal((2, 1, 32, 32)).astype(np.float32)
    _round_trip_torch(be, torch, tnet, models.ResNet18, x, atol=1e-4)


def test_torch_resnet18_names():
    """Every name of the book's torch ResNet-18 loads into portconv's ResNet18 (shapes
    checked against the declared ones), and the export loads back strictly."""
    torch = _torch()
    tnet = _torch_resnet(torch, ((2, 64), (2, 128), (2, 256), (2, 512)))
    net = porting.load_torch_state_dict(models.ResNet18(), tnet)  # a Module is accepted
    exported = porting.export_torch_state_dict(net)
    tnet.load_state_dict(exported, strict=True)
    assert set(exported) == {k for k in tnet.state_dict() if "num_batches" not in k}


def test_torch_errors_are_clear():
    torch = _torch()
    sd = _torch_lenet(torch).state_dict()
    bad = dict(sd)
    bad["net.0.weight"] = torch.zeros(6, 1, 3, 3)
    with pytest.raises(pc.ArgumentError, match=r"net\.0\.weight.*\(6, 1, 3, 3\)"):
        porting.load_torch_state_dict(models.LeNet(), bad)
    with pytest.raises(pc.ArgumentError, match="missing: net.0.bias"):
        porting.load_torch_state_dict(
            models.LeNet(), {k: v for k, v in sd.items() if k != "net.0.bias"}
        )
    with pytest.raises(pc.ArrayTypeError, match="state_dict"):
        porting.load_torch_state_dict(models.LeNet(), [1, 2])
    with pytest.raises(pc.ArgumentError, match="no parameters yet"):
        porting.export_torch_state_dict(models.LeNet())


# -- MXNet Gluon -------------------------------------------------------------------------------


def _mx():
    return pytest.importorskip("mxnet", reason="MXNet is not installed in this environment")


def _gluon_lenet(mx):
    """The book's MXNet LeNet (6.6)."""
    gnn = mx.gluon.nn
    net = gnn.Sequential()
    net.add(
        gnn.Conv2D(channels=6, kernel_size=5, padding=2, activation="sigmoid"),
        gnn.AvgPool2D(pool_size=2, strides=2),
        gnn.Conv2D(channels=16, kernel_size=5, activation="sigmoid"),
        gnn.AvgPool2D(pool_size=2, strides=2),
        gnn.Dense(120, activation="sigmoid"),
        gnn.Dense(84, activation="sigmoid"),
        gnn.Dense(10),
    )
    return net


def _gluon_bn_lenet(mx):
    """The book's MXNet LeNet with batch normalisation (8.5)."""
    gnn = mx.gluon.nn
    net = gnn.Sequential()
    net.add(
        gnn.Conv2D(6, kernel_size=5),
        gnn.BatchNorm(),
        gnn.Activation("sigmoid"),
        gnn.AvgPool2D(pool_size=2, strides=2),
        gnn.Conv2D(16, kernel_size=5),
        gnn.BatchNorm(),
        gnn.Activation("sigmoid"),
        gnn.AvgPool2D(pool_size=2, strides=2),
        gnn.Dense(120),
        gnn.BatchNorm(),
        gnn.Activation("sigmoid"),
        gnn.Dense(84),
        gnn.BatchNorm(),
        gnn.Activation("sigmoid"),
        gnn.Dense(10),
    )
    return net


def _init_gluon(mx, net, x_np, seed):
    """Initialise, run once (Gluon's deferred shapes), then random values everywhere."""
    net.initialize()
    net(mx.nd.array(x_np))
    rng = np.random.default_rng(seed)
    for name, p in net.collect_params().items():
        shape = p.data().shape
        r = rng.uniform(size=shape).astype(np.float32)
        p.set_data(mx.nd.array(r + 0.5 if name.endswith("_var") else (r - 0.5) * 0.6))
    return net


def _gluon_case(be, mx, make_gluon, make_ours, x_np, tmp_path, seed):
    gnet = _init_gluon(mx, make_gluon(mx), x_np, seed)
    want = gnet(mx.nd.array(x_np)).asnumpy()  # outside autograd.record: inference mode

    on_numpy = porting.load_gluon_params(make_ours().eval(), gnet.collect_params())
    np.testing.assert_allclose(_out(on_numpy, x_np), want, rtol=1e-4, atol=1e-5)
    path = tmp_path / "gluon.params"
    gnet.save_parameters(str(path))  # structural names: 0.weight, 5.gamma, ...
    on_be = porting.load_gluon_params(make_ours().eval(), path)
    be.check(_out(on_be, be.asarray(x_np)), want, rtol=1e-4, atol=1e-5, dtype="float32")

    for net_arg in (None, make_gluon(mx)):  # names by the rule, and from a fresh Gluon net
        out = tmp_path / "exported.params"
        porting.export_gluon_params(on_be, out, net=net_arg)
        fresh = make_gluon(mx)
        fresh.load_parameters(str(out))
        np.testing.assert_allclose(fresh(mx.nd.array(x_np)).asnumpy(), want, atol=1e-6)


def test_gluon_lenet_round_trip(be, tmp_path):
    mx = _mx()
    x = np.random.default_rng(2).standard_normal((2, 1, 28, 28)).astype(np.float32)
    _gluon_case(be, mx, _gluon_lenet, models.LeNet, x, tmp_path, 2)


def test_gluon_bn_lenet_round_trip(be, tmp_path):
    mx = _mx()
    x = np.random.default_rng(3).standard_normal((2, 1, 28, 28)).astype(np.float32)
    _gluon_case(be, mx, _gluon_bn_lenet, models.BNLeNet, x, tmp_path, 3)


def _gluon_resnet(mx, arch):
    """The book's MXNet ResNet (8.6): b1's layers directly in ``net``, then one Sequential
    of ``Residual`` blocks per module, global average pooling and a dense layer."""
    gnn = mx.gluon.nn

    class Residual(gnn.Block):
        def __init__(self, num_channels, use_1x1conv=False, strides=1, **kwargs):
            super().__init__(**kwargs)
            self.conv1 = gnn.Conv2D(num_channels, kernel_size=3, padding=1, strides=strides)
            self.conv2 = gnn.Conv2D(num_channels, kernel_size=3, padding=1)
            if use_1x1conv:
                self.conv3 = gnn.Conv2D(num_channels, kernel_size=1, strides=strides)
            else:
                self.conv3 = None
            self.bn1 = gnn.BatchNorm()
            self.bn2 = gnn.BatchNorm()

        def forward(self, X):
            Y = mx.nd.relu(self.bn1(self.conv1(X)))
            Y = self.bn2(self.conv2(Y))
            if self.conv3:
                X = self.conv3(X)
            return mx.nd.relu(Y + X)

    net = gnn.Sequential()
    net.add(
        gnn.Conv2D(64, kernel_size=7, strides=2, padding=3),
        gnn.BatchNorm(),
        gnn.Activation("relu"),
        gnn.MaxPool2D(pool_size=3, strides=2, padding=1),
    )
    for i, (n, c) in enumerate(arch):
        blk = gnn.Sequential()
        for j in range(n):
            down = j == 0 and i != 0
            blk.add(Residual(c, use_1x1conv=down, strides=2 if down else 1))
        net.add(blk)
    net.add(gnn.GlobalAvgPool2D(), gnn.Dense(10))
    return net


def test_gluon_resnet_round_trip(be, tmp_path):
    """The Gluon ResNet's structure differs from portconv's (b1 is not nested): loading maps
    by order within each kind of layer; exporting takes the names from a Gluon net."""
    mx = _mx()
    arch = ((2, 64), (2, 128))
    x = np.random.default_rng(5).standard_normal((2, 1, 32, 32)).astype(np.float32)
    gnet = _init_gluon(mx, _gluon_resnet(mx, arch), x, 5)
    want = gnet(mx.nd.array(x)).asnumpy()
    ours = porting.load_gluon_params(models.ResNet(arch).eval(), gnet.collect_params())
    be.check(_out(ours, be.asarray(x)), want, rtol=1e-4, atol=1e-4, dtype="float32")
    np.testing.assert_allclose(
        _out(porting.load_gluon_params(models.ResNet(arch).eval(), gnet), x),
        want,
        rtol=1e-4,
        atol=1e-4,
    )
    out = tmp_path / "resnet.params"
    fresh = _gluon_resnet(mx, arch)
    porting.export_gluon_params(ours, out, net=fresh)
    fresh.load_parameters(str(out))
    np.testing.assert_allclose(fresh(mx.nd.array(x)).asnumpy(), want, rtol=1e-4, atol=1e-5)


def test_gluon_names_rule():
    """The names the book's Gluon LeNet and BN-LeNet save, without MXNet."""
    net = models.LeNet()
    net.layer_summary((1, 1, 28, 28))
    assert list(porting.gluon_names(net).values()) == [
        f"{i}.{p}" for i in (0, 2, 4, 5, 6) for p in ("weight", "bias")
    ]
    bn = models.BNLeNet()
    bn.layer_summary((2, 1, 28, 28))
    names = porting.gluon_names(bn)
    assert names["net.1.weight"] == "1.gamma" and names["net.1.running_var"] == "1.running_var"
    assert names["net.9.weight"] == "8.weight" and names["net.15.bias"] == "14.bias"


def test_gluon_mapping_by_order_within_kind():
    """Prefixed collect_params() names, with batch norms created after the convolutions (as
    the book's Gluon Residual does), map by order within each kind; errors name both sides."""
    rng = np.random.default_rng(4)
    net = models.Residual(3)
    params = {
        "residual0_conv0_weight": rng.standard_normal((3, 3, 3, 3)),
        "residual0_conv0_bias": rng.standard_normal(3),
        "residual0_conv1_weight": rng.standard_normal((3, 3, 3, 3)),
        "residual0_conv1_bias": rng.standard_normal(3),
        "residual0_batchnorm0_gamma": rng.standard_normal(3),
        "residual0_batchnorm0_beta": rng.standard_normal(3),
        "residual0_batchnorm0_moving_mean": rng.standard_normal(3),
        "residual0_batchnorm0_moving_var": rng.uniform(1, 2, 3),
        "residual0_batchnorm1_gamma": rng.standard_normal(3),
        "residual0_batchnorm1_beta": rng.standard_normal(3),
        "residual0_batchnorm1_running_mean": rng.standard_normal(3),
        "residual0_batchnorm1_running_var": rng.uniform(1, 2, 3),
    }
    params = {k: v.astype(np.float32) for k, v in params.items()}
    state = porting.gluon_to_state_dict(net, params)
    np.testing.assert_array_equal(state["conv2.weight"], params["residual0_conv1_weight"])
    np.testing.assert_array_equal(state["bn1.weight"], params["residual0_batchnorm0_gamma"])
    np.testing.assert_array_equal(
        state["bn1.running_var"], params["residual0_batchnorm0_moving_var"]
    )
    np.testing.assert_array_equal(state["bn2.bias"], params["residual0_batchnorm1_beta"])

    bad = dict(params, residual0_conv1_weight=np.zeros((3, 3, 5, 5), np.float32))
    with pytest.raises(pc.ArgumentError, match=r"residual0_conv1_weight.*conv2\.weight"):
        porting.gluon_to_state_dict(net, bad)
    fewer = {k: v for k, v in params.items() if "batchnorm1" not in k}
    with pytest.raises(pc.ArgumentError, match="batchnorm: 2 vs 1"):
        porting.gluon_to_state_dict(net, fewer)
    with pytest.raises(pc.ArgumentError, match="residual0_conv0_scale"):
        porting.gluon_to_state_dict(
            net, dict(params, residual0_conv0_scale=params["residual0_conv0_bias"])
        )
