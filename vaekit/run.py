"""A whole run from one recipe: load the data, build the model, train, save, draw, evaluate.

Writes into ``runs/NAME/``: ``config.yaml`` (resolved), ``metrics.jsonl``, TensorBoard events,
``checkpoints/``, ``model/`` (config.json + model.safetensors), ``samples.png``,
``reconstructions.png``, ``loss_curves.png``, ``traversals.png`` (and ``manifold.png`` for a
2-D latent, ``analogies.png`` for a model conditioned on labels; for text, ``samples.txt``,
``reconstructions.txt`` and ``homotopy.txt``) and ``metrics.json`` (test ELBO, log p(x),
bits/dim (bits/token for text), perplexity, active units, and a classifier's test error).
"""
from __future__ import annotations

import json
import logging
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import yaml
from pydantic import ValidationError

from vaekit.atomic import atomic_write_text
from vaekit.config import ConfigError, ModelConfig, RunConfig, describe, model_config, save_config
from vaekit.contract import (
    BuildsOnSaved,
    Classifies,
    Clusters,
    Conditional,
    Density,
    Latent,
    Sentences,
    WeightPosterior,
)
from vaekit.contract import describe as describe_model
from vaekit.data import Data, Split, load_data, unknown_labels_to_training
from vaekit.data.user_files import is_image_shape
from vaekit.devices import resolve_device
from vaekit.distributions.likelihoods import AUTO, check_likelihood
from vaekit.evaluate import cluster_error, evaluate
from vaekit.generate import class_analogies, manifold_2d, reconstruction_pairs, samples_per_class, save_grid, traversals
from vaekit.models import LatentVariableModel, build_model
from vaekit.models.registry import check_size, model_class
from vaekit.parzen import parzen_of_model
from vaekit.plots import (
    CLASSIFIER_PANELS,
    ELBO_PANELS,
    adversarial_panels,
    latent_space,
    loss_curves,
    reliability_diagram,
)
from vaekit.saving import ModelFileError, save_model
from vaekit.saving import load as load_model
from vaekit.sentences import text_figures
from vaekit.sounds import audio_figures, reconstruction_distance
from vaekit.train import Trainer, TrainResult, distributed
from vaekit.train.trainer import check_labels_of
from vaekit.uncertainty import classifier_report

LATENT_POINTS = 2000  # test images in the latent-space figure

log = logging.getLogger(__name__)


def prepare_run_dir(run_dir: Path, resume: bool, overwrite: bool, config: RunConfig) -> Path | None:
    """Create the run directory; refuse to clobber a run, or to resume one with other data or model. With
    ``overwrite``, an earlier run is moved aside (its path returned), to be deleted once the new one is saved."""
    if resume:
        if not (run_dir / "checkpoints" / "last.safetensors").exists():
            raise ValueError(f"cannot resume: {run_dir} holds no checkpoint")
        saved = yaml.safe_load((run_dir / "config.yaml").read_text())
        now = config.model_dump(mode="json")
        for section in ("data", "model"):  # flat sections: compare key by key
            for key, value in now[section].items():
                if saved[section].get(key) != value:
                    raise ValueError(f"cannot resume {run_dir} with a different {section}.{key} (was "
                                     f"{saved[section].get(key)!r}, now {value!r}); only train and evaluate "
                                     "settings may change on resume")
        return None
    aside = run_dir.with_name(f".{run_dir.name}.replaced")  # an earlier run that an unfinished overwrite left
    replaced = aside if overwrite and aside.exists() else None
    if (run_dir / "checkpoints").exists():
        if not overwrite:
            raise ValueError(f"{run_dir} already holds a run; pass --resume to continue it, "
                             "--overwrite to start again, or choose another name=")
        shutil.rmtree(aside, ignore_errors=True)
        run_dir.rename(aside)
        replaced = aside
        log.info("the earlier run is kept in %s until this one is saved", aside)
    for parent in (run_dir, *run_dir.parents):
        if parent.exists() and not parent.is_dir():
            raise ValueError(f"cannot write the run to {run_dir}: {parent} is a file; give out_dir= a folder")
    run_dir.mkdir(parents=True, exist_ok=True)
    return replaced


def model_config_for(model: ModelConfig, data: Data) -> ModelConfig:
    """The recipe's model with what the data decides filled in: the data shape, a conditional model's classes."""
    fills = model_class(model.name).data_fills  # the fields this model takes from the data
    update: dict[str, Any] = {"data_shape": data.data_shape}
    if "likelihood" in fills:  # classifiers have no likelihood of x
        likelihood = AUTO[data.kind] if model.likelihood == "auto" else model.likelihood
        if model.likelihood == "auto":
            log.info("likelihood auto: %s for %s data", likelihood, data.kind)
        check_likelihood(likelihood, data.kind, data.name)
        update["likelihood"] = likelihood
        if "levels" in fills and likelihood == "logistic-mixture" and data.levels < 256:  # few grey levels:
            # the mass on those alone
            update["levels"] = data.levels
    if "num_classes" in fills:
        if data.train.y is None:
            raise ValueError(f"{model.name} learns from labelled data; '{data.name}' has no labels (image folders "
                             "get labels from class sub-folders, arrays from an .npz 'y')")
        labels = torch.cat([split.y for split in (data.train, data.valid, data.test) if split.y is not None])
        present = torch.unique(labels[labels >= 0])
        classes = int(present.max()) + 1 if len(present) else 0
        if model.num_classes is not None and model.num_classes < classes:
            raise ValueError(f"model.num_classes is {model.num_classes}, but '{data.name}' has labels up to "
                             f"{classes - 1}")
        if model.num_classes is None and len(present) < classes:  # 1-based labels, say: an empty class, uniform
            missing = sorted(set(range(classes)) - set(present.tolist()))  # prior mass on it, its samples noise
            shown = ", ".join(map(str, missing[:5])) + (", ..." if len(missing) > 5 else "")
            raise ValueError(f"'{data.name}' has labels up to {classes - 1} but none of {shown}: number the "
                             f"classes 0..{len(present) - 1}, or set model.num_classes={classes} to keep them")
        update["num_classes"] = model.num_classes or classes
    if "dataset_size" in fills:
        update["dataset_size"] = len(data.train)
    if data.tokenizer is not None:
        update["vocab_size"] = len(data.tokenizer)
    if data.audio is not None and "audio" in fills:
        update["audio"] = data.audio
    try:
        return model_config({**model.model_dump(), **update})
    except ValidationError as error:  # what the data decided does not fit the recipe (an image too small, ...)
        raise ConfigError("model: " + describe(error)) from None
    except ValueError as error:  # a key this model lacks: text data for an array model
        raise ConfigError(f"model: {error}") from None


def write_figures(model: LatentVariableModel, data: Data, run_dir: Path, config: RunConfig) -> list[Path]:
    """The run's pictures (image data) or sentences (text). A conditional model's samples are a row per class."""
    if isinstance(model, Sentences):
        assert data.tokenizer is not None
        lines = [data.tokenizer.decode(row) for row in data.test.x[:10].tolist()]
        written = []
        for name, text in text_figures(model, lines, config.evaluate.seed).items():
            atomic_write_text(run_dir / name, text)
            written.append(run_dir / name)
        if (run_dir / "metrics.jsonl").exists():
            panels = ELBO_PANELS if isinstance(model, Latent) else {"log_likelihood": "log p(x) (nats)"}
            written.append(loss_curves(run_dir / "metrics.jsonl", run_dir / "loss_curves.png", panels))
        return written
    if model.config.audio is not None:  # sounds (WAV) and spectrogram pictures
        figures = audio_figures(model, data.test.x, data.test.y, run_dir, config.evaluate.seed)
        if (run_dir / "metrics.jsonl").exists():
            figures.append(loss_curves(run_dir / "metrics.jsonl", run_dir / "loss_curves.png", ELBO_PANELS))
        return figures
    if not is_image_shape(model.data_shape):  # sequences of frames, other arrays: the loss curves only
        if not (run_dir / "metrics.jsonl").exists():
            return []
        return [loss_curves(run_dir / "metrics.jsonl", run_dir / "loss_curves.png", ELBO_PANELS)]
    seed, x, y = config.evaluate.seed, data.test.x[:32], data.test.y
    extra = []
    if isinstance(model, Conditional):
        samples = save_grid(samples_per_class(model, seed=seed), run_dir / "samples.png")
        if y is not None:
            extra.append(save_grid(class_analogies(model, x[:8], y[:8]), run_dir / "analogies.png",
                                   nrow=1 + (getattr(model, "num_classes", 0))))
    else:
        samples = save_grid(model.sample(config.evaluate.samples, seed=seed), run_dir / "samples.png")
    figures = [
        samples,
        save_grid(reconstruction_pairs(model, x, y=None if y is None else y[:32]), run_dir / "reconstructions.png"),
        save_grid(traversals(model, x[:1], y=None if y is None else y[:1]), run_dir / "traversals.png", nrow=9),
        *extra,
    ]
    uncertain = getattr(model, "samples_with_uncertainty", None)  # a Bayesian decoder's
    if uncertain is not None:  # samples (top) and their spread over weight draws (bottom, brighter: more)
        mean, spread = uncertain(16, seed=seed)
        figures.append(save_grid(torch.cat([mean, spread / spread.max().clamp(min=1e-12)]),
                                 run_dir / "weight_uncertainty.png", nrow=16))
    if model.latent_size == 2 and getattr(model.config, "head_margin", None) is None and not isinstance(
            model, Conditional):  # heads' codes: latent.png; a conditional model decodes a z only given a class
        figures.append(save_grid(manifold_2d(model), run_dir / "manifold.png", nrow=20, pad=0))
    if not isinstance(model, Density):  # an adversarial autoencoder: q(z) beside the p(z) it was matched to
        with torch.no_grad():
            codes = model.encode(data.test.x[:LATENT_POINTS]).mean
            prior = model.prior().sample((LATENT_POINTS,))
        figures.append(latent_space(codes, None if y is None else y[:LATENT_POINTS], prior, run_dir / "latent.png"))
    if (run_dir / "metrics.jsonl").exists():
        adversaries = getattr(model, "adversaries", None)  # the prefixes of an adversarial model's logged terms
        panels = ELBO_PANELS if adversaries is None else adversarial_panels(adversaries)
        figures.append(loss_curves(run_dir / "metrics.jsonl", run_dir / "loss_curves.png", panels))
    return figures


def parzen_figures(model: LatentVariableModel, data: Data, test: Split, seed: int) -> dict[str, float]:
    """The Parzen-window estimate (vaekit.parzen) from 10,000 samples, sigma chosen on up to 1,000 validation
    images."""
    if len(data.valid) == 0:
        raise ValueError("the Parzen estimate of a model without a bound chooses its width on validation data: set "
                         "data.validation above 0")
    return asdict(parzen_of_model(model, data.valid.x[:1000], test.x, seed))


@dataclass
class RunReport:
    """What a run did: where it wrote, the data, the test report (metrics.json's ``test``; None on the ranks
    other than 0, which neither save nor evaluate) and the training's outcome."""

    run_dir: Path
    data: str
    test: dict[str, Any] | None
    train: TrainResult

    def as_dict(self) -> dict[str, Any]:
        """metrics.json: the data's name, the test report and the training's outcome."""
        return {"data": self.data, "test": self.test, "train": asdict(self.train)}

    def summary(self) -> str:
        """The test figures in one line, as the model's kind reports them."""
        test = self.test or {}
        if "expected_calibration_error" in test:  # a classifier
            ood = "" if test["ood"] is None else (f", {test['ood']} told apart with AUROC "
                                                  f"{test['ood_auroc_entropy']:.3f} (predictive entropy)")
            return (f"{self.run_dir}: test error {test['error']:.2%}, -log p(y|x) {test['nll']:.4f} nats, expected "
                    f"calibration error {test['expected_calibration_error']:.4f}{ood}")
        error = "" if test.get("classification_error") is None else \
            f", classification error {test['classification_error']:.2%}"
        if test.get("elbo") is None:  # a model without a bound: its reconstructions and the Parzen estimate
            parzen = test["parzen"]
            return (f"{self.run_dir}: test log p(x|z) {test['reconstruction']:.2f} nats, Parzen log-likelihood "
                    f"{parzen['log_likelihood']:.1f} ± {parzen['standard_error']:.1f} nats (sigma "
                    f"{parzen['sigma']:.3f}){error}")
        if test.get("perplexity") is not None:  # text
            return (f"{self.run_dir}: test ELBO {test['elbo']:.2f} nats, log p(x) {test['log_likelihood']:.2f} nats "
                    f"per sentence (k={test['k']}), perplexity {test['perplexity']:.1f}, KL {test['kl']:.2f} nats")
        return (f"{self.run_dir}: test ELBO {test['elbo']:.2f} nats, log p(x) {test['log_likelihood']:.2f} nats "
                f"(k={test['k']}), {test['bits_per_dim']:.4f} bits/dim{error}")


def run(config: RunConfig, resume: bool = False, overwrite: bool = False) -> RunReport:
    """Train and evaluate the recipe ``config``; metrics.json holds the report's :meth:`RunReport.as_dict`."""
    run_dir = config.run_dir
    device = resolve_device(config.train.device)  # an absent device is refused before anything is loaded or written
    distributed.init_from_environment(device)  # under torchrun: join the other ranks
    data = load_data(config.data)
    if "num_classes" in model_class(config.model.name).data_fills:  # a model that learns from labels
        data = unknown_labels_to_training(data)
    config = config.model_copy(update={"model": model_config_for(config.model, data)})
    check_size(config.model)  # before anything is written
    torch.manual_seed(config.train.seed)  # the initial weights, so a recipe gives one model
    model = build_model(config.model)
    check_labels_of(model, data)  # before anything is written
    replaced = None
    if distributed.is_main():
        log.info("%s", data.describe())
        replaced = prepare_run_dir(run_dir, resume, overwrite, config)
        save_config(config, run_dir / "config.yaml")
    distributed.barrier()
    if isinstance(model, BuildsOnSaved) and (part := model.saved_part()) is not None:  # M1+M2's M1, trained before
        try:
            model.adopt(load_model(part), data.train)
        except ModelFileError as error:
            raise ModelFileError(f"{describe_model(model)} builds on a saved model, which must be trained first: "
                                 f"{error}") from None
    if isinstance(model, Sentences):
        model.tokenizer = data.tokenizer
    result = Trainer(model, config.train, run_dir).fit(data, resume=resume)
    if not distributed.is_main():  # rank 0 saves, draws and evaluates
        return RunReport(run_dir, data.name, None, result)
    save_model(model, run_dir / "model")
    if replaced is not None:
        shutil.rmtree(replaced, ignore_errors=True)
    test = data.test if config.evaluate.limit is None else data.test.subset(slice(0, config.evaluate.limit))
    if not isinstance(model, Latent) and isinstance(model, Classifies):  # p(y|x) alone
        return write_metrics(run_dir, data, classifier_figures(model, data, test, run_dir, config), result)
    write_figures(model, data, run_dir, config)
    report = evaluate(model, test, k=config.evaluate.k, batch_size=config.evaluate.batch_size,
                      seed=config.evaluate.seed, progress=config.train.progress)
    if not isinstance(model, Density):
        report.parzen = parzen_figures(model, data, test, config.evaluate.seed)
    if model.config.audio is not None:
        report.log_spectral_distance = reconstruction_distance(model, test)
    if isinstance(model, Clusters):  # clusters get their labels from the validation data
        if data.valid.has_known_labels and test.has_known_labels:
            report.cluster_error = cluster_error(model, data.valid, test)
        else:
            log.info("no clustering error: it needs labelled validation and test examples")
    return write_metrics(run_dir, data, report.as_dict(), result)


def classifier_figures(model: Classifies, data: Data, test: Split, run_dir: Path, config: RunConfig) -> dict[str, Any]:
    """A classifier's test report (vaekit.uncertainty), scoring ``evaluate.ood``'s test split as out of
    distribution if given, and its reliability diagram."""
    ood = None
    if config.evaluate.ood is not None:
        other = load_data(config.data.model_copy(update={"name": config.evaluate.ood, "labels_per_class": None,
                                                         "limit": None})).test
        ood = (config.evaluate.ood, other if config.evaluate.limit is None else other.subset(slice(0, len(test))))
    draws = config.evaluate.weight_draws if isinstance(model, WeightPosterior) else 1
    report = classifier_report(model, test, ood, samples=draws, seed=config.evaluate.seed)
    reliability_diagram(report.reliability, run_dir / "reliability.png",
                        f"{config.model.name}: expected calibration error {report.expected_calibration_error:.4f}")
    if (run_dir / "metrics.jsonl").exists():
        loss_curves(run_dir / "metrics.jsonl", run_dir / "loss_curves.png", CLASSIFIER_PANELS)
    return report.as_dict()


def write_metrics(run_dir: Path, data: Data, test: dict[str, Any], result: TrainResult) -> RunReport:
    report = RunReport(run_dir, data.name, test, result)
    atomic_write_text(run_dir / "metrics.json", json.dumps(report.as_dict(), indent=2) + "\n")
    return report
