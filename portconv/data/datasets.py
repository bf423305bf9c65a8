"""The data sets: Fashion-MNIST (the book's), scikit-learn's handwritten digits (offline), and
a synthetic one for tests.

Each loader returns a :class:`Splits` ``(X_train, y_train, X_test, y_test)`` of host NumPy
arrays: images float32 ``(N, 1, H, W)`` scaled to ``[0, 1]`` (or float64, with
``dtype="float64"``), labels int64 ``(N,)``. Move them to a backend batch by batch with
:func:`portconv.data.batches`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from ..errors import ArgumentError
from .download import check_mirrors, data_home, fetch
from .idx import IDXError, read_idx
from .image import resize as _resize
from .loader import check_seed, float_dtype, positive_int

__all__ = [
    "FASHION_MNIST_FILES",
    "FASHION_MNIST_LABELS",
    "FASHION_MNIST_MIRRORS",
    "FASHION_MNIST_SIZES",
    "Splits",
    "fashion_mnist_dir",
    "fashion_mnist_labels",
    "load_digits",
    "load_fashion_mnist",
    "make_synthetic",
]


class Splits(NamedTuple):
    """A data set's training and test splits (host NumPy arrays)."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


# -- Fashion-MNIST -------------------------------------------------------------------------------

#: URL bases tried in order: the copy in Zalando Research's repository (data/fashion/, over
#: HTTPS), then the download links of its README (an S3 website, HTTP only). The checksums below
#: make either safe against corruption.
FASHION_MNIST_MIRRORS: tuple[str, ...] = (
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
)

#: The four files and their MD5 checksums, as published in the "Get the Data" table of
#: https://github.com/zalandoresearch/fashion-mnist (README.md); torchvision's FashionMNIST
#: lists the same.
FASHION_MNIST_FILES: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "md5:8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "md5:25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "md5:bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "md5:bb300cfdad3c16e7a12a480ee83cd310",
}

#: The four files' sizes in bytes (a download is refused as soon as a mirror sends more), as
#: Keras' and torchvision's downloads of the same files report them.
FASHION_MNIST_SIZES: dict[str, int] = {
    "train-images-idx3-ubyte.gz": 26421880,
    "train-labels-idx1-ubyte.gz": 29515,
    "t10k-images-idx3-ubyte.gz": 4422102,
    "t10k-labels-idx1-ubyte.gz": 5148,
}

#: The text labels of classes 0-9 (the book's ``get_fashion_mnist_labels``).
FASHION_MNIST_LABELS: tuple[str, ...] = (
    "t-shirt",
    "trouser",
    "pullover",
    "dress",
    "coat",
    "sandal",
    "shirt",
    "sneaker",
    "bag",
    "ankle boot",
)


def fashion_mnist_labels(labels: Any) -> list[str]:
    """The text labels of class indices (the book's ``get_fashion_mnist_labels``)."""
    return [FASHION_MNIST_LABELS[int(i)] for i in np.asarray(labels).reshape(-1)]


def fashion_mnist_dir(root: str | os.PathLike | None = None) -> str:
    """Where the Fashion-MNIST files are read from and downloaded to: ``<data home>/
    fashion-mnist`` (see :func:`portconv.data.data_home`), or the data home itself if the
    files are already there."""
    home = data_home(root)
    if os.path.exists(os.path.join(home, next(iter(FASHION_MNIST_FILES)))):
        return home
    return os.path.join(home, "fashion-mnist")


def _missing_help(directory: str, files: Mapping[str, str], mirrors: Sequence[str]) -> str:
    names = "\n".join(f"  {name}  ({checksum})" for name, checksum in files.items())
    where = "\n".join(f"  {m}" for m in mirrors)
    return (
        f"Fashion-MNIST needs these {len(files)} files in {directory}:\n{names}\n"
        f"Download them (from one of:\n{where}\n) and put them there, or point root= "
        f"(the command's --data-dir) or the environment variable PORTCONV_DATA at a directory "
        f"that holds them."
    )


def _images_labels(images: np.ndarray, labels: np.ndarray, what: str, dtype: np.dtype) -> tuple:
    if images.ndim != 3 or images.dtype != np.uint8:
        raise IDXError(
            f"{what} images: expected a uint8 array (N, H, W), got {images.dtype} {images.shape}"
        )
    if labels.ndim != 1 or labels.dtype != np.uint8:
        raise IDXError(
            f"{what} labels: expected a uint8 array (N,), got {labels.dtype} {labels.shape}"
        )
    if labels.shape[0] != images.shape[0]:
        raise IDXError(f"{what}: {images.shape[0]} images but {labels.shape[0]} labels")
    if labels.size and int(labels.max()) > 9:
        raise IDXError(f"{what} labels: expected classes 0-9, found {int(labels.max())}")
    X = (images.astype(dtype) / dtype.type(255.0))[:, None, :, :]
    return X, labels.astype(np.int64)


def load_fashion_mnist(
    root: str | os.PathLike | None = None,
    download: bool = True,
    resize: Any = None,
    *,
    mirrors: Sequence[str] | None = None,
    checksums: Mapping[str, str] | None = None,
    sizes: Mapping[str, int] | None = None,
    dtype: Any = "float32",
    deadline: float | None = None,
) -> Splits:
    """Fashion-MNIST (60,000 training and 10,000 test images, 28x28, 10 classes) as
    :class:`Splits`: images ``(N, 1, 28, 28)`` in ``[0, 1]`` of ``dtype`` ("float32" or
    "float64"), labels int64.

    The four IDX files are read from :func:`fashion_mnist_dir` (``root``, else
    ``$PORTCONV_DATA``, else ``~/.cache/portconv``; in its ``fashion-mnist`` subdirectory unless
    the files sit in it directly) and verified against their published MD5 checksums; missing
    or corrupt files are downloaded from ``mirrors`` (default :data:`FASHION_MNIST_MIRRORS`,
    tried in order; a mirror may also be a local directory holding the files), unless
    ``download=False``, which never touches the network and says which files to put where.
    Each download is capped at the file's known size (:data:`FASHION_MNIST_SIZES`) and must
    end within ``deadline`` seconds (see :func:`portconv.data.fetch`). ``resize`` (an int or
    ``(h, w)``) resizes every image bilinearly now (60,000 images of 224x224 take 12 GB:
    prefer ``batches(..., resize=...)``, which resizes batch by batch). ``checksums`` and
    ``sizes``: the expected checksum and size of each file name (test hooks; with
    ``checksums`` given, sizes are unknown unless ``sizes`` says them).
    """
    dt = float_dtype(dtype, optional=False)
    files = dict(FASHION_MNIST_FILES if checksums is None else checksums)
    if set(files) != set(FASHION_MNIST_FILES):
        raise ArgumentError(
            f"checksums: expected one entry for each of {', '.join(FASHION_MNIST_FILES)}"
        )
    if sizes is None:
        sizes = FASHION_MNIST_SIZES if checksums is None else {}
    elif not isinstance(sizes, Mapping) or not set(sizes) <= set(files):
        raise ArgumentError(f"sizes: expected a mapping of {', '.join(files)} to byte counts")
    mirrors = check_mirrors(FASHION_MNIST_MIRRORS if mirrors is None else mirrors)
    directory = fashion_mnist_dir(root)
    help_text = _missing_help(directory, files, mirrors)
    paths = {
        name: fetch(
            name,
            directory,
            mirrors,
            checksum,
            size=sizes.get(name),
            download=download,
            deadline=deadline,
            missing_help=help_text,
        )
        for name, checksum in files.items()
    }
    X_train, y_train = _images_labels(
        read_idx(paths["train-images-idx3-ubyte.gz"]),
        read_idx(paths["train-labels-idx1-ubyte.gz"]),
        "Fashion-MNIST training",
        dt,
    )
    X_test, y_test = _images_labels(
        read_idx(paths["t10k-images-idx3-ubyte.gz"]),
        read_idx(paths["t10k-labels-idx1-ubyte.gz"]),
        "Fashion-MNIST test",
        dt,
    )
    if resize is not None:
        X_train, X_test = _resize(X_train, resize), _resize(X_test, resize)
    return Splits(X_train, y_train, X_test, y_test)


# -- scikit-learn's digits -----------------------------------------------------------------------


def _split(X: np.ndarray, y: np.ndarray, test_fraction: float, seed: int) -> Splits:
    if (
        isinstance(test_fraction, bool)
        or not isinstance(test_fraction, (int, float, np.floating))
        or not 0.0 < test_fraction < 1.0
    ):
        raise ArgumentError(f"test_fraction: expected a number in (0, 1), got {test_fraction!r}")
    order = np.random.default_rng(seed).permutation(X.shape[0])
    n_test = max(1, round(X.shape[0] * test_fraction))
    test, train = order[:n_test], order[n_test:]
    return Splits(X[train], y[train], X[test], y[test])


def load_digits(
    size: Any = 28, *, test_fraction: float = 0.2, seed: int = 0, dtype: Any = "float32"
) -> Splits:
    """scikit-learn's bundled handwritten digits (1,797 images of 8x8, values 0-16, 10 classes;
    no download) as :class:`Splits`: scaled to ``[0, 1]``, upscaled bilinearly to ``size``
    (default 28x28, Fashion-MNIST's size, so the book's models run unchanged), in float64,
    then rounded once to ``dtype`` ("float32", the default, or "float64"): ``(N, 1, size,
    size)``; labels int64. ``test_fraction`` of the images, drawn with ``seed``, form the test
    split. Needs scikit-learn (``pip install "portconv[digits]"``)."""
    dt = float_dtype(dtype, optional=False)
    seed = check_seed(seed)
    try:
        from sklearn.datasets import load_digits as _sk_digits
    except ImportError:
        raise ImportError(
            'load_digits needs scikit-learn: pip install "portconv[digits]" (or scikit-learn)'
        ) from None
    digits = _sk_digits()
    images = np.asarray(digits.images, dtype=np.float64) / 16.0
    if size is not None and (size != 8 and size != (8, 8)):
        images = _resize(images, size)
    X = images.astype(dt)[:, None, :, :]
    y = np.asarray(digits.target, dtype=np.int64)
    return _split(X, y, test_fraction, seed)


# -- synthetic -----------------------------------------------------------------------------------


def make_synthetic(
    n_train: int = 64,
    n_test: int = 32,
    size: int = 28,
    classes: int = 10,
    *,
    noise: float = 0.2,
    seed: int = 0,
    dtype: Any = "float32",
) -> Splits:
    """A small learnable image classification set for tests and smoke runs: each class has a
    random prototype (a 7x7 pattern of zeros and ones, upscaled); an example is its class's
    prototype plus Gaussian noise of standard deviation ``noise``, clipped to ``[0, 1]``.
    ``(N, 1, size, size)`` of ``dtype`` ("float32" or "float64"; the values are drawn in
    float64 and rounded once), int64 labels."""
    dt = float_dtype(dtype, optional=False)
    n_train = positive_int(n_train, "n_train")
    n_test = positive_int(n_test, "n_test", minimum=0)
    size = positive_int(size, "size")
    classes = positive_int(classes, "classes")
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not 0 <= noise < math.inf:
        raise ArgumentError(f"noise: expected a finite non-negative number, got {noise!r}")
    rng = np.random.default_rng(check_seed(seed))
    coarse = (rng.random((classes, 7, 7)) < 0.5).astype(np.float64)
    prototypes = _resize(coarse, size)

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.integers(0, classes, size=n)
        X = prototypes[y] + noise * rng.standard_normal((n, size, size))
        return np.clip(X, 0.0, 1.0).astype(dt)[:, None], y.astype(np.int64)

    X_train, y_train = draw(n_train)
    X_test, y_test = draw(n_test)
    return Splits(X_train, y_train, X_test, y_test)
