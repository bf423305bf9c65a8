"""Per-context settings: which path runs (generic or native) and the working-memory budget.

Settings live in context variables, so a ``with portconv.config(...)`` block affects only the
thread (or asyncio task) that entered it.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

from .errors import ArgumentError

PATHS = ("auto", "generic", "native")

#: default budget for one op's temporary buffers (column buffers, padded tiles): 32 MiB. Tiles
#: this size keep a ResNet 3x3 convolution's extra memory within 1.5x PyTorch's and are
#: faster than larger ones (they stay nearer the caches); see the Performance page
DEFAULT_MEMORY_BUDGET = 32 * 2**20

_path: contextvars.ContextVar[str] = contextvars.ContextVar("portconv_path", default="auto")
_budget: contextvars.ContextVar[int] = contextvars.ContextVar(
    "portconv_memory_budget", default=DEFAULT_MEMORY_BUDGET
)


def check_path(path: str) -> str:
    if path not in PATHS:
        raise ArgumentError(f"path: expected one of {', '.join(map(repr, PATHS))}, got {path!r}")
    return path


def current_path() -> str:
    """The path in force: "auto" (native where it computes exactly the requested semantics,
    else generic), "generic" (always the array API implementation) or "native" (the
    backend's own kernel; an error where it cannot compute the request)."""
    return _path.get()


def memory_budget() -> int:
    """Bytes one op may use for its temporary window buffer before it tiles its work."""
    return _budget.get()


@contextlib.contextmanager
def config(*, path: str | None = None, memory_budget: int | None = None) -> Iterator[None]:
    """Set the path and/or memory budget inside a ``with`` block::

    with portconv.config(path="generic"):
        y = portconv.conv2d(x, w)      # the array API implementation, even on torch
    """
    tokens = []
    if path is not None:
        tokens.append((_path, _path.set(check_path(path))))
    if memory_budget is not None:
        if (
            isinstance(memory_budget, bool)
            or not isinstance(memory_budget, int)
            or (memory_budget < 1)
        ):
            raise ArgumentError(
                f"memory_budget: expected a positive number of bytes, got {memory_budget!r}"
            )
        tokens.append((_budget, _budget.set(memory_budget)))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)
