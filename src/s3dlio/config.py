"""Configuration: one frozen :class:`Config`, built from the environment and ``configure()``.

The active configuration is computed on every call (environment first, then anything set with
:func:`configure`), so a change takes effect for the next operation, not only before the first.

Environment variables (the cloud SDKs' usual names):

==================================  ==========================================================
``AWS_ENDPOINT_URL``                S3 endpoint (also ``AWS_ENDPOINT_URL_S3``), e.g. MinIO
``AWS_REGION``                      region (falls back to ``AWS_DEFAULT_REGION``, then us-east-1)
``AWS_ACCESS_KEY_ID``, ...          ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``
``AWS_PROFILE``                     read keys/region/endpoint from ``~/.aws/credentials|config``
``AZURE_STORAGE_ACCOUNT``           storage account name
``AZURE_STORAGE_KEY``               account key
``AZURE_STORAGE_CONNECTION_STRING`` account, key and ``BlobEndpoint`` (how to reach Azurite)
``AZURE_STORAGE_ENDPOINT``          blob endpoint override (also ``S3DLIO_AZURE_ENDPOINT``)
``GOOGLE_APPLICATION_CREDENTIALS``  service-account JSON file
``STORAGE_EMULATOR_HOST``           GCS emulator URL (no OAuth is attempted)
``S3DLIO_BACKEND``                  accepted for compatibility: ``native``, ``arrow`` or
                                    ``obstore`` all select the one obstore-based core
``S3DLIO_USE_OPTIMIZED_HTTP``       accepted for compatibility; has no effect
``S3DLIO_OP_LOG``                   op-log path: every storage request recorded (``op_log``)
==================================  ==========================================================
"""

from __future__ import annotations

import configparser
import dataclasses
import math
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict, Unpack

from .errors import ConfigError

__all__ = ["Config", "CredentialProvider", "Settings", "configure", "get_config", "reset_config"]

MiB = 1024 * 1024
CredentialProvider = Callable[[], Any]
"""A sync or async callable that returns a fresh credential (obstore's provider protocol)."""
DEFAULT_RANGE_GET_THRESHOLD = 256 * MiB  # measured: splitting 64 MiB objects lost 2x (performance.md)
_BACKENDS = ("native", "arrow", "obstore")
LOAD_BALANCE_POLICIES = ("round_robin", "least_connections")


@dataclass(frozen=True, slots=True)
class Config:
    """All settings of the storage core. Every field has a safe default."""

    # S3 and S3-compatible services
    s3_endpoint: str | None = None
    s3_region: str = "us-east-1"
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None
    aws_session_token: str | None = None
    s3_virtual_hosted_style: bool = False
    s3_endpoints: tuple[str, ...] = ()
    """Several endpoints of one S3 service (gateways of one cluster): requests are balanced
    over them by ``load_balance``; an endpoint that fails is taken out for
    ``endpoint_retry_after`` seconds. Replaces ``s3_endpoint``. See ``docs/api.md``."""
    load_balance: str = "round_robin"
    """``round_robin`` or ``least_connections`` (with ``s3_endpoints``)."""
    endpoint_retry_after: float = 30.0
    """Seconds a failed endpoint stays out before it is tried again."""
    # Azure Blob
    azure_account: str | None = None
    azure_key: str | None = None
    azure_endpoint: str | None = None
    # Google Cloud Storage
    gcs_credentials_path: str | None = None
    gcs_emulator_host: str | None = None
    # Transfers
    connect_timeout: float = 10.0
    """Seconds to open a connection (retried with jittered backoff)."""
    stall_timeout: float = 30.0
    """Seconds a transfer may go without receiving any data; a slow but moving one never times out."""
    max_retries: int = 10
    """Retries of transient errors (5xx, connection resets, timeouts) with exponential backoff."""
    retry_timeout: float = 180.0
    """Give up retrying one request after this many seconds."""
    part_size: int = 8 * MiB
    """Size of each ranged GET and multipart/block upload part."""
    multipart_threshold: int = 16 * MiB
    """Uploads larger than this use multipart (S3, GCS) or block (Azure) upload."""
    range_get_threshold: int = 0
    """Downloads larger than this split into parallel ranged GETs of ``part_size``. ``0`` (the
    default) means 256 MiB or ``part_size``, whichever is larger; an explicit value below
    ``part_size`` is refused (an object between the two cannot be split into whole parts)."""
    max_concurrency: int = 16
    """Parts of one large object transferred at once."""
    fsync: bool = False
    """Flush local files (file://, direct://) and their directory to the device when written,
    so that a finished write survives a power loss; off by default (a crash is survived
    either way, thanks to the atomic rename)."""
    op_log: str | None = None
    """Path of a zstd-compressed TSV op-log (warp's columns) recording every storage request;
    ``S3DLIO_OP_LOG``. See :mod:`s3dlio.oplog`."""
    backend: str = "native"
    """Compatibility setting (``S3DLIO_BACKEND``); every value selects the obstore core."""
    # Refreshing credentials (temporary keys: STS, web identity, SSO, Azure AD, GCP tokens)
    s3_credential_provider: CredentialProvider | None = None
    """A sync or async callable returning obstore's ``S3Credential`` dict (``access_key_id``,
    ``secret_access_key``, ``token``, ``expires_at``); called again before ``expires_at``.
    Replaces the static AWS keys. See :mod:`s3dlio.credentials`."""
    azure_credential_provider: CredentialProvider | None = None
    """A sync or async callable returning an Azure credential (``{"token": ..., "expires_at": ...}``
    for a bearer token, or a SAS); replaces ``azure_key``."""
    gcs_credential_provider: CredentialProvider | None = None
    """A sync or async callable returning a GCS bearer token (``{"token": ..., "expires_at": ...}``)."""

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{f.name}={_mask(f.name, getattr(self, f.name))}" for f in dataclasses.fields(self)
        )
        return f"Config({shown})"

    __str__ = __repr__

    def __post_init__(self) -> None:
        for name in ("connect_timeout", "stall_timeout", "retry_timeout", "endpoint_retry_after"):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
                or value <= 0
            ):
                raise ConfigError(f"{name} must be a positive, finite number of seconds, got {value!r}")
        if self.range_get_threshold == 0 and isinstance(self.part_size, int):
            object.__setattr__(self, "range_get_threshold", max(DEFAULT_RANGE_GET_THRESHOLD, self.part_size))
        for name in ("part_size", "multipart_threshold", "range_get_threshold", "max_concurrency"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        if not isinstance(self.fsync, bool):
            raise ConfigError(f"fsync must be True or False, got {self.fsync!r}")
        if isinstance(self.max_retries, bool) or not isinstance(self.max_retries, int):
            raise ConfigError(f"max_retries must be an integer, got {self.max_retries!r}")
        if self.max_retries < 0:
            raise ConfigError(f"max_retries must be >= 0, got {self.max_retries!r}")
        if self.part_size < 5 * MiB:
            raise ConfigError(f"part_size must be at least 5 MiB (S3's minimum), got {self.part_size}")
        if self.op_log is not None and (not isinstance(self.op_log, str) or not self.op_log):
            raise ConfigError(f"op_log must be a file path (str) or None, got {self.op_log!r}")
        if self.range_get_threshold < self.part_size:
            raise ConfigError(
                f"range_get_threshold ({self.range_get_threshold}) must be >= part_size "
                f"({self.part_size}): set both, or leave range_get_threshold at its default"
            )
        for name in PROVIDER_FIELDS:
            provider = getattr(self, name)
            if provider is not None and not callable(provider):
                kind = type(provider).__name__
                raise ConfigError(f"{name} must be a callable returning a credential, got {kind}")
        if isinstance(self.s3_endpoints, str) or not isinstance(self.s3_endpoints, tuple | list):
            raise ConfigError(f"s3_endpoints must be a list of endpoint URLs, got {self.s3_endpoints!r}")
        object.__setattr__(self, "s3_endpoints", tuple(self.s3_endpoints))
        for endpoint in self.s3_endpoints:
            if not isinstance(endpoint, str) or not endpoint.startswith(("http://", "https://")):
                raise ConfigError(f"each of s3_endpoints must be an http(s):// URL, got {endpoint!r}")
        if len(set(self.s3_endpoints)) != len(self.s3_endpoints):
            raise ConfigError(f"s3_endpoints lists an endpoint twice: {list(self.s3_endpoints)}")
        if self.load_balance not in LOAD_BALANCE_POLICIES:
            raise ConfigError(
                f"load_balance must be one of {LOAD_BALANCE_POLICIES}, got {self.load_balance!r}"
            )
        if self.backend not in _BACKENDS:
            raise ConfigError(f"backend must be one of {_BACKENDS}, got {self.backend!r}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Config:
        """Build a configuration from environment variables (``os.environ`` by default)."""
        env = dict(os.environ if environ is None else environ)
        values: dict[str, Any] = {}
        profile = _aws_profile(env.get("AWS_PROFILE"), env)
        values["s3_endpoint"] = (
            env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or profile.get("endpoint_url")
        )
        values["s3_region"] = (
            env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or profile.get("region") or "us-east-1"
        )
        values["aws_access_key_id"] = env.get("AWS_ACCESS_KEY_ID") or profile.get("aws_access_key_id")
        values["aws_secret_access_key"] = env.get("AWS_SECRET_ACCESS_KEY") or profile.get(
            "aws_secret_access_key"
        )
        values["aws_session_token"] = env.get("AWS_SESSION_TOKEN") or profile.get("aws_session_token")
        conn = _parse_connection_string(env.get("AZURE_STORAGE_CONNECTION_STRING", ""))
        values["azure_account"] = env.get("AZURE_STORAGE_ACCOUNT") or conn.get("AccountName")
        values["azure_key"] = env.get("AZURE_STORAGE_KEY") or conn.get("AccountKey")
        values["azure_endpoint"] = (
            env.get("S3DLIO_AZURE_ENDPOINT") or env.get("AZURE_STORAGE_ENDPOINT") or conn.get("BlobEndpoint")
        )
        values["gcs_credentials_path"] = env.get("GOOGLE_APPLICATION_CREDENTIALS")
        emulator = env.get("STORAGE_EMULATOR_HOST")
        if emulator and "://" not in emulator:
            emulator = "http://" + emulator
        values["gcs_emulator_host"] = emulator
        values["op_log"] = env.get("S3DLIO_OP_LOG") or None
        backend = env.get("S3DLIO_BACKEND")
        if backend:
            values["backend"] = backend.strip().lower()
        return cls(**values)

    def replace(self, **changes: Any) -> Config:
        """A copy with ``changes`` applied (unknown names raise :class:`ConfigError`)."""
        _check_names(changes)
        if (
            "part_size" in changes
            and "range_get_threshold" not in changes
            and self.range_get_threshold == max(DEFAULT_RANGE_GET_THRESHOLD, self.part_size)
        ):
            changes = {**changes, "range_get_threshold": 0}  # a derived default follows part_size
        return dataclasses.replace(self, **changes)


SECRET_FIELDS = frozenset({"aws_secret_access_key", "aws_session_token", "azure_key"})
"""Settings shown as ``'***'`` in every repr and never put into a message or a log record."""
PROVIDER_FIELDS = frozenset(
    {"s3_credential_provider", "azure_credential_provider", "gcs_credential_provider"}
)


def _mask(name: str, value: object) -> str:
    if value is None:
        return "None"
    if name in SECRET_FIELDS:
        return "'***'"
    if name in PROVIDER_FIELDS:  # its repr may show what it holds
        return f"<{type(value).__qualname__}>"
    return repr(value)


class Settings(TypedDict, total=False):
    """The keyword arguments of :func:`configure` and :class:`~s3dlio.Client`: one per
    :class:`Config` field (``None`` drops a :func:`configure` override)."""

    s3_endpoint: str | None
    s3_region: str | None
    aws_access_key_id: str | None
    aws_secret_access_key: str | None
    aws_session_token: str | None
    s3_virtual_hosted_style: bool | None
    s3_endpoints: tuple[str, ...] | list[str] | None
    load_balance: str | None
    endpoint_retry_after: float | None
    azure_account: str | None
    azure_key: str | None
    azure_endpoint: str | None
    gcs_credentials_path: str | None
    gcs_emulator_host: str | None
    connect_timeout: float | None
    stall_timeout: float | None
    max_retries: int | None
    retry_timeout: float | None
    part_size: int | None
    multipart_threshold: int | None
    range_get_threshold: int | None
    max_concurrency: int | None
    fsync: bool | None
    op_log: str | None
    backend: str | None
    s3_credential_provider: CredentialProvider | None
    azure_credential_provider: CredentialProvider | None
    gcs_credential_provider: CredentialProvider | None


_lock = threading.Lock()
_overrides: dict[str, Any] = {}


def _check_names(changes: dict[str, Any]) -> None:
    valid = {f.name for f in dataclasses.fields(Config)}
    unknown = sorted(set(changes) - valid)
    if unknown:
        raise ConfigError(f"unknown setting(s) {unknown}; valid settings: {sorted(valid)}")


def configure(**settings: Unpack[Settings]) -> Config:
    """Override settings for every later call in this process, e.g. ``configure(part_size=16<<20)``.

    Returns the resulting active configuration. Pass ``None`` to drop an override.
    """
    global _overrides
    _check_names(dict(settings))
    with _lock:
        merged = {**_overrides, **settings}
        merged = {k: v for k, v in merged.items() if v is not None}
        config = Config.from_env().replace(**merged)  # validates before committing
        _overrides = merged  # replaced, never changed in place: readers take a snapshot
    return config


def reset_config() -> None:
    """Drop every override set with :func:`configure`."""
    global _overrides
    with _lock:
        _overrides = {}


def _after_fork_in_child() -> None:
    global _lock
    _lock = threading.Lock()  # another thread may have held it at fork


os.register_at_fork(after_in_child=_after_fork_in_child)


_ENV_NAMES = (
    "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE", "AZURE_STORAGE_ACCOUNT", "AZURE_STORAGE_KEY",
    "AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_ENDPOINT", "S3DLIO_AZURE_ENDPOINT",
    "GOOGLE_APPLICATION_CREDENTIALS", "STORAGE_EMULATOR_HOST", "S3DLIO_BACKEND", "S3DLIO_OP_LOG",
)  # fmt: skip
_memo: tuple[tuple[object, ...], Config] | None = None
_ENV_KEYS: tuple[object, ...] = tuple(getattr(os.environ, "encodekey", str)(n) for n in _ENV_NAMES)


def _raw_environ() -> Any:
    """``os.environ``'s underlying dict where available (a plain dict lookup is 20x cheaper)."""
    raw = getattr(os.environ, "_data", None)
    return raw if isinstance(raw, dict) else os.environ


def get_config() -> Config:
    """The active configuration: environment variables, then :func:`configure` overrides.

    Cheap to call per operation: the result is reused while the environment and the overrides
    are unchanged.
    """
    global _memo
    raw = _raw_environ()
    overrides = _overrides  # one consistent snapshot (configure() replaces the dict)
    snapshot = (*(raw.get(name) for name in _ENV_KEYS), *sorted(overrides.items()))
    memo = _memo
    if memo is not None and memo[0] == snapshot:
        return memo[1]
    base = Config.from_env()
    config = base.replace(**overrides) if overrides else base
    _memo = (snapshot, config)
    return config


def _parse_connection_string(text: str) -> dict[str, str]:
    parts: dict[str, str] = {}
    for item in text.split(";"):
        name, sep, value = item.partition("=")
        if sep and name.strip():
            parts[name.strip()] = value.strip()
    return parts


_UNSUPPORTED_PROFILE_KEYS = (
    "role_arn",
    "web_identity_token_file",
    "credential_process",
    "sso_session",
    "sso_start_url",
    "sso_account_id",
    "sso_role_name",
)


def _aws_profile(name: str | None, env: Mapping[str, str]) -> dict[str, str]:
    """Settings of an AWS shared-config profile, or nothing when no profile is named.

    The files are the ones named in ``env`` (``AWS_CONFIG_FILE``, ``AWS_SHARED_CREDENTIALS_FILE``),
    else ``~/.aws/config`` and ``~/.aws/credentials``. Only static keys, region and endpoint are
    read; a profile that gets its keys from STS (``role_arn``), SSO or a process is refused.
    """
    if not name:
        return {}
    home = Path.home()
    found: dict[str, str] = {}
    for path, section in (
        (env.get("AWS_CONFIG_FILE") or home / ".aws" / "config", f"profile {name}"),
        (env.get("AWS_SHARED_CREDENTIALS_FILE") or home / ".aws" / "credentials", name),
    ):
        parser = configparser.ConfigParser(interpolation=None)
        parser.read(path)
        for candidate in (section, name):
            if parser.has_section(candidate):
                found.update(parser[candidate])
    if not found:
        raise ConfigError(f"AWS_PROFILE={name!r} is not defined in ~/.aws/config or ~/.aws/credentials")
    unsupported = [key for key in _UNSUPPORTED_PROFILE_KEYS if key in found]
    if unsupported:
        raise ConfigError(
            f"AWS_PROFILE={name!r} gets its credentials through {', '.join(unsupported)}, which s3dlio "
            "does not run itself: pass a refreshing provider instead, e.g. "
            "Client(s3_credential_provider=s3dlio.credentials.boto3_provider(profile=...)), or export "
            "static keys (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN)"
        )
    return found
