"""Per-context settings: which path runs (generic or native), the working-memory budget and
the threads the generic kernels may use.

Settings live in context variables, so a ``with portconv.config(...)`` block affects only the
thread (or asyncio task) that entered it.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
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

_threads: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "portconv_threads", default=None
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


def threads() -> int:
    """The most threads a generic kernel may run its independent tiles on (where the backend
    allows it: NumPy's elementwise work releases the GIL): ``portconv.config(threads=...)``,
    by default the CPUs this process may run on."""
    chosen = _threads.get()
    if chosen is not None:
        return chosen
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _positive(name: str, value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ArgumentError(f"{name}: expected a positive {what}, got {value!r}")
    return value


@contextlib.contextmanager
def config(
    *, path: str | None = None, memory_budget: int | None = None, threads: int | None = None
) -> Iterator[None]:
    """Set the path, memory budget and/or threads inside a ``with`` block::

    with portconv.config(path="generic"):
        y = portconv.conv2d(x, w)      # the array API implementation, even on torch
    with portconv.config(threads=1):
        y = portconv.max_pool2d(x, 3)  # NumPy's tiles one after another, on one core

    ``threads`` caps the threads that the generic kernels run independent tiles on (pooling
    on NumPy arrays; the BLAS's own threads are the BLAS's, see ``threadpoolctl``); the
    memory budget is shared between the tiles in flight.
    """
    tokens = []
    if path is not None:
        tokens.append((_path, _path.set(check_path(path))))
    if memory_budget is not None:
        _positive("memory_budget", memory_budget, "number of bytes")
        tokens.append((_budget, _budget.set(memory_budget)))
    if threads is not None:
        _positive("threads", threads, "int")
        tokens.append((_threads, _threads.set(threads)))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)
