"""s3dlio.ray.put on a local Ray cluster: the same objects, names and bytes as one process.

The scenarios run in a separate Ray driver process (see ``tests/ray_driver.py``); each test
reports one scenario.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import s3dlio
import s3dlio.ray
from ray_driver import Scenario, check, run_scenarios, scenarios_in


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def scenario_put_equals_single_process(ctx: Scenario) -> None:
    for object_type in ("npz", "random"):
        root = ctx.tmp / object_type
        kw = {"object_type": object_type, "size": 50_000, "seed": 21, "dedup_factor": 2}
        seen: list[tuple[int, int]] = []
        uris = s3dlio.ray.put(
            f"file://{root}/ray/",
            11,
            "s_{:02d}.bin",
            num_tasks=4,
            progress=lambda n, b, log=seen: log.append((n, b)),
            **kw,
        )
        single = s3dlio.put(f"file://{root}/one/", 11, "s_{:02d}.bin", **kw)
        assert [u.replace("/ray/", "/one/") for u in uris] == single
        assert tree(root / "ray") == tree(root / "one")
        assert len(seen) == 4 and seen[-1] == (11, 11 * 50_000)


def scenario_default_tasks_and_seed(ctx: Scenario) -> None:
    uris = s3dlio.ray.put(f"file://{ctx.tmp}/", 5, "o_{}", object_type="random", size=4096)
    assert len(uris) == 5 and len({Path(u.removeprefix("file://")).read_bytes() for u in uris}) == 5


def scenario_checks_arguments_before_any_task(ctx: Scenario) -> None:
    with pytest.raises(ValueError, match="object_type"):
        s3dlio.ray.put(f"file://{ctx.tmp}/", 3, "o_{}", object_type="nope")
    assert list(ctx.tmp.iterdir()) == []


def scenario_task_failure_fails_the_call(ctx: Scenario) -> None:
    blocker = ctx.tmp / "file"
    blocker.write_bytes(b"x")
    with pytest.raises(Exception, match="file"):
        s3dlio.ray.put(
            f"file://{blocker}/sub/", 4, "o_{}", object_type="random", size=100, seed=1, num_tasks=2
        )


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return run_scenarios(__file__, tmp_path_factory.mktemp("ray-put"))


SCENARIOS = scenarios_in(globals())


@pytest.mark.parametrize("name", SCENARIOS)
def test_ray_put(outcomes: dict[str, str], name: str) -> None:
    check(outcomes, name)
