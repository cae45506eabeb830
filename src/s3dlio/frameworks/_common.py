"""Framework-neutral pieces shared by the PyTorch, TensorFlow and JAX adapters.

Nothing here imports a framework. It resolves a prefix or URI list into a compact, picklable key
list and this process's shard of it, keeps the resumable position within an epoch, carries
``configure()`` overrides into spawned workers, fetches objects concurrently in a fixed order, and
wraps failures of user callbacks so they name the object.
"""

from __future__ import annotations

import dataclasses
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from typing import Any, TypeVar, overload

from .. import ops
from .._sync import submit
from ..config import Config, configure, get_config
from ..errors import S3dlioError
from ..loader.dataset import create_dataset
from ..loader.decoders import decode_npz, decode_tfrecord
from ..loader.sampler import ShardedSampler, shared_seed, split_for_worker

__all__ = [
    "STATE_VERSION",
    "ConfigCarrier",
    "ResumablePosition",
    "TransformError",
    "UriList",
    "apply_transform",
    "check_positive",
    "check_shard",
    "decode_npz",
    "decode_tfrecord",
    "fetch_in_order",
    "resolve_uris",
    "shard_objects",
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


# --- argument checks ----------------------------------------------------------------------------
def check_positive(name: str, value: object) -> int:
    """A positive integer argument, or ``ValueError``/``TypeError`` naming it."""
    return ops.check_max_in_flight(value, name)


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


# --- this process's shard, and its position within an epoch -----------------------------------
STATE_VERSION = 1


def shard_objects(
    uris_or_prefix: str | Iterable[str],
    *,
    shuffle: bool,
    seed: int | None,
    drop_last: bool,
    epoch: int,
    rank: int | None,
    world_size: int | None,
    default_shard: Callable[[], tuple[int, int]] | None = None,
    draw_seed: Callable[[int], int] | None = None,
    peers: str = "rank",
) -> tuple[UriList, ShardedSampler]:
    """The objects of a dataset (:func:`resolve_uris`) and the sampler of this process's shard.

    A missing ``rank`` or ``world_size`` comes from ``default_shard()`` (the framework's view of
    the job; ``(0, 1)`` without one) and is checked with :func:`check_shard`. Every process must
    shuffle with the same seed: without an explicit one, a shuffled order over several processes
    takes ``draw_seed(world_size)`` (for example broadcast from rank 0), or, without that hook,
    raises ``ValueError`` saying every one of the ``peers`` must draw the same order. Both checks
    run before the prefix is listed.
    """
    if rank is None or world_size is None:
        default_rank, default_world_size = default_shard() if default_shard is not None else (0, 1)
        rank = default_rank if rank is None else rank
        world_size = default_world_size if world_size is None else world_size
    rank, world_size = check_shard(rank, world_size)
    seed = shared_seed(
        seed,
        shuffle=shuffle,
        world_size=world_size,
        draw=draw_seed,
        names=("seed", "world_size"),
        peers=peers,
    )
    uris = resolve_uris(uris_or_prefix)
    sampler = ShardedSampler(
        len(uris),
        shuffle=shuffle,
        seed=seed,
        epoch=epoch,
        rank=rank,
        world_size=world_size,
        drop_last=drop_last,
    )
    return uris, sampler


class ResumablePosition:
    """A shard's sampler plus how far this epoch has got, saved as a dict: the one home of resume state.

    The position is counted in this shard's order: ``consumed`` samples of it are done. Inside a
    DataLoader worker (``start(worker=(id, num_workers))``) the worker reads a stride of the
    order that is left, and its own progress along that stride is saved under ``"worker"``; this
    is the state that torchdata's ``StatefulDataLoader`` collects from each worker and hands back
    to the same worker on resume, so every worker continues exactly where it stopped.

    ``owner`` (the adapter's class name) and ``there_are`` (how a mismatch error refers to the
    current objects) only shape the error messages of :meth:`load_state_dict`.
    """

    __slots__ = (
        "_consumed",
        "_resume_from",
        "_resume_worker",
        "_worker",
        "num_objects",
        "owner",
        "sampler",
        "there_are",
    )

    def __init__(
        self, sampler: ShardedSampler, num_objects: int, *, owner: str, there_are: str = "there are"
    ) -> None:
        self.sampler = sampler
        self.num_objects = num_objects
        self.owner = owner
        self.there_are = there_are
        self._consumed = 0  # in the shard's order (main process), or the worker's base
        self._resume_from = 0
        # inside a worker: [id, num_workers, samples of its stride consumed]
        self._worker: list[int] | None = None
        self._resume_worker: list[int] | None = None

    def advance(self, count: int = 1) -> None:
        """Count ``count`` more samples as consumed."""
        if self._worker is not None:
            self._worker[2] += count
        else:
            self._consumed += count

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch on the sampler and start it from its beginning."""
        self.sampler.set_epoch(epoch)
        self._consumed = self._resume_from = 0
        self._worker = self._resume_worker = None

    def start(self, worker: tuple[int, int] | None = None) -> list[int]:
        """Begin an iteration: the indices still to read, from the resume point (then cleared) on.

        ``worker=(id, num_workers)`` selects a DataLoader worker's stride of the rest of the
        order (:func:`~s3dlio.loader.sampler.split_for_worker`). A state saved inside a worker
        resumes only in the same worker of a loader with the same number of workers.
        """
        base, saved = self._resume_from, self._resume_worker
        self._resume_from, self._resume_worker = 0, None
        self._consumed = base
        order = self.sampler.indices()[base:]
        if worker is None:
            self._worker = None
            if saved is not None:
                raise ValueError(
                    f"this {self.owner} state was saved inside DataLoader worker {saved[0]} of "
                    f"{saved[1]}; load it through a StatefulDataLoader with num_workers={saved[1]}"
                )
            return order
        worker_id, num_workers = worker
        done = 0
        if saved is not None:
            if saved[:2] != [worker_id, num_workers]:
                raise ValueError(
                    f"this {self.owner} state was saved by DataLoader worker {saved[0]} of {saved[1]}, "
                    f"but it was loaded into worker {worker_id} of {num_workers}; resume with "
                    f"num_workers={saved[1]}"
                )
            done = saved[2]
        self._worker = [worker_id, num_workers, done]
        return split_for_worker(order, worker_id, num_workers)[done:]

    def state_dict(self) -> dict[str, Any]:
        """The sampler's state, the samples consumed in this epoch and, in a worker, its progress."""
        state: dict[str, Any] = {
            "version": STATE_VERSION,
            "sampler": self.sampler.state_dict(),
            "consumed": self._consumed,
            "num_objects": self.num_objects,
        }
        if self._worker is not None:
            worker_id, num_workers, done = self._worker
            state["worker"] = {"id": worker_id, "num_workers": num_workers, "consumed": done}
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict`; the next :meth:`start` skips the consumed samples."""
        if not isinstance(state, Mapping) or "sampler" not in state or "consumed" not in state:
            raise ValueError(f"state must be a dict returned by {self.owner}.state_dict()")
        if state.get("num_objects", self.num_objects) != self.num_objects:
            raise ValueError(
                f"state was saved for {state['num_objects']} objects but {self.there_are} {self.num_objects}"
            )
        consumed = state["consumed"]
        total = len(self.sampler)
        if not _is_count(consumed, total):
            raise ValueError(f"state 'consumed' must be an integer in [0, {total}], got {consumed!r}")
        worker = state.get("worker")
        resume_worker = None if worker is None else _worker_progress(worker, total - consumed)
        self.sampler.load_state_dict(dict(state["sampler"]))
        self._consumed = self._resume_from = consumed
        self._resume_worker = resume_worker
        self._worker = None


def _worker_progress(worker: object, remaining: int) -> list[int]:
    """A saved ``{"id", "num_workers", "consumed"}`` as ``[id, num_workers, consumed]``, checked."""
    fields: list[object] = []
    if isinstance(worker, Mapping):
        fields = [worker.get(k) for k in ("id", "num_workers", "consumed")]
    checked = [f for f in fields if isinstance(f, int) and not isinstance(f, bool) and f >= 0]
    if len(checked) != 3 or not checked[0] < checked[1] or checked[2] > remaining:
        raise ValueError(
            "state 'worker' must be {'id', 'num_workers', 'consumed'} as saved in a DataLoader "
            f"worker, got {worker!r}"
        )
    return checked


def _is_count(value: object, maximum: int | None) -> bool:
    """``value`` is an ``int`` (not ``bool``) in ``[0, maximum]`` (no upper bound when None)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return False
    return maximum is None or value <= maximum


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


def apply_transform(transform: Callable[[Any], T] | None, data: Any, uri: str) -> Any:
    """``transform(data)``, with a failure re-raised as :class:`TransformError` naming ``uri``."""
    if transform is None:
        return data
    try:
        return transform(data)
    except Exception as exc:
        raise TransformError(f"transform failed for {uri}: {type(exc).__name__}: {exc}", uri) from exc
