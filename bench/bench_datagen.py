#!/usr/bin/env python3
"""Single-core speed of the synthetic data generator (MB/s, MB = 10**6 bytes, best of N).

    .venv/bin/python bench/bench_datagen.py                  # ours only
    .venv/bin/python bench/bench_datagen.py --original       # also the original (its own venv)
    .venv/bin/python bench/bench_datagen.py --sizes 1M,8M --repeat 7 --json out.json
    .venv/bin/python bench/bench_datagen.py --cpu            # rate per CPU-second (busy hosts)

Rows per size:
  generate_data <case>   bytes, no seed given (a new seed per call), for random (compress=1,
                         dedup=1), compress=4 and dedup=4; --original runs the original's
                         generate_data with the same parameters (bench/_original_worker.py)
  make_object random     one seed, index 0..n-1 of an n-object call: what put() does
  fill (reused buffer)   the same bytes written into one preallocated buffer (streaming path)
  make_object <format>   npz / hdf5 / tfrecord / parquet files of that size
  dgen-py fill <case>    dgen-py (if installed) filling the same reused buffer on one thread: the
                         fastest generator in the field, for comparison (not a dependency)
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from common import Row, parse_size, print_table, run_original, save_results, time_best
from s3dlio.datagen import DataGenerator, generate_data, make_object

CASES = [("random", 1, 1), ("compress=4", 1, 4), ("dedup=4", 4, 1), ("dedup=2 compress=3", 2, 3)]


CPU_TIME = False  # --cpu: divide by this process's CPU time instead of wall time


def mb_per_s(fn: Callable[[int], object], calls: int, size: int, repeat: int) -> float:
    """Best-of-``repeat`` rate of ``calls`` calls ``fn(i)`` that each make ``size`` bytes."""

    def run() -> None:
        for i in range(calls):
            fn(i)

    if not CPU_TIME:
        return time_best(run, repeat=repeat, warmup=1).mb_per_s(size * calls)
    run()
    best = math.inf
    for _ in range(repeat):
        start = time.process_time()
        run()
        best = min(best, time.process_time() - start)
    return size * calls / best / 1e6 if best > 0 else 0.0


def dgen_rate(size: int, calls: int, dedup: int, compress: int, repeat: int) -> float | None:
    """dgen-py's single-thread rate into one reused buffer, or None when it is not installed."""
    try:
        import dgen_py  # type: ignore[import-not-found]
    except ImportError:
        return None
    buf = bytearray(size)

    def one(i: int) -> None:
        gen = dgen_py.Generator(size, dedup_ratio=dedup, compress_ratio=compress, max_threads=1, seed=i)
        gen.fill_chunk(buf)

    return mb_per_s(one, calls, size, repeat)


def bench_size(size: int, repeat: int, original: bool, formats: bool) -> list[Row]:
    calls = max(1, (256 << 20) // size)  # enough work per timed run to keep timer noise out
    label = f"{size >> 20} MiB" if size >= 1 << 20 else f"{size >> 10} KiB"
    rows = []
    for name, dedup, compress in CASES:
        ours = mb_per_s(lambda _i, d=dedup, c=compress: generate_data(size, d, c), calls, size, repeat)
        orig = None
        if original:
            res = run_original("datagen", size=size, dedup=dedup, compress=compress, repeat=repeat)
            orig = res["mb_per_s"]
        rows.append(Row(f"generate_data {name} {label}", ours=ours, original=orig))

    rate = mb_per_s(lambda i: make_object("random", i, size, seed=1, num=calls), calls, size, repeat)
    rows.append(Row(f"make_object random {label}", ours=rate))

    buf = np.empty(size, np.uint8)
    rate = mb_per_s(lambda i: DataGenerator(size, seed=1, index=i, num=calls).fill(buf), calls, size, repeat)
    rows.append(Row(f"fill (reused buffer) random {label}", ours=rate))

    for name, dedup, compress in CASES:
        rate = dgen_rate(size, calls, dedup, compress, repeat)
        if rate is not None:
            rows.append(Row(f"dgen-py fill {name} {label}", ours=rate, note="dgen-py 1 thread"))

    if formats:
        n = max(1, calls // 4)
        for kind in ("npz", "hdf5", "tfrecord", "parquet"):
            rate = mb_per_s(
                lambda i, t=kind: make_object(t, i, size, seed=1, num=n), n, size, max(1, repeat // 2)
            )
            rows.append(Row(f"make_object {kind} {label}", ours=rate))
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="1M,8M,64M", help="comma-separated sizes (K/M/G suffixes)")
    p.add_argument("--repeat", type=int, default=5, help="timed runs per row (best is reported)")
    p.add_argument("--original", action="store_true", help="also time the original s3dlio")
    p.add_argument("--no-formats", action="store_true", help="skip the npz/hdf5/tfrecord rows")
    p.add_argument("--json", help="also write the rows to this JSON file")
    p.add_argument("--cpu", action="store_true", help="rates per CPU-second of this process (ours only)")
    args = p.parse_args()
    global CPU_TIME
    CPU_TIME = args.cpu

    rows: list[Row] = []
    for size in (parse_size(s) for s in args.sizes.split(",")):
        rows += bench_size(size, args.repeat, args.original, not args.no_formats)
    title = "datagen, one core (MB per CPU-second)" if args.cpu else "datagen, one core (MB/s)"
    print_table(rows, title=title)
    if args.json:
        save_results(rows, args.json, meta={"bench": "datagen"})


if __name__ == "__main__":
    main()
