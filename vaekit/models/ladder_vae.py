"""The Ladder VAE of Sonderby, Raiko, Maaloe, Sonderby & Winther 2016, "Ladder Variational Autoencoders",
arXiv:1602.02282.

The generative model is the hierarchical VAE's (top-down Gaussians, eq. 1-3). Inference differs: a
deterministic bottom-up pass d_l = MLP(d_{l-1}), d_0 = x, gives each layer a likelihood-like estimate
(mu_hat_l, sigma_hat_l) (eq. 17-19); the posterior is then drawn top-down, sharing the generative model's
top-down networks, each layer combining the two estimates by precision weighting (eq. 20-21):

    sigma_q^2 = 1 / (sigma_hat^-2 + sigma_p^-2),   mu_q = (mu_hat sigma_hat^-2 + mu_p sigma_p^-2) sigma_q^2,

with (mu_p, sigma_p) the parameters of p(z_l | z_{l+1}) and q(z_L | x) = N(mu_hat_L, sigma_hat_L^2).
Sonderby et al. add batch normalization and KL warm-up (``train.kl_warmup_steps``); this file leaves
batch normalization out, so that a datum's posterior never depends on the rest of its batch.
"""
from __future__ import annotations

from typing import Literal

import torch
from torch.distributions import Distribution

from vaekit.distributions.gaussian_chain import GaussianChain
from vaekit.models.hierarchical_vae import HierarchicalVAE, HierarchicalVAEConfig, Params, gaussian_params
from vaekit.models.registry import register


def precision_weighted(estimate: Params, prior: Params) -> Params:
    """Eq. 20-21: the product of two Gaussians' densities, normalized."""
    (mu_hat, sigma_hat), (mu_p, sigma_p) = estimate, prior
    precision_hat, precision_p = sigma_hat.pow(-2), sigma_p.pow(-2)
    variance = 1.0 / (precision_hat + precision_p)
    return (mu_hat * precision_hat + mu_p * precision_p) * variance, variance.sqrt()


class LadderVAEConfig(HierarchicalVAEConfig):
    """Sonderby et al. 2016 (sec. 3): five layers of 64, 32, 16, 8 and 4 latent units over MLPs of 512 to 32 units,
    leaky ReLU, batch normalization, KL warm-up over 200 epochs."""

    name: Literal["ladder-vae"] = "ladder-vae"  # type: ignore[assignment]


@register("ladder-vae", LadderVAEConfig)
class LadderVAE(HierarchicalVAE):
    """``LadderVAE(data_shape=(1, 28, 28), layers=[{"latent": 64, "hidden": [512, 512]}, ...])``."""

    bottom_up_from_features = True

    def encode(self, x: torch.Tensor) -> Distribution:
        """q(z|x) = q(z_L|x) prod_l q(z_l | z_{l+1}, x), drawn top-down."""
        estimates, d = [], x
        for features, head in zip(self.features, self.heads):
            d = features(d)
            estimates.append(gaussian_params(head(d)))
        top = len(self.sizes) - 1

        def conditional(i: int, z: list[torch.Tensor | None]) -> Params:
            if i == top:
                return estimates[i]
            return precision_weighted(estimates[i], self.prior_params(i, z[i + 1]))

        return GaussianChain(self.sizes, range(top, -1, -1), conditional, torch.Size([len(x)]))
