"""VQ-VAE (van den Oord et al. 2017) with a PixelCNN prior over its codes: it trains, samples, evaluates and codes."""
from __future__ import annotations

import itertools
import math

import pytest
import torch

from vaekit import CodecError, DataConfig, compress, decompress, fit, load, load_data, save
from vaekit.codec.container import unpack
from vaekit.distributions.code_prior import CodePrior
from vaekit.models import VQVAE
from vaekit.nn.pixelcnn import PixelCNN


@pytest.fixture(scope="module")
def trained():  # type: ignore[no-untyped-def]
    data = load_data(DataConfig(name="binarized-mnist", limit=3000, validation=0))
    torch.manual_seed(0)
    model = VQVAE(data_shape=data.data_shape, latent_dim=8, codebook_size=32, channels=[16, 32])
    x = data.test.x[:300]
    first = model.loss(x).terms
    codebook = model.codebook.detach().clone()
    fit(model, data, epochs=2, batch_size=100, progress=False, compile=False)
    return model.eval(), data, first, codebook


def test_training_lowers_the_loss_and_learns_codebook_and_prior(trained) -> None:  # type: ignore[no-untyped-def]
    model, data, first, codebook = trained
    x = data.test.x[:300]
    after = model.loss(x).terms
    assert after["reconstruction"] > first["reconstruction"] + 100
    assert not torch.allclose(model.codebook, codebook)
    uniform = math.prod(model.grid) * math.log(32)  # -log p(k) under the uniform prior of the paper's first stage
    assert after["kl"] < uniform - 20, (after["kl"].item(), uniform)


def test_pixelcnn_is_causal_and_the_prior_sums_to_one() -> None:
    torch.manual_seed(0)
    net = PixelCNN(symbols=3, channels=8, layers=2)
    s = torch.randint(0, 3, (4, 3, 4))
    changed = s.clone()
    changed[:, 1, 2:] = (changed[:, 1, 2:] + 1) % 3  # positions from (1, 2) on
    changed[:, 2] = (changed[:, 2] + 1) % 3
    before, after = net(s).flatten(2), net(changed).flatten(2)
    torch.testing.assert_close(before[..., :7], after[..., :7])  # positions before (1, 2) in raster order
    assert not torch.allclose(before[..., 7:], after[..., 7:])
    prior = CodePrior(net, torch.randn(3, 2), (1, 2))  # every one of the 3^2 grids
    grids = torch.tensor(list(itertools.product(range(3), repeat=2))).view(9, 1, 2)
    assert torch.logsumexp(prior.log_prob_indices(grids), 0).exp().item() == pytest.approx(1.0, abs=1e-5)
    assert torch.equal(prior.indices(prior.vectors(grids)), grids)


def test_samples_evaluation_and_save_load(trained, tmp_path) -> None:  # type: ignore[no-untyped-def]
    model, data, _, _ = trained
    images = model.sample(8, seed=0)
    assert images.shape == (8, 1, 28, 28) and 0 <= images.min() and images.max() <= 1
    assert torch.equal(images, model.sample(8, seed=0))
    x = data.test.x[:50]
    torch.testing.assert_close(model.log_likelihood(x, k=100), model.elbo(x))  # q is a point mass
    save(model, tmp_path / "m")
    again = load(tmp_path / "m")
    assert torch.equal(again.sample(8, seed=0), images)


def test_compression_round_trips(trained) -> None:  # type: ignore[no-untyped-def]
    model, data, _, _ = trained
    x = data.test.x[:100]
    blob = compress(model, x, batch_size=64)
    assert torch.equal(decompress(model, blob).x, x)
    bound_bits = -model.elbo(x).mean().item() / math.log(2)
    assert len(unpack(blob)[1]) * 8 / len(x) < 1.01 * bound_bits  # -log p(x|z_q) - log p(k): no bits back
    lossy = compress(model, x, mode="lossy")
    torch.testing.assert_close(decompress(model, lossy).x, model.reconstruct(x).clamp(0, 1))
    assert len(lossy) < len(blob) / 2
    with pytest.raises(CodecError, match="do not apply"):
        compress(model, x, mode="lossy", step=0.5)


@pytest.mark.parametrize("architecture", ["conv", "resnet"])
def test_any_image_size(architecture: str) -> None:
    torch.manual_seed(0)
    model = VQVAE(data_shape=(3, 13, 11), architecture=architecture, latent_dim=4, codebook_size=6, channels=[4, 8])
    assert model.grid == (4, 3)
    x = torch.rand(5, 3, 13, 11).round()
    loss = model.loss(x).value
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())
    assert model.sample(2, seed=0).shape == (2, 3, 13, 11)
