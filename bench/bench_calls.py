#!/usr/bin/env python3
"""One blocking call at a time: ``bytes(s3dlio.get(uri))`` in a plain loop, ours vs the original.

    .venv/bin/python bench/bench_calls.py [--rounds 4] [--num 200] [--skip-s3] [--endpoint-url ...]

This is the latency a script pays per call when it does not use ``get_many``. Each round runs
ours and the original (its own venv), each in a fresh process, in alternating order. Every
process reads the objects once untimed, then twice timed, and keeps the better pass. The table
shows the median over rounds of wall and client CPU microseconds per call. The objects are S3
(SeaweedFS, started here unless an endpoint is given) of 256 KiB and 100 bytes, and local files
of 100 bytes and 256 KiB.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import s3dlio
from common import ORIGINAL_PYTHON, add_s3_args, ensure_original, s3_session

CHILD = r"""
import json, sys, time, s3dlio
uris = json.load(open(sys.argv[1]))

def per_call(us):
    wall, cpu = time.perf_counter(), time.process_time()
    for u in us:
        bytes(s3dlio.get(u))
    return (time.perf_counter() - wall) / len(us) * 1e6, (time.process_time() - cpu) / len(us) * 1e6

per_call(uris)
print(json.dumps(min(per_call(uris) for _ in range(2))))
"""


def measure(python: str, uri_file: Path) -> tuple[float, float]:
    done = subprocess.run([python, "-c", CHILD, str(uri_file)], capture_output=True, text=True, check=True)
    wall, cpu = json.loads(done.stdout.strip().splitlines()[-1])
    return wall, cpu


def compare(label: str, uris: list[str], rounds: int, workdir: Path) -> None:
    uri_file = workdir / (re.sub(r"\W+", "_", label) + ".json")
    uri_file.write_text(json.dumps(uris))
    sides = {"ours": sys.executable, "original": str(ORIGINAL_PYTHON)}
    seen: dict[str, list[tuple[float, float]]] = {name: [] for name in sides}
    for round_ in range(rounds):
        order = list(sides) if round_ % 2 == 0 else list(sides)[::-1]
        for name in order:
            seen[name].append(measure(sides[name], uri_file))
    wall = {name: statistics.median(w for w, _ in runs) for name, runs in seen.items()}
    cpu = {name: statistics.median(c for _, c in runs) for name, runs in seen.items()}
    print(
        f"{label:28s} ours {wall['ours']:7.0f} us wall {cpu['ours']:6.0f} us CPU   "
        f"original {wall['original']:7.0f} us wall {cpu['original']:6.0f} us CPU   "
        f"ours/original {wall['original'] / wall['ours']:.2f}x"
    )


def main() -> None:
    parser = add_s3_args(argparse.ArgumentParser(description=__doc__))
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--num", type=int, default=200)
    parser.add_argument("--skip-s3", action="store_true")
    args = parser.parse_args()
    ensure_original()
    with tempfile.TemporaryDirectory(prefix="s3dlio-bench-calls-") as tmp:
        workdir = Path(tmp)
        for label, size in (("100 B", 100), ("256 KiB", 256 * 1024)):
            local = workdir / f"files-{size}"
            local.mkdir()
            payload = os.urandom(size)
            for i in range(args.num):
                (local / f"f{i:05d}").write_bytes(payload)
            files = [(local / f"f{i:05d}").as_uri() for i in range(args.num)]
            compare(f"file://, {label}", files, args.rounds, workdir)
        if args.skip_s3:
            return
        with s3_session(args) as cfg:
            bucket = cfg.bucket
            big = [f"s3://{bucket}/big/{i:05d}" for i in range(args.num)]
            tiny = [f"s3://{bucket}/tiny/{i:05d}" for i in range(args.num)]
            s3dlio.put_many([(u, os.urandom(256 * 1024)) for u in big], max_in_flight=32)
            s3dlio.put_many([(u, b"x" * 100) for u in tiny], max_in_flight=32)
            compare("S3, 256 KiB", big, args.rounds, workdir)
            compare("S3, 100 B", tiny, args.rounds, workdir)
            s3dlio.delete(f"s3://{bucket}/big/", recursive=True)
            s3dlio.delete(f"s3://{bucket}/tiny/", recursive=True)


if __name__ == "__main__":
    main()
