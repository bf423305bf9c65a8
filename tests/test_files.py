"""portconv._files, the one home of file writes and ``.npz`` reads, and the writers and
loaders that use it (checkpoints are tested in tests/test_train.py, IDX files and downloads
in tests/test_data.py and tests/test_download_mirror.py): atomic writes with the umask's
mode, fsync of file and directory, no temporary file left by an exception, stale temporary
files of dead writers removed; hostile archives refused naming the file before anything
large is read."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest

import portconv as pc
from portconv import _files, nn
from portconv.errors import FileAccessError, FileFormatError, MissingFileError


def _dead_pid() -> int:
    out = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(out.stdout)


# -- writing ---------------------------------------------------------------------------------------


def test_atomic_write_fsyncs_the_file_and_the_directory_then_renames(tmp_path, monkeypatch):
    synced = []
    real = os.fsync

    def fsync(fd):
        synced.append(stat.S_ISDIR(os.fstat(fd).st_mode))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    target = tmp_path / "out.bin"
    with _files.atomic_write(target) as f:
        f.write(b"new")
        assert not target.exists()  # nothing under the final name before the rename
    assert target.read_bytes() == b"new"
    assert synced == [False, True]  # the file, then its directory
    assert os.listdir(tmp_path) == ["out.bin"]


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o027, 0o077])
def test_the_final_file_gets_the_umasks_mode(tmp_path, umask):
    """Regression: tempfile.mkstemp made every checkpoint and weight file 0600."""
    old = os.umask(umask)
    try:
        with _files.atomic_write(tmp_path / "a.bin") as f:
            f.write(b"x")
        _files.write_npz(tmp_path / "b.npz", {"w": np.zeros(2)})
        plain = tmp_path / "plain.bin"
        with open(plain, "wb") as f:  # what an ordinary write gives
            f.write(b"x")
    finally:
        os.umask(old)
    for name in ("a.bin", "b.npz"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == stat.S_IMODE(plain.stat().st_mode)


@pytest.mark.parametrize("exc", [OSError("disk full"), KeyboardInterrupt()])
def test_an_exception_mid_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, exc):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(type(exc)), _files.atomic_write(target) as f:
        f.write(b"half of the new")
        raise exc
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["out.bin"]


def test_stale_temporaries_are_told_from_live_ones(tmp_path):
    host, dead = _files._host(), _dead_pid()
    target = tmp_path / "ck.npz"
    names = {
        "dead": f".ck.npz.{host}-{dead}.0123abcd.tmp",  # its writer has exited: removed
        "mine": f".ck.npz.{host}-{os.getpid()}.89abcdef.tmp",  # a live writer's: kept
        "other host": f".ck.npz.elsewhere-{dead}.0123abcd.tmp",  # cannot ask: kept while fresh
        "other file": f".other.npz.{host}-{dead}.0123abcd.tmp",  # another target's: kept
        "part": f".ck.npz.{host}-{dead}.0123abcd.part",  # a download's, not a write's: kept
        "legacy": ".portconv-k2j3h4.npz",  # an earlier version's, fresh: kept
    }
    for name in names.values():
        (tmp_path / name).write_bytes(b"x")
    removed = _files.remove_stale_temporaries(target)
    assert removed == [names["dead"]]
    old = time.time() - 2 * _files.STALE_SECONDS
    for key in ("other host", "legacy"):
        os.utime(tmp_path / names[key], (old, old))
    assert sorted(_files.remove_stale_temporaries(target)) == sorted(
        [names["other host"], names["legacy"]]
    )
    assert sorted(os.listdir(tmp_path)) == sorted(
        [names["mine"], names["other file"], names["part"]]
    )


def test_paths_that_cannot_be_written_are_named(tmp_path):
    a_file = tmp_path / "f"
    a_file.write_text("x")
    cases = [
        (tmp_path, FileFormatError, "is a directory"),
        (tmp_path / "missing" / "x.npz", FileAccessError, "does not exist"),
        (a_file / "x.npz", FileAccessError, "is not a directory"),
    ]
    for path, error, message in cases:
        with pytest.raises(error, match=f"checkpoint: .*{message}"):
            _files.check_writable(path, "checkpoint")
        with pytest.raises(error, match=message), _files.atomic_write(path, what="checkpoint"):
            pass
    for bad in (None, 3, True, ""):
        with pytest.raises(pc.PortconvError, match="checkpoint: expected a file path"):
            _files.check_writable(bad, "checkpoint")
    assert os.listdir(tmp_path) == ["f"]


def test_module_save_uses_the_one_helper(tmp_path, monkeypatch):
    calls = []
    real = _files.atomic_path

    def spy(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(_files, "atomic_path", spy)
    model = nn.Linear(3, 2)
    model(np.zeros((1, 3), np.float32))
    model.save(tmp_path / "w.npz")
    pc.data.write_idx(tmp_path / "a.idx", np.arange(3, dtype=np.uint8))
    assert [os.path.basename(os.fspath(p)) for p in calls] == ["w.npz", "a.idx"]


# -- reading .npz ----------------------------------------------------------------------------------


def _npz(tmp_path, name="good.npz", **arrays):
    path = tmp_path / name
    np.savez(path, **(arrays or {"a": np.arange(1000.0), "b": np.ones((3, 3), np.float32)}))
    return path


def test_a_good_archive_reads_back_writable_arrays(tmp_path):
    f_order = np.asfortranarray(np.arange(6.0).reshape(2, 3))
    path = _npz(tmp_path, a=np.arange(5), f=f_order, s=np.array("text"), e=np.zeros((0, 3)))
    got = _files.read_npz(path)
    assert got["a"].flags.writeable
    np.testing.assert_array_equal(got["f"], f_order)
    assert got["s"][()] == "text" and got["e"].shape == (0, 3)


def test_hostile_archives_are_refused_naming_the_file(tmp_path):
    raw = _npz(tmp_path).read_bytes()
    flip = bytearray(raw)
    flip[200] ^= 0xFF
    cases = {
        "half.npz": (raw[: len(raw) // 2], "is truncated or corrupt"),
        "short.npz": (raw[:-20], "is truncated or corrupt"),
        "empty.npz": (b"", r"is empty \(0 bytes\)"),
        "random.npz": (np.random.default_rng(0).bytes(500), "not a zip signature"),
        "flip.npz": (bytes(flip), r"\(member 'a.npy'\) is corrupt"),
    }
    for name, (content, message) in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(FileFormatError, match=message) as info:
            _files.read_npz(tmp_path / name)
        assert str(tmp_path / name) in str(info.value)
    np.save(tmp_path / "one.npy", np.zeros(3))
    with pytest.raises(FileFormatError, match=r"is a \.npy file \(one array\)"):
        _files.read_npz(tmp_path / "one.npy")
    with pytest.raises(FileFormatError, match="is a directory, not a file"):
        _files.read_npz(tmp_path)
    with pytest.raises(MissingFileError, match="no such file"):
        _files.read_npz(tmp_path / "none.npz")
    os.mkfifo(tmp_path / "fifo")  # reading it would block for ever
    with pytest.raises(FileFormatError, match="not a regular file"):
        _files.read_npz(tmp_path / "fifo")


def test_object_arrays_are_never_unpickled(tmp_path):
    path = tmp_path / "pickled.npz"
    np.savez(path, w=np.array([object()], dtype=object))
    with pytest.raises(FileFormatError, match="object arrays need unpickling"):
        _files.read_npz(path)


def _member(z, name, header: dict, body: bytes):
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    z.writestr(name, buf.getvalue() + body)


def test_member_headers_must_account_for_their_sizes(tmp_path):
    path = tmp_path / "lying.npz"
    with zipfile.ZipFile(path, "w") as z:  # the header promises 1000 float64, 8 are there
        _member(z, "w.npy", {"descr": "<f8", "fortran_order": False, "shape": (1000,)}, bytes(8))
    with pytest.raises(FileFormatError, match=r"holds shape \(1000,\) of float64 .*truncated"):
        _files.read_npz(path)
    with zipfile.ZipFile(tmp_path / "notnpy.npz", "w") as z:
        z.writestr("readme.txt", b"hello")
    with pytest.raises(FileFormatError, match="is not an array"):
        _files.read_npz(tmp_path / "notnpy.npz")
    with zipfile.ZipFile(tmp_path / "bz.npz", "w", compression=zipfile.ZIP_BZIP2) as z:
        _member(z, "w.npy", {"descr": "<f8", "fortran_order": False, "shape": (1,)}, bytes(8))
    with pytest.raises(FileFormatError, match="compression method 12"):
        _files.read_npz(tmp_path / "bz.npz")


def test_a_zip_bomb_is_refused_from_its_headers(tmp_path):
    """Regression: a 1 MB archive allocated 1 GiB before anything was checked."""
    path = tmp_path / "bomb.npz"
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (2**27,)}
    )
    with (
        zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z,
        z.open("w.npy", "w", force_zip64=True) as f,
    ):
        f.write(header.getvalue())
        for _ in range(64):
            f.write(bytes(1 << 24))
    with pytest.raises(FileFormatError, match="zip bomb"):
        _files.read_npz(path)
    with pytest.raises(FileFormatError, match="zip bomb"):
        nn.Linear(3, 2).load(path)
    with pytest.raises(FileFormatError, match="more than the 1000 bytes allowed"):
        _files.read_npz(_npz(tmp_path), max_bytes=1000)


def test_checks_run_before_any_array_is_read(tmp_path, monkeypatch):
    path = _npz(tmp_path)
    monkeypatch.setattr(_files.NpzReader, "read", lambda *a: pytest.fail("read before check"))

    def refuse(members):
        assert members["a"] == ((1000,), np.dtype("<f8"))
        raise pc.ArgumentError("no")

    with pytest.raises(pc.ArgumentError, match="no"):
        _files.read_npz(path, check=refuse)


# -- Gluon .params files (MXNet) -------------------------------------------------------------------


def test_gluon_params_files_are_written_atomically_and_read_warily(tmp_path):
    pytest.importorskip("mxnet", reason="mxnet not installed (runs in the mxnet session)")
    from portconv import models, porting

    model = models.LeNet()
    model(np.zeros((1, 1, 28, 28), np.float32))
    old = os.umask(0o022)
    try:
        porting.export_gluon_params(model, tmp_path / "w.params")
    finally:
        os.umask(old)
    assert os.listdir(tmp_path) == ["w.params"]
    assert stat.S_IMODE((tmp_path / "w.params").stat().st_mode) == 0o644
    raw = (tmp_path / "w.params").read_bytes()
    (tmp_path / "half.params").write_bytes(raw[: len(raw) // 2])
    (tmp_path / "random.params").write_bytes(np.random.default_rng(0).bytes(100))
    for name in ("half.params", "random.params"):
        with pytest.raises(FileFormatError, match=f"{name} is not a readable MXNet .params"):
            porting.load_gluon_params(models.LeNet(), tmp_path / name)
    with pytest.raises(MissingFileError, match="params: .*no such file"):
        porting.load_gluon_params(models.LeNet(), tmp_path / "none.params")
