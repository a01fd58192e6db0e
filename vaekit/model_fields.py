"""The field groups that the models' configs are made of.

Each model's own config sits in its model file (``VAEConfig`` beside ``VAE``), with the paper's defaults, and
is made of the groups here: what its networks are (:class:`Networks`), what it observes (:class:`Observed`), its
latent code (:class:`LatentCode`), labels (:class:`Labelled`), Blundell's weight prior (:class:`WeightPrior`),
text (:class:`Tokens`) or recurrent cells (:class:`Recurrent`). A config accepts only the keys its model reads,
so a misplaced key is refused by name (the base, :class:`vaekit.config.ModelConfig`, and the registry of
config classes by name live in vaekit.config).
"""
from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from vaekit.config import ModelConfig

__all__ = ["FreeBits", "Labelled", "LatentCode", "LayerConfig", "Networks", "Observed", "Recurrent", "Tokens",
           "WeightPrior"]

class Networks(ModelConfig):
    """Networks on arrays or images: an MLP, or convolutions for any image size (vaekit.nn.data_nets)."""

    architecture: Literal["mlp", "conv", "resnet"] = "mlp"  # resnet: conv with a residual block per resolution
    channels: list[int] = Field(default_factory=lambda: [32, 64])  # conv widths, each layer halves H, W

    @model_validator(mode="after")
    def _fits_the_image(self) -> "Networks":
        if self.architecture == "mlp" or self.data_shape is None:
            return self
        if len(self.data_shape) != 3:
            raise ValueError(f"architecture '{self.architecture}' needs image data (C, H, W), "
                             f"got data_shape {self.data_shape}")
        side, halvings = min(self.data_shape[1:]), len(self.channels)
        if side < 2 ** halvings:
            fits = max(0, side.bit_length() - 1)
            raise ValueError(f"channels {self.channels} halve the image {halvings} times, which needs at least "
                             f"{2 ** halvings} pixels a side; these images are {self.data_shape[2]}x"
                             f"{self.data_shape[1]}: give at most {fits} conv layers (a {side}-pixel side halves "
                             f"{fits} times)" + (" or use architecture mlp" if fits < 2 else ""))
        return self


class Observed(ModelConfig):
    """p(x|.): the likelihood of the data. ``auto`` (a recipe's default) is bernoulli for binary data,
    logistic-mixture for 8-bit, gaussian for continuous, chosen when a run sees the data."""

    likelihood: Literal["auto", "bernoulli", "logistic-mixture", "gaussian"] = "bernoulli"
    mixture_components: int = Field(5, ge=1)  # logistic-mixture only
    levels: int = Field(256, ge=2, le=256)  # logistic-mixture: the grey levels of 8-bit data (from the data)

    @model_validator(mode="after")
    def _levels_are_the_mixtures(self) -> "Observed":
        if self.levels != 256 and self.likelihood not in ("logistic-mixture", "auto"):
            raise ValueError(f"levels are the grey levels of the logistic-mixture likelihood; {self.likelihood} has "
                             "none")
        return self


class LatentCode(ModelConfig):
    """A latent code z of ``latent_dim`` units and the weight of its KL term."""

    latent_dim: int = Field(20, ge=1)
    beta: float = Field(1.0, ge=0.0)  # KL weight (Higgins et al. 2017); beta-tc-vae: the TC weight; 1 is the ELBO


class FreeBits(ModelConfig):
    free_bits: float = Field(0.0, ge=0.0)  # nats per latent dim not penalized (Kingma et al. 2016, sec. C.8)


class Labelled(ModelConfig):
    num_classes: int | None = Field(None, ge=2)  # label values 0..num_classes-1; filled in from the data


class LayerConfig(BaseModel):
    """One stochastic layer of a hierarchical model: its latent size and the MLP widths below it."""

    model_config = ConfigDict(extra="forbid")

    latent: int = Field(ge=1)
    hidden: list[int] = Field(min_length=1)


class WeightPrior(ModelConfig):
    """Weights with a posterior (Blundell et al. 2015, arXiv:1505.05424): the prior p(w) and q(w)'s start."""

    bayes_prior: Literal["scale-mixture", "gaussian"] = "scale-mixture"  # p(w) (eq. 7), or one Gaussian
    prior_pi: float = Field(0.25, gt=0.0, lt=1.0)  # the scale mixture's weight on sigma1
    prior_sigma1: float = Field(1.0, gt=0.0)  # the wide component's sd (-log sigma1 = 0); gaussian: its sd
    prior_sigma2: float = Field(math.exp(-6), gt=0.0)  # the narrow component's sd (-log sigma2 = 6)
    # rho at the start, sigma = softplus(rho) (-5: about 0.0067), or [low, high]: each rho drawn uniformly in it
    posterior_rho: float | tuple[float, float] = -5.0
    local_reparameterization: bool = False  # draw pre-activations, not weights (Kingma et al. 2015)
    dataset_size: int = Field(60000, ge=1)  # N, the examples the complexity cost is shared over (from the data)

    @model_validator(mode="after")
    def _narrow_below_wide(self) -> "WeightPrior":
        if isinstance(self.posterior_rho, tuple) and not self.posterior_rho[0] < self.posterior_rho[1]:
            raise ValueError(f"posterior_rho {list(self.posterior_rho)} is a range [low, high]: make low < high")
        if self.bayes_prior == "scale-mixture" and self.prior_sigma2 >= self.prior_sigma1:
            raise ValueError(f"the scale mixture's prior_sigma2 ({self.prior_sigma2}) is its narrow component: "
                             f"make it smaller than prior_sigma1 ({self.prior_sigma1})")
        return self


class Recurrent(ModelConfig):
    """Recurrent networks: ``hidden`` is the one width of their cells."""

    rnn: Literal["gru", "lstm"] = "gru"

    @model_validator(mode="after")
    def _one_width(self) -> "Recurrent":
        if len(self.hidden) != 1:
            raise ValueError(f"{self.name}'s hidden is the one width of its recurrent cells, e.g. [256]; "
                             f"got {self.hidden}")
        return self


class Tokens(Recurrent):
    """Models of sentences (token ids), with a categorical likelihood over the vocabulary."""

    likelihood: Literal["auto", "categorical"] = "categorical"
    vocab_size: int | None = Field(None, ge=5)  # tokens in the vocabulary; filled in from the data's tokenizer
    embedding_dim: int = Field(256, ge=1)  # width of the token embeddings
