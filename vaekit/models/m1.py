"""M1 of Kingma, Rezende, Mohamed & Welling 2014, "Semi-supervised Learning with Deep Generative Models",
arXiv:1406.5298, section 3.1: a VAE trained on all the data, labelled or not, as a feature extractor, and a
classifier of the labelled few trained on its features.

The VAE is unchanged (its ELBO over every example); the classifier reads the posterior mean E[q(z|x)] with the
gradient stopped, so the features are the VAE's own and the classifier learns alongside them in one run.
Kingma et al. classify M1's features with a transductive SVM; here it is a small MLP with a softmax, trained on
the labelled examples' cross-entropy (its own parameters get no other gradient, so no weight is needed). Unlabelled
examples carry label -1.
"""
from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

from vaekit.config import ModelConfig
from vaekit.contract import Batch, Loss
from vaekit.model_fields import Labelled, LatentCode, Networks, Observed
from vaekit.models.base import as_batch
from vaekit.models.registry import register
from vaekit.models.vae import VAE
from vaekit.nn import mlp


class M1Config(Networks, Observed, LatentCode, Labelled):
    """Kingma et al. 2014 (sec. 4): M1 with 600-600 hidden units and 50 latent dimensions on MNIST."""

    name: Literal["m1"] = "m1"


@register("m1", M1Config)
class M1(VAE):
    """``M1(data_shape=(1, 28, 28), num_classes=10, latent_dim=50, hidden=[600, 600])``."""

    data_fills = (*VAE.data_fills, "num_classes")

    def __init__(self, config: ModelConfig | None = None, **options: object) -> None:
        super().__init__(config, **options)
        assert self.config.num_classes is not None
        self.classifier = mlp(self.config.latent_dim, self.config.hidden[-1:], self.config.num_classes,
                              self.config.activation)

    @property
    def num_classes(self) -> int:
        assert self.config.num_classes is not None
        return self.config.num_classes

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The classifier's input: the posterior mean E[q(z|x)], without gradient to the VAE."""
        return self.encode(x).mean.detach()

    @torch.no_grad()
    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities (B, C) from the features of x."""
        return torch.softmax(self.classifier(self.features(self.check_input(x))), dim=-1)

    def loss(self, batch: Batch | torch.Tensor) -> Loss:
        """The VAE's negative ELBO over the batch, plus the classifier's cross-entropy on its labelled examples."""
        batch = as_batch(batch)
        x, y = batch.x, batch.y
        vae = self.negative_elbo(self, x, batch.kl_weight)
        if y is None or not (y >= 0).any():
            return vae
        labelled = y >= 0
        logits = self.classifier(self.features(x[labelled]))
        cross_entropy = F.cross_entropy(logits, y[labelled], reduction="sum") / len(x)
        accuracy = (logits.argmax(1) == y[labelled]).float().mean()
        return Loss(vae.value + cross_entropy,
                    {**vae.terms, "classification": cross_entropy.detach() * len(x) / labelled.sum(),
                     "train_accuracy": accuracy.detach()})
