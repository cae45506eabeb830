"""Parquet row groups through the store: footers, PyParquetIndex, parquet_get_rg, read_parquet.

The calls and the way they are made mirror DLIO's readers
(``dlio_benchmark/reader/parquet_reader_s3dlio.py`` and ``parquet_reader_s3dlio_arrow.py``).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import s3dlio
from s3dlio.loader.parquet import (
    invalidate_parquet_footer,
    iter_parquet_row_groups,
    read_parquet_footer,
    read_row_group,
)

ROWS, GROUPS = 50, 4


def _write_local(path: Path, *, dictionary: bool = False) -> pa.Table:
    table = pa.table(
        {
            "id": pa.array(range(ROWS * GROUPS), pa.int64()),
            "emb": pa.FixedSizeListArray.from_arrays(
                pa.array([float(i) for i in range(ROWS * GROUPS * 3)], pa.float32()), 3
            ),
            "tag": pa.array([f"t{i % 5}" for i in range(ROWS * GROUPS)]),
        }
    )
    pq.write_table(table, path, row_group_size=ROWS, use_dictionary=dictionary, compression="snappy")
    return table


@pytest.fixture(params=["file", "s3"])
def parquet_uris(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[list[str], pa.Table]]:
    local = [tmp_path / "a.parquet", tmp_path / "b.parquet"]
    table = _write_local(local[0])
    _write_local(local[1], dictionary=True)
    if request.param == "file":
        uris = [f"file://{p}" for p in local]
    else:
        request.getfixturevalue("s3_env")
        bucket = request.getfixturevalue("new_s3_bucket")
        uris = [f"s3://{bucket}/pq/{p.name}" for p in local]
        for uri, path in zip(uris, local, strict=True):
            s3dlio.put_bytes(uri, path.read_bytes())
    yield uris, table
    for uri in uris:
        invalidate_parquet_footer(uri)


def test_index_lookup_like_dlio(parquet_uris: tuple[list[str], pa.Table]) -> None:
    uris, _ = parquet_uris
    index = s3dlio.PyParquetIndex(col_indices=None, footer_cap=4 * 1024 * 1024)
    index.ensure_indexed(uris, epoch=1, batch_size=16)
    assert index.file_count() == 2 and len(index) == 2 * GROUPS
    for uri in uris:
        assert index.is_indexed(uri) and index.file_rg_count(uri) == GROUPS
        ranges = [index.rg_range(uri, g) for g in range(GROUPS)]
        assert all(length > 0 for _, length in ranges)
        assert index.rg_lookup(uri, 0)[0] == 0
        assert index.rg_lookup(uri, ROWS - 1)[0] == 0
        assert index.rg_lookup(uri, ROWS)[0] == 1
        assert index.rg_lookup(uri, ROWS * GROUPS - 1)[0] == GROUPS - 1
        rg, offset, length = index.rg_lookup(uri, 2 * ROWS + 3)
        assert (rg, offset, length) == (2, *ranges[2])
        raw = s3dlio.get_range(uri, offset=offset, length=length)
        assert len(raw) == length
        assert bytes(s3dlio.parquet_get_rg(uri, 2, None, 4 << 20, "raw")) == bytes(raw)
        assert bytes(s3dlio.parquet_get_rg(uri, 2, None, 4 << 20, "none")) == bytes(raw)
    # like the original: rows past the end map to the last row group, negative ones to the first
    assert index.rg_lookup(uris[0], ROWS * GROUPS + 5)[0] == GROUPS - 1
    assert index.rg_for_sample(uris[0], -1) == 0
    with pytest.raises(KeyError, match="not indexed"):
        index.rg_range("file:///nowhere.parquet", 0)


def test_index_epochs(parquet_uris: tuple[list[str], pa.Table]) -> None:
    uris, _ = parquet_uris
    index = s3dlio.PyParquetIndex()
    index.ensure_indexed(uris)
    assert not index.check_and_mark(uris[0], 1, 1)
    assert index.check_and_mark(uris[0], 1, 1)
    assert index.was_fetched(uris[0], 1, 1) and not index.was_fetched(uris[0], 1, 2)
    assert not index.check_and_mark(uris[0], 1, 2)
    index.mark_fetched(uris[1], 0, 5)
    assert index.was_fetched(uris[1], 0, 5)
    assert index.file_extents(uris[0]) == [(*index.rg_range(uris[0], g), ROWS) for g in range(GROUPS)]
    index.invalidate_uri(uris[0])
    assert not index.is_indexed(uris[0]) and index.file_count() == 1
    assert "files=1" in repr(index)


def test_column_subset_extent_is_smaller(parquet_uris: tuple[list[str], pa.Table]) -> None:
    uris, _ = parquet_uris
    full, only_id = s3dlio.PyParquetIndex(), s3dlio.PyParquetIndex(col_indices=[0])
    full.ensure_indexed(uris)
    only_id.ensure_indexed(uris)
    assert only_id.rg_range(uris[0], 1)[1] < full.rg_range(uris[0], 1)[1]
    assert only_id.rg_range(uris[0], 1)[0] == full.rg_range(uris[0], 1)[0]


def test_parquet_get_rg_arrow_ipc(parquet_uris: tuple[list[str], pa.Table]) -> None:
    uris, table = parquet_uris
    for uri in uris:
        bv = s3dlio.parquet_get_rg(uri, 1, None, 4 << 20, "arrow")
        batch = pa.ipc.open_stream(pa.py_buffer(bytes(bv))).read_next_batch()
        assert batch.num_rows == ROWS
        assert batch.to_pydict() == table.slice(ROWS, ROWS).to_pydict()
        only = s3dlio.parquet_get_rg(uri, 3, col_indices=[1, 2])  # leaves: id, emb.list.element, tag
        part = pa.ipc.open_stream(only).read_next_batch()
        assert part.schema.names == ["emb", "tag"]
        assert part.column(1).to_pylist() == table.column("tag").to_pylist()[3 * ROWS :]


def test_parquet_get_rg_errors(parquet_uris: tuple[list[str], pa.Table]) -> None:
    uris, _ = parquet_uris
    with pytest.raises(IndexError, match="out of range"):
        s3dlio.parquet_get_rg(uris[0], GROUPS)
    with pytest.raises(IndexError, match="column index"):
        s3dlio.parquet_get_rg(uris[0], 0, [9])
    with pytest.raises(ValueError, match="decode"):
        s3dlio.parquet_get_rg(uris[0], 0, None, 4 << 20, "json")


def test_read_parquet_helpers(parquet_uris: tuple[list[str], pa.Table]) -> None:
    uris, table = parquet_uris
    assert s3dlio.read_parquet(uris[0]).equals(table)
    assert (
        s3dlio.read_parquet(uris[1], row_groups=[3, 0]).to_pydict()
        == pa.concat_tables([table.slice(3 * ROWS, ROWS), table.slice(0, ROWS)]).to_pydict()
    )
    assert s3dlio.read_parquet(uris[0], row_groups=[], col_indices=[0]).schema.names == ["id"]
    groups = list(iter_parquet_row_groups(uris[0], col_indices=[0]))
    assert [g.num_rows for g in groups] == [ROWS] * GROUPS
    assert read_row_group(uris[0], 2).to_pandas()["id"].tolist() == list(range(2 * ROWS, 3 * ROWS))


def test_small_footer_cap_still_reads_the_footer(parquet_uris: tuple[list[str], pa.Table]) -> None:
    uris, table = parquet_uris
    invalidate_parquet_footer(uris[0])
    footer = read_parquet_footer(uris[0], footer_cap=16)
    assert footer.num_row_groups == GROUPS and footer.row_offsets[-1] == ROWS * GROUPS
    assert s3dlio.read_parquet(uris[0], footer_cap=16).equals(table)


def test_not_parquet_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "x.parquet"
    path.write_bytes(b"x" * 100)
    with pytest.raises(ValueError, match="not a Parquet file"):
        s3dlio.read_parquet(f"file://{path}")
    with pytest.raises(FileNotFoundError):
        s3dlio.read_parquet(f"file://{tmp_path}/missing.parquet")


def test_generated_dataset_round_trip(tmp_path: Path) -> None:
    """put(object_type='parquet') files read back row group by row group through the loader."""
    uris = s3dlio.put(f"file://{tmp_path}/", 2, "f_{}.parquet", object_type="parquet", size=3 << 20, seed=8)
    index = s3dlio.PyParquetIndex(col_indices=[1])
    index.ensure_indexed(uris)
    for uri in uris:
        whole = pq.read_table(io.BytesIO(Path(uri.removeprefix("file://")).read_bytes()))
        parts = [
            pa.ipc.open_stream(s3dlio.parquet_get_rg(uri, g, [1])).read_all()
            for g in range(index.file_rg_count(uri) or 0)
        ]
        assert pa.concat_tables(parts).column("label").to_pylist() == whole.column("label").to_pylist()


def test_rewritten_file_is_read_with_its_new_footer(tmp_path: Path) -> None:
    path = tmp_path / "r.parquet"
    uri = f"file://{path}"
    _write_local(path)
    assert read_row_group(uri, 0).num_rows == ROWS
    pq.write_table(pa.table({"z": pa.array(range(7), pa.int32())}), path)  # another layout
    assert read_row_group(uri, 0).to_pydict() == {"z": list(range(7))}
    invalidate_parquet_footer(uri)


def test_missing_pyarrow_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from s3dlio.formats.parquet import require_pyarrow

    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(ImportError, match=r"s3dlio\[parquet\]"):
        require_pyarrow()
    with pytest.raises(ImportError, match=r"s3dlio\[parquet\]"):
        s3dlio.put(f"file://{tmp_path}/", 2, "p_{}", object_type="parquet", size=10_000, seed=1)
    assert list(tmp_path.iterdir()) == []
