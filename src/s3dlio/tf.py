"""TensorFlow tf.data datasets (``import s3dlio.tf``; see :mod:`s3dlio.frameworks.tf`).

Importing this module imports the framework; importing ``s3dlio`` alone never does.
"""

from .frameworks.tf import TransformError, make_tf_dataset, npz_decoder, tfrecord_records

__all__ = [
    "TransformError",
    "make_tf_dataset",
    "npz_decoder",
    "tfrecord_records",
]
