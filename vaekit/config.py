"""Validated run configuration: YAML in, pydantic models out, errors a person can act on.

A run is a :class:`RunConfig`: what data, which model, how to train, how to evaluate.
``load_config(path, overrides)`` reads YAML and applies ``key.sub=value`` overrides.
"""
from __future__ import annotations

import difflib
import importlib
import os
import re
import reprlib
import sys
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, SerializeAsAny, ValidationError, field_validator, model_validator


class ConfigError(ValueError):
    """A configuration that cannot be used; the message names the key and what is accepted."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DataConfig(_Strict):
    """Where the data comes from and how it is split."""

    name: str = "binarized-mnist"  # a named set (`vaekit data list`) or a path: image folder, .npy, .npz
    root: Path | None = None  # data directory; default $VAEKIT_DATA, then ~/.cache/vaekit
    download: bool = True  # fetch a named set from its public origin when it is not found locally
    # held out for validation (vaekit.data.dataset.split_sizes): a fraction below 1 of all the examples (at most
    # 5,000) or a count; 0 for none. Validation and test together may take at most half of the examples.
    validation: int | float = Field(0.1, ge=0)
    test: int | float = Field(0.1, ge=0)  # sets without a test split (folders, arrays, text, audio): the same rule,
    # a fraction at most 10,000
    limit: int | None = Field(None, ge=1)  # keep only the first N training examples (quick runs)
    labels_per_class: int | None = Field(None, ge=1)  # semi-supervised: keep N training labels per class (seeded)
    image_size: tuple[int, int] | None = None  # (height, width) for image folders; default: first image's
    resize: Literal["resize", "center-crop"] = "resize"
    channels: Literal[1, 3] | None = None  # image folders: 1 = grey, 3 = RGB; default: RGB if any image has colour
    levels: int | None = Field(None, ge=2, le=256)  # 8-bit files: the grey levels that occur; default detected
    # keep the examples on disk and read each batch when it is needed: a .npy's rows, an image folder's files
    # (decoded in data.workers processes); default: a folder whose decoded images would pass 1 GiB, never a .npy
    stream: bool | None = None
    workers: int | None = Field(None, ge=0, le=64)  # streamed image folders: decoding processes (default: cores, <= 4)
    labels: Path | None = None  # a .npy of integer labels, one per row of a .npy data file
    tokenizer: Literal["word", "sentencepiece"] = "word"  # text: words (rest <unk>) or SentencePiece subwords
    vocab_size: int = Field(10000, ge=8)  # text: tokens in the vocabulary, the four specials included
    lowercase: bool = False  # text, word tokenizer: fold case (the codec then cannot restore the text)
    max_length: int = Field(50, ge=2)  # text: sentences of more tokens (with </s>) are left out
    seed: int = Field(0, ge=0, lt=2**32)  # seeds the split and the fixed binarization of validation/test data

    @model_validator(mode="after")
    def _check_sizes(self) -> "DataConfig":
        for key in ("validation", "test"):
            value = getattr(self, key)
            if value >= 1 and value != int(value):
                raise ValueError(f"data.{key} is a fraction below 1 or a whole count of examples; got {value}")
        return self


class DataRecord(_Strict):
    """What a saved model was trained on, so that every command finds that data again: the data config (a path
    made absolute) and the class names (folders' names; a label is an index into them)."""

    data: DataConfig | None = None
    classes: list[str] | None = None


class AudioConfig(_Strict):
    """How waveforms become log-mel spectrograms (vaekit.data.spectrogram) and back; saved with an audio model."""

    sample_rate: int = Field(16000, ge=1000, le=192000)
    n_fft: int = Field(1024, ge=16)
    hop: int = Field(250, ge=1)
    n_mels: int = Field(64, ge=4)
    frames: int = Field(64, ge=2)
    mean: float = 0.0  # the training set's log-mel mean and standard deviation (standardization)
    std: float = Field(1.0, gt=0.0)

    @property
    def clip_samples(self) -> int:
        """Samples per clip: hop * (frames - 1) gives exactly ``frames`` centred STFT frames."""
        return self.hop * (self.frames - 1)

    @property
    def seconds(self) -> float:
        return self.clip_samples / self.sample_rate


Activation = Literal["relu", "tanh", "elu", "softplus", "leaky_relu"]


class ModelConfig(_Strict):
    """What every model's config holds: its name, the shape of its data and its MLP widths. Each model's own
    config (beside it in vaekit/models/) adds the field groups of vaekit.model_fields that the model reads."""

    name: str
    data_shape: tuple[int, ...] | None = None  # (C, H, W), (T, D) or (D,); filled in from the data
    hidden: list[int] = Field(default_factory=lambda: [400])  # MLP widths (mirrored in the decoder)
    activation: Activation = "relu"
    audio: AudioConfig | None = None  # spectrogram models: how to turn their outputs into sound; from the data

    @model_validator(mode="after")
    def _positive_widths(self) -> "ModelConfig":
        widths = [w for key in ("hidden", "channels", "discriminator") for w in getattr(self, key, [])]
        if any(w < 1 for w in widths + [w for layer in getattr(self, "layers", []) for w in layer.hidden]):
            raise ValueError("hidden and channels widths must be positive")
        return self


MODEL_CONFIGS: dict[str, type[ModelConfig]] = {}


def register_config(name: str, config: type[ModelConfig]) -> None:
    """Make ``config`` the class that validates a model config named ``name`` (vaekit.models.register calls it)."""
    if get_args(config.model_fields["name"].annotation) != (name,):
        raise TypeError(f"{config.__name__}.name must be Literal['{name}'], the name it is registered under")
    MODEL_CONFIGS[name] = config


def import_plugin(module: str, what: str, error: type[Exception] = ValueError) -> None:
    """Import the user's module that registers models (a recipe's ``plugins``, a saved plugin model's module),
    or raise ``error`` naming it: one line, never the module's traceback."""
    if not isinstance(module, str) or not all(part.isidentifier() for part in module.split(".")):
        raise error(f"{what}: '{module}' is not a Python module name such as my_models or lab.models")
    if "" not in sys.path and os.getcwd() not in sys.path:  # the user's own folder, as `python -m` has it
        sys.path.append(os.getcwd())
    try:
        importlib.import_module(module)
    except Exception as failure:  # noqa: BLE001 (the user's module: any failure is reported in one line)
        raise error(f"{what} needs the module '{module}', which cannot be imported ({type(failure).__name__}: "
                    f"{str(failure).splitlines()[0][:200] if str(failure) else 'no message'}); install it or run "
                    "from the folder that holds it") from None


def model_config(tree: Any, recipe: bool = False) -> ModelConfig:
    """The config of the model that ``tree["name"]`` names (default vae): the union of the registered configs,
    discriminated on ``name``. A config is returned as it is. ``recipe``: a likelihood left out is ``auto``, the
    one that fits the data a run sees."""
    if isinstance(tree, ModelConfig):
        return tree
    if not isinstance(tree, dict):
        raise ValueError(f"a model config is a mapping of keys, got {type(tree).__name__}")
    name = tree.get("name", "vae")
    if not isinstance(name, str) or name not in MODEL_CONFIGS:
        raise ValueError(f"unknown model '{name}'; registered: {', '.join(sorted(MODEL_CONFIGS))}")
    config = MODEL_CONFIGS[name]
    for key in tree:
        if key not in config.model_fields:
            owners = sorted(n for n, c in MODEL_CONFIGS.items() if key in c.model_fields)
            near = difflib.get_close_matches(str(key), list(config.model_fields), n=1)
            raise ValueError(f"{name} has no key '{key}'" + (f"; it is a key of {', '.join(owners)}" if owners else
                                                             f" (did you mean '{near[0]}'?)" if near else ""))
    if recipe and "likelihood" in config.model_fields and "likelihood" not in tree:
        tree = {**tree, "likelihood": "auto"}
    return config.model_validate({**tree, "name": name})


class TrainConfig(_Strict):
    """How the one Trainer runs."""

    optimizer: Literal["adam", "sgd"] = "adam"
    lr: float = Field(1e-3, gt=0.0)
    phase_lr: dict[str, float] = Field(default_factory=dict)  # adversarial models: lr of a named optimizer
    momentum: float = Field(0.9, ge=0.0, lt=1.0)  # sgd only
    weight_decay: float = Field(0.0, ge=0.0)
    batch_size: int = Field(128, ge=1)
    epochs: int = Field(10, ge=1)
    steps: int | None = Field(None, ge=1)  # a budget in optimizer steps instead of epochs (the last epoch cut short)
    expected_steps: int = Field(1000, ge=0)  # warn when a run takes fewer steps: the recipe would under-train
    max_minutes: float | None = Field(None, gt=0.0)  # wall-clock budget; stops at the first step past it
    schedule: Literal["constant", "cosine", "exponential"] = "constant"
    lr_final: float = Field(0.1, gt=0.0, le=1.0)  # cosine/exponential: final lr as a fraction of lr
    kl_warmup_steps: int = Field(0, ge=0)  # KL weight rises from 0 to 1 over these steps (Sonderby et al. 2016)
    kl_schedule: Literal["linear", "sigmoid"] = "linear"  # the rise: a line, or a logistic curve (Bowman et al. 2016)
    complexity_weights: Literal["uniform", "blundell"] = "uniform"  # bnn: the KL's share per minibatch (sec. 3.4)
    labelled_per_batch: int = Field(0, ge=0)  # semi-supervised: labelled examples added to every batch
    grad_clip: float | None = Field(None, gt=0.0)  # max global gradient norm
    early_stopping: int | None = Field(None, ge=1)  # stop after this many epochs without a better validation ELBO
    checkpoint_every: int = Field(1000, ge=1)  # steps
    log_every: int = Field(50, ge=1)  # steps
    compile: bool = False  # torch.compile the loss (pays back its warm-up on runs of more than a minute)
    # where to train: auto (a GPU when one is present, else the CPU), cpu, cuda, cuda:N or mps (vaekit.devices)
    device: str = Field("auto", pattern=r"^(auto|cpu|mps|cuda(:[0-9]+)?)$")
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"  # bf16/fp16: torch.autocast (fp16 with a gradient scaler)
    seed: int = Field(0, ge=0, lt=2**32)
    progress: bool = True


class EvalConfig(_Strict):
    """What `vaekit evaluate` and the end of a training run measure and draw."""

    k: int = Field(5000, ge=1, le=1_000_000)  # importance samples for log p(x) (Burda et al. 2015 use 5000)
    limit: int | None = Field(None, ge=1)  # evaluate the first N test examples only
    batch_size: int = Field(32, ge=1)  # data points per importance-sampling batch
    samples: int = Field(64, ge=1)  # images in the sample grid
    weight_draws: int = Field(10, ge=1)  # bnn: weight draws each test prediction averages over
    ood: str | None = None  # classifiers: a data set (same shape) whose test split is scored as out of distribution
    seed: int = Field(0, ge=0, lt=2**32)


class RunConfig(_Strict):
    """One recipe: data, model, training and evaluation."""

    name: str = Field("run", pattern=r"^[A-Za-z0-9_.-]+$")
    plugins: list[str] = Field(default_factory=list)  # modules that register your own models, imported first
    out_dir: Path = Path("runs")
    data: DataConfig = Field(default_factory=DataConfig)
    model: SerializeAsAny[ModelConfig] = Field(default_factory=lambda: model_config({}, recipe=True))
    train: TrainConfig = Field(default_factory=TrainConfig)
    evaluate: EvalConfig = Field(default_factory=EvalConfig)

    @model_validator(mode="before")
    @classmethod
    def _import_plugins(cls, tree: Any) -> Any:
        """The user's modules register their models before the model config is looked up by name."""
        if isinstance(tree, dict) and isinstance(tree.get("plugins"), list):
            for module in tree["plugins"]:
                import_plugin(module, "plugins")
        return tree

    @field_validator("model", mode="before")
    @classmethod
    def _the_named_model(cls, tree: Any) -> ModelConfig:
        """The config class registered under the model's name validates it (a recipe's likelihood is auto)."""
        return model_config(tree, recipe=True)

    @property
    def run_dir(self) -> Path:
        return self.out_dir / self.name


_BRIEF = reprlib.Repr()
_BRIEF.maxlevel, _BRIEF.maxlist, _BRIEF.maxdict, _BRIEF.maxstring, _BRIEF.maxother, _BRIEF.maxlong = 2, 4, 4, 60, 60, 40
MAX_RECIPE_BYTES = 1 << 20
MAX_DEPTH = 32  # of nested lists and mappings in a recipe or an override


class _RecipeLoader(yaml.SafeLoader):
    """YAML without aliases (a billion-laughs recipe expands to gigabytes) and at most :data:`MAX_DEPTH` deep."""

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            raise yaml.YAMLError("aliases (*name) are not allowed in a recipe: write the value out")
        self._depth = getattr(self, "_depth", 0) + 1
        try:
            if self._depth > MAX_DEPTH:
                raise yaml.YAMLError(f"nested more than {MAX_DEPTH} levels deep")
            return super().compose_node(parent, index)  # type: ignore[no-untyped-call]
        finally:
            self._depth -= 1


def read_yaml(text: str, what: str) -> Any:
    """``text`` parsed as a recipe's YAML, or a ConfigError naming ``what`` and the first problem."""
    if len(text) > MAX_RECIPE_BYTES:
        raise ConfigError(f"{what} is {len(text):,} characters; a recipe has at most {MAX_RECIPE_BYTES:,}")
    try:
        return yaml.load(text, Loader=_RecipeLoader)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ConfigError(f"{what} is not valid YAML{where}: {problem}") from None


def describe(error: ValidationError) -> str:
    """A validation error as one line: each key and what was wrong with it (a section's own check: its message)."""
    parts = []
    for e in error.errors():
        where = ".".join(str(p) for p in e["loc"])
        if e["type"] == "extra_forbidden":
            parts.append(f"unknown key '{where}'")
        elif e["type"] == "value_error":
            message = e["msg"].removeprefix("Value error, ")
            parts.append(f"{where}: {message}" if where else message)
        else:
            got = _BRIEF.repr(e.get("input"))  # bounded in depth and length, whatever the input's size
            parts.append(f"{where or 'config'}: {e['msg']} (got {got if len(got) <= 80 else got[:77] + '...'})")
    return "; ".join(parts)


def _set(tree: dict[str, Any], dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    node = tree
    for key in keys[:-1]:
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise ConfigError(f"override '{dotted}': '{key}' is not a section")
        node = child
    node[keys[-1]] = value


def parse_overrides(overrides: list[str]) -> dict[str, Any]:
    """Turn ``["train.lr=3e-4", "model.hidden=[200,200]"]`` into a nested dict (values parsed as YAML)."""
    tree: dict[str, Any] = {}
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"override '{item}' is not of the form key.sub=value")
        _set(tree, key.strip(), read_yaml(raw, f"override '{item[:80]}'") if raw.strip() else None)
    return tree


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def make_config(tree: dict[str, Any]) -> RunConfig:
    """Validate a nested dict as a RunConfig, raising ConfigError with a readable message."""
    try:
        return RunConfig.model_validate(tree)
    except ValidationError as error:
        raise ConfigError(describe(error)) from None


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> RunConfig:
    """Read a YAML recipe (or the defaults) and apply ``key.sub=value`` overrides."""
    tree: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file '{path}' {'is a folder' if path.is_dir() else 'not found'}; give a YAML "
                              "recipe such as configs/vae-mnist.yaml")
        tree = read_yaml(path.read_text(), f"config file '{path}'") or {}
        if not isinstance(tree, dict):
            raise ConfigError(f"config file '{path}' must hold a mapping of sections, got {type(tree).__name__}")
    return make_config(_merge(tree, parse_overrides(overrides or [])))


def named_after_data(config: RunConfig, overrides: list[str]) -> RunConfig:
    """A run on data given on the command line (or a recipe without a name) is named after the model and the data,
    ``vae-shapes``, not after the recipe's own data; ``name=`` still decides."""
    keys = {item.partition("=")[0].strip() for item in overrides}
    if "name" in keys or ("data.name" not in keys and config.name != RunConfig.model_fields["name"].default):
        return config
    path = Path(config.data.name)
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", path.stem if path.is_file() else path.name).strip("-.") or "data"
    return config.model_copy(update={"name": f"{config.model.name}-{stem}"})


def save_config(config: RunConfig, path: Path) -> None:
    """Write the resolved config as YAML, so the run can be repeated exactly."""
    path.write_text(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))
