"""A Lightning ``CheckpointIO`` that saves and loads checkpoints through s3dlio.

``Trainer(plugins=[S3dlioCheckpointIO()])`` makes every checkpoint Lightning writes or reads go
through s3dlio's checkpoint I/O (:func:`s3dlio.checkpoint.torch_save` / ``torch_load``): a
checkpoint is streamed into one object that appears only when it is complete (a failed save
leaves nothing), on any backend. Paths may be s3dlio URIs (``s3://bucket/ckpt/last.ckpt``,
``file:///...``), fsspec URLs of the ``s3dlio`` protocol (``s3dlio://s3/bucket/...``, which
``ModelCheckpoint(dirpath=...)`` needs for its own listing) or local paths.

Requires the ``lightning`` package (extra ``s3dlio[lightning]``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from lightning.pytorch.plugins.io import CheckpointIO

from .blocking import delete
from .checkpoint.torch_io import torch_load, torch_save
from .uri import SCHEMES

__all__ = ["S3dlioCheckpointIO", "checkpoint_uri"]


def checkpoint_uri(path: str | Path) -> str:
    """The s3dlio URI of a checkpoint path (an s3dlio URI, an ``s3dlio://`` URL or a local path)."""
    text = os.fspath(path)
    if text.startswith("s3dlio://"):
        from .fsspec import S3dlioFileSystem

        return S3dlioFileSystem().to_uri(text)
    scheme, sep, _ = text.partition("://")
    if sep and scheme in (*SCHEMES, "azure", "gcs"):
        return text
    if sep:
        raise ValueError(f"{text!r}: S3dlioCheckpointIO takes s3dlio URIs, s3dlio:// URLs or local paths")
    return "file://" + os.path.abspath(text)


class S3dlioCheckpointIO(CheckpointIO):  # type: ignore[misc,unused-ignore]  # lightning's base class is untyped here
    """Lightning checkpoints on object storage through s3dlio (see the module docstring)."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any | None = None
    ) -> None:
        """Stream ``torch.save(checkpoint)`` into the object at ``path`` (atomic)."""
        if storage_options is not None:
            raise TypeError(
                "S3dlioCheckpointIO takes no storage_options; configure s3dlio with environment "
                f"variables or s3dlio.configure() (got {storage_options!r})"
            )
        torch_save(checkpoint, checkpoint_uri(path))

    def load_checkpoint(
        self, path: str | Path, map_location: Any | None = None, weights_only: bool | None = None
    ) -> dict[str, Any]:
        """Load a checkpoint; a missing one raises ``FileNotFoundError`` naming it.

        ``weights_only`` defaults to False, as for Lightning's own checkpoints, which hold more
        than tensors (hyperparameters, loop state): load only checkpoints you trust.
        """
        checkpoint: dict[str, Any] = torch_load(
            checkpoint_uri(path),
            map_location=map_location,
            weights_only=False if weights_only is None else weights_only,
        )
        return checkpoint

    def remove_checkpoint(self, path: str | Path) -> None:
        """Delete the checkpoint object (``ModelCheckpoint`` calls this for superseded ones)."""
        delete(checkpoint_uri(path))
