"""Fill a ``bytes`` object in place, so a download needs no second copy.

``PyBytes_FromStringAndSize(NULL, n)`` is the documented C-API way to allocate an uninitialised
``bytes`` object that its creator fills before anyone else sees it; ``PyBytes_AsString`` gives its
buffer. We use both through ctypes, on CPython only, and fall back to ``bytearray`` + ``bytes``
(one extra copy) elsewhere. The object must not escape before it is completely written.
"""

from __future__ import annotations

import ctypes
import platform

__all__ = ["new_bytes"]

_CPYTHON = platform.python_implementation() == "CPython"
if _CPYTHON:
    _allocate = ctypes.pythonapi.PyBytes_FromStringAndSize
    _allocate.restype = ctypes.py_object
    _allocate.argtypes = (ctypes.c_char_p, ctypes.c_ssize_t)
    _address = ctypes.pythonapi.PyBytes_AsString
    _address.restype = ctypes.c_void_p
    _address.argtypes = (ctypes.py_object,)


class BytesBuilder:
    """An uninitialised ``bytes`` of a given size and a writable view onto it."""

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
        """The finished object (call once, after every byte was written)."""
        self.view.release()
        result = self._result
        return result if isinstance(result, bytes) else bytes(result)


def new_bytes(size: int) -> BytesBuilder:
    """Start building a ``bytes`` object of exactly ``size`` bytes."""
    return BytesBuilder(size)
