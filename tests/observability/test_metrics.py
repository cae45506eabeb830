"""The metrics middleware: counts per operation and backend, once per request, errors included."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import s3dlio
from s3dlio import metrics


def _counts(backend: str = "file") -> dict[str, tuple[int, int, int, int]]:
    """op -> (requests, objects, bytes, errors)."""
    return {
        op: (s["requests"], s["objects"], s["bytes"], s["errors"])
        for op, s in metrics.snapshot().get(backend, {}).items()
    }


def test_each_request_counted_once_with_bytes_and_errors(tmp_path: Path) -> None:
    metrics.reset()
    base = f"file://{tmp_path}"
    s3dlio.put_bytes(f"{base}/a", b"x" * 100)
    s3dlio.put_bytes(f"{base}/b", b"y" * 50)
    assert s3dlio.get(f"{base}/a") == b"x" * 100
    assert s3dlio.stat(f"{base}/b")["size"] == 50
    assert len(s3dlio.list(base)) == 2
    with pytest.raises(FileNotFoundError):
        s3dlio.get(f"{base}/missing")
    s3dlio.delete(f"{base}/a")
    with s3dlio.open_writer(f"{base}/streamed") as writer:
        writer.write(b"1234")
        writer.write(b"5678")
    assert _counts() == {
        "PUT": (3, 3, 158, 0),
        "GET": (2, 2, 100, 1),
        "STAT": (1, 1, 0, 0),
        "LIST": (1, 2, 0, 0),
        "DELETE": (1, 1, 0, 0),
    }
    stat = metrics.snapshot()["file"]["GET"]
    assert sum(stat["histogram"]["counts"]) == 2 and stat["seconds"] > 0
    assert stat["latency_s"]["p50"] is not None and stat["latency_s"]["p50"] <= stat["latency_s"]["p99"]


def test_a_primitive_inside_another_is_not_counted_twice(tmp_path: Path) -> None:
    """A large read is one GET: the ranges its read handle fetches are part of it."""
    size = 12 << 20
    data = np.random.default_rng(0).integers(0, 256, size, dtype=np.uint8).tobytes()
    s3dlio.configure(part_size=5 << 20, range_get_threshold=5 << 20)
    try:
        s3dlio.put_bytes(f"file://{tmp_path}/obj", data)
        metrics.reset()
        assert s3dlio.get(f"file://{tmp_path}/obj") == data  # three ranges of one open file
    finally:
        s3dlio.reset_config()
    assert _counts() == {"GET": (1, 1, size, 0)}


def test_retries_and_sinks(tmp_path: Path) -> None:
    metrics.reset()
    seen: list[tuple[str, str, int, int, bool]] = []

    def sink(backend: str, op: str, objects: int, nbytes: int, seconds: float, error: object) -> None:
        seen.append((backend, op, objects, nbytes, error is not None))

    metrics.add_sink(sink)
    try:
        s3dlio.put_bytes(f"file://{tmp_path}/s", b"abc")
        with pytest.raises(FileNotFoundError):
            s3dlio.stat(f"file://{tmp_path}/nope")
    finally:
        metrics.remove_sink(sink)
    s3dlio.get(f"file://{tmp_path}/s")  # after removal: not seen
    assert seen == [("file", "PUT", 1, 3, False), ("file", "STAT", 1, 0, True)]
    metrics.record_retry("s3", "GET")
    assert metrics.snapshot()["s3"]["GET"]["retries"] == 1


def test_opentelemetry_export(tmp_path: Path) -> None:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    sink = metrics.enable_opentelemetry(provider.get_meter("s3dlio-test"))
    try:
        s3dlio.put_bytes(f"file://{tmp_path}/o", b"z" * 10)
        s3dlio.get(f"file://{tmp_path}/o")
    finally:
        metrics.remove_sink(sink)
    data = reader.get_metrics_data()
    found: dict[str, dict[tuple[str, str], float]] = {}
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    attrs = (str(point.attributes["backend"]), str(point.attributes["op"]))
                    value = getattr(point, "value", None)
                    found.setdefault(metric.name, {})[attrs] = value if value is not None else point.count
    assert found["s3dlio.requests"] == {("file", "PUT"): 1, ("file", "GET"): 1}
    assert found["s3dlio.bytes"] == {("file", "PUT"): 10, ("file", "GET"): 10}
    assert found["s3dlio.duration"] == {("file", "PUT"): 1, ("file", "GET"): 1}


def test_small_local_files_of_put_many_count_every_object_and_byte(tmp_path: Path) -> None:
    """put_many writes small local files several per job: one PUT request per job, and every
    object and byte counted."""
    metrics.reset()
    items = [(f"file://{tmp_path}/d{i % 3}/o{i}", bytes([i]) * (1000 + i)) for i in range(200)]
    s3dlio.put_many(items)
    requests, objects, nbytes, errors = _counts()["PUT"]
    assert (objects, nbytes, errors) == (200, sum(len(d) for _, d in items), 0)
    assert 1 <= requests < 200
    names = sorted(p.name for p in tmp_path.rglob("*"))
    assert names == sorted(["d0", "d1", "d2"] + [f"o{i}" for i in range(200)])
