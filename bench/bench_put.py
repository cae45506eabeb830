"""``put()`` data generation: ours vs the original s3dlio 0.10.0, in the same run.

    .venv/bin/python bench/bench_put.py [--quick] [--skip-s3] [--num 400] [--rounds 5] [--endpoint-url ...]

Rows: in-memory generation (one thread), put() to file:// per object type, put() to S3, and
put() against put_many() of pre-made data (generation must not be the bottleneck on S3).
MB = 10**6 bytes of what landed on disk (sum of the file sizes, for both sides); ratios > 1 mean
ours is faster. The original writes one identical buffer to every object and its "random" data
compresses; ours writes distinct, valid objects.

Fairness on a busy machine: for each object type the two sides alternate, round after round
(ours, then the original in its own venv), each round writing into a fresh, empty directory,
and each side reports its best round. Ours draws a new seed every call (nothing can be cached
between rounds); the first round of each side is an untimed warm-up.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import s3dlio
from common import (
    OriginalError,
    Row,
    add_s3_args,
    ensure_original,
    print_table,
    run_original,
    s3_from_args,
    time_best,
)

# s3dlio is imported; a PYTHONPATH (e.g. pointing at another checkout of ours, to compare versions)
# must not leak into the original's subprocess, whose package has the same import name.
os.environ.pop("PYTHONPATH", None)

KiB, MiB = 1024, 1024 * 1024
IN_FLIGHT = 32
EXT = {"random": "bin", "zeros": "bin", "npz": "npz", "hdf5": "h5", "tfrecord": "tfrecord"}


def original(workload: str, cfg: object = None, **options: object) -> dict | None:
    try:
        return run_original(workload, s3=cfg, **options)  # type: ignore[arg-type]
    except OriginalError as exc:
        print(f"  original {workload} failed: {str(exc).splitlines()[0]}", file=sys.stderr)
        return None


def _median(rates: list[float]) -> str:
    return f"{statistics.median(rates):,.0f}" if rates else "-"


def disk_bytes(directory: Path) -> int:
    return sum(entry.stat().st_size for entry in os.scandir(directory) if entry.is_file())


def ours_round(target: Path, num: int, size: int, object_type: str) -> tuple[float, int, float]:
    """One timed put() into an empty ``target``: (seconds, bytes on disk, CPU seconds)."""
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    cpu0 = os.times()
    start = time.perf_counter()
    s3dlio.put(
        f"file://{target}/", num, f"obj_{{}}.{EXT[object_type]}", object_type=object_type, size=size,
        max_in_flight=IN_FLIGHT,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    cpu1 = os.times()
    return seconds, disk_bytes(target), (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)


def bench_file(tmp: Path, object_type: str, num: int, size: int, rounds: int) -> list[Row]:
    ours_dir, orig_dir = tmp / f"ours-{object_type}", tmp / f"orig-{object_type}"
    ours_best = theirs_best = None
    ours_all: list[float] = []
    theirs_all: list[float] = []
    ours_cpu: list[float] = []  # CPU seconds per GB (user + sys of the writing process)
    theirs_cpu: list[float] = []
    has_original = object_type != "hdf5"  # not in the original's wheel
    ours_round(ours_dir, num, size, object_type)  # warm-up (thread pools, caches of sizes)
    for round_ in range(rounds):
        seconds, nbytes, cpu = ours_round(ours_dir, num, size, object_type)
        ours_cpu.append(cpu / (nbytes / 1e9))
        rate = nbytes / seconds / 1e6
        ours_all.append(rate)
        ours_best = rate if ours_best is None else max(ours_best, rate)
        if has_original:
            res = original(
                "put-gen", uri=f"file://{orig_dir}/", num=num, size=size, object_type=object_type,
                concurrency=IN_FLIGHT, repeat=1, warmup=1, fresh=True,
            )  # fmt: skip
            if res is not None:
                rate = float(res["mb_per_s"])
                if res.get("cpu_seconds"):
                    theirs_cpu.append(min(res["cpu_seconds"]) / (float(res["bytes"]) / 1e9))
                theirs_all.append(rate)
                theirs_best = rate if theirs_best is None else max(theirs_best, rate)
        print(
            f"  {object_type} round {round_ + 1}: ours {ours_all[-1]:,.0f} MB/s, original "
            + (f"{theirs_all[-1]:,.0f} MB/s" if len(theirs_all) == round_ + 1 else "-"),
            file=sys.stderr,
        )
    shutil.rmtree(ours_dir, ignore_errors=True)
    shutil.rmtree(orig_dir, ignore_errors=True)
    name = f"put() file:// {num} x {size // KiB} KiB {object_type}"
    return [
        Row(
            name,
            ours=ours_best,
            original=theirs_best,
            note=f"best of {rounds} alternating rounds; medians {_median(ours_all)} vs {_median(theirs_all)}",
        ),
        Row(
            f"{name} CPU",
            ours=min(ours_cpu),
            original=min(theirs_cpu) if theirs_cpu else None,
            unit="CPU-s/GB",
            higher_is_better=False,
            note="least CPU (user+sys) per GB over the rounds",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_s3_args(parser)
    parser.add_argument("--quick", action="store_true", help="3 rounds instead of 5")
    parser.add_argument("--skip-s3", action="store_true")
    parser.add_argument("--num", type=int, default=400, help="objects per put() call")
    parser.add_argument("--size", type=int, default=256 * KiB, help="bytes per object")
    parser.add_argument("--rounds", type=int, default=None, help="alternating rounds per type")
    parser.add_argument(
        "--types", default="random,zeros,npz,tfrecord,hdf5", help="object types, comma-separated"
    )
    args = parser.parse_args()
    rounds = args.rounds or (3 if args.quick else 5)
    num, size = args.num, args.size
    ensure_original()
    rows: list[Row] = []

    generated = time_best(lambda: s3dlio.generate_data(8 * MiB), repeat=5, warmup=1)
    theirs = original("datagen", size=8 * MiB, threads=1, repeat=5)
    rows.append(
        Row(
            "generate_data 8 MiB (1 thread)",
            ours=generated.mb_per_s(8 * MiB),
            original=None if theirs is None else float(theirs["mb_per_s"]),
        )
    )
    with tempfile.TemporaryDirectory(prefix="s3dlio-bench-put-") as tmp:
        for object_type in args.types.split(","):
            rows += bench_file(Path(tmp), object_type, num, size, rounds)

    if not args.skip_s3:
        repeat = rounds
        cfg = s3_from_args(args)
        try:
            cfg.apply_env()
            bucket = f"bench-put-{os.getpid()}"
            s3dlio.create_bucket(f"s3://{bucket}")
            prefix = f"s3://{bucket}/gen/"
            ours = time_best(
                lambda: s3dlio.put(
                    prefix, num, "obj_{}.npz", object_type="npz", size=size, max_in_flight=IN_FLIGHT
                ),
                repeat=repeat,
            )
            data = [s3dlio.datagen.make_object("npz", i, size, seed=1, num=num) for i in range(num)]
            premade = time_best(
                lambda: s3dlio.put_many(
                    [(f"{prefix}pm_{i}", d) for i, d in enumerate(data)], max_in_flight=IN_FLIGHT
                ),
                repeat=repeat,
            )
            res = original(
                "put-gen", cfg, uri=f"s3://{bucket}/orig/", num=num, size=size, object_type="npz",
                concurrency=IN_FLIGHT, repeat=repeat,
            )  # fmt: skip
            rows.append(
                Row(
                    f"put() S3 {num} x {size // KiB} KiB npz",
                    ours=ours.mb_per_s(num * size),
                    original=None if res is None else float(res["mb_per_s"]),
                )
            )
            rows.append(
                Row(
                    "put() S3 vs put_many of pre-made data",
                    ours=ours.mb_per_s(num * size),
                    raw=premade.mb_per_s(num * size),
                    note="raw = our put_many of the same bytes",
                )
            )
        finally:
            cfg.stop()
    print_table(rows, title=f"put() data generation, {IN_FLIGHT} in flight, {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
