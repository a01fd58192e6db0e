"""beta-TC-VAE (Chen et al. 2018): the KL decomposition (eq. 2), the TC weight, and the shared verbs."""
from __future__ import annotations

import pytest
import torch

from vaekit import DataConfig, compress, decompress, fit, load, load_data, save
from vaekit.models import BetaTCVAE
from vaekit.objectives import elbo_terms


@pytest.fixture(scope="module")
def data():
    return load_data(DataConfig(name="binarized-mnist", limit=2000, validation=0))


def test_the_three_parts_add_up_to_the_kl(data) -> None:  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    model = BetaTCVAE(data_shape=data.data_shape, latent_dim=6, hidden=[64], dataset_size=2000)
    fit(model, data, epochs=1, progress=False, compile=False)
    x = data.test.x[:256]
    with torch.no_grad():
        torch.manual_seed(1)
        _, parts = model.kl_decomposition(x)
        analytic = elbo_terms(model, x).kl.mean()
    total = sum(part.mean() for part in parts.values())
    assert abs(total - analytic) < 0.1 * analytic + 0.5  # one-sample Monte Carlo of the same KL
    assert parts["total_correlation"].mean() > -1.0  # a KL, up to the minibatch estimator's bias


def test_beta_weights_the_total_correlation_only(data) -> None:  # type: ignore[no-untyped-def]
    x = data.test.x[:64]
    values = []
    for beta in (1.0, 5.0):
        torch.manual_seed(0)
        model = BetaTCVAE(data_shape=data.data_shape, latent_dim=4, hidden=[32], beta=beta, dataset_size=2000)
        torch.manual_seed(2)
        loss = model.loss(x)
        values.append((loss.value.item(), loss.terms["total_correlation"].item(), loss.terms["elbo"].item()))
    (one, tc, elbo), (five, tc5, elbo5) = values
    assert one == pytest.approx(-elbo, rel=1e-5)  # beta = 1: the negative ELBO
    assert tc == pytest.approx(tc5) and five == pytest.approx(one + 4 * tc, rel=1e-5)


def test_training_lowers_the_loss_and_the_verbs_work(data, tmp_path) -> None:  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    model = BetaTCVAE(data_shape=data.data_shape, latent_dim=8, hidden=[128], beta=4.0, dataset_size=2000)
    x = data.test.x[:256]
    first = model.loss(x).value.item()
    fit(model, data, epochs=3, batch_size=100, progress=False, compile=False)
    assert model.eval().loss(x).value.item() < first - 50
    images = model.sample(8, seed=0)
    assert images.shape == (8, 1, 28, 28) and 0 <= images.min() and images.max() <= 1
    save(model, tmp_path / "tc")
    again = load(tmp_path / "tc")
    assert isinstance(again, BetaTCVAE) and again.config.beta == 4.0
    assert torch.equal(decompress(again, compress(model, x[:20])).x, x[:20])
