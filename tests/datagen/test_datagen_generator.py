"""Raw generator: zeros, randomness, compress and dedup ratios, reproducibility, streaming."""

from __future__ import annotations

import hashlib
import random
import zlib
from collections.abc import Callable

import numpy as np
import pytest

from s3dlio.datagen import (
    BLOCK_SIZE,
    MAX_COMPRESS,
    DataGenerator,
    generate_data,
    iter_chunks,
    make_object,
)

KiB = 1024
MiB = 1024 * KiB


def zlib_ratio(data: bytes) -> float:
    return len(data) / len(zlib.compress(data, 6))


def block_ratio(objects: list[bytes]) -> float:
    """Total / unique 4 KiB blocks, each object cut from its own start."""
    blocks = [obj[i : i + BLOCK_SIZE] for obj in objects for i in range(0, len(obj), BLOCK_SIZE)]
    return len(blocks) / len(set(blocks))


def call_objects(num: int, size: int, *, dedup: int = 1, compress: int = 1, seed: int = 11) -> list[bytes]:
    return [
        make_object("random", i, size, seed=seed, dedup=dedup, compress=compress, num=num) for i in range(num)
    ]


def test_zeros_are_zero() -> None:
    obj = make_object("zeros", 3, 100_000, seed=1, num=5)
    assert len(obj) == 100_000
    assert obj == bytes(100_000)


@pytest.mark.parametrize("size", [64 * KiB, 1 * MiB + 123, 8 * MiB])
def test_random_is_incompressible(size: int) -> None:
    data = generate_data(size, seed=5)
    assert len(data) == size
    assert zlib_ratio(data) <= 1.01


@pytest.mark.parametrize("compress", [2, 3, 5, 10, 20])
@pytest.mark.parametrize("size", [64 * KiB, 1 * MiB, 8 * MiB])
def test_compress_ratio_zlib(compress: int, size: int) -> None:
    data = generate_data(size, compress=compress, seed=7)
    assert len(data) == size
    assert zlib_ratio(data) == pytest.approx(compress, rel=0.15)


@pytest.mark.parametrize("compress", [2, 3, 5, 10, 20, MAX_COMPRESS])
def test_compress_ratio_zstd(compress: int) -> None:
    import zstandard

    data = generate_data(2 * MiB, compress=compress, seed=8)
    ratio = len(data) / len(zstandard.ZstdCompressor(level=3).compress(data))
    assert ratio == pytest.approx(compress, rel=0.15)


def test_compress_ratio_at_the_cap_zlib() -> None:
    data = generate_data(1 * MiB, compress=MAX_COMPRESS, seed=9)
    assert zlib_ratio(data) == pytest.approx(MAX_COMPRESS, rel=0.15)


@pytest.mark.parametrize("dedup", [2, 3, 5])
@pytest.mark.parametrize(("num", "size"), [(10, 64 * KiB), (4, 1 * MiB), (40, 8 * KiB), (3, 1 * MiB + 100)])
def test_dedup_ratio_over_a_call(dedup: int, num: int, size: int) -> None:
    objects = call_objects(num, size, dedup=dedup)
    assert block_ratio(objects) == pytest.approx(dedup, rel=0.15)


def test_dedup_one_has_no_duplicate_blocks() -> None:
    assert block_ratio(call_objects(8, 256 * KiB)) == 1.0


def test_dedup_and_compress_combine() -> None:
    objects = call_objects(6, 512 * KiB, dedup=3, compress=4)
    assert block_ratio(objects) == pytest.approx(3, rel=0.15)
    # copies sit far apart, so zlib's 32 KiB window still sees only the compress factor
    assert zlib_ratio(objects[0]) == pytest.approx(4, rel=0.15)


def test_dedup_within_a_single_object() -> None:
    data = generate_data(2 * MiB, dedup=4, seed=3)
    assert block_ratio([data]) == pytest.approx(4, rel=0.15)
    assert zlib_ratio(data) <= 1.01  # duplicates are outside deflate's window


@pytest.mark.parametrize("dedup", [1, 2, 3])
def test_objects_in_a_call_differ(dedup: int) -> None:
    objects = call_objects(12, 16 * KiB, dedup=dedup)
    assert len(set(objects)) == len(objects)


def test_seed_reproduces_a_call_in_any_order() -> None:
    first = call_objects(5, 300_000, dedup=2, compress=3, seed=42)
    order = list(range(5))
    random.Random(0).shuffle(order)
    again = {i: make_object("random", i, 300_000, seed=42, dedup=2, compress=3, num=5) for i in order}
    assert [again[i] for i in range(5)] == first


def test_seed_changes_the_data() -> None:
    assert generate_data(10_000, seed=1) != generate_data(10_000, seed=2)


def test_no_seed_calls_differ() -> None:
    assert generate_data(10_000) != generate_data(10_000)
    assert DataGenerator(100).seed != DataGenerator(100).seed


def test_stream_is_stable() -> None:
    """Guards reproducibility across versions: changing the stream must be deliberate."""
    digest = hashlib.sha256(generate_data(100_000, dedup=2, compress=3, seed=2024)).hexdigest()
    assert digest == GOLDEN_SHA256


GOLDEN_SHA256 = "28aa8dcaf8bef0bd600ae6824bbd0111ecf93b6bed0a0b0ae07bc279aa310c85"


_LARGE_STREAMS: dict[str, tuple[Callable[[], bytes], str]] = {
    # > 1 MiB: the render walks around the pool of 256 blocks, in several XOR steps
    "5 MiB": (
        lambda: generate_data(5 * MiB + 3, seed=2024),
        "28e7b268883cfa23f0438a2c319057eed4b4228e04cafd9b78100c298d1250c3",
    ),
    "5 MiB dedup compress": (
        lambda: generate_data(5 * MiB + 3, 3, 2, seed=2024),
        "319fd7d85ba3b7fa2bbffcbd9e5719a5f47162acba5c6ee16d55589ae07c7a85",
    ),
    # blocks 962..1036 of the call: across two cached runs of block keys
    "object 13 of 80": (
        lambda: make_object("random", 13, 300_001, seed=2024, num=80),
        "cfbc4c26c2039502d1b73c568ecca774b69ef2a7d67e7d3bdcec9aef48e19ac0",
    ),
    "object 55 of 80, dedup": (
        lambda: make_object("random", 55, 300_001, seed=2024, dedup=2, num=80),
        "fd4b038572a944172c1cc04bf9b8dddfe14fd3cb7d1219dbc8f5613755a23959",
    ),
}


@pytest.mark.parametrize("name", _LARGE_STREAMS)
def test_large_streams_are_stable(name: str) -> None:
    """Digests taken before the render was tuned: the same bytes for a seed, release after release."""
    make, digest = _LARGE_STREAMS[name]
    assert hashlib.sha256(make()).hexdigest() == digest


@pytest.mark.parametrize("chunk", [1, 7, 4095, 4096, 4097, 65539, 10**7])
def test_iter_chunks_equal_generate_data(chunk: int) -> None:
    size = 200_003 if chunk > 1 else 9_000
    whole = generate_data(size, dedup=2, compress=5, seed=77)
    parts = list(iter_chunks(size, chunk, dedup=2, compress=5, seed=77))
    assert all(len(p) == chunk for p in parts[:-1])
    assert b"".join(parts) == whole


@pytest.mark.parametrize("kind", ["bytearray", "memoryview", "numpy_u8", "numpy_u64"])
def test_fill_buffers_in_order(kind: str) -> None:
    size = 1 * MiB + 333
    expected = make_object("random", 2, size, seed=5, dedup=3, compress=2, num=4)
    gen = DataGenerator(size, 3, 2, 5, index=2, num=4)
    out = bytearray()
    piece = 100_000  # multiple of 8 so the uint64 buffer has a whole number of items
    while True:
        if kind == "bytearray":
            buf: bytearray | memoryview | np.ndarray = bytearray(piece)
        elif kind == "memoryview":
            buf = memoryview(bytearray(piece))
        elif kind == "numpy_u8":
            buf = np.empty(piece, np.uint8)
        else:
            buf = np.empty(piece // 8, np.uint64)
        n = gen.fill(buf)
        if n == 0:
            break
        out += (buf.data if isinstance(buf, np.ndarray) else memoryview(buf)).cast("B")[:n]
    assert gen.remaining == 0
    assert bytes(out) == expected


def test_seek_and_read_any_range() -> None:
    size = 150_000
    whole = generate_data(size, dedup=2, compress=2, seed=13)
    gen = DataGenerator(size, 2, 2, 13)
    rnd = random.Random(1)
    for _ in range(50):
        start = rnd.randrange(size)
        length = rnd.randrange(0, 3 * BLOCK_SIZE)
        gen.seek(start)
        assert gen.read(length) == whole[start : start + length]


def test_fill_rejects_read_only_buffer() -> None:
    with pytest.raises(TypeError, match="writable"):
        DataGenerator(10, seed=1).fill(b"0123456789")


def test_zero_size() -> None:
    assert generate_data(0, seed=1) == b""
    assert DataGenerator(0, seed=1).fill(bytearray(10)) == 0


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"size": -1}, ValueError),
        ({"size": 10, "dedup": 0}, ValueError),
        ({"size": 10, "compress": 0}, ValueError),
        ({"size": 10, "compress": MAX_COMPRESS + 1}, ValueError),
        ({"size": 10.0}, TypeError),
        ({"size": True}, TypeError),
        ({"size": 10, "dedup": 2.0}, TypeError),
        ({"size": 10, "seed": -5}, ValueError),
        ({"size": 10, "seed": "1"}, TypeError),
    ],
)
def test_generate_data_rejects_bad_arguments(kwargs: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        generate_data(**kwargs)  # type: ignore[arg-type]


def test_numpy_integers_are_accepted() -> None:
    assert generate_data(np.int64(100), seed=np.uint32(3)) == generate_data(100, seed=3)  # type: ignore[arg-type]


def _child_digest(args: tuple[int, int, int, int]) -> str:
    size, dedup, compress, seed = args
    return hashlib.sha256(generate_data(size, dedup, compress, seed)).hexdigest()


def test_generator_in_forked_workers_matches_the_parent() -> None:
    """DataLoader workers fork after the parent generated data: same bytes, no hang."""
    import multiprocessing

    cases = [(3 * MiB, 1, 1, 5), (1 * MiB + 9, 2, 3, 6)]
    expected = [_child_digest(c) for c in cases]  # the pool and caches now exist in the parent
    with multiprocessing.get_context("fork").Pool(2) as pool:
        assert pool.map(_child_digest, cases, chunksize=1) == expected


@pytest.mark.parametrize(("dedup", "compress"), [(1, 1), (3, 1), (1, 4), (2, 3)])
@pytest.mark.parametrize("size", [1, 4096, 300_001])
def test_render_objects_equals_each_object(size: int, dedup: int, compress: int) -> None:
    """One pass over consecutive objects writes each object's bytes at its stride (the range
    crosses the boundary of a cached run of block keys for the largest size)."""
    from s3dlio.datagen.generator import object_stride, render_objects

    num, first, count = 80, 50, 12
    stride = object_stride(size)
    out = np.zeros(count * stride, np.uint8)
    render_objects(size, first, count, out, seed=9, dedup=dedup, compress=compress, num=num)
    for k in range(count):
        expected = DataGenerator(size, dedup, compress, 9, index=first + k, num=num).read()
        assert out[k * stride : k * stride + size].tobytes() == expected
    with pytest.raises(ValueError, match="outside"):
        render_objects(size, 75, 6, out, seed=9, dedup=dedup, compress=compress, num=num)
