"""``put()``: generate synthetic objects and write them to any backend, concurrently.

Remote stores: up to ``max_in_flight`` objects are being generated (in worker threads; numpy and
the checksums release the GIL) or uploaded at once, so memory stays near ``max_in_flight * size``.
Objects above the multipart threshold of type ``zeros``/``random`` are streamed in ``part_size``
chunks and never held whole.

Local files (``file://``, ``direct://``): generating is the expensive part, and it is CPU work,
so a few workers (one per core for ``zeros``/``random``, one per two cores for the formats,
never more than ``max_in_flight``; see :func:`local_workers`), each one long job in the I/O
pool, take batches of objects from a shared list until it is empty. For each object a worker
generates it into a buffer it reuses (``random`` objects: the whole batch in one pass) and writes
it to a temporary file that is renamed into place (as ``LocalStore`` does: a reader never sees
half a file). No ``bytes`` object is allocated per object, no thread hop happens per object or
per batch, and each directory is created once per call.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections.abc import Callable, Iterator

import numpy as np

from .._threads import process_cpus
from ..ops import open_writer_async, put_bytes_async, resolve, run_bounded
from ..stores.local import LocalStore, run_io, translate_os_error
from ..uri import parse_uri
from .generator import U8Array, advise_huge_pages, check_int, new_seed
from .objects import STREAMABLE_TYPES, ObjectMaker, object_chunks, validate_put_args
from .templates import expand_template

__all__ = ["ProgressCallback", "put_async", "shard_range"]

ProgressCallback = Callable[[int, int], None]
"""Called as ``progress(objects_done, bytes_done)`` after each object is written, and for objects
streamed in parts (above the multipart threshold) also after each part, with ``objects_done``
unchanged. Called from the event-loop thread (``put``) or the driver (``s3dlio.ray.put``)."""

MiB = 1024 * 1024
_BATCH_BYTES = 4 * MiB  # objects per local job: about this much data (fewer thread hops)
_BATCH_MAX = 64  # ... but at most this many objects, so progress stays fluid


def local_workers(max_in_flight: int, object_type: str = "random") -> int:
    """Concurrent generate-and-write jobs for local files, at most ``max_in_flight``.

    A job holds the GIL for its Python glue and lets it go for each system call (create, write,
    rename) and for each numpy or checksum step. Every time two jobs want the GIL at once, a
    thread is put to sleep and woken again, which costs CPU. ``zeros`` and ``random`` are
    rendered a batch at a time, so their jobs let go of the GIL mostly for long system calls:
    one job per core. A format renders each object in several short steps (payload pieces,
    checksums, headers), so jobs would collide on the GIL constantly: one job per two cores.
    Measured on 2 cores (docs/performance.md): formats ran 1.1-1.3x faster with one job than
    with two, at 55-60% of the CPU per GB; ``zeros`` and ``random`` ran best with two jobs.
    """
    cores = process_cpus()
    jobs = cores if object_type in STREAMABLE_TYPES else cores // 2
    return max(1, min(max_in_flight, jobs))


async def put_async(
    prefix: str,
    num: int,
    template: str = "object_{}",
    object_type: str = "zeros",
    size: int = MiB,
    max_in_flight: int = 32,
    compress_factor: int = 1,
    dedup_factor: int = 1,
    seed: int | None = None,
    progress: ProgressCallback | None = None,
    *,
    rank: int | None = None,
    world_size: int | None = None,
    index_range: tuple[int, int] | None = None,
) -> list[str]:
    """Generate ``num`` objects named ``prefix + template.format(i)`` and write them.

    ``object_type`` is one of ``zeros``, ``random``, ``npz``, ``hdf5``, ``tfrecord``; ``size`` is
    each object's size in bytes (formats land within 1%). ``compress_factor`` and ``dedup_factor``
    set the zlib compression ratio and the 4 KiB-block dedup ratio of the data (of the payload
    for formats). With ``seed`` the call is reproducible byte for byte; without, it is random.
    The template takes Python format syntax: ``"sample_{:06d}.npz"``; an optional second field
    receives ``num`` (``"part_{}_of_{}"``). Every argument is checked before anything is written.
    Returns the URIs written, in index order.

    Sharding (MPI, torchrun, Ray, any launcher): ``rank``/``world_size`` write only the contiguous
    block ``shard_range(num, rank, world_size)`` of the indices, ``index_range=(start, stop)`` an
    explicit one. The objects, names and bytes are those of the unsharded call with the same
    ``seed`` (``num`` stays the size of the whole dataset), so the shards of all processes make
    up exactly that call; a sharded call therefore needs an explicit ``seed``.
    """
    try:
        validate_put_args(num, template, object_type, size, compress_factor, dedup_factor, max_in_flight)
    except TypeError as exc:
        raise ValueError(str(exc)) from exc
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ValueError(f"seed must be an integer or None, got {seed!r}")
    try:
        lo, hi = _shard(num, rank, world_size, index_range)
    except TypeError as exc:
        raise ValueError(str(exc)) from exc
    if seed is None and (lo, hi) != (0, num):
        raise ValueError("a sharded put() needs an explicit seed, so that every shard belongs to one dataset")
    parsed = parse_uri(prefix)
    base = prefix if prefix.endswith("/") or not parsed.key else prefix + "/"
    indices = range(lo, hi)
    uris = {index: base + expand_template(template, index, num) for index in indices}
    resolve(base + expand_template(template, 0, num))  # a bad scheme or bucket fails first
    if not indices:
        return []
    call_seed = new_seed() if seed is None else seed
    maker = ObjectMaker(
        object_type, size, seed=call_seed, dedup=dedup_factor, compress=compress_factor, num=num
    )
    config_store, _, _ = resolve(uris[lo])
    stream_above = config_store.config.multipart_threshold
    part_size = config_store.config.part_size
    done_objects = done_bytes = 0

    def advance(objects: int, nbytes: int) -> None:
        nonlocal done_objects, done_bytes
        done_objects += objects
        done_bytes += nbytes
        if progress is not None:
            progress(done_objects, done_bytes)

    def report(count: int) -> None:
        for _ in range(count):
            advance(1, size)

    if object_type in STREAMABLE_TYPES and size > stream_above:

        async def stream_one(index: int) -> None:
            chunks = object_chunks(
                object_type, index, size, part_size,
                seed=call_seed, dedup=dedup_factor, compress=compress_factor, num=num,
            )  # fmt: skip
            async with open_writer_async(uris[index]) as writer:
                while chunk := await asyncio.to_thread(next, chunks, b""):
                    await writer.write(chunk)
                    advance(0, len(chunk))  # a large object shows progress part by part
            advance(1, 0)

        await run_bounded(indices, stream_one, max_in_flight)
    elif isinstance(config_store, LocalStore):
        files = _LocalFiles(config_store, uris, maker)
        batch = max(1, min(_BATCH_MAX, _BATCH_BYTES // max(size, 1)))
        batches = [(start, min(hi, start + batch)) for start in range(lo, hi, batch)]
        pending = iter(batches)  # shared by the workers
        loop = asyncio.get_running_loop()
        failed: list[BaseException] = []

        def report_or_stop(count: int) -> None:
            try:
                report(count)
            except BaseException as exc:  # the callback's error fails the call
                failed.append(exc)
                files.stop()

        def written(count: int) -> None:  # in a pool thread: progress runs on the loop
            loop.call_soon_threadsafe(report_or_stop, count)

        async def worker(_: int) -> None:
            # On cancellation, running workers finish their current object only.
            await run_io(files.drain, pending, written, on_cancel=files.stop)

        workers = min(local_workers(max_in_flight, object_type), len(batches))
        await run_bounded(range(workers), worker, workers)
        if failed:  # reported before the workers' results: call_soon_threadsafe keeps order
            raise failed[0]
    else:

        async def upload_one(index: int) -> None:
            await put_bytes_async(uris[index], await asyncio.to_thread(maker.make, index))
            report(1)

        await run_bounded(indices, upload_one, max_in_flight)
    return [uris[index] for index in indices]


def shard_range(num: int, rank: int, world_size: int) -> tuple[int, int]:
    """Indices ``[start, stop)`` of shard ``rank`` of ``world_size`` over ``num`` objects.

    Contiguous blocks whose sizes differ by at most one; together they cover ``range(num)``.
    """
    num = check_int("num", num, 0)
    world_size = check_int("world_size", world_size, 1)
    rank = check_int("rank", rank, 0)
    if rank >= world_size:
        raise ValueError(f"rank must be < world_size ({world_size}), got {rank}")
    return num * rank // world_size, num * (rank + 1) // world_size


def _shard(num: int, rank: object, world_size: object, index_range: object) -> tuple[int, int]:
    if index_range is not None:
        if rank is not None or world_size is not None:
            raise ValueError("give either rank/world_size or index_range, not both")
        if not isinstance(index_range, tuple | list) or len(index_range) != 2:
            raise ValueError(f"index_range must be a (start, stop) pair, got {index_range!r}")
        start = check_int("index_range start", index_range[0], 0)
        stop = check_int("index_range stop", index_range[1], 0)
        if not start <= stop <= num:
            raise ValueError(
                f"index_range must satisfy 0 <= start <= stop <= num ({num}), got {index_range!r}"
            )
        return start, stop
    if rank is None and world_size is None:
        return 0, num
    if rank is None or world_size is None:
        raise ValueError("rank and world_size go together")
    return shard_range(num, rank, world_size)  # type: ignore[arg-type]


def _at_least(buffer: U8Array, length: int) -> U8Array:
    """``buffer`` if it holds ``length`` bytes, else a new one with slack (tfrecord lengths vary
    by a few bytes from object to object)."""
    if len(buffer) >= length:
        return buffer
    buffer = np.empty(length + length // 64 + 4096, np.uint8)
    advise_huge_pages(buffer)
    return buffer


class _LocalFiles:
    """Writes objects of one call to local files; ``write_range`` runs in I/O-pool threads."""

    def __init__(self, store: LocalStore, uris: dict[int, str], maker: ObjectMaker) -> None:
        self._store = store
        self._uris = uris
        self._maker = maker
        self._token = secrets.token_hex(4)  # temp names: unique per call, no uuid per object
        self._made_dirs: set[str] = set()
        self._buffers: list[U8Array] = []  # reusable, at most one per concurrent job
        self._lock = threading.Lock()
        self._stopped = False

    def stop(self) -> None:
        """Make running and later ``write_range`` calls return before their next object."""
        self._stopped = True

    def drain(self, batches: Iterator[tuple[int, int]], written: Callable[[int], None]) -> None:
        """Write the ``(start, end)`` ranges taken from ``batches``, which several ``drain`` jobs
        share, until none is left or the call stops; ``written(count)`` after each range.

        One long job per worker, not one per range: no event-loop round trip between ranges, and
        each worker keeps its thread and its warm buffer.
        """
        while not self._stopped:
            with self._lock:
                bounds = next(batches, None)
            if bounds is None:
                return
            written(self.write_range(*bounds))

    def write_range(self, start: int, end: int) -> int:
        """Generate and write objects ``start .. end - 1``; return how many were written."""
        with self._lock:
            buffer = self._buffers.pop() if self._buffers else np.empty(0, np.uint8)
        index = start
        try:
            run = self._maker.run(start, end)
            if run is not None:  # random data: the whole range rendered in one pass
                stride, fill = run
                buffer = _at_least(buffer, (end - start) * stride)
                fill(buffer[: (end - start) * stride])
                whole = memoryview(buffer)  # type: ignore[arg-type]
                size = self._maker.size
                try:
                    while index < end and not self._stopped:
                        offset = (index - start) * stride
                        self._write(index, whole[offset : offset + size])
                        index += 1
                finally:
                    whole.release()
            while index < end and not self._stopped:
                buffer = self._write_one(index, buffer)
                index += 1
            return index - start
        except BaseException:
            self._stopped = True  # the call fails: other workers stop too
            raise
        finally:
            with self._lock:
                self._buffers.append(buffer)

    def _write_one(self, index: int, buffer: U8Array) -> U8Array:
        job = self._maker.job(index)
        if isinstance(job, bytes):
            self._write(index, memoryview(job))
            return buffer
        length, fill = job
        buffer = _at_least(buffer, length)
        fill(buffer[:length])
        with memoryview(buffer) as whole:  # type: ignore[arg-type]
            self._write(index, whole[:length])
        return buffer

    def _write(self, index: int, data: memoryview) -> None:
        uri = self._uris[index]
        path = self._store.path(uri.split(":///", 1)[1])
        try:
            self._store._put_file(path, data, f"{self._token}-{index}", self._made_dirs)
        except OSError as exc:
            raise translate_os_error(exc, uri, "put") from exc
