"""One conformance suite for every backend: each backend class only says where its objects live."""

from __future__ import annotations

import asyncio
import gc
import io
import os
import sys
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import s3dlio
from s3dlio import transfer
from s3dlio.stores import store_for

MiB = 1024 * 1024


def payload(size: int, seed: int = 0) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes()


class Conformance:
    """Tests every backend inherits. Subclasses provide the ``root`` fixture: a fresh prefix URI."""

    # --- round trips ----------------------------------------------------------------------
    @pytest.mark.parametrize("size", [0, 1, 5 * MiB + 1, 64 * MiB], ids=["0B", "1B", "5MiB+1", "64MiB"])
    def test_round_trip(self, root: str, size: int) -> None:
        data = payload(size, seed=size)
        s3dlio.put_bytes(root + "obj.bin", data)
        assert s3dlio.get(root + "obj.bin") == data
        assert s3dlio.stat(root + "obj.bin")["size"] == size

    def test_put_accepts_any_buffer(self, root: str) -> None:
        matrix = np.arange(12, dtype=np.int32).reshape(3, 4)
        sources = {
            "bytearray": bytearray(b"abc"),
            "memoryview": memoryview(b"defg"),
            "matrix": matrix,
            "strided": matrix[:, ::2],
        }
        for name, data in sources.items():
            s3dlio.put_bytes(root + name, data)
        assert s3dlio.get(root + "bytearray") == b"abc"
        assert s3dlio.get(root + "memoryview") == b"defg"
        assert s3dlio.get(root + "matrix") == matrix.tobytes()
        assert s3dlio.get(root + "strided") == np.ascontiguousarray(matrix[:, ::2]).tobytes()

    async def test_async_twins(self, root: str) -> None:
        await s3dlio.put_bytes_async(root + "a", b"async")
        assert await s3dlio.get_async(root + "a") == b"async"
        assert await s3dlio.exists_async(root + "a")
        assert [e["key"] for e in await s3dlio.list_async(root)] == [s3dlio.parse_uri(root + "a").key]

    def test_whole_reads_of_sizes_that_defeat_the_size_guess_are_exact(self, root: str) -> None:
        """Object stores read small objects in one request, guessing the end from earlier
        reads; every kind of wrong guess (larger, empty, above the limit, back again) is exact."""
        sizes = [300, 300, 5000, 0, 2 * MiB + 7, 1, 4 * MiB + 1, 4 * MiB + 1, 700, 0, 600]
        objects = {f"{root}mixed/{i:02d}": payload(size, seed=i) for i, size in enumerate(sizes)}
        s3dlio.put_many(list(objects.items()))
        got = [(uri, bytes(data)) for uri, data in s3dlio.get_many(list(objects), max_in_flight=1)]
        assert got == list(objects.items())
        assert [s3dlio.get(uri) for uri in objects] == list(objects.values())
        loader = s3dlio.create_async_loader(f"{root}mixed/", {"batch_size": len(sizes)})
        assert [bytes(item) for batch in loader for item in batch] == list(objects.values())

    @pytest.mark.parametrize("change", [1, -1, -1000], ids=["grown", "shrunk", "emptied"])
    def test_an_object_changed_since_listed_is_an_integrity_error(self, root: str, change: int) -> None:
        uri = root + "listed/a.bin"
        s3dlio.put_bytes(uri, payload(1000))
        loader = s3dlio.create_async_loader(root + "listed/", {"batch_size": 1})
        s3dlio.put_bytes(uri, payload(1000 + change, seed=1))
        with pytest.raises(s3dlio.IntegrityError, match=r"a\.bin"):
            list(loader)
        store, key = store_for(uri)  # the engine on its own, without the loader's check of the join
        with pytest.raises(s3dlio.IntegrityError, match=r"a\.bin"):
            asyncio.run(transfer.read_object(store, key, expected_size=1000))

    async def test_a_listing_left_early_is_closed_at_once(self, root: str) -> None:
        """Every layer closes the listing it wraps: none is left for the garbage collector to
        finalise (with a page request possibly still in flight)."""
        await s3dlio.put_many_async([(f"{root}early/{i}", b"x") for i in range(3)])
        unclosed: list[str] = []
        firstiter, finalizer = sys.get_asyncgen_hooks()

        def record(generator: Any) -> None:
            unclosed.append(generator.__qualname__)
            finalizer(generator)  # type: ignore[misc]

        sys.set_asyncgen_hooks(firstiter, record)
        try:
            listing = s3dlio.iter_list_async(root + "early/")
            assert (await anext(listing))["key"].endswith("early/0")
            await listing.aclose()
            del listing
            gc.collect()
        finally:
            sys.set_asyncgen_hooks(firstiter, finalizer)
        assert unclosed == []

    # --- ranges ---------------------------------------------------------------------------
    def test_ranges_follow_slice_semantics(self, root: str) -> None:
        data = payload(1000)
        uri = root + "r.bin"
        s3dlio.put_bytes(uri, data)
        cases = [(0, 1), (0, None), (999, 1), (999, 10), (500, 0), (1000, 5), (1000, None), (5000, 3)]
        for offset, length in cases:
            expected = data[offset:] if length is None else data[offset : offset + length]
            assert s3dlio.get_range(uri, offset, length) == expected, (offset, length)

    def test_read_into_fills_a_caller_buffer(self, root: str) -> None:
        from s3dlio._sync import run
        from s3dlio.stores import store_for

        data = payload(3 * MiB)
        s3dlio.put_bytes(root + "into.bin", data)
        store, key = store_for(root + "into.bin")
        target = np.zeros(MiB + 7, dtype=np.uint8)
        run(store.read_into(key, 12345, target.data))
        assert target.tobytes() == data[12345 : 12345 + MiB + 7]
        with pytest.raises(s3dlio.IntegrityError):
            run(store.read_into(key, len(data) - 10, np.zeros(100, dtype=np.uint8).data))

    def test_range_of_missing_object(self, root: str) -> None:
        with pytest.raises(FileNotFoundError):
            s3dlio.get_range(root + "missing", 0, 10)

    # --- many objects ---------------------------------------------------------------------
    def test_get_many_keeps_input_order(self, root: str) -> None:
        items = [(f"{root}many/{i:03d}", payload(100 + i, seed=i)) for i in range(40)]
        s3dlio.put_many(items, max_in_flight=8)
        uris = [uri for uri, _ in reversed(items)]
        pairs = s3dlio.get_many(uris, max_in_flight=4)
        # the original's shape: (uri, zero-copy data) pairs in input order
        assert [uri for uri, _ in pairs] == uris
        assert all(isinstance(data, s3dlio.BytesView) for _, data in pairs)
        assert [bytes(data) for _, data in pairs] == [data for _, data in reversed(items)]

    def test_listing_more_than_1000_keys_and_nesting(self, root: str) -> None:
        items = [(f"{root}big/{i:05d}", b"x") for i in range(1100)]
        items += [(f"{root}big/sub/deeper/leaf{i}", b"yy") for i in range(3)]
        s3dlio.put_many(items, max_in_flight=64)
        listed = s3dlio.list(root + "big/")
        assert len(listed) == 1103
        keys = [entry["key"] for entry in listed]
        assert keys == sorted(keys)
        bucket_root = s3dlio.parse_uri(root).root
        assert {bucket_root + k for k in keys} == {uri for uri, _ in items}  # the guide's loop works
        assert all(entry["uri"] == bucket_root + entry["key"] for entry in listed)
        streamed = list(s3dlio.iter_list(root + "big", batch_size=300))
        assert [e["key"] for e in streamed] == keys
        flat = s3dlio.list(root + "big/sub", recursive=False)
        assert [(e["key"].rsplit("/", 2)[-2], e["is_prefix"]) for e in flat] == [("deeper", True)]
        assert flat[0]["key"].endswith("/")

    def test_listing_a_missing_prefix_is_empty(self, root: str) -> None:
        assert s3dlio.list(root + "nothing-here/") == []

    def test_keys_with_spaces_and_unicode(self, root: str) -> None:
        names = ["with space.bin", "ünïcødé/数据.bin", "emoji-🚀.bin"]
        for i, name in enumerate(names):
            s3dlio.put_bytes(root + name, bytes([i]) * 3)
        for i, name in enumerate(names):
            assert s3dlio.get(root + name) == bytes([i]) * 3
        listed = {e["key"].rsplit("/", 1)[-1] for e in s3dlio.list(root)}
        assert listed == {"with space.bin", "数据.bin", "emoji-🚀.bin"}

    # --- metadata -------------------------------------------------------------------------
    def test_stat_fields(self, root: str) -> None:
        s3dlio.put_bytes(root + "s.bin", b"12345")
        info = s3dlio.stat(root + "s.bin")
        assert info["size"] == 5
        assert info["etag"]
        assert isinstance(info["last_modified"], datetime)
        assert info["last_modified"].tzinfo is not None
        assert "content_type" in info
        assert info["uri"] == root + "s.bin"

    def test_exists(self, root: str) -> None:
        s3dlio.put_bytes(root + "e", b"1")
        assert s3dlio.exists(root + "e") is True
        assert s3dlio.exists(root + "not-e") is False

    # --- deletes and missing objects --------------------------------------------------------
    def test_delete_one(self, root: str) -> None:
        s3dlio.put_bytes(root + "d1", b"1")
        s3dlio.put_bytes(root + "d2", b"2")
        assert s3dlio.delete(root + "d1") == 1
        assert not s3dlio.exists(root + "d1")
        assert s3dlio.exists(root + "d2")

    def test_delete_missing_raises(self, root: str) -> None:
        with pytest.raises(s3dlio.NotFoundError) as info:
            s3dlio.delete(root + "never-was")
        assert "never-was" in str(info.value)

    def test_recursive_delete(self, root: str) -> None:
        s3dlio.put_many([(f"{root}tree/{i}/{j}", b"z") for i in range(3) for j in range(4)])
        s3dlio.put_bytes(root + "treehouse", b"keep")  # shares the string prefix, not the directory
        assert s3dlio.delete(root + "tree", recursive=True) == 12
        assert s3dlio.list(root + "tree/") == []
        assert s3dlio.get(root + "treehouse") == b"keep"

    def test_missing_object_is_file_not_found_naming_the_uri(self, root: str) -> None:
        uri = root + "no/such/object"
        with pytest.raises(FileNotFoundError) as info:
            s3dlio.get(uri)
        assert isinstance(info.value, s3dlio.NotFoundError)
        assert uri in str(info.value)
        with pytest.raises(s3dlio.NotFoundError):
            s3dlio.stat(uri)

    # --- streaming writer -------------------------------------------------------------------
    def test_streaming_writer_beyond_multipart_threshold(self, root: str) -> None:
        chunk = payload(3 * MiB + 7)
        with s3dlio.open_writer(root + "stream.bin") as writer:
            for _ in range(7):  # 21 MiB > the 16 MiB multipart threshold
                writer.write(chunk)
            assert not s3dlio.exists(root + "stream.bin")  # invisible until closed
        assert s3dlio.get(root + "stream.bin") == chunk * 7

    def test_failed_writer_leaves_nothing(self, root: str) -> None:
        with pytest.raises(KeyError), s3dlio.open_writer(root + "broken.bin") as writer:
            writer.write(payload(20 * MiB))
            raise KeyError("the producer failed")
        assert not s3dlio.exists(root + "broken.bin")
        assert s3dlio.list(root) == []

    async def test_async_writer(self, root: str) -> None:
        async with s3dlio.open_writer_async(root + "aw.bin") as writer:
            await writer.write(b"part1-")
            await writer.write(memoryview(b"part2"))
        assert await s3dlio.get_async(root + "aw.bin") == b"part1-part2"

    # --- directories ------------------------------------------------------------------------
    def test_upload_and_download_keep_subdirectories(self, root: str, tmp_path: Path) -> None:
        source = tmp_path / "src"
        (source / "a" / "b").mkdir(parents=True)
        (source / "top.txt").write_bytes(b"top")
        (source / "a" / "b" / "deep.txt").write_bytes(b"deep")
        uploaded = s3dlio.upload(str(source), root + "up")
        assert sorted(uploaded) == [root + "up/a/b/deep.txt", root + "up/top.txt"]
        target = tmp_path / "dst"
        s3dlio.download(root + "up/", target)
        assert (target / "top.txt").read_bytes() == b"top"
        assert (target / "a" / "b" / "deep.txt").read_bytes() == b"deep"

    # --- data generation --------------------------------------------------------------------
    def test_put_generates_distinct_valid_objects(self, root: str) -> None:
        uris = s3dlio.put(root + "gen/", 6, "sample_{:03d}.npz", object_type="npz", size=64 * 1024, seed=5)
        assert uris == [f"{root}gen/sample_{i:03d}.npz" for i in range(6)]
        blobs = [bytes(data) for _, data in s3dlio.get_many(uris)]
        assert len(set(blobs)) == 6
        arrays = [np.load(io.BytesIO(blob))["data"] for blob in blobs]
        assert all(abs(blob_size - 64 * 1024) <= 655 for blob_size in map(len, blobs))
        assert all(a.dtype == np.uint8 for a in arrays)
        again = s3dlio.put(root + "gen2/", 6, "sample_{:03d}.npz", object_type="npz", size=64 * 1024, seed=5)
        assert [data for _, data in s3dlio.get_many(again)] == blobs  # the seed makes the call reproducible

    def test_put_streams_large_objects(self, root: str) -> None:
        size = 20 * MiB  # above the multipart threshold: generated and uploaded in parts
        (uri,) = s3dlio.put(root + "large/", 1, "big.bin", object_type="random", size=size, seed=9)
        assert s3dlio.stat(uri)["size"] == size
        assert s3dlio.get(uri) == s3dlio.generate_data(size, seed=9)

    # --- bad input ----------------------------------------------------------------------------
    def test_bad_input(self, root: str) -> None:
        with pytest.raises(TypeError):
            s3dlio.put_bytes(root + "x", "a str is not bytes")
        with pytest.raises(TypeError):
            s3dlio.put_bytes(root + "x", None)
        with pytest.raises(ValueError):
            s3dlio.get(None)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="offset"):
            s3dlio.get_range(root + "x", -1, 5)
        with pytest.raises(ValueError, match="length"):
            s3dlio.get_range(root + "x", 0, -5)
        with pytest.raises(ValueError, match="max_in_flight"):
            s3dlio.get_many([root + "x"], max_in_flight=0)
        with pytest.raises(ValueError, match="max_in_flight"):
            s3dlio.put_many([(root + "x", b"1")], max_in_flight=-3)
        with pytest.raises(ValueError, match="empty"):
            s3dlio.delete(s3dlio.parse_uri(root).root, recursive=True)
        with pytest.raises(ValueError):
            s3dlio.get(root)  # a directory, not an object


def _fresh(prefix_root: str) -> str:
    return f"{prefix_root}{uuid.uuid4().hex[:10]}/"


class TestFile(Conformance):
    @pytest.fixture
    def root(self, tmp_path: Path) -> str:
        return f"file://{tmp_path}/data/"


class TestDirect(Conformance):
    @pytest.fixture
    def root(self, tmp_path: Path) -> str:
        return f"direct://{tmp_path}/data/"


class TestS3(Conformance):
    @pytest.fixture
    def root(self, s3_env: None, s3_bucket: str) -> str:
        return _fresh(f"s3://{s3_bucket}/")

    def test_wrong_credentials_fail_fast_as_permission_error(
        self, root: str, monkeypatch: pytest.MonkeyPatch, fault_proxy: Any
    ) -> None:
        s3dlio.put_bytes(root + "secret", b"1")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "definitely-wrong")
        monkeypatch.setenv("AWS_ENDPOINT_URL", fault_proxy.endpoint)  # counts the requests
        with pytest.raises(PermissionError) as info:
            s3dlio.get(root + "secret")
        assert isinstance(info.value, s3dlio.AccessDeniedError)
        assert len(fault_proxy.requests("GET")) == 1  # no retry loop on 403
        with pytest.raises(PermissionError):
            s3dlio.exists(root + "secret")  # never hidden as False
        assert len(fault_proxy.requests("HEAD")) == 1

    def test_failed_multipart_upload_leaves_no_orphaned_parts(self, root: str, s3_server: Any) -> None:
        import boto3

        key = s3dlio.parse_uri(root + "orphan.bin")
        with pytest.raises(RuntimeError), s3dlio.open_writer(root + "orphan.bin") as writer:
            for _ in range(4):
                writer.write(payload(6 * MiB))  # 24 MiB: parts are uploaded already
            raise RuntimeError("killed mid-upload")
        client = boto3.client(
            "s3",
            endpoint_url=s3_server.endpoint,
            aws_access_key_id=s3_server.access_key,
            aws_secret_access_key=s3_server.secret_key,
            region_name=s3_server.region,
        )
        uploads = client.list_multipart_uploads(Bucket=key.bucket, Prefix=key.key).get("Uploads", [])
        assert uploads == []
        assert not s3dlio.exists(root + "orphan.bin")

    def test_missing_bucket(self, s3_env: None) -> None:
        with pytest.raises(s3dlio.BucketNotFoundError) as info:
            s3dlio.get("s3://no-such-bucket-s3dlio/x")
        assert "no-such-bucket-s3dlio" in str(info.value)


class TestAzure(Conformance):
    @pytest.fixture
    def root(self, azure_env: None, azure_container: str) -> str:
        return _fresh(f"az://{azure_container}/")

    def test_wrong_credentials_fail_fast_as_permission_error(
        self, root: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        s3dlio.put_bytes(root + "secret", b"1")
        # The explicit key wins over the connection string's, whose endpoint stays on loopback.
        monkeypatch.setenv("AZURE_STORAGE_KEY", "d3Jvbmcta2V5LXdyb25nLWtleQ==")
        with pytest.raises(PermissionError):
            s3dlio.get(root + "secret")

    def test_missing_container(self, azure_env: None) -> None:
        with pytest.raises(s3dlio.BucketNotFoundError):
            s3dlio.get("az://no-such-container/x")


class TestGCS(Conformance):
    """fake-gcs-server behind the test suite's XML-upload shim (see tests/servers.py)."""

    @pytest.fixture
    def root(self, gcs_env: None, gcs_bucket: str) -> str:
        return _fresh(f"gs://{gcs_bucket}/")


@pytest.fixture(scope="session")
def gcs_bucket(gcs_server: object) -> Iterator[str]:
    name = f"conf-{uuid.uuid4().hex[:8]}"
    with _env(gcs_server):
        s3dlio.create_bucket(f"gs://{name}")
    yield name


@pytest.fixture(scope="session")
def s3_bucket(s3_server: object) -> Iterator[str]:
    name = f"conf-{uuid.uuid4().hex[:8]}"
    with _env(s3_server):
        s3dlio.create_bucket(f"s3://{name}")
    yield name


@pytest.fixture(scope="session")
def azure_container(azure_server: object) -> Iterator[str]:
    name = f"conf-{uuid.uuid4().hex[:8]}"
    with _env(azure_server):
        s3dlio.create_bucket(f"az://{name}")
    yield name


class _env:
    """Temporarily apply a server's environment variables (for session-scoped setup)."""

    def __init__(self, server: object) -> None:
        self.values: dict[str, str] = server.env()  # type: ignore[attr-defined]

    def __enter__(self) -> None:
        self.saved = {k: os.environ.get(k) for k in self.values}
        os.environ.update(self.values)

    def __exit__(self, *args: object) -> None:
        for key, value in self.saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
