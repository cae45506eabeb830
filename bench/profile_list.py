#!/usr/bin/env python3
"""Where a LIST's time goes: raw obstore (sync and async), our store layer, and s3dlio.list.

    .venv/bin/python bench/profile_list.py [--keys 5000] [--rounds 7]

Each layer adds one step over the one above it: async iteration of obstore's stream, then our
``list_pages`` (``ObjectInfo`` per key, folder-marker check, retry bookkeeping) on a private loop,
then ``s3dlio.list`` (``ListEntry`` per key, run on the background loop from a blocking caller).
Prints the median wall and client CPU (process time) per listing.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable
from typing import Any

import obstore

import s3dlio
from common import add_s3_args, s3_session
from s3dlio.ops import resolve


def main() -> None:
    parser = add_s3_args(argparse.ArgumentParser(description=__doc__))
    parser.add_argument("--keys", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    with s3_session(args) as cfg:
        bucket = cfg.bucket
        prefix = f"s3://{bucket}/list/"
        s3dlio.put_many([(f"{prefix}k_{i:06d}", b"x") for i in range(args.keys)], max_in_flight=64)
        store = cfg.obstore(bucket)
        ours, key, _ = resolve(prefix)
        loop = asyncio.new_event_loop()

        async def raw_async() -> list[Any]:
            return [m async for batch in obstore.list(store, "list", chunk_size=1000) for m in batch]

        async def store_pages() -> list[Any]:
            return [info async for page in ours.list_pages(key, True) for info in page]

        layers: dict[str, Callable[[], object]] = {
            "obstore, sync iterator": lambda: [
                m for batch in obstore.list(store, "list", chunk_size=1000) for m in batch
            ],
            "obstore, async iterator": lambda: loop.run_until_complete(raw_async()),
            "our store.list_pages": lambda: loop.run_until_complete(store_pages()),
            "s3dlio.list": lambda: s3dlio.list(prefix),
        }
        for run in layers.values():
            run()  # warm-up
        seen: dict[str, list[tuple[float, float]]] = {name: [] for name in layers}
        for _ in range(args.rounds):
            for name, run in layers.items():
                wall, cpu = time.perf_counter(), time.process_time()
                run()
                seen[name].append((time.perf_counter() - wall, time.process_time() - cpu))
        print(f"LIST {args.keys} keys, median of {args.rounds} rounds")
        for name, times in seen.items():
            wall_ms = statistics.median(t[0] for t in times) * 1e3
            cpu_ms = statistics.median(t[1] for t in times) * 1e3
            print(f"  {name:26s} wall {wall_ms:6.1f} ms   client CPU {cpu_ms:6.1f} ms")
        s3dlio.delete(prefix, recursive=True)


if __name__ == "__main__":
    main()
