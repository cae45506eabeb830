"""Parsing of storage URIs.

Supported forms::

    s3://bucket/key          az://container/key        gs://bucket/key
    file:///absolute/path    direct:///absolute/path   (O_DIRECT local I/O)

For ``file://`` and ``direct://`` the "bucket" is empty and the key is the absolute path without
its leading slash, so ``f"file:///{key}"`` rebuilds the URI exactly like ``f"s3://bucket/{key}"``.

Local paths are normalised here, once, for every operation: repeated slashes and ``.`` segments
are dropped (a trailing ``/`` or ``/.`` keeps the directory form), and a ``..`` segment or a NUL
byte is rejected, so no later step can be led outside the path the caller named, or to ``/`` by
``file:///.``. Object-store keys are opaque names and are kept exactly as given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .errors import InvalidUriError

__all__ = ["NETWORK_SCHEMES", "SCHEMES", "ParsedUri", "Scheme", "parse_uri"]

Scheme = Literal["s3", "az", "gs", "file", "direct"]
SCHEMES: tuple[Scheme, ...] = ("s3", "az", "gs", "file", "direct")
NETWORK_SCHEMES: frozenset[str] = frozenset({"s3", "az", "gs"})
_ALIASES = {"azure": "az", "gcs": "gs"}


@dataclass(frozen=True, slots=True)
class ParsedUri:
    """A URI split into scheme, bucket and key (no leading slash)."""

    scheme: Scheme
    bucket: str
    key: str

    @property
    def is_local(self) -> bool:
        """True for ``file://`` and ``direct://``."""
        return self.scheme in ("file", "direct")

    @property
    def root(self) -> str:
        """The URI of the bucket (or of ``/`` for local schemes), with a trailing slash."""
        return f"{self.scheme}:///" if self.is_local else f"{self.scheme}://{self.bucket}/"

    def with_key(self, key: str) -> str:
        """The URI of ``key`` in the same bucket."""
        return self.root + key.lstrip("/")

    def __str__(self) -> str:
        return self.with_key(self.key)


def parse_uri(uri: object, *, allow_empty_key: bool = True) -> ParsedUri:
    """Split ``uri`` into its parts, raising :class:`InvalidUriError` naming the URI if it is bad."""
    if not isinstance(uri, str):
        raise InvalidUriError(
            f"expected a URI string such as 's3://bucket/key', got {type(uri).__name__}: {uri!r}",
            None,
        )
    scheme, sep, rest = uri.partition("://")
    if not sep:
        raise InvalidUriError(f"{uri!r} has no scheme; use s3://, az://, gs://, file:// or direct://", uri)
    scheme = _ALIASES.get(scheme.lower(), scheme.lower())
    if scheme not in SCHEMES:
        raise InvalidUriError(
            f"{uri!r} has unsupported scheme {scheme!r}; use one of {', '.join(SCHEMES)}", uri
        )
    if scheme in ("file", "direct"):
        if not rest.startswith("/"):
            raise InvalidUriError(f"{uri!r} must give an absolute path, as in '{scheme}:///tmp/data'", uri)
        return ParsedUri(scheme, "", _normalise_local_path(uri, rest))
    bucket, _, key = rest.partition("/")
    if not bucket:
        raise InvalidUriError(f"{uri!r} has an empty bucket name", uri)
    if not allow_empty_key and not key:
        raise InvalidUriError(f"{uri!r} names a bucket, not an object", uri)
    return ParsedUri(scheme, bucket, key)


def _normalise_local_path(uri: str, path: str) -> str:
    """The key of an absolute local ``path``: no empty or ``.`` segments; ``..`` is an error."""
    if "\x00" in path:
        raise InvalidUriError(f"{uri!r} contains a NUL byte, which no local path can hold", uri)
    segments = path.split("/")
    if ".." in segments:
        raise InvalidUriError(f"{uri!r} contains a '..' segment; give the absolute path without it", uri)
    key = "/".join(segment for segment in segments if segment not in ("", "."))
    if key and segments[-1] in ("", "."):
        key += "/"  # "dir/" and "dir/." name the directory
    return key
