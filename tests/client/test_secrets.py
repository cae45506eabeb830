"""Secrets never appear in a repr, a str, an error message, a log record or a URL kept on an error.

Issue 11 item 5 / issue 12 item 3: a notebook prints ``configure()``'s result, tracebacks that
capture locals record reprs, and an error's chained cause (``HTTPError.url`` of the presigned
bucket request) used to carry the session token.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterator

import pytest

import s3dlio
from s3dlio.config import Config

SECRET = "TOPSECRET-sk-0123456789"
TOKEN = "TOPSECRET-token-abcdef"
AZ_KEY = "VE9QU0VDUkVULWF6dXJlLWtleQ=="  # base64 of "TOPSECRET-azure-key"


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        item = todo.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        todo += [item.__cause__, item.__context__]


def _texts(exc: BaseException) -> list[str]:
    """Everything an error shows: messages, reprs, args, URL attributes, the whole traceback."""
    found = ["".join(traceback.format_exception(exc))]
    for item in _chain(exc):
        found += [str(item), repr(item), repr(item.args)]
        for name in ("url", "filename", "uri", "reason", "msg"):
            found.append(str(getattr(item, name, "")))
        found += [repr(v) for v in vars(item).values()] if hasattr(item, "__dict__") else []
    return found


def _assert_clean(texts: list[str]) -> None:
    for text in texts:
        for secret in (SECRET, TOKEN, AZ_KEY, "TOPSECRET"):
            assert secret not in text, text


def test_config_repr_and_str_mask_secrets() -> None:
    config = Config(
        aws_access_key_id="AKID", aws_secret_access_key=SECRET, aws_session_token=TOKEN, azure_key=AZ_KEY
    )
    _assert_clean([repr(config), str(config), f"{config}", f"{config!r}"])
    assert "AKID" in repr(config)  # the key id is not a secret and helps debugging
    assert "***" in repr(config)


def test_configure_result_masks_secrets() -> None:
    try:
        shown = s3dlio.configure(aws_secret_access_key=SECRET, aws_session_token=TOKEN)
        _assert_clean([repr(shown), str(shown), repr(s3dlio.get_config())])
    finally:
        s3dlio.reset_config()


def test_bad_setting_error_masks_secret() -> None:
    with pytest.raises(s3dlio.ConfigError) as info:
        Config(aws_secret_access_key=SECRET, stall_timeout=-1)
    _assert_clean(_texts(info.value))
    with pytest.raises(s3dlio.ConfigError) as info:
        s3dlio.configure(aws_secret_access_key=SECRET, no_such_setting=TOKEN)  # type: ignore[call-arg]
    _assert_clean(_texts(info.value))


def test_store_repr_masks_secrets(tmp_path: object) -> None:
    from s3dlio.stores import store_for

    store, _ = store_for("s3://bucket/key", Config(aws_secret_access_key=SECRET, aws_session_token=TOKEN))
    _assert_clean([repr(store), repr(store.config)])


def test_errors_and_logs_never_show_secrets(
    s3_server: object, unique_bucket: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Wrong secret + session token against SeaweedFS: every error and log record is clean."""
    import servers

    assert isinstance(s3_server, servers.S3Server)
    caplog.set_level(logging.DEBUG)
    s3dlio.configure(
        s3_endpoint=s3_server.endpoint,
        aws_access_key_id=s3_server.access_key,
        aws_secret_access_key=SECRET,
        aws_session_token=TOKEN,
        max_retries=0,
    )
    try:
        errors: list[BaseException] = []
        for call in (
            lambda: s3dlio.get(f"s3://{unique_bucket}/k"),
            lambda: s3dlio.put_bytes(f"s3://{unique_bucket}/k", b"x"),
            lambda: s3dlio.list(f"s3://{unique_bucket}/"),
            lambda: s3dlio.stat(f"s3://{unique_bucket}/k"),
            lambda: s3dlio.create_bucket(f"s3://{unique_bucket}"),  # presigned URL with the token
            lambda: s3dlio.delete_bucket(f"s3://{unique_bucket}"),
        ):
            with pytest.raises(s3dlio.S3dlioError) as info:
                call()
            errors.append(info.value)
        for exc in errors:
            _assert_clean(_texts(exc))
        _assert_clean([record.getMessage() for record in caplog.records])
        _assert_clean([repr(record.args) for record in caplog.records])
    finally:
        s3dlio.reset_config()


def test_bucket_admin_error_url_has_no_token(s3_server: object, new_s3_bucket: str) -> None:
    """A 409 on create_bucket (the bucket exists) keeps no presigned URL with the token."""
    import servers

    assert isinstance(s3_server, servers.S3Server)
    s3dlio.configure(
        s3_endpoint=s3_server.endpoint,
        aws_access_key_id=s3_server.access_key,
        aws_secret_access_key=s3_server.secret_key,
        aws_session_token=TOKEN,
    )
    try:
        with pytest.raises(s3dlio.S3dlioError) as info:
            s3dlio.create_bucket(f"s3://{new_s3_bucket}")
        _assert_clean(_texts(info.value))
    finally:
        s3dlio.reset_config()


def test_client_repr_and_str_mask_secrets() -> None:
    def provider() -> dict[str, str]:
        return {"access_key_id": "AKID", "secret_access_key": SECRET}

    provider.__qualname__ = "provider"
    client = s3dlio.Client(
        s3_endpoint="http://127.0.0.1:1",
        aws_access_key_id="AKID",
        aws_secret_access_key=SECRET,
        aws_session_token=TOKEN,
        azure_key=AZ_KEY,
    )
    with_provider = s3dlio.Client(s3_credential_provider=provider)
    texts = [repr(client), str(client), repr(client.config), repr(with_provider), repr(with_provider.config)]
    _assert_clean(texts)
    client.close()
    with pytest.raises(s3dlio.ClientClosedError) as info:
        client.get("s3://b/k")
    _assert_clean(_texts(info.value))
