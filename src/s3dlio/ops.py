"""The core object operations, each written once as a coroutine.

Their blocking twins (``get``, ``put_bytes``, ``list``, ...) are generated in :mod:`s3dlio.blocking`
and share these signatures and semantics on every backend.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import mimetypes
import os
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, TypeVar, overload

from . import transfer
from ._buffers import BytesView, as_view, writable_view
from ._sync import NOT_INLINE, NotInline
from .errors import BucketNotFoundError, InvalidUriError, NotFoundError
from .results import ListEntry, ObjectStat, entries_of
from .stores import AsyncObjectWriter, LocalStore, Store, open_store
from .stores.base import ObjectInfo
from .stores.local import TEMP_MARKER
from .uri import ParsedUri, parse_uri

__all__ = [
    "AsyncWriter",
    "as_buffer",
    "check_max_in_flight",
    "create_bucket_async",
    "delete_async",
    "delete_bucket_async",
    "download_async",
    "exists_async",
    "get_async",
    "get_into_async",
    "get_many_async",
    "get_range_async",
    "iter_list_async",
    "list_async",
    "open_writer_async",
    "put_bytes_async",
    "put_many_async",
    "read_many_async",
    "resolve",
    "run_bounded",
    "stat_async",
    "upload_async",
]

T = TypeVar("T")
R = TypeVar("R")
PathLike = str | os.PathLike[str]


# --- argument checks ------------------------------------------------------------------------
def resolve(uri: object) -> tuple[Store, str, ParsedUri]:
    """Parse ``uri`` and find its store: ``(store, key, parsed)``."""
    parsed = parse_uri(uri)
    return open_store(parsed), parsed.key, parsed


def _require_key(uri: str, key: str) -> None:
    if not key or key.endswith("/"):
        raise InvalidUriError(f"{uri!r} names a bucket or directory, not an object", uri)


def check_max_in_flight(value: object, name: str = "max_in_flight") -> int:
    """Validate a concurrency limit: a positive integer."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be a positive integer, got {value!r}")
    if value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value}")
    return value


def _check_uris(uris: object) -> list[str]:
    if isinstance(uris, str | bytes) or not isinstance(uris, Iterable):
        raise TypeError(f"expected a list of URI strings, got {type(uris).__name__}")
    return [u for u in uris]


def as_buffer(data: object, uri: str) -> memoryview:
    """Any bytes-like object (bytes, bytearray, memoryview, numpy array) as a flat byte view."""
    if isinstance(data, str) or data is None:
        raise TypeError(
            f"data for {uri!r} must be bytes-like (bytes, bytearray, memoryview, numpy array), "
            f"got {type(data).__name__}"
        )
    try:
        view = memoryview(data)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(
            f"data for {uri!r} must support the buffer protocol (bytes, bytearray, memoryview, "
            f"numpy array), got {type(data).__name__}"
        ) from None
    if not view.c_contiguous:
        view = memoryview(view.tobytes())
    if view.ndim != 1 or view.format != "B":
        view = view.cast("B")
    return view


async def run_bounded(items: Sequence[T], worker: Callable[[T], Awaitable[R]], max_in_flight: int) -> list[R]:
    """Apply ``worker`` to every item with at most ``max_in_flight`` running; results in order.

    The first failure cancels the rest and is raised once every worker has finished.
    """
    return await transfer.run_all([functools.partial(worker, item) for item in items], max_in_flight)


# --- reads ----------------------------------------------------------------------------------
@overload
async def get_async(uri: str, *, zero_copy: Literal[False] = False) -> bytes: ...
@overload
async def get_async(uri: str, *, zero_copy: Literal[True]) -> BytesView: ...
async def get_async(uri: str, *, zero_copy: bool = False) -> bytes | BytesView:
    """Read a whole object as ``bytes`` (or, with ``zero_copy=True``, a :class:`BytesView`).

    Objects above ``range_get_threshold`` are read as parallel ranged GETs of one version.
    ``zero_copy=True`` skips the final copy into ``bytes``: the result is read-only memory that
    ``np.frombuffer``/``torch.frombuffer``/``memoryview`` use directly.
    """
    store, key, _ = resolve(uri)
    _require_key(uri, key)
    return await transfer.read_object(store, key, zero_copy=zero_copy)


def _local_store(uri: object, method: str) -> tuple[Store, str, ParsedUri] | None:
    """:func:`resolve` for a local URI whose store has the blocking ``method``, else None."""
    if not isinstance(uri, str) or not uri.startswith(("file://", "direct://")):
        return None
    store, key, parsed = resolve(uri)
    if getattr(store, method, None) is None:
        return None
    _require_key(uri, key)
    return store, key, parsed


def get_inline(uri: object, *, zero_copy: bool = False) -> bytes | BytesView | NotInline:
    """The blocking ``get`` of a small local file, read in the calling thread; ``NOT_INLINE``
    otherwise (then the call runs on the background loop as usual).

    Handing a blocking call to the loop and a local read to a pool thread costs four thread
    switches, more than reading a small file (docs/performance.md, ``bench_calls.py``).
    """
    local = _local_store(uri, "read_small_now")
    if local is None:
        return NOT_INLINE
    store, key, _ = local
    (data,) = store.read_small_now([key], store.config.range_get_threshold, zero_copy=zero_copy)  # type: ignore[attr-defined]
    return NOT_INLINE if data is None else transfer.as_result(data, zero_copy)


def put_bytes_inline(uri: object, data: Any) -> NotInline | None:
    """The blocking ``put_bytes`` of a local file, written in the calling thread; ``NOT_INLINE``
    for other schemes (see :func:`get_inline`)."""
    local = _local_store(uri, "put_now")
    if local is None:
        return NOT_INLINE
    store, key, _ = local
    store.put_now(key, as_buffer(data, str(uri)))  # type: ignore[attr-defined]
    return None


async def get_into_async(uri: str, buffer: Any) -> int:
    """Read a whole object straight into ``buffer`` (any writable buffer); returns its size.

    ``buffer`` may be a ``bytearray``, numpy array, ``mmap``, memoryview or pinned host memory;
    large objects are read as parallel ranges directly into it. A buffer smaller than the object
    raises :class:`ValueError` before anything is written; a larger one is filled from the start.
    """
    view = writable_view(buffer, f"get_into({uri!r})")
    store, key, _ = resolve(uri)
    _require_key(uri, key)
    return await transfer.read_object_into(store, key, view)


def _check_span(uri: str, offset: object, length: object) -> None:
    for name, value in (("offset", offset), ("length", length)):
        if value is None and name == "length":
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an integer, got {value!r}")
        if value < 0:
            raise ValueError(f"{name} must be >= 0, got {value} (reading {uri!r})")


@overload
async def get_range_async(
    uri: str, offset: int, length: int | None = None, *, zero_copy: Literal[False] = False
) -> bytes: ...
@overload
async def get_range_async(
    uri: str, offset: int, length: int | None = None, *, zero_copy: Literal[True]
) -> BytesView: ...
async def get_range_async(
    uri: str, offset: int, length: int | None = None, *, zero_copy: bool = False
) -> bytes | BytesView:
    """Read ``length`` bytes from ``offset`` (to the end when ``length`` is None).

    Like slicing ``data[offset:offset + length]``: a range past the end is clipped, and an
    offset at or beyond the end gives ``b""``. A missing object raises :class:`NotFoundError`;
    a body shorter than the (clipped) range raises :class:`IntegrityError`.
    """
    _check_span(uri, offset, length)
    store, key, _ = resolve(uri)
    _require_key(uri, key)
    info = await store.head(key)
    end = info.size if length is None else min(info.size, offset + length)
    if offset >= end:
        return BytesView(b"") if zero_copy else b""
    return await transfer.read_range(store, key, offset, end, zero_copy=zero_copy, etag=info.etag)


async def get_many_async(uris: Iterable[str], max_in_flight: int = 64) -> list[tuple[str, BytesView]]:
    """Read many objects concurrently: ``(uri, data)`` pairs in the order of ``uris``.

    ``data`` is a zero-copy :class:`BytesView` (``bytes(data)`` copies it), as in the original
    s3dlio: ``for uri, data in get_many(uris): ...``.
    """
    uris = _check_uris(uris)
    found = await read_many_async(uris, max_in_flight, zero_copy=True)
    return [(uri, as_view(data)) for uri, data in zip(uris, found, strict=True)]


async def read_many_async(
    uris: Sequence[str], max_in_flight: int = 64, *, zero_copy: bool = False
) -> list[bytes | BytesView]:
    """The data of many objects in order (``bytes``, or views with ``zero_copy``); internal."""
    check_max_in_flight(max_in_flight)
    items: list[tuple[Store, str]] = []
    for uri in uris:
        store, key, _ = resolve(uri)
        _require_key(uri, key)
        items.append((store, key))
    return await transfer.read_many(items, max_in_flight, zero_copy=zero_copy)


async def stat_async(uri: str) -> ObjectStat:
    """Metadata of one object: an :class:`~s3dlio.results.ObjectStat` dict.

    Its keys: ``key, uri, size, etag, last_modified, content_type``.
    """
    store, key, parsed = resolve(uri)
    _require_key(uri, key)
    return _object_stat(await store.head(key), parsed)


def _object_stat(info: ObjectInfo, parsed: ParsedUri) -> ObjectStat:
    content_type = info.content_type
    if content_type is None and parsed.is_local:
        content_type = mimetypes.guess_type(info.key)[0]
    return ObjectStat(
        key=info.key,
        uri=parsed.root + info.key,
        size=info.size,
        etag=info.etag,
        last_modified=info.last_modified,
        content_type=content_type,
    )


def stat_inline(uri: object) -> ObjectStat | NotInline:
    """The blocking ``stat`` of a local file, in the calling thread (see :func:`get_inline`)."""
    local = _local_store(uri, "head_now")
    if local is None:
        return NOT_INLINE
    store, key, parsed = local
    return _object_stat(store.head_now(key), parsed)  # type: ignore[attr-defined]


async def exists_async(uri: str) -> bool:
    """True if the object exists; False only when it is missing (other errors raise)."""
    store, key, _ = resolve(uri)
    _require_key(uri, key)
    try:
        await store.head(key)
    except BucketNotFoundError:
        raise
    except NotFoundError:
        return False
    return True


def exists_inline(uri: object) -> bool | NotInline:
    """The blocking ``exists`` of a local file, in the calling thread (see :func:`get_inline`)."""
    local = _local_store(uri, "head_now")
    if local is None:
        return NOT_INLINE
    store, key, _ = local
    try:
        store.head_now(key)  # type: ignore[attr-defined]
    except NotFoundError:
        return False
    return True


async def iter_list_async(uri: str, recursive: bool = True) -> AsyncGenerator[ListEntry, None]:
    """Stream the objects under the prefix ``uri`` (a directory: ``data`` means ``data/``).

    Each entry is a :class:`~s3dlio.results.ListEntry`: the full URI as a ``str`` that also
    answers ``entry['key']``, ``entry['size']``, ``entry['etag']``, ``entry['last_modified']``,
    ``entry['is_prefix']`` and ``entry['uri']``. With ``recursive=False`` only the next level is
    listed, and its sub-prefixes appear as entries with ``is_prefix=True`` and a key ending in ``/``.
    """
    store, key, parsed = resolve(uri)
    async with contextlib.aclosing(store.list_pages(key, recursive)) as pages:  # closed on a break
        async for page in pages:
            for item in entries_of(page, parsed.root):
                yield item


async def list_async(uri: str, recursive: bool = True) -> list[ListEntry]:
    """All objects under the prefix ``uri``, sorted by key; see :func:`iter_list_async`."""
    store, key, parsed = resolve(uri)
    found: list[ListEntry] = []
    async for page in store.list_pages(key, recursive):
        found += entries_of(page, parsed.root)
    return found


# --- writes ---------------------------------------------------------------------------------
async def put_bytes_async(uri: str, data: Any) -> None:
    """Write ``data`` (any bytes-like object) as one object, atomically.

    Above ``multipart_threshold`` it uses a multipart (S3, GCS) or block (Azure) upload, which is
    aborted on failure so that no partial object or orphaned part remains.
    """
    store, key, _ = resolve(uri)
    _require_key(uri, key)
    await store.put(key, as_buffer(data, uri))


async def put_many_async(items: Iterable[tuple[str, Any]], max_in_flight: int = 64) -> None:
    """Write many ``(uri, data)`` pairs concurrently."""
    check_max_in_flight(max_in_flight)
    if isinstance(items, str | bytes) or not isinstance(items, Iterable):
        raise TypeError(f"items must be a list of (uri, data) pairs, got {type(items).__name__}")
    jobs = []
    for item in items:
        if not isinstance(item, tuple | list) or len(item) != 2:
            raise TypeError(f"each item must be a (uri, data) pair, got {item!r:.80}")
        uri, data = item
        store, key, _ = resolve(uri)
        _require_key(uri, key)
        jobs.append((store, key, as_buffer(data, uri)))
    await transfer.write_many(jobs, max_in_flight)


class AsyncWriter:
    """Streams one object: ``async with open_writer_async(uri) as w: await w.write(b)``.

    Nothing is visible until the block ends; an exception inside it aborts the upload (no object,
    no orphaned parts) and is re-raised. A failure to finish is raised, never swallowed.
    """

    def __init__(self, uri: str) -> None:
        store, key, _ = resolve(uri)
        _require_key(uri, key)
        self.uri = uri
        self.bytes_written = 0
        self._store, self._key = store, key
        self._writer: AsyncObjectWriter | None = None
        self._aborted = False

    async def open(self) -> AsyncWriter:
        """Start the upload (done for you by ``async with`` or ``await``)."""
        if self._aborted:
            raise ValueError(f"the writer for {self.uri} was aborted; open a new one")
        if self._writer is None:
            self._writer = await self._store.open_writer(self._key)
        return self

    def __await__(self) -> Any:
        return self.open().__await__()

    async def write(self, data: Any) -> int:
        """Append ``data`` (any bytes-like object)."""
        await self.open()
        assert self._writer is not None
        count = await self._writer.write(as_buffer(data, self.uri))
        self.bytes_written += count
        return count

    async def close(self) -> None:
        """Finish the object and make it visible."""
        await self.open()
        assert self._writer is not None
        await self._writer.close()

    async def abort(self) -> None:
        """Discard everything written (a later ``close()`` raises)."""
        if self._writer is None:
            self._aborted = True
        if self._writer is not None:
            await self._writer.abort()

    async def __aenter__(self) -> AsyncWriter:
        return await self.open()

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is None:
            await self.close()
        else:
            await self.abort()


def open_writer_async(uri: str) -> AsyncWriter:
    """A streaming writer for objects larger than memory (use with ``async with``)."""
    return AsyncWriter(uri)


# --- deletes and buckets ----------------------------------------------------------------------
async def delete_async(uri: str, recursive: bool = False, *, allow_root: bool = False) -> int:
    """Delete one object, or with ``recursive=True`` every object under a prefix.

    Returns the number of objects deleted. Deleting a missing object raises
    :class:`NotFoundError`. A recursive delete needs a non-empty prefix, so it never empties a
    whole bucket by accident: pass ``allow_root=True`` to empty a bucket or container on purpose.
    A local filesystem root (``file:///``, also reached as ``file:///.``) is always refused.
    Recursive deletes are batched.
    """
    store, key, parsed = resolve(uri)
    if not recursive:
        _require_key(uri, key)
        await store.delete(key)
        return 1
    if not key.strip("/"):
        if parsed.is_local:
            raise ValueError(
                f"refusing a recursive delete of {uri!r}: the prefix is empty, which names the "
                "whole filesystem; name a directory inside it"
            )
        if not allow_root:
            raise ValueError(
                f"refusing a recursive delete of {uri!r}: the prefix is empty, which names the "
                "whole bucket; name a prefix inside it, or pass allow_root=True to empty the bucket"
            )
    deleted = 0
    batch: list[str] = []
    async for info in store.list(key, True):
        batch.append(info.key)
        if len(batch) >= 1000:
            await store.delete_many(batch)
            deleted += len(batch)
            batch = []
    if batch:
        await store.delete_many(batch)
        deleted += len(batch)
    if parsed.is_local:
        await asyncio.to_thread(_remove_empty_dirs, LocalStore.path(key))
    return deleted


def _remove_empty_dirs(root: str) -> None:
    for directory, _, _ in sorted(os.walk(root, topdown=False), key=lambda w: -len(w[0])):
        with contextlib.suppress(OSError):
            os.rmdir(directory)


async def create_bucket_async(uri: str) -> None:
    """Create the bucket (or container) named by ``uri``; for local URIs, the directory."""
    store, key, parsed = resolve(uri)
    if parsed.is_local:
        await asyncio.to_thread(os.makedirs, LocalStore.path(key), exist_ok=True)
        return
    await store.create_bucket()


async def delete_bucket_async(uri: str) -> None:
    """Delete the (empty) bucket or container named by ``uri``; for local URIs, the directory."""
    store, key, parsed = resolve(uri)
    if parsed.is_local:
        try:
            await asyncio.to_thread(os.rmdir, LocalStore.path(key))
        except FileNotFoundError:
            raise NotFoundError(f"cannot delete {uri}: no such directory", uri) from None
        return
    await store.delete_bucket()


# --- directories ------------------------------------------------------------------------------
def _local_files(paths_or_dir: PathLike | Sequence[PathLike]) -> list[tuple[Path, str]]:
    """``(file, relative name)`` pairs; a directory contributes every file below it."""
    sources = [paths_or_dir] if isinstance(paths_or_dir, str | os.PathLike) else list(paths_or_dir)
    found: list[tuple[Path, str]] = []
    for source in sources:
        path = Path(source)
        if path.is_dir():
            for file in sorted(p for p in path.rglob("*") if p.is_file()):
                if TEMP_MARKER not in file.name:
                    found.append((file, file.relative_to(path).as_posix()))
        elif path.is_file():
            found.append((path, path.name))
        else:
            raise NotFoundError(f"cannot upload {str(path)!r}: no such file or directory", str(path))
    return found


async def _copy(source: str, destination: str) -> None:
    """Copy one object between any two URIs (the engine streams large ones in parallel parts)."""
    src_store, src_key, _ = resolve(source)
    dst_store, dst_key, _ = resolve(destination)
    _require_key(destination, dst_key)
    await transfer.copy_object(src_store, src_key, dst_store, dst_key)


async def upload_async(
    paths_or_dir: PathLike | Sequence[PathLike], dest_prefix: str, max_in_flight: int = 16
) -> list[str]:
    """Upload files, or a directory tree (keeping sub-directories), under ``dest_prefix``.

    Returns the URIs written, in order.
    """
    check_max_in_flight(max_in_flight)
    parse_uri(dest_prefix)
    files = await asyncio.to_thread(_local_files, paths_or_dir)
    base = dest_prefix.rstrip("/") + "/"
    pairs = [(f"file://{file.resolve()}", base + name) for file, name in files]
    await run_bounded(pairs, lambda pair: _copy(*pair), max_in_flight)
    return [dest for _, dest in pairs]


def download_target(root: Path, relative: str, uri: str) -> Path:
    """The local file for an object named ``relative`` below the download root ``root``.

    Object keys are untrusted input: an absolute, empty, ``.``/``..``-laden or NUL-holding name,
    or one that would resolve (through symbolic links too) outside ``root``, is refused.
    """
    segments = [segment for segment in relative.split("/") if segment]
    if relative.startswith("/") or "\x00" in relative or not segments or {".", ".."} & set(segments):
        raise InvalidUriError(
            f"object {uri!r} cannot be saved safely: its name {relative!r} would land outside {str(root)!r}",
            uri,
        )
    target = root.joinpath(*segments)
    if root.resolve() not in target.resolve().parents:
        raise InvalidUriError(f"object {uri!r} would be written outside {str(root)!r}", uri)
    return target


async def download_async(src_prefix: str, local_dir: PathLike, max_in_flight: int = 16) -> list[str]:
    """Download every object under ``src_prefix`` into ``local_dir``, keeping sub-directories.

    Returns the local paths written, in listing order.
    """
    check_max_in_flight(max_in_flight)
    store, key, parsed = resolve(src_prefix)
    root = Path(local_dir).resolve()
    prefix = key.strip("/")
    pairs: list[tuple[str, str]] = []
    async for info in store.list(prefix, True):
        relative = info.key[len(prefix) :].lstrip("/") if prefix else info.key
        target = download_target(root, relative, parsed.with_key(info.key))
        pairs.append((parsed.with_key(info.key), str(target)))
    await run_bounded(pairs, lambda pair: _copy(pair[0], f"file://{pair[1]}"), max_in_flight)
    return [path for _, path in pairs]
