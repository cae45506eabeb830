"""TensorFlow: a ``tf.data.Dataset`` over objects in storage.

:func:`make_tf_dataset` yields each object's bytes (``tf.string``), each record of TFRecord
objects, or decoded tensors. Objects are fetched ahead concurrently on s3dlio's background loop,
in a deterministic (optionally shuffled and sharded) order; batching, mapping and prefetching are
left to ``tf.data``::

    ds = make_tf_dataset("s3://bucket/tfrecords/", decode="tfrecord", shuffle=True, seed=1)
    ds = ds.map(parse_fn).batch(32).prefetch(tf.data.AUTOTUNE)
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np
import tensorflow as tf

from ..blocking import get
from ._common import (
    TransformError,
    apply_transform,
    check_positive,
    decode_npz,
    decode_tfrecord,
    fetch_in_order,
    shard_objects,
)

__all__ = ["TransformError", "make_tf_dataset", "npz_decoder", "tfrecord_records"]

Decode = Callable[[bytes], Any]


def npz_decoder(data: bytes) -> dict[str, np.ndarray]:
    """Decode an ``.npz`` object into ``{array name: array}``."""
    return decode_npz(data)


def tfrecord_records(data: bytes) -> list[bytes]:
    """Split a TFRecord object into its serialized records (checking the framing CRCs)."""
    return decode_tfrecord(data)


def _spec(value: Any) -> tf.TensorSpec:
    if isinstance(value, bytes | str):
        return tf.TensorSpec(shape=(), dtype=tf.string)
    array = np.asarray(value)
    if array.dtype.kind in "SUO":
        return tf.TensorSpec(shape=array.shape, dtype=tf.string)
    return tf.TensorSpec(shape=array.shape, dtype=tf.as_dtype(array.dtype))


def make_tf_dataset(
    uri_or_uris: str | Iterable[str],
    *,
    shuffle: bool = False,
    seed: int | None = None,
    decode: str | Decode | None = None,
    output_signature: Any = None,
    rank: int = 0,
    world_size: int = 1,
    drop_last: bool = False,
    epoch: int = 0,
    max_in_flight: int = 32,
) -> tf.data.Dataset:
    """A ``tf.data.Dataset`` over every object under a prefix, or over a list of object URIs.

    Args:
        uri_or_uris: a prefix such as ``"s3://bucket/train/"`` (listed once, now) or a list of
            object URIs.
        shuffle, seed: shuffle the objects; each pass over the dataset (each ``repeat``) is a new
            epoch with a new order derived from ``seed``.
        decode: ``None`` yields each object's bytes as a scalar ``tf.string``; ``"tfrecord"``
            yields every record of every object (``tf.string``, ready for
            ``tf.io.parse_single_example``); ``"npz"`` yields ``{name: tensor}``; a callable
            ``bytes -> array | dict | tuple`` yields its result. A failing decoder raises
            :class:`TransformError` naming the object.
        output_signature: the ``tf.TensorSpec`` structure of one element. Only needed for a custom
            ``decode`` with varying shapes; otherwise it is taken from the first object (one extra
            GET while building the dataset).
        rank, world_size: read only this shard (same rule as ``DistributedSampler``: equal
            counts per rank, padded unless ``drop_last``). Shuffled shards need a ``seed``.
        epoch: the epoch of the first pass.
        max_in_flight: objects fetched ahead concurrently.
    """
    check_positive("max_in_flight", max_in_flight)
    uris, sampler = shard_objects(
        uri_or_uris,
        shuffle=shuffle,
        seed=seed,
        drop_last=drop_last,
        epoch=epoch,
        rank=rank,
        world_size=world_size,
    )
    flatten = decode == "tfrecord"
    if decode is None or flatten:
        decoder: Decode | None = None
    elif decode == "npz":
        decoder = npz_decoder
    elif callable(decode):
        decoder = decode
    else:
        raise ValueError(f"decode must be None, 'tfrecord', 'npz' or a callable, got {decode!r}")
    if output_signature is None:
        if decoder is None:
            output_signature = tf.TensorSpec(shape=(), dtype=tf.string)
        else:
            first = uris[sampler.indices()[0]] if len(sampler) else uris[0]
            sample = apply_transform(decoder, get(first), first)
            output_signature = tf.nest.map_structure(_spec, sample)
    epochs = itertools.count(epoch)

    def elements() -> Iterator[Any]:
        sampler.set_epoch(next(epochs))
        order = [uris[i] for i in sampler.indices()]
        for uri, data in fetch_in_order(order, max_in_flight):
            if flatten:
                yield from apply_transform(tfrecord_records, data, uri)
            elif decoder is None:
                yield data
            else:
                yield apply_transform(decoder, data, uri)

    return tf.data.Dataset.from_generator(elements, output_signature=output_signature)
