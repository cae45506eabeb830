"""The README's first command runs ``examples/demo.py``: it must work, and say what it did."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo.py"


def test_demo_runs_and_reports_every_step(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(DEMO), str(tmp_path)], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith("generated 256 npz objects (268 MB)") for line in lines), lines
    read = next(line for line in lines if line.startswith("get_many read 256 objects"))
    assert float(read.split()[-2]) > 0  # MB/s of what was really read
    assert any("first object: arrays ['data', 'label'], data uint8" in line for line in lines), lines
    assert any(line.startswith("async loader: 8 shuffled batches of 32") for line in lines), lines
    assert lines[-1] == "checkpoint: saved and verified 'weights' (1,000,000 float32)"
