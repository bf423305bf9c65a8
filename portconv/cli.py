"""The ``portconv`` command (also ``python -m portconv``).

    portconv train lenet --backend torch --data fashion-mnist --epochs 10 --lr 0.9 --init xavier
    portconv train bn-lenet --backend mxnet --data digits --plot curves.png

Subcommands are registered in :data:`COMMANDS` (name -> ``"module:function"`` or a function
that receives the subparsers object, adds its parser and sets ``handler=`` on it with
``set_defaults``); :func:`register_command` adds one at run time. A handler takes the parsed
arguments and returns the exit status.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import PortconvError

__all__ = ["COMMANDS", "MODELS", "ModelSpec", "build_parser", "main", "register_command"]

BACKENDS = ("numpy", "torch", "mxnet", "mxnet.nd", "cupy", "array_api_strict", "dask", "jax")
DATA = ("digits", "fashion-mnist")  # and the hidden "synthetic" (tests, smoke runs)


@dataclass(frozen=True)
class ModelSpec:
    """How ``portconv train NAME`` builds a model: ``attr``, a class of
    :mod:`portconv.models` (or ``factory``, any callable returning a Module), its
    constructor's keyword arguments, the input size it needs (``resize``; None: the data's
    28x28), and the book's learning rate and batch size for it."""

    attr: str | None = None
    kwargs: dict = field(default_factory=dict)
    resize: int | None = None
    lr: float = 0.1
    batch_size: int = 256
    factory: Callable[[], Any] | None = None
    help: str = ""

    def build(self, name: str) -> Any:
        if self.factory is not None:
            return self.factory(**self.kwargs)
        try:
            models = importlib.import_module("portconv.models")
        except ImportError as exc:
            raise PortconvError(
                f"model {name!r}: portconv.models cannot be imported here ({exc})"
            ) from None
        cls = getattr(models, self.attr, None)
        if cls is None:
            raise PortconvError(f"model {name!r}: portconv.models has no {self.attr}")
        return cls(**self.kwargs)


#: the book's models by command-line name (learning rates and batch sizes of its
#: ``train_ch6`` runs; the larger models need larger inputs, resized from 28x28)
MODELS: dict[str, ModelSpec] = {
    "lenet": ModelSpec("LeNet", lr=0.9, help="LeNet-5 with sigmoid and average pooling (7.6)"),
    "lenet-modern": ModelSpec("LeNetModern", lr=0.1, help="LeNet with ReLU and max pooling"),
    "bn-lenet": ModelSpec("BNLeNet", lr=1.0, help="LeNet with batch normalisation (8.5)"),
    "alexnet": ModelSpec("AlexNet", resize=224, lr=0.01, batch_size=128),
    "vgg": ModelSpec("VGG", resize=224, lr=0.05, batch_size=128),
    "nin": ModelSpec("NiN", resize=224, lr=0.1, batch_size=128),
    "googlenet": ModelSpec("GoogLeNet", resize=96, lr=0.1, batch_size=128),
    "resnet18": ModelSpec("ResNet18", resize=96, lr=0.05, batch_size=256),
    "densenet": ModelSpec("DenseNet", resize=96, lr=0.1, batch_size=256),
}

#: subcommand name -> "module:function" (imported when the parser is built) or the function
COMMANDS: dict[str, str | Callable[[Any], None]] = {
    "train": "portconv.cli:configure_train",
    "bench": "portconv.bench:configure",
    "examples": "portconv.examples:configure",
}


def register_command(name: str, configure: str | Callable[[Any], None]) -> None:
    """Add a subcommand: ``configure(subparsers)`` adds its parser and sets ``handler``."""
    COMMANDS[name] = configure


register_command("conformance", "portconv.conformance.run:configure")


def _resolve(target: str | Callable) -> Callable:
    if callable(target):
        return target
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="portconv",
        description="The convolution chapters of Dive into Deep Learning on any array library.",
    )
    from . import __version__

    parser.add_argument("--version", action="version", version=f"portconv {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in sorted(COMMANDS):
        try:
            _resolve(COMMANDS[name])(sub)
        except ImportError as exc:  # a broken optional command must not break the others
            p = sub.add_parser(name, help=f"(unavailable: {exc})")
            p.set_defaults(handler=lambda args, exc=exc: _fail(f"{args.command}: {exc}"))
    return parser


def _fail(message: str) -> int:
    print(f"portconv: error: {message}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except (PortconvError, ImportError, OSError) as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        print("portconv: interrupted", file=sys.stderr)
        return 130


# -- portconv train ------------------------------------------------------------------------------


def configure_train(sub: Any) -> None:
    p = sub.add_parser(
        "train",
        help="train one of the book's models",
        description="Train one of the book's models (the book's train_ch6) and print one line "
        "per epoch.",
    )
    p.add_argument("model", metavar="MODEL", help=f"one of: {', '.join(MODELS)}")
    p.add_argument("--backend", default="numpy", help=f"{' | '.join(BACKENDS)} (default numpy)")
    p.add_argument(
        "--device",
        default=None,
        help="cpu, cuda, cuda:N or gpu:N (default: the backend's default device)",
    )
    p.add_argument(
        "--data",
        default="fashion-mnist",
        help="fashion-mnist (the book's; downloaded once) or digits (scikit-learn's, offline)",
    )
    p.add_argument(
        "--data-dir",
        default=None,
        help="where data sets are cached (default $PORTCONV_DATA or ~/.cache/portconv)",
    )
    p.add_argument("--offline", action="store_true", help="never download")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--lr", type=float, default=None, help="default: the book's for MODEL")
    p.add_argument("--batch-size", type=int, default=None, help="default: the book's for MODEL")
    p.add_argument("--optimizer", choices=("sgd", "adam"), default="sgd")
    p.add_argument(
        "--init",
        choices=("xavier", "torch", "gluon"),
        default=None,
        help="parameter initialisation (xavier: the book's train_ch6; default: the model's)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--dtype",
        choices=("float32", "float64"),
        default="float32",
        help="the floating-point dtype of the parameters, batches and loss (default float32; "
        "float64 gives the same curve on every backend)",
    )
    p.add_argument("--resize", type=int, default=None, help="input size (default: MODEL's)")
    p.add_argument("--checkpoint", default=None, help="save after every epoch to this .npz")
    p.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    p.add_argument("--plot", default=None, metavar="PNG", help="draw the curves to this file")
    bar = p.add_mutually_exclusive_group()
    bar.add_argument("--progress", dest="progress", action="store_true", default=None)
    bar.add_argument("--no-progress", dest="progress", action="store_false")
    p.set_defaults(handler=run_train)


def parse_device(backend: str, text: str | None) -> Any:
    """A device string (``cpu``, ``cuda``, ``cuda:1``, ``gpu:0``) as ``backend``'s device
    object; None: the backend's default."""
    if text is None:
        return None
    kind, _, index = text.lower().partition(":")
    if kind not in ("cpu", "cuda", "gpu") or (index and not index.isdigit()):
        raise PortconvError(f"--device: expected cpu, cuda, cuda:N or gpu:N, got {text!r}")
    i = int(index or 0)
    gpu = kind != "cpu"
    if backend == "torch":
        import torch

        return torch.device(f"cuda:{i}") if gpu else torch.device("cpu")
    if backend in ("mxnet", "mxnet.nd"):
        import mxnet as mx

        return mx.gpu(i) if gpu else mx.cpu()
    if backend == "cupy":
        import cupy

        if not gpu:
            raise PortconvError("--device: CuPy arrays live on CUDA devices only")
        return cupy.cuda.Device(i)
    from ._dispatch import resolve

    named = resolve(backend)[0].named_device("gpu" if gpu else "cpu", i)
    if named is not None:  # the adapter knows its devices (JAX)
        return named
    if gpu:
        raise PortconvError(f"--device: the {backend} backend runs on the CPU only")
    return None


def _load_data(args: argparse.Namespace) -> Any:
    from . import data

    if args.data == "digits":
        return data.load_digits(28)
    if args.data == "fashion-mnist":
        try:
            return data.load_fashion_mnist(args.data_dir, download=not args.offline)
        except data.DataNotFoundError as exc:
            raise PortconvError(f"{exc}\n(or train offline on --data digits)") from None
    if args.data == "synthetic":  # hidden: tests and smoke runs
        return data.make_synthetic(96, 48, 28, seed=args.seed)
    raise PortconvError(f"--data: expected one of {', '.join(DATA)}, got {args.data!r}")


def run_train(args: argparse.Namespace) -> int:
    from . import data as _data
    from . import train as _train

    if args.model not in MODELS:
        raise PortconvError(f"MODEL: expected one of {', '.join(MODELS)}, got {args.model!r}")
    if args.backend not in BACKENDS:
        from ._dispatch import adapters

        if args.backend not in adapters():
            raise PortconvError(
                f"--backend: expected one of {', '.join(BACKENDS)}, got {args.backend!r}"
            )
    if args.resume and not args.checkpoint:
        raise PortconvError("--resume needs --checkpoint PATH")
    if args.plot:  # fail now, not after an hour of training
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise ImportError(
                '--plot needs matplotlib: pip install "portconv[plot]" (or matplotlib)'
            ) from None
    from ._dispatch import get_adapter

    adapter = get_adapter("mxnet" if args.backend == "mxnet.nd" else args.backend)
    reason = adapter.unavailable_reason()
    if reason:
        raise PortconvError(f"--backend {args.backend}: {reason}")

    spec = MODELS[args.model]
    model = spec.build(args.model)
    splits = _load_data(args)
    device = parse_device(args.backend, args.device)
    size = args.resize or spec.resize
    batch_size = args.batch_size or spec.batch_size
    lr = args.lr if args.lr is not None else spec.lr
    train_iter = _data.batches(
        splits.X_train,
        splits.y_train,
        batch_size,
        True,
        args.seed,
        args.backend,
        device,
        resize=size,
        dtype=args.dtype,
    )
    test_iter = _data.batches(
        splits.X_test,
        splits.y_test,
        batch_size,
        False,
        args.seed,
        args.backend,
        device,
        resize=size,
        dtype=args.dtype,
    )
    progress = sys.stderr.isatty() if args.progress is None else args.progress
    print(
        f"training {args.model} on {args.data} ({len(splits.y_train)} training, "
        f"{len(splits.y_test)} test examples{f', resized to {size}x{size}' if size else ''}) "
        f"with {args.backend}: {args.epochs} epochs, lr {lr}, batch size {batch_size}, "
        f"{args.optimizer}, {args.dtype}",
        flush=True,
    )

    ran = []

    def report(stats: dict) -> None:
        ran.append(stats["epoch"])
        print(_train.format_epoch(stats), flush=True)

    if args.resume and args.checkpoint and os.path.exists(args.checkpoint):
        print(f"resuming from {args.checkpoint}", flush=True)
    history = _train.fit(
        model,
        train_iter,
        test_iter,
        epochs=args.epochs,
        lr=lr,
        optimizer=args.optimizer,
        init=args.init,
        seed=args.seed,
        checkpoint=args.checkpoint,
        resume=args.resume,
        callback=report,
        progress=progress,
        dtype=args.dtype,
    )
    if history and not ran:
        print(f"{args.checkpoint} already holds {history[-1]['epoch']} epochs; the last:")
        print(_train.format_epoch(history[-1]))
    if args.plot:
        _train.plot_history(
            history, args.plot, title=f"{args.model} on {args.data}, {args.backend}"
        )
        print(f"curves written to {args.plot}")
    return 0
