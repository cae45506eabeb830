"""num_workers_split: inside torch DataLoader workers each worker takes a strided share."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from conftest import flat, ids, write_objects
from s3dlio.loader import PyBytesAsyncDataLoader, create_async_loader


def fake_worker(monkeypatch: pytest.MonkeyPatch, worker_id: int, num_workers: int) -> None:
    """Pretend to run inside a DataLoader worker (works whether or not torch is installed)."""
    info = SimpleNamespace(id=worker_id, num_workers=num_workers)
    data = SimpleNamespace(get_worker_info=lambda: info)
    monkeypatch.setitem(sys.modules, "torch", SimpleNamespace(utils=SimpleNamespace(data=data)))
    monkeypatch.setitem(sys.modules, "torch.utils.data", data)


def test_split_across_workers_is_disjoint_and_complete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix = write_objects(tmp_path, 21)
    opts = {"batch_size": 2, "shuffle": True, "seed": 5}
    full = flat(list(create_async_loader(prefix, opts)))
    parts = []
    for worker in range(3):
        with monkeypatch.context() as mp:
            fake_worker(mp, worker, 3)
            loader = create_async_loader(prefix, opts)
            assert len(loader) == 4  # 7 items in batches of 2
            parts.append(flat(list(loader)))
            assert loader.state_dict()["position"] == 0 and loader.epoch == 1
    assert parts[1] == full[1::3]
    assert Counter(i for p in parts for i in p) == Counter(range(21))


def test_split_can_be_turned_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    prefix = write_objects(tmp_path, 9)
    fake_worker(monkeypatch, 1, 3)
    assert flat(list(create_async_loader(prefix, {"batch_size": 4, "num_workers_split": False}))) == list(
        range(9)
    )
    assert flat(list(create_async_loader(prefix, {"batch_size": 4, "num_workers_split": True}))) == [1, 4, 7]


def test_resume_inside_a_worker_checks_the_split(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    prefix = write_objects(tmp_path, 20)
    with monkeypatch.context() as mp:
        fake_worker(mp, 0, 2)
        loader = create_async_loader(prefix, {"batch_size": 2})
        for _ in loader:
            break
        state = loader.state_dict()
        assert state["worker_split"] == [0, 2] and state["position"] == 2
        resumed = create_async_loader(prefix, {"batch_size": 2})
        resumed.load_state_dict(state)
        assert ids(list(resumed)) == [[4, 6], [8, 10], [12, 14], [16, 18]]
    other = create_async_loader(prefix, {"batch_size": 2})
    other.load_state_dict(state)
    with pytest.raises(ValueError, match="worker split"):
        list(other)


def test_real_torch_dataloader_workers(tmp_path: Path) -> None:
    import torch
    from torch.utils.data import DataLoader, IterableDataset

    class Batches(IterableDataset):  # type: ignore[misc,type-arg]
        def __init__(self, loader: PyBytesAsyncDataLoader) -> None:
            self.loader = loader

        def __iter__(self) -> Any:
            return iter(self.loader)

    prefix = write_objects(tmp_path, 30)
    loader = create_async_loader(prefix, {"batch_size": 4, "shuffle": True, "seed": 1})
    list(create_async_loader(prefix))  # start s3dlio's background loop in the parent before forking
    dl = DataLoader(Batches(loader), batch_size=None, num_workers=2, multiprocessing_context="fork")
    got = [i for batch in dl for i in flat([batch])]
    assert Counter(got) == Counter(range(30))
    assert torch is not None
