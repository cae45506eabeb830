"""Fixtures of the framework tests: small npz objects on the SeaweedFS S3 server (see fw_data)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fw_data import NUM_OBJECTS, S3Data, npz_bytes

import s3dlio


@pytest.fixture(scope="module")
def server_bucket(s3_server: Any) -> Iterator[str]:
    """A fresh bucket, deleted after the module; the server's variables stay set for the module."""
    with pytest.MonkeyPatch.context() as patch:
        for key, value in s3_server.env().items():
            patch.setenv(key, value)
        bucket = f"fw-{uuid.uuid4().hex[:12]}"
        s3dlio.create_bucket(f"s3://{bucket}")
        yield bucket
    s3_server.delete_bucket(bucket, force=True)


@pytest.fixture(scope="module")
def s3_data(s3_server: Any, server_bucket: str) -> S3Data:
    """Objects created once per module (in ``server_bucket``)."""
    prefix = f"s3://{server_bucket}/train/"
    uris = [f"{prefix}s{i:03d}.npz" for i in range(NUM_OBJECTS)]
    s3dlio.put_many([(uri, npz_bytes(i)) for i, uri in enumerate(uris)])
    return S3Data(server_bucket, prefix, uris, dict(s3_server.env()))
