"""Item 15: S3 "folder" markers (0-byte ``dir/`` keys that consoles create) are not objects.

object_store normalises a listed key ``data/sub/`` to ``data/sub``, so a marker would show up as a
0-byte object named like its folder, in ``list``, in datasets and in ``download`` (where it then
collides with the folder of the same name). A real 0-byte object must still be listed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import s3dlio

MARKERS = ("data/", "data/sub/", "data/empty/")
OBJECTS = {"data/a": b"1", "data/real-empty": b"", "data/sub/b": b"22"}


@pytest.fixture
def marked(s3_env: object, s3_server: object, new_s3_bucket: str) -> str:
    for key in MARKERS:
        s3_server.request("PUT", f"/{new_s3_bucket}/{key}", b"")  # type: ignore[attr-defined]
    for key, data in OBJECTS.items():
        s3_server.request("PUT", f"/{new_s3_bucket}/{key}", data)  # type: ignore[attr-defined]
    return f"s3://{new_s3_bucket}/"


def test_list_skips_folder_markers(marked: str) -> None:
    assert [e["key"] for e in s3dlio.list(marked + "data/")] == sorted(OBJECTS)
    assert [e["key"] for e in s3dlio.list(marked)] == sorted(OBJECTS)
    assert [e["key"] for e in s3dlio.iter_list(marked + "data")] == sorted(OBJECTS)


def test_shallow_list_shows_folders_as_prefixes_only(marked: str) -> None:
    entries = s3dlio.list(marked + "data/", recursive=False)
    assert [(e["key"], e["is_prefix"]) for e in entries] == [
        ("data/a", False),
        ("data/empty/", True),
        ("data/real-empty", False),
        ("data/sub/", True),
    ]


def test_dataset_skips_folder_markers(marked: str) -> None:
    dataset = s3dlio.create_dataset(marked + "data/")
    assert sorted(dataset.uris) == sorted(marked + k for k in OBJECTS)


def test_download_skips_folder_markers(marked: str, tmp_path: Path) -> None:
    s3dlio.download(marked + "data/", str(tmp_path))
    files = {str(p.relative_to(tmp_path)): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert files == {key.removeprefix("data/"): data for key, data in OBJECTS.items()}
