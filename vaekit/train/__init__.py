"""Training: the one Trainer, its schedules, checkpoints and metrics."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from vaekit.config import DataConfig, TrainConfig
from vaekit.contract import LearnsFromLabels
from vaekit.data import Data, from_dataset, load_data, unknown_labels_to_training
from vaekit.models import LatentVariableModel
from vaekit.train.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from vaekit.train.trainer import (
    CheckpointWriteError,
    NonFiniteLossError,
    Trainer,
    TrainingFailed,
    TrainingInterrupted,
    TrainResult,
)

__all__ = ["CheckpointError", "CheckpointWriteError", "NonFiniteLossError", "TrainResult", "Trainer",
           "TrainingFailed", "TrainingInterrupted", "fit", "load_checkpoint", "save_checkpoint"]


def fit(model: LatentVariableModel, data: Data | str | torch.utils.data.Dataset, run_dir: str | Path | None = None,
        **options: Any) -> TrainResult:
    """Train ``model`` on ``data`` (loaded, a data set name, or your own map-style ``torch.utils.data.Dataset``,
    see :func:`vaekit.data.from_dataset`) with TrainConfig fields as keywords."""
    if isinstance(data, str):
        data = load_data(DataConfig(name=data))
    elif isinstance(data, torch.utils.data.Dataset):
        data = from_dataset(data)
    if tuple(data.data_shape) != model.data_shape:
        raise ValueError(f"the data's shape {data.data_shape} differs from the model's {model.data_shape}")
    if isinstance(model, LearnsFromLabels):
        data = unknown_labels_to_training(data)
    return Trainer(model, TrainConfig(**options), run_dir).fit(data)
