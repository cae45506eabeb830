"""Bucket and container administration, which obstore does not offer.

- S3: obstore signs the request (a presigned URL for the bucket root); we send it with urllib.
- Azure: a Shared Key signed request to create/delete the container (a small, documented scheme;
  the Azure SDK would be a large dependency for two calls).
- GCS: only the emulator (``STORAGE_EMULATOR_HOST``) through its JSON API; on real GCS create
  buckets with your cloud tooling.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import TYPE_CHECKING, Literal

from .._native import native
from ..errors import AccessDeniedError, AlreadyExistsError, BucketNotFoundError, StorageError

if TYPE_CHECKING:
    from .network import NetworkStore

__all__ = ["bucket_request"]

_AZURE_VERSION = "2021-08-06"


def bucket_request(store: NetworkStore, action: Literal["create", "delete"]) -> None:
    """Create or delete ``store``'s bucket, raising our errors on failure."""
    uri = store.uri("")
    if store.scheme == "s3":
        method = "PUT" if action == "create" else "DELETE"
        url = native().sign(store.native_store, method, "", timedelta(minutes=5))
        request = urllib.request.Request(url, method=method)
    elif store.scheme == "az":
        request = _azure_request(store, "PUT" if action == "create" else "DELETE")
    else:
        request = _gcs_emulator_request(store, action)
    # The request URL can carry a presigned signature and session token: nothing that keeps it
    # (the HTTPError, its traceback) may leave this function, so errors are raised afterwards,
    # from plain values, with no chained cause.
    code, body, reason = 0, "", ""
    try:
        with urllib.request.urlopen(request, timeout=store.config.connect_timeout + 30) as reply:
            reply.read()
        return
    except urllib.error.HTTPError as exc:
        code, body = exc.code, exc.read().decode(errors="replace")[:200]
        exc.close()
    except urllib.error.URLError as exc:
        reason = str(exc.reason)
    del request
    if not code:
        raise StorageError(f"cannot {action} bucket {uri}: {reason}", uri)
    if code in (401, 403):
        raise AccessDeniedError(f"cannot {action} bucket {uri}: access denied: {body}", uri)
    if code == 409 and action == "create":
        raise AlreadyExistsError(f"cannot create bucket {uri}: it already exists", uri)
    if code == 404:
        raise BucketNotFoundError(f"cannot {action} bucket {uri}: it does not exist", uri)
    raise StorageError(f"cannot {action} bucket {uri}: HTTP {code}: {body}", uri)


def _azure_request(store: NetworkStore, method: str) -> urllib.request.Request:
    config = store.config
    account = config.azure_account or ""
    endpoint = (config.azure_endpoint or f"https://{account}.blob.core.windows.net").rstrip("/")
    url = f"{endpoint}/{store.bucket}?restype=container"
    date = format_datetime(datetime.now(UTC), usegmt=True)
    headers = {"x-ms-date": date, "x-ms-version": _AZURE_VERSION, "Content-Length": "0"}
    if config.azure_key:
        path = urllib.parse.urlsplit(url).path  # includes the account for emulator endpoints
        canonical_headers = f"x-ms-date:{date}\nx-ms-version:{_AZURE_VERSION}\n"
        resource = f"/{account}{path}\nrestype:container"
        string_to_sign = f"{method}\n\n\n\n\n\n\n\n\n\n\n\n{canonical_headers}{resource}"
        key = base64.b64decode(config.azure_key)
        digest = hmac.new(key, string_to_sign.encode(), hashlib.sha256).digest()
        headers["Authorization"] = f"SharedKey {account}:{base64.b64encode(digest).decode()}"
    return urllib.request.Request(url, method=method, headers=headers)


def _gcs_emulator_request(store: NetworkStore, action: str) -> urllib.request.Request:
    host = store.config.gcs_emulator_host
    if not host:
        raise NotImplementedError(
            f"creating or deleting {store.uri('')} needs GCS admin credentials; use gcloud or the "
            "console (s3dlio manages buckets on the GCS emulator only)"
        )
    base = host.rstrip("/") + "/storage/v1/b"
    if action == "create":
        body = json.dumps({"name": store.bucket}).encode()
        return urllib.request.Request(
            base, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
    return urllib.request.Request(f"{base}/{store.bucket}", method="DELETE")
