"""``portconv bench``: portconv's convolution, pooling and training workloads, timed on every
installed backend and path, with the ratios the project sets goals for (:func:`ratios`; the
documentation's Performance page, docs/user-guide/performance.md, says where each goal comes
from).

    portconv bench                              # everything installed here
    portconv bench --quick --only W1,P2         # a smoke run (fewer repeats, smaller N)
    portconv bench --json bench-results/bench.json
    python3 -m nox -s bench

Paths timed per backend: ``generic`` (the array API im2col / shift-and-reduce path, forced
with ``path="generic"``), ``native`` (portconv's dispatch to the backend's own kernel,
``path="native"``), ``direct`` (the framework called directly: ``torch.nn.functional`` or
``mx.npx``, no portconv in between), ``loop`` (the textbook's corr2d Python loop, on W1 and on
one channel pair of W2) and ``matmul`` (a large float32 matmul: the machine's reference).
Each cell is warmed up once and then timed ``repeats`` times; the median is reported.

End to end, against the same network in plain PyTorch (``torch.nn``, parameters copied from
portconv's model, so the layer shapes are checked to be equal): E1, one training epoch of
modern LeNet (60,000 28x28 images, batch 256, SGD, cross-entropy) extrapolated from
``--epoch-batches`` timed steps (default 40 of 235, said so in the output), and E2, the
book's ResNet-18 inference (N=32, 1x96x96, eval mode, no gradients).

Timings are wall-clock medians on whatever else the machine is doing: compare ratios taken
in one run, side by side, not absolute figures across runs.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "END_TO_END",
    "WORKLOADS",
    "configure",
    "lenet_epoch",
    "main",
    "resnet_inference",
    "run_bench",
]


@dataclass(frozen=True)
class Workload:
    name: str
    kind: str  # "conv", "max_pool", "avg_pool"
    n: int
    c_in: int
    c_out: int
    size: tuple[int, int]
    kernel: tuple[int, int]
    stride: int = 1
    padding: int = 0
    quick_n: int = 0
    help: str = ""

    def out(self) -> tuple[int, int]:
        return tuple(
            (s + 2 * self.padding - k) // self.stride + 1 for s, k in zip(self.size, self.kernel)
        )

    def flops(self, n: int) -> float:
        """2*N*Cout*Cin*kh*kw*Ho*Wo for conv (groups 1); one op per window element for pooling."""
        ho, wo = self.out()
        kk = self.kernel[0] * self.kernel[1]
        if self.kind == "conv":
            return 2.0 * n * self.c_out * self.c_in * kk * ho * wo
        return float(n * self.c_in * kk * ho * wo)


WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in (
        Workload("W1", "conv", 1, 1, 1, (6, 8), (1, 2), quick_n=1, help="the book's 6x8 edge"),
        Workload("W2", "conv", 256, 1, 6, (28, 28), (5, 5), 1, 2, 32, "LeNet conv1"),
        Workload("W3", "conv", 256, 6, 16, (14, 14), (5, 5), quick_n=32, help="LeNet conv2"),
        Workload("W4", "conv", 32, 64, 64, (56, 56), (3, 3), 1, 1, 4, "ResNet-18 3x3"),
        Workload("W5", "conv", 32, 128, 256, (28, 28), (3, 3), 2, 1, 4, "ResNet-18 stride 2"),
        Workload("W6", "conv", 8, 128, 128, (56, 56), (3, 3), 1, 1, 2, "VGG 3x3"),
        Workload("W7", "conv", 32, 256, 64, (28, 28), (1, 1), quick_n=4, help="1x1"),
        Workload("P1", "max_pool", 32, 64, 64, (112, 112), (3, 3), 2, 1, 4, "max 3x3 s2 p1"),
        Workload("P2", "avg_pool", 256, 6, 6, (28, 28), (2, 2), 2, 0, 32, "avg 2x2 s2"),
    )
}


# -- backends -----------------------------------------------------------------------------------


@dataclass
class Lib:
    """One backend as the benchmark uses it: how to make its arrays and wait for them."""

    name: str
    device: str
    asarray: Any = None
    sync: Any = None
    module: Any = None
    reason: str = ""  # non-empty: skipped, and why

    def ready(self, y: Any) -> Any:
        if self.sync is not None:
            self.sync(y)
        return y


def _cuda_reason() -> str:
    if shutil.which("nvidia-smi") is None:
        return "no CUDA device (nvidia-smi not found)"
    return ""


def _libs() -> list[Lib]:
    libs = [Lib("numpy", "cpu", np.asarray, None, np)]
    try:
        import torch

        libs.append(Lib("torch", "cpu", torch.from_numpy, None, torch))
        if torch.cuda.is_available():
            dev = torch.device("cuda")

            def tsync(_y: Any) -> None:
                torch.cuda.synchronize()

            libs.append(Lib("torch", "cuda", lambda a: torch.from_numpy(a).to(dev), tsync, torch))
        else:
            libs.append(Lib("torch", "cuda", reason="no CUDA device"))
    except ImportError as exc:
        libs.append(Lib("torch", "cpu", reason=f"not installed ({exc})"))
    try:
        os.environ.setdefault("PYTHONWARNINGS", "ignore::DeprecationWarning")
        import mxnet as mx

        def msync(y: Any) -> None:
            y.wait_to_read()

        libs.append(Lib("mxnet", "cpu", lambda a: mx.np.array(a, dtype=a.dtype), msync, mx))
    except ImportError as exc:
        libs.append(Lib("mxnet", "cpu", reason=f"not installed ({exc})"))
    try:
        import array_api_strict as strict

        libs.append(Lib("array_api_strict", "cpu", strict.asarray, None, strict))
    except ImportError as exc:
        libs.append(Lib("array_api_strict", "cpu", reason=f"not installed ({exc})"))
    try:
        import cupy

        try:
            count = cupy.cuda.runtime.getDeviceCount()
        except Exception:  # noqa: BLE001 - no driver, no device
            count = 0
        if count:
            libs.append(
                Lib(
                    "cupy",
                    "cuda",
                    cupy.asarray,
                    lambda _y: cupy.cuda.Device().synchronize(),
                    cupy,
                )
            )
        else:
            libs.append(Lib("cupy", "cuda", reason="no CUDA device"))
    except ImportError as exc:
        reason = _cuda_reason() or f"not installed ({exc})"
        libs.append(Lib("cupy", "cuda", reason=reason))
    try:
        import jax

        def jsync(y: Any) -> None:
            jax.block_until_ready(y)  # JAX dispatches asynchronously

        def on(device: Any) -> Any:
            return lambda a: jax.device_put(a, device)

        libs.append(Lib("jax", "cpu", on(jax.devices("cpu")[0]), jsync, jax))
        gpus = [d for d in jax.devices() if d.platform == "gpu"]
        if gpus:
            libs.append(Lib("jax", "cuda", on(gpus[0]), jsync, jax))
    except ImportError as exc:
        libs.append(Lib("jax", "cpu", reason=f"not installed ({exc})"))
    return libs


# -- timing -------------------------------------------------------------------------------------


def _time(fn: Any, repeats: int, budget_s: float) -> list[float]:
    """Warm up once, then up to ``repeats`` timed calls (fewer once ``budget_s`` is spent,
    but at least one)."""
    fn()
    times: list[float] = []
    start = time.perf_counter()
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        if time.perf_counter() - start > budget_s:
            break
    return times


def _inputs(w: Workload, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray | None]:
    rng = np.random.default_rng(seed)
    if w.name == "W1":
        x = np.ones((1, 1, 6, 8), np.float32)
        x[..., 2:6] = 0
        return x, np.array([[[[1.0, -1.0]]]], np.float32)
    x = rng.standard_normal((n, w.c_in) + w.size, dtype=np.float32)
    if w.kind != "conv":
        return x, None
    k = rng.standard_normal((w.c_out, w.c_in) + w.kernel, dtype=np.float32)
    return x, k * np.float32(1.0 / np.sqrt(w.c_in * w.kernel[0] * w.kernel[1]))


def corr2d_loop(xp_zeros: Any, X: Any, K: Any) -> Any:
    """The textbook's two-dimensional cross-correlation, a Python loop over outputs (5.2.1)."""
    h, w = K.shape
    Y = xp_zeros((X.shape[0] - h + 1, X.shape[1] - w + 1))
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i : i + h, j : j + w] * K).sum()
    return Y


#: the generic path compiled as one XLA program (jax only): how close XLA's fusion of the
#: im2col gets to the native kernel
JIT_PATH = "generic (jax.jit)"


def _op(w: Workload, lib: Lib, path: str, x: Any, k: Any) -> Any:
    """A zero-argument callable computing workload ``w`` on ``lib`` by ``path`` (or a str:
    why this cell does not exist)."""
    import portconv as pc

    s, p = w.stride, w.padding
    if path in ("generic", "native"):
        if w.kind == "conv":
            return lambda: lib.ready(pc.conv2d(x, k, None, s, p, path=path))
        if w.kind == "max_pool":
            return lambda: lib.ready(pc.max_pool2d(x, w.kernel, s, p, path=path))
        return lambda: lib.ready(pc.avg_pool2d(x, w.kernel, s, p, path=path))
    if path == "direct":
        if lib.name == "torch":
            F = lib.module.nn.functional
            if w.kind == "conv":
                return lambda: lib.ready(F.conv2d(x, k, None, s, p))
            if w.kind == "max_pool":
                return lambda: lib.ready(F.max_pool2d(x, w.kernel, s, p))
            return lambda: lib.ready(F.avg_pool2d(x, w.kernel, s, p))
        if lib.name == "mxnet":
            npx = lib.module.npx
            if w.kind == "conv":
                return lambda: lib.ready(
                    npx.convolution(
                        x,
                        k,
                        None,
                        kernel=w.kernel,
                        stride=(s, s),
                        pad=(p, p),
                        num_filter=w.c_out,
                        no_bias=True,
                    )
                )
            kind = "max" if w.kind == "max_pool" else "avg"
            return lambda: lib.ready(
                npx.pooling(x, kernel=w.kernel, stride=(s, s), pad=(p, p), pool_type=kind)
            )
        if lib.name == "jax":
            lax = lib.module.lax
            if w.kind == "conv":
                pads = ((p, p), (p, p))
                return lambda: lib.ready(lax.conv_general_dilated(x, k, (s, s), pads))
            window = dict(
                window_dimensions=(1, 1) + w.kernel,
                window_strides=(1, 1, s, s),
                padding=((0, 0), (0, 0), (p, p), (p, p)),
            )
            if w.kind == "max_pool":
                lowest = np.array(-np.inf, np.float32)
                return lambda: lib.ready(lax.reduce_window(x, lowest, lax.max, **window))
            zero, count = np.array(0.0, np.float32), w.kernel[0] * w.kernel[1]
            return lambda: lib.ready(lax.reduce_window(x, zero, lax.add, **window) / count)
        return f"{lib.name} has no framework kernel to call directly"
    if path == JIT_PATH:
        if lib.name != "jax":
            return "jax.jit compiles jax arrays only"
        if w.kind == "conv":
            conv = lib.module.jit(lambda x, k: pc.conv2d(x, k, None, s, p, path="generic"))
            return lambda: lib.ready(conv(x, k))
        pool = pc.max_pool2d if w.kind == "max_pool" else pc.avg_pool2d
        compiled = lib.module.jit(lambda x: pool(x, w.kernel, s, p, path="generic"))
        return lambda: lib.ready(compiled(x))
    if path == "loop":
        if lib.name not in ("numpy", "torch") or w.name not in ("W1", "W2"):
            return "the textbook loop runs on W1 and W2 with numpy and torch only"
        mod = lib.module
        if w.name == "W1":
            X2, K2 = x[0, 0], k[0, 0]
        else:  # one channel pair: the padded first image, the first filter
            xn = np.pad(np.asarray(_to_numpy(x[0, 0])), p)
            X2, K2 = lib.asarray(xn), k[0, 0]

        def zeros(shape):
            return mod.zeros(shape, dtype=mod.float32)

        return lambda: corr2d_loop(zeros, X2, K2)
    raise ValueError(path)


def _to_numpy(a: Any) -> np.ndarray:
    if hasattr(a, "asnumpy"):  # MXNet (whose arrays have a detach() too)
        return a.asnumpy()
    if hasattr(a, "detach"):
        return a.detach().cpu().numpy()
    return np.asarray(a)


def _row(**kw: Any) -> dict:
    row = {
        "workload": None,
        "backend": None,
        "device": None,
        "path": None,
        "n": None,
        "status": "ok",
        "reason": "",
        "median_s": None,
        "times_s": [],
        "gflops": None,
    }
    row.update(kw)
    return row


def _bench_cell(w: Workload, lib: Lib, path: str, n: int, repeats: int, budget: float) -> dict:
    base = dict(workload=w.name, backend=lib.name, device=lib.device, path=path, n=n)
    if lib.reason:
        return _row(**base, status="skipped", reason=lib.reason)
    import portconv as pc

    xn, kn = _inputs(w, n)
    x = lib.asarray(xn)
    k = None if kn is None else lib.asarray(kn)
    fn = _op(w, lib, path, x, k)
    if isinstance(fn, str):
        return _row(**base, status="skipped", reason=fn)
    inner = 1
    if w.name == "W1" and path != "loop":  # microseconds: time 100 calls per sample
        inner, one = 100, fn

        def fn():
            for _ in range(100):
                one()

    try:
        times = [t / inner for t in _time(fn, repeats, budget)]
    except pc.ArgumentError as exc:
        why = str(exc).split(";")[0].split(" for ")[0]
        return _row(**base, status="skipped", reason=why.removeprefix("path: "))
    except Exception as exc:  # noqa: BLE001 - report, keep going
        return _row(**base, status="error", reason=f"{type(exc).__name__}: {exc}"[:300])
    med = statistics.median(times)
    if path == "loop":
        ho, wo = w.out() if w.name == "W1" else w.size  # W2 with pad 2 keeps 28x28
        flops = 2.0 * ho * wo * w.kernel[0] * w.kernel[1]
        base["n"] = 1
    else:
        flops = w.flops(n)
    return _row(**base, median_s=med, times_s=times, gflops=flops / med / 1e9)


def _fwd_bwd(lib: Lib, n: int, repeats: int, budget: float) -> list[dict]:
    """Forward and backward (input and weight gradients of sum(conv)) on W4: portconv's
    autograd (generic on NumPy; native forward and backward on torch tensors) and torch's own
    autograd."""
    w = WORKLOADS["W4"]
    base = dict(workload="W4-fwd+bwd", backend=lib.name, device=lib.device, n=n)
    if lib.reason:
        return [_row(**base, path="-", status="skipped", reason=lib.reason)]
    if lib.name not in ("numpy", "torch") or lib.device != "cpu":
        return [_row(**base, path="-", status="skipped", reason="measured on numpy and torch cpu")]
    xn, kn = _inputs(w, n)
    import portconv as pc

    ag = pc.autograd

    def portconv_fn(to, path):
        def fn():
            X = ag.Variable(to(xn), requires_grad=True)
            K = ag.Variable(to(kn), requires_grad=True)
            ag.conv2d(X, K, None, 1, 1, path=path).sum().backward()
            return X.grad, K.grad

        return fn

    cells = []
    if lib.name == "numpy":
        cells.append(("generic (portconv.autograd)", portconv_fn(np.asarray, "generic")))
    else:
        torch = lib.module
        cells.append(("native (portconv.autograd)", portconv_fn(torch.from_numpy, "auto")))

        def direct():
            X = torch.from_numpy(xn).requires_grad_(True)
            K = torch.from_numpy(kn).requires_grad_(True)
            torch.nn.functional.conv2d(X, K, None, 1, 1).sum().backward()
            return X.grad, K.grad

        cells.append(("direct (torch autograd)", direct))
    rows = []
    for path, fn in cells:
        times = _time(fn, repeats, budget)
        med = statistics.median(times)
        rows.append(
            _row(**base, path=path, median_s=med, times_s=times, gflops=3 * w.flops(n) / med / 1e9)
        )
    return rows


def _matmul(lib: Lib, size: int, repeats: int, budget: float) -> dict:
    base = dict(workload=f"matmul{size}", backend=lib.name, device=lib.device, path="matmul")
    base["n"] = size
    if lib.reason:
        return _row(**base, status="skipped", reason=lib.reason)
    if lib.name == "array_api_strict":
        return _row(**base, status="skipped", reason="same BLAS as numpy")
    rng = np.random.default_rng(0)
    a = lib.asarray(rng.standard_normal((size, size), dtype=np.float32))
    b = lib.asarray(rng.standard_normal((size, size), dtype=np.float32))
    mod = lib.module.np if lib.name == "mxnet" else lib.module
    times = _time(lambda: lib.ready(mod.matmul(a, b)), repeats, budget)
    med = statistics.median(times)
    return _row(**base, median_s=med, times_s=times, gflops=2.0 * size**3 / med / 1e9)


# -- end to end: a LeNet training epoch, ResNet-18 inference ------------------------------------

#: the end-to-end workloads (names for ``--only``)
END_TO_END = {
    "E1": "one training epoch of modern LeNet (60,000 28x28 images, batch 256, SGD, "
    "cross-entropy), extrapolated from the batches timed",
    "E2": "ResNet-18 inference (N=32, 1x96x96, eval mode, no gradients)",
}
#: the epoch E1 stands for: 60,000 images in batches of 256 (the last one of 96)
EPOCH_EXAMPLES = 60_000
#: E1's batches timed by default (of the 235 of an epoch); ``--epoch-batches`` changes it
EPOCH_BATCHES = 40


def _torch_models(torch: Any) -> tuple[Any, Any]:
    """Plain ``torch.nn`` modern LeNet and the book's ResNet-18 (8.6: Residual blocks with
    biased convolutions and an un-normalised 1x1 shortcut), each under a ``net`` attribute so
    that its parameter names are those of portconv's models: the benchmark loads portconv's
    state dict into it with ``strict=True``, which checks that every layer has the same
    shape."""
    tnn = torch.nn
    F = tnn.functional

    class TorchLeNetModern(tnn.Module):
        def __init__(self, num_classes: int = 10) -> None:
            super().__init__()
            self.net = tnn.Sequential(
                tnn.LazyConv2d(6, kernel_size=5, padding=2),
                tnn.ReLU(),
                tnn.MaxPool2d(kernel_size=2, stride=2),
                tnn.LazyConv2d(16, kernel_size=5),
                tnn.ReLU(),
                tnn.MaxPool2d(kernel_size=2, stride=2),
                tnn.Flatten(),
                tnn.LazyLinear(120),
                tnn.ReLU(),
                tnn.LazyLinear(84),
                tnn.ReLU(),
                tnn.LazyLinear(num_classes),
            )

        def forward(self, X: Any) -> Any:
            return self.net(X)

    class TorchResidual(tnn.Module):
        def __init__(self, c: int, use_1x1conv: bool = False, strides: int = 1) -> None:
            super().__init__()
            self.conv1 = tnn.LazyConv2d(c, kernel_size=3, padding=1, stride=strides)
            self.conv2 = tnn.LazyConv2d(c, kernel_size=3, padding=1)
            self.conv3 = tnn.LazyConv2d(c, kernel_size=1, stride=strides) if use_1x1conv else None
            self.bn1 = tnn.LazyBatchNorm2d()
            self.bn2 = tnn.LazyBatchNorm2d()

        def forward(self, X: Any) -> Any:
            Y = F.relu(self.bn1(self.conv1(X)))
            Y = self.bn2(self.conv2(Y))
            if self.conv3 is not None:
                X = self.conv3(X)
            return F.relu(Y + X)

    class TorchResNet18(tnn.Module):
        def __init__(self, num_classes: int = 10) -> None:
            super().__init__()
            self.net = tnn.Sequential(
                tnn.Sequential(
                    tnn.LazyConv2d(64, kernel_size=7, stride=2, padding=3),
                    tnn.LazyBatchNorm2d(),
                    tnn.ReLU(),
                    tnn.MaxPool2d(kernel_size=3, stride=2, padding=1),
                )
            )
            for i, (num_residuals, c) in enumerate(((2, 64), (2, 128), (2, 256), (2, 512))):
                blk = [
                    TorchResidual(c, use_1x1conv=True, strides=2)
                    if j == 0 and i > 0
                    else TorchResidual(c)
                    for j in range(num_residuals)
                ]
                self.net.add_module(f"b{i + 2}", tnn.Sequential(*blk))
            self.net.add_module(
                "last",
                tnn.Sequential(
                    tnn.AdaptiveAvgPool2d((1, 1)), tnn.Flatten(), tnn.LazyLinear(num_classes)
                ),
            )

        def forward(self, X: Any) -> Any:
            return self.net(X)

    return TorchLeNetModern, TorchResNet18


def _portconv_model(name: str, sample: np.ndarray) -> Any:
    """portconv's model ``name`` ("lenet" or "resnet18"), its parameters drawn from seed 0 and
    created by one call on ``sample`` (NumPy)."""
    from . import autograd as ag
    from . import models
    from .nn import init as _init

    _init.manual_seed(0)
    model = models.LeNetModern() if name == "lenet" else models.ResNet18()
    model.eval()
    with ag.no_grad():
        model(sample)
    model.train()
    return model


def _reference_models(name: str, sample: np.ndarray, torch: Any) -> tuple[Any, Any, Any]:
    """Three copies of one model with equal parameters: portconv's on NumPy arrays, portconv's
    on torch tensors, and plain ``torch.nn`` (None, None for the torch ones without torch)."""
    from . import models

    pc_np = _portconv_model(name, sample)
    if torch is None:
        return pc_np, None, None
    state = pc_np.state_dict()
    pc_t = models.LeNetModern() if name == "lenet" else models.ResNet18()
    pc_t.eval()
    from . import autograd as ag

    with ag.no_grad():
        pc_t(torch.from_numpy(sample))
    pc_t.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()})
    pc_t.train()
    lenet_cls, resnet_cls = _torch_models(torch)
    ref = lenet_cls() if name == "lenet" else resnet_cls()
    ref.eval()
    with torch.no_grad():
        ref(torch.from_numpy(sample))  # materialise the lazy layers
    ref.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()}, strict=True)
    return pc_np, pc_t, ref


def _torch_module(libs: list[Lib]) -> tuple[Any, str]:
    for lib in libs:
        if lib.name == "torch" and lib.device == "cpu":
            return (lib.module, "") if not lib.reason else (None, lib.reason)
    return None, "torch not selected (--backends)"


def _mxnet_module(libs: list[Lib]) -> tuple[Any, str]:
    for lib in libs:
        if lib.name == "mxnet":
            return (lib.module, "") if not lib.reason else (None, lib.reason)
    return None, "mxnet not selected (--backends)"


def _jax_module(libs: list[Lib]) -> tuple[Any, str]:
    for lib in libs:
        if lib.name == "jax" and lib.device == "cpu":
            return (lib.module, "") if not lib.reason else (None, lib.reason)
    return None, "jax not selected (--backends)"


def jax_lenet_steps(jax: Any, state: dict, sample: np.ndarray, lr: float = 0.1) -> dict:
    """Jitted SGD steps of modern LeNet on JAX arrays, from equal parameters (``state``:
    portconv's state dict, host arrays; ``sample``: an input batch, host): ``"portconv"``,
    the model through :func:`portconv.nn.to_functional` and ``jax.value_and_grad`` of
    portconv's cross-entropy; ``"direct"``, the same network written in plain JAX
    (``lax.conv_general_dilated``, ``lax.reduce_window``, ``jax.nn``), its parameters paired
    with portconv's by order and shape. Each is ``(step, params)``, ``step(params, X, y) ->
    (loss, new params)``."""
    from . import autograd as ag
    from ._dispatch import asarray

    jnp, lax = jax.numpy, jax.lax

    def to(a: Any) -> Any:
        return asarray(a, "jax")

    def sgd(loss: Any) -> Any:
        def step(params: Any, X: Any, y: Any) -> Any:
            value, grads = jax.value_and_grad(loss)(params, X, y)
            return value, jax.tree_util.tree_map(lambda p, g: p - lr * g, params, grads)

        return jax.jit(step)

    model = _portconv_copy("lenet", state, to, sample)
    apply, params = model.functional()

    def portconv_loss(params: Any, X: Any, y: Any) -> Any:
        return ag.cross_entropy(apply(params, X), y).data

    lowest = np.array(-np.inf, np.float32)

    def conv(x: Any, w: Any, b: Any, pad: int) -> Any:
        y = lax.conv_general_dilated(x, w, (1, 1), ((pad, pad), (pad, pad)))
        return y + b[None, :, None, None]

    def pool(x: Any) -> Any:
        return lax.reduce_window(x, lowest, lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")

    def forward(p: Any, x: Any) -> Any:
        (w1, b1), (w2, b2), (w3, b3), (w4, b4), (w5, b5) = p
        x = pool(jax.nn.relu(conv(x, w1, b1, 2)))
        x = pool(jax.nn.relu(conv(x, w2, b2, 0)))
        x = x.reshape(x.shape[0], -1)
        x = jax.nn.relu(x @ w3.T + b3)
        x = jax.nn.relu(x @ w4.T + b4)
        return x @ w5.T + b5

    def direct_loss(p: Any, X: Any, y: Any) -> Any:
        logp = jax.nn.log_softmax(forward(p, X))
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

    values = [to(np.array(v)) for v in state.values()]
    shapes = [(6, 1, 5, 5), (6,), (16, 6, 5, 5), (16,), (120, 400), (120,), (84, 120), (84,)]
    shapes += [(10, 84), (10,)]
    if [tuple(v.shape) for v in values] != shapes:
        raise RuntimeError(
            f"plain JAX LeNet: shapes {shapes}, portconv's {[v.shape for v in values]}"
        )
    direct = [(values[i], values[i + 1]) for i in range(0, len(values), 2)]
    return {"portconv": (sgd(portconv_loss), params), "direct": (sgd(direct_loss), direct)}


def _portconv_copy(name: str, state: dict, to: Any, sample: np.ndarray) -> Any:
    """portconv's model ``name`` on the arrays ``to`` makes, holding the parameters ``state``
    (host arrays)."""
    from . import autograd as ag
    from . import models

    model = models.LeNetModern() if name == "lenet" else models.ResNet18()
    model.eval()
    with ag.no_grad():
        model(to(sample))
    model.load_state_dict({k: to(np.array(v)) for k, v in state.items()})
    model.train()
    return model


def _gluon_lenet(mx: Any, state: dict, sample: np.ndarray) -> Any:
    """Modern LeNet in Gluon (the book's MXNet edition, NumPy semantics) holding ``state``."""
    from mxnet import gluon

    nn = gluon.nn
    net = nn.Sequential()
    net.add(
        nn.Conv2D(6, kernel_size=5, padding=2, activation="relu"),
        nn.MaxPool2D(pool_size=2, strides=2),
        nn.Conv2D(16, kernel_size=5, activation="relu"),
        nn.MaxPool2D(pool_size=2, strides=2),
        nn.Dense(120, activation="relu"),
        nn.Dense(84, activation="relu"),
        nn.Dense(10),
    )
    net.initialize()
    net(mx.np.array(sample))
    params = list(net.collect_params().values())
    values = list(state.values())
    if len(params) != len(values):
        raise RuntimeError(f"Gluon LeNet has {len(params)} parameters, portconv's {len(values)}")
    for p, v in zip(params, values):
        if tuple(p.shape) != tuple(np.shape(v)):
            raise RuntimeError(f"{p.name}: shape {p.shape}, portconv's {np.shape(v)}")
        p.set_data(mx.np.array(np.array(v)))
    return net


def lenet_epoch(
    libs: list[Lib],
    batch_size: int = 256,
    batches: int = EPOCH_BATCHES,
    warmup: int = 2,
    examples: int = EPOCH_EXAMPLES,
) -> list[dict]:
    """E1: training steps of modern LeNet (forward, cross-entropy, zero_grad, backward, SGD
    step, the loss read back) on ``batches`` batches of ``batch_size`` random 28x28 images,
    each step timed; the epoch is the median step times the ``60000 / batch_size`` steps of
    one epoch (extrapolated unless ``batches`` covers it). Rows, all from equal parameters:
    portconv on NumPy (generic), portconv on torch tensors (native forward and backward), the
    same model in plain PyTorch (``torch.nn``, ``torch.optim.SGD``), portconv on MXNet's
    ``mx.np`` and legacy ``mx.nd`` arrays, the same model in Gluon (``autograd.record()``,
    ``gluon.Trainer``); on JAX arrays portconv's autograd (eager), a jitted step through
    portconv and the same jitted step written in plain JAX (:func:`jax_lenet_steps`)."""
    from . import autograd as ag
    from . import config
    from . import optim as pc_optim
    from ._dispatch import backend_of

    per_epoch = examples / batch_size
    batches = max(1, min(batches, math.ceil(per_epoch)))
    rng = np.random.default_rng(0)
    distinct = min(batches + warmup, 8)  # a few distinct batches, cycled: the data's values
    data = [  # do not change the time of any step
        (
            rng.standard_normal((batch_size, 1, 28, 28), dtype=np.float32),
            rng.integers(0, 10, batch_size).astype(np.int64),
        )
        for _ in range(distinct)
    ]
    torch, why = _torch_module(libs)
    mx, why_mx = _mxnet_module(libs)
    jax, why_jax = _jax_module(libs)
    have_numpy = any(lib.name == "numpy" for lib in libs)
    sample = data[0][0][:2]
    pc_np, pc_t, ref = _reference_models("lenet", sample, torch)
    state = {k: np.array(v) for k, v in pc_np.state_dict().items()}
    extra = dict(
        batch_size=batch_size,
        batches_timed=batches,
        batches_per_epoch=per_epoch,
        extrapolated=batches < per_epoch,
    )
    base = dict(workload="E1-lenet-epoch", device="cpu", n=batch_size)

    def portconv_step(model: Any, to: Any, path: str):
        batches_here = [(to(X), to(y)) for X, y in data]
        model.train()
        opt = pc_optim.SGD(model.parameters(), lr=0.1)
        context = backend_of(batches_here[0][0]).adapter.run_context

        def step(i: int) -> float:
            X, y = batches_here[i % distinct]
            with context(), config(path=path):
                loss = ag.cross_entropy(model(X), y)
                opt.zero_grad()
                loss.backward()
                opt.step()
                return float(_to_numpy(loss.data))  # waits for the result

        return step

    def torch_step(model: Any):
        batches_here = [(torch.from_numpy(X), torch.from_numpy(y)) for X, y in data]
        model.train()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        loss_fn = torch.nn.CrossEntropyLoss()

        def step(i: int) -> float:
            X, y = batches_here[i % distinct]
            loss = loss_fn(model(X), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss.item()

        return step

    def gluon_step():
        from mxnet import autograd, gluon

        with _np_semantics(mx):
            net = _gluon_lenet(mx, state, sample)
            trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})
            loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
            batches_here = [(mx.np.array(X), mx.np.array(y)) for X, y in data]

        def step(i: int) -> float:
            X, y = batches_here[i % distinct]
            with _np_semantics(mx):
                with autograd.record():
                    loss = loss_fn(net(X), y)
                loss.backward()
                trainer.step(batch_size)
                return float(loss.mean())

        return step

    def mx_array(variant: str):
        from ._dispatch import asarray

        return lambda a: asarray(a, variant)

    def jax_step(path: str):
        """portconv.autograd on JAX arrays (eager), or a jitted step (portconv's or plain
        JAX's)."""
        if path.startswith("native (portconv.autograd"):
            to = mx_array("jax")
            return portconv_step(_portconv_copy("lenet", state, to, sample), to, "auto")
        steps = jax_lenet_steps(jax, state, sample)
        train_step, params = steps["portconv" if path.startswith("native") else "direct"]
        batches_here = [(mx_array("jax")(X), mx_array("jax")(y)) for X, y in data]
        held = [params]

        def step(i: int) -> float:
            X, y = batches_here[i % distinct]
            loss, held[0] = train_step(held[0], X, y)
            return float(loss)  # waits for the result

        return step

    cells = [
        ("numpy", "generic (portconv.autograd)", None if have_numpy else "numpy not selected"),
        ("torch", "native (portconv.autograd)", why or None),
        ("torch", "direct (torch.nn, torch.optim)", why or None),
        ("mxnet", "native (portconv.autograd)", why_mx or None),
        ("mxnet.nd", "native (portconv.autograd)", why_mx or None),
        ("mxnet", "direct (gluon, autograd.record)", why_mx or None),
        ("jax", "native (portconv.autograd)", why_jax or None),
        ("jax", "native (portconv, jax.jit step)", why_jax or None),
        ("jax", "direct (jax.jit step, lax)", why_jax or None),
    ]
    rows = []
    for backend, path, reason in cells:
        if reason:
            rows.append(_row(**base, backend=backend, path=path, status="skipped", reason=reason))
            continue
        try:
            if backend == "numpy":
                step = portconv_step(pc_np, np.asarray, "generic")
            elif backend == "torch":
                step = (
                    portconv_step(pc_t, torch.from_numpy, "auto")
                    if path.startswith("native")
                    else torch_step(ref)
                )
            elif backend == "jax":
                step = jax_step(path)
            elif path.startswith("native"):
                to = mx_array(backend)
                with _np_semantics(mx):
                    model = _portconv_copy("lenet", state, to, sample)
                step = portconv_step(model, to, "auto")
            else:
                step = gluon_step()
            for i in range(warmup):
                step(i)
            times = []
            for i in range(warmup, warmup + batches):
                t0 = time.perf_counter()
                step(i)
                times.append(time.perf_counter() - t0)
        except Exception as exc:  # noqa: BLE001 - report, keep going
            reason = f"{type(exc).__name__}: {exc}"[:300]
            rows.append(_row(**base, backend=backend, path=path, status="error", reason=reason))
            continue
        med = statistics.median(times)
        rows.append(
            _row(
                **base,
                backend=backend,
                path=path,
                median_s=med * per_epoch,
                times_s=times,
                batch_median_s=med,
                epoch_from_mean_s=statistics.fmean(times) * per_epoch,
                examples_per_s=batch_size / med,
                **extra,
            )
        )
    return rows


def _np_semantics(mx: Any) -> Any:
    """MXNet's NumPy shape and array semantics (the book's ``npx.set_np()``), for a block."""
    stack = contextlib.ExitStack()
    stack.enter_context(mx.util.np_shape(True))
    stack.enter_context(mx.util.np_array(True))
    return stack


def resnet_inference(
    libs: list[Lib], n: int = 32, size: int = 96, repeats: int = 5, budget: float = 15.0
) -> list[dict]:
    """E2: ResNet-18 (the book's, 8.6) inference on ``n`` random 1 x ``size`` x ``size``
    images (Fashion-MNIST resized to 96 in the book) in evaluation mode without gradients:
    portconv on NumPy (generic), portconv on torch tensors (native) and the same network in
    plain ``torch.nn`` with portconv's parameters loaded (``strict=True``). Warm-up, then the
    median of up to ``repeats`` calls."""
    from . import autograd as ag
    from . import config

    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, 1, size, size), dtype=np.float32)
    torch, why = _torch_module(libs)
    have_numpy = any(lib.name == "numpy" for lib in libs)
    pc_np, pc_t, ref = _reference_models("resnet18", X[:2], torch)
    base = dict(workload="E2-resnet18-infer", device="cpu", n=n, image=[1, size, size])
    cells = [
        ("numpy", "generic (portconv)", None if have_numpy else "numpy not selected"),
        ("torch", "native (portconv)", why or None),
        ("torch", "direct (torch.nn)", why or None),
    ]
    rows = []
    for backend, path, reason in cells:
        if reason:
            rows.append(_row(**base, backend=backend, path=path, status="skipped", reason=reason))
            continue
        if backend == "numpy":
            model, x, mode = pc_np, X, "generic"
        elif path.startswith("native"):
            model, x, mode = pc_t, torch.from_numpy(X), "auto"
        else:
            model, x, mode = ref, torch.from_numpy(X), None
        model.eval()
        if mode is None:

            def fn(model=model, x=x):
                with torch.no_grad():
                    return model(x)
        else:

            def fn(model=model, x=x, mode=mode):
                with ag.no_grad(), config(path=mode):
                    return model(x)

        try:
            times = _time(fn, repeats, budget)
        except Exception as exc:  # noqa: BLE001 - report, keep going
            reason = f"{type(exc).__name__}: {exc}"[:300]
            rows.append(_row(**base, backend=backend, path=path, status="error", reason=reason))
            continue
        med = statistics.median(times)
        rows.append(
            _row(
                **base,
                backend=backend,
                path=path,
                median_s=med,
                times_s=times,
                examples_per_s=n / med,
            )
        )
    return rows


# -- peak memory of one call, in a fresh process ------------------------------------------------

_MEMORY_SCRIPT = r"""
import json, sys
import numpy as np
lib, n = sys.argv[1], int(sys.argv[2])

def status(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return None

import portconv as pc
rng = np.random.default_rng(0)
x = rng.standard_normal((n, 64, 56, 56), dtype=np.float32)
k = rng.standard_normal((64, 64, 3, 3), dtype=np.float32)
if lib == "torch":
    import torch
    x, k = torch.from_numpy(x), torch.from_numpy(k)
    path = "native"
else:
    path = "generic"
small = pc.conv2d(x[:1], k, None, 1, 1, path=path)  # load everything lazily imported
del small
try:  # reset the high-water mark to the current resident set (Linux >= 4.0)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    reset = True
except OSError:
    reset = False
before_rss, before_hwm = status("VmRSS"), status("VmHWM")
y = pc.conv2d(x, k, None, 1, 1, path=path)
after_hwm = status("VmHWM")
base = before_rss if reset else before_hwm
print(json.dumps({"extra_bytes": after_hwm - base, "output_bytes": int(np.prod(y.shape)) * 4,
                  "hwm_reset": reset}))
"""


def _memory(libname: str, path: str, n: int) -> dict:
    base = dict(workload="W4-peak-memory", backend=libname, device="cpu", path=path, n=n)
    try:
        out = subprocess.run(
            [sys.executable, "-c", _MEMORY_SCRIPT, libname, str(n)],
            capture_output=True,
            text=True,
            timeout=300,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return _row(**base, status="error", reason=str(exc))
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["?"])[-1]
        return _row(**base, status="error", reason=last[:300])
    info = json.loads(out.stdout.strip().splitlines()[-1])
    return _row(**base, extra_bytes=info["extra_bytes"], output_bytes=info["output_bytes"])


# -- report -------------------------------------------------------------------------------------


def machine_info() -> dict:
    cpu = platform.processor() or ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    info: dict[str, Any] = {
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "versions": {},
        "threadpools": None,
    }
    import portconv

    info["versions"]["portconv"] = portconv.__version__
    for mod in ("numpy", "torch", "mxnet", "array_api_strict", "cupy", "jax"):
        m = sys.modules.get(mod)
        if m is None:
            with contextlib.suppress(Exception):
                m = __import__(mod)
        if m is not None:
            info["versions"][mod] = getattr(m, "__version__", "?")
    with contextlib.suppress(ImportError):  # report only: thread pools are never changed here
        from threadpoolctl import threadpool_info

        info["threadpools"] = [
            {k: p.get(k) for k in ("user_api", "internal_api", "num_threads", "version")}
            for p in threadpool_info()
        ]
    return info


def _find(rows, workload, backend, path, device="cpu"):
    for r in rows:
        if (
            r["workload"] == workload
            and r["backend"] == backend
            and r["device"] == device
            and r["path"].startswith(path)
            and r["status"] == "ok"
        ):
            return r
    return None


#: where the goals come from, by the short name the table prints after each goal
GOAL_SOURCES = {
    "native training": "training through portconv at the framework's own speed",
    "generic speed": "the generic (array API) path as fast as oneDNN",
    "dispatch": "portconv's dispatch adds no more than a few microseconds",
}

#: a verdict (holds / misses) needs at least this many timed samples on both sides
MIN_SAMPLES = 5


def ratios(rows: list[dict]) -> list[dict]:
    """The ratios the project sets goals for (and a few for reference), from rows measured
    side by side in one run. A verdict is given only where both rows have at least
    :data:`MIN_SAMPLES` timed samples."""
    out = []

    def ratio(name, workload, a, b, goal, source=None, unit="x"):
        ra, rb = _find(rows, workload, *a), _find(rows, workload, *b)
        if ra is None or rb is None:
            return
        if unit == "us":
            value = (ra["median_s"] - rb["median_s"]) * 1e6
        else:
            value = ra["median_s"] / rb["median_s"]
        samples = min(len(ra.get("times_s") or []), len(rb.get("times_s") or []))
        verdict = None
        if goal is not None and samples >= MIN_SAMPLES:
            verdict = value <= goal
        out.append(
            {
                "ratio": name,
                "workload": workload,
                "value": value,
                "unit": unit,
                "goal": goal,
                "source": source,
                "samples": samples,
                "holds": verdict,
            }
        )

    for wl in ("W2", "W3", "W4", "W5", "W6", "W7"):
        goal = 1.5 if wl in ("W2", "W3") else 1.0
        name = "generic numpy / torch F.conv2d"
        ratio(name, wl, ("numpy", "generic"), ("torch", "direct"), goal, "generic speed")
    for wl in ("W4", "W5", "W6", "W7"):
        ratio("generic torch / native torch", wl, ("torch", "generic"), ("torch", "native"), None)
    for wl in ("W2", "W3", "W4", "W5", "W6", "W7"):
        for lib in ("torch", "mxnet", "jax"):
            name = f"native / direct ({lib})"
            ratio(name, wl, (lib, "native"), (lib, "direct"), 1.05, "dispatch")
    for wl in ("W2", "W3", "W4", "W5", "W6", "W7", "P1", "P2"):
        ratio("generic jax.jit / native (jax)", wl, ("jax", JIT_PATH), ("jax", "native"), None)
    for lib in ("torch", "mxnet", "jax"):
        name = f"native - direct ({lib})"
        ratio(name, "W1", (lib, "native"), (lib, "direct"), 10.0, "dispatch", "us")
    for wl in ("P1", "P2"):
        name = "generic numpy / torch pooling"
        ratio(name, wl, ("numpy", "generic"), ("torch", "direct"), 1.0, "generic speed")
    wl = "W4-fwd+bwd"
    ratio("fwd+bwd generic numpy / torch", wl, ("numpy", "generic"), ("torch", "direct"), 1.3,
          "generic speed")  # fmt: skip
    ratio("fwd+bwd portconv torch / torch", wl, ("torch", "native"), ("torch", "direct"), 1.1,
          "native training")  # fmt: skip
    wl = "E1-lenet-epoch"
    ratio("LeNet epoch generic numpy / plain torch", wl, ("numpy", "generic"),
          ("torch", "direct"), 1.5, "generic speed")  # fmt: skip
    ratio("LeNet epoch portconv torch / plain torch", wl, ("torch", "native"),
          ("torch", "direct"), 1.1, "native training")  # fmt: skip
    for variant in ("mxnet", "mxnet.nd"):
        ratio(f"LeNet epoch portconv {variant} / Gluon", wl, (variant, "native"),
              ("mxnet", "direct"), 1.2, "native training")  # fmt: skip
    ratio("LeNet epoch portconv jax.jit step / plain jax", wl, ("jax", "native (portconv, jax.jit"),
          ("jax", "direct (jax.jit"), 1.1, "native training")  # fmt: skip
    ratio("LeNet epoch portconv.autograd jax / jit step", wl, ("jax", "native (portconv.autograd"),
          ("jax", "native (portconv, jax.jit"), None)  # fmt: skip
    wl = "E2-resnet18-infer"
    ratio("ResNet-18 inference generic numpy / plain torch", wl, ("numpy", "generic"),
          ("torch", "direct"), 1.2, "generic speed")  # fmt: skip
    ratio("ResNet-18 inference portconv torch / plain torch", wl, ("torch", "native"),
          ("torch", "direct"), None)  # fmt: skip
    mem_np = _find(rows, "W4-peak-memory", "numpy", "generic")
    mem_t = _find(rows, "W4-peak-memory", "torch", "native")
    if mem_np and mem_t and mem_t.get("extra_bytes"):
        value = mem_np["extra_bytes"] / mem_t["extra_bytes"]
        out.append(
            {
                "ratio": "peak extra memory generic numpy / torch",
                "workload": "W4",
                "value": value,
                "unit": "x",
                "goal": 1.5,
                "source": "generic speed",
                "samples": MIN_SAMPLES,  # one measurement each, in a fresh process: exact
                "holds": value <= 1.5,
            }
        )
    return out


def _end_to_end_notes(rows: list[dict]) -> list[str]:
    """How the end-to-end rows were measured (E1's epoch is extrapolated from the batches
    timed unless they cover it)."""
    lines = []
    for r in rows:
        if r["status"] != "ok" or r["workload"] not in ("E1-lenet-epoch", "E2-resnet18-infer"):
            continue
        who = f"{r['workload']} {r['backend']} {r['path']}"
        if r["workload"] == "E1-lenet-epoch":
            how = (
                f"{r['batches_timed']} of {math.ceil(r['batches_per_epoch'])} batches of "
                f"{r['batch_size']} timed; epoch EXTRAPOLATED as the median step "
                f"{r['batch_median_s'] * 1e3:.1f} ms x {r['batches_per_epoch']:.1f} steps "
                f"(from the mean step: {r['epoch_from_mean_s']:.2f} s)"
                if r["extrapolated"]
                else f"whole epoch: median step {r['batch_median_s'] * 1e3:.1f} ms x "
                f"{r['batches_per_epoch']:.1f} steps"
            )
        else:
            how = f"N={r['n']}, {'x'.join(map(str, r['image']))}, median of {len(r['times_s'])}"
        lines.append(f"  {who}: {how}, {r['examples_per_s']:.0f} examples/s")
    if lines:
        lines.insert(0, "end to end (median in the table: E1 seconds per epoch, E2 per batch):")
    return lines


def format_table(result: dict) -> str:
    m = result["machine"]
    lines = [
        f"portconv bench, {m['date_utc']}, {m['cpu']}, {m['cores']} cores, "
        + ", ".join(f"{k} {v}" for k, v in m["versions"].items()),
    ]
    if m.get("threadpools"):
        lines.append(
            "thread pools: "
            + ", ".join(f"{p['internal_api']} {p['num_threads']}" for p in m["threadpools"])
            + (
                f" (limited to {m['threads_limited_to']} for this run with --threads)"
                if m.get("threads_limited_to")
                else ""
            )
        )
    lines.append("")
    lines.append(
        f"{'workload':<19}{'backend':<18}{'device':<7}{'path':<32}{'median':>12}{'GFLOP/s':>10}"
    )
    skipped: dict[str, list[str]] = {}
    for r in result["rows"]:
        dev = r["device"] or ""
        if r["status"] == "skipped":  # collapsed into one line per reason, below
            who = f"{r['workload']} {r['backend']}" + (f" {dev}" if dev != "cpu" else "")
            skipped.setdefault(r["reason"], []).append(who)
            continue
        if r["status"] != "ok":
            lines.append(
                f"{r['workload']:<19}{r['backend']:<18}{dev:<7}{r['path']:<32}"
                f"  {r['status']}: {r['reason']}"
            )
            continue
        if "extra_bytes" in r:
            mib = r["extra_bytes"] / 2**20
            lines.append(
                f"{r['workload']:<19}{r['backend']:<18}{dev:<7}{r['path']:<32}"
                f"{mib:>9.1f} MiB extra (output {r['output_bytes'] / 2**20:.1f} MiB)"
            )
            continue
        med = r["median_s"]
        if med < 1e-3:
            t = f"{med * 1e6:.1f} us"
        else:
            t = f"{med * 1e3:.2f} ms" if med < 10 else f"{med:.2f} s"
        g = f"{r['gflops']:.2f}" if r["gflops"] is not None else ""
        lines.append(f"{r['workload']:<19}{r['backend']:<18}{dev:<7}{r['path']:<32}{t:>12}{g:>10}")
    for reason, who in skipped.items():
        cells = sorted(set(who))
        lines.append(f"skipped ({reason}): {', '.join(cells)}")
    notes = _end_to_end_notes(result["rows"])
    if notes:
        lines.append("")
        lines.extend(notes)
    lines.append("")
    lines.append(
        "ratios (measured side by side in this run; goals and where they come from: "
        "docs/user-guide/performance.md):"
    )
    lines.extend(format_ratio(q) for q in result["ratios"])
    return "\n".join(lines)


def format_ratio(q: dict) -> str:
    """One ratio line: the value, its goal and where the goal comes from, and a verdict only
    where both sides have enough samples."""
    unit = " us" if q["unit"] == "us" else "x"
    if q["goal"] is None:
        tail = "(for reference)"
    else:
        tail = f"goal <= {q['goal']}{unit} ({q['source']})  "
        if q["holds"] is None:
            tail += f"no verdict ({q['samples']} samples; {MIN_SAMPLES} needed)"
        else:
            tail += "holds" if q["holds"] else "misses"
    return f"  {q['workload']:<18}{q['ratio']:<52}{q['value']:>8.2f}{unit}  {tail}"


def run_bench(
    only: list[str] | None = None,
    quick: bool = False,
    repeats: int | None = None,
    matmul_size: int = 2048,
    backends: list[str] | None = None,
    memory: bool = True,
    log: Any = None,
    epoch_batches: int | None = None,
    threads: int | None = None,
) -> dict:
    """Run the suite; return ``{"machine", "rows", "ratios"}`` (JSON-serialisable).

    ``epoch_batches``: E1's batches timed (default 40 of the epoch's 235; ``quick``: 2
    batches of 16 images, and E2 on N=2 at 32x32). ``threads``: None leaves every thread
    pool as it is; a number limits the BLAS and OpenMP pools through ``threadpoolctl``,
    torch's intra-op pool through ``torch.set_num_threads`` and portconv's own tile threads
    through ``portconv.config(threads=...)`` for the run, and restores them afterwards; no
    environment variable is set."""
    if threads is None:
        return _run_bench(only, quick, repeats, matmul_size, backends, memory, log, epoch_batches)
    if threads < 1:
        from .errors import PortconvError

        raise PortconvError(f"--threads: expected a positive int, got {threads}")
    try:
        from threadpoolctl import threadpool_limits
    except ImportError as exc:
        raise ImportError(f"--threads needs threadpoolctl ({exc})") from None
    torch = sys.modules.get("torch")
    if torch is None:
        with contextlib.suppress(ImportError):
            import torch
    before = torch.get_num_threads() if torch is not None else None
    try:
        if torch is not None:
            torch.set_num_threads(threads)
        from ._config import config

        with threadpool_limits(limits=threads), config(threads=threads):
            result = _run_bench(
                only, quick, repeats, matmul_size, backends, memory, log, epoch_batches
            )
    finally:
        if torch is not None:
            torch.set_num_threads(before)
    result["machine"]["threads_limited_to"] = threads
    return result


def _run_bench(only, quick, repeats, matmul_size, backends, memory, log, epoch_batches) -> dict:
    extras = ["fwd+bwd", "matmul", "memory", *END_TO_END]
    names = only or list(WORKLOADS) + extras
    unknown = set(names) - set(WORKLOADS) - set(extras)
    if unknown:
        from .errors import PortconvError

        raise PortconvError(
            f"--only: unknown workload(s) {', '.join(sorted(unknown))}; expected some of "
            f"{', '.join(WORKLOADS)}, {', '.join(extras)}"
        )
    if epoch_batches is not None and epoch_batches < 1:
        from .errors import PortconvError

        raise PortconvError(f"--epoch-batches: expected a positive int, got {epoch_batches}")
    libs = [lib for lib in _libs() if backends is None or lib.name in backends]
    reps = repeats or (2 if quick else 7)
    budget = 1.0 if quick else 4.0
    rows: list[dict] = []

    def add(row):
        rows.append(row)
        if log is not None:
            t = f"{row['median_s'] * 1e3:.3f} ms" if row.get("median_s") else row["status"]
            print(
                f"  {row['workload']} {row['backend']} {row['device']} {row['path']}: {t}",
                file=log,
                flush=True,
            )

    for name in names:
        w = WORKLOADS.get(name)
        if w is None:
            continue
        n = w.quick_n if quick else w.n
        for lib in libs:
            for path in ("generic", "native", "direct", "loop", JIT_PATH):
                if path == "loop" and (
                    name not in ("W1", "W2") or lib.name not in ("numpy", "torch")
                ):
                    continue
                if path == JIT_PATH and lib.name != "jax":
                    continue
                # big workloads on array-api-strict: one repeat (it wraps NumPy)
                r = 1 if lib.name == "array_api_strict" and name != "W1" else reps
                if path == "loop" and name == "W1":
                    r = max(reps, 20)
                if name == "W1" and path != "loop":
                    r = max(reps, 20)  # samples of 100 calls each
                add(_bench_cell(w, lib, path, n, r, budget))
    if "fwd+bwd" in names:
        n = 4 if quick else WORKLOADS["W4"].n
        for lib in libs:
            if lib.name in ("numpy", "torch"):
                for row in _fwd_bwd(lib, n, 2 if quick else 5, budget):
                    add(row)
    if "matmul" in names:
        size = 512 if quick else matmul_size
        for lib in libs:
            add(_matmul(lib, size, reps, budget))
    if "E1" in names:
        batches = epoch_batches or (2 if quick else EPOCH_BATCHES)
        for row in lenet_epoch(libs, 16 if quick else 256, batches, 1 if quick else 2):
            add(row)
    if "E2" in names:
        kw = dict(n=2, size=32, repeats=2, budget=1.0) if quick else {}
        for row in resnet_inference(libs, **kw):
            add(row)
    if "memory" in names:
        n = 4 if quick else WORKLOADS["W4"].n
        have = {lib.name for lib in libs if not lib.reason}
        add(_memory("numpy", "generic", n))
        if "torch" in have:
            add(_memory("torch", "native", n))
        else:
            add(
                _row(
                    workload="W4-peak-memory",
                    backend="torch",
                    device="cpu",
                    path="native",
                    n=n,
                    status="skipped",
                    reason="torch not installed",
                )
            )
    return {"machine": machine_info(), "quick": quick, "rows": rows, "ratios": ratios(rows)}


# -- the command --------------------------------------------------------------------------------


def configure(sub: Any) -> None:
    p = sub.add_parser(
        "bench",
        help="time convolution and pooling on every installed backend and path",
        description="Time portconv's workloads (W1-W7 convolutions, P1-P2 pooling, W4 "
        "forward+backward, peak memory, a matmul reference, E1 a modern LeNet training epoch "
        "against plain PyTorch, Gluon and JAX, E2 ResNet-18 inference against plain PyTorch) on "
        "every installed backend by every path; print a table and the ratios the project "
        "sets goals for.",
    )
    p.add_argument("--quick", action="store_true", help="fewer repeats and smaller batches")
    p.add_argument(
        "--only",
        default=None,
        help="comma-separated: W1..W7, P1, P2, fwd+bwd, matmul, memory, E1 (LeNet training "
        "epoch), E2 (ResNet-18 inference) (default: all)",
    )
    p.add_argument(
        "--epoch-batches",
        type=int,
        default=None,
        metavar="N",
        help=f"E1: time N batches of the 60,000-image epoch and extrapolate to the epoch "
        f"(default {EPOCH_BATCHES}; 235 times the whole epoch)",
    )
    p.add_argument("--repeats", type=int, default=None, help="timed calls per cell")
    p.add_argument("--matmul-size", type=int, default=2048)
    p.add_argument("--backends", default=None, help="comma-separated (default: all installed)")
    p.add_argument(
        "--threads",
        default=None,
        metavar="N[,default]",
        help="limit the BLAS/OpenMP thread pools (threadpoolctl), torch's and portconv's to N "
        "threads for the run; 'default' leaves them as they are; a comma-separated list runs "
        "the suite once per setting and prints the ratios side by side (e.g. --threads "
        "1,default)",
    )
    p.add_argument("--json", default=None, metavar="PATH", help="also write the results here")
    p.add_argument(
        "--merge",
        default=None,
        metavar="PATH",
        help="add the rows of an earlier --json (say, MXNet's run in another environment) "
        "before computing the ratios",
    )
    p.set_defaults(handler=main)


def parse_threads(text: str | None) -> list[int | None]:
    """``--threads``: None -> [None]; "1,default" -> [1, None]."""
    from .errors import PortconvError

    if text is None:
        return [None]
    settings: list[int | None] = []
    for part in str(text).split(","):
        part = part.strip()
        if part == "default":
            settings.append(None)
        elif part.isdigit() and int(part) >= 1:
            settings.append(int(part))
        else:
            raise PortconvError(
                f"--threads: expected a positive int or 'default' (comma-separated for "
                f"several runs), got {text!r}"
            )
    return settings


def _threads_label(threads: int | None) -> str:
    return "default threads" if threads is None else f"{threads} thread{'s' * (threads > 1)}"


def format_side_by_side(results: list[dict]) -> str:
    """The ratios of several runs (thread settings), one column per run."""
    labels = [_threads_label(r["machine"].get("threads_limited_to")) for r in results]
    lines = [
        "ratios by thread setting (each column measured side by side within its run):",
        f"  {'workload':<18}{'ratio':<52}" + "".join(f"{lab:>18}" for lab in labels) + "  goal",
    ]
    keys = []
    for r in results:
        for q in r["ratios"]:
            if (q["workload"], q["ratio"]) not in keys:
                keys.append((q["workload"], q["ratio"]))
    for wl, name in keys:
        cells, goal = [], None
        for r in results:
            q = next((q for q in r["ratios"] if (q["workload"], q["ratio"]) == (wl, name)), None)
            if q is None:
                cells.append(f"{'-':>18}")
                continue
            goal = q if q["goal"] is not None else goal
            unit = " us" if q["unit"] == "us" else "x"
            mark = {True: " ok", False: " !!", None: "  ?"}[q["holds"]] if q["goal"] else "   "
            cells.append(f"{q['value']:>14.2f}{unit:<1}{mark}")
        tail = f"  <= {goal['goal']} ({goal['source']})" if goal else ""
        lines.append(f"  {wl:<18}{name:<52}" + "".join(cells) + tail)
    lines.append("  (ok: holds, !!: misses, ?: fewer than 5 samples, no verdict)")
    return "\n".join(lines)


def read_merge_file(path: str) -> dict:
    """The results of an earlier ``--json`` run for ``--merge``, checked before the benchmark
    starts: a JSON object whose ``rows`` are rows of this command (workload, backend, path
    and status strings, a device, and a median time for rows that ran). Errors name the file
    and what is wrong."""
    from ._files import check_readable
    from .errors import FileFormatError

    path = check_readable(path, "--merge")
    try:
        with open(path, encoding="utf-8") as f:
            other = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise FileFormatError(f"--merge: {path} is not a JSON file ({exc})") from None
    rows = other.get("rows") if isinstance(other, dict) else None
    if not isinstance(rows, list):
        raise FileFormatError(
            f"--merge: {path} holds no list of rows; expected the file an earlier "
            f"'portconv bench --json' wrote"
        )
    for i, row in enumerate(rows):
        ok = isinstance(row, dict) and all(
            isinstance(row.get(key), str) for key in ("workload", "backend", "path", "status")
        )
        ok = ok and (row.get("device") is None or isinstance(row.get("device"), str))
        if ok and row["status"] == "ok":
            median = row.get("median_s")
            ok = isinstance(median, (int, float)) and not isinstance(median, bool)
            ok = ok and median > 0 and math.isfinite(median)
        if not ok:
            raise FileFormatError(f"--merge: {path}: rows[{i}] is not a benchmark row: {row!r}")
    return other


def main(args: argparse.Namespace) -> int:
    other = read_merge_file(args.merge) if args.merge else None  # checked before any timing
    only = [s.strip() for s in args.only.split(",") if s.strip()] if args.only else None
    backends = [s.strip() for s in args.backends.split(",")] if args.backends else None
    results = []
    for threads in parse_threads(args.threads):
        result = run_bench(
            only=only,
            quick=args.quick,
            repeats=args.repeats,
            matmul_size=args.matmul_size,
            backends=backends,
            log=sys.stderr,
            epoch_batches=args.epoch_batches,
            threads=threads,
        )
        if other is not None:
            result["rows"] += other["rows"]
            result["merged_machine"] = other.get("machine")
            result["ratios"] = ratios(result["rows"])
        print(format_table(result))
        print()
        results.append(result)
    if len(results) > 1:
        print(format_side_by_side(results))
    if args.json:
        folder = os.path.dirname(args.json)
        if folder:
            os.makedirs(folder, exist_ok=True)
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(results[0] if len(results) == 1 else {"runs": results}, f, indent=1)
        print(f"\nresults written to {args.json}")
    return 0
