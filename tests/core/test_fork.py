"""The library must never hang in a forked child, even after the parent used cloud storage."""

from __future__ import annotations

import multiprocessing
import pickle
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

import s3dlio
from s3dlio.config import Config
from s3dlio.stores import store_for

CHILD_DEADLINE = 60  # seconds; a hang shows as a child still alive after this


@pytest.fixture(scope="module")
def prefix(s3_server: Any) -> Iterator[str]:
    with pytest.MonkeyPatch.context() as patch:
        for key, value in s3_server.env().items():
            patch.setenv(key, value)
        bucket = f"fork-{uuid.uuid4().hex[:8]}"
        s3dlio.create_bucket(f"s3://{bucket}")
        base = f"s3://{bucket}/data/"
        s3dlio.put_many([(f"{base}{i}", f"object {i}".encode()) for i in range(4)])
        yield base


def _read_in_child(uris: list[str], results: Any) -> None:
    results.put([bytes(data) for _, data in s3dlio.get_many(uris)])


def _run_forked(target: Any, *args: Any) -> Any:
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    child = context.Process(target=target, args=(*args, results))
    child.start()
    child.join(CHILD_DEADLINE)
    if child.is_alive():
        child.kill()
        pytest.fail("the forked child hung")
    assert child.exitcode == 0
    return results.get(timeout=5)


def test_forked_child_works_after_parent_used_storage(prefix: str) -> None:
    listing = s3dlio.list(prefix)  # the parent's runtime is now running
    uris = [entry["uri"] for entry in listing]
    assert _run_forked(_read_in_child, uris) == [f"object {i}".encode() for i in range(4)]
    assert s3dlio.get(uris[0]) == b"object 0"  # and the parent still works


def test_forked_grandchild_works(prefix: str) -> None:
    s3dlio.list(prefix)

    def child(results: Any) -> None:
        s3dlio.get(prefix + "0")
        results.put(_run_forked(_read_in_child, [prefix + "1"]))

    assert _run_forked(child) == [b"object 1"]


def test_fork_after_direct_obstore_use(prefix: str) -> None:
    import obstore

    store, key = store_for(prefix + "2")
    raw = obstore.store.S3Store(
        store.bucket, config={**_raw_config(store.config)}, client_options={"allow_http": True}
    )
    assert bytes(obstore.get(raw, key).bytes()) == b"object 2"
    assert _run_forked(_read_in_child, [prefix + "2"]) == [b"object 2"]


def _raw_config(config: Config) -> dict[str, str]:
    return {
        "endpoint": config.s3_endpoint or "",
        "region": config.s3_region,
        "access_key_id": config.aws_access_key_id or "",
        "secret_access_key": config.aws_secret_access_key or "",
    }


def test_stores_and_configs_pickle_to_their_configuration(prefix: str) -> None:
    store, _ = store_for(prefix + "0")
    s3dlio.get(prefix + "0")  # holds a live client now
    clone = pickle.loads(pickle.dumps(store))
    assert type(clone) is type(store)
    assert (clone.bucket, clone.config) == (store.bucket, store.config)
    assert len(pickle.dumps(store)) < 4096
    config = s3dlio.get_config()
    assert pickle.loads(pickle.dumps(config)) == config


def test_dataloader_workers_fork_after_listing(prefix: str) -> None:
    import torch.utils.data as torch_data

    uris = [entry["uri"] for entry in s3dlio.list(prefix)]

    class Objects(torch_data.Dataset[bytes]):
        def __len__(self) -> int:
            return len(uris)

        def __getitem__(self, index: int) -> bytes:
            return s3dlio.get(uris[index])

    loader = torch_data.DataLoader(
        Objects(), batch_size=None, num_workers=2, multiprocessing_context="fork", timeout=CHILD_DEADLINE
    )
    assert sorted(loader) == [f"object {i}".encode() for i in range(4)]
