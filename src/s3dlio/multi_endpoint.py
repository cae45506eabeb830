"""The original's multi-endpoint store: ``create_multi_endpoint_store(uris, strategy)``.

Each endpoint is a URI prefix of one dataset's copies or of one service's gateways:
``["s3://10.0.0.1:9000/bucket/", "s3://10.0.0.2:9000/bucket/"]`` (an S3 URI with
``host:port`` names the gateway; the bucket follows), ``["file:///mnt/a/", "file:///mnt/b/"]``
or plain buckets. A request's URI may start with any endpoint's prefix, or be relative; it is
rewritten to the prefix of the endpoint chosen for it. All methods are coroutines, as in the
original. Balancing, failover, statistics and read-after-write pinning are those of
:class:`s3dlio.stores.balanced.Balancer`.

For S3 gateways of one cluster, ``Client(s3_endpoints=[...])`` gives the same balancing to every
operation, loader and checkpoint, and is what new code should use.
"""

from __future__ import annotations

import builtins
import itertools
import os
import re
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from . import ops
from .client import Client
from .config import Config
from .errors import ConfigError
from .stores.balanced import Balancer
from .uri import parse_uri

__all__ = [
    "MultiEndpointStore",
    "create_multi_endpoint_store",
    "create_multi_endpoint_store_from_env",
    "create_multi_endpoint_store_from_file",
    "create_multi_endpoint_store_from_template",
    "expand_uri_template",
]

T = TypeVar("T")
MAX_ENDPOINTS = 32
_HOST_PORT = re.compile(r"^s3://([^/]+:\d+)/(.*)$")
_RANGE = re.compile(r"\{(\d+)\.\.\.(\d+)\}")


class MultiEndpointStore:
    """Requests balanced over several endpoint prefixes (build it with
    :func:`create_multi_endpoint_store`)."""

    def __init__(
        self, uris: Sequence[str], strategy: str | None = None, *, client: Client | None = None
    ) -> None:
        if isinstance(uris, str):
            raise TypeError("uris must be a list of URI prefixes, not one string")
        prefixes = [u if u.endswith("/") else u + "/" for u in uris]
        if not prefixes:
            raise ConfigError("a multi-endpoint store needs at least one endpoint URI")
        if len(prefixes) > MAX_ENDPOINTS:
            raise ConfigError(f"too many endpoints: {len(prefixes)} (at most {MAX_ENDPOINTS})")
        schemes = {p.split("://", 1)[0] for p in prefixes}
        if len(schemes) != 1:
            raise ConfigError(f"all endpoints must use the same URI scheme, got {sorted(schemes)}")
        self._prefixes = prefixes
        self._targets = [self._target(prefix, client) for prefix in prefixes]
        self._balancer = Balancer(prefixes, strategy or "round_robin", retry_after=30.0)

    @staticmethod
    def _target(prefix: str, client: Client | None) -> tuple[Client | None, str]:
        """The client and the store prefix behind one endpoint prefix."""
        match = _HOST_PORT.match(prefix)
        if match is None:
            parse_uri(prefix)  # a bad prefix fails now
            return client, prefix
        base = client.config if client is not None else Config.from_env()
        scheme = "https" if (base.s3_endpoint or "").startswith("https://") else "http"
        gateway = Client(base.replace(s3_endpoint=f"{scheme}://{match.group(1)}", s3_endpoints=()))
        store_prefix = f"s3://{match.group(2)}"
        parse_uri(store_prefix)
        return gateway, store_prefix

    def _relative(self, uri: str) -> str:
        if "://" not in uri:
            return uri.lstrip("/")
        for prefix in self._prefixes:
            if uri.startswith(prefix):
                return uri[len(prefix) :]
            if uri == prefix.rstrip("/"):
                return ""
        raise ConfigError(f"{uri!r} is under none of this store's endpoints {self._prefixes}")

    async def _run(
        self,
        uri: str,
        function: Callable[..., Awaitable[T]],
        *args: Any,
        pin: bool = False,
        size_read: Callable[[T], int] | None = None,
        written: int = 0,
    ) -> T:
        relative = self._relative(uri)

        async def on(index: int) -> T:
            client, prefix = self._targets[index]
            target = prefix + relative
            if client is None:
                return await function(target, *args)
            with client.bind():
                return await function(target, *args)

        return await self._balancer.call(on, relative, pin=pin, size_read=size_read, written=written)

    async def get(self, uri: str) -> bytes:
        """The whole object (from the endpoint chosen for it)."""
        return await self._run(uri, ops.get_async, size_read=len)

    async def get_range(self, uri: str, offset: int, length: int | None = None) -> bytes:
        """``length`` bytes from ``offset`` (to the end when None)."""
        return await self._run(uri, ops.get_range_async, offset, length, size_read=len)

    async def put(self, uri: str, data: Any) -> None:
        """Write one object; later reads of it go to the same endpoint for a while."""
        size = memoryview(data).nbytes
        await self._run(uri, ops.put_bytes_async, data, pin=True, written=size)

    async def list(self, prefix: str, recursive: bool = True) -> builtins.list[str]:
        """URIs of the objects under ``prefix`` (as the chosen endpoint names them)."""
        entries = await self._run(prefix, ops.list_async, recursive)
        return [entry["uri"] for entry in entries]

    async def delete(self, uri: str) -> None:
        """Delete one object."""
        await self._run(uri, ops.delete_async, pin=True)

    def get_endpoint_stats(self) -> builtins.list[dict[str, Any]]:
        """Per endpoint: ``uri``, ``total_requests``, ``bytes_read``, ``bytes_written``,
        ``error_count``, ``active_requests``, ``mean_latency_ms``, ``healthy``."""
        return self._balancer.stats()

    def get_total_stats(self) -> dict[str, Any]:
        """The statistics summed over all endpoints."""
        return self._balancer.total_stats()

    def endpoint_count(self) -> int:
        """The number of endpoints."""
        return len(self._prefixes)

    def strategy(self) -> str:
        """``round_robin`` or ``least_connections``."""
        return self._balancer.strategy

    def __repr__(self) -> str:
        return f"MultiEndpointStore({self._prefixes!r}, strategy={self.strategy()!r})"


def create_multi_endpoint_store(
    uris: Sequence[str], strategy: str | None = None, *, client: Client | None = None
) -> MultiEndpointStore:
    """A store over the endpoint prefixes ``uris`` with ``strategy`` (``round_robin`` by default,
    or ``least_connections``); ``client`` supplies credentials and tuning (default: the
    environment and :func:`s3dlio.configure`)."""
    return MultiEndpointStore(uris, strategy, client=client)


def expand_uri_template(template: str) -> builtins.list[str]:
    """Expand ``{start...end}`` ranges (zero-padded when ``start`` is): ``h{1...3}`` gives three."""
    ranges = _RANGE.findall(template)
    if not ranges:
        return [template]
    pieces = _RANGE.split(template)
    choices = []
    for start, end in ranges:
        width = len(start) if start.startswith("0") and len(start) > 1 else 0
        low, high = int(start), int(end)
        if high < low:
            raise ConfigError(f"range {{{start}...{end}}} in {template!r} runs backwards")
        choices.append([str(n).zfill(width) for n in range(low, high + 1)])
    literals = pieces[::3]
    expanded = []
    for combination in itertools.product(*choices):
        text = literals[0]
        for value, literal in zip(combination, literals[1:], strict=True):
            text += value + literal
        expanded.append(text)
    return expanded


def create_multi_endpoint_store_from_template(
    uri_template: str, strategy: str | None = None, *, client: Client | None = None
) -> MultiEndpointStore:
    """A store over the endpoints that ``uri_template``'s ``{start...end}`` ranges expand to."""
    return MultiEndpointStore(expand_uri_template(uri_template), strategy, client=client)


def create_multi_endpoint_store_from_file(
    file_path: str | os.PathLike[str], strategy: str | None = None, *, client: Client | None = None
) -> MultiEndpointStore:
    """A store over the URIs in ``file_path`` (one per line; ``#`` comments and blanks ignored)."""
    lines = Path(file_path).read_text().splitlines()
    uris = [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]
    return MultiEndpointStore(uris, strategy, client=client)


def create_multi_endpoint_store_from_env(
    strategy: str | None = None, *, client: Client | None = None
) -> MultiEndpointStore:
    """A store over the comma-separated URIs in ``S3_ENDPOINT_URIS``."""
    value = os.environ.get("S3_ENDPOINT_URIS", "")
    uris = [u.strip() for u in value.split(",") if u.strip()]
    if not uris:
        raise ConfigError("S3_ENDPOINT_URIS is not set (a comma-separated list of endpoint URIs)")
    return MultiEndpointStore(uris, strategy, client=client)
