"""``torch_save``/``torch_load``: ``torch.save`` straight into an object, ``torch.load`` from one.

torch is imported when these are called, never when s3dlio is imported.
"""

from __future__ import annotations

import asyncio
from typing import Any

from .. import ops
from .._buffers import open_view
from .._sync import run
from ._streams import ObjectWriteStream

__all__ = ["torch_load", "torch_load_async", "torch_save", "torch_save_async"]


def torch_save(obj: Any, uri: str, **kwargs: Any) -> None:
    """``torch.save(obj, ...)`` into the object at ``uri`` (any s3dlio URI), streamed.

    The object appears only once the whole file is written; on error nothing is left behind.
    ``kwargs`` go to ``torch.save`` (e.g. ``pickle_protocol``).
    """
    import torch

    stream = ObjectWriteStream(uri)
    try:
        torch.save(obj, stream, **kwargs)  # type: ignore[arg-type]  # a write-only stream
    except BaseException:
        stream.abort()
        raise
    stream.close()


def torch_load(uri: str, **kwargs: Any) -> Any:
    """``torch.load`` of the object at ``uri``; ``kwargs`` go to ``torch.load``
    (``map_location``, ``weights_only``, ...)."""
    import torch

    data = run(ops.get_async(uri, zero_copy=True))
    return torch.load(open_view(data), **kwargs)


async def torch_save_async(obj: Any, uri: str, **kwargs: Any) -> None:
    """Async twin of :func:`torch_save` (serializes in a worker thread)."""
    await asyncio.to_thread(torch_save, obj, uri, **kwargs)


async def torch_load_async(uri: str, **kwargs: Any) -> Any:
    """Async twin of :func:`torch_load` (deserializes in a worker thread)."""
    import torch

    data = await ops.get_async(uri, zero_copy=True)
    return await asyncio.to_thread(lambda: torch.load(open_view(data), **kwargs))
