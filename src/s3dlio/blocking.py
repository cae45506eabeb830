"""The blocking twins of the async operations, generated in one place.

Each runs its coroutine on s3dlio's background event loop (see :mod:`s3dlio._sync`), so it is safe
to call from plain scripts, threads, DataLoader workers and forked children.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, overload

from . import ops
from ._buffers import BytesView
from ._sync import run, sync_twin
from .results import ListEntry

if TYPE_CHECKING:
    from .datagen.put import put_async

__all__ = [
    "ObjectWriter",
    "create_bucket",
    "delete",
    "delete_bucket",
    "download",
    "exists",
    "get",
    "get_into",
    "get_many",
    "get_range",
    "iter_list",
    "list",
    "open_writer",
    "put",
    "put_bytes",
    "put_many",
    "stat",
    "upload",
]

if TYPE_CHECKING:  # the twins keep the overloads of their coroutines

    @overload
    def get(uri: str, *, zero_copy: Literal[False] = False) -> bytes: ...
    @overload
    def get(uri: str, *, zero_copy: Literal[True]) -> BytesView: ...
    def get(uri: str, *, zero_copy: bool = False) -> bytes | BytesView: ...
    @overload
    def get_range(
        uri: str, offset: int, length: int | None = None, *, zero_copy: Literal[False] = False
    ) -> bytes: ...
    @overload
    def get_range(
        uri: str, offset: int, length: int | None = None, *, zero_copy: Literal[True]
    ) -> BytesView: ...
    def get_range(
        uri: str, offset: int, length: int | None = None, *, zero_copy: bool = False
    ) -> bytes | BytesView: ...
else:
    get = sync_twin(ops.get_async, inline=ops.get_inline)
    get_range = sync_twin(ops.get_range_async)
get_into = sync_twin(ops.get_into_async)
get_many = sync_twin(ops.get_many_async)
stat = sync_twin(ops.stat_async, inline=ops.stat_inline)
exists = sync_twin(ops.exists_async, inline=ops.exists_inline)
list = sync_twin(ops.list_async)  # noqa: A001  (the guide's name)
put_bytes = sync_twin(ops.put_bytes_async, inline=ops.put_bytes_inline)
if TYPE_CHECKING:
    put = sync_twin(put_async)
put_many = sync_twin(ops.put_many_async)
delete = sync_twin(ops.delete_async)
create_bucket = sync_twin(ops.create_bucket_async)
delete_bucket = sync_twin(ops.delete_bucket_async)
upload = sync_twin(ops.upload_async)
download = sync_twin(ops.download_async)


def __getattr__(name: str) -> Any:
    """``put``: data generation's twin, built on first use (it imports NumPy)."""
    global put
    if name != "put":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from .datagen.put import put_async

    put = sync_twin(put_async)
    return put


def iter_list(uri: str, recursive: bool = True, batch_size: int = 1000) -> Iterator[ListEntry]:
    """Stream a listing in batches, for prefixes with millions of keys.

    Blocking twin of :func:`s3dlio.ops.iter_list_async`.
    """
    stream = ops.iter_list_async(uri, recursive)

    async def take() -> tuple[ListEntry, ...]:
        batch = []
        async for item in stream:
            batch.append(item)
            if len(batch) >= batch_size:
                break
        return tuple(batch)

    try:
        while batch := run(take()):
            yield from batch
    finally:
        run(_close(stream))


async def _close(stream: AsyncIterator[Any]) -> None:
    await stream.aclose()  # type: ignore[attr-defined]


class ObjectWriter:
    """Streams one object from blocking code: ``with open_writer(uri) as w: w.write(b)``.

    Nothing is visible until the block ends; an exception inside it aborts the upload and is
    re-raised. Errors while finishing are raised, never swallowed.
    """

    def __init__(self, uri: str) -> None:
        self._writer = ops.AsyncWriter(uri)
        run(self._writer.open())

    @property
    def uri(self) -> str:
        """The object being written."""
        return self._writer.uri

    @property
    def bytes_written(self) -> int:
        """Bytes accepted so far."""
        return self._writer.bytes_written

    def write(self, data: Any) -> int:
        """Append ``data`` (any bytes-like object)."""
        return run(self._writer.write(data))

    def close(self) -> None:
        """Finish the object and make it visible."""
        run(self._writer.close())

    def abort(self) -> None:
        """Discard everything written."""
        run(self._writer.abort())

    def __enter__(self) -> ObjectWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is None:
            self.close()
        else:
            self.abort()


def open_writer(uri: str) -> ObjectWriter:
    """A streaming writer for objects larger than memory (use with ``with``)."""
    return ObjectWriter(uri)
