"""Many short processes that use s3dlio and exit: every one exits 0, promptly.

obstore's Tokio threads can resolve futures and drop Python buffers while the interpreter
finalizes, which aborts the process (``Fatal Python error: Aborted``, exit 134), seen in 3 of 16
runs of a put_many of 300 x 1 MiB. s3dlio quiesces from ``atexit`` (see ``transfer.quiesce``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor

import pytest

SCRIPT = textwrap.dedent(
    """
    import sys, time
    import s3dlio
    prefix, count, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    payload = bytes(size)
    s3dlio.put_many([(f"{prefix}o{i}", payload) for i in range(count)], max_in_flight=32)
    pairs = s3dlio.get_many([f"{prefix}o{i}" for i in range(count)], max_in_flight=64)
    assert len(pairs) == count and all(len(d) == size for _, d in pairs)
    assert len(s3dlio.list(prefix)) == count
    print(time.monotonic(), flush=True)
    """
)


def _run(prefix: str, count: int, size: int) -> tuple[int, float, str]:
    import time

    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, prefix, str(count), str(size)],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ.copy(),
    )
    ended = time.monotonic()
    last_call = float(proc.stdout.strip().splitlines()[-1]) if proc.stdout.strip() else ended
    return proc.returncode, ended - last_call, proc.stderr[-2000:]


@pytest.mark.parametrize("backend", ["s3", "az"])
def test_short_processes_exit_cleanly(request: pytest.FixtureRequest, backend: str) -> None:
    if backend == "s3":
        request.getfixturevalue("s3_env")
        root = f"s3://{request.getfixturevalue('new_s3_bucket')}/"
    else:
        request.getfixturevalue("azure_env")
        root = f"az://{request.getfixturevalue('new_azure_container')}/"
    runs = 20  # x2 backends = 40 processes
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda i: _run(f"{root}p{i}/", 120, 256 * 1024), range(runs)))
    failures = [(rc, err) for rc, _, err in results if rc != 0]
    assert not failures, f"{len(failures)} of {runs} processes failed: {failures[:2]}"
    slow = [round(t, 2) for _, t, _ in results if t > 2.0]
    assert not slow, f"processes took {slow} s to exit after their last call"
