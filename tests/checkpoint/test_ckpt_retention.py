"""Item 3: retention never prunes the commit just made, and its rule (by step or by recency) is explicit.

Rolling back after a loss spike is routine: save 100, 200, 300, roll back to 100, save 110. With
``keep_last`` counting by step, 110 ranked below the kept steps and was deleted by its own save.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ckpt_helpers import file_uri

from s3dlio.checkpoint import CheckpointStore


def _save(store: CheckpointStore, step: int) -> None:
    store.save(step, {"w": np.full(4, step)})


def test_the_step_just_saved_is_never_pruned(tmp_path: Path) -> None:
    """Default rule (by step): the two highest steps are kept, and always the one just saved."""
    store = CheckpointStore(file_uri(tmp_path), keep_last=2)
    for step in (100, 200, 300):
        _save(store, step)
    assert store.steps() == [200, 300]
    _save(store, 110)  # after a rollback
    assert store.steps() == [110, 200, 300]
    np.testing.assert_array_equal(store.load(110)["w"], np.full(4, 110))
    latest = store.latest()
    assert latest is not None and latest.step == 300  # by step, as documented
    _save(store, 120)
    assert store.steps() == [120, 200, 300]  # 110 no longer the one just saved


def test_retention_by_recency_follows_a_rollback(tmp_path: Path) -> None:
    """``retention="recent"``: keep the most recently saved steps; latest is the newest save."""
    store = CheckpointStore(file_uri(tmp_path), keep_last=2, retention="recent")
    for step in (100, 200, 300):
        _save(store, step)
    assert store.steps() == [200, 300]
    _save(store, 110)
    assert store.steps() == [110, 300]
    latest = store.latest()
    assert latest is not None and latest.step == 110
    assert store.reader().step == 110
    np.testing.assert_array_equal(store.load()["w"], np.full(4, 110))
    _save(store, 120)
    assert store.steps() == [110, 120]
    assert store.prune(1) == [110]
    assert store.steps() == [120]


def test_recency_without_keep_last_changes_only_latest(tmp_path: Path) -> None:
    store = CheckpointStore(file_uri(tmp_path), retention="recent")
    for step in (30, 10, 20):
        _save(store, step)
    assert store.steps() == [10, 20, 30]
    assert store.latest().step == 20  # type: ignore[union-attr]
    assert CheckpointStore(file_uri(tmp_path)).latest().step == 30  # type: ignore[union-attr]


def test_retention_must_be_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="retention"):
        CheckpointStore(file_uri(tmp_path), retention="newest")  # type: ignore[arg-type]
