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
import contextlib
import importlib
import math
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ._dispatch import backend_names
from .errors import PortconvError

__all__ = ["COMMANDS", "MODELS", "ModelSpec", "build_parser", "main", "register_command"]

DATA = ("digits", "fashion-mnist")  # and the hidden "synthetic" (tests, smoke runs)

#: batch sizes for data sets too small for the book's (digits: 1,438 training images make
#: 6 steps of 256 per epoch; 45 steps of 32 learn in 10 epochs what the book's learn in 235)
DATA_BATCH_SIZE: dict[str, int] = {"digits": 32}


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


@contextlib.contextmanager
def _terminate_cleanly() -> Iterator[None]:
    """SIGTERM (what a scheduler or ``kill`` sends) raises SystemExit in the main thread, so
    the writes under way remove their temporary files on the way out, as on Ctrl-C."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    try:
        previous = signal.signal(signal.SIGTERM, stop)
    except (ValueError, OSError):  # not allowed here (an embedded interpreter)
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _one_line(exc: BaseException) -> str:
    lines = [line for line in str(exc).splitlines() if line.strip()]
    return "\n".join(lines) if lines else type(exc).__name__


def main(argv: list[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); return the exit status:
    0 on success, 2 with a message on stderr (``portconv: error: ...``) for every refused
    option or file, 130 when interrupted."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with _terminate_cleanly():
            return int(args.handler(args) or 0)
    except (PortconvError, ImportError, OSError) as exc:
        return _fail(_one_line(exc))
    except MemoryError:
        return _fail(
            "out of memory; use smaller batches (--batch-size) or inputs (--resize), or a "
            "machine with more memory"
        )
    except KeyboardInterrupt:
        print("portconv: interrupted", file=sys.stderr)
        return 130


# -- portconv train ------------------------------------------------------------------------------


def configure_train(sub: Any) -> None:
    p = sub.add_parser(
        "train",
        help="train one of the book's models",
        description="Train one of the book's models (the book's train_ch6) and print one line "
        "per epoch. Every option is checked before any work starts; a refused option or file "
        "prints one line (portconv: error: ...) and exits with status 2.",
        epilog="Example: portconv train lenet-modern --data digits (offline; reaches a test "
        "accuracy of about 0.97 in 10 epochs).",
    )
    p.add_argument("model", metavar="MODEL", help=f"one of: {', '.join(MODELS)}")
    p.add_argument(
        "--backend",
        default="numpy",
        help=f"the array library to train with: {' | '.join(backend_names())} (default numpy)",
    )
    p.add_argument(
        "--device",
        default=None,
        help="cpu, cuda, cuda:N or gpu:N, read by the backend (default: its default device); "
        "a device this build or machine lacks is refused before any work",
    )
    p.add_argument(
        "--data",
        default="fashion-mnist",
        help="fashion-mnist (the book's; 60,000 images, downloaded once and verified) or "
        "digits (scikit-learn's 1,797 digits upscaled to 28x28; offline) (default "
        "fashion-mnist)",
    )
    p.add_argument(
        "--data-dir",
        default=None,
        metavar="DIR",
        help="where data sets are cached (default $PORTCONV_DATA or ~/.cache/portconv)",
    )
    p.add_argument(
        "--mirror",
        action="append",
        default=None,
        metavar="URL|DIR",
        help="where to download fashion-mnist from instead of its default mirrors: a URL base "
        "or a local directory holding the four files; repeat to try several in order",
    )
    p.add_argument("--offline", action="store_true", help="never download (fashion-mnist)")
    p.add_argument("--epochs", type=int, default=10, help="epochs to train (default 10)")
    p.add_argument(
        "--lr", type=float, default=None, help="learning rate (default: the book's for MODEL)"
    )
    p.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="examples per step (default: 32 on digits, else the book's for MODEL)",
    )
    p.add_argument(
        "--optimizer",
        choices=("sgd", "adam"),
        default="sgd",
        help="sgd (the book's) or adam (default sgd)",
    )
    p.add_argument(
        "--init",
        choices=("xavier", "torch", "gluon", "model"),
        default="xavier",
        help="parameter initialisation: xavier (the book's train_ch6, the default), torch "
        "or gluon (those frameworks' defaults), model (the model's own)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the initial parameters, the batch order and dropout (a non-negative "
        "int; default 0)",
    )
    p.add_argument(
        "--dtype",
        choices=("float32", "float64"),
        default="float32",
        help="the floating-point dtype of the parameters, batches and loss (default float32; "
        "float64 gives the same curve on every backend)",
    )
    p.add_argument(
        "--resize",
        type=int,
        default=None,
        metavar="N",
        help="resize the images to NxN, batch by batch (default: MODEL's input size)",
    )
    p.add_argument(
        "--checkpoint",
        default=None,
        metavar="PATH",
        help="save everything needed to resume to this .npz after every epoch (written atomically)",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue from --checkpoint if it exists (if not, say so and start from epoch "
        "1, as Keras' BackupAndRestore does); a damaged or foreign checkpoint is refused",
    )
    p.add_argument("--plot", default=None, metavar="PNG", help="draw the curves to this file")
    bar = p.add_mutually_exclusive_group()
    bar.add_argument(
        "--progress",
        dest="progress",
        action="store_true",
        default=None,
        help="show a progress bar over each epoch (default: when stderr is a terminal)",
    )
    bar.add_argument("--no-progress", dest="progress", action="store_false", help="never show one")
    p.set_defaults(handler=run_train)


def _renamed(exc: PortconvError, option: str) -> PortconvError:
    """``exc`` with its leading argument name replaced by the option's (``--device: ...``)."""
    text = str(exc)
    head, sep, rest = text.partition(": ")
    return type(exc)(f"{option}: {rest}" if sep and " " not in head else f"{option}: {text}")


def parse_device(backend: str, text: str | None) -> Any:
    """A device string (``cpu``, ``cuda``, ``cuda:1``, ``gpu:0``) as ``backend``'s device
    object, read by the backend's adapter (:meth:`Adapter.parse_device`); None: the
    backend's default. Errors name ``--device``."""
    from .convert import target_adapter

    try:
        return target_adapter(backend, "--backend").parse_device(text)
    except PortconvError as exc:
        raise _renamed(exc, "--device") from None


def _load_data(args: argparse.Namespace) -> Any:
    from . import data

    if args.data == "digits":
        return data.load_digits(28)
    if args.data == "fashion-mnist":
        try:
            return data.load_fashion_mnist(
                args.data_dir, download=not args.offline, mirrors=args.mirror
            )
        except data.DataNotFoundError as exc:
            raise PortconvError(f"{exc}\n(or train offline on --data digits)") from None
    if args.data == "synthetic":  # hidden: tests and smoke runs
        return data.make_synthetic(96, 48, 28, seed=args.seed)
    raise PortconvError(f"--data: expected one of {', '.join(DATA)}, got {args.data!r}")


@dataclass
class _Plan:
    """The checked options of one ``portconv train`` run."""

    spec: ModelSpec
    device: Any
    size: int | None
    batch_size: int
    lr: float
    resume_from: dict | None


def _check_options(args: argparse.Namespace) -> _Plan:
    """Every option of ``portconv train``, checked before any work (no data is loaded, no
    model built): an error names the option."""
    from . import data as _data
    from . import train as _train
    from ._files import check_writable
    from .data.loader import check_resize, check_seed, positive_int

    if args.model not in MODELS:
        raise PortconvError(f"MODEL: expected one of {', '.join(MODELS)}, got {args.model!r}")
    spec = MODELS[args.model]
    if args.backend not in backend_names():
        raise PortconvError(
            f"--backend: expected one of {', '.join(backend_names())}, got {args.backend!r}"
        )
    from .convert import target_adapter

    try:
        target_adapter(args.backend, "--backend")
    except PortconvError as exc:
        raise PortconvError(f"--backend {args.backend}: {str(exc).partition(': ')[2]}") from None
    device = parse_device(args.backend, args.device)
    if args.data not in DATA and args.data != "synthetic":
        raise PortconvError(f"--data: expected one of {', '.join(DATA)}, got {args.data!r}")
    data_dir = args.data_dir
    if data_dir is not None and os.path.exists(data_dir) and not os.path.isdir(data_dir):
        raise PortconvError(f"--data-dir: {data_dir} is not a directory")
    if args.mirror is not None:
        if args.data != "fashion-mnist":
            raise PortconvError("--mirror: only --data fashion-mnist is downloaded")
        if args.offline:
            raise PortconvError("--mirror: not with --offline (which never downloads)")
        _data.check_mirrors(args.mirror)
    _checked(positive_int, args.epochs, "--epochs")
    _checked(check_seed, args.seed, "--seed")
    if args.lr is not None and not (math.isfinite(args.lr) and args.lr > 0):
        raise PortconvError(f"--lr: expected a positive finite number, got {args.lr}")
    lr = args.lr if args.lr is not None else spec.lr
    default_batch = DATA_BATCH_SIZE.get(args.data, spec.batch_size)
    batch_size = default_batch if args.batch_size is None else args.batch_size
    batch_size = _checked(positive_int, batch_size, "--batch-size")
    size = spec.resize if args.resize is None else args.resize
    if size is not None:
        size = _checked(positive_int, size, "--resize")
        _checked(check_resize, size, "--resize", batch_size=batch_size, example=(1, 28, 28))
    if args.resume and not args.checkpoint:
        raise PortconvError("--resume needs --checkpoint PATH")
    resume_from = None
    if args.checkpoint:
        _checked(check_writable, args.checkpoint, "--checkpoint")
        if args.resume and os.path.exists(args.checkpoint):
            resume_from = _checked(
                lambda path, _: _train.checkpoint_info(path), args.checkpoint, "--checkpoint"
            )
    if args.plot:  # fail now, not after an hour of training
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise ImportError(
                '--plot needs matplotlib: pip install "portconv[plot]" (or matplotlib)'
            ) from None
        _checked(check_writable, args.plot, "--plot")
    return _Plan(spec, device, size, batch_size, lr, resume_from)


def _checked(check: Callable, value: Any, option: str, **kwargs: Any) -> Any:
    """``check(value, option, **kwargs)``, its errors naming the option."""
    try:
        return check(value, option, **kwargs)
    except PortconvError as exc:
        if str(exc).startswith(f"{option}: "):
            raise
        raise _renamed(exc, option) from None


def run_train(args: argparse.Namespace) -> int:
    from . import data as _data
    from . import train as _train

    plan = _check_options(args)
    model = plan.spec.build(args.model)
    if plan.resume_from is not None and plan.resume_from["model"] != type(model).__name__:
        raise PortconvError(
            f"--checkpoint: {args.checkpoint} was written by a {plan.resume_from['model']} "
            f"model, not {args.model} ({type(model).__name__}); use another --checkpoint "
            f"or the model that wrote it"
        )
    splits = _load_data(args)
    loaders = [
        _data.batches(
            X,
            y,
            plan.batch_size,
            shuffle,
            args.seed,
            args.backend,
            plan.device,
            resize=plan.size,
            dtype=args.dtype,
        )
        for X, y, shuffle in (
            (splits.X_train, splits.y_train, True),
            (splits.X_test, splits.y_test, False),
        )
    ]
    progress = sys.stderr.isatty() if args.progress is None else args.progress
    size = plan.size
    print(
        f"training {args.model} on {args.data} ({len(splits.y_train)} training, "
        f"{len(splits.y_test)} test examples{f', resized to {size}x{size}' if size else ''}) "
        f"with {args.backend}: {args.epochs} epochs, lr {plan.lr}, batch size "
        f"{plan.batch_size}, {args.optimizer}, {args.dtype}, init {args.init}",
        flush=True,
    )

    ran = []

    def report(stats: dict) -> None:
        ran.append(stats["epoch"])
        print(_train.format_epoch(stats), flush=True)

    if plan.resume_from is not None:
        print(
            f"resuming from {args.checkpoint} ({plan.resume_from['epoch']} epochs done)",
            flush=True,
        )
    elif args.resume:
        print(
            f"portconv: --resume: no checkpoint at {args.checkpoint} yet; training starts at "
            f"epoch 1 and saves it there after every epoch",
            file=sys.stderr,
            flush=True,
        )
    history = _train.fit(
        model,
        loaders[0],
        loaders[1],
        epochs=args.epochs,
        lr=plan.lr,
        optimizer=args.optimizer,
        init=None if args.init == "model" else args.init,
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
