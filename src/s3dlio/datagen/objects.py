"""Object factory used by ``put()``: one pure function per object, plus argument checks.

``make_object(object_type, index, size, seed=..., dedup=..., compress=..., num=...)`` depends
only on its arguments, so a ``put()`` call draws one seed (``new_seed()``) when the user gives
none and then builds objects ``0 .. num-1`` on any threads in any order.

``ObjectMaker`` holds what is constant over a call (checked arguments, format headers) and can
write an object into a caller's buffer (``job``), which is how ``put()`` reuses one buffer per
worker for local files instead of allocating every object.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import lru_cache

import numpy as np

from ..formats.parquet import require_pyarrow
from .formats import Pending, finish, hdf5_job, npz_job, parquet_job, tfrecord_job
from .generator import MAX_COMPRESS, DataGenerator, U8Array, check_int, object_stride, render_objects
from .templates import validate_template

__all__ = [
    "OBJECT_TYPES",
    "STREAMABLE_TYPES",
    "ObjectMaker",
    "make_object",
    "object_chunks",
    "validate_put_args",
]

OBJECT_TYPES = ("zeros", "random", "npz", "hdf5", "tfrecord", "parquet")
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


class ObjectMaker:
    """Builds the objects of one call: ``ObjectMaker(type, size, seed=...).make(index)``.

    Arguments are checked once, here; ``make`` and ``job`` only check the index. Thread-safe.
    """

    __slots__ = ("_zeros", "compress", "dedup", "num", "object_type", "seed", "size")

    def __init__(
        self, object_type: str, size: int, *, seed: int, dedup: int = 1, compress: int = 1, num: int = 1
    ) -> None:
        self.object_type = _check_type(object_type)
        self.seed = _check_seed(seed)
        self.num = check_int("num", num, 1)
        self.size = check_int("size", size, 0)
        self.dedup = check_int("dedup", dedup, 1)
        self.compress = check_int("compress", compress, 1)
        if self.compress > MAX_COMPRESS:
            raise ValueError(f"compress must be <= {MAX_COMPRESS}, got {self.compress}")
        self._zeros: bytes | None = None
        if self.object_type == "parquet":
            require_pyarrow()  # a missing extra fails before anything is written

    def _index(self, index: object) -> int:
        return _check_position(index, self.num)[0]

    def job(self, index: int) -> bytes | Pending:
        """Object ``index`` as finished bytes or as ``(length, fill)``: ``fill(out)`` writes it
        into a uint8 array of ``length`` bytes (any buffer, e.g. one reused for every object)."""
        index = self._index(index)
        kind, size = self.object_type, self.size
        args = {"seed": self.seed, "index": index, "num": self.num}
        args.update(dedup=self.dedup, compress=self.compress)
        if kind == "random":
            gen = DataGenerator(size, self.dedup, self.compress, self.seed, index=index, num=self.num)
            return size, lambda out: gen.render(0, out)
        if kind == "npz":
            return npz_job(size, **args)
        if kind == "tfrecord":
            return tfrecord_job(size, **args)
        if kind == "hdf5":
            return hdf5_job(size, **args)
        if kind == "parquet":
            return parquet_job(size, **args)
        if self._zeros is None:  # zeros: one shared immutable object
            self._zeros = bytes(size)
        return self._zeros

    def run(self, start: int, stop: int) -> tuple[int, Callable[[U8Array], None]] | None:
        """Objects ``start .. stop - 1`` rendered together, where the type allows it (``random``:
        consecutive pieces of one stream), as ``(stride, fill)``: ``fill(out)`` writes
        ``(stop - start) * stride`` bytes, and object ``i`` is ``out[(i - start) * stride:]``'s
        first ``size`` bytes. None for the other types, which are built one by one (``job``)."""
        if self.object_type != "random" or self.size == 0:
            return None
        start = self._index(start)
        if not start < stop <= self.num:
            raise ValueError(f"stop must be in {start + 1}..{self.num}, got {stop}")
        size, count = self.size, stop - start
        options = {"seed": self.seed, "dedup": self.dedup, "compress": self.compress, "num": self.num}
        return object_stride(size), lambda out: render_objects(size, start, count, out, **options)

    def make(self, index: int) -> bytes:
        """Object ``index`` as ``bytes`` (generated in place: no intermediate copy)."""
        if self.object_type == "zeros":
            self._index(index)
            return bytes(self.size)
        return finish(self.job(index))

    def render(self, index: int, out: U8Array) -> int:
        """Write object ``index`` into the start of ``out`` (uint8, large enough); return its length."""
        job = self.job(index)
        if isinstance(job, bytes):
            out[: len(job)] = np.frombuffer(job, np.uint8)
            return len(job)
        length, fill = job
        fill(out[:length])
        return length


@lru_cache(maxsize=16)
def _maker(object_type: str, size: int, seed: int, dedup: int, compress: int, num: int) -> ObjectMaker:
    return ObjectMaker(object_type, size, seed=seed, dedup=dedup, compress=compress, num=num)


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
    size = check_int("size", size, 0)
    if object_type == "zeros":
        return bytes(size)
    dedup = check_int("dedup", dedup, 1)
    compress = check_int("compress", compress, 1)
    return _maker(object_type, size, seed, dedup, compress, num).make(index)


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
