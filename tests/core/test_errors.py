from __future__ import annotations

import pickle

import pytest

import s3dlio
from s3dlio import errors


@pytest.mark.parametrize(
    ("error", "builtin"),
    [
        (errors.NotFoundError, FileNotFoundError),
        (errors.BucketNotFoundError, FileNotFoundError),
        (errors.AccessDeniedError, PermissionError),
        (errors.AlreadyExistsError, FileExistsError),
        (errors.InvalidUriError, ValueError),
        (errors.ConfigError, ValueError),
        (errors.StorageTimeoutError, TimeoutError),
        (errors.IntegrityError, OSError),
        (errors.ForkSafetyError, RuntimeError),
        (errors.StorageError, OSError),
    ],
)
def test_leaves_inherit_builtins(error: type[Exception], builtin: type[Exception]) -> None:
    instance = error("cannot get s3://b/k: boom", "s3://b/k")
    assert isinstance(instance, builtin)
    assert isinstance(instance, s3dlio.S3dlioError)
    assert str(instance) == "cannot get s3://b/k: boom"
    assert instance.uri == "s3://b/k"
    clone = pickle.loads(pickle.dumps(instance))  # errors cross process boundaries (workers)
    assert type(clone) is error
    assert (str(clone), clone.uri) == (str(instance), instance.uri)


def test_tree_is_drawn_in_the_module_docstring() -> None:
    for name in errors.__all__:
        assert name in (errors.__doc__ or ""), name


def test_obstore_errors_are_translated() -> None:
    from s3dlio.stores.network import translate_error

    denied = translate_error(
        Exception("Server returned 403 Forbidden: SignatureDoesNotMatch"), "s3://b/k", "get"
    )
    assert isinstance(denied, s3dlio.AccessDeniedError)
    missing = translate_error(FileNotFoundError("Object at location k not found"), "s3://b/k", "get")
    assert isinstance(missing, s3dlio.NotFoundError)
    assert "s3://b/k" in str(missing)
    bucket = translate_error(Exception("<Code>NoSuchBucket</Code>"), "s3://b/k", "get")
    assert isinstance(bucket, s3dlio.BucketNotFoundError)
    other = translate_error(Exception("Generic S3 error: 500\nDebug source: lots of text"), "s3://b/k", "put")
    assert isinstance(other, s3dlio.StorageError)
    assert "Debug source" not in str(other)


@pytest.mark.parametrize("name", errors.__all__)
def test_every_error_is_also_a_runtime_error(name: str) -> None:
    # The original raised RuntimeError everywhere; DLIO's put_data retries on `except RuntimeError`.
    error = getattr(errors, name)
    assert issubclass(error, RuntimeError)
    with pytest.raises(RuntimeError):
        raise error("boom", "s3://b/k")


def test_a_real_missing_object_is_caught_as_runtime_and_builtin(tmp_path: object) -> None:
    uri = f"file://{tmp_path}/missing.bin"
    with pytest.raises(RuntimeError) as caught:
        s3dlio.get(uri)
    assert isinstance(caught.value, FileNotFoundError)
    assert isinstance(caught.value, s3dlio.NotFoundError)
    with pytest.raises(RuntimeError):
        s3dlio.stat(uri)


@pytest.mark.parametrize(
    "error",
    [
        "s3dlio.checkpoint.reader.EntryNotFoundError",
        "s3dlio.loader.dataset.EmptyDatasetError",
        "s3dlio.frameworks._common.TransformError",
        "s3dlio.datagen.formats.TFRecordError",
    ],
)
def test_errors_outside_the_tree_are_runtime_errors_too(error: str) -> None:
    import importlib

    module, _, name = error.rpartition(".")
    assert issubclass(getattr(importlib.import_module(module), name), RuntimeError)
