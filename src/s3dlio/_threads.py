"""The worker-thread count of obstore's Tokio runtime, fixed once, just before it starts.

Tokio sizes a runtime from ``TOKIO_WORKER_THREADS`` when it is built, else it uses one thread per
core. obstore builds its runtime at the first native call, so :func:`size_runtime` runs just
before that and sets the variable, unless the user set it. The count comes from the first
of these that applies:

1. ``configure_tokio_threads(n)``, the original's call. ``n > 0`` is used as is; ``n == 0``
   means the per-process budget below.
2. ``S3DLIO_RT_THREADS``, the original's variable. DLIO sets it to 1.5 x its ``write_threads``,
   which can still be 1 at that point. As in the original, a value below a quarter of the
   budget is raised to the budget with a warning; ``S3DLIO_RT_THREADS_UNSAFE=1`` keeps it.
3. Several ranks per host, from a world size (``OMPI_COMM_WORLD_SIZE``, ``PMI_SIZE`` or
   ``WORLD_SIZE``) above 1: the budget, this process's CPUs divided by the world size, at least
   1. Without it every rank would start one thread per core. Measured with two ranks on two cores:
   1.17x the throughput at 12% less CPU per GB (docs/performance.md).

When none applies, the variable stays unset and Tokio uses one thread per core. A forked child
builds a new runtime from the variable that it inherited.
"""

from __future__ import annotations

import os
import warnings

from .errors import ConfigError

__all__ = ["process_cpus", "request_threads", "size_runtime", "thread_budget"]

TOKIO_VARIABLE = "TOKIO_WORKER_THREADS"
RT_THREADS_VARIABLE = "S3DLIO_RT_THREADS"
UNSAFE_VARIABLE = "S3DLIO_RT_THREADS_UNSAFE"
WORLD_SIZE_VARIABLES = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "WORLD_SIZE")

_requested: int | None = None  # from configure_tokio_threads
_ours: str | None = None  # the value size_runtime wrote, so a later call may replace it


def process_cpus() -> int:
    """CPUs this process may run on (its affinity mask, else the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def world_size() -> int:
    """Ranks in the job, from the first world-size variable that holds a positive integer; else 1."""
    for name in WORLD_SIZE_VARIABLES:
        value = os.environ.get(name, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    return 1


def thread_budget() -> int:
    """This process's share of the host: its CPUs divided by the world size, at least 1."""
    return max(1, process_cpus() // world_size())


def request_threads(count: int) -> int:
    """Record ``configure_tokio_threads(count)``: ``count``, or the budget for 0; returns it."""
    global _requested
    _requested = count if count > 0 else thread_budget()
    return _requested


def _from_rt_threads(raw: str) -> int:
    text = raw.strip()
    if not text.isdigit() or int(text) < 1:
        raise ConfigError(f"{RT_THREADS_VARIABLE} must be a positive integer, got {raw!r}")
    value, budget = int(text), thread_budget()
    if value < budget / 4 and os.environ.get(UNSAFE_VARIABLE, "").strip() != "1":
        warnings.warn(
            f"{RT_THREADS_VARIABLE}={value} is below a quarter of this process's budget of "
            f"{budget} threads; using {budget} (set {UNSAFE_VARIABLE}=1 to keep {value})",
            RuntimeWarning,
            stacklevel=4,
        )
        return budget
    return value


def chosen_threads() -> int | None:
    """The thread count the rules above give, or None for Tokio's default."""
    if _requested is not None:
        return _requested
    raw = os.environ.get(RT_THREADS_VARIABLE)
    if raw is not None and raw.strip():
        return _from_rt_threads(raw)
    return thread_budget() if world_size() > 1 else None


def size_runtime() -> None:
    """Set ``TOKIO_WORKER_THREADS`` for the runtime about to start, unless the user set it."""
    global _ours
    current = os.environ.get(TOKIO_VARIABLE)
    if current is not None and current != _ours:
        return  # the user's own setting
    count = chosen_threads()
    if count is None:
        return
    _ours = str(count)
    os.environ[TOKIO_VARIABLE] = _ours
