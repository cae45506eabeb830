# mypy: allow-untyped-decorators
# ruff: noqa: A002  (DLIO's parameter is called ``id``)
"""``S3dlioStorage``: DLIO's ``DataStorage`` on s3dlio (``storage_type: s3dlio``).

Install it into a DLIO checkout with :func:`s3dlio.integrations.dlio.install_s3dlio_storage`.
Every s3dlio URI works as ``storage_root``: ``s3://``, ``az://``, ``gs://``, ``file://``,
``direct://``. ``storage_options`` may set ``endpoint_url``, ``access_key_id``,
``secret_access_key`` and ``region`` (they fill the matching AWS environment variables).
"""

from __future__ import annotations

import os
from typing import Any

from dlio_benchmark.common.constants import MODULE_STORAGE
from dlio_benchmark.common.enumerations import MetadataType, NamespaceType
from dlio_benchmark.storage.storage_handler import DataStorage, Namespace
from dlio_benchmark.utils.utility import Profile

import s3dlio

__all__ = ["S3dlioStorage"]

MULTIPART_THRESHOLD = 32 * 1024 * 1024
"""Objects of at least this size are written with ``MultipartUploadWriter``."""
PART_SIZE = 32 * 1024 * 1024
MAX_IN_FLIGHT = 8
_SCHEMES = ("s3://", "az://", "gs://", "file://", "direct://")

dlp = Profile(MODULE_STORAGE)


class S3dlioStorage(DataStorage):  # type: ignore[misc]
    """DLIO storage over any s3dlio URI; ids are paths relative to ``storage_root``."""

    @dlp.log_init
    def __init__(self, namespace: str, framework: Any = None) -> None:
        super().__init__(framework)
        self.namespace = Namespace(namespace, NamespaceType.FLAT)
        self.prefix = namespace.rstrip("/")
        s3dlio.parse_uri(self.prefix + "/")  # a bad storage_root fails here, naming it
        options = getattr(self._args, "storage_options", None) or {}
        for option, variable in (
            ("access_key_id", "AWS_ACCESS_KEY_ID"),
            ("secret_access_key", "AWS_SECRET_ACCESS_KEY"),
            ("region", "AWS_REGION"),
        ):
            if options.get(option):
                os.environ.setdefault(variable, str(options[option]))
        if options.get("endpoint_url"):
            os.environ["AWS_ENDPOINT_URL"] = str(options["endpoint_url"])
        self._local = self.prefix.startswith(("file://", "direct://"))

    def _uri(self, id: str) -> str:
        if str(id).startswith(_SCHEMES):
            return str(id)
        path = str(id).lstrip("/")
        return f"{self.prefix}/{path}" if path else self.prefix

    @dlp.log
    def get_uri(self, id: str) -> str:
        return self._uri(id)

    @dlp.log
    def create_namespace(self, exist_ok: bool = False) -> bool:
        return True

    @dlp.log
    def get_namespace(self) -> Any:
        return self.get_node("")

    @dlp.log
    def create_node(self, id: str, exist_ok: bool = False) -> bool:
        """Object stores have no directories; for local roots the directory is made."""
        if self._local:
            s3dlio.create_bucket(self._uri(id))
        return True

    @dlp.log
    def get_node(self, id: str = "") -> Any:
        uri = self._uri(id)
        parsed = s3dlio.parse_uri(uri)
        if parsed.key and not parsed.key.endswith("/") and s3dlio.exists(uri):
            return MetadataType.FILE
        if s3dlio.list(uri.rstrip("/") + "/", recursive=False):
            return MetadataType.DIRECTORY
        return None

    @dlp.log
    def walk_node(self, id: str, use_pattern: bool = False) -> list[str]:
        """Names directly under ``id`` (sub-directories end with ``/``)."""
        prefix = self._uri(id).rstrip("/") + "/"
        return [entry[len(prefix) :] for entry in s3dlio.list(prefix, recursive=False)]

    @dlp.log
    def delete_node(self, id: str) -> bool:
        """Delete one object, or everything under ``id`` when it is a directory."""
        uri = self._uri(id)
        if self.get_node(id) == MetadataType.FILE:
            s3dlio.delete(uri)
        else:
            s3dlio.delete(uri.rstrip("/") + "/", recursive=True)
        return True

    @dlp.log
    def put_data(self, id: str, data: Any, offset: int | None = None, length: int | None = None) -> None:
        uri = self._uri(id)
        if hasattr(data, "getbuffer"):
            data = data.getbuffer()  # BytesIO: no copy
        payload = memoryview(data)
        if payload.nbytes < MULTIPART_THRESHOLD:
            s3dlio.put_bytes(uri, payload)
            return
        with s3dlio.MultipartUploadWriter.from_uri(
            uri, part_size=PART_SIZE, max_in_flight=MAX_IN_FLIGHT
        ) as writer:
            writer.write(payload)

    @dlp.log
    def get_data(
        self, id: str, data: Any = None, offset: int | None = None, length: int | None = None
    ) -> Any:
        uri = self._uri(id)
        if offset is not None and length is not None:
            return s3dlio.get_range(uri, offset=offset, length=length)
        return s3dlio.get(uri)

    @dlp.log
    def isfile(self, id: str) -> bool:
        return bool(s3dlio.exists(self._uri(id)))

    def get_basename(self, id: str) -> str:
        return os.path.basename(str(id))
