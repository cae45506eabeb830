"""Every command on local files, through the real console script."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from cli_helpers import Runner

import s3dlio


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_gen_ls_stat_cat(s3dlio_cli: Runner, tmp_path: Path) -> None:
    summary = s3dlio_cli(
        "gen", str(tmp_path / "data"), "-n", "4", "-s", "2KiB", "-t", "random", "--seed", "7", "--json"
    ).json()
    assert summary == [{"type": "summary", "prefix": f"file://{tmp_path}/data", "objects": 4, "bytes": 8192}]
    assert sorted(_tree(tmp_path / "data")) == [f"object_{i}" for i in range(4)]

    listed = s3dlio_cli("ls", str(tmp_path / "data"), "--json", "--summary").json()
    assert [r["uri"] for r in listed[:-1]] == [f"file://{tmp_path}/data/object_{i}" for i in range(4)]
    assert all(r["type"] == "object" and r["size"] == 2048 and r["last_modified"] for r in listed[:-1])
    assert listed[-1] == {"type": "summary", "uri": f"file://{tmp_path}/data", "objects": 4, "bytes": 8192}

    plain = s3dlio_cli("ls", "-l", "--summary", f"file://{tmp_path}/data/").out.splitlines()
    assert plain[0].endswith(f"2.0 KiB  file://{tmp_path}/data/object_0")
    assert plain[-1] == "4 objects, 8.0 KiB (8192 bytes)"

    (tmp_path / "data" / "sub").mkdir()
    (tmp_path / "data" / "sub" / "x").write_bytes(b"x")
    level = s3dlio_cli("ls", str(tmp_path / "data"), "--json").json()
    assert [r["type"] for r in level] == ["object"] * 4 + ["prefix"]
    assert len(s3dlio_cli("ls", "-r", str(tmp_path / "data"), "--json").json()) == 5

    info = s3dlio_cli("stat", str(tmp_path / "data" / "object_1"), "--json").json()
    assert len(info) == 1 and info[0]["size"] == 2048 and info[0]["uri"] == f"file://{tmp_path}/data/object_1"
    assert "2048 (2.0 KiB)" in s3dlio_cli("stat", str(tmp_path / "data" / "object_1")).out


def test_cat_writes_the_exact_bytes(tmp_path: Path) -> None:
    import subprocess

    from cli_helpers import SCRIPT

    data = np.random.default_rng(3).integers(0, 256, 100_000, dtype=np.uint8).tobytes()
    (tmp_path / "blob").write_bytes(data)
    out = subprocess.run(
        [str(SCRIPT), "cat", str(tmp_path / "blob")], capture_output=True, check=True, timeout=60
    )
    assert out.stdout == data and out.stderr == b""


def test_cp_single_recursive_and_filters(s3dlio_cli: Runner, tmp_path: Path) -> None:
    src = tmp_path / "src"
    for name in ("a.txt", "b.bin", "dir/c.txt", "dir/d.bin"):
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_bytes(name.encode() * 10)
    s3dlio_cli("cp", str(src / "a.txt"), str(tmp_path / "one") + "/")
    assert (tmp_path / "one" / "a.txt").read_bytes() == b"a.txt" * 10
    s3dlio_cli("cp", str(src / "a.txt"), str(tmp_path / "renamed.txt"))
    assert (tmp_path / "renamed.txt").read_bytes() == b"a.txt" * 10

    records = s3dlio_cli("cp", "-r", str(src), str(tmp_path / "all"), "--json").json()
    assert _tree(tmp_path / "all") == _tree(src)
    assert records[-1] == {"type": "summary", "copied": 4, "bytes": sum(len(v) for v in _tree(src).values())}

    s3dlio_cli("cp", "-r", str(src), str(tmp_path / "txt"), "--include", "*.txt")
    assert sorted(_tree(tmp_path / "txt")) == ["a.txt", "dir/c.txt"]
    s3dlio_cli("cp", "-r", str(src), str(tmp_path / "nodir"), "--exclude", "dir/*")
    assert sorted(_tree(tmp_path / "nodir")) == ["a.txt", "b.bin"]
    s3dlio_cli("cp", "-r", str(src), str(tmp_path / "re"), "--regex", "--include", r"^dir/.*\.bin$")
    assert sorted(_tree(tmp_path / "re")) == ["dir/d.bin"]


def test_sync_copies_missing_and_changed_and_deletes(s3dlio_cli: Runner, tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    for i in range(3):
        (src / f"f{i}").write_bytes(b"v1" * (i + 1))
    first = s3dlio_cli("sync", str(src), str(dst), "--json").json()
    assert first[-1]["copied"] == 3 and _tree(dst) == _tree(src)
    again = s3dlio_cli("sync", str(src), str(dst), "--json").json()
    assert again == [
        {"type": "summary", "copied": 0, "deleted": 0, "unchanged": 3, "bytes": 0, "dry_run": False}
    ]

    (src / "f0").write_bytes(b"changed!")  # a new size
    (src / "f3").write_bytes(b"new")
    (dst / "extra").write_bytes(b"only here")
    plan = s3dlio_cli("sync", str(src), str(dst), "--delete", "--dry-run", "--json").json()
    assert {(r.get("action"), r.get("dst")) for r in plan[:-1]} == {
        ("copy", f"file://{dst}/f0"),
        ("copy", f"file://{dst}/f3"),
        ("delete", f"file://{dst}/extra"),
    }
    assert (dst / "extra").exists() and (dst / "f0").read_bytes() == b"v1"  # a dry run changes nothing
    text = s3dlio_cli("sync", str(src), str(dst), "--delete", "--dry-run").out
    assert f"delete file://{dst}/extra" in text

    s3dlio_cli("sync", str(src), str(dst), "--delete")
    assert _tree(dst) == _tree(src)


def test_rm_mb_rb(s3dlio_cli: Runner, tmp_path: Path) -> None:
    s3dlio_cli("mb", str(tmp_path / "made"))
    assert (tmp_path / "made").is_dir()
    s3dlio_cli("rb", str(tmp_path / "made"))
    assert not (tmp_path / "made").exists()

    s3dlio_cli("gen", str(tmp_path / "d"), "-n", "3", "-s", "10")
    assert s3dlio_cli("rm", str(tmp_path / "d" / "object_0"), "--json").json() == [
        {"action": "delete", "uri": f"file://{tmp_path}/d/object_0", "deleted": 1}
    ]
    assert s3dlio_cli("rm", "-r", str(tmp_path / "d"), "--json").json()[0]["deleted"] == 2
    assert not any((tmp_path / "d").rglob("*")) if (tmp_path / "d").exists() else True
    failed = s3dlio_cli("rm", "-r", "file:///", rc=2)
    assert "refusing" in failed.err


def test_errors_are_one_line_with_the_uri_and_exit_1(s3dlio_cli: Runner, tmp_path: Path) -> None:
    missing = f"file://{tmp_path}/nothing/here"
    for args in (("stat", missing), ("cat", missing), ("rm", missing), ("cp", missing, str(tmp_path / "x"))):
        result = s3dlio_cli(*args, rc=1)
        assert result.err.count("\n") == 1 and missing in result.err and "Traceback" not in result.err, result
        assert result.err.startswith("s3dlio: error: ")
    debug = s3dlio_cli("--debug", "stat", missing, rc=1)
    assert "Traceback" in debug.err and missing in debug.err


def test_usage_errors_exit_2(s3dlio_cli: Runner, tmp_path: Path) -> None:
    assert "Missing argument" in s3dlio_cli("cp", str(tmp_path), rc=2).err
    assert "No such command" in s3dlio_cli("frobnicate", rc=2).err
    bad_scheme = s3dlio_cli("ls", "nope://bucket/x", rc=2)
    assert "nope://bucket/x" in bad_scheme.err and bad_scheme.err.count("\n") == 1
    assert "not a size" in s3dlio_cli("gen", str(tmp_path / "g"), "-n", "1", "-s", "lots", rc=2).err
    assert "--duration or --count" in s3dlio_cli("bench", str(tmp_path), "-n", "1", "-d", "1s", rc=2).err
    assert s3dlio_cli("--version").out.startswith("s3dlio, version ")


def test_ckpt_ls_verify_rm(s3dlio_cli: Runner, tmp_path: Path) -> None:
    base = f"file://{tmp_path}/ckpt"
    store = s3dlio.CheckpointStore(base)
    for step in (10, 20, 30):
        store.save(step, {"w": np.arange(1000, dtype=np.float32) * step}, metadata={"loss": 1.0 / step})
    listed = s3dlio_cli("ckpt", "ls", base, "--json").json()
    assert [r["step"] for r in listed] == [10, 20, 30]
    assert listed[0]["metadata"] == {"loss": 0.1} and listed[0]["size"] >= 4000
    assert "30" in s3dlio_cli("ckpt", "ls", base).out

    ok = s3dlio_cli("ckpt", "verify", base, "--json").json()
    assert ok[0]["step"] == 30 and ok[0]["ok"] is True and ok[0]["bytes"] >= 4000
    assert s3dlio_cli("ckpt", "verify", base, "--step", "10", "--json").json()[0]["step"] == 10

    # corrupt one byte of step 20's shard: verify must fail with exit 1 and name it
    shard = next(p for p in (tmp_path / "ckpt" / "shards").rglob("*.bin") if "ckpt-20-" in str(p))
    data = bytearray(shard.read_bytes())
    data[-1] ^= 0xFF
    shard.write_bytes(bytes(data))
    failed = s3dlio_cli("ckpt", "verify", base, "--step", "20", rc=1)
    assert "checksum" in failed.err and failed.err.count("\n") == 1

    assert s3dlio_cli("ckpt", "rm", base, "--step", "20", "--json").json() == [
        {"action": "delete", "uri": base, "steps": [20]}
    ]
    assert s3dlio_cli("ckpt", "rm", base, "--keep-last", "1", "--json").json()[0]["steps"] == [10]
    assert [r["step"] for r in s3dlio_cli("ckpt", "ls", base, "--json").json()] == [30]
    s3dlio_cli("ckpt", "rm", base, rc=2)


def test_bench_local_reports_every_operation_and_cleans_up(s3dlio_cli: Runner, tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    rows = s3dlio_cli("bench", str(tmp_path / "b"), "-n", "12", "-s", "1KiB", "-c", "3", "--json").json()
    assert [r["op"] for r in rows] == ["PUT", "GET", "STAT", "LIST", "DELETE"]
    for row in rows:
        assert row["requests"] == 12 and row["errors"] == 0, row
        assert 0 < row["p50_ms"] <= row["p90_ms"] <= row["p99_ms"] and row["requests_per_s"] > 0
    assert rows[0]["bytes"] == rows[1]["bytes"] == 12 * 1024
    assert not any(p.is_file() for p in (tmp_path / "b").rglob("*"))

    mixed = s3dlio_cli(
        "bench", str(tmp_path / "b"), "--op", "mixed", "-n", "40", "--objects", "8", "-s", "100", "--json"
    ).json()
    assert {r["op"] for r in mixed} == {"GET", "STAT", "PUT", "DELETE"}
    assert sum(r["requests"] for r in mixed) == 40
    table = s3dlio_cli("bench", str(tmp_path / "b"), "--op", "put", "-d", "0.2s", "-s", "100").out
    assert "PUT" in table and "p99 ms" in table
    assert not any(p.is_file() for p in (tmp_path / "b").rglob("*"))


def test_ls_of_one_object_and_a_closed_pipe(s3dlio_cli: Runner, tmp_path: Path) -> None:
    import subprocess

    from cli_helpers import SCRIPT

    s3dlio_cli("gen", str(tmp_path / "d"), "-n", "3000", "-s", "1")  # more than a pipe holds
    one = s3dlio_cli("ls", str(tmp_path / "d" / "object_7"), "--json").json()
    assert [(r["type"], r["size"]) for r in one] == [("object", 1)]
    assert s3dlio_cli("ls", str(tmp_path / "d" / "nothing")).out == ""
    # `s3dlio ls | head -1`: the reader goes away; no error message, exit 141 (SIGPIPE's code)
    ls = subprocess.Popen(
        [str(SCRIPT), "ls", str(tmp_path / "d")], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert ls.stdout is not None and ls.stderr is not None
    assert ls.stdout.readline().decode().startswith("file://")
    ls.stdout.close()
    assert ls.wait(timeout=60) == 141 and ls.stderr.read() == b""


def test_an_unwritable_op_log_is_a_usage_error(s3dlio_cli: Runner, tmp_path: Path) -> None:
    bad = s3dlio_cli("--op-log", str(tmp_path / "no" / "dir" / "ops.tsv.zst"), "ls", str(tmp_path), rc=2)
    assert "cannot be written" in bad.err and bad.err.count("\n") == 1
