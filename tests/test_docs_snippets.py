"""Every ```python block of the README and of the documentation's pages runs.

Each block is one test, run as a script would run it (``__name__ == "__main__"``) in a fresh
namespace and an empty working directory. A block that imports a library not installed in
this session is skipped, naming the library; blocks that start a process pool (a
``dask.distributed`` cluster) run in a subprocess. The notebooks (docs/notebooks/) are not
here: the documentation build executes them.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [ROOT / "README.md"] + sorted(
    p
    for p in (ROOT / "docs").rglob("*.md")
    if "_build" not in p.parts and "_generated" not in p.parts
)
NOTEBOOKS = ROOT / "docs" / "notebooks"
_FENCE = re.compile(
    r"^(?P<indent>[ \t]*)```python[ \t]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$", re.M | re.S
)


def _blocks() -> list:
    out = []
    for path in SOURCES:
        if NOTEBOOKS in path.parents:
            continue
        text = path.read_text(encoding="utf-8")
        for m in _FENCE.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            body = textwrap.dedent(m.group("body"))
            out.append(pytest.param(body, id=f"{path.relative_to(ROOT)}:{line}"))
    return out


BLOCKS = _blocks()


def _imported(code: str) -> set[str]:
    """The top-level names of the modules a block imports."""
    names = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


#: portconv names whose use needs an optional library that the block does not import itself
NEEDS = {"load_digits(": "sklearn", "Animator(": "matplotlib", "plot_history(": "matplotlib"}


def _missing(code: str) -> list[str]:
    names = _imported(code) | {lib for call, lib in NEEDS.items() if call in code}
    return sorted(n for n in names if importlib.util.find_spec(n) is None)


def test_there_are_blocks_in_the_readme_and_the_docs():
    ids = [p.id for p in BLOCKS]
    assert any(i.startswith("README.md:") for i in ids)
    assert any(i.startswith("docs/") for i in ids)


@pytest.mark.parametrize("code", BLOCKS)
def test_block_runs(code, tmp_path, monkeypatch):
    missing = _missing(code)
    if missing:
        pytest.skip(f"needs {', '.join(missing)}, not installed in this environment")
    monkeypatch.chdir(tmp_path)
    if "LocalCluster" in code or "multiprocessing" in code:
        # worker processes must be able to start from a script: run it as one
        script = tmp_path / "snippet.py"
        script.write_text(code)
        env = {**os.environ, "PYTHONWARNINGS": "ignore::DeprecationWarning"}
        done = subprocess.run(
            [sys.executable, str(script)], capture_output=True, text=True, timeout=600, env=env
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        return
    namespace = {"__name__": "__main__", "__file__": str(tmp_path / "snippet.py")}
    exec(compile(code, str(tmp_path / "snippet.py"), "exec"), namespace)


# -- the notebooks, on the backend under test -------------------------------------------------

_CELL = re.compile(r"^```\{code-cell\} python[^\n]*\n(?P<body>.*?)^```[ \t]*$", re.M | re.S)
#: the notebooks' training is the docs build's to run (on NumPy, on the real data); on every
#: backend a smaller run shows that the same code works there: these replacements must apply
SMALLER = {
    "lenet.md": {
        "data.load_digits()": "data.make_synthetic(64, 32, seed=0)",
        "epochs=4": "epochs=1",
    }
}
NOTEBOOK_FILES = sorted(p for p in NOTEBOOKS.glob("*.md") if p.name != "index.md")


def test_every_notebook_has_a_backend_cell():
    assert len(NOTEBOOK_FILES) >= 7
    for path in NOTEBOOK_FILES:
        cells = _CELL.findall(path.read_text(encoding="utf-8"))
        assert any('BACKEND = "numpy"' in c for c in cells[:2]), path.name


@pytest.mark.parametrize("path", NOTEBOOK_FILES, ids=[p.name for p in NOTEBOOK_FILES])
def test_notebook_runs_on_the_backend(path, be, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib", reason="the notebooks plot with matplotlib (the plot extra)")
    if path.name == "lenet.md":
        pytest.importorskip("sklearn", reason="the LeNet notebook reads scikit-learn's digits")
    import matplotlib

    matplotlib.use("Agg")  # plt.show() draws nothing outside Jupyter
    monkeypatch.chdir(tmp_path)
    text = path.read_text(encoding="utf-8")
    for old, new in SMALLER.get(path.name, {}).items():
        assert old in text, f"{path.name} no longer has {old!r}: update SMALLER"
        text = text.replace(old, new)
    namespace = {"__name__": "__main__"}
    with be.run_context():
        for cell in _CELL.findall(text):
            cell = cell.replace('BACKEND = "numpy"', f'BACKEND = "{be.name}"')
            exec(compile(cell, str(path), "exec"), namespace)
    assert namespace["BACKEND"] == be.name


# -- docstring examples -----------------------------------------------------------------------

#: modules whose docstrings' Examples sections run here (the ops', layers' and models' join as
#: their docstrings gain examples; until then `python -m pytest --doctest-modules` on them)
DOCTESTED = ["portconv.plot", "portconv.typing", "portconv.nn.functional", "portconv.porting"]


@pytest.mark.parametrize("name", DOCTESTED)
def test_docstring_examples_run(name, tmp_path, monkeypatch):
    import doctest
    import importlib

    if name == "portconv.plot":
        pytest.importorskip("matplotlib", reason="portconv.plot's examples draw with matplotlib")
    monkeypatch.chdir(tmp_path)
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
