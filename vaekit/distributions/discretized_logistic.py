"""The discretized logistic mixture of PixelCNN++ (Salimans et al. 2017, arXiv:1701.05517, eq. 2).

Each 8-bit value x in {0, 1/255, ..., 1} gets the probability mass of its bin under a mixture
of K logistics; the edge bins take the tails, so the masses over the 256 values sum to one and
-log p(x) is an exact code length (honest bits/dim). Data with fewer grey levels L takes the values
{0, 1/(L-1), ..., 1} (``bins`` = L - 1): an 8-bit value is scored at its nearest level, and the mass
is spread over L values only, which is what makes such data cheap to code.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch.distributions import Distribution, constraints
from torch.distributions.utils import lazy_property

BINS = 255  # 8 bits: values k / 255 for k = 0 .. 255


class DiscretizedLogisticMixture(Distribution):
    """Per-element mixture over the last parameter dimension K; batch shape = loc.shape[:-1].

    Args:
        logits: (..., K) unnormalized mixture weights.
        loc: (..., K) component centres on the [0, 1] scale.
        log_scale: (..., K) component log-scales, clamped below at -7 for stability.
    """

    arg_constraints = {"logits": constraints.real, "loc": constraints.real, "log_scale": constraints.real}
    support = constraints.unit_interval
    has_rsample = False

    def __init__(self, logits: torch.Tensor, loc: torch.Tensor, log_scale: torch.Tensor,
                 validate_args: bool | None = None, bins: int = BINS) -> None:
        self.logits, self.loc, self.bins = logits, loc, bins
        self.log_scale = log_scale.clamp(min=-7.0)
        super().__init__(batch_shape=loc.shape[:-1], validate_args=validate_args)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        if self.bins != BINS:  # fewer levels: an 8-bit value v/255 counts as its nearest level
            value = torch.round(value * self.bins) / self.bins
        x = value.unsqueeze(-1)  # (..., 1) against (..., K)
        inv_s = torch.exp(-self.log_scale)
        half = 0.5 / self.bins
        upper = (x - self.loc + half) * inv_s
        lower = (x - self.loc - half) * inv_s
        log_cdf_upper = F.logsigmoid(upper)           # log F(x + half)
        log_one_minus_cdf_lower = -F.softplus(lower)  # log (1 - F(x - half))
        # log(F(upper) - F(lower)) computed stably as log F(u) + log(1 - exp(log F(l) - log F(u)))
        log_cdf_lower = F.logsigmoid(lower)
        diff = (log_cdf_lower - log_cdf_upper).clamp(max=-1e-6)
        log_mass = log_cdf_upper + torch.log(-torch.expm1(diff))
        # where the bin is far in a tail, its mass is the density at the centre times the bin width
        mid = (x - self.loc) * inv_s
        log_density = mid - self.log_scale - 2.0 * F.softplus(mid) + math.log(2 * half)
        log_mass = torch.where(diff > -1e-5, log_density, log_mass)
        log_mass = torch.where(x < half, log_cdf_upper, torch.where(x > 1 - half, log_one_minus_cdf_lower, log_mass))
        return torch.logsumexp(log_mass + F.log_softmax(self.logits.float(), dim=-1), dim=-1)  # float32, as on CUDA

    @lazy_property
    def _components(self) -> torch.Tensor:
        """(weight, loc, 1 / scale) stacked as (3, K, *batch), each component's values contiguous."""
        logits, loc, log_scale = torch.stack((self.logits, self.loc, self.log_scale)).movedim(-1, 1).contiguous()
        return torch.stack((F.softmax(logits, dim=0), loc, torch.exp(-log_scale)))

    def edge_cdf(self, edge: torch.Tensor) -> torch.Tensor:
        """The mixture's CDF at integer bin edges ``edge`` (broadcastable to (*batch, E)): edge j lies between
        the values j - 1 and j, so F(0) = 0, F(bins + 1) = 1 and F(j + 1) - F(j) is the mass of value j; edges past
        bins + 1 (a code's unused symbols) have F = 1. Separate elementwise operations only, so that under
        :mod:`vaekit.codec.exact` every machine computes the same bits."""
        position = (torch.arange(self.bins + 2, dtype=self.loc.dtype, device=self.loc.device) - 0.5) / self.bins
        position[0], position[-1] = -math.inf, math.inf
        t = position[edge.clamp(max=self.bins + 1)]
        cdf = torch.zeros(torch.broadcast_shapes(edge.shape, (*self.batch_shape, 1)), dtype=self.loc.dtype,
                          device=self.loc.device)
        for weight, loc, inv_scale in self._components.unbind(1):
            cdf = cdf + weight[..., None] * torch.sigmoid((t - loc[..., None]) * inv_scale[..., None])
        return cdf

    @property
    def mean(self) -> torch.Tensor:
        """The mixture's mean, with each component clamped to [0, 1] (a close approximation)."""
        return (F.softmax(self.logits, dim=-1) * self.loc.clamp(0.0, 1.0)).sum(-1)

    def sample(self, sample_shape: torch.Size | list[int] | tuple[int, ...] = torch.Size()) -> torch.Tensor:
        with torch.no_grad():
            shape = torch.Size(sample_shape) + self.loc.shape
            component = torch.distributions.Categorical(logits=self.logits).sample(sample_shape)
            loc = torch.gather(self.loc.expand(shape), -1, component.unsqueeze(-1)).squeeze(-1)
            log_s = torch.gather(self.log_scale.expand(shape), -1, component.unsqueeze(-1)).squeeze(-1)
            u = torch.rand_like(loc).clamp(1e-5, 1 - 1e-5)
            x = loc + torch.exp(log_s) * (torch.log(u) - torch.log1p(-u))
            return torch.round(x.clamp(0.0, 1.0) * self.bins) / self.bins
