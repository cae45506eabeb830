"""Buffers with an owner: the zero-copy result type and the memory the engine fills.

:class:`BytesView` is the public read-only result of zero-copy reads. It is a subclass of
obstore's ``Bytes``, so it has the buffer protocol (``memoryview``, ``np.frombuffer``,
``torch.frombuffer`` without a copy), ``len``, slicing, ``bytes()`` and equality with ``bytes``.
It keeps the memory it views alive for as long as it (or any view onto it) exists.

:func:`allocate` returns the memory a multi-range read fills: an uninitialised numpy array that
is owned by the engine until every part that writes to it has finished, and only then wrapped in
a :class:`BytesView`. A large ``bytes`` result is filled in place through a :class:`BytesBuilder`,
which holds the ``bytes`` and the writable view onto it together. Nothing writable is ever handed
out that does not keep its memory alive (the first wave's ctypes-forged ``bytes`` did not; see
docs/design.md).
"""

from __future__ import annotations

import ctypes
import io
import platform
from typing import Any, SupportsIndex, overload

import numpy as np
from obstore import Bytes

__all__ = ["PAGE", "BytesView", "allocate", "as_view", "new_bytes", "open_view", "writable_view"]


class BytesView(Bytes):
    """A read-only, zero-copy view of an object's bytes (what ``zero_copy=True`` reads return).

    Behaves like ``bytes`` for reading: ``len(v)``, ``v[i]``, ``v[a:b]`` (another view, no copy),
    ``bytes(v)`` (a copy), ``v == b"..."``, and the buffer protocol (read-only) for
    ``memoryview(v)``, ``np.frombuffer(v, ...)`` and ``torch.frombuffer(v, ...)``.
    """

    @overload
    def __getitem__(self, key: SupportsIndex) -> int: ...
    @overload
    def __getitem__(self, key: slice) -> BytesView: ...
    def __getitem__(self, key: SupportsIndex | slice) -> int | BytesView:
        if isinstance(key, slice):
            start, stop, step = key.indices(len(self))
            view = memoryview(self)
            return BytesView(view[start:stop:step] if step != 1 else view[start:stop])
        return int(super().__getitem__(int(key)))

    def memoryview(self) -> memoryview:
        """A read-only ``memoryview`` of the data (no copy)."""
        return memoryview(self)

    def to_bytes(self) -> bytes:
        """A ``bytes`` copy of the data."""
        return bytes(self)

    def __hash__(self) -> int:
        return hash(bytes(memoryview(self)))

    def __repr__(self) -> str:
        return f"BytesView({len(self)} bytes)"


class _ViewReader(io.RawIOBase):
    """A seekable file over a read-only buffer that never copies the whole buffer."""

    def __init__(self, data: Any) -> None:
        super().__init__()
        self._view = memoryview(data).cast("B")
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._view.nbytes}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        target = memoryview(buffer).cast("B")
        count = max(0, min(target.nbytes, self._view.nbytes - self._pos))
        target[:count] = self._view[self._pos : self._pos + count]
        self._pos += count
        return count


def open_view(data: Any) -> io.BufferedReader:
    """A seekable binary file over ``data`` (a buffer) that reads it in place, without a copy."""
    return io.BufferedReader(_ViewReader(data))


PAGE = 4096
"""The alignment of :func:`allocate`'s memory: enough for O_DIRECT reads straight into it."""


def allocate(size: int) -> memoryview:
    """Uninitialised writable memory of ``size`` bytes that starts on a :data:`PAGE` boundary
    (the view keeps its array alive).

    Large blocks are fresh pages that are not touched (zeroed) before the read fills them.
    """
    block = np.empty(size + PAGE, dtype=np.uint8)
    skip = -block.ctypes.data % PAGE
    return block[skip : skip + size].data.cast("B")


def as_view(data: Any) -> BytesView:
    """Wrap ``bytes``, obstore ``Bytes`` or a filled array in a :class:`BytesView` (no copy)."""
    if isinstance(data, BytesView):
        return data
    return BytesView(data)


def writable_view(buffer: Any, what: str) -> memoryview:
    """A flat, writable, C-contiguous byte view of a caller's buffer, or a clear ``TypeError``."""
    try:
        view = memoryview(buffer)
    except TypeError:
        raise TypeError(
            f"{what}: the buffer must support the buffer protocol (bytearray, numpy array, mmap, "
            f"memoryview), got {type(buffer).__name__}"
        ) from None
    if view.readonly:
        raise TypeError(f"{what}: the buffer is read-only ({type(buffer).__name__}); pass writable memory")
    if not view.c_contiguous:
        raise TypeError(f"{what}: the buffer must be C-contiguous")
    if view.ndim != 1 or view.format != "B":
        view = view.cast("B")
    return view


# --- synchronous in-place ``bytes`` (data generation only) -------------------------------------
# ``PyBytes_FromStringAndSize(NULL, n)`` is the documented C-API way to allocate an uninitialised
# ``bytes`` that its creator fills before anyone else sees it. Data generation fills it
# synchronously, in one call, on one thread. The transfer engine fills a large ``bytes`` result
# with concurrent parts: the builder stays referenced by the reading coroutine, and the engine's
# structured concurrency guarantees every part has finished (cancelled, failed or done) before
# that coroutine returns or raises, so nothing can write into a released object.
_CPYTHON = platform.python_implementation() == "CPython"
if _CPYTHON:
    _allocate = ctypes.pythonapi.PyBytes_FromStringAndSize
    _allocate.restype = ctypes.py_object
    _allocate.argtypes = (ctypes.c_char_p, ctypes.c_ssize_t)
    _address = ctypes.pythonapi.PyBytes_AsString
    _address.restype = ctypes.c_void_p
    _address.argtypes = (ctypes.py_object,)


class BytesBuilder:
    """An uninitialised ``bytes`` of a given size and a writable view onto it (holds both)."""

    __slots__ = ("_result", "size", "view")

    def __init__(self, size: int) -> None:
        self.size = size
        if _CPYTHON and size > 0:
            result = _allocate(None, size)
            array = (ctypes.c_char * size).from_address(_address(result))
            self._result: bytes | bytearray = result
            self.view = memoryview(array).cast("B")
        else:
            self._result = bytearray(size)
            self.view = memoryview(self._result)

    def result(self) -> bytes:
        """The finished object (call once, synchronously, after every byte was written)."""
        self.view.release()
        result = self._result
        return result if isinstance(result, bytes) else bytes(result)


def new_bytes(size: int) -> BytesBuilder:
    """Start building a ``bytes`` of exactly ``size`` bytes, to be filled before anyone sees it."""
    return BytesBuilder(size)
