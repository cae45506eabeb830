"""direct:// falls back to buffered I/O, with one warning, where O_DIRECT is refused."""

from __future__ import annotations

import errno
import os
import warnings
from pathlib import Path
from typing import Any

import pytest

import s3dlio
from s3dlio.stores import direct


@pytest.fixture
def refuse_o_direct(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the filesystem behave like one without O_DIRECT support (EINVAL on open)."""
    real_open = os.open

    def fake_open(path: Any, flags: int, mode: int = 0o777, **kwargs: Any) -> int:
        if flags & os.O_DIRECT:
            raise OSError(errno.EINVAL, "Invalid argument", path)
        return real_open(path, flags, mode, **kwargs)

    monkeypatch.setattr(direct.os, "open", fake_open)
    monkeypatch.setattr(direct, "_warned", False)


def test_fallback_warns_once_and_still_works(tmp_path: Path, refuse_o_direct: None) -> None:
    root = f"direct://{tmp_path}/"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        s3dlio.put_bytes(root + "a", b"x" * 5000)
        s3dlio.put_bytes(root + "b", b"y" * 10)
        assert s3dlio.get(root + "a") == b"x" * 5000
        assert s3dlio.get_range(root + "a", 4095, 3) == b"xxx"
    fallback = [w for w in caught if issubclass(w.category, s3dlio.DirectIOFallbackWarning)]
    assert len(fallback) == 1
    assert "O_DIRECT" in str(fallback[0].message)


@pytest.mark.parametrize("size", [0, 1, 4095, 4096, 4097, 3 * 4096 + 17, 9 * 1024 * 1024 + 3])
def test_unaligned_sizes_round_trip_with_o_direct(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    uri = f"direct://{tmp_path}/f.bin"
    s3dlio.put_bytes(uri, data)
    assert (tmp_path / "f.bin").stat().st_size == size  # the padded tail was truncated away
    assert s3dlio.get(uri) == data
    if size > 10:
        assert s3dlio.get_range(uri, size - 10, 100) == data[-10:]
        assert s3dlio.get_range(uri, 1, 4096) == data[1:4097]
    with s3dlio.open_writer(uri + ".stream") as writer:
        for start in range(0, size, 1000):
            writer.write(data[start : start + 1000])
    assert s3dlio.get(uri + ".stream") == data
