"""Several endpoints of one service behind one store: load balancing, health, statistics.

A :class:`Balancer` owns the endpoints' statistics and health and picks one per request
(``round_robin``, or ``least_connections``: the fewest requests in flight). An endpoint whose
request fails with a connection-level error (a reset, a refused connection, a timeout, a 5xx
after its retries) is taken out for ``retry_after`` seconds; the request is retried on another
endpoint, and the endpoint is tried again once its time is up. Answers about the object itself
(not found, access denied, bad input) are returned as they are and never count against an
endpoint's health.

Read-after-write: the gateways of one cluster may serve a key from caches that lag a write made
through another gateway. So every key written or deleted through an endpoint is *pinned* to it
for ``pin_seconds``: reads, stats and deletes of that key go to the same endpoint (while it is
healthy). The original's own tests show the failure that this prevents under round robin.

:class:`BalancedStore` applies a balancer to one bucket: one backend store per endpoint, every
primitive routed through the balancer.
"""

from __future__ import annotations

import builtins
import contextlib
import itertools
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from ..errors import (
    AccessDeniedError,
    AlreadyExistsError,
    ConfigError,
    IntegrityError,
    InvalidUriError,
    NotFoundError,
    S3dlioError,
    StorageError,
)
from .base import AsyncObjectWriter, ObjectInfo, ReadHandle, Store
from .network import S3Store

__all__ = ["BalancedStore", "Balancer", "EndpointStats"]

T = TypeVar("T")

_NOT_THE_ENDPOINTS_FAULT = (
    NotFoundError,
    AccessDeniedError,
    AlreadyExistsError,
    IntegrityError,
    InvalidUriError,
    ConfigError,
    ValueError,
    TypeError,
    NotImplementedError,
)
_PIN_LIMIT = 100_000


@dataclass
class EndpointStats:
    """Counters of one endpoint (a snapshot is returned by :meth:`Balancer.stats`)."""

    uri: str
    total_requests: int = 0
    bytes_read: int = 0
    bytes_written: int = 0
    error_count: int = 0
    active_requests: int = 0
    latency_total_s: float = 0.0
    down_until: float = 0.0
    failures: int = field(default=0, repr=False)

    def snapshot(self, now: float) -> dict[str, Any]:
        done = max(1, self.total_requests - self.active_requests)
        return {
            "uri": self.uri,
            "total_requests": self.total_requests,
            "bytes_read": self.bytes_read,
            "bytes_written": self.bytes_written,
            "error_count": self.error_count,
            "active_requests": self.active_requests,
            "mean_latency_ms": 1000.0 * self.latency_total_s / done,
            "healthy": self.down_until <= now,
            "retry_in_s": max(0.0, self.down_until - now),
        }


class Balancer:
    """Picks an endpoint per request and keeps every endpoint's statistics and health."""

    def __init__(
        self, endpoints: Sequence[str], strategy: str, retry_after: float, pin_seconds: float = 60.0
    ) -> None:
        if not endpoints:
            raise ConfigError("multi-endpoint balancing needs at least one endpoint")
        if strategy not in ("round_robin", "least_connections"):
            raise ConfigError(f"Invalid strategy {strategy!r}: use 'round_robin' or 'least_connections'")
        self.endpoints = builtins.list(endpoints)
        self.strategy = strategy
        self.retry_after = retry_after
        self.pin_seconds = pin_seconds
        self._stats = [EndpointStats(uri) for uri in self.endpoints]
        self._next = itertools.count()
        self._lock = threading.Lock()
        self._pins: OrderedDict[str, tuple[int, float]] = OrderedDict()

    # --- choosing --------------------------------------------------------------------------
    def choose(self, key: str | None = None, exclude: frozenset[int] = frozenset()) -> int:
        """The endpoint for the next request (a pinned one for ``key`` if it is healthy)."""
        now = time.monotonic()
        with self._lock:
            if key is not None:
                pin = self._pins.get(key)
                if pin is not None:
                    index, until = pin
                    if until < now:
                        del self._pins[key]
                    elif index not in exclude and self._stats[index].down_until <= now:
                        return index
            candidates = [i for i, s in enumerate(self._stats) if s.down_until <= now and i not in exclude]
            if not candidates:  # everything is out: try the one that comes back first
                rest = [i for i in range(len(self._stats)) if i not in exclude] or builtins.list(
                    range(len(self._stats))
                )
                return min(rest, key=lambda i: self._stats[i].down_until)
            if self.strategy == "round_robin":
                return candidates[next(self._next) % len(candidates)]
            fewest = min(self._stats[i].active_requests for i in candidates)
            tied = [i for i in candidates if self._stats[i].active_requests == fewest]
            return tied[next(self._next) % len(tied)]

    def pin(self, key: str, index: int) -> None:
        """Route reads of ``key`` to endpoint ``index`` for a while (after a write or delete)."""
        with self._lock:
            self._pins[key] = (index, time.monotonic() + self.pin_seconds)
            self._pins.move_to_end(key)
            while len(self._pins) > _PIN_LIMIT:
                self._pins.popitem(last=False)

    # --- accounting ------------------------------------------------------------------------
    def started(self, index: int) -> float:
        with self._lock:
            stats = self._stats[index]
            stats.total_requests += 1
            stats.active_requests += 1
        return time.monotonic()

    def finished(self, index: int, began: float, read: int = 0, written: int = 0) -> None:
        with self._lock:
            stats = self._stats[index]
            stats.active_requests -= 1
            stats.latency_total_s += time.monotonic() - began
            stats.bytes_read += read
            stats.bytes_written += written
            stats.failures = 0

    def failed(self, index: int, began: float, endpoint_fault: bool) -> None:
        with self._lock:
            stats = self._stats[index]
            stats.active_requests -= 1
            stats.latency_total_s += time.monotonic() - began
            stats.error_count += 1
            if endpoint_fault:
                stats.failures += 1
                stats.down_until = time.monotonic() + self.retry_after

    def stats(self) -> builtins.list[dict[str, Any]]:
        """Per-endpoint statistics: requests, bytes read/written, errors, in flight, latency, health."""
        now = time.monotonic()
        with self._lock:
            return [s.snapshot(now) for s in self._stats]

    def total_stats(self) -> dict[str, Any]:
        """The statistics summed over every endpoint."""
        rows = self.stats()
        total = {
            name: sum(row[name] for row in rows)
            for name in ("total_requests", "bytes_read", "bytes_written", "error_count", "active_requests")
        }
        return total

    def _after_fork_in_child(self) -> None:
        self._lock = threading.Lock()

    # --- running a request -----------------------------------------------------------------
    async def call(
        self,
        operation: Callable[[int], Awaitable[T]],
        key: str | None = None,
        *,
        pin: bool = False,
        size_read: Callable[[T], int] | None = None,
        written: int = 0,
    ) -> T:
        """Run ``operation(endpoint_index)``, failing over to another endpoint on an endpoint
        fault; pins ``key`` to the endpoint that served it when ``pin``."""
        tried: set[int] = set()
        while True:
            index = self.choose(key, frozenset(tried))
            began = self.started(index)
            try:
                result = await operation(index)
            except BaseException as exc:
                endpoint_fault = isinstance(exc, Exception) and not isinstance(exc, _NOT_THE_ENDPOINTS_FAULT)
                if isinstance(exc, S3dlioError | OSError) and not endpoint_fault:
                    self.finished_with_answer(index, began)
                else:
                    self.failed(index, began, endpoint_fault)
                tried.add(index)
                if not endpoint_fault or len(tried) >= len(self.endpoints):
                    raise
                continue
            self.finished(index, began, read=size_read(result) if size_read else 0, written=written)
            if pin and key is not None:
                self.pin(key, index)
            return result

    def finished_with_answer(self, index: int, began: float) -> None:
        """A request the endpoint answered (e.g. "no such key"): counted as an error, healthy."""
        with self._lock:
            stats = self._stats[index]
            stats.active_requests -= 1
            stats.latency_total_s += time.monotonic() - began
            stats.error_count += 1


def _size(handle: ReadHandle) -> int:
    return handle.size


def _length_or_zero(data: Any) -> int:
    return 0 if data is None else len(data)


class BalancedStore(Store):
    """One bucket served through several endpoints (one backend store per endpoint)."""

    scheme: ClassVar[str] = "s3"
    supports_buckets: ClassVar[bool] = True

    def __init__(self, bucket: str, config: Any, backends: Sequence[S3Store], balancer: Balancer) -> None:
        super().__init__(bucket, config)
        self.backends = builtins.list(backends)
        self.balancer = balancer

    def __reduce__(self) -> Any:
        return (_rebuild, (self.bucket, self.config))

    def __getattr__(self, name: str) -> Any:
        # Backend-specific extras (e.g. ``native_store`` for signing) come from one endpoint.
        if name.startswith("__") or name in ("backends", "balancer"):
            raise AttributeError(name)
        return getattr(self.backends[self.balancer.choose()], name)

    async def open_read(self, key: str) -> ReadHandle:
        # The handle reads one version from the endpoint that opened it.
        return await self.balancer.call(lambda i: self.backends[i].open_read(key), key, size_read=_size)

    async def get_range(self, key: str, start: int, end: int) -> Any:
        return await self.balancer.call(
            lambda i: self.backends[i].get_range(key, start, end), key, size_read=len
        )

    async def read_head(self, key: str, end: int) -> Any:
        return await self.balancer.call(
            lambda i: self.backends[i].read_head(key, end), key, size_read=_length_or_zero
        )

    async def read_into(self, key: str, start: int, view: memoryview, etag: str | None = None) -> None:
        await self.balancer.call(
            lambda i: self.backends[i].read_into(key, start, view, etag), key, size_read=lambda _: view.nbytes
        )

    async def head(self, key: str) -> ObjectInfo:
        return await self.balancer.call(lambda i: self.backends[i].head(key), key)

    async def put(self, key: str, data: memoryview) -> None:
        await self.balancer.call(
            lambda i: self.backends[i].put(key, data), key, pin=True, written=data.nbytes
        )

    async def list_pages(
        self, prefix: str, recursive: bool = True
    ) -> AsyncGenerator[builtins.list[ObjectInfo], None]:
        # A listing is one conversation with one endpoint (its continuation tokens are its own).
        balancer = self.balancer
        index = balancer.choose()
        began = balancer.started(index)
        try:
            async with contextlib.aclosing(self.backends[index].list_pages(prefix, recursive)) as pages:
                async for page in pages:
                    yield page
        except BaseException as exc:
            balancer.failed(index, began, isinstance(exc, StorageError))
            raise
        balancer.finished(index, began)

    async def delete(self, key: str) -> None:
        await self.balancer.call(lambda i: self.backends[i].delete(key), key, pin=True)

    async def delete_many(self, keys: Sequence[str]) -> None:
        await self.balancer.call(lambda i: self.backends[i].delete_many(keys))
        for key in keys:
            self.balancer.pin(key, self.balancer.choose())

    async def open_writer(self, key: str) -> AsyncObjectWriter:
        index = self.balancer.choose(key)
        self.balancer.pin(key, index)  # every part of one upload goes to one endpoint
        return _CountingWriter(await self.backends[index].open_writer(key), self.balancer, index)

    async def create_bucket(self) -> None:
        await self.balancer.call(lambda i: self.backends[i].create_bucket())

    async def delete_bucket(self) -> None:
        await self.balancer.call(lambda i: self.backends[i].delete_bucket())


def _rebuild(bucket: str, config: Any) -> Store:
    from ..uri import parse_uri
    from . import open_store

    return open_store(parse_uri(f"s3://{bucket}/"), config)


class _CountingWriter(AsyncObjectWriter):
    """A backend writer whose bytes and outcome count for its endpoint."""

    def __init__(self, inner: AsyncObjectWriter, balancer: Balancer, index: int) -> None:
        self._inner, self._balancer, self._index = inner, balancer, index
        self._began = balancer.started(index)
        self._written = 0
        self._done = False

    async def write(self, data: Any) -> int:
        count = await self._inner.write(data)
        self._written += count
        return count

    async def close(self) -> None:
        try:
            await self._inner.close()
        except BaseException as exc:
            self._finish(failed=True, fault=isinstance(exc, StorageError))
            raise
        self._finish(failed=False)

    async def abort(self) -> None:
        try:
            await self._inner.abort()
        finally:
            self._finish(failed=False)

    def _finish(self, failed: bool, fault: bool = False) -> None:
        if self._done:
            return
        self._done = True
        if failed:
            self._balancer.failed(self._index, self._began, fault)
        else:
            self._balancer.finished(self._index, self._began, written=self._written)
