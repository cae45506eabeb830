#!/usr/bin/env python3
"""Run ONE workload with the ORIGINAL (Rust, PyPI) s3dlio and print ONE JSON line.

Run it with the original's venv (see bench/setup_original.sh), never with ours:

    .bench/venv-original/bin/python bench/_original_worker.py get \
        --uri s3://bucket/prefix/ --concurrency 32 --repeat 3 [--prepare --num 200 --size 262144]

stdout gets exactly one line, a JSON object:
    {"workload", "impl": "original", "version", "bytes", "objects", "seconds", "mb_per_s",
     "mib_per_s", "objects_per_s", "all_seconds", "params", ...workload extras}
`seconds` is the best (smallest) of `--repeat` timed runs; `bytes`/`objects` are those of one
run. MB = 10**6 bytes. On failure the line has "error" and the exit status is 1.
Anything the native library prints goes to stderr (stdout is re-pointed while it runs).

Only the operation itself is timed: listing the prefix, making buffers, preparing data and
(for ckpt-load) the save that precedes it are setup. Exception: `loader` and `torch-iter`
time the whole epoch as a user sees it, which includes the loader's own listing of the
prefix (`iter_seconds` in the output leaves the loader construction out for `loader`).

Credentials / endpoint come from the environment (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_REGION) or from --endpoint-url/--access-key/--secret-key/--region,
which set those variables before the library's first S3 call.

Workloads (all take --repeat, --warmup):
  prepare     write --num objects of --size bytes under --uri (obj_000000.bin, ...)
  get         GET every object under --uri (or the first --num), --concurrency in flight
              --api get_many (default) | get_many_stats | threads (s3dlio.get in a thread pool)
  put         PUT --num objects of --size bytes from one pre-made buffer, --concurrency in flight
              --api put_many (default) | threads (s3dlio.put_bytes in a thread pool)
              --buffer bytes (default) | bytearray | numpy
  list        list --uri (recursive unless --no-recursive); objects_per_s = keys/s
  file-get    like get, for a local directory (--uri /dir or file:///dir/)
  loader      iterate create_async_loader(--uri, {"batch_size": B, "prefetch": C})
              --iter async (default; yields lists of B) | sync (yields single objects) |
                     items (PyBytesAsyncDataLoader.items()) | collect (items().collect_batch(B))
  datagen     generate_data(--size) in memory (--threads -> generate_data_with_threads)
  put-gen     s3dlio.put(--uri, --num, template, max_in_flight=C, size=--size,
              object_type=--object-type) to s3:// or file://
  ckpt-save   PyCheckpointStore(--uri).save of --num arrays totalling --size bytes
              --ckpt-mode single (default: arrays concatenated in setup, one save()) |
                          shards (one distributed shard per array, C threads, then finalize)
  ckpt-load   load what ckpt-save wrote (saved once in setup): load_latest() or, in shards
              mode, read_shard_by_rank for every rank in C threads
  torch-iter  s3dlio.torch.ObjectStoreIterableDataset.from_prefix(--uri, prefetch=C) through a
              torch DataLoader(batch_size=B or None, num_workers=--workers)
              --shard none (default: the original's dataset as is; NOTE every worker reads the
                      whole prefix) | manual (each worker reads its own slice via
                      PyDataset.from_uris + PyBytesAsyncDataLoader)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import traceback
from concurrent.futures import ThreadPoolExecutor

# Keep stdout for the one JSON line; everything else (native prints included) -> stderr.
_JSON_FD = os.dup(1)
os.dup2(2, 1)
sys.stdout = os.fdopen(1, "w", buffering=1, closefd=False)

# Anything that can touch the native runtime is imported lazily (see torch-iter: the original
# is NOT fork-safe, so the parent of a forking DataLoader must not have used it).
s3dlio = None  # type: ignore[assignment]

EXT = {
    "npz": "npz",
    "tfrecord": "tfrecord",
    "hdf5": "h5",
    "random": "bin",
    "zeros": "bin",
    "rawbinary": "bin",
}


def _lib():
    global s3dlio
    if s3dlio is None:
        import s3dlio as _s

        s3dlio = _s
    return s3dlio


def emit(obj: dict, rc: int = 0) -> None:
    os.write(_JSON_FD, (json.dumps(obj, default=str) + "\n").encode())
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(rc)  # skip native atexit/teardown, which can be slow or hang


# ----------------------------------------------------------------------------- helpers
def norm_prefix(uri: str) -> str:
    if "://" not in uri:
        uri = "file://" + os.path.abspath(uri)
    if not uri.endswith("/"):
        uri += "/"
    return uri


def is_file_uri(uri: str) -> bool:
    return uri.startswith("file://") or uri.startswith("direct://")


def local_path(uri: str) -> str:
    return uri.split("://", 1)[1]


def list_objects(prefix: str, num: int | None = None) -> list[str]:
    uris = sorted(u for u in _lib().list(prefix, recursive=True) if not u.endswith("/"))
    if num:
        uris = uris[:num]
    return uris


def make_buffer(size: int, kind: str = "bytes", seed: int = 0):
    try:
        import numpy as np

        arr = np.random.default_rng(seed).integers(0, 256, size=size, dtype=np.uint8)
        if kind == "numpy":
            return arr
        return bytearray(arr.tobytes()) if kind == "bytearray" else arr.tobytes()
    except ImportError:
        data = os.urandom(size)
        return bytearray(data) if kind == "bytearray" else data


def obj_uri(prefix: str, i: int, stem: str = "obj", ext: str = "bin") -> str:
    return f"{prefix}{stem}_{i:06d}.{ext}"


def prepare(prefix: str, num: int, size: int, concurrency: int = 64, force: bool = False) -> int:
    """Make sure obj_000000.bin ... exist under prefix (num objects of size bytes)."""
    s = _lib()
    want = [obj_uri(prefix, i) for i in range(num)]
    if not force:
        try:
            have = set(s.list(prefix, recursive=True))
        except Exception:
            have = set()
        missing = [u for u in want if u not in have]
        if not missing:
            # existence is not enough: check the size of the first and last
            if all(int(s.stat(u)["size"]) == size for u in (want[0], want[-1])):
                return 0
            missing = want
    else:
        missing = want
    buf = make_buffer(size)
    s.put_many([(u, buf) for u in missing], max_in_flight=max(1, concurrency))
    return len(missing)


def time_best(fn, repeat: int, warmup: int = 0, before=None):
    """Run fn() warmup+repeat times; return (best_seconds, all_seconds, last_result)."""
    times, result = [], None
    global LAST_CPU
    for i in range(warmup + repeat):
        if before is not None:
            before(i)
        c0 = time.process_time()
        t0 = time.perf_counter()
        result = fn()
        dt = time.perf_counter() - t0
        if i >= warmup:
            if not times or dt < min(times):
                LAST_CPU = time.process_time() - c0  # client CPU (user+sys, all threads) of the best run
            times.append(dt)
    return min(times), times, result


LAST_CPU = None


def result(args, nbytes: int, objects: int, best: float, times: list[float], **extra) -> dict:
    out = {
        "workload": args.workload,
        "impl": "original",
        "version": getattr(_lib(), "__version__", None) if s3dlio is not None else None,
        "bytes": int(nbytes),
        "objects": int(objects),
        "seconds": best,
        "cpu_seconds": LAST_CPU,
        "mb_per_s": (nbytes / best / 1e6) if best > 0 else 0.0,
        "mib_per_s": (nbytes / best / 2**20) if best > 0 else 0.0,
        "objects_per_s": (objects / best) if best > 0 else 0.0,
        "all_seconds": times,
        "params": {
            k: v for k, v in vars(args).items() if k not in ("secret_key", "access_key") and v is not None
        },
    }
    out.update(extra)
    return out


# ----------------------------------------------------------------------------- workloads
def w_prepare(args):
    prefix = norm_prefix(args.uri)
    t0 = time.perf_counter()
    n = prepare(prefix, args.num, args.size, args.concurrency, force=args.force)
    dt = time.perf_counter() - t0
    return result(args, n * args.size, n, dt, [dt], written=n)


def _get_like(args):
    s = _lib()
    prefix = norm_prefix(args.uri)
    if args.prepare:
        prepare(prefix, args.num, args.size, args.concurrency)
    uris = list_objects(prefix, args.num)
    if not uris:
        raise SystemExit(f"no objects under {prefix}")
    c = args.concurrency

    if args.api == "get_many":

        def run():
            res = s.get_many(uris, max_in_flight=c)
            return len(res), sum(len(v) for _, v in res)
    elif args.api == "get_many_stats":

        def run():
            n, b = s.get_many_stats(uris, max_in_flight=c)
            return n, b
    elif args.api == "threads":
        pool = ThreadPoolExecutor(max_workers=c)

        def run():
            sizes = list(pool.map(lambda u: len(s.get(u)), uris))
            return len(sizes), sum(sizes)
    else:
        raise SystemExit(f"unknown --api {args.api} for {args.workload}")

    best, times, (n, b) = time_best(run, args.repeat, args.warmup)
    return result(args, b, n, best, times, api=args.api)


def w_get(args):
    return _get_like(args)


def w_file_get(args):
    if not is_file_uri(norm_prefix(args.uri)):
        raise SystemExit("file-get needs a local directory or file:// URI")
    return _get_like(args)


def w_put(args):
    s = _lib()
    prefix = norm_prefix(args.uri)
    buf = make_buffer(args.size, args.buffer)
    uris = [obj_uri(prefix, i, "put") for i in range(args.num)]
    c = args.concurrency
    if args.api == "put_many":
        items = [(u, buf) for u in uris]

        def run():
            s.put_many(items, max_in_flight=c)
    elif args.api == "threads":
        pool = ThreadPoolExecutor(max_workers=c)

        def run():
            list(pool.map(lambda u: s.put_bytes(u, buf), uris))
    else:
        raise SystemExit(f"unknown --api {args.api} for put")
    # one untimed tiny call so client construction is not timed
    s.put_bytes(prefix + "_warm.bin", b"x")
    best, times, _ = time_best(run, args.repeat, args.warmup)
    if args.cleanup:
        s.delete(prefix, recursive=True) if not is_file_uri(prefix) else _rm_local(prefix)
    return result(args, args.size * args.num, args.num, best, times, api=args.api, buffer=args.buffer)


def _rm_local(prefix: str) -> None:
    import shutil

    shutil.rmtree(local_path(prefix), ignore_errors=True)


def w_list(args):
    s = _lib()
    prefix = norm_prefix(args.uri)
    if args.prepare:
        prepare(prefix, args.num, args.size, args.concurrency)
    rec = not args.no_recursive

    def run():
        return len(s.list(prefix, recursive=rec))

    best, times, n = time_best(run, args.repeat, args.warmup)
    return result(args, 0, n, best, times, keys_per_s=n / best if best else 0.0, recursive=rec)


def w_loader(args):
    s = _lib()
    prefix = norm_prefix(args.uri)
    if args.prepare:
        prepare(prefix, args.num, args.size, args.concurrency)
    B, C = args.batch_size or 1, args.concurrency
    opts = {"batch_size": B, "prefetch": C}
    if args.shuffle:
        opts.update(shuffle=True, seed=0)
    iter_times: list[float] = []
    mode = args.iter

    uris = None
    if mode in ("items", "collect"):
        uris = list_objects(prefix, args.num)  # from_uris: no listing inside the timed part

    def run():
        n = b = 0
        if mode == "async":
            import asyncio

            async def go():
                nn = bb = 0
                loader = s.create_async_loader(prefix, opts)
                t1 = time.perf_counter()
                async for batch in loader:  # list[BytesView] of up to B
                    nn += len(batch)
                    bb += sum(len(x) for x in batch)
                return nn, bb, t1

            n, b, t1 = asyncio.run(go())
        elif mode == "sync":
            loader = s.create_async_loader(prefix, opts)
            t1 = time.perf_counter()
            for x in loader:  # one BytesView per object (batch_size is NOT applied)
                n += 1
                b += len(x)
        elif mode == "items":
            loader = s.PyBytesAsyncDataLoader(s.PyDataset.from_uris(uris), opts)
            t1 = time.perf_counter()
            for it in loader.items():  # PyObjectItem, completion order
                n += 1
                b += it.byte_count
        elif mode == "collect":
            loader = s.PyBytesAsyncDataLoader(s.PyDataset.from_uris(uris), opts)
            t1 = time.perf_counter()
            it = loader.items()
            while batch := it.collect_batch(B):
                n += len(batch)
                b += sum(x.byte_count for x in batch)
        else:
            raise SystemExit(f"unknown --iter {mode}")
        iter_times.append(time.perf_counter() - t1)
        return n, b

    best, times, (n, b) = time_best(run, args.repeat, args.warmup)
    it_best = min(iter_times[args.warmup :]) if iter_times[args.warmup :] else None
    return result(
        args,
        b,
        n,
        best,
        times,
        iter=mode,
        batch_size=B,
        prefetch=C,
        iter_seconds=it_best,
        iter_mb_per_s=(b / it_best / 1e6) if it_best else None,
    )


def w_datagen(args):
    s = _lib()
    size = args.size
    if args.threads:

        def run():
            return len(s.generate_data_with_threads(size, args.dedup, args.compress, threads=args.threads))
    else:

        def run():
            return len(s.generate_data(size, args.dedup, args.compress))

    run()  # warm (thread pool start-up)
    best, times, n = time_best(run, args.repeat, args.warmup)
    return result(
        args, n, 1, best, times, threads=args.threads, default_threads=s.py_default_data_gen_threads()
    )


def w_put_gen(args):
    s = _lib()
    prefix = norm_prefix(args.uri)
    ot = args.object_type
    template = args.template or f"obj_{{}}.{EXT.get(ot, 'bin')}"
    kw = dict(
        template=template,
        max_in_flight=args.concurrency,
        size=args.size,
        object_type=ot,
        dedup_factor=args.dedup,
        compress_factor=args.compress,
    )
    if is_file_uri(prefix):
        os.makedirs(local_path(prefix), exist_ok=True)
    else:
        s.put_bytes(prefix + "_warm.bin", b"x")

    def before(_i):
        if is_file_uri(prefix) and args.fresh:
            _rm_local(prefix)
            os.makedirs(local_path(prefix), exist_ok=True)

    cpu: list[float] = []

    def timed_put():
        t0 = os.times()
        s.put(prefix, args.num, **kw)
        t1 = os.times()
        cpu.append((t1.user - t0.user) + (t1.system - t0.system))

    best, times, _ = time_best(timed_put, args.repeat, args.warmup, before=before)
    extra = {"object_type": ot, "template": template, "bytes_nominal": args.num * args.size}
    extra["cpu_seconds"] = cpu[args.warmup :]
    actual = None
    if is_file_uri(prefix):
        d = local_path(prefix)
        names = [template.replace("{}", str(i)) for i in range(args.num)]
        actual = sum(
            os.path.getsize(os.path.join(d, nm)) for nm in names if os.path.exists(os.path.join(d, nm))
        )
    else:
        first = prefix + template.replace("{}", "0")
        actual = int(s.stat(first)["size"]) * args.num
    extra["bytes_actual"] = actual
    if args.cleanup:
        s.delete(prefix, recursive=True) if not is_file_uri(prefix) else _rm_local(prefix)
    return result(args, actual or args.num * args.size, args.num, best, times, **extra)


def _ckpt_arrays(num: int, total: int):
    per = max(1, total // max(1, num))
    import numpy as np

    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, size=per, dtype=np.uint8) for _ in range(num)]


def _ckpt_save_once(st, arrays, step: int, mode: str, c: int):
    if mode == "single":
        return st.save(step, 0, "numpy", arrays)  # arrays: one pre-concatenated buffer
    n = len(arrays)
    with ThreadPoolExecutor(max_workers=max(1, c)) as pool:
        metas = list(
            pool.map(lambda r: st.writer(n, r).save_distributed_shard(step, 0, "numpy", arrays[r]), range(n))
        )
    return st.writer(n, 0).finalize_distributed_checkpoint(step, 0, "numpy", metas)


def w_ckpt_save(args):
    s = _lib()
    prefix = norm_prefix(args.uri)
    st = s.PyCheckpointStore(prefix)
    arrays = _ckpt_arrays(args.num, args.size)
    total = sum(a.nbytes for a in arrays)
    if args.ckpt_mode == "single":
        import numpy as np

        payload = np.concatenate(arrays)
    else:
        payload = arrays
    if not is_file_uri(prefix):
        s.put_bytes(prefix + "_warm.bin", b"x")
    step = [0]

    def run():
        step[0] += 1
        return _ckpt_save_once(st, payload, step[0], args.ckpt_mode, args.concurrency)

    best, times, _ = time_best(run, args.repeat, args.warmup)
    if args.cleanup:
        s.delete(prefix, recursive=True) if not is_file_uri(prefix) else _rm_local(prefix)
    return result(args, total, args.num, best, times, ckpt_mode=args.ckpt_mode)


def w_ckpt_load(args):
    s = _lib()
    prefix = norm_prefix(args.uri)
    st = s.PyCheckpointStore(prefix)
    arrays = _ckpt_arrays(args.num, args.size)
    if args.ckpt_mode == "single":
        import numpy as np

        payload = np.concatenate(arrays)
    else:
        payload = arrays
    _ckpt_save_once(st, payload, 1, args.ckpt_mode, args.concurrency)

    if args.ckpt_mode == "single":

        def run():
            return len(st.load_latest())
    else:
        pool = ThreadPoolExecutor(max_workers=max(1, args.concurrency))

        def run():
            rd = st.reader()
            man = rd.load_latest_manifest()
            ranks = range(int(man["world_size"]))
            return sum(pool.map(lambda r: len(rd.read_shard_by_rank(man, r)), ranks))

    best, times, n = time_best(run, args.repeat, args.warmup)
    if args.cleanup:
        s.delete(prefix, recursive=True) if not is_file_uri(prefix) else _rm_local(prefix)
    return result(args, n, args.num, best, times, ckpt_mode=args.ckpt_mode)


def _manual_shard_dataset(prefix: str, prefetch: int):
    import torch
    from torch.utils.data import IterableDataset, get_worker_info

    class ManualShard(IterableDataset):
        def __iter__(self):
            s = _lib()
            wi = get_worker_info()
            wid, nw = (0, 1) if wi is None else (wi.id, wi.num_workers)
            uris = list_objects(prefix)[wid::nw]
            if not uris:
                return
            loader = s.PyBytesAsyncDataLoader(s.PyDataset.from_uris(uris), {"prefetch": prefetch})
            for item in loader:  # BytesView; zero-copy read-only tensor like the original's
                yield torch.frombuffer(memoryview(item), dtype=torch.uint8)

    return ManualShard()


def w_torch_iter(args):
    prefix = norm_prefix(args.uri)
    if args.prepare:
        # The original is not fork-safe: once this process has used it, a forked DataLoader
        # worker hangs. Prepare in a child process so this one stays clean.
        cmd = [
            sys.executable,
            os.path.abspath(__file__),
            "prepare",
            "--uri",
            prefix,
            "--num",
            str(args.num),
            "--size",
            str(args.size),
            "--concurrency",
            str(args.concurrency),
        ]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    try:
        import torch
        from torch.utils.data import DataLoader
    except ImportError:
        return {
            "workload": args.workload,
            "impl": "original",
            "skipped": "torch not installed",
            "bytes": 0,
            "objects": 0,
            "seconds": None,
            "mb_per_s": None,
        }
    import warnings

    warnings.filterwarnings("ignore", message="The given buffer is not writable")
    torch.set_num_threads(1)
    import s3dlio.torch as st

    W, B, C = args.workers, (args.batch_size or None), args.concurrency
    if args.shard == "manual":
        ds = _manual_shard_dataset(prefix, C)
    else:
        ds = st.ObjectStoreIterableDataset.from_prefix(prefix, prefetch=C)
    ctx = args.mp_context if W > 0 else None

    def run():
        dl = DataLoader(
            ds, batch_size=B, num_workers=W, multiprocessing_context=ctx, timeout=args.timeout if W > 0 else 0
        )
        n = b = 0
        for x in dl:
            if B is None:
                n += 1
                b += x.numel()
            else:
                n += x.shape[0]
                b += x.numel()
        return n, b

    best, times, (n, b) = time_best(run, args.repeat, args.warmup)
    # Only now touch the library in this process (fork-safety, see above).
    unique = len(list_objects(prefix))
    return result(
        args,
        b,
        n,
        best,
        times,
        workers=W,
        batch_size=B,
        prefetch=C,
        shard=args.shard,
        unique_objects=unique,
        mp_context=ctx,
        torch_version=torch.__version__,
    )


WORKLOADS = {
    "prepare": w_prepare,
    "get": w_get,
    "put": w_put,
    "list": w_list,
    "file-get": w_file_get,
    "loader": w_loader,
    "datagen": w_datagen,
    "put-gen": w_put_gen,
    "ckpt-save": w_ckpt_save,
    "ckpt-load": w_ckpt_load,
    "torch-iter": w_torch_iter,
}


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("workload", choices=sorted(WORKLOADS))
    p.add_argument("--uri", "--prefix", dest="uri", help="s3://bucket/prefix/, file:///dir/ or /dir")
    p.add_argument("--size", type=int, default=256 * 1024, help="object size / total ckpt bytes")
    p.add_argument("--num", type=int, default=None, help="number of objects / arrays")
    p.add_argument("--concurrency", "-c", type=int, default=32, help="max in flight / prefetch")
    p.add_argument("--repeat", "-r", type=int, default=3)
    p.add_argument("--warmup", type=int, default=0, help="untimed runs before the timed ones")
    p.add_argument("--prepare", action="store_true", help="create --num x --size objects first")
    p.add_argument("--force", action="store_true", help="prepare: rewrite even if present")
    p.add_argument("--cleanup", action="store_true", help="delete what the workload wrote")
    p.add_argument("--api", default=None)
    p.add_argument("--buffer", default="bytes", choices=["bytes", "bytearray", "numpy"])
    p.add_argument("--no-recursive", action="store_true")
    p.add_argument("--batch-size", "-b", type=int, default=None)
    p.add_argument("--iter", default="async", choices=["async", "sync", "items", "collect"])
    p.add_argument("--shuffle", action="store_true")
    p.add_argument("--threads", type=int, default=None, help="datagen threads")
    p.add_argument("--dedup", type=int, default=1)
    p.add_argument("--compress", type=int, default=1)
    p.add_argument(
        "--object-type",
        default="random",
        help="put-gen: random|zeros|npz|tfrecord|rawbinary (hdf5 is not in the wheel)",
    )
    p.add_argument("--template", default=None, help="put-gen: name template with one {}")
    p.add_argument("--fresh", action="store_true", help="put-gen file://: empty the dir first")
    p.add_argument("--ckpt-mode", default="single", choices=["single", "shards"])
    p.add_argument("--workers", "-w", type=int, default=0, help="torch DataLoader num_workers")
    p.add_argument("--shard", default="none", choices=["none", "manual"])
    p.add_argument("--mp-context", default="fork", choices=["fork", "spawn", "forkserver"])
    p.add_argument("--timeout", type=float, default=600.0, help="torch DataLoader timeout")
    p.add_argument("--endpoint-url")
    p.add_argument("--access-key")
    p.add_argument("--secret-key")
    p.add_argument("--region")
    a = p.parse_args(argv)
    defaults = {"get": "get_many", "file-get": "get_many", "put": "put_many"}
    if a.api is None:
        a.api = defaults.get(a.workload)
    if a.num is None and a.workload in ("prepare", "put", "put-gen"):
        a.num = 100
    if a.num is None and a.workload in ("ckpt-save", "ckpt-load"):
        a.num = 8
    if a.num is None and a.workload in ("list",) and a.prepare:
        a.num = 1000
    if a.num is None and a.prepare:
        a.num = 100
    if a.workload != "datagen" and not a.uri:
        p.error("--uri is required for " + a.workload)
    return a


def main(argv=None):
    args = parse(argv)
    env = {
        "AWS_ENDPOINT_URL": args.endpoint_url,
        "AWS_ACCESS_KEY_ID": args.access_key,
        "AWS_SECRET_ACCESS_KEY": args.secret_key,
        "AWS_REGION": args.region,
        "AWS_DEFAULT_REGION": args.region,
    }
    for k, v in env.items():
        if v:
            os.environ[k] = v
    if os.environ.get("AWS_REGION") and not os.environ.get("AWS_DEFAULT_REGION"):
        os.environ["AWS_DEFAULT_REGION"] = os.environ["AWS_REGION"]
    try:
        out = WORKLOADS[args.workload](args)
    except BaseException as e:
        traceback.print_exc()
        emit({"workload": args.workload, "impl": "original", "error": f"{type(e).__name__}: {e}"}, rc=1)
    emit(out, 0)


if __name__ == "__main__":
    main()
