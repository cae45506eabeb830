"""Reading and checking op-logs in tests: warp's 13 columns, one well-formed row per request."""

from __future__ import annotations

import calendar
import re
import time
from pathlib import Path

import zstandard

WARP_COLUMNS = [
    "idx", "thread", "op", "client_id", "n_objects", "bytes", "endpoint", "file", "error",
    "start", "first_byte", "end", "duration_ns",
]  # fmt: skip
_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{9})Z$")


def read_log(path: Path) -> list[dict[str, str]]:
    """The rows of a zstd-compressed TSV op-log (its header must be warp's)."""
    lines = zstandard.ZstdDecompressor().stream_reader(path.read_bytes()).read().decode().splitlines()
    assert lines[0].split("\t") == WARP_COLUMNS
    return [dict(zip(WARP_COLUMNS, line.split("\t"), strict=True)) for line in lines[1:]]


def ns(text: str) -> int:
    """An RFC 3339 UTC timestamp with nanoseconds, as integer nanoseconds."""
    match = _TIME.match(text)
    assert match, text
    return calendar.timegm(time.strptime(match.group(1), "%Y-%m-%dT%H:%M:%S")) * 10**9 + int(match.group(2))


def check_rows(rows: list[dict[str, str]]) -> None:
    """Every row well formed: consecutive idx, ints, RFC 3339 times, duration = end - start."""
    for index, row in enumerate(rows):
        assert int(row["idx"]) == index
        assert int(row["thread"]) > 0 and int(row["n_objects"]) >= 0 and int(row["bytes"]) >= 0
        start, end = ns(row["start"]), ns(row["end"])
        assert int(row["duration_ns"]) == end - start >= 0
        if row["first_byte"]:
            assert start <= ns(row["first_byte"]) <= end
