"""A model as a pure function of its parameters: what ``jax.jit``, ``jax.grad`` and
``jax.vmap`` (or ``torch.func``) transform.

:func:`to_functional` (also ``model.functional()``) returns ``apply`` and the parameters as a
plain dict, name -> array (PyTorch's names, a JAX pytree)::

    apply, params = to_functional(model)
    logits = apply(params, x)                          # model(x).data, with these parameters
    grads = jax.grad(lambda p: loss(apply(p, x), y))(params)

``apply`` swaps the arrays it is given into the model's parameters for the length of one
call, runs the model without recording a portconv graph, and puts the model's own arrays back:
the model is never changed, and the result depends on nothing but the arguments, so JAX may
trace it (every portconv op accepts tracers) and compile it. Only the model's public API is
read: :meth:`~portconv.nn.Module.named_parameters`, ``named_buffers``, ``children`` and
``register_buffer``.

Running statistics (batch normalisation) are state, not parameters: with ``state=True``,
``apply(params, state, x)`` returns ``(output, new_state)``, the statistics a training-mode
call moved, as Flax's ``mutable=["batch_stats"]`` does; otherwise the model's own statistics
are read, and a training-mode call that would move them is refused (its update would be
lost).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from .. import autograd as ag
from ..autograd import Variable
from ..errors import ArgumentError, ArrayTypeError, describe_type
from .layers import Dropout
from .module import Module

__all__ = ["to_functional"]


def _buffer_slots(model: Module) -> dict[str, tuple[Module, str]]:
    """Full buffer name -> (owning module, local name), through the public API."""
    slots: dict[str, tuple[Module, str]] = {}

    def walk(m: Module, prefix: str) -> None:
        for full, _ in m.named_buffers(prefix):
            local = full[len(prefix) :]
            if "." not in local:
                slots[full] = (m, local)
        for name, child in m.children():
            walk(child, f"{prefix}{name}.")

    walk(model, "")
    return slots


def _check_names(what: str, given: Any, expected: Mapping[str, Any]) -> None:
    if not isinstance(given, Mapping):
        raise ArrayTypeError(
            f"{what}: expected a dict of name -> array (as to_functional returned it), got "
            f"{describe_type(given)}"
        )
    if given.keys() != expected.keys():
        missing = [n for n in expected if n not in given]
        unexpected = [n for n in given if n not in expected]
        raise ArgumentError(
            f"{what}: names do not match the model"
            + (f"; missing: {', '.join(missing)}" if missing else "")
            + (f"; unexpected: {', '.join(map(str, unexpected))}" if unexpected else "")
        )
    for name, value in given.items():
        shape = tuple(getattr(value, "shape", ()))
        want = tuple(expected[name].shape)
        if shape != want:
            raise ArgumentError(
                f"{what}[{name!r}]: shape {shape} does not match the model's {want}"
            )


def _unwrap(out: Any) -> Any:
    if isinstance(out, Variable):
        return out.data
    if isinstance(out, (tuple, list)):
        return type(out)(_unwrap(o) for o in out)
    return out


def to_functional(
    model: Module, *, state: bool = False, example: Any = None
) -> tuple[Callable[..., Any], dict[str, Any]] | tuple[Callable[..., Any], dict, dict]:
    """``model`` as a pure function and its parameters as a dict (a pytree).

    Parameters
    ----------
    model : Module
        A portconv model whose parameters exist (call it once on an input, or give
        ``example``).
    state : bool
        False (default): ``apply(params, *inputs) -> output``. True: the running statistics
        are an argument and a result too, ``apply(params, state, *inputs) -> (output,
        new_state)``.
    example : array, optional
        An input to create the parameters of a model that has not run yet (one call in
        evaluation mode, without gradients).

    Returns
    -------
    apply : callable
        ``apply(params, *inputs)`` (or ``apply(params, state, *inputs)``): the model's output
        for these parameters, as an array (``model(*inputs).data``), computed in the mode
        (training or evaluation) the model is in when ``apply`` runs.
    params : dict
        Name -> array: the model's parameters now (PyTorch's names, the model's library).
    state : dict
        With ``state=True`` only: name -> array, the running statistics now.

    Raises
    ------
    ArgumentError
        A model without parameters; at call time, parameters or state whose names or shapes
        do not match the model; a training-mode call of a model with running statistics
        without ``state=True``; a training-mode call of a model with dropout (its masks come
        from a host generator, so such a call is no pure function: under ``jax.jit`` one mask
        would be drawn at tracing and repeated).
    ArrayTypeError
        ``model`` is not a portconv Module, or ``params`` is not a dict.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv import nn
    >>> model = nn.Sequential(nn.LazyConv2d(2, 3), nn.ReLU(), nn.Flatten(), nn.LazyLinear(3))
    >>> x = np.ones((4, 1, 5, 5), np.float32)
    >>> apply, params = nn.to_functional(model, example=x)
    >>> list(params)
    ['0.weight', '0.bias', '3.weight', '3.bias']
    >>> np.allclose(apply(params, x), model(x).data)
    True
    >>> zeros = {name: np.zeros_like(p) for name, p in params.items()}
    >>> apply(zeros, x)[0]
    array([0., 0., 0.], dtype=float32)

    With JAX, the same function is jitted and differentiated::

        grads = jax.jit(jax.grad(lambda p: loss(apply(p, x), y)))(params)
    """
    if not isinstance(model, Module):
        raise ArrayTypeError(f"model: expected a portconv.nn.Module, got {describe_type(model)}")
    if example is not None:
        was_training = model.training
        model.eval()
        try:
            with ag.no_grad():
                model(example)
        finally:
            model.train(was_training)
    named = list(model.named_parameters())
    if not named:
        raise ArgumentError(
            f"model: {type(model).__name__} has no parameters yet: call it once on an input "
            f"(or give example=) so that its lazy layers create them"
        )
    # parameters loaded before a first call follow the model's first array from now on, so
    # that a call never has to move them (an argument may be traced)
    model.to(named[0][1].data)
    params = {name: p.data for name, p in model.named_parameters()}
    slots = _buffer_slots(model)
    buffers = dict(model.named_buffers())
    dropouts = [m for m in model.modules() if isinstance(m, Dropout) and m.p > 0.0]
    lock = threading.RLock()  # one call at a time swaps the model's arrays

    def run(new_params: Mapping[str, Any], new_state: Mapping[str, Any] | None, inputs):
        if model.training and dropouts:
            raise ArgumentError(
                "model: in training mode its Dropout layers draw masks from portconv's host "
                "generator, so a functional call is no pure function (under jax.jit one mask "
                "would be drawn once and repeated); call model.eval() first, or train it "
                "through portconv.autograd (train.fit)"
            )
        if not inputs:
            raise ArgumentError("inputs: apply(params, *inputs) needs at least one input")
        _check_names("params", new_params, params)
        with lock:
            current = dict(model.named_buffers())
            if new_state is not None:
                _check_names("state", new_state, current)
            elif model.training and current:
                raise ArgumentError(
                    f"state: {type(model).__name__} in training mode moves its running "
                    f"statistics ({', '.join(current)}), which apply(params, x) would lose; "
                    f"use to_functional(model, state=True) (apply(params, state, x) -> (y, "
                    f"new_state)) or call model.eval() first"
                )
            owners = list(model.named_parameters())
            saved = [p.data for _, p in owners]
            try:
                for name, p in owners:
                    p.data = new_params[name]
                if new_state is not None:
                    for name, value in new_state.items():
                        m, local = slots[name]
                        m.register_buffer(local, value)
                with ag.no_grad():
                    out = _unwrap(model(*inputs))
                moved = dict(model.named_buffers()) if new_state is not None else None
            finally:
                for (_, p), value in zip(owners, saved):
                    p.data = value
                for name, value in current.items():
                    m, local = slots[name]
                    m.register_buffer(local, value)
        return out, moved

    if state:

        def apply_with_state(params: Mapping[str, Any], state: Mapping[str, Any], *inputs):
            """The model's output for ``params``, ``state`` and ``inputs``, and the running
            statistics after the call (unchanged in evaluation mode)."""
            return run(params, state, inputs)

        return apply_with_state, params, buffers

    def apply(params: Mapping[str, Any], *inputs: Any) -> Any:
        """The model's output for ``params`` and ``inputs`` (the model is left as it was)."""
        return run(params, None, inputs)[0]

    return apply, params
