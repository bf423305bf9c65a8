"""The wheel built from the checkout installs the adapters as ``portconv.backends``."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_contains_portconv_backends_and_no_top_level_backends(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
    )
    (wheel,) = tmp_path.glob("portconv-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    backends = {n for n in names if n.startswith("portconv/backends/") and n.endswith(".py")}
    expected = {
        f"portconv/backends/{m}.py"
        for m in ("__init__", "numpy", "torch", "mxnet", "cupy", "array_api_strict")
    }
    assert expected <= backends, sorted(backends)
    top_level = {n.split("/")[0] for n in names}
    assert "backends" not in top_level, sorted(top_level)
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "[portconv.backends]" in text and "portconv.backends.mxnet:MXNetAdapter" in text
