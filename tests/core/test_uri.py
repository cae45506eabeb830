from __future__ import annotations

import pytest

from s3dlio import InvalidUriError, parse_uri


@pytest.mark.parametrize(
    ("uri", "scheme", "bucket", "key"),
    [
        ("s3://bucket/a/b.bin", "s3", "bucket", "a/b.bin"),
        ("s3://bucket", "s3", "bucket", ""),
        ("az://container/blob", "az", "container", "blob"),
        ("gs://bkt/x y/ü.bin", "gs", "bkt", "x y/ü.bin"),
        ("file:///tmp/data/x", "file", "", "tmp/data/x"),
        ("direct:///mnt/nvme/f", "direct", "", "mnt/nvme/f"),
        ("S3://Bucket/k", "s3", "Bucket", "k"),
    ],
)
def test_parse(uri: str, scheme: str, bucket: str, key: str) -> None:
    parsed = parse_uri(uri)
    assert (parsed.scheme, parsed.bucket, parsed.key) == (scheme, bucket, key)


def test_round_trip_through_with_key() -> None:
    assert parse_uri("file:///tmp/a").with_key("tmp/b") == "file:///tmp/b"
    assert parse_uri("s3://b/x").with_key("y/z") == "s3://b/y/z"


@pytest.mark.parametrize(
    ("uri", "fragment"),
    [
        ("bucket/key", "no scheme"),
        ("http://host/x", "unsupported scheme"),
        ("s3:///key", "empty bucket"),
        ("file://relative/path", "absolute path"),
        ("direct://x", "absolute path"),
    ],
)
def test_bad_uris_name_the_uri(uri: str, fragment: str) -> None:
    with pytest.raises(InvalidUriError) as info:
        parse_uri(uri)
    assert fragment in str(info.value)
    assert repr(uri) in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("value", [None, 42, b"s3://b/k", ["s3://b/k"]])
def test_non_strings_are_rejected(value: object) -> None:
    with pytest.raises(ValueError, match="expected a URI string"):
        parse_uri(value)
