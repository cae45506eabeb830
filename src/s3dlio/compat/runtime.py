"""``configure_tokio_threads``: accepted for the original's callers; see its docstring."""

from __future__ import annotations

import os

from ._common import positive_int

__all__ = ["configure_tokio_threads"]

_WORLD_SIZE_VARIABLES = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "WORLD_SIZE")


def configure_tokio_threads(n: int = 0) -> int:
    """Return the per-process thread count the original would give its Tokio runtime.

    ``n > 0`` is taken as is; ``n == 0`` divides the CPUs by the world size from
    ``OMPI_COMM_WORLD_SIZE``, ``PMI_SIZE`` or ``WORLD_SIZE`` (the first set), at least 1.

    In s3dlio this sets nothing: there is no runtime of our own to size. Network I/O runs on
    obstore's shared runtime, whose threads mostly wait on sockets, and the work that needs
    CPUs is bounded per call (``max_concurrency``, ``max_in_flight``). The function exists so
    that MPI launchers written for the original (DLIO calls it before reading) run unchanged;
    a negative or non-integer ``n`` raises :class:`~s3dlio.errors.ConfigError`.
    """
    count = positive_int("n", n, 0)
    if count:
        return count
    world = 1
    for name in _WORLD_SIZE_VARIABLES:
        value = os.environ.get(name, "")
        if value.strip().isdigit():
            world = max(1, int(value))
            break
    return max(1, (os.cpu_count() or 1) // world)
