"""Mixture priors (a learned Gaussian mixture; the VampPrior): the prior learns, the verbs work, the codec codes
them."""
from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import MixtureSameFamily

from vaekit import CodecError, DataConfig, compress, decompress, fit, load, load_data, save
from vaekit.models import MixturePriorVAE, VampPriorVAE

PRIOR_PARAMETERS = ("prior_", "pseudo_inputs")


@pytest.fixture(scope="module", params=[MixturePriorVAE, VampPriorVAE], ids=["gaussian-mixture", "vampprior"])
def trained(request: pytest.FixtureRequest):
    data = load_data(DataConfig(name="binarized-mnist", limit=2000, validation=0))
    torch.manual_seed(0)
    model = request.param(data_shape=data.data_shape, latent_dim=8, hidden=[128], prior_components=5)
    start = {name: value.detach().clone() for name, value in model.named_parameters()
             if name.startswith(PRIOR_PARAMETERS)}
    first = model.loss(data.test.x[:500]).value.item()
    fit(model, data, epochs=3, batch_size=100, progress=False, compile=False)
    return model.eval(), data, first, start


def test_training_lowers_the_loss_and_learns_the_prior(trained) -> None:  # type: ignore[no-untyped-def]
    model, data, first, start = trained
    assert model.loss(data.test.x[:500]).value.item() < first - 50
    assert isinstance(model.prior(), MixtureSameFamily) and model.prior().batch_shape == ()
    assert start
    for name, value in model.named_parameters():
        if name in start:
            assert not torch.allclose(value, start[name]), f"{name} did not move"


def test_log_likelihood_bounds_and_samples(trained) -> None:  # type: ignore[no-untyped-def]
    model, data, _, _ = trained
    x = data.test.x[:100]
    torch.manual_seed(0)
    assert model.log_likelihood(x, k=200).mean() > model.elbo(x).mean()
    images = model.sample(16, seed=0)
    assert images.shape == (16, 1, 28, 28) and 0 <= images.min() and images.max() <= 1


def test_save_load_and_compression(trained, tmp_path) -> None:  # type: ignore[no-untyped-def]
    model, data, _, _ = trained
    save(model, tmp_path / "m")
    again = load(tmp_path / "m")
    assert type(again) is type(model)
    torch.testing.assert_close(again.prior().mean, model.prior().mean)
    x = data.test.x[:300]
    blob = compress(model, x)  # p(z_d | z_<d), a mixture per dimension
    assert torch.equal(decompress(again, blob).x, x)
    torch.manual_seed(0)
    assert len(blob) * 8 / len(x) < 1.06 * -model.elbo(x).mean().item() / math.log(2)  # start-up cost on 300 images
    assert decompress(again, compress(model, x, mode="lossy")).x.shape == x.shape
    with pytest.raises(CodecError, match="diagonal Gaussian prior"):
        compress(model, x, mode="lossy", entropy_model="prior")
