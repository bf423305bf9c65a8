"""Run every conformance case on one backend and write its results as JSON.

    python -m conformance.run --backend torch [--dir conformance-report] [--report]
    python -m conformance.run --backend mxnet,mxnet.nd --report
    portconv conformance [--backend numpy,torch] [--report DIR]     # from an installed wheel

Writes DIR/BACKEND.json per backend; with --report, then merges every result in DIR into the
matrix (see conformance.report). Exit status 1 when a case fails on a backend of this run, 0
otherwise (a backend that cannot run here records every case as skipped, with the reason).

The suite is installed with portconv as ``portconv.conformance`` (this folder, with the seed
pages the cases quote in ``seeds/``), so ``portconv conformance`` runs it without a checkout,
on the libraries installed beside portconv.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import time
import traceback
import warnings
from pathlib import Path
from typing import Any

import numpy as np

import portconv as pc
from portconv.typing import Array

from . import _parse
from ._registry import CASES, SEED_FRAMEWORK, Case, Noted

SEED_MODULES = ("seed_000", "seed_001", "seed_002", "seed_003")
#: every backend name and variant portconv knows (``portconv.backend_names()``)
BACKENDS = tuple(pc.backend_names())


class Book:
    """The backend as a case sees it: ``bk.array(data)`` makes an array of the backend
    under test the way the seed's ``nd.array`` / ``np.array`` / ``torch.tensor`` does
    (float32 unless told), on the backend's default device."""

    def __init__(self, name: str):
        self.name = name
        self.adapter, _ = pc.resolve(name)
        self.device = self.adapter.default_device()

    def array(self, data: Any, dtype: str = "float32") -> Array:
        return pc.asarray(np.asarray(data, dtype=dtype), self.name, device=self.device)

    def to_numpy(self, y: Array) -> np.ndarray:
        return np.asarray(self.adapter.to_numpy(y))

    def is_array(self, y: Any) -> bool:
        try:
            return self.adapter.owns(y)
        except Exception:
            return False

    def own_type(self) -> type:
        return type(self.array([0.0]))


def _plain(bk: Book, value: Any) -> Any:
    """The checked value of a case's result: arrays become NumPy (after checking that they
    are the backend's own type, on its device), shapes become tuples of ints."""
    if bk.is_array(value):
        if type(value) is not bk.own_type():
            raise AssertionError(
                f"result is a {type(value).__module__}.{type(value).__qualname__}, not the "
                f"backend's own {bk.own_type().__qualname__}"
            )
        if str(bk.adapter.device(value)) != str(bk.device):
            raise AssertionError(f"result is on {bk.adapter.device(value)}, not {bk.device}")
        return bk.to_numpy(value)
    if isinstance(value, tuple) and all(isinstance(v, int) for v in value):
        return tuple(int(v) for v in value)
    if isinstance(value, (tuple, list)):
        return type(value)(_plain(bk, v) for v in value)
    return value


def _compare(case: Case, got: Any, expected: Any) -> str:
    """Empty string when ``got`` matches ``expected`` under the case's rule, else why not."""
    if isinstance(expected, tuple) and not (expected and isinstance(expected[0], int)):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            return f"expected {len(expected)} values, got {got!r}"
        for g, e in zip(got, expected):
            why = _compare(case, g, e)
            if why:
                return why
        return ""
    if isinstance(expected, list) and expected and isinstance(expected[0], tuple):
        # rows of text and shapes (layer summaries): compared exactly
        return "" if list(got) == expected else f"got {got!r}, expected {expected!r}"
    if isinstance(got, np.ndarray) or isinstance(expected, list):
        g = np.asarray(got, dtype=np.float64)
        e = np.asarray(expected, dtype=np.float64)
        if g.shape != e.shape:
            return f"shape {g.shape}, documented {e.shape}"
        if case.rule == "exact":
            ok = np.array_equal(g, e)
        else:
            ok = np.allclose(g, e, rtol=case.rtol, atol=case.atol)
        if not ok:
            diff = float(np.max(np.abs(g - e))) if g.size else 0.0
            return f"largest difference {diff:.3g} (rule {case.rule}, atol {case.atol})"
        return ""
    if isinstance(expected, float) and case.rule == "close":
        return (
            ""
            if abs(float(got) - expected) <= case.atol + case.rtol * abs(expected)
            else (f"got {got!r}, expected {expected!r}")
        )
    return "" if got == expected else f"got {got!r}, expected {expected!r}"


def value_text(value: Any, limit: int = 600) -> str:
    """A short text of a checked value for the report (arrays as NumPy prints them)."""
    if isinstance(value, np.ndarray):
        text = np.array2string(value, precision=7, threshold=100, edgeitems=3)
    elif isinstance(value, (tuple, list)) and any(isinstance(v, np.ndarray) for v in value):
        text = "(" + ", ".join(value_text(v, limit) for v in value) + ")"
    else:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def run_case(bk: Book, case: Case) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": case.id,
        "seed": case.seed,
        "cell": case.cell,
        "title": case.title,
        "rule": case.rule,
        "erratum": case.erratum,
        "documented": case.documented,
    }
    start = time.perf_counter()
    try:
        result = case.run(bk)
        note, shown = "", None
        if isinstance(result, Noted):
            result, note, shown = result.value, result.note, result.shown
        got = _plain(bk, result)
        entry["obtained"] = value_text(got)
        why = _compare(case, got, case.expected)
        printout = "n/a"
        if not why and case.printed and SEED_FRAMEWORK[case.seed] == bk.name:
            # the seed's own framework prints the documented text for this object
            if shown is None:
                shown = repr(result) if case.printed == "repr" else str(result)
            shown = _parse.normalise(shown)
            if case.erratum is None:
                printout = "pass" if shown == _parse.normalise(case.documented) else "fail"
                if printout == "fail":
                    why = f"{bk.name} prints {shown!r}, documented {case.documented!r}"
        entry["printout"] = printout
        if why:
            entry.update(status="fail", detail="; ".join(t for t in (why, note) if t))
        else:
            detail = "; ".join(t for t in (case.erratum, note) if t)
            entry.update(status="erratum" if case.erratum else "pass", detail=detail)
    except Exception as exc:  # a failing case must not stop the others
        entry.update(
            status="fail",
            detail=f"{type(exc).__name__}: {exc}",
            traceback=traceback.format_exc(limit=6),
        )
    entry["seconds"] = round(time.perf_counter() - start, 4)
    return entry


def load_cases() -> list[Case]:
    # relative to this package: ``conformance`` in a checkout, ``portconv.conformance`` installed
    for name in SEED_MODULES:
        importlib.import_module(f"{__package__}.{name}")
    return CASES


def installed_backends() -> list[str]:
    """The backends whose library can be imported here, in the matrix's order."""
    names = []
    for name in BACKENDS:
        adapter, _ = pc.resolve(name)
        if not adapter.unavailable_reason():
            names.append(name)
    return names


def _backend_names(text: str | None) -> list[str]:
    """``--backend``'s comma-separated names, checked; None: every installed backend."""
    if text is None:
        return installed_backends()
    names = [b.strip() for b in text.split(",") if b.strip()]
    if not names:
        raise ValueError(f"--backend: expected one or more of {', '.join(BACKENDS)}, got {text!r}")
    for name in names:
        if name not in BACKENDS:
            raise ValueError(f"--backend: {name!r} is not one of {', '.join(BACKENDS)}")
    return names


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--backend",
        required=True,
        help=f"one or several (comma-separated) of {', '.join(BACKENDS)}",
    )
    ap.add_argument("--dir", default="conformance-report", help="where results are written")
    ap.add_argument("--report", action="store_true", help="merge all results into the matrix")
    ap.add_argument(
        "--skip-reason",
        default=None,
        help="record every case as skipped for this reason without running (a backend that "
        "cannot run here, such as cupy without a CUDA device)",
    )
    args = ap.parse_args(argv)
    try:
        names = _backend_names(args.backend)
    except ValueError as exc:
        ap.error(str(exc))
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    os.environ.setdefault("MXNET_ENGINE_TYPE", "NaiveEngine")
    cases = load_cases()
    status = max(run_backend(name, cases, Path(args.dir), args.skip_reason) for name in names)
    if args.report:
        from . import report

        report.main(["--dir", args.dir])
    return status


def run_backend(backend: str, cases: list[Case], directory: Path, skip: str | None = None) -> int:
    adapter, _ = pc.resolve(backend)
    reason = skip or adapter.unavailable_reason()
    record: dict[str, Any] = {
        "backend": backend,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "portconv": pc.__version__,
        "numpy": np.__version__,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if reason:
        record.update(
            library_version=None,
            skipped=reason,
            results=[
                {
                    "id": c.id,
                    "seed": c.seed,
                    "cell": c.cell,
                    "title": c.title,
                    "status": "skipped",
                    "detail": reason,
                }
                for c in cases
            ],
        )
    else:
        importlib.import_module(adapter.module)
        record["library_version"] = adapter.version
        bk = Book(backend)
        # the adapter's context for whole programs: the cases train, and a loss is a 0-d
        # array (MXNet has those only with NumPy shape semantics, as the book's npx.set_np())
        with adapter.run_context():
            record["results"] = [run_case(bk, c) for c in cases]
    directory.mkdir(parents=True, exist_ok=True)
    out = directory / f"{backend}.json"
    out.write_text(json.dumps(record, indent=1))
    counts: dict[str, int] = {}
    for r in record["results"]:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
        if r["status"] == "fail":
            print(f"FAIL {r['id']} ({r['title']}): {r['detail']}", file=sys.stderr)
    summary = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
    print(f"conformance on {backend}: {len(record['results'])} cases: {summary}")
    if reason:
        print(f"  skipped: {reason}")
    return 1 if counts.get("fail") else 0


# -- portconv conformance ----------------------------------------------------------------------


def configure(sub: Any) -> None:
    """Add ``portconv conformance`` to the command's subparsers."""
    p = sub.add_parser(
        "conformance",
        help="check the textbook's documented outputs on the array libraries installed here",
        description="Run every documented output of the textbook pages (the conformance "
        "suite shipped with portconv) on each backend, print the matrix and, with --report, "
        "write it as matrix.html, matrix.md and matrix.json. Exit status 1 when a case fails.",
    )
    p.add_argument(
        "--backend",
        default=None,
        help=f"comma-separated, of: {', '.join(BACKENDS)} (default: every one whose library "
        "is installed here)",
    )
    p.add_argument(
        "--report",
        default=None,
        metavar="DIR",
        help="write each backend's results (BACKEND.json) and the merged matrix to DIR "
        "(default: print only)",
    )
    p.set_defaults(handler=run_command)


def run_command(args: Any) -> int:
    """``portconv conformance``: run, print the matrix, write the report if asked."""
    import tempfile

    from portconv.errors import ArgumentError

    from . import report

    try:
        names = _backend_names(args.backend)
    except ValueError as exc:
        raise ArgumentError(str(exc)) from None
    if not names:
        raise ArgumentError(
            f"--backend: none of {', '.join(BACKENDS)} can be imported here; install one"
        )
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    os.environ.setdefault("MXNET_ENGINE_TYPE", "NaiveEngine")
    cases = load_cases()
    with tempfile.TemporaryDirectory(prefix="portconv-conformance-") as scratch:
        directory = Path(args.report) if args.report else Path(scratch)
        status = max(run_backend(name, cases, directory, None) for name in names)
        if args.report:
            return max(status, report.main(["--dir", str(directory)]))
        runs = report.load(directory)
        rows, backends = report.matrix(runs)
        print()
        print(report.to_terminal(rows, backends))
    return status


if __name__ == "__main__":
    sys.exit(main())
