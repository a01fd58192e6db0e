"""Learning-rate schedules and the KL warm-up weight."""
from __future__ import annotations

import math

import torch
from torch.optim import Optimizer
from torch.optim.lr_scheduler import CosineAnnealingLR, ExponentialLR, LRScheduler

from vaekit.config import TrainConfig


def make_optimizer(params: list[torch.nn.Parameter], config: TrainConfig, lr: float | None = None) -> Optimizer:
    """Adam (fused: one kernel for all parameters) or SGD with momentum, at ``lr`` (default ``config.lr``)."""
    lr = config.lr if lr is None else lr
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=config.weight_decay, fused=True)
    return torch.optim.SGD(params, lr=lr, momentum=config.momentum, weight_decay=config.weight_decay)


def make_scheduler(optimizer: Optimizer, config: TrainConfig, total_steps: int) -> LRScheduler | None:
    """Stepped once per training step: cosine or exponential decay from lr to lr * lr_final."""
    if config.schedule == "cosine":
        return CosineAnnealingLR(optimizer, T_max=max(1, total_steps),
                                 eta_min=optimizer.param_groups[0]["lr"] * config.lr_final)
    if config.schedule == "exponential":
        return ExponentialLR(optimizer, gamma=config.lr_final ** (1.0 / max(1, total_steps)))
    return None


def kl_weight(step: int, warmup_steps: int, shape: str = "linear") -> float:
    """The KL weight, rising from 0 to 1 over ``warmup_steps``: linearly (Sonderby et al. 2016, arXiv:1602.02282,
    sec. 2.5), or along a logistic curve centred halfway, 1 / (1 + exp(-10 (t / T - 1/2))), as in Bowman et al. 2016
    (arXiv:1511.06349, sec. 3.1, fig. 2); 1 from then on."""
    if warmup_steps == 0 or step + 1 >= warmup_steps:
        return 1.0
    fraction = (step + 1) / warmup_steps
    return fraction if shape == "linear" else 1.0 / (1.0 + math.exp(-10.0 * (fraction - 0.5)))
