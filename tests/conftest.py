"""The backend fixture: every test that takes ``be`` runs once per backend named in the
environment variable ``PORTCONV_BACKENDS`` (comma-separated; default ``numpy``). Each nox
session sets it, so the whole suite runs on every array library.

``be.asarray(a)`` builds an array of the backend under test from NumPy data; ``be.check(y,
expected)`` asserts that ``y`` is the backend's own array type, on its device, with the
expected dtype, before comparing its values with a float64 NumPy reference: a silent detour
through NumPy fails.
"""

from __future__ import annotations

import os
import sys
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

warnings.filterwarnings("ignore", category=DeprecationWarning, module="mxnet")
os.environ.setdefault("MXNET_ENGINE_TYPE", "NaiveEngine")  # errors raised where they occur
# the suite compares with float64 references: JAX's 64-bit mode on, as a JAX user turns it on
# (tests/test_jax.py checks the default 32-bit mode too)
os.environ.setdefault("JAX_ENABLE_X64", "1")

from hypothesis import HealthCheck, settings  # noqa: E402

import portconv as pc  # noqa: E402

# Hypothesis profiles: "ci" is what every nox session affords on 2 cores; "nightly" is the
# long run (HYPOTHESIS_PROFILE=nightly python3 -m nox -s tests).
settings.register_profile(
    "ci", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "nightly", max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=10, deadline=None)
# "ci" on libraries that compile (JAX: a program per new shape) or build a task graph (Dask)
# for every call: a quarter of the random configurations, which the other sessions check in full
settings.register_profile(
    "ci-graph", max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

BACKENDS = [b.strip() for b in os.environ.get("PORTCONV_BACKENDS", "numpy").split(",") if b]


@dataclass
class BackendUnderTest:
    """One backend as the tests see it. ``name`` is the backend's name; ``adapter_name``
    the adapter's (``mxnet.nd`` is the MXNet adapter fed legacy NDArrays)."""

    name: str
    adapter: Any
    device: Any = None
    native: dict = field(default_factory=dict)

    @property
    def legacy_nd(self) -> bool:
        """True for a variant other than the adapter's own arrays (MXNet's legacy NDArrays)."""
        return self.name != self.adapter.name

    @property
    def xp(self):
        return self.adapter.namespace()

    def asarray(self, a, dtype=None):
        a = np.asarray(a, dtype=dtype if dtype is not None else None)
        y = pc.asarray(a, self.name, device=self.device)
        if self.name == "dask":  # cut every axis into up to three chunks: ops meet halos
            y = y.rechunk(tuple(max(1, -(-s // 3)) for s in a.shape))
        return y

    def run_context(self):
        """The adapter's context for whole programs: the backend has 0-d arrays (a loss)
        inside it (MXNet needs NumPy shape semantics for them, as the book's npx.set_np())."""
        return self.adapter.run_context()

    def to_numpy(self, y) -> np.ndarray:
        return np.asarray(self.adapter.to_numpy(y))

    @staticmethod
    def data(y):
        """The array of a :class:`portconv.autograd.Variable` (a layer's result), else ``y``."""
        return y.data if isinstance(y, pc.autograd.Variable) else y

    def array_type(self):
        probe = self.asarray(np.zeros(1, dtype=np.float32))
        return type(probe)

    def check_array(self, y, dtype=None):
        """Assert that ``y`` is this backend's own array type on its device."""
        expected_type = self.array_type()
        assert type(y) is expected_type, (
            f"result is a {type(y).__module__}.{type(y).__qualname__}, expected the "
            f"{self.name} backend's {expected_type.__module__}.{expected_type.__qualname__}"
        )
        assert str(self.adapter.device(y)) == str(self.device), (
            f"result is on {self.adapter.device(y)}, expected {self.device}"
        )
        if dtype is not None:
            want = dtype if dtype == "bfloat16" else np.dtype(dtype).name
            assert _dtype_name(y.dtype) == want, f"result dtype {y.dtype}, expected {dtype}"

    def check(self, y, expected, *, rtol=1e-6, atol=1e-6, dtype=None):
        """Type, device and (optionally) dtype, then values against a NumPy reference."""
        self.check_array(y, dtype=dtype)
        got = self.to_numpy(y)
        expected = np.asarray(expected)
        assert got.shape == expected.shape, f"shape {got.shape}, expected {expected.shape}"
        np.testing.assert_allclose(
            got.astype(np.float64), expected.astype(np.float64), rtol=rtol, atol=atol
        )

    def compare_editions(self, last, first, x_nchw, *, pad=0, flat_hwc=None, train=False):
        """A channels-last edition of a model (``models.keras``, ``models.flax``) against the
        channels-first one (``models``) on the NCHW input ``x_nchw`` (the last edition's
        input transposed to NHWC, and padded by ``pad`` on each spatial side where the
        editions' first layers pad differently): both built by one call, every parameter of
        ``last`` copied into ``first`` (:func:`copy_last_to_first`), then the logits equal
        to float64 precision. Returns them as NumPy."""
        x_nhwc = x_nchw.transpose(0, 2, 3, 1)
        if pad:
            x_nhwc = np.pad(x_nhwc, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
        xl, xf = self.asarray(x_nhwc), self.asarray(x_nchw)
        for m in (last, first):
            m.train(train)
        with self.run_context():
            last(xl)  # builds every parameter from the input's sizes, as Keras's and Flax's do
            first(xf)
        copy_last_to_first(last, first, self, flat_hwc)
        with self.run_context():
            got, want = self.data(last(xl)), self.data(first(xf))
        self.check(got, self.to_numpy(want), rtol=1e-9, atol=1e-10, dtype="float64")
        return self.to_numpy(got)


def copy_last_to_first(last, first, be, flat_hwc=None, seed=1):
    """Copy every parameter of the built channels-last model ``last`` into the built
    channels-first ``first``, in declaration order: HWIO kernels -> OIHW weights, dense (in,
    out) -> (out, in) (the first dense kernel's rows permuted from NHWC's to NCHW's flatten
    order when ``flat_hwc`` gives the (H, W, C) it flattens), 1-D parameters as they are.
    Biases and batch-norm scales (Keras's ``gamma``, Flax's ``scale``) are drawn at random
    first, so that they are tested too."""
    rng = np.random.default_rng(seed)
    ls, fs = list(last.named_parameters()), list(first.named_parameters())
    assert len(ls) == len(fs), (len(ls), len(fs))
    first_dense = True
    for (lname, lp), (fname, fp) in zip(ls, fs, strict=True):
        host = be.to_numpy(lp.data)
        if host.ndim == 1:
            scale = lname.endswith(("gamma", "scale"))
            host = rng.standard_normal(host.shape) * 0.1 + (1.0 if scale else 0.0)
            lp.data = be.asarray(host)
            want = host
        elif host.ndim == 4:
            want = host.transpose(3, 2, 0, 1)
        else:
            want = host.T
            if first_dense and flat_hwc is not None:
                h, w, c = flat_hwc
                want = host.reshape(h, w, c, -1).transpose(3, 2, 0, 1).reshape(host.shape[1], -1)
            first_dense = False
        assert want.shape == tuple(fp.shape), (lname, fname, want.shape, tuple(fp.shape))
        fp.data = be.asarray(np.ascontiguousarray(want))


def _dtype_name(dtype) -> str:
    """The name of any backend's dtype object (``torch.float32``, ``array_api_strict.float32``,
    MXNet's ``numpy.float32`` class, ``torch.bfloat16``, ...)."""
    try:
        return np.dtype(dtype).name
    except TypeError:
        return str(dtype).split(".")[-1]


def _make(name: str) -> BackendUnderTest:
    try:
        adapter, _ = pc.resolve(name)
    except pc.BackendUnavailableError as exc:
        pytest.skip(str(exc))
    adapter_name = adapter.name
    reason = adapter.unavailable_reason()
    if reason:
        if os.environ.get("PORTCONV_REQUIRE_BACKENDS") == "1" and adapter_name != "cupy":
            pytest.fail(f"backend {name} is required here but unavailable: {reason}")
        pytest.skip(f"backend {name} unavailable: {reason}")
    __import__(adapter.module)  # make its arrays recognisable
    return BackendUnderTest(name=name, adapter=adapter, device=adapter.default_device())


@pytest.fixture(scope="session", params=BACKENDS)
def be(request) -> BackendUnderTest:
    return _make(request.param)


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_programs():
    """JAX keeps every program it compiles (a few MB each, and the suite's random calls
    compile thousands): released after each test module, so memory stays bounded."""
    yield
    jax = sys.modules.get("jax")
    if jax is not None:
        jax.clear_caches()


def pytest_report_header(config):
    lines = [f"portconv backends under test: {', '.join(BACKENDS)}"]
    for name in BACKENDS:
        try:
            ad, _ = pc.resolve(name)
        except pc.BackendUnavailableError:
            lines.append(f"  {name}: no adapter registered")
            continue
        reason = ad.unavailable_reason()
        lines.append(
            f"  {name}: "
            + (f"unavailable ({reason})" if reason else f"{ad.distribution} {ad.version}")
        )
    lines.append(f"  python {sys.version.split()[0]}, numpy {np.__version__}")
    return lines


# -- counts for the end of the session: fuzzed argument sets and hypothesis examples ------------

#: ``fuzz``: argument sets tried per backend by tests/test_fuzz.py and
#: tests/test_fuzz_boundaries.py; ``fuzz_targets``: those of the second file per target (fit,
#: batches, files, convert; the rest are the ops'); ``fuzz_bad``: how many of them raised
#: anything but portconv's own errors; ``fuzz_results``: how many returned a result (of the
#: right shape); ``property``: hypothesis examples run by every other test (counted by
#: wrapping each ``@given`` test's inner function, so the tests themselves need not know)
COUNTS: dict[str, Any] = {
    "fuzz": {},
    "fuzz_targets": {},
    "fuzz_bad": 0,
    "fuzz_results": 0,
    "property": 0,
}
FUZZ_FILES = ("test_fuzz.py", "test_fuzz_boundaries.py")


@pytest.fixture(scope="session")
def counts() -> dict[str, Any]:
    return COUNTS


def _counting(inner):
    import functools

    @functools.wraps(inner)
    def run(*args, **kwargs):
        COUNTS["property"] += 1
        return inner(*args, **kwargs)

    run._portconv_counted = True
    return run


def pytest_collection_modifyitems(items):
    for item in items:
        hyp = getattr(getattr(item, "obj", None), "hypothesis", None)
        if hyp is None or item.path.name in FUZZ_FILES:
            continue
        if not getattr(hyp.inner_test, "_portconv_counted", False):
            hyp.inner_test = _counting(hyp.inner_test)


def pytest_terminal_summary(terminalreporter):
    per_backend = COUNTS["fuzz"]
    if per_backend:
        total = sum(per_backend.values())
        detail = ", ".join(f"{name} {n}" for name, n in per_backend.items())
        targets = COUNTS["fuzz_targets"]
        by_target = ""
        if targets:
            ops = total - sum(targets.values())
            parts = ([f"ops {ops}"] if ops else []) + [f"{t} {n}" for t, n in targets.items()]
            by_target = f"; by target: {', '.join(parts)}"
        terminalreporter.write_line(
            f"fuzz: {total} argument sets tried ({detail}), "
            f"{COUNTS['fuzz_bad']} non-portconv errors ({COUNTS['fuzz_results']} valid by "
            f"chance, each of the right shape){by_target}"
        )
    if COUNTS["property"]:
        terminalreporter.write_line(f"property: {COUNTS['property']} configurations checked")
