"""Parquet object type and the original's streaming generator: valid for pyarrow and pandas,
reproducible, distinct, and with the compress and dedup factors carried into the pages."""

from __future__ import annotations

import io
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import s3dlio
from s3dlio.datagen import BLOCK_SIZE, make_object, payload_size
from s3dlio.formats.parquet import parquet_plan

KiB, MiB = 1024, 1 << 20


def zlib_ratio(data: bytes) -> float:
    return len(data) / len(zlib.compress(data, 6))


@pytest.mark.parametrize("size", [3000, 100_000, 1 * MiB, 3 * MiB + 17])
def test_parquet_object_reads_with_pyarrow_and_pandas(size: int) -> None:
    data = make_object("parquet", 2, size, seed=5, num=4)
    assert size * 0.99 <= len(data) <= size or size < 10_000
    table = pq.read_table(io.BytesIO(data))
    assert table.schema.names == ["data", "label"]
    assert table.schema.field("data").type == pa.binary(parquet_plan(size).row_bytes)
    rows = parquet_plan(size).rows
    assert table.num_rows == rows
    frame = pd.read_parquet(io.BytesIO(data))
    assert len(frame) == rows and frame["label"].between(0, 999).all()
    assert frame["label"].nunique() > 1 or rows < 4
    payload = b"".join(table.column("data").to_pylist())
    assert len(payload) == payload_size("parquet", size)
    assert zlib_ratio(payload) <= 1.02  # random by default
    if size >= MiB:
        assert pq.ParquetFile(io.BytesIO(data)).metadata.num_row_groups > 1 or size < 2 * MiB


def test_parquet_objects_are_distinct_and_reproducible() -> None:
    first = [make_object("parquet", i, 200_000, seed=9, num=3) for i in range(3)]
    assert len(set(first)) == 3
    assert [make_object("parquet", i, 200_000, seed=9, num=3) for i in (2, 0, 1)] == [
        first[2],
        first[0],
        first[1],
    ]
    assert make_object("parquet", 0, 200_000, seed=10, num=3) != first[0]


def test_parquet_template_equals_what_pyarrow_writes() -> None:
    """Each object is byte for byte the file pyarrow writes for its values (the template holds)."""
    plan = parquet_plan(300_000)
    assert plan.templated
    data = make_object("parquet", 1, 300_000, seed=4, num=2)
    table = pq.read_table(io.BytesIO(data))
    values = b"".join(table.column("data").to_pylist())
    labels = np.asarray(table.column("label").to_numpy(), dtype=np.int64)
    assert plan.write_file(values, labels) == data


@pytest.mark.parametrize("compress", [2, 4])
def test_parquet_compress_factor(compress: int) -> None:
    data = make_object("parquet", 0, 2 * MiB, seed=3, num=1, compress=compress)
    assert zlib_ratio(data) == pytest.approx(compress, rel=0.15)


def test_parquet_dedup_factor() -> None:
    objects = [make_object("parquet", i, 1 * MiB, seed=3, num=4, dedup=4) for i in range(4)]
    blocks = [o[i : i + BLOCK_SIZE] for o in objects for i in range(0, len(o) - BLOCK_SIZE + 1, BLOCK_SIZE)]
    assert len(blocks) / len(set(blocks)) == pytest.approx(4, rel=0.15)


def test_put_parquet_to_files(tmp_path: Path) -> None:
    uris = s3dlio.put(
        f"file://{tmp_path}/", 3, "part_{}.parquet", object_type="parquet", size=150_000, seed=1
    )
    for i, uri in enumerate(uris):
        body = Path(uri.removeprefix("file://")).read_bytes()
        assert body == make_object("parquet", i, 150_000, seed=1, num=3)
        assert pq.read_table(io.BytesIO(body)).num_rows == parquet_plan(150_000).rows


def test_streaming_schema_matches_the_original(tmp_path: Path) -> None:
    uri = f"file://{tmp_path}/flux.parquet"
    columns = [("t5", 33), ("mean", 1), ("clip", 7)]
    s3dlio.generate_and_write_parquet_schema_streaming(uri, columns, 10, 3)
    pf = pq.ParquetFile(tmp_path / "flux.parquet")
    assert pf.metadata.num_row_groups == 3
    assert [pf.metadata.row_group(g).num_rows for g in range(3)] == [10, 10, 10]
    schema = pf.schema_arrow
    assert schema.field("mean").type == pa.float32() and not schema.field("mean").nullable
    assert schema.field("t5").type == pa.list_(pa.field("element", pa.float32(), nullable=False), 33)
    assert pf.metadata.row_group(0).column(0).compression == "UNCOMPRESSED"
    assert pf.metadata.row_group(0).column(0).statistics is None
    table = pf.read()
    assert table.num_rows == 30
    assert len(pd.read_parquet(tmp_path / "flux.parquet")) == 30
    flat = np.concatenate(table.column("t5").to_numpy(zero_copy_only=False))
    assert flat.dtype == np.float32 and len(np.unique(flat.view(np.uint32))) > 0.99 * len(flat)


def test_streaming_seed_reproduces_and_defaults_differ(tmp_path: Path) -> None:
    def write(name: str, **kw: int) -> bytes:
        uri = f"file://{tmp_path}/{name}"
        s3dlio.generate_and_write_parquet_schema_streaming(uri, [("x", 4)], 100, 2, **kw)
        return (tmp_path / name).read_bytes()

    assert write("a", seed=1) == write("b", seed=1)
    assert write("c") != write("d")


def test_streaming_to_s3_is_multipart(s3_env: object, new_s3_bucket: str) -> None:
    uri = f"s3://{new_s3_bucket}/big.parquet"
    s3dlio.configure(multipart_threshold=5 * MiB, part_size=5 * MiB)
    try:
        s3dlio.generate_and_write_parquet_schema_streaming(uri, [("emb", 4096)], 200, 4, seed=2)
    finally:
        s3dlio.reset_config()
    table = pq.read_table(io.BytesIO(bytes(s3dlio.get(uri))))
    assert table.num_rows == 800 and table.schema.names == ["emb"]


@pytest.mark.parametrize(
    ("columns", "match"),
    [([], "non-empty"), ([("a", 0)], "size"), ([("a", 1), ("a", 2)], "distinct"), ("ab", "non-empty")],
)
def test_streaming_rejects_bad_columns(tmp_path: Path, columns: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        s3dlio.generate_and_write_parquet_schema_streaming(
            f"file://{tmp_path}/x.parquet",
            columns,  # type: ignore[arg-type]
            10,
            1,
        )
    assert not (tmp_path / "x.parquet").exists()
