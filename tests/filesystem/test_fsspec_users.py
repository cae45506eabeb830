"""Real fsspec users through ``s3dlio://``: pandas and pyarrow Parquet over S3 and local files."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from pyarrow.fs import FSSpecHandler, PyFileSystem


def _frame(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "id": np.arange(rows, dtype=np.int64),
            "x": rng.random(rows),
            "tag": [f"t{i % 7}" for i in range(rows)],
        }
    )


def test_pandas_parquet_roundtrip(fs: Any, root: str) -> None:
    frame = _frame(50_000, 1)
    frame.to_parquet(f"{root}/tables/t.parquet", row_group_size=10_000)
    assert fs.info(f"{root}/tables/t.parquet")["size"] > 100_000
    back = pd.read_parquet(f"{root}/tables/t.parquet")
    pd.testing.assert_frame_equal(back, frame)
    # column projection and a filter: pyarrow reads only some byte ranges of the file
    part = pd.read_parquet(f"{root}/tables/t.parquet", columns=["x"], filters=[("id", ">=", 49_990)])
    assert part["x"].tolist() == frame["x"].iloc[49_990:].tolist()


def test_pyarrow_dataset_of_many_files(fs: Any, root: str) -> None:
    frames = [_frame(1000, seed) for seed in range(3)]
    for i, frame in enumerate(frames):
        pq.write_table(
            pa.Table.from_pandas(frame), f"{root}/ds/part-{i}.parquet".split("://", 1)[1], filesystem=fs
        )
    arrow_fs = PyFileSystem(FSSpecHandler(fs))
    dataset = ds.dataset(fs._strip_protocol(f"{root}/ds"), format="parquet", filesystem=arrow_fs)
    assert sorted(f.rsplit("/", 1)[1] for f in dataset.files) == [
        "part-0.parquet",
        "part-1.parquet",
        "part-2.parquet",
    ]
    table = dataset.to_table(filter=ds.field("tag") == "t3", columns=["id", "x"])
    expected = pd.concat(frames)
    expected = expected[expected["tag"] == "t3"]
    assert sorted(table.column("x").to_pylist()) == sorted(expected["x"].tolist())
    assert dataset.count_rows() == 3000
