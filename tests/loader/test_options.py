"""Loader options: validated in one place, every one accepted is honoured."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import s3dlio
from conftest import write_objects
from s3dlio.loader import LoaderOptions, create_async_loader
from s3dlio.loader.adaptive import PRESETS, Preset, classify, preset_for, tune

MiB = 1024 * 1024


def test_defaults() -> None:
    o = LoaderOptions.from_dict(None)
    assert (o.batch_size, o.prefetch, o.max_concurrency) == (32, 2, 16)
    assert (o.shuffle, o.seed, o.part_size, o.drop_last) == (False, None, 8 * MiB, False)
    assert (o.shard_rank, o.shard_world_size, o.num_workers_split, o.epoch) == (0, 1, "auto", 0)
    assert o.adaptive is None
    assert LoaderOptions.from_dict({}) == o


def test_unknown_key_lists_valid_keys() -> None:
    with pytest.raises(ValueError) as info:
        LoaderOptions.from_dict({"batch_size": 4, "shufle": True})
    message = str(info.value)
    assert "shufle" in message
    for key in ("batch_size", "prefetch", "max_concurrency", "shuffle", "seed", "part_size", "adaptive"):
        assert key in message


@pytest.mark.parametrize(
    ("opts", "name"),
    [
        ({"batch_size": "32"}, "batch_size"),
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": 2.0}, "batch_size"),
        ({"batch_size": True}, "batch_size"),
        ({"prefetch": -1}, "prefetch"),
        ({"max_concurrency": 0}, "max_concurrency"),
        ({"shuffle": 1}, "shuffle"),
        ({"shuffle": "yes"}, "shuffle"),
        ({"seed": -1}, "seed"),
        ({"seed": 1.5}, "seed"),
        ({"part_size": 1 * MiB}, "part_size"),
        ({"part_size": "8MB"}, "part_size"),
        ({"drop_last": None}, "drop_last"),
        ({"shard_rank": 2, "shard_world_size": 2}, "shard_rank"),
        ({"shard_rank": -1}, "shard_rank"),
        ({"shard_world_size": 0}, "shard_world_size"),
        ({"num_workers_split": "yes"}, "num_workers_split"),
        ({"epoch": -3}, "epoch"),
        ({"adaptive": "auto"}, "adaptive"),
        ({"adaptive": {"mode": "on"}}, "mode"),
        ({"adaptive": {"workload_type": "huge"}}, "workload_type"),
        ({"adaptive": {"mode": "enabled", "extra": 1}}, "extra"),
    ],
)
def test_bad_values_raise_value_error_naming_the_option(opts: dict[str, Any], name: str) -> None:
    with pytest.raises(ValueError, match=name):
        LoaderOptions.from_dict(opts)


def test_not_a_dict() -> None:
    with pytest.raises(ValueError, match="dict"):
        LoaderOptions.from_dict([("batch_size", 3)])  # type: ignore[arg-type]


def test_numpy_scalars_are_accepted() -> None:
    o = LoaderOptions.from_dict({"batch_size": np.int64(8), "shuffle": np.bool_(True), "seed": np.uint32(3)})
    assert (o.batch_size, o.shuffle, o.seed) == (8, True, 3)
    assert type(o.batch_size) is int


def test_round_trip_and_explicit_keys() -> None:
    opts = {"batch_size": 4, "adaptive": {"mode": "enabled", "workload_type": "small"}}
    o = LoaderOptions.from_dict(opts)
    assert o.explicit == {"batch_size", "adaptive"}
    assert LoaderOptions.from_dict(o.to_dict()) == o
    merged = o.merged({"batch_size": 9, "shuffle": True})
    assert (merged.batch_size, merged.shuffle, merged.adaptive) == (9, True, o.adaptive)


def test_bad_options_fail_before_any_io(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = f"file://{tmp_path}/does-not-exist/"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="valid keys"):
            create_async_loader(missing, {"batchsize": 4})
        with pytest.raises(ValueError, match="valid keys"):
            s3dlio.loader.create_dataset(missing, {"prefetchh": 1})
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


# --- adaptive presets --------------------------------------------------------------------
def test_classify_by_median_size() -> None:
    assert classify([100, 200, 300]) == "small"
    assert classify([2 * MiB, 3 * MiB]) == "medium"
    assert classify([64 * MiB]) == "medium"
    assert classify([65 * MiB, 100 * MiB, 1]) == "large"
    assert preset_for("auto", [2 << 30])[1] == Preset(max_concurrency=4, part_size=32 * MiB)
    assert preset_for("large", [100 * MiB])[1] == Preset(max_concurrency=8, part_size=16 * MiB)
    assert preset_for("batch")[1].max_concurrency == PRESETS["batch"].max_concurrency


def test_presets_fill_only_unset_options() -> None:
    o = LoaderOptions.from_dict({"adaptive": {"mode": "enabled", "workload_type": "small"}})
    tuned, kind = tune(o)
    assert kind == "small" and tuned.max_concurrency == 64
    o = LoaderOptions.from_dict({"max_concurrency": 3, "adaptive": {"workload_type": "large"}})
    tuned, kind = tune(o)
    assert kind == "large" and tuned.max_concurrency == 3 and tuned.part_size == 16 * MiB
    o = LoaderOptions.from_dict({"adaptive": {"mode": "disabled", "workload_type": "small"}})
    assert tune(o) == (o, None)


def test_auto_tuning_uses_listed_sizes(tmp_path: Path) -> None:
    prefix = write_objects(tmp_path, 100, 2048)
    adaptive = {"mode": "enabled", "workload_type": "auto"}
    loader = create_async_loader(prefix, {"batch_size": 32, "adaptive": adaptive})
    assert loader.workload_type is None  # resolved when the first epoch starts
    assert len(list(loader)) == 4
    assert loader.workload_type == "small"
    assert loader.effective_options.max_concurrency == PRESETS["small"].max_concurrency == 64
    # the window (3 batches of 32) allows 96 requests; the preset caps them at 64, not 16
    assert loader.stats.peak_in_flight == 64
    explicit = create_async_loader(prefix, {"batch_size": 32, "max_concurrency": 5, "adaptive": adaptive})
    list(explicit)
    assert explicit.stats.peak_in_flight == 5


def test_auto_tuning_samples_sizes_for_a_uri_list(tmp_path: Path) -> None:
    write_objects(tmp_path, 6, 2048)
    uris = [f"file://{tmp_path}/data/obj_{i:05d}.bin" for i in range(6)]
    loader = create_async_loader(uris, {"adaptive": {"workload_type": "auto"}})
    assert loader.dataset.sizes == [None] * 6
    list(loader)
    assert loader.workload_type == "small"


def test_ranged_reads_only_where_part_size_was_chosen() -> None:
    """By default the loader splits objects where ``get()`` does (the measured engine threshold);
    a ``part_size`` given by the caller or by an adaptive preset splits above that size."""
    from s3dlio.loader.dataset import Fetcher, split_above

    engine = s3dlio.get_config().range_get_threshold
    default = LoaderOptions.from_dict({})
    given = LoaderOptions.from_dict({"part_size": 5 * MiB})
    assert split_above(default, None) is None
    assert split_above(given, None) == 5 * MiB
    assert split_above(default, "large") == default.part_size
    fetchers = {
        "default": Fetcher(default.part_size, 8, split_above=split_above(default, None)),
        "given": Fetcher(given.part_size, 8, split_above=split_above(given, None)),
    }
    assert fetchers["default"].config.range_get_threshold == max(engine, 8 * MiB) > 8 * MiB + 4096
    assert fetchers["given"].config.range_get_threshold == 5 * MiB
    assert {f.config.part_size for f in fetchers.values()} == {8 * MiB, 5 * MiB}
