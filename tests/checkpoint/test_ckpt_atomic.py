"""Atomic commits and verified reads: crashes, aborts, re-writes and corruption."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from ckpt_helpers import file_uri, run_python

from s3dlio.checkpoint import CheckpointStore, create_checkpoint_reader, create_checkpoint_writer
from s3dlio.errors import IntegrityError, NotFoundError


def _commit(uri: str, value: float, step: int = 0) -> None:
    with create_checkpoint_writer(uri, step=step) as writer:
        writer.save_array("w", np.full((1000, 100), value))
        writer.save_array("big", np.full(3_000_000, value))  # 24 MB: streamed in several parts
        writer.save_object("meta", {"value": value})


def _assert_holds(uri: str, value: float) -> None:
    reader = create_checkpoint_reader(uri)
    assert np.all(reader.load_array("w") == value)
    assert np.all(reader.load_array("big") == value)
    assert reader.load_object("meta") == {"value": value}
    reader.verify()


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_abandoned_writer_leaves_previous_checkpoint(tmp_path: Path) -> None:
    uri = file_uri(tmp_path)
    _commit(uri, 1.0)
    writer = create_checkpoint_writer(uri)
    writer.save_array("w", np.full((1000, 100), 2.0))
    writer.save_array("big", np.full(3_000_000, 2.0))
    del writer  # never finalized
    _assert_holds(uri, 1.0)


def test_abandoned_first_writer_means_no_checkpoint(tmp_path: Path) -> None:
    uri = file_uri(tmp_path)
    writer = create_checkpoint_writer(uri)
    writer.save_array("w", np.zeros(10))
    with pytest.raises(NotFoundError, match="no committed checkpoint"):
        create_checkpoint_reader(uri)
    writer.abort()


def test_exception_inside_with_aborts(tmp_path: Path) -> None:
    uri = file_uri(tmp_path)
    _commit(uri, 1.0)
    before = _files(tmp_path)
    with pytest.raises(RuntimeError, match="boom"), create_checkpoint_writer(uri) as writer:
        writer.save_array("w", np.full((1000, 100), 3.0))
        raise RuntimeError("boom")
    _assert_holds(uri, 1.0)
    assert _files(tmp_path) == before  # nothing left behind


CRASH = """
import os, sys
import numpy as np
from s3dlio.checkpoint import create_checkpoint_writer
writer = create_checkpoint_writer(sys.argv[1] if len(sys.argv) > 1 else {uri!r})
writer.save_array("w", np.full((1000, 100), 9.0))
writer.save_array("big", np.full(3_000_000, 9.0))
print("saved", flush=True)
os._exit(3)  # dies before finalize()
"""


def test_killed_writer_leaves_previous_checkpoint(tmp_path: Path) -> None:
    uri = file_uri(tmp_path)
    _commit(uri, 1.0)
    result = run_python(CRASH.format(uri=uri))
    assert result.returncode == 3 and "saved" in result.stdout, result.stderr
    _assert_holds(uri, 1.0)
    # the crashed writer's partial file is invisible, and cleanup() removes it
    leftovers = [p for p in tmp_path.rglob("*") if p.is_file() and ".s3dlio-tmp-" in p.name]
    assert leftovers
    store = CheckpointStore(uri)
    assert store.cleanup(min_age=3600) == 0  # too young: a save may still be running
    assert store.cleanup(min_age=0) == len(leftovers)
    _assert_holds(uri, 1.0)


def test_killed_first_writer_means_no_checkpoint(tmp_path: Path) -> None:
    uri = file_uri(tmp_path)
    result = run_python(CRASH.format(uri=uri))
    assert result.returncode == 3, result.stderr
    with pytest.raises(NotFoundError, match="no committed checkpoint"):
        create_checkpoint_reader(uri)


def test_rewrite_does_not_clobber_committed_data(tmp_path: Path) -> None:
    uri = file_uri(tmp_path)
    _commit(uri, 1.0)
    old_reader = create_checkpoint_reader(uri)
    old_files = set(_files(tmp_path))
    writer = create_checkpoint_writer(uri)
    writer.save_array("w", np.full((1000, 100), 2.0))
    writer.save_array("big", np.full(3_000_000, 2.0))
    writer.save_object("meta", {"value": 2.0})
    # mid-way: the committed checkpoint is intact, for old and new readers alike
    assert np.all(old_reader.load_array("big") == 1.0)
    _assert_holds(uri, 1.0)
    assert old_files <= set(_files(tmp_path))
    writer.finalize()
    _assert_holds(uri, 2.0)
    # the replaced attempt was garbage-collected after the commit
    shards = [f for f in _files(tmp_path) if f.startswith("ckpt/shards/")]
    manifests = [f for f in _files(tmp_path) if f.startswith("ckpt/manifests/")]
    assert len(shards) == 1 and len(manifests) == 1
    assert not old_files & set(shards + manifests)


def _shard_path(tmp_path: Path) -> Path:
    (shard,) = (tmp_path / "ckpt" / "shards").rglob("rank-0.bin")
    return shard


def test_flipped_byte_raises_integrity_error_naming_the_array(tmp_path: Path) -> None:
    uri = file_uri(tmp_path)
    with create_checkpoint_writer(uri) as writer:
        writer.save_array("first", np.arange(1000, dtype=np.int64))
        writer.save_array("second", np.arange(3_000_000, dtype=np.float64))  # multi-part
        writer.save_bytes("third", b"abc" * 100)
    reader = create_checkpoint_reader(uri)
    entry = reader.entry("second")
    shard = _shard_path(tmp_path)
    with open(shard, "r+b") as f:
        f.seek(entry.offset + entry.size // 2)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0x01]))
    with pytest.raises(IntegrityError, match=r"'second'.*checksum") as caught:
        reader.load_array("second")
    assert caught.value.uri is not None and caught.value.uri.endswith("rank-0.bin")
    with pytest.raises(IntegrityError, match="'second'"):
        reader.load_all()
    with pytest.raises(IntegrityError, match="'second'"):
        reader.verify()
    np.testing.assert_array_equal(reader.load_array("first"), np.arange(1000))  # others are fine
    assert reader.load_bytes("third") == b"abc" * 100


def test_flipped_byte_in_small_batched_entry(tmp_path: Path) -> None:
    uri = file_uri(tmp_path)
    with create_checkpoint_writer(uri) as writer:
        for i in range(5):
            writer.save_array(f"p{i}", np.full(10, i, dtype=np.int32))
    reader = create_checkpoint_reader(uri)
    entry = reader.entry("p3")
    shard = _shard_path(tmp_path)
    data = bytearray(shard.read_bytes())
    data[entry.offset] ^= 0xFF
    shard.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="'p3'"):
        reader.load_all()


def test_truncated_shard(tmp_path: Path) -> None:
    uri = file_uri(tmp_path)
    with create_checkpoint_writer(uri) as writer:
        writer.save_array("a", np.arange(100))
        writer.save_array("b", np.arange(100))
    shard = _shard_path(tmp_path)
    shard.write_bytes(shard.read_bytes()[:-10])
    reader = create_checkpoint_reader(uri)
    with pytest.raises(IntegrityError, match="truncated"):
        reader.load_array("b")
    with pytest.raises(IntegrityError, match="bytes"):
        reader.verify()


def test_corrupt_manifest(tmp_path: Path) -> None:
    uri = file_uri(tmp_path)
    with create_checkpoint_writer(uri) as writer:
        writer.save_array("a", np.arange(3))
    (manifest,) = (tmp_path / "ckpt" / "manifests").iterdir()
    manifest.write_text("{not json")
    with pytest.warns(RuntimeWarning, match="corrupt"), pytest.raises(IntegrityError, match="manifest"):
        create_checkpoint_reader(uri)  # the only manifest is corrupt: an error, not "nothing saved"


def test_failure_mid_array_poisons_the_writer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    uri = file_uri(tmp_path)
    _commit(uri, 1.0)
    before = _files(tmp_path)
    from s3dlio.checkpoint import _crc

    real_extend = _crc.extend
    calls = {"n": 0}

    def failing_extend(crc: int, data: object) -> int:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk on fire")
        return real_extend(crc, data)

    monkeypatch.setattr(_crc, "extend", failing_extend)
    writer = create_checkpoint_writer(uri)
    with pytest.raises(OSError, match="disk on fire"):
        writer.save_array("big", np.zeros(5_000_000))  # 40 MB: several chunks
    with pytest.raises(ValueError, match="earlier write failed"):
        writer.save_array("next", np.zeros(3))
    with pytest.raises(ValueError, match="earlier write failed"):
        writer.finalize()
    monkeypatch.setattr(_crc, "extend", real_extend)
    _assert_holds(uri, 1.0)
    assert _files(tmp_path) == before


def test_finish_shard_then_normal_exit_commits(tmp_path: Path) -> None:
    uri = file_uri(tmp_path)
    with create_checkpoint_writer(uri) as writer:
        writer.save_array("a", np.arange(3))
        writer.finish_shard()
        with pytest.raises(NotFoundError):
            create_checkpoint_reader(uri)  # finished, not committed
    np.testing.assert_array_equal(create_checkpoint_reader(uri).load_array("a"), np.arange(3))
