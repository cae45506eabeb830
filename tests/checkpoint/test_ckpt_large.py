"""A 1 GiB array streams through the writer and back without a second full copy in memory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ckpt_helpers import file_uri, run_python

GiB = 1024**3

SCRIPT = """
import json, resource, sys
import numpy as np
from s3dlio.checkpoint import create_checkpoint_reader, create_checkpoint_writer

def peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

uri = sys.argv[1] if len(sys.argv) > 1 else {uri!r}
array = np.empty({n}, dtype=np.uint8)
array[::4096] = 7  # touch every page, so the array is resident
array[-1] = 9
before_save = peak()
with create_checkpoint_writer(uri) as writer:
    writer.save_array("big", array)
    writer.save_array("view", array.reshape(-1, 4096)[::2, ::2])  # non-contiguous: 256 MiB
after_save = peak()
del array
reader = create_checkpoint_reader(uri)
loaded = reader.load_array("big")
after_load = peak()
ok = bool(loaded[0] == 7 and loaded[4096] == 7 and loaded[-1] == 9 and loaded.size == {n})
view = reader.load_array("view")
ok = ok and view.shape == ({n} // 8192, 2048) and int(view[1, 0]) == 7 and int(view[0, 1]) == 0
report = {{"before_save": before_save, "after_save": after_save, "after_load": after_load, "ok": ok}}
print(json.dumps(report))
"""


def _check(uri: str) -> dict[str, int]:
    result = run_python(SCRIPT.format(uri=uri, n=GiB), timeout=600)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["ok"]
    print({key: round(value / 1024**2) for key, value in report.items() if key != "ok"}, "MiB")
    return report  # type: ignore[no-any-return]


def test_one_gib_array_on_local_files(tmp_path: Path) -> None:
    report = _check(file_uri(tmp_path))
    # saving adds buffers of a few parts, not a copy of the array (nor of the 256 MiB view)
    assert report["after_save"] - report["before_save"] < 256 * 1024**2, report
    # loading fills a preallocated array: the peak is one array plus the parts in flight (and what
    # malloc keeps of them), far from the two arrays that reading whole and copying would need
    assert report["after_load"] < report["before_save"] + 512 * 1024**2, report


@pytest.mark.slow
def test_one_gib_array_on_s3(s3_env: object, new_s3_bucket: str) -> None:
    report = _check(f"s3://{new_s3_bucket}/big")
    assert report["after_save"] - report["before_save"] < 512 * 1024**2, report
    assert report["after_load"] < report["before_save"] + 512 * 1024**2, report
