"""The VampPrior of Tomczak & Welling 2018, "VAE with a VampPrior", arXiv:1705.07120 (eq. 9):

    p(z) = (1/K) sum_k q(z | u_k),   k = 1 .. ``prior_components``

a uniform mixture of the encoder's own posteriors at K learned pseudo-inputs u_k, so that the prior
approximates the aggregate posterior (eq. 8). The pseudo-inputs live in data space, kept in [0, 1]
by a hard tanh as in the paper. As with any mixture prior, the KL term is the one-sample estimate
log q(z|x) - log p(z).
"""
from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn
from torch.distributions import Distribution, Independent, Normal

from vaekit.config import ModelConfig
from vaekit.distributions.gaussian_mixture import GaussianMixture
from vaekit.model_fields import LatentCode, Networks, Observed
from vaekit.models.registry import register
from vaekit.models.vae import VAE


class VampPriorVAEConfig(Networks, Observed, LatentCode):
    """Tomczak & Welling 2018 use 500 pseudo-inputs on MNIST; 10 here keeps small runs small."""

    name: Literal["vampprior-vae"] = "vampprior-vae"
    prior_components: int = Field(10, ge=1)  # K pseudo-inputs (eq. 9)


@register("vampprior-vae", VampPriorVAEConfig)
class VampPriorVAE(VAE):
    """``VampPriorVAE(data_shape=(1, 28, 28), latent_dim=40, prior_components=500)``."""

    def __init__(self, config: ModelConfig | None = None, **options: object) -> None:
        super().__init__(config, **options)
        # N(0.05, 0.01^2), near-blank images, as in the authors' code: noise images would start the prior far
        # from the data's posteriors and can collapse the posterior onto it
        self.pseudo_inputs = nn.Parameter(0.05 + 0.01 * torch.randn(self.config.prior_components, *self.data_shape))

    def prior(self) -> Distribution:
        """p(z) = (1/K) sum_k q(z | u_k), with u_k = hardtanh(pseudo-input k) in [0, 1]."""
        posteriors = self.encode(F.hardtanh(self.pseudo_inputs, 0.0, 1.0))  # batch (K,), event (latent,)
        assert isinstance(posteriors, Independent) and isinstance(posteriors.base_dist, Normal)
        uniform = torch.zeros(self.config.prior_components, device=self.pseudo_inputs.device)
        return GaussianMixture(uniform, posteriors.base_dist.loc, posteriors.base_dist.scale)
