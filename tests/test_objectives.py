"""The bounds against an exact answer: a linear-Gaussian model whose log p(x) is known in closed form."""
from __future__ import annotations

import math

import torch
from torch.distributions import Independent, MultivariateNormal, Normal

from vaekit import objectives
from vaekit.models import LatentVariableModel


class LinearGaussian(LatentVariableModel):
    """p(z) = N(0, I), p(x|z) = N(Wz + b, s^2 I); q(z|x) an imperfect Gaussian. log p(x) = N(x; b, WW^T + s^2 I)."""

    def __init__(self, exact_posterior: bool = False) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.W = torch.randn(5, 2, generator=g)
        self.b = torch.randn(5, generator=g)
        self.s = 0.7
        self.exact_posterior = exact_posterior

    def prior(self):
        return Independent(Normal(torch.zeros(2), torch.ones(2)), 1)

    def decode(self, z):
        return Independent(Normal(z @ self.W.T + self.b, self.s), 1)

    def posterior(self, x):
        precision = torch.eye(2) + self.W.T @ self.W / self.s**2
        cov = torch.linalg.inv(precision)
        mean = (x - self.b) @ self.W @ cov.T / self.s**2
        return mean, cov

    def encode(self, x):
        mean, cov = self.posterior(x)
        if self.exact_posterior:
            return MultivariateNormal(mean, cov.expand(len(x), 2, 2))
        return Independent(Normal(mean + 0.3, cov.diagonal().sqrt() * 1.5), 1)  # deliberately off

    def exact_log_px(self, x):
        return MultivariateNormal(self.b, self.W @ self.W.T + self.s**2 * torch.eye(5)).log_prob(x)


def _data(n: int = 16) -> torch.Tensor:
    return torch.randn(n, 5, generator=torch.Generator().manual_seed(1)) * 2


def test_elbo_is_below_log_px_and_exact_with_the_true_posterior() -> None:
    torch.manual_seed(0)
    model, x = LinearGaussian(), _data()
    exact = model.exact_log_px(x)
    elbo = torch.stack([objectives.elbo(model, x) for _ in range(2000)]).mean(0)
    assert (elbo < exact - 0.05).all()
    exact_model = LinearGaussian(exact_posterior=True)
    elbo_exact = torch.stack([objectives.elbo(exact_model, x) for _ in range(50)]).mean(0)
    torch.testing.assert_close(elbo_exact, exact, atol=1e-3, rtol=0)


def test_importance_weighted_estimate_converges_to_log_px() -> None:
    torch.manual_seed(0)
    model, x = LinearGaussian(), _data()
    exact = model.exact_log_px(x)
    errors = {k: (objectives.log_likelihood(model, x, k) - exact).abs().mean().item() for k in (1, 50, 5000)}
    assert errors[5000] < errors[50] < errors[1]
    assert errors[5000] < 0.02
    # chunking does not change the estimate's target: a small decode budget gives the same answer
    small = objectives.log_likelihood(model, x, 5000, max_decodes=100)
    torch.testing.assert_close(small, exact, atol=0.05, rtol=0)


def test_analytic_kl_matches_monte_carlo() -> None:
    torch.manual_seed(0)
    q = Independent(Normal(torch.randn(4, 3), torch.rand(4, 3) + 0.3), 1)
    p = Independent(Normal(torch.zeros(3), torch.ones(3)), 1)
    analytic, per_dim = objectives.kl_term(q, p, q.sample())
    z = q.sample((200_000,))
    monte_carlo = (q.log_prob(z) - p.log_prob(z)).mean(0)
    torch.testing.assert_close(analytic, monte_carlo, atol=0.02, rtol=0)
    assert per_dim is not None and torch.allclose(per_dim.sum(-1), analytic)


def test_bits_per_dim() -> None:
    assert math.isclose(objectives.bits_per_dim(torch.tensor(784 * math.log(2)), 784).item(), 1.0, rel_tol=1e-6)


def test_passes_over_large_examples_decode_as_many_elements_as_on_mnist() -> None:
    """64x64 colour images at MNIST's 2,048 decodes and 1,000-row batches took 6 GB (a logistic mixture); the rows
    shrink with the example's size."""
    from vaekit.data import Split
    from vaekit.evaluate import validation_scores
    from vaekit.limits import rows_within
    from vaekit.models import VAE

    assert rows_within(1000, (1, 28, 28)) == 1000 and rows_within(1000, (3, 64, 64)) == 63
    assert rows_within(2048, (3, 64, 64)) == 130 and rows_within(5, (3, 512, 512)) == 1
    torch.manual_seed(0)
    model = VAE(data_shape=(3, 64, 64), latent_dim=2, hidden=[8], likelihood="gaussian")
    decoded: list[int] = []
    decode = model.decode
    model.decode = lambda z: decoded.append(z.reshape(-1, 2).shape[0]) or decode(z)  # type: ignore[method-assign]
    x = torch.rand(4, 3, 64, 64)
    estimate = objectives.log_likelihood(model, x, k=1000)
    assert estimate.shape == (4,) and torch.isfinite(estimate).all()
    assert max(decoded) <= 130 and sum(decoded) == 4000  # every sample, in chunks of at most 130 latents
    decoded.clear()
    validation_scores(model, Split(torch.rand(200, 3, 64, 64)))
    assert max(decoded) <= 63 and sum(decoded) == 200
