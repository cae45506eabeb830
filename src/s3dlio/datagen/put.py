"""``put()``: generate synthetic objects and write them to any backend, concurrently.

Generation (CPU, in worker threads; numpy releases the GIL) overlaps with uploads: up to
``max_in_flight`` objects are being generated or written at once, so memory stays near
``max_in_flight * size``. Objects above the multipart threshold of type ``zeros``/``random`` are
streamed in ``part_size`` chunks and never held whole.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ..ops import open_writer_async, put_bytes_async, resolve, run_bounded
from ..stores.local import LocalStore, run_io, translate_os_error
from ..uri import parse_uri
from .generator import new_seed
from .objects import STREAMABLE_TYPES, make_object, object_chunks, validate_put_args
from .templates import expand_template

__all__ = ["ProgressCallback", "put_async"]

ProgressCallback = Callable[[int, int], None]
"""Called as ``progress(objects_done, bytes_done)`` after each object is written."""

MiB = 1024 * 1024


async def put_async(
    prefix: str,
    num: int,
    template: str = "object_{}",
    object_type: str = "zeros",
    size: int = MiB,
    max_in_flight: int = 32,
    compress_factor: int = 1,
    dedup_factor: int = 1,
    seed: int | None = None,
    progress: ProgressCallback | None = None,
) -> list[str]:
    """Generate ``num`` objects named ``prefix + template.format(i)`` and write them.

    ``object_type`` is one of ``zeros``, ``random``, ``npz``, ``hdf5``, ``tfrecord``; ``size`` is
    each object's size in bytes (formats land within 1%). ``compress_factor`` and ``dedup_factor``
    set the zlib compression ratio and the 4 KiB-block dedup ratio of the data (of the payload
    for formats). With ``seed`` the call is reproducible byte for byte; without, it is random.
    The template takes Python format syntax: ``"sample_{:06d}.npz"``; an optional second field
    receives ``num`` (``"part_{}_of_{}"``). Every argument is checked before anything is written.
    Returns the URIs written, in index order.
    """
    try:
        validate_put_args(num, template, object_type, size, compress_factor, dedup_factor, max_in_flight)
    except TypeError as exc:
        raise ValueError(str(exc)) from exc
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ValueError(f"seed must be an integer or None, got {seed!r}")
    parsed = parse_uri(prefix)
    base = prefix if prefix.endswith("/") or not parsed.key else prefix + "/"
    uris = [base + expand_template(template, index, num) for index in range(num)]
    for uri in uris[:1]:
        resolve(uri)  # a bad scheme or bucket fails before any generation
    call_seed = new_seed() if seed is None else seed
    done_objects = done_bytes = 0
    config_store, _, _ = resolve(uris[0])
    local = config_store if isinstance(config_store, LocalStore) else None
    stream_above = config_store.config.multipart_threshold
    part_size = config_store.config.part_size

    def generate(index: int) -> bytes:
        return make_object(
            object_type, index, size, seed=call_seed, dedup=dedup_factor, compress=compress_factor, num=num
        )

    async def write_one(index: int) -> None:
        nonlocal done_objects, done_bytes
        uri = uris[index]
        if object_type in STREAMABLE_TYPES and size > stream_above:
            chunks = object_chunks(
                object_type, index, size, part_size,
                seed=call_seed, dedup=dedup_factor, compress=compress_factor, num=num,
            )  # fmt: skip
            async with open_writer_async(uri) as writer:
                while chunk := await asyncio.to_thread(next, chunks, b""):
                    await writer.write(chunk)
        elif local is not None:
            # Local files: generate and write in one hop to the I/O pool.
            await run_io(_generate_and_write, local, uris[index], generate, index)
        else:
            await put_bytes_async(uri, await asyncio.to_thread(generate, index))
        done_objects += 1
        done_bytes += size
        if progress is not None:
            progress(done_objects, done_bytes)

    await run_bounded(range(num), write_one, max_in_flight)
    return uris


def _generate_and_write(store: LocalStore, uri: str, generate: Callable[[int], bytes], index: int) -> None:
    data = generate(index)
    key = uri.split(":///", 1)[1]
    try:
        store._put_file(store.path(key), memoryview(data))
    except OSError as exc:
        raise translate_os_error(exc, uri, "put") from exc
