"""Shared helpers of the checkpoint tests."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]


def file_uri(path: Path, name: str = "ckpt") -> str:
    return f"file://{path}/{name}"


def run_python(
    code: str, timeout: float = 300, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter with s3dlio importable from the source tree."""
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = str(REPO / "src") + os.pathsep + full_env.get("PYTHONPATH", "")
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
    )


def assert_same_array(got: np.ndarray, want: np.ndarray) -> None:
    """Equal values, dtype (byte order included), shape and, for 2+ dims, memory order."""
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape
    if want.dtype.names:
        assert got.tobytes() == np.ascontiguousarray(want).tobytes()
    else:
        np.testing.assert_array_equal(got, want)
    if want.ndim >= 2 and want.flags.f_contiguous and not want.flags.c_contiguous:
        assert got.flags.f_contiguous
    else:
        assert got.flags.c_contiguous
