"""Typed API (issue 12 item 5): ``configure()``/``Client()`` take typed keywords, and a small
program using the public API passes ``mypy --strict``."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import typing
from pathlib import Path

import pytest

import s3dlio
from s3dlio.config import Config, Settings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "typed_client.py"


def _mypy(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", *map(str, paths)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )


def test_settings_name_every_config_field() -> None:
    assert set(typing.get_type_hints(Settings)) == {f.name for f in dataclasses.fields(Config)}


def test_typed_example_passes_mypy_strict_and_runs(tmp_path: Path) -> None:
    result = _mypy(EXAMPLE)
    assert result.returncode == 0, result.stdout + result.stderr
    namespace: dict[str, object] = {}
    exec(compile(EXAMPLE.read_text(), str(EXAMPLE), "exec"), namespace)
    main = namespace["main"]
    assert callable(main) and main(str(tmp_path)) == 5 + 3 + 5 + 6 + 11


BAD_LINES = [
    "s3dlio.configure(part_size='8M')",
    "s3dlio.configure(no_such_setting=1)",
    "s3dlio.Client(stall_timeout='slow')",
    "data: str = s3dlio.Client().exists('file:///x')",
]


def test_mypy_rejects_mistyped_calls(tmp_path: Path) -> None:
    """One mypy run over a file with one mistake per line: every line must be reported."""
    program = tmp_path / "bad.py"
    program.write_text("import s3dlio\n" + "".join(f"{line}\n" for line in BAD_LINES))
    result = _mypy(program)
    flagged = {int(line.split(":")[1]) for line in result.stdout.splitlines() if ": error:" in line}
    assert flagged == set(range(2, 2 + len(BAD_LINES))), result.stdout


def test_runtime_rejects_what_mypy_would() -> None:
    with pytest.raises(s3dlio.ConfigError):
        s3dlio.configure(part_size="8M")  # type: ignore[arg-type]
