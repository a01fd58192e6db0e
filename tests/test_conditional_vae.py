"""The conditional VAE (Sohn et al. 2015): labels reach the Trainer, the bound, generation and the codec."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vaekit import CodecError, DataConfig, compress, decompress, fit, load, load_data, save
from vaekit.codec.container import unpack
from vaekit.contract import Batch, given
from vaekit.data import Data, Split
from vaekit.evaluate import evaluate
from vaekit.generate import interpolate, samples_per_class
from vaekit.models import VAE, ConditionalVAE
from vaekit.train import Trainer


@pytest.fixture(scope="module")
def trained():  # type: ignore[no-untyped-def]
    data = load_data(DataConfig(name="binarized-mnist", limit=20000, validation=500))
    torch.manual_seed(0)
    model = ConditionalVAE(data_shape=data.data_shape, num_classes=10, latent_dim=8, hidden=[200])
    x, y = data.test.x[:500], data.test.y[:500]
    first = model.loss(Batch(x, y)).value.item()
    fit(model, data, epochs=4, batch_size=100, progress=False, compile=False)
    return model.eval(), data, first


def nearest_class_mean(train_x: torch.Tensor, train_y: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """A plain classifier: the class whose mean training image is closest."""
    means = torch.stack([train_x[train_y == c].mean(0) for c in range(10)]).flatten(1)
    return torch.cdist(images.flatten(1), means).argmin(1)


def test_training_lowers_the_loss_and_labels_matter(trained) -> None:  # type: ignore[no-untyped-def]
    model, data, first = trained
    x, y = data.test.x[:500], data.test.y[:500]
    assert model.loss(Batch(x, y)).value.item() < first - 50
    torch.manual_seed(0)
    right = model.elbo(x, y).mean().item()
    torch.manual_seed(0)
    wrong = model.elbo(x, (y + 1) % 10).mean().item()
    assert right > wrong + 5, (right, wrong)  # the decoder uses the label: log p(x|c) is higher for the true c


def test_samples_follow_their_class(trained) -> None:  # type: ignore[no-untyped-def]
    model, data, _ = trained
    images = samples_per_class(model, per_class=20, seed=0)
    assert images.shape == (200, 1, 28, 28) and 0 <= images.min() and images.max() <= 1
    predicted = nearest_class_mean(data.train.x, data.train.y, images)
    accuracy = (predicted == torch.arange(10).repeat_interleave(20)).float().mean().item()
    assert accuracy > 0.35, accuracy  # chance is 0.1; this classifier scores 0.82 on real test digits
    assert torch.equal(model.sample(4, seed=1, y=3), model.sample(4, seed=1, y=3))
    assert not torch.equal(model.sample(4, seed=1, y=3), model.sample(4, seed=1, y=4))
    path = interpolate(model, data.test.x[0], data.test.x[1], steps=5, y=data.test.y[:2])
    assert path.shape == (5, 1, 28, 28)
    torch.testing.assert_close(path[0], model.reconstruct(data.test.x[:1], data.test.y[:1])[0])


def test_evaluate_reports_log_p_x_given_y(trained) -> None:  # type: ignore[no-untyped-def]
    model, data, _ = trained
    report = evaluate(model, data.test.subset(slice(0, 64)), k=100, progress=False)
    assert report.log_likelihood > report.elbo and report.log_likelihood < 0


def test_labels_are_checked(trained) -> None:  # type: ignore[no-untyped-def]
    model, data, _ = trained
    x = data.test.x[:4]
    with pytest.raises(ValueError, match="needs the labels"):
        model.encode(x)
    with pytest.raises(ValueError, match="needs the labels"):
        model.sample(2)
    with pytest.raises(ValueError, match=r"lie in 0\.\.9"):
        model.elbo(x, torch.tensor([0, 1, 2, 10]))
    with pytest.raises(ValueError, match="integer class indices"):
        model.elbo(x, torch.zeros(4))
    unlabelled = Data("x", Split(data.train.x[:100]), data.valid, data.test)
    with pytest.raises(ValueError, match="labelled data"):
        Trainer(model).fit(unlabelled)
    with pytest.raises(ValueError, match="num_classes"):
        ConditionalVAE(data_shape=(1, 28, 28))


def test_save_load_and_compression_with_labels(trained, tmp_path) -> None:  # type: ignore[no-untyped-def]
    model, data, _ = trained
    save(model, tmp_path / "m")
    again = load(tmp_path / "m")
    assert isinstance(again, ConditionalVAE) and again.config.num_classes == 10
    x, y = data.test.x[:300], data.test.y[:300]
    torch.testing.assert_close(given(again, y).encode(x).mean, given(model, y).encode(x).mean)
    blob = compress(model, x, labels=y)
    out = decompress(again, blob)
    decoded, labels = out.x, out.labels
    assert torch.equal(decoded, x) and np.array_equal(labels, y.numpy())
    torch.manual_seed(0)
    bound_bits = (-model.elbo(x, y).mean().item() + math.log(10)) / math.log(2)  # -log p(x|y) - log p(y), uniform
    payload = unpack(blob)[1]  # the header's JSON, paid once, is not part of the rate
    assert len(payload) * 8 / len(x) < 1.03 * bound_bits
    out = decompress(again, compress(model, x, mode="lossy", labels=y))
    lossy, labels = out.x, out.labels
    assert lossy.shape == x.shape and np.array_equal(labels, y.numpy())
    with pytest.raises(CodecError, match="give labels"):
        compress(model, x)
    with pytest.raises(CodecError, match="integer labels"):
        compress(model, x, labels=y[:10])
    plain = VAE(data_shape=data.data_shape, latent_dim=4)
    with pytest.raises(CodecError, match="not conditioned"):
        compress(plain, x, labels=y)
