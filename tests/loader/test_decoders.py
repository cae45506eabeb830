"""Decoders (bytes -> arrays) and read_npz on file://."""

from __future__ import annotations

import io
from pathlib import Path

import h5py
import numpy as np
import pytest

import s3dlio
from s3dlio.datagen.formats import frame_record
from s3dlio.loader import decode_hdf5, decode_npy, decode_npz, decode_tfrecord, read_npz

DTYPES = [
    "bool",
    "int8",
    "uint8",
    "int16",
    "uint16",
    "<i4",
    ">i4",
    "int64",
    "uint64",
    "float16",
    "float32",
    ">f8",
    "complex64",
    "complex128",
    "datetime64[ns]",
    "U5",
    "S3",
]


def sample_arrays() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    arrays: dict[str, np.ndarray] = {}
    for dtype in DTYPES:
        raw = rng.integers(0, 100, size=(3, 4))
        arrays[f"a_{dtype.replace('[', '_').replace(']', '').replace('<', 'le').replace('>', 'be')}"] = (
            raw.astype(dtype) if not dtype.startswith(("U", "S")) else raw.astype(str).astype(dtype)
        )
    arrays["scalar"] = np.array(7, dtype=np.int32)
    arrays["empty"] = np.zeros((0, 5), dtype=np.float32)
    arrays["fortran"] = np.asfortranarray(rng.random((4, 3)))
    arrays["record"] = np.array([(1, 2.5)], dtype=[("a", "<i4"), ("b", "<f8")])
    return arrays


def npz_bytes(arrays: dict[str, np.ndarray], compressed: bool) -> bytes:
    buf = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buf, **arrays)  # type: ignore[arg-type]
    return buf.getvalue()


def assert_same(got: dict[str, np.ndarray], want: dict[str, np.ndarray]) -> None:
    assert set(got) == set(want)
    for name, array in want.items():
        assert got[name].dtype == array.dtype, name
        assert got[name].shape == array.shape, name
        np.testing.assert_array_equal(got[name], array)


@pytest.mark.parametrize("compressed", [False, True])
def test_decode_npz_every_dtype(compressed: bool) -> None:
    arrays = sample_arrays()
    assert_same(decode_npz(npz_bytes(arrays, compressed)), arrays)
    assert_same(decode_npz(memoryview(npz_bytes(arrays, compressed))), arrays)


@pytest.mark.parametrize("compressed", [False, True])
def test_read_npz_from_file_uri(tmp_path: Path, compressed: bool) -> None:
    arrays = sample_arrays()
    path = tmp_path / "x.npz"
    path.write_bytes(npz_bytes(arrays, compressed))
    assert_same(read_npz(f"file://{path}"), arrays)
    with pytest.raises(s3dlio.NotFoundError, match=r"nope\.npz"):
        read_npz(f"file://{tmp_path}/nope.npz")


def test_npz_with_pickled_objects_is_refused() -> None:
    buf = io.BytesIO()
    np.savez(buf, obj=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError):
        decode_npz(buf.getvalue())


def test_decode_npy() -> None:
    array = np.arange(12, dtype=">u2").reshape(3, 4)
    buf = io.BytesIO()
    np.save(buf, array)
    got = decode_npy(buf.getvalue())
    assert got.dtype == array.dtype
    np.testing.assert_array_equal(got, array)
    with pytest.raises(ValueError, match="npz"):
        decode_npy(npz_bytes({"a": array}, False))
    with pytest.raises(ValueError, match="npy"):
        decode_npz(buf.getvalue())
    with pytest.raises(TypeError):
        decode_npy("text")  # type: ignore[arg-type]


def test_decode_hdf5() -> None:
    buf = io.BytesIO()
    data = np.arange(20, dtype=np.float32).reshape(4, 5)
    with h5py.File(buf, "w") as f:
        f.create_dataset("data", data=data)
        f.create_dataset("grp/labels", data=np.array([1, 2, 3], dtype=np.int64))
    raw = buf.getvalue()
    np.testing.assert_array_equal(decode_hdf5(raw), data)
    np.testing.assert_array_equal(decode_hdf5(raw, "grp/labels"), [1, 2, 3])
    with pytest.raises(KeyError, match="missing"):
        decode_hdf5(raw, "missing")
    with pytest.raises(KeyError, match="group"):
        decode_hdf5(raw, "grp")


def test_decode_tfrecord_checks_crcs() -> None:
    payloads = [b"", b"one", bytes(range(256)) * 10]
    stream = b"".join(frame_record(p) for p in payloads)
    assert decode_tfrecord(stream) == payloads
    corrupt = bytearray(stream)
    corrupt[len(frame_record(b"")) + 12] ^= 0xFF  # a payload byte of the second record
    with pytest.raises(ValueError, match="CRC"):
        decode_tfrecord(bytes(corrupt))
    assert len(decode_tfrecord(bytes(corrupt), verify=False)) == 3
    with pytest.raises(ValueError, match="truncated"):
        decode_tfrecord(stream[:-2])
