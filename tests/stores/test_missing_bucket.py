"""Item 10: an object in a bucket that does not exist is an error, never "does not exist".

A HEAD answer has no body, so a 404 for a missing bucket looks exactly like one for a missing
key; ``exists()`` used to return False (and ``stat()`` raise a plain NotFoundError) for both.
"""

from __future__ import annotations

import pytest

import s3dlio

BACKENDS = {
    "s3": ("s3_env", "s3://no-such-bucket-s3dlio"),
    "az": ("azure_env", "az://no-such-container-s3dlio"),
    "gs": ("gcs_env", "gs://no-such-bucket-s3dlio"),
}


@pytest.fixture(params=sorted(BACKENDS))
def missing_bucket(request: pytest.FixtureRequest) -> str:
    env, root = BACKENDS[request.param]
    request.getfixturevalue(env)
    return root


def test_exists_raises_for_a_missing_bucket(missing_bucket: str) -> None:
    with pytest.raises(s3dlio.BucketNotFoundError) as info:
        s3dlio.exists(missing_bucket + "/some/key")
    assert missing_bucket.split("://")[1] in str(info.value)


def test_stat_and_get_raise_bucket_not_found(missing_bucket: str) -> None:
    for call in (s3dlio.stat, s3dlio.get):
        with pytest.raises(s3dlio.BucketNotFoundError):
            call(missing_bucket + "/some/key")


def test_listing_a_missing_bucket_raises(missing_bucket: str) -> None:
    with pytest.raises(s3dlio.BucketNotFoundError):
        s3dlio.list(missing_bucket + "/")


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_a_missing_key_in_an_existing_bucket_is_false(
    backend: str, request: pytest.FixtureRequest, unique_bucket: str
) -> None:
    env = BACKENDS[backend][0]
    request.getfixturevalue(env)
    root = f"{backend}://{unique_bucket}"
    s3dlio.create_bucket(root)
    try:
        assert s3dlio.exists(root + "/nope") is False
        with pytest.raises(s3dlio.NotFoundError) as info:
            s3dlio.stat(root + "/nope")
        assert type(info.value) is s3dlio.NotFoundError
    finally:
        s3dlio.delete_bucket(root)


def test_checkpoint_discovery_raises_for_a_missing_bucket(missing_bucket: str) -> None:
    """The same pattern in CheckpointStore: exists()/latest() must not answer False/None."""
    from s3dlio.checkpoint import CheckpointStore

    store = CheckpointStore(missing_bucket + "/run")
    for call in (store.exists, store.latest, store.list, store.steps):
        with pytest.raises(s3dlio.BucketNotFoundError):
            call()
