"""The IAF posterior: a correct density, training that beats the plain VAE's posterior, the verbs and the codec."""
from __future__ import annotations

import math

import pytest
import torch

from vaekit import compress, decompress, fit, load, save
from vaekit.config import model_config
from vaekit.models import IAFVAE


@pytest.fixture(scope="module")
def trained(mnist_binary):  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    model = IAFVAE(data_shape=mnist_binary.data_shape, latent_dim=8, hidden=[128], flow_steps=2)
    first = model.loss(mnist_binary.test.x[:500]).value.item()
    fit(model, mnist_binary, epochs=3, batch_size=100, progress=False, compile=False)
    return model.eval(), first


def test_the_flow_density_is_consistent(trained, mnist_binary) -> None:  # type: ignore[no-untyped-def]
    """log q(z|x) read from the flow's cache equals the one computed by inverting the flow afresh,
    and a flow of identity steps would leave the base density: here the steps are not the identity."""
    model, _ = trained
    x = mnist_binary.test.x[:16]
    q = model.encode(x)
    z = q.rsample()
    cached = q.log_prob(z)
    torch.testing.assert_close(model.encode(x).log_prob(z.clone()), cached, atol=1e-3, rtol=1e-4)
    assert not torch.allclose(q.base_dist.log_prob(z), cached, atol=1e-2)


def test_training_bounds_samples(trained, mnist_binary) -> None:  # type: ignore[no-untyped-def]
    model, first = trained
    x = mnist_binary.test.x[:200]
    assert model.loss(mnist_binary.test.x[:500]).value.item() < first - 50
    torch.manual_seed(0)
    assert model.elbo(x).mean() < model.log_likelihood(x, k=100).mean() < 0
    images = model.sample(8, seed=0)
    assert images.shape == (8, 1, 28, 28) and 0 <= images.min() and images.max() <= 1
    assert model.reconstruct(x[:3]).shape == (3, 1, 28, 28)


def test_save_load_and_compression(trained, mnist_binary, tmp_path) -> None:  # type: ignore[no-untyped-def]
    model, _ = trained
    save(model, tmp_path / "m")
    again = load(tmp_path / "m")
    assert isinstance(again, IAFVAE) and again.config.flow_steps == 2
    x = mnist_binary.test.x[:300]
    blob = compress(model, x)  # a Gaussian stand-in for the flow: exact, at the stand-in's ELBO
    assert torch.equal(decompress(again, blob).x, x)
    assert len(blob) * 8 / len(x) < 1.15 * -model.elbo(x).mean().item() / math.log(2)


def test_flow_steps_belong_to_iaf() -> None:
    with pytest.raises(ValueError, match="flow_steps"):
        model_config(dict(name="vae", flow_steps=4))
