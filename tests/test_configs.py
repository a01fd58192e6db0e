"""Every recipe in configs/ builds a model whose loss is finite on a real batch of its data; every image model takes
every architecture and any image size."""
from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from vaekit import ModelConfig
from vaekit.config import HIERARCHICAL, LABELLED, RECURRENT, load_config
from vaekit.contract import Batch, Classifies, Density, Latent, LearnsFromLabels
from vaekit.data import load_data
from vaekit.data.synthetic import kitchen_sentences, shape_images, spoken_words
from vaekit.models import MODELS, build_model
from vaekit.run import model_config_for

CONFIGS = sorted((Path(__file__).resolve().parent.parent / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_recipe_builds(path: Path, mnist_binary, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = load_config(path)
    if config.data.name.startswith("path/to/your/"):  # configs/own-*.yaml: data made here
        made = {"own-images": lambda: shape_images(tmp_path / "shapes", per_class=20),
                "own-text": lambda: kitchen_sentences(tmp_path / "kitchen.txt", count=100),
                "own-audio": lambda: spoken_words(tmp_path / "words", per_word=2)}[path.stem]()
        config = config.model_copy(update={"data": config.data.model_copy(update={"name": str(made)})})
    data = mnist_binary if config.data.name.endswith("mnist") else load_data(config.data)  # text, audio: their own
    model = build_model(model_config_for(config.model, data))
    if data.tokenizer is not None:
        model.tokenizer = data.tokenizer
    x, y = next(data.test.labelled_batches(8, shuffle=False))
    if config.data.name == "mnist":  # 8-bit recipes: the same images as pixel values in [0, 1]
        x = x * 0.5 + 0.25
    for _, loss in model.steps(Batch(x, y)):
        assert math.isfinite(loss.value.item())


LAYERS = [{"latent": 4, "hidden": [16]}, {"latent": 2, "hidden": [8]}]


@pytest.mark.parametrize("architecture", ["mlp", "conv", "resnet"])
@pytest.mark.parametrize("name", sorted(set(MODELS) - set(RECURRENT)))  # recurrent: test_text.py, test_audio.py
def test_every_model_every_architecture(name: str, architecture: str) -> None:
    torch.manual_seed(0)
    shape = (3, 13, 11)
    options: dict[str, object] = dict(layers=LAYERS) if name in HIERARCHICAL else dict(latent_dim=4)
    if name in LABELLED or name == "clustering-aae":  # classes, or clusters
        options["num_classes"] = 3
    if name == "vq-vae":
        options["codebook_size"] = 5
    config = dict(name=name, data_shape=shape, architecture=architecture, hidden=[16], channels=[4, 8],
                  likelihood="logistic-mixture", mixture_components=2, prior_components=3, **options)
    if name == "vq-vae" and architecture == "mlp":  # its codes are a grid: a clear refusal
        with pytest.raises(ValueError, match="conv or resnet"):
            ModelConfig(**config)  # type: ignore[arg-type]
        return
    model = build_model(ModelConfig(**config))  # type: ignore[arg-type]
    x = torch.rand(6, *shape).mul(255).round().div(255)
    y = torch.tensor([0, 1, 2, 0, 1, 2]) if isinstance(model, LearnsFromLabels) else None
    losses = [out.value for _, out in model.steps(Batch(x, y))]  # a phased step (adversarial): every phase's loss
    assert len(losses) == len(model.optimizer_groups())
    for loss in losses:
        loss.backward(retain_graph=True)
        assert math.isfinite(loss.item())
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
    if not isinstance(model, Latent):  # a classifier: p(y|x) for any input size, and nothing to sample
        assert isinstance(model, Classifies) and model.classify(x).shape == (6, 3)
        assert not hasattr(model, "sample") and not isinstance(model, Density)
        return
    assert model.sample(2, seed=0, y=None if y is None else 1).shape == (2, *shape)
    assert model.reconstruct(x, y).shape == x.shape
