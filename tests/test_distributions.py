from __future__ import annotations

import math

import torch

from vaekit.distributions import DiscretizedLogisticMixture, make_likelihood

VALUES = torch.arange(256).float() / 255


def _random_mixture(batch: int = 6, k: int = 4, log_scale_shift: float = -2.0) -> DiscretizedLogisticMixture:
    g = torch.Generator().manual_seed(0)
    return DiscretizedLogisticMixture(torch.randn(batch, k, generator=g), torch.rand(batch, k, generator=g),
                                      torch.randn(batch, k, generator=g) + log_scale_shift)


def test_masses_over_the_256_values_sum_to_one() -> None:
    for shift in (-6.0, -2.0, 1.0):  # sharp, moderate and wide components
        d = _random_mixture(log_scale_shift=shift)
        total = d.log_prob(VALUES[:, None].expand(256, 6)).exp().sum(0)
        torch.testing.assert_close(total, torch.ones(6), atol=1e-4, rtol=0)


def test_mass_of_an_interior_bin_is_the_cdf_difference() -> None:
    d = DiscretizedLogisticMixture(torch.zeros(1, 1), torch.tensor([[0.4]]), torch.tensor([[math.log(0.1)]]))
    x = torch.tensor([100 / 255])
    cdf = lambda v: torch.sigmoid((v - 0.4) / 0.1)  # noqa: E731
    expected = torch.log(cdf(x + 0.5 / 255) - cdf(x - 0.5 / 255))
    torch.testing.assert_close(d.log_prob(x), expected, atol=1e-5, rtol=0)


def test_edge_cdf_differences_are_the_masses_the_coder_uses() -> None:
    d = _random_mixture(log_scale_shift=-3.0)
    masses = torch.diff(d.edge_cdf(torch.arange(257).expand(6, 257)))
    torch.testing.assert_close(masses, d.log_prob(VALUES[:, None].expand(256, 6)).exp().T, atol=1e-5, rtol=0)
    ends = d.edge_cdf(torch.tensor([[0, 256]] * 6))
    torch.testing.assert_close(ends, torch.tensor([[0.0, 1.0]] * 6), atol=1e-6, rtol=0)


def test_samples_lie_on_the_8_bit_grid_and_follow_the_masses() -> None:
    torch.manual_seed(0)
    d = DiscretizedLogisticMixture(torch.zeros(1, 2), torch.tensor([[0.2, 0.8]]), torch.tensor([[-3.0, -3.0]]))
    s = d.sample((20000,)).squeeze(-1)
    assert torch.equal(s * 255, (s * 255).round())
    empirical_mean = s.mean()
    exact_mean = (VALUES * d.log_prob(VALUES[:, None]).exp().squeeze(-1)).sum()
    assert abs(empirical_mean - exact_mean) < 0.01


def test_likelihoods_have_one_datum_as_event() -> None:
    shape = (3, 5, 7)
    for name in ("bernoulli", "gaussian", "logistic-mixture"):
        lik = make_likelihood(name, shape, components=3)
        params = torch.randn(2, lik.params_per_element, *shape)
        dist = lik(params)
        assert dist.batch_shape == (2,) and dist.event_shape == shape
        assert dist.log_prob(torch.rand(2, *shape).mul(255).round().div(255)).shape == (2,)


def test_gaussian_mixture_log_prob_is_torch_s() -> None:
    from torch.distributions import Categorical, Independent, MixtureSameFamily, Normal

    from vaekit.distributions.gaussian_mixture import GaussianMixture

    torch.manual_seed(0)
    logits, loc, scale = torch.randn(7), torch.randn(7, 5), torch.rand(7, 5) + 0.1
    z = 2 * torch.randn(3, 4, 5)
    reference = MixtureSameFamily(Categorical(logits=logits), Independent(Normal(loc, scale), 1))
    torch.testing.assert_close(GaussianMixture(logits, loc, scale).log_prob(z), reference.log_prob(z),
                               atol=1e-4, rtol=1e-5)
