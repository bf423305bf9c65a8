"""Sphinx configuration of portconv's documentation.

Build it with ``python3 -m nox -s docs`` (warnings are errors), or by hand in an environment
with ``pip install -r docs/requirements.txt -e ".[digits,plot]"``::

    sphinx-build -W --keep-going -b html docs docs/_build/html

The notebooks (docs/notebooks/*.md, MyST markdown notebooks) are executed during the build on
NumPy. The conformance page shows the matrix in ``conformance-report/`` when the conformance
sessions have written one (``nox -s conformance`` before ``nox -s docs``: every backend);
otherwise the build runs the suite on NumPy itself.
"""

from __future__ import annotations

import html
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
GENERATED = HERE / "_generated"

try:
    import portconv
except ImportError:  # building from a checkout without installing it
    sys.path.insert(0, str(ROOT))
    import portconv

# -- project ---------------------------------------------------------------------------------

project = "portconv"
author = "portconv authors"
copyright = "2026, portconv authors"
version = release = portconv.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "myst_nb",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "_generated", "requirements.txt", "**/.ipynb_checkpoints"]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb"}

# -- API reference ---------------------------------------------------------------------------

autosummary_generate = True
autosummary_ignore_module_all = False  # a module's __all__ is its public API
autosummary_imported_members = False
autodoc_typehints = "none"  # numpydoc's Parameters sections say the types, in words
autodoc_member_order = "bysource"
autodoc_inherit_docstrings = True
numpydoc_show_class_members = False  # the class template lists members through autodoc
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = False

# Docstrings that docutils cannot parse as they are: their owners (the engineers rewriting
# those modules) are to fix them; until then each is rendered from the named line on as a
# literal block, which is what its author meant. Keyed by the object's full name; nothing
# else is touched, and a key whose line is no longer found is ignored.
LITERAL_FROM = {
    "portconv.config": "with portconv.config(",
    "portconv.data": "from portconv import data",
    "portconv.nn.init": '``"torch"``',
}


def _literal_tail(app, what, name, obj, options, lines):
    prefix = LITERAL_FROM.get(name)
    if prefix is None:
        return
    start = next((i for i, line in enumerate(lines) if line.strip().startswith(prefix)), None)
    if start is None:
        return
    before = next((line for line in reversed(lines[:start]) if line.strip()), "")
    tail = ["    " + line if line.strip() else "" for line in lines[start:]]
    head = [] if before.rstrip().endswith("::") else ["::", ""]
    lines[start:] = head + tail


# -- MyST and the notebooks ------------------------------------------------------------------

myst_enable_extensions = ["colon_fence", "dollarmath", "deflist"]
myst_heading_anchors = 3
nb_execution_mode = "cache"
nb_execution_cache_path = str(HERE / "_build" / ".jupyter_cache")
nb_execution_timeout = 600
nb_execution_raise_on_error = True  # a notebook cell that raises fails the build
nb_execution_show_tb = True
nb_merge_streams = True

# -- HTML ------------------------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"portconv {release}"
html_static_path = ["_static"]
html_css_files = ["portconv.css"]
html_extra_path = [str(GENERATED / "extra")]
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
    # the matrix is wide: give it the page's whole width
    "secondary_sidebar_items": {"**": ["page-toc", "sourcelink"], "conformance/latest": []},
}
html_sidebars = {"index": []}
html_last_updated_fmt = None

# -- the conformance matrix ------------------------------------------------------------------

MARK = {"pass": "pass", "fail": "FAIL", "erratum": "erratum", "skipped": "skipped"}


def _report_dir() -> Path:
    """A directory holding matrix.json: the conformance sessions' (every backend), or one
    made now on NumPy."""
    given = os.environ.get("PORTCONV_CONFORMANCE_REPORT")
    for candidate in ([Path(given)] if given else []) + [ROOT / "conformance-report"]:
        if (candidate / "matrix.json").is_file() and (candidate / "matrix.html").is_file():
            return candidate
    out = HERE / "_build" / "conformance-report"
    if out.exists():
        shutil.rmtree(out)
    # the installed command (the suite ships with portconv), on the library the docs run on
    subprocess.run(
        [sys.executable, "-m", "portconv", "conformance", "--backend", "numpy"]
        + ["--report", str(out)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return out


def _matrix_page(directory: Path) -> str:
    """The matrix as MyST markdown: backends and totals, then every case (raw HTML)."""
    data = json.loads((directory / "matrix.json").read_text())
    backends = list(data["backends"])
    lines = [
        f"Generated {data.get('generated', '(date not recorded)')}; "
        f"{len(data['cases'])} cases on {len(backends)} backend(s).",
        "",
        "| backend | library | Python | NumPy | pass | erratum | fail | skipped |",
        "|---|---|---|---|---:|---:|---:|---:|",
    ]
    for b in backends:
        d, c = data["backends"][b], data["counts"][b]
        library = d.get("library_version") or f"skipped: {d.get('skipped')}"
        lines.append(
            f"| `{b}` | {library} | {d['python']} | {d['numpy']} | {c['pass']} | "
            f"{c['erratum']} | {c['fail']} | {c['skipped']} |"
        )
    lines += ["", "```{raw} html", '<table class="conformance-cases">', "<thead><tr>"]
    heads = ["case", "page and cell"] + backends + ["documented", "erratum, failure or note"]
    lines.append("".join(f"<th>{html.escape(h)}</th>" for h in heads) + "</tr></thead><tbody>")
    for case in data["cases"]:
        marks = "".join(
            f'<td><span class="pc-mark pc-{case["cells"].get(b, "absent")}">'
            f"{MARK.get(case['cells'].get(b, ''), 'absent')}</span></td>"
            for b in backends
        )
        notes = "<br>".join(html.escape(n) for n in case["notes"])
        lines.append(
            f"<tr><td>{html.escape(case['title'])}</td>"
            f"<td>{html.escape(case.get('page', case['seed']))}<br>"
            f"<b>{html.escape(case['cell'])}</b></td>{marks}"
            f"<td><pre>{html.escape(case.get('documented', ''))}</pre></td>"
            f"<td>{notes}</td></tr>"
        )
    lines += ["</tbody></table>", "```", ""]
    return "\n".join(lines)


def _generate_conformance() -> None:
    directory = _report_dir()
    extra = GENERATED / "extra" / "conformance"
    extra.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(directory / "matrix.html", extra / "report.html")
    (GENERATED / "matrix.md").write_text(_matrix_page(directory), encoding="utf-8")


_generate_conformance()


def setup(app):
    app.connect("autodoc-process-docstring", _literal_tail)
