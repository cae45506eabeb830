"""Argument parsing only (click's CliRunner); behaviour is tested through the real console script."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from s3dlio.cli._common import KeyFilter, parse_duration, parse_size, to_uri
from s3dlio.cli.app import cli

COMMANDS = ["bench", "cat", "ckpt", "cp", "gen", "ls", "mb", "rb", "rm", "stat", "sync"]


def test_every_command_is_listed_and_has_help() -> None:
    runner = CliRunner()
    top = runner.invoke(cli, ["--help"])
    assert top.exit_code == 0
    for name in COMMANDS:
        assert f"  {name} " in top.output
        result = runner.invoke(cli, [name, "--help"])
        assert result.exit_code == 0 and "--json" in result.output, name
    for name in ("ls", "verify", "rm"):
        assert runner.invoke(cli, ["ckpt", name, "--help"]).exit_code == 0


@pytest.mark.parametrize(
    "args",
    [
        ["cp", "only-one"],
        ["gen", "file:///tmp/x"],  # --num is required
        ["gen", "file:///tmp/x", "-n", "1", "-t", "bogus"],
        ["cp", "-j", "0", "a", "b"],
        ["bench", "file:///tmp/x", "--op", "nope"],
        ["ls", "--no-such-option", "x"],
    ],
)
def test_bad_usage_exits_2(args: list[str]) -> None:
    assert CliRunner().invoke(cli, args).exit_code == 2


def test_sizes_durations_and_paths() -> None:
    assert [parse_size(t) for t in ("512", "4KiB", "4k", "1MB", "1.5MiB", "2 GiB")] == [
        512, 4096, 4000, 10**6, 1572864, 2 << 30,
    ]  # fmt: skip
    assert [parse_duration(t) for t in ("10s", "2m", "500ms", "1.5")] == [10.0, 120.0, 0.5, 1.5]
    for bad in ("lots", "4XB", "-1"):
        with pytest.raises(click.BadParameter):
            parse_size(bad)
    assert to_uri("s3://b/k") == "s3://b/k"
    assert to_uri("/data/x") == "file:///data/x" and to_uri("/data/dir/") == "file:///data/dir/"


def test_key_filters() -> None:
    keep = KeyFilter(("*.txt",), ("skip/*",), regex=False)
    assert [k for k in ("a.txt", "b.bin", "d/c.txt", "skip/e.txt") if keep(k)] == ["a.txt", "d/c.txt"]
    assert [k for k in ("x1", "y2", "x22") if KeyFilter((r"^x\d$",), (), regex=True)(k)] == ["x1"]
    with pytest.raises(click.BadParameter):
        KeyFilter(("(",), (), regex=True)
