"""The VQ-VAE of van den Oord, Vinyals & Kavukcuoglu 2017, "Neural Discrete Representation Learning",
arXiv:1711.00937, with a learned prior over its codes so that it samples.

    x --encoder--> z_e(x), a grid of D-vectors --nearest of K codebook vectors e_k (eq. 1-2)--> z_q(x)
      --decoder--> p(x|z_q)

q(z|x) is deterministic: a point mass at z_q(x) (eq. 1). The prior p(z) is autoregressive over the code
indices, a PixelCNN (section 3.2 and 4.1); the paper fits it after the VQ-VAE, here it trains alongside on the
codes with their gradient stopped, so that one run of the one Trainer gives both. The loss (eq. 3) plus the prior's:

    -log p(x|z_q) + ||sg[z_e] - e||^2 + beta ||z_e - sg[e]||^2 - log p(sg[k]),

with beta = ``commitment`` (0.25 in the paper) and the straight-through estimator carrying the decoder's
gradient to the encoder. The ELBO is log p(x|z_q) + log p(k(x)): with a point-mass q, log q = 0, so the
KL term is -log p(k), M log K under the uniform prior the paper trains with (section 3.1); every k-sample
importance estimate equals it. Networks: ``conv`` or ``resnet`` (the grid is the encoder's last feature map,
of ceil(H / 2^L) x ceil(W / 2^L) positions for L = len(channels)).
"""
from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator
from pyro.distributions import Delta
from torch import nn
from torch.distributions import Distribution

from vaekit.config import ModelConfig
from vaekit.contract import Batch, Loss
from vaekit.distributions import make_likelihood
from vaekit.distributions.code_prior import CodePrior, nearest_codes
from vaekit.model_fields import Networks, Observed
from vaekit.models.base import LatentVariableModel, as_batch
from vaekit.models.registry import register
from vaekit.nn.conv import ConvDecoder, GridEncoder
from vaekit.nn.pixelcnn import PixelCNN


class VQVAEConfig(Networks, Observed):
    """van den Oord et al. 2017: K = 512 codes of D = 64 on ImageNet, beta = 0.25 (sec. 4.1); D = 20 here."""

    name: Literal["vq-vae"] = "vq-vae"
    architecture: Literal["mlp", "conv", "resnet"] = "conv"  # its codes are a grid of the last feature map
    latent_dim: int = Field(20, ge=1)  # D, the size of a code vector
    codebook_size: int = Field(512, ge=2, le=1 << 16)  # K codebook vectors
    commitment: float = Field(0.25, ge=0.0)  # beta of the commitment loss (eq. 3)

    @model_validator(mode="after")
    def _a_grid(self) -> "VQVAEConfig":
        if self.architecture == "mlp":
            raise ValueError("vq-vae's codes are a grid of the encoder's last feature map: use architecture conv "
                             "or resnet")
        return self


@register("vq-vae", VQVAEConfig)
class VQVAE(LatentVariableModel):
    """``VQVAE(data_shape=(1, 28, 28), architecture="conv", latent_dim=16, codebook_size=64)``; D = ``latent_dim``."""

    def __init__(self, config: ModelConfig | None = None, **options: object) -> None:
        super().__init__()
        config = self._configure(config, {"architecture": "conv", **options} if config is None else options)
        image = self.data_shape
        assert len(image) == 3  # checked by ModelConfig
        residual = config.architecture == "resnet"
        self.likelihood = make_likelihood(config.likelihood, image, config.mixture_components, config.levels)
        self.encoder = GridEncoder((image[0], image[1], image[2]), config.channels, config.latent_dim,
                                   config.activation, residual)
        self.decoder = ConvDecoder(config.latent_dim, config.channels, (image[0], image[1], image[2]),
                                   self.likelihood.params_per_element * image[0], config.activation, residual,
                                   from_grid=True)
        k = config.codebook_size
        self.codebook = nn.Parameter(torch.empty(k, config.latent_dim).uniform_(-1 / k, 1 / k))  # as in the authors'
        self.prior_net = PixelCNN(k)

    @property
    def grid(self) -> tuple[int, int]:
        return self.encoder.grid

    @property
    def latent_size(self) -> int:
        return self.config.latent_dim * math.prod(self.grid)

    def quantize(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """z_e(x) (B, D, H', W'), the code indices k (B, H', W') and z_q(x) = e_k (B, D, H', W')."""
        z_e = self.encoder(x)
        indices = nearest_codes(z_e.movedim(1, -1), self.codebook)
        return z_e, indices, self.codebook[indices].movedim(-1, 1)

    def encode(self, x: torch.Tensor) -> Distribution:
        """q(z|x): the point mass at z_q(x), flattened (D * H' * W')."""
        return Delta(self.quantize(x)[2].flatten(1), event_dim=1)

    def decode(self, z: torch.Tensor) -> Distribution:
        """p(x|z) for z (..., D * H' * W'): any point of the latent space, codebook vectors or not."""
        params = self.decoder(z).view(*z.shape[:-1], self.likelihood.params_per_element, *self.data_shape)
        return self.likelihood(params)

    def prior(self) -> CodePrior:
        return CodePrior(self.prior_net, self.codebook, self.grid)

    def loss(self, batch: Batch | torch.Tensor) -> Loss:
        """Eq. 3 and the prior's negative log-likelihood of the codes, averaged over the batch (``kl_weight``
        does not apply: the encoder's KL term is the prior's, and it carries no gradient to the encoder)."""
        x = as_batch(batch).x
        z_e, indices, z_q = self.quantize(x)
        straight_through = z_e + (z_q - z_e).detach()
        reconstruction = self.decode(straight_through.flatten(1)).log_prob(x)
        codebook = F.mse_loss(z_q, z_e.detach(), reduction="none").flatten(1).sum(1)
        commitment = F.mse_loss(z_e, z_q.detach(), reduction="none").flatten(1).sum(1)
        log_prior = self.prior().log_prob_indices(indices.detach())
        value = (-reconstruction + codebook + self.config.commitment * commitment - log_prior).mean()
        return Loss(value, {"elbo": (reconstruction + log_prior).mean().detach(),
                            "reconstruction": reconstruction.mean().detach(), "kl": -log_prior.mean().detach(),
                            "codebook": codebook.mean().detach(), "commitment": commitment.mean().detach()})
