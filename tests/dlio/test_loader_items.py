"""PyDataset.from_uris and PyBytesAsyncDataLoader.items() / collect_batch(), as DLIO streams reads."""

from __future__ import annotations

import numpy as np
import pytest

import s3dlio

MiB = 1024 * 1024


def _objects(root: str, count: int = 7) -> dict[str, bytes]:
    rng = np.random.default_rng(3)
    objects = {
        f"{root}obj-{i:02d}.npz": rng.integers(0, 256, 1000 + 333 * i, dtype=np.uint8).tobytes()
        for i in range(count)
    }
    s3dlio.put_many(list(objects.items()))
    return objects


def test_from_uris_lists_nothing_and_keeps_the_order(root: str) -> None:
    objects = _objects(root)
    uris = list(reversed(objects))
    ds = s3dlio.PyDataset.from_uris(uris)
    assert isinstance(ds, s3dlio.PyDataset) and len(ds) == len(uris)
    assert ds.uris == uris and ds.sizes == [None] * len(uris)
    assert bytes(ds[0]) == objects[uris[0]]
    with pytest.raises(s3dlio.EmptyDatasetError):
        s3dlio.PyDataset.from_uris([])
    with pytest.raises(s3dlio.InvalidUriError):
        s3dlio.PyDataset.from_uris([root])  # a directory, not an object
    with pytest.raises(TypeError):
        s3dlio.PyDataset.from_uris(root)  # type: ignore[arg-type]


def test_items_collect_batch_yields_every_object_once(root: str) -> None:
    objects = _objects(root)
    ds = s3dlio.PyDataset.from_uris(list(objects))
    loader = s3dlio.PyBytesAsyncDataLoader(ds, {"prefetch": 3, "skip_head": True})
    item_iter = loader.items()
    seen: dict[str, int] = {}
    batches = []
    while batch := item_iter.collect_batch(3):  # DLIO _s3_iterable_mixin._s3_stream_s3dlio
        batches.append(len(batch))
        for item in batch:
            assert isinstance(item, s3dlio.PyObjectItem)
            assert item.uri not in seen
            seen[item.uri] = len(item)
            assert item.byte_count == len(item) and bytes(item) == objects[item.uri]
            assert bytes(memoryview(item.data)) == objects[item.uri]
    assert seen == {uri: len(data) for uri, data in objects.items()}
    assert batches == [3, 3, 1]
    assert item_iter.collect_batch(3) == []  # stays at the end
    assert ds.sizes == [None] * len(objects)  # skip_head: no HEAD requests


def test_items_with_a_window_of_one_follow_the_epoch_order(root: str) -> None:
    objects = _objects(root)
    uris = list(objects)
    loader = s3dlio.PyBytesAsyncDataLoader(
        s3dlio.PyDataset.from_uris(uris), {"prefetch": 1, "shuffle": True, "seed": 5}
    )
    order = [item.uri for item in loader.items()]  # plain iteration works too
    assert order == [uris[i] for i in loader.sampler.indices()]
    assert order != uris and sorted(order) == sorted(uris)
    sharded = s3dlio.PyBytesAsyncDataLoader(
        s3dlio.PyDataset.from_uris(uris), {"prefetch": 4, "shard_rank": 1, "shard_world_size": 2}
    )
    assert sorted(item.uri for item in sharded.items()) == sorted(uris[i] for i in sharded.sampler.indices())


def test_skip_head_false_reads_sizes_first(root: str) -> None:
    objects = _objects(root, count=3)
    big = root + "big.npz"
    s3dlio.put_bytes(big, b"\x05" * (11 * MiB))
    ds = s3dlio.PyDataset.from_uris([*objects, big])
    loader = s3dlio.PyBytesAsyncDataLoader(ds, {"prefetch": 2, "skip_head": False, "part_size": 5 * MiB})
    sizes = {item.uri: len(item) for item in loader.items()}
    assert ds.sizes == [len(d) for d in objects.values()] + [11 * MiB]
    assert sizes[big] == 11 * MiB
    batches = list(s3dlio.PyBytesAsyncDataLoader(ds, {"batch_size": 4, "skip_head": False}))
    assert [len(b) for b in batches] == [4] and bytes(batches[0][3]) == b"\x05" * (11 * MiB)


def test_items_raise_a_failed_read(root: str) -> None:
    objects = _objects(root, count=3)
    uris = [*objects, root + "missing.npz"]
    items = s3dlio.PyBytesAsyncDataLoader(s3dlio.PyDataset.from_uris(uris), {"prefetch": 1}).items()
    got = items.collect_batch(3)
    assert [i.uri for i in got] == uris[:3]
    with pytest.raises(RuntimeError) as caught:  # DLIO catches RuntimeError
        items.collect_batch(3)
    assert isinstance(caught.value, s3dlio.NotFoundError) and "missing.npz" in str(caught.value)


def test_items_close_cancels_outstanding_reads(tmp_path: object) -> None:
    root = f"file://{tmp_path}/"
    objects = _objects(root, count=20)
    with s3dlio.PyBytesAsyncDataLoader(
        s3dlio.PyDataset.from_uris(list(objects)), {"prefetch": 8}
    ).items() as it:
        first = it.collect_batch(2)
    assert len(first) == 2
    assert it.collect_batch(5) == []  # closed: nothing more


def test_skip_head_must_be_a_bool() -> None:
    with pytest.raises(s3dlio.ConfigError):
        s3dlio.LoaderOptions.from_dict({"skip_head": "yes"})
    assert s3dlio.LoaderOptions.from_dict({"skip_head": False}).skip_head is False


def test_items_in_dataloader_workers_split_only_when_asked(tmp_path: object) -> None:
    import torch.utils.data

    root = f"file://{tmp_path}/"
    uris = sorted(_objects(root, count=6))

    class Files(torch.utils.data.IterableDataset[list[str]]):
        def __init__(self, opts: dict[str, object], own_share: bool) -> None:
            self.opts, self.own_share = opts, own_share

        def __iter__(self):  # type: ignore[no-untyped-def]
            info = torch.utils.data.get_worker_info()
            mine = uris[info.id :: info.num_workers] if self.own_share else uris
            loader = s3dlio.PyBytesAsyncDataLoader(s3dlio.PyDataset.from_uris(mine), self.opts)
            yield sorted(item.uri for item in loader.items())

    def gather(opts: dict[str, object], own_share: bool) -> list[str]:
        parts = torch.utils.data.DataLoader(Files(opts, own_share), batch_size=None, num_workers=2)
        return sorted(uri for part in parts for uri in part)

    assert gather({"prefetch": 4}, own_share=True) == uris  # each worker's own list, not split again
    assert gather({"prefetch": 4, "num_workers_split": True}, own_share=False) == uris  # split on request


def test_items_are_zero_copy_unless_told_otherwise(root: str) -> None:
    """Like the original's items, the data is a zero-copy buffer; ``zero_copy=False`` gives bytes."""
    objects = _objects(root, 3)
    ds = s3dlio.PyDataset.from_uris(list(objects))
    for opts, kind in (({"prefetch": 4}, s3dlio.BytesView), ({"prefetch": 4, "zero_copy": False}, bytes)):
        items = list(s3dlio.PyBytesAsyncDataLoader(ds, opts).items())
        assert {type(item.data) for item in items} == {kind}
        assert {item.uri: bytes(item) for item in items} == objects
