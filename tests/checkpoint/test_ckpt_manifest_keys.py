"""Item 6: a shard key read from a manifest is untrusted input, never a path to follow.

A manifest whose shard key was ``../victim`` made ``store.delete()`` unlink a file outside the
checkpoint. Every key must be relative, under ``shards/``, without ``..``, ``.`` or empty segments.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from ckpt_helpers import file_uri

from s3dlio.checkpoint import CheckpointStore, ShardInfo
from s3dlio.checkpoint.manifest import Manifest
from s3dlio.errors import IntegrityError

BAD_KEYS = [
    "../victim",
    "shards/../../victim",
    "shards/ckpt-1-x/../../../victim",
    "/etc/passwd",
    "shards//rank-0.bin",
    "shards/./rank-0.bin",
    "shards/",
    "manifests/ckpt-1-x.json",
    "latest.json",
    "",
    "shards/a\\..\\..\\victim",
    "shards/a\x00b",
]


def _manifest(key: str) -> dict[str, object]:
    return {
        "format_version": 1,
        "framework": "s3dlio",
        "global_step": 1,
        "epoch": 0,
        "wall_time": "2026-01-01T00:00:00+00:00",
        "world_size": 1,
        "shards": [{"rank": 0, "key": key, "size": 6, "etag": None, "checksum": None}],
        "status": "complete",
        "user_meta": None,
    }


@pytest.mark.parametrize("key", BAD_KEYS)
def test_a_manifest_with_a_bad_shard_key_is_rejected(key: str) -> None:
    with pytest.raises(ValueError, match="shard key"):
        Manifest.from_bytes(json.dumps(_manifest(key)).encode())


@pytest.mark.parametrize("key", BAD_KEYS)
def test_shard_info_rejects_a_bad_key(key: str) -> None:
    with pytest.raises(ValueError, match="shard key"):
        ShardInfo(rank=0, key=key, size=0, crc32c=None, step=1, world_size=1)


def test_delete_never_follows_a_manifest_out_of_the_checkpoint(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"secret")
    uri = file_uri(tmp_path)
    store = CheckpointStore(uri)
    store.save(2, {"w": np.zeros(2)})
    manifest = tmp_path / "ckpt" / "manifests" / "ckpt-1-20260101-000000.json"
    manifest.write_text(json.dumps(_manifest("../victim")))
    with pytest.raises(IntegrityError, match="ckpt-1-"):
        store.reader(1)
    store.delete(1)
    assert victim.read_bytes() == b"secret"
    assert not manifest.exists()
    assert store.steps() == [2]


def test_commit_rejects_a_forged_shard_info(tmp_path: Path) -> None:
    """ShardInfo objects arrive pickled from other ranks; unpickling skips __init__ checks."""
    store = CheckpointStore(file_uri(tmp_path))
    writer = store.writer(1, rank=0, world_size=1)
    writer.save_array("a", np.zeros(3))
    info = writer.finish_shard()
    forged = object.__new__(ShardInfo)
    for name in ShardInfo.__slots__:
        object.__setattr__(forged, name, getattr(info, name))
    object.__setattr__(forged, "key", "../victim")
    with pytest.raises(ValueError, match="shard key"):
        store.commit(1, [forged])
    assert store.steps() == []


def test_good_keys_still_work(tmp_path: Path) -> None:
    store = CheckpointStore(file_uri(tmp_path))
    store.save(1, {"w": np.arange(3)})
    np.testing.assert_array_equal(store.load(1)["w"], np.arange(3))
    legacy = "shards/ckpt-100-20240101-120000/rank-0.bin"  # the original's layout
    assert ShardInfo(rank=0, key=legacy, size=1, crc32c=None, step=1, world_size=1).key == legacy
