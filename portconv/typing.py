"""Type annotations for code that calls portconv.

portconv takes its array library from its inputs, so its signatures cannot name one array
class. :class:`Array` is what they name instead: any object with the attributes every
supported library's arrays share (``shape``, ``dtype``, ``ndim``), whichever library made it.

Examples
--------
>>> import numpy as np
>>> from portconv.typing import Array
>>> isinstance(np.zeros((2, 3)), Array)
True
>>> isinstance([[0.0, 1.0]], Array)  # a nested list is data, not an array
False
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

__all__ = ["Array", "Device", "DType"]


@runtime_checkable
class Array(Protocol):
    """An array of any library portconv runs on.

    NumPy's ``ndarray``, PyTorch's ``Tensor``, MXNet's ``mx.np.ndarray`` and legacy
    ``mx.nd.NDArray``, CuPy's ``ndarray``, array-api-strict's arrays and ``dask.array.Array``
    all satisfy it. It is a structural type for readers and type checkers: an op's result
    is an array of the same library as its input, which this protocol cannot express, and
    the docstrings say.

    Attributes
    ----------
    shape : tuple of int
        The size of each axis (``torch.Size`` on PyTorch; ``nan`` for unknown Dask chunks).
    dtype : object
        The library's own dtype object (``numpy.float32``, ``torch.float32``, ...).
    ndim : int
        The number of axes.

    Examples
    --------
    >>> import numpy as np
    >>> from portconv.typing import Array
    >>> def channels(x: Array) -> int:
    ...     return int(x.shape[1])
    >>> channels(np.zeros((8, 3, 32, 32)))
    3
    """

    @property
    def shape(self) -> Any: ...

    @property
    def dtype(self) -> Any: ...

    @property
    def ndim(self) -> int: ...


#: A library's device object (``"cpu"``, ``torch.device("cuda:0")``, ``mx.gpu(0)``, ...).
Device = Any

#: A library's dtype object, or a dtype's name such as ``"float32"``.
DType = Any
