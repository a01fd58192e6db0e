"""A saved model is a directory: ``config.json`` (what to build) + ``model.safetensors`` (the weights), and for a
text model ``tokenizer.json`` (its vocabulary).

Loading reads JSON and safetensors only: nothing is ever unpickled. The config records the
weights' SHA-256, so a corrupt, truncated or swapped weights file is caught before use.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from pydantic import ValidationError
from safetensors import SafetensorError
from safetensors.torch import load as load_weights
from safetensors.torch import save as save_weights
from torch import nn

from vaekit.atomic import atomic_write, atomic_write_text
from vaekit.config import MODEL_CONFIGS, DataRecord, ModelConfig, describe, import_plugin, model_config
from vaekit.contract import Sentences
from vaekit.data.tokenizer import Tokenizer, load_tokenizer
from vaekit.models import MODELS, Model, build_model
from vaekit.models.registry import skeleton
from vaekit.version import __version__

FORMAT = "vaekit-model"
FORMAT_VERSION = 1
CONFIG_FILE, WEIGHTS_FILE, TOKENIZER_FILE = "config.json", "model.safetensors", "tokenizer.json"


class ModelFileError(ValueError):
    """A saved model that cannot be loaded; the message says which file and why."""


def weights_bytes(model: Model) -> bytes:
    """The model's weights serialized as safetensors (deterministic: same weights, same bytes)."""
    return save_weights({k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()})


def weights_sha256(model: Model) -> str:
    """SHA-256 of :func:`weights_bytes`, as recorded in a saved model's config.json."""
    return hashlib.sha256(weights_bytes(model)).hexdigest()


def model_sha256(model: Model) -> str:
    """The model's identity for a compressed file: SHA-256 of its weights and of the config that builds its
    network (same weights under another activation or likelihood compute other outputs)."""
    digest = hashlib.sha256(weights_bytes(model))
    digest.update(json.dumps(model.config.model_dump(mode="json"), sort_keys=True).encode())
    return digest.hexdigest()


def save_model(model: Model, directory: str | Path) -> Path:
    """Write the model's config and weights atomically into ``directory`` (created if needed)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    raw = weights_bytes(model)
    atomic_write(directory / WEIGHTS_FILE, lambda tmp: tmp.write_bytes(raw))
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "vaekit_version": __version__,
            "model": model.config.model_dump(mode="json"), "module": type(model).__module__,
            "own_networks": list(model.own_networks),
            "weights_sha256": hashlib.sha256(raw).hexdigest()}
    if model.trained_on is not None:
        meta["trained_on"] = model.trained_on.model_dump(mode="json")
    if isinstance(model, Sentences):
        if model.tokenizer is None:
            raise ValueError(f"{model.registered_name} needs its tokenizer to be saved: set model.tokenizer")
        tokenizer = model.tokenizer
        atomic_write(directory / TOKENIZER_FILE, lambda tmp: tokenizer.save(tmp))
        meta["tokenizer_sha256"] = tokenizer.sha256()
    atomic_write_text(directory / CONFIG_FILE, json.dumps(meta, indent=2) + "\n")
    return directory


def read_config(directory: Path) -> dict:
    path = directory / CONFIG_FILE
    if not path.is_file():
        raise ModelFileError(f"{directory} is not a saved vaekit model: {CONFIG_FILE} is missing")
    try:
        meta = json.loads(path.read_text())
    except RecursionError:
        raise ModelFileError(f"{path} is nested too deeply to be a model config") from None
    except ValueError as error:  # bad JSON or UTF-8, or a number of thousands of digits
        raise ModelFileError(f"{path} is not valid JSON ({str(error).splitlines()[0][:200]})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not a vaekit model config (no format '{FORMAT}')")
    if meta.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(f"{path} has format version {meta.get('format_version')}; "
                             f"this vaekit reads version {FORMAT_VERSION}")
    return meta


def _saved_model_config(directory: Path, meta: dict) -> ModelConfig:
    """The saved model's config, its model's module imported first when that is not vaekit (a plugin). A file
    of vaekit 0.3 lists every model's keys; those the named model lacks held inert defaults and are dropped."""
    tree, module = meta.get("model"), meta.get("module")
    if not isinstance(tree, dict):
        raise ModelFileError(f"{directory / CONFIG_FILE}: the model config is not a mapping")
    if tree.get("name") not in MODEL_CONFIGS and isinstance(module, str):
        import_plugin(module, f"{directory / CONFIG_FILE}'s model '{tree.get('name')}'", ModelFileError)
    config_class = MODEL_CONFIGS.get(tree.get("name"))  # type: ignore[arg-type]
    if config_class is not None and str(meta.get("vaekit_version", "")).startswith("0.3."):
        tree = {key: value for key, value in tree.items() if key in config_class.model_fields}
    try:
        return model_config(tree)
    except ValidationError as error:
        raise ModelFileError(f"{directory / CONFIG_FILE}: invalid model config: {describe(error)}") from None
    except ValueError as error:
        raise ModelFileError(f"{directory / CONFIG_FILE}: invalid model config: {error}") from None


def load(directory: str | Path, **networks: nn.Module) -> Model:
    """``vaekit.load(path)``: rebuild a saved model from its config and load its verified weights (eval mode).
    A model built with your own networks loads when you hand the same networks back:
    ``vaekit.load(path, encoder=Encoder(), decoder=Decoder())`` (their weights come from the file)."""
    directory = Path(directory)
    meta = read_config(directory)
    config = _saved_model_config(directory, meta)
    saved_with = meta.get("own_networks") or []
    if sorted(networks) != sorted(saved_with):
        need = ", ".join(f"{name}=..." for name in saved_with) or "no networks"
        raise ModelFileError(f"{directory} was saved with " + (f"your own {' and '.join(saved_with)}" if saved_with
                             else "the networks its config describes") + f": load it with vaekit.load(path, {need})"
                             + (f", not {', '.join(sorted(networks))}" if networks else ""))
    weights = directory / WEIGHTS_FILE
    if not weights.is_file():
        raise ModelFileError(f"{directory}: {WEIGHTS_FILE} is missing")
    raw = weights.read_bytes()  # read once: checksum, then parse
    if hashlib.sha256(raw).hexdigest() != meta.get("weights_sha256"):
        raise ModelFileError(f"{weights} does not match the checksum in {CONFIG_FILE}: "
                             "the file is corrupt, truncated or from another model")
    try:
        state = load_weights(raw)
    except (SafetensorError, OSError) as error:
        raise ModelFileError(f"{weights} is not a readable safetensors file ({error})") from None
    shapes = skeleton(config) if config.name in MODELS and not networks else None  # shapes before memory is spent
    built = None if shapes is not None else build_model(config, **networks)
    expected = (shapes or built).state_dict()  # type: ignore[union-attr]
    if set(state) != set(expected) or any(state[k].shape != expected[k].shape for k in expected):
        raise ModelFileError(f"{weights} holds weights of another architecture than {CONFIG_FILE} describes")
    if any(t.is_floating_point() and not bool(torch.isfinite(t).all()) for t in state.values()):
        raise ModelFileError(f"{weights} holds NaN or infinite weights: the model diverged before it was saved")
    model = built if built is not None else build_model(config, **networks)
    model.load_state_dict(state)
    if meta.get("trained_on") is not None:
        try:
            model.trained_on = DataRecord.model_validate(meta["trained_on"])
        except ValidationError as error:
            raise ModelFileError(f"{directory / CONFIG_FILE}: invalid record of the training data: "
                                 f"{error.errors()[0]['msg']}") from None
    if isinstance(model, Sentences):
        model.tokenizer = _tokenizer(directory, meta)
    return model.eval()


def _tokenizer(directory: Path, meta: dict) -> Tokenizer:
    path = directory / TOKENIZER_FILE
    if not path.is_file():
        raise ModelFileError(f"{directory}: {TOKENIZER_FILE} is missing; a text model cannot read or write text "
                             "without it")
    tokenizer = load_tokenizer(path)
    if tokenizer.sha256() != meta.get("tokenizer_sha256"):
        raise ModelFileError(f"{path} is not the tokenizer this model was trained with (its checksum differs)")
    if len(tokenizer) != meta["model"]["vocab_size"]:
        raise ModelFileError(f"{path} has {len(tokenizer)} tokens; the model's vocabulary has "
                             f"{meta['model']['vocab_size']}")
    return tokenizer

