"""IWAE (Burda et al. 2015): the bound's order (Theorem 1), training on it, and the verbs it shares with the VAE."""
from __future__ import annotations

import math

import pytest
import torch

from vaekit import ConfigError, DataConfig, compress, decompress, fit, load, load_data, save
from vaekit.config import model_config
from vaekit.models import IWAE
from vaekit.objectives import log_importance_weights


@pytest.fixture(scope="module")
def trained():
    data = load_data(DataConfig(name="binarized-mnist", limit=2000, validation=0))
    torch.manual_seed(0)
    model = IWAE(data_shape=data.data_shape, latent_dim=8, hidden=[128], importance_samples=5)
    first = model.loss(data.test.x[:500]).value.item()
    fit(model, data, epochs=3, batch_size=100, progress=False, compile=False)
    return model.eval(), data, first


def _bound(model: IWAE, x: torch.Tensor, k: int, repeats: int = 20) -> float:
    """L_k averaged over the batch and ``repeats`` independent draws (a fixed seed)."""
    torch.manual_seed(1)
    with torch.no_grad():
        return sum((torch.logsumexp(log_importance_weights(model, x, k), 0) - math.log(k)).mean().item()
                   for _ in range(repeats)) / repeats


def test_training_on_the_bound_lowers_the_loss(trained) -> None:  # type: ignore[no-untyped-def]
    model, data, first = trained
    assert model.loss(data.test.x[:500]).value.item() < first - 50


def test_the_bound_is_at_least_the_elbo_and_grows_with_k(trained) -> None:  # type: ignore[no-untyped-def]
    model, data, _ = trained
    x = data.test.x[:200]
    bounds = [_bound(model, x, k) for k in (1, 5, 50)]
    assert bounds[0] < bounds[1] < bounds[2]
    loss = model.loss(x)
    assert loss.terms["bound"] >= loss.terms["elbo"]


def test_k_1_is_the_vae_elbo() -> None:
    torch.manual_seed(0)
    model = IWAE(data_shape=(1, 6, 6), latent_dim=2, hidden=[8], importance_samples=1)
    x = torch.bernoulli(torch.rand(16, 1, 6, 6))
    torch.manual_seed(3)
    loss = model.loss(x)
    assert loss.terms["bound"] == pytest.approx(loss.terms["elbo"].item())


def test_samples_save_load_and_compression(trained, tmp_path) -> None:  # type: ignore[no-untyped-def]
    model, data, _ = trained
    images = model.sample(16, seed=0)
    assert images.shape == (16, 1, 28, 28) and 0 <= images.min() and images.max() <= 1
    save(model, tmp_path / "iwae")
    again = load(tmp_path / "iwae")
    assert isinstance(again, IWAE) and again.config.importance_samples == 5
    x = data.test.x[:50]
    assert torch.equal(decompress(again, compress(model, x)).x, x)


def test_importance_samples_belong_to_iwae() -> None:
    with pytest.raises((ConfigError, ValueError), match="importance_samples"):
        model_config(dict(name="vae", importance_samples=5))
    with pytest.raises((ConfigError, ValueError), match="free_bits"):
        model_config(dict(name="iwae", free_bits=0.5))
