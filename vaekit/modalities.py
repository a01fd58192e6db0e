"""What the model commands read and write, one place per modality, chosen by the model's data: images (files
resized to the model, PNG grids), sentences (lines of text) and sounds (WAV/FLAC clips as spectrograms, WAV
files beside spectrogram pictures). The command line and the explorer read their inputs here, so a file means
the same to both."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch

from vaekit.config import DataConfig
from vaekit.contract import Classifies, Conditional, Latent, Sentences, WeightPosterior
from vaekit.data import DATASETS, Data, Split, load_data
from vaekit.data.user_files import is_image_shape, read_image
from vaekit.devices import seeded
from vaekit.distributions.likelihoods import check_likelihood
from vaekit.evaluate import evaluate
from vaekit.generate import class_index, interpolate, reconstruction_pairs, samples_per_class, save_grid
from vaekit.models import Model
from vaekit.sentences import homotopy, reconstruct_text, sample_text
from vaekit.sounds import interpolate_sounds, read_clips, reconstruct_sounds, sample_sounds
from vaekit.uncertainty import classifier_report, predict

__all__ = ["Images", "Inputs", "Sounds", "Text", "classify_lines", "evaluate_saved", "modality_of", "read_images",
           "test_data", "test_examples"]


def test_data(model: Model, name: str | None, relabel: bool = True) -> Data:
    """The data a command reads: by default the data the model was trained on (its saved record: the same test
    split); ``name`` another, read at the model's sentence length or image size, its labels renumbered to the
    model's classes (:func:`in_model_classes`) unless not ``relabel`` (out-of-distribution data)."""
    if name is None:
        record = model.trained_on
        if record is None or record.data is None:
            raise ValueError("this model does not record the data it was trained on (saved by an older vaekit, or "
                             "never trained with vaekit): give --data")
        if record.data.name not in DATASETS and not Path(record.data.name).exists():
            raise ValueError(f"the data this model was trained on, {record.data.name}, is not there any more: give "
                             "--data")
        config = record.data
    elif isinstance(model, Sentences):
        config = DataConfig(name=name, max_length=model.max_length)
    elif name not in DATASETS and Path(name).is_dir() and is_image_shape(model.data_shape):
        config = DataConfig(name=name, image_size=model.data_shape[1:], channels=model.data_shape[0])  # to fit
    else:
        config = DataConfig(name=name)
    data = load_data(config, tokenizer=getattr(model, "tokenizer", None))
    return in_model_classes(model, data) if name is not None and relabel else data


def in_model_classes(model: Model, data: Data) -> Data:
    """Another data set's labels renumbered to the model's classes by name: a folder holding only some of the
    classes numbers them from 0 itself (``dog/`` alone was class 0, the model's ``cat``). Classes the model was not
    trained on are refused."""
    trained = None if model.trained_on is None else model.trained_on.classes
    uses_labels = isinstance(model, (Conditional, Classifies))
    if not uses_labels or data.classes is None or trained is None or list(data.classes) == trained:
        return data
    unknown = [c for c in data.classes if c not in trained]
    if unknown:
        raise ValueError(f"data '{data.name}' has classes the model was not trained on: {', '.join(unknown[:5])} "
                         f"(the model's: {', '.join(trained[:10])}{', ...' if len(trained) > 10 else ''})")
    index = torch.tensor([trained.index(c) for c in data.classes])

    def renumbered(split: Split) -> Split:
        return split if split.y is None else replace(split, y=torch.where(split.y >= 0, index[split.y.clamp(min=0)],
                                                                          split.y))
    return replace(data, train=renumbered(data.train), valid=renumbered(data.valid), test=renumbered(data.test),
                   classes=tuple(trained))


def test_examples(model: Model, data_name: str | None, count: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The first ``count`` test examples of the data and their labels (None if it has none)."""
    data = test_data(model, data_name)
    if data.data_shape != model.data_shape:
        raise ValueError(f"data '{data.name}' has shape {data.data_shape}, the model expects {model.data_shape}")
    return data.test.x[:count], None if data.test.y is None else data.test.y[:count]


def read_images(model: Model, sources: Sequence[Path | BinaryIO]) -> torch.Tensor:
    """Image files (or their bytes) as the model's inputs (N, C, H, W) in [0, 1]: grey or RGB as the model is,
    resized to its size, and black or white for a model of binary images (a Bernoulli likelihood)."""
    shape = model.data_shape
    if not is_image_shape(shape):
        raise ValueError(f"{model.registered_name} models data of shape {shape}, not images: give --data instead")
    for source in sources:
        if isinstance(source, Path) and not source.is_file():
            raise ValueError(f"input '{source}' is not a file")
    mode = "L" if shape[0] == 1 else "RGB"
    x = torch.from_numpy(np.stack([read_image(s, (shape[1], shape[2]), "resize", mode) for s in sources])) / 255.0
    return (x > 0.5).float() if getattr(model.config, "likelihood", None) == "bernoulli" else x


@dataclass
class Inputs:
    """What a command works on: the inputs (a tensor, or a text model's sentences) and their labels (a
    conditional model's only)."""

    x: torch.Tensor | list[str]
    y: torch.Tensor | None = None


def _labels(model: Model, labels: Sequence[str] | None, count: int) -> torch.Tensor | None:
    """A conditional model's labels of files given on the command line, by class name or index."""
    if not isinstance(model, Conditional):
        return None
    if labels is None or len(labels) != count:
        raise ValueError(f"{model.registered_name} needs each input's class: give --labels with {count} class names "
                         "or indices")
    return torch.tensor([class_index(model, label) for label in labels])


class Images:
    """Image files in, PNG grids out."""

    outputs = {"sample": "samples.png", "reconstruct": "reconstructions.png", "interpolate": "interpolation.png"}

    def read(self, model: Model, files: Sequence[str]) -> torch.Tensor:
        return read_images(model, [Path(f) for f in files])

    def inputs(self, model: Model, files: Sequence[str], labels: Sequence[str] | None, data: str | None,
               count: int) -> Inputs:
        """Files given (with their labels), or the first ``count`` test examples of the data with theirs."""
        if files:
            x = self.read(model, files)
            return Inputs(x, _labels(model, labels, len(x)))
        x, y = test_examples(model, data, count)
        if isinstance(model, Conditional) and y is None:
            raise ValueError(f"{model.registered_name} needs labelled inputs; the data has no labels")
        return Inputs(x, y if isinstance(model, Conditional) else None)

    def sample(self, model: Model, out: str, n: int, seed: int, y: int | None, nrow: int, draw: bool) -> str:
        if isinstance(model, Conditional) and y is None:  # a row of nrow samples for each class
            return str(save_grid(samples_per_class(model, nrow, seed), out, nrow=nrow))
        return str(save_grid(model.sample(n, seed=seed, y=y), out, nrow=nrow))

    def reconstruct(self, model: Model, inputs: Inputs, out: str, nrow: int) -> str:
        return str(save_grid(reconstruction_pairs(model, inputs.x, nrow, inputs.y), out, nrow=nrow))

    def interpolate(self, model: Model, inputs: Inputs, out: str, steps: int, method: str) -> str:
        x = inputs.x
        return str(save_grid(interpolate(model, x[0], x[1], steps, method, inputs.y), out, nrow=steps))


class Sounds(Images):
    """WAV/FLAC clips in (as the model's spectrograms), WAV files and a spectrogram picture out, in a folder."""

    outputs = {"sample": "samples", "reconstruct": "reconstructions", "interpolate": "interpolation"}

    def read(self, model: Model, files: Sequence[str]) -> torch.Tensor:
        return read_clips(model, [Path(f) for f in files])

    @staticmethod
    def _written(files: list[Path], out: str) -> str:
        return f"{len(files) - 1} WAV files in {out}/, spectrograms in {files[-1]}"

    def sample(self, model: Model, out: str, n: int, seed: int, y: int | None, nrow: int, draw: bool) -> str:
        return self._written(sample_sounds(model, Path(out), n, seed, y), out)

    def reconstruct(self, model: Model, inputs: Inputs, out: str, nrow: int) -> str:
        return self._written(reconstruct_sounds(model, inputs.x, Path(out), inputs.y), out)

    def interpolate(self, model: Model, inputs: Inputs, out: str, steps: int, method: str) -> str:
        return self._written(interpolate_sounds(model, inputs.x, Path(out), steps, inputs.y), out)


class Text:
    """Sentences in (given, or the data's test sentences), lines of text out (printed, and to a file if named)."""

    outputs: dict[str, str | None] = {"sample": None, "reconstruct": None, "interpolate": None}

    def inputs(self, model: Model, lines: Sequence[str], labels: Sequence[str] | None, data: str | None,
               count: int) -> Inputs:
        if lines:
            return Inputs(list(lines))
        x = test_data(model, data).test.x[:count]
        return Inputs([model.tokenizer.decode(row) for row in x.tolist()])

    @staticmethod
    def _written(lines: list[str], out: str | None) -> str:
        if out:
            Path(out).write_text("\n".join(lines) + "\n")
        return "\n".join(lines)

    def sample(self, model: Model, out: str | None, n: int, seed: int, y: int | None, nrow: int, draw: bool) -> str:
        return self._written(sample_text(model, n, seed, greedy=not draw), out)  # type: ignore[arg-type]

    def reconstruct(self, model: Model, inputs: Inputs, out: str | None, nrow: int) -> str:
        lines = inputs.x
        pairs = zip(lines, reconstruct_text(model, lines))  # type: ignore[arg-type]
        return self._written([f"  in: {a}\n out: {b}" for a, b in pairs], out)

    def interpolate(self, model: Model, inputs: Inputs, out: str | None, steps: int, method: str) -> str:
        return self._written(homotopy(model, inputs.x[0], inputs.x[1], steps), out)  # type: ignore[arg-type]


def modality_of(model: Model) -> Images | Sounds | Text:
    """The input and output of ``model``'s data: sentences, sounds (a model of spectrograms) or images/arrays."""
    if isinstance(model, Sentences):
        return Text()
    return Sounds() if model.config.audio is not None else Images()


def evaluate_saved(model: Model, data: str | None = None, limit: int | None = None, k: int = 5000, seed: int = 0,
                   ood: str | None = None, weight_draws: int = 10) -> dict[str, Any]:
    """``vaekit evaluate``: a density's test ELBO, log p(x) and bits/dim (vaekit.evaluate), or a classifier's
    error, calibration and uncertainty, ``ood``'s test split scored as out of distribution (vaekit.uncertainty)."""
    loaded = test_data(model, data)
    test = loaded.test if limit is None else loaded.test.subset(slice(0, limit))
    with seeded(seed, model.device):
        if not isinstance(model, Latent) and isinstance(model, Classifies):
            other = None if ood is None else (ood, test_data(model, ood, relabel=False).test)
            draws = weight_draws if isinstance(model, WeightPosterior) else 1
            return classifier_report(model, test, other, samples=draws, seed=seed).as_dict()
        check_likelihood(model.config.likelihood, loaded.kind, loaded.name)
        return evaluate(model, test, k=k, seed=seed).as_dict()  # type: ignore[arg-type]


def classify_lines(model: Model, files: Sequence[str], data: str | None = None, n: int = 20,
                   weight_draws: int = 10) -> list[str]:
    """``vaekit classify``: each input's class and probability (and a classifier's uncertainty), and the error
    on test examples, whose labels are known."""
    if not isinstance(model, Classifies):
        raise ValueError(f"{model.registered_name} has no classifier; classifiers (classifier, bnn) and "
                         "semi-supervised models (m1, m2, m1-m2, semi-supervised-aae) do")
    if files:
        names, x, y = list(files), Images().read(model, files), None
    else:
        x, y = test_examples(model, data, n)
        names = [f"test #{i}" for i in range(len(x))]
    prediction = predict(model, x, weight_draws)
    confidence, predicted = prediction.probabilities.max(1)
    notes = [""] * len(x)
    if prediction.mutual_information is not None:  # a classifier's uncertainty, over weight draws if Bayesian
        spread = zip(prediction.entropy.tolist(), prediction.mutual_information.tolist())
        notes = [f", predictive entropy {h:.3f} nats, mutual information {i:.3f} nats" for h, i in spread]
    lines = [f"{name}: class {c} (probability {p:.3f}{note})"
             for name, c, p, note in zip(names, predicted.tolist(), confidence.tolist(), notes)]
    if y is not None:
        lines.append(f"error on these {len(y)}: {(predicted != y).float().mean().item():.2%}")
    return lines
