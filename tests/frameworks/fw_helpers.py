"""Functions that worker processes (DataLoader ``spawn`` workers, DDP ranks) import by name."""

from __future__ import annotations

import json
import os
from typing import Any

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, DistributedSampler

from s3dlio.frameworks.torch import S3IterableDataset, S3MapDataset, collate_npz, npz_to_tensors


def label_of(data: bytes) -> int:
    """Transform: the object's label only."""
    return int(npz_to_tensors(data)["label"])


def failing_transform(data: bytes) -> Any:
    raise ValueError("cannot decode this sample")


def labels(loader: Any) -> list[int]:
    """Every label a DataLoader of collate_npz batches yields, in order."""
    return [int(x) for batch in loader for x in batch["label"]]


def ddp_worker(rank: int, world_size: int, init_file: str, prefix: str, out_dir: str, workers: int) -> None:
    """One DDP rank: read two epochs with both datasets and write what it saw to ``out_dir``."""
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size)
    try:
        result: dict[str, Any] = {"rank": rank}
        iterable = S3IterableDataset(prefix, npz_to_tensors, shuffle=True)  # seed drawn on rank 0
        result["seed"] = iterable.seed
        result["rank_seen"] = [iterable.rank, iterable.world_size]
        mapped = S3MapDataset(prefix, npz_to_tensors)
        sampler: DistributedSampler[Any] = DistributedSampler(mapped, shuffle=True, seed=3)
        # Ranks started by torch.multiprocessing.spawn default to spawned DataLoader workers;
        # ranks started by torchrun fork them (Linux default). Use fork, as under torchrun.
        context = "fork" if workers else None
        for epoch in (0, 1):
            iterable.set_epoch(epoch)
            sampler.set_epoch(epoch)
            loader = DataLoader(
                iterable,
                batch_size=4,
                num_workers=workers,
                multiprocessing_context=context,
                collate_fn=collate_npz,
            )
            batches = list(loader)
            result[f"iter_{epoch}"] = [int(x) for b in batches for x in b["label"]]
            result[f"iter_batches_{epoch}"] = len(batches)
            map_loader = DataLoader(
                mapped,
                batch_size=4,
                sampler=sampler,
                num_workers=workers,
                multiprocessing_context=context,
                collate_fn=collate_npz,
            )
            map_batches = list(map_loader)
            result[f"map_{epoch}"] = [int(x) for b in map_batches for x in b["label"]]
            result[f"map_batches_{epoch}"] = len(map_batches)
        # the ranks really talk: sum of sample counts over the group
        total = torch.tensor([len(result["iter_0"])])
        dist.all_reduce(total)
        result["total_iter_0"] = int(total.item())
        with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as handle:
            json.dump(result, handle)
    finally:
        dist.destroy_process_group()
