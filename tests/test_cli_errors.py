"""The ``portconv`` command refuses bad options and files before any work, with one line on
stderr (``portconv: error: --option: ...``) and exit status 2, never a traceback; its
defaults learn on the offline digits; every option has help text. (The command's training
runs are tested in tests/test_train.py.)"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import urllib.request

import numpy as np
import pytest

from portconv import bench, cli, data, train
from portconv.data import datasets as _datasets


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError(f"a test tried to use the network: {args!r}")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)


@pytest.fixture
def no_work(monkeypatch):
    """Fails the test if the command loads data, builds a model or trains."""

    def refuse(*args, **kwargs):
        raise AssertionError("the command started working before checking every option")

    monkeypatch.setattr(cli, "_load_data", refuse)
    monkeypatch.setattr(train, "fit", refuse)
    monkeypatch.setattr(cli.ModelSpec, "build", refuse)
    return refuse


def run(argv, capsys):
    status = cli.main(argv)
    out, err = capsys.readouterr()
    return status, out, err


BASE = ["train", "lenet-modern", "--data", "digits"]


@pytest.mark.parametrize(
    "options, message",
    [
        (["--batch-size", "0"], "--batch-size: expected an int of at least 1, got 0"),
        (["--batch-size", "-3"], "--batch-size: expected an int of at least 1, got -3"),
        (["--resize", "0"], "--resize: expected an int of at least 1, got 0"),
        (["--resize", "100000"], "--resize: a batch of 32 examples resized to 100000x100000"),
        (["--lr", "inf"], "--lr: expected a positive finite number, got inf"),
        (["--lr", "nan"], "--lr: expected a positive finite number, got nan"),
        (["--lr", "-0.1"], "--lr: expected a positive finite number"),
        (["--seed", "-1"], "--seed: expected a non-negative int"),
        (["--epochs", "0"], "--epochs: expected an int of at least 1, got 0"),
        (["--device", "cuda:0"], "--device: 'cuda:0' asked for, but the numpy backend runs on"),
        (["--device", "bogus"], "--device: 'bogus' is not a device of numpy"),
        (["--backend", "tinygrad"], "--backend: expected one of numpy"),
        (["--checkpoint", "/nonexistent-dir/ck.npz"], "--checkpoint: cannot write"),
        (["--mirror", "http://example.org/"], "--mirror: only --data fashion-mnist"),
        (["--resume"], "--resume needs --checkpoint PATH"),
        (["--data-dir", "/etc/hostname"], "--data-dir: /etc/hostname is not a directory"),
    ],
)
def test_options_are_refused_before_any_work(capsys, no_work, options, message):
    status, out, err = run(BASE + options, capsys)
    assert status == 2 and out == ""
    assert err.startswith(f"portconv: error: {message}"), err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_unwritable_checkpoint_and_plot_paths(tmp_path, capsys, no_work):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    for option in ("--checkpoint", "--plot"):
        for path, message in [
            (tmp_path, "is a directory"),
            (a_file / "x", "is not a directory"),
            (tmp_path / "missing" / "x", "does not exist"),
        ]:
            if option == "--plot":
                pytest.importorskip("matplotlib", reason="--plot needs matplotlib")
            status, _, err = run(BASE + [option, str(path)], capsys)
            assert status == 2 and err.startswith(f"portconv: error: {option}: "), err
            assert message in err


def test_device_cuda_on_a_torch_build_without_cuda(capsys, no_work):
    torch = pytest.importorskip("torch", reason="torch not installed")
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device: the error cannot happen here")
    for device in ("cuda", "cuda:0", "gpu:1"):
        status, _, err = run(BASE + ["--backend", "torch", "--device", device], capsys)
        assert status == 2 and f"--device: '{device}' asked for, but" in err, err
        assert "Traceback" not in err and "AssertionError" not in err


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", r"is empty \(0 bytes\)"),
        (b"\x00" * 64, "is not a .npz archive"),
        (b"PK\x03\x04 broken", "is truncated or corrupt"),
    ],
)
def test_resume_from_a_damaged_checkpoint_is_refused(tmp_path, capsys, no_work, content, message):
    path = tmp_path / "ck.npz"
    path.write_bytes(content)
    status, out, err = run(BASE + ["--checkpoint", str(path), "--resume"], capsys)
    assert status == 2 and out == ""
    assert err.startswith(f"portconv: error: --checkpoint: {path} ") and re.search(message, err)


def test_resume_from_another_models_checkpoint_is_refused(tmp_path, capsys, monkeypatch):
    path = tmp_path / "ck.npz"
    assert cli.main(["train", "lenet-modern", "--data", "synthetic", "--epochs", "1",
                     "--no-progress", "--checkpoint", str(path)]) == 0  # fmt: skip
    capsys.readouterr()
    monkeypatch.setattr(cli, "_load_data", lambda args: pytest.fail("loaded data"))
    status, _, err = run(["train", "lenet", "--data", "synthetic", "--checkpoint", str(path),
                          "--resume"], capsys)  # fmt: skip
    assert status == 2
    assert "was written by a LeNetModern model, not lenet (LeNet)" in err


def test_resume_without_a_checkpoint_says_so_and_starts_fresh(tmp_path, capsys):
    path = tmp_path / "new.npz"
    argv = ["train", "lenet-modern", "--data", "synthetic", "--epochs", "1", "--no-progress"]
    status, out, err = run(argv + ["--checkpoint", str(path), "--resume"], capsys)
    assert status == 0
    assert f"portconv: --resume: no checkpoint at {path} yet; training starts at epoch 1" in err
    assert "epoch 1:" in out and path.exists()


def test_the_defaults_on_the_digits(capsys, monkeypatch):
    """The default run is the book's train_ch6 adapted to the small digits set: Xavier init,
    the model's learning rate, batches of 32 (the measured run reaches ~0.97: see the README
    and test_default_digits_run_learns)."""
    pytest.importorskip("sklearn", reason="the digits come with scikit-learn, not installed")
    called = {}

    def fake_fit(model, train_iter, test_iter, **kw):
        called.update(kw, batch_size=train_iter.batch_size, model=type(model).__name__)
        return train.History()

    monkeypatch.setattr(train, "fit", fake_fit)
    assert cli.main(BASE + ["--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "10 epochs, lr 0.1, batch size 32, sgd, float32, init xavier" in out
    assert called["init"] == "xavier" and called["epochs"] == 10 and called["batch_size"] == 32
    assert cli.main(BASE + ["--no-progress", "--init", "model", "--batch-size", "64"]) == 0
    assert called["init"] is None and called["batch_size"] == 64


@pytest.mark.skipif(
    os.environ.get("PORTCONV_SLOW") != "1",
    reason="trains modern LeNet for 10 epochs (a minute or two); set PORTCONV_SLOW=1 to run",
)
def test_default_digits_run_learns(capsys):
    pytest.importorskip("sklearn", reason="the digits come with scikit-learn, not installed")
    assert cli.main(BASE + ["--no-progress"]) == 0
    last = [line for line in capsys.readouterr().out.splitlines() if line.startswith("epoch")][-1]
    assert float(last.split("test acc ")[1].split(",")[0]) >= 0.95, last


def test_every_option_has_help_text():
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    p = sub.choices["train"]
    for action in p._actions:
        if action.dest == "help":
            continue
        assert action.help and action.help.strip(), f"{action.option_strings or action.dest}"


def test_mirrors_named_on_the_command_line(tmp_path, capsys, monkeypatch):
    rng = np.random.default_rng(0)
    shapes = {"train-images": (40, 28, 28), "train-labels": 40, "t10k-images": (20, 28, 28),
              "t10k-labels": 20}  # fmt: skip
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    sums, sizes = {}, {}
    for name in data.FASHION_MNIST_FILES:
        shape = shapes[name.rsplit("-", 2)[0]]
        high = 10 if "labels" in name else 256
        data.write_idx(mirror / name, rng.integers(0, high, shape, dtype=np.uint8))
        raw = (mirror / name).read_bytes()
        sums[name], sizes[name] = "md5:" + hashlib.md5(raw).hexdigest(), len(raw)
    monkeypatch.setattr(_datasets, "FASHION_MNIST_FILES", sums)
    monkeypatch.setattr(_datasets, "FASHION_MNIST_SIZES", sizes)
    cache = tmp_path / "cache"
    argv = ["train", "lenet-modern", "--data", "fashion-mnist", "--data-dir", str(cache),
            "--epochs", "1", "--no-progress", "--batch-size", "20"]  # fmt: skip
    status, out, err = run(argv + ["--mirror", str(tmp_path / "empty"), "--mirror", str(mirror)],
                           capsys)  # fmt: skip
    assert status == 0, err
    assert "(40 training, 20 test examples)" in out and "epoch 1:" in out
    assert sorted(os.listdir(cache / "fashion-mnist")) == sorted(sums)
    status, _, err = run(argv + ["--mirror", str(mirror), "--offline"], capsys)
    assert status == 2 and "--mirror: not with --offline" in err


# -- bench --merge -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content, message",
    [
        ("{bad", "is not a JSON file"),
        ("[1, 2]", "holds no list of rows"),
        ('{"rows": [{"workload": 1}]}', r"rows\[0\] is not a benchmark row"),
        (
            '{"rows": [{"workload": "W1", "backend": "numpy", "path": "generic", "status": "ok",'
            ' "device": "cpu", "median_s": "fast"}]}',
            r"rows\[0\]",
        ),  # fmt: skip
    ],
)
def test_bench_merge_refuses_a_damaged_file_before_timing(tmp_path, capsys, monkeypatch, content,
                                                          message):  # fmt: skip
    monkeypatch.setattr(bench, "run_bench", lambda **kw: pytest.fail("timed before checking"))
    path = tmp_path / "other.json"
    path.write_text(content)
    status, _, err = run(["bench", "--merge", str(path)], capsys)
    assert status == 2 and err.startswith(f"portconv: error: --merge: {path}")
    assert len(err.strip().splitlines()) == 1 and re.search(message, err), err
    status, _, err = run(["bench", "--merge", str(tmp_path / "none.json")], capsys)
    assert status == 2 and "no such file" in err


def test_bench_merge_reads_a_good_file(tmp_path):
    rows = [{"workload": "W1", "backend": "mxnet", "path": "native", "status": "ok",
             "device": "cpu", "median_s": 1e-4}]  # fmt: skip
    path = tmp_path / "mx.json"
    path.write_text(json.dumps({"rows": rows, "machine": {}}))
    assert bench.read_merge_file(str(path))["rows"] == rows


def test_no_traceback_from_the_installed_command(tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "portconv",
            "train",
            "lenet-modern",
            "--data",
            "digits",
            "--seed",
            "-1",
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip() == (
        "portconv: error: --seed: expected a non-negative int (NumPy's generators take no "
        "negative seeds), got -1"
    )
