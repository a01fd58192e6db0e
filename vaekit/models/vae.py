"""The variational autoencoder of Kingma & Welling 2013, "Auto-Encoding Variational Bayes", arXiv:1312.6114.

Generative story:  z ~ p(z) = N(0, I),   x ~ p(x|z) = likelihood(decoder(z)).
Inference model:   q(z|x) = N(mu(x), diag sigma(x)^2)   (the encoder, section 3 / appendix C).

    x --encoder--> (mu, sigma) --rsample--> z --decoder--> params --likelihood--> p(x|z)

Objective: the ELBO (eq. 3, with the closed-form KL of appendix B), with the beta weight of
Higgins et al. 2017 on the KL and optional free bits (Kingma et al. 2016, arXiv:1606.04934, eq. in 2.1):
    loss = -E_q[log p(x|z)] + beta * w * sum_j max(lambda, KL_j),   w the KL warm-up weight.
"""
from __future__ import annotations

import math
from typing import ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Distribution, Independent, Normal

from vaekit import objectives
from vaekit.config import ModelConfig
from vaekit.contract import Batch, Latent, Loss, given
from vaekit.distributions import make_likelihood
from vaekit.model_fields import FreeBits, LatentCode, Networks, Observed
from vaekit.models.base import LatentVariableModel, as_batch
from vaekit.models.registry import register
from vaekit.nn import AnyLeadingDims, checked_network, data_decoder, data_encoder

_MIN_SCALE = 1e-5


class VAEConfig(Networks, Observed, LatentCode, FreeBits):
    """Kingma & Welling 2013 (appendix C): an MLP encoder and decoder; the paper's MNIST runs used 500 hidden units
    and up to 200 latent dimensions, here 400 and 20 (pytorch/examples' sizes)."""

    name: Literal["vae"] = "vae"


@register("vae", VAEConfig)
class VAE(LatentVariableModel):
    """A VAE with a Gaussian posterior, a standard normal prior and a likelihood fit for the data.

    Build it from a :class:`ModelConfig` or its fields: ``VAE(data_shape=(1, 28, 28), latent_dim=20)``.
    """

    prior_loc: torch.Tensor
    prior_scale: torch.Tensor
    labels_to_encoder: ClassVar[bool] = True  # a conditional model's label joins the encoder's input too

    def __init__(self, config: ModelConfig | None = None, *, encoder: nn.Module | None = None,
                 decoder: nn.Module | None = None, **options: object) -> None:
        """``encoder``, ``decoder``: your own networks instead of those the config describes (docs/extending.md).
        The encoder maps x (B, *data_shape) to (B, encoder_outputs()), called as ``encoder(x, onehot)`` when the
        model's label joins it; the decoder maps (N, decoder_inputs()) to N times params_per_element values per
        datum element."""
        super().__init__()
        config = self._configure(config, options)
        zdim = config.latent_dim
        labels = self.label_features() if self.labels_to_encoder else 0  # a conditional model's one-hot label
        self.likelihood = make_likelihood(config.likelihood, self.data_shape, config.mixture_components, config.levels)
        outputs = self.likelihood.params_per_element * math.prod(self.data_shape)
        self.encoder = data_encoder(config, config.hidden, self.encoder_outputs(), extra_features=labels) \
            if encoder is None else checked_network("encoder", encoder, self.data_shape, self.encoder_outputs(), labels)
        self.decoder = data_decoder(config, self.decoder_inputs(), config.hidden[::-1],
                                    self.likelihood.params_per_element) \
            if decoder is None else AnyLeadingDims(checked_network("decoder", decoder, (self.decoder_inputs(),),
                                                                   outputs))
        self.own_networks = [name for name, net in (("encoder", encoder), ("decoder", decoder)) if net is not None]
        self.register_buffer("prior_loc", torch.zeros(zdim))
        self.register_buffer("prior_scale", torch.ones(zdim))

    def encoder_outputs(self) -> int:
        """Width of the encoder's output: mu and sigma."""
        return 2 * self.config.latent_dim

    def label_features(self) -> int:
        """Width of the one-hot label a conditional model's networks read: none here."""
        return 0

    def decoder_inputs(self) -> int:
        """Width of the decoder's input: z, and a conditional model's one-hot label."""
        return self.config.latent_dim + self.label_features()

    def encode(self, x: torch.Tensor) -> Distribution:
        """q(z|x) = N(mu, diag sigma^2)."""
        return self.posterior(self.encoder(x))

    def posterior(self, out: torch.Tensor) -> Distribution:
        """The Gaussian that the encoder's output (B, 2 * latent) gives; sigma = softplus(.) for stability
        (K&W use exp(log sigma^2 / 2))."""
        mu, pre_sigma = out.chunk(2, dim=-1)  # (B, latent) each
        return Independent(Normal(mu, F.softplus(pre_sigma) + _MIN_SCALE, validate_args=False), 1, validate_args=False)

    def decode(self, z: torch.Tensor) -> Distribution:
        """p(x|z), batch-shaped like z's leading axes (B or k, B), event = one datum."""
        params = self.decoder(z).view(*z.shape[:-1], self.likelihood.params_per_element, *self.data_shape)
        return self.likelihood(params)  # (*batch, P, *data_shape) -> Distribution

    def prior(self) -> Distribution:
        """p(z) = N(0, I)."""
        return Independent(Normal(self.prior_loc, self.prior_scale, validate_args=False), 1, validate_args=False)

    def loss(self, batch: Batch | torch.Tensor) -> Loss:
        """The negative (beta-weighted, warmed-up, free-bits) ELBO, averaged over the batch."""
        batch = as_batch(batch)
        return self.negative_elbo(given(self, batch.y), batch.x, batch.kl_weight)

    def negative_elbo(self, dists: Latent, x: torch.Tensor, kl_weight: float | torch.Tensor) -> Loss:
        """The loss of :meth:`loss` for the distributions ``dists`` (this model's, or given labels)."""
        return self.loss_of_terms(objectives.elbo_terms(dists, x), kl_weight)

    def loss_of_terms(self, t: objectives.ElboTerms, kl_weight: float | torch.Tensor) -> Loss:
        """The batch's negative ELBO from its terms, with beta, the warm-up weight and free bits."""
        kl = t.kl.mean()
        free_bits = getattr(self.config, "free_bits", 0.0)  # the models of the VAE family without it: none
        if free_bits > 0 and t.kl_per_dim is not None:
            penalized = t.kl_per_dim.mean(0).clamp(min=free_bits).sum()
        else:
            penalized = kl
        value = -t.reconstruction.mean() + self.config.beta * kl_weight * penalized
        return Loss(value, {"elbo": t.elbo.mean().detach(), "reconstruction": t.reconstruction.mean().detach(),
                            "kl": kl.detach()})
