"""portconv: the convolution chapters of *Dive into Deep Learning*, written once against the
Python array API standard, running on NumPy, CuPy, PyTorch, MXNet and array-api-strict.

Every op takes its array library from its inputs and returns arrays of that library, on the
caller's device::

    import numpy as np, portconv as pc
    pc.corr2d(np.array([[0., 1, 2], [3, 4, 5], [6, 7, 8]]), np.array([[0., 1], [2, 3]]))
"""

from ._dispatch import Backend, adapters, backend_of, get_adapter, register
from .errors import ArgumentError, ArrayTypeError, BackendUnavailableError, PortconvError
from .ops import corr2d

__version__ = "0.1.0"

__all__ = [
    "ArgumentError",
    "ArrayTypeError",
    "Backend",
    "BackendUnavailableError",
    "PortconvError",
    "adapters",
    "backend_of",
    "corr2d",
    "get_adapter",
    "register",
]
