"""Synthetic data for storage benchmarks: raw bytes and ML dataset files (npz, hdf5, tfrecord).

Entry points: ``generate_data`` / ``DataGenerator`` for raw bytes with controllable dedup and
compression, ``make_object`` / ``object_chunks`` for the objects of one ``put()`` call, and
``validate_put_args`` / ``expand_template`` for its arguments and names.
"""

from __future__ import annotations

from .formats import (
    NUM_CLASSES,
    TFRECORD_RECORD_SIZE,
    TFRecordError,
    encode_example,
    frame_record,
    iter_tfrecords,
    make_hdf5,
    make_npz,
    make_parquet,
    make_tfrecord,
    parse_example,
    payload_size,
)
from .generator import (
    BLOCK_SIZE,
    MAX_COMPRESS,
    DataGenerator,
    generate_data,
    iter_chunks,
    new_seed,
)
from .objects import (
    OBJECT_TYPES,
    STREAMABLE_TYPES,
    make_object,
    object_chunks,
    validate_put_args,
)
from .templates import expand_template, validate_template

__all__ = [
    "BLOCK_SIZE",
    "MAX_COMPRESS",
    "NUM_CLASSES",
    "OBJECT_TYPES",
    "STREAMABLE_TYPES",
    "TFRECORD_RECORD_SIZE",
    "DataGenerator",
    "TFRecordError",
    "encode_example",
    "expand_template",
    "frame_record",
    "generate_data",
    "iter_chunks",
    "iter_tfrecords",
    "make_hdf5",
    "make_npz",
    "make_parquet",
    "make_object",
    "make_tfrecord",
    "new_seed",
    "object_chunks",
    "parse_example",
    "payload_size",
    "validate_put_args",
    "validate_template",
]
