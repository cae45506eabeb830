"""Checkpoints on any s3dlio URI: atomic, checksummed, multi-rank, and torch DCP compatible.

Quick use (the guide's API)::

    w = s3dlio.create_checkpoint_writer("s3://bucket/ckpt/run1")
    w.save_array("weights", weights)          # any dtype/shape/order; streamed, never pickled
    w.save_object("config", {"lr": 1e-3})     # pickled
    w.finalize(metadata={"loss": 0.12})       # the commit point

    r = s3dlio.create_checkpoint_reader("s3://bucket/ckpt/run1")
    weights = r.load_array("weights")         # CRC-32C checked; IntegrityError if corrupt

Steps, retention and several ranks: :class:`CheckpointStore`. ``torch.distributed.checkpoint``:
:mod:`s3dlio.checkpoint.dcp` (``S3dlioStorageWriter``/``S3dlioStorageReader``, imported lazily).
``torch_save``/``torch_load``: ``torch.save``/``torch.load`` to and from any URI.

On storage, under the base URI (names follow the original s3dlio's checkpoint store)::

    manifests/ckpt-<step>-<ts>.json       the commit record, written last; JSON
    shards/ckpt-<step>-<ts>/rank-<r>.bin  rank r's entries, back to back
    latest.json                           {"manifest_key", "global_step", "ts"}: a hint

Where this differs from the original and why: the latest checkpoint is the highest committed step
found by listing ``manifests/``, not whatever ``latest.json`` says (that file is last-writer-wins
and can point at an older step after concurrent or out-of-order saves); ``<ts>`` carries
microseconds and a random suffix so re-saving a step never overwrites the committed attempt's
data; manifests keep ``user_meta`` and add per-entry records with CRC-32C checksums; a shard's
``checksum`` is filled in (``crc32c:<8 hex>``). Checkpoints written by the original stay
readable: their manifests load, and their opaque shards come back with ``read_shard(rank)``.
See ``docs/checkpoints.md``.
"""

from __future__ import annotations

from typing import Any

from .manifest import CheckpointInfo, EntryInfo, ShardInfo
from .reader import CheckpointReader, EntryNotFoundError
from .store import (
    CheckpointStore,
    create_checkpoint_reader,
    create_checkpoint_reader_async,
    create_checkpoint_writer,
)
from .torch_io import torch_load, torch_load_async, torch_save, torch_save_async
from .writer import CheckpointWriter

__all__ = [
    "CheckpointInfo",
    "CheckpointReader",
    "CheckpointStore",
    "CheckpointWriter",
    "EntryInfo",
    "EntryNotFoundError",
    "ShardInfo",
    "create_checkpoint_reader",
    "create_checkpoint_reader_async",
    "create_checkpoint_writer",
    "torch_load",
    "torch_load_async",
    "torch_save",
    "torch_save_async",
]

_DCP_NAMES = ("S3dlioFileSystem", "S3dlioStorageReader", "S3dlioStorageWriter")


def __getattr__(name: str) -> Any:
    """The torch DCP classes, imported (with torch) only when asked for.

    They are left out of ``__all__`` so that ``from s3dlio.checkpoint import *`` never imports torch.
    """
    if name in _DCP_NAMES:
        from . import dcp

        return getattr(dcp, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
