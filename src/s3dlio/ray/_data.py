"""Ray Data over s3dlio: a Datasource that reads objects and byte ranges in parallel, and a Datasink.

Each read task fetches its share of the objects concurrently on s3dlio's event loop inside the
Ray worker; the datasource pickles to its settings and URI list only (no client, connection or
buffer), so it works on any Ray cluster whose workers can reach the storage.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator, Sequence
from functools import partial
from typing import Any

import pyarrow as pa
from ray.data import Dataset, Datasource, ReadTask, read_datasource
from ray.data.block import BlockAccessor, BlockMetadata
from ray.data.datasource import Datasink

from .. import ops
from .._sync import run
from ..frameworks._common import check_positive, resolve_uris

__all__ = ["S3dlioDatasink", "S3dlioDatasource", "read_objects"]

Item = tuple[str, int | None, int | None]  # (uri, offset, length): offset None = whole object


def _as_items(uri_or_uris: str | Iterable[str | tuple[str, int, int]]) -> list[Item]:
    if isinstance(uri_or_uris, str):
        return [(uri, None, None) for uri in resolve_uris(uri_or_uris)]
    items: list[Item] = []
    for entry in uri_or_uris:
        if isinstance(entry, str):
            items.append((entry, None, None))
            continue
        if not isinstance(entry, tuple | list) or len(entry) != 3:
            raise TypeError(f"each item must be a URI or a (uri, offset, length) tuple, got {entry!r:.80}")
        uri, offset, length = entry
        for name, value in (("offset", offset), ("length", length)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be an integer >= 0, got {value!r} (for {uri!r})")
        items.append((str(uri), offset, length))
    if not items:
        raise ValueError("read_objects needs at least one object")
    return items


async def _fetch(items: Sequence[Item], max_in_flight: int) -> list[bytes]:
    """The bytes of every item, in order, with at most ``max_in_flight`` requests at once."""
    gate = asyncio.Semaphore(max_in_flight)

    async def one(item: Item) -> bytes:
        uri, offset, length = item
        async with gate:
            data = await (ops.get_async(uri) if offset is None else ops.get_range_async(uri, offset, length))
        return data if isinstance(data, bytes) else bytes(memoryview(data))

    try:
        async with asyncio.TaskGroup() as group:  # a failure cancels and awaits the rest
            tasks = [group.create_task(one(item)) for item in items]
    except ExceptionGroup as failed:
        raise failed.exceptions[0] from None  # the first failure, naming its object
    return [task.result() for task in tasks]


def _read_block(items: Sequence[Item], max_in_flight: int, with_ranges: bool) -> Iterator[pa.Table]:
    blobs = run(_fetch(items, max_in_flight))
    columns: dict[str, Any] = {
        "uri": pa.array([uri for uri, _, _ in items], pa.string()),
        "data": pa.array(blobs, pa.large_binary()),
    }
    if with_ranges:
        columns["offset"] = pa.array([0 if off is None else off for _, off, _ in items], pa.int64())
        columns["length"] = pa.array([len(b) for b in blobs], pa.int64())
    yield pa.table(columns)


class S3dlioDatasource(Datasource):  # type: ignore[misc,unused-ignore]  # ray's hints vary by release
    """Objects (``uri``, ``data``) or byte ranges (also ``offset``, ``length``) as Ray Data rows.

    Args:
        uri_or_uris: a prefix (listed once, on the driver, sorted), one object URI, or a list
            of URIs and ``(uri, offset, length)`` tuples (a byte range of an object).
        max_in_flight: concurrent requests inside each read task.
    """

    def __init__(self, uri_or_uris: str | Iterable[str | tuple[str, int, int]], *, max_in_flight: int = 16):
        self._items = _as_items(uri_or_uris)
        self._max_in_flight = check_positive("max_in_flight", max_in_flight)
        self._with_ranges = any(offset is not None for _, offset, _ in self._items)

    def get_name(self) -> str:
        return "S3dlio"

    def estimate_inmemory_data_size(self) -> int | None:
        return None

    def get_read_tasks(
        self, parallelism: int, per_task_row_limit: int | None = None, data_context: Any = None
    ) -> list[ReadTask]:
        count = max(1, min(parallelism, len(self._items)))
        tasks = []
        for index in range(count):
            share = self._items[index::count]  # contiguous shares would put big objects together
            meta = BlockMetadata(
                num_rows=len(share),
                size_bytes=None,
                exec_stats=None,
                input_files=tuple(dict.fromkeys(uri for uri, _, _ in share)),
            )
            tasks.append(
                ReadTask(
                    partial(_read_block, share, self._max_in_flight, self._with_ranges),
                    meta,
                    per_task_row_limit=per_task_row_limit,
                )
            )
        return tasks


def read_objects(
    uri_or_uris: str | Iterable[str | tuple[str, int, int]],
    *,
    max_in_flight: int = 16,
    override_num_blocks: int | None = None,
    **read_args: Any,
) -> Dataset:
    """A Ray ``Dataset`` of objects or byte ranges read in parallel (see :class:`S3dlioDatasource`).

    Rows are ``{"uri": str, "data": bytes}``, plus ``offset`` and ``length`` when ranges were
    asked for. ``override_num_blocks`` sets the number of read tasks; other keyword arguments
    go to ``ray.data.read_datasource``.
    """
    source = S3dlioDatasource(uri_or_uris, max_in_flight=max_in_flight)
    dataset: Dataset = read_datasource(source, override_num_blocks=override_num_blocks, **read_args)
    return dataset


class S3dlioDatasink(Datasink[list[str]]):  # type: ignore[misc,unused-ignore]
    """Writes each row's bytes as one object under ``prefix``, from parallel Ray write tasks.

    The object name comes from the column ``name_column`` (a relative key such as
    ``"train/0001.bin"``) when given, else from the task and row index
    (``part-<task>-<row>.bin``). ``data_column`` holds the bytes. Objects are written
    concurrently with :func:`s3dlio.put_many`; a failure fails the write (nothing is swallowed).

    Use ``dataset.write_datasink(S3dlioDatasink("s3://bucket/out/"))``.
    """

    def __init__(
        self,
        prefix: str,
        *,
        data_column: str = "data",
        name_column: str | None = None,
        suffix: str = ".bin",
        max_in_flight: int = 16,
    ) -> None:
        ops.resolve(prefix)  # a bad URI fails here, on the driver
        self.prefix = prefix if prefix.endswith("/") else prefix + "/"
        self.data_column = data_column
        self.name_column = name_column
        self.suffix = suffix
        self.max_in_flight = check_positive("max_in_flight", max_in_flight)
        self.written: list[str] = []

    def get_name(self) -> str:
        return "S3dlio"

    def write(self, blocks: Iterable[Any], ctx: Any) -> list[str]:
        items: list[tuple[str, Any]] = []
        for block in blocks:
            table = BlockAccessor.for_block(block).to_arrow()
            for name in (self.data_column, self.name_column):
                if name is not None and name not in table.column_names:
                    raise KeyError(
                        f"S3dlioDatasink: the dataset has no column {name!r} ({table.column_names})"
                    )
            data = table.column(self.data_column).to_pylist()
            names = (
                table.column(self.name_column).to_pylist()
                if self.name_column is not None
                else [f"part-{ctx.task_idx:05d}-{len(items) + i:06d}{self.suffix}" for i in range(len(data))]
            )
            items += [(self.prefix + str(n).lstrip("/"), d) for n, d in zip(names, data, strict=True)]
        run(ops.put_many_async(items, max_in_flight=self.max_in_flight))
        return [uri for uri, _ in items]

    def on_write_complete(self, write_result: Any) -> None:
        results = getattr(write_result, "write_returns", write_result)
        self.written = sorted(uri for task in results for uri in task)
