"""Parquet: synthetic-file layouts, footers, row-group extents and row-group decoding.

pyarrow (the ``[parquet]`` extra) is imported on first use; without it every function here raises
ImportError naming the extra. Nothing here does I/O: callers fetch bytes and pass them in.

Synthetic files (``object_type="parquet"``)
    Two required columns: ``data`` (``fixed_size_binary(row_bytes)``, one sample per row) and
    ``label`` (int64 class id). Pages are written uncompressed, PLAIN, without dictionary,
    statistics, page index or checksums, so the only bytes that depend on the values are the
    values themselves. ``parquet_plan(size)`` writes three small files with pyarrow once per size
    (values all 0x00, all 0xFF, random), takes the value byte ranges from where the first two
    differ, and checks that patching the first with the third's values reproduces the third byte
    for byte. Every object is then the template with its values written in place.

Row-group extents
    A row group's bytes, for a set of leaf columns, run from the first chunk's first page (its
    dictionary page when there is one) to the end of the last chunk; one ranged GET fetches them.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from types import ModuleType
from typing import Any

import numpy as np

__all__ = [
    "FOOTER_CAP",
    "MAGIC",
    "ParquetPlan",
    "check_columns",
    "column_names",
    "decode_row_group",
    "float32_table",
    "footer_length",
    "parquet_plan",
    "parse_footer",
    "require_pyarrow",
    "rg_extent",
    "row_offsets",
    "to_ipc",
    "write_options",
]

FOOTER_CAP = 4 << 20
"""Default bytes read from a file's tail to find its footer (the original's default, 4 MiB)."""

MAGIC = b"PAR1"

_ROW_GROUP_BYTES = 1 << 20  # synthetic files: about this much data per row group


def require_pyarrow() -> tuple[ModuleType, ModuleType]:
    """``(pyarrow, pyarrow.parquet)``, or ImportError telling how to install them."""
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError as exc:
        raise ImportError("Parquet support needs pyarrow: pip install 's3dlio[parquet]'") from exc
    return pyarrow, pyarrow.parquet


def write_options() -> dict[str, Any]:
    """``pyarrow.parquet`` writer options whose output depends on the values only in the values."""
    return {
        "compression": "NONE",
        "use_dictionary": False,
        "write_statistics": False,
        "write_page_index": False,
        "write_page_checksum": False,
    }


# ------------------------------------------------------------------------- float32 schemas


def check_columns(columns: object) -> list[tuple[str, int]]:
    """Validate ``[(name, floats_per_row), ...]`` (the original's column spec)."""
    if isinstance(columns, str | bytes) or not isinstance(columns, Sequence) or not columns:
        raise ValueError(f"columns must be a non-empty list of (name, size) pairs, got {columns!r}")
    out: list[tuple[str, int]] = []
    for item in columns:
        if not isinstance(item, Sequence) or isinstance(item, str | bytes) or len(item) != 2:
            raise ValueError(f"each column must be a (name, size) pair, got {item!r}")
        name, size = item
        if not isinstance(name, str) or not name:
            raise ValueError(f"column name must be a non-empty str, got {name!r}")
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"column {name!r}: size must be an int >= 1, got {size!r}")
        out.append((name, size))
    if len({name for name, _ in out}) != len(out):
        raise ValueError(f"column names must be distinct: {[n for n, _ in out]}")
    return out


def float32_table(columns: Sequence[tuple[str, int]], rows: int, values: Sequence[Any]) -> Any:
    """A pyarrow Table of the original's schema over ``values`` (one uint8 array per column).

    Size 1: a non-null ``float32`` column; size n > 1: a non-null ``fixed_size_list<float32>[n]``
    (an embedding). The values' bytes are used as they are (zero copy): every bit pattern is a
    float32.
    """
    pa, _ = require_pyarrow()
    arrays = []
    fields = []
    for (name, size), raw in zip(columns, values, strict=True):
        flat = pa.Array.from_buffers(pa.float32(), rows * size, [None, pa.py_buffer(raw)])
        if size == 1:
            fields.append(pa.field(name, pa.float32(), nullable=False))
            arrays.append(flat)
        else:
            element = pa.field("element", pa.float32(), nullable=False)
            kind = pa.list_(element, size)
            fields.append(pa.field(name, kind, nullable=False))
            arrays.append(pa.FixedSizeListArray.from_arrays(flat, type=kind))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


# ------------------------------------------------------------------------ synthetic files


@dataclass(frozen=True)
class ParquetPlan:
    """Layout of a synthetic Parquet file of one target size (see the module docstring).

    ``template`` is the file with every value zero; ``data_runs`` are the ``(start, end)`` byte
    ranges of the ``data`` values, ``label_runs`` ``(start, end, first_row)`` those of the labels,
    and ``gaps`` everything else (headers, page headers, footer), which never changes.
    ``templated`` is False when the check failed (another pyarrow): objects are then written by
    pyarrow one by one (``write_file``).
    """

    size: int
    row_bytes: int
    rows: int
    rows_per_group: int
    template: bytes
    data_runs: tuple[tuple[int, int], ...]
    label_runs: tuple[tuple[int, int, int], ...]
    gaps: tuple[tuple[int, int], ...]
    templated: bool

    @property
    def length(self) -> int:
        """Length of every file of this plan."""
        return len(self.template)

    @property
    def payload(self) -> int:
        """Bytes of ``data`` values in the file."""
        return self.rows * self.row_bytes

    def write_file(self, data: Any, labels: Any) -> bytes:
        """The file for ``data`` (``rows * row_bytes`` bytes) and ``labels`` (int64), by pyarrow."""
        return _write(self.row_bytes, self.rows, self.rows_per_group, data, labels)


def _write(row_bytes: int, rows: int, rows_per_group: int, data: Any, labels: Any) -> bytes:
    pa, pq = require_pyarrow()
    column = pa.FixedSizeBinaryArray.from_buffers(pa.binary(row_bytes), rows, [None, pa.py_buffer(data)])
    schema = pa.schema(
        [
            pa.field("data", pa.binary(row_bytes), nullable=False),
            pa.field("label", pa.int64(), nullable=False),
        ]
    )
    table = pa.Table.from_arrays([column, pa.array(labels, pa.int64())], schema=schema)
    sink = io.BytesIO()
    pq.write_table(table, sink, row_group_size=rows_per_group, **write_options())
    return sink.getvalue()


def _runs(mask: np.ndarray[Any, Any]) -> list[tuple[int, int]]:
    edges = np.flatnonzero(np.diff(np.concatenate(([0], mask.view(np.int8), [0]))))
    return [(int(s), int(e)) for s, e in zip(edges[::2], edges[1::2], strict=True)]


def _shape(size: int, rows: int) -> tuple[int, int, int]:
    row_bytes = min(4096, max(16, size // 256))
    return row_bytes, max(1, rows), max(1, _ROW_GROUP_BYTES // row_bytes)


@lru_cache(maxsize=32)
def parquet_plan(size: int) -> ParquetPlan:
    """The layout of a synthetic Parquet file of about ``size`` bytes (at most ``size`` when
    ``size`` leaves room for one row; built once per size with pyarrow)."""
    row_bytes, rows, per_group = _shape(size, size // (min(4096, max(16, size // 256)) + 8))
    template = b""
    for _ in range(4):  # the overhead depends a little on the number of row groups
        template = _write(row_bytes, rows, per_group, bytes(rows * row_bytes), np.zeros(rows, np.int64))
        if len(template) <= size or rows == 1:
            break
        rows = max(1, rows - -(-(len(template) - size) // (row_bytes + 8)))
    ones = _write(row_bytes, rows, per_group, b"\xff" * (rows * row_bytes), np.full(rows, -1, np.int64))
    rng = np.random.default_rng(size)
    probe_data = rng.integers(0, 256, rows * row_bytes, dtype=np.uint8).tobytes()
    probe_labels = rng.integers(0, 1000, rows, dtype=np.int64)
    probe = _write(row_bytes, rows, per_group, probe_data, probe_labels)
    base = np.frombuffer(template, np.uint8)
    mask = base != np.frombuffer(ones, np.uint8) if len(ones) == len(template) else None
    templated = mask is not None and len(probe) == len(template)
    data_runs: list[tuple[int, int]] = []
    label_runs: list[tuple[int, int, int]] = []
    gaps: list[tuple[int, int]] = []
    if templated and mask is not None:
        patched = base.copy()
        patched[mask] = np.frombuffer(probe, np.uint8)[mask]
        templated = patched.tobytes() == probe
        _, pq = require_pyarrow()
        meta = pq.ParquetFile(io.BytesIO(template)).metadata
        label_chunks = [
            (meta.row_group(g).column(1).data_page_offset, meta.row_group(g).column(1).total_compressed_size)
            for g in range(meta.num_row_groups)
        ]
        row = 0
        for start, end in _runs(mask):
            if any(s <= start < s + n for s, n in label_chunks):
                label_runs.append((start, end, row))
                row += (end - start) // 8
            else:
                data_runs.append((start, end))
        position = 0
        for start, end in sorted([*data_runs, *((s, e) for s, e, _ in label_runs)]):
            if start > position:
                gaps.append((position, start))
            position = end
        if position < len(template):
            gaps.append((position, len(template)))
        templated = (
            templated
            and sum(e - s for s, e in data_runs) == rows * row_bytes
            and row == rows
            and all((e - s) % 8 == 0 for s, e, _ in label_runs)
        )
    return ParquetPlan(
        size=size, row_bytes=row_bytes, rows=rows, rows_per_group=per_group, template=template,
        data_runs=tuple(data_runs), label_runs=tuple(label_runs), gaps=tuple(gaps), templated=templated,
    )  # fmt: skip


# ---------------------------------------------------------------------------------- reading


def footer_length(tail: Any, uri: str = "") -> int:
    """Length of the footer that ``tail`` (the last bytes of a file, at least 8) ends with."""
    view = memoryview(tail).cast("B")
    if len(view) < 8 or bytes(view[-4:]) != MAGIC:
        raise ValueError(f"not a Parquet file (no PAR1 footer): {uri!r}")
    return int.from_bytes(view[-8:-4], "little")


def parse_footer(footer: Any, uri: str = "") -> Any:
    """``pyarrow.parquet.FileMetaData`` from the footer (metadata + length + magic, as stored)."""
    pa, pq = require_pyarrow()
    try:
        return pq.read_metadata(pa.BufferReader(MAGIC + bytes(footer)))
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise ValueError(f"corrupt Parquet footer in {uri!r}: {exc}") from None


def _check_rg(meta: Any, rg: int, uri: str) -> None:
    if isinstance(rg, bool) or not isinstance(rg, int | np.integer):
        raise TypeError(f"row group index must be an int, got {rg!r}")
    if not 0 <= rg < meta.num_row_groups:
        raise IndexError(f"row group {rg} out of range for {uri!r} ({meta.num_row_groups} row groups)")


def _check_cols(meta: Any, col_indices: Sequence[int] | None, uri: str) -> list[int]:
    count = meta.num_columns
    if col_indices is None:
        return list(range(count))
    cols = list(col_indices)
    if not cols:
        raise ValueError(f"col_indices is empty; name at least one column ({uri!r})")
    for c in cols:
        if isinstance(c, bool) or not isinstance(c, int | np.integer) or not 0 <= c < count:
            raise IndexError(f"column index {c!r} out of range for {uri!r} ({count} leaf columns)")
    return [int(c) for c in cols]


def rg_extent(meta: Any, rg: int, col_indices: Sequence[int] | None = None, uri: str = "") -> tuple[int, int]:
    """``(offset, length)`` of row group ``rg``'s bytes for the given leaf columns (None: all)."""
    _check_rg(meta, rg, uri)
    group = meta.row_group(rg)
    start, end = None, 0
    for c in _check_cols(meta, col_indices, uri):
        chunk = group.column(c)
        first = chunk.dictionary_page_offset if chunk.has_dictionary_page else chunk.data_page_offset
        first = int(first)
        start = first if start is None else min(start, first)
        end = max(end, first + int(chunk.total_compressed_size))
    assert start is not None
    return start, end - start


def row_offsets(meta: Any) -> list[int]:
    """First row of each row group, then the total row count (``num_row_groups + 1`` values)."""
    out = [0]
    for g in range(meta.num_row_groups):
        out.append(out[-1] + int(meta.row_group(g).num_rows))
    return out


def column_names(meta: Any, col_indices: Sequence[int] | None, uri: str = "") -> list[str] | None:
    """Top-level column names covering the given leaf columns, in schema order (None: all)."""
    if col_indices is None:
        return None
    leaves = set(_check_cols(meta, col_indices, uri))
    names: list[str] = []
    for c in sorted(leaves):
        top = meta.schema.column(c).path.split(".")[0]
        if top not in names:
            names.append(top)
    return names


class _SparseFile(io.RawIOBase):
    """A read-only file of ``size`` bytes of which only some ranges are present.

    Reading a missing range raises OSError (it means the extent logic missed a page).
    """

    def __init__(self, size: int, pieces: Sequence[tuple[int, Any]]) -> None:
        super().__init__()
        self._size = size
        self._pieces = sorted(((off, memoryview(buf).cast("B")) for off, buf in pieces), key=lambda p: p[0])
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = base + offset
        return self._pos

    def readinto(self, buffer: Any) -> int:
        dst = memoryview(buffer).cast("B")
        n = max(0, min(len(dst), self._size - self._pos))
        if n == 0:
            return 0
        for off, view in self._pieces:
            if off <= self._pos and self._pos + n <= off + len(view):
                dst[:n] = view[self._pos - off : self._pos - off + n]
                self._pos += n
                return n
        raise OSError(f"bytes {self._pos}..{self._pos + n} were not fetched")


def decode_row_group(
    meta: Any,
    file_size: int,
    pieces: Sequence[tuple[int, Any]],
    rg: int,
    col_indices: Sequence[int] | None = None,
    uri: str = "",
) -> Any:
    """Decode row group ``rg`` into a pyarrow Table from the fetched ``(offset, bytes)`` pieces."""
    pa, pq = require_pyarrow()
    _check_rg(meta, rg, uri)
    names = column_names(meta, col_indices, uri)
    source = pa.PythonFile(_SparseFile(file_size, pieces), mode="r")
    try:
        reader = pq.ParquetFile(source, metadata=meta)
        return reader.read_row_group(rg, columns=names, use_threads=False)
    except (OSError, pa.ArrowException) as exc:
        raise ValueError(f"cannot decode row group {rg} of {uri!r}: {exc}") from None
    finally:
        source.close()


def to_ipc(table: Any) -> Any:
    """Arrow IPC stream bytes (a ``pyarrow.Buffer``) holding ``table`` as one record batch."""
    pa, _ = require_pyarrow()
    table = table.combine_chunks()
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        batches = table.to_batches()
        if batches:
            writer.write_batch(batches[0] if len(batches) == 1 else pa.concat_batches(batches))
    return sink.getvalue()
