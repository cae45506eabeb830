"""Storage backends and the URI-to-store lookup."""

from __future__ import annotations

import threading

from ..config import Config, get_config
from ..metrics import instrument
from ..uri import ParsedUri, parse_uri
from .base import AsyncObjectWriter, ObjectInfo, Store
from .direct import DirectIOFallbackWarning, DirectStore
from .local import LocalStore
from .network import AzureStore, GCSStore, NetworkStore, S3Store

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
    "store_for",
]

_CLASSES: dict[str, type[Store]] = {
    "s3": S3Store,
    "az": AzureStore,
    "gs": GCSStore,
    "file": LocalStore,
    "direct": DirectStore,
}
_cache: dict[tuple[str, str, int], Store] = {}
_cache_lock = threading.Lock()


def open_store(parsed: ParsedUri, config: Config | None = None) -> Store:
    """The (cached) store for ``parsed``'s scheme and bucket under ``config``."""
    config = config or get_config()
    cache_key = (parsed.scheme, parsed.bucket, id(config))  # get_config() reuses its object
    store = _cache.get(cache_key)
    if store is None or store.config is not config:
        with _cache_lock:
            store = _cache.get(cache_key)
            if store is None or store.config is not config:
                if len(_cache) >= 256:
                    _cache.clear()
                store = instrument(_CLASSES[parsed.scheme](parsed.bucket, config))
                _cache[cache_key] = store
    return store


def store_for(uri: str, config: Config | None = None) -> tuple[Store, str]:
    """The store that holds ``uri`` and the object's key within it."""
    parsed = parse_uri(uri)
    return open_store(parsed, config), parsed.key
