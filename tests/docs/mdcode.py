"""Find the code examples of a Markdown page: fenced blocks and their info strings.

A block fenced with ```` ```python ```` is an example that must run; ```` ```python notest ````
marks one that cannot run here (a real cloud account, a GPU, a cluster). Other languages
(``bash``, ``json``, none) are not Python examples.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # 1-based line of the opening fence
    info: str
    code: str

    @property
    def language(self) -> str:
        return self.info.split()[0] if self.info.split() else ""

    @property
    def runs(self) -> bool:
        """A Python example that must run (not marked ``notest``)."""
        words = self.info.split()
        return bool(words) and words[0] in ("python", "py") and "notest" not in words[1:]


def blocks(path: Path) -> list[Block]:
    """Every fenced code block of ``path`` in order; an unclosed fence is an error."""
    found: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        fence, indent, start = match["fence"], len(match["indent"]), i
        body: list[str] = []
        i += 1
        while i < len(lines):
            closing = _FENCE.match(lines[i])
            if closing and closing["fence"].startswith(fence[0] * len(fence)) and not closing["info"].strip():
                break
            line = lines[i]
            body.append(line[min(indent, len(line) - len(line.lstrip(" "))) :])
            i += 1
        else:
            raise ValueError(f"{path}:{start + 1}: code fence is never closed")
        found.append(Block(path, start + 1, match["info"].strip(), "\n".join(body) + "\n"))
        i += 1
    return found


_BUCKET = re.compile(r"\b(?P<scheme>s3|az|gs)://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?=[/\"'])")


def buckets(code: str) -> dict[str, set[str]]:
    """The buckets a piece of code names, by scheme: ``{"s3": {"my-bucket"}, ...}``.

    Also ``s3dlio://s3/<bucket>`` (fsspec URLs) and ``"s3/<bucket>/..."`` paths handed to an
    fsspec filesystem are not caught; name the bucket in an ``s3://`` or ``s3dlio://`` URL once.
    """
    found: dict[str, set[str]] = {}
    for match in _BUCKET.finditer(code):
        found.setdefault(match["scheme"], set()).add(match["bucket"])
    for match in re.finditer(
        r"s3dlio://(?P<scheme>s3|az|gs)/(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])", code
    ):
        found.setdefault(match["scheme"], set()).add(match["bucket"])
    return found
