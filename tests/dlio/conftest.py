"""Fixtures for the DLIO / original-API compatibility tests: one fresh prefix per backend."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

BACKENDS = ["file", "direct", "s3", "az"]


@pytest.fixture(params=BACKENDS)
def root(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty prefix URI ending in ``/`` on local files, O_DIRECT, SeaweedFS or Azurite."""
    return make_root(request, tmp_path, request.param)


def make_root(request: pytest.FixtureRequest, tmp_path: Path, backend: str) -> str:
    if backend in ("file", "direct"):
        return f"{backend}://{tmp_path}/data/"
    if backend == "s3":
        request.getfixturevalue("s3_env")
        bucket = request.getfixturevalue("new_s3_bucket")
        return f"s3://{bucket}/{uuid.uuid4().hex[:8]}/"
    if backend == "az":
        request.getfixturevalue("azure_env")
        container = request.getfixturevalue("new_azure_container")
        return f"az://{container}/{uuid.uuid4().hex[:8]}/"
    raise ValueError(backend)


@pytest.fixture(params=["file", "s3", "az"])
def net_root(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Like ``root`` without the O_DIRECT backend (for the slower end-to-end tests)."""
    return make_root(request, tmp_path, request.param)
