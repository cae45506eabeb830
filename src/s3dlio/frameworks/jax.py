"""JAX: batches of decoded objects as NumPy arrays or ``jax.Array``.

:class:`JaxBatches` is a re-iterable over one epoch at a time::

    batches = JaxBatches("s3://bucket/train/", batch_size=128, shuffle=True, seed=0, as_jax=True)
    for epoch in range(3):
        batches.set_epoch(epoch)
        for batch in batches:          # {"data": jax.Array (128, ...), ...}
            state = train_step(state, batch)

Objects are fetched ahead concurrently in a deterministic order; each process of a multi-host
job reads its own shard (``jax.process_index()`` of ``jax.process_count()`` by default).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import jax
import numpy as np

from ._common import (
    ResumablePosition,
    TransformError,
    apply_transform,
    check_positive,
    decode_npz,
    fetch_in_order,
    shard_objects,
)

__all__ = ["JaxBatches", "TransformError", "stack_samples"]

Decode = Callable[[bytes], Any]


def _decode_bytes(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype=np.uint8)


_DECODERS: dict[str, Decode] = {"npz": decode_npz, "bytes": _decode_bytes}


def stack_samples(samples: Sequence[Any]) -> Any:
    """Stack samples (arrays, or dicts/tuples/lists of arrays) along a new first axis."""
    first = samples[0]
    if isinstance(first, Mapping):
        keys = list(first.keys())
        for position, sample in enumerate(samples):
            if not isinstance(sample, Mapping) or sorted(sample.keys()) != sorted(keys):
                got = sorted(sample.keys()) if isinstance(sample, Mapping) else type(sample).__name__
                raise ValueError(f"sample {position} has {got}, but sample 0 has {sorted(keys)}")
        return {key: stack_samples([s[key] for s in samples]) for key in keys}
    if isinstance(first, tuple | list):
        width = len(first)
        if any(not isinstance(s, tuple | list) or len(s) != width for s in samples):
            raise ValueError(f"every sample must be a sequence of {width} parts")
        return type(first)(stack_samples([s[i] for s in samples]) for i in range(width))
    arrays = [np.asarray(s) for s in samples]
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise ValueError(f"cannot stack samples of different shapes {sorted(shapes)} into one batch")
    return np.stack(arrays)


class JaxBatches:
    """Batches of ``batch_size`` decoded objects; iterate once per epoch.

    Args:
        uri: a prefix such as ``"s3://bucket/train/"`` (listed once, now) or a list of URIs.
        batch_size: samples per batch; the last batch is smaller unless ``drop_last``.
        decode: ``"npz"`` (default, ``{name: array}``), ``"bytes"`` (a ``uint8`` array; objects
            must be the same size) or a callable ``bytes -> array | dict | tuple``. Samples are
            stacked along a new first axis. A failing decoder raises :class:`TransformError`
            naming the object.
        shuffle, seed: reshuffle every epoch (see :meth:`set_epoch`); multi-process jobs need an
            explicit seed.
        drop_last: drop the incomplete final batch, and the objects that do not divide evenly
            across processes (otherwise those are padded by wrapping around).
        as_jax: yield ``jax.Array`` (placed with ``jax.device_put(batch, device)``) instead of
            NumPy arrays.
        device: where ``as_jax`` batches go (a device or sharding); default device if ``None``.
        rank, world_size: this process's shard; default ``jax.process_index()`` and
            ``jax.process_count()``.
        max_in_flight: objects fetched ahead concurrently.
    """

    def __init__(
        self,
        uri: str | Iterable[str],
        batch_size: int,
        *,
        decode: str | Decode = "npz",
        shuffle: bool = False,
        seed: int | None = None,
        drop_last: bool = False,
        as_jax: bool = False,
        device: Any = None,
        rank: int | None = None,
        world_size: int | None = None,
        epoch: int = 0,
        max_in_flight: int = 32,
    ) -> None:
        self.batch_size = check_positive("batch_size", batch_size)
        self.max_in_flight = check_positive("max_in_flight", max_in_flight)
        if isinstance(decode, str):
            if decode not in _DECODERS:
                raise ValueError(f"decode must be 'npz', 'bytes' or a callable, got {decode!r}")
            self._decode: Decode = _DECODERS[decode]
        elif callable(decode):
            self._decode = decode
        else:
            raise TypeError(f"decode must be 'npz', 'bytes' or a callable, got {decode!r}")
        self._uris, sampler = shard_objects(
            uri,
            shuffle=shuffle,
            seed=seed,
            drop_last=drop_last,
            epoch=epoch,
            rank=rank,
            world_size=world_size,
            default_shard=lambda: (jax.process_index(), jax.process_count()),
            peers="process",
        )
        self._position = ResumablePosition(sampler, len(self._uris), owner="JaxBatches")
        self.drop_last = drop_last
        self.as_jax = as_jax
        self.device = device

    @property
    def uris(self) -> Sequence[str]:
        """Every object of the dataset, sorted when listed from a prefix."""
        return self._uris

    @property
    def epoch(self) -> int:
        return self._position.sampler.epoch

    @property
    def seed(self) -> int:
        return self._position.sampler.seed

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch (and so the shuffle order); restarts it from its first batch."""
        self._position.set_epoch(epoch)

    def __len__(self) -> int:
        """Batches per epoch for this process."""
        n = len(self._position.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[Any]:
        order = [self._uris[i] for i in self._position.start()]
        return self._batches(order)

    def _batches(self, order: list[str]) -> Iterator[Any]:
        samples: list[Any] = []
        for uri, data in fetch_in_order(order, self.max_in_flight):
            samples.append(apply_transform(self._decode, data, uri))
            if len(samples) == self.batch_size:
                yield self._emit(samples)
                samples = []
        if samples and not self.drop_last:
            yield self._emit(samples)

    def _emit(self, samples: list[Any]) -> Any:
        batch = stack_samples(samples)
        self._position.advance(len(samples))
        return jax.device_put(batch, self.device) if self.as_jax else batch

    def state_dict(self) -> dict[str, Any]:
        """The position in the current epoch, for resuming mid-epoch."""
        return self._position.state_dict()

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Resume from :meth:`state_dict`: the next iteration continues after the saved batch."""
        self._position.load_state_dict(state)
