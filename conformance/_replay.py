"""The book's "learning a kernel" runs (5.2.4 / 7.2.4), recovered from their logs.

Each run starts from random weights that the book does not print, then trains a 1x2 kernel by
gradient descent on the squared error and prints some losses and the learned kernel. The
training is a deterministic function of the start, so the start can be recovered from what is
printed: :func:`recover` searches the framework's initialisation range for the start whose
trajectory reproduces every printed figure to its printed precision (a grid, then Gauss-Newton
on the residuals measured in units of half the last printed digit). The trajectory used here is
an independent float64 NumPy computation; the cases then replay the book's code with portconv
on the backend under test, from the recovered start, and compare with the printed figures.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: the book's image: ones with a black band in columns 2..5 (5.2.3)
EDGES = np.ones((6, 8))
EDGES[:, 2:6] = 0.0
#: the kernel that made Y = corr2d(X, K)
K_TRUE = np.array([1.0, -1.0])


@dataclass(frozen=True)
class Log:
    """What a run prints: ``losses`` maps an iteration (1-based, the loss computed before that
    iteration's update) to (value, printed decimals); ``kernel`` is the printed final kernel
    and its decimals; ``init`` the framework's default initialisation range of the weights."""

    steps: int
    lr: float
    losses: dict[int, tuple[float, int]]
    kernel: tuple[tuple[float, float], int]
    init: tuple[float, float]
    init_name: str


def trajectory(w0: np.ndarray, steps: int, lr: float) -> tuple[np.ndarray, np.ndarray]:
    """Losses before each update, shape ``(G, steps)``, and final weights ``(G, 2)`` for a
    batch of starts ``w0`` of shape ``(G, 2)`` (no bias: it is absent or stays zero)."""
    x0, x1 = EDGES[:, :-1], EDGES[:, 1:]
    y = K_TRUE[0] * x0 + K_TRUE[1] * x1
    w = np.array(w0, dtype=np.float64).reshape(-1, 2)
    losses = np.empty((w.shape[0], steps))
    for t in range(steps):
        r = w[:, 0, None, None] * x0 + w[:, 1, None, None] * x1 - y
        losses[:, t] = (r**2).sum(axis=(1, 2))
        grad = np.stack([2 * (r * x0).sum(axis=(1, 2)), 2 * (r * x1).sum(axis=(1, 2))], axis=1)
        w = w - lr * grad
    return losses, w


def _residuals(log: Log, w0: np.ndarray) -> np.ndarray:
    """Printed-minus-reproduced figures in units of half the last printed digit ``(G, m)``."""
    losses, final = trajectory(w0, log.steps, log.lr)
    cols = []
    for it, (value, dec) in sorted(log.losses.items()):
        cols.append((losses[:, it - 1] - value) / (0.5 * 10.0**-dec))
    (k0, k1), dec = log.kernel
    cols.append((final[:, 0] - k0) / (0.5 * 10.0**-dec))
    cols.append((final[:, 1] - k1) / (0.5 * 10.0**-dec))
    return np.stack(cols, axis=1)


def recover(log: Log) -> tuple[np.ndarray, float]:
    """The start that reproduces the log, and its largest residual (at most 1 means every
    printed figure is reproduced to its printed precision)."""
    low, high = log.init
    # a margin beyond the range, so that a start outside it is found (and reported) too
    span = np.linspace(low - (high - low) / 2, high + (high - low) / 2, 121)
    grid = np.stack(np.meshgrid(span, span, indexing="ij"), axis=-1).reshape(-1, 2)
    w = grid[np.argmin((_residuals(log, grid) ** 2).sum(axis=1))]
    for _ in range(50):  # Gauss-Newton with a central-difference Jacobian
        r = _residuals(log, w[None])[0]
        h = 1e-7
        jac = np.stack(
            [
                (_residuals(log, (w + h * e)[None])[0] - _residuals(log, (w - h * e)[None])[0])
                / (2 * h)
                for e in np.eye(2)
            ],
            axis=1,
        )
        step = np.linalg.lstsq(jac, -r, rcond=None)[0]
        w = w + step
        if np.max(np.abs(step)) < 1e-13:
            break
    return w, float(np.max(np.abs(_residuals(log, w[None])[0])))


def plausibility(log: Log, w0: np.ndarray) -> str:
    """Says whether the recovered start lies in the framework's initialisation range."""
    low, high = log.init
    inside = bool(np.all((w0 >= low) & (w0 <= high)))
    where = "inside" if inside else "OUTSIDE"
    return (
        f"recovered start w0 = [{w0[0]:.7f}, {w0[1]:.7f}], {where} {log.init_name} "
        f"U({low:g}, {high:g})"
    )


def register(
    seed: str,
    *,
    log_cell: str,
    log_text: str,
    kernel_cell: str,
    kernel_text: str,
    steps: int,
    lr: float,
    init: tuple[float, float],
    init_name: str,
    gluon: bool,
    kernel_shape: tuple[int, ...],
    printed_kernel: str | None,
) -> None:
    """Register the two cases of one learning-a-kernel run: its loss log and its learned
    kernel, both replayed with portconv from the start recovered from the documented text."""
    import portconv as pc

    from . import _parse
    from ._registry import case

    losses = _parse.loss_log(log_text)
    kernel, decimals = _parse.flat_numbers(kernel_text)
    log = Log(steps, lr, losses, ((kernel[0], kernel[1]), decimals), init, init_name)
    start, worst = recover(log)
    note = (
        f"{plausibility(log, start)}; the float64 replay reproduces every printed figure "
        f"within {worst:.2f} of half its last digit"
    )
    # float32 replay on the backend: half the last printed digit, plus float32 round-off
    loss_atol = 0.5 * 10.0 ** -max(d for _, d in losses.values()) + 1e-5
    kernel_atol = 0.5 * 10.0**-decimals + 5e-7

    def replay(bk):
        """The book's loop, on the backend under test, from the recovered start."""
        X = bk.array(EDGES.reshape(1, 1, 6, 8))
        Y = pc.corr2d(bk.array(EDGES), bk.array([[1.0, -1.0]]))
        Y = pc.autograd.reshape(Y, (1, 1, 6, 7)).data
        if gluon:
            conv2d = pc.nn.Conv2D(channels=1, kernel_size=(1, 2))
            state = {"weight": start.reshape(1, 1, 1, 2), "bias": np.zeros(1)}
        else:
            conv2d = pc.nn.Conv2d(1, 1, kernel_size=(1, 2), bias=False)
            state = {"weight": start.reshape(1, 1, 1, 2)}
        conv2d.load_state_dict({k: v.astype(np.float32) for k, v in state.items()})
        printed = []
        for i in range(steps):
            Y_hat = conv2d(X)
            l = (Y_hat - Y) ** 2
            conv2d.zero_grad()
            l.sum().backward()
            conv2d.weight.data = conv2d.weight.data - lr * conv2d.weight.grad
            if i + 1 in losses:
                printed.append(float(bk.to_numpy(l.sum().data)))
        return printed, conv2d.weight.data

    from ._registry import Noted

    @case(
        seed,
        log_cell,
        "learning a kernel: the loss log, replayed from the recovered start",
        log_text,
        expected=[v for _, (v, _) in sorted(losses.items())],
        rule="close",
        atol=loss_atol,
    )
    def kernel_loss_log(bk):
        printed, _ = replay(bk)
        return Noted(printed, note)

    @case(
        seed,
        kernel_cell,
        "learning a kernel: the learned kernel",
        kernel_text,
        expected=np.reshape(kernel, kernel_shape).tolist(),
        rule="close",
        atol=kernel_atol,
        printed=printed_kernel,
    )
    def learned_kernel(bk):
        _, weight = replay(bk)
        return Noted(pc.autograd.reshape(weight, kernel_shape).data, note)
