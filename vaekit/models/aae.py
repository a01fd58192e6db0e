"""The adversarial autoencoder of Makhzani, Shlens, Jaitly, Goodfellow & Frey 2015, arXiv:1511.05644.

An autoencoder whose aggregated posterior q(z) = E_pdata(x)[q(z|x)] is pushed onto a chosen prior p(z) by a
discriminator D(z) (sec. 2): the encoder is the generator of a GAN on the codes. Each step on a minibatch has
two phases (sec. 2, "training"):
  reconstruction   encoder and decoder minimize -log p(x|z), z ~ q(z|x);
  regularization   D maximizes log D(z') + log(1 - D(z)) for z' ~ p(z) and z ~ q(z|x), then the encoder
                   maximizes log D(z) (the non-saturating generator loss of Goodfellow et al. 2014).
q(z|x) is deterministic (a point mass at the encoder's output, the paper's choice) or Gaussian
(``encoder_kind``). The prior may be any sampler: N(0, I), a ring of Gaussians, the swiss roll or the user's.

The supervised AAE (``supervised-aae``, sec. 4) gives the label to the decoder alone, so that the codes hold
the style and the label the content.

There is no bound on log p(x): the model is judged by samples (the Parzen window estimate, :mod:`vaekit.parzen`)
and by its reconstructions. An adversary that wins outright stops training with advice (:meth:`diagnose`).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator
from pyro.distributions import Delta
from torch import nn
from torch.distributions import Distribution

from vaekit.config import ModelConfig
from vaekit.contract import Batch, Loss, given
from vaekit.distributions.matched_priors import SamplerOnly, gaussian, ring_mixture, swiss_roll
from vaekit.model_fields import Labelled, Networks, Observed
from vaekit.models.base import as_batch
from vaekit.models.conditional_vae import ConditionalVAE
from vaekit.models.registry import register
from vaekit.models.vae import VAE
from vaekit.nn import mlp

WINNING_ACCURACY = 0.99  # an adversary this sure over an epoch has won the game (see diagnose)
SURE_ACCURACY = 0.95  # ... or this sure while the codes' D(z) is below 1 - WINNING_ACCURACY


def _noisy(inputs: torch.Tensor, noise: float) -> torch.Tensor:
    """The discriminator's inputs plus N(0, noise^2) noise: it blurs the two distributions the adversary tells
    apart, so it cannot win on details the codes cannot match (instance noise, Sonderby et al. 2017)."""
    return inputs + noise * torch.randn_like(inputs) if noise > 0 else inputs


def adversary_loss(discriminator: nn.Module, real: torch.Tensor, fake: torch.Tensor,
                   noise: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """The discriminator's loss on prior samples ``real`` and codes ``fake`` (detached), each with ``noise``
    added, and its accuracy."""
    on_real, on_fake = discriminator(_noisy(real, noise)), discriminator(_noisy(fake.detach(), noise))
    loss = (F.binary_cross_entropy_with_logits(on_real, torch.ones_like(on_real))
            + F.binary_cross_entropy_with_logits(on_fake, torch.zeros_like(on_fake)))
    return loss, (((on_real > 0).float().mean() + (on_fake < 0).float().mean()) / 2).detach()


def generator_loss(discriminator: nn.Module, fake: torch.Tensor, noise: float = 0.0) -> torch.Tensor:
    """The generator's loss -log D(code), averaged, the codes with ``noise`` added as the discriminator saw them."""
    judged = discriminator(_noisy(fake, noise))
    return F.binary_cross_entropy_with_logits(judged, torch.ones_like(judged))


class Adversarial(Networks, Observed):
    """What every adversarial autoencoder has: the code, the prior it is matched to and the adversary.
    Makhzani et al.'s MNIST networks (appendix A): two layers of 1000 units in the autoencoder and the
    discriminator, 8 latent dimensions for the Gaussian prior (sec. 2)."""

    latent_dim: int = Field(20, ge=1)
    latent_prior: Literal["gaussian", "mixture", "swiss-roll", "custom"] = "gaussian"  # the p(z) matched
    prior_components: int = Field(10, ge=1)  # the mixture prior's Gaussians, on a ring (fig. 4)
    encoder_kind: Literal["deterministic", "gaussian"] = "deterministic"  # q(z|x) (sec. 2.1)
    discriminator: list[int] = Field(default_factory=lambda: [1000, 1000])  # the adversary's MLP widths
    discriminator_noise: float = Field(0.0, ge=0.0)  # sd of Gaussian noise on every discriminator's inputs

    @model_validator(mode="after")
    def _swiss_roll_is_flat(self) -> "Adversarial":
        if self.latent_prior == "swiss-roll" and self.latent_dim != 2:
            raise ValueError(f"the swiss-roll prior is two-dimensional: set latent_dim 2 (got {self.latent_dim})")
        return self


class AAEConfig(Adversarial):
    name: Literal["aae"] = "aae"


@register("aae", AAEConfig)
class AAE(VAE):
    """``AAE(data_shape=(1, 28, 28), latent_dim=8, hidden=[1000, 1000], latent_prior="mixture")``."""

    elbo = log_likelihood = None  # type: ignore[assignment]  # no bound on log p(x): not a Density

    def __init__(self, config: ModelConfig | None = None, **options: object) -> None:
        super().__init__(config, **options)
        self.discriminator = mlp(self.config.latent_dim, self.config.discriminator, 1, self.config.activation)
        self._draw: Callable[[int], torch.Tensor] | None = None

    def encoder_outputs(self) -> int:
        return self.config.latent_dim * (2 if self.config.encoder_kind == "gaussian" else 1)

    def encode(self, x: torch.Tensor) -> Distribution:
        """q(z|x): a point mass at the encoder's output, or a Gaussian."""
        out = self.encoder(x)
        return self.posterior(out) if self.config.encoder_kind == "gaussian" else Delta(out, event_dim=1)

    def use_prior(self, draw: Callable[[int], torch.Tensor]) -> "AAE":
        """Match the codes to the user's sampler ``draw(n) -> (n, latent_dim)`` (``latent_prior: custom``). A
        sampler is code, not weights: after ``load`` it must be given again."""
        if self.config.latent_prior != "custom":
            raise ValueError(f"this model matches the {self.config.latent_prior} prior; build it with "
                             "latent_prior='custom' to give your own sampler")
        self._draw = draw
        return self

    def prior(self) -> Distribution:
        """The p(z) the codes are matched to."""
        dim, name = self.config.latent_dim, self.config.latent_prior
        device = self.device
        if name == "gaussian":
            return gaussian(dim, device)
        if name == "mixture":
            return ring_mixture(dim, self.config.prior_components, device)
        if name == "swiss-roll":
            return SamplerOnly(swiss_roll, dim, name, device)
        if self._draw is None:
            raise ValueError("this model's prior is the user's sampler: give it with model.use_prior(draw) "
                             "(draw(n) -> an (n, latent_dim) tensor)")
        return SamplerOnly(self._draw, dim, "custom", device)

    adversary_modules: tuple[str, ...] = ("discriminator",)  # the modules the discriminator phase trains

    def optimizer_groups(self) -> dict[str, list[nn.Parameter]]:
        prefixes = tuple(f"{module}." for module in self.adversary_modules)
        autoencoder = [p for name, p in self.named_parameters() if not name.startswith(prefixes)]
        adversaries = [p for module in self.adversary_modules for p in getattr(self, module).parameters()]
        return {"reconstruction": autoencoder, "discriminator": adversaries,
                "generator": list(self.encoder.parameters())}

    def loss(self, batch: Batch | torch.Tensor) -> Loss:
        """The reconstruction phase's loss, -log p(x|z) with z ~ q(z|x), averaged over the batch (a supervised
        AAE decodes given the labels y)."""
        batch = as_batch(batch)
        reconstruction = given(self, batch.y).decode(self.encode(batch.x).rsample()).log_prob(batch.x).mean()
        return Loss(-reconstruction, {"reconstruction": reconstruction.detach()})

    def steps(self, batch: Batch) -> Iterator[tuple[str, Loss]]:
        """Reconstruction, then the discriminator, then the encoder as generator, on the same minibatch."""
        yield "reconstruction", self.loss(batch)
        z = self.encode(batch.x).rsample()  # the codes of the updated encoder
        noise = self.config.discriminator_noise
        loss, accuracy = adversary_loss(self.discriminator, self.prior().sample((len(z),)), z, noise)
        yield "discriminator", Loss(loss, {"discriminator_accuracy": accuracy})
        yield "generator", Loss(generator_loss(self.discriminator, z, noise), {})

    def scores(self, batch: Batch) -> dict[str, torch.Tensor]:
        """log p(x|z) at the posterior mean z: without a bound on log p(x), the validation figure."""
        dists = given(self, batch.y)
        return {"reconstruction": dists.decode(dists.encode(batch.x).mean).log_prob(batch.x)}

    adversaries: tuple[str, ...] = ("",)  # the prefixes of each adversary's logged terms

    def diagnose(self, epoch_means: dict[str, float]) -> str | None:
        """An adversary has won outright when, over an epoch, it tells codes from prior samples 99% of the time, or
        95% of the time while giving the codes a geometric-mean probability of being prior samples below 1%
        (generator loss -log D(z) above log 100): the encoder then gets no useful gradient and q(z) will not
        match p(z). (A few codes rejected with great confidence alone raise the generator loss as much; in
        runs of the semi-supervised AAE on MNIST that happened at accuracies of 0.87-0.90.)"""
        for name in self.adversaries:
            accuracy = epoch_means.get(f"{name}discriminator_accuracy", 0.0)
            believed = math.exp(-epoch_means.get(f"{name}generator_loss", 0.0))
            if accuracy >= WINNING_ACCURACY or (accuracy >= SURE_ACCURACY and believed <= 1 - WINNING_ACCURACY):
                which = f"the {name.rstrip('_')} discriminator" if name else "the discriminator"
                return (f"{which} won outright (accuracy {accuracy:.3f}, D(z) {believed:.4f} over the epoch), so "
                        "the encoder gets no useful gradient and the codes will not match the prior. Try a lower "
                        "discriminator learning rate (train.phase_lr: {discriminator: ...}), a higher generator "
                        "one, or a smaller model.discriminator")
        return None


class SupervisedAAEConfig(Adversarial, Labelled):
    name: Literal["supervised-aae"] = "supervised-aae"


@register("supervised-aae", SupervisedAAEConfig)
class SupervisedAAE(AAE, ConditionalVAE):
    """The supervised AAE (sec. 4, fig. 6): the label joins the decoder's input only, so the codes, matched to
    the prior, carry the style and the label the content. ``given(y)`` gives the distributions for labels y, as
    for the conditional VAE; q(z|x) ignores them. ``SupervisedAAE(data_shape=(1, 28, 28), num_classes=10)``."""

    labels_to_encoder = False

    def encode_given(self, x: torch.Tensor, onehot: torch.Tensor) -> Distribution:
        """q(z|x): the style code does not see the label."""
        return self.encode(x)
