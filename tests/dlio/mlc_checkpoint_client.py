"""A faithful small client of mlc-storage's streaming checkpoint code, with backend='s3dlio'.

It makes the s3dlio calls of these upstream files (github russfellows/mlc-storage), in the same
way and the same process layout:

* mlpstorage_py/checkpointing/streaming_checkpoint.py: ``StreamingCheckpointing.save`` (a
  producer filling shared-memory buffers, a writer process started with the ``fork`` context,
  Queue/Event IPC, stats sent back through a Queue) and ``load`` (parallel readers, one block
  each, read in ``read_chunk`` steps);
* mlpstorage_py/checkpointing/storage_writers/s3dlio_writer.py: ``S3DLIOStorageWriter``
  (``MultipartUploadWriter.from_uri`` for s3/gs; ``PyWriterOptions().with_buffer_size`` with
  ``create_azure_writer`` / ``create_filesystem_writer`` / ``create_direct_filesystem_writer``;
  ``write(buffer[:size])`` / ``write_chunk(buffer[:size])``; ``close()`` / ``finalize()``);
* mlpstorage_py/checkpointing/storage_readers/s3dlio_reader.py: ``S3DLIOStorageReader``
  (``s3dlio.get_range(uri, offset, size)`` with positional arguments, ``len(data)``).

Run as ``python mlc_checkpoint_client.py URI TOTAL_BYTES WARM``; with ``WARM=1`` the parent uses
s3dlio (put, list, get) before it forks the writer, the case in which the original hangs. Prints
one JSON line with the save and load statistics.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from multiprocessing import shared_memory
from typing import Any

MiB = 1024 * 1024


# --- storage_writers/s3dlio_writer.py ---------------------------------------------------------
class S3DLIOStorageWriter:
    def __init__(
        self, uri: str, chunk_size: int = 32 * MiB, part_size: int = 32 * MiB, max_in_flight: int = 16
    ):
        if part_size < 5 * 1024 * 1024:
            raise ValueError("part_size must be >= 5 MB")
        import s3dlio

        self.s3dlio = s3dlio
        self.uri = uri
        self.chunk_size = chunk_size
        self.total_bytes = 0
        if uri.startswith("s3://") or uri.startswith("gs://"):
            self.writer = s3dlio.MultipartUploadWriter.from_uri(
                uri, part_size=part_size, max_in_flight=max_in_flight, abort_on_drop=True
            )
            self.writer_type = "multipart"
        elif uri.startswith("az://"):
            options = s3dlio.PyWriterOptions().with_buffer_size(chunk_size)
            self.writer = s3dlio.create_azure_writer(uri, options)
            self.writer_type = "streaming"
        elif uri.startswith("file://"):
            options = s3dlio.PyWriterOptions().with_buffer_size(chunk_size)
            self.writer = s3dlio.create_filesystem_writer(uri, options)
            self.writer_type = "streaming"
        elif uri.startswith("direct://"):
            options = s3dlio.PyWriterOptions().with_buffer_size(chunk_size)
            self.writer = s3dlio.create_direct_filesystem_writer(uri, options)
            self.writer_type = "streaming"
        else:
            raise ValueError(f"Unsupported URI scheme: {uri}")

    def write_chunk(self, buffer: memoryview, size: int) -> int:
        if self.writer_type == "multipart":
            self.writer.write(buffer[:size])
        else:
            self.writer.write_chunk(buffer[:size])
        self.total_bytes += size
        return size

    def close(self) -> dict[str, Any]:
        if self.writer_type == "multipart":
            stats = self.writer.close()
            return {
                "backend": "s3dlio-multipart",
                "total_bytes": stats.get("total_bytes", self.total_bytes),
                "parts": stats.get("parts", 0),
                "etag": stats.get("etag", None),
            }
        self.writer.finalize()
        return {"backend": "s3dlio-streaming", "total_bytes": self.total_bytes}


# --- storage_readers/s3dlio_reader.py ---------------------------------------------------------
class S3DLIOStorageReader:
    def __init__(self, uri: str, chunk_size: int | None = None):
        import s3dlio

        self.s3dlio = s3dlio
        self.uri = uri
        self.total_bytes = 0

    def read_chunk(self, offset: int, size: int) -> int:
        data = self.s3dlio.get_range(self.uri, offset, size)
        nbytes = len(data)
        self.total_bytes += nbytes
        return nbytes

    def close(self) -> dict[str, Any]:
        return {"backend": "s3dlio", "total_bytes": self.total_bytes}


# --- streaming_checkpoint.py ------------------------------------------------------------------
def fill(buffer: memoryview, size: int, index: int) -> None:
    buffer[:size] = bytes([index % 251]) * size


class StreamingCheckpointing:
    def __init__(
        self, chunk_size: int, num_buffers: int, backend: str = "s3dlio", num_parallel_readers: int = 4
    ):
        self.chunk_size = chunk_size
        self.num_buffers = num_buffers
        self.backend = backend
        self.num_parallel_readers = num_parallel_readers
        self.read_chunk_size = chunk_size

    def save(self, filepath: str, total_size_bytes: int) -> dict[str, Any]:
        buffers = []
        names = []
        for i in range(self.num_buffers):
            shm = shared_memory.SharedMemory(
                create=True, size=self.chunk_size, name=f"ckpt_{os.getpid()}_{i}_{time.time_ns()}"
            )
            buffers.append(shm)
            names.append(shm.name)
        ctx = mp.get_context("fork")
        buffer_queue = ctx.Queue(maxsize=self.num_buffers)
        stop_event = ctx.Event()
        stats_queue = ctx.Queue()
        writer_proc = ctx.Process(
            target=self._writer_process,
            args=(names, self.chunk_size, filepath, total_size_bytes, buffer_queue, stop_event, stats_queue),
        )
        writer_proc.start()
        try:
            generated = 0
            index = 0
            while generated < total_size_bytes:
                size = min(self.chunk_size, total_size_bytes - generated)
                slot = index % self.num_buffers
                fill(buffers[slot].buf, size, index)
                buffer_queue.put((slot, size))
                generated += size
                index += 1
            buffer_queue.put(None)
            writer_proc.join(timeout=120)
            if writer_proc.is_alive():
                writer_proc.terminate()
                raise RuntimeError("Writer process timed out")
        finally:
            for shm in buffers:
                shm.close()
                shm.unlink()
        stats = stats_queue.get(timeout=10)
        if "error" in stats:
            raise RuntimeError(f"Writer process error: {stats['error']}")
        return stats

    @staticmethod
    def _writer_process(names, chunk_size, filepath, total_size, buffer_queue, stop_event, stats_queue):  # type: ignore[no-untyped-def]
        buffers = [shared_memory.SharedMemory(name=name) for name in names]
        writer = S3DLIOStorageWriter(filepath, chunk_size=chunk_size, part_size=chunk_size, max_in_flight=4)
        written = 0
        error = None
        try:
            while written < total_size:
                item = buffer_queue.get()
                if item is None:
                    break
                slot, nbytes = item
                written += writer.write_chunk(buffers[slot].buf, nbytes)
        except Exception as exc:
            error = str(exc)
        finally:
            writer_stats: dict[str, Any] = {}
            try:
                writer_stats = writer.close()
            except Exception as exc:
                error = error or f"close() failed: {exc}"
            result: dict[str, Any] = {"total_bytes": written, "backend_stats": writer_stats}
            if error is not None:
                result["error"] = error
            stats_queue.put(result)
            stats_queue.close()
            stats_queue.join_thread()
            for shm in buffers:
                shm.close()
            sys.stdout.flush()
            os._exit(0)

    def load(self, filepath: str, total_size_bytes: int) -> dict[str, Any]:
        n = self.num_parallel_readers
        block = (total_size_bytes + n - 1) // n
        blocks = [(s, min(s + block, total_size_bytes)) for s in range(0, total_size_bytes, block)]
        readers = [S3DLIOStorageReader(filepath, chunk_size=self.read_chunk_size) for _ in blocks]

        def read_block(reader: S3DLIOStorageReader, start: int, end: int) -> int:
            offset = start
            while offset < end:
                size = min(self.read_chunk_size, end - offset)
                nbytes = reader.read_chunk(offset, size)
                if nbytes == 0:
                    raise RuntimeError(f"Reader returned 0 bytes at offset {offset}")
                offset += nbytes
            return offset - start

        with ThreadPoolExecutor(max_workers=len(blocks)) as pool:
            total = sum(pool.map(lambda rb: read_block(rb[0], *rb[1]), zip(readers, blocks, strict=True)))
        return {"total_bytes": total, "backend_stats": [r.close() for r in readers]}


def main() -> None:
    uri, total, warm = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
    if warm:  # the parent uses s3dlio first: its event loop and clients are running at fork
        import s3dlio

        probe = uri + ".probe"
        s3dlio.put_bytes(probe, b"warm")
        assert bytes(s3dlio.get(probe)) == b"warm"
        s3dlio.list(probe.rsplit("/", 1)[0] + "/")
        s3dlio.delete(probe)
    checkpoint = StreamingCheckpointing(chunk_size=5 * MiB, num_buffers=3)
    saved = checkpoint.save(uri, total)
    loaded = checkpoint.load(uri, total)
    print(json.dumps({"saved": saved, "loaded": loaded}))


if __name__ == "__main__":
    main()
