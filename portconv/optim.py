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
from .nn._checks import flag, positive_number, real_number
from .ops._common import prepare


class Optimizer:
    """The base of the optimisers: the parameters, the learning rate and per-parameter state.

    Parameters
    ----------
    params : iterable of Parameter
        What to update, usually ``model.parameters()``; each at most once. Parameters that a
        model's lazy layers have yet to create (``parameters().missing``) are refused: an
        optimiser made before them would never update them.
    lr : float
        The learning rate, a finite number > 0.

    Raises
    ------
    ArgumentError
        No parameters, some not created yet, one given twice, or a hyperparameter out of its
        range (each subclass checks its own).
    ArrayTypeError
        Something other than Parameters, or a hyperparameter that is not a real number.
    """

    def __init__(self, params: Iterable[Variable], lr: float) -> None:
        from .nn.module import Module

        if isinstance(params, Module):
            raise ArrayTypeError(
                f"params: expected the model's parameters (model.parameters()), got the model "
                f"itself ({type(params).__name__})"
            )
        if isinstance(params, Variable) or not isinstance(params, Iterable):
            raise ArrayTypeError(
                f"params: expected an iterable of Parameters (model.parameters()), got "
                f"{describe_type(params)}"
            )
        missing = tuple(getattr(params, "missing", ()))
        self.params = list(params)
        if missing:
            shown = ", ".join(missing[:4]) + (", ..." if len(missing) > 4 else "")
            raise ArgumentError(
                f"params: {len(missing)} parameter(s) of the model do not exist yet ({shown}): "
                f"their layers take their input size from the first call. Call the model once "
                f"first (one batch will do), or give every layer its input size "
                f"(Conv2d(1, 6, 5) rather than LazyConv2d(6, 5)), then make the optimiser"
            )
        if not self.params:
            raise ArgumentError(
                "params: expected at least one parameter (call the model once "
                "first so that lazily shaped parameters exist)"
            )
        seen: set[int] = set()
        for i, p in enumerate(self.params):
            if not isinstance(p, Variable):
                raise ArrayTypeError(f"params[{i}]: expected a Parameter, got {describe_type(p)}")
            if id(p) in seen:
                raise ArgumentError(
                    f"params[{i}]: given more than once (it would be updated twice per step)"
                )
            seen.add(id(p))
        self.lr = positive_number("lr", lr)
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
    """Stochastic gradient descent with ``torch.optim.SGD``'s update rule.

    ``g += weight_decay * w``; with momentum, ``b = momentum * b + (1 - dampening) * g``
    (``b = g`` on the first step) and ``g = b`` (or ``g + momentum * b`` with Nesterov);
    then ``w -= lr * g``.

    Parameters
    ----------
    params : iterable of Parameter
        What to update, usually ``model.parameters()``.
    lr : float
        The learning rate, a finite number > 0.
    momentum : float, default 0
        In [0, 1).
    weight_decay : float, default 0
        A finite number >= 0.
    dampening : float, default 0
        In [0, 1].
    nesterov : bool, default False
        Nesterov momentum (needs ``momentum > 0`` and ``dampening = 0``).

    Raises
    ------
    ArgumentError
        A value out of its range (infinite or NaN included), no parameters, or parameters
        that a lazy layer has yet to create.
    ArrayTypeError
        A hyperparameter that is not a real number, or params that are not Parameters.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn, optim
    >>> fc = nn.Linear(3, 1)
    >>> opt = optim.SGD(fc.parameters(), lr=0.1, momentum=0.9)
    >>> optim.SGD(fc.parameters(), lr=float("inf"))
    Traceback (most recent call last):
    ...
    portconv.errors.ArgumentError: lr: expected a finite number > 0, got inf
    """

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
        self.momentum = real_number("momentum", momentum, low=0.0, high=1.0, high_open=True)
        self.weight_decay = real_number("weight_decay", weight_decay, low=0.0)
        self.dampening = real_number("dampening", dampening, low=0.0, high=1.0)
        self.nesterov = flag("nesterov", nesterov)
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ArgumentError("nesterov: needs momentum > 0 and dampening 0")

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
    """Adam (Kingma & Ba, with bias correction) with ``torch.optim.Adam``'s update rule;
    ``weight_decay`` adds ``weight_decay * w`` to the gradient, as PyTorch's Adam does.

    Parameters
    ----------
    params : iterable of Parameter
        What to update, usually ``model.parameters()``.
    lr : float, default 1e-3
        The learning rate, a finite number > 0.
    betas : (float, float), default (0.9, 0.999)
        Decay rates of the first and second moment estimates, each in [0, 1).
    eps : float, default 1e-8
        Added to the denominator, a finite number > 0.
    weight_decay : float, default 0
        A finite number >= 0.

    Raises
    ------
    ArgumentError
        A value out of its range (infinite or NaN included), no parameters, or parameters
        that a lazy layer has yet to create.
    ArrayTypeError
        A hyperparameter that is not a real number, or params that are not Parameters.

    Examples
    --------
    >>> from portconv import nn, optim
    >>> opt = optim.Adam(nn.Linear(3, 1).parameters(), lr=1e-3)
    >>> optim.Adam(nn.Linear(3, 1).parameters(), eps=0)
    Traceback (most recent call last):
    ...
    portconv.errors.ArgumentError: eps: expected a number > 0, got 0
    """

    def __init__(
        self,
        params: Iterable[Variable],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr)
        if isinstance(betas, str) or not isinstance(betas, Iterable) or len(tuple(betas)) != 2:
            raise ArgumentError(f"betas: expected two numbers in [0, 1), got {betas!r}")
        b1, b2 = (
            real_number(f"betas[{i}]", b, low=0.0, high=1.0, high_open=True)
            for i, b in enumerate(tuple(betas))
        )
        self.b1, self.b2 = b1, b2
        self.eps = real_number("eps", eps, low=0.0, low_open=True)
        self.weight_decay = real_number("weight_decay", weight_decay, low=0.0)

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
