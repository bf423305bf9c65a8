"""portconv.train and the ``portconv`` command: a tiny CNN trained on every backend, the same
history as on NumPy, checkpoints that resume exactly, and the command end to end (in-process,
on synthetic data or generated IDX files; never the network)."""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import stat
import subprocess
import sys
import time
import tracemalloc
import urllib.request
import zipfile

import numpy as np
import pytest

from portconv import _files as pc_files
from portconv import cli, data, nn, optim, train
from portconv import errors as pc_errors
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


def skip_long_training_on_chunked(be) -> None:
    """Several epochs of training are minutes on Dask (a step builds about 10^5 tasks: the
    generic col2im of the gradients cuts arrays into ~10^3 chunks); there the training loop
    is covered by test_tiny_training_run and tests/test_dask.py, and this test's logic (resume,
    the command) by the other sessions, within CI's time limit."""
    if getattr(be.adapter, "chunked", False):
        pytest.skip(
            f"several epochs on {be.name} take minutes (~10^5 tasks per step); the same "
            f"logic runs in every other session, and test_tiny_training_run trains on {be.name}"
        )


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
    skip_long_training_on_chunked(be)
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
    skip_long_training_on_chunked(be)
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
    skip_long_training_on_chunked(be)
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
    sums, sizes = {}, {}
    for name, a in arrays.items():
        data.write_idx(tmp_path / name, a)
        sums[name] = "md5:" + hashlib.md5((tmp_path / name).read_bytes()).hexdigest()
        sizes[name] = (tmp_path / name).stat().st_size
    monkeypatch.setattr(_datasets, "FASHION_MNIST_FILES", sums)
    monkeypatch.setattr(_datasets, "FASHION_MNIST_SIZES", sizes)
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


# -- labels (issue 19, item 1) --------------------------------------------------------------------

LOGITS = np.random.default_rng(5).standard_normal((3, 10)).astype(np.float32)


@pytest.mark.parametrize("labels, shown", [([1, 12, 3], "12"), ([-1, 2, 3], "-1")])
def test_cross_entropy_refuses_class_indices_out_of_range(be, labels, shown):
    """Regression: such an example counted as 0 in the loss (1.5351 = 2/3 ln 10)."""
    import portconv.autograd as ag

    logits = be.asarray(LOGITS)
    with be.run_context():
        target = be.asarray(np.array(labels, dtype=np.int64))
        if getattr(be.adapter, "chunked", False):
            # lazy arrays: no value is read back per step; the example's loss is NaN instead
            assert np.isnan(_host(ag.cross_entropy(logits, target).data))
        else:
            i = labels.index(int(shown))
            message = (
                r"target: class indices must be whole numbers in \[0, 10\) for 10 classes; "
                rf"target\[{i}\] is {shown}$"
            )
            with pytest.raises(ag.ArgumentError, match=message):
                ag.cross_entropy(logits, target)
        good = ag.cross_entropy(logits, be.asarray(np.array([1, 2, 3], dtype=np.int64)))
        assert np.isfinite(_host(good.data))


def test_cross_entropy_refuses_non_whole_float_indices_and_wrong_shapes(be):
    import portconv.autograd as ag

    logits = be.asarray(LOGITS)
    with be.run_context():
        for labels, message in [
            ([1.0, 2.5, 3.0], r"target\[1\] is 2\.5"),
            ([1.0, np.nan, 3.0], r"target\[1\] is nan"),
            ([1.0, 10.0, 3.0], r"target\[1\] is 10"),
        ]:
            with pytest.raises(ag.ArgumentError, match=message):
                ag.cross_entropy(logits, be.asarray(np.array(labels, dtype=np.float32)))
        whole = ag.cross_entropy(logits, be.asarray(np.array([1.0, 2.0, 3.0], np.float32)))
        ints = ag.cross_entropy(logits, be.asarray(np.array([1, 2, 3], np.int64)))
        np.testing.assert_allclose(_host(whole.data), _host(ints.data), rtol=1e-6)
        with pytest.raises(
            ag.ArgumentError, match=r"target: expected 3 class indices .*shape \(4,\)"
        ):
            ag.cross_entropy(logits, be.asarray(np.zeros(4, np.int64)))
        with pytest.raises(ag.ArgumentError, match=r"target: class probabilities .*\(3, 10\)"):
            ag.cross_entropy(logits, be.asarray(np.zeros((3, 4), np.float32)))


def _bad_labels(value, position):
    y = SPLITS.y_train.astype(np.asarray(value).dtype)
    y[position] = value
    return y


@pytest.mark.parametrize(
    "labels, message",
    [
        (_bad_labels(12, 5), r"y: class indices must be in \[0, 10\) \(10 classes\); y\[5\] is 12"),
        (_bad_labels(-1, 5), r"y: class indices must be in \[0, inf\); y\[5\] is -1"),
        (_bad_labels(2.5, 7), r"y: class indices must be whole numbers; y\[7\] is 2\.5"),
    ],
)
def test_fit_refuses_bad_labels_before_training(labels, message):
    """Regression: fit trained to the end on labels out of range."""
    epochs_run = []
    with pytest.raises(ValueError, match=message):
        train.fit(tiny_cnn(), (SPLITS.X_train, labels), epochs=1, callback=epochs_run.append, **FIT)
    assert epochs_run == []


def test_fit_checks_test_labels_against_the_model_too():
    y_test = SPLITS.y_test.copy()
    y_test[3] = 10
    with pytest.raises(ValueError, match=r"y\[3\] is 10"):
        train.fit(tiny_cnn(), SPLITS, (SPLITS.X_test, y_test), epochs=1, **FIT)


# -- arguments of fit (issue 19, items 11, 12) ----------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"seed": -1}, ValueError, "seed: expected a non-negative int"),
        ({"seed": 2.5}, TypeError, "seed: .*float"),
        ({"lr": float("inf")}, ValueError, "lr: expected a positive finite number, got inf"),
        ({"lr": float("nan")}, ValueError, "lr: expected a positive finite number, got nan"),
        ({"lr": 0}, ValueError, "lr: expected a positive"),
        ({"lr": "0.1"}, ValueError, "lr: "),
        ({"lr": True}, ValueError, "lr: "),
        ({"batch_size": 0}, ValueError, "batch_size: expected an int of at least 1"),
        ({"epochs": "abc"}, TypeError, "epochs: "),
        ({"epochs": 1.5}, TypeError, "epochs: "),
        ({"resume": 1, "checkpoint": "x.npz"}, TypeError, "resume: expected True or False"),
        ({"callback": 3}, TypeError, "callback: expected a function"),
        ({"device": "cuda:0"}, ValueError, r"device: 'cuda:0' asked for"),
        ({"model": "LeNet"}, TypeError, "model: expected a portconv.nn.Module"),
    ],
)
def test_fit_refuses_bad_arguments_naming_them(kwargs, error, message):
    args = {**FIT, "epochs": 1, **kwargs}
    model = args.pop("model", None) or tiny_cnn()
    with pytest.raises(error, match=message):
        train.fit(model, SPLITS, **args)


def test_a_bad_checkpoint_path_is_found_before_the_first_epoch(tmp_path):
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    epochs_run = []
    for path, error, message in [
        (tmp_path / "missing" / "ck.npz", OSError, "does not exist"),
        (a_file / "ck.npz", OSError, "is not a directory"),
        (tmp_path, ValueError, "is a directory"),
    ]:
        with pytest.raises(error, match=f"checkpoint: .*{message}"):
            train.fit(
                tiny_cnn(), SPLITS, epochs=1, checkpoint=path, callback=epochs_run.append, **FIT
            )
    assert epochs_run == []


# -- checkpoints checked against the model and optimiser (issue 19, items 3, 10) ------------------


def _checkpoint(tmp_path, model_factory=tiny_cnn, name="ck.npz", **kw):
    path = tmp_path / name
    train.fit(model_factory(), SPLITS, epochs=1, checkpoint=path, **{**FIT, **kw})
    return path


def test_resume_refuses_a_checkpoint_of_another_model(tmp_path):
    """Regression: LeNet resumed silently from LeNetModern's checkpoint (the same shapes)."""
    models = pytest.importorskip("portconv.models", reason="portconv.models not written yet")
    path = _checkpoint(tmp_path, models.LeNetModern)
    with pytest.raises(ValueError, match=r"was written by a LeNetModern model, not a LeNet;"):
        train.fit(models.LeNet(), SPLITS, epochs=2, checkpoint=path, resume=True, **FIT)


def test_resume_refuses_other_shapes_names_and_optimiser_state(tmp_path):
    path = _checkpoint(tmp_path)
    wider = lambda: nn.Sequential(nn.Conv2D(6, 5, padding=2), *list(tiny_cnn())[1:])  # noqa: E731
    with pytest.raises(
        ValueError, match=r"'0\.weight' has shape \(4, 1, 5, 5\) there, \(6, 1, 5, 5\)"
    ):
        train.fit(wider(), SPLITS, epochs=2, checkpoint=path, resume=True, **FIT)
    deeper = lambda: nn.Sequential(*list(tiny_cnn()), nn.Dense(10))  # noqa: E731
    with pytest.raises(ValueError, match=r"has no entry for the model's '7\.weight'"):
        train.fit(deeper(), SPLITS, epochs=2, checkpoint=path, resume=True, **FIT)
    # optimiser state of the wrong shape (regression: it loaded)
    stored = dict(np.load(path, allow_pickle=False))
    moment = next(k for k in stored if k.startswith("optimizer.0.") and stored[k].ndim == 4)
    stored[moment] = stored[moment][:2]
    np.savez(path, **stored)
    with pytest.raises(
        ValueError,
        match=rf"optimiser state 0\.{moment.split('.')[-1]} has shape \(2, 1, 5, 5\), its "
        r"parameter \(4, 1, 5, 5\)",
    ):
        train.fit(tiny_cnn(), SPLITS, epochs=2, checkpoint=path, resume=True, **FIT)


def test_resume_refuses_an_optimiser_of_other_parameters(tmp_path):
    path = _checkpoint(tmp_path)
    model = tiny_cnn()
    model(SPLITS.X_train[:1])
    opt = optim.Adam(model.parameters()[:-1], lr=0.01)
    with pytest.raises(ValueError, match="its optimiser stepped 8 parameters, this one steps 7"):
        train.load_checkpoint(path, model, opt)


def _meta_of(path):
    stored = dict(np.load(path, allow_pickle=False))
    return stored, json.loads(str(stored["__meta__"][()]))


def _rewrite(path, stored, meta=None, raw=None):
    stored = dict(stored)
    stored["__meta__"] = np.array(raw if raw is not None else json.dumps(meta))
    np.savez(path, **stored)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda m: m.update(epoch="abc"), "records epoch 'abc', not a non-negative int"),
        (lambda m: m.update(epoch=-2), "records epoch -2"),
        (lambda m: m.update(epoch=True), "records epoch True"),
        (lambda m: m.update(version=99), "was written by a newer portconv"),
        (lambda m: m.update(format="other"), "is not a portconv checkpoint"),
        (lambda m: m.update(history={"a": 1}), "holds a history of type dict"),
        (lambda m: m["history"][0].update(loss="low"), r"holds history\[0\]\['loss'\] = 'low'"),
        (
            lambda m: m.update(rng={"bit_generator": "nope"}),
            "holds a random generator state NumPy refuses",
        ),
        (lambda m: m.update(model=3), "records the model 3"),
        (lambda m: m["optimizer"]["scalars"].update({"x.t": 1}), "holds an optimiser scalar 'x.t'"),
    ],
)
def test_checkpoint_metadata_is_checked(tmp_path, change, message):
    path = _checkpoint(tmp_path)
    stored, meta = _meta_of(path)
    change(meta)
    _rewrite(path, stored, meta)
    with pytest.raises(
        pc_errors.FileFormatError, match=f"checkpoint: {re.escape(str(path))} {message}"
    ):
        train.checkpoint_info(path)
    with pytest.raises(pc_errors.FileFormatError, match=message):
        train.fit(tiny_cnn(), SPLITS, epochs=2, checkpoint=path, resume=True, **FIT)


def test_damaged_checkpoint_files_are_refused_naming_them(tmp_path):
    path = _checkpoint(tmp_path)
    raw = path.read_bytes()
    stored, _ = _meta_of(path)
    cases = {
        "truncated.npz": (raw[: len(raw) // 2], "is truncated or corrupt"),
        "empty.npz": (b"", r"is empty \(0 bytes\)"),
        "random.npz": (np.random.default_rng(0).bytes(300), "is not a .npz archive"),
        "flipped.npz": (raw[:400] + bytes([raw[400] ^ 0xFF]) + raw[401:], "corrupt"),
    }
    for name, (content, message) in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(pc_errors.FileFormatError, match=message) as info:
            train.load_checkpoint(tmp_path / name, tiny_cnn())
        assert str(tmp_path / name) in str(info.value)
    np.save(tmp_path / "one.npy", np.zeros(3))
    with pytest.raises(pc_errors.FileFormatError, match=r"is a \.npy file"):
        train.checkpoint_info(tmp_path / "one.npy")
    with pytest.raises(pc_errors.FileFormatError, match="is a directory"):
        train.checkpoint_info(tmp_path)
    with pytest.raises(FileNotFoundError, match="no such file"):
        train.checkpoint_info(tmp_path / "none.npz")
    _rewrite(tmp_path / "notjson.npz", stored, raw="{epoch: 1")
    with pytest.raises(pc_errors.FileFormatError, match="has metadata that is not JSON"):
        train.checkpoint_info(tmp_path / "notjson.npz")
    numeric = dict(stored, __meta__=np.arange(3))
    np.savez(tmp_path / "numeric.npz", **numeric)
    with pytest.raises(pc_errors.FileFormatError, match="not one JSON string"):
        train.checkpoint_info(tmp_path / "numeric.npz")
    np.savez(tmp_path / "extra.npz", **dict(stored, surprise=np.zeros(2)))
    with pytest.raises(pc_errors.FileFormatError, match="holds an entry 'surprise'"):
        train.checkpoint_info(tmp_path / "extra.npz")


def _bomb(path, name, shape, stored_meta):
    """A deflated archive whose member ``name`` declares ``shape`` of float64 zeros."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": shape}
    )
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("__meta__.npy", _npy_bytes(stored_meta))
        with z.open(f"{name}.npy", "w", force_zip64=True) as f:
            f.write(header.getvalue())
            chunk = bytes(1 << 22)
            for _ in range(math.prod(shape) * 8 // len(chunk)):
                f.write(chunk)


def _npy_bytes(a):
    out = io.BytesIO()
    np.save(out, a)
    return out.getvalue()


def test_zip_bombs_are_refused_before_reading(tmp_path):
    """Regression: a 1 MB archive made portconv allocate 1 GiB before the shape check."""
    path = _checkpoint(tmp_path)
    stored, _ = _meta_of(path)
    bomb = tmp_path / "bomb.npz"
    _bomb(bomb, "model.0.weight", (2**27,), stored["__meta__"])  # 1 GiB of zeros in ~1 MB
    assert bomb.stat().st_size < 2**21
    tracemalloc.start()
    try:
        with pytest.raises(pc_errors.FileFormatError, match="zip bomb"):
            train.load_checkpoint(bomb, tiny_cnn())
        with pytest.raises(pc_errors.FileFormatError, match="zip bomb"):
            nn.load_npz(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * 2**20, f"{peak} bytes allocated to refuse a zip bomb"
    # within deflate's ratio but of another shape than the model's: refused from the headers
    small = tmp_path / "small.npz"
    _bomb(small, "model.0.weight", (2**20,), stored["__meta__"])
    model = tiny_cnn()
    model(SPLITS.X_train[:1])
    with pytest.raises(ValueError, match=r"'0\.weight' has shape \(1048576,\) there"):
        train.load_checkpoint(small, model)


# -- writes (issue 19, item 9) -------------------------------------------------------------------


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_checkpoints_get_the_umask_mode(tmp_path, umask):
    """Regression: checkpoints were written with mode 0600 whatever the umask."""
    old = os.umask(umask)
    try:
        path = _checkpoint(tmp_path)
        model = tiny_cnn()
        model(SPLITS.X_train[:1])
        model.save(tmp_path / "weights.npz")
        data.write_idx(tmp_path / "labels.idx", np.arange(3, dtype=np.uint8))
    finally:
        os.umask(old)
    for name in (path.name, "weights.npz", "labels.idx"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o666 & ~umask, name


def test_stale_temporary_files_of_killed_runs_are_removed(tmp_path):
    path = _checkpoint(tmp_path)
    host = pc_files._host()
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_pid = int(dead.stdout)  # a process that has exited
    stale = tmp_path / f".ck.npz.{host}-{dead_pid}.0123abcd.tmp"
    stale.write_bytes(b"half a checkpoint")
    live = tmp_path / f".ck.npz.{host}-{os.getpid()}.89abcdef.tmp"  # a live writer's
    live.write_bytes(b"being written")
    legacy = tmp_path / ".portconv-abc123.npz"  # an earlier version's, an hour old
    legacy.write_bytes(b"old")
    os.utime(legacy, (time.time() - 7200, time.time() - 7200))
    other = tmp_path / f".other.npz.{host}-{dead_pid}.0123abcd.tmp"  # another target's
    other.write_bytes(b"x")
    train.fit(tiny_cnn(), SPLITS, epochs=2, checkpoint=path, resume=True, **FIT)
    left = sorted(os.listdir(tmp_path))
    assert left == sorted(["ck.npz", live.name, other.name]), left


def test_an_interrupted_write_leaves_the_old_checkpoint(tmp_path, monkeypatch):
    path = _checkpoint(tmp_path)
    before = path.read_bytes()

    def interrupted(file, **arrays):
        file.write(b"PK\x03\x04 half")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train.fit(tiny_cnn(), SPLITS, epochs=2, checkpoint=path, resume=True, **FIT)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["ck.npz"] and path.read_bytes() == before


def test_load_checkpoint_into_a_model_not_called_yet(tmp_path):
    """Lazy layers create their parameters from the checkpoint, as load_state_dict does."""
    path = _checkpoint(tmp_path)
    fresh = tiny_cnn()
    meta = train.load_checkpoint(path, fresh)
    assert meta["epoch"] == 1 and list(fresh.state_dict())[0] == "0.weight"
    with pytest.raises(ValueError, match=r"has no entry for the model's '7\.weight'"):
        train.load_checkpoint(path, nn.Sequential(*list(tiny_cnn()), nn.Dense(10)))
