"""Fixtures for the loader tests: small local objects whose content names their index."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # `import stateful` in any import mode

from s3dlio.loader.dataset import Fetcher, PyVecDataset, Request


def item_bytes(index: int, size: int = 64) -> bytes:
    """Content of object ``index``: its number, then filler up to ``size`` bytes."""
    head = f"{index:06d}|".encode()
    return head + bytes([index % 251]) * max(0, size - len(head))


def item_id(data: bytes) -> int:
    return int(data[:6])


def ids(batches: list[list[bytes]]) -> list[list[int]]:
    return [[item_id(item) for item in batch] for batch in batches]


def flat(batches: list[list[bytes]]) -> list[int]:
    return [item_id(item) for batch in batches for item in batch]


def write_objects(root: Path, count: int, size: int = 64, *, sub: str = "data") -> str:
    """Write ``count`` files ``obj_00000.bin`` ... under ``root/sub``; returns the prefix URI."""
    directory = root / sub
    directory.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (directory / f"obj_{i:05d}.bin").write_bytes(item_bytes(i, size))
    return f"file://{directory}/"


@pytest.fixture
def make_prefix(tmp_path: Path) -> Callable[..., str]:
    def make(count: int, size: int = 64, sub: str = "data") -> str:
        return write_objects(tmp_path, count, size, sub=sub)

    return make


class ScriptedDataset(PyVecDataset):
    """In-memory items whose requests run a test-supplied coroutine first.

    ``hook(position_index)`` may delay the request (by yielding to the loop), block it
    forever, or fail it; ``started`` records the indices whose requests began, in order.
    """

    def __init__(
        self,
        items: list[bytes],
        hook: Callable[[int], Coroutine[Any, Any, None]],
        options: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(items, options)
        self._hook = hook
        self.started: list[int] = []

    def requests(self, index: int, fetcher: Fetcher) -> list[Request]:
        item = self[index]

        async def request() -> bytes:
            self.started.append(index)
            await self._hook(index)
            return item

        return [request]


async def block_forever(index: int) -> None:
    await asyncio.get_running_loop().create_future()


async def no_delay(index: int) -> None:
    return None
