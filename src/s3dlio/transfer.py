"""The transfer engine: the one place that plans ranges and parts and runs them.

Every multi-part movement of bytes goes through here: whole-object reads (``get``, ``get_into``,
``get_many``, the loader's items, checkpoint and DCP reads, file-like streams), large ranges,
copies (``upload``, ``download``, DCP staging), and ``put_many``'s batches of small local files.
Stores only provide primitives over one range (:meth:`~s3dlio.stores.base.Store.open_read`,
:meth:`~s3dlio.stores.base.Store.read_into`, :meth:`~s3dlio.stores.base.Store.get_range`,
``put``, writers).

Rules the engine keeps (see docs/design.md, "Transfer engine"):

* **Structured concurrency.** Parts run as tasks of one :class:`asyncio.TaskGroup`. When a part
  fails or the caller is cancelled, the others are cancelled and *awaited*; thread-pool jobs,
  which cannot be stopped, are waited for (``stores.local.run_io``). So when a call returns or
  raises, nothing it started can still touch its buffer or descriptor.
* **Owned buffers.** The memory being filled is an array owned by the engine until every part
  has finished; only then is it wrapped in a read-only :class:`~s3dlio.BytesView` (no copy) or
  copied into ``bytes``. A caller's buffer (``get_into``) is written only during the call.
* **One version per read.** A read opens a :class:`~s3dlio.stores.base.ReadHandle`: one file
  descriptor locally, the first response's ETag (``If-Match`` on every later range) on object
  stores. If the object is replaced mid-read the read restarts once, then raises
  :class:`~s3dlio.IntegrityError`.
* **Exact lengths.** Every range must deliver exactly the bytes asked for; a short body is an
  :class:`~s3dlio.IntegrityError` naming the URI, never a short result.
"""

from __future__ import annotations

import asyncio
import functools
import weakref
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from ._buffers import BytesView, allocate, as_view, new_bytes
from ._threads import process_cpus
from .errors import IntegrityError
from .stores.base import ObjectChangedError, ReadHandle, Store

__all__ = [
    "as_result",
    "copy_object",
    "plan_ranges",
    "read_many",
    "read_object",
    "read_object_into",
    "read_range",
    "run_all",
    "run_concurrently",
    "write_many",
]

T = TypeVar("T")
Data = bytes | BytesView


# --- planning -------------------------------------------------------------------------------
def plan_ranges(start: int, end: int, part_size: int) -> list[tuple[int, int]]:
    """Cut ``[start, end)`` into consecutive ranges of at most ``part_size`` bytes.

    The ranges are in order, do not overlap, cover ``[start, end)`` exactly, and all but the
    last are exactly ``part_size`` long. An empty span gives no ranges.
    """
    if part_size <= 0:
        raise ValueError(f"part_size must be positive, got {part_size}")
    if start < 0 or end < start:
        raise ValueError(f"invalid span [{start}, {end})")
    return [(offset, min(offset + part_size, end)) for offset in range(start, end, part_size)]


# --- running --------------------------------------------------------------------------------
def _primary(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The error to raise for a failed group: the first that is not a cancellation."""
    flat: list[BaseException] = []

    def walk(error: BaseException) -> None:
        if isinstance(error, BaseExceptionGroup):
            for inner in error.exceptions:
                walk(inner)
        else:
            flat.append(error)

    walk(group)
    for error in flat:
        if not isinstance(error, asyncio.CancelledError):
            return error
    return asyncio.CancelledError()


async def run_all(jobs: Sequence[Callable[[], Awaitable[T]]], limit: int) -> list[T]:
    """Run every job, at most ``limit`` at a time, and return their results in order.

    The first failure cancels the rest; the call returns or raises only after every job has
    finished (the failure is raised as itself, not as an exception group).
    """
    count = len(jobs)
    if count == 0:
        return []
    if count == 1:
        return [await jobs[0]()]
    results: list[Any] = [None] * count
    indices = iter(range(count))

    async def lane() -> None:
        for index in indices:
            results[index] = await jobs[index]()

    error: BaseException | None = None
    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(min(limit, count)):
                group.create_task(lane())
    except BaseExceptionGroup as failed:
        error = _primary(failed)
    if error is not None:
        raise error
    return results


# --- reads ----------------------------------------------------------------------------------
async def run_concurrently(awaitables: Sequence[Awaitable[T]]) -> list[T]:
    """Await every one of ``awaitables`` at once, with :func:`run_all`'s structure: the first
    failure cancels the others and is raised only after all of them have finished."""
    jobs = [(lambda item=item: item) for item in awaitables]
    return await run_all(jobs, max(1, len(jobs)))


async def _fill(handle: ReadHandle, view: memoryview, offset: int = 0) -> None:
    """Fill ``view`` from the handle's bytes at ``offset``, in parallel parts when it is large."""
    config = handle.store.config
    size = view.nbytes
    part = config.part_size if size > config.range_get_threshold else max(size, 1)
    ranges = plan_ranges(0, size, part)

    def job(start: int, end: int) -> Callable[[], Awaitable[None]]:
        return lambda: handle.read_into(offset + start, view[start:end])

    await run_all([job(s, e) for s, e in ranges], config.max_concurrency)


def _changed(uri: str) -> IntegrityError:
    return IntegrityError(
        f"{uri} was replaced twice while it was being read; no consistent version could be read", uri
    )


def as_result(data: Any, zero_copy: bool) -> Data:
    """A store's data as a read returns it: a :class:`BytesView`, or ``bytes``."""
    if zero_copy:
        return as_view(data)
    return data if type(data) is bytes else bytes(data)


async def _pinned(store: Store, key: str, body: Callable[[ReadHandle], Awaitable[T]]) -> T:
    """Run ``body`` on one version of the object; restart once if it is replaced meanwhile."""
    for attempt in range(2):
        handle = await store.open_read(key)
        try:
            return await body(handle)
        except ObjectChangedError:
            if attempt:
                raise _changed(handle.uri) from None
        finally:
            await handle.close()  # every read on it has finished (run_all awaited them)
    raise AssertionError("unreachable")


def _check_listed(store: Store, key: str, size: int, expected_size: int | None) -> None:
    """Raise :class:`IntegrityError` when an object's size is not the one it was listed with."""
    if expected_size is not None and size != expected_size:
        uri = store.uri(key)
        message = f"{uri} changed since it was listed: {size} bytes now, {expected_size} listed"
        raise IntegrityError(message, uri)


ONE_REQUEST_LIMIT = 4 << 20
"""Whole objects up to this size may be read as one ranged request (see :func:`_one_request_end`)."""

_FILL_BYTES_ABOVE = 8 << 20
"""A ``bytes`` result larger than this is filled as the data arrives instead of being copied from
the collected body: measured 0.92-0.95 against 1.19-1.40 CPU-s/GB at 32-64 MiB, and a tie up to
8 MiB, where the collected body costs fewer native futures."""

_largest_small: weakref.WeakKeyDictionary[Store, int] = weakref.WeakKeyDictionary()
"""Per store: the largest object up to the one-request limit read since the last larger one."""

_ranges_refused: weakref.WeakSet[Store] = weakref.WeakSet()
"""Stores whose server answered a ranged GET with the whole object: no more one-request reads."""


def _one_request_end(store: Store, expected_size: int | None) -> int | None:
    """Where to end a one-request read of a whole object, or None to open it first.

    Opening an object on an object store costs two native futures (the headers, then the body);
    a ranged GET of ``[0, end)`` costs one, and is the whole object when it returns fewer than
    ``end`` bytes. ``end`` is the listed size + 1 (so growth is seen) or, for unknown sizes, twice
    the largest small object this store has read: a guess that misses costs the bytes it read,
    and a read of an object above the limit stops the guessing until small objects come back.
    """
    if store in _ranges_refused:
        return None
    limit = _one_request_limit(store)
    if expected_size is not None:
        return expected_size + 1 if 0 < expected_size <= limit else None
    largest = _largest_small.get(store)
    return None if largest is None else min(2 * largest, limit) + 1


def _one_request_limit(store: Store) -> int:
    return min(ONE_REQUEST_LIMIT, store.config.range_get_threshold)


def _note_size(store: Store, size: int) -> None:
    if size > _one_request_limit(store):
        _largest_small.pop(store, None)
    elif size > _largest_small.get(store, 0):
        _largest_small[store] = size


async def _read_in_one_request(
    store: Store,
    read_head: Callable[[str, int], Awaitable[Any]],
    key: str,
    end: int,
    expected_size: int | None,
) -> Any | None:
    """The whole object if it is shorter than ``end`` bytes, else None: read it the general way
    (which also reports an object that grew past its listed size)."""
    data = await read_head(key, end)
    if data is None:  # the server does not answer ranges
        _ranges_refused.add(store)
        return None
    if len(data) >= end:
        return None
    _check_listed(store, key, len(data), expected_size)
    _note_size(store, len(data))
    return data


async def read_object(
    store: Store, key: str, *, zero_copy: bool = False, expected_size: int | None = None
) -> Data:
    """The whole object: ``bytes``, or with ``zero_copy`` a :class:`BytesView` (no extra copy)."""
    threshold = store.config.range_get_threshold
    read_head = getattr(store, "read_head", None)
    if read_head is not None:
        end = _one_request_end(store, expected_size)
        if end is not None:
            data = await _read_in_one_request(store, read_head, key, end, expected_size)
            if data is not None:
                return as_result(data, zero_copy)
    small_batch = getattr(store, "read_small_batch", None)
    if small_batch is not None and (expected_size is None or expected_size <= threshold):
        # local files: open, size, read and close in one pool job when the file is small
        (data,) = await small_batch([key], threshold, zero_copy=zero_copy)
        if data is not None:
            _check_listed(store, key, len(data), expected_size)
            return as_result(data, zero_copy)

    async def body(handle: ReadHandle) -> Data:
        _check_listed(store, key, handle.size, expected_size)
        if read_head is not None:
            _note_size(store, handle.size)
        size = handle.size
        if size <= threshold and (zero_copy or size <= _FILL_BYTES_ABOVE):
            return as_result(await handle.read_all(), zero_copy)
        if zero_copy:
            out = allocate(size)
            await _fill(handle, out)
            return as_view(out)
        # A large ``bytes`` is filled as the data arrives: collecting the body first and then
        # copying it would touch twice as much fresh memory. Every part has finished when
        # ``_fill`` returns or raises, so nothing writes into the builder after this frame.
        builder = new_bytes(size)
        await _fill(handle, builder.view)
        return builder.result()

    return await _pinned(store, key, body)


async def read_object_into(store: Store, key: str, buffer: memoryview) -> int:
    """Read the whole object into ``buffer`` (parallel ranges when large); returns its size."""

    async def body(handle: ReadHandle) -> int:
        if handle.size > buffer.nbytes:
            raise ValueError(
                f"the buffer is too small for {handle.uri}: {buffer.nbytes} bytes for an object of "
                f"{handle.size} bytes"
            )
        await _fill(handle, buffer[: handle.size])
        return handle.size

    return await _pinned(store, key, body)


async def read_range(
    store: Store, key: str, start: int, end: int, *, zero_copy: bool = False, etag: str | None = None
) -> Data:
    """Bytes ``[start, end)`` of an object that has at least ``end`` bytes, checked for length.

    Large ranges are read as parallel parts, all pinned to ``etag`` when it is given.
    """
    size = end - start
    config = store.config
    if size <= config.range_get_threshold:
        for attempt in range(2):
            data = await store.get_range(key, start, end)
            if len(data) == size:
                return as_result(data, zero_copy)
            if attempt:  # one retry: a short body can be a transient proxy or server fault
                uri = store.uri(key)
                raise IntegrityError(
                    f"{uri} ended early: got {len(data)} of {size} bytes at offset {start}", uri
                )
    out = allocate(size)
    view = out

    def job(lo: int, hi: int) -> Callable[[], Awaitable[None]]:
        return lambda: store.read_into(key, start + lo, view[lo:hi], etag)

    await run_all([job(lo, hi) for lo, hi in plan_ranges(0, size, config.part_size)], config.max_concurrency)
    return as_view(out) if zero_copy else out.tobytes()


async def read_range_into(store: Store, key: str, start: int, view: memoryview) -> None:
    """Fill ``view`` from the object's bytes at ``start``; large views in parallel parts, one version."""

    async def body(handle: ReadHandle) -> None:
        if start + view.nbytes > handle.size:
            uri = handle.uri
            raise IntegrityError(
                f"{uri} ended early: {handle.size} bytes, but {view.nbytes} were wanted at offset {start}",
                uri,
            )
        await _fill(handle, view, start)

    if view.nbytes <= store.config.range_get_threshold:
        await store.read_into(key, start, view)  # one request: one version by construction
        return
    await _pinned(store, key, body)


async def read_many(
    items: Sequence[tuple[Store, str]],
    max_in_flight: int,
    *,
    zero_copy: bool = True,
    expected_sizes: Sequence[int | None] | None = None,
) -> list[Data]:
    """Many whole objects, ``max_in_flight`` at a time, in the order given.

    Small local files are read several per thread-pool job (cheaper per file), while keeping at
    least ~32 jobs so that every I/O thread has work.
    """
    jobs: list[Callable[[], Awaitable[list[Data]]]] = []
    index = 0
    count = len(items)
    while index < count:
        store = items[index][0]
        batch_size = max(1, min(getattr(store, "batch_reads", 1), count // 32))
        group = [index]
        while (
            batch_size > 1
            and len(group) < batch_size
            and index + len(group) < count
            and items[index + len(group)][0] is store
        ):
            group.append(index + len(group))
        jobs.append(_batch_job(items, group, zero_copy, expected_sizes))
        index += len(group)
    batches = await run_all(jobs, max_in_flight)
    return [data for batch in batches for data in batch]


def _batch_job(
    items: Sequence[tuple[Store, str]],
    group: list[int],
    zero_copy: bool,
    expected_sizes: Sequence[int | None] | None,
) -> Callable[[], Awaitable[list[Data]]]:
    def expected(i: int) -> int | None:
        return expected_sizes[i] if expected_sizes is not None else None

    async def one() -> list[Data]:
        store, key = items[group[0]]
        return [await read_object(store, key, zero_copy=zero_copy, expected_size=expected(group[0]))]

    async def several() -> list[Data]:
        store = items[group[0]][0]
        keys = [items[i][1] for i in group]
        found = await store.read_small_batch(  # type: ignore[attr-defined]
            keys, store.config.range_get_threshold, zero_copy=zero_copy
        )
        out: list[Data] = []
        for i, data in zip(group, found, strict=True):
            if data is None:
                data = await read_object(store, items[i][1], zero_copy=zero_copy, expected_size=expected(i))
                out.append(data)
                continue
            _check_listed(store, items[i][1], len(data), expected(i))
            out.append(as_result(data, zero_copy))
        return out

    return several if len(group) > 1 else one


# --- writes ---------------------------------------------------------------------------------
_WRITE_BATCH_BYTES = 4 * 1024 * 1024
_WRITE_BATCH_FILES = 64


async def write_many(items: Sequence[tuple[Store, str, memoryview]], max_in_flight: int) -> None:
    """Write many whole objects, ``max_in_flight`` at a time (the first failure cancels the rest).

    Local files of up to 4 MiB are written several per pool job (about 4 MiB, at most 64 files
    a job), and when every item is such a file, by at most one job per core. Each file is a few
    short system calls, and every return from one takes the GIL back: with many threads at once
    they mostly wait for each other (measured in docs/performance.md).
    """
    jobs: list[Callable[[], Awaitable[None]]] = []
    only_batches = True
    index, count = 0, len(items)
    while index < count:
        store, key, data = items[index]
        if getattr(store, "write_small_batch", None) is None or data.nbytes > _WRITE_BATCH_BYTES:
            jobs.append(functools.partial(store.put, key, data))
            only_batches = False
            index += 1
            continue
        keys, datas, size = [key], [data], data.nbytes
        index += 1
        while index < count and len(keys) < _WRITE_BATCH_FILES:
            next_store, next_key, next_data = items[index]
            if next_store is not store or size + next_data.nbytes > _WRITE_BATCH_BYTES:
                break
            keys.append(next_key)
            datas.append(next_data)
            size += next_data.nbytes
            index += 1
        jobs.append(functools.partial(store.write_small_batch, keys, datas))  # type: ignore[attr-defined]
    limit = min(max_in_flight, process_cpus()) if only_batches else max_in_flight
    await run_all(jobs, limit)


# --- copies ---------------------------------------------------------------------------------
async def copy_object(source: Store, source_key: str, target: Store, target_key: str) -> int:
    """Copy one object between any two stores; returns its size.

    Small objects are one read and one put. Large ones are read as parallel parts of one pinned
    version (``max_concurrency`` parts in flight, each into its own buffer) and streamed in order
    into the target's writer, which uploads parts in parallel; the target object appears only
    when every part arrived, and any failure aborts it.
    """

    async def body(handle: ReadHandle) -> int:
        config = source.config
        size = handle.size
        if size <= config.range_get_threshold:
            data = await handle.read_all()
            await target.put(target_key, memoryview(data).cast("B"))
            return size
        ranges = plan_ranges(0, size, config.part_size)
        window = max(1, config.max_concurrency)
        writer = await target.open_writer(target_key)
        error: BaseException | None = None
        try:
            async with asyncio.TaskGroup() as group:
                reads: list[asyncio.Task[Any] | None] = []

                async def read_part(lo: int, hi: int) -> Any:
                    out = allocate(hi - lo)
                    await handle.read_into(lo, out)
                    return out

                for lo, hi in ranges[:window]:
                    reads.append(group.create_task(read_part(lo, hi)))
                for index in range(len(ranges)):
                    task = reads[index]
                    assert task is not None
                    data = await task
                    reads[index] = None  # free the part once written
                    following = index + window
                    if following < len(ranges):
                        reads.append(group.create_task(read_part(*ranges[following])))
                    await writer.write(memoryview(data))
        except BaseExceptionGroup as failed:
            error = _primary(failed)
        except BaseException as exc:
            error = exc
        if error is not None:
            await writer.abort()
            raise error
        await writer.close()
        return size

    return await _pinned(source, source_key, body)
