"""Peak memory of each op family under a small memory budget, measured in a fresh process
(not a timed test: a bound on resident memory, with margin).

Every op builds its temporary buffers a tile at a time within ``portconv.config(memory_budget=
...)``; what it cannot avoid is its result (and, where tiles are joined by concatenation, a
second copy of it while they are joined). Each case bounds the high-water mark of resident
memory during the call, above what the process held before it, in those terms.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

MiB = 2**20
BUDGET = 16 * MiB

SCRIPT = r"""
import json, sys
import numpy as np
import portconv as pc

case, budget = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(0)
cases = {
    # LeNet-sized 5x5 and ResNet-sized 3x3 convolutions: one column buffer tile at a time
    "conv2d": lambda: (rng.standard_normal((16, 64, 96, 96), dtype=np.float32),
                       lambda x: pc.conv2d(x, np.ones((64, 64, 3, 3), np.float32), padding=1)),
    # AlexNet's 11x11 stride-4 kernel, transposed: col2im by stride residues
    "conv_transpose2d": lambda: (rng.standard_normal((8, 96, 27, 27), dtype=np.float32),
                                 lambda x: pc.conv_transpose2d(
                                     x, np.ones((96, 64, 11, 11), np.float32), stride=4)),
    "max_pool2d": lambda: (rng.standard_normal((16, 64, 96, 96), dtype=np.float32),
                           lambda x: pc.max_pool2d(x, 3, 1, 1)),
    "avg_pool2d": lambda: (rng.standard_normal((16, 64, 96, 96), dtype=np.float32),
                           lambda x: pc.avg_pool2d(x, 3, 1, 1)),
    # upsampling 7x7 -> 700x700: the averaging matrix, no per-window pieces
    "adaptive_avg_pool2d": lambda: (rng.standard_normal((16, 8, 7, 7), dtype=np.float32),
                                    lambda x: pc.adaptive_avg_pool2d(x, 700)),
    # the loaders' bilinear resize (float64 inside): a few images at a time
    "data.resize": lambda: (rng.random((64, 1, 28, 28), dtype=np.float32),
                            lambda x: pc.data.resize(x, 512)),
}
x, op = cases[case]()

def status(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024

with pc.config(memory_budget=budget, path="generic"):
    op(x[:1])  # imports and first-call work out of the measurement
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # the high-water mark starts at the resident set now
    before = status("VmRSS")
    y = op(x)
    extra = status("VmHWM") - before
print(json.dumps({"extra": extra, "result": int(y.nbytes), "input": int(x.nbytes)}))
"""

# case -> the bound, from the result's size r and the budget b (and 24 MiB for the allocator
# and interpreter): what the op may hold at its peak beyond what existed before the call
BOUNDS = {
    "conv2d": lambda r, b: 2 * r + 8 * b,  # tiles joined by concat: the result twice
    "conv_transpose2d": lambda r, b: 2 * r + 8 * b,
    "max_pool2d": lambda r, b: 2 * r + 8 * b,
    "avg_pool2d": lambda r, b: 2 * r + 8 * b,
    "adaptive_avg_pool2d": lambda r, b: 1.2 * r + 8 * b,  # the result, built once
    "data.resize": lambda r, b: 1.2 * r + 8 * b,  # filled in place, tile by tile
}


def _linux_rss_reset() -> str:
    if not sys.platform.startswith("linux"):
        return "reads /proc/self/status and clear_refs, which only Linux has"
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError as exc:
        return f"cannot reset the high-water mark of resident memory here ({exc})"
    return ""


@pytest.mark.parametrize("case", sorted(BOUNDS))
def test_peak_memory_stays_within_the_budget_and_the_result(be, case):
    if be.name != "numpy":
        pytest.skip("measures the generic kernels on NumPy arrays: once, in the numpy session")
    why = _linux_rss_reset()
    if why:
        pytest.skip(why)
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, case, str(BUDGET)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    info = json.loads(out.stdout.strip().splitlines()[-1])
    bound = BOUNDS[case](info["result"], BUDGET) + 24 * MiB
    assert info["extra"] <= bound, (
        f"{case}: {info['extra'] / MiB:.1f} MiB at the peak beyond what existed before the "
        f"call, more than {bound / MiB:.1f} MiB (result {info['result'] / MiB:.1f} MiB, "
        f"budget {BUDGET / MiB:.0f} MiB)"
    )


FAULTS_SCRIPT = r"""
import json, resource
import numpy as np
import portconv as pc

rng = np.random.default_rng(0)
# LeNet's first convolution on a batch of 256: column tiles of a few MiB, freed every call
x = rng.standard_normal((256, 1, 28, 28), dtype=np.float32)
w = rng.standard_normal((6, 1, 5, 5), dtype=np.float32)
with pc.config(path="generic"):
    for _ in range(3):
        pc.conv2d(x, w, padding=2)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(10):
        pc.conv2d(x, w, padding=2)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
print(json.dumps({"per_call": faults / 10}))
"""


def test_the_numpy_namespace_settles_the_allocator(be):
    """With glibc's thresholds at their start values, every call maps its column tiles
    anew (about 1,700 page faults per call of this convolution on the project's VM, a
    quarter of its time); the NumPy namespace raises them once (``settle_allocator``)."""
    import platform

    if be.name != "numpy":
        pytest.skip("the NumPy adapter's allocator settling: once, in the numpy session")
    if platform.libc_ver()[0] != "glibc":
        pytest.skip(f"glibc's adaptive mmap threshold; this libc is {platform.libc_ver()!r}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    out = subprocess.run(
        [sys.executable, "-c", FAULTS_SCRIPT], capture_output=True, text=True, timeout=300, env=env
    )
    assert out.returncode == 0, out.stderr[-2000:]
    per_call = json.loads(out.stdout.strip().splitlines()[-1])["per_call"]
    assert per_call < 100, f"{per_call:.0f} page faults per call: the allocator is not settled"
