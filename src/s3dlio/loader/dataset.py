"""Datasets: an indexable list of objects (from a prefix or a list of URIs) or of in-memory items.

A :class:`PyDataset` is listed once, at creation: its objects are sorted by URI and their
sizes (from the listing) are kept, so that large objects can be read as parallel ranges and
adaptive tuning can look at the sizes. Items are fetched on demand: ``ds[i]`` (blocking) or
``await ds.get_async(i)``.

Creating a dataset from a prefix with no objects raises :class:`EmptyDatasetError` (a
``ValueError``) naming the URI: "no objects under ...". A URI that names one object rather
than a directory gives a dataset of that one object.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from .. import _context, _sync, transfer
from ..errors import IntegrityError, InvalidUriError, NotFoundError, S3dlioError
from ..ops import list_async, stat_async
from ..results import ObjectStat
from ..stores import Store, active
from ..uri import parse_uri
from .options import LoaderOptions

if TYPE_CHECKING:
    from ..client import Client

__all__ = [
    "BaseDataset",
    "EmptyDatasetError",
    "Fetcher",
    "PyDataset",
    "PyVecDataset",
    "create_dataset",
    "create_dataset_async",
]

Request = Callable[[], Coroutine[Any, Any, Any]]
"""One read (a whole object, through the engine); a dataset item is one or more, joined in order."""


class EmptyDatasetError(S3dlioError, ValueError):
    """A dataset was created from a prefix (or a list) with no objects."""


def split_above(options: LoaderOptions, workload_type: str | None) -> int | None:
    """The object size above which the loader reads ranges: ``part_size`` when the caller or an
    adaptive preset chose it, else None (the engine's ``range_get_threshold``, chosen by
    measurement: splitting an object of a few ``part_size`` costs more than it gains, and an
    8 MiB sample with its file header became two requests and a copy)."""
    if "part_size" in options.explicit or workload_type is not None:
        return options.part_size
    return None


class Fetcher:
    """Reads a dataset's objects through the transfer engine under one ``part_size`` and concurrency.

    The store is opened with a configuration derived from the active one: ``part_size``,
    ``max_concurrency`` and, when ``split_above`` is given, ``range_get_threshold=split_above``.
    Each item is one loader request; the engine reads an object larger than the threshold as
    ``ceil(size / part_size)`` parallel ranges of one version, straight into the item's memory,
    and checks its size against the listed one. With ``zero_copy`` items are
    :class:`~s3dlio.BytesView` instead of ``bytes``.
    """

    def __init__(
        self,
        part_size: int,
        max_concurrency: int,
        client: Client | None = None,
        zero_copy: bool = False,
        split_above: int | None = None,
    ) -> None:
        self.part_size = part_size
        self.zero_copy = zero_copy
        self._cache, config = active(client)  # ``client``, the bound one, or the default
        threshold = max(part_size, config.range_get_threshold) if split_above is None else split_above
        self.config = config.replace(
            part_size=part_size, range_get_threshold=threshold, max_concurrency=max_concurrency
        )

    @classmethod
    def for_options(
        cls,
        options: LoaderOptions,
        client: Client | None,
        workload_type: str | None = None,
        zero_copy: bool | None = None,
    ) -> Fetcher:
        """The fetcher of a loader with ``options`` (tuned for ``workload_type``, if any): ranges
        above :func:`split_above`; ``zero_copy`` overrides the option."""
        zero_copy = options.zero_copy if zero_copy is None else zero_copy
        split = split_above(options, workload_type)
        return cls(options.part_size, options.max_concurrency, client, zero_copy, split)

    def store(self, uri: str) -> tuple[Store, str]:
        parsed = parse_uri(uri)
        return self._cache.open(parsed, self.config), parsed.key

    def requests(self, uri: str, size: int | None) -> builtins.list[Request]:
        store, key = self.store(uri)
        return [partial(transfer.read_object, store, key, zero_copy=self.zero_copy, expected_size=size)]


def join_parts(parts: Sequence[Any], uri: str | None, size: int | None) -> Any:
    """Join the parts of one item, checking the total against the listed size."""
    data = parts[0] if len(parts) == 1 else b"".join(parts)
    if size is not None and len(data) != size:
        raise IntegrityError(f"{uri} changed since it was listed: {len(data)} bytes, listed {size}", uri)
    return data


async def _run_requests(requests: Sequence[Request], concurrency: int) -> builtins.list[Any]:
    return await transfer.run_all(requests, concurrency)


class BaseDataset:
    """What a loader needs from a dataset: its length, sizes, options and requests per item."""

    def __init__(self, options: LoaderOptions) -> None:
        self._options = options
        self._fetcher_cache: Fetcher | None = None
        self.client: Client | None = _context.current()
        """The :class:`~s3dlio.Client` this dataset was created under (None: the default)."""

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_fetcher_cache"] = None  # rebuilt where the dataset is used
        return state

    def _fetcher(self) -> Fetcher:
        """The one fetcher of ``dataset[i]`` reads (so every item reuses its stores)."""
        fetcher = self._fetcher_cache
        if fetcher is None:
            fetcher = self._fetcher_cache = Fetcher.for_options(self._options, self.client)
        return fetcher

    @property
    def options(self) -> LoaderOptions:
        """The loader options given at creation (used by ``create_async_loader_from_dataset``)."""
        return self._options

    @property
    def sizes(self) -> builtins.list[int | None]:
        """Size of each item in bytes, or None where unknown."""
        raise NotImplementedError

    def __len__(self) -> int:
        raise NotImplementedError

    def uri_of(self, index: int) -> str | None:
        """The URI of item ``index`` (None for in-memory items)."""
        return None

    def size_of(self, index: int) -> int | None:
        """The size of item ``index`` in bytes (None when unknown)."""
        raise NotImplementedError

    def requests(self, index: int, fetcher: Fetcher) -> builtins.list[Request]:
        """The GET requests whose results, joined in order, are item ``index``."""
        raise NotImplementedError

    def _index(self, index: object) -> int:
        if isinstance(index, bool) or not isinstance(index, int):
            raise TypeError(f"dataset indices must be integers, got {type(index).__name__}")
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(f"dataset index out of range (length {n})")
        return index

    async def get_async(self, index: int) -> Any:
        """Item ``index`` as bytes (negative indices count from the end)."""
        i = self._index(index)
        opts = self._options
        parts = await _run_requests(self.requests(i, self._fetcher()), opts.max_concurrency)
        return join_parts(parts, self.uri_of(i), self.size_of(i))

    def __getitem__(self, index: int) -> Any:
        """Item ``index`` as bytes, or a BytesView with ``zero_copy`` (blocking)."""
        i = self._index(index)
        return _sync.run(self.get_async(i))

    def __iter__(self) -> Iterator[bytes]:
        """Every item in index order, one at a time (use a loader for concurrency)."""
        for i in range(len(self)):
            yield self[i]


class PyDataset(BaseDataset):
    """Objects in storage, addressed by index. Build it with :func:`create_dataset`."""

    def __init__(
        self,
        uris: Sequence[str],
        sizes: Sequence[int | None] | None = None,
        options: LoaderOptions | Mapping[str, Any] | None = None,
        *,
        source: str | None = None,
    ) -> None:
        super().__init__(LoaderOptions.from_dict(options))
        self._uris = builtins.list(uris)
        self._sizes: builtins.list[int | None] = (
            [None] * len(self._uris) if sizes is None else builtins.list(sizes)
        )
        if len(self._sizes) != len(self._uris):
            raise ValueError(f"got {len(self._uris)} URIs but {len(self._sizes)} sizes")
        self._keys = [parse_uri(u).key for u in self._uris]
        self.source = source
        """The prefix this dataset was listed from (None for a list of URIs)."""

    # The lists below are the dataset's own (no copy per access): treat them as read-only.
    @property
    def uris(self) -> builtins.list[str]:
        """Full URI of each object, in index order (read-only)."""
        return self._uris

    @property
    def keys(self) -> builtins.list[str]:
        """Key of each object within its bucket (for file:// the absolute path without '/')."""
        return self._keys

    @property
    def sizes(self) -> builtins.list[int | None]:
        """Listed size of each object (None for a dataset built from a list of URIs)."""
        return self._sizes

    def size_of(self, index: int) -> int | None:
        return self._sizes[index]

    def __len__(self) -> int:
        return len(self._uris)

    def uri_of(self, index: int) -> str:
        return self._uris[index]

    def requests(self, index: int, fetcher: Fetcher) -> builtins.list[Request]:
        return fetcher.requests(self._uris[index], self._sizes[index])

    def __repr__(self) -> str:
        where = self.source if self.source is not None else f"{len(self)} URIs"
        return f"PyDataset({where!r}, len={len(self)})"

    @classmethod
    def from_uris(
        cls, uris: Sequence[str], opts: LoaderOptions | Mapping[str, Any] | None = None
    ) -> PyDataset:
        """A dataset of exactly these object URIs, in this order; nothing is listed or read.

        The URIs may mix schemes and buckets. Sizes are unknown until read (or until a loader
        with ``skip_head=False`` looks them up). An empty list raises :class:`EmptyDatasetError`.
        """
        if isinstance(uris, str | bytes) or not isinstance(uris, Sequence | Iterator):
            raise TypeError(f"from_uris() takes a list of URIs, got {type(uris).__name__}")
        checked = [_check_object_uri(u) for u in uris]
        if not checked:
            raise EmptyDatasetError("no objects: the list of URIs is empty", None)
        return cls(checked, None, LoaderOptions.from_dict(opts))

    async def fill_sizes_async(self, max_concurrency: int = 16) -> None:
        """Look up the sizes that are unknown with HEAD requests, ``max_concurrency`` at a time."""
        missing = [i for i, size in enumerate(self._sizes) if size is None]
        if not missing:
            return

        async def one(index: int) -> None:
            self._sizes[index] = (await stat_async(self._uris[index]))["size"]

        await transfer.run_all([partial(one, index) for index in missing], max_concurrency)


class PyVecDataset(BaseDataset):
    """An in-memory dataset of byte strings, usable with the same loaders."""

    def __init__(
        self, items: Sequence[Any], options: LoaderOptions | Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(LoaderOptions.from_dict(options))
        if isinstance(items, str | bytes | bytearray | memoryview):
            raise TypeError("PyVecDataset takes a list of bytes objects, not a single one")
        converted: builtins.list[bytes] = []
        for item in items:
            if isinstance(item, bytes):
                converted.append(item)
            elif isinstance(item, str) or item is None:
                raise TypeError(f"PyVecDataset items must be bytes-like, got {type(item).__name__}")
            else:
                try:
                    converted.append(bytes(memoryview(item)))
                except TypeError:
                    raise TypeError(
                        f"PyVecDataset items must be bytes-like, got {type(item).__name__}"
                    ) from None
        self._items = converted

    @property
    def sizes(self) -> builtins.list[int | None]:
        return [len(item) for item in self._items]

    def size_of(self, index: int) -> int | None:
        return len(self._items[index])

    def __len__(self) -> int:
        return len(self._items)

    def requests(self, index: int, fetcher: Fetcher) -> builtins.list[Request]:
        return [partial(_ready, self._items[index])]

    def __getitem__(self, index: int) -> bytes:
        return self._items[self._index(index)]

    def __repr__(self) -> str:
        return f"PyVecDataset(len={len(self)})"


async def _ready(item: bytes) -> bytes:
    return item


def _check_object_uri(uri: object) -> str:
    parsed = parse_uri(uri)
    assert isinstance(uri, str)
    if not parsed.key or parsed.key.endswith("/"):
        raise InvalidUriError(f"{uri!r} names a bucket or directory, not an object", uri)
    return uri


async def create_dataset_async(
    uri: str | Sequence[str], opts: LoaderOptions | Mapping[str, Any] | None = None
) -> PyDataset:
    """Async twin of :func:`create_dataset`."""
    options = LoaderOptions.from_dict(opts)
    if isinstance(uri, str):
        parse_uri(uri)
        listing = [(item.uri, item.size) for item in await list_async(uri) if not item.is_prefix]
        if not listing:
            single = await _single_object(uri)
            if single is None:
                raise EmptyDatasetError(f"no objects under {uri}", uri)
            listing = [(single["uri"], single["size"])]
        listing.sort()
        return PyDataset([u for u, _ in listing], [int(size) for _, size in listing], options, source=uri)
    if isinstance(uri, bytes) or not isinstance(uri, Sequence | Iterator):
        raise TypeError(f"uri must be a prefix URI string or a list of URIs, got {type(uri).__name__}")
    uris = [_check_object_uri(u) for u in uri]
    if not uris:
        raise EmptyDatasetError("no objects: the list of URIs is empty", None)
    return PyDataset(uris, None, options)


async def _single_object(uri: str) -> ObjectStat | None:
    """The object ``uri`` itself, when the "prefix" names one object."""
    parsed = parse_uri(uri)
    if not parsed.key or parsed.key.endswith("/"):
        return None
    try:
        return await stat_async(uri)
    except NotFoundError:
        return None


def create_dataset(
    uri: str | Sequence[str], opts: LoaderOptions | Mapping[str, Any] | None = None
) -> PyDataset:
    """A dataset of the objects under the prefix ``uri``, or of the given list of URIs.

    A prefix is listed once (recursively) and sorted by URI; the listed sizes are kept. A list
    of URIs is taken as given, in its order (sizes unknown). ``opts`` are loader options
    (validated now) that a loader built with ``create_async_loader_from_dataset`` uses.
    An empty prefix raises :class:`EmptyDatasetError` ("no objects under <uri>").
    """
    return _sync.run(create_dataset_async(uri, opts))
