"""JAX batch iterators (``import s3dlio.jax``; see :mod:`s3dlio.frameworks.jax`).

Importing this module imports the framework; importing ``s3dlio`` alone never does.
"""

from .frameworks.jax import JaxBatches, TransformError, stack_samples

__all__ = [
    "JaxBatches",
    "TransformError",
    "stack_samples",
]
