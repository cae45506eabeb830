#!/usr/bin/env python3
"""Loader throughput: our batch loader vs our own get_many on the same objects.

    .venv/bin/python bench/bench_loader.py                       # file:// only
    .venv/bin/python bench/bench_loader.py --s3                  # also S3 (AWS_* env, else SeaweedFS)
    .venv/bin/python bench/bench_loader.py --original            # also the original's loader
    .venv/bin/python bench/bench_loader.py --num 4000 --size 64KiB --batch-size 64 --json out.json

Rows per backend (MB = 10**6 bytes, best of --repeat; the listing is not timed):
  get_many            s3dlio.get_many(all URIs, max_in_flight=C): every object at once, no
                      batching, unbounded memory; the ceiling the loader is compared against
  loader sync         for batch in loader  (batch B, prefetch P, max_concurrency C)
  loader async        async for batch in loader
  loader shuffled     the same with shuffle=True, seed=0
  loader mc=1         max_concurrency=1: one request at a time (what concurrency buys)
  original loader     the original s3dlio's create_async_loader (its own venv; --original),
                      its epoch time without the loader's construction (iter_seconds)

Columns: MB/s, objects/s, vs get_many (loader / get_many), vs mc=1 (speed-up over one request
at a time), vs original (ours / original; > 1 means ours is faster).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import s3dlio
from s3dlio.loader import PyDataset, create_async_loader_from_dataset, create_dataset

try:  # shared bench helpers (optional: this script also runs without them)
    import common
except ImportError:  # pragma: no cover
    common = None  # type: ignore[assignment]


def parse_size(text: str) -> int:
    if common is not None:
        return int(common.parse_size(text))
    return int(text)


def best_of(fn: Callable[[], Any], repeat: int, warmup: int = 1) -> tuple[float, Any]:
    times, result = [], None
    for i in range(warmup + repeat):
        t0 = time.perf_counter()
        result = fn()
        dt = time.perf_counter() - t0
        if i >= warmup:
            times.append(dt)
    return min(times), result


def prepare(prefix: str, num: int, size: int) -> None:
    payload = os.urandom(size)
    items = [
        (f"{prefix}obj_{i:06d}.bin", payload[:8] + i.to_bytes(8, "little") + payload[16:]) for i in range(num)
    ]
    s3dlio.put_many(items, max_in_flight=64)


def loader_epoch(dataset: PyDataset, opts: dict[str, Any], mode: str) -> tuple[int, int]:
    loader = create_async_loader_from_dataset(dataset, opts)
    if mode == "async":

        async def go() -> tuple[int, int]:
            n = b = 0
            async for batch in loader:
                n += len(batch)
                b += sum(map(len, batch))
            return n, b

        return asyncio.run(go())
    n = b = 0
    for batch in loader:
        n += len(batch)
        b += sum(map(len, batch))
    return n, b


def bench_backend(label: str, prefix: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    dataset = create_dataset(prefix)
    uris = dataset.uris
    total = sum(s or 0 for s in dataset.sizes)
    n = len(uris)
    base = {
        "batch_size": args.batch_size,
        "prefetch": args.prefetch,
        "max_concurrency": args.concurrency,
    }
    rows: list[dict[str, Any]] = []

    def add(name: str, seconds: float, extra: str = "") -> None:
        rows.append(
            {
                "backend": label,
                "name": name,
                "seconds": seconds,
                "mb_per_s": total / seconds / 1e6,
                "objects_per_s": n / seconds,
                "note": extra,
            }
        )

    def get_all() -> int:
        # the data is dropped inside the timed call, as the loader's batches are
        return sum(map(len, s3dlio.get_many(uris, max_in_flight=args.concurrency)))

    sec, got = best_of(get_all, args.repeat)
    assert got == total
    add("get_many", sec, f"C={args.concurrency}")
    for name, opts, mode in [
        ("loader sync", base, "sync"),
        ("loader async", base, "async"),
        ("loader shuffled", {**base, "shuffle": True, "seed": 0}, "sync"),
        ("loader mc=1", {**base, "max_concurrency": 1}, "sync"),
    ]:
        sec, (count, nbytes) = best_of(lambda o=opts, m=mode: loader_epoch(dataset, o, m), args.repeat)
        assert count == n and nbytes == total, (count, n, nbytes, total)
        add(name, sec, f"B={opts['batch_size']} P={opts['prefetch']} C={opts['max_concurrency']}")

    if args.original:
        if common is None or not common.original_available():
            rows.append(
                {
                    "backend": label,
                    "name": "original loader",
                    "error": "original venv missing (bench/setup_original.sh)",
                }
            )
        else:
            s3cfg = getattr(args, "s3cfg", None) if label == "s3" else None
            res = common.run_original(
                "loader",
                s3=s3cfg,
                uri=prefix,
                batch_size=args.batch_size,
                concurrency=args.prefetch,
                repeat=args.repeat,
                warmup=1,
                check=False,
            )
            if "error" in res:
                rows.append({"backend": label, "name": "original loader", "error": res["error"]})
            else:
                sec = res.get("iter_seconds") or res["seconds"]
                add("original loader", sec, f"B={args.batch_size} prefetch={args.prefetch} (its own knobs)")
    return rows


def print_rows(rows: list[dict[str, Any]]) -> None:
    head = ["backend", "benchmark", "MB/s", "objects/s", "vs get_many", "vs mc=1", "vs original", "note"]
    lines = []
    for backend in dict.fromkeys(r["backend"] for r in rows):
        mine = [r for r in rows if r["backend"] == backend]
        ref = {r["name"]: r for r in mine if "error" not in r}

        def ratio(r: dict[str, Any], other: str, ref: dict[str, dict[str, Any]] = ref) -> str:
            o = ref.get(other)
            if o is None or r["name"] == other or "error" in r:
                return "-"
            return f"{r['mb_per_s'] / o['mb_per_s']:.2f}x"

        for r in mine:
            if "error" in r:
                lines.append([backend, r["name"], "-", "-", "-", "-", "-", f"error: {r['error']}"[:80]])
                continue
            vs_orig = "-"
            if "original loader" in ref and r["name"].startswith("loader"):
                vs_orig = f"{r['mb_per_s'] / ref['original loader']['mb_per_s']:.2f}x"
            lines.append(
                [
                    backend,
                    r["name"],
                    f"{r['mb_per_s']:.1f}",
                    f"{r['objects_per_s']:.0f}",
                    ratio(r, "get_many") if r["name"] != "original loader" else "-",
                    ratio(r, "loader mc=1") if r["name"].startswith("loader") else "-",
                    vs_orig,
                    r["note"],
                ]
            )
    widths = [max(len(x) for x in col) for col in zip(head, *lines, strict=True)]
    fmt = lambda cells: "  ".join(  # noqa: E731
        c.rjust(w) if 2 <= i <= 6 else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
    ).rstrip()
    print(fmt(head))
    print(fmt(["-" * w for w in widths]))
    for line in lines:
        print(fmt(line))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--num", type=int, default=2000, help="objects (default 2000)")
    parser.add_argument("--size", default="256KiB", help="object size (default 256KiB)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--prefetch", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=32, help="max_concurrency / max_in_flight")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", default=None, help="where to put the file:// objects (default: a temp dir)")
    parser.add_argument("--no-file", action="store_true", help="skip file://")
    parser.add_argument("--s3", action="store_true", help="also S3 (AWS_* env / flags, else start SeaweedFS)")
    parser.add_argument("--original", action="store_true", help="also the original s3dlio's loader")
    parser.add_argument("--json", default=None, help="write the rows as JSON here")
    if common is not None:
        common.add_s3_args(parser)
    args = parser.parse_args()
    size = parse_size(args.size)
    print(
        f"{args.num} objects x {size} B, batch {args.batch_size}, prefetch {args.prefetch}, "
        f"concurrency {args.concurrency}, best of {args.repeat}; cpus={os.cpu_count()}",
        flush=True,
    )

    rows: list[dict[str, Any]] = []
    if not args.no_file:
        with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
            prefix = f"file://{tmp}/loader-bench/"
            prepare(prefix, args.num, size)
            rows += bench_backend("file", prefix, args)
    want_s3 = args.s3 or bool(os.environ.get("AWS_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL_S3"))
    if want_s3:
        if common is None:
            raise SystemExit("--s3 needs bench/common.py")
        cfg = common.s3_from_args(args)
        assert cfg is not None
        args.s3cfg = cfg
        os.environ.update(cfg.env())
        prefix = f"s3://{cfg.bucket}/{common.unique_prefix('loader-bench')}"
        prepare(prefix, args.num, size)
        try:
            rows += bench_backend("s3", prefix, args)
        finally:
            s3dlio.delete(prefix, recursive=True)
    print_rows(rows)
    if args.json:
        import json

        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
