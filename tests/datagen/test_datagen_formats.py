"""npz / hdf5 / tfrecord builders: readability, shapes, sizes, payload factors, TFRecord framing."""

from __future__ import annotations

import io
import math
import struct
import zlib

import h5py
import numpy as np
import pytest

from s3dlio.datagen import (
    BLOCK_SIZE,
    NUM_CLASSES,
    TFRECORD_RECORD_SIZE,
    TFRecordError,
    encode_example,
    frame_record,
    iter_tfrecords,
    make_hdf5,
    make_npz,
    make_object,
    make_tfrecord,
    parse_example,
    payload_size,
)

KiB = 1024
MiB = 1024 * KiB
SIZES = [64 * KiB, 100_000, 1 * MiB, 8 * MiB + 3]


def blocks(objects: list[bytes]) -> float:
    parts = [o[i : i + BLOCK_SIZE] for o in objects for i in range(0, len(o), BLOCK_SIZE)]
    return len(parts) / len(set(parts))


# ------------------------------------------------------------------------------------ npz


@pytest.mark.parametrize("size", SIZES)
def test_npz_opens_with_numpy(size: int) -> None:
    obj = make_npz(size, seed=1, index=2, num=3)
    assert abs(len(obj) - size) <= size // 100
    with np.load(io.BytesIO(obj)) as npz:
        assert sorted(npz.files) == ["data", "label"]
        data, label = npz["data"], npz["label"]
    assert data.dtype == np.uint8
    assert data.shape == (payload_size("npz", size),)
    assert data.nbytes > 0.9 * size
    assert label.dtype == np.int64
    assert label.shape == (1,)
    assert 0 <= int(label[0]) < NUM_CLASSES


def test_npz_payload_is_block_aligned() -> None:
    obj = make_npz(1 * MiB, seed=4)
    data = np.load(io.BytesIO(obj))["data"].tobytes()
    assert obj[BLOCK_SIZE : BLOCK_SIZE + len(data)] == data


def test_small_npz_still_valid() -> None:
    for size in (0, 300, 5_000):
        obj = make_npz(size, seed=1)
        data = np.load(io.BytesIO(obj))["data"]
        assert data.shape == (payload_size("npz", size),)
        assert len(obj) == max(size, len(make_npz(0, seed=1)))


# ----------------------------------------------------------------------------------- hdf5


@pytest.mark.parametrize("size", SIZES)
def test_hdf5_opens_with_h5py(size: int) -> None:
    obj = make_hdf5(size, seed=1, index=1, num=2)
    assert abs(len(obj) - size) <= size // 100
    with h5py.File(io.BytesIO(obj), "r") as f:
        data, label = f["data"], f["label"]
        assert data.dtype == np.uint8
        assert data.shape == (payload_size("hdf5", size),)
        assert data.id.get_offset() % BLOCK_SIZE == 0
        assert label.dtype == np.int64
        assert label.shape == (1,)
        assert 0 <= int(label[0]) < NUM_CLASSES
        payload = data[()].tobytes()
    assert obj[data_offset(obj, payload) :].startswith(payload)


def data_offset(obj: bytes, payload: bytes) -> int:
    offset = obj.find(payload[:256])
    assert offset >= 0
    return offset


# ------------------------------------------------------------------------------- tfrecord


@pytest.mark.parametrize("size", SIZES)
def test_tfrecord_framing_and_examples(size: int) -> None:
    obj = make_tfrecord(size, seed=3, index=4, num=5)
    assert abs(len(obj) - size) <= size // 100
    records = list(iter_tfrecords(obj))
    assert len(records) == math.ceil(size / TFRECORD_RECORD_SIZE)
    total = 0
    for record in records:
        example = parse_example(record)
        assert set(example) == {"data", "label"}
        data, label = example["data"], example["label"]
        assert isinstance(data, bytes)
        assert isinstance(label, list) and len(label) == 1
        assert isinstance(label[0], int) and 0 <= label[0] < NUM_CLASSES
        total += len(data)
        # the fast writer must match the generic encoder byte for byte
        assert record == encode_example({"data": data, "label": [label[0]]})
    assert total > 0.99 * size - 64 * len(records)


def test_tfrecord_records_parameter() -> None:
    obj = make_tfrecord(100_000, seed=1, records=7)
    assert len(list(iter_tfrecords(obj))) == 7
    assert abs(len(obj) - 100_000) <= 1_000


def test_tfrecord_manual_framing() -> None:
    payload = b"hello tfrecord"
    framed = frame_record(payload)
    (length,) = struct.unpack("<Q", framed[:8])
    assert length == len(payload)
    assert list(iter_tfrecords(framed + frame_record(b""))) == [payload, b""]


def test_masked_crc_known_value() -> None:
    # CRC-32C("123456789") = 0xE3069283 (standard check value), masked as TFRecord does
    crc = 0xE3069283
    expected = (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF
    framed = frame_record(b"123456789")
    assert struct.unpack("<I", framed[-4:])[0] == expected


@pytest.mark.parametrize("where", ["length", "length_crc", "payload", "data_crc"])
def test_tfrecord_corruption_is_detected(where: str) -> None:
    obj = bytearray(make_tfrecord(300_000, seed=9))
    first_len = struct.unpack("<Q", obj[:8])[0]
    pos = {"length": 1, "length_crc": 9, "payload": 12 + first_len // 2, "data_crc": 12 + first_len}[where]
    obj[pos] ^= 0x01
    with pytest.raises(TFRecordError, match="offset 0"):
        list(iter_tfrecords(bytes(obj)))


def test_tfrecord_corruption_in_a_later_record_names_its_offset() -> None:
    obj = bytearray(make_tfrecord(300_000, seed=9))
    second = 16 + struct.unpack("<Q", obj[:8])[0]
    obj[second + 100] ^= 0xFF
    with pytest.raises(TFRecordError, match=f"offset {second}"):
        list(iter_tfrecords(obj))
    assert len(list(iter_tfrecords(obj, verify=False))) == 3


def test_tfrecord_truncation_is_detected() -> None:
    obj = make_tfrecord(200_000, seed=2)
    for cut in (5, 20, len(obj) - 1):
        with pytest.raises(TFRecordError, match="truncated"):
            list(iter_tfrecords(obj[:cut]))


def test_example_golden_bytes() -> None:
    expected = bytes.fromhex(
        "0a20"  # Example.features
        "0a0e" "0a0464617461" "1206" "0a04" "0a026162"  # "data": bytes_list ["ab"]
        "0a0e" "0a056c6162656c" "1205" "1a03" "0a0107"  # "label": int64_list [7] (packed)
    )  # fmt: skip
    assert encode_example({"label": [7], "data": b"ab"}) == expected
    assert parse_example(expected) == {"data": b"ab", "label": [7]}


def test_example_roundtrip_other_types() -> None:
    features = {
        "blobs": [b"a", b"", b"xyz"],
        "ints": [0, -1, 2**63 - 1, -(2**63)],
        "floats": [0.5, -2.0],
        "empty": [],
    }
    assert parse_example(encode_example(features)) == features  # type: ignore[arg-type]


def test_parse_example_rejects_garbage() -> None:
    with pytest.raises(TFRecordError):
        parse_example(b"\x0a\xff")


def test_tfrecord_readable_by_tensorflow(tmp_path: object) -> None:
    import tensorflow as tf

    obj = make_tfrecord(300_000, seed=5)
    path = f"{tmp_path}/x.tfrecord"
    with open(path, "wb") as f:
        f.write(obj)
    ours = list(iter_tfrecords(obj))
    theirs = [r.numpy() for r in tf.data.TFRecordDataset(path)]
    assert theirs == ours
    for raw in theirs:
        example = tf.train.Example.FromString(raw)
        assert example.SerializeToString(deterministic=True) == raw
        assert list(example.features.feature["label"].int64_list.value) == parse_example(raw)["label"]


# ------------------------------------------------------------------------- shared payload


@pytest.mark.parametrize("object_type", ["npz", "hdf5", "tfrecord"])
def test_format_is_reproducible_and_distinct(object_type: str) -> None:
    a = [make_object(object_type, i, 70_000, seed=8, num=4) for i in range(4)]
    b = [make_object(object_type, i, 70_000, seed=8, num=4) for i in range(4)]
    assert a == b
    assert len(set(a)) == 4
    assert make_object(object_type, 0, 70_000, seed=9, num=4) != a[0]


@pytest.mark.parametrize("builder", [make_npz, make_hdf5, make_tfrecord])
def test_format_without_seed_differs(builder: object) -> None:
    assert builder(20_000) != builder(20_000)  # type: ignore[operator]


@pytest.mark.parametrize("object_type", ["npz", "hdf5", "tfrecord"])
@pytest.mark.parametrize("compress", [1, 4])
def test_format_payload_compress(object_type: str, compress: int) -> None:
    obj = make_object(object_type, 0, 1 * MiB, seed=2, compress=compress)
    ratio = len(obj) / len(zlib.compress(obj, 6))
    if compress == 1:
        assert ratio <= 1.01
    else:
        assert ratio == pytest.approx(compress, rel=0.15)


@pytest.mark.parametrize("object_type", ["npz", "hdf5", "tfrecord"])
@pytest.mark.parametrize("dedup", [2, 3])
def test_format_payload_dedup_at_4k(object_type: str, dedup: int) -> None:
    objects = [make_object(object_type, i, 1 * MiB, seed=3, dedup=dedup, num=6) for i in range(6)]
    assert blocks(objects) == pytest.approx(dedup, rel=0.15)


@pytest.mark.parametrize("length", [0, 1, 127, 128, 16_371, 16_384, 2**21 + 5])
@pytest.mark.parametrize("label", [0, 127, 128, 999, 2**40])
def test_record_size_arithmetic_matches_encoding(length: int, label: int) -> None:
    from s3dlio.datagen.formats import _record_overhead, _vlen

    framed = frame_record(encode_example({"data": bytes(length), "label": [label]}))
    assert len(framed) - length == _record_overhead(length, _vlen(label))


@pytest.mark.parametrize("size", [30, 49, 50, 51, 200, 16_500, 131_072, 131_073, 1_000_003])
def test_tfrecord_size_is_close_for_awkward_sizes(size: int) -> None:
    obj = make_tfrecord(size, seed=1)
    minimum = len(make_tfrecord(0, seed=1))
    records = len(list(iter_tfrecords(obj)))
    assert max(size, minimum * records) - 2 * records <= len(obj) <= max(size, minimum * records)


def test_tfrecord_error_is_an_integrity_error() -> None:
    from s3dlio.errors import IntegrityError

    obj = bytearray(make_tfrecord(1000, seed=1))
    obj[-1] ^= 1
    with pytest.raises(IntegrityError):
        list(iter_tfrecords(obj))
    with pytest.raises(ValueError, match="CRC"):
        list(iter_tfrecords(obj))
