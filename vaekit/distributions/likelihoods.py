"""Decoder likelihoods p(x|z): parameters from a network in, a torch Distribution out.

A decoder network emits ``params`` of shape (*batch, P, *data_shape), P parameters per data element;
each likelihood turns them into a Distribution of batch shape ``batch`` whose event is one whole datum.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Bernoulli, Distribution, Independent, Normal

from vaekit.distributions.discretized_logistic import DiscretizedLogisticMixture

_MIN_SCALE = 1e-3


class Likelihood(nn.Module):
    """Base class: ``params_per_element`` parameters per datum element; ``forward(params)`` gives p(x|z)."""

    params_per_element: int = 1
    data_kinds: tuple[str, ...] = ()  # the data kinds (binary, 8bit, continuous) it is a true likelihood for

    def __init__(self, data_shape: tuple[int, ...]) -> None:
        super().__init__()
        self.data_shape = tuple(data_shape)

    def forward(self, params: torch.Tensor) -> Distribution:  # pragma: no cover - abstract
        raise NotImplementedError

    def whole_datum(self, per_element: Distribution) -> Distribution:
        """Reinterpret the data dimensions as the event: one log-probability per datum."""
        return Independent(per_element, len(self.data_shape), validate_args=False)

    def split(self, params: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The P parameter tensors, each (*batch, *data_shape)."""
        return params.unbind(dim=params.dim() - len(self.data_shape) - 1)


class LogitBernoulli(Bernoulli):
    """torch's Bernoulli, with log p(x) = x * logits - softplus(logits): the same value as its
    binary cross-entropy, in two fused kernels instead of several (the hot path of log p(x) with k=5000)."""

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        return value * self.logits - F.softplus(self.logits)


class BernoulliLikelihood(Likelihood):
    """Independent Bernoulli pixels with logits (Kingma & Welling 2013, appendix C.1)."""

    data_kinds = ("binary",)

    def forward(self, params: torch.Tensor) -> Distribution:
        (logits,) = self.split(params)
        return self.whole_datum(LogitBernoulli(logits=logits, validate_args=False))


class GaussianLikelihood(Likelihood):
    """Independent Gaussians: the decoder gives the mean, one learned scale per element (appendix C.2)."""

    data_kinds = ("continuous", "8bit", "binary")

    def __init__(self, data_shape: tuple[int, ...]) -> None:
        super().__init__(data_shape)
        self.raw_scale = nn.Parameter(torch.zeros(self.data_shape))

    def forward(self, params: torch.Tensor) -> Distribution:
        scale = F.softplus(self.raw_scale) + _MIN_SCALE
        (loc,) = self.split(params)
        return self.whole_datum(Normal(loc, scale, validate_args=False))


class LogisticMixtureLikelihood(Likelihood):
    """The discretized logistic mixture for 8-bit values (Salimans et al. 2017), on ``levels`` grey levels."""

    data_kinds = ("8bit", "binary")

    def __init__(self, data_shape: tuple[int, ...], components: int, levels: int = 256) -> None:
        super().__init__(data_shape)
        self.components, self.levels = components, levels
        self.params_per_element = 3 * components

    def forward(self, params: torch.Tensor) -> Distribution:
        batch = params.shape[: params.dim() - len(self.data_shape) - 1]
        p = params.reshape(*batch, 3, self.components, *self.data_shape)
        p = p.movedim(len(batch) + 1, -1)  # (*batch, 3, *shape, K)
        logits, loc, log_scale = p.unbind(len(batch))
        dist = DiscretizedLogisticMixture(logits, loc + 0.5, log_scale, validate_args=False, bins=self.levels - 1)
        return self.whole_datum(dist)


AUTO = {"binary": "bernoulli", "8bit": "logistic-mixture", "continuous": "gaussian", "tokens": "categorical"}
"""``likelihood: auto``: the true likelihood for each data kind."""


def check_likelihood(likelihood: str, kind: str, name: str) -> None:
    """Refuse a likelihood that is not a true likelihood for data of ``kind`` (log p(x) and bits/dim would mean
    nothing), naming the one that fits."""
    if (likelihood == "categorical") != (kind == "tokens"):
        raise ValueError(f"text needs a text model (sentence-vae, rnn-lm) with the categorical likelihood; '{name}' "
                         "is " + ("text" if kind == "tokens" else f"{kind} data, not text"))
    if likelihood == "categorical":
        return
    if kind not in make_likelihood(likelihood, (1,)).data_kinds:
        raise ValueError(f"model.likelihood '{likelihood}' does not fit {kind} data '{name}': its log p(x) would "
                         f"mean nothing; use likelihood={AUTO[kind]} (or auto)")


def make_likelihood(name: str, data_shape: tuple[int, ...], components: int = 5, levels: int = 256) -> Likelihood:
    """The likelihood named in a model config (``levels``: the grey levels of the logistic mixture's data)."""
    if name == "bernoulli":
        return BernoulliLikelihood(data_shape)
    if name == "gaussian":
        return GaussianLikelihood(data_shape)
    if name == "logistic-mixture":
        return LogisticMixtureLikelihood(data_shape, components, levels)
    if name == "auto":
        raise ValueError("likelihood 'auto' is chosen from the data when a run builds the model; building one "
                         "yourself, name it: bernoulli (binary data), logistic-mixture (8-bit) or gaussian "
                         "(continuous)")
    raise ValueError(f"unknown likelihood '{name}'; choose bernoulli, logistic-mixture or gaussian")
