"""Dtype rules of the ops that accept integer arrays.

The convolution and pooling ops of deep learning compute in a floating dtype, and portconv's
refuse integer input with a message saying what to cast (as PyTorch refuses it). Three
places take integers on purpose:

* the book's helpers ``corr2d`` and ``pool2d``, which write into ``zeros(...)`` of the
  library's default floating dtype: integer inputs give that dtype (float32 on PyTorch and
  MXNet, float64 on NumPy), and a floating input's own dtype wins (:func:`book_float`);
* max pooling, which keeps an integer dtype (Keras's and TensorFlow's integer max pooling;
  see ``portconv.ops.pool``);
* the quantized convolutions of ONNX (``conv_integer``, ``qlinear_conv``; see
  ``portconv.ops.qconv``).
"""

from __future__ import annotations

from typing import Any

from ..errors import ArrayTypeError


def is_integer(xp: Any, x: Any) -> bool:
    """Whether ``x`` holds integers (booleans are not)."""
    return xp.isdtype(x.dtype, "integral")


def default_float(xp: Any, device: Any = None) -> Any:
    """The library's default floating dtype (what its ``zeros(shape)`` makes): the dtype the
    standard gives an array made from a Python float."""
    return xp.asarray(0.0, device=device).dtype


def book_float(xp: Any, names: tuple[str, ...], arrays: list[Any], device: Any) -> Any:
    """The floating dtype the book's helpers compute ``arrays`` in: the dtype of the floating
    ones (which must agree), else the library's default floating dtype. Booleans and other
    dtypes are refused, naming the argument."""
    floats = []
    for name, a in zip(names, arrays):
        if xp.isdtype(a.dtype, "real floating"):
            floats.append((name, a.dtype))
        elif not is_integer(xp, a):
            raise ArrayTypeError(
                f"{name}: expected a real floating or integer array, got dtype {a.dtype}"
            )
    if not floats:
        return default_float(xp, device)
    first_name, first = floats[0]
    for name, dtype in floats[1:]:
        if dtype != first:
            raise ArrayTypeError(
                f"{name}: dtype {dtype} differs from {first_name}'s dtype {first}; cast one of "
                f"them so that both share one floating dtype"
            )
    return first
