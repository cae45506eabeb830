"""Transfers through the fault proxy: every fault is either retried to the exact bytes or raised.

Never a silent short, partial or mixed result. (Listing faults: ``test_listing_faults.py``; error
mapping, 503s and stalls: ``test_error_mapping.py``.)
"""

from __future__ import annotations

import numpy as np
import pytest

import s3dlio
from faults import Fault, FaultProxy

MiB = 1024 * 1024


def _payload(size: int, seed: int = 0) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes()


@pytest.mark.parametrize("action", ["reset", "status"])
def test_a_failed_get_is_retried(faulty_s3_env: FaultProxy, new_s3_bucket: str, action: str) -> None:
    uri = f"s3://{new_s3_bucket}/obj"
    data = _payload(100_000)
    s3dlio.put_bytes(uri, data)
    fault = faulty_s3_env.inject(Fault(action, method="GET", path=r"/obj$", times=2))
    assert bytes(s3dlio.get(uri)) == data
    assert bytes(s3dlio.get_range(uri, 10, 1000)) == data[10:1010]
    assert fault.hits == 2


@pytest.mark.parametrize("action", ["reset", "status", "lost"])
def test_a_failed_put_is_retried_to_the_exact_object(
    faulty_s3_env: FaultProxy, new_s3_bucket: str, action: str
) -> None:
    """``lost``: the server stored the object but the answer never arrived; the retry rewrites it."""
    uri = f"s3://{new_s3_bucket}/put"
    data = _payload(50_000, seed=1)
    fault = faulty_s3_env.inject(Fault(action, method="PUT", path=r"/put$", times=1))
    s3dlio.put_bytes(uri, data)
    assert fault.hits == 1
    assert bytes(s3dlio.get(uri)) == data


@pytest.mark.parametrize("size", [100_000, 3 * MiB])
def test_a_short_body_is_never_returned_as_the_object(
    faulty_s3_env: FaultProxy, new_s3_bucket: str, size: int
) -> None:
    """The answer claims the full length but stops halfway, then the connection drops."""
    uri = f"s3://{new_s3_bucket}/short"
    data = _payload(size, seed=2)
    s3dlio.put_bytes(uri, data)
    s3dlio.put_bytes(f"s3://{new_s3_bucket}/healthy", data)
    # a whole read of an object of this size first: later whole reads guess it, in one request
    assert s3dlio.get(f"s3://{new_s3_bucket}/healthy") == data
    faulty_s3_env.inject(Fault("short", method="GET", path=r"/short$", times=None))
    for read, expected in (
        (lambda: s3dlio.get(uri), data),
        (lambda: s3dlio.get(uri, zero_copy=True), data),
        (lambda: s3dlio.get_many([uri])[0][1], data),
        (lambda: s3dlio.get_range(uri, 1, size - 2), data[1 : size - 1]),
    ):
        try:
            got = bytes(read())
        except s3dlio.S3dlioError:
            continue  # an error is fine; a short result is not
        assert got == expected


def test_a_multipart_upload_survives_a_reset_part(faulty_s3_env: FaultProxy, new_s3_bucket: str) -> None:
    uri = f"s3://{new_s3_bucket}/multi"
    data = _payload(20 * MiB, seed=3)  # above the 16 MiB multipart threshold
    fault = faulty_s3_env.inject(Fault("reset", method="PUT", path=r"/multi$", query="partNumber=2", times=1))
    s3dlio.put_bytes(uri, data)
    assert fault.hits == 1
    assert bytes(s3dlio.get(uri)) == data


def test_an_object_overwritten_mid_download_is_never_mixed(
    faulty_s3_env: FaultProxy, new_s3_bucket: str, s3_server: object
) -> None:
    """After the first ranged part arrives the object is replaced: the result must be wholly the
    old object, wholly the new one, or an error; never parts of both."""
    part = 5 * MiB
    s3dlio.configure(part_size=part, range_get_threshold=part, max_concurrency=1)
    uri = f"s3://{new_s3_bucket}/moving"
    old, new = _payload(3 * part, seed=4), _payload(3 * part, seed=5)
    s3dlio.put_bytes(uri, old)

    def overwrite() -> None:
        s3_server.request("PUT", f"/{new_s3_bucket}/moving", new)  # type: ignore[attr-defined]

    faulty_s3_env.inject(Fault("overwrite", method="GET", path=r"/moving$", times=1, hook=overwrite))
    try:
        got = bytes(s3dlio.get(uri))
    except s3dlio.S3dlioError:
        return
    assert got in (old, new), "mixed versions"


def test_a_server_that_ignores_ranges_still_serves_whole_objects(
    faulty_s3_env: FaultProxy, new_s3_bucket: str
) -> None:
    """Small whole objects are read as one ranged GET once a size is known. A server that answers
    that with a 200 (object_store refuses it) costs one extra request, then no more guesses."""
    root = f"s3://{new_s3_bucket}/plain/"
    objects = {f"{root}{i}": _payload(1000 + i, seed=i) for i in range(6)}
    s3dlio.put_many(list(objects.items()))
    faulty_s3_env.inject(Fault("no-ranges", method="GET", times=None))
    got = s3dlio.get_many(list(objects), max_in_flight=1)
    assert [(uri, bytes(data)) for uri, data in got] == list(objects.items())
    # the first object is opened, the second is guessed (refused) and opened, the rest opened
    assert len(faulty_s3_env.requests("GET")) == len(objects) + 1
    assert [s3dlio.get(uri) for uri in objects] == list(objects.values())
    assert len(faulty_s3_env.requests("GET")) == 2 * len(objects) + 1
