# ruff: noqa: A002, SIM105  (DLIO's own names and its try/except/pass, kept as written)
"""A faithful small client of DLIO's s3dlio code path (github mlcommons/DLIO_local_changes).

Each method makes the s3dlio calls of the upstream function named in its comment, in the same
way: the same arguments, the same handling of results (URI strings, ``len(data)``, ``(uri, data)``
pairs, ``item.uri``), and the same ``except RuntimeError`` where DLIO catches errors. DLIO itself
is not vendored; this is the part of it that talks to s3dlio.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

import s3dlio


class DLIOClient:
    """``storage_root`` is DLIO's ``bucket/prefix`` (or ``/abs/path``), ``uri_scheme`` its scheme."""

    # dlio_benchmark/storage/obj_store_lib.py: class constants read from the environment
    _MULTIPART_THRESHOLD = int(os.environ.get("S3DLIO_MULTIPART_THRESHOLD_MB", "16")) * 1024 * 1024
    _MULTIPART_MAX_RETRIES = 3
    _MULTIPART_RETRY_DELAY_S = 0.0

    def __init__(self, uri_scheme: str, storage_root: str) -> None:
        self.uri_scheme = uri_scheme
        self.storage_root = storage_root.rstrip("/")
        self._s3dlio = s3dlio
        # obj_store_lib.ObjStoreLibStorage.__init__: bucket reachability check
        bucket = self.storage_root.lstrip("/").split("/", 1)[0]
        if uri_scheme in ("s3", "az", "gs"):
            self._s3dlio.list(f"{self.uri_scheme}://{bucket}/")

    # obj_store_lib.get_uri / _s3_iterable_mixin._uri_for_obj_key
    def get_uri(self, key: str) -> str:
        if "://" in key:
            return key
        return f"{self.uri_scheme}://{self.storage_root}/{key.lstrip('/')}"

    # --- generation -------------------------------------------------------------------------
    # data_generator/npz_generator.py: NPZGenerator.generate()._write, fast path
    def generate_npz(self, key: str, dim1: int, dim2: int, num_samples: int, dtype: Any) -> int:
        has_fast_path = hasattr(self._s3dlio, "generate_npz_bytes")
        assert has_fast_path
        shape = [dim1, dim2, num_samples]
        dtype_str = np.dtype(dtype).str
        npz_view = self._s3dlio.generate_npz_bytes(shape=shape, dtype=dtype_str, num_samples=num_samples)
        self.put_data(self.get_uri(key), npz_view)
        return len(npz_view)

    # obj_store_lib.put_data (s3dlio branch)
    def put_data(self, id: str, data: Any) -> None:
        if hasattr(data, "getbuffer"):
            payload = data.getbuffer()
        elif hasattr(data, "getvalue"):
            payload = data.getvalue()
        else:
            payload = data
        if len(payload) >= self._MULTIPART_THRESHOLD:
            self._mpu_upload_with_retry(id, lambda: [payload])
        else:
            self._s3dlio.put_bytes(id, payload)

    # obj_store_lib._mpu_upload_with_retry
    def _mpu_upload_with_retry(self, uri: str, data_source: Callable[[], Iterable[Any]]) -> None:
        last_err = None
        for attempt in range(1, self._MULTIPART_MAX_RETRIES + 1):
            writer = self._s3dlio.MultipartUploadWriter.from_uri(uri)
            try:
                for chunk in data_source():
                    writer.write(chunk)
                writer.close()
                return
            except RuntimeError as e:
                last_err = e
                try:
                    writer.abort()
                except Exception:
                    pass
                if attempt < self._MULTIPART_MAX_RETRIES:
                    logging.warning("multipart upload attempt %s failed for %s: %s", attempt, uri, e)
                    time.sleep(self._MULTIPART_RETRY_DELAY_S)
        raise RuntimeError(f"Multipart upload to {uri} failed") from last_err

    # --- metadata ---------------------------------------------------------------------------
    # obj_store_lib.list_objects (s3dlio branch)
    def list_objects(self, container_name: str, prefix: str | None = None) -> list[str]:
        paths = []
        try:
            key_prefix = prefix.lstrip("/") if prefix else ""
            list_uri = f"{self.uri_scheme}://{container_name}/{key_prefix}".rstrip("/") + "/"
            full_uris = self._s3dlio.list(list_uri, recursive=True)
            if full_uris and not full_uris[0].startswith(list_uri):
                actual_scheme = full_uris[0].split("://")[0]
                strip_prefix = f"{actual_scheme}://{container_name}/{key_prefix}".rstrip("/") + "/"
            else:
                strip_prefix = list_uri
            for full_uri in full_uris:
                if full_uri.startswith(strip_prefix):
                    relative = full_uri[len(strip_prefix) :]
                    if relative:
                        paths.append(relative)
        except Exception as e:
            print(f"Error listing objects in '{container_name}': {e}")
        return paths

    # obj_store_lib.file_exists
    def file_exists(self, key: str) -> bool:
        return bool(self._s3dlio.exists(self.get_uri(key)))

    # obj_store_lib.get_data (s3dlio branch)
    def get_data(self, id: str, offset: int | None = None, length: int | None = None) -> Any:
        if offset is not None and length is not None:
            return self._s3dlio.get_range(id, offset=offset, length=length)
        result = self._s3dlio.get(id)
        logging.debug("get_data: s3dlio.get returned %s bytes", len(result))
        return result

    # framework/tf_framework.py: walk_node, get_data, isfile, delete_node (object-store branch)
    def tf_walk_node(self, id: str) -> list[str]:
        uris = self._s3dlio.list(id)
        prefix = id.rstrip("/") + "/"
        return [u[len(prefix) :] if u.startswith(prefix) else u for u in uris]

    def tf_get_data(self, id: str) -> bytes:
        return bytes(self._s3dlio.get(id))

    def tf_isfile(self, id: str) -> bool:
        return bool(self._s3dlio.exists(id))

    def tf_delete_node(self, id: str) -> bool:
        uris = self._s3dlio.list(id)
        for uri in uris:
            self._s3dlio.delete(uri)
        return True

    # --- reading: reader/_s3_iterable_mixin.py ------------------------------------------------
    # _S3IterableMixin._prefetch_s3dlio
    def prefetch_s3dlio(self, obj_keys: list[str]) -> dict[str, int]:
        uris = [self.get_uri(k) for k in obj_keys]
        uri_to_key = dict(zip(uris, obj_keys, strict=True))
        max_in_flight = min(64, len(uris))
        results = self._s3dlio.get_many(uris, max_in_flight=max_in_flight)
        cache = {}
        for uri, data in results:
            cache[uri_to_key.get(uri, uri)] = len(data)
        return cache

    # _S3IterableMixin._s3_stream_s3dlio: one reader thread's epoch (yields one item per batch)
    def stream_s3dlio(
        self, obj_keys: list[str], batch_size: int, num_spf: int, prefetch: int = 64, record_bytes: int = 0
    ) -> Iterator[dict[str, int]]:
        collect_n = max(1, batch_size // num_spf)
        uris = [self.get_uri(k) for k in obj_keys]
        uri_to_key = {u: k for k, u in zip(obj_keys, uris, strict=True)}
        ds = self._s3dlio.PyDataset.from_uris(uris)
        skip_head = not (record_bytes >= 16 * 1024 * 1024)
        loader = self._s3dlio.PyBytesAsyncDataLoader(ds, {"prefetch": prefetch, "skip_head": skip_head})
        item_iter = loader.items()
        sample_buf = 0
        seen: dict[str, int] = {}
        while batch := item_iter.collect_batch(collect_n):
            for item in batch:
                obj_key = uri_to_key.get(item.uri, item.uri)
                seen[obj_key] = len(item)
                for _ in range(num_spf):
                    sample_buf += 1
                    if sample_buf >= batch_size:
                        yield dict(seen)
                        sample_buf -= batch_size
        yield dict(seen)

    # --- reading: reader/_local_fs_iterable_mixin.py -----------------------------------------
    # _LocalFSIterableMixin._prefetch_direct (O_DIRECT through direct:// URIs)
    def prefetch_direct(self, paths: list[str]) -> dict[str, int]:
        uris = [f"direct://{os.path.abspath(p)}" for p in paths]
        uri_to_path = dict(zip(uris, paths, strict=True))
        max_in_flight = min(64, len(uris))
        results = self._s3dlio.get_many(uris, max_in_flight=max_in_flight)
        cache = {}
        for uri, data in results:
            path = uri_to_path.get(uri, uri)
            cache[path] = len(data)
        return cache


def run_epoch(client: DLIOClient, keys: list[str], read_threads: int, batch_size: int = 2) -> dict[str, int]:
    """One training epoch: DLIO's reader runs in the main thread (``read_threads=0``) or in
    ``read_threads`` torch DataLoader workers (forked processes), each with its share of files."""
    if read_threads == 0:
        seen: dict[str, int] = {}
        for snapshot in client.stream_s3dlio(keys, batch_size=batch_size, num_spf=1):
            seen.update(snapshot)
        return seen
    import torch.utils.data

    class _Files(torch.utils.data.IterableDataset[dict[str, int]]):
        # DLIO's TorchDataset: worker i reads files i, i + n, ... (thread_index = worker id)
        def __iter__(self) -> Iterator[dict[str, int]]:
            info = torch.utils.data.get_worker_info()
            share = keys[info.id :: info.num_workers] if info is not None else keys
            last: dict[str, int] = {}
            for snapshot in client.stream_s3dlio(share, batch_size=batch_size, num_spf=1):
                last = snapshot
            yield last

    loader = torch.utils.data.DataLoader(_Files(), batch_size=None, num_workers=read_threads)
    merged: dict[str, int] = {}
    for part in loader:
        merged.update(part)
    return merged


__all__ = ["DLIOClient", "run_epoch"]
