"""The op-log: every storage request as one row of a zstd-compressed TSV file.

The columns are those of MinIO warp's operation log (and of the original s3dlio's), so warp's
and polarWarp's analysis tools read it::

    idx  thread  op  client_id  n_objects  bytes  endpoint  file  error  start  first_byte  end  duration_ns

``op`` is ``GET``, ``PUT``, ``STAT``, ``LIST``, ``DELETE``, ``CREATE_BUCKET`` or
``DELETE_BUCKET``; times are RFC 3339 UTC with nanoseconds; ``first_byte`` is the end of a GET,
the start of a PUT and empty for metadata requests (the transport does not expose the first
byte). ``endpoint`` is ``scheme://bucket`` (``file://`` for local files) and ``file`` the path
without the scheme, as in the original.

Turn it on with ``configure(op_log="ops.tsv.zst")``, the ``S3DLIO_OP_LOG`` variable, the CLI's
``--op-log``, or :func:`init_op_log`. Rows are formatted and compressed on a background thread;
at most ``max_pending`` rows wait in memory, and a producer that finds the queue full waits for
the writer instead of dropping a row (a log with holes would mislead). The file is complete once
:func:`finalize_op_log` returns (also called at interpreter exit). A forked child writes its own
file, ``<name>.<pid>.tsv.zst``, never into its parent's.
"""

from __future__ import annotations

import atexit
import collections
import os
import threading
from typing import IO, Any

__all__ = [
    "COLUMNS",
    "OpLog",
    "finalize_op_log",
    "init_op_log",
    "is_op_log_active",
    "log_for",
    "set_client_id",
]

COLUMNS = (
    "idx", "thread", "op", "client_id", "n_objects", "bytes", "endpoint", "file", "error",
    "start", "first_byte", "end", "duration_ns",
)  # fmt: skip
_HEADER = ("\t".join(COLUMNS) + "\n").encode()
_LOCAL = frozenset(("file", "direct"))
_CLEAN = str.maketrans({"\t": " ", "\n": " ", "\r": " "})

# A row as recorded on the request path (formatting waits for the writer thread):
# op, thread ident, n_objects, bytes, scheme, bucket, key, error or None, start_ns, end_ns
Row = tuple[str, int, int, int, str, str, str, "BaseException | None", int, int]


def _error_text(error: BaseException | None) -> str:
    if error is None:
        return ""
    text = str(error)
    return f"{type(error).__name__}: {text.splitlines()[0] if text else ''}"[:400]


def _numbers(values: Any) -> Any:
    """Integers as text; a column of one repeated value (n_objects, thread) is converted once."""
    first = values[0]
    if values.count(first) == len(values):
        return [str(first)] * len(values)
    return map(str, values)


def _clean(values: list[str]) -> list[str]:
    """Tabs and newlines would break the TSV: replace them (checked once per batch)."""
    joined = "".join(values)
    if "\t" in joined or "\n" in joined or "\r" in joined:
        return [value.translate(_CLEAN) for value in values]
    return values


class OpLog:
    """One op-log file with its writer thread."""

    def __init__(self, path: str, *, max_pending: int = 65536, level: int = 3) -> None:
        import zstandard

        if max_pending < 1:
            raise ValueError(f"max_pending must be >= 1, got {max_pending}")
        self.path = path
        self.client_id = _client_id.translate(_CLEAN)
        self._file: IO[bytes] = open(path, "wb")  # noqa: SIM115  (closed by close())
        self._zstd: Any = zstandard.ZstdCompressor(level=level).stream_writer(self._file, closefd=False)
        self._zstd.write(_HEADER)
        self._max = max_pending
        self._batch = max(1, min(1024, max_pending // 4))
        self._queue: collections.deque[Row] = collections.deque()
        self._wake = threading.Event()
        self._room = threading.Condition(threading.Lock())
        self._closed = False
        self._error: BaseException | None = None
        self._threads: dict[int, int] = {}
        self.rows = 0
        self._pid = os.getpid()
        self._thread = threading.Thread(target=self._run, name="s3dlio-oplog", daemon=True)
        self._thread.start()

    def __repr__(self) -> str:
        return f"OpLog({self.path!r}, rows={self.rows})"

    def record(self, row: Row) -> None:
        """Queue one row: an append on the request path; waits only while the queue is full."""
        queue = self._queue
        queue.append(row)
        if len(queue) >= self._batch:
            self._wake.set()
            if len(queue) >= self._max:
                with self._room:
                    while len(queue) >= self._max and not self._closed:
                        self._room.wait(0.1)

    def _format(self, rows: list[Row]) -> bytes:
        """A batch of rows as TSV lines, formatted column by column (the loops run in C)."""
        import numpy as np  # only where an op-log is written: ``import s3dlio`` stays light

        ops, idents, counts, sizes, schemes, buckets, keys, errors, starts, ends = zip(*rows, strict=True)
        threads = self._threads
        for ident in set(idents):
            threads.setdefault(ident, len(threads) + 1)  # small thread numbers, as warp writes
        start_ns = np.array(starts, dtype=np.int64)
        end_ns = np.array(ends, dtype=np.int64)
        start_text = np.datetime_as_string(
            start_ns.astype("datetime64[ns]"), unit="ns", timezone="UTC"
        ).tolist()
        end_text = np.datetime_as_string(end_ns.astype("datetime64[ns]"), unit="ns", timezone="UTC").tolist()
        count = len(rows)
        failed = count - errors.count(None)
        kinds = set(ops)
        if not failed and len(kinds) == 1:  # the usual batch: one kind of request, no errors
            kind = ops[0]
            first = end_text if kind == "GET" else start_text if kind == "PUT" else [""] * count
        else:
            first = [
                "" if error is not None else end if op == "GET" else start if op == "PUT" else ""
                for op, error, start, end in zip(ops, errors, start_text, end_text, strict=True)
            ]
        places = set(zip(schemes, buckets, strict=True))
        if len(places) == 1:  # one store: the endpoint is constant, the file a prefix + key
            scheme, bucket = next(iter(places))
            local = scheme in _LOCAL
            endpoints = [f"{scheme}://" if local else f"{scheme}://{bucket}"] * count
            files = _clean(list(map(("/" if local else bucket + "/").__add__, keys)))
        else:
            endpoints = [
                f"{scheme}://" if scheme in _LOCAL else f"{scheme}://{bucket}"
                for scheme, bucket in zip(schemes, buckets, strict=True)
            ]
            files = _clean(
                [
                    "/" + key if scheme in _LOCAL else f"{bucket}/{key}"
                    for scheme, bucket, key in zip(schemes, buckets, keys, strict=True)
                ]
            )
        error_text = _clean([_error_text(error) for error in errors]) if failed else [""] * count
        first_index = self.rows
        columns = (
            map(str, range(first_index, first_index + count)),
            _numbers(list(map(threads.__getitem__, idents))),
            ops,
            [self.client_id] * count,
            _numbers(counts),
            map(str, sizes),
            endpoints,
            files,
            error_text,
            start_text,
            first,
            end_text,
            map(str, (end_ns - start_ns).tolist()),
        )
        self.rows = first_index + count
        return ("\n".join(map("\t".join, zip(*columns, strict=True))) + "\n").encode()

    def _run(self) -> None:
        queue = self._queue
        while True:
            if not queue:
                if self._closed:
                    return
                self._wake.wait(0.5)  # woken by a full batch or by close(); else a periodic flush
                self._wake.clear()
            count = len(queue)
            if count:
                rows = [queue.popleft() for _ in range(count)]
                with self._room:
                    self._room.notify_all()  # producers waiting on a full queue
                try:
                    self._zstd.write(self._format(rows))
                except BaseException as exc:  # the disk filled up, the file was closed under us
                    self._error = exc
                    self._closed = True
                    queue.clear()
                    with self._room:
                        self._room.notify_all()
                    return

    def close(self) -> None:
        """Write every queued row, finish the zstd frame and close the file.

        Raises the writer's error (e.g. a full disk) if writing failed.
        """
        if self._file.closed:
            return
        self._closed = True
        self._wake.set()
        if os.getpid() != self._pid:
            return  # a forked copy: the parent owns the file
        self._thread.join()
        try:
            try:
                self._zstd.close()
            finally:
                self._file.close()
        except OSError as exc:
            self._error = self._error or exc
        if self._error is not None:
            raise OSError(f"op-log {self.path} could not be written: {self._error}") from self._error


_lock = threading.Lock()
_logs: dict[str, OpLog] = {}  # by the configured path
_explicit: OpLog | None = None
_client_id = os.environ.get("S3DLIO_CLIENT_ID", "")
_forked = False


def _child_path(path: str) -> str:
    """``ops.tsv.zst`` -> ``ops.<pid>.tsv.zst`` for a forked child."""
    directory, name = os.path.split(path)
    stem, dot, rest = name.partition(".")
    return os.path.join(directory, f"{stem}.{os.getpid()}{dot}{rest}")


def _open(path: str) -> OpLog:
    target = _child_path(path) if _forked else path
    try:
        return OpLog(target)
    except OSError as exc:
        from .errors import ConfigError

        raise ConfigError(f"op_log {target!r} cannot be written: {exc.strerror or exc}") from exc


def log_for(path: str | None) -> OpLog | None:
    """The active op-log: one opened by :func:`init_op_log`, else the one for ``path``."""
    if _explicit is not None:
        return _explicit
    if path is None:
        return None
    log = _logs.get(path)
    if log is None:
        with _lock:
            log = _logs.get(path)
            if log is None:
                log = _logs[path] = _open(path)
    return log


def init_op_log(path: str | os.PathLike[str]) -> None:
    """Start recording every storage request to ``path`` (the original's name for this).

    Replaces (and finishes) an op-log started earlier with this function.
    """
    global _explicit
    with _lock:
        old, _explicit = _explicit, _open(os.fspath(path))
    if old is not None:
        old.close()


def is_op_log_active() -> bool:
    """Whether an op-log is being written (by :func:`init_op_log` or the ``op_log`` setting)."""
    from .config import get_config

    return _explicit is not None or get_config().op_log is not None


def finalize_op_log() -> None:
    """Finish every open op-log: all rows written, the files complete and closed."""
    global _explicit
    with _lock:
        logs = [*_logs.values(), *([_explicit] if _explicit is not None else [])]
        _logs.clear()
        _explicit = None
    errors = []
    for log in logs:
        try:
            log.close()
        except OSError as exc:
            errors.append(exc)
    if errors:
        raise errors[0]


def set_client_id(client_id: str) -> None:
    """The ``client_id`` column of op-logs opened from now on (default ``$S3DLIO_CLIENT_ID``)."""
    global _client_id
    _client_id = str(client_id)


def _after_fork_in_child() -> None:
    global _explicit, _forked, _lock
    _forked = True
    _lock = threading.Lock()  # another thread may have held it at the fork
    stale: list[Any] = [*_logs.values(), *([_explicit] if _explicit is not None else [])]
    _logs.clear()
    _explicit = None
    for log in stale:
        log._closed = True  # its thread does not exist here; never touch the parent's file


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(finalize_op_log)
