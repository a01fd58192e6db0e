"""The importance weighted autoencoder of Burda, Grosse & Salakhutdinov 2015, arXiv:1509.00519.

The VAE's networks, trained on the k-sample importance-weighted bound instead of the ELBO (eq. 8):

    L_k(x) = E_{z_1..z_k ~ q(z|x)} [ log (1/k) sum_i p(x, z_i) / q(z_i|x) ]

L_1 is the ELBO, and L_k <= L_{k+1} <= log p(x) (Theorem 1): more samples, a tighter bound and a
posterior that need not cover p(z|x) with one Gaussian. ``beta`` and KL warm-up weight the
log p(z_i) - log q(z_i|x) part of each weight; at 1 the bound is the paper's.
"""
from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field

from vaekit import objectives
from vaekit.contract import Batch, Loss
from vaekit.model_fields import LatentCode, Networks, Observed
from vaekit.models.base import as_batch
from vaekit.models.registry import register
from vaekit.models.vae import VAE


class IWAEConfig(Networks, Observed, LatentCode):
    """Burda et al. 2015 (sec. 5): k of 1, 5 or 50 importance samples in the training bound."""

    name: Literal["iwae"] = "iwae"
    importance_samples: int = Field(1, ge=1)  # k of the training bound (eq. 8); the paper's headline k = 50


@register("iwae", IWAEConfig)
class IWAE(VAE):
    """``IWAE(data_shape=(1, 28, 28), latent_dim=50, importance_samples=5)``; k = ``importance_samples``."""

    def loss(self, batch: Batch | torch.Tensor) -> Loss:
        """The negative k-sample bound (eq. 8), averaged over the batch; its gradient is eq. 12's."""
        batch = as_batch(batch)
        bound, elbo = objectives.importance_weighted_bound(self, batch.x, self.config.importance_samples,
                                                           self.config.beta * batch.kl_weight)
        return Loss(-bound.mean(), {"bound": bound.mean().detach(), "elbo": elbo.mean().detach()})
