"""portconv.train and the ``portconv`` command: a tiny CNN trained on every backend, the same
history as on NumPy, checkpoints that resume exactly, and the command end to end (in-process,
on synthetic data or generated IDX files; never the network)."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import urllib.request

import numpy as np
import pytest

from portconv import cli, data, nn, optim, train
from portconv.data import datasets as _datasets


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError(f"a test tried to use the network: {args!r}")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)


def tiny_cnn(batch_norm: bool = False, dropout: float = 0.0) -> nn.Module:
    layers = [nn.Conv2D(4, 5, padding=2)]
    if batch_norm:
        layers.append(nn.BatchNorm2D())
    layers += [
        nn.ReLU(),
        nn.MaxPool2D(2, strides=2),
        nn.Conv2D(8, 5, activation="relu"),
        nn.MaxPool2D(2, strides=2),
        nn.Dense(32, activation="relu"),
    ]
    if dropout:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Dense(10))
    return nn.Sequential(*layers)


SPLITS = data.make_synthetic(64, 32, 28, seed=0)
FIT = dict(lr=0.01, optimizer="adam", batch_size=16, init="xavier", seed=0)
_numpy_runs: dict = {}


def numpy_history(epochs: int, **kw):
    """The NumPy run every backend's run is compared with (computed once)."""
    key = (epochs, tuple(sorted(kw.items())))
    if key not in _numpy_runs:
        model = tiny_cnn(**kw)
        _numpy_runs[key] = (train.fit(model, SPLITS, epochs=epochs, **FIT), model)
    return _numpy_runs[key]


def _host(a):
    from portconv import backend_of

    return np.asarray(backend_of(a).adapter.to_numpy(a))


def test_tiny_training_run(be):
    model = tiny_cnn()
    history = train.fit(model, SPLITS, epochs=2, backend=be.name, device=be.device, **FIT)
    assert [row["epoch"] for row in history] == [1, 2]
    assert history[1]["loss"] < history[0]["loss"]
    for row in history:
        assert 0.0 <= row["train_acc"] <= 1.0 and 0.0 <= row["test_acc"] <= 1.0
        assert row["examples_per_sec"] > 0 and row["seconds"] > 0
        assert len(row["points"]) == 4  # 4 batches per epoch, one point each
    for p in model.parameters():
        be.check_array(p.data, dtype="float32")
    # the same run on NumPy: the same history, within float32 tolerance
    ref, ref_model = numpy_history(2)
    for got, want in zip(history, ref):
        np.testing.assert_allclose(got["loss"], want["loss"], rtol=1e-4)
        assert abs(got["train_acc"] - want["train_acc"]) <= 1 / 64
        assert abs(got["test_acc"] - want["test_acc"]) <= 1 / 32
    for (name, p), (_, q) in zip(model.named_parameters(), ref_model.named_parameters()):
        np.testing.assert_allclose(_host(p.data), _host(q.data), rtol=1e-3, atol=1e-4, err_msg=name)


def test_resume_equals_an_uninterrupted_run(be, tmp_path):
    """Batch norm (buffers), dropout (the generator's state) and Adam (its step count and
    moments) all survive a checkpoint."""
    kw = dict(backend=be.name, device=be.device, **FIT)
    whole_model = tiny_cnn(batch_norm=True, dropout=0.3)
    whole = train.fit(whole_model, SPLITS, epochs=3, **kw)
    path = tmp_path / "run.npz"
    first = train.fit(
        tiny_cnn(batch_norm=True, dropout=0.3), SPLITS, epochs=1, checkpoint=path, **kw
    )
    assert len(first) == 1 and path.exists()
    assert sorted(os.listdir(tmp_path)) == ["run.npz"]  # no temporary file left
    resumed_model = tiny_cnn(batch_norm=True, dropout=0.3)
    seen = []
    resumed = train.fit(
        resumed_model, SPLITS, epochs=3, checkpoint=path, resume=True, callback=seen.append, **kw
    )
    assert [row["epoch"] for row in seen] == [2, 3]  # only the missing epochs ran
    assert [row["epoch"] for row in resumed] == [1, 2, 3]
    for a, b in zip(whole, resumed):
        for key in ("loss", "train_acc", "test_acc"):
            np.testing.assert_allclose(a[key], b[key], rtol=1e-6, err_msg=key)
    want, got = whole_model.state_dict(), resumed_model.state_dict()
    assert list(want) == list(got)
    for name in want:
        np.testing.assert_allclose(_host(got[name]), _host(want[name]), rtol=1e-6, atol=1e-7)
    # a finished checkpoint: nothing more to train
    again = train.fit(
        tiny_cnn(batch_norm=True, dropout=0.3), SPLITS, epochs=3, checkpoint=path, resume=True, **kw
    )
    assert [row["loss"] for row in again] == [row["loss"] for row in resumed]


def test_checkpoint_of_sgd_with_momentum(be, tmp_path):
    def sgd(params, lr):
        return optim.SGD(params, lr, momentum=0.9)

    kw = dict(backend=be.name, device=be.device, lr=0.05, optimizer=sgd, batch_size=16)
    whole = train.fit(tiny_cnn(), SPLITS, epochs=2, **kw)
    path = tmp_path / "sgd.npz"
    train.fit(tiny_cnn(), SPLITS, epochs=1, checkpoint=path, **kw)
    stored = np.load(path, allow_pickle=False)  # no pickle needed
    assert any(k.startswith("optimizer.") and k.endswith(".momentum") for k in stored.files)
    resumed = train.fit(tiny_cnn(), SPLITS, epochs=2, checkpoint=path, resume=True, **kw)
    np.testing.assert_allclose(resumed[-1]["loss"], whole[-1]["loss"], rtol=1e-6)


def test_checkpoint_errors(tmp_path):
    path = tmp_path / "adam.npz"
    train.fit(tiny_cnn(), SPLITS, epochs=1, checkpoint=path, **FIT)
    with pytest.raises(ValueError, match="Adam optimiser, not of SGD"):
        train.fit(
            tiny_cnn(),
            SPLITS,
            epochs=2,
            checkpoint=path,
            resume=True,
            **{**FIT, "optimizer": "sgd"},
        )
    with pytest.raises(ValueError, match="resume: needs checkpoint"):
        train.fit(tiny_cnn(), SPLITS, epochs=1, resume=True, **FIT)
    np.savez(tmp_path / "other.npz", a=np.zeros(2))
    with pytest.raises(ValueError, match="not a portconv checkpoint"):
        train.load_checkpoint(tmp_path / "other.npz")
    # resume without a checkpoint file yet: a fresh start
    fresh = train.fit(
        tiny_cnn(), SPLITS, epochs=1, checkpoint=tmp_path / "new.npz", resume=True, **FIT
    )
    assert fresh[0]["loss"] == numpy_history(2)[0][0]["loss"]


def test_fit_arguments():
    with pytest.raises(ValueError, match="optimizer"):
        train.fit(tiny_cnn(), SPLITS, epochs=1, lr=0.1, optimizer="rmsprop")
    with pytest.raises(ValueError, match="loss"):
        train.fit(tiny_cnn(), SPLITS, epochs=1, lr=0.1, loss="hinge")
    with pytest.raises(ValueError, match="epochs"):
        train.fit(tiny_cnn(), SPLITS, epochs=-1, lr=0.1)
    with pytest.raises(ValueError, match="data"):
        train.fit(tiny_cnn(), "digits", epochs=1, lr=0.1)


def test_fit_with_loaders_and_a_custom_loss(be):
    import portconv.autograd as ag

    train_iter = data.batches(SPLITS.X_train, SPLITS.y_train, 32, backend=be.name, device=be.device)
    calls = []

    def loss(y_hat, y):
        calls.append(1)
        return ag.cross_entropy(y_hat, y, reduction="none")  # fit takes the mean

    history = train.fit(tiny_cnn(), train_iter, epochs=1, lr=0.1, loss=loss)
    assert len(calls) == 2 and history[0]["test_acc"] is None
    assert np.isfinite(history[0]["loss"])


def test_accuracy_helpers(be):
    scores = be.asarray(np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]], dtype=np.float32))
    labels = be.asarray(np.array([1, 1, 1], dtype=np.int64))
    assert train.correct(scores, labels) == 2
    assert train.accuracy(scores, labels) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="scores"):
        train.correct(scores, be.asarray(np.array([1, 0], dtype=np.int64)))
    model = tiny_cnn()
    loader = data.batches(
        SPLITS.X_test, SPLITS.y_test, 10, shuffle=False, backend=be.name, device=be.device
    )
    acc = train.evaluate_accuracy(model, loader)
    assert 0.0 <= acc <= 1.0 and model.training


def test_format_epoch():
    row = {
        "epoch": 1,
        "loss": 0.5123,
        "train_acc": 0.8119,
        "test_acc": 0.835,
        "examples_per_sec": 1234.49,
    }
    assert train.format_epoch(row) == (
        "epoch 1: loss 0.512, train acc 0.812, test acc 0.835, 1234.5 examples/s"
    )
    row["test_acc"] = None
    assert train.format_epoch(row) == "epoch 1: loss 0.512, train acc 0.812, 1234.5 examples/s"


def test_plot_history(tmp_path):
    pytest.importorskip("matplotlib", reason="matplotlib not installed")
    history, _ = numpy_history(2)
    path = tmp_path / "curves.png"
    train.plot_history(history, path, title="tiny")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# -- the command ---------------------------------------------------------------------------------

EPOCH_LINE = re.compile(
    r"^epoch (\d+): loss \d+\.\d{3}, train acc [01]\.\d{3}, test acc [01]\.\d{3}, "
    r"\d+\.\d examples/s$"
)


@pytest.fixture
def tiny_model_name(monkeypatch):
    monkeypatch.setitem(cli.MODELS, "tiny", cli.ModelSpec(factory=tiny_cnn, lr=0.01, batch_size=16))
    return "tiny"


def epoch_lines(out: str) -> list[int]:
    return [int(m.group(1)) for m in map(EPOCH_LINE.match, out.splitlines()) if m]


def test_cli_train_checkpoint_resume_plot(be, tmp_path, capsys, tiny_model_name):
    ck, png = tmp_path / "ck.npz", tmp_path / "curves.png"
    argv = [
        "train",
        tiny_model_name,
        "--backend",
        be.name,
        "--data",
        "synthetic",
        "--optimizer",
        "adam",
        "--no-progress",
        "--checkpoint",
        str(ck),
    ]
    assert cli.main(argv + ["--epochs", "1"]) == 0
    out = capsys.readouterr().out
    assert epoch_lines(out) == [1], out
    assert f"with {be.name}: 1 epochs, lr 0.01, batch size 16, adam" in out
    plot = ["--plot", str(png)] if _has("matplotlib") else []
    assert cli.main(argv + ["--epochs", "2", "--resume"] + plot) == 0
    out = capsys.readouterr().out
    assert "resuming from" in out and epoch_lines(out) == [2], out
    if plot:
        assert png.read_bytes()[:4] == b"\x89PNG"
    # the same two epochs in one go print the same numbers
    assert cli.main(argv[:-2] + ["--epochs", "2"]) == 0
    whole = capsys.readouterr().out.splitlines()
    second = next(line for line in whole if line.startswith("epoch 2:"))
    assert (
        second.split(", ")[:3]
        == next(line for line in out.splitlines() if line.startswith("epoch 2:")).split(", ")[:3]
    )


def test_cli_train_dtype(be, capsys, monkeypatch):
    made = []

    def factory():
        made.append(tiny_cnn())
        return made[-1]

    spec = cli.ModelSpec(factory=factory, lr=0.01, batch_size=16)
    monkeypatch.setitem(cli.MODELS, "tiny64", spec)
    argv = ["train", "tiny64", "--backend", be.name, "--data", "synthetic", "--epochs", "1"]
    assert cli.main(argv + ["--no-progress", "--dtype", "float64"]) == 0
    out = capsys.readouterr().out
    assert "batch size 16, sgd, float64" in out and epoch_lines(out) == [1], out
    for p in made[-1].parameters():
        be.check_array(p.data, dtype="float64")
    assert cli.main(argv + ["--no-progress"]) == 0  # float32 by default
    assert "batch size 16, sgd, float32" in capsys.readouterr().out
    for p in made[-1].parameters():
        be.check_array(p.data, dtype="float32")
    with pytest.raises(SystemExit):
        cli.main(argv + ["--dtype", "float16"])
    err = capsys.readouterr().err
    assert "--dtype: invalid choice: 'float16'" in err and "'float64'" in err, err


def _has(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def test_cli_fashion_mnist_from_a_data_dir(tmp_path, capsys, monkeypatch, tiny_model_name):
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (40, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte.gz": rng.integers(0, 10, 40, dtype=np.uint8),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, 20, dtype=np.uint8),
    }
    sums = {}
    for name, a in arrays.items():
        data.write_idx(tmp_path / name, a)
        sums[name] = "md5:" + hashlib.md5((tmp_path / name).read_bytes()).hexdigest()
    monkeypatch.setattr(_datasets, "FASHION_MNIST_FILES", sums)
    argv = [
        "train",
        tiny_model_name,
        "--data",
        "fashion-mnist",
        "--data-dir",
        str(tmp_path),
        "--epochs",
        "1",
        "--no-progress",
        "--offline",
    ]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "(40 training, 20 test examples)" in out and epoch_lines(out) == [1]


def test_cli_offline_without_data(tmp_path, capsys, tiny_model_name):
    argv = [
        "train",
        tiny_model_name,
        "--data",
        "fashion-mnist",
        "--data-dir",
        str(tmp_path),
        "--offline",
        "--epochs",
        "1",
    ]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("portconv: error: ")
    assert "train-images-idx3-ubyte.gz" in err and "--data digits" in err
    assert str(tmp_path / "fashion-mnist") in err


def test_cli_errors(capsys, tiny_model_name):
    assert cli.main(["train", "no-such-net", "--data", "synthetic"]) == 2
    assert "MODEL: expected one of lenet" in capsys.readouterr().err
    assert cli.main(["train", tiny_model_name, "--backend", "tinygrad", "--data", "synthetic"]) == 2
    assert "--backend: expected one of numpy" in capsys.readouterr().err
    assert cli.main(["train", tiny_model_name, "--data", "mnist"]) == 2
    assert "--data: expected one of digits, fashion-mnist" in capsys.readouterr().err
    assert cli.main(["train", tiny_model_name, "--data", "synthetic", "--resume"]) == 2
    assert "--resume needs --checkpoint" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["no-such-command"])


def test_cli_progress_without_tqdm(capsys, monkeypatch, tiny_model_name):
    import builtins

    real_import = builtins.__import__

    def no_tqdm(name, *args, **kwargs):
        if name.startswith("tqdm"):
            raise ImportError("No module named 'tqdm'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tqdm)
    argv = ["train", tiny_model_name, "--data", "synthetic", "--epochs", "1", "--progress"]
    assert cli.main(argv) == 0
    captured = capsys.readouterr()
    assert "epoch 1/1: 6/6 batches" in captured.err
    assert epoch_lines(captured.out) == [1]


def test_cli_plot_without_matplotlib(capsys, monkeypatch, tmp_path, tiny_model_name):
    import builtins

    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    argv = ["train", tiny_model_name, "--data", "synthetic", "--plot", str(tmp_path / "p.png")]
    assert cli.main(argv) == 2
    assert "portconv[plot]" in capsys.readouterr().err


def test_cli_subcommand_registry(capsys, monkeypatch):
    def configure(sub):
        p = sub.add_parser("hello", help="say hello")
        p.add_argument("--name", default="world")
        p.set_defaults(handler=lambda args: print(f"hello {args.name}"))

    monkeypatch.setitem(cli.COMMANDS, "hello", configure)
    assert cli.main(["hello", "--name", "book"]) == 0
    assert capsys.readouterr().out == "hello book\n"


def test_cli_book_models_when_available(capsys):
    models = pytest.importorskip("portconv.models", reason="portconv.models not written yet")
    for name in ("lenet", "lenet-modern", "bn-lenet"):
        assert hasattr(models, cli.MODELS[name].attr), name
    argv = [
        "train",
        "lenet-modern",
        "--data",
        "synthetic",
        "--epochs",
        "1",
        "--no-progress",
        "--init",
        "xavier",
    ]
    assert cli.main(argv) == 0
    assert epoch_lines(capsys.readouterr().out) == [1]


def test_python_dash_m_portconv():
    out = subprocess.run(
        [sys.executable, "-m", "portconv", "train", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "--batch-size" in out.stdout and "--checkpoint" in out.stdout
