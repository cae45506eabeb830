"""A drop-in for ``s3torchconnector`` (1.5): change one import, keep the code.

::

    # from s3torchconnector import S3IterableDataset, S3MapDataset, S3Checkpoint
    from s3dlio.compat.s3torchconnector import S3IterableDataset, S3MapDataset, S3Checkpoint

    dataset = S3MapDataset.from_prefix("s3://bucket/train/", region="us-east-1")
    reader = dataset[0]                  # an S3Reader: .bucket, .key, .read(), seek/tell
    checkpoint = S3Checkpoint(region="us-east-1")
    with checkpoint.writer("s3://bucket/ckpt.pt") as writer:
        torch.save(model.state_dict(), writer)
    with checkpoint.reader("s3://bucket/ckpt.pt") as reader:
        state = torch.load(reader)

Besides ``s3://``, every s3dlio URI works (``az://``, ``gs://``, ``file://``, ``direct://``).
Credentials and the endpoint come from the environment as for the rest of s3dlio; ``region``
and ``endpoint`` arguments override them. :class:`S3Client` offers the low-level calls
(``get_object``, ``put_object``, ``head_object``, ``list_objects``, ``delete_object``,
``copy_object``) that DLIO's ``s3_torch_storage`` uses.

Where the original s3dlio's shim and s3torchconnector differ, this module follows
s3torchconnector: ``ObjectInfo.key`` is the bucket-relative key (the original returned the full
URI), listing errors are raised (the original yielded an empty page), and readers are
file-like objects that ``torch.load`` can read directly.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Self

import torch.utils.data

from .. import _sync, ops, transfer
from ..config import Config
from ..errors import ConfigError, InvalidUriError
from ..stores import AsyncObjectWriter, open_store
from ..uri import ParsedUri, parse_uri
from ._common import derived_config, positive_int

__all__ = [
    "HeadObjectResult",
    "ListObjectResult",
    "ObjectInfo",
    "S3Checkpoint",
    "S3Client",
    "S3ClientConfig",
    "S3IterableDataset",
    "S3MapDataset",
    "S3Reader",
    "S3Writer",
]

MiB = 1024 * 1024


@dataclass(frozen=True)
class S3ClientConfig:
    """s3torchconnector's client settings.

    ``part_size`` sets the upload part and ranged-read size (``>= 5 MiB``), ``max_attempts``
    the attempts per request (``max_retries = max_attempts - 1``), ``force_path_style`` is
    accepted (s3dlio always uses path-style requests against a custom endpoint).
    ``throughput_target_gbps`` is accepted and has no effect: obstore has no throughput
    target; concurrency is set with ``max_concurrency``. ``unsigned=True`` and ``profile``
    are not supported here (a :class:`ConfigError`).
    """

    throughput_target_gbps: float = 10.0
    part_size: int = 8 * MiB
    unsigned: bool = False
    force_path_style: bool = False
    max_attempts: int = 10
    profile: str | None = None

    def __post_init__(self) -> None:
        positive_int("part_size", self.part_size, 5 * MiB)
        positive_int("max_attempts", self.max_attempts)
        if self.unsigned:
            raise ConfigError("S3ClientConfig(unsigned=True) is not supported by s3dlio")
        if self.profile is not None:
            raise ConfigError("S3ClientConfig(profile=...) is not supported; set AWS_PROFILE instead")


def _config(region: str | None, endpoint: str | None, client_config: S3ClientConfig | None) -> Config:
    settings: dict[str, Any] = {}
    if region:
        settings["s3_region"] = region
    if endpoint:
        settings["s3_endpoint"] = endpoint
    part_size = None
    if client_config is not None:
        if not isinstance(client_config, S3ClientConfig):
            raise TypeError(f"s3client_config must be an S3ClientConfig, got {type(client_config).__name__}")
        part_size = client_config.part_size
        settings["max_retries"] = client_config.max_attempts - 1
    return derived_config(part_size, None, **settings)


def _parse(uri: str) -> ParsedUri:
    parsed = parse_uri(uri)
    if not parsed.key or parsed.key.endswith("/"):
        raise InvalidUriError(f"{uri!r} names a bucket or directory, not an object", uri)
    return parsed


# --- readers and writers ------------------------------------------------------------------------
class S3Reader(io.BufferedIOBase):
    """A read-only, seekable file over one object, fetched on first read.

    ``start``/``end`` (``end`` inclusive, as s3torchconnector's low-level client) read only that
    byte range. ``read()`` returns ``bytes``; ``readinto`` fills a caller's buffer.
    """

    def __init__(self, uri: str, config: Config, start: int | None = None, end: int | None = None) -> None:
        super().__init__()
        self._parsed = _parse(uri)
        self._uri = uri
        self._config = config
        self._range = (start, end)
        self._data: memoryview | None = None
        self._pos = 0

    @property
    def bucket(self) -> str:
        """The bucket (container) of the object."""
        return self._parsed.bucket

    @property
    def key(self) -> str:
        """The object's key within its bucket."""
        return self._parsed.key

    @property
    def uri(self) -> str:
        return self._uri

    def _load(self) -> memoryview:
        if self._data is None:
            store = open_store(self._parsed, self._config)
            start, end = self._range
            if start is None and end is None:
                data = _sync.run(transfer.read_object(store, self._parsed.key, zero_copy=True))
            else:
                size = _sync.run(store.head(self._parsed.key)).size
                lo = positive_int("start", 0 if start is None else start, 0)
                hi = size if end is None else min(size, positive_int("end", end, 0) + 1)
                key = self._parsed.key
                data = _sync.run(transfer.read_range(store, key, lo, hi, zero_copy=True)) if lo < hi else b""
            self._data = memoryview(data).cast("B") if len(data) else memoryview(b"")
        return self._data

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        data = self._load()
        end = len(data) if size is None or size < 0 else min(len(data), self._pos + size)
        out = bytes(data[self._pos : end])
        self._pos = max(self._pos, end)
        return out

    def read1(self, size: int = -1) -> bytes:
        return self.read(size)

    def readinto(self, buffer: Any) -> int:
        data = self._load()
        target = memoryview(buffer).cast("B")
        count = max(0, min(len(target), len(data) - self._pos))
        target[:count] = data[self._pos : self._pos + count]
        self._pos += count
        return count

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        size = len(self._load())
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: size}.get(whence)
        if base is None:
            raise ValueError(f"invalid whence {whence}")
        position = base + offset
        if position < 0:
            raise ValueError(f"negative seek position {position}")
        self._pos = position
        return position

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        self._data = None
        super().close()

    def __repr__(self) -> str:
        return f"S3Reader(bucket={self.bucket!r}, key={self.key!r})"


class S3Writer(io.BufferedIOBase):
    """A write-only stream into one object: visible at ``close()``; an exception in ``with`` aborts."""

    def __init__(self, uri: str, config: Config) -> None:
        super().__init__()
        parsed = _parse(uri)
        self.uri = uri
        self._store = open_store(parsed, config)
        self._writer: AsyncObjectWriter | None = _sync.run(self._store.open_writer(parsed.key))
        self._written = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        if self._writer is None:
            raise ValueError(f"write to closed writer for {self.uri}")
        view = ops.as_buffer(data, self.uri)
        count: int = _sync.run(self._writer.write(view))
        self._written += count
        return count

    def tell(self) -> int:
        return self._written

    def flush(self) -> None:
        """Nothing to do: data is sent as parts fill up, and completed at ``close()``."""

    def close(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            try:
                _sync.run(writer.close())
            finally:
                super().close()

    def abort(self) -> None:
        """Discard the object."""
        writer, self._writer = self._writer, None
        if writer is not None:
            _sync.run(writer.abort())
            super().close()

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        if exc is not None:
            self.abort()
        else:
            self.close()

    def __del__(self) -> None:
        if getattr(self, "_writer", None) is not None:
            try:
                self.abort()
            except Exception:  # nothing can be raised from __del__
                return


# --- the low-level client -------------------------------------------------------------------------
@dataclass(frozen=True)
class ObjectInfo:
    """One listed object, as s3torchconnector describes it."""

    key: str
    etag: str | None = None
    size: int = 0
    last_modified: datetime | None = None
    storage_class: str | None = None


@dataclass(frozen=True)
class ListObjectResult:
    """One page of a listing: ``object_info`` and, with a delimiter, ``common_prefixes``."""

    object_info: list[ObjectInfo] = field(default_factory=list)
    common_prefixes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class HeadObjectResult:
    """The metadata of one object."""

    size: int
    etag: str | None
    last_modified: datetime | None


class S3Client:
    """s3torchconnector's ``S3Client``: bucket + key calls on s3dlio's stores.

    A ``key`` that is already a full URI (``s3://``, ``az://``, ``gs://``, ``file://``,
    ``direct://``) is used as is.
    """

    def __init__(
        self,
        region: str | None = None,
        endpoint: str | None = None,
        s3client_config: S3ClientConfig | None = None,
        **unsupported: Any,
    ) -> None:
        if unsupported:
            raise ConfigError(f"unsupported S3Client option(s) {sorted(unsupported)}")
        self.region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        self.endpoint = endpoint
        self.s3client_config = s3client_config or S3ClientConfig()
        self._config = _config(region, endpoint, s3client_config)

    def _uri(self, bucket: str, key: str) -> str:
        if "://" in key:
            return key
        return f"s3://{bucket}/{key.lstrip('/')}"

    def get_object(self, bucket: str, key: str, start: int | None = None, end: int | None = None) -> S3Reader:
        """A reader of the object (``start``/``end``: an inclusive byte range)."""
        return S3Reader(self._uri(bucket, key), self._config, start, end)

    def put_object(self, bucket: str, key: str) -> S3Writer:
        """A streaming writer; the object appears at ``close()``."""
        return S3Writer(self._uri(bucket, key), self._config)

    def head_object(self, bucket: str, key: str) -> HeadObjectResult:
        parsed = _parse(self._uri(bucket, key))
        info = _sync.run(open_store(parsed, self._config).head(parsed.key))
        return HeadObjectResult(size=info.size, etag=info.etag, last_modified=info.last_modified)

    def delete_object(self, bucket: str, key: str) -> None:
        parsed = _parse(self._uri(bucket, key))
        _sync.run(open_store(parsed, self._config).delete(parsed.key))

    def copy_object(self, src_bucket: str, src_key: str, dst_bucket: str, dst_key: str) -> None:
        data = self.get_object(src_bucket, src_key).read()
        with self.put_object(dst_bucket, dst_key) as writer:
            writer.write(data)

    def list_objects(
        self, bucket: str, prefix: str = "", delimiter: str = "", max_keys: int = 1000
    ) -> Iterator[ListObjectResult]:
        """Pages of at most ``max_keys`` objects under ``prefix`` (``delimiter='/'``: one level)."""
        positive_int("max_keys", max_keys)
        if delimiter not in ("", "/"):
            raise ConfigError(f"delimiter must be '' or '/', got {delimiter!r}")
        uri = prefix if "://" in prefix else f"s3://{bucket}/{prefix.lstrip('/')}"
        parsed = parse_uri(uri)
        store = open_store(parsed, self._config)
        stream = store.list_pages(parsed.key, not delimiter)
        pending: list[Any] = []
        exhausted = False

        async def take() -> ListObjectResult | None:
            nonlocal exhausted
            while len(pending) < max_keys and not exhausted:
                try:
                    pending.extend(await stream.__anext__())
                except StopAsyncIteration:
                    exhausted = True
            if not pending:
                return None
            chunk = pending[:max_keys]
            del pending[:max_keys]
            objects = [ObjectInfo(i.key, i.etag, i.size, i.last_modified) for i in chunk if not i.is_prefix]
            return ListObjectResult(objects, [i.key for i in chunk if i.is_prefix])

        try:
            while (page := _sync.run(take())) is not None:
                yield page
        finally:
            _sync.run(stream.aclose())


# --- datasets ------------------------------------------------------------------------------------
def _identity(reader: S3Reader) -> Any:
    return reader


def _object_uris(prefix: str, config: Config) -> list[str]:
    parsed = parse_uri(prefix)
    store = open_store(parsed, config)

    async def collect() -> list[str]:
        found: list[str] = []
        async for page in store.list_pages(parsed.key, True):
            found += [parsed.root + info.key for info in page if not info.is_prefix]
        return found

    return sorted(_sync.run(collect()))


def _shard(uris: list[str]) -> list[str]:
    """This process's and DataLoader worker's share, for ``enable_sharding=True``."""
    rank, world = 0, 1
    distributed = torch.distributed
    if distributed.is_available() and distributed.is_initialized():
        rank, world = distributed.get_rank(), distributed.get_world_size()
    info = torch.utils.data.get_worker_info()
    worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
    return uris[rank * workers + worker :: world * workers]


class _ObjectDataset:
    """What both datasets share: their objects, configuration, ``transform`` and constructors."""

    _uris: list[str]
    _config: Config

    def _setup(
        self,
        uris: Iterable[str],
        region: str | None,
        endpoint: str | None,
        transform: Callable[[S3Reader], Any],
        s3client_config: S3ClientConfig | None,
        reader_constructor: Any,
    ) -> None:
        if reader_constructor is not None:
            raise ConfigError("reader_constructor is not supported: s3dlio reads each object whole")
        self._config = _config(region, endpoint, s3client_config)
        self._uris = [str(u) for u in uris]
        self.region = region
        self.endpoint = endpoint
        self.transform = transform

    @classmethod
    def from_prefix(cls, s3_uri: str, *, region: str | None = None, **kwargs: Any) -> Self:
        """Every object under ``s3_uri``, sorted by URI (listed now)."""
        config = _config(region, kwargs.get("endpoint"), kwargs.get("s3client_config"))
        return cls(_object_uris(s3_uri, config), region=region, **kwargs)  # type: ignore[call-arg]

    @classmethod
    def from_objects(
        cls, object_uris: str | Iterable[str], *, region: str | None = None, **kwargs: Any
    ) -> Self:
        """Exactly these objects, in this order."""
        uris = [object_uris] if isinstance(object_uris, str) else list(object_uris)
        return cls(uris, region=region, **kwargs)  # type: ignore[call-arg]

    def __len__(self) -> int:
        return len(self._uris)


class S3IterableDataset(_ObjectDataset, torch.utils.data.IterableDataset[Any]):
    """Iterates ``transform(S3Reader)`` over a prefix or a list of object URIs."""

    def __init__(
        self,
        uris: Iterable[str],
        *,
        region: str | None = None,
        endpoint: str | None = None,
        transform: Callable[[S3Reader], Any] = _identity,
        s3client_config: S3ClientConfig | None = None,
        enable_sharding: bool = False,
        reader_constructor: Any = None,
    ) -> None:
        self._setup(uris, region, endpoint, transform, s3client_config, reader_constructor)
        self.enable_sharding = bool(enable_sharding)

    def __iter__(self) -> Iterator[Any]:
        uris = _shard(self._uris) if self.enable_sharding else self._uris
        for uri in uris:
            yield self.transform(S3Reader(uri, self._config))


class S3MapDataset(_ObjectDataset, torch.utils.data.Dataset[Any]):
    """Random access: ``dataset[i]`` is ``transform(S3Reader)`` of the ``i``-th object."""

    def __init__(
        self,
        uris: Iterable[str],
        *,
        region: str | None = None,
        endpoint: str | None = None,
        transform: Callable[[S3Reader], Any] = _identity,
        s3client_config: S3ClientConfig | None = None,
        reader_constructor: Any = None,
    ) -> None:
        self._setup(uris, region, endpoint, transform, s3client_config, reader_constructor)

    def __getitem__(self, index: int) -> Any:
        return self.transform(S3Reader(self._uris[index], self._config))


class S3Checkpoint:
    """``reader(uri)`` / ``writer(uri)`` file objects for ``torch.load`` / ``torch.save``."""

    def __init__(
        self,
        region: str | None = None,
        endpoint: str | None = None,
        s3client_config: S3ClientConfig | None = None,
    ) -> None:
        self.region = region
        self.endpoint = endpoint
        self._config = _config(region, endpoint, s3client_config)

    def reader(self, s3_uri: str) -> S3Reader:
        """A seekable reader of the checkpoint object."""
        return S3Reader(s3_uri, self._config)

    def writer(self, s3_uri: str) -> S3Writer:
        """A streaming writer; the checkpoint appears when it is closed."""
        return S3Writer(s3_uri, self._config)
