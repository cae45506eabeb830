"""Save/load checks with torchdata's StatefulDataLoader (importable by name from new processes).

The style of torchdata's ``run_test_save_load_state``: one loader runs a whole epoch as the
reference; for each midpoint another loader runs that many batches and saves ``state_dict()``;
a fresh loader, built in a *new process*, loads it and must deliver exactly the rest of the
reference (no repeats, no skips, the same order).

Run as ``python fw_stateful.py resume SPEC.json`` to do the resume half in a new process, or
through :func:`ddp_rank` under ``torch.multiprocessing.spawn`` for the DDP case.
"""

from __future__ import annotations

import json
import os
import pickle
import sys
from pathlib import Path
from typing import Any

import torch
from torchdata.stateful_dataloader import StatefulDataLoader
from torchdata.stateful_dataloader.sampler import StatefulDistributedSampler

from s3dlio.frameworks.torch import S3IterableDataset, S3MapDataset, npz_to_tensors

BATCH = 3
EPOCH = 1  # not the default 0, so a resumed loader must take the epoch from the state


def label_of(data: bytes) -> int:
    return int(npz_to_tensors(data)["label"])


def make_loader(
    kind: str, prefix: str, workers: int, distributed: bool = False, seed: int | None = None
) -> StatefulDataLoader:
    """A loader over the npz test objects that yields batches of labels.

    ``kind`` is ``"iterable"`` (S3IterableDataset shuffles and shards itself; its position is
    saved inside each worker) or ``"map"`` (S3MapDataset; the loader's sampler holds the
    position: a seeded RandomSampler, or StatefulDistributedSampler under DDP).
    """
    context = "fork" if workers else None
    if kind == "iterable":
        # under DDP without a seed rank 0 draws one and broadcasts it; a resumed run restores it
        if seed is None and not distributed:
            seed = 5
        dataset = S3IterableDataset(prefix, label_of, shuffle=True, seed=seed)
        dataset.set_epoch(EPOCH)
        return StatefulDataLoader(
            dataset, batch_size=BATCH, num_workers=workers, multiprocessing_context=context
        )
    mapped = S3MapDataset(prefix, label_of)
    if distributed:
        sampler = StatefulDistributedSampler(mapped, shuffle=True, seed=3)
        sampler.set_epoch(EPOCH)
        return StatefulDataLoader(
            mapped, batch_size=BATCH, sampler=sampler, num_workers=workers, multiprocessing_context=context
        )
    return StatefulDataLoader(
        mapped,
        batch_size=BATCH,
        shuffle=True,
        generator=torch.Generator().manual_seed(7),
        num_workers=workers,
        multiprocessing_context=context,
    )


def flat(batches: Any) -> list[int]:
    return [int(x) for batch in batches for x in batch]


def save_at_midpoints(spec: dict[str, Any], distributed: bool = False) -> dict[str, Any]:
    """The reference epoch, and for each midpoint the first batches plus a saved state file."""
    kind, prefix, workers, out = spec["kind"], spec["prefix"], spec["workers"], Path(spec["out"])
    first_loader = make_loader(kind, prefix, workers, distributed)
    result: dict[str, Any] = {"reference": flat(first_loader)}
    # the run being checkpointed keeps one seed (a drawn one, under DDP)
    seed = getattr(first_loader.dataset, "seed", None)
    for mid in spec["midpoints"]:
        loader = make_loader(kind, prefix, workers, distributed, seed)
        it = iter(loader)
        result[f"first_{mid}"] = flat(next(it) for _ in range(mid))
        (out / f"{kind}-{mid}.state").write_bytes(pickle.dumps(loader.state_dict()))
        del it
    return result


def resume_from_states(spec: dict[str, Any], distributed: bool = False) -> dict[str, Any]:
    """For each midpoint: a fresh loader loads the saved state and runs to the end of the epoch."""
    kind, prefix, workers, out = spec["kind"], spec["prefix"], spec["workers"], Path(spec["out"])
    result: dict[str, Any] = {"pid": os.getpid()}
    for mid in spec["midpoints"]:
        loader = make_loader(kind, prefix, workers, distributed)
        loader.load_state_dict(pickle.loads((out / f"{kind}-{mid}.state").read_bytes()))
        result[f"rest_{mid}"] = flat(loader)
    return result


def ddp_rank(rank: int, world_size: int, init_file: str, spec: dict[str, Any], phase: str) -> None:
    """One gloo rank: ``phase`` "save" or "resume" for each of ``spec["kinds"]``, into ``out/rank{rank}/``."""
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size)
    try:
        out = Path(spec["out"]) / f"rank{rank}"
        out.mkdir(exist_ok=True)
        run = save_at_midpoints if phase == "save" else resume_from_states
        for kind in spec["kinds"]:
            result = run({**spec, "kind": kind, "out": str(out)}, distributed=True)
            (out / f"{kind}-{phase}.json").write_text(json.dumps(result))
        dist.barrier()
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    _, _mode, _spec = sys.argv
    print(json.dumps(resume_from_states(json.loads(Path(_spec).read_text()))))
