"""Several ranks: explicit shard/commit API, and torch.distributed coordination (gloo, CPU)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from ckpt_helpers import REPO, file_uri

from s3dlio.checkpoint import CheckpointStore, ShardInfo, create_checkpoint_reader
from s3dlio.errors import NotFoundError

WORKER = Path(__file__).with_name("ckpt_dist_worker.py")


def _run_ranks(mode: str, uri: str, out: Path, world: int = 2) -> list[dict[str, object]]:
    env = {"PYTHONPATH": str(REPO / "src")}
    import os

    result = subprocess.run(
        [sys.executable, str(WORKER), mode, uri, str(out), str(world)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **env},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return [json.loads((out / f"rank-{r}.json").read_text()) for r in range(world)]


def test_explicit_ranks_in_threads(tmp_path: Path) -> None:
    store = CheckpointStore(file_uri(tmp_path))
    attempt = store.new_attempt()
    infos: list[ShardInfo | None] = [None] * 3

    def rank_main(rank: int) -> None:
        writer = store.writer(8, rank=rank, world_size=3, attempt=attempt, epoch=2)
        writer.save_array("weights", np.full((100, 10), rank, dtype=np.float32))
        writer.save_array(f"own{rank}", np.arange(rank + 1))
        infos[rank] = writer.finish_shard()

    threads = [threading.Thread(target=rank_main, args=(r,)) for r in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(infos)
    with pytest.raises(NotFoundError):
        create_checkpoint_reader(file_uri(tmp_path))  # nothing committed yet
    info = store.commit(8, [i for i in reversed(infos) if i], epoch=2, metadata={"ranks": 3})
    assert info.world_size == 3 and info.metadata == {"ranks": 3}
    shard_dirs = list((tmp_path / "ckpt" / "shards").iterdir())
    assert len(shard_dirs) == 1 and sorted(p.name for p in shard_dirs[0].iterdir()) == [
        "rank-0.bin", "rank-1.bin", "rank-2.bin",
    ]  # fmt: skip
    manifest = next((tmp_path / "ckpt" / "manifests").iterdir())
    assert manifest.stem == shard_dirs[0].name  # ckpt-<step>-<ts> shared by manifest and shards

    reader = store.reader()
    assert reader.world_size == 3
    np.testing.assert_array_equal(reader.load_array("weights", rank=2), np.full((100, 10), 2))
    np.testing.assert_array_equal(reader.load_array("own1"), np.arange(2))  # unique: no rank needed
    with pytest.raises(ValueError, match=r"ranks \[0, 1, 2\].*rank="):
        reader.load_array("weights")
    with pytest.raises(ValueError, match="load_ranks"):
        reader.load_all()
    assert sorted(reader.load_all(rank=1)) == ["own1", "weights"]
    everything = reader.load_ranks()
    assert sorted(everything) == [0, 1, 2]
    assert everything[2]["weights"][0, 0] == 2
    only_one = store.reader(rank=1)
    assert only_one.names() == ["weights", "own1"]
    np.testing.assert_array_equal(only_one.load_array("weights"), np.full((100, 10), 1))


def test_commit_checks_the_shards(tmp_path: Path) -> None:
    store = CheckpointStore(file_uri(tmp_path))
    infos = []
    for rank in range(2):
        writer = store.writer(1, rank=rank, world_size=2)
        writer.save_array("a", np.zeros(3))
        infos.append(writer.finish_shard())
    with pytest.raises(ValueError, match="one shard per rank"):
        store.commit(1, infos[:1])
    with pytest.raises(ValueError, match="step 1"):
        store.commit(2, infos)
    with pytest.raises(TypeError, match="ShardInfo"):
        store.commit(1, [{"rank": 0}])  # type: ignore[list-item]
    (tmp_path / "ckpt" / infos[1].key).unlink()
    with pytest.raises(NotFoundError, match="rank 1"):
        store.commit(1, infos)
    assert store.steps() == []


def test_aborting_a_finished_shard_deletes_it(tmp_path: Path) -> None:
    store = CheckpointStore(file_uri(tmp_path))
    writer = store.writer(1, rank=0, world_size=2)
    writer.save_array("a", np.zeros(3))
    writer.finish_shard()
    assert (tmp_path / "ckpt" / writer.key).exists()
    writer.abort()
    assert not (tmp_path / "ckpt" / writer.key).exists()


def test_torch_distributed_ranks_commit_once(tmp_path: Path) -> None:
    uri = file_uri(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    results = _run_ranks("store", uri, out)
    assert all(r["ok"] for r in results), results
    assert {r["world_size"] for r in results} == {2}
    assert len({str(r["shard"]).rsplit("/", 1)[0] for r in results}) == 1  # one attempt dir
    reader = create_checkpoint_reader(uri)
    assert reader.step == 3 and reader.epoch == 1 and reader.world_size == 2
    np.testing.assert_array_equal(reader.load_array("only1"), np.full((10, 2), 1))
    np.testing.assert_array_equal(reader.load_array("common", rank=1), np.arange(5) + 100)
    assert reader.load_ranks()[0]["who"] == {"rank": 0}
    assert len(list((tmp_path / "ckpt" / "manifests").iterdir())) == 1


def test_torch_distributed_failure_on_one_rank_commits_nothing(tmp_path: Path) -> None:
    uri = file_uri(tmp_path)
    CheckpointStore(uri).save(1, {"previous": np.arange(3)})
    out = tmp_path / "out"
    out.mkdir()
    results = _run_ranks("store-fail", uri, out)
    assert results[1] == {"ok": False, "error": "RuntimeError: rank 1 failed on purpose"}
    assert results[0]["ok"] is False and "not committed" in str(results[0]["error"])
    reader = create_checkpoint_reader(uri)
    assert reader.step == 1 and reader.names() == ["previous"]
    assert CheckpointStore(uri).steps() == [1]


def test_torch_distributed_finalize_without_with(tmp_path: Path) -> None:
    uri = file_uri(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    results = _run_ranks("store-finalize", uri, out)
    assert results == [{"ok": True, "step": 4, "metadata": {"by": "finalize"}}] * 2
    reader = create_checkpoint_reader(uri)
    assert [reader.load_array("x", rank=r)[0] for r in range(2)] == [0, 1]


def test_torch_distributed_finalize_async_uses_its_own_group(tmp_path: Path) -> None:
    """Item 14: finalize_async's collectives run on a worker thread, so they must not share the
    default group with training's collectives on the caller's thread (with NCCL that thread's
    device is also cuda:0). Each rank runs 200 all_reduce calls on the default group while three
    async finalizes gather and broadcast: on a shared group they interleave and mismatch."""
    uri = file_uri(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    results = _run_ranks("store-finalize-async", uri, out)
    expected = [{"step": step, "dedicated": True, "backend": "gloo"} for step in (5, 6, 7)]
    assert results == [{"ok": True, "results": expected}] * 2
    store = CheckpointStore(uri)
    assert store.steps() == [5, 6, 7]
    reader = store.reader(7)
    assert [int(reader.load_array("x", rank=r)[0]) for r in range(2)] == [7, 17]
