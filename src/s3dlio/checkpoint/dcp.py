"""``torch.distributed.checkpoint`` on any s3dlio URI (importing this module imports torch).

::

    import torch.distributed.checkpoint as dcp
    from s3dlio.checkpoint.dcp import S3dlioStorageReader, S3dlioStorageWriter

    dcp.save(state_dict, storage_writer=S3dlioStorageWriter("s3://bucket/ckpt/step-100"))
    dcp.load(state_dict, storage_reader=S3dlioStorageReader("s3://bucket/ckpt/step-100"))

The writer and reader are torch's own ``FileSystemWriter``/``FileSystemReader`` (same planning,
same file format, same ``.metadata``) running over :class:`S3dlioFileSystem`, which maps torch's
file operations onto s3dlio's object operations: files are written as streamed (multipart)
uploads that appear only when complete, reads are ranged GETs (so a partial load fetches only the
tensors it needs), and ``rename`` is a copy and a delete on object stores.

One addition: the data files of each save go into a fresh ``dcp-<ts>/`` directory under the
checkpoint path, named by the ``.metadata`` written last, and older ``dcp-*/`` directories are
removed after ``.metadata`` is replaced. Re-saving to the same path therefore never overwrites
the data the current ``.metadata`` points to. torch's own ``FileSystemReader`` (and fsspec's)
still read such checkpoints: they follow the paths recorded in ``.metadata``.

``sync_files`` defaults to False here: torch's fsync falls back to a system-wide ``os.sync()``
for streams without a file descriptor, and object uploads are durable once they complete.
"""

from __future__ import annotations

import dataclasses
import io
import os
from collections.abc import Generator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

from torch.distributed.checkpoint.filesystem import (
    FileSystemBase,
    FileSystemReader,
    FileSystemWriter,
    SerializationFormat,
)
from torch.distributed.checkpoint.metadata import Metadata
from torch.distributed.checkpoint.planner import SavePlan
from torch.distributed.checkpoint.storage import WriteResult

from .. import ops, transfer
from .._sync import run
from ..errors import InvalidUriError, NotFoundError
from ..stores import LocalStore
from ..uri import parse_uri
from ._streams import ObjectReadStream, ObjectWriteStream
from .manifest import new_timestamp

__all__ = ["S3dlioFileSystem", "S3dlioStorageReader", "S3dlioStorageWriter"]

ATTEMPT_PREFIX = "dcp-"


def _uri(path: str | os.PathLike[str]) -> str:
    return os.fspath(path)


class S3dlioFileSystem(FileSystemBase):
    """torch DCP's ``FileSystemBase`` over s3dlio URIs (``s3://``, ``az://``, ``gs://``,
    ``file://``, ``direct://``). Paths are URI strings."""

    @contextmanager
    def create_stream(self, path: str | os.PathLike[str], mode: str) -> Generator[io.IOBase, None, None]:
        uri = _uri(path)
        if any(flag in mode for flag in "a+"):
            raise ValueError(f"mode {mode!r} is not supported for {uri} (use 'wb' or 'rb')")
        if "w" in mode:
            writer = ObjectWriteStream(uri)
            try:
                yield writer
            except BaseException:
                writer.abort()
                raise
            writer.close()
        else:
            reader = ObjectReadStream(uri)
            try:
                yield reader
            finally:
                reader.close()

    def concat_path(self, path: str | os.PathLike[str], suffix: str) -> str:
        return _uri(path).rstrip("/") + "/" + suffix

    def init_path(self, path: str | os.PathLike[str]) -> str:
        uri = _uri(path)
        parse_uri(uri)
        return uri.rstrip("/") if not uri.endswith(":///") else uri

    def rename(self, path: str | os.PathLike[str], new_path: str | os.PathLike[str]) -> None:
        source, target = _uri(path), _uri(new_path)
        run(_copy(source, target))
        run(ops.delete_async(source))

    def mkdir(self, path: str | os.PathLike[str]) -> None:
        parsed = parse_uri(_uri(path))
        if parsed.is_local:
            os.makedirs(LocalStore.path(parsed.key), exist_ok=True)

    @classmethod
    def validate_checkpoint_id(cls, checkpoint_id: str | os.PathLike[str]) -> bool:
        if not isinstance(checkpoint_id, str) or "://" not in checkpoint_id:
            return False
        try:
            parse_uri(checkpoint_id)
        except InvalidUriError:
            return False
        return True

    def exists(self, path: str | os.PathLike[str]) -> bool:
        return bool(run(ops.exists_async(_uri(path))))

    def rm_file(self, path: str | os.PathLike[str]) -> None:
        run(ops.delete_async(_uri(path)))

    def ls(self, path: str | os.PathLike[str]) -> list[str]:
        items = run(ops.list_async(_uri(path), recursive=False))
        return [str(item["uri"]) for item in items]


async def _copy(source: str, target: str) -> None:
    """Copy one object to another URI (the engine streams large ones in parallel parts)."""
    store, key, _ = ops.resolve(source)
    target_store, target_key, _ = ops.resolve(target)
    await transfer.copy_object(store, key, target_store, target_key)


class S3dlioStorageWriter(FileSystemWriter):
    """torch's ``FileSystemWriter`` writing to any s3dlio URI (see the module docstring).

    The arguments are ``FileSystemWriter``'s, except that ``sync_files`` defaults to False.
    """

    def __init__(
        self,
        path: str,
        single_file_per_rank: bool = True,
        sync_files: bool = False,
        thread_count: int = 1,
        per_thread_copy_ahead: int = 10_000_000,
        cache_staged_state_dict: bool = False,
        overwrite: bool = True,
        _extensions: Sequence[Any] | None = None,
        serialization_format: SerializationFormat = SerializationFormat.TORCH_SAVE,
    ) -> None:
        super().__init__(
            path,
            single_file_per_rank=single_file_per_rank,
            sync_files=sync_files,
            thread_count=thread_count,
            per_thread_copy_ahead=per_thread_copy_ahead,
            cache_staged_state_dict=cache_staged_state_dict,
            overwrite=overwrite,
            _extensions=_extensions,
            serialization_format=serialization_format,
        )
        self.fs = S3dlioFileSystem()  # type: ignore[assignment]
        self.path = self.fs.init_path(path)
        self._attempt: str | None = None

    def reset(self, checkpoint_id: str | os.PathLike[str] | None = None) -> None:
        super().reset(checkpoint_id)
        self._attempt = None

    def prepare_global_plan(self, plans: list[SavePlan]) -> list[SavePlan]:
        plans = super().prepare_global_plan(plans)
        self._attempt = f"{ATTEMPT_PREFIX}{new_timestamp()}"
        return [
            dataclasses.replace(
                plan,
                storage_data=dataclasses.replace(
                    plan.storage_data, prefix=f"{self._attempt}/{plan.storage_data.prefix}"
                ),
            )
            for plan in plans
        ]

    def finish(self, metadata: Metadata, results: list[list[WriteResult]]) -> None:
        super().finish(metadata, results)
        if self._attempt is None:
            return
        current = self._attempt + "/"
        for item in run(ops.list_async(_uri(self.path), recursive=False)):
            name = str(item["key"]).rstrip("/").rsplit("/", 1)[-1] + "/"
            if item["is_prefix"] and name.startswith(ATTEMPT_PREFIX) and name != current:
                with suppress(NotFoundError):
                    run(ops.delete_async(f"{_uri(self.path).rstrip('/')}/{name.rstrip('/')}", recursive=True))

    @classmethod
    def validate_checkpoint_id(cls, checkpoint_id: str | os.PathLike[str]) -> bool:
        return S3dlioFileSystem.validate_checkpoint_id(checkpoint_id)


class S3dlioStorageReader(FileSystemReader):
    """torch's ``FileSystemReader`` reading from any s3dlio URI, with ranged reads."""

    def __init__(self, path: str, _extension_registry: Any = None) -> None:
        super().__init__(path, _extension_registry=_extension_registry)
        self.fs = S3dlioFileSystem()  # type: ignore[assignment]
        self.path = self.fs.init_path(path)

    @classmethod
    def validate_checkpoint_id(cls, checkpoint_id: str | os.PathLike[str]) -> bool:
        return S3dlioFileSystem.validate_checkpoint_id(checkpoint_id)
