"""Adapters for deep-learning frameworks, each in its own module and imported only on request.

* :mod:`s3dlio.frameworks.torch` - ``S3MapDataset``, ``S3IterableDataset`` and decoders.
* :mod:`s3dlio.frameworks.tf` - ``make_tf_dataset`` building a ``tf.data.Dataset``.
* :mod:`s3dlio.frameworks.jax` - ``JaxBatches`` yielding NumPy or ``jax.numpy`` batches.

Importing this package (or :mod:`s3dlio`) never imports PyTorch, TensorFlow or JAX.
"""

from __future__ import annotations

from ._common import TransformError

__all__ = ["TransformError"]
