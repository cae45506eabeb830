"""Deterministic, resumable, sharded index order for loaders.

The order a :class:`ShardedSampler` yields is a pure function of
``(seed, epoch, rank, world_size, size, shuffle, drop_last)``.  It never depends on
network completion order, concurrency settings or wall-clock time.

Sharding rule (identical on every rank, so every rank yields the same count):

* The global epoch order is ``range(size)``, or, with ``shuffle=True``, a permutation
  drawn from ``numpy.random.Generator(PCG64(SeedSequence([seed, epoch])))``.
* ``drop_last=False``: the global order is padded by wrapping around to its start until
  its length is a multiple of ``world_size`` (the same rule as
  ``torch.utils.data.DistributedSampler``).  The only repeated indices are that padding,
  at most ``world_size - 1`` of them per epoch (it wraps more than once only when there
  are fewer items than ranks).
* ``drop_last=True``: the tail of the global order is dropped so that its length is a
  multiple of ``world_size`` (at most ``world_size - 1`` items are skipped per epoch;
  with shuffling, which items are skipped changes every epoch).
* Rank ``r`` takes positions ``r, r + world_size, r + 2*world_size, ...`` of the
  (padded or truncated) global order.  Shards are disjoint apart from padding and their
  union is the whole dataset (minus the dropped tail with ``drop_last``).

Seed rule (:func:`shared_seed`, the one rule for the core loader and every framework adapter):
shuffled shards are disjoint only if every rank draws the same permutation, so ``shuffle=True``
with more than one shard needs a seed shared by all ranks: an explicit one, or one the caller
shares (the PyTorch adapter broadcasts one from rank 0). Otherwise it is refused with a
``ValueError``; a single shard without a seed draws a fresh random one (recorded in its state).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

__all__ = ["ShardedSampler", "split_for_worker"]

_STATE_VERSION = 1


def _check_int(name: str, value: object, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be an int, got {type(value).__name__} ({value!r})")
    ivalue = int(value)
    if ivalue < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {ivalue}")
    return ivalue


def shared_seed(
    seed: int | None,
    *,
    shuffle: bool,
    world_size: int,
    draw: Callable[[int], int] | None = None,
    names: tuple[str, str] = ("seed", "shard_world_size"),
    peers: str = "rank",
) -> int | None:
    """The seed every shard must use: ``seed``, or ``draw(world_size)`` (a seed the caller shares
    among the ranks) when shuffling several shards without one; without ``draw`` that is refused.

    ``names`` are the caller's option names for the seed and the world size, used in the error.
    """
    if not shuffle or seed is not None or world_size <= 1:
        return seed
    if draw is not None:
        return draw(world_size)
    raise ValueError(
        f"shuffle=True with {names[1]}={world_size} needs an explicit {names[0]}: every {peers} must "
        "draw the same order, or the shards overlap and miss objects"
    )


def _epoch_permutation(size: int, seed: int, epoch: int) -> np.ndarray:
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, epoch])))
    return rng.permutation(size)


class ShardedSampler:
    """Index order for one rank of a (possibly distributed) job.

    ``indices()`` returns this rank's order for the current epoch; see the module
    docstring for the exact padding / dropping rule.
    """

    def __init__(
        self,
        size: int,
        *,
        shuffle: bool = False,
        seed: int | None = None,
        epoch: int = 0,
        rank: int = 0,
        world_size: int = 1,
        drop_last: bool = False,
    ) -> None:
        self._size = _check_int("size", size, minimum=0)
        if not isinstance(shuffle, bool):
            raise ValueError(f"shuffle must be a bool, got {type(shuffle).__name__}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last must be a bool, got {type(drop_last).__name__}")
        self._world_size = _check_int("shard_world_size", world_size, minimum=1)
        self._rank = _check_int("shard_rank", rank, minimum=0)
        if self._rank >= self._world_size:
            raise ValueError(
                f"shard_rank must be < shard_world_size, got shard_rank={self._rank}, "
                f"shard_world_size={self._world_size}"
            )
        self._epoch = _check_int("epoch", epoch, minimum=0)
        self._shuffle = shuffle
        self._drop_last = drop_last
        seed = shared_seed(seed, shuffle=shuffle, world_size=self._world_size)
        self._seed_given = seed is not None
        if seed is None:
            # A fresh random seed per sampler; recorded in state_dict() for exact resume.
            self._seed = secrets.randbits(63) if shuffle else 0
        else:
            self._seed = _check_int("seed", seed, minimum=0)
        self._cache: tuple[int, list[int]] | None = None

    # -- properties ---------------------------------------------------------------------
    @property
    def size(self) -> int:
        return self._size

    @property
    def epoch(self) -> int:
        return self._epoch

    @property
    def seed(self) -> int:
        """The resolved seed (randomly drawn when ``shuffle`` and no seed was given)."""
        return self._seed

    @property
    def rank(self) -> int:
        return self._rank

    @property
    def world_size(self) -> int:
        return self._world_size

    @property
    def shuffle(self) -> bool:
        return self._shuffle

    @property
    def drop_last(self) -> bool:
        return self._drop_last

    def set_epoch(self, epoch: int) -> None:
        self._epoch = _check_int("epoch", epoch, minimum=0)

    # -- order --------------------------------------------------------------------------
    def __len__(self) -> int:
        n, w = self._size, self._world_size
        if self._drop_last:
            return n // w
        return -(-n // w)

    def _global_order(self) -> np.ndarray:
        if self._shuffle:
            return _epoch_permutation(self._size, self._seed, self._epoch)
        return np.arange(self._size, dtype=np.int64)

    def indices(self) -> list[int]:
        """This rank's indices for the current epoch."""
        if self._cache is not None and self._cache[0] == self._epoch:
            return list(self._cache[1])
        order = self._global_order()
        n, w = self._size, self._world_size
        if n == 0:
            mine: list[int] = []
        else:
            if self._drop_last:
                order = order[: (n // w) * w]
            else:
                total = -(-n // w) * w
                if total > n:
                    order = np.resize(order, total)  # np.resize repeats from the start
            mine = [int(i) for i in order[self._rank :: w]]
        self._cache = (self._epoch, mine)
        return list(mine)

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices())

    # -- state --------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "version": _STATE_VERSION,
            "size": self._size,
            "shuffle": self._shuffle,
            "seed": self._seed,
            "epoch": self._epoch,
            "rank": self._rank,
            "world_size": self._world_size,
            "drop_last": self._drop_last,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore ``seed`` and ``epoch`` (and check the layout matches).

        ``size``, ``shuffle``, ``rank``, ``world_size`` and ``drop_last`` must match this
        sampler's; a mismatch raises ``ValueError`` because resuming would silently
        repeat or skip items.
        """
        if not isinstance(state, dict):
            raise ValueError(f"state must be a dict, got {type(state).__name__}")
        missing = [k for k in ("seed", "epoch") if k not in state]
        if missing:
            raise ValueError(f"sampler state is missing keys {missing}")
        for key, mine in (
            ("size", self._size),
            ("shuffle", self._shuffle),
            ("rank", self._rank),
            ("world_size", self._world_size),
            ("drop_last", self._drop_last),
        ):
            if key in state and state[key] != mine:
                raise ValueError(
                    f"sampler state has {key}={state[key]!r} but this sampler has {key}={mine!r}"
                )
        self._seed = _check_int("seed", state["seed"], minimum=0)
        self._epoch = _check_int("epoch", state["epoch"], minimum=0)
        self._cache = None


def split_for_worker(indices: Sequence[int], worker_id: int, num_workers: int) -> list[int]:
    """Strided split of ``indices`` for DataLoader worker ``worker_id`` of ``num_workers``.

    Worker ``k`` gets positions ``k, k + num_workers, ...``; the workers' lists are
    disjoint and together hold every index exactly once (their lengths differ by at
    most one).
    """
    nw = _check_int("num_workers", num_workers, minimum=1)
    wid = _check_int("worker_id", worker_id, minimum=0)
    if wid >= nw:
        raise ValueError(f"worker_id must be < num_workers, got worker_id={wid}, num_workers={nw}")
    return [int(i) for i in list(indices)[wid::nw]]
