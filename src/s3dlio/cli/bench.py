"""``s3dlio bench``: a warp-style benchmark built on the public async API.

Each phase runs ``concurrency`` workers for a fixed duration or request count and records every
request's latency. ``put`` writes new objects (they become the pool that ``get``, ``stat`` and
``delete`` use); when the pool is empty, ``objects`` objects are written first, untimed. ``mixed``
draws each request from warp's default mix (45% GET, 30% STAT, 15% PUT, 10% DELETE). Everything
written goes under a fresh ``s3dlio-bench-<hex>/`` prefix that is deleted at the end.
"""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import s3dlio

from ._common import Bar

__all__ = ["BenchPlan", "OpResult", "run_bench"]

MIX = {"get": 45, "stat": 30, "put": 15, "delete": 10}
"""warp's default mixed workload, in percent."""

BarFactory = Callable[[str, int | None], AbstractContextManager[Bar]]


@dataclass
class BenchPlan:
    """What to run."""

    uri: str
    ops: list[str]
    size: int
    concurrency: int
    objects: int
    duration: float | None
    count: int | None
    keep: bool = False


@dataclass
class OpResult:
    """One operation's results in one phase."""

    op: str
    phase: str
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    bytes: int = 0
    seconds: float = 0.0
    first_error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Requests, errors, bytes, seconds, MiB/s, requests/s and latency percentiles (ms)."""
        values = np.asarray(self.latencies) * 1000.0
        p50, p90, p99 = np.percentile(values, [50, 90, 99]).tolist() if values.size else (None,) * 3
        seconds = self.seconds or float("nan")
        return {
            "op": self.op.upper(),
            "phase": self.phase,
            "requests": len(self.latencies),
            "errors": self.errors,
            "bytes": self.bytes,
            "seconds": round(self.seconds, 6),
            "mib_per_s": self.bytes / seconds / 2**20 if self.seconds else 0.0,
            "requests_per_s": len(self.latencies) / seconds if self.seconds else 0.0,
            "p50_ms": p50,
            "p90_ms": p90,
            "p99_ms": p99,
        }


class _Run:
    def __init__(self, plan: BenchPlan) -> None:
        self.plan = plan
        self.base = plan.uri.rstrip("/") + f"/s3dlio-bench-{secrets.token_hex(4)}/"
        self.payload = os.urandom(plan.size)
        self.pool: list[str] = []
        self.next_id = 0
        self.random = random.Random()

    def new_key(self) -> str:
        self.next_id += 1
        return f"{self.base}obj-{self.next_id:08d}"

    async def request(self, op: str) -> int:
        """One request; returns the bytes it moved."""
        if op == "put":
            key = self.new_key()
            await s3dlio.put_bytes_async(key, self.payload)
            self.pool.append(key)
            return self.plan.size
        if op == "get":
            data = await s3dlio.get_async(self.random.choice(self.pool))
            return memoryview(data).nbytes
        if op == "stat":
            await s3dlio.stat_async(self.random.choice(self.pool))
            return 0
        if op == "list":
            await s3dlio.list_async(self.base)
            return 0
        if op == "delete":
            key = self.pool.pop(self.random.randrange(len(self.pool)))
            await s3dlio.delete_async(key)
            return 0
        raise ValueError(f"unknown benchmark operation {op!r}")

    async def prepare(self, bars: BarFactory) -> None:
        missing = self.plan.objects - len(self.pool)
        if missing <= 0:
            return
        semaphore = asyncio.Semaphore(self.plan.concurrency)
        with bars("prepare", missing) as bar:

            async def one() -> None:
                async with semaphore:
                    await self.request("put")
                    bar.advance(self.plan.size)

            async with asyncio.TaskGroup() as group:
                for _ in range(missing):
                    group.create_task(one())

    async def phase(self, name: str, bars: BarFactory) -> list[OpResult]:
        plan = self.plan
        kinds = list(MIX) if name == "mixed" else [name]
        results = {kind: OpResult(kind, name) for kind in kinds}
        started = 0
        deadline = None if plan.duration is None else time.perf_counter() + plan.duration

        def choose() -> str | None:
            nonlocal started
            if plan.count is not None and started >= plan.count:
                return None
            if deadline is not None and time.perf_counter() >= deadline:
                return None
            if name == "mixed":
                kind = self.random.choices(kinds, weights=[MIX[k] for k in kinds])[0]
                if kind == "delete" and len(self.pool) <= plan.concurrency:
                    kind = "put"  # keep objects to read
            else:
                kind = name
                if kind == "delete" and not self.pool:
                    return None
            started += 1
            return kind

        with bars(name, plan.count) as bar:

            async def worker() -> None:
                while (kind := choose()) is not None:
                    result = results[kind]
                    begin = time.perf_counter()
                    try:
                        moved = await self.request(kind)
                    except Exception as exc:
                        result.errors += 1
                        result.first_error = result.first_error or f"{kind.upper()}: {exc}"
                        moved = 0
                    result.latencies.append(time.perf_counter() - begin)
                    result.bytes += moved
                    bar.advance(moved)

            begin = time.perf_counter()
            async with asyncio.TaskGroup() as group:
                for _ in range(plan.concurrency):
                    group.create_task(worker())
            elapsed = time.perf_counter() - begin
        for result in results.values():
            result.seconds = elapsed
        return [results[kind] for kind in kinds]

    async def cleanup(self) -> None:
        with suppress(FileNotFoundError):
            await s3dlio.delete_async(self.base, recursive=True)


async def run_bench(plan: BenchPlan, bars: BarFactory) -> list[OpResult]:
    """Run every phase of ``plan`` in order; returns one result per operation and phase."""
    if plan.size < 1:
        raise ValueError(f"object size must be at least 1 byte, got {plan.size}")
    run = _Run(plan)
    results: list[OpResult] = []
    try:
        for name in plan.ops:
            if not run.pool and name != "put":
                await run.prepare(bars)
            results += await run.phase(name, bars)
    finally:
        if not plan.keep:
            await run.cleanup()
    return results
