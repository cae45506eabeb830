"""Run Ray scenarios in a child process that is the Ray driver, never in pytest's own process.

Once in CI the pytest process died with exit status 1 and no report while a Ray test module
tore down its local cluster (``ray.shutdown()``), taking the whole run with it. Ray's driver can
end its process from native code, so the tests keep Ray out of the pytest process: a module's
scenarios run one after another in ``python ray_driver.py``, which writes every outcome to a file
*before* it shuts Ray down. Each pytest test then reports its own scenario's outcome, with the
child's traceback when it failed. A child that never wrote its outcomes fails every test, with
its output.

A scenario is a module-level function ``scenario_<name>(ctx: Scenario) -> None`` that asserts.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

DRIVER_TIMEOUT_S = 300


@dataclass(frozen=True)
class Scenario:
    """What a scenario gets: its own empty directory, and the bucket its module prepared."""

    tmp: Path
    bucket: str


def scenarios_in(namespace: Mapping[str, object]) -> list[str]:
    """The names of the scenarios defined in a module's namespace, sorted."""
    return sorted(name for name in namespace if name.startswith("scenario_"))


def run_scenarios(module_file: str, workdir: Path, bucket: str = "") -> dict[str, str]:
    """Run every scenario of ``module_file`` in one Ray driver (which inherits this process's
    environment); name -> '' when it passed, else its traceback."""
    outcomes = workdir / "outcomes.json"
    done = subprocess.run(
        [sys.executable, __file__, module_file, str(outcomes), str(workdir), bucket],
        capture_output=True,
        text=True,
        timeout=DRIVER_TIMEOUT_S,
    )
    if not outcomes.exists():
        pytest.fail(
            f"the Ray driver process ended (status {done.returncode}) before reporting:\n"
            f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
        )
    result: dict[str, str] = json.loads(outcomes.read_text())
    return result


def check(outcomes: dict[str, str], name: str) -> None:
    """Fail with the child's traceback when scenario ``name`` failed there."""
    assert name in outcomes, f"the Ray driver did not run {name}"
    if outcomes[name]:
        pytest.fail(f"{name} failed in the Ray driver process:\n{outcomes[name]}", pytrace=False)


def _load(module_file: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location("ray_scenarios", module_file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _main(module_file: str, outcomes_file: str, workdir: str, bucket: str) -> None:
    import ray

    module = _load(module_file)
    passed_on = {k: v for k, v in os.environ.items() if k.startswith(("AWS_", "S3DLIO_", "AZURE_"))}
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": passed_on},
    )
    outcomes: dict[str, str] = {}
    for name in scenarios_in(vars(module)):
        tmp = Path(workdir) / name
        tmp.mkdir()
        try:
            getattr(module, name)(Scenario(tmp=tmp, bucket=bucket))
            outcomes[name] = ""
        except BaseException:
            outcomes[name] = traceback.format_exc()
    partial = Path(outcomes_file + ".part")
    partial.write_text(json.dumps(outcomes))
    partial.rename(outcomes_file)
    ray.shutdown()


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    _main(*sys.argv[1:5])
