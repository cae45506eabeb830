"""Storage backends and the URI-to-store lookup."""

from __future__ import annotations

import os
import threading
import weakref
from typing import TYPE_CHECKING

from .. import _context
from ..config import Config, get_config
from ..metrics import instrument
from ..uri import ParsedUri, parse_uri
from .balanced import BalancedStore, Balancer
from .base import AsyncObjectWriter, ObjectInfo, Store
from .direct import DirectIOFallbackWarning, DirectStore
from .local import LocalStore
from .network import AzureStore, GCSStore, NetworkStore, S3Store

if TYPE_CHECKING:
    from ..client import Client

__all__ = [
    "AsyncObjectWriter",
    "AzureStore",
    "DirectIOFallbackWarning",
    "DirectStore",
    "GCSStore",
    "LocalStore",
    "NetworkStore",
    "ObjectInfo",
    "S3Store",
    "Store",
    "StoreCache",
    "store_for",
]

_CLASSES: dict[str, type[Store]] = {
    "s3": S3Store,
    "az": AzureStore,
    "gs": GCSStore,
    "file": LocalStore,
    "direct": DirectStore,
}


class StoreCache:
    """Opened stores by ``(scheme, bucket, config)``, keyed by the configuration's *value*.

    Equal configurations share one store and so one connection pool: a dataset or a loader
    that derives its own ``Config`` per call still reuses the pool.
    """

    MAX_STORES = 256

    def __init__(self) -> None:
        self._stores: dict[tuple[str, str, Config], Store] = {}
        self._balancers: dict[tuple[object, ...], Balancer] = {}
        self._lock = threading.Lock()
        _caches.add(self)

    def open(self, parsed: ParsedUri, config: Config) -> Store:
        """The store for ``parsed``'s scheme and bucket under ``config`` (opened once)."""
        cache_key = (parsed.scheme, parsed.bucket, config)
        store = self._stores.get(cache_key)
        if store is None:
            with self._lock:
                store = self._stores.get(cache_key)
                if store is None:
                    if len(self._stores) >= self.MAX_STORES:
                        self._stores.clear()
                    store = instrument(self._new_store(parsed, config))
                    self._stores[cache_key] = store
        return store

    def _new_store(self, parsed: ParsedUri, config: Config) -> Store:
        if parsed.scheme != "s3" or not config.s3_endpoints:
            return _CLASSES[parsed.scheme](parsed.bucket, config)
        # Several endpoints: one backend per endpoint, each retrying little before failing over.
        balancer_key = (config.s3_endpoints, config.load_balance, config.endpoint_retry_after)
        balancer = self._balancers.get(balancer_key)
        if balancer is None:
            balancer = Balancer(config.s3_endpoints, config.load_balance, config.endpoint_retry_after)
            self._balancers[balancer_key] = balancer
        retries = min(config.max_retries, 1)
        backends = [
            S3Store(parsed.bucket, config.replace(s3_endpoint=endpoint, s3_endpoints=(), max_retries=retries))
            for endpoint in config.s3_endpoints
        ]
        return BalancedStore(parsed.bucket, config, backends, balancer)

    def endpoint_stats(self) -> list[dict[str, object]]:
        """Per-endpoint statistics of every multi-endpoint balancer of this cache."""
        with self._lock:
            balancers = list(self._balancers.values())
        return [row for balancer in balancers for row in balancer.stats()]

    def clear(self) -> None:
        """Forget every store (their connection pools close when the last user drops them)."""
        with self._lock:
            self._stores.clear()
            self._balancers.clear()

    def __len__(self) -> int:
        return len(self._stores)

    def _after_fork_in_child(self) -> None:
        self._lock = threading.Lock()
        for balancer in self._balancers.values():
            balancer._after_fork_in_child()


_caches: weakref.WeakSet[StoreCache] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for cache in list(_caches):
        cache._after_fork_in_child()  # another thread may have held a lock at fork


os.register_at_fork(after_in_child=_after_fork_in_child)
_default = StoreCache()


def active(client: Client | None = None) -> tuple[StoreCache, Config]:
    """The store cache and configuration of ``client``, else of the bound client, else the
    process default (the environment plus :func:`s3dlio.configure`)."""
    client = client or _context.current()
    if client is None:
        return _default, get_config()
    return client.store_cache, client.config


def open_store(parsed: ParsedUri, config: Config | None = None) -> Store:
    """The (cached) store for ``parsed``'s scheme and bucket under ``config``.

    Stores come from the bound :class:`~s3dlio.Client`'s cache (see :mod:`s3dlio._context`),
    or from the process-wide one; ``config`` defaults to that client's (or the active) one.
    """
    cache, active_config = active()
    return cache.open(parsed, config or active_config)


def store_for(uri: str, config: Config | None = None) -> tuple[Store, str]:
    """The store that holds ``uri`` and the object's key within it."""
    parsed = parse_uri(uri)
    return open_store(parsed, config), parsed.key
