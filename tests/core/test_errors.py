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
