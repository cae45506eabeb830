"""A missing extra must fail the suite, never skip it: no test may use ``pytest.importorskip``.

The README's test command installs every extra (``EXTRAS`` in ``scripts/test.sh``), so a framework
that cannot be imported is a broken environment, and a plain ``import`` makes that a failure.
"""

from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
PATTERN = re.compile(r"\bimportorskip\s*\(")


def test_no_test_skips_on_a_missing_import() -> None:
    offenders = [
        f"{path.relative_to(TESTS)}:{lineno}"
        for path in sorted(TESTS.rglob("*.py"))
        if path != Path(__file__).resolve()
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if PATTERN.search(line)
    ]
    assert offenders == [], f"use a plain import so a missing extra fails: {offenders}"


def test_the_scan_finds_an_offender(tmp_path: Path) -> None:
    sample = 'torch = pytest.importorskip("torch")\n'
    assert PATTERN.search(sample)
    assert not PATTERN.search("import torch\n")
