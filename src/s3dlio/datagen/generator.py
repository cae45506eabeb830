"""Fast, reproducible synthetic bytes with controllable compressibility and dedupability.

Model
-----
Data is produced as a *stream* of fixed-size blocks of ``BLOCK_SIZE`` (4 KiB) bytes. Every object of
one ``put()`` call owns a contiguous range of that stream: object ``i`` starts at global block
``i * blocks_per_object``. The content of each block is a pure function of ``(seed, unique_id)``,
so any object can be produced on its own, in any order, on any thread, byte for byte the same.

Block size (4 KiB)
    Deduplicating storage (ZFS, appliances, most all-flash arrays) fingerprints 4 KiB (or 8 KiB)
    blocks, so that is the granularity at which duplicates must line up. 4 KiB also keeps small
    objects (tens of KiB) dedupable, which a 1 MiB unit could not do.

Dedup (``dedup=d``)
    A call of ``N`` blocks has ``U = ceil(N / d)`` unique blocks. Global block ``g`` shows unique
    block ``u = (g + g // U) % U``: the stream walks through all unique blocks ``d`` times, each pass
    rotated by one more block. Total/unique is therefore ``N / U ~= d`` over the call, the copies of a
    block are ``U`` blocks apart (typically in different objects and far outside zlib's 32 KiB
    window), and, thanks to the rotation, two objects of a call only come out identical when they
    are shorter than ``d`` blocks (where sharing whole objects is unavoidable anyway).

Compression (``compress=c``)
    Each block starts with ``r(c)`` random bytes followed by zeros. Deflate spends about 14 bytes
    and zstd about 3 bytes on the zero run, so ``r(c) = 4096 / c - 8`` puts both close to ``c``
    (measured: within a few percent for ``c <= 20``, within 15 % up to ``MAX_COMPRESS``).
    ``compress=1`` is pure random data.

Randomness
    A fixed pool of 256 random 4 KiB blocks (1 MiB, drawn once from numpy's PCG64DXSM, the same in
    every process) is the raw material. Unique block ``u`` of a seed's stream is pool block
    ``(u + r) % 256`` XOR-ed word by word with a 64-bit key ``k(seed, u)``, where ``r`` is a
    rotation derived from the seed and ``k`` is SplitMix64's finaliser (a bijection) of
    ``base(seed) + u * golden``: distinct unique blocks have distinct keys, so they never compare
    equal, and since two blocks that share a pool block differ in (almost) every byte, no
    compressor finds matches between them. Rendering is one vectorised XOR from an L2-resident
    pool straight into the output, about memory speed (>= 8 GB/s per core); numpy releases the
    GIL while it runs. It is synthetic data for storage benchmarks, not a cryptographic stream:
    the XOR of two blocks is a repeating 8-byte pattern.

Memory
    ``bytes`` results are generated straight into the final object (``s3dlio._buffers.new_bytes``),
    with no intermediate buffer and no second copy. Results of 8 MiB or more are fresh memory from
    the kernel, whose first touch costs a page fault per 4 KiB page; on Linux they are marked
    ``MADV_HUGEPAGE``, which makes that 512 times fewer faults (about 2x faster at 64 MiB).
    ``DataGenerator.fill`` into a reused buffer avoids the faults altogether.
"""

from __future__ import annotations

import ctypes
import itertools
import operator
import os
import secrets
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from .._buffers import new_bytes

__all__ = [
    "BLOCK_SIZE",
    "MAX_COMPRESS",
    "DataGenerator",
    "build_bytes",
    "check_int",
    "draw_words",
    "generate_data",
    "iter_chunks",
    "new_seed",
    "object_stride",
    "random_bytes_per_block",
    "render_objects",
]

BLOCK_SIZE = 4096
"""Dedup and compression unit in bytes."""

MAX_COMPRESS = 64
"""Largest accepted compress factor (the ratio model stays within 15 % up to here)."""

_POOL_MIN_BUFFER = 256 << 10  # smaller buffers come from malloc's own free lists
_POOL_MAX_BUFFER = 64 << 20  # buffers larger than this are never pooled
_POOL_MAX_TOTAL = 256 << 20  # bytes kept in the scratch pool at most
_HUGE_MIN = 8 << 20  # fresh outputs from this size on are advised to use transparent huge pages

U8Array = npt.NDArray[np.uint8]


def new_seed() -> int:
    """Return a fresh random 64-bit seed (used when the caller gives none)."""
    return secrets.randbits(64)


def check_int(name: str, value: object, minimum: int | None = None) -> int:
    """Return ``value`` as an int or raise TypeError/ValueError naming ``name``.

    bool and float are refused even when integral; numpy integers are accepted.
    """
    if type(value) is int:  # fast path for the common case
        result = value
    elif isinstance(value, bool) or not hasattr(value, "__index__"):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    else:
        result = operator.index(value)
    if minimum is not None and result < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {result}")
    return result


def random_bytes_per_block(compress: int) -> int:
    """Number of random bytes at the start of each 4 KiB block for a compress factor."""
    if compress <= 1:
        return BLOCK_SIZE
    return max(1, round(BLOCK_SIZE / compress) - 8)


@dataclass(frozen=True, slots=True)
class _Layout:
    """Block layout of one call's stream."""

    seed: int
    dedup: int
    compress: int
    total_blocks: int
    unique_blocks: int
    rand_bytes: int
    rand_words: int

    @classmethod
    def for_call(cls, seed: int, dedup: int, compress: int, total_blocks: int) -> _Layout:
        return _layout(seed, dedup, compress, total_blocks)

    @classmethod
    def _build(cls, seed: int, dedup: int, compress: int, total_blocks: int) -> _Layout:
        rand_bytes = random_bytes_per_block(compress)
        return cls(
            seed=seed,
            dedup=dedup,
            compress=compress,
            total_blocks=total_blocks,
            unique_blocks=max(1, -(-total_blocks // dedup)),
            rand_bytes=rand_bytes,
            rand_words=-(-rand_bytes // 8),
        )

    def unique_ids(self, first: int, count: int) -> npt.NDArray[np.int64]:
        """Unique-block id of each global block in ``[first, first + count)``."""
        g = np.arange(first, first + count, dtype=np.int64)
        if self.dedup == 1:
            return g
        u = self.unique_blocks
        return (g + g // u) % u


@lru_cache(maxsize=256)
def _layout(seed: int, dedup: int, compress: int, total_blocks: int) -> _Layout:
    return _Layout._build(seed, dedup, compress, total_blocks)  # every object of a call shares it


@lru_cache(maxsize=256)
def _base_state(seed: int) -> Any:
    return np.random.PCG64DXSM(seed).state


_tls = threading.local()
_PERIOD = 1 << 128


class _Cursor:
    """A thread's PCG64DXSM and the draw it is positioned at, for one seed."""

    __slots__ = ("bitgen", "draw", "seed")

    def __init__(self) -> None:
        self.bitgen = np.random.PCG64DXSM(0)
        self.seed = -1
        self.draw = 0

    def seek(self, seed: int, draw: int) -> np.random.PCG64DXSM:
        """Position at ``draw`` of ``seed``'s stream (jumps relative to the current draw)."""
        if seed != self.seed:
            self.bitgen.state = _base_state(seed)
            self.seed, self.draw = seed, 0
        delta = (draw - self.draw) % _PERIOD
        if delta:
            self.bitgen.advance(delta)
        self.draw = draw
        return self.bitgen


def draw_words(key: int, first: int, count: int) -> npt.NDArray[np.uint64]:
    """Draws ``first .. first + count`` of the PCG64DXSM stream seeded with ``key`` (any int >= 0).

    Uses a second per-thread cursor, so it does not disturb the data stream's position. Meant for
    small side streams (labels); the data itself goes through ``DataGenerator``.
    """
    cur: _Cursor | None = getattr(_tls, "aux", None)
    if cur is None:
        cur = _tls.aux = _Cursor()
    bg = cur.seek(key, first)
    cur.seed = -1  # invalid until the draw completes
    words = bg.random_raw(count)
    cur.seed, cur.draw = key, first + count
    return words


_POOL_BLOCKS = 256  # 1 MiB of random blocks: stays in a core's L2 cache while it is XOR-ed out
_XOR_BLOCKS = 64  # blocks per XOR step: its 256 KiB stay in L2 between the two passes over it
_POOL_SEED = 0x5333_444C_494F_504F  # fixed: the pool is the same in every process and version
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


@lru_cache(maxsize=1)
def _pool() -> npt.NDArray[np.uint64]:
    """``_POOL_BLOCKS`` random 4 KiB blocks as ``(blocks, 512)`` uint64 words (built once)."""
    raw = np.random.PCG64DXSM(_POOL_SEED).random_raw(_POOL_BLOCKS * BLOCK_SIZE // 8)
    if sys.byteorder == "big":  # the same bytes on every host
        raw.byteswap(inplace=True)
    raw.flags.writeable = False
    return raw.reshape(_POOL_BLOCKS, BLOCK_SIZE // 8)


def _splitmix(values: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """SplitMix64's finaliser, in place: a bijection of uint64, so distinct inputs stay distinct."""
    values ^= values >> np.uint64(30)
    values *= _MIX1
    values ^= values >> np.uint64(27)
    values *= _MIX2
    values ^= values >> np.uint64(31)
    return values


@lru_cache(maxsize=256)
def _seed_key(seed: int) -> tuple[int, int]:
    """``(key base, pool offset)`` of a seed: where its block keys start and its pool rotation."""
    mixed = _splitmix(np.array([seed & (2**64 - 1), (seed >> 64) ^ 0xA5A5], dtype=np.uint64))
    return int(mixed[0]), int(mixed[1] % np.uint64(_POOL_BLOCKS))


def _compute_keys(seed: int, first: int, count: int) -> npt.NDArray[np.uint64]:
    """The keys of :func:`block_keys`, computed (a new array)."""
    base, _ = _seed_key(seed)
    keys = np.arange(first, first + count, dtype=np.uint64)
    keys *= _GOLDEN
    keys += np.uint64(base)
    keys = _splitmix(keys)
    if sys.byteorder == "big":  # XOR must touch the same bytes as on little-endian hosts
        keys.byteswap(inplace=True)
    return keys


_KEY_RUN = 1024  # keys computed and cached together: 8 KiB, the unique blocks of 4 MiB


@lru_cache(maxsize=64)
def _key_run(seed: int, run: int) -> npt.NDArray[np.uint64]:
    keys = _compute_keys(seed, run * _KEY_RUN, _KEY_RUN)
    keys.flags.writeable = False
    return keys


def block_keys(seed: int, first: int, count: int) -> npt.NDArray[np.uint64]:
    """64-bit key of unique blocks ``first .. first + count`` of ``seed``'s stream (read-only).

    ``splitmix(base + u * golden)`` over unique id ``u``: distinct for distinct ``u`` (< 2**64).
    Keys are computed in cached runs of ``_KEY_RUN``: an object of a few hundred KiB needs a few
    dozen keys, and the eight numpy calls that compute them cost more than rendering its blocks.
    """
    run, start = divmod(first, _KEY_RUN)
    if start + count <= _KEY_RUN:
        return _key_run(seed, run)[start : start + count]
    return _compute_keys(seed, first, count)


def _render_blocks(layout: _Layout, first: int, out: U8Array) -> None:
    """Write whole global blocks ``first ..`` into ``out`` (length a multiple of BLOCK_SIZE)."""
    count = len(out) // BLOCK_SIZE
    if count == 0:
        return
    if layout.dedup == 1:
        runs = [(0, count, first)]
    else:
        ids = layout.unique_ids(first, count)
        bounds = [0, *(np.flatnonzero(np.diff(ids) != 1) + 1).tolist(), count]
        runs = [(s, e, int(ids[s])) for s, e in itertools.pairwise(bounds)]
    words = out[: count * BLOCK_SIZE].view(np.uint64).reshape(count, BLOCK_SIZE // 8)
    rows = out[: count * BLOCK_SIZE].reshape(count, BLOCK_SIZE)
    pool = _pool()
    _, offset = _seed_key(layout.seed)
    rw, rb = layout.rand_words, layout.rand_bytes
    for s, e, unique in runs:
        keys = block_keys(layout.seed, unique, e - s)
        pos = s
        slot = (unique + offset) % _POOL_BLOCKS
        while pos < e:  # one XOR per piece that does not wrap around the pool (nor leave L2)
            n = min(e - pos, _POOL_BLOCKS - slot, _XOR_BLOCKS)
            k = keys[pos - s : pos - s + n, None]
            # The key is spread over its block first: a XOR of two full arrays runs about 1.3x
            # faster than one that broadcasts the key (numpy's iterator steps row by row).
            if rb == BLOCK_SIZE:
                target = words[pos : pos + n]
                np.copyto(target, k)
                np.bitwise_xor(target, pool[slot : slot + n], out=target)
            else:
                target = words[pos : pos + n, :rw]
                np.copyto(target, k)
                np.bitwise_xor(target, pool[slot : slot + n, :rw], out=target)
                rows[pos : pos + n, rb:] = 0
            pos += n
            slot = (slot + n) % _POOL_BLOCKS


def _render(layout: _Layout, offset: int, out: U8Array) -> None:
    """Write stream bytes ``[offset, offset + len(out))`` into ``out``."""
    n = len(out)
    if n == 0:
        return
    end = offset + n
    first_full = -(-offset // BLOCK_SIZE)
    last_full = end // BLOCK_SIZE
    if first_full > last_full:  # the range sits inside a single block
        tmp = np.empty(BLOCK_SIZE, np.uint8)
        blk = offset // BLOCK_SIZE
        _render_blocks(layout, blk, tmp)
        lo = offset - blk * BLOCK_SIZE
        out[:] = tmp[lo : lo + n]
        return
    pos = 0
    if offset % BLOCK_SIZE:
        tmp = np.empty(BLOCK_SIZE, np.uint8)
        _render_blocks(layout, first_full - 1, tmp)
        head = first_full * BLOCK_SIZE - offset
        out[:head] = tmp[BLOCK_SIZE - head :]
        pos = head
    mid = (last_full - first_full) * BLOCK_SIZE
    _render_blocks(layout, first_full, out[pos : pos + mid])
    pos += mid
    if pos < n:
        tmp = np.empty(BLOCK_SIZE, np.uint8)
        _render_blocks(layout, last_full, tmp)
        out[pos:] = tmp[: n - pos]


class _ScratchPool:
    """Reuses large numpy buffers: fresh big allocations cost page faults on every call.

    Small requests get a plain new array (cheap); at most ``_POOL_MAX_TOTAL`` bytes are kept.
    """

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        """(Re)initialise; also run in a forked child, where another thread may have held the lock."""
        self._lock = threading.Lock()
        self._free: list[U8Array] = []
        self._kept = 0

    def acquire(self, n: int) -> U8Array:
        if _POOL_MIN_BUFFER <= n <= _POOL_MAX_BUFFER:
            with self._lock:
                for i, buf in enumerate(self._free):
                    if len(buf) >= n:
                        self._kept -= len(buf)
                        return self._free.pop(i)
        return np.empty(max(n, 1), np.uint8)

    def release(self, buf: U8Array) -> None:
        size = len(buf)
        if not _POOL_MIN_BUFFER <= size <= _POOL_MAX_BUFFER:
            return
        with self._lock:
            self._free.append(buf)
            self._free.sort(key=len)
            self._kept += size
            while self._kept > _POOL_MAX_TOTAL:
                self._kept -= len(self._free.pop(0))


scratch = _ScratchPool()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=scratch._reset)


def _load_madvise() -> Callable[[int, int, int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        fn = ctypes.CDLL(None, use_errno=True).madvise
    except (OSError, AttributeError):
        return None
    fn.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
    fn.restype = ctypes.c_int
    return fn


_madvise = _load_madvise()
_MADV_HUGEPAGE = 14
_HUGE_PAGE = 2 << 20


def advise_huge_pages(arr: U8Array) -> None:
    """Ask Linux to back the untouched buffer ``arr`` with transparent huge pages (best effort).

    Fresh memory costs a page fault per 4 KiB page on first touch; with 2 MiB pages a 64 MiB
    object takes 32 faults instead of 16384. Only whole 2 MiB pages inside ``arr`` are advised.
    """
    if _madvise is None or len(arr) < 2 * _HUGE_PAGE:
        return
    address = arr.__array_interface__["data"][0]
    start = -(-address // _HUGE_PAGE) * _HUGE_PAGE
    end = (address + len(arr)) // _HUGE_PAGE * _HUGE_PAGE
    if end > start:
        _madvise(start, end - start, _MADV_HUGEPAGE)  # an error (old kernel, no THP) is harmless


def build_bytes(size: int, fill: Callable[[U8Array], object]) -> bytes:
    """Return a new ``bytes`` of ``size`` bytes written in place by ``fill(out)``.

    ``out`` is a writable uint8 view of the final object (no intermediate buffer, no copy);
    ``fill`` must write every byte and keep no reference to ``out`` after it returns.
    """
    if size <= 0:
        return b""
    builder = new_bytes(size)
    out = np.frombuffer(builder.view, dtype=np.uint8)
    if size >= _HUGE_MIN:
        advise_huge_pages(out)
    fill(out)
    del out
    return builder.result()


def _as_writable_u8(buffer: Any) -> U8Array:
    """View any writable C-contiguous buffer as a flat uint8 array."""
    try:
        arr = np.frombuffer(buffer, dtype=np.uint8)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"buffer must be a contiguous bytes-like object: {exc}") from None
    if not arr.flags.writeable:
        raise TypeError(f"buffer must be writable, got read-only {type(buffer).__name__}")
    return arr


class DataGenerator:
    """Produces the bytes of one object in order, in pieces of any size.

    ``DataGenerator(size, dedup, compress, seed).read()`` equals ``generate_data(size, dedup,
    compress, seed)``. ``index``/``num`` place the object inside a multi-object call (the object
    uses stream blocks ``index * blocks .. (index + 1) * blocks`` of ``num * blocks``), which is
    how ``make_object`` spreads dedup across a call.
    """

    def __init__(
        self,
        size: int,
        dedup: int = 1,
        compress: int = 1,
        seed: int | None = None,
        *,
        index: int = 0,
        num: int = 1,
    ) -> None:
        self.size = check_int("size", size, 0)
        dedup = check_int("dedup", dedup, 1)
        compress = check_int("compress", compress, 1)
        if compress > MAX_COMPRESS:
            raise ValueError(f"compress must be <= {MAX_COMPRESS}, got {compress}")
        num = check_int("num", num, 1)
        index = check_int("index", index, 0)
        if index >= num:
            raise ValueError(f"index must be < num ({num}), got {index}")
        self.seed = new_seed() if seed is None else check_int("seed", seed, 0)
        blocks = -(-self.size // BLOCK_SIZE)
        self.dedup = dedup
        self.compress = compress
        self._layout = _Layout.for_call(self.seed, dedup, compress, blocks * num)
        self._base = index * blocks * BLOCK_SIZE
        self.position = 0

    @property
    def remaining(self) -> int:
        """Bytes not produced yet."""
        return self.size - self.position

    def seek(self, position: int) -> None:
        """Move to byte ``position`` of the object (0 restarts)."""
        position = check_int("position", position, 0)
        if position > self.size:
            raise ValueError(f"position must be <= size ({self.size}), got {position}")
        self.position = position

    def render(self, offset: int, out: U8Array) -> None:
        """Write object bytes ``[offset, offset + len(out))`` into ``out`` (no position change)."""
        if offset < 0 or offset + len(out) > self.size:
            raise ValueError("range outside the object")
        _render(self._layout, self._base + offset, out)

    def fill(self, buffer: Any) -> int:
        """Fill ``buffer`` (bytearray, memoryview, numpy array) with the next bytes.

        Returns the number of bytes written: ``min(len(buffer), remaining)``; 0 at the end.
        """
        arr = _as_writable_u8(buffer)
        n = min(len(arr), self.remaining)
        _render(self._layout, self._base + self.position, arr[:n])
        self.position += n
        return n

    def read(self, n: int = -1) -> bytes:
        """Return the next ``n`` bytes (all remaining bytes when ``n < 0``)."""
        n = self.remaining if n < 0 else min(check_int("n", n), self.remaining)
        start = self._base + self.position
        data = build_bytes(n, lambda out: _render(self._layout, start, out))
        self.position += n
        return data

    def chunks(self, chunk_size: int) -> Iterator[bytes]:
        """Yield the remaining bytes as ``bytes`` of ``chunk_size`` (the last may be shorter)."""
        chunk_size = check_int("chunk_size", chunk_size, 1)
        while self.remaining:
            yield self.read(chunk_size)


def generate_data(size: int, dedup: int = 1, compress: int = 1, seed: int | None = None) -> bytes:
    """Return ``size`` synthetic bytes with the given dedup and compress factors.

    Same arguments and a seed give the same bytes; without a seed a random one is drawn.
    """
    return DataGenerator(size, dedup, compress, seed).read()


def object_stride(size: int) -> int:
    """Bytes between the starts of consecutive objects in a call's stream (``size`` rounded up to
    whole blocks): the step of :func:`render_objects`."""
    return -(-size // BLOCK_SIZE) * BLOCK_SIZE


def render_objects(
    size: int, first: int, count: int, out: U8Array, *, seed: int, dedup: int, compress: int, num: int
) -> None:
    """Write objects ``first .. first + count - 1`` of a ``num``-object call in one pass.

    Object ``first + k`` (what ``DataGenerator(size, ..., index=first + k, num=num).read()``
    returns) is ``out[k * stride : k * stride + size]`` with ``stride = object_stride(size)``: the
    objects are consecutive pieces of the call's stream, so one render serves them all, with one
    key computation and a few large XORs instead of a round of numpy calls per object. ``out``
    must hold ``count * stride`` bytes; the padding between objects is stream data too.
    """
    stride = object_stride(size)
    if not 0 <= first <= first + count <= num:
        raise ValueError(f"objects {first}..{first + count - 1} outside 0..{num - 1}")
    if len(out) < count * stride:
        raise ValueError(f"out holds {len(out)} bytes, {count * stride} needed")
    layout = _Layout.for_call(seed, dedup, compress, stride // BLOCK_SIZE * num)
    _render_blocks(layout, first * stride // BLOCK_SIZE, out[: count * stride])


def iter_chunks(
    size: int, chunk_size: int, dedup: int = 1, compress: int = 1, seed: int | None = None
) -> Iterator[bytes]:
    """Yield the bytes of ``generate_data(size, dedup, compress, seed)`` in ``chunk_size`` pieces."""
    return DataGenerator(size, dedup, compress, seed).chunks(chunk_size)
