"""obstore's Tokio runtime gets the original's per-process thread budget (tests in fresh processes).

Each case starts an interpreter pinned to two CPUs, makes one S3 request, and reports what
``TOKIO_WORKER_THREADS`` was when the runtime started and how many Tokio workers the process has.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from typing import Any

import pytest

import s3dlio
from s3dlio import _threads

PROBE = """
import glob, json, os, sys, warnings
os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:2])
import s3dlio
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    for call in sys.argv[2:]:
        s3dlio.configure_tokio_threads(int(call))
    s3dlio.get(sys.argv[1])
names = [open(path).read().strip() for path in glob.glob(f"/proc/{os.getpid()}/task/*/comm")]
print(json.dumps({
    "variable": os.environ.get("TOKIO_WORKER_THREADS"),
    "workers": names.count("tokio-rt-worker"),
    "warnings": [str(w.message) for w in caught],
}))
"""

WORLD = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "WORLD_SIZE")
OURS = ("TOKIO_WORKER_THREADS", "S3DLIO_RT_THREADS", "S3DLIO_RT_THREADS_UNSAFE", *WORLD)


@pytest.fixture(scope="module")
def uri(s3_server: Any) -> str:
    with pytest.MonkeyPatch.context() as patch:
        for key, value in s3_server.env().items():
            patch.setenv(key, value)
        bucket = f"threads-{uuid.uuid4().hex[:8]}"
        s3dlio.create_bucket(f"s3://{bucket}")
        s3dlio.put(f"s3://{bucket}/", 1, template="one", size=100, seed=1)
    return f"s3://{bucket}/one"


def _run_probe(s3_server: Any, uri: str, calls: tuple[int, ...], env: dict[str, str]) -> dict[str, Any]:
    base = {k: v for k, v in os.environ.items() if k not in OURS}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, uri, *map(str, calls)],
        env={**base, **s3_server.env(), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _probe(s3_server: Any, uri: str, *calls: int, **env: str) -> dict[str, Any]:
    """The probe's report, run twice: Tokio's blocking threads share the workers' name and
    start on demand, so the lesser count of the two is the one without a stray blocking thread."""
    first, second = (_run_probe(s3_server, uri, calls, env) for _ in range(2))
    assert first["variable"] == second["variable"]
    return min(first, second, key=lambda seen: int(seen["workers"]))


@pytest.fixture(scope="module")
def one_worker(s3_server: Any, uri: str) -> int:
    """Tokio threads after one GET on a runtime of one worker (its blocking threads come on top)."""
    return int(_probe(s3_server, uri, TOKIO_WORKER_THREADS="1")["workers"])


def test_one_rank_keeps_tokios_default(s3_server: Any, uri: str, one_worker: int) -> None:
    seen = _probe(s3_server, uri)
    assert seen["variable"] is None
    assert seen["workers"] == one_worker + 1  # one worker per CPU of the two


def test_two_ranks_on_two_cpus_get_one_worker_each(s3_server: Any, uri: str, one_worker: int) -> None:
    for name in WORLD:
        seen = _probe(s3_server, uri, **{name: "2"})
        assert (seen["variable"], seen["workers"]) == ("1", one_worker), name


def test_configure_tokio_threads_sizes_the_runtime(s3_server: Any, uri: str, one_worker: int) -> None:
    assert _probe(s3_server, uri, 3)["workers"] == one_worker + 2
    assert _probe(s3_server, uri, 1)["workers"] == one_worker
    assert _probe(s3_server, uri, 0, WORLD_SIZE="2")["variable"] == "1"  # 0: the budget


def test_rt_threads_is_honoured(s3_server: Any, uri: str, one_worker: int) -> None:
    seen = _probe(s3_server, uri, S3DLIO_RT_THREADS="3")
    assert (seen["variable"], seen["workers"], seen["warnings"]) == ("3", one_worker + 2, [])
    seen = _probe(s3_server, uri, S3DLIO_RT_THREADS="1")  # budget 2: 1 is not below 2/4
    assert (seen["variable"], seen["warnings"]) == ("1", [])
    explicit = _probe(s3_server, uri, 3, S3DLIO_RT_THREADS="1")  # configure_tokio_threads wins
    assert explicit["variable"] == "3"


def test_the_users_tokio_variable_wins(s3_server: Any, uri: str, one_worker: int) -> None:
    seen = _probe(s3_server, uri, 1, TOKIO_WORKER_THREADS="3", WORLD_SIZE="2")
    assert (seen["variable"], seen["workers"]) == ("3", one_worker + 2)


def test_rt_threads_below_a_quarter_of_the_budget_is_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in OURS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(_threads, "process_cpus", lambda: 16)
    monkeypatch.setattr(_threads, "_requested", None)
    monkeypatch.setenv("S3DLIO_RT_THREADS", "1")  # DLIO's value before it sizes write_threads
    with pytest.warns(RuntimeWarning, match="S3DLIO_RT_THREADS=1 is below a quarter"):
        assert _threads.chosen_threads() == 16
    monkeypatch.setenv("S3DLIO_RT_THREADS", "4")  # a quarter: kept
    assert _threads.chosen_threads() == 4
    monkeypatch.setenv("S3DLIO_RT_THREADS", "1")
    monkeypatch.setenv("S3DLIO_RT_THREADS_UNSAFE", "1")
    assert _threads.chosen_threads() == 1
    monkeypatch.setenv("WORLD_SIZE", "4")  # budget 4: 1 is a quarter, kept
    monkeypatch.delenv("S3DLIO_RT_THREADS_UNSAFE")
    assert _threads.chosen_threads() == 1


@pytest.mark.parametrize("value", ["0", "-2", "many"])
def test_a_bad_rt_threads_is_a_config_error(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setattr(_threads, "_requested", None)
    monkeypatch.setenv("S3DLIO_RT_THREADS", value)
    with pytest.raises(s3dlio.ConfigError, match="S3DLIO_RT_THREADS must be a positive integer"):
        _threads.chosen_threads()
