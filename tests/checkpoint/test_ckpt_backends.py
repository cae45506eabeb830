"""The same checkpoints on every backend: S3 (SeaweedFS), Azure (Azurite), GCS (fake-gcs-server),
and direct:// (O_DIRECT). The servers are local; see tests/conftest.py."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

import s3dlio
from s3dlio.checkpoint import CheckpointStore, create_checkpoint_reader, create_checkpoint_writer
from s3dlio.errors import IntegrityError, NotFoundError


@pytest.fixture(params=["s3", "az", "gs", "direct"])
def base(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "s3":
        request.getfixturevalue("s3_env")
        return f"s3://{request.getfixturevalue('new_s3_bucket')}/runs/ckpt"
    if request.param == "az":
        request.getfixturevalue("azure_env")
        return f"az://{request.getfixturevalue('new_azure_container')}/runs/ckpt"
    if request.param == "gs":
        request.getfixturevalue("gcs_env")
        return f"gs://{request.getfixturevalue('new_gcs_bucket')}/runs/ckpt"
    warnings.simplefilter("ignore", s3dlio.DirectIOFallbackWarning)
    return f"direct://{tmp_path}/ckpt"


def test_round_trip_atomic_rewrite_and_steps(base: str) -> None:
    big = np.arange(5_000_000, dtype=np.float64)  # 40 MB: a multipart upload, ranged reads
    view = np.arange(2_000_000, dtype=np.int32).reshape(1000, 2000)[:, ::3]
    with create_checkpoint_writer(base, step=1, epoch=1) as writer:
        writer.save_array("big", big)
        writer.save_array("view", view)
        writer.save_array("f", np.asfortranarray(np.ones((7, 3), dtype=np.complex64)))
        writer.save_object("cfg", {"lr": 0.1})
        writer.finalize(metadata={"note": "one"})
    reader = create_checkpoint_reader(base)
    np.testing.assert_array_equal(reader.load_array("big"), big)
    np.testing.assert_array_equal(reader.load_array("view"), view)
    assert reader.load_array("f").flags.f_contiguous
    assert reader.load_object("cfg") == {"lr": 0.1} and reader.metadata == {"note": "one"}
    assert reader.verify() == reader.size

    # a second writer at the same step: the committed data stays readable until it commits
    writer = create_checkpoint_writer(base, step=1)
    writer.save_array("big", big + 1)
    np.testing.assert_array_equal(create_checkpoint_reader(base).load_array("big"), big)
    writer.abort()
    np.testing.assert_array_equal(create_checkpoint_reader(base).load_array("big"), big)

    store = CheckpointStore(base, keep_last=2)
    for step in (2, 3):
        store.save(step, {"x": np.full(10, step)}, metadata={"step": step})
    assert store.steps() == [2, 3]
    assert [c.metadata for c in store.list()] == [{"step": 2}, {"step": 3}]
    store.delete(3)
    assert store.reader().step == 2
    store.delete(2)
    with pytest.raises(NotFoundError, match=base):
        create_checkpoint_reader(base)
    assert s3dlio.list(base) == []


def test_corruption_is_detected(base: str) -> None:
    with create_checkpoint_writer(base) as writer:
        writer.save_array("a", np.arange(1000, dtype=np.int64))
        writer.save_array("b", np.arange(1000, dtype=np.int64))
    reader = create_checkpoint_reader(base)
    shard_uri = reader.manifest_uri.replace("/manifests/", "/shards/").removesuffix(".json") + "/rank-0.bin"
    data = bytearray(s3dlio.get(shard_uri))
    data[reader.entry("b").offset + 17] ^= 0x40
    s3dlio.put_bytes(shard_uri, bytes(data))
    np.testing.assert_array_equal(reader.load_array("a"), np.arange(1000))
    with pytest.raises(IntegrityError, match="'b'"):
        reader.load_array("b")


def test_dcp_and_torch_save_on_s3(s3_env: object, new_s3_bucket: str) -> None:
    import torch
    import torch.distributed.checkpoint as dcp

    from s3dlio.checkpoint import torch_load, torch_save
    from s3dlio.checkpoint.dcp import S3dlioStorageReader, S3dlioStorageWriter

    warnings.filterwarnings("ignore", message=".*torch.distributed is disabled.*")
    warnings.filterwarnings("ignore", message=".*Detected an existing checkpoint.*")
    uri = f"s3://{new_s3_bucket}/dcp/step-1"
    state = {"w": torch.randn(3_000_000), "b": torch.arange(10), "meta": {"epoch": 2}}
    dcp.save(state, storage_writer=S3dlioStorageWriter(uri))
    dcp.save(state, storage_writer=S3dlioStorageWriter(uri))  # re-save: old data removed after
    target = {"w": torch.zeros(3_000_000), "b": torch.zeros(10, dtype=torch.int64), "meta": {"epoch": 0}}
    dcp.load(target, storage_reader=S3dlioStorageReader(uri))
    assert torch.equal(target["w"], state["w"]) and torch.equal(target["b"], state["b"])
    assert target["meta"] == {"epoch": 2}
    keys = [item["key"] for item in s3dlio.list(uri)]
    assert len(keys) == 2 and any(k.endswith("/.metadata") for k in keys)

    torch_save(state, f"s3://{new_s3_bucket}/model.pt")
    loaded = torch_load(f"s3://{new_s3_bucket}/model.pt", weights_only=True)
    assert torch.equal(loaded["w"], state["w"])
