"""CRC-32C helpers: checksums of any buffer, and combining the checksums of adjacent pieces.

``google_crc32c`` (hardware accelerated) only accepts ``bytes`` and objects without a
buffer-release hook; numpy arrays qualify, so other buffers are viewed through numpy (no copy).
The GIL is released for ``bytes`` of 1 MiB and more.

:func:`combine` joins ``crc(a)`` and ``crc(b)`` into ``crc(a + b)`` knowing only ``len(b)``, in
O(log len(b)) steps (the method zlib uses for ``crc32_combine``), so parts read or written
concurrently, or the entries of a shard, never need a second pass over the data.
"""

from __future__ import annotations

from typing import Any

import google_crc32c
import numpy as np

__all__ = ["PREFIX", "combine", "extend", "format_checksum", "parse_checksum", "value"]

PREFIX = "crc32c:"
_POLY = 0x82F63B78  # CRC-32C (Castagnoli), bit-reflected


def _bytes_like(data: Any) -> Any:
    if isinstance(data, bytes | np.ndarray):
        return data
    return np.frombuffer(data, dtype=np.uint8)


def value(data: Any) -> int:
    """CRC-32C of any contiguous buffer."""
    return int(google_crc32c.value(_bytes_like(data)))


def extend(crc: int, data: Any) -> int:
    """Continue ``crc`` over ``data``."""
    return int(google_crc32c.extend(crc, _bytes_like(data)))


def _multiply(a: int, b: int) -> int:
    """``a * b`` modulo the CRC polynomial (both as reflected 32-bit polynomials)."""
    product = 0
    mask = 1 << 31
    while True:
        if a & mask:
            product ^= b
            if not a & (mask - 1):
                return product
        mask >>= 1
        b = (b >> 1) ^ _POLY if b & 1 else b >> 1


def _powers() -> list[int]:
    table = [1 << 30]  # x^1
    for _ in range(31):
        table.append(_multiply(table[-1], table[-1]))  # x^(2^k)
    return table


_X_POW_2K = _powers()


def _x_pow_8n(n: int) -> int:
    """x^(8n) modulo the polynomial: the shift applied by ``n`` zero bytes."""
    result = 1 << 31  # x^0
    k = 3
    while n:
        if n & 1:
            result = _multiply(_X_POW_2K[k & 31], result)
        n >>= 1
        k += 1
    return result


def combine(crc_a: int, crc_b: int, length_b: int) -> int:
    """The CRC-32C of ``a + b`` from ``crc(a)``, ``crc(b)`` and ``len(b)``."""
    if length_b <= 0:
        return crc_a
    return _multiply(_x_pow_8n(length_b), crc_a) ^ crc_b


def format_checksum(crc: int) -> str:
    """The manifest form: ``crc32c:`` and 8 lowercase hex digits."""
    return f"{PREFIX}{crc & 0xFFFFFFFF:08x}"


def parse_checksum(text: str) -> int:
    """Inverse of :func:`format_checksum`; ``ValueError`` for anything else."""
    if not isinstance(text, str) or not text.startswith(PREFIX):
        raise ValueError(f"not a crc32c checksum: {text!r}")
    return int(text[len(PREFIX) :], 16)
