"""The API guide's loader snippets, run against file:// data."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import numpy as np
import pytest

import s3dlio


@pytest.fixture
def npz_prefix(tmp_path: Path) -> str:
    directory = tmp_path / "training"
    directory.mkdir()
    for i in range(100):
        np.savez(directory / f"file_{i:03d}.npz", data=np.full((4, 4), i, dtype=np.float32))
    return f"file://{directory}/"


def label(item: bytes) -> int:
    return int(np.load(io.BytesIO(item))["data"][0, 0])


def test_quick_start_async_loader(npz_prefix: str) -> None:
    seen: list[int] = []

    async def load_data() -> None:
        loader = s3dlio.create_async_loader(
            uri=npz_prefix, opts={"batch_size": 32, "prefetch": 2, "shuffle": True}
        )
        async for batch in loader:
            for item in batch:
                assert isinstance(item, bytes)
                seen.append(label(item))

    asyncio.run(load_data())
    assert sorted(seen) == list(range(100)) and seen != list(range(100))


def test_recommended_async_loader(npz_prefix: str) -> None:
    sizes: list[int] = []

    async def train() -> None:
        loader = s3dlio.create_async_loader(
            uri=npz_prefix,
            opts={"batch_size": 64, "prefetch": 3, "max_concurrency": 16, "shuffle": True, "seed": 42},
        )
        async for batch in loader:
            assert isinstance(batch[0], bytes)
            sizes.append(len(batch))

    asyncio.run(train())
    assert sizes == [64, 36]


def test_dataset_then_loader(npz_prefix: str) -> None:
    dataset = s3dlio.create_dataset(uri=npz_prefix, opts={"batch_size": 32, "shuffle": True})
    loader = s3dlio.create_async_loader_from_dataset(dataset)
    batches = list(loader)
    assert [len(b) for b in batches] == [32, 32, 32, 4]
    assert sorted(label(x) for b in batches for x in b) == list(range(100))


def test_adaptive_tuning_snippets(npz_prefix: str) -> None:
    loader = s3dlio.create_async_loader(
        uri=npz_prefix, opts={"batch_size": 32, "adaptive": {"mode": "enabled", "workload_type": "auto"}}
    )
    assert sum(len(b) for b in loader) == 100
    assert loader.workload_type == "small"
    loader = s3dlio.create_async_loader(
        uri=npz_prefix, opts={"adaptive": {"mode": "enabled", "workload_type": "large"}}
    )
    assert sum(len(b) for b in loader) == 100
    assert loader.effective_options.part_size == 16 * 1024 * 1024


def test_pytorch_integration_snippet(npz_prefix: str) -> None:
    import torch

    shapes: list[tuple[int, ...]] = []

    async def pytorch_dataloader() -> None:
        loader = s3dlio.create_async_loader(
            uri=npz_prefix, opts={"batch_size": 64, "shuffle": True, "seed": 42}
        )
        async for batch in loader:
            tensors = [torch.from_numpy(np.load(io.BytesIO(b))["data"]) for b in batch]
            shapes.append(tuple(torch.stack(tensors).shape))

    asyncio.run(pytorch_dataloader())
    assert shapes == [(64, 4, 4), (36, 4, 4)]


def test_pattern_2_multi_epoch_training(npz_prefix: str) -> None:
    orders: list[list[int]] = []

    async def multi_epoch_training(num_epochs: int = 3) -> None:
        for epoch in range(num_epochs):
            loader = s3dlio.create_async_loader(
                uri=npz_prefix, opts={"batch_size": 32, "shuffle": True, "seed": epoch}
            )
            batch_count = 0
            order: list[int] = []
            async for batch in loader:
                order.extend(label(x) for x in batch)
                batch_count += 1
            assert batch_count == 4
            orders.append(order)

    asyncio.run(multi_epoch_training())
    assert all(sorted(o) == list(range(100)) for o in orders)
    assert len({tuple(o) for o in orders}) == 3, "a different shuffle each epoch"


def test_local_file_testing_snippet(tmp_path: Path) -> None:
    directory = tmp_path / "data"
    directory.mkdir()
    for i in range(10):
        np.savez(directory / f"file_{i:03d}.npz", array=np.random.rand(100, 100))
    loader = s3dlio.create_async_loader(uri=f"file://{directory}/", opts={"batch_size": 16})
    (batch,) = list(loader)
    assert len(batch) == 10
    assert s3dlio.read_npz(f"file://{directory}/file_000.npz")["array"].shape == (100, 100)


def test_out_of_memory_and_slow_loading_advice(npz_prefix: str) -> None:
    for opts in ({"batch_size": 8}, {"prefetch": 1}, {"max_concurrency": 32}, {"batch_size": 64}):
        loader = s3dlio.create_async_loader(uri=npz_prefix, opts=opts)
        assert sum(len(b) for b in loader) == 100
