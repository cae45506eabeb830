"""s3dlio: fast object storage I/O for AI/ML, on S3, Azure Blob, GCS, local files and O_DIRECT.

Every operation has a blocking form (``get``) and an ``_async`` twin (``get_async``) with the same
signature. URIs: ``s3://bucket/key``, ``az://container/key``, ``gs://bucket/key``,
``file:///abs/path``, ``direct:///abs/path``. Several endpoints or credentials in one process:
:class:`Client`.

``import s3dlio`` is light: only the errors, the configuration and URI parsing load at once.
Everything else (the operations, loaders, checkpoints, data generation) loads on first use of
one of its names (PEP 562), so a process that only lists never imports NumPy or h5py.
"""

from __future__ import annotations

import builtins
import importlib
from typing import TYPE_CHECKING, Any

from .config import (
    Config,
    configure,
    get_config,
    reset_config,
)
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
from .uri import (
    ParsedUri,
    parse_uri,
)

if TYPE_CHECKING:
    from ._buffers import (
        BytesView,
    )
    from .blocking import (
        ObjectWriter,
        create_bucket,
        delete,
        delete_bucket,
        download,
        exists,
        get,
        get_into,
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
    from .checkpoint import (
        CheckpointInfo,
        CheckpointReader,
        CheckpointStore,
        CheckpointWriter,
        EntryNotFoundError,
        create_checkpoint_reader,
        create_checkpoint_reader_async,
        create_checkpoint_writer,
        torch_load,
        torch_save,
    )
    from .client import (
        Client,
        ClientClosedError,
    )
    from .compat import (
        MultipartUploadWriter,
        PyObjectWriter,
        PyWriterOptions,
        configure_tokio_threads,
        create_azure_writer,
        create_direct_filesystem_writer,
        create_filesystem_writer,
        create_s3_writer,
        generate_npz_bytes,
    )
    from .datagen import (
        DataGenerator,
        generate_data,
    )
    from .datagen.parquet import (
        generate_and_write_parquet_schema_streaming,
        generate_and_write_parquet_schema_streaming_async,
    )
    from .datagen.put import (
        put_async,
    )
    from .loader import (
        EmptyDatasetError,
        LoaderOptions,
        PyBytesAsyncDataLoader,
        PyDataset,
        PyObjectItem,
        PyVecDataset,
        ShardedSampler,
        create_async_loader,
        create_async_loader_from_dataset,
        create_dataset,
        create_dataset_async,
        read_npz,
        read_npz_async,
    )
    from .loader.parquet import (
        PyParquetIndex,
        parquet_get_rg,
        parquet_get_rg_async,
        read_parquet,
        read_parquet_async,
    )
    from .multi_endpoint import (
        MultiEndpointStore,
        create_multi_endpoint_store,
        create_multi_endpoint_store_from_env,
        create_multi_endpoint_store_from_file,
        create_multi_endpoint_store_from_template,
    )
    from .oplog import (
        finalize_op_log,
        init_op_log,
        is_op_log_active,
    )
    from .ops import (
        AsyncWriter,
        create_bucket_async,
        delete_async,
        delete_bucket_async,
        download_async,
        exists_async,
        get_async,
        get_into_async,
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
    from .results import (
        ListEntry,
        ObjectStat,
    )
    from .stores import (
        DirectIOFallbackWarning,
    )

__version__ = "0.1.0"

_LAZY: dict[str, str] = {
    "BytesView": "._buffers",
    "ObjectWriter": ".blocking",
    "create_bucket": ".blocking",
    "delete": ".blocking",
    "delete_bucket": ".blocking",
    "download": ".blocking",
    "exists": ".blocking",
    "get": ".blocking",
    "get_into": ".blocking",
    "get_many": ".blocking",
    "get_range": ".blocking",
    "iter_list": ".blocking",
    "list": ".blocking",
    "open_writer": ".blocking",
    "put": ".blocking",
    "put_bytes": ".blocking",
    "put_many": ".blocking",
    "stat": ".blocking",
    "upload": ".blocking",
    "CheckpointInfo": ".checkpoint",
    "CheckpointReader": ".checkpoint",
    "CheckpointStore": ".checkpoint",
    "CheckpointWriter": ".checkpoint",
    "EntryNotFoundError": ".checkpoint",
    "create_checkpoint_reader": ".checkpoint",
    "create_checkpoint_reader_async": ".checkpoint",
    "create_checkpoint_writer": ".checkpoint",
    "torch_load": ".checkpoint",
    "torch_save": ".checkpoint",
    "Client": ".client",
    "ClientClosedError": ".client",
    "MultipartUploadWriter": ".compat",
    "PyObjectWriter": ".compat",
    "PyWriterOptions": ".compat",
    "configure_tokio_threads": ".compat",
    "create_azure_writer": ".compat",
    "create_direct_filesystem_writer": ".compat",
    "create_filesystem_writer": ".compat",
    "create_s3_writer": ".compat",
    "generate_npz_bytes": ".compat",
    "DataGenerator": ".datagen",
    "generate_data": ".datagen",
    "generate_and_write_parquet_schema_streaming": ".datagen.parquet",
    "generate_and_write_parquet_schema_streaming_async": ".datagen.parquet",
    "put_async": ".datagen.put",
    "EmptyDatasetError": ".loader",
    "LoaderOptions": ".loader",
    "PyBytesAsyncDataLoader": ".loader",
    "PyDataset": ".loader",
    "PyObjectItem": ".loader",
    "PyVecDataset": ".loader",
    "ShardedSampler": ".loader",
    "create_async_loader": ".loader",
    "create_async_loader_from_dataset": ".loader",
    "create_dataset": ".loader",
    "create_dataset_async": ".loader",
    "read_npz": ".loader",
    "read_npz_async": ".loader",
    "PyParquetIndex": ".loader.parquet",
    "parquet_get_rg": ".loader.parquet",
    "parquet_get_rg_async": ".loader.parquet",
    "read_parquet": ".loader.parquet",
    "read_parquet_async": ".loader.parquet",
    "MultiEndpointStore": ".multi_endpoint",
    "create_multi_endpoint_store": ".multi_endpoint",
    "create_multi_endpoint_store_from_env": ".multi_endpoint",
    "create_multi_endpoint_store_from_file": ".multi_endpoint",
    "create_multi_endpoint_store_from_template": ".multi_endpoint",
    "finalize_op_log": ".oplog",
    "init_op_log": ".oplog",
    "is_op_log_active": ".oplog",
    "AsyncWriter": ".ops",
    "create_bucket_async": ".ops",
    "delete_async": ".ops",
    "delete_bucket_async": ".ops",
    "download_async": ".ops",
    "exists_async": ".ops",
    "get_async": ".ops",
    "get_into_async": ".ops",
    "get_many_async": ".ops",
    "get_range_async": ".ops",
    "iter_list_async": ".ops",
    "list_async": ".ops",
    "open_writer_async": ".ops",
    "put_bytes_async": ".ops",
    "put_many_async": ".ops",
    "stat_async": ".ops",
    "upload_async": ".ops",
    "ListEntry": ".results",
    "ObjectStat": ".results",
    "DirectIOFallbackWarning": ".stores",
}
"""Public name -> the module that defines it, imported on first access."""


_SUBMODULES = frozenset({"credentials"})


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:  # ``s3dlio.credentials`` after a bare ``import s3dlio``
        return importlib.import_module(f".{name}", __name__)
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name, __name__), name)
    globals()[name] = value  # later lookups are plain attribute reads
    return value


def __dir__() -> builtins.list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "AccessDeniedError",
    "AlreadyExistsError",
    "AsyncWriter",
    "BucketNotFoundError",
    "BytesView",
    "CheckpointInfo",
    "CheckpointReader",
    "CheckpointStore",
    "CheckpointWriter",
    "Client",
    "ClientClosedError",
    "Config",
    "ConfigError",
    "DataGenerator",
    "DirectIOFallbackWarning",
    "EmptyDatasetError",
    "EntryNotFoundError",
    "ForkSafetyError",
    "IntegrityError",
    "InvalidUriError",
    "ListEntry",
    "LoaderOptions",
    "MultiEndpointStore",
    "MultipartUploadWriter",
    "NotFoundError",
    "ObjectStat",
    "ObjectWriter",
    "ParsedUri",
    "PyBytesAsyncDataLoader",
    "PyDataset",
    "PyObjectItem",
    "PyObjectWriter",
    "PyParquetIndex",
    "PyVecDataset",
    "PyWriterOptions",
    "S3dlioError",
    "ShardedSampler",
    "StorageError",
    "StorageTimeoutError",
    "__version__",
    "configure",
    "configure_tokio_threads",
    "create_async_loader",
    "create_async_loader_from_dataset",
    "create_azure_writer",
    "create_bucket",
    "create_bucket_async",
    "create_checkpoint_reader",
    "create_checkpoint_reader_async",
    "create_checkpoint_writer",
    "create_dataset",
    "create_dataset_async",
    "create_direct_filesystem_writer",
    "create_filesystem_writer",
    "create_multi_endpoint_store",
    "create_multi_endpoint_store_from_env",
    "create_multi_endpoint_store_from_file",
    "create_multi_endpoint_store_from_template",
    "create_s3_writer",
    "delete",
    "delete_async",
    "delete_bucket",
    "delete_bucket_async",
    "download",
    "download_async",
    "exists",
    "exists_async",
    "finalize_op_log",
    "generate_and_write_parquet_schema_streaming",
    "generate_and_write_parquet_schema_streaming_async",
    "generate_data",
    "generate_npz_bytes",
    "get",
    "get_async",
    "get_config",
    "get_into",
    "get_into_async",
    "get_many",
    "get_many_async",
    "get_range",
    "get_range_async",
    "init_op_log",
    "is_op_log_active",
    "iter_list",
    "iter_list_async",
    "list",
    "list_async",
    "open_writer",
    "open_writer_async",
    "parquet_get_rg",
    "parquet_get_rg_async",
    "parse_uri",
    "put",
    "put_async",
    "put_bytes",
    "put_bytes_async",
    "put_many",
    "put_many_async",
    "read_npz",
    "read_npz_async",
    "read_parquet",
    "read_parquet_async",
    "reset_config",
    "stat",
    "stat_async",
    "torch_load",
    "torch_save",
    "upload",
    "upload_async",
]
