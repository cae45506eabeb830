"""The core calls as DLIO and mlc-storage use them: the types and values they rely on."""

from __future__ import annotations

import io

import numpy as np
import pytest

import s3dlio


def test_put_get_stat_exists_delete(root: str) -> None:
    uri = root + "a.npz"
    payload = io.BytesIO(b"0123456789" * 100)
    s3dlio.put_bytes(uri, payload.getbuffer())  # obj_store_lib.put_data passes getbuffer()
    assert s3dlio.exists(uri) is True and s3dlio.exists(root + "none") is False
    data = s3dlio.get(uri)
    assert len(data) == 1000 and bytes(data) == payload.getvalue()  # tf_framework: bytes(get(uri))
    assert np.frombuffer(data, dtype=np.uint8)[:2].tolist() == [48, 49]
    size = s3dlio.stat(uri)["size"]
    assert size == 1000 and type(size) is int
    s3dlio.delete(uri)
    assert s3dlio.exists(uri) is False
    with pytest.raises(RuntimeError):  # the original's callers catch RuntimeError
        s3dlio.get(uri)


def test_get_range_keyword_and_positional(root: str) -> None:
    uri = root + "r.bin"
    s3dlio.put_bytes(uri, bytes(range(256)))
    # obj_store_lib.get_data: get_range(id, offset=, length=); s3dlio_reader: get_range(uri, off, n)
    assert bytes(s3dlio.get_range(uri, offset=10, length=5)) == bytes(range(10, 15))
    assert bytes(s3dlio.get_range(uri, 250, 100)) == bytes(range(250, 256))
    assert len(s3dlio.get_range(uri, 0, 256)) == 256


def test_get_many_yields_uri_and_data_pairs_in_input_order(root: str) -> None:
    """DLIO: ``for uri, data in s3dlio.get_many(uris, max_in_flight=n): len(data)``.

    The engine branch gives get_many this shape; this fails until it is merged.
    """
    uris = [root + f"m{i}.bin" for i in range(5)]
    for i, uri in enumerate(uris):
        s3dlio.put_bytes(uri, bytes([i]) * (10 + i))
    order = list(reversed(uris))
    results = s3dlio.get_many(order, max_in_flight=2)
    assert [uri for uri, _ in results] == order
    for uri, data in results:
        i = uris.index(uri)
        assert len(data) == 10 + i and bytes(data) == bytes([i]) * (10 + i)
        assert np.frombuffer(data, dtype=np.uint8).sum() == i * (10 + i)
