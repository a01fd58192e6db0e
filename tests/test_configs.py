"""Every recipe in configs/ validates and builds a model whose loss is finite on a real batch."""
from __future__ import annotations

import math
from pathlib import Path

import pytest

from vaekit.config import load_config
from vaekit.models import build_model

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
