"""A VAE whose posterior is an inverse autoregressive flow: Kingma, Salimans, Jozefowicz, Chen, Sutskever &
Welling 2016, "Improved Variational Inference with Inverse Autoregressive Flow", arXiv:1606.04934.

The encoder gives mu, sigma and a context h (section 4). z_0 = mu + sigma * eps, then T steps (Algorithm 1,
the numerically stable form of eq. 10):

    [m_t, s_t] = AutoregressiveNN_t(z_{t-1}, h),   sigma_t = sigmoid(s_t),   z_t = sigma_t z_{t-1} + (1 - sigma_t) m_t

so that log q(z_T|x) = -sum_i (log sigma_i + eps_i^2 / 2 + log(2 pi) / 2) - sum_t sum_i log sigma_t,i (eq. 9).
Successive steps read the dimensions in reversed orders. The steps are Pyro's
``ConditionalAffineAutoregressive(stable=True)`` on a MADE network (Germain et al. 2015) with two hidden
layers of 4 x latent_dim units; h has latent_dim units. The prior is N(0, I); the KL term is the one-sample
estimate log q(z|x) - log p(z), log q read from the flow's cache of the sample it drew.
"""
from __future__ import annotations

from functools import cached_property
from typing import Literal, cast

import torch
import torch.nn.functional as F
from pydantic import Field
from pyro.distributions.transforms import AffineAutoregressive, ConditionalAffineAutoregressive
from pyro.nn import ConditionalAutoRegressiveNN
from torch import nn
from torch.distributions import Distribution, Independent, Normal, TransformedDistribution

from vaekit.config import ModelConfig
from vaekit.model_fields import LatentCode, Networks, Observed
from vaekit.models.registry import register
from vaekit.models.vae import _MIN_SCALE, VAE


class FlowPosterior(TransformedDistribution):
    """A diagonal Gaussian through IAF steps. ``mean`` is the image of the base mean; ``stddev`` the base scale
    times each step's sigma along that path: the flow's linearization, a Gaussian stand-in where one is needed
    (the codec's bucket tables, lossy codes, reconstructions)."""

    @property
    def mean(self) -> torch.Tensor:
        return self._linearized[0]

    @property
    def stddev(self) -> torch.Tensor:
        return self._linearized[1]

    @cached_property
    def _linearized(self) -> tuple[torch.Tensor, torch.Tensor]:  # one pass through the steps for both moments
        z, scale = self.base_dist.mean, self.base_dist.stddev
        for step in self.transforms:
            assert isinstance(step, AffineAutoregressive)
            m, s = step.arn(z)
            sigma = torch.sigmoid(s + step.sigmoid_bias)
            z, scale = sigma * z + (1 - sigma) * m, sigma * scale
        return z, scale


class IAFVAEConfig(Networks, Observed, LatentCode):

    name: Literal["iaf-vae"] = "iaf-vae"
    flow_steps: int = Field(2, ge=1)  # steps of the inverse autoregressive flow on q(z|x) (Kingma et al. 2016)


@register("iaf-vae", IAFVAEConfig)
class IAFVAE(VAE):
    """``IAFVAE(data_shape=(1, 28, 28), latent_dim=32, flow_steps=2)``."""

    def __init__(self, config: ModelConfig | None = None, **options: object) -> None:
        super().__init__(config, **options)
        zdim = self.config.latent_dim
        orders = [cast(torch.LongTensor, torch.arange(zdim) if t % 2 == 0 else torch.arange(zdim).flip(0))
                  for t in range(self.config.flow_steps)]  # successive steps read the dimensions reversed
        self.flow: nn.ModuleList = nn.ModuleList(
            ConditionalAffineAutoregressive(ConditionalAutoRegressiveNN(zdim, zdim, [4 * zdim, 4 * zdim],
                                                                        permutation=order), stable=True)
            for order in orders)

    def encoder_outputs(self) -> int:
        return 3 * self.config.latent_dim  # mu, sigma and the context h

    def encode(self, x: torch.Tensor) -> Distribution:
        """q(z_T|x): N(mu, sigma^2) through the flow steps, each conditioned on h."""
        mu, pre_sigma, h = self.encoder(x).chunk(3, dim=-1)
        base = Independent(Normal(mu, F.softplus(pre_sigma) + _MIN_SCALE, validate_args=False), 1,
                           validate_args=False)
        steps: list[ConditionalAffineAutoregressive] = list(self.flow)  # type: ignore[arg-type]
        return FlowPosterior(base, [step.condition(h) for step in steps], validate_args=False)
