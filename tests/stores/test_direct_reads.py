"""direct:// reads: every path (whole, ranged, into a caller's buffer, many) at awkward sizes
and offsets, straight into aligned memory where the result is ours."""

from __future__ import annotations

import mmap
import os
from pathlib import Path

import numpy as np
import pytest

import s3dlio
from s3dlio.stores import direct

SIZES = [1, 4095, 4096, 4097, 3 * 4096 + 17, 256 * 1024, 9 * 1024 * 1024 + 3]


@pytest.fixture
def files(tmp_path: Path) -> dict[int, tuple[str, bytes]]:
    made = {}
    for size in SIZES:
        data = os.urandom(size)
        (tmp_path / f"f{size}").write_bytes(data)
        made[size] = (f"direct://{tmp_path}/f{size}", data)
    return made


@pytest.mark.parametrize("size", SIZES)
def test_whole_reads_match_the_file(files: dict[int, tuple[str, bytes]], size: int) -> None:
    uri, data = files[size]
    assert s3dlio.get(uri) == data
    view = s3dlio.get(uri, zero_copy=True)
    assert len(view) == size and bytes(view) == data
    [(got_uri, many)] = s3dlio.get_many([uri])
    assert got_uri == uri and bytes(many) == data


@pytest.mark.parametrize("size", SIZES)
def test_ranges_at_unaligned_offsets(files: dict[int, tuple[str, bytes]], size: int) -> None:
    uri, data = files[size]
    for offset in {0, 1, 4095, 4096, 4097, size // 2, size - 1}:
        for length in (1, 4096, 5000, size):
            want = data[offset : offset + length]
            assert s3dlio.get_range(uri, offset, length) == want, (offset, length)
            assert bytes(s3dlio.get_range(uri, offset, length, zero_copy=True)) == want


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("skew", [0, 1, 100])
def test_get_into_buffers_of_any_alignment(files: dict[int, tuple[str, bytes]], size: int, skew: int) -> None:
    uri, data = files[size]
    backing = bytearray(skew + size + 8)
    target = memoryview(backing)[skew:]
    assert s3dlio.get_into(uri, target) == size
    assert bytes(target[:size]) == data
    assert backing[:skew] == bytes(skew) and backing[skew + size :] == bytes(8)  # nothing outside


@pytest.mark.parametrize("size", [4096, 256 * 1024, 9 * 1024 * 1024 + 3])
def test_zero_copy_results_start_on_a_page(files: dict[int, tuple[str, bytes]], size: int) -> None:
    """Read straight into page-aligned memory (no staging copy), which also suits O_DIRECT writes
    and DMA to a device."""
    uri, _ = files[size]
    for view in (s3dlio.get(uri, zero_copy=True), s3dlio.get_many([uri])[0][1]):
        assert np.frombuffer(view, dtype=np.uint8).ctypes.data % direct.ALIGNMENT == 0


def test_the_descriptor_really_is_o_direct(files: dict[int, tuple[str, bytes]]) -> None:
    uri, _ = files[4096]
    fd = direct._open(uri.removeprefix("direct://"), os.O_RDONLY)
    try:
        assert direct._is_direct(fd)  # /tmp supports O_DIRECT: the paths above were the real ones
    finally:
        os.close(fd)


@pytest.mark.parametrize("size", SIZES)
def test_get_into_a_page_aligned_mmap(files: dict[int, tuple[str, bytes]], size: int) -> None:
    uri, data = files[size]
    with mmap.mmap(-1, size + 5000) as memory:
        assert s3dlio.get_into(uri, memory) == size
        assert memory[:size] == data and memory[size:] == bytes(5000)
