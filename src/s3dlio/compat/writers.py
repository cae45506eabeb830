"""The original's streaming writers, as mlc-storage's checkpoint code calls them.

::

    options = s3dlio.PyWriterOptions().with_buffer_size(32 << 20)
    writer = s3dlio.create_filesystem_writer("file:///ckpt/rank0.dat", options)
    writer.write_chunk(buffer)                 # any bytes-like object
    bytes_written, compressed = writer.finalize()

``create_s3_writer`` (``s3://``, also ``gs://``), ``create_azure_writer`` (``az://``),
``create_filesystem_writer`` (``file://`` or an absolute path) and
``create_direct_filesystem_writer`` (``direct://``, O_DIRECT) return the same
:class:`PyObjectWriter`; each checks that the URI has its scheme. The object becomes visible at
:meth:`PyObjectWriter.finalize`; a writer dropped before that is aborted (no object, no orphaned
upload).
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import numpy as np

from .. import _sync
from ..datagen._crc import crc32c_at
from ..errors import ConfigError, InvalidUriError
from ..ops import as_buffer
from ..stores import AsyncObjectWriter, open_store
from ..uri import parse_uri
from ._common import derived_config, positive_int

__all__ = [
    "PyObjectWriter",
    "PyWriterOptions",
    "create_azure_writer",
    "create_direct_filesystem_writer",
    "create_filesystem_writer",
    "create_s3_writer",
]

_ZSTD_SUFFIX = ".zst"


class PyWriterOptions:
    """Options of a streaming writer. The ``with_*`` methods return the options (chainable)."""

    def __init__(self) -> None:
        self.buffer_size: int | None = None
        """Bytes per upload part (at least 5 MiB); None means the configured ``part_size``."""
        self.compression: str = "none"
        """``"none"`` or ``"zstd"``."""
        self.compression_level: int = 3

    def with_buffer_size(self, size: int) -> PyWriterOptions:
        """Upload in parts of ``size`` bytes (``>= 5 MiB``: S3's part minimum)."""
        self.buffer_size = positive_int("buffer_size", size, 5 * 1024 * 1024)
        return self

    def with_compression(self, compression_type: str, level: int | None = None) -> PyWriterOptions:
        """``"zstd"`` (level 1-22, default 3; needs the ``zstandard`` package) or ``"none"``.

        With zstd the data is compressed as it streams and the object is written at the URI
        plus ``.zst``, as the original does.
        """
        kind = str(compression_type).lower()
        if kind == "none":
            self.compression = "none"
            return self
        if kind != "zstd":
            raise ConfigError(f"unsupported compression {compression_type!r}; use 'zstd' or 'none'")
        try:
            import zstandard  # noqa: F401
        except ImportError:
            raise ConfigError(
                "zstd compression needs the zstandard package: pip install 's3dlio[zstd]'"
            ) from None
        self.compression_level = positive_int("level", 3 if level is None else level)
        if self.compression_level > 22:
            raise ConfigError(f"zstd level must be between 1 and 22, got {self.compression_level}")
        self.compression = "zstd"
        return self

    def __repr__(self) -> str:
        return f"PyWriterOptions(buffer_size={self.buffer_size}, compression={self.compression!r})"


class PyObjectWriter:
    """Streams one object; see the module docstring. Safe to share between threads."""

    def __init__(self, uri: str, options: PyWriterOptions | None) -> None:
        self._writer: AsyncObjectWriter | None = None
        opts = options if options is not None else PyWriterOptions()
        if not isinstance(opts, PyWriterOptions):
            raise TypeError(f"options must be a PyWriterOptions or None, got {type(opts).__name__}")
        self._compressor: Any = None
        if opts.compression == "zstd":
            import zstandard

            uri += _ZSTD_SUFFIX
            self._compressor = zstandard.ZstdCompressor(level=opts.compression_level).compressobj()
        parsed = parse_uri(uri)
        if not parsed.key or parsed.key.endswith("/"):
            raise InvalidUriError(f"{uri!r} names a bucket or directory, not an object", uri)
        self.uri = uri
        """The object being written (with ``.zst`` when compressing)."""
        self._store = open_store(parsed, derived_config(opts.buffer_size))
        self._lock = threading.Lock()
        self._written = 0
        self._stored = 0
        self._crc = 0
        self._finalized: tuple[int, int] | None = None
        self._writer = _sync.run(self._store.open_writer(parsed.key))

    def _put(self, view: memoryview) -> None:
        writer = self._writer
        if self._finalized is not None or writer is None:
            raise ValueError(f"the writer for {self.uri} has been finalized")
        self._crc = crc32c_at(np.frombuffer(view, dtype=np.uint8), 0, len(view), self._crc)
        self._written += len(view)
        if self._compressor is not None:
            view = memoryview(self._compressor.compress(view))
        if len(view):
            self._stored += len(view)
            _sync.run(writer.write(view))

    def write_chunk(self, data: Any) -> None:
        """Append any bytes-like object (no copy before it reaches the upload)."""
        view = as_buffer(data, self.uri)
        with self._lock:
            self._put(view)

    def write_owned_bytes(self, data: Any) -> None:
        """The same as :meth:`write_chunk` (kept for the original's API)."""
        self.write_chunk(data)

    def finalize(self) -> tuple[int, int]:
        """Finish the object; returns ``(bytes_written, compressed_bytes)``.

        ``compressed_bytes`` is the stored size with compression, else 0. On failure the upload
        is aborted and the error raised; a second call raises ``ValueError``.
        """
        with self._lock:
            writer = self._writer
            if self._finalized is not None or writer is None:
                raise ValueError(f"the writer for {self.uri} is already finalized")
            try:
                if self._compressor is not None:
                    tail = self._compressor.flush()
                    self._stored += len(tail)
                    if tail:
                        _sync.run(writer.write(memoryview(tail)))
                _sync.run(writer.close())
            except BaseException:
                self._finalized = (self._written, 0)
                _sync.run(_quiet_abort(writer))
                raise
            compressed = self._stored if self._compressor is not None else 0
            self._finalized = (self._written, compressed)
            return self._finalized

    def bytes_written(self) -> int:
        """Uncompressed bytes written so far."""
        return self._written

    def compressed_bytes(self) -> int:
        """Bytes stored so far with compression (0 without compression)."""
        return self._stored if self._compressor is not None else 0

    def checksum(self) -> str:
        """CRC-32C of the uncompressed bytes written, as ``"crc32c:<8 hex digits>"``."""
        return f"crc32c:{self._crc:08x}"

    def abort(self) -> None:
        """Discard the object (no-op after :meth:`finalize`)."""
        with self._lock:
            writer = self._writer
            if self._finalized is not None or writer is None:
                return
            self._finalized = (self._written, 0)
            _sync.run(writer.abort())

    def __del__(self) -> None:
        writer = getattr(self, "_writer", None)
        if writer is None or getattr(self, "_finalized", None) is not None:
            return
        self._finalized = (self._written, 0)
        with contextlib.suppress(Exception):  # nothing can be raised from __del__
            if threading.current_thread() is _sync._thread:  # GC ran on the loop: cannot wait there
                _sync.submit(_quiet_abort(writer))
            else:
                _sync.run(_quiet_abort(writer))

    def __repr__(self) -> str:
        state = "finalized" if self._finalized is not None else "open"
        return f"PyObjectWriter({self.uri!r}, {state}, {self._written} bytes)"


async def _quiet_abort(writer: AsyncObjectWriter) -> None:
    with contextlib.suppress(Exception):  # the original failure is what the caller sees
        await writer.abort()


def _checked(uri: object, schemes: tuple[str, ...], function: str) -> str:
    if not isinstance(uri, str):
        raise InvalidUriError(f"{function}() needs a URI string, got {type(uri).__name__}")
    if "://" not in uri and "file" in schemes and uri.startswith("/"):
        return f"file://{uri}"
    scheme = parse_uri(uri).scheme
    if scheme not in schemes:
        wanted = " or ".join(f"{s}://" for s in schemes)
        raise InvalidUriError(f"{function}() writes {wanted} URIs, got {uri!r}", uri)
    return uri


def create_s3_writer(uri: str, options: PyWriterOptions | None = None) -> PyObjectWriter:
    """A streaming writer for ``s3://`` (or ``gs://``) ``uri``."""
    return PyObjectWriter(_checked(uri, ("s3", "gs"), "create_s3_writer"), options)


def create_azure_writer(uri: str, options: PyWriterOptions | None = None) -> PyObjectWriter:
    """A streaming writer for ``az://`` ``uri``."""
    return PyObjectWriter(_checked(uri, ("az",), "create_azure_writer"), options)


def create_filesystem_writer(uri: str, options: PyWriterOptions | None = None) -> PyObjectWriter:
    """A streaming writer for a ``file://`` URI (or an absolute path)."""
    return PyObjectWriter(_checked(uri, ("file",), "create_filesystem_writer"), options)


def create_direct_filesystem_writer(uri: str, options: PyWriterOptions | None = None) -> PyObjectWriter:
    """A streaming writer for a ``direct://`` URI (O_DIRECT)."""
    return PyObjectWriter(_checked(uri, ("direct",), "create_direct_filesystem_writer"), options)
