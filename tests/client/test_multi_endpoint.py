"""Multi-endpoint load balancing (issue 12 item 4) over two ``weed s3`` gateways of one cluster.

Checked: both policies spread requests, per-endpoint statistics add up, a dead endpoint is taken
out (and tried again after ``endpoint_retry_after``), reads after a write go to the endpoint that
took the write, and the original's ``create_multi_endpoint_store`` works with its argument names.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import s3dlio
import servers
from s3dlio.multi_endpoint import create_multi_endpoint_store, create_multi_endpoint_store_from_template


def _dead_endpoint() -> str:
    return f"http://127.0.0.1:{servers.pick_port()}"  # nothing listens there


@pytest.fixture
def bucket(s3_server: servers.S3Server) -> Iterator[str]:
    name = servers.unique_bucket_name("lb")
    s3_server.create_bucket(name)
    yield name
    s3_server.delete_bucket(name)


def _client(server: servers.S3Server, endpoints: list[str], **settings: Any) -> s3dlio.Client:
    return s3dlio.Client(
        s3_endpoints=endpoints,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        **settings,
    )


def _by_uri(client: s3dlio.Client) -> dict[str, dict[str, Any]]:
    rows = {row["uri"]: row for row in client.endpoint_stats()}
    for endpoint in client.config.s3_endpoints:  # before the first request: nothing counted yet
        rows.setdefault(endpoint, {"total_requests": 0})
    return rows


def test_round_robin_spreads_requests_and_counts_bytes(
    s3_server: servers.S3Server, s3_gateway_b: servers.S3Server, bucket: str
) -> None:
    endpoints = [s3_server.endpoint, s3_gateway_b.endpoint]
    with _client(s3_server, endpoints) as client:
        for i in range(10):
            client.put_bytes(f"s3://{bucket}/k{i}", bytes(100 + i))
        stats = _by_uri(client)
        assert set(stats) == set(endpoints)
        assert [stats[e]["total_requests"] for e in endpoints] == [5, 5]
        assert sum(stats[e]["bytes_written"] for e in endpoints) == sum(100 + i for i in range(10))
        assert all(row["healthy"] and row["error_count"] == 0 for row in stats.values())
        assert all(row["mean_latency_ms"] > 0 and row["active_requests"] == 0 for row in stats.values())
        # the data is in the one cluster, whichever gateway took it
        assert s3_server.request("GET", f"/{bucket}/k3").body == bytes(103)
        assert s3_gateway_b.request("GET", f"/{bucket}/k4").body == bytes(104)
        assert len(client.list(f"s3://{bucket}/")) == 10


def test_least_connections_uses_every_endpoint(
    s3_server: servers.S3Server, s3_gateway_b: servers.S3Server, bucket: str
) -> None:
    endpoints = [s3_server.endpoint, s3_gateway_b.endpoint]
    s3_server.request("PUT", f"/{bucket}/obj", body=b"x" * 4096)
    with _client(s3_server, endpoints, load_balance="least_connections") as client:

        async def many() -> list[bytes]:
            return list(await asyncio.gather(*(client.get_async(f"s3://{bucket}/obj") for _ in range(16))))

        assert asyncio.run(many()) == [b"x" * 4096] * 16
        stats = _by_uri(client)
        assert all(stats[e]["total_requests"] >= 4 for e in endpoints), stats
        assert sum(stats[e]["bytes_read"] for e in endpoints) == 16 * 4096
        assert all(stats[e]["active_requests"] == 0 for e in endpoints)


def test_dead_endpoint_is_taken_out(
    s3_server: servers.S3Server, s3_gateway_b: servers.S3Server, bucket: str
) -> None:
    dead = _dead_endpoint()
    endpoints = [dead, s3_server.endpoint, s3_gateway_b.endpoint]
    with _client(s3_server, endpoints, endpoint_retry_after=3600.0) as client:
        for i in range(12):  # every call succeeds: the dead endpoint's requests fail over
            client.put_bytes(f"s3://{bucket}/f{i}", b"v")
            assert client.get(f"s3://{bucket}/f{i}") == b"v"
        stats = _by_uri(client)
        assert stats[dead]["healthy"] is False and stats[dead]["error_count"] == 1
        assert stats[dead]["total_requests"] == 1  # out, and not tried again within the hour
        assert stats[dead]["retry_in_s"] > 3000
        assert (
            stats[s3_server.endpoint]["total_requests"] + stats[s3_gateway_b.endpoint]["total_requests"] == 24
        )


def test_failed_endpoint_is_tried_again_later(s3_server: servers.S3Server, bucket: str) -> None:
    """With a short ``endpoint_retry_after`` the dead endpoint keeps being re-tried (and failed
    over from): it is out for a while, not forever."""
    dead = _dead_endpoint()
    with _client(s3_server, [dead, s3_server.endpoint], endpoint_retry_after=0.001) as client:
        for i in range(6):
            client.put_bytes(f"s3://{bucket}/r{i}", b"v")
        stats = _by_uri(client)
        assert (
            stats[dead]["total_requests"] >= 2 and stats[dead]["error_count"] == stats[dead]["total_requests"]
        )
        assert stats[s3_server.endpoint]["total_requests"] == 6


def test_all_endpoints_down_raises(s3_server: servers.S3Server, bucket: str) -> None:
    with _client(s3_server, [_dead_endpoint(), _dead_endpoint()], max_retries=0) as client:
        # a refused connection: StorageError or (as obstore reports it today) StorageTimeoutError
        with pytest.raises((s3dlio.StorageError, s3dlio.StorageTimeoutError)):
            client.get(f"s3://{bucket}/nothing")
        assert all(row["error_count"] == 1 for row in client.endpoint_stats())


def test_not_found_does_not_take_an_endpoint_out(
    s3_server: servers.S3Server, s3_gateway_b: servers.S3Server, bucket: str
) -> None:
    with _client(s3_server, [s3_server.endpoint, s3_gateway_b.endpoint]) as client:
        for _ in range(4):
            with pytest.raises(s3dlio.NotFoundError):
                client.get(f"s3://{bucket}/missing")
        assert all(row["healthy"] for row in client.endpoint_stats())
        assert sum(row["total_requests"] for row in client.endpoint_stats()) == 4  # no failover


def test_reads_after_a_write_go_to_the_writing_endpoint(
    s3_server: servers.S3Server, s3_gateway_b: servers.S3Server, bucket: str
) -> None:
    """Round robin alone would send the read to the other gateway, which may not see the write
    yet; the key is pinned to the endpoint that took the write."""
    endpoints = [s3_server.endpoint, s3_gateway_b.endpoint]
    with _client(s3_server, endpoints) as client:
        for i in range(6):
            before = _by_uri(client)
            client.put_bytes(f"s3://{bucket}/p{i}", b"new")
            middle = _by_uri(client)
            assert client.get(f"s3://{bucket}/p{i}") == b"new"
            assert client.stat(f"s3://{bucket}/p{i}")["size"] == 3
            after = _by_uri(client)
            writer = [e for e in endpoints if middle[e]["total_requests"] > before[e]["total_requests"]]
            assert len(writer) == 1
            assert after[writer[0]]["total_requests"] - middle[writer[0]]["total_requests"] == 2


def test_multi_endpoint_loader_and_module_default(
    s3_server: servers.S3Server, s3_gateway_b: servers.S3Server, bucket: str
) -> None:
    endpoints = [s3_server.endpoint, s3_gateway_b.endpoint]
    with _client(s3_server, endpoints) as client:
        client.put_many([(f"s3://{bucket}/d/{i}", bytes([i])) for i in range(6)])
        dataset = client.create_dataset(f"s3://{bucket}/d/")
        assert [dataset[i] for i in range(6)] == [bytes([i]) for i in range(6)]
        assert all(row["total_requests"] >= 3 for row in client.endpoint_stats())
    s3dlio.configure(
        s3_endpoints=endpoints,
        aws_access_key_id=s3_server.access_key,
        aws_secret_access_key=s3_server.secret_key,
    )
    try:
        assert s3dlio.get(f"s3://{bucket}/d/2") == b"\x02"
    finally:
        s3dlio.reset_config()


def test_bad_settings() -> None:
    with pytest.raises(s3dlio.ConfigError, match="load_balance"):
        s3dlio.Client(s3_endpoints=["http://127.0.0.1:1"], load_balance="random")
    with pytest.raises(s3dlio.ConfigError, match="s3_endpoints"):
        s3dlio.Client(s3_endpoints="http://127.0.0.1:1")  # type: ignore[arg-type]
    with pytest.raises(s3dlio.ConfigError, match="twice"):
        s3dlio.Client(s3_endpoints=["http://127.0.0.1:1", "http://127.0.0.1:1"])
    with pytest.raises(s3dlio.ConfigError, match="strategy"):
        create_multi_endpoint_store(uris=["file:///tmp/a"], strategy="fastest")
    with pytest.raises(s3dlio.ConfigError, match="scheme"):
        create_multi_endpoint_store(uris=["file:///tmp/a", "s3://b/"])


def test_original_entry_point_over_gateways(
    s3_server: servers.S3Server, s3_gateway_b: servers.S3Server, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The original's URIs name the gateway as ``s3://host:port/bucket/``; methods are async."""
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    uris = [f"s3://{s.host}:{s.port}/{bucket}/data/" for s in (s3_server, s3_gateway_b)]
    store = create_multi_endpoint_store(uris=uris, strategy="round_robin")
    assert store.endpoint_count() == 2 and store.strategy() == "round_robin"

    async def use() -> None:
        await store.put(uris[0] + "a.bin", b"hello")
        assert await store.get(uris[1] + "a.bin") == b"hello"  # any endpoint's prefix works
        assert await store.get("a.bin") == b"hello"  # and relative keys
        assert await store.get_range("a.bin", 1, 3) == b"ell"
        assert [u.rsplit("/", 1)[-1] for u in await store.list(uris[0])] == ["a.bin"]
        await store.delete("a.bin")

    asyncio.run(use())
    stats = store.get_endpoint_stats()
    assert [row["uri"] for row in stats] == uris
    assert all(row["total_requests"] >= 1 for row in stats)
    assert store.get_total_stats()["bytes_written"] == 5
    assert s3_server.request("HEAD", f"/{bucket}/data/a.bin").status == 404


def test_original_entry_point_from_template_over_directories(tmp_path: Path) -> None:
    for i in (1, 2, 3):
        (tmp_path / f"ep{i}").mkdir()
    store = create_multi_endpoint_store_from_template(
        uri_template=f"file://{tmp_path}/ep{{1...3}}", strategy="least_connections"
    )

    async def use() -> list[bytes]:
        await asyncio.gather(*(store.put(f"k{i}", bytes([i])) for i in range(6)))
        return list(await asyncio.gather(*(store.get(f"k{i}") for i in range(6))))

    assert asyncio.run(use()) == [bytes([i]) for i in range(6)]  # each read finds its write
    assert sorted(p.parent.name for p in tmp_path.glob("ep*/k*")) != []
    assert store.get_total_stats()["total_requests"] == 12
