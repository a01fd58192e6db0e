"""The VampPrior of Tomczak & Welling 2018, "VAE with a VampPrior", arXiv:1705.07120 (eq. 9):

    p(z) = (1/K) sum_k q(z | u_k),   k = 1 .. ``prior_components``

a uniform mixture of the encoder's own posteriors at K learned pseudo-inputs u_k, so that the prior
approximates the aggregate posterior (eq. 8). The pseudo-inputs live in data space, kept in [0, 1]
by a hard tanh as in the paper. As with any mixture prior, the KL term is the one-sample estimate
log q(z|x) - log p(z).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Categorical, Distribution, MixtureSameFamily

from vaekit.config import ModelConfig
from vaekit.models.registry import register
from vaekit.models.vae import VAE


@register("vampprior-vae")
class VampPriorVAE(VAE):
    """``VampPriorVAE(data_shape=(1, 28, 28), latent_dim=40, prior_components=500)``."""

    def __init__(self, config: ModelConfig | None = None, **options: object) -> None:
        super().__init__(config, **options)
        self.pseudo_inputs = nn.Parameter(torch.rand(self.config.prior_components, *self.data_shape))

    def prior(self) -> Distribution:
        """p(z) = (1/K) sum_k q(z | u_k), with u_k = hardtanh(pseudo-input k) in [0, 1]."""
        posteriors = self.encode(F.hardtanh(self.pseudo_inputs, 0.0, 1.0))  # batch (K,), event (latent,)
        uniform = Categorical(logits=torch.zeros(self.config.prior_components, device=self.pseudo_inputs.device),
                              validate_args=False)
        return MixtureSameFamily(uniform, posteriors, validate_args=False)
