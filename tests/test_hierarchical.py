"""Models with several stochastic layers: the chain distribution is right, both models train, the verbs work."""
from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import MultivariateNormal, Normal

from vaekit import compress, decompress, fit, load, save
from vaekit.config import model_config
from vaekit.distributions.gaussian_chain import GaussianChain
from vaekit.models import HierarchicalVAE, LadderVAE
from vaekit.models.ladder_vae import precision_weighted

LAYERS = [{"latent": 16, "hidden": [128]}, {"latent": 8, "hidden": [64]}]


def test_a_linear_gaussian_chain_is_the_joint_gaussian() -> None:
    """z2 ~ N(0, 1), z1 | z2 ~ N(a z2, s^2): jointly N(0, [[a^2 + s^2, a], [a, 1]]) over (z1, z2)."""
    a, s = 0.8, 0.5
    chain = GaussianChain([1, 1], [1, 0], lambda i, z: (torch.zeros(1), torch.ones(1)) if i == 1
                          else (a * z[1], torch.full_like(z[1], s)))
    joint = MultivariateNormal(torch.zeros(2), torch.tensor([[a * a + s * s, a], [a, 1.0]]))
    z = torch.randn(100, 2)
    torch.testing.assert_close(chain.log_prob(z), joint.log_prob(z))
    torch.manual_seed(0)
    draws = chain.sample((200_000,))
    torch.testing.assert_close(torch.cov(draws.T), joint.covariance_matrix, atol=0.01, rtol=0.0)


def test_precision_weighting_is_the_normalized_product() -> None:
    estimate, prior = (torch.tensor([1.0]), torch.tensor([0.5])), (torch.tensor([-1.0]), torch.tensor([2.0]))
    loc, scale = precision_weighted(estimate, prior)
    grid = torch.linspace(-6, 6, 20001)
    product = (Normal(*estimate).log_prob(grid) + Normal(*prior).log_prob(grid)).exp()
    product = product / torch.trapezoid(product, grid)
    torch.testing.assert_close(Normal(loc, scale).log_prob(grid).exp(), product, atol=1e-4, rtol=0.0)


@pytest.fixture(scope="module", params=[HierarchicalVAE, LadderVAE], ids=["two-layer", "ladder"])
def trained(request: pytest.FixtureRequest, mnist_binary):  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    model = request.param(data_shape=mnist_binary.data_shape, layers=LAYERS)
    first = model.loss(mnist_binary.test.x[:500]).value.item()
    fit(model, mnist_binary, epochs=3, batch_size=100, progress=False, compile=False)
    return model.eval(), first


def test_training_lowers_the_loss(trained, mnist_binary) -> None:  # type: ignore[no-untyped-def]
    model, first = trained
    assert model.loss(mnist_binary.test.x[:500]).value.item() < first - 200


def test_bounds_samples_and_latents(trained, mnist_binary) -> None:  # type: ignore[no-untyped-def]
    model, _ = trained
    x = mnist_binary.test.x[:100]
    torch.manual_seed(0)
    elbo, log_px = model.elbo(x).mean(), model.log_likelihood(x, k=200).mean()
    assert elbo < log_px < 0
    assert model.latent_size == 24 and model.encode(x).sample().shape == (100, 24)
    images = model.sample(16, seed=0)
    assert images.shape == (16, 1, 28, 28) and 0 <= images.min() and images.max() <= 1
    torch.testing.assert_close(images, model.sample(16, seed=0))


def test_save_load_and_compression(trained, mnist_binary, tmp_path) -> None:  # type: ignore[no-untyped-def]
    model, _ = trained
    save(model, tmp_path / "m")
    again = load(tmp_path / "m")
    assert type(again) is type(model) and again.config == model.config
    z = model.prior().sample((5,))
    torch.testing.assert_close(again.prior().log_prob(z), model.prior().log_prob(z))
    x = mnist_binary.test.x[:300]
    blob = compress(model, x)  # the layers in the chain's order, each given those before
    assert torch.equal(decompress(again, blob).x, x)
    torch.manual_seed(0)
    assert len(blob) * 8 / len(x) < 1.06 * -model.elbo(x).mean().item() / math.log(2)  # start-up cost on 300 images
    assert decompress(again, compress(model, x, mode="lossy")).x.shape == x.shape


def test_layers_are_checked() -> None:
    with pytest.raises(ValueError, match="two or more stochastic layers"):
        model_config(dict(name="ladder-vae", layers=LAYERS[:1]))
    with pytest.raises(ValueError, match="vae has no key .layers.; it is a key of hierarchical-vae, ladder-vae"):
        model_config(dict(name="vae", layers=LAYERS))
    assert model_config(dict(name="hierarchical-vae", layers=LAYERS, importance_samples=5)).importance_samples == 5
    assert math.isfinite(HierarchicalVAE(data_shape=(1, 8, 8), layers=LAYERS, architecture="conv", channels=[8])
                         .loss(torch.rand(2, 1, 8, 8).round()).value.item())
