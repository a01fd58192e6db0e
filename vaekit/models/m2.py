"""M2 of Kingma, Rezende, Mohamed & Welling 2014, "Semi-supervised Learning with Deep Generative Models",
arXiv:1406.5298: the label as a latent variable that some data observe.

Generative (eq. 2):  y ~ p(y) = Cat(1/C),  z ~ p(z) = N(0, I),  x ~ p(x|y, z).
Inference (eq. 4):   q(z|x, y) = N(mu(x, y), diag sigma(x, y)^2),  q(y|x) = Cat(pi(x)), a classifier.

Bounds (eq. 6-7), written as lower bounds:
    labelled     L(x, y) = E_q(z|x,y)[log p(x|y, z)] + log p(y) - KL(q(z|x, y) || p(z))  <= log p(x, y)
    unlabelled   U(x) = sum_y q(y|x) L(x, y) + H(q(y|x))                              <= log p(x)
Objective (eq. 9): maximize the labelled and unlabelled bounds and alpha times the classifier's log-likelihood
of the known labels, -J^alpha = sum_l L + sum_u U - alpha sum_l -log q(y|x).

Labels of unlabelled examples are :data:`vaekit.data.UNLABELLED` (-1); the Trainer's ``labelled_per_batch``
adds labelled examples to every batch, as Kingma et al. draw labelled and unlabelled minibatches side by side.
``classifier_weight`` is alpha per labelled example each time it is in a batch, relative to one example's bound
in the batch mean; the paper's alpha = 0.1 N is 0.1 * batch_size / labelled_per_batch (docs/semi_supervised.md).
q(z|x, y) and p(x|y, z) are the conditional VAE's networks, so ``given(y)`` and everything built on it
(evaluation of log p(x|y), generation per class, the codec) work as for that model.
"""
from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch.distributions import Distribution

from vaekit import objectives
from vaekit.config import ModelConfig
from vaekit.contract import Batch, Latent, Loss
from vaekit.devices import floored_exp, floored_log_softmax
from vaekit.model_fields import Labelled, LatentCode, Networks, Observed
from vaekit.models.base import as_batch
from vaekit.models.conditional_vae import ConditionalVAE, Given
from vaekit.models.registry import register
from vaekit.nn import data_encoder


class EveryClass(Given):
    """The distributions of each datum with every class: one-hot rows (B, C, C), x given as (B, 1, *data_shape), so
    that q(z|x, y) and p(x|z, y) have batch shape (B, C) and the encoder reads each x once."""

    def encode(self, x: torch.Tensor) -> Distribution:
        return self.model.encode_given(x[:, 0], self.onehot)


class M2Config(Networks, Observed, LatentCode, Labelled):
    """Kingma et al. 2014 (sec. 4): 500 hidden units, 50 latent dimensions, alpha = 0.1 N in all."""

    name: Literal["m2"] = "m2"
    classifier_weight: float = Field(1.0, ge=0.0)  # alpha per labelled example (eq. 9)


@register("m2", M2Config)
class M2(ConditionalVAE):
    """``M2(data_shape=(1, 28, 28), num_classes=10, latent_dim=50, hidden=[500])``; ``classify(x)`` gives q(y|x)."""

    def __init__(self, config: ModelConfig | None = None, **options: object) -> None:
        super().__init__(config, **options)
        self.classifier = data_encoder(self.config, self.config.hidden, self.num_classes)

    every_label = False  # the unlabelled examples' y is summed out (eq. 7)
    best_accuracy = 0.0  # the best epoch's train_accuracy so far, for :meth:`diagnose`

    def diagnose(self, epoch_means: dict[str, float], prefix: str = "") -> str | None:
        """The classifier has collapsed when, over an epoch, its accuracy on the labelled examples it trains on is
        within a tenth of the way from chance to perfect, having been past half of the way in an earlier epoch.
        The bounds can keep improving while that happens (they need no classifier once the decoder ignores y), so
        nothing else tells."""
        accuracy = epoch_means.get(f"{prefix}train_accuracy")
        if accuracy is None:
            return None
        chance = 1 / self.num_classes
        best, self.best_accuracy = self.best_accuracy, max(self.best_accuracy, accuracy)
        if best < chance + 0.5 * (1 - chance) or accuracy > chance + 0.1 * (1 - chance):
            return None
        return (f"q(y|x) collapsed: it got {accuracy:.1%} of the labelled training examples right over the epoch, "
                f"down from {best:.1%} (chance is {chance:.1%}). Try a lower train.lr, train.grad_clip, or "
                "train.precision fp32")

    @torch.no_grad()
    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """q(y|x): class probabilities (B, C)."""
        return torch.softmax(self.classifier(self.check_input(x)), dim=-1)

    def labelled_bound(self, x: torch.Tensor, y: torch.Tensor, kl_weight: float | torch.Tensor = 1.0) -> torch.Tensor:
        """L(x, y) per example (eq. 6), the KL weighted by the warm-up weight."""
        return self._bound(self.given(y), x, kl_weight)

    def _bound(self, given: Latent, x: torch.Tensor, kl_weight: float | torch.Tensor) -> torch.Tensor:
        t = objectives.elbo_terms(given, x)
        return t.reconstruction - kl_weight * t.kl - math.log(self.num_classes)

    def unlabelled_bound(self, x: torch.Tensor, kl_weight: float | torch.Tensor = 1.0) -> torch.Tensor:
        """U(x) per example (eq. 7): every class's bound, weighted by q(y|x), plus the entropy of q(y|x)."""
        log_q = floored_log_softmax(self.classifier(x))  # (B, C)
        return self._unlabelled(x, log_q, kl_weight)

    def _unlabelled(self, x: torch.Tensor, log_q: torch.Tensor, kl_weight: float | torch.Tensor) -> torch.Tensor:
        classes = self.num_classes
        if getattr(self.encoder, "extra_rows", False):  # the encoder reads x once for all the classes: (B, C)
            bounds = self._bound(EveryClass(self, torch.eye(classes, device=x.device).expand(len(x), -1, -1)),
                                 x.unsqueeze(1), kl_weight)
        else:  # each datum with every class, class fastest
            every = torch.arange(classes, device=x.device).repeat(len(x))
            bounds = self.labelled_bound(x.repeat_interleave(classes, dim=0), every, kl_weight).view(len(x), classes)
        q = floored_exp(log_q)
        return (q * bounds).sum(1) - (q * log_q).sum(1)

    def loss(self, batch: Batch | torch.Tensor) -> Loss:
        """-J^alpha (eq. 9) over the batch, divided by its size; y holds -1 for the unlabelled examples."""
        batch = as_batch(batch)
        x, kl_weight, y = batch.x, batch.kl_weight, batch.y
        self.check_labels(y)
        assert y is not None
        labelled = y >= 0
        log_q = floored_log_softmax(self.classifier(x))
        none = x.new_zeros(0)  # a batch may be all labelled or all unlabelled
        bound_l = self.labelled_bound(x[labelled], y[labelled], kl_weight) if labelled.any() else none
        bound_u = self._unlabelled(x[~labelled], log_q[~labelled], kl_weight) if not labelled.all() else none
        cross_entropy = F.nll_loss(log_q[labelled], y[labelled], reduction="sum")
        n = len(x)
        value = (-(bound_l.sum() + bound_u.sum()) + self.config.classifier_weight * cross_entropy) / n
        accuracy = (log_q[labelled].argmax(1) == y[labelled]).float().mean() if labelled.any() else x.new_zeros(())
        return Loss(value, {"bound": ((bound_l.sum() + bound_u.sum()) / n).detach(),
                            "classification": (cross_entropy / labelled.sum().clamp(min=1)).detach(),
                            "train_accuracy": accuracy.detach()})
