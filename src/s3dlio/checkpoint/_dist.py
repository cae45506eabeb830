"""The few ``torch.distributed`` collectives the checkpoint writer needs, found without importing torch.

s3dlio never imports torch itself: if the program has not imported ``torch.distributed`` and
initialized a process group, there is nothing to coordinate with.

``finalize_async`` gathers and broadcasts on a worker thread while the caller's thread may be
running training collectives. On the default group those would interleave (mismatched
collectives hang or mix data), and with NCCL the worker thread's device would be ``cuda:0``.
So the writer's collectives run on a *dedicated gloo group* (CPU only, its own sequence of
operations), created once per default group by the first collective ``writer()`` call, which
every rank makes in the same order.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

__all__ = ["Collective", "initialized_group"]

_lock = threading.Lock()
_dedicated: tuple[Any, Any] | None = None  # (the default group it was made for, the gloo group)


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
    """Object collectives over one process group (blocking; every rank must call them).

    ``group`` None means the default group; :meth:`dedicated` gives the checkpoint's own group.
    """

    def __init__(self, dist: Any, group: Any = None) -> None:
        self._dist = dist
        self.group = group
        self.rank: int = int(dist.get_rank(group))
        self.world_size: int = int(dist.get_world_size(group))

    def dedicated(self) -> Collective:
        """The same ranks on a gloo group used only by checkpoint writers (collective on first use:
        call it on every rank, in the same order, from the caller's thread)."""
        global _dedicated
        world = self._dist.group.WORLD
        with _lock:
            if _dedicated is None or _dedicated[0] is not world:
                _dedicated = (world, self._dist.new_group(backend="gloo"))
            group = _dedicated[1]
        return Collective(self._dist, group)

    def broadcast(self, value: Any) -> Any:
        """Rank 0's ``value`` on every rank."""
        box = [value]
        src = 0 if self.group is None else self._dist.get_global_rank(self.group, 0)
        self._dist.broadcast_object_list(box, src=src, group=self.group)
        return box[0]

    def gather(self, value: Any) -> list[Any] | None:
        """Every rank's ``value`` (in rank order) on rank 0; None elsewhere."""
        out: list[Any] | None = [None] * self.world_size if self.rank == 0 else None
        dst = 0 if self.group is None else self._dist.get_global_rank(self.group, 0)
        self._dist.gather_object(value, out, dst=dst, group=self.group)
        return out
