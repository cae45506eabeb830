"""ShardedSampler: a pure, resumable, evenly sharded order."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pytest
from stateful import check_resume

from s3dlio.loader.sampler import ShardedSampler, split_for_worker


def test_unshuffled_single_rank_is_index_order() -> None:
    assert ShardedSampler(7).indices() == list(range(7))
    assert len(ShardedSampler(7)) == 7
    assert ShardedSampler(0).indices() == []


def test_order_is_a_pure_function_of_its_inputs() -> None:
    args: dict[str, Any] = dict(shuffle=True, seed=11, epoch=3, rank=1, world_size=3)
    first = ShardedSampler(50, **args).indices()
    np.random.seed(0)  # the global numpy RNG must not matter
    np.random.rand(10)
    assert ShardedSampler(50, **args).indices() == first
    assert sorted(ShardedSampler(50, shuffle=True, seed=11).indices()) == list(range(50))


def test_different_seeds_give_different_orders() -> None:
    a = ShardedSampler(100, shuffle=True, seed=1).indices()
    b = ShardedSampler(100, shuffle=True, seed=2).indices()
    assert a != b
    assert sorted(a) == sorted(b) == list(range(100))


def test_shuffle_without_seed_is_random_and_recorded() -> None:
    a = ShardedSampler(100, shuffle=True)
    b = ShardedSampler(100, shuffle=True)
    assert a.seed != b.seed
    assert a.indices() != b.indices()
    assert a.state_dict()["seed"] == a.seed
    c = ShardedSampler(100, shuffle=True)
    c.load_state_dict(a.state_dict())
    assert c.indices() == a.indices()


def test_set_epoch_changes_the_order_and_is_reproducible() -> None:
    s = ShardedSampler(64, shuffle=True, seed=5)
    e0 = s.indices()
    s.set_epoch(1)
    assert s.epoch == 1
    e1 = s.indices()
    assert e0 != e1 and sorted(e0) == sorted(e1)
    s.set_epoch(0)
    assert s.indices() == e0
    assert ShardedSampler(64, shuffle=True, seed=5, epoch=1).indices() == e1


def test_without_shuffle_epoch_does_not_change_order() -> None:
    s = ShardedSampler(10, epoch=4)
    assert s.indices() == list(range(10))


@pytest.mark.parametrize("size", [0, 1, 2, 7, 10, 13, 101])
@pytest.mark.parametrize("world", [1, 2, 3, 4, 8])
@pytest.mark.parametrize("shuffle", [False, True])
def test_shards_padding_rule(size: int, world: int, shuffle: bool) -> None:
    shards = [
        ShardedSampler(size, shuffle=shuffle, seed=3, rank=r, world_size=world).indices()
        for r in range(world)
    ]
    per_rank = -(-size // world)
    assert all(len(s) == per_rank for s in shards), "every rank gets the same count"
    for r in range(world):
        assert len(ShardedSampler(size, rank=r, world_size=world)) == per_rank
    counts = Counter(i for shard in shards for i in shard)
    assert set(counts) == set(range(size)), "the union is the whole dataset"
    padding = per_rank * world - size
    assert sum(counts.values()) - size == padding
    assert padding < world or size == 0
    # the padding wraps around to the start of the global order (more than once only when
    # there are fewer items than ranks)
    global_order = ShardedSampler(size, shuffle=shuffle, seed=3).indices()
    expected = Counter(global_order[i % size] for i in range(per_rank * world)) if size else Counter()
    assert counts == expected
    if size >= world:
        assert all(c <= 2 for c in counts.values())


@pytest.mark.parametrize("size", [0, 1, 2, 7, 10, 13, 101])
@pytest.mark.parametrize("world", [1, 2, 3, 4, 8])
@pytest.mark.parametrize("shuffle", [False, True])
def test_shards_drop_last_rule(size: int, world: int, shuffle: bool) -> None:
    shards = [
        ShardedSampler(size, shuffle=shuffle, seed=3, rank=r, world_size=world, drop_last=True).indices()
        for r in range(world)
    ]
    assert all(len(s) == size // world for s in shards)
    flat = [i for shard in shards for i in shard]
    assert len(flat) == len(set(flat)), "shards are disjoint, nothing repeated"
    assert len(flat) == (size // world) * world
    global_order = ShardedSampler(size, shuffle=shuffle, seed=3).indices()
    assert set(flat) == set(global_order[: len(flat)]), "only the tail of the global order is dropped"


def test_ranks_interleave_the_global_order() -> None:
    g = ShardedSampler(12, shuffle=True, seed=9).indices()
    for r in range(3):
        assert ShardedSampler(12, shuffle=True, seed=9, rank=r, world_size=3).indices() == g[r::3]


@pytest.mark.parametrize(
    ("rank", "world"), [(2, 2), (5, 3), (-1, 2), (0, 0)], ids=["eq", "gt", "negative", "zero-world"]
)
def test_bad_rank_or_world_size_names_the_setting(rank: int, world: int) -> None:
    with pytest.raises(ValueError, match=r"shard_rank|shard_world_size"):
        ShardedSampler(10, rank=rank, world_size=world)


@pytest.mark.parametrize(
    "kwargs",
    [{"seed": -1}, {"seed": 1.5}, {"epoch": -1}, {"shuffle": 1}, {"drop_last": "yes"}],
)
def test_bad_arguments(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        ShardedSampler(10, **kwargs)
    with pytest.raises(ValueError):
        ShardedSampler(-1)


def test_load_state_dict_rejects_a_different_layout() -> None:
    a = ShardedSampler(10, world_size=2)
    with pytest.raises(ValueError, match="world_size"):
        ShardedSampler(10, world_size=4).load_state_dict(a.state_dict())
    with pytest.raises(ValueError, match="size"):
        ShardedSampler(11, world_size=2).load_state_dict(a.state_dict())


class Cursor:
    """A sampler plus a position: the state a loader keeps."""

    def __init__(self, sampler: ShardedSampler) -> None:
        self.sampler = sampler
        self.pos = 0

    def state_dict(self) -> dict[str, Any]:
        return {"sampler": self.sampler.state_dict(), "pos": self.pos}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.sampler.load_state_dict(state["sampler"])
        self.pos = state["pos"]


def consume_cursor(cursor: Cursor, n: int | None) -> list[int]:
    order = cursor.sampler.indices()
    end = len(order) if n is None else cursor.pos + n
    out = order[cursor.pos : end]
    cursor.pos = end
    return out


@pytest.mark.parametrize("seed", [None, 7])
def test_sampler_resume(seed: int | None) -> None:
    state: dict[str, Any] = {}

    def make() -> Cursor:
        s = ShardedSampler(41, shuffle=True, seed=seed, rank=1, world_size=3, epoch=2)
        if "seed" not in state:
            state["seed"] = s.seed  # the reference run's seed; fresh ones draw another
        return Cursor(s)

    if seed is None:
        # a fresh sampler draws a new seed, so the reference must be rebuilt from saved state
        # (one rank: several ranks must share a seed, see test_shards_need_a_shared_seed)
        ref = Cursor(ShardedSampler(41, shuffle=True, rank=0, world_size=1, epoch=2))
        saved = ref.sampler.state_dict()

        def make_seeded() -> Cursor:
            c = Cursor(ShardedSampler(41, shuffle=True, rank=0, world_size=1, epoch=2))
            c.sampler.load_state_dict(saved)
            return c

        check_resume(make_seeded, consume_cursor, midpoints=[1, 5, 13])
        # the restored object really came from a different random seed
        assert Cursor(ShardedSampler(41, shuffle=True, rank=0, world_size=1)).sampler.seed != ref.sampler.seed
    else:
        check_resume(make, consume_cursor, midpoints=[1, 5, 13])


def test_fresh_random_sampler_restored_from_state_continues_exactly() -> None:
    a = ShardedSampler(30, shuffle=True)
    a.set_epoch(4)
    order = a.indices()
    b = ShardedSampler(30, shuffle=True)
    assert b.indices() != order
    b.load_state_dict(a.state_dict())
    assert b.epoch == 4 and b.indices() == order


def test_split_for_worker() -> None:
    order = list(range(100, 117))
    parts = [split_for_worker(order, w, 4) for w in range(4)]
    assert parts[1] == order[1::4]
    assert sorted(i for p in parts for i in p) == order
    assert max(map(len, parts)) - min(map(len, parts)) <= 1
    assert split_for_worker(order, 0, 1) == order
    with pytest.raises(ValueError, match="worker_id"):
        split_for_worker(order, 4, 4)
    with pytest.raises(ValueError, match="num_workers"):
        split_for_worker(order, 0, 0)


@pytest.mark.parametrize("world", [2, 3])
def test_shards_need_a_shared_seed(world: int) -> None:
    """Item 4: each rank drawing its own seed made shards overlap (2 ranks over 8 objects covered
    5). Several shuffled shards without a seed are refused; with one they partition the data."""
    with pytest.raises(ValueError, match="seed") as info:
        ShardedSampler(8, shuffle=True, rank=0, world_size=world)
    assert "shard_world_size" in str(info.value)
    shards = [
        ShardedSampler(8, shuffle=True, seed=4, rank=r, world_size=world).indices() for r in range(world)
    ]
    covered = Counter(i for shard in shards for i in shard)
    assert set(covered) == set(range(8))
    assert ShardedSampler(8, rank=1, world_size=world).indices()  # no shuffle: no seed needed
    assert ShardedSampler(8, shuffle=True).seed >= 0  # one shard: a fresh random seed is fine


def test_the_loader_refuses_unseeded_shuffled_shards(make_prefix: Any) -> None:
    import s3dlio

    prefix = make_prefix(8)
    with pytest.raises(ValueError, match="seed"):
        s3dlio.create_async_loader(prefix, {"shuffle": True, "shard_rank": 0, "shard_world_size": 2})
    seen: list[bytes] = []
    for rank in range(2):
        opts = {"shuffle": True, "seed": 9, "shard_rank": rank, "shard_world_size": 2, "batch_size": 1}
        for batch in s3dlio.create_async_loader(prefix, opts):
            seen += [bytes(item) for item in batch]
    assert len(set(seen)) == 8


def test_framework_adapters_share_the_rule() -> None:
    from s3dlio.frameworks._common import shard_objects

    with pytest.raises(ValueError, match="seed"):
        shard_objects(["file:///x/a", "file:///x/b"], shuffle=True, seed=None, drop_last=False, epoch=0,
                      rank=0, world_size=2)  # fmt: skip
    drawn = shard_objects(
        ["file:///x/a", "file:///x/b"], shuffle=True, seed=None, drop_last=False, epoch=0, rank=1,
        world_size=2, draw_seed=lambda world: 1234,
    )[1]  # fmt: skip
    assert drawn.seed == 1234
