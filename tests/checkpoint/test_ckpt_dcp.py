"""torch.distributed.checkpoint through S3dlioStorageWriter/Reader, and torch_save/torch_load."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch
import torch.distributed.checkpoint as dcp
from ckpt_helpers import REPO, file_uri, run_python

from s3dlio.checkpoint import torch_load, torch_save
from s3dlio.checkpoint.dcp import (
    S3dlioFileSystem,
    S3dlioStorageReader,
    S3dlioStorageWriter,
)

WORKER = Path(__file__).with_name("ckpt_dist_worker.py")


@pytest.fixture(autouse=True)
def _quiet() -> None:
    warnings.filterwarnings("ignore", message=".*torch.distributed is disabled.*")
    warnings.filterwarnings("ignore", message=".*Detected an existing checkpoint.*")


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 4))


def test_importing_s3dlio_does_not_import_torch() -> None:
    result = run_python(
        """
        import sys
        import s3dlio, s3dlio.checkpoint
        from s3dlio.checkpoint import create_checkpoint_writer, torch_save
        from s3dlio.checkpoint import *
        assert "torch" not in sys.modules, "torch was imported"
        from s3dlio.checkpoint import S3dlioStorageWriter
        assert "torch" in sys.modules
        print("ok")
        """
    )
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr


def test_single_process_save_and_load(tmp_path: Path) -> None:
    uri = file_uri(tmp_path, "dcp")
    state = {"model": _model().state_dict(), "big": torch.randn(3_000_000), "step": 7, "extra": {"lr": 0.1}}
    dcp.save(state, storage_writer=S3dlioStorageWriter(uri))
    target = {
        "model": torch.nn.Sequential(
            torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 4)
        ).state_dict(),
        "big": torch.zeros(3_000_000),
        "step": 0,
        "extra": {"lr": 0.0},
    }
    dcp.load(target, storage_reader=S3dlioStorageReader(uri))
    assert torch.equal(target["big"], state["big"])
    for key, value in state["model"].items():
        assert torch.equal(target["model"][key], value)
    assert target["step"] == 7 and target["extra"] == {"lr": 0.1}


def test_partial_load_and_stock_reader(tmp_path: Path) -> None:
    uri = file_uri(tmp_path, "dcp")
    state = {"a": torch.arange(10.0), "b": torch.ones(5, 5), "c": torch.full((100,), 3.0)}
    dcp.save(state, storage_writer=S3dlioStorageWriter(uri))
    only_b = {"b": torch.zeros(5, 5)}
    dcp.load(only_b, storage_reader=S3dlioStorageReader(uri))
    assert torch.equal(only_b["b"], state["b"])
    # torch's own FileSystemReader reads what we wrote (it follows the paths in .metadata)
    stock = {"a": torch.zeros(10), "c": torch.zeros(100)}
    dcp.load(stock, storage_reader=dcp.FileSystemReader(str(tmp_path / "dcp")))
    assert torch.equal(stock["a"], state["a"]) and torch.equal(stock["c"], state["c"])


def test_resave_replaces_data_after_metadata(tmp_path: Path) -> None:
    uri = file_uri(tmp_path, "dcp")
    dcp.save({"x": torch.ones(1000)}, storage_writer=S3dlioStorageWriter(uri))
    first = sorted(p.name for p in (tmp_path / "dcp").iterdir())
    dcp.save({"x": torch.full((1000,), 2.0)}, storage_writer=S3dlioStorageWriter(uri))
    second = sorted(p.name for p in (tmp_path / "dcp").iterdir())
    assert len(first) == len(second) == 2 and first != second  # .metadata + one dcp-<ts>/ each
    got = {"x": torch.zeros(1000)}
    dcp.load(got, storage_reader=S3dlioStorageReader(uri))
    assert torch.equal(got["x"], torch.full((1000,), 2.0))


def test_two_gloo_ranks_save_model_and_optimizer(tmp_path: Path) -> None:
    uri = file_uri(tmp_path, "dcp")
    out = tmp_path / "out"
    out.mkdir()
    result = subprocess.run(
        [sys.executable, str(WORKER), "dcp", uri, str(out), "2"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    expected = torch.load(out / "expected-0.pt", weights_only=True)

    from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict

    model = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 4))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    model(torch.randn(2, 16)).sum().backward()
    optimizer.step()  # creates the optimizer state to load into
    optimizer.zero_grad()
    model_sd, optim_sd = get_state_dict(model, optimizer)
    state = {"model": model_sd, "optim": optim_sd, "rank0": torch.zeros(4, 4), "rank1": torch.zeros(4, 4)}
    dcp.load(state, storage_reader=S3dlioStorageReader(uri))
    set_state_dict(model, optimizer, model_state_dict=state["model"], optim_state_dict=state["optim"])
    for key, value in expected["model"].items():
        assert torch.equal(model.state_dict()[key], value), key
    got_optim = optimizer.state_dict()
    for pid, param_state in expected["optim"]["state"].items():
        for name, value in param_state.items():
            assert torch.equal(torch.as_tensor(got_optim["state"][pid][name]), torch.as_tensor(value)), name
    assert torch.equal(state["rank1"], torch.full((4, 4), 1.0))
    assert torch.equal(state["rank0"], torch.zeros(4, 4))
    data_files = sorted(p.name for p in next((tmp_path / "dcp").glob("dcp-*")).iterdir())
    assert data_files == ["__0_0.distcp", "__1_0.distcp"]


def test_filesystem_shim(tmp_path: Path) -> None:
    fs = S3dlioFileSystem()
    base = fs.init_path(file_uri(tmp_path, "fs") + "/")
    assert base == file_uri(tmp_path, "fs")
    path = fs.concat_path(base, "a.bin")
    assert not fs.exists(path)
    with fs.create_stream(path, "wb") as stream:
        stream.write(b"hello ")
        stream.write(memoryview(b"world"))
        assert stream.tell() == 11
    with fs.create_stream(path, "rb") as stream:
        assert stream.read(5) == b"hello"
        stream.seek(-5, os.SEEK_END)
        assert stream.read() == b"world"
        stream.seek(2)
        buf = bytearray(3)
        assert stream.readinto(buf) == 3 and bytes(buf) == b"llo"
    fs.rename(path, fs.concat_path(base, "b.bin"))
    assert not fs.exists(path) and fs.exists(fs.concat_path(base, "b.bin"))
    assert [p.rsplit("/", 1)[-1] for p in fs.ls(base)] == ["b.bin"]
    with pytest.raises(RuntimeError), fs.create_stream(fs.concat_path(base, "c.bin"), "wb") as stream:
        stream.write(b"partial")
        raise RuntimeError("boom")
    assert not fs.exists(fs.concat_path(base, "c.bin"))  # an error leaves no file
    fs.rm_file(fs.concat_path(base, "b.bin"))
    assert fs.ls(base) == []
    assert S3dlioFileSystem.validate_checkpoint_id("s3://bucket/x")
    assert not S3dlioFileSystem.validate_checkpoint_id("/local/path")
    assert not S3dlioFileSystem.validate_checkpoint_id("ftp://x/y")


def test_large_reads_through_the_stream(tmp_path: Path) -> None:
    fs = S3dlioFileSystem()
    path = file_uri(tmp_path, "big.bin")
    payload = os.urandom(20 * 1024 * 1024 + 123)
    with fs.create_stream(path, "wb") as stream:
        stream.write(payload)
    with fs.create_stream(path, "rb") as stream:
        stream.seek(7)
        assert stream.read(len(payload)) == payload[7:]  # clipped at the end
        stream.seek(1000)
        assert stream.read(100) == payload[1000:1100]


def test_torch_save_and_load(tmp_path: Path) -> None:
    uri = file_uri(tmp_path, "model.pt")
    model = _model()
    obj = {"model": model.state_dict(), "big": torch.randn(5_000_000), "epoch": 3}
    torch_save(obj, uri)
    loaded = torch_load(uri, weights_only=True)
    assert loaded["epoch"] == 3 and torch.equal(loaded["big"], obj["big"])
    for key, value in obj["model"].items():
        assert torch.equal(loaded["model"][key], value)
    with pytest.raises(Exception):  # noqa: B017  (whatever pickle raises)
        torch_save({"bad": lambda: 0}, file_uri(tmp_path, "bad.pt"))
    assert not (tmp_path / "bad.pt").exists()
