"""Checksums over any buffer without copying it: CRC-32 (zip) and CRC-32C (TFRecord).

CRC-32: ``zlib.crc32`` takes any buffer and releases the GIL above 5 KiB, but the usual zlib 1.2/1.3
computes it at about 4 GB/s, as slow as generating the data. Where the system has libdeflate
(``libdeflate.so.0``, a common package), its PCLMUL CRC-32 (3-4x faster, same result) is used
through ctypes; otherwise zlib. ``google_crc32c.value`` and
``extend`` only take ``bytes`` (read-only buffers without a release hook), so checksumming part
of a writable buffer would need a copy; instead we call ``crc32c_extend`` of the crc32c library
that google-crc32c's extension is linked against, through ctypes (which also releases the GIL),
and fall back to a copy plus ``google_crc32c.extend`` when that library cannot be found.
"""

from __future__ import annotations

import ctypes
import glob
import os
import zlib
from collections.abc import Callable
from typing import Any

import google_crc32c
import numpy as np

__all__ = ["crc32", "crc32_native", "crc32c_at", "crc32c_native"]


def _load_checked(
    libraries: list[str], symbol: str, check_value: int
) -> Callable[[int, int, int], int] | None:
    """``symbol(crc, address, length)`` from the first library that has it and computes the
    standard check value over ``b"123456789"``; None if none does."""
    for library in libraries:
        try:
            fn = getattr(ctypes.CDLL(library), symbol)
        except (OSError, AttributeError):
            continue
        fn.argtypes = (ctypes.c_uint32, ctypes.c_void_p, ctypes.c_size_t)
        fn.restype = ctypes.c_uint32
        probe = ctypes.create_string_buffer(b"123456789", 9)
        if fn(0, ctypes.addressof(probe), 9) == check_value:
            return fn  # type: ignore[no-any-return]
    return None


def _load_libdeflate() -> Callable[[int, int, int], int] | None:
    names = ["libdeflate.so.0", "libdeflate.so", "libdeflate.0.dylib", "libdeflate.dylib"]
    return _load_checked(names, "libdeflate_crc32", 0xCBF43926)


_deflate_crc32 = _load_libdeflate()
crc32_native = _deflate_crc32 is not None
"""True when CRC-32 uses libdeflate (otherwise zlib)."""


def crc32(arr: Any, crc: int = 0) -> int:
    """zip's CRC-32 of a C-contiguous uint8 numpy array (or any buffer), continuing ``crc``."""
    if _deflate_crc32 is not None and isinstance(arr, np.ndarray) and len(arr) >= 4096:
        return _deflate_crc32(crc, arr.__array_interface__["data"][0], len(arr))
    return zlib.crc32(arr, crc)


def _load() -> Callable[[int, int, int], int] | None:
    candidates: list[str] = []
    try:
        from google_crc32c import _crc32c

        # dlsym on the extension also searches the libraries it was linked against
        candidates.append(_crc32c.__file__)
    except ImportError:  # pure-Python build of google-crc32c
        pass
    package = os.path.dirname(os.path.dirname(google_crc32c.__file__))
    candidates += sorted(glob.glob(os.path.join(package, "google_crc32c.libs", "libcrc32c*.so*")))
    return _load_checked(candidates, "crc32c_extend", 0xE3069283)


_extend = _load()
crc32c_native = _extend is not None
"""True when CRC-32C runs on buffers in place (otherwise each call copies its range once)."""


def crc32c_at(arr: Any, start: int, end: int, crc: int = 0) -> int:
    """CRC-32C of ``arr[start:end]`` (a C-contiguous uint8 numpy array), continuing ``crc``."""
    if end <= start:
        return crc
    if _extend is not None:
        address = arr.__array_interface__["data"][0]
        return _extend(crc, address + start, end - start)
    return google_crc32c.extend(crc, np.ascontiguousarray(arr[start:end]).tobytes())  # type: ignore[no-any-return]
