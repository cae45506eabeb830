"""Shared fixtures: real local storage servers (started lazily, once per session) and a clean env.

Server fixtures (session scope, started only when a test asks for them, stopped at session end):
``s3_server`` (SeaweedFS), ``azure_server`` (Azurite), ``gcs_server`` (fake-gcs-server + XML shim).
A server that cannot start makes the tests that need it fail (never skip) with the reason.

Per-test fixtures: ``s3_env`` / ``azure_env`` / ``gcs_env`` put a server's variables into
``os.environ`` for one test (and return the server); ``unique_bucket`` is a fresh bucket name;
``new_s3_bucket`` / ``new_azure_container`` / ``new_gcs_bucket`` create one with the servers'
own raw clients (not with s3dlio) and delete it afterwards.

Faults: ``fault_proxy`` is a :class:`faults.FaultProxy` in front of the SeaweedFS server (resets,
short bodies, 503s, stalls, lost answers, mid-read overwrites); ``faulty_s3_env`` points
``AWS_ENDPOINT_URL`` at it and sets short retry/stall settings so faulted tests stay fast.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # `import servers` in every import mode
import servers
from faults import FaultProxy

T = TypeVar("T")

CLOUD_ENV_PREFIXES = (
    "AWS_",
    "AZURE_",
    "AZURITE_",
    "GOOGLE_",
    "GCS_",
    "GCLOUD_",
    "CLOUDSDK_",
    "S3DLIO_",
)
CLOUD_ENV_NAMES = ("STORAGE_EMULATOR_HOST",)
LOOPBACK_NO_PROXY = "127.0.0.1,localhost,::1"

_FIXTURE_MARKERS = {
    "s3_server": "s3",
    "s3_server_b": "s3",
    "s3_gateway_b": "s3",
    "azure_server": "azure",
    "gcs_server": "gcs",
}
_ENV_PATCH = pytest.StashKey[pytest.MonkeyPatch]()


def scrub_cloud_env(mp: pytest.MonkeyPatch) -> None:
    """Remove every cloud/credential variable so no test reaches a real cloud or metadata server."""
    for name in list(os.environ):
        if name.startswith(CLOUD_ENV_PREFIXES) or name in CLOUD_ENV_NAMES:
            mp.delenv(name, raising=False)
    mp.setenv("AWS_EC2_METADATA_DISABLED", "true")
    # no ~/.aws profiles either, and never send loopback traffic through a proxy
    mp.setenv("AWS_CONFIG_FILE", os.devnull)
    mp.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    for var in ("NO_PROXY", "no_proxy"):
        current = os.environ.get(var, "")
        if "127.0.0.1" not in current.split(","):
            mp.setenv(var, f"{current},{LOOPBACK_NO_PROXY}" if current else LOOPBACK_NO_PROXY)


def pytest_configure(config: pytest.Config) -> None:
    """Register markers and scrub the environment before any test module is imported."""
    config.addinivalue_line("markers", "s3: uses the local SeaweedFS S3 server")
    config.addinivalue_line("markers", "azure: uses the local Azurite blob server")
    config.addinivalue_line("markers", "gcs: uses the local fake-gcs-server")
    config.addinivalue_line("markers", "slow: long-running test")
    mp = pytest.MonkeyPatch()
    scrub_cloud_env(mp)
    config.stash[_ENV_PATCH] = mp


def pytest_unconfigure(config: pytest.Config) -> None:
    """Restore the environment."""
    mp = config.stash.get(_ENV_PATCH, None)
    if mp is not None:
        mp.undo()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark tests by the servers they use, so ``-m "not azure"`` works without manual marks."""
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        for fixture, marker in _FIXTURE_MARKERS.items():
            if fixture in names:
                item.add_marker(marker)


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Say which server binaries were found."""
    found = []
    for label, finder in (
        ("weed", servers.find_weed),
        ("azurite-blob", servers.find_azurite),
        ("fake-gcs-server", servers.find_fake_gcs),
    ):
        try:
            found.append(f"{label}={finder()}")
        except servers.ServerBinaryMissing:
            found.append(f"{label}=MISSING")
    return ["storage servers: " + ", ".join(found)]


@pytest.fixture(scope="session", autouse=True)
def _isolated_cloud_env() -> Iterator[None]:
    """Scrub cloud variables again at session start (collection may have set some)."""
    mp = pytest.MonkeyPatch()
    scrub_cloud_env(mp)
    yield
    mp.undo()


def _start(what: str, start: Callable[[], T]) -> T:
    try:
        return start()
    except servers.ServerStartError as exc:
        reason = str(exc)
    pytest.fail(f"{what} could not be started:\n{reason}", pytrace=False)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[servers.S3Server]:
    """SeaweedFS with the S3 gateway; credentials ``s3dlio-test-key`` / ``s3dlio-test-secret``."""
    server = _start("SeaweedFS (S3)", servers.start_seaweedfs)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3_server_b() -> Iterator[servers.S3Server]:
    """A second, separate SeaweedFS whose only identity has other keys than ``s3_server``."""
    server = _start(
        "SeaweedFS (second S3)",
        lambda: servers.start_seaweedfs(access_key="s3dlio-other-key", secret_key="s3dlio-other-secret"),
    )
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3_gateway_b(s3_server: servers.S3Server) -> Iterator[servers.S3Server]:
    """A second ``weed s3`` gateway of ``s3_server``'s cluster (same filer, data and keys)."""
    gateway = _start("SeaweedFS (second gateway)", lambda: servers.start_s3_gateway(s3_server))
    yield gateway
    gateway.stop()


@pytest.fixture(scope="session")
def azure_server() -> Iterator[servers.AzureServer]:
    """Azurite blob service (in memory), account ``devstoreaccount1`` with its well-known key."""
    server = _start("Azurite", servers.start_azurite)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def gcs_server() -> Iterator[servers.GCSServer]:
    """fake-gcs-server (in memory) behind the XML-API shim; no authentication."""
    server = _start("fake-gcs-server", servers.start_fake_gcs)
    yield server
    server.stop()


@pytest.fixture
def s3_env(s3_server: servers.S3Server, monkeypatch: pytest.MonkeyPatch) -> servers.S3Server:
    """Set AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION for one test."""
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    return s3_server


@pytest.fixture
def azure_env(azure_server: servers.AzureServer, monkeypatch: pytest.MonkeyPatch) -> servers.AzureServer:
    """Set AZURE_STORAGE_ACCOUNT, AZURE_STORAGE_KEY, AZURE_STORAGE_CONNECTION_STRING for one test."""
    for key, value in azure_server.env().items():
        monkeypatch.setenv(key, value)
    return azure_server


@pytest.fixture
def gcs_env(gcs_server: servers.GCSServer, monkeypatch: pytest.MonkeyPatch) -> servers.GCSServer:
    """Set STORAGE_EMULATOR_HOST for one test."""
    for key, value in gcs_server.env().items():
        monkeypatch.setenv(key, value)
    return gcs_server


@pytest.fixture
def fault_proxy(s3_server: servers.S3Server) -> Iterator[FaultProxy]:
    """A fault-injecting proxy in front of the SeaweedFS server, for one test."""
    proxy = FaultProxy(s3_server.endpoint)
    yield proxy
    proxy.stop()


@pytest.fixture
def faulty_s3_env(
    s3_server: servers.S3Server, fault_proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FaultProxy]:
    """Like ``s3_env``, but through ``fault_proxy``; retries are quick (max_retries=3, stall 2 s)."""
    import s3dlio

    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", fault_proxy.endpoint)
    s3dlio.configure(max_retries=3, retry_timeout=20.0, stall_timeout=2.0, connect_timeout=5.0)
    yield fault_proxy
    s3dlio.reset_config()


@pytest.fixture
def unique_bucket() -> str:
    """A fresh bucket/container name, ``t-<16 hex>``: valid for S3, Azure and GCS."""
    return servers.unique_bucket_name()


@pytest.fixture
def new_s3_bucket(s3_server: servers.S3Server, unique_bucket: str) -> Iterator[str]:
    """A bucket created on the S3 server for this test, emptied and deleted afterwards."""
    s3_server.create_bucket(unique_bucket)
    yield unique_bucket
    _best_effort(lambda: s3_server.delete_bucket(unique_bucket, force=True))


@pytest.fixture
def new_azure_container(azure_server: servers.AzureServer, unique_bucket: str) -> Iterator[str]:
    """A container created on Azurite for this test, deleted afterwards."""
    azure_server.create_container(unique_bucket)
    yield unique_bucket
    _best_effort(lambda: azure_server.delete_container(unique_bucket))


@pytest.fixture
def new_gcs_bucket(gcs_server: servers.GCSServer, unique_bucket: str) -> Iterator[str]:
    """A bucket created on fake-gcs-server for this test, emptied and deleted afterwards."""
    gcs_server.create_bucket(unique_bucket)
    yield unique_bucket
    _best_effort(lambda: gcs_server.delete_bucket(unique_bucket, force=True))


def _best_effort(cleanup: Callable[[], None]) -> None:
    try:
        cleanup()
    except Exception as exc:  # cleanup must not turn a passing test into an error
        print(f"cleanup failed: {exc}", file=sys.stderr)
