"""A VAE with a learned Gaussian-mixture prior, the simplest multimodal prior
(as in Tomczak & Welling 2018, arXiv:1705.07120, section 2.2, "mixture of Gaussians" baseline):

    p(z) = sum_k pi_k N(z; mu_k, diag sigma_k^2),   k = 1 .. ``prior_components``

with pi, mu and sigma learned with the networks. The KL term has no closed form against a mixture,
so the ELBO uses the one-sample estimate log q(z|x) - log p(z) (:func:`vaekit.objectives.kl_term`).
"""
from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn
from torch.distributions import Distribution

from vaekit.config import ModelConfig
from vaekit.distributions.gaussian_mixture import GaussianMixture
from vaekit.model_fields import LatentCode, Networks, Observed
from vaekit.models.registry import register
from vaekit.models.vae import VAE

_MIN_SCALE = 1e-3


class MixturePriorVAEConfig(Networks, Observed, LatentCode):

    name: Literal["mixture-prior-vae"] = "mixture-prior-vae"
    prior_components: int = Field(10, ge=1)  # Gaussians of the learned mixture prior


@register("mixture-prior-vae", MixturePriorVAEConfig)
class MixturePriorVAE(VAE):
    """``MixturePriorVAE(data_shape=(1, 28, 28), latent_dim=20, prior_components=10)``."""

    def __init__(self, config: ModelConfig | None = None, **options: object) -> None:
        super().__init__(config, **options)
        k, d = self.config.prior_components, self.config.latent_dim
        self.prior_logits = nn.Parameter(torch.zeros(k))
        self.prior_means = nn.Parameter(torch.randn(k, d))  # spread out, so that the components can specialize
        self.prior_raw_scales = nn.Parameter(torch.zeros(k, d))  # softplus(0) = 0.69

    def prior(self) -> Distribution:
        """p(z) = sum_k pi_k N(mu_k, diag sigma_k^2)."""
        return GaussianMixture(self.prior_logits, self.prior_means, F.softplus(self.prior_raw_scales) + _MIN_SCALE)
