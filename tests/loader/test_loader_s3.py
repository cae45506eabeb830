"""The loader against S3 (SeaweedFS on loopback)."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
from stateful import check_resume

import s3dlio
from conftest import flat, item_bytes
from s3dlio.loader import PyBytesAsyncDataLoader, create_async_loader, create_dataset, read_npz

MiB = 1024 * 1024


@pytest.fixture
def s3_prefix(s3_env: object, new_s3_bucket: str) -> str:
    prefix = f"s3://{new_s3_bucket}/train/"
    s3dlio.put_many([(f"{prefix}obj_{i:05d}.bin", item_bytes(i, 300)) for i in range(37)])
    return prefix


def test_s3_epoch_exactly_once_sharded_and_resumable(s3_prefix: str) -> None:
    ds = create_dataset(s3_prefix)
    assert len(ds) == 37 and ds.sizes == [300] * 37 and ds.uris == sorted(ds.uris)
    per_rank = [
        flat(
            list(
                create_async_loader(
                    ds, {"batch_size": 5, "shuffle": True, "seed": 3, "shard_rank": r, "shard_world_size": 2}
                )
            )
        )
        for r in range(2)
    ]
    assert len(per_rank[0]) == len(per_rank[1]) == 19
    assert set(per_rank[0]) | set(per_rank[1]) == set(range(37))
    check_resume(
        lambda: create_async_loader(ds, {"batch_size": 4, "shuffle": True, "seed": 9, "max_concurrency": 3}),
        lambda loader, n: [flat([b]) for b in _take(loader, n)],
        midpoints=[2, 7],
    )


def _take(loader: PyBytesAsyncDataLoader, n: int | None) -> list[list[bytes]]:
    out = []
    for batch in loader:
        out.append(batch)
        if n is not None and len(out) == n:
            break
    return out


def test_s3_large_objects_in_ranges_and_missing_object(s3_env: object, new_s3_bucket: str) -> None:
    prefix = f"s3://{new_s3_bucket}/big/"
    payloads = [os.urandom(11 * MiB + 3), os.urandom(1000)]
    s3dlio.put_many([(f"{prefix}b{i}.bin", p) for i, p in enumerate(payloads)])
    loader = create_async_loader(prefix, {"batch_size": 2, "part_size": 5 * MiB})
    assert list(loader) == [payloads]
    assert loader.stats.requests == 2  # one per item; the engine splits the large one
    loader = create_async_loader(prefix, {"batch_size": 1})
    s3dlio.delete(f"{prefix}b1.bin")
    with pytest.raises(s3dlio.NotFoundError) as info:
        list(loader)
    assert f"{prefix}b1.bin" in str(info.value)
    assert loader.position == 1


def test_s3_empty_prefix_and_read_npz(s3_env: object, new_s3_bucket: str) -> None:
    with pytest.raises(ValueError, match="no objects under"):
        create_dataset(f"s3://{new_s3_bucket}/nothing/")
    arrays = {"f": np.linspace(0, 1, 7, dtype=np.float16), "i": np.arange(6, dtype=">i8").reshape(2, 3)}
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    s3dlio.put_bytes(f"s3://{new_s3_bucket}/a.npz", buf.getvalue())
    got = read_npz(f"s3://{new_s3_bucket}/a.npz")
    assert set(got) == set(arrays)
    for name, array in arrays.items():
        assert got[name].dtype == array.dtype
        np.testing.assert_array_equal(got[name], array)
