"""Run the real ``s3dlio`` console script in a subprocess (no in-process shortcuts)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

SCRIPT = Path(sys.executable).parent / "s3dlio"


@dataclass
class Result:
    """What one run of the console script gave."""

    rc: int
    out: str
    err: str
    args: tuple[str, ...]

    def json(self) -> list[dict[str, Any]]:
        """stdout as JSON lines (every line must parse)."""
        return [json.loads(line) for line in self.out.splitlines()]

    def __str__(self) -> str:
        command = " ".join(self.args)
        return f"s3dlio {command} -> {self.rc}\nstdout: {self.out[-2000:]}\nstderr: {self.err[-2000:]}"


Runner = Callable[..., Result]


@pytest.fixture
def s3dlio_cli(tmp_path: Path) -> Runner:
    """``s3dlio_cli(*args, rc=0, stdin=None)`` runs the console script and checks its exit code."""
    assert SCRIPT.exists(), f"{SCRIPT} is missing: install the package (pip install -e '.[cli]')"

    def run(
        *args: str, rc: int | None = 0, stdin: str | None = None, env: dict[str, str] | None = None
    ) -> Result:
        proc = subprocess.run(
            [str(SCRIPT), *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=180,
            cwd=tmp_path,
            env={**os.environ, **(env or {})},
        )
        result = Result(proc.returncode, proc.stdout, proc.stderr, args)
        if rc is not None:
            assert proc.returncode == rc, str(result)
        return result

    return run
