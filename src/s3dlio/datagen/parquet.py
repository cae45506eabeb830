"""``generate_and_write_parquet_schema_streaming``: a Parquet file of float32 columns, streamed.

The original's schema: each ``(name, n)`` column is ``float32`` (n == 1) or
``fixed_size_list<float32>[n]`` (an embedding), non-null, with ``rows_per_rg`` rows in each of
``n_rg`` row groups; pages uncompressed and PLAIN, no dictionary, no statistics. The values are
the generator's bytes read as float32 (any bit pattern is a float32, NaNs included, as in the
original). Row group ``g`` is generated, encoded by pyarrow and handed to the object's streaming
writer (a multipart upload on object stores) while nothing else is held: memory stays near two
row groups, whatever the file size. Any URI scheme works (the original accepted only ``s3://``).
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np

from .._sync import sync_twin
from ..formats.parquet import check_columns, float32_table, require_pyarrow, write_options
from ..ops import open_writer_async
from .generator import DataGenerator, check_int, new_seed

__all__ = [
    "generate_and_write_parquet_schema_streaming",
    "generate_and_write_parquet_schema_streaming_async",
]


class _Drain:
    """A write-only file for pyarrow that keeps what was written until ``take()``."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self.closed = False
        self._pos = 0

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self._parts.append(chunk)
        self._pos += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self._pos

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def writable(self) -> bool:
        return True

    def take(self) -> list[bytes]:
        parts, self._parts = self._parts, []
        return parts


async def generate_and_write_parquet_schema_streaming_async(
    uri: str,
    columns: list[tuple[str, int]],
    rows_per_rg: int,
    num_row_groups: int,
    *,
    seed: int | None = None,
    dedup: int = 1,
    compress: int = 1,
) -> None:
    """Write a Parquet file of ``num_row_groups`` row groups of ``rows_per_rg`` rows to ``uri``.

    ``columns`` is ``[(name, floats_per_row), ...]``; see the module docstring for the schema.
    ``seed`` makes the file reproducible (a new seed when None); ``dedup``/``compress`` shape the
    value bytes as for ``put()``. Nothing is left at ``uri`` when it fails.
    """
    cols = check_columns(columns)
    rows = check_int("rows_per_rg", rows_per_rg, 1)
    groups = check_int("num_row_groups", num_row_groups, 1)
    pa, pq = require_pyarrow()
    floats_per_row = sum(n for _, n in cols)
    gen = DataGenerator(
        rows * groups * floats_per_row * 4, dedup, compress, new_seed() if seed is None else seed
    )
    schema = float32_table(cols, 0, [b""] * len(cols)).schema
    sink = _Drain()
    writer = pq.ParquetWriter(pa.PythonFile(sink, mode="w"), schema, **write_options())

    def encode(last: bool) -> list[bytes]:
        values = []
        for _, n in cols:
            buf = np.empty(rows * n * 4, np.uint8)
            gen.fill(buf)
            values.append(buf)
        writer.write_table(float32_table(cols, rows, values), row_group_size=rows)
        if last:
            writer.close()
        return sink.take()

    async with open_writer_async(uri) as out:
        try:
            for group in range(groups):
                for chunk in await asyncio.to_thread(encode, group == groups - 1):
                    await out.write(chunk)
        finally:
            if not sink.closed:
                await asyncio.to_thread(writer.close)  # pyarrow's writer must not outlive the call


generate_and_write_parquet_schema_streaming = sync_twin(generate_and_write_parquet_schema_streaming_async)
