"""Shared helpers of the compatibility layer: derived configurations and blocking calls."""

from __future__ import annotations

import threading
from typing import Any

from ..config import Config, get_config
from ..errors import ConfigError
from ..loader.options import MIN_PART_SIZE

__all__ = ["derived_config", "positive_int"]

_UNSET = object()
_lock = threading.Lock()
_derived: dict[tuple[int, tuple[tuple[str, Any], ...]], tuple[Config, Config]] = {}


def positive_int(name: str, value: object, minimum: int = 1) -> int:
    """``value`` as an int ``>= minimum``, or a :class:`ConfigError` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be an integer, got {type(value).__name__} ({value!r})")
    if value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value}")
    return value


def derived_config(part_size: int | None = None, max_in_flight: int | None = None, **settings: Any) -> Config:
    """The active configuration with ``part_size`` / ``max_in_flight`` / ``settings`` applied.

    Uploads larger than one part use multipart (``multipart_threshold = part_size``). The
    result is cached per active configuration, so stores (and their connection pools) are
    shared by every caller with the same settings.
    """
    if part_size is not None:
        positive_int("part_size", part_size, MIN_PART_SIZE)
    if max_in_flight is not None:
        positive_int("max_in_flight", max_in_flight)
    base = get_config()
    changes: dict[str, Any] = {k: v for k, v in settings.items() if getattr(base, k, _UNSET) != v}
    if part_size is not None:
        changes.update(part_size=part_size, multipart_threshold=part_size)
    if max_in_flight is not None:
        changes["max_concurrency"] = max_in_flight
    if not changes:
        return base
    cache_key = (id(base), tuple(sorted(changes.items())))
    with _lock:
        entry = _derived.get(cache_key)
        if entry is None or entry[0] is not base:  # ids can be reused once a config is freed
            if len(_derived) > 64:
                _derived.clear()
            entry = _derived[cache_key] = (base, base.replace(**changes))
        return entry[1]
