"""``portconv bench``: a smoke run, in-process, checking the JSON it writes (no timing asserted)."""

from __future__ import annotations

import importlib.util
import json

from portconv.cli import main


def test_bench_quick_smoke(tmp_path, capsys):
    backends = "numpy,torch" if importlib.util.find_spec("torch") else "numpy"
    out = tmp_path / "bench.json"
    status = main(
        ["bench", "--quick", "--only", "W1,P2", "--backends", backends, "--json", str(out)]
    )
    assert status == 0
    printed = capsys.readouterr().out
    assert "W1" in printed and "P2" in printed

    result = json.loads(out.read_text())
    assert set(result) >= {"machine", "rows", "ratios"}
    assert result["quick"] is True
    assert {"cpu", "cores", "versions", "date_utc"} <= set(result["machine"])
    assert "numpy" in result["machine"]["versions"]

    rows = result["rows"]
    assert {r["workload"] for r in rows} == {"W1", "P2"}
    for r in rows:
        assert {"workload", "backend", "device", "path", "status", "reason", "median_s"} <= set(r)
        assert r["status"] in ("ok", "skipped", "error")
        if r["status"] == "ok":
            assert r["median_s"] > 0 and r["times_s"]
        else:
            assert r["reason"]
    ok = {(r["workload"], r["backend"], r["path"]) for r in rows if r["status"] == "ok"}
    assert ("W1", "numpy", "generic") in ok
    assert ("W1", "numpy", "loop") in ok
    assert ("P2", "numpy", "generic") in ok
    if "torch" in backends:
        assert ("W1", "torch", "native") in ok and ("W1", "torch", "direct") in ok
        assert ("P2", "torch", "direct") in ok
        names = {q["ratio"] for q in result["ratios"]}
        assert "native - direct (torch)" in names
        for q in result["ratios"]:
            assert {"value", "target", "holds", "workload"} <= set(q)


def test_bench_rejects_unknown_workload(capsys):
    assert main(["bench", "--only", "W99"]) == 2
    assert "W99" in capsys.readouterr().err
