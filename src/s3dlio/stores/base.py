"""The storage interface: a small abstract class of async primitives over one bucket.

Backends implement the primitives; generic algorithms (parallel ranged reads, batch deletes)
live here once. A store pickles to its bucket and configuration, so it can travel to DataLoader
workers, Ray or Dask tasks and rebuild its client there.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from ..config import Config
from ..errors import IntegrityError

__all__ = ["AsyncObjectWriter", "ObjectInfo", "Store"]


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """Metadata of one object (or, with ``is_prefix``, of a "directory" in a listing)."""

    key: str
    size: int
    etag: str | None = None
    last_modified: datetime | None = None
    content_type: str | None = None
    is_prefix: bool = False


class AsyncObjectWriter(ABC):
    """Streams one object; nothing is visible until :meth:`close`, and :meth:`abort` leaves nothing."""

    @abstractmethod
    async def write(self, data: Any) -> int:
        """Append ``data`` (any buffer); returns the number of bytes taken."""

    @abstractmethod
    async def close(self) -> None:
        """Finish the object and make it visible. Raises if the upload failed."""

    @abstractmethod
    async def abort(self) -> None:
        """Discard everything written; leaves no object and no partial upload behind."""


class Store(ABC):
    """Async primitives over one bucket (or, for local schemes, the whole filesystem)."""

    scheme: ClassVar[str]
    supports_buckets: ClassVar[bool] = False

    def __init__(self, bucket: str, config: Config) -> None:
        self.bucket = bucket
        self.config = config

    def __reduce__(self) -> tuple[type[Store], tuple[str, Config]]:
        return (type(self), (self.bucket, self.config))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.uri('')!r})"

    def uri(self, key: str) -> str:
        """The full URI of ``key``."""
        if self.scheme in ("file", "direct"):
            return f"{self.scheme}:///{key}"
        return f"{self.scheme}://{self.bucket}/{key}"

    # --- primitives every backend implements -----------------------------------------------
    @abstractmethod
    async def get(self, key: str) -> bytes:
        """The whole object."""

    @abstractmethod
    async def get_range(self, key: str, start: int, end: int) -> bytes:
        """Bytes ``[start, end)``; the caller guarantees ``0 <= start < end <= size``."""

    @abstractmethod
    async def head(self, key: str) -> ObjectInfo:
        """Metadata of the object; :class:`NotFoundError` if it does not exist."""

    @abstractmethod
    async def put(self, key: str, data: memoryview) -> None:
        """Store ``data`` atomically (multipart above the configured threshold)."""

    @abstractmethod
    def list_pages(self, prefix: str, recursive: bool = True) -> AsyncIterator[builtins.list[ObjectInfo]]:
        """Pages of the objects under the directory ``prefix`` ('' for all), in key order.

        When not recursive, the next level's sub-prefixes appear too (``is_prefix``).
        """

    async def list(self, prefix: str, recursive: bool = True) -> AsyncIterator[ObjectInfo]:
        """The objects of :meth:`list_pages`, one at a time."""
        async for page in self.list_pages(prefix, recursive):
            for info in page:
                yield info

    @abstractmethod
    async def delete(self, key: str) -> None:
        """Delete one object; :class:`NotFoundError` if it does not exist."""

    @abstractmethod
    async def open_writer(self, key: str) -> AsyncObjectWriter:
        """A streaming writer for objects larger than memory."""

    # --- optional primitives ---------------------------------------------------------------
    async def read_into(self, key: str, start: int, view: memoryview) -> None:
        """Fill ``view`` with the object's bytes from ``start`` (backends copy straight into it).

        Raises :class:`IntegrityError` when the object ends before ``view`` is full.
        """
        data = await self.get_range(key, start, start + view.nbytes)
        if len(data) != view.nbytes:
            uri = self.uri(key)
            raise IntegrityError(f"{uri} ended early: {len(data)} of {view.nbytes} bytes at {start}", uri)
        view[:] = data

    async def delete_many(self, keys: Sequence[str]) -> None:
        """Delete existing objects (missing ones are ignored); backends batch where they can."""
        semaphore = asyncio.Semaphore(32)

        async def one(key: str) -> None:
            async with semaphore:
                with contextlib.suppress(FileNotFoundError):
                    await self.delete(key)

        await asyncio.gather(*(one(k) for k in keys))

    async def create_bucket(self) -> None:
        """Create this store's bucket."""
        raise NotImplementedError(f"{self.scheme}:// has no buckets to create")

    async def delete_bucket(self) -> None:
        """Delete this store's (empty) bucket."""
        raise NotImplementedError(f"{self.scheme}:// has no buckets to delete")

    # --- generic algorithms ----------------------------------------------------------------
    batch_reads: ClassVar[int] = 1
    """How many whole-object reads :meth:`get_batch` serves per call (more where that is cheaper)."""

    async def get_batch(self, keys: Sequence[str]) -> builtins.list[bytes]:
        """Several whole objects, in order."""
        return [await self.get(key) for key in keys]

    async def get_ranges(
        self, key: str, ranges: Sequence[tuple[int, int]], concurrency: int
    ) -> builtins.list[bytes]:
        """Fetch several ``[start, end)`` ranges, ``concurrency`` at a time, in order."""
        semaphore = asyncio.Semaphore(concurrency)

        async def one(start: int, end: int) -> bytes:
            async with semaphore:
                return await self.get_range(key, start, end)

        return builtins.list(await asyncio.gather(*(one(s, e) for s, e in ranges)))


def split_ranges(start: int, end: int, part_size: int) -> list[tuple[int, int]]:
    """Cut ``[start, end)`` into consecutive parts of at most ``part_size`` bytes."""
    return [(offset, min(offset + part_size, end)) for offset in range(start, end, part_size)]
