"""Merge the per-backend results into one matrix: cases down, backends across.

    python -m conformance.report [--dir conformance-report]

Prints the matrix and writes ``matrix.md``, ``matrix.html`` and ``matrix.json`` beside the
per-backend files. Exit status 1 when a case fails on any backend whose results are present.
"""

from __future__ import annotations

import argparse
import html
import json
import sys
from pathlib import Path

ORDER = ("numpy", "torch", "mxnet", "mxnet.nd", "array_api_strict", "cupy", "dask")
MARK = {"pass": "pass", "fail": "FAIL", "erratum": "erratum", "skipped": "skipped"}


def load(directory: Path) -> dict[str, dict]:
    runs = {}
    for path in sorted(directory.glob("*.json")):
        if path.name == "matrix.json":
            continue
        data = json.loads(path.read_text())
        runs[data["backend"]] = data
    return dict(
        sorted(runs.items(), key=lambda kv: ORDER.index(kv[0]) if kv[0] in ORDER else len(ORDER))
    )


def matrix(runs: dict[str, dict]) -> tuple[list[dict], list[str]]:
    backends = list(runs)
    rows: dict[str, dict] = {}
    for b, data in runs.items():
        for r in data["results"]:
            row = rows.setdefault(
                r["id"],
                {
                    "id": r["id"],
                    "seed": r["seed"],
                    "cell": r["cell"],
                    "title": r["title"],
                    "cells": {},
                    "notes": set(),
                },
            )
            row["cells"][b] = r["status"]
            if r["status"] in ("erratum", "pass") and r.get("detail"):
                row["notes"].add(r["detail"])
            if r["status"] in ("fail", "skipped") and r.get("detail"):
                row["notes"].add(f"{b}: {r['detail']}")
    return list(rows.values()), backends


def counts(rows: list[dict], backends: list[str]) -> dict[str, dict[str, int]]:
    out = {b: {"pass": 0, "erratum": 0, "fail": 0, "skipped": 0, "absent": 0} for b in backends}
    for row in rows:
        for b in backends:
            out[b][row["cells"].get(b, "absent")] += 1
    return out


def to_markdown(rows, backends, runs) -> str:
    lines = ["# Conformance matrix", ""]
    for b in backends:
        d = runs[b]
        version = d.get("library_version") or f"skipped: {d.get('skipped')}"
        lines.append(
            f"- **{b}**: {version} (python {d['python']}, numpy {d['numpy']}, run {d['time']})"
        )
    lines += [
        "",
        "| case | seed | cell | " + " | ".join(backends) + " | notes |",
        "|---|---|---|" + "---|" * len(backends) + "---|",
    ]
    for row in rows:
        cells = " | ".join(MARK.get(row["cells"].get(b, "absent"), "absent") for b in backends)
        notes = "; ".join(sorted(row["notes"])).replace("|", "\\|")
        lines.append(f"| {row['title']} | {row['seed'][:3]} | {row['cell']} | {cells} | {notes} |")
    c = counts(rows, backends)
    lines += ["", "| backend | pass | erratum | fail | skipped |", "|---|---|---|---|---|"]
    for b in backends:
        lines.append(
            f"| {b} | {c[b]['pass']} | {c[b]['erratum']} | {c[b]['fail']} | {c[b]['skipped']} |"
        )
    return "\n".join(lines) + "\n"


def to_html(rows, backends) -> str:
    colour = {"pass": "#c8f0c8", "erratum": "#f6e7a8", "fail": "#f4b0b0", "skipped": "#ddd"}
    head = "".join(f"<th>{html.escape(b)}</th>" for b in backends)
    body = []
    for row in rows:
        tds = "".join(
            f'<td style="background:{colour.get(row["cells"].get(b), "#fff")}">'
            f"{html.escape(MARK.get(row['cells'].get(b, ''), 'absent'))}</td>"
            for b in backends
        )
        body.append(
            f"<tr><td>{html.escape(row['title'])}</td><td>{row['seed'][:3]}</td>"
            f"<td>{html.escape(row['cell'])}</td>{tds}"
            f"<td>{html.escape('; '.join(sorted(row['notes'])))}</td></tr>"
        )
    return (
        "<!doctype html><meta charset=utf-8><title>portconv conformance</title>"
        "<table border=1 cellspacing=0 cellpadding=3><tr><th>case</th><th>seed</th>"
        f"<th>cell</th>{head}<th>notes</th></tr>{''.join(body)}</table>\n"
    )


def to_terminal(rows, backends) -> str:
    width = min(max((len(r["title"]) for r in rows), default=10), 60)
    head = f"{'case':<{width}}  {'cell':<10}" + "".join(f"{b[:10]:>11}" for b in backends)
    out = [head, "-" * len(head)]
    for row in rows:
        out.append(
            f"{row['title'][:width]:<{width}}  {row['cell'][:10]:<10}"
            + "".join(f"{MARK.get(row['cells'].get(b, ''), 'absent'):>11}" for b in backends)
        )
    c = counts(rows, backends)
    out.append("-" * len(head))
    for key in ("pass", "erratum", "fail", "skipped"):
        out.append(f"{key:<{width}}  {'':<10}" + "".join(f"{c[b][key]:>11}" for b in backends))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", default="conformance-report")
    args = ap.parse_args(argv)
    directory = Path(args.dir)
    runs = load(directory)
    if not runs:
        print(f"no results in {directory}/: run python -m conformance.run first")
        return 1
    rows, backends = matrix(runs)
    print(to_terminal(rows, backends))
    (directory / "matrix.md").write_text(to_markdown(rows, backends, runs))
    (directory / "matrix.html").write_text(to_html(rows, backends))
    merged = {
        "backends": {b: {k: v for k, v in runs[b].items() if k != "results"} for b in backends},
        "counts": counts(rows, backends),
        "cases": [dict(r, notes=sorted(r["notes"])) for r in rows],
    }
    (directory / "matrix.json").write_text(json.dumps(merged, indent=1))
    print(f"\nwritten: {directory}/matrix.md, matrix.html, matrix.json")
    failed = [b for b, c in counts(rows, backends).items() if c["fail"]]
    if failed:
        print(f"conformance FAILED on: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
