"""The networks next to the data, built from a model config: an MLP, a convolutional or a residual stack."""
from __future__ import annotations

import math

import torch
from torch import nn

from vaekit.config import ModelConfig
from vaekit.nn.conv import ConvDecoder, ConvEncoder
from vaekit.nn.mlp import data_and_extra, mlp


def _image(config: ModelConfig) -> tuple[int, int, int]:
    assert config.data_shape is not None and len(config.data_shape) == 3  # checked by ModelConfig
    return config.data_shape[0], config.data_shape[1], config.data_shape[2]


class ConditionedMLP(nn.Module):
    """An MLP on the flattened datum with extra features (a one-hot label) appended: ``forward(x, extra)``, extra
    (B, E), or (B, R, E) for R rows each (:func:`data_and_extra`)."""

    extra_rows = True

    def __init__(self, data_size: int, extra_features: int, hidden: list[int], out_features: int,
                 activation: str) -> None:
        super().__init__()
        self.net = mlp(data_size + extra_features, hidden, out_features, activation)

    def forward(self, x: torch.Tensor, extra: torch.Tensor) -> torch.Tensor:
        return self.net[1:](data_and_extra(self.net[0], x.flatten(1), extra))


def data_encoder(config: ModelConfig, hidden: list[int], out_features: int, extra_features: int = 0) -> nn.Module:
    """(B, *data_shape) -> (B, out_features); ``hidden`` are the MLP widths (conv uses ``config.channels``).
    With ``extra_features`` the network is called as ``net(x, extra)``, extra (B, extra_features)."""
    assert config.data_shape is not None
    if config.architecture == "mlp":
        if extra_features:
            return ConditionedMLP(math.prod(config.data_shape), extra_features, hidden, out_features,
                                  config.activation)
        return nn.Sequential(nn.Flatten(), mlp(math.prod(config.data_shape), hidden, out_features, config.activation,
                                               getattr(config, "dropout", 0.0)))
    return ConvEncoder(_image(config), config.channels, out_features, config.activation,
                       residual=config.architecture == "resnet", extra_features=extra_features)


def data_decoder(config: ModelConfig, in_features: int, hidden: list[int], params_per_element: int) -> nn.Module:
    """(*, in_features) -> (*, params_per_element * prod(data_shape)) laid out as (P, *data_shape) per item."""
    assert config.data_shape is not None
    if config.architecture == "mlp":
        return mlp(in_features, hidden, params_per_element * math.prod(config.data_shape), config.activation)
    image = _image(config)
    return ConvDecoder(in_features, config.channels, image, params_per_element * image[0], config.activation,
                       residual=config.architecture == "resnet")
