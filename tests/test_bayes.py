"""Bayes by Backprop (Blundell et al. 2015): the layers' complexity cost, local reparameterization, the minibatch
weights, the Bayesian classifier and its uncertainty, calibration and OOD figures, the run and the CLI."""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from vaekit import DataConfig, fit, load, load_data, save
from vaekit.config import model_config
from vaekit.models import BayesianClassifier, Classifier
from vaekit.nn import data_decoder, data_encoder
from vaekit.nn.bayes import (
    BayesianLayer,
    BayesianLinear,
    bayesian_layers,
    complexity_cost,
    mean_weights,
    minibatch_weights,
    to_bayesian,
)
from vaekit.uncertainty import auroc, calibration_bins, expected_calibration_error, mutual_information

ROOT = Path(__file__).resolve().parent.parent
VAEKIT = str(Path(sys.executable).parent / "vaekit")


def _layer(**options: object) -> BayesianLinear:
    torch.manual_seed(0)
    layer = BayesianLinear(6, 4, model_config(dict(name="bnn", **options)))  # type: ignore[arg-type]
    with torch.no_grad():  # posteriors of some width, so the KL is not dominated by one term
        layer.weight_rho.uniform_(-3, 0)
        layer.bias_rho.uniform_(-3, 0)
    return layer


def test_the_kl_for_a_gaussian_prior_is_the_closed_form() -> None:
    layer = _layer(bayes_prior="gaussian", prior_sigma1=0.5)
    layer(torch.randn(3, 6))
    expected = 0.0
    for mu, rho in ((layer.weight_mu, layer.weight_rho), (layer.bias_mu, layer.bias_rho)):
        sigma = torch.log1p(torch.exp(rho))
        expected += (math.log(0.5) - sigma.log() + (sigma ** 2 + mu ** 2) / (2 * 0.25) - 0.5).sum().item()
    assert layer.kl.item() == pytest.approx(expected, rel=1e-5)


def test_the_monte_carlo_complexity_cost_converges_to_the_kl() -> None:
    layer = _layer(bayes_prior="gaussian", prior_sigma1=0.5)
    exact = layer.complexity().item()
    with torch.no_grad():  # log q(w) - log p(w) at fresh draws (the scale mixture's estimate)
        estimates = torch.stack([layer.draw()[2] for _ in range(4000)])
    assert estimates.mean().item() == pytest.approx(exact, abs=4 * estimates.std().item() / math.sqrt(4000))
    assert estimates.std().item() > 0.1  # one draw is noisy; the mean is right
    mixture = _layer()  # the scale mixture has no closed form: each forward pass draws an estimate
    x = torch.randn(3, 6)
    assert mixture(x) is not None and mixture.kl.item() != (mixture(x), mixture.kl.item())[1]


def test_local_reparameterization_draws_the_same_pre_activations() -> None:
    weights, local = _layer(), _layer(local_reparameterization=True)
    x = torch.randn(1, 6)
    with torch.no_grad():
        a = torch.cat([weights(x) for _ in range(20000)])
        b = torch.cat([local(x) for _ in range(20000)])
    torch.testing.assert_close(a.mean(0), b.mean(0), atol=0.02, rtol=0)
    torch.testing.assert_close(a.var(0), b.var(0), atol=0.0, rtol=0.05)
    with mean_weights(local):
        assert torch.equal(local(x), local(x))  # the posterior means: no sampling


def test_minibatch_weights_sum_to_one() -> None:
    for batches in (1, 7, 600, 5000):
        for scheme in ("uniform", "blundell"):
            weights = minibatch_weights(batches, scheme)
            assert weights.sum().item() == pytest.approx(1.0, abs=1e-12) and (weights >= 0).all()
    front = minibatch_weights(600, "blundell")
    assert front[0].item() == pytest.approx(0.5) and (front[1:] < front[:-1]).all()  # the first batches carry it


def test_any_vaekit_network_becomes_bayesian() -> None:
    config = model_config(dict(name="bnn", data_shape=(1, 28, 28), architecture="conv", channels=[8, 16]))
    encoder, decoder = to_bayesian(data_encoder(config, [32], 10), config), \
        to_bayesian(data_decoder(config, 10, [32], 1), config)
    for net in (encoder, decoder):
        assert not any(isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)) for m in net.modules())
        assert any(isinstance(m, BayesianLayer) for m in net.modules())
    x = torch.rand(2, 1, 28, 28)
    assert encoder(x).shape == (2, 10) and decoder(torch.randn(2, 10)).shape == (2, 1, 28, 28)
    assert complexity_cost(encoder) > 0
    with pytest.raises(ValueError, match="Bayesian form"):
        to_bayesian(nn.Sequential(nn.Conv2d(3, 6, 3, groups=3)), config)


def test_calibration_auroc_and_mutual_information_on_known_answers() -> None:
    probs = torch.tensor([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.6, 0.4]])
    labels = torch.tensor([0, 1, 0, 0])  # 90% sure, half right; 60% sure, all right
    bins = calibration_bins(probs, labels, bins=10)
    assert expected_calibration_error(bins) == pytest.approx(0.5 * 0.4 + 0.5 * 0.4)
    assert auroc(torch.tensor([0.1, 0.2]), torch.tensor([0.3, 0.4])) == 1.0
    assert auroc(torch.tensor([0.1, 0.3]), torch.tensor([0.2, 0.4])) == 0.75
    assert auroc(torch.zeros(5), torch.zeros(3)) == 0.5  # ties count half
    same = probs.expand(4, -1, -1)
    assert torch.allclose(mutual_information(same), torch.zeros(4), atol=1e-6)
    disagree = torch.tensor([[[1.0, 0.0]], [[0.0, 1.0]]])  # two draws, each sure, of opposite classes
    assert mutual_information(disagree).item() == pytest.approx(math.log(2), rel=1e-4)


def _mnist(limit: int) -> object:
    return load_data(DataConfig(name="mnist", limit=limit, validation=1000))


def test_the_bayesian_classifier_learns_and_its_uncertainty_shrinks_with_data() -> None:
    small, large = _mnist(300), _mnist(5000)
    spread = {}
    for name, data, epochs in (("small", small, 60), ("large", large, 4)):  # about the same number of steps
        torch.manual_seed(0)
        model = BayesianClassifier(data_shape=(1, 28, 28), num_classes=10, hidden=[100],
                                   dataset_size=len(data.train))  # type: ignore[attr-defined]
        fit(model, data, epochs=epochs, batch_size=64, lr=1e-2, progress=False)
        model.eval()
        x, y = data.test.x[:1000], data.test.y[:1000]  # type: ignore[attr-defined]
        draws = model.predictive(x, 20)
        assert (draws[0] - draws[1]).abs().max() > 0.01  # predictions vary across weight draws
        spread[name] = mutual_information(draws).mean().item()
        error = (draws.mean(0).argmax(1) != y).float().mean().item()
        assert error < 0.3, (name, error)  # chance is 0.9 (measured: small 0.21, large 0.10)
    assert spread["large"] < 0.7 * spread["small"], spread  # measured: small 0.16, large 0.03 nats
    with pytest.raises(ValueError, match="dataset_size"):
        fit(model, small, epochs=1, progress=False)


def test_save_load_and_the_plain_classifier(tmp_path: Path) -> None:
    data = _mnist(2000)
    torch.manual_seed(0)
    model = BayesianClassifier(data_shape=(1, 28, 28), num_classes=10, hidden=[64], dataset_size=2000,
                               local_reparameterization=True)
    fit(model, data, epochs=1, batch_size=100, progress=False)
    again = load(save(model, tmp_path / "bnn"))
    x = data.test.x[:10]  # type: ignore[attr-defined]
    with mean_weights(model), mean_weights(again):
        torch.testing.assert_close(again.classify(x, 1), model.classify(x, 1))
    torch.manual_seed(0)
    plain = Classifier(data_shape=(1, 28, 28), num_classes=10, hidden=[64], dropout=0.5)
    assert any(isinstance(m, nn.Dropout) for m in plain.modules())
    fit(plain, data, epochs=2, batch_size=100, progress=False)
    plain.eval()
    assert (plain.classify(x).argmax(1) == data.test.y[:10]).float().mean() > 0.5  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="dropout"):
        model_config(dict(name="bnn", dropout=0.5))
    with pytest.raises(ValueError, match="bayes_prior"):
        model_config(dict(name="classifier", bayes_prior="gaussian"))


def test_a_bnn_run_reports_uncertainty_and_is_reproducible(tmp_path: Path) -> None:
    command = [VAEKIT, "train", "--config", str(ROOT / "configs" / "bnn-mnist.yaml"), f"out_dir={tmp_path}",
               "data.limit=2000", "data.validation=500", "model.hidden=[64]", "train.epochs=1",
               "evaluate.limit=500", "train.progress=false", "--overwrite"]
    results = []
    for _ in range(2):
        result = subprocess.run(command, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr
        results.append(json.loads((tmp_path / "bnn-mnist" / "metrics.json").read_text())["test"])
    assert results[0] == results[1]  # the recipe fixes the initial weights, the draws and the split
    test = results[0]
    assert test["error"] < 0.5 and test["ood"] == "fashion-mnist"
    # the entropy tells the sets apart (chance: 0.5); after one epoch of 2,000 images the net is the surer on
    # Fashion-MNIST (0.33 measured), the overconfidence out of distribution a benchmark's longer runs measure
    assert abs(test["ood_auroc_entropy"] - 0.5) > 0.1
    assert 0 <= test["expected_calibration_error"] < 0.5 and test["mutual_information"] > 0
    assert sum(b["count"] for b in test["reliability"]) == 500
    assert (tmp_path / "bnn-mnist" / "reliability.png").stat().st_size > 1000
    shown = subprocess.run([VAEKIT, "classify", str(tmp_path / "bnn-mnist" / "model"), "--data", "mnist", "-n", "3"],
                           capture_output=True, text=True, timeout=300)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.count("mutual information") == 3


def test_the_bayesian_vae_bound_includes_the_weights_kl(tmp_path: Path) -> None:
    from vaekit.models import BayesianVAE

    data = load_data(DataConfig(name="binarized-mnist", limit=3000, validation=500))
    torch.manual_seed(0)
    model = BayesianVAE(data_shape=(1, 28, 28), latent_dim=8, hidden=[128], dataset_size=3000,
                        bayes_prior="gaussian")
    assert not any(isinstance(m, nn.Linear) for m in model.decoder.modules())
    assert any(isinstance(m, nn.Linear) for m in model.encoder.modules())  # only the decoder, unless asked
    x = data.test.x[:64]  # type: ignore[attr-defined]
    model.train()
    out = model.loss(x)
    weights_kl = complexity_cost(model).item() / 3000
    assert out.terms["weights_kl"].item() == pytest.approx(weights_kl, rel=1e-5) and weights_kl > 0
    assert out.value.item() == pytest.approx(-out.terms["elbo"].item() + weights_kl, rel=1e-4)
    before = model.loss(x).terms["elbo"].item()
    fit(model, data, epochs=3, batch_size=100, progress=False)
    model.eval()
    assert model.elbo(x).mean().item() > before + 100  # it learns (measured: -547 -> -208 nats)
    mean, spread = model.samples_with_uncertainty(4, draws=10, seed=0)
    assert mean.shape == spread.shape == (4, 1, 28, 28) and spread.max() > 0
    again = load(save(model, tmp_path / "bvae"))
    torch.testing.assert_close(again.reconstruct(x), model.reconstruct(x))  # evaluation: the mean weights


def test_blundells_minibatch_share_reaches_only_the_weights_cost(mnist_binary) -> None:  # type: ignore[no-untyped-def]
    """Blundell et al. sec. 3.4 weight the complexity cost of the weights by pi_i on minibatch i; the latent KL of a
    Bayesian VAE is the data's own term and keeps weight 1 (it once got the share too)."""
    from vaekit.contract import Batch
    from vaekit.models import BayesianVAE

    torch.manual_seed(0)
    vae = BayesianVAE(data_shape=(1, 28, 28), latent_dim=4, hidden=[16], dataset_size=100)
    bnn = BayesianClassifier(data_shape=(1, 28, 28), num_classes=10, hidden=[16], dataset_size=100)
    x, y = mnist_binary.test.x[:20], mnist_binary.test.y[:20]
    for model, cost in ((vae, "weights_kl"), (bnn, "complexity")):
        model.train()
        out = {}
        for share in (1.0, 3.0):
            torch.manual_seed(1)  # the same draws of weights and latents
            out[share] = model.loss(Batch(x, y, complexity_share=share))
        for name, value in out[1.0].terms.items():
            torch.testing.assert_close(out[3.0].terms[name], value)
        assert out[1.0].terms[cost] > 0
        torch.testing.assert_close(out[3.0].value - out[1.0].value, 2.0 * out[1.0].terms[cost])


def test_the_curve_fit_band_widens_away_from_the_data() -> None:
    from vaekit.curve_fitting import fit_curve, paper_curve, predictive_draws

    x, y = paper_curve(60, seed=0)
    net = fit_curve(x, y, hidden=[50, 50], steps=1500)
    grid = torch.tensor([0.25, 1.2])
    low, median, high = torch.quantile(predictive_draws(net, grid, 200), torch.tensor([0.25, 0.5, 0.75]), dim=0)
    spread = high - low
    assert spread[1] > 3 * spread[0], spread  # measured: 0.04 inside the data, 0.46 far from it
    truth = paper_curve(1, noise=0.0, low=0.25, high=0.25)[1]
    assert abs(median[0] - truth.item()) < 0.1
    with pytest.raises(ValueError, match="same shape"):
        fit_curve(x, y[:10])


def test_the_scale_mixture_prior_is_torchs_mixture() -> None:
    from torch.distributions import Categorical, MixtureSameFamily, Normal

    from vaekit.nn.bayes import ScaleMixture

    mine = ScaleMixture(0.25, 1.0, math.exp(-6))
    reference = MixtureSameFamily(Categorical(probs=torch.tensor([0.25, 0.75])),
                                  Normal(torch.zeros(2), torch.tensor([1.0, math.exp(-6)])))
    w = torch.cat([torch.randn(1000) * 0.003, torch.randn(1000), torch.tensor([0.0, 5.0])])
    torch.testing.assert_close(mine.log_prob(w), reference.log_prob(w), rtol=1e-5, atol=1e-5)
    draws = mine.sample((200000,))
    assert (draws.abs() > 0.1).float().mean().item() == pytest.approx(0.25 * 0.92, abs=0.01)  # the wide share


def test_vaekit_evaluate_reports_a_classifier(tmp_path: Path) -> None:
    data = _mnist(1000)
    torch.manual_seed(0)
    model = BayesianClassifier(data_shape=(1, 28, 28), num_classes=10, hidden=[32], dataset_size=1000)
    fit(model, data, epochs=1, batch_size=100, progress=False)
    shown = subprocess.run([VAEKIT, "evaluate", str(save(model, tmp_path / "bnn")), "--data", "mnist", "--limit",
                            "200", "--ood", "fashion-mnist", "--weight-draws", "3", "-o", str(tmp_path / "r.json")],
                           capture_output=True, text=True, timeout=300)
    assert shown.returncode == 0, shown.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["examples"] == 200 and report["weight_draws"] == 3 and report["ood"] == "fashion-mnist"
    assert report["error"] < 0.8  # one epoch of 1,000 images: better than chance (0.9)


def test_input_scale_and_a_range_of_starting_rho() -> None:
    """Blundell et al.'s pixels / 126 as ``input_scale`` (the same net on scaled inputs), and rho drawn in a range."""
    torch.manual_seed(0)
    plain = Classifier(data_shape=(1, 28, 28), num_classes=10, hidden=[16])
    scaled = Classifier(data_shape=(1, 28, 28), num_classes=10, hidden=[16], input_scale=255 / 126)
    scaled.load_state_dict(plain.state_dict())
    x = torch.rand(5, 1, 28, 28)
    torch.testing.assert_close(scaled.classify(x), plain.classify(x * 255 / 126))
    assert not torch.allclose(scaled.classify(x), plain.classify(x))
    net = BayesianClassifier(data_shape=(1, 28, 28), num_classes=10, hidden=[16], posterior_rho=(-3.5, -3.0),
                             input_scale=2.0)
    for layer in bayesian_layers(net):
        for rho in (layer.weight_rho, layer.bias_rho):
            assert rho.min() >= -3.5 and rho.max() < -3.0 and rho.std() > 0.1
    with mean_weights(net.network):
        torch.testing.assert_close(net.predictive(x, 1)[0], net.network(2.0 * x).softmax(-1))
    with pytest.raises(ValueError, match="low < high"):
        model_config({"name": "bnn", "posterior_rho": [-3.0, -3.5]})


def test_the_fused_training_draw_matches_the_eager_one() -> None:
    layer = _layer()  # the scale mixture: a draw with gradients is compiled into one pass, one without stays eager
    draws = []
    for grad in (True, False):
        torch.manual_seed(3)
        with torch.set_grad_enabled(grad):
            draws.append(layer.draw())
    for fused, eager in zip(*draws):
        assert torch.allclose(fused.detach(), eager, rtol=1e-5, atol=1e-5)
    draws[0][2].backward()  # the cost's gradient reaches both the means and the rho
    assert layer.weight_mu.grad.abs().sum() > 0 and layer.weight_rho.grad.abs().sum() > 0
