"""Convolutional encoder and decoder for images of any size and channel count.

Each of the L layers halves (encoder) or doubles (decoder) height and width; the decoder starts
from a (C_L, ceil(H / 2^L), ceil(W / 2^L)) map and crops its output to exactly (H, W).
With ``residual=True`` every resolution also gets a residual block, x + conv1x1(act(conv3x3(act(x))))
(He et al. 2016, in the pre-activation form VQ-VAE's networks use, van den Oord et al. 2017 section 4.1).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from vaekit.nn.mlp import ACTIVATIONS, data_and_extra


def _bottom(size: tuple[int, int], layers: int) -> tuple[int, int]:
    return math.ceil(size[0] / 2**layers), math.ceil(size[1] / 2**layers)


class ResidualBlock(nn.Module):
    def __init__(self, channels: int, activation: str) -> None:
        super().__init__()
        act = ACTIVATIONS[activation]
        self.body = nn.Sequential(act(), nn.Conv2d(channels, channels, 3, padding=1), act(),
                                  nn.Conv2d(channels, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def _downsampling(in_channels: int, channels: list[int], activation: str, residual: bool) -> nn.Sequential:
    """Stride-2 convolutions of widths ``channels``, each halving height and width (rounding down)."""
    layers: list[nn.Module] = []
    width = in_channels
    for c in channels:
        layers += [nn.Conv2d(width, c, 4, stride=2, padding=1), ACTIVATIONS[activation]()]
        layers += [ResidualBlock(c, activation)] if residual else []
        width = c
    return nn.Sequential(*layers)


class ConvEncoder(nn.Module):
    """(B, C, H, W) -> (B, out_features) through stride-2 convolutions and a linear layer;
    ``extra_features`` (B, E), or (B, R, E) for R rows each, given to ``forward`` join the linear layer's input."""

    extra_rows = True

    def __init__(self, data_shape: tuple[int, int, int], channels: list[int], out_features: int,
                 activation: str = "relu", residual: bool = False, extra_features: int = 0) -> None:
        super().__init__()
        self.features = _downsampling(data_shape[0], channels, activation, residual)
        with torch.no_grad():
            flat = self.features(torch.zeros(1, *data_shape)).numel()
        self.out = nn.Linear(flat + extra_features, out_features)

    def forward(self, x: torch.Tensor, extra: torch.Tensor | None = None) -> torch.Tensor:
        h = self.features(x).flatten(1)
        return self.out(h) if extra is None else data_and_extra(self.out, h, extra)


class GridEncoder(nn.Module):
    """(B, C, H, W) -> a grid (B, out_channels, ceil(H / 2^L), ceil(W / 2^L)): the input zero-padded to a
    multiple of 2^L, stride-2 convolutions, then a 1x1 convolution (VQ-VAE's encoder, section 4.1)."""

    def __init__(self, data_shape: tuple[int, int, int], channels: list[int], out_channels: int,
                 activation: str = "relu", residual: bool = False) -> None:
        super().__init__()
        self.grid = _bottom(data_shape[1:], len(channels))
        scale = 2 ** len(channels)
        self.pad = (0, self.grid[1] * scale - data_shape[2], 0, self.grid[0] * scale - data_shape[1])
        self.features = _downsampling(data_shape[0], channels, activation, residual)
        self.out = nn.Conv2d(channels[-1], out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.features(nn.functional.pad(x, self.pad)))


class ConvDecoder(nn.Module):
    """(B, in_features) -> (B, out_channels, H, W) through a linear layer and stride-2 transposed convolutions.
    With ``from_grid`` the input is a flattened grid (in_features, H / 2^L, W / 2^L) and the first layer a 3x3
    convolution (VQ-VAE's latent grid)."""

    def __init__(self, in_features: int, channels: list[int], data_shape: tuple[int, int, int],
                 out_channels: int, activation: str = "relu", residual: bool = False, from_grid: bool = False) -> None:
        super().__init__()
        self.size = data_shape[1:]
        self.start = (channels[-1], *_bottom(self.size, len(channels)))
        self.grid = (in_features, *self.start[1:]) if from_grid else None
        first = nn.Conv2d(in_features, channels[-1], 3, padding=1) if from_grid \
            else nn.Linear(in_features, math.prod(self.start))
        self.inp = nn.Sequential(first, ACTIVATIONS[activation]())
        layers: list[nn.Module] = []
        widths = list(reversed(channels))
        for a, b in zip(widths, widths[1:]):
            layers += [ResidualBlock(a, activation)] if residual else []
            layers += [nn.ConvTranspose2d(a, b, 4, stride=2, padding=1), ACTIVATIONS[activation]()]
        layers += [ResidualBlock(widths[-1], activation)] if residual else []
        layers.append(nn.ConvTranspose2d(widths[-1], out_channels, 4, stride=2, padding=1))
        self.layers = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        flat = z.reshape(-1, *self.grid) if self.grid else z
        h = self.inp(flat).view(-1, *self.start)  # (N, C_L, H / 2^L, W / 2^L), N = all leading axes of z
        out = self.layers(h)[..., : self.size[0], : self.size[1]]  # (N, out_channels, H, W)
        return out.reshape(*z.shape[:-1], *out.shape[1:])
