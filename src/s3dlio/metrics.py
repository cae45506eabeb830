"""Metrics middleware: one wrapper layer around every store, no change to any backend.

:func:`instrument` (called once where stores are opened, ``stores.open_store``) wraps a store's
request primitives: a read through ``open_read`` from opening to closing its handle,
``get_range``, ``read_into``, ``read_small_batch``, ``head``, ``put``, ``write_small_batch``, the
writer's ``close``, every ``list_pages`` page, ``delete``, ``delete_many`` and the bucket calls,
and the local stores' blocking ``read_small_now``, ``head_now`` and ``put_now``. Each call is
counted once per operation and backend: requests, objects, bytes, errors, retries and a latency
histogram. A primitive called from inside another one (the ranges a read handle fetches with
``read_into``) is part of the outer call and is not counted again.

Consumers:

- :func:`snapshot`: the counters as plain dicts (``Client.stats()`` returns it);
- the op-log (:mod:`s3dlio.oplog`): one row per request when ``op_log`` is configured;
- OpenTelemetry: :func:`enable_opentelemetry` (the ``[otel]`` extra, ``opentelemetry-api``);
- anything else through :func:`add_sink`.

Retries happen inside object_store (jittered backoff, not visible from Python), so ``retries``
counts only those reported with :func:`record_retry` by Python-level retry loops.
"""

from __future__ import annotations

import contextvars
import functools
import threading
import time
from collections.abc import AsyncIterator, Callable
from threading import get_ident
from typing import TYPE_CHECKING, Any

from . import oplog

if TYPE_CHECKING:
    from .stores.base import Store

__all__ = [
    "LATENCY_BOUNDS",
    "Sink",
    "add_sink",
    "enable_opentelemetry",
    "instrument",
    "record_retry",
    "remove_sink",
    "reset",
    "snapshot",
]

LATENCY_BOUNDS: tuple[float, ...] = tuple(2.0**i / 1e6 for i in range(28))
"""Upper bounds (seconds) of the latency histogram's buckets: 1 us, 2 us, 4 us ... ~134 s; the
last bucket also takes anything slower."""

Sink = Callable[[str, str, int, int, float, "BaseException | None"], None]
"""``sink(backend, op, objects, nbytes, seconds, error)``, called after every request."""

_inside: contextvars.ContextVar[bool] = contextvars.ContextVar("s3dlio_metered", default=False)
_lock = threading.Lock()
_sinks: list[Sink] = []


class _Stat:
    __slots__ = ("bytes", "errors", "histogram", "objects", "requests", "retries", "seconds")

    def __init__(self) -> None:
        self.requests = self.errors = self.bytes = self.objects = self.retries = 0
        self.seconds = 0.0
        self.histogram = [0] * len(LATENCY_BOUNDS)

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "errors": self.errors,
            "retries": self.retries,
            "objects": self.objects,
            "bytes": self.bytes,
            "seconds": self.seconds,
            "latency_s": {
                "p50": _quantile(self.histogram, 0.50),
                "p90": _quantile(self.histogram, 0.90),
                "p99": _quantile(self.histogram, 0.99),
            },
            "histogram": {"bounds_s": list(LATENCY_BOUNDS), "counts": list(self.histogram)},
        }


_stats: dict[tuple[str, str], _Stat] = {}


def _quantile(histogram: list[int], q: float) -> float | None:
    """The upper bound of the bucket holding quantile ``q`` (None with no requests)."""
    total = sum(histogram)
    if not total:
        return None
    rank, seen = q * total, 0
    for index, count in enumerate(histogram):
        seen += count
        if seen >= rank and count:
            return LATENCY_BOUNDS[index]
    return LATENCY_BOUNDS[-1]


def _stat(backend: str, op: str) -> _Stat:
    stat = _stats.get((backend, op))
    if stat is None:
        stat = _stats[(backend, op)] = _Stat()
    return stat


def snapshot() -> dict[str, dict[str, dict[str, Any]]]:
    """Counters so far, by backend then operation::

        {"s3": {"GET": {"requests", "errors", "retries", "objects", "bytes", "seconds",
                        "latency_s": {"p50", "p90", "p99"}, "histogram": {...}}}}

    Percentiles are bucket upper bounds (within a factor of 2), None before any request.
    """
    with _lock:
        result: dict[str, dict[str, dict[str, Any]]] = {}
        for (backend, op), stat in sorted(_stats.items()):
            result.setdefault(backend, {})[op] = stat.as_dict()
    return result


def reset() -> None:
    """Zero every counter."""
    with _lock:
        _stats.clear()


def record_retry(backend: str, op: str) -> None:
    """Count one retry of ``op`` on ``backend`` (for Python-level retry loops)."""
    with _lock:
        _stat(backend, op).retries += 1


def add_sink(sink: Sink) -> None:
    """Call ``sink`` after every request (keep it cheap: it runs on the I/O path)."""
    with _lock:
        _sinks.append(sink)


def remove_sink(sink: Sink) -> None:
    """Stop calling ``sink``."""
    with _lock:
        if sink in _sinks:
            _sinks.remove(sink)


def enable_opentelemetry(meter: Any = None) -> Sink:
    """Export the counters through OpenTelemetry (``pip install s3dlio[otel]``).

    Uses ``meter`` or ``opentelemetry.metrics.get_meter("s3dlio")``: counters
    ``s3dlio.requests``, ``s3dlio.errors``, ``s3dlio.bytes`` and the histogram
    ``s3dlio.duration`` (seconds), with attributes ``backend`` and ``op``. Returns the sink (pass
    it to :func:`remove_sink` to stop).
    """
    if meter is None:
        import opentelemetry.metrics as otel_metrics

        meter = otel_metrics.get_meter("s3dlio")
    requests = meter.create_counter("s3dlio.requests", unit="1", description="storage requests")
    errors = meter.create_counter("s3dlio.errors", unit="1", description="failed storage requests")
    sizes = meter.create_counter("s3dlio.bytes", unit="By", description="bytes moved")
    duration = meter.create_histogram("s3dlio.duration", unit="s", description="request latency")

    def sink(backend: str, op: str, objects: int, nbytes: int, seconds: float, error: Any) -> None:
        attributes = {"backend": backend, "op": op}
        requests.add(1, attributes)
        if error is not None:
            errors.add(1, attributes)
        if nbytes:
            sizes.add(nbytes, attributes)
        duration.record(seconds, attributes)

    add_sink(sink)
    return sink


# --- the wrapper ----------------------------------------------------------------------------
def _nbytes(value: Any) -> int:
    size = getattr(value, "nbytes", None)
    if isinstance(size, int):
        return size
    if isinstance(value, list | tuple):
        return sum(_nbytes(item) for item in value)
    try:
        return len(value)
    except TypeError:
        return 0


def _record(
    store: Store,
    op: str,
    key: str,
    objects: int,
    nbytes: int,
    start: int,
    end: int,
    error: BaseException | None,
) -> None:
    seconds = (end - start) / 1e9
    micros = (end - start) // 1000
    with _lock:
        stat = _stat(store.scheme, op)
        stat.requests += 1
        stat.objects += objects
        stat.bytes += nbytes
        stat.seconds += seconds
        stat.histogram[min(len(LATENCY_BOUNDS) - 1, micros.bit_length())] += 1
        if error is not None:
            stat.errors += 1
        sinks = _sinks[:] if _sinks else None
    if sinks:
        for sink in sinks:
            sink(store.scheme, op, objects, nbytes, seconds, error)
    log = oplog.log_for(store.config.op_log)
    if log is not None:
        log.record((op, get_ident(), objects, nbytes, store.scheme, store.bucket, key, error, start, end))


# name -> (op, key of the call, objects, bytes); each gets (args, result or None)
_Measure = tuple[
    str,
    Callable[[tuple[Any, ...]], str],
    Callable[[tuple[Any, ...]], int],
    Callable[[tuple[Any, ...], Any], int],
]


def _first(args: tuple[Any, ...]) -> str:
    return str(args[0]) if args else ""


def _first_of_list(args: tuple[Any, ...]) -> str:
    return str(args[0][0]) if args and args[0] else ""


def _one(args: tuple[Any, ...]) -> int:
    return 1


def _count(args: tuple[Any, ...]) -> int:
    return len(args[0]) if args else 0


def _result(args: tuple[Any, ...], result: Any) -> int:
    return 0 if result is None else _nbytes(result)


def _none(args: tuple[Any, ...], result: Any) -> int:
    return 0


_CALLS: dict[str, _Measure] = {
    "get_range": ("GET", _first, _one, _result),
    "read_head": ("GET", _first, _one, _result),
    "read_into": ("GET", _first, _one, lambda args, _: _nbytes(args[2]) if len(args) > 2 else 0),
    "head": ("STAT", _first, _one, _none),
    "put": ("PUT", _first, _one, lambda args, _: _nbytes(args[1]) if len(args) > 1 else 0),
    "write_small_batch": ("PUT", _first_of_list, _count, lambda args, _: _nbytes(list(args[1]))),
    "delete": ("DELETE", _first, _one, _none),
    "delete_many": ("DELETE", _first_of_list, _count, _none),
    "create_bucket": ("CREATE_BUCKET", lambda _: "", _one, _none),
    "delete_bucket": ("DELETE_BUCKET", lambda _: "", _one, _none),
}


def _metered_call(store: Store, method: Callable[..., Any], measure: _Measure) -> Callable[..., Any]:
    op, key_of, objects_of, bytes_of = measure

    @functools.wraps(method)
    async def call(*args: Any, **kwargs: Any) -> Any:
        if _inside.get():
            return await method(*args, **kwargs)
        oplog.log_for(store.config.op_log)  # a bad op-log path fails before any I/O
        token = _inside.set(True)
        start = time.time_ns()
        try:
            result = await method(*args, **kwargs)
        except BaseException as exc:
            _inside.reset(token)
            _record(store, op, key_of(args), objects_of(args), 0, start, time.time_ns(), exc)
            raise
        _inside.reset(token)
        size = bytes_of(args, result)
        _record(store, op, key_of(args), objects_of(args), size, start, time.time_ns(), None)
        return result

    return call


def _metered_call_now(store: Store, method: Callable[..., Any], measure: _Measure) -> Callable[..., Any]:
    """:func:`_metered_call` for a store method that runs in the calling thread."""
    op, key_of, objects_of, bytes_of = measure

    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        oplog.log_for(store.config.op_log)
        start = time.time_ns()
        try:
            result = method(*args, **kwargs)
        except BaseException as exc:
            _record(store, op, key_of(args), objects_of(args), 0, start, time.time_ns(), exc)
            raise
        _record(
            store, op, key_of(args), objects_of(args), bytes_of(args, result), start, time.time_ns(), None
        )
        return result

    return call


def _metered_pages(store: Store, method: Callable[..., AsyncIterator[Any]]) -> Callable[..., Any]:
    @functools.wraps(method)
    async def pages(prefix: str = "", *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        oplog.log_for(store.config.op_log)
        start = time.time_ns()
        recorded = False
        source = method(prefix, *args, **kwargs)
        try:
            while True:
                try:
                    page = await source.__anext__()
                except StopAsyncIteration:
                    break
                except BaseException as exc:
                    _record(store, "LIST", prefix, 0, 0, start, time.time_ns(), exc)
                    raise
                _record(store, "LIST", prefix, len(page), 0, start, time.time_ns(), None)
                recorded = True
                yield page
                start = time.time_ns()
            if not recorded:  # an empty listing is still one request
                _record(store, "LIST", prefix, 0, 0, start, time.time_ns(), None)
        finally:
            closer = getattr(source, "aclose", None)
            if closer is not None:
                await closer()

    return pages


class _MeteredWriter:
    """Counts a streamed upload as one PUT, from opening the writer to its ``close``."""

    def __init__(self, store: Store, key: str, writer: Any, start: int) -> None:
        self._store, self._key, self._writer, self._start = store, key, writer, start
        self._bytes = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._writer, name)

    async def write(self, data: Any) -> int:
        count: int = await self._writer.write(data)
        self._bytes += count
        return count

    async def close(self) -> None:
        token = _inside.set(True)
        try:
            await self._writer.close()
        except BaseException as exc:
            _inside.reset(token)
            _record(self._store, "PUT", self._key, 1, self._bytes, self._start, time.time_ns(), exc)
            raise
        _inside.reset(token)
        _record(self._store, "PUT", self._key, 1, self._bytes, self._start, time.time_ns(), None)

    async def abort(self) -> None:
        await self._writer.abort()


class _MeteredHandle:
    """Counts a read through one open version (:meth:`Store.open_read`) as one GET, from opening
    it to its ``close``, with every byte read through it; the ranges it fetches are part of it."""

    def __init__(self, store: Store, key: str, handle: Any, start: int) -> None:
        self._store, self._key, self._handle, self._start = store, key, handle, start
        self._bytes = 0
        self._error: BaseException | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)

    async def read_into(self, start: int, view: memoryview) -> None:
        token = _inside.set(True)
        try:
            await self._handle.read_into(start, view)
        except BaseException as exc:
            self._error = exc
            raise
        finally:
            _inside.reset(token)
        self._bytes += view.nbytes

    async def read_all(self) -> Any:
        token = _inside.set(True)
        try:
            data = await self._handle.read_all()
        except BaseException as exc:
            self._error = exc
            raise
        finally:
            _inside.reset(token)
        self._bytes += _nbytes(data)
        return data

    async def close(self) -> None:
        try:
            await self._handle.close()
        finally:
            _record(self._store, "GET", self._key, 1, self._bytes, self._start, time.time_ns(), self._error)


def _metered_read(store: Store, method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    async def open_read(key: str, *args: Any, **kwargs: Any) -> Any:
        if _inside.get():
            return await method(key, *args, **kwargs)
        oplog.log_for(store.config.op_log)
        start = time.time_ns()
        try:
            handle = await method(key, *args, **kwargs)
        except BaseException as exc:
            _record(store, "GET", key, 1, 0, start, time.time_ns(), exc)
            raise
        return _MeteredHandle(store, key, handle, start)

    return open_read


def _record_small_batch(store: Store, keys: Any, start: int, found: Any, error: BaseException | None) -> None:
    """One GET row for the files a batch read (those too large for it come back as None and are
    read, and counted, through ``open_read``)."""
    if error is not None:
        _record(store, "GET", str(keys[0]) if keys else "", len(keys), 0, start, time.time_ns(), error)
        return
    read = [data for data in found if data is not None]
    if read:
        _record(store, "GET", str(keys[0]), len(read), _nbytes(read), start, time.time_ns(), None)


def _metered_small_batch(store: Store, method: Callable[..., Any]) -> Callable[..., Any]:
    """Local files read several per pool job: see :func:`_record_small_batch`."""

    @functools.wraps(method)
    async def read_small_batch(keys: Any, *args: Any, **kwargs: Any) -> Any:
        if _inside.get():
            return await method(keys, *args, **kwargs)
        oplog.log_for(store.config.op_log)
        start = time.time_ns()
        try:
            found = await method(keys, *args, **kwargs)
        except BaseException as exc:
            _record_small_batch(store, keys, start, None, exc)
            raise
        _record_small_batch(store, keys, start, found, None)
        return found

    return read_small_batch


def _metered_small_now(store: Store, method: Callable[..., Any]) -> Callable[..., Any]:
    """The same as :func:`_metered_small_batch`, for the batch read in the calling thread."""

    @functools.wraps(method)
    def read_small_now(keys: Any, *args: Any, **kwargs: Any) -> Any:
        oplog.log_for(store.config.op_log)
        start = time.time_ns()
        try:
            found = method(keys, *args, **kwargs)
        except BaseException as exc:
            _record_small_batch(store, keys, start, None, exc)
            raise
        _record_small_batch(store, keys, start, found, None)
        return found

    return read_small_now


def _metered_open(store: Store, method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    async def open_writer(key: str, *args: Any, **kwargs: Any) -> Any:
        oplog.log_for(store.config.op_log)
        start = time.time_ns()
        writer = await method(key, *args, **kwargs)
        return _MeteredWriter(store, key, writer, start)

    return open_writer


def instrument(store: Store) -> Store:
    """Wrap ``store``'s request primitives with the metrics layer (once; returns ``store``)."""
    if store.__dict__.get("_s3dlio_metered"):
        return store
    for name, measure in _CALLS.items():
        method = getattr(store, name, None)
        if method is not None:
            setattr(store, name, _metered_call(store, method, measure))
    setattr(store, "list_pages", _metered_pages(store, store.list_pages))  # noqa: B010
    setattr(store, "open_writer", _metered_open(store, store.open_writer))  # noqa: B010
    setattr(store, "open_read", _metered_read(store, store.open_read))  # noqa: B010
    small_batch = getattr(store, "read_small_batch", None)
    if small_batch is not None:
        setattr(store, "read_small_batch", _metered_small_batch(store, small_batch))  # noqa: B010
    for name, measured_as in (("put_now", "put"), ("head_now", "head")):
        method = getattr(store, name, None)
        if method is not None:
            setattr(store, name, _metered_call_now(store, method, _CALLS[measured_as]))
    small_now = getattr(store, "read_small_now", None)
    if small_now is not None:
        setattr(store, "read_small_now", _metered_small_now(store, small_now))  # noqa: B010
    store.__dict__["_s3dlio_metered"] = True
    return store
