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
            assert {"value", "target", "holds", "workload"} <= set(q)


def test_bench_rejects_unknown_workload(capsys):
    assert main(["bench", "--only", "W99"]) == 2
    assert "W99" in capsys.readouterr().err


def _has_torch() -> bool:
    return importlib.util.find_spec("torch") is not None


def test_bench_end_to_end_rows_quick(tmp_path, capsys):
    """E1 (LeNet training epoch, extrapolated) and E2 (ResNet-18 inference) at tiny sizes:
    the rows, the fields saying how the epoch was extrapolated, the ratios named after the
    issue's targets."""
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
    assert len(rows) == 6  # numpy generic, torch native, torch direct, for each
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
        assert q["target"] == 2.0 and isinstance(q["holds"], bool)
        q = ratios[("E2-resnet18-infer", "ResNet-18 inference generic numpy / plain torch")]
        assert q["target"] == 1.5 and isinstance(q["holds"], bool)
        q = ratios[("E2-resnet18-infer", "ResNet-18 inference portconv torch / plain torch")]
        assert q["target"] is None and q["holds"] is None
        assert "no target" in printed
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
    assert [r["status"] for r in others] == ["skipped", "skipped"]  # torch not selected


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
