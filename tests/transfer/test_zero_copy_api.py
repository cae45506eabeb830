"""The zero-copy API: BytesView results, get_into into caller memory, get_many pairs."""

from __future__ import annotations

import mmap
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import s3dlio
from s3dlio import BytesView

MiB = 1024 * 1024


@pytest.fixture(params=["file", "direct", "s3"])
def root(tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if request.param == "s3":
        request.getfixturevalue("s3_env")
        return f"s3://{request.getfixturevalue('new_s3_bucket')}/"
    return f"{request.param}://{tmp_path}/"


def test_bytes_view_behaves_like_read_only_bytes(root: str) -> None:
    data = bytes(range(256)) * 40
    s3dlio.put_bytes(root + "v.bin", data)
    view = s3dlio.get(root + "v.bin", zero_copy=True)
    assert isinstance(view, BytesView)
    assert isinstance(s3dlio.get(root + "v.bin"), bytes)  # the default stays bytes
    assert len(view) == len(data) and view == data and bytes(view) == data
    assert view[3] == data[3] and view[10:20] == data[10:20] and isinstance(view[10:20], BytesView)
    assert memoryview(view).readonly
    array = np.frombuffer(view, dtype=np.uint8)
    assert not array.flags.writeable and array.tobytes() == data
    assert np.shares_memory(array, np.frombuffer(view, dtype=np.uint8))  # no copy per access
    with warnings.catch_warnings():  # torch warns (once) that the memory is read-only
        warnings.simplefilter("ignore", UserWarning)
        tensor = torch.frombuffer(view, dtype=torch.uint8)
    assert tensor.numel() == len(data)
    assert tensor.data_ptr() == array.ctypes.data  # the same memory: no copy
    assert s3dlio.get_range(root + "v.bin", 5, 10, zero_copy=True) == data[5:15]


def test_large_zero_copy_reads_are_exact(root: str) -> None:
    s3dlio.configure(part_size=5 * MiB, range_get_threshold=5 * MiB)
    try:
        data = np.random.default_rng(3).integers(0, 256, 17 * MiB + 3, dtype=np.uint8).tobytes()
        s3dlio.put_bytes(root + "big.bin", data)
        assert s3dlio.get(root + "big.bin", zero_copy=True) == data
        assert s3dlio.get(root + "big.bin") == data
        assert s3dlio.get_range(root + "big.bin", 3, 12 * MiB) == data[3 : 3 + 12 * MiB]
    finally:
        s3dlio.reset_config()


@pytest.mark.parametrize("kind", ["bytearray", "numpy", "mmap", "memoryview"])
def test_get_into_fills_caller_memory(root: str, kind: str) -> None:
    s3dlio.configure(part_size=5 * MiB, range_get_threshold=5 * MiB)
    try:
        data = np.random.default_rng(4).integers(0, 256, 11 * MiB + 9, dtype=np.uint8).tobytes()
        s3dlio.put_bytes(root + "into.bin", data)
        size = len(data) + 100
        buffer: object = {
            "bytearray": lambda: bytearray(size),
            "numpy": lambda: np.zeros(size, dtype=np.uint8),
            "mmap": lambda: mmap.mmap(-1, size),
            "memoryview": lambda: memoryview(bytearray(size)),
        }[kind]()
        assert s3dlio.get_into(root + "into.bin", buffer) == len(data)
        assert bytes(memoryview(buffer)[: len(data)]) == data  # type: ignore[arg-type]
        assert bytes(memoryview(buffer)[len(data) :]) == bytes(100)  # type: ignore[arg-type]
    finally:
        s3dlio.reset_config()


def test_get_into_refuses_a_small_or_read_only_buffer(root: str) -> None:
    s3dlio.put_bytes(root + "s.bin", b"x" * 1000)
    small = bytearray(999)
    with pytest.raises(ValueError, match="too small"):
        s3dlio.get_into(root + "s.bin", small)
    assert small == bytearray(999)  # nothing written
    with pytest.raises(TypeError, match="read-only"):
        s3dlio.get_into(root + "s.bin", b"x" * 1000)
    with pytest.raises(TypeError, match="buffer protocol"):
        s3dlio.get_into(root + "s.bin", "not a buffer")


def test_get_many_returns_uri_view_pairs_in_input_order(root: str) -> None:
    items = [(f"{root}m/{i}", bytes([i]) * (100 + i)) for i in range(20)]
    s3dlio.put_many(items)
    uris = [uri for uri, _ in reversed(items)]
    pairs = s3dlio.get_many(uris, max_in_flight=3)
    assert [u for u, _ in pairs] == uris
    for (uri, data), (_, expected) in zip(pairs, reversed(items), strict=True):
        assert isinstance(data, BytesView) and data == expected, uri


def test_loader_zero_copy_items(root: str) -> None:
    items = [(f"{root}l/{i:02d}", bytes([i]) * 1000) for i in range(6)]
    s3dlio.put_many(items)
    loader = s3dlio.create_async_loader(root + "l/", {"batch_size": 3, "zero_copy": True})
    batches = list(loader)
    assert all(isinstance(item, BytesView) for batch in batches for item in batch)
    assert [bytes(i) for b in batches for i in b] == [d for _, d in items]
    default = s3dlio.create_async_loader(root + "l/", {"batch_size": 3})
    assert all(type(item) is bytes for batch in default for item in batch)
