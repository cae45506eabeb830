"""The console script against SeaweedFS (S3) and Azurite (Azure Blob), and across backends."""

from __future__ import annotations

from pathlib import Path

from cli_helpers import Runner

import servers


def _write_tree(root: Path) -> dict[str, bytes]:
    files = {"a.txt": b"alpha" * 100, "b.bin": bytes(range(256)) * 40, "sub/c.txt": b"gamma", "sub/d/e": b""}
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return files


def _read_tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_s3_every_command(
    s3dlio_cli: Runner, s3_env: servers.S3Server, unique_bucket: str, tmp_path: Path
) -> None:
    bucket = f"s3://{unique_bucket}"
    assert s3dlio_cli("mb", bucket, "--json").json() == [{"action": "mb", "uri": bucket}]

    gen = s3dlio_cli("gen", f"{bucket}/gen/", "-n", "5", "-s", "3KiB", "--json").json()
    assert gen == [{"type": "summary", "prefix": f"{bucket}/gen/", "objects": 5, "bytes": 5 * 3072}]
    listed = s3dlio_cli("ls", f"{bucket}/gen/", "--json", "--summary").json()
    assert [r["key"] for r in listed[:-1]] == [f"gen/object_{i}" for i in range(5)]
    assert listed[-1]["objects"] == 5 and listed[-1]["bytes"] == 5 * 3072
    top = s3dlio_cli("ls", bucket, "--json").json()
    assert top == [{"type": "prefix", "uri": f"{bucket}/gen/", "key": "gen/"}]
    info = s3dlio_cli("stat", f"{bucket}/gen/object_3", "--json").json()[0]
    assert info["size"] == 3072 and info["etag"] and info["last_modified"]

    local = tmp_path / "local"
    files = _write_tree(local)
    s3dlio_cli("cp", "-r", str(local), f"{bucket}/up")
    assert {r["key"] for r in s3dlio_cli("ls", "-r", f"{bucket}/up", "--json").json()} == {
        f"up/{name}" for name in files
    }
    s3dlio_cli("cp", "-r", f"{bucket}/up", f"{bucket}/copy/")  # remote to remote
    s3dlio_cli("cp", "-r", f"{bucket}/copy", str(tmp_path / "back"))  # remote to local
    assert _read_tree(tmp_path / "back") == files
    s3dlio_cli("cp", f"{bucket}/up/b.bin", str(tmp_path / "one.bin"))
    assert (tmp_path / "one.bin").read_bytes() == files["b.bin"]
    assert s3dlio_cli("cat", f"{bucket}/up/a.txt").out == files["a.txt"].decode()

    # sync: a second run finds nothing to do; a change and a deletion are carried over
    assert s3dlio_cli("sync", str(local), f"{bucket}/mirror", "--json").json()[-1]["copied"] == 4
    assert s3dlio_cli("sync", str(local), f"{bucket}/mirror", "--json").json()[-1]["unchanged"] == 4
    (local / "a.txt").write_bytes(b"changed")
    (local / "sub" / "c.txt").unlink()
    summary = s3dlio_cli("sync", str(local), f"{bucket}/mirror", "--delete", "--json").json()[-1]
    assert (summary["copied"], summary["deleted"], summary["unchanged"]) == (1, 1, 2)
    assert s3dlio_cli("cat", f"{bucket}/mirror/a.txt").out == "changed"

    assert s3dlio_cli("rm", f"{bucket}/gen/object_0", "--json").json()[0]["deleted"] == 1
    assert s3dlio_cli("rm", "-r", f"{bucket}/gen", "--json").json()[0]["deleted"] == 4

    # a whole bucket: asks first; "no" keeps everything (exit 1), --yes empties it
    refused = s3dlio_cli("rm", "-r", bucket, stdin="n\n", rc=1)
    assert "Delete every object" in refused.err
    assert s3dlio_cli("ls", "-r", bucket, "--json", "--summary").json()[-1]["objects"] > 0
    s3dlio_cli("rm", "-r", bucket, stdin="y\n")
    s3dlio_cli("gen", f"{bucket}/again/", "-n", "2", "-s", "10")
    s3dlio_cli("rm", "-r", bucket, "--yes")
    assert s3dlio_cli("ls", "-r", bucket, "--json", "--summary").json() == [
        {"type": "summary", "uri": bucket, "objects": 0, "bytes": 0}
    ]
    assert s3dlio_cli("rb", bucket, "--json").json() == [{"action": "rb", "uri": bucket}]
    gone = s3dlio_cli("ls", bucket, rc=1)
    assert unique_bucket in gone.err and gone.err.count("\n") == 1


def test_s3_errors_name_the_uri(s3dlio_cli: Runner, s3_env: servers.S3Server, new_s3_bucket: str) -> None:
    missing = f"s3://{new_s3_bucket}/no/such/key"
    for command in ("stat", "cat", "rm"):
        result = s3dlio_cli(command, missing, rc=1)
        assert missing in result.err and result.err.count("\n") == 1 and "Traceback" not in result.err
    denied = s3dlio_cli("ls", f"s3://{new_s3_bucket}/", env={"AWS_SECRET_ACCESS_KEY": "wrong"}, rc=1)
    assert "access denied" in denied.err and denied.err.count("\n") == 1


def test_s3_bench_cleans_up(s3dlio_cli: Runner, s3_env: servers.S3Server, new_s3_bucket: str) -> None:
    args = ("bench", f"s3://{new_s3_bucket}/b", "-n", "10", "-s", "4KiB", "-c", "4", "--json")
    rows = s3dlio_cli(*args).json()
    assert [r["op"] for r in rows] == ["PUT", "GET", "STAT", "LIST", "DELETE"]
    assert all(r["requests"] == 10 and r["errors"] == 0 and r["p99_ms"] > 0 for r in rows)
    assert rows[1]["bytes"] == 10 * 4096 and rows[1]["mib_per_s"] > 0
    assert s3_env.list_keys(new_s3_bucket) == []


def test_azure_and_across_backends(
    s3dlio_cli: Runner,
    s3_env: servers.S3Server,
    azure_env: servers.AzureServer,
    new_s3_bucket: str,
    unique_bucket: str,
    tmp_path: Path,
) -> None:
    container = f"az://{unique_bucket}"
    s3dlio_cli("mb", container)
    files = _write_tree(tmp_path / "local")
    s3dlio_cli("cp", "-r", str(tmp_path / "local"), f"{container}/data")
    listed = s3dlio_cli("ls", "-r", f"{container}/data", "--json").json()
    assert {r["key"]: r["size"] for r in listed} == {f"data/{k}": len(v) for k, v in files.items()}
    assert s3dlio_cli("stat", f"{container}/data/a.txt", "--json").json()[0]["size"] == 500
    assert s3dlio_cli("cat", f"{container}/data/sub/c.txt").out == "gamma"

    # Azure -> S3 -> local, and the bytes survive
    s3dlio_cli("cp", "-r", f"{container}/data", f"s3://{new_s3_bucket}/from-az/")
    s3dlio_cli("sync", f"s3://{new_s3_bucket}/from-az", str(tmp_path / "round"))
    assert _read_tree(tmp_path / "round") == files
    gen = s3dlio_cli("gen", f"{container}/gen", "-n", "3", "-s", "1KiB", "-t", "npz", "--json").json()
    assert gen[0]["objects"] == 3
    assert s3dlio_cli("rm", "-r", f"{container}/data", "--json").json()[0]["deleted"] == len(files)
    s3dlio_cli("rm", "-r", container, "--yes")
    s3dlio_cli("rb", container)
    assert unique_bucket in s3dlio_cli("ls", container, rc=1).err
