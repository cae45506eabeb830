"""Checkpoint save and load: s3dlio vs torch DCP's FileSystemWriter vs the original s3dlio, one run.

    .venv/bin/python bench/bench_checkpoint.py [--num 8 --size-mib 128] [--repeat 3] [--quick]
        [--dir /path/on/the/disk/to/test] [--s3 | AWS_ENDPOINT_URL=... | --endpoint-url ...]
        [--no-original] [--json results.json]

The state is ``--num`` arrays of ``--size-mib`` MiB (default 8 x 128 MiB = 1 GiB) of random bytes,
held as numpy arrays / CPU torch tensors sharing memory. Contenders, each timed best of --repeat:

  s3dlio checkpoint   create_checkpoint_writer(uri).save_array x N + finalize();
                      create_checkpoint_reader(uri).load_all() (allocates the arrays it returns)
  s3dlio via DCP      dcp.save/dcp.load with s3dlio.checkpoint.dcp.S3dlioStorageWriter/Reader
  torch DCP (fsync)   dcp.save with torch's plain FileSystemWriter on a local directory,
                      its defaults (sync_files=True: every file is fsync'ed); dcp.load with
                      FileSystemReader into preallocated tensors
  torch DCP (no sync) the same with sync_files=False: the like-for-like comparison, since
                      s3dlio's file:// writes do not fsync
  original 0.10.0     PyCheckpointStore.save of the N arrays (concatenated before timing: it takes
                      one buffer) and load_latest(), via bench/_original_worker.py in its own venv

Between a save and the next load, ``os.sync()`` runs untimed so that background writeback of the
save does not slow the load. Loads read a warm page cache. S3 rows run when an endpoint is given
(AWS_* variables or --endpoint-url) or with --s3 (starts a private SeaweedFS). MB = 10**6 bytes.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np

import s3dlio
from common import (
    OriginalError,
    S3Config,
    add_s3_args,
    ensure_original,
    run_original,
    s3_from_args,
    time_best,
)
from s3dlio.checkpoint import create_checkpoint_reader, create_checkpoint_writer

MiB = 1024 * 1024
warnings.filterwarnings("ignore", message=".*torch.distributed is disabled.*")
warnings.filterwarnings("ignore", message=".*Detected an existing checkpoint.*")


class Result:
    def __init__(self, where: str, who: str, save: float | None, load: float | None, note: str = "") -> None:
        self.where, self.who, self.save, self.load, self.note = where, who, save, load, note


def make_state(num: int, size: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {f"layer{i:02d}": rng.integers(0, 256, size=size, dtype=np.uint8) for i in range(num)}


def _timed_pair(
    save: Callable[[], Any], load: Callable[[], Any], clean: Callable[[], Any], repeat: int, nbytes: int
) -> tuple[float, float]:
    """Best save and best load rate (MB/s): clean, save (timed), sync, load (timed), per round."""
    save_times, load_times = [], []
    for _ in range(repeat):
        clean()
        t0 = time.perf_counter()
        save()
        save_times.append(time.perf_counter() - t0)
        os.sync()
        timing = time_best(load, repeat=1)
        load_times.append(timing.best)
    return nbytes / min(save_times) / 1e6, nbytes / min(load_times) / 1e6


def bench_ours(uri: str, state: dict[str, np.ndarray], repeat: int, nbytes: int) -> tuple[float, float]:
    def save() -> None:
        writer = create_checkpoint_writer(uri)
        for name, array in state.items():
            writer.save_array(name, array)
        writer.finalize()

    def load() -> None:
        loaded = create_checkpoint_reader(uri).load_all()
        assert len(loaded) == len(state)

    def clean() -> None:
        with contextlib.suppress(s3dlio.NotFoundError):
            s3dlio.delete(uri, recursive=True)

    rates = _timed_pair(save, load, clean, repeat, nbytes)
    loaded = create_checkpoint_reader(uri).load_all()
    assert all(np.array_equal(loaded[k], v) for k, v in state.items())
    clean()
    return rates


def bench_dcp(
    target: str, tensors: dict[str, Any], repeat: int, nbytes: int, ours: bool, sync_files: bool = True
) -> tuple[float, float]:
    import torch
    import torch.distributed.checkpoint as dcp

    if ours:
        from s3dlio.checkpoint.dcp import S3dlioStorageReader, S3dlioStorageWriter

        def writer() -> Any:
            return S3dlioStorageWriter(target)

        def reader() -> Any:
            return S3dlioStorageReader(target)
    else:

        def writer() -> Any:
            return dcp.FileSystemWriter(target, sync_files=sync_files)

        def reader() -> Any:
            return dcp.FileSystemReader(target)

    destination = {name: torch.zeros_like(t) for name, t in tensors.items()}  # model memory exists

    def save() -> None:
        dcp.save(tensors, storage_writer=writer())

    def load() -> None:
        dcp.load(destination, storage_reader=reader())

    def clean() -> None:
        if ours:
            with contextlib.suppress(s3dlio.NotFoundError):
                s3dlio.delete(target, recursive=True)
        else:
            shutil.rmtree(target, ignore_errors=True)

    rates = _timed_pair(save, load, clean, repeat, nbytes)
    assert all(torch.equal(destination[k], v) for k, v in tensors.items())
    clean()
    return rates


def bench_original(
    uri: str, num: int, total: int, repeat: int, cfg: S3Config | None
) -> tuple[float | None, float | None]:
    rates: list[float | None] = []
    for workload in ("ckpt-save", "ckpt-load"):
        try:
            out = run_original(workload, s3=cfg, uri=uri, num=num, size=total, repeat=repeat, cleanup=True)
            rates.append(float(out["mb_per_s"]))
        except OriginalError as exc:
            print(f"  original {workload} failed: {str(exc).splitlines()[0]}", file=sys.stderr)
            rates.append(None)
    return rates[0], rates[1]


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _ratio(a: float | None, b: float | None) -> str:
    return "-" if a is None or not b else f"{a / b:.2f}x"


def print_results(results: list[Result], title: str) -> None:
    base: dict[str, Result] = {}
    for r in results:
        if r.who == "torch DCP (no sync)":
            base[r.where] = r
    head = ["where", "implementation", "save MB/s", "load MB/s", "save vs DCP", "load vs DCP", "note"]
    rows = [
        [
            r.where,
            r.who,
            _fmt(r.save),
            _fmt(r.load),
            _ratio(r.save, base[r.where].save) if r.where in base else "-",
            _ratio(r.load, base[r.where].load) if r.where in base else "-",
            r.note,
        ]
        for r in results
    ]
    widths = [max(len(row[i]) for row in [head, *rows]) for i in range(len(head))]
    print(title)
    print("=" * len(title))
    for row in [head, ["-" * w for w in widths], *rows]:
        cells = (
            c.rjust(w) if 2 <= i <= 5 else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        print("  ".join(cells).rstrip())
    print("(ratios: against torch DCP's FileSystemWriter/Reader with sync_files=False on local disk)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_s3_args(parser)
    parser.add_argument("--num", type=int, default=8, help="arrays in the state (default 8)")
    parser.add_argument("--size-mib", type=int, default=128, help="MiB per array (default 128)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="2 repeats")
    parser.add_argument(
        "--dir", type=Path, default=None, help="local directory to test (default: a temp dir)"
    )
    parser.add_argument("--s3", action="store_true", help="also run S3 rows, starting SeaweedFS if needed")
    parser.add_argument("--no-original", action="store_true", help="skip the original s3dlio")
    parser.add_argument("--no-torch", action="store_true", help="skip torch DCP rows")
    parser.add_argument("--json", type=Path, help="also save results as JSON here")
    args = parser.parse_args()
    repeat = 2 if args.quick else args.repeat
    size = args.size_mib * MiB
    nbytes = args.num * size
    state = make_state(args.num, size)
    tensors: dict[str, Any] = {}
    if not args.no_torch:
        import torch

        tensors = {name: torch.from_numpy(array) for name, array in state.items()}
    original = not args.no_original
    if original:
        try:
            ensure_original()
        except OriginalError as exc:
            print(f"original s3dlio unavailable, skipping it: {exc}", file=sys.stderr)
            original = False

    results: list[Result] = []
    root = Path(tempfile.mkdtemp(prefix="s3dlio-bench-ckpt-", dir=args.dir))
    try:
        where = "file://"
        print(f"file:// in {root} ...", file=sys.stderr, flush=True)
        save, load = bench_ours(f"file://{root}/ours", state, repeat, nbytes)
        results.append(Result(where, "s3dlio checkpoint", save, load, "load allocates its arrays"))
        if tensors:
            save, load = bench_dcp(f"file://{root}/ours-dcp", tensors, repeat, nbytes, ours=True)
            results.append(Result(where, "s3dlio via DCP", save, load, "S3dlioStorageWriter/Reader"))
            save, load = bench_dcp(str(root / "dcp"), tensors, repeat, nbytes, ours=False, sync_files=True)
            results.append(Result(where, "torch DCP (fsync)", save, load, "FileSystemWriter defaults"))
            save, load = bench_dcp(str(root / "dcp"), tensors, repeat, nbytes, ours=False, sync_files=False)
            results.append(Result(where, "torch DCP (no sync)", save, load, "sync_files=False"))
        if original:
            save2, load2 = bench_original(f"file://{root}/orig/", args.num, nbytes, repeat, None)
            results.append(Result(where, "original 0.10.0", save2, load2, "one pre-joined buffer"))
    finally:
        shutil.rmtree(root, ignore_errors=True)

    cfg = s3_from_args(args, start_if_missing=args.s3)
    if cfg is not None:
        try:
            cfg.apply_env()
            where = "s3://"
            base = cfg.uri("bench-ckpt")
            print(f"S3 at {cfg.endpoint_url}, {base} ...", file=sys.stderr, flush=True)
            save, load = bench_ours(f"{base}/ours", state, repeat, nbytes)
            results.append(Result(where, "s3dlio checkpoint", save, load))
            if tensors:
                save, load = bench_dcp(f"{base}/ours-dcp", tensors, repeat, nbytes, ours=True)
                results.append(Result(where, "s3dlio via DCP", save, load))
            if original:
                save2, load2 = bench_original(f"{base}/orig/", args.num, nbytes, repeat, cfg)
                results.append(Result(where, "original 0.10.0", save2, load2))
        finally:
            cfg.stop()

    title = (
        f"checkpoint of {args.num} x {args.size_mib} MiB ({nbytes / 1e9:.2f} GB), best of {repeat}, "
        f"{os.cpu_count()} cores"
    )
    print_results(results, title)
    if args.json:
        import json

        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {"title": title, "rows": [vars(r) for r in results]},
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
