"""Bad input gets a clear error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ckpt_helpers import file_uri

from s3dlio.checkpoint import (
    CheckpointStore,
    EntryNotFoundError,
    create_checkpoint_reader,
    create_checkpoint_writer,
)
from s3dlio.errors import InvalidUriError, NotFoundError


@pytest.mark.parametrize("name", ["", "  ", "a/b", "/abs", "..", "a..b", "../up", "back\\slash", "nul\x00"])
def test_bad_names(tmp_path: Path, name: str) -> None:
    writer = create_checkpoint_writer(file_uri(tmp_path))
    with pytest.raises(ValueError, match="name"):
        writer.save_array(name, np.zeros(2))
    with pytest.raises(ValueError, match="name"):
        writer.save_bytes(name, b"x")
    with pytest.raises(ValueError, match="name"):
        writer.save_object(name, 1)
    writer.abort()


def test_name_must_be_a_string(tmp_path: Path) -> None:
    writer = create_checkpoint_writer(file_uri(tmp_path))
    with pytest.raises(TypeError, match="string"):
        writer.save_array(3, np.zeros(2))  # type: ignore[arg-type]
    writer.abort()


def test_duplicate_name(tmp_path: Path) -> None:
    writer = create_checkpoint_writer(file_uri(tmp_path))
    writer.save_array("w", np.zeros(2))
    with pytest.raises(ValueError, match=r"duplicate.*'w'"):
        writer.save_bytes("w", b"x")
    writer.save_array("v", np.ones(2))  # the writer is still usable
    writer.finalize()
    assert create_checkpoint_reader(file_uri(tmp_path)).names() == ["w", "v"]


def test_save_after_finalize(tmp_path: Path) -> None:
    writer = create_checkpoint_writer(file_uri(tmp_path))
    writer.save_array("w", np.zeros(2))
    info = writer.finalize()
    with pytest.raises(ValueError, match="already finalized"):
        writer.save_array("x", np.zeros(2))
    assert writer.finalize() == info  # finalizing again returns the same commit


def test_save_after_abort(tmp_path: Path) -> None:
    writer = create_checkpoint_writer(file_uri(tmp_path))
    writer.abort()
    with pytest.raises(ValueError, match="aborted"):
        writer.save_array("x", np.zeros(2))


def test_object_arrays_are_refused(tmp_path: Path) -> None:
    writer = create_checkpoint_writer(file_uri(tmp_path))
    with pytest.raises(TypeError, match="save_object"):
        writer.save_array("objs", np.array([{"a": 1}, None], dtype=object))
    with pytest.raises(TypeError, match="bytes-like"):
        writer.save_bytes("s", "text")
    writer.abort()


def test_metadata_must_be_json(tmp_path: Path) -> None:
    writer = create_checkpoint_writer(file_uri(tmp_path))
    writer.save_array("a", np.zeros(1))
    with pytest.raises(TypeError, match="JSON"):
        writer.finalize(metadata={"when": object()})
    with pytest.raises(TypeError, match="JSON"):
        writer.finalize(metadata={"nan": float("nan")})
    writer.finalize(metadata={"ok": 1})  # still possible after the refused attempts


def test_missing_name(tmp_path: Path) -> None:
    with create_checkpoint_writer(file_uri(tmp_path)) as writer:
        writer.save_array("weights", np.zeros(2))
    reader = create_checkpoint_reader(file_uri(tmp_path))
    with pytest.raises(EntryNotFoundError, match=r"'bias'.*weights") as caught:
        reader.load_array("bias")
    assert isinstance(caught.value, KeyError)
    assert isinstance(caught.value, NotFoundError)
    assert caught.value.uri == file_uri(tmp_path)


def test_wrong_kind(tmp_path: Path) -> None:
    with create_checkpoint_writer(file_uri(tmp_path)) as writer:
        writer.save_array("a", np.zeros(2))
        writer.save_bytes("b", b"x")
    reader = create_checkpoint_reader(file_uri(tmp_path))
    with pytest.raises(TypeError, match="load_array"):
        reader.load_bytes("a")
    with pytest.raises(TypeError, match="load_bytes"):
        reader.load_array("b")


def test_missing_checkpoint_names_the_uri(tmp_path: Path) -> None:
    uri = file_uri(tmp_path, "nothing-here")
    with pytest.raises(NotFoundError, match="no committed checkpoint") as caught:
        create_checkpoint_reader(uri)
    assert uri in str(caught.value) and caught.value.uri == uri


def test_missing_step(tmp_path: Path) -> None:
    uri = file_uri(tmp_path)
    CheckpointStore(uri).save(5, {"a": np.zeros(1)})
    with pytest.raises(NotFoundError, match=r"step 6.*committed steps: \[5\]"):
        create_checkpoint_reader(uri, step=6)


def test_half_written_checkpoint_says_never_finalized(tmp_path: Path) -> None:
    uri = file_uri(tmp_path)
    writer = CheckpointStore(uri).writer(1, rank=0, world_size=2)
    writer.save_array("a", np.zeros(4))
    writer.finish_shard()  # the shard object exists, but nobody commits
    with pytest.raises(NotFoundError, match="never finalized"):
        create_checkpoint_reader(uri)


def test_rank_errors(tmp_path: Path) -> None:
    uri = file_uri(tmp_path)
    with create_checkpoint_writer(uri) as writer:
        writer.save_array("a", np.zeros(1))
    reader = create_checkpoint_reader(uri)
    with pytest.raises(NotFoundError, match="no shard for rank 3"):
        reader.load_array("a", rank=3)
    with pytest.raises(ValueError, match="rank must be in"):
        CheckpointStore(uri).writer(1, rank=2, world_size=2)
    with pytest.raises(ValueError, match="finish_shard"):
        CheckpointStore(uri).writer(1, rank=0, world_size=2).finalize()


def test_bad_uri_and_arguments(tmp_path: Path) -> None:
    with pytest.raises(InvalidUriError):
        create_checkpoint_writer("relative/path")
    with pytest.raises(ValueError, match="step"):
        CheckpointStore(file_uri(tmp_path)).writer(-1)
    with pytest.raises(TypeError, match="step"):
        CheckpointStore(file_uri(tmp_path)).writer(1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="keep_last"):
        CheckpointStore(file_uri(tmp_path), keep_last=0)
