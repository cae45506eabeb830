"""s3dlio.compat.s3torchconnector: s3torchconnector 1.5's classes, one import away."""

from __future__ import annotations

from typing import Any

import pytest
import torch

import s3dlio
from s3dlio.compat.s3torchconnector import (
    ListObjectResult,
    ObjectInfo,
    S3Checkpoint,
    S3Client,
    S3ClientConfig,
    S3IterableDataset,
    S3MapDataset,
    S3Reader,
)


def _objects(root: str) -> dict[str, bytes]:
    objects = {f"{root}train/{i:02d}.bin": bytes([i]) * (100 + i) for i in range(5)}
    s3dlio.put_many(list(objects.items()))
    return objects


def test_map_dataset_from_prefix(root: str) -> None:
    objects = _objects(root)
    dataset = S3MapDataset.from_prefix(root + "train/", region="us-east-1")
    assert len(dataset) == 5
    reader = dataset[2]
    assert isinstance(reader, S3Reader)
    uri = sorted(objects)[2]
    assert reader.bucket == s3dlio.parse_uri(uri).bucket and reader.key == s3dlio.parse_uri(uri).key
    assert reader.read() == objects[uri]
    decoded = S3MapDataset.from_objects(
        sorted(objects), region="us-east-1", transform=lambda r: len(r.read())
    )
    assert [decoded[i] for i in range(5)] == [100, 101, 102, 103, 104]


def test_iterable_dataset_through_a_dataloader(root: str) -> None:
    objects = _objects(root)
    dataset = S3IterableDataset.from_prefix(root + "train/", region="us-east-1", transform=lambda r: r.read())
    assert len(dataset) == 5
    assert list(dataset) == [objects[u] for u in sorted(objects)]
    loader = torch.utils.data.DataLoader(dataset, batch_size=None, num_workers=0)
    assert [bytes(b) for b in loader] == [objects[u] for u in sorted(objects)]


def test_iterable_dataset_sharding_across_workers(tmp_path: Any) -> None:
    root = f"file://{tmp_path}/"
    objects = _objects(root)
    dataset = S3IterableDataset.from_prefix(
        root + "train/", region="us-east-1", enable_sharding=True, transform=lambda r: r.key
    )
    loader = torch.utils.data.DataLoader(dataset, batch_size=None, num_workers=2)
    keys = list(loader)
    assert sorted(keys) == sorted(s3dlio.parse_uri(u).key for u in objects)  # each object once


def test_checkpoint_round_trip(root: str) -> None:
    checkpoint = S3Checkpoint(region="us-east-1")
    state = {"weight": torch.arange(1000, dtype=torch.float32), "step": 7}
    with checkpoint.writer(root + "ckpt.pt") as writer:
        torch.save(state, writer)
    with checkpoint.reader(root + "ckpt.pt") as reader:
        loaded = torch.load(reader, weights_only=True)
    assert loaded["step"] == 7 and torch.equal(loaded["weight"], state["weight"])
    with pytest.raises(ValueError), checkpoint.writer(root + "broken.pt") as writer:
        writer.write(b"partial")
        raise ValueError("crash while saving")
    assert not s3dlio.exists(root + "broken.pt")


def test_client_calls(s3_env: Any, new_s3_bucket: str) -> None:
    client = S3Client(region="us-east-1", s3client_config=S3ClientConfig(force_path_style=True))
    writer = client.put_object(new_s3_bucket, "data/a.bin")
    writer.write(b"0123456789")
    writer.close()
    assert client.get_object(new_s3_bucket, "data/a.bin").read() == b"0123456789"
    assert client.get_object(new_s3_bucket, "data/a.bin", start=2, end=4).read() == b"234"
    assert client.get_object(new_s3_bucket, "data/a.bin", start=8).read() == b"89"
    assert client.head_object(new_s3_bucket, "data/a.bin").size == 10
    client.put_object(new_s3_bucket, "data/sub/b.bin").close()
    pages = list(client.list_objects(new_s3_bucket, "data/"))
    assert all(isinstance(p, ListObjectResult) for p in pages)
    infos = [info for page in pages for info in page.object_info]
    assert all(isinstance(i, ObjectInfo) for i in infos)
    assert [i.key for i in infos] == ["data/a.bin", "data/sub/b.bin"]  # bucket-relative keys
    flat = list(client.list_objects(new_s3_bucket, "data/", delimiter="/"))
    assert [i.key for p in flat for i in p.object_info] == ["data/a.bin"]
    assert [c for p in flat for c in p.common_prefixes] == ["data/sub/"]
    client.copy_object(new_s3_bucket, "data/a.bin", new_s3_bucket, "copy.bin")
    assert s3dlio.get(f"s3://{new_s3_bucket}/copy.bin") == b"0123456789"
    client.delete_object(new_s3_bucket, "data/a.bin")
    with pytest.raises(FileNotFoundError):
        client.head_object(new_s3_bucket, "data/a.bin")
    paged = list(client.list_objects(new_s3_bucket, "", max_keys=1))
    assert [len(p.object_info) for p in paged] == [1, 1] and paged[0].object_info[0].key == "copy.bin"


def test_client_config_rejects_what_it_cannot_do() -> None:
    with pytest.raises(s3dlio.ConfigError):
        S3ClientConfig(part_size=1024)
    with pytest.raises(s3dlio.ConfigError):
        S3ClientConfig(unsigned=True)
    with pytest.raises(s3dlio.ConfigError):
        S3Client(region="us-east-1", no_such_option=1)
