"""Whole-file writes to file:// and direct://: put_many's batches and O_DIRECT from any memory."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import s3dlio
from s3dlio._buffers import allocate

SIZES = [0, 1, 4095, 4096, 4097, 3 * 4096 + 17, 1024 * 1024 + 5, 3 * 1024 * 1024]


@pytest.mark.parametrize("scheme", ["file", "direct"])
def test_put_many_of_mixed_sizes_writes_every_file_exactly(tmp_path: Path, scheme: str) -> None:
    datas = [os.urandom(size) for size in SIZES * 3] + [os.urandom(5 * 1024 * 1024 + 1)]
    items = [(f"{scheme}://{tmp_path}/sub{i % 2}/f{i}", data) for i, data in enumerate(datas)]
    s3dlio.put_many(items, max_in_flight=4)
    for i, data in enumerate(datas):
        assert (tmp_path / f"sub{i % 2}" / f"f{i}").read_bytes() == data
    assert not [p for p in tmp_path.rglob(".*")]  # no temporary file left behind


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("skew", [0, 1])
def test_direct_writes_from_aligned_and_unaligned_memory(tmp_path: Path, size: int, skew: int) -> None:
    """Page-aligned memory is written in place, anything else through a staging buffer; both
    give the exact file (padded tail trimmed)."""
    source = np.frombuffer(os.urandom(size + skew), dtype=np.uint8)
    memory = allocate(size + skew)
    memory[:] = source.data
    data = memory[skew:]
    uri = f"direct://{tmp_path}/f"
    s3dlio.put_bytes(uri, data)
    assert (tmp_path / "f").stat().st_size == size
    assert (tmp_path / "f").read_bytes() == source[skew:].tobytes()


def test_a_failing_file_of_a_batch_names_its_uri(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_bytes(b"a file where a directory is needed")
    items = [(f"file://{tmp_path}/ok{i}", b"x") for i in range(5)] + [(f"file://{tmp_path}/blocker/f", b"y")]
    with pytest.raises(s3dlio.S3dlioError, match="blocker/f"):
        s3dlio.put_many(items)


def test_put_many_across_local_stores_keeps_every_item(tmp_path: Path) -> None:
    """Batches hold items of one store; alternating schemes still write each item where it says."""
    items = [
        (f"{'file' if i % 3 else 'direct'}://{tmp_path}/{i % 3}/f{i}", os.urandom(100 + i)) for i in range(50)
    ]
    s3dlio.put_many(items, max_in_flight=3)
    for uri, data in items:
        assert Path(uri.split("://", 1)[1]).read_bytes() == data
