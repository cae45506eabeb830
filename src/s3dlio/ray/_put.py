"""``s3dlio.ray.put``: generate one dataset with Ray tasks, each writing one index range.

The driver draws the call's seed (when none is given) and splits ``range(num)`` into contiguous
ranges; each task runs ``s3dlio.put(..., index_range=(start, stop), seed=seed)``, which writes
exactly the objects, names and bytes that a single ``s3dlio.put(..., seed=seed)`` writes for
those indices. Arguments are checked in the driver before any task starts; a failed task fails
the call (after the other tasks were cancelled and waited for).
"""

from __future__ import annotations

import math
from typing import Any

from ..datagen.generator import check_int, new_seed
from ..datagen.objects import validate_put_args
from ..datagen.put import MiB, ProgressCallback, shard_range

__all__ = ["put"]

_TASK_BYTES = 256 * MiB  # default: about this much data per task (at least one task per CPU)


def _require_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise ImportError("s3dlio.ray needs Ray: pip install 's3dlio[ray]'") from exc
    return ray


def _put_range(prefix: str, num: int, start: int, stop: int, options: dict[str, Any]) -> list[str]:
    """Body of one Ray task: the objects ``start .. stop - 1`` of the call."""
    from ..blocking import put as put_blocking

    return put_blocking(prefix, num, index_range=(start, stop), **options)


_remote_cache: dict[str, Any] = {}


def _remote(ray: Any, remote_args: dict[str, Any]) -> Any:
    key = repr(sorted(remote_args.items()))
    fn = _remote_cache.get(key)
    if fn is None:
        fn = _remote_cache[key] = (
            ray.remote(**remote_args)(_put_range) if remote_args else ray.remote(_put_range)
        )
    return fn


def put(
    prefix: str,
    num: int,
    template: str = "object_{}",
    object_type: str = "zeros",
    size: int = MiB,
    max_in_flight: int = 32,
    compress_factor: int = 1,
    dedup_factor: int = 1,
    seed: int | None = None,
    progress: ProgressCallback | None = None,
    *,
    num_tasks: int | None = None,
    ray_remote_args: dict[str, Any] | None = None,
) -> list[str]:
    """``s3dlio.put()`` as Ray tasks; returns the URIs written, in index order.

    ``num_tasks`` ranges (default: enough for about 256 MiB each, and at least one per CPU of the
    cluster, never more than ``num``) run as Ray tasks with ``ray_remote_args`` (e.g.
    ``{"num_cpus": 2}``); each writes with up to ``max_in_flight`` objects in flight.
    ``progress(objects_done, bytes_done)`` is called in the driver as tasks finish. Ray is
    initialised with its defaults if it is not yet. Each task opens its store in its own worker,
    so endpoints and credentials come from the workers' environment (``ray_remote_args=
    {"runtime_env": {"env_vars": {...}}}`` passes them).
    """
    validate_put_args(num, template, object_type, size, compress_factor, dedup_factor, max_in_flight)
    if seed is not None:
        seed = check_int("seed", seed, 0)
    call_seed = new_seed() if seed is None else seed
    ray = _require_ray()
    if not ray.is_initialized():
        ray.init()
    if num_tasks is None:
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        num_tasks = max(cpus, math.ceil(num * size / _TASK_BYTES))
    tasks = min(num, check_int("num_tasks", num_tasks, 1))
    options = {
        "template": template, "object_type": object_type, "size": size, "max_in_flight": max_in_flight,
        "compress_factor": compress_factor, "dedup_factor": dedup_factor, "seed": call_seed,
    }  # fmt: skip
    remote = _remote(ray, dict(ray_remote_args or {}))
    ranges = [shard_range(num, rank, tasks) for rank in range(tasks)]
    refs = {remote.remote(prefix, num, lo, hi, options): rank for rank, (lo, hi) in enumerate(ranges)}
    results: list[list[str] | None] = [None] * tasks
    pending = list(refs)
    done_objects = 0
    try:
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            for ref in ready:
                rank = refs[ref]
                results[rank] = ray.get(ref)
                lo, hi = ranges[rank]
                done_objects += hi - lo
                if progress is not None:
                    progress(done_objects, done_objects * size)
    except BaseException:
        for ref in pending:  # not force: a running task gets KeyboardInterrupt and cleans up
            ray.cancel(ref)
        if pending:
            ray.wait(pending, num_returns=len(pending), timeout=60)  # let cancelled tasks end
        raise
    return [uri for part in results if part is not None for uri in part]
