"""make_object / object_chunks purity, put() argument validation and name templates."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from s3dlio.datagen import (
    OBJECT_TYPES,
    STREAMABLE_TYPES,
    expand_template,
    make_object,
    new_seed,
    object_chunks,
    validate_put_args,
    validate_template,
)

KiB = 1024


def test_object_types() -> None:
    assert OBJECT_TYPES == ("zeros", "random", "npz", "hdf5", "tfrecord", "parquet")
    assert set(STREAMABLE_TYPES) <= set(OBJECT_TYPES)


@pytest.mark.parametrize("object_type", OBJECT_TYPES)
def test_make_object_is_pure_across_threads(object_type: str) -> None:
    args = {"seed": 21, "dedup": 2, "compress": 2, "num": 8}
    serial = [make_object(object_type, i, 90 * KiB, **args) for i in range(8)]
    with ThreadPoolExecutor(4) as pool:
        parallel = list(pool.map(lambda i: make_object(object_type, i, 90 * KiB, **args), reversed(range(8))))
    assert parallel[::-1] == serial
    if object_type != "zeros":
        assert len(set(serial)) == 8


@pytest.mark.parametrize("object_type", OBJECT_TYPES)
@pytest.mark.parametrize("chunk", [1000, 64 * KiB, 10**7])
def test_object_chunks_equal_make_object(object_type: str, chunk: int) -> None:
    args = {"seed": 5, "dedup": 3, "compress": 4, "num": 3}
    whole = make_object(object_type, 1, 200_001, **args)
    parts = list(object_chunks(object_type, 1, 200_001, chunk, **args))
    assert all(len(p) == chunk for p in parts[:-1])
    assert b"".join(parts) == whole


def test_object_chunks_checks_arguments_eagerly() -> None:
    with pytest.raises(ValueError, match="chunk_size"):
        object_chunks("random", 0, 10, 0, seed=1)
    with pytest.raises(ValueError, match="size"):
        object_chunks("zeros", 0, -1, 10, seed=1)


def test_make_object_requires_a_seed() -> None:
    with pytest.raises(TypeError, match="new_seed"):
        make_object("random", 0, 10, seed=None)  # type: ignore[arg-type]
    assert isinstance(new_seed(), int)


def test_make_object_rejects_index_out_of_range() -> None:
    with pytest.raises(ValueError, match="index"):
        make_object("random", 3, 10, seed=1, num=3)
    with pytest.raises(ValueError, match="index"):
        make_object("npz", -1, 10, seed=1, num=3)
    with pytest.raises(ValueError, match="index"):
        make_object("zeros", 5, 10, seed=1, num=3)
    with pytest.raises(ValueError, match="index"):
        object_chunks("zeros", 5, 10, 4, seed=1, num=3)


def test_make_object_rejects_unknown_type() -> None:
    with pytest.raises(ValueError, match="zeros, random, npz, hdf5, tfrecord, parquet"):
        make_object("arrow", 0, 10, seed=1)


# ---------------------------------------------------------------------------- validation

GOOD = {
    "num": 10,
    "template": "obj_{:06d}.bin",
    "object_type": "random",
    "size": 1024,
    "compress_factor": 1,
    "dedup_factor": 1,
    "max_in_flight": 8,
}


def test_validate_accepts_good_arguments() -> None:
    validate_put_args(**GOOD)  # type: ignore[arg-type]
    validate_put_args(**{**GOOD, "num": 1, "template": "single.bin", "size": 0})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        ({"object_type": "RANDOM"}, ValueError, "valid types: zeros, random, npz, hdf5, tfrecord"),
        ({"object_type": None}, ValueError, "unknown object_type"),
        ({"num": 0}, ValueError, "num"),
        ({"num": -3}, ValueError, "num"),
        ({"size": -1}, ValueError, "size"),
        ({"compress_factor": 0}, ValueError, "compress_factor"),
        ({"compress_factor": 1000}, ValueError, "compress_factor"),
        ({"dedup_factor": 0}, ValueError, "dedup_factor"),
        ({"max_in_flight": 0}, ValueError, "max_in_flight"),
        ({"num": True}, TypeError, "num"),
        ({"num": 2.0}, TypeError, "num"),
        ({"size": 1.5}, TypeError, "size"),
        ({"size": "10"}, TypeError, "size"),
        ({"compress_factor": False}, TypeError, "compress_factor"),
        ({"dedup_factor": 2.0}, TypeError, "dedup_factor"),
        ({"max_in_flight": None}, TypeError, "max_in_flight"),
        ({"template": "same_name.bin"}, ValueError, "same name"),
        ({"template": "obj_{:q}.bin"}, ValueError, "obj_{:q}.bin"),
        ({"template": 5}, TypeError, "template"),
    ],
)
def test_validate_rejects(change: dict[str, object], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match.replace("{", r"\{").replace("}", r"\}")):
        validate_put_args(**{**GOOD, **change})  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- templates


@pytest.mark.parametrize(
    ("template", "index", "num", "expected"),
    [
        ("sample_{:06d}.npz", 42, 100, "sample_000042.npz"),
        ("data_{:03d}.npz", 7, 10, "data_007.npz"),
        ("{}", 5, 9, "5"),
        ("file_{}_of_{}.bin", 3, 10, "file_3_of_10.bin"),
        ("{1}/part-{0:05d}", 2, 4, "4/part-00002"),
        ("shard_{index:04d}_of_{num}.tfrecord", 9, 12, "shard_0009_of_12.tfrecord"),
        ("lit_{{}}_{}", 1, 2, "lit_{}_1"),
        ("train/img_{:x}.bin", 255, 300, "train/img_ff.bin"),
        ("only.bin", 0, 1, "only.bin"),
    ],
)
def test_expand_template(template: str, index: int, num: int, expected: str) -> None:
    validate_template(template, num)
    assert expand_template(template, index, num) == expected


def test_expanded_names_are_distinct() -> None:
    names = {expand_template("obj_{:06d}.bin", i, 5000) for i in range(5000)}
    assert len(names) == 5000


@pytest.mark.parametrize(
    ("template", "num", "match"),
    [
        ("no_field.bin", 2, "no {} field"),
        ("obj_{", 5, "obj_{"),
        ("obj_}", 5, "obj_}"),
        ("obj_{:q}", 5, "obj_{:q}"),
        ("{}_{}_{}", 5, "IndexError"),
        ("{name}", 5, "KeyError"),
        ("{!s:.0}.bin", 5, "distinct"),
        ("file_of_{1}.bin", 5, "distinct"),
        ("", 1, "empty"),
    ],
)
def test_validate_template_errors(template: str, num: int, match: str) -> None:
    with pytest.raises(ValueError, match=match.replace("{", r"\{").replace("}", r"\}")):
        validate_template(template, num)


def test_expand_template_errors_name_the_template() -> None:
    with pytest.raises(ValueError, match=r"sample_\{:q\}"):
        expand_template("sample_{:q}", 1, 2)


def test_generation_works_in_a_forked_child() -> None:
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    expected = make_object("random", 1, 300_000, seed=4, num=2)
    with ctx.Pool(1) as pool:
        got = pool.apply(make_object, ("random", 1, 300_000), {"seed": 4, "num": 2})
    assert got == expected
