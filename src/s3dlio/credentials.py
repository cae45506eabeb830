"""Refreshing credential providers: temporary keys (STS, web identity, SSO) and tokens.

A provider is a sync or async callable that returns a credential with its expiry; obstore calls
it again before the credential expires. Pass it to a :class:`~s3dlio.Client` (or
:func:`~s3dlio.configure`) as ``s3_credential_provider``, ``azure_credential_provider`` or
``gcs_credential_provider``::

    client = s3dlio.Client(s3_credential_provider=my_provider)

An S3 provider returns ``{"access_key_id", "secret_access_key", "token", "expires_at"}``
(``expires_at`` a timezone-aware ``datetime``, or None for "never"); an Azure or GCS provider
returns ``{"token", "expires_at"}`` (see obstore's ``obstore.auth`` for Azure AD and Google
helpers). :class:`AwsProfileProvider` covers everything boto3 resolves: profiles with
``role_arn``, SSO, ``credential_process``, web identity, instance metadata.

Providers travel with the client's settings when it is pickled, so give workers one that
pickles (``AwsProfileProvider`` does: it pickles to its profile name).
"""

from __future__ import annotations

import os
import threading
from datetime import timedelta
from typing import Any

from ._optional import require
from .config import CredentialProvider

__all__ = ["AwsProfileProvider", "CredentialProvider", "boto3_provider"]


class AwsProfileProvider:
    """S3 credentials resolved by boto3 (``pip install 's3dlio[aws]'``), refreshed as they expire.

    ``profile`` is an AWS shared-config profile (None: boto3's default chain: the environment,
    ``AWS_PROFILE``, SSO, web identity, instance metadata). boto3 runs ``role_arn``/SSO/
    ``credential_process`` profiles itself and refreshes their temporary keys. Each credential
    handed to obstore lives at most ``ttl`` before it is asked for again.
    """

    def __init__(self, profile: str | None = None, *, ttl: timedelta = timedelta(minutes=15)) -> None:
        require("boto3", "aws", "AwsProfileProvider")
        self.profile = profile
        self.ttl = ttl
        self._inner: Any = None
        self._pid = -1
        self._lock = threading.Lock()

    def _provider(self) -> Any:
        if self._inner is None or self._pid != os.getpid():
            with self._lock:
                if self._inner is None or self._pid != os.getpid():
                    boto3 = require("boto3", "aws", "AwsProfileProvider")
                    from obstore.auth.boto3 import Boto3CredentialProvider

                    session = boto3.Session(profile_name=self.profile)
                    self._inner = Boto3CredentialProvider(session, ttl=self.ttl)
                    self._pid = os.getpid()
        return self._inner

    def __call__(self) -> Any:
        return self._provider()()

    def __reduce__(self) -> tuple[type[AwsProfileProvider], tuple[str | None], dict[str, Any]]:
        return (type(self), (self.profile,), {"ttl": self.ttl})

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.ttl = state["ttl"]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AwsProfileProvider):
            return NotImplemented
        return (self.profile, self.ttl) == (other.profile, other.ttl)

    def __hash__(self) -> int:
        return hash((AwsProfileProvider, self.profile, self.ttl))

    def __repr__(self) -> str:
        return f"AwsProfileProvider(profile={self.profile!r})"


def boto3_provider(
    profile: str | None = None, *, ttl: timedelta = timedelta(minutes=15)
) -> CredentialProvider:
    """An :class:`AwsProfileProvider` for ``profile`` (the name the configuration errors suggest)."""
    return AwsProfileProvider(profile, ttl=ttl)
