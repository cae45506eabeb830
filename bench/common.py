"""Shared helpers for the benchmarks (standard library only; numpy is optional).

Imported by the benchmarks that run in OUR venv (.venv). The ORIGINAL Rust-based s3dlio
(PyPI 0.10.0) has the same import name, so it lives in its own venv (bench/setup_original.sh)
and is driven through bench/_original_worker.py in a subprocess:

    from common import run_original, S3Config, add_s3_args, s3_from_args, time_best, Row, print_table

    cfg = s3_from_args(args)                      # CLI flags > AWS_* env > start SeaweedFS
    orig = run_original("get", s3=cfg, uri="s3://b/p/", concurrency=32, repeat=3)
    best = time_best(lambda: ours_get_all(...), repeat=3)
    print_table([Row("GET 200x256KiB", ours=..., original=orig["mb_per_s"], raw=...)])

Conventions: MB = 10**6 bytes; rows hold rates where higher is better unless
``higher_is_better=False`` (then the ratio is inverted, so a ratio > 1 always means ours wins).
"""

from __future__ import annotations

import argparse
import atexit
import json
import math
import os
import shlex
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
ORIGINAL_VENV = Path(os.environ.get("S3DLIO_ORIGINAL_VENV", REPO_ROOT / ".bench" / "venv-original"))
ORIGINAL_PYTHON = ORIGINAL_VENV / "bin" / "python"
ORIGINAL_WORKER = BENCH_DIR / "_original_worker.py"
SETUP_ORIGINAL = BENCH_DIR / "setup_original.sh"

AWS_VARS = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION")


# =============================================================================================
# (a) the original, in its own venv
# =============================================================================================
class OriginalError(RuntimeError):
    """The original's worker failed or printed no result."""


def original_available(torch: bool = False) -> bool:
    """True when the original's venv exists (and has torch, when asked)."""
    if not ORIGINAL_PYTHON.exists():
        return False
    if not torch:
        return True
    rc = subprocess.run([str(ORIGINAL_PYTHON), "-c", "import torch"], capture_output=True).returncode
    return rc == 0


def ensure_original(torch: bool = False, quiet: bool = True) -> Path:
    """Create the original's venv if needed (bench/setup_original.sh; idempotent). Returns its python."""
    if not original_available(torch=torch):
        cmd = ["bash", str(SETUP_ORIGINAL)] + (["--torch"] if torch else [])
        res = subprocess.run(cmd, capture_output=quiet, text=True)
        if res.returncode != 0:
            raise OriginalError(
                f"{' '.join(cmd)} failed:\n{(res.stdout or '')[-2000:]}{(res.stderr or '')[-2000:]}"
            )
    return ORIGINAL_PYTHON


def worker_argv(workload: str, **options: Any) -> list[str]:
    """argv for the worker: ``foo_bar=1`` -> ``--foo-bar 1``, True -> flag, False/None -> left out."""
    argv = [str(ORIGINAL_PYTHON), str(ORIGINAL_WORKER), workload]
    for key, value in options.items():
        if value is None or value is False:
            continue
        flag = "--" + key.replace("_", "-")
        if value is True:
            argv.append(flag)
        else:
            argv += [flag, str(value)]
    return argv


def run_original(
    workload: str,
    *,
    s3: S3Config | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 900.0,
    check: bool = True,
    verbose: bool = False,
    **options: Any,
) -> dict[str, Any]:
    """Run one workload of bench/_original_worker.py in the original's venv; return its JSON.

    ``options`` become worker flags (``uri=..., size=..., num=..., concurrency=..., repeat=...,
    prepare=True, batch_size=..., iter="async", workers=..., ckpt_mode=...``; see the worker's
    docstring). The subprocess gets os.environ + ``s3.env()`` + ``env``.
    Raises OriginalError on failure unless ``check=False`` (then the dict has "error").
    """
    if not ORIGINAL_PYTHON.exists():
        raise OriginalError(f"{ORIGINAL_PYTHON} missing: run bench/setup_original.sh")
    argv = worker_argv(workload, **options)
    full_env = dict(os.environ)
    if s3 is not None:
        full_env.update(s3.env())
    if env:
        full_env.update(env)
    if verbose:
        print("+", shlex.join(argv), file=sys.stderr, flush=True)
    try:
        res = subprocess.run(
            argv, capture_output=True, text=True, env=full_env, timeout=timeout, cwd=str(REPO_ROOT)
        )
    except subprocess.TimeoutExpired as exc:
        raise OriginalError(f"original {workload} timed out after {timeout}s: {shlex.join(argv)}") from exc
    out = _last_json_line(res.stdout)
    if out is None:
        out = {"workload": workload, "impl": "original", "error": f"no JSON result (exit {res.returncode})"}
    out.setdefault("stderr_tail", res.stderr[-3000:] if ("error" in out and res.stderr) else None)
    if out.get("stderr_tail") is None:
        out.pop("stderr_tail", None)
    if check and ("error" in out or res.returncode != 0):
        raise OriginalError(
            f"original {workload} failed: {out.get('error')}\ncommand: {shlex.join(argv)}\n"
            f"stderr:\n{res.stderr[-3000:]}"
        )
    return out


def _last_json_line(text: str) -> dict[str, Any] | None:
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                continue
    return None


# =============================================================================================
# (b) timing
# =============================================================================================
@dataclass
class Timing:
    """Result of :func:`time_best`: best and all timed durations (seconds) and the last result."""

    best: float
    times: list[float]
    result: Any = None

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    def rate(self, amount: float) -> float:
        """amount / best (e.g. bytes/s); 0 when best is 0."""
        return amount / self.best if self.best > 0 else 0.0

    def mb_per_s(self, nbytes: float) -> float:
        return self.rate(nbytes) / 1e6


def time_best(
    fn: Callable[[], Any],
    repeat: int = 3,
    warmup: int = 0,
    setup: Callable[[], Any] | None = None,
) -> Timing:
    """Call ``fn()`` ``warmup`` + ``repeat`` times; time only ``fn`` (``setup()`` runs untimed
    before each call). Returns the best of the timed runs."""
    if repeat < 1:
        raise ValueError("repeat must be >= 1")
    times: list[float] = []
    result = None
    for i in range(warmup + repeat):
        if setup is not None:
            setup()
        t0 = time.perf_counter()
        result = fn()
        dt = time.perf_counter() - t0
        if i >= warmup:
            times.append(dt)
    return Timing(min(times), times, result)


async def time_best_async(
    fn: Callable[[], Any], repeat: int = 3, warmup: int = 0, setup: Callable[[], Any] | None = None
) -> Timing:
    """Like :func:`time_best` for a coroutine function (awaited inside the running loop)."""
    times: list[float] = []
    result = None
    for i in range(warmup + repeat):
        if setup is not None:
            setup()
        t0 = time.perf_counter()
        result = await fn()
        dt = time.perf_counter() - t0
        if i >= warmup:
            times.append(dt)
    return Timing(min(times), times, result)


# =============================================================================================
# (c) result table
# =============================================================================================
@dataclass
class Row:
    """One benchmark line: values of ours, the original and raw obstore in the same unit."""

    name: str
    ours: float | None = None
    original: float | None = None
    raw: float | None = None
    unit: str = "MB/s"
    higher_is_better: bool = True
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def ratio(self, other: float | None) -> float | None:
        """ours / other for rates; other / ours when lower is better. >1 means ours is better."""
        if self.ours is None or other is None:
            return None
        a, b = (self.ours, other) if self.higher_is_better else (other, self.ours)
        if b == 0:
            return math.inf if a > 0 else None
        return a / b

    @property
    def vs_original(self) -> float | None:
        return self.ratio(self.original)

    @property
    def vs_raw(self) -> float | None:
        return self.ratio(self.raw)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["vs_original"] = self.vs_original
        d["vs_raw"] = self.vs_raw
        return d


def _fmt_num(v: float | None) -> str:
    if v is None:
        return "-"
    if isinstance(v, float) and (math.isinf(v) or math.isnan(v)):
        return str(v)
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    return f"{v:.4g}"


def _fmt_ratio(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}x"


def format_table(rows: Sequence[Row], title: str | None = None) -> str:
    """The rows as a fixed-width text table (ratios: ours/original, ours/raw obstore)."""
    head = ["benchmark", "unit", "ours", "original", "raw obstore", "ours/orig", "ours/raw", "note"]
    body = [
        [
            r.name,
            r.unit + ("" if r.higher_is_better else " (lower better)"),
            _fmt_num(r.ours),
            _fmt_num(r.original),
            _fmt_num(r.raw),
            _fmt_ratio(r.vs_original),
            _fmt_ratio(r.vs_raw),
            r.note,
        ]
        for r in rows
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body, strict=True)]
    right = {2, 3, 4, 5, 6}

    def line(cells: Sequence[str]) -> str:
        pairs = enumerate(zip(cells, widths, strict=True))
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in pairs).rstrip()

    out = []
    if title:
        out += [title, "=" * len(title)]
    out += [line(head), line(["-" * w for w in widths])]
    out += [line(b) for b in body]
    return "\n".join(out)


def print_table(rows: Sequence[Row], title: str | None = None, file=None) -> None:
    print(format_table(rows, title), file=file or sys.stdout, flush=True)


def save_results(
    rows: Iterable[Row], path: str | os.PathLike[str], meta: Mapping[str, Any] | None = None
) -> None:
    """Write rows (+ ratios) and meta (host, time, ...) as JSON."""
    doc = {
        "meta": {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "python": sys.version.split()[0],
            "cpus": os.cpu_count(),
            **(meta or {}),
        },
        "rows": [r.as_dict() for r in rows],
    }
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(doc, indent=2, default=str))


# =============================================================================================
# (d) S3 endpoint / credentials
# =============================================================================================
@dataclass
class S3Config:
    """Where the S3 server is and how to sign for it."""

    endpoint_url: str
    access_key_id: str | None = None
    secret_access_key: str | None = None
    region: str = "us-east-1"
    bucket: str | None = None
    server: Any = field(default=None, repr=False)  # a tests.servers.S3Server we started, if any

    def env(self) -> dict[str, str]:
        """AWS_* variables for a subprocess (ours, the original and boto3 all read them)."""
        e = {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
        }
        if self.access_key_id:
            e["AWS_ACCESS_KEY_ID"] = self.access_key_id
        if self.secret_access_key:
            e["AWS_SECRET_ACCESS_KEY"] = self.secret_access_key
        if self.endpoint_url.startswith("http://"):
            e["AWS_ALLOW_HTTP"] = "true"  # object_store / obstore refuse plain http otherwise
        return e

    def apply_env(self) -> None:
        """Put :meth:`env` into this process's os.environ."""
        os.environ.update(self.env())

    def uri(self, key: str = "", bucket: str | None = None) -> str:
        b = bucket or self.bucket
        if not b:
            raise ValueError("no bucket configured")
        return f"s3://{b}/{key.lstrip('/')}"

    def obstore_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``obstore.store.S3Store(bucket, **kw)``."""
        kw: dict[str, Any] = {
            "endpoint": self.endpoint_url,
            "region": self.region,
            "virtual_hosted_style_request": False,
        }
        if self.access_key_id:
            kw["access_key_id"] = self.access_key_id
        if self.secret_access_key:
            kw["secret_access_key"] = self.secret_access_key
        if self.endpoint_url.startswith("http://"):
            kw["client_options"] = {"allow_http": True}
        return kw

    def obstore(self, bucket: str | None = None):
        """A raw ``obstore.store.S3Store`` for the baseline column."""
        from obstore.store import S3Store

        return S3Store(bucket or self.bucket, **self.obstore_kwargs())

    def create_bucket(self, name: str) -> None:
        """Create a bucket (ok if it already exists)."""
        if self.server is not None and hasattr(self.server, "create_bucket"):
            try:
                self.server.create_bucket(name)
            except RuntimeError as exc:
                if "409" not in str(exc):
                    raise
            return
        try:
            import boto3
        except ImportError:
            boto3 = None
        if boto3 is not None:
            client = boto3.client(
                "s3",
                endpoint_url=self.endpoint_url,
                region_name=self.region,
                aws_access_key_id=self.access_key_id,
                aws_secret_access_key=self.secret_access_key,
            )
            try:
                client.create_bucket(Bucket=name)
            except client.exceptions.BucketAlreadyOwnedByYou:
                pass
            except client.exceptions.BucketAlreadyExists:
                pass
            return
        servers = _import_servers()
        if servers is None:
            raise RuntimeError("cannot create a bucket: neither boto3 nor tests/servers.py available")
        url = f"{self.endpoint_url.rstrip('/')}/{name}"
        hdrs = servers.sigv4_headers(
            "PUT",
            url,
            access_key=self.access_key_id or "",
            secret_key=self.secret_access_key or "",
            region=self.region,
        )
        res = servers.http_request("PUT", url, headers=hdrs)
        if res.status not in (200, 409):
            raise RuntimeError(f"create bucket {name}: HTTP {res.status}: {res.body[:300]!r}")

    def stop(self) -> None:
        """Stop the server if we started it."""
        if self.server is not None:
            self.server.stop()
            self.server = None


def add_s3_args(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """--endpoint-url/--access-key/--secret-key/--region/--bucket (default: AWS_* env vars)."""
    g = parser.add_argument_group("S3 server (default: AWS_* environment; else start SeaweedFS)")
    g.add_argument("--endpoint-url", default=None, help="e.g. http://127.0.0.1:9000 (AWS_ENDPOINT_URL)")
    g.add_argument("--access-key", default=None, help="AWS_ACCESS_KEY_ID")
    g.add_argument("--secret-key", default=None, help="AWS_SECRET_ACCESS_KEY")
    g.add_argument("--region", default=None, help="AWS_REGION (default us-east-1)")
    g.add_argument("--bucket", default=None, help="bucket to use (default: a new one; S3DLIO_BENCH_BUCKET)")
    g.add_argument(
        "--no-start-server",
        action="store_true",
        help="fail instead of starting SeaweedFS when no endpoint is given",
    )
    return parser


def s3_from_env_or_args(args: argparse.Namespace | None = None) -> S3Config | None:
    """CLI flags first, then AWS_* variables; None when there is no endpoint."""

    def pick(attr: str, *env_names: str) -> str | None:
        v = getattr(args, attr, None) if args is not None else None
        if v:
            return v
        for n in env_names:
            if os.environ.get(n):
                return os.environ[n]
        return None

    endpoint = pick("endpoint_url", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "S3_ENDPOINT")
    if not endpoint:
        return None
    return S3Config(
        endpoint_url=endpoint,
        access_key_id=pick("access_key", "AWS_ACCESS_KEY_ID"),
        secret_access_key=pick("secret_key", "AWS_SECRET_ACCESS_KEY"),
        region=pick("region", "AWS_REGION", "AWS_DEFAULT_REGION") or "us-east-1",
        bucket=pick("bucket", "S3DLIO_BENCH_BUCKET"),
    )


def s3_from_args(
    args: argparse.Namespace | None = None,
    *,
    start_if_missing: bool = True,
    create_bucket: bool = True,
) -> S3Config | None:
    """Resolve the S3 server: flags > env > (optionally) a SeaweedFS we start ourselves.

    With ``create_bucket`` a bucket is created when none was named (``bench-<random>``).
    NOTE: on a SeaweedFS started with default flags (volume.max=8) each new bucket needs free
    volume slots; if creating one fails, pass --bucket with an existing bucket.
    """
    cfg = s3_from_env_or_args(args)
    if cfg is None:
        if not start_if_missing or getattr(args, "no_start_server", False):
            return None
        cfg = start_seaweedfs()
    if create_bucket and not cfg.bucket:
        cfg.bucket = f"bench-{uuid.uuid4().hex[:10]}"
        cfg.create_bucket(cfg.bucket)
    return cfg


@contextmanager
def s3_session(args: argparse.Namespace) -> Iterator[S3Config]:
    """The S3 server of ``args`` (or a SeaweedFS started here), with a bucket for this run
    (``cfg.bucket``) and ``AWS_*`` set for s3dlio; a server started here stops at the end."""
    cfg = s3_from_args(args)
    assert cfg is not None
    try:
        cfg.apply_env()
        yield cfg
    finally:
        cfg.stop()


# =============================================================================================
# (e) start a SeaweedFS server ourselves (tests/servers.py)
# =============================================================================================
def _import_servers():
    """tests/servers.py as a module, or None when it is not there."""
    path = REPO_ROOT / "tests" / "servers.py"
    if not path.exists():
        return None
    tests_dir = str(path.parent)
    if tests_dir not in sys.path:
        sys.path.insert(0, tests_dir)
    import servers

    return servers


def start_seaweedfs() -> S3Config:
    """Start a private SeaweedFS with tests/servers.py; it is stopped at exit."""
    servers = _import_servers()
    if servers is None or not hasattr(servers, "start_seaweedfs"):
        raise RuntimeError(
            "no S3 endpoint given (AWS_ENDPOINT_URL / --endpoint-url) and "
            "tests/servers.py:start_seaweedfs is not available"
        )
    srv = servers.start_seaweedfs()
    atexit.register(srv.stop)
    env = srv.env()
    return S3Config(
        endpoint_url=env["AWS_ENDPOINT_URL"],
        access_key_id=env["AWS_ACCESS_KEY_ID"],
        secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region=env.get("AWS_REGION", "us-east-1"),
        server=srv,
    )


# =============================================================================================
# small utilities
# =============================================================================================
def unique_prefix(name: str) -> str:
    """``name-<8 hex>/``: a fresh key prefix per run."""
    return f"{name}-{uuid.uuid4().hex[:8]}/"


def parse_size(text: str | int) -> int:
    """'256KiB', '4MiB', '1GB', '1000' -> bytes (KiB/MiB/GiB = 1024**n, KB/MB/GB = 1000**n)."""
    if isinstance(text, int):
        return text
    t = text.strip().lower().replace(" ", "")
    units = {
        "kib": 2**10,
        "mib": 2**20,
        "gib": 2**30,
        "k": 2**10,
        "m": 2**20,
        "g": 2**30,
        "kb": 10**3,
        "mb": 10**6,
        "gb": 10**9,
        "b": 1,
    }
    for suffix in sorted(units, key=len, reverse=True):
        if t.endswith(suffix):
            return int(float(t[: -len(suffix)]) * units[suffix])
    return int(t)


def fmt_bytes(n: float) -> str:
    for unit, div in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(n) >= div:
            return f"{n / div:.4g} {unit}"
    return f"{int(n)} B"


def random_bytes(size: int, seed: int = 0) -> bytes:
    """Incompressible payload (numpy when available, else os.urandom)."""
    try:
        import numpy as np

        return np.random.default_rng(seed).integers(0, 256, size=size, dtype=np.uint8).tobytes()
    except ImportError:
        return os.urandom(size)


__all__ = [
    "ORIGINAL_PYTHON",
    "ORIGINAL_VENV",
    "ORIGINAL_WORKER",
    "REPO_ROOT",
    "OriginalError",
    "Row",
    "S3Config",
    "Timing",
    "add_s3_args",
    "ensure_original",
    "fmt_bytes",
    "format_table",
    "original_available",
    "parse_size",
    "print_table",
    "random_bytes",
    "run_original",
    "s3_from_args",
    "s3_from_env_or_args",
    "save_results",
    "start_seaweedfs",
    "time_best",
    "time_best_async",
    "unique_prefix",
    "worker_argv",
]
