"""The base classes of vaekit's models, and the verbs a latent-variable model gets for free.

:class:`Model` is what every model shares: a config, the data it was trained on, input checks, and the training
step of the contract (:class:`vaekit.contract.Trainable`), by default one optimizer stepping on ``loss(batch)``.
:class:`LatentVariableModel` adds the three distributions, ``encode(x)`` -> q(z|x), ``decode(z)`` -> p(x|z) and
``prior()`` -> p(z), and writes once against them sampling, reconstruction, the ELBO and the importance-weighted
estimate of log p(x) (:class:`vaekit.contract.Density`; a model without a bound sets those to None).

A model conditioned on labels keeps the contract through its ``given(y)``: the three distributions for data with
labels y (:class:`vaekit.contract.Conditional`); :func:`vaekit.contract.given` serves models of both kinds.
"""
from __future__ import annotations

import itertools
from typing import Any, ClassVar

import torch
from torch import nn
from torch.distributions import Distribution

from vaekit import objectives
from vaekit.config import DataRecord, ModelConfig
from vaekit.contract import VERBS, Batch, Classifies, Loss, MissingCapability, given

__all__ = ["Batch", "LatentVariableModel", "Loss", "Model", "as_batch"]


def as_batch(batch: Batch | torch.Tensor) -> Batch:
    """A Batch; a bare tensor is the batch of its examples, unlabelled, outside warm-up."""
    return batch if isinstance(batch, Batch) else Batch(batch)


class Model(nn.Module):
    """What every vaekit model shares. Subclasses define ``loss`` (or ``steps``) and ``scores``."""

    registered_name: ClassVar[str]
    Config: ClassVar[type[ModelConfig]]  # the config class it is registered with (vaekit.models.register)
    # the config fields a run fills in from the data (vaekit.run.model_config_for)
    data_fills: ClassVar[tuple[str, ...]] = ("data_shape",)
    config: ModelConfig
    trained_on: DataRecord | None = None  # the data it was fitted to (saved with it; commands use it by default)
    own_networks: list[str] = []  # the networks the user built it with (vaekit.load takes them back)

    def _configure(self, config: ModelConfig | None, options: dict[str, object]) -> ModelConfig:
        """Set ``self.config`` from a config and/or its fields, validated by this class's config (IWAE(...) builds
        an iwae)."""
        tree = {} if config is None else config.model_dump(exclude_unset=True)
        config = self.Config.model_validate({**tree, **options, "name": self.registered_name})
        if config.data_shape is None:
            raise ValueError(f"{type(self).__name__} needs data_shape, e.g. (1, 28, 28) for MNIST")
        for key, what in (("num_classes", "the number of labels"), ("vocab_size", "the tokens of its vocabulary")):
            if key in self.data_fills and getattr(config, key, None) is None:
                raise ValueError(f"{self.registered_name} needs {key}, {what} (runs take it from the data)")
        self.config = config
        return config

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name not in VERBS:
                raise
        raise MissingCapability(f"{self.registered_name} cannot {name}: it has no {VERBS[name]}") from None

    @property
    def data_shape(self) -> tuple[int, ...]:
        assert self.config.data_shape is not None
        return tuple(self.config.data_shape)

    @property
    def device(self) -> torch.device:
        """Where the model's weights (and so every tensor it makes) live."""
        first = next(itertools.chain(self.parameters(), self.buffers()), None)  # not every tensor: a hot path
        return torch.device("cpu") if first is None else first.device

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
        return x.to(self.device, torch.float32)

    def check_labels(self, y: torch.Tensor | None) -> None:
        """Refuse labels that this model cannot learn from: none at all, or values that check_label_values refuses."""
        if y is None:
            raise ValueError(f"{self.registered_name} learns from labelled data: give labels y, with -1 where unknown "
                             "(image folders get labels from class sub-folders, arrays from an .npz 'y')")
        if not torch.compiler.is_compiling():  # the Trainer checked the data's labels before; .item() breaks a graph
            self.check_label_values(y)

    def check_label_values(self, y: torch.Tensor) -> None:
        """Refuse labels outside 0..num_classes-1 (-1: unknown)."""
        classes = getattr(self, "num_classes", None)
        if classes is not None and len(y) and (int(y.max()) >= classes or int(y.min()) < -1):
            raise ValueError(f"{self.registered_name} has {classes} classes, but the labels run from {int(y.min())} "
                             f"to {int(y.max())}")

    # --- the training contract (vaekit.contract.Trainable) ---------------------------------
    def loss(self, batch: Batch | torch.Tensor) -> Loss:
        """The scalar to minimize on a batch (or a bare tensor x)."""
        raise NotImplementedError

    def steps(self, batch: Batch) -> Any:
        """One training step: the one optimizer on ``loss(batch)``."""
        yield "model", self.loss(batch)

    def optimizer_groups(self) -> dict[str, list[nn.Parameter]]:
        """The optimizers the Trainer keeps, by name, each over its own parameters."""
        return {"model": list(self.parameters())}

    def scores(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Validation figures per example; the first (higher is better) picks the best epoch."""
        raise NotImplementedError

    def diagnose(self, epoch_means: dict[str, float]) -> str | None:
        """After each epoch, given the means of the logged terms: why training has failed, with advice, or None."""
        return None


class LatentVariableModel(Model):
    """Base class of models with latent variables: subclasses define ``encode``, ``decode``, ``prior`` and ``loss``."""

    data_fills = ("data_shape", "likelihood", "levels", "audio")

    def encode(self, x: torch.Tensor) -> Distribution:
        raise NotImplementedError

    def decode(self, z: torch.Tensor) -> Distribution:
        raise NotImplementedError

    def prior(self) -> Distribution:
        raise NotImplementedError

    @property
    def latent_size(self) -> int:
        """Length of the latent vector z."""
        return self.config.latent_dim

    def scores(self, batch: Batch) -> dict[str, torch.Tensor]:
        """The ELBO and its terms per example (of log p(x|y) for a conditional model); for a model that classifies,
        given labels, its 0/1 mistakes too (``classification_error``: a semi-supervised run's learning curve)."""
        t = objectives.elbo_terms(given(self, batch.y), batch.x)
        scores = {"elbo": t.elbo, "reconstruction": t.reconstruction, "kl": t.kl}
        if batch.y is not None and isinstance(self, Classifies):
            known = batch.y >= 0  # a partly labelled file: the error is over the labels it knows
            scores["classification_error"] = (self.classify(batch.x[known]).argmax(1) != batch.y[known]).float()
        return scores

    # --- verbs written once against the contract -------------------------------------------
    def elbo(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """ELBO per example [B] in nats (of log p(x|y) for a conditional model given labels ``y``)."""
        return objectives.elbo(given(self, y), self.check_input(x))

    def log_likelihood(self, x: torch.Tensor, k: int = 5000, y: torch.Tensor | None = None) -> torch.Tensor:
        """Importance-weighted estimate of log p(x) (or log p(x|y)) per example [B] in nats (Burda et al. 2015)."""
        return objectives.log_likelihood(given(self, y), self.check_input(x), k)

    @torch.no_grad()
    def sample(self, n: int, seed: int | None = None, mean: bool = True,
               y: torch.Tensor | int | None = None) -> torch.Tensor:
        """n draws z ~ p(z), decoded to the mean of p(x|z) (or a draw from it with ``mean=False``);
        a conditional model takes the class ``y``: one for all, or one per sample."""
        if n < 1:
            raise ValueError(f"n must be a positive number of samples, got {n}")
        device = self.device
        dists = given(self, None if y is None else torch.as_tensor(y, device=device).expand(n))
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            if seed is not None:
                torch.manual_seed(seed)
            px = dists.decode(dists.prior().sample((n,)))
            return px.mean if mean else px.sample()

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The mean of p(x|z) at the posterior mean z = E[q(z|x)] (labels ``y`` for a conditional model)."""
        dists = given(self, y)
        return dists.decode(dists.encode(self.check_input(x)).mean).mean
