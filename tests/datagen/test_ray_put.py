"""s3dlio.ray.put on a local Ray cluster: the same objects, names and bytes as one process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import ray

import s3dlio
import s3dlio.ray


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.mark.parametrize("object_type", ["npz", "random"])
def test_ray_put_equals_single_process(local_ray: None, tmp_path: Path, object_type: str) -> None:
    kw = {"object_type": object_type, "size": 50_000, "seed": 21, "dedup_factor": 2}
    seen: list[tuple[int, int]] = []
    uris = s3dlio.ray.put(
        f"file://{tmp_path}/ray/",
        11,
        "s_{:02d}.bin",
        num_tasks=4,
        progress=lambda n, b: seen.append((n, b)),
        **kw,
    )
    single = s3dlio.put(f"file://{tmp_path}/one/", 11, "s_{:02d}.bin", **kw)
    assert [u.replace("/ray/", "/one/") for u in uris] == single
    assert tree(tmp_path / "ray") == tree(tmp_path / "one")
    assert len(seen) == 4 and seen[-1] == (11, 11 * 50_000)


def test_ray_put_default_tasks_and_seed(local_ray: None, tmp_path: Path) -> None:
    uris = s3dlio.ray.put(f"file://{tmp_path}/", 5, "o_{}", object_type="random", size=4096)
    assert len(uris) == 5 and len({Path(u.removeprefix("file://")).read_bytes() for u in uris}) == 5


def test_ray_put_checks_arguments_before_any_task(local_ray: None, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="object_type"):
        s3dlio.ray.put(f"file://{tmp_path}/", 3, "o_{}", object_type="nope")
    assert list(tmp_path.iterdir()) == []


def test_ray_put_task_failure_fails_the_call(local_ray: None, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"x")
    with pytest.raises(Exception, match="file"):
        s3dlio.ray.put(
            f"file://{blocker}/sub/", 4, "o_{}", object_type="random", size=100, seed=1, num_tasks=2
        )
