"""Merge the per-backend results into one matrix: cases down, backends across.

    python -m conformance.report [--dir conformance-report]

Prints the matrix and writes ``matrix.md``, ``matrix.html`` and ``matrix.json`` beside the
per-backend files. Exit status 1 when a case fails on any backend whose results are present.

``matrix.html`` is one self-contained page (inline styles, a few lines of inline script): a
title and the date, each backend's library versions and totals, a legend, a filter
(failures / errata / all), and per case its page and cell, the documented text, the value
obtained, and the erratum's reason or the failure.
"""

from __future__ import annotations

import argparse
import html
import json
import sys
import time
from pathlib import Path
from string import Template

import portconv as pc

from ._registry import SEED_FRAMEWORK, seed_text

#: the matrix's columns: every backend name portconv knows, in its order
ORDER = tuple(pc.backend_names())
MARK = {"pass": "pass", "fail": "FAIL", "erratum": "erratum", "skipped": "skipped"}
STATUSES = ("pass", "erratum", "fail", "skipped")
#: what each mark means, for the legends of the page and of matrix.md
LEGEND = {
    "pass": "the value portconv computes on this backend equals the documented one (exactly, "
    "or within the case's stated tolerance for floats)",
    "erratum": "the documented output cannot come from the documented code; the reason is "
    "given, and the case checks the true value instead (which this backend computes)",
    "fail": "this backend computes something else, or raises; the detail says what",
    "skipped": "the backend cannot run here (its library is missing, or no GPU); the reason "
    "is given",
}
#: how the seed's own framework is named on the page
FRAMEWORK_NAME = {"mxnet.nd": "MXNet nd", "mxnet": "MXNet np", "torch": "PyTorch"}


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


def page_title(seed: str) -> str:
    """The seed page as a reader knows it: its first heading and the framework it uses."""
    try:
        text = seed_text(seed)
    except (ValueError, OSError):
        return seed
    first = next((line for line in text.splitlines() if line.strip()), seed)
    heading = first.strip().lstrip("#").replace("\u00b6", "").strip()
    framework = FRAMEWORK_NAME.get(SEED_FRAMEWORK.get(seed, ""), "")
    return f"{seed[:3]}: {heading}" + (f" ({framework})" if framework else "")


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
                    "documented": r.get("documented", ""),
                    "erratum": r.get("erratum"),
                    "cells": {},
                    "obtained": {},
                    "notes": set(),
                },
            )
            row["cells"][b] = r["status"]
            if r.get("obtained") is not None:
                row["obtained"][b] = r["obtained"]
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


def _version(run: dict) -> str:
    return run.get("library_version") or f"skipped: {run.get('skipped')}"


def to_markdown(rows, backends, runs) -> str:
    lines = ["# Conformance matrix", ""]
    for b in backends:
        d = runs[b]
        lines.append(
            f"- **{b}**: {_version(d)} (python {d['python']}, numpy {d['numpy']}, run {d['time']})"
        )
    lines += ["", "Legend:", ""]
    lines += [f"- **{MARK[k]}**: {v}" for k, v in LEGEND.items()]
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


# -- the HTML page -------------------------------------------------------------------------------

_PAGE = Template("""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>portconv conformance report, $date</title>
<style>
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: #1d2430; margin: 2rem auto; max-width: 1400px; padding: 0 1.5rem; }
h1 { font-size: 1.7rem; margin: 0 0 .2rem; }
h2 { font-size: 1.15rem; margin: 1.8rem 0 .6rem; }
.sub { color: #5a6472; margin: 0 0 1.2rem; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #d5dae1; padding: .35rem .55rem; vertical-align: top;
         text-align: left; }
th { background: #f1f3f6; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.mark { display: inline-block; min-width: 4.6em; padding: .05rem .4rem; border-radius: .3rem;
        text-align: center; font-size: .85rem; font-weight: 600; }
.pass { background: #d3f2d3; color: #185c18; }
.erratum { background: #fbeab0; color: #6b5200; }
.fail { background: #f8c4c4; color: #8a1212; }
.skipped, .absent { background: #e4e6ea; color: #4a5260; }
.legend { display: grid; grid-template-columns: max-content 1fr; gap: .35rem .8rem;
          align-items: baseline; max-width: 60rem; }
.filter { margin: 1rem 0 .6rem; display: flex; gap: 1rem; align-items: center; }
.filter label { cursor: pointer; }
pre { margin: 0; white-space: pre-wrap; word-break: break-word; font-size: .82rem;
      font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; }
.doc { max-width: 26rem; } .got { max-width: 20rem; } .why { max-width: 28rem; font-size: .88rem; }
.case-id { color: #6a7480; font-size: .78rem; display: block; }
.page { color: #3b4552; font-size: .85rem; }
tr.hidden { display: none; }
.total-fail { color: #8a1212; font-weight: 700; }
</style>
</head>
<body>
<h1>portconv conformance report</h1>
<p class="sub">Every documented output of the textbook pages, run with portconv's public API on
each array library. Generated $date with portconv $portconv; $ncases cases on
$nbackends backend(s). $verdict</p>

<h2>Backends</h2>
<table>
<tr><th>backend</th><th>library version</th><th>Python</th><th>NumPy</th><th>run at</th>
<th>pass</th><th>erratum</th><th>fail</th><th>skipped</th></tr>
$backend_rows
</table>

<h2>Legend</h2>
<div class="legend">
$legend
</div>

<h2>Cases</h2>
<div class="filter" role="radiogroup" aria-label="which cases to show">
<strong>Show:</strong>
<label><input type="radio" name="show" value="fail"> failures ($nfail)</label>
<label><input type="radio" name="show" value="erratum"> errata ($nerrata)</label>
<label><input type="radio" name="show" value="all" checked> all ($ncases)</label>
<span id="shown" class="sub"></span>
</div>
<table id="cases">
<tr><th>case</th><th>page and cell</th>$backend_heads<th>documented</th>
<th>value obtained</th><th>erratum reason, failure or note</th></tr>
$case_rows
</table>
<script>
// show the rows whose data-status lists the chosen mark (or every row for "all")
function show(which) {
  var rows = document.querySelectorAll("#cases tr[data-status]"), n = 0;
  rows.forEach(function (tr) {
    var on = which === "all" || tr.dataset.status.split(" ").indexOf(which) >= 0;
    tr.classList.toggle("hidden", !on); if (on) n++;
  });
  document.getElementById("shown").textContent = n + " shown";
}
// a link may choose the filter: matrix.html#fail, #erratum or #all
var start = ["fail", "erratum", "all"].indexOf(location.hash.slice(1)) >= 0
  ? location.hash.slice(1) : "all";
document.querySelectorAll("input[name=show]").forEach(function (r) {
  r.checked = r.value === start;
  r.addEventListener("change", function () {
    show(r.value); history.replaceState(null, "", "#" + r.value);
  });
});
show(start);
</script>
</body>
</html>
""")


def _mark(status: str) -> str:
    return f'<span class="mark {status}">{html.escape(MARK.get(status, status))}</span>'


def _obtained(row: dict, backends: list[str]) -> str:
    values = row["obtained"]
    if not values:
        return ""
    distinct = set(values.values())
    if len(distinct) == 1:  # the same on every backend that computed it: show it once
        return f"<pre>{html.escape(distinct.pop())}</pre>"
    return "".join(
        f"<pre><b>{html.escape(b)}</b>: {html.escape(values[b])}</pre>"
        for b in backends
        if b in values
    )


def to_html(rows, backends, runs=None, generated: str | None = None) -> str:
    runs = runs or {}
    c = counts(rows, backends)
    esc = html.escape
    backend_rows = []
    for b in backends:
        d = runs.get(b, {})
        fail_class = ' class="num total-fail"' if c[b]["fail"] else ' class="num"'
        backend_rows.append(
            f"<tr><td><b>{esc(b)}</b></td><td>{esc(_version(d) if d else '')}</td>"
            f"<td>{esc(d.get('python', ''))}</td><td>{esc(d.get('numpy', ''))}</td>"
            f"<td>{esc(d.get('time', ''))}</td>"
            f'<td class="num">{c[b]["pass"]}</td><td class="num">{c[b]["erratum"]}</td>'
            f'<td{fail_class}>{c[b]["fail"]}</td><td class="num">{c[b]["skipped"]}</td></tr>'
        )
    legend = "\n".join(f"<div>{_mark(k)}</div><div>{esc(v)}</div>" for k, v in LEGEND.items())
    titles: dict[str, str] = {}
    case_rows = []
    for row in rows:
        seed = row["seed"]
        if seed not in titles:
            titles[seed] = page_title(seed)
        statuses = sorted({row["cells"].get(b, "absent") for b in backends})
        cells = "".join(
            f'<td style="text-align:center">{_mark(row["cells"].get(b, "absent"))}</td>'
            for b in backends
        )
        why = [row["erratum"]] if row.get("erratum") else []
        why += [n for n in sorted(row["notes"]) if n != row.get("erratum")]
        case_rows.append(
            f'<tr data-status="{" ".join(statuses)}">'
            f'<td>{esc(row["title"])}<span class="case-id">{esc(row["id"])}</span></td>'
            f'<td class="page">{esc(titles[seed])}<br><b>{esc(row["cell"])}</b></td>{cells}'
            f'<td class="doc"><pre>{esc(row.get("documented", ""))}</pre></td>'
            f'<td class="got">{_obtained(row, backends)}</td>'
            f'<td class="why">{"<br>".join(esc(w) for w in why)}</td></tr>'
        )
    failed = [b for b in backends if c[b]["fail"]]
    verdict = (
        f'<b class="total-fail">Failures on: {esc(", ".join(failed))}.</b>'
        if failed
        else "<b>No failures.</b>"
    )
    n_with = {k: sum(1 for r in rows if k in r["cells"].values()) for k in ("fail", "erratum")}
    return _PAGE.substitute(
        date=esc(generated or time.strftime("%Y-%m-%d %H:%M %Z")),
        portconv=esc(
            ", ".join(sorted({str(runs[b].get("portconv", "?")) for b in backends if b in runs}))
            or "?"
        ),
        ncases=len(rows),
        nbackends=len(backends),
        verdict=verdict,
        backend_rows="\n".join(backend_rows),
        legend=legend,
        nfail=n_with["fail"],
        nerrata=n_with["erratum"],
        backend_heads="".join(f"<th>{esc(b)}</th>" for b in backends),
        case_rows="\n".join(case_rows),
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
    for key in STATUSES:
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
    (directory / "matrix.html").write_text(to_html(rows, backends, runs), encoding="utf-8")
    merged = {
        "generated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "backends": {b: {k: v for k, v in runs[b].items() if k != "results"} for b in backends},
        "counts": counts(rows, backends),
        "legend": LEGEND,
        "cases": [dict(r, notes=sorted(r["notes"]), page=page_title(r["seed"])) for r in rows],
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
