"""Models registered by name, so configs and the CLI find them."""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from vaekit.config import ModelConfig
    from vaekit.models.base import LatentVariableModel

MODELS: dict[str, type["LatentVariableModel"]] = {}
M = TypeVar("M", bound=type["LatentVariableModel"])


def register(name: str) -> Callable[[M], M]:
    """Class decorator: make a model buildable from a config whose ``name`` is ``name``."""
    def add(cls: M) -> M:
        if name in MODELS:
            raise ValueError(f"model name '{name}' is registered twice")
        MODELS[name] = cls
        cls.registered_name = name
        return cls
    return add


def build_model(config: "ModelConfig") -> "LatentVariableModel":
    """Instantiate the registered model that ``config.name`` names."""
    if config.name not in MODELS:
        raise ValueError(f"unknown model '{config.name}'; registered: {', '.join(sorted(MODELS))}")
    return MODELS[config.name](config)
