"""The guide's framework snippets, run verbatim against the SeaweedFS S3 server.

Each ``GUIDE_*`` string is copied from "Framework Integration" and "Common Patterns / Pattern 1" of
the v0.9.0 Python API guide (trailing spaces removed). The only change is the bucket: the test
replaces ``s3://bucket/`` with a fresh bucket. The helpers the snippets call (``train_step``,
``process_tf_tensor``, ``train_jax_step``) are stubs that record what they receive.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import s3dlio

GUIDE_PYTORCH = """\
import s3dlio
import torch
import numpy as np
import io
import asyncio

async def pytorch_dataloader():
    # Create async loader
    loader = s3dlio.create_async_loader(
        uri="s3://bucket/training/",
        opts={'batch_size': 64, 'shuffle': True, 'seed': 42}
    )

    async for batch in loader:
        tensors = []

        for item_bytes in batch:
            # Load NPZ from bytes
            npz = np.load(io.BytesIO(item_bytes))
            array = npz['data']

            # Convert to PyTorch tensor
            tensor = torch.from_numpy(array)
            tensors.append(tensor)

        # Stack batch
        batch_tensor = torch.stack(tensors)

        # Train step
        train_step(batch_tensor)

# Run training
asyncio.run(pytorch_dataloader())
"""

GUIDE_TENSORFLOW = """\
import s3dlio
import tensorflow as tf
import numpy as np
import io
import asyncio

async def tensorflow_dataloader():
    loader = s3dlio.create_async_loader(
        uri="s3://bucket/tfrecords/",
        opts={'batch_size': 32}
    )

    async for batch in loader:
        for item_bytes in batch:
            # Option 1: Load NPZ
            npz = np.load(io.BytesIO(item_bytes))
            array = npz['features']
            tensor = tf.constant(array)

            # Option 2: Parse TFRecord
            # example = tf.train.Example.FromString(item_bytes)

            process_tf_tensor(tensor)

asyncio.run(tensorflow_dataloader())
"""

GUIDE_JAX = """\
import s3dlio
import jax.numpy as jnp
import numpy as np
import io
import asyncio

async def jax_dataloader():
    loader = s3dlio.create_async_loader(
        uri="s3://bucket/data/",
        opts={'batch_size': 128}
    )

    async for batch in loader:
        arrays = []

        for item_bytes in batch:
            # Load NPZ
            npz = np.load(io.BytesIO(item_bytes))
            array = npz['data']

            # Convert to JAX array
            jax_array = jnp.array(array)
            arrays.append(jax_array)

        # Stack batch
        batch_array = jnp.stack(arrays)

        # Process with JAX
        train_jax_step(batch_array)

asyncio.run(jax_dataloader())
"""

GUIDE_PATTERN_1 = """\
import s3dlio
import torch
import numpy as np
import io
import asyncio

class S3Dataset:
    def __init__(self, uri, batch_size=32):
        self.uri = uri
        self.batch_size = batch_size

    async def iterate(self):
        loader = s3dlio.create_async_loader(
            uri=self.uri,
            opts={
                'batch_size': self.batch_size,
                'shuffle': True,
                'adaptive': {'mode': 'enabled'}
            }
        )

        async for batch in loader:
            tensors = []

            for item_bytes in batch:
                npz = np.load(io.BytesIO(item_bytes))
                tensor = torch.from_numpy(npz['data'])
                tensors.append(tensor)

            yield torch.stack(tensors)

# Usage
async def train():
    dataset = S3Dataset("s3://bucket/training/", batch_size=64)

    async for batch_tensor in dataset.iterate():
        # batch_tensor: torch.Tensor of shape [64, ...]
        loss = train_step(batch_tensor)
        print(f"Loss: {loss:.4f}")

asyncio.run(train())
"""


TRAIN_OBJECTS = 150  # batches of 64: 64, 64, 22
DATA_OBJECTS = 200  # batches of 128: 128, 72
TF_OBJECTS = 40  # batches of 32: 32, 8
NPZ_SIZE = 8 * 1024
FEATURES_SHAPE = (3, 5)


@pytest.fixture(scope="module")
def guide_bucket(server_bucket: str) -> str:
    """A bucket laid out like the guide's examples, filled with s3dlio.put()."""
    bucket = server_bucket
    s3dlio.put(
        prefix=f"s3://{bucket}/training/",
        num=TRAIN_OBJECTS,
        template="sample_{:06d}.npz",
        object_type="npz",
        size=NPZ_SIZE,
    )
    s3dlio.put(
        prefix=f"s3://{bucket}/data/",
        num=DATA_OBJECTS,
        template="data_{:03d}.npz",
        object_type="npz",
        size=NPZ_SIZE,
    )
    # The TensorFlow snippet reads an array named 'features' (the guide's "Local File
    # Testing" way of making such files: numpy.savez, then upload).
    items = []
    for i in range(TF_OBJECTS):
        buf = io.BytesIO()
        np.savez(buf, features=np.full(FEATURES_SHAPE, i, dtype=np.float32))
        items.append((f"s3://{bucket}/tfrecords/train_{i:05d}.npz", buf.getvalue()))
    s3dlio.put_many(items)
    return bucket


def run_guide_snippet(code: str, bucket: str, **helpers: Callable[..., Any]) -> None:
    """Run a snippet as a script, with only its bucket name changed."""
    assert code.count("s3://bucket/") == 1
    code = code.replace("s3://bucket/", f"s3://{bucket}/")
    namespace: dict[str, Any] = {"__name__": "__guide__", **helpers}
    exec(compile(code, "<guide snippet>", "exec"), namespace)


def npz_payload() -> int:
    from s3dlio.datagen.formats import payload_size

    return payload_size("npz", NPZ_SIZE)


def test_guide_pytorch_integration(guide_bucket: str) -> None:
    import torch

    seen: list[Any] = []
    run_guide_snippet(GUIDE_PYTORCH, guide_bucket, train_step=seen.append)
    assert all(isinstance(t, torch.Tensor) for t in seen)
    assert [tuple(t.shape) for t in seen] == [(64, npz_payload()), (64, npz_payload()), (22, npz_payload())]
    assert seen[0].dtype == torch.uint8


def test_guide_tensorflow_integration(guide_bucket: str) -> None:
    import tensorflow as tf

    seen: list[Any] = []
    run_guide_snippet(GUIDE_TENSORFLOW, guide_bucket, process_tf_tensor=seen.append)
    assert len(seen) == TF_OBJECTS
    assert all(isinstance(t, tf.Tensor) and tuple(t.shape) == FEATURES_SHAPE for t in seen)
    assert sorted(int(t[0, 0]) for t in seen) == list(range(TF_OBJECTS))


def test_guide_jax_integration(guide_bucket: str) -> None:
    import jax

    seen: list[Any] = []
    run_guide_snippet(GUIDE_JAX, guide_bucket, train_jax_step=seen.append)
    assert all(isinstance(a, jax.Array) for a in seen)
    assert [tuple(a.shape) for a in seen] == [(128, npz_payload()), (72, npz_payload())]


def test_guide_pattern_1_batch_processing_with_pytorch(
    guide_bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import torch

    seen: list[Any] = []

    def train_step(batch: Any) -> float:
        seen.append(batch)
        return float(batch.float().mean()) / 255.0

    run_guide_snippet(GUIDE_PATTERN_1, guide_bucket, train_step=train_step)
    assert all(isinstance(t, torch.Tensor) for t in seen)
    assert [t.shape[0] for t in seen] == [64, 64, 22]
    assert {tuple(t.shape[1:]) for t in seen} == {(npz_payload(),)}
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 3 and all(line.startswith("Loss: ") for line in printed)
