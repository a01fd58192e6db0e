"""The Parzen-window log-likelihood of a model known by its samples, as the GAN and adversarial-autoencoder papers
measure it (Goodfellow et al. 2014, sec. 5; Makhzani et al. 2015, sec. 3, Table 1): an equal mixture of isotropic
Gaussians of width sigma centred on n model samples (10,000 in the papers), sigma chosen by grid search to maximize
the mean log-density of validation data, then the mean log-density of the test data and its standard error.

The estimate depends strongly on sigma and on n and is far from log p(x) in high dimensions (Theis et al. 2016);
it is given to compare with the papers, not as a likelihood.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from vaekit.contract import Conditional

if TYPE_CHECKING:
    from vaekit.models import LatentVariableModel

SIGMAS = torch.logspace(-1.3, 0, 14)  # 0.05 .. 1: the grid searched for sigma


@dataclass
class ParzenReport:
    sigma: float            # the width chosen on the validation data
    log_likelihood: float   # mean log-density of the test data, nats per datum
    standard_error: float   # of that mean over the test data
    samples: int
    validation_log_likelihood: float


@torch.no_grad()
def parzen_log_density(centres: torch.Tensor, x: torch.Tensor, sigma: float | torch.Tensor,
                       batch_size: int = 500) -> torch.Tensor:
    """log (1/n) sum_i N(x; centre_i, sigma^2 I) per row of x: [B] for one sigma, [S, B] for S of them (the
    distances are computed once); centres (n, D), x (B, D)."""
    n, dims = centres.shape
    sigmas = torch.as_tensor(sigma, dtype=centres.dtype).reshape(-1, 1, 1)  # (S, 1, 1)
    c_sq = centres.pow(2).sum(1)
    out = []
    for part in x.split(batch_size):
        sq = (part.pow(2).sum(1, keepdim=True) - 2 * part @ centres.T + c_sq).clamp(min=0)  # (b, n) distances²
        out.append(torch.logsumexp(-sq / (2 * sigmas**2), dim=2))  # (S, b)
    log_density = torch.cat(out, dim=1) - math.log(n) - 0.5 * dims * torch.log(2 * math.pi * sigmas[:, 0]**2)
    return log_density[0] if torch.as_tensor(sigma).dim() == 0 else log_density


def parzen_estimate(centres: torch.Tensor, valid: torch.Tensor, test: torch.Tensor,
                    sigmas: torch.Tensor = SIGMAS) -> ParzenReport:
    """Choose sigma on ``valid``, then score ``test``; all (N, D) or image batches (flattened here)."""
    centres, valid, test = centres.flatten(1).double(), valid.flatten(1).double(), test.flatten(1).double()
    if len(valid) == 0 or len(test) == 0:
        raise ValueError("the Parzen estimate needs validation data (to choose sigma) and test data")
    scores = parzen_log_density(centres, valid, sigmas).mean(1)  # (S,)
    best = int(scores.argmax())
    sigma = float(sigmas[best])
    test_ll = parzen_log_density(centres, test, sigma)
    return ParzenReport(sigma=sigma, log_likelihood=test_ll.mean().item(),
                        standard_error=(test_ll.std() / math.sqrt(len(test_ll))).item() if len(test_ll) > 1 else 0.0,
                        samples=len(centres), validation_log_likelihood=scores[best].item())


@torch.no_grad()
def parzen_of_model(model: "LatentVariableModel", valid: torch.Tensor, test: torch.Tensor, seed: int = 0,
                    samples: int = 10_000) -> ParzenReport:
    """:func:`parzen_estimate` on ``samples`` decoded prior draws of ``model`` (in seeded chunks of 1,000; a
    conditional model's spread evenly over its classes)."""
    chunk = min(samples, 1000)
    classes = torch.arange(chunk) % model.num_classes if isinstance(model, Conditional) else None
    drawn = torch.cat([model.sample(chunk, seed=seed + i, y=classes).cpu()
                       for i in range(math.ceil(samples / chunk))])
    return parzen_estimate(drawn[:samples], valid, test)
