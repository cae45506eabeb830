"""The exceptions s3dlio raises.

Every leaf also inherits the builtin a caller would naturally catch, so code written against the
standard library keeps working (``except FileNotFoundError`` catches a missing object). The base
class is a ``RuntimeError`` as well, because the original s3dlio raised ``RuntimeError`` for almost
everything and its clients (MLPerf Storage's DLIO, its checkpoint writers) catch that: every error
below is caught by ``except RuntimeError`` *and* by its builtin::

    S3dlioError(RuntimeError)
    ├── NotFoundError(FileNotFoundError)          the object or prefix does not exist
    │   └── BucketNotFoundError                   the bucket or container does not exist
    ├── AlreadyExistsError(FileExistsError)       e.g. creating a bucket that exists
    ├── AccessDeniedError(PermissionError)        bad or missing credentials (HTTP 401/403)
    ├── InvalidUriError(ValueError)               a URI that cannot be parsed
    ├── ConfigError(ValueError)                   an unknown or invalid option
    ├── StorageTimeoutError(TimeoutError)         connect or stall timeout after retries
    ├── IntegrityError(OSError)                   a size or checksum mismatch
    ├── ForkSafetyError(RuntimeError)             the storage client cannot run in this child
    └── StorageError(OSError)                     any other failure of the storage service

Errors about a URI carry it in ``.uri`` and in the message.
"""

from __future__ import annotations

__all__ = [
    "AccessDeniedError",
    "AlreadyExistsError",
    "BucketNotFoundError",
    "ConfigError",
    "ForkSafetyError",
    "IntegrityError",
    "InvalidUriError",
    "NotFoundError",
    "S3dlioError",
    "StorageError",
    "StorageTimeoutError",
]


class S3dlioError(RuntimeError):
    """Base class of every error s3dlio raises on purpose (also a ``RuntimeError``, see above)."""

    def __init__(self, message: str, uri: str | None = None) -> None:
        super().__init__(message)
        self.uri = uri

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""

    def __reduce__(self) -> tuple[type[S3dlioError], tuple[str, str | None]]:
        return (type(self), (str(self), self.uri))


class NotFoundError(S3dlioError, FileNotFoundError):
    """The object (or prefix) does not exist."""


class BucketNotFoundError(NotFoundError):
    """The bucket or container does not exist."""


class AlreadyExistsError(S3dlioError, FileExistsError):
    """The target already exists."""


class AccessDeniedError(S3dlioError, PermissionError):
    """The credentials are missing, wrong, or lack permission."""


class InvalidUriError(S3dlioError, ValueError):
    """The URI cannot be parsed or names an unsupported scheme."""


class ConfigError(S3dlioError, ValueError):
    """An option or setting is unknown or has an invalid value."""


class StorageTimeoutError(S3dlioError, TimeoutError):
    """The service did not answer in time, after retries."""


class IntegrityError(S3dlioError, OSError):
    """Data read back does not match its recorded size or checksum."""


class ForkSafetyError(S3dlioError, RuntimeError):
    """The storage client cannot be used in this forked process."""


class StorageError(S3dlioError, OSError):
    """Any other failure reported by the storage service."""
