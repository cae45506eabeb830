"""Pins the public surface: a change here is a deliberate API change."""

from __future__ import annotations

import inspect
import subprocess
import sys

import s3dlio

CORE_OPS = [
    "get", "get_range", "get_many", "put", "put_bytes", "put_many", "stat", "list", "exists", "delete",
    "upload", "download", "create_bucket", "delete_bucket",
]  # fmt: skip


def test_all_names_exist_and_are_sorted() -> None:
    for name in s3dlio.__all__:
        assert hasattr(s3dlio, name), name
    assert len(set(s3dlio.__all__)) == len(s3dlio.__all__)


def test_every_operation_has_an_async_twin_with_the_same_signature() -> None:
    for name in CORE_OPS:
        blocking = getattr(s3dlio, name)
        twin = getattr(s3dlio, name + "_async")
        assert inspect.iscoroutinefunction(twin), name
        assert inspect.signature(blocking) == inspect.signature(twin), name
        assert blocking.__doc__ and twin.__doc__, name


PINNED = [
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
    "MultipartUploadWriter",
    "MultiEndpointStore",
    "NotFoundError",
    "ObjectStat",
    "ObjectWriter",
    "ParsedUri",
    "PyBytesAsyncDataLoader",
    "PyDataset",
    "PyParquetIndex",
    "PyObjectItem",
    "PyObjectWriter",
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
    "create_s3_writer",
    "create_multi_endpoint_store",
    "create_multi_endpoint_store_from_env",
    "create_multi_endpoint_store_from_file",
    "create_multi_endpoint_store_from_template",
    "delete",
    "delete_async",
    "delete_bucket",
    "delete_bucket_async",
    "download",
    "download_async",
    "exists",
    "exists_async",
    "generate_and_write_parquet_schema_streaming",
    "generate_and_write_parquet_schema_streaming_async",
    "finalize_op_log",
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


GUIDE_NAMES = [
    "get", "put", "list", "stat", "delete", "create_async_loader", "create_dataset",
    "create_async_loader_from_dataset", "read_npz", "create_checkpoint_writer",
    "create_checkpoint_reader", "PyDataset", "PyBytesAsyncDataLoader", "PyVecDataset",
]  # fmt: skip


def test_guide_names_are_exported() -> None:
    missing = [name for name in GUIDE_NAMES if name not in s3dlio.__all__]
    assert missing == []


def test_the_public_surface_is_pinned() -> None:
    assert sorted(s3dlio.__all__) == sorted(PINNED), "update PINNED deliberately when the API changes"


def test_importing_s3dlio_imports_no_framework() -> None:
    code = (
        "import sys, s3dlio; print([m for m in ('torch', 'tensorflow', 'jax', 'h5py') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_package_is_typed() -> None:
    from importlib.resources import files

    assert files("s3dlio").joinpath("py.typed").is_file()
