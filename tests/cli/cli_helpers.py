"""Helpers of the CLI tests: run the real ``s3dlio`` console script in a subprocess."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
