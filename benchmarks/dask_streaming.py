"""Streaming on a Dask cluster: more images, and a bigger image, than a worker may hold.

The book's modern LeNet classifies a lazily generated batch of random 28x28 images that is
larger than each worker's memory limit (and than all workers' limits together); then one
image larger than a worker's limit, cut into spatial chunks, is convolved and max-pooled
(halos between its chunks) and a corner is checked against one in-memory call. Both run on a
``dask.distributed`` cluster of worker processes started here with a low ``memory_limit``,
or on an existing cluster (``--scheduler tcp://host:8786``). Only the class counts and the
image's channel means come back. It prints the throughput, the same model on NumPy in this
process for comparison, and every worker's peak resident memory against its limit: a peak
under the limit shows that the computation streamed chunk by chunk. Not a test (it takes minutes).

    python benchmarks/dask_streaming.py                      # 300,000 images, 2 workers
    python benchmarks/dask_streaming.py --images 400000 --memory-limit 384MiB
    python benchmarks/dask_streaming.py --scheduler tcp://scheduler-host:8786
"""

from __future__ import annotations

import argparse
import json
import time


def _peak_rss() -> int:
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", type=int, default=300_000)
    p.add_argument("--chunk", type=int, default=500, help="images per chunk")
    p.add_argument("--image-side", type=int, default=12_288, help="pixels of the big image")
    p.add_argument("--tile", type=int, default=512, help="its chunks' side")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--memory-limit", default="400MiB", help="per worker (dask's syntax)")
    p.add_argument("--scheduler", default=None, help="address of an existing cluster")
    p.add_argument("--json", default=None, help="write the figures to this file")
    args = p.parse_args(argv)

    import dask
    import dask.array as da
    import numpy as np
    from dask.utils import format_bytes, parse_bytes
    from distributed import Client, LocalCluster

    import portconv as pc
    from portconv import models
    from portconv.autograd import no_grad

    pc.nn.init.manual_seed(0)
    model = models.LeNetModern()
    with no_grad():
        model.eval()
        model(np.zeros((1, 1, 28, 28), np.float32))  # parameters drawn on NumPy

    # NumPy in this process: the same model on as many images as one chunk holds
    sample = np.random.default_rng(1).standard_normal((args.chunk, 1, 28, 28), np.float32)
    with no_grad():
        model(sample[:64])
        t0 = time.perf_counter()
        model(sample)
        numpy_rate = args.chunk / (time.perf_counter() - t0)

    if args.scheduler:
        cluster, client = None, Client(args.scheduler)
        limit = None
    else:
        cluster = LocalCluster(
            n_workers=args.workers,
            threads_per_worker=1,
            processes=True,
            memory_limit=args.memory_limit,
            dashboard_address=None,
        )
        client = Client(cluster)
        limit = parse_bytes(args.memory_limit)

    rng = da.random.default_rng(0)
    images = rng.standard_normal(
        (args.images, 1, 28, 28), dtype=np.float32, chunks=(args.chunk, 1, 28, 28)
    )
    total = images.nbytes
    with no_grad():
        model.to(images)  # the parameters become one-chunk Dask arrays: shipped once
        logits = model(images).data
    counts = da.bincount(da.argmax(logits, axis=1), minlength=10)

    t0 = time.perf_counter()
    result = client.compute(counts).result()
    seconds = time.perf_counter() - t0

    # one image larger than a worker's limit, cut into spatial chunks: convolution and max
    # pooling with halos between chunks, then each channel's mean
    side, tile = args.image_side, args.tile
    image = da.random.default_rng(1).standard_normal(
        (1, 1, side, side), dtype=np.float32, chunks=(1, 1, tile, tile)
    )
    kernel = np.random.default_rng(2).standard_normal((4, 1, 5, 5)).astype(np.float32)
    pooled = pc.max_pool2d(pc.conv2d(image, kernel, padding=2), 3, 2, 1)
    t0 = time.perf_counter()
    means = client.compute(pc.global_avg_pool(pooled)).result().ravel()
    image_seconds = time.perf_counter() - t0
    # check a corner that spans chunk boundaries against one in-memory call, here
    corner = min(side, tile + tile // 2)
    got = client.compute(pooled[..., : corner // 2 - 2, : corner // 2 - 2]).result()
    want = pc.max_pool2d(
        pc.conv2d(image[..., :corner, :corner].compute(), kernel, padding=2), 3, 2, 1
    )[..., : corner // 2 - 2, : corner // 2 - 2]
    image_ok = bool(np.allclose(got, want, rtol=1e-5, atol=1e-5))
    peaks = client.run(_peak_rss)  # each worker process's peak resident memory, ever

    rate = args.images / seconds
    workers = len(peaks)
    figures = {
        "images": args.images,
        "input_bytes": total,
        "chunk": args.chunk,
        "workers": workers,
        "memory_limit_per_worker": limit,
        "seconds": seconds,
        "images_per_second": rate,
        "numpy_one_process_images_per_second": numpy_rate,
        "peak_rss": peaks,
        "class_counts": [int(c) for c in result],
        "image_side": side,
        "image_bytes": image.nbytes,
        "image_tile": tile,
        "image_seconds": image_seconds,
        "image_megapixels_per_second": side * side / image_seconds / 1e6,
        "image_channel_means": [float(m) for m in means],
        "image_corner_matches_one_call": image_ok,
        "dask": dask.__version__,
    }
    print(f"input: {args.images} images of 1x28x28 float32 = {format_bytes(total)} (lazy)")
    if limit:
        print(
            f"cluster: {workers} worker processes, 1 thread each, memory limit "
            f"{format_bytes(limit)} each ({format_bytes(limit * workers)} in all: the input is "
            f"{total / (limit * workers):.1f}x that)"
        )
    print(f"time: {seconds:.1f} s, {rate:,.0f} images/s on the cluster")
    print(f"NumPy in one process: {numpy_rate:,.0f} images/s (ratio {rate / numpy_rate:.2f})")
    for addr, peak in sorted(peaks.items()):
        note = f" (limit {format_bytes(limit)}: {peak / limit:.0%})" if limit else ""
        print(f"worker {addr}: peak resident memory {format_bytes(peak)}{note}")
    print(f"class counts: {figures['class_counts']} (sum {sum(figures['class_counts'])})")
    print(
        f"one {side}x{side} image ({format_bytes(image.nbytes)}, {tile}x{tile} chunks): conv "
        f"5x5 to 4 channels, max pool 3/2, mean in {image_seconds:.1f} s "
        f"({figures['image_megapixels_per_second']:.1f} Mpixel/s); corner across chunk "
        f"boundaries equals one in-memory call: {image_ok}"
    )
    ok = (
        sum(figures["class_counts"]) == args.images
        and image_ok
        and (limit is None or max(peaks.values()) < limit)
    )
    print("streamed: every result right, every worker under its limit" if ok else "FAILED")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=2)
    client.close()
    if cluster is not None:
        cluster.close()
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
