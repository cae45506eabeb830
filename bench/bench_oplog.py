"""What observability costs: the op-log on vs off, and the metrics wrapper vs the bare store.

    .venv/bin/python bench/bench_oplog.py [--quick] [--skip-s3] [--num 2000] [--size 4KiB] [--rounds 7]

Small objects are the worst case (the per-request cost of logging is all there is to see), so the
workload is one ``get_async`` per object for ``--num`` small objects, 64 in flight. Rows:

* ``GET <size> file:// / s3:// op-log``: the same reads with an op-log (``init_op_log``, so the
  configuration and its cached stores stay the same) and without, in interleaved pairs (the
  order flips every round); ``ours`` is with the log, the competitor column (``original``)
  without, so the ratio is the fraction of throughput kept
  (1.00 = free; the target is >= 0.95). The log's rows are counted to prove every request was
  recorded (untimed), and the time includes finishing the file.
* ``store.get_range file:// metrics``: one coroutine awaiting ``store.get_range`` (the whole
  object) ``--num`` times through the metrics wrapper vs the unwrapped method of the same store
  (no op-log), interleaved.

Client CPU-seconds per GB (user+sys of this process) are printed beside the rates.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import s3dlio
from common import Row, add_s3_args, parse_size, print_table, s3_from_args
from s3dlio.stores import store_for


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _objects_in(path: Path) -> int:
    """The objects the op-log's rows account for (a batched local read is one row of several)."""
    import zstandard

    lines = zstandard.ZstdDecompressor().stream_reader(path.read_bytes()).read().decode().splitlines()
    column = lines[0].split("\t").index("n_objects")
    return sum(int(line.split("\t")[column]) for line in lines[1:])


def pairs(
    name: str, rounds: int, nbytes: int, with_it: Callable[[], None], without: Callable[[], None]
) -> Row:
    """Interleaved timed pairs; best rate of each side, and the median of per-pair ratios."""
    rates: dict[str, list[float]] = {"on": [], "off": []}
    cpu: dict[str, list[float]] = {"on": [], "off": []}
    ratios = []
    for index in range(rounds + 1):
        order = [("on", with_it), ("off", without)]
        if index % 2:
            order.reverse()
        pair = {}
        for side, fn in order:
            c0, t0 = _cpu(), time.perf_counter()
            fn()
            elapsed, spent = time.perf_counter() - t0, _cpu() - c0
            if index:  # round 0 warms up
                rates[side].append(nbytes / elapsed / 1e6)
                cpu[side].append(spent / (nbytes / 1e9))
                pair[side] = elapsed
        if index:
            ratios.append(pair["off"] / pair["on"])
    return Row(
        name,
        ours=max(rates["on"]),
        original=max(rates["off"]),
        note=f"median pair ratio {statistics.median(ratios):.3f}; CPU-s/GB "
        f"{statistics.median(cpu['on']):.1f} vs {statistics.median(cpu['off']):.1f}",
    )


async def _read_all(uris: list[str], in_flight: int = 64) -> None:
    """One ``get_async`` per object (one request each), ``in_flight`` at a time."""
    semaphore = asyncio.Semaphore(in_flight)

    async def one(uri: str) -> None:
        async with semaphore:
            await s3dlio.get_async(uri)

    await asyncio.gather(*(one(uri) for uri in uris))


def op_log_row(label: str, uris: list[str], size: int, rounds: int, workdir: Path) -> Row:
    written: list[Path] = []

    def with_log() -> None:
        path = workdir / f"ops-{len(written)}.tsv.zst"
        written.append(path)
        s3dlio.init_op_log(path)  # the configuration (and so the stores) stay as they are
        try:
            asyncio.run(_read_all(uris))
        finally:
            s3dlio.finalize_op_log()  # timed: the file is complete only after this

    def without_log() -> None:
        asyncio.run(_read_all(uris))

    row = pairs(f"GET {size} B {label} op-log", rounds, len(uris) * size, with_log, without_log)
    for path in written:  # untimed: every request is in every log
        logged = _objects_in(path)
        if logged != len(uris):
            raise AssertionError(f"{path} accounts for {logged} objects of {len(uris)}")
        path.unlink()
    return row


def row_cost(workdir: Path, count: int = 200_000, repeats: int = 3) -> float:
    """CPU-seconds the op-log spends per row (record on the request path + format + compress).

    The least of ``repeats`` runs: the neighbours on a shared machine only ever add to it.
    """
    from s3dlio.oplog import OpLog

    costs = []
    for _ in range(repeats):
        log = OpLog(str(workdir / "cost.tsv.zst"))
        now = time.time_ns()
        c0 = _cpu()
        for i in range(count):
            log.record(("GET", 1, 1, 4096, "s3", "bucket", f"prefix/obj-{i:06d}", None, now + i, now + 2 * i))
        log.close()
        costs.append((_cpu() - c0) / count)
    return min(costs)


def metrics_row(uris: list[str], size: int, rounds: int) -> Row:
    store, _ = store_for(uris[0])
    keys = [store_for(uri)[1] for uri in uris]
    bare = type(store).get_range.__get__(store)  # the backend's own method, below the wrapper

    async def loop(get_range: Callable[[str, int, int], object]) -> None:
        for key in keys:
            await get_range(key, 0, size)  # type: ignore[misc]

    return pairs(
        "store.get_range file:// metrics",
        rounds,
        len(uris) * size,
        lambda: asyncio.run(loop(store.get_range)),
        lambda: asyncio.run(loop(bare)),
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--num", type=int, default=2000)
    parser.add_argument("--size", default="4KiB")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="fewer objects and rounds")
    parser.add_argument("--skip-s3", action="store_true")
    add_s3_args(parser)
    args = parser.parse_args()
    num, rounds = (500, 3) if args.quick else (args.num, args.rounds)
    size = parse_size(args.size)
    payload = os.urandom(size)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        local = [f"file://{workdir}/data/obj-{i:06d}" for i in range(num)]
        s3dlio.put_many([(uri, payload) for uri in local])
        rows.append(op_log_row("file://", local, size, rounds, workdir))
        rows.append(metrics_row(local, size, rounds))
        if not args.skip_s3:
            cfg = s3_from_args(args)
            cfg.apply_env()
            remote = [cfg.uri(f"bench-oplog/obj-{i:06d}") for i in range(num)]
            s3dlio.put_many([(uri, payload) for uri in remote])
            try:
                rows.append(op_log_row("s3://", remote, size, rounds, workdir))
            finally:
                s3dlio.delete(cfg.uri("bench-oplog/"), recursive=True)
        per_row = row_cost(workdir)
    print_table(rows, title=f"observability cost: {num} x {size} B, {rounds} interleaved pairs")
    print(f"op-log CPU per row (record + format + compress, best of 3 x 200k rows): {per_row * 1e6:.2f} us")
    for row in rows:
        if "op-log" in row.name and row.original:
            cpu_per_request = float(row.note.rsplit("vs ", 1)[1]) * size / 1e9  # CPU-s/GB without log
            print(f"  {row.name}: {per_row / cpu_per_request * 100:.1f}% of the client CPU of one request")


if __name__ == "__main__":
    main()
