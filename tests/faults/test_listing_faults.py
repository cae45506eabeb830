"""Item 8: a reset or a cut-off body on one listing page is retried; a listing is never partial.

object_store retries a request that fails before its answer arrives, but not one whose answer
body breaks off (``short``): that used to fail the whole ``list()``, and with it ``download``,
recursive ``delete``, loader creation and checkpoint discovery.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import s3dlio
from faults import Fault, FaultProxy

LIST = "list-type=2"
# later pages carry a continuation token; a listing restarted after a key carries start-after
NEXT_PAGE = "continuation-token=|start-after="


@pytest.fixture
def big_prefix(faulty_s3_env: FaultProxy, new_s3_bucket: str) -> str:
    """1010 objects: two S3 listing pages (1000 + 10)."""
    root = f"s3://{new_s3_bucket}/many/"
    s3dlio.put_many([(f"{root}{i:05d}", b"x") for i in range(1010)], max_in_flight=64)
    faulty_s3_env.clear()
    return root


def _keys(root: str) -> list[str]:
    return [entry["key"] for entry in s3dlio.list(root)]


@pytest.mark.parametrize("action", ["short", "reset"])
def test_a_broken_first_page_is_retried(faulty_s3_env: FaultProxy, new_s3_bucket: str, action: str) -> None:
    root = f"s3://{new_s3_bucket}/few/"
    s3dlio.put_many([(f"{root}{i}", b"x") for i in range(5)])
    fault = faulty_s3_env.inject(Fault(action, method="GET", query=LIST, times=1))
    assert _keys(root) == [f"few/{i}" for i in range(5)]
    assert fault.hits == 1


def test_a_broken_second_page_is_retried_without_duplicates(
    faulty_s3_env: FaultProxy, big_prefix: str
) -> None:
    fault = faulty_s3_env.inject(Fault("short", method="GET", query=NEXT_PAGE, times=2))
    keys = _keys(big_prefix)
    assert fault.hits == 2
    assert keys == [f"many/{i:05d}" for i in range(1010)]
    streamed = [e["key"] for e in s3dlio.iter_list(big_prefix, batch_size=100)]
    assert streamed == keys


def test_a_persistently_broken_page_raises_never_partial(faulty_s3_env: FaultProxy, big_prefix: str) -> None:
    faulty_s3_env.inject(Fault("short", method="GET", query=NEXT_PAGE, times=None))
    with pytest.raises(s3dlio.StorageError) as info:
        s3dlio.list(big_prefix)
    assert big_prefix.rstrip("/") in str(info.value)
    attempts = len(faulty_s3_env.requests("GET", action="short"))
    assert attempts == 1 + 3  # max_retries=3 in faulty_s3_env, then the error


def test_a_broken_page_of_a_shallow_listing_is_retried(faulty_s3_env: FaultProxy, new_s3_bucket: str) -> None:
    root = f"s3://{new_s3_bucket}/flat/"
    s3dlio.put_many([(f"{root}a", b"1"), (f"{root}sub/b", b"2")])
    faulty_s3_env.inject(Fault("short", method="GET", query="delimiter=", times=1))
    entries = s3dlio.list(root, recursive=False)
    assert [(e["key"], e["is_prefix"]) for e in entries] == [("flat/a", False), ("flat/sub/", True)]


def test_download_and_recursive_delete_survive_a_broken_page(
    faulty_s3_env: FaultProxy, new_s3_bucket: str, tmp_path: Path
) -> None:
    root = f"s3://{new_s3_bucket}/tree/"
    s3dlio.put_many([(f"{root}d/{i}", b"%d" % i) for i in range(4)])
    faulty_s3_env.inject(Fault("short", method="GET", query=LIST, times=1))
    s3dlio.download(root, str(tmp_path / "out"))
    assert sorted(p.name for p in (tmp_path / "out").rglob("*") if p.is_file()) == ["0", "1", "2", "3"]
    faulty_s3_env.inject(Fault("short", method="GET", query=LIST, times=1))
    s3dlio.delete(root, recursive=True)
    assert s3dlio.list(root) == []


async def test_a_listing_asks_one_page_ahead_and_no_further(
    faulty_s3_env: FaultProxy, new_s3_bucket: str
) -> None:
    """The next page is requested while the current one is converted; a consumer that stops
    early closes the listing, which waits for that one request and asks for no more."""
    root = f"s3://{new_s3_bucket}/pages/"
    s3dlio.put_many([(f"{root}{i:05d}", b"x") for i in range(2010)], max_in_flight=64)  # 3 pages
    faulty_s3_env.clear()
    listing = s3dlio.iter_list_async(root)
    first = await anext(listing)
    await listing.aclose()
    assert first["key"] == "pages/00000"
    pages = [query for _, _, query in faulty_s3_env.requests("GET") if LIST in query]
    assert len(pages) == 2
    assert [e["key"] for e in await s3dlio.list_async(root)] == [f"pages/{i:05d}" for i in range(2010)]
