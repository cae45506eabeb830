"""File-like views of objects for libraries that want a file (``torch.save``/``torch.load``, DCP).

:class:`ObjectWriteStream` appends to one object through the core's streaming writer; the object
appears only when the stream is closed without error. :class:`ObjectReadStream` is a seekable
reader doing ranged GETs: small reads are served from a read-ahead window, large ones go straight
into the caller's buffer through the transfer engine (parallel ranges of one version).
"""

from __future__ import annotations

import io
import os
from typing import Any

from .. import ops, transfer
from .._sync import run
from ..blocking import ObjectWriter
from ..config import get_config

__all__ = ["ObjectReadStream", "ObjectWriteStream"]

_MiB = 1024 * 1024


class ObjectWriteStream(io.RawIOBase):
    """A write-only, non-seekable stream into one object (blocking; one thread at a time)."""

    def __init__(self, uri: str) -> None:
        super().__init__()
        self.uri = uri
        self._writer = ObjectWriter(uri)
        self._chunk = max(get_config().part_size * 2, 16 * _MiB)
        self._done = False

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        if self.closed or self._done:
            raise ValueError(f"write to a closed stream for {self.uri}")
        view = memoryview(data)
        if not view.c_contiguous:
            view = memoryview(view.tobytes())
        view = view.cast("B") if view.ndim != 1 or view.format != "B" else view
        for start in range(0, view.nbytes, self._chunk):
            self._writer.write(view[start : start + self._chunk])
        return view.nbytes

    def tell(self) -> int:
        return self._writer.bytes_written

    def close(self) -> None:
        """Finish the object and make it visible."""
        if not self._done and not self.closed:
            self._done = True
            try:
                self._writer.close()
            finally:
                super().close()

    def abort(self) -> None:
        """Discard everything written; no object appears."""
        if not self._done:
            self._done = True
            try:
                self._writer.abort()
            finally:
                super().close()


class ObjectReadStream(io.RawIOBase):
    """A seekable, read-only stream over one object (blocking)."""

    def __init__(self, uri: str, readahead: int = 2 * _MiB) -> None:
        super().__init__()
        self.uri = uri
        self._store, self._key, _ = ops.resolve(uri)
        self._size: int | None = None
        self._pos = 0
        self._window: Any = b""
        self._window_start = 0
        self._readahead = readahead

    @property
    def size(self) -> int:
        if self._size is None:
            self._size = int(run(ops.stat_async(self.uri))["size"])
        return self._size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_SET:
            position = offset
        elif whence == os.SEEK_CUR:
            position = self._pos + offset
        elif whence == os.SEEK_END:
            position = self.size + offset
        else:
            raise ValueError(f"invalid whence {whence}")
        if position < 0:
            raise ValueError(f"negative seek position {position} in {self.uri}")
        self._pos = position
        return position

    def readinto(self, buffer: Any) -> int:
        target = memoryview(buffer).cast("B")
        wanted = min(target.nbytes, max(0, self.size - self._pos))
        if wanted <= 0:
            return 0
        start = self._pos
        window_end = self._window_start + len(self._window)
        if self._window_start <= start and start + wanted <= window_end:
            offset = start - self._window_start
            target[:wanted] = self._window[offset : offset + wanted]
        elif wanted >= self._readahead:
            run(self._fill(target[:wanted], start))
        else:
            end = min(self.size, start + max(wanted, self._readahead))
            self._window = run(transfer.read_range(self._store, self._key, start, end, zero_copy=True))
            self._window_start = start
            target[:wanted] = self._window[:wanted]
        self._pos += wanted
        return wanted

    async def _fill(self, target: memoryview, start: int) -> None:
        """Large reads: the engine fills the caller's buffer (parallel ranges, one version)."""
        await transfer.read_range_into(self._store, self._key, start, target)

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            size = max(0, self.size - self._pos)
        buffer = bytearray(size)
        count = self.readinto(buffer)
        return bytes(buffer[:count]) if count != size else bytes(buffer)

    def readall(self) -> bytes:
        return self.read(-1)
