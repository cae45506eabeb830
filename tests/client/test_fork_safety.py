"""Fork safety of module state (issue 11 item 17).

* A lock held by another thread at ``fork`` stays locked forever in the child: every module
  lock (config, the store cache, the local I/O pool, direct's warning) is re-created there.
* ``get_config()`` must not iterate the overrides while ``configure()`` changes them.
* ``_native`` loads obstore's private copy from memory (``memfd_create``), so a child works
  where the temporary directory is unusable (noexec, missing), and a child that cannot load
  it gets a clear :class:`ForkSafetyError` instead of a hang.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import s3dlio
from s3dlio import config as config_module
from s3dlio import stores
from s3dlio.stores import direct, local

DEADLINE = 20.0


def _in_child(action: Callable[[], object]) -> tuple[int, str]:
    """Run ``action`` in a forked child; (exit code, error text). A hang fails the test."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(read)
        code, text = 0, ""
        try:
            action()
        except BaseException as exc:
            code, text = 1, f"{type(exc).__name__}: {exc}"
        os.write(write, text.encode())
        os._exit(code)
    os.close(write)
    import select

    ready, _, _ = select.select([read], [], [], DEADLINE)
    if not ready:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        pytest.fail("the forked child hung (a lock inherited in the locked state?)")
    with os.fdopen(read, "rb") as pipe:
        text = pipe.read().decode()
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), text


def _holding(lock_of: Callable[[], Any], action: Callable[[], object]) -> tuple[int, str]:
    """Fork while another thread holds ``lock_of()``; run ``action`` in the child."""
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        with lock_of():
            held.set()
            release.wait()

    thread = threading.Thread(target=holder)
    thread.start()
    held.wait()
    try:
        return _in_child(action)
    finally:
        release.set()
        thread.join()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # fork() with threads running
def test_config_lock_is_recreated_after_fork() -> None:
    assert _holding(lambda: config_module._lock, lambda: s3dlio.configure(max_retries=3)) == (0, "")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_store_cache_lock_is_recreated_after_fork() -> None:
    def open_one() -> None:
        stores.store_for(f"s3://fork-{os.getpid()}/k")

    assert _holding(lambda: stores._default._lock, open_one) == (0, "")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_local_pool_lock_is_recreated_after_fork(tmp_path: Path) -> None:
    def write() -> None:
        s3dlio.put_bytes(f"file://{tmp_path}/child.bin", b"x")

    assert _holding(lambda: local._pool_lock, write) == (0, "")
    assert (tmp_path / "child.bin").read_bytes() == b"x"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_direct_warning_lock_is_recreated_after_fork() -> None:
    def warn() -> None:
        direct._warned = False
        with pytest.warns(s3dlio.DirectIOFallbackWarning):
            direct._warn_fallback("/x", OSError(22, "Invalid argument"))

    assert _holding(lambda: direct._warn_lock, warn) == (0, "")


def test_get_config_is_consistent_while_configure_runs() -> None:
    """Readers snapshot the overrides; they never see a dict being changed under them."""
    errors: list[BaseException] = []
    stop = threading.Event()
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)

    def writer() -> None:
        names = ["max_retries", "connect_timeout", "stall_timeout", "retry_timeout", "max_concurrency"]
        i = 0
        while not stop.is_set():
            i += 1
            try:
                s3dlio.configure(**{names[i % len(names)]: 1 + i % 7})
                if i % 11 == 0:
                    s3dlio.reset_config()
            except BaseException as exc:
                errors.append(exc)
                return

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        for _ in range(20000):
            s3dlio.get_config()
    except RuntimeError as exc:  # "dictionary changed size during iteration"
        errors.append(exc)
    finally:
        stop.set()
        thread.join()
        sys.setswitchinterval(old)
        s3dlio.reset_config()
    assert errors == []


def test_private_native_copy_needs_no_temporary_directory(s3_env: Any, new_s3_bucket: str) -> None:
    """A child whose temporary directory is unusable still loads its own obstore copy."""
    import tempfile

    uri = f"s3://{new_s3_bucket}/k"
    s3dlio.put_bytes(uri, b"parent")  # the parent's runtime is running now

    def child() -> None:
        tempfile.tempdir = "/nonexistent-s3dlio-tmp"
        os.environ["TMPDIR"] = "/nonexistent-s3dlio-tmp"
        assert s3dlio.get(uri) == b"parent"

    assert _in_child(child) == (0, "")


def test_fork_safety_error_when_no_private_copy_loads(s3_env: Any, new_s3_bucket: str) -> None:
    """When the private copy cannot be loaded the child gets ForkSafetyError naming the fix."""
    uri = f"s3://{new_s3_bucket}/k"
    s3dlio.put_bytes(uri, b"parent")

    def child() -> None:
        import obstore._obstore as original

        original.__file__ = "/nonexistent/_obstore.so"  # the library file is gone
        try:
            s3dlio.get(uri)
        except s3dlio.ForkSafetyError as exc:
            assert "forkserver" in str(exc) and "spawn" in str(exc)
            with pytest.raises(s3dlio.ForkSafetyError):  # and it stays an error, never a hang
                s3dlio.get(uri)
            return
        raise AssertionError("no ForkSafetyError")

    assert _in_child(child) == (0, "")
