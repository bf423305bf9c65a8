"""portconv: the convolution chapters of *Dive into Deep Learning*, written once against the
Python array API standard, running on NumPy, CuPy, PyTorch, MXNet and array-api-strict.

Every op takes its array library from its inputs and returns arrays of that library, on the
caller's device::

    import numpy as np, portconv as pc
    pc.corr2d(np.array([[0., 1, 2], [3, 4, 5], [6, 7, 8]]), np.array([[0., 1], [2, 3]]))
"""

import os as _os


def _adapters_of_a_source_checkout() -> None:
    """Installed, the adapters are the subpackage ``portconv/backends``. In a source checkout
    (``python -m conformance.run`` from the repository root, say) they are the top-level folder
    ``backends/`` beside this package: let ``portconv.backends`` find them there."""
    here = _os.path.dirname(_os.path.abspath(__file__))
    root = _os.path.dirname(here)
    if _os.path.isdir(_os.path.join(here, "backends")):
        return
    marker = _os.path.join(root, "pyproject.toml")
    adapter = _os.path.join(root, "backends", "_adapter.py")
    if _os.path.isfile(adapter) and _os.path.isfile(marker):
        with open(marker, encoding="utf-8") as f:
            if 'name = "portconv"' in f.read():
                __path__.append(root)  # noqa: F821  (the package's own __path__)


_adapters_of_a_source_checkout()

from . import autograd, data, models, nn, optim, porting, train
from ._config import config
from ._dispatch import (
    Backend,
    adapters,
    asarray,
    backend_names,
    backend_of,
    get_adapter,
    register,
    resolve,
)
from .convert import convert
from .errors import ArgumentError, ArrayTypeError, BackendUnavailableError, PortconvError
from .ops import (
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    adaptive_avg_pool3d,
    adaptive_max_pool1d,
    adaptive_max_pool2d,
    adaptive_max_pool3d,
    avg_pool,
    avg_pool1d,
    avg_pool2d,
    avg_pool3d,
    conv,
    conv1d,
    conv2d,
    conv3d,
    conv_integer,
    conv_output_shape,
    convolve,
    corr2d,
    deform_conv2d,
    fractional_max_pool2d,
    fractional_max_pool3d,
    global_avg_pool,
    global_max_pool,
    interpolate,
    lp_pool1d,
    lp_pool2d,
    lp_pool3d,
    max_pool,
    max_pool1d,
    max_pool2d,
    max_pool3d,
    max_unpool1d,
    max_unpool2d,
    max_unpool3d,
    pool2d,
    pool_output_shape,
    qlinear_conv,
)
from .ops.conv_transpose import (
    conv_transpose,
    conv_transpose1d,
    conv_transpose2d,
    conv_transpose3d,
)

__version__ = "0.1.0"

__all__ = [
    "ArgumentError",
    "ArrayTypeError",
    "Backend",
    "BackendUnavailableError",
    "PortconvError",
    "adapters",
    "asarray",
    "backend_names",
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_avg_pool3d",
    "adaptive_max_pool1d",
    "adaptive_max_pool2d",
    "adaptive_max_pool3d",
    "avg_pool",
    "avg_pool1d",
    "avg_pool2d",
    "avg_pool3d",
    "backend_of",
    "config",
    "conv",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_integer",
    "conv_output_shape",
    "convolve",
    "corr2d",
    "deform_conv2d",
    "fractional_max_pool2d",
    "fractional_max_pool3d",
    "get_adapter",
    "global_avg_pool",
    "global_max_pool",
    "lp_pool1d",
    "lp_pool2d",
    "lp_pool3d",
    "max_pool",
    "max_pool1d",
    "max_pool2d",
    "max_pool3d",
    "interpolate",
    "max_unpool1d",
    "max_unpool2d",
    "max_unpool3d",
    "pool2d",
    "pool_output_shape",
    "qlinear_conv",
    "register",
    "resolve",
    "autograd",
    "data",
    "models",
    "nn",
    "optim",
    "porting",
    "train",
    "conv_transpose",
    "convert",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
]
