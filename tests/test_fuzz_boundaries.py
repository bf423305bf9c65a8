"""Fuzzing the boundaries around the ops: ``fit``, ``batches``/``DataLoader``, the file loaders
(``.npz`` archives, checkpoints, IDX files) and ``convert``, the way tests/test_fuzz.py fuzzes
the ops.

Each example draws arguments that are mostly plausible and often hostile (negative, zero,
float, bool, str, None, NaN, huge, objects, arrays of the wrong shape, dtype or library,
damaged files). A call must either give a correct result (checked: shapes, dtypes, values
where they are known) or raise one of portconv's own errors whose message starts with the
name of an argument the call takes; never a raw exception from inside, a hang or a crash.

The counts per target are printed at the end of the session (tests/conftest.py).
"""

from __future__ import annotations

import gzip
import math
import re
import string

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import portconv as pc
from portconv import data, nn, train

pytestmark = pytest.mark.filterwarnings("ignore")

FUZZ = settings(suppress_health_check=list(HealthCheck), deadline=None)

JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(alphabet=string.printable, max_size=4),
    st.just({}),
    st.just([]),
    st.just(object()),
    st.just(np.float32(2.0)),
    st.just(1 + 2j),
)
HUGE = st.sampled_from([2**31, 2**40, 10**30])


def ints(lo, hi):
    """Hostile values for an int argument that must lie in [lo, hi]."""
    return st.one_of(st.integers(-5, lo - 1), HUGE, JUNK, st.just(float(lo)))


def arguments(draw, valid: dict, hostile: dict) -> tuple[dict, str | None]:
    """Plausible values for every argument, then at most one argument (chosen uniformly, or
    none a third of the time) replaced by a hostile value: the call meets every hostile value
    alone, so a refusal must name that argument and a plausible call must succeed."""
    which = draw(st.sampled_from([None] * (len(hostile) // 2 + 1) + sorted(hostile)))
    out = {name: draw(strategy) for name, strategy in valid.items()}
    if which is not None:
        out[which] = draw(hostile[which])
    return out, which


def attempt(be, counts, target, names, call, check=None, hostile=None):
    """Run ``call()`` once: a portconv error naming one of ``names`` is fine (and any other
    error fails the test); a result goes to ``check``. Where no argument was made hostile
    (``hostile`` None, for targets that draw arguments with :func:`arguments`), the call must
    succeed."""
    counts["fuzz"][be.name] = counts["fuzz"].get(be.name, 0) + 1
    targets = counts.setdefault("fuzz_targets", {})
    targets[target] = targets.get(target, 0) + 1
    try:
        with be.run_context():
            result = call()
    except pc.PortconvError as exc:
        assert isinstance(exc, (ValueError, TypeError, OSError, RuntimeError)), type(exc)
        first = re.split(r"[:,]", str(exc), maxsplit=1)[0].strip()
        assert first in names, f"the error names no argument of {target}: {exc}"
        assert hostile != "none", f"{target}: a plausible call was refused: {exc}"
        return
    except Exception as exc:
        counts["fuzz_bad"] += 1
        raise AssertionError(f"{target}: non-portconv error {type(exc).__name__}: {exc}") from exc
    if check is not None:
        check(result)
    counts["fuzz_results"] += 1


# -- batches and DataLoader ------------------------------------------------------------------------

LOADER_ARGS = {"X", "y", "batch_size", "shuffle", "seed", "backend", "device", "drop_last",
               "resize", "dtype", "num_classes", "epoch"}  # fmt: skip


@FUZZ
@given(ex=st.data())
def test_fuzz_batches(be, counts, ex):
    draw = ex.draw
    n = draw(st.integers(0, 6))
    shape = (n, 1, *draw(st.lists(st.integers(1, 5), min_size=2, max_size=2)))
    labels = np.arange(n) % 3
    valid = {
        "X": st.sampled_from(
            [np.random.default_rng(0).random(shape).astype(np.float32), np.zeros(shape, np.uint8)]
        ),
        "y": st.sampled_from([None, labels, labels.astype(np.float64)]),
        "batch_size": st.integers(1, 4),
        "shuffle": st.booleans(),
        "seed": st.integers(0, 2**40),
        "backend": st.just(be.name),
        "device": st.sampled_from([None, be.device]),
        "drop_last": st.booleans(),
        "resize": st.sampled_from([None, 3, (3, 2)]),
        "dtype": st.sampled_from([None, "float32", "float64"]),
        "num_classes": st.sampled_from([None, 3, 5]),
    }
    hostile = {
        "X": st.one_of(st.just(np.array(["a"] * max(n, 1))), st.just(np.float32(1)), JUNK),
        "y": st.one_of(
            st.sampled_from([labels - 1, labels + 0.5, np.zeros((n, 2)), labels[:-1]]), JUNK
        ),
        "batch_size": ints(1, 4),
        "shuffle": JUNK.filter(lambda v: not isinstance(v, bool)),
        "seed": ints(0, 2**40),
        "backend": st.one_of(st.sampled_from(["tinygrad", "", "NumPy"]), JUNK),
        "device": st.one_of(st.sampled_from(["cuda:0", "x", "gpu(1)", ""]), JUNK),
        "drop_last": JUNK.filter(lambda v: not isinstance(v, bool)),
        "resize": st.one_of(ints(1, 6), st.just((2.5, 3)), st.just((3,)), st.just(10**6)),
        "dtype": st.one_of(st.just("int8"), JUNK),
        "num_classes": st.one_of(ints(1, 4), st.just(2)),
    }
    kwargs, which = arguments(draw, valid, hostile)
    X, y = kwargs.pop("X"), kwargs.pop("y")
    if y is None and which != "num_classes":
        kwargs["num_classes"] = None  # classes of no labels: refused, and not a hostile draw

    def call():
        loader = data.batches(X, y, **kwargs)
        return loader, list(loader)

    def check(result):
        loader, got = result
        n_ex = loader.num_examples
        assert len(got) == len(loader)
        sizes = [int((b[0] if isinstance(b, tuple) else b).shape[0]) for b in got]
        assert sum(sizes) == (n_ex // loader.batch_size * loader.batch_size
                              if loader.drop_last else n_ex)  # fmt: skip
        for b in got:
            be.check_array(b[0] if isinstance(b, tuple) else b)

    attempt(be, counts, "batches", LOADER_ARGS, call, check, which or "none")


# -- fit -----------------------------------------------------------------------------------------

FIT_ARGS = LOADER_ARGS | {"model", "train_data", "test_data", "epochs", "lr", "optimizer", "loss",
                          "init", "checkpoint", "resume", "callback", "progress", "target",
                          "logits", "y_hat", "data", "path", "history, extra"}  # fmt: skip
SPLITS = data.make_synthetic(8, 4, 8, classes=3, seed=1)


@FUZZ
@given(ex=st.data())
def test_fuzz_fit(be, counts, tmp_path_factory, ex):
    draw = ex.draw
    folder = tmp_path_factory.mktemp("fit")
    y = SPLITS.y_train
    valid = {
        "y": st.sampled_from([y, y.astype(np.float64)]),
        "epochs": st.integers(0, 2),
        "lr": st.floats(1e-3, 0.5),
        "batch_size": st.integers(1, 8),
        "seed": st.integers(0, 2**40),
        "optimizer": st.sampled_from(["sgd", "adam"]),
        "loss": st.just("cross_entropy"),
        "init": st.sampled_from([None, "xavier", "torch"]),
        "dtype": st.sampled_from([None, "float32", "float64"]),
        "checkpoint": st.sampled_from([None, folder / "ck.npz"]),
        "resume": st.just(False),
        "progress": st.just(False),
        "callback": st.sampled_from([None, lambda stats: None]),
        "device": st.sampled_from([None, be.device]),
    }
    hostile = {
        "y": st.sampled_from([y - 1, y + 8, y + 0.5, np.stack([y, y], axis=1), y[:-1]]),
        # not ints(0, 2): a huge epoch count is valid, and fit would run it
        "epochs": st.one_of(st.integers(-5, -1), JUNK, st.just(0.0)),
        "lr": st.one_of(st.sampled_from([0.0, -0.1, math.inf, math.nan]), JUNK),
        "batch_size": ints(1, 8),
        "seed": ints(0, 2**40),
        "optimizer": st.one_of(st.just("rmsprop"), JUNK),
        "loss": st.one_of(st.just("hinge"), JUNK),
        "init": st.one_of(st.just("bogus"), JUNK),
        "dtype": st.one_of(st.just("int8"), JUNK),
        "checkpoint": st.sampled_from([folder, folder / "missing" / "ck.npz", 3, ""]),
        "resume": st.one_of(st.just(True), JUNK),
        "progress": JUNK.filter(lambda v: not isinstance(v, bool)),
        "callback": st.one_of(st.just(3), st.just("print")),
        "device": st.one_of(st.sampled_from(["cuda:0", "bogus"]), JUNK),
    }
    kwargs, which = arguments(draw, valid, hostile)
    labels = kwargs.pop("y")
    model = nn.Sequential(nn.Dense(3))

    def check(history):
        assert isinstance(history, train.History) and len(history) == kwargs["epochs"]
        for row in history:
            assert 0.0 <= row["train_acc"] <= 1.0

    attempt(
        be,
        counts,
        "fit",
        FIT_ARGS,
        lambda: train.fit(model, (SPLITS.X_train, labels), backend=be.name, **kwargs),
        check,
        which or "none",
    )


# -- file loaders --------------------------------------------------------------------------------

FILE_ARGS = {"path", "checkpoint", "params"}


def _valid_files(folder):
    """name -> (bytes, loader, check of the result) for each kind of file."""
    model = nn.Sequential(nn.Dense(3))
    model(np.zeros((1, 4), np.float32))
    ck = folder / "ck.npz"
    train.save_checkpoint(ck, model, epoch=1)
    weights = folder / "w.npz"
    model.save(weights)
    idx = data.idx_bytes(np.arange(24, dtype=np.int16).reshape(2, 3, 4))
    return {
        "checkpoint": (ck.read_bytes(), lambda p: train.load_checkpoint(p, model), None),
        "info": (ck.read_bytes(), train.checkpoint_info, None),
        "weights": (weights.read_bytes(), nn.load_npz, lambda r: set(r) == {"0.weight", "0.bias"}),
        "idx": (idx, data.read_idx, lambda r: r.shape == (2, 3, 4) and r.dtype == np.int16),
        "idx.gz": (gzip.compress(idx, mtime=0), data.read_idx,
                   lambda r: np.array_equal(r, np.arange(24).reshape(2, 3, 4))),
    }  # fmt: skip


@FUZZ
@given(ex=st.data())
def test_fuzz_file_loaders(be, counts, tmp_path_factory, ex):
    draw = ex.draw
    folder = tmp_path_factory.mktemp("files")
    files = _valid_files(folder)
    kind = draw(st.sampled_from(sorted(files)))
    raw, load, check = files[kind]
    damage = draw(st.sampled_from(["none", "truncate", "flip", "junk", "append", "path"]))
    path = folder / f"damaged.{kind}"
    if damage == "none":
        path.write_bytes(raw)
    elif damage == "truncate":
        path.write_bytes(raw[: draw(st.integers(0, 2**20)) % len(raw)])  # files vary in size
    elif damage == "flip":
        at = draw(st.integers(0, 2**20)) % len(raw)
        path.write_bytes(raw[:at] + bytes([raw[at] ^ draw(st.integers(1, 255))]) + raw[at + 1 :])
    elif damage == "junk":
        path.write_bytes(draw(st.binary(max_size=300)))
    elif damage == "append":
        path.write_bytes(raw + draw(st.binary(min_size=1, max_size=50)))
    else:
        path = draw(st.one_of(st.just(folder), st.just(folder / "none"), JUNK))
    # a flipped byte inside an uncompressed IDX body is a valid file with another value
    lenient = kind == "idx" and damage == "flip"

    def checked(result):
        if check is not None and damage == "none":
            assert check(result), result
        elif check is not None and lenient:
            assert result.shape == (2, 3, 4)

    attempt(be, counts, "files", FILE_ARGS, lambda: load(path), checked)


# -- convert ---------------------------------------------------------------------------------------

CONVERT_ARGS = {"x", "to", "device", "copy"}
TARGETS = [t for a in pc.adapters().values() for t in a.targets]


@FUZZ
@given(ex=st.data())
def test_fuzz_convert(be, counts, ex):
    draw = ex.draw
    shape = tuple(draw(st.lists(st.integers(0, 4), max_size=3)))
    dtype = draw(st.sampled_from(["float32", "float64", "int32", "int64", "bool", "uint8"]))
    host = (np.random.default_rng(0).standard_normal(shape) * 5).astype(dtype)
    try:
        x = be.asarray(host)
    except Exception:  # a dtype this library lacks: another array
        x = be.asarray(host.astype(np.float32))
    kind = draw(st.sampled_from(["array", "array", "list", "junk"]))  # (MXNet arrays: no hash)
    x = {"array": x, "list": host.tolist(), "junk": None}[kind]
    if kind == "junk":
        x = draw(JUNK)
    to = draw(st.one_of(st.sampled_from(TARGETS), st.sampled_from(["tinygrad", "NUMPY", ""]), JUNK))
    device = draw(
        st.one_of(
            st.none(), st.sampled_from(["cpu", "cuda", "cuda:7", "gpu(0)", "bogus", ""]), JUNK
        )  # fmt: skip
    )
    copy = draw(st.one_of(st.none(), st.booleans(), JUNK))

    def check(y):
        got = np.asarray(pc.backend_of(y).adapter.to_numpy(y))
        want = np.asarray(be.adapter.to_numpy(x))
        assert got.shape == want.shape
        np.testing.assert_array_equal(got, want)

    attempt(be, counts, "convert", CONVERT_ARGS, lambda: pc.convert(x, to, device, copy=copy),
            check)  # fmt: skip
