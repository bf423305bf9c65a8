"""``portconv bench``: a smoke run, in-process, checking the JSON it writes (no timing asserted)."""

from __future__ import annotations

import importlib.util
import json

import pytest

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
            assert {"value", "goal", "source", "samples", "holds", "workload"} <= set(q)


def test_bench_rejects_unknown_workload(capsys):
    assert main(["bench", "--only", "W99"]) == 2
    assert "W99" in capsys.readouterr().err


def _has_torch() -> bool:
    return importlib.util.find_spec("torch") is not None


def test_bench_end_to_end_rows_quick(tmp_path, capsys):
    """E1 (LeNet training epoch, extrapolated) and E2 (ResNet-18 inference) at tiny sizes:
    the rows, the fields saying how the epoch was extrapolated, the ratios and their goals
    (no verdict from fewer than five samples)."""
    backends = "numpy,torch" if _has_torch() else "numpy"
    out = tmp_path / "e2e.json"
    argv = ["bench", "--quick", "--only", "E1,E2", "--epoch-batches", "1"]
    status = main([*argv, "--backends", backends, "--json", str(out)])
    assert status == 0
    printed = capsys.readouterr().out
    assert "E1-lenet-epoch" in printed and "E2-resnet18-infer" in printed
    assert "EXTRAPOLATED" in printed  # 1 of 3750 batches of 16 timed

    result = json.loads(out.read_text())
    rows = {(r["workload"], r["backend"], r["path"].split()[0]): r for r in result["rows"]}
    assert {r["workload"] for r in result["rows"]} == {"E1-lenet-epoch", "E2-resnet18-infer"}
    # E1: numpy generic, torch native and direct, mxnet and mxnet.nd native, Gluon direct,
    # jax native (autograd and the jitted step: one key here) and direct (plain JAX);
    # E2: numpy generic, torch native and direct
    assert len(rows) == 11
    e1 = rows[("E1-lenet-epoch", "numpy", "generic")]
    assert e1["status"] == "ok", e1["reason"]
    assert e1["batch_size"] == 16 and e1["batches_timed"] == 1 and len(e1["times_s"]) == 1
    assert e1["batches_per_epoch"] == 60_000 / 16 and e1["extrapolated"] is True
    assert e1["median_s"] == e1["batch_median_s"] * e1["batches_per_epoch"]
    e2 = rows[("E2-resnet18-infer", "numpy", "generic")]
    assert e2["status"] == "ok", e2["reason"]
    assert e2["n"] == 2 and e2["image"] == [1, 32, 32] and e2["median_s"] > 0

    ratios = {(q["workload"], q["ratio"]): q for q in result["ratios"]}
    if _has_torch():
        for wl in ("E1-lenet-epoch", "E2-resnet18-infer"):
            for path in ("native", "direct"):
                row = rows[(wl, "torch", path)]
                assert row["status"] == "ok", row["reason"]
        q = ratios[("E1-lenet-epoch", "LeNet epoch generic numpy / plain torch")]
        assert q["goal"] == 1.5 and q["source"] == "generic speed"
        assert q["samples"] == 1 and q["holds"] is None  # one batch timed: no verdict
        q = ratios[("E1-lenet-epoch", "LeNet epoch portconv torch / plain torch")]
        assert q["goal"] == 1.1 and q["source"] == "native training"
        q = ratios[("E2-resnet18-infer", "ResNet-18 inference generic numpy / plain torch")]
        assert q["goal"] == 1.2 and q["holds"] is None  # 2 repeats in quick mode
        q = ratios[("E2-resnet18-infer", "ResNet-18 inference portconv torch / plain torch")]
        assert q["goal"] is None and q["holds"] is None
        assert "for reference" in printed and "no verdict (1 samples; 5 needed)" in printed
        assert "issue" not in printed and "target" not in printed
    else:
        for wl in ("E1-lenet-epoch", "E2-resnet18-infer"):
            assert rows[(wl, "torch", "direct")]["status"] == "skipped"
        assert not ratios


def test_bench_whole_epoch_is_not_extrapolated(capsys):
    """Asked for more batches than an epoch has, E1 times the whole epoch and says it is not
    extrapolated (an epoch of 40 examples here, through the function, on NumPy only)."""
    from portconv import bench

    libs = [lib for lib in bench._libs() if lib.name == "numpy"]
    row, *others = bench.lenet_epoch(libs, batch_size=16, batches=5, warmup=0, examples=40)
    assert row["status"] == "ok", row["reason"]
    assert row["batches_timed"] == 3 and len(row["times_s"]) == 3
    assert row["batches_per_epoch"] == 2.5 and row["extrapolated"] is False
    assert {r["status"] for r in others} == {"skipped"}  # torch and mxnet not selected


def test_bench_rejects_bad_epoch_batches(capsys):
    assert main(["bench", "--only", "E1", "--epoch-batches", "0"]) == 2
    assert "--epoch-batches" in capsys.readouterr().err


@pytest.mark.skipif(not _has_torch(), reason="needs torch")
@pytest.mark.parametrize("name", ["lenet", "resnet18"])
def test_bench_reference_models_compute_the_same(name):
    """The plain torch.nn references of E1/E2 load portconv's state dict strictly (equal
    layer shapes) and compute the same logits as portconv's model on NumPy and on torch."""
    import numpy as np
    import torch

    from portconv import autograd as ag
    from portconv import bench

    size = 28 if name == "lenet" else 32
    X = np.random.default_rng(1).standard_normal((3, 1, size, size), dtype=np.float32)
    pc_np, pc_t, ref = bench._reference_models(name, X[:2], torch)
    for m in (pc_np, pc_t, ref):
        m.eval()
    with ag.no_grad():
        y_np = np.asarray(pc_np(X).data)
        y_t = pc_t(torch.from_numpy(X)).data.numpy()
    with torch.no_grad():
        y_ref = ref(torch.from_numpy(X)).numpy()
    assert y_ref.shape == (3, 10)
    np.testing.assert_allclose(y_np, y_ref, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(y_t, y_ref, rtol=1e-4, atol=1e-5)
    assert sum(p.numel() for p in ref.parameters()) == pc_np.num_parameters()


def test_bench_runs_once_per_thread_setting_and_prints_them_side_by_side(tmp_path, capsys):
    out = tmp_path / "threads.json"
    argv = ["bench", "--quick", "--only", "P2", "--backends", "numpy", "--threads", "1,default"]
    pytest.importorskip("threadpoolctl", reason="--threads needs threadpoolctl")
    assert main([*argv, "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.count("portconv bench, ") == 2  # one table per setting
    result = json.loads(out.read_text())
    first, second = result["runs"]
    assert first["machine"]["threads_limited_to"] == 1
    assert "threads_limited_to" not in second["machine"]


def test_bench_collapses_skipped_rows_into_one_line_per_reason():
    from portconv import bench

    rows = [
        bench._row(workload=w, backend="cupy", device="cuda", path=p, status="skipped",
                   reason="no CUDA device")
        for w in ("W1", "W2") for p in ("generic", "native")
    ]  # fmt: skip
    text = bench.format_table({"machine": bench.machine_info(), "rows": rows, "ratios": []})
    lines = [line for line in text.splitlines() if "no CUDA device" in line]
    assert lines == ["skipped (no CUDA device): W1 cupy cuda, W2 cupy cuda"]


@pytest.mark.parametrize("bad", ["0", "-1", "two", "1,,default"])
def test_bench_rejects_bad_thread_settings(bad, capsys):
    assert main(["bench", "--only", "P2", "--threads", bad]) == 2
    assert "--threads" in capsys.readouterr().err
