"""Latent buckets (Townsend, Bird & Barber 2019, BB-ANS, section 2.5.1).

Each latent dimension is cut at the quantiles i / 2^precision of a reference Gaussian N(m, s^2) into
2^precision buckets; a bucket stands for the z at its median quantile (i + 1/2) / 2^precision. When the
reference is the prior itself (a diagonal Gaussian prior), every bucket has prior mass exactly 2^-precision
and coding a bucket under the prior is coding it under a uniform distribution. Any other Gaussian's
bucket masses come from :meth:`LatentBuckets.gaussian_masses`, coded with :class:`TwoDigits`.
"""
from __future__ import annotations

import functools

import numpy as np
import torch

from vaekit.codec import portable_math as pm
from vaekit.codec.digits import Masses, TwoDigits


class LatentBuckets:
    """The buckets of a reference diagonal Gaussian with per-dimension ``loc`` and ``scale`` (float64)."""

    def __init__(self, loc: torch.Tensor, scale: torch.Tensor, precision: int) -> None:
        self.precision = precision
        self.size = 1 << precision
        self.digits = TwoDigits(precision)
        edges, self._centres = standard_quantiles(precision)
        self.edges = loc[:, None] + scale[:, None] * edges  # (D, size + 1), +-inf ends
        self.loc, self.scale = loc, scale

    @property
    def dims(self) -> int:
        return len(self.loc)

    def centres(self, index: np.ndarray, dims: slice = slice(None)) -> torch.Tensor:
        """The z (float32, shape of ``index``) that the buckets ``index`` (..., dims) stand for."""
        return (self.loc[dims] + self.scale[dims] * self._centres[torch.from_numpy(index).long()]).float()

    def gaussian_masses(self, loc: torch.Tensor, scale: torch.Tensor, dims: slice = slice(None)) -> Masses:
        """Bucket masses of Gaussians (loc, scale) of shape (B, n) over the dimensions ``dims`` (n of them);
        rows are (datum, dimension) pairs in C order."""
        index = torch.arange(self.dims)[dims].repeat(loc.shape[0])[:, None]
        mu, sigma = loc.reshape(-1, 1), scale.reshape(-1, 1)
        return lambda edge: normal_bucket_masses((self.edges[index, edge] - mu) / sigma)


@functools.cache
def standard_quantiles(precision: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The standard normal's quantiles at i / 2^precision (the edges) and at (i + 1/2) / 2^precision (the centres)."""
    size = 1 << precision
    quantiles = pm.ndtri(torch.arange(2 * size + 1, dtype=torch.float64) / (2 * size))
    return quantiles[::2].clone(), quantiles[1::2].clone()


def normal_bucket_masses(t: torch.Tensor) -> torch.Tensor:
    """Standard normal probabilities between consecutive standardized edges ``t`` (..., E) -> (..., E - 1)."""
    low, high = t[..., :-1], t[..., 1:]
    # above the mean, differences of upper-tail probabilities keep their precision far out
    return torch.where(low > 0, pm.ndtr(-low) - pm.ndtr(-high),
                       pm.ndtr(high) - pm.ndtr(low))
