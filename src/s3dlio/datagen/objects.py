"""Object factory used by ``put()``: one pure function per object, plus argument checks.

``make_object(object_type, index, size, seed=..., dedup=..., compress=..., num=...)`` depends
only on its arguments, so a ``put()`` call draws one seed (``new_seed()``) when the user gives
none and then builds objects ``0 .. num-1`` on any threads in any order.
"""

from __future__ import annotations

from collections.abc import Iterator

from .formats import make_hdf5, make_npz, make_tfrecord
from .generator import MAX_COMPRESS, DataGenerator, check_int
from .templates import validate_template

__all__ = [
    "OBJECT_TYPES",
    "STREAMABLE_TYPES",
    "make_object",
    "object_chunks",
    "validate_put_args",
]

OBJECT_TYPES = ("zeros", "random", "npz", "hdf5", "tfrecord")
"""Accepted ``object_type`` values."""

STREAMABLE_TYPES = ("zeros", "random")
"""Types that ``object_chunks`` produces piece by piece in bounded memory (formats are built whole)."""


def _check_type(object_type: object) -> str:
    if not isinstance(object_type, str) or object_type not in OBJECT_TYPES:
        raise ValueError(f"unknown object_type {object_type!r}; valid types: {', '.join(OBJECT_TYPES)}")
    return object_type


def _check_position(index: object, num: object) -> tuple[int, int]:
    num = check_int("num", num, 1)
    index = check_int("index", index, 0)
    if index >= num:
        raise ValueError(f"index must be < num ({num}), got {index}")
    return index, num


def _check_seed(seed: object) -> int:
    if seed is None:
        raise TypeError(
            "seed must be an int: draw one per put() call with new_seed() so objects share a stream"
        )
    return check_int("seed", seed, 0)


def make_object(
    object_type: str,
    index: int,
    size: int,
    *,
    seed: int,
    dedup: int = 1,
    compress: int = 1,
    num: int = 1,
) -> bytes:
    """Return object ``index`` of a ``num``-object call as bytes (a pure function of the arguments).

    'zeros' ignores dedup and compress; the formats apply them to their payload.
    """
    object_type = _check_type(object_type)
    seed = _check_seed(seed)
    index, num = _check_position(index, num)
    if object_type == "zeros":
        return bytes(check_int("size", size, 0))
    if object_type == "random":
        return DataGenerator(size, dedup, compress, seed, index=index, num=num).read()
    builder = {"npz": make_npz, "hdf5": make_hdf5, "tfrecord": make_tfrecord}[object_type]
    return builder(size, seed=seed, index=index, num=num, dedup=dedup, compress=compress)


def object_chunks(
    object_type: str,
    index: int,
    size: int,
    chunk_size: int,
    *,
    seed: int,
    dedup: int = 1,
    compress: int = 1,
    num: int = 1,
) -> Iterator[bytes]:
    """Yield ``make_object(...)`` in ``chunk_size`` pieces (the last may be shorter).

    'zeros' and 'random' never hold more than one chunk; formats are built whole, then sliced.
    Arguments are checked before the iterator is returned.
    """
    object_type = _check_type(object_type)
    seed = _check_seed(seed)
    index, num = _check_position(index, num)
    chunk_size = check_int("chunk_size", chunk_size, 1)
    if object_type == "random":
        return DataGenerator(size, dedup, compress, seed, index=index, num=num).chunks(chunk_size)
    if object_type == "zeros":
        return _zero_chunks(check_int("size", size, 0), chunk_size)
    data = make_object(object_type, index, size, seed=seed, dedup=dedup, compress=compress, num=num)
    return (data[i : i + chunk_size] for i in range(0, len(data), chunk_size))


def _zero_chunks(size: int, chunk_size: int) -> Iterator[bytes]:
    zero = bytes(min(size, chunk_size))
    full, rest = divmod(size, chunk_size)
    for _ in range(full):
        yield zero
    if rest:
        yield zero[:rest]


def validate_put_args(
    num: int,
    template: str,
    object_type: str,
    size: int,
    compress_factor: int,
    dedup_factor: int,
    max_in_flight: int,
) -> None:
    """Check ``put()`` arguments before anything is written.

    Raises TypeError for non-int counts (bool and float included) or a non-str template, and
    ValueError for out-of-range values, an unknown object type or a bad template.
    """
    num = check_int("num", num, 1)
    _check_type(object_type)
    check_int("size", size, 0)
    compress = check_int("compress_factor", compress_factor, 1)
    if compress > MAX_COMPRESS:
        raise ValueError(f"compress_factor must be <= {MAX_COMPRESS}, got {compress}")
    check_int("dedup_factor", dedup_factor, 1)
    check_int("max_in_flight", max_in_flight, 1)
    validate_template(template, num)
