"""Credential providers (issue 12 item 6): refreshing temporary credentials per client.

Against SeaweedFS: a provider's keys are what the client signs with, they are asked for again
when they expire (so a rotation takes effect without a new client), sync and async providers
both work, and boto3-resolved AWS profiles are honoured through :class:`AwsProfileProvider`.
"""

from __future__ import annotations

import pickle
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import s3dlio
import servers
from s3dlio.credentials import AwsProfileProvider, boto3_provider


class Rotating:
    """Hands out the current keys, already expired when handed out (so every request refreshes)."""

    def __init__(self, access_key: str, secret_key: str) -> None:
        self.keys = (access_key, secret_key)
        self.calls = 0

    def __call__(self) -> dict[str, Any]:
        self.calls += 1
        return {
            "access_key_id": self.keys[0],
            "secret_access_key": self.keys[1],
            "token": None,
            "expires_at": datetime.now(UTC),
        }


def test_provider_keys_sign_and_rotate(s3_server: servers.S3Server, new_s3_bucket: str) -> None:
    provider = Rotating(s3_server.access_key, "not-yet-valid")
    client = s3dlio.Client(s3_endpoint=s3_server.endpoint, s3_credential_provider=provider, max_retries=0)
    uri = f"s3://{new_s3_bucket}/rotated"
    with pytest.raises(s3dlio.AccessDeniedError):
        client.put_bytes(uri, b"x")
    provider.keys = (s3_server.access_key, s3_server.secret_key)  # the rotation
    client.put_bytes(uri, b"x")
    assert client.get(uri) == b"x"
    assert provider.calls >= 3
    assert "not-yet-valid" not in repr(client.config) and "Rotating" in repr(client.config)


def test_async_provider(s3_server: servers.S3Server, new_s3_bucket: str) -> None:
    calls = []

    async def provider() -> dict[str, Any]:
        calls.append(1)
        return {
            "access_key_id": s3_server.access_key,
            "secret_access_key": s3_server.secret_key,
            "token": None,
            "expires_at": None,
        }

    client = s3dlio.Client(s3_endpoint=s3_server.endpoint, s3_credential_provider=provider)
    client.put_bytes(f"s3://{new_s3_bucket}/a", b"async")
    assert client.get(f"s3://{new_s3_bucket}/a") == b"async"
    assert calls


def test_provider_must_be_callable() -> None:
    with pytest.raises(s3dlio.ConfigError, match="s3_credential_provider"):
        s3dlio.Client(s3_credential_provider="AKIA...")  # type: ignore[arg-type]


def test_aws_profile_through_boto3(
    s3_server: servers.S3Server, new_s3_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """boto3 resolves the profile (here static keys; role_arn and SSO go the same way)."""
    credentials = tmp_path / "credentials"
    credentials.write_text(
        f"[seaweed]\naws_access_key_id = {s3_server.access_key}\n"
        f"aws_secret_access_key = {s3_server.secret_key}\n"
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    provider = boto3_provider("seaweed")
    assert isinstance(provider, AwsProfileProvider)
    client = s3dlio.Client(s3_endpoint=s3_server.endpoint, s3_credential_provider=provider)
    client.put_bytes(f"s3://{new_s3_bucket}/p", b"profile")
    assert s3_server.request("GET", f"/{new_s3_bucket}/p").body == b"profile"
    clone = pickle.loads(pickle.dumps(client))  # travels to workers by its profile name
    assert clone.config == client.config
    assert clone.get(f"s3://{new_s3_bucket}/p") == b"profile"


def test_role_profile_error_points_to_the_provider(tmp_path: Path) -> None:
    config_file = tmp_path / "config"
    config_file.write_text("[profile r]\nrole_arn = arn:aws:iam::1:role/x\nsource_profile = b\n")
    env = {"AWS_PROFILE": "r", "AWS_CONFIG_FILE": str(config_file)}
    with pytest.raises(s3dlio.ConfigError, match=r"boto3_provider") as info:
        s3dlio.Client.from_env(env)
    assert "s3dlio.credentials" in str(info.value)
