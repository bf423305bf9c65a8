"""portconv.convert: between every pair of libraries present, dtype and device kept, memory
shared through DLPack where both sides allow it, copied otherwise."""

from __future__ import annotations

import numpy as np
import pytest

import portconv as pc

TARGETS = ["numpy", "torch", "mxnet", "mxnet.nd", "array_api_strict", "cupy"]


def _available(target):
    adapter = next(a for a in pc.adapters().values() if target in a.targets)
    return adapter.unavailable_reason()


@pytest.mark.parametrize("to", TARGETS)
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
def test_convert_to_every_library_keeps_values_and_dtype(be, to, dtype):
    reason = _available(to)
    if reason:
        pytest.skip(f"target {to} unavailable here: {reason}")
    a = np.arange(12, dtype=dtype).reshape(3, 4)
    y = pc.convert(be.asarray(a), to)
    target = pc.backend_of(y)
    assert to in target.adapter.targets
    if to == "mxnet.nd":
        assert target.adapter.is_legacy(y)
    np.testing.assert_array_equal(target.adapter.to_numpy(y), a)
    assert np.dtype(str(target.adapter.to_numpy(y).dtype)) == np.dtype(dtype)
    # and back to the backend under test, its own array type on its device
    back = pc.convert(y, be.name)
    be.check(back, a, dtype=dtype)


def test_numpy_and_torch_share_memory(be):
    if be.name != "torch":
        pytest.skip("shares NumPy and torch memory; runs in the torch session")
    import torch

    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = pc.convert(a, "torch")
    t[0, 0] = 100.0
    assert a[0, 0] == 100.0  # a view, not a copy
    back = pc.convert(t, "numpy")
    back[1, 1] = -1.0
    assert t[1, 1].item() == -1.0
    g = torch.ones(2, requires_grad=True)
    assert np.shares_memory(pc.convert(g, "numpy"), g.detach().numpy())


def test_read_only_numpy_arrays_are_copied_never_written(be):
    a = np.arange(6, dtype=np.float32)
    a.flags.writeable = False
    y = pc.convert(a, be.name)
    assert not np.shares_memory(be.to_numpy(y), a) or not be.to_numpy(y).flags.writeable
    with pytest.raises(ValueError, match="copy: False asks for a view"):
        pc.convert(a, "numpy" if be.name == "numpy" else be.name, copy=False)


def test_copy_true_always_copies(be):
    a = np.arange(6, dtype=np.float32)
    y = pc.convert(a, "numpy", copy=True)
    y[0] = 42.0
    assert a[0] == 0.0
    x = be.asarray(a)
    z = pc.convert(x, be.name, copy=True)
    be.check(z, a)


def test_mxnet_shares_memory_through_its_capsules(be):
    if be.adapter.name != "mxnet":
        pytest.skip("MXNet's own DLPack capsule functions; runs in the mxnet session")
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    m = pc.convert(a, "mxnet")
    m[0, 0] = 50.0
    assert a[0, 0] == 50.0
    n = pc.convert(m, "numpy")
    m[1, 2] = 7.0
    assert n[1, 2] == 7.0


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"to: expected one of .*'torch'.*got 'tinygrad'"):
        pc.convert(np.ones(2), "tinygrad")
    with pytest.raises(ValueError, match="copy: expected None, True or False"):
        pc.convert(np.ones(2), "numpy", copy="yes")
    with pytest.raises(TypeError, match="list"):
        pc.convert([1.0, 2.0], "numpy")


@pytest.mark.parametrize("to", TARGETS)
def test_non_contiguous_and_bool_arrays_convert_to_the_right_values(to):
    """Strided views and bool arrays: shared where DLPack allows it (with their strides),
    copied where not -- the values are right either way."""
    reason = _available(to)
    if reason:
        pytest.skip(f"target {to} unavailable here: {reason}")
    a = np.arange(24, dtype=np.float32).reshape(4, 6)
    for source in (a.T, a[:, ::2], a[::-1], np.array([True, False, True])):
        y = pc.convert(source, to)
        got = pc.backend_of(y).adapter.to_numpy(y)
        np.testing.assert_array_equal(got, source)
        assert got.dtype == source.dtype
