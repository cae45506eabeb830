"""``CheckpointWriter``: streams one rank's entries into its shard object, then commits.

Every ``save_*`` appends the item's bytes to the rank's shard through the core's streaming writer
(multipart on object stores), so an array of any size is written in slices of its own memory
(or, for a non-contiguous view, in chunk-sized copies): memory stays bounded by a few parts.
Each item's CRC-32C is computed on the way, overlapping the previous slice's write.

Nothing is visible to readers before the manifest is written by :meth:`finalize` (single rank) or
by ``CheckpointStore.commit`` (several ranks). :meth:`abort`, an exception inside ``with``, or a
crash leaves the previously committed checkpoint untouched.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import pickle
from collections.abc import Iterable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import ops
from .._sync import run
from ..config import get_config
from ..errors import NotFoundError, StorageError
from . import _crc
from ._dist import Collective
from .manifest import CheckpointInfo, EntryInfo, ShardInfo, check_name, dtype_to_json, shard_key

if TYPE_CHECKING:
    from .store import CheckpointStore

__all__ = ["CheckpointWriter"]

_MiB = 1024 * 1024


_OFF_LOOP = 1024 * 1024
"""Chunks at least this large are checksummed in a thread."""


def _chunk_bytes() -> int:
    return max(get_config().part_size * 2, 16 * _MiB)


def _as_flat(array: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """A contiguous array's memory as flat ``uint8`` (a view, never a copy)."""
    return array.reshape(-1, order="A").view(np.uint8)


def _copy_chunks(array: np.ndarray[Any, Any], chunk: int) -> Iterator[np.ndarray[Any, Any]]:
    """The C-order bytes of a non-contiguous array, in copies of about ``chunk`` bytes."""
    if array.nbytes == 0:
        return
    if array.ndim == 0 or array.nbytes <= chunk:
        yield _as_flat(np.ascontiguousarray(array))
        return
    if array.ndim == 1:
        step = max(1, chunk // array.itemsize)
        for start in range(0, array.shape[0], step):
            yield _as_flat(np.ascontiguousarray(array[start : start + step]))
        return
    row = array[0].nbytes
    rows = chunk // row if row else 0
    if rows >= 1:
        for start in range(0, array.shape[0], rows):
            yield _as_flat(np.ascontiguousarray(array[start : start + rows]))
    else:
        for index in range(array.shape[0]):
            yield from _copy_chunks(array[index], chunk)


def array_chunks(array: np.ndarray[Any, Any], chunk: int) -> tuple[str, Iterable[Any]]:
    """``(order, chunks)``: how ``array`` is laid out on storage and its bytes in slices."""
    if array.nbytes == 0:
        return "C", iter(())
    order = "F" if array.flags.f_contiguous and not array.flags.c_contiguous else "C"
    if array.flags.c_contiguous or array.flags.f_contiguous:
        flat = _as_flat(array)
        return order, (flat[i : i + chunk] for i in range(0, flat.shape[0], chunk))
    return order, _Copies(_copy_chunks(array, chunk))


class _Copies:
    """Chunks that are copied when produced (non-contiguous arrays): produced off the loop."""

    def __init__(self, chunks: Iterator[Any]) -> None:
        self.chunks = chunks

    def __iter__(self) -> Iterator[Any]:
        return self.chunks


def _buffer_chunks(data: Any, chunk: int) -> Iterator[memoryview]:
    view = memoryview(data)
    if not view.c_contiguous:
        view = memoryview(view.tobytes())
    if view.ndim != 1 or view.format != "B":
        view = view.cast("B")
    return (view[i : i + chunk] for i in range(0, view.nbytes, chunk))


def check_metadata(metadata: Any) -> Any:
    """User metadata must be JSON (it is stored in the manifest and round-trips exactly)."""
    try:
        json.dumps(metadata, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"checkpoint metadata must be JSON-serializable (dicts, lists, str, int, float, bool, "
            f"None): {exc}"
        ) from None
    return metadata


class CheckpointWriter:
    """Writes one rank's shard of one checkpoint step. Make it with ``create_checkpoint_writer`` or
    ``CheckpointStore.writer``.

    Use either the blocking methods or the ``*_async`` ones on one writer, not both (an upload
    belongs to the event loop that started it).

    As a context manager: leaving the block normally finalizes (for a rank of an explicit
    multi-rank save, it finishes the shard instead; see :meth:`finish_shard`), and leaving it with
    an exception aborts, so the previously committed checkpoint stays the current one.
    """

    def __init__(
        self,
        store: CheckpointStore,
        step: int,
        *,
        epoch: int = 0,
        rank: int = 0,
        world_size: int = 1,
        ts: str,
        collective: Collective | None = None,
        framework: str = "s3dlio",
    ) -> None:
        self._store = store
        self.step = step
        self.epoch = epoch
        self.rank = rank
        self.world_size = world_size
        self.framework = framework
        self._collective = collective
        self.key = shard_key(step, ts, rank)
        self.shard_uri = store.uri_of(self.key)
        self._entries: list[EntryInfo] = []
        self._names: set[str] = set()
        self._offset = 0
        self._crc = 0
        self._stream: ops.AsyncWriter | None = None
        self._lock: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._state = "open"  # open -> finished -> committed | aborted | failed
        self.shard_info: ShardInfo | None = None
        """Set by :meth:`finish_shard`: what to pass to ``CheckpointStore.commit``."""
        self.info: CheckpointInfo | None = None
        """Set by :meth:`finalize`: the committed checkpoint."""

    def __repr__(self) -> str:
        return (
            f"CheckpointWriter({self._store.uri!r}, step={self.step}, rank={self.rank}/"
            f"{self.world_size}, {self._state})"
        )

    @property
    def uri(self) -> str:
        """The checkpoint's base URI."""
        return self._store.uri

    @property
    def names(self) -> list[str]:
        """Names saved so far, in order."""
        return [entry.name for entry in self._entries]

    # --- state checks -------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._state != "open":
            reason = {
                "finished": "its shard is already finished",
                "committed": "it is already finalized",
                "aborted": "it was aborted",
                "failed": "an earlier write failed",
            }[self._state]
            raise ValueError(
                f"cannot save to the checkpoint writer for {self.uri} (step {self.step}, "
                f"rank {self.rank}): {reason}"
            )

    def _enter_loop(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop, self._lock = loop, asyncio.Lock()
        elif loop is not self._loop:
            raise RuntimeError(
                "this CheckpointWriter was started on another event loop: use either its "
                "blocking methods or its *_async methods, not both"
            )
        assert self._lock is not None
        return self._lock

    def _claim(self, name: object) -> str:
        checked = check_name(name)
        self._check_open()
        if checked in self._names:
            raise ValueError(
                f"duplicate checkpoint entry name {checked!r} (rank {self.rank}, step {self.step})"
            )
        return checked

    # --- writing ------------------------------------------------------------------------
    async def _append(self, name: str, kind: str, chunks: Any, **fields: Any) -> EntryInfo:
        lock = self._enter_loop()
        async with lock:
            self._claim(name)
            self._names.add(name)
            try:
                if self._stream is None:
                    self._stream = await ops.open_writer_async(self.shard_uri).open()
                crc, size = await self._stream_chunks(self._stream, chunks)
            except BaseException:
                self._names.discard(name)
                await self._fail()
                raise
            entry = EntryInfo(
                name=name, kind=kind, offset=self._offset, size=size, crc32c=crc, rank=self.rank, **fields
            )
            self._entries.append(entry)
            self._crc = _crc.combine(self._crc, crc, size)
            self._offset += size
            return entry

    @staticmethod
    async def _stream_chunks(stream: ops.AsyncWriter, chunks: Any) -> tuple[int, int]:
        """Write every chunk, computing the CRC of each while the previous one is being written."""
        crc = size = 0
        pending: asyncio.Future[int] | None = None
        copies = isinstance(chunks, _Copies)
        iterator = iter(chunks)
        try:
            while True:
                # copies and checksums of large chunks run in a thread (numpy and google-crc32c
                # release the GIL), so they never stall the transfers on the event loop
                chunk = await asyncio.to_thread(next, iterator, None) if copies else next(iterator, None)
                if chunk is None:
                    break
                nbytes = memoryview(chunk).nbytes
                if nbytes >= _OFF_LOOP:
                    crc = await asyncio.to_thread(_crc.extend, crc, chunk)
                else:
                    crc = _crc.extend(crc, chunk)
                size += len(chunk)
                if pending is not None:
                    await pending
                pending = asyncio.ensure_future(stream.write(chunk))
                await asyncio.sleep(0)  # let the write start before the next checksum
            if pending is not None:
                await pending
                pending = None
        finally:
            if pending is not None and not pending.done():
                pending.cancel()
        return crc, size

    async def _fail(self) -> None:
        self._state = "failed"
        if self._stream is not None:
            stream, self._stream = self._stream, None
            with contextlib.suppress(Exception):  # the original error is the one to report
                await stream.abort()

    async def save_array_async(self, name: str, array: Any) -> EntryInfo:
        """Save a numpy array (any dtype except object, any shape and memory layout).

        C- and Fortran-ordered arrays are written from their own memory and keep their order;
        other views are written in C order, copied a chunk at a time.
        """
        check_name(name)
        self._check_open()
        value = np.asarray(array)
        dtype_to_json(value.dtype)  # rejects object dtypes before anything is written
        order, chunks = array_chunks(value, _chunk_bytes())
        return await self._append(
            name, "array", chunks, dtype=value.dtype, shape=tuple(value.shape), order=order
        )

    async def save_bytes_async(self, name: str, data: Any) -> EntryInfo:
        """Save any bytes-like object as raw bytes (read back with ``load_bytes``)."""
        check_name(name)
        self._check_open()
        if isinstance(data, str) or data is None:
            raise TypeError(f"save_bytes({name!r}) needs a bytes-like object, got {type(data).__name__}")
        try:
            chunks = _buffer_chunks(data, _chunk_bytes())
        except TypeError:
            raise TypeError(
                f"save_bytes({name!r}) needs a bytes-like object, got {type(data).__name__}"
            ) from None
        return await self._append(name, "bytes", chunks)

    async def save_object_async(
        self, name: str, obj: Any, protocol: int = pickle.HIGHEST_PROTOCOL
    ) -> EntryInfo:
        """Save any picklable object (read back with ``load_object``; unpickling runs code, so load
        only checkpoints you trust)."""
        check_name(name)
        self._check_open()
        data = await asyncio.to_thread(pickle.dumps, obj, protocol)  # CPU work: off the loop
        return await self._append(name, "object", _buffer_chunks(data, _chunk_bytes()))

    # --- finishing ------------------------------------------------------------------------
    async def finish_shard_async(self) -> ShardInfo:
        """Close this rank's shard object and describe it (idempotent). It is not committed yet."""
        if self.shard_info is not None:
            return self.shard_info
        lock = self._enter_loop()
        async with lock:
            self._check_open()
            try:
                if self._stream is None:
                    self._stream = await ops.open_writer_async(self.shard_uri).open()
                stream, self._stream = self._stream, None
                await stream.close()
            except BaseException:
                await self._fail()
                raise
            self._state = "finished"
            self.shard_info = ShardInfo(
                rank=self.rank,
                key=self.key,
                size=self._offset,
                crc32c=self._crc,
                step=self.step,
                world_size=self.world_size,
                entries=tuple(self._entries),
            )
            return self.shard_info

    async def finalize_async(self, metadata: Any = None) -> CheckpointInfo:
        """Finish the shard and commit the checkpoint; returns what was committed.

        ``metadata`` is any JSON value (typically a dict) stored in the manifest. With several
        ranks under ``torch.distributed`` every rank calls this; rank 0 commits once all shards are
        written, and every rank gets the result (or the error).
        """
        check_metadata(metadata)
        if self._state == "committed" and self.info is not None:
            return self.info
        if self._collective is not None:
            loop = asyncio.get_running_loop()
            return await asyncio.to_thread(self._finalize_collective_blocking, metadata, None, loop)
        self._require_single("finalize")
        info = await self.finish_shard_async()
        self.info = await self._store.commit_async(
            self.step, [info], epoch=self.epoch, metadata=metadata, framework=self.framework
        )
        self._state = "committed"
        return self.info

    def _require_single(self, action: str) -> None:
        if self.world_size > 1:
            raise ValueError(
                f"cannot {action} rank {self.rank} of a {self.world_size}-rank checkpoint on its own: "
                "call finish_shard() on every rank, gather the ShardInfo results, and call "
                "CheckpointStore.commit(step, shard_infos) once (or initialize torch.distributed "
                "so that finalize() coordinates the ranks)"
            )

    def _finalize_collective_blocking(
        self,
        metadata: Any,
        error: BaseException | None,
        loop: asyncio.AbstractEventLoop | None,
    ) -> CheckpointInfo:
        """Gather every rank's shard to rank 0, commit there, and share the outcome.

        Runs in a plain thread; ``loop`` is the caller's event loop for async callers (the shard
        upload belongs to it), None for blocking callers.
        """
        collective = self._collective
        assert collective is not None
        local_error = error
        payload: tuple[str, Any]
        if local_error is None:
            try:
                if loop is None:
                    shard = run(self.finish_shard_async())
                else:
                    shard = asyncio.run_coroutine_threadsafe(self.finish_shard_async(), loop).result()
                payload = ("ok", shard)
            except Exception as exc:
                local_error = exc
                payload = ("error", f"rank {self.rank}: {exc!r}")
        else:
            payload = ("error", f"rank {self.rank}: {error!r}")
        gathered = collective.gather(payload)
        outcome: tuple[str, Any] = ("error", "")
        if gathered is not None:  # rank 0
            errors = [str(detail) for status, detail in gathered if status != "ok"]
            if errors:
                outcome = ("error", "; ".join(errors))
            else:
                try:
                    info = run(
                        self._store.commit_async(
                            self.step,
                            [detail for _, detail in gathered],
                            epoch=self.epoch,
                            metadata=metadata,
                            framework=self.framework,
                        )
                    )
                    outcome = ("ok", info)
                except Exception as exc:
                    outcome = ("error", f"commit on rank 0: {exc!r}")
        outcome = collective.broadcast(outcome)
        if local_error is not None:
            raise local_error
        status, detail = outcome
        if status != "ok":
            raise StorageError(
                f"checkpoint step {self.step} at {self.uri} was not committed: {detail}", self.uri
            )
        self._state = "committed"
        self.info = detail
        return detail  # type: ignore[no-any-return]

    async def abort_async(self) -> None:
        """Discard this writer's data; the previously committed checkpoint stays current.

        Before :meth:`finish_shard` nothing was visible; after it, the shard object is deleted.
        Aborting after the commit does nothing.
        """
        if self._state in ("committed", "aborted"):
            return
        if self._stream is not None:
            stream, self._stream = self._stream, None
            await stream.abort()
        if self._state == "finished":
            with contextlib.suppress(NotFoundError):
                await ops.delete_async(self.shard_uri)
        self._state = "aborted"

    # --- blocking twins -------------------------------------------------------------------
    def save_array(self, name: str, array: Any) -> EntryInfo:
        """Blocking twin of :meth:`save_array_async`."""
        return run(self.save_array_async(name, array))

    def save_bytes(self, name: str, data: Any) -> EntryInfo:
        """Blocking twin of :meth:`save_bytes_async`."""
        return run(self.save_bytes_async(name, data))

    def save_object(self, name: str, obj: Any, protocol: int = pickle.HIGHEST_PROTOCOL) -> EntryInfo:
        """Blocking twin of :meth:`save_object_async`."""
        return run(self.save_object_async(name, obj, protocol))

    def finish_shard(self) -> ShardInfo:
        """Blocking twin of :meth:`finish_shard_async`."""
        return run(self.finish_shard_async())

    def finalize(self, metadata: Any = None) -> CheckpointInfo:
        """Blocking twin of :meth:`finalize_async`."""
        check_metadata(metadata)
        if self._state == "committed" and self.info is not None:
            return self.info
        if self._collective is not None:
            return self._finalize_collective_blocking(metadata, None, None)
        return run(self.finalize_async(metadata))

    def abort(self) -> None:
        """Blocking twin of :meth:`abort_async`."""
        run(self.abort_async())

    # --- context managers -------------------------------------------------------------------
    def _explicit_rank(self) -> bool:
        """One rank of a multi-rank save coordinated by the caller (finish_shard + commit)."""
        return self.world_size > 1 and self._collective is None

    def __enter__(self) -> CheckpointWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is None:
            if self._explicit_rank():
                if self._state == "open":
                    self.finish_shard()
            elif self._state in ("open", "finished"):
                self.finalize()
            return
        if self._collective is not None and self._state in ("open", "failed"):
            # tell the other ranks, so they do not wait for this one forever
            with contextlib.suppress(BaseException):
                self._finalize_collective_blocking(None, exc, None)
        self.abort()

    async def __aenter__(self) -> CheckpointWriter:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is None:
            if self._explicit_rank():
                if self._state == "open":
                    await self.finish_shard_async()
            elif self._state in ("open", "finished"):
                await self.finalize_async()
            return
        if self._collective is not None and self._state in ("open", "failed"):
            loop = asyncio.get_running_loop()
            with contextlib.suppress(BaseException):
                await asyncio.to_thread(self._finalize_collective_blocking, None, exc, loop)
        await self.abort_async()
