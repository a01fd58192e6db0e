"""The round trip on a CUDA GPU: train, evaluate, sample and compress a model that lives on the GPU. The only tests
that may skip: on a machine without CUDA there is nothing to run them on (tests/test_devices.py runs the same
device-aware code on the CPU)."""
from __future__ import annotations

import pytest
import torch

from vaekit import VAE, DataConfig, TrainConfig, compress, decompress, fit, load_data
from vaekit.evaluate import evaluate
from vaekit.models import ConditionalVAE
from vaekit.train import Trainer

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
def test_train_evaluate_sample_and_compress_on_cuda(precision: str) -> None:
    data = load_data(DataConfig(name="binarized-mnist", limit=2000, validation=200))
    torch.manual_seed(0)
    model = ConditionalVAE(data_shape=(1, 28, 28), num_classes=10, latent_dim=8, hidden=[128])
    fit(model, data, epochs=2, batch_size=100, device="cuda", precision=precision, progress=False,
        expected_steps=0)
    assert all(p.device.type == "cuda" for p in model.parameters())
    report = evaluate(model, data.test.subset(slice(0, 50)), k=50, progress=False)
    assert report.elbo is not None and report.elbo > -250  # it learned (untrained: about -550)
    assert model.sample(4, seed=0, y=3).device.type == "cuda"
    x, y = data.test.x[:20], data.test.y[:20]
    coded = compress(model, x, labels=y)  # coded on a CPU copy: the same bytes as a CPU model's
    assert compress(model.cpu(), x, labels=y) == coded
    out = decompress(model.cuda(), coded)
    decoded, labels = out.x, out.labels
    assert torch.equal(torch.as_tensor(decoded), x) and torch.equal(torch.as_tensor(labels).long(), y)


def test_an_unconditional_model_follows_its_device() -> None:
    model = VAE(data_shape=(1, 28, 28), latent_dim=4, hidden=[16]).cuda()
    x = torch.rand(3, 1, 28, 28).round()
    assert model.elbo(x).device.type == "cuda"  # CPU input moves to the model's device
    assert model.reconstruct(x).device.type == "cuda"


def test_an_fp16_run_resumed_on_cuda_repeats_the_uninterrupted_one(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # the checkpoint keeps the GPU's generator (the reparameterization noise) and fp16's loss scale
    data = load_data(DataConfig(name="binarized-mnist", limit=1000, validation=0))
    config = dict(epochs=2, batch_size=100, progress=False, device="cuda", precision="fp16", checkpoint_every=3)

    def model() -> VAE:
        torch.manual_seed(0)
        return VAE(data_shape=(1, 28, 28), latent_dim=8, hidden=[64])

    whole = model()
    Trainer(whole, TrainConfig(**config), tmp_path / "whole").fit(data)
    Trainer(model(), TrainConfig(**config, max_minutes=1e-9), tmp_path / "cut").fit(data)  # stops after a step
    resumed = model()
    Trainer(resumed, TrainConfig(**config), tmp_path / "cut").fit(data, resume=True)
    for name, value in whole.state_dict().items():
        assert torch.equal(resumed.state_dict()[name], value), name
