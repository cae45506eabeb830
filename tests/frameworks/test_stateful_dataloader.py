"""Exact mid-epoch resume with torchdata's StatefulDataLoader: 2 workers, a new process, DDP.

Each case saves ``state_dict()`` at several midpoints and resumes every one in a process that
did not exist when the state was taken (see ``fw_stateful``).
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import fw_stateful
import pytest
import torch.multiprocessing as torch_mp
from fw_data import NUM_OBJECTS, S3Data
from torch.utils.data import DataLoader

from s3dlio.frameworks.torch import S3IterableDataset

pytestmark = pytest.mark.filterwarnings("ignore:os.fork\\(\\) was called:RuntimeWarning")

HELPER = Path(fw_stateful.__file__)
BATCHES = NUM_OBJECTS // fw_stateful.BATCH  # 8 per epoch in one process
MIDPOINTS = [1, 4, BATCHES - 1]


def _resume_in_new_process(spec_file: Path, env: dict[str, str]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, str(HELPER), "resume", str(spec_file)],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-4000:]
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["pid"] != os.getpid()
    return result


@pytest.mark.parametrize("kind", ["iterable", "map"])
def test_resume_with_two_workers_in_a_new_process(s3_data: S3Data, tmp_path: Path, kind: str) -> None:
    spec = {
        "kind": kind,
        "prefix": s3_data.prefix,
        "workers": 2,
        "out": str(tmp_path),
        "midpoints": MIDPOINTS,
    }
    saved = fw_stateful.save_at_midpoints(spec)
    reference = saved["reference"]
    assert sorted(reference) == list(range(NUM_OBJECTS))
    assert reference != sorted(reference)  # shuffled, so order matters in the check
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(spec))
    resumed = _resume_in_new_process(spec_file, s3_data.env)
    for mid in MIDPOINTS:
        first, rest = saved[f"first_{mid}"], resumed[f"rest_{mid}"]
        assert len(first) == mid * fw_stateful.BATCH
        assert first + rest == reference, f"resume after {mid} batches"


def test_worker_state_resumes_only_in_the_same_worker_layout(s3_data: S3Data, tmp_path: Path) -> None:
    """A worker's saved position is meaningless elsewhere: a clear error, never a wrong order."""
    loader = fw_stateful.make_loader("iterable", s3_data.prefix, 2)
    it = iter(loader)
    next(it)
    worker_states = loader.state_dict()["_snapshot"]["_worker_snapshots"]
    del it
    state = next(iter(worker_states.values()))["dataset_state"]
    assert state["worker"]["num_workers"] == 2
    dataset = S3IterableDataset(s3_data.prefix, fw_stateful.label_of, shuffle=True, seed=5)
    dataset.load_state_dict(pickle.loads(pickle.dumps(state)))
    with pytest.raises(ValueError, match="num_workers=2"):
        list(dataset)
    dataset.load_state_dict(state)
    with pytest.raises(ValueError, match="num_workers=2"):
        list(DataLoader(dataset, batch_size=None, num_workers=3, multiprocessing_context="fork"))
    with pytest.raises(ValueError, match="worker"):
        dataset.load_state_dict({**state, "worker": {"id": 2, "num_workers": 2, "consumed": 0}})


def test_plain_dataloader_with_workers_restarts_the_epoch(s3_data: S3Data) -> None:
    """The documented behaviour of the plain DataLoader: the parent cannot see worker progress."""
    dataset = S3IterableDataset(s3_data.prefix, fw_stateful.label_of, shuffle=True, seed=5)
    it = iter(DataLoader(dataset, batch_size=None, num_workers=2, multiprocessing_context="fork"))
    head = [next(it) for _ in range(5)]
    del it
    assert len(head) == 5
    assert dataset.state_dict()["consumed"] == 0  # so a restore starts the epoch again


def test_resume_under_ddp_two_gloo_ranks(s3_data: S3Data, tmp_path: Path) -> None:
    """Each rank (2 workers) saves at midpoints; a second launch of new ranks resumes each state."""
    spec = {
        "kinds": ["iterable", "map"],
        "prefix": s3_data.prefix,
        "workers": 2,
        "out": str(tmp_path),
        "midpoints": [1, 3],  # 4 batches of 3 per rank and epoch
    }
    os.environ.update(s3_data.env)
    for phase in ("save", "resume"):  # two separate launches: the resumed ranks are new processes
        init_file = tmp_path / f"init-{phase}"
        torch_mp.spawn(fw_stateful.ddp_rank, args=(2, str(init_file), spec, phase), nprocs=2, join=True)
    for kind in spec["kinds"]:
        refs = []
        for rank in (0, 1):
            out = tmp_path / f"rank{rank}"
            saved = json.loads((out / f"{kind}-save.json").read_text())
            resumed = json.loads((out / f"{kind}-resume.json").read_text())
            refs.append(saved["reference"])
            for mid in spec["midpoints"]:
                first, rest = saved[f"first_{mid}"], resumed[f"rest_{mid}"]
                assert first + rest == saved["reference"], (kind, rank, mid)
        assert sorted(refs[0] + refs[1]) == list(range(NUM_OBJECTS)), kind  # the ranks split the epoch
