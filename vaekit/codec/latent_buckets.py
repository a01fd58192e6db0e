"""Latent buckets of equal prior mass (Townsend, Bird & Barber 2019, BB-ANS, section 2.5.1).

Each latent dimension's prior N(m, s^2) is cut at its quantiles i / 2^precision into 2^precision buckets,
so every bucket has prior mass exactly 2^-precision: coding a bucket under the prior is coding it under
a uniform distribution. A bucket stands for the z at its median quantile (i + 1/2) / 2^precision.

q(z|x) over the buckets is coded as two digits, coarse (high bits) then fine (low bits), each a
categorical over at most 2^8 values, instead of one categorical over 2^precision values: the same
joint distribution, at a small fraction of the cost.
"""
from __future__ import annotations

import numpy as np
import torch


class LatentBuckets:
    """The buckets of a diagonal Gaussian prior with per-dimension ``loc`` and ``scale`` (float64)."""

    def __init__(self, loc: torch.Tensor, scale: torch.Tensor, precision: int) -> None:
        self.precision = precision
        self.size = 1 << precision
        self.fine_bits = precision // 2
        self.coarse_size = 1 << (precision - self.fine_bits)
        self.fine_size = 1 << self.fine_bits
        quantiles = torch.arange(self.size + 1, dtype=torch.float64) / self.size
        self.edges = loc[:, None] + scale[:, None] * torch.special.ndtri(quantiles)  # (D, size + 1), +-inf ends
        self.loc, self.scale = loc, scale

    def centres(self, index: np.ndarray) -> torch.Tensor:
        """The z (float32, shape of ``index``) that the buckets ``index`` (..., D) stand for."""
        u = (torch.from_numpy(index).double() + 0.5) / self.size
        return (self.loc + self.scale * torch.special.ndtri(u)).float()

    def _masses(self, loc: torch.Tensor, scale: torch.Tensor, edge_index: torch.Tensor) -> np.ndarray:
        """q's mass between consecutive edges ``edge_index`` (B, D, n+1): a table (B*D, n)."""
        d = torch.arange(loc.shape[-1])
        t = (self.edges[d[:, None], edge_index] - loc[..., None]) / scale[..., None]
        low, high = t[..., :-1], t[..., 1:]
        # differences of upper-tail probabilities above the mean keep their precision far out in the tail
        mass = torch.where(low > 0, torch.special.ndtr(-low) - torch.special.ndtr(-high),
                           torch.special.ndtr(high) - torch.special.ndtr(low)).reshape(-1, t.shape[-1] - 1)
        empty = mass.sum(-1, keepdim=True) <= 0  # a bucket beyond float64's reach: code it uniformly
        return torch.where(empty, 1.0, mass).numpy()

    def coarse_table(self, loc: torch.Tensor, scale: torch.Tensor) -> np.ndarray:
        """q(coarse digit | x) for posterior (loc, scale) of shape (B, D): a table (B*D, coarse_size)."""
        edge_index = torch.arange(self.coarse_size + 1) * self.fine_size
        return self._masses(loc, scale, edge_index.expand(*loc.shape, -1))

    def fine_table(self, loc: torch.Tensor, scale: torch.Tensor, coarse: np.ndarray) -> np.ndarray:
        """q(fine digit | coarse digit, x): a table (B*D, fine_size)."""
        start = torch.from_numpy(coarse.astype(np.int64)).reshape(loc.shape) * self.fine_size
        return self._masses(loc, scale, start[..., None] + torch.arange(self.fine_size + 1))
