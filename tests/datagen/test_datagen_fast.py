"""The fast paths: in-place builders, checksums without copies, labels, ObjectMaker, put() to files."""

from __future__ import annotations

import asyncio
import io
import os
import struct
import threading
import zipfile
import zlib
from pathlib import Path

import google_crc32c
import numpy as np
import pytest

import s3dlio
from s3dlio.datagen import DataGenerator, _crc, generate_data, iter_tfrecords, make_object, payload_size
from s3dlio.datagen import formats as fmt
from s3dlio.datagen import put as put_module
from s3dlio.datagen.generator import build_bytes, draw_words
from s3dlio.datagen.objects import ObjectMaker
from s3dlio.errors import S3dlioError

KiB = 1024
MiB = 1024 * KiB
TYPES = ("zeros", "random", "npz", "hdf5", "tfrecord")


# ------------------------------------------------------------------------------ checksums


@pytest.mark.parametrize("native", [True, False])
def test_crc32_matches_zlib(native: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if not native:
        monkeypatch.setattr(_crc, "_deflate_crc32", None)
    data = np.frombuffer(generate_data(300_001, seed=1), np.uint8)
    assert _crc.crc32(data) == zlib.crc32(data)
    running = 0
    for start in range(0, len(data), 70_000):
        running = _crc.crc32(data[start : start + 70_000], running)
    assert running == zlib.crc32(data)
    assert _crc.crc32(data[:10], 5) == zlib.crc32(data[:10], 5)  # short: zlib either way


@pytest.mark.parametrize("native", [True, False])
def test_crc32c_at_matches_google_crc32c(native: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if not native:
        monkeypatch.setattr(_crc, "_extend", None)
    data = np.frombuffer(generate_data(200_000, seed=2), np.uint8)
    assert _crc.crc32c_at(data, 0, len(data)) == google_crc32c.value(data.tobytes())
    assert _crc.crc32c_at(data, 17, 99_999) == google_crc32c.value(data[17:99_999].tobytes())
    first = _crc.crc32c_at(data, 0, 1000)
    assert _crc.crc32c_at(data, 1000, 5000, first) == google_crc32c.value(data[:5000].tobytes())
    assert _crc.crc32c_at(data, 5, 5, 123) == 123


def test_crc32c_runs_in_place_with_the_c_build() -> None:
    # google-crc32c's C build links the crc32c library we call; without it each record is copied once
    if google_crc32c.implementation != "c":
        pytest.skip("google-crc32c is the pure-Python build here")
    assert _crc.crc32c_native


@pytest.mark.parametrize("native", [True, False])
def test_formats_identical_without_native_checksums(native: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = {t: make_object(t, 1, 300_000, seed=4, num=3) for t in ("npz", "tfrecord")}
    if not native:
        monkeypatch.setattr(_crc, "_extend", None)
        monkeypatch.setattr(_crc, "_deflate_crc32", None)
    for object_type, blob in expected.items():
        assert ObjectMaker(object_type, 300_000, seed=4, num=3).make(1) == blob


# ----------------------------------------------------------------------------------- npz


@pytest.mark.parametrize(
    "size", [0, 1, 300, 4_095, 5_000, 64 * KiB - 1, 64 * KiB, 100_000, 256 * KiB, 1 * MiB + 7]
)
def test_npz_equals_what_zipfile_writes(size: int) -> None:
    """The in-place npz is byte for byte the zip that the zipfile module writes for it."""
    label = fmt._labels(11, 2, 1)[0]
    reference = fmt._make_npz_zipfile(size, 11, 2, 4, 2, 3, label)
    assert fmt.make_npz(size, seed=11, index=2, num=4, dedup=2, compress=3) == reference


@pytest.mark.parametrize("size", [0, 5_000, 256 * KiB, 3 * MiB + 5])
def test_npz_checksums_are_valid(size: int) -> None:
    blob = fmt.make_npz(size, seed=3, index=1, num=2)
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        assert zf.testzip() is None  # reads every member and checks its CRC-32
        assert [i.compress_type for i in zf.infolist()] == [zipfile.ZIP_STORED] * 2
    assert np.load(io.BytesIO(blob))["data"].shape == (payload_size("npz", size),)


def test_npz_plan_is_shared_per_size() -> None:
    assert fmt._npz_plan(256 * KiB) is fmt._npz_plan(256 * KiB)
    plan = fmt._npz_plan(256 * KiB)
    assert plan.fits and plan.total == 256 * KiB and plan.offset % 4096 == 0


def test_npz_beyond_zip32_uses_zipfile() -> None:
    plan = fmt._NpzPlan(2_100_000_000)  # data member above zipfile's zip64 threshold
    assert not plan.fits


# ------------------------------------------------------------------------------ tfrecord


@pytest.mark.parametrize("size", [0, 49, 50, 1000, 131_073, 256 * KiB, 1 * MiB + 3])
def test_tfrecord_job_length_is_exact(size: int) -> None:
    length, fill = fmt.tfrecord_job(size, seed=5, index=3, num=7, dedup=2, compress=2)
    out = np.full(length, 0xAB, np.uint8)
    fill(out)
    blob = out.tobytes()
    assert blob == fmt.make_tfrecord(size, seed=5, index=3, num=7, dedup=2, compress=2)
    records = list(iter_tfrecords(blob))  # every length and data CRC checks out
    assert sum(16 + len(r) for r in records) == len(blob)


def test_tfrecord_payload_follows_the_stream() -> None:
    """Record data is the object's generator stream at the same file offsets (dedup alignment)."""
    blob = fmt.make_tfrecord(300_000, seed=8, index=1, num=2)
    gen = fmt._stream(fmt._tfrecord_shape(300_000, None)[1], 8, 1, 2, 1, 1)
    pos = 0
    for record in iter_tfrecords(blob):
        data = fmt.parse_example(record)["data"]
        assert isinstance(data, bytes)
        at = blob.index(data[:64], pos)
        expected = np.empty(len(data), np.uint8)
        gen.render(at, expected)
        assert expected.tobytes() == data
        pos = at + len(data)


# --------------------------------------------------------------------------------- labels


def test_labels_are_stream_draws_across_block_edges() -> None:
    key = 77 + (fmt._LABEL_TAG << 64)
    for count in (1, 3):
        for index in (0, fmt._LABEL_BLOCK - 1, fmt._LABEL_BLOCK, 5 * fmt._LABEL_BLOCK + 2):
            expected = [int(v) % fmt.NUM_CLASSES for v in draw_words(key, index * count, count)]
            assert fmt._labels(77, index, count) == expected


def test_labels_for_many_records_per_object() -> None:
    count = 3 * fmt._LABEL_BLOCK_WORDS // 2  # more labels per object than one cached block holds
    key = 5 + (fmt._LABEL_TAG << 64)
    expected = [int(v) % fmt.NUM_CLASSES for v in draw_words(key, 2 * count, count)]
    assert fmt._labels(5, 2, count) == expected


def test_labels_spread_over_classes() -> None:
    labels = [fmt._labels(1, i, 1)[0] for i in range(2000)]
    assert all(0 <= v < fmt.NUM_CLASSES for v in labels)
    assert len(set(labels)) > 800


def test_draw_words_does_not_disturb_the_data_stream() -> None:
    gen = DataGenerator(3 * 4096, seed=9)
    first = gen.read(4096)
    draw_words(12345, 10**9, 7)
    rest = gen.read()
    assert first + rest == generate_data(3 * 4096, seed=9)


# ---------------------------------------------------------------------------- build_bytes


def test_build_bytes_large_uses_fresh_memory_correctly() -> None:
    size = 9 * MiB + 5  # above the huge-page threshold
    data = generate_data(size, seed=6)
    assert len(data) == size
    assert data == b"".join(DataGenerator(size, seed=6).chunks(1 * MiB))


def test_build_bytes_empty_and_small() -> None:
    assert build_bytes(0, lambda out: None) == b""
    assert build_bytes(3, lambda out: out.__setitem__(slice(None), 7)) == b"\x07\x07\x07"


# ----------------------------------------------------------------------------- ObjectMaker


@pytest.mark.parametrize("object_type", TYPES)
def test_object_maker_matches_make_object(object_type: str) -> None:
    maker = ObjectMaker(object_type, 70_001, seed=3, dedup=2, compress=3, num=5)
    out = np.zeros(80_000, np.uint8)
    for index in (0, 4):
        expected = make_object(object_type, index, 70_001, seed=3, dedup=2, compress=3, num=5)
        assert maker.make(index) == expected
        length = maker.render(index, out)
        assert out[:length].tobytes() == expected


def test_object_maker_checks_arguments() -> None:
    with pytest.raises(ValueError, match="compress"):
        ObjectMaker("random", 10, seed=1, compress=65)
    with pytest.raises(ValueError, match="index"):
        ObjectMaker("npz", 10, seed=1, num=2).make(2)
    with pytest.raises(TypeError, match="seed"):
        ObjectMaker("npz", 10, seed=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="object_type"):
        ObjectMaker("csv", 10, seed=1)


# ------------------------------------------------------------------------ put() to files


@pytest.mark.parametrize("object_type", TYPES)
def test_put_to_files_equals_make_object(object_type: str, tmp_path: Path) -> None:
    num, size = 9, 100_003
    uris = s3dlio.put(
        f"file://{tmp_path}/", num, "o_{}", object_type=object_type, size=size, seed=21,
        dedup_factor=2, compress_factor=2, max_in_flight=3,
    )  # fmt: skip
    for index, uri in enumerate(uris):
        expected = make_object(object_type, index, size, seed=21, dedup=2, compress=2, num=num)
        assert Path(uri.removeprefix("file://")).read_bytes() == expected
    assert sorted(os.listdir(tmp_path)) == sorted(f"o_{i}" for i in range(num))  # no temp files


def test_put_to_files_progress_and_nested_names(tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    thread_names: set[str] = set()

    def progress(objects: int, nbytes: int) -> None:
        calls.append((objects, nbytes))
        thread_names.add(threading.current_thread().name)

    num = 300  # several batches
    uris = s3dlio.put(
        f"file://{tmp_path}/ds", num, "split_{index:d}/part_{index:05d}.npz", object_type="npz", size=5000,
        seed=1, progress=progress,
    )  # fmt: skip
    assert calls == [(i, i * 5000) for i in range(1, num + 1)]
    assert len(thread_names) == 1  # always called from the same (event-loop) thread
    assert all(os.path.isfile(uri.removeprefix("file://")) for uri in uris)
    assert len(set(uris)) == num


def test_put_to_files_overwrites_and_is_random_without_seed(tmp_path: Path) -> None:
    prefix = f"file://{tmp_path}/"
    first = s3dlio.put(prefix, 3, "x{}", object_type="random", size=10_000)
    before = [Path(u.removeprefix("file://")).read_bytes() for u in first]
    again = s3dlio.put(prefix, 3, "x{}", object_type="random", size=10_000)
    after = [Path(u.removeprefix("file://")).read_bytes() for u in again]
    assert first == again
    assert all(a != b for a, b in zip(before, after, strict=True))
    assert sorted(os.listdir(tmp_path)) == ["x0", "x1", "x2"]


def test_put_to_files_error_names_the_object_and_leaves_no_temp(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_bytes(b"a file where a directory should be")
    with pytest.raises(S3dlioError, match="blocker"):
        s3dlio.put(f"file://{tmp_path}/blocker/", 2, "o{}", object_type="random", size=100, seed=1)
    target = tmp_path / "ro"
    target.mkdir()
    (target / "o1").mkdir()  # object 1's name is taken by a directory: rename fails
    with pytest.raises(S3dlioError, match="o1"):
        s3dlio.put(f"file://{target}/", 2, "o{}", object_type="npz", size=5000, seed=1, max_in_flight=1)
    assert sorted(os.listdir(target)) == ["o0", "o1"]  # object 0 landed, no temp file is left


def test_put_to_files_stops_when_progress_raises(tmp_path: Path) -> None:
    """The callback's error fails the call; the workers stop early and leave no temp file."""

    class Stop(Exception):
        pass

    def progress(done: int, nbytes: int) -> None:
        if done == 3:
            raise Stop("enough")

    num = 2000  # far more batches than workers: stopping early shows
    with pytest.raises(Stop, match="enough"):
        s3dlio.put(
            f"file://{tmp_path}/", num, "o{}", object_type="random", size=4096, seed=5,
            progress=progress,
        )  # fmt: skip
    names = os.listdir(tmp_path)
    assert 3 <= len(names) < num
    assert all(not name.startswith(".") for name in names)  # no temporary file is left
    for name in names:  # every file that landed is complete
        index = int(name[1:])
        assert (tmp_path / name).read_bytes() == make_object("random", index, 4096, seed=5, num=num)


def test_put_async_to_files_cancelled_stops_early(tmp_path: Path) -> None:
    """Cancelling returns once the workers finished their current object, long before the end."""
    num = 2000

    async def cancel_after_first_object() -> None:
        first = asyncio.Event()
        task = asyncio.create_task(
            s3dlio.put_async(
                f"file://{tmp_path}/",
                num,
                "o{}",
                object_type="random",
                size=4096,
                seed=6,
                progress=lambda done, nbytes: first.set(),
            )
        )
        await first.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel_after_first_object())
    names = os.listdir(tmp_path)
    assert 1 <= len(names) < num
    assert all(not name.startswith(".") for name in names)
    for name in names:
        assert (tmp_path / name).read_bytes() == make_object("random", int(name[1:]), 4096, seed=6, num=num)


def test_put_large_random_to_file_still_streams(tmp_path: Path) -> None:
    size = 17 * MiB  # above the default multipart threshold
    seen: list[tuple[int, int]] = []
    (uri,) = s3dlio.put(
        f"file://{tmp_path}/", 1, "big", object_type="random", size=size, seed=2,
        progress=lambda n, b: seen.append((n, b)),
    )  # fmt: skip
    assert Path(uri.removeprefix("file://")).read_bytes() == generate_data(size, seed=2)
    part = s3dlio.get_config().part_size
    assert seen[0] == (0, part)  # progress part by part while the object is generated
    assert [b for _, b in seen] == sorted(b for _, b in seen)
    assert seen[-1] == (1, size) and seen[-2] == (0, size)


@pytest.mark.parametrize(
    ("cores", "object_type", "jobs"),
    [(2, "zeros", 2), (2, "random", 2), (2, "npz", 1), (2, "hdf5", 1), (2, "tfrecord", 1),
     (2, "parquet", 1), (1, "npz", 1), (8, "random", 8), (8, "npz", 4)],
)  # fmt: skip
def test_local_workers_per_core_and_type(
    monkeypatch: pytest.MonkeyPatch, cores: int, object_type: str, jobs: int
) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda _: set(range(cores)))
    assert put_module.local_workers(1000, object_type) == jobs
    assert put_module.local_workers(1, object_type) == 1  # never above max_in_flight


def test_tfrecord_header_crc_cache_matches_framing() -> None:
    head, suffix = fmt._record_parts(1000, 5)
    prefix, tail = fmt._example_parts(1000, 5)
    (length,) = struct.unpack("<Q", head[:8])
    assert length == len(prefix) + 1000 + len(tail)
    assert head[12:] == prefix and suffix == tail
    assert struct.unpack("<I", head[8:12])[0] == fmt.masked_crc32c(head[:8])
