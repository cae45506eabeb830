from __future__ import annotations

from pathlib import Path

import pytest

import s3dlio
from s3dlio.config import Config
from s3dlio.stores import store_for


def test_sdk_variables() -> None:
    config = Config.from_env(
        {
            "AWS_ENDPOINT_URL": "http://127.0.0.1:9000",
            "AWS_DEFAULT_REGION": "eu-west-1",
            "AWS_ACCESS_KEY_ID": "id",
            "AWS_SECRET_ACCESS_KEY": "secret",
            "AWS_SESSION_TOKEN": "token",
            "AZURE_STORAGE_CONNECTION_STRING": (
                "DefaultEndpointsProtocol=http;AccountName=acct;AccountKey=a2V5;"
                "BlobEndpoint=http://127.0.0.1:10000/acct;"
            ),
            "STORAGE_EMULATOR_HOST": "127.0.0.1:4443",
            "GOOGLE_APPLICATION_CREDENTIALS": "/tmp/sa.json",
            "S3DLIO_BACKEND": "arrow",
        }
    )
    assert config.s3_endpoint == "http://127.0.0.1:9000"
    assert config.s3_region == "eu-west-1"
    assert (config.aws_access_key_id, config.aws_secret_access_key) == ("id", "secret")
    assert config.aws_session_token == "token"
    assert (config.azure_account, config.azure_key) == ("acct", "a2V5")
    assert config.azure_endpoint == "http://127.0.0.1:10000/acct"
    assert config.gcs_emulator_host == "http://127.0.0.1:4443"
    assert config.gcs_credentials_path == "/tmp/sa.json"
    assert config.backend == "arrow"


def test_aws_region_wins_over_default_region() -> None:
    config = Config.from_env({"AWS_REGION": "a", "AWS_DEFAULT_REGION": "b"})
    assert config.s3_region == "a"


def test_explicit_azure_variables_win_over_connection_string() -> None:
    config = Config.from_env(
        {
            "AZURE_STORAGE_ACCOUNT": "explicit",
            "AZURE_STORAGE_CONNECTION_STRING": "AccountName=fromcs;AccountKey=k",
            "AZURE_STORAGE_ENDPOINT": "http://127.0.0.1:1/explicit",
        }
    )
    assert config.azure_account == "explicit"
    assert config.azure_endpoint == "http://127.0.0.1:1/explicit"


def test_aws_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    credentials = tmp_path / "credentials"
    credentials.write_text("[train]\naws_access_key_id = pid\naws_secret_access_key = psecret\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "missing-config"))
    monkeypatch.setenv("AWS_PROFILE", "train")
    config = Config.from_env()
    assert (config.aws_access_key_id, config.aws_secret_access_key) == ("pid", "psecret")
    monkeypatch.setenv("AWS_PROFILE", "nope")
    with pytest.raises(s3dlio.ConfigError, match="nope"):
        Config.from_env()


def test_aws_profile_files_come_from_the_given_mapping(tmp_path: Path) -> None:
    """``Config.from_env(mapping)`` reads the profile files named in the mapping, not in
    ``os.environ`` (the test session points those at /dev/null), issue 11 item 19."""
    credentials = tmp_path / "credentials"
    credentials.write_text("[train]\naws_access_key_id = mid\naws_secret_access_key = msecret\n")
    config_file = tmp_path / "config"
    config_file.write_text("[profile train]\nregion = eu-north-1\nendpoint_url = http://127.0.0.1:1\n")
    env = {
        "AWS_PROFILE": "train",
        "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
        "AWS_CONFIG_FILE": str(config_file),
    }
    config = Config.from_env(env)
    assert (config.aws_access_key_id, config.aws_secret_access_key) == ("mid", "msecret")
    assert (config.s3_region, config.s3_endpoint) == ("eu-north-1", "http://127.0.0.1:1")


@pytest.mark.parametrize(
    "lines",
    [
        "role_arn = arn:aws:iam::123456789012:role/train\nsource_profile = base",
        "sso_session = corp\nsso_account_id = 123456789012\nsso_role_name = train",
        "sso_start_url = https://corp.awsapps.com/start\nsso_region = us-east-1",
        "credential_process = /usr/bin/get-creds",
        "web_identity_token_file = /var/run/token\nrole_arn = arn:aws:iam::1:role/x",
    ],
)
def test_aws_profiles_we_cannot_honour_raise(tmp_path: Path, lines: str) -> None:
    """A profile that gets its keys from STS, SSO or a process is refused with a clear error,
    never silently ignored (which used to send unsigned requests or the wrong identity)."""
    config_file = tmp_path / "config"
    config_file.write_text(f"[profile train]\nregion = us-east-1\n{lines}\n")
    env = {
        "AWS_PROFILE": "train",
        "AWS_CONFIG_FILE": str(config_file),
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    }
    with pytest.raises(s3dlio.ConfigError, match=r"train.*credential_provider"):
        Config.from_env(env)


def test_aws_profile_with_static_keys_beside_role_is_still_refused(tmp_path: Path) -> None:
    config_file = tmp_path / "config"
    config_file.write_text("[profile train]\nrole_arn = arn:aws:iam::1:role/x\nsource_profile = base\n")
    credentials = tmp_path / "credentials"
    credentials.write_text("[train]\naws_access_key_id = a\naws_secret_access_key = b\n")
    env = {
        "AWS_PROFILE": "train",
        "AWS_CONFIG_FILE": str(config_file),
        "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
    }
    with pytest.raises(s3dlio.ConfigError, match="role_arn"):
        Config.from_env(env)


def test_unknown_backend_is_rejected() -> None:
    with pytest.raises(s3dlio.ConfigError, match="backend"):
        Config.from_env({"S3DLIO_BACKEND": "turbo"})


def test_configure_takes_effect_after_first_use(tmp_path: Path) -> None:
    s3dlio.put_bytes(f"file://{tmp_path}/x", b"1")  # the library is in use already
    try:
        s3dlio.configure(part_size=16 * 1024 * 1024)
        store, _ = store_for(f"file://{tmp_path}/x")
        assert store.config.part_size == 16 * 1024 * 1024
        assert s3dlio.get_config().part_size == 16 * 1024 * 1024
    finally:
        s3dlio.reset_config()
    assert s3dlio.get_config().part_size == 8 * 1024 * 1024


def test_environment_is_read_at_call_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "ap-south-1")
    assert s3dlio.get_config().s3_region == "ap-south-1"
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    assert s3dlio.get_config().s3_region == "us-west-2"


@pytest.mark.parametrize(
    "settings",
    [
        {"no_such_setting": 1},
        {"part_size": 1024},
        {"stall_timeout": 0},
        {"max_retries": -1},
        {"part_size": "8M"},
    ],
)
def test_bad_settings(settings: dict[str, object]) -> None:
    with pytest.raises(s3dlio.ConfigError):
        s3dlio.configure(**settings)
    assert s3dlio.get_config() == Config.from_env()


def test_timeouts_are_on_by_default() -> None:
    config = Config()
    assert config.connect_timeout > 0
    assert config.stall_timeout > 0


@pytest.mark.parametrize("name", ["connect_timeout", "stall_timeout", "retry_timeout"])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_timeouts_are_rejected(name: str, value: float) -> None:
    """NaN compares False with everything, so ``value <= 0`` let it through (issue 11.11)."""
    with pytest.raises(s3dlio.ConfigError, match=name):
        s3dlio.configure(**{name: value})
    with pytest.raises(s3dlio.ConfigError, match=name):
        Config(**{name: value})  # type: ignore[arg-type]
    assert s3dlio.get_config() == Config.from_env()


def test_range_threshold_below_part_size_is_rejected() -> None:
    """An object between the two sizes would be read as one part that ends early: a false
    IntegrityError. The combination is refused, naming both settings (issue 11.11)."""
    with pytest.raises(s3dlio.ConfigError, match=r"range_get_threshold.*part_size"):
        Config(part_size=16 * 1024 * 1024, range_get_threshold=8 * 1024 * 1024)
    with pytest.raises(s3dlio.ConfigError, match=r"range_get_threshold.*part_size"):
        s3dlio.configure(part_size=16 * 1024 * 1024, range_get_threshold=8 * 1024 * 1024)
    config = Config(part_size=16 * 1024 * 1024, range_get_threshold=16 * 1024 * 1024)
    assert config.range_get_threshold == config.part_size


def test_large_part_size_alone_raises_the_range_threshold() -> None:
    """``configure(part_size=64 MiB)`` alone must keep working: the default threshold follows."""
    try:
        config = s3dlio.configure(part_size=512 * 1024 * 1024)
        assert config.range_get_threshold == 512 * 1024 * 1024
        assert s3dlio.get_config().range_get_threshold == 512 * 1024 * 1024
    finally:
        s3dlio.reset_config()
