"""M1+M2 of Kingma, Rezende, Mohamed & Welling 2014, "Semi-supervised Learning with Deep Generative Models",
arXiv:1406.5298, section 3.2 "stacked generative semi-supervised model": M2 trained on the latent codes z1 of an
M1 VAE instead of on the data.

Generative:  y ~ Cat(1/C),  z2 ~ N(0, I),  z1 ~ p(z1|y, z2) (Gaussian, M2's decoder),  x ~ p(x|z1) (M1's decoder).
Inference:   q(z1|x) (M1's encoder), then M2's q(y|z1) and q(z2|z1, y).

Kingma et al. train M1 first and then M2 on samples z1 ~ q(z1|x). Here both train in one run: each step samples
z1 ~ q(z1|x) for M1's ELBO and hands the same draw, with its gradient stopped, to M2's objective (eq. 9). So M2
sees codes of a VAE still learning, and M1's features are the VAE's alone, as in the paper.

The model's own distributions (``encode``, ``decode``, ``prior``, and so evaluation's ELBO and log p(x), sampling
and the codec) are M1's VAE with its N(0, I) prior; ``classify`` is M2's q(y|z1) at the posterior mean of z1.
"""
from __future__ import annotations

from typing import Literal

import torch

from vaekit import objectives
from vaekit.config import ModelConfig
from vaekit.contract import Batch, Loss
from vaekit.model_fields import Labelled, LatentCode, Networks, Observed
from vaekit.models.base import as_batch
from vaekit.models.m2 import M2, M2Config
from vaekit.models.registry import register
from vaekit.models.vae import VAE


class M1M2Config(Networks, Observed, LatentCode, Labelled):
    """Kingma et al. 2014 (sec. 3.2): M2 on the codes of a pretrained M1 (600-600 hidden units, 50 latents)."""

    name: Literal["m1-m2"] = "m1-m2"
    top: M2Config | None = None  # the m2 on M1's codes (its data_shape, likelihood, classes filled in)


@register("m1-m2", M1M2Config)
class M1M2(VAE):
    """``M1M2(data_shape=(1, 28, 28), num_classes=10, latent_dim=50, hidden=[600, 600],
    top=M2Config(latent_dim=50, hidden=[500], classifier_weight=50))``."""

    data_fills = (*VAE.data_fills, "num_classes")

    def __init__(self, config: ModelConfig | None = None, **options: object) -> None:
        super().__init__(config, **options)
        top = self.config.top or M2Config(latent_dim=50, hidden=[500], activation=self.config.activation)
        self.top = M2(top.model_copy(update={"data_shape": (self.config.latent_dim,), "likelihood": "gaussian",
                                             "architecture": "mlp", "num_classes": self.config.num_classes}))

    @property
    def num_classes(self) -> int:
        assert self.config.num_classes is not None
        return self.config.num_classes

    @torch.no_grad()
    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities (B, C): M2's q(y|z1) at the posterior mean of z1 given x."""
        return self.top.classify(self.encode(self.check_input(x)).mean)

    def loss(self, batch: Batch | torch.Tensor) -> Loss:
        """M1's negative ELBO plus M2's -J^alpha on the same draw of z1 (gradient stopped), both batch means."""
        batch = as_batch(batch)
        x, kl_weight, y = batch.x, batch.kl_weight, batch.y
        self.check_labels(y)
        t = objectives.elbo_terms(self, x)
        m1 = self.loss_of_terms(t, kl_weight)
        m2 = self.top.loss(Batch(t.z.detach(), y, kl_weight))
        return Loss(m1.value + m2.value, {**m1.terms, **{f"m2_{name}": v for name, v in m2.terms.items()}})
