"""The transfer engine's guarantees against real files and a real S3 server (no mocks).

* Structured concurrency: when a large read is cancelled or fails at any point, every part has
  finished before the call returns, so the caller's buffer is never written afterwards.
* Memory safety: a cancelled zero-copy read cannot write into memory reused by a new allocation
  (the first wave's forged ``bytes`` did, in 11 of 20 runs).
* One version per read: a read racing atomic overwrites returns exactly one of the versions.
* Exact lengths: a short range is an ``IntegrityError`` naming the URI.
"""

from __future__ import annotations

import _thread
import asyncio
import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import s3dlio
from s3dlio.stores.local import io_pool

MiB = 1024 * 1024
# Cancel points (seconds): before the first part, during the first parts, and mid-read.
CANCEL_POINTS = [0.0, 0.0005, 0.002, 0.005, 0.01, 0.02, 0.04]


@pytest.fixture(autouse=True)
def small_parts() -> Iterator[None]:
    s3dlio.configure(part_size=5 * MiB, range_get_threshold=5 * MiB, max_concurrency=8)
    yield
    s3dlio.reset_config()


def _drain_io() -> None:
    """Run a job on every I/O thread and wait: any pool job still running would finish first."""
    pool = io_pool()
    workers = pool._max_workers
    barrier = threading.Barrier(workers, timeout=30)
    for future in [pool.submit(barrier.wait) for _ in range(workers)]:
        future.result()


def _uris(tmp_path: Path, request: pytest.FixtureRequest, size: int) -> tuple[str, bytes]:
    data = np.random.default_rng(7).integers(0, 256, size, dtype=np.uint8).tobytes()
    scheme = request.param
    if scheme == "s3":
        request.getfixturevalue("s3_env")
        bucket = request.getfixturevalue("new_s3_bucket")
        uri = f"s3://{bucket}/big.bin"
    else:
        uri = f"{scheme}://{tmp_path}/big.bin"
    s3dlio.put_bytes(uri, data)
    return uri, data


@pytest.fixture(params=["file", "direct", "s3"])
def big_object(tmp_path: Path, request: pytest.FixtureRequest) -> tuple[str, bytes]:
    return _uris(tmp_path, request, 48 * MiB + 12345)


def _assert_untouched_after(sentinel: np.ndarray, uri: str) -> None:
    sentinel[:] = 0  # whatever the cancelled call wrote before it returned is irrelevant
    _drain_io()
    s3dlio.get_into(uri, np.empty(sentinel.nbytes, dtype=np.uint8))  # keeps the loop and pool busy
    assert not sentinel.any(), "a part wrote into the buffer after the call had returned"


@pytest.mark.parametrize("delay", CANCEL_POINTS)
def test_cancelled_get_into_never_writes_after_returning(big_object: tuple[str, bytes], delay: float) -> None:
    uri, data = big_object
    sentinel = np.zeros(len(data), dtype=np.uint8)

    async def cancel_after() -> None:
        task = asyncio.ensure_future(s3dlio.get_into_async(uri, sentinel))
        await asyncio.sleep(delay)  # the fault's time point, not synchronisation
        task.cancel()  # at the latest points the read may already have finished: also fine
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(cancel_after())
    _assert_untouched_after(sentinel, uri)


@pytest.mark.parametrize("delay", [0.0, 0.002, 0.01])
@pytest.mark.parametrize("zero_copy", [True, False], ids=["view", "bytes"])
def test_cancelled_get_does_not_write_into_reused_memory(
    big_object: tuple[str, bytes], delay: float, zero_copy: bool
) -> None:
    """Both results are filled in place (a view's array, a large ``bytes``): after a cancel,
    nothing writes into memory that the allocator hands out again."""
    uri, data = big_object

    async def cancel_after() -> None:
        task = asyncio.ensure_future(s3dlio.get_async(uri, zero_copy=zero_copy))
        await asyncio.sleep(delay)
        task.cancel()  # at the latest points the read may already have finished: also fine
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(cancel_after())
    reused = bytearray(len(data))  # the freed memory is likely handed out again here
    _drain_io()
    s3dlio.get(uri)
    assert not any(memoryview(reused).cast("B")[::4096]), "freed memory was written after the call"
    assert bytes(reused) == bytes(len(data))


def test_blocking_call_interrupted_waits_for_its_parts(big_object: tuple[str, bytes]) -> None:
    """A KeyboardInterrupt in a blocking call: the call returns only after every part stopped."""
    uri, data = big_object
    sentinel = np.zeros(len(data), dtype=np.uint8)

    def interrupt() -> None:
        _thread.interrupt_main()

    timer = threading.Timer(0.003, interrupt)
    timer.start()
    try:
        s3dlio.get_into(uri, sentinel)
    except KeyboardInterrupt:
        pass
    finally:
        timer.join()
    _assert_untouched_after(sentinel, uri)


@pytest.mark.parametrize("delay", [0.001, 0.005, 0.02])
def test_a_failing_part_cancels_and_awaits_the_others(big_object: tuple[str, bytes], delay: float) -> None:
    """The object disappears (s3) or is truncated in place (local) mid-read: an error, no late writes."""
    uri, data = big_object
    sentinel = np.zeros(len(data), dtype=np.uint8)

    async def fail_after() -> None:
        task = asyncio.ensure_future(s3dlio.get_into_async(uri, sentinel))
        await asyncio.sleep(delay)
        if uri.startswith("s3://"):
            await s3dlio.delete_async(uri)
        else:
            os.truncate(uri.split("://", 1)[1], 7 * MiB)  # same inode: the pinned fd sees it
        # an error is expected unless the read finished before the fault
        with contextlib.suppress(s3dlio.IntegrityError, s3dlio.NotFoundError):
            await task

    asyncio.run(fail_after())
    sentinel[:] = 0
    _drain_io()
    assert not sentinel.any()


# --- one version per read ---------------------------------------------------------------------
@pytest.fixture(params=["file", "s3"])
def racing_object(tmp_path: Path, request: pytest.FixtureRequest) -> tuple[str, bytes]:
    return _uris(tmp_path, request, 24 * MiB + 7)


def test_reads_racing_atomic_overwrites_see_one_version(racing_object: tuple[str, bytes]) -> None:
    uri, first = racing_object
    second = bytes(b ^ 0xFF for b in first[:4096]) * (len(first) // 4096) + first[: len(first) % 4096]
    assert len(second) == len(first)
    stop = threading.Event()

    def overwrite() -> None:
        while not stop.is_set():
            for version in (second, first):
                s3dlio.put_bytes(uri, version)

    writer = threading.Thread(target=overwrite)
    writer.start()
    try:
        outcomes = []
        for _ in range(12):
            try:
                data = s3dlio.get(uri)
            except s3dlio.IntegrityError as exc:  # replaced twice during one read: a clear error
                assert uri in str(exc)
                outcomes.append("changed")
                continue
            assert data in (first, second), "a read mixed two versions of the object"
            outcomes.append("ok")
    finally:
        stop.set()
        writer.join()
    assert "ok" in outcomes


# --- exact lengths ----------------------------------------------------------------------------
def test_range_past_a_truncated_file_is_an_integrity_error(tmp_path: Path) -> None:
    path = tmp_path / "t.bin"
    path.write_bytes(b"x" * 20000)
    for scheme in ("file", "direct"):
        store, key, _ = s3dlio.ops.resolve(f"{scheme}://{path}")
        with pytest.raises(s3dlio.IntegrityError, match=r"t\.bin"):
            asyncio.run(s3dlio.transfer.read_range_into(store, key, 10000, memoryview(bytearray(10001))))


def test_direct_reads_exact_lengths_at_unaligned_ends(tmp_path: Path) -> None:
    """direct:// must not take an unaligned partial read for the end of the file."""
    for size in (1, 4095, 4097, 5 * MiB + 1, 8 * MiB + 4096 * 3 + 17):
        data = os.urandom(size)
        (tmp_path / "d.bin").write_bytes(data)
        uri = f"direct://{tmp_path}/d.bin"
        assert s3dlio.get(uri) == data
        assert s3dlio.get_range(uri, 4093, 10000) == data[4093:14093]
        out = bytearray(size + 10)
        assert s3dlio.get_into(uri, out) == size
        assert out[:size] == data


@pytest.mark.parametrize("backend", ["file", "s3", "az"])
def test_a_range_pinned_to_a_gone_version_is_refused(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Every later range carries the first version (If-Match / the fd's identity): a stale one fails."""
    from s3dlio.stores.base import ObjectChangedError

    if backend == "s3":
        request.getfixturevalue("s3_env")
        uri = f"s3://{request.getfixturevalue('new_s3_bucket')}/p.bin"
    elif backend == "az":
        request.getfixturevalue("azure_env")
        uri = f"az://{request.getfixturevalue('new_azure_container')}/p.bin"
    else:
        uri = f"file://{tmp_path}/p.bin"
    s3dlio.put_bytes(uri, b"a" * 10000)
    store, key, _ = s3dlio.ops.resolve(uri)
    etag = s3dlio.stat(uri)["etag"]
    view = memoryview(bytearray(100))
    s3dlio._sync.run(store.read_into(key, 10, view, etag))  # the current version: fine
    assert bytes(view) == b"a" * 100
    s3dlio.put_bytes(uri, b"b" * 10000)  # replaced: the pinned version is gone
    with pytest.raises(ObjectChangedError, match=r"p\.bin"):
        s3dlio._sync.run(store.read_into(key, 10, view, etag))


@pytest.mark.parametrize("scheme", ["file", "direct"])
def test_a_short_range_body_is_an_integrity_error_not_a_short_result(scheme: str, tmp_path: Path) -> None:
    """The store delivers fewer bytes than the range asked for (the object shrank after its HEAD)."""
    (tmp_path / "short.bin").write_bytes(b"z" * 10000)
    store, key, _ = s3dlio.ops.resolve(f"{scheme}://{tmp_path}/short.bin")
    with pytest.raises(s3dlio.IntegrityError, match=r"short\.bin.*9000 of 12000"):
        asyncio.run(s3dlio.transfer.read_range(store, key, 1000, 13000))
