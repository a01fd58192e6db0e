"""Every recipe in configs/ builds a model whose loss is finite on a real batch; every model takes every
architecture and any image size."""
from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from vaekit import ModelConfig
from vaekit.config import load_config
from vaekit.models import MODELS, build_model

CONFIGS = sorted((Path(__file__).resolve().parent.parent / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_recipe_builds(path: Path, mnist_binary) -> None:  # type: ignore[no-untyped-def]
    config = load_config(path)
    assert config.data.name.endswith("mnist")
    model = build_model(config.model.model_copy(update={"data_shape": mnist_binary.data_shape}))
    x = mnist_binary.test.x[:8]
    if config.data.name == "mnist":  # 8-bit recipes: the same images as pixel values in [0, 1]
        x = x * 0.5 + 0.25
    assert math.isfinite(model.loss(x).value.item())


LAYERS = [{"latent": 4, "hidden": [16]}, {"latent": 2, "hidden": [8]}]


@pytest.mark.parametrize("architecture", ["mlp", "conv", "resnet"])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_every_architecture(name: str, architecture: str) -> None:
    torch.manual_seed(0)
    shape = (3, 13, 11)
    options = dict(layers=LAYERS) if name in ("hierarchical-vae", "ladder-vae") else dict(latent_dim=4)
    model = build_model(ModelConfig(name=name, data_shape=shape, architecture=architecture, hidden=[16],
                                    channels=[4, 8], likelihood="logistic-mixture", mixture_components=2,
                                    prior_components=3, **options))
    x = torch.rand(6, *shape).mul(255).round().div(255)
    loss = model.loss(x).value
    loss.backward()
    assert math.isfinite(loss.item())
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
    assert model.sample(2, seed=0).shape == (2, *shape) and model.reconstruct(x).shape == x.shape
