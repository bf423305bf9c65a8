"""Optimisers: SGD (momentum, weight decay, Nesterov) and Adam, with PyTorch's update rules.

Updates are functional: each step replaces a parameter's ``data`` with a new array of the same
library, device and dtype (MXNet's autograd cannot record in-place writes, and array-api-strict
arrays need not support them). The book's own pattern, ``w.data[:] -= lr * w.grad``, works too
wherever the library allows in-place writes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .autograd import Variable
from .errors import ArgumentError, ArrayTypeError, describe_type
from .ops._common import prepare


class Optimizer:
    def __init__(self, params: Iterable[Variable], lr: float) -> None:
        self.params = list(params)
        if not self.params:
            raise ArgumentError(
                "params: expected at least one parameter (call the model once "
                "first so that lazily shaped parameters exist)"
            )
        for i, p in enumerate(self.params):
            if not isinstance(p, Variable):
                raise ArrayTypeError(f"params[{i}]: expected a Parameter, got {describe_type(p)}")
        if not lr > 0:
            raise ArgumentError(f"lr: expected a positive learning rate, got {lr!r}")
        self.lr = float(lr)
        self.state: dict[int, dict[str, Any]] = {}

    def zero_grad(self) -> None:
        for p in self.params:
            p.zero_grad()

    def step(self) -> None:
        updated, be = [], None
        for i, p in enumerate(self.params):
            if p._grad is None:
                continue
            be, xp, (w,) = prepare(p.data)
            new = self.update(xp, i, w, p._grad)
            if new.dtype != w.dtype:  # NumPy < 2 promotes 0-d float32 with Python floats
                new = xp.astype(new, w.dtype)
            updated.append((p, be.adapter.from_standard(new, p.data)))
        if be is not None:  # a lazy library (Dask) computes the new parameters now
            values = be.adapter.settle([value for _, value in updated])
            for (p, _), value in zip(updated, values):
                p.data = value

    def update(self, xp: Any, i: int, w: Any, g: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError


class SGD(Optimizer):
    """``torch.optim.SGD``: ``g += weight_decay * w``; with momentum,
    ``b = momentum * b + (1 - dampening) * g`` (``b = g`` on the first step) and ``g = b``
    (or ``g + momentum * b`` with Nesterov); then ``w -= lr * g``."""

    def __init__(
        self,
        params: Iterable[Variable],
        lr: float,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        dampening: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        super().__init__(params, lr)
        if momentum < 0 or weight_decay < 0:
            raise ArgumentError(
                f"momentum, weight_decay: expected non-negative values, got {momentum!r}, "
                f"{weight_decay!r}"
            )
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ArgumentError("nesterov: needs momentum > 0 and dampening 0")
        self.momentum, self.weight_decay = float(momentum), float(weight_decay)
        self.dampening, self.nesterov = float(dampening), bool(nesterov)

    def update(self, xp: Any, i: int, w: Any, g: Any) -> Any:
        if self.weight_decay:
            g = g + self.weight_decay * w
        if self.momentum:
            st = self.state.setdefault(i, {})
            buf = st.get("momentum")
            buf = g if buf is None else self.momentum * buf + (1.0 - self.dampening) * g
            st["momentum"] = buf
            g = g + self.momentum * buf if self.nesterov else buf
        return w - self.lr * g


class Adam(Optimizer):
    """``torch.optim.Adam`` (Kingma & Ba, with bias correction; ``weight_decay`` adds
    ``weight_decay * w`` to the gradient, as PyTorch's Adam does)."""

    def __init__(
        self,
        params: Iterable[Variable],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr)
        b1, b2 = betas
        if not (0.0 <= b1 < 1.0 and 0.0 <= b2 < 1.0):
            raise ArgumentError(f"betas: expected two numbers in [0, 1), got {betas!r}")
        self.b1, self.b2, self.eps, self.weight_decay = b1, b2, float(eps), float(weight_decay)

    def update(self, xp: Any, i: int, w: Any, g: Any) -> Any:
        if self.weight_decay:
            g = g + self.weight_decay * w
        st = self.state.setdefault(i, {"t": 0, "m": None, "v": None})
        st["t"] += 1
        t = st["t"]
        st["m"] = (1 - self.b1) * g if st["m"] is None else self.b1 * st["m"] + (1 - self.b1) * g
        g2 = g * g
        st["v"] = (1 - self.b2) * g2 if st["v"] is None else self.b2 * st["v"] + (1 - self.b2) * g2
        m_hat = st["m"] / (1 - self.b1**t)
        v_hat = st["v"] / (1 - self.b2**t)
        return w - self.lr * m_hat / (xp.sqrt(v_hat) + self.eps)
