"""A distribution over a stack of latent groups, each a diagonal Gaussian given the groups drawn before it.

Hierarchical VAEs (Burda et al. 2015 section 5; Sonderby et al. 2016) factor both p(z) and q(z|x) this way:
    p(z_1, ..., z_L) = p(z_L) prod_l p(z_l | z_{l+1}),   q(z_1, ..., z_L | x) = prod_l q(z_l | earlier groups).
The latent vector is the groups concatenated, bottom first: z = [z_1, ..., z_L]; ``order`` says in which
order they are drawn (top-down for a prior, bottom-up or top-down for a posterior). ``conditional(l, groups)``
gives (loc, scale) of group l from the groups drawn before it (the others are None).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch.distributions import Distribution, Normal, constraints

Conditional = Callable[[int, list[torch.Tensor | None]], tuple[torch.Tensor, torch.Tensor]]


class GaussianChain(Distribution):
    """Groups of sizes ``sizes`` (bottom first), drawn in ``order``; rsample and log_prob of the concatenation."""

    arg_constraints: dict[str, constraints.Constraint] = {}
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, sizes: Sequence[int], order: Sequence[int], conditional: Conditional,
                 batch_shape: torch.Size = torch.Size()) -> None:
        if sorted(order) != list(range(len(sizes))):
            raise ValueError(f"order {list(order)} must name each of the {len(sizes)} groups once")
        self.sizes, self.order, self.conditional = list(sizes), list(order), conditional
        super().__init__(batch_shape, torch.Size([sum(sizes)]), validate_args=False)

    def factors(self, groups: list[torch.Tensor | None], layer: int, shape: torch.Size = torch.Size()) -> Normal:
        """The diagonal Gaussian of group ``layer`` given ``groups``, broadcast to ``shape`` + its size."""
        loc, scale = self.conditional(layer, groups)
        size = (*torch.broadcast_shapes(shape + self.batch_shape, loc.shape[:-1]), self.sizes[layer])
        return Normal(loc.expand(size), scale.expand(size), validate_args=False)

    def split(self, z: torch.Tensor) -> list[torch.Tensor | None]:
        return list(z.split(self.sizes, dim=-1))

    def rsample(self, sample_shape: torch.Size | Sequence[int] = torch.Size()) -> torch.Tensor:
        groups: list[torch.Tensor | None] = [None] * len(self.sizes)
        for layer in self.order:
            groups[layer] = self.factors(groups, layer, torch.Size(sample_shape)).rsample()
        return torch.cat([g for g in groups if g is not None], dim=-1)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        groups = self.split(value)
        return sum(self.factors(groups, layer).log_prob(g).sum(-1)  # type: ignore[misc]
                   for layer, g in enumerate(groups))

    @property
    def mean(self) -> torch.Tensor:
        """The groups' conditional means, each taken at the means of the groups before it (the mean
        of a linear-Gaussian chain; for neural conditionals the point a deterministic decoder sees)."""
        groups: list[torch.Tensor | None] = [None] * len(self.sizes)
        for layer in self.order:
            groups[layer] = self.factors(groups, layer).loc
        return torch.cat([g for g in groups if g is not None], dim=-1)
