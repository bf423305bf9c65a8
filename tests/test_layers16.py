"""The torch.nn layers of issue 16 (:mod:`portconv.nn.extra_layers` and max pooling with
indices), on every backend: values and shapes against ``torch.nn``'s layer (computed on the
CPU from the same float64 data, wherever torch is installed) or a NumPy reference, gradients
through :mod:`portconv.autograd` against torch autograd's, channel dropout's masks, argument
checks naming the argument, and printouts equal to ``torch.nn``'s."""

from __future__ import annotations

import doctest
import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import portconv as pc
import portconv.autograd as ag
from portconv import models, nn
from portconv.nn import extra_layers


def _data(y):
    return y.data if isinstance(y, ag.Variable) else y


def _rand(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _torch():
    return pytest.importorskip("torch", reason="torch.nn is the reference; not installed here")


def _against_torch(be, ours, theirs, x, *, extra=(), grad=True):
    """Run ``ours`` on ``be``'s float64 array and ``theirs`` (a torch.nn layer) on the same
    data; compare the values and, with ``grad``, the gradient of ``sum(y * w)`` for a fixed
    ``w`` with respect to the input."""
    torch = _torch()
    tx = torch.tensor(x, requires_grad=grad)
    want = theirs(tx, *extra)
    want_y = want[0] if isinstance(want, tuple) else want
    xv = ag.Variable(be.asarray(x), requires_grad=grad)
    with be.run_context():
        got = ours(xv, *[be.asarray(e.numpy()) if hasattr(e, "numpy") else e for e in extra])
    got_y = got[0] if isinstance(got, tuple) else got
    be.check(_data(got_y), want_y.detach().numpy(), rtol=1e-10, atol=1e-12, dtype="float64")
    if isinstance(want, tuple):
        np.testing.assert_array_equal(be.to_numpy(got[1]), want[1].numpy())
    if grad:
        w = _rand(tuple(want_y.shape), seed=1)
        (want_y * torch.tensor(w)).sum().backward()
        with be.run_context():
            ag.sum(ag.multiply(got_y, be.asarray(w))).backward()
        be.check(xv.grad, tx.grad.numpy(), rtol=1e-10, atol=1e-12, dtype="float64")
    return got


def test_docstring_examples_run():
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(extra_layers, optionflags=flags)
    assert result.failed == 0 and result.attempted > 40


# -- pooling -------------------------------------------------------------------------------------

POOLS = [
    ("AdaptiveMaxPool1d(3)", (2, 3, 7)),
    ("AdaptiveMaxPool1d(4, return_indices=True)", (3, 9)),
    ("AdaptiveMaxPool2d((2, 3))", (2, 2, 5, 7)),
    ("AdaptiveMaxPool2d((None, 2), True)", (2, 5, 6)),
    ("AdaptiveMaxPool3d(2, return_indices=True)", (1, 2, 3, 4, 5)),
    ("AdaptiveAvgPool1d(3)", (2, 3, 8)),
    ("AdaptiveAvgPool3d((1, 2, 3))", (2, 2, 3, 4, 5)),
    ("AdaptiveAvgPool3d(2)", (2, 3, 4, 5)),
    ("LPPool1d(2, 3)", (2, 3, 8)),
    ("LPPool1d(1.5, 2, stride=1, ceil_mode=True)", (2, 2, 7)),
    ("LPPool2d(2, (2, 3), stride=2)", (2, 2, 6, 7)),
    ("LPPool2d(3, 2, ceil_mode=True)", (2, 5, 5)),
    ("LPPool3d(2, 2)", (1, 2, 4, 4, 5)),
    ("MaxPool1d(3, 2, 1, return_indices=True)", (2, 3, 9)),
    ("MaxPool2d(2, return_indices=True)", (2, 3, 6, 7)),
    ("MaxPool2d(3, 2, 1, 1, True, True)", (1, 2, 7, 8)),
    ("MaxPool3d(2, return_indices=True)", (1, 2, 4, 4, 4)),
]


@pytest.mark.parametrize("expr, shape", POOLS, ids=[p[0] for p in POOLS])
def test_pooling_layers_equal_torch_nn(be, expr, shape):
    x = _rand(shape)
    if expr.startswith("LPPool"):
        x = np.abs(x) + 0.1  # torch's LPPool of negative values with a fractional p is NaN
    torch = _torch()  # noqa: F841 (eval)
    _against_torch(be, eval(f"nn.{expr}"), eval(f"torch.nn.{expr}"), x)


@pytest.mark.parametrize("d", [1, 2, 3])
def test_max_unpool_layers_equal_torch_nn(be, d):
    torch = _torch()
    pool = getattr(torch.nn, f"MaxPool{d}d")(2, return_indices=True)
    ours = getattr(nn, f"MaxUnpool{d}d")(2)
    theirs = getattr(torch.nn, f"MaxUnpool{d}d")(2)
    y, idx = pool(torch.tensor(_rand((2, 3) + (4, 6, 8)[:d])))
    _against_torch(be, ours, theirs, y.numpy(), extra=(idx,))
    # an odd input: the default output is one short; output_size (PyTorch's may carry N, C)
    y, idx = pool(torch.tensor(_rand((2, 3) + (5, 7, 9)[:d])))
    size = (2, 3) + (5, 7, 9)[:d]
    want = theirs(y, idx, output_size=size).numpy()
    with be.run_context():
        got = ours(be.asarray(y.numpy()), be.asarray(idx.numpy()), output_size=size)
    be.check(_data(got), want, dtype="float64")


def test_max_pool_with_indices_then_unpool_round_trip_through_the_layers(be):
    x = be.asarray(_rand((2, 3, 6, 6)).astype(np.float32))
    with be.run_context():
        y, idx = nn.MaxPool2d(2, return_indices=True)(x)
        back = nn.MaxUnpool2d(2)(y, idx)
    be.check_array(_data(back), dtype="float32")
    host = be.to_numpy(_data(back))
    blocks = host.reshape(2, 3, 3, 2, 3, 2)
    assert (np.count_nonzero(blocks, axis=(3, 5)) == 1).all()  # one survivor per window
    np.testing.assert_allclose(blocks.sum(axis=(3, 5)), be.to_numpy(_data(y)))


# -- padding -------------------------------------------------------------------------------------

NUMPY_MODES = {"Zero": "constant", "Constant": "constant", "Reflection": "reflect"}
NUMPY_MODES["Replication"] = "edge"
PADS = [
    ("Zero", 1, 2),
    ("Zero", 2, (1, 0, 2, 3)),
    ("Zero", 3, (1, 2, 0, 1, 2, 0)),
    ("Constant", 1, (2, 1)),
    ("Constant", 2, 1),
    ("Constant", 3, (0, 1, 1, 0, 2, 1)),
    ("Reflection", 1, (2, 3)),
    ("Reflection", 2, (1, 2, 3, 0)),
    ("Reflection", 3, 1),
    ("Replication", 1, 3),
    ("Replication", 2, (0, 2, 4, 1)),
    ("Replication", 3, (1, 0, 2, 1, 0, 3)),
]


@pytest.mark.parametrize("kind, d, padding", PADS, ids=[f"{k}Pad{d}d-{p}" for k, d, p in PADS])
@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
def test_padding_layers_against_numpy_and_torch(be, kind, d, padding, batched):
    shape = (2, 3, 4, 5, 6)[: d + 2] if batched else (3, 4, 5, 6)[: d + 1]
    x = _rand(shape)
    args = (padding, -1.5) if kind == "Constant" else (padding,)
    layer = getattr(nn, f"{kind}Pad{d}d")(*args)
    flat = (padding,) * (2 * d) if isinstance(padding, int) else padding
    pairs = [(flat[2 * i], flat[2 * i + 1]) for i in reversed(range(d))]
    widths = [(0, 0)] * (len(shape) - d) + pairs
    kw = {"constant_values": -1.5} if kind == "Constant" else {}
    want = np.pad(x, widths, mode=NUMPY_MODES[kind], **kw)
    with be.run_context():
        got = layer(be.asarray(x))
    be.check(_data(got), want, dtype="float64")
    try:
        import torch
    except ImportError:
        return
    theirs = getattr(torch.nn, f"{kind}Pad{d}d")(*args)
    assert repr(layer) == repr(theirs)
    _against_torch(be, layer, theirs, x)


def test_padding_layers_refuse_bad_arguments_by_name(be):
    with pytest.raises(pc.ArgumentError, match="padding: expected an int or 4 ints"):
        nn.ZeroPad2d((1, 2))
    with pytest.raises(pc.ArgumentError, match="padding: every pad must be >= 0"):
        nn.ReflectionPad1d((-1, 0))
    with pytest.raises(TypeError, match="padding: expected ints"):
        nn.ReplicationPad1d((1.5, 0))
    with pytest.raises(pc.ArrayTypeError, match="value"):
        nn.ConstantPad1d(1, "zero")
    with pytest.raises(pc.ArgumentError, match="'reflect' needs every pad smaller"):
        nn.ReflectionPad1d(3)(be.asarray(np.ones((1, 1, 3))))
    with pytest.raises(pc.ArgumentError, match=r"input: ZeroPad2d expects \(N, C, H, W\)"):
        nn.ZeroPad2d(1)(be.asarray(np.ones((2, 2))))
    with pytest.raises(pc.ArrayTypeError, match="input"):
        nn.ZeroPad2d(1)([[1.0]])


# -- channel dropout -----------------------------------------------------------------------------


@pytest.mark.parametrize("d", [1, 2, 3])
def test_channel_dropout_zeroes_whole_channels_seeded_on_every_backend(be, d):
    shape = (4, 6) + (3, 2, 2)[:d]
    x = np.ones(shape, np.float32)
    layer = getattr(nn, f"Dropout{d}d")(0.5)
    nn.manual_seed(7)
    with be.run_context():
        y = be.to_numpy(_data(layer(be.asarray(x))))
    nn.manual_seed(7)
    keep = np.random.default_rng(7).random((4, 6)) >= 0.5
    want = (keep * 2.0).reshape((4, 6) + (1,) * d) * x
    np.testing.assert_array_equal(y, want)  # whole channels, scaled by 1 / (1 - p)
    nn.manual_seed(7)
    with be.run_context():
        again = be.to_numpy(_data(layer(be.asarray(x))))
    np.testing.assert_array_equal(again, y)
    xe = be.asarray(x)
    assert layer.eval()(xe) is xe
    unbatched = np.ones(shape[1:], np.float32)
    if d != 2:
        layer.train()
        with be.run_context():
            yu = be.to_numpy(_data(layer(be.asarray(unbatched))))
        assert yu.shape == unbatched.shape
        assert set(np.unique(yu)) <= {0.0, 2.0}
        per_channel = yu.reshape(6, -1)
        assert (per_channel.min(axis=1) == per_channel.max(axis=1)).all()


def test_channel_dropout_gradient_is_the_mask(be):
    x = ag.Variable(be.asarray(np.ones((2, 3, 4, 4))), requires_grad=True)
    nn.manual_seed(1)
    with be.run_context():
        y = nn.Dropout2d(0.25)(x)
        ag.sum(y).backward()
    np.testing.assert_array_equal(be.to_numpy(x.grad), be.to_numpy(_data(y)))


def test_channel_dropout_refuses_bad_arguments_by_name(be):
    with pytest.raises(pc.ArgumentError, match=r"p: expected a number in \[0, 1\)"):
        nn.Dropout2d(1.0)
    with pytest.raises(pc.ArgumentError, match="inplace"):
        nn.Dropout1d(0.5, inplace=True)
    with pytest.raises(pc.ArgumentError, match="3-D input .* is ambiguous"):
        nn.Dropout2d()(be.asarray(np.ones((2, 3, 4), np.float32)))
    with pytest.raises(pc.ArgumentError, match=r"input: Dropout3d expects"):
        nn.Dropout3d()(be.asarray(np.ones((2, 3, 4), np.float32)))
    with pytest.raises(pc.ArrayTypeError, match="input: expected a real floating"):
        nn.Dropout1d()(be.asarray(np.ones((2, 3, 4), np.int32)))


def test_pooling_layers_refuse_bad_arguments_by_name():
    with pytest.raises(pc.ArgumentError, match="output_size: expected a positive int or 2"):
        nn.AdaptiveMaxPool2d((1, 2, 3))
    with pytest.raises(pc.ArgumentError, match="output_size"):
        nn.AdaptiveAvgPool1d(0)
    with pytest.raises(pc.ArrayTypeError, match="return_indices"):
        nn.AdaptiveMaxPool1d(2, return_indices="yes")
    with pytest.raises(pc.ArgumentError, match="norm_type"):
        nn.LPPool2d(0, 2)
    with pytest.raises(pc.ArgumentError, match="kernel_size"):
        nn.LPPool1d(2, 0)
    with pytest.raises(pc.ArgumentError, match="stride"):
        nn.MaxUnpool2d(2, stride=(1, 2, 3))
    with pytest.raises(pc.ArrayTypeError, match="return_indices"):
        nn.MaxPool2d(2, return_indices=None)
    with pytest.raises(pc.ArrayTypeError, match="indices"):
        nn.MaxUnpool1d(2)(np.ones((1, 1, 2)), None)


# -- printouts -----------------------------------------------------------------------------------

TORCH_REPRS = [
    "AdaptiveMaxPool1d(3)",
    "AdaptiveMaxPool2d((2, 3), return_indices=True)",
    "AdaptiveMaxPool3d(2)",
    "AdaptiveAvgPool1d(5)",
    "AdaptiveAvgPool3d((1, None, 2))",
    "Dropout1d(0.3)",
    "Dropout2d()",
    "Dropout3d(0.1)",
    "LPPool1d(2, 3)",
    "LPPool2d(1.5, (2, 3), stride=1, ceil_mode=True)",
    "LPPool3d(2, 2)",
    "MaxUnpool1d(3, 2, 1)",
    "MaxUnpool2d(2)",
    "MaxUnpool3d((1, 2, 3))",
    "MaxPool2d(2, return_indices=True)",
    "ZeroPad1d(2)",
    "ZeroPad2d((1, 2, 3, 4))",
    "ZeroPad3d(1)",
    "ConstantPad1d((1, 2), 0)",
    "ConstantPad2d(1, 3.5)",
    "ConstantPad3d(1, -1)",
    "ReflectionPad1d((1, 2))",
    "ReflectionPad2d(2)",
    "ReflectionPad3d(1)",
    "ReplicationPad1d(1)",
    "ReplicationPad2d((0, 1, 2, 3))",
    "ReplicationPad3d(1)",
]


@pytest.mark.parametrize("expr", TORCH_REPRS)
def test_repr_equals_torch_nn(expr):
    torch = _torch()  # noqa: F841 (eval)
    assert repr(eval(f"nn.{expr}")) == repr(eval(f"torch.nn.{expr}"))


def test_print_of_a_model_with_the_new_layers_equals_torch_nn():
    torch = _torch()
    ours = nn.Sequential(
        nn.ReflectionPad2d(1),
        nn.Conv2d(1, 4, 3),
        nn.Dropout2d(0.1),
        nn.MaxPool2d(2, return_indices=False),
        nn.AdaptiveMaxPool2d(1),
        nn.Flatten(),
    )
    theirs = torch.nn.Sequential(
        torch.nn.ReflectionPad2d(1),
        torch.nn.Conv2d(1, 4, 3),
        torch.nn.Dropout2d(0.1),
        torch.nn.MaxPool2d(2),
        torch.nn.AdaptiveMaxPool2d(1),
        torch.nn.Flatten(),
    )
    assert repr(ours) == repr(theirs)


def test_layer_summary_names_the_new_layers_as_torch_does(be):
    """The real forward's summary, and the dry run's (models.shape_summary) equal to it."""
    net = nn.Sequential(
        nn.ReflectionPad2d(1),
        nn.ZeroPad2d(2),
        nn.Conv2d(1, 4, 5),
        nn.Dropout2d(0.5),
        nn.LPPool2d(2, 2),
        nn.Upsample(scale_factor=2),
        nn.AdaptiveMaxPool2d((2, None)),
        nn.Flatten(),
    )
    rows = net.layer_summary((1, 1, 28, 28), like=be.asarray(np.zeros(1, np.float32)), file=None)
    assert rows == [
        ("ReflectionPad2d", (1, 1, 30, 30)),
        ("ZeroPad2d", (1, 1, 34, 34)),
        ("Conv2d", (1, 4, 30, 30)),
        ("Dropout2d", (1, 4, 30, 30)),
        ("LPPool2d", (1, 4, 15, 15)),
        ("Upsample", (1, 4, 30, 30)),
        ("AdaptiveMaxPool2d", (1, 4, 2, 30)),
        ("Flatten", (1, 240)),
    ]
    assert models.shape_summary(net, (1, 1, 28, 28), file=io.StringIO()) == rows


# -- average pooling's divisor_override --------------------------------------------------------


@pytest.mark.parametrize(
    "expr, shape",
    [("AvgPool2d(3, 2, 1, divisor_override=2)", (2, 3, 7, 7)),
     ("AvgPool3d(2, divisor_override=-3)", (1, 2, 4, 4, 5))],
)  # fmt: skip
def test_avg_pool_divisor_override_equals_torch_nn(be, expr, shape):
    torch = _torch()  # noqa: F841 (eval)
    _against_torch(be, eval(f"nn.{expr}"), eval(f"torch.nn.{expr}"), _rand(shape))


def test_avg_pool_divisor_override_is_refused_where_torch_has_none(be):
    with pytest.raises(pc.ArgumentError, match="divisor_override: AvgPool1d has none"):
        nn.AvgPool1d(2, divisor_override=2)
    with pytest.raises(pc.ArgumentError, match="divisor_override: must not be zero"):
        nn.AvgPool2d(2, divisor_override=0)


# -- nearest upsampling --------------------------------------------------------------------------

UPSAMPLES = [
    ("Upsample(scale_factor=2)", (2, 3, 5)),
    ("Upsample(scale_factor=2)", (1, 2, 3, 4)),
    ("Upsample(scale_factor=(2, 3))", (1, 2, 3, 4)),
    ("Upsample(scale_factor=1.5)", (1, 2, 5, 3)),
    ("Upsample(scale_factor=0.5)", (1, 2, 7, 6)),
    ("Upsample(scale_factor=1.7, recompute_scale_factor=True)", (1, 2, 5, 4)),
    ("Upsample(size=(7, 5))", (2, 1, 3, 4)),
    ("Upsample(size=3)", (2, 2, 7)),
    ("Upsample(size=(4, 3, 5))", (1, 2, 2, 3, 2)),
    ("Upsample(scale_factor=(1, 2, 3))", (1, 1, 2, 2, 2)),
]


@pytest.mark.parametrize("expr, shape", UPSAMPLES, ids=[f"{e}-{s}" for e, s in UPSAMPLES])
def test_upsample_nearest_equals_torch_nn(be, expr, shape):
    torch = _torch()  # noqa: F841 (eval)
    ours, theirs = eval(f"nn.{expr}"), eval(f"torch.nn.{expr}")
    assert repr(ours) == repr(theirs)
    _against_torch(be, ours, theirs, _rand(shape))


def test_upsample_gradient_through_torch_autograd(be):
    if be.name != "torch":
        pytest.skip("torch's own autograd records torch tensors; runs in the torch session")
    import torch

    x = torch.tensor(_rand((1, 2, 3, 3)), requires_grad=True)
    y = nn.Upsample(scale_factor=1.5)(x).data  # a torch tensor that torch autograd recorded
    w = torch.tensor(_rand(tuple(y.shape), seed=2))
    (y * w).sum().backward()
    xt = x.detach().clone().requires_grad_(True)
    (torch.nn.Upsample(scale_factor=1.5)(xt) * w).sum().backward()
    torch.testing.assert_close(x.grad, xt.grad, rtol=1e-12, atol=1e-12)


def test_upsample_keeps_an_infinite_gradient_where_it_belongs(be):
    x = ag.Variable(be.asarray(np.ones((1, 1, 2))), requires_grad=True)
    with be.run_context():
        y = nn.Upsample(scale_factor=2)(x)
        ag.sum(ag.multiply(y, be.asarray(np.array([[[np.inf, 1.0, 2.0, 3.0]]])))).backward()
    np.testing.assert_array_equal(be.to_numpy(x.grad), [[[np.inf, 5.0]]])


def test_upsample_refuses_bad_arguments_by_name(be):
    with pytest.raises(pc.ArgumentError, match="mode: portconv resizes by 'nearest' or"):
        nn.Upsample(scale_factor=2, mode="bilinear")
    with pytest.raises(pc.ArgumentError, match="size, scale_factor: give exactly one"):
        nn.Upsample()
    with pytest.raises(pc.ArgumentError, match="size, scale_factor: give exactly one"):
        nn.Upsample(4, 2)
    with pytest.raises(pc.ArgumentError, match="scale_factor: expected a positive number"):
        nn.Upsample(scale_factor=-1)
    with pytest.raises(pc.ArgumentError, match="size: expected a positive int"):
        nn.Upsample(size=2.5)
    with pytest.raises(pc.ArgumentError, match="align_corners"):
        nn.Upsample(scale_factor=2, align_corners=True)
    with pytest.raises(pc.ArgumentError, match="size: expected a positive int or 2"):
        nn.Upsample(size=(2, 3, 4))(be.asarray(np.ones((1, 1, 2, 2))))
    with pytest.raises(pc.ArgumentError, match=r"input: Upsample expects a batched"):
        nn.Upsample(scale_factor=2)(be.asarray(np.ones((2, 2))))
    with pytest.raises(pc.ArgumentError, match="non-empty input and output"):
        nn.Upsample(scale_factor=0.1)(be.asarray(np.ones((1, 1, 3))))


# -- fuzzing the new layers ----------------------------------------------------------------------

HOSTILE = [
    None, 0, -1, 1, 2, 3, 2.5, True, False, "3", "same", (2,), (2, 2), (1, 1, 1), (1, 0, 2, 1),
    [], float("nan"), float("inf"), 0.5, np.int64(2),
]  # fmt: skip
FUZZED = [
    nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveAvgPool3d, nn.Dropout1d,
    nn.Dropout2d, nn.LPPool2d, nn.MaxUnpool2d, nn.ZeroPad2d, nn.ConstantPad1d,
    nn.ReflectionPad2d, nn.ReplicationPad3d, nn.Upsample,
]  # fmt: skip


@settings(deadline=None)
@given(data=st.data())
def test_fuzzed_new_layers_build_and_run_or_refuse_with_a_portconv_error(be, data):
    import inspect

    cls = data.draw(st.sampled_from(FUZZED))
    params = [
        p for p in inspect.signature(cls).parameters.values() if p.kind == p.POSITIONAL_OR_KEYWORD
    ]
    low = sum(p.default is p.empty for p in params)
    n = data.draw(st.integers(low, min(len(params), low + 2)))
    args = [data.draw(st.sampled_from(HOSTILE)) for _ in range(n)]
    try:
        layer = cls(*args)
    except pc.PortconvError:
        return
    shape = data.draw(
        st.sampled_from([(2, 3, 6, 6), (3, 6, 6), (2, 3, 5), (2, 3), (1, 2, 3, 4, 4)])
    )
    x = be.asarray(np.ones(shape, np.float32))
    try:
        with be.run_context():
            y = layer(x) if not isinstance(layer, nn.MaxUnpool2d) else layer(x, x)
    except pc.PortconvError:
        return
    y = y[0] if isinstance(y, tuple) else y
    be.check_array(_data(y), dtype="float32")


# -- dry runs (portconv.models.shapes) -------------------------------------------------------------

_DRY = (
    [(e, s) for e, s in POOLS if "return_indices=True" not in e and ", True" not in e]
    + [
        (f"{k}Pad{d}d({p!r}{', 0.5' if k == 'Constant' else ''})", (2, 3) + (4,) * d)
        for k, d, p in PADS
    ]  # fmt: skip
    + UPSAMPLES
    + [("Upsample(size=(4, 6), mode='nearest-exact')", (1, 2, 3, 3))]
    + [(f"Dropout{d}d(0.5)", (2, 3) + (3,) * d) for d in (1, 2, 3)]
    + [("AdaptiveAvgPool2d((2, None), layout='channels_last')", (2, 5, 6, 3))]
    + [("LPPool2d(2, 3, 2, True, layout='channels_last')", (2, 8, 7, 3))]
)


@pytest.mark.parametrize("expr, shape", _DRY, ids=[f"{e}-{s}" for e, s in _DRY])
def test_dry_run_of_the_new_layers_equals_a_real_forward(be, expr, shape):
    """models.output_shape of each layer, without computing, against its forward."""
    layer = eval(f"nn.{expr}")
    real = layer(be.asarray(_rand(shape))).shape
    assert models.output_shape(layer, shape) == tuple(real)
    assert models.count_parameters(layer, shape) == 0


@pytest.mark.parametrize("d", [1, 2, 3])
def test_dry_run_of_max_unpooling_is_its_default_output_size(be, d):
    pool = getattr(nn, f"MaxPool{d}d")(2, return_indices=True)
    unpool = getattr(nn, f"MaxUnpool{d}d")(2)
    values, indices = pool(be.asarray(_rand((2, 3) + (6,) * d)))
    real = unpool(values, indices).shape
    assert models.output_shape(unpool, tuple(values.shape)) == tuple(real)


def test_dry_run_refuses_an_adaptive_max_pooling_with_indices():
    with pytest.raises(pc.ArgumentError, match=r"return_indices=True\): gives two outputs"):
        models.output_shape(nn.AdaptiveMaxPool2d(2, return_indices=True), (1, 2, 5, 5))
