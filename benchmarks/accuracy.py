"""The generic path's accuracy: every algorithm's largest error against a float64 reference.

Runs the bench workloads W2-W7 (batches of 8), the 3 x 3 convolutions of ResNet-18's
inference (E2, batches of 4) and a 1-D and a 3-D convolution with kernels of 3 (which
Winograd computes too) through portconv's generic path on NumPy arrays of each dtype:
the forward and, where Winograd computes it, the input gradient (the transposed convolution)
and the weight gradient; and compares them with PyTorch's float64 convolution and autograd
(an independent implementation). Prints a Markdown table: workload, what ran, algorithm,
dtype, the largest absolute error relative to the reference's largest value. Not a test (the
tests check the goal, 1e-4 in float32, on random configurations: tests/test_conv.py)::

    python benchmarks/accuracy.py
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

import portconv as pc
from portconv.bench import WORKLOADS
from portconv.ops import winograd
from portconv.ops.conv import algorithm, bind

#: ResNet-18's 3 x 3 stride-1 layers in E2 (96 x 96 images): (channels, map size)
E2_LAYERS = [(64, 24), (128, 12), (256, 6), (512, 3)]

#: 1-D and 3-D convolutions with kernels of 3: (name, input shape, weight shape)
OTHER_DIMS = [
    ("1-D 256ch 256", (4, 256, 256), (256, 256, 3)),
    ("3-D 64ch 16^3", (2, 64, 16, 16, 16), (64, 64, 3, 3, 3)),
    ("3-D 512ch 12^3", (1, 512, 12, 12, 12), (512, 512, 3, 3, 3)),
]


def _cases(batch: int) -> list[tuple[str, tuple, tuple, int, int]]:
    """(name, input shape, weight shape, stride, padding) of every workload measured."""
    cases = []
    for name in ("W2", "W3", "W4", "W5", "W6", "W7"):
        w = WORKLOADS[name]
        x_shape = (batch, w.c_in) + tuple(w.size)
        k_shape = (w.c_out, w.c_in) + tuple(w.kernel)
        cases.append((name, x_shape, k_shape, w.stride, w.padding))
    for c, size in E2_LAYERS:
        cases.append((f"E2 {c}ch {size}x{size}", (4, c, size, size), (c, c, 3, 3), 1, 1))
    cases.extend((name, x, k, 1, 1) for name, x, k in OTHER_DIMS)
    return cases


def _relative(y, ref) -> float:
    return float(np.abs(np.asarray(y, dtype=np.float64) - ref).max() / np.abs(ref).max())


def measure(dtypes=("float32", "float64"), batch: int = 8, seed: int = 0) -> list[dict]:
    """One row per workload, part (forward, input gradient) and dtype."""
    import torch

    rng = np.random.default_rng(seed)
    rows = []
    for name, x_shape, k_shape, stride, padding in _cases(batch):
        d = len(k_shape) - 2
        conv = getattr(torch.nn.functional, f"conv{d}d")
        x = rng.standard_normal(x_shape)
        k = rng.standard_normal(k_shape) / np.sqrt(np.prod(k_shape[1:]))
        ref = conv(torch.from_numpy(x), torch.from_numpy(k), stride=stride, padding=padding).numpy()
        call = bind(x, k, None, stride, padding, 1, 1, "channels_first", d, False).call
        parts = [("forward", algorithm(np, call), ref)]
        g = rng.standard_normal(ref.shape)
        adjoint = winograd.as_convolution(call.adjoint())
        if adjoint is not None:
            gx = getattr(torch.nn.functional, f"conv_transpose{d}d")(
                torch.from_numpy(g), torch.from_numpy(k), stride=stride, padding=padding
            ).numpy()
            parts.append(("input gradient", algorithm(np, adjoint), gx))
        if winograd.choose(np, call) is not None:
            kt = torch.from_numpy(k).requires_grad_()
            y = conv(torch.from_numpy(x), kt, stride=stride, padding=padding)
            y.backward(torch.from_numpy(g))
            parts.append(("weight gradient", algorithm(np, call), kt.grad.numpy()))
        for part, algo, expected in parts:
            for dtype in dtypes:
                xs, ks, gs = x.astype(dtype), k.astype(dtype), g.astype(dtype)
                if part == "forward":
                    y = pc.conv(xs, ks, None, stride, padding, path="generic")
                elif part == "input gradient":
                    y = pc.conv_transpose(gs, ks, None, stride, padding, path="generic")
                else:
                    kv = pc.autograd.Variable(ks, requires_grad=True)
                    op = getattr(pc.autograd, f"conv{d}d")
                    out = op(xs, kv, None, stride, padding, path="generic")
                    (out * gs).sum().backward()
                    y = kv.grad
                rows.append(
                    dict(
                        workload=name,
                        part=part,
                        algorithm=algo,
                        dtype=dtype,
                        error=_relative(y, expected),
                    )
                )
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dtypes", default="float32,float64", help="comma-separated")
    p.add_argument("--batch", type=int, default=8, help="examples per W2-W7 workload")
    args = p.parse_args(argv)
    try:
        import torch  # noqa: F401 - the reference
    except ImportError:
        print("benchmarks/accuracy.py needs PyTorch for its float64 reference", file=sys.stderr)
        return 2
    rows = measure(tuple(args.dtypes.split(",")), args.batch)
    print("| workload | part | algorithm | dtype | max relative error |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['workload']} | {r['part']} | {r['algorithm']} | {r['dtype']} "
            f"| {r['error']:.1e} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
