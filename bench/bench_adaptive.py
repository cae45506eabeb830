#!/usr/bin/env python3
"""Adaptive tuning: does ``adaptive auto`` come within 10% of the best fixed setting?

    .venv/bin/python bench/bench_adaptive.py                 # S3 (AWS_* env, else a private SeaweedFS)
    .venv/bin/python bench/bench_adaptive.py --quick         # smaller epochs, fewer repeats (< 5 min)
    .venv/bin/python bench/bench_adaptive.py --file          # also file:// (a temp dir)
    .venv/bin/python bench/bench_adaptive.py --sizes 64KiB,8MiB --total 256MiB --repeat 5 --json out.json

For each object size (default 64 KiB, 8 MiB and 128 MiB; the object count is chosen so each
epoch moves about ``--total`` bytes) the objects are written once with
``s3dlio.put(..., object_type="random")`` and listed once; then one loader epoch
(``for batch in s3dlio.create_async_loader(dataset, opts)``, batch ``--batch-size``, prefetch
``--prefetch``) is timed for

  auto            ``adaptive={"mode": "enabled", "workload_type": "auto"}``
  preset <type>   the same with ``workload_type`` small / medium / large / batch
  fixed mc=C      ``max_concurrency=C`` for C in {1, 4, 16, 64}, and for objects larger than
  [ps=P]          8 MiB also ``part_size=P`` for P in {8 MiB, 32 MiB} (for objects of 8 MiB or
                  less every ``part_size`` >= 8 MiB reads each object with one GET, so only
                  the default is run)

``--grid-concurrency`` / ``--grid-part-sizes`` change the fixed grid (e.g. ``4,8,16,32`` and
``8MiB,16MiB,32MiB``).

The configurations are run round-robin (every configuration once per round, ``--warmup``
untimed rounds first) so that a change in background load hits all of them alike; at least
``--repeat`` timed rounds run, and more (up to ``--max-repeat``) while the size has used less
than ``--budget`` seconds, so sizes with short epochs get more samples. Each row reports the
best (and the median) epoch of the timed rounds. MB = 10**6 bytes. The listing is not timed;
auto's size classification uses the listed sizes and happens inside the timed epoch (it costs
nothing when the sizes are known).

Per size the table shows MB/s (best and median epoch), this process's CPU time per GB moved
(user + sys, all threads, of the median epoch; steadier than wall time on a busy machine, and
it leaves out the S3 server's), the effective ``max_concurrency`` / ``part_size`` of each row
(after presets), and each row's ratio to the best fixed setting. The verdict line says whether
auto is within 10% of the best fixed setting (best of N, ratio >= 0.90); it also gives the
ratio of medians (auto's median vs the fixed setting with the best median), which one lucky
epoch of one of the many fixed settings cannot sway.

On a small machine where the S3 server shares the cores, the spread between identical
configurations (``auto`` and its preset) shows the noise level; rerun or raise ``--budget``
before reading much into differences under ~10%.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import common
import s3dlio
from s3dlio.loader import create_dataset

MiB = 1024 * 1024
DEFAULT_SIZES = "64KiB,8MiB,128MiB"
PRESET_TYPES = ("small", "medium", "large", "batch")
FIXED_CONCURRENCY = (1, 4, 16, 64)
FIXED_PART_SIZES = (8 * MiB, 32 * MiB)
TARGET = 0.90  # auto must reach 90% of the best fixed setting


@dataclass
class Config:
    name: str
    kind: str  # "auto" | "preset" | "fixed"
    opts: dict[str, Any]
    times: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # process CPU seconds (user + sys, all threads)
    effective: tuple[int, int] | None = None  # (max_concurrency, part_size) after presets
    workload: str | None = None

    @property
    def best(self) -> float:
        return min(self.times)

    def mb_per_s(self, nbytes: int) -> float:
        return nbytes / self.best / 1e6

    def median_mb_per_s(self, nbytes: int) -> float:
        return nbytes / statistics.median(self.times) / 1e6


def configs_for(
    size: int,
    base: dict[str, Any],
    concurrency: tuple[int, ...] = FIXED_CONCURRENCY,
    part_sizes: tuple[int, ...] = FIXED_PART_SIZES,
) -> list[Config]:
    out = [Config("auto", "auto", {**base, "adaptive": {"mode": "enabled", "workload_type": "auto"}})]
    for wt in PRESET_TYPES:
        out.append(
            Config(f"preset {wt}", "preset", {**base, "adaptive": {"mode": "enabled", "workload_type": wt}})
        )
    if size <= min(part_sizes):  # one GET per object whatever the part size: keep the smallest
        part_sizes = (min(part_sizes),)
    for ps in part_sizes:
        for mc in concurrency:
            name = f"fixed mc={mc}" + (f" ps={ps // MiB}MiB" if len(part_sizes) > 1 else "")
            out.append(Config(name, "fixed", {**base, "max_concurrency": mc, "part_size": ps}))
    return out


def run_epoch(dataset: Any, cfg: Config, expect_items: int, expect_bytes: int) -> tuple[float, float]:
    loader = s3dlio.create_async_loader(dataset, cfg.opts)
    n = nbytes = 0
    c0 = time.process_time()
    t0 = time.perf_counter()
    for batch in loader:
        n += len(batch)
        nbytes += sum(map(len, batch))
        del batch
    dt = time.perf_counter() - t0
    cpu = time.process_time() - c0
    if n != expect_items or nbytes != expect_bytes:
        raise RuntimeError(
            f"{cfg.name}: got {n} items / {nbytes} B, expected {expect_items} / {expect_bytes}"
        )
    eff = loader.effective_options
    cfg.effective = (eff.max_concurrency, eff.part_size)
    cfg.workload = loader.workload_type
    return dt, cpu


def bench_size(backend: str, root: str, size: int, count: int, args: argparse.Namespace) -> dict[str, Any]:
    prefix = f"{root}{size}/"
    t0 = time.perf_counter()
    s3dlio.put(prefix, count, template="obj_{:06d}.bin", object_type="random", size=size, max_in_flight=16)
    gen_s = time.perf_counter() - t0
    dataset = create_dataset(prefix)
    total = sum(s or 0 for s in dataset.sizes)
    if len(dataset) != count or total != size * count:
        raise RuntimeError(f"listing {prefix}: {len(dataset)} objects / {total} B, expected {count} x {size}")
    base = {"batch_size": args.batch_size, "prefetch": args.prefetch}
    configs = configs_for(size, base, args.grid_concurrency, args.grid_part_sizes)
    label = f"{backend} {common.fmt_bytes(size)} x {count}"
    print(
        f"\n[{label}] generated {total / 1e6:.0f} MB in {gen_s:.1f}s; {len(configs)} configurations, "
        f"{args.warmup} warm-up + {args.repeat}..{args.max_repeat} timed rounds (budget {args.budget:.0f}s)",
        flush=True,
    )
    t_start = time.perf_counter()
    try:
        rnd = 0
        while True:
            timed = rnd - args.warmup  # timed rounds done so far
            elapsed = time.perf_counter() - t_start
            if timed >= args.max_repeat or (timed >= args.repeat and elapsed >= args.budget):
                break
            for cfg in configs:
                dt, cpu = run_epoch(dataset, cfg, count, total)
                if rnd >= args.warmup:
                    cfg.times.append(dt)
                    cfg.cpu.append(cpu)
            rnd += 1
            if args.verbose:
                print(f"  round {rnd} done ({time.perf_counter() - t_start:.0f}s)", flush=True)
    finally:
        if not args.keep:
            s3dlio.delete(prefix, recursive=True)
    result = summarize(backend, size, count, total, configs)
    print_size_table(label, result, time.perf_counter() - t_start)
    return result


def summarize(backend: str, size: int, count: int, total: int, configs: list[Config]) -> dict[str, Any]:
    fixed = [c for c in configs if c.kind == "fixed"]
    best_fixed = max(fixed, key=lambda c: c.mb_per_s(total))
    auto = next(c for c in configs if c.kind == "auto")
    ref = best_fixed.mb_per_s(total)
    rows = []
    for c in configs:
        mc, ps = c.effective or (0, 0)
        rows.append(
            {
                "name": c.name,
                "kind": c.kind,
                "workload_type": c.workload,
                "max_concurrency": mc,
                "part_size": ps,
                "mb_per_s": c.mb_per_s(total),
                "median_mb_per_s": c.median_mb_per_s(total),
                "seconds": c.times,
                "cpu_seconds": c.cpu,
                "cpu_s_per_gb": statistics.median(c.cpu) / total * 1e9,
                "vs_best_fixed": c.mb_per_s(total) / ref,
            }
        )
    ratio = auto.mb_per_s(total) / ref
    best_fixed_median = max(fixed, key=lambda c: c.median_mb_per_s(total))
    median_ratio = auto.median_mb_per_s(total) / best_fixed_median.median_mb_per_s(total)
    return {
        "backend": backend,
        "object_size": size,
        "objects": count,
        "bytes": total,
        "best_fixed": best_fixed.name,
        "best_fixed_mb_per_s": ref,
        "auto_mb_per_s": auto.mb_per_s(total),
        "auto_workload_type": auto.workload,
        "auto_vs_best_fixed": ratio,
        "within_target": ratio >= TARGET,
        "rounds": len(auto.times),
        "best_fixed_by_median": best_fixed_median.name,
        "auto_vs_best_fixed_by_median": median_ratio,
        "rows": rows,
    }


def print_size_table(label: str, res: dict[str, Any], elapsed: float) -> None:
    head = ["config", "resolved", "mc", "part", "MB/s (best)", "MB/s (median)", "CPU s/GB", "vs best fixed"]
    body = []
    for r in res["rows"]:
        mark = "  <- best fixed" if r["name"] == res["best_fixed"] else ""
        body.append(
            [
                r["name"],
                r["workload_type"] or "-",
                str(r["max_concurrency"]),
                f"{r['part_size'] // MiB}MiB",
                f"{r['mb_per_s']:.1f}",
                f"{r['median_mb_per_s']:.1f}",
                f"{r['cpu_s_per_gb']:.2f}",
                f"{r['vs_best_fixed']:.2f}x{mark}",
            ]
        )
    widths = [max(len(x) for x in col) for col in zip(head, *body, strict=True)]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if 2 <= i <= 6 else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    print(f"\n{label}  ({elapsed:.0f}s)")
    print(line(head))
    print(line(["-" * w for w in widths]))
    for b in body:
        print(line(b))
    print(verdict(res), flush=True)


def verdict(res: dict[str, Any]) -> str:
    ok = "PASS: within 10%" if res["within_target"] else "MISS: not within 10%"
    return (
        f"VERDICT {res['backend']} {common.fmt_bytes(res['object_size'])}: "
        f"auto ({res['auto_workload_type']}) "
        f"{res['auto_mb_per_s']:.1f} MB/s vs best fixed ({res['best_fixed']}) "
        f"{res['best_fixed_mb_per_s']:.1f} MB/s = {res['auto_vs_best_fixed']:.2f}x -> {ok} "
        f"(by median: {res['auto_vs_best_fixed_by_median']:.2f}x vs {res['best_fixed_by_median']}; "
        f"{res['rounds']} rounds)"
    )


def object_count(size: int, total: int, minimum: int) -> int:
    return max(minimum, round(total / size))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help=f"object sizes (default {DEFAULT_SIZES})")
    parser.add_argument(
        "--total", default=None, help="bytes per epoch and size (default 512MiB; quick 128MiB)"
    )
    parser.add_argument(
        "--min-objects", type=int, default=None, help="at least this many objects (default 4)"
    )
    parser.add_argument(
        "--repeat", type=int, default=None, help="at least this many timed rounds (default 3; quick 2)"
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=None,
        help="more timed rounds (up to --max-repeat) while a size has run less than this many seconds "
        "(default 60; quick 15)",
    )
    parser.add_argument(
        "--max-repeat", type=int, default=10, help="at most this many timed rounds (default 10)"
    )
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds first (default 1)")
    parser.add_argument(
        "--grid-concurrency",
        type=lambda t: tuple(int(x) for x in t.split(",")),
        default=FIXED_CONCURRENCY,
        help="fixed max_concurrency values (default 1,4,16,64)",
    )
    parser.add_argument(
        "--grid-part-sizes",
        type=lambda t: tuple(common.parse_size(x) for x in t.split(",")),
        default=FIXED_PART_SIZES,
        help="fixed part_size values (default 8MiB,32MiB)",
    )
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--prefetch", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="smaller epochs and fewer rounds")
    parser.add_argument("--file", action="store_true", help="also file:// (in a temp dir)")
    parser.add_argument("--no-s3", action="store_true", help="skip S3 (then --file is implied)")
    parser.add_argument("--dir", default=None, help="parent of the file:// temp dir")
    parser.add_argument("--keep", action="store_true", help="do not delete the objects")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--json", default=None, help="write the results as JSON here")
    common.add_s3_args(parser)
    args = parser.parse_args()
    total = common.parse_size(args.total or ("128MiB" if args.quick else "512MiB"))
    args.repeat = args.repeat or (2 if args.quick else 3)
    args.max_repeat = max(args.max_repeat, args.repeat)
    if args.budget is None:
        args.budget = 15.0 if args.quick else 60.0
    min_objects = args.min_objects or (2 if args.quick else 4)
    sizes = [common.parse_size(s) for s in args.sizes.split(",") if s.strip()]
    plan = [(size, object_count(size, total, min_objects)) for size in sizes]
    print(
        "adaptive benchmark: "
        + ", ".join(f"{common.fmt_bytes(s)} x {n}" for s, n in plan)
        + f"; batch {args.batch_size}, prefetch {args.prefetch}, best of {args.repeat}..{args.max_repeat} "
        f"rounds (+{args.warmup} warm-up, {args.budget:.0f}s budget per size); cpus={os.cpu_count()}",
        flush=True,
    )
    t0 = time.perf_counter()
    results: list[dict[str, Any]] = []
    if args.file or args.no_s3:
        with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
            root = f"file://{tmp}/adaptive-bench/"
            for size, count in plan:
                results.append(bench_size("file", root, size, count, args))
    if not args.no_s3:
        cfg = common.s3_from_args(args, create_bucket=False)
        assert cfg is not None
        cfg.apply_env()
        made_bucket = False
        if not cfg.bucket:
            cfg.bucket = f"bench-adaptive-{os.urandom(4).hex()}"
            s3dlio.create_bucket(cfg.uri())
            made_bucket = True
        root = cfg.uri(common.unique_prefix("adaptive"))
        print(f"S3 endpoint {cfg.endpoint_url}, {root}", flush=True)
        try:
            for size, count in plan:
                results.append(bench_size("s3", root, size, count, args))
        finally:
            if not args.keep:
                s3dlio.delete(root, recursive=True)
                if made_bucket:
                    s3dlio.delete_bucket(cfg.uri())
    print(f"\nSummary (auto / best fixed; target >= {TARGET:.2f}), {time.perf_counter() - t0:.0f}s in all")
    for res in results:
        print(verdict(res))
    if args.json:
        meta = {"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "cpus": os.cpu_count(), "args": vars(args)}
        Path(args.json).write_text(json.dumps({"meta": meta, "results": results}, indent=2, default=str))


if __name__ == "__main__":
    main()
