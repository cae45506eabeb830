"""Item 13: a local checkpoint commit is durable, and discovery survives a corrupt manifest.

Durability: with fsync off by default, a manifest could reach the disk before the shard data it
commits, so a power loss could leave a committed checkpoint with missing data. The commit must
flush the shard, its directories and the manifest (the cost is per checkpoint, not per write),
whatever ``configure(fsync=...)`` says. The spy below records what ``os.fsync`` was called on
(and still calls it): there is no other way to observe a flush without pulling the plug.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import s3dlio
from s3dlio.checkpoint import CheckpointStore
from s3dlio.errors import IntegrityError


@pytest.fixture
def fsynced(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    real = os.fsync

    def spy(fd: int) -> None:
        seen.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(os, "fsync", spy)
    return seen


@pytest.mark.parametrize("scheme", ["file", "direct"])
def test_commit_flushes_shard_manifest_and_directories(
    tmp_path: Path, fsynced: list[str], scheme: str
) -> None:
    s3dlio.reset_config()
    assert s3dlio.get_config().fsync is False  # the default: the checkpoint commit flushes anyway
    base = tmp_path / "ckpt"
    store = CheckpointStore(f"{scheme}://{base}")
    info = store.save(3, {"w": np.arange(1000)})
    shard = next((base / "shards").rglob("rank-0.bin"))
    manifest = base / info.uri.rsplit("/", 2)[-2] / info.uri.rsplit("/", 1)[-1]
    assert manifest.exists()

    def first(predicate: object) -> int:
        return next(i for i, path in enumerate(fsynced) if predicate(path))  # type: ignore[operator]

    shard_at = first(lambda p: p == str(shard))
    shard_dirs_at = [first(lambda p, d=d: p == str(d)) for d in (shard.parent, base / "shards")]
    manifest_at = first(lambda p: p.startswith(f"{manifest.parent}/") and manifest.name in p)
    manifest_dir_at = first(lambda p: p == str(manifest.parent))
    assert first(lambda p: p == str(base)) >= 0
    assert shard_at < manifest_at and max(shard_dirs_at) < manifest_at  # data before the commit
    assert manifest_at < manifest_dir_at


def test_discovery_skips_a_corrupt_latest_manifest(tmp_path: Path) -> None:
    """A torn or corrupt newest manifest: warn, and fall back to the previous committed step."""
    store = CheckpointStore(f"file://{tmp_path}/ckpt")
    store.save(1, {"w": np.full(3, 1)})
    info = store.save(2, {"w": np.full(3, 2)})
    manifest = Path(info.uri.removeprefix("file://"))
    manifest.write_bytes(manifest.read_bytes()[:40])  # torn write
    with pytest.warns(RuntimeWarning, match="ckpt-2-"):
        latest = store.latest()
    assert latest is not None and latest.step == 1
    with pytest.warns(RuntimeWarning, match="ckpt-2-"):
        np.testing.assert_array_equal(store.load()["w"], np.full(3, 1))
    with pytest.warns(RuntimeWarning, match="ckpt-2-"):
        assert [c.step for c in store.list()] == [1]
    with pytest.raises(IntegrityError, match="ckpt-2-"):
        store.reader(2)  # asked for explicitly: no silent substitute


def test_only_corrupt_manifests_is_an_error_not_nothing(tmp_path: Path) -> None:
    store = CheckpointStore(f"file://{tmp_path}/ckpt")
    info = store.save(1, {"w": np.full(3, 1)})
    Path(info.uri.removeprefix("file://")).write_bytes(b"{not json")
    with pytest.warns(RuntimeWarning), pytest.raises(IntegrityError, match="ckpt-1-"):
        store.reader()
