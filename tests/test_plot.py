"""portconv.plot.Animator: the book's live training curves as a ``train.fit`` callback, a PNG
outside Jupyter and one output updated in place inside it."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import portconv as pc
from portconv import data, models, plot, train

pytest.importorskip("matplotlib", reason="matplotlib is not installed (the plot extra)")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _stats(epoch, test_acc=0.5, points=True):
    row = {"epoch": epoch, "loss": 2.0 / epoch, "train_acc": 0.3 * epoch, "test_acc": test_acc}
    if points:
        row["points"] = [[epoch - 0.5, 2.5 / epoch, 0.2 * epoch], [epoch, 2.0 / epoch, 0.3]]
    return row


def _image(path):
    import matplotlib.image

    return matplotlib.image.imread(str(path))


def test_writes_a_png_after_every_epoch(tmp_path):
    path = tmp_path / "curves.png"
    a = plot.Animator(path, interactive=False)
    assert not a.interactive
    a(_stats(1))
    first = path.read_bytes()
    assert first.startswith(PNG_MAGIC)
    a(_stats(2))
    second = path.read_bytes()
    assert second.startswith(PNG_MAGIC) and second != first  # redrawn with the new epoch
    assert _image(path).shape[:2] == (350, 450)  # figsize (4.5, 3.5) at 100 dpi
    assert [r["epoch"] for r in a.history] == [1, 2]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curves.png"]  # no temporary left


def test_the_curves_are_what_the_history_says():
    a = plot.Animator("unused.png", interactive=False, epochs=10)
    a.history = [_stats(1), _stats(2, test_acc=None)]
    ax = a.figure().axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert list(lines) == ["train loss", "train acc", "test acc"]
    assert list(lines["train loss"].get_xdata()) == [0.5, 1, 1.5, 2]
    assert list(lines["train loss"].get_ydata()) == [2.5, 2.0, 1.25, 1.0]
    assert list(lines["test acc"].get_xdata()) == [1]  # epoch 2 had no test data
    assert ax.get_xlim() == (0, 10)  # fixed by epochs=
    assert ax.get_xlabel() == "epoch"
    # without points (a history from elsewhere), one point per epoch
    a.history = [_stats(1, points=False)]
    ax = a.figure().axes[0]
    assert list(ax.get_lines()[1].get_ydata()) == [0.3]


def test_default_path_outside_jupyter(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    a = plot.Animator()
    assert a.path == "training.png" and not a.interactive
    a(_stats(1))
    assert (tmp_path / "training.png").read_bytes().startswith(PNG_MAGIC)


class _FakeHandle:
    def __init__(self, log):
        self.log = log

    def update(self, obj):
        self.log.append(("update", obj))


class _FakeImage:
    def __init__(self, data):
        self.data = data


def test_in_jupyter_one_output_is_updated_in_place(tmp_path, monkeypatch):
    log = []

    def display(obj, display_id=False):
        assert display_id is True
        log.append(("display", obj))
        return _FakeHandle(log)

    monkeypatch.setattr(plot, "_jupyter", lambda: (display, _FakeImage))
    a = plot.Animator()
    assert a.interactive and a.path is None  # no file unless asked for
    for epoch in (1, 2, 3):
        a(_stats(epoch))
    assert [kind for kind, _ in log] == ["display", "update", "update"]
    assert all(obj.data.startswith(PNG_MAGIC) for _, obj in log)
    assert list(tmp_path.iterdir()) == []
    # a path as well: both
    log.clear()
    b = plot.Animator(tmp_path / "also.png")
    b(_stats(1))
    assert [kind for kind, _ in log] == ["display"] and (tmp_path / "also.png").is_file()


def test_fit_drives_the_animator(tmp_path, be):
    path = tmp_path / "fit.png"
    animator = plot.Animator(path, epochs=2, interactive=False, title=be.name)
    splits = data.make_synthetic(48, 16, seed=0)
    pc.nn.manual_seed(0)
    history = train.fit(
        models.LeNetModern(),
        splits,
        epochs=2,
        lr=0.1,
        batch_size=16,
        backend=be.name,
        device=be.device,
        callback=animator,
    )
    assert [r["epoch"] for r in animator.history] == [1, 2]
    assert animator.history[-1]["loss"] == history[-1]["loss"]
    assert len(animator.history[0]["points"]) >= 2
    assert _image(path).shape[:2] == (350, 450)


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"path": 3}, pc.ArrayTypeError, "path: expected a file path"),
        ({"epochs": 0}, pc.ArgumentError, "epochs: expected a positive int"),
        ({"epochs": True}, pc.ArgumentError, "epochs: expected a positive int"),
        ({"figsize": (4, -1)}, pc.ArgumentError, "figsize: expected two positive numbers"),
        ({"figsize": "big"}, pc.ArgumentError, "figsize: expected two positive numbers"),
        ({"interactive": True}, pc.ArgumentError, "interactive: True needs a Jupyter kernel"),
    ],
)
def test_bad_arguments(kwargs, error, words, monkeypatch):
    monkeypatch.setattr(plot, "_jupyter", lambda: None)
    with pytest.raises(error, match=words):
        plot.Animator(**kwargs)


def test_bad_stats():
    a = plot.Animator("x.png", interactive=False)
    with pytest.raises(pc.ArgumentError, match="stats: missing loss, train_acc"):
        a({"epoch": 1})
    with pytest.raises(pc.ArrayTypeError, match="stats: expected a mapping"):
        a([1, 2.0, 0.5])
    assert a.history == []


def test_without_matplotlib_the_error_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r'pip install "portconv\[plot\]"'):
        plot.Animator("x.png")


def test_the_figure_leaves_pyplot_alone():
    import matplotlib
    import matplotlib.pyplot as plt

    backend = matplotlib.get_backend()
    before = plt.get_fignums()
    a = plot.Animator("x.png", interactive=False)
    a.history = [_stats(1)]
    a.figure()
    assert plt.get_fignums() == before and matplotlib.get_backend() == backend


def test_png_is_deterministic():
    a = plot.Animator("x.png", interactive=False)
    a.history = [_stats(1), _stats(2)]
    assert np.array_equal(np.frombuffer(a.png(), np.uint8), np.frombuffer(a.png(), np.uint8))
