"""The wheel built from the checkout: the adapters as ``portconv.backends``, the conformance
suite as ``portconv.conformance`` with its seed pages, ``py.typed``, the licence, the metadata;
and, installed into a fresh virtual environment, ``portconv conformance`` runs from it."""

from __future__ import annotations

import email
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

import portconv

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
        check=True,
    )
    (path,) = out.glob("portconv-*.whl")
    return path


@pytest.fixture(scope="module")
def names(wheel) -> list[str]:
    return zipfile.ZipFile(wheel).namelist()


@pytest.fixture(scope="module")
def metadata(wheel, names) -> email.message.Message:
    meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
    return email.message_from_bytes(zipfile.ZipFile(wheel).read(meta))


def test_wheel_contains_portconv_backends_and_no_top_level_backends(wheel, names):
    backends = {n for n in names if n.startswith("portconv/backends/") and n.endswith(".py")}
    expected = {
        f"portconv/backends/{m}.py"
        for m in ("__init__", "numpy", "torch", "mxnet", "cupy", "array_api_strict", "dask")
    }
    assert expected <= backends, sorted(backends)
    top_level = {n.split("/")[0] for n in names}
    assert "backends" not in top_level, sorted(top_level)
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "[portconv.backends]" in text and "portconv.backends.mxnet:MXNetAdapter" in text


def test_wheel_ships_the_conformance_suite_with_its_seed_pages(names):
    for module in ("__init__", "run", "report", "_registry", "_parse", "_replay", "seed_000"):
        assert f"portconv/conformance/{module}.py" in names, module
    seeds = sorted(n for n in names if n.startswith("portconv/conformance/seeds/"))
    assert [Path(n).name for n in seeds] == sorted(p.name for p in ROOT.glob("conformance/seeds/*"))
    assert len(seeds) == 4
    assert "conformance" not in {n.split("/")[0] for n in names}


def test_wheel_ships_py_typed_and_the_licence(wheel, names):
    assert "portconv/py.typed" in names
    licence = next(n for n in names if n.endswith(".dist-info/licenses/LICENSE"))
    text = zipfile.ZipFile(wheel).read(licence).decode()
    assert text.startswith("MIT License") and "portconv authors" in text


def test_metadata(metadata):
    assert metadata["License-Expression"] == "MIT"
    assert metadata["License-File"] == "LICENSE"
    assert "License" not in metadata  # the deprecated table form is gone
    # one version, written in portconv/__init__.py
    assert metadata["Version"] == portconv.__version__
    urls = metadata.get_all("Project-URL")
    assert urls and all(", https://" in u for u in urls), urls


def _extra_requirements(requires: list[str], extra: str) -> set[str]:
    """The distribution names an extra installs, following ``portconv[a,b]`` self-references."""
    names = set()
    for r in requires:
        req, _, marker = r.partition(";")
        if f'extra == "{extra}"' not in marker:
            continue
        name = req.strip().split("[")[0].split(">")[0].split("=")[0].split("<")[0].strip()
        if name == "portconv":
            for sub in req[req.index("[") + 1 : req.index("]")].split(","):
                names |= _extra_requirements(requires, sub.strip())
        else:
            names.add(name)
    return names


def test_extras(metadata):
    extras = set(metadata.get_all("Provides-Extra"))
    assert {"torch", "mxnet", "cupy", "strict", "dask", "bench", "all", "test"} <= extras
    requires = metadata.get_all("Requires-Dist")
    assert _extra_requirements(requires, "bench") == {"threadpoolctl"}
    # every optional feature that installs without CUDA or a NumPy downgrade, and nothing else
    in_all = _extra_requirements(requires, "all")
    assert {"array-api-strict", "dask", "scikit-learn", "matplotlib", "tqdm", "threadpoolctl"} <= (
        in_all
    ), in_all
    assert not in_all & {"torch", "mxnet", "cupy-cuda12x"}, in_all


def _site_packages_of(module: str) -> str:
    return str(Path(__import__(module).__file__).resolve().parents[1])


def test_installed_wheel_runs_the_conformance_command(wheel, tmp_path):
    """A fresh virtual environment with only the wheel installed (its two dependencies,
    NumPy and array-api-compat, are lent from this environment's site-packages by a .pth
    file, so nothing is downloaded): ``portconv conformance`` runs the shipped suite from
    a folder that is not the checkout."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps"]
        + ["--no-index", str(wheel)],
        check=True,
    )
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    lent = {_site_packages_of("numpy"), _site_packages_of("array_api_compat")}
    # .pth lines are appended after the venv's own site-packages: the wheel's portconv wins
    (Path(purelib) / "lent-dependencies.pth").write_text("\n".join(sorted(lent)) + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    work = tmp_path / "elsewhere"
    work.mkdir()
    where = subprocess.run(
        [str(python), "-c", "import portconv.conformance as c; print(c.__file__)"],
        cwd=work,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert Path(where).is_relative_to(venv), where
    script = Path(sysconfig.get_path("scripts", vars={"base": str(venv)})) / "portconv"
    command = [str(script)] if script.exists() else [str(python), "-m", "portconv"]
    done = subprocess.run(
        command + ["conformance", "--backend", "numpy", "--report", "out"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "conformance on numpy: 103 cases: 16 erratum, 87 pass" in done.stdout
    assert (work / "out" / "matrix.html").is_file()


def test_conformance_runs_from_the_checkout_as_a_module(tmp_path):
    """``python -m conformance.run`` from the repository root, as the nox sessions call it."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-m", "conformance.run", "--backend", "numpy", "--dir", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert (tmp_path / "numpy.json").is_file()
