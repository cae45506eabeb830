"""TensorFlow: TFRecord objects written by s3dlio, read by tf.data; make_tf_dataset on real S3."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf
from fw_data import DATA_SHAPE, NUM_OBJECTS, S3Data, generate, npz_bytes

import s3dlio
from s3dlio.datagen.formats import NUM_CLASSES, payload_size
from s3dlio.frameworks.tf import make_tf_dataset
from s3dlio.loader.dataset import EmptyDatasetError
from s3dlio.loader.sampler import ShardedSampler

TFR_OBJECTS = 5
TFR_SIZE = 300 * 1024  # 3 records of ~100 KiB each
RECORDS_PER_OBJECT = 3
FEATURES = {
    "data": tf.io.FixedLenFeature([], tf.string),
    "label": tf.io.FixedLenFeature([], tf.int64),
}


def parse(record: Any) -> dict[str, Any]:
    return tf.io.parse_single_example(record, FEATURES)


@pytest.fixture(scope="module")
def tfrecords(s3_data: S3Data) -> Iterator[str]:
    """TFRecord objects on S3, made by ``put(object_type='tfrecord')``, in the s3_data bucket."""
    prefix = f"s3://{s3_data.bucket}/tfrecords/"
    generate(prefix, TFR_OBJECTS, "train_{:05d}.tfrecord", "tfrecord", TFR_SIZE)
    yield prefix


def check_examples(examples: list[dict[str, Any]], count: int) -> None:
    assert len(examples) == count
    for example in examples:
        label = int(example["label"])
        assert 0 <= label < NUM_CLASSES
        assert example["data"].dtype == tf.string
        assert len(example["data"].numpy()) > 90 * 1024


def test_tfrecord_files_on_file_uri_read_by_tfrecord_dataset(tmp_path: Path) -> None:
    """s3dlio writes TFRecord files to file://; tf.data reads them as ordinary local files."""
    generate(f"file://{tmp_path}/tfr/", 3, "part_{:02d}.tfrecord", "tfrecord", TFR_SIZE)
    files = sorted(str(p) for p in (tmp_path / "tfr").iterdir())
    assert len(files) == 3
    examples = list(tf.data.TFRecordDataset(files).map(parse))
    check_examples(examples, 3 * RECORDS_PER_OBJECT)
    # and make_tf_dataset over the same file:// prefix yields the same records
    ours = list(make_tf_dataset(f"file://{tmp_path}/tfr/", decode="tfrecord").map(parse))
    assert [int(e["label"]) for e in ours] == [int(e["label"]) for e in examples]


def test_tfrecord_bytes_fetched_by_s3dlio(tfrecords: str, tmp_path: Path) -> None:
    """Objects fetched with s3dlio.get, saved locally, read by TFRecordDataset; same as ours."""
    uris = [entry["uri"] for entry in s3dlio.list(tfrecords)]
    assert len(uris) == TFR_OBJECTS
    paths = []
    for index, (_, data) in enumerate(s3dlio.get_many(uris)):
        path = tmp_path / f"{index}.tfrecord"
        path.write_bytes(data)
        paths.append(str(path))
    reference = list(tf.data.TFRecordDataset(paths).map(parse))
    check_examples(reference, TFR_OBJECTS * RECORDS_PER_OBJECT)

    ours = list(make_tf_dataset(tfrecords, decode="tfrecord").map(parse))
    assert [int(e["label"]) for e in ours] == [int(e["label"]) for e in reference]
    assert [e["data"].numpy() for e in ours] == [e["data"].numpy() for e in reference]
    # also the record bytes straight from make_tf_dataset's default (whole objects)
    objects = [t.numpy() for t in make_tf_dataset(tfrecords)]
    assert objects == [bytes(data) for _, data in s3dlio.get_many(uris)]


def test_tfrecord_pipeline_with_batching(tfrecords: str) -> None:
    dataset = (
        make_tf_dataset(tfrecords, decode="tfrecord", shuffle=True, seed=7)
        .map(parse, num_parallel_calls=tf.data.AUTOTUNE)
        .batch(4)
        .prefetch(tf.data.AUTOTUNE)
    )
    batches = list(dataset)
    assert [int(b["label"].shape[0]) for b in batches] == [4, 4, 4, 3]
    assert batches[0]["data"].shape == (4,)


def test_bytes_elements_follow_sampler_order_and_reshuffle(s3_data: S3Data) -> None:
    dataset = make_tf_dataset(s3_data.prefix, shuffle=True, seed=3)
    assert dataset.element_spec == tf.TensorSpec((), tf.string)
    two_epochs = [t.numpy() for t in dataset.repeat(2)]
    orders = [ShardedSampler(NUM_OBJECTS, shuffle=True, seed=3, epoch=e).indices() for e in (0, 1)]
    assert two_epochs == [npz_bytes(i) for i in orders[0] + orders[1]]
    assert orders[0] != orders[1]


def test_npz_decoding_and_batching(s3_data: S3Data) -> None:
    dataset = make_tf_dataset(s3_data.prefix, decode="npz").batch(5)
    assert set(dataset.element_spec) == {"data", "label"}
    batches = list(dataset)
    assert batches[0]["data"].shape == (5, *DATA_SHAPE)
    assert batches[0]["data"].dtype == tf.float32
    assert [int(x) for b in batches for x in b["label"]] == list(range(NUM_OBJECTS))


def test_custom_decoder_with_tuple_output(s3_data: S3Data) -> None:
    def decode(data: bytes) -> tuple[np.ndarray, np.int64]:
        arrays = np.load(__import__("io").BytesIO(data))
        return arrays["data"] * 2, arrays["label"]

    dataset = make_tf_dataset(s3_data.uris[:4], decode=decode)
    items = list(dataset)
    assert [int(label) for _, label in items] == [0, 1, 2, 3]
    assert float(items[3][0][0, 0]) == 6.0


def test_shards_are_disjoint_and_complete(s3_data: S3Data) -> None:
    seen = []
    for rank in range(3):
        ds = make_tf_dataset(s3_data.prefix, decode="npz", rank=rank, world_size=3, shuffle=True, seed=1)
        seen.append([int(e["label"]) for e in ds])
    assert [len(s) for s in seen] == [8, 8, 8]
    assert sorted(seen[0] + seen[1] + seen[2]) == list(range(NUM_OBJECTS))


def test_decoder_failure_names_the_object(s3_data: S3Data) -> None:
    def broken(data: bytes) -> np.ndarray:
        raise ValueError("bad sample")

    with pytest.raises(Exception, match=r"transform failed for s3://.*s000\.npz"):
        make_tf_dataset(s3_data.prefix, decode=broken)  # the first object is decoded for its spec
    spec = tf.TensorSpec((1,), tf.int64)
    with pytest.raises(tf.errors.OpError, match=r"transform failed for s3://.*s000\.npz"):
        list(make_tf_dataset(s3_data.prefix, decode=broken, output_signature=spec))


def test_bad_arguments(s3_data: S3Data) -> None:
    empty = f"s3://{s3_data.bucket}/empty-{uuid.uuid4().hex[:6]}/"
    with pytest.raises(EmptyDatasetError, match=f"no objects under {empty}"):
        make_tf_dataset(empty)
    with pytest.raises(ValueError, match=r"rank=3 with world_size=2"):
        make_tf_dataset(s3_data.prefix, rank=3, world_size=2)
    with pytest.raises(ValueError, match="decode must be"):
        make_tf_dataset(s3_data.prefix, decode="jpeg")
    with pytest.raises(ValueError, match="explicit seed"):
        make_tf_dataset(s3_data.prefix, shuffle=True, rank=0, world_size=2)


def test_generated_npz_payload_size(s3_data: S3Data) -> None:
    """npz objects from put(object_type='npz') decode to uint8 ``data`` of the documented size."""
    prefix = f"s3://{s3_data.bucket}/gen-npz/"
    generate(prefix, 3, "x_{:02d}.npz", "npz", 32 * 1024)
    items = list(make_tf_dataset(prefix, decode="npz"))
    assert [tuple(i["data"].shape) for i in items] == [(payload_size("npz", 32 * 1024),)] * 3
    assert items[0]["label"].dtype == tf.int64
