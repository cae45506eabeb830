"""The few ``torch.distributed`` collectives the checkpoint writer needs, found without importing torch.

s3dlio never imports torch itself: if the program has not imported ``torch.distributed`` and
initialized a process group, there is nothing to coordinate with.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["Collective", "initialized_group"]


def initialized_group() -> Collective | None:
    """The default process group of ``torch.distributed``, if one is initialized."""
    dist = sys.modules.get("torch.distributed")
    if dist is None:
        return None
    try:
        if not dist.is_available() or not dist.is_initialized():
            return None
    except Exception:  # a half-imported or stubbed torch: treat as "not distributed"
        return None
    return Collective(dist)


class Collective:
    """Object collectives over the default process group (blocking; every rank must call them)."""

    def __init__(self, dist: Any) -> None:
        self._dist = dist
        self.rank: int = int(dist.get_rank())
        self.world_size: int = int(dist.get_world_size())

    def broadcast(self, value: Any) -> Any:
        """Rank 0's ``value`` on every rank."""
        box = [value]
        self._dist.broadcast_object_list(box, src=0)
        return box[0]

    def gather(self, value: Any) -> list[Any] | None:
        """Every rank's ``value`` (in rank order) on rank 0; None elsewhere."""
        out: list[Any] | None = [None] * self.world_size if self.rank == 0 else None
        self._dist.gather_object(value, out, dst=0)
        return out
