"""Bayes by Backprop layers: Blundell, Cornebise, Kavukcuoglu & Wierstra 2015, "Weight uncertainty in neural
networks" (arXiv:1505.05424).

Every weight has a Gaussian variational posterior N(mu, sigma^2) with sigma = softplus(rho) (sec. 3.2), and a
prior: the scale mixture pi N(0, sigma1^2) + (1 - pi) N(0, sigma2^2) (eq. 7) or one Gaussian. A forward pass
draws the weights by the reparameterization trick and keeps the complexity cost KL(q(w) || p(w)) of that draw
in ``layer.kl``: log q(w) - log p(w) at the drawn w, a one-sample Monte Carlo estimate (eq. 2), or, for a
Gaussian prior, the closed form. With ``local_reparameterization`` the layer draws its pre-activations instead
of its weights (Kingma, Salimans & Welling 2015): their mean is the input times mu, their variance the squared
input times sigma^2; the Monte Carlo cost then uses a separate draw of the weights.
``mean_weights(model)`` switches a network to its posterior means (no sampling) within a ``with`` block.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
import torch._functorch.config as functorch_config
import torch.nn.functional as F
from torch import nn
from torch.distributions import Distribution, Normal, constraints, kl_divergence

from vaekit.config import ModelConfig
from vaekit.devices import compiled, floored_exp

HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


class ScaleMixture(Distribution):
    """pi N(0, sigma1^2) + (1 - pi) N(0, sigma2^2) for each weight (eq. 7). Its log-density is the larger
    component's plus log1p(exp(-gap)), elementwise: torch's MixtureSameFamily gives the same values at about four
    times the cost on a network's worth of weights. The gap reaches 10^5 nats with sigma2 = e^-8, so its exp is
    floored (:func:`vaekit.devices.floored_exp`): torch.logaddexp's was most of a step's time."""

    arg_constraints: dict = {}
    support = constraints.real

    def __init__(self, pi: float, sigma1: float, sigma2: float) -> None:
        super().__init__(validate_args=False)
        self.pi, self.sigma1, self.sigma2 = pi, sigma1, sigma2
        # log pi_j N(w; 0, sigma_j^2) = offset_j - w^2 * precision_j, j = wide, narrow
        self.constants = (math.log(pi) - math.log(sigma1) - HALF_LOG_2PI, 1 / (2 * sigma1 ** 2),
                          math.log(1 - pi) - math.log(sigma2) - HALF_LOG_2PI, 1 / (2 * sigma2 ** 2))

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        return _mixture_log_prob(value, *self.constants)

    def sample(self, sample_shape: torch.Size = torch.Size()) -> torch.Tensor:  # type: ignore[override]
        wide = torch.rand(sample_shape) < self.pi
        return torch.randn(sample_shape) * torch.where(wide, self.sigma1, self.sigma2)


def _mixture_log_prob(value: torch.Tensor, wide_offset: float, wide_precision: float, narrow_offset: float,
                      narrow_precision: float) -> torch.Tensor:
    square = value * value
    wide, narrow = wide_offset - square * wide_precision, narrow_offset - square * narrow_precision
    return torch.maximum(wide, narrow) + torch.log1p(floored_exp(-(wide - narrow).abs()))


def _drawn_with_cost(mu: torch.Tensor, rho: torch.Tensor, eps: torch.Tensor,
                     log_prior: Callable[[torch.Tensor], torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """w = mu + softplus(rho) * eps (sec. 3.2) and log q(w) - log p(w) summed over w (eq. 2, one sample), log q
    read off eps: -log sigma - eps^2 / 2 - log(2 pi) / 2."""
    sigma = F.softplus(rho)
    w = mu + sigma * eps
    log_q = -(sigma.log() + eps * eps / 2).sum() - HALF_LOG_2PI * mu.numel()
    return w, log_q - log_prior(w).sum()


def _mixture_drawn_with_cost(mu: torch.Tensor, rho: torch.Tensor, eps: torch.Tensor,
                             *mixture: float) -> tuple[torch.Tensor, torch.Tensor]:
    return _drawn_with_cost(mu, rho, eps, lambda w: _mixture_log_prob(w, *mixture))


# A training draw in one fused pass over a layer's weights: eager, its dozen elementwise operations and their
# gradients took 3/4 of a 2 x 400 network's step on a CPU; fused, the step takes 0.44 of the time (benchmarks/notes.md).
# Compiling the whole loss instead is slower: the noise is then drawn inside the graph. Flat tensors, so one graph
# serves every shape. Without gradients (predictions) the draw stays eager: compiling would cost more than it saves.
_compiled_mixture_drawn_with_cost = compiled(_mixture_drawn_with_cost, dynamic=True)


def _fused_mixture_drawn_with_cost(*args: torch.Tensor | float) -> tuple[torch.Tensor, torch.Tensor]:
    # a caller may backward(retain_graph=True), which a compiled backward that reuses (donates) its saved buffers
    # refuses; the backward compiles lazily, after any scoped patch, so donation is off for the process from here on
    functorch_config.donated_buffer = False
    return _compiled_mixture_drawn_with_cost(*args)


def weight_prior(config: ModelConfig) -> Distribution:
    """p(w) for one weight: the scale mixture of eq. 7, or N(0, prior_sigma1^2) (``bayes_prior: gaussian``)."""
    if config.bayes_prior == "gaussian":
        return Normal(0.0, config.prior_sigma1)
    return ScaleMixture(config.prior_pi, config.prior_sigma1, config.prior_sigma2)


def _start_rho(like: torch.Tensor, rho: float | tuple[float, float]) -> torch.Tensor:
    if isinstance(rho, tuple):
        return torch.empty_like(like).uniform_(*rho)
    return torch.full_like(like, rho)


class BayesianLayer(nn.Module):
    """The posterior over a weight tensor and a bias, the prior, and the cost of the last draw (``kl``). The means
    start at a deterministic layer's initial values, the rho at ``posterior_rho`` (one value, or each drawn
    uniformly in a range)."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor, config: ModelConfig) -> None:
        super().__init__()
        self.weight_mu = nn.Parameter(weight.detach().clone())
        self.bias_mu = nn.Parameter(bias.detach().clone())
        self.weight_rho = nn.Parameter(_start_rho(self.weight_mu, config.posterior_rho))
        self.bias_rho = nn.Parameter(_start_rho(self.bias_mu, config.posterior_rho))
        self.prior = weight_prior(config)
        self.local = config.local_reparameterization
        self.sampling = True
        self.kl = torch.zeros(())

    def posteriors(self) -> tuple[Normal, Normal]:
        """q(w) and q(b): independent Gaussians, sigma = softplus(rho)."""
        return (Normal(self.weight_mu, F.softplus(self.weight_rho), validate_args=False),
                Normal(self.bias_mu, F.softplus(self.bias_rho), validate_args=False))

    def complexity(self) -> torch.Tensor:
        """KL(q || p) over this layer's weights: closed form for a Gaussian prior, else the Monte Carlo cost of a
        fresh draw (:meth:`draw`)."""
        if isinstance(self.prior, Normal):
            return torch.stack([kl_divergence(q, self.prior).sum() for q in self.posteriors()]).sum()
        return self.draw()[2]

    def draw(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The weight and bias drawn by w = mu + sigma * eps (sec. 3.2), and log q(w) - log p(w) at the draw
        (eq. 2 with one sample)."""
        drawn, cost = [], torch.zeros((), device=self.weight_mu.device)
        for mu, rho in ((self.weight_mu, self.weight_rho), (self.bias_mu, self.bias_rho)):
            eps = torch.randn_like(mu)
            if isinstance(self.prior, ScaleMixture) and torch.is_grad_enabled():  # training: fused
                w, term = _fused_mixture_drawn_with_cost(mu.reshape(-1), rho.reshape(-1), eps.reshape(-1),
                                                         *self.prior.constants)
                w = w.view_as(mu)
            else:
                w, term = _drawn_with_cost(mu, rho, eps, self.prior.log_prob)
            drawn.append(w)
            cost = cost + term
        return drawn[0], drawn[1], cost

    def operation(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.sampling:
            return self.operation(x, self.weight_mu, self.bias_mu)
        if self.local:
            weight_q, bias_q = self.posteriors()
            mean = self.operation(x, self.weight_mu, self.bias_mu)
            variance = self.operation(x * x, weight_q.variance, bias_q.variance)
            self.kl = self.complexity()
            return mean + variance.clamp(min=1e-16).sqrt() * torch.randn_like(mean)
        weight, bias, cost = self.draw()
        self.kl = self.complexity() if isinstance(self.prior, Normal) else cost
        return self.operation(x, weight, bias)


class BayesianLinear(BayesianLayer):
    """``nn.Linear`` with Bayes-by-Backprop weights."""

    def __init__(self, in_features: int, out_features: int, config: ModelConfig) -> None:
        like = nn.Linear(in_features, out_features)
        super().__init__(like.weight, like.bias, config)

    def operation(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        return F.linear(x, weight, bias)


class BayesianConv2d(BayesianLayer):
    """``nn.Conv2d``, or ``nn.ConvTranspose2d`` if ``transposed`` (square kernels, no groups, dilation or output
    padding), with Bayes-by-Backprop kernels."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, config: ModelConfig,
                 stride: int = 1, padding: int = 0, transposed: bool = False) -> None:
        kind = nn.ConvTranspose2d if transposed else nn.Conv2d
        like = kind(in_channels, out_channels, kernel_size, stride=stride, padding=padding)
        super().__init__(like.weight, like.bias, config)  # type: ignore[arg-type]
        self.stride, self.padding = stride, padding
        self.convolve = F.conv_transpose2d if transposed else F.conv2d

    def operation(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        return self.convolve(x, weight, bias, stride=self.stride, padding=self.padding)


def to_bayesian(module: nn.Module, config: ModelConfig) -> nn.Module:
    """Replace every linear, convolutional and transposed-convolutional layer in ``module`` (in place) by its
    Bayesian counterpart, so any vaekit network becomes a Bayes-by-Backprop one; returns ``module``."""
    for name, child in module.named_children():
        if isinstance(child, (nn.Conv2d, nn.ConvTranspose2d)):
            kernel, stride = child.kernel_size[0], child.stride[0]
            padding = child.padding if isinstance(child.padding, tuple) else (-1, -1)  # "same" is not supported
            plain = child.groups == 1 and child.dilation == (1, 1) and child.kernel_size == (kernel, kernel) \
                and child.stride == (stride, stride) and padding[0] == padding[1] >= 0 \
                and child.bias is not None and getattr(child, "output_padding", (0, 0)) == (0, 0)
            if not plain:
                raise ValueError(f"{name}: only square, ungrouped, undilated convolutions with a bias have a "
                                 f"Bayesian form here, got {child}")
            setattr(module, name, BayesianConv2d(child.in_channels, child.out_channels, kernel, config, stride,
                                                 padding[0], transposed=isinstance(child, nn.ConvTranspose2d)))
        elif isinstance(child, nn.Linear):
            if child.bias is None:
                raise ValueError(f"{name}: a linear layer without a bias has no Bayesian form here")
            setattr(module, name, BayesianLinear(child.in_features, child.out_features, config))
        else:
            to_bayesian(child, config)
    return module


def bayesian_layers(module: nn.Module) -> Iterator[BayesianLayer]:
    return (m for m in module.modules() if isinstance(m, BayesianLayer))


def complexity_cost(module: nn.Module) -> torch.Tensor:
    """The summed KL of every Bayesian layer's last draw in ``module``."""
    return sum((layer.kl for layer in bayesian_layers(module)), torch.zeros(()))


@contextmanager
def mean_weights(module: nn.Module) -> Iterator[None]:
    """Within the block, Bayesian layers use their posterior means instead of drawing weights."""
    layers = list(bayesian_layers(module))
    for layer in layers:
        layer.sampling = False
    try:
        yield
    finally:
        for layer in layers:
            layer.sampling = True


def minibatch_weights(batches: int, scheme: str = "uniform") -> torch.Tensor:
    """pi_i, the complexity cost's share on minibatch i of an epoch of M (sec. 3.4): 1/M each, or
    2^(M-i) / (2^M - 1) (``blundell``), which front-loads the prior. Both sum to 1."""
    if scheme == "uniform":
        return torch.full((batches,), 1.0 / batches, dtype=torch.float64)
    i = torch.arange(1, batches + 1, dtype=torch.float64)
    return torch.exp2(-i) / (1 - math.pow(2.0, -batches))  # 2^(M-i) / (2^M - 1), without overflow
