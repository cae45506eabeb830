"""``direct://``: local files with O_DIRECT (page cache bypassed) and aligned buffers.

Reads and writes go through page-aligned ``mmap`` buffers in multiples of 4 KiB (the largest
common logical block size). An unaligned tail is read with the final aligned block and trimmed;
it is written padded to a full block, and the file is then truncated to its real length.
Filesystems that refuse O_DIRECT (tmpfs, some overlays) fall back to buffered I/O with a single
:class:`DirectIOFallbackWarning`, never silently.
"""

from __future__ import annotations

import errno
import fcntl
import mmap
import os
import threading
import warnings
from collections.abc import Callable
from typing import Any, ClassVar

from .base import AsyncObjectWriter, short_read
from .local import LocalStore, _LocalWriter

__all__ = ["ALIGNMENT", "DirectIOFallbackWarning", "DirectStore"]

ALIGNMENT = 4096
_STAGING = 8 * 1024 * 1024
_warned = False
_warn_lock = threading.Lock()


def _after_fork_in_child() -> None:
    global _warn_lock
    _warn_lock = threading.Lock()  # another thread may have held it at fork


os.register_at_fork(after_in_child=_after_fork_in_child)


class DirectIOFallbackWarning(RuntimeWarning):
    """O_DIRECT was refused by the filesystem; buffered I/O is used instead."""


def _warn_fallback(path: str, exc: OSError) -> None:
    global _warned
    with _warn_lock:
        if _warned:
            return
        _warned = True
    warnings.warn(
        f"direct:// could not open {path} with O_DIRECT ({exc.strerror}); this filesystem does not "
        "support it, so direct:// uses buffered I/O here (warned once per process)",
        DirectIOFallbackWarning,
        stacklevel=2,
    )


def _open(path: str, flags: int, mode: int = 0o644) -> int:
    try:
        return os.open(path, flags | os.O_DIRECT | os.O_CLOEXEC, mode)
    except OSError as exc:
        if exc.errno != errno.EINVAL:
            raise
        _warn_fallback(path, exc)
        return os.open(path, flags | os.O_CLOEXEC, mode)


def _is_direct(fd: int) -> bool:
    return bool(fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT)


def _round_up(value: int) -> int:
    return -(-value // ALIGNMENT) * ALIGNMENT


class _AlignedWriter:
    """Feeds arbitrary-sized writes to an O_DIRECT descriptor in aligned blocks."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.size = 0
        self._buffer = mmap.mmap(-1, _STAGING)
        self._view = memoryview(self._buffer)
        self._used = 0

    def write(self, data: memoryview) -> None:
        offset = 0
        while offset < data.nbytes:
            take = min(_STAGING - self._used, data.nbytes - offset)
            self._view[self._used : self._used + take] = data[offset : offset + take]
            self._used += take
            offset += take
            if self._used == _STAGING:
                self._flush(_STAGING)
        self.size += data.nbytes

    def _flush(self, length: int) -> None:
        written = 0
        while written < length:
            written += os.write(self.fd, self._view[written:length])
        self._used = 0

    def finish(self) -> None:
        """Write the padded tail, trim the file to its real size, and free the buffer."""
        if self._used:
            padded = _round_up(self._used)
            self._view[self._used : padded] = bytes(padded - self._used)
            self._flush(padded)
            os.ftruncate(self.fd, self.size)
        self.release()

    def release(self) -> None:
        self._view.release()
        self._buffer.close()


class DirectStore(LocalStore):
    """Local files read and written with O_DIRECT."""

    scheme: ClassVar[str] = "direct"

    def _open_read(self, path: str) -> int:
        return _open(path, os.O_RDONLY)

    def _open_write(self, temp: str) -> int:
        return _open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL)

    def _read_aligned(self, fd: int, size: int, offset: int, sink: Any) -> int:
        """Read ``[offset, offset + size)`` through aligned blocks, handing each to ``sink``.

        ``sink(view, position)`` receives the wanted bytes of each block. Returns the number of
        bytes read: fewer than ``size`` only when the file ends. A short O_DIRECT read is the end
        of the file only when it reaches the file's size; anywhere else it is read again.
        """
        end = min(offset + size, os.fstat(fd).st_size)
        if end <= offset:
            return 0
        start = offset - offset % ALIGNMENT
        staging = min(_STAGING, _round_up(end) - start)
        buffer = mmap.mmap(-1, staging)
        view = memoryview(buffer)
        try:
            position = start  # the aligned file offset of view[0]
            while position < end:
                want = min(staging, _round_up(end) - position)
                got = 0
                while position + got < end and got < want:
                    count = os.preadv(fd, [view[got:want]], position + got)
                    if count == 0:
                        break
                    got += count
                    if got % ALIGNMENT and position + got < end:
                        # An unaligned short read before the end: the file shrank under us.
                        break
                usable_end = min(position + got, end)
                lo = max(offset, position)
                if usable_end > lo:
                    sink(view[lo - position : usable_end - position], lo - offset)
                if got < want and position + got < end:  # ended (or shrank) before the end
                    return max(0, usable_end - offset)
                position += want
            return end - offset
        finally:
            view.release()
            buffer.close()

    def _read_at(self, fd: int, size: int, offset: int) -> bytes:
        if not _is_direct(fd):
            return super()._read_at(fd, size, offset)
        parts: list[bytes] = []
        self._read_aligned(fd, size, offset, lambda piece, _: parts.append(bytes(piece)))
        return b"".join(parts)

    def _pread_into(self, fd: int, view: memoryview, offset: int, uri: str) -> None:
        if not _is_direct(fd):
            super()._pread_into(fd, view, offset, uri)
            return

        def place(piece: memoryview, position: int) -> None:
            view[position : position + piece.nbytes] = piece

        got = self._read_aligned(fd, view.nbytes, offset, place)
        if got != view.nbytes:
            raise short_read(uri, got, view.nbytes, offset)

    def _write_file(self, fd: int, data: memoryview) -> None:
        if not _is_direct(fd):
            super()._write_file(fd, data)
            return
        writer = _AlignedWriter(fd)
        try:
            writer.write(data)
            writer.finish()
        except BaseException:
            writer.release()
            raise

    async def open_writer(self, key: str) -> AsyncObjectWriter:
        path = self.path(key)
        fd, temp = await self._io("open for writing", key, self._open_temp, path)
        if not _is_direct(fd):
            return _LocalWriter(self, key, fd, temp)
        return _DirectWriter(self, key, fd, temp)


class _DirectWriter(_LocalWriter):
    """A streaming writer that keeps a partial block between writes."""

    def __init__(self, store: DirectStore, key: str, fd: int, temp: str) -> None:
        super().__init__(store, key, fd, temp)
        self._aligned: _AlignedWriter | None = _AlignedWriter(fd)

    def _write_job(self, view: memoryview) -> tuple[Callable[..., None], tuple[Any, ...]]:
        assert self._aligned is not None
        return self._aligned.write, (view,)

    def _finish_blocking(self) -> None:
        aligned, self._aligned = self._aligned, None
        if aligned is not None:
            try:
                aligned.finish()
            except BaseException:
                aligned.release()
                raise

    def _release_blocking(self) -> None:
        aligned, self._aligned = self._aligned, None
        if aligned is not None:
            aligned.release()
