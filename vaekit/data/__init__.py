"""Turn a name or a path into train/validation/test tensors.

``load_data(DataConfig(name="binarized-mnist"))`` or ``load_data(DataConfig(name="my_images/"))``.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from vaekit.config import AudioConfig, DataConfig
from vaekit.data.audio import AUDIO_SUFFIXES, load_audio_folder
from vaekit.data.dataset import (
    UNLABELLED,
    Data,
    Kind,
    SequenceSplit,
    Split,
    binarize,
    keep_labels,
    split_off,
    split_sizes,
    unknown_labels_to_training,
)
from vaekit.data.disk_array import DiskSplit, load_disk_array
from vaekit.data.files import DataNotFoundError
from vaekit.data.image_stream import load_image_folder
from vaekit.data.levels import grey_levels
from vaekit.data.registry import DATASETS, NamedDataset
from vaekit.data.text import TokenSplit, read_lines, sentence_data, text_files, user_text_splits
from vaekit.data.tokenizer import Tokenizer
from vaekit.data.user_dataset import from_dataset
from vaekit.data.user_files import IMAGE_SUFFIXES, load_array, warn_if_off_scale

__all__ = ["Data", "DataNotFoundError", "DiskSplit", "DATASETS", "Kind", "SequenceSplit", "Split", "TokenSplit",
           "Tokenizer", "UNLABELLED", "binarize", "from_dataset", "keep_labels", "load_data",
           "unknown_labels_to_training", "verify_named"]

_TEXT_OPTIONS = ("tokenizer", "vocab_size", "lowercase", "max_length")


def _is_text(path: Path) -> bool:
    """A .txt file, or a folder with .txt files and no images or sounds."""
    if path.is_dir():
        return bool(text_files(path)) and not any(p.suffix.lower() in IMAGE_SUFFIXES | AUDIO_SUFFIXES
                                                  for p in path.rglob("*"))
    return path.suffix.lower() == ".txt"


def _user_data(path: Path, config: DataConfig, tokenizer: Tokenizer | None) -> Data:
    if _is_text(path):  # one sentence a line
        lines = read_lines(text_files(path))
        if len(lines) < 3:
            raise ValueError(f"{path}: {len(lines)} non-empty lines; text data needs several, a sentence a line")
        return sentence_data(path.name, user_text_splits(lines, config), config, tokenizer)
    if path.is_dir() and any(p.suffix.lower() in AUDIO_SUFFIXES for p in path.rglob("*")):
        return load_audio_folder(path, AudioConfig(), config)
    classes = None
    if path.is_dir():
        split, classes = load_image_folder(path, config.image_size, config.resize, config.channels, config.stream,
                                           config.workers)
    elif path.suffix == ".npy" and config.stream:
        split = load_disk_array(path, config.labels)
    elif path.suffix in (".npy", ".npz"):
        split = load_array(path, config.labels)
    else:
        raise ValueError(f"data.name '{path}' is neither a named set ({', '.join(DATASETS)}), a folder of images, "
                         "WAV/FLAC or .txt files, a .txt file, nor a .npy/.npz file")
    _, n_valid, n_test = split_sizes(path.name, len(split), config.validation, config.test)
    rest, test = split_off(split, n_test, config.seed) if n_test else (split, split.subset(slice(0, 0)))
    del split  # the hold-outs are copies: let the whole go before the next split
    train, valid = split_off(rest, n_valid, config.seed + 1) if n_valid else (rest, rest.subset(slice(0, 0)))
    if train.kind == "continuous" and not isinstance(train, DiskSplit):  # (on disk: not read for this)
        warn_if_off_scale(path.name, train.x)
    return Data(path.name, train, valid, test, classes=None if classes is None else tuple(classes))


def load_data(config: DataConfig | None = None, tokenizer: Tokenizer | None = None, **overrides: object) -> Data:
    """Load the data set ``config.name`` with its seeded splits; keyword arguments override config fields. Text is
    tokenized by ``tokenizer`` (a saved model's) if given, else by one trained on the training sentences."""
    config = DataConfig.model_validate({**(config or DataConfig()).model_dump(), **overrides})
    if config.labels and not config.name.endswith(".npy"):
        raise ValueError(f"data.labels is for a .npy data file; '{config.name}' is not one")
    folder = config.name not in DATASETS and Path(config.name).expanduser().is_dir()
    if config.stream and not (folder or config.name.endswith(".npy")):
        raise ValueError(f"data.stream is for a .npy data file or an image folder; '{config.name}' is neither")
    if config.workers is not None and not (folder and config.stream is not False):
        raise ValueError("data.workers is for a streamed image folder (data.stream); "
                         f"'{config.name}' is not one")
    if config.name in DATASETS:
        named = DATASETS[config.name]
        data = named.build(named, config, tokenizer)
    else:
        path = Path(config.name).expanduser()
        if not path.exists():
            raise ValueError(f"data.name '{config.name}' is not a named set ({', '.join(DATASETS)}) "
                             "nor an existing file or folder")
        data = _user_data(path, config, tokenizer)
    if data.kind == "8bit" and config.name not in DATASETS:  # (streamed data: one pass over the files)
        data = replace(data, levels=grey_levels(data.name, (data.train.x, data.valid.x, data.test.x), config.levels))
    elif config.levels is not None:
        raise ValueError(f"data.levels is for 8-bit image folders and arrays; '{data.name}' is {data.kind} data"
                         + (" (a named set, on all 256 levels)" if config.name in DATASETS else ""))
    changed = [key for key in _TEXT_OPTIONS if getattr(config, key) != DataConfig.model_fields[key].default]
    if data.kind != "tokens" and changed:
        raise ValueError(f"data.{changed[0]} is for text; '{data.name}' is not text")
    if config.name not in DATASETS:  # a path: recorded absolute, so a saved model finds it from anywhere
        config = config.model_copy(update={"name": str(Path(config.name).expanduser().resolve())})
    data = replace(data, source=config)
    if config.limit is not None:
        data = replace(data, train=data.train.subset(slice(0, config.limit)))
    if config.labels_per_class is not None:
        data = replace(data, train=keep_labels(data.train, config.labels_per_class, config.seed))
    return data


def verify_named(name: str, root: Path | None = None, download: bool = False) -> list[str]:
    """Check every file of a named set; return one line per file ('ok' or the problem, 'FAILED ...')."""
    if name not in DATASETS:
        raise ValueError(f"unknown data set '{name}'; known: {', '.join(DATASETS)}")
    named: NamedDataset = DATASETS[name]
    lines = []
    for role, remote in named.files.items():
        try:
            named.fetch(role, root, download)
            lines.append(f"ok       {named.folder}/{remote.path}")
        except DataNotFoundError as error:
            lines.append(f"FAILED   {error}")
    return lines
