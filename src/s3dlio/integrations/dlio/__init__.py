"""DLIO benchmark integration: an ``s3dlio`` storage type for DLIO's ``storage_factory``.

The original shipped the same entry points::

    from s3dlio.integrations.dlio import install_s3dlio_storage, generate_patch
    install_s3dlio_storage("/path/to/dlio_benchmark")   # copies storage/s3dlio_storage.py
    generate_patch(output_file="dlio_s3dlio.patch")      # registers StorageType.S3DLIO

:mod:`s3dlio.integrations.dlio.s3dlio_storage` holds ``S3dlioStorage`` (a DLIO ``DataStorage``),
importable only where ``dlio_benchmark`` is installed. MLPerf Storage's DLIO fork has its own
s3dlio backend (``storage_library: s3dlio``), which needs none of this.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

__all__ = [
    "PATCH",
    "generate_patch",
    "get_s3dlio_storage_content",
    "get_s3dlio_storage_path",
    "install_s3dlio_storage",
]

PATCH = """\
--- a/dlio_benchmark/common/enumerations.py
+++ b/dlio_benchmark/common/enumerations.py
@@ class StorageType(Enum):
     LOCAL_FS = 'local_fs'
     PARALLEL_FS = 'parallel_fs'
     S3 = 's3'
+    S3DLIO = 's3dlio'
--- a/dlio_benchmark/storage/storage_factory.py
+++ b/dlio_benchmark/storage/storage_factory.py
@@ def get_storage(storage_type, namespace, framework=None):
         if storage_type == StorageType.LOCAL_FS:
             return FileStorage(namespace, framework)
+        elif storage_type == StorageType.S3DLIO:
+            from dlio_benchmark.storage.s3dlio_storage import S3dlioStorage
+            return S3dlioStorage(namespace, framework)
"""
"""The two small edits that register ``storage_type: s3dlio`` in DLIO."""


def get_s3dlio_storage_path() -> str:
    """The path of ``s3dlio_storage.py``, the storage class to copy into DLIO."""
    return str(Path(__file__).with_name("s3dlio_storage.py"))


def get_s3dlio_storage_content() -> str:
    """The text of ``s3dlio_storage.py``."""
    return Path(get_s3dlio_storage_path()).read_text(encoding="utf-8")


def generate_patch(dlio_path: str | os.PathLike[str] | None = None, output_file: str | None = None) -> str:
    """Write :data:`PATCH` to ``output_file`` (default ``dlio_s3dlio.patch``); returns its path.

    ``dlio_path`` is accepted for the original's signature and not needed: the patch is the
    same for every DLIO checkout.
    """
    target = Path(output_file or "dlio_s3dlio.patch")
    target.write_text(PATCH, encoding="utf-8")
    return str(target)


def install_s3dlio_storage(dlio_path: str | os.PathLike[str]) -> str:
    """Copy ``s3dlio_storage.py`` into ``<dlio_path>/storage/``; returns the installed path.

    ``dlio_path`` is the ``dlio_benchmark`` package directory (the one holding ``storage/``).
    Apply :data:`PATCH` (or :func:`generate_patch`) to register the storage type, then use
    ``storage: {storage_type: s3dlio, storage_root: s3://bucket/prefix}`` in the workload.
    """
    storage_dir = Path(dlio_path) / "storage"
    if not storage_dir.is_dir():
        raise FileNotFoundError(f"{storage_dir} does not exist: pass the dlio_benchmark package directory")
    target = storage_dir / "s3dlio_storage.py"
    shutil.copyfile(get_s3dlio_storage_path(), target)
    return str(target)
