"""Every ```` ```python ```` example in ``docs/`` runs, against the local test servers.

One test per page: its examples run in order in one namespace (a page reads like a session),
in a fresh temporary working directory, with the S3 server's variables set (and Azurite's or
fake-gcs-server's when the page uses ``az://`` or ``gs://``). Every bucket the examples name
(``s3://name/...``, ``s3dlio://s3/name/...``) is created empty before the page runs and deleted
after it. Blocks marked ```` ```python notest ```` are skipped by design (see docs/testing.md).
A page that starts Ray runs in a child process instead, as the Ray tests do (``tests/ray_driver.py``):
Ray's driver must never be pytest's own process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import mdcode
import pytest

import s3dlio

DOCS = Path(__file__).resolve().parents[2] / "docs"
PAGES = sorted(p for p in DOCS.rglob("*.md") if any(b.runs for b in mdcode.blocks(p)))

pytestmark = pytest.mark.filterwarnings("ignore:os.fork\\(\\) was called:RuntimeWarning")


def test_pages_are_found() -> None:
    assert DOCS / "integrations" / "pytorch.md" in PAGES


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(DOCS)) for p in PAGES])
def test_examples_of_page_run(
    page: Path, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    examples = [b for b in mdcode.blocks(page) if b.runs]
    named = mdcode.buckets("".join(b.code for b in examples))
    cleanups: list[Any] = []
    env_fixture = {"s3": "s3_env", "az": "azure_env", "gs": "gcs_env"}
    request.getfixturevalue("s3_env")  # the default store of every page
    for scheme, names in named.items():
        server = request.getfixturevalue(env_fixture[scheme])
        for name in sorted(names):
            _create(scheme, server, name)
            cleanups.append((scheme, server, name))
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {"__name__": "__docs__"}
    try:
        if any("import ray" in b.code for b in examples):
            _run_in_child(page, examples, tmp_path)
            return
        for block in examples:
            code = compile(block.code, f"{block.path}:{block.line}", "exec")
            try:
                exec(code, namespace)
            except BaseException as exc:
                raise AssertionError(
                    f"the example at {block.path.relative_to(DOCS.parent)}:{block.line} failed: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
    finally:
        s3dlio.reset_config()
        for scheme, server, name in cleanups:
            _delete(scheme, server, name)


def _run_in_child(page: Path, examples: list[mdcode.Block], workdir: Path) -> None:
    script = workdir / "page.py"
    script.write_text("\n".join(b.code for b in examples))
    done = subprocess.run(
        [sys.executable, str(script)], cwd=workdir, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, (
        f"the examples of {page.relative_to(DOCS.parent)} failed (status {done.returncode}):\n"
        f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )


def _create(scheme: str, server: Any, name: str) -> None:
    if scheme == "s3":
        server.create_bucket(name)
    elif scheme == "az":
        server.create_container(name)
    else:
        server.create_bucket(name)


def _delete(scheme: str, server: Any, name: str) -> None:
    try:
        if scheme == "az":
            server.delete_container(name)
        else:
            server.delete_bucket(name, force=True)
    except Exception as exc:  # pragma: no cover - a cleanup problem must not hide the result
        print(f"could not delete {scheme}://{name}: {exc}", file=os.sys.stderr)  # type: ignore[attr-defined]
