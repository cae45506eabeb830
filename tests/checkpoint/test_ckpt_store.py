"""CheckpointStore: steps, latest = highest committed step, retention, deletes, legacy manifests."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from ckpt_helpers import file_uri

from s3dlio import put_bytes
from s3dlio.checkpoint import CheckpointStore, create_checkpoint_reader
from s3dlio.checkpoint._crc import value
from s3dlio.errors import NotFoundError


def _save(store: CheckpointStore, step: int, epoch: int = 0, **meta: object) -> None:
    with store.writer(step, epoch=epoch) as writer:
        writer.save_array("w", np.full(100, step, dtype=np.int64))
        writer.finalize(metadata={"step": step, **meta})


def test_steps_list_and_latest(tmp_path: Path) -> None:
    store = CheckpointStore(file_uri(tmp_path))
    assert store.list() == [] and store.latest() is None and not store.exists()
    start = datetime.now(UTC)
    for step, epoch in ((10, 1), (30, 3), (20, 2)):  # the highest step is not the last written
        _save(store, step, epoch, lr=0.1 * step)
    assert store.steps() == [10, 20, 30]
    listing = store.list()
    assert [c.step for c in listing] == [10, 20, 30]
    assert [c.epoch for c in listing] == [1, 2, 3]
    assert all(c.size == 800 and c.world_size == 1 for c in listing)
    assert all(c.time is not None and c.time >= start.replace(microsecond=0) for c in listing)
    assert listing[1].metadata == {"step": 20, "lr": 2.0}
    latest = store.latest()
    assert latest is not None and latest.step == 30
    reader = store.reader()
    assert reader.step == 30 and reader.epoch == 3
    assert reader.metadata == {"step": 30, "lr": 3.0}
    np.testing.assert_array_equal(store.load()["w"], np.full(100, 30))
    np.testing.assert_array_equal(store.load(10)["w"], np.full(100, 10))
    assert store.exists(20) and not store.exists(21)
    # latest.json follows the original's format and points at the highest step
    hint = json.loads((tmp_path / "ckpt" / "latest.json").read_text())
    assert hint["global_step"] == 30 and hint["manifest_key"].startswith("manifests/ckpt-30-")


def test_latest_json_is_only_a_hint(tmp_path: Path) -> None:
    uri = file_uri(tmp_path)
    store = CheckpointStore(uri)
    _save(store, 1)
    _save(store, 2)
    stale = {"manifest_key": "manifests/ckpt-1-x.json", "global_step": 1, "ts": "x"}
    (tmp_path / "ckpt" / "latest.json").write_text(json.dumps(stale))
    assert create_checkpoint_reader(uri).step == 2
    (tmp_path / "ckpt" / "latest.json").unlink()
    assert create_checkpoint_reader(uri).step == 2


def test_resave_step_replaces_it(tmp_path: Path) -> None:
    store = CheckpointStore(file_uri(tmp_path))
    _save(store, 5, note="first")
    _save(store, 5, note="second")
    assert store.steps() == [5]
    assert store.reader(5).metadata == {"step": 5, "note": "second"}
    assert len(list((tmp_path / "ckpt" / "manifests").iterdir())) == 1
    assert len(list((tmp_path / "ckpt" / "shards").iterdir())) == 1


def test_keep_last(tmp_path: Path) -> None:
    store = CheckpointStore(file_uri(tmp_path), keep_last=2)
    for step in range(1, 6):
        _save(store, step)
    assert store.steps() == [4, 5]
    assert len(list((tmp_path / "ckpt" / "shards").iterdir())) == 2
    plain = CheckpointStore(file_uri(tmp_path))
    assert plain.prune(1) == [4]
    assert plain.steps() == [5]


def test_delete_step(tmp_path: Path) -> None:
    store = CheckpointStore(file_uri(tmp_path))
    for step in (1, 2, 3):
        _save(store, step)
    assert store.delete(3) == 2  # its manifest and its shard
    assert store.steps() == [1, 2]
    assert store.latest() is not None and store.latest().step == 2  # type: ignore[union-attr]
    hint = json.loads((tmp_path / "ckpt" / "latest.json").read_text())
    assert hint["global_step"] == 2
    with pytest.raises(NotFoundError, match="step 3"):
        store.delete(3)
    store.delete(1)
    store.delete(2)
    assert store.steps() == [] and not (tmp_path / "ckpt" / "latest.json").exists()
    assert not list((tmp_path / "ckpt").rglob("*.bin"))


def test_save_and_load_dict(tmp_path: Path) -> None:
    store = CheckpointStore(file_uri(tmp_path))
    info = store.save(
        7,
        {"w": np.eye(3), "s": np.float32(2.5), "raw": b"\x01\x02", "cfg": {"a": [1, 2]}},
        epoch=2,
        metadata={"k": "v"},
    )
    assert info.step == 7 and info.epoch == 2 and info.metadata == {"k": "v"}
    loaded = store.load()
    np.testing.assert_array_equal(loaded["w"], np.eye(3))
    assert loaded["s"] == np.float32(2.5) and loaded["s"].shape == ()
    assert loaded["raw"] == b"\x01\x02" and loaded["cfg"] == {"a": [1, 2]}


def test_cleanup_removes_unreferenced_shards(tmp_path: Path) -> None:
    store = CheckpointStore(file_uri(tmp_path))
    _save(store, 1)
    orphan = store.writer(2, rank=0, world_size=1)
    orphan.save_array("x", np.zeros(10))
    orphan.finish_shard()  # visible shard, never committed
    assert store.cleanup(min_age=3600) == 0  # too young: perhaps a save in progress
    two_hours_ago = time.time() - 7200
    os.utime(tmp_path / "ckpt" / orphan.key, (two_hours_ago, two_hours_ago))  # no sleep: age it
    assert store.cleanup(min_age=3600) == 1
    assert store.steps() == [1]
    np.testing.assert_array_equal(store.load(1)["w"], np.full(100, 1))


def test_reads_a_checkpoint_written_by_the_original(tmp_path: Path) -> None:
    """The original's manifests (no entries) load; their opaque shards come back via read_shard."""
    uri = file_uri(tmp_path)
    data = b"model weights of the original"
    put_bytes(f"{uri}/shards/ckpt-100-20240101-120000/rank-0.bin", data)
    manifest = {
        "format_version": 1,
        "framework": "torch",
        "global_step": 100,
        "epoch": 10,
        "wall_time": "2024-01-01T12:00:00.123456789+00:00",
        "world_size": 1,
        "shards": [
            {
                "rank": 0,
                "key": "shards/ckpt-100-20240101-120000/rank-0.bin",
                "size": len(data),
                "etag": None,
                "checksum": None,
            }
        ],
        "status": "complete",
        "user_meta": {"model": "resnet50"},
    }
    put_bytes(f"{uri}/manifests/ckpt-100-20240101-120000.json", json.dumps(manifest).encode())
    reader = create_checkpoint_reader(uri)
    assert reader.step == 100 and reader.epoch == 10
    assert reader.metadata == {"model": "resnet50"}
    assert reader.time is not None and reader.time.year == 2024
    assert reader.read_shard(0) == data
    assert reader.names() == []
    with pytest.raises(NotFoundError, match="read_shard"):
        reader.load_array("anything")
    assert reader.verify() == len(data)
    # our own shards' checksums are filled in, so read_shard verifies them
    store = CheckpointStore(uri)
    _save(store, 200)
    newest = store.reader()
    raw = newest.read_shard()
    assert newest.shards()[0].crc32c == value(raw)
    assert store.steps() == [100, 200]
