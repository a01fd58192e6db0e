"""Priors an adversarial autoencoder can impose on its codes (Makhzani et al. 2015, sec. 2 and fig. 2-4).

The adversary needs only samples of p(z), so a prior may lack a density: the swiss roll and a user's sampler
are samplers alone (``log_prob`` refuses).
"""
from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch.distributions import Distribution, Independent, Normal, constraints

from vaekit.distributions.gaussian_mixture import GaussianMixture

RING_RADIUS = 4.0  # the mixture's means lie on a circle of this radius in the first two dimensions
RING_SCALE = 0.5   # each component's standard deviation


def gaussian(dim: int, device: torch.device | str = "cpu") -> Distribution:
    """N(0, I)."""
    zeros = torch.zeros(dim, device=device)
    return Independent(Normal(zeros, torch.ones_like(zeros), validate_args=False), 1, validate_args=False)


def ring_mixture(dim: int, components: int, device: torch.device | str = "cpu") -> GaussianMixture:
    """An equal mixture of ``components`` Gaussians (sd RING_SCALE), their means evenly spaced on a circle of radius
    RING_RADIUS in the first two dimensions (zero in the others); the paper's mixture of 10 Gaussians, fig. 2."""
    if dim < 2:
        raise ValueError("a ring of Gaussians needs latent_dim of 2 or more")
    angles = 2 * math.pi * torch.arange(components) / components
    loc = torch.zeros(components, dim)
    loc[:, 0], loc[:, 1] = RING_RADIUS * angles.cos(), RING_RADIUS * angles.sin()
    return GaussianMixture(torch.zeros(components, device=device), loc.to(device),
                           torch.full((components, dim), RING_SCALE, device=device))


class SamplerOnly(Distribution):
    """A distribution known by its samples alone: ``sample`` calls ``draw(n)`` -> (n, dim); no density."""

    arg_constraints: dict[str, constraints.Constraint] = {}

    def __init__(self, draw: Callable[[int], torch.Tensor], dim: int, name: str,
                 device: torch.device | str = "cpu") -> None:
        super().__init__(event_shape=torch.Size([dim]), validate_args=False)
        self.draw, self.name, self.device = draw, name, torch.device(device)

    def sample(self, sample_shape: torch.Size | list[int] | tuple[int, ...] = torch.Size()) -> torch.Tensor:
        shape = torch.Size(sample_shape)
        n = math.prod(shape)
        z = torch.as_tensor(self.draw(n), dtype=torch.float32).to(self.device)
        if tuple(z.shape) != (n, *self.event_shape):
            raise ValueError(f"the prior sampler {self.name} gave shape {tuple(z.shape)} for {n} draws; expected "
                             f"({n}, {self.event_shape[0]})")
        return z.reshape(*shape, *self.event_shape)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        raise ValueError(f"the {self.name} prior is a sampler without a density")

    @property
    def mean(self) -> torch.Tensor:
        return self.sample((4096,)).mean(0)


def swiss_roll(n: int) -> torch.Tensor:
    """n points on a two-dimensional swiss roll: angle t in [1.5 pi, 4.5 pi], radius t / (4.5 pi) * 4, a little
    noise (sd 0.05); within a disc of radius 4 like the other priors (fig. 4)."""
    t = 1.5 * math.pi * (1 + 2 * torch.rand(n))
    r = t / (4.5 * math.pi) * RING_RADIUS
    return torch.stack([r * t.cos(), r * t.sin()], dim=1) + 0.05 * torch.randn(n, 2)
