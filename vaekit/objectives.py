"""Bounds and estimates written once against q(z|x), p(x|z) and p(z), for every model.

- ELBO (Kingma & Welling 2013, arXiv:1312.6114, eq. 3):
  L(x) = E_q[log p(x|z)] - KL(q(z|x) || p(z)), one z ~ q(z|x) drawn with ``rsample``
  (the reparameterization trick, eq. 4); the KL in closed form where torch knows it
  (appendix B), by Monte Carlo log q(z|x) - log p(z) otherwise.
- Importance-weighted estimate (Burda et al. 2015, arXiv:1509.00519, eq. 8; Kingma & Welling appendix D):
  log p(x) ~= logsumexp_i [log p(x|z_i) + log p(z_i) - log q(z_i|x)] - log k, z_i ~ q(z|x).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from pyro.distributions import Delta
from torch.distributions import Distribution, Independent, kl_divergence

from vaekit.contract import Latent
from vaekit.limits import rows_within


@dataclass
class ElboTerms:
    """Per-example terms of the ELBO, each of shape [B]; ``kl_per_dim`` [B, latent] when it factorizes."""

    reconstruction: torch.Tensor  # log p(x|z), z ~ q(z|x)
    kl: torch.Tensor              # KL(q(z|x) || p(z)), analytic or single-sample
    kl_per_dim: torch.Tensor | None
    z: torch.Tensor

    @property
    def elbo(self) -> torch.Tensor:
        return self.reconstruction - self.kl


def kl_term(q: Distribution, p: Distribution, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """KL(q || p) per example, analytic where registered (per dimension too), else log q(z) - log p(z)."""
    if isinstance(q, Independent) and isinstance(p, Independent) and q.reinterpreted_batch_ndims == 1 \
            and p.reinterpreted_batch_ndims == 1:
        try:
            per_dim = kl_divergence(q.base_dist, p.base_dist)
            return per_dim.sum(-1), per_dim
        except NotImplementedError:
            pass
    try:
        return kl_divergence(q, p), None
    except NotImplementedError:
        return q.log_prob(z) - p.log_prob(z), None


def elbo_terms(model: Latent, x: torch.Tensor) -> ElboTerms:
    """One reparameterized sample z ~ q(z|x) and the ELBO's two terms."""
    q = model.encode(x)
    z = q.rsample()
    reconstruction = model.decode(z).log_prob(x)
    kl, per_dim = kl_term(q, model.prior(), z)
    return ElboTerms(reconstruction, kl, per_dim, z)


def elbo(model: Latent, x: torch.Tensor) -> torch.Tensor:
    """The evidence lower bound per example [B], in nats."""
    return elbo_terms(model, x).elbo


def importance_terms(model: Latent, x: torch.Tensor, k: int,
                     reparameterized: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """For k samples z_i ~ q(z|x): log p(x|z_i) and log p(z_i) - log q(z_i|x), each [k, B].
    ``reparameterized`` draws with rsample, so that gradients flow through z (training)."""
    return _sampled_terms(model, x, model.encode(x), model.prior(), k, reparameterized)


def _sampled_terms(model: Latent, x: torch.Tensor, q: Distribution, prior: Distribution, k: int,
                   reparameterized: bool) -> tuple[torch.Tensor, torch.Tensor]:
    z = q.rsample((k,)) if reparameterized else q.sample((k,))  # (k, B, latent)
    return model.decode(z).log_prob(x), prior.log_prob(z) - q.log_prob(z)  # x broadcasts over k


def importance_weighted_bound(model: Latent, x: torch.Tensor, k: int,
                              prior_weight: float | torch.Tensor = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """The k-sample bound L_k (Burda et al. eq. 8) per example [B], differentiable through z, with
    log p(z_i) - log q(z_i|x) scaled by ``prior_weight`` (beta, warm-up); and the mean one-sample ELBO [B]."""
    reconstruction, prior_ratio = importance_terms(model, x, k, reparameterized=True)
    bound = torch.logsumexp(reconstruction + prior_weight * prior_ratio, dim=0) - math.log(k)
    return bound, (reconstruction + prior_ratio).mean(0)


def log_importance_weights(model: Latent, x: torch.Tensor, k: int) -> torch.Tensor:
    """log p(x, z_i) - log q(z_i|x) for k samples z_i ~ q(z|x): shape [k, B]."""
    reconstruction, prior_ratio = importance_terms(model, x, k)
    return reconstruction + prior_ratio


@torch.no_grad()
def log_likelihood(model: Latent, x: torch.Tensor, k: int = 5000,
                   max_decodes: int = 2048) -> torch.Tensor:
    """The importance-weighted estimate of log p(x) per example [B], with k samples each.

    Samples are drawn in chunks so that at most ``max_decodes`` latents are decoded at once (for MNIST-sized
    examples, fewer for larger ones: :func:`vaekit.limits.rows_within`); the chunks are combined in log space,
    so memory stays bounded for any k. 2,048 keeps a chunk's decoder outputs in cache: about twice as fast as
    8,192 on this machine's 2 cores.
    """
    if k < 1:
        raise ValueError(f"k must be a positive number of importance samples, got {k}")
    q, prior = model.encode(x), model.prior()  # once per batch, not once per chunk
    if isinstance(q, Delta):  # a point-mass q (VQ-VAE): every sample is the same, the estimate is the bound
        k = 1
    chunk = max(1, min(k, rows_within(max_decodes, tuple(x.shape[1:])) // max(1, len(x))))
    total = torch.full((len(x),), -math.inf, device=x.device)
    for start in range(0, k, chunk):
        reconstruction, prior_ratio = _sampled_terms(model, x, q, prior, min(chunk, k - start), False)
        total = torch.logaddexp(total, torch.logsumexp(reconstruction + prior_ratio, dim=0))
    return total - math.log(k)


def bits_per_dim(nats: torch.Tensor, dims: int) -> torch.Tensor:
    """Convert a negative log-likelihood in nats per datum to bits per data dimension."""
    return nats / (dims * math.log(2.0))
