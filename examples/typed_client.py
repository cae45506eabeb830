"""A small program against s3dlio's public API, checked with ``mypy --strict`` by the tests.

Run it: ``python examples/typed_client.py`` (it works in a temporary local directory).
"""

from __future__ import annotations

import asyncio
import tempfile

import s3dlio


def main(root: str) -> int:
    prefix = f"file://{root}/"
    config: s3dlio.Config = s3dlio.configure(max_retries=3, part_size=8 << 20)
    assert config.max_retries == 3
    s3dlio.put_bytes(prefix + "a.bin", b"hello")
    data: bytes = s3dlio.get(prefix + "a.bin")
    total = len(data)
    with s3dlio.Client(s3dlio.Config(max_concurrency=8), connect_timeout=5.0) as client:
        client.put_bytes(prefix + "b.bin", b"world!")
        total += len(client.get_range(prefix + "b.bin", 0, 3))
        for entry in client.list(prefix):
            total += int(entry["size"])
        exists: bool = client.exists(prefix + "b.bin")
        assert exists

        async def both() -> list[tuple[str, s3dlio.BytesView]]:
            return await client.get_many_async([prefix + "a.bin", prefix + "b.bin"])

        total += sum(len(data) for _, data in asyncio.run(both()))
    try:
        s3dlio.get(prefix + "missing")
    except s3dlio.NotFoundError as exc:
        assert exc.uri is not None
    finally:
        s3dlio.reset_config()
    return total


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as directory:
        print(main(directory))
