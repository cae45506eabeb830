"""Which :class:`~s3dlio.Client` the running operation belongs to (a context variable).

A client's methods run the module-level coroutines with the client *bound*; the one place that
turns a URI into a store (:func:`s3dlio.stores.open_store`) reads it. With nothing bound, the
process default applies: the environment plus :func:`s3dlio.configure`, with a shared store
cache. Coroutines that the blocking twins run on the background loop carry the caller's
binding over (:func:`carry`), since that loop's tasks do not inherit the caller's context.
"""

from __future__ import annotations

import contextlib
from collections.abc import Coroutine, Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from .client import Client

__all__ = ["bound", "carry", "current"]

R = TypeVar("R")

_client: ContextVar[Client | None] = ContextVar("s3dlio_client", default=None)


def current() -> Client | None:
    """The client bound to the running operation, or None for the process default."""
    return _client.get()


@contextlib.contextmanager
def bound(client: Client | None) -> Iterator[None]:
    """Bind ``client`` for the duration of the block (in this thread or task)."""
    token = _client.set(client)
    try:
        yield
    finally:
        _client.reset(token)


async def _run_bound(client: Client, coro: Coroutine[Any, Any, R]) -> R:
    with bound(client):
        return await coro


def carry(coro: Coroutine[Any, Any, R]) -> Coroutine[Any, Any, R]:
    """``coro``, wrapped to run with the caller's client bound (when one is)."""
    client = _client.get()
    return coro if client is None else _run_bound(client, coro)
