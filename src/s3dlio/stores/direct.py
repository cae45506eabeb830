"""``direct://``: local files with O_DIRECT (page cache bypassed) and aligned buffers.

O_DIRECT moves whole 4 KiB blocks (the largest common logical block size) between the device and
aligned memory. Reads go straight into page-aligned result memory (see
:func:`s3dlio._buffers.allocate`); an unaligned tail comes through one aligned block, and only a
caller's unaligned buffer goes through a staging buffer. Writes are staged in an aligned
``mmap``; the tail is written padded to a full block, and the file is then truncated to its
real length.
Filesystems that refuse O_DIRECT (tmpfs, some overlays) fall back to buffered I/O with a single
:class:`DirectIOFallbackWarning`, never silently.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import mmap
import os
import threading
import warnings
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from .._buffers import allocate
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


def _address(view: memoryview) -> int:
    """The address of a writable view's first byte."""
    return ctypes.addressof(ctypes.c_char.from_buffer(view))


def _address_of(data: memoryview) -> int:
    """The address of any view's first byte (read-only ones too); -1 for an empty one."""
    if not data.nbytes:
        return -1
    return int(np.frombuffer(data, dtype=np.uint8).ctypes.data)


def _write_all(fd: int, view: memoryview) -> None:
    written = 0
    while written < view.nbytes:
        written += os.write(fd, view[written:])


_STAGED_READ = 1024 * 1024
_staging = threading.local()


def _staging_buffer() -> memoryview:
    """This thread's aligned staging buffer for reads (made on first use, then reused; only the
    pages a read touched are resident)."""
    buffer: memoryview | None = getattr(_staging, "buffer", None)
    if buffer is None:
        buffer = _staging.buffer = allocate(_STAGED_READ)
    return buffer


def _pread_blocks(fd: int, view: memoryview, position: int) -> int:
    """O_DIRECT reads into ``view`` (aligned address and length) at the aligned ``position``.

    Returns the bytes read: fewer than ``view.nbytes`` only at the end of the file, which is the
    only place an O_DIRECT read stops at an unaligned count.
    """
    got = 0
    while got < view.nbytes:
        count = os.preadv(fd, [view[got:]], position + got)
        got += count
        if count == 0 or count % ALIGNMENT:
            break
    return got


def _read_direct(fd: int, view: memoryview, offset: int) -> int:
    """Fill ``view`` from ``offset``; returns the bytes read (fewer only at the end of the file).

    Aligned memory at an aligned offset is read in place, all but its unaligned tail, which
    comes through one aligned block. Anything else goes through this thread's staging buffer.
    """
    if not view.nbytes:
        return 0
    if offset % ALIGNMENT or _address(view) % ALIGNMENT:
        return _read_staged(fd, view, offset)
    body = view.nbytes - view.nbytes % ALIGNMENT
    got = _pread_blocks(fd, view[:body], offset) if body else 0
    if got < body or body == view.nbytes:
        return got
    block = _staging_buffer()[:ALIGNMENT]
    tail = min(_pread_blocks(fd, block, offset + body), view.nbytes - body)
    view[body : body + tail] = block[:tail]
    return body + tail


def _read_staged(fd: int, view: memoryview, offset: int) -> int:
    """:func:`_read_direct` for memory or offsets that are not aligned: aligned blocks are read
    into a staging buffer and the wanted bytes copied out."""
    start = offset - offset % ALIGNMENT
    end = _round_up(offset + view.nbytes)
    staging = _staging_buffer()
    done, position = 0, start
    while done < view.nbytes:
        want = min(staging.nbytes, end - position)
        got = _pread_blocks(fd, staging[:want], position)
        skip = offset + done - position  # the head of the first block, before ``offset``
        take = min(got - skip, view.nbytes - done)
        if take <= 0:
            break
        view[done : done + take] = staging[skip : skip + take]
        done += take
        if got < want:
            break
        position += want
    return done


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

    def _read_at(self, fd: int, size: int, offset: int, *, zero_copy: bool = True) -> bytes | memoryview:
        if not _is_direct(fd):
            return super()._read_at(fd, size, offset)
        head = offset % ALIGNMENT
        if not zero_copy and head + size <= _STAGED_READ:
            # wanted as ``bytes``: one copy out of this thread's reused buffer, no fresh pages
            staging = _staging_buffer()[: _round_up(head + size)]
            got = _pread_blocks(fd, staging, offset - head)
            return bytes(staging[head : max(head, min(got, head + size))])
        # Read from the block boundary below ``offset`` straight into fresh aligned memory and
        # hand back a view past the head: no staging buffer and no copy.
        out = allocate(head + size)
        got = _read_direct(fd, out, offset - head)
        return out[head : max(head, got)]

    def _pread_into(self, fd: int, view: memoryview, offset: int, uri: str) -> None:
        if not _is_direct(fd):
            super()._pread_into(fd, view, offset, uri)
            return
        got = _read_direct(fd, view, offset)
        if got != view.nbytes:
            raise short_read(uri, got, view.nbytes, offset)

    def _write_file(self, fd: int, data: memoryview) -> None:
        if not _is_direct(fd):
            super()._write_file(fd, data)
            return
        # Aligned memory is written in place; anything else, and the tail (padded to a whole
        # block, then trimmed off the file), goes through this thread's staging buffer.
        body = data.nbytes - data.nbytes % ALIGNMENT if _address_of(data) % ALIGNMENT == 0 else 0
        _write_all(fd, data[:body])
        staging = _staging_buffer()
        done = body
        while done < data.nbytes:
            take = min(staging.nbytes, data.nbytes - done)
            padded = _round_up(take)
            staging[:take] = data[done : done + take]
            staging[take:padded] = bytes(padded - take)  # no stale bytes, even past the end
            _write_all(fd, staging[:padded])
            done += take
        if data.nbytes % ALIGNMENT:
            os.ftruncate(fd, data.nbytes)

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
