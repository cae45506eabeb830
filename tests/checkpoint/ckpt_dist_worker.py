"""Run by the multi-rank tests: ``python ckpt_dist_worker.py MODE URI OUT_DIR [WORLD]``.

Starts WORLD (default 2) gloo processes on the CPU with torch.multiprocessing.spawn; each rank
writes ``rank-<r>.json`` into OUT_DIR describing what it saw.
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from pathlib import Path

import numpy as np


def _model():  # type: ignore[no-untyped-def]
    import torch

    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 4))


def store_save(rank: int, uri: str, fail_rank: int | None) -> dict[str, object]:
    from s3dlio.checkpoint import CheckpointStore

    store = CheckpointStore(uri)
    try:
        with store.writer(3, epoch=1) as writer:  # rank and world size come from torch.distributed
            writer.save_array(f"only{rank}", np.full((10, rank + 1), rank, dtype=np.int32))
            writer.save_array("common", np.arange(5) + 100 * rank)
            writer.save_object("who", {"rank": rank})
            if rank == fail_rank:
                raise RuntimeError(f"rank {rank} failed on purpose")
        assert writer.info is not None
        return {
            "ok": True,
            "step": writer.info.step,
            "world_size": writer.info.world_size,
            "shard": writer.key,
        }
    except Exception as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}


def store_finalize(rank: int, uri: str) -> dict[str, object]:
    from s3dlio.checkpoint import CheckpointStore

    writer = CheckpointStore(uri).writer(4)
    writer.save_array("x", np.full(3, rank))
    info = writer.finalize(metadata={"by": "finalize"})
    return {"ok": True, "step": info.step, "metadata": info.metadata}


def store_finalize_async(rank: int, uri: str) -> dict[str, object]:
    """finalize_async while "training" runs collectives on the default group on the loop thread."""
    import asyncio

    import torch
    import torch.distributed as dist

    from s3dlio.checkpoint import CheckpointStore

    world = dist.get_world_size()

    async def training() -> list[float]:
        sums = []
        for _ in range(200):
            tensor = torch.ones(4)
            dist.all_reduce(tensor)  # the default group, on the caller's thread
            sums.append(float(tensor.sum()))
            await asyncio.sleep(0)
        return sums

    async def main() -> dict[str, object]:
        results = []
        for step in (5, 6, 7):
            writer = CheckpointStore(uri).writer(step)
            await writer.save_array_async("x", np.full(3, rank * 10 + step))
            info, sums = await asyncio.gather(writer.finalize_async({"step": step}), training())
            assert sums == [4.0 * world] * len(sums), sums[:5]
            group = writer._collective.group if writer._collective is not None else None
            results.append(
                {
                    "step": info.step,
                    "dedicated": group is not None and group is not dist.group.WORLD,
                    "backend": str(dist.get_backend(group)) if group is not None else None,
                }
            )
        return {"ok": True, "results": results}

    return asyncio.run(main())


def dcp_save(rank: int, uri: str) -> dict[str, object]:
    import torch
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import get_state_dict

    from s3dlio.checkpoint.dcp import S3dlioStorageWriter

    model = _model()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    torch.manual_seed(1)
    for _ in range(3):
        optimizer.zero_grad()
        model(torch.randn(8, 16)).pow(2).sum().backward()
        optimizer.step()
    model_sd, optim_sd = get_state_dict(model, optimizer)
    state = {"model": model_sd, "optim": optim_sd, f"rank{rank}": torch.full((4, 4), float(rank))}
    dcp.save(state, storage_writer=S3dlioStorageWriter(uri))
    torch.save(
        {"model": model.state_dict(), "optim": optimizer.state_dict()},
        os.path.join(os.environ["CKPT_OUT"], f"expected-{rank}.pt"),
    )
    return {"ok": True}


def worker(rank: int, mode: str, uri: str, out: str, world: int, init: str) -> None:
    import torch.distributed as dist

    warnings.simplefilter("ignore")
    os.environ["CKPT_OUT"] = out
    from datetime import timedelta

    # a mismatched collective fails within a minute instead of hanging the test
    limit = timedelta(seconds=60)
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world, timeout=limit)
    try:
        if mode == "store":
            result = store_save(rank, uri, None)
        elif mode == "store-fail":
            result = store_save(rank, uri, 1)
        elif mode == "store-finalize":
            result = store_finalize(rank, uri)
        elif mode == "store-finalize-async":
            result = store_finalize_async(rank, uri)
        elif mode == "dcp":
            result = dcp_save(rank, uri)
        else:
            raise ValueError(mode)
        dist.barrier()
    finally:
        dist.destroy_process_group()
    Path(out, f"rank-{rank}.json").write_text(json.dumps(result))


def main() -> None:
    import torch.multiprocessing as mp

    mode, uri, out = sys.argv[1:4]
    world = int(sys.argv[4]) if len(sys.argv) > 4 else 2
    init = f"file://{Path(out).resolve()}/pg-init"
    mp.spawn(worker, args=(mode, uri, out, world, init), nprocs=world, join=True)


if __name__ == "__main__":
    main()
