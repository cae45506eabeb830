"""The manifest: the JSON record whose presence commits a checkpoint, and the key names around it.

Layout under a checkpoint's base URI (``<base>``)::

    <base>/manifests/ckpt-<step>-<ts>.json      one per committed attempt; written last
    <base>/shards/ckpt-<step>-<ts>/rank-<r>.bin  rank r's data: its entries back to back
    <base>/latest.json                          hint for other tools; never trusted by readers

``<ts>`` is ``YYYYmmdd-HHMMSS`` (the original's format) followed by ``-<microseconds>-<6 hex>``
so two attempts never share a name; it sorts in time order either way.

A manifest is a superset of the original s3dlio's (``format_version``, ``framework``,
``global_step``, ``epoch``, ``wall_time``, ``world_size``, ``shards`` with ``rank``, ``key``,
``size``, ``etag``, ``checksum``, ``status``, ``user_meta``). Each shard adds ``entries``: the
name, kind (``array``, ``bytes`` or ``object``), offset, size and ``crc32c:<hex>`` checksum of
every item in it, and for arrays the numpy ``descr`` (as in the ``.npy`` format, so structured
dtypes round-trip), shape and memory order. Manifests written by the original have no
``entries``; their shards are opaque bytes (see ``CheckpointReader.read_shard``).
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from numpy.lib import format as npy_format

from . import _crc

__all__ = [
    "FORMAT_VERSION",
    "CheckpointInfo",
    "EntryInfo",
    "Manifest",
    "ShardInfo",
    "attempt_prefix",
    "check_name",
    "check_shard_key",
    "dtype_from_json",
    "dtype_to_json",
    "manifest_key",
    "new_timestamp",
    "parse_manifest_key",
    "shard_key",
]

FORMAT_VERSION = 1
KINDS = ("array", "bytes", "object")
MANIFESTS = "manifests/"
SHARDS = "shards/"
LATEST = "latest.json"
_MANIFEST_NAME = re.compile(r"^ckpt-(\d+)-(.+)\.json$")


# --- names ----------------------------------------------------------------------------------
def check_name(name: object) -> str:
    """Validate an entry name: a non-empty string without ``/``, ``\\``, ``..`` or NUL."""
    if not isinstance(name, str):
        raise TypeError(f"a checkpoint entry name must be a string, got {type(name).__name__}")
    if not name or not name.strip():
        raise ValueError("a checkpoint entry name must not be empty")
    for bad in ("/", "\\", "..", "\x00"):
        if bad in name:
            raise ValueError(f"invalid checkpoint entry name {name!r}: it must not contain {bad!r}")
    if len(name) > 1024:
        raise ValueError(f"checkpoint entry name is too long ({len(name)} characters, at most 1024)")
    return name


def check_shard_key(key: object) -> str:
    """Validate a shard key (from a manifest, a ShardInfo or another rank): untrusted input.

    It must be a relative key under ``shards/`` whose segments are neither empty, ``.`` nor
    ``..``, without backslashes or NUL: so it can only ever name an object inside the checkpoint.
    """
    if not isinstance(key, str):
        raise ValueError(f"invalid shard key {key!r}: it must be a string")
    segments = key.split("/")
    if (
        not key.startswith(SHARDS)
        or len(segments) < 2
        or any(segment in ("", ".", "..") for segment in segments)
        or "\\" in key
        or "\x00" in key
    ):
        raise ValueError(
            f"invalid shard key {key!r}: it must be a relative key under {SHARDS!r} without "
            "'..', '.' or empty segments"
        )
    return key


def new_timestamp(now: datetime | None = None) -> str:
    """A fresh, unique, time-ordered ``<ts>`` for an attempt."""
    now = now or datetime.now(UTC)
    return f"{now:%Y%m%d-%H%M%S}-{now.microsecond:06d}-{secrets.token_hex(3)}"


def attempt_prefix(step: int, ts: str) -> str:
    """``shards/ckpt-<step>-<ts>/``: where one attempt's shards go."""
    return f"{SHARDS}ckpt-{step}-{ts}/"


def shard_key(step: int, ts: str, rank: int) -> str:
    """``shards/ckpt-<step>-<ts>/rank-<rank>.bin`` (relative to the base)."""
    return f"{attempt_prefix(step, ts)}rank-{rank}.bin"


def manifest_key(step: int, ts: str) -> str:
    """``manifests/ckpt-<step>-<ts>.json`` (relative to the base)."""
    return f"{MANIFESTS}ckpt-{step}-{ts}.json"


def parse_manifest_key(key: str) -> tuple[int, str] | None:
    """``(step, ts)`` of a manifest key or file name, or None if it is not one."""
    match = _MANIFEST_NAME.match(key.rsplit("/", 1)[-1])
    if match is None:
        return None
    return int(match.group(1)), match.group(2)


def timestamp_of_attempt(key: str) -> tuple[int, str] | None:
    """``(step, ts)`` from a shard key's attempt directory (``.../ckpt-<step>-<ts>/rank-N.bin``)."""
    parts = key.split("/")
    if len(parts) < 2:
        return None
    return parse_manifest_key(parts[-2] + ".json")


# --- dtypes ---------------------------------------------------------------------------------
def dtype_to_json(dtype: np.dtype[Any]) -> Any:
    """The ``.npy`` header's ``descr`` of ``dtype`` (a string, or nested lists for records)."""
    if dtype.hasobject:
        raise TypeError(
            f"arrays of dtype {dtype} hold Python objects and cannot be stored as raw bytes; "
            "use save_object() (pickle) for them"
        )
    return npy_format.dtype_to_descr(dtype)


def _descr_from_json(descr: Any) -> Any:
    if isinstance(descr, str):
        return descr
    if not isinstance(descr, list):
        raise ValueError(f"invalid dtype description {descr!r}")
    fields = []
    for item in descr:
        if not isinstance(item, list | tuple) or len(item) not in (2, 3):
            raise ValueError(f"invalid dtype field {item!r}")
        name = tuple(item[0]) if isinstance(item[0], list) else item[0]
        converted: tuple[Any, ...] = (name, _descr_from_json(item[1]))
        if len(item) == 3:
            converted += (tuple(item[2]),)
        fields.append(converted)
    return fields


def dtype_from_json(descr: Any) -> np.dtype[Any]:
    """Inverse of :func:`dtype_to_json`."""
    return npy_format.descr_to_dtype(_descr_from_json(descr))


# --- records --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class EntryInfo:
    """One saved item: where it is in its shard, its checksum, and for arrays dtype/shape/order."""

    name: str
    kind: str
    offset: int
    size: int
    crc32c: int
    rank: int = 0
    dtype: np.dtype[Any] | None = None
    shape: tuple[int, ...] | None = None
    order: str = "C"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "offset": self.offset,
            "size": self.size,
            "checksum": _crc.format_checksum(self.crc32c),
        }
        if self.kind == "array":
            assert self.dtype is not None and self.shape is not None
            out["dtype"] = dtype_to_json(self.dtype)
            out["shape"] = list(self.shape)
            out["order"] = self.order
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any], rank: int) -> EntryInfo:
        kind = data["kind"]
        if kind not in KINDS:
            raise ValueError(f"unknown entry kind {kind!r}")
        dtype = shape = None
        order = "C"
        if kind == "array":
            dtype = dtype_from_json(data["dtype"])
            shape = tuple(int(n) for n in data["shape"])
            order = data.get("order", "C")
            if order not in ("C", "F"):
                raise ValueError(f"invalid array order {order!r}")
        return cls(
            name=str(data["name"]),
            kind=kind,
            offset=int(data["offset"]),
            size=int(data["size"]),
            crc32c=_crc.parse_checksum(data["checksum"]),
            rank=rank,
            dtype=dtype,
            shape=shape,
            order=order,
        )


@dataclass(frozen=True, slots=True)
class ShardInfo:
    """What one rank wrote: hand it to ``CheckpointStore.commit`` (it pickles and JSON-encodes)."""

    rank: int
    key: str
    """The shard object's key relative to the checkpoint's base URI."""
    size: int
    crc32c: int | None
    step: int
    world_size: int
    entries: tuple[EntryInfo, ...] = ()
    etag: str | None = None
    legacy: bool = False
    """True for shards written by the original s3dlio (opaque bytes, no entries)."""

    def __post_init__(self) -> None:
        check_shard_key(self.key)

    def to_json(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "key": self.key,
            "size": self.size,
            "etag": self.etag,
            "checksum": None if self.crc32c is None else _crc.format_checksum(self.crc32c),
            "entries": [entry.to_json() for entry in self.entries],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], step: int, world_size: int) -> ShardInfo:
        rank = int(data["rank"])
        checksum = data.get("checksum")
        entries = data.get("entries")
        return cls(
            rank=rank,
            key=str(data["key"]),
            size=int(data["size"]),
            crc32c=None if checksum is None else _crc.parse_checksum(checksum),
            step=step,
            world_size=world_size,
            entries=tuple(EntryInfo.from_json(e, rank) for e in entries or ()),
            etag=data.get("etag"),
            legacy=entries is None,
        )


@dataclass(frozen=True, slots=True)
class Manifest:
    """A committed checkpoint (one attempt of one step)."""

    step: int
    epoch: int
    wall_time: str
    world_size: int
    shards: tuple[ShardInfo, ...]
    user_meta: Any = None
    framework: str = "s3dlio"
    status: str = "complete"
    format_version: int = FORMAT_VERSION
    key: str = ""
    """This manifest's key relative to the base URI (not stored in the JSON)."""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def size(self) -> int:
        """Bytes of all shards together."""
        return sum(shard.size for shard in self.shards)

    @property
    def time(self) -> datetime | None:
        """``wall_time`` as an aware datetime (None if it cannot be parsed)."""
        try:
            parsed = datetime.fromisoformat(self.wall_time)
        except (TypeError, ValueError):
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

    def to_bytes(self) -> bytes:
        body = {
            "format_version": self.format_version,
            "framework": self.framework,
            "global_step": self.step,
            "epoch": self.epoch,
            "wall_time": self.wall_time,
            "world_size": self.world_size,
            "shards": [shard.to_json() for shard in self.shards],
            "status": self.status,
            "user_meta": self.user_meta,
            **self.extra,
        }
        return json.dumps(body, indent=1, allow_nan=False).encode()

    @classmethod
    def from_bytes(cls, data: bytes, key: str = "") -> Manifest:
        body = json.loads(data)
        if not isinstance(body, dict):
            raise ValueError("a manifest must be a JSON object")
        step = int(body["global_step"])
        world_size = int(body["world_size"])
        version = int(body.get("format_version", 1))
        if version < 1 or version > FORMAT_VERSION:
            raise ValueError(f"unsupported manifest format_version {version} (this s3dlio reads 1)")
        shards = tuple(
            sorted(
                (ShardInfo.from_json(s, step, world_size) for s in body.get("shards", [])),
                key=lambda s: s.rank,
            )
        )
        known = {
            "format_version", "framework", "global_step", "epoch", "wall_time", "world_size",
            "shards", "status", "user_meta",
        }  # fmt: skip
        return cls(
            step=step,
            epoch=int(body.get("epoch") or 0),
            wall_time=str(body.get("wall_time", "")),
            world_size=world_size,
            shards=shards,
            user_meta=body.get("user_meta"),
            framework=str(body.get("framework", "")),
            status=str(body.get("status", "")),
            format_version=version,
            key=key,
            extra={k: v for k, v in body.items() if k not in known},
        )


@dataclass(frozen=True, slots=True)
class CheckpointInfo:
    """A committed checkpoint as listed by ``CheckpointStore.list()``."""

    step: int
    epoch: int
    time: datetime | None
    size: int
    """Bytes of all its shards."""
    world_size: int
    uri: str
    """The manifest's URI."""
    metadata: Any = None
    """The user metadata saved with it (a JSON value; usually a dict)."""
