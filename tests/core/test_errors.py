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


def _obstore_text(key: str, status: int | None, code: str | None = None, kind: str | None = None) -> str:
    """The shape of obstore's message: a summary, then Rust's pretty Debug of the error value."""
    url = f"http://127.0.0.1:9000/b/{key.replace(' ', '%20')}"
    if status is not None:
        body = f'<?xml version=\\"1.0\\"?><Error><Code>{code}</Code><Key>{key}</Key></Error>'
        inner = [
            "Status {",
            f"    status: {status},",
            "    body: Some(",
            f'        "{body}",',
            "    ),",
            "},",
        ]
    else:
        inner = [
            "Http(",
            "    HttpError {",
            f"        kind: {kind},",
            "        source: TimedOut,",
            "    },",
            "),",
        ]
    lines = [
        f"Generic S3 error: Error performing GET {url} - {key} timed out NoSuchBucket 403 Forbidden",
        "",
        "Debug source:",
        "Generic {",
        '    store: "S3",',
        "    source: RetryError(",
        "        RetryErrorImpl {",
        "            method: GET,",
        "            uri: Some(",
        f"                {url},",
        "            ),",
        "            retries: 3,",
        "            max_retries: 3,",
        "            inner: " + inner[0],
        *("            " + line for line in inner[1:]),
        "        },",
        "    ),",
        "}",
    ]
    return "\n".join(lines)


def test_obstore_errors_are_translated_by_type_and_status() -> None:
    """Item 9: the summary line above mentions a timeout, a missing bucket and a 403 on purpose
    (keys and URLs can say anything); only the structured fields decide."""
    import obstore.exceptions as obx

    from s3dlio.stores.network import error_details, translate_error

    key = "a/timeout NoSuchBucket"
    cases = [
        (obx.GenericError(_obstore_text(key, 500, "InternalError")), s3dlio.StorageError),
        (obx.GenericError(_obstore_text(key, 503, "SlowDown")), s3dlio.StorageError),
        (obx.GenericError(_obstore_text(key, 404, "NoSuchBucket")), s3dlio.BucketNotFoundError),
        (FileNotFoundError(_obstore_text(key, 404, "NoSuchKey")), s3dlio.NotFoundError),
        (obx.GenericError(_obstore_text(key, 403, "SignatureDoesNotMatch")), s3dlio.AccessDeniedError),
        (obx.PermissionDeniedError("denied"), s3dlio.AccessDeniedError),
        (obx.AlreadyExistsError("exists"), s3dlio.AlreadyExistsError),
        (obx.GenericError(_obstore_text(key, None, kind="Timeout")), s3dlio.StorageTimeoutError),
        (obx.GenericError(_obstore_text(key, None, kind="Interrupted")), s3dlio.StorageError),
        (Exception("Server returned 403 Forbidden: SignatureDoesNotMatch, timed out"), s3dlio.StorageError),
    ]
    for exc, expected in cases:
        got = translate_error(exc, "s3://b/k", "get")
        assert type(got) is expected, (exc, got)
        assert "s3://b/k" in str(got)
        assert "Debug source" not in str(got)
    details = error_details(obx.GenericError(_obstore_text(key, 503, "SlowDown")))
    assert (details.status, details.code, details.retries) == (503, "SlowDown", 3)
    assert "503 SlowDown" in str(
        translate_error(obx.GenericError(_obstore_text(key, 503, "SlowDown")), "u", "get")
    )


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
