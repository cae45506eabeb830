"""Writer lifetimes: drop -> ResourceWarning + abort; close after abort raises; abort waits."""

from __future__ import annotations

import asyncio
import gc
import os
import warnings
from pathlib import Path

import pytest

import s3dlio
from s3dlio.stores import network
from s3dlio.stores.local import TEMP_MARKER

MiB = 1024 * 1024


@pytest.fixture(params=["file", "direct", "s3"])
def root(tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if request.param == "s3":
        request.getfixturevalue("s3_env")
        return f"s3://{request.getfixturevalue('new_s3_bucket')}/"
    return f"{request.param}://{tmp_path}/"


def _leftovers(root: str, tmp_path: Path) -> list[str]:
    if root.startswith("s3://"):
        return [e["key"] for e in s3dlio.list(root)]
    return [name for name in os.listdir(tmp_path) if TEMP_MARKER in name or name == "w.bin"]


async def _aborted_uploads() -> None:
    await asyncio.gather(*list(network._orphans), return_exceptions=True)


@pytest.mark.parametrize("size", [1000, 20 * MiB])  # buffered, and past the multipart threshold
def test_a_dropped_writer_warns_and_leaves_nothing(
    root: str, tmp_path: Path, size: int, request: pytest.FixtureRequest
) -> None:
    writer = s3dlio.open_writer(root + "w.bin")
    writer.write(os.urandom(size))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del writer
        s3dlio._sync.run(asyncio.sleep(0))  # the loop thread drops its last frame reference
        gc.collect()
    assert any(issubclass(w.category, ResourceWarning) for w in caught)
    s3dlio._sync.run(_aborted_uploads())  # wait until the dropped writer's upload has aborted
    assert _leftovers(root, tmp_path) == []
    if root.startswith("s3://"):
        import boto3

        server = request.getfixturevalue("s3_server")
        client = boto3.client(
            "s3",
            endpoint_url=server.endpoint,
            aws_access_key_id=server.access_key,
            aws_secret_access_key=server.secret_key,
            region_name=server.region,
        )
        bucket = root.split("/")[2]
        assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert not s3dlio.exists(root + "w.bin")


def test_close_after_abort_raises(root: str, tmp_path: Path) -> None:
    writer = s3dlio.open_writer(root + "w.bin")
    writer.write(b"abc")
    writer.abort()
    with pytest.raises(ValueError, match="abort"):
        writer.close()
    with pytest.raises(ValueError):
        writer.write(b"more")
    assert not s3dlio.exists(root + "w.bin")
    unopened = s3dlio.ops.AsyncWriter(root + "w.bin")
    s3dlio._sync.run(unopened.abort())
    with pytest.raises(ValueError, match="aborted"):
        s3dlio._sync.run(unopened.close())
    assert not s3dlio.exists(root + "w.bin")


def test_close_twice_is_harmless_and_the_object_is_complete(root: str) -> None:
    data = os.urandom(3 * MiB + 5)
    writer = s3dlio.open_writer(root + "w.bin")
    writer.write(data)
    writer.close()
    writer.close()
    assert s3dlio.get(root + "w.bin") == data
