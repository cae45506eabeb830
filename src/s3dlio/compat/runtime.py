"""``configure_tokio_threads``: accepted for the original's callers; see its docstring."""

from __future__ import annotations

from .._threads import request_threads
from ._common import positive_int

__all__ = ["configure_tokio_threads"]


def configure_tokio_threads(n: int = 0) -> int:
    """Size obstore's Tokio runtime for this process; returns the thread count chosen.

    ``n > 0`` is the count; ``n == 0`` divides this process's CPUs by the world size from
    ``OMPI_COMM_WORLD_SIZE``, ``PMI_SIZE`` or ``WORLD_SIZE`` (the first set), at least 1: several
    MPI ranks on one host then share its cores instead of each starting one thread per core.

    As in the original, it takes effect only if called before the process's first storage call
    (local files do not count), when the runtime starts; later calls change nothing. A
    ``TOKIO_WORKER_THREADS`` set by the user wins over it. A negative or non-integer ``n``
    raises :class:`~s3dlio.errors.ConfigError`. The rules, with ``S3DLIO_RT_THREADS``, are in
    ``docs/api.md``.
    """
    return request_threads(positive_int("n", n, 0))
