"""PyTorch datasets over object storage: map-style, iterable (sharded, resumable) and decoders.

Both datasets take a prefix (listed once, in the process that builds the dataset) or an explicit
list of object URIs, and an optional ``transform`` that turns an object's bytes into a sample.
They pickle to their settings and key list, so they work under ``DataLoader`` workers started
with ``fork`` (the default on Linux, also after the parent used storage), ``spawn`` or
``forkserver``.

* :class:`S3MapDataset` is indexable. ``DataLoader``'s sampler, or ``DistributedSampler`` under
  DDP, decides which objects a worker or rank reads, and each batch is fetched concurrently.
* :class:`S3IterableDataset` decides the order itself: a :class:`~s3dlio.loader.sampler.ShardedSampler`
  shards it across ranks (``set_epoch`` reshuffles), each DataLoader worker takes a disjoint
  stride of its rank's order, and objects are fetched ahead concurrently in that order. Its
  position within an epoch can be saved and restored (``state_dict``/``load_state_dict``).

Every object is read exactly once per epoch across the workers of a rank.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, IterableDataset, get_worker_info

from .. import ops
from .._sync import run
from ..blocking import get
from ..loader.sampler import ShardedSampler
from ._common import (
    ConfigCarrier,
    ResumablePosition,
    TransformError,
    UriList,
    apply_transform,
    check_positive,
    decode_npz,
    fetch_in_order,
    resolve_uris,
    shard_objects,
)

__all__ = [
    "S3IterableDataset",
    "S3MapDataset",
    "TransformError",
    "bytes_to_uint8_tensor",
    "collate_npz",
    "npz_to_tensors",
]

Transform = Callable[[bytes], Any]


# --- decoders ----------------------------------------------------------------------------------
def bytes_to_uint8_tensor(data: Any) -> torch.Tensor:
    """An object's bytes as a 1-D ``torch.uint8`` tensor.

    A writable buffer (``bytearray``, writable ``memoryview``, NumPy array) is shared without a
    copy: the tensor aliases it and keeps it alive. A read-only buffer such as ``bytes`` is
    copied once, because a tensor over immutable memory could be written to and would corrupt
    the object (PyTorch warns about exactly this for ``torch.frombuffer(bytes)``).
    """
    view = memoryview(data)
    if view.nbytes == 0:
        return torch.empty(0, dtype=torch.uint8)
    if view.readonly or not view.c_contiguous:
        return torch.frombuffer(bytearray(view), dtype=torch.uint8)
    if view.ndim != 1 or view.format != "B":
        view = view.cast("B")
    return torch.frombuffer(view, dtype=torch.uint8)


def _to_tensor(name: str, value: Any) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value
    array = np.asarray(value)
    if array.dtype.kind not in "biufc":
        raise TypeError(f"array {name!r} has dtype {array.dtype}, which has no torch equivalent")
    if not array.dtype.isnative:
        array = array.astype(array.dtype.newbyteorder("="))
    if not array.flags.writeable:
        array = array.copy()  # a tensor over read-only memory could be written through
    elif any(stride < 0 for stride in array.strides):
        array = np.ascontiguousarray(array)
    return torch.from_numpy(array)


def npz_to_tensors(data: bytes) -> dict[str, torch.Tensor]:
    """Decode an ``.npz`` object into ``{array name: tensor}`` (sharing the decoded arrays)."""
    return {name: _to_tensor(name, array) for name, array in decode_npz(data).items()}


def collate_npz(samples: Sequence[Any]) -> dict[str, torch.Tensor]:
    """Stack npz samples into one batch: ``{name: tensor of shape (len(samples), ...)}``.

    Each sample may be the raw ``.npz`` bytes or a mapping of arrays/tensors (for example what
    :func:`npz_to_tensors` returns). All samples must hold the same names and shapes.
    """
    if len(samples) == 0:
        raise ValueError("collate_npz needs at least one sample")
    decoded: list[Mapping[str, Any]] = [
        npz_to_tensors(bytes(s)) if isinstance(s, bytes | bytearray | memoryview) else s for s in samples
    ]
    names = list(decoded[0].keys())
    batch: dict[str, torch.Tensor] = {}
    for position, sample in enumerate(decoded):
        if not isinstance(sample, Mapping):
            raise TypeError(
                f"collate_npz: sample {position} is a {type(sample).__name__}, expected npz bytes "
                "or a mapping of arrays"
            )
        if sorted(sample.keys()) != sorted(names):
            raise ValueError(
                f"collate_npz: sample {position} has arrays {sorted(sample.keys())}, "
                f"but sample 0 has {sorted(names)}"
            )
    for name in names:
        parts = [_to_tensor(name, sample[name]) for sample in decoded]
        shapes = {tuple(p.shape) for p in parts}
        if len(shapes) > 1:
            raise ValueError(f"collate_npz: array {name!r} has different shapes in one batch: {shapes}")
        batch[name] = torch.stack(parts)
    return batch


# --- distributed settings -------------------------------------------------------------------------
def _dist() -> Any:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist
    return None


def _default_shard() -> tuple[int, int]:
    dist = _dist()
    return (dist.get_rank(), dist.get_world_size()) if dist is not None else (0, 1)


def _shared_seed(world_size: int) -> int:
    """Every rank must shuffle with the same seed; draw one on rank 0 and share it."""
    dist = _dist()
    if dist is None or dist.get_world_size() != world_size:
        raise ValueError(
            f"shuffle=True with world_size={world_size} needs an explicit seed (every rank must "
            "draw the same order); pass seed=..., or build the dataset after "
            "torch.distributed.init_process_group() so rank 0 can share one"
        )
    drawn = [int(np.random.SeedSequence().generate_state(1, np.uint64)[0] >> 1)]
    dist.broadcast_object_list(drawn, src=0)
    return int(drawn[0])


# --- map-style -------------------------------------------------------------------------------------
class S3MapDataset(Dataset[Any]):
    """A map-style dataset: ``dataset[i]`` is ``transform(bytes of object i)``.

    Objects are sorted by URI when a prefix is given. Under ``DataLoader`` with automatic batching
    the whole batch is fetched concurrently (``__getitems__``, up to ``max_in_flight`` GETs at
    once). Use ``DistributedSampler(dataset)`` for DDP, as with any map-style dataset.

    Args:
        uris_or_prefix: a prefix such as ``"s3://bucket/train/"`` or a list of object URIs.
        transform: called with each object's bytes; its result is the sample. ``None`` keeps
            the bytes. An exception from it is re-raised as :class:`TransformError` naming the
            object.
        max_in_flight: concurrent GETs when fetching a batch.
    """

    def __init__(
        self,
        uris_or_prefix: str | Iterable[str],
        transform: Transform | None = None,
        *,
        max_in_flight: int = 64,
    ) -> None:
        self._uris: UriList = resolve_uris(uris_or_prefix)
        self.transform = transform
        self.max_in_flight = check_positive("max_in_flight", max_in_flight)
        self._config = ConfigCarrier()

    @property
    def uris(self) -> Sequence[str]:
        """The objects, in index order."""
        return self._uris

    def __len__(self) -> int:
        return len(self._uris)

    def _uri(self, index: int) -> str:
        if isinstance(index, bool) or not isinstance(index, int | np.integer):
            raise TypeError(f"index must be an integer, got {type(index).__name__}")
        if not -len(self._uris) <= index < len(self._uris):
            raise IndexError(f"index {index} is out of range for a dataset of {len(self._uris)} objects")
        return self._uris[int(index)]

    def __getitem__(self, index: int) -> Any:
        self._config.ensure()
        uri = self._uri(index)
        return apply_transform(self.transform, get(uri), uri)

    def __getitems__(self, indices: Sequence[int]) -> list[Any]:
        """Fetch several samples concurrently (``DataLoader`` calls this for each batch)."""
        self._config.ensure()
        uris = [self._uri(i) for i in indices]
        blobs = run(ops.read_many_async(uris, self.max_in_flight))
        return [apply_transform(self.transform, data, uri) for uri, data in zip(uris, blobs, strict=True)]

    def __repr__(self) -> str:
        return f"S3MapDataset({self._uris!r}, transform={self.transform!r})"


# --- iterable --------------------------------------------------------------------------------------
class S3IterableDataset(IterableDataset[Any]):
    """An iterable dataset that shards, shuffles and prefetches objects itself.

    Each epoch, this rank's order comes from a :class:`~s3dlio.loader.sampler.ShardedSampler`
    (the same rule as ``DistributedSampler``: equal length on every rank, padded by wrapping
    around unless ``drop_last``). Under ``DataLoader(num_workers=N)`` worker ``k`` takes positions
    ``k, k+N, ...`` of that order, so each object is read once per epoch. Within a process up to
    ``max_in_flight`` objects are fetched ahead concurrently, and samples come out in order.

    Args:
        uris_or_prefix: a prefix such as ``"s3://bucket/train/"`` or a list of object URIs.
        transform: ``bytes -> sample``; ``None`` yields the bytes. Failures raise
            :class:`TransformError` naming the object.
        shuffle, seed: shuffle each epoch with ``seed`` (the order is a function of seed and
            epoch). Distributed runs need the same seed on every rank: without one, it is drawn on
            rank 0 and broadcast (collective call, so build the dataset on every rank).
        drop_last: drop the tail that does not divide evenly across ranks instead of padding.
        rank, world_size: this process's shard. Default: from ``torch.distributed`` when it is
            initialized when the dataset is built, else ``0`` and ``1``.
        epoch: the starting epoch (see :meth:`set_epoch`).
        max_in_flight: objects fetched ahead concurrently in each worker.
        batch_size: if set, yield batches of this many samples (the last may be smaller), passed
            through ``collate_fn`` (default: a list); use ``DataLoader(..., batch_size=None)``.
        collate_fn: combines one batch when ``batch_size`` is set, e.g. :func:`collate_npz`.

    Call :meth:`set_epoch` before each epoch, as with ``DistributedSampler``. With
    ``persistent_workers=True`` workers keep the epoch they started with.
    """

    def __init__(
        self,
        uris_or_prefix: str | Iterable[str],
        transform: Transform | None = None,
        *,
        shuffle: bool = False,
        seed: int | None = None,
        drop_last: bool = False,
        rank: int | None = None,
        world_size: int | None = None,
        epoch: int = 0,
        max_in_flight: int = 32,
        batch_size: int | None = None,
        collate_fn: Callable[[list[Any]], Any] | None = None,
    ) -> None:
        self.transform = transform
        self.max_in_flight = check_positive("max_in_flight", max_in_flight)
        self.batch_size = None if batch_size is None else check_positive("batch_size", batch_size)
        self.collate_fn = collate_fn
        self._uris, sampler = shard_objects(
            uris_or_prefix,
            shuffle=shuffle,
            seed=seed,
            drop_last=drop_last,
            epoch=epoch,
            rank=rank,
            world_size=world_size,
            default_shard=_default_shard,
            draw_seed=_shared_seed,
        )
        self._position = ResumablePosition(
            sampler, len(self._uris), owner="S3IterableDataset", there_are="this dataset has"
        )
        self._config = ConfigCarrier()

    # -- settings ---------------------------------------------------------------------------
    @property
    def uris(self) -> Sequence[str]:
        """All objects of the dataset (every rank's), sorted when listed from a prefix."""
        return self._uris

    @property
    def sampler(self) -> ShardedSampler:
        """The sampler that orders and shards the objects."""
        return self._position.sampler

    @property
    def epoch(self) -> int:
        return self.sampler.epoch

    @property
    def seed(self) -> int:
        return self.sampler.seed

    @property
    def rank(self) -> int:
        return self.sampler.rank

    @property
    def world_size(self) -> int:
        return self.sampler.world_size

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch (and so the shuffle order); starts the epoch from its beginning."""
        self._position.set_epoch(epoch)

    def __len__(self) -> int:
        """Samples this rank yields per epoch, or batches when ``batch_size`` is set (1 worker)."""
        n = len(self.sampler)
        return n if self.batch_size is None else -(-n // self.batch_size)

    # -- iteration --------------------------------------------------------------------------
    def _order(self) -> list[str]:
        info = get_worker_info()
        order = self._position.start(None if info is None else (info.id, info.num_workers))
        return [self._uris[i] for i in order]

    def __iter__(self) -> Iterator[Any]:
        self._config.ensure()
        uris = self._order()
        samples = self._samples(uris)
        return samples if self.batch_size is None else self._batches(samples)

    def _samples(self, uris: list[str]) -> Iterator[Any]:
        for uri, data in fetch_in_order(uris, self.max_in_flight):
            sample = apply_transform(self.transform, data, uri)
            self._position.advance()
            yield sample

    def _batches(self, samples: Iterator[Any]) -> Iterator[Any]:
        assert self.batch_size is not None
        batch: list[Any] = []
        for sample in samples:
            batch.append(sample)
            if len(batch) == self.batch_size:
                yield self._collate(batch)
                batch = []
        if batch:
            yield self._collate(batch)

    def _collate(self, batch: list[Any]) -> Any:
        return batch if self.collate_fn is None else self.collate_fn(batch)

    # -- checkpointing ----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Where this rank is: the sampler's state plus the samples consumed in this epoch.

        The count is exact where the dataset is iterated: in this process with ``num_workers=0``,
        and inside each worker under torchdata's ``StatefulDataLoader``, which gathers every
        worker's state into its own ``state_dict()`` and gives it back to the same worker on
        resume (exact mid-epoch resume with workers). With the plain ``DataLoader`` and workers,
        iteration happens in the worker processes and this process cannot see their progress:
        the state it returns restarts the epoch (or resumes from where the last loaded state
        pointed).
        """
        return self._position.state_dict()

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Resume from :meth:`state_dict`: the next iteration skips the consumed samples."""
        self._position.load_state_dict(state)

    def __repr__(self) -> str:
        return (
            f"S3IterableDataset({self._uris!r}, rank={self.rank}, world_size={self.world_size}, "
            f"epoch={self.epoch}, shuffle={self.sampler.shuffle})"
        )
