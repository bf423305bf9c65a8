"""portconv.convert: between every pair of libraries present, dtype and device kept, memory
shared through DLPack where both sides allow it, copied otherwise."""

from __future__ import annotations

from importlib.util import find_spec

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


# -- devices and tensors whose values cannot be handed over (issue 19, item 11) ------------------


def test_device_strings_are_read_by_the_adapter(be):
    ad = be.adapter
    assert ad.parse_device(None) is None
    assert str(ad.parse_device(be.device)) == str(be.device)  # a device object of its own
    for text in ("bogus", "cuda:x", "", "cpu:0:1"):
        with pytest.raises(pc.ArgumentError, match=r"^device: ") as info:
            ad.parse_device(text)
        assert repr(text) in str(info.value)
    with pytest.raises(pc.ArgumentError, match="cuda:99"):
        ad.parse_device("cuda:99")  # no machine here has a hundred GPUs
    with pytest.raises(pc.ArgumentError, match=r"^device: .*3\.5"):
        ad.parse_device(3.5)


def test_convert_to_a_bogus_or_missing_device_is_refused(be):
    x = be.asarray(np.ones(3))
    with pytest.raises(pc.ArgumentError, match=r"device: 'bogus'"):
        pc.convert(x, "numpy", device="bogus")
    with pytest.raises(pc.ArgumentError, match=r"device: 'cuda:0' asked for, but"):
        pc.convert(x, "numpy", device="cuda:0")
    with pytest.raises(pc.ArgumentError, match="device"):
        pc.convert(x, "numpy", device=object())


def test_convert_to_cuda_on_a_torch_build_without_it():
    torch = pytest.importorskip("torch", reason="torch not installed")
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device: the error cannot happen here")
    with pytest.raises(pc.ArgumentError, match=r"device: 'cuda' asked for, but .*use 'cpu'"):
        pc.convert(np.ones(2), "torch", device="cuda")
    with pytest.raises(pc.ArgumentError, match="asked for"):
        pc.convert(np.ones(2), "torch", device=torch.device("cuda", 0))
    y = pc.convert(np.ones(2), "torch", device="cpu")
    assert y.device == torch.device("cpu")


@pytest.mark.filterwarnings("ignore")
def test_torch_tensors_without_plain_values_get_clear_errors():
    torch = pytest.importorskip("torch", reason="torch not installed")
    cases = {
        "meta": (torch.empty(3, device="meta"), "meta device holds no values"),
        "sparse": (torch.eye(3).to_sparse(), r"not dense; call x.to_dense\(\)"),
        "nested": (torch.nested.nested_tensor([torch.zeros(2), torch.zeros(3)]), "unbind"),
        "bfloat16": (torch.zeros(2, dtype=torch.bfloat16), "NumPy has no bfloat16"),
    }
    # array-api-strict (a NumPy in disguise) where the session installs it
    targets = ["numpy", "torch"] + ["array_api_strict"] * bool(find_spec("array_api_strict"))
    for name, (x, message) in cases.items():
        for to in targets:
            if name == "bfloat16" and to == "torch":
                continue  # torch to torch keeps bfloat16
            with pytest.raises(pc.ArrayTypeError, match=f"^x: .*{message}"):
                pc.convert(x, to)


def test_torch_conjugate_and_negative_views_convert_to_their_values():
    """Regression: a negated view (``conj().imag``) was shared through DLPack with its
    memory's values, the sign lost."""
    torch = pytest.importorskip("torch", reason="torch not installed")
    z = torch.tensor([1 + 2j, 3 - 1j])
    for to in ("numpy", "torch"):
        conj = pc.convert(z.conj(), to)
        np.testing.assert_array_equal(np.asarray(conj), [1 - 2j, 3 + 1j])
        neg = pc.convert(z.conj().imag, to)
        np.testing.assert_array_equal(np.asarray(neg), [-2.0, 1.0])


def test_convert_names_the_argument_it_refuses():
    with pytest.raises(pc.ArrayTypeError, match=r"^x: expected an array"):
        pc.convert([1.0, 2.0], "numpy")
    with pytest.raises(pc.ArgumentError, match=r"^to: expected one of .* got list"):
        pc.convert(np.ones(2), ["numpy"])
