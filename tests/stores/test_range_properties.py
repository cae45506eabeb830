"""Property tests (hypothesis): ``get_range`` is slicing, on local files and on S3, through the
public API; and a download split into parallel ranges reassembles every byte exactly.

Sizes straddle the interesting edges: empty objects, one byte, the 1 MiB "small body" cut-off,
and (for splitting) the part boundaries.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import s3dlio

MiB = 1024 * 1024
SIZES = (0, 1, 4095, 4096, 4097, MiB - 1, MiB, MiB + 1, 3 * MiB + 17)


def _payload(size: int) -> bytes:
    return np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8).tobytes()


@pytest.fixture(params=["file", "s3"])
def root(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "file":
        yield f"file://{tmp_path}/"
    else:
        request.getfixturevalue("s3_env")
        yield f"s3://{request.getfixturevalue('new_s3_bucket')}/"


def test_get_range_is_slicing(root: str) -> None:
    objects = {size: _payload(size) for size in SIZES}
    s3dlio.put_many([(f"{root}{size}.bin", data) for size, data in objects.items()])

    @settings(max_examples=80, deadline=None, derandomize=True)
    @given(
        size=st.sampled_from(SIZES),
        offset=st.integers(0, 4 * MiB),
        length=st.none() | st.integers(0, 4 * MiB),
        near=st.booleans(),
    )
    def check(size: int, offset: int, length: int | None, near: bool) -> None:
        if near:  # most bugs live right around the end of the object
            offset = max(0, size - offset % 9)
        data = objects[size]
        expected = data[offset:] if length is None else data[offset : offset + length]
        got = s3dlio.get_range(f"{root}{size}.bin", offset, length)
        assert bytes(got) == expected, (size, offset, length)

    check()


def test_negative_offsets_and_lengths_are_refused(root: str) -> None:
    uri = f"{root}x.bin"
    s3dlio.put_bytes(uri, b"0123456789")

    @settings(max_examples=25, deadline=None, derandomize=True)
    @given(offset=st.integers(-(2**40), 10), length=st.integers(-(2**40), 10))
    def check(offset: int, length: int) -> None:
        if offset >= 0 and length >= 0:
            assert bytes(s3dlio.get_range(uri, offset, length)) == b"0123456789"[offset : offset + length]
            return
        with pytest.raises(ValueError, match="must be >= 0"):
            s3dlio.get_range(uri, offset, length)

    check()


def test_split_downloads_reassemble_exactly(s3_env: object, new_s3_bucket: str) -> None:
    """Objects above ``range_get_threshold`` come back as parallel ranges of ``part_size``: every
    size around the part boundaries must reassemble to the exact bytes (no gap, no overlap)."""
    part = 5 * MiB  # the smallest part S3 allows
    s3dlio.configure(part_size=part, range_get_threshold=part, max_concurrency=4)
    try:

        @settings(max_examples=6, deadline=None, derandomize=True)
        @given(parts=st.integers(1, 3), delta=st.integers(-2, 2))
        def check(parts: int, delta: int) -> None:
            size = parts * part + delta
            data = _payload(size)
            uri = f"s3://{new_s3_bucket}/split-{size}.bin"
            s3dlio.put_bytes(uri, data)
            assert bytes(s3dlio.get(uri)) == data
            assert bytes(s3dlio.get_range(uri, part - 3, part + 6)) == data[part - 3 : 2 * part + 3]

        check()
    finally:
        s3dlio.reset_config()
