"""Round trips of the guide API: every dtype, shape and memory layout; bytes; objects; metadata."""

from __future__ import annotations

import asyncio
import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from ckpt_helpers import assert_same_array, file_uri

from s3dlio.checkpoint import (
    CheckpointReader,
    create_checkpoint_reader,
    create_checkpoint_reader_async,
    create_checkpoint_writer,
)

rng = np.random.default_rng(7)
base = rng.standard_normal((6, 5, 4))


def _structured() -> np.ndarray:
    dtype = np.dtype([("id", "<i8"), ("xy", "<f4", (2,)), ("name", "U3"), ("ok", "?")])
    out = np.zeros(4, dtype=dtype)
    out["id"] = [1, 2, 3, 4]
    out["xy"] = [[1, 2], [3, 4], [5, 6], [7, 8]]
    out["name"] = ["a", "bb", "ccc", "d"]
    out["ok"] = [True, False, True, False]
    return out


def _padded_record() -> np.ndarray:
    dtype = np.dtype({"names": ["a", "b"], "formats": ["u1", "<f8"], "offsets": [0, 8], "itemsize": 24})
    out = np.zeros(3, dtype=dtype)
    out["a"], out["b"] = [1, 2, 3], [0.5, 1.5, 2.5]
    return out


def _nested_record() -> np.ndarray:
    dtype = np.dtype([("outer", [("inner", ">i2", (2, 2)), ("f", "<c8")]), ("t", "M8[ms]")])
    out = np.zeros((2, 2), dtype=dtype)
    out["outer"]["inner"] = np.arange(16).reshape(2, 2, 2, 2)
    out["outer"]["f"] = 1 + 2j
    out["t"] = np.datetime64("2024-01-02T03:04:05.678")
    return out


ARRAYS: dict[str, Any] = {
    "float64_3d": base,
    "zero_d": np.array(3.5, dtype=np.float32),
    "numpy_scalar": np.int16(-7),
    "bool": rng.random(17) > 0.5,
    "complex128": (rng.standard_normal(9) + 1j * rng.standard_normal(9)).reshape(3, 3),
    "complex64": np.array([1 + 2j, -3j], dtype=np.complex64),
    "big_endian": np.arange(10, dtype=">i4"),
    "uint64": np.array([0, 2**64 - 1], dtype=np.uint64),
    "float16": np.linspace(0, 1, 7, dtype=np.float16),
    "datetime": np.array(["2024-01-01", "2025-06-30"], dtype="M8[D]"),
    "timedelta": np.array([1, 2, 3], dtype="m8[s]"),
    "unicode": np.array(["\u03b1", "\u03b2\u03b3", ""], dtype="U2"),
    "bytes_dtype": np.array([b"ab", b"c"], dtype="S2"),
    "void": np.array([b"\x00\x01\x02"], dtype="V3"),
    "structured": _structured(),
    "padded_record": _padded_record(),
    "nested_record": _nested_record(),
    "fortran": np.asfortranarray(base),
    "fortran_2d": np.asfortranarray(rng.standard_normal((7, 3))),
    "transposed_view": base.transpose(2, 0, 1),
    "full_transpose": base.T,
    "strided_view": base[::2, 1:, ::-1],
    "negative_stride_1d": np.arange(20)[::-3],
    "column_view": base[:, 2, :],
    "empty": np.zeros((0, 5)),
    "empty_3d": np.zeros((2, 0, 3), dtype=np.int8),
    "broadcast": np.broadcast_to(np.arange(4.0), (3, 4)),
    "readonly": np.frombuffer(b"\x01\x02\x03\x04", dtype=np.uint8),
}


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> CheckpointReader:
    uri = file_uri(tmp_path_factory.mktemp("roundtrip"))
    writer = create_checkpoint_writer(uri)
    for name, array in ARRAYS.items():
        writer.save_array(name, array)
    writer.save_bytes("raw", b"\x00hello\xff")
    writer.save_bytes("raw_empty", b"")
    writer.save_bytes("raw_memoryview", memoryview(bytearray(b"abcdef"))[::2])
    writer.save_object("config", {"lr": 1e-3, "layers": [1, 2, 3], "name": "net"})
    writer.save_object("none", None)
    writer.finalize(metadata={"epoch": 3, "loss": 0.25, "tags": ["a", "b"], "nested": {"x": None}})
    return create_checkpoint_reader(uri)


@pytest.mark.parametrize("name", sorted(ARRAYS))
def test_array_round_trip(saved: CheckpointReader, name: str) -> None:
    want = np.asarray(ARRAYS[name])
    got = saved.load_array(name)
    assert_same_array(got, want)
    assert got.flags.writeable


def test_memory_order_recorded(saved: CheckpointReader) -> None:
    info = {e.name: e for e in saved.info()}
    assert info["fortran"].order == "F"
    assert info["full_transpose"].order == "F"  # the transpose of a C array is F-contiguous
    assert info["transposed_view"].order == "C"  # neither: copied out in C order
    assert info["strided_view"].order == "C"
    assert info["float64_3d"].order == "C"


def test_bytes_and_objects(saved: CheckpointReader) -> None:
    assert saved.load_bytes("raw") == b"\x00hello\xff"
    assert saved.load_bytes("raw_empty") == b""
    assert saved.load_bytes("raw_memoryview") == b"ace"
    assert saved.load_object("config") == {"lr": 1e-3, "layers": [1, 2, 3], "name": "net"}
    assert saved.load_object("none") is None
    assert saved.load("raw") == b"\x00hello\xff"


def test_metadata_round_trips(saved: CheckpointReader) -> None:
    assert saved.metadata == {"epoch": 3, "loss": 0.25, "tags": ["a", "b"], "nested": {"x": None}}
    assert saved.step == 0 and saved.world_size == 1
    assert isinstance(saved.time, datetime.datetime) and saved.time.tzinfo is not None


def test_names_and_info(saved: CheckpointReader) -> None:
    names = saved.names()
    assert names[: len(ARRAYS)] == list(ARRAYS)
    assert names[len(ARRAYS) :] == ["raw", "raw_empty", "raw_memoryview", "config", "none"]
    assert "structured" in saved and "nope" not in saved
    info = {e.name: e for e in saved.info()}
    assert info["float64_3d"].shape == (6, 5, 4)
    assert info["float64_3d"].dtype == np.float64
    assert info["structured"].dtype == ARRAYS["structured"].dtype
    assert info["zero_d"].shape == ()
    assert info["config"].kind == "object" and info["raw"].kind == "bytes"
    assert sum(e.size for e in info.values()) == saved.size


def test_load_all_matches_single_loads(saved: CheckpointReader) -> None:
    everything = saved.load_all()
    assert list(everything) == saved.names()
    for name, value in ARRAYS.items():
        assert_same_array(everything[name], np.asarray(value))
    assert everything["config"]["name"] == "net"
    assert everything["raw"] == b"\x00hello\xff"


def test_verify(saved: CheckpointReader) -> None:
    assert saved.verify() == saved.size


def test_context_managers_and_close(tmp_path: Path) -> None:
    uri = file_uri(tmp_path)
    with create_checkpoint_writer(uri) as writer:
        writer.save_array("a", np.arange(3))
    assert writer.info is not None and writer.info.step == 0
    with create_checkpoint_reader(uri) as reader:
        np.testing.assert_array_equal(reader.load_array("a"), np.arange(3))
    with pytest.raises(ValueError, match="closed"):
        reader.load_array("a")


def test_async_api(tmp_path: Path) -> None:
    uri = file_uri(tmp_path)

    async def main() -> None:
        async with create_checkpoint_writer(uri) as writer:
            await asyncio.gather(
                writer.save_array_async("a", np.arange(1000)),
                writer.save_array_async("b", np.ones((30, 30))),
                writer.save_bytes_async("c", b"xyz"),
                writer.save_object_async("d", {"k": 1}),
            )
        reader = await create_checkpoint_reader_async(uri)
        async with reader:
            assert sorted(reader.names()) == ["a", "b", "c", "d"]
            np.testing.assert_array_equal(await reader.load_array_async("a"), np.arange(1000))
            assert await reader.load_bytes_async("c") == b"xyz"
            assert await reader.load_object_async("d") == {"k": 1}
            assert (await reader.load_all_async())["b"].shape == (30, 30)

    asyncio.run(main())
    reader = create_checkpoint_reader(uri)
    assert reader.verify() == reader.size


def test_exported_from_s3dlio_checkpoint() -> None:
    import s3dlio.checkpoint as ck

    for name in ck.__all__:
        assert getattr(ck, name) is not None
    assert "S3dlioStorageWriter" not in ck.__all__  # lazy: a star import must not import torch
    with pytest.raises(AttributeError):
        ck.nothing_like_this  # noqa: B018


def test_multi_part_arrays_and_bytes(tmp_path: Path) -> None:
    """Entries larger than a part (8 MiB) are read back in concurrent ranges."""
    uri = file_uri(tmp_path)
    big = np.arange(5_000_000, dtype=np.float64)  # 40 MB
    blob = bytes(range(256)) * 100_000  # 25.6 MB
    view = np.arange(6_000_000, dtype=np.int32).reshape(3000, 2000)[:, ::2]  # non-contiguous, 12 MB
    with create_checkpoint_writer(uri) as writer:
        writer.save_array("big", big)
        writer.save_bytes("blob", blob)
        writer.save_array("view", view)
        writer.save_object("obj", list(range(1000)))
    reader = create_checkpoint_reader(uri)
    np.testing.assert_array_equal(reader.load_array("big"), big)
    assert reader.load_bytes("blob") == blob
    np.testing.assert_array_equal(reader.load_array("view"), view)
    everything = reader.load_all()
    np.testing.assert_array_equal(everything["big"], big)
    assert everything["blob"] == blob
    assert everything["obj"] == list(range(1000))
    assert reader.verify() == reader.size


class _RecordsThread:
    """Pickles and unpickles to itself, recording which thread did the work."""

    threads: list[int] = []  # noqa: RUF012  (a test recorder)

    def __init__(self, payload: bytes) -> None:
        self.payload = payload

    def __reduce__(self) -> Any:
        import threading

        _RecordsThread.threads.append(threading.get_ident())
        return (_RecordsThread, (self.payload,))


def test_pickling_runs_off_the_event_loop(tmp_path: Path) -> None:
    """save_object pickles in a worker thread: a slow pickle never stalls other transfers."""
    import threading

    uri = file_uri(tmp_path)

    async def main() -> int:
        async with create_checkpoint_writer(uri) as writer:
            await writer.save_object_async("o", _RecordsThread(b"x" * (2 << 20)))
        return threading.get_ident()

    loop_thread = asyncio.run(main())
    assert _RecordsThread.threads and loop_thread not in _RecordsThread.threads
    reader = create_checkpoint_reader(uri)
    assert reader.load_object("o").payload == b"x" * (2 << 20)
