"""Data loaders: datasets, sharded samplers and concurrent, resumable batch loaders.

* :func:`create_dataset` / :class:`PyDataset`: objects under a prefix (or a list of URIs),
  indexable; :class:`PyVecDataset`: the same for in-memory items.
* :func:`create_async_loader` / :class:`PyBytesAsyncDataLoader`: batches of ``bytes`` for
  ``async for`` and ``for``, honouring every option in :mod:`s3dlio.loader.options`.
* :class:`ShardedSampler`: the deterministic, resumable order behind the loader.
* :mod:`s3dlio.loader.decoders`: bytes to arrays (npz, npy, HDF5, TFRecord).
"""

from .adaptive import PRESETS
from .dataset import (
    EmptyDatasetError,
    PyDataset,
    PyVecDataset,
    create_dataset,
    create_dataset_async,
)
from .decoders import decode_hdf5, decode_npy, decode_npz, decode_tfrecord, read_npz, read_npz_async
from .items import ItemIterator, PyObjectItem
from .loader import LoaderStats, PyBytesAsyncDataLoader, create_async_loader, create_async_loader_from_dataset
from .options import AdaptiveOptions, LoaderOptions
from .sampler import ShardedSampler, split_for_worker

__all__ = [
    "PRESETS",
    "AdaptiveOptions",
    "EmptyDatasetError",
    "ItemIterator",
    "LoaderOptions",
    "LoaderStats",
    "PyBytesAsyncDataLoader",
    "PyDataset",
    "PyObjectItem",
    "PyVecDataset",
    "ShardedSampler",
    "create_async_loader",
    "create_async_loader_from_dataset",
    "create_dataset",
    "create_dataset_async",
    "decode_hdf5",
    "decode_npy",
    "decode_npz",
    "decode_tfrecord",
    "read_npz",
    "read_npz_async",
    "split_for_worker",
]
