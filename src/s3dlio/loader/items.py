"""``loader.items()``: single objects in completion order, with their URI (DLIO's streaming read).

::

    dataset = s3dlio.PyDataset.from_uris(uris)
    loader = s3dlio.PyBytesAsyncDataLoader(dataset, {"prefetch": 64})
    items = loader.items()
    while batch := items.collect_batch(16):      # an empty list at the end
        for item in batch:
            print(item.uri, len(item))

A sliding window keeps up to ``prefetch`` objects (at least 1) in flight or waiting to be taken,
so memory stays bounded by ``prefetch`` objects; each completion starts the next request at
once. The objects are those of the loader's current epoch order (its shuffle, seed and sharding apply;
the DataLoader-worker split only when ``num_workers_split`` is set explicitly, since callers of
this API hand each worker its own URI list), delivered in the order their reads complete. Large objects are
read as ranged GETs; at most ``max_concurrency`` requests are in flight in all when it is set
explicitly, else ``max(prefetch, 16)`` (so ``{"prefetch": 64}`` keeps 64 GETs in flight, as in
the original). A failed read is
raised (items completed before it are returned first) and stops the iteration; ``close()``, a
``with`` block or dropping the iterator cancels the outstanding requests.

``items()`` does not move the loader's epoch or resume position (``state_dict`` describes batch
iteration); call ``set_epoch`` for another epoch's order.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import threading
from collections.abc import Sequence
from typing import Any

from .. import _sync
from .dataset import BaseDataset, Fetcher, join_parts

__all__ = ["ItemIterator", "PyObjectItem"]


class PyObjectItem:
    """One object from :meth:`PyBytesAsyncDataLoader.items`: ``item.uri`` and its data.

    ``len(item)`` and ``item.byte_count`` are its size, ``bytes(item)`` a copy, ``item.data``
    the buffer itself: a read-only :class:`~s3dlio.BytesView` (``memoryview(item.data)``,
    ``np.frombuffer(item.data, ...)``, no copy), or ``bytes`` with ``zero_copy=False`` given.
    """

    __slots__ = ("data", "index", "uri")

    def __init__(self, uri: str, data: Any, index: int) -> None:
        self.uri = uri
        """The object's URI (for in-memory datasets ``item:<index>``)."""
        self.data = data
        """The object's bytes (a buffer)."""
        self.index = index
        """The object's index in the dataset."""

    @property
    def byte_count(self) -> int:
        """Bytes in the object (the same as ``len(item)``)."""
        return len(self.data)

    def __len__(self) -> int:
        return len(self.data)

    def __bytes__(self) -> bytes:
        return bytes(self.data)

    def __buffer__(self, flags: int) -> memoryview:  # Python >= 3.12: memoryview(item)
        return memoryview(self.data)

    def __repr__(self) -> str:
        return f"PyObjectItem(uri={self.uri!r}, byte_count={len(self.data)})"


class _ItemRun:
    """The sliding window of one ``items()`` iteration, on s3dlio's event loop."""

    def __init__(
        self, dataset: BaseDataset, order: Sequence[int], window: int, fetcher: Fetcher, requests: int
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self.dataset = dataset
        self.order = order
        self.window = window
        self.fetcher = fetcher
        self.requests = asyncio.Semaphore(requests)
        self.next_pos = 0
        self.tasks: set[asyncio.Task[PyObjectItem]] = set()
        self.ready: collections.deque[PyObjectItem] = collections.deque()
        self.error: BaseException | None = None
        self.wake: asyncio.Future[None] | None = None
        self.closed = False

    def _fill(self) -> None:
        while (
            not self.closed
            and self.error is None
            and self.next_pos < len(self.order)
            and len(self.tasks) + len(self.ready) < self.window
        ):
            index = self.order[self.next_pos]
            self.next_pos += 1
            task = self.loop.create_task(self._fetch(index), name=f"s3dlio-items-{index}")
            task.add_done_callback(self._done)
            self.tasks.add(task)

    async def _fetch(self, index: int) -> PyObjectItem:
        requests = self.dataset.requests(index, self.fetcher)

        async def one(position: int) -> None:
            async with self.requests:
                parts[position] = await requests[position]()

        parts: list[Any] = [None] * len(requests)
        if len(requests) == 1:
            await one(0)
        else:
            try:
                async with asyncio.TaskGroup() as group:
                    for position in range(len(requests)):
                        group.create_task(one(position))
            except BaseExceptionGroup as failed:
                raise failed.exceptions[0] from None
        uri = self.dataset.uri_of(index)
        data = join_parts(parts, uri, self.dataset.size_of(index))
        return PyObjectItem(uri if uri is not None else f"item:{index}", data, index)

    def _done(self, task: asyncio.Task[PyObjectItem]) -> None:
        self.tasks.discard(task)
        if self.closed or task.cancelled():
            if not self.closed and self.error is None:
                self.error = RuntimeError("a read of items() was cancelled")
        elif (exc := task.exception()) is not None:
            if self.error is None:
                self.error = exc
        else:
            self.ready.append(task.result())
        if self.wake is not None and not self.wake.done():
            self.wake.set_result(None)
        self._fill()

    async def take(self, n: int) -> list[PyObjectItem]:
        out: list[PyObjectItem] = []
        self._fill()
        while len(out) < n:
            if self.ready:
                out.append(self.ready.popleft())
                self._fill()
                continue
            if self.error is not None:
                if out:
                    return out  # the error is raised by the next call
                error = self.error
                await self.aclose()
                raise error
            if self.closed or (self.next_pos >= len(self.order) and not self.tasks):
                break
            self.wake = self.loop.create_future()
            try:
                await self.wake
            finally:
                self.wake = None
        return out

    async def aclose(self) -> None:
        self.closed = True
        pending = list(self.tasks)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        self.ready.clear()

    def close_nowait(self) -> None:
        if self.closed:
            return
        with contextlib.suppress(RuntimeError):  # a closed loop: nothing runs any more
            self.loop.call_soon_threadsafe(lambda: self.loop.create_task(self.aclose()))


class ItemIterator:
    """The iterator :meth:`PyBytesAsyncDataLoader.items` returns (see the module docstring)."""

    def __init__(
        self, dataset: BaseDataset, order: Sequence[int], window: int, fetcher: Fetcher, requests: int
    ) -> None:
        self._args = (dataset, order, window, fetcher, requests)
        self._run: _ItemRun | None = None
        self._lock = threading.Lock()

    async def _start(self) -> _ItemRun:
        if self._run is None:
            self._run = _ItemRun(*self._args)
        return self._run

    async def _take(self, n: int) -> list[PyObjectItem]:
        run = await self._start()
        return await run.take(n)

    def collect_batch(self, n: int) -> list[PyObjectItem]:
        """Up to ``n`` items (fewer only at the end); an empty list once every item was taken."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"collect_batch() needs an int n >= 0, got {n!r}")
        if n == 0:
            return []
        with self._lock:
            return _sync.run(self._take(n))

    def __iter__(self) -> ItemIterator:
        return self

    def __next__(self) -> PyObjectItem:
        batch = self.collect_batch(1)
        if not batch:
            raise StopIteration
        return batch[0]

    def close(self) -> None:
        """Cancel the outstanding reads and wait until they have stopped."""
        run = self._run
        if run is not None:
            _sync.run(run.aclose())

    def __enter__(self) -> ItemIterator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        run = getattr(self, "_run", None)
        if run is not None:
            run.close_nowait()
