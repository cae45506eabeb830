"""The Markdown example finder itself: which blocks run, and which buckets they name."""

from __future__ import annotations

from pathlib import Path

import mdcode
import pytest


def test_blocks_and_markers(tmp_path: Path) -> None:
    page = tmp_path / "p.md"
    page.write_text(
        "text\n```python\nx = 1\n```\n\n```python notest\nboom()\n```\n"
        "```bash\nls\n```\n  ```py\n  y = 2\n  ```\n````python\n```\nz = 3\n````\n"
    )
    found = mdcode.blocks(page)
    assert [(b.line, b.language, b.runs) for b in found] == [
        (2, "python", True),
        (6, "python", False),
        (9, "bash", False),
        (12, "py", True),
        (15, "python", True),
    ]
    assert found[3].code == "y = 2\n"
    assert found[4].code == "```\nz = 3\n"


def test_unclosed_fence_is_an_error(tmp_path: Path) -> None:
    page = tmp_path / "p.md"
    page.write_text("```python\nx = 1\n")
    with pytest.raises(ValueError, match="never closed"):
        mdcode.blocks(page)


def test_buckets_named_by_examples() -> None:
    code = 'get("s3://my-bucket/a")\nfs.cat("s3dlio://s3/other-b/k")\nx = "az://cont/k"\n'
    assert mdcode.buckets(code) == {"s3": {"my-bucket", "other-b"}, "az": {"cont"}}
