"""Every recipe in configs/ builds a model whose loss is finite on a real batch of its data; every image model takes
every architecture and any image size."""
from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from vaekit.config import ConfigError, load_config, make_config, model_config
from vaekit.contract import Batch, Classifies, Density, Latent, LearnsFromLabels
from vaekit.data import load_data
from vaekit.data.synthetic import kitchen_sentences, shape_images, spoken_words
from vaekit.model_fields import Recurrent
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
@pytest.mark.parametrize("name", sorted(n for n, cls in MODELS.items()  # recurrent: test_text.py, test_audio.py
                                         if not issubclass(cls.Config, Recurrent)))
def test_every_model_every_architecture(name: str, architecture: str) -> None:
    torch.manual_seed(0)
    shape = (3, 13, 11)
    small = dict(name=name, data_shape=shape, architecture=architecture, hidden=[16], channels=[4, 8], latent_dim=4,
                 layers=LAYERS, num_classes=3, codebook_size=5, likelihood="logistic-mixture", mixture_components=2,
                 prior_components=3)  # each model takes the keys its config has
    config = {key: value for key, value in small.items() if key in MODELS[name].Config.model_fields}
    if name == "vq-vae" and architecture == "mlp":  # its codes are a grid: a clear refusal
        with pytest.raises(ValueError, match="conv or resnet"):
            model_config(config)
        return
    model = build_model(model_config(config))
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


def test_a_misplaced_key_names_the_models_that_have_it() -> None:
    with pytest.raises(ConfigError, match=r"iwae has no key 'free_bits'; it is a key of .*sentence-vae.*, vae"):
        make_config({"model": {"name": "iwae", "free_bits": 0.5}})
    with pytest.raises(ConfigError, match="unknown model 'vea'; registered: aae, "):
        make_config({"model": {"name": "vea"}})


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_a_saved_recipe_reads_back_as_the_same_config(path: Path, tmp_path: Path) -> None:
    from vaekit.config import save_config
    config = load_config(path)
    save_config(config, tmp_path / "config.yaml")
    again = load_config(tmp_path / "config.yaml")
    assert type(again.model) is type(config.model) and again == config  # every key of the model's own config


def test_a_model_file_of_vaekit_0_3_loads(tmp_path: Path) -> None:
    """0.3 wrote every model's keys into each file (the others at inert defaults); 0.4 reads them, and refuses
    the same stray key in a file it wrote itself."""
    import json

    import vaekit
    vaekit.save(build_model(model_config({"name": "iwae", "data_shape": (4,), "latent_dim": 2, "hidden": [3]})),
                tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "config.json").read_text())
    meta["model"].update(free_bits=0.0, codebook_size=512, dropout=0.0)
    (tmp_path / "m" / "config.json").write_text(json.dumps({**meta, "vaekit_version": "0.3.0"}))
    assert vaekit.load(tmp_path / "m").config.latent_dim == 2
    (tmp_path / "m" / "config.json").write_text(json.dumps(meta))
    with pytest.raises(vaekit.ModelFileError, match="iwae has no key 'free_bits'"):
        vaekit.load(tmp_path / "m")
