"""The store cache is keyed by configuration *value* (issue 11 item 16).

It was keyed by ``id(config)``, so every ``Fetcher`` (built per ``PyDataset[i]``) derived a new,
equal ``Config`` and opened a new store with a new connection pool for every item.
"""

from __future__ import annotations

from pathlib import Path

import s3dlio
from s3dlio.config import Config
from s3dlio.loader.dataset import Fetcher
from s3dlio.stores import open_store
from s3dlio.uri import parse_uri


def test_equal_configs_share_one_store() -> None:
    parsed = parse_uri("s3://bucket/key")
    first = open_store(parsed, Config(part_size=16 << 20))
    second = open_store(parsed, Config(part_size=16 << 20))
    assert first is second
    assert open_store(parsed, Config(part_size=32 << 20)) is not first


def test_fetchers_with_equal_settings_share_stores() -> None:
    uri = "s3://bucket/key"
    assert Fetcher(8 << 20, 4).store(uri)[0] is Fetcher(8 << 20, 4).store(uri)[0]


def test_dataset_items_reuse_one_store(tmp_path: Path) -> None:
    for i in range(3):
        (tmp_path / f"{i}.bin").write_bytes(bytes([i]) * 10)
    ds = s3dlio.create_dataset(f"file://{tmp_path}/")
    stores = set()
    for i in range(len(ds)):
        assert ds[i] == bytes([i]) * 10
        stores.add(id(ds._fetcher().store(ds.uris[i])[0]))
    assert len(stores) == 1
    assert ds._fetcher() is ds._fetcher()
