"""Progress bars: on stderr, only on a terminal (a real pseudo-terminal here), never with --quiet."""

from __future__ import annotations

import os
import pty
import subprocess
from pathlib import Path

from cli_helpers import SCRIPT, Runner


def _run_under_pty(*args: str, cwd: Path) -> tuple[int, bytes, bytes]:
    """Run the console script with stderr on a pseudo-terminal; returns (rc, stdout, terminal)."""
    master, slave = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "160"}
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen(
        [str(SCRIPT), *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave, cwd=cwd, env=env
    )
    os.close(slave)
    seen = bytearray()
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    assert proc.stdout is not None
    out = proc.stdout.read()
    proc.stdout.close()
    return proc.wait(timeout=120), out, bytes(seen)


def _source(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    for i in range(5):
        (src / f"f{i}").write_bytes(b"x" * 4096)
    return src


def test_cp_shows_a_progress_bar_on_a_terminal(tmp_path: Path) -> None:
    src = _source(tmp_path)
    rc, out, terminal = _run_under_pty("cp", "-r", str(src), str(tmp_path / "dst"), cwd=tmp_path)
    text = terminal.decode(errors="replace")
    assert rc == 0 and out == b""
    assert "\x1b[" in text  # drawn with terminal control sequences
    assert "━" in text  # the bar
    assert "5/5 objects" in text and "20.0/20.0 KiB" in text  # objects and bytes
    assert "/s" in text  # the rate
    assert len(list((tmp_path / "dst").iterdir())) == 5


def test_gen_progress_counts_objects(tmp_path: Path) -> None:
    rc, _, terminal = _run_under_pty("gen", str(tmp_path / "g"), "-n", "6", "-s", "1KiB", cwd=tmp_path)
    assert rc == 0 and "6/6 objects" in terminal.decode(errors="replace")


def test_quiet_and_non_terminals_get_no_bar(tmp_path: Path, s3dlio_cli: Runner) -> None:
    src = _source(tmp_path)
    rc, _, terminal = _run_under_pty("cp", "-q", "-r", str(src), str(tmp_path / "quiet"), cwd=tmp_path)
    assert rc == 0 and "━" not in terminal.decode(errors="replace") and "objects" not in terminal.decode()
    piped = s3dlio_cli("cp", "-r", str(src), str(tmp_path / "piped"))
    assert piped.err == "copied 5 objects (20.0 KiB)\n"  # one summary line, no bar, no escapes
