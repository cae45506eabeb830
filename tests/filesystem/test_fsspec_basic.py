"""The s3dlio fsspec filesystem: every operation against S3 (SeaweedFS) and local files."""

from __future__ import annotations

import asyncio
import pickle
from pathlib import Path
from typing import Any

import fsspec
import pytest

import s3dlio
from s3dlio.fsspec import S3dlioFileSystem


def test_registered_by_entry_point() -> None:
    assert fsspec.get_filesystem_class("s3dlio") is S3dlioFileSystem
    fs, path = fsspec.core.url_to_fs("s3dlio://s3/bucket/key")
    assert isinstance(fs, S3dlioFileSystem) and path == "s3/bucket/key"
    assert fs.to_uri(path) == "s3://bucket/key"
    assert fs.to_uri("s3dlio://file/tmp/x") == "file:///tmp/x"


def test_paths_must_name_a_backend(fs: Any) -> None:
    with pytest.raises(ValueError, match="starts with the backend"):
        fs.cat("s3dlio://bucket/key")
    with pytest.raises(ValueError, match="names no bucket"):
        fs.to_uri("s3dlio://s3")
    with pytest.raises(TypeError, match="storage options"):
        S3dlioFileSystem(anon=True)


def test_pipe_cat_and_ranges(fs: Any, root: str) -> None:
    data = bytes(range(256)) * 40
    fs.pipe(f"{root}/a/obj.bin", data)
    assert bytes(s3dlio.get(fs.to_uri(f"{root}/a/obj.bin"))) == data  # really written through s3dlio
    assert fs.cat(f"{root}/a/obj.bin") == data
    assert fs.cat_file(f"{root}/a/obj.bin", start=10, end=20) == data[10:20]
    assert fs.cat_file(f"{root}/a/obj.bin", start=-5) == data[-5:]
    assert fs.cat_file(f"{root}/a/obj.bin", start=100, end=-100) == data[100:-100]
    assert fs.cat_ranges([f"{root}/a/obj.bin"] * 3, [0, 500, 9000], [4, 600, 99999]) == [
        data[0:4],
        data[500:600],
        data[9000:],
    ]
    fs.pipe({f"{root}/a/x": b"1", f"{root}/a/y": b"22"})
    base = fs._strip_protocol(root)
    assert fs.cat([f"{root}/a/x", f"{root}/a/y"]) == {f"{base}/a/x": b"1", f"{base}/a/y": b"22"}


def test_missing_object_is_file_not_found(fs: Any, root: str) -> None:
    with pytest.raises(FileNotFoundError):
        fs.cat(f"{root}/nope")
    with pytest.raises(FileNotFoundError):
        fs.info(f"{root}/nope")
    assert not fs.exists(f"{root}/nope")


def test_ls_info_find(fs: Any, root: str) -> None:
    base = fs._strip_protocol(root)
    for name in ["d/f1", "d/f2", "d/sub/g1", "d/sub/deeper/h1", "e"]:
        fs.pipe(f"{root}/{name}", name.encode())
    assert fs.ls(f"{root}/d", detail=False) == [f"{base}/d/f1", f"{base}/d/f2", f"{base}/d/sub"]
    listing = {e["name"]: e for e in fs.ls(f"{root}/d")}
    assert listing[f"{base}/d/f1"]["type"] == "file" and listing[f"{base}/d/f1"]["size"] == 4
    assert listing[f"{base}/d/sub"]["type"] == "directory"
    info = fs.info(f"{root}/d/sub/g1")
    assert (info["type"], info["size"], info["name"]) == ("file", 8, f"{base}/d/sub/g1")
    assert fs.info(f"{root}/d/sub")["type"] == "directory"
    assert fs.isdir(f"{root}/d") and fs.isfile(f"{root}/e") and not fs.isdir(f"{root}/e")
    assert fs.find(f"{root}/d") == [
        f"{base}/d/f1",
        f"{base}/d/f2",
        f"{base}/d/sub/deeper/h1",
        f"{base}/d/sub/g1",
    ]
    assert f"{base}/d/sub/deeper" in fs.find(f"{root}/d", withdirs=True)
    assert fs.find(f"{root}/d", maxdepth=1) == [f"{base}/d/f1", f"{base}/d/f2"]
    assert fs.find(f"{root}/e") == [f"{base}/e"]
    assert sorted(fs.glob(f"{root}/d/*1")) == [f"{base}/d/f1"]
    assert fs.du(f"{root}/d") == 4 + 4 + 8 + 15


def test_rm(fs: Any, root: str) -> None:
    for name in ["r/a", "r/b/c", "r/b/d", "keep"]:
        fs.pipe(f"{root}/{name}", b"x")
    fs.rm(f"{root}/r/a")
    assert not fs.exists(f"{root}/r/a")
    fs.rm(f"{root}/r", recursive=True)
    assert not fs.exists(f"{root}/r/b/c") and not fs.exists(f"{root}/r")
    assert fs.exists(f"{root}/keep")
    with pytest.raises(FileNotFoundError):
        fs.rm_file(f"{root}/r/a")


def test_open_random_access_reads(fs: Any, root: str) -> None:
    data = bytes(i % 251 for i in range(3 << 20))
    fs.pipe(f"{root}/big.bin", data)
    with fs.open(f"{root}/big.bin", "rb", block_size=256 << 10) as handle:
        assert handle.size == len(data)
        handle.seek(2 << 20)
        assert handle.read(100) == data[2 << 20 : (2 << 20) + 100]
        handle.seek(-10, 2)
        assert handle.read() == data[-10:]
        handle.seek(5)
        assert handle.read(5) == data[5:10]
        assert handle.tell() == 10
    with fs.open(f"{root}/big.bin", "r", encoding="latin-1") as text:
        assert text.read(3) == data[:3].decode("latin-1")


def test_open_streaming_write(fs: Any, root: str) -> None:
    chunks = [bytes([i]) * (300 << 10) for i in range(8)]
    with fs.open(f"{root}/w/out.bin", "wb", block_size=5 << 20) as handle:
        for chunk in chunks:
            handle.write(chunk)
        assert not fs.exists(f"{root}/w/out.bin")  # not visible before close
    assert fs.cat(f"{root}/w/out.bin") == b"".join(chunks)
    with fs.open(f"{root}/w/small.txt", "w") as text:
        text.write("hello")
    assert fs.cat(f"{root}/w/small.txt") == b"hello"
    with pytest.raises(NotImplementedError, match="append"):
        fs.open(f"{root}/w/small.txt", "ab")
    with pytest.raises(FileExistsError):
        fs.open(f"{root}/w/small.txt", "xb")


def test_an_error_inside_a_write_leaves_no_object(fs: Any, root: str) -> None:
    with pytest.raises(RuntimeError, match="boom"), fs.open(f"{root}/w/broken.bin", "wb") as handle:
        handle.write(b"x" * (6 << 20))  # past one block: a multipart upload is under way
        handle.flush()
        raise RuntimeError("boom")
    assert not fs.exists(f"{root}/w/broken.bin")
    with pytest.raises(RuntimeError, match="boom"), fs.open(f"{root}/w/small.bin", "wb") as handle:
        handle.write(b"partial")
        raise RuntimeError("boom")
    assert not fs.exists(f"{root}/w/small.bin")


def test_get_and_put(fs: Any, root: str, tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "one.bin").write_bytes(b"1" * 1000)
    (src / "sub" / "two.bin").write_bytes(b"2" * (9 << 20))  # streamed in parts
    fs.put(str(src), f"{root}/up", recursive=True)
    assert fs.cat(f"{root}/up/sub/two.bin") == b"2" * (9 << 20)
    dst = tmp_path / "dst"
    fs.get(f"{root}/up", str(dst), recursive=True)
    assert (dst / "one.bin").read_bytes() == b"1" * 1000
    assert (dst / "sub" / "two.bin").read_bytes() == b"2" * (9 << 20)
    fs.cp_file(f"{root}/up/one.bin", f"{root}/copy.bin")
    assert fs.cat(f"{root}/copy.bin") == b"1" * 1000


def test_async_use_on_the_callers_loop(root: str) -> None:
    async def main() -> bytes:
        fs = S3dlioFileSystem(asynchronous=True)
        await fs._pipe_file(f"{root}/async.bin", b"abc")
        return bytes(await fs._cat_file(f"{root}/async.bin", start=1))

    assert asyncio.run(main()) == b"bc"


def test_pickles_and_works_in_a_forked_worker(fs: Any, root: str) -> None:
    import multiprocessing

    fs.pipe(f"{root}/p.bin", b"payload")
    clone = pickle.loads(pickle.dumps(fs))
    assert clone.cat(f"{root}/p.bin") == b"payload"
    with multiprocessing.get_context("fork").Pool(1) as pool:
        assert pool.apply(_cat, (f"{root}/p.bin",)) == b"payload"


def _cat(path: str) -> bytes:
    data: bytes = fsspec.filesystem("s3dlio").cat(path)
    return data
