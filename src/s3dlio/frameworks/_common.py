"""Framework-neutral pieces shared by the PyTorch, TensorFlow and JAX adapters.

Nothing here imports a framework. It resolves a prefix or URI list into a compact, picklable key
list, carries ``configure()`` overrides into spawned workers, fetches objects concurrently in a
fixed order, and wraps failures of user callbacks so they name the object.
"""

from __future__ import annotations

import dataclasses
import io
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from typing import Any, TypeVar, overload

import numpy as np

from .. import ops
from .._sync import submit
from ..config import Config, configure, get_config
from ..errors import S3dlioError
from ..loader.dataset import create_dataset

__all__ = [
    "ConfigCarrier",
    "decode_npz",
    "decode_tfrecord",
    "TransformError",
    "UriList",
    "apply_transform",
    "check_positive",
    "check_shard",
    "fetch_in_order",
    "resolve_uris",
]

T = TypeVar("T")


class TransformError(S3dlioError, RuntimeError):
    """A user transform or decoder raised while handling one object (named in the message)."""


# --- the key list ----------------------------------------------------------------------------
class UriList(Sequence[str]):
    """An immutable list of URIs stored as one shared prefix plus short suffixes.

    A dataset pickles to its configuration and this list, so a spawned worker receives a few
    bytes per object and no client, connection or buffer.
    """

    __slots__ = ("_prefix", "_suffixes")

    def __init__(self, uris: Iterable[str]) -> None:
        items = [u for u in uris]
        prefix = os.path.commonprefix(items) if items else ""  # noqa: RUF071 (string prefix)
        self._prefix = prefix
        self._suffixes = tuple(u[len(prefix) :] for u in items)

    def __len__(self) -> int:
        return len(self._suffixes)

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            return [self._prefix + s for s in self._suffixes[index]]
        return self._prefix + self._suffixes[index]

    def __getstate__(self) -> tuple[str, tuple[str, ...]]:
        return self._prefix, self._suffixes

    def __setstate__(self, state: tuple[str, tuple[str, ...]]) -> None:
        self._prefix, self._suffixes = state

    def __repr__(self) -> str:
        return f"UriList({len(self)} objects under {self._prefix!r})"


def resolve_uris(uris_or_prefix: str | Iterable[str]) -> UriList:
    """The objects a dataset reads: every object under a prefix, or an explicit list of URIs.

    The same rule as :func:`s3dlio.loader.dataset.create_dataset`: a prefix is listed once,
    recursively, in the calling process, and sorted by URI (so every rank that lists the same
    prefix gets the same order); a string naming one object gives a dataset of that object; a
    list is taken in its order. An empty prefix or list raises
    :class:`~s3dlio.loader.dataset.EmptyDatasetError` naming it.
    """
    if not isinstance(uris_or_prefix, str):
        if isinstance(uris_or_prefix, bytes) or not isinstance(uris_or_prefix, Iterable):
            raise TypeError(
                "uris_or_prefix must be a prefix string or a list of object URIs, "
                f"got {type(uris_or_prefix).__name__}"
            )
        uris_or_prefix = [u for u in uris_or_prefix]
    return UriList(create_dataset(uris_or_prefix).uris)


# --- configuration carried into workers ----------------------------------------------------------
class ConfigCarrier:
    """Remembers the ``configure()`` overrides active when a dataset was built.

    A worker started with ``spawn`` or ``forkserver`` re-reads the environment but would lose
    settings made with :func:`s3dlio.configure`; the first read in such a process re-applies them.
    Only fields that differ from the environment are kept (a secret passed to ``configure`` is
    therefore part of the pickled dataset).
    """

    __slots__ = ("_applied_pid", "_overrides")

    def __init__(self) -> None:
        active, base = get_config(), Config.from_env()
        self._overrides = {
            f.name: getattr(active, f.name)
            for f in dataclasses.fields(Config)
            if getattr(active, f.name) != getattr(base, f.name)
        }
        self._applied_pid = os.getpid()

    def ensure(self) -> None:
        """Apply the overrides once in this process if they are not already active."""
        pid = os.getpid()
        if self._applied_pid == pid:
            return
        self._applied_pid = pid
        if not self._overrides:
            return
        active = get_config()
        missing = {k: v for k, v in self._overrides.items() if getattr(active, k) != v}
        if missing:
            configure(**missing)

    def __getstate__(self) -> dict[str, Any]:
        return dict(self._overrides)

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._overrides = dict(state)
        self._applied_pid = -1


# --- decoders ------------------------------------------------------------------------------------
def decode_npz(data: bytes) -> dict[str, np.ndarray]:
    """``{array name: array}`` of an ``.npz`` object (the loader's decoder)."""
    try:
        from ..loader.decoders import decode_npz as loader_decode
    except ImportError:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    return dict(loader_decode(data))


def decode_tfrecord(data: bytes) -> list[bytes]:
    """The serialized records of a TFRecord object, CRCs checked."""
    try:
        from ..loader.decoders import decode_tfrecord as loader_decode
    except ImportError:
        from ..datagen.formats import iter_tfrecords

        return [bytes(record) for record in iter_tfrecords(data)]
    return list(loader_decode(data))


# --- argument checks ----------------------------------------------------------------------------
def check_positive(name: str, value: object) -> int:
    """A positive integer argument, or ``ValueError``/``TypeError`` naming it."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be a positive integer, got {value!r}")
    if value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value}")
    return value


def check_shard(rank: object, world_size: object) -> tuple[int, int]:
    """Validate a ``(rank, world_size)`` pair; the error names the offending setting."""
    for name, value in (("rank", rank), ("world_size", world_size)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an integer, got {value!r}")
    assert isinstance(rank, int) and isinstance(world_size, int)
    if world_size < 1:
        raise ValueError(f"world_size must be >= 1, got world_size={world_size}")
    if not 0 <= rank < world_size:
        raise ValueError(f"rank must be in [0, world_size): got rank={rank} with world_size={world_size}")
    return rank, world_size


# --- fetching ----------------------------------------------------------------------------------
def fetch_in_order(uris: Iterable[str], window: int) -> Iterator[tuple[str, bytes]]:
    """Yield ``(uri, data)`` in the order of ``uris`` while up to ``window`` GETs run ahead.

    The requests run on s3dlio's background event loop (rebuilt after ``fork``), so the caller's
    thread only waits for the object it needs next. Requests still in flight when the consumer
    stops early are cancelled.
    """
    check_positive("window", window)
    pending: deque[tuple[str, Future[bytes]]] = deque()
    try:
        for uri in uris:
            pending.append((uri, submit(ops.get_async(uri))))
            if len(pending) >= window:
                head, future = pending.popleft()
                yield head, future.result()
        while pending:
            head, future = pending.popleft()
            yield head, future.result()
    finally:
        for _, future in pending:
            future.cancel()


def apply_transform(transform: Callable[[bytes], T] | None, data: bytes, uri: str) -> Any:
    """``transform(data)``, with a failure re-raised as :class:`TransformError` naming ``uri``."""
    if transform is None:
        return data
    try:
        return transform(data)
    except Exception as exc:
        raise TransformError(f"transform failed for {uri}: {type(exc).__name__}: {exc}", uri) from exc
