"""Lightning's Trainer saving, pruning and resuming checkpoints through S3dlioCheckpointIO on S3."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from torch.utils.data import DataLoader, TensorDataset

import s3dlio
from s3dlio.lightning import S3dlioCheckpointIO, checkpoint_uri


class TinyModel(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(4, 1)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        return torch.nn.functional.mse_loss(self.layer(x), y)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)


def _data() -> DataLoader[Any]:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(16, 4, generator=generator)
    return DataLoader(TensorDataset(x, x.sum(dim=1, keepdim=True)), batch_size=4)


def _trainer(tmp_path: Path, max_steps: int, dirpath: str) -> pl.Trainer:
    return pl.Trainer(
        max_steps=max_steps,
        accelerator="cpu",
        devices=1,
        plugins=[S3dlioCheckpointIO()],
        callbacks=[ModelCheckpoint(dirpath=dirpath, every_n_train_steps=1, save_top_k=-1)],
        default_root_dir=str(tmp_path),
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )


@pytest.fixture
def ckpt_dir(s3_env: Any, new_s3_bucket: str) -> str:
    return f"s3dlio://s3/{new_s3_bucket}/ckpts"


def test_two_steps_save_and_resume_on_s3(tmp_path: Path, ckpt_dir: str) -> None:
    torch.manual_seed(0)
    model = TinyModel()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Lightning's hints about workers and tiny datasets
        _trainer(tmp_path, 2, ckpt_dir).fit(model, _data())
    prefix = checkpoint_uri(ckpt_dir)
    assert prefix.startswith("s3://")
    names = sorted(e["key"].rsplit("/", 1)[1] for e in s3dlio.list(prefix + "/"))
    assert names == ["epoch=0-step=1.ckpt", "epoch=0-step=2.ckpt"]

    io = S3dlioCheckpointIO()
    saved = io.load_checkpoint(f"{ckpt_dir}/epoch=0-step=2.ckpt")
    assert saved["global_step"] == 2
    assert torch.equal(saved["state_dict"]["layer.weight"], model.layer.weight.detach())

    resumed = TinyModel()
    trainer = _trainer(tmp_path, 3, ckpt_dir)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.fit(resumed, _data(), ckpt_path=f"{ckpt_dir}/epoch=0-step=2.ckpt")
    assert trainer.global_step == 3  # continued from step 2, not from 0
    assert "epoch=0-step=3.ckpt" in {e["key"].rsplit("/", 1)[1] for e in s3dlio.list(prefix + "/")}

    io.remove_checkpoint(f"{ckpt_dir}/epoch=0-step=1.ckpt")
    with pytest.raises(FileNotFoundError):
        io.load_checkpoint(f"{ckpt_dir}/epoch=0-step=1.ckpt")


def test_paths_and_options(tmp_path: Path) -> None:
    assert checkpoint_uri("s3://b/k.ckpt") == "s3://b/k.ckpt"
    assert checkpoint_uri("s3dlio://file/tmp/x.ckpt") == "file:///tmp/x.ckpt"
    assert checkpoint_uri(tmp_path / "a.ckpt") == f"file://{tmp_path}/a.ckpt"
    with pytest.raises(ValueError, match="s3dlio URIs"):
        checkpoint_uri("hdfs://x/y")
    io = S3dlioCheckpointIO()
    with pytest.raises(TypeError, match="storage_options"):
        io.save_checkpoint({}, tmp_path / "a.ckpt", storage_options={"anon": True})
    io.save_checkpoint({"step": 7, "w": torch.ones(3)}, tmp_path / "a.ckpt")
    loaded = io.load_checkpoint(tmp_path / "a.ckpt")
    assert loaded["step"] == 7 and torch.equal(loaded["w"], torch.ones(3))
