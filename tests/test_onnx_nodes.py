"""ONNX's own node tests as an oracle: every convolution and pooling case of the ONNX backend
test suite, generated at test time by onnx's case collection (the ``expect()`` machinery of
``onnx.backend.test.case.node``: each case is a one-node model with its inputs and the
outputs of ONNX's reference implementation; nothing is downloaded), run through portconv on
the backend under test.

Each ONNX operator is mapped onto portconv's public op the way an ONNX backend would run it:
attributes become arguments (``pads`` become (begin, end) pairs, ``auto_pad`` SAME_UPPER /
SAME_LOWER / VALID become ``"same"`` / ``"same_lower"`` / ``"valid"``), MaxPool's indices
count over the whole tensor (PyTorch's, which portconv returns, count per plane) and
MaxUnpool's count over the whole tensor in the inferred shape. The result must be the
backend's own array type, with ONNX's dtype and values (to ONNX's backend-test tolerances,
``rtol=1e-3, atol=1e-7``: some expected outputs are written out to four digits).

Cases whose operator is not a convolution or pooling are not collected; among those that
are, nothing is left out (:data:`EXCLUDED` lists exclusions with their reasons; it is empty,
and docs/user-guide/ops.md says so).
"""

from __future__ import annotations

import importlib
import math

import numpy as np
import pytest

import portconv as pc

onnx = pytest.importorskip("onnx", reason="the onnx package (test extra) is not installed")

#: the modules of onnx.backend.test.case.node whose cases are convolution or pooling
MODULES = (
    "averagepool", "conv", "convinteger", "convtranspose", "deformconv",
    "globalaveragepool", "globalmaxpool", "lppool", "maxpool", "maxunpool", "qlinearconv",
)  # fmt: skip

#: case name -> reason it is not run (none)
EXCLUDED: dict[str, str] = {}

_CASES: list = []


def _cases() -> list:
    """The node test cases of :data:`MODULES` (collected once: importing a case module runs
    its ``export*`` functions, which compute the expected outputs with ONNX's reference)."""
    if not _CASES:
        import onnx.backend.test.case.node as node_cases

        for name in MODULES:
            importlib.import_module(f"onnx.backend.test.case.node.{name}")
        _CASES.extend(
            c for c in node_cases._NodeTestCases if c.model.graph.node[0].op_type != "Identity"
        )
    return _CASES


def _names() -> list[str]:
    try:
        return sorted(c.name for c in _cases())
    except ImportError:  # collected without onnx: importorskip above skips the module
        return []


# -- ONNX attributes as portconv arguments ---------------------------------------------------------


def _attrs(node) -> dict:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _text(v):
    return v.decode() if isinstance(v, bytes) else v


def _padding(attrs: dict, d: int):
    """ONNX's ``auto_pad`` and ``pads`` as portconv's ``padding``."""
    auto = _text(attrs.get("auto_pad", "NOTSET"))
    if auto == "SAME_UPPER":
        return "same"
    if auto == "SAME_LOWER":
        return "same_lower"
    if auto == "VALID":
        return "valid"
    pads = attrs.get("pads", [0] * (2 * d))
    return tuple((pads[i], pads[i + d]) for i in range(d))


def _window(attrs: dict, d: int) -> dict:
    return {
        "stride": tuple(attrs.get("strides", [1] * d)),
        "padding": _padding(attrs, d),
        "dilation": tuple(attrs.get("dilations", [1] * d)),
    }


def _global_indices(idx: np.ndarray, spatial: tuple, order: int) -> np.ndarray:
    """PyTorch's per-plane row-major indices as ONNX's: over the whole tensor, row-major
    (``storage_order=0``) or column-major within the plane (``storage_order=1``)."""
    plane = math.prod(spatial)
    n, c = idx.shape[:2]
    if order == 1:
        coords = np.unravel_index(idx, spatial)
        idx = np.ravel_multi_index(coords, spatial, order="F")
    base = (np.arange(n * c).reshape(n, c) * plane).reshape((n, c) + (1,) * len(spatial))
    return idx + base


def _run(be, case) -> list:
    """portconv's outputs for an ONNX node test case (NumPy arrays)."""
    node = case.model.graph.node[0]
    op, attrs = node.op_type, _attrs(node)
    inputs, _ = case.data_sets[0]
    names = [n for n in node.input]
    given = dict(zip([n for n in names if n], inputs))
    slot = {i: given.get(n) if n else None for i, n in enumerate(names)}

    def arr(i):
        a = slot.get(i)
        if a is None:
            return None
        a = np.asarray(a)
        return a[()] if a.ndim == 0 else be.asarray(a)  # 0-d: a NumPy scalar of its dtype

    x = arr(0)
    d = len(inputs[0].shape) - 2
    if op == "Conv":
        y = pc.conv(x, arr(1), arr(2), groups=attrs.get("group", 1), **_window(attrs, d))
        return [y]
    if op == "ConvTranspose":
        w = _window(attrs, d)
        out_shape = attrs.get("output_shape")
        padding = w["padding"] if "pads" in attrs or out_shape is None else 0
        same = _text(attrs.get("auto_pad", "NOTSET")) in ("SAME_UPPER", "SAME_LOWER")
        if same:
            padding = w["padding"]
        extra = tuple(attrs.get("output_padding", [0] * d))
        if out_shape is not None and not same:  # ONNX ignores output_padding then
            extra = (0,) * d
        y = pc.conv_transpose(
            x, arr(1), arr(2), w["stride"], padding, extra, attrs.get("group", 1),
            w["dilation"], output_size=None if out_shape is None else tuple(out_shape),
        )  # fmt: skip
        return [y]
    if op in ("AveragePool", "MaxPool", "LpPool"):
        kernel = tuple(attrs["kernel_shape"])
        w = _window(attrs, d)
        ceil = bool(attrs.get("ceil_mode", 0))
        if op == "AveragePool":
            count = bool(attrs.get("count_include_pad", 0))
            y = pc.avg_pool(x, kernel, w["stride"], w["padding"], ceil, count,
                            dilation=w["dilation"])  # fmt: skip
            return [y]
        if op == "LpPool":
            fn = getattr(pc, f"lp_pool{d}d")
            y = fn(x, attrs.get("p", 2), kernel, w["stride"], ceil, padding=w["padding"],
                   dilation=w["dilation"], convention="onnx")  # fmt: skip
            return [y]
        if len([o for o in node.output if o]) == 1:
            return [pc.max_pool(x, kernel, w["stride"], w["padding"], w["dilation"], ceil)]
        y, idx = pc.max_pool(x, kernel, w["stride"], w["padding"], w["dilation"], ceil, True)
        order = attrs.get("storage_order", 0)
        return [y, _global_indices(be.to_numpy(idx), tuple(inputs[0].shape[2:]), order)]
    if op == "GlobalAveragePool":
        return [pc.global_avg_pool(x)]
    if op == "GlobalMaxPool":
        return [pc.global_max_pool(x)]
    if op == "MaxUnpool":
        kernel = tuple(attrs["kernel_shape"])
        stride = tuple(attrs.get("strides", [1] * d))
        pads = _padding(attrs, d)
        inferred = tuple(
            (n - 1) * s - b - a + k
            for n, s, (b, a), k in zip(inputs[0].shape[2:], stride, pads, kernel)
        )
        out = tuple(np.asarray(slot[2])[2:]) if slot.get(2) is not None else inferred
        # ONNX: a flat index over the whole tensor in the inferred shape, placed at the same
        # coordinates of the requested shape; PyTorch's (portconv's): per plane, requested
        idx = np.asarray(inputs[1])
        n, c = idx.shape[:2]
        per = idx - (np.arange(n * c).reshape(n, c, *([1] * d)) * math.prod(inferred))
        coords = np.unravel_index(per, inferred)
        plane = np.ravel_multi_index(coords, out).astype(np.int64)
        fn = getattr(pc, f"max_unpool{d}d")
        return [fn(x, be.asarray(plane), kernel, stride, pads, output_size=out)]
    if op in ("ConvInteger", "QLinearConv"):
        w = _window(attrs, d)
        args = dict(stride=w["stride"], padding=w["padding"], dilation=w["dilation"],
                    groups=attrs.get("group", 1))  # fmt: skip
        if op == "ConvInteger":
            return [pc.conv_integer(x, arr(1), arr(2), arr(3), **args)]
        y = pc.qlinear_conv(x, arr(1), arr(2), arr(3), arr(4), arr(5), arr(6), arr(7), arr(8),
                            **args)  # fmt: skip
        return [y]
    if op == "DeformConv":
        w = _window(attrs, d)
        y = pc.deform_conv2d(x, arr(2), arr(1), arr(3), w["stride"], w["padding"],
                             w["dilation"], arr(4))  # fmt: skip
        return [y]
    raise AssertionError(f"no mapping for the ONNX operator {op}")


@pytest.mark.parametrize("name", _names())
def test_onnx_node_case(be, name):
    if name in EXCLUDED:
        pytest.skip(EXCLUDED[name])
    case = next(c for c in _cases() if c.name == name)
    _, expected = case.data_sets[0]
    with be.run_context():
        got = _run(be, case)
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        e = np.asarray(e)
        if isinstance(g, np.ndarray) and e.dtype == np.int64:  # indices, converted
            np.testing.assert_array_equal(g, e)
            continue
        be.check_array(g, dtype=e.dtype.name)
        if e.dtype.kind in "iu":
            np.testing.assert_array_equal(be.to_numpy(g), e)
        else:
            be.check(g, e, rtol=1e-3, atol=1e-7)  # ONNX's backend tests' own tolerances
