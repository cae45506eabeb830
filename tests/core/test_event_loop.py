"""The background loop behind the blocking API: asyncio by default, uvloop chosen by S3DLIO_EVENT_LOOP.

Each case runs in a fresh interpreter, because the loop is made once per process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = """
import asyncio, sys
import s3dlio
from s3dlio import _sync

async def loop_module():
    return type(asyncio.get_running_loop()).__module__

data = s3dlio.get(sys.argv[1])  # a real blocking call, then the loop it ran on
print(len(data), _sync.run(loop_module()))
"""


def _probe(tmp_path: Path, setting: str | None, *prelude: str) -> subprocess.CompletedProcess[str]:
    target = tmp_path / "object.bin"
    target.write_bytes(b"x" * 1000)
    env = {k: v for k, v in os.environ.items() if k != "S3DLIO_EVENT_LOOP"}
    if setting is not None:
        env["S3DLIO_EVENT_LOOP"] = setting
    code = "\n".join(prelude) + PROBE
    return subprocess.run(
        [sys.executable, "-W", "error::RuntimeWarning", "-c", code, target.as_uri()],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


@pytest.mark.parametrize("setting", ["auto", "uvloop", " UVLoop "])
def test_blocking_calls_run_on_uvloop_when_asked(tmp_path: Path, setting: str | None) -> None:
    done = _probe(tmp_path, setting)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1000", "uvloop"]


@pytest.mark.parametrize("setting", [None, "asyncio", ""])
def test_asyncio_is_the_default(tmp_path: Path, setting: str | None) -> None:
    done = _probe(tmp_path, setting)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1000", "asyncio.unix_events"]


def test_an_unknown_loop_is_a_config_error_naming_the_variable(tmp_path: Path) -> None:
    done = _probe(tmp_path, "trio")
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("s3dlio.errors.ConfigError: S3DLIO_EVENT_LOOP='trio'")
    assert "never awaited" not in done.stderr  # the refused call's coroutine was closed


def test_asking_for_a_missing_uvloop_is_a_config_error(tmp_path: Path) -> None:
    hide_uvloop = "import sys; sys.modules['uvloop'] = None"  # import uvloop now fails
    done = _probe(tmp_path, "uvloop", hide_uvloop)
    assert done.returncode == 1
    assert "S3DLIO_EVENT_LOOP=uvloop, but uvloop is not installed" in done.stderr
    fallback = _probe(tmp_path, "auto", hide_uvloop)  # auto falls back to asyncio
    assert fallback.returncode == 0, fallback.stderr
    assert fallback.stdout.split() == ["1000", "asyncio.unix_events"]
