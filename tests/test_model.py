from __future__ import annotations

import json

import pytest
import torch
from torch.distributions import Distribution

import vaekit
from vaekit import VAE, ModelFileError, fit, save


@pytest.mark.parametrize("architecture,shape,likelihood", [
    ("mlp", (1, 28, 28), "bernoulli"),
    ("conv", (1, 28, 28), "logistic-mixture"),
    ("conv", (3, 17, 23), "gaussian"),
    ("resnet", (3, 17, 23), "logistic-mixture"),
    ("mlp", (6,), "gaussian"),
])
def test_contract_for_any_shape(architecture: str, shape: tuple, likelihood: str) -> None:
    torch.manual_seed(0)
    model = VAE(data_shape=shape, latent_dim=3, architecture=architecture, hidden=[16], channels=[8, 16],
                likelihood=likelihood, mixture_components=2)
    x = torch.rand(5, *shape).mul(255).round().div(255)
    q = model.encode(x)
    assert isinstance(q, Distribution) and q.batch_shape == (5,) and q.event_shape == (3,)
    z = q.rsample()
    px = model.decode(z)
    assert px.batch_shape == (5,) and px.event_shape == shape
    stacked = model.decode(torch.stack([z, z]))  # leading sample axis, as the importance-weighted bound uses
    assert stacked.batch_shape == (2, 5)
    torch.testing.assert_close(stacked.log_prob(x)[1], px.log_prob(x))
    assert model.elbo(x).shape == (5,)
    assert model.sample(4, seed=0).shape == (4, *shape)
    assert model.reconstruct(x).shape == x.shape
    loss = model.loss(x)
    assert loss.value.dim() == 0 and set(loss.terms) == {"elbo", "reconstruction", "kl"}


def test_loss_falls_on_real_data(mnist_binary, tiny_vae) -> None:
    from vaekit.evaluate import mean_elbo
    before = mean_elbo(tiny_vae, mnist_binary.valid)["elbo"]
    fit(tiny_vae, mnist_binary, epochs=2, progress=False)
    after = mean_elbo(tiny_vae, mnist_binary.valid)["elbo"]
    assert after > before + 100  # from ~550 nats at initialization to well under 450


def test_samples_are_seeded_and_in_range(tiny_vae) -> None:
    a, b = tiny_vae.sample(8, seed=3), tiny_vae.sample(8, seed=3)
    assert torch.equal(a, b) and not torch.equal(a, tiny_vae.sample(8, seed=4))
    assert a.min() >= 0 and a.max() <= 1
    drawn = tiny_vae.sample(8, seed=3, mean=False)
    assert set(drawn.unique().tolist()) <= {0.0, 1.0}


def test_iwae_estimate_is_at_least_the_elbo(mnist_binary, tiny_vae) -> None:
    fit(tiny_vae, mnist_binary, epochs=1, progress=False)
    x = mnist_binary.test.x[:50]
    torch.manual_seed(0)
    elbo = torch.stack([tiny_vae.elbo(x) for _ in range(20)]).mean(0)
    assert tiny_vae.log_likelihood(x, k=500).mean() > elbo.mean()


def test_free_bits_and_beta_weigh_the_kl_as_the_papers_write(mnist_binary) -> None:
    """loss = -E[log p(x|z)] + beta * KL (Higgins et al.), and with free bits lambda the KL of each latent
    dimension, averaged over the batch, counts at least lambda (Kingma et al. 2016)."""
    from vaekit import objectives
    x = mnist_binary.test.x[:64]
    torch.manual_seed(0)
    plain = VAE(data_shape=(1, 28, 28), latent_dim=4, hidden=[32])
    torch.manual_seed(1)
    t = objectives.elbo_terms(plain, x)  # the same noise as each loss below
    reconstruction, kl_per_dim = -t.reconstruction.mean(), t.kl_per_dim.mean(0)
    for options, kl in (({}, kl_per_dim.sum()), ({"beta": 4.0}, 4.0 * kl_per_dim.sum()),
                        ({"free_bits": 2.0}, kl_per_dim.clamp(min=2.0).sum())):
        model = VAE(data_shape=(1, 28, 28), latent_dim=4, hidden=[32], **options)
        model.load_state_dict(plain.state_dict())
        torch.manual_seed(1)
        torch.testing.assert_close(model.loss(x).value, reconstruction + kl, rtol=1e-5, atol=1e-4)
    assert kl_per_dim.min() < 2.0  # free bits of 2 nats lift at least one dimension here


def test_bad_inputs_are_named() -> None:
    model = VAE(data_shape=(1, 28, 28), latent_dim=2, hidden=[8])
    with pytest.raises(ValueError, match=r"expected inputs of shape \(B, 1, 28, 28\)"):
        model.elbo(torch.zeros(2, 784))
    with pytest.raises(ValueError, match="NaN"):
        model.reconstruct(torch.full((1, 1, 28, 28), float("nan")))
    with pytest.raises(TypeError):
        model.elbo([[0.0]])
    with pytest.raises(ValueError, match="positive"):
        model.sample(0)
    with pytest.raises(ValueError, match="data_shape"):
        VAE(latent_dim=2)
    with pytest.raises(ValueError, match="latent_dim"):
        VAE(data_shape=(1, 4, 4), latent_dim=0)


def test_save_load_round_trip(tmp_path, tiny_vae) -> None:
    x = torch.rand(3, 1, 28, 28).round()
    save(tiny_vae, tmp_path / "m")
    loaded = vaekit.load(tmp_path / "m")
    assert isinstance(loaded, VAE) and loaded.config == tiny_vae.config
    torch.testing.assert_close(loaded.reconstruct(x), tiny_vae.reconstruct(x))
    for name, value in tiny_vae.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], value)


def test_corrupt_truncated_and_mismatched_models_are_refused(tmp_path, tiny_vae) -> None:
    path = save(tiny_vae, tmp_path / "m")
    weights = path / "model.safetensors"
    original = weights.read_bytes()

    weights.write_bytes(original[: len(original) // 2])
    with pytest.raises(ModelFileError, match="corrupt, truncated"):
        vaekit.load(path)

    flipped = bytearray(original)
    flipped[-10] ^= 0x01
    weights.write_bytes(bytes(flipped))
    with pytest.raises(ModelFileError, match="checksum"):
        vaekit.load(path)

    other = save(VAE(data_shape=(1, 28, 28), latent_dim=5, hidden=[64]), tmp_path / "other")
    (path / "model.safetensors").write_bytes((other / "model.safetensors").read_bytes())
    meta = json.loads((path / "config.json").read_text())
    meta["weights_sha256"] = json.loads((other / "config.json").read_text())["weights_sha256"]
    (path / "config.json").write_text(json.dumps(meta))
    with pytest.raises(ModelFileError, match="another architecture"):
        vaekit.load(path)

    (path / "config.json").write_text("{not json")
    with pytest.raises(ModelFileError, match="not valid JSON"):
        vaekit.load(path)
    with pytest.raises(ModelFileError, match="config.json is missing"):
        vaekit.load(tmp_path / "nowhere")


@pytest.mark.parametrize("training", [True, False])
def test_the_public_verbs_leave_the_callers_mode_and_random_state(mnist_binary, training: bool) -> None:
    """evaluate, the few-label probe, a classifier's draws and sampling switch the model to eval mode and seed
    their own draws; the caller's mode and global random state are as they were after each."""
    from vaekit.evaluate import evaluate, latent_probe_error
    from vaekit.models import BayesianClassifier
    from vaekit.uncertainty import draws_over

    torch.manual_seed(0)
    model = VAE(data_shape=(1, 28, 28), latent_dim=2, hidden=[16])
    bnn = BayesianClassifier(data_shape=(1, 28, 28), num_classes=10, hidden=[16], dataset_size=2000)
    test = mnist_binary.test.subset(slice(0, 20))
    calls = [lambda: evaluate(model, test, k=3), lambda: model.sample(2, seed=1),
             lambda: latent_probe_error(model, mnist_binary.train, test, per_class=2),
             lambda: draws_over(bnn, test, samples=2, seed=0)]
    for call in calls:
        model.train(training), bnn.train(training)
        state = torch.get_rng_state()
        call()
        assert model.training is training and bnn.training is training
        assert torch.equal(torch.get_rng_state(), state)
