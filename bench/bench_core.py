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
import itertools
import os
import shutil
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
    S3Config,
    add_s3_args,
    ensure_original,
    run_original,
    s3_from_args,
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


Measured = tuple[float, float | None]
"""(wall seconds, client CPU seconds (user+sys of the client process, all threads))."""


def measured(fn: Callable[[], Any]) -> Callable[[], Measured]:
    """A contender that times one call of ``fn`` and the client CPU it used."""

    def run() -> Measured:
        cpu = time.process_time()
        started = time.perf_counter()
        fn()
        return time.perf_counter() - started, time.process_time() - cpu

    return run


def original_seconds(workload: str, cfg: S3Config | None, **options: Any) -> Callable[[], float]:
    """A contender that runs one timed repeat of the original (after one untimed warm-up)."""
    return lambda: float(run_original(workload, s3=cfg, repeat=1, warmup=1, **options)["seconds"])


def original_measured(workload: str, cfg: S3Config | None, **options: Any) -> Callable[[], Measured]:
    """The original in its own venv: one timed repeat; its own wall and CPU seconds."""

    def run() -> Measured:
        out = run_original(workload, s3=cfg, repeat=1, warmup=1, **options)
        cpu = out.get("cpu_seconds")
        return float(out["seconds"]), None if cpu is None else float(cpu)

    return run


def pairs(rounds: int, contenders: dict[str, Callable[[], Measured]]) -> dict[str, list[Measured]]:
    """Every contender once per round, so the shared machine's noise is spread; the order rotates
    from round to round, so that no contender always runs right after the same neighbour (the
    original's subprocess, say, whose exit leaves the server and the caches busy)."""
    results: dict[str, list[Measured]] = {name: [] for name in contenders}
    order = list(contenders.items())
    for round_ in range(rounds):
        shift = round_ % len(order)
        for name, run in order[shift:] + order[:shift]:
            try:
                results[name].append(run())
            except OriginalError as exc:
                print(f"  {name} failed: {str(exc).splitlines()[0]}", file=sys.stderr)
    return results


def summarize(
    title: str, nbytes: int, results: dict[str, list[Measured]], unit: str = "MB/s"
) -> dict[str, Any]:
    """Median rate and CPU-s/GB per contender, and median per-round ratios to the original."""
    import statistics

    row: dict[str, Any] = {"workload": title, "unit": unit, "contenders": {}}
    base = results.get("original") or []
    for name, runs in results.items():
        if not runs:
            continue
        amount = nbytes / 1e6 if unit == "MB/s" else nbytes
        rates = [amount / s for s, _ in runs]
        cpus = [c / (nbytes / 1e9) for _, c in runs if c is not None and unit == "MB/s"]
        ratios = (
            [b[0] / r[0] for r, b in zip(runs, base, strict=False)] if base and name != "original" else []
        )
        row["contenders"][name] = {
            "rate": statistics.median(rates),
            "cpu_s_per_gb": statistics.median(cpus) if cpus else None,
            "vs_original": statistics.median(ratios) if ratios else None,
        }
    return row


def print_rows(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        print(f"\n{row['workload']}  ({row['unit']}, median of rounds; ratio = median of paired rounds)")
        for name, c in row["contenders"].items():
            cpu = f"{c['cpu_s_per_gb']:.2f}" if c["cpu_s_per_gb"] is not None else "-"
            ratio = f"{c['vs_original']:.2f}x" if c["vs_original"] is not None else "-"
            print(f"  {name:<14} {c['rate']:>10.0f}   CPU-s/GB {cpu:>6}   vs original {ratio}")


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

    return lambda: run_user_loop(fetch_all())


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


USER_LOOP = "asyncio"  # --user-loop: the loop the async contenders (ours-bytes, raw obstore) run on


def run_user_loop(main: Any) -> Any:
    """``asyncio.run(main)``, or ``uvloop.run`` with ``--user-loop uvloop``."""
    if USER_LOOP == "uvloop":
        import uvloop

        return uvloop.run(main)
    return asyncio.run(main)


def _bounded(coros: list[Callable[[], Any]], limit: int) -> int:
    """Run the calls, ``limit`` at a time, keeping every result until all are in (the same
    workload as ``get_many`` and the original's, whose results all stay in memory)."""

    async def main() -> int:
        semaphore = asyncio.Semaphore(limit)

        async def one(make: Callable[[], Any]) -> Any:
            async with semaphore:
                return await make()

        return len(await asyncio.gather(*(one(c) for c in coros)))

    # Only a count leaves asyncio.run: when it restores the SIGINT handler, CPython formats the
    # main task's repr, result included (a repr of every buffer: seconds for 256 MB of data).
    return run_user_loop(main())


def bench_s3_get(
    cfg: S3Config, bucket: str, label: str, size: int, num: int, in_flight: int, rounds: int
) -> dict[str, Any]:
    import obstore

    prefix = f"s3://{bucket}/get-{label.replace(' ', '')}/"
    payload = os.urandom(size)
    s3dlio.put_many([(f"{prefix}obj_{i:06d}.bin", payload) for i in range(num)], max_in_flight=8)
    uris = [entry["uri"] for entry in s3dlio.list(prefix)]
    keys = [entry["key"] for entry in s3dlio.list(prefix)]
    store = cfg.obstore(bucket)

    async def raw_all() -> int:
        semaphore = asyncio.Semaphore(in_flight)

        async def one(key: str) -> Any:
            async with semaphore:
                return await (await obstore.get_async(store, key)).bytes_async()  # zero-copy Bytes

        return len(await asyncio.gather(*(one(k) for k in keys)))  # kept, as get_many's are (see _bounded)

    contenders: dict[str, Callable[[], Measured]] = {
        "ours-bytes": measured(lambda: _bounded([lambda u=u: s3dlio.get_async(u) for u in uris], in_flight)),
        "ours-zero-copy": measured(lambda: s3dlio.get_many(uris, max_in_flight=in_flight)),
        "raw-obstore": measured(lambda: run_user_loop(raw_all())),
        "original": original_measured("get", cfg, uri=prefix, concurrency=in_flight),
    }
    if size > 32 * MiB:  # the split threshold, by measurement: one stream vs 8 MiB ranges

        def unsplit() -> None:
            s3dlio.configure(range_get_threshold=1 << 40)
            try:
                s3dlio.get_many(uris, max_in_flight=in_flight)
            finally:
                s3dlio.configure(range_get_threshold=None)

        contenders["ours-zc-1-stream"] = measured(unsplit)
    s3dlio.get_many(uris, max_in_flight=in_flight)  # warm-up
    results = pairs(rounds, contenders)
    s3dlio.delete(prefix, recursive=True)
    return summarize(f"S3 GET {num} x {label}, {in_flight} in flight", size * num, results)


def bench_s3_put(cfg: S3Config, bucket: str, size: int, num: int, rounds: int) -> dict[str, Any]:
    import obstore

    prefix = f"s3://{bucket}/put/"
    payload = os.urandom(size)
    items = [(f"{prefix}obj_{i:06d}.bin", payload) for i in range(num)]
    store = cfg.obstore(bucket)

    async def raw_put() -> None:
        semaphore = asyncio.Semaphore(IN_FLIGHT)

        async def one(i: int) -> None:
            async with semaphore:
                await obstore.put_async(store, f"put/raw_{i:06d}.bin", payload)

        await asyncio.gather(*(one(i) for i in range(num)))

    s3dlio.put_many(items, max_in_flight=IN_FLIGHT)  # warm-up
    results = pairs(
        rounds,
        {
            "ours": measured(lambda: s3dlio.put_many(items, max_in_flight=IN_FLIGHT)),
            "raw-obstore": measured(lambda: run_user_loop(raw_put())),
            "original": original_measured(
                "put", cfg, uri=f"s3://{bucket}/put-orig/", size=size, num=num, concurrency=IN_FLIGHT
            ),
        },
    )
    s3dlio.delete(prefix, recursive=True)
    s3dlio.delete(f"s3://{bucket}/put-orig/", recursive=True)
    return summarize(f"S3 PUT {num} x {size // KiB} KiB, {IN_FLIGHT} in flight", size * num, results)


def bench_s3_list(cfg: S3Config, bucket: str, num: int, rounds: int) -> dict[str, Any]:
    import obstore

    prefix = f"s3://{bucket}/list/"
    s3dlio.put_many([(f"{prefix}k_{i:06d}", b"x") for i in range(num)], max_in_flight=64)
    store = cfg.obstore(bucket)
    s3dlio.list(prefix)  # warm-up
    results = pairs(
        rounds,
        {
            "ours": measured(lambda: s3dlio.list(prefix)),
            "raw-obstore": measured(
                lambda: [m for batch in obstore.list(store, "list", chunk_size=1000) for m in batch]
            ),
            "original": original_measured("list", cfg, uri=prefix),
        },
    )
    s3dlio.delete(prefix, recursive=True)
    return summarize(f"S3 LIST {num} keys", num, results, unit="keys/s")


def bench_file_get(
    directory: Path, label: str, size: int, num: int, rounds: int, scheme: str = "file"
) -> dict[str, Any]:
    """Local files through ``file://`` (page cache, warm) or ``direct://`` (O_DIRECT)."""
    root = directory / f"{scheme}-{label.replace(' ', '')}"
    root.mkdir(parents=True, exist_ok=True)
    payload = os.urandom(size)
    for i in range(num):
        (root / f"obj_{i:06d}.bin").write_bytes(payload)
    uris = [f"{scheme}://{root}/obj_{i:06d}.bin" for i in range(num)]

    def plain_read(path: str) -> bytes:
        with open(path, "rb", buffering=0) as handle:
            return handle.read()

    pool = concurrent.futures.ThreadPoolExecutor(IN_FLIGHT)
    s3dlio.get_many(uris, max_in_flight=IN_FLIGHT)  # warm-up (and warm page cache)
    contenders = {
        "ours-bytes": measured(lambda: _bounded([lambda u=u: s3dlio.get_async(u) for u in uris], IN_FLIGHT)),
        "ours-zero-copy": measured(lambda: s3dlio.get_many(uris, max_in_flight=IN_FLIGHT)),
        "plain-threads": measured(
            lambda: list(pool.map(plain_read, [str(root / u.rsplit("/", 1)[1]) for u in uris]))
        ),
        "original": original_measured("file-get", None, uri=f"{scheme}://{root}/", concurrency=IN_FLIGHT),
    }
    if scheme == "direct":
        del contenders["plain-threads"]  # buffered reads would measure the page cache instead
    results = pairs(rounds, contenders)
    pool.shutdown()
    return summarize(f"{scheme}:// GET {num} x {label}, {IN_FLIGHT} in flight", size * num, results)


def bench_local_put(
    directory: Path, scheme: str, size: int, num: int, rounds: int, overwrite: bool
) -> dict[str, Any]:
    """``put_many`` of pre-made data to local files: new files each round, or the same ones
    overwritten (where the kernel must first let go of the last round's pages)."""
    root = directory / f"{scheme}-put-{'overwrite' if overwrite else 'new'}"
    payload = os.urandom(size)
    made = itertools.count()

    def target(side: str) -> str:
        return f"{scheme}://{root}/{side}-{0 if overwrite else next(made)}/"

    def ours() -> None:
        prefix = target("ours")
        s3dlio.put_many([(f"{prefix}obj_{i:06d}.bin", payload) for i in range(num)], max_in_flight=IN_FLIGHT)

    def original() -> Measured:
        # no warm-up round: it would write the files that the timed round then overwrites
        warmup = 1 if overwrite else 0
        options = {"size": size, "num": num, "concurrency": IN_FLIGHT, "repeat": 1, "warmup": warmup}
        out = run_original("put", s3=None, uri=target("orig"), **options)
        cpu = out.get("cpu_seconds")
        return float(out["seconds"]), None if cpu is None else float(cpu)

    ours()  # warm-up (and, when overwriting, the files to overwrite)
    results = pairs(rounds, {"ours": measured(ours), "original": original})
    shutil.rmtree(root)
    how = "overwriting" if overwrite else "new files"
    return summarize(
        f"{scheme}:// PUT {num} x {size // KiB} KiB, {how}, {IN_FLIGHT} in flight", size * num, results
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_s3_args(parser)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per workload")
    parser.add_argument("--skip-s3", action="store_true")
    parser.add_argument(
        "--user-loop",
        choices=("asyncio", "uvloop"),
        default="asyncio",
        help="event loop of the async contenders (ours-bytes, raw obstore); the blocking calls "
        "always run on s3dlio's background loop (asyncio unless S3DLIO_EVENT_LOOP says otherwise)",
    )
    parser.add_argument("--only", help="run only workloads whose title contains this text")
    parser.add_argument("--json", type=Path, help="also save results as JSON here")
    args = parser.parse_args()
    global USER_LOOP
    USER_LOOP = args.user_loop
    rounds = args.rounds
    ensure_original()
    rows: list[dict[str, Any]] = []

    def wanted(title: str) -> bool:
        return args.only is None or args.only.lower() in title.lower()

    with tempfile.TemporaryDirectory(prefix="s3dlio-bench-") as tmp:
        for scheme in ("file", "direct"):
            for label, size, count in (("256 KiB", 256 * KiB, 400), ("8 MiB", 8 * MiB, 40)):
                if wanted(f"{scheme}:// GET {label}"):
                    rows.append(bench_file_get(Path(tmp), label, size, count, rounds, scheme))
            for overwrite in (False, True):
                if wanted(f"{scheme}:// PUT"):
                    rows.append(bench_local_put(Path(tmp), scheme, 256 * KiB, 400, rounds, overwrite))
    s3_rows: list[tuple[str, Callable[[S3Config, str], dict[str, Any]]]] = [
        ("S3 GET 256 KiB", lambda c, b: bench_s3_get(c, b, "256 KiB", 256 * KiB, 1000, 64, rounds)),
        ("S3 GET 8 MiB", lambda c, b: bench_s3_get(c, b, "8 MiB", 8 * MiB, 100, 32, rounds)),
        ("S3 GET 64 MiB", lambda c, b: bench_s3_get(c, b, "64 MiB", 64 * MiB, 4, 4, rounds)),
        ("S3 PUT 1 MiB", lambda c, b: bench_s3_put(c, b, 1 * MiB, 300, rounds)),
        ("S3 LIST", lambda c, b: bench_s3_list(c, b, 5000, rounds)),
    ]
    s3_rows = [(title, run) for title, run in s3_rows if wanted(title)]
    if s3_rows and not args.skip_s3:
        cfg = s3_from_args(args)
        try:
            cfg.apply_env()
            bucket = f"bench-core-{os.getpid()}"
            s3dlio.create_bucket(f"s3://{bucket}")
            rows += [run(cfg, bucket) for _, run in s3_rows]
        finally:
            cfg.stop()
    print_rows(rows)
    if args.json:
        import json

        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
