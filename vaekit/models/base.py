"""The model contract every vaekit model keeps, and the verbs it gets for free.

A model is three distributions: ``encode(x)`` -> q(z|x), ``decode(z)`` -> p(x|z), ``prior()`` -> p(z),
plus ``loss(x)`` -> :class:`Loss`, the scalar the Trainer minimizes. Everything else here
(sampling, reconstruction, the bounds, saving) is written once against those.

A model conditioned on labels (``conditional``) keeps the contract through ``model.given(y)``: the three
distributions for data with labels y. Unconditional models return themselves, so code written against
``model.given(y)`` serves both. Models whose loss uses labels (``needs_labels``: conditional and
semi-supervised ones) take them as ``loss(x, kl_weight, y)``.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import torch
from torch import nn
from torch.distributions import Distribution

from vaekit import objectives
from vaekit.config import DataRecord, ModelConfig

if TYPE_CHECKING:
    from vaekit.data import Data


@dataclass
class Loss:
    """The scalar to minimize and named scalar terms for logging."""

    value: torch.Tensor
    terms: dict[str, torch.Tensor] = field(default_factory=dict)


class Distributions(Protocol):
    """The contract's three distributions: what the bounds, estimates and codec are written against."""

    def encode(self, x: torch.Tensor) -> Distribution: ...

    def decode(self, z: torch.Tensor) -> Distribution: ...

    def prior(self) -> Distribution: ...


class LatentVariableModel(nn.Module):
    """Base class: subclasses define ``encode``, ``decode``, ``prior`` and ``loss``."""

    registered_name: ClassVar[str]
    needs_labels: ClassVar[bool] = False  # the loss takes labels: loss(x, kl_weight, y), -1 where unknown
    conditional: ClassVar[bool] = False  # the distributions depend on the label: given(y)
    has_classifier: ClassVar[bool] = False  # semi-supervised models: classify(x) gives q(y|x)
    tractable: ClassVar[bool] = True  # has a bound on log p(x) (the ELBO); adversarial autoencoders do not
    generative: ClassVar[bool] = True  # has the three distributions; classifiers (p(y|x) only) do not
    bayesian: ClassVar[bool] = False  # weights with a posterior; the loss divides their KL by config.dataset_size
    latent: ClassVar[bool] = True  # has latent variables; a language model (rnn-lm) gives its exact log p(x) instead
    config: ModelConfig
    trained_on: DataRecord | None = None  # the data it was fitted to (saved with it; commands use it by default)

    def _configure(self, config: ModelConfig | None, options: dict[str, object]) -> ModelConfig:
        """Set ``self.config`` from a config and/or its fields; the name is this class's (IWAE(...) builds an iwae)."""
        options = {"name": self.registered_name, **options}
        config = ModelConfig(**options) if config is None else config.model_copy(update=options)
        if config.data_shape is None:
            raise ValueError(f"{type(self).__name__} needs data_shape, e.g. (1, 28, 28) for MNIST")
        if self.needs_labels and config.num_classes is None:
            raise ValueError(f"{self.registered_name} needs num_classes, the number of labels (runs take it from "
                             "the data)")
        self.config = ModelConfig.model_validate(config.model_dump())  # re-validate the updated copy
        return self.config

    def encode(self, x: torch.Tensor) -> Distribution:
        raise NotImplementedError

    def decode(self, z: torch.Tensor) -> Distribution:
        raise NotImplementedError

    def prior(self) -> Distribution:
        raise NotImplementedError

    def loss(self, x: torch.Tensor, kl_weight: float | torch.Tensor = 1.0) -> Loss:
        """The scalar to minimize on batch x; ``kl_weight`` is the Trainer's KL warm-up weight.
        Models that ``needs_labels`` take the batch's labels as a third argument."""
        raise NotImplementedError

    def optimizer_groups(self) -> dict[str, list[nn.Parameter]]:
        """The optimizers the Trainer keeps, by name, each over its own parameters: one, which steps on
        ``loss``, unless the model trains in phases (see :meth:`phase_losses`)."""
        return {"model": list(self.parameters())}

    def phase_losses(self, x: torch.Tensor, kl_weight: float | torch.Tensor = 1.0,
                     y: torch.Tensor | None = None) -> Iterator[tuple[str, Loss]]:
        """A model with several optimizers: one training step as (optimizer name, loss) pairs in order; the
        Trainer steps that optimizer on each loss before the next is computed."""
        raise NotImplementedError(f"{self.registered_name} trains with one optimizer, on loss()")

    def diagnose(self, epoch_means: dict[str, float]) -> str | None:
        """After each epoch, given the means of the logged terms: why training has failed, with advice, or None."""
        return None

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities (B, C), for the models that learn a classifier."""
        raise ValueError(f"{self.registered_name} has no classifier; semi-supervised models (m1, m2) do")

    def given(self, y: torch.Tensor | None) -> Distributions:
        """The distributions for data with labels ``y`` (B,); an unconditional model ignores labels."""
        return self

    # --- verbs written once against the contract -------------------------------------------
    @property
    def data_shape(self) -> tuple[int, ...]:
        assert self.config.data_shape is not None
        return tuple(self.config.data_shape)

    @property
    def latent_size(self) -> int:
        """Length of the latent vector z."""
        return sum(layer.latent for layer in self.config.layers) or self.config.latent_dim

    def check_input(self, x: torch.Tensor) -> torch.Tensor:
        """Validate a batch (B, *data_shape) of finite values; a single datum gains a batch axis."""
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"expected a torch.Tensor, got {type(x).__name__}")
        if tuple(x.shape) == self.data_shape:
            x = x.unsqueeze(0)
        if tuple(x.shape[1:]) != self.data_shape:
            raise ValueError(f"expected inputs of shape (B, {', '.join(map(str, self.data_shape))}), "
                             f"got {tuple(x.shape)}")
        if not torch.isfinite(x).all():
            raise ValueError("inputs contain NaN or infinite values")
        return x.float()

    def elbo(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """ELBO per example [B] in nats (of log p(x|y) for a conditional model given labels ``y``)."""
        return objectives.elbo(self.given(y), self.check_input(x))

    def log_likelihood(self, x: torch.Tensor, k: int = 5000, y: torch.Tensor | None = None) -> torch.Tensor:
        """Importance-weighted estimate of log p(x) (or log p(x|y)) per example [B] in nats (Burda et al. 2015)."""
        return objectives.log_likelihood(self.given(y), self.check_input(x), k)

    @torch.no_grad()
    def sample(self, n: int, seed: int | None = None, mean: bool = True,
               y: torch.Tensor | int | None = None) -> torch.Tensor:
        """n draws z ~ p(z), decoded to the mean of p(x|z) (or a draw from it with ``mean=False``);
        a conditional model takes the class ``y``: one for all, or one per sample."""
        if n < 1:
            raise ValueError(f"n must be a positive number of samples, got {n}")
        given = self.given(None if y is None else torch.as_tensor(y).expand(n))
        with torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(seed)
            px = given.decode(given.prior().sample((n,)))
            return px.mean if mean else px.sample()

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The mean of p(x|z) at the posterior mean z = E[q(z|x)] (labels ``y`` for a conditional model)."""
        given = self.given(y)
        return given.decode(given.encode(self.check_input(x)).mean).mean

    def fit(self, data: "Data | str", **train_options: Any) -> "LatentVariableModel":
        """Train on ``data`` (a loaded Data or a data set name) with TrainConfig options; returns self."""
        from vaekit.train import fit  # the training layer sits above models; imported only when asked

        fit(self, data, **train_options)
        return self

    def save(self, directory: str | Path) -> Path:
        """Write ``config.json`` + ``model.safetensors`` into ``directory``."""
        from vaekit.saving import save_model

        return save_model(self, directory)
