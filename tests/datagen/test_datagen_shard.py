"""Sharded put(): rank/world_size and index_range write exactly their part of one dataset."""

from __future__ import annotations

from pathlib import Path

import pytest

import s3dlio
from s3dlio.datagen.put import shard_range


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("num", [0, 1, 7, 10])
@pytest.mark.parametrize("world", [1, 3, 4])
def test_shard_ranges_cover_the_range_once(num: int, world: int) -> None:
    ranges = [shard_range(num, r, world) for r in range(world)]
    covered = [i for lo, hi in ranges for i in range(lo, hi)]
    assert covered == list(range(num))
    sizes = [hi - lo for lo, hi in ranges]
    assert max(sizes) - min(sizes) <= 1


@pytest.mark.parametrize("object_type", ["random", "npz", "tfrecord", "parquet"])
def test_shards_make_up_the_single_call(tmp_path: Path, object_type: str) -> None:
    kw = {"object_type": object_type, "size": 40_000, "seed": 77, "dedup_factor": 2, "compress_factor": 2}
    whole = s3dlio.put(f"file://{tmp_path}/one/", 10, "f_{:03d}_of_{}", **kw)
    parts: list[str] = []
    for rank in range(3):
        parts += s3dlio.put(f"file://{tmp_path}/many/", 10, "f_{:03d}_of_{}", rank=rank, world_size=3, **kw)
    assert [u.replace("/many/", "/one/") for u in parts] == whole
    assert tree(tmp_path / "one") == tree(tmp_path / "many")


def test_index_range_and_progress(tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    uris = s3dlio.put(
        f"file://{tmp_path}/", 10, "o_{}", object_type="random", size=1000, seed=3,
        index_range=(4, 7), progress=lambda n, b: seen.append((n, b)),
    )  # fmt: skip
    assert [u.rsplit("/", 1)[1] for u in uris] == ["o_4", "o_5", "o_6"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o_4", "o_5", "o_6"]
    assert seen[-1] == (3, 3000)
    assert s3dlio.put(f"file://{tmp_path}/", 10, "o_{}", seed=3, index_range=(5, 5)) == []


def test_shard_to_s3_equals_single_call(s3_env: object, new_s3_bucket: str) -> None:
    kw = {"object_type": "npz", "size": 30_000, "seed": 5}
    whole = s3dlio.put(f"s3://{new_s3_bucket}/a/", 6, "x_{}", **kw)
    part = s3dlio.put(f"s3://{new_s3_bucket}/b/", 6, "x_{}", rank=1, world_size=2, **kw)
    assert [u.replace("/b/", "/a/") for u in part] == whole[3:]
    assert [bytes(s3dlio.get(u)) for u in part] == [bytes(s3dlio.get(u)) for u in whole[3:]]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"rank": 0, "world_size": 2}, "explicit seed"),
        ({"rank": 2, "world_size": 2, "seed": 1}, "rank must be < world_size"),
        ({"rank": 0, "seed": 1}, "go together"),
        ({"rank": 0, "world_size": 0, "seed": 1}, "world_size must be >= 1"),
        ({"rank": True, "world_size": 2, "seed": 1}, "rank must be an int"),
        ({"index_range": (3, 11), "seed": 1}, "stop <= num"),
        ({"index_range": (5, 4), "seed": 1}, "start <= stop"),
        ({"index_range": 3, "seed": 1}, "pair"),
        ({"index_range": (0, 2), "rank": 0, "world_size": 1, "seed": 1}, "not both"),
    ],
)
def test_bad_shards_are_refused_before_writing(tmp_path: Path, kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        s3dlio.put(f"file://{tmp_path}/", 10, "o_{}", **kwargs)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []
