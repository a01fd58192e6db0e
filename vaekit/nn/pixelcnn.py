"""A PixelCNN over a grid of discrete symbols (van den Oord, Kalchbrenner & Kavukcuoglu 2016, "Pixel Recurrent
Neural Networks", arXiv:1601.06759, section 3.5): masked convolutions, so that the logits at each position
depend only on the positions before it in raster order. The first convolution (mask A) also hides the
position itself; the later ones (mask B) may see it, as it then holds only earlier positions' information.
"""
from __future__ import annotations

import torch
from torch import nn


class MaskedConv2d(nn.Conv2d):
    """A 'same'-padded convolution whose kernel sees only the rows above and the positions to the left."""

    mask: torch.Tensor

    def __init__(self, in_channels: int, out_channels: int, kernel: int, include_centre: bool) -> None:
        super().__init__(in_channels, out_channels, kernel, padding=kernel // 2)
        mask = torch.zeros(kernel, kernel)
        mask[: kernel // 2] = 1
        mask[kernel // 2, : kernel // 2 + int(include_centre)] = 1
        self.register_buffer("mask", mask)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, self.weight * self.mask, self.bias)


class PixelCNN(nn.Module):
    """Symbols (N, H, W) in [0, K) -> logits (N, K, H, W) of p(s_i | s_<i)."""

    def __init__(self, symbols: int, channels: int = 64, layers: int = 4) -> None:
        super().__init__()
        self.embed = nn.Embedding(symbols, channels)
        self.first = MaskedConv2d(channels, channels, 7, include_centre=False)
        self.blocks = nn.ModuleList(MaskedConv2d(channels, channels, 3, include_centre=True) for _ in range(layers))
        self.out = nn.Conv2d(channels, symbols, 1)

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.first(self.embed(s).permute(0, 3, 1, 2)))
        for block in self.blocks:
            h = h + torch.relu(block(h))  # residual, as in PixelCNN's deeper stacks
        return self.out(h)
