"""The same seed gives the same training curve on every backend (issue #5's quality bar).

The book's modern LeNet (ReLU, max pooling) is trained with the same seed on the backend under
test and on NumPy in the same process, on a small subset of scikit-learn's digits (or, without
scikit-learn, on generated images), and the curves are compared step by step.

In float64 they must agree within float32 tolerance (``RTOL``), and the trained parameters
far more closely (``PARAM_RTOL``; measured: 6e-14 on torch, 0 on array-api-strict): kernels
differ only in the order of their float64 roundings, and exact max-pooling ties are broken
alike everywhere. The bounds can fail: the curves of a backend that broke ties or rounded in
a way that mattered would move, and perturbations of float32's size miss ``PARAM_RTOL`` by
orders of magnitude (torch's float32 run of this configuration differs from NumPy's by 4e-5,
a float32 run from a float64 one as much; see the third test). In float32 only the first
epoch is compared, with the looser ``RTOL32``: over more steps float32 curves drift apart
(benchmarks/train_digits.py).
"""

from __future__ import annotations

import numpy as np
import pytest

from portconv import backend_of, data, train
from portconv.models import LeNetModern

#: float32 tolerance for the curves (losses and accuracies), relative
RTOL = 1e-5
#: the trained parameters in float64: max |w - w_numpy| / max |w_numpy|
PARAM_RTOL = 1e-9
#: float32 runs, first epoch only: the curve (relative), and the parameters (as PARAM_RTOL;
#: measured 4e-5 on torch: Adam's steps have the size lr whatever the gradient's, so a
#: gradient near 0 whose rounding differs moves a weight by up to lr)
RTOL32, PARAM_RTOL32 = 1e-4, 1e-3
EPOCHS, BATCH, LR = 3, 32, 0.003  # Adam: 12 steps that learn (the loss falls by 30%)


def _splits() -> data.Splits:
    """128 training and 64 test images of 28x28 (float64: the loader casts them)."""
    try:
        s = data.load_digits(28, dtype="float64")
    except ImportError:  # no scikit-learn (the optional "digits" extra): generated images
        s = data.make_synthetic(128, 64, 28, seed=0, dtype="float64")
    return data.Splits(s.X_train[:128], s.y_train[:128], s.X_test[:64], s.y_test[:64])


SPLITS = _splits()


def host(a) -> np.ndarray:
    return np.asarray(backend_of(a).adapter.to_numpy(a))


def run(backend: str, device, dtype: str, epochs: int) -> tuple[list, np.ndarray, object]:
    """The training history, the trained parameters as one float64 host vector, and one
    parameter array (to check its type and dtype)."""
    model = LeNetModern()
    history = train.fit(
        model,
        SPLITS,
        epochs=epochs,
        lr=LR,
        optimizer="adam",
        batch_size=BATCH,
        backend=backend,
        device=device,
        init="xavier",
        seed=0,
        dtype=dtype,
    )
    params = np.concatenate([host(p.data).astype(np.float64).ravel() for p in model.parameters()])
    return history, params, model.parameters()[0].data


_numpy_runs: dict = {}


def numpy_run(dtype: str, epochs: int):
    """The NumPy run every backend's is compared with (computed once per process)."""
    key = (dtype, epochs)
    if key not in _numpy_runs:
        _numpy_runs[key] = run("numpy", None, dtype, epochs)
    return _numpy_runs[key]


def curve(history: list) -> np.ndarray:
    """Per step the running mean loss and training accuracy of the epoch (the book's
    animator's points: one per batch here), then per epoch loss, train acc and test acc."""
    steps = [point[1:] for row in history for point in row["points"]]
    epochs = [[row["loss"], row["train_acc"], row["test_acc"]] for row in history]
    return np.concatenate([np.ravel(steps), np.ravel(epochs)])


def param_diff(got: np.ndarray, want: np.ndarray) -> float:
    return float(np.max(np.abs(got - want)) / np.max(np.abs(want)))


def test_float64_curves_agree_with_numpy(be):
    history, params, p0 = run(be.name, be.device, "float64", EPOCHS)
    be.check_array(p0, dtype="float64")
    want_history, want_params, _ = numpy_run("float64", EPOCHS)
    assert len(history) == EPOCHS and len(history[0]["points"]) == len(SPLITS.y_train) // BATCH
    # the run learns: the curve is not flat (a flat curve would agree trivially)
    assert history[-1]["loss"] < 0.8 * history[0]["loss"], [row["loss"] for row in history]
    np.testing.assert_allclose(curve(history), curve(want_history), rtol=RTOL, atol=0)
    assert param_diff(params, want_params) <= PARAM_RTOL, param_diff(params, want_params)


def test_float32_first_steps_agree_with_numpy(be):
    """float32: the first epoch (4 steps) within the looser RTOL32 and PARAM_RTOL32."""
    history, params, p0 = run(be.name, be.device, "float32", 1)
    be.check_array(p0, dtype="float32")
    want_history, want_params, _ = numpy_run("float32", 1)
    np.testing.assert_allclose(curve(history), curve(want_history), rtol=RTOL32, atol=0)
    assert param_diff(params, want_params) <= PARAM_RTOL32, param_diff(params, want_params)


def test_float32_rounding_would_miss_the_float64_bound():
    """PARAM_RTOL is meaningful: perturbations of float32's size (here: the same run in
    float32) move the trained parameters by far more than PARAM_RTOL."""
    _, p32, _ = numpy_run("float32", 1)
    _, p64, _ = run("numpy", None, "float64", 1)
    assert param_diff(p32, p64) > 1e3 * PARAM_RTOL, param_diff(p32, p64)


def test_fit_dtype_casts_existing_parameters(be):
    """dtype= casts the batches and the parameters a model already has (a float32 model
    trained on in float64); a DataLoader in another dtype and unknown dtypes are refused."""
    model = LeNetModern()
    small = (SPLITS.X_train[:8].astype(np.float32), SPLITS.y_train[:8])
    train.fit(model, small, epochs=1, lr=0.1, backend=be.name, device=be.device, seed=0)
    for p in model.parameters():
        be.check_array(p.data, dtype="float32")
    before = np.concatenate([host(p.data).ravel() for p in model.parameters()])
    history = train.fit(
        model,
        small,
        epochs=0,
        lr=0.1,
        backend=be.name,
        device=be.device,
        dtype="float64",
    )
    assert list(history) == []
    for p in model.parameters():
        be.check_array(p.data, dtype="float64")
    after = np.concatenate([host(p.data).ravel() for p in model.parameters()])
    np.testing.assert_array_equal(after, before.astype(np.float64))
    loader = data.batches(*small, 4, backend=be.name, device=be.device, dtype="float32")
    with pytest.raises(ValueError, match=r"dtype: 'float64' asked for, but train_data"):
        train.fit(model, loader, epochs=1, lr=0.1, dtype="float64")
    with pytest.raises(ValueError, match=r"dtype: expected 'float32' or 'float64' \(or None\)"):
        train.fit(model, small, epochs=1, lr=0.1, dtype="float16")
