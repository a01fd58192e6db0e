"""The contract between models and everything that uses them: a batch, a loss, and what a model can do.

Callers ask which of these protocols a model keeps (``isinstance(model, Classifies)``), never its name or class:

==============  =====================================================================================
``Trainable``   ``steps(batch)``: one training step as (optimizer name, Loss) pairs, in order (one pair for
                most models, one per phase for adversarial ones); ``optimizer_groups()``; ``scores(batch)``
``Latent``      ``encode(x)`` -> q(z|x), ``decode(z)`` -> p(x|z), ``prior()`` -> p(z): Distributions
``Conditional`` ``given(y)`` -> the three distributions for labels y; ``num_classes``
``Classifies``  ``classify(x)`` -> class probabilities (B, C) of the labels it learned
``Clusters``    ``cluster_probabilities(x)`` -> q(cluster|x) (B, K), learned without labels
``Sentences``   text in and out: ``tokenizer``, ``max_length``
``Density``     ``log_likelihood(x, k)`` -> log p(x) per example: exact, or estimated with k importance samples
==============  =====================================================================================

A model that inherits a method it cannot honour opts out by setting it to ``None`` (as ``__hash__ = None`` does):
an adversarial autoencoder has the VAE's networks but no bound on log p(x), so ``log_likelihood = None``. A verb a
model lacks raises :class:`MissingCapability`, saying what the model has not.
This module imports torch only: it is the bottom of the layers (see docs/architecture.md).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import torch
from torch import nn
from torch.distributions import Distribution

UNLABELLED = -1  # the label of an example whose class is unknown


class MissingCapability(AttributeError, ValueError):
    """A verb asked of a model that cannot do it (sample from a classifier); the message says what it can do.
    An AttributeError, so that ``hasattr`` and the protocols' ``isinstance`` see the verb as absent, and a
    ValueError, so that a command reports it in one line."""


# the verbs whose absence a model explains, and the protocol that has each
_LATENT = "latent variables (encode, decode, prior)"
VERBS = {"encode": _LATENT, "decode": _LATENT, "prior": _LATENT, "sample": _LATENT, "reconstruct": _LATENT,
         "elbo": "bound on log p(x)", "log_likelihood": "bound on log p(x)",
         "given": "distributions conditioned on a label", "classify": "classifier",
         "cluster_probabilities": "clusters learned without labels"}


@dataclass
class Batch:
    """What one training step sees; the Trainer builds it the same way for every model.

    ``y`` holds class indices, :data:`UNLABELLED` where unknown, or is None for unlabelled data.
    ``kl_weight`` is the KL warm-up weight (Sonderby et al. 2016), 1 outside warm-up.
    ``complexity_share`` is this minibatch's share of the weights' complexity cost, times the number of
    minibatches M: M pi_i of Blundell et al. 2015 (sec. 3.4), 1 for the uniform weighting. It reaches only the
    cost of weights with a posterior, never the latent KL.
    In data-parallel training each of ``ranks`` processes holds a share of the step's batch, and ``step_labelled``
    counts the labelled examples of the whole step (None: this batch's own); a phase a step yields must depend on
    the whole step (:meth:`any_labelled`), never on one rank's share, so that every rank runs the same phases.
    """

    x: torch.Tensor
    y: torch.Tensor | None = None
    kl_weight: float | torch.Tensor = 1.0
    complexity_share: float | torch.Tensor = 1.0
    step_labelled: int | None = None
    ranks: int = 1

    def labelled(self) -> torch.Tensor:
        """A boolean mask (B,) of the examples whose label is known."""
        if self.y is None:
            return torch.zeros(len(self.x), dtype=torch.bool, device=self.x.device)
        return self.y >= 0

    def any_labelled(self) -> bool:
        """Whether the step (every rank's share) has a labelled example."""
        return (int(self.labelled().sum()) if self.step_labelled is None else self.step_labelled) > 0

    def mean_over_labelled(self, values: torch.Tensor) -> torch.Tensor:
        """The mean of ``values``, one per labelled example of this batch, over the labelled examples of the whole
        step: this share's sum times ranks / (the step's labelled examples), as the ranks' gradients are averaged.
        Zero, and still a function of the weights, for a share without labelled examples."""
        total = len(values) if self.step_labelled is None else self.step_labelled
        return values.sum() * (self.ranks / max(total, 1))


@dataclass
class Loss:
    """The scalar to minimize and named scalar terms for logging."""

    value: torch.Tensor
    terms: dict[str, torch.Tensor] = field(default_factory=dict)


@runtime_checkable
class Trainable(Protocol):
    """What the Trainer needs: the step, the optimizers' parameters, and the validation figures."""

    def steps(self, batch: Batch) -> Iterable[tuple[str, Loss]]:
        """One training step as (optimizer name, loss) pairs; the Trainer steps that optimizer on each loss before
        the next is computed, so a later phase sees the earlier phases' updates."""
        ...

    def optimizer_groups(self) -> dict[str, list[nn.Parameter]]:
        """The parameters of each optimizer, by the names ``steps`` uses."""
        ...

    def scores(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Validation figures per example (B,) each, higher is better; the first picks the best epoch."""
        ...


@runtime_checkable
class Latent(Protocol):
    """The three distributions: what the bounds, estimates, sampling and codecs are written against."""

    def encode(self, x: torch.Tensor) -> Distribution: ...

    def decode(self, z: torch.Tensor) -> Distribution: ...

    def prior(self) -> Distribution: ...


@runtime_checkable
class Conditional(Protocol):
    """A model whose distributions depend on a label: ``given(y)`` gives them for labels y (B,)."""

    num_classes: int

    def given(self, y: torch.Tensor | None) -> Latent: ...


@runtime_checkable
class Classifies(Protocol):
    """A model that predicts labels: p(y|x) (or q(y|x)) as probabilities (B, C)."""

    def classify(self, x: torch.Tensor) -> torch.Tensor: ...


@runtime_checkable
class Clusters(Protocol):
    """A model that groups data without labels: q(cluster|x) as probabilities (B, clusters)."""

    def cluster_probabilities(self, x: torch.Tensor) -> torch.Tensor: ...


@runtime_checkable
class Sentences(Protocol):
    """A model of text: token ids in and out, read and written with its tokenizer (saved beside it)."""

    tokenizer: Any
    max_length: int


@runtime_checkable
class Density(Protocol):
    """A model with log p(x): exact (a language model) or an importance-weighted estimate with k samples."""

    def log_likelihood(self, x: torch.Tensor, k: int = 5000, y: torch.Tensor | None = None) -> torch.Tensor: ...


@runtime_checkable
class LearnsFromLabels(Protocol):
    """A model whose training reads labels (conditional, semi-supervised and supervised models): the data it
    trains on must carry labels, ``num_classes`` of them (some may be unknown)."""

    num_classes: int

    def check_labels(self, y: torch.Tensor | None) -> None:
        """Refuse labels it cannot learn from (none, or out of range), naming them."""
        ...


@runtime_checkable
class WeightPosterior(Protocol):
    """A model with a posterior over (some of) its weights, trained by Bayes by Backprop (Blundell et al. 2015): its
    complexity cost KL(q(w) || p(w)) is spread over the training set's examples, and each training or
    ``train()``-mode pass draws the weights anew."""

    def complexity_cost(self) -> torch.Tensor: ...


@runtime_checkable
class BuildsOnSaved(Protocol):
    """A model with a part trained before, in a run of its own (M1+M2's M1): a run loads the saved model at
    ``saved_part()`` (None: trained here) and hands it, with the training split, to ``adopt``."""

    def saved_part(self) -> str | None: ...

    def adopt(self, part: Any, train: Any) -> None: ...


def given(model: Latent, y: torch.Tensor | None) -> Latent:
    """The distributions for data with labels ``y``: a conditional model's ``given(y)``; any other model's own (its
    distributions do not depend on labels). Code written against ``given(model, y)`` serves both. (Without labels,
    the model itself: a conditional model's own ``encode`` then asks for them.)"""
    return model.given(y) if y is not None and isinstance(model, Conditional) else model


def describe(model: object) -> str:
    """A model's name for messages: its registered name, or its class's."""
    return str(getattr(model, "registered_name", type(model).__name__))


def capabilities(model: object) -> list[str]:
    """The names of the protocols ``model`` keeps, for messages and the explorer."""
    kinds = {"trainable": Trainable, "latent": Latent, "conditional": Conditional, "classifies": Classifies,
             "clusters": Clusters, "sentences": Sentences, "density": Density, "labelled": LearnsFromLabels,
             "bayesian": WeightPosterior, "builds-on-saved": BuildsOnSaved}
    return [name for name, protocol in kinds.items() if isinstance(model, protocol)]
