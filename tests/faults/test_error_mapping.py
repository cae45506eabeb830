"""Item 9: backend errors are mapped by exception type and HTTP status, never by message text.

The fault proxy in front of SeaweedFS injects the statuses; the keys are chosen to contain the very
words a text matcher would look for ("timeout", "Bucket not found", "AccessDenied").
"""

from __future__ import annotations

import itertools

import pytest

import s3dlio
from faults import Fault, FaultProxy


def _gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in itertools.pairwise(times)]


@pytest.mark.parametrize("key", ["a/timeout", "a/timed out", "a/read_timeout-1"])
def test_a_key_that_says_timeout_is_not_a_timeout(
    faulty_s3_env: FaultProxy, new_s3_bucket: str, key: str
) -> None:
    """A 500 on a key containing "timeout" is a StorageError, not a StorageTimeoutError."""
    uri = f"s3://{new_s3_bucket}/{key}"
    s3dlio.put_bytes(uri, b"payload")
    faulty_s3_env.inject(Fault("status", method="GET", status=500, code="InternalError", times=None))
    with pytest.raises(s3dlio.StorageError) as info:
        s3dlio.get(uri)
    assert not isinstance(info.value, TimeoutError)
    assert "500" in str(info.value)
    assert uri in str(info.value)


@pytest.mark.parametrize("key", ["Bucket not found", "NoSuchBucket", "x/ContainerNotFound"])
def test_a_missing_key_that_names_a_missing_bucket_is_only_a_missing_key(
    s3_env: object, new_s3_bucket: str, key: str
) -> None:
    """The bucket exists; only the object is missing, whatever its key says."""
    uri = f"s3://{new_s3_bucket}/{key}"
    for call in (s3dlio.get, s3dlio.stat):
        with pytest.raises(s3dlio.NotFoundError) as info:
            call(uri)
        assert type(info.value) is s3dlio.NotFoundError, call
    assert s3dlio.exists(uri) is False


def test_a_key_that_says_access_denied_is_not_a_permission_error(
    faulty_s3_env: FaultProxy, new_s3_bucket: str
) -> None:
    uri = f"s3://{new_s3_bucket}/AccessDenied/403 Forbidden"
    s3dlio.put_bytes(uri, b"payload")
    faulty_s3_env.inject(Fault("status", method="GET", status=500, code="InternalError", times=None))
    with pytest.raises(s3dlio.StorageError) as info:
        s3dlio.get(uri)
    assert not isinstance(info.value, PermissionError)


def test_a_403_is_access_denied_whatever_the_key(faulty_s3_env: FaultProxy, new_s3_bucket: str) -> None:
    uri = f"s3://{new_s3_bucket}/plain"
    s3dlio.put_bytes(uri, b"payload")
    faulty_s3_env.inject(Fault("status", method="GET", status=403, code="AccessDenied", times=None))
    with pytest.raises(s3dlio.AccessDeniedError):
        s3dlio.get(uri)
    assert len(faulty_s3_env.requests("GET")) == 1  # never retried


def test_a_persistent_503_is_reported_as_503_not_as_timed_out(
    faulty_s3_env: FaultProxy, new_s3_bucket: str
) -> None:
    uri = f"s3://{new_s3_bucket}/busy"
    s3dlio.put_bytes(uri, b"payload")
    faulty_s3_env.inject(Fault("status", method="GET", status=503, code="SlowDown", times=None))
    with pytest.raises(s3dlio.StorageError) as info:
        s3dlio.get(uri)
    assert not isinstance(info.value, TimeoutError)
    message = str(info.value)
    assert "timed out" not in message
    assert "503" in message and "SlowDown" in message
    assert len(faulty_s3_env.requests("GET")) == 1 + 3  # max_retries=3 in faulty_s3_env


def test_a_transient_503_is_retried_transparently(faulty_s3_env: FaultProxy, new_s3_bucket: str) -> None:
    uri = f"s3://{new_s3_bucket}/busy-once"
    s3dlio.put_bytes(uri, b"payload")
    faulty_s3_env.inject(Fault("status", method="GET", status=503, code="SlowDown", times=2))
    assert bytes(s3dlio.get(uri)) == b"payload"


def test_503_slowdown_backs_off(faulty_s3_env: FaultProxy, new_s3_bucket: str) -> None:
    """Retries after 503 SlowDown are spaced out: every wait is at least the initial backoff.

    object_store waits a random time in [init_backoff, previous * base] before each retry, so the
    initial backoff is a hard lower bound on every gap; at 100 ms (the old setting) 3 retries fired
    within a fraction of a second, far too fast for a server that asked clients to slow down.
    The bound is a lower one, so a slow machine cannot make this test fail.
    """
    uri = f"s3://{new_s3_bucket}/slow"
    s3dlio.put_bytes(uri, b"payload")
    faulty_s3_env.inject(Fault("status", method="GET", status=503, code="SlowDown", times=None))
    with pytest.raises(s3dlio.StorageError):
        s3dlio.get(uri)
    times = faulty_s3_env.times("GET")
    assert len(times) == 4
    assert min(_gaps(times)) >= 0.45, _gaps(times)


def test_a_stall_is_a_timeout(faulty_s3_env: FaultProxy, new_s3_bucket: str) -> None:
    """A body that stops arriving (stall_timeout=2 s here) is a StorageTimeoutError."""
    uri = f"s3://{new_s3_bucket}/stalls"
    s3dlio.put_bytes(uri, b"x" * 4096)
    faulty_s3_env.inject(Fault("stall", method="GET", times=None))
    with pytest.raises(s3dlio.StorageTimeoutError) as info:
        s3dlio.get(uri)
    assert uri in str(info.value)
