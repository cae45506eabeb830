"""The blocking get() and put_bytes() of a small local file run in the calling thread, and stay
the same calls: same results, errors, metrics rows and Client binding as the loop's."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

import s3dlio
from s3dlio import metrics


@pytest.fixture
def reads_by_thread() -> list[tuple[int, str, int, int, bool]]:
    seen: list[tuple[int, str, int, int, bool]] = []

    def sink(backend: str, op: str, objects: int, nbytes: int, seconds: float, error: object) -> None:
        if backend in ("file", "direct"):  # not a straggler of an earlier test on another backend
            seen.append((threading.get_ident(), op, objects, nbytes, error is not None))

    metrics.add_sink(sink)
    yield seen
    metrics.remove_sink(sink)


@pytest.mark.parametrize("scheme", ["file", "direct"])
def test_small_local_get_runs_in_the_calling_thread(
    tmp_path: Path, scheme: str, reads_by_thread: list[tuple[int, str, int, int, bool]]
) -> None:
    data = os.urandom(5000)
    (tmp_path / "f").write_bytes(data)
    uri = f"{scheme}://{tmp_path}/f"
    assert s3dlio.get(uri) == data and type(s3dlio.get(uri)) is bytes
    view = s3dlio.get(uri, zero_copy=True)
    assert isinstance(view, s3dlio.BytesView) and view == data
    me = threading.get_ident()
    assert reads_by_thread == [(me, "GET", 1, 5000, False)] * 3


def test_missing_file_and_directory_fail_the_same_way(
    tmp_path: Path, reads_by_thread: list[tuple[int, str, int, int, bool]]
) -> None:
    with pytest.raises(s3dlio.NotFoundError, match="nope"):
        s3dlio.get(f"file://{tmp_path}/nope")
    assert reads_by_thread == [(threading.get_ident(), "GET", 1, 0, True)]
    with pytest.raises(s3dlio.InvalidUriError):
        s3dlio.get(f"file://{tmp_path}/")


def test_files_above_the_threshold_are_read_on_the_loop(
    tmp_path: Path, reads_by_thread: list[tuple[int, str, int, int, bool]]
) -> None:
    big = os.urandom(6 * 1024 * 1024)
    (tmp_path / "big").write_bytes(big)
    uri = f"file://{tmp_path}/big"
    client = s3dlio.Client(range_get_threshold=5 * 1024 * 1024, part_size=5 * 1024 * 1024)
    assert client.get(uri) == big  # above the bound client's threshold: parallel ranges, on the loop
    assert s3dlio.get(uri) == big  # under the default threshold: in this thread
    me = threading.get_ident()
    assert [(thread == me, row) for thread, *row in reads_by_thread] == [
        (False, ["GET", 1, len(big), False]),
        (True, ["GET", 1, len(big), False]),
    ]


@pytest.mark.parametrize("scheme", ["file", "direct"])
def test_local_put_bytes_runs_in_the_calling_thread(
    tmp_path: Path, scheme: str, reads_by_thread: list[tuple[int, str, int, int, bool]]
) -> None:
    data = os.urandom(5000)
    assert s3dlio.put_bytes(f"{scheme}://{tmp_path}/sub/f", data) is None
    assert (tmp_path / "sub" / "f").read_bytes() == data
    assert not [p for p in (tmp_path / "sub").iterdir() if p.name != "f"]  # no temporary left
    with pytest.raises(s3dlio.S3dlioError, match="f/g"):
        s3dlio.put_bytes(f"{scheme}://{tmp_path}/sub/f/g", b"x")  # a file where a directory must be
    me = threading.get_ident()
    assert reads_by_thread == [(me, "PUT", 1, 5000, False), (me, "PUT", 1, 0, True)]


def test_local_stat_and_exists_run_in_the_calling_thread(
    tmp_path: Path, reads_by_thread: list[tuple[int, str, int, int, bool]]
) -> None:
    (tmp_path / "f.json").write_bytes(b"{}")
    stat = s3dlio.stat(f"file://{tmp_path}/f.json")
    assert (stat["size"], stat["content_type"], stat["uri"]) == (
        2,
        "application/json",
        f"file://{tmp_path}/f.json",
    )
    assert s3dlio.exists(f"file://{tmp_path}/f.json") is True
    assert s3dlio.exists(f"file://{tmp_path}/nope") is False
    with pytest.raises(s3dlio.NotFoundError, match="nope"):
        s3dlio.stat(f"file://{tmp_path}/nope")
    with pytest.raises(s3dlio.NotFoundError):
        s3dlio.stat(f"file://{tmp_path}")  # a directory is not an object, as on the loop
    me = threading.get_ident()
    assert [row for row in reads_by_thread if row[0] == me] == [
        (me, "STAT", 1, 0, False),
        (me, "STAT", 1, 0, False),
        (me, "STAT", 1, 0, True),
        (me, "STAT", 1, 0, True),
        (me, "STAT", 1, 0, True),
    ]
