"""Loader options: one frozen dataclass, validated in one place.

Every option accepted here changes what the loader does; an unknown key or a value of the
wrong type raises :class:`~s3dlio.errors.ConfigError` (a ``ValueError``) that lists the
valid keys. Nothing is ever ignored with a warning.

=====================  ===========  ==================================================================
key                    default      meaning
=====================  ===========  ==================================================================
``batch_size``         32           items per batch (``>= 1``)
``prefetch``           2            batches fetched ahead of the one being consumed (``>= 0``)
``max_concurrency``    16           items being read at once; also the ranges in flight per large item
``shuffle``            False        shuffle the order every epoch
``seed``               None         shuffle seed (``>= 0``); None with ``shuffle`` draws one at random
``part_size``          8 MiB        when given (or set by an adaptive preset), objects larger than
                                    this are read as parallel ranged GETs of this size (``>= 5 MiB``,
                                    the same floor as ``Config.part_size``); by default only objects
                                    above ``Config.range_get_threshold`` (256 MiB) are, in parts of
                                    this size, as ``get()`` does
``drop_last``          False        drop the uneven tail of the shards and the last partial batch
``shard_rank``         0            this process's rank (DDP)
``shard_world_size``   1            number of ranks (DDP)
``num_workers_split``  ``"auto"``   inside a torch DataLoader worker, split this rank's order
                                    across the workers; ``False`` turns it off (``True`` is the
                                    same as ``"auto"``)
``epoch``              0            the first epoch (the shuffle order depends on it)
``skip_head``          True         read objects whose size is unknown (datasets built from a list of
                                    URIs) without a HEAD request first; ``False`` HEADs them once,
                                    before the first iteration, so that large objects are read as
                                    parallel ranged GETs (counted by ``max_concurrency``) and every
                                    body is checked against its size
``adaptive``           None         ``{"mode": "enabled"|"disabled", "workload_type":
                                    "auto"|"small"|"medium"|"large"|"batch"}``; see
                                    :mod:`s3dlio.loader.adaptive`
``zero_copy``          False        items are read-only :class:`~s3dlio.BytesView` (no final copy
                                    into ``bytes``) instead of ``bytes``
=====================  ===========  ==================================================================
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from ..errors import ConfigError

__all__ = ["MIN_PART_SIZE", "WORKLOAD_TYPES", "AdaptiveOptions", "LoaderOptions"]

MiB = 1024 * 1024
MIN_PART_SIZE = 5 * MiB
WORKLOAD_TYPES = ("auto", "small", "medium", "large", "batch")
WorkloadType = Literal["auto", "small", "medium", "large", "batch"]
_ADAPTIVE_KEYS = ("mode", "workload_type")


def _is_int(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | np.integer)


def _int(name: str, value: object, minimum: int) -> int:
    if not _is_int(value):
        raise ConfigError(f"loader option {name!r} must be an int, got {type(value).__name__} ({value!r})")
    ivalue: int = int(value)  # type: ignore[call-overload]
    if ivalue < minimum:
        raise ConfigError(f"loader option {name!r} must be >= {minimum}, got {ivalue}")
    return ivalue


def _bool(name: str, value: object) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise ConfigError(f"loader option {name!r} must be a bool, got {type(value).__name__} ({value!r})")
    return bool(value)


@dataclass(frozen=True, slots=True)
class AdaptiveOptions:
    """The ``adaptive`` option: whether presets apply, and which."""

    enabled: bool = True
    workload_type: WorkloadType = "auto"

    @classmethod
    def from_value(cls, value: object) -> AdaptiveOptions | None:
        if value is None:
            return None
        if isinstance(value, AdaptiveOptions):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(
                "loader option 'adaptive' must be a dict like "
                f"{{'mode': 'enabled', 'workload_type': 'auto'}}, got {type(value).__name__}"
            )
        unknown = sorted(str(k) for k in value if k not in _ADAPTIVE_KEYS)
        if unknown:
            raise ConfigError(
                f"unknown key(s) {unknown} in loader option 'adaptive'; valid keys: {list(_ADAPTIVE_KEYS)}"
            )
        mode = value.get("mode", "enabled")
        if mode not in ("enabled", "disabled"):
            raise ConfigError(f"adaptive 'mode' must be 'enabled' or 'disabled', got {mode!r}")
        workload = value.get("workload_type", "auto")
        if workload not in WORKLOAD_TYPES:
            raise ConfigError(
                f"adaptive 'workload_type' must be one of {list(WORKLOAD_TYPES)}, got {workload!r}"
            )
        return cls(enabled=mode == "enabled", workload_type=workload)

    def to_dict(self) -> dict[str, str]:
        return {"mode": "enabled" if self.enabled else "disabled", "workload_type": self.workload_type}


@dataclass(frozen=True, slots=True)
class LoaderOptions:
    """Validated loader options (see the module docstring for each field).

    ``explicit`` records which fields the caller set, so that adaptive presets only fill
    in the settings the caller left at their defaults.
    """

    batch_size: int = 32
    prefetch: int = 2
    max_concurrency: int = 16
    shuffle: bool = False
    seed: int | None = None
    part_size: int = 8 * MiB
    drop_last: bool = False
    shard_rank: int = 0
    shard_world_size: int = 1
    num_workers_split: bool | Literal["auto"] = "auto"
    epoch: int = 0
    skip_head: bool = True
    adaptive: AdaptiveOptions | None = None
    zero_copy: bool = False
    explicit: frozenset[str] = field(default=frozenset(), compare=False, repr=False)

    def __post_init__(self) -> None:
        _int("batch_size", self.batch_size, 1)
        _int("prefetch", self.prefetch, 0)
        _int("max_concurrency", self.max_concurrency, 1)
        _bool("shuffle", self.shuffle)
        if self.seed is not None:
            _int("seed", self.seed, 0)
        _int("part_size", self.part_size, MIN_PART_SIZE)
        _bool("drop_last", self.drop_last)
        _int("shard_rank", self.shard_rank, 0)
        _int("shard_world_size", self.shard_world_size, 1)
        if self.shard_rank >= self.shard_world_size:
            raise ConfigError(
                f"loader option 'shard_rank' must be < 'shard_world_size', got shard_rank={self.shard_rank}, "
                f"shard_world_size={self.shard_world_size}"
            )
        if self.num_workers_split != "auto" and not isinstance(self.num_workers_split, bool):
            raise ConfigError(
                "loader option 'num_workers_split' must be 'auto', True or False, "
                f"got {self.num_workers_split!r}"
            )
        _int("epoch", self.epoch, 0)
        _bool("skip_head", self.skip_head)
        _bool("zero_copy", self.zero_copy)
        if self.adaptive is not None and not isinstance(self.adaptive, AdaptiveOptions):
            raise ConfigError("loader option 'adaptive' must be built with LoaderOptions.from_dict")

    @classmethod
    def valid_keys(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls) if f.name != "explicit"]

    @classmethod
    def from_dict(cls, opts: Mapping[str, Any] | LoaderOptions | None = None) -> LoaderOptions:
        """Validate a user's option dict (None means all defaults)."""
        if opts is None:
            return cls()
        if isinstance(opts, LoaderOptions):
            return opts
        if not isinstance(opts, Mapping):
            raise ConfigError(f"loader options must be a dict, got {type(opts).__name__}")
        valid = cls.valid_keys()
        unknown = sorted(str(k) for k in opts if k not in valid)
        if unknown:
            raise ConfigError(f"unknown loader option(s) {unknown}; valid keys: {valid}")
        values: dict[str, Any] = {}
        for key, value in opts.items():
            if key == "adaptive":
                values[key] = AdaptiveOptions.from_value(value)
            elif _is_int(value):
                values[key] = int(value)
            elif isinstance(value, np.bool_):
                values[key] = bool(value)
            else:
                values[key] = value
        return cls(**values, explicit=frozenset(opts))

    def to_dict(self) -> dict[str, Any]:
        """The options as a plain dict (round-trips through :meth:`from_dict`)."""
        out: dict[str, Any] = {}
        for name in self.valid_keys():
            value = getattr(self, name)
            out[name] = value.to_dict() if isinstance(value, AdaptiveOptions) else value
        return out

    def merged(self, opts: Mapping[str, Any] | LoaderOptions | None) -> LoaderOptions:
        """These options with the keys the caller set in ``opts`` replaced."""
        if opts is None:
            return self
        other = LoaderOptions.from_dict(opts)
        changes = {name: getattr(other, name) for name in other.explicit}
        return dataclasses.replace(self, **changes, explicit=self.explicit | other.explicit)

    def with_tuning(self, **settings: int) -> LoaderOptions:
        """Fill settings the caller did not set explicitly (used by adaptive presets)."""
        changes: dict[str, Any] = {k: v for k, v in settings.items() if k not in self.explicit}
        return dataclasses.replace(self, **changes) if changes else self
