"""Adversarial autoencoders with a categorical code: semi-supervised classification and unsupervised clustering
(Makhzani et al. 2015, arXiv:1511.05644, sec. 5-6, fig. 8).

The encoder gives a class (or cluster) y = softmax(logits) over C categories and a style z; the decoder
reconstructs x from [y, z]. Two adversaries: one pushes y onto one-hot samples of Cat(1/C), the other pushes z
onto the style prior (N(0, I) by default). A step has the AAE's phases, reconstruction, discriminators and
encoder as generator, and, for the semi-supervised model, a classification phase: the cross-entropy of q(y|x)
on the batch's labelled examples (``train.labelled_per_batch`` puts some in every batch).

The contract's z is [y, z]: q is a point mass at the encoder's output, p(z) samples a one-hot y and a style.
Dimensionality reduction (sec. 7, fig. 9): with ``head_margin`` the code is instead W y + z in ``latent_dim``
dimensions (2 for a picture), where the rows of W are learned cluster heads; the reconstruction phase adds
sum over pairs max(0, head_margin - |W_i - W_j|), which pushes heads closer than the margin apart.
Clustering error (sec. 6): each cluster takes the label of the reference example it is surest of, and each test
example the label of its cluster (:func:`vaekit.evaluate.cluster_error`).
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from pyro.distributions import Delta
from torch import nn
from torch.distributions import Distribution

from vaekit.config import ModelConfig
from vaekit.contract import Batch, Loss
from vaekit.distributions.matched_priors import SamplerOnly
from vaekit.model_fields import Labelled
from vaekit.models.aae import AAE, Adversarial, adversary_loss, generator_loss
from vaekit.models.registry import register
from vaekit.nn import mlp

COLLAPSED = 1.5  # categories in use (a perplexity) below which the categorical code has collapsed


class CategoricalAAEConfig(Adversarial, Labelled):
    """The categorical AAEs' code: ``num_classes`` categories (sec. 5: 10, sec. 6: 16 or 30) beside a style code."""

    head_margin: float | None = Field(None, gt=0)  # code W y + z, cluster heads this far apart (sec. 7)


class SemiSupervisedAAEConfig(CategoricalAAEConfig):
    name: Literal["semi-supervised-aae"] = "semi-supervised-aae"  # type: ignore[assignment]


class ClusteringAAEConfig(CategoricalAAEConfig):
    name: Literal["clustering-aae"] = "clustering-aae"  # type: ignore[assignment]


class CategoricalAAE(AAE):
    """The shared model; ``semi-supervised-aae`` and ``clustering-aae`` differ in the classification phase."""

    adversaries = ("style_", "category_")
    adversary_modules = ("discriminator", "category_discriminator")

    def __init__(self, config: ModelConfig | None = None, **options: object) -> None:
        super().__init__(config, **options)
        if self.config.encoder_kind != "deterministic":
            raise ValueError(f"{self.registered_name}'s codes are deterministic, as in the paper: "
                             "use encoder_kind deterministic")
        self.category_discriminator = mlp(self.categories, self.config.discriminator, 1, self.config.activation)
        margin = self.config.head_margin
        self.heads = None if margin is None else nn.Parameter(self.ring_of_heads(margin))

    @property
    def categories(self) -> int:
        if self.config.num_classes is None:
            raise ValueError(f"{self.registered_name} needs num_classes: the categories of its code")
        return self.config.num_classes

    def encoder_outputs(self) -> int:
        return self.categories + self.config.latent_dim

    @property
    def latent_size(self) -> int:
        return self.decoder_inputs()

    def decoder_inputs(self) -> int:
        with_heads = self.config.head_margin is not None
        return self.config.latent_dim if with_heads else self.categories + self.config.latent_dim

    def ring_of_heads(self, margin: float) -> torch.Tensor:
        """The heads' start: a ring in the first two dimensions, neighbours ``margin`` apart."""
        angles = 2 * math.pi * torch.arange(self.categories) / self.categories
        radius = margin / (2 * math.sin(math.pi / self.categories))
        heads = torch.zeros(self.categories, self.config.latent_dim)
        heads[:, 0], heads[:, 1 % self.config.latent_dim] = radius * angles.cos(), radius * angles.sin()
        return heads

    def code(self, category: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """The decoder's input: [y, z], or W y + z with cluster heads (sec. 7)."""
        if self.heads is None:
            return torch.cat([category, style], dim=-1)
        return category @ self.heads + style

    def split_code(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The encoder's class logits (B, C) and style (B, latent_dim)."""
        out = self.encoder(x)
        return out[:, :self.categories], out[:, self.categories:]

    def encode(self, x: torch.Tensor) -> Distribution:
        """A point mass at the code of softmax(logits) and the style."""
        logits, style = self.split_code(x)
        return Delta(self.code(logits.softmax(-1), style), event_dim=1)

    def prior(self) -> Distribution:
        """The code of a one-hot y ~ Cat(1/C) and a style z from the style prior."""
        style = super().prior()

        def draw(n: int) -> torch.Tensor:
            y = F.one_hot(torch.randint(self.categories, (n,), device=self.device), self.categories).float()
            return self.code(y, style.sample((n,)))

        return SamplerOnly(draw, self.decoder_inputs(), "categorical and style", self.device)

    def loss(self, batch: Batch | torch.Tensor) -> Loss:
        """The reconstruction phase's loss, plus the cluster heads' hinge on their pairwise distances (sec. 7)."""
        loss, margin = super().loss(batch), self.config.head_margin
        if self.heads is None or margin is None:
            return loss
        closeness = F.relu(margin - F.pdist(self.heads)).sum()
        return Loss(loss.value + closeness, {**loss.terms, "head_closeness": closeness.detach()})

    def code_probabilities(self, x: torch.Tensor) -> torch.Tensor:
        """q(y|x): the categorical code's probabilities (B, C), classes or clusters."""
        with torch.no_grad():
            return self.split_code(self.check_input(x))[0].softmax(-1)

    def steps(self, batch: Batch) -> Iterator[tuple[str, Loss]]:
        """Reconstruction; both discriminators; the encoder as generator against both (sec. 5)."""
        x = batch.x
        yield "reconstruction", self.loss(x)
        logits, style = self.split_code(x)  # the updated encoder's codes
        category = logits.softmax(-1)
        one_hot = F.one_hot(torch.randint(self.categories, (len(x),), device=x.device), self.categories).float()
        noise = self.config.discriminator_noise
        style_loss, style_accuracy = adversary_loss(self.discriminator, super().prior().sample((len(x),)), style,
                                                    noise)
        category_loss, category_accuracy = adversary_loss(self.category_discriminator, one_hot, category, noise)
        yield "discriminator", Loss(style_loss + category_loss, {"style_discriminator_accuracy": style_accuracy,
                                                                 "category_discriminator_accuracy": category_accuracy})
        style_fooled = generator_loss(self.discriminator, style, noise)
        category_fooled = generator_loss(self.category_discriminator, category, noise)
        usage = category.detach().mean(0)  # the batch's share of each category; its perplexity counts those used
        yield "generator", Loss(style_fooled + category_fooled, {
            "style_generator_loss": style_fooled.detach(), "category_generator_loss": category_fooled.detach(),
            "categories_used": torch.exp(-(usage * usage.clamp(min=1e-12).log()).sum())})

    def diagnose(self, epoch_means: dict[str, float]) -> str | None:
        """Also a collapse of the categorical code: over an epoch, the batches use fewer than 1.5 categories
        (the perplexity of their mean q(y|x)) where the prior spreads them over all C."""
        used = epoch_means.get("categories_used", float(self.categories))
        if used < COLLAPSED and self.categories > 1:
            return (f"the categorical code collapsed: the batches used {used:.2f} of {self.categories} categories "
                    "over the epoch, so the codes cannot match Cat(1/C). Try discriminator and generator learning "
                    "rates a third of the present ones (train.phase_lr: {discriminator: ..., generator: ...}), "
                    "or a lower train.lr for the reconstruction phase")
        return super().diagnose(epoch_means)


@register("semi-supervised-aae", SemiSupervisedAAEConfig)
class SemiSupervisedAAE(CategoricalAAE):
    """Sec. 5: the categorical code learns the classes from the labelled examples (label -1: unlabelled).
    ``SemiSupervisedAAE(data_shape=(1, 28, 28), num_classes=10, latent_dim=10)``."""

    data_fills = (*CategoricalAAE.data_fills, "num_classes")

    @property
    def num_classes(self) -> int:
        return self.categories

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """q(y|x): class probabilities (B, C)."""
        return self.code_probabilities(x)

    def optimizer_groups(self) -> dict[str, list[nn.Parameter]]:
        return {**super().optimizer_groups(), "classification": list(self.encoder.parameters())}

    def steps(self, batch: Batch) -> Iterator[tuple[str, Loss]]:
        """The categorical AAE's phases, then the classification phase on the batch's labelled examples."""
        self.check_labels(batch.y)
        x, labelled = batch.x, batch.labelled()
        yield from super().steps(Batch(x, kl_weight=batch.kl_weight, ranks=batch.ranks))
        if batch.any_labelled():  # the whole step's, so that every rank runs this phase or none does
            y = batch.y[labelled]  # type: ignore[index]
            logits = self.split_code(x[labelled])[0]
            cross_entropy = batch.mean_over_labelled(F.cross_entropy(logits, y, reduction="none"))
            accuracy = batch.mean_over_labelled((logits.argmax(1) == y).float()).detach()
            yield "classification", Loss(cross_entropy, {"train_accuracy": accuracy})


@register("clustering-aae", ClusteringAAEConfig)
class ClusteringAAE(CategoricalAAE):
    """Sec. 6: ``num_classes`` clusters (the paper: 16 or 30) found without labels.
    ``ClusteringAAE(data_shape=(1, 28, 28), num_classes=16, latent_dim=5)``."""

    def cluster_probabilities(self, x: torch.Tensor) -> torch.Tensor:
        """q(cluster|x) (B, clusters)."""
        return self.code_probabilities(x)
