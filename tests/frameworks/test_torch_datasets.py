"""PyTorch datasets against a real S3 server: workers, start methods, sharding, DDP, resume, errors."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import pickle
import subprocess
import sys
import warnings
from pathlib import Path

import fw_helpers
import numpy as np
import pytest
import torch
from fw_data import DATA_SHAPE, NUM_OBJECTS, S3Data, npz_bytes
from torch.utils.data import DataLoader

import s3dlio
from s3dlio import ops
from s3dlio.frameworks.torch import (
    S3IterableDataset,
    S3MapDataset,
    TransformError,
    bytes_to_uint8_tensor,
    collate_npz,
    npz_to_tensors,
)
from s3dlio.loader.dataset import EmptyDatasetError
from s3dlio.loader.sampler import ShardedSampler

# JAX (imported by a sibling test module) warns on every fork; DataLoader workers fork on purpose.
pytestmark = pytest.mark.filterwarnings("ignore:os.fork\\(\\) was called:RuntimeWarning")

ALL = list(range(NUM_OBJECTS))
WORKER_MODES = [(0, None), (2, "fork"), (2, "spawn")]
MODE_IDS = ["main-process", "2-workers-fork", "2-workers-spawn"]


def test_importing_s3dlio_imports_no_framework() -> None:
    code = (
        "import sys, s3dlio, s3dlio.frameworks; "
        "print(sorted(m for m in ('torch', 'tensorflow', 'jax') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- map-style ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("workers", "context"), WORKER_MODES, ids=MODE_IDS)
def test_map_dataset_reads_each_object_once(s3_data: S3Data, workers: int, context: str | None) -> None:
    dataset = S3MapDataset(s3_data.prefix, transform=npz_to_tensors)
    assert len(dataset) == NUM_OBJECTS
    assert list(dataset.uris) == s3_data.uris  # sorted listing
    loader = DataLoader(
        dataset,
        batch_size=5,
        shuffle=True,
        num_workers=workers,
        multiprocessing_context=context,
        collate_fn=collate_npz,
    )
    batches = list(loader)
    assert [tuple(b["data"].shape) for b in batches[:-1]] == [(5, *DATA_SHAPE)] * (len(batches) - 1)
    assert batches[-1]["data"].shape == (NUM_OBJECTS % 5, *DATA_SHAPE)
    assert batches[0]["label"].dtype == torch.int64
    assert sorted(fw_helpers.labels(batches)) == ALL
    for batch in batches:  # data and label come from the same object
        assert torch.equal(batch["data"][:, 0, 0].long(), batch["label"])


def test_map_dataset_indexing_and_uri_list(s3_data: S3Data) -> None:
    dataset = S3MapDataset(s3_data.uris[::-1])
    assert dataset[0] == npz_bytes(NUM_OBJECTS - 1)
    assert dataset[-1] == npz_bytes(0)
    assert dataset.__getitems__([1, 2]) == [npz_bytes(NUM_OBJECTS - 2), npz_bytes(NUM_OBJECTS - 3)]
    with pytest.raises(IndexError, match="out of range"):
        dataset[NUM_OBJECTS]


def test_map_dataset_with_distributed_sampler(s3_data: S3Data) -> None:
    from torch.utils.data import DistributedSampler

    dataset = S3MapDataset(s3_data.prefix, fw_helpers.label_of)
    seen = []
    for rank in range(3):
        sampler = DistributedSampler(dataset, num_replicas=3, rank=rank, shuffle=True, seed=1)
        seen.append([int(x) for b in DataLoader(dataset, batch_size=4, sampler=sampler) for x in b])
    assert [len(s) for s in seen] == [NUM_OBJECTS // 3] * 3
    assert sorted(itertools.chain(*seen)) == ALL


# --- iterable --------------------------------------------------------------------------------------
@pytest.mark.parametrize(("workers", "context"), WORKER_MODES, ids=MODE_IDS)
def test_iterable_dataset_reads_each_object_once(s3_data: S3Data, workers: int, context: str | None) -> None:
    dataset = S3IterableDataset(s3_data.prefix, npz_to_tensors, shuffle=True, seed=5)
    loader = DataLoader(
        dataset, batch_size=4, num_workers=workers, multiprocessing_context=context, collate_fn=collate_npz
    )
    batches = list(loader)
    assert all(b["data"].shape[1:] == DATA_SHAPE for b in batches)
    assert sorted(fw_helpers.labels(batches)) == ALL


def test_iterable_dataset_follows_sampler_order(s3_data: S3Data) -> None:
    dataset = S3IterableDataset(s3_data.prefix, fw_helpers.label_of, shuffle=True, seed=11, epoch=2)
    expected = ShardedSampler(NUM_OBJECTS, shuffle=True, seed=11, epoch=2).indices()
    assert list(dataset) == expected
    assert list(dataset) == expected  # a second pass of the same epoch repeats it
    dataset.set_epoch(3)
    third = list(dataset)
    assert third != expected and sorted(third) == ALL


def test_fork_after_parent_used_storage(s3_data: S3Data) -> None:
    """The parent lists and reads, then DataLoader forks its workers (Linux's default start method)."""
    assert s3dlio.get(s3_data.uris[0]) == npz_bytes(0)
    dataset = S3IterableDataset(s3_data.prefix, fw_helpers.label_of)  # lists in the parent
    mapped = S3MapDataset(s3_data.prefix, fw_helpers.label_of)
    for _ in range(2):  # a second epoch forks again from a parent that kept using storage
        assert sorted(DataLoader(dataset, batch_size=None, num_workers=2)) == ALL
        assert sorted(int(x) for b in DataLoader(mapped, batch_size=3, num_workers=2) for x in b) == ALL
        assert s3dlio.get(s3_data.uris[1]) == npz_bytes(1)


def test_workers_split_the_rank_order(s3_data: S3Data) -> None:
    """With 2 workers, worker k yields positions k, k+2, ... of the rank's order."""
    dataset = S3IterableDataset(s3_data.prefix, fw_helpers.label_of, shuffle=True, seed=2)
    order = dataset.sampler.indices()
    got = list(DataLoader(dataset, batch_size=None, num_workers=2, multiprocessing_context="fork"))
    assert got == order  # DataLoader alternates workers, which restores the order


def test_iterable_prefetches_concurrently(s3_data: S3Data, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every GET waits until 8 are in flight at once (a barrier, not a sleep): it opens only if
    the dataset really keeps ``max_in_flight`` requests going; otherwise the guard times out and
    the peak assertion fails."""
    active = peak = 0
    real_get = ops.get_async
    all_in_flight = asyncio.Event()

    async def slow_get(uri: str) -> bytes:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        if peak >= 8:
            all_in_flight.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(all_in_flight.wait(), timeout=10)  # a guard against hanging
        active -= 1
        return await real_get(uri)

    monkeypatch.setattr(ops, "get_async", slow_get)
    dataset = S3IterableDataset(s3_data.prefix, fw_helpers.label_of, max_in_flight=8)
    assert list(dataset) == ALL
    assert peak == 8


def test_iterable_batches_inside_the_dataset(s3_data: S3Data) -> None:
    dataset = S3IterableDataset(s3_data.prefix, npz_to_tensors, batch_size=10, collate_fn=collate_npz)
    assert len(dataset) == 3
    batches = list(DataLoader(dataset, batch_size=None, num_workers=0))
    assert [b["data"].shape[0] for b in batches] == [10, 10, 4]
    assert fw_helpers.labels(batches) == ALL


def test_explicit_shards_are_disjoint_and_equal(s3_data: S3Data) -> None:
    def shard(rank: int, **options: object) -> list[int]:
        dataset = S3IterableDataset(s3_data.prefix, fw_helpers.label_of, rank=rank, world_size=5, **options)
        return list(dataset)

    shards = [shard(r, shuffle=True, seed=4) for r in range(5)]
    assert {len(s) for s in shards} == {5}  # 24 objects, padded to 25
    flat = list(itertools.chain(*shards))
    assert set(flat) == set(ALL) and len(flat) - len(set(flat)) == 1
    dropped = [shard(r, drop_last=True) for r in range(5)]
    assert {len(s) for s in dropped} == {4} and len(set(itertools.chain(*dropped))) == 20


def test_datasets_pickle_small(s3_data: S3Data) -> None:
    for dataset in (
        S3IterableDataset(s3_data.prefix, npz_to_tensors, shuffle=True, seed=1),
        S3MapDataset(s3_data.prefix, npz_to_tensors),
    ):
        list(DataLoader(dataset, batch_size=4, num_workers=0, collate_fn=collate_npz))  # used
        blob = pickle.dumps(dataset)
        assert len(blob) < 1500, len(blob)  # settings + short key suffixes, ~20 bytes per object
        assert b"obstore" not in blob and b"Store" not in blob
        clone = pickle.loads(blob)
        assert list(clone.uris) == s3_data.uris


def test_configure_overrides_reach_spawned_workers(s3_data: S3Data, monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings made with configure() (not the environment) still apply in spawned workers."""
    for key in s3_data.env:
        monkeypatch.delenv(key)
    env = s3_data.env
    s3dlio.configure(
        s3_endpoint=env["AWS_ENDPOINT_URL"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        s3_region=env["AWS_REGION"],
    )
    try:
        dataset = S3IterableDataset(s3_data.prefix, fw_helpers.label_of)
        loader = DataLoader(dataset, batch_size=None, num_workers=2, multiprocessing_context="spawn")
        assert sorted(loader) == ALL
    finally:
        s3dlio.reset_config()


# --- DDP -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("workers", [0, 2])
def test_ddp_two_ranks(s3_data: S3Data, tmp_path: Path, workers: int) -> None:
    import torch.multiprocessing as tmp

    init_file = tmp_path / "init"
    tmp.spawn(
        fw_helpers.ddp_worker,
        args=(2, str(init_file), s3_data.prefix, str(tmp_path), workers),
        nprocs=2,
        join=True,
    )
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["rank_seen"] for r in ranks] == [[0, 2], [1, 2]]  # taken from torch.distributed
    assert ranks[0]["seed"] == ranks[1]["seed"]  # rank 0's seed was shared
    assert ranks[0]["total_iter_0"] == NUM_OBJECTS
    for kind in ("iter", "map"):
        for epoch in (0, 1):
            a, b = ranks[0][f"{kind}_{epoch}"], ranks[1][f"{kind}_{epoch}"]
            assert not set(a) & set(b), (kind, epoch)  # disjoint
            assert sorted(a + b) == ALL, (kind, epoch)  # complete
            assert ranks[0][f"{kind}_batches_{epoch}"] == ranks[1][f"{kind}_batches_{epoch}"]
        assert ranks[0][f"{kind}_0"] != ranks[0][f"{kind}_1"]  # set_epoch reshuffled


def test_rank_and_world_size_default_without_distributed(s3_data: S3Data) -> None:
    dataset = S3IterableDataset(s3_data.prefix)
    assert (dataset.rank, dataset.world_size) == (0, 1)


# --- resume ----------------------------------------------------------------------------------------
def test_resume_mid_epoch(s3_data: S3Data) -> None:
    def make() -> S3IterableDataset:
        return S3IterableDataset(s3_data.prefix, npz_to_tensors, shuffle=True, seed=9)

    first = make()
    first.set_epoch(1)
    loader = DataLoader(first, batch_size=4, num_workers=0, collate_fn=collate_npz)
    it = iter(loader)
    seen = [next(it) for _ in range(3)]
    state = first.state_dict()
    assert state["consumed"] == 12 and state["sampler"]["epoch"] == 1
    rest = fw_helpers.labels(it)

    resumed = make()  # a fresh seed, replaced by the saved one
    resumed.load_state_dict(pickle.loads(pickle.dumps(state)))
    assert resumed.epoch == 1 and resumed.seed == first.seed
    again = fw_helpers.labels(DataLoader(resumed, batch_size=4, num_workers=0, collate_fn=collate_npz))
    assert again == rest
    assert sorted(fw_helpers.labels(seen) + again) == ALL
    # the following pass, and a new epoch, start from the beginning again
    assert len(list(DataLoader(resumed, batch_size=4, collate_fn=collate_npz))) == 6
    resumed.set_epoch(2)
    assert resumed.state_dict()["consumed"] == 0


def test_resume_with_workers_skips_consumed_part(s3_data: S3Data) -> None:
    """A state taken in the main process resumes correctly even if the rest runs in workers."""
    dataset = S3IterableDataset(s3_data.prefix, fw_helpers.label_of, shuffle=True, seed=3)
    it = iter(dataset)
    head = [next(it) for _ in range(10)]
    state = dataset.state_dict()
    resumed = S3IterableDataset(s3_data.prefix, fw_helpers.label_of, shuffle=True, seed=3)
    resumed.load_state_dict(state)
    tail = list(DataLoader(resumed, batch_size=None, num_workers=2, multiprocessing_context="fork"))
    assert head + tail == dataset.sampler.indices()


def test_load_state_dict_rejects_foreign_state(s3_data: S3Data) -> None:
    dataset = S3IterableDataset(s3_data.prefix)
    with pytest.raises(ValueError, match="state"):
        dataset.load_state_dict({"nope": 1})
    state = dataset.state_dict()
    with pytest.raises(ValueError, match="consumed"):
        dataset.load_state_dict({**state, "consumed": NUM_OBJECTS + 1})
    with pytest.raises(ValueError, match="objects"):
        S3IterableDataset(s3_data.uris[:3]).load_state_dict(state)


# --- bad input -------------------------------------------------------------------------------------
def test_transform_error_names_the_object(s3_data: S3Data) -> None:
    dataset = S3IterableDataset(s3_data.prefix, fw_helpers.failing_transform)
    with pytest.raises(TransformError, match=f"transform failed for {s3_data.uris[0]}") as info:
        list(dataset)
    assert isinstance(info.value.__cause__, ValueError)
    assert info.value.uri == s3_data.uris[0]
    mapped = S3MapDataset(s3_data.prefix, fw_helpers.failing_transform)
    with pytest.raises(TransformError, match=s3_data.uris[3]):
        mapped[3]
    with pytest.raises(TransformError, match=s3_data.uris[1]):
        mapped.__getitems__([1, 2])  # the batched path DataLoader uses


def test_transform_error_in_a_worker_names_the_object(s3_data: S3Data) -> None:
    # (DataLoader itself then needs ~10 s to shut down its workers after an error.)
    dataset = S3IterableDataset(s3_data.prefix, fw_helpers.failing_transform)
    loader = DataLoader(dataset, batch_size=2, num_workers=2, multiprocessing_context="fork")
    with pytest.raises(TransformError, match=r"transform failed for s3://.*\.npz"):
        list(loader)


def test_empty_prefix_is_a_clear_error(s3_data: S3Data) -> None:
    empty = f"s3://{s3_data.bucket}/nothing-here/"
    for cls in (S3IterableDataset, S3MapDataset):
        with pytest.raises(EmptyDatasetError, match=f"no objects under {empty}") as info:
            cls(empty)
        assert info.value.uri == empty
    with pytest.raises(EmptyDatasetError, match="list of URIs is empty"):
        S3MapDataset([])


def test_single_object_uri_is_a_dataset_of_one(s3_data: S3Data) -> None:
    assert list(S3IterableDataset(s3_data.uris[5], fw_helpers.label_of)) == [5]


def test_bad_rank_is_a_clear_error(s3_data: S3Data) -> None:
    with pytest.raises(ValueError, match=r"rank must be in \[0, world_size\).*rank=2.*world_size=2"):
        S3IterableDataset(s3_data.prefix, rank=2, world_size=2)
    with pytest.raises(ValueError, match="world_size must be >= 1"):
        S3IterableDataset(s3_data.prefix, rank=0, world_size=0)
    with pytest.raises(ValueError, match="explicit seed"):
        S3IterableDataset(s3_data.prefix, rank=0, world_size=2, shuffle=True)


def test_missing_bucket_is_a_clear_error(s3_data: S3Data) -> None:
    with pytest.raises(s3dlio.BucketNotFoundError, match="no-such-bucket-fw"):
        S3MapDataset("s3://no-such-bucket-fw/train/")


# --- decoders --------------------------------------------------------------------------------------
def test_bytes_to_uint8_tensor_shares_writable_buffers() -> None:
    buffer = bytearray(b"\x01\x02\x03")
    tensor = bytes_to_uint8_tensor(buffer)
    buffer[0] = 9
    assert tensor.tolist() == [9, 2, 3]  # zero-copy
    array = np.arange(6, dtype=np.uint8).reshape(2, 3)
    assert bytes_to_uint8_tensor(array).tolist() == [0, 1, 2, 3, 4, 5]


def test_bytes_to_uint8_tensor_copies_read_only_bytes() -> None:
    data = b"\x05\x06"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "buffer is not writable" warning
        tensor = bytes_to_uint8_tensor(data)
    tensor[0] = 7
    assert data == b"\x05\x06" and tensor.tolist() == [7, 6]
    assert bytes_to_uint8_tensor(b"").shape == (0,)


def test_npz_to_tensors_and_collate() -> None:
    sample = npz_to_tensors(npz_bytes(3))
    assert set(sample) == {"data", "label"}
    assert sample["data"].dtype == torch.float32 and tuple(sample["data"].shape) == DATA_SHAPE
    batch = collate_npz([npz_bytes(1), sample])
    assert tuple(batch["data"].shape) == (2, *DATA_SHAPE)
    assert batch["label"].tolist() == [1, 3]
    with pytest.raises(ValueError, match="arrays"):
        collate_npz([{"a": np.zeros(2)}, {"b": np.zeros(2)}])
    with pytest.raises(ValueError, match="different shapes"):
        collate_npz([{"a": np.zeros(2)}, {"a": np.zeros(3)}])
    big_endian = {"x": np.arange(3, dtype=">i4")}
    assert collate_npz([big_endian])["x"].tolist() == [[0, 1, 2]]


def test_collate_npz_of_generated_objects(s3_data: S3Data) -> None:
    """Objects built by the data generator (uint8 ``data``, int64 ``label`` of shape (1,))."""
    from s3dlio.datagen.formats import make_npz

    blobs = [make_npz(4096, seed=1, index=i, num=3) for i in range(3)]
    batch = collate_npz([npz_to_tensors(b) for b in blobs])
    assert batch["data"].dtype == torch.uint8 and batch["data"].shape[0] == 3
    assert tuple(batch["label"].shape) == (3, 1)
