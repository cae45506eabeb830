"""Parquet row groups from any backend: footers, a row-group index, and row-group reads.

* ``read_parquet_footer_async(uri)``: the file's size and ``pyarrow.parquet.FileMetaData``, from
  one ranged GET of the file's last ``footer_cap`` bytes (a second GET only when the footer is
  larger), cached per URI for the process (``invalidate_parquet_footer`` drops an entry).
* ``read_row_group_async(uri, rg, col_indices)``: one ranged GET of the row group's extent,
  decoded by pyarrow into a Table. ``read_parquet`` reads several (or all) row groups;
  ``iter_parquet_row_groups`` yields them one by one.
* The original's API: ``parquet_get_rg(uri, rg_idx, col_indices=None, footer_cap=4 MiB,
  decode="arrow")`` returns Arrow IPC stream bytes (``"raw"``: the row group's undecoded bytes),
  and ``PyParquetIndex`` maps ``(uri, sample row)`` to ``(row group, offset, length)`` and
  records which row groups an epoch fetched.

Needs the ``[parquet]`` extra (pyarrow).
"""

from __future__ import annotations

import asyncio
import bisect
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from .. import _sync
from ..formats.parquet import (
    FOOTER_CAP,
    column_names,
    decode_row_group,
    footer_length,
    parse_footer,
    require_pyarrow,
    rg_extent,
    row_offsets,
    to_ipc,
)
from ..ops import get_range_async, run_bounded, stat_async

__all__ = [
    "ParquetFooter",
    "PyParquetIndex",
    "invalidate_parquet_footer",
    "iter_parquet_row_groups",
    "parquet_get_rg",
    "parquet_get_rg_async",
    "read_parquet",
    "read_parquet_async",
    "read_parquet_footer",
    "read_parquet_footer_async",
    "read_row_group",
    "read_row_group_async",
]

_CACHE_MAX = 4096  # footers kept per process (least recently used dropped first)


@dataclass(frozen=True)
class ParquetFooter:
    """A Parquet file's size, metadata and first row of each row group (plus the total)."""

    uri: str
    size: int
    metadata: Any
    row_offsets: tuple[int, ...]

    @property
    def num_row_groups(self) -> int:
        return int(self.metadata.num_row_groups)


class _FooterCache:
    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self.lock = threading.Lock()
        self.entries: OrderedDict[str, ParquetFooter] = OrderedDict()

    def get(self, uri: str) -> ParquetFooter | None:
        with self.lock:
            footer = self.entries.get(uri)
            if footer is not None:
                self.entries.move_to_end(uri)
            return footer

    def put(self, footer: ParquetFooter) -> None:
        with self.lock:
            self.entries[footer.uri] = footer
            while len(self.entries) > _CACHE_MAX:
                self.entries.popitem(last=False)

    def drop(self, uri: str | None) -> None:
        with self.lock:
            if uri is None:
                self.entries.clear()
            else:
                self.entries.pop(uri, None)


_footers = _FooterCache()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_footers._reset)


def _check_cap(footer_cap: object) -> int:
    if isinstance(footer_cap, bool) or not isinstance(footer_cap, int) or footer_cap < 8:
        raise ValueError(f"footer_cap must be an int >= 8, got {footer_cap!r}")
    return footer_cap


async def read_parquet_footer_async(uri: str, footer_cap: int = FOOTER_CAP) -> ParquetFooter:
    """The footer of the Parquet object ``uri`` (cached per URI; see the module docstring)."""
    cap = _check_cap(footer_cap)
    cached = _footers.get(uri)
    if cached is not None:
        return cached
    size = int((await stat_async(uri))["size"])
    if size < 12:
        raise ValueError(f"not a Parquet file ({size} bytes): {uri!r}")
    start = max(0, size - cap)
    tail = memoryview(await get_range_async(uri, start, size - start))
    if len(tail) != size - start:
        raise ValueError(f"{uri!r} changed while its footer was read")
    length = footer_length(tail, uri)
    if length + 12 > size:
        raise ValueError(f"corrupt Parquet footer length {length} in {uri!r} ({size} bytes)")
    if length + 8 > len(tail):  # footer larger than footer_cap: fetch exactly what is missing
        head = await get_range_async(uri, size - length - 8, length + 8 - len(tail))
        footer: Any = bytes(head) + bytes(tail)
    else:
        footer = tail[len(tail) - length - 8 :]
    meta = parse_footer(footer, uri)
    result = ParquetFooter(uri=uri, size=size, metadata=meta, row_offsets=tuple(row_offsets(meta)))
    _footers.put(result)
    return result


def invalidate_parquet_footer(uri: str | None = None) -> None:
    """Forget the cached footer of ``uri`` (of every file when None), e.g. after a rewrite."""
    _footers.drop(uri)


async def read_row_group_async(
    uri: str, rg: int, col_indices: Sequence[int] | None = None, *, footer_cap: int = FOOTER_CAP
) -> Any:
    """Row group ``rg`` of ``uri`` as a ``pyarrow.Table`` (leaf columns ``col_indices``; None: all).

    A cached footer that no longer fits the object (it was rewritten) is read again, once.
    """
    for attempt in (0, 1):
        footer = await read_parquet_footer_async(uri, footer_cap)
        offset, length = rg_extent(footer.metadata, rg, col_indices, uri)
        data = await get_range_async(uri, offset, length)
        try:
            if len(data) != length:
                raise ValueError(f"{uri!r} is shorter than its footer says (row group {rg})")
            return await asyncio.to_thread(
                decode_row_group, footer.metadata, footer.size, [(offset, data)], rg, col_indices, uri
            )
        except ValueError:
            if attempt:
                raise
            invalidate_parquet_footer(uri)  # maybe a stale footer: read it again
    raise AssertionError("unreachable")


async def read_parquet_async(
    uri: str,
    row_groups: Sequence[int] | None = None,
    col_indices: Sequence[int] | None = None,
    *,
    max_in_flight: int = 8,
    footer_cap: int = FOOTER_CAP,
) -> Any:
    """Row groups ``row_groups`` (None: all) of ``uri`` as one ``pyarrow.Table``, in that order.

    Each row group is one ranged GET; up to ``max_in_flight`` run at once.
    """
    pa, _ = require_pyarrow()
    footer = await read_parquet_footer_async(uri, footer_cap)
    groups = list(range(footer.num_row_groups)) if row_groups is None else list(row_groups)
    tables: list[Any] = [None] * len(groups)

    async def one(position: int) -> None:
        tables[position] = await read_row_group_async(
            uri, groups[position], col_indices, footer_cap=footer_cap
        )

    await run_bounded(range(len(groups)), one, max_in_flight)
    if not tables:
        empty = footer.metadata.schema.to_arrow_schema().empty_table()
        names = column_names(footer.metadata, col_indices, uri)
        return empty if names is None else empty.select(names)
    return pa.concat_tables(tables)


def read_parquet_footer(uri: str, footer_cap: int = FOOTER_CAP) -> ParquetFooter:
    """Blocking :func:`read_parquet_footer_async`."""
    return _sync.run(read_parquet_footer_async(uri, footer_cap))


def read_row_group(
    uri: str, rg: int, col_indices: Sequence[int] | None = None, *, footer_cap: int = FOOTER_CAP
) -> Any:
    """Blocking :func:`read_row_group_async`."""
    return _sync.run(read_row_group_async(uri, rg, col_indices, footer_cap=footer_cap))


def read_parquet(
    uri: str,
    row_groups: Sequence[int] | None = None,
    col_indices: Sequence[int] | None = None,
    *,
    max_in_flight: int = 8,
    footer_cap: int = FOOTER_CAP,
) -> Any:
    """Blocking :func:`read_parquet_async`: a ``pyarrow.Table`` (``.to_pandas()`` for pandas)."""
    return _sync.run(
        read_parquet_async(uri, row_groups, col_indices, max_in_flight=max_in_flight, footer_cap=footer_cap)
    )


def iter_parquet_row_groups(
    uri: str, col_indices: Sequence[int] | None = None, *, footer_cap: int = FOOTER_CAP
) -> Iterator[Any]:
    """Yield each row group of ``uri`` as a ``pyarrow.Table``, fetching one at a time."""
    footer = read_parquet_footer(uri, footer_cap)
    for rg in range(footer.num_row_groups):
        yield read_row_group(uri, rg, col_indices, footer_cap=footer_cap)


# ------------------------------------------------------------------ the original's names


async def parquet_get_rg_async(
    uri: str,
    rg_idx: int,
    col_indices: Sequence[int] | None = None,
    footer_cap: int = FOOTER_CAP,
    decode: str = "arrow",
) -> Any:
    """Row group ``rg_idx`` of ``uri``: Arrow IPC stream bytes (``decode="arrow"``, a
    ``pyarrow.Buffer``: ``pa.ipc.open_stream(buf).read_next_batch()`` gives one RecordBatch of
    all its rows) or the raw Parquet bytes of its extent (``decode="raw"``, or ``"none"`` as the
    original's loader option calls it)."""
    if not isinstance(decode, str) or decode.lower() not in ("arrow", "raw", "none"):
        raise ValueError(f"decode must be 'arrow', 'raw' or 'none' (= raw), got {decode!r}")
    if decode.lower() != "arrow":
        footer = await read_parquet_footer_async(uri, footer_cap)
        offset, length = rg_extent(footer.metadata, rg_idx, col_indices, uri)
        return await get_range_async(uri, offset, length)
    table = await read_row_group_async(uri, rg_idx, col_indices, footer_cap=footer_cap)
    return await asyncio.to_thread(to_ipc, table)


def parquet_get_rg(
    uri: str,
    rg_idx: int,
    col_indices: Sequence[int] | None = None,
    footer_cap: int = FOOTER_CAP,
    decode: str = "arrow",
) -> Any:
    """Blocking :func:`parquet_get_rg_async` (the original's signature)."""
    return _sync.run(parquet_get_rg_async(uri, rg_idx, col_indices, footer_cap, decode))


class PyParquetIndex:
    """Row-group byte ranges of many Parquet files, kept across epochs (the original's class).

    ``PyParquetIndex(col_indices=None, footer_cap=4 MiB)``; ``ensure_indexed(uris, epoch=1,
    batch_size=16)`` reads the footers of files not indexed yet (``batch_size`` at a time);
    ``rg_lookup(uri, sample_idx)`` gives ``(rg_idx, offset, length)`` for ``get_range``;
    ``check_and_mark(uri, rg, epoch)`` tells whether this epoch already fetched a row group.
    Byte ranges cover the leaf columns ``col_indices`` (None: all). Thread-safe.
    """

    def __init__(self, col_indices: Sequence[int] | None = None, footer_cap: int = FOOTER_CAP) -> None:
        self.col_indices = None if col_indices is None else [int(c) for c in col_indices]
        self.footer_cap = _check_cap(footer_cap)
        self._lock = threading.Lock()
        self._ranges: dict[str, list[tuple[int, int]]] = {}
        self._rows: dict[str, list[int]] = {}
        self._epochs: dict[tuple[str, int], int] = {}

    def ensure_indexed(self, uris: Sequence[str], epoch: int = 1, batch_size: int = 16) -> None:
        """Index every URI not indexed yet (``epoch`` is accepted for the original's signature)."""
        if isinstance(uris, str):
            raise TypeError("uris must be a list of URIs, not one str")
        missing = list(dict.fromkeys(u for u in uris if not self.is_indexed(u)))
        if not missing:
            return
        limit = batch_size if isinstance(batch_size, int) and batch_size >= 1 else 16
        footers: dict[str, ParquetFooter] = {}

        async def one(uri: str) -> None:
            footers[uri] = await read_parquet_footer_async(uri, self.footer_cap)

        async def all_of() -> None:
            await run_bounded(missing, one, limit)

        _sync.run(all_of())
        for uri in missing:
            footer = footers[uri]
            ranges = [
                rg_extent(footer.metadata, g, self.col_indices, uri) for g in range(footer.num_row_groups)
            ]
            with self._lock:
                self._ranges[uri] = ranges
                self._rows[uri] = list(footer.row_offsets)

    def _entry(self, uri: str) -> tuple[list[tuple[int, int]], list[int]]:
        with self._lock:
            if uri not in self._ranges:
                raise KeyError(f"URI not indexed: {uri!r} (call ensure_indexed first)")
            return self._ranges[uri], self._rows[uri]

    def rg_for_sample(self, uri: str, sample_idx: int) -> int:
        """Index of the row group holding row ``sample_idx`` (0-based within the file).

        As in the original (DLIO's readers probe with estimated row counts), a row past the end
        maps to the last row group and a negative one to the first.
        """
        ranges, rows = self._entry(uri)
        if not ranges:
            raise IndexError(f"no row groups in {uri!r}")
        return min(len(ranges) - 1, max(0, bisect.bisect_right(rows, sample_idx) - 1))

    def rg_range(self, uri: str, rg_idx: int) -> tuple[int, int]:
        """``(byte_offset, byte_length)`` of row group ``rg_idx``."""
        ranges, _ = self._entry(uri)
        if not 0 <= rg_idx < len(ranges):
            raise IndexError(f"row group {rg_idx} out of range for {uri!r} ({len(ranges)} row groups)")
        return ranges[rg_idx]

    def rg_lookup(self, uri: str, sample_idx: int) -> tuple[int, int, int]:
        """``(rg_idx, byte_offset, byte_length)`` of the row group holding row ``sample_idx``."""
        rg = self.rg_for_sample(uri, sample_idx)
        return (rg, *self.rg_range(uri, rg))

    def rg_num_rows(self, uri: str, rg_idx: int) -> int | None:
        """Rows in row group ``rg_idx`` (None when not indexed or out of range)."""
        with self._lock:
            rows = self._rows.get(uri)
        if rows is None or not 0 <= rg_idx < len(rows) - 1:
            return None
        return rows[rg_idx + 1] - rows[rg_idx]

    def was_fetched(self, uri: str, rg_idx: int, epoch: int) -> bool:
        """True if ``(uri, rg_idx)`` was marked fetched in ``epoch`` (or later)."""
        with self._lock:
            return self._epochs.get((uri, rg_idx), 0) >= epoch

    def mark_fetched(self, uri: str, rg_idx: int, epoch: int) -> None:
        """Record that ``(uri, rg_idx)`` was fetched in ``epoch`` (ignored when not indexed)."""
        with self._lock:
            ranges = self._ranges.get(uri)
            if ranges is not None and 0 <= rg_idx < len(ranges):
                self._epochs[(uri, rg_idx)] = epoch

    def check_and_mark(self, uri: str, rg_idx: int, epoch: int) -> bool:
        """True if already fetched in ``epoch``; otherwise mark it and return False (atomic)."""
        with self._lock:
            ranges = self._ranges.get(uri)
            if ranges is None or not 0 <= rg_idx < len(ranges):
                return False
            if self._epochs.get((uri, rg_idx), 0) >= epoch:
                return True
            self._epochs[(uri, rg_idx)] = epoch
            return False

    def is_indexed(self, uri: str) -> bool:
        with self._lock:
            return uri in self._ranges

    def file_rg_count(self, uri: str) -> int | None:
        """Row groups of ``uri``, or None when it is not indexed."""
        with self._lock:
            ranges = self._ranges.get(uri)
        return None if ranges is None else len(ranges)

    def file_extents(self, uri: str) -> list[tuple[int, int, int]] | None:
        """``[(offset, length, rows), ...]`` per row group of ``uri`` (None when not indexed)."""
        with self._lock:
            ranges, rows = self._ranges.get(uri), self._rows.get(uri)
        if ranges is None or rows is None:
            return None
        return [(off, n, rows[g + 1] - rows[g]) for g, (off, n) in enumerate(ranges)]

    def __len__(self) -> int:
        """Row groups indexed, over all files."""
        with self._lock:
            return sum(len(r) for r in self._ranges.values())

    def file_count(self) -> int:
        with self._lock:
            return len(self._ranges)

    def invalidate_uri(self, uri: str) -> None:
        """Forget ``uri`` (and its cached footer), e.g. after the file was rewritten."""
        with self._lock:
            self._ranges.pop(uri, None)
            self._rows.pop(uri, None)
            self._epochs = {k: v for k, v in self._epochs.items() if k[0] != uri}
        invalidate_parquet_footer(uri)

    def clear(self) -> None:
        """Forget every file."""
        with self._lock:
            self._ranges.clear()
            self._rows.clear()
            self._epochs.clear()

    def __repr__(self) -> str:
        return (
            f"PyParquetIndex(files={self.file_count()}, rgs={len(self)}, "
            f"col_indices={self.col_indices}, footer_cap={self.footer_cap})"
        )
