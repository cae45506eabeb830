"""Core object operations: ours vs the original s3dlio 0.10.0, raw obstore and boto3, same run.

    .venv/bin/python bench/bench_core.py [--quick] [--endpoint-url ... | AWS_* env | own SeaweedFS]

S3 rows use one SeaweedFS server (started here unless an endpoint is given) with 32 requests in
flight; file:// rows read a warm page cache. MB = 10**6 bytes. Ratios > 1 mean ours is faster.
The original runs in its own virtualenv (bench/setup_original.sh) in a subprocess.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import s3dlio
from common import (
    OriginalError,
    Row,
    S3Config,
    add_s3_args,
    ensure_original,
    print_table,
    run_original,
    s3_from_args,
    save_results,
)

KiB, MiB = 1024, 1024 * 1024
IN_FLIGHT = 32


def original_rate(workload: str, cfg: S3Config | None, key: str = "mb_per_s", **options: Any) -> float | None:
    try:
        return float(run_original(workload, s3=cfg, repeat=options.pop("repeat", 3), **options)[key])
    except OriginalError as exc:
        print(f"  original {workload} failed: {str(exc).splitlines()[0]}", file=sys.stderr)
        return None


def timed(fn: Callable[[], Any]) -> Callable[[], float]:
    """A contender that times one call of ``fn``."""

    def run() -> float:
        started = time.perf_counter()
        fn()
        return time.perf_counter() - started

    return run


def original_seconds(workload: str, cfg: S3Config | None, **options: Any) -> Callable[[], float]:
    """A contender that runs one timed repeat of the original (after one untimed warm-up)."""
    return lambda: float(run_original(workload, s3=cfg, repeat=1, warmup=1, **options)["seconds"])


def interleaved(rounds: int, contenders: dict[str, Callable[[], float]]) -> dict[str, float | None]:
    """Best seconds of each contender over ``rounds`` rounds that alternate between them.

    Alternating spreads the shared machine's background noise evenly over the contenders.
    """
    best: dict[str, float | None] = dict.fromkeys(contenders)
    for _ in range(rounds):
        for name, run in contenders.items():
            try:
                seconds = run()
            except OriginalError as exc:
                print(f"  {name} failed: {str(exc).splitlines()[0]}", file=sys.stderr)
                continue
            current = best[name]
            best[name] = seconds if current is None else min(current, seconds)
    return best


def rate(amount: float, seconds: float | None) -> float | None:
    return None if not seconds else amount / seconds


def raw_obstore_get(cfg: S3Config, bucket: str, keys: list[str]) -> Callable[[], int]:
    import obstore

    store = cfg.obstore(bucket)

    async def fetch_all() -> int:
        semaphore = asyncio.Semaphore(IN_FLIGHT)

        async def one(key: str) -> int:
            async with semaphore:
                result = await obstore.get_async(store, key)
                return len(await result.bytes_async())

        return sum(await asyncio.gather(*(one(k) for k in keys)))

    return lambda: asyncio.run(fetch_all())


def boto3_client(cfg: S3Config) -> Any:
    import boto3
    from botocore.config import Config as BotoConfig

    return boto3.client(
        "s3",
        endpoint_url=cfg.endpoint_url,
        region_name=cfg.region,
        aws_access_key_id=cfg.access_key_id,
        aws_secret_access_key=cfg.secret_access_key,
        config=BotoConfig(max_pool_connections=IN_FLIGHT),
    )


def bench_s3_get(cfg: S3Config, bucket: str, label: str, size: int, num: int, repeat: int) -> Row:
    prefix = f"s3://{bucket}/get-{label}/"
    payload = os.urandom(size)
    s3dlio.put_many([(f"{prefix}obj_{i:06d}.bin", payload) for i in range(num)], max_in_flight=8)
    uris = [entry["uri"] for entry in s3dlio.list(prefix)]
    keys = [entry["key"] for entry in s3dlio.list(prefix)]
    total = size * num
    if num <= 4:  # a few huge objects: one at a time, parallelism comes from ranged parts
        ours = timed(lambda: [s3dlio.get(u) for u in uris])
    else:
        ours = timed(lambda: s3dlio.get_many(uris, max_in_flight=IN_FLIGHT))
    client = boto3_client(cfg)
    pool = concurrent.futures.ThreadPoolExecutor(IN_FLIGHT)
    ours()  # warm-up
    best = interleaved(
        repeat,
        {
            "ours": ours,
            "raw": timed(raw_obstore_get(cfg, bucket, keys)),
            "boto3": timed(
                lambda: list(pool.map(lambda k: client.get_object(Bucket=bucket, Key=k)["Body"].read(), keys))
            ),
            "original": original_seconds("get", cfg, uri=prefix, concurrency=IN_FLIGHT),
        },
    )
    pool.shutdown()
    s3dlio.delete(prefix, recursive=True)
    return Row(
        f"S3 GET {num} x {label}",
        ours=rate(total / 1e6, best["ours"]),
        original=rate(total / 1e6, best["original"]),
        raw=rate(total / 1e6, best["raw"]),
        extra={"boto3": rate(total / 1e6, best["boto3"])},
    )


def bench_s3_put(cfg: S3Config, bucket: str, size: int, num: int, repeat: int) -> Row:
    import obstore

    prefix = f"s3://{bucket}/put/"
    payload = os.urandom(size)
    items = [(f"{prefix}obj_{i:06d}.bin", payload) for i in range(num)]
    total = size * num
    store = cfg.obstore(bucket)

    async def raw_put() -> None:
        semaphore = asyncio.Semaphore(IN_FLIGHT)

        async def one(i: int) -> None:
            async with semaphore:
                await obstore.put_async(store, f"put/raw_{i:06d}.bin", payload)

        await asyncio.gather(*(one(i) for i in range(num)))

    client = boto3_client(cfg)
    pool = concurrent.futures.ThreadPoolExecutor(IN_FLIGHT)

    def boto_put(i: int) -> None:
        client.put_object(Bucket=bucket, Key=f"put/b_{i}", Body=payload)

    s3dlio.put_many(items, max_in_flight=IN_FLIGHT)  # warm-up
    best = interleaved(
        repeat,
        {
            "ours": timed(lambda: s3dlio.put_many(items, max_in_flight=IN_FLIGHT)),
            "raw": timed(lambda: asyncio.run(raw_put())),
            "boto3": timed(
                lambda: list(
                    pool.map(
                        lambda i: client.put_object(Bucket=bucket, Key=f"put/b_{i}", Body=payload), range(num)
                    )
                )
            ),
            "original": original_seconds(
                "put", cfg, uri=f"s3://{bucket}/put-orig/", size=size, num=num, concurrency=IN_FLIGHT
            ),
        },
    )
    pool.shutdown()
    s3dlio.delete(prefix, recursive=True)
    s3dlio.delete(f"s3://{bucket}/put-orig/", recursive=True)
    return Row(
        f"S3 PUT {num} x {size // KiB} KiB",
        ours=rate(total / 1e6, best["ours"]),
        original=rate(total / 1e6, best["original"]),
        raw=rate(total / 1e6, best["raw"]),
        extra={"boto3": rate(total / 1e6, best["boto3"])},
    )


def bench_s3_list(cfg: S3Config, bucket: str, num: int, repeat: int) -> Row:
    import obstore

    prefix = f"s3://{bucket}/list/"
    s3dlio.put_many([(f"{prefix}k_{i:06d}", b"x") for i in range(num)], max_in_flight=64)
    store = cfg.obstore(bucket)
    s3dlio.list(prefix)  # warm-up
    best = interleaved(
        repeat,
        {
            "ours": timed(lambda: s3dlio.list(prefix)),
            "raw": timed(
                lambda: [m for batch in obstore.list(store, "list", chunk_size=1000) for m in batch]
            ),
            "original": original_seconds("list", cfg, uri=prefix),
        },
    )
    s3dlio.delete(prefix, recursive=True)
    return Row(
        f"S3 LIST {num} keys",
        ours=rate(num, best["ours"]),
        original=rate(num, best["original"]),
        raw=rate(num, best["raw"]),
        unit="keys/s",
    )


def bench_file_get(directory: Path, label: str, size: int, num: int, repeat: int) -> Row:
    root = directory / f"file-{label}"
    root.mkdir(parents=True, exist_ok=True)
    payload = os.urandom(size)
    for i in range(num):
        (root / f"obj_{i:06d}.bin").write_bytes(payload)
    uris = [f"file://{root}/obj_{i:06d}.bin" for i in range(num)]
    total = size * num

    def plain_read(path: str) -> bytes:
        with open(path, "rb", buffering=0) as handle:
            return handle.read()

    pool = concurrent.futures.ThreadPoolExecutor(IN_FLIGHT)
    s3dlio.get_many(uris, max_in_flight=IN_FLIGHT)  # warm-up (and warm page cache)
    best = interleaved(
        repeat,
        {
            "ours": timed(lambda: s3dlio.get_many(uris, max_in_flight=IN_FLIGHT)),
            "plain": timed(lambda: list(pool.map(plain_read, [u[7:] for u in uris]))),
            "original": original_seconds("file-get", None, uri=f"file://{root}/", concurrency=IN_FLIGHT),
        },
    )
    pool.shutdown()
    return Row(
        f"file:// GET {num} x {label}",
        ours=rate(total / 1e6, best["ours"]),
        original=rate(total / 1e6, best["original"]),
        raw=rate(total / 1e6, best["plain"]),
        note="raw = plain threaded reads",
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_s3_args(parser)
    parser.add_argument("--quick", action="store_true", help="fewer objects and repeats")
    parser.add_argument("--skip-s3", action="store_true")
    parser.add_argument("--json", type=Path, help="also save results as JSON here")
    args = parser.parse_args()
    repeat = 2 if args.quick else 5
    scale = 4 if args.quick else 1
    ensure_original()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="s3dlio-bench-") as tmp:
        rows.append(bench_file_get(Path(tmp), "256 KiB", 256 * KiB, 400 // scale, repeat))
        rows.append(bench_file_get(Path(tmp), "8 MiB", 8 * MiB, 40 // scale, repeat))
    if not args.skip_s3:
        cfg = s3_from_args(args)
        try:
            cfg.apply_env()
            bucket = f"bench-core-{os.getpid()}"
            s3dlio.create_bucket(f"s3://{bucket}")
            rows.append(bench_s3_get(cfg, bucket, "256 KiB", 256 * KiB, 400 // scale, repeat))
            rows.append(bench_s3_get(cfg, bucket, "8 MiB", 8 * MiB, 40 // scale, repeat))
            rows.append(bench_s3_get(cfg, bucket, "256 MiB", 256 * MiB, 2 if not args.quick else 1, repeat))
            rows.append(bench_s3_put(cfg, bucket, 1 * MiB, 200 // scale, repeat))
            rows.append(bench_s3_list(cfg, bucket, 5000 // scale, repeat))
        finally:
            cfg.stop()
    print_table(rows, title=f"core operations, {IN_FLIGHT} in flight, {os.cpu_count()} cores")
    for row in rows:
        if "boto3" in row.extra:
            print(f"  {row.name}: boto3 {row.extra['boto3']:.0f} MB/s")
    if args.json:
        save_results(rows, args.json)


if __name__ == "__main__":
    main()
