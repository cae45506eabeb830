"""Run coroutines from synchronous code on one background event loop, rebuilt after ``fork``.

Each operation is written once as a coroutine; its synchronous twin (see :func:`sync_twin`)
submits it to this loop and waits (carrying over the caller's :class:`~s3dlio.Client` binding).
The loop thread is a daemon, created on first use and again in a forked child (threads do not
survive ``fork``).

The loop is asyncio's unless ``S3DLIO_EVENT_LOOP`` asks for uvloop (``uvloop``, or ``auto``: uvloop
where installed; it is a dependency on Linux and macOS). obstore resolves every native future from
its own threads through ``call_soon_threadsafe``, and uvloop's wakeup path costs far less CPU
(docs/performance.md); it is opt-in because a forked child hung twice in the suite with it on
(docs/design.md). Only this background loop is chosen here: ``*_async`` calls run on whatever
loop the caller runs them on.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import enum
import functools
import os
import threading
from collections.abc import Callable, Coroutine
from typing import Any, Final, Literal, ParamSpec, TypeAlias, TypeVar

from ._context import carry
from .errors import ConfigError

__all__ = ["NOT_INLINE", "NotInline", "get_loop", "run", "sync_twin"]

P = ParamSpec("P")
R = TypeVar("R")


class _NotInline(enum.Enum):
    NOT_INLINE = "not inline"


NOT_INLINE: Final = _NotInline.NOT_INLINE
"""What an ``inline`` function of :func:`sync_twin` returns for a call it leaves to the loop."""
NotInline: TypeAlias = Literal[_NotInline.NOT_INLINE]

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None

EVENT_LOOP_VARIABLE = "S3DLIO_EVENT_LOOP"


def new_loop() -> asyncio.AbstractEventLoop:
    """A new event loop of the kind ``S3DLIO_EVENT_LOOP`` asks for: ``asyncio`` (the default),
    ``uvloop``, or ``auto`` (uvloop where installed, else asyncio)."""
    choice = os.environ.get(EVENT_LOOP_VARIABLE, "asyncio").strip().lower() or "asyncio"
    if choice not in ("auto", "uvloop", "asyncio"):
        raise ConfigError(f"{EVENT_LOOP_VARIABLE}={choice!r}: expected 'auto', 'uvloop' or 'asyncio'")
    if choice != "asyncio":
        try:
            import uvloop
        except ImportError:
            if choice == "uvloop":
                raise ConfigError(f"{EVENT_LOOP_VARIABLE}=uvloop, but uvloop is not installed") from None
        else:
            return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def _serve(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    loop.run_forever()


def get_loop() -> asyncio.AbstractEventLoop:
    """The background loop, started on first use in this process."""
    global _loop, _thread
    loop = _loop
    if loop is not None:
        return loop
    with _lock:
        if _loop is None:
            loop = new_loop()
            thread = threading.Thread(target=_serve, args=(loop,), name="s3dlio-loop", daemon=True)
            thread.start()
            _loop, _thread = loop, thread
        return _loop


def run(coro: Coroutine[Any, Any, R]) -> R:
    """Run ``coro`` on the background loop and return its result (re-raising its exception).

    If the waiting thread is interrupted (Ctrl-C, an exception raised into it), the coroutine is
    cancelled and this waits until it has finished, so that nothing it started (a part still
    writing into the caller's buffer) outlives the call.
    """
    if threading.current_thread() is _thread:
        coro.close()
        raise RuntimeError("a synchronous s3dlio call was made from s3dlio's own event loop")
    loop = _loop_for(coro)
    coro = carry(coro)  # the caller's Client binding, read in the caller's thread
    outcome: concurrent.futures.Future[R] = concurrent.futures.Future()
    finished = threading.Event()
    tasks: list[asyncio.Task[R]] = []

    def settle(task: asyncio.Task[R]) -> None:
        finished.set()
        if task.cancelled():
            outcome.set_exception(asyncio.CancelledError())
        elif task.exception() is not None:
            outcome.set_exception(task.exception())
        else:
            outcome.set_result(task.result())

    def start() -> None:
        task = loop.create_task(coro)
        tasks.append(task)
        task.add_done_callback(settle)

    loop.call_soon_threadsafe(start)
    try:
        return outcome.result()
    except BaseException:
        if not finished.is_set():

            def cancel() -> None:
                for task in tasks:
                    task.cancel()

            loop.call_soon_threadsafe(cancel)  # runs after start(): callbacks run in order
            finished.wait()
        raise


def submit(coro: Coroutine[Any, Any, R]) -> concurrent.futures.Future[R]:
    """Schedule ``coro`` on the background loop without waiting."""
    loop = _loop_for(coro)
    return asyncio.run_coroutine_threadsafe(carry(coro), loop)


def _loop_for(coro: Coroutine[Any, Any, Any]) -> asyncio.AbstractEventLoop:
    """The background loop; if it cannot be made, ``coro`` is closed (never left unawaited)."""
    try:
        return get_loop()
    except BaseException:
        coro.close()
        raise


def sync_twin(
    async_fn: Callable[P, Coroutine[Any, Any, R]],
    inline: Callable[P, R | NotInline] | None = None,
) -> Callable[P, R]:
    """Make the blocking twin of ``async_fn`` (named without its ``_async`` suffix).

    ``inline``, when given, is tried first in the calling thread: it returns the result of a call
    it can finish there cheaply (a small local file), or :data:`NOT_INLINE` to run ``async_fn``
    on the loop.
    """

    @functools.wraps(async_fn)
    def blocking(*args: P.args, **kwargs: P.kwargs) -> R:
        if inline is not None and threading.current_thread() is not _thread:
            result = inline(*args, **kwargs)
            if result is not NOT_INLINE:
                return result
        return run(async_fn(*args, **kwargs))

    blocking.__name__ = blocking.__qualname__ = async_fn.__name__.removesuffix("_async")
    blocking.__doc__ = (async_fn.__doc__ or "").rstrip() + (
        f"\n\n    Blocking twin of :func:`{async_fn.__name__}`.\n"
    )
    return blocking


def _after_fork_in_child() -> None:
    global _loop, _thread, _lock
    _loop, _thread, _lock = None, None, threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)
