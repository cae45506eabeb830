#!/usr/bin/env python3
"""DLIO-shaped reads: ours vs the original s3dlio, in the same run, interleaved.

    .venv/bin/python bench/bench_dlio.py                     # S3 (AWS_* env, else a SeaweedFS we start)
    .venv/bin/python bench/bench_dlio.py --rounds 3 --json dlio.json

The objects are NPZ sample files made by ``generate_npz_bytes`` (DLIO's generator fast path), of
about 256 KiB and 8 MiB. Each is read the two ways DLIO's s3dlio reader does
(dlio_benchmark/reader/_s3_iterable_mixin.py):

  get_many   ``for uri, data in s3dlio.get_many(uris, max_in_flight=C): len(data)``
             (_prefetch_s3dlio)
  loader     ``PyBytesAsyncDataLoader(PyDataset.from_uris(uris), {"prefetch": C, "batch_size": B})``
             then ``items().collect_batch(B)`` until empty, ``len(item)`` (_s3_stream_s3dlio)

Both implementations run in their own subprocess (the original lives in its own venv, see
bench/setup_original.sh) with the same structure: import, list the prefix, one warm-up epoch, then
``--repeat`` timed epochs. Rounds alternate which one goes first. MB/s is the best timed epoch
(MB = 10**6 bytes); CPU-s/GB is the process's user+sys time (``os.times()``, every thread,
native ones included) over the timed epochs, divided by the bytes they read.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import common  # noqa: E402

SIZES = {"256KiB": [256, 256, 1], "8MiB": [1024, 2048, 1]}  # float32 x of 256 KiB / 8 MiB


# --- the worker (runs in a subprocess with either implementation) ------------------------------
def worker(api: str, prefix: str, concurrency: int, batch: int, repeat: int) -> dict[str, Any]:
    import s3dlio

    uris = sorted(str(u) for u in s3dlio.list(prefix, recursive=True))

    def get_many() -> int:
        total = 0
        for uri, data in s3dlio.get_many(uris, max_in_flight=concurrency):
            assert uri
            total += len(data)
        return total

    def get_many_ours_pre_merge() -> int:  # our get_many before the engine branch: list[buffer]
        return sum(len(x[1]) if isinstance(x, tuple) else len(x) for x in s3dlio.get_many(uris, concurrency))

    def loader() -> int:
        dataset = s3dlio.PyDataset.from_uris(uris)
        items = s3dlio.PyBytesAsyncDataLoader(dataset, {"prefetch": concurrency, "batch_size": batch}).items()
        total = 0
        while got := items.collect_batch(batch):
            total += sum(len(item) for item in got)
        return total

    if api == "get_many":
        first = s3dlio.get_many(uris[:1], max_in_flight=1)[0]
        run = get_many if isinstance(first, tuple) else get_many_ours_pre_merge
    else:
        run = loader
    nbytes = run()  # warm-up
    times = []
    cpu0 = os.times()
    for _ in range(repeat):
        t0 = time.perf_counter()
        assert run() == nbytes
        times.append(time.perf_counter() - t0)
    cpu1 = os.times()
    cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)  # every thread of this process
    return {"bytes": nbytes, "objects": len(uris), "times": times, "cpu_seconds": cpu, "epochs": repeat}


# --- the driver ---------------------------------------------------------------------------------
def run_worker(
    python: str, api: str, prefix: str, args: argparse.Namespace, env: dict[str, str]
) -> dict[str, Any]:
    argv = [python, str(Path(__file__).resolve()), "--worker", api, "--prefix", prefix]
    argv += ["--concurrency", str(args.concurrency), "--batch", str(args.batch), "--repeat", str(args.repeat)]
    res = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=900)
    if res.returncode != 0:
        raise RuntimeError(f"{python} {api} failed:\n{res.stderr[-3000:]}")
    out = json.loads(res.stdout.strip().splitlines()[-1])
    out["mb_per_s"] = out["bytes"] / min(out["times"]) / 1e6
    out["cpu_s_per_gb"] = out["cpu_seconds"] / (out["bytes"] * out["epochs"] / 1e9)
    return out


def prepare(prefix: str, shape: list[int], count: int) -> None:
    import s3dlio

    have = {str(u) for u in s3dlio.list(prefix, recursive=True)}
    items = []
    for i in range(count):
        uri = f"{prefix}img_{i:05d}_of_{count}.npz"
        if uri not in have:
            items.append((uri, s3dlio.generate_npz_bytes(shape=shape, dtype="<f4", num_samples=1)))
    if items:
        s3dlio.put_many(items, max_in_flight=16)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--worker", choices=["get_many", "loader"], help=argparse.SUPPRESS)
    parser.add_argument("--prefix", help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved (ours, original) pairs")
    parser.add_argument("--repeat", type=int, default=2, help="timed epochs per run (after one warm-up)")
    parser.add_argument("--concurrency", type=int, default=32, help="max_in_flight / prefetch (DLIO: 64)")
    parser.add_argument("--batch", type=int, default=8, help="collect_batch(n)")
    parser.add_argument("--small-num", type=int, default=160, help="number of 256 KiB objects")
    parser.add_argument("--large-num", type=int, default=16, help="number of 8 MiB objects")
    parser.add_argument("--json", help="write the results here")
    common.add_s3_args(parser)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.prefix, args.concurrency, args.batch, args.repeat)))
        return

    common.ensure_original()
    cfg = common.s3_from_args(args)
    assert cfg is not None
    cfg.apply_env()
    env = {**os.environ, **cfg.env()}
    pythons = {"ours": sys.executable, "original": str(common.ORIGINAL_PYTHON)}
    rows = []
    for label, shape in SIZES.items():
        count = args.small_num if label == "256KiB" else args.large_num
        prefix = cfg.uri(f"dlio-bench/{label}/")
        prepare(prefix, shape, count)
        for api in ("get_many", "loader"):
            results: dict[str, list[dict[str, Any]]] = {"ours": [], "original": []}
            for round_ in range(args.rounds):
                order = ["ours", "original"] if round_ % 2 == 0 else ["original", "ours"]
                for impl in order:
                    results[impl].append(run_worker(pythons[impl], api, prefix, args, env))
            ours_mb = statistics.median(r["mb_per_s"] for r in results["ours"])
            orig_mb = statistics.median(r["mb_per_s"] for r in results["original"])
            ratios = [
                o["mb_per_s"] / g["mb_per_s"]
                for o, g in zip(results["ours"], results["original"], strict=True)
            ]
            row = {
                "objects": f"{count} x {label} npz",
                "api": api,
                "ours_mb_per_s": ours_mb,
                "original_mb_per_s": orig_mb,
                "ratio_median": statistics.median(ratios),
                "ratios": ratios,
                "ours_cpu_s_per_gb": statistics.median(r["cpu_s_per_gb"] for r in results["ours"]),
                "original_cpu_s_per_gb": statistics.median(r["cpu_s_per_gb"] for r in results["original"]),
            }
            rows.append(row)
            print(
                f"{row['objects']:>20}  {api:>8}  ours {ours_mb:8.1f} MB/s  original {orig_mb:8.1f} MB/s  "
                f"ours/orig {row['ratio_median']:.2f}x (pairs {', '.join(f'{r:.2f}' for r in ratios)})  "
                f"CPU-s/GB ours {row['ours_cpu_s_per_gb']:.2f} original {row['original_cpu_s_per_gb']:.2f}",
                flush=True,
            )
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "args": vars(args)}, indent=2))


if __name__ == "__main__":
    main()
