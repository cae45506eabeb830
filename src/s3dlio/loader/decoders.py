"""Small decoders from an object's bytes to arrays, shared by the framework adapters.

All of them read from memory (no temporary files) and never unpickle: a file that would
need pickle to load raises ``ValueError``.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from .. import _sync
from .._buffers import BytesView, open_view
from .._optional import require
from ..ops import get_async

__all__ = ["decode_hdf5", "decode_npy", "decode_npz", "decode_tfrecord", "read_npz", "read_npz_async"]

Buffer = bytes | bytearray | memoryview | BytesView


def _stream(data: Buffer) -> io.BufferedIOBase:
    if isinstance(data, bytes):
        return io.BytesIO(data)  # shares the bytes object until written (no copy)
    if isinstance(data, bytearray | memoryview | BytesView):
        return open_view(data)  # zero-copy views: read in place
    raise TypeError(f"expected bytes, got {type(data).__name__}")


def decode_npz(data: Buffer) -> dict[str, np.ndarray[Any, Any]]:
    """Every array of an ``.npz`` archive (compressed or not), by name."""
    archive = np.load(_stream(data), allow_pickle=False)
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError("not an .npz archive (it looks like a single .npy array; use decode_npy)")
    with archive:
        return {name: archive[name] for name in archive.files}


def decode_npy(data: Buffer) -> np.ndarray[Any, Any]:
    """The array of an ``.npy`` file."""
    array = np.load(_stream(data), allow_pickle=False)
    if not isinstance(array, np.ndarray):
        raise ValueError("not an .npy file (it looks like an .npz archive; use decode_npz)")
    return array


def decode_hdf5(data: Buffer, dataset: str = "data") -> np.ndarray[Any, Any]:
    """Dataset ``dataset`` of an HDF5 file, read fully into memory."""
    h5py = require("h5py", "hdf5", "decoding HDF5 objects")  # slow to import: only when needed

    with h5py.File(_stream(data), "r") as file:
        if dataset not in file:
            raise KeyError(f"HDF5 file has no dataset {dataset!r}; it has {sorted(file.keys())}")
        node = file[dataset]
        if not isinstance(node, h5py.Dataset):
            raise KeyError(f"{dataset!r} in the HDF5 file is a group, not a dataset")
        return np.asarray(node[()])


def decode_tfrecord(data: Buffer, *, verify: bool = True) -> list[bytes]:
    """The record payloads of a TFRecord file (both CRC-32Cs of every record are checked).

    Raises ``TFRecordError`` (a ``ValueError``) naming the byte offset of a truncated or
    corrupt record.
    """
    from ..datagen.formats import iter_tfrecords

    return list(iter_tfrecords(data if isinstance(data, bytes) else memoryview(data), verify=verify))


async def read_npz_async(uri: str) -> dict[str, np.ndarray[Any, Any]]:
    """Read an ``.npz`` object from any backend and decode it."""
    return decode_npz(await get_async(uri, zero_copy=True))


def read_npz(uri: str) -> dict[str, np.ndarray[Any, Any]]:
    """Read an ``.npz`` object from any backend: ``{name: array}`` of any dtype."""
    return _sync.run(read_npz_async(uri))
