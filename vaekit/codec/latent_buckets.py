"""Latent buckets of equal prior mass (Townsend, Bird & Barber 2019, BB-ANS, section 2.5.1).

Each latent dimension's prior N(m, s^2) is cut at its quantiles i / 2^precision into 2^precision buckets,
so every bucket has prior mass exactly 2^-precision: coding a bucket under the prior is coding it under
a uniform distribution. A bucket stands for the z at its median quantile (i + 1/2) / 2^precision.
q(z|x) over the buckets is coded with :class:`TwoDigits`.
"""
from __future__ import annotations

import numpy as np
import torch

from vaekit.codec.digits import Masses, TwoDigits


class LatentBuckets:
    """The buckets of a diagonal Gaussian prior with per-dimension ``loc`` and ``scale`` (float64)."""

    def __init__(self, loc: torch.Tensor, scale: torch.Tensor, precision: int) -> None:
        self.precision = precision
        self.size = 1 << precision
        self.digits = TwoDigits(precision)
        quantiles = torch.arange(self.size + 1, dtype=torch.float64) / self.size
        self.edges = loc[:, None] + scale[:, None] * torch.special.ndtri(quantiles)  # (D, size + 1), +-inf ends
        self.loc, self.scale = loc, scale

    def centres(self, index: np.ndarray) -> torch.Tensor:
        """The z (float32, shape of ``index``) that the buckets ``index`` (..., D) stand for."""
        u = (torch.from_numpy(index).double() + 0.5) / self.size
        return (self.loc + self.scale * torch.special.ndtri(u)).float()

    def posterior_masses(self, loc: torch.Tensor, scale: torch.Tensor) -> Masses:
        """q's bucket masses for posteriors (loc, scale) of shape (B, D); rows are (datum, dimension) pairs."""
        dims = torch.arange(loc.shape[-1]).repeat(loc.shape[0])[:, None]
        mu, sigma = loc.reshape(-1, 1), scale.reshape(-1, 1)

        def masses(edge: torch.Tensor) -> torch.Tensor:
            t = (self.edges[dims, edge] - mu) / sigma
            low, high = t[:, :-1], t[:, 1:]
            # above the mean, differences of upper-tail probabilities keep their precision far out
            return torch.where(low > 0, torch.special.ndtr(-low) - torch.special.ndtr(-high),
                               torch.special.ndtr(high) - torch.special.ndtr(low))

        return masses
