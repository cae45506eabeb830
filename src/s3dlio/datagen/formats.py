"""Synthetic ML dataset files: NPZ, HDF5 and TFRecord, sized to a target byte count.

Every builder takes the target ``size`` of the whole file and subtracts the format's overhead,
so the result lands on ``size`` (exactly for npz and hdf5; within a few bytes for tfrecord).
The payload bytes come from :class:`~s3dlio.datagen.generator.DataGenerator`, so ``dedup`` and
``compress`` apply to the payload and ``(seed, index, num)`` make the file reproducible. Payload
byte ``f`` of the file is byte ``f`` of the object's generator stream, so payload that lies on the
file's 4 KiB grid dedups block for block (a TFRecord file loses about one block per record to the
framing between payloads).

Rules
-----
npz
    Uncompressed zip (like ``numpy.savez``) with ``label.npy``: int64, shape ``(1,)``, then
    ``data.npy``: uint8, shape ``(L,)`` where ``L = size - overhead`` (overhead ~300 bytes, or up
    to one 4 KiB block when ``size >= 64 KiB``: the npy header is padded so that ``data`` starts at
    a 4 KiB boundary of the file, which keeps dedup blocks aligned and suits O_DIRECT reads).
hdf5
    Datasets ``data`` (uint8, shape ``(L,)``, contiguous) and ``label`` (int64, shape ``(1,)``).
    From 64 KiB on, ``data`` is aligned to 4 KiB in the file.
tfrecord
    ``records = ceil(size / TFRECORD_RECORD_SIZE)`` records (128 KiB, about one image sample each)
    unless ``records=`` is given; the size is split about evenly over them. Each record is a serialized
    ``tf.train.Example`` with features ``data`` (bytes_list, one value) and ``label`` (int64_list,
    one value). Framing: uint64 length (LE), masked CRC-32C of the length, payload, masked CRC-32C
    of the payload. Record boundaries (except the first and last) sit mid-way in a 4 KiB block.

Labels are pseudo-random class ids in ``[0, NUM_CLASSES)`` derived from ``(seed, index)``.
A file smaller than its format's overhead gets an empty payload and is larger than ``size``.

Speed
-----
Files are built in place, in one pass, straight into the final buffer (``build_bytes`` for
``bytes``; ``put()`` reuses one buffer per worker): whatever does not depend on the object (zip
headers and central directory, npy header, HDF5 metadata, TFRecord framing of each record size)
is computed once per size and copied; the payload is rendered into its place from the stream,
and checksums run over it in place, while it is still in cache (zip CRC-32 with libdeflate where
available, else zlib; CRC-32C through the crc32c library google-crc32c ships, see ``_crc``).
The npz is byte for byte what ``zipfile`` writes (zipfile still writes members that need zip64
records, above ~2 GB); the HDF5 file is byte for byte what h5py writes: its metadata is taken
from a template h5py writes once per size, checked once against a second h5py file.
"""

from __future__ import annotations

import io
import itertools
import math
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import lru_cache
from typing import Any

import google_crc32c
import numpy as np
import numpy.typing as npt

from .._optional import require
from ..errors import IntegrityError
from ..formats.parquet import parquet_plan
from ._crc import crc32, crc32c_at
from .generator import (
    BLOCK_SIZE,
    DataGenerator,
    U8Array,
    build_bytes,
    check_int,
    draw_words,
    new_seed,
    scratch,
)

__all__ = [
    "ALIGN_MIN_SIZE",
    "NUM_CLASSES",
    "TFRECORD_RECORD_SIZE",
    "TFRecordError",
    "encode_example",
    "frame_record",
    "iter_tfrecords",
    "make_hdf5",
    "make_npz",
    "make_parquet",
    "make_tfrecord",
    "masked_crc32c",
    "parse_example",
    "payload_size",
]

NUM_CLASSES = 1000
"""Labels are drawn from ``range(NUM_CLASSES)``."""

ALIGN_MIN_SIZE = 64 * 1024
"""From this file size on, the npz/hdf5 payload starts on a 4 KiB boundary."""

TFRECORD_RECORD_SIZE = 128 * 1024
"""Default framed size of one TFRecord record."""

_LABEL_TAG = 0x6C6162656C  # "label": separates the label stream from the payload stream


class TFRecordError(IntegrityError, ValueError):
    """A TFRecord stream or an Example is truncated, malformed, or fails its CRC.

    An ``IntegrityError`` (checksum/size mismatch) that is also a ``ValueError`` (bad input).
    """


_LABEL_BLOCK = 512  # objects whose labels are drawn (and cached) together, at most ...
_LABEL_BLOCK_WORDS = 1 << 16  # ... and at most this many labels per block (128 KiB cached)


def _labels(seed: int, index: int, count: int) -> list[int]:
    """``count`` class ids for object ``index``: draws ``index * count ..`` of a label stream.

    The stream is PCG64DXSM seeded with ``seed + (_LABEL_TAG << 64)``, independent of the payload
    streams (whose keys are below 2**64). Labels are drawn for up to ``_LABEL_BLOCK`` consecutive
    objects at once and cached, so a ``put()`` call pays one draw per block, not one per object.
    """
    per_block = max(1, min(_LABEL_BLOCK, _LABEL_BLOCK_WORDS // max(count, 1)))
    block, offset = divmod(index, per_block)
    labels = _label_block(seed, count, per_block, block)
    return labels[offset * count : (offset + 1) * count].tolist()  # type: ignore[no-any-return]


@lru_cache(maxsize=32)
def _label_block(seed: int, count: int, per_block: int, block: int) -> npt.NDArray[np.uint16]:
    words = draw_words(seed + (_LABEL_TAG << 64), block * per_block * count, per_block * count)
    return (words % NUM_CLASSES).astype(np.uint16)


def _stream(span: int, seed: int, index: int, num: int, dedup: int, compress: int) -> DataGenerator:
    """Payload source addressed by file offset: file byte ``f`` of a payload takes stream byte ``f``.

    Every object of a call spans ``ceil(span / 4 KiB)`` stream blocks, so payload that sits on the
    file's 4 KiB grid lines up with the generator's dedup blocks.
    """
    blocks = -(-span // BLOCK_SIZE)
    return DataGenerator(blocks * BLOCK_SIZE, dedup, compress, seed, index=index, num=num)


def _check_common(size: int, seed: int | None, index: int, num: int) -> tuple[int, int, int, int]:
    size = check_int("size", size, 0)
    seed = new_seed() if seed is None else check_int("seed", seed, 0)
    num = check_int("num", num, 1)
    index = check_int("index", index, 0)
    if index >= num:
        raise ValueError(f"index must be < num ({num}), got {index}")
    return size, seed, index, num


class _MemFile(io.RawIOBase):
    """Seekable in-memory file over a pooled buffer (BytesIO re-faults fresh pages every call).

    Gaps left by seeking past the end read as zeros, like a real file, so output is deterministic.
    """

    def __init__(self, capacity: int) -> None:
        super().__init__()
        self._buf = scratch.acquire(capacity)
        self._pos = 0
        self._end = 0

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._end}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._pos = base + offset
        return self._pos

    def _reserve(self, end: int) -> None:
        if end > len(self._buf):
            bigger = scratch.acquire(max(end, 2 * len(self._buf)))
            bigger[: self._end] = self._buf[: self._end]
            scratch.release(self._buf)
            self._buf = bigger

    def write(self, data: Any) -> int:
        src = np.frombuffer(data, dtype=np.uint8)
        end = self._pos + len(src)
        self._reserve(end)
        if self._pos > self._end:  # a gap reads as zeros, as in a real file
            self._buf[self._end : self._pos] = 0
        self._buf[self._pos : end] = src
        self._pos = end
        self._end = max(self._end, end)
        return len(src)

    def readinto(self, buffer: Any) -> int:
        dst = np.frombuffer(buffer, dtype=np.uint8)
        n = max(0, min(len(dst), self._end - self._pos))
        dst[:n] = self._buf[self._pos : self._pos + n]
        self._pos += n
        return n

    def truncate(self, size: int | None = None) -> int:
        size = self._pos if size is None else size
        if size > self._end:
            self._reserve(size)
            self._buf[self._end : size] = 0
        self._end = size
        return size

    def getvalue(self) -> bytes:
        return self._buf[: self._end].tobytes()

    def close(self) -> None:
        if not self.closed:
            scratch.release(self._buf)
            self._buf = np.empty(0, np.uint8)
        super().close()


# --------------------------------------------------------------------------------------- npz

_NPZ_LABEL_NAME = "label.npy"
_NPZ_DATA_NAME = "data.npy"
_ZIP_LOCAL = 30  # local file header without name/extra
_ZIP_CENTRAL = 46  # central directory entry without name/extra
_ZIP_END = 22  # end of central directory record


def _npy_dict(length: int) -> str:
    return f"{{'descr': '|u1', 'fortran_order': False, 'shape': ({length},), }}"


def _npy_header(length: int, total: int) -> bytes:
    """npy 1.0 header for a uint8 vector, space-padded to ``total`` bytes (magic included)."""
    text = _npy_dict(length)
    hlen = total - 10
    body = text + " " * (hlen - len(text) - 1) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", hlen) + body.encode("latin1")


def _npy_label(label: int) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.array([label], dtype="<i8"), allow_pickle=False)
    return buf.getvalue()


@lru_cache(maxsize=64)
def _npz_layout(size: int) -> tuple[int, int, int]:
    """Return ``(npy header length, payload length, payload offset)`` for an npz of ``size`` bytes."""
    label_len = len(_npy_label(0))
    pre = _ZIP_LOCAL + len(_NPZ_LABEL_NAME) + label_len + _ZIP_LOCAL + len(_NPZ_DATA_NAME)
    tail = 2 * _ZIP_CENTRAL + len(_NPZ_LABEL_NAME) + len(_NPZ_DATA_NAME) + _ZIP_END
    hmin = -(-(10 + len(_npy_dict(size)) + 1) // 64) * 64
    header = hmin
    if size >= ALIGN_MIN_SIZE:
        header += (-(pre + hmin)) % BLOCK_SIZE
    return header, max(0, size - pre - header - tail), pre + header


def _zip_info(name: str, size: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED
    info.create_system = 3
    info.external_attr = 0o644 << 16
    info.file_size = size
    return info


_ZIP64_LIMIT = (1 << 31) - 1  # zipfile's threshold; a member above it / 1.05 needs zip64 records
_ZIP_VERSION = 20  # "version needed to extract" / "made by" that zipfile writes for stored members
_ZIP_DOSDATE = (0 << 9) | (1 << 5) | 1  # 1980-01-01, time 00:00:00 (zipfile's date_time above)
_CHUNK = 256 << 10  # payload generated (and checksummed while still in cache) this much at a time


class _NpzPlan:
    """Everything about an npz of one size except the label and the payload bytes.

    The file is what ``zipfile`` writes for two stored members (checked byte for byte in the
    tests): local header + ``label.npy``, local header + ``data.npy`` (npy header, payload), the
    central directory and the end record. Per object only the label's 8 bytes, the payload and
    four CRC fields change, so the head and tail are built once per size and copied.
    """

    def __init__(self, size: int) -> None:
        header_len, length, offset = _npz_layout(size)
        self.length = length
        self.offset = offset
        label = _npy_label(0)
        npy_header = _npy_header(length, header_len)
        data_size = header_len + length
        names = (_NPZ_LABEL_NAME.encode(), _NPZ_DATA_NAME.encode())
        sizes = (len(label), data_size)
        local: list[bytes] = []
        central: list[bytes] = []
        position = 0
        self.crc_fields: list[tuple[int, int]] = []  # (member, file offset of its CRC field)
        for member, (name, member_size) in enumerate(zip(names, sizes, strict=True)):
            # fields: signature, version needed, flags, method, time, date, CRC (patched per
            # object), sizes, name length, extra length [central: + comment length, disk, attributes,
            # offset of the local header]
            local_header = struct.pack(
                "<4s2B4HL2L2H", b"PK\x03\x04", _ZIP_VERSION, 0, 0, 0, 0, _ZIP_DOSDATE,
                0, member_size, member_size, len(name), 0,
            )  # fmt: skip
            local.append(local_header + name)
            self.crc_fields.append((member, position + 14))
            central_header = struct.pack(
                "<4s4B4HL2L5H2L", b"PK\x01\x02", _ZIP_VERSION, 3, _ZIP_VERSION, 0, 0, 0, 0,
                _ZIP_DOSDATE, 0, member_size, member_size, len(name), 0, 0, 0, 0, 0o644 << 16,
                position,
            )  # fmt: skip
            central.append(central_header + name)
            position += len(local[-1]) + member_size
        directory = b"".join(central)
        end_record = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 2, 2, len(directory), position, 0)
        self.head = local[0] + label + local[1] + npy_header
        self.label_at = len(local[0]) + len(label) - 8  # the label's int64 value
        self.label_npy_head = label[:-8]
        self.data_crc_start = zlib.crc32(npy_header)
        self.tail_at = offset + length
        self.crc_fields += [(0, self.tail_at + 16), (1, self.tail_at + len(central[0]) + 16)]
        self.tail = directory + end_record
        self.total = self.tail_at + len(self.tail)
        self.fits = data_size * 1.05 <= _ZIP64_LIMIT
        assert len(self.head) == offset

    def render(self, out: U8Array, gen: DataGenerator, label: int) -> None:
        """Write the whole npz into ``out`` (``len(out) == self.total``)."""
        view = memoryview(out)  # type: ignore[arg-type]
        try:
            view[: self.offset] = self.head
            label_bytes = struct.pack("<q", label)
            view[self.label_at : self.label_at + 8] = label_bytes
            crc = self.data_crc_start
            for start in range(self.offset, self.tail_at, _CHUNK):
                chunk = out[start : min(self.tail_at, start + _CHUNK)]
                gen.render(start, chunk)
                crc = crc32(chunk, crc)  # while the chunk is still in cache
            crcs = (zlib.crc32(label_bytes, zlib.crc32(self.label_npy_head)), crc)
            view[self.tail_at :] = self.tail
            for member, field in self.crc_fields:
                struct.pack_into("<L", view, field, crcs[member])
        finally:
            view.release()


@lru_cache(maxsize=64)
def _npz_plan(size: int) -> _NpzPlan:
    return _NpzPlan(size)


Pending = tuple[int, Callable[[U8Array], object]]
"""``(length, fill)``: an object of ``length`` bytes that ``fill(out)`` writes into a uint8 array."""


def finish(job: bytes | Pending) -> bytes:
    """The ``bytes`` of a built object or of a ``Pending`` one (written in place, no copy)."""
    if isinstance(job, bytes):
        return job
    return build_bytes(*job)


def npz_job(
    size: int, *, seed: int, index: int = 0, num: int = 1, dedup: int = 1, compress: int = 1
) -> bytes | Pending:
    """``make_npz`` as a ``Pending`` job (or the finished bytes where zipfile must write zip64)."""
    size, seed, index, num = _check_common(size, seed, index, num)
    plan = _npz_plan(size)
    label = _labels(seed, index, 1)[0]
    if not plan.fits:
        return _make_npz_zipfile(size, seed, index, num, dedup, compress, label)
    gen = _stream(plan.tail_at, seed, index, num, dedup, compress)
    return plan.total, lambda out: plan.render(out, gen, label)


def make_npz(
    size: int,
    *,
    seed: int | None = None,
    index: int = 0,
    num: int = 1,
    dedup: int = 1,
    compress: int = 1,
) -> bytes:
    """Return an uncompressed ``.npz`` of ``size`` bytes with arrays ``data`` and ``label``.

    ``numpy.load(io.BytesIO(result))["data"]`` is uint8 of shape ``(payload_size("npz", size),)``.
    """
    seed = new_seed() if seed is None else seed
    return finish(npz_job(size, seed=seed, index=index, num=num, dedup=dedup, compress=compress))


def _make_npz_zipfile(
    size: int, seed: int, index: int, num: int, dedup: int, compress: int, label: int
) -> bytes:
    """The same file written by ``zipfile`` (used where zip64 records are needed)."""
    header_len, length, offset = _npz_layout(size)
    label_npy = _npy_label(label)
    gen = _stream(offset + length, seed, index, num, dedup, compress)
    buf = scratch.acquire(length)
    try:
        payload = buf[:length]
        gen.render(offset, payload)
        with _MemFile(size + 4096) as out:
            with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
                zf.writestr(_zip_info(_NPZ_LABEL_NAME, len(label_npy)), label_npy)
                with zf.open(_zip_info(_NPZ_DATA_NAME, header_len + length), "w") as member:
                    member.write(_npy_header(length, header_len))
                    member.write(payload.data)
            return out.getvalue()
    finally:
        scratch.release(buf)


# -------------------------------------------------------------------------------------- hdf5


def _hdf5_image(length: int, label: int, aligned: bool, payload: U8Array | None) -> tuple[bytes, int]:
    """The file image and the file offset of ``data``'s first byte."""
    image, data_at, _ = _hdf5_image_offsets(length, label, aligned, payload)
    return image, data_at


def _hdf5_image_offsets(
    length: int, label: int, aligned: bool, payload: U8Array | None
) -> tuple[bytes, int, int]:
    """The file image written by h5py and the file offsets of ``data`` and of ``label``."""
    kwargs: dict[str, int] = {}
    if aligned:
        kwargs = {"alignment_threshold": BLOCK_SIZE, "alignment_interval": BLOCK_SIZE}
    with _MemFile(length + 16 * BLOCK_SIZE) as out:
        h5py = require("h5py", "hdf5", "generating HDF5 objects")
        with h5py.File(out, "w", **kwargs) as f:
            data = f.create_dataset("data", shape=(length,), dtype=np.uint8, track_times=False)
            if payload is not None and length:
                data.write_direct(payload)
            labels = f.create_dataset("label", data=np.array([label], dtype="<i8"), track_times=False)
            offsets = data.id.get_offset(), labels.id.get_offset()
        data_at, label_at = (-1 if at is None else at for at in offsets)
        return out.getvalue(), data_at, label_at


@lru_cache(maxsize=4)
def _hdf5_layout(aligned: bool) -> tuple[int, int]:
    """``(bytes of overhead, file offset of data)``, measured once on a probe file."""
    probe = 2 * BLOCK_SIZE
    image, offset = _hdf5_image(probe, 0, aligned, np.zeros(probe, np.uint8))
    return len(image) - probe, offset


class _Hdf5Plan:
    """An HDF5 file of one size as a template: h5py's metadata around the payload, built once.

    With ``track_times=False`` the file h5py writes depends only on the sizes, the payload and
    the label, which sit at fixed offsets, so each object is the template's head and tail, the
    payload rendered in between and the label's 8 bytes. Building the template also checks that
    claim once, against a file h5py writes with another label and payload (``ok``); where it does
    not hold (another libhdf5), objects are written by h5py one by one, as before.
    """

    def __init__(self, size: int) -> None:
        aligned = size >= ALIGN_MIN_SIZE
        self.length = length = payload_size("hdf5", size)
        self.stream_at = _hdf5_layout(aligned)[1] if length else 0  # payload's place in the stream
        image, data_at, self.label_at = _hdf5_image_offsets(length, 0, aligned, np.zeros(length, np.uint8))
        self.data_at = data_at if length else len(image)
        self.head = image[: self.data_at]
        self.tail = image[self.data_at + length :]
        self.total = len(image)
        probe_payload = np.full(length, 0x5A, np.uint8)
        probe = _hdf5_image_offsets(length, 999, aligned, probe_payload)[0]
        expected = np.empty(self.total, np.uint8)
        self._fill(expected, probe_payload, 999)
        self.ok = self.label_at >= 0 and (data_at >= 0 or not length) and expected.tobytes() == probe

    def _fill(self, out: U8Array, payload: U8Array | DataGenerator, label: int) -> None:
        view = memoryview(out)  # type: ignore[arg-type]
        try:
            end = self.data_at + self.length
            view[: self.data_at] = self.head
            if isinstance(payload, DataGenerator):
                for start in range(self.data_at, end, _CHUNK):
                    chunk = out[start : min(end, start + _CHUNK)]
                    payload.render(self.stream_at + start - self.data_at, chunk)
            else:
                out[self.data_at : end] = payload
            view[end:] = self.tail
            struct.pack_into("<q", view, self.label_at, label)
        finally:
            view.release()


@lru_cache(maxsize=16)
def _hdf5_plan(size: int) -> _Hdf5Plan:
    return _Hdf5Plan(size)


def hdf5_job(
    size: int, *, seed: int, index: int = 0, num: int = 1, dedup: int = 1, compress: int = 1
) -> bytes | Pending:
    """``make_hdf5`` as a ``Pending`` job (or the finished bytes where the template does not apply)."""
    size, seed, index, num = _check_common(size, seed, index, num)
    plan = _hdf5_plan(size)
    label = _labels(seed, index, 1)[0]
    gen = _stream(plan.stream_at + plan.length, seed, index, num, dedup, compress)
    if not plan.ok:
        payload = np.empty(plan.length, np.uint8)
        gen.render(plan.stream_at, payload)
        return _hdf5_image(plan.length, label, size >= ALIGN_MIN_SIZE, payload)[0]
    return plan.total, lambda out: plan._fill(out, gen, label)


def make_hdf5(
    size: int,
    *,
    seed: int | None = None,
    index: int = 0,
    num: int = 1,
    dedup: int = 1,
    compress: int = 1,
) -> bytes:
    """Return an HDF5 file of ``size`` bytes with datasets ``data`` (uint8) and ``label`` (int64)."""
    seed = new_seed() if seed is None else seed
    return finish(hdf5_job(size, seed=seed, index=index, num=num, dedup=dedup, compress=compress))


# ---------------------------------------------------------------------------------- tfrecord


def masked_crc32c(data: bytes) -> int:
    """TFRecord's masked CRC-32C of ``data``."""
    return _mask(google_crc32c.value(data))


def _mask(crc: int) -> int:
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _varint(value: int) -> bytes:
    value &= 0xFFFFFFFFFFFFFFFF  # negative int64 -> 10-byte two's complement form
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """Length-delimited field ``number`` holding ``payload``."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _encode_feature(key: str, value: bytes | Sequence[bytes] | Sequence[int] | Sequence[float]) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return _field(1, _field(1, bytes(value)))
    items = list(value)
    blobs = [bytes(v) for v in items if isinstance(v, bytes | bytearray | memoryview)]
    if items and len(blobs) == len(items):
        return _field(1, b"".join(_field(1, v) for v in blobs))
    ints = [v for v in items if isinstance(v, int) and not isinstance(v, bool)]
    if len(ints) == len(items):
        return _field(3, _field(1, b"".join(_varint(v) for v in ints)))
    floats = [float(v) for v in items if isinstance(v, float | int) and not isinstance(v, bool)]
    if len(floats) == len(items):
        return _field(2, _field(1, struct.pack(f"<{len(floats)}f", *floats)))
    raise TypeError(f"feature {key!r}: expected bytes, ints or floats")


def encode_example(
    features: Mapping[str, bytes | Sequence[bytes] | Sequence[int] | Sequence[float]],
) -> bytes:
    """Serialize a ``tf.train.Example``.

    Values: ``bytes`` or a sequence of bytes -> bytes_list; ints -> int64_list (packed);
    floats -> float_list (packed float32). An empty sequence becomes an empty int64_list.
    Features are written in key order, like TensorFlow's deterministic serialization.
    """
    entries = b""
    for key in sorted(features):
        feature = _encode_feature(key, features[key])
        entries += _field(1, _field(1, key.encode()) + _field(2, feature))
    return _field(1, entries)


def _example_parts(length: int, label: int) -> tuple[bytes, bytes]:
    """Bytes before and after a ``length``-byte data value in ``{"data": .., "label": [label]}``."""
    bytes_list_len = 1 + len(_varint(length)) + length
    feature_len = 1 + len(_varint(bytes_list_len)) + bytes_list_len
    key = _field(1, b"data")
    entry_len = len(key) + 1 + len(_varint(feature_len)) + feature_len
    label_entry = _field(1, _field(1, b"label") + _field(2, _field(3, _field(1, _varint(label)))))
    features_len = 1 + len(_varint(entry_len)) + entry_len + len(label_entry)
    prefix = (
        b"\x0a" + _varint(features_len)
        + b"\x0a" + _varint(entry_len) + key
        + b"\x12" + _varint(feature_len)
        + b"\x0a" + _varint(bytes_list_len)
        + b"\x0a" + _varint(length)
    )  # fmt: skip
    return prefix, label_entry


def _vlen(value: int) -> int:
    """Length of ``value``'s varint encoding."""
    return max(1, (value.bit_length() + 6) // 7)


def _record_overhead(length: int, label_len: int) -> int:
    """Framed record size minus ``length``; ``label_len`` is the label's varint length."""
    bytes_list = 1 + _vlen(length) + length
    feature = 1 + _vlen(bytes_list) + bytes_list
    entry = 6 + 1 + _vlen(feature) + feature
    label_entry = 2 + 7 + 2 + 2 + 2 + label_len  # key "label", Feature, Int64List headers
    features = 1 + _vlen(entry) + entry + label_entry
    return 16 + 1 + _vlen(features) + features - length


@lru_cache(maxsize=1024)
def _fit(target: int, label_len: int) -> int:
    """Largest data length whose framed record is at most ``target`` bytes (0 if none)."""
    length = max(0, target - _record_overhead(target, label_len))
    while length > 0 and length + _record_overhead(length, label_len) > target:
        length -= 1
    while length + 1 + _record_overhead(length + 1, label_len) <= target:
        length += 1
    return length


def _tfrecord_plan(size: int, records: int | None) -> list[int]:
    """Framed target size of each record.

    The size is split evenly; with records of 16 KiB or more, each boundary is moved to the middle
    of a 4 KiB block, so the ~50 bytes of trailer + header between two payloads spoil one dedup
    block instead of two.
    """
    count = max(1, math.ceil(size / TFRECORD_RECORD_SIZE)) if records is None else records
    bounds = [k * size // count for k in range(count + 1)]
    if size // count >= 4 * BLOCK_SIZE:
        bounds[1:-1] = [b // BLOCK_SIZE * BLOCK_SIZE + BLOCK_SIZE // 2 for b in bounds[1:-1]]
    return [end - start for start, end in itertools.pairwise(bounds)]


def frame_record(payload: bytes) -> bytes:
    """Wrap one record payload in TFRecord framing."""
    header = struct.pack("<Q", len(payload))
    crcs = struct.pack("<I", masked_crc32c(header)), struct.pack("<I", masked_crc32c(payload))
    return b"".join((header, crcs[0], payload, crcs[1]))


@lru_cache(maxsize=4096)
def _record_parts(length: int, label: int) -> tuple[bytes, bytes]:
    """``(length header + its masked CRC + Example prefix, Example suffix)`` of one record."""
    prefix, suffix = _example_parts(length, label)
    header = struct.pack("<Q", len(prefix) + length + len(suffix))
    return header + struct.pack("<I", masked_crc32c(header)) + prefix, suffix


def _fill_tfrecord(out: U8Array, layout: list[tuple[int, int, bytes, bytes]], gen: DataGenerator) -> None:
    """Write the records of ``layout`` (file offset, data length, head, suffix) into ``out``.

    Record data at file offset ``f`` is stream byte ``f``, so the whole file is rendered from the
    stream in aligned pieces first and the framing is then written over the bytes between the
    payloads: no partial 4 KiB blocks to render at the unaligned record boundaries.
    """
    view = memoryview(out)  # type: ignore[arg-type]
    try:
        for start in range(0, len(out), _CHUNK):
            gen.render(start, out[start : start + _CHUNK])
        for pos, length, head, suffix in layout:
            end = pos + len(head) + length
            view[pos : pos + len(head)] = head
            view[end : end + len(suffix)] = suffix
            crc = crc32c_at(out, pos + 12, end + len(suffix))  # Example = prefix + data + suffix
            struct.pack_into("<I", view, end + len(suffix), _mask(crc))
    finally:
        view.release()


@lru_cache(maxsize=64)
def _tfrecord_shape(size: int, records: int | None) -> tuple[int, int, dict[int, tuple[int, ...]]]:
    """``(records, stream span, {label varint length: data length of each record})`` for a size."""
    targets = _tfrecord_plan(size, records)
    # the file's largest possible size (labels < 16384 have varints of at most 2 bytes)
    span = sum(max(t, _record_overhead(0, 2)) for t in targets)
    lengths = {vlen: tuple(_fit(t, vlen) for t in targets) for vlen in (1, 2)}
    return len(targets), span, lengths


def tfrecord_job(
    size: int,
    *,
    seed: int,
    index: int = 0,
    num: int = 1,
    dedup: int = 1,
    compress: int = 1,
    records: int | None = None,
) -> Pending:
    """``make_tfrecord`` as a ``Pending`` job: its exact length and a function that writes it."""
    size, seed, index, num = _check_common(size, seed, index, num)
    if records is not None:
        records = check_int("records", records, 1)
    count, span, lengths = _tfrecord_shape(size, records)
    labels = _labels(seed, index, count)
    gen = _stream(span, seed, index, num, dedup, compress)
    layout: list[tuple[int, int, bytes, bytes]] = []
    pos = 0
    for k, label in enumerate(labels):
        length = lengths[1 if label < 128 else 2][k]  # labels are < NUM_CLASSES: 1 or 2 bytes
        head, suffix = _record_parts(length, label)
        layout.append((pos, length, head, suffix))
        pos += len(head) + length + len(suffix) + 4
    return pos, lambda out: _fill_tfrecord(out, layout, gen)


def make_tfrecord(
    size: int,
    *,
    seed: int | None = None,
    index: int = 0,
    num: int = 1,
    dedup: int = 1,
    compress: int = 1,
    records: int | None = None,
) -> bytes:
    """Return a TFRecord file of about ``size`` bytes (see the module docstring for the rule)."""
    seed = new_seed() if seed is None else seed
    job = tfrecord_job(size, seed=seed, index=index, num=num, dedup=dedup, compress=compress, records=records)
    return finish(job)


def iter_tfrecords(data: bytes | bytearray | memoryview, *, verify: bool = True) -> Iterator[bytes]:
    """Yield the payload of each record in a TFRecord stream.

    With ``verify`` both CRCs of every record are checked. Raises TFRecordError on a truncated
    stream or a CRC mismatch, naming the record's byte offset.
    """
    view = memoryview(data).cast("B")
    pos, end = 0, len(view)
    while pos < end:
        if end - pos < 12:
            raise TFRecordError(f"truncated record header at offset {pos}")
        header = bytes(view[pos : pos + 8])
        (length,) = struct.unpack("<Q", header)
        (length_crc,) = struct.unpack_from("<I", view, pos + 8)
        if verify and masked_crc32c(header) != length_crc:
            raise TFRecordError(f"length CRC mismatch in record at offset {pos}")
        start = pos + 12
        if end - start < length + 4:
            raise TFRecordError(f"truncated record at offset {pos}: needs {length + 16} bytes")
        payload = bytes(view[start : start + length])
        (data_crc,) = struct.unpack_from("<I", view, start + length)
        if verify and masked_crc32c(payload) != data_crc:
            raise TFRecordError(f"data CRC mismatch in record at offset {pos}")
        yield payload
        pos = start + length + 4


def _read_varint(buf: memoryview, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise TFRecordError("malformed varint in Example")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(buf: memoryview) -> Iterator[tuple[int, int, int | memoryview]]:
    """Yield ``(field number, wire type, value)``; length-delimited values are views."""
    pos = 0
    while pos < len(buf):
        key, pos = _read_varint(buf, pos)
        number, wire = key >> 3, key & 7
        value: int | memoryview
        if wire == 0:
            value, pos = _read_varint(buf, pos)
        elif wire == 2:
            length, pos = _read_varint(buf, pos)
            if pos + length > len(buf):
                raise TFRecordError("truncated field in Example")
            value, pos = buf[pos : pos + length], pos + length
        elif wire in (1, 5):
            width = 8 if wire == 1 else 4
            if pos + width > len(buf):
                raise TFRecordError("truncated field in Example")
            value, pos = int.from_bytes(buf[pos : pos + width], "little"), pos + width
        else:
            raise TFRecordError(f"unsupported wire type {wire} in Example")
        yield number, wire, value


def _to_int64(value: int) -> int:
    value &= 0xFFFFFFFFFFFFFFFF
    return value - (1 << 64) if value >> 63 else value


def _parse_feature(buf: memoryview) -> bytes | list[bytes] | list[int] | list[float]:
    for number, wire, value in _fields(buf):
        if wire != 2 or not isinstance(value, memoryview):
            continue
        if number == 1:  # BytesList
            items = [bytes(v) for n, _, v in _fields(value) if n == 1 and isinstance(v, memoryview)]
            return items[0] if len(items) == 1 else items
        if number == 3:  # Int64List, packed or not
            ints: list[int] = []
            for n, w, v in _fields(value):
                if n != 1:
                    continue
                if isinstance(v, memoryview):
                    p = 0
                    while p < len(v):
                        item, p = _read_varint(v, p)
                        ints.append(_to_int64(item))
                elif w == 0:
                    ints.append(_to_int64(v))
            return ints
        if number == 2:  # FloatList, packed or not
            floats: list[float] = []
            for n, w, v in _fields(value):
                if n == 1 and isinstance(v, memoryview):
                    floats += struct.unpack(f"<{len(v) // 4}f", v[: len(v) // 4 * 4])
                elif n == 1 and w == 5 and isinstance(v, int):
                    floats.append(struct.unpack("<f", v.to_bytes(4, "little"))[0])
            return floats
    return []


def parse_example(
    record: bytes | bytearray | memoryview,
) -> dict[str, bytes | list[bytes] | list[int] | list[float]]:
    """Decode a serialized ``tf.train.Example`` into ``{feature name: value}``.

    bytes_list with one value -> ``bytes`` (several -> list of bytes); int64_list -> list of int;
    float_list -> list of float.
    """
    out: dict[str, bytes | list[bytes] | list[int] | list[float]] = {}
    for number, _, features in _fields(memoryview(record).cast("B")):
        if number != 1 or not isinstance(features, memoryview):
            continue
        for fnum, _, entry in _fields(features):
            if fnum != 1 or not isinstance(entry, memoryview):
                continue
            key, value = "", memoryview(b"")
            for enum, _, item in _fields(entry):
                if enum == 1 and isinstance(item, memoryview):
                    key = bytes(item).decode()
                elif enum == 2 and isinstance(item, memoryview):
                    value = item
            out[key] = _parse_feature(value)
    return out


# ----------------------------------------------------------------------------------- parquet


def parquet_job(
    size: int, *, seed: int, index: int = 0, num: int = 1, dedup: int = 1, compress: int = 1
) -> bytes | Pending:
    """``make_parquet`` as a ``Pending`` job: the template with this object's values in place.

    Like tfrecord, the whole file is rendered from the stream first (file byte ``f`` is stream
    byte ``f``) and the fixed bytes (headers, page headers, footer) and the labels are written over
    it, so dedup blocks and the compress ratio carry through to the ``data`` column's pages.
    """
    size, seed, index, num = _check_common(size, seed, index, num)
    plan = parquet_plan(size)
    labels = np.asarray(_labels(seed, index, plan.rows), dtype="<i8")
    gen = _stream(plan.length, seed, index, num, dedup, compress)
    if not plan.templated:  # another pyarrow wrote a layout we could not verify: let it write
        data = np.empty(plan.payload, np.uint8)
        gen.render(0, data)
        return plan.write_file(data, labels)
    template = np.frombuffer(plan.template, np.uint8)
    label_bytes = labels.view(np.uint8)

    def fill(out: U8Array) -> None:
        for start in range(0, len(out), _CHUNK):
            gen.render(start, out[start : start + _CHUNK])
        for start, end in plan.gaps:
            out[start:end] = template[start:end]
        for start, end, row in plan.label_runs:
            out[start:end] = label_bytes[row * 8 : row * 8 + end - start]

    return plan.length, fill


def make_parquet(
    size: int,
    *,
    seed: int | None = None,
    index: int = 0,
    num: int = 1,
    dedup: int = 1,
    compress: int = 1,
) -> bytes:
    """Return a Parquet file of about ``size`` bytes: columns ``data`` (fixed_size_binary, one
    sample per row) and ``label`` (int64), uncompressed PLAIN pages (needs the ``[parquet]`` extra)."""
    seed = new_seed() if seed is None else seed
    return finish(parquet_job(size, seed=seed, index=index, num=num, dedup=dedup, compress=compress))


# ------------------------------------------------------------------------------------ shared


def payload_size(object_type: str, size: int, *, records: int | None = None) -> int:
    """Payload bytes (the ``data`` array / all record values) in a file of ``size`` bytes.

    For tfrecord this is the upper bound (labels below 128); actual files may hold a few bytes less.
    """
    if object_type == "npz":
        return _npz_layout(size)[1]
    if object_type == "hdf5":
        return max(0, size - _hdf5_layout(size >= ALIGN_MIN_SIZE)[0])
    if object_type == "tfrecord":
        return sum(_fit(t, 1) for t in _tfrecord_plan(size, records))
    if object_type == "parquet":
        return parquet_plan(size).payload
    raise ValueError(f"no payload rule for object type {object_type!r}")
