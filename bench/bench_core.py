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
    time_best,
)

KiB, MiB = 1024, 1024 * 1024
IN_FLIGHT = 32


def original_rate(workload: str, cfg: S3Config | None, key: str = "mb_per_s", **options: Any) -> float | None:
    try:
        return float(run_original(workload, s3=cfg, repeat=options.pop("repeat", 3), **options)[key])
    except OriginalError as exc:
        print(f"  original {workload} failed: {str(exc).splitlines()[0]}", file=sys.stderr)
        return None


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
        ours = time_best(lambda: [s3dlio.get(u) for u in uris], repeat=repeat, warmup=1)
    else:
        ours = time_best(lambda: s3dlio.get_many(uris, max_in_flight=IN_FLIGHT), repeat=repeat, warmup=1)
    raw = time_best(raw_obstore_get(cfg, bucket, keys), repeat=repeat, warmup=1)
    client = boto3_client(cfg)
    with concurrent.futures.ThreadPoolExecutor(IN_FLIGHT) as pool:
        boto = time_best(
            lambda: list(pool.map(lambda k: client.get_object(Bucket=bucket, Key=k)["Body"].read(), keys)),
            repeat=repeat,
        )
    original = original_rate("get", cfg, uri=prefix, concurrency=IN_FLIGHT, repeat=repeat, warmup=1)
    s3dlio.delete(prefix, recursive=True)
    return Row(
        f"S3 GET {num} x {label}",
        ours=ours.mb_per_s(total),
        original=original,
        raw=raw.mb_per_s(total),
        extra={"boto3": boto.mb_per_s(total)},
    )


def bench_s3_put(cfg: S3Config, bucket: str, size: int, num: int, repeat: int) -> Row:
    import obstore

    prefix = f"s3://{bucket}/put/"
    payload = os.urandom(size)
    items = [(f"{prefix}obj_{i:06d}.bin", payload) for i in range(num)]
    total = size * num
    ours = time_best(lambda: s3dlio.put_many(items, max_in_flight=IN_FLIGHT), repeat=repeat, warmup=1)
    store = cfg.obstore(bucket)

    async def raw_put() -> None:
        semaphore = asyncio.Semaphore(IN_FLIGHT)

        async def one(i: int) -> None:
            async with semaphore:
                await obstore.put_async(store, f"put/raw_{i:06d}.bin", payload)

        await asyncio.gather(*(one(i) for i in range(num)))

    raw = time_best(lambda: asyncio.run(raw_put()), repeat=repeat, warmup=1)
    client = boto3_client(cfg)
    with concurrent.futures.ThreadPoolExecutor(IN_FLIGHT) as pool:
        boto = time_best(
            lambda: list(
                pool.map(
                    lambda i: client.put_object(Bucket=bucket, Key=f"put/b_{i}", Body=payload), range(num)
                )
            ),
            repeat=repeat,
        )
    original = original_rate(
        "put", cfg, uri=f"s3://{bucket}/put-orig/", size=size, num=num, concurrency=IN_FLIGHT, repeat=repeat
    )
    s3dlio.delete(prefix, recursive=True)
    s3dlio.delete(f"s3://{bucket}/put-orig/", recursive=True)
    return Row(
        f"S3 PUT {num} x {size // KiB} KiB",
        ours=ours.mb_per_s(total),
        original=original,
        raw=raw.mb_per_s(total),
        extra={"boto3": boto.mb_per_s(total)},
    )


def bench_s3_list(cfg: S3Config, bucket: str, num: int, repeat: int) -> Row:
    import obstore

    prefix = f"s3://{bucket}/list/"
    s3dlio.put_many([(f"{prefix}k_{i:06d}", b"x") for i in range(num)], max_in_flight=64)
    ours = time_best(lambda: s3dlio.list(prefix), repeat=repeat, warmup=1)
    store = cfg.obstore(bucket)
    raw = time_best(
        lambda: [m for batch in obstore.list(store, "list", chunk_size=1000) for m in batch], repeat=repeat
    )
    original = original_rate("list", cfg, key="objects_per_s", uri=prefix, repeat=repeat)
    s3dlio.delete(prefix, recursive=True)
    return Row(
        f"S3 LIST {num} keys",
        ours=ours.rate(num),
        original=original,
        raw=raw.rate(num),
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

    ours = time_best(lambda: s3dlio.get_many(uris, max_in_flight=IN_FLIGHT), repeat=repeat, warmup=1)
    with concurrent.futures.ThreadPoolExecutor(IN_FLIGHT) as pool:
        plain = time_best(lambda: list(pool.map(plain_read, [u[7:] for u in uris])), repeat=repeat, warmup=1)
    original = original_rate(
        "file-get", None, uri=f"file://{root}/", concurrency=IN_FLIGHT, repeat=repeat, warmup=1
    )
    return Row(
        f"file:// GET {num} x {label}",
        ours=ours.mb_per_s(total),
        original=original,
        raw=plain.mb_per_s(total),
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
    repeat = 2 if args.quick else 3
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
