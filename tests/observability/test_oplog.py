"""The op-log: warp's columns, one valid row per request, lossless under a tiny queue."""

from __future__ import annotations

import datetime
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import s3dlio
from oplog_rows import check_rows, ns, read_log
from s3dlio import oplog


@pytest.fixture
def op_log(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "ops.tsv.zst"
    s3dlio.configure(op_log=str(path))
    try:
        yield path
    finally:
        s3dlio.configure(op_log=None)
        s3dlio.finalize_op_log()


def test_configure_op_log_records_every_request(tmp_path: Path, op_log: Path) -> None:
    base = f"file://{tmp_path}/data"
    assert s3dlio.is_op_log_active()
    s3dlio.put_bytes(f"{base}/a", b"a" * 1000)
    s3dlio.get(f"{base}/a")
    s3dlio.get_range(f"{base}/a", 10, 90)  # 90 bytes: a STAT for the size, then a ranged GET
    s3dlio.list(base)
    with pytest.raises(FileNotFoundError):
        s3dlio.get(f"{base}/missing")
    s3dlio.delete(f"{base}/a")
    s3dlio.finalize_op_log()
    rows = read_log(op_log)
    check_rows(rows)
    assert [(r["op"], r["n_objects"], r["bytes"]) for r in rows] == [
        ("PUT", "1", "1000"), ("GET", "1", "1000"), ("STAT", "1", "0"), ("GET", "1", "90"),
        ("LIST", "1", "0"), ("GET", "1", "0"), ("DELETE", "1", "0"),
    ]  # fmt: skip
    assert all(r["endpoint"] == "file://" for r in rows)
    assert rows[0]["file"] == f"{tmp_path}/data/a" and rows[4]["file"] == f"{tmp_path}/data"
    assert rows[5]["error"].startswith("NotFoundError: ") and f"{base}/missing" in rows[5]["error"]
    assert [r["error"] for i, r in enumerate(rows) if i != 5] == [""] * 6
    assert rows[0]["first_byte"] == rows[0]["start"]  # PUT: first byte sent at the start
    assert rows[1]["first_byte"] == rows[1]["end"] and rows[2]["first_byte"] == ""


def test_env_variable_turns_it_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "env.tsv.zst"
    monkeypatch.setenv("S3DLIO_OP_LOG", str(path))
    try:
        s3dlio.put_bytes(f"file://{tmp_path}/e", b"1")
    finally:
        monkeypatch.delenv("S3DLIO_OP_LOG")
        s3dlio.finalize_op_log()
    assert [r["op"] for r in read_log(path)] == ["PUT"]


def test_init_op_log_the_originals_names(tmp_path: Path) -> None:
    path = tmp_path / "init.tsv.zst"
    oplog.set_client_id("agent-7")
    try:
        s3dlio.init_op_log(path)
        assert s3dlio.is_op_log_active()
        s3dlio.put_bytes(f"file://{tmp_path}/i", b"22")
        s3dlio.finalize_op_log()
    finally:
        oplog.set_client_id("")
    assert not s3dlio.is_op_log_active()
    rows = read_log(path)
    assert [(r["op"], r["client_id"], r["bytes"]) for r in rows] == [("PUT", "agent-7", "2")]


def test_bounded_queue_loses_nothing(tmp_path: Path) -> None:
    log = oplog.OpLog(str(tmp_path / "small.tsv.zst"), max_pending=4)
    threads = [
        threading.Thread(
            target=lambda t=t: [
                log.record(("GET", t + 1, 1, i, "s3", "b", f"k\t{i}", None, 10**18 + i, 10**18 + 2 * i))
                for i in range(500)
            ]
        )
        for t in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    log.close()
    rows = read_log(tmp_path / "small.tsv.zst")
    check_rows(rows)
    assert len(rows) == 2000 and sorted(int(r["thread"]) for r in rows) == sorted([1, 2, 3, 4] * 500)
    assert all("\t" not in r["file"] and r["file"].startswith("b/k ") for r in rows)  # tabs escaped


def _rfc3339(ns: int) -> str:
    """The expected text of a time, worked out without numpy (and so without the op-log's code)."""
    seconds, nanos = divmod(ns, 10**9)
    whole = datetime.datetime(1970, 1, 1) + datetime.timedelta(seconds=seconds)
    return f"{whole:%Y-%m-%dT%H:%M:%S}.{nanos:09d}Z"


# (start, end) in ns: second and day boundaries, a leap day, 1 ns and 999,999,999 ns fractions
_TIMES = [
    (10**18, 10**18 + 5),  # 2001-09-09T01:46:40.000000000Z
    (0, 1),
    (999_999_999, 10**9),
    (1_709_251_199_999_999_999, 1_709_251_200_000_000_001),  # 2024-02-29 into 2024-03-01
    (1_764_745_472_123_456_789, 1_764_745_472_123_456_789),
    (1_764_745_472_000_000_001, 1_764_745_479_100_000_000),
    (1_700_000_000_000_000_010, 1_700_000_000_000_000_009),  # the wall clock stepped back
]


def test_times_are_rfc3339_utc_with_nanoseconds(tmp_path: Path) -> None:
    path = tmp_path / "times.tsv.zst"
    log = oplog.OpLog(str(path))
    log.client_id = "c1"
    ops = ["GET", "PUT", "STAT", "LIST"]
    for i, (start, end) in enumerate(_TIMES * 3):  # mixed ops, stores, threads and an error
        error = OSError("disk\tfull") if i == 9 else None
        store = ("s3", "bucket") if i % 3 else ("file", "")
        log.record((ops[i % 4], 100 + i % 2, 1, 4096, *store, f"dir/key-{i}", error, start, end))
    log.close()
    rows = read_log(path)
    assert len(rows) == 3 * len(_TIMES)
    line = "\t".join(rows[0][column] for column in oplog.COLUMNS)
    assert line == (
        "0\t1\tGET\tc1\t1\t4096\tfile://\t/dir/key-0\t\t2001-09-09T01:46:40.000000000Z\t"
        "2001-09-09T01:46:40.000000005Z\t2001-09-09T01:46:40.000000005Z\t5"
    )
    for i, (row, (start, end)) in enumerate(zip(rows, _TIMES * 3, strict=True)):
        assert (row["start"], row["end"]) == (_rfc3339(start), _rfc3339(end))
        assert (ns(row["start"]), ns(row["end"])) == (start, end)
        assert row["duration_ns"] == str(end - start)
        expected_first = {"GET": row["end"], "PUT": row["start"]}.get(row["op"], "") if i != 9 else ""
        assert row["first_byte"] == expected_first
    assert rows[9]["error"] == "OSError: disk full"
    assert rows[4]["start"] == "2025-12-03T07:04:32.123456789Z"
    assert rows[3]["start"] == "2024-02-29T23:59:59.999999999Z"
    assert rows[3]["end"] == "2024-03-01T00:00:00.000000001Z"


_FORK_SCRIPT = """
import os, sys
import s3dlio
root = sys.argv[1]
s3dlio.configure(op_log=root + "/ops.tsv.zst")
s3dlio.put_bytes(f"file://{root}/parent", b"p")
pid = os.fork()
if pid == 0:  # the child: one request, then finish its own log and leave
    s3dlio.put_bytes(f"file://{root}/child", b"cc")
    s3dlio.finalize_op_log()
    os._exit(0)
_, status = os.waitpid(pid, 0)
s3dlio.finalize_op_log()
print(pid, os.waitstatus_to_exitcode(status))
"""


def test_a_forked_child_writes_its_own_file(tmp_path: Path) -> None:
    import subprocess
    import sys

    # in a fresh interpreter: this test process may hold threads (JAX's) that make fork unsafe
    done = subprocess.run(
        [sys.executable, "-c", _FORK_SCRIPT, str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    pid, child_status = done.stdout.split()
    assert child_status == "0"
    assert [r["bytes"] for r in read_log(tmp_path / "ops.tsv.zst")] == ["1"]
    assert [r["bytes"] for r in read_log(tmp_path / f"ops.{pid}.tsv.zst")] == ["2"]


def test_a_write_failure_is_raised_not_swallowed() -> None:
    log = oplog.OpLog("/dev/full")  # every write fails with ENOSPC
    for i in range(5000):
        log.record(("PUT", 1, 1, 10, "s3", "b", f"k{i}", None, 10**18, 10**18 + 5))
    with pytest.raises(OSError, match="/dev/full could not be written"):
        log.close()


def test_an_unwritable_op_log_path_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "no" / "such" / "dir" / "ops.tsv.zst"
    s3dlio.configure(op_log=str(bad))
    try:
        with pytest.raises(s3dlio.ConfigError, match="cannot be written"):
            s3dlio.put_bytes(f"file://{tmp_path}/x", b"1")
    finally:
        s3dlio.configure(op_log=None)
    assert not (tmp_path / "x").exists()  # refused before any I/O
