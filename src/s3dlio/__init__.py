"""s3dlio: fast object storage I/O for AI/ML, on S3, Azure Blob, GCS, local files and O_DIRECT.

Every operation has a blocking form (``get``) and an ``_async`` twin (``get_async``) with the same
signature. URIs: ``s3://bucket/key``, ``az://container/key``, ``gs://bucket/key``,
``file:///abs/path``, ``direct:///abs/path``.
"""

from __future__ import annotations

from .blocking import (
    ObjectWriter,
    create_bucket,
    delete,
    delete_bucket,
    download,
    exists,
    get,
    get_many,
    get_range,
    iter_list,
    list,  # noqa: A004  (the guide's name)
    open_writer,
    put,
    put_bytes,
    put_many,
    stat,
    upload,
)
from .config import Config, configure, get_config, reset_config
from .datagen import DataGenerator, generate_data
from .datagen.put import put_async
from .errors import (
    AccessDeniedError,
    AlreadyExistsError,
    BucketNotFoundError,
    ConfigError,
    ForkSafetyError,
    IntegrityError,
    InvalidUriError,
    NotFoundError,
    S3dlioError,
    StorageError,
    StorageTimeoutError,
)
from .ops import (
    AsyncWriter,
    create_bucket_async,
    delete_async,
    delete_bucket_async,
    download_async,
    exists_async,
    get_async,
    get_many_async,
    get_range_async,
    iter_list_async,
    list_async,
    open_writer_async,
    put_bytes_async,
    put_many_async,
    stat_async,
    upload_async,
)
from .stores import DirectIOFallbackWarning
from .uri import ParsedUri, parse_uri

__version__ = "0.1.0"

__all__ = [
    "AccessDeniedError",
    "AlreadyExistsError",
    "AsyncWriter",
    "BucketNotFoundError",
    "Config",
    "ConfigError",
    "DataGenerator",
    "DirectIOFallbackWarning",
    "ForkSafetyError",
    "IntegrityError",
    "InvalidUriError",
    "NotFoundError",
    "ObjectWriter",
    "ParsedUri",
    "S3dlioError",
    "StorageError",
    "StorageTimeoutError",
    "__version__",
    "configure",
    "create_bucket",
    "create_bucket_async",
    "delete",
    "delete_async",
    "delete_bucket",
    "delete_bucket_async",
    "download",
    "download_async",
    "exists",
    "exists_async",
    "generate_data",
    "get",
    "get_async",
    "get_config",
    "get_many",
    "get_many_async",
    "get_range",
    "get_range_async",
    "iter_list",
    "iter_list_async",
    "list",
    "list_async",
    "open_writer",
    "open_writer_async",
    "parse_uri",
    "put",
    "put_async",
    "put_bytes",
    "put_bytes_async",
    "put_many",
    "put_many_async",
    "reset_config",
    "stat",
    "stat_async",
    "upload",
    "upload_async",
]
