"""Fixtures of the fsspec tests: an ``s3dlio://`` root on SeaweedFS (S3) and on local files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fsspec
import pytest

from s3dlio.fsspec import S3dlioFileSystem


@pytest.fixture(params=["s3", "file"])
def root(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """``s3dlio://s3/<fresh bucket>`` or ``s3dlio://file/<tmp dir>`` (no trailing slash)."""
    if request.param == "s3":
        request.getfixturevalue("s3_env")
        bucket: str = request.getfixturevalue("new_s3_bucket")
        return f"s3dlio://s3/{bucket}"
    return f"s3dlio://file{tmp_path}"


@pytest.fixture
def fs() -> Any:
    filesystem = fsspec.filesystem("s3dlio")
    assert isinstance(filesystem, S3dlioFileSystem)
    return filesystem
