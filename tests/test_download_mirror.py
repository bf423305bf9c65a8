"""Downloads against a real HTTP server: a thread serving 127.0.0.1 only, whose paths answer
with the right bytes, wrong bytes, truncated bytes, 404, a redirect, an oversized body (announced
or not) and a trickle. Every failure must leave no file behind and name the mirror; the
trickle must be given up on at the download's deadline (a short one here), not after the
per-read timeout that a byte every 0.2 s never reaches. No test touches another host."""

from __future__ import annotations

import hashlib
import http.server
import os
import pathlib
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

import numpy as np
import pytest

import portconv as pc
from portconv import _files, data

NAME = "t10k-labels-idx1-ubyte.gz"
PAYLOAD = data.idx_bytes(np.random.default_rng(0).integers(0, 10, 4000, dtype=np.uint8), True)
CHECKSUM = "md5:" + hashlib.md5(PAYLOAD).hexdigest()
SIZE = len(PAYLOAD)


class Handler(http.server.BaseHTTPRequestHandler):
    """``/<mode>/<file>``: ok, wrong, truncated, 404, redirect, announced (Content-Length
    larger than the file), endless (no Content-Length, zeros without end), trickle."""

    def log_message(self, *args):  # quiet
        pass

    def _head(self, length=None, status=200):
        self.send_response(status)
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.end_headers()

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.server.requests.append(self.path)
        mode, _, name = self.path.strip("/").partition("/")
        if name != NAME or mode == "404":
            self.send_error(404, "Not Found")
            return
        try:
            if mode == "ok":
                self._head(SIZE)
                self.wfile.write(PAYLOAD)
            elif mode == "wrong":
                self._head(SIZE)
                self.wfile.write(bytes(b ^ 0x55 for b in PAYLOAD))
            elif mode == "truncated":
                self._head(SIZE)
                self.wfile.write(PAYLOAD[: SIZE // 2])
                self.close_connection = True
            elif mode == "redirect":
                self.send_response(302)
                self.send_header("Location", f"/ok/{name}")
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif mode == "announced":
                self._head(200 * 2**20)
                self.wfile.write(PAYLOAD)
                self.close_connection = True
            elif mode == "endless":
                self._head(None)
                self.close_connection = True
                chunk = bytes(1 << 16)
                for _ in range(3200):  # 200 MiB unless the client hangs up first
                    self.wfile.write(chunk)
            elif mode == "trickle":
                self._head(SIZE)
                for b in PAYLOAD:
                    self.wfile.write(bytes([b]))
                    self.wfile.flush()
                    time.sleep(0.2)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up, as it should


@pytest.fixture(scope="module")
def mirror():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", server
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def only_localhost(monkeypatch):
    real = urllib.request.urlopen

    def guarded(url, *args, **kwargs):
        host = urllib.parse.urlparse(url if isinstance(url, str) else url.full_url).hostname
        if host != "127.0.0.1":
            raise AssertionError(f"a test tried to reach {url!r}")
        return real(url, *args, **kwargs)

    monkeypatch.setattr(urllib.request, "urlopen", guarded)


def fetch(tmp_path, *bases, **kw):
    kw.setdefault("size", SIZE)
    return data.fetch(NAME, tmp_path, list(bases), CHECKSUM, **kw)


def leftovers(directory):
    return sorted(n for n in os.listdir(directory) if n != NAME)


def test_the_right_bytes(tmp_path, mirror):
    base, _ = mirror
    path = fetch(tmp_path, f"{base}/ok/")
    assert pathlib.Path(path).read_bytes() == PAYLOAD and leftovers(tmp_path) == []


@pytest.mark.parametrize(
    "mode, message",
    [
        ("wrong", "ChecksumError: checksum md5:"),
        ("truncated", "incomplete download|IncompleteRead"),
        ("404", "HTTP Error 404"),
        ("announced", f"announces {200 * 2**20} bytes, more than the {SIZE} expected"),
        ("endless", f"more than the {SIZE} bytes expected; the rest was refused"),
    ],
)
def test_a_failing_mirror_leaves_nothing_and_the_next_one_is_tried(tmp_path, mirror, mode, message):
    base, _ = mirror
    with pytest.raises(data.DownloadError, match=message) as info:
        fetch(tmp_path, f"{base}/{mode}/")
    assert f"{base}/{mode}/{NAME}" in str(info.value)
    assert os.listdir(tmp_path) == []  # no file, no .part
    path = fetch(tmp_path, f"{base}/{mode}/", f"{base}/ok/")
    assert pathlib.Path(path).read_bytes() == PAYLOAD and leftovers(tmp_path) == []


def test_an_oversized_body_of_unknown_size_is_capped(tmp_path, mirror, monkeypatch):
    """Regression: 200 MiB were written for a 15 KB file before the checksum refused it."""
    base, _ = mirror
    monkeypatch.setattr(data.download, "MAX_BYTES", 2**20)
    start = time.monotonic()
    with pytest.raises(data.DownloadError, match=f"more than the {2**20} bytes expected"):
        fetch(tmp_path, f"{base}/endless/", size=None)
    assert time.monotonic() - start < 30
    assert os.listdir(tmp_path) == []


def test_a_redirect_is_followed(tmp_path, mirror):
    base, server = mirror
    server.requests.clear()
    path = fetch(tmp_path, f"{base}/redirect/")
    assert pathlib.Path(path).read_bytes() == PAYLOAD
    assert server.requests == [f"/redirect/{NAME}", f"/ok/{NAME}"]


def test_a_trickle_is_given_up_at_the_deadline(tmp_path, mirror):
    """Regression: a mirror sending a byte every 0.2 s never timed out (the timeout was per
    read). With a 1.5 s deadline the download ends after about 1.5 s."""
    base, _ = mirror
    start = time.monotonic()
    with pytest.raises(data.DownloadError, match=r"TimeoutError: the deadline of 1\.5 s passed"):
        fetch(tmp_path, f"{base}/trickle/", deadline=1.5, timeout=1.0)
    assert time.monotonic() - start < 10
    assert os.listdir(tmp_path) == []


def test_stale_partial_files_of_killed_downloads_are_removed(tmp_path, mirror):
    base, _ = mirror
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead = int(done.stdout)  # a process that has exited
    stale = tmp_path / f".{NAME}.{_files._host()}-{dead}.0123abcd.part"
    stale.write_bytes(b"half")
    legacy = tmp_path / f".{NAME}.k3j2h1.part"  # an earlier version's name, two hours old
    legacy.write_bytes(b"half")
    os.utime(legacy, (time.time() - 7200, time.time() - 7200))
    fresh = tmp_path / f".{NAME}.abc123.part"  # perhaps another process's, just written
    fresh.write_bytes(b"half")
    fetch(tmp_path, f"{base}/ok/")
    assert leftovers(tmp_path) == [fresh.name]


def test_local_directories_and_file_urls_as_mirrors(tmp_path):
    src = tmp_path / "mirror"
    src.mkdir()
    (src / NAME).write_bytes(PAYLOAD)
    for mirror in (str(src), src.as_uri() + "/"):
        cache = tmp_path / f"cache-{len(os.listdir(tmp_path))}"
        path = data.fetch(NAME, cache, [mirror], CHECKSUM, size=SIZE)
        assert pathlib.Path(path).read_bytes() == PAYLOAD
    (src / NAME).write_bytes(PAYLOAD + b"x")
    with pytest.raises(data.DownloadError, match="announces"):
        data.fetch(NAME, tmp_path / "c", [str(src)], CHECKSUM, size=SIZE)
    with pytest.raises(data.DownloadError, match="no such file"):
        data.fetch(NAME, tmp_path / "c", [str(tmp_path / "nowhere")], CHECKSUM, size=SIZE)


def test_a_cached_file_of_the_wrong_size_is_replaced(tmp_path, mirror):
    base, _ = mirror
    (tmp_path / NAME).write_bytes(PAYLOAD[:-1])
    with pytest.raises(data.ChecksumError, match=f"{SIZE - 1} bytes, expected {SIZE}"):
        fetch(tmp_path, f"{base}/ok/", download=False)
    fetch(tmp_path, f"{base}/ok/")
    assert (tmp_path / NAME).read_bytes() == PAYLOAD


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"mirrors": "http://127.0.0.1/"}, "mirrors: expected a sequence"),
        ({"mirrors": [None]}, r"mirrors\[0\]"),
        ({"size": -1}, "size: expected a number of bytes"),
        ({"timeout": 0}, "timeout: expected a positive number of seconds"),
        ({"deadline": float("inf")}, "deadline: expected a positive number of seconds"),
        ({"filename": "../x.gz"}, "filename: expected a plain file name"),
        ({"checksum": "abc"}, "checksum: expected 'md5:<hex>'"),
        ({"download": "yes"}, "download: expected True or False"),
    ],
)
def test_fetch_arguments(tmp_path, kwargs, message):
    args = {"filename": NAME, "directory": tmp_path, "mirrors": [], "checksum": CHECKSUM}
    args.update(kwargs)
    with pytest.raises(pc.ArgumentError, match=message):
        data.fetch(**args)
