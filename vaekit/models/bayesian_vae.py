"""The Bayesian VAE: full variational Bayes over the latent variables and the decoder's weights (Kingma & Welling
2013, appendix F), with the weights' posterior learned by Bayes by Backprop (Blundell et al. 2015).

Every decoder weight (and, with ``bayesian_encoder``, every encoder weight) has a Gaussian posterior q(w) and a
prior p(w) (:mod:`vaekit.nn.bayes`). The bound on the whole training set, per example, is
    ELBO(x; w) - KL(q(w) || p(w)) / N,     w ~ q(w) drawn once per minibatch,
the VAE's ELBO under one draw of the weights minus the weights' complexity cost spread over the N examples
(appendix F's marginal likelihood bound; an encoder's weights are variational parameters there, so making them
Bayesian as well is an option). The loss is its negative.

In training the layers draw weights; in evaluation (``model.eval()``) they use their posterior means, so the
bounds, log p(x), samples and the codec are those of the mean network. ``samples_with_uncertainty`` decodes
prior draws under several weight draws: their spread is the model's own (epistemic) uncertainty.
"""
from __future__ import annotations

from typing import Literal

import torch

from vaekit.config import ModelConfig
from vaekit.contract import Batch, Loss
from vaekit.model_fields import FreeBits, LatentCode, Networks, Observed, WeightPrior
from vaekit.models.base import as_batch
from vaekit.models.registry import register
from vaekit.models.vae import VAE
from vaekit.nn.bayes import bayesian_layers, complexity_cost, to_bayesian


class BayesianVAEConfig(Networks, Observed, LatentCode, FreeBits, WeightPrior):

    name: Literal["bayesian-vae"] = "bayesian-vae"
    bayesian_encoder: bool = False  # the encoder's weights get a posterior too (else the decoder's only)


@register("bayesian-vae", BayesianVAEConfig)
class BayesianVAE(VAE):
    """``BayesianVAE(data_shape=(1, 28, 28), latent_dim=20, dataset_size=50000)``."""

    data_fills = (*VAE.data_fills, "dataset_size")

    def __init__(self, config: ModelConfig | None = None, **options: object) -> None:
        super().__init__(config, **options)
        to_bayesian(self.decoder, self.config)
        if self.config.bayesian_encoder:
            to_bayesian(self.encoder, self.config)

    def train(self, mode: bool = True) -> "BayesianVAE":
        """Training draws weights; evaluation uses the posterior means."""
        super().train(mode)
        for layer in bayesian_layers(self):
            layer.sampling = mode
        return self

    def complexity_cost(self) -> torch.Tensor:
        """KL(q(w) || p(w)) of the last draw of the weights."""
        return complexity_cost(self)

    def loss(self, batch: Batch | torch.Tensor) -> Loss:
        """The negative ELBO under one draw of the weights, plus their complexity cost / N (appendix F) times the
        batch's share of it (``batch.complexity_share``, Blundell et al. sec. 3.4), which leaves the latent KL alone."""
        batch = as_batch(batch)
        fit = super().loss(batch)
        complexity = self.complexity_cost() / self.config.dataset_size
        weight = batch.kl_weight * batch.complexity_share
        return Loss(fit.value + weight * complexity, {**fit.terms, "weights_kl": complexity.detach()})

    @torch.no_grad()
    def samples_with_uncertainty(self, n: int, draws: int = 20,
                                 seed: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """n prior draws z, each decoded (the mean of p(x|z)) under ``draws`` weight draws: the mean image over
        the weights and its standard deviation, (n, *data_shape) each."""
        was_training = self.training
        self.train(True)  # draw weights
        with torch.random.fork_rng(devices=[]):  # as sample(): the caller's random stream is left alone
            if seed is not None:
                torch.manual_seed(seed)
            z = self.prior().sample((n,))
            images = torch.stack([self.decode(z).mean for _ in range(draws)])
        self.train(was_training)
        return images.mean(0), images.std(0)
