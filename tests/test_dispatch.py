"""The foundation: adapters, dispatch, and the first op (the book's corr2d)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import portconv as pc

X = np.array([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]], dtype=np.float32)
K = np.array([[0.0, 1.0], [2.0, 3.0]], dtype=np.float32)


def test_backend_of_reports_adapter_version_and_device(be):
    x = be.asarray(X)
    info = pc.backend_of(x)
    assert info.name == be.adapter.name
    assert info.adapter is be.adapter
    assert info.version == be.adapter.version and info.version != "unknown"
    assert str(info.device) == str(be.device)


def test_corr2d_book_example(be):
    # 5.2.1: 0*0+1*1+3*2+4*3 = 19, 25, 37, 43
    y = pc.corr2d(be.asarray(X), be.asarray(K))
    be.check(y, [[19.0, 25.0], [37.0, 43.0]], dtype="float32")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_corr2d_matches_loop_reference(be, dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((7, 9)).astype(dtype)
    k = rng.standard_normal((3, 2)).astype(dtype)
    ref = np.zeros((5, 8))
    for i in range(5):
        for j in range(8):
            ref[i, j] = (x[i : i + 3, j : j + 2].astype(np.float64) * k).sum()
    tol = 1e-5 if dtype == "float32" else 1e-12
    be.check(pc.corr2d(be.asarray(x), be.asarray(k)), ref, rtol=tol, atol=tol, dtype=dtype)


def test_inputs_not_mutated(be):
    x, k = be.asarray(X), be.asarray(K)
    pc.corr2d(x, k)
    np.testing.assert_array_equal(be.to_numpy(x), X)
    np.testing.assert_array_equal(be.to_numpy(k), K)


class _Box:
    """An array of a made-up third library, registered by :func:`box_adapter`."""

    def __init__(self, a):
        self.a = np.asarray(a)


@pytest.fixture
def box_adapter():
    from portconv.backends import Adapter

    import portconv._dispatch as d

    class BoxAdapter(Adapter):
        name = "box"
        module = "builtins"

        def owns(self, x):
            return isinstance(x, _Box)

        def device(self, x):
            return "box0"

    before = dict(pc.adapters())
    pc.register(BoxAdapter())
    yield
    d._adapters = before
    d._owner_by_type.clear()


def test_mixed_libraries_name_both(be, box_adapter):
    with pytest.raises(TypeError, match=rf"{be.adapter.name} .*box \(.*_Box\)"):
        pc.corr2d(be.asarray(X), _Box(K))
    with pytest.raises(TypeError, match=rf"box .*{be.adapter.name} "):
        pc.backend_of(_Box(K), be.asarray(X))


def test_third_party_adapter_can_register(box_adapter):
    assert pc.backend_of(_Box([1.0])).name == "box"
    assert pc.backend_of(_Box([1.0])).device == "box0"


def test_not_an_array_names_its_type():
    with pytest.raises(TypeError, match="list"):
        pc.backend_of([[1.0, 2.0]])
    with pytest.raises(TypeError, match="str"):
        pc.corr2d("X", K)


def test_integer_input_says_what_to_cast(be):
    # the book's corr2d takes integers (issue 16); convolutions themselves say what to cast
    with pytest.raises(TypeError, match=r"input: expected a real floating-point array.*cast"):
        pc.conv2d(be.asarray(X.astype(np.int32)[None, None]), be.asarray(K[None, None]))


def test_kernel_larger_than_input(be):
    with pytest.raises(ValueError, match=r"K: kernel shape \(4, 4\)"):
        pc.corr2d(be.asarray(X), be.asarray(np.ones((4, 4), np.float32)))


def test_adapters_registered_through_entry_points():
    from importlib import metadata

    names = {ep.name for ep in metadata.entry_points(group="portconv.backends")}
    assert {"numpy", "torch", "mxnet", "cupy", "array_api_strict"} <= names
    assert set(pc.adapters()) >= names


def test_import_does_not_import_frameworks(tmp_path):
    code = (
        "import sys, portconv as pc, numpy as np\n"
        "pc.corr2d(np.ones((3, 3)), np.ones((2, 2)))\n"
        "pc.backend_of(np.ones(2))\n"
        "bad = [m for m in ('torch', 'mxnet', 'cupy', 'array_api_strict') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    # run outside the checkout so the installed package is imported
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path)


def test_backend_names_and_variants_resolve_in_one_place(be):
    names = pc.backend_names()
    assert {"numpy", "torch", "mxnet", "mxnet.nd", "array_api_strict", "cupy", "dask"} <= set(names)
    assert be.name in names
    adapter, variant = pc.resolve(be.name)
    assert adapter is be.adapter and variant == be.name
    made = pc.asarray([[1.0, 2.0]], be.name, device=be.device)
    be.check_array(made)  # the variant's own array type (mx.nd for "mxnet.nd")
    np.testing.assert_array_equal(be.to_numpy(made), [[1.0, 2.0]])


def test_an_unknown_backend_name_lists_the_known_ones():
    with pytest.raises(pc.BackendUnavailableError, match=r"backend: expected one of .*mxnet\.nd"):
        pc.resolve("jax.numpy")
    with pytest.raises(pc.BackendUnavailableError, match="got 3"):
        pc.asarray([1.0], 3)
