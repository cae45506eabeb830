"""Ray Data through s3dlio on a local Ray cluster (``ray.init(num_cpus=2)``) against SeaweedFS.

The cluster runs in a separate Ray driver process (see ``tests/ray_driver.py``); each
``scenario_*`` there is reported by one test here.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import ray

import s3dlio
from ray_driver import Scenario, check, run_scenarios, scenarios_in
from s3dlio.ray import S3dlioDatasink, S3dlioDatasource, read_objects

NUM = 12


def _payload(i: int) -> bytes:
    return bytes([i]) * (1000 + 37 * i)


def scenario_read_objects_from_a_prefix_in_parallel_tasks(ctx: Scenario) -> None:
    bucket = ctx.bucket
    dataset = read_objects(f"s3://{bucket}/in/", override_num_blocks=3)
    rows = sorted(dataset.take_all(), key=lambda r: r["uri"])
    assert [r["uri"] for r in rows] == [f"s3://{bucket}/in/o{i:02d}.bin" for i in range(NUM)]
    assert [bytes(r["data"]) for r in rows] == [_payload(i) for i in range(NUM)]
    assert dataset.materialize().num_blocks() == 3  # three read tasks, one block each


def test_read_tasks_split_the_objects() -> None:
    source = S3dlioDatasource([f"file:///x/{i}" for i in range(7)])
    tasks = source.get_read_tasks(3)
    assert [t.metadata.num_rows for t in tasks] == [3, 2, 2]
    assert sorted(f for t in tasks for f in t.metadata.input_files) == sorted(
        f"file:///x/{i}" for i in range(7)
    )
    assert len(S3dlioDatasource(["file:///x/0"]).get_read_tasks(8)) == 1


def scenario_read_byte_ranges(ctx: Scenario) -> None:
    bucket = ctx.bucket
    wanted = [(f"s3://{bucket}/in/o{i:02d}.bin", 10 * i, 50) for i in range(NUM)]
    rows = sorted(read_objects(wanted, override_num_blocks=2).take_all(), key=lambda r: r["uri"])
    assert [(r["offset"], r["length"]) for r in rows] == [(10 * i, 50) for i in range(NUM)]
    assert [bytes(r["data"]) for r in rows] == [_payload(i)[10 * i : 10 * i + 50] for i in range(NUM)]


def scenario_a_missing_object_fails_the_read(ctx: Scenario) -> None:
    bucket = ctx.bucket
    with pytest.raises(Exception, match=r"cannot get s3://.*/in/missing\.bin: no such object"):
        read_objects([f"s3://{bucket}/in/o00.bin", f"s3://{bucket}/in/missing.bin"]).take_all()


def test_bad_input_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="offset"):
        S3dlioDatasource([("s3://b/k", -1, 3)])
    with pytest.raises(TypeError, match="tuple"):
        S3dlioDatasource([("s3://b/k", 1)])  # type: ignore[list-item]


def scenario_datasink_writes_rows_as_objects(ctx: Scenario) -> None:
    bucket = ctx.bucket
    source = read_objects(f"s3://{bucket}/in/", override_num_blocks=2)
    named = source.map(lambda r: {"name": r["uri"].rsplit("/", 1)[1], "data": bytes(r["data"])[::-1]})
    sink = S3dlioDatasink(f"s3://{bucket}/out", name_column="name")
    named.write_datasink(sink)
    for i in range(NUM):
        assert bytes(s3dlio.get(f"s3://{bucket}/out/o{i:02d}.bin")) == _payload(i)[::-1]
    assert len(sink.written) == NUM

    unnamed = S3dlioDatasink(f"s3://{bucket}/anon/")
    ray.data.from_items([{"data": b"a"}, {"data": b"bb"}], override_num_blocks=1).write_datasink(unnamed)
    assert sorted(bytes(s3dlio.get(e["uri"])) for e in s3dlio.list(f"s3://{bucket}/anon/")) == [b"a", b"bb"]
    with pytest.raises(Exception, match="no column 'nope'"):
        ray.data.from_items([{"data": b"a"}]).write_datasink(
            S3dlioDatasink(f"s3://{bucket}/x/", name_column="nope")
        )


@pytest.fixture(scope="module")
def outcomes(s3_server: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A bucket with NUM objects, then every scenario in one Ray driver that sees the server."""
    name = f"ray-{uuid.uuid4().hex[:12]}"
    with pytest.MonkeyPatch.context() as patch:  # the driver process inherits these variables
        for key, value in s3_server.env().items():
            patch.setenv(key, value)
        s3dlio.create_bucket(f"s3://{name}")
        s3dlio.put_many([(f"s3://{name}/in/o{i:02d}.bin", _payload(i)) for i in range(NUM)])
        try:
            return run_scenarios(__file__, tmp_path_factory.mktemp("ray-data"), bucket=name)
        finally:
            s3_server.delete_bucket(name, force=True)


SCENARIOS = scenarios_in(globals())


@pytest.mark.parametrize("name", SCENARIOS)
def test_ray_data(outcomes: dict[str, str], name: str) -> None:
    check(outcomes, name)
