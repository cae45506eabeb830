#!/usr/bin/env python3
"""A/B tests of our own runtime settings, each variant in fresh processes, in alternating order.

    .venv/bin/python bench/bench_runtime.py loop   [--size 256K --num 1000 --in-flight 64]
    .venv/bin/python bench/bench_runtime.py tokio  [--ranks 2] [--size ... --num ... --in-flight ...]
    .venv/bin/python bench/bench_runtime.py put-jobs [--types npz,random] [--jobs 1,2,4]

``loop``: the background loop of the blocking API, ``S3DLIO_EVENT_LOOP=asyncio`` against
``uvloop``. Two readers are timed: ``get_many``, and ``get_async`` per object run on that loop
(returning ``bytes``). ``tokio``: ``TOKIO_WORKER_THREADS=1`` against Tokio's default, with
``--ranks`` processes reading at once (the aggregate rate is reported). Both read from S3
(SeaweedFS, started here unless an endpoint is given). Every process reads the objects once
untimed, then twice timed. ``put-jobs``: ``put()`` of 400 x 256 KiB to a local directory, with
the number of local jobs forced (in one process, after one untimed call per type, alternating
order). The table shows MB/s and
client CPU-s/GB (user+sys of the reading processes), as medians over the rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import s3dlio
from common import add_s3_args, parse_size, s3_session

READER = r"""
import json, sys, time, asyncio
import s3dlio
from s3dlio import _sync
uris = json.load(open(sys.argv[1])); in_flight = int(sys.argv[2]); mode = sys.argv[3]

def read():
    if mode == "get_many":
        return len(s3dlio.get_many(uris, max_in_flight=in_flight))
    async def main():
        limit = asyncio.Semaphore(in_flight)
        async def one(u):
            async with limit:
                return await s3dlio.get_async(u)
        return len(await asyncio.gather(*(one(u) for u in uris)))
    return _sync.run(main())  # on the background loop, like a blocking call

read()
timings = []
for _ in range(2):
    wall, cpu = time.perf_counter(), time.process_time()
    read()
    timings.append((time.perf_counter() - wall, time.process_time() - cpu))
print(json.dumps(timings))
"""


def _readers(uri_file: Path, in_flight: int, mode: str, env: dict[str, str], ranks: int) -> list[Any]:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", READER, str(uri_file), str(in_flight), mode],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(ranks)
    ]
    outs = [proc.communicate()[0] for proc in procs]
    if any(proc.returncode for proc in procs):
        raise SystemExit(f"a reader failed ({mode}, {env.get('S3DLIO_EVENT_LOOP')})")
    return [json.loads(out.strip().splitlines()[-1]) for out in outs]


def _report(title: str, seen: dict[str, list[tuple[float, float]]]) -> None:
    print(title)
    for name, runs in seen.items():
        rate = statistics.median(r for r, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        print(f"  {name:28s} {rate:8.0f} MB/s   {cpu:5.2f} CPU-s/GB")


def read_ab(args: argparse.Namespace, variants: dict[str, dict[str, str]], modes: list[str]) -> None:
    with s3_session(args) as cfg:
        bucket = cfg.bucket
        uris = [f"s3://{bucket}/o/{i:06d}" for i in range(args.num)]
        s3dlio.put_many([(u, os.urandom(args.size)) for u in uris], max_in_flight=32)
        with tempfile.TemporaryDirectory() as tmp:
            uri_file = Path(tmp) / "uris.json"
            uri_file.write_text(json.dumps(uris))
            seen: dict[str, list[tuple[float, float]]] = {}
            for round_ in range(args.rounds):
                order = [(v, m) for v in variants for m in modes]
                for name, mode in order if round_ % 2 == 0 else order[::-1]:
                    env = {**os.environ, **variants[name]}
                    results = _readers(uri_file, args.in_flight, mode, env, args.ranks)
                    total = args.ranks * args.num * args.size
                    for timed in zip(*results, strict=True):  # one pass of every rank
                        wall = max(w for w, _ in timed)
                        cpu = sum(c for _, c in timed)
                        seen.setdefault(f"{name}, {mode}", []).append(
                            (total / wall / 1e6, cpu / (total / 1e9))
                        )
        ranks = f", {args.ranks} ranks at once" if args.ranks > 1 else ""
        _report(f"{args.num} x {args.size} B, {args.in_flight} in flight{ranks}", seen)
        s3dlio.delete(f"s3://{bucket}/o/", recursive=True)


def put_jobs(args: argparse.Namespace) -> None:
    import s3dlio.datagen.put as put_module

    jobs = [int(j) for j in args.jobs.split(",")]
    size, num = 256 * 1024, 400
    seen: dict[str, list[tuple[float, float]]] = {}
    original = put_module.local_workers
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "put"
        try:
            for kind in args.types.split(","):  # warm-up: plans, pools and caches
                s3dlio.put(target.as_uri() + "/", num, object_type=kind, size=size, seed=0)
            for round_ in range(args.rounds):
                for kind in args.types.split(","):
                    for count in jobs if round_ % 2 == 0 else jobs[::-1]:
                        put_module.local_workers = lambda _m, _t="", count=count: count  # type: ignore[misc]
                        shutil.rmtree(target, ignore_errors=True)
                        target.mkdir()
                        wall, cpu = time.perf_counter(), time.process_time()
                        s3dlio.put(target.as_uri() + "/", num, object_type=kind, size=size, seed=round_)
                        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                        seen.setdefault(f"{kind}, {count} jobs", []).append(
                            (num * size / wall / 1e6, cpu / (num * size / 1e9))
                        )
        finally:
            put_module.local_workers = original
    _report(f"put() of {num} x 256 KiB to a local directory", dict(sorted(seen.items())))


def main() -> None:
    parser = add_s3_args(argparse.ArgumentParser(description=__doc__))
    parser.add_argument("compare", choices=("loop", "tokio", "put-jobs"))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--size", type=parse_size, default=256 * 1024)
    parser.add_argument("--num", type=int, default=1000)
    parser.add_argument("--in-flight", type=int, default=64)
    parser.add_argument("--ranks", type=int, default=1, help="tokio: reader processes at once")
    parser.add_argument("--types", default="zeros,random,npz,tfrecord,hdf5,parquet")
    parser.add_argument("--jobs", default="1,2,4")
    args = parser.parse_args()
    if args.compare == "loop":
        variants = {"asyncio": {"S3DLIO_EVENT_LOOP": "asyncio"}, "uvloop": {"S3DLIO_EVENT_LOOP": "uvloop"}}
        read_ab(args, variants, ["get_many", "get_async"])
    elif args.compare == "tokio":
        variants = {"Tokio's default": {}, "1 worker": {"TOKIO_WORKER_THREADS": "1"}}
        read_ab(args, variants, ["get_many"])
    else:
        put_jobs(args)


if __name__ == "__main__":
    main()
