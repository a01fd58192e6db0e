"""Models registered by name, so configs and the CLI find them."""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import torch
from torch import nn

from vaekit.config import register_config
from vaekit.limits import check_fits

if TYPE_CHECKING:
    from vaekit.config import ModelConfig
    from vaekit.models.base import Model

MODELS: dict[str, type["Model"]] = {}
M = TypeVar("M", bound=type["Model"])


def register(name: str, config: type["ModelConfig"]) -> Callable[[M], M]:
    """Class decorator: make a model buildable from a config whose ``name`` is ``name``, validated by ``config``
    (a subclass of :class:`vaekit.config.ModelConfig` with ``name: Literal[name]``). A model outside vaekit
    registers the same way, on import of its module."""
    def add(cls: M) -> M:
        old = MODELS.get(name)
        if old is not None and (old.__module__, old.__qualname__) != (cls.__module__, cls.__qualname__):
            raise ValueError(f"model name '{name}' is registered twice ({old.__module__}.{old.__qualname__} and "
                             f"{cls.__module__}.{cls.__qualname__})")  # the same class again: a module reloaded
        register_config(name, config)
        MODELS[name] = cls
        cls.registered_name = name
        cls.Config = config
        return cls
    return add


_SIZE_FIELDS = ("data_shape", "latent_dim", "hidden", "channels", "codebook_size", "prior_components", "embedding_dim",
                "vocab_size", "discriminator", "mixture_components")


def model_class(name: str) -> type["Model"]:
    """The class registered under ``name``, or a ValueError naming the registered ones."""
    if name not in MODELS:
        raise ValueError(f"unknown model '{name}'; registered: {', '.join(sorted(MODELS))}")
    return MODELS[name]


def build_model(config: "ModelConfig", **networks: nn.Module) -> "Model":
    """Instantiate the registered model that ``config.name`` names (with the user's own ``networks``, e.g.
    encoder=..., decoder=..., where the model takes them)."""
    cls = model_class(config.name)
    if not networks:
        check_size(config)
    return cls(config, **networks)


def skeleton(config: "ModelConfig") -> "Model | None":
    """The model built on PyTorch's meta device: its shapes without its memory (None for a model whose
    construction reads values, which meta tensors lack: Pyro's autoregressive networks)."""
    validate = torch.distributions.Distribution._validate_args
    torch.distributions.Distribution.set_default_validate_args(False)
    try:
        with torch.device("meta"):
            return MODELS[config.name](config)
    except (RuntimeError, NotImplementedError):
        return None
    finally:
        torch.distributions.Distribution.set_default_validate_args(validate)


def check_size(config: "ModelConfig") -> None:
    """Refuse, before allocating, a model whose training state (weights, gradients and Adam's two moments, float32)
    would not fit in memory, naming its size fields."""
    model = skeleton(config)
    if model is None:
        return
    count = sum(p.numel() for p in model.parameters())
    fields = type(config).model_fields  # name the sizes this config sets, not every default
    sizes = {k: v for k, v in config.model_dump().items() if k in _SIZE_FIELDS and v is not None
             and (k == "data_shape" or v != fields[k].get_default(call_default_factory=True))}
    check_fits(16.0 * count, f"a {config.name} of {count:,} parameters ("
                             + ", ".join(f"model.{k}={str(v)[:60]}" for k, v in sizes.items()) + ")")
