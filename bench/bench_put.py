"""``put()`` data generation: ours vs the original s3dlio 0.10.0, in the same run.

    .venv/bin/python bench/bench_put.py [--quick] [--skip-s3] [--endpoint-url ...]

Rows: in-memory generation (one thread), put() to file:// per object type, put() to S3, and
put() against put_many() of pre-made data (generation must not be the bottleneck on S3).
MB = 10**6 bytes; ratios > 1 mean ours is faster. The original writes one identical buffer to
every object and its "random" data compresses; ours writes distinct, valid objects.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
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

KiB, MiB = 1024, 1024 * 1024
IN_FLIGHT = 32


def original(workload: str, cfg: object = None, **options: object) -> float | None:
    try:
        return float(run_original(workload, s3=cfg, **options)["mb_per_s"])  # type: ignore[arg-type]
    except OriginalError as exc:
        print(f"  original {workload} failed: {str(exc).splitlines()[0]}", file=sys.stderr)
        return None


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_s3_args(parser)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--skip-s3", action="store_true")
    args = parser.parse_args()
    repeat = 2 if args.quick else 3
    num = 50 if args.quick else 200
    size = 256 * KiB
    ensure_original()
    rows: list[Row] = []

    generated = time_best(lambda: s3dlio.generate_data(8 * MiB), repeat=5, warmup=1)
    rows.append(
        Row(
            "generate_data 8 MiB (1 thread)",
            ours=generated.mb_per_s(8 * MiB),
            original=original("datagen", size=8 * MiB, threads=1, repeat=5),
        )
    )
    with tempfile.TemporaryDirectory(prefix="s3dlio-bench-put-") as tmp:
        for object_type in ("random", "npz", "hdf5", "tfrecord"):
            target = Path(tmp) / f"ours-{object_type}"

            def reset(path: Path = target) -> None:
                shutil.rmtree(path, ignore_errors=True)

            timing = time_best(
                lambda ot=object_type, t=target: s3dlio.put(
                    f"file://{t}/", num, "obj_{}.bin", object_type=ot, size=size, max_in_flight=IN_FLIGHT
                ),
                repeat=repeat,
                setup=reset,
            )
            theirs = None
            if object_type != "hdf5":  # not in the original's wheel
                theirs = original(
                    "put-gen", uri=f"file://{tmp}/orig-{object_type}/", num=num, size=size,
                    object_type=object_type, concurrency=IN_FLIGHT, repeat=repeat, fresh=True,
                )  # fmt: skip
            rows.append(
                Row(
                    f"put() file:// {num} x 256 KiB {object_type}",
                    ours=timing.mb_per_s(num * size),
                    original=theirs,
                )
            )

    if not args.skip_s3:
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
            theirs = original(
                "put-gen", cfg, uri=f"s3://{bucket}/orig/", num=num, size=size, object_type="npz",
                concurrency=IN_FLIGHT, repeat=repeat,
            )  # fmt: skip
            rows.append(Row(f"put() S3 {num} x 256 KiB npz", ours=ours.mb_per_s(num * size), original=theirs))
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
