"""``--op-log`` / ``S3DLIO_OP_LOG`` through the console script: one valid row per request."""

from __future__ import annotations

from pathlib import Path

from cli_helpers import Runner

import servers
from oplog_rows import check_rows, read_log


def test_op_log_rows_match_the_requests(
    s3dlio_cli: Runner, s3_env: servers.S3Server, new_s3_bucket: str, tmp_path: Path
) -> None:
    prefix = f"s3://{new_s3_bucket}/p"
    s3dlio_cli("--op-log", str(tmp_path / "gen.tsv.zst"), "gen", prefix, "-n", "5", "-s", "1000", "-q")
    rows = read_log(tmp_path / "gen.tsv.zst")
    check_rows(rows)
    assert sorted((r["op"], r["n_objects"], r["bytes"], r["file"], r["error"]) for r in rows) == [
        ("PUT", "1", "1000", f"{new_s3_bucket}/p/object_{i}", "") for i in range(5)
    ]
    assert {r["endpoint"] for r in rows} == {f"s3://{new_s3_bucket}"}

    s3dlio_cli("ls", prefix, env={"S3DLIO_OP_LOG": str(tmp_path / "ls.tsv.zst")})
    rows = read_log(tmp_path / "ls.tsv.zst")
    check_rows(rows)
    assert [(r["op"], r["n_objects"]) for r in rows] == [("LIST", "5")]

    s3dlio_cli("stat", f"{prefix}/missing", "--op-log", str(tmp_path / "err.tsv.zst"), rc=1)
    rows = read_log(tmp_path / "err.tsv.zst")
    check_rows(rows)
    assert [r["op"] for r in rows] == ["STAT"] and rows[0]["error"].startswith("NotFoundError: ")

    # bench: one row per timed request, plus the clean-up's listing and batched delete
    report = s3dlio_cli("bench", prefix, "--op", "put", "--op", "get", "-n", "6", "-s", "2KiB", "--json",
                        "--op-log", str(tmp_path / "bench.tsv.zst")).json()  # fmt: skip
    rows = read_log(tmp_path / "bench.tsv.zst")
    check_rows(rows)
    ops = [r["op"] for r in rows]
    assert ops.count("PUT") == report[0]["requests"] == 6 and ops.count("GET") == report[1]["requests"] == 6
    assert ops[12:] == ["LIST", "DELETE"] and rows[13]["n_objects"] == "6"
    assert sum(int(r["bytes"]) for r in rows if r["op"] == "GET") == report[1]["bytes"] == 6 * 2048
