"""A mixture of diagonal Gaussians whose log-density is two matrix products.

    log N(z; mu_k, diag sigma_k^2) = -1/2 [ z^2 . sigma_k^-2 - 2 z . mu_k sigma_k^-2 + mu_k^2 . sigma_k^-2 ]
                                     - sum_d log sigma_kd - D/2 log 2 pi

so the log-densities of N points under K components are (N, D) x (D, K) products instead of an (N, K, D)
tensor: the VampPrior's 500 components at k = 5000 importance samples fit in cache. Everything else
(sampling, mean, variance, what the codec reads) is torch's MixtureSameFamily.
"""
from __future__ import annotations

import math

import torch
from torch.distributions import Categorical, Independent, MixtureSameFamily, Normal


class GaussianMixture(MixtureSameFamily):
    """sum_k softmax(logits)_k N(loc_k, diag scale_k^2); ``logits`` (K,), ``loc`` and ``scale`` (K, D)."""

    def __init__(self, logits: torch.Tensor, loc: torch.Tensor, scale: torch.Tensor) -> None:
        components = Independent(Normal(loc, scale, validate_args=False), 1, validate_args=False)
        super().__init__(Categorical(logits=logits, validate_args=False), components, validate_args=False)
        precision = scale.pow(-2)
        self._quadratic = precision.T  # (D, K)
        self._linear = (loc * precision).T  # (D, K)
        self._constant = (-0.5 * (loc.pow(2) * precision).sum(-1) - scale.log().sum(-1)
                          - 0.5 * loc.shape[-1] * math.log(2 * math.pi)
                          + torch.log_softmax(logits, -1))  # (K,)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        z = value.reshape(-1, value.shape[-1])
        joint = -0.5 * (z * z) @ self._quadratic + z @ self._linear + self._constant  # (N, K)
        return torch.logsumexp(joint, -1).reshape(value.shape[:-1])
