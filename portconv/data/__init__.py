"""Data sets and mini-batches: Fashion-MNIST (downloaded, verified, cached), scikit-learn's
digits (offline), an IDX reader, bilinear resizing, and a loader that delivers batches as arrays
of any backend.

    from portconv import data
    X, y, X_test, y_test = data.load_digits()                  # offline, 28x28
    for Xb, yb in data.batches(X, y, 256, backend="torch"):    # torch tensors
        ...
"""

from .datasets import (
    FASHION_MNIST_FILES,
    FASHION_MNIST_LABELS,
    FASHION_MNIST_MIRRORS,
    FASHION_MNIST_SIZES,
    Splits,
    fashion_mnist_dir,
    fashion_mnist_labels,
    load_digits,
    load_fashion_mnist,
    make_synthetic,
)
from .download import (
    ChecksumError,
    DataNotFoundError,
    DownloadError,
    check_mirrors,
    data_home,
    fetch,
    file_checksum,
    verify_checksum,
)
from .idx import IDXError, idx_bytes, parse_idx, read_idx, write_idx
from .image import resize
from .loader import DataLoader, batches, check_labels, check_seed, to_backend

__all__ = [
    "FASHION_MNIST_FILES",
    "FASHION_MNIST_LABELS",
    "FASHION_MNIST_MIRRORS",
    "FASHION_MNIST_SIZES",
    "ChecksumError",
    "DataLoader",
    "DataNotFoundError",
    "DownloadError",
    "IDXError",
    "Splits",
    "batches",
    "check_labels",
    "check_mirrors",
    "check_seed",
    "data_home",
    "fashion_mnist_dir",
    "fashion_mnist_labels",
    "fetch",
    "file_checksum",
    "idx_bytes",
    "load_digits",
    "load_fashion_mnist",
    "make_synthetic",
    "parse_idx",
    "read_idx",
    "resize",
    "to_backend",
    "verify_checksum",
    "write_idx",
]
