"""Bounded memory (prefetch window, max_concurrency) and prompt cleanup when leaving early."""

from __future__ import annotations

import asyncio
import gc
import tracemalloc
from pathlib import Path

import pytest

from conftest import ScriptedDataset, block_forever, ids, item_bytes, no_delay, write_objects
from s3dlio import _sync
from s3dlio.loader import (
    PyBytesAsyncDataLoader,
    PyVecDataset,
    create_async_loader,
    create_async_loader_from_dataset,
)
from s3dlio.loader.loader import TASK_PREFIX

SIZE = 1000


def loader_tasks() -> list[asyncio.Task[object]]:
    return [t for t in asyncio.all_tasks() if t.get_name().startswith(TASK_PREFIX)]


async def settle(tasks: list[asyncio.Task[object]]) -> None:
    """Wait (bounded) for tasks that were told to stop; a leak shows up as a timeout."""
    if tasks:
        _, pending = await asyncio.wait(tasks, timeout=10)
        assert not pending, f"{len(pending)} loader tasks did not stop"


# --- memory -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("batch_size", "prefetch"), [(1, 0), (4, 1), (4, 2), (8, 3), (3, 5)])
def test_buffered_bytes_never_exceed_prefetch_plus_one_batches(batch_size: int, prefetch: int) -> None:
    items = [item_bytes(i, SIZE) for i in range(60)]
    ds = ScriptedDataset(
        items, no_delay, {"batch_size": batch_size, "prefetch": prefetch, "max_concurrency": 64}
    )
    loader = create_async_loader_from_dataset(ds)
    window: list[int] = []

    async def run() -> list[list[bytes]]:
        out = []
        async for batch in loader:
            out.append(batch)
            for _ in range(20):  # a slow consumer: let the loader fill its whole window
                await asyncio.sleep(0)
            window.append(len(ds.started) - len(out) * batch_size)
        return out

    batches = asyncio.run(run())
    assert ids(batches) == [list(range(i, min(i + batch_size, 60))) for i in range(0, 60, batch_size)]
    bound = (prefetch + 1) * batch_size * SIZE
    assert loader.stats.peak_buffered_bytes <= bound
    # prefetch really happens: while the consumer works, `prefetch` batches are read ahead
    assert max(window) == prefetch * batch_size
    assert loader.stats.peak_buffered_bytes >= prefetch * batch_size * SIZE
    assert loader.stats.buffered_bytes == 0


def test_max_concurrency_caps_requests_in_flight() -> None:
    items = [item_bytes(i) for i in range(50)]
    ds = PyVecDataset(items, {"batch_size": 16, "prefetch": 2, "max_concurrency": 4})
    loader = create_async_loader_from_dataset(ds)
    list(loader)
    assert loader.stats.peak_in_flight == 4
    loader = create_async_loader_from_dataset(ds, {"max_concurrency": 1})
    list(loader)
    assert loader.stats.peak_in_flight == 1


def test_peak_memory_with_tracemalloc(tmp_path: Path) -> None:
    size, count, batch_size, prefetch = 256 * 1024, 96, 4, 1
    prefix = write_objects(tmp_path, count, size)  # 24 MiB in all
    loader = create_async_loader(
        prefix, {"batch_size": batch_size, "prefetch": prefetch, "max_concurrency": 8}
    )

    async def run() -> int:
        seen = 0
        async for batch in loader:
            seen += len(batch)
            del batch
        return seen

    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base, _ = tracemalloc.get_traced_memory()
        assert asyncio.run(run()) == count
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    batch_bytes = batch_size * size
    # the loader's window plus the batch the consumer holds, plus the batch being assembled
    assert peak - base < (prefetch + 3) * batch_bytes + 2 * 1024 * 1024, (peak - base) / batch_bytes
    assert peak - base < count * size / 4


# --- leaving early: async -------------------------------------------------------------------
def blocked_loader(prefetch: int = 2) -> PyBytesAsyncDataLoader:
    """The first 4 items arrive at once; every later request blocks forever."""
    items = [item_bytes(i) for i in range(40)]

    async def hook(index: int) -> None:
        if index >= 4:
            await block_forever(index)

    return create_async_loader_from_dataset(
        ScriptedDataset(items, hook, {"batch_size": 4, "prefetch": prefetch, "max_concurrency": 6})
    )


def test_break_out_of_async_for_cancels_the_requests() -> None:
    async def run() -> None:
        loader = blocked_loader()
        async for batch in loader:
            assert len(batch) == 4
            break
        pending = [t for t in loader_tasks() if not t.done()]
        assert pending, "some requests were in flight"
        assert all(t.cancelling() for t in pending), "leaving the loop cancelled them at once"
        await settle(pending)
        assert loader_tasks() == []

    asyncio.run(run())


def test_aclose_leaves_no_task_behind() -> None:
    async def run() -> None:
        loader = blocked_loader()
        iterator = aiter(loader)
        await anext(iterator)
        assert any(not t.done() for t in loader_tasks())
        await iterator.aclose()
        assert [t for t in loader_tasks() if not t.done()] == []
        loader2 = blocked_loader()
        iterator2 = aiter(loader2)
        await anext(iterator2)
        await loader2.aclose()
        assert [t for t in loader_tasks() if not t.done()] == []
        del iterator, iterator2

    asyncio.run(run())


def test_cancelling_the_consumer_cancels_the_requests() -> None:
    async def run() -> None:
        loader = blocked_loader()
        got = asyncio.Event()

        async def consume() -> None:
            async for _ in loader:
                got.set()

        task = asyncio.create_task(consume())
        await got.wait()
        while not any(not t.done() for t in loader_tasks()):
            await asyncio.sleep(0)
        # the consumer now waits for batch 1, whose requests never finish
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await settle(loader_tasks())
        assert loader_tasks() == []
        assert loader.position == 4

    asyncio.run(run())


def test_timeout_on_next_batch_stops_fetching() -> None:
    async def run() -> None:
        loader = blocked_loader()
        iterator = aiter(loader)
        await anext(iterator)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(anext(iterator), timeout=0.05)
        await settle(loader_tasks())
        assert loader_tasks() == []

    asyncio.run(run())


def test_a_new_iteration_supersedes_an_unfinished_one() -> None:
    async def run() -> None:
        items = [item_bytes(i) for i in range(12)]
        loader = create_async_loader_from_dataset(PyVecDataset(items, {"batch_size": 4}))
        first = aiter(loader)
        assert [int(x[:6]) for x in await anext(first)] == [0, 1, 2, 3]
        second = aiter(loader)
        assert [int(x[:6]) for x in await anext(second)] == [4, 5, 6, 7]
        with pytest.raises(RuntimeError, match="superseded"):
            await anext(first)
        assert [int(x[:6]) for x in await anext(second)] == [8, 9, 10, 11]

    asyncio.run(run())


# --- leaving early: sync ------------------------------------------------------------------------
async def _background_loader_tasks() -> list[asyncio.Task[object]]:
    tasks = [t for t in loader_tasks() if not t.done()]
    await settle(tasks)
    return [t for t in loader_tasks() if not t.done()]


def test_break_out_of_for_cancels_the_background_requests() -> None:
    loader = blocked_loader()
    for batch in loader:
        assert len(batch) == 4
        break
    assert _sync.run(_background_loader_tasks()) == []


def test_sync_iterator_close_and_garbage_collection() -> None:
    loader = blocked_loader()
    iterator = iter(loader)
    next(iterator)
    iterator.close()  # type: ignore[attr-defined]
    assert _sync.run(_sync_pending()) == []
    loader = blocked_loader()
    iterator = iter(loader)
    next(iterator)
    del iterator
    gc.collect()
    assert _sync.run(_background_loader_tasks()) == []


async def _sync_pending() -> list[asyncio.Task[object]]:
    return [t for t in loader_tasks() if not t.done()]


def test_set_epoch_stops_an_unfinished_iteration() -> None:
    loader = blocked_loader()
    iterator = iter(loader)
    next(iterator)
    loader.set_epoch(3)
    assert _sync.run(_background_loader_tasks()) == []
    assert loader.position == 0 and loader.epoch == 3
    del iterator
