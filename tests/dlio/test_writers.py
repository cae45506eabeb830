"""MultipartUploadWriter and the mlc-storage streaming writers, on every backend."""

from __future__ import annotations

import gc
import io
import uuid
import warnings
from typing import Any

import google_crc32c
import numpy as np
import pytest

import s3dlio

MiB = 1024 * 1024


def _payload(size: int, seed: int = 0) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes()


def _s3_uploads(s3_server: Any, uri: str) -> list[Any]:
    import boto3

    parsed = s3dlio.parse_uri(uri)
    client = boto3.client(
        "s3",
        endpoint_url=s3_server.endpoint,
        aws_access_key_id=s3_server.access_key,
        aws_secret_access_key=s3_server.secret_key,
        region_name=s3_server.region,
    )
    return list(client.list_multipart_uploads(Bucket=parsed.bucket, Prefix=parsed.key).get("Uploads", []))


# --- MultipartUploadWriter --------------------------------------------------------------------
def test_multipart_writer_round_trip_and_stats(root: str) -> None:
    data = _payload(12 * MiB)
    uri = root + "big.npz"
    writer = s3dlio.MultipartUploadWriter.from_uri(
        uri, part_size=5 * MiB, max_in_flight=4, abort_on_drop=True
    )
    assert (writer.part_size, writer.max_in_flight) == (5 * MiB, 4)
    # the buffer kinds its clients pass: numpy, memoryview slices of shared memory, bytes
    assert writer.write(np.frombuffer(data[: 4 * MiB], dtype=np.uint8)) == 4 * MiB
    assert writer.write(memoryview(data)[4 * MiB : 8 * MiB]) == 4 * MiB
    assert writer.write(data[8 * MiB :]) == 4 * MiB
    assert not s3dlio.exists(uri)  # invisible until close()
    stats = writer.close()
    assert set(stats) == {"etag", "total_bytes", "parts", "started_at", "completed_at"}
    assert stats["total_bytes"] == 12 * MiB and type(stats["total_bytes"]) is int
    assert stats["parts"] == (1 if root.startswith(("file", "direct")) else 3)
    assert isinstance(stats["etag"], str) and stats["etag"]
    assert stats["started_at"] <= stats["completed_at"]
    assert s3dlio.get(uri) == data
    with pytest.raises(ValueError):
        writer.write(b"more")
    writer.abort()  # after close: nothing to do, the object stays
    assert s3dlio.exists(uri)


def test_multipart_writer_context_manager_and_reserve_commit(root: str) -> None:
    uri = root + "ctx.bin"
    with s3dlio.MultipartUploadWriter.from_uri(uri, part_size=5 * MiB) as writer:
        view = writer.reserve(6 * MiB)
        view[:] = b"\x07" * (6 * MiB)
        writer.commit(6 * MiB - 1)
        writer.flush()
        writer.write(b"end")
    assert s3dlio.stat(uri)["size"] == 6 * MiB + 2
    assert bytes(s3dlio.get_range(uri, 6 * MiB - 2, 3)) == b"\x07en"


def test_multipart_writer_exception_aborts(root: str, request: pytest.FixtureRequest) -> None:
    uri = root + "aborted.bin"
    with pytest.raises(KeyError), s3dlio.MultipartUploadWriter.from_uri(uri, part_size=5 * MiB) as writer:
        writer.write(_payload(11 * MiB))  # parts are on the server already
        raise KeyError("killed")
    assert not s3dlio.exists(uri)
    if root.startswith("s3://"):
        assert _s3_uploads(request.getfixturevalue("s3_server"), uri) == []


def test_multipart_writer_dropped_is_aborted(root: str) -> None:
    uri = root + "dropped.bin"
    writer = s3dlio.MultipartUploadWriter.from_uri(uri, part_size=5 * MiB)
    writer.write(_payload(11 * MiB))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del writer
        gc.collect()
    assert any(issubclass(w.category, ResourceWarning) for w in caught)
    assert not s3dlio.exists(uri)
    assert s3dlio.list(root) == []


def test_multipart_writer_dlio_retry_pattern_catches_runtime_error(
    s3_env: Any, new_s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # DLIO obj_store_lib._mpu_upload_with_retry: `except RuntimeError`, then writer.abort().
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "definitely-wrong")
    uri = f"s3://{new_s3_bucket}/{uuid.uuid4().hex[:8]}/x.bin"
    writer = s3dlio.MultipartUploadWriter.from_uri(uri)
    try:
        writer.write(_payload(20 * MiB))
        writer.close()
        raise AssertionError("the upload to a missing bucket succeeded")
    except RuntimeError as error:
        assert isinstance(error, s3dlio.AccessDeniedError)
        writer.abort()


def test_multipart_writer_s3_bucket_key_constructor(s3_env: Any, new_s3_bucket: str) -> None:
    with s3dlio.MultipartUploadWriter(new_s3_bucket, "dir/obj.bin", part_size=5 * MiB) as writer:
        writer.write(b"abc")
    assert s3dlio.get(f"s3://{new_s3_bucket}/dir/obj.bin") == b"abc"


def test_multipart_writer_rejects_options_it_cannot_honour(tmp_path: Any) -> None:
    uri = f"file://{tmp_path}/x.bin"
    with pytest.raises(s3dlio.ConfigError):
        s3dlio.MultipartUploadWriter.from_uri(uri, part_size=MiB)
    with pytest.raises(s3dlio.ConfigError):
        s3dlio.MultipartUploadWriter.from_uri(uri, max_in_flight=0)
    with pytest.raises(s3dlio.ConfigError):
        s3dlio.MultipartUploadWriter.from_uri(uri, abort_on_drop=False)
    with pytest.raises(s3dlio.ConfigError):
        s3dlio.MultipartUploadWriter.from_uri(uri, content_type="application/x-npz")
    with pytest.raises(s3dlio.InvalidUriError):
        s3dlio.MultipartUploadWriter.from_uri(f"file://{tmp_path}/dir/")


# --- streaming writers (mlc-storage checkpointing/storage_writers/s3dlio_writer.py) -----------
_CREATE = {
    "file": "create_filesystem_writer",
    "direct": "create_direct_filesystem_writer",
    "s3": "create_s3_writer",
    "az": "create_azure_writer",
}


def test_streaming_writer_round_trip(root: str) -> None:
    scheme = root.split("://")[0]
    create = getattr(s3dlio, _CREATE[scheme])
    options = s3dlio.PyWriterOptions().with_buffer_size(5 * MiB)
    assert isinstance(options, s3dlio.PyWriterOptions) and options.buffer_size == 5 * MiB
    uri = root + "ckpt.dat"
    writer = create(uri, options)
    assert isinstance(writer, s3dlio.PyObjectWriter)
    shared = bytearray(_payload(4 * MiB, seed=1))
    data = b""
    for size in (4 * MiB, 4 * MiB, 1234):
        writer.write_chunk(memoryview(shared)[:size])  # writer.write_chunk(buffer[:size])
        data += bytes(shared[:size])
    assert writer.bytes_written() == len(data)
    assert writer.checksum() == f"crc32c:{google_crc32c.value(data):08x}"
    assert not s3dlio.exists(uri)
    assert writer.finalize() == (len(data), 0)
    assert s3dlio.get(uri) == data
    with pytest.raises(ValueError):
        writer.finalize()
    with pytest.raises(ValueError):
        writer.write_chunk(b"late")


def test_streaming_writer_zstd(tmp_path: Any) -> None:
    import zstandard

    data = b"checkpoint " * 100_000
    options = s3dlio.PyWriterOptions().with_compression("zstd", 5)
    writer = s3dlio.create_filesystem_writer(f"file://{tmp_path}/c.dat", options)
    writer.write_owned_bytes(data)
    written, compressed = writer.finalize()
    assert written == len(data) and 0 < compressed < len(data) // 10
    stored = s3dlio.get(f"file://{tmp_path}/c.dat.zst")
    assert len(stored) == compressed == writer.compressed_bytes()
    assert zstandard.ZstdDecompressor().stream_reader(io.BytesIO(stored)).read() == data


def test_streaming_writer_checks_scheme_and_options(tmp_path: Any) -> None:
    with pytest.raises(s3dlio.InvalidUriError):
        s3dlio.create_s3_writer(f"file://{tmp_path}/x")
    with pytest.raises(s3dlio.InvalidUriError):
        s3dlio.create_azure_writer("s3://b/x")
    with pytest.raises(s3dlio.ConfigError):
        s3dlio.PyWriterOptions().with_buffer_size(1024)
    with pytest.raises(s3dlio.ConfigError):
        s3dlio.PyWriterOptions().with_compression("lz4")
    # an absolute path is a file:// URI, as the original's filesystem writer accepts
    writer = s3dlio.create_filesystem_writer(f"{tmp_path}/plain.dat")
    writer.write_chunk(b"x")
    writer.finalize()
    assert (tmp_path / "plain.dat").read_bytes() == b"x"


def test_streaming_writer_dropped_leaves_nothing(root: str) -> None:
    scheme = root.split("://")[0]
    writer = getattr(s3dlio, _CREATE[scheme])(root + "gone.dat")
    writer.write_chunk(_payload(6 * MiB))
    del writer
    gc.collect()
    assert s3dlio.list(root) == []


# --- generation fast path and runtime knob -------------------------------------------------------
@pytest.mark.parametrize(
    ("shape", "dtype", "num_samples"), [([64, 64, 3], "<f4", 3), ([10], "uint8", 1), ([0, 5], "<i8", 0)]
)
def test_generate_npz_bytes(shape: list[int], dtype: str, num_samples: int) -> None:
    import zipfile

    data = s3dlio.generate_npz_bytes(shape=shape, dtype=dtype, num_samples=num_samples)
    assert isinstance(data, bytes)
    assert zipfile.ZipFile(io.BytesIO(data)).testzip() is None  # every CRC is right
    with np.load(io.BytesIO(data)) as npz:
        assert sorted(npz.files) == ["x", "y"]
        assert npz["x"].shape == tuple(shape) and npz["x"].dtype == np.dtype(dtype)
        assert npz["y"].dtype == np.int64 and npz["y"].tolist() == [0] * num_samples
    if int(np.prod(shape)) > 100:
        other = s3dlio.generate_npz_bytes(shape=shape, dtype=dtype, num_samples=num_samples)
        assert other != data and len(other) == len(data)


def test_generate_npz_bytes_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        s3dlio.generate_npz_bytes(shape=[-1, 2])
    with pytest.raises(TypeError):
        s3dlio.generate_npz_bytes(shape=5)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        s3dlio.generate_npz_bytes(shape=[2], dtype="O")


def test_configure_tokio_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from s3dlio import _threads

    monkeypatch.setattr(_threads, "_requested", None)  # this process's runtime is not resized
    assert s3dlio.configure_tokio_threads(4) == 4
    for name in ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    cpus = len(os.sched_getaffinity(0))
    assert s3dlio.configure_tokio_threads() == cpus
    monkeypatch.setenv("WORLD_SIZE", str(2 * cpus))
    assert s3dlio.configure_tokio_threads() == 1
    with pytest.raises(s3dlio.ConfigError):
        s3dlio.configure_tokio_threads(-1)
