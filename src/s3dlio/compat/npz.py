"""``generate_npz_bytes``: DLIO's fast path for building an NPZ sample file in one pass.

The result is what ``numpy.savez(f, x=..., y=...)`` writes (two stored, uncompressed members):
``x`` of the given shape and dtype filled with synthetic random bytes, and ``y``, ``num_samples``
int64 zeros (the labels). It is written in place into the returned ``bytes`` (no intermediate
buffer), with each chunk's CRC-32 computed while it is still in cache.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Sequence

import numpy as np

from ..datagen._crc import crc32
from ..datagen.generator import DataGenerator, U8Array, build_bytes

__all__ = ["generate_npz_bytes"]

_CHUNK = 4 * 1024 * 1024
_ZIP_LIMIT = 0xFFFFFFFF  # members up to 4 GiB - 1: no zip64 records needed
_DOSDATE = (1980 - 1980) << 9 | 1 << 5 | 1  # 1980-01-01, as zipfile writes for a zero timestamp


def _npy_header(shape: tuple[int, ...], dtype: np.dtype[np.generic]) -> bytes:
    out = io.BytesIO()
    header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(out, header)
    return out.getvalue()


def generate_npz_bytes(shape: Sequence[int], dtype: str = "<f4", num_samples: int = 1) -> bytes:
    """An ``.npz`` holding ``x`` (``shape``, ``dtype``, random bytes) and ``y`` (``num_samples`` zeros).

    ``numpy.load(io.BytesIO(data))`` reads it back. ``dtype`` is any numpy dtype string
    (``"<f4"``, ``"uint8"``, ...). Raises ``ValueError`` for negative dimensions, an object
    dtype, or a member of 4 GiB or more.
    """
    if isinstance(shape, int | str | bytes) or not all(
        isinstance(d, int | np.integer) and not isinstance(d, bool) for d in shape
    ):
        raise TypeError(f"shape must be a list of ints, got {shape!r}")
    dims = tuple(int(d) for d in shape)
    if any(d < 0 for d in dims):
        raise ValueError(f"shape must not have negative dimensions, got {dims}")
    if isinstance(num_samples, bool) or not isinstance(num_samples, int | np.integer) or num_samples < 0:
        raise ValueError(f"num_samples must be an int >= 0, got {num_samples!r}")
    kind = np.dtype(dtype)
    if kind.hasobject:
        raise ValueError(f"dtype {dtype!r} holds Python objects; pick a numeric dtype")
    x_header = _npy_header(dims, kind)
    y_header = _npy_header((int(num_samples),), np.dtype("<i8"))
    x_data = int(np.prod(dims, dtype=np.int64)) * kind.itemsize
    y_data = int(num_samples) * 8
    members = [(b"x.npy", x_header, x_data), (b"y.npy", y_header, y_data)]
    if any(len(h) + n > _ZIP_LIMIT for _, h, n in members):
        raise ValueError("generate_npz_bytes writes members below 4 GiB; use a smaller shape")
    offsets = []
    position = 0
    for name, header, size in members:
        offsets.append(position)
        position += 30 + len(name) + len(header) + size
    central_at = position
    central_size = sum(46 + len(name) for name, _, _ in members)
    total = central_at + central_size + 22

    def fill(out: U8Array) -> None:
        view = memoryview(out)  # type: ignore[arg-type]
        try:
            crcs = []
            for (name, header, size), start in zip(members, offsets, strict=True):
                data_at = start + 30 + len(name) + len(header)
                view[start + 30 : start + 30 + len(name)] = name
                view[start + 30 + len(name) : data_at] = header
                crc = zlib.crc32(header)
                if name == b"x.npy":
                    gen = DataGenerator(size)
                    for chunk_at in range(data_at, data_at + size, _CHUNK):
                        chunk = out[chunk_at : min(data_at + size, chunk_at + _CHUNK)]
                        gen.fill(chunk)
                        crc = crc32(chunk, crc)
                else:
                    out[data_at : data_at + size] = 0
                    crc = zlib.crc32(bytes(size), crc)
                crcs.append(crc)
                length = len(header) + size
                struct.pack_into(
                    "<4s2B4HL2L2H", view, start, b"PK\x03\x04", 20, 0, 0, 0, 0, _DOSDATE,
                    crc, length, length, len(name), 0,
                )  # fmt: skip
            position = central_at
            for (name, header, size), start, crc in zip(members, offsets, crcs, strict=True):
                length = len(header) + size
                struct.pack_into(
                    "<4s4B4HL2L5H2L", view, position, b"PK\x01\x02", 20, 3, 20, 0, 0, 0, 0,
                    _DOSDATE, crc, length, length, len(name), 0, 0, 0, 0, 0o644 << 16, start,
                )  # fmt: skip
                view[position + 46 : position + 46 + len(name)] = name
                position += 46 + len(name)
            struct.pack_into(
                "<4s4H2LH", view, position, b"PK\x05\x06", 0, 0, 2, 2, central_size, central_at, 0
            )
        finally:
            view.release()

    return build_bytes(total, fill)
