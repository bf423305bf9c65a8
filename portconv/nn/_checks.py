"""Checks of the scalar arguments of layers, models and optimisers (sizes, rates, epsilons).

Each function names the argument, the value given and what is allowed, and raises portconv's
own errors; the array arguments of ops are checked in :mod:`portconv.ops._args`.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from ..errors import ArgumentError, ArrayTypeError


def _shown(value: Any) -> str:
    kind = type(value).__name__
    return f"{value!r} (a {kind})" if not isinstance(value, int | float) else repr(value)


def _interval(low: Any, high: Any, low_open: bool, high_open: bool) -> str:
    if low is not None and high is not None:
        return f" in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if low is not None:
        return f" {'>' if low_open else '>='} {low:g}"
    if high is not None:
        return f" {'<' if high_open else '<='} {high:g}"
    return ""


def positive_int(name: str, value: Any) -> int:
    """``value`` as an int >= 1 (a Python or NumPy integer, never a bool, float or str)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ArrayTypeError(f"{name}: expected a positive int, got {_shown(value)}")
    if value < 1:
        raise ArgumentError(f"{name}: expected a positive int, got {value!r}")
    return int(value)


def real_number(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """``value`` as a finite float in the interval given (``[low, high]``; an open end with
    ``low_open``/``high_open``); refuses bools, strings, NaN and infinities."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ArrayTypeError(f"{name}: expected a real number, got {_shown(value)}")
    v = float(value)
    where = _interval(low, high, low_open, high_open)
    if not math.isfinite(v):
        raise ArgumentError(f"{name}: expected a finite number{where}, got {value!r}")
    if low is not None and (v < low or (low_open and v == low)):
        raise ArgumentError(f"{name}: expected a number{where}, got {value!r}")
    if high is not None and (v > high or (high_open and v == high)):
        raise ArgumentError(f"{name}: expected a number{where}, got {value!r}")
    return v


def positive_number(name: str, value: Any) -> float:
    """``value`` as a finite float > 0."""
    return real_number(name, value, low=0.0, low_open=True)


def flag(name: str, value: Any) -> bool:
    """``value`` as a bool: True, False (or a NumPy bool, or the ints 0 and 1)."""
    if isinstance(value, bool):
        return value
    if type(value).__name__ == "bool_" or (
        isinstance(value, numbers.Integral) and int(value) in (0, 1)
    ):
        return bool(value)
    raise ArrayTypeError(f"{name}: expected True or False, got {_shown(value)}")


def in_size(name: str, value: Any, *, infer: bool) -> int | None:
    """A declared input size (``in_channels``, ``in_features``, ``num_features``): a positive
    int; with ``infer`` (Gluon's convention), None or 0 mean "from the first input" and give
    None."""
    if infer and (
        value is None
        or (isinstance(value, numbers.Integral) and not isinstance(value, bool) and value == 0)
    ):
        return None
    return positive_int(name, value)
