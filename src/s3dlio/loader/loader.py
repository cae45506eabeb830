"""The batch loader: ordered batches of ``bytes``, fetched concurrently with bounded memory.

How one epoch runs
------------------
1. The order is this rank's :class:`~s3dlio.loader.sampler.ShardedSampler` order for the
   current epoch; inside a torch DataLoader worker it is split across the workers
   (:func:`~s3dlio.loader.sampler.split_for_worker`, option ``num_workers_split``). Items
   already yielded in this epoch (after ``load_state_dict``, or an earlier iteration that
   stopped early) are skipped.
2. Each item is one GET, or ``ceil(size / part_size)`` ranged GETs when its listed size is
   above ``part_size``. Requests start strictly in epoch order, at most ``max_concurrency``
   in flight (a sliding window), and only for items in the next ``prefetch`` batches after
   the last one delivered (``prefetch + 1`` while the consumer is waiting for one). So the
   loader holds at most ``(prefetch + 1) x batch`` bytes, plus the batch in the caller's
   hands.
3. Batches are delivered in epoch order whatever order the requests complete in. The last
   batch may be short; with ``drop_last`` it is dropped (and the sampler drops the shards'
   uneven tail, see :mod:`s3dlio.loader.sampler`).
4. When an epoch is iterated to its end the loader moves to the next epoch, so iterating
   again gives the next epoch's order; :meth:`PyBytesAsyncDataLoader.set_epoch` sets it
   explicitly. Stopping early (``break``, an exception, cancellation, ``aclose()``) cancels
   the outstanding requests at once, and the next iteration resumes where the caller stopped.

A failed GET raises from the iteration (the core's errors name the URI) once the batches
before it have been delivered; the loader's position stays at the start of the failed batch.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from .. import _sync
from ..stores.base import Store
from . import adaptive
from .dataset import BaseDataset, Fetcher, Request, create_dataset, join_parts
from .items import ItemIterator
from .options import LoaderOptions
from .sampler import ShardedSampler, split_for_worker

__all__ = ["LoaderStats", "PyBytesAsyncDataLoader", "create_async_loader", "create_async_loader_from_dataset"]

_STATE_VERSION = 1
TASK_PREFIX = "s3dlio-loader"
"""Name prefix of the loader's fetch tasks (visible in ``asyncio.all_tasks()``)."""


@dataclass
class LoaderStats:
    """Counters of one loader (instrumentation; all iterations together)."""

    requests: int = 0
    """Item reads started (the engine splits a large item into ranges within one read)."""
    bytes_fetched: int = 0
    batches: int = 0
    buffered_bytes: int = 0
    """Bytes fetched but not yet delivered in a batch, right now."""
    peak_buffered_bytes: int = 0
    """The largest ``buffered_bytes`` seen."""
    peak_in_flight: int = 0
    """The most requests in flight at once."""


def _worker_split() -> tuple[int, int] | None:
    """``(worker id, number of workers)`` inside a torch DataLoader worker, else None.

    torch is only consulted when the program already imported it.
    """
    if "torch" not in sys.modules:
        return None
    data = sys.modules.get("torch.utils.data")
    get_info = getattr(data, "get_worker_info", None)
    if get_info is None:
        return None
    info = get_info()
    if info is None:
        return None
    return int(info.id), int(info.num_workers)


class _Slot:
    __slots__ = ("data", "parts", "remaining")

    def __init__(self, count: int) -> None:
        self.parts: list[bytes | None] = [None] * count
        self.remaining = count
        self.data: bytes | None = None


class _Closed(RuntimeError):
    pass


class _Run:
    """One iteration over (the rest of) an epoch, on the event loop that started it."""

    def __init__(
        self,
        loader: PyBytesAsyncDataLoader,
        order: Sequence[int],
        options: LoaderOptions,
        fetcher: Fetcher,
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self.thread = threading.get_ident()
        self.loader = loader
        self.dataset = loader.dataset
        self.stats = loader.stats
        self.order = order
        self.fetcher = fetcher
        self.bs = options.batch_size
        self.prefetch = options.prefetch
        self.max_in_flight = options.max_concurrency
        n = len(order)
        self.num_batches = n // self.bs if options.drop_last else -(-n // self.bs)
        self.total = min(n, self.num_batches * self.bs)
        self.slots: dict[int, _Slot] = {}
        self.ready_in_batch: dict[int, int] = {}
        self.next_item = 0
        self.next_part = 0
        self.parts: list[Request] | None = None
        self.in_flight = 0
        self.tasks: set[asyncio.Task[bytes]] = set()
        self.handed = 0
        self.waiting = False
        self.wake: asyncio.Future[None] | None = None
        self.error_pos: int | None = None
        self.error: BaseException | None = None
        self.closed = False
        self.close_reason = ""
        self.finished = False

    # -- scheduling (always on self.loop) ---------------------------------------------------
    def _batch_end(self, batch: int) -> int:
        return min((batch + 1) * self.bs, self.total)

    def _fill(self) -> None:
        if self.closed:
            return
        limit = self.handed + self.prefetch + (1 if self.waiting else 0)
        stop = self.total if self.error_pos is None else min(self.total, self.error_pos)
        while self.in_flight < self.max_in_flight and self.next_item < stop:
            pos = self.next_item
            if pos // self.bs >= limit:
                break
            if self.parts is None:
                try:
                    self.parts = self.dataset.requests(self.order[pos], self.fetcher)
                except Exception as exc:
                    self._fail(pos, exc)
                    return
                self.slots[pos] = _Slot(len(self.parts))
            part = self.next_part
            task = self.loop.create_task(self.parts[part](), name=f"{TASK_PREFIX}-{pos}.{part}")
            task.add_done_callback(partial(self._done, pos, part))
            self.tasks.add(task)
            self.in_flight += 1
            self.stats.requests += 1
            self.stats.peak_in_flight = max(self.stats.peak_in_flight, self.in_flight)
            self.next_part += 1
            if self.next_part == len(self.parts):
                self.next_item += 1
                self.next_part = 0
                self.parts = None

    def _fail(self, pos: int, exc: BaseException) -> None:
        if self.error_pos is None or pos < self.error_pos:
            self.error_pos, self.error = pos, exc
        self._notify(pos // self.bs)

    def _done(self, pos: int, part: int, task: asyncio.Task[bytes]) -> None:
        self.tasks.discard(task)
        self.in_flight -= 1
        if self.closed:
            return
        if task.cancelled():  # cancelled by someone else: an error for the consumer, not a hang
            uri = self.dataset.uri_of(self.order[pos])
            self._fail(pos, RuntimeError(f"the request for {uri or f'item {self.order[pos]}'} was cancelled"))
            return
        exc = task.exception()
        if exc is not None:
            self._fail(pos, exc)
            return
        data = task.result()
        slot = self.slots[pos]
        slot.parts[part] = data
        slot.remaining -= 1
        self.stats.bytes_fetched += len(data)
        self._buffer(len(data))
        if slot.remaining == 0:
            index = self.order[pos]
            try:
                slot.data = join_parts(
                    slot.parts,
                    self.dataset.uri_of(index),
                    self.dataset.size_of(index),
                )
            except Exception as error:
                self._fail(pos, error)
                return
            slot.parts = []
            batch = pos // self.bs
            self.ready_in_batch[batch] = self.ready_in_batch.get(batch, 0) + 1
            self._notify(batch)
        self._fill()

    def _buffer(self, delta: int) -> None:
        stats = self.stats
        stats.buffered_bytes += delta
        stats.peak_buffered_bytes = max(stats.peak_buffered_bytes, stats.buffered_bytes)

    def _notify(self, batch: int) -> None:
        if batch == self.handed and self.wake is not None and not self.wake.done():
            self.wake.set_result(None)

    def _batch_ready(self, batch: int) -> bool:
        return self.ready_in_batch.get(batch, 0) == self._batch_end(batch) - batch * self.bs

    # -- consumer ----------------------------------------------------------------------------
    async def next(self) -> builtins.list[bytes]:
        if self.closed:
            if self.finished:
                raise StopAsyncIteration
            raise _Closed(self.close_reason or "this loader iteration was closed")
        batch = self.handed
        if batch >= self.num_batches:
            self.finished = True
            self._shutdown("finished")
            self.loader._epoch_done(self)
            raise StopAsyncIteration
        lo, hi = batch * self.bs, self._batch_end(batch)
        self.waiting = True
        try:
            self._fill()
            while not self._batch_ready(batch):
                if self.error_pos is not None and self.error_pos < hi:
                    error = self.error
                    assert error is not None
                    self._shutdown(f"stopped by an error: {error}")
                    raise error
                if self.closed:
                    raise _Closed(self.close_reason or "this loader iteration was closed")
                self.wake = self.loop.create_future()
                await self.wake
        except BaseException as exc:
            if not self.closed:
                self._shutdown(f"stopped by {type(exc).__name__}")
            raise
        finally:
            self.waiting = False
            self.wake = None
        items: list[bytes] = []
        for pos in range(lo, hi):
            data = self.slots.pop(pos).data
            assert data is not None
            items.append(data)
        self.ready_in_batch.pop(batch, None)
        self._buffer(-sum(len(d) for d in items))
        self.handed += 1
        self.stats.batches += 1
        self.loader._advance(self, len(items))
        self._fill()
        return items

    # -- shutdown ------------------------------------------------------------------------------
    def _shutdown(self, reason: str) -> None:
        """Cancel every request (on the loop's thread) and drop buffered data."""
        if self.closed:
            return
        self.closed = True
        self.close_reason = reason
        for task in builtins.list(self.tasks):
            task.cancel()
        held = sum(len(p) for s in self.slots.values() for p in s.parts if p is not None)
        held += sum(len(s.data) for s in self.slots.values() if s.data is not None)
        self.slots.clear()
        self._buffer(-held)
        if self.wake is not None and not self.wake.done():
            self.wake.set_result(None)

    def close_nowait(self, reason: str = "closed") -> None:
        """Cancel the outstanding requests from any thread, without waiting."""
        if self.closed:
            return
        if threading.get_ident() == self.thread:
            self._shutdown(reason)
            return
        with contextlib.suppress(RuntimeError):  # a closed loop: nothing runs any more
            self.loop.call_soon_threadsafe(self._shutdown, reason)

    async def aclose(self, reason: str = "closed") -> None:
        """Cancel the outstanding requests and wait until they have stopped."""
        pending = builtins.list(self.tasks)
        self._shutdown(reason)
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)


_END = object()


class _BatchIterator:
    """``async for`` iterator over one epoch; also driven synchronously by :class:`_SyncIterator`."""

    def __init__(self, loader: PyBytesAsyncDataLoader) -> None:
        self._loader = loader
        self._run: _Run | None = None
        self._closed = False

    def __aiter__(self) -> _BatchIterator:
        return self

    async def __anext__(self) -> builtins.list[bytes]:
        if self._run is None:
            if self._closed:
                raise StopAsyncIteration
            self._run = await self._loader._start_run()
        return await self._run.next()

    async def next_or_end(self) -> Any:
        try:
            return await self.__anext__()
        except StopAsyncIteration:
            return _END

    async def aclose(self) -> None:
        """Stop this iteration: cancel its requests and wait for them to finish."""
        self._closed = True
        if self._run is not None:
            await self._run.aclose()

    def close_nowait(self) -> None:
        self._closed = True
        if self._run is not None:
            self._run.close_nowait()

    def __del__(self) -> None:
        run = getattr(self, "_run", None)
        if run is not None and not run.closed:
            run.close_nowait("the iterator was garbage collected")


class _SyncIterator:
    """Plain ``for`` iteration, run on s3dlio's background event loop."""

    def __init__(self, loader: PyBytesAsyncDataLoader) -> None:
        self._it = _BatchIterator(loader)

    def __iter__(self) -> _SyncIterator:
        return self

    def __next__(self) -> builtins.list[bytes]:
        batch = _sync.run(self._it.next_or_end())
        if batch is _END:
            raise StopIteration
        return batch  # type: ignore[no-any-return]

    def close(self) -> None:
        """Stop this iteration and wait until its requests are cancelled."""
        try:
            _sync.run(self._it.aclose())
        except RuntimeError:  # called on s3dlio's own loop thread: cannot wait there
            self._it.close_nowait()

    def __enter__(self) -> _SyncIterator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        it = getattr(self, "_it", None)
        if it is not None:
            it.close_nowait()


class PyBytesAsyncDataLoader:
    """Batches (``list[bytes]``) of a dataset, in a deterministic, resumable order.

    Use ``async for batch in loader`` or ``for batch in loader``. See the module docstring
    for how an epoch runs, and :mod:`s3dlio.loader.options` for the options.
    """

    def __init__(self, dataset: BaseDataset, opts: LoaderOptions | Mapping[str, Any] | None = None) -> None:
        if not isinstance(dataset, BaseDataset):
            raise TypeError(f"expected a PyDataset or PyVecDataset, got {type(dataset).__name__}")
        self._dataset = dataset
        self._options = dataset.options.merged(opts)
        o = self._options
        self._sampler = ShardedSampler(
            len(dataset),
            shuffle=o.shuffle,
            seed=o.seed,
            epoch=o.epoch,
            rank=o.shard_rank,
            world_size=o.shard_world_size,
            drop_last=o.drop_last,
        )
        self._position = 0
        self._split: tuple[int, int] | None = None
        self._tuned: tuple[LoaderOptions, str | None] | None = None
        self._run: _Run | None = None
        self.stats = LoaderStats()

    # -- properties ------------------------------------------------------------------------
    @property
    def dataset(self) -> BaseDataset:
        return self._dataset

    @property
    def options(self) -> LoaderOptions:
        """The options as given (before adaptive presets)."""
        return self._options

    @property
    def sampler(self) -> ShardedSampler:
        return self._sampler

    @property
    def epoch(self) -> int:
        return self._sampler.epoch

    @property
    def seed(self) -> int:
        return self._sampler.seed

    @property
    def position(self) -> int:
        """Items already yielded in the current epoch (by this worker, when split)."""
        return self._position

    @property
    def workload_type(self) -> str | None:
        """The adaptive workload type in use (None until the first epoch, or when disabled)."""
        return self._tuned[1] if self._tuned is not None else None

    @property
    def effective_options(self) -> LoaderOptions:
        """The options in use after adaptive presets (the given options until resolved)."""
        return self._tuned[0] if self._tuned is not None else self._options

    def __len__(self) -> int:
        """Batches in a full epoch for this rank (and worker, inside a DataLoader worker)."""
        n = len(self._epoch_order())
        bs = self._options.batch_size
        return n // bs if self._options.drop_last else -(-n // bs)

    # -- epochs and state ------------------------------------------------------------------
    def _close_active(self, reason: str) -> None:
        if self._run is not None:
            self._run.close_nowait(reason)
            self._run = None

    def set_epoch(self, epoch: int) -> None:
        """Start epoch ``epoch`` from its beginning (a new order when shuffling)."""
        self._close_active("superseded by set_epoch()")
        self._sampler.set_epoch(epoch)
        self._position = 0

    def state_dict(self) -> dict[str, Any]:
        """The sampler's state and the items already yielded in this epoch."""
        return {
            "version": _STATE_VERSION,
            "sampler": self._sampler.state_dict(),
            "position": self._position,
            "worker_split": list(self._split) if self._split is not None else None,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Resume from :meth:`state_dict`: the next iteration continues exactly where it was."""
        if not isinstance(state, Mapping) or "sampler" not in state or "position" not in state:
            raise ValueError("loader state must be a dict from state_dict() with 'sampler' and 'position'")
        position = state["position"]
        if isinstance(position, bool) or not isinstance(position, int) or position < 0:
            raise ValueError(f"loader state 'position' must be an int >= 0, got {position!r}")
        self._close_active("superseded by load_state_dict()")
        self._sampler.load_state_dict(dict(state["sampler"]))
        self._position = position
        split = state.get("worker_split")
        self._split = (int(split[0]), int(split[1])) if split is not None else None

    def _epoch_order(self) -> list[int]:
        order = self._sampler.indices()
        split = _worker_split() if self._options.num_workers_split else None
        if split is not None:
            order = split_for_worker(order, *split)
        return order

    def _advance(self, run: _Run, count: int) -> None:
        if run is self._run:
            self._position += count

    def _epoch_done(self, run: _Run) -> None:
        if run is self._run:
            self._run = None
            self._sampler.set_epoch(self._sampler.epoch + 1)
            self._position = 0

    # -- running ---------------------------------------------------------------------------
    async def _tuning(self) -> tuple[LoaderOptions, str | None]:
        if self._tuned is None:
            opts = self._options
            sizes: list[int] = []
            if opts.adaptive is not None and opts.adaptive.enabled and opts.adaptive.workload_type == "auto":
                sizes = await _sample_sizes(self._dataset)
            self._tuned = adaptive.tune(opts, sizes)
        return self._tuned

    async def _sizes_for(self, options: LoaderOptions) -> None:
        """With ``skip_head=False``, HEAD the objects whose size is unknown (once)."""
        fill = getattr(self._dataset, "fill_sizes_async", None)
        if not options.skip_head and fill is not None:
            await fill(options.max_concurrency)

    async def _start_run(self) -> _Run:
        options, kind = await self._tuning()
        await self._sizes_for(options)
        self._close_active("superseded by a newer iteration of the same loader")
        order = self._sampler.indices()
        split = _worker_split() if options.num_workers_split else None
        if split is not None:
            order = split_for_worker(order, *split)
        if self._position and self._split != split:
            raise ValueError(
                f"cannot resume: the state was saved with DataLoader worker split {self._split} "
                f"but this iteration runs with {split}"
            )
        self._split = split
        fetcher = Fetcher.for_options(options, self._dataset.client, kind)
        run = _Run(self, order[self._position :], options, fetcher)
        self._run = run
        return run

    def __aiter__(self) -> _BatchIterator:
        return _BatchIterator(self)

    def items(self) -> ItemIterator:
        """Single objects with their URI, in completion order: see :mod:`s3dlio.loader.items`.

        Their data is a zero-copy :class:`~s3dlio.BytesView` (``bytes(item)`` copies), or
        ``bytes`` when the loader was given ``zero_copy=False`` explicitly.

        Up to ``prefetch`` objects (at least 1) are in flight or waiting, and at most
        ``max_concurrency`` requests when it is set (else ``max(prefetch, 16)``); ``collect_batch(n)``
        takes up to ``n`` at once and returns an empty list at the end. Inside a torch
        DataLoader worker the order is split across the workers only when ``num_workers_split``
        was set explicitly: callers of this API (DLIO) give each worker its own URI list.
        """

        async def start() -> ItemIterator:
            tuned, kind = await self._tuning()
            await self._sizes_for(tuned)
            # Items are zero-copy unless ``zero_copy`` was set: DLIO only takes ``len(item)``,
            # and a copy per item is client CPU the original does not spend.
            zero_copy = tuned.zero_copy if "zero_copy" in tuned.explicit else True
            fetcher = Fetcher.for_options(tuned, self._dataset.client, kind, zero_copy)
            order = self._sampler.indices()
            explicit = "num_workers_split" in tuned.explicit and tuned.num_workers_split
            split = _worker_split() if explicit else None
            if split is not None:
                order = split_for_worker(order, *split)
            window = max(1, tuned.prefetch)
            requests = tuned.max_concurrency if "max_concurrency" in tuned.explicit else max(window, 16)
            return ItemIterator(self._dataset, order, window, fetcher, requests)

        return _sync.run(start())

    def __iter__(self) -> Iterator[builtins.list[bytes]]:
        return _SyncIterator(self)

    async def aclose(self) -> None:
        """Stop the current iteration (if any) and wait for its requests to be cancelled."""
        run, self._run = self._run, None
        if run is not None:
            if run.loop is asyncio.get_running_loop():
                await run.aclose("closed by aclose()")
            else:
                run.close_nowait("closed by aclose()")

    def close(self) -> None:
        """Stop the current iteration (if any) from synchronous code."""
        self._close_active("closed by close()")

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_run"] = None
        return state

    def __repr__(self) -> str:
        o = self._options
        return (
            f"PyBytesAsyncDataLoader({self._dataset!r}, batch_size={o.batch_size}, epoch={self.epoch}, "
            f"position={self._position})"
        )


async def _sample_sizes(dataset: BaseDataset) -> list[int]:
    """Object sizes for adaptive ``auto``: the known ones, or a few read with HEAD requests."""
    known = [s for s in dataset.sizes if s is not None]
    if known or len(dataset) == 0:
        return known
    count = min(adaptive.SAMPLE_SIZE, len(dataset))
    picks = sorted({i * len(dataset) // count for i in range(count)})
    fetcher = Fetcher(dataset.options.part_size, dataset.options.max_concurrency, dataset.client)

    async def head(index: int) -> int:
        uri = dataset.uri_of(index)
        assert uri is not None
        store: Store
        store, key = fetcher.store(uri)
        return (await store.head(key)).size

    return builtins.list(await asyncio.gather(*(head(i) for i in picks)))


def create_async_loader(
    uri: str | Sequence[str] | BaseDataset, opts: LoaderOptions | Mapping[str, Any] | None = None
) -> PyBytesAsyncDataLoader:
    """A loader over the objects under the prefix ``uri`` (or a list of URIs, or a dataset).

    The prefix is listed now (see :func:`~s3dlio.loader.dataset.create_dataset`); an empty
    prefix raises :class:`~s3dlio.loader.dataset.EmptyDatasetError`.
    """
    if isinstance(uri, BaseDataset):
        return PyBytesAsyncDataLoader(uri, opts)
    options = LoaderOptions.from_dict(opts)
    return PyBytesAsyncDataLoader(create_dataset(uri, options))


def create_async_loader_from_dataset(
    dataset: BaseDataset, opts: LoaderOptions | Mapping[str, Any] | None = None
) -> PyBytesAsyncDataLoader:
    """A loader over ``dataset``; ``opts`` override the options the dataset was created with."""
    return PyBytesAsyncDataLoader(dataset, opts)
