"""The matrix: one session per array library for the conformance suite and for the tests.

    python3 -m nox -s conformance          # the textbook on every backend, merged into one matrix
    python3 -m nox -s tests                # the pytest suite on every backend
    python3 -m nox -s "tests(torch)"       # one backend
    python3 -m nox -s lint
    python3 -m nox -s docs                 # the documentation, warnings as errors

The cupy sessions skip, printing why, where no CUDA device is visible. The dask sessions run
portconv on Dask arrays (every array cut into chunks) with NumPy chunks, and start a local
``dask.distributed`` cluster of worker processes. The jax sessions run JAX's CPU build
(PORTCONV_JAX, default ``jax[cpu]==0.10.2``) and Flax in JAX's 64-bit mode
(``JAX_ENABLE_X64=1``); tests/test_jax.py checks the default 32-bit mode too.

Each session installs portconv from the checkout into its own virtual environment with the
one array library it tests, and sets PORTCONV_BACKENDS so the whole pytest suite runs on that
library. PyTorch comes from PORTCONV_TORCH (default ``torch==2.13.0``, a CPU build): set it to
the requirement of the build you want, for example ``PORTCONV_TORCH="torch==2.5.1"``.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import nox

nox.options.default_venv_backend = "virtualenv"  # pip sees the locally cached torch build
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["conformance"]

TORCH = os.environ.get("PORTCONV_TORCH", "torch==2.13.0")
MXNET = ["mxnet==1.9.1", "numpy<1.24"]  # the last MXNet release needs NumPy < 1.24
CUPY = os.environ.get("PORTCONV_CUPY", "cupy-cuda12x")
JAX = os.environ.get("PORTCONV_JAX", "jax[cpu]==0.10.2")
FLAX = "flax==0.12.8"  # tests/test_jax.py checks the Flax weight converters against Flax itself
# tests/test_keras_interop.py checks the Keras layers, models and weight files against Keras 3,
# on its PyTorch backend, in the torch session (it brings h5py)
KERAS = "keras==3.15.1"

# backend name -> (packages to install, PORTCONV_BACKENDS value)
BACKENDS = {
    "numpy": ([], "numpy"),
    "torch": ([TORCH], "torch"),
    "mxnet": (MXNET, "mxnet,mxnet.nd"),
    "array_api_strict": (["array-api-strict"], "array_api_strict"),
    "cupy": ([CUPY], "cupy"),
    # Dask arrays chunk by chunk, and a dask.distributed cluster for tests/test_dask.py
    "dask": (["dask[array,distributed]>=2024.1"], "dask"),
    # JAX's CPU build (PORTCONV_JAX: the requirement of another build, e.g. "jax[cuda12]"),
    # and Flax
    "jax": ([JAX, FLAX], "jax"),
}

# environment a backend's sessions need: the suite and the book's float64 cases need JAX's
# 64-bit mode (off by default: JAX would store float64 data as float32)
BACKEND_ENV = {"jax": {"JAX_ENABLE_X64": "1"}}

# pytest options a backend's test session adds: XLA reports a fatal error from C++ on file
# descriptor 2 and aborts, and pytest's default capture (of the descriptors) would lose the
# message with the process; capturing sys.stdout/sys.stderr only lets it reach the log
PYTEST_OPTIONS = {"jax": ["--capture=sys"]}


def cuda_device_reason() -> str:
    """Empty when a CUDA device is visible here, else why not."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return "no CUDA device: nvidia-smi is not on PATH (no NVIDIA driver on this machine)"
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"no CUDA device: nvidia-smi failed: {exc}"
    if out.returncode != 0 or "GPU" not in out.stdout:
        return f"no CUDA device: nvidia-smi -L printed {out.stdout.strip() or out.stderr.strip()!r}"
    return ""


def install_backend(session: nox.Session, backend: str, extras: str = "test") -> str:
    """Install portconv with ``backend``'s library; return the PORTCONV_BACKENDS value."""
    if backend == "cupy":
        reason = cuda_device_reason()
        if reason:
            session.skip(f"cupy session skipped: {reason}")
    packages, names = BACKENDS[backend]
    # The array library first, so portconv's own requirements do not pick another build.
    if packages:
        session.install(*packages)
    session.install(f".[{extras}]" if extras else ".", *packages)
    return names


def hypothesis_profile(backend: str) -> str:
    """HYPOTHESIS_PROFILE if set; else "ci", or "ci-graph" (a quarter of the examples) on the
    libraries that compile or build a task graph per call (CI's time limit)."""
    chosen = os.environ.get("HYPOTHESIS_PROFILE")
    if chosen:
        return chosen
    return "ci-graph" if backend in ("jax", "dask") else "ci"


@nox.session
@nox.parametrize("backend", list(BACKENDS), ids=list(BACKENDS))
def tests(session: nox.Session, backend: str) -> None:
    """The whole pytest suite on one array library."""
    # the optional extras (scikit-learn's digits, matplotlib's plots, tqdm's progress bar)
    # are tested once, in the NumPy session; elsewhere their tests skip, saying so
    extras = "test,digits,plot,progress" if backend == "numpy" else "test"
    names = install_backend(session, backend, extras)
    if backend == "torch":  # torch.testing._internal (the OpInfo oracle) imports expecttest
        session.install("expecttest", KERAS)
    env = {
        "PORTCONV_BACKENDS": names,
        "PORTCONV_REQUIRE_BACKENDS": "1",  # a backend that fails to load fails, not skips
        "MXNET_ENGINE_TYPE": "NaiveEngine",  # MXNet errors raise where they occur
        "HYPOTHESIS_PROFILE": hypothesis_profile(backend),
        "PYTHONWARNINGS": "ignore::DeprecationWarning:mxnet",
        **BACKEND_ENV.get(backend, {}),
    }
    session.run("pytest", *PYTEST_OPTIONS.get(backend, []), *session.posargs, env=env)


@nox.session
def bench(session: nox.Session) -> None:
    """The performance suite (``portconv bench``) with PyTorch (PORTCONV_TORCH), writing
    bench-results/bench.json; not in the default sessions (it takes minutes)."""
    session.install(TORCH)
    session.install(".[torch]", TORCH)
    session.run("python", "-m", "portconv", "bench", "--json", "bench-results/bench.json")


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff==0.17.6")  # one formatter version: its output changes between releases
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def docs(session: nox.Session) -> None:
    """The documentation site, built with warnings as errors into docs/_build/html.

    The doc tools are pinned in docs/requirements.txt; portconv comes with the extras its
    notebooks use (scikit-learn's digits, matplotlib), and the notebooks run on NumPy. The
    conformance page shows conformance-report/ when the conformance sessions ran first (as
    in CI), else the build runs the suite on NumPy itself.
    """
    session.install("-r", "docs/requirements.txt", ".[digits,plot]")
    session.run(
        "sphinx-build",
        "-W",
        "--keep-going",
        "-b",
        "html",
        "docs",
        "docs/_build/html",
        *session.posargs,
        env={"PYTHONWARNINGS": "ignore::DeprecationWarning"},
    )


@nox.session
@nox.parametrize("backend", list(BACKENDS), ids=list(BACKENDS))
def conformance(session: nox.Session, backend: str) -> None:
    """Every documented output of the seeds on one library, then the merged matrix of every
    backend run so far (conformance-report/matrix.{md,html,json})."""
    if backend == "cupy" and cuda_device_reason():
        # no GPU here: the matrix still gets a cupy column, every case skipped with the reason
        reason = cuda_device_reason()
        session.install(".")
        session.run(
            "python",
            "-m",
            "conformance.run",
            "--backend",
            "cupy",
            "--skip-reason",
            reason,
            "--report",
        )
        session.skip(f"cupy session skipped: {reason}")
    names = install_backend(session, backend, extras="")
    env = {
        "MXNET_ENGINE_TYPE": "NaiveEngine",
        "PYTHONWARNINGS": "ignore::DeprecationWarning",
        **BACKEND_ENV.get(backend, {}),
    }
    # runs the cases, then merges what every backend's session has written so far into the
    # matrix (the last session prints the whole of it); fails when a case fails here
    session.run("python", "-m", "conformance.run", "--backend", names, "--report", env=env)
