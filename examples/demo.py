"""Demo: generate a small synthetic dataset in a local directory, read it back, print throughput.

No server needed. Run it with ``bash scripts/demo.sh`` (or ``python examples/demo.py [DIR]``).
"""

from __future__ import annotations

import asyncio
import io
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import s3dlio

NUM_OBJECTS = 256
OBJECT_SIZE = 1024 * 1024


def mb_per_s(nbytes: int, seconds: float) -> str:
    return f"{nbytes / seconds / 1e6:8.1f} MB/s"


def main(directory: Path) -> None:
    prefix = f"file://{directory.resolve()}/train/"
    print(f"s3dlio {s3dlio.__version__}: demo dataset under {prefix}")

    started = time.perf_counter()
    s3dlio.put(prefix, NUM_OBJECTS, "sample_{:05d}.npz", object_type="npz", size=OBJECT_SIZE, seed=7)
    elapsed = time.perf_counter() - started
    total = sum(entry["size"] for entry in s3dlio.list(prefix))
    print(f"generated {NUM_OBJECTS} npz objects ({total / 1e6:.0f} MB) {mb_per_s(total, elapsed)}")

    uris = [entry["uri"] for entry in s3dlio.list(prefix)]
    started = time.perf_counter()
    pairs = s3dlio.get_many(uris, max_in_flight=32)  # (uri, zero-copy data), in input order
    elapsed = time.perf_counter() - started
    nbytes = sum(len(data) for _, data in pairs)
    print(f"get_many read {len(pairs)} objects              {mb_per_s(nbytes, elapsed)}")
    first = np.load(io.BytesIO(pairs[0][1]))
    print(f"  first object: arrays {sorted(first.files)}, data {first['data'].dtype}{first['data'].shape}")

    async def epoch() -> tuple[int, int]:
        loader = s3dlio.create_async_loader(prefix, {"batch_size": 32, "shuffle": True, "seed": 1})
        batches = nbytes = 0
        async for batch in loader:
            batches += 1
            nbytes += sum(len(item) for item in batch)
        return batches, nbytes

    started = time.perf_counter()
    batches, nbytes = asyncio.run(epoch())
    elapsed = time.perf_counter() - started
    print(f"async loader: {batches} shuffled batches of 32       {mb_per_s(nbytes, elapsed)}")

    writer = s3dlio.create_checkpoint_writer(f"file://{directory.resolve()}/ckpt/step-1/")
    writer.save_array("weights", np.arange(1_000_000, dtype=np.float32))
    writer.finalize()
    reader = s3dlio.create_checkpoint_reader(f"file://{directory.resolve()}/ckpt/step-1/")
    assert float(reader.load_array("weights")[-1]) == 999_999.0
    print("checkpoint: saved and verified 'weights' (1,000,000 float32)")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory(prefix="s3dlio-demo-") as tmp:
            main(Path(tmp))
