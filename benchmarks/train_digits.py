"""Quality bar: the book's modern LeNet (ReLU, max pooling) trained on scikit-learn's digits
(upscaled to 28x28; no download) for 10 epochs on each backend, printing the curve and the
final test accuracy; with ``--compare``, the curves of the backends side by side. Not a test:
it takes minutes on a CPU.

    python benchmarks/train_digits.py                         # numpy and torch (mxnet if here)
    python benchmarks/train_digits.py --backends numpy --epochs 1
    python benchmarks/train_digits.py --compare --dtype float64 --save f64.npz
    MXNET_ENGINE_TYPE=NaiveEngine /path/to/mxnet-env/bin/python benchmarks/train_digits.py \\
        --backends mxnet,mxnet.nd --dtype float64 --against f64.npz

The same seed gives the same initial model and batch order on every backend. ``--compare``
prints, per epoch, every backend's training loss, training accuracy and test accuracy, the
largest relative difference of the three to the first backend's, and whether it is within
float32 tolerance (a relative difference of at most ``RTOL`` = 1e-5; float32's machine epsilon
is 1.2e-7), and at the end the largest difference of the trained parameters. ``--save FILE``
stores the runs (curves and parameters); ``--against FILE`` compares with runs stored by
another process (MXNet lives in its own environment), the file's first backend
being the reference; the settings must be the same.

In float32 (the default) the curves agree for the first steps and then drift apart by a few
percent (torch from the second epoch, mxnet from the sixth): each library's kernels (BLAS,
oneDNN, the generic path) round in a different order, and where a difference of an ulp flips
which element of a max-pooling window is largest (upscaled digits have many near-ties) the
gradient changes discretely, which SGD amplifies. The final accuracies still agree to a few
tenths of a percent (0.972, 0.972, 0.969 on numpy, torch, mxnet). In float64
(``--dtype float64``) rounding differences are ~1e-16, far below the gaps between pooled
values, and exact ties (constant regions, zeros after ReLU) are broken alike everywhere (the
first maximum), so the curves agree to ~1e-14 over all 10 epochs (0.972 everywhere): within
float32 tolerance.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from portconv import backend_of, data, nn, train

#: the relative difference of loss and accuracies called "within float32 tolerance"
RTOL = 1e-5
KEYS = ("loss", "train_acc", "test_acc")


def lenet_modern() -> nn.Module:
    """portconv.models.LeNetModern where it exists, else the same network spelled here."""
    try:
        from portconv.models import LeNetModern

        return LeNetModern()
    except ImportError:
        return nn.Sequential(
            nn.Conv2D(6, 5, padding=2, activation="relu"),
            nn.MaxPool2D(2, strides=2),
            nn.Conv2D(16, 5, activation="relu"),
            nn.MaxPool2D(2, strides=2),
            nn.Dense(120, activation="relu"),
            nn.Dense(84, activation="relu"),
            nn.Dense(10),
        )


def available(backend: str) -> str:
    from portconv import resolve

    try:
        adapter, _ = resolve(backend)
    except Exception as exc:
        return str(exc)
    return adapter.unavailable_reason()


def host_parameters(model: nn.Module) -> np.ndarray:
    """All parameters, in order, as one float64 host vector."""
    parts = []
    for p in model.parameters():
        parts.append(np.asarray(backend_of(p.data).adapter.to_numpy(p.data), np.float64).ravel())
    return np.concatenate(parts)


def rel_diff(a: float, b: float) -> float:
    """|a - b| / |b| (0 when both are 0)."""
    if a == b:
        return 0.0
    return abs(a - b) / abs(b) if b else float("inf")


def save_runs(path: str, settings: dict, runs: dict) -> None:
    meta = {"settings": settings, "order": list(runs)}
    arrays = {"__meta__": np.array(json.dumps(meta))}
    for backend, run in runs.items():
        arrays[f"curve:{backend}"] = np.array(json.dumps(run["curve"]))
        arrays[f"params:{backend}"] = run["params"]
        arrays[f"seconds:{backend}"] = np.array(run["seconds"])
    np.savez(path, **arrays)


def load_runs(path: str, settings: dict) -> dict:
    with np.load(path, allow_pickle=False) as f:
        meta = json.loads(str(f["__meta__"][()]))
        if meta["settings"] != settings:
            raise SystemExit(
                f"--against: {path} holds runs with the settings {meta['settings']}, this run "
                f"uses {settings}; compare runs of the same settings"
            )
        return {
            b: {
                "curve": json.loads(str(f[f"curve:{b}"][()])),
                "params": f[f"params:{b}"],
                "seconds": float(f[f"seconds:{b}"]),
            }
            for b in meta["order"]
        }


def compare(runs: dict, epochs: int) -> None:
    """Per epoch every backend's numbers and the largest relative difference to the first
    backend's; then the overall verdict and the trained parameters' difference."""
    names = list(runs)
    ref = names[0]
    worst = dict.fromkeys(names[1:], 0.0)
    width = max(len(n) for n in names)
    print(f"\ncurves (relative differences to {ref}; float32 tolerance: rtol {RTOL:g}):")
    for e in range(epochs):
        print(f"epoch {e + 1}")
        want = runs[ref]["curve"][e]
        for name in names:
            got = runs[name]["curve"][e]
            line = (
                f"  {name:<{width}}  loss {got['loss']:.12f}  train acc {got['train_acc']:.6f}"
                f"  test acc {got['test_acc']:.6f}"
            )
            if name != ref:
                d = max(rel_diff(got[k], want[k]) for k in KEYS)
                worst[name] = max(worst[name], d)
                line += f"  max rel diff {d:.1e}  {'within' if d <= RTOL else 'OUTSIDE'}"
            print(line)
    print()
    for name in names[1:]:
        d = worst[name]
        verdict = "within" if d <= RTOL else "NOT within"
        w_ref, w = runs[ref]["params"], runs[name]["params"]
        dw = float(np.max(np.abs(w - w_ref)) / np.max(np.abs(w_ref)))
        print(
            f"{name} vs {ref}: largest relative difference of loss/train acc/test acc over "
            f"{epochs} epochs {d:.1e} ({verdict} float32 tolerance, rtol {RTOL:g}); final "
            f"parameters max |w - w_{ref}| / max |w_{ref}| = {dw:.1e}"
        )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--backends", default="numpy,torch,mxnet")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--dtype",
        choices=("float32", "float64"),
        default="float32",
        help="parameters, batches and loss in this dtype (default float32)",
    )
    p.add_argument(
        "--compare",
        action="store_true",
        help="print the backends' curves side by side with their differences",
    )
    p.add_argument("--save", metavar="FILE", help="store this run's curves and parameters")
    p.add_argument(
        "--against",
        metavar="FILE",
        action="append",
        default=[],
        help="compare with the runs stored in FILE by --save (implies --compare)",
    )
    args = p.parse_args(argv)
    settings = {
        "epochs": args.epochs,
        "lr": args.lr,
        "batch_size": args.batch_size,
        "seed": args.seed,
        "dtype": args.dtype,
    }
    splits = data.load_digits(28, dtype=args.dtype)
    print(
        f"modern LeNet on digits: {len(splits.y_train)} training, {len(splits.y_test)} test "
        f"images of 28x28; {args.epochs} epochs, SGD lr {args.lr}, batch size {args.batch_size}, "
        f"Xavier init, seed {args.seed}, {args.dtype}"
    )
    runs: dict = {}
    for path in args.against:
        runs.update(load_runs(path, settings))
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        reason = available(backend)
        if reason:
            print(f"\n{backend}: skipped ({reason})")
            continue
        print(f"\n{backend}:")
        model = lenet_modern()
        start = time.perf_counter()
        history = train.fit(
            model,
            splits,
            epochs=args.epochs,
            lr=args.lr,
            batch_size=args.batch_size,
            backend=backend,
            init="xavier",
            seed=args.seed,
            dtype=args.dtype,
            callback=lambda stats: print("  " + train.format_epoch(stats), flush=True),
        )
        runs[backend] = {
            "curve": [{k: row[k] for k in KEYS} for row in history],
            "params": host_parameters(model),
            "seconds": time.perf_counter() - start,
        }
    if args.save:
        save_runs(args.save, settings, {b: r for b, r in runs.items()})
        print(f"\nruns written to {args.save}")
    print()
    for backend, run in runs.items():
        acc = run["curve"][-1]["test_acc"] if run["curve"] else float("nan")
        print(f"{backend}: final test accuracy {acc:.3f} ({run['seconds']:.1f} s)")
    if (args.compare or args.against) and len(runs) > 1:
        compare(runs, args.epochs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
