"""What every command shares: options, URIs, sizes, JSON lines, progress bars, filters."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

F = TypeVar("F", bound=Callable[..., Any])

_UNITS = {
    "": 1, "b": 1,
    "k": 1000, "kb": 1000, "m": 1000**2, "mb": 1000**2, "g": 1000**3, "gb": 1000**3, "t": 1000**4,
    "tb": 1000**4,
    "ki": 1024, "kib": 1024, "mi": 1024**2, "mib": 1024**2, "gi": 1024**3, "gib": 1024**3,
    "ti": 1024**4, "tib": 1024**4,
}  # fmt: skip
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


@dataclass
class State:
    """Options that every command accepts (before or after the command name)."""

    json: bool = False
    quiet: bool = False
    debug: bool = False
    op_log: str | None = None
    uri: str | None = None
    """The URI the command works on, named by error messages that do not name one."""
    applied: bool = field(default=False, repr=False)

    def begin(self, uri: str | None = None) -> State:
        """Apply the settings (once) and remember ``uri`` for error messages."""
        if uri is not None:
            self.uri = uri
        if not self.applied:
            self.applied = True
            if self.op_log:
                import s3dlio

                s3dlio.configure(op_log=os.path.abspath(self.op_log))
        return self


def state() -> State:
    """The current command's :class:`State`."""
    found: State = click.get_current_context().ensure_object(State)
    return found


def _store(name: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        if value not in (None, False):
            setattr(ctx.ensure_object(State), name, value)

    return callback


def common_options(function: F) -> F:
    """``--json``, ``--quiet``, ``--debug`` and ``--op-log``, accepted by the group and each command."""
    options = [
        click.option("--json", "json_", is_flag=True, expose_value=False, callback=_store("json"),
                     help="One JSON object per line on stdout."),
        click.option("-q", "--quiet", is_flag=True, expose_value=False, callback=_store("quiet"),
                     help="No progress bars."),
        click.option("--debug", is_flag=True, expose_value=False, callback=_store("debug"),
                     help="Show the traceback of an error."),
        click.option("--op-log", type=click.Path(dir_okay=False), expose_value=False,
                     callback=_store("op_log"), metavar="FILE",
                     help="Record every storage request (warp TSV, zstd); also S3DLIO_OP_LOG."),
    ]  # fmt: skip
    for option in reversed(options):
        function = option(function)
    return function


# --- URIs ---------------------------------------------------------------------------------------
def to_uri(text: str) -> str:
    """A URI as given, or a local path made into an absolute ``file://`` URI."""
    if "://" in text:
        return text
    path = os.path.abspath(os.path.expanduser(text))
    if text.endswith(("/", os.sep)) or text in (".", ".."):
        path = path.rstrip("/") + "/"
    return "file://" + path


def join(prefix: str, relative: str) -> str:
    """``prefix`` (a directory) joined with a relative key."""
    return prefix.rstrip("/") + "/" + relative.lstrip("/") if relative else prefix


def basename(uri: str) -> str:
    """The last path segment of ``uri``."""
    return uri.rstrip("/").rsplit("/", 1)[-1]


# --- sizes and times ----------------------------------------------------------------------------
def parse_size(text: str) -> int:
    """``"4KiB"``, ``"1MB"``, ``"512"`` -> bytes (k/M/G are powers of 1000, Ki/Mi/Gi of 1024)."""
    match = _SIZE.match(str(text))
    unit = match.group(2).lower() if match else None
    if match is None or unit not in _UNITS:
        raise click.BadParameter(f"{text!r} is not a size (examples: 4096, 64KiB, 1MB, 2GiB)")
    return int(float(match.group(1)) * _UNITS[unit])


def parse_duration(text: str) -> float:
    """``"10s"``, ``"2m"``, ``"500ms"``, ``"1.5"`` -> seconds."""
    match = re.match(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|)\s*$", str(text))
    if match is None:
        raise click.BadParameter(f"{text!r} is not a duration (examples: 10s, 2m, 500ms)")
    scale = {"ms": 0.001, "s": 1.0, "": 1.0, "m": 60.0, "h": 3600.0}[match.group(2)]
    return float(match.group(1)) * scale


def human(size: float) -> str:
    """``1536`` -> ``"1.5 KiB"``."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def iso(value: Any) -> str | None:
    """A timestamp as ISO 8601 text (None stays None)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value).astimezone().isoformat()
    return str(value)


def field_of(entry: Any, name: str, default: Any = None) -> Any:
    """``entry[name]`` for a listing or stat entry (a dict or an entry type), else ``default``."""
    try:
        return entry[name]
    except (KeyError, TypeError, IndexError):
        return getattr(entry, name, default)


# --- output -------------------------------------------------------------------------------------
def emit(record: dict[str, Any]) -> None:
    """One JSON object on one line of stdout."""
    click.echo(json.dumps(record, default=str, separators=(",", ":")))


def stdout_console() -> Console:
    """A rich console on stdout (plain text, never cut to 80 columns, when not a terminal)."""
    console = Console(highlight=False, soft_wrap=True)
    if not console.is_terminal:
        console = Console(highlight=False, soft_wrap=True, width=1000)
    return console


class Bar:
    """A progress bar on stderr with bytes, objects, rate and ETA (a no-op when disabled)."""

    def __init__(self, progress: Progress | None, task: TaskID | None) -> None:
        self._progress, self._task = progress, task
        self.objects = 0

    def advance(self, nbytes: int, objects: int = 1) -> None:
        """Count ``nbytes`` and ``objects`` more as done."""
        self.objects += objects
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, advance=nbytes, objects=self.objects)

    def set(self, done_bytes: int, done_objects: int) -> None:
        """Set the totals done so far."""
        self.objects = done_objects
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=done_bytes, objects=done_objects)


@contextmanager
def progress_bar(
    description: str, total_bytes: int | None, total_objects: int | None, quiet: bool | None = None
) -> Iterator[Bar]:
    """A progress bar on stderr, shown only on a terminal and without ``--quiet``."""
    console = Console(stderr=True)
    if (state().quiet if quiet is None else quiet) or not console.is_terminal:
        yield Bar(None, None)
        return
    objects = "/" + str(total_objects) if total_objects is not None else ""
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(binary_units=True),
        TextColumn("{task.fields[objects]}" + objects + " objects"),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task(description, total=total_bytes, objects=0)
        yield Bar(progress, task)


# --- filters ------------------------------------------------------------------------------------
class KeyFilter:
    """``--include``/``--exclude`` patterns on relative keys: globs, or regexes with ``--regex``."""

    def __init__(self, include: tuple[str, ...], exclude: tuple[str, ...], regex: bool) -> None:
        def compile_all(patterns: tuple[str, ...]) -> list[Callable[[str], bool]]:
            tests: list[Callable[[str], bool]] = []
            for pattern in patterns:
                if regex:
                    try:
                        compiled = re.compile(pattern)
                    except re.error as exc:
                        raise click.BadParameter(f"bad regular expression {pattern!r}: {exc}") from None
                    tests.append(lambda key, c=compiled: c.search(key) is not None)  # type: ignore[misc]
                else:
                    tests.append(
                        lambda key, p=pattern: (
                            fnmatch.fnmatchcase(key, p)  # type: ignore[misc]
                            or fnmatch.fnmatchcase(basename(key), p)
                        )
                    )
            return tests

        self._include = compile_all(include)
        self._exclude = compile_all(exclude)

    def __call__(self, relative: str) -> bool:
        if self._include and not any(test(relative) for test in self._include):
            return False
        return not any(test(relative) for test in self._exclude)


def echo_err(message: str) -> None:
    """One line on stderr."""
    print(message, file=sys.stderr, flush=True)
