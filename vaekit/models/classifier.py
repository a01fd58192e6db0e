"""Classifiers p(y|x): a plain network, and the Bayesian neural network of Blundell, Cornebise, Kavukcuoglu &
Wierstra 2015, "Weight uncertainty in neural networks" (arXiv:1505.05424), trained by Bayes by Backprop.

``classifier`` is one network (the config's MLP, with ``dropout`` between hidden layers, or its convolutional
encoder) trained on the cross-entropy: the SGD and dropout baselines of Blundell et al. Table 1.
``bnn`` is the same network with every layer Bayesian (:mod:`vaekit.nn.bayes`). Its loss per example is
the paper's minibatch cost (eq. 8) divided by the batch size:
    -mean log p(y|x, w) + kl_weight * KL(q(w) || p(w)) / N,     w ~ q(w),
where N is ``dataset_size`` and ``kl_weight`` is the warm-up weight times the batch's ``complexity_share``, M pi_i:
1 for the uniform weighting, the Trainer's ``train.complexity_weights: blundell`` for 2^(M-i) / (2^M - 1) (sec. 3.4).
Predictions average the softmax over weight draws (eq. 1's expectation by Monte Carlo). Neither model has latent
variables: they sample no data.
"""
from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field

from vaekit.config import ModelConfig
from vaekit.contract import Batch, Loss
from vaekit.model_fields import Labelled, Networks, WeightPrior
from vaekit.models.base import Model, as_batch
from vaekit.models.registry import register
from vaekit.nn import data_encoder
from vaekit.nn.bayes import complexity_cost, to_bayesian

PREDICTIVE_SAMPLES = 10  # weight draws a Bayesian prediction averages over, unless told


class ClassifierFields(Networks, Labelled):
    """What both classifiers have."""

    # the network reads x times this: 255/126 turns [0, 1] pixels into Blundell et al.'s pixel values / 126
    input_scale: float = Field(1.0, gt=0.0)


class ClassifierConfig(ClassifierFields):

    name: Literal["classifier"] = "classifier"
    dropout: float = Field(0.0, ge=0.0, lt=1.0)  # between hidden layers (Srivastava et al. 2014)


@register("classifier", ClassifierConfig)
class Classifier(Model):
    """``Classifier(data_shape=(1, 28, 28), num_classes=10, hidden=[400, 400], dropout=0.5)``."""

    data_fills = ("data_shape", "num_classes")

    def __init__(self, config: ModelConfig | None = None, **options: object) -> None:
        super().__init__()
        self._configure(config, options)
        self.network = data_encoder(self.config, self.config.hidden, self.num_classes)

    @property
    def num_classes(self) -> int:
        assert self.config.num_classes is not None
        return self.config.num_classes

    def loss(self, batch: Batch | torch.Tensor) -> Loss:
        """The mean cross-entropy of the batch's labelled examples (label -1: skipped)."""
        batch = as_batch(batch)
        x, y = self._labelled(batch)
        if not len(y):
            raise ValueError("a batch without labelled examples: give every batch some (train.labelled_per_batch)")
        logits = self.logits(x)
        nll = batch.mean_over_labelled(F.cross_entropy(logits, y, reduction="none"))
        return Loss(nll, {"nll": nll.detach(), "train_error": (logits.argmax(1) != y).float().mean().detach()})

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """The network's class scores for x scaled by ``input_scale``, under one draw of any Bayesian weights."""
        return self.network(x * self.config.input_scale)

    def _labelled(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """The batch's examples whose label is known, and their labels (none: empty tensors)."""
        self.check_labels(batch.y)
        assert batch.y is not None
        keep = batch.y >= 0
        return batch.x[keep], batch.y[keep]

    def scores(self, batch: Batch) -> dict[str, torch.Tensor]:
        """log p(y|x) of the predictive (averaged over weight draws for a Bayesian network) and 0/1 mistakes, per
        labelled example."""
        x, y = self._labelled(batch)  # a batch may hold none: its scores are empty
        probs = self.classify(x)
        return {"log_predictive": probs.gather(1, y[:, None]).squeeze(1).clamp(min=1e-12).log(),
                "error": (probs.argmax(1) != y).float()}

    @torch.no_grad()
    def predictive(self, x: torch.Tensor, samples: int = PREDICTIVE_SAMPLES) -> torch.Tensor:
        """Class probabilities (S, B, C) under S draws of the weights; a plain network has one draw."""
        return self.logits(self.check_input(x)).softmax(-1).unsqueeze(0)

    def classify(self, x: torch.Tensor, samples: int = PREDICTIVE_SAMPLES) -> torch.Tensor:
        """p(y|x) (B, C), averaged over ``samples`` weight draws for a Bayesian network."""
        return self.predictive(x, samples).mean(0)


class BayesianClassifierConfig(ClassifierFields, WeightPrior):
    """Blundell et al. 2015 (sec. 5.1): MNIST MLPs of 2x400, 2x800 and 2x1200 rectified units; the scale mixture
    prior with -log sigma1 in {0, 1, 2}, -log sigma2 in {6, 7, 8}, pi in {1/4, 1/2, 3/4}."""

    name: Literal["bnn"] = "bnn"


@register("bnn", BayesianClassifierConfig)
class BayesianClassifier(Classifier):
    """``BayesianClassifier(data_shape=(1, 28, 28), num_classes=10, hidden=[400, 400], dataset_size=50000)``."""

    data_fills = (*Classifier.data_fills, "dataset_size")

    def __init__(self, config: ModelConfig | None = None, **options: object) -> None:
        super().__init__(config, **options)
        to_bayesian(self.network, self.config)

    def complexity_cost(self) -> torch.Tensor:
        """KL(q(w) || p(w)) of the last draw of the weights."""
        return complexity_cost(self.network)

    def loss(self, batch: Batch | torch.Tensor) -> Loss:
        """Eq. 8 per example: the cross-entropy under one draw of the weights plus its complexity cost / N, weighted
        by the warm-up weight and the batch's share of the cost."""
        batch = as_batch(batch)
        fit = super().loss(batch)
        complexity = self.complexity_cost() / self.config.dataset_size
        weight = batch.kl_weight * batch.complexity_share
        return Loss(fit.value + weight * complexity, {**fit.terms, "complexity": complexity.detach()})

    @torch.no_grad()
    def predictive(self, x: torch.Tensor, samples: int = PREDICTIVE_SAMPLES) -> torch.Tensor:
        x = self.check_input(x)
        return torch.stack([self.logits(x).softmax(-1) for _ in range(samples)])
