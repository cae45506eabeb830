"""The ``s3dlio_cli`` fixture: runs the real console script (see ``cli_helpers``)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from cli_helpers import SCRIPT, Result, Runner


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
