"""The commands. Each one parses its arguments and calls the public API; none moves data itself."""

from __future__ import annotations

import asyncio
import itertools
import os
import sys
import traceback
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import click
from rich.table import Table

import s3dlio

from .._sync import run as run_on_loop
from ..ops import _copy as copy_object  # the library's one object copy (streams large objects)
from ._common import (
    Bar,
    KeyFilter,
    State,
    basename,
    common_options,
    echo_err,
    emit,
    field_of,
    human,
    iso,
    join,
    parse_duration,
    parse_size,
    progress_bar,
    state,
    stdout_console,
    to_uri,
)

T = TypeVar("T")
_CAT_CHUNK = 64 << 20


class _Group(click.Group):
    """Turns any error into one line on stderr and exit code 1 (2 for bad input)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt:
            echo_err("s3dlio: interrupted")
            ctx.exit(130)
        except BrokenPipeError:  # stdout went away (`s3dlio ls ... | head`): stop quietly
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            ctx.exit(141)
        except Exception as exc:
            current = ctx.ensure_object(State)
            if current.debug:
                traceback.print_exc()
            echo_err(f"s3dlio: error: {_describe(exc, current.uri)}")
            ctx.exit(2 if isinstance(exc, ValueError | TypeError) else 1)


def _describe(exc: BaseException, uri: str | None) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    named = getattr(exc, "uri", None) or getattr(exc, "filename", None)
    if uri and uri not in text and not (named and str(named) in text):
        text = f"{uri}: {text}"
    return text


def _run(coro: Awaitable[T]) -> T:
    """Run ``coro`` on s3dlio's own event loop (the one the blocking API uses)."""

    async def wrapper() -> T:
        return await coro

    return run_on_loop(wrapper())


async def _bounded(items: Sequence[Any], worker: Callable[[Any], Awaitable[None]], limit: int) -> None:
    """Run ``worker`` on every item, ``limit`` at a time; the first failure cancels the rest."""
    semaphore = asyncio.Semaphore(limit)

    async def one(item: Any) -> None:
        async with semaphore:
            await worker(item)

    async with asyncio.TaskGroup() as group:
        for item in items:
            group.create_task(one(item))


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(s3dlio.__version__, prog_name="s3dlio")
@common_options
def cli() -> None:
    """Move and inspect data on S3, Azure Blob, GCS and local files (s3://, az://, gs://,
    file://, direct://, or a plain local path)."""


# --- listing ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Entry:
    uri: str
    relative: str
    size: int
    last_modified: Any
    etag: str | None


def _prefix_key(uri: str) -> str:
    return s3dlio.parse_uri(uri).key.strip("/")


async def _listing(uri: str, keep: Callable[[str], bool] | None = None) -> dict[str, _Entry]:
    """Every object under the prefix ``uri``, by key relative to it."""
    parsed = s3dlio.parse_uri(uri)
    prefix = parsed.key.strip("/")
    found: dict[str, _Entry] = {}
    async for entry in s3dlio.iter_list_async(uri, recursive=True):
        key = str(field_of(entry, "key"))
        relative = key[len(prefix) :].lstrip("/") if prefix else key
        if keep is not None and not keep(relative):
            continue
        found[relative] = _Entry(
            uri=parsed.with_key(key),
            relative=relative,
            size=int(field_of(entry, "size", 0) or 0),
            last_modified=field_of(entry, "last_modified"),
            etag=field_of(entry, "etag"),
        )
    return found


@cli.command("ls")
@click.argument("uri")
@click.option("-r", "--recursive", is_flag=True, help="Everything below, not only the next level.")
@click.option("-l", "--long", "long_", is_flag=True, help="Show size and modification time.")
@click.option("--summary", is_flag=True, help="End with the object count and total size.")
@common_options
def ls_command(uri: str, recursive: bool, long_: bool, summary: bool) -> None:
    """List the objects under URI."""
    uri = to_uri(uri)
    st = state().begin(uri)
    parsed = s3dlio.parse_uri(uri)
    count = total = 0
    entries: Any = s3dlio.iter_list(uri, recursive=recursive)
    first = next(entries, None)
    if first is None and parsed.key and not uri.endswith("/"):
        try:  # URI names one object (as `aws s3 ls s3://b/key` shows it)
            entries = iter([s3dlio.stat(uri)])
        except FileNotFoundError:
            entries = iter(())
    elif first is not None:
        entries = itertools.chain([first], entries)
    for entry in entries:
        key = str(field_of(entry, "key"))
        is_prefix = bool(field_of(entry, "is_prefix", False)) or key.endswith("/")
        size = int(field_of(entry, "size", 0) or 0)
        mtime = field_of(entry, "last_modified")
        full = parsed.with_key(key)
        if not is_prefix:
            count += 1
            total += size
        if st.json:
            record: dict[str, Any] = {"type": "prefix" if is_prefix else "object", "uri": full, "key": key}
            if not is_prefix:
                record.update(size=size, last_modified=iso(mtime))
            emit(record)
        elif long_:
            when = "" if mtime is None else str(iso(mtime))[:19].replace("T", " ")
            shown = "PRE" if is_prefix else human(size)
            click.echo(f"{when:19}  {shown:>10}  {full}")
        else:
            click.echo(full)
    if summary:
        if st.json:
            emit({"type": "summary", "uri": uri, "objects": count, "bytes": total})
        else:
            click.echo(f"{count} objects, {human(total)} ({total} bytes)")


@cli.command("stat")
@click.argument("uri")
@common_options
def stat_command(uri: str) -> None:
    """Show an object's metadata."""
    uri = to_uri(uri)
    st = state().begin(uri)
    info = s3dlio.stat(uri)
    record: dict[str, Any] = {
        name: iso(value) if name == "last_modified" else value
        for name in ("uri", "key", "size", "etag", "last_modified", "content_type")
        if (value := field_of(info, name)) is not None or name in ("etag", "content_type")
    }
    record.setdefault("uri", uri)
    if st.json:
        emit(record)
        return
    table = Table(show_header=False, box=None)
    for name, value in record.items():
        table.add_row(name, f"{value} ({human(int(value))})" if name == "size" else str(value))
    stdout_console().print(table)


@cli.command("cat")
@click.argument("uri")
@common_options
def cat_command(uri: str) -> None:
    """Write an object's bytes to stdout."""
    uri = to_uri(uri)
    state().begin(uri)
    out = sys.stdout.buffer
    size = int(field_of(s3dlio.stat(uri), "size"))
    if size <= _CAT_CHUNK:
        out.write(memoryview(s3dlio.get(uri)))
    else:
        for offset in range(0, size, _CAT_CHUNK):
            out.write(memoryview(s3dlio.get_range(uri, offset, _CAT_CHUNK)))
    out.flush()


# --- copies -------------------------------------------------------------------------------------
_filter_options = [
    click.option("--include", multiple=True, metavar="PATTERN", help="Only keys matching (repeatable)."),
    click.option("--exclude", multiple=True, metavar="PATTERN", help="Skip keys matching (repeatable)."),
    click.option("--regex", is_flag=True, help="Patterns are regular expressions, not globs."),
    click.option("-j", "--concurrency", default=16, show_default=True, type=click.IntRange(1, 1024),
                 help="Objects in flight."),
]  # fmt: skip


def filter_options(function: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(_filter_options):
        function = option(function)
    return function


async def _copy_all(pairs: list[tuple[_Entry, str]], concurrency: int, bar: Bar) -> None:
    async def one(pair: tuple[_Entry, str]) -> None:
        entry, destination = pair
        await copy_object(entry.uri, destination)
        bar.advance(entry.size)

    await _bounded(pairs, one, concurrency)


def _is_dir_target(uri: str) -> bool:
    parsed = s3dlio.parse_uri(uri)
    if uri.endswith("/") or not parsed.key:
        return True
    return parsed.is_local and os.path.isdir("/" + parsed.key.lstrip("/"))


@cli.command("cp")
@click.argument("source")
@click.argument("destination")
@click.option("-r", "--recursive", is_flag=True, help="Copy every object under SOURCE.")
@filter_options
@common_options
def cp_command(
    source: str, destination: str, recursive: bool, include: tuple[str, ...], exclude: tuple[str, ...],
    regex: bool, concurrency: int,
) -> None:  # fmt: skip
    """Copy objects between any two locations (local, S3, Azure, GCS), in any direction."""
    source, destination = to_uri(source), to_uri(destination)
    st = state().begin(source)
    keep = KeyFilter(include, exclude, regex)
    if recursive:
        entries = list(_run(_listing(source, keep)).values())
        pairs = [(entry, join(destination, entry.relative)) for entry in entries]
    else:
        info = s3dlio.stat(source)
        entry = _Entry(source, basename(source), int(field_of(info, "size")), None, None)
        target = join(destination, basename(source)) if _is_dir_target(destination) else destination
        pairs = [(entry, target)]
    total = sum(entry.size for entry, _ in pairs)
    with progress_bar("copy", total, len(pairs)) as bar:
        _run(_copy_all(pairs, concurrency, bar))
    if st.json:
        for entry, target in pairs:
            emit({"action": "copy", "src": entry.uri, "dst": target, "size": entry.size})
        emit({"type": "summary", "copied": len(pairs), "bytes": total})
    elif not st.quiet:
        echo_err(f"copied {len(pairs)} objects ({human(total)})")


def _changed(src: _Entry, dst: _Entry, size_only: bool, etag: bool) -> bool:
    if src.size != dst.size:
        return True
    if etag:
        return src.etag != dst.etag
    if size_only or src.last_modified is None or dst.last_modified is None:
        return False
    try:
        return bool(src.last_modified > dst.last_modified)
    except TypeError:
        return False


async def _listing_or_empty(uri: str, keep: Callable[[str], bool]) -> dict[str, _Entry]:
    try:
        return await _listing(uri, keep)
    except s3dlio.BucketNotFoundError:
        raise
    except FileNotFoundError:
        return {}


@cli.command("sync")
@click.argument("source")
@click.argument("destination")
@click.option("--delete", "delete_", is_flag=True, help="Delete objects in DESTINATION not in SOURCE.")
@click.option("--dry-run", is_flag=True, help="Show what would be done, change nothing.")
@click.option("--size-only", is_flag=True, help="Compare sizes only (not modification times).")
@click.option("--etag", is_flag=True, help="Compare sizes and ETags (same backend only).")
@filter_options
@common_options
def sync_command(
    source: str, destination: str, delete_: bool, dry_run: bool, size_only: bool, etag: bool,
    include: tuple[str, ...], exclude: tuple[str, ...], regex: bool, concurrency: int,
) -> None:  # fmt: skip
    """Copy what is missing or changed from SOURCE to DESTINATION (both prefixes).

    Changed means a different size, or (by default) a newer modification time in SOURCE, or with
    --etag a different ETag.
    """
    source, destination = to_uri(source), to_uri(destination)
    st = state().begin(source)
    keep = KeyFilter(include, exclude, regex)

    async def plan() -> tuple[dict[str, _Entry], dict[str, _Entry]]:
        src, dst = await asyncio.gather(_listing(source, keep), _listing_or_empty(destination, keep))
        return src, dst

    src, dst = _run(plan())
    copies = [
        (entry, join(destination, rel))
        for rel, entry in src.items()
        if rel not in dst or _changed(entry, dst[rel], size_only, etag)
    ]
    deletes = sorted(entry.uri for rel, entry in dst.items() if rel not in src) if delete_ else []
    unchanged = len(src) - len(copies)
    total = sum(entry.size for entry, _ in copies)
    if not dry_run:
        with progress_bar("sync", total, len(copies)) as bar:
            _run(_copy_all(copies, concurrency, bar))

        async def remove(uri: str) -> None:
            await s3dlio.delete_async(uri)

        _run(_bounded(deletes, remove, concurrency))
    if st.json:
        for entry, target in copies:
            emit({"action": "copy", "src": entry.uri, "dst": target, "size": entry.size, "dry_run": dry_run})
        for uri in deletes:
            emit({"action": "delete", "dst": uri, "dry_run": dry_run})
        emit({"type": "summary", "copied": len(copies), "deleted": len(deletes), "unchanged": unchanged,
              "bytes": total, "dry_run": dry_run})  # fmt: skip
        return
    if dry_run:
        for entry, target in copies:
            click.echo(f"copy {entry.uri} -> {target}")
        for uri in deletes:
            click.echo(f"delete {uri}")
    if not st.quiet or dry_run:
        copied, deleted = ("would copy", "would delete") if dry_run else ("copied", "deleted")
        echo_err(
            f"{copied} {len(copies)} objects ({human(total)}), {deleted} {len(deletes)}, "
            f"{unchanged} unchanged"
        )


# --- deletes and buckets ------------------------------------------------------------------------
@cli.command("rm")
@click.argument("uri")
@click.option("-r", "--recursive", is_flag=True, help="Delete every object under the prefix URI.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask before emptying a whole bucket.")
@common_options
def rm_command(uri: str, recursive: bool, yes: bool) -> None:
    """Delete an object, or with -r every object under a prefix."""
    uri = to_uri(uri)
    st = state().begin(uri)
    parsed = s3dlio.parse_uri(uri)
    if not recursive:
        deleted = s3dlio.delete(uri)
    elif parsed.key.strip("/"):
        deleted = s3dlio.delete(uri, recursive=True)
    else:
        if parsed.is_local:
            raise click.UsageError(f"refusing to delete everything under {uri}: name a directory in it")
        if not yes:
            click.confirm(f"Delete every object in {uri}?", abort=True, err=True)
        deleted = _run(_empty_bucket(uri))
    if st.json:
        emit({"action": "delete", "uri": uri, "deleted": deleted})
    elif not st.quiet:
        echo_err(f"deleted {deleted} object{'s' if deleted != 1 else ''} from {uri}")


async def _empty_bucket(uri: str) -> int:
    """Delete a whole bucket's objects: each top-level prefix recursively, then the loose objects."""
    parsed = s3dlio.parse_uri(uri)
    deleted = 0
    for entry in await s3dlio.list_async(uri, recursive=False):
        key = str(field_of(entry, "key"))
        is_prefix = bool(field_of(entry, "is_prefix", False)) or key.endswith("/")
        deleted += await s3dlio.delete_async(parsed.with_key(key), recursive=is_prefix)
    return deleted


@cli.command("mb")
@click.argument("uri")
@common_options
def mb_command(uri: str) -> None:
    """Create a bucket or container (a directory for local URIs)."""
    uri = to_uri(uri)
    st = state().begin(uri)
    s3dlio.create_bucket(uri)
    emit({"action": "mb", "uri": uri}) if st.json else echo_err(f"created {uri}")


@cli.command("rb")
@click.argument("uri")
@common_options
def rb_command(uri: str) -> None:
    """Delete an empty bucket or container (a directory for local URIs)."""
    uri = to_uri(uri)
    st = state().begin(uri)
    s3dlio.delete_bucket(uri)
    emit({"action": "rb", "uri": uri}) if st.json else echo_err(f"deleted {uri}")


# --- data generation ----------------------------------------------------------------------------
@cli.command("gen")
@click.argument("prefix")
@click.option("-n", "--num", required=True, type=click.IntRange(1), help="Number of objects.")
@click.option("-s", "--size", default="1MiB", show_default=True, help="Size of each object.")
@click.option(
    "-t",
    "--type",
    "object_type",
    default="zeros",
    show_default=True,
    type=click.Choice(["zeros", "random", "npz", "hdf5", "tfrecord"]),
    help="Object contents.",
)
@click.option("--template", default="object_{}", show_default=True, help="Object name; {} is the index.")
@click.option(
    "-j",
    "--concurrency",
    default=32,
    show_default=True,
    type=click.IntRange(1, 4096),
    help="Objects in flight.",
)
@click.option("--compress", default=1, show_default=True, type=click.IntRange(1), help="Compression ratio.")
@click.option("--dedup", default=1, show_default=True, type=click.IntRange(1), help="Dedup ratio.")
@click.option("--seed", type=int, default=None, help="Make the data reproducible.")
@common_options
def gen_command(
    prefix: str, num: int, size: str, object_type: str, template: str, concurrency: int, compress: int,
    dedup: int, seed: int | None,
) -> None:  # fmt: skip
    """Generate NUM synthetic objects under PREFIX (s3dlio.put)."""
    prefix = to_uri(prefix)
    st = state().begin(prefix)
    nbytes = parse_size(size)
    with progress_bar("gen", num * nbytes, num) as bar:
        uris = _run(
            s3dlio.put_async(
                prefix, num, template=template, object_type=object_type, size=nbytes,
                max_in_flight=concurrency, compress_factor=compress, dedup_factor=dedup, seed=seed,
                progress=lambda objects, done: bar.set(done, objects),
            )
        )  # fmt: skip
    if st.json:
        emit({"type": "summary", "prefix": prefix, "objects": len(uris), "bytes": len(uris) * nbytes})
    elif not st.quiet:
        echo_err(f"wrote {len(uris)} objects ({human(len(uris) * nbytes)}) under {prefix}")


# --- benchmark ----------------------------------------------------------------------------------
@cli.command("bench")
@click.argument("uri")
@click.option(
    "--op",
    "ops",
    multiple=True,
    metavar="OP",
    type=click.Choice(["put", "get", "stat", "list", "delete", "mixed"]),
    help="Operations, in order (repeatable; default put, get, stat, list, delete).",
)
@click.option("-s", "--size", default="1MiB", show_default=True, help="Object size.")
@click.option("-c", "--concurrency", default=16, show_default=True, type=click.IntRange(1, 4096))
@click.option(
    "--objects",
    default=100,
    show_default=True,
    type=click.IntRange(1),
    help="Objects written first (untimed) when no earlier phase left any.",
)
@click.option("-d", "--duration", default=None, help="Run each phase this long (e.g. 10s, 1m).")
@click.option("-n", "--count", default=None, type=click.IntRange(1), help="Run each phase for N requests.")
@click.option("--keep", is_flag=True, help="Leave the benchmark objects in place.")
@common_options
def bench_command(
    uri: str, ops: tuple[str, ...], size: str, concurrency: int, objects: int, duration: str | None,
    count: int | None, keep: bool,
) -> None:  # fmt: skip
    """A warp-style benchmark of PUT, GET, STAT, LIST, DELETE (and a mixed workload) under URI.

    Reports throughput, requests/s and latency percentiles per operation; deletes what it wrote.
    """
    from .bench import BenchPlan, run_bench

    uri = to_uri(uri)
    st = state().begin(uri)
    if duration is not None and count is not None:
        raise click.UsageError("give --duration or --count, not both")
    plan = BenchPlan(
        uri=uri, ops=list(ops) or ["put", "get", "stat", "list", "delete"], size=parse_size(size),
        concurrency=concurrency, objects=objects,
        duration=parse_duration(duration) if duration is not None else (None if count else 10.0),
        count=count, keep=keep,
    )  # fmt: skip
    results = _run(run_bench(plan, lambda name, total: progress_bar(name, None, total, st.quiet)))
    if st.json:
        for result in results:
            emit(result.as_dict())
    else:
        table = Table(title=f"s3dlio bench {uri} ({human(plan.size)} objects, concurrency {concurrency})")
        for column in ("op", "requests", "errors", "MiB/s", "req/s", "p50 ms", "p90 ms", "p99 ms"):
            table.add_column(column, justify="left" if column == "op" else "right")
        for result in results:
            row = result.as_dict()
            table.add_row(
                row["op"], str(row["requests"]), str(row["errors"]), f"{row['mib_per_s']:.1f}",
                f"{row['requests_per_s']:.1f}",
                *(_ms(row[name]) for name in ("p50_ms", "p90_ms", "p99_ms")),
            )  # fmt: skip
        stdout_console().print(table)
    failed = sum(result.errors for result in results)
    if failed:
        first = next(result.first_error for result in results if result.first_error)
        echo_err(f"s3dlio: error: {failed} requests failed; first: {first}")
        raise SystemExit(1)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


# --- checkpoints --------------------------------------------------------------------------------
@cli.group("ckpt", cls=_Group)
@common_options
def ckpt_group() -> None:
    """Inspect checkpoint stores (s3dlio.CheckpointStore)."""


@ckpt_group.command("ls")
@click.argument("uri")
@common_options
def ckpt_ls(uri: str) -> None:
    """List the committed checkpoints under URI."""
    uri = to_uri(uri)
    st = state().begin(uri)
    infos = s3dlio.CheckpointStore(uri).list()
    if st.json:
        for info in infos:
            emit({"step": info.step, "epoch": info.epoch, "time": iso(info.time), "size": info.size,
                  "world_size": info.world_size, "uri": info.uri, "metadata": info.metadata})  # fmt: skip
        return
    table = Table()
    for column in ("step", "epoch", "time", "size", "ranks", "manifest"):
        table.add_column(column)
    for info in infos:
        table.add_row(str(info.step), str(info.epoch), str(iso(info.time) or "-")[:19], human(info.size),
                      str(info.world_size), info.uri)  # fmt: skip
    stdout_console().print(table)


@ckpt_group.command("verify")
@click.argument("uri")
@click.option("--step", type=int, default=None, help="The step to check (default: the latest).")
@common_options
def ckpt_verify(uri: str, step: int | None) -> None:
    """Read a checkpoint back and check every checksum and size."""
    uri = to_uri(uri)
    st = state().begin(uri)

    async def verify() -> tuple[int, int]:
        reader = await s3dlio.CheckpointStore(uri).reader_async(step)
        try:
            return int(reader.manifest.step), await reader.verify_async()
        finally:
            closer = getattr(reader, "close_async", None) or getattr(reader, "aclose", None)
            if closer is not None:
                await closer()

    found_step, nbytes = _run(verify())
    if st.json:
        emit({"action": "verify", "uri": uri, "step": found_step, "bytes": nbytes, "ok": True})
    else:
        click.echo(f"step {found_step}: ok, {human(nbytes)} verified")


@ckpt_group.command("rm")
@click.argument("uri")
@click.option("--step", "steps", type=int, multiple=True, help="A step to delete (repeatable).")
@click.option("--keep-last", type=click.IntRange(1), default=None, help="Delete all but the newest K.")
@common_options
def ckpt_rm(uri: str, steps: tuple[int, ...], keep_last: int | None) -> None:
    """Delete checkpoints by step, or all but the newest few."""
    uri = to_uri(uri)
    st = state().begin(uri)
    if not steps and keep_last is None:
        raise click.UsageError("give --step N (repeatable) or --keep-last K")
    store = s3dlio.CheckpointStore(uri)
    removed = list(steps)
    for step in steps:
        store.delete(step)
    if keep_last is not None:
        removed += store.prune(keep_last)
    if st.json:
        emit({"action": "delete", "uri": uri, "steps": removed})
    elif not st.quiet:
        echo_err(f"deleted step{'s' if len(removed) != 1 else ''} {', '.join(map(str, removed)) or 'none'}")


def run(argv: list[str] | None = None) -> None:
    """Run the command line and exit with its status; the op-log is finished before exiting."""
    code = 0
    try:
        result = cli.main(args=argv, prog_name="s3dlio", standalone_mode=False, obj=State())
        code = result if isinstance(result, int) else 0
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.exceptions.Abort:
        echo_err("s3dlio: aborted")
        code = 1
    except click.ClickException as exc:
        exc.show()
        code = exc.exit_code
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    try:
        s3dlio.finalize_op_log()
    except OSError as exc:
        echo_err(f"s3dlio: error: {exc}")
        code = code or 1
    sys.stdout.flush()
    raise SystemExit(code)
