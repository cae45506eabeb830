"""Adaptive tuning: presets for ``max_concurrency`` and ``part_size`` by workload.

Enable it with ``opts={"adaptive": {"mode": "enabled", "workload_type": ...}}``.

================  ==========================  =================  ============================
workload_type     meant for                   max_concurrency    part_size
================  ==========================  =================  ============================
``"small"``       objects under 1 MiB         64                 8 MiB (rarely used)
``"medium"``      objects of 1-64 MiB         16                 8 MiB
``"large"``       objects over 64 MiB         8 ranges; 4 when   16 MiB; 32 MiB when the
                                              the median object  median object is 1 GiB
                                              is 1 GiB or more   or more
``"batch"``       many objects, throughput    128                8 MiB
                  over latency
``"auto"``        decide from the median object size: under 1 MiB -> small,
                  up to 64 MiB -> medium, above -> large
================  ==========================  =================  ============================

``max_concurrency`` counts GET requests (whole objects or ranges) in flight. The large presets
keep about 128 MiB in flight: measured here (``bench/bench_adaptive.py``), more bytes in flight
stop the reuse of freed buffers and the extra page faults cost more than the parallelism gains.

**Explicit options win.** A preset only fills settings the caller did not pass: with
``{"max_concurrency": 4, "adaptive": {...}}`` the loader uses 4 requests whatever the
preset says, and the preset still picks ``part_size`` unless that was given too.

For ``"auto"`` the object sizes come from the listing (prefix datasets keep them). A
dataset built from a list of URIs has no sizes; the loader then reads the size of up to
:data:`SAMPLE_SIZE` objects, spread over the dataset, before its first epoch. In-memory
datasets know their sizes.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from .options import LoaderOptions

__all__ = ["PRESETS", "SAMPLE_SIZE", "Preset", "classify", "preset_for", "tune"]

MiB = 1024 * 1024
GiB = 1024 * MiB
SMALL_LIMIT = 1 * MiB
MEDIUM_LIMIT = 64 * MiB
SAMPLE_SIZE = 8


@dataclass(frozen=True, slots=True)
class Preset:
    max_concurrency: int
    part_size: int


PRESETS: dict[str, Preset] = {
    "small": Preset(max_concurrency=64, part_size=8 * MiB),
    "medium": Preset(max_concurrency=16, part_size=8 * MiB),
    "large": Preset(max_concurrency=8, part_size=16 * MiB),
    "batch": Preset(max_concurrency=128, part_size=8 * MiB),
}


def classify(sizes: Sequence[int]) -> str:
    """The workload type for these object sizes (by their median)."""
    if not sizes:
        return "medium"
    median = statistics.median_low(sizes)
    if median < SMALL_LIMIT:
        return "small"
    if median <= MEDIUM_LIMIT:
        return "medium"
    return "large"


def preset_for(workload_type: str, sizes: Sequence[int] = ()) -> tuple[str, Preset]:
    """``(resolved workload type, preset)``; ``"auto"`` is resolved from ``sizes``."""
    kind = classify(sizes) if workload_type == "auto" else workload_type
    preset = PRESETS[kind]
    if kind == "large" and sizes and statistics.median_low(sizes) >= GiB:
        # Keep ~128 MiB in flight: more bytes in flight stop buffer reuse and cost page faults.
        preset = Preset(max_concurrency=4, part_size=32 * MiB)
    return kind, preset


def tune(options: LoaderOptions, sizes: Sequence[int] = ()) -> tuple[LoaderOptions, str | None]:
    """Apply the adaptive preset (if enabled) to the settings the caller did not set.

    Returns the effective options and the workload type used (None when disabled).
    """
    adaptive = options.adaptive
    if adaptive is None or not adaptive.enabled:
        return options, None
    kind, preset = preset_for(adaptive.workload_type, sizes)
    return options.with_tuning(max_concurrency=preset.max_concurrency, part_size=preset.part_size), kind
