"""``MultipartUploadWriter``: the original's streaming multipart uploader, on every backend.

DLIO's object-store backend and mlc-storage's checkpoint writer use it as::

    writer = s3dlio.MultipartUploadWriter.from_uri(uri, part_size=32 << 20, max_in_flight=16,
                                                   abort_on_drop=True)
    with writer:                       # or: write(...) then close()
        writer.write(buffer)
    stats = writer.close()             # {'etag', 'total_bytes', 'parts', 'started_at', 'completed_at'}

It streams through the same upload path as :func:`s3dlio.open_writer` (multipart on S3 and GCS,
block upload on Azure, a temporary file renamed into place locally), so nothing is visible
before ``close()`` and an abort leaves no object and no orphaned parts.
"""

from __future__ import annotations

import contextlib
import threading
import time
import warnings
from types import TracebackType
from typing import Any, TypedDict

from .. import _sync
from ..errors import ConfigError, IntegrityError, InvalidUriError
from ..ops import as_buffer
from ..stores import AsyncObjectWriter, open_store
from ..uri import parse_uri
from ._common import derived_config, positive_int

__all__ = ["MultipartUploadWriter", "UploadStats"]


class UploadStats(TypedDict):
    """What :meth:`MultipartUploadWriter.close` returns."""

    etag: str | None
    """The stored object's ETag (read back after completion; local files: a derived value)."""
    total_bytes: int
    """Bytes written (checked against the stored object's size)."""
    parts: int
    """Parts uploaded: ``ceil(total_bytes / part_size)``, at least 1 (1 for local files)."""
    started_at: float
    """Unix time the writer was created."""
    completed_at: float
    """Unix time the upload completed."""


class MultipartUploadWriter:
    """Streams one object in parts of ``part_size``, at most ``max_in_flight`` parts at once.

    ``MultipartUploadWriter(bucket, key, ...)`` writes ``s3://bucket/key``;
    :meth:`from_uri` takes any URI (``s3://``, ``gs://``, ``az://``, ``file://``, ``direct://``).
    ``part_size`` defaults to the configured ``part_size`` (at least 5 MiB) and ``max_in_flight``
    to ``max_concurrency``. ``abort_on_drop`` must be True (the default): a writer dropped
    without :meth:`close` is aborted, because s3dlio never leaves an upload behind that nobody
    can finish. ``content_type`` is not supported (a :class:`ConfigError` if given).
    """

    def __init__(
        self,
        bucket: str,
        key: str,
        part_size: int | None = None,
        max_in_flight: int | None = None,
        content_type: str | None = None,
        abort_on_drop: bool | None = None,
    ) -> None:
        if not isinstance(bucket, str) or not isinstance(key, str) or not bucket or not key:
            raise InvalidUriError(f"bucket and key must be non-empty strings, got {bucket!r}, {key!r}")
        self._start(f"s3://{bucket}/{key.lstrip('/')}", part_size, max_in_flight, content_type, abort_on_drop)

    @classmethod
    def from_uri(
        cls,
        uri: str,
        part_size: int | None = None,
        max_in_flight: int | None = None,
        content_type: str | None = None,
        abort_on_drop: bool | None = None,
    ) -> MultipartUploadWriter:
        """A writer for ``uri`` (any scheme)."""
        writer = cls.__new__(cls)
        writer._start(uri, part_size, max_in_flight, content_type, abort_on_drop)
        return writer

    def _start(
        self,
        uri: str,
        part_size: int | None,
        max_in_flight: int | None,
        content_type: str | None,
        abort_on_drop: bool | None,
    ) -> None:
        self._writer: AsyncObjectWriter | None = None
        self._done = True  # nothing to abort until the upload exists
        if content_type is not None:
            raise ConfigError(f"content_type is not supported by s3dlio's writer (writing {uri})", uri)
        if abort_on_drop is not None and not isinstance(abort_on_drop, bool):
            raise ConfigError(f"abort_on_drop must be a bool, got {abort_on_drop!r}", uri)
        if abort_on_drop is False:
            raise ConfigError(
                f"abort_on_drop=False is not supported (writing {uri}): a dropped writer is always "
                "aborted, so that no orphaned upload remains",
                uri,
            )
        config = derived_config(part_size, max_in_flight)
        parsed = parse_uri(uri)
        if not parsed.key or parsed.key.endswith("/"):
            raise InvalidUriError(f"{uri!r} names a bucket or directory, not an object", uri)
        self.uri = uri
        self.part_size = config.part_size
        """Bytes per part."""
        self.max_in_flight = config.max_concurrency
        """Parts uploaded at once."""
        self.total_bytes = 0
        """Bytes accepted so far."""
        self._store = open_store(parsed, config)
        self._key = parsed.key
        self._local = parsed.is_local
        self._started = time.time()
        self._pending: bytearray | None = None
        self._lock = threading.Lock()
        self._writer = _sync.run(self._store.open_writer(self._key))
        self._done = False

    # -- writing ------------------------------------------------------------------------------
    def _live(self) -> AsyncObjectWriter:
        if self._done or self._writer is None:
            raise ValueError(f"the writer for {self.uri} is closed")
        return self._writer

    def write(self, data: Any) -> int:
        """Append any bytes-like object (bytes, bytearray, memoryview, numpy array, s3dlio buffers).

        Returns the number of bytes accepted.
        """
        view = as_buffer(data, self.uri)
        with self._lock:
            writer = self._live()
            count = _sync.run(writer.write(view))
            self.total_bytes += count
            return count

    def reserve(self, size: int) -> memoryview:
        """A writable buffer of ``size`` bytes to fill, then hand over with :meth:`commit`."""
        positive_int("size", size, 0)
        self._live()
        if self._pending is not None:
            raise ValueError("reserve() called while a previous buffer is pending; call commit() first")
        self._pending = bytearray(size)
        return memoryview(self._pending)

    def commit(self, nbytes: int) -> None:
        """Write the first ``nbytes`` of the buffer from :meth:`reserve`."""
        pending = self._pending
        if pending is None:
            raise ValueError("no pending buffer; call reserve() first")
        positive_int("nbytes", nbytes, 0)
        if nbytes > len(pending):
            raise ValueError(f"commit(nbytes={nbytes}) exceeds the reserved size {len(pending)}")
        self._pending = None
        self.write(memoryview(pending)[:nbytes])

    def flush(self) -> None:
        """Nothing to do: full parts are sent as soon as they are complete.

        Only the last part of a multipart upload may be shorter than the minimum, so a
        partial part is always kept until :meth:`close`.
        """
        self._live()

    # -- finishing ------------------------------------------------------------------------------
    def close(self) -> UploadStats:
        """Complete the upload and return its statistics. On failure it is aborted and raised."""
        with self._lock:
            writer = self._live()
            self._done = True
            self._pending = None
            try:
                _sync.run(writer.close())
            except BaseException:
                _sync.run(_quiet_abort(writer))
                raise
            info = _sync.run(self._store.head(self._key))
            if info.size != self.total_bytes:
                raise IntegrityError(
                    f"upload of {self.uri} stored {info.size} bytes, {self.total_bytes} were written",
                    self.uri,
                )
            parts = 1 if self._local else max(1, -(-self.total_bytes // self.part_size))
            return UploadStats(
                etag=info.etag,
                total_bytes=self.total_bytes,
                parts=parts,
                started_at=self._started,
                completed_at=time.time(),
            )

    def abort(self) -> None:
        """Discard the upload: no object, no orphaned parts. Does nothing once closed or aborted."""
        with self._lock:
            if self._done or self._writer is None:
                return
            self._done = True
            self._pending = None
            _sync.run(self._writer.abort())

    def __enter__(self) -> MultipartUploadWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is not None:
            self.abort()
        elif not self._done:
            self.close()

    def __del__(self) -> None:
        writer = getattr(self, "_writer", None)
        if getattr(self, "_done", True) or writer is None:
            return
        self._done = True
        warnings.warn(
            f"MultipartUploadWriter for {self.uri} was dropped without close(); the upload is aborted",
            ResourceWarning,
            stacklevel=2,
        )
        with contextlib.suppress(Exception):  # nothing can be raised from __del__; the warning says it
            if threading.current_thread() is _sync._thread:  # GC ran on the loop: cannot wait there
                _sync.submit(_quiet_abort(writer))
            else:
                _sync.run(_quiet_abort(writer))

    def __repr__(self) -> str:
        state = "closed" if self._done else "open"
        return f"MultipartUploadWriter({self.uri!r}, {state}, {self.total_bytes} bytes)"


async def _quiet_abort(writer: AsyncObjectWriter) -> None:
    with contextlib.suppress(Exception):  # the original failure is what the caller sees
        await writer.abort()
