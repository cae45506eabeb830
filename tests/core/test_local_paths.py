"""Local paths are input: normalised once when a URI is parsed, and never allowed to reach a root.

Each destructive call below first asserts what parsing made of its URI, so that a regression in
the normalisation fails the test *before* a recursive delete could walk a real directory tree.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import s3dlio
from s3dlio import InvalidUriError, parse_uri


@pytest.mark.parametrize("scheme", ["file", "direct"])
@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("/tmp/data/x", "tmp/data/x"),
        ("/tmp//data///x", "tmp/data/x"),
        ("/tmp/./data/./x", "tmp/data/x"),
        ("/tmp/data/", "tmp/data/"),
        ("/tmp/data/.", "tmp/data/"),
        ("/.", ""),
        ("/./", ""),
        ("//", ""),
        ("/", ""),
    ],
)
def test_local_paths_are_normalised(scheme: str, path: str, key: str) -> None:
    assert parse_uri(f"{scheme}://{path}").key == key


@pytest.mark.parametrize("scheme", ["file", "direct"])
@pytest.mark.parametrize("path", ["/tmp/..", "/tmp/../etc", "/..", "/a/b/../../..", "/d/a/../b.bin"])
def test_parent_segments_are_rejected(scheme: str, path: str) -> None:
    uri = f"{scheme}://{path}"
    with pytest.raises(InvalidUriError, match=r"'\.\.'") as info:
        parse_uri(uri)
    assert info.value.uri == uri
    assert repr(uri) in str(info.value)


def test_nul_bytes_are_rejected() -> None:
    with pytest.raises(InvalidUriError, match="NUL"):
        parse_uri("file:///tmp/a\x00b")


def test_object_keys_are_not_rewritten() -> None:
    """S3/Azure/GCS keys are opaque names: '.', '..' and '//' are legal characters there."""
    assert parse_uri("s3://bucket/a/../b//c/./d").key == "a/../b//c/./d"


@pytest.mark.parametrize("uri", ["file:///.", "file:///./", "file:///", "file://///", "direct:///."])
def test_recursive_delete_of_the_filesystem_root_is_refused(uri: str) -> None:
    assert parse_uri(uri).key == ""  # guard: never reach the delete if this regresses
    with pytest.raises(ValueError, match="refusing a recursive delete"):
        s3dlio.delete(uri, recursive=True)
    with pytest.raises(ValueError, match="refusing a recursive delete"):
        s3dlio.delete(uri, recursive=True, allow_root=True)  # a filesystem root, never


@pytest.mark.parametrize("uri", ["file:///tmp/..", "file:///tmp/../", "direct:///var/tmp/../.."])
def test_recursive_delete_through_parent_segments_is_refused(uri: str) -> None:
    with pytest.raises(InvalidUriError):
        parse_uri(uri)  # guard, as above
    with pytest.raises(InvalidUriError):
        s3dlio.delete(uri, recursive=True)


def test_put_with_parent_segment_creates_nothing(tmp_path: Path) -> None:
    """Rejected at parsing, so not even the intermediate directory ``d/a`` is created."""
    with pytest.raises(InvalidUriError):
        s3dlio.put_bytes(f"file://{tmp_path}/d/a/../b.bin", b"x")
    assert list(tmp_path.iterdir()) == []


def test_normalised_local_uri_reads_the_same_file(tmp_path: Path) -> None:
    s3dlio.put_bytes(f"file://{tmp_path}//sub/./f.bin", b"payload")
    assert (tmp_path / "sub" / "f.bin").read_bytes() == b"payload"
    assert s3dlio.get(f"file://{tmp_path}/./sub//f.bin") == b"payload"


def test_recursive_delete_of_a_directory_still_works(tmp_path: Path) -> None:
    for name in ("a", "b/c"):
        s3dlio.put_bytes(f"file://{tmp_path}/tree/{name}", b"1")
    assert s3dlio.delete(f"file://{tmp_path}/./tree/.", recursive=True) == 2
    assert not (tmp_path / "tree").exists() or list((tmp_path / "tree").rglob("*")) == []


# --- download() never writes outside local_dir ---------------------------------------------------
@pytest.mark.parametrize(
    "key",
    ["data/../../escape.bin", "data/../escape.bin", "data/a/../../../escape.bin", "data/./x/../../../e"],
)
def test_download_target_refuses_keys_that_climb(tmp_path: Path, key: str) -> None:
    from s3dlio.ops import download_target

    with pytest.raises(InvalidUriError, match="outside"):
        download_target(tmp_path / "out", key[len("data/") :], f"s3://b/{key}")


@pytest.mark.parametrize("relative", ["/etc/passwd", "", ".", "a/\x00b"])
def test_download_target_refuses_absolute_empty_and_nul(tmp_path: Path, relative: str) -> None:
    from s3dlio.ops import download_target

    with pytest.raises(InvalidUriError):
        download_target(tmp_path / "out", relative, "s3://b/k")


def test_download_target_keeps_ordinary_keys_inside(tmp_path: Path) -> None:
    from s3dlio.ops import download_target

    root = tmp_path / "out"
    assert download_target(root, "a/b.bin", "s3://b/a/b.bin") == root / "a" / "b.bin"
    assert download_target(root, "a//b.bin", "s3://b/a//b.bin") == root / "a" / "b.bin"


@pytest.mark.azure
def test_download_of_a_key_with_parent_segments_writes_nothing(
    azure_env: object, new_azure_container: str, azure_server: object, tmp_path: Path
) -> None:
    """Azurite stores a blob named ``data/../../escape.bin`` as given; downloading ``data/`` must
    fail with an s3dlio error and leave nothing behind, inside or outside ``local_dir``."""
    import servers

    assert isinstance(azure_server, servers.AzureServer)
    for name in ("data/ok.bin", "data/../../escape.bin"):
        res = azure_server.request(
            "PUT", f"/{new_azure_container}/{name}", body=b"x", headers={"x-ms-blob-type": "BlockBlob"}
        )
        assert res.status == 201
    out = tmp_path / "deep" / "out"
    with pytest.raises(s3dlio.S3dlioError):
        s3dlio.download(f"az://{new_azure_container}/data/", out)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


@pytest.mark.s3
def test_bucket_root_recursive_delete_needs_allow_root(s3_env: object, new_s3_bucket: str) -> None:
    root = f"s3://{new_s3_bucket}/"
    s3dlio.put_many([(f"{root}k{i}", b"v") for i in range(3)])
    with pytest.raises(ValueError, match="allow_root=True"):
        s3dlio.delete(root, recursive=True)
    assert len(s3dlio.list(root)) == 3
    assert s3dlio.delete(root, recursive=True, allow_root=True) == 3
    assert s3dlio.list(root) == []
