"""Multi-layer perceptrons."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU, "tanh": nn.Tanh, "elu": nn.ELU, "softplus": nn.Softplus, "leaky_relu": nn.LeakyReLU,
}


def mlp(in_features: int, hidden: list[int], out_features: int, activation: str = "relu",
        dropout: float = 0.0) -> nn.Sequential:
    """Linear layers of widths ``hidden`` with ``activation`` (and dropout, if any) between them and a linear
    output."""
    layers: list[nn.Module] = []
    width = in_features
    for h in hidden:
        layers += [nn.Linear(width, h), ACTIVATIONS[activation]()] + ([nn.Dropout(dropout)] if dropout else [])
        width = h
    layers.append(nn.Linear(width, out_features))
    return nn.Sequential(*layers)


def data_and_extra(linear: nn.Linear, data: torch.Tensor, extra: torch.Tensor) -> torch.Tensor:
    """``linear`` of the features [data, extra]. Extra (B, E) gives (B, out); extra (B, R, E), R rows for each
    datum, gives (B, R, out) as the data's part, computed once, plus each row's (M2's bound over every class,
    Kingma et al. 2014 eq. 7)."""
    if extra.dim() == 2:
        return linear(torch.cat([data, extra], dim=-1))
    width = data.shape[-1]
    part = F.linear(data, linear.weight[:, :width], linear.bias)
    return part.unsqueeze(1) + F.linear(extra, linear.weight[:, width:])
