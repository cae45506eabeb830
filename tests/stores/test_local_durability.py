"""Local writes: atomic by rename always; flushed to the device with ``configure(fsync=True)``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import s3dlio
from s3dlio.stores import local


@pytest.fixture
def fsync_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    calls: list[int] = []
    real_fsync = os.fsync

    def counting_fsync(fd: int) -> None:
        calls.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(local.os, "fsync", counting_fsync)
    yield calls
    s3dlio.reset_config()


@pytest.mark.parametrize("scheme", ["file", "direct"])
def test_no_fsync_by_default(tmp_path: Path, fsync_calls: list[int], scheme: str) -> None:
    s3dlio.put_bytes(f"{scheme}://{tmp_path}/a", b"1")
    assert fsync_calls == []


@pytest.mark.parametrize("scheme", ["file", "direct"])
def test_fsync_flushes_file_and_directory(tmp_path: Path, fsync_calls: list[int], scheme: str) -> None:
    s3dlio.configure(fsync=True)
    s3dlio.put_bytes(f"{scheme}://{tmp_path}/a", b"1" * 5000)
    assert len(fsync_calls) == 2  # the data, then the directory entry of the rename
    with s3dlio.open_writer(f"{scheme}://{tmp_path}/b") as writer:
        writer.write(b"2" * 7000)
    assert len(fsync_calls) == 4
    s3dlio.put(f"{scheme}://{tmp_path}/gen/", 3, "g_{}", object_type="random", size=1000, seed=1)
    assert len(fsync_calls) == 10
    assert (tmp_path / "a").read_bytes() == b"1" * 5000
    assert (tmp_path / "b").read_bytes() == b"2" * 7000


def test_fsync_must_be_a_bool() -> None:
    with pytest.raises(s3dlio.ConfigError, match="fsync"):
        s3dlio.configure(fsync="yes")
