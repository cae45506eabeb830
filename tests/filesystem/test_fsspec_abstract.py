"""fsspec's own abstract test suite (``fsspec.tests.abstract``) against ``s3dlio://`` on S3 and files.

Object stores have no empty directories, so ``supports_empty_directories`` is False: the suite
then creates a directory by writing a file into it, as it does for s3fs. The whole suite runs
on S3 and on local files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fsspec
import fsspec.tests.abstract as abstract
import pytest


class _S3dlioFixtures(abstract.AbstractFixtures):  # type: ignore[misc]
    @pytest.fixture
    def fs(self) -> Any:
        return fsspec.filesystem("s3dlio")

    @pytest.fixture
    def fs_join(self) -> Any:
        # keeps a trailing slash on the last part: the suite uses it to mean "into a directory"
        return lambda *parts: "/".join([p.rstrip("/") for p in parts[:-1]] + [parts[-1]])

    @pytest.fixture
    def supports_empty_directories(self) -> bool:
        return False

    @pytest.fixture
    def fs_path(self, root: str) -> str:
        return root.split("://", 1)[1]

    @pytest.fixture
    def root(self, request: pytest.FixtureRequest, tmp_path: Path) -> str:
        if self.backend == "s3":
            request.getfixturevalue("s3_env")
            return f"s3dlio://s3/{request.getfixturevalue('new_s3_bucket')}"
        return f"s3dlio://file{tmp_path}/remote"

    backend = "s3"


class TestS3Copy(abstract.AbstractCopyTests, _S3dlioFixtures):  # type: ignore[misc]
    backend = "s3"


class TestS3Get(abstract.AbstractGetTests, _S3dlioFixtures):  # type: ignore[misc]
    backend = "s3"


class TestS3Put(abstract.AbstractPutTests, _S3dlioFixtures):  # type: ignore[misc]
    backend = "s3"


class TestS3Open(abstract.AbstractOpenTests, _S3dlioFixtures):  # type: ignore[misc]
    backend = "s3"


class TestS3Pipe(abstract.AbstractPipeTests, _S3dlioFixtures):  # type: ignore[misc]
    backend = "s3"


class TestFileCopy(abstract.AbstractCopyTests, _S3dlioFixtures):  # type: ignore[misc]
    backend = "file"


class TestFileGet(abstract.AbstractGetTests, _S3dlioFixtures):  # type: ignore[misc]
    backend = "file"


class TestFilePut(abstract.AbstractPutTests, _S3dlioFixtures):  # type: ignore[misc]
    backend = "file"


class TestFileOpen(abstract.AbstractOpenTests, _S3dlioFixtures):  # type: ignore[misc]
    backend = "file"


class TestFilePipe(abstract.AbstractPipeTests, _S3dlioFixtures):  # type: ignore[misc]
    backend = "file"
