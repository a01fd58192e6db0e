"""Multi-layer perceptrons."""
from __future__ import annotations

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
