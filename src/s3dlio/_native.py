"""Access to obstore's native module, made safe across ``fork``.

obstore's Rust runtime does not survive ``fork``: once any obstore request ran in a process, every
obstore call in a forked child hangs forever, even with new store objects. PyTorch DataLoader
workers fork by default, usually after the parent has listed the dataset.

A shared library's globals (the runtime among them) belong to one loaded copy of it, and the
dynamic loader recognises a library by its file. So a forked child that inherited a used runtime
loads a *private copy* of obstore's extension module from memory: a fresh library with
fresh globals, fully working. The copy lives in an anonymous in-memory file (``memfd_create``):
no temporary directory is needed, so a noexec or full ``/tmp`` does not matter. See
``docs/design.md`` for the alternatives we weighed.
"""

from __future__ import annotations

import glob
import importlib.machinery
import importlib.util
import os
import threading
from types import ModuleType

from ._threads import size_runtime
from .errors import ForkSafetyError

__all__ = ["native"]

_lock = threading.Lock()
_module: ModuleType | None = None
_inherited_runtime = False
_load_error: BaseException | None = None


def native() -> ModuleType:
    """The obstore native module that is safe to use in this process."""
    module = _module
    if module is not None:
        return module
    return _load()


def _load() -> ModuleType:
    global _module, _load_error
    with _lock:
        if _module is not None:
            return _module
        if _load_error is not None:
            raise _fork_error(_load_error)
        size_runtime()  # before the first native call builds obstore's runtime
        import obstore._obstore as original

        if not _inherited_runtime:
            _module = original
            return original
        try:
            _module = _private_copy(original)
        except Exception as exc:  # any loader failure: explain instead of hanging
            _load_error = exc
            raise _fork_error(exc) from exc
        return _module


def _private_copy(original: ModuleType) -> ModuleType:
    source = original.__file__
    if source is None:
        raise ImportError("obstore's native module has no file to copy")
    # An anonymous in-memory file: no temporary directory (which may be noexec or full), nothing
    # to clean up, and a new inode, so the dynamic loader maps a fresh copy of the library.
    fd = os.memfd_create("s3dlio-obstore.so", os.MFD_CLOEXEC)
    try:
        with open(source, "rb") as library:
            size = os.fstat(library.fileno()).st_size
            copied = 0
            while copied < size:
                sent = os.sendfile(fd, library.fileno(), copied, size - copied)
                if sent == 0:
                    raise ImportError(f"{source} ended after {copied} of {size} bytes")
                copied += sent
        path = f"/proc/self/fd/{fd}"
        loader = importlib.machinery.ExtensionFileLoader(original.__name__, path)
        spec = importlib.util.spec_from_file_location(original.__name__, path, loader=loader)
        if spec is None:
            raise ImportError(f"cannot build an import spec for {path}")
        module = importlib.util.module_from_spec(spec)
        loader.exec_module(module)
        return module
    finally:
        os.close(fd)  # the mapping keeps the memory alive


def _fork_error(cause: BaseException) -> ForkSafetyError:
    return ForkSafetyError(
        "this process was forked after the parent used cloud storage, and s3dlio could not load a "
        f"fresh copy of the storage client here ({cause}). Start workers with "
        "multiprocessing_context='forkserver' or 'spawn' instead of fork."
    )


def _runtime_threads_alive() -> bool:
    """True if a Tokio runtime (obstore's, used directly or by us) has threads in this process."""
    for comm in glob.glob(f"/proc/{os.getpid()}/task/*/comm"):
        try:
            with open(comm) as handle:
                if handle.read().startswith("tokio"):
                    return True
        except OSError:
            continue
    return False


def _before_fork() -> None:
    global _fork_taints_child
    _fork_taints_child = _module is not None or _inherited_runtime or _runtime_threads_alive()


def _after_fork_in_child() -> None:
    global _module, _inherited_runtime, _lock, _load_error
    _inherited_runtime = _fork_taints_child
    _module, _load_error, _lock = None, None, threading.Lock()


_fork_taints_child = False
os.register_at_fork(before=_before_fork, after_in_child=_after_fork_in_child)
