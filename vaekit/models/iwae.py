"""The importance weighted autoencoder of Burda, Grosse & Salakhutdinov 2015, arXiv:1509.00519.

The VAE's networks, trained on the k-sample importance-weighted bound instead of the ELBO (eq. 8):

    L_k(x) = E_{z_1..z_k ~ q(z|x)} [ log (1/k) sum_i p(x, z_i) / q(z_i|x) ]

L_1 is the ELBO, and L_k <= L_{k+1} <= log p(x) (Theorem 1): more samples, a tighter bound and a
posterior that need not cover p(z|x) with one Gaussian. ``beta`` and KL warm-up weight the
log p(z_i) - log q(z_i|x) part of each weight; at 1 the bound is the paper's.
"""
from __future__ import annotations

import torch

from vaekit import objectives
from vaekit.contract import Batch, Loss
from vaekit.models.base import as_batch
from vaekit.models.registry import register
from vaekit.models.vae import VAE


@register("iwae")
class IWAE(VAE):
    """``IWAE(data_shape=(1, 28, 28), latent_dim=50, importance_samples=5)``; k = ``importance_samples``."""

    def loss(self, batch: Batch | torch.Tensor) -> Loss:
        """The negative k-sample bound (eq. 8), averaged over the batch; its gradient is eq. 12's."""
        batch = as_batch(batch)
        bound, elbo = objectives.importance_weighted_bound(self, batch.x, self.config.importance_samples,
                                                           self.config.beta * batch.kl_weight)
        return Loss(-bound.mean(), {"bound": bound.mean().detach(), "elbo": elbo.mean().detach()})
