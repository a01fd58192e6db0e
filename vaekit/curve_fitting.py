"""Regression with weight uncertainty: the curve-fitting example of Blundell et al. 2015 (sec. 5.2, fig. 5).

Training points come from y = x + 0.3 sin(2 pi (x + e)) + 0.3 sin(4 pi (x + e)) + e, e ~ N(0, noise^2), with x
in [0, 0.5]. An MLP with Bayes-by-Backprop weights learns p(y|x, w) = N(f_w(x), noise^2) by minimizing the
negative ELBO over weights, -sum log p(y|x, w) + KL(q(w) || p(w)), w ~ q(w). Away from the data the weight
draws disagree, so the predictive band (the paper plots the median and the interquartile range) widens, where
a network with point weights is as sure as anywhere. ``vaekit.plots.regression_band`` draws it.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.distributions import Normal

from vaekit.config import model_config
from vaekit.devices import seeded
from vaekit.nn import mlp
from vaekit.nn.bayes import complexity_cost, to_bayesian
from vaekit.progress import progress as progress_bar


def paper_curve(n: int = 100, noise: float = 0.02, seed: int = 0,
                low: float = 0.0, high: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    """n points (x, y), each (n, 1), of the paper's curve with x uniform in [low, high]."""
    generator = torch.Generator().manual_seed(seed)
    x = low + (high - low) * torch.rand(n, 1, generator=generator)
    e = noise * torch.randn(n, 1, generator=generator)
    return x, x + 0.3 * torch.sin(2 * math.pi * (x + e)) + 0.3 * torch.sin(4 * math.pi * (x + e)) + e


def fit_curve(x: torch.Tensor, y: torch.Tensor, hidden: list[int] | None = None, noise: float = 0.02,
              steps: int = 3000, lr: float = 1e-2, seed: int = 0, progress: bool = False,
              **prior: object) -> nn.Module:
    """Train a Bayes-by-Backprop MLP (widths ``hidden``, ReLU; ``prior``: the fields of
    vaekit.model_fields.WeightPrior, a Gaussian N(0, 1) by default) on all of (x, y) at each step with Adam;
    returns the network. The caller's random state is left as it was."""
    if x.shape != y.shape or x.dim() != 2 or x.shape[1] != 1 or len(x) == 0:
        raise ValueError(f"x and y are (n, 1) tensors of the same shape, got {tuple(x.shape)} and {tuple(y.shape)}")
    with seeded(seed):
        return _fit(x, y, hidden, noise, steps, lr, progress, prior)


def _fit(x: torch.Tensor, y: torch.Tensor, hidden: list[int] | None, noise: float, steps: int, lr: float,
         progress: bool, prior: dict[str, object]) -> nn.Module:
    config = model_config({"name": "bnn", "bayes_prior": "gaussian", "posterior_rho": -3.0, **prior})
    net = to_bayesian(mlp(1, hidden or [100, 100], 1), config)
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    with progress_bar(steps, "fitting", "step", progress) as bar:
        for _ in range(steps):
            fit = -Normal(net(x), noise).log_prob(y).sum()
            loss = fit + complexity_cost(net)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            bar.update(1)
    return net


@torch.no_grad()
def predictive_draws(net: nn.Module, grid: torch.Tensor, draws: int = 200) -> torch.Tensor:
    """f_w(grid) under ``draws`` weight draws: (draws, len(grid))."""
    return torch.stack([net(grid.view(-1, 1)).view(-1) for _ in range(draws)])
