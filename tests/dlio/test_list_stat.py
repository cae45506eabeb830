"""list()/iter_list()/stat() results: usable as the original's URI strings and as the guide's dicts."""

from __future__ import annotations

import copy
import json
import pickle
from datetime import datetime

import pytest

import s3dlio
from s3dlio.results import ENTRY_FIELDS, ListEntry


def _fill(root: str) -> list[str]:
    uris = [root + "a.npz", root + "b.npz", root + "sub/c.npz"]
    for i, uri in enumerate(uris):
        s3dlio.put_bytes(uri, bytes([i]) * (i + 1))
    return uris


def test_entries_are_full_uri_strings(root: str) -> None:
    uris = _fill(root)
    listed = s3dlio.list(root, recursive=True)
    assert listed == uris  # plain string equality, in key order
    for entry in listed:
        assert isinstance(entry, str) and isinstance(entry, ListEntry)
        assert entry.startswith(root)
        assert isinstance(entry[len(root) :], str)
    # DLIO's obj_store_lib.list_objects: relative names by slicing off the listed prefix.
    assert [u[len(root) :] for u in listed] == ["a.npz", "b.npz", "sub/c.npz"]
    # get(entry) and delete(entry) take the entry as a URI.
    assert bytes(s3dlio.get(listed[1])) == b"\x01\x01"
    s3dlio.delete(listed[0])
    assert s3dlio.list(root) == uris[1:]


def test_entries_answer_the_guides_mapping_keys(root: str) -> None:
    _fill(root)
    bucket_root = s3dlio.parse_uri(root).root
    for i, f in enumerate(s3dlio.list(root)):
        assert f["uri"] == str(f) == f.uri and type(f["uri"]) is str
        assert f["key"] == f.key and bucket_root + f["key"] == f
        assert f["size"] == f.size == i + 1 and type(f["size"]) is int
        assert f.get("etag", "N/A") == f["etag"] and f["etag"]
        assert isinstance(f["last_modified"], datetime) and f["last_modified"].tzinfo is not None
        assert f["is_prefix"] is False
        assert f.get("no-such-field", "N/A") == "N/A"
        assert list(f.keys()) == list(ENTRY_FIELDS)
        as_dict = dict(f)
        assert as_dict == f.to_dict() and set(as_dict) == set(ENTRY_FIELDS) and as_dict["size"] == i + 1
        with pytest.raises(KeyError):
            f["no-such-field"]
    # The guide's list-then-delete loop.
    for f in s3dlio.list(root):
        s3dlio.delete(bucket_root + f["key"])
    assert s3dlio.list(root) == []


def test_iter_list_and_non_recursive_prefixes(root: str) -> None:
    uris = _fill(root)
    streamed = list(s3dlio.iter_list(root, batch_size=2))
    assert streamed == uris and all(isinstance(e, ListEntry) for e in streamed)
    flat = s3dlio.list(root, recursive=False)
    files = [e for e in flat if not e["is_prefix"]]
    prefixes = [e for e in flat if e["is_prefix"]]
    assert files == uris[:2]
    assert [p[len(root) :] for p in prefixes] == ["sub/"] and prefixes[0].endswith("/")


async def test_async_listing_entries(root: str) -> None:
    uris = _fill(root)
    assert await s3dlio.list_async(root) == uris
    assert [e async for e in s3dlio.iter_list_async(root)] == uris


def test_stat_is_a_typed_dict(root: str) -> None:
    uri = _fill(root)[2]
    info = s3dlio.stat(uri)
    assert type(info) is dict
    assert set(info) == {"key", "uri", "size", "etag", "last_modified", "content_type"}
    assert info["size"] == 3 and info["uri"] == uri
    assert s3dlio.parse_uri(root).root + info["key"] == uri
    assert isinstance(info["last_modified"], datetime)


def test_entry_pickles_copies_and_serialises() -> None:
    entry = ListEntry("s3://b/k", key="k", size=3, etag='"e"', last_modified=None)
    for clone in (pickle.loads(pickle.dumps(entry)), copy.copy(entry), copy.deepcopy(entry)):
        assert type(clone) is ListEntry and clone == entry and clone.to_dict() == entry.to_dict()
    assert json.dumps([entry]) == '["s3://b/k"]'
    assert hash(entry) == hash("s3://b/k") and {entry: 1}["s3://b/k"] == 1
    assert entry[0] == "s" and entry[-1] == "k" and entry[5:] == "b/k"
    assert repr(entry) == repr("s3://b/k")
