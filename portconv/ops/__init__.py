"""Functional ops, each written once against the array API standard, forward and backward
side by side: ``conv.py`` (convolution), ``conv_transpose.py``, ``pool.py`` (max and average
pooling), ``adaptive.py`` (adaptive and global pooling), ``unpool.py`` (max unpooling),
``upsample.py`` (nearest-neighbour resizing), and the rest of the family in their own modules;
``_call.py`` holds the call descriptions and every padding and output-size rule,
``_common.py`` the dispatch, ``_indices.py`` scattering to indices."""

from .adaptive import (
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    adaptive_avg_pool3d,
    adaptive_max_pool1d,
    adaptive_max_pool2d,
    adaptive_max_pool3d,
    global_avg_pool,
    global_max_pool,
)
from .conv import conv, conv1d, conv2d, conv3d, conv_output_shape, convolve, corr2d
from .deform import deform_conv2d
from .fractional import fractional_max_pool2d, fractional_max_pool3d
from .lp_pool import lp_pool1d, lp_pool2d, lp_pool3d
from .pool import (
    avg_pool,
    avg_pool1d,
    avg_pool2d,
    avg_pool3d,
    max_pool,
    max_pool1d,
    max_pool2d,
    max_pool3d,
    pool2d,
    pool_output_shape,
)
from .qconv import conv_integer, qlinear_conv
from .unpool import max_unpool1d, max_unpool2d, max_unpool3d
from .upsample import interpolate

__all__ = [
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
    "global_avg_pool",
    "global_max_pool",
    "interpolate",
    "lp_pool1d",
    "lp_pool2d",
    "lp_pool3d",
    "max_pool",
    "max_pool1d",
    "max_pool2d",
    "max_pool3d",
    "max_unpool1d",
    "max_unpool2d",
    "max_unpool3d",
    "pool2d",
    "pool_output_shape",
    "qlinear_conv",
]
