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
import functools
import os
import threading
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

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
# Rows formatted at once: enough to spread numpy's per-call costs, few enough to stay in cache.
_CHUNK = 2048
_LOCAL = frozenset(("file", "direct"))
_FIRST_BYTE = {"GET": 1, "PUT": 2}  # first_byte is the end (1) of a GET, the start (2) of a PUT
_CLEAN = str.maketrans({"\t": " ", "\n": " ", "\r": " ", "\0": " "})
# an RFC 3339 time as a record: "YYYY-MM-DDTHH:MM:SS." + nine digits + "Z"
_STAMP = [("second", "S20"), ("millis", "S3"), ("micros", "S3"), ("nanos", "S3"), ("z", "S1")]

# A row as recorded on the request path (formatting waits for the writer thread):
# op, thread ident, n_objects, bytes, scheme, bucket, key, error or None, start_ns, end_ns
Row = tuple[str, int, int, int, str, str, str, "BaseException | None", int, int]


def _error_text(error: BaseException | None) -> str:
    if error is None:
        return ""
    text = str(error)
    return f"{type(error).__name__}: {text.splitlines()[0] if text else ''}"[:400]


# Formatting works on a whole batch in numpy: each column is an array of NUL-padded bytes
# (``S<width>``) or one ``bytes`` shared by every row; the columns are laid side by side as one
# fixed-width record per row and the NUL padding is squeezed out at the end. No Python object
# is made per row or per field, which is where a row-at-a-time formatter spends its time.


def _squeeze(fields: list[Any], count: int) -> bytes:
    """``count`` lines, each the concatenation of ``fields`` (arrays, or bytes for every line)."""
    import numpy as np

    merged: list[Any] = []
    for field in fields:
        if isinstance(field, bytes) and merged and isinstance(merged[-1], bytes):
            merged[-1] += field
        elif not isinstance(field, bytes) or field:  # an empty constant is no field at all
            merged.append(field)
    names = [f"f{i}" for i in range(len(merged))]
    kinds = [f"S{len(field)}" if isinstance(field, bytes) else field.dtype for field in merged]
    table = np.empty(count, list(zip(names, kinds, strict=True)))
    for name, field in zip(names, merged, strict=True):
        table[name] = field
    return table.tobytes().translate(None, b"\0")


@functools.cache
def _digits() -> NDArray[np.bytes_]:
    """``b"000"`` ... ``b"999"``: numbers are written three digits at a time, by lookup."""
    import numpy as np

    return np.frombuffer(b"".join(b"%03d" % i for i in range(1000)), "S3")


@functools.cache
def _powers_of_ten() -> NDArray[np.int64]:
    import numpy as np

    return 10 ** np.arange(1, 19, dtype=np.int64)


def _decimal(values: NDArray[np.int64]) -> NDArray[np.bytes_]:
    """Integers as decimal text, right-aligned: the leading zeros are NUL padding."""
    import numpy as np

    if values.min() < 0:  # a negative duration: the wall clock stepped back
        return np.array([str(value).encode() for value in values.tolist()], "S")
    digits = _digits()
    groups = (len(str(int(values.max()))) + 2) // 3
    text = np.empty((len(values), groups), "S3")
    rest = values
    for group in range(groups - 1, 0, -1):
        rest, low = np.divmod(rest, 1000)
        text[:, group] = digits.take(low)
    text[:, 0] = digits.take(rest)
    width = 3 * groups
    raw = text.view(np.uint8).reshape(len(values), width)
    lengths = np.searchsorted(_powers_of_ten(), values, side="right") + 1
    raw *= np.arange(width) >= (width - lengths)[:, None]
    return raw.view(f"S{width}").ravel()


def _text(values: Sequence[str]) -> NDArray[np.bytes_]:
    """Strings as UTF-8; tabs and newlines (they would break the TSV) and NULs become spaces."""
    import numpy as np

    joined = "".join(values)  # one check for the whole batch
    if "\t" in joined or "\n" in joined or "\r" in joined or "\0" in joined:
        values = [value.translate(_CLEAN) for value in values]
    try:
        return np.array(values, "S")  # ASCII, the usual case, needs no encode() per value
    except UnicodeEncodeError:
        return np.array([value.encode() for value in values], "S")


def _numbers(values: tuple[int, ...]) -> Any:
    """Integers as text; one ``bytes`` when every row has the same value (n_objects, often bytes)."""
    import numpy as np

    first = values[0]
    if values.count(first) == len(values):
        return str(first).encode()
    return _decimal(np.array(values, np.int64))


def _stamps(ns: NDArray[np.int64]) -> NDArray[np.bytes_]:
    """Nanoseconds since the epoch as RFC 3339 UTC text, as ``numpy.datetime_as_string`` writes."""
    import numpy as np

    seconds, nanos = np.divmod(ns, 1_000_000_000)
    # numpy itself formats each second once (a batch spans a second or two)
    first = seconds.min()
    which = seconds - first
    span = int(which.max()) + 1
    if span <= 4096:
        distinct = np.arange(first, first + span)
    else:  # e.g. a long upload that started an hour before the rest of its batch
        distinct, which = np.unique(seconds, return_inverse=True)
    text = np.datetime_as_string(distinct.astype("datetime64[s]")).tolist()
    stamps = np.empty(len(ns), _STAMP)
    stamps["second"] = np.array([second + "." for second in text], "S20")[which.ravel()]
    micros, units = np.divmod(nanos, 1000)
    millis, thousands = np.divmod(micros, 1000)
    digits = _digits()
    stamps["millis"] = digits.take(millis)
    stamps["micros"] = digits.take(thousands)
    stamps["nanos"] = digits.take(units)
    stamps["z"] = b"Z"
    return stamps.view("S30")


class OpLog:
    """One op-log file with its writer thread."""

    def __init__(self, path: str, *, max_pending: int = 65536, level: int = 1) -> None:
        import zstandard

        if max_pending < 1:
            raise ValueError(f"max_pending must be >= 1, got {max_pending}")
        self.path = path
        self.client_id = _client_id.translate(_CLEAN)
        self._file: IO[bytes] = open(path, "wb")  # noqa: SIM115  (closed by close())
        # level 1: on op-logs about half the CPU of level 3, for files as small or smaller
        self._zstd: Any = zstandard.ZstdCompressor(level=level).stream_writer(self._file, closefd=False)
        self._zstd.write(_HEADER)
        self._max = max_pending
        # the writer is woken once per this many rows: each wake-up takes the GIL from a busy
        # request thread, so rarely (rows wait 0.5 s at most either way)
        self._batch = max(1, min(16384, max_pending // 4))
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
            if not self._wake.is_set():  # set() takes a lock: once per batch, not once per row
                self._wake.set()
            if len(queue) >= self._max:
                with self._room:
                    while len(queue) >= self._max and not self._closed:
                        self._room.wait(0.1)

    def _format(self, rows: list[Row]) -> bytes:
        """A batch of rows as TSV lines (see :func:`_squeeze`)."""
        import numpy as np  # only where an op-log is written: ``import s3dlio`` stays light

        ops, idents, counts, sizes, schemes, buckets, keys, errors, starts, ends = zip(*rows, strict=True)
        count = len(rows)
        threads = self._threads
        distinct = set(idents)
        for ident in distinct:
            threads.setdefault(ident, len(threads) + 1)  # small thread numbers, as warp writes
        thread: Any = str(threads[idents[0]]).encode()
        if len(distinct) > 1:
            thread = _decimal(np.fromiter(map(threads.__getitem__, idents), np.int64, count))
        kinds = sorted(set(ops))
        code = None  # the index in kinds of each row's op, when the batch has several
        op: Any = kinds[0].encode()
        if len(kinds) > 1:
            index = {kind: i for i, kind in enumerate(kinds)}
            code = np.fromiter(map(index.__getitem__, ops), np.intp, count)
            op = np.array(kinds, "S").take(code)
        ns = np.array(starts + ends, np.int64)
        stamps = _stamps(ns)
        start, end = stamps[:count], stamps[count:]
        failed = count - errors.count(None)
        # first_byte: the end of a GET, the start of a PUT, empty for the rest and for failures
        pick = np.array([_FIRST_BYTE.get(kind, 0) for kind in kinds])
        first: Any = (b"", end, start)[pick[0]]
        if code is not None or failed:
            pick = pick[0].repeat(count) if code is None else pick.take(code)
            if failed:
                pick *= np.array([error is None for error in errors])
            first = np.where(pick == 1, end, np.where(pick == 2, start, b""))
        scheme, bucket = schemes[0], buckets[0]
        if schemes.count(scheme) == count and buckets.count(bucket) == count:
            # one store: the endpoint is constant, the file a prefix + key
            local = scheme in _LOCAL
            prefix = f"{scheme}://\t/" if local else f"{scheme}://{bucket}\t{bucket}/"
            place = [prefix.encode(), _text(keys)]
        else:
            pairs = list(zip(schemes, buckets, keys, strict=True))
            endpoints = [f"{s}://" if s in _LOCAL else f"{s}://{b}" for s, b, _ in pairs]
            files = ["/" + k if s in _LOCAL else f"{b}/{k}" for s, b, k in pairs]
            place = [_text(endpoints), b"\t", _text(files)]
        first_index = self.rows
        tab = b"\t"
        fields = [
            _decimal(np.arange(first_index, first_index + count, dtype=np.int64)), tab,
            thread, tab, op, tab,
            self.client_id.encode(), tab,
            _numbers(counts), tab,
            _numbers(sizes), tab,
            *place, tab,
            _text([_error_text(error) for error in errors]) if failed else b"", tab,
            start, tab, first, tab, end, tab,
            _decimal(ns[count:] - ns[:count]), b"\n",
        ]  # fmt: skip
        self.rows = first_index + count
        return _squeeze(fields, count)

    def _run(self) -> None:
        queue = self._queue
        while True:
            if not queue:
                if self._closed:
                    return
                self._wake.wait(0.5)  # woken by a full batch or by close(); else a periodic flush
                self._wake.clear()
            count = min(len(queue), _CHUNK)
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
