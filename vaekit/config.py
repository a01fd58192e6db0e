"""Validated run configuration: YAML in, pydantic models out, errors a person can act on.

A run is a :class:`RunConfig`: what data, which model, how to train, how to evaluate.
``load_config(path, overrides)`` reads YAML and applies ``key.sub=value`` overrides.
"""
from __future__ import annotations

import math
import reprlib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


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
    channels: Literal[1, 3] | None = None  # image folders: 1 = grey, 3 = RGB; default: first image's
    levels: int | None = Field(None, ge=2, le=256)  # 8-bit files: the grey levels that occur; default detected
    stream: bool = False  # a .npy larger than memory: read its rows from disk batch by batch
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


class LayerConfig(_Strict):
    """One stochastic layer of a hierarchical model: its latent size and the MLP widths below it."""

    latent: int = Field(ge=1)
    hidden: list[int] = Field(min_length=1)


HIERARCHICAL = ("hierarchical-vae", "ladder-vae")
# models that learn from labels and take num_classes from the data
LABELLED = ("conditional-vae", "m1", "m2", "m1-m2", "supervised-aae", "semi-supervised-aae", "classifier", "bnn")
IMPORTANCE_WEIGHTED = ("iwae", *HIERARCHICAL)
ADVERSARIAL = ("aae", "supervised-aae", "semi-supervised-aae", "clustering-aae")
BAYESIAN = ("bnn", "bayesian-vae")  # weights with a posterior (Blundell et al. 2015)
CLASSIFIERS = ("classifier", "bnn")  # p(y|x) alone: no latent variables, no likelihood of x
TEXT = ("sentence-vae", "rnn-lm")  # models of sentences (token ids), with a categorical likelihood
RECURRENT = (*TEXT, "sequence-vae")  # recurrent networks: hidden is the one width of their cells, rnn the cell


class ModelConfig(_Strict):
    """A VAE's architecture and objective (Kingma & Welling 2013)."""

    name: Literal["vae", "iwae", "beta-tc-vae", "mixture-prior-vae", "vampprior-vae", "hierarchical-vae",
                  "ladder-vae", "iaf-vae", "conditional-vae", "vq-vae", "m1", "m2", "m1-m2", "aae",
                  "supervised-aae", "semi-supervised-aae", "clustering-aae", "classifier", "bnn",
                  "bayesian-vae", "sentence-vae", "rnn-lm", "sequence-vae"] = "vae"
    data_shape: tuple[int, ...] | None = None  # (C, H, W) or (D,); filled in from the data
    latent_dim: int = Field(20, ge=1)
    architecture: Literal["mlp", "conv", "resnet"] = "mlp"  # resnet: conv with a residual block per resolution
    hidden: list[int] = Field(default_factory=lambda: [400])  # MLP widths (mirrored in the decoder)
    channels: list[int] = Field(default_factory=lambda: [32, 64])  # conv widths, each layer halves H, W
    activation: Literal["relu", "tanh", "elu", "softplus", "leaky_relu"] = "relu"
    # p(x|z); auto (a recipe's default): bernoulli for binary data, logistic-mixture for 8-bit, gaussian for
    # continuous, categorical for text, chosen when a run sees the data
    likelihood: Literal["auto", "bernoulli", "logistic-mixture", "gaussian", "categorical"] = "bernoulli"
    mixture_components: int = Field(5, ge=1)  # logistic-mixture only
    levels: int = Field(256, ge=2, le=256)  # logistic-mixture: the grey levels of 8-bit data (from the data)
    beta: float = Field(1.0, ge=0.0)  # KL weight (Higgins et al. 2017); beta-tc-vae: the TC weight; 1 is the ELBO
    free_bits: float = Field(0.0, ge=0.0)  # nats per latent dim not penalized (Kingma et al. 2016)
    importance_samples: int = Field(1, ge=1)  # iwae, hierarchical: k of the training bound (Burda et al. 2015)
    dataset_size: int = Field(60000, ge=1)  # beta-tc-vae: N of minibatch-weighted sampling; bnn: N (from the data)
    prior_components: int = Field(10, ge=1)  # mixture-prior-vae: Gaussians; vampprior-vae: pseudo-inputs
    flow_steps: int = Field(2, ge=1)  # iaf-vae: inverse autoregressive flow steps (Kingma et al. 2016)
    layers: list[LayerConfig] = Field(default_factory=list)  # hierarchical: stochastic layers, bottom (next to x) first
    num_classes: int | None = Field(None, ge=2)  # conditional: label values 0..num_classes-1; filled in from the data
    codebook_size: int = Field(512, ge=2, le=1 << 16)  # vq-vae: K codebook vectors of latent_dim each
    commitment: float = Field(0.25, ge=0.0)  # vq-vae: beta of the commitment loss (van den Oord et al. 2017, eq. 3)
    classifier_weight: float = Field(1.0, ge=0.0)  # m2: alpha per labelled example (Kingma et al. 2014, eq. 9)
    latent_prior: Literal["gaussian", "mixture", "swiss-roll", "custom"] = "gaussian"  # aae: the p(z) matched
    encoder_kind: Literal["deterministic", "gaussian"] = "deterministic"  # aae: q(z|x) (Makhzani et al. sec. 2.1)
    discriminator: list[int] = Field(default_factory=lambda: [1000, 1000])  # aae: the adversary's MLP widths
    head_margin: float | None = Field(None, gt=0)  # categorical aae: code W y + z, heads this far apart (sec. 7)
    dropout: float = Field(0.0, ge=0.0, lt=1.0)  # classifier: dropout between hidden layers (Srivastava et al. 2014)
    bayes_prior: Literal["scale-mixture", "gaussian"] = "scale-mixture"  # bnn: p(w) (Blundell et al. eq. 7)
    prior_pi: float = Field(0.25, gt=0.0, lt=1.0)  # bnn: the scale mixture's weight on sigma1
    prior_sigma1: float = Field(1.0, gt=0.0)  # bnn: the wide component's sd (-log sigma1 = 0); gaussian: its sd
    prior_sigma2: float = Field(math.exp(-6), gt=0.0)  # bnn: the narrow component's sd (-log sigma2 = 6)
    posterior_rho: float = -5.0  # bnn: rho at the start, sigma = softplus(rho) (about 0.0067)
    local_reparameterization: bool = False  # bnn: draw pre-activations, not weights (Kingma et al. 2015)
    bayesian_encoder: bool = False  # bayesian-vae: the encoder's weights get a posterior too (else the decoder's only)
    vocab_size: int | None = Field(None, ge=5)  # text: tokens in the vocabulary; filled in from the data's tokenizer
    embedding_dim: int = Field(256, ge=1)  # text: width of the token embeddings
    rnn: Literal["gru", "lstm"] = "gru"  # text: the recurrent cell of encoder and decoder (hidden: its one width)
    word_dropout: float = Field(0.0, ge=0.0, le=1.0)  # sentence-vae: decoder inputs replaced by <unk> (Bowman sec. 3.3)
    audio: AudioConfig | None = None  # spectrogram models: how to turn their outputs into sound; from the data
    top: "ModelConfig | None" = None  # m1-m2: the m2 on M1's codes (its data_shape, likelihood, classes filled in)

    @model_validator(mode="after")
    def _check(self) -> "ModelConfig":
        if self.architecture != "mlp" and self.data_shape is not None and len(self.data_shape) != 3:
            raise ValueError(f"architecture '{self.architecture}' needs image data (C, H, W), "
                             f"got data_shape {self.data_shape}")
        if self.architecture != "mlp" and self.data_shape is not None and \
                min(self.data_shape[1:]) < 2 ** len(self.channels):
            side, fits = min(self.data_shape[1:]), max(0, min(self.data_shape[1:]).bit_length() - 1)
            raise ValueError(f"channels {self.channels} halve the image {len(self.channels)} times, which needs at "
                             f"least {2 ** len(self.channels)} pixels a side; these images are "
                             f"{self.data_shape[2]}x{self.data_shape[1]}: give at most {fits} conv layers "
                             f"(a {side}-pixel side halves {fits} times)" + (" or use architecture mlp" if fits < 2
                                                                              else ""))
        if any(h < 1 for h in self.hidden + self.channels + self.discriminator + [h for layer in self.layers
                                                                                   for h in layer.hidden]):
            raise ValueError("hidden and channels widths must be positive")
        if self.name not in IMPORTANCE_WEIGHTED and self.importance_samples != 1:
            raise ValueError(f"importance_samples is the k of the importance-weighted bound, which "
                             f"{', '.join(IMPORTANCE_WEIGHTED)} train on; {self.name} trains on the ELBO")
        if self.name in HIERARCHICAL and len(self.layers) < 2:
            raise ValueError(f"{self.name} needs layers, two or more stochastic layers bottom first, e.g. "
                             "[{latent: 100, hidden: [200, 200]}, {latent: 50, hidden: [100, 100]}]")
        if self.name not in HIERARCHICAL and self.layers:
            raise ValueError(f"layers are for {' and '.join(HIERARCHICAL)}; {self.name} has one stochastic "
                             "layer of latent_dim units")
        if self.name != "iaf-vae" and self.flow_steps != 2:
            raise ValueError(f"flow_steps are the steps of iaf-vae's posterior flow; {self.name} has no flow")
        if self.name == "vq-vae" and self.architecture == "mlp":
            raise ValueError("vq-vae's codes are a grid of the encoder's last feature map: use architecture conv "
                             "or resnet")
        if self.name != "vq-vae" and (self.codebook_size != 512 or self.commitment != 0.25):
            raise ValueError(f"codebook_size and commitment are vq-vae's; {self.name} has a continuous latent")
        if self.name not in (*LABELLED, "clustering-aae") and self.num_classes is not None:
            raise ValueError(f"num_classes is for the models that learn from labels ({', '.join(LABELLED)}) and "
                             f"clustering-aae's clusters; {self.name} has none")
        if self.levels != 256 and self.likelihood not in ("logistic-mixture", "auto"):
            raise ValueError(f"levels are the grey levels of the logistic-mixture likelihood; {self.likelihood} has "
                             "none")
        if self.name != "m2" and self.classifier_weight != 1.0:
            raise ValueError(f"classifier_weight is m2's alpha; {self.name} has none")
        if self.top is not None and (self.name != "m1-m2" or self.top.name != "m2"):
            raise ValueError("top is the m2 that m1-m2 stacks on its M1's codes: give it under name m1-m2, "
                             "with name m2")
        aae_only = self.latent_prior != "gaussian" or self.encoder_kind != "deterministic" or \
            self.discriminator != [1000, 1000]
        if self.name not in ADVERSARIAL and aae_only:
            raise ValueError("latent_prior, encoder_kind and discriminator are the adversarial autoencoders' "
                             f"({', '.join(ADVERSARIAL)}); {self.name} has none")
        if self.head_margin is not None and self.name not in ("semi-supervised-aae", "clustering-aae"):
            raise ValueError("head_margin gives the categorical AAEs (semi-supervised-aae, clustering-aae) cluster "
                             f"heads for dimensionality reduction; {self.name} has no categorical code")
        bayes_only = self.bayes_prior != "scale-mixture" or self.prior_pi != 0.25 or self.prior_sigma1 != 1.0 \
            or self.prior_sigma2 != math.exp(-6) or self.posterior_rho != -5.0 or self.local_reparameterization
        if self.name not in BAYESIAN and bayes_only:
            raise ValueError("bayes_prior, prior_pi, prior_sigma1, prior_sigma2, posterior_rho and "
                             f"local_reparameterization are the Bayesian networks' ({', '.join(BAYESIAN)}); "
                             f"{self.name} has point-estimated weights")
        if self.name != "bayesian-vae" and self.bayesian_encoder:
            raise ValueError(f"bayesian_encoder is bayesian-vae's; {self.name} has no Bayesian decoder")
        if self.name != "classifier" and self.dropout:
            raise ValueError(f"dropout is the plain classifier's; {self.name} has none")
        if self.bayes_prior == "scale-mixture" and self.prior_sigma2 >= self.prior_sigma1:
            raise ValueError(f"the scale mixture's prior_sigma2 ({self.prior_sigma2}) is its narrow component: "
                             f"make it smaller than prior_sigma1 ({self.prior_sigma1})")
        if self.latent_prior == "swiss-roll" and self.latent_dim != 2:
            raise ValueError(f"the swiss-roll prior is two-dimensional: set latent_dim 2 (got {self.latent_dim})")
        text = self.name in TEXT
        if self.likelihood != "auto" and text != (self.likelihood == "categorical"):
            raise ValueError(f"the categorical likelihood over tokens is the text models' ({', '.join(TEXT)}): "
                             f"{self.name} with likelihood {self.likelihood} " + (
                                 "needs likelihood categorical" if text else "cannot use it"))
        if self.name in RECURRENT and len(self.hidden) != 1:
            raise ValueError(f"{self.name}'s hidden is the one width of its recurrent cells, e.g. [256]; "
                             f"got {self.hidden}")
        text_only = self.vocab_size is not None or self.embedding_dim != 256
        if not text and (text_only or self.word_dropout):
            raise ValueError(f"vocab_size, embedding_dim and word_dropout are the text models' "
                             f"({', '.join(TEXT)}); {self.name} models arrays")
        if self.name not in RECURRENT and self.rnn != "gru":
            raise ValueError(f"rnn is the recurrent cell of {', '.join(RECURRENT)}; {self.name} has none")
        if self.name == "rnn-lm" and self.word_dropout:
            raise ValueError("word_dropout weakens sentence-vae's decoder so that z carries information; "
                             "rnn-lm has no z")
        if self.name not in ("vae", "conditional-vae", "bayesian-vae", "sentence-vae", "sequence-vae") \
                and self.free_bits > 0:
            raise ValueError(f"free_bits is defined on the VAE's KL term; {self.name} has no such term")
        return self


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
    out_dir: Path = Path("runs")
    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    evaluate: EvalConfig = Field(default_factory=EvalConfig)

    @model_validator(mode="before")
    @classmethod
    def _auto_likelihood(cls, tree: Any) -> Any:
        """A recipe that names no likelihood gets the one that fits its data (``likelihood: auto``)."""
        if isinstance(tree, dict) and isinstance(tree.get("model"), dict) and "likelihood" not in tree["model"]:
            tree = {**tree, "model": {**tree["model"], "likelihood": "auto"}}
        elif isinstance(tree, dict) and "model" not in tree:
            tree = {**tree, "model": {"likelihood": "auto"}}
        return tree

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


def save_config(config: RunConfig, path: Path) -> None:
    """Write the resolved config as YAML, so the run can be repeated exactly."""
    path.write_text(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))
