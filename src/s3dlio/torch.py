"""PyTorch datasets and decoders (``import s3dlio.torch``; see :mod:`s3dlio.frameworks.torch`).

Importing this module imports the framework; importing ``s3dlio`` alone never does.
"""

from .frameworks.torch import (
    S3IterableDataset,
    S3MapDataset,
    TransformError,
    bytes_to_uint8_tensor,
    collate_npz,
    npz_to_tensors,
)

__all__ = [
    "S3IterableDataset",
    "S3MapDataset",
    "TransformError",
    "bytes_to_uint8_tensor",
    "collate_npz",
    "npz_to_tensors",
]
