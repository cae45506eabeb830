#!/usr/bin/env python3
"""Run every workload of the ORIGINAL s3dlio once, small, and print a table (a smoke test).

    .venv/bin/python bench/original_smoke.py --bucket forkt            # uses AWS_* env
    .venv/bin/python bench/original_smoke.py                           # starts its own SeaweedFS
    .venv/bin/python bench/original_smoke.py --only get,list --json out.json

Everything it writes goes under s3://<bucket>/bench-orig-smoke-<id>/ and a temp dir, and is
deleted at the end (unless --keep).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (
    OriginalError,
    Row,
    add_s3_args,
    ensure_original,
    original_available,
    print_table,
    run_original,
    s3_from_args,
    save_results,
    unique_prefix,
)

KiB, MiB = 1024, 1024 * 1024


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_s3_args(p)
    p.add_argument("--only", default="", help="comma-separated workload names")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--json", default=None, help="write the rows here as JSON")
    p.add_argument("--keep", action="store_true", help="do not delete what was written")
    args = p.parse_args(argv)

    ensure_original()
    have_torch = original_available(torch=True)
    cfg = s3_from_args(args)
    base = cfg.uri(unique_prefix("bench-orig-smoke"))
    tmp = Path(tempfile.mkdtemp(prefix="bench-orig-smoke-"))
    R = args.repeat
    n, sz, c = 200, 256 * KiB, 32

    plan = [
        (
            "get",
            "GET 200x256KiB c=32 (get_many)",
            dict(uri=base + "get/", prepare=True, num=n, size=sz, concurrency=c),
        ),
        (
            "get",
            "GET 200x256KiB c=32 (get_many_stats)",
            dict(uri=base + "get/", api="get_many_stats", concurrency=c),
        ),
        (
            "get",
            "GET 200x256KiB c=32 (32 threads x get)",
            dict(uri=base + "get/", api="threads", concurrency=c),
        ),
        ("put", "PUT 200x256KiB c=32 (put_many)", dict(uri=base + "put/", num=n, size=sz, concurrency=c)),
        (
            "put",
            "PUT 200x256KiB c=32 (32 threads x put_bytes)",
            dict(uri=base + "put/", num=n, size=sz, concurrency=c, api="threads"),
        ),
        (
            "list",
            "LIST 2000 keys (recursive)",
            dict(uri=base + "list/", prepare=True, num=2000, size=16, concurrency=64),
        ),
        (
            "file-get",
            "file GET 200x256KiB c=32",
            dict(uri=str(tmp / "files"), prepare=True, num=n, size=sz, concurrency=c),
        ),
        (
            "loader",
            "loader s3 B=8 prefetch=32 (async for)",
            dict(uri=base + "get/", batch_size=8, concurrency=c, iter="async"),
        ),
        (
            "loader",
            "loader s3 prefetch=32 (sync for)",
            dict(uri=base + "get/", batch_size=8, concurrency=c, iter="sync"),
        ),
        (
            "loader",
            "loader s3 B=8 prefetch=32 (items().collect_batch)",
            dict(uri=base + "get/", batch_size=8, concurrency=c, iter="collect"),
        ),
        (
            "loader",
            "loader file B=8 prefetch=32 (async for)",
            dict(uri=str(tmp / "files"), batch_size=8, concurrency=c, iter="async"),
        ),
        ("datagen", "generate_data 64MiB", dict(size=64 * MiB)),
        ("datagen", "generate_data 64MiB threads=1", dict(size=64 * MiB, threads=1)),
        (
            "put-gen",
            "put() gen file:// 100x256KiB random",
            dict(
                uri=str(tmp / "gen-random"), num=100, size=sz, object_type="random", concurrency=c, fresh=True
            ),
        ),
        (
            "put-gen",
            "put() gen file:// 100x256KiB npz",
            dict(uri=str(tmp / "gen-npz"), num=100, size=sz, object_type="npz", concurrency=c, fresh=True),
        ),
        (
            "put-gen",
            "put() gen file:// 100x256KiB tfrecord",
            dict(
                uri=str(tmp / "gen-tfr"), num=100, size=sz, object_type="tfrecord", concurrency=c, fresh=True
            ),
        ),
        (
            "put-gen",
            "put() gen s3:// 100x256KiB random",
            dict(uri=base + "gen-random/", num=100, size=sz, object_type="random", concurrency=c),
        ),
        (
            "put-gen",
            "put() gen s3:// 100x256KiB npz",
            dict(uri=base + "gen-npz/", num=100, size=sz, object_type="npz", concurrency=c),
        ),
        (
            "ckpt-save",
            "ckpt save s3 8 arrays / 64MiB (single)",
            dict(uri=base + "ckpt/", num=8, size=64 * MiB),
        ),
        (
            "ckpt-load",
            "ckpt load s3 8 arrays / 64MiB (single)",
            dict(uri=base + "ckpt-l/", num=8, size=64 * MiB),
        ),
        (
            "ckpt-save",
            "ckpt save s3 8 arrays / 64MiB (shards, 8 thr)",
            dict(uri=base + "ckpt-s/", num=8, size=64 * MiB, ckpt_mode="shards", concurrency=8),
        ),
        (
            "ckpt-load",
            "ckpt load s3 8 arrays / 64MiB (shards, 8 thr)",
            dict(uri=base + "ckpt-sl/", num=8, size=64 * MiB, ckpt_mode="shards", concurrency=8),
        ),
        (
            "ckpt-save",
            "ckpt save file 8 arrays / 64MiB (single)",
            dict(uri=str(tmp / "ckpt"), num=8, size=64 * MiB),
        ),
        (
            "ckpt-load",
            "ckpt load file 8 arrays / 64MiB (single)",
            dict(uri=str(tmp / "ckpt-l"), num=8, size=64 * MiB),
        ),
        (
            "torch-iter",
            "torch IterableDataset W=0 bs=None",
            dict(uri=base + "get/", workers=0, concurrency=c),
        ),
        (
            "torch-iter",
            "torch IterableDataset W=2 bs=8 (dup reads!)",
            dict(uri=base + "get/", workers=2, batch_size=8, concurrency=c, timeout=120),
        ),
        (
            "torch-iter",
            "torch W=2 bs=8 manual shard",
            dict(uri=base + "get/", workers=2, batch_size=8, concurrency=c, shard="manual", timeout=120),
        ),
    ]
    only = {w.strip() for w in args.only.split(",") if w.strip()}
    rows: list[Row] = []
    try:
        for workload, name, opts in plan:
            if only and workload not in only:
                continue
            if workload == "torch-iter" and not have_torch:
                rows.append(Row(name, unit="MB/s", note="skipped: no torch in the original venv"))
                continue
            t0 = time.perf_counter()
            try:
                r = run_original(workload, s3=cfg, repeat=R, **opts)
            except OriginalError as exc:
                rows.append(Row(name, note="ERROR " + str(exc).splitlines()[0][:80]))
                continue
            if workload == "list":
                row = Row(name, original=r["keys_per_s"], unit="keys/s")
            else:
                row = Row(name, original=r["mb_per_s"], unit="MB/s")
            note = f"{r['objects']} obj, {r['bytes'] / MiB:.1f} MiB, best {r['seconds'] * 1000:.1f} ms"
            if workload == "torch-iter":
                note += f", unique {r.get('unique_objects')}"
            if workload == "loader" and r.get("iter_mb_per_s"):
                note += f", iter-only {r['iter_mb_per_s']:.0f} MB/s"
            row.note = note + f" (wall {time.perf_counter() - t0:.1f}s)"
            row.extra = r
            rows.append(row)
            print(f"{name}: {row.original:.1f} {row.unit}  [{row.note}]", file=sys.stderr, flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
            try:
                from obstore import delete as odelete
                from obstore import list as olist

                store = cfg.obstore()
                prefix = base.split("/", 3)[3]
                keys = [m["path"] for batch in olist(store, prefix) for m in batch]
                if keys:
                    odelete(store, keys)
            except Exception as exc:
                print(f"cleanup of {base} failed: {exc}", file=sys.stderr)
    print_table(rows, f"original s3dlio 0.10.0 smoke ({cfg.endpoint_url}, repeat={R})")
    if args.json:
        save_results(rows, args.json, {"endpoint": cfg.endpoint_url, "base": base})
    return 0 if all("ERROR" not in r.note for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
