"""DLIO's workflow end to end through its s3dlio code path (see dlio_client.py for the upstream
file each call mirrors): generate NPZ through the backend, list, train one epoch with
read_threads=0 and read_threads=2, read back through the framework calls, clean up."""

from __future__ import annotations

import io

import numpy as np
import pytest

import s3dlio

from .dlio_client import DLIOClient, run_epoch

NUM_FILES = 6


def _client(root: str) -> DLIOClient:
    scheme, rest = root.split("://", 1)
    return DLIOClient(scheme, rest.rstrip("/"))


def _generate(client: DLIOClient) -> dict[str, int]:
    sizes = {}
    for i in range(NUM_FILES):
        key = f"train/img_{i}_of_{NUM_FILES}.npz"
        sizes[key] = client.generate_npz(key, 32, 32, num_samples=2, dtype=np.float32)
    # one record above DLIO's 16 MiB multipart threshold: the MultipartUploadWriter path
    big = "train/img_big.npz"
    sizes[big] = client.generate_npz(big, 1100, 1000, num_samples=4, dtype=np.float32)
    assert sizes[big] >= client._MULTIPART_THRESHOLD
    return sizes


def test_dlio_workflow(root: str) -> None:
    client = _client(root)
    sizes = _generate(client)

    # obj_store_lib.list_objects: names relative to the listed prefix
    assert client.list_objects(client.storage_root, "train") == sorted(k.split("/", 1)[1] for k in sizes)
    assert all(client.file_exists(k) for k in sizes) and not client.file_exists("train/none.npz")

    # obj_store_lib.get_data: whole objects and ranges
    first = client.get_uri("train/img_0_of_6.npz")
    whole = client.get_data(first)
    assert len(whole) == sizes["train/img_0_of_6.npz"]
    with np.load(io.BytesIO(bytes(whole))) as npz:
        assert npz["x"].shape == (32, 32, 2) and npz["x"].dtype == np.float32
        assert npz["y"].tolist() == [0, 0]
    assert bytes(client.get_data(first, offset=0, length=4)) == b"PK\x03\x04"

    # framework/tf_framework.py
    prefix_uri = client.get_uri("train")
    assert sorted(client.tf_walk_node(prefix_uri)) == sorted(k.split("/", 1)[1] for k in sizes)
    assert client.tf_get_data(first) == bytes(whole)
    assert client.tf_isfile(first)

    # one epoch, read_threads=0 and read_threads=2 (forked DataLoader workers)
    for read_threads in (0, 2):
        seen = run_epoch(client, sorted(sizes), read_threads=read_threads)
        assert seen == sizes, f"read_threads={read_threads}"

    # cleanup: tf_framework.delete_node
    assert client.tf_delete_node(prefix_uri)
    assert s3dlio.list(root) == []


def test_dlio_get_many_prefetch(root: str) -> None:
    """_s3_iterable_mixin._prefetch_s3dlio and _local_fs_iterable_mixin._prefetch_direct.

    Needs get_many's ``(uri, data)`` pairs (the engine branch); fails before that is merged.
    """
    client = _client(root)
    sizes = _generate(client)
    assert client.prefetch_s3dlio(sorted(sizes)) == sizes
    if root.startswith(("file://", "direct://")):
        base = root.split("://", 1)[1]
        paths = [base + key for key in sorted(sizes)]
        assert client.prefetch_direct(paths) == {base + k: n for k, n in sizes.items()}


def test_dlio_init_check_raises_on_a_missing_bucket(s3_env: object) -> None:
    # ObjStoreLibStorage.__init__ relies on list() of the bucket root raising
    with pytest.raises(RuntimeError):
        DLIOClient("s3", "no-such-bucket-dlio/prefix")
