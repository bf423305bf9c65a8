"""The book's convolution examples, written once with portconv's public API, run on any backend.

    portconv examples list
    portconv examples run edge-detection --backend torch
    portconv examples run learning-a-kernel --compare numpy,torch,mxnet

Each example prints what the book prints for it. Arrays are printed as NumPy prints them (the
look of the MXNet edition's output, without the ``<NDArray ...>`` line), so the outputs of two
backends can be put side by side; layer summaries print shapes the backend's way
(``torch.Size([...])`` on PyTorch, a tuple elsewhere), as the book does. ``--compare`` runs one
example on several backends, lists those that are unavailable with the reason, shows the
outputs in columns and the largest difference between the numbers they print.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import autograd as ag
from . import models, nn
from ._dispatch import resolve
from .data.loader import to_backend
from .errors import PortconvError
from .ops import conv2d, corr2d, pool2d

__all__ = ["EXAMPLES", "Example", "compare", "configure", "run_example"]


@dataclass(frozen=True)
class Example:
    name: str
    section: str
    help: str
    fn: Callable[[Callable[[Any], Any]], None]


EXAMPLES: dict[str, Example] = {}


def example(name: str, section: str, help: str) -> Callable:
    def wrap(fn: Callable) -> Callable:
        EXAMPLES[name] = Example(name, section, help, fn)
        return fn

    return wrap


def _host(a: Any) -> np.ndarray:
    data = a.data if isinstance(a, ag.Variable) else a
    from ._dispatch import backend_of

    return np.asarray(backend_of(data).adapter.to_numpy(data))


def show(a: Any) -> None:
    """Print an array of any backend as NumPy prints it."""
    print(np.array2string(_host(a), separator=" ", floatmode="maxprec"))


def _shape(a: Any) -> tuple[int, ...]:
    data = a.data if isinstance(a, ag.Variable) else a
    return tuple(int(s) for s in data.shape)


# -- the examples ----------------------------------------------------------------------------------


@example("edge-detection", "5.2.3 / 7.2.3", "X, corr2d(X, K) with K = [[1, -1]], and on X.T")
def edge_detection(array: Callable) -> None:
    host = np.ones((6, 8), np.float32)
    host[:, 2:6] = 0
    X = array(host)
    K = array(np.array([[1.0, -1.0]], np.float32))
    show(X)
    show(corr2d(X, K))
    show(corr2d(X.T, K))


#: the start the conformance suite recovers from the MXNet edition's printed log (5.2.4), so
#: that this example prints the book's ten losses and kernel; Gluon's bias is 0, never updated
KERNEL_START = (0.0143874, 0.0501113)


@example(
    "learning-a-kernel",
    "5.2.4 (MXNet)",
    "learn K = [[1, -1]] from X and Y by gradient descent: 10 batches, lr 3e-2",
)
def learning_a_kernel(array: Callable) -> None:
    host = np.ones((6, 8), np.float32)
    host[:, 2:6] = 0
    X = array(host.reshape(1, 1, 6, 8))
    K = array(np.array([[1.0, -1.0]], np.float32))
    Y = ag.reshape(corr2d(array(host), K), (1, 1, 6, 7))
    W = ag.Variable(array(np.array(KERNEL_START, np.float32).reshape(1, 1, 1, 2)), True)
    for i in range(10):
        Y_hat = ag.conv2d(X, W)
        l = (Y_hat - Y) ** 2  # noqa: E741 (the book's name)
        W.zero_grad()
        ag.sum(l).backward()
        W.data = W.data - 3e-2 * W.grad
        print(f"batch {i + 1}, loss {float(_host(ag.sum(l))):.3f}")
    show(ag.reshape(W, (1, 2)))


@example("padding-and-stride", "5.3 / 7.3", "comp_conv2d's output shapes for an 8 x 8 input")
def padding_and_stride(array: Callable) -> None:
    X = array(np.random.default_rng(0).uniform(size=(1, 1, 8, 8)).astype(np.float32))
    nn.manual_seed(0)
    for conv in (
        nn.Conv2D(1, kernel_size=3, padding=1),
        nn.Conv2D(1, kernel_size=(5, 3), padding=(2, 1)),
        nn.Conv2D(1, kernel_size=3, padding=1, strides=2),
        nn.Conv2D(1, kernel_size=(3, 5), padding=(0, 1), strides=(3, 4)),
    ):
        print(_shape(conv(X))[2:])


@example(
    "channels",
    "5.4 / 7.4",
    "multi-input and multi-input-multi-output cross-correlation; 1 x 1 equals a matmul",
)
def channels(array: Callable) -> None:
    x = np.array([[[0, 1, 2], [3, 4, 5], [6, 7, 8]], [[1, 2, 3], [4, 5, 6], [7, 8, 9]]], np.float32)
    k = np.array([[[0, 1], [2, 3]], [[1, 2], [3, 4]]], np.float32)
    X = array(x)
    show(conv2d(X, array(k[None]))[0, ...])  # corr2d_multi_in: 56 72 / 104 120
    K = np.stack([k, k + 1, k + 2])
    print(K.shape)
    show(conv2d(X, array(K)))  # corr2d_multi_in_out
    rng = np.random.default_rng(35)
    x = rng.normal(0, 1, (3, 3, 3)).astype(np.float32)
    k = rng.normal(0, 1, (2, 3, 1, 1)).astype(np.float32)
    Y1 = (k.reshape(2, 3) @ x.reshape(3, 9)).reshape(2, 3, 3)  # corr2d_multi_in_out_1x1
    Y2 = _host(conv2d(array(x), array(k)))
    print(float(np.abs(Y1 - Y2).sum()) < 1e-6)


@example(
    "pooling",
    "5.5 / 7.5",
    "pool2d max and avg; MaxPool2D with padding and stride, beyond half the window, 2 channels",
)
def pooling(array: Callable) -> None:
    X = array(np.arange(9, dtype=np.float32).reshape(3, 3))
    show(pool2d(X, (2, 2)))
    show(pool2d(X, (2, 2), "avg"))
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    X = array(x)
    show(X)
    show(nn.MaxPool2D(3)(X))
    show(nn.MaxPool2D(3, padding=1, strides=2)(X))
    show(nn.MaxPool2D((2, 3), padding=(1, 2), strides=(2, 3))(X))  # padding beyond half
    X = array(np.concatenate([x, x + 1], axis=1))
    show(nn.MaxPool2D(3, padding=1, strides=2)(X))


def _summary(model: Any, shape: tuple, array: Callable) -> None:
    like = array(np.zeros((1,), np.float32))
    model.layer_summary(shape, like=like)


@example("lenet", "6.6 / 7.6", "LeNet's layer_summary for a 1 x 28 x 28 input")
def lenet(array: Callable) -> None:
    _summary(models.LeNet(), (1, 1, 28, 28), array)


@example(
    "vgg",
    "7.2 / 8.2",
    "VGG-11's output shapes at 224 x 224, by shape_summary (a dry run: no computing)",
)
def vgg(array: Callable) -> None:
    models.shape_summary(models.VGG11(), (1, 1, 224, 224))


@example("resnet", "7.6 / 8.6", "ResNet-18's layer_summary for a 1 x 96 x 96 input")
def resnet(array: Callable) -> None:
    _summary(models.ResNet18(), (1, 1, 96, 96), array)


# -- running and comparing -------------------------------------------------------------------------


def _availability(backend: str) -> str | None:
    """None when ``backend`` can run here, else why not."""
    try:
        adapter, _ = resolve(backend)
    except Exception as exc:  # unknown name, adapter missing
        return str(exc)
    return adapter.unavailable_reason()


def run_example(name: str, backend: str = "numpy", device: Any = None) -> None:
    """Run example ``name`` on ``backend``, printing to standard output."""
    if name not in EXAMPLES:
        raise PortconvError(f"NAME: expected one of {', '.join(EXAMPLES)}, got {name!r}")
    reason = _availability(backend)
    if reason:
        raise PortconvError(f"--backend {backend}: {reason}")
    adapter, _ = resolve(backend)

    def array(host: Any) -> Any:
        return to_backend(np.asarray(host), backend, device)

    with adapter.run_context():
        EXAMPLES[name].fn(array)


_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?inf|nan")


def _numbers(text: str) -> list[float]:
    return [float(t) for t in _NUMBER.findall(text.replace("torch.Size", ""))]


def compare(name: str, backends: list[str], device: Any = None) -> tuple[dict, dict, float | None]:
    """Run example ``name`` on each backend: (outputs by backend, reasons by unavailable or
    failing backend, the largest difference between the numbers the outputs print, None when
    fewer than two outputs or when they print different numbers of numbers)."""
    outputs: dict[str, str] = {}
    problems: dict[str, str] = {}
    for b in backends:
        reason = _availability(b)
        if reason:
            problems[b] = f"unavailable: {reason}"
            continue
        buf = io.StringIO()
        try:
            with contextlib.redirect_stdout(buf):
                run_example(name, b, device)
        except Exception as exc:  # one backend failing must not hide the others
            problems[b] = f"failed: {type(exc).__name__}: {exc}"
            continue
        outputs[b] = buf.getvalue()
    diff = None
    if len(outputs) >= 2:
        ref = _numbers(next(iter(outputs.values())))
        diffs = []
        for text in outputs.values():
            nums = _numbers(text)
            if len(nums) != len(ref):
                diffs = None
                break
            a, b = np.array(ref), np.array(nums)
            same = (a == b) | (np.isnan(a) & np.isnan(b))
            d = np.where(same, 0.0, np.abs(a - b))
            diffs.append(float(d.max()) if d.size else 0.0)
        diff = max(diffs) if diffs is not None else None
    return outputs, problems, diff


def _side_by_side(outputs: dict[str, str], width: int) -> str:
    cols = [[f"[{b}]"] + text.expandtabs(4).splitlines() for b, text in outputs.items()]
    cols = [
        [piece for line in col for piece in (textwrap.wrap(line, width) or [""])] for col in cols
    ]
    height = max(len(c) for c in cols)
    rows = []
    for i in range(height):
        cells = [(c[i] if i < len(c) else "").ljust(width) for c in cols]
        rows.append(" | ".join(cells).rstrip())
    return "\n".join(rows)


# -- the command -----------------------------------------------------------------------------------


def configure(sub: Any) -> None:
    p = sub.add_parser(
        "examples",
        help="run the book's convolution examples on any backend",
        description="The book's convolution examples, written once with portconv, on any "
        "backend; --compare puts several backends side by side.",
    )
    esub = p.add_subparsers(dest="action", metavar="ACTION")
    esub.required = True
    lp = esub.add_parser("list", help="list the examples")
    lp.set_defaults(handler=_run_list)
    rp = esub.add_parser("run", help="run one example")
    rp.add_argument("name", metavar="NAME", help=f"one of: {', '.join(EXAMPLES)}")
    rp.add_argument("--backend", default="numpy", help="the backend to run on (default numpy)")
    rp.add_argument("--device", default=None, help="cpu, cuda, cuda:N or gpu:N")
    rp.add_argument(
        "--compare",
        default=None,
        metavar="B1,B2,...",
        help="run on these backends (and --backend) and show the outputs side by side",
    )
    rp.add_argument("--width", type=int, default=40, help="column width for --compare")
    rp.set_defaults(handler=_run_run)


def _run_list(args: argparse.Namespace) -> int:
    width = max(len(n) for n in EXAMPLES)
    for ex in EXAMPLES.values():
        print(f"{ex.name.ljust(width)}  {ex.section:<14} {ex.help}")
    return 0


def _run_run(args: argparse.Namespace) -> int:
    from .cli import parse_device

    if args.name not in EXAMPLES:
        raise PortconvError(f"NAME: expected one of {', '.join(EXAMPLES)}, got {args.name!r}")
    if args.compare is None:
        reason = _availability(args.backend)
        if reason:
            raise PortconvError(f"--backend {args.backend}: {reason}")
        run_example(args.name, args.backend, parse_device(args.backend, args.device))
        return 0
    backends = [args.backend] + [b.strip() for b in args.compare.split(",") if b.strip()]
    backends = list(dict.fromkeys(backends))
    if args.device is not None:
        raise PortconvError("--device: not with --compare (each backend runs on its default)")
    outputs, problems, diff = compare(args.name, backends)
    ex = EXAMPLES[args.name]
    print(f"{ex.name} ({ex.section}): {ex.help}")
    for b, why in problems.items():
        print(f"  {b}: {why}")
    if outputs:
        print(_side_by_side(outputs, args.width))
    if len(outputs) >= 2:
        names = ", ".join(outputs)
        if diff is None:
            print(f"largest difference ({names}): the outputs print different numbers")
        else:
            print(f"largest difference ({names}): {diff:.3g}")
    failed = [b for b, why in problems.items() if why.startswith("failed")]
    return 1 if failed or not outputs else 0
