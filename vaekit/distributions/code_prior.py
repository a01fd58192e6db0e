"""A learned autoregressive prior over a grid of codebook vectors: VQ-VAE's prior (van den Oord et al. 2017,
arXiv:1711.00937, section 3.2), a PixelCNN over the code indices.

z is the grid of codebook vectors, flattened channel first (D, H, W); its support is the K^(H W) grids of
codebook entries. log p(z) = sum_i log p(k_i | k_<i), with k the index of the codebook vector at each position.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch.distributions import Distribution, constraints


def nearest_codes(vectors: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """Index of the nearest codebook row (K, D) for each vector (..., D)."""
    flat = vectors.reshape(-1, vectors.shape[-1])
    distances = (flat.pow(2).sum(1, keepdim=True) - 2 * flat @ codebook.T + codebook.pow(2).sum(1)[None])
    return distances.argmin(1).view(vectors.shape[:-1])


class CodePrior(Distribution):
    """p(z) over grids (H, W) of rows of ``codebook`` (K, D), by ``net``: indices (N, H, W) -> logits (N, K, H, W),
    each position's from the positions before it (a PixelCNN, :mod:`vaekit.nn.pixelcnn`)."""

    arg_constraints: dict[str, constraints.Constraint] = {}
    support = constraints.real_vector

    def __init__(self, net: Callable[[torch.Tensor], torch.Tensor], codebook: torch.Tensor,
                 grid: tuple[int, int]) -> None:
        self.net, self.codebook, self.grid = net, codebook, grid
        super().__init__(event_shape=torch.Size([codebook.shape[1] * grid[0] * grid[1]]), validate_args=False)

    def indices(self, z: torch.Tensor) -> torch.Tensor:
        """z (..., D*H*W) -> code indices (..., H, W)."""
        d = self.codebook.shape[1]
        grid = z.reshape(*z.shape[:-1], d, *self.grid).movedim(-3, -1)  # (..., H, W, D)
        return nearest_codes(grid, self.codebook)

    def vectors(self, indices: torch.Tensor) -> torch.Tensor:
        """Code indices (..., H, W) -> z (..., D*H*W)."""
        return self.codebook[indices].movedim(-1, -3).flatten(-3)

    def logits(self, indices: torch.Tensor) -> torch.Tensor:
        """(..., H, W) -> (..., K, H, W): p(k_i | k_<i) at every position, in one pass."""
        flat = indices.reshape(-1, *self.grid)
        return self.net(flat).view(*indices.shape[:-2], -1, *self.grid)

    def log_prob_indices(self, indices: torch.Tensor) -> torch.Tensor:
        log_p = torch.log_softmax(self.logits(indices).float(), dim=-3)  # float32 under autocast, as on CUDA
        return log_p.gather(-3, indices.unsqueeze(-3)).squeeze(-3).flatten(-2).sum(-1)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        return self.log_prob_indices(self.indices(value))

    @torch.no_grad()
    def sample_indices(self, sample_shape: torch.Size | list[int] | tuple[int, ...] = torch.Size()) -> torch.Tensor:
        """Draw code grids position by position, in raster order."""
        indices = torch.zeros(*sample_shape, *self.grid, dtype=torch.long, device=self.codebook.device)
        for row in range(self.grid[0]):
            for col in range(self.grid[1]):
                logits = self.logits(indices)[..., row, col]
                indices[..., row, col] = torch.distributions.Categorical(logits=logits).sample()
        return indices

    def sample(self, sample_shape: torch.Size | list[int] | tuple[int, ...] = torch.Size()) -> torch.Tensor:
        return self.vectors(self.sample_indices(sample_shape))
