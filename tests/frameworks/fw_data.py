"""Test data shared by the framework tests (importable by name from worker processes too).

Each object ``s{i:03d}.npz`` holds ``data`` (float32, ``DATA_SHAPE``, every value ``i``) and
``label`` (int64 scalar ``i``), so a batch tells which objects it came from.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

NUM_OBJECTS = 24
DATA_SHAPE = (4, 8)


def npz_bytes(index: int) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, data=np.full(DATA_SHAPE, index, dtype=np.float32), label=np.int64(index))
    return buf.getvalue()


@dataclass(frozen=True)
class S3Data:
    """A bucket with ``NUM_OBJECTS`` npz objects under ``prefix``."""

    bucket: str
    prefix: str
    uris: list[str]
    env: dict[str, str]


def generate(prefix: str, num: int, template: str, object_type: str, size: int) -> None:
    """Objects made the guide's way: ``s3dlio.put(prefix, num, template, object_type, size)``."""
    import s3dlio

    s3dlio.put(prefix, num, template, object_type=object_type, size=size)
