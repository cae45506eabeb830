"""``Client``: one configuration (endpoint, credentials, tuning) and its own connection pools.

Several clients live side by side in one process: a data bucket on MinIO and a checkpoint bucket
on AWS, two Azure accounts, two sets of keys. Each client owns a :class:`~s3dlio.Config` and a
store cache (so its connection pools); its methods are the module-level operations, run with the
client *bound* (see :mod:`s3dlio._context`), so each operation exists once. The module functions
(``s3dlio.get`` ...) use the process default: the environment plus :func:`s3dlio.configure`.

    with s3dlio.Client(s3_endpoint="http://minio:9000", aws_access_key_id="...",
                       aws_secret_access_key="...") as data:
        blob = data.get("s3://train/shard-0000.npz")

A client is thread-safe, pickles to its settings (DataLoader workers, Ray and Dask tasks build
their own pools from them), keeps working after ``fork``, and :meth:`Client.close` (or leaving
its ``with`` block) drops its connection pools.

Objects that outlive a call (writers, datasets, loaders, checkpoint stores, writers and readers)
capture the client when they are created and keep using it.
"""

from __future__ import annotations

import builtins
import functools
import inspect
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator, Mapping
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, TypeVar, Unpack, cast

from . import _context, blocking, ops
from .config import Config, Settings
from .errors import S3dlioError
from .stores import StoreCache

__all__ = ["Client", "ClientClosedError"]

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")


class ClientClosedError(S3dlioError, RuntimeError):
    """An operation was started on a :class:`Client` after :meth:`Client.close`."""


def _blocking(function: Callable[P, R]) -> Callable[Concatenate[Client, P], R]:
    """A client method that runs the blocking module function ``function`` with the client bound."""

    @functools.wraps(function)
    def method(self: Client, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with self._bound():
            return _adopt(function(*args, **kwargs), self)

    return method


def _async(function: Callable[P, Awaitable[R]]) -> Callable[Concatenate[Client, P], Coroutine[Any, Any, R]]:
    """A client method that awaits the coroutine function ``function`` with the client bound."""

    @functools.wraps(function)
    async def method(self: Client, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with self._bound():
            return _adopt(await function(*args, **kwargs), self)

    return method


class Client:
    """Storage operations under one configuration, with their own connection pools.

    Build it from keyword settings (the :class:`~s3dlio.Config` fields, unset ones at their
    defaults), from a ``Config``, or from the environment with :meth:`from_env`::

        client = Client(s3_endpoint="http://127.0.0.1:9000", aws_access_key_id="k",
                        aws_secret_access_key="s", part_size=16 << 20)
        client = Client(Config(...))
        client = Client.from_env(part_size=16 << 20)

    Every operation of the module is a method with the same signature (``get``/``get_async``,
    ``list``/``list_async``, ...).
    """

    def __init__(self, config: Config | None = None, /, **settings: Unpack[Settings]) -> None:
        changes: dict[str, Any] = {k: v for k, v in settings.items() if v is not None}
        if config is None:
            config = Config().replace(**changes)  # unknown names raise ConfigError
        elif changes:
            config = config.replace(**changes)
        if not isinstance(config, Config):
            raise TypeError(f"Client() takes a Config or keyword settings, got {type(config).__name__}")
        self._config = config
        self._stores = StoreCache()
        self._closed = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **settings: Unpack[Settings]) -> Client:
        """A client configured from environment variables (``os.environ`` by default), then
        ``settings``; later changes to the environment or to :func:`configure` do not affect it."""
        return cls(Config.from_env(environ), **settings)

    # --- identity, lifetime -------------------------------------------------------------------
    @property
    def config(self) -> Config:
        """This client's settings (immutable)."""
        return self._config

    @property
    def store_cache(self) -> StoreCache:
        """The stores (connection pools) this client opened."""
        if self._closed:
            raise ClientClosedError(f"{self!r} is closed")
        return self._stores

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._closed

    def close(self) -> None:
        """Drop this client's connection pools; later operations raise :class:`ClientClosedError`.

        Objects created from it before (a writer, a loader) keep the stores they hold.
        """
        self._closed = True
        self._stores.clear()

    async def aclose(self) -> None:
        """Async twin of :meth:`close`."""
        self.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __reduce__(self) -> tuple[type[Client], tuple[Config]]:
        return (type(self), (self._config,))

    def __repr__(self) -> str:
        c = self._config
        where = [f"s3_endpoint={c.s3_endpoint!r}"] if c.s3_endpoint else []
        if c.aws_access_key_id:
            where.append(f"aws_access_key_id={c.aws_access_key_id!r}")
        if c.azure_account:
            where.append(f"azure_account={c.azure_account!r}")
        if c.azure_endpoint:
            where.append(f"azure_endpoint={c.azure_endpoint!r}")
        if c.gcs_emulator_host:
            where.append(f"gcs_emulator_host={c.gcs_emulator_host!r}")
        state = ", closed" if self._closed else ""
        return f"Client({', '.join(where)}{state})"

    __str__ = __repr__

    def endpoint_stats(self) -> builtins.list[dict[str, Any]]:
        """Per-endpoint statistics with ``s3_endpoints``: ``uri``, ``total_requests``,
        ``bytes_read``, ``bytes_written``, ``error_count``, ``active_requests``,
        ``mean_latency_ms``, ``healthy`` and ``retry_in_s`` (empty with one endpoint)."""
        return self._stores.endpoint_stats()

    def stats(self) -> dict[str, Any]:
        """Request metrics: ``{"operations": ..., "endpoints": ...}``.

        ``operations`` is :func:`s3dlio.metrics.snapshot` (requests, objects, bytes, errors and
        latency per backend and operation; process-wide, since every client's stores pass through
        the one metrics layer), ``endpoints`` is :meth:`endpoint_stats`.
        """
        from . import metrics

        return {"operations": metrics.snapshot(), "endpoints": self.endpoint_stats()}

    def _bound(self) -> AbstractContextManager[None]:
        if self._closed:
            raise ClientClosedError(f"{self!r} is closed")
        return _context.bound(self)

    def bind(self) -> AbstractContextManager[None]:
        """Run the module functions in the block with this client (``with client.bind(): ...``).

        Useful for code written against ``s3dlio.get(...)`` that should use this client's
        settings; binding is per thread and per asyncio task.
        """
        return self._bound()

    # --- the core operations ------------------------------------------------------------------
    get = _blocking(blocking.get)
    get_async = _async(ops.get_async)
    get_range = _blocking(blocking.get_range)
    get_range_async = _async(ops.get_range_async)
    get_many = _blocking(blocking.get_many)
    get_many_async = _async(ops.get_many_async)
    stat = _blocking(blocking.stat)
    stat_async = _async(ops.stat_async)
    exists = _blocking(blocking.exists)
    exists_async = _async(ops.exists_async)
    list = _blocking(blocking.list)
    list_async = _async(ops.list_async)
    put_bytes = _blocking(blocking.put_bytes)
    put_bytes_async = _async(ops.put_bytes_async)
    put_many = _blocking(blocking.put_many)
    put_many_async = _async(ops.put_many_async)
    delete = _blocking(blocking.delete)
    delete_async = _async(ops.delete_async)
    create_bucket = _blocking(blocking.create_bucket)
    create_bucket_async = _async(ops.create_bucket_async)
    delete_bucket = _blocking(blocking.delete_bucket)
    delete_bucket_async = _async(ops.delete_bucket_async)
    upload = _blocking(blocking.upload)
    upload_async = _async(ops.upload_async)
    download = _blocking(blocking.download)
    download_async = _async(ops.download_async)
    open_writer = _blocking(blocking.open_writer)
    open_writer_async = _blocking(ops.open_writer_async)  # returns the writer; use ``async with``

    def put(self, *args: Any, **kwargs: Any) -> Any:
        """Generate and write objects (see :func:`s3dlio.put`)."""
        with self._bound():
            return blocking.put(*args, **kwargs)

    async def put_async(self, *args: Any, **kwargs: Any) -> Any:
        """Async twin of :meth:`put` (data generation, see :func:`s3dlio.put_async`)."""
        from .datagen.put import put_async

        with self._bound():
            return await put_async(*args, **kwargs)

    def get_into(self, uri: str, buffer: Any) -> int:
        """Read ``uri`` straight into the writable ``buffer`` (see :func:`s3dlio.get_into`)."""
        with self._bound():
            return blocking.get_into(uri, buffer)

    async def get_into_async(self, uri: str, buffer: Any) -> int:
        """Async twin of :meth:`get_into`."""
        with self._bound():
            return await ops.get_into_async(uri, buffer)

    def iter_list(self, uri: str, recursive: bool = True, batch_size: int = 1000) -> Iterator[Any]:
        """Stream a listing (see :func:`s3dlio.iter_list`)."""
        with self._bound():
            stream = blocking.iter_list(uri, recursive, batch_size)
        try:
            while True:
                with self._bound():
                    try:
                        item = next(stream)
                    except StopIteration:
                        return
                yield item
        finally:
            with _context.bound(self):
                cast(Any, stream).close()

    async def iter_list_async(self, uri: str, recursive: bool = True) -> AsyncIterator[Any]:
        """Async twin of :meth:`iter_list`."""
        with self._bound():
            stream = ops.iter_list_async(uri, recursive)
        try:
            while True:
                with self._bound():  # set and reset within one step, never across a yield
                    try:
                        item = await anext(stream)
                    except StopAsyncIteration:
                        return
                yield item
        finally:
            with _context.bound(self):
                await stream.aclose()

    # --- datasets, loaders, checkpoints (they keep this client) ---------------------------------
    def create_dataset(self, *args: Any, **kwargs: Any) -> Any:
        """A dataset that reads through this client (see :func:`s3dlio.create_dataset`)."""
        from .loader import create_dataset

        with self._bound():
            return create_dataset(*args, **kwargs)

    async def create_dataset_async(self, *args: Any, **kwargs: Any) -> Any:
        """Async twin of :meth:`create_dataset`."""
        from .loader import create_dataset_async

        with self._bound():
            return await create_dataset_async(*args, **kwargs)

    def create_async_loader(self, *args: Any, **kwargs: Any) -> Any:
        """A loader that reads through this client (see :func:`s3dlio.create_async_loader`)."""
        from .loader import create_async_loader

        with self._bound():
            return create_async_loader(*args, **kwargs)

    def checkpoint_store(self, uri: str, **kwargs: Any) -> Any:
        """A :class:`~s3dlio.CheckpointStore` under ``uri`` that uses this client."""
        from .checkpoint import CheckpointStore

        with self._bound():
            return _adopt(CheckpointStore(uri, **kwargs), self)

    def create_checkpoint_writer(self, *args: Any, **kwargs: Any) -> Any:
        """A checkpoint writer that uses this client (see :func:`s3dlio.create_checkpoint_writer`)."""
        from .checkpoint import create_checkpoint_writer

        with self._bound():
            return _adopt(create_checkpoint_writer(*args, **kwargs), self)

    def create_checkpoint_reader(self, *args: Any, **kwargs: Any) -> Any:
        """A checkpoint reader that uses this client (see :func:`s3dlio.create_checkpoint_reader`)."""
        from .checkpoint import create_checkpoint_reader

        with self._bound():
            return _adopt(create_checkpoint_reader(*args, **kwargs), self)

    async def create_checkpoint_reader_async(self, *args: Any, **kwargs: Any) -> Any:
        """Async twin of :meth:`create_checkpoint_reader`."""
        from .checkpoint import create_checkpoint_reader_async

        with self._bound():
            return _adopt(await create_checkpoint_reader_async(*args, **kwargs), self)


# --- objects that outlive a call ---------------------------------------------------------------
# Checkpoint stores, writers and readers resolve URIs in later calls. ``_adopt`` switches such an
# object to a subclass whose methods bind the client first (the object, its type checks and its
# attributes stay as they are).
_ADOPTED_ATTR = "_s3dlio_client"
_adopted_classes: dict[type, type] = {}
_adopted_lock = threading.Lock()
_ADOPTABLE_MODULES = ("s3dlio.checkpoint.",)


def _adopt(value: T, client: Client) -> T:
    cls = type(value)
    if not cls.__module__.startswith(_ADOPTABLE_MODULES) or not hasattr(value, "__dict__"):
        return value
    bound_cls = _adopted_classes.get(cls) or _adopting_class(cls)
    if cls is not bound_cls:
        value.__class__ = bound_cls
    vars(value)[_ADOPTED_ATTR] = client
    return value


def _adopting_class(cls: type) -> type:
    with _adopted_lock:
        if cls in _adopted_classes:
            return _adopted_classes[cls]
        namespace: dict[str, Any] = {"__module__": cls.__module__, "__qualname__": cls.__qualname__}
        for name in dir(cls):
            if name.startswith("_") and name not in _DUNDERS:
                continue
            attribute = inspect.getattr_static(cls, name)
            if isinstance(attribute, staticmethod | classmethod | property) or not callable(attribute):
                continue
            namespace[name] = _binding_method(attribute)
        bound_cls = type(cls.__name__, (cls,), namespace)
        _adopted_classes[cls] = bound_cls
        _adopted_classes[bound_cls] = bound_cls
        return bound_cls


_DUNDERS = frozenset({"__enter__", "__exit__", "__aenter__", "__aexit__", "__iter__", "__getitem__"})


def _binding_method(function: Callable[..., Any]) -> Callable[..., Any]:
    if inspect.iscoroutinefunction(function):

        @functools.wraps(function)
        async def async_method(self: Any, *args: Any, **kwargs: Any) -> Any:
            client = cast(Client, vars(self)[_ADOPTED_ATTR])
            with client._bound():
                return _adopt(await function(self, *args, **kwargs), client)

        return async_method

    @functools.wraps(function)
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        client = cast(Client, vars(self)[_ADOPTED_ATTR])
        with client._bound():
            return _adopt(function(self, *args, **kwargs), client)

    return method
