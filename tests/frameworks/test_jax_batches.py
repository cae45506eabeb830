"""JAX: JaxBatches over real S3, as NumPy and as jax.Array on the CPU backend."""

from __future__ import annotations

import io
import uuid
from typing import Any

import jax
import numpy as np
import pytest
from fw_data import DATA_SHAPE, NUM_OBJECTS, S3Data

from s3dlio.frameworks import TransformError
from s3dlio.frameworks.jax import JaxBatches, stack_samples
from s3dlio.loader.dataset import EmptyDatasetError
from s3dlio.loader.sampler import ShardedSampler

ALL = list(range(NUM_OBJECTS))


def labels(batches: list[dict[str, Any]]) -> list[int]:
    return [int(x) for b in batches for x in np.asarray(b["label"])]


def test_numpy_batches(s3_data: S3Data) -> None:
    batches_ = JaxBatches(s3_data.prefix, batch_size=5)
    assert len(batches_) == 5
    batches = list(batches_)
    assert [b["data"].shape for b in batches] == [(5, *DATA_SHAPE)] * 4 + [(4, *DATA_SHAPE)]
    assert isinstance(batches[0]["data"], np.ndarray) and batches[0]["data"].dtype == np.float32
    assert labels(batches) == ALL


def test_jax_batches_on_cpu(s3_data: S3Data) -> None:
    batches = list(JaxBatches(s3_data.prefix, batch_size=8, as_jax=True, drop_last=True))
    assert len(batches) == 3
    first = batches[0]["data"]
    assert isinstance(first, jax.Array)
    assert first.shape == (8, *DATA_SHAPE) and first.dtype == jax.numpy.float32
    assert next(iter(first.devices())).platform == "cpu"
    total = jax.numpy.stack([b["data"][:, 0, 0] for b in batches]).sum()
    assert float(total) == float(sum(ALL))


def test_shuffle_epochs_and_resume(s3_data: S3Data) -> None:
    source = JaxBatches(s3_data.prefix, batch_size=4, shuffle=True, seed=21)
    epoch0 = labels(list(source))
    assert epoch0 == ShardedSampler(NUM_OBJECTS, shuffle=True, seed=21).indices()
    source.set_epoch(1)
    it = iter(source)
    head = [next(it), next(it)]
    state = source.state_dict()
    tail = list(it)
    assert sorted(labels(head + tail)) == ALL and labels(head + tail) != epoch0

    resumed = JaxBatches(s3_data.prefix, batch_size=4, shuffle=True, seed=21)
    resumed.load_state_dict(state)
    assert resumed.epoch == 1
    assert labels(list(resumed)) == labels(tail)


def test_custom_decode_and_tuple_samples(s3_data: S3Data) -> None:
    def decode(data: bytes) -> tuple[np.ndarray, np.ndarray]:
        arrays = np.load(io.BytesIO(data))
        return arrays["data"].sum(), arrays["label"]

    batches = list(JaxBatches(s3_data.uris[:6], batch_size=3, decode=decode))
    assert [b[1].tolist() for b in batches] == [[0, 1, 2], [3, 4, 5]]
    assert batches[1][0].tolist() == [3.0 * 32, 4.0 * 32, 5.0 * 32]


def test_process_shards(s3_data: S3Data) -> None:
    seen = [labels(list(JaxBatches(s3_data.prefix, 4, rank=r, world_size=2))) for r in (0, 1)]
    assert not set(seen[0]) & set(seen[1]) and sorted(seen[0] + seen[1]) == ALL
    default = JaxBatches(s3_data.prefix, 4)
    assert labels(list(default)) == ALL  # jax.process_count() == 1 here


def test_errors(s3_data: S3Data) -> None:
    def broken(data: bytes) -> np.ndarray:
        raise RuntimeError("nope")

    with pytest.raises(TransformError, match=f"transform failed for {s3_data.uris[0]}"):
        list(JaxBatches(s3_data.prefix, 4, decode=broken))
    empty = f"s3://{s3_data.bucket}/none-{uuid.uuid4().hex[:6]}/"
    with pytest.raises(EmptyDatasetError, match=empty):
        JaxBatches(empty, 4)
    with pytest.raises(ValueError, match=r"rank=1 with world_size=1"):
        JaxBatches(s3_data.prefix, 4, rank=1, world_size=1)
    with pytest.raises(ValueError, match="batch_size"):
        JaxBatches(s3_data.prefix, 0)
    with pytest.raises(ValueError, match="different shapes"):
        stack_samples([np.zeros(2), np.zeros(3)])
