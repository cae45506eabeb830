"""``CheckpointReader``: loads the entries of one committed checkpoint, verifying each checksum.

Arrays are read into a preallocated numpy array of the recorded dtype, shape and order, by
concurrent ranged GETs of ``part_size`` bytes (no join, no second full copy); the CRC-32C of the
parts are combined and compared with the manifest's before the array is returned. Many small
entries are fetched together in a few larger ranges.
"""

from __future__ import annotations

import asyncio
import pickle
from collections.abc import Iterable
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import ops, transfer
from .._buffers import BytesView, as_view
from .._sync import run
from ..config import get_config
from ..errors import IntegrityError, NotFoundError
from ..stores import Store
from . import _crc
from .manifest import EntryInfo, Manifest, ShardInfo

if TYPE_CHECKING:
    from .store import CheckpointStore

__all__ = ["CheckpointReader", "EntryNotFoundError"]

_OFF_LOOP = 1024 * 1024


class EntryNotFoundError(NotFoundError, KeyError):
    """The checkpoint has no entry of that name (both a ``NotFoundError`` and a ``KeyError``)."""


def _flat(array: np.ndarray[Any, Any]) -> np.ndarray[Any, Any] | None:
    """The memory of a freshly allocated array as flat ``uint8``, or None if it has no bytes."""
    if array.nbytes == 0:
        return None
    return array.reshape(-1, order="A").view(np.uint8)


class CheckpointReader:
    """Reads one committed checkpoint. Make it with ``create_checkpoint_reader`` or
    ``CheckpointStore.reader``; it holds the manifest, so later commits do not change what it sees.

    ``rank`` (optional) is the shard that loads use by default. Without it, a name is looked up in
    every shard and must be unique; a single-rank checkpoint needs no rank at all.
    """

    def __init__(self, store: CheckpointStore, manifest: Manifest, rank: int | None = None) -> None:
        self._store = store
        self.manifest = manifest
        self._shards = {shard.rank: shard for shard in manifest.shards}
        self._entries = {
            shard.rank: {entry.name: entry for entry in shard.entries} for shard in manifest.shards
        }
        if rank is not None:
            self._check_rank(rank)
        self._rank = rank
        self._closed = False
        self._stores: dict[int, tuple[Store, str]] = {}

    def __repr__(self) -> str:
        return f"CheckpointReader({self.uri!r}, step={self.step}, world_size={self.world_size})"

    # --- what the manifest says ---------------------------------------------------------------
    @property
    def uri(self) -> str:
        """The checkpoint's base URI."""
        return self._store.uri

    @property
    def manifest_uri(self) -> str:
        """The URI of the manifest this reader loaded."""
        return self._store.uri_of(self.manifest.key)

    @property
    def step(self) -> int:
        return self.manifest.step

    @property
    def epoch(self) -> int:
        return self.manifest.epoch

    @property
    def world_size(self) -> int:
        return self.manifest.world_size

    @property
    def time(self) -> datetime | None:
        """When the checkpoint was committed."""
        return self.manifest.time

    @property
    def metadata(self) -> Any:
        """The user metadata given to ``finalize``/``commit`` (a JSON value; None if none)."""
        return self.manifest.user_meta

    @property
    def size(self) -> int:
        """Bytes of all shards."""
        return self.manifest.size

    def names(self, rank: int | None = None) -> list[str]:
        """Entry names in saving order: of ``rank`` (or the default rank), else of every rank."""
        rank = self._rank if rank is None else rank
        if rank is not None:
            self._check_rank(rank)
            return list(self._entries[rank])
        seen: dict[str, None] = {}
        for shard in self.manifest.shards:
            seen.update(dict.fromkeys(self._entries[shard.rank]))
        return list(seen)

    def info(self, rank: int | None = None) -> list[EntryInfo]:
        """Every entry (name, kind, rank, size, checksum; for arrays dtype, shape and order)."""
        rank = self._rank if rank is None else rank
        if rank is not None:
            self._check_rank(rank)
            return list(self._entries[rank].values())
        return [entry for shard in self.manifest.shards for entry in self._entries[shard.rank].values()]

    def shards(self) -> list[ShardInfo]:
        """Every rank's shard record."""
        return list(self.manifest.shards)

    def __contains__(self, name: object) -> bool:
        ranks = [self._rank] if self._rank is not None else list(self._entries)
        return any(name in self._entries[r] for r in ranks)

    def __iter__(self) -> Any:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    # --- lookups ------------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise ValueError(f"the checkpoint reader for {self.uri} is closed")

    def _check_rank(self, rank: int) -> None:
        if isinstance(rank, bool) or not isinstance(rank, int):
            raise TypeError(f"rank must be an integer, got {rank!r}")
        if rank not in self._shards:
            raise NotFoundError(
                f"checkpoint step {self.step} at {self.uri} has no shard for rank {rank} "
                f"(it has ranks {sorted(self._shards)})",
                self.uri,
            )

    def _missing(self, name: str, where: str, known: Iterable[str]) -> EntryNotFoundError:
        names = sorted(known)
        listed = ", ".join(map(repr, names[:10])) + (" ..." if len(names) > 10 else "")
        return EntryNotFoundError(
            f"no entry named {name!r} in {where} of checkpoint step {self.step} at {self.uri} "
            f"(it has: {listed or 'nothing'})",
            self.uri,
        )

    def entry(self, name: str, rank: int | None = None) -> EntryInfo:
        """The record of entry ``name``; :class:`EntryNotFoundError` if there is none."""
        self._check_open()
        if not isinstance(name, str):
            raise TypeError(f"an entry name must be a string, got {type(name).__name__}")
        rank = self._rank if rank is None else rank
        if rank is not None:
            self._check_rank(rank)
            found = self._entries[rank].get(name)
            if found is None:
                raise self._missing(name, f"rank {rank}'s shard", self._entries[rank])
            return found
        matches = [entries[name] for entries in self._entries.values() if name in entries]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            if any(shard.legacy for shard in self.manifest.shards):
                raise EntryNotFoundError(
                    f"checkpoint step {self.step} at {self.uri} was written by the original s3dlio: "
                    "its shards are opaque bytes without named entries; use read_shard(rank)",
                    self.uri,
                )
            raise self._missing(name, "any shard", self.names())
        raise ValueError(
            f"entry {name!r} exists in ranks {[m.rank for m in matches]} of checkpoint step "
            f"{self.step} at {self.uri}; pass rank= to choose one"
        )

    def _location(self, rank: int) -> tuple[Store, str]:
        found = self._stores.get(rank)
        if found is None:
            store, key, _ = ops.resolve(self._store.uri_of(self._shards[rank].key))
            found = self._stores[rank] = (store, key)
        return found

    def _shard_uri(self, rank: int) -> str:
        return self._store.uri_of(self._shards[rank].key)

    @staticmethod
    def _expect(entry: EntryInfo, kind: str) -> None:
        if entry.kind != kind:
            raise TypeError(
                f"entry {entry.name!r} was saved with save_{entry.kind}(); load it with "
                f"load_{entry.kind}() (or load())"
            )

    # --- reading --------------------------------------------------------------------------------
    async def _fetch(self, rank: int, start: int, end: int, limit: asyncio.Semaphore, what: str) -> BytesView:
        """Bytes ``[start, end)`` of a shard, zero-copy, through the engine (length checked)."""
        store, key = self._location(rank)
        async with limit:
            try:
                return as_view(await transfer.read_range(store, key, start, end, zero_copy=True))
            except IntegrityError as exc:
                uri = self._shard_uri(rank)
                raise IntegrityError(
                    f"{what} in {uri} is truncated: expected {end - start} bytes at offset {start} ({exc})",
                    uri,
                ) from exc

    async def _fetch_into(
        self, entry: EntryInfo, offset: int, piece: np.ndarray[Any, Any], limit: asyncio.Semaphore
    ) -> None:
        store, key = self._location(entry.rank)
        async with limit:
            try:
                await transfer.read_range_into(store, key, offset, piece.data.cast("B"))
            except IntegrityError as exc:
                uri = self._shard_uri(entry.rank)
                raise IntegrityError(
                    f"entry {entry.name!r} in {uri} is truncated: expected {piece.nbytes} bytes at "
                    f"offset {offset} ({exc})",
                    uri,
                ) from exc

    def _verify(self, entry: EntryInfo, crc: int) -> None:
        if crc != entry.crc32c:
            uri = self._shard_uri(entry.rank)
            raise IntegrityError(
                f"checkpoint entry {entry.name!r} (rank {entry.rank}, step {self.step}) in {uri} "
                f"failed its checksum: expected {_crc.format_checksum(entry.crc32c)}, got "
                f"{_crc.format_checksum(crc)}; the stored data is corrupt",
                uri,
            )

    async def _read_into(
        self,
        entry: EntryInfo,
        target: np.ndarray[Any, Any] | None,
        limit: asyncio.Semaphore,
        keep: bool = True,
    ) -> BytesView | None:
        """Read ``entry`` into ``target`` (flat uint8), or as a zero-copy view, checking its CRC.

        The engine reads large entries as parallel ranges of one version straight into the
        memory; the checksum runs in a thread (google-crc32c releases the GIL), off the loop.
        With ``target`` None the data is returned (for bytes and objects), or with ``keep``
        False only checked.
        """
        if entry.size == 0:
            self._verify(entry, 0)
            return None if target is not None else BytesView(b"")
        if target is not None:
            await self._fetch_into(entry, entry.offset, target, limit)
            data: Any = target
        else:
            data = await self._fetch(
                entry.rank, entry.offset, entry.offset + entry.size, limit, f"entry {entry.name!r}"
            )
        crc = await asyncio.to_thread(_crc.value, data) if entry.size >= _OFF_LOOP else _crc.value(data)
        self._verify(entry, crc)
        if target is not None or not keep:
            return None
        return data  # type: ignore[no-any-return]

    def _new_array(self, entry: EntryInfo) -> np.ndarray[Any, Any]:
        assert entry.dtype is not None and entry.shape is not None
        out = np.empty(entry.shape, dtype=entry.dtype, order="F" if entry.order == "F" else "C")
        if out.nbytes != entry.size:
            uri = self._shard_uri(entry.rank)
            raise IntegrityError(
                f"checkpoint entry {entry.name!r} in {uri}: the manifest says {entry.size} bytes, but "
                f"shape {entry.shape} of {entry.dtype} needs {out.nbytes}",
                uri,
            )
        return out

    def _limit(self) -> asyncio.Semaphore:
        return asyncio.Semaphore(get_config().max_concurrency)

    async def _load_entry(self, entry: EntryInfo, limit: asyncio.Semaphore) -> Any:
        if entry.kind == "array":
            out = self._new_array(entry)
            await self._read_into(entry, _flat(out), limit)
            return out
        data = await self._read_into(entry, None, limit)
        assert data is not None
        if entry.kind == "object":
            # unpickling large objects is CPU work: keep it off the event loop
            if entry.size >= _OFF_LOOP:
                return await asyncio.to_thread(pickle.loads, data)
            return pickle.loads(data)
        return bytes(data)

    async def load_array_async(self, name: str, rank: int | None = None) -> np.ndarray[Any, Any]:
        """The array saved as ``name``, with its dtype, shape and memory order."""
        entry = self.entry(name, rank)
        self._expect(entry, "array")
        return await self._load_entry(entry, self._limit())  # type: ignore[no-any-return]

    async def load_bytes_async(self, name: str, rank: int | None = None) -> bytes:
        """The bytes saved as ``name``."""
        entry = self.entry(name, rank)
        self._expect(entry, "bytes")
        return await self._load_entry(entry, self._limit())  # type: ignore[no-any-return]

    async def load_object_async(self, name: str, rank: int | None = None) -> Any:
        """The object saved as ``name`` (unpickled: load only checkpoints you trust)."""
        entry = self.entry(name, rank)
        self._expect(entry, "object")
        return await self._load_entry(entry, self._limit())

    async def load_async(self, name: str, rank: int | None = None) -> Any:
        """Entry ``name`` as whatever it was saved as (array, bytes or object)."""
        return await self._load_entry(self.entry(name, rank), self._limit())

    def _single_rank(self, rank: int | None, action: str) -> int:
        rank = self._rank if rank is None else rank
        if rank is not None:
            self._check_rank(rank)
            return rank
        if len(self._shards) == 1:
            return next(iter(self._shards))
        raise ValueError(
            f"checkpoint step {self.step} at {self.uri} has {len(self._shards)} ranks: pass rank= "
            f"to {action}, or use load_ranks()"
        )

    async def load_all_async(self, rank: int | None = None) -> dict[str, Any]:
        """Every entry of one rank's shard: ``{name: array | bytes | object}`` in saving order."""
        self._check_open()
        rank = self._single_rank(rank, "load_all")
        return await self._load_many(list(self._entries[rank].values()), self._limit())

    async def load_ranks_async(self, ranks: Iterable[int] | None = None) -> dict[int, dict[str, Any]]:
        """``{rank: {name: value}}`` for the given ranks (all by default), loaded concurrently."""
        self._check_open()
        wanted = sorted(self._shards) if ranks is None else list(ranks)
        for rank in wanted:
            self._check_rank(rank)
        limit = self._limit()
        loaded = await transfer.run_concurrently(
            [self._load_many(list(self._entries[r].values()), limit) for r in wanted]
        )
        return dict(zip(wanted, loaded, strict=True))

    async def _load_many(self, entries: list[EntryInfo], limit: asyncio.Semaphore) -> dict[str, Any]:
        """Load entries; small neighbours share one ranged GET."""
        part = get_config().part_size
        results: dict[str, Any] = {}
        jobs = []
        batch: list[EntryInfo] = []

        def flush() -> None:
            if batch:
                jobs.append(self._load_batch(list(batch), limit, results))
                batch.clear()

        for entry in sorted(entries, key=lambda e: e.offset):
            if entry.size >= part // 2:
                jobs.append(self._load_into(entry, limit, results))
                continue
            if batch and (
                entry.offset != batch[-1].offset + batch[-1].size
                or entry.offset + entry.size - batch[0].offset > part
            ):
                flush()
            batch.append(entry)
        flush()
        await transfer.run_concurrently(jobs)
        return {entry.name: results[entry.name] for entry in entries}

    async def _load_into(self, entry: EntryInfo, limit: asyncio.Semaphore, out: dict[str, Any]) -> None:
        out[entry.name] = await self._load_entry(entry, limit)

    async def _load_batch(
        self, batch: list[EntryInfo], limit: asyncio.Semaphore, out: dict[str, Any]
    ) -> None:
        first, last = batch[0], batch[-1]
        start, end = first.offset, last.offset + last.size
        data: BytesView = BytesView(b"")
        if end > start:
            data = await self._fetch(first.rank, start, end, limit, f"entries {first.name!r}..")
        view = memoryview(data)
        for entry in batch:
            piece = view[entry.offset - start : entry.offset - start + entry.size]
            self._verify(entry, _crc.value(piece) if entry.size else 0)
            if entry.kind == "array":
                array = self._new_array(entry)
                flat = _flat(array)
                if flat is not None:
                    flat[:] = np.frombuffer(piece, dtype=np.uint8)
                out[entry.name] = array
            elif entry.kind == "bytes":
                out[entry.name] = bytes(piece)
            else:
                out[entry.name] = pickle.loads(piece)

    async def read_shard_async(self, rank: int | None = None) -> bytes:
        """The raw bytes of one rank's shard (for checkpoints written by the original s3dlio,
        whose shards are opaque), checked against the recorded size and checksum."""
        self._check_open()
        rank = self._single_rank(rank, "read_shard")
        shard = self._shards[rank]
        uri = self._shard_uri(rank)
        data = await ops.get_async(uri)
        if len(data) != shard.size:
            raise IntegrityError(f"shard {uri} has {len(data)} bytes; the manifest says {shard.size}", uri)
        if shard.crc32c is not None and await asyncio.to_thread(_crc.value, data) != shard.crc32c:
            raise IntegrityError(f"shard {uri} failed its checksum; the stored data is corrupt", uri)
        return data

    async def verify_async(self) -> int:
        """Read every entry of every shard and check all checksums and sizes; returns bytes read.

        Raises :class:`IntegrityError` naming the first entry or shard that does not match.
        """
        self._check_open()
        limit = self._limit()
        total = 0
        for shard in self.manifest.shards:
            uri = self._shard_uri(shard.rank)
            stat = await ops.stat_async(uri)
            if stat["size"] != shard.size:
                raise IntegrityError(
                    f"shard {uri} has {stat['size']} bytes; the manifest says {shard.size}", uri
                )
            if shard.legacy:
                await self.read_shard_async(shard.rank)
                total += shard.size
                continue
            entries = sorted(shard.entries, key=lambda e: e.offset)
            await transfer.run_concurrently([self._read_into(e, None, limit, keep=False) for e in entries])
            crc = offset = 0
            for entry in entries:
                if entry.offset != offset:
                    raise IntegrityError(f"shard {uri}: entries do not tile the shard", uri)
                crc = _crc.combine(crc, entry.crc32c, entry.size)
                offset += entry.size
            if offset != shard.size or (shard.crc32c is not None and crc != shard.crc32c):
                raise IntegrityError(f"shard {uri}: its checksum does not match its entries", uri)
            total += shard.size
        return total

    # --- blocking twins ---------------------------------------------------------------------
    def load_array(self, name: str, rank: int | None = None) -> np.ndarray[Any, Any]:
        """Blocking twin of :meth:`load_array_async`."""
        return run(self.load_array_async(name, rank))

    def load_bytes(self, name: str, rank: int | None = None) -> bytes:
        """Blocking twin of :meth:`load_bytes_async`."""
        return run(self.load_bytes_async(name, rank))

    def load_object(self, name: str, rank: int | None = None) -> Any:
        """Blocking twin of :meth:`load_object_async`."""
        return run(self.load_object_async(name, rank))

    def load(self, name: str, rank: int | None = None) -> Any:
        """Blocking twin of :meth:`load_async`."""
        return run(self.load_async(name, rank))

    def load_all(self, rank: int | None = None) -> dict[str, Any]:
        """Blocking twin of :meth:`load_all_async`."""
        return run(self.load_all_async(rank))

    def load_ranks(self, ranks: Iterable[int] | None = None) -> dict[int, dict[str, Any]]:
        """Blocking twin of :meth:`load_ranks_async`."""
        return run(self.load_ranks_async(ranks))

    def read_shard(self, rank: int | None = None) -> bytes:
        """Blocking twin of :meth:`read_shard_async`."""
        return run(self.read_shard_async(rank))

    def verify(self) -> int:
        """Blocking twin of :meth:`verify_async`."""
        return run(self.verify_async())

    # --- lifetime -------------------------------------------------------------------------------
    def close(self) -> None:
        """Release the reader; later loads raise ``ValueError``."""
        self._closed = True
        self._stores.clear()

    def __enter__(self) -> CheckpointReader:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def __aenter__(self) -> CheckpointReader:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
