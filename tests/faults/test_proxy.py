"""The fault proxy itself: each action does what tests rely on (signed requests via the proxy)."""

from __future__ import annotations

import dataclasses
import http.client

import pytest

import servers
from faults import Fault, FaultProxy


@pytest.fixture
def via_proxy(s3_server: servers.S3Server, fault_proxy: FaultProxy) -> servers.S3Server:
    """The S3 server's signed-request helper, aimed at the proxy (the Host header is kept)."""
    return dataclasses.replace(s3_server, endpoint=fault_proxy.endpoint)


def test_requests_pass_unchanged(
    via_proxy: servers.S3Server, fault_proxy: FaultProxy, new_s3_bucket: str
) -> None:
    assert via_proxy.request("PUT", f"/{new_s3_bucket}/k", b"hello").status == 200
    got = via_proxy.request("GET", f"/{new_s3_bucket}/k")
    assert (got.status, got.body) == (200, b"hello")
    head = via_proxy.request("HEAD", f"/{new_s3_bucket}/k")
    assert head.headers["content-length"] == "5"
    assert fault_proxy.requests() == [(m, f"/{new_s3_bucket}/k", "") for m in ("PUT", "GET", "HEAD")]


def test_status_answers_without_forwarding(
    via_proxy: servers.S3Server, fault_proxy: FaultProxy, s3_server: servers.S3Server, new_s3_bucket: str
) -> None:
    fault_proxy.inject(Fault("status", method="PUT", status=503, code="SlowDown"))
    answer = via_proxy.request("PUT", f"/{new_s3_bucket}/k", b"x")
    assert answer.status == 503 and b"<Code>SlowDown</Code>" in answer.body
    assert s3_server.request("GET", f"/{new_s3_bucket}/k").status == 404  # never reached the server
    assert via_proxy.request("PUT", f"/{new_s3_bucket}/k", b"x").status == 200  # times=1


@pytest.mark.parametrize("action", ["reset", "lost"])
def test_reset_and_lost(
    via_proxy: servers.S3Server,
    fault_proxy: FaultProxy,
    s3_server: servers.S3Server,
    new_s3_bucket: str,
    action: str,
) -> None:
    fault_proxy.inject(Fault(action, method="PUT"))
    with pytest.raises((ConnectionError, http.client.HTTPException)):
        via_proxy.request("PUT", f"/{new_s3_bucket}/k", b"data")
    stored = s3_server.request("GET", f"/{new_s3_bucket}/k")
    assert stored.status == (200 if action == "lost" else 404)  # lost: applied, answer dropped


def test_short_body(via_proxy: servers.S3Server, fault_proxy: FaultProxy, new_s3_bucket: str) -> None:
    via_proxy.request("PUT", f"/{new_s3_bucket}/k", b"0123456789")
    fault_proxy.inject(Fault("short", method="GET"))
    with pytest.raises(http.client.IncompleteRead) as info:
        via_proxy.request("GET", f"/{new_s3_bucket}/k")
    assert info.value.partial == b"01234"


def test_stall_sends_half_then_nothing(
    fault_proxy: FaultProxy, s3_server: servers.S3Server, new_s3_bucket: str
) -> None:
    s3_server.request("PUT", f"/{new_s3_bucket}/k", b"0123456789")
    fault_proxy.inject(Fault("stall", method="GET"))
    url = f"{fault_proxy.endpoint}/{new_s3_bucket}/k"
    signed = servers.sigv4_headers(
        "GET", url, access_key=s3_server.access_key, secret_key=s3_server.secret_key, region=s3_server.region
    )
    with pytest.raises(TimeoutError):
        servers.http_request("GET", url, headers=signed, timeout=1.0)


def test_overwrite_runs_the_hook_before_answering(
    via_proxy: servers.S3Server, fault_proxy: FaultProxy, s3_server: servers.S3Server, new_s3_bucket: str
) -> None:
    via_proxy.request("PUT", f"/{new_s3_bucket}/k", b"old")
    fault_proxy.inject(
        Fault("overwrite", method="GET", hook=lambda: s3_server.request("PUT", f"/{new_s3_bucket}/k", b"new"))
    )
    assert via_proxy.request("GET", f"/{new_s3_bucket}/k").body == b"old"  # fetched before the hook
    assert via_proxy.request("GET", f"/{new_s3_bucket}/k").body == b"new"


def test_unknown_actions_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown fault action"):
        Fault("explode")
