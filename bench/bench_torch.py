#!/usr/bin/env python3
"""PyTorch DataLoader throughput over npz samples on S3, with a count of the GETs per epoch.

    .venv/bin/python bench/bench_torch.py                      # AWS_* env, else a private SeaweedFS
    .venv/bin/python bench/bench_torch.py --workers 0,2,4 --repeat 3 --json out.json
    .venv/bin/python bench/bench_torch.py --original           # + the original s3dlio (own venv)
    .venv/bin/python bench/bench_torch.py --s3torchconnector   # + AWS s3torchconnector, if installed

Data: ``--num`` (2,000) npz objects of ``--size`` (128 KiB) made with ``s3dlio.put(object_type=
'npz')``, kept between runs under ``s3://<bucket>/bench-torch/npz-<size>-<num>/``.

Rows (samples/s = objects delivered per second of a whole epoch, best of ``--repeat``; each epoch
builds a new DataLoader iterator, so forking the workers is included):
  iterable w=N     S3IterableDataset(prefix, transform) -> DataLoader(batch_size=B, num_workers=N)
  map w=N          S3MapDataset(prefix, transform) -> DataLoader(batch_size=B, shuffle=True, ...)
  original w=N     the original's ObjectStoreIterableDataset (bench/_original_worker.py torch-iter,
                   shard=none): every worker reads the whole prefix, so it reads N x the objects
  s3torch w=N      s3torchconnector.S3IterableDataset.from_prefix(..., enable_sharding=True)

``--decode npz`` (default) turns each object into ``{"data", "label"}`` tensors and stacks them
(collate_npz); ``--decode bytes`` yields one uint8 tensor per object like the original does.
The original and s3torchconnector rows use the same batch size. ``GETs`` counts object reads
in every process (our rows: GET requests counted in the storage layer of each worker; others:
samples delivered), and ``dup`` is GETs - objects: 0 means every object was read exactly once.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import torch
from torch.utils.data import DataLoader

import common
import s3dlio
from s3dlio.frameworks.torch import (
    S3IterableDataset,
    S3MapDataset,
    bytes_to_uint8_tensor,
    collate_npz,
    npz_to_tensors,
)
from s3dlio.stores.network import NetworkStore


# --- counting GETs in every process ------------------------------------------------------------
def count_gets(counter: Any, worker_id: int = 0) -> None:
    """Wrap the storage layer's GET so every read in this process bumps ``counter``."""
    original = getattr(NetworkStore, "_uncounted_get", NetworkStore.get)

    async def counted(self: NetworkStore, key: str) -> bytes:
        with counter.get_lock():
            counter.value += 1
        return await original(self, key)

    NetworkStore._uncounted_get = original  # type: ignore[attr-defined]
    NetworkStore.get = counted  # type: ignore[method-assign]


def stop_counting() -> None:
    original = getattr(NetworkStore, "_uncounted_get", None)
    if original is not None:
        NetworkStore.get = original  # type: ignore[method-assign]
        del NetworkStore._uncounted_get  # type: ignore[attr-defined]


# --- data ------------------------------------------------------------------------------------------
def prepare(prefix: str, num: int, size: int) -> None:
    try:
        if len(s3dlio.list(prefix)) == num:
            return
    except s3dlio.NotFoundError:
        pass
    t0 = time.perf_counter()
    s3dlio.put(prefix, num, "sample_{:06d}.npz", object_type="npz", size=size, max_in_flight=64)
    print(f"prepared {num} objects under {prefix} in {time.perf_counter() - t0:.1f}s", flush=True)


def count_samples(batch: Any) -> int:
    if isinstance(batch, dict):
        return int(next(iter(batch.values())).shape[0])
    if isinstance(batch, torch.Tensor):
        return int(batch.shape[0])
    return len(batch)


def collate_bytes(samples: list[torch.Tensor]) -> torch.Tensor:
    return torch.stack(samples)


# --- ours --------------------------------------------------------------------------------------------
def ours_epoch(dataset: Any, args: argparse.Namespace, workers: int, shuffle: bool) -> tuple[int, int]:
    """One epoch through a new DataLoader iterator; returns (samples, GETs in all processes)."""
    context = multiprocessing.get_context(args.mp_context if workers else "fork")
    counter = context.Value("q", 0)
    collate = collate_npz if args.decode == "npz" else collate_bytes
    if workers == 0:
        count_gets(counter)
    loader = DataLoader(
        dataset,
        batch_size=args.batch_size,
        shuffle=shuffle,
        num_workers=workers,
        multiprocessing_context=args.mp_context if workers else None,
        collate_fn=collate,
        worker_init_fn=partial(count_gets, counter) if workers else None,
    )
    try:
        samples = sum(count_samples(batch) for batch in loader)
    finally:
        stop_counting()
    return samples, int(counter.value)


def run_ours(name: str, make: Callable[[], Any], args: argparse.Namespace, num: int) -> list[common.Row]:
    rows = []
    for workers in args.worker_counts:
        dataset = make()
        shuffle = name == "map"
        best = None
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            samples, gets = ours_epoch(dataset, args, workers, shuffle)
            seconds = time.perf_counter() - t0
            best = seconds if best is None else min(best, seconds)
            if name == "iterable":
                dataset.set_epoch(dataset.epoch + 1)
        assert best is not None
        rows.append(
            common.Row(
                f"{name} w={workers}",
                ours=samples / best,
                unit="samples/s",
                note=f"samples={samples} GETs={gets} dup={gets - num}",
                extra={"samples": samples, "gets": gets, "workers": workers, "seconds": best},
            )
        )
        print(common.format_table(rows[-1:]).splitlines()[-1], flush=True)
    return rows


# --- others ------------------------------------------------------------------------------------------
def run_original(cfg: common.S3Config, prefix: str, args: argparse.Namespace, num: int) -> list[common.Row]:
    if not common.original_available(torch=True):
        try:
            common.ensure_original(torch=True)
        except common.OriginalError as exc:
            print(f"original skipped: {exc}", file=sys.stderr)
            return []
    rows = []
    for workers in args.worker_counts:
        out = common.run_original(
            "torch-iter",
            s3=cfg,
            uri=prefix,
            workers=workers,
            batch_size=args.batch_size,
            concurrency=args.max_in_flight,
            repeat=args.repeat,
            shard="none",
            mp_context=args.mp_context,
            check=False,
        )
        if "error" in out or out.get("seconds") is None:
            print(f"original w={workers}: {out.get('error') or out.get('skipped')}", file=sys.stderr)
            continue
        samples = int(out["objects"])
        rows.append(
            common.Row(
                f"iterable w={workers}",
                original=samples / float(out["seconds"]),
                unit="samples/s",
                note=f"original: samples={samples} dup={samples - num} (uint8 tensors, no npz decode)",
                extra={"original": out},
            )
        )
    return rows


def s3torch_transform(decode: str, reader: Any) -> Any:
    data = reader.read()
    return npz_to_tensors(data) if decode == "npz" else bytes_to_uint8_tensor(bytearray(data))


def run_s3torchconnector(cfg: common.S3Config, prefix: str, args: argparse.Namespace) -> list[common.Row]:
    """AWS s3torchconnector (pip install s3torchconnector==1.5.0) over the same objects."""
    try:
        from s3torchconnector import S3ClientConfig
        from s3torchconnector import S3IterableDataset as AwsIterable
    except ImportError:
        print("s3torchconnector not installed (pip install s3torchconnector==1.5.0)", file=sys.stderr)
        return []
    rows = []
    collate = collate_npz if args.decode == "npz" else collate_bytes
    for workers in args.worker_counts:
        dataset = AwsIterable.from_prefix(
            prefix,
            region=cfg.region,
            endpoint=cfg.endpoint_url,
            transform=partial(s3torch_transform, args.decode),
            s3client_config=S3ClientConfig(force_path_style=True),
            enable_sharding=True,
        )

        def epoch(dataset: Any = dataset, workers: int = workers) -> int:
            loader = DataLoader(
                dataset,
                batch_size=args.batch_size,
                num_workers=workers,
                multiprocessing_context=args.mp_context if workers else None,
                collate_fn=collate,
            )
            return sum(count_samples(b) for b in loader)

        timing = common.time_best(epoch, repeat=args.repeat)
        samples = int(timing.result)
        rows.append(
            common.Row(
                f"s3torch w={workers}",
                ours=None,
                raw=samples / timing.best,
                unit="samples/s",
                note=f"s3torchconnector (raw column): samples={samples}",
            )
        )
    return rows


# --- main ----------------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--num", type=int, default=2000, help="npz objects (default 2000)")
    parser.add_argument("--size", default="128KiB", help="object size (default 128KiB)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", default="0,2", help="comma-separated num_workers values (default 0,2)")
    parser.add_argument("--mp-context", default="fork", choices=["fork", "spawn", "forkserver"])
    parser.add_argument("--max-in-flight", type=int, default=32, help="objects fetched ahead per worker")
    parser.add_argument("--decode", default="npz", choices=["npz", "bytes"])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--only", default="iterable,map", help="our rows: iterable, map (default both)")
    parser.add_argument("--original", action="store_true", help="also the original s3dlio (its own venv)")
    parser.add_argument("--s3torchconnector", action="store_true", help="also AWS s3torchconnector")
    parser.add_argument("--json", default=None, help="write the rows as JSON here")
    common.add_s3_args(parser)
    args = parser.parse_args()
    args.worker_counts = [int(w) for w in args.workers.split(",")]
    size = common.parse_size(args.size)
    torch.set_num_threads(1)

    cfg = common.s3_from_args(args)
    assert cfg is not None
    cfg.apply_env()
    prefix = f"s3://{cfg.bucket}/bench-torch/npz-{size}-{args.num}/"
    prepare(prefix, args.num, size)
    print(
        f"{args.num} npz objects x {common.fmt_bytes(size)}, batch {args.batch_size}, decode {args.decode}, "
        f"max_in_flight {args.max_in_flight}, workers {args.worker_counts} ({args.mp_context}), "
        f"best of {args.repeat}; cpus={os.cpu_count()}",
        flush=True,
    )

    transform = npz_to_tensors if args.decode == "npz" else bytes_to_uint8_tensor
    rows: list[common.Row] = []
    only = set(args.only.split(","))
    if "iterable" in only:
        rows += run_ours(
            "iterable",
            lambda: S3IterableDataset(
                prefix, transform, shuffle=True, seed=0, max_in_flight=args.max_in_flight
            ),
            args,
            args.num,
        )
    if "map" in only:
        rows += run_ours(
            "map", lambda: S3MapDataset(prefix, transform, max_in_flight=args.max_in_flight), args, args.num
        )
    if args.original:
        originals = {r.name: r for r in run_original(cfg, prefix, args, args.num)}
        for row in rows:
            other = originals.pop(row.name, None)
            if other is not None:
                row.original = other.original
                row.note += f"; {other.note}"
        rows += originals.values()
    if args.s3torchconnector:
        rows += run_s3torchconnector(cfg, prefix, args)
    print()
    common.print_table(rows, title="PyTorch DataLoader over S3 (samples/s, higher is better)")
    if args.json:
        common.save_results(rows, args.json, meta={"args": {k: str(v) for k, v in vars(args).items()}})


if __name__ == "__main__":
    main()
