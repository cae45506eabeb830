"""``CheckpointStore``: numbered checkpoints (steps) under one base URI.

A step is committed when its manifest exists; the latest checkpoint is the highest committed step
(ties: the newest attempt), or with ``retention="recent"`` the newest save, found by listing
``manifests/``. ``latest.json`` is rewritten after
each commit and delete for tools that read it, but readers here never trust it over the listing.
Re-saving a step writes a new attempt next to the old one and removes the old one only after the
new manifest is in place.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import json
import os
import re
import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np

from .. import ops
from .._sync import run
from ..errors import BucketNotFoundError, IntegrityError, NotFoundError
from ..stores import LocalStore
from ..stores.local import TEMP_MARKER
from ..uri import parse_uri
from ._dist import initialized_group
from .manifest import (
    LATEST,
    MANIFESTS,
    SHARDS,
    CheckpointInfo,
    Manifest,
    ShardInfo,
    check_shard_key,
    manifest_key,
    new_timestamp,
    parse_manifest_key,
    timestamp_of_attempt,
)
from .reader import CheckpointReader
from .writer import CheckpointWriter, check_metadata

__all__ = [
    "CheckpointStore",
    "create_checkpoint_reader",
    "create_checkpoint_reader_async",
    "create_checkpoint_writer",
]

_ATTEMPT = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]*$")


def _check_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be a non-negative integer, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value}")
    return int(value)


Retention = Literal["step", "recent"]
_RETENTIONS = ("step", "recent")


class CheckpointStore:
    """Numbered checkpoints under ``uri`` (any s3dlio URI: s3://, az://, gs://, file://, direct://).

    ``retention`` ranks the committed steps, for ``latest()`` and for pruning:

    - ``"step"`` (default): by step number; the latest is the highest step.
    - ``"recent"``: by when each step was last saved (the start of its newest attempt); the latest
      is the newest save. Choose it when runs roll back: after saving 100, 200, 300 and then 110,
      step 110 is the latest and 300 is the first to be pruned.

    ``keep_last``: after each commit, delete all but the ``keep_last`` best-ranked steps. The
    step just committed is never deleted by its own commit, whatever its rank.
    """

    def __init__(self, uri: str, *, keep_last: int | None = None, retention: Retention = "step") -> None:
        parsed = parse_uri(uri)
        self._parsed = parsed
        self._prefix = parsed.key.strip("/")
        self._uri = parsed.with_key(self._prefix)
        if keep_last is not None and (_check_int(keep_last, "keep_last") < 1):
            raise ValueError(f"keep_last must be at least 1, got {keep_last}")
        if retention not in _RETENTIONS:
            raise ValueError(f"retention must be one of {_RETENTIONS}, got {retention!r}")
        self.keep_last = keep_last
        self.retention: Retention = retention

    def __repr__(self) -> str:
        return f"CheckpointStore({self._uri!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self._uri, self.keep_last, self.retention))

    @property
    def uri(self) -> str:
        """The base URI."""
        return self._uri

    def uri_of(self, relative: str) -> str:
        """The URI of ``relative`` (a key below the base)."""
        return self._parsed.with_key(f"{self._prefix}/{relative}" if self._prefix else relative)

    def _relative(self, bucket_key: str) -> str:
        if not self._prefix:
            return bucket_key
        return bucket_key[len(self._prefix) + 1 :]

    # --- discovery ------------------------------------------------------------------------
    async def _manifest_keys(self) -> list[tuple[int, str, str]]:
        """``(step, ts, relative key)`` of every manifest, oldest first."""
        found = []
        for item in await ops.list_async(self.uri_of(MANIFESTS)):
            relative = self._relative(item["key"])
            parsed = parse_manifest_key(relative)
            if parsed is not None and relative.count("/") == 1:
                found.append((parsed[0], parsed[1], relative))
        found.sort()
        return found

    def _ranked(self, keys: list[tuple[int, str, str]]) -> list[tuple[int, str, str]]:
        """``keys`` (from :meth:`_manifest_keys`) from worst to best under the retention rule."""
        if self.retention == "recent":
            return sorted(keys, key=lambda k: (k[1], k[0]))
        return keys

    def _ranked_steps(self, keys: list[tuple[int, str, str]]) -> list[int]:
        """The distinct steps from worst to best (a step ranks by its newest attempt)."""
        best: dict[int, int] = {}
        for position, (step, _, _) in enumerate(self._ranked(keys)):
            best[step] = position
        return sorted(best, key=best.__getitem__)

    async def _read_manifest(self, relative: str) -> Manifest:
        uri = self.uri_of(relative)
        data = await ops.get_async(uri)
        try:
            return Manifest.from_bytes(data, key=relative)
        except (ValueError, KeyError, TypeError) as exc:
            raise IntegrityError(f"checkpoint manifest {uri} cannot be read: {exc!r}", uri) from None

    async def _never_finalized(self) -> bool:
        async for _ in ops.iter_list_async(self.uri_of(SHARDS)):
            return True
        return False

    async def _find(self, step: int | None) -> Manifest:
        keys = await self._manifest_keys()
        candidates = [k for k in self._ranked(keys) if step is None or k[0] == step]
        corrupt: IntegrityError | None = None
        for _, _, relative in reversed(candidates):
            try:
                manifest = await self._read_manifest(relative)
            except NotFoundError:
                continue  # deleted while we looked
            except IntegrityError as exc:
                if step is not None:
                    raise  # asked for this step: no silent substitute
                _warn_corrupt(exc)
                corrupt = corrupt or exc
                continue  # fall back to the previous committed step
            if manifest.status == "complete":
                return manifest
        if corrupt is not None:
            raise corrupt
        what = "checkpoint" if step is None else f"checkpoint for step {step}"
        if step is not None and keys:
            raise NotFoundError(
                f"no committed {what} at {self._uri} (committed steps: {sorted({k[0] for k in keys})})",
                self._uri,
            )
        if await self._never_finalized():
            raise NotFoundError(
                f"no committed {what} at {self._uri}: there is checkpoint data under "
                f"{self.uri_of(SHARDS)} but no manifest under {self.uri_of(MANIFESTS)}; its writer "
                "was never finalized (a crash, abort or missing finalize()/commit())",
                self._uri,
            )
        raise NotFoundError(
            f"no committed {what} at {self._uri}: no manifest under {self.uri_of(MANIFESTS)} "
            "(nothing was saved there, or its writer was never finalized)",
            self._uri,
        )

    def _info(self, manifest: Manifest) -> CheckpointInfo:
        return CheckpointInfo(
            step=manifest.step,
            epoch=manifest.epoch,
            time=manifest.time,
            size=manifest.size,
            world_size=manifest.world_size,
            uri=self.uri_of(manifest.key),
            metadata=manifest.user_meta,
        )

    async def list_async(self) -> list[CheckpointInfo]:
        """Every committed step (its newest attempt), by step: step, epoch, time, size, metadata."""
        newest: dict[int, str] = {}
        for step, _, relative in await self._manifest_keys():
            newest[step] = relative
        manifests = await ops.run_bounded(list(newest.values()), self._read_or_none, 32)
        return [self._info(m) for m in manifests if m is not None and m.status == "complete"]

    async def _read_or_none(self, relative: str) -> Manifest | None:
        try:
            return await self._read_manifest(relative)
        except NotFoundError:
            return None
        except IntegrityError as exc:
            _warn_corrupt(exc)
            return None

    async def steps_async(self) -> list[int]:
        """The committed step numbers, ascending (from the listing alone)."""
        return sorted({step for step, _, _ in await self._manifest_keys()})

    async def latest_async(self) -> CheckpointInfo | None:
        """The best-ranked committed step (see ``retention``: by default the highest), or None."""
        try:
            return self._info(await self._find(None))
        except BucketNotFoundError:
            raise  # a missing bucket is an error, not "no checkpoint"
        except NotFoundError:
            return None

    async def exists_async(self, step: int | None = None) -> bool:
        """Whether a committed checkpoint (for ``step``, or any) exists."""
        try:
            await self._find(step)
        except BucketNotFoundError:
            raise  # a missing bucket is an error, not "no checkpoint"
        except NotFoundError:
            return False
        return True

    # --- writing ------------------------------------------------------------------------------
    def writer(
        self,
        step: int,
        *,
        epoch: int = 0,
        rank: int | None = None,
        world_size: int | None = None,
        distributed: bool | None = None,
        attempt: str | None = None,
        framework: str = "s3dlio",
    ) -> CheckpointWriter:
        """A writer for ``step``'s shard of this process.

        - One process: ``writer(step)``; ``finalize()`` commits.
        - ``torch.distributed`` initialized with 2+ ranks (and ``rank``/``world_size`` not given,
          or ``distributed=True``): rank and world size come from the default process group;
          every rank must create its writer and call ``finalize()`` (both are collective).
        - Explicit ranks: ``writer(step, rank=r, world_size=w)`` on each rank, then
          ``finish_shard()`` there, and ``commit(step, [shard infos])`` once, anywhere.
          ``attempt`` (from :func:`new_attempt`) puts all ranks' shards in one directory;
          otherwise each rank gets its own.
        """
        step = _check_int(step, "step")
        epoch = _check_int(epoch, "epoch")
        group = initialized_group()
        if distributed is None:
            distributed = rank is None and world_size is None and group is not None and group.world_size > 1
        if attempt is not None and (not isinstance(attempt, str) or not _ATTEMPT.match(attempt)):
            raise ValueError(f"attempt must be a name from new_attempt(), got {attempt!r}")
        if distributed:
            if group is None:
                raise ValueError("distributed=True needs an initialized torch.distributed process group")
            for name, given, actual in (
                ("rank", rank, group.rank),
                ("world_size", world_size, group.world_size),
            ):
                if given is not None and given != actual:
                    raise ValueError(f"{name}={given} disagrees with torch.distributed ({actual})")
            collective = group.dedicated() if group.world_size > 1 else None
            ts = (collective or group).broadcast(attempt or new_timestamp())
            return CheckpointWriter(
                self,
                step,
                epoch=epoch,
                rank=group.rank,
                world_size=group.world_size,
                ts=ts,
                collective=collective,
                framework=framework,
            )
        world_size = 1 if world_size is None else _check_int(world_size, "world_size")
        rank = 0 if rank is None else _check_int(rank, "rank")
        if world_size < 1 or rank >= world_size:
            raise ValueError(f"rank must be in [0, world_size), got rank={rank}, world_size={world_size}")
        return CheckpointWriter(
            self,
            step,
            epoch=epoch,
            rank=rank,
            world_size=world_size,
            ts=attempt or new_timestamp(),
            framework=framework,
        )

    @staticmethod
    def new_attempt() -> str:
        """A fresh attempt name, to share among the ranks of an explicit multi-rank save."""
        return new_timestamp()

    async def commit_async(
        self,
        step: int,
        shards: Sequence[ShardInfo],
        *,
        epoch: int = 0,
        metadata: Any = None,
        framework: str = "s3dlio",
    ) -> CheckpointInfo:
        """Commit ``step`` from the finished shards of all ranks by writing its manifest.

        Checks that there is exactly one shard per rank and that each shard object exists with
        its recorded size, then writes the manifest (the commit point), then tidies up: older
        attempts of this step, steps beyond ``keep_last``, and ``latest.json``. A failure while
        tidying up is reported as a ``RuntimeWarning``: the checkpoint is committed by then.
        """
        step = _check_int(step, "step")
        epoch = _check_int(epoch, "epoch")
        check_metadata(metadata)
        shards = list(shards)
        if not shards:
            raise ValueError("commit needs the ShardInfo of every rank, got none")
        for shard in shards:
            if not isinstance(shard, ShardInfo):
                raise TypeError(f"commit takes ShardInfo objects (from finish_shard()), got {shard!r:.80}")
            if shard.step != step:
                raise ValueError(f"a shard of step {shard.step} was given to commit step {step}")
            check_shard_key(shard.key)  # a ShardInfo unpickled from another rank skipped __init__
        shards.sort(key=lambda s: s.rank)
        world_size = shards[0].world_size
        ranks = [s.rank for s in shards]
        if any(s.world_size != world_size for s in shards) or ranks != list(range(world_size)):
            raise ValueError(
                f"commit of step {step} needs one shard per rank 0..{world_size - 1}, got ranks {ranks}"
            )
        stats = await ops.run_bounded(shards, lambda s: self._stat_shard(s), 32)
        shards = [
            ShardInfo(
                rank=s.rank,
                key=s.key,
                size=s.size,
                crc32c=s.crc32c,
                step=s.step,
                world_size=s.world_size,
                entries=s.entries,
                etag=etag,
            )
            for s, etag in zip(shards, stats, strict=True)
        ]
        attempts = {timestamp_of_attempt(s.key) for s in shards}
        only = next(iter(attempts)) if len(attempts) == 1 else None
        ts = only[1] if only is not None and only[0] == step else new_timestamp()
        manifest = Manifest(
            step=step,
            epoch=epoch,
            wall_time=datetime.now(UTC).isoformat(),
            world_size=world_size,
            shards=tuple(shards),
            user_meta=metadata,
            framework=framework,
            key=manifest_key(step, ts),
        )
        if self._parsed.is_local:
            # Durable before visible: the shards and their directory entries reach the device
            # before the manifest that commits them, whatever configure(fsync=...) says.
            paths = [self._local_path(s.key) for s in shards]
            await asyncio.to_thread(_flush_local, paths, self._local_path(""))
        await self._put_manifest(manifest)  # the commit
        try:
            await self._after_commit(manifest, ts)
        except Exception as exc:  # committed already: say so loudly, but do not fail the save
            warnings.warn(
                f"checkpoint step {step} is committed at {self.uri_of(manifest.key)}, but tidying "
                f"up after it failed: {exc!r}",
                RuntimeWarning,
                stacklevel=2,
            )
        return self._info(manifest)

    def _local_path(self, relative: str) -> str:
        """The filesystem path of ``relative`` (file:// and direct:// stores only)."""
        key = parse_uri(self.uri_of(relative) if relative else self._uri).key
        return LocalStore.path(key)

    async def _put_manifest(self, manifest: Manifest) -> None:
        """Write the manifest; on local disks flushed (file, then its directories) before return."""
        uri = self.uri_of(manifest.key)
        if not self._parsed.is_local:
            await ops.put_bytes_async(uri, manifest.to_bytes())
            return
        store, key, _ = ops.resolve(uri)
        durable = type(store)(store.bucket, store.config.replace(fsync=True))
        await durable.put(key, memoryview(manifest.to_bytes()))  # fsync file, rename, fsync dir
        await asyncio.to_thread(_flush_local, [], self._local_path(""))  # manifests/ in the base

    async def _stat_shard(self, shard: ShardInfo) -> str | None:
        uri = self.uri_of(shard.key)
        try:
            info = await ops.stat_async(uri)
        except NotFoundError:
            raise NotFoundError(
                f"cannot commit step {shard.step}: the shard of rank {shard.rank} ({uri}) does not "
                "exist (did that rank finish_shard()? was it aborted?)",
                uri,
            ) from None
        if info["size"] != shard.size:
            raise IntegrityError(
                f"cannot commit step {shard.step}: the shard of rank {shard.rank} ({uri}) has "
                f"{info['size']} bytes, but its writer recorded {shard.size}",
                uri,
            )
        etag = info.get("etag")
        return str(etag) if etag is not None else None

    async def _after_commit(self, manifest: Manifest, ts: str) -> None:
        keys = await self._manifest_keys()
        older = [rel for step, other, rel in keys if step == manifest.step and other < ts]
        if older:
            await self._remove(older, keep={shard.key for shard in manifest.shards})
        if self.keep_last is not None:
            await self._prune(self.keep_last, spare=manifest.step)
        await self._refresh_latest()

    async def _refresh_latest(self) -> None:
        keys = await self._manifest_keys()
        uri = self.uri_of(LATEST)
        if not keys:
            with contextlib.suppress(NotFoundError):
                await ops.delete_async(uri)
            return
        step, ts, relative = self._ranked(keys)[-1]
        body = {"manifest_key": relative, "global_step": step, "ts": ts}
        try:
            if json.loads(await ops.get_async(uri)) == body:
                return
        except (NotFoundError, ValueError):
            pass
        await ops.put_bytes_async(uri, json.dumps(body, indent=1).encode())

    async def save_async(
        self, step: int, items: Mapping[str, Any], *, epoch: int = 0, metadata: Any = None
    ) -> CheckpointInfo:
        """Save a dict in one go: numpy arrays (and numpy scalars) with ``save_array``, bytes-like
        values with ``save_bytes``, anything else with ``save_object``; then commit."""
        writer = self.writer(step, epoch=epoch, rank=0, world_size=1)
        try:
            for name, value in items.items():
                if isinstance(value, np.ndarray | np.generic):
                    await writer.save_array_async(name, value)
                elif isinstance(value, bytes | bytearray | memoryview):
                    await writer.save_bytes_async(name, value)
                else:
                    await writer.save_object_async(name, value)
            return await writer.finalize_async(metadata)
        except BaseException:
            await writer.abort_async()
            raise

    # --- reading ------------------------------------------------------------------------------
    async def reader_async(self, step: int | None = None, *, rank: int | None = None) -> CheckpointReader:
        """A reader of ``step`` (default: the highest committed step).

        :class:`NotFoundError` naming the URI if there is no committed checkpoint (for that step).
        """
        if step is not None:
            step = _check_int(step, "step")
        return CheckpointReader(self, await self._find(step), rank)

    async def load_async(self, step: int | None = None, *, rank: int | None = None) -> dict[str, Any]:
        """Every entry of ``step`` (default: the latest) as ``{name: value}``."""
        reader = await self.reader_async(step, rank=rank)
        return await reader.load_all_async()

    # --- deleting -----------------------------------------------------------------------------
    async def _remove(self, relatives: Iterable[str], keep: set[str]) -> int:
        """Delete manifests (first: that un-commits them), then the shards they name."""
        manifests: list[Manifest] = []
        relatives = list(relatives)
        for relative in relatives:
            with contextlib.suppress(NotFoundError, IntegrityError):
                manifests.append(await self._read_manifest(relative))
        deleted = await self._delete_quietly([self.uri_of(r) for r in relatives])
        directories: set[str] = set()
        keys: list[str] = []
        for manifest in manifests:
            for shard in manifest.shards:
                if shard.key in keep:
                    continue
                directory = shard.key.rsplit("/", 1)[0] + "/" if "/" in shard.key else ""
                parsed = timestamp_of_attempt(shard.key)
                ours = parsed is not None and parsed[0] == manifest.step and directory.startswith(SHARDS)
                if ours and not any(k.startswith(directory) for k in keep):
                    directories.add(directory)
                else:
                    keys.append(shard.key)
        deleted += await self._delete_quietly([self.uri_of(k) for k in keys])
        for directory in sorted(directories):
            deleted += await ops.delete_async(self.uri_of(directory.rstrip("/")), recursive=True)
        return deleted

    @staticmethod
    async def _delete_quietly(uris: list[str]) -> int:
        async def one(uri: str) -> int:
            try:
                return await ops.delete_async(uri)
            except NotFoundError:
                return 0

        return sum(await ops.run_bounded(uris, one, 32))

    async def delete_async(self, step: int) -> int:
        """Delete every attempt of ``step`` (manifest first, then its shards); returns the number of
        objects deleted. :class:`NotFoundError` if the step has no manifest."""
        step = _check_int(step, "step")
        relatives = [rel for s, _, rel in await self._manifest_keys() if s == step]
        if not relatives:
            raise NotFoundError(f"no checkpoint for step {step} at {self._uri}", self._uri)
        deleted = await self._remove(relatives, keep=set())
        await self._refresh_latest()
        return deleted

    async def _prune(self, keep_last: int, spare: int | None = None) -> list[int]:
        """Delete all but the ``keep_last`` best-ranked steps, and never ``spare`` (the step just
        committed); returns the deleted steps, ascending."""
        keys = await self._manifest_keys()
        ranked = self._ranked_steps(keys)
        doomed = {step for step in ranked[:-keep_last] if step != spare}
        if doomed:
            await self._remove([rel for s, _, rel in keys if s in doomed], keep=set())
        return sorted(doomed)

    async def prune_async(self, keep_last: int) -> list[int]:
        """Delete all but the ``keep_last`` best-ranked steps (see ``retention``); returns the
        steps deleted, ascending."""
        if _check_int(keep_last, "keep_last") < 1:
            raise ValueError(f"keep_last must be at least 1, got {keep_last}")
        doomed = await self._prune(keep_last)
        await self._refresh_latest()
        return doomed

    async def cleanup_async(self, min_age: float = 3600.0) -> int:
        """Delete shard data that no manifest references and that is older than ``min_age`` seconds
        (left by writers that crashed or were abandoned); returns the number of objects deleted.

        Choose ``min_age`` longer than any save takes, so data of a save in progress is kept.
        On file:// and direct://, hidden partial files of crashed writers are removed too.
        """
        if isinstance(min_age, bool) or not isinstance(min_age, int | float) or min_age < 0:
            raise ValueError(f"min_age must be a number of seconds >= 0, got {min_age!r}")
        referenced: set[str] = set()
        for _, _, relative in await self._manifest_keys():
            try:
                manifest = await self._read_manifest(relative)
            except NotFoundError:
                continue
            referenced.update(shard.key for shard in manifest.shards)
        directories = {key.rsplit("/", 1)[0] + "/" for key in referenced}
        now = datetime.now(UTC)
        doomed = []
        for item in await ops.list_async(self.uri_of(SHARDS)):
            relative = self._relative(item["key"])
            if relative in referenced or any(relative.startswith(d) for d in directories):
                continue
            modified = item.get("last_modified")
            if modified is not None and (now - modified).total_seconds() < min_age:
                continue
            doomed.append(item["uri"])
        deleted = await self._delete_quietly(doomed)
        if self._parsed.is_local:
            root = LocalStore.path(self.uri_of(SHARDS).split(":///", 1)[1])
            deleted += await asyncio.to_thread(_remove_stale_temp_files, root, min_age)
        return deleted

    # --- blocking twins -------------------------------------------------------------------------
    def list(self) -> builtins.list[CheckpointInfo]:
        """Blocking twin of :meth:`list_async`."""
        return run(self.list_async())

    def steps(self) -> builtins.list[int]:
        """Blocking twin of :meth:`steps_async`."""
        return run(self.steps_async())

    def latest(self) -> CheckpointInfo | None:
        """Blocking twin of :meth:`latest_async`."""
        return run(self.latest_async())

    def exists(self, step: int | None = None) -> bool:
        """Blocking twin of :meth:`exists_async`."""
        return run(self.exists_async(step))

    def commit(
        self,
        step: int,
        shards: Sequence[ShardInfo],
        *,
        epoch: int = 0,
        metadata: Any = None,
        framework: str = "s3dlio",
    ) -> CheckpointInfo:
        """Blocking twin of :meth:`commit_async`."""
        return run(self.commit_async(step, shards, epoch=epoch, metadata=metadata, framework=framework))

    def save(
        self, step: int, items: Mapping[str, Any], *, epoch: int = 0, metadata: Any = None
    ) -> CheckpointInfo:
        """Blocking twin of :meth:`save_async`."""
        return run(self.save_async(step, items, epoch=epoch, metadata=metadata))

    def reader(self, step: int | None = None, *, rank: int | None = None) -> CheckpointReader:
        """Blocking twin of :meth:`reader_async`."""
        return run(self.reader_async(step, rank=rank))

    def load(self, step: int | None = None, *, rank: int | None = None) -> dict[str, Any]:
        """Blocking twin of :meth:`load_async`."""
        return run(self.load_async(step, rank=rank))

    def delete(self, step: int) -> int:
        """Blocking twin of :meth:`delete_async`."""
        return run(self.delete_async(step))

    def prune(self, keep_last: int) -> builtins.list[int]:
        """Blocking twin of :meth:`prune_async`."""
        return run(self.prune_async(keep_last))

    def cleanup(self, min_age: float = 3600.0) -> int:
        """Blocking twin of :meth:`cleanup_async`."""
        return run(self.cleanup_async(min_age))


def _rebuild(uri: str, keep_last: int | None, retention: Retention = "step") -> CheckpointStore:
    return CheckpointStore(uri, keep_last=keep_last, retention=retention)


def _warn_corrupt(error: IntegrityError) -> None:
    warnings.warn(f"skipping a corrupt checkpoint manifest: {error}", RuntimeWarning, stacklevel=4)


def _fsync_path(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _flush_local(files: Sequence[str], base: str) -> None:
    """fsync ``files``, then every directory from theirs up to ``base`` (new entries included)."""
    directories: set[str] = set()
    for path in files:
        _fsync_path(path)
        directory = os.path.dirname(path)
        while directory.startswith(base) and directory not in directories:
            directories.add(directory)
            directory = os.path.dirname(directory)
    directories.update((base, os.path.dirname(base)))  # the base may be new in its parent too
    for directory in sorted(directories, key=len, reverse=True):  # deepest first
        _fsync_path(directory)


def _remove_stale_temp_files(root: str, min_age: float) -> int:
    removed = 0
    limit = time.time() - min_age
    for directory, _, files in os.walk(root):
        for name in files:
            if TEMP_MARKER not in name:
                continue
            path = os.path.join(directory, name)
            try:
                if os.stat(path).st_mtime <= limit:
                    os.unlink(path)
                    removed += 1
            except FileNotFoundError:
                pass
    for directory, _, _ in sorted(os.walk(root, topdown=False), key=lambda w: -len(w[0])):
        if directory != root:
            with contextlib.suppress(OSError):
                os.rmdir(directory)
    return removed


# --- the guide's entry points ---------------------------------------------------------------
def create_checkpoint_writer(
    uri: str,
    *,
    step: int = 0,
    epoch: int = 0,
    rank: int | None = None,
    world_size: int | None = None,
    distributed: bool = False,
) -> CheckpointWriter:
    """A writer for a checkpoint at ``uri`` (as step ``step`` of ``CheckpointStore(uri)``).

    ``save_array``/``save_bytes``/``save_object`` then ``finalize()``; or use it as a context
    manager (normal exit finalizes, an exception aborts). Until ``finalize()`` returns, readers of
    ``uri`` see the previously committed checkpoint, if any. Unlike ``CheckpointStore.writer``,
    this does not join ``torch.distributed`` collectives unless ``distributed=True``.
    """
    return CheckpointStore(uri).writer(
        step, epoch=epoch, rank=rank, world_size=world_size, distributed=distributed
    )


def create_checkpoint_reader(
    uri: str, *, step: int | None = None, rank: int | None = None
) -> CheckpointReader:
    """A reader of the committed checkpoint at ``uri`` (its highest step unless ``step`` is given).

    Raises :class:`~s3dlio.errors.NotFoundError` naming ``uri`` if nothing was committed there.
    """
    return CheckpointStore(uri).reader(step, rank=rank)


async def create_checkpoint_reader_async(
    uri: str, *, step: int | None = None, rank: int | None = None
) -> CheckpointReader:
    """Async twin of :func:`create_checkpoint_reader`."""
    return await CheckpointStore(uri).reader_async(step, rank=rank)
