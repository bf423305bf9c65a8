"""Quality bar: the book's modern LeNet (ReLU, max pooling) trained on scikit-learn's digits
(upscaled to 28x28; no download) for 10 epochs on each backend, printing the curve and the
final test accuracy. Not a test: it takes minutes on a CPU.

    python benchmarks/train_digits.py                         # numpy and torch
    python benchmarks/train_digits.py --backends numpy --epochs 1
    MXNET_ENGINE_TYPE=NaiveEngine /path/to/mxnet-env/bin/python benchmarks/train_digits.py \\
        --backends mxnet,mxnet.nd

The same seed gives the same initial model and batch order on every backend. The curves agree
for the first steps and then drift apart: float32 rounding differs between native and generic
kernels, and where it flips which element of a max-pooling window is largest (upscaled digits
have many near-ties) the gradient changes discretely. The final accuracies agree (0.975-0.978
with the defaults on numpy, torch, array_api_strict, mxnet and mxnet.nd).
"""

from __future__ import annotations

import argparse
import sys
import time

from portconv import data, nn, train


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
    from portconv import get_adapter

    try:
        adapter = get_adapter("mxnet" if backend == "mxnet.nd" else backend)
    except Exception as exc:
        return str(exc)
    return adapter.unavailable_reason()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--backends", default="numpy,torch,mxnet")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    splits = data.load_digits(28)
    print(
        f"modern LeNet on digits: {len(splits.y_train)} training, {len(splits.y_test)} test "
        f"images of 28x28; {args.epochs} epochs, SGD lr {args.lr}, batch size {args.batch_size}, "
        f"Xavier init, seed {args.seed}"
    )
    finals = {}
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        reason = available(backend)
        if reason:
            print(f"\n{backend}: skipped ({reason})")
            continue
        print(f"\n{backend}:")
        start = time.perf_counter()
        history = train.fit(
            lenet_modern(),
            splits,
            epochs=args.epochs,
            lr=args.lr,
            batch_size=args.batch_size,
            backend=backend,
            init="xavier",
            seed=args.seed,
            callback=lambda stats: print("  " + train.format_epoch(stats), flush=True),
        )
        finals[backend] = (history[-1]["test_acc"], time.perf_counter() - start)
    print()
    for backend, (acc, seconds) in finals.items():
        print(f"{backend}: final test accuracy {acc:.3f} ({seconds:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
