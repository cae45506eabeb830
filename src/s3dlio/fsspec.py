"""An fsspec filesystem over s3dlio, registered under the protocol ``s3dlio``.

URLs name the backend as their first path segment, then the usual bucket and key::

    s3dlio://s3/bucket/key        -> s3://bucket/key
    s3dlio://az/container/key     -> az://container/key
    s3dlio://gs/bucket/key        -> gs://bucket/key
    s3dlio://file/tmp/data.bin    -> file:///tmp/data.bin
    s3dlio://direct/mnt/nvme/x    -> direct:///mnt/nvme/x

so one filesystem instance reaches every backend with s3dlio's configuration (environment or
:func:`s3dlio.configure`). Any fsspec user (pandas, pyarrow, zarr, xarray, Hugging Face
``datasets``) can then read and write through s3dlio: ``pandas.read_parquet("s3dlio://s3/b/t.parquet")``.
The class is found by fsspec through the ``fsspec.specs`` entry point, so no import is needed.

Object stores have no directories: a "directory" is a prefix that has objects under it, and
:meth:`S3dlioFileSystem.mkdir` creates nothing. Files are immutable objects: ``open(path, "wb")``
streams a new object that becomes visible only when the file is closed without an error (an
exception inside ``with fs.open(...)`` aborts the upload); append mode is not supported.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any

from fsspec.asyn import AsyncFileSystem
from fsspec.spec import AbstractBufferedFile

from . import ops
from ._sync import get_loop, run
from .errors import NotFoundError
from .stores.base import ObjectInfo, Store
from .uri import SCHEMES

__all__ = ["S3dlioFile", "S3dlioFileSystem"]

_LOCAL = ("file", "direct")


def _as_bytes(data: Any) -> bytes:
    return data if isinstance(data, bytes) else bytes(memoryview(data))


class S3dlioFileSystem(AsyncFileSystem):  # type: ignore[misc]  # fsspec ships no type hints
    """fsspec's async filesystem interface on top of s3dlio's stores (protocol ``s3dlio``).

    Blocking calls (``fs.cat(...)``) run on s3dlio's background event loop, which is rebuilt
    after ``fork``, so an instance works in DataLoader workers; with ``asynchronous=True`` the
    ``_cat``-style coroutines run on the caller's loop.
    """

    protocol = ("s3dlio",)
    root_marker = ""
    async_impl = True
    mirror_sync_methods = True

    def __init__(self, *args: Any, asynchronous: bool = False, **storage_options: Any) -> None:
        if storage_options:
            raise TypeError(
                f"S3dlioFileSystem takes no storage options (got {sorted(storage_options)}); "
                "configure s3dlio with environment variables or s3dlio.configure()"
            )
        super().__init__(*args, asynchronous=asynchronous, loop=None if asynchronous else get_loop())

    # -- the event loop: s3dlio's own, fork-safe ------------------------------------------
    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self.asynchronous:
            loop: asyncio.AbstractEventLoop | None = self._loop
            assert loop is not None, "an asynchronous S3dlioFileSystem is used on its own loop"
            return loop
        return get_loop()  # looked up on each call: a forked child gets its own

    @loop.setter
    def loop(self, value: asyncio.AbstractEventLoop | None) -> None:
        self._loop = value

    # -- paths ----------------------------------------------------------------------------
    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        path = str(path)
        if path.startswith("s3dlio://"):
            path = path[len("s3dlio://") :]
        return path.rstrip("/")

    @staticmethod
    def _get_kwargs_from_urls(path: str) -> dict[str, Any]:
        return {}

    def to_uri(self, path: str) -> str:
        """The s3dlio URI of an fsspec path: ``s3/bucket/key`` -> ``s3://bucket/key``."""
        path = self._strip_protocol(path)
        scheme, _, rest = path.partition("/")
        if scheme not in SCHEMES:
            raise ValueError(
                f"{path!r}: an s3dlio:// path starts with the backend, one of "
                f"{', '.join(SCHEMES)} (as in 's3dlio://s3/bucket/key' or 's3dlio://file/tmp/x')"
            )
        if scheme in _LOCAL:
            return f"{scheme}:///{rest}"
        if not rest:
            raise ValueError(f"{path!r} names no bucket (use 's3dlio://{scheme}/bucket/key')")
        return f"{scheme}://{rest}"

    def _resolve(self, path: str) -> tuple[Store, str, str]:
        """(store, key, fsspec path of the bucket root) for ``path``."""
        uri = self.to_uri(path)
        store, key, parsed = ops.resolve(uri)
        base = parsed.scheme if parsed.is_local else f"{parsed.scheme}/{parsed.bucket}"
        return store, key, base

    @staticmethod
    def _join(base: str, key: str) -> str:
        return f"{base}/{key.strip('/')}" if key.strip("/") else base

    def _entry(self, base: str, info: ObjectInfo) -> dict[str, Any]:
        if info.is_prefix:
            return {"name": self._join(base, info.key), "size": 0, "type": "directory"}
        return {
            "name": self._join(base, info.key),
            "size": info.size,
            "type": "file",
            "etag": info.etag,
            "LastModified": info.last_modified,
            "content_type": info.content_type,
        }

    async def _list(self, path: str, recursive: bool) -> AsyncIterator[dict[str, Any]]:
        store, key, base = self._resolve(path)
        async with contextlib.aclosing(store.list_pages(key.strip("/"), recursive)) as pages:
            async for page in pages:
                for info in page:
                    yield self._entry(base, info)

    async def _has_objects(self, path: str) -> bool:
        """Whether any object lies under the prefix ``path``.

        A recursive listing, stopped at its first page: some servers (SeaweedFS among them)
        keep reporting a prefix one level down after its last object was deleted.
        """
        async for _ in self._list(path, recursive=True):
            return True
        return False

    # -- metadata ---------------------------------------------------------------------------
    async def _info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        path = self._strip_protocol(path)
        store, key, base = self._resolve(path)
        if key.strip("/"):
            try:
                return self._entry(base, await store.head(key))
            except NotFoundError:
                pass
            except IsADirectoryError:
                return {"name": path, "size": 0, "type": "directory"}
        else:  # a bucket (or "/"): a directory if it can be listed
            async for _ in self._list(path, recursive=False):
                break
            return {"name": path, "size": 0, "type": "directory"}
        if await self._has_objects(path):
            return {"name": path, "size": 0, "type": "directory"}
        raise FileNotFoundError(f"no such object or prefix: {self.to_uri(path)}")

    async def _ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        path = self._strip_protocol(path)
        entries = [e async for e in self._list(path, recursive=False)]
        prefixes = [e for e in entries if e["type"] == "directory"]
        if prefixes:  # drop prefixes with nothing under them (left behind by some servers)
            alive = await asyncio.gather(*(self._has_objects(e["name"]) for e in prefixes))
            dead = {e["name"] for e, keep in zip(prefixes, alive, strict=True) if not keep}
            entries = [e for e in entries if e["name"] not in dead]
        if not entries:
            info = await self._info(path)  # FileNotFoundError when nothing is there
            entries = [info] if info["type"] == "file" else []
        return entries if detail else [e["name"] for e in entries]

    async def _find(
        self, path: str, maxdepth: int | None = None, withdirs: bool = False, **kwargs: Any
    ) -> Any:
        """Everything under ``path`` with one recursive listing (``maxdepth`` walks instead)."""
        if maxdepth is not None:
            return await super()._find(path, maxdepth=maxdepth, withdirs=withdirs, **kwargs)
        path = self._strip_protocol(path)
        detail = kwargs.get("detail", False)
        found: dict[str, dict[str, Any]] = {}
        async for entry in self._list(path, recursive=True):
            found[entry["name"]] = entry
            if withdirs:
                parent = entry["name"].rsplit("/", 1)[0]
                while len(parent) > len(path) and parent not in found:
                    found[parent] = {"name": parent, "size": 0, "type": "directory"}
                    parent = parent.rsplit("/", 1)[0]
        if not found:
            try:
                info = await self._info(path)
            except FileNotFoundError:
                info = None
            if info is not None and info["type"] == "file":
                found[path] = info
        elif withdirs:
            found.setdefault(path, {"name": path, "size": 0, "type": "directory"})
        names = sorted(found)
        return {n: found[n] for n in names} if detail else names

    async def _mkdir(self, path: str, create_parents: bool = True, **kwargs: Any) -> None:
        """Nothing to create: a prefix exists once an object is written under it."""
        self.to_uri(path)  # still reject a path that names no backend

    async def _makedirs(self, path: str, exist_ok: bool = False) -> None:
        await self._mkdir(path)

    # -- reads ------------------------------------------------------------------------------
    async def _cat_file(
        self, path: str, start: int | None = None, end: int | None = None, **kwargs: Any
    ) -> bytes:
        uri = self.to_uri(path)
        if start is None and end is None:
            return _as_bytes(await ops.get_async(uri))
        if (start is not None and start < 0) or (end is not None and end < 0):
            size = (await self._info(path))["size"]
            start = 0 if start is None else (max(0, size + start) if start < 0 else start)
            end = None if end is None else (max(0, size + end) if end < 0 else end)
        start = start or 0
        length = None if end is None else max(0, end - start)
        return _as_bytes(await ops.get_range_async(uri, start, length))

    async def _get_file(self, rpath: str, lpath: str, **kwargs: Any) -> None:
        if os.path.isdir(lpath):
            return
        data = await self._cat_file(rpath)
        await asyncio.to_thread(_write_local, lpath, data)

    # -- writes -----------------------------------------------------------------------------
    async def _pipe_file(self, path: str, value: Any, mode: str = "overwrite", **kwargs: Any) -> None:
        uri = self.to_uri(path)
        if mode == "create" and await ops.exists_async(uri):
            raise FileExistsError(f"{uri} already exists")
        await ops.put_bytes_async(uri, value)

    async def _put_file(self, lpath: str, rpath: str, mode: str = "overwrite", **kwargs: Any) -> None:
        if os.path.isdir(lpath):
            return  # directories are implied by the objects under them
        uri = self.to_uri(rpath)
        if mode == "create" and await ops.exists_async(uri):
            raise FileExistsError(f"{uri} already exists")
        async with ops.open_writer_async(uri) as writer:
            with open(lpath, "rb") as handle:
                while chunk := await asyncio.to_thread(handle.read, 8 << 20):
                    await writer.write(chunk)

    async def _cp_file(self, path1: str, path2: str, **kwargs: Any) -> None:
        await ops.put_bytes_async(self.to_uri(path2), await ops.get_async(self.to_uri(path1)))

    async def _rm_file(self, path: str, **kwargs: Any) -> None:
        await ops.delete_async(self.to_uri(path))

    async def _rm(
        self, path: Any, recursive: bool = False, batch_size: int | None = None, **kwargs: Any
    ) -> None:
        """Delete files; with ``recursive=True`` a directory is one recursive s3dlio delete."""
        files: list[str] = []
        for name in await self._expand_path(path, recursive=False):
            if recursive and await self._isdir(name):
                # refuses an empty prefix, so a bucket or the filesystem root is never emptied
                await ops.delete_async(self.to_uri(name), recursive=True)
            else:
                files.append(name)
        for start in range(0, len(files), batch_size or 64):
            await asyncio.gather(*(self._rm_file(p) for p in files[start : start + (batch_size or 64)]))

    # -- files ------------------------------------------------------------------------------
    def _open(
        self,
        path: str,
        mode: str = "rb",
        block_size: int | None = None,
        autocommit: bool = True,
        cache_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> S3dlioFile:
        if mode == "ab":
            raise NotImplementedError("objects are immutable: append mode ('ab') is not supported")
        if mode == "xb" and self.exists(path):
            raise FileExistsError(f"{self.to_uri(path)} already exists")
        return S3dlioFile(
            self, path, mode, block_size=block_size or "default", cache_options=cache_options, **kwargs
        )


def _write_local(lpath: str, data: bytes) -> None:
    parent = os.path.dirname(lpath)
    if parent:
        os.makedirs(parent, exist_ok=True)
    with open(lpath, "wb") as handle:
        handle.write(data)


class S3dlioFile(AbstractBufferedFile):  # type: ignore[misc]  # fsspec ships no type hints
    """A buffered file: random-access reads of byte ranges, streaming writes of one new object.

    A written object appears only when the file is closed; leaving a ``with`` block with an
    exception aborts the upload instead, so no partial object is ever left behind.
    """

    _writer: ops.AsyncWriter | None = None

    def _fetch_range(self, start: int, end: int) -> bytes:
        return _as_bytes(run(ops.get_range_async(self.fs.to_uri(self.path), start, max(0, end - start))))

    def _initiate_upload(self) -> None:
        writer = ops.open_writer_async(self.fs.to_uri(self.path))
        run(writer.open())
        self._writer = writer

    def _upload_chunk(self, final: bool = False) -> bool:
        if self._writer is None:  # a small file: its only chunk is also its last
            self._initiate_upload()
        assert self._writer is not None
        data = self.buffer.getbuffer()
        try:
            if data.nbytes:
                run(self._writer.write(bytes(data)))
            if final:
                run(self._writer.close())
                self._writer = None
        except BaseException:
            self.discard()
            raise
        finally:
            data.release()
        return True

    def discard(self) -> None:
        """Abort the upload: nothing becomes visible."""
        writer, self._writer = self._writer, None
        if writer is not None:
            run(writer.abort())

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is not None and self.writable():
            self.discard()
            self.closed = True
            return
        self.close()
