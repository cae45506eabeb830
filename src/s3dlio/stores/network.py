"""S3, Azure Blob and Google Cloud Storage, all on obstore (the Rust ``object_store`` crate).

Timeouts: a connect timeout, and a *stall* timeout (``read_timeout``: no byte received for that
long) instead of a total-request timeout, so a slow but moving transfer of a large object is never
killed. Transient errors (5xx, 429, connection resets, timeouts) are retried by object_store with
jittered exponential backoff starting at 0.5 s, so a server answering 503 SlowDown really gets
slower traffic; 401/403 are not retried and surface at once as :class:`AccessDeniedError`.

Errors are mapped by obstore's exception type and the HTTP status and service error code it
records (:func:`error_details`), never by matching words in the message: a key containing
"timeout" or "NoSuchBucket" cannot change which error you get.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import gc
import json
import os
import random
import re
import threading
import time
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar

from .._native import native
from ..errors import (
    AccessDeniedError,
    AlreadyExistsError,
    BucketNotFoundError,
    IntegrityError,
    NotFoundError,
    S3dlioError,
    StorageError,
    StorageTimeoutError,
)
from . import _admin
from .base import AsyncObjectWriter, ObjectChangedError, ObjectInfo, ReadHandle, Store, short_read

__all__ = ["AzureStore", "GCSStore", "NetworkStore", "S3Store", "translate_error"]

_NO_TOTAL_TIMEOUT = timedelta(days=1)
# object_store waits a random time in [init, previous wait * base] before each retry (decorrelated
# jitter), capped at max. A 100 ms start let 10 retries of a 503 SlowDown fire within 1.5-5 s; with
# these, every wait is >= 0.5 s, waits grow about 2x per retry, and 10 retries spread over ~1-2 min
# (still bounded by ``retry_timeout``).
_INIT_BACKOFF = timedelta(milliseconds=500)
_MAX_BACKOFF = timedelta(seconds=20)
_BACKOFF_BASE = 3
_CHUNK = 4 << 20  # larger chunks: fewer awaits; measured best on 256 MiB objects
_BUCKET_MISSING_CODES = frozenset({"NoSuchBucket", "ContainerNotFound"})
_THROTTLED = frozenset({429, 503})
_RANGE_NOT_SATISFIABLE = 416

# obstore renders every error as its message, then "Debug source:" and Rust's pretty ``{:#?}`` of
# the error value: one field per line. Keys, URLs and server bodies appear there only as values
# (quoted strings escape newlines; URLs contain no spaces), so a pattern anchored to a whole line
# reads a *field*, which no key or body text can forge.
_DEBUG_MARK = "\n\nDebug source:\n"
_STATUS_FIELD = re.compile(r"^\s*status: (\d{3}),$", re.MULTILINE)
_HTTP_KIND_FIELD = re.compile(r"HttpError \{\n\s*kind: (\w+),$", re.MULTILINE)
_BODY_FIELD = re.compile(r'^\s*body: Some\(\n\s*"((?:[^"\\]|\\.)*)",$', re.MULTILINE)
_RETRIES_FIELD = re.compile(r"^\s*retries: (\d+),$", re.MULTILINE)
_BARE_SOURCE_FIELD = re.compile(r"^\s*source: (\w+),$", re.MULTILINE)
_XML_CODE = re.compile(r"<Code>([A-Za-z0-9.]+)</Code>")


@dataclass(frozen=True)
class ErrorDetails:
    """What an obstore error says in its structured fields (never read from its free text)."""

    kinds: frozenset[str]
    """Names of obstore's exception classes in the error's type hierarchy."""
    status: int | None
    """The HTTP status of the last answer, if the server answered."""
    code: str | None
    """The service's error code (``<Code>`` of an S3/Azure/GCS XML error body), if any."""
    http_kind: str | None
    """object_store's transport error kind (``Timeout``, ``Connect``, ``Interrupted``, ...)."""
    retries: int | None
    """How often object_store retried the request; None when it failed outside its retry loop
    (e.g. while reading an answer's body)."""
    causes: frozenset[str] = frozenset()
    """object_store's cause variants that carry no fields (``NotPartial``: a 200 to a range)."""


def error_details(exc: BaseException) -> ErrorDetails:
    """Read an obstore exception's type, HTTP status, service error code and transport kind."""
    kinds = frozenset(
        cls.__name__ for cls in type(exc).__mro__ if cls.__module__.startswith(("obstore", "pyo3_object"))
    )
    debug = str(exc).partition(_DEBUG_MARK)[2]
    statuses = _STATUS_FIELD.findall(debug)
    http_kinds = _HTTP_KIND_FIELD.findall(debug)
    retries = _RETRIES_FIELD.findall(debug)
    code = None
    for body in _BODY_FIELD.findall(debug):
        try:
            text = json.loads(f'"{body}"')  # Rust's Debug escapes are JSON-compatible here
        except ValueError:
            text = body
        found = _XML_CODE.search(text)
        if found:
            code = found.group(1)
    return ErrorDetails(
        kinds=kinds,
        status=int(statuses[-1]) if statuses else None,
        code=code,
        http_kind=http_kinds[-1] if http_kinds else None,
        retries=int(retries[-1]) if retries else None,
        causes=frozenset(_BARE_SOURCE_FIELD.findall(debug)),
    )


def translate_error(exc: BaseException, uri: str, action: str) -> BaseException:
    """Map an obstore exception to our tree by its type and HTTP status (see :func:`error_details`).

    The message keeps the first line of obstore's text for humans; nothing is decided from it.
    """
    if isinstance(exc, S3dlioError | asyncio.CancelledError):
        return exc
    summary = str(exc).split("\n", 1)[0][:400]
    details = error_details(exc)
    status, code = details.status, details.code
    if code in _BUCKET_MISSING_CODES:
        return BucketNotFoundError(f"cannot {action} {uri}: the bucket/container does not exist", uri)
    if isinstance(exc, FileNotFoundError) or "NotFoundError" in details.kinds or status == 404:
        return NotFoundError(f"cannot {action} {uri}: no such object", uri)
    if details.kinds & {"PermissionDeniedError", "UnauthenticatedError"} or status in (401, 403):
        return AccessDeniedError(
            f"cannot {action} {uri}: access denied (check credentials and permissions): {summary}", uri
        )
    if "AlreadyExistsError" in details.kinds:
        return AlreadyExistsError(f"cannot {action} {uri}: it already exists", uri)
    if status is not None:
        reason = f"HTTP {status}" + (f" {code}" if code else "")
        retried = " after retries" if status in _THROTTLED or status >= 500 else ""
        return StorageError(f"cannot {action} {uri}: the service answered {reason}{retried}: {summary}", uri)
    if details.http_kind == "Timeout":
        return StorageTimeoutError(f"cannot {action} {uri}: timed out: {summary}", uri)
    return StorageError(f"cannot {action} {uri}: {summary}", uri)


class _Quiesce:
    """Counts native (obstore) calls in flight, for a clean interpreter exit.

    obstore's Tokio threads finish a call (resolve its future, then drop what they hold of
    Python: buffers, results) on their own schedule. If that happens while the interpreter
    finalizes, the thread cannot take the GIL and the process aborts (exit 134). So at exit
    (``atexit``), :func:`quiesce` stops new calls, waits for the calls in flight, and then for a
    short grace period after the last one ended, all bounded; buffers passed to obstore stay
    referenced by their callers' frames until then.
    """

    lock = threading.Lock()
    in_flight = 0
    last_end = 0.0
    closing = False

    def __enter__(self) -> None:
        with self.lock:
            if _Quiesce.closing:
                raise StorageError("s3dlio is shutting down (interpreter exit): no new requests", "")
            _Quiesce.in_flight += 1

    def __exit__(self, *exc: object) -> None:
        with self.lock:
            _Quiesce.in_flight -= 1
            _Quiesce.last_end = time.monotonic()


_native_call = _Quiesce()
_GRACE = 0.15  # seconds after the last native call ended (Tokio drops its Python refs by then)
_BOUND = 5.0  # never hold up an exit longer than this


def quiesce(grace: float = _GRACE, bound: float = _BOUND) -> None:
    """Stop new native calls and let the ones in flight finish (bounded); runs from ``atexit``."""
    with _Quiesce.lock:
        _Quiesce.closing = True
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        with _Quiesce.lock:
            busy = _Quiesce.in_flight > 0
            idle_for = time.monotonic() - _Quiesce.last_end
        if not busy and idle_for >= grace:
            break
        time.sleep(0.01)
    gc.collect()  # drop unreachable obstore results and streams while Python is fully alive


atexit.register(quiesce)


async def _finish_quietly(future: asyncio.Future[Any]) -> None:
    """Wait until ``future`` is done and drop its outcome.

    Not cancelled: cancelling obstore's future would not stop its request, which would then end
    after the call returned (and possibly while the interpreter exits).
    """
    if not future.done():
        await asyncio.wait([future])  # raises only if the caller itself is cancelled again
    if not future.cancelled():
        future.exception()  # retrieved: asyncio does not log it as lost


def _info(meta: Any) -> ObjectInfo:
    return ObjectInfo(meta["path"], int(meta["size"]), meta.get("e_tag"), meta.get("last_modified"))


class NetworkStore(Store):
    """Common code of the obstore-backed stores; subclasses only build the native store."""

    supports_buckets: ClassVar[bool] = True

    def __init__(self, bucket: str, config: Any) -> None:
        super().__init__(bucket, config)
        self._native_store: Any = None
        self._native_pid = -1

    def _client_options(self, endpoint: str | None) -> dict[str, Any]:
        options: dict[str, Any] = {
            "connect_timeout": timedelta(seconds=self.config.connect_timeout),
            "read_timeout": timedelta(seconds=self.config.stall_timeout),
            "timeout": _NO_TOTAL_TIMEOUT,
            "pool_idle_timeout": timedelta(seconds=60),
        }
        if endpoint and endpoint.startswith("http://"):
            options["allow_http"] = True
        return options

    def _retry_config(self) -> dict[str, Any]:
        return {
            "max_retries": self.config.max_retries,
            "retry_timeout": timedelta(seconds=self.config.retry_timeout),
            "backoff": {
                "init_backoff": _INIT_BACKOFF,
                "max_backoff": _MAX_BACKOFF,
                "base": _BACKOFF_BASE,
            },
        }

    def _build(self, stores: Any) -> Any:
        raise NotImplementedError

    @property
    def native_store(self) -> Any:
        """The obstore store object for this process (rebuilt after ``fork``)."""
        if self._native_pid != os.getpid():
            self._native_store = self._build(native()._store)
            self._native_pid = os.getpid()
        return self._native_store

    async def _call(self, action: str, key: str, function: str, *args: Any, **kwargs: Any) -> Any:
        try:
            with _native_call:
                return await getattr(native(), function)(self.native_store, *args, **kwargs)
        except Exception as exc:
            raise await self._translate(exc, key, action) from exc

    async def _translate(self, exc: Exception, key: str, action: str) -> BaseException:
        error = translate_error(exc, self.uri(key), action)
        if type(error) is NotFoundError:
            error = await self._bucket_missing(key, action) or error
        return error

    async def _bucket_missing(self, key: str, action: str) -> BucketNotFoundError | None:
        """After a 404: the BucketNotFoundError if the *bucket* is missing, else None.

        A HEAD answer has no body, so its 404 cannot say whether the key or the bucket is
        missing; a one-level listing of the key's prefix (one request, only on this error path)
        can. Any other failure of that probe leaves the original NotFoundError standing.
        """
        try:
            await native().list_with_delimiter_async(self.native_store, key or None)
        except Exception as exc:
            probe = translate_error(exc, self.uri(key), action)
            if isinstance(probe, BucketNotFoundError):
                return probe
        return None

    # --- reads (primitives; the engine in s3dlio.transfer plans and runs them) ----------------
    async def open_read(self, key: str) -> ReadHandle:
        result = await self._call("get", key, "get_async", key)
        meta = result.meta
        return _NetworkHandle(self, key, result, int(meta["size"]), meta.get("e_tag"))

    async def _drain(self, key: str, result: Any, view: memoryview, stop_early: bool = False) -> None:
        """Copy a response body into ``view`` as it arrives; its length must match exactly."""
        position, end = 0, view.nbytes
        try:
            with _native_call:
                async for chunk in result.stream(min_chunk_size=_CHUNK):
                    count = len(chunk)
                    if position + count > end:
                        if not stop_early:
                            uri = self.uri(key)
                            raise IntegrityError(f"{uri}: the server sent over {end} bytes", uri)
                        count = end - position
                    view[position : position + count] = memoryview(chunk)[:count]
                    position += count
                    if position >= end and stop_early:
                        return  # drop the rest of the stream (the connection is closed)
        except Exception as exc:
            raise translate_error(exc, self.uri(key), "get") from exc
        if position != end:
            raise short_read(self.uri(key), position, end, 0)

    async def read_into(self, key: str, start: int, view: memoryview, etag: str | None = None) -> None:
        options: dict[str, Any] = {"range": (start, start + view.nbytes)}
        if etag is not None:
            options["if_match"] = etag
        try:
            with _native_call:
                result = await native().get_async(self.native_store, key, options=options)
        except Exception as exc:
            if etag is not None and type(exc).__name__ == "PreconditionError":
                uri = self.uri(key)
                raise ObjectChangedError(f"{uri} was replaced during the read (ETag {etag})", uri) from exc
            raise translate_error(exc, self.uri(key), "get") from exc
        await self._drain(key, result, view)

    async def read_head(self, key: str, end: int) -> Any:
        """The object's first ``end`` bytes in one request (all of it when it is shorter), or
        None when the server does not answer ranges.

        One request reads one version, and a whole small object costs one native future instead
        of two (headers, then body). An empty object answers any range with 416: ``b""``.
        """
        try:
            with _native_call:
                return await native().get_range_async(self.native_store, key, start=0, end=end)
        except Exception as exc:
            details = error_details(exc)
            if details.status == _RANGE_NOT_SATISFIABLE:
                return b""
            if "NotSupportedError" in details.kinds or "NotPartial" in details.causes:
                return None  # the server answered the range with the whole object (a 200)
            raise await self._translate(exc, key, "get") from exc

    async def get_range(self, key: str, start: int, end: int) -> Any:
        return await self._call("get", key, "get_range_async", key, start=start, end=end)

    async def head(self, key: str) -> ObjectInfo:
        return _info(await self._call("stat", key, "head_async", key))

    async def put(self, key: str, data: memoryview) -> None:
        await self._call(
            "put",
            key,
            "put_async",
            key,
            data,
            use_multipart=data.nbytes > self.config.multipart_threshold,
            chunk_size=self.config.part_size,
            max_concurrency=self.config.max_concurrency,
        )

    async def list_pages(self, prefix: str, recursive: bool = True) -> AsyncGenerator[list[ObjectInfo], None]:
        """List in pages; a page whose answer breaks off is fetched again (see :meth:`_relist`).

        object_store retries a listing request that fails before its answer arrives; one whose
        body is cut off surfaces at once. Such a failure restarts the listing just after the last
        key already yielded, so the result has no gap and no duplicate. When retries run out the
        error is raised: a listing is never silently partial.
        """
        prefix = prefix.strip("/")
        uri = self.uri(prefix)
        if not recursive:
            failures = 0
            while True:
                try:
                    result = await native().list_with_delimiter_async(self.native_store, prefix or None)
                    break
                except Exception as exc:
                    failures = await self._relist(exc, uri, failures)
            entries = [
                ObjectInfo(key=p.rstrip("/") + "/", size=0, is_prefix=True) for p in result["common_prefixes"]
            ]
            # A marker ``prefix/`` is listed (normalised) as the prefix itself; a deeper marker is
            # a common prefix here, i.e. a folder, which is what it stands for.
            entries += [_info(meta) for meta in result["objects"] if meta["path"] != prefix]
            yield sorted(entries, key=lambda e: e.key)
            return
        last: str | None = None  # the last key yielded: a restart lists only keys after it
        failures = 0
        while True:
            kwargs = {"offset": last} if last is not None else {}
            stream = native().list(self.native_store, prefix or None, chunk_size=1000, **kwargs)
            iterator = aiter(stream)
            # The next page is requested before this one is converted: the server's work on it
            # overlaps ours (a listing of 5,000 keys spends ~10 ms of client CPU on conversion).
            following: asyncio.Future[Any] = asyncio.ensure_future(anext(iterator))
            try:
                while True:
                    try:
                        batch = await following
                    except StopAsyncIteration:
                        return
                    except Exception as exc:
                        failures = await self._relist(exc, uri, failures)
                        break  # restart after ``last``
                    following = asyncio.ensure_future(anext(iterator))
                    if not batch:
                        continue
                    failures = 0
                    last = batch[-1]["path"]
                    page = await self._without_folder_markers(prefix, [_info(meta) for meta in batch])
                    if page:
                        yield page
            finally:
                await _finish_quietly(following)  # nothing outlives the listing

    async def _without_folder_markers(self, prefix: str, page: list[ObjectInfo]) -> list[ObjectInfo]:
        """Drop S3-console "folder" markers: 0-byte keys ending in ``/``.

        object_store lists the key ``dir/`` as ``dir``, so a marker looks like a 0-byte object
        named after its folder. The listed prefix itself is always a marker; any other 0-byte
        entry is asked for by its listed name (one HEAD each, 0-byte objects only): only a real
        object ``dir`` exists, a marker ``dir/`` does not.
        """
        empty = [info for info in page if info.size == 0]
        if not empty:
            return page
        semaphore = asyncio.Semaphore(self.config.max_concurrency)

        async def is_marker(info: ObjectInfo) -> bool:
            if info.key == prefix:
                return True
            async with semaphore:
                try:
                    await self.head(info.key)
                except NotFoundError:
                    return True
            return False

        async with asyncio.TaskGroup() as group:  # a failed HEAD cancels and awaits the others
            checks = [group.create_task(is_marker(info)) for info in empty]
        markers = {info.key for info, check in zip(empty, checks, strict=True) if check.result()}
        return [info for info in page if info.key not in markers] if markers else page

    async def _relist(self, exc: Exception, uri: str, failures: int) -> int:
        """Raise ``exc`` (translated) unless a listing page can be fetched again; else back off.

        Retried: transport failures and 5xx that object_store did not already retry itself (a
        body cut off mid-answer). Not retried: what object_store gave up on after its own retries,
        and every 4xx (missing bucket, access denied).
        """
        error = translate_error(exc, uri, "list")
        details = error_details(exc)
        transient = type(error) in (StorageError, StorageTimeoutError) and details.retries is None
        if not transient or failures >= self.config.max_retries:
            raise error from exc
        ceiling = min(_MAX_BACKOFF.total_seconds(), _INIT_BACKOFF.total_seconds() * _BACKOFF_BASE**failures)
        await asyncio.sleep(random.uniform(_INIT_BACKOFF.total_seconds(), ceiling))
        return failures + 1

    async def delete(self, key: str) -> None:
        await self.head(key)  # S3 and GCS report success for missing keys; we do not.
        await self._call("delete", key, "delete_async", key)

    async def delete_many(self, keys: Sequence[str]) -> None:
        for start in range(0, len(keys), 1000):
            batch = list(keys[start : start + 1000])
            try:
                await self._call("delete", batch[0], "delete_async", batch)
            except NotFoundError:
                await super().delete_many(batch)  # a backend that rejects missing keys in a batch

    async def open_writer(self, key: str) -> AsyncObjectWriter:
        return _NetworkWriter(self, key)

    async def create_bucket(self) -> None:
        await asyncio.to_thread(_admin.bucket_request, self, "create")

    async def delete_bucket(self) -> None:
        await asyncio.to_thread(_admin.bucket_request, self, "delete")


class S3Store(NetworkStore):
    """Amazon S3 and S3-compatible services (MinIO, SeaweedFS, Ceph, ...)."""

    scheme: ClassVar[str] = "s3"

    def _build(self, stores: Any) -> Any:
        config = self.config
        settings: dict[str, Any] = {"region": config.s3_region}
        if config.s3_endpoint:
            settings["endpoint"] = config.s3_endpoint
        if config.s3_credential_provider is not None:
            pass  # the provider supplies (and refreshes) the keys
        elif config.aws_access_key_id:
            settings["access_key_id"] = config.aws_access_key_id
            settings["secret_access_key"] = config.aws_secret_access_key or ""
            if config.aws_session_token:
                settings["session_token"] = config.aws_session_token
        if config.s3_virtual_hosted_style:
            settings["virtual_hosted_style_request"] = True
        return stores.S3Store(
            self.bucket,
            config=settings,
            client_options=self._client_options(config.s3_endpoint),
            retry_config=self._retry_config(),
            credential_provider=config.s3_credential_provider,
        )


class AzureStore(NetworkStore):
    """Azure Blob Storage; the account comes from the environment or a connection string."""

    scheme: ClassVar[str] = "az"

    def _build(self, stores: Any) -> Any:
        config = self.config
        if not config.azure_account:
            raise AccessDeniedError(
                f"no Azure storage account for {self.uri('')}: set AZURE_STORAGE_ACCOUNT or "
                "AZURE_STORAGE_CONNECTION_STRING",
                self.uri(""),
            )
        settings: dict[str, Any] = {"account_name": config.azure_account}
        if config.azure_key and config.azure_credential_provider is None:
            settings["account_key"] = config.azure_key
        if config.azure_endpoint:
            settings["endpoint"] = config.azure_endpoint.rstrip("/")
        return stores.AzureStore(
            self.bucket,
            config=settings,
            client_options=self._client_options(config.azure_endpoint),
            retry_config=self._retry_config(),
            credential_provider=config.azure_credential_provider,
        )


class GCSStore(NetworkStore):
    """Google Cloud Storage; ``STORAGE_EMULATOR_HOST`` selects an emulator without OAuth."""

    scheme: ClassVar[str] = "gs"

    def _build(self, stores: Any) -> Any:
        config = self.config
        settings: dict[str, Any] = {}
        if config.gcs_emulator_host:
            settings["service_account_key"] = json.dumps(
                {
                    "gcs_base_url": config.gcs_emulator_host.rstrip("/"),
                    "disable_oauth": True,
                    "client_email": "",
                    "private_key": "",
                    "private_key_id": "",
                }
            )
        elif config.gcs_credentials_path:
            settings["service_account_path"] = config.gcs_credentials_path
        return stores.GCSStore(
            self.bucket,
            config=settings,
            client_options=self._client_options(config.gcs_emulator_host),
            retry_config=self._retry_config(),
            credential_provider=config.gcs_credential_provider,
        )


class _NetworkHandle(ReadHandle):
    """The first GET's response and its ETag; later ranges are sent with ``If-Match`` on it."""

    store: NetworkStore

    def __init__(self, store: NetworkStore, key: str, first: Any, size: int, etag: str | None) -> None:
        super().__init__(store, key, size, etag)
        self._first = first

    def _take_first(self) -> Any:
        first, self._first = self._first, None
        return first

    async def read_all(self) -> Any:
        first = self._take_first()
        if first is None:
            return await super().read_all()
        try:
            with _native_call:
                data = await first.bytes_async()
        except Exception as exc:
            raise translate_error(exc, self.uri, "get") from exc
        if len(data) != self.size:
            raise self.short(len(data), self.size, 0)
        return data

    async def read_into(self, start: int, view: memoryview) -> None:
        first = self._take_first() if start == 0 else None
        if first is not None:
            await self.store._drain(self.key, first, view, stop_early=view.nbytes < self.size)
            return
        await self.store.read_into(self.key, start, view, self.etag)

    async def close(self) -> None:
        self._first = None


_orphans: set[asyncio.Future[Any]] = set()
"""Uploads of dropped writers, kept alive while they abort."""


class _End:
    """Queue marker: the writer was closed."""


class _Aborted(Exception):
    """Raised into obstore's upload to make it abort the multipart upload."""


async def _feed(backlog: list[bytes], queue: asyncio.Queue[bytes | _End | _Aborted]) -> AsyncIterator[bytes]:
    """The chunks for obstore's upload: the backlog, then the queue until its end marker."""
    while backlog:
        yield backlog.pop(0)
    while True:
        item = await queue.get()
        if isinstance(item, _End):
            return
        if isinstance(item, _Aborted):
            raise item
        yield item


class _NetworkWriter(AsyncObjectWriter):
    """Buffers up to the multipart threshold; beyond it, streams parts through obstore's upload.

    obstore aborts the multipart upload when the chunk iterator raises, so :meth:`abort` (and any
    failure) leaves no object and no orphaned parts.
    """

    def __init__(self, store: NetworkStore, key: str) -> None:
        self._store, self._key = store, key
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._queue: asyncio.Queue[bytes | _End | _Aborted] = asyncio.Queue(maxsize=4)
        self._upload: asyncio.Future[Any] | None = None
        self._backlog: list[bytes] = []

    def _describe(self) -> str:
        return self._store.uri(self._key)

    async def write(self, data: Any) -> int:
        self._check_open()
        chunk = bytes(data)
        async with self._busy:
            self._check_open()
            if self._upload is None:
                self._pending.append(chunk)
                self._pending_size += len(chunk)
                if self._pending_size > self._store.config.multipart_threshold:
                    self._start_upload()
            else:
                await self._enqueue(chunk)
        return len(chunk)

    def _start_upload(self) -> None:
        self._backlog, self._pending = self._pending, []
        config = self._store.config
        self._upload = asyncio.ensure_future(
            self._store._call(
                "put",
                self._key,
                "put_async",
                self._key,
                _feed(self._backlog, self._queue),  # holds no reference to the writer (drop -> abort)
                use_multipart=True,
                chunk_size=config.part_size,
                max_concurrency=config.max_concurrency,
            )
        )

    async def _enqueue(self, item: bytes | _End | _Aborted) -> None:
        assert self._upload is not None
        put = asyncio.ensure_future(self._queue.put(item))
        await asyncio.wait({put, self._upload}, return_when=asyncio.FIRST_COMPLETED)
        if not put.done():
            put.cancel()
            await self._upload  # raises the upload's error
            raise StorageError(
                f"upload of {self._store.uri(self._key)} ended early", self._store.uri(self._key)
            )

    async def close(self) -> None:
        if not self._start_close():
            return
        async with self._busy:
            if self._upload is None:
                data = b"".join(self._pending)
                self._pending = []
                await self._store.put(self._key, memoryview(data))
                return
            await self._enqueue(_End())
            await self._upload

    async def abort(self) -> None:
        if not self._start_abort():
            return
        self._pending = []
        async with self._busy:  # an in-flight write has handed over its chunk first
            if self._upload is None:
                return
            try:
                await self._enqueue(_Aborted("aborted by the caller"))
                await self._upload
            except (_Aborted, S3dlioError):
                pass

    def _abort_on_drop(self) -> None:
        self._pending = []
        upload = self._upload
        if upload is None or upload.done():
            return
        queue = self._queue
        _orphans.add(upload)  # keep the upload alive until obstore has aborted it
        upload.add_done_callback(_orphans.discard)
        upload.add_done_callback(lambda task: task.cancelled() or task.exception())

        def stop() -> None:
            while not queue.empty():
                queue.get_nowait()
            queue.put_nowait(_Aborted("the writer was dropped without close()"))

        with contextlib.suppress(RuntimeError):  # the loop is closed: nothing runs any more
            upload.get_loop().call_soon_threadsafe(stop)
