"""beta-TC-VAE: Chen, Li, Grosse & Duvenaud 2018, "Isolating Sources of Disentanglement in VAEs", arXiv:1802.04942.

The ELBO's KL term, averaged over the data, splits into three (eq. 2):

    E_p(x) KL(q(z|x) || p(z)) = I_q(z; x)                         index-code mutual information
                              + KL(q(z) || prod_j q(z_j))         total correlation (TC)
                              + sum_j KL(q(z_j) || p(z_j))        dimension-wise KL

and the objective weights only the total correlation by beta (eq. 4, alpha = gamma = 1):

    loss = -E_q[log p(x|z)] + I + beta * TC + sum_j KL_j.

q(z) and q(z_j) are estimated on the minibatch by minibatch-weighted sampling (section 4.1):
log q(z_i) ~ logsumexp_m log q(z_i | x_m) - log(N M), with N = ``dataset_size`` and M the batch
size. N shifts the logged terms by constants only, never the gradients. At beta = 1 the loss is the
negative ELBO (with a Monte Carlo KL).
"""
from __future__ import annotations

import math
from typing import Literal

import torch
from pydantic import Field
from torch.distributions import Independent

from vaekit.contract import Batch, Loss
from vaekit.model_fields import LatentCode, Networks, Observed
from vaekit.models.base import as_batch
from vaekit.models.registry import register
from vaekit.models.vae import VAE


class BetaTCVAEConfig(Networks, Observed, LatentCode):
    """Chen et al. 2018: ``beta`` weighs the total correlation (the paper's sweeps: 1 to 10)."""

    name: Literal["beta-tc-vae"] = "beta-tc-vae"
    dataset_size: int = Field(60000, ge=1)  # N of minibatch-weighted sampling (eq. 5); filled in from the data


@register("beta-tc-vae", BetaTCVAEConfig)
class BetaTCVAE(VAE):
    """``BetaTCVAE(data_shape=(1, 28, 28), latent_dim=10, beta=6.0, dataset_size=60000)``."""

    data_fills = (*VAE.data_fills, "dataset_size")  # N of minibatch-weighted sampling: the training set's size

    def kl_decomposition(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """log p(x|z) and the three KL parts per example [B], for one reparameterized z per example."""
        q = self.encode(x)
        z = q.rsample()  # (B, D)
        base = q.base_dist if isinstance(q, Independent) else q  # the per-dimension factors of q(z|x)
        pairwise = base.log_prob(z[:, None, :].expand(-1, len(x), -1))  # log q(z_i,d | x_m): (B, M, D) by broadcast
        log_nm = math.log(self.config.dataset_size * len(x))
        log_qz = torch.logsumexp(pairwise.sum(-1), dim=1) - log_nm
        log_prod_qzj = (torch.logsumexp(pairwise, dim=1) - log_nm).sum(-1)
        parts = {"mutual_information": q.log_prob(z) - log_qz,
                 "total_correlation": log_qz - log_prod_qzj,
                 "dimension_wise_kl": log_prod_qzj - self.prior().log_prob(z)}
        return self.decode(z).log_prob(x), parts

    def loss(self, batch: Batch | torch.Tensor) -> Loss:
        """Eq. 4 with alpha = gamma = 1, averaged over the batch; ``kl_weight`` (warm-up) scales all three parts."""
        batch = as_batch(batch)
        x, kl_weight = batch.x, batch.kl_weight
        reconstruction, parts = self.kl_decomposition(x)
        mean = {name: value.mean() for name, value in parts.items()}
        penalty = mean["mutual_information"] + self.config.beta * mean["total_correlation"] \
            + mean["dimension_wise_kl"]
        kl = sum(mean.values())
        return Loss(-reconstruction.mean() + kl_weight * penalty,
                    {"elbo": (reconstruction.mean() - kl).detach(), **{k: v.detach() for k, v in mean.items()}})
