"""portconv.data: the IDX reader, checksums, the download cache (through a fake opener: these
tests never touch the network), bilinear resizing, the digits data set and mini-batches on
every backend."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import struct
import tracemalloc
import urllib.error
import urllib.request
import zlib

import numpy as np
import pytest

import portconv as pc
from portconv import data

FILES = tuple(data.FASHION_MNIST_FILES)


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any real download fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"a test tried to use the network: {args!r}")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)


# -- IDX -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32", "float64"])
@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 4), (2, 1, 3, 2)])
@pytest.mark.parametrize("compress", [False, True])
def test_idx_round_trip(tmp_path, dtype, shape, compress):
    rng = np.random.default_rng(0)
    a = (rng.standard_normal(shape) * 50).astype(dtype)
    path = tmp_path / ("a.idx.gz" if compress else "a.idx")
    data.write_idx(path, a)
    raw = path.read_bytes()
    assert (raw[:2] == b"\x1f\x8b") == compress
    b = data.read_idx(path)
    assert b.dtype == np.dtype(dtype) and b.dtype.isnative
    np.testing.assert_array_equal(a, b)


def test_idx_layout_is_the_published_one():
    """Magic 0x00 0x00 <type> <ndim>, big-endian uint32 sizes, big-endian values."""
    raw = data.idx_bytes(np.array([[1, 2, 3], [4, 5, 6]], dtype=np.uint8))
    assert raw == bytes([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6])
    raw = data.idx_bytes(np.array([1, -2], dtype=np.int32))
    assert raw[:8] == bytes([0, 0, 0x0C, 1, 0, 0, 0, 2])
    assert struct.unpack(">2i", raw[8:]) == (1, -2)
    hand_made = bytes([0, 0, 0x0B, 1, 0, 0, 0, 2]) + struct.pack(">2h", 258, -3)
    np.testing.assert_array_equal(data.parse_idx(hand_made), np.array([258, -3], np.int16))


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"\x00\x00", "too short"),
        (b"\x01\x00\x08\x01" + b"\x00\x00\x00\x01" + b"\x05", "magic number"),
        (b"\x00\x00\x07\x01" + b"\x00\x00\x00\x01" + b"\x05", "unknown IDX type code 0x07"),
        (b"\x00\x00\x08\x00", "0 dimensions"),
        (b"\x00\x00\x08\x03" + b"\x00\x00\x00\x01", "truncated header"),
        (b"\x00\x00\x08\x02" + struct.pack(">2I", 2, 3) + b"\x00" * 5, "truncated"),
        (b"\x00\x00\x08\x02" + struct.pack(">2I", 2, 3) + b"\x00" * 7, "too long"),
        (b"\x00\x00\x0d\x01" + struct.pack(">I", 2) + b"\x00" * 6, "need 8 bytes"),
    ],
)
def test_idx_corrupt_files_say_what_is_wrong(tmp_path, raw, message):
    path = tmp_path / "bad.idx"
    path.write_bytes(raw)
    with pytest.raises(data.IDXError, match=message) as info:
        data.read_idx(path)
    assert str(path) in str(info.value)


def test_idx_broken_gzip(tmp_path):
    whole = data.idx_bytes(np.arange(100, dtype=np.uint8), compress=True)
    path = tmp_path / "cut.gz"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(data.IDXError, match="not a valid gzip file"):
        data.read_idx(path)


def test_idx_refuses_types_it_cannot_hold():
    with pytest.raises(data.IDXError, match="uint8, int8"):
        data.idx_bytes(np.zeros(3, dtype=np.int64))
    with pytest.raises(data.IDXError, match="1 to 255 dimensions"):
        data.idx_bytes(np.float32(1.0))


# -- checksums -----------------------------------------------------------------------------------


def test_checksums(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"portconv" * 1000)
    md5 = hashlib.md5(b"portconv" * 1000).hexdigest()
    sha = hashlib.sha256(b"portconv" * 1000).hexdigest()
    assert data.file_checksum(path, "md5") == f"md5:{md5}"
    assert data.file_checksum(path) == f"sha256:{sha}"
    data.verify_checksum(path, f"md5:{md5}")
    data.verify_checksum(path, f"SHA256:{sha.upper()}")
    with pytest.raises(data.ChecksumError, match="corrupt or not the expected one"):
        data.verify_checksum(path, "md5:" + "0" * 32)
    with pytest.raises(ValueError, match="expected 'md5:<hex>'"):
        data.verify_checksum(path, md5)


def test_the_published_checksums_are_the_zalando_ones():
    """From the "Get the Data" table of zalandoresearch/fashion-mnist's README."""
    assert data.FASHION_MNIST_FILES == {
        "train-images-idx3-ubyte.gz": "md5:8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "md5:25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "md5:bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "md5:bb300cfdad3c16e7a12a480ee83cd310",
    }


# -- a small Fashion-MNIST, served by a fake opener ----------------------------------------------


def fake_fashion(n_train: int = 12, n_test: int = 6, seed: int = 0):
    """(file name -> gzip bytes, file name -> md5 checksum, the arrays) of a tiny
    Fashion-MNIST."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte.gz": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    files = {name: data.idx_bytes(a, compress=True) for name, a in arrays.items()}
    sums = {name: "md5:" + hashlib.md5(raw).hexdigest() for name, raw in files.items()}
    return files, sums, arrays


class FakeResponse(io.BytesIO):
    """What urlopen returns: read() in chunks, headers, a context manager. ``fail_after``
    bytes in, read() raises (a dropped connection); ``length`` is the Content-Length sent."""

    def __init__(self, payload: bytes, *, fail_after=None, length=None, exc=None):
        super().__init__(payload)
        self.headers = {"Content-Length": str(len(payload) if length is None else length)}
        self.fail_after, self.exc = fail_after, exc

    def read(self, n=-1):
        if self.fail_after is not None and self.tell() >= self.fail_after:
            raise self.exc or ConnectionResetError("connection reset by peer")
        if self.fail_after is not None and n is not None and n > 0:
            n = min(n, self.fail_after - self.tell()) or 1
        return super().read(n)

    def read1(self, n=-1):  # what the downloader calls (one receive, as HTTPResponse's)
        return self.read(n)


class FakeServer:
    """Serves ``files`` under each mirror in ``behaviour``: "ok", "404", "cut" (the connection
    drops half-way), "short" (ends early, Content-Length says more), "corrupt" (wrong bytes),
    "interrupt" (KeyboardInterrupt half-way)."""

    def __init__(self, files: dict, behaviour: dict):
        self.files, self.behaviour, self.requests = files, behaviour, []

    def urlopen(self, url, timeout=None):
        self.requests.append(url)
        base, _, name = url.rpartition("/")
        payload = self.files[name]
        mode = self.behaviour[base + "/"]
        if mode == "404":
            raise urllib.error.HTTPError(url, 404, "Not Found", {}, None)
        if mode == "cut":
            return FakeResponse(payload, fail_after=len(payload) // 2)
        if mode == "interrupt":
            return FakeResponse(payload, fail_after=len(payload) // 2, exc=KeyboardInterrupt())
        if mode == "short":
            return FakeResponse(payload[: len(payload) // 2], length=len(payload))
        if mode == "corrupt":
            return FakeResponse(payload[:-1] + bytes([payload[-1] ^ 0xFF]))
        return FakeResponse(payload)


A, B = "https://a.example/fm/", "https://b.example/fm/"


def serve(monkeypatch, files, **behaviour):
    server = FakeServer(files, {A: behaviour.get("a", "ok"), B: behaviour.get("b", "ok")})
    monkeypatch.setattr(urllib.request, "urlopen", server.urlopen)
    return server


def leftovers(directory) -> list[str]:
    """Temporary files left in ``directory`` (there must be none)."""
    if not os.path.isdir(directory):
        return []
    return sorted(n for n in os.listdir(directory) if n.startswith(".") or n.endswith(".part"))


def check_splits(s, arrays):
    assert s.X_train.dtype == np.float32 and s.y_train.dtype == np.int64
    n_train = arrays["train-labels-idx1-ubyte.gz"].shape[0]
    n_test = arrays["t10k-labels-idx1-ubyte.gz"].shape[0]
    assert s.X_train.shape == (n_train, 1, 28, 28) and s.X_test.shape == (n_test, 1, 28, 28)
    np.testing.assert_array_equal(
        s.X_train[:, 0], arrays["train-images-idx3-ubyte.gz"].astype(np.float32) / 255
    )
    np.testing.assert_array_equal(s.y_test, arrays["t10k-labels-idx1-ubyte.gz"])


def test_download_from_the_first_mirror_that_works_then_read_the_cache(
    tmp_path, monkeypatch, capsys
):
    files, sums, arrays = fake_fashion()
    server = serve(monkeypatch, files, a="404")
    s = data.load_fashion_mnist(tmp_path, mirrors=[A, B], checksums=sums)
    check_splits(s, arrays)
    assert f"portconv: downloading {B + FILES[0]}" in capsys.readouterr().err
    directory = tmp_path / "fashion-mnist"
    assert sorted(os.listdir(directory)) == sorted(FILES)
    assert len(server.requests) == 8  # each file: mirror A (404), then B
    assert server.requests[:2] == [A + FILES[0], B + FILES[0]]
    for name in FILES:
        assert (directory / name).read_bytes() == files[name]
    # the second time: from the cache, verified, no request at all
    server.requests.clear()
    again = data.load_fashion_mnist(tmp_path, mirrors=[A, B], checksums=sums)
    assert server.requests == []
    np.testing.assert_array_equal(again.X_train, s.X_train)


def test_offline_loads_local_files(tmp_path):
    files, sums, arrays = fake_fashion()
    (tmp_path / "fashion-mnist").mkdir()
    for name, raw in files.items():
        (tmp_path / "fashion-mnist" / name).write_bytes(raw)
    check_splits(data.load_fashion_mnist(tmp_path, download=False, checksums=sums), arrays)


def test_files_directly_in_the_data_directory(tmp_path):
    """--data-dir may point at a directory holding the four files themselves."""
    files, sums, arrays = fake_fashion()
    for name, raw in files.items():
        (tmp_path / name).write_bytes(raw)
    assert data.fashion_mnist_dir(tmp_path) == str(tmp_path)
    check_splits(data.load_fashion_mnist(tmp_path, download=False, checksums=sums), arrays)


def test_cache_directory_from_the_environment(tmp_path, monkeypatch):
    files, sums, arrays = fake_fashion()
    monkeypatch.setenv("PORTCONV_DATA", str(tmp_path / "env"))
    serve(monkeypatch, files)
    check_splits(data.load_fashion_mnist(mirrors=[A], checksums=sums), arrays)
    assert sorted(os.listdir(tmp_path / "env" / "fashion-mnist")) == sorted(FILES)


def test_default_cache_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("PORTCONV_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert data.data_home() == os.path.join(str(tmp_path), ".cache", "portconv")
    assert data.data_home(tmp_path / "x") == str(tmp_path / "x")
    assert data.fashion_mnist_dir() == os.path.join(
        str(tmp_path), ".cache", "portconv", "fashion-mnist"
    )


def test_offline_without_files_says_what_to_put_where(tmp_path):
    with pytest.raises(data.DataNotFoundError) as info:
        data.load_fashion_mnist(tmp_path, download=False)
    message = str(info.value)
    assert str(tmp_path / "fashion-mnist") in message
    for name, checksum in data.FASHION_MNIST_FILES.items():
        assert name in message and checksum in message
    assert "PORTCONV_DATA" in message and "download=False" in message
    assert data.FASHION_MNIST_MIRRORS[0] in message
    assert not (tmp_path / "fashion-mnist").exists()  # offline creates nothing


@pytest.mark.parametrize("mode", ["cut", "short", "corrupt", "404"])
def test_failed_downloads_leave_no_file(tmp_path, monkeypatch, mode):
    files, sums, _ = fake_fashion()
    serve(monkeypatch, files, a=mode)
    with pytest.raises(data.DownloadError) as info:
        data.load_fashion_mnist(tmp_path, mirrors=[A], checksums=sums)
    message = str(info.value)
    assert A + FILES[0] in message and "Fashion-MNIST needs these 4 files" in message
    directory = tmp_path / "fashion-mnist"
    assert not (directory / FILES[0]).exists()
    assert leftovers(directory) == []
    assert isinstance(info.value, FileNotFoundError)


@pytest.mark.parametrize("mode", ["cut", "short", "corrupt"])
def test_an_interrupted_mirror_falls_back_to_the_next(tmp_path, monkeypatch, mode):
    files, sums, arrays = fake_fashion()
    server = serve(monkeypatch, files, a=mode)
    check_splits(data.load_fashion_mnist(tmp_path, mirrors=[A, B], checksums=sums), arrays)
    assert server.requests[:2] == [A + FILES[0], B + FILES[0]]
    assert leftovers(tmp_path / "fashion-mnist") == []


def test_keyboard_interrupt_during_a_download(tmp_path, monkeypatch):
    files, sums, arrays = fake_fashion()
    serve(monkeypatch, files, a="interrupt")
    with pytest.raises(KeyboardInterrupt):
        data.load_fashion_mnist(tmp_path, mirrors=[A, B], checksums=sums)
    directory = tmp_path / "fashion-mnist"
    assert os.listdir(directory) == []  # neither the file nor its temporary file
    # the next run downloads it whole
    serve(monkeypatch, files)
    check_splits(data.load_fashion_mnist(tmp_path, mirrors=[A], checksums=sums), arrays)


def test_a_corrupt_cached_file(tmp_path, monkeypatch):
    files, sums, arrays = fake_fashion()
    directory = tmp_path / "fashion-mnist"
    directory.mkdir()
    for name, raw in files.items():
        (directory / name).write_bytes(raw)
    (directory / FILES[1]).write_bytes(files[FILES[1]][:-3])  # damaged on disk
    # offline: a checksum error naming the file
    with pytest.raises(data.ChecksumError, match=FILES[1]):
        data.load_fashion_mnist(tmp_path, download=False, checksums=sums)
    # every mirror failing: the error says the local copy was corrupt too
    serve(monkeypatch, files, a="404")
    with pytest.raises(data.DownloadError, match=f"{FILES[1]}: checksum md5:"):
        data.load_fashion_mnist(tmp_path, mirrors=[A], checksums=sums)
    # online: downloaded again and replaced atomically; the intact files are not fetched
    server = serve(monkeypatch, files)
    check_splits(data.load_fashion_mnist(tmp_path, mirrors=[A], checksums=sums), arrays)
    assert server.requests == [A + FILES[1]]
    assert (directory / FILES[1]).read_bytes() == files[FILES[1]]


def test_a_file_with_the_right_checksum_but_wrong_contents(tmp_path):
    files, sums, _ = fake_fashion()
    files[FILES[1]] = data.idx_bytes(np.full(5, 12, dtype=np.uint8), compress=True)
    sums[FILES[1]] = "md5:" + hashlib.md5(files[FILES[1]]).hexdigest()
    for name, raw in files.items():
        (tmp_path / name).write_bytes(raw)
    with pytest.raises(data.IDXError, match="12 images but 5 labels"):
        data.load_fashion_mnist(tmp_path, download=False, checksums=sums)


def test_checksums_override_must_name_the_four_files(tmp_path):
    with pytest.raises(ValueError, match="one entry for each"):
        data.load_fashion_mnist(tmp_path, download=False, checksums={"x": "md5:00"})


def test_fashion_mnist_resize_and_labels(tmp_path):
    files, sums, _ = fake_fashion(4, 2)
    for name, raw in files.items():
        (tmp_path / name).write_bytes(raw)
    s = data.load_fashion_mnist(tmp_path, download=False, resize=32, checksums=sums)
    assert s.X_train.shape == (4, 1, 32, 32) and s.X_train.dtype == np.float32
    assert data.fashion_mnist_labels([0, 9]) == ["t-shirt", "ankle boot"]
    d = data.load_fashion_mnist(tmp_path, download=False, checksums=sums, dtype="float64")
    assert d.X_train.dtype == np.float64 and d.y_train.dtype == np.int64
    raw = data.read_idx(tmp_path / "train-images-idx3-ubyte.gz")
    np.testing.assert_array_equal(d.X_train[:, 0], raw / 255.0)  # k / 255 in float64


def test_gzip_content_is_deterministic():
    a = data.idx_bytes(np.arange(10, dtype=np.uint8), compress=True)
    assert a == data.idx_bytes(np.arange(10, dtype=np.uint8), compress=True)
    assert gzip.decompress(a)[:4] == bytes([0, 0, 8, 1])


# -- resize --------------------------------------------------------------------------------------


def resize_loop(image: np.ndarray, h: int, w: int) -> np.ndarray:
    """Bilinear, half-pixel centres, edges clamped: one output pixel at a time."""
    H, W = image.shape
    out = np.empty((h, w))
    for i in range(h):
        y = max((i + 0.5) * H / h - 0.5, 0.0)
        y0 = min(int(np.floor(y)), H - 1)
        y1 = min(y0 + 1, H - 1)
        dy = y - y0
        for j in range(w):
            x = max((j + 0.5) * W / w - 0.5, 0.0)
            x0 = min(int(np.floor(x)), W - 1)
            x1 = min(x0 + 1, W - 1)
            dx = x - x0
            top = image[y0, x0] * (1 - dx) + image[y0, x1] * dx
            bottom = image[y1, x0] * (1 - dx) + image[y1, x1] * dx
            out[i, j] = top * (1 - dy) + bottom * dy
    return out


@pytest.mark.parametrize(
    "src, size", [((8, 8), 28), ((5, 7), (11, 3)), ((28, 28), 96), ((9, 6), (4, 4)), ((3, 3), 3)]
)
def test_resize_against_a_loop(src, size):
    rng = np.random.default_rng(1)
    images = rng.random((2, 1) + src)
    got = data.resize(images, size)
    h, w = (size, size) if isinstance(size, int) else size
    assert got.shape == (2, 1, h, w) and got.dtype == np.float64
    for n in range(2):
        np.testing.assert_allclose(got[n, 0], resize_loop(images[n, 0], h, w), atol=1e-12)


def test_resize_matches_torch_interpolate():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(2).random((2, 3, 7, 5)).astype(np.float32)
    for size in [(28, 28), (3, 2), (14, 9), (224, 224)]:
        ref = torch.nn.functional.interpolate(
            torch.from_numpy(x), size=size, mode="bilinear", align_corners=False
        ).numpy()
        np.testing.assert_allclose(data.resize(x, size), ref, atol=1e-6)


def test_resize_dtypes_and_errors():
    img = np.arange(16, dtype=np.uint8).reshape(4, 4)
    out = data.resize(img, 4)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, img)  # the same size is the identity
    assert data.resize(img.astype(np.float32), 8).dtype == np.float32
    with pytest.raises(ValueError, match="size"):
        data.resize(img, (0, 3))
    with pytest.raises(TypeError, match="size"):
        data.resize(img, "big")
    with pytest.raises(TypeError, match=r"size: expected ints, got \(2\.5, 3\)"):
        data.resize(img, (2.5, 3))  # was cut to 2 silently
    with pytest.raises(TypeError, match="size"):
        data.resize(img, True)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        data.resize(np.zeros(3), 2)


# -- digits and the synthetic set ----------------------------------------------------------------


def test_load_digits():
    pytest.importorskip("sklearn", reason="scikit-learn not installed")
    s = data.load_digits()
    assert s.X_train.shape[1:] == (1, 28, 28) and s.X_train.dtype == np.float32
    assert s.X_train.shape[0] + s.X_test.shape[0] == 1797
    assert s.X_test.shape[0] == round(1797 * 0.2)
    assert s.y_train.dtype == np.int64 and set(np.unique(s.y_train)) == set(range(10))
    assert s.X_train.min() >= 0.0 and s.X_train.max() <= 1.0 and s.X_train.max() == 1.0
    again = data.load_digits()
    np.testing.assert_array_equal(again.X_test, s.X_test)  # the split is deterministic
    raw = data.load_digits(8)
    assert raw.X_train.shape[1:] == (1, 8, 8)
    np.testing.assert_array_equal(raw.X_train * 16, np.round(raw.X_train * 16))
    np.testing.assert_allclose(data.resize(raw.X_test, 28), s.X_test, atol=1e-6)
    wide = data.load_digits(dtype="float64")
    assert wide.X_train.dtype == np.float64
    np.testing.assert_array_equal(wide.y_test, s.y_test)
    np.testing.assert_array_equal(wide.X_test.astype(np.float32), s.X_test)  # one rounding
    assert not np.array_equal(wide.X_test, s.X_test.astype(np.float64))  # float64's values


def test_make_synthetic():
    s = data.make_synthetic(20, 10, 16, classes=3, seed=4)
    assert s.X_train.shape == (20, 1, 16, 16) and s.X_test.shape == (10, 1, 16, 16)
    assert s.X_train.dtype == np.float32 and s.y_train.dtype == np.int64
    assert set(np.unique(s.y_train)) <= {0, 1, 2}
    np.testing.assert_array_equal(data.make_synthetic(20, 10, 16, 3, seed=4).X_test, s.X_test)
    wide = data.make_synthetic(20, 10, 16, classes=3, seed=4, dtype=np.float64)
    assert wide.X_train.dtype == np.float64
    np.testing.assert_array_equal(wide.X_test.astype(np.float32), s.X_test)


@pytest.mark.parametrize("bad", ["float16", "int32", "double precision", None, 64, np.int64])
def test_data_set_dtypes_are_checked(bad):
    with pytest.raises(ValueError, match=r"^dtype: expected 'float32' or 'float64', got "):
        data.make_synthetic(4, 2, dtype=bad)


def test_missing_scikit_learn_is_a_clear_error(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_sklearn(name, *args, **kwargs):
        if name.startswith("sklearn"):
            raise ImportError("No module named 'sklearn'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_sklearn)
    with pytest.raises(ImportError, match=r"portconv\[digits\]"):
        data.load_digits()


# -- mini-batches on every backend ---------------------------------------------------------------


def host_set(n=10, size=6):
    rng = np.random.default_rng(3)
    X = rng.random((n, 1, size, size)).astype(np.float32)
    y = np.arange(n, dtype=np.int64)  # label = index: shows the order
    return X, y


def test_batches_types_shapes_and_values(be):
    X, y = host_set()
    loader = data.batches(X, y, 4, backend=be.name, device=be.device)
    assert len(loader) == 3
    seen = []
    for Xb, yb in loader:
        be.check_array(Xb, dtype="float32")
        be.check_array(yb)
        assert be.xp.isdtype(be.adapter.to_standard(yb).dtype, "integral")
        labels = be.to_numpy(yb)
        assert be.to_numpy(Xb).shape == (len(labels), 1, 6, 6)
        np.testing.assert_array_equal(be.to_numpy(Xb), X[labels])
        seen.extend(labels.tolist())
    assert [len(s) for s in np.split(np.array(seen), [4, 8])] == [4, 4, 2]
    assert sorted(seen) == list(range(10))
    assert seen != list(range(10))  # shuffled


def test_batches_are_reproducible_per_epoch(be):
    X, y = host_set(12)

    def epoch_orders(loader, n):
        return [np.concatenate([be.to_numpy(yb) for _, yb in loader]).tolist() for _ in range(n)]

    a = epoch_orders(data.batches(X, y, 5, seed=7, backend=be.name, device=be.device), 3)
    b = epoch_orders(data.batches(X, y, 5, seed=7, backend=be.name, device=be.device), 3)
    assert a == b
    assert a[0] != a[1]  # a new order every epoch
    other = epoch_orders(data.batches(X, y, 5, seed=8, backend=be.name, device=be.device), 1)
    assert other[0] != a[0]
    loader = data.batches(X, y, 5, seed=7, backend=be.name, device=be.device)
    loader.set_epoch(2)
    assert epoch_orders(loader, 1)[0] == a[2]  # resuming at epoch 2 sees epoch 2's order
    # numpy's order is the same as every backend's
    ref = data.batches(X, y, 5, seed=7)
    assert [r.tolist() for r in (ref.order(e) for e in range(3))] == a


def test_batches_without_shuffle_drop_last_resize_and_no_labels(be):
    X, y = host_set(10, 4)
    loader = data.batches(X, y, 4, shuffle=False, drop_last=True, backend=be.name, device=be.device)
    batches = list(loader)
    assert len(loader) == len(batches) == 2
    assert [be.to_numpy(yb).tolist() for _, yb in batches] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    resized = data.batches(X, y, 3, shuffle=False, backend=be.name, device=be.device, resize=(8, 6))
    Xb, _ = next(iter(resized))
    be.check(Xb, data.resize(X[:3], (8, 6)), dtype="float32")
    only_x = list(data.DataLoader(X, batch_size=6, shuffle=False, backend=be.name))
    assert len(only_x) == 2
    be.check(only_x[1], X[6:], dtype="float32")


def test_batches_in_float64(be):
    X, y = host_set(10, 4)
    loader = data.batches(X, y, 4, backend=be.name, device=be.device, dtype="float64")
    assert loader.batch_dtype == np.float64 and "dtype='float64'" in repr(loader)
    for Xb, yb in loader:
        labels = be.to_numpy(yb)
        be.check(Xb, X[labels].astype(np.float64), rtol=0, atol=0, dtype="float64")
        assert be.to_numpy(yb).dtype == np.int64  # labels keep their dtype
    # resized in float64 and rounded once: not the float32 resize cast up
    wide = np.random.default_rng(1).random((3, 1, 5, 5))  # float64 images
    resized = data.batches(
        wide, None, 3, shuffle=False, backend=be.name, device=be.device, resize=7, dtype="float32"
    )
    be.check(next(iter(resized)), data.resize(wide, 7).astype(np.float32), rtol=0, atol=0)
    integers = np.arange(3 * 16, dtype=np.uint8).reshape(3, 1, 4, 4)
    as64 = data.batches(integers, None, 3, shuffle=False, backend=be.name, dtype=np.float64)
    be.check(next(iter(as64)), integers.astype(np.float64), rtol=0, atol=0, dtype="float64")
    assert data.batches(integers, None, 3, resize=8).batch_dtype == np.float32
    assert data.batches(integers, None, 3).batch_dtype == np.uint8


def test_to_backend(be):
    host = np.arange(6, dtype=np.float32).reshape(2, 3)
    be.check(data.to_backend(host, be.name, be.device), host, dtype="float32")


def test_batches_errors():
    X, y = host_set()
    with pytest.raises(ValueError, match="batch_size"):
        data.batches(X, y, 0)
    with pytest.raises(ValueError, match="expected 10 labels"):
        data.batches(X, y[:3], 2)
    with pytest.raises(ValueError, match="backend: expected one of .*got 'tinygrad'"):
        data.batches(X, y, 2, backend="tinygrad")
    msg = r"dtype: expected 'float32' or 'float64' \(or None\), got 'float16'"
    with pytest.raises(ValueError, match=msg):
        data.batches(X, y, 2, dtype="float16")
    with pytest.raises(ValueError, match="dtype: expected .*, got 'int64'"):
        data.DataLoader(X, y, 2, dtype="int64")
    with pytest.raises(TypeError, match="X: expected real-valued examples, got dtype <U1"):
        data.batches(np.array(["a", "b"]), None, 1, dtype="float32")


# -- every argument of a loader is checked when it is made (issue 19, items 1, 11, 12) -----------


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"seed": -1}, ValueError, r"seed: expected a non-negative int .* got -1"),
        ({"seed": 2.5}, TypeError, r"seed: expected a non-negative int, got float: 2\.5"),
        ({"seed": True}, TypeError, "seed: .*bool"),
        ({"seed": "0"}, TypeError, "seed: .*str"),
        ({"batch_size": 0}, ValueError, "batch_size: expected an int of at least 1, got 0"),
        ({"batch_size": 2.0}, TypeError, "batch_size: .*float"),
        ({"batch_size": "8"}, TypeError, "batch_size: .*str"),
        ({"batch_size": True}, TypeError, "batch_size: .*bool"),
        ({"shuffle": "no"}, TypeError, "shuffle: expected True or False"),
        ({"drop_last": 1}, TypeError, "drop_last: expected True or False"),
        ({"backend": None}, ValueError, "backend: expected one of"),
        ({"backend": ["numpy"]}, ValueError, "backend: expected one of"),
        ({"device": "bogus"}, ValueError, "device: 'bogus'"),
        ({"device": "cuda:0"}, ValueError, r"device: 'cuda:0' asked for, but .*CPU only"),
        ({"resize": 0}, ValueError, "resize: expected positive sizes"),
        ({"resize": (2.5, 3)}, TypeError, "resize: expected ints"),
        ({"resize": 100_000}, ValueError, r"resize: a batch of 4 examples resized to 100000x"),
        ({"num_classes": 0}, ValueError, "num_classes: expected an int of at least 1"),
        ({"dtype": "0:"}, ValueError, "dtype: expected 'float32' or 'float64'"),  # fuzz found
        ({"dtype": "01"}, ValueError, "dtype: expected 'float32' or 'float64'"),
        ({"num_classes": 5}, ValueError, r"y: class indices must be in \[0, 5\) .*y\[5\] is 5"),
    ],
)
def test_loader_arguments_are_refused_naming_them(kwargs, error, message):
    X, y = host_set()
    args = {"batch_size": 4, **kwargs}
    with pytest.raises(error, match=message) as info:
        data.batches(X, y, **args)
    assert isinstance(info.value, pc.PortconvError)


def test_numpy_integer_seeds_and_sizes_are_accepted():
    X, y = host_set()
    loader = data.batches(X, y, np.int64(4), seed=np.int32(3), resize=np.int64(8))
    assert loader.seed == 3 and loader.batch_size == 4
    assert next(iter(loader))[0].shape == (4, 1, 8, 8)


@pytest.mark.parametrize(
    "labels, message",
    [
        (np.array([0, 1, -1, 2]), r"y: class indices must be in \[0, 10\) .*; y\[2\] is -1"),
        (np.array([0.0, 1.5, 2.0, 0.0]), r"y: class indices must be whole numbers; y\[1\] is 1.5"),
        (np.array([0.0, np.nan, 2.0, 0.0]), r"y\[1\] is nan"),
        (np.array([0, 12, 2, 0]), r"\[0, 10\) \(10 classes\); y\[1\] is 12"),
        (np.zeros((4, 2), np.int64), r"y: expected class indices of shape \(N,\), got shape"),
        (np.array([True, False, True, True]), "y: expected integer class indices, got dtype bool"),
    ],
)
def test_labels_that_are_not_class_indices_are_refused(labels, message):
    X = np.zeros((4, 1, 3, 3), np.float32)
    with pytest.raises(ValueError if labels.dtype != bool else TypeError, match=message):
        data.batches(X, labels, 2, num_classes=10)
    if labels.dtype.kind in "iu" and labels.ndim == 1 and labels.min() < 0:
        with pytest.raises(ValueError, match=r"y: class indices must be in \[0, inf\)"):
            data.batches(X, labels, 2)  # integer labels: negatives refused without num_classes


def test_loader_check_labels_runs_once_per_number_of_classes():
    X, y = host_set()
    loader = data.batches(X, y, 4)
    loader.check_labels(10)
    with pytest.raises(ValueError, match=r"y\[9\] is 9"):
        loader.check_labels(9)
    loader.y = y - 5  # already checked for 10 classes: not read again
    loader.check_labels(10)
    with pytest.raises(ValueError, match="no labels"):
        data.batches(X, None, 4).check_labels(10)


def test_loader_takes_arrays_of_any_backend_and_device_strings(be):
    X, y = host_set()
    loader = data.batches(be.asarray(X), be.asarray(y), 4, backend=be.name, device="cpu")
    if str(be.device) != str(be.adapter.parse_device("cpu")):
        pytest.skip(f"{be.name}'s default device is not its CPU")
    xb, yb = next(iter(loader))
    be.check_array(xb, dtype="float32")
    be.check_array(yb)


def test_data_set_arguments_are_checked():
    with pytest.raises(ValueError, match="seed"):
        data.make_synthetic(4, 2, seed=-1)
    with pytest.raises(TypeError, match="n_train"):
        data.make_synthetic(4.0, 2)
    with pytest.raises(ValueError, match="noise"):
        data.make_synthetic(4, 2, noise=float("nan"))
    pytest.importorskip("sklearn", reason="scikit-learn not installed")
    with pytest.raises(ValueError, match="test_fraction"):
        data.load_digits(8, test_fraction="0.2")


# -- hostile IDX files (issue 19, item 10) -------------------------------------------------------


def _gzip_stream(*parts: bytes) -> bytes:
    co = zlib.compressobj(9, zlib.DEFLATED, 31)
    return b"".join(co.compress(p) for p in parts) + co.flush()


def test_idx_gzip_bomb_is_refused_after_the_declared_size(tmp_path):
    """Regression: a header claiming 10 bytes decompressed to 1 GiB before the refusal."""
    header = struct.pack(">HBB", 0, 8, 1) + struct.pack(">I", 10)
    zeros = bytes(1 << 24)
    path = tmp_path / "bomb.idx.gz"
    path.write_bytes(_gzip_stream(header, *([zeros] * 64)))  # 1 GiB in ~1 MB
    assert path.stat().st_size < 2**21
    tracemalloc.start()
    try:
        with pytest.raises(data.IDXError, match=r"too long: .* need 10 bytes .*stopped there"):
            data.read_idx(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 32 * 2**20, f"{peak} bytes to refuse a gzip bomb"


def test_idx_headers_declaring_more_than_the_file_can_hold(tmp_path):
    header = struct.pack(">HBB", 0, 8, 2) + struct.pack(">2I", 60000, 60000)
    (tmp_path / "big.gz").write_bytes(gzip.compress(header + bytes(100)))
    with pytest.raises(data.IDXError, match="more than a .*-byte gzip stream can hold"):
        data.read_idx(tmp_path / "big.gz")
    (tmp_path / "big.idx").write_bytes(header + bytes(100))
    with pytest.raises(data.IDXError, match="truncated: .*need 3600000000 bytes"):
        data.read_idx(tmp_path / "big.idx")  # from the header and the file's size, unread
    huge = struct.pack(">HBB", 0, 0x0E, 3) + struct.pack(">3I", 2**31, 2**31, 2**31)
    with pytest.raises(data.IDXError, match="memory_budget"):
        data.parse_idx(huge)


def test_idx_files_that_are_not_files(tmp_path):
    with pytest.raises(pc.errors.FileFormatError, match="is a directory"):
        data.read_idx(tmp_path)
    with pytest.raises(FileNotFoundError, match="no such file"):
        data.read_idx(tmp_path / "none.idx")
    (tmp_path / "empty.idx").write_bytes(b"")
    with pytest.raises(data.IDXError, match="too short"):
        data.read_idx(tmp_path / "empty.idx")
    (tmp_path / "junk.gz").write_bytes(b"\x1f\x8b" + bytes(np.random.default_rng(1).bytes(200)))
    with pytest.raises(data.IDXError, match="not a valid gzip file"):
        data.read_idx(tmp_path / "junk.gz")
    good = data.idx_bytes(np.arange(5, dtype=np.uint8), compress=True)
    (tmp_path / "trailing.gz").write_bytes(good + b"garbage")
    with pytest.raises(data.IDXError, match="trailing garbage"):
        data.read_idx(tmp_path / "trailing.gz")
    (tmp_path / "two.gz").write_bytes(good[:10] + good[10:])  # one member, in two writes
    np.testing.assert_array_equal(data.read_idx(tmp_path / "two.gz"), np.arange(5))


def test_write_idx_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "a.idx"
    data.write_idx(path, np.arange(4, dtype=np.uint8))
    with pytest.raises(data.IDXError, match="compress"):
        data.write_idx(path, np.arange(4, dtype=np.uint8), compress="yes")
    with pytest.raises(ValueError, match="is a directory"):
        data.write_idx(tmp_path, np.arange(4, dtype=np.uint8))
    assert sorted(os.listdir(tmp_path)) == ["a.idx"]
    np.testing.assert_array_equal(data.read_idx(path), np.arange(4))


def test_resize_works_within_the_budget_and_refuses_huge_sizes():
    rng = np.random.default_rng(3)
    x = rng.random((3, 2, 5, 7))
    whole = data.resize(x, (9, 4))
    with pc.config(memory_budget=1000):  # an image at a time
        np.testing.assert_array_equal(data.resize(x, (9, 4)), whole)
    with pytest.raises(pc.ArgumentError, match=r"size: 64 image\(s\) resized to 400000x400000"):
        data.resize(np.zeros((64, 1, 28, 28), np.float32), 400_000)
