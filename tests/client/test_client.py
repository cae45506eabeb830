"""``s3dlio.Client``: several endpoints and credentials in one process (issue 12 items 1-2).

Two separate SeaweedFS servers with different keys, and SeaweedFS beside Azurite. What each
client wrote is checked with the servers' own raw clients, so a request that went to the wrong
server cannot pass.
"""

from __future__ import annotations

import asyncio
import pickle
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import s3dlio
import servers
from s3dlio import _context
from s3dlio.config import Config


def _client_for(server: servers.S3Server, **settings: Any) -> s3dlio.Client:
    return s3dlio.Client(
        s3_endpoint=server.endpoint,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        **settings,
    )


@pytest.fixture
def two(
    s3_server: servers.S3Server, s3_server_b: servers.S3Server
) -> Iterator[tuple[s3dlio.Client, str, s3dlio.Client, str]]:
    bucket_a, bucket_b = servers.unique_bucket_name("a"), servers.unique_bucket_name("b")
    s3_server.create_bucket(bucket_a)
    s3_server_b.create_bucket(bucket_b)
    with _client_for(s3_server) as a, _client_for(s3_server_b) as b:
        yield a, bucket_a, b, bucket_b
    s3_server.delete_bucket(bucket_a)
    s3_server_b.delete_bucket(bucket_b)


def test_built_from_settings_config_or_environment() -> None:
    client = s3dlio.Client(s3_endpoint="http://127.0.0.1:1", part_size=16 << 20)
    assert client.config == Config(s3_endpoint="http://127.0.0.1:1", part_size=16 << 20)
    assert s3dlio.Client(Config(max_retries=2)).config.max_retries == 2
    assert s3dlio.Client(Config(max_retries=2), max_retries=3).config.max_retries == 3
    env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:2", "AWS_ACCESS_KEY_ID": "id"}
    from_env = s3dlio.Client.from_env(env, max_retries=1)
    assert (from_env.config.s3_endpoint, from_env.config.aws_access_key_id) == ("http://127.0.0.1:2", "id")
    assert from_env.config.max_retries == 1
    with pytest.raises(s3dlio.ConfigError, match="no_such"):
        s3dlio.Client(no_such=1)  # type: ignore[call-arg]
    with pytest.raises(s3dlio.ConfigError, match="stall_timeout"):
        s3dlio.Client(stall_timeout=float("nan"))


def test_two_servers_with_different_keys_concurrently(
    two: tuple[s3dlio.Client, str, s3dlio.Client, str],
    s3_server: servers.S3Server,
    s3_server_b: servers.S3Server,
) -> None:
    a, bucket_a, b, bucket_b = two
    errors: list[BaseException] = []

    def work(client: s3dlio.Client, bucket: str, tag: bytes) -> None:
        try:
            for i in range(10):
                client.put_bytes(f"s3://{bucket}/obj-{i}", tag + bytes([i]))
                assert client.get(f"s3://{bucket}/obj-{i}") == tag + bytes([i])
            assert len(client.list(f"s3://{bucket}/")) == 10
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(a, bucket_a, b"A")) for _ in range(2)]
    threads += [threading.Thread(target=work, args=(b, bucket_b, b"B")) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    # what landed where, asked of each server directly
    assert s3_server.request("GET", f"/{bucket_a}/obj-3").body == b"A\x03"
    assert s3_server_b.request("GET", f"/{bucket_b}/obj-3").body == b"B\x03"
    assert s3_server.request("HEAD", f"/{bucket_b}/obj-3").status == 404
    assert s3_server_b.request("HEAD", f"/{bucket_a}/obj-3").status == 404
    assert _context.current() is None  # nothing leaks into the caller


async def test_async_methods_interleave(two: tuple[s3dlio.Client, str, s3dlio.Client, str]) -> None:
    a, bucket_a, b, bucket_b = two

    async def round_trip(client: s3dlio.Client, bucket: str, i: int) -> bytes:
        await client.put_bytes_async(f"s3://{bucket}/k{i}", f"{bucket}-{i}".encode())
        assert await client.exists_async(f"s3://{bucket}/k{i}")
        return await client.get_async(f"s3://{bucket}/k{i}")

    results = await asyncio.gather(
        *(round_trip(a if i % 2 else b, bucket_a if i % 2 else bucket_b, i) for i in range(8))
    )
    assert results == [f"{bucket_a if i % 2 else bucket_b}-{i}".encode() for i in range(8)]
    stat = await b.stat_async(f"s3://{bucket_b}/k0")
    assert stat["size"] == len(f"{bucket_b}-0")
    assert [e["key"] async for e in a.iter_list_async(f"s3://{bucket_a}/")] == ["k1", "k3", "k5", "k7"]
    assert [e["key"] for e in b.iter_list(f"s3://{bucket_b}/", batch_size=1)] == ["k0", "k2", "k4", "k6"]
    pairs = await a.get_many_async([f"s3://{bucket_a}/k1", f"s3://{bucket_a}/k3"])
    assert [(uri, bytes(data)) for uri, data in pairs] == [
        (f"s3://{bucket_a}/k1", f"{bucket_a}-1".encode()),
        (f"s3://{bucket_a}/k3", f"{bucket_a}-3".encode()),
    ]
    assert _context.current() is None


def test_wrong_credentials_fail_fast_and_leave_the_other_alone(
    two: tuple[s3dlio.Client, str, s3dlio.Client, str], s3_server_b: servers.S3Server
) -> None:
    a, bucket_a, b, bucket_b = two
    bad = s3dlio.Client(
        s3_endpoint=s3_server_b.endpoint,
        aws_access_key_id=s3_server_b.access_key,
        aws_secret_access_key="wrong-secret",
    )
    b.put_bytes(f"s3://{bucket_b}/ok", b"fine")
    start = time.monotonic()
    with pytest.raises(s3dlio.AccessDeniedError):
        bad.get(f"s3://{bucket_b}/ok")
    with pytest.raises(s3dlio.AccessDeniedError):
        bad.put_bytes(f"s3://{bucket_b}/new", b"x")
    assert time.monotonic() - start < 10  # 401/403 are not retried
    assert b.get(f"s3://{bucket_b}/ok") == b"fine"
    assert not b.exists(f"s3://{bucket_b}/new")
    a.put_bytes(f"s3://{bucket_a}/ok", b"also fine")
    assert a.get(f"s3://{bucket_a}/ok") == b"also fine"


def test_module_functions_keep_the_default_configuration(
    two: tuple[s3dlio.Client, str, s3dlio.Client, str], s3_server: servers.S3Server
) -> None:
    """``configure()`` and the module functions are untouched by clients, and vice versa."""
    a, bucket_a, b, bucket_b = two
    s3dlio.configure(
        s3_endpoint=s3_server.endpoint,
        aws_access_key_id=s3_server.access_key,
        aws_secret_access_key=s3_server.secret_key,
    )
    try:
        s3dlio.put_bytes(f"s3://{bucket_a}/module", b"m")
        assert a.get(f"s3://{bucket_a}/module") == b"m"
        b.put_bytes(f"s3://{bucket_b}/client", b"c")
        with pytest.raises(s3dlio.BucketNotFoundError):  # the default goes to server A
            s3dlio.get(f"s3://{bucket_b}/client")
        with b.bind():  # code written against the module functions, run with client b
            assert s3dlio.get(f"s3://{bucket_b}/client") == b"c"
    finally:
        s3dlio.reset_config()


def test_s3_beside_azurite(
    s3_server: servers.S3Server,
    new_s3_bucket: str,
    azure_server: servers.AzureServer,
    new_azure_container: str,
) -> None:
    s3 = _client_for(s3_server)
    azure = s3dlio.Client(
        azure_account=azure_server.account, azure_key=azure_server.key, azure_endpoint=azure_server.endpoint
    )

    async def both() -> list[bytes]:
        await asyncio.gather(
            s3.put_bytes_async(f"s3://{new_s3_bucket}/x", b"on s3"),
            azure.put_bytes_async(f"az://{new_azure_container}/x", b"on azure"),
        )
        return list(
            await asyncio.gather(
                s3.get_async(f"s3://{new_s3_bucket}/x"), azure.get_async(f"az://{new_azure_container}/x")
            )
        )

    assert asyncio.run(both()) == [b"on s3", b"on azure"]
    assert azure_server.request("GET", f"/{new_azure_container}/x").body == b"on azure"
    wrong = s3dlio.Client(
        azure_account=azure_server.account, azure_key="d3Jvbmc=", azure_endpoint=azure_server.endpoint
    )
    with pytest.raises(s3dlio.AccessDeniedError):
        wrong.get(f"az://{new_azure_container}/x")
    assert azure.get(f"az://{new_azure_container}/x") == b"on azure"


def test_pickles_to_its_settings(two: tuple[s3dlio.Client, str, s3dlio.Client, str]) -> None:
    a, bucket_a, _, _ = two
    a.put_bytes(f"s3://{bucket_a}/p", b"pickled")
    clone = pickle.loads(pickle.dumps(a))
    assert clone is not a and clone.config == a.config
    assert clone.get(f"s3://{bucket_a}/p") == b"pickled"
    assert len(pickle.dumps(a)) < 4096


def test_close_and_context_manager(s3_server: servers.S3Server, new_s3_bucket: str) -> None:
    with _client_for(s3_server) as client:
        client.put_bytes(f"s3://{new_s3_bucket}/c", b"1")
        assert len(client.store_cache) == 1
        cache = client.store_cache
    assert client.closed and len(cache) == 0
    with pytest.raises(s3dlio.ClientClosedError):
        client.get(f"s3://{new_s3_bucket}/c")

    async def use_async() -> None:
        async with _client_for(s3_server) as other:
            assert await other.get_async(f"s3://{new_s3_bucket}/c") == b"1"
        with pytest.raises(s3dlio.ClientClosedError):
            await other.get_async(f"s3://{new_s3_bucket}/c")

    asyncio.run(use_async())


def test_writers_datasets_loaders_and_checkpoints_keep_their_client(
    two: tuple[s3dlio.Client, str, s3dlio.Client, str],
) -> None:
    """Objects that outlive the call capture the client; used later with nothing bound."""
    _, _, b, bucket_b = two
    with b.open_writer(f"s3://{bucket_b}/data/w0") as writer:
        writer.write(b"written")
    b.put_many([(f"s3://{bucket_b}/data/d{i}", bytes([i]) * 3) for i in range(4)])
    dataset = b.create_dataset(f"s3://{bucket_b}/data/")
    assert _context.current() is None
    assert dataset[1] == b"\x01" * 3
    loader = b.create_async_loader(f"s3://{bucket_b}/data/", {"batch_size": 5})

    async def batches() -> list[list[bytes]]:
        return [list(batch) async for batch in loader]

    assert asyncio.run(batches()) == [[b"\x00" * 3, b"\x01" * 3, b"\x02" * 3, b"\x03" * 3, b"written"]]

    store = b.checkpoint_store(f"s3://{bucket_b}/ckpt")
    assert isinstance(store, s3dlio.CheckpointStore)
    with store.writer(7) as ckpt:
        ckpt.save_array("w", np.arange(5))
        ckpt.finalize()
    assert store.steps() == [7]
    assert np.array_equal(store.load()["w"], np.arange(5))
    reader = b.create_checkpoint_reader(f"s3://{bucket_b}/ckpt")
    assert np.array_equal(reader.load_array("w"), np.arange(5))
    assert asyncio.run(store.latest_async()) is not None


def _read_both(args: tuple[s3dlio.Client, str, s3dlio.Client, str, int]) -> bytes:
    a, bucket_a, b, bucket_b, i = args
    return a.get(f"s3://{bucket_a}/w{i}") + b.get(f"s3://{bucket_b}/w{i}")


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_two_clients_in_dataloader_workers(
    two: tuple[s3dlio.Client, str, s3dlio.Client, str], context: str
) -> None:
    import torch.utils.data as torch_data

    a, bucket_a, b, bucket_b = two
    for i in range(4):
        a.put_bytes(f"s3://{bucket_a}/w{i}", f"a{i}".encode())
        b.put_bytes(f"s3://{bucket_b}/w{i}", f"b{i}".encode())

    loader = torch_data.DataLoader(
        [(a, bucket_a, b, bucket_b, i) for i in range(4)],
        batch_size=None,
        num_workers=2,
        multiprocessing_context=context,
        collate_fn=_read_both,
        timeout=120,
    )
    assert sorted(loader) == [f"a{i}b{i}".encode() for i in range(4)]


def test_stats_count_the_clients_requests(tmp_path: Any) -> None:
    """``Client.stats()`` reads the metrics layer: a PUT and a GET through the client show up."""
    from s3dlio import metrics

    metrics.reset()
    with s3dlio.Client() as client:
        client.put_bytes(f"file://{tmp_path}/x", b"abc")
        assert client.get(f"file://{tmp_path}/x") == b"abc"
        stats = client.stats()
    file_ops = stats["operations"]["file"]
    assert file_ops["PUT"]["requests"] == 1
    assert file_ops["PUT"]["bytes"] == 3
    assert file_ops["GET"]["requests"] == 1
    assert stats["endpoints"] == []


def test_get_into_reads_through_the_clients_own_server(
    two: tuple[s3dlio.Client, str, s3dlio.Client, str],
) -> None:
    """``get_into`` (and its twin) run under the client: its endpoint and keys, not the default's."""
    a, bucket_a, b, _ = two
    a.put_bytes(f"s3://{bucket_a}/into", b"from-a")
    out = bytearray(16)
    assert a.get_into(f"s3://{bucket_a}/into", out) == 6
    assert bytes(out[:6]) == b"from-a"
    target = np.zeros(6, dtype=np.uint8)
    assert asyncio.run(a.get_into_async(f"s3://{bucket_a}/into", target)) == 6
    assert target.tobytes() == b"from-a"
    with pytest.raises(s3dlio.S3dlioError):  # b's server has no such bucket
        b.get_into(f"s3://{bucket_a}/into", bytearray(16))
