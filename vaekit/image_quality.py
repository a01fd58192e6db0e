"""Distortion measures for reconstructions of images with values in [0, 1]."""
from __future__ import annotations

import torch
from pytorch_msssim import ssim as _ssim

_MIN_MSE = 1e-10  # an exact reconstruction scores 100 dB rather than infinity


def psnr(x: torch.Tensor, y: torch.Tensor) -> float:
    """Peak signal-to-noise ratio in dB (peak 1) of each item of the batch (N, ...), averaged over items."""
    mse = ((x.double() - y.double()) ** 2).flatten(1).mean(1).clamp(min=_MIN_MSE)
    return float((-10.0 * torch.log10(mse)).mean())


SSIM_WINDOW = 11  # pixels: SSIM needs images at least this wide and high


def ssim(x: torch.Tensor, y: torch.Tensor) -> float:
    """Mean structural similarity (Wang et al. 2004: 11x11 Gaussian window, sigma 1.5) over a batch (N, C, H, W)."""
    if x.dim() != 4 or min(x.shape[-2:]) < SSIM_WINDOW:
        raise ValueError(f"SSIM needs images (N, C, H, W) at least 11 pixels on a side, got {tuple(x.shape)}")
    return float(_ssim(x.float(), y.float(), data_range=1.0, size_average=True))
